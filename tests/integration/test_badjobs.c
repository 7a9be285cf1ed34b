/* bad_jobs: job files with mistakes of many kinds are refused by `sluice
 * submit` (exit 1) with FILE:LINE:COL and what is wrong, whether the CLI's
 * parser or the master finds the mistake; other refusals (a name already
 * running, more receivers than cores) say why; and through all of it the
 * master keeps running the job it already had. */
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "engine.h"
#include "tests.h"

#define IT_L(...) ((const char *const[]){ __VA_ARGS__, NULL })

static const char it_keeper_job[] =
    "job keeper\n"
    "batch 1s\n"
    "lines  = push(\"lines\", partitions = 2)\n"
    "counts = lines.flat_map(split).map(pair_one).reduce_by_key(sum)\n"
    "counts.save_as_text_files(\"@DIR@/out/counts\")\n";

/* One bad job file: its text ("@LIB@" stands for the example UDF library;
 * NULL: keeper's again), where the error must point ("LINE:COL"; "" for a
 * refusal of the job as a whole, which names just the file; NULL when the
 * refusal is not about the file's contents) and the phrase it must contain. */
typedef struct {
    const char *name;
    const char *text;
    const char *pos;
    const char *phrase;
} it_bad_job_t;

static const it_bad_job_t it_bad_jobs[] = {
    { "no_job_line", "batch 1s\nl = push(\"l\")\nl.print()\n", "1:1", "missing 'job NAME' line" },
    { "no_batch_line", "job bad\nl = push(\"l\")\nl.print()\n", "1:1",
      "missing 'batch DURATION' line" },
    { "bad_duration", "job bad\nbatch 1x\nl = push(\"l\")\nl.print()\n", "2:7",
      "invalid duration '1x'" },
    { "batch_too_short", "job bad\nbatch 5ms\nl = push(\"l\")\nl.print()\n", "2:7",
      "below the minimum of 10ms" },
    { "block_longer_than_batch", "job bad\nbatch 1s\nblock 2s\nl = push(\"l\")\nl.print()\n",
      "3:7", "block interval 2s is longer than the batch interval 1s" },
    { "duplicate_job_line", "job bad\njob other\nbatch 1s\nl = push(\"l\")\nl.print()\n", "2:1",
      "duplicate 'job' line" },
    { "bad_job_name", "job a/b\nbatch 1s\nl = push(\"l\")\nl.print()\n", "1:5",
      "invalid job name 'a/b'" },
    { "unknown_operation", "job bad\nbatch 1s\nl = push(\"l\")\nw = l.flatmap(split)\nw.print()\n",
      "4:7", "unknown operation 'flatmap' (did you mean flat_map?)" },
    { "unknown_function", "job bad\nbatch 1s\nl = push(\"l\")\nw = l.flat_map(splitt)\nw.print()\n",
      "4:16", "unknown function 'splitt'" },
    { "argument_count",
      "job bad\nbatch 1s\nl = push(\"l\")\nc = l.reduce_by_key(sum, 2, 3)\nc.print()\n", "4:7",
      "reduce_by_key expects 1 or 2 arguments, got 3" },
    { "function_kind", "job bad\nbatch 1s\nl = push(\"l\")\nc = l.map(sum)\nc.print()\n", "4:11",
      "'sum' is a reducer, not a map function" },
    { "unknown_stream", "job bad\nbatch 1s\nl = push(\"l\")\nc = y.map(upper)\nc.print()\n", "4:5",
      "unknown stream 'y'" },
    { "duplicate_name", "job bad\nbatch 1s\nl = push(\"l\")\nl = push(\"m\")\nl.print()\n", "4:1",
      "duplicate name 'l'" },
    { "stream_name_too_long",
      "job bad\nbatch 1s\n"
      "l = push(\"s2345678901234567890123456789012345678901234567890123456789012345\")\n"
      "l.print()\n",
      "3:5", "stream name 's2345678901234567890123456789012...' is longer than 64 characters" },
    { "stream_pushed_twice",
      "job bad\nbatch 1s\nl = push(\"l\")\nm = push(\"l\")\nc = l.union(m)\nc.print()\n", "4:5",
      "stream 'l' is already pushed" },
    { "no_output", "job bad\nbatch 1s\nl = push(\"l\")\nc = l.map(upper)\n", "1:1", "has no output" },
    { "output_assigned", "job bad\nbatch 1s\nl = push(\"l\")\nc = l.print()\n", "4:7",
      "print() is an output" },
    { "unterminated_string", "job bad\nbatch 1s\nl = push(\"l)\nl.print()\n", "3:10",
      "unterminated string" },
    { "trailing_junk", "job bad\nbatch 1s\nl = push(\"l\") junk\nl.print()\n", "3:15",
      "expected '.' or the end of the line, got 'junk'" },
    { "unknown_source", "job bad\nbatch 1s\nl = pull(\"l\")\nl.print()\n", "3:5",
      "unknown source 'pull'" },
    { "bad_regex", "job bad\nbatch 1s\nl = push(\"l\")\nc = l.filter(matches(\"(\"))\nc.print()\n",
      "4:14", "bad regular expression '('" },
    { "partitions_out_of_range",
      "job bad\nbatch 1s\nl = push(\"l\")\nc = l.repartition(0)\nc.print()\n", "4:19",
      "partition count 0 is out of range" },
    { "unknown_transform_mode",
      "job bad\nbatch 1s\nl = push(\"l\")\nc = l.transform(\"merge\", \"x.tsv\")\nc.print()\n",
      "4:7", "unknown transform mode 'merge'" },
    { "user_function_without_library",
      "job bad\nbatch 1s\nl = push(\"l\")\nc = l.map(shout)\nc.print()\n", "4:11",
      "unknown function 'shout' (not built in, and the job has no 'library' line)" },
    /* Found by the master, which checks the library's symbols. */
    { "missing_library_symbol",
      "job bad\nbatch 1s\nlibrary \"@LIB@\"\nl = push(\"l\")\nc = l.map(nosuchfn)\nc.print()\n",
      "5:11", "unknown function 'nosuchfn'" },
    /* Refusals of the job as a whole, by the master. */
    { "name_already_running", NULL, "", "a job named 'keeper' is already running" },
    { "more_receivers_than_cores",
      "job bad\nbatch 1s\na = push(\"a\")\nb = push(\"b\")\nc = push(\"c\")\n"
      "u = a.union(b).union(c)\nu.print()\n",
      NULL, "job needs 3 receiver cores plus at least one core for tasks" },
};

/* Writes the bad job (text with @LIB@ replaced) and submits it; "" on
 * success, else what went wrong (into why, IT_MSG_LEN). */
static void it_bad_job_try(it_ctx_t *t, const it_engine_t *e, const it_bad_job_t *b,
                           const char *lib, char *why)
{
    why[0] = '\0';
    char text[PATH_MAX + 2048], file[96], path[IT_PATH_LEN];
    const char *src = b->text ? b->text : it_keeper_job;
    const char *at = strstr(src, "@LIB@");
    if (at)
        snprintf(text, sizeof text, "%.*s%s%s", (int)(at - src), src, lib, at + 5);
    else
        snprintf(text, sizeof text, "%s", src);
    snprintf(file, sizeof file, "%s.job", b->name);
    if (!it_engine_write_job(t, file, text, path)) {
        snprintf(why, IT_MSG_LEN, "%s", t->note);
        return;
    }
    it_run_t r;
    if (!it_engine_submit_path(t, e, path, &r)) {
        snprintf(why, IT_MSG_LEN, "%s", t->note);
        return;
    }
    char where[IT_PATH_LEN + 32] = "";
    if (b->pos && b->pos[0])
        snprintf(where, sizeof where, "%s:%s: ", path, b->pos);
    else if (b->pos)
        snprintf(where, sizeof where, "%s: ", path);
    if (r.exit_code != 1)
        snprintf(why, IT_MSG_LEN, "exit %d, want 1 (stdout '%.100s', stderr '%.300s')",
                 r.exit_code, r.out, r.err);
    else if (!strstr(r.err, where))
        snprintf(why, IT_MSG_LEN, "stderr '%.400s' lacks '%s'", r.err, where);
    else if (!strstr(r.err, b->phrase))
        snprintf(why, IT_MSG_LEN, "stderr '%.400s' lacks '%s'", r.err, b->phrase);
    it_run_free(&r);
}

void it_test_bad_jobs(it_ctx_t *t)
{
    char lib[PATH_MAX], rel[IT_PATH_LEN];
    snprintf(rel, sizeof rel, "%s/examples/libwordudf.so", it_bin_dir());
    IT_CHECK(t, realpath(rel, lib) != NULL, "%s is missing: is it built?", rel);
    it_engine_t e;
    IT_CHECK(t, it_engine_start(t, &e), "manual-clock cluster with two workers");
    IT_CHECK(t, it_engine_submit(t, &e, "keeper.job", it_keeper_job, "keeper"), "submit keeper");
    IT_CHECK(t, it_engine_push(t, &e, "keeper", "lines", "a b a\n", NULL, NULL), "push batch 1");
    IT_CHECK(t, it_engine_tick(t, &e, "keeper", 1, NULL), "tick batch 1");
    IT_CHECK(t, it_engine_check_batch(t, "out/counts", 1000, IT_L("a\t2", "b\t1"), IT_NORM_NONE, 2),
             "keeper's batch 1");

    /* Every bad job is tried; the failures are reported together. */
    char failures[IT_MSG_LEN] = "";
    size_t nfailed = 0, n = sizeof it_bad_jobs / sizeof *it_bad_jobs;
    for (size_t i = 0; i < n; i++) {
        char why[IT_MSG_LEN];
        it_bad_job_try(t, &e, &it_bad_jobs[i], lib, why);
        if (!why[0])
            continue;
        size_t used = strlen(failures);
        snprintf(failures + used, sizeof failures - used, "%s%s: %s", nfailed ? " || " : "",
                 it_bad_jobs[i].name, why);
        nfailed++;
    }

    /* keeper went on as if nothing happened. */
    IT_CHECK(t, it_proc_alive(e.m.proc), "the master is still running");
    json_t *jobs = it_engine_jobs(t, &e);
    IT_CHECK(t, jobs != NULL, "sluice jobs --json");
    json_t *j = it_engine_job_at(jobs, "keeper");
    bool running = j && !strcmp(it_jstr(j, "state"), "running");
    bool admitted = it_engine_job_at(jobs, "bad") || it_engine_job_at(jobs, "other") ||
                    it_engine_job_at(jobs, "a/b");
    size_t njobs = json_array_size(json_object_get(jobs, "jobs"));
    json_decref(jobs);
    IT_CHECK(t, running, "sluice jobs lists keeper as running");
    IT_CHECK(t, !admitted && njobs == 1, "sluice jobs lists only keeper (%zu jobs)", njobs);
    IT_CHECK(t, it_engine_push(t, &e, "keeper", "lines", "b c\nc\n", NULL, NULL), "push batch 2");
    IT_CHECK(t, it_engine_tick(t, &e, "keeper", 1, NULL), "tick batch 2");
    IT_CHECK(t, it_engine_check_batch(t, "out/counts", 2000, IT_L("b\t1", "c\t2"), IT_NORM_NONE, 2),
             "keeper's batch 2 after the bad submissions");

    IT_CHECK(t, nfailed == 0, "%zu of %zu bad jobs not refused as they should be: %s", nfailed, n,
             failures);
}
