/* Helpers for the micro-batch engine tests: a cluster (by default a
 * manual-clock master and two workers of 2 cores and 1G each), job files
 * written from strings, pushes and ticks through the CLI, a job's state and
 * its receiver as `sluice jobs --json` shows them, and reading what the
 * outputs produced: the part files of a batch directory, sqlite rows,
 * `sluice watch` output and `sluice batches --json`.
 *
 * Outputs are compared as multisets of lines (it_lines_t): sorted copies,
 * optionally normalised where the engine leaves an order undefined (the
 * values of a group, the pieces of a concat).
 *
 * Ownership: it_lines_t owns its strings (it_lines_free); JSON documents
 * returned here are the caller's to json_decref(). */
#ifndef SL_IT_ENGINE_H
#define SL_IT_ENGINE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "cluster.h"
#include "harness.h"

/* Deadline for one CLI run against the engine (tick --wait included). */
#define IT_ENGINE_CLI_MS 60000
/* The batch interval every engine test job uses ("batch 1s"). */
#define IT_BATCH_MS 1000

#define IT_ENGINE_MAX_WORKERS 3

/* A master and the workers registered with it. */
typedef struct {
    it_master_t m;
    it_worker_t w[IT_ENGINE_MAX_WORKERS];
    size_t nworkers;
} it_engine_t;

/* What it_engine_start_with() starts. */
typedef struct {
    size_t workers;             /* 1..IT_ENGINE_MAX_WORKERS, named worker1, worker2, ... */
    unsigned cores;             /* of each worker */
    const char *memory;         /* --memory of each worker, e.g. "1G" */
    uint64_t memory_bytes;      /* what it means */
    const char *worker_timeout; /* the master's --worker-timeout, e.g. "10s" */
    bool manual_clock;          /* --clock manual; false: the wall clock */
    const it_master_cm_t *cm;   /* the master's cluster-mode settings (copied); NULL: none */
} it_engine_opts_t;

/* Starts the default cluster (manual clock, worker timeout 10s, two workers
 * of 2 cores and 1G) and waits until both workers are alive. */
bool it_engine_start(it_ctx_t *t, it_engine_t *e);
/* Starts the cluster `o` describes and waits until every worker is alive. */
bool it_engine_start_with(it_ctx_t *t, it_engine_t *e, const it_engine_opts_t *o);
/* Only the workers of `o` (worker1, worker2, ...), against e->m.listen (a
 * master or a list of them); does not wait. */
bool it_engine_start_workers(it_ctx_t *t, it_engine_t *e, const it_engine_opts_t *o);
/* Waits until master m (NULL: e->m) lists every worker of e alive. */
bool it_engine_wait_alive(it_ctx_t *t, it_engine_t *e, const it_master_t *m, int deadline_ms);
/* The worker listening on `address`, or NULL. */
it_worker_t *it_engine_worker_at(it_engine_t *e, const char *address);

/* --- jobs ------------------------------------------------------------------ */

/* Writes `text` to DIR/file with every "@DIR@" replaced by the test's temp
 * dir, so job files can name absolute output paths; the file's path goes to
 * path (IT_PATH_LEN bytes). */
bool it_engine_write_job(it_ctx_t *t, const char *file, const char *text, char *path /* OUT */);
/* `sluice submit PATH`; the caller judges r (it_run_free). */
bool it_engine_submit_path(it_ctx_t *t, const it_engine_t *e, const char *path,
                           it_run_t *r /* OUT */);
/* Writes the job file and submits it: exit 0 and the id `job` on stdout. */
bool it_engine_submit(it_ctx_t *t, const it_engine_t *e, const char *file, const char *text,
                      const char *job);
/* `sluice stop JOB`, exit 0. */
bool it_engine_stop(it_ctx_t *t, const it_engine_t *e, const char *job);

/* Pushes the lines of `lines` ('\n'-terminated, may be "" for nothing) to
 * STREAM of JOB: `format` "kv" or NULL (text), `vtype` "int", "double" or
 * NULL (bytes). Requires exit 0 and every line acknowledged. */
bool it_engine_push(it_ctx_t *t, const it_engine_t *e, const char *job, const char *stream,
                    const char *lines, const char *format, const char *vtype);
/* `sluice tick JOB N --wait`: exit 0 and the N batch times printed, which
 * go to times (may be NULL). */
bool it_engine_tick(it_ctx_t *t, const it_engine_t *e, const char *job, unsigned n,
                    int64_t *times /* OUT: n entries */);
/* `sluice tick JOB --wait` for a batch that must fail: exit 1 and stderr
 * containing `phrase`. */
bool it_engine_tick_fails(it_ctx_t *t, const it_engine_t *e, const char *job, const char *phrase);

/* `sluice batches JOB --json`, parsed; NULL with a note. */
json_t *it_engine_batches(it_ctx_t *t, const it_engine_t *e, const char *job);
/* The batch with this time in a `batches --json` document (borrowed), or NULL. */
json_t *it_engine_batch_at(const json_t *batches, int64_t time);
/* Checks the batch at `time` is done in one attempt without failed tasks,
 * with `input` input records and `tasks` tasks (tasks 0: not checked). */
bool it_engine_check_batch_info(it_ctx_t *t, const json_t *batches, int64_t time,
                                long long input, long long tasks);
/* `sluice jobs --json`, parsed; NULL with a note. */
json_t *it_engine_jobs(it_ctx_t *t, const it_engine_t *e);
/* The job with this id in a `jobs --json` document (borrowed), or NULL. */
json_t *it_engine_job_at(const json_t *jobs, const char *id);

/* A job and its first receiver as `sluice jobs --json` shows them. */
typedef struct {
    char state[32];
    char address[IT_ADDR_LEN];  /* the receiver's worker; "" while it is not placed */
    long long epoch;
    long long batches_done;
    long long last_batch;       /* time of the latest batch, -1: none */
} it_job_state_t;

/* Reads the job's state; false with a note when the job or its receiver is
 * not listed. */
bool it_engine_job_state(it_ctx_t *t, const it_engine_t *e, const char *job,
                         it_job_state_t *out /* OUT */);

typedef bool (*it_job_pred)(const it_job_state_t *j, const void *arg);
/* Polls the job's state until pred(state, arg) holds (then true, with the
 * state in *out) or the deadline passes (false, with the last state in a
 * note). */
bool it_engine_wait_job(it_ctx_t *t, const it_engine_t *e, const char *job, it_job_pred pred,
                        const void *arg, int deadline_ms, it_job_state_t *out /* OUT */);
/* Predicates for it_engine_wait_job. placed: running with its receiver on a
 * worker (arg unused). moved: the receiver runs on another worker than in
 * the state `arg`, under a higher epoch. batches_done: at least
 * *(const long long *)arg batches done. */
bool it_job_placed(const it_job_state_t *j, const void *arg);
bool it_job_moved(const it_job_state_t *j, const void *arg);
bool it_job_batches_done(const it_job_state_t *j, const void *arg);

/* --- multisets of lines ---------------------------------------------------- */

typedef struct {
    char **v;
    size_t n, cap;
} it_lines_t;

/* How lines are normalised before comparing. */
typedef enum {
    IT_NORM_NONE,
    IT_NORM_LISTS,      /* the elements of every innermost [...] sorted */
    IT_NORM_CSV,        /* the comma-separated pieces of the value (after TAB) sorted */
} it_norm_t;

void it_lines_free(it_lines_t *l);
bool it_lines_add(it_lines_t *l, const char *s, size_t len);
/* Adds each line of text ("a\nb\n" is two lines, "a\n\n" two: "a" and ""). */
bool it_lines_add_text(it_lines_t *l, const char *text);
/* Adds the strings of a NULL-terminated array. */
bool it_lines_add_all(it_lines_t *l, const char *const *v);
void it_lines_normalize(it_lines_t *l, it_norm_t how);
void it_lines_sort(it_lines_t *l);
/* Compares as multisets (sorting both); false with a note naming `what` and
 * the missing and unexpected lines. */
bool it_lines_match(it_ctx_t *t, it_lines_t *got, it_lines_t *want, const char *what);

/* --- outputs --------------------------------------------------------------- */

/* The lines of every part file of DIR/<prefix>-<time> (a save_as_text_files
 * batch directory); *nparts counts the part files. False with a note when
 * the directory is missing or holds leftover temporary files. */
bool it_engine_read_batch(it_ctx_t *t, const char *prefix, int64_t time, it_lines_t *out,
                          size_t *nparts /* OUT */);
/* Reads the batch directory and compares it with `want` (NULL-terminated),
 * both normalised by `norm`; with want_parts > 0 also the part file count. */
bool it_engine_check_batch(it_ctx_t *t, const char *prefix, int64_t time,
                           const char *const want[], it_norm_t norm, size_t want_parts);

/* Runs `sql` on the SQLite database at db_path (read-only); each row becomes
 * a line of its columns joined by '|', NULL as "NULL". */
bool it_sqlite_query(it_ctx_t *t, const char *db_path, const char *sql, it_lines_t *out);
/* The single row `sql` gives (as it_sqlite_query joins it) into out; false
 * with a note (out "") when it gives none or more than one. */
bool it_sqlite_line(it_ctx_t *t, const char *db_path, const char *sql, char *out, size_t len);

/* Starts `sluice watch JOB STREAM` (named watch-STREAM) for each of the n streams
 * and ticks empty batches until every watch printed one, so each sees every
 * later batch. *last_time (may be NULL) gets the last batch time ticked.
 * The watches run until it_engine_watch_stop(). */
bool it_engine_watch_start(it_ctx_t *t, const it_engine_t *e, const char *job,
                           const char *const streams[], it_proc_t *procs[], size_t n,
                           int64_t *last_time /* OUT */);
/* What a watch printed for one batch: the header's record count, the
 * records shown, and whether a "..." line followed them. */
typedef struct {
    uint64_t total;
    it_lines_t records;
    bool more;
} it_watched_t;
/* Waits (up to IT_DEADLINE_MS) until the watch printed the header of a
 * batch later than `time`, so that batch `time` is complete (the test ticks
 * one more batch for that), then parses batch `time` into w (caller frees
 * w->records with it_lines_free). False with a note when the watch skipped
 * the batch or printed it twice. */
bool it_engine_watched(it_ctx_t *t, const it_proc_t *watch, int64_t time, it_watched_t *w);
/* Ends a watch (SIGKILL; it would run forever). */
void it_engine_watch_stop(it_ctx_t *t, it_proc_t *watch);

#endif
