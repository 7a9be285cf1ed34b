/* Tests for common/block.c: value and record round trips (nested lists and
 * tuples, edges), text rendering and escaping, blocks and their corruption. */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <xxhash.h>
#include "block.h"
#include "unit.h"

/* --- helpers ----------------------------------------------------------------- */

/* The rendering of v as a malloc'ed C string. */
static char *sl_fmt_str(const sl_value_t *v)
{
    sl_buf_t b = {0};
    ck_assert_int_eq(sl_value_format(&b, v), SL_OK);
    ck_assert_int_eq(sl_buf_append_u8(&b, 0), SL_OK);
    return (char *)sl_buf_take(&b, NULL);
}

static void sl_check_fmt(const sl_value_t *v, const char *want)
{
    char *s = sl_fmt_str(v);
    ck_assert_str_eq(s, want);
    free(s);
}

static void sl_check_line(const sl_record_t *r, const char *want)
{
    sl_buf_t b = {0};
    ck_assert_int_eq(sl_record_format_line(&b, r), SL_OK);
    ck_assert_int_eq(sl_buf_append_u8(&b, 0), SL_OK);
    ck_assert_str_eq((char *)b.p, want);
    sl_buf_free(&b);
}

/* Encodes v, decodes it from an exact-size copy and checks equality and the
 * bytes consumed. Every shorter prefix must fail to decode. */
static void sl_check_round_trip(const sl_value_t *v)
{
    sl_buf_t b = {0};
    ck_assert_int_eq(sl_value_encode(&b, v), SL_OK);
    uint8_t *copy = malloc(b.len);
    memcpy(copy, b.p, b.len);
    const uint8_t *p = copy;
    sl_value_t got;
    ck_assert(sl_value_decode(&p, copy + b.len, &got));
    ck_assert_ptr_eq(p, copy + b.len);
    ck_assert(sl_value_eq(&got, v));
    ck_assert(sl_value_eq(v, &got));
    ck_assert_int_eq(got.type, v->type);
    for (size_t n = 0; n < b.len; n++) {
        p = copy;
        ck_assert_msg(!sl_value_decode(&p, copy + n, &got), "prefix of %zu bytes decoded", n);
        ck_assert_ptr_eq(p, copy);
    }
    free(copy);
    sl_buf_free(&b);
}

static sl_value_t sl_str(const char *s)
{
    return sl_val_bytes(s, strlen(s));
}

/* Encodes `n` values into `elems` (cleared first) and returns the list. */
static sl_value_t sl_make_list(sl_val_type_t type, sl_buf_t *elems, const sl_value_t *vals,
                               uint32_t n)
{
    sl_buf_reset(elems);
    for (uint32_t i = 0; i < n; i++)
        ck_assert_int_eq(sl_value_encode(elems, &vals[i]), SL_OK);
    return sl_val_list(type, elems, n);
}

/* `depth` lists around an int; bufs must have `depth` entries. */
static sl_value_t sl_make_nested(sl_buf_t *bufs, int depth)
{
    sl_value_t v = sl_val_int(7);
    for (int i = 0; i < depth; i++)
        v = sl_make_list(i % 2 ? SL_VAL_TUPLE : SL_VAL_LIST, &bufs[i], &v, 1);
    return v;
}

/* A small block: three records of different shapes. Caller frees. */
static uint8_t *sl_small_block(size_t *len)
{
    sl_block_builder_t bb;
    sl_bb_init(&bb);
    sl_buf_t elems = {0};
    const sl_value_t two[] = {sl_val_int(1), sl_str("x")};
    const sl_record_t recs[] = {
        {.key = (const uint8_t *)"k1", .key_len = 2, .val = sl_str("hello")},
        {.key = NULL, .key_len = 0, .val = sl_val_double(2.5)},
        {.key = (const uint8_t *)"k3", .key_len = 2,
         .val = sl_make_list(SL_VAL_TUPLE, &elems, two, 2)},
    };
    for (size_t i = 0; i < 3; i++)
        ck_assert_int_eq(sl_bb_add(&bb, &recs[i]), SL_OK);
    uint8_t *blk;
    ck_assert_int_eq(sl_bb_finish(&bb, &blk, len), SL_OK);
    sl_bb_free(&bb);
    sl_buf_free(&elems);
    return blk;
}

/* Iterates a block to the end; returns the last result (0 or -1) and the
 * number of records read. Every record is also formatted, to touch it all. */
static int sl_drain(sl_block_iter_t *it, uint32_t *nrec)
{
    sl_record_t r;
    sl_buf_t line = {0};
    int rc;
    *nrec = 0;
    while ((rc = sl_block_next(it, &r)) == 1) {
        (*nrec)++;
        sl_buf_reset(&line);
        ck_assert_int_eq(sl_record_format_line(&line, &r), SL_OK);
    }
    sl_buf_free(&line);
    return rc;
}

static void sl_put_le32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void sl_put_le64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* --- values --------------------------------------------------------------------- */

START_TEST(test_scalar_round_trips)
{
    const sl_value_t vals[] = {
        sl_val_null(),
        sl_val_int(0),
        sl_val_int(1),
        sl_val_int(-1),
        sl_val_int(INT64_MIN),
        sl_val_int(INT64_MAX),
        sl_val_double(0.1),
        sl_val_double(1e300),
        sl_val_double(-0.0),
        sl_val_double(1.5),
        sl_val_double(NAN),
        sl_val_double(INFINITY),
        sl_val_double(-INFINITY),
        sl_val_double(DBL_MIN),
        sl_val_double(5e-324),
        sl_val_bytes(NULL, 0),
        sl_val_bytes("", 0),
        sl_val_bytes("a\0b", 3),
        sl_str("hello"),
    };
    for (size_t i = 0; i < sizeof vals / sizeof *vals; i++)
        sl_check_round_trip(&vals[i]);

    char big[300];
    memset(big, 'z', sizeof big);
    sl_value_t bv = sl_val_bytes(big, sizeof big);    /* two-byte length */
    sl_check_round_trip(&bv);
}
END_TEST

START_TEST(test_exact_encodings)
{
    sl_buf_t b = {0};
    sl_value_t v = sl_val_int(-2);
    ck_assert_int_eq(sl_value_encode(&b, &v), SL_OK);
    const uint8_t want_int[] = {1, 0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    ck_assert_uint_eq(b.len, sizeof want_int);
    ck_assert_mem_eq(b.p, want_int, sizeof want_int);

    sl_buf_reset(&b);
    sl_record_t r = {.key = (const uint8_t *)"ab", .key_len = 2, .val = sl_str("xyz")};
    ck_assert_int_eq(sl_record_encode(&b, &r), SL_OK);
    const uint8_t want_rec[] = {2, 'a', 'b', 3, 3, 'x', 'y', 'z'};
    ck_assert_uint_eq(b.len, sizeof want_rec);
    ck_assert_mem_eq(b.p, want_rec, sizeof want_rec);

    sl_buf_reset(&b);
    sl_value_t n = sl_val_null();
    ck_assert_int_eq(sl_value_encode(&b, &n), SL_OK);
    ck_assert_uint_eq(b.len, 1);
    ck_assert_uint_eq(b.p[0], 0);

    /* Unknown type: refused, nothing written. */
    sl_buf_reset(&b);
    sl_value_t bad = {.type = (sl_val_type_t)9};
    ck_assert_int_eq(sl_value_encode(&b, &bad), SL_ERR_INVALID);
    sl_record_t rbad = {.val = bad};
    ck_assert_int_eq(sl_record_encode(&b, &rbad), SL_ERR_INVALID);
    ck_assert_uint_eq(b.len, 0);
    sl_buf_free(&b);
}
END_TEST

START_TEST(test_double_bits_survive)
{
    sl_buf_t b = {0};
    sl_value_t v = sl_val_double(-0.0), got;
    ck_assert_int_eq(sl_value_encode(&b, &v), SL_OK);
    const uint8_t *p = b.p;
    ck_assert(sl_value_decode(&p, b.p + b.len, &got));
    ck_assert(signbit(got.u.d));
    sl_buf_reset(&b);
    v = sl_val_double(NAN);
    ck_assert_int_eq(sl_value_encode(&b, &v), SL_OK);
    p = b.p;
    ck_assert(sl_value_decode(&p, b.p + b.len, &got));
    ck_assert(isnan(got.u.d));
    sl_buf_free(&b);
}
END_TEST

START_TEST(test_record_round_trips)
{
    sl_buf_t b = {0}, elems = {0};
    const sl_value_t three[] = {sl_val_null(), sl_val_int(3), sl_str("")};
    const sl_record_t recs[] = {
        {.key = NULL, .key_len = 0, .val = sl_val_bytes(NULL, 0)},
        {.key = (const uint8_t *)"", .key_len = 0, .val = sl_val_null()},
        {.key = (const uint8_t *)"key", .key_len = 3, .val = sl_val_int(INT64_MIN)},
        {.key = (const uint8_t *)"k\0y", .key_len = 3, .val = sl_val_double(1e-300)},
        {.key = (const uint8_t *)"lst", .key_len = 3,
         .val = sl_make_list(SL_VAL_LIST, &elems, three, 3)},
    };
    size_t n = sizeof recs / sizeof *recs;
    for (size_t i = 0; i < n; i++)
        ck_assert_int_eq(sl_record_encode(&b, &recs[i]), SL_OK);
    const uint8_t *p = b.p, *end = b.p + b.len;
    for (size_t i = 0; i < n; i++) {
        sl_record_t got;
        ck_assert(sl_record_decode(&p, end, &got));
        ck_assert_uint_eq(got.key_len, recs[i].key_len);
        if (got.key_len)
            ck_assert_mem_eq(got.key, recs[i].key, got.key_len);
        ck_assert(sl_value_eq(&got.val, &recs[i].val));
    }
    ck_assert_ptr_eq(p, end);
    sl_record_t got;
    ck_assert(!sl_record_decode(&p, end, &got));
    sl_buf_free(&b);
    sl_buf_free(&elems);
}
END_TEST

START_TEST(test_nested_lists_and_tuples)
{
    sl_buf_t e_pair = {0}, e_empty = {0}, e_d1 = {0}, e_d2 = {0}, e_d3 = {0}, e_top = {0};
    const sl_value_t pair[] = {sl_val_double(2.5), sl_val_null()};
    sl_value_t tup = sl_make_list(SL_VAL_TUPLE, &e_pair, pair, 2);
    sl_value_t empty = sl_make_list(SL_VAL_LIST, &e_empty, NULL, 0);
    sl_value_t deep = sl_str("deep");
    deep = sl_make_list(SL_VAL_LIST, &e_d1, &deep, 1);
    deep = sl_make_list(SL_VAL_LIST, &e_d2, &deep, 1);
    deep = sl_make_list(SL_VAL_LIST, &e_d3, &deep, 1);
    const sl_value_t top_elems[] = {sl_val_int(1), sl_str("a"), tup, empty, deep};
    sl_value_t top = sl_make_list(SL_VAL_LIST, &e_top, top_elems, 5);

    sl_check_round_trip(&tup);
    sl_check_round_trip(&empty);
    sl_check_round_trip(&deep);
    sl_check_round_trip(&top);
    sl_check_fmt(&top, "[1, a, (2.5, null), [], [[[deep]]]]");
    sl_check_fmt(&empty, "[]");
    sl_value_t empty_tuple = sl_val_list(SL_VAL_TUPLE, &e_empty, 0);
    sl_check_fmt(&empty_tuple, "()");
    sl_check_round_trip(&empty_tuple);
    ck_assert(!sl_value_eq(&empty, &empty_tuple));

    /* Decode, then walk the decoded list element by element. */
    sl_buf_t b = {0};
    ck_assert_int_eq(sl_value_encode(&b, &top), SL_OK);
    const uint8_t *p = b.p;
    sl_value_t got, elem;
    ck_assert(sl_value_decode(&p, b.p + b.len, &got));
    ck_assert_int_eq(got.type, SL_VAL_LIST);
    ck_assert_uint_eq(got.u.list.n, 5);
    sl_list_iter_t it;
    sl_list_iter_init(&it, &got);
    for (size_t i = 0; i < 5; i++) {
        ck_assert_int_eq(sl_list_next(&it, &elem), 1);
        ck_assert(sl_value_eq(&elem, &top_elems[i]));
    }
    ck_assert_int_eq(sl_list_next(&it, &elem), 0);
    ck_assert_int_eq(sl_list_next(&it, &elem), 0);

    /* A scalar walks as an empty list. */
    sl_value_t scalar = sl_val_int(5);
    sl_list_iter_init(&it, &scalar);
    ck_assert_int_eq(sl_list_next(&it, &elem), 0);

    sl_buf_free(&b);
    sl_buf_free(&e_pair);
    sl_buf_free(&e_empty);
    sl_buf_free(&e_d1);
    sl_buf_free(&e_d2);
    sl_buf_free(&e_d3);
    sl_buf_free(&e_top);
}
END_TEST

START_TEST(test_nesting_depth_cap)
{
    sl_buf_t bufs[SL_VAL_MAX_DEPTH + 1] = {{0}};
    sl_value_t ok = sl_make_nested(bufs, SL_VAL_MAX_DEPTH);
    sl_check_round_trip(&ok);
    char *s = sl_fmt_str(&ok);
    ck_assert_uint_eq(strlen(s), 2 * SL_VAL_MAX_DEPTH + 1);
    free(s);

    sl_value_t too_deep = sl_make_nested(bufs, SL_VAL_MAX_DEPTH + 1);
    sl_buf_t b = {0};
    ck_assert_int_eq(sl_value_encode(&b, &too_deep), SL_OK);    /* encoding does not check */
    const uint8_t *p = b.p;
    sl_value_t got;
    ck_assert(!sl_value_decode(&p, b.p + b.len, &got));
    ck_assert_ptr_eq(p, b.p);
    /* Nor does it format; b is left as it was. */
    sl_buf_reset(&b);
    ck_assert_int_eq(sl_buf_append(&b, "x", 1), SL_OK);
    ck_assert_int_eq(sl_value_format(&b, &too_deep), SL_ERR_INVALID);
    ck_assert_uint_eq(b.len, 1);
    sl_record_t r = {.key = (const uint8_t *)"k", .key_len = 1, .val = too_deep};
    ck_assert_int_eq(sl_record_format_line(&b, &r), SL_ERR_INVALID);
    ck_assert_uint_eq(b.len, 1);
    sl_buf_free(&b);
    for (int i = 0; i <= SL_VAL_MAX_DEPTH; i++)
        sl_buf_free(&bufs[i]);
}
END_TEST

/* Each case: raw bytes that must not decode as a value. */
START_TEST(test_malformed_values)
{
    static const struct {
        const char *what;
        uint8_t bytes[16];
        size_t len;
    } cases[] = {
        {"empty", {0}, 0},
        {"unknown type 6", {6}, 1},
        {"unknown type 0xff", {0xff, 0, 0, 0, 0, 0, 0, 0, 0}, 9},
        {"int truncated", {1, 1, 2, 3, 4, 5, 6, 7}, 8},
        {"double truncated", {2, 0}, 2},
        {"bytes length past end", {3, 5, 'a', 'b'}, 4},
        {"bytes length varint truncated", {3, 0x80}, 2},
        {"bytes length overlong",
         {3, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f}, 11},
        {"list count > body", {4, 3, 2, 0, 0}, 5},
        {"list count too small", {4, 1, 2, 0, 0}, 5},
        {"list element truncated", {4, 2, 2, 1, 0}, 5},
        {"list body past end", {4, 1, 9, 0}, 4},
        {"list element malformed", {4, 1, 2, 3, 1}, 5},
        {"list element unknown type", {5, 1, 1, 7}, 4},
        {"list count above 32 bits", {4, 0x80, 0x80, 0x80, 0x80, 0x10, 0}, 7},
        {"list length missing", {4, 0}, 2},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        uint8_t *copy = malloc(cases[i].len ? cases[i].len : 1);
        memcpy(copy, cases[i].bytes, cases[i].len);
        const uint8_t *p = copy;
        sl_value_t v;
        ck_assert_msg(!sl_value_decode(&p, copy + cases[i].len, &v), "%s decoded", cases[i].what);
        ck_assert_ptr_eq(p, copy);
        free(copy);
    }
    /* The well-formed neighbours of those cases do decode. */
    const uint8_t good[] = {4, 2, 2, 0, 0};
    const uint8_t *p = good;
    sl_value_t v;
    ck_assert(sl_value_decode(&p, good + sizeof good, &v));
    ck_assert_uint_eq(v.u.list.n, 2);
    /* A user-built list whose bytes disagree with its count walks to -1. */
    sl_buf_t elems = {0};
    sl_value_t one = sl_val_int(1);
    ck_assert_int_eq(sl_value_encode(&elems, &one), SL_OK);
    sl_value_t liar = sl_val_list(SL_VAL_LIST, &elems, 2);
    sl_list_iter_t it;
    sl_value_t elem;
    sl_list_iter_init(&it, &liar);
    ck_assert_int_eq(sl_list_next(&it, &elem), 1);
    ck_assert_int_eq(sl_list_next(&it, &elem), -1);
    ck_assert_int_eq(sl_list_next(&it, &elem), -1);
    sl_buf_t out = {0};
    ck_assert_int_eq(sl_value_format(&out, &liar), SL_ERR_INVALID);
    ck_assert_uint_eq(out.len, 0);
    liar = sl_val_list(SL_VAL_LIST, &elems, 0);
    sl_list_iter_init(&it, &liar);
    ck_assert_int_eq(sl_list_next(&it, &elem), -1);
    sl_buf_free(&out);
    sl_buf_free(&elems);
}
END_TEST

START_TEST(test_value_eq)
{
    sl_value_t i1 = sl_val_int(1), d1 = sl_val_double(1.0), n = sl_val_null();
    ck_assert(!sl_value_eq(&i1, &d1));
    ck_assert(sl_value_eq(&n, &n));
    sl_value_t pz = sl_val_double(0.0), nz = sl_val_double(-0.0);
    ck_assert(sl_value_eq(&pz, &nz));
    sl_value_t nan1 = sl_val_double(NAN), nan2 = sl_val_double(-NAN);
    ck_assert(sl_value_eq(&nan1, &nan2));
    ck_assert(!sl_value_eq(&nan1, &pz));
    sl_value_t ba = sl_str("abc"), bb = sl_str("abd"), bc = sl_str("ab");
    ck_assert(!sl_value_eq(&ba, &bb));
    ck_assert(!sl_value_eq(&ba, &bc));
    sl_value_t e1 = sl_val_bytes(NULL, 0), e2 = sl_val_bytes("", 0);
    ck_assert(sl_value_eq(&e1, &e2));

    sl_buf_t x = {0}, y = {0};
    sl_value_t lx = sl_make_list(SL_VAL_LIST, &x, (sl_value_t[]){pz, i1}, 2);
    sl_value_t ly = sl_make_list(SL_VAL_LIST, &y, (sl_value_t[]){nz, i1}, 2);
    ck_assert(sl_value_eq(&lx, &ly));    /* different bytes, equal values */
    sl_value_t ty = sl_make_list(SL_VAL_TUPLE, &y, (sl_value_t[]){pz, i1}, 2);
    ck_assert(!sl_value_eq(&lx, &ty));
    ly = sl_make_list(SL_VAL_LIST, &y, (sl_value_t[]){pz, d1}, 2);
    ck_assert(!sl_value_eq(&lx, &ly));
    ly = sl_make_list(SL_VAL_LIST, &y, (sl_value_t[]){pz}, 1);
    ck_assert(!sl_value_eq(&lx, &ly));
    sl_buf_free(&x);
    sl_buf_free(&y);
}
END_TEST

START_TEST(test_key_hash)
{
    ck_assert(sl_key_hash((const uint8_t *)"abc", 3) == XXH3_64bits("abc", 3));
    ck_assert(sl_key_hash(NULL, 0) == sl_key_hash((const uint8_t *)"", 0));
    ck_assert(sl_key_hash(NULL, 0) == XXH3_64bits("", 0));
    ck_assert(sl_key_hash((const uint8_t *)"abc", 3) != sl_key_hash((const uint8_t *)"abd", 3));
}
END_TEST

/* --- text ------------------------------------------------------------------------- */

START_TEST(test_format_scalars)
{
    const struct {
        sl_value_t v;
        const char *want;
    } cases[] = {
        {sl_val_null(), "null"},
        {sl_val_int(0), "0"},
        {sl_val_int(-1), "-1"},
        {sl_val_int(INT64_MAX), "9223372036854775807"},
        {sl_val_int(INT64_MIN), "-9223372036854775808"},
        {sl_val_double(0.1), "0.1"},
        {sl_val_double(1.5), "1.5"},
        {sl_val_double(-1.5), "-1.5"},
        {sl_val_double(1e300), "1e+300"},
        {sl_val_double(-0.0), "-0"},
        {sl_val_double(0.0), "0"},
        {sl_val_double(NAN), "nan"},
        {sl_val_double(-NAN), "nan"},
        {sl_val_double(INFINITY), "inf"},
        {sl_val_double(-INFINITY), "-inf"},
        {sl_val_double(100.0), "100"},
        {sl_val_double(123456.789), "123456.789"},
        {sl_val_double(1e15), "1000000000000000"},
        {sl_val_double(1e16), "1e+16"},
        {sl_val_double(1.25e16), "1.25e+16"},
        {sl_val_double(0.001), "0.001"},
        {sl_val_double(1e-5), "1e-05"},
        {sl_val_double(0.1 + 0.2), "0.30000000000000004"},
        {sl_val_double(1.0 / 3.0), "0.3333333333333333"},
        {sl_val_double(5e-324), "5e-324"},
        {sl_val_double(DBL_MAX), "1.7976931348623157e+308"},
        {sl_val_bytes("a\tb", 3), "a\tb"},    /* as is: not escaped */
        {sl_val_bytes(NULL, 0), ""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        sl_check_fmt(&cases[i].v, cases[i].want);
}
END_TEST

/* Whatever the digits, the text reads back to the same double. */
START_TEST(test_format_double_reads_back)
{
    uint64_t x = 0x9e3779b97f4a7c15ull;
    for (int i = 0; i < 20000; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        double d;
        if (i % 2) {
            memcpy(&d, &x, sizeof d);    /* any bit pattern */
        } else {
            d = (double)(x % 1000000) / 1000.0;    /* short decimals */
        }
        if (isnan(d))
            continue;
        sl_value_t v = sl_val_double(d);
        char *s = sl_fmt_str(&v);
        double back = strtod(s, NULL);
        ck_assert_msg(memcmp(&back, &d, sizeof d) == 0, "%.17g printed as %s", d, s);
        if (i % 2 == 0)
            ck_assert_msg(strlen(s) <= 10, "%.17g printed as %s", d, s);
        free(s);
    }
}
END_TEST

START_TEST(test_escape)
{
    sl_buf_t b = {0};
    const char in[] = "a\tb\nc\rd\\e";
    ck_assert_int_eq(sl_text_escape(&b, (const uint8_t *)in, strlen(in)), SL_OK);
    ck_assert_int_eq(sl_buf_append_u8(&b, 0), SL_OK);
    ck_assert_str_eq((char *)b.p, "a\\tb\\nc\\rd\\\\e");
    sl_buf_reset(&b);
    ck_assert_int_eq(sl_text_escape(&b, (const uint8_t *)"\t\t", 2), SL_OK);
    ck_assert_uint_eq(b.len, 4);
    ck_assert_mem_eq(b.p, "\\t\\t", 4);
    sl_buf_reset(&b);
    ck_assert_int_eq(sl_text_escape(&b, NULL, 0), SL_OK);
    ck_assert_uint_eq(b.len, 0);
    ck_assert_int_eq(sl_text_escape(&b, (const uint8_t *)"plain", 5), SL_OK);
    ck_assert_uint_eq(b.len, 5);
    ck_assert_mem_eq(b.p, "plain", 5);
    sl_buf_free(&b);
}
END_TEST

START_TEST(test_record_lines)
{
    sl_record_t r = {.key = (const uint8_t *)"k\t1", .key_len = 3, .val = sl_str("v\n")};
    sl_check_line(&r, "k\\t1\tv\\n");
    r.key = NULL;
    r.key_len = 0;
    sl_check_line(&r, "v\\n");
    r.key = (const uint8_t *)"word";
    r.key_len = 4;
    r.val = sl_val_int(42);
    sl_check_line(&r, "word\t42");
    r.val = sl_val_null();
    sl_check_line(&r, "word\tnull");
    r.val = sl_val_bytes(NULL, 0);
    sl_check_line(&r, "word\t");

    sl_buf_t e1 = {0}, e2 = {0};
    sl_value_t inner =
        sl_make_list(SL_VAL_TUPLE, &e1, (sl_value_t[]){sl_str("x\\y"), sl_val_double(0.5)}, 2);
    r.val = sl_make_list(SL_VAL_LIST, &e2, (sl_value_t[]){sl_str("a\tb"), inner}, 2);
    r.key_len = 0;
    sl_check_line(&r, "[a\\tb, (x\\\\y, 0.5)]");
    sl_check_fmt(&r.val, "[a\tb, (x\\y, 0.5)]");
    sl_buf_free(&e1);
    sl_buf_free(&e2);

    /* Lines append to what is there. */
    sl_buf_t b = {0};
    ck_assert_int_eq(sl_buf_append(&b, "> ", 2), SL_OK);
    r.val = sl_val_int(-3);
    ck_assert_int_eq(sl_record_format_line(&b, &r), SL_OK);
    ck_assert_uint_eq(b.len, 4);
    ck_assert_mem_eq(b.p, "> -3", 4);
    sl_buf_free(&b);
}
END_TEST

/* --- blocks ------------------------------------------------------------------------ */

START_TEST(test_block_round_trip)
{
    sl_block_builder_t bb;
    sl_bb_init(&bb);
    ck_assert_uint_eq(sl_bb_bytes(&bb), 0);
    enum { N = 1000 };
    char key[32];
    for (int i = 0; i < N; i++) {
        int kl = snprintf(key, sizeof key, "key-%d", i);
        sl_record_t r = {.key = (const uint8_t *)key, .key_len = (size_t)kl,
                         .val = i % 3 ? sl_val_int(i) : sl_val_double(i + 0.5)};
        ck_assert_int_eq(sl_bb_add(&bb, &r), SL_OK);
    }
    size_t body = sl_bb_bytes(&bb);
    ck_assert_uint_gt(body, 0);
    uint8_t *blk;
    size_t len;
    ck_assert_int_eq(sl_bb_finish(&bb, &blk, &len), SL_OK);
    ck_assert_uint_eq(len, body + SL_BLOCK_HEADER_LEN);
    ck_assert_uint_eq(sl_bb_bytes(&bb), 0);

    /* The header, field by field. */
    ck_assert_mem_eq(blk, "SLB1", 4);
    ck_assert_uint_eq(sl_block_count(blk), N);
    uint64_t body_len = 0, sum = 0;
    for (int i = 7; i >= 0; i--) {
        body_len = body_len << 8 | blk[8 + i];
        sum = sum << 8 | blk[16 + i];
    }
    ck_assert_uint_eq(body_len, body);
    ck_assert(sum == XXH3_64bits(blk + SL_BLOCK_HEADER_LEN, body));

    sl_block_iter_t it;
    char err[SL_ERRMSG_LEN] = "";
    ck_assert_int_eq(sl_block_open(blk, len, true, &it, err), SL_OK);
    ck_assert_uint_eq(it.count, N);
    sl_record_t r;
    for (int i = 0; i < N; i++) {
        ck_assert_int_eq(sl_block_next(&it, &r), 1);
        int kl = snprintf(key, sizeof key, "key-%d", i);
        ck_assert_uint_eq(r.key_len, (size_t)kl);
        ck_assert_mem_eq(r.key, key, (size_t)kl);
        /* Records point into the block. */
        ck_assert(r.key > blk && r.key < blk + len);
        if (i % 3) {
            ck_assert_int_eq(r.val.type, SL_VAL_INT);
            ck_assert_int_eq(r.val.u.i, i);
        } else {
            ck_assert_int_eq(r.val.type, SL_VAL_DOUBLE);
            ck_assert(r.val.u.d == i + 0.5);
        }
    }
    ck_assert_int_eq(sl_block_next(&it, &r), 0);
    ck_assert_int_eq(sl_block_next(&it, &r), 0);
    free(blk);
    sl_bb_free(&bb);
}
END_TEST

START_TEST(test_block_empty_and_reuse)
{
    sl_block_builder_t bb;
    sl_bb_init(&bb);
    uint8_t *b1, *b2, *b3;
    size_t l1, l2, l3;
    ck_assert_int_eq(sl_bb_finish(&bb, &b1, &l1), SL_OK);
    ck_assert_uint_eq(l1, SL_BLOCK_HEADER_LEN);
    sl_block_iter_t it;
    sl_record_t r;
    ck_assert_int_eq(sl_block_open(b1, l1, true, &it, NULL), SL_OK);
    ck_assert_uint_eq(sl_block_count(b1), 0);
    ck_assert_int_eq(sl_block_next(&it, &r), 0);

    /* Reuse after finish: two more blocks, each with only its own records. */
    sl_record_t a = {.key = (const uint8_t *)"a", .key_len = 1, .val = sl_val_int(1)};
    sl_record_t b = {.key = (const uint8_t *)"b", .key_len = 1, .val = sl_str("two")};
    ck_assert_int_eq(sl_bb_add(&bb, &a), SL_OK);
    ck_assert_int_eq(sl_bb_add(&bb, &a), SL_OK);
    ck_assert_int_eq(sl_bb_finish(&bb, &b2, &l2), SL_OK);
    ck_assert_int_eq(sl_bb_add(&bb, &b), SL_OK);
    ck_assert_int_eq(sl_bb_finish(&bb, &b3, &l3), SL_OK);
    ck_assert_ptr_ne(b2, b3);
    ck_assert_uint_eq(sl_block_count(b2), 2);
    ck_assert_uint_eq(sl_block_count(b3), 1);

    ck_assert_int_eq(sl_block_open(b2, l2, true, &it, NULL), SL_OK);
    for (int i = 0; i < 2; i++) {
        ck_assert_int_eq(sl_block_next(&it, &r), 1);
        ck_assert_mem_eq(r.key, "a", 1);
        ck_assert(sl_value_eq(&r.val, &a.val));
    }
    ck_assert_int_eq(sl_block_next(&it, &r), 0);
    ck_assert_int_eq(sl_block_open(b3, l3, true, &it, NULL), SL_OK);
    ck_assert_int_eq(sl_block_next(&it, &r), 1);
    ck_assert(sl_value_eq(&r.val, &b.val));
    ck_assert_int_eq(sl_block_next(&it, &r), 0);
    free(b1);
    free(b2);
    free(b3);
    sl_bb_free(&bb);
    sl_bb_free(&bb);
}
END_TEST

START_TEST(test_block_header_errors)
{
    size_t len;
    uint8_t *blk = sl_small_block(&len);
    sl_block_iter_t it;
    char err[SL_ERRMSG_LEN];

    err[0] = '\0';
    ck_assert_int_eq(sl_block_open(blk, 10, false, &it, err), SL_ERR_INVALID);
    SL_CK_CONTAINS(err, "shorter than");
    ck_assert_int_eq(sl_block_open(NULL, 0, false, &it, err), SL_ERR_INVALID);

    blk[0] = 'X';
    ck_assert_int_eq(sl_block_open(blk, len, false, &it, err), SL_ERR_INVALID);
    SL_CK_CONTAINS(err, "magic");
    blk[0] = 'S';

    ck_assert_int_eq(sl_block_open(blk, len + 0, false, &it, err), SL_OK);
    ck_assert_int_eq(sl_block_open(blk, len - 1, false, &it, err), SL_ERR_INVALID);
    SL_CK_CONTAINS(err, "body length");

    sl_put_le32(blk + 4, (uint32_t)len);    /* more records than bytes allow */
    ck_assert_int_eq(sl_block_open(blk, len, false, &it, err), SL_ERR_INVALID);
    SL_CK_CONTAINS(err, "record count");
    sl_put_le32(blk + 4, 3);

    blk[16] ^= 1;    /* the stored checksum */
    ck_assert_int_eq(sl_block_open(blk, len, true, &it, err), SL_ERR_INVALID);
    SL_CK_CONTAINS(err, "checksum");
    ck_assert_int_eq(sl_block_open(blk, len, true, &it, NULL), SL_ERR_INVALID);
    ck_assert_int_eq(sl_block_open(blk, len, false, &it, NULL), SL_OK);
    free(blk);
}
END_TEST

/* Every truncation, of the whole block or of its body with the header
 * patched to agree, gives an error or -1; never a crash or an over-read. */
START_TEST(test_block_truncation_everywhere)
{
    size_t len;
    uint8_t *blk = sl_small_block(&len);
    for (size_t n = 0; n < len; n++) {
        uint8_t *copy = malloc(n ? n : 1);
        memcpy(copy, blk, n);
        sl_block_iter_t it;
        char err[SL_ERRMSG_LEN];
        ck_assert_int_eq(sl_block_open(copy, n, false, &it, err), SL_ERR_INVALID);
        if (n >= SL_BLOCK_HEADER_LEN) {
            size_t body = n - SL_BLOCK_HEADER_LEN;
            sl_put_le64(copy + 8, body);
            sl_put_le64(copy + 16, XXH3_64bits(copy + SL_BLOCK_HEADER_LEN, body));
            sl_status_t st = sl_block_open(copy, n, true, &it, err);
            if (st == SL_OK) {
                uint32_t nrec;
                ck_assert_int_eq(sl_drain(&it, &nrec), -1);
                ck_assert_uint_lt(nrec, 3);
                sl_record_t r;
                ck_assert_int_eq(sl_block_next(&it, &r), -1);    /* and it stays -1 */
            } else {
                SL_CK_CONTAINS(err, "record count");
            }
        }
        free(copy);
    }
    free(blk);
}
END_TEST

START_TEST(test_block_flipped_bytes)
{
    size_t len;
    uint8_t *blk = sl_small_block(&len);
    for (size_t i = SL_BLOCK_HEADER_LEN; i < len; i++) {
        for (int bit = 0; bit < 8; bit++) {
            blk[i] ^= (uint8_t)(1u << bit);
            sl_block_iter_t it;
            char err[SL_ERRMSG_LEN];
            ck_assert_int_eq(sl_block_open(blk, len, true, &it, err), SL_ERR_INVALID);
            SL_CK_CONTAINS(err, "checksum");
            /* Unverified, the damage may or may not show; it must not crash. */
            ck_assert_int_eq(sl_block_open(blk, len, false, &it, err), SL_OK);
            uint32_t nrec;
            int rc = sl_drain(&it, &nrec);
            ck_assert(rc == 0 || rc == -1);
            ck_assert(nrec <= 3);
            blk[i] ^= (uint8_t)(1u << bit);
        }
    }
    sl_block_iter_t it;
    ck_assert_int_eq(sl_block_open(blk, len, true, &it, NULL), SL_OK);
    free(blk);
}
END_TEST

START_TEST(test_block_count_mismatch)
{
    size_t len;
    uint8_t *blk = sl_small_block(&len);
    sl_block_iter_t it;
    uint32_t nrec;

    /* Fewer records claimed than present: trailing bytes are corruption. */
    sl_put_le32(blk + 4, 2);
    ck_assert_int_eq(sl_block_open(blk, len, true, &it, NULL), SL_OK);
    ck_assert_int_eq(sl_drain(&it, &nrec), -1);
    ck_assert_uint_eq(nrec, 2);

    /* More claimed than present: the body runs out. */
    sl_put_le32(blk + 4, 4);
    ck_assert_int_eq(sl_block_open(blk, len, true, &it, NULL), SL_OK);
    ck_assert_int_eq(sl_drain(&it, &nrec), -1);
    ck_assert_uint_eq(nrec, 3);

    sl_put_le32(blk + 4, 0);
    ck_assert_int_eq(sl_block_open(blk, len, true, &it, NULL), SL_OK);
    ck_assert_int_eq(sl_drain(&it, &nrec), -1);
    ck_assert_uint_eq(nrec, 0);

    sl_put_le32(blk + 4, 3);
    ck_assert_int_eq(sl_block_open(blk, len, true, &it, NULL), SL_OK);
    ck_assert_int_eq(sl_drain(&it, &nrec), 0);
    ck_assert_uint_eq(nrec, 3);
    free(blk);
}
END_TEST

Suite *sl_test_block_suite(void)
{
    Suite *s = suite_create("block");
    TCase *tv = tcase_create("values");
    tcase_add_test(tv, test_scalar_round_trips);
    tcase_add_test(tv, test_exact_encodings);
    tcase_add_test(tv, test_double_bits_survive);
    tcase_add_test(tv, test_record_round_trips);
    tcase_add_test(tv, test_nested_lists_and_tuples);
    tcase_add_test(tv, test_nesting_depth_cap);
    tcase_add_test(tv, test_malformed_values);
    tcase_add_test(tv, test_value_eq);
    tcase_add_test(tv, test_key_hash);
    suite_add_tcase(s, tv);
    TCase *tt = tcase_create("text");
    tcase_add_test(tt, test_format_scalars);
    tcase_add_test(tt, test_format_double_reads_back);
    tcase_add_test(tt, test_escape);
    tcase_add_test(tt, test_record_lines);
    suite_add_tcase(s, tt);
    TCase *tb = tcase_create("blocks");
    tcase_add_test(tb, test_block_round_trip);
    tcase_add_test(tb, test_block_empty_and_reuse);
    tcase_add_test(tb, test_block_header_errors);
    tcase_add_test(tb, test_block_truncation_everywhere);
    tcase_add_test(tb, test_block_flipped_bytes);
    tcase_add_test(tb, test_block_count_mismatch);
    suite_add_tcase(s, tb);
    return s;
}
