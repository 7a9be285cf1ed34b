/* Helpers for the failure scenarios (test_recovery.c, test_regress.c,
 * test_cluster_mode.c, test_failover.c): a cluster running job "recovery",
 * which counts the ids that tests/tools/producer.c pushes to its stream
 * "ids" ("id-0000001", ...) into text files and a sqlite table, the
 * producer with its log of acknowledged ids, and the check at the end:
 * every batch done, none missing, each batch agreeing with itself, and over
 * all batches each acknowledged id counted exactly once (an id pushed but
 * never acknowledged once or not at all). The job's text, the producer, the
 * ack log and the exactly-once check of a sqlite output also serve jobs of
 * the kind under other names.
 *
 * The split of the ids across batches is not deterministic (wall clock,
 * moves), so nothing here says which batch holds which id. */
#ifndef SL_IT_RECOVERY_H
#define SL_IT_RECOVERY_H

#include <stdbool.h>
#include <stddef.h>
#include "engine.h"
#include "harness.h"

#define IT_RC_JOB "recovery"
#define IT_RC_BATCH_MS IT_BATCH_MS      /* the job's "batch 1s" */
/* For the batches to catch up once the producer is done. */
#define IT_RC_CATCH_UP_MS 60000
/* Room for the text of a job of the kind (it_rc_job_text). */
#define IT_RC_JOB_TEXT 1024

/* --- any job of the kind, its producer and the exactly-once check -------------- */

/* The text of job `job` like "recovery" (with `wal`, "wal on"): it counts
 * the ids of its stream "ids" into the text files DIR/<texts>-<time>/ and
 * table "counts" of the sqlite file DIR/<db> (DIR: the "@DIR@" of
 * it_engine_write_job). */
void it_rc_job_text(char *out /* IT_RC_JOB_TEXT */, const char *job, const char *texts,
                    const char *db, bool wal);

/* A run of tests/producer: `count` ids at `rate` a second to stream "ids"
 * of `job`, each acknowledged one logged to `ack_log`. */
typedef struct {
    const char *name;           /* process name; NULL: "producer" */
    const char *master;         /* --master: a master or a list */
    const char *job;
    unsigned count, rate;
    const char *ack_log;
    unsigned flush_every;       /* --flush-every; 0: its default */
    const char *give_up;        /* --give-up; NULL: its default */
    const char *timeout;        /* --timeout (its client timeout); NULL: its default */
} it_producer_t;

it_proc_t *it_producer_start(it_ctx_t *t, const it_producer_t *p);

/* How many ids an ack log holds now. */
size_t it_ack_log_count(const char *path);
/* Waits until the ack log holds `n` ids. */
bool it_ack_log_wait(it_ctx_t *t, const char *path, size_t n, int deadline_ms);
/* The ids of an ack log ("id-0000001" lines) as flags, acked[1..ids], and
 * *n their number; false with a note on a line that is not an id 1..ids or
 * is there twice. */
bool it_ack_log_read(it_ctx_t *t, const char *path, bool *acked, unsigned ids,
                     size_t *n /* OUT */);
/* The lines "id-<first>" .. "id-<first + n - 1>" ("id-0000001\n"); *len
 * (may be NULL) gets their length. Caller frees; NULL when out of memory. */
char *it_ids_text(unsigned first, unsigned n, size_t *len /* OUT */);

/* What a job's sqlite output counted for the ids 1..ids over all batches. */
typedef struct {
    unsigned ids;
    long long *per_id;          /* ids + 1 entries */
    long long total;            /* all counts added up */
    size_t counted;             /* ids counted at least once */
} it_counts_t;

/* Reads table "counts" of the sqlite file at db_path while its job may
 * still run: a missing file or table is nothing counted yet, a writer's
 * lock is waited out. False with a note on a row that is not an id 1..ids
 * counted once or more. Free c with it_counts_free (also after a failure). */
bool it_counts_read(it_ctx_t *t, const char *db_path, unsigned ids, it_counts_t *c /* OUT */);
void it_counts_free(it_counts_t *c);
/* The exactly-once check of c (read from db_path) against acked[1..c->ids]:
 * no id counted more than once, every acknowledged id counted. (An id
 * pushed but not acknowledged may be counted once or not at all.) False
 * with a note. */
bool it_counts_once(it_ctx_t *t, const char *db_path, const it_counts_t *c, const bool *acked);
/* it_counts_read and it_counts_once; *counted (may be NULL) gets c.counted. */
bool it_check_once(it_ctx_t *t, const char *db_path, const bool *acked, unsigned ids,
                   size_t *counted /* OUT */);

/* --- the scenario of job "recovery" ----------------------------------------------- */

/* One scenario's cluster and producer. */
typedef struct {
    it_engine_opts_t cluster;
    unsigned count;             /* ids the producer pushes... */
    unsigned rate;              /* ...per second */
    unsigned flush_every;       /* producer --flush-every; 0: its default */
    const char *timeout;        /* producer --timeout (its client timeout); NULL: its default */
    /* Ids count+1 .. count+extra are the test's own (it_rc_push), at most. */
    unsigned extra;
} it_rc_opts_t;

typedef struct {
    it_engine_t e;
    it_rc_opts_t o;             /* o.cluster.cm points to cm below */
    it_master_cm_t cm;          /* the master's cluster mode (copied) */
    char prefix[IT_PATH_LEN];   /* save_as_text_files: <prefix>-<time>/part-NNNNN */
    char db[IT_PATH_LEN];       /* sqlite output, table "counts" */
    char ack_log[IT_PATH_LEN];  /* the producer's acknowledged ids */
    it_proc_t *producer;
    size_t ckpt_batches;        /* rows of the checkpoint's batches table it_rc_finish read */
    unsigned extra_pushed;      /* ids of the extra range pushed so far... */
    unsigned extra_unacked;     /* ...of which these without an acknowledgement */
} it_rc_t;

/* Starts the cluster `o` describes and submits the job (o is copied). */
bool it_rc_start(it_ctx_t *t, it_rc_t *s, const it_rc_opts_t *o);
/* Only sets s up (options, output paths), for a test that starts the
 * cluster into s->e itself. */
void it_rc_init(it_ctx_t *t, it_rc_t *s, const it_rc_opts_t *o);
/* `sluice submit` of the job, judged by the caller (it_run_free r). */
bool it_rc_submit(it_ctx_t *t, const it_rc_t *s, it_run_t *r /* OUT */);
/* `sluice submit` of the job: exit 0 and its id printed. */
bool it_rc_submit_ok(it_ctx_t *t, const it_rc_t *s);
/* Starts the producer (named "producer"); it runs until it_rc_finish. */
bool it_rc_start_producer(it_ctx_t *t, it_rc_t *s);
/* Pushes the next n ids of the extra range with `sluice push`. When the
 * command says all n are acknowledged (*acked), they go to the ack log;
 * otherwise they count as pushed without an acknowledgement (each may be
 * counted once or not at all), and the caller judges the failure (the note
 * says what the command said). False (with a note) only when the command
 * cannot be run or the extra range is used up. */
bool it_rc_push(it_ctx_t *t, it_rc_t *s, unsigned n, bool *acked /* OUT */);
/* How many ids the producer's ack log holds now. */
size_t it_rc_acked(const it_rc_t *s);
/* Waits until the producer has logged `n` acknowledged ids. */
bool it_rc_wait_acked(it_ctx_t *t, const it_rc_t *s, size_t n, int deadline_ms);
/* Waits until batch `time` or a later one is over (done or failed). */
bool it_rc_wait_over(it_ctx_t *t, const it_rc_t *s, long long time, int deadline_ms);

/* The end of a scenario: the producer exits 0 (every id acknowledged); with
 * `stay` (may be NULL) the receiver must still be where and what it was then;
 * the batches catch up (under the manual clock one batch is ticked), the job
 * is stopped, and the batch list and the outputs are checked against the ack
 * log. With a checkpointing master the checkpoint's batches table is read
 * just before the stop (which deletes the job from it) and must agree: batch
 * times consecutive from the first listed batch, none failed, every one up
 * to the batch waited for finished, each finished one done in the list with
 * the same input count (s->ckpt_batches gets the number of rows).
 * Ids of the extra range count like the producer's: acknowledged ones
 * exactly once, the others at most once. *max_attempts (may be NULL) gets the most attempts any batch took.
 * Fails the test (check t->failed) rather than returning a value. */
void it_rc_finish(it_ctx_t *t, it_rc_t *s, const it_job_state_t *stay,
                  long long *max_attempts /* OUT */);

#endif
