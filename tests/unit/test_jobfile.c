/* Tests for client/jobfile.c: the word-count example checked field by field,
 * every operation and output form, layout variants (comments, blank lines,
 * continuation lines, CRLF) that must give the same spec, and a table of bad
 * job files, each with the exact position and a key phrase of its error. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include "client/jobfile.h"
#include "jobspec.h"
#include "unit.h"

#define SL_NELEM(a) (sizeof (a) / sizeof *(a))

static Sluice__JobSpec *sl_parse_ok(const char *text)
{
    char err[SL_ERRMSG_LEN] = "";
    Sluice__JobSpec *spec = (Sluice__JobSpec *)&err;     /* must be overwritten */
    sl_status_t st = sl_jobfile_parse(text, strlen(text), "wc.job", &spec, err);
    ck_assert_msg(st == SL_OK, "%s: %s\n--- job file:\n%s", sl_strerror(st), err, text);
    ck_assert_ptr_nonnull(spec);
    return spec;
}

/* Checks node i: op, name, inputs (-1 ends the list), partitions, position. */
static void sl_ck_node(const Sluice__JobSpec *s, size_t i, Sluice__OpKind op, const char *name,
                       int in0, int in1, uint32_t partitions, uint32_t line, uint32_t col)
{
    ck_assert_uint_lt(i, s->n_nodes);
    const Sluice__StreamNode *n = s->nodes[i];
    ck_assert_msg(n->op == op, "node %zu: op %s, want %s", i, sl_op_name(n->op), sl_op_name(op));
    ck_assert_str_eq(n->name, name);
    size_t want_inputs = (in0 >= 0) + (in1 >= 0);
    ck_assert_uint_eq(n->n_inputs, want_inputs);
    if (in0 >= 0)
        ck_assert_uint_eq(n->inputs[0], (uint32_t)in0);
    if (in1 >= 0)
        ck_assert_uint_eq(n->inputs[1], (uint32_t)in1);
    ck_assert_uint_eq(n->partitions, partitions);
    ck_assert_uint_eq(n->line, line);
    ck_assert_uint_eq(n->col, col);
}

/* Checks the function of node i: name and up to two args (NULL: none). */
static void sl_ck_func(const Sluice__JobSpec *s, size_t i, const char *name, const char *a0,
                       const char *a1)
{
    const Sluice__StreamNode *n = s->nodes[i];
    if (!name) {
        ck_assert_msg(n->func == NULL, "node %zu has function %s", i, n->func->name);
        return;
    }
    ck_assert_ptr_nonnull(n->func);
    ck_assert_str_eq(n->func->name, name);
    ck_assert_uint_eq(n->func->n_args, (size_t)(a0 != NULL) + (a1 != NULL));
    if (a0)
        ck_assert_str_eq(n->func->args[0], a0);
    if (a1)
        ck_assert_str_eq(n->func->args[1], a1);
}

static void sl_ck_output(const Sluice__JobSpec *s, size_t i, Sluice__OutputKind kind,
                         uint32_t input, uint32_t count, const char *path, const char *table,
                         uint32_t line, uint32_t col)
{
    ck_assert_uint_lt(i, s->n_outputs);
    const Sluice__OutputSpec *o = s->outputs[i];
    ck_assert_msg(o->kind == kind, "output %zu: %s, want %s", i, sl_output_name(o->kind),
                  sl_output_name(kind));
    ck_assert_uint_eq(o->input, input);
    ck_assert_uint_eq(o->count, count);
    ck_assert_str_eq(o->path, path);
    ck_assert_str_eq(o->table, table);
    ck_assert_uint_eq(o->line, line);
    ck_assert_uint_eq(o->col, col);
}

#define OP(k) SLUICE__OP_KIND__OP_##k
#define OUT(k) SLUICE__OUTPUT_KIND__OUT_##k

/* --- the word count of DESIGN.md --------------------------------------------- */

static const char sl_wordcount[] =
    "job wordcount\n"
    "batch 1s\n"
    "lines  = push(\"lines\", partitions = 2)\n"
    "words  = lines.flat_map(split)\n"
    "counts = words.map(pair_one).reduce_by_key(sum)\n"
    "counts.print(10)\n"
    "counts.save_as_text_files(\"out/counts\")\n";

START_TEST(test_wordcount)
{
    Sluice__JobSpec *s = sl_parse_ok(sl_wordcount);
    ck_assert_str_eq(s->name, "wordcount");
    ck_assert_uint_eq(s->batch_ms, 1000);
    ck_assert_uint_eq(s->block_ms, 0);
    ck_assert(!s->wal);
    ck_assert_str_eq(s->library_name, "");
    ck_assert_uint_eq(s->library.len, 0);
    ck_assert_uint_eq(s->n_nodes, 4);
    sl_ck_node(s, 0, OP(PUSH), "lines", -1, -1, 2, 3, 10);
    ck_assert_str_eq(s->nodes[0]->source, "lines");
    sl_ck_func(s, 0, NULL, NULL, NULL);
    sl_ck_node(s, 1, OP(FLAT_MAP), "words", 0, -1, 0, 4, 16);
    sl_ck_func(s, 1, "split", NULL, NULL);
    sl_ck_node(s, 2, OP(MAP), "", 1, -1, 0, 5, 16);
    sl_ck_func(s, 2, "pair_one", NULL, NULL);
    sl_ck_node(s, 3, OP(REDUCE_BY_KEY), "counts", 2, -1, 0, 5, 30);
    sl_ck_func(s, 3, "sum", NULL, NULL);
    for (size_t i = 1; i < 4; i++) {
        ck_assert_str_eq(s->nodes[i]->source, "");
        ck_assert_str_eq(s->nodes[i]->mode, "");
        ck_assert_str_eq(s->nodes[i]->path, "");
    }
    ck_assert_uint_eq(s->n_outputs, 2);
    sl_ck_output(s, 0, OUT(PRINT), 3, 10, "", "", 6, 8);
    sl_ck_output(s, 1, OUT(SAVE_TEXT), 3, 0, "out/counts", "", 7, 8);
    sluice__job_spec__free_unpacked(s, NULL);
}
END_TEST

/* --- every operation and output -------------------------------------------------- */

static const char sl_every_op[] =
    "job every-op.v2\n"                                                        /* 1 */
    "batch 1.5s\n"
    "block 250ms\n"
    "library \"lib/udf.so\"\n"
    "a = push(\"a\")\n"                                                        /* 5 */
    "b = push(\"b\", 3)\n"
    "c = push(\"c\", partitions = 4096)\n"
    "m = a.map(lower).flat_map(split(\",\")).filter(contains(\"x\"))\n"
    "m2 = m.map_values(field(2, \" \")).flat_map_values(my_udf)\n"
    "r = m2.repartition(8).repartition(partitions = 1).union(b)\n"             /* 10 */
    "k = r.count().count_by_value().reduce(max)\n"
    "g = k.reduce_by_key(sum).reduce_by_key(min, 16).reduce_by_key(count, partitions = 2)\n"
    "h = g.group_by_key().group_by_key(5).group_by_key(partitions = 6)\n"
    "j = a.join(b).left_outer_join(c, 2).right_outer_join(b, partitions = 3)\n"
    "j2 = j.full_outer_join(a).cogroup(b, 7)\n"                                /* 15 */
    "t = a.transform(\"join\", \"d.txt\").transform(\"left_outer_join\", \"d\")"
    ".transform(\"filter\", \"e\").transform(\"subtract\", \"f\")\n"
    "h.print()\n"
    "h.print(3)\n"
    "j2.save_as_text_files(\"out/j\")\n"
    "t.sqlite(\"db.sqlite\", \"my_table\")\n"                                  /* 20 */
    "push(\"d\").filter(matches(\"^a.*\")).publish()\n";

START_TEST(test_every_op)
{
    Sluice__JobSpec *s = sl_parse_ok(sl_every_op);
    ck_assert_str_eq(s->name, "every-op.v2");
    ck_assert_uint_eq(s->batch_ms, 1500);
    ck_assert_uint_eq(s->block_ms, 250);
    ck_assert_str_eq(s->library_name, "lib/udf.so");
    ck_assert_uint_eq(s->n_nodes, 31);

    sl_ck_node(s, 0, OP(PUSH), "a", -1, -1, 1, 5, 5);             /* partitions default 1 */
    sl_ck_node(s, 1, OP(PUSH), "b", -1, -1, 3, 6, 5);
    sl_ck_node(s, 2, OP(PUSH), "c", -1, -1, 4096, 7, 5);
    ck_assert_str_eq(s->nodes[2]->source, "c");

    sl_ck_node(s, 3, OP(MAP), "", 0, -1, 0, 8, 7);
    sl_ck_func(s, 3, "lower", NULL, NULL);
    sl_ck_node(s, 4, OP(FLAT_MAP), "", 3, -1, 0, 8, 18);
    sl_ck_func(s, 4, "split", ",", NULL);
    sl_ck_node(s, 5, OP(FILTER), "m", 4, -1, 0, 8, 39);
    sl_ck_func(s, 5, "contains", "x", NULL);

    sl_ck_node(s, 6, OP(MAP_VALUES), "", 5, -1, 0, 9, 8);
    sl_ck_func(s, 6, "field", "2", " ");
    sl_ck_node(s, 7, OP(FLAT_MAP_VALUES), "m2", 6, -1, 0, 9, 34);
    sl_ck_func(s, 7, "my_udf", NULL, NULL);

    sl_ck_node(s, 8, OP(REPARTITION), "", 7, -1, 8, 10, 8);
    sl_ck_node(s, 9, OP(REPARTITION), "", 8, -1, 1, 10, 23);
    sl_ck_node(s, 10, OP(UNION), "r", 9, 1, 0, 10, 51);

    sl_ck_node(s, 11, OP(COUNT), "", 10, -1, 0, 11, 7);
    sl_ck_node(s, 12, OP(COUNT_BY_VALUE), "", 11, -1, 0, 11, 15);
    sl_ck_node(s, 13, OP(REDUCE), "k", 12, -1, 0, 11, 32);
    sl_ck_func(s, 13, "max", NULL, NULL);

    sl_ck_node(s, 14, OP(REDUCE_BY_KEY), "", 13, -1, 0, 12, 7);
    sl_ck_func(s, 14, "sum", NULL, NULL);
    sl_ck_node(s, 15, OP(REDUCE_BY_KEY), "", 14, -1, 16, 12, 26);
    sl_ck_func(s, 15, "min", NULL, NULL);
    sl_ck_node(s, 16, OP(REDUCE_BY_KEY), "g", 15, -1, 2, 12, 49);
    sl_ck_func(s, 16, "count", NULL, NULL);

    sl_ck_node(s, 17, OP(GROUP_BY_KEY), "", 16, -1, 0, 13, 7);
    sl_ck_node(s, 18, OP(GROUP_BY_KEY), "", 17, -1, 5, 13, 22);
    sl_ck_node(s, 19, OP(GROUP_BY_KEY), "h", 18, -1, 6, 13, 38);

    sl_ck_node(s, 20, OP(JOIN), "", 0, 1, 0, 14, 7);
    sl_ck_node(s, 21, OP(LEFT_OUTER_JOIN), "", 20, 2, 2, 14, 15);
    sl_ck_node(s, 22, OP(RIGHT_OUTER_JOIN), "j", 21, 1, 3, 14, 37);
    sl_ck_node(s, 23, OP(FULL_OUTER_JOIN), "", 22, 0, 0, 15, 8);
    sl_ck_node(s, 24, OP(COGROUP), "j2", 23, 1, 7, 15, 27);

    static const char *const modes[][2] = {
        { "join", "d.txt" }, { "left_outer_join", "d" }, { "filter", "e" }, { "subtract", "f" },
    };
    static const uint32_t tcols[] = { 7, 34, 68, 93 };
    for (size_t i = 0; i < 4; i++) {
        sl_ck_node(s, 25 + i, OP(TRANSFORM), i == 3 ? "t" : "", (int)(i ? 24 + i : 0), -1, 0, 16,
                   tcols[i]);
        ck_assert_str_eq(s->nodes[25 + i]->mode, modes[i][0]);
        ck_assert_str_eq(s->nodes[25 + i]->path, modes[i][1]);
        sl_ck_func(s, 25 + i, NULL, NULL, NULL);
    }
    sl_ck_node(s, 29, OP(PUSH), "", -1, -1, 1, 21, 1);
    ck_assert_str_eq(s->nodes[29]->source, "d");
    sl_ck_node(s, 30, OP(FILTER), "", 29, -1, 0, 21, 11);
    sl_ck_func(s, 30, "matches", "^a.*", NULL);

    ck_assert_uint_eq(s->n_outputs, 5);
    sl_ck_output(s, 0, OUT(PRINT), 19, 10, "", "", 17, 3);       /* print() prints 10 */
    sl_ck_output(s, 1, OUT(PRINT), 19, 3, "", "", 18, 3);
    sl_ck_output(s, 2, OUT(SAVE_TEXT), 24, 0, "out/j", "", 19, 4);
    sl_ck_output(s, 3, OUT(SQLITE), 28, 0, "db.sqlite", "my_table", 20, 3);
    sl_ck_output(s, 4, OUT(PUBLISH), 30, 0, "", "", 21, 35);
    sluice__job_spec__free_unpacked(s, NULL);
}
END_TEST

/* --- layout ------------------------------------------------------------------------ */


static const char *const sl_layouts[] = {
    /* comments, blank lines, tabs, extra spaces, no final newline */
    "# Word count.\n"
    "\n"
    "   job   wordcount   # the name\n"
    "\tbatch\t1s\n"
    "\n"
    "# sources\n"
    "lines=push( \"lines\" ,partitions=2 )   # two partitions\n"
    "words = lines . flat_map ( split )\n"
    "counts = words.map(pair_one).reduce_by_key(sum)\n"
    "counts.print(10)\n"
    "counts.save_as_text_files(\"out/counts\")",
    /* CRLF line ends and a UTF-8 byte order mark */
    "\xef\xbb\xbfjob wordcount\r\n"
    "batch 1000ms\r\n"
    "lines = push(\"lines\", 2)\r\n"
    "words = lines.flat_map(split())\r\n"
    "counts = words.map(pair_one).reduce_by_key(sum)\r\n"
    "counts.print()\r\n"
    "counts.save_as_text_files(\"out/counts\")\r\n",
    /* chains continued on lines starting with '.', arguments across lines,
     * headers after the streams */
    "lines = push(\"lines\",\n"
    "             partitions = 2)\n"
    "words = lines\n"
    "    .flat_map(split)          # one word per record\n"
    "\n"
    "    # pairs, then sums\n"
    "counts = words\n"
    "    .map(pair_one)\n"
    "    .reduce_by_key(\n"
    "        sum\n"
    "    )\n"
    "counts.print(\n"
    "  10)\n"
    "counts\n"
    "  .save_as_text_files(\"out/counts\")\n"
    "batch 1s\n"
    "job wordcount\n",
};

START_TEST(test_layouts)
{
    size_t want_len, got_len;
    Sluice__JobSpec *ref = sl_parse_ok(sl_wordcount);
    uint8_t *want = sl_test_pack_unplaced(ref, &want_len);
    Sluice__JobSpec *s = sl_parse_ok(sl_layouts[_i]);
    uint8_t *got = sl_test_pack_unplaced(s, &got_len);
    ck_assert_msg(got_len == want_len && memcmp(got, want, want_len) == 0,
                  "layout %d gives a different spec", _i);
    free(got);
    free(want);
    sluice__job_spec__free_unpacked(s, NULL);
    sluice__job_spec__free_unpacked(ref, NULL);
}
END_TEST

/* Positions on continuation lines and after tabs (a tab is one column). */
START_TEST(test_positions_across_lines)
{
    Sluice__JobSpec *s = sl_parse_ok(sl_layouts[2]);
    sl_ck_node(s, 0, OP(PUSH), "lines", -1, -1, 2, 1, 9);
    sl_ck_node(s, 1, OP(FLAT_MAP), "words", 0, -1, 0, 4, 6);
    sl_ck_node(s, 2, OP(MAP), "", 1, -1, 0, 8, 6);
    sl_ck_node(s, 3, OP(REDUCE_BY_KEY), "counts", 2, -1, 0, 9, 6);
    sl_ck_output(s, 0, OUT(PRINT), 3, 10, "", "", 12, 8);
    sl_ck_output(s, 1, OUT(SAVE_TEXT), 3, 0, "out/counts", "", 15, 4);
    sluice__job_spec__free_unpacked(s, NULL);

    s = sl_parse_ok(sl_layouts[0]);
    sl_ck_node(s, 0, OP(PUSH), "lines", -1, -1, 2, 7, 7);
    sl_ck_node(s, 1, OP(FLAT_MAP), "words", 0, -1, 0, 8, 17);
    sluice__job_spec__free_unpacked(s, NULL);
}
END_TEST

/* --- headers, names, strings and numbers --------------------------------------------- */

START_TEST(test_headers_and_names)
{
    /* Header words are stream names when '=' or '.' follows; the library
     * line may come after the functions it provides. */
    Sluice__JobSpec *s = sl_parse_ok(
        "batch 2m\n"
        "job j_1\n"
        "block = push(\"block\")\n"
        "job2 = block.map(normalise)\n"
        "block.union(job2).publish()\n"
        "library \"udf.so\"   # provides normalise\n");
    ck_assert_str_eq(s->name, "j_1");
    ck_assert_uint_eq(s->batch_ms, 120000);
    ck_assert_str_eq(s->library_name, "udf.so");
    sl_ck_node(s, 0, OP(PUSH), "block", -1, -1, 1, 3, 9);
    sl_ck_node(s, 1, OP(MAP), "job2", 0, -1, 0, 4, 14);
    sl_ck_func(s, 1, "normalise", NULL, NULL);
    sl_ck_node(s, 2, OP(UNION), "", 0, 1, 0, 5, 7);
    sl_ck_output(s, 0, OUT(PUBLISH), 2, 0, "", "", 5, 19);
    sluice__job_spec__free_unpacked(s, NULL);

    /* wal on / off, with a comment after the value; 'wal' names a stream
     * when '=' or '.' follows. */
    s = sl_parse_ok("job w\nbatch 1s\nwal on   # ack once logged\nwal = push(\"wal\")\n"
                    "wal.print()\n");
    ck_assert(s->wal);
    sl_ck_node(s, 0, OP(PUSH), "wal", -1, -1, 1, 4, 7);
    sluice__job_spec__free_unpacked(s, NULL);
    s = sl_parse_ok("wal off\njob w\nbatch 1s\npush(\"x\").print()\n");
    ck_assert(!s->wal);
    sluice__job_spec__free_unpacked(s, NULL);
    /* The spelling, "wal = on", is the same line. */
    s = sl_parse_ok("job w\nbatch 1s\nwal = on\npush(\"x\").print()\n");
    ck_assert(s->wal);
    sluice__job_spec__free_unpacked(s, NULL);
    s = sl_parse_ok("job w\nbatch 1s\nwal=off\npush(\"x\").print()\n");
    ck_assert(!s->wal);
    sluice__job_spec__free_unpacked(s, NULL);

    /* The smallest batch, a block as long as it, the largest print count. */
    s = sl_parse_ok("job x\nbatch 10ms\nblock 10ms\npush(\"x\").print(1000000)\n");
    ck_assert_uint_eq(s->batch_ms, 10);
    ck_assert_uint_eq(s->block_ms, 10);
    sl_ck_output(s, 0, OUT(PRINT), 0, 1000000, "", "", 4, 11);
    sluice__job_spec__free_unpacked(s, NULL);
}
END_TEST

START_TEST(test_strings_and_numbers)
{
    Sluice__JobSpec *s = sl_parse_ok(
        "job s\nbatch 1s\n"
        "a = push(\"a # not a comment\")\n"
        "b = a.filter(contains(\"q\\\"uote\\\\back\\nline\\ttab\"))\n"
        "c = b.map(field(007, \"\\t\"))\n"
        "d = c.map(my_fn(-1, 1.5, 2x, \"\"))\n"
        "d.save_as_text_files(\"out dir/#1\")\n"
        "library \"u.so\"\n");
    ck_assert_str_eq(s->nodes[0]->source, "a # not a comment");
    sl_ck_func(s, 1, "contains", "q\"uote\\back\nline\ttab", NULL);
    sl_ck_func(s, 2, "field", "007", "\t");
    ck_assert_uint_eq(s->nodes[3]->func->n_args, 4);
    ck_assert_str_eq(s->nodes[3]->func->args[0], "-1");
    ck_assert_str_eq(s->nodes[3]->func->args[1], "1.5");
    ck_assert_str_eq(s->nodes[3]->func->args[2], "2x");
    ck_assert_str_eq(s->nodes[3]->func->args[3], "");
    ck_assert_str_eq(s->outputs[0]->path, "out dir/#1");
    sluice__job_spec__free_unpacked(s, NULL);
}
END_TEST

/* A long chain and many statements: the pool arrays grow. */
START_TEST(test_many_nodes)
{
    enum { N = 300 };
    size_t cap = 64 + N * 60;
    char *text = malloc(cap);
    ck_assert_ptr_nonnull(text);
    size_t n = (size_t)snprintf(text, cap, "job big\nbatch 1s\ns0 = push(\"s\")");
    for (int i = 0; i < N; i++)
        n += (size_t)snprintf(text + n, cap - n, ".map(lower)");
    for (int i = 1; i < N; i++)
        n += (size_t)snprintf(text + n, cap - n, "\ns%d = s%d.filter(contains(\"%d\"))", i,
                              i - 1, i);
    n += (size_t)snprintf(text + n, cap - n, "\ns%d.print()\n", N - 1);
    ck_assert_uint_lt(n, cap);
    Sluice__JobSpec *s = sl_parse_ok(text);
    ck_assert_uint_eq(s->n_nodes, 2 * N);
    sl_ck_node(s, 2 * N - 1, OP(FILTER), "s299", 2 * N - 2, -1, 0, N + 2, 13);
    sl_ck_func(s, 2 * N - 1, "contains", "299", NULL);
    ck_assert_uint_eq(s->outputs[0]->input, 2 * N - 1);
    sluice__job_spec__free_unpacked(s, NULL);
    free(text);
}
END_TEST

/* --- bad job files -------------------------------------------------------------------------- */

#define HDR "job wc\nbatch 1s\nlines = push(\"lines\")\n"     /* lines 1-3 */

typedef struct {
    const char *text;
    const char *where;      /* the message starts with this */
    const char *phrase;     /* and contains this */
} sl_bad_job_t;

static const sl_bad_job_t sl_bad_jobs[] = {
    /* 0: unknown operation, with a suggestion */
    { HDR "words = lines.flatmap(split)\n", "wc.job:4:15: ",
      "unknown operation 'flatmap' (did you mean flat_map?)" },
    { HDR "lines.frobnicate()\n", "wc.job:4:7: ", "unknown operation 'frobnicate'" },
    { HDR "wrds.print()\n", "wc.job:4:1: ", "unknown stream 'wrds'" },
    { HDR "words = lines.map(lower)\nwords.union(wrds).print()\n", "wc.job:5:13: ",
      "unknown stream 'wrds' (did you mean words?)" },
    { HDR "lines = push(\"other\")\n", "wc.job:4:1: ",
      "duplicate name 'lines' (first defined at line 3)" },
    /* 5: whole-file errors */
    { "batch 1s\nlines = push(\"l\")\nlines.print()\n", "wc.job:1:1: ", "missing 'job NAME' line" },
    { "# c\njob wc\nlines = push(\"l\")\nlines.print()\n", "wc.job:2:1: ",
      "missing 'batch DURATION' line" },
    { HDR "lines.map(lower).count()\n", "wc.job:4:1: ", "statement has no output" },
    { HDR, "wc.job:1:1: ", "job 'wc' has no output" },
    { "job wc\nbatch 1s\njob other\n", "wc.job:3:1: ", "duplicate 'job' line (first at line 1)" },
    /* 10: header values */
    { "job wc\nbatch 1x\n", "wc.job:2:7: ", "invalid duration '1x'" },
    { "job wc\nbatch\n", "wc.job:2:6: ", "expected a duration after 'batch'" },
    { "job wc\nbatch 5ms\n", "wc.job:2:7: ", "batch interval '5ms' is below the minimum of 10ms" },
    { "job wc\nbatch 1s\nblock 2s\n", "wc.job:3:7: ",
      "block interval 2s is longer than the batch interval 1s" },
    { "job wc\nblock 0\n", "wc.job:2:7: ", "block interval must be more than 0" },
    /* 15 */
    { "job wc!\n", "wc.job:1:5: ", "invalid job name 'wc!'" },
    { "job word count\n", "wc.job:1:10: ", "unexpected 'count' after the 'job' value" },
    { "job wc\nbacth 1s\n", "wc.job:2:1: ", "unknown statement 'bacth' (did you mean batch?)" },
    { "job wc\nlibrary udf.so\n", "wc.job:2:9: ",
      "expected a quoted path after 'library', got 'udf'" },
    /* lexical errors */
    { HDR "lines.save_as_text_files(\"out)\n", "wc.job:4:26: ", "unterminated string" },
    /* 20 */
    { HDR "lines.print() @\n", "wc.job:4:15: ", "unexpected character '@'" },
    { HDR "lines.filter(contains(\"a\\qb\")).print()\n", "wc.job:4:25: ",
      "unknown escape '\\q' in string" },
    { HDR "lines.print(\0)\n", "wc.job:4:13: ", "unexpected byte 0x00" },
    { HDR "lines print()\n", "wc.job:4:7: ", "expected '=' or '.', got 'print'" },
    { HDR "words = lines.map(lower) extra\n", "wc.job:4:26: ",
      "expected '.' or the end of the line, got 'extra'" },
    /* 25: argument counts and types */
    { HDR "lines.map().print()\n", "wc.job:4:7: ",
      "map expects 1 argument, got 0 (usage: map(f))" },
    { HDR "lines.reduce_by_key(sum, 2, 3).print()\n", "wc.job:4:7: ",
      "reduce_by_key expects 1 or 2 arguments, got 3" },
    { HDR "lines.count(3).print()\n", "wc.job:4:7: ", "count expects no arguments, got 1" },
    { HDR "lines.union(\"b\").print()\n", "wc.job:4:13: ",
      "union: argument 1 must be a stream name, not a string" },
    { HDR "lines.map(\"lower\").print()\n", "wc.job:4:11: ",
      "map: argument 1 must be a function, not a string" },
    /* 30 */
    { HDR "lines.save_as_text_files(out).print()\n", "wc.job:4:26: ",
      "argument 1 must be a quoted string, not a name" },
    { HDR "lines.map(field(n, \",\")).print()\n", "wc.job:4:17: ",
      "expected a quoted string or a number as function argument, got 'n'" },
    { HDR "lines.print(\n", "wc.job:5:1: ", "expected an argument, got end of file" },
    { HDR "lines.print(5 5)\n", "wc.job:4:15: ", "expected ',' or ')', got '5'" },
    /* functions */
    { HDR "words = lines.flat_map(splitt)\nwords.print()\n", "wc.job:4:24: ",
      "unknown function 'splitt' (did you mean split?)" },
    /* 35 */
    { HDR "words = lines.flat_map(tokenize)\nwords.print()\n", "wc.job:4:24: ",
      "unknown function 'tokenize' (not built in, and the job has no 'library' line)" },
    { HDR "lines.map(sum).print()\n", "wc.job:4:11: ", "'sum' is a reducer" },
    { HDR "lines.map(field(2)).print()\n", "wc.job:4:11: ", "field expects 2 arguments" },
    /* partitions */
    { HDR "lines.repartition(0).print()\n", "wc.job:4:19: ",
      "partition count 0 is out of range (1..4096)" },
    { HDR "lines.group_by_key(partitions = 4097).print()\n", "wc.job:4:33: ",
      "partition count 4097 is out of range" },
    /* 40 */
    { "job wc\nbatch 1s\nl = push(\"l\", partitions = -2)\n", "wc.job:3:28: ",
      "partition count -2 is out of range" },
    { HDR "lines.repartition(2x).print()\n", "wc.job:4:19: ",
      "partition count '2x' is not a whole number" },
    { HDR "lines.map(lower, partitions = 3).print()\n", "wc.job:4:18: ",
      "map takes no partition count" },
    { HDR "lines.reduce_by_key(sum, parts = 3).print()\n", "wc.job:4:26: ",
      "unknown keyword argument 'parts'" },
    { HDR "lines.join(lines, partitions = 2, partitions = 3).print()\n", "wc.job:4:35: ",
      "partitions given twice" },
    /* 45 */
    { HDR "lines.join(partitions = 2, lines).print()\n", "wc.job:4:28: ",
      "positional argument after 'partitions ='" },
    { HDR "lines.print(0)\n", "wc.job:4:13: ", "count 0 is out of range (1..1000000)" },
    /* statement shapes */
    { HDR "lines.print().print()\n", "wc.job:4:14: ",
      "unexpected '.' after output print(), which ends the statement" },
    { HDR "x = lines.print()\n", "wc.job:4:11: ",
      "print() is an output and gives no stream to assign to 'x'" },
    { HDR "x = lines\nx.print()\n", "wc.job:4:5: ", "'x = lines' defines no new stream" },
    /* 50 */
    { HDR "x = lines.push(\"a\")\n", "wc.job:4:11: ", "push is a source" },
    { HDR "x = pish(\"a\")\n", "wc.job:4:5: ", "unknown source 'pish' (did you mean push?)" },
    { HDR "= lines\n", "wc.job:4:1: ", "expected a statement, got '='" },
    { HDR "x =\n", "wc.job:4:4: ", "expected push(...) or a stream name, got end of line" },
    /* checks of the validator, placed at the operation */
    { HDR "lines.transform(\"joinn\", \"d.txt\").print()\n", "wc.job:4:7: ",
      "unknown transform mode 'joinn'" },
    /* 55 */
    { HDR "again = push(\"lines\")\nagain.print()\n", "wc.job:4:9: ",
      "stream 'lines' is already pushed at line 3" },
    { HDR "lines.sqlite(\"db\", \"bad table\")\n", "wc.job:4:7: ",
      "invalid table name 'bad table'" },
    { HDR "x = push(\"\")\nx.print()\n", "wc.job:4:5: ", "push needs a stream name" },
    { HDR "lines.transform(\"join\", \"\").print()\n", "wc.job:4:7: ", "transform needs the path" },    /* 59: the wal line */
    { "job wc\nbatch 1s\nwal yes\n", "wc.job:3:5: ", "wal: expected 'on' or 'off', got 'yes'" },
    /* 60 */
    { "job wc\nbatch 1s\nwal\n", "wc.job:3:4: ", "expected 'on' or 'off' after 'wal'" },
    { "job wc\nwal on\nbatch 1s\nwal off\n", "wc.job:4:1: ",
      "duplicate 'wal' line (first at line 2)" },
    { "job wc\nbatch 1s\nwal on off\n", "wc.job:3:8: ", "unexpected 'off' after the 'wal' value" },
    { "job wc\nbatch 1s\nwall on\n", "wc.job:3:1: ",
      "unknown statement 'wall' (did you mean wal?)" },
};

START_TEST(test_bad_jobs)
{
    const sl_bad_job_t *c = &sl_bad_jobs[_i];
    /* The NUL case is the only one with an embedded NUL: measure up to "\n" after it. */
    size_t len = strlen(c->text);
    if (strcmp(c->phrase, "unexpected byte 0x00") == 0)
        len += 1 + strlen(c->text + len + 1);
    char err[SL_ERRMSG_LEN] = "";
    Sluice__JobSpec *spec = (Sluice__JobSpec *)&err;
    sl_status_t st = sl_jobfile_parse(c->text, len, "wc.job", &spec, err);
    ck_assert_msg(st == SL_ERR_INVALID, "case %d: wanted an error, got %s\n%s", _i, sl_strerror(st),
                  c->text);
    ck_assert_ptr_null(spec);
    ck_assert_msg(strncmp(err, c->where, strlen(c->where)) == 0,
                  "case %d: '%s' does not start with '%s'", _i, err, c->where);
    ck_assert_msg(strstr(err, c->phrase) != NULL, "case %d: '%s' does not contain '%s'", _i, err,
                  c->phrase);
}
END_TEST

/* --- odds and ends -------------------------------------------------------------------------- */

START_TEST(test_edges)
{
    Sluice__JobSpec *spec = NULL;
    char err[SL_ERRMSG_LEN] = "";
    /* Empty text, NULL text, NULL err and origin. */
    ck_assert_int_eq(sl_jobfile_parse("", 0, "e.job", &spec, err), SL_ERR_INVALID);
    ck_assert_str_eq(err, "e.job:1:1: missing 'job NAME' line");
    ck_assert_int_eq(sl_jobfile_parse(NULL, 0, NULL, &spec, err), SL_ERR_INVALID);
    ck_assert_str_eq(err, "<job>:1:1: missing 'job NAME' line");
    ck_assert_int_eq(sl_jobfile_parse("job x", 5, "e.job", &spec, NULL), SL_ERR_INVALID);
    ck_assert_ptr_null(spec);

    /* Only `len` bytes count: the rest of the buffer is not read. */
    static const char cut[] = "job wc\nbatch 1s\npush(\"a\").print()\nGARBAGE";
    ck_assert_int_eq(sl_jobfile_parse(cut, sizeof cut - 1 - strlen("GARBAGE"), "e.job", &spec, err),
                     SL_OK);
    sluice__job_spec__free_unpacked(spec, NULL);

    /* A long origin truncates the message but keeps it terminated. */
    char origin[400];
    memset(origin, 'o', sizeof origin - 1);
    origin[sizeof origin - 1] = '\0';
    ck_assert_int_eq(sl_jobfile_parse("job wc\n", 7, origin, &spec, err), SL_ERR_INVALID);
    ck_assert_uint_eq(strlen(err), SL_ERRMSG_LEN - 1);

    /* A user function makes no error once a library line appears. */
    const char *lib = "job wc\nbatch 1s\npush(\"a\").map(f1).map(f2).print()\nlibrary \"x.so\"\n";
    ck_assert_int_eq(sl_jobfile_parse(lib, strlen(lib), "e.job", &spec, err), SL_OK);
    sluice__job_spec__free_unpacked(spec, NULL);
    ck_assert_int_eq(sl_jobfile_parse(lib, strlen(lib) - 15, "e.job", &spec, err), SL_ERR_INVALID);
    ck_assert_str_eq(err, "e.job:3:15: unknown function 'f1' (not built in, and the job has no "
                          "'library' line)");

    /* The parser's spec passes the validator by construction. */
    spec = sl_parse_ok(sl_every_op);
    ck_assert_int_eq(sl_jobspec_validate(spec, NULL, err), SL_OK);
    sluice__job_spec__free_unpacked(spec, NULL);
}
END_TEST

Suite *sl_test_jobfile_suite(void)
{
    Suite *s = suite_create("jobfile");
    TCase *good = tcase_create("good");
    tcase_add_test(good, test_wordcount);
    tcase_add_test(good, test_every_op);
    tcase_add_loop_test(good, test_layouts, 0, (int)SL_NELEM(sl_layouts));
    tcase_add_test(good, test_positions_across_lines);
    tcase_add_test(good, test_headers_and_names);
    tcase_add_test(good, test_strings_and_numbers);
    tcase_add_test(good, test_many_nodes);
    suite_add_tcase(s, good);
    TCase *bad = tcase_create("bad");
    tcase_add_loop_test(bad, test_bad_jobs, 0, (int)SL_NELEM(sl_bad_jobs));
    tcase_add_test(bad, test_edges);
    suite_add_tcase(s, bad);
    return s;
}
