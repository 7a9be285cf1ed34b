/* Helpers for the failure scenarios (test_recovery.c, test_regress.c): a
 * cluster running job "recovery", which counts the ids that
 * tests/tools/producer.c pushes to its stream "ids" ("id-0000001", ...) into
 * text files and a sqlite table, the producer with its log of acknowledged
 * ids, and the check at the end: every batch done, none missing, each batch
 * agreeing with itself, and over all batches each acknowledged id counted
 * exactly once (an id pushed but never acknowledged once or not at all).
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
