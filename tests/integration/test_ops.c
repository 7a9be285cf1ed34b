/* Every operation of the engine, end to end: per-batch input pushed through
 * the CLI, one tick per batch, and each operation's exact expected output per
 * batch, read back from its save_as_text_files directory (as multisets where
 * the engine leaves the order undefined). Every job runs an empty batch too,
 * and the joins see keys present on one side only. Operations are grouped
 * into one job per test so that the suite stays fast; print, publish and
 * sqlite have a test of their own. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include "engine.h"
#include "tests.h"

#define IT_OPS_BATCHES 4

/* A NULL-terminated list of expected lines, and the empty one. */
#define IT_L(...) ((const char *const[]){ __VA_ARGS__, NULL })
#define IT_NONE IT_L(NULL)

/* What one push source gets per batch ("" for nothing). A stream may have
 * several entries, e.g. ints and doubles. */
typedef struct {
    const char *stream;
    const char *format;         /* "kv" or NULL (text) */
    const char *vtype;          /* "int", "double" or NULL (bytes) */
    const char *lines[IT_OPS_BATCHES];
} it_op_input_t;

/* One operation's output: a save_as_text_files prefix under the temp dir,
 * how to normalise it, its partition count (= part files per batch) and the
 * expected lines of each batch. */
typedef struct {
    const char *op;
    const char *out;
    it_norm_t norm;
    size_t parts;
    const char *const *want[IT_OPS_BATCHES];
} it_op_case_t;

typedef struct {
    const char *job;
    const char *text;
    const it_op_input_t *inputs;
    size_t ninputs;
    size_t nbatches;
    const it_op_case_t *cases;
    size_t ncases;
} it_op_job_t;

/* Starts a cluster, submits the job, pushes and ticks batch by batch, then
 * checks every operation's output of every batch and the input counts. */
static void it_ops_run(it_ctx_t *t, const it_op_job_t *job)
{
    it_engine_t e;
    IT_CHECK(t, it_engine_start(t, &e), "manual-clock cluster with two workers");
    char file[96];
    snprintf(file, sizeof file, "%s.job", job->job);
    IT_CHECK(t, it_engine_submit(t, &e, file, job->text, job->job), "submit %s", job->job);

    long long input[IT_OPS_BATCHES] = { 0 };
    for (size_t b = 0; b < job->nbatches; b++) {
        for (size_t i = 0; i < job->ninputs; i++) {
            const it_op_input_t *in = &job->inputs[i];
            IT_CHECK(t, it_engine_push(t, &e, job->job, in->stream, in->lines[b], in->format,
                                       in->vtype),
                     "push batch %zu of %s", b + 1, in->stream);
            input[b] += (long long)it_count_lines(in->lines[b]);
        }
        int64_t time;
        IT_CHECK(t, it_engine_tick(t, &e, job->job, 1, &time), "tick batch %zu", b + 1);
        IT_CHECK_EQ(t, time, (int64_t)(b + 1) * IT_BATCH_MS, "batch time");
    }

    for (size_t c = 0; c < job->ncases; c++) {
        const it_op_case_t *oc = &job->cases[c];
        for (size_t b = 0; b < job->nbatches; b++) {
            int64_t time = (int64_t)(b + 1) * IT_BATCH_MS;
            IT_CHECK(t, it_engine_check_batch(t, oc->out, time, oc->want[b], oc->norm, oc->parts),
                     "%s: output of batch %" PRId64, oc->op, time);
        }
    }

    json_t *bl = it_engine_batches(t, &e, job->job);
    IT_CHECK(t, bl != NULL, "sluice batches %s --json", job->job);
    bool ok = true;
    for (size_t b = 0; b < job->nbatches && ok; b++)
        ok = it_engine_check_batch_info(t, bl, (int64_t)(b + 1) * IT_BATCH_MS, input[b], 0);
    json_decref(bl);
    IT_CHECK(t, ok, "sluice batches: every batch done with its input records");
}

/* --- narrow operations -------------------------------------------------------------------- */

static const char it_narrow_job[] =
    "job narrow\n"
    "batch 1s\n"
    "lines  = push(\"lines\", partitions = 2)\n"
    "kv     = push(\"kv\", partitions = 3)\n"
    "up     = lines.map(upper)\n"
    "words  = lines.flat_map(split)\n"
    "reals  = lines.map(to_double)\n"
    "with_o = lines.filter(contains(\"o\"))\n"
    "spread = lines.repartition(3)\n"
    "by_val = kv.map(pair_one)          # the key becomes the value text\n"
    "ones   = kv.map_values(pair_one)   # the key stays\n"
    "pieces = kv.flat_map_values(split(\",\"))\n"
    "both   = lines.union(kv)\n"
    "twice  = lines.union(lines)\n"
    "up.save_as_text_files(\"@DIR@/out/map\")\n"
    "words.save_as_text_files(\"@DIR@/out/flat_map\")\n"
    "reals.save_as_text_files(\"@DIR@/out/to_double\")\n"
    "with_o.save_as_text_files(\"@DIR@/out/filter\")\n"
    "spread.save_as_text_files(\"@DIR@/out/repartition\")\n"
    "by_val.save_as_text_files(\"@DIR@/out/map_kv\")\n"
    "ones.save_as_text_files(\"@DIR@/out/map_values\")\n"
    "pieces.save_as_text_files(\"@DIR@/out/flat_map_values\")\n"
    "both.save_as_text_files(\"@DIR@/out/union\")\n"
    "twice.save_as_text_files(\"@DIR@/out/union_self\")\n";

/* Batch 3 has a TAB inside a text value and a backslash inside a kv value:
 * part files escape both (\t, \\). */
static const it_op_input_t it_narrow_inputs[] = {
    { "lines", NULL, NULL,
      { "the quick fox\njumps over\n  lazy   dogs \nzebra\n   \n", "",
        "hello world\nno\ntab\there\n0.1\n" } },
    { "kv", "kv", NULL,
      { "k1\tred,green\nk2\tblue\nk1\tred\nk3\t,x,\n", "", "k9\ta,b\nk8\tx\\y\n" } },
};

static const it_op_case_t it_narrow_cases[] = {
    { "map(upper)", "out/map", IT_NORM_NONE, 2,
      { IT_L("THE QUICK FOX", "JUMPS OVER", "  LAZY   DOGS ", "ZEBRA", "   "), IT_NONE,
        IT_L("HELLO WORLD", "NO", "TAB\\tHERE", "0.1") } },
    { "flat_map(split)", "out/flat_map", IT_NORM_NONE, 2,
      { IT_L("the", "quick", "fox", "jumps", "over", "lazy", "dogs", "zebra"), IT_NONE,
        IT_L("hello", "world", "no", "tab", "here", "0.1") } },
    { "map(to_double)", "out/to_double", IT_NORM_NONE, 2,
      { IT_L("null", "null", "null", "null", "null"), IT_NONE,
        IT_L("null", "null", "null", "0.1") } },
    { "filter(contains(\"o\"))", "out/filter", IT_NORM_NONE, 2,
      { IT_L("the quick fox", "jumps over", "  lazy   dogs "), IT_NONE,
        IT_L("hello world", "no") } },
    { "repartition(3)", "out/repartition", IT_NORM_NONE, 3,
      { IT_L("the quick fox", "jumps over", "  lazy   dogs ", "zebra", "   "), IT_NONE,
        IT_L("hello world", "no", "tab\\there", "0.1") } },
    { "map(pair_one)", "out/map_kv", IT_NORM_NONE, 3,
      { IT_L("red,green\t1", "blue\t1", "red\t1", ",x,\t1"), IT_NONE,
        IT_L("a,b\t1", "x\\\\y\t1") } },
    { "map_values(pair_one)", "out/map_values", IT_NORM_NONE, 3,
      { IT_L("k1\t1", "k2\t1", "k1\t1", "k3\t1"), IT_NONE, IT_L("k9\t1", "k8\t1") } },
    { "flat_map_values(split(\",\"))", "out/flat_map_values", IT_NORM_NONE, 3,
      { IT_L("k1\tred", "k1\tgreen", "k2\tblue", "k1\tred", "k3\t", "k3\tx", "k3\t"), IT_NONE,
        IT_L("k9\ta", "k9\tb", "k8\tx\\\\y") } },
    /* 2 + 3 partitions. */
    { "union", "out/union", IT_NORM_NONE, 5,
      { IT_L("the quick fox", "jumps over", "  lazy   dogs ", "zebra", "   ", "k1\tred,green",
             "k2\tblue", "k1\tred", "k3\t,x,"),
        IT_NONE, IT_L("hello world", "no", "tab\\there", "0.1", "k9\ta,b", "k8\tx\\\\y") } },
    /* A stream united with itself: every record twice, 2 + 2 partitions. */
    { "union with itself", "out/union_self", IT_NORM_NONE, 4,
      { IT_L("the quick fox", "jumps over", "  lazy   dogs ", "zebra", "   ", "the quick fox",
             "jumps over", "  lazy   dogs ", "zebra", "   "),
        IT_NONE, IT_L("hello world", "no", "tab\\there", "0.1", "hello world", "no", "tab\\there",
                      "0.1") } },
};

void it_test_ops_narrow(it_ctx_t *t)
{
    const it_op_job_t job = { "narrow", it_narrow_job, it_narrow_inputs,
                              sizeof it_narrow_inputs / sizeof *it_narrow_inputs, 3,
                              it_narrow_cases, sizeof it_narrow_cases / sizeof *it_narrow_cases };
    it_ops_run(t, &job);
}

/* --- aggregations ------------------------------------------------------------------------- */

static const char it_aggregate_job[] =
    "job aggregate\n"
    "batch 1s\n"
    "nums    = push(\"nums\", partitions = 2)\n"
    "words   = push(\"words\", partitions = 2)\n"
    "n       = nums.count()\n"
    "total   = nums.reduce(sum)\n"
    "top     = nums.reduce(max)\n"
    "seen    = words.count_by_value()\n"
    "sums    = nums.reduce_by_key(sum)\n"
    "sums3   = nums.reduce_by_key(sum, 3)\n"
    "mins    = nums.reduce_by_key(min)\n"
    "maxs    = nums.reduce_by_key(max, partitions = 1)\n"
    "counts  = nums.reduce_by_key(count)\n"
    "joined  = nums.reduce_by_key(concat(\",\"))\n"
    "groups  = nums.group_by_key()\n"
    "groups3 = nums.group_by_key(3)\n"
    "keys    = sums.count()              # a shuffle after a shuffle\n"
    "n.save_as_text_files(\"@DIR@/out/count\")\n"
    "total.save_as_text_files(\"@DIR@/out/reduce_sum\")\n"
    "top.save_as_text_files(\"@DIR@/out/reduce_max\")\n"
    "seen.save_as_text_files(\"@DIR@/out/count_by_value\")\n"
    "sums.save_as_text_files(\"@DIR@/out/sum\")\n"
    "sums3.save_as_text_files(\"@DIR@/out/sum3\")\n"
    "mins.save_as_text_files(\"@DIR@/out/min\")\n"
    "maxs.save_as_text_files(\"@DIR@/out/max1\")\n"
    "counts.save_as_text_files(\"@DIR@/out/count_by_key\")\n"
    "joined.save_as_text_files(\"@DIR@/out/concat\")\n"
    "groups.save_as_text_files(\"@DIR@/out/group\")\n"
    "groups3.save_as_text_files(\"@DIR@/out/group3\")\n"
    "keys.save_as_text_files(\"@DIR@/out/keys\")\n";

/* Batch 3 mixes ints and doubles (exact binary fractions, so that sums do
 * not depend on the order of addition). */
static const it_op_input_t it_aggregate_inputs[] = {
    { "nums", "kv", "int", { "a\t5\nb\t2\na\t-3\nc\t10\na\t7\nb\t2\n", "", "d\t1\nd\t1\ne\t100\na\t0\n" } },
    { "nums", "kv", "double", { "", "", "e\t0.5\nf\t0.5\nf\t0.25\n" } },
    { "words", NULL, NULL, { "x\ny\nx\nz\nx\n", "", "y\n" } },
};

static const it_op_case_t it_aggregate_cases[] = {
    /* count gives 0 for an empty batch; reduce gives nothing. */
    { "count()", "out/count", IT_NORM_NONE, 1, { IT_L("6"), IT_L("0"), IT_L("7") } },
    { "reduce(sum)", "out/reduce_sum", IT_NORM_NONE, 1, { IT_L("23"), IT_NONE, IT_L("103.25") } },
    { "reduce(max)", "out/reduce_max", IT_NORM_NONE, 1, { IT_L("10"), IT_NONE, IT_L("100") } },
    { "count_by_value()", "out/count_by_value", IT_NORM_NONE, 2,
      { IT_L("x\t3", "y\t1", "z\t1"), IT_NONE, IT_L("y\t1") } },
    { "reduce_by_key(sum)", "out/sum", IT_NORM_NONE, 2,
      { IT_L("a\t9", "b\t4", "c\t10"), IT_NONE, IT_L("d\t2", "e\t100.5", "a\t0", "f\t0.75") } },
    { "reduce_by_key(sum, 3)", "out/sum3", IT_NORM_NONE, 3,
      { IT_L("a\t9", "b\t4", "c\t10"), IT_NONE, IT_L("d\t2", "e\t100.5", "a\t0", "f\t0.75") } },
    { "reduce_by_key(min)", "out/min", IT_NORM_NONE, 2,
      { IT_L("a\t-3", "b\t2", "c\t10"), IT_NONE, IT_L("d\t1", "e\t0.5", "a\t0", "f\t0.25") } },
    { "reduce_by_key(max, partitions = 1)", "out/max1", IT_NORM_NONE, 1,
      { IT_L("a\t7", "b\t2", "c\t10"), IT_NONE, IT_L("d\t1", "e\t100", "a\t0", "f\t0.5") } },
    { "reduce_by_key(count)", "out/count_by_key", IT_NORM_NONE, 2,
      { IT_L("a\t3", "b\t2", "c\t1"), IT_NONE, IT_L("d\t2", "e\t2", "a\t1", "f\t2") } },
    /* concat's order follows arrival: compare the pieces. */
    { "reduce_by_key(concat(\",\"))", "out/concat", IT_NORM_CSV, 2,
      { IT_L("a\t5,-3,7", "b\t2,2", "c\t10"), IT_NONE,
        IT_L("d\t1,1", "e\t100,0.5", "a\t0", "f\t0.5,0.25") } },
    /* A group's order is not defined: compare sorted. */
    { "group_by_key()", "out/group", IT_NORM_LISTS, 2,
      { IT_L("a\t[5, -3, 7]", "b\t[2, 2]", "c\t[10]"), IT_NONE,
        IT_L("d\t[1, 1]", "e\t[100, 0.5]", "a\t[0]", "f\t[0.5, 0.25]") } },
    { "group_by_key(3)", "out/group3", IT_NORM_LISTS, 3,
      { IT_L("a\t[5, -3, 7]", "b\t[2, 2]", "c\t[10]"), IT_NONE,
        IT_L("d\t[1, 1]", "e\t[100, 0.5]", "a\t[0]", "f\t[0.5, 0.25]") } },
    { "reduce_by_key(sum).count()", "out/keys", IT_NORM_NONE, 1,
      { IT_L("3"), IT_L("0"), IT_L("4") } },
};

void it_test_ops_aggregate(it_ctx_t *t)
{
    const it_op_job_t job = { "aggregate", it_aggregate_job, it_aggregate_inputs,
                              sizeof it_aggregate_inputs / sizeof *it_aggregate_inputs, 3,
                              it_aggregate_cases,
                              sizeof it_aggregate_cases / sizeof *it_aggregate_cases };
    it_ops_run(t, &job);
}

/* --- joins and cogroup ---------------------------------------------------------------------- */

static const char it_joins_job[] =
    "job joins\n"
    "batch 1s\n"
    "L  = push(\"L\", partitions = 2)\n"
    "R  = push(\"R\", partitions = 3)\n"
    "j  = L.join(R)\n"
    "lj = L.left_outer_join(R)\n"
    "rj = L.right_outer_join(R)\n"
    "fj = L.full_outer_join(R, 4)\n"
    "cg = L.cogroup(R)\n"
    "ls = L.reduce_by_key(sum)\n"
    "sj = ls.join(R)                     # a shuffle's output joined\n"
    "mixed = ls.union(R).repartition(1)\n"
    "j.save_as_text_files(\"@DIR@/out/join\")\n"
    "lj.save_as_text_files(\"@DIR@/out/left\")\n"
    "rj.save_as_text_files(\"@DIR@/out/right\")\n"
    "fj.save_as_text_files(\"@DIR@/out/full\")\n"
    "cg.save_as_text_files(\"@DIR@/out/cogroup\")\n"
    "sj.save_as_text_files(\"@DIR@/out/sum_join\")\n"
    "mixed.save_as_text_files(\"@DIR@/out/mixed\")\n";

/* Batch 1: keys on both sides (a, b), on the left only (c), on the right
 * only (d). Batch 2: nothing. Batch 3: only the left side. Batch 4: only the
 * right side. */
static const it_op_input_t it_joins_inputs[] = {
    { "L", "kv", "int", { "a\t1\nb\t2\na\t3\nc\t5\n", "", "a\t7\ne\t8\n", "" } },
    { "R", "kv", NULL, { "a\tx\nb\ty\nd\tz\nb\tw\n", "", "", "a\tq\nf\tr\n" } },
};

#define IT_JOINED "a\t(1, x)", "a\t(3, x)", "b\t(2, y)", "b\t(2, w)"

static const it_op_case_t it_joins_cases[] = {
    /* A join keeps the larger parent's 3 partitions. */
    { "join", "out/join", IT_NORM_NONE, 3, { IT_L(IT_JOINED), IT_NONE, IT_NONE, IT_NONE } },
    { "left_outer_join", "out/left", IT_NORM_NONE, 3,
      { IT_L(IT_JOINED, "c\t(5, null)"), IT_NONE, IT_L("a\t(7, null)", "e\t(8, null)"),
        IT_NONE } },
    { "right_outer_join", "out/right", IT_NORM_NONE, 3,
      { IT_L(IT_JOINED, "d\t(null, z)"), IT_NONE, IT_NONE,
        IT_L("a\t(null, q)", "f\t(null, r)") } },
    { "full_outer_join(R, 4)", "out/full", IT_NORM_NONE, 4,
      { IT_L(IT_JOINED, "c\t(5, null)", "d\t(null, z)"), IT_NONE,
        IT_L("a\t(7, null)", "e\t(8, null)"), IT_L("a\t(null, q)", "f\t(null, r)") } },
    { "cogroup", "out/cogroup", IT_NORM_LISTS, 3,
      { IT_L("a\t([1, 3], [x])", "b\t([2], [y, w])", "c\t([5], [])", "d\t([], [z])"), IT_NONE,
        IT_L("a\t([7], [])", "e\t([8], [])"), IT_L("a\t([], [q])", "f\t([], [r])") } },
    { "reduce_by_key(sum).join(R)", "out/sum_join", IT_NORM_NONE, 3,
      { IT_L("a\t(4, x)", "b\t(2, y)", "b\t(2, w)"), IT_NONE, IT_NONE, IT_NONE } },
    { "reduce_by_key(sum).union(R).repartition(1)", "out/mixed", IT_NORM_NONE, 1,
      { IT_L("a\t4", "b\t2", "c\t5", "a\tx", "b\ty", "d\tz", "b\tw"), IT_NONE,
        IT_L("a\t7", "e\t8"), IT_L("a\tq", "f\tr") } },
};

void it_test_ops_joins(it_ctx_t *t)
{
    const it_op_job_t job = { "joins", it_joins_job, it_joins_inputs,
                              sizeof it_joins_inputs / sizeof *it_joins_inputs, 4, it_joins_cases,
                              sizeof it_joins_cases / sizeof *it_joins_cases };
    it_ops_run(t, &job);
}

/* --- transform against a static dataset ------------------------------------------------------- */

static const char it_transform_job[] =
    "job transforms\n"
    "batch 1s\n"
    "ev = push(\"ev\", partitions = 2)\n"
    "tj = ev.transform(\"join\", \"@DIR@/static.tsv\")\n"
    "tl = ev.transform(\"left_outer_join\", \"@DIR@/static.tsv\")\n"
    "tf = ev.transform(\"filter\", \"@DIR@/static.tsv\")\n"
    "ts = ev.transform(\"subtract\", \"@DIR@/static.tsv\")\n"
    "tj.save_as_text_files(\"@DIR@/out/join\")\n"
    "tl.save_as_text_files(\"@DIR@/out/left\")\n"
    "tf.save_as_text_files(\"@DIR@/out/filter\")\n"
    "ts.save_as_text_files(\"@DIR@/out/subtract\")\n";

/* KEY<TAB>VALUE lines; key b has two values. */
static const char it_static_tsv[] = "a\tapple\nb\tbanana\nb\tberry\nz\tzebra\n";

static const it_op_input_t it_transform_inputs[] = {
    { "ev", "kv", "int", { "a\t1\nb\t2\nc\t3\na\t4\n", "", "c\t9\nz\t0\n" } },
};

static const it_op_case_t it_transform_cases[] = {
    { "transform(join)", "out/join", IT_NORM_NONE, 2,
      { IT_L("a\t(1, apple)", "b\t(2, banana)", "b\t(2, berry)", "a\t(4, apple)"), IT_NONE,
        IT_L("z\t(0, zebra)") } },
    { "transform(left_outer_join)", "out/left", IT_NORM_NONE, 2,
      { IT_L("a\t(1, apple)", "b\t(2, banana)", "b\t(2, berry)", "a\t(4, apple)",
             "c\t(3, null)"),
        IT_NONE, IT_L("c\t(9, null)", "z\t(0, zebra)") } },
    { "transform(filter)", "out/filter", IT_NORM_NONE, 2,
      { IT_L("a\t1", "b\t2", "a\t4"), IT_NONE, IT_L("z\t0") } },
    { "transform(subtract)", "out/subtract", IT_NORM_NONE, 2,
      { IT_L("c\t3"), IT_NONE, IT_L("c\t9") } },
};

void it_test_ops_transform(it_ctx_t *t)
{
    char path[IT_PATH_LEN];
    it_path(t, path, "static.tsv");
    IT_CHECK(t, it_write_file(t, path, it_static_tsv, 0644), "write the static dataset");
    const it_op_job_t job = { "transforms", it_transform_job, it_transform_inputs,
                              sizeof it_transform_inputs / sizeof *it_transform_inputs, 3,
                              it_transform_cases,
                              sizeof it_transform_cases / sizeof *it_transform_cases };
    it_ops_run(t, &job);
}

/* --- print, publish and sqlite ---------------------------------------------------------------- */

static const char it_outputs_job[] =
    "job outputs\n"
    "batch 1s\n"
    "ev   = push(\"ev\", partitions = 2)\n"
    "seq  = push(\"seq\")\n"
    "sums = ev.reduce_by_key(sum)\n"
    "sums.publish()\n"
    "sums.sqlite(\"@DIR@/out.db\", \"sums\")\n"
    "n    = ev.count()\n"
    "n.sqlite(\"@DIR@/out.db\", \"counts\")\n"
    "groups = ev.group_by_key()\n"
    "groups.sqlite(\"@DIR@/out.db\", \"groups\")\n"
    "seq.print(3)\n";

/* Checks what a watch printed for batch `time`: the header's count, the
 * records (in order when `ordered`, else as a multiset) and the "..." line. */
static bool it_check_watched(it_ctx_t *t, const it_proc_t *watch, int64_t time, uint64_t total,
                             const char *const want[], bool ordered, bool more)
{
    it_watched_t w;
    if (!it_engine_watched(t, watch, time, &w))
        return false;
    it_lines_t exp = { 0 };
    bool ok = it_lines_add_all(&exp, want);
    char what[128];
    snprintf(what, sizeof what, "%s, batch %" PRId64, watch->name, time);
    if (ok && ordered) {
        ok = w.records.n == exp.n;
        for (size_t i = 0; ok && i < exp.n; i++)
            ok = !strcmp(w.records.v[i], exp.v[i]);
        if (!ok)
            it_note(t, "%s: records not the first %zu pushed, in order (got %zu, first '%s')",
                    what, exp.n, w.records.n, w.records.n ? w.records.v[0] : "");
    } else if (ok) {
        ok = it_lines_match(t, &w.records, &exp, what);
    }
    if (ok && (w.total != total || w.more != more)) {
        it_note(t, "%s: header says %" PRIu64 " records, want %" PRIu64 "; '...' %s, want %s",
                what, w.total, total, w.more ? "printed" : "absent", more ? "printed" : "absent");
        ok = false;
    }
    it_lines_free(&exp);
    it_lines_free(&w.records);
    return ok;
}

/* The rows a table holds for one batch time, as "key|value|type" (lists
 * compared sorted). */
static bool it_check_rows(it_ctx_t *t, const char *db, const char *table, int64_t time,
                          const char *const want[])
{
    char sql[160], what[96];
    snprintf(sql, sizeof sql,
             "SELECT key, value, typeof(value) FROM %s WHERE batch_time = %" PRId64, table, time);
    snprintf(what, sizeof what, "sqlite rows of %s for batch %" PRId64, table, time);
    it_lines_t got = { 0 }, exp = { 0 };
    bool ok = it_sqlite_query(t, db, sql, &got) && it_lines_add_all(&exp, want);
    it_lines_normalize(&got, IT_NORM_LISTS);
    it_lines_normalize(&exp, IT_NORM_LISTS);
    ok = ok && it_lines_match(t, &got, &exp, what);
    it_lines_free(&got);
    it_lines_free(&exp);
    return ok;
}

void it_test_ops_outputs(it_ctx_t *t)
{
    it_engine_t e;
    IT_CHECK(t, it_engine_start(t, &e), "manual-clock cluster with two workers");
    IT_CHECK(t, it_engine_submit(t, &e, "outputs.job", it_outputs_job, "outputs"),
             "submit the outputs job");
    const char *const streams[] = { "sums", "seq" };
    it_proc_t *watch[2];
    int64_t t0;
    IT_CHECK(t, it_engine_watch_start(t, &e, "outputs", streams, watch, 2, &t0),
             "sluice watch outputs sums / seq");
    const int64_t t1 = t0 + IT_BATCH_MS, t2 = t1 + IT_BATCH_MS, t3 = t2 + IT_BATCH_MS;

    /* Batch t1: data; t2: empty; t3: data; then one more batch so that the
     * watches have certainly printed all of t3. */
    IT_CHECK(t, it_engine_push(t, &e, "outputs", "ev", "a\t1\nb\t2\na\t3\n", "kv", "int"), "push ev");
    IT_CHECK(t, it_engine_push(t, &e, "outputs", "seq", "one\ntwo\nthree\nfour\nfive\n", NULL, NULL),
             "push seq");
    int64_t tm;
    IT_CHECK(t, it_engine_tick(t, &e, "outputs", 1, &tm), "tick batch %" PRId64, t1);
    IT_CHECK_EQ(t, tm, t1, "batch time");
    IT_CHECK(t, it_engine_tick(t, &e, "outputs", 1, NULL), "tick empty batch %" PRId64, t2);
    IT_CHECK(t, it_engine_push(t, &e, "outputs", "ev", "c\t7\na\t-1\n", "kv", "int"), "push ev");
    IT_CHECK(t, it_engine_push(t, &e, "outputs", "seq", "six\n", NULL, NULL), "push seq");
    IT_CHECK(t, it_engine_tick(t, &e, "outputs", 2, NULL), "tick batch %" PRId64 " and one more", t3);

    /* publish(): every record of every batch. */
    IT_CHECK(t, it_check_watched(t, watch[0], t1, 2, IT_L("a\t4", "b\t2"), false, false),
             "publish() output of batch %" PRId64, t1);
    IT_CHECK(t, it_check_watched(t, watch[0], t2, 0, IT_NONE, false, false),
             "publish() output of the empty batch %" PRId64, t2);
    IT_CHECK(t, it_check_watched(t, watch[0], t3, 2, IT_L("c\t7", "a\t-1"), false, false),
             "publish() output of batch %" PRId64, t3);
    /* print(3): the first 3 records of a one-partition stream, the total, "...". */
    IT_CHECK(t, it_check_watched(t, watch[1], t1, 5, IT_L("one", "two", "three"), true, true),
             "print(3) output of batch %" PRId64, t1);
    IT_CHECK(t, it_check_watched(t, watch[1], t2, 0, IT_NONE, true, false),
             "print(3) output of the empty batch %" PRId64, t2);
    IT_CHECK(t, it_check_watched(t, watch[1], t3, 1, IT_L("six"), true, false),
             "print(3) output of batch %" PRId64, t3);
    it_engine_watch_stop(t, watch[0]);
    it_engine_watch_stop(t, watch[1]);

    /* sqlite: rows per batch time; an empty batch has none, except for
     * count(), whose one record has an empty key. */
    char db[IT_PATH_LEN];
    it_path(t, db, "out.db");
    IT_CHECK(t, it_check_rows(t, db, "sums", t1, IT_L("a|4|integer", "b|2|integer")),
             "rows of batch 1");
    IT_CHECK(t, it_check_rows(t, db, "sums", t2, IT_NONE), "no rows for the empty batch");
    IT_CHECK(t, it_check_rows(t, db, "sums", t3, IT_L("c|7|integer", "a|-1|integer")),
             "rows of batch 3");
    IT_CHECK(t, it_check_rows(t, db, "counts", t1, IT_L("|3|integer")), "count() row of batch 1");
    IT_CHECK(t, it_check_rows(t, db, "counts", t2, IT_L("|0|integer")), "count() row of batch 2");
    IT_CHECK(t, it_check_rows(t, db, "counts", t3, IT_L("|2|integer")), "count() row of batch 3");
    /* Lists are stored as their text. */
    IT_CHECK(t, it_check_rows(t, db, "groups", t1, IT_L("a|[1, 3]|text", "b|[2]|text")),
             "group_by_key() rows of batch 1");
    IT_CHECK(t, it_check_rows(t, db, "groups", t2, IT_NONE), "no group rows for the empty batch");
    IT_CHECK(t, it_check_rows(t, db, "groups", t3, IT_L("c|[7]|text", "a|[-1]|text")),
             "group_by_key() rows of batch 3");
    it_lines_t all = { 0 };
    bool ok = it_sqlite_query(t, db, "SELECT count(*) FROM sums", &all);
    bool four = ok && all.n == 1 && !strcmp(all.v[0], "4");
    it_lines_free(&all);
    IT_CHECK(t, ok && four, "sqlite holds exactly the 4 rows of batches %" PRId64 " and %" PRId64,
             t1, t3);

    /* The same job again (its clock starts over) re-runs batch time t1 with
     * other input: its rows replace the old ones; t3's stay. */
    IT_CHECK(t, it_engine_stop(t, &e, "outputs"), "stop the job");
    IT_CHECK(t, it_engine_submit(t, &e, "outputs.job", it_outputs_job, "outputs"),
             "submit the outputs job again");
    IT_CHECK(t, it_engine_tick(t, &e, "outputs", (unsigned)(t0 / IT_BATCH_MS), NULL),
             "tick up to batch %" PRId64, t0);
    IT_CHECK(t, it_engine_push(t, &e, "outputs", "ev", "a\t10\nd\t4\n", "kv", "int"), "push ev");
    IT_CHECK(t, it_engine_tick(t, &e, "outputs", 1, &tm), "tick batch %" PRId64 " again", t1);
    IT_CHECK_EQ(t, tm, t1, "batch time of the re-run");
    IT_CHECK(t, it_check_rows(t, db, "sums", t1, IT_L("a|10|integer", "d|4|integer")),
             "rows of the re-run batch %" PRId64 " replace the old ones", t1);
    IT_CHECK(t, it_check_rows(t, db, "counts", t1, IT_L("|2|integer")),
             "count() row of the re-run batch %" PRId64 " replaces the old one", t1);
    IT_CHECK(t, it_check_rows(t, db, "sums", t3, IT_L("c|7|integer", "a|-1|integer")),
             "rows of batch %" PRId64 " stay", t3);
}
