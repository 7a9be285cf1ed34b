/* Regression tests for defects a code review found in receiver failover,
 * each replaying the reviewer's reproduction and checking what the engine
 * must do now:
 *
 * - regress_zombie_receiver: the receiver's worker is frozen past the worker
 *   timeout, so the master moves the receiver; once thawed, its old receiver
 *   must stop (fenced at the replica holders, stopped when the master
 *   forgets the worker) instead of acking pushes no batch counts.
 * - regress_sole_worker: the only worker dies and comes back; the receiver
 *   must be placed on it again (it stayed unplaced forever).
 * - regress_unreplicated_retry: a push whose block could not be replicated
 *   is retried under the same producer sequence; the retry must not be
 *   acked until the block has a replica (it was acked as a duplicate, and
 *   the records were lost with the receiver's worker).
 *
 * (The fourth defect, stream names longer than 64 characters, is a row of
 * the bad_jobs table in test_badjobs.c.)
 *
 * Freezes last a given time because the freeze is the stimulus; everything
 * asserted is a state read back from the master, the logs or the outputs,
 * waited for with a deadline. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "recovery.h"
#include "tests.h"

#define IT_L(...) ((const char *const[]){ __VA_ARGS__, NULL })

/* Waits until the master lists worker `id` as dead. */
static bool it_rg_dead_pred(const json_t *st, void *arg)
{
    return it_worker_in_state(st, arg, "dead");
}

static bool it_rg_wait_dead(it_ctx_t *t, const it_engine_t *e, const it_worker_t *w)
{
    json_t *st = it_wait_status(t, &e->m, NULL, it_rg_dead_pred, (void *)w->id, IT_DEADLINE_MS);
    json_decref(st);
    return st != NULL;
}

/* --- a zombie receiver ------------------------------------------------------------ */

/* How long the receiver's worker stays frozen: well past the worker timeout
 * (1 s), so the master declares it dead and moves the receiver meanwhile. */
#define IT_RG_FREEZE_MS 2500
/* Acknowledged ids before the freeze: one second of stream. */
#define IT_RG_ZOMBIE_BEFORE 200

static const it_rc_opts_t it_rg_zombie_opts = {
    .cluster = { .workers = 3, .cores = 2, .memory = "512M", .memory_bytes = 512ull << 20,
                 .worker_timeout = "1s", .manual_clock = false },
    .count = 1200,      /* 6 s of stream at... */
    .rate = 200,
};

/* The "N blocks sent again" of the producer's last line, -1 if absent. */
static long long it_rg_resent(const it_proc_t *producer)
{
    char *text = it_read_file(producer->log_path, NULL);
    const char *p = text ? strstr(text, " records pushed and acknowledged in ") : NULL;
    const char *open = p ? strchr(p, '(') : NULL;
    long long n = -1;
    if (!open || sscanf(open, "(%lld blocks sent again)", &n) != 1)
        n = -1;
    free(text);
    return n;
}

void it_test_regress_zombie_receiver(it_ctx_t *t)
{
    it_rc_t s;
    it_job_state_t before, after;
    IT_CHECK(t, it_rc_start(t, &s, &it_rg_zombie_opts), "a master (worker timeout 1s) and 3 "
             "workers running the job");
    IT_CHECK(t, it_engine_wait_job(t, &s.e, IT_RC_JOB, it_job_placed, NULL, IT_DEADLINE_MS,
                                   &before),
             "the receiver is placed");
    it_worker_t *victim = it_engine_worker_at(&s.e, before.address);
    IT_CHECK(t, victim != NULL, "the receiver is on %s, which is none of the workers",
             before.address);
    IT_CHECK(t, it_rc_start_producer(t, &s), "start the producer");
    IT_CHECK(t, it_rc_wait_acked(t, &s, IT_RG_ZOMBIE_BEFORE, IT_DEADLINE_MS),
             "%d ids acknowledged", IT_RG_ZOMBIE_BEFORE);

    uint64_t frozen_at = it_now_ms();
    IT_CHECK(t, it_proc_signal(t, victim->proc, SIGSTOP), "SIGSTOP %s", victim->proc->name);
    IT_CHECK(t, it_rg_wait_dead(t, &s.e, victim), "the master declares the frozen %s dead",
             victim->proc->name);
    IT_CHECK(t, it_engine_wait_job(t, &s.e, IT_RC_JOB, it_job_moved, &before, IT_DEADLINE_MS,
                                   &after),
             "the receiver moves off the frozen %s (epoch %lld)", victim->proc->name,
             before.epoch);
    IT_CHECK(t, it_engine_worker_at(&s.e, after.address) != NULL,
             "the receiver moved to %s, which is none of the workers", after.address);
    uint64_t frozen_for = it_now_ms() - frozen_at;
    if (frozen_for < IT_RG_FREEZE_MS)
        it_sleep_ms((unsigned)(IT_RG_FREEZE_MS - frozen_for));
    IT_CHECK(t, it_proc_signal(t, victim->proc, SIGCONT), "SIGCONT %s", victim->proc->name);

    /* The producer goes on by itself, and every id it saw acknowledged, by
     * either epoch, is counted exactly once: the thawed worker's receiver
     * acks nothing the master does not count. */
    it_rc_finish(t, &s, NULL, NULL);
    if (t->failed)
        return;
    /* Thawed, the worker learned it was declared dead and stopped the
     * receiver of the old epoch. */
    char stop_line[160];
    snprintf(stop_line, sizeof stop_line, "stopping receiver %s/ids (epoch %lld)", IT_RC_JOB,
             before.epoch);
    IT_CHECK(t, it_wait_log(t, victim->proc, stop_line, 1, IT_DEADLINE_MS),
             "the thawed %s logs '%s'", victim->proc->name, stop_line);
    /* The producer re-located: what it had sent to the frozen worker went
     * again to the new receiver. */
    long long resent = it_rg_resent(s.producer);
    IT_CHECK(t, resent >= 1, "the producer sent %lld blocks again, want at least 1 (its log "
             "ends with the count)", resent);
}

/* --- the receiver of a one-worker cluster ---------------------------------------------- */

#define IT_RG_SOLO_JOB "solo"

static const char it_rg_solo_jobfile[] =
    "job " IT_RG_SOLO_JOB "\n"
    "batch 1s\n"
    "lines = push(\"lines\", partitions = 2)\n"
    "counts = lines.flat_map(split).map(pair_one).reduce_by_key(sum, partitions = 2)\n"
    "counts.save_as_text_files(\"@DIR@/out/counts\")\n";

/* The receiver runs on the worker at address `arg`, under a later epoch than
 * the one in `arg`. */
static bool it_rg_placed_again(const it_job_state_t *j, const void *arg)
{
    const it_job_state_t *old = arg;
    return !strcmp(j->state, "running") && !strcmp(j->address, old->address) &&
           j->epoch > old->epoch;
}

void it_test_regress_sole_worker(it_ctx_t *t)
{
    const it_engine_opts_t o = { .workers = 1, .cores = 2, .memory = "1G",
                                 .memory_bytes = 1ull << 30, .worker_timeout = "10s",
                                 .manual_clock = true };
    it_engine_t e;
    it_job_state_t before, after;
    IT_CHECK(t, it_engine_start_with(t, &e, &o), "manual-clock cluster with one worker");
    it_worker_t *w = &e.w[0];
    IT_CHECK(t, it_engine_submit(t, &e, "solo.job", it_rg_solo_jobfile, IT_RG_SOLO_JOB),
             "submit the job");
    IT_CHECK(t, it_engine_wait_job(t, &e, IT_RG_SOLO_JOB, it_job_placed, NULL, IT_DEADLINE_MS,
                                   &before),
             "the receiver is placed");
    IT_CHECK(t, !strcmp(before.address, w->listen), "the receiver is on '%s', not on %s",
             before.address, w->listen);
    /* Acknowledged but never cut: with no other worker these have no replica,
     * so the crash may lose them; nothing below depends on them. */
    IT_CHECK(t, it_engine_push(t, &e, IT_RG_SOLO_JOB, "lines", "early early\n", NULL, NULL),
             "push before the crash");

    IT_CHECK(t, it_proc_kill9(t, w->proc), "kill -9 %s", w->proc->name);
    IT_CHECK(t, it_rg_wait_dead(t, &e, w), "the master declares %s dead", w->id);
    /* The same command line: the same port, so the same worker id. */
    w->proc = it_respawn(t, w->proc);
    IT_CHECK(t, w->proc != NULL, "restart the worker");
    it_worker_t *const ws[] = { w };
    IT_CHECK(t, it_wait_alive(t, &e.m, NULL, ws, 1, IT_DEADLINE_MS), "%s registers again",
             w->id);
    IT_CHECK(t, it_engine_wait_job(t, &e, IT_RG_SOLO_JOB, it_rg_placed_again, &before,
                                   IT_DEADLINE_MS, &after),
             "the receiver is placed again on the restarted %s", w->listen);

    IT_CHECK(t, it_engine_push(t, &e, IT_RG_SOLO_JOB, "lines", "late a late\nb\n", NULL, NULL),
             "push after the restart");
    int64_t time;
    IT_CHECK(t, it_engine_tick(t, &e, IT_RG_SOLO_JOB, 1, &time), "tick a batch");
    it_lines_t got = { 0 }, kept = { 0 }, want = { 0 };
    size_t nparts;
    bool ok = it_engine_read_batch(t, "out/counts", time, &got, &nparts);
    for (size_t i = 0; ok && i < got.n; i++)
        if (strncmp(got.v[i], "early\t", 6) != 0)
            ok = it_lines_add(&kept, got.v[i], strlen(got.v[i]));
    ok = ok && it_lines_add_all(&want, IT_L("late\t2", "a\t1", "b\t1"));
    ok = ok && it_lines_match(t, &kept, &want, "the batch after the restart (without 'early')");
    it_lines_free(&got);
    it_lines_free(&kept);
    it_lines_free(&want);
    IT_CHECK(t, ok, "the batch after the restart counts what was pushed after it");
}

/* --- a retried push of an unreplicated block ------------------------------------------- */

/* Two workers: the receiver's and its only replica peer. The producer pushes
 * its ids in one flush (one block), and its client timeout is longer than a
 * replication call (bounded at 3 s), so a failed replication reaches it as
 * the last error of a timeout, which it logs before retrying. The worker
 * timeout is long enough for the peer to stay frozen through two failed
 * replications without being declared dead. */
#define IT_RG_RETRY_IDS 20
#define IT_RG_REPL_FAILED "block could not be replicated"

static const it_rc_opts_t it_rg_retry_opts = {
    .cluster = { .workers = 2, .cores = 2, .memory = "1G", .memory_bytes = 1ull << 30,
                 .worker_timeout = "30s", .manual_clock = true },
    .count = IT_RG_RETRY_IDS,
    .rate = 1000,
    .flush_every = IT_RG_RETRY_IDS,
    .timeout = "4s",
};

typedef struct {
    const it_rc_t *s;
    it_proc_t *receiver;
    size_t failures, acked;
} it_rg_retry_wait_t;

/* Until the receiver failed to replicate twice (the push, then its retry),
 * or something was acknowledged, or the producer ended. */
static bool it_rg_retry_cond(void *arg)
{
    it_rg_retry_wait_t *w = arg;
    w->failures = it_log_count(w->receiver, IT_RG_REPL_FAILED);
    w->acked = it_rc_acked(w->s);
    return w->failures >= 2 || w->acked > 0 || !it_proc_alive(w->s->producer);
}

void it_test_regress_unreplicated_retry(it_ctx_t *t)
{
    it_rc_t s;
    it_job_state_t before, after;
    char desc[96];
    IT_CHECK(t, it_rc_start(t, &s, &it_rg_retry_opts), "manual-clock cluster with two workers "
             "running the job");
    IT_CHECK(t, it_engine_wait_job(t, &s.e, IT_RC_JOB, it_job_placed, NULL, IT_DEADLINE_MS,
                                   &before),
             "the receiver is placed");
    it_worker_t *receiver = it_engine_worker_at(&s.e, before.address);
    IT_CHECK(t, receiver != NULL, "the receiver is on %s, which is none of the workers",
             before.address);
    it_worker_t *peer = receiver == &s.e.w[0] ? &s.e.w[1] : &s.e.w[0];

    IT_CHECK(t, it_proc_signal(t, peer->proc, SIGSTOP), "SIGSTOP %s (the replica peer)",
             peer->proc->name);
    IT_CHECK(t, it_rc_start_producer(t, &s), "start the producer");
    /* The block is stored but cannot be replicated; the client library
     * retries the push under the same producer id and sequence, and the
     * receiver must replicate the block again rather than ack the retry as
     * a duplicate. So nothing is acknowledged while the peer is frozen, and
     * the receiver fails a second replication: the retry's. */
    it_rg_retry_wait_t rw = { &s, receiver->proc, 0, 0 };
    IT_CHECK(t, it_wait_until(it_rg_retry_cond, &rw, IT_DEADLINE_MS),
             "%s failed %zu replication(s) and %zu ids were acknowledged within %d ms, want 2 "
             "failures", receiver->proc->name, rw.failures, rw.acked, IT_DEADLINE_MS);
    IT_CHECK(t, rw.acked == 0, "%zu ids acknowledged while their block had no replica (the "
             "peer %s is frozen; %s failed %zu replication(s))", rw.acked, peer->proc->name,
             receiver->proc->name, rw.failures);
    IT_CHECK(t, it_proc_alive(s.producer), "the producer ended (%s) while the peer was frozen",
             it_proc_describe(s.producer, desc, sizeof desc));
    IT_CHECK(t, it_log_has(s.producer, IT_RG_REPL_FAILED, NULL),
             "the producer's log says its push failed with '%s'", IT_RG_REPL_FAILED);

    /* Thawed, the peer takes a replica and the retry is acknowledged. */
    IT_CHECK(t, it_proc_signal(t, peer->proc, SIGCONT), "SIGCONT %s", peer->proc->name);
    IT_CHECK(t, it_rc_wait_acked(t, &s, IT_RG_RETRY_IDS, IT_DEADLINE_MS),
             "all %d ids acknowledged once the peer is back", IT_RG_RETRY_IDS);

    /* The receiver's copy goes; the replica is what the batch counts. */
    IT_CHECK(t, it_proc_kill9(t, receiver->proc), "kill -9 %s (the receiver's worker)",
             receiver->proc->name);
    IT_CHECK(t, it_engine_wait_job(t, &s.e, IT_RC_JOB, it_job_moved, &before, IT_DEADLINE_MS,
                                   &after),
             "the receiver moves off %s", before.address);
    IT_CHECK(t, !strcmp(after.address, peer->listen), "the receiver moved to %s, not to %s",
             after.address, peer->listen);
    it_rc_finish(t, &s, NULL, NULL);
}
