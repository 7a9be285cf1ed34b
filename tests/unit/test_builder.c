/* Tests for client/builder.c: the C builder gives the same JobSpec as the job
 * file for the word count of DESIGN.md and for a job using every operation
 * and output; construction errors are kept and reported once; job files are
 * loaded with their library (found next to the job file) and with output and
 * transform paths made absolute against the current directory. */
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include "client/client-internal.h"
#include "client/jobfile.h"
#include "unit.h"

Suite *sl_test_builder_suite(void);

static Sluice__JobSpec *sl_parse_text(const char *text)
{
    char err[SL_ERRMSG_LEN] = "";
    Sluice__JobSpec *spec = NULL;
    sl_status_t st = sl_jobfile_parse(text, strlen(text), "test.job", &spec, err);
    ck_assert_msg(st == SL_OK, "%s: %s\n--- job file:\n%s", sl_strerror(st), err, text);
    return spec;
}


/* Field-by-field first, for a readable failure; then the packed bytes. */
static void sl_ck_same_spec(const Sluice__JobSpec *built, Sluice__JobSpec *parsed)
{
    ck_assert_str_eq(built->name, parsed->name);
    ck_assert_uint_eq(built->batch_ms, parsed->batch_ms);
    ck_assert_uint_eq(built->block_ms, parsed->block_ms);
    ck_assert_int_eq(built->wal, parsed->wal);
    ck_assert_str_eq(built->library_name, parsed->library_name);
    ck_assert_uint_eq(built->n_nodes, parsed->n_nodes);
    for (size_t i = 0; i < built->n_nodes; i++) {
        const Sluice__StreamNode *b = built->nodes[i], *p = parsed->nodes[i];
        ck_assert_msg(b->op == p->op, "node %zu: op %d, want %d", i, b->op, p->op);
        ck_assert_msg(strcmp(b->name, p->name) == 0, "node %zu: name '%s', want '%s'", i, b->name,
                      p->name);
        ck_assert_msg(b->n_inputs == p->n_inputs, "node %zu: %zu inputs, want %zu", i,
                      b->n_inputs, p->n_inputs);
        for (size_t k = 0; k < b->n_inputs; k++)
            ck_assert_msg(b->inputs[k] == p->inputs[k], "node %zu: input %zu is %u, want %u", i,
                          k, b->inputs[k], p->inputs[k]);
        ck_assert_msg(b->partitions == p->partitions, "node %zu: %u partitions, want %u", i,
                      b->partitions, p->partitions);
        ck_assert_msg(!b->func == !p->func, "node %zu: function %s, want %s", i,
                      b->func ? b->func->name : "none", p->func ? p->func->name : "none");
        if (b->func) {
            ck_assert_str_eq(b->func->name, p->func->name);
            ck_assert_uint_eq(b->func->n_args, p->func->n_args);
            for (size_t k = 0; k < b->func->n_args; k++)
                ck_assert_str_eq(b->func->args[k], p->func->args[k]);
        }
        ck_assert_str_eq(b->source, p->source);
        ck_assert_str_eq(b->mode, p->mode);
        ck_assert_str_eq(b->path, p->path);
    }
    ck_assert_uint_eq(built->n_outputs, parsed->n_outputs);
    for (size_t i = 0; i < built->n_outputs; i++) {
        const Sluice__OutputSpec *b = built->outputs[i], *p = parsed->outputs[i];
        ck_assert_msg(b->kind == p->kind, "output %zu: kind %d, want %d", i, b->kind, p->kind);
        ck_assert_uint_eq(b->input, p->input);
        ck_assert_uint_eq(b->count, p->count);
        ck_assert_str_eq(b->path, p->path);
        ck_assert_str_eq(b->table, p->table);
    }
    size_t blen, plen;
    uint8_t *bbuf = malloc(sluice__job_spec__get_packed_size(built) + 1);
    ck_assert_ptr_nonnull(bbuf);
    blen = sluice__job_spec__pack(built, bbuf);
    uint8_t *pbuf = sl_test_pack_unplaced(parsed, &plen);
    ck_assert_uint_eq(blen, plen);
    ck_assert_msg(memcmp(bbuf, pbuf, blen) == 0, "packed specs differ");
    free(bbuf);
    free(pbuf);
}

/* --- the word count of DESIGN.md --------------------------------------------- */

static const char sl_wordcount[] =
    "job wordcount\n"
    "batch 1s\n"
    "lines  = push(\"lines\", partitions = 2)\n"
    "words  = lines.flat_map(split)\n"
    "counts = words.map(pair_one).reduce_by_key(sum)\n"
    "counts.print(10)\n"
    "counts.save_as_text_files(\"out/counts\")\n";

START_TEST(test_wordcount_same_spec)
{
    sl_job_t *j = sl_job_new("wordcount", 1000);
    ck_assert_ptr_nonnull(j);
    int lines = sl_name(j, sl_push_stream(j, "lines", 2), "lines");
    int words = sl_name(j, sl_flat_map(j, lines, "split", NULL, 0), "words");
    int pairs = sl_map(j, words, "pair_one", NULL, 0);
    int counts = sl_name(j, sl_reduce_by_key(j, pairs, "sum", 0), "counts");
    ck_assert_int_eq(lines, 0);
    ck_assert_int_eq(words, 1);
    ck_assert_int_eq(pairs, 2);
    ck_assert_int_eq(counts, 3);
    ck_assert_int_eq(sl_print(j, counts, 10), 0);
    ck_assert_int_eq(sl_save_as_text_files(j, counts, "out/counts"), 1);
    ck_assert_ptr_null(sl_job_error(j));
    const Sluice__JobSpec *built = sl_job_spec(j);
    ck_assert_ptr_nonnull(built);

    Sluice__JobSpec *parsed = sl_parse_text(sl_wordcount);
    sl_ck_same_spec(built, parsed);
    sluice__job_spec__free_unpacked(parsed, NULL);
    sl_job_free(j);
}
END_TEST

/* --- every operation and output ------------------------------------------------- */

static const char sl_every_op[] =
    "job every-op\n"
    "batch 1.5s\n"
    "block 250ms\n"
    "wal on\n"
    "library \"lib/udf.so\"\n"
    "a = push(\"a\")\n"
    "b = push(\"b\", 3)\n"
    "m = a.map(lower).flat_map(split(\",\")).filter(contains(\"x\"))\n"
    "m2 = m.map_values(field(2, \" \")).flat_map_values(my_udf)\n"
    "r = m2.repartition(8).union(b)\n"
    "k = r.count().count_by_value().reduce(max)\n"
    "g = k.reduce_by_key(min, 16).group_by_key(5)\n"
    "j = a.join(b).left_outer_join(g, 2).right_outer_join(b, partitions = 3)\n"
    "j2 = j.full_outer_join(a).cogroup(b, 7)\n"
    "t = a.transform(\"join\", \"d.txt\").transform(\"subtract\", \"f\")\n"
    "g.print()\n"
    "g.print(3)\n"
    "j2.save_as_text_files(\"out/j\")\n"
    "t.sqlite(\"db.sqlite\", \"my_table\")\n"
    "k.publish()\n";

START_TEST(test_every_op_same_spec)
{
    static const char *const comma[] = { "," };
    static const char *const x[] = { "x" };
    static const char *const field2[] = { "2", " " };
    sl_job_t *j = sl_job_new("every-op", 1500);
    ck_assert_ptr_nonnull(j);
    sl_job_set_block_interval(j, 250);
    sl_job_set_wal(j, true);
    ck_assert_int_eq(sl_job_set_library(j, "lib/udf.so", NULL), SL_OK);
    int a = sl_name(j, sl_push_stream(j, "a", 0), "a");
    int b = sl_name(j, sl_push_stream(j, "b", 3), "b");
    int m = sl_name(j, sl_filter(j, sl_flat_map(j, sl_map(j, a, "lower", NULL, 0), "split", comma, 1),
                                 "contains", x, 1), "m");
    int m2 = sl_name(j, sl_flat_map_values(j, sl_map_values(j, m, "field", field2, 2), "my_udf",
                                           NULL, 0), "m2");
    int r = sl_name(j, sl_union(j, sl_repartition(j, m2, 8), b), "r");
    int k = sl_name(j, sl_reduce(j, sl_count_by_value(j, sl_count(j, r)), "max"), "k");
    int g = sl_name(j, sl_group_by_key(j, sl_reduce_by_key(j, k, "min", 16), 5), "g");
    int jn = sl_name(j, sl_right_outer_join(j, sl_left_outer_join(j, sl_join(j, a, b, 0), g, 2), b, 3),
                     "j");
    int j2 = sl_name(j, sl_cogroup(j, sl_full_outer_join(j, jn, a, 0), b, 7), "j2");
    int t = sl_name(j, sl_transform(j, sl_transform(j, a, "join", "d.txt"), "subtract", "f"), "t");
    ck_assert_int_ge(sl_print(j, g, 0), 0);
    ck_assert_int_ge(sl_print(j, g, 3), 0);
    ck_assert_int_ge(sl_save_as_text_files(j, j2, "out/j"), 0);
    ck_assert_int_ge(sl_sqlite(j, t, "db.sqlite", "my_table"), 0);
    ck_assert_int_eq(sl_publish(j, k), 4);
    ck_assert_msg(sl_job_error(j) == NULL, "%s", sl_job_error(j));

    Sluice__JobSpec *parsed = sl_parse_text(sl_every_op);
    sl_ck_same_spec(sl_job_spec(j), parsed);
    sluice__job_spec__free_unpacked(parsed, NULL);
    sl_job_free(j);
}
END_TEST

/* --- construction errors ------------------------------------------------------------ */

START_TEST(test_errors_kept)
{
    char err[SL_ERRMSG_LEN] = "", id[SL_JOB_ID_LEN] = "";
    sl_job_t *j = sl_job_new("bad", 1000);
    int lines = sl_push_stream(j, "lines", 1);
    ck_assert_int_eq(lines, 0);
    /* A node that does not exist: the first error, kept. */
    int w = sl_map(j, 7, "lower", NULL, 0);
    ck_assert_int_eq(w, -1);
    ck_assert_ptr_nonnull(sl_job_error(j));
    SL_CK_CONTAINS(sl_job_error(j), "sl_map");
    SL_CK_CONTAINS(sl_job_error(j), "7 is not a node");
    /* Later calls fail too, and keep the first message. */
    ck_assert_int_eq(sl_filter(j, lines, "nonempty", NULL, 0), -1);
    ck_assert_int_eq(sl_print(j, w, 10), -1);
    SL_CK_CONTAINS(sl_job_error(j), "sl_map");
    ck_assert_ptr_null(sl_job_spec(j));
    /* Submitting reports it without touching the (absent) client. */
    ck_assert_int_eq(sl_job_submit(NULL, j, id, err), SL_ERR_INVALID);
    SL_CK_CONTAINS(err, "7 is not a node");
    sl_job_free(j);

    j = sl_job_new("bad", 1000);
    ck_assert_int_eq(sl_map(j, sl_push_stream(j, "s", 0), NULL, NULL, 0), -1);
    SL_CK_CONTAINS(sl_job_error(j), "no function given");
    sl_job_free(j);

    j = sl_job_new("bad", 1000);
    ck_assert_int_eq(sl_push_stream(j, "", 0), -1);
    SL_CK_CONTAINS(sl_job_error(j), "no stream name given");
    sl_job_free(j);

    j = sl_job_new("bad", 1000);
    ck_assert_int_eq(sl_map(j, sl_push_stream(j, "s", 0), "field", NULL, 2), -1);
    SL_CK_CONTAINS(sl_job_error(j), "argument 1 of 'field' is NULL");
    sl_job_free(j);

    j = sl_job_new("bad", 1000);
    ck_assert_int_eq(sl_print(j, -1, 3), -1);
    SL_CK_CONTAINS(sl_job_error(j), "sl_print: -1 is not a node");
    sl_job_free(j);

    sl_job_free(NULL);
}
END_TEST

/* --- job files: library and paths ------------------------------------------------------ */

typedef struct {
    char dir[64];
    char job[128];
    char lib[128];
} sl_tmp_job_t;

static void sl_write(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(data, 1, len, f), len);
    fclose(f);
}

static void sl_tmp_job(sl_tmp_job_t *t, const char *text, bool with_lib)
{
    snprintf(t->dir, sizeof t->dir, "/tmp/sl-builder-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(t->dir));
    snprintf(t->job, sizeof t->job, "%s/wc.job", t->dir);
    snprintf(t->lib, sizeof t->lib, "%s/udf.so", t->dir);
    sl_write(t->job, text, strlen(text));
    if (with_lib)
        sl_write(t->lib, "\x7f" "ELF-not-really\0x", 16);
}

static void sl_tmp_job_rm(sl_tmp_job_t *t)
{
    unlink(t->job);
    unlink(t->lib);
    rmdir(t->dir);
}

static const char sl_lib_job[] =
    "job paths\n"
    "batch 1s\n"
    "\n"
    "  library \"udf.so\"\n"
    "a = push(\"a\")\n"
    "t = a.map(my_udf).transform(\"filter\", \"data/keep.txt\").transform(\"join\", \"/abs/d\")\n"
    "t.save_as_text_files(\"out/t\")\n"
    "t.sqlite(\"state/db.sqlite\", \"tab\")\n"
    "t.save_as_text_files(\"/already/abs\")\n";

START_TEST(test_jobfile_load)
{
    sl_tmp_job_t t;
    char err[SL_ERRMSG_LEN] = "", cwd[PATH_MAX], want[PATH_MAX + 64];
    ck_assert_ptr_nonnull(getcwd(cwd, sizeof cwd));
    sl_tmp_job(&t, sl_lib_job, true);
    Sluice__JobSpec *s = NULL;
    sl_status_t st = sl_jobfile_load(t.job, &s, err);
    ck_assert_msg(st == SL_OK, "%s", err);
    ck_assert_str_eq(s->library_name, "udf.so");
    ck_assert_uint_eq(s->library.len, 16);
    ck_assert_int_eq(memcmp(s->library.data, "\x7f" "ELF-not-really\0x", 16), 0);
    ck_assert_uint_eq(s->n_nodes, 4);
    snprintf(want, sizeof want, "%s/data/keep.txt", cwd);
    ck_assert_str_eq(s->nodes[2]->path, want);
    ck_assert_str_eq(s->nodes[3]->path, "/abs/d");
    ck_assert_str_eq(s->nodes[1]->path, "");    /* a map has no path to fix */
    snprintf(want, sizeof want, "%s/out/t", cwd);
    ck_assert_str_eq(s->outputs[0]->path, want);
    snprintf(want, sizeof want, "%s/state/db.sqlite", cwd);
    ck_assert_str_eq(s->outputs[1]->path, want);
    ck_assert_str_eq(s->outputs[1]->table, "tab");
    ck_assert_str_eq(s->outputs[2]->path, "/already/abs");
    sluice__job_spec__free_unpacked(s, NULL);
    sl_tmp_job_rm(&t);
}
END_TEST

START_TEST(test_jobfile_missing_library)
{
    sl_tmp_job_t t;
    char err[SL_ERRMSG_LEN] = "";
    sl_tmp_job(&t, sl_lib_job, false);
    Sluice__JobSpec *s = NULL;
    sl_status_t st = sl_jobfile_load(t.job, &s, err);
    ck_assert_int_ne(st, SL_OK);
    ck_assert_ptr_null(s);
    char pos[400];
    snprintf(pos, sizeof pos, "%s:4:3: cannot read library '%s'", t.job, t.lib);
    SL_CK_CONTAINS(err, pos);
    SL_CK_CONTAINS(err, "No such file");
    sl_tmp_job_rm(&t);
}
END_TEST

START_TEST(test_jobfile_errors_pass_through)
{
    sl_tmp_job_t t;
    char err[SL_ERRMSG_LEN] = "";
    sl_tmp_job(&t, "job x\nbatch 1s\na = push(\"a\")\na.flatmap(split).print()\n", false);
    Sluice__JobSpec *s = NULL;
    ck_assert_int_eq(sl_jobfile_load(t.job, &s, err), SL_ERR_INVALID);
    char pos[200];
    snprintf(pos, sizeof pos, "%s:4:", t.job);
    SL_CK_CONTAINS(err, pos);
    SL_CK_CONTAINS(err, "flatmap");
    sl_tmp_job_rm(&t);

    ck_assert_int_ne(sl_jobfile_load("/nonexistent/dir/x.job", &s, err), SL_OK);
    SL_CK_CONTAINS(err, "cannot read job file '/nonexistent/dir/x.job'");
}
END_TEST

START_TEST(test_builder_paths_absolutized_at_submit_only)
{
    char err[SL_ERRMSG_LEN] = "", cwd[PATH_MAX], want[PATH_MAX + 64];
    ck_assert_ptr_nonnull(getcwd(cwd, sizeof cwd));
    sl_job_t *j = sl_job_new("p", 1000);
    int a = sl_push_stream(j, "a", 1);
    sl_sqlite(j, sl_transform(j, a, "filter", "keep.txt"), "db", "t");
    /* The builder keeps what it was given... */
    ck_assert_str_eq(sl_job_spec(j)->outputs[0]->path, "db");
    /* ...and submission makes a copy absolute. */
    size_t len = sluice__job_spec__get_packed_size(sl_job_spec(j));
    uint8_t *buf = malloc(len);
    ck_assert_ptr_nonnull(buf);
    sluice__job_spec__pack(sl_job_spec(j), buf);
    Sluice__JobSpec *copy = sluice__job_spec__unpack(NULL, len, buf);
    ck_assert_ptr_nonnull(copy);
    free(buf);
    ck_assert_int_eq(sl_jobspec_absolutize(copy, err), SL_OK);
    snprintf(want, sizeof want, "%s/db", cwd);
    ck_assert_str_eq(copy->outputs[0]->path, want);
    snprintf(want, sizeof want, "%s/keep.txt", cwd);
    ck_assert_str_eq(copy->nodes[1]->path, want);
    sluice__job_spec__free_unpacked(copy, NULL);
    sl_job_free(j);
}
END_TEST

Suite *sl_test_builder_suite(void)
{
    Suite *s = suite_create("builder");
    TCase *tc = tcase_create("builder");
    tcase_add_test(tc, test_wordcount_same_spec);
    tcase_add_test(tc, test_every_op_same_spec);
    tcase_add_test(tc, test_errors_kept);
    tcase_add_test(tc, test_jobfile_load);
    tcase_add_test(tc, test_jobfile_missing_library);
    tcase_add_test(tc, test_jobfile_errors_pass_through);
    tcase_add_test(tc, test_builder_paths_absolutized_at_submit_only);
    suite_add_tcase(s, tc);
    return s;
}
