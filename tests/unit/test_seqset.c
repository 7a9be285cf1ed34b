/* Tests for common/seqset.c: exact membership of producer sequences, the
 * floor rising over contiguous sequences, and export as (seq, upto) triples. */
#include "seqset.h"
#include "unit.h"

typedef struct {
    uint64_t producer[16], seq[16];
    bool upto[16];
    size_t n;
} sl_visits_t;

static void sl_visit(void *arg, uint64_t producer, uint64_t seq, bool upto)
{
    sl_visits_t *v = arg;
    ck_assert_uint_lt(v->n, 16);
    v->producer[v->n] = producer;
    v->seq[v->n] = seq;
    v->upto[v->n++] = upto;
}

START_TEST(test_exact_membership)
{
    sl_seqset_t *s = sl_seqset_new();
    ck_assert(!sl_seqset_has(s, 7, 1));
    ck_assert_int_eq(sl_seqset_add(s, 7, 1), SL_OK);
    ck_assert_int_eq(sl_seqset_add(s, 7, 3), SL_OK);   /* 2 missing: a gap */
    ck_assert(sl_seqset_has(s, 7, 1));
    ck_assert(!sl_seqset_has(s, 7, 2));                 /* never treated as stored */
    ck_assert(sl_seqset_has(s, 7, 3));
    ck_assert(!sl_seqset_has(s, 8, 1));                 /* another producer */
    ck_assert_uint_eq(sl_seqset_entries(s), 2);         /* floor 1, plus 3 */
    ck_assert_int_eq(sl_seqset_add(s, 7, 2), SL_OK);    /* fills the gap */
    ck_assert_uint_eq(sl_seqset_entries(s), 1);         /* floor 3 only */
    ck_assert(sl_seqset_has(s, 7, 2));
    sl_seqset_free(s);
}
END_TEST

START_TEST(test_upto_and_export)
{
    sl_seqset_t *s = sl_seqset_new();
    ck_assert_int_eq(sl_seqset_add(s, 5, 10), SL_OK);
    ck_assert_int_eq(sl_seqset_add(s, 5, 12), SL_OK);
    ck_assert_int_eq(sl_seqset_add_upto(s, 5, 9), SL_OK);   /* floor 9, then 10 joins it */
    sl_visits_t v = { .n = 0 };
    sl_seqset_each(s, sl_visit, &v);
    ck_assert_uint_eq(v.n, 2);
    ck_assert(v.upto[0]);
    ck_assert_uint_eq(v.seq[0], 10);
    ck_assert(!v.upto[1]);
    ck_assert_uint_eq(v.seq[1], 12);
    /* Rebuilding from the export gives the same membership. */
    sl_seqset_t *t = sl_seqset_new();
    for (size_t i = 0; i < v.n; i++)
        ck_assert_int_eq(sl_seqset_put(t, v.producer[i], v.seq[i], v.upto[i]), SL_OK);
    for (uint64_t q = 1; q <= 14; q++)
        ck_assert_int_eq(sl_seqset_has(s, 5, q), sl_seqset_has(t, 5, q));
    ck_assert(!sl_seqset_has(t, 5, 11));
    sl_seqset_free(s);
    sl_seqset_free(t);
}
END_TEST

START_TEST(test_many_out_of_order)
{
    sl_seqset_t *s = sl_seqset_new();
    /* Even numbers first, then odd: the floor rises only at the end. */
    for (uint64_t q = 2; q <= 200; q += 2)
        ck_assert_int_eq(sl_seqset_add(s, 1, q), SL_OK);
    ck_assert(!sl_seqset_has(s, 1, 99));
    for (uint64_t q = 1; q <= 199; q += 2)
        ck_assert_int_eq(sl_seqset_add(s, 1, q), SL_OK);
    ck_assert_uint_eq(sl_seqset_entries(s), 1);
    ck_assert(sl_seqset_has(s, 1, 200));
    ck_assert(!sl_seqset_has(s, 1, 201));
    sl_seqset_free(s);
}
END_TEST

Suite *sl_test_seqset_suite(void)
{
    Suite *s = suite_create("seqset");
    TCase *tc = tcase_create("seqset");
    tcase_add_test(tc, test_exact_membership);
    tcase_add_test(tc, test_upto_and_export);
    tcase_add_test(tc, test_many_out_of_order);
    suite_add_tcase(s, tc);
    return s;
}
