/* udf: user functions from a shared library (client/examples/wordudf.c, built
 * as SLUICE_BIN_DIR/examples/libwordudf.so) run in a job like built-ins; a
 * function that fails fails its batch with its message and the job goes on;
 * a job naming a symbol the library lacks, a function of the wrong kind or a
 * library file that does not exist is refused with an error naming it. */
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "engine.h"
#include "tests.h"

#define IT_L(...) ((const char *const[]){ __VA_ARGS__, NULL })
#define IT_NONE IT_L(NULL)

/* %s: the library's absolute path. */
static const char it_udf_job[] =
    "job udf\n"
    "batch 1s\n"
    "library \"%s\"\n"
    "lines     = push(\"lines\", partitions = 2)\n"
    "words     = lines.flat_map(tokens).filter(is_long)\n"
    "loud      = words.map(shout)\n"
    "by_letter = words.map(first_letter).reduce_by_key(longest)\n"
    "loud.save_as_text_files(\"@DIR@/out/loud\")\n"
    "by_letter.save_as_text_files(\"@DIR@/out/by_letter\")\n";

/* shout refuses anything but text. */
static const char it_udf_fail_job[] =
    "job udf_fail\n"
    "batch 1s\n"
    "library \"%s\"\n"
    "vals = push(\"vals\")\n"
    "loud = vals.map(shout)\n"
    "loud.save_as_text_files(\"@DIR@/out/fail\")\n";

/* Each refused job: its text (%s: the library path), where the error is
 * and what it must say. */
typedef struct {
    const char *file;
    const char *text;
    const char *pos;            /* "LINE:COL" */
    const char *phrases[3];
} it_udf_bad_t;

static const it_udf_bad_t it_udf_bad[] = {
    /* The master checks user functions against the library's symbols; the
     * error names the function and the job's library (not a scratch copy). */
    { "missing_symbol.job",
      "job bad\nbatch 1s\nlibrary \"%s\"\nl = push(\"l\")\nc = l.map(nosuchfn)\nc.print()\n",
      "5:11", { "unknown function 'nosuchfn'", "libwordudf.so" } },
    { "wrong_kind.job",
      "job bad\nbatch 1s\nlibrary \"%s\"\nl = push(\"l\")\nc = l.map(tokens)\nc.print()\n",
      "5:11", { "'tokens' is a flat_map function, not a map function" } },
};

/* The absolute path of the example library; false with a note if missing. */
static bool it_udf_lib(it_ctx_t *t, char *out /* PATH_MAX */)
{
    char rel[IT_PATH_LEN];
    snprintf(rel, sizeof rel, "%s/examples/libwordudf.so", it_bin_dir());
    if (!realpath(rel, out)) {
        it_note(t, "%s is missing: is it built (make all)?", rel);
        return false;
    }
    return true;
}

/* Submits text as DIR/file: exit 1, and stderr has "PATH:pos: " ("PATH: "
 * when pos is "") and every phrase (a NULL-terminated list of at most 3). */
static bool it_udf_refused(it_ctx_t *t, const it_engine_t *e, const char *file, const char *text,
                           const char *pos, const char *const phrases[])
{
    char path[IT_PATH_LEN], where[IT_PATH_LEN + 32];
    if (!it_engine_write_job(t, file, text, path))
        return false;
    it_run_t r;
    if (!it_engine_submit_path(t, e, path, &r))
        return false;
    snprintf(where, sizeof where, pos[0] ? "%s:%s: " : "%s: ", path, pos);
    const char *missing = strstr(r.err, where) ? NULL : where;
    for (size_t i = 0; !missing && i < 3 && phrases[i]; i++)
        if (!strstr(r.err, phrases[i]))
            missing = phrases[i];
    bool ok = r.exit_code == 1 && !missing;
    if (!ok)
        it_note(t, "sluice submit %s: exit %d (want 1), stderr '%.500s' lacks '%s'", file,
                r.exit_code, r.err, missing ? missing : "");
    it_run_free(&r);
    return ok;
}

void it_test_udf(it_ctx_t *t)
{
    char lib[PATH_MAX], text[PATH_MAX + 2048];
    IT_CHECK(t, it_udf_lib(t, lib), "the example UDF library");
    it_engine_t e;
    IT_CHECK(t, it_engine_start(t, &e), "manual-clock cluster with two workers");

    /* One function of each kind. */
    snprintf(text, sizeof text, it_udf_job, lib);
    IT_CHECK(t, it_engine_submit(t, &e, "udf.job", text, "udf"), "submit a job using the library");
    IT_CHECK(t, it_engine_push(t, &e, "udf", "lines",
                               "Hello, World-42!\ntiny wordsmiths only\nSluice streams records\n",
                               NULL, NULL),
             "push batch 1");
    IT_CHECK(t, it_engine_tick(t, &e, "udf", 2, NULL), "tick batch 1 and the empty batch 2");
    IT_CHECK(t, it_engine_push(t, &e, "udf", "lines", "Alphabetical aardvark, apple!\n", NULL, NULL),
             "push batch 3");
    IT_CHECK(t, it_engine_tick(t, &e, "udf", 1, NULL), "tick batch 3");
    IT_CHECK(t, it_engine_check_batch(t, "out/loud", 1000,
                                      IT_L("HELLO!", "WORLD!", "WORDSMITHS!", "SLUICE!", "STREAMS!",
                                           "RECORDS!"),
                                      IT_NORM_NONE, 2),
             "tokens, is_long and shout in batch 1");
    IT_CHECK(t, it_engine_check_batch(t, "out/loud", 2000, IT_NONE, IT_NORM_NONE, 2),
             "the empty batch 2");
    IT_CHECK(t, it_engine_check_batch(t, "out/loud", 3000,
                                      IT_L("ALPHABETICAL!", "AARDVARK!", "APPLE!"), IT_NORM_NONE, 2),
             "tokens, is_long and shout in batch 3");
    IT_CHECK(t, it_engine_check_batch(t, "out/by_letter", 1000,
                                      IT_L("h\thello", "w\twordsmiths", "s\tstreams", "r\trecords"),
                                      IT_NORM_NONE, 2),
             "first_letter and longest in batch 1");
    IT_CHECK(t, it_engine_check_batch(t, "out/by_letter", 2000, IT_NONE, IT_NORM_NONE, 2),
             "the empty batch 2");
    IT_CHECK(t, it_engine_check_batch(t, "out/by_letter", 3000, IT_L("a\talphabetical"),
                                      IT_NORM_NONE, 2),
             "first_letter and longest in batch 3");

    /* A user function that fails fails the batch with its message; the next
     * batch runs. */
    snprintf(text, sizeof text, it_udf_fail_job, lib);
    IT_CHECK(t, it_engine_submit(t, &e, "udf_fail.job", text, "udf_fail"), "submit udf_fail");
    IT_CHECK(t, it_engine_push(t, &e, "udf_fail", "vals", "k\t5\n", "kv", "int"), "push an int");
    IT_CHECK(t, it_engine_tick_fails(t, &e, "udf_fail",
                                     "user function 'shout' failed: shout wants a text value"),
             "the batch fails with shout's message");
    IT_CHECK(t, it_engine_push(t, &e, "udf_fail", "vals", "hey\n", NULL, NULL), "push text");
    IT_CHECK(t, it_engine_tick(t, &e, "udf_fail", 1, NULL), "the next batch runs");
    IT_CHECK(t, it_engine_check_batch(t, "out/fail", 2000, IT_L("HEY!"), IT_NORM_NONE, 1),
             "output of the batch after the failed one");

    /* A library file that does not exist, relative to the job file: the
     * error names the file where it was looked for. */
    char missing[IT_PATH_LEN];
    it_path(t, missing, "nope/libmissing.so");
    const char *const miss_phrases[] = { "cannot read library", missing, NULL };
    IT_CHECK(t, it_udf_refused(t, &e, "missing_lib.job",
                               "job bad\nbatch 1s\nlibrary \"nope/libmissing.so\"\n"
                               "l = push(\"l\")\nc = l.map(shout)\nc.print()\n",
                               "3:1", miss_phrases),
             "a job naming a missing library file is refused");
    /* A file that is not a shared object: refused, naming it. */
    char fake[IT_PATH_LEN];
    it_path(t, fake, "fake.so");
    IT_CHECK(t, it_write_file(t, fake, "not an ELF file\n", 0644), "write fake.so");
    const char *const fake_phrases[] = { "cannot load user library", "'fake.so'", NULL };
    IT_CHECK(t, it_udf_refused(t, &e, "fake_lib.job",
                               "job bad\nbatch 1s\nlibrary \"fake.so\"\n"
                               "l = push(\"l\")\nc = l.map(shout)\nc.print()\n",
                               "", fake_phrases),
             "a job naming a file that is no shared object is refused");
    for (size_t i = 0; i < sizeof it_udf_bad / sizeof *it_udf_bad; i++) {
        const it_udf_bad_t *b = &it_udf_bad[i];
        snprintf(text, sizeof text, b->text, lib);
        IT_CHECK(t, it_udf_refused(t, &e, b->file, text, b->pos, b->phrases),
                 "%s is refused", b->file);
    }

    /* The refusals changed nothing. */
    json_t *jobs = it_engine_jobs(t, &e);
    IT_CHECK(t, jobs != NULL, "sluice jobs --json");
    json_t *j = it_engine_job_at(jobs, "udf");
    bool running = j && !strcmp(it_jstr(j, "state"), "running");
    bool bad = it_engine_job_at(jobs, "bad") != NULL;
    json_decref(jobs);
    IT_CHECK(t, running, "job udf still running");
    IT_CHECK(t, !bad, "no job 'bad' was admitted");
}
