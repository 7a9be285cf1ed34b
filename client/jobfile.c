/* The job-file parser: tokens -> JobSpec (grammar in client/JOBFILES.md),
 * recursive descent one token ahead over the lexer in client/jobfile-lex.c.
 * Every operation and output is one row of sl_calls, which drives argument
 * checking and where each argument lands in the spec. Stops at the first
 * error; the result is packed and unpacked into one protobuf-c allocation. */
#include <ctype.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "jobfile.h"
#include "jobfile-internal.h"
#include "funcs.h"
#include "jobspec.h"
#include "parse.h"

#define SL_PARTITIONS_MAX   4096
#define SL_PRINT_COUNT_MAX  1000000
#define SL_PRINT_DEFAULT    10
#define SL_BATCH_MIN_MS     10
#define SL_JOB_NAME_MAX     64
#define SL_MAX_OP_ARGS      4      /* more than any op takes: enough to count extras */

/* --- the calls: sources, operations and outputs ------------------------------- */

typedef enum {
    SL_JA_NONE = 0,
    SL_JA_FUNC,             /* split, field(2, ",") */
    SL_JA_STREAM,           /* a defined name */
    SL_JA_PARTS,            /* 1..SL_PARTITIONS_MAX; also as `partitions = N` */
    SL_JA_COUNT,            /* 1..SL_PRINT_COUNT_MAX */
    SL_JA_STRING,           /* "..." */
} sl_ja_t;

/* Where a string argument goes. */
typedef enum { SL_JD_NONE = 0, SL_JD_SOURCE, SL_JD_MODE, SL_JD_PATH, SL_JD_TABLE } sl_jd_t;

typedef struct {
    Sluice__OpKind op;          /* OP_UNKNOWN for outputs */
    Sluice__OutputKind out;     /* OUT_UNKNOWN for operations */
    sl_fn_kind_t fn;            /* wanted kind of a SL_JA_FUNC argument */
    unsigned required;          /* leading arguments that must be given */
    sl_ja_t arg[2];
    sl_jd_t dest[2];
    unsigned dflt;              /* value of an omitted numeric argument */
    const char *usage;
} sl_jf_call_t;

#define SL_OP(k) SLUICE__OP_KIND__OP_##k, SLUICE__OUTPUT_KIND__OUT_UNKNOWN
#define SL_OUT(k) SLUICE__OP_KIND__OP_UNKNOWN, SLUICE__OUTPUT_KIND__OUT_##k
static const sl_jf_call_t sl_calls[] = {
    { SL_OP(PUSH), 0, 1, { SL_JA_STRING, SL_JA_PARTS }, { SL_JD_SOURCE }, 1,
      "push(\"stream\"[, partitions = N])" },
    { SL_OP(MAP), SL_FN_MAP, 1, { SL_JA_FUNC }, { 0 }, 0, "map(f)" },
    { SL_OP(FLAT_MAP), SL_FN_FLAT_MAP, 1, { SL_JA_FUNC }, { 0 }, 0, "flat_map(f)" },
    { SL_OP(FILTER), SL_FN_FILTER, 1, { SL_JA_FUNC }, { 0 }, 0, "filter(f)" },
    { SL_OP(MAP_VALUES), SL_FN_MAP, 1, { SL_JA_FUNC }, { 0 }, 0, "map_values(f)" },
    { SL_OP(FLAT_MAP_VALUES), SL_FN_FLAT_MAP, 1, { SL_JA_FUNC }, { 0 }, 0, "flat_map_values(f)" },
    { SL_OP(REPARTITION), 0, 1, { SL_JA_PARTS }, { 0 }, 0, "repartition(n)" },
    { SL_OP(UNION), 0, 1, { SL_JA_STREAM }, { 0 }, 0, "union(stream)" },
    { SL_OP(COUNT), 0, 0, { 0 }, { 0 }, 0, "count()" },
    { SL_OP(COUNT_BY_VALUE), 0, 0, { 0 }, { 0 }, 0, "count_by_value()" },
    { SL_OP(REDUCE), SL_FN_REDUCE, 1, { SL_JA_FUNC }, { 0 }, 0, "reduce(f)" },
    { SL_OP(REDUCE_BY_KEY), SL_FN_REDUCE, 1, { SL_JA_FUNC, SL_JA_PARTS }, { 0 }, 0,
      "reduce_by_key(f[, partitions])" },
    { SL_OP(GROUP_BY_KEY), 0, 0, { SL_JA_PARTS }, { 0 }, 0, "group_by_key([partitions])" },
    { SL_OP(JOIN), 0, 1, { SL_JA_STREAM, SL_JA_PARTS }, { 0 }, 0, "join(stream[, partitions])" },
    { SL_OP(LEFT_OUTER_JOIN), 0, 1, { SL_JA_STREAM, SL_JA_PARTS }, { 0 }, 0,
      "left_outer_join(stream[, partitions])" },
    { SL_OP(RIGHT_OUTER_JOIN), 0, 1, { SL_JA_STREAM, SL_JA_PARTS }, { 0 }, 0,
      "right_outer_join(stream[, partitions])" },
    { SL_OP(FULL_OUTER_JOIN), 0, 1, { SL_JA_STREAM, SL_JA_PARTS }, { 0 }, 0,
      "full_outer_join(stream[, partitions])" },
    { SL_OP(COGROUP), 0, 1, { SL_JA_STREAM, SL_JA_PARTS }, { 0 }, 0,
      "cogroup(stream[, partitions])" },
    { SL_OP(TRANSFORM), 0, 2, { SL_JA_STRING, SL_JA_STRING }, { SL_JD_MODE, SL_JD_PATH }, 0,
      "transform(\"mode\", \"path\")" },
    { SL_OUT(PRINT), 0, 0, { SL_JA_COUNT }, { 0 }, SL_PRINT_DEFAULT, "print([n])" },
    { SL_OUT(SAVE_TEXT), 0, 1, { SL_JA_STRING }, { SL_JD_PATH }, 0,
      "save_as_text_files(\"prefix\")" },
    { SL_OUT(SQLITE), 0, 2, { SL_JA_STRING, SL_JA_STRING }, { SL_JD_PATH, SL_JD_TABLE }, 0,
      "sqlite(\"database\", \"table\")" },
    { SL_OUT(PUBLISH), 0, 0, { 0 }, { 0 }, 0, "publish()" },
};
#define SL_NCALLS (sizeof sl_calls / sizeof *sl_calls)

static const char *sl_call_name(const sl_jf_call_t *c)
{
    return c->op != SLUICE__OP_KIND__OP_UNKNOWN ? sl_op_name(c->op) : sl_output_name(c->out);
}

/* One parsed argument of a call, before it is checked against the call. */
typedef enum { SL_JV_IDENT, SL_JV_CALL, SL_JV_STRING, SL_JV_NUMBER } sl_jv_t;

typedef struct {
    sl_jv_t kind;
    const char *text;       /* name, number as written, or decoded string */
    bool keyword;           /* given as `partitions = N` */
    unsigned kw_line, kw_col;   /* of the keyword */
    unsigned line, col;         /* of the value */
    char **fargs;           /* SL_JV_CALL: literal arguments */
    size_t nfargs;
} sl_jf_arg_t;

/* --- arrays in the pool -------------------------------------------------------- */

/* Makes room for one more element in a pool-backed array of n elements of
 * `size` bytes at `base`, doubling it when full (the old copy stays in the
 * pool until the end). Returns the array, moved or not, or NULL. */
static void *sl_jf_grow(sl_jf_t *jf, void *base, size_t n, size_t *cap, size_t size)
{
    if (n < *cap)
        return base;
    size_t ncap = *cap ? *cap * 2 : 8;
    void *na = sl_jf_alloc(jf, ncap * size);
    if (!na)
        return NULL;
    if (n)
        memcpy(na, base, n * size);
    *cap = ncap;
    return na;
}

/* --- did you mean ----------------------------------------------------------- */

/* Edit distance of two short strings; large for long ones. */
static size_t sl_edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 64 || lb > 64)
        return SIZE_MAX;
    size_t row[65];
    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j];
            size_t best = diag + (a[i - 1] != b[j - 1]);
            if (up + 1 < best)
                best = up + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

/* Keeps `cand` in *best when it is closer to `word` than what is there and
 * close enough to be a plausible typo. */
static void sl_suggest(const char *word, const char *cand, const char **best, size_t *bestd)
{
    size_t d = sl_edit_distance(word, cand);
    size_t limit = strlen(cand) <= 4 ? 1 : 2;
    if (d > 0 && d <= limit && d < *bestd) {
        *best = cand;
        *bestd = d;
    }
}

/* Formats " (did you mean x?)" into buf, or "" without a suggestion. */
static const char *sl_hint(const char *best, char *buf, size_t len)
{
    if (!best)
        return "";
    snprintf(buf, len, " (did you mean %s?)", best);
    return buf;
}

/* --- names -------------------------------------------------------------------- */

/* Index of the node called `name`, or -1. */
static long sl_jf_find_name(const sl_jf_t *jf, const char *name)
{
    for (size_t i = 0; i < jf->nnodes; i++)
        if (strcmp(jf->nodes[i]->name, name) == 0)
            return (long)i;
    return -1;
}

static sl_status_t sl_jf_stream_ref(sl_jf_t *jf, const char *name, unsigned line, unsigned col,
                                    uint32_t *index /* OUT */)
{
    long i = sl_jf_find_name(jf, name);
    if (i >= 0) {
        *index = (uint32_t)i;
        return SL_OK;
    }
    const char *best = NULL;
    size_t bestd = SIZE_MAX;
    for (size_t k = 0; k < jf->nnodes; k++)
        if (*jf->nodes[k]->name)
            sl_suggest(name, jf->nodes[k]->name, &best, &bestd);
    char hint[96];
    return sl_jf_fail(jf, line, col, "unknown stream '%s'%s", name,
                      sl_hint(best, hint, sizeof hint));
}

/* --- header lines: job, batch, block, wal, library ---------------------------- */

static sl_status_t sl_jf_duplicate_header(sl_jf_t *jf, const sl_token_t *kw, unsigned first)
{
    return sl_jf_fail(jf, kw->line, kw->col, "duplicate '%s' line (first at line %u)", kw->text,
                      first);
}

static sl_status_t sl_jf_header(sl_jf_t *jf, const sl_token_t *kw)
{
    sl_token_t v = { 0 };
    sl_status_t st;
    char msg[SL_ERRMSG_LEN];
    if (strcmp(kw->text, "job") == 0) {
        if (jf->job_line)
            return sl_jf_duplicate_header(jf, kw, jf->job_line);
        if ((st = sl_jf_word(jf, "a job name", kw, &v)) != SL_OK)
            return st;
        size_t n = strlen(v.text);
        bool ok = n <= SL_JOB_NAME_MAX;
        for (size_t i = 0; ok && i < n; i++)
            ok = sl_jf_is_alpha(v.text[i]) || sl_jf_is_digit(v.text[i]) || v.text[i] == '.' ||
                 v.text[i] == '-';
        if (!ok)
            return sl_jf_fail(jf, v.line, v.col, "invalid job name '%.64s' (use 1-%d of A-Z a-z "
                              "0-9 _ . -)", v.text, SL_JOB_NAME_MAX);
        jf->spec.name = v.text;
        jf->job_line = kw->line;
        jf->job_col = kw->col;
    } else if (strcmp(kw->text, "batch") == 0 || strcmp(kw->text, "block") == 0) {
        bool batch = strcmp(kw->text, "batch") == 0;
        unsigned *line = batch ? &jf->batch_line : &jf->block_line;
        if (*line)
            return sl_jf_duplicate_header(jf, kw, *line);
        if ((st = sl_jf_word(jf, "a duration", kw, &v)) != SL_OK)
            return st;
        uint64_t ms;
        if (sl_parse_duration_ms(v.text, &ms, msg) != SL_OK)
            return sl_jf_fail(jf, v.line, v.col, "%s: %s", kw->text, msg);
        if (batch && ms < SL_BATCH_MIN_MS)
            return sl_jf_fail(jf, v.line, v.col, "batch interval '%s' is below the minimum of %dms",
                              v.text, SL_BATCH_MIN_MS);
        if (!batch && ms == 0)
            return sl_jf_fail(jf, v.line, v.col, "block interval must be more than 0 (leave the "
                              "line out for the default)");
        if (batch) {
            jf->spec.batch_ms = ms;
        } else {
            jf->spec.block_ms = ms;
            jf->block_col = v.col;
        }
        *line = kw->line;
    } else if (strcmp(kw->text, "wal") == 0) {
        if (jf->wal_line)
            return sl_jf_duplicate_header(jf, kw, jf->wal_line);
        if ((st = sl_jf_word(jf, "'on' or 'off'", kw, &v)) != SL_OK)
            return st;
        bool on = strcmp(v.text, "on") == 0;
        if (!on && strcmp(v.text, "off") != 0)
            return sl_jf_fail(jf, v.line, v.col, "wal: expected 'on' or 'off', got '%.64s'",
                              v.text);
        jf->spec.wal = on;
        jf->wal_line = kw->line;
    } else {
        if (jf->lib_line)
            return sl_jf_duplicate_header(jf, kw, jf->lib_line);
        if ((st = sl_jf_take(jf, &v)) != SL_OK)
            return st;
        if (v.type != SL_TK_STRING)
            return sl_jf_unexpected(jf, &v, "a quoted path after 'library'");
        if (!*v.text)
            return sl_jf_fail(jf, v.line, v.col, "empty library path");
        jf->spec.library_name = v.text;
        jf->lib_line = kw->line;
        jf->user_fn = NULL;         /* user functions are the library's to provide */
    }
    char after[32];
    snprintf(after, sizeof after, "the '%s' value", kw->text);
    return sl_jf_end_statement(jf, after);
}

/* --- call arguments -------------------------------------------------------------- */

/* A function argument's literal arguments: ( literal {, literal} ) */
static sl_status_t sl_jf_func_args(sl_jf_t *jf, sl_jf_arg_t *a)
{
    sl_token_t t;
    sl_status_t st = sl_jf_take(jf, &t);          /* the '(' */
    size_t cap = 0;
    const sl_token_t *p;
    if (st != SL_OK || (st = sl_jf_peek(jf, &p)) != SL_OK)
        return st;
    if (p->type == SL_TK_RPAREN)
        return sl_jf_take(jf, &t);
    for (;;) {
        if ((st = sl_jf_take(jf, &t)) != SL_OK)
            return st;
        if (t.type != SL_TK_STRING && t.type != SL_TK_NUMBER)
            return sl_jf_unexpected(jf, &t, "a quoted string or a number as function argument");
        char **fargs = sl_jf_grow(jf, a->fargs, a->nfargs, &cap, sizeof *fargs);
        if (!fargs)
            return sl_jf_oom(jf);
        a->fargs = fargs;
        a->fargs[a->nfargs++] = t.text;
        if ((st = sl_jf_take(jf, &t)) != SL_OK)
            return st;
        if (t.type == SL_TK_RPAREN)
            return SL_OK;
        if (t.type != SL_TK_COMMA)
            return sl_jf_unexpected(jf, &t, "',' or ')'");
    }
}

/* One argument: [partitions =] (string | number | name | name(literals)). */
static sl_status_t sl_jf_arg(sl_jf_t *jf, sl_jf_arg_t *a)
{
    sl_token_t t;
    const sl_token_t *p;
    sl_status_t st = sl_jf_take(jf, &t);
    if (st != SL_OK)
        return st;
    memset(a, 0, sizeof *a);
    if (t.type == SL_TK_IDENT) {
        if ((st = sl_jf_peek(jf, &p)) != SL_OK)
            return st;
        if (p->type == SL_TK_EQ) {
            if (strcmp(t.text, "partitions") != 0) {
                const char *best = NULL;
                size_t bestd = SIZE_MAX;
                char hint[96];
                sl_suggest(t.text, "partitions", &best, &bestd);
                return sl_jf_fail(jf, t.line, t.col, "unknown keyword argument '%s'%s", t.text,
                                  sl_hint(best, hint, sizeof hint));
            }
            a->keyword = true;
            a->kw_line = t.line;
            a->kw_col = t.col;
            if ((st = sl_jf_take(jf, &t)) != SL_OK || (st = sl_jf_take(jf, &t)) != SL_OK)
                return st;
            if (t.type != SL_TK_NUMBER)
                return sl_jf_unexpected(jf, &t, "a number after 'partitions ='");
        }
    }
    a->text = t.text;
    a->line = t.line;
    a->col = t.col;
    switch (t.type) {
    case SL_TK_STRING:
        a->kind = SL_JV_STRING;
        return SL_OK;
    case SL_TK_NUMBER:
        a->kind = SL_JV_NUMBER;
        return SL_OK;
    case SL_TK_IDENT:
        a->kind = SL_JV_IDENT;
        if ((st = sl_jf_peek(jf, &p)) != SL_OK || p->type != SL_TK_LPAREN)
            return st;
        a->kind = SL_JV_CALL;
        return sl_jf_func_args(jf, a);
    default:
        return sl_jf_unexpected(jf, &t, "an argument");
    }
}

/* ( [arg {, arg}] ) after a call's name. Keeps the first SL_MAX_OP_ARGS
 * arguments and counts them all. */
static sl_status_t sl_jf_args(sl_jf_t *jf, sl_jf_arg_t *args, size_t *nargs /* OUT */)
{
    sl_token_t t;
    const sl_token_t *p;
    sl_status_t st = sl_jf_expect(jf, SL_TK_LPAREN, "'('", &t);
    *nargs = 0;
    if (st != SL_OK || (st = sl_jf_peek(jf, &p)) != SL_OK)
        return st;
    if (p->type == SL_TK_RPAREN)
        return sl_jf_take(jf, &t);
    for (;;) {
        sl_jf_arg_t scratch;
        if ((st = sl_jf_arg(jf, *nargs < SL_MAX_OP_ARGS ? &args[*nargs] : &scratch)) != SL_OK)
            return st;
        (*nargs)++;
        if ((st = sl_jf_take(jf, &t)) != SL_OK)
            return st;
        if (t.type == SL_TK_RPAREN)
            return SL_OK;
        if (t.type != SL_TK_COMMA)
            return sl_jf_unexpected(jf, &t, "',' or ')'");
    }
}

static const char *sl_jv_describe(sl_jv_t k)
{
    switch (k) {
    case SL_JV_IDENT: return "a name";
    case SL_JV_CALL: return "a function call";
    case SL_JV_STRING: return "a string";
    case SL_JV_NUMBER: return "a number";
    }
    return "?";
}

/* Checks a function argument against the catalogue. A name that is not
 * built in is left to the library; without a `library` line (so far) the
 * first one is remembered and becomes the error if none follows. */
static sl_status_t sl_jf_check_func(sl_jf_t *jf, const sl_jf_call_t *c, const sl_jf_arg_t *a)
{
    if (!sl_builtin_find(a->text)) {
        if (!jf->lib_line && !jf->user_fn) {
            jf->user_fn = a->text;
            jf->user_fn_line = a->line;
            jf->user_fn_col = a->col;
        }
        return SL_OK;
    }
    char msg[SL_ERRMSG_LEN] = "";
    sl_func_t *f = NULL;
    sl_status_t st = sl_func_compile(a->text, (const char *const *)a->fargs, a->nfargs, c->fn,
                                     NULL, &f, msg);
    sl_func_free(f);
    if (st == SL_ERR_NOMEM)
        return sl_jf_oom(jf);
    if (st != SL_OK)
        return sl_jf_fail(jf, a->line, a->col, "%s", msg);
    return SL_OK;
}

/* A partition count or print count: digits within [1, max]. */
static sl_status_t sl_jf_number(sl_jf_t *jf, const sl_jf_arg_t *a, const char *what, uint64_t max,
                                uint32_t *out /* OUT */)
{
    uint64_t v;
    const char *digits = a->text + (a->text[0] == '-');
    if (digits[strspn(digits, "0123456789")] != '\0')
        return sl_jf_fail(jf, a->line, a->col, "%s '%s' is not a whole number", what, a->text);
    if (a->text[0] == '-' || sl_parse_uint(a->text, 1, max, &v, NULL) != SL_OK)
        return sl_jf_fail(jf, a->line, a->col, "%s %s is out of range (1..%llu)", what, a->text,
                          (unsigned long long)max);
    *out = (uint32_t)v;
    return SL_OK;
}

/* What a node or output gets from a call's arguments. */
typedef struct {
    Sluice__FuncRef *func;
    uint32_t partitions, count, other;
    bool has_other;
    const char *dest[SL_JD_TABLE + 1];
} sl_jf_filled_t;

/* Matches the arguments of call `c` (named by `name`) to its parameters and
 * checks each one. */
static sl_status_t sl_jf_bind(sl_jf_t *jf, const sl_jf_call_t *c, const sl_token_t *name,
                              const sl_jf_arg_t *args, size_t nargs, sl_jf_filled_t *out /* OUT */)
{
    const char *cname = sl_call_name(c);
    unsigned max = c->arg[1] ? 2 : c->arg[0] ? 1 : 0;
    const sl_jf_arg_t *slot[2] = { NULL, NULL };
    size_t npos = 0;
    bool seen_kw = false;
    memset(out, 0, sizeof *out);
    for (size_t i = 0; i < nargs && i < SL_MAX_OP_ARGS; i++) {
        const sl_jf_arg_t *a = &args[i];
        if (a->keyword) {
            unsigned k = c->arg[0] == SL_JA_PARTS ? 0 : c->arg[1] == SL_JA_PARTS ? 1 : 2;
            if (k == 2)
                return sl_jf_fail(jf, a->kw_line, a->kw_col, "%s takes no partition count", cname);
            if (slot[k])
                return sl_jf_fail(jf, a->kw_line, a->kw_col, "partitions given twice");
            slot[k] = a;
            seen_kw = true;
            continue;
        }
        if (seen_kw)
            return sl_jf_fail(jf, a->line, a->col, "positional argument after 'partitions ='");
        if (npos < max)
            slot[npos] = a;
        npos++;
    }
    size_t given = (slot[0] != NULL) + (slot[1] != NULL);
    if (nargs > given || !(slot[0] || c->required < 1) ||
        !(slot[1] || c->required < 2)) {
        char range[32];
        if (c->required == max)
            snprintf(range, sizeof range, "%s", max == 0 ? "no" : max == 1 ? "1" : "2");
        else
            snprintf(range, sizeof range, "%u or %u", c->required, max);
        return sl_jf_fail(jf, name->line, name->col,
                          "%s expects %s argument%s, got %zu (usage: %s)", cname, range,
                          max == 1 && c->required == 1 ? "" : "s", nargs, c->usage);
    }

    for (unsigned k = 0; k < 2; k++) {
        const sl_jf_arg_t *a = slot[k];
        sl_status_t st = SL_OK;
        if (!a) {
            if (c->arg[k] == SL_JA_PARTS)
                out->partitions = c->dflt;
            else if (c->arg[k] == SL_JA_COUNT)
                out->count = c->dflt;
            continue;
        }
        static const struct { sl_ja_t type; sl_jv_t ok1, ok2; const char *what; } want[] = {
            { SL_JA_FUNC, SL_JV_IDENT, SL_JV_CALL, "a function" },
            { SL_JA_STREAM, SL_JV_IDENT, SL_JV_IDENT, "a stream name" },
            { SL_JA_PARTS, SL_JV_NUMBER, SL_JV_NUMBER, "a partition count" },
            { SL_JA_COUNT, SL_JV_NUMBER, SL_JV_NUMBER, "a number" },
            { SL_JA_STRING, SL_JV_STRING, SL_JV_STRING, "a quoted string" },
        };
        size_t w = 0;
        while (want[w].type != c->arg[k])
            w++;
        if (a->kind != want[w].ok1 && a->kind != want[w].ok2)
            return sl_jf_fail(jf, a->line, a->col, "%s: argument %u must be %s, not %s", cname,
                              k + 1, want[w].what, sl_jv_describe(a->kind));
        switch (c->arg[k]) {
        case SL_JA_FUNC:
            if ((st = sl_jf_check_func(jf, c, a)) != SL_OK)
                return st;
            out->func = sl_jf_alloc(jf, sizeof *out->func);
            if (!out->func)
                return sl_jf_oom(jf);
            sluice__func_ref__init(out->func);
            out->func->name = (char *)a->text;
            out->func->args = a->fargs;
            out->func->n_args = a->nfargs;
            out->func->line = a->line;
            out->func->col = a->col;
            break;
        case SL_JA_STREAM:
            if ((st = sl_jf_stream_ref(jf, a->text, a->line, a->col, &out->other)) != SL_OK)
                return st;
            out->has_other = true;
            break;
        case SL_JA_PARTS:
            st = sl_jf_number(jf, a, "partition count", SL_PARTITIONS_MAX, &out->partitions);
            break;
        case SL_JA_COUNT:
            st = sl_jf_number(jf, a, "count", SL_PRINT_COUNT_MAX, &out->count);
            break;
        case SL_JA_STRING:
            out->dest[c->dest[k]] = a->text;
            break;
        case SL_JA_NONE:
            break;
        }
        if (st != SL_OK)
            return st;
    }
    return SL_OK;
}

/* --- statements ---------------------------------------------------------------- */

static const sl_jf_call_t *sl_jf_find_call(const char *name, bool source)
{
    for (size_t i = 0; i < SL_NCALLS; i++)
        if (((sl_calls[i].op == SLUICE__OP_KIND__OP_PUSH) == source) &&
            strcmp(sl_call_name(&sl_calls[i]), name) == 0)
            return &sl_calls[i];
    return NULL;
}

static sl_status_t sl_jf_unknown_call(sl_jf_t *jf, const sl_token_t *name, bool source)
{
    if (!source && strcmp(name->text, "push") == 0)
        return sl_jf_fail(jf, name->line, name->col,
                          "push is a source: start an expression with push(...)");
    const char *best = NULL;
    size_t bestd = SIZE_MAX;
    char hint[96];
    for (size_t i = 0; i < SL_NCALLS; i++)
        if ((sl_calls[i].op == SLUICE__OP_KIND__OP_PUSH) == source)
            sl_suggest(name->text, sl_call_name(&sl_calls[i]), &best, &bestd);
    if (source)
        return sl_jf_fail(jf, name->line, name->col, "unknown source '%s'%s", name->text,
                          best ? sl_hint(best, hint, sizeof hint)
                               : " (a stream starts with push(...) or a defined name)");
    return sl_jf_fail(jf, name->line, name->col, "unknown operation '%s'%s", name->text,
                      sl_hint(best, hint, sizeof hint));
}

/* Applies call `c` named by `name`: appends a node reading `input` (none for
 * a source) or an output attached to it. *index is the new node. */
static sl_status_t sl_jf_apply(sl_jf_t *jf, const sl_jf_call_t *c, const sl_token_t *name,
                               long input, uint32_t *index /* OUT */)
{
    sl_jf_arg_t args[SL_MAX_OP_ARGS];
    size_t nargs;
    sl_jf_filled_t v;
    sl_status_t st = sl_jf_args(jf, args, &nargs);
    if (st != SL_OK || (st = sl_jf_bind(jf, c, name, args, nargs, &v)) != SL_OK)
        return st;
    if (c->out != SLUICE__OUTPUT_KIND__OUT_UNKNOWN) {
        Sluice__OutputSpec *o = sl_jf_alloc(jf, sizeof *o);
        if (!o)
            return sl_jf_oom(jf);
        sluice__output_spec__init(o);
        o->kind = c->out;
        o->input = (uint32_t)input;
        o->count = v.count;
        o->path = v.dest[SL_JD_PATH] ? (char *)v.dest[SL_JD_PATH] : o->path;
        o->table = v.dest[SL_JD_TABLE] ? (char *)v.dest[SL_JD_TABLE] : o->table;
        o->line = name->line;
        o->col = name->col;
        Sluice__OutputSpec **outs = sl_jf_grow(jf, jf->outs, jf->nouts, &jf->capouts, sizeof *outs);
        if (!outs)
            return sl_jf_oom(jf);
        jf->outs = outs;
        jf->outs[jf->nouts++] = o;
        return SL_OK;
    }
    Sluice__StreamNode *n = sl_jf_alloc(jf, sizeof *n);
    uint32_t *inputs = sl_jf_alloc(jf, 2 * sizeof *inputs);
    if (!n || !inputs)
        return sl_jf_oom(jf);
    sluice__stream_node__init(n);
    n->op = c->op;
    n->inputs = inputs;
    if (input >= 0)
        n->inputs[n->n_inputs++] = (uint32_t)input;
    if (v.has_other)
        n->inputs[n->n_inputs++] = v.other;
    n->func = v.func;
    n->partitions = v.partitions;
    n->source = v.dest[SL_JD_SOURCE] ? (char *)v.dest[SL_JD_SOURCE] : n->source;
    n->mode = v.dest[SL_JD_MODE] ? (char *)v.dest[SL_JD_MODE] : n->mode;
    n->path = v.dest[SL_JD_PATH] ? (char *)v.dest[SL_JD_PATH] : n->path;
    n->line = name->line;
    n->col = name->col;
    Sluice__StreamNode **nodes =
        sl_jf_grow(jf, jf->nodes, jf->nnodes, &jf->capnodes, sizeof *nodes);
    if (!nodes)
        return sl_jf_oom(jf);
    jf->nodes = nodes;
    *index = (uint32_t)jf->nnodes;
    jf->nodes[jf->nnodes++] = n;
    return SL_OK;
}

/* expr := (push(...) | name) { .call(...) }, whose first token is taken.
 * `assign` is the name being defined, or NULL for an expression statement,
 * which must end in an output. */
static sl_status_t sl_jf_expr(sl_jf_t *jf, const sl_token_t *first, const sl_token_t *assign)
{
    const sl_token_t *p;
    sl_token_t name;
    uint32_t cur = 0;
    size_t nodes_before = jf->nnodes;
    sl_status_t st = sl_jf_peek(jf, &p);
    if (st != SL_OK)
        return st;
    if (first->type != SL_TK_IDENT)
        return sl_jf_unexpected(jf, first, "push(...) or a stream name");
    if (p->type == SL_TK_LPAREN) {
        const sl_jf_call_t *c = sl_jf_find_call(first->text, true);
        if (!c)
            return sl_jf_unknown_call(jf, first, true);
        if ((st = sl_jf_apply(jf, c, first, -1, &cur)) != SL_OK)
            return st;
    } else if ((st = sl_jf_stream_ref(jf, first->text, first->line, first->col, &cur)) != SL_OK) {
        return st;
    }

    for (;;) {
        sl_token_t dot;
        if ((st = sl_jf_take(jf, &dot)) != SL_OK)
            return st;
        if (dot.type == SL_TK_NL || dot.type == SL_TK_EOF)
            break;
        if (dot.type != SL_TK_DOT)
            return sl_jf_unexpected(jf, &dot, "'.' or the end of the line");
        if ((st = sl_jf_expect(jf, SL_TK_IDENT, "an operation name after '.'", &name)) != SL_OK)
            return st;
        const sl_jf_call_t *c = sl_jf_find_call(name.text, false);
        if (!c)
            return sl_jf_unknown_call(jf, &name, false);
        if (c->out != SLUICE__OUTPUT_KIND__OUT_UNKNOWN && assign)
            return sl_jf_fail(jf, name.line, name.col, "%s() is an output and gives no stream to "
                              "assign to '%s'", name.text, assign->text);
        if ((st = sl_jf_apply(jf, c, &name, cur, &cur)) != SL_OK)
            return st;
        if (c->out != SLUICE__OUTPUT_KIND__OUT_UNKNOWN) {
            char what[96];
            snprintf(what, sizeof what, "output %s(), which ends the statement", name.text);
            return sl_jf_end_statement(jf, what);
        }
    }

    if (!assign)
        return sl_jf_fail(jf, first->line, first->col, "statement has no output (assign it to a "
                          "name or end it with an output such as .print())");
    if (jf->nnodes == nodes_before)
        return sl_jf_fail(jf, first->line, first->col, "'%s = %s' defines no new stream (use "
                          "'%s' directly)", assign->text, first->text, first->text);
    jf->nodes[cur]->name = assign->text;
    return SL_OK;
}

/* The words that start a header line (sl_jf_header). */
static const char *const sl_headers[] = { "job", "batch", "block", "wal", "library" };

static bool sl_is_header(const char *w)
{
    for (size_t i = 0; i < sizeof sl_headers / sizeof *sl_headers; i++)
        if (strcmp(w, sl_headers[i]) == 0)
            return true;
    return false;
}

static sl_status_t sl_jf_statement(sl_jf_t *jf)
{
    sl_token_t first, eq;
    const sl_token_t *p;
    sl_status_t st = sl_jf_take(jf, &first);
    if (st != SL_OK || first.type == SL_TK_NL || first.type == SL_TK_EOF)
        return st;
    if (first.type != SL_TK_IDENT)
        return sl_jf_unexpected(jf, &first, "a statement");

    /* A header keyword unless what follows makes it a stream name. Decided on
     * the raw text so that header values ("1.5s", "word-count") are not lexed. */
    const char *q = jf->p;
    while (q < jf->end && sl_jf_is_space(*q))
        q++;
    bool stream_like = q < jf->end && (*q == '=' || *q == '.' || *q == '(');
    if (!stream_like && sl_is_header(first.text))
        return sl_jf_header(jf, &first);
    /* "wal = on" is the wal line too (on and off are no stream names). */
    if (strcmp(first.text, "wal") == 0 && q < jf->end && *q == '=') {
        const char *r = q + 1;
        while (r < jf->end && sl_jf_is_space(*r))
            r++;
        size_t n = (size_t)(jf->end - r) >= 3 && strncmp(r, "off", 3) == 0 ? 3
                   : (size_t)(jf->end - r) >= 2 && strncmp(r, "on", 2) == 0 ? 2 : 0;
        if (n && (r + n == jf->end || !(isalnum((unsigned char)r[n]) || r[n] == '_'))) {
            jf->p = q + 1;
            return sl_jf_header(jf, &first);
        }
    }

    if ((st = sl_jf_peek(jf, &p)) != SL_OK)
        return st;
    if (p->type == SL_TK_EQ) {
        if ((st = sl_jf_take(jf, &eq)) != SL_OK)
            return st;
        long prev = sl_jf_find_name(jf, first.text);
        if (prev >= 0)
            return sl_jf_fail(jf, first.line, first.col, "duplicate name '%s' (first defined at "
                              "line %u)", first.text, (unsigned)jf->nodes[prev]->line);
        sl_token_t start;
        if ((st = sl_jf_take(jf, &start)) != SL_OK)
            return st;
        return sl_jf_expr(jf, &start, &first);
    }
    if (p->type != SL_TK_DOT && p->type != SL_TK_LPAREN && p->type != SL_TK_NL &&
        p->type != SL_TK_EOF) {
        const char *best = NULL;
        size_t bestd = SIZE_MAX;
        char hint[96];
        for (size_t i = 0; i < sizeof sl_headers / sizeof *sl_headers; i++)
            sl_suggest(first.text, sl_headers[i], &best, &bestd);
        if (best)
            return sl_jf_fail(jf, first.line, first.col, "unknown statement '%s'%s", first.text,
                              sl_hint(best, hint, sizeof hint));
        return sl_jf_unexpected(jf, p, "'=' or '.'");
    }
    return sl_jf_expr(jf, &first, NULL);
}

/* Checks what only the whole file can tell. */
static sl_status_t sl_jf_finish(sl_jf_t *jf)
{
    if (!jf->job_line)
        return sl_jf_fail(jf, 1, 1, "missing 'job NAME' line");
    if (!jf->batch_line)
        return sl_jf_fail(jf, jf->job_line, jf->job_col, "missing 'batch DURATION' line");
    if (jf->spec.block_ms > jf->spec.batch_ms) {
        char block[32], batch[32];
        sl_format_duration_ms(jf->spec.block_ms, block, sizeof block);
        sl_format_duration_ms(jf->spec.batch_ms, batch, sizeof batch);
        return sl_jf_fail(jf, jf->block_line, jf->block_col, "block interval %s is longer than "
                          "the batch interval %s", block, batch);
    }
    if (jf->user_fn) {
        const char *best = NULL;
        size_t bestd = SIZE_MAX;
        char hint[96];
        for (size_t i = 0; i < sl_builtin_count(); i++)
            sl_suggest(jf->user_fn, sl_builtin_info(i)->name, &best, &bestd);
        return sl_jf_fail(jf, jf->user_fn_line, jf->user_fn_col, "unknown function '%s'%s%s",
                          jf->user_fn, sl_hint(best, hint, sizeof hint),
                          best ? "" : " (not built in, and the job has no 'library' line)");
    }
    if (jf->nouts == 0)
        return sl_jf_fail(jf, jf->job_line, jf->job_col, "job '%s' has no output (end a statement "
                          "with e.g. .print())", jf->spec.name);
    return SL_OK;
}

/* Packs the pool-built spec and reads it back as one protobuf-c allocation. */
static sl_status_t sl_jf_copy_out(sl_jf_t *jf, Sluice__JobSpec **out)
{
    jf->spec.nodes = jf->nodes;
    jf->spec.n_nodes = jf->nnodes;
    jf->spec.outputs = jf->outs;
    jf->spec.n_outputs = jf->nouts;
    size_t len = sluice__job_spec__get_packed_size(&jf->spec);
    uint8_t *buf = malloc(len ? len : 1);
    if (!buf)
        return sl_jf_oom(jf);
    sluice__job_spec__pack(&jf->spec, buf);
    *out = sluice__job_spec__unpack(NULL, len, buf);
    free(buf);
    return *out ? SL_OK : sl_jf_oom(jf);
}

/* Rewrites a validator message "line L, col C: msg" as "origin:L:C: msg". */
static void sl_jf_locate(sl_jf_t *jf, const char *msg)
{
    unsigned line = 0, col = 0;
    int used = 0;
    if (sscanf(msg, "line %u, col %u: %n", &line, &col, &used) == 2 && used > 0) {
        sl_jf_fail(jf, line, col, "%s", msg + used);
        return;
    }
    int n = snprintf(jf->err, SL_ERRMSG_LEN, "%s: ", jf->origin);
    if (n >= 0 && n < SL_ERRMSG_LEN)
        snprintf(jf->err + n, SL_ERRMSG_LEN - (size_t)n, "%s", msg);
}

sl_status_t sl_jobfile_parse(const char *text, size_t len, const char *origin,
                             Sluice__JobSpec **out, char *err)
{
    char scratch[SL_ERRMSG_LEN];
    sl_jf_t jf = { 0 };
    Sluice__JobSpec *spec = NULL;
    sl_status_t st;
    *out = NULL;
    jf.origin = origin ? origin : "<job>";
    jf.err = err ? err : scratch;
    jf.p = jf.bol = text ? text : "";
    jf.end = jf.p + (text ? len : 0);
    jf.line = 1;
    sluice__job_spec__init(&jf.spec);
    if (jf.end - jf.p >= 3 && memcmp(jf.p, "\xef\xbb\xbf", 3) == 0)
        jf.p = jf.bol = jf.p + 3;       /* a UTF-8 byte order mark */

    for (;;) {
        const sl_token_t *p;
        if ((st = sl_jf_peek(&jf, &p)) != SL_OK)
            goto out_pool;
        if (p->type == SL_TK_EOF)
            break;
        if ((st = sl_jf_statement(&jf)) != SL_OK)
            goto out_pool;
    }
    if ((st = sl_jf_finish(&jf)) != SL_OK || (st = sl_jf_copy_out(&jf, &spec)) != SL_OK)
        goto out_pool;

    char msg[SL_ERRMSG_LEN];
    st = sl_jobspec_validate(spec, NULL, msg);
    if (st != SL_OK) {
        sl_jf_locate(&jf, msg);
        sluice__job_spec__free_unpacked(spec, NULL);
        goto out_pool;
    }
    *out = spec;
out_pool:
    sl_jf_pool_free(&jf);
    return st;
}
