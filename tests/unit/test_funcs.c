/* Tests for common/funcs.c and common/reducers.c: every built-in on
 * ordinary, edge and non-bytes values, argument and kind errors, the
 * reducers' init/combine/merge (all split points must agree), accumulators
 * not borrowing input and shared use from threads. Also defines the helpers
 * of test_funcs.h, which test_udf.c uses too. */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include "arena.h"
#include "block.h"
#include "funcs.h"
#include "test_funcs.h"
#include "unit.h"

/* --- helpers (test_funcs.h) ------------------------------------------------ */

sl_arena_t *sl_ta;
static sl_buf_t sl_tbufs[64];      /* encoded list elements, per test */
static size_t sl_ntbufs;
static char sl_tshown[8][512];
static unsigned sl_tshown_i;

void sl_tsetup(void)
{
    sl_ta = sl_arena_new(0);
    ck_assert_ptr_nonnull(sl_ta);
}

void sl_tteardown(void)
{
    sl_arena_free(sl_ta);
    sl_ta = NULL;
    for (size_t i = 0; i < sl_ntbufs; i++)
        sl_buf_free(&sl_tbufs[i]);
    sl_ntbufs = 0;
}

sl_value_t sl_tv(const char *spec)
{
    switch (spec[0]) {
    case 'n':
        return sl_val_null();
    case 'i':
        return sl_val_int(strtoll(spec + 2, NULL, 10));
    case 'd':
        return sl_val_double(strtod(spec + 2, NULL));
    case 'b':
        return sl_val_bytes(spec + 2, strlen(spec + 2));
    case 'L':
    case 'T': {
        ck_assert_uint_lt(sl_ntbufs, SL_NELEM(sl_tbufs));
        sl_buf_t *b = &sl_tbufs[sl_ntbufs++];
        uint32_t n = 0;
        for (const char *p = spec + 2; *p;) {
            char elem[128];
            size_t len = strcspn(p, "|");
            ck_assert_uint_lt(len, sizeof elem);
            memcpy(elem, p, len);
            elem[len] = '\0';
            sl_value_t e = sl_tv(elem);
            ck_assert_int_eq(sl_value_encode(b, &e), SL_OK);
            n++;
            p += len + (p[len] == '|');
        }
        return sl_val_list(spec[0] == 'L' ? SL_VAL_LIST : SL_VAL_TUPLE, b, n);
    }
    }
    ck_abort_msg("bad value spec '%s'", spec);
    return sl_val_null();
}

const char *sl_ts(const sl_value_t *v)
{
    static const char prefix[] = "nidbLT";
    char *s = sl_tshown[sl_tshown_i++ % SL_NELEM(sl_tshown)];
    if (v->type == SL_VAL_NULL)
        return "n";
    sl_buf_t b = {0};
    ck_assert_int_eq(sl_value_format(&b, v), SL_OK);
    snprintf(s, sizeof sl_tshown[0], "%c:%.*s", prefix[v->type], (int)b.len, (const char *)b.p);
    sl_buf_free(&b);
    return s;
}

void sl_ck_key(const sl_record_t *r, const char *want)
{
    size_t n = strlen(want);
    bool same = r->key_len == n && (n == 0 || memcmp(r->key, want, n) == 0);
    ck_assert_msg(same, "key '%.*s', want '%s'", (int)r->key_len,
                  r->key ? (const char *)r->key : "", want);
}

sl_func_t *sl_tcompile(const char *name, const char *const *args, size_t nargs,
                       sl_fn_kind_t want, const sl_udf_lib_t *lib)
{
    sl_func_t *f = NULL;
    char err[SL_ERRMSG_LEN] = "";
    sl_status_t st = sl_func_compile(name, args, nargs, want, lib, &f, err);
    ck_assert_msg(st == SL_OK, "compile %s: %s (%s)", name, sl_strerror(st), err);
    ck_assert_ptr_nonnull(f);
    return f;
}

sl_status_t sl_collect_fn(sl_emit_t *self, const sl_record_t *r)
{
    sl_collect_t *c = (sl_collect_t *)self;
    if (c->fail_at && c->n + 1 == c->fail_at)
        return SL_ERR_CLOSED;
    if (c->key)
        sl_ck_key(r, c->key);
    size_t len = strlen(c->out);
    snprintf(c->out + len, sizeof c->out - len, "%s%s", c->n ? "|" : "", sl_ts(&r->val));
    c->n++;
    return SL_OK;
}

/* --- map ------------------------------------------------------------------- */

typedef struct {
    const char *fn;
    const char *args[2];
    size_t nargs;
    const char *in;          /* the value; the key is "k" */
    const char *want;
    const char *want_key;    /* NULL: "k" */
} sl_map_case_t;

static const sl_map_case_t sl_map_cases[] = {
    { "lower", { 0 }, 0, "b:HeLLo World 1", "b:hello world 1", NULL },
    { "lower", { 0 }, 0, "b:", "b:", NULL },
    { "lower", { 0 }, 0, "b:\xc3\x84X", "b:\xc3\x84x", NULL },      /* non-ASCII untouched */
    { "lower", { 0 }, 0, "i:42", "b:42", NULL },
    { "lower", { 0 }, 0, "n", "b:null", NULL },
    { "lower", { 0 }, 0, "L:b:A|i:1", "b:[a, 1]", NULL },
    { "upper", { 0 }, 0, "b:abc-xyz", "b:ABC-XYZ", NULL },
    { "upper", { 0 }, 0, "T:b:a|d:0.5", "b:(A, 0.5)", NULL },
    { "trim", { 0 }, 0, "b:  a b \t\r\n", "b:a b", NULL },
    { "trim", { 0 }, 0, "b: \t\v\f ", "b:", NULL },
    { "trim", { 0 }, 0, "b:x", "b:x", NULL },
    { "trim", { 0 }, 0, "b:\xa0x\xa0", "b:\xa0x\xa0", NULL },      /* not ASCII space */
    { "trim", { 0 }, 0, "d:-1.5", "b:-1.5", NULL },
    { "pair_one", { 0 }, 0, "b:word", "i:1", "word" },
    { "pair_one", { 0 }, 0, "i:7", "i:1", "7" },
    { "pair_one", { 0 }, 0, "b:", "i:1", "" },
    { "pair_one", { 0 }, 0, "L:i:1|i:2", "i:1", "[1, 2]" },
    { "field", { "0", "," }, 2, "b:a,b,c", "b:a", NULL },
    { "field", { "1", "," }, 2, "b:a,b,c", "b:b", NULL },
    { "field", { "2", "," }, 2, "b:a,b,c", "b:c", NULL },
    { "field", { "3", "," }, 2, "b:a,b,c", "n", NULL },
    { "field", { "0", "," }, 2, "b:", "b:", NULL },
    { "field", { "1", "," }, 2, "b:", "n", NULL },
    { "field", { "1", "," }, 2, "b:a,", "b:", NULL },
    { "field", { "1", "," }, 2, "b:a,,c", "b:", NULL },
    { "field", { "1", "::" }, 2, "b:a::b::c", "b:b", NULL },
    { "field", { "1", "::" }, 2, "b:a:b", "n", NULL },
    { "field", { "1", "\t" }, 2, "b:x\ty", "b:y", NULL },
    { "field", { "1", ", " }, 2, "L:i:1|i:2", "b:2]", NULL },
    { "field", { "0", "." }, 2, "d:2.5", "b:2", NULL },
    { "key_by_field", { "0", "," }, 2, "b:u1,click", "b:u1,click", "u1" },
    { "key_by_field", { "1", "," }, 2, "b:u1,click", "b:u1,click", "click" },
    { "key_by_field", { "5", "," }, 2, "b:u1,click", "b:u1,click", "" },
    { "key_by_field", { "1", ", " }, 2, "T:b:a|b:b", "T:(a, b)", "b)" },
    { "to_int", { 0 }, 0, "b:42", "i:42", NULL },
    { "to_int", { 0 }, 0, "b:  -17\n", "i:-17", NULL },
    { "to_int", { 0 }, 0, "b:+7", "i:7", NULL },
    { "to_int", { 0 }, 0, "b:-0", "i:0", NULL },
    { "to_int", { 0 }, 0, "b:9223372036854775807", "i:9223372036854775807", NULL },
    { "to_int", { 0 }, 0, "b:-9223372036854775808", "i:-9223372036854775808", NULL },
    { "to_int", { 0 }, 0, "b:9223372036854775808", "n", NULL },
    { "to_int", { 0 }, 0, "b:-9223372036854775809", "n", NULL },
    { "to_int", { 0 }, 0, "b:99999999999999999999999", "n", NULL },
    { "to_int", { 0 }, 0, "b:12a", "n", NULL },
    { "to_int", { 0 }, 0, "b:1 2", "n", NULL },
    { "to_int", { 0 }, 0, "b:1.0", "n", NULL },
    { "to_int", { 0 }, 0, "b:", "n", NULL },
    { "to_int", { 0 }, 0, "b:-", "n", NULL },
    { "to_int", { 0 }, 0, "b:+-1", "n", NULL },
    { "to_int", { 0 }, 0, "i:5", "i:5", NULL },
    { "to_int", { 0 }, 0, "d:3", "i:3", NULL },
    { "to_int", { 0 }, 0, "d:1.5", "n", NULL },
    { "to_int", { 0 }, 0, "n", "n", NULL },
    { "to_double", { 0 }, 0, "b:1.5", "d:1.5", NULL },
    { "to_double", { 0 }, 0, "b: -2e3 ", "d:-2000", NULL },
    { "to_double", { 0 }, 0, "b:.5", "d:0.5", NULL },
    { "to_double", { 0 }, 0, "b:7", "d:7", NULL },
    { "to_double", { 0 }, 0, "b:abc", "n", NULL },
    { "to_double", { 0 }, 0, "b:1.5x", "n", NULL },
    { "to_double", { 0 }, 0, "b:1e999", "n", NULL },
    { "to_double", { 0 }, 0, "b:0x10", "n", NULL },
    { "to_double", { 0 }, 0, "b:nan", "n", NULL },
    { "to_double", { 0 }, 0, "b:inf", "n", NULL },
    { "to_double", { 0 }, 0, "b:", "n", NULL },
    { "to_double", { 0 }, 0,                                     /* longer than the stack copy */
      "b:0.00000000000000000000000000000000000000000000000000000000000000000000000000001",
      "d:1e-77", NULL },
    { "to_double", { 0 }, 0, "i:3", "d:3", NULL },
    { "to_double", { 0 }, 0, "d:0.25", "d:0.25", NULL },
    { "to_double", { 0 }, 0, "n", "n", NULL },
    { "to_string", { 0 }, 0, "i:42", "b:42", NULL },
    { "to_string", { 0 }, 0, "d:0.1", "b:0.1", NULL },
    { "to_string", { 0 }, 0, "n", "b:null", NULL },
    { "to_string", { 0 }, 0, "L:i:1|b:x", "b:[1, x]", NULL },
    { "to_string", { 0 }, 0, "L:", "b:[]", NULL },
    { "to_string", { 0 }, 0, "b:as is", "b:as is", NULL },
    { "identity", { 0 }, 0, "L:i:1|i:2", "L:[1, 2]", NULL },
    { "identity", { 0 }, 0, "n", "n", NULL },
};

START_TEST(test_map)
{
    const sl_map_case_t *c = &sl_map_cases[_i];
    sl_func_t *f = sl_tcompile(c->fn, c->args, c->nargs, SL_FN_MAP, NULL);
    sl_record_t in = { (const uint8_t *)"k", 1, sl_tv(c->in) }, out;
    char err[SL_ERRMSG_LEN] = "";
    sl_status_t st = sl_func_map(f, &in, &out, sl_ta, err);
    ck_assert_msg(st == SL_OK, "%s(%s): %s", c->fn, c->in, err);
    ck_assert_msg(strcmp(sl_ts(&out.val), c->want) == 0, "%s on '%s' gave '%s', want '%s'", c->fn,
                  c->in, sl_ts(&out.val), c->want);
    sl_ck_key(&out, c->want_key ? c->want_key : "k");
    sl_func_free(f);
}
END_TEST

/* Output that is not a piece of a bytes input lives in the arena, not in a
 * buffer the next call reuses. */
START_TEST(test_map_output_survives_next_call)
{
    sl_func_t *up = sl_tcompile("upper", NULL, 0, SL_FN_MAP, NULL);
    sl_func_t *pair = sl_tcompile("pair_one", NULL, 0, SL_FN_MAP, NULL);
    sl_record_t in1 = { NULL, 0, sl_val_int(123) }, in2 = { NULL, 0, sl_val_int(456) };
    sl_record_t o1, o2, o3, o4;
    ck_assert_int_eq(sl_func_map(up, &in1, &o1, sl_ta, NULL), SL_OK);
    ck_assert_int_eq(sl_func_map(pair, &in1, &o3, sl_ta, NULL), SL_OK);
    ck_assert_int_eq(sl_func_map(up, &in2, &o2, sl_ta, NULL), SL_OK);
    ck_assert_int_eq(sl_func_map(pair, &in2, &o4, sl_ta, NULL), SL_OK);
    ck_assert_str_eq(sl_ts(&o1.val), "b:123");
    ck_assert_str_eq(sl_ts(&o2.val), "b:456");
    sl_ck_key(&o3, "123");
    sl_ck_key(&o4, "456");
    sl_func_free(up);
    sl_func_free(pair);
}
END_TEST

/* --- flat_map ---------------------------------------------------------------- */

typedef struct {
    const char *args[1];
    size_t nargs;
    const char *in;
    const char *want;        /* "spec|spec|...", "" for nothing */
} sl_split_case_t;

static const sl_split_case_t sl_split_cases[] = {
    { { 0 }, 0, "b:  hello world\tfoo\n", "b:hello|b:world|b:foo" },
    { { 0 }, 0, "b:one", "b:one" },
    { { 0 }, 0, "b:", "" },
    { { 0 }, 0, "b: \t\r\n\v\f", "" },
    { { 0 }, 0, "b:a\xa0" "b", "b:a\xa0" "b" },
    { { 0 }, 0, "i:12", "b:12" },
    { { 0 }, 0, "n", "b:null" },
    { { 0 }, 0, "L:b:a|b:b", "b:[a,|b:b]" },
    { { "," }, 1, "b:a,,b", "b:a|b:|b:b" },
    { { "," }, 1, "b:", "b:" },
    { { "," }, 1, "b:a,", "b:a|b:" },
    { { "," }, 1, "b:,", "b:|b:" },
    { { "," }, 1, "b:a b", "b:a b" },
    { { "::" }, 1, "b:a::b:c", "b:a|b:b:c" },
    { { ", " }, 1, "L:i:1|i:2|i:3", "b:[1|b:2|b:3]" },
    { { "." }, 1, "d:2.5", "b:2|b:5" },
};

START_TEST(test_split)
{
    const sl_split_case_t *c = &sl_split_cases[_i];
    sl_func_t *f = sl_tcompile("split", c->args, c->nargs, SL_FN_FLAT_MAP, NULL);
    sl_record_t in = { (const uint8_t *)"k", 1, sl_tv(c->in) };
    sl_collect_t col = { { sl_collect_fn }, "k", "", 0, 0 };
    char err[SL_ERRMSG_LEN] = "";
    ck_assert_msg(sl_func_flat_map(f, &in, &col.base, sl_ta, err) == SL_OK, "%s", err);
    ck_assert_msg(strcmp(col.out, c->want) == 0, "split(%s) on '%s' gave '%s', want '%s'",
                  c->nargs ? c->args[0] : "", c->in, col.out, c->want);
    sl_func_free(f);
}
END_TEST

START_TEST(test_split_emit_failure)
{
    const char *comma[] = { "," };
    for (int sep = 0; sep < 2; sep++) {
        sl_func_t *f = sl_tcompile("split", comma, (size_t)sep, SL_FN_FLAT_MAP, NULL);
        sl_record_t in = { NULL, 0, sl_tv(sep ? "b:a,b,c" : "b:a b c") };
        sl_collect_t col = { { sl_collect_fn }, "", "", 0, 2 };
        char err[SL_ERRMSG_LEN] = "";
        ck_assert_int_eq(sl_func_flat_map(f, &in, &col.base, sl_ta, err), SL_ERR_CLOSED);
        ck_assert_uint_eq(col.n, 1);
        SL_CK_CONTAINS(err, "split");
        SL_CK_CONTAINS(err, sl_strerror(SL_ERR_CLOSED));
        sl_func_free(f);
    }
}
END_TEST

/* --- filter ------------------------------------------------------------------ */

typedef struct {
    const char *fn;
    const char *arg;         /* NULL: no argument */
    const char *in;
    bool keep;
} sl_filter_case_t;

static const sl_filter_case_t sl_filter_cases[] = {
    { "contains", "lo", "b:hello", true },
    { "contains", "lo", "b:world", false },
    { "contains", "lo", "b:l", false },
    { "contains", "", "b:", true },
    { "contains", "23", "i:1234", true },
    { "contains", ", ", "L:i:1|i:2", true },
    { "starts_with", "he", "b:hello", true },
    { "starts_with", "he", "b:she", false },
    { "starts_with", "he", "b:h", false },
    { "starts_with", "-", "i:-5", true },
    { "ends_with", "lo", "b:hello", true },
    { "ends_with", "lo", "b:lo", true },
    { "ends_with", "lo", "b:o", false },
    { "ends_with", "", "b:", true },
    { "ends_with", ".5", "d:2.5", true },
    { "matches", "^[a-z]+[0-9]{2}$", "b:abc12", true },
    { "matches", "^[a-z]+[0-9]{2}$", "b:abc123", false },
    { "matches", "^[a-z]+[0-9]{2}$", "b:ABC12", false },
    { "matches", "b.d", "b:xxbxdxx", true },
    { "matches", "(cat|dog)s?", "b:hotdogs", true },
    { "matches", "^$", "b:", true },
    { "matches", "^[0-9]+$", "i:123", true },
    { "matches", "^[0-9]+$", "d:1.5", false },
    { "matches", "^\\[.*\\]$", "L:i:1", true },
    { "nonempty", NULL, "b:x", true },
    { "nonempty", NULL, "b:", false },
    { "nonempty", NULL, "n", false },
    { "nonempty", NULL, "i:0", true },
    { "nonempty", NULL, "L:", true },
    { "not_null", NULL, "n", false },
    { "not_null", NULL, "b:", true },
    { "not_null", NULL, "i:0", true },
};

START_TEST(test_filter)
{
    const sl_filter_case_t *c = &sl_filter_cases[_i];
    sl_func_t *f = sl_tcompile(c->fn, &c->arg, c->arg ? 1 : 0, SL_FN_FILTER, NULL);
    sl_record_t in = { (const uint8_t *)"k", 1, sl_tv(c->in) };
    ck_assert_msg(sl_func_filter(f, &in) == c->keep, "%s(%s) on '%s' should %s it", c->fn,
                  c->arg ? c->arg : "", c->in, c->keep ? "keep" : "drop");
    sl_func_free(f);
}
END_TEST

/* Values are not NUL-terminated and may hold NULs. */
START_TEST(test_filter_binary_text)
{
    static const uint8_t bytes[] = { 'a', 0, 'b', 'X' };   /* 'X' is past the value */
    sl_record_t in = { NULL, 0, sl_val_bytes(bytes, 3) };
    struct { const char *fn, *arg; bool keep; } cases[] = {
        { "matches", "^a", true }, { "matches", "b$", true }, { "matches", "X", false },
        { "contains", "b", true }, { "contains", "X", false },
        { "ends_with", "b", true }, { "starts_with", "a", true },
    };
    for (size_t i = 0; i < SL_NELEM(cases); i++) {
        sl_func_t *f = sl_tcompile(cases[i].fn, &cases[i].arg, 1, SL_FN_FILTER, NULL);
        ck_assert_msg(sl_func_filter(f, &in) == cases[i].keep, "%s(%s)", cases[i].fn, cases[i].arg);
        sl_func_free(f);
    }
}
END_TEST

/* The arguments are copied at compile time. */
START_TEST(test_args_are_copied)
{
    char needle[] = "abc";
    const char *args[] = { needle };
    sl_func_t *f = sl_tcompile("contains", args, 1, SL_FN_FILTER, NULL);
    memcpy(needle, "xyz", 3);
    sl_record_t in = { NULL, 0, sl_tv("b:--abc--") };
    ck_assert(sl_func_filter(f, &in));
    sl_func_free(f);
}
END_TEST

/* --- reducers ---------------------------------------------------------------- */

typedef struct {
    const char *fn;
    const char *arg;         /* NULL: no argument */
    const char *values;      /* specs separated by ';' */
    const char *want;
} sl_reduce_case_t;

static const sl_reduce_case_t sl_reduce_cases[] = {
    { "sum", NULL, "i:1;i:2;i:3", "i:6" },
    { "sum", NULL, "i:7", "i:7" },
    { "sum", NULL, "i:-5;i:5", "i:0" },
    { "sum", NULL, "i:1;d:0.5", "d:1.5" },
    { "sum", NULL, "d:0.5;i:1;i:2", "d:3.5" },
    { "sum", NULL, "n;i:2;n", "i:2" },
    { "sum", NULL, "n;n", "n" },
    { "sum", NULL, "i:9223372036854775806;i:1", "i:9223372036854775807" },
    { "sum", NULL, "i:-9223372036854775807;i:-1", "i:-9223372036854775808" },
    { "sum", NULL, "d:1e308;d:1e308", "d:inf" },
    { "count", NULL, "b:a;n;i:3", "i:3" },
    { "count", NULL, "n", "i:1" },
    { "count", NULL, "b:a;b:a;b:a;b:a;b:a", "i:5" },
    { "min", NULL, "i:3;i:1;i:2", "i:1" },
    { "min", NULL, "d:2.5;i:2;i:3", "i:2" },
    { "min", NULL, "i:-1;d:-1.5", "d:-1.5" },
    { "min", NULL, "i:1;d:1", "i:1" },                   /* ties keep the first */
    { "min", NULL, "b:pear;b:apple;b:zoo", "b:apple" },
    { "min", NULL, "b:ab;b:a", "b:a" },
    { "min", NULL, "i:10;b:9", "i:10" },                 /* "10" < "9" as text */
    { "min", NULL, "n;b:x;n", "b:x" },
    { "min", NULL, "n;n", "n" },
    { "min", NULL, "L:i:2|i:1;L:i:1|i:9", "L:[1, 9]" },
    { "max", NULL, "i:3;i:1;i:2", "i:3" },
    { "max", NULL, "d:1.5;i:1", "d:1.5" },
    { "max", NULL, "i:-9223372036854775808;i:9223372036854775807", "i:9223372036854775807" },
    { "max", NULL, "b:pear;b:apple;b:zoo", "b:zoo" },
    { "max", NULL, "b:a;b:ab", "b:ab" },
    { "max", NULL, "b:\xff;b:a", "b:\xff" },             /* bytes compare unsigned */
    { "max", NULL, "n;n;i:-7", "i:-7" },
    { "concat", NULL, "b:a;b:b;b:c", "b:abc" },
    { "concat", NULL, "b:a;i:1;d:0.5", "b:a10.5" },
    { "concat", NULL, "n;b:x;n;b:y", "b:xy" },
    { "concat", NULL, "n;n", "n" },
    { "concat", NULL, "i:1", "b:1" },
    { "concat", NULL, "L:i:1|i:2;b:!", "b:[1, 2]!" },
    { "concat", NULL, "b:;b:", "b:" },
    { "concat", "-", "b:a;b:b;b:c", "b:a-b-c" },
    { "concat", "-", "b:;b:", "b:-" },
    { "concat", "-", "b:x", "b:x" },
    { "concat", "-", "n;b:x;n;b:y", "b:x-y" },
    { "concat", ", ", "i:1;i:2", "b:1, 2" },
    { "concat", "", "b:a;b:b", "b:ab" },
};

/* Splits "a;b;c" into value specs (at most 8). */
static size_t sl_tsplit_values(const char *s, char specs[8][64])
{
    size_t n = 0;
    while (*s) {
        size_t len = strcspn(s, ";");
        ck_assert_uint_lt(n, 8);
        ck_assert_uint_lt(len, 64);
        memcpy(specs[n], s, len);
        specs[n++][len] = '\0';
        s += len + (s[len] == ';');
    }
    return n;
}

sl_status_t sl_tfold(const sl_func_t *f, const sl_value_t *v, size_t from, size_t to,
                     sl_value_t *acc, char *err)
{
    sl_status_t st = sl_func_reduce_init(f, &v[from], acc, sl_ta, err);
    for (size_t i = from + 1; st == SL_OK && i < to; i++)
        st = sl_func_reduce_combine(f, acc, &v[i], acc, sl_ta, err);
    return st;
}

START_TEST(test_reduce)
{
    const sl_reduce_case_t *c = &sl_reduce_cases[_i];
    sl_func_t *f = sl_tcompile(c->fn, &c->arg, c->arg ? 1 : 0, SL_FN_REDUCE, NULL);
    char specs[8][64], err[SL_ERRMSG_LEN] = "";
    sl_value_t v[8], acc, left, right;
    size_t n = sl_tsplit_values(c->values, specs);
    for (size_t i = 0; i < n; i++)
        v[i] = sl_tv(specs[i]);
    ck_assert_msg(sl_tfold(f, v, 0, n, &acc, err) == SL_OK, "%s: %s", c->fn, err);
    ck_assert_msg(strcmp(sl_ts(&acc), c->want) == 0, "%s over %s gave '%s', want '%s'", c->fn,
                  c->values, sl_ts(&acc), c->want);
    for (size_t k = 1; k < n; k++) {            /* map-side combining at every split point */
        ck_assert_int_eq(sl_tfold(f, v, 0, k, &left, err), SL_OK);
        ck_assert_int_eq(sl_tfold(f, v, k, n, &right, err), SL_OK);
        ck_assert_msg(sl_func_reduce_merge(f, &left, &right, &acc, sl_ta, err) == SL_OK, "%s", err);
        ck_assert_msg(strcmp(sl_ts(&acc), c->want) == 0, "%s over %s split at %zu gave '%s'",
                      c->fn, c->values, k, sl_ts(&acc));
    }
    sl_func_free(f);
}
END_TEST

typedef struct {
    const char *fn;
    const char *values;
    const char *err_has;
} sl_reduce_bad_t;

static const sl_reduce_bad_t sl_reduce_bad[] = {
    { "sum", "i:9223372036854775807;i:1",
      "sum: integer overflow adding 9223372036854775807 and 1" },
    { "sum", "i:-9223372036854775808;i:-1", "integer overflow" },
    { "sum", "b:abc", "sum: 'abc' is bytes, not a number" },
    { "sum", "i:1;b:x", "'x' is bytes, not a number (convert with to_int or to_double first)" },
    { "sum", "n;b:", "sum: a bytes value is not a number" },
    { "sum", "L:i:1", "sum: a list value is not a number" },
    { "sum", "i:1;T:i:1", "a tuple value is not a number" },
};

START_TEST(test_reduce_errors)
{
    const sl_reduce_bad_t *c = &sl_reduce_bad[_i];
    sl_func_t *f = sl_tcompile(c->fn, NULL, 0, SL_FN_REDUCE, NULL);
    char specs[8][64], err[SL_ERRMSG_LEN] = "";
    sl_value_t v[8], acc;
    size_t n = sl_tsplit_values(c->values, specs);
    for (size_t i = 0; i < n; i++)
        v[i] = sl_tv(specs[i]);
    ck_assert_int_eq(sl_tfold(f, v, 0, n, &acc, err), SL_ERR_INVALID);
    SL_CK_CONTAINS(err, c->err_has);
    sl_func_free(f);
}
END_TEST

START_TEST(test_reduce_merge_errors)
{
    char err[SL_ERRMSG_LEN] = "";
    sl_value_t out, big = sl_val_int(INT64_MAX), one = sl_val_int(1), word = sl_tv("b:x");
    sl_func_t *sum = sl_tcompile("sum", NULL, 0, SL_FN_REDUCE, NULL);
    sl_func_t *count = sl_tcompile("count", NULL, 0, SL_FN_REDUCE, NULL);
    ck_assert_int_eq(sl_func_reduce_merge(sum, &big, &one, &out, sl_ta, err), SL_ERR_INVALID);
    SL_CK_CONTAINS(err, "integer overflow");
    ck_assert_int_eq(sl_func_reduce_merge(count, &big, &one, &out, sl_ta, err), SL_ERR_INVALID);
    ck_assert_int_eq(sl_func_reduce_merge(count, &one, &word, &out, sl_ta, err), SL_ERR_INVALID);
    SL_CK_CONTAINS(err, "count: bad accumulator");
    ck_assert_int_eq(sl_func_reduce_combine(count, &word, &one, &out, sl_ta, err), SL_ERR_INVALID);
    ck_assert_int_eq(sl_func_reduce_init(count, &word, &out, sl_ta, err), SL_OK);
    ck_assert_str_eq(sl_ts(&out), "i:1");
    /* A reducer called as a map is refused, not crashed. */
    sl_record_t r = { NULL, 0, one }, o;
    ck_assert_int_eq(sl_func_map(sum, &r, &o, sl_ta, err), SL_ERR_INVALID);
    ck_assert_str_eq(err, "'sum' is a reducer, not a map function");
    sl_func_free(sum);
    sl_func_free(count);
}
END_TEST

/* An accumulator must stay valid after the input it came from is gone. */
START_TEST(test_accumulators_do_not_borrow)
{
    const char *dash[] = { "-" };
    struct { const char *fn; size_t nargs; const char *first, *second, *want; } cases[] = {
        { "min", 0, "zzz", "aaa", "b:aaa" },
        { "max", 0, "aaa", "zzz", "b:zzz" },
        { "concat", 1, "ab", "cd", "b:ab-cd" },
        { "concat", 0, "ab", "cd", "b:abcd" },
    };
    for (size_t i = 0; i < SL_NELEM(cases); i++) {
        sl_func_t *f = sl_tcompile(cases[i].fn, dash, cases[i].nargs, SL_FN_REDUCE, NULL);
        char buf[16], err[SL_ERRMSG_LEN] = "";
        sl_value_t acc, v;
        strcpy(buf, cases[i].first);
        v = sl_val_bytes(buf, strlen(buf));
        ck_assert_int_eq(sl_func_reduce_init(f, &v, &acc, sl_ta, err), SL_OK);
        memset(buf, '#', sizeof buf);
        strcpy(buf, cases[i].second);
        ck_assert_int_eq(sl_func_reduce_combine(f, &acc, &v, &acc, sl_ta, err), SL_OK);
        memset(buf, '#', sizeof buf);
        ck_assert_str_eq(sl_ts(&acc), cases[i].want);
        sl_func_free(f);
    }
    /* A list kept by min is copied too. */
    sl_func_t *f = sl_tcompile("min", NULL, 0, SL_FN_REDUCE, NULL);
    sl_value_t list = sl_tv("L:i:1|i:2"), acc;
    ck_assert_int_eq(sl_func_reduce_init(f, &list, &acc, sl_ta, NULL), SL_OK);
    memset(sl_tbufs[sl_ntbufs - 1].p, 0xff, sl_tbufs[sl_ntbufs - 1].len);
    ck_assert_str_eq(sl_ts(&acc), "L:[1, 2]");
    sl_func_free(f);
}
END_TEST

/* --- compiling --------------------------------------------------------------- */

typedef struct {
    const char *name;
    const char *args[2];
    size_t nargs;
    sl_fn_kind_t want;
    const char *err;         /* the whole message, or a part of it ending in '~' */
} sl_compile_bad_t;

static const sl_compile_bad_t sl_compile_bad[] = {
    { "field", { "1" }, 1, SL_FN_MAP, "field expects 2 arguments (n, sep), got 1" },
    { "field", { 0 }, 0, SL_FN_MAP, "field expects 2 arguments (n, sep), got 0" },
    { "field", { "-1", "," }, 2, SL_FN_MAP, "field: '-1' is not a field number~" },
    { "field", { "x", "," }, 2, SL_FN_MAP, "field: 'x' is not a field number~" },
    { "field", { "1.5", "," }, 2, SL_FN_MAP, "field: '1.5' is not a field number~" },
    { "field", { "", "," }, 2, SL_FN_MAP, "field: '' is not a field number~" },
    { "field", { " 1", "," }, 2, SL_FN_MAP, "field: ' 1' is not a field number~" },
    { "field", { "99999999", "," }, 2, SL_FN_MAP, "field: '99999999' is not a field number~" },
    { "field", { "1", "" }, 2, SL_FN_MAP, "field: the separator must not be empty" },
    { "key_by_field", { "1" }, 1, SL_FN_KEY, "key_by_field expects 2 arguments (n, sep), got 1" },
    { "key_by_field", { "a", "," }, 2, SL_FN_MAP, "key_by_field: 'a' is not a field number~" },
    { "split", { ",", "x" }, 2, SL_FN_FLAT_MAP, "split expects 0 or 1 arguments ([sep]), got 2" },
    { "split", { "" }, 1, SL_FN_FLAT_MAP, "split: the separator must not be empty" },
    { "lower", { "x" }, 1, SL_FN_MAP, "lower expects no arguments, got 1" },
    { "sum", { "x" }, 1, SL_FN_REDUCE, "sum expects no arguments, got 1" },
    { "contains", { 0 }, 0, SL_FN_FILTER, "contains expects 1 argument (s), got 0" },
    { "matches", { "(" }, 1, SL_FN_FILTER, "matches: bad regular expression '(': ~" },
    { "matches", { "a{2,1}" }, 1, SL_FN_FILTER, "matches: bad regular expression 'a{2,1}': ~" },
    { "matches", { "a", "b" }, 2, SL_FN_FILTER, "matches expects 1 argument (regex), got 2" },
    { "concat", { "a", "b" }, 2, SL_FN_REDUCE, "concat expects 0 or 1 arguments ([sep]), got 2" },
    { "sum", { 0 }, 0, SL_FN_MAP, "'sum' is a reducer, not a map function" },
    { "count", { 0 }, 0, SL_FN_FILTER, "'count' is a reducer, not a filter" },
    { "lower", { 0 }, 0, SL_FN_REDUCE, "'lower' is a map function, not a reducer" },
    { "split", { 0 }, 0, SL_FN_MAP, "'split' is a flat_map function, not a map function" },
    { "contains", { "x" }, 1, SL_FN_MAP, "'contains' is a filter, not a map function" },
    { "key_by_field", { "0", "," }, 2, SL_FN_FILTER,
      "'key_by_field' is a key function, not a filter" },
    { "pair_one", { 0 }, 0, SL_FN_KEY, "'pair_one' is a map function, not a key function" },
    { "lower", { 0 }, 0, SL_FN_FLAT_MAP, "'lower' is a map function, not a flat_map function" },
    { "nosuch", { 0 }, 0, SL_FN_MAP, "unknown function 'nosuch'" },
    { "Lower", { 0 }, 0, SL_FN_MAP, "unknown function 'Lower'" },
    { "", { 0 }, 0, SL_FN_MAP, "empty function name" },
    { "contains", { NULL }, 1, SL_FN_FILTER, "contains: argument 1 is missing" },
};

START_TEST(test_compile_errors)
{
    const sl_compile_bad_t *c = &sl_compile_bad[_i];
    sl_func_t *f = (sl_func_t *)&f;             /* must not be written on error */
    char err[SL_ERRMSG_LEN] = "";
    sl_status_t st = sl_func_compile(c->name, c->args, c->nargs, c->want, NULL, &f, err);
    ck_assert_msg(st == SL_ERR_INVALID, "'%s' compiled (%s)", c->name, sl_strerror(st));
    ck_assert_ptr_eq(f, (sl_func_t *)&f);
    size_t n = strlen(c->err);
    if (c->err[n - 1] == '~')
        ck_assert_msg(strncmp(err, c->err, n - 1) == 0, "'%s' does not start with '%.*s'", err,
                      (int)n - 1, c->err);
    else
        ck_assert_str_eq(err, c->err);
}
END_TEST

START_TEST(test_compile_kinds)
{
    const char *args[] = { "0", "," };
    sl_func_t *f = sl_tcompile("key_by_field", args, 2, SL_FN_MAP, NULL);
    ck_assert_int_eq(sl_func_kind(f), SL_FN_KEY);
    ck_assert_str_eq(sl_func_name(f), "key_by_field");
    sl_func_free(f);
    f = sl_tcompile("key_by_field", args, 2, SL_FN_KEY, NULL);
    sl_func_free(f);
    f = sl_tcompile("split", NULL, 0, SL_FN_FLAT_MAP, NULL);
    ck_assert_int_eq(sl_func_kind(f), SL_FN_FLAT_MAP);
    ck_assert_str_eq(sl_func_name(f), "split");
    sl_func_free(f);
    sl_func_free(NULL);
}
END_TEST

/* --- the catalogue ----------------------------------------------------------- */

START_TEST(test_catalogue)
{
    static const struct { const char *name; sl_fn_kind_t kind; } want[] = {
        { "split", SL_FN_FLAT_MAP }, { "lower", SL_FN_MAP }, { "upper", SL_FN_MAP },
        { "trim", SL_FN_MAP }, { "pair_one", SL_FN_MAP }, { "field", SL_FN_MAP },
        { "key_by_field", SL_FN_KEY }, { "to_int", SL_FN_MAP }, { "to_double", SL_FN_MAP },
        { "to_string", SL_FN_MAP }, { "identity", SL_FN_MAP }, { "contains", SL_FN_FILTER },
        { "starts_with", SL_FN_FILTER }, { "ends_with", SL_FN_FILTER }, { "matches", SL_FN_FILTER },
        { "nonempty", SL_FN_FILTER }, { "not_null", SL_FN_FILTER }, { "sum", SL_FN_REDUCE },
        { "count", SL_FN_REDUCE }, { "min", SL_FN_REDUCE }, { "max", SL_FN_REDUCE },
        { "concat", SL_FN_REDUCE },
    };
    ck_assert_uint_eq(sl_builtin_count(), SL_NELEM(want));
    for (size_t i = 0; i < SL_NELEM(want); i++) {
        const sl_builtin_info_t *b = sl_builtin_find(want[i].name);
        ck_assert_msg(b != NULL, "'%s' is not in the catalogue", want[i].name);
        ck_assert_str_eq(b->name, want[i].name);
        ck_assert_int_eq(b->kind, want[i].kind);
    }
    /* Every entry is described and compiles as its own kind with its fewest
     * arguments (a field number and a separator fit every function). */
    const char *args[] = { "1", "," };
    for (size_t i = 0; i < sl_builtin_count(); i++) {
        const sl_builtin_info_t *b = sl_builtin_info(i);
        ck_assert_ptr_eq(sl_builtin_find(b->name), b);
        ck_assert_msg(strncmp(b->signature, b->name, strlen(b->name)) == 0, "%s", b->signature);
        ck_assert_msg(strlen(b->doc) > 10, "%s has no doc", b->name);
        size_t nargs = strchr(b->signature, '[') ? 0 : strchr(b->signature, ',') ? 2
                       : strchr(b->signature, '(') ? 1 : 0;
        sl_func_free(sl_tcompile(b->name, args, nargs, b->kind, NULL));
    }
    ck_assert_ptr_null(sl_builtin_info(sl_builtin_count()));
    ck_assert_ptr_null(sl_builtin_find("nope"));
    ck_assert_ptr_null(sl_builtin_find(NULL));
    ck_assert_str_eq(sl_fn_kind_name(SL_FN_MAP), "map");
    ck_assert_str_eq(sl_fn_kind_name(SL_FN_FLAT_MAP), "flat_map");
    ck_assert_str_eq(sl_fn_kind_name(SL_FN_FILTER), "filter");
    ck_assert_str_eq(sl_fn_kind_name(SL_FN_REDUCE), "reducer");
    ck_assert_str_eq(sl_fn_kind_name(SL_FN_KEY), "key");
    ck_assert_str_eq(sl_fn_kind_name((sl_fn_kind_t)99), "unknown");
}
END_TEST

/* --- many threads, one compiled function ------------------------------------- */

typedef struct {
    const sl_func_t *lower, *matches, *field, *min;
    int failures;
} sl_thread_arg_t;

static void *sl_thread_main(void *p)
{
    sl_thread_arg_t *t = p;
    sl_arena_t *a = sl_arena_new(0);
    for (int i = 0; i < 5000 && a; i++) {
        sl_record_t in = { NULL, 0, sl_val_bytes("HeLLo", 5) }, num = { NULL, 0, sl_val_int(i) };
        sl_record_t out;
        sl_value_t x = sl_val_double(i + 0.5), y = sl_val_bytes("w", 1), m;
        if (sl_func_map(t->lower, &in, &out, a, NULL) != SL_OK || out.val.u.b.len != 5 ||
            memcmp(out.val.u.b.p, "hello", 5) != 0)
            t->failures++;
        if (sl_func_filter(t->matches, &num) != (i % 10 == 7))
            t->failures++;
        if (sl_func_map(t->field, &num, &out, a, NULL) != SL_OK || out.val.type != SL_VAL_BYTES)
            t->failures++;
        if (sl_func_reduce_combine(t->min, &y, &x, &m, a, NULL) != SL_OK || m.type != SL_VAL_DOUBLE)
            t->failures++;                      /* "12.5" < "w" as text */
        if (i % 500 == 0)
            sl_arena_reset(a);
    }
    if (!a)
        t->failures++;
    sl_arena_free(a);
    return NULL;
}

START_TEST(test_threads_share_functions)
{
    const char *re[] = { "7$" }, *fa[] = { "0", "." };
    sl_thread_arg_t arg = {
        sl_tcompile("lower", NULL, 0, SL_FN_MAP, NULL),
        sl_tcompile("matches", re, 1, SL_FN_FILTER, NULL),
        sl_tcompile("field", fa, 2, SL_FN_MAP, NULL),
        sl_tcompile("min", NULL, 0, SL_FN_REDUCE, NULL),
        0,
    };
    sl_thread_arg_t args[4];
    pthread_t th[4];
    for (int i = 0; i < 4; i++) {
        args[i] = arg;
        ck_assert_int_eq(pthread_create(&th[i], NULL, sl_thread_main, &args[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        ck_assert_int_eq(args[i].failures, 0);
    }
    sl_func_free((sl_func_t *)arg.lower);
    sl_func_free((sl_func_t *)arg.matches);
    sl_func_free((sl_func_t *)arg.field);
    sl_func_free((sl_func_t *)arg.min);
}
END_TEST

Suite *sl_test_funcs_suite(void)
{
    Suite *s = suite_create("funcs");
    TCase *tb = tcase_create("builtins");
    tcase_add_checked_fixture(tb, sl_tsetup, sl_tteardown);
    tcase_add_loop_test(tb, test_map, 0, SL_NELEM(sl_map_cases));
    tcase_add_test(tb, test_map_output_survives_next_call);
    tcase_add_loop_test(tb, test_split, 0, SL_NELEM(sl_split_cases));
    tcase_add_test(tb, test_split_emit_failure);
    tcase_add_loop_test(tb, test_filter, 0, SL_NELEM(sl_filter_cases));
    tcase_add_test(tb, test_filter_binary_text);
    tcase_add_test(tb, test_args_are_copied);
    tcase_add_loop_test(tb, test_reduce, 0, SL_NELEM(sl_reduce_cases));
    tcase_add_loop_test(tb, test_reduce_errors, 0, SL_NELEM(sl_reduce_bad));
    tcase_add_test(tb, test_reduce_merge_errors);
    tcase_add_test(tb, test_accumulators_do_not_borrow);
    tcase_add_loop_test(tb, test_compile_errors, 0, SL_NELEM(sl_compile_bad));
    tcase_add_test(tb, test_compile_kinds);
    tcase_add_test(tb, test_catalogue);
    tcase_add_test(tb, test_threads_share_functions);
    suite_add_tcase(s, tb);
    return s;
}
