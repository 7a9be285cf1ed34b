/* Tests for common/jobspec.c: JobSpecs built by hand, the way the C builder
 * makes them, then broken one field at a time (graph shape, arity,
 * partitions, functions, sources, transforms, outputs, job settings), and
 * the op/output name tables. */
#include <stdio.h>
#include "jobspec.h"
#include "unit.h"

#define SL_NELEM(a) (sizeof (a) / sizeof *(a))
#define SL_MAX_NODES 8
#define SL_MAX_OUTS 4

/* A spec with its storage: push("lines", 2) -> flat_map(split) as "words"
 * -> print(10), no positions (as the C builder makes it). */
typedef struct {
    Sluice__JobSpec spec;
    Sluice__StreamNode node[SL_MAX_NODES];
    Sluice__StreamNode *nodes[SL_MAX_NODES];
    Sluice__FuncRef func[SL_MAX_NODES];
    uint32_t inputs[SL_MAX_NODES][2];
    char *fargs[SL_MAX_NODES][2];
    Sluice__OutputSpec out[SL_MAX_OUTS];
    Sluice__OutputSpec *outs[SL_MAX_OUTS];
} sl_js_t;

/* Appends a node with the given op and inputs; returns it. */
static Sluice__StreamNode *sl_js_node(sl_js_t *j, Sluice__OpKind op, const char *name, int in0,
                                      int in1)
{
    size_t i = j->spec.n_nodes++;
    ck_assert_uint_lt(i, SL_MAX_NODES);
    Sluice__StreamNode *n = &j->node[i];
    sluice__stream_node__init(n);
    n->op = op;
    n->name = (char *)name;
    n->inputs = j->inputs[i];
    if (in0 >= 0)
        n->inputs[n->n_inputs++] = (uint32_t)in0;
    if (in1 >= 0)
        n->inputs[n->n_inputs++] = (uint32_t)in1;
    j->nodes[i] = n;
    return n;
}

/* Gives node n the function name(args...), up to two args. */
static void sl_js_func(sl_js_t *j, Sluice__StreamNode *n, const char *name, const char *a0,
                       const char *a1)
{
    size_t i = (size_t)(n - j->node);
    Sluice__FuncRef *f = &j->func[i];
    sluice__func_ref__init(f);
    f->name = (char *)name;
    f->args = j->fargs[i];
    if (a0)
        f->args[f->n_args++] = (char *)a0;
    if (a1)
        f->args[f->n_args++] = (char *)a1;
    n->func = f;
}

static Sluice__OutputSpec *sl_js_output(sl_js_t *j, Sluice__OutputKind kind, uint32_t input)
{
    size_t i = j->spec.n_outputs++;
    ck_assert_uint_lt(i, SL_MAX_OUTS);
    Sluice__OutputSpec *o = &j->out[i];
    sluice__output_spec__init(o);
    o->kind = kind;
    o->input = input;
    if (kind == SLUICE__OUTPUT_KIND__OUT_PRINT)
        o->count = 10;
    j->outs[i] = o;
    return o;
}

static void sl_js_init(sl_js_t *j)
{
    memset(j, 0, sizeof *j);
    sluice__job_spec__init(&j->spec);
    j->spec.name = "wordcount";
    j->spec.batch_ms = 1000;
    j->spec.nodes = j->nodes;
    j->spec.outputs = j->outs;
    Sluice__StreamNode *push = sl_js_node(j, SLUICE__OP_KIND__OP_PUSH, "lines", -1, -1);
    push->source = "lines";
    push->partitions = 2;
    Sluice__StreamNode *words = sl_js_node(j, SLUICE__OP_KIND__OP_FLAT_MAP, "words", 0, -1);
    sl_js_func(j, words, "split", NULL, NULL);
    sl_js_output(j, SLUICE__OUTPUT_KIND__OUT_PRINT, 1);
}

static void sl_js_ok(const sl_js_t *j, const sl_udf_lib_t *lib)
{
    char err[SL_ERRMSG_LEN] = "";
    sl_status_t st = sl_jobspec_validate(&j->spec, lib, err);
    ck_assert_msg(st == SL_OK, "%s (%s)", sl_strerror(st), err);
}

/* Validation fails with SL_ERR_INVALID; the message starts with `prefix`
 * and contains `phrase`. */
static void sl_js_bad(const sl_js_t *j, const char *prefix, const char *phrase)
{
    char err[SL_ERRMSG_LEN] = "";
    sl_status_t st = sl_jobspec_validate(&j->spec, NULL, err);
    ck_assert_msg(st == SL_ERR_INVALID, "wanted SL_ERR_INVALID for '%s', got %s", phrase,
                  sl_strerror(st));
    ck_assert_msg(strncmp(err, prefix, strlen(prefix)) == 0, "'%s' does not start with '%s'", err,
                  prefix);
    SL_CK_CONTAINS(err, phrase);
}

/* --- good specs ------------------------------------------------------------ */

START_TEST(test_minimal_ok)
{
    sl_js_t j;
    sl_js_init(&j);
    sl_js_ok(&j, NULL);
}
END_TEST

/* One node of every op, each feeding one output, as a builder could make them. */
START_TEST(test_every_op_ok)
{
    sl_js_t j;
    sl_js_init(&j);
    j.spec.block_ms = 1000;               /* equal to the batch: allowed */
    Sluice__StreamNode *n;
    n = sl_js_node(&j, SLUICE__OP_KIND__OP_MAP, "", 1, -1);
    sl_js_func(&j, n, "pair_one", NULL, NULL);                /* a key function is a map */
    n = sl_js_node(&j, SLUICE__OP_KIND__OP_REDUCE_BY_KEY, "", 2, -1);
    sl_js_func(&j, n, "sum", NULL, NULL);
    n = sl_js_node(&j, SLUICE__OP_KIND__OP_JOIN, "", 3, 2);
    n->partitions = 4096;
    n = sl_js_node(&j, SLUICE__OP_KIND__OP_REPARTITION, "", 4, -1);
    n->partitions = 1;
    n = sl_js_node(&j, SLUICE__OP_KIND__OP_TRANSFORM, "", 5, -1);
    n->mode = "subtract";
    n->path = "stop-words.txt";
    Sluice__OutputSpec *o = sl_js_output(&j, SLUICE__OUTPUT_KIND__OUT_SQLITE, 6);
    o->path = "db.sqlite";
    o->table = "_counts2";
    o = sl_js_output(&j, SLUICE__OUTPUT_KIND__OUT_SAVE_TEXT, 3);
    o->path = "out/c";
    sl_js_output(&j, SLUICE__OUTPUT_KIND__OUT_PUBLISH, 0);
    sl_js_ok(&j, NULL);

    /* The remaining ops, each in a fresh spec reading the push node. */
    static const struct { Sluice__OpKind op; unsigned inputs; const char *fn; } more[] = {
        { SLUICE__OP_KIND__OP_MAP, 1, "lower" },
        { SLUICE__OP_KIND__OP_FLAT_MAP, 1, "split" },
        { SLUICE__OP_KIND__OP_FILTER, 1, "contains" },
        { SLUICE__OP_KIND__OP_MAP_VALUES, 1, "lower" },
        { SLUICE__OP_KIND__OP_FLAT_MAP_VALUES, 1, "split" },
        { SLUICE__OP_KIND__OP_UNION, 2, NULL },
        { SLUICE__OP_KIND__OP_COUNT, 1, NULL },
        { SLUICE__OP_KIND__OP_COUNT_BY_VALUE, 1, NULL },
        { SLUICE__OP_KIND__OP_REDUCE, 1, "max" },
        { SLUICE__OP_KIND__OP_GROUP_BY_KEY, 1, NULL },
        { SLUICE__OP_KIND__OP_LEFT_OUTER_JOIN, 2, NULL },
        { SLUICE__OP_KIND__OP_RIGHT_OUTER_JOIN, 2, NULL },
        { SLUICE__OP_KIND__OP_FULL_OUTER_JOIN, 2, NULL },
        { SLUICE__OP_KIND__OP_COGROUP, 2, NULL },
    };
    for (size_t i = 0; i < SL_NELEM(more); i++) {
        sl_js_init(&j);
        n = sl_js_node(&j, more[i].op, "x", 1, more[i].inputs == 2 ? 0 : -1);
        if (more[i].fn)
            sl_js_func(&j, n, more[i].fn,
                       more[i].op == SLUICE__OP_KIND__OP_FILTER ? "error" : NULL, NULL);
        j.outs[0]->input = 2;
        sl_js_ok(&j, NULL);
    }
}
END_TEST

/* Protobuf-c gives "" for absent strings, a hand-built spec may give NULL. */
START_TEST(test_null_strings_are_empty)
{
    sl_js_t j;
    sl_js_init(&j);
    j.node[1].name = NULL;
    j.node[1].source = NULL;
    j.node[1].mode = NULL;
    j.node[1].path = NULL;
    j.out[0].path = NULL;
    j.out[0].table = NULL;
    j.spec.library_name = NULL;
    sl_js_ok(&j, NULL);
    j.node[0].source = NULL;
    sl_js_bad(&j, "node 0 ('lines'): ", "push needs a stream name");
}
END_TEST

/* --- graph shape -------------------------------------------------------------- */

START_TEST(test_forward_and_self_refs)
{
    sl_js_t j;
    sl_js_init(&j);
    j.inputs[1][0] = 1;                        /* words reads itself */
    sl_js_bad(&j, "node 1 ('words'): ", "not an earlier node");

    sl_js_init(&j);
    sl_js_node(&j, SLUICE__OP_KIND__OP_COUNT, "c", 1, -1);
    j.inputs[1][0] = 2;                        /* words <-> c: a cycle */
    sl_js_bad(&j, "node 1 ('words'): ", "input 2 is not an earlier node");

    sl_js_init(&j);
    j.inputs[1][0] = 7;                        /* beyond the end */
    sl_js_bad(&j, "node 1 ('words'): ", "input 7");

    sl_js_init(&j);                            /* second input of a join ahead */
    sl_js_node(&j, SLUICE__OP_KIND__OP_JOIN, "", 1, 3);
    sl_js_node(&j, SLUICE__OP_KIND__OP_COUNT, "", 0, -1);
    sl_js_bad(&j, "node 2 (''): ", "join: input 3 is not an earlier node");
}
END_TEST

START_TEST(test_arity)
{
    sl_js_t j;
    sl_js_init(&j);
    j.node[1].n_inputs = 0;
    sl_js_bad(&j, "node 1 ('words'): ", "flat_map takes 1 input, got 0");

    sl_js_init(&j);
    j.node[0].n_inputs = 1;                    /* inputs[0][0] is 0: itself */
    sl_js_bad(&j, "node 0 ('lines'): ", "push takes 0 inputs, got 1");

    sl_js_init(&j);
    sl_js_node(&j, SLUICE__OP_KIND__OP_UNION, "u", 1, -1);
    sl_js_bad(&j, "node 2 ('u'): ", "union takes 2 inputs, got 1");

    sl_js_init(&j);
    sl_js_node(&j, SLUICE__OP_KIND__OP_COGROUP, "", -1, -1);
    sl_js_bad(&j, "node 2 (''): ", "cogroup takes 2 inputs, got 0");

    sl_js_init(&j);
    j.node[1].n_inputs = 2;
    sl_js_bad(&j, "node 1 ('words'): ", "flat_map takes 1 input, got 2");
}
END_TEST

START_TEST(test_unknown_op)
{
    sl_js_t j;
    sl_js_init(&j);
    j.node[1].op = SLUICE__OP_KIND__OP_UNKNOWN;
    sl_js_bad(&j, "node 1 ('words'): ", "unknown operation 0");
    j.node[1].op = (Sluice__OpKind)99;
    sl_js_bad(&j, "node 1 ('words'): ", "unknown operation 99");
    j.node[1].op = (Sluice__OpKind)-3;
    sl_js_bad(&j, "node 1 ('words'): ", "unknown operation -3");
}
END_TEST

/* Positions from a job file replace the node index in messages. */
START_TEST(test_positions)
{
    sl_js_t j;
    sl_js_init(&j);
    j.node[1].line = 5;
    j.node[1].col = 16;
    j.node[1].n_inputs = 0;
    sl_js_bad(&j, "line 5, col 16: ", "flat_map takes 1 input");
    sl_js_init(&j);
    j.out[0].line = 7;
    j.out[0].col = 8;
    j.out[0].count = 0;
    sl_js_bad(&j, "line 7, col 8: ", "print: count 0 is out of range");
}
END_TEST

/* --- partitions --------------------------------------------------------------- */

START_TEST(test_partitions)
{
    sl_js_t j;
    sl_js_init(&j);
    j.node[0].partitions = 0;
    sl_js_bad(&j, "node 0 ('lines'): ", "push: partition count 0 is out of range (1..4096)");
    j.node[0].partitions = 4097;
    sl_js_bad(&j, "node 0 ('lines'): ", "partition count 4097");
    j.node[0].partitions = 4096;
    sl_js_ok(&j, NULL);

    sl_js_init(&j);
    sl_js_node(&j, SLUICE__OP_KIND__OP_REPARTITION, "r", 1, -1);
    sl_js_bad(&j, "node 2 ('r'): ", "repartition: partition count 0");

    sl_js_init(&j);                            /* optional: 0 is the engine default */
    Sluice__StreamNode *n = sl_js_node(&j, SLUICE__OP_KIND__OP_GROUP_BY_KEY, "g", 1, -1);
    sl_js_ok(&j, NULL);
    n->partitions = 5000;
    sl_js_bad(&j, "node 2 ('g'): ", "group_by_key: partition count 5000");

    sl_js_init(&j);
    j.node[1].partitions = 3;
    sl_js_bad(&j, "node 1 ('words'): ", "flat_map takes no partition count");
}
END_TEST

/* --- functions ------------------------------------------------------------------ */

START_TEST(test_functions)
{
    sl_js_t j;
    sl_js_init(&j);
    j.node[1].func = NULL;
    sl_js_bad(&j, "node 1 ('words'): ", "flat_map needs a function");
    sl_js_init(&j);
    j.func[1].name = "";
    sl_js_bad(&j, "node 1 ('words'): ", "flat_map needs a function");

    sl_js_init(&j);
    Sluice__StreamNode *n = sl_js_node(&j, SLUICE__OP_KIND__OP_COUNT, "c", 1, -1);
    sl_js_func(&j, n, "sum", NULL, NULL);
    sl_js_bad(&j, "node 2 ('c'): ", "count takes no function");

    sl_js_init(&j);                            /* wrong kind, from the catalogue */
    j.func[1].name = "sum";
    sl_js_bad(&j, "node 1 ('words'): ", "'sum' is a reducer");

    sl_js_init(&j);                            /* wrong arguments, from the catalogue */
    n = sl_js_node(&j, SLUICE__OP_KIND__OP_MAP, "f", 1, -1);
    sl_js_func(&j, n, "field", "2", NULL);
    sl_js_bad(&j, "node 2 ('f'): ", "field expects 2 arguments");
    j.func[2].args[j.func[2].n_args++] = ",";
    sl_js_ok(&j, NULL);
}
END_TEST

/* A name that is not built in: an error without a library, left for later
 * when the spec names a library that the caller has not loaded. */
START_TEST(test_user_functions)
{
    sl_js_t j;
    sl_js_init(&j);
    j.func[1].name = "tokenize";
    sl_js_bad(&j, "node 1 ('words'): ", "unknown function 'tokenize'");
    j.spec.library_name = "udf.so";
    sl_js_ok(&j, NULL);
    j.func[1].name = "sum";                    /* built-ins are still checked */
    sl_js_bad(&j, "node 1 ('words'): ", "'sum' is a reducer");
}
END_TEST

/* --- sources and transforms --------------------------------------------------------- */

START_TEST(test_push_sources)
{
    sl_js_t j;
    sl_js_init(&j);
    j.node[0].source = "";
    sl_js_bad(&j, "node 0 ('lines'): ", "push needs a stream name");

    sl_js_init(&j);
    Sluice__StreamNode *n = sl_js_node(&j, SLUICE__OP_KIND__OP_PUSH, "again", -1, -1);
    n->source = "lines";
    n->partitions = 1;
    sl_js_bad(&j, "node 2 ('again'): ", "stream 'lines' is already pushed by node 0");
    j.node[0].line = 3;
    sl_js_bad(&j, "node 2 ('again'): ", "stream 'lines' is already pushed at line 3");
    n->source = "other";
    sl_js_ok(&j, NULL);

    sl_js_init(&j);
    j.node[1].source = "lines";
    sl_js_bad(&j, "node 1 ('words'): ", "flat_map takes no source stream");
}
END_TEST

START_TEST(test_transform)
{
    static const char *const good[] = { "join", "left_outer_join", "filter", "subtract" };
    sl_js_t j;
    for (size_t i = 0; i < SL_NELEM(good); i++) {
        sl_js_init(&j);
        Sluice__StreamNode *n = sl_js_node(&j, SLUICE__OP_KIND__OP_TRANSFORM, "t", 1, -1);
        n->mode = (char *)good[i];
        n->path = "static.txt";
        sl_js_ok(&j, NULL);
    }
    sl_js_init(&j);
    Sluice__StreamNode *n = sl_js_node(&j, SLUICE__OP_KIND__OP_TRANSFORM, "t", 1, -1);
    n->path = "static.txt";
    sl_js_bad(&j, "node 2 ('t'): ", "unknown transform mode ''");
    n->mode = "right_outer_join";
    sl_js_bad(&j, "node 2 ('t'): ", "unknown transform mode 'right_outer_join'");
    n->mode = "join";
    n->path = "";
    sl_js_bad(&j, "node 2 ('t'): ", "transform needs the path");

    sl_js_init(&j);
    j.node[1].mode = "join";
    sl_js_bad(&j, "node 1 ('words'): ", "flat_map takes no mode or path");
}
END_TEST

/* --- outputs ---------------------------------------------------------------------- */

START_TEST(test_no_outputs)
{
    sl_js_t j;
    sl_js_init(&j);
    j.spec.n_outputs = 0;
    sl_js_bad(&j, "", "no output");
    j.spec.n_nodes = 0;
    sl_js_bad(&j, "", "no output");
}
END_TEST

START_TEST(test_bad_outputs)
{
    sl_js_t j;
    sl_js_init(&j);
    j.out[0].input = 2;                        /* the spec has nodes 0 and 1 */
    sl_js_bad(&j, "output 0 ('print'): ", "input node 2 does not exist (the job has 2 nodes)");
    j.out[0].input = UINT32_MAX;
    sl_js_bad(&j, "output 0 ('print'): ", "does not exist");

    sl_js_init(&j);
    j.out[0].kind = SLUICE__OUTPUT_KIND__OUT_UNKNOWN;
    sl_js_bad(&j, "output 0 ('unknown'): ", "unknown output kind 0");
    j.out[0].kind = (Sluice__OutputKind)42;
    sl_js_bad(&j, "output 0 ('unknown'): ", "unknown output kind 42");

    sl_js_init(&j);
    j.out[0].count = 0;
    sl_js_bad(&j, "output 0 ('print'): ", "count 0 is out of range");
    j.out[0].count = 1000001;
    sl_js_bad(&j, "output 0 ('print'): ", "count 1000001 is out of range");
    j.out[0].count = 1;
    j.out[0].path = "x";
    sl_js_bad(&j, "output 0 ('print'): ", "print takes no path");

    sl_js_init(&j);
    Sluice__OutputSpec *o = sl_js_output(&j, SLUICE__OUTPUT_KIND__OUT_SAVE_TEXT, 1);
    sl_js_bad(&j, "output 1 ('save_as_text_files'): ", "needs a path");
    o->path = "out/x";
    o->count = 3;
    sl_js_bad(&j, "output 1 ('save_as_text_files'): ", "takes no count");

    sl_js_init(&j);
    o = sl_js_output(&j, SLUICE__OUTPUT_KIND__OUT_SQLITE, 0);
    o->path = "db";
    static const char *const bad_tables[] = { "", "1abc", "a-b", "a.b", "drop table x;",
        "a234567890123456789012345678901234567890123456789012345678901234x" };
    for (size_t i = 0; i < SL_NELEM(bad_tables); i++) {
        o->table = (char *)bad_tables[i];
        sl_js_bad(&j, "output 1 ('sqlite'): ", "invalid table name");
    }
    o->table = "ok_1";
    sl_js_ok(&j, NULL);
    o->path = "";
    sl_js_bad(&j, "output 1 ('sqlite'): ", "sqlite needs a path");

    sl_js_init(&j);
    o = sl_js_output(&j, SLUICE__OUTPUT_KIND__OUT_PUBLISH, 1);
    o->table = "t";
    sl_js_bad(&j, "output 1 ('publish'): ", "publish takes no table");
}
END_TEST

/* --- job settings -------------------------------------------------------------------- */

START_TEST(test_job_settings)
{
    sl_js_t j;
    sl_js_init(&j);
    j.spec.batch_ms = 0;
    sl_js_bad(&j, "batch", "below the minimum of 10ms");
    j.spec.batch_ms = 9;
    sl_js_bad(&j, "batch interval 9ms", "minimum");
    j.spec.batch_ms = 10;
    sl_js_ok(&j, NULL);
    j.spec.block_ms = 11;
    sl_js_bad(&j, "block interval 11ms is longer than the batch interval 10ms", "");

    static const char *const bad_names[] = { "", "word count", "wc/1", "wc!",
        "a2345678901234567890123456789012345678901234567890123456789012345" };
    for (size_t i = 0; i < SL_NELEM(bad_names); i++) {
        sl_js_init(&j);
        j.spec.name = (char *)bad_names[i];
        sl_js_bad(&j, "invalid job name", "1-64 of");
    }
    sl_js_init(&j);
    j.spec.name = "A-z_0.9-a2345678901234567890123456789012345678901234567890123456";
    ck_assert_uint_eq(strlen(j.spec.name), 64);
    sl_js_ok(&j, NULL);
    j.spec.name = NULL;
    sl_js_bad(&j, "invalid job name ''", "");
}
END_TEST

START_TEST(test_missing_parts)
{
    char err[SL_ERRMSG_LEN] = "";
    ck_assert_int_eq(sl_jobspec_validate(NULL, NULL, err), SL_ERR_INVALID);
    SL_CK_CONTAINS(err, "no job spec");
    ck_assert_int_eq(sl_jobspec_validate(NULL, NULL, NULL), SL_ERR_INVALID);

    sl_js_t j;
    sl_js_init(&j);
    j.nodes[1] = NULL;
    sl_js_bad(&j, "node 1 is missing", "");
    sl_js_init(&j);
    j.outs[0] = NULL;
    sl_js_bad(&j, "output 0 is missing", "");
    sl_js_init(&j);
    j.spec.nodes = NULL;
    sl_js_bad(&j, "node list is missing", "");
    sl_js_init(&j);
    j.node[1].n_inputs = 0;                    /* errors without a buffer still count */
    ck_assert_int_eq(sl_jobspec_validate(&j.spec, NULL, NULL), SL_ERR_INVALID);
}
END_TEST

/* --- names --------------------------------------------------------------------------- */

START_TEST(test_names)
{
    static const char *const ops[] = {
        "unknown", "push", "map", "flat_map", "filter", "map_values", "flat_map_values",
        "repartition", "union", "count", "count_by_value", "reduce", "reduce_by_key",
        "group_by_key", "join", "left_outer_join", "right_outer_join", "full_outer_join",
        "cogroup", "transform",
    };
    for (size_t i = 0; i < SL_NELEM(ops); i++)
        ck_assert_str_eq(sl_op_name((Sluice__OpKind)i), ops[i]);
    ck_assert_str_eq(sl_op_name((Sluice__OpKind)SL_NELEM(ops)), "unknown");
    ck_assert_str_eq(sl_op_name((Sluice__OpKind)-1), "unknown");

    static const char *const outs[] = { "unknown", "print", "save_as_text_files", "sqlite",
                                        "publish" };
    for (size_t i = 0; i < SL_NELEM(outs); i++)
        ck_assert_str_eq(sl_output_name((Sluice__OutputKind)i), outs[i]);
    ck_assert_str_eq(sl_output_name((Sluice__OutputKind)SL_NELEM(outs)), "unknown");
    ck_assert_str_eq(sl_output_name((Sluice__OutputKind)-1), "unknown");
}
END_TEST

Suite *sl_test_jobspec_suite(void)
{
    Suite *s = suite_create("jobspec");
    TCase *tc = tcase_create("validate");
    tcase_add_test(tc, test_minimal_ok);
    tcase_add_test(tc, test_every_op_ok);
    tcase_add_test(tc, test_null_strings_are_empty);
    tcase_add_test(tc, test_forward_and_self_refs);
    tcase_add_test(tc, test_arity);
    tcase_add_test(tc, test_unknown_op);
    tcase_add_test(tc, test_positions);
    tcase_add_test(tc, test_partitions);
    tcase_add_test(tc, test_functions);
    tcase_add_test(tc, test_user_functions);
    tcase_add_test(tc, test_push_sources);
    tcase_add_test(tc, test_transform);
    tcase_add_test(tc, test_no_outputs);
    tcase_add_test(tc, test_bad_outputs);
    tcase_add_test(tc, test_job_settings);
    tcase_add_test(tc, test_missing_parts);
    suite_add_tcase(s, tc);
    TCase *names = tcase_create("names");
    tcase_add_test(names, test_names);
    suite_add_tcase(s, names);
    return s;
}
