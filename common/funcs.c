/* The built-in functions jobs name: one table (each row with its argument
 * count, compile step and call steps), compiling a name into an sl_func_t and
 * calling it; the reducers' steps are in common/reducers.c, user functions
 * come from common/udf.c. A compiled sl_func_t is never written after
 * compile, so executor threads share it; calls allocate only from the
 * caller's arena, plus a reused per-thread scratch buffer. */
#define _GNU_SOURCE      /* memmem */
#include <math.h>
#include <pthread.h>
#include <regex.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "funcs.h"
#include "funcs-internal.h"
#include "log.h"
#include "parse.h"

#define SL_FIELD_MAX 1000000u          /* largest field number field(n, sep) accepts */
#define SL_SCRATCH_KEEP (1u << 20)     /* a scratch buffer larger than this is not kept */
#define SL_NUM_TEXT_MAX 64             /* to_double parses shorter texts on the stack */

const uint8_t sl_funcs_empty[1] = { 0 };

/* Prepares f's arguments (count already checked); err names the function. */
typedef sl_status_t (*sl_compile_step)(sl_func_t *f, const char *const *args, size_t nargs,
                                       char *err);

typedef struct {
    sl_builtin_info_t info;       /* first: sl_builtin_info() hands out its address */
    unsigned min_args, max_args;
    sl_compile_step compile;      /* NULL: nothing to prepare */
    sl_calls_t calls;
} sl_builtin_t;

/* --- small helpers -------------------------------------------------------- */

static inline bool sl_is_space(uint8_t c)
{
    return c == ' ' || (c >= '\t' && c <= '\r');
}

static inline uint8_t sl_ascii_lower(uint8_t c)
{
    return c >= 'A' && c <= 'Z' ? (uint8_t)(c + ('a' - 'A')) : c;
}

static inline uint8_t sl_ascii_upper(uint8_t c)
{
    return c >= 'a' && c <= 'z' ? (uint8_t)(c - ('a' - 'A')) : c;
}

const uint8_t *sl_funcs_dup(sl_arena_t *a, const uint8_t *p, size_t n)
{
    return n ? sl_arena_dup(a, p, n) : sl_funcs_empty;
}

sl_value_t sl_funcs_bytes_value(const uint8_t *p, size_t len)
{
    return sl_val_bytes(len ? p : sl_funcs_empty, len);
}

/* --- text renderings -------------------------------------------------------
 * Rendering a non-bytes value needs a growable buffer. Each thread keeps two
 * (min and max compare two renderings) and reuses them. A rendering is only
 * used until the step returns or calls out, and nothing that could re-enter
 * this module (emit, a user function) runs while one is in use. */

typedef struct {
    sl_buf_t slot[2];
} sl_scratch_t;

static pthread_once_t sl_scratch_once = PTHREAD_ONCE_INIT;
static pthread_key_t sl_scratch_key;
static bool sl_scratch_ready;     /* written once, under sl_scratch_once */

static void sl_scratch_destroy(void *p)
{
    sl_scratch_t *s = p;
    sl_buf_free(&s->slot[0]);
    sl_buf_free(&s->slot[1]);
    free(s);
}

static void sl_scratch_init(void)
{
    sl_scratch_ready = pthread_key_create(&sl_scratch_key, sl_scratch_destroy) == 0;
}

/* This thread's scratch buffer `slot`, emptied; NULL when out of memory. */
static sl_buf_t *sl_scratch(int slot)
{
    if (pthread_once(&sl_scratch_once, sl_scratch_init) != 0 || !sl_scratch_ready)
        return NULL;
    sl_scratch_t *s = pthread_getspecific(sl_scratch_key);
    if (!s) {
        s = calloc(1, sizeof *s);
        if (!s)
            return NULL;
        if (pthread_setspecific(sl_scratch_key, s) != 0) {
            free(s);
            return NULL;
        }
    }
    sl_buf_t *b = &s->slot[slot];
    if (b->cap > SL_SCRATCH_KEEP)
        sl_buf_free(b);
    else
        sl_buf_reset(b);
    return b;
}

/* The text of v: bytes as they are (borrowed), anything else rendered by
 * sl_value_format into scratch `slot` (valid until that slot's next use on
 * this thread). */
sl_status_t sl_funcs_text_of(const sl_value_t *v, int slot, sl_text_t *out /* OUT */)
{
    if (v->type == SL_VAL_BYTES) {
        SL_ASSERT(v->u.b.p || v->u.b.len == 0);
        out->p = v->u.b.len ? v->u.b.p : sl_funcs_empty;
        out->len = v->u.b.len;
        return SL_OK;
    }
    sl_buf_t *b = sl_scratch(slot);
    if (!b)
        return SL_ERR_NOMEM;
    sl_status_t st = sl_value_format(b, v);
    if (st != SL_OK)
        return st;
    out->p = b->len ? b->p : sl_funcs_empty;
    out->len = b->len;
    return SL_OK;
}

/* Like sl_funcs_text_of, but a rendering is copied into the arena so that it
 * survives calls out (bytes are still borrowed). */
sl_status_t sl_funcs_text_keep(const sl_value_t *v, sl_arena_t *a, sl_text_t *out /* OUT */)
{
    sl_status_t st = sl_funcs_text_of(v, 0, out);
    if (st != SL_OK || v->type == SL_VAL_BYTES)
        return st;
    const uint8_t *p = sl_funcs_dup(a, out->p, out->len);
    if (!p)
        return SL_ERR_NOMEM;
    out->p = p;
    return SL_OK;
}

/* A bytes value for [p, p+n), a piece of the text of v from sl_funcs_text_of:
 * borrowed when v is bytes, else copied out of the scratch into the arena. */
static sl_status_t sl_piece(const sl_value_t *v, const uint8_t *p, size_t n, sl_arena_t *a,
                            sl_value_t *out /* OUT */)
{
    if (v->type != SL_VAL_BYTES && !(p = sl_funcs_dup(a, p, n)))
        return SL_ERR_NOMEM;
    *out = sl_funcs_bytes_value(p, n);
    return SL_OK;
}

/* *out = *v, with v's bytes copied into the arena when `copy`. */
sl_status_t sl_funcs_keep(const sl_value_t *v, bool copy, sl_arena_t *a, sl_value_t *out /* OUT */)
{
    sl_value_t r = *v;
    if (copy && r.type == SL_VAL_BYTES) {
        if (!(r.u.b.p = sl_funcs_dup(a, v->u.b.p, v->u.b.len)))
            return SL_ERR_NOMEM;
    } else if (copy && (r.type == SL_VAL_LIST || r.type == SL_VAL_TUPLE)) {
        if (!(r.u.list.p = sl_funcs_dup(a, v->u.list.p, v->u.list.len)))
            return SL_ERR_NOMEM;
    }
    *out = r;
    return SL_OK;
}

static sl_text_t sl_trimmed(sl_text_t t)
{
    while (t.len && sl_is_space(t.p[0])) {
        t.p++;
        t.len--;
    }
    while (t.len && sl_is_space(t.p[t.len - 1]))
        t.len--;
    return t;
}

/* Field n (0-based) of t split on sep; false when t has fewer fields. */
static bool sl_field_of(sl_text_t t, size_t n, const char *sep, size_t seplen,
                        sl_text_t *out /* OUT */)
{
    const uint8_t *p = t.p, *end = t.p + t.len;
    for (;;) {
        const uint8_t *hit = memmem(p, (size_t)(end - p), sep, seplen);
        if (n == 0) {
            out->p = p;
            out->len = (size_t)((hit ? hit : end) - p);
            return true;
        }
        if (!hit)
            return false;
        p = hit + seplen;
        n--;
    }
}

/* Decimal int64 with an optional sign, nothing else. */
static bool sl_parse_i64(sl_text_t t, int64_t *out /* OUT */)
{
    size_t i = 0;
    bool neg = false;
    if (t.len && (t.p[0] == '-' || t.p[0] == '+'))
        neg = t.p[i++] == '-';
    if (i == t.len)
        return false;
    uint64_t limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX, v = 0;
    for (; i < t.len; i++) {
        if (t.p[i] < '0' || t.p[i] > '9')
            return false;
        unsigned d = (unsigned)(t.p[i] - '0');
        if (v > (limit - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *out = neg ? (int64_t)(0 - v) : (int64_t)v;   /* 0 - 2^63 wraps to INT64_MIN */
    return true;
}

/* Decimal floating point ("1.5", "-2e3"); no hex, inf or nan, and a result
 * too large for a double fails. strtod needs a NUL: copy first. */
static bool sl_parse_double(sl_text_t t, sl_arena_t *a, double *out /* OUT */)
{
    if (t.len == 0)
        return false;
    for (size_t i = 0; i < t.len; i++)
        if (!strchr("0123456789+-.eE", t.p[i]) || t.p[i] == '\0')
            return false;
    char small[SL_NUM_TEXT_MAX];
    char *s = t.len < sizeof small ? small : sl_arena_alloc(a, t.len + 1);
    if (!s)
        return false;
    memcpy(s, t.p, t.len);
    s[t.len] = '\0';
    char *end;
    double d = strtod(s, &end);
    if (end != s + t.len || d == HUGE_VAL || d == -HUGE_VAL)
        return false;
    *out = d;
    return true;
}

/* --- map ------------------------------------------------------------------
 * Value functions compute the new value from the old one; sl_func_map keeps
 * the key. The rest (pair_one, key_by_field, identity) map whole records. */

static sl_status_t sl_recase(const sl_value_t *v, sl_value_t *out, sl_arena_t *a, bool upper)
{
    sl_text_t t;
    sl_status_t st = sl_funcs_text_of(v, 0, &t);
    if (st != SL_OK)
        return st;
    uint8_t *p = t.len ? sl_arena_alloc(a, t.len) : NULL;
    if (t.len && !p)
        return SL_ERR_NOMEM;
    for (size_t i = 0; i < t.len; i++)
        p[i] = upper ? sl_ascii_upper(t.p[i]) : sl_ascii_lower(t.p[i]);
    *out = sl_funcs_bytes_value(p, t.len);
    return SL_OK;
}

static sl_status_t sl_val_lower(const sl_func_t *f, const sl_value_t *v, sl_value_t *out,
                                sl_arena_t *a)
{
    return sl_recase(v, out, a, false);
}

static sl_status_t sl_val_upper(const sl_func_t *f, const sl_value_t *v, sl_value_t *out,
                                sl_arena_t *a)
{
    return sl_recase(v, out, a, true);
}

static sl_status_t sl_val_trim(const sl_func_t *f, const sl_value_t *v, sl_value_t *out,
                               sl_arena_t *a)
{
    sl_text_t t;
    sl_status_t st = sl_funcs_text_of(v, 0, &t);
    if (st != SL_OK)
        return st;
    t = sl_trimmed(t);
    return sl_piece(v, t.p, t.len, a, out);
}

static sl_status_t sl_val_field(const sl_func_t *f, const sl_value_t *v, sl_value_t *out,
                                sl_arena_t *a)
{
    sl_text_t t, field;
    sl_status_t st = sl_funcs_text_of(v, 0, &t);
    if (st != SL_OK)
        return st;
    if (!sl_field_of(t, f->n, f->s, f->slen, &field)) {
        *out = sl_val_null();
        return SL_OK;
    }
    return sl_piece(v, field.p, field.len, a, out);
}

static sl_status_t sl_val_to_int(const sl_func_t *f, const sl_value_t *v, sl_value_t *out,
                                 sl_arena_t *a)
{
    sl_text_t t;
    int64_t i;
    if (v->type == SL_VAL_INT) {
        *out = *v;
        return SL_OK;
    }
    sl_status_t st = sl_funcs_text_of(v, 0, &t);
    if (st == SL_OK)
        *out = sl_parse_i64(sl_trimmed(t), &i) ? sl_val_int(i) : sl_val_null();
    return st;
}

static sl_status_t sl_val_to_double(const sl_func_t *f, const sl_value_t *v, sl_value_t *out,
                                    sl_arena_t *a)
{
    sl_text_t t;
    double d;
    if (v->type == SL_VAL_INT || v->type == SL_VAL_DOUBLE) {
        *out = v->type == SL_VAL_INT ? sl_val_double((double)v->u.i) : *v;
        return SL_OK;
    }
    sl_status_t st = sl_funcs_text_of(v, 0, &t);
    if (st == SL_OK)
        *out = sl_parse_double(sl_trimmed(t), a, &d) ? sl_val_double(d) : sl_val_null();
    return st;
}

static sl_status_t sl_val_to_string(const sl_func_t *f, const sl_value_t *v, sl_value_t *out,
                                    sl_arena_t *a)
{
    sl_text_t t;
    sl_status_t st = sl_funcs_text_keep(v, a, &t);
    if (st == SL_OK)
        *out = sl_funcs_bytes_value(t.p, t.len);
    return st;
}

static sl_status_t sl_map_pair_one(const sl_func_t *f, const sl_record_t *in, sl_record_t *out,
                                   sl_arena_t *a, char *err)
{
    sl_text_t t;
    sl_status_t st = sl_funcs_text_keep(&in->val, a, &t);
    if (st != SL_OK)
        return st;
    out->key = t.p;
    out->key_len = t.len;
    out->val = sl_val_int(1);
    return SL_OK;
}

static sl_status_t sl_map_key_by_field(const sl_func_t *f, const sl_record_t *in, sl_record_t *out,
                                       sl_arena_t *a, char *err)
{
    sl_text_t t, field = { sl_funcs_empty, 0 };
    sl_status_t st = sl_funcs_text_of(&in->val, 0, &t);
    if (st != SL_OK)
        return st;
    if (sl_field_of(t, f->n, f->s, f->slen, &field) && in->val.type != SL_VAL_BYTES &&
        !(field.p = sl_funcs_dup(a, field.p, field.len)))
        return SL_ERR_NOMEM;
    out->key = field.p;
    out->key_len = field.len;
    out->val = in->val;
    return SL_OK;
}

static sl_status_t sl_map_identity(const sl_func_t *f, const sl_record_t *in, sl_record_t *out,
                                   sl_arena_t *a, char *err)
{
    *out = *in;
    return SL_OK;
}

/* --- flat_map ------------------------------------------------------------- */

static sl_status_t sl_emit_piece(const sl_record_t *in, const uint8_t *p, size_t n, sl_emit_t *emit,
                                 char *err)
{
    sl_record_t r = { in->key, in->key_len, sl_funcs_bytes_value(p, n) };
    sl_status_t st = emit->fn(emit, &r);
    if (st != SL_OK)
        SL_ERRF(err, "split: passing a token on failed: %s", sl_strerror(st));
    return st;
}

static sl_status_t sl_flat_split(const sl_func_t *f, const sl_record_t *in, sl_emit_t *emit,
                                 sl_arena_t *a, char *err)
{
    sl_text_t t;
    sl_status_t st = sl_funcs_text_keep(&in->val, a, &t);
    if (st != SL_OK)
        return st;
    const uint8_t *p = t.p, *end = t.p + t.len;
    if (!f->s) {                    /* runs of whitespace, no empty tokens */
        for (;;) {
            while (p < end && sl_is_space(*p))
                p++;
            if (p == end)
                return SL_OK;
            const uint8_t *start = p;
            while (p < end && !sl_is_space(*p))
                p++;
            if ((st = sl_emit_piece(in, start, (size_t)(p - start), emit, err)) != SL_OK)
                return st;
        }
    }
    for (;;) {                      /* on the exact separator, empty tokens kept */
        const uint8_t *hit = memmem(p, (size_t)(end - p), f->s, f->slen);
        const uint8_t *stop = hit ? hit : end;
        if ((st = sl_emit_piece(in, p, (size_t)(stop - p), emit, err)) != SL_OK || !hit)
            return st;
        p = hit + f->slen;
    }
}

/* --- filter --------------------------------------------------------------- */

static bool sl_filter_contains(const sl_func_t *f, const sl_record_t *in)
{
    sl_text_t t;
    return sl_funcs_text_of(&in->val, 0, &t) == SL_OK && memmem(t.p, t.len, f->s, f->slen) != NULL;
}

static bool sl_filter_starts_with(const sl_func_t *f, const sl_record_t *in)
{
    sl_text_t t;
    return sl_funcs_text_of(&in->val, 0, &t) == SL_OK && t.len >= f->slen &&
           memcmp(t.p, f->s, f->slen) == 0;
}

static bool sl_filter_ends_with(const sl_func_t *f, const sl_record_t *in)
{
    sl_text_t t;
    return sl_funcs_text_of(&in->val, 0, &t) == SL_OK && t.len >= f->slen &&
           memcmp(t.p + t.len - f->slen, f->s, f->slen) == 0;
}

static bool sl_filter_matches(const sl_func_t *f, const sl_record_t *in)
{
    sl_text_t t;
    sl_buf_t *z = sl_scratch(1);
    /* REG_STARTEND lets the text hold NULs, but sanitizers' regexec
     * interceptors still read up to a NUL: give them one. */
    if (!z || sl_funcs_text_of(&in->val, 0, &t) != SL_OK || sl_buf_reserve(z, t.len + 1) != SL_OK)
        return false;
    memcpy(z->p, t.p, t.len);
    z->p[t.len] = '\0';
    regmatch_t m = { .rm_so = 0, .rm_eo = (regoff_t)t.len };
    return regexec(&f->re, (const char *)z->p, 1, &m, REG_STARTEND) == 0;
}

/* Only bytes can have empty text: numbers and lists never render empty. */
static bool sl_filter_nonempty(const sl_func_t *f, const sl_record_t *in)
{
    return in->val.type == SL_VAL_BYTES ? in->val.u.b.len > 0 : in->val.type != SL_VAL_NULL;
}

static bool sl_filter_not_null(const sl_func_t *f, const sl_record_t *in)
{
    return in->val.type != SL_VAL_NULL;
}

/* --- compile steps -------------------------------------------------------- */

static sl_status_t sl_set_string(sl_func_t *f, const char *arg)
{
    f->slen = strlen(arg);
    f->s = malloc(f->slen + 1);
    if (!f->s)
        return SL_ERR_NOMEM;
    memcpy(f->s, arg, f->slen + 1);
    return SL_OK;
}

static sl_status_t sl_set_separator(sl_func_t *f, const char *arg, char *err)
{
    if (!*arg) {
        SL_ERRF(err, "%s: the separator must not be empty", f->name);
        return SL_ERR_INVALID;
    }
    return sl_set_string(f, arg);
}

static sl_status_t sl_compile_split(sl_func_t *f, const char *const *args, size_t nargs, char *err)
{
    return nargs ? sl_set_separator(f, args[0], err) : SL_OK;
}

static sl_status_t sl_compile_concat(sl_func_t *f, const char *const *args, size_t nargs, char *err)
{
    return nargs ? sl_set_string(f, args[0]) : SL_OK;
}

static sl_status_t sl_compile_string(sl_func_t *f, const char *const *args, size_t nargs, char *err)
{
    return sl_set_string(f, args[0]);
}

static sl_status_t sl_compile_field(sl_func_t *f, const char *const *args, size_t nargs, char *err)
{
    uint64_t n;
    if (sl_parse_uint(args[0], 0, SL_FIELD_MAX, &n, NULL) != SL_OK) {
        SL_ERRF(err, "%s: '%s' is not a field number (0 for the first, up to %u)", f->name,
                args[0], SL_FIELD_MAX);
        return SL_ERR_INVALID;
    }
    f->n = (size_t)n;
    return sl_set_separator(f, args[1], err);
}

static sl_status_t sl_compile_regex(sl_func_t *f, const char *const *args, size_t nargs, char *err)
{
    int rc = regcomp(&f->re, args[0], REG_EXTENDED | REG_NOSUB);
    if (rc != 0) {
        char why[128];
        regerror(rc, &f->re, why, sizeof why);
        SL_ERRF(err, "%s: bad regular expression '%s': %s", f->name, args[0], why);
        return SL_ERR_INVALID;
    }
    f->has_re = true;
    return SL_OK;
}

/* --- the catalogue -------------------------------------------------------- */

static const sl_builtin_t sl_builtins[] = {
    { { "split", SL_FN_FLAT_MAP, "split([sep])",
        "tokens of the value text: split on runs of ASCII whitespace, or on exactly sep "
        "(then empty tokens are kept)" },
      0, 1, sl_compile_split, SL_FLAT(sl_flat_split) },

    { { "lower", SL_FN_MAP, "lower", "the value text in ASCII lower case" },
      0, 0, NULL, SL_VALUE(sl_val_lower) },
    { { "upper", SL_FN_MAP, "upper", "the value text in ASCII upper case" },
      0, 0, NULL, SL_VALUE(sl_val_upper) },
    { { "trim", SL_FN_MAP, "trim", "the value text without leading and trailing ASCII whitespace" },
      0, 0, NULL, SL_VALUE(sl_val_trim) },
    { { "pair_one", SL_FN_MAP, "pair_one", "key = the value text, value = 1 (count with sum)" },
      0, 0, NULL, SL_MAP(sl_map_pair_one) },
    { { "field", SL_FN_MAP, "field(n, sep)",
        "field n (0 = first) of the value text split on sep; null when there is no such field" },
      2, 2, sl_compile_field, SL_VALUE(sl_val_field) },
    { { "key_by_field", SL_FN_KEY, "key_by_field(n, sep)",
        "key = field n of the value text split on sep (empty when missing); value unchanged" },
      2, 2, sl_compile_field, SL_MAP(sl_map_key_by_field) },
    { { "to_int", SL_FN_MAP, "to_int",
        "the trimmed value text as a decimal 64-bit integer; null when it is not one" },
      0, 0, NULL, SL_VALUE(sl_val_to_int) },
    { { "to_double", SL_FN_MAP, "to_double",
        "the trimmed value text as a decimal double; null when it is not one" },
      0, 0, NULL, SL_VALUE(sl_val_to_double) },
    { { "to_string", SL_FN_MAP, "to_string", "the value's text rendering, as bytes" },
      0, 0, NULL, SL_VALUE(sl_val_to_string) },
    { { "identity", SL_FN_MAP, "identity", "the record unchanged" },
      0, 0, NULL, SL_MAP(sl_map_identity) },

    { { "contains", SL_FN_FILTER, "contains(s)", "keeps records whose value text contains s" },
      1, 1, sl_compile_string, SL_FILTER(sl_filter_contains) },
    { { "starts_with", SL_FN_FILTER, "starts_with(s)",
        "keeps records whose value text starts with s" },
      1, 1, sl_compile_string, SL_FILTER(sl_filter_starts_with) },
    { { "ends_with", SL_FN_FILTER, "ends_with(s)", "keeps records whose value text ends with s" },
      1, 1, sl_compile_string, SL_FILTER(sl_filter_ends_with) },
    { { "matches", SL_FN_FILTER, "matches(regex)",
        "keeps records whose value text matches the POSIX extended regular expression "
        "(anywhere, unless anchored with ^ or $)" },
      1, 1, sl_compile_regex, SL_FILTER(sl_filter_matches) },
    { { "nonempty", SL_FN_FILTER, "nonempty",
        "keeps records whose value is not null and has non-empty text" },
      0, 0, NULL, SL_FILTER(sl_filter_nonempty) },
    { { "not_null", SL_FN_FILTER, "not_null", "keeps records whose value is not null" },
      0, 0, NULL, SL_FILTER(sl_filter_not_null) },

    { { "sum", SL_FN_REDUCE, "sum",
        "sum of numbers: int while all are ints (overflow is an error), else double; "
        "nulls skipped" },
      0, 0, NULL, SL_REDUCE(sl_reduce_sum_init, sl_reduce_sum_fold, sl_reduce_sum_fold) },
    { { "count", SL_FN_REDUCE, "count", "the number of values" },
      0, 0, NULL, SL_REDUCE(sl_reduce_count_init, sl_reduce_count_combine, sl_reduce_count_merge) },
    { { "min", SL_FN_REDUCE, "min",
        "the smallest value: numbers by value, others by the bytes of their text; nulls skipped" },
      0, 0, NULL, SL_REDUCE(sl_reduce_init_keep, sl_reduce_min_fold, sl_reduce_min_fold) },
    { { "max", SL_FN_REDUCE, "max",
        "the largest value: numbers by value, others by the bytes of their text; nulls skipped" },
      0, 0, NULL, SL_REDUCE(sl_reduce_init_keep, sl_reduce_max_fold, sl_reduce_max_fold) },
    { { "concat", SL_FN_REDUCE, "concat([sep])",
        "the values' texts joined, with sep between them when given; nulls skipped" },
      0, 1, sl_compile_concat,
      SL_REDUCE(sl_reduce_concat_init, sl_reduce_concat_fold, sl_reduce_concat_fold) },
};

size_t sl_builtin_count(void)
{
    return SL_NELEM(sl_builtins);
}

const sl_builtin_info_t *sl_builtin_info(size_t i)
{
    return i < SL_NELEM(sl_builtins) ? &sl_builtins[i].info : NULL;
}

static const sl_builtin_t *sl_builtin_lookup(const char *name)
{
    for (size_t i = 0; i < SL_NELEM(sl_builtins); i++)
        if (strcmp(sl_builtins[i].info.name, name) == 0)
            return &sl_builtins[i];
    return NULL;
}

const sl_builtin_info_t *sl_builtin_find(const char *name)
{
    const sl_builtin_t *b = name ? sl_builtin_lookup(name) : NULL;
    return b ? &b->info : NULL;
}

static const struct {
    const char *name;     /* for sl_fn_kind_name */
    const char *phrase;   /* for "'x' is a reducer, not a map function" */
} sl_kinds[] = {
    [SL_FN_MAP] = { "map", "a map function" },
    [SL_FN_FLAT_MAP] = { "flat_map", "a flat_map function" },
    [SL_FN_FILTER] = { "filter", "a filter" },
    [SL_FN_REDUCE] = { "reducer", "a reducer" },
    [SL_FN_KEY] = { "key", "a key function" },
};

static bool sl_kind_valid(sl_fn_kind_t k)
{
    return (unsigned)k < SL_NELEM(sl_kinds) && sl_kinds[k].name;
}

const char *sl_fn_kind_name(sl_fn_kind_t k)
{
    return sl_kind_valid(k) ? sl_kinds[k].name : "unknown";
}

static const char *sl_kind_phrase(sl_fn_kind_t k)
{
    return sl_kind_valid(k) ? sl_kinds[k].phrase : "a function of unknown kind";
}

/* --- compile and call ----------------------------------------------------- */

void sl_func_free(sl_func_t *f)
{
    if (!f)
        return;
    if (f->has_re)
        regfree(&f->re);
    free(f->s);
    free(f);
}

static bool sl_kind_fits(sl_fn_kind_t have, sl_fn_kind_t want)
{
    return have == want || (want == SL_FN_MAP && have == SL_FN_KEY);
}

static sl_status_t sl_wrong_kind(const char *name, sl_fn_kind_t have, sl_fn_kind_t want, char *err)
{
    SL_ERRF(err, "'%s' is %s, not %s", name, sl_kind_phrase(have), sl_kind_phrase(want));
    return SL_ERR_INVALID;
}

/* "field expects 2 arguments (n, sep), got 1" */
static sl_status_t sl_wrong_nargs(const sl_builtin_t *b, size_t nargs, char *err)
{
    const char *params = strchr(b->info.signature, '(');
    char want[32];
    if (b->max_args == 0)
        snprintf(want, sizeof want, "no arguments");
    else if (b->min_args == b->max_args)
        snprintf(want, sizeof want, "%u argument%s", b->max_args, b->max_args == 1 ? "" : "s");
    else
        snprintf(want, sizeof want, "%u or %u arguments", b->min_args, b->max_args);
    SL_ERRF(err, "%s expects %s%s%s, got %zu", b->info.name, want, params ? " " : "",
            params ? params : "", nargs);
    return SL_ERR_INVALID;
}

sl_status_t sl_func_compile(const char *name, const char *const *args, size_t nargs,
                            sl_fn_kind_t want, const sl_udf_lib_t *lib, sl_func_t **out,
                            char *err)
{
    sl_status_t st = SL_ERR_INVALID;
    sl_func_t *f = NULL;
    sl_udf_entry_t u = { 0 };
    const sl_builtin_t *b = name ? sl_builtin_lookup(name) : NULL;
    bool user = !b && name && lib && sl_udf_find(lib, name, &u);
    if (!name || !*name) {
        SL_ERRF(err, "empty function name");
        goto fail;
    }
    for (size_t i = 0; i < nargs; i++) {
        if (!args[i]) {
            SL_ERRF(err, "%s: argument %zu is missing", name, i + 1);
            goto fail;
        }
    }
    if (!b && !user) {
        if (lib)
            SL_ERRF(err, "unknown function '%s' (neither built in nor in '%s')", name,
                    sl_udf_lib_file(lib));
        else
            SL_ERRF(err, "unknown function '%s'", name);
        goto fail;
    }
    sl_fn_kind_t kind = b ? b->info.kind : u.kind;
    if (!sl_kind_fits(kind, want)) {
        st = sl_wrong_kind(name, kind, want, err);
        goto fail;
    }
    if (b && (nargs < b->min_args || nargs > b->max_args)) {
        st = sl_wrong_nargs(b, nargs, err);
        goto fail;
    }
    if (user && nargs) {
        SL_ERRF(err, "'%s' is a user function and takes no arguments, got %zu", name, nargs);
        goto fail;
    }
    st = SL_ERR_NOMEM;
    if (!(f = calloc(1, sizeof *f)))
        goto fail;
    f->kind = kind;
    if (b) {
        f->name = b->info.name;
        f->calls = &b->calls;
        if (b->compile && (st = b->compile(f, args, nargs, err)) != SL_OK)
            goto fail;
    } else {
        f->name = u.name;
        f->calls = u.calls;
        f->ufn = u.fn;
    }
    *out = f;
    return SL_OK;

fail:
    sl_func_free(f);
    return st;
}

sl_fn_kind_t sl_func_kind(const sl_func_t *f)
{
    return f->kind;
}

const char *sl_func_name(const sl_func_t *f)
{
    return f->name;
}

/* A failed step that left err empty gets a generic message. */
static sl_status_t sl_step_done(const sl_func_t *f, sl_status_t st, char *err)
{
    if (st != SL_OK && err && !*err)
        SL_ERRF(err, "%s: %s", f->name, sl_strerror(st));
    return st;
}

static sl_status_t sl_not_callable(const sl_func_t *f, const char *as, char *err)
{
    SL_ERRF(err, "'%s' is %s, not %s", f->name, sl_kind_phrase(f->kind), as);
    return SL_ERR_INVALID;
}

sl_status_t sl_func_map(const sl_func_t *f, const sl_record_t *in, sl_record_t *out,
                        sl_arena_t *a, char *err)
{
    sl_value_t v;
    sl_status_t st;
    if (err)
        *err = '\0';
    if (f->calls->map)
        return sl_step_done(f, f->calls->map(f, in, out, a, err), err);
    if (!f->calls->value)
        return sl_not_callable(f, "a map function", err);
    if ((st = f->calls->value(f, &in->val, &v, a)) != SL_OK)
        return sl_step_done(f, st, err);
    out->key = in->key;
    out->key_len = in->key_len;
    out->val = v;
    return SL_OK;
}

sl_status_t sl_func_flat_map(const sl_func_t *f, const sl_record_t *in, sl_emit_t *emit,
                             sl_arena_t *a, char *err)
{
    if (err)
        *err = '\0';
    if (!f->calls->flat_map)
        return sl_not_callable(f, "a flat_map function", err);
    return sl_step_done(f, f->calls->flat_map(f, in, emit, a, err), err);
}

bool sl_func_filter(const sl_func_t *f, const sl_record_t *in)
{
    SL_ASSERT(f->calls->filter);
    return f->calls->filter && f->calls->filter(f, in);
}

sl_status_t sl_func_reduce_init(const sl_func_t *f, const sl_value_t *v, sl_value_t *acc,
                                sl_arena_t *a, char *err)
{
    if (err)
        *err = '\0';
    if (!f->calls->init)
        return sl_not_callable(f, "a reducer", err);
    return sl_step_done(f, f->calls->init(f, v, acc, a, err), err);
}

sl_status_t sl_func_reduce_combine(const sl_func_t *f, const sl_value_t *acc, const sl_value_t *v,
                                   sl_value_t *out, sl_arena_t *a, char *err)
{
    if (err)
        *err = '\0';
    if (!f->calls->combine)
        return sl_not_callable(f, "a reducer", err);
    return sl_step_done(f, f->calls->combine(f, acc, v, true, out, a, err), err);
}

sl_status_t sl_func_reduce_merge(const sl_func_t *f, const sl_value_t *x, const sl_value_t *y,
                                 sl_value_t *out, sl_arena_t *a, char *err)
{
    if (err)
        *err = '\0';
    if (!f->calls->merge)
        return sl_not_callable(f, "a reducer", err);
    return sl_step_done(f, f->calls->merge(f, x, y, false, out, a, err), err);
}
