/* Tests for common/plan.c: partition counts, narrow and wide edges,
 * pipelines and their dependencies, union partition shifting. */
#include <stdlib.h>
#include "client/jobfile.h"
#include "plan.h"
#include "unit.h"

/* Parses a job file and builds its plan; the spec is freed by the caller. */
static sl_plan_t *sl_plan_of(const char *text, Sluice__JobSpec **spec)
{
    char err[SL_ERRMSG_LEN] = "";
    sl_status_t st = sl_jobfile_parse(text, strlen(text), "t.job", spec, err);
    ck_assert_msg(st == SL_OK, "parse: %s", err);
    sl_plan_t *p = NULL;
    st = sl_plan_build(*spec, &p, err);
    ck_assert_msg(st == SL_OK, "plan: %s", err);
    return p;
}

START_TEST(test_wordcount_plan)
{
    Sluice__JobSpec *spec;
    sl_plan_t *p = sl_plan_of("job wc\nbatch 1s\n"
                              "lines = push(\"lines\", partitions = 3)\n"
                              "words = lines.flat_map(split)\n"
                              "counts = words.map(pair_one).reduce_by_key(sum, 5)\n"
                              "counts.print(10)\n", &spec);
    /* nodes: push, flat_map, map, reduce_by_key */
    ck_assert_uint_eq(p->nnodes, 4);
    ck_assert_uint_eq(p->nodes[0].nparts, 3);
    ck_assert_uint_eq(p->nodes[1].nparts, 3);
    ck_assert_uint_eq(p->nodes[2].nparts, 3);
    ck_assert_uint_eq(p->nodes[3].nparts, 5);
    ck_assert(!p->nodes[2].wide);
    ck_assert(p->nodes[3].wide);
    /* the map writes the reduce's shuffle; the reduce carries the output */
    ck_assert_uint_eq(p->nodes[2].nshuffles, 1);
    ck_assert_uint_eq(p->nodes[2].shuffles[0].node, 3);
    ck_assert_uint_eq(p->nodes[3].noutputs, 1);
    ck_assert_uint_eq(p->npipelines, 2);
    ck_assert_uint_eq(p->pipelines[0].root, 0);
    ck_assert_uint_eq(p->pipelines[1].root, 3);
    ck_assert_uint_eq(p->pipelines[1].ndeps, 1);
    ck_assert_uint_eq(p->pipelines[1].deps[0], 0);
    ck_assert_uint_eq(p->ntasks, 8);
    sl_plan_free(p);
    sluice__job_spec__free_unpacked(spec, NULL);
}
END_TEST

START_TEST(test_union_and_join)
{
    Sluice__JobSpec *spec;
    sl_plan_t *p = sl_plan_of("job j\nbatch 1s\n"
                              "a = push(\"a\", partitions = 2)\n"
                              "b = push(\"b\", partitions = 3)\n"
                              "u = a.union(b)\n"
                              "j = a.join(b)\n"
                              "c = u.count()\n"
                              "u.print()\nj.print()\nc.print()\n", &spec);
    /* nodes: a, b, u, j, c */
    ck_assert_uint_eq(p->nodes[2].nparts, 5);      /* union adds */
    ck_assert_uint_eq(p->nodes[3].nparts, 3);      /* join: the larger parent */
    ck_assert_uint_eq(p->nodes[4].nparts, 1);      /* count: one */
    /* a's edge into the union keeps partitions; b's is shifted past a's 2 */
    ck_assert_uint_eq(p->nodes[0].nnarrow, 1);
    ck_assert_uint_eq(p->nodes[1].nnarrow, 1);
    ck_assert_uint_eq(sl_plan_narrow_part(p->nodes[0].narrow[0], 1), 1);
    ck_assert_uint_eq(sl_plan_narrow_part(p->nodes[1].narrow[0], 1), 3);
    /* pipelines: a, b, j, c; j needs both sources, c needs both (via the union) */
    ck_assert_uint_eq(p->npipelines, 4);
    ck_assert_uint_eq(p->pipelines[2].root, 3);
    ck_assert_uint_eq(p->pipelines[2].ndeps, 2);
    ck_assert_uint_eq(p->pipelines[3].root, 4);
    ck_assert_uint_eq(p->pipelines[3].ndeps, 2);
    ck_assert_uint_eq(p->ntasks, 2 + 3 + 3 + 1);
    sl_plan_free(p);
    sluice__job_spec__free_unpacked(spec, NULL);
}
END_TEST

START_TEST(test_self_union_keeps_both_edges)
{
    Sluice__JobSpec *spec;
    sl_plan_t *p = sl_plan_of("job s\nbatch 1s\n"
                              "a = push(\"a\", partitions = 2)\n"
                              "u = a.union(a)\n"
                              "u.print()\n", &spec);
    ck_assert_uint_eq(p->nodes[0].nnarrow, 2);
    ck_assert_uint_eq(p->nodes[1].nparts, 4);
    ck_assert_uint_eq(p->npipelines, 1);
    sl_plan_free(p);
    sluice__job_spec__free_unpacked(spec, NULL);
}
END_TEST

START_TEST(test_forward_reference_refused)
{
    Sluice__JobSpec spec = SLUICE__JOB_SPEC__INIT;
    Sluice__StreamNode n0 = SLUICE__STREAM_NODE__INIT;
    uint32_t in = 0;
    Sluice__StreamNode *nodes[] = { &n0 };
    n0.op = SLUICE__OP_KIND__OP_MAP;
    n0.inputs = &in;
    n0.n_inputs = 1;   /* reads itself */
    spec.nodes = nodes;
    spec.n_nodes = 1;
    char err[SL_ERRMSG_LEN] = "";
    sl_plan_t *p = NULL;
    ck_assert_int_eq(sl_plan_build(&spec, &p, err), SL_ERR_INVALID);
    ck_assert_ptr_null(p);
    SL_CK_CONTAINS(err, "not earlier");
}
END_TEST

START_TEST(test_wide_ops)
{
    ck_assert(sl_op_is_wide(SLUICE__OP_KIND__OP_REPARTITION));
    ck_assert(sl_op_is_wide(SLUICE__OP_KIND__OP_COGROUP));
    ck_assert(sl_op_is_wide(SLUICE__OP_KIND__OP_COUNT_BY_VALUE));
    ck_assert(!sl_op_is_wide(SLUICE__OP_KIND__OP_UNION));
    ck_assert(!sl_op_is_wide(SLUICE__OP_KIND__OP_TRANSFORM));
}
END_TEST

Suite *sl_test_plan_suite(void)
{
    Suite *s = suite_create("plan");
    TCase *tc = tcase_create("plan");
    tcase_add_test(tc, test_wordcount_plan);
    tcase_add_test(tc, test_union_and_join);
    tcase_add_test(tc, test_self_union_keeps_both_edges);
    tcase_add_test(tc, test_forward_reference_refused);
    tcase_add_test(tc, test_wide_ops);
    suite_add_tcase(s, tc);
    return s;
}
