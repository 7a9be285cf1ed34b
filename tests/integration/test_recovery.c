/* Worker loss under a wall clock: a job counts the ids a producer pushes at a
 * steady rate (tests/tools/producer.c), and a worker dies by kill -9
 * mid-stream. Losing a worker that runs tasks (frozen first, so that it dies
 * holding tasks of a running batch) must leave every batch done, the one it
 * held run again; losing the receiver's worker must move the receiver
 * (another worker, a higher epoch) while the producer resumes on its own.
 * Either way the union of the batch outputs counts every acknowledged id
 * exactly once.
 *
 * With a wall clock the split of the ids across batches is not
 * deterministic, so nothing here says which batch holds which id: the checks
 * are on the batch list (consecutive times, all done), on each batch agreeing
 * with itself (its input count, its sqlite rows and its text files), and on
 * the union of all batches. Waits have deadlines; the only sleep aims the
 * freeze at a batch boundary, and what it hit is read back, not assumed. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "recovery.h"
#include "tests.h"

#define IT_RC_WORKERS 3
#define IT_RC_COUNT 3000                /* ids pushed... */
#define IT_RC_RATE 300                  /* ...per second: about 10 s of stream */
#define IT_RC_KILL_AFTER (IT_RC_COUNT / 3)   /* acknowledged ids before the kill */
/* The producer's run, with room for a slow machine and a receiver move. */
#define IT_RC_PRODUCER_MS (IT_RC_COUNT / IT_RC_RATE * 1000 + 90000)
/* How long before a batch boundary a worker is frozen to catch it holding
 * tasks of that batch. */
#define IT_RC_FREEZE_LEAD_MS 150

/* Three workers, so that one can die and leave two: one for the receiver,
 * one for its replicas. Wall clock, the default worker timeout. */
static const it_rc_opts_t it_rc_opts = {
    .cluster = { .workers = IT_RC_WORKERS, .cores = 2, .memory = "512M",
                 .memory_bytes = 512ull << 20, .worker_timeout = "2s", .manual_clock = false },
    .count = IT_RC_COUNT,
    .rate = IT_RC_RATE,
};

/* --- killing a worker that holds tasks ------------------------------------------ */

static uint64_t it_rc_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* What became of the first batch after a worker was frozen. */
typedef enum {
    IT_RC_WAITING,
    IT_RC_CAUGHT,       /* it runs (or runs again): the frozen worker holds its tasks */
    IT_RC_REPLICA,      /* its cut waits: the frozen worker is the receiver's replica peer */
    IT_RC_MISSED,       /* it was over without the frozen worker */
} it_rc_catch_t;

/* How long past its time a batch may wait for its cut before the wait is
 * put down to replication stuck on the frozen worker. */
#define IT_RC_CUT_STUCK_MS 500

typedef struct {
    it_ctx_t *t;
    const it_rc_t *s;
    long long batch;            /* the first batch after the freeze */
    it_rc_catch_t verdict;
    char last[IT_MSG_LEN];
} it_rc_catch_wait_t;

static bool it_rc_catch_cond(void *arg)
{
    it_rc_catch_wait_t *c = arg;
    json_t *bl = it_engine_batches(c->t, &c->s->e, IT_RC_JOB);
    json_t *b = bl ? it_engine_batch_at(bl, c->batch) : NULL;
    const char *st = it_jstr(b, "state");
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(bl, "batches"), i, e) {
        if (it_jint(e, "time_ms") >= c->batch && it_jint(e, "attempts") > 1)
            c->verdict = IT_RC_CAUGHT;      /* the heartbeats gave it away first */
    }
    if (c->verdict != IT_RC_WAITING)
        ;
    else if (!strcmp(st, "running"))
        c->verdict = IT_RC_CAUGHT;
    else if (!strcmp(st, "done") || !strcmp(st, "failed"))
        c->verdict = IT_RC_MISSED;
    else if (b && (long long)it_rc_wall_ms() >= c->batch + IT_RC_CUT_STUCK_MS)
        c->verdict = IT_RC_REPLICA;
    char *dump = bl ? json_dumps(bl, JSON_COMPACT) : NULL;
    snprintf(c->last, sizeof c->last, "%s", dump ? dump : c->t->note);
    free(dump);
    json_decref(bl);
    return c->verdict != IT_RC_WAITING;
}

/* Freezes `victim` (SIGSTOP) just before a batch boundary, so that the
 * master hands it tasks of that batch which it then keeps, and waits for
 * what becomes of the batch: it runs (caught), its cut waits (the victim is
 * the receiver's replica peer: replication waits on it), or it is over
 * without the victim. The aiming sleep only makes a catch likely; the batch
 * list says what happened, and a line in DIR/kill.txt too. */
static bool it_rc_freeze(it_ctx_t *t, it_rc_t *s, it_worker_t *victim,
                         it_rc_catch_t *verdict /* OUT */, long long *batch /* OUT */)
{
    uint64_t now = it_rc_wall_ms();
    uint64_t to_next = IT_RC_BATCH_MS - now % IT_RC_BATCH_MS;
    if (to_next <= IT_RC_FREEZE_LEAD_MS)
        to_next += IT_RC_BATCH_MS;
    it_sleep_ms((unsigned)(to_next - IT_RC_FREEZE_LEAD_MS));
    it_rc_catch_wait_t c = { t, s, 0, IT_RC_WAITING, "" };
    c.batch = (long long)((it_rc_wall_ms() / IT_RC_BATCH_MS + 1) * IT_RC_BATCH_MS);
    if (!it_proc_signal(t, victim->proc, SIGSTOP))
        return false;
    if (!it_wait_until(it_rc_catch_cond, &c, IT_DEADLINE_MS)) {
        it_note(t, "batch %lld neither ran nor waited for its cut while %s was frozen; last: %.600s",
                c.batch, victim->proc->name, c.last);
        return false;
    }
    *verdict = c.verdict;
    *batch = c.batch;
    static const char *const what[] = { "", "caught holding tasks of", "holding up the cut of",
                                        "not needed by" };
    char path[IT_PATH_LEN], line[256];
    it_path(t, path, "kill.txt");
    char *old = it_read_file(path, NULL);
    snprintf(line, sizeof line, "%s%s frozen, %s batch %lld\n", old ? old : "",
             victim->proc->name, what[c.verdict], c.batch);
    free(old);
    it_write_file(t, path, line, 0644);
    return true;
}

/* --- the tests ------------------------------------------------------------------ */

void it_test_worker_loss_tasks(it_ctx_t *t)
{
    it_rc_t s;
    it_job_state_t before, after;
    long long two = 2;
    IT_CHECK(t, it_rc_start(t, &s, &it_rc_opts), "a master and %d workers running the job",
             IT_RC_WORKERS);
    IT_CHECK(t, it_engine_wait_job(t, &s.e, IT_RC_JOB, it_job_placed, NULL, IT_DEADLINE_MS,
                                   &before),
             "the receiver is placed");
    IT_CHECK(t, it_rc_start_producer(t, &s), "start the producer");
    IT_CHECK(t, it_rc_wait_acked(t, &s, IT_RC_KILL_AFTER, IT_RC_PRODUCER_MS),
             "%d ids acknowledged", IT_RC_KILL_AFTER);
    IT_CHECK(t, it_engine_wait_job(t, &s.e, IT_RC_JOB, it_job_batches_done, &two,
                                   IT_DEADLINE_MS, &after),
             "two batches done");
    /* Both workers without the receiver run tasks of every batch: the
     * reduce tasks go to the workers with the most free cores (the
     * receiver's worker has one less), the map tasks to where the blocks and
     * their replicas are. */
    it_worker_t *cand[IT_RC_WORKERS], *victim = NULL;
    size_t ncand = 0;
    for (size_t i = 0; i < IT_RC_WORKERS; i++)
        if (strcmp(s.e.w[i].listen, before.address) != 0)
            cand[ncand++] = &s.e.w[i];
    IT_CHECK(t, ncand == IT_RC_WORKERS - 1, "the receiver is on %s, which is none of the workers",
             before.address);
    it_rc_catch_t caught = IT_RC_WAITING;
    for (size_t k = 0; k < ncand && !victim; k++) {
        long long batch;
        IT_CHECK(t, it_rc_freeze(t, &s, cand[k], &caught, &batch), "freeze %s",
                 cand[k]->proc->name);
        if (caught != IT_RC_REPLICA || k + 1 == ncand) {
            victim = cand[k];
            break;
        }
        /* The replica peer: thaw it (before its heartbeats are missed),
         * let the cut through and try the other one. */
        IT_CHECK(t, it_proc_signal(t, cand[k]->proc, SIGCONT), "SIGCONT %s", cand[k]->proc->name);
        IT_CHECK(t, it_rc_wait_over(t, &s, batch, IT_DEADLINE_MS), "batch %lld over", batch);
    }
    IT_CHECK(t, it_proc_kill9(t, victim->proc), "kill -9 %s", victim->proc->name);
    long long attempts = 0;
    it_rc_finish(t, &s, &before, &attempts);
    if (t->failed)
        return;
    /* Caught holding tasks, the batch ran again, whole. */
    IT_CHECK(t, caught != IT_RC_CAUGHT || attempts >= 2,
             "no batch ran a second time though %s was killed holding tasks", victim->proc->name);
}

void it_test_worker_loss_receiver(it_ctx_t *t)
{
    it_rc_t s;
    it_job_state_t before, after;
    IT_CHECK(t, it_rc_start(t, &s, &it_rc_opts), "a master and %d workers running the job",
             IT_RC_WORKERS);
    IT_CHECK(t, it_engine_wait_job(t, &s.e, IT_RC_JOB, it_job_placed, NULL, IT_DEADLINE_MS,
                                   &before),
             "the receiver is placed");
    it_worker_t *victim = it_engine_worker_at(&s.e, before.address);
    IT_CHECK(t, victim != NULL, "the receiver is on %s, which is none of the workers",
             before.address);
    IT_CHECK(t, it_rc_start_producer(t, &s), "start the producer");
    IT_CHECK(t, it_rc_wait_acked(t, &s, IT_RC_KILL_AFTER, IT_RC_PRODUCER_MS),
             "%d ids acknowledged", IT_RC_KILL_AFTER);
    IT_CHECK(t, it_proc_kill9(t, victim->proc), "kill -9 %s (the receiver's worker)",
             victim->proc->name);
    IT_CHECK(t, it_engine_wait_job(t, &s.e, IT_RC_JOB, it_job_moved, &before, IT_DEADLINE_MS,
                                   &after),
             "the receiver moves off %s", before.address);
    IT_CHECK(t, it_engine_worker_at(&s.e, after.address) != NULL,
             "the receiver moved to %s, which is none of the workers", after.address);
    /* The producer carries on by itself: the library finds the receiver
     * again and re-sends what was not acknowledged. */
    it_rc_finish(t, &s, NULL, NULL);
}
