/* Cluster mode (issue #4): the master's metadata checkpoint under crashes
 * and damage.
 *
 * ckpt_crash_loop: a wall-clock cluster of two workers whose master keeps its
 * checkpoint with a 2 s lease and runs under deploy/sluice-supervise. A
 * producer pushes ids for about a minute into job "recovery"; every 8 s the
 * master (the pid in the supervisor's pid file) dies by kill -9, and the
 * supervisor's next master takes the lease once it expires, reloads the job,
 * collects the workers' blocks and places the receiver again. Afterwards
 * every acknowledged id is counted exactly once over all batches, the batch
 * list and the checkpoint's batches table hold consecutive batch times (no
 * gap, no duplicate) all done, and the supervisor restarted the master once
 * per kill (and otherwise only for a fenced exit, 3, of a master stalled past
 * its lease).
 *
 * ckpt_crash_points: a manual-clock cluster whose masters die at chosen
 * checkpoint writes (SLUICE_CKPT_CRASH_AT=N: SIGKILL just before the Nth
 * write statement), a dozen in a row on one checkpoint, while the test
 * drives the workload through them (submit until a submission is
 * acknowledged, push ids, tick) and a producer pushes more. After each crash
 * a master without a crash point recovers (integrity_check "ok", the job
 * and every acknowledged batch still there), then stops with SIGTERM so that
 * the next crash master takes the free lease at once. Each crash master must
 * die by SIGKILL; at the end each acknowledged id is counted exactly once.
 *
 * ckpt_corrupt: a checkpoint holding a job, damaged five ways (truncated to
 * half, to 300 bytes, to nothing; its header overwritten with random bytes; a
 * byte of a row flipped so that integrity_check fails) and once more (a page
 * header byte): a master started on each copy exits 1 (not by a signal),
 * naming the file and what is wrong, and leaves the file as it was.
 *
 * Waits are conditions polled against deadlines. The only sleeps pace the
 * workload (the 8 s between kills); nothing asserts on speed. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "recovery.h"
#include "tests.h"

/* Writes len bytes to path (created or truncated). */
static bool cm_write_bytes(it_ctx_t *t, const char *path, const void *buf, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    bool ok = fd >= 0 && (len == 0 || it_send_all(fd, buf, len));
    if (fd >= 0 && close(fd) != 0)
        ok = false;
    if (!ok)
        it_note(t, "cannot write %s: %s", path, strerror(errno));
    return ok;
}

/* Appends a line to DIR/name (a record of what the test did, for a failure). */
static void cm_record(it_ctx_t *t, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void cm_record(it_ctx_t *t, const char *name, const char *fmt, ...)
{
    char path[IT_PATH_LEN];
    it_path(t, path, name);
    FILE *f = fopen(path, "a");
    if (!f)
        return;
    va_list ap;
    va_start(ap, fmt);
    vfprintf(f, fmt, ap);
    va_end(ap);
    fputc('\n', f);
    fclose(f);
}

/* A job's receiver placed in a later epoch than the state `arg`. */
static bool cm_placed_after(const it_job_state_t *j, const void *arg)
{
    const it_job_state_t *old = arg;
    return it_job_placed(j, NULL) && j->epoch > old->epoch;
}

/* --- ckpt_crash_loop -------------------------------------------------------------- */

#define CL_RATE 100                 /* ids per second... */
#define CL_COUNT (CL_RATE * 60)     /* ...for about a minute */
#define CL_KILLS 7                  /* kill -9 of the master, one every... */
#define CL_KILL_EVERY_MS 8000
#define CL_MIN_KILLS 6              /* the producer must outlast at least these */

static void cl_run(it_ctx_t *t, it_rc_t *s, unsigned *kills)
{
    it_master_cm_t cm = { .lease_timeout = "2s", .supervised = true, .supervise_delay = "0.2" };
    it_path(t, cm.checkpoint_dir, "ckpt");
    const it_rc_opts_t o = {
        .cluster = { .workers = 2, .cores = 2, .memory = "512M", .memory_bytes = 512ull << 20,
                     .worker_timeout = "5s", .manual_clock = false, .cm = &cm },
        .count = CL_COUNT,
        .rate = CL_RATE,
    };
    IT_CHECK(t, it_rc_start(t, s, &o), "a supervised checkpointing master, 2 workers, the job");
    it_job_state_t j;
    IT_CHECK(t, it_engine_wait_job(t, &s->e, IT_RC_JOB, it_job_placed, NULL, IT_DEADLINE_MS, &j),
             "the receiver is placed");
    pid_t pid = it_master_pid(t, &s->e.m);
    IT_CHECK(t, pid > 0, "the supervisor's pid file names the master");
    IT_CHECK(t, it_rc_start_producer(t, s), "start the producer");
    uint64_t start = it_now_ms();
    for (unsigned k = 1; k <= CL_KILLS; k++) {
        /* Pacing of the workload, not a wait for a condition. */
        uint64_t at = start + (uint64_t)k * CL_KILL_EVERY_MS, now = it_now_ms();
        if (now < at)
            it_sleep_ms((unsigned)(at - now));
        if (!it_proc_alive(s->producer))
            break;      /* it_rc_finish says why */
        /* Normally still the master started after the last kill; another
         * one only if that one exited by itself, which the end judges. */
        IT_CHECK(t, it_master_wait_restarted(t, &s->e.m, 0, &pid, IT_DEADLINE_MS),
                 "a running master before kill %u", k);
        IT_CHECK(t, it_master_wait_active(t, &s->e.m, IT_DEADLINE_MS),
                 "master pid %d is active before kill %u", (int)pid, k);
        IT_CHECK(t, it_engine_job_state(t, &s->e, IT_RC_JOB, &j), "the job before kill %u", k);
        uint64_t killed = it_now_ms();
        IT_CHECK(t, kill(pid, SIGKILL) == 0, "kill -9 master pid %d: %s", (int)pid,
                 strerror(errno));
        pid_t next;
        IT_CHECK(t, it_master_wait_restarted(t, &s->e.m, pid, &next, IT_DEADLINE_MS),
                 "the supervisor starts a new master after kill %u", k);
        IT_CHECK(t, it_master_wait_active(t, &s->e.m, IT_DEADLINE_MS),
                 "master pid %d takes the lease and recovers after kill %u", (int)next, k);
        it_job_state_t after;
        IT_CHECK(t, it_engine_wait_job(t, &s->e, IT_RC_JOB, cm_placed_after, &j, IT_DEADLINE_MS,
                                       &after),
                 "the job's receiver is placed again (epoch > %lld) after kill %u", j.epoch, k);
        cm_record(t, "kills.txt", "kill %u: master pid %d (receiver epoch %lld, %zu ids acked); "
                  "pid %d active, receiver on %s epoch %lld after %llu ms", k, (int)pid, j.epoch,
                  it_rc_acked(s), (int)next, after.address, after.epoch,
                  (unsigned long long)(it_now_ms() - killed));
        pid = next;
        (*kills)++;
    }
    it_rc_finish(t, s, NULL, NULL);
    if (t->failed)
        return;
    IT_CHECK(t, *kills >= CL_MIN_KILLS, "only %u kills happened while the producer ran, want %d",
             *kills, CL_MIN_KILLS);
    /* The supervisor restarted the master once per kill -9, and for no
     * other reason but one: a master stalled past its lease (a loaded
     * machine) stops acting and exits 3, fenced, as designed. A crash or
     * any other exit fails the test. */
    size_t restarts = it_log_count(s->e.m.proc, "restarting in");
    size_t ours = 0, fenced = 0;
    char *log = it_read_file(s->e.m.proc->log_path, NULL);
    for (char *line = log; line && *line;) {
        char *nl = strchr(line, '\n');
        if (nl)
            *nl = '\0';
        if (strstr(line, "sluice-supervise:") && strstr(line, "restarting in")) {
            ours += strstr(line, "killed by signal 9") != NULL;
            fenced += strstr(line, "exited with status 3") != NULL;
        }
        line = nl ? nl + 1 : NULL;
    }
    free(log);
    IT_CHECK(t, ours == *kills && restarts == ours + fenced,
             "the supervisor restarted the master %zu times (%zu after a kill -9, %zu fenced), "
             "the test killed it %u times", restarts, ours, fenced, *kills);
    if (fenced)
        cm_record(t, "kills.txt", "%zu fenced exits (a master stalled past its lease)", fenced);
    IT_CHECK(t, s->ckpt_batches >= 10, "the checkpoint holds %zu batches of the job",
             s->ckpt_batches);
    cm_record(t, "kills.txt", "%u kills, %zu batches in the checkpoint", *kills, s->ckpt_batches);
}

void it_test_ckpt_crash_loop(it_ctx_t *t)
{
    it_rc_t *s = calloc(1, sizeof *s);
    unsigned kills = 0;
    IT_CHECK(t, s != NULL, "out of memory");
    cl_run(t, s, &kills);
    it_master_stop_supervised(t, &s->e.m);
    free(s);
}

/* --- ckpt_crash_points -------------------------------------------------------------- */

/* The masters die at these checkpoint writes (SLUICE_CKPT_CRASH_AT=N: just
 * before the Nth write statement the process executes), one after another
 * on one checkpoint. Between two of them a master without a crash point
 * recovers from the crash and is then stopped with SIGTERM: it finishes
 * what was acknowledged (the last batch of its graceful stop) and releases
 * the lease, so each crash master takes the lease at once and counts its
 * writes from the same start. (A standby's failed attempts at the lease
 * count too, one BEGIN each, which would make N depend on timing.) Every
 * write transaction is BEGIN IMMEDIATE, its statements, COMMIT. A crash
 * master's writes (from master/checkpoint.c and master/recovery.c, and seen
 * in a run with every N from 10 to 34):
 *
 *   1-3   the lease (BEGIN, UPDATE lease, COMMIT);
 *   4-9   the two workers registering (BEGIN, INSERT worker, COMMIT each);
 *   no job stored yet, the test submits it: the receiver is placed
 *   10-13 (BEGIN, INSERT epoch, UPDATE meta's next epoch, COMMIT), the job
 *   stored 14-16 (BEGIN, INSERT job, COMMIT), then the submission is
 *   acknowledged and the first tick's allocation begins at 17;
 *   a job stored: recovery places the receiver in a new epoch 10-13, then
 *   each tick allocates a batch (BEGIN 14, INSERT batch 15, UPSERT of the
 *   receiver's epoch 16 and of the epoch it closes (the last master's) 17,
 *   UPSERT producers 18, COMMIT 19) and finishes it (BEGIN 20, UPDATE batch
 *   21, DELETE of old rows 22, COMMIT 23); the next tick allocates 24-28
 *   (nothing left to close) and finishes 29-32.
 *
 * The points: the submission's epoch (11: BEGIN done; 13: before its COMMIT,
 * rolled back), between the epoch and the job (15), the job's COMMIT (16:
 * the submission is lost), just after an acknowledged submission (17); then
 * with the job stored: recovery's epoch start (12: after its INSERT), the
 * allocation (15: before the batch row; 17: between the epoch rows; 19:
 * before its COMMIT), the finish (21: before the UPDATE; 23: before its
 * COMMIT: the batch ran but stays allocated, so it runs again), and a second
 * batch's allocation COMMIT (28). The crashes at 13, 16, 12, 17 (in the
 * allocation), 19, 23 and 28 leave a hot journal (the transaction had
 * changed pages), which the next master rolls back. The mapping holds
 * while a crash master reaches its point before its first lease renewal (a
 * second after it took the lease, which it did on a loaded 2-core machine
 * under ASan too); on a slower machine a renewal (three writes) comes first
 * and moves the point three statements earlier or into the renewal itself,
 * and every check below holds whichever statement a crash hits.
 * DIR/crashes.txt records what each crash left behind. */
static const unsigned cp_crash_at[] = { 11, 13, 15, 16, 17, 12, 15, 17, 19, 21, 23, 28 };
#define CP_NCRASH (sizeof cp_crash_at / sizeof *cp_crash_at)
#define CP_LEASE "3s"
#define CP_RATE 50                  /* the producer's ids per second... */
#define CP_COUNT 600                /* ...for 12 s and more, while the masters die */
#define CP_PUSH 10                  /* ids the test pushes before each tick */
#define CP_MAX_TICKS 256
/* A master with SLUICE_CKPT_CRASH_AT must die by then (the lease renewals
 * alone write three statements a second). */
#define CP_MASTER_MS 60000

typedef struct {
    it_rc_t s;
    char ckpt[IT_PATH_LEN + 16]; /* DIR/ckpt/sluice.db */
    char env[IT_PATH_LEN];      /* the masters' environment file */
    bool submitted;             /* a submission was acknowledged */
    size_t nticks;              /* ticks that reported their batch done */
    int64_t last_tick;          /* the latest of their batch times */
} cp_run_t;

/* What the next master the supervisor starts gets: SLUICE_CKPT_CRASH_AT=N,
 * or (0) nothing. */
static bool cp_set_env(it_ctx_t *t, cp_run_t *r, unsigned crash_at)
{
    char text[64] = "";
    if (crash_at)
        snprintf(text, sizeof text, "SLUICE_CKPT_CRASH_AT=%u\n", crash_at);
    return it_write_file(t, r->env, text, 0644);
}

/* Records what the checkpoint holds once a master has taken over; it must
 * pass integrity_check. */
static bool cp_note_ckpt(it_ctx_t *t, cp_run_t *r, const char *who)
{
    char ok[64], sum[1024];
    if (!it_sqlite_line(t, r->ckpt, "PRAGMA integrity_check", ok, sizeof ok))
        return false;
    if (strcmp(ok, "ok") != 0) {
        it_note(t, "PRAGMA integrity_check on %s: %s", r->ckpt, ok);
        return false;
    }
    if (!it_sqlite_line(t, r->ckpt,
                        "SELECT (SELECT count(*) FROM jobs) || ' job(s), epochs ' || (SELECT "
                        "ifnull(group_concat(epoch || ':' || seq || (CASE WHEN closed THEN 'c' "
                        "ELSE '' END), ' '), '-') FROM epochs) || ', next epoch ' || (SELECT "
                        "next_epoch FROM meta) || ', batches (s:state:records) ' || (SELECT "
                        "ifnull(group_concat((time / 1000) || ':' || state || ':' || records, "
                        "' '), '-') FROM batches)",
                        sum, sizeof sum))
        return false;
    cm_record(t, "crashes.txt", "  %s: integrity ok; %s", who, sum);
    return true;
}

/* After a command failed: true when master `pid` is gone (give it a moment),
 * false when it still runs. */
static bool cp_died(pid_t pid)
{
    uint64_t end = it_now_ms() + 5000;
    while (it_pid_running(pid)) {
        if (it_now_ms() >= end)
            return false;
        it_sleep_ms(20);
    }
    return true;
}

/* One step of the workload against master `pid`: wait until it is active,
 * its recovery over, both workers alive; then, if `drive`, submit until a
 * submission is acknowledged, and once the receiver is placed start the
 * producer (once) and tick one batch. *ready: the job runs with its receiver
 * placed (or, before any acknowledged submission, the master is up). *pause
 * asks the caller to poll again later. Fails the test (returns false) on
 * anything a crash cannot explain. */
static bool cp_step(it_ctx_t *t, cp_run_t *r, pid_t pid, bool drive, bool *ready, bool *pause)
{
    it_engine_t *e = &r->s.e;
    *pause = true;
    *ready = false;
    bool bad = false;
    json_t *st = it_status(t, &e->m, NULL, &bad);
    if (!st) {
        if (bad)
            it_fail_at(t, __FILE__, __LINE__, "sluice status --json is malformed");
        return !bad;    /* a standby, or the master just died */
    }
    json_t *mi = json_object_get(st, "master_info");
    bool up = json_is_true(json_object_get(mi, "active")) &&
              json_is_false(json_object_get(mi, "recovering")) &&
              it_worker_in_state(st, e->w[0].id, "alive") &&
              it_worker_in_state(st, e->w[1].id, "alive");
    json_decref(st);
    if (!up)
        return true;
    json_t *jobs = it_engine_jobs(t, e);
    if (!jobs)
        return true;
    json_t *job = it_engine_job_at(jobs, IT_RC_JOB);
    bool listed = job != NULL;
    char state[32];
    snprintf(state, sizeof state, "%s", it_jstr(job, "state"));
    bool placed = it_jstr(json_array_get(json_object_get(job, "receivers"), 0), "address")[0];
    json_decref(jobs);
    if (!listed && r->submitted) {
        it_fail_at(t, __FILE__, __LINE__, "job %s, whose submission was acknowledged, is not "
                   "listed by master pid %d", IT_RC_JOB, (int)pid);
        return false;
    }
    if (!listed && !drive) {
        *ready = true;
        return true;
    }
    if (!listed) {
        it_run_t run;
        if (!it_rc_submit(t, &r->s, &run)) {
            it_fail_at(t, __FILE__, __LINE__, "cannot run sluice submit");
            return false;
        }
        bool acked = run.exit_code == 0 && !strcmp(run.out, IT_RC_JOB "\n");
        cm_record(t, "crashes.txt", "  submit through master pid %d: %s", (int)pid,
                  acked ? "acknowledged" : run.err);
        if (acked)
            r->submitted = true;
        else if (!cp_died(pid))
            it_fail_at(t, __FILE__, __LINE__, "sluice submit failed though master pid %d "
                       "runs: exit %d, %.300s", (int)pid, run.exit_code, run.err);
        it_run_free(&run);
        *pause = false;
        return !t->failed;
    }
    if (strcmp(state, "running") != 0) {
        it_fail_at(t, __FILE__, __LINE__, "job %s is %s under master pid %d", IT_RC_JOB, state,
                   (int)pid);
        return false;
    }
    if (!placed)
        return true;
    *ready = true;
    if (!r->s.producer && !it_rc_start_producer(t, &r->s)) {
        it_fail_at(t, __FILE__, __LINE__, "cannot start the producer");
        return false;
    }
    if (!drive)
        return true;
    /* Some ids of our own right before the tick, so that the batches a
     * crash hits hold records (the producer's client finds a new master
     * only about once a second). A push writes nothing to the checkpoint. */
    bool acked;
    *pause = false;
    if (!it_rc_push(t, &r->s, CP_PUSH, &acked)) {
        it_fail_at(t, __FILE__, __LINE__, "cannot push ids");
        return false;
    }
    if (!acked) {
        if (cp_died(pid))
            return true;
        it_fail_at(t, __FILE__, __LINE__, "sluice push failed though master pid %d runs",
                   (int)pid);
        return false;
    }
    int64_t time;
    if (!it_engine_tick(t, e, IT_RC_JOB, 1, &time)) {
        if (cp_died(pid))
            return true;
        it_fail_at(t, __FILE__, __LINE__, "sluice tick failed though master pid %d runs",
                   (int)pid);
        return false;
    }
    if (r->nticks > 0 && time <= r->last_tick) {
        it_fail_at(t, __FILE__, __LINE__, "a tick under master pid %d reported batch %lld done, "
                   "but batch %lld was reported done before: a batch time used twice", (int)pid,
                   (long long)time, (long long)r->last_tick);
        return false;
    }
    r->last_tick = time;
    if (++r->nticks >= CP_MAX_TICKS) {
        it_fail_at(t, __FILE__, __LINE__, "%zu ticks and master pid %d still runs", r->nticks,
                   (int)pid);
        return false;
    }
    return true;
}

/* Drives the workload against crash master `pid` until it dies at its
 * crash point: by SIGKILL, says its supervisor. */
static void cp_crash(it_ctx_t *t, cp_run_t *r, pid_t pid, unsigned n)
{
    uint64_t born = it_now_ms();
    while (it_pid_running(pid)) {
        IT_CHECK(t, it_now_ms() - born < CP_MASTER_MS,
                 "master pid %d (SLUICE_CKPT_CRASH_AT=%u) still runs after %d ms", (int)pid, n,
                 CP_MASTER_MS);
        bool ready, pause;
        if (!cp_step(t, r, pid, true, &ready, &pause))
            return;
        if (pause)
            it_sleep_ms(IT_POLL_MS);
    }
    /* Looked at before the next master opens the checkpoint (and rolls
     * the journal back); only recorded. */
    char journal[IT_PATH_LEN + 32];
    struct stat sb;
    snprintf(journal, sizeof journal, "%s-journal", r->ckpt);
    bool hot = stat(journal, &sb) == 0 && sb.st_size > 0;
    char line[64];
    snprintf(line, sizeof line, "(pid %d) killed by signal 9", (int)pid);
    IT_CHECK(t, it_wait_log(t, r->s.e.m.proc, line, 1, IT_DEADLINE_MS),
             "master pid %d (SLUICE_CKPT_CRASH_AT=%u) is killed by SIGKILL at that write "
             "(the supervisor's log says how it ended)", (int)pid, n);
    cm_record(t, "crashes.txt", "master pid %d: SLUICE_CKPT_CRASH_AT=%u: killed after %llu ms%s; "
              "submission %sacknowledged, %zu ticks acknowledged so far, %zu ids acked, %u "
              "pushed without an acknowledgement", (int)pid, n,
              (unsigned long long)(it_now_ms() - born),
              hot ? ", inside a transaction (hot journal left)" : "",
              r->submitted ? "" : "not ", r->nticks, it_rc_acked(&r->s), r->s.extra_unacked);
}

/* Waits until master `pid` (without a crash point) has recovered from the
 * crash and runs the job; checks the checkpoint it opened. */
static void cp_recover(it_ctx_t *t, cp_run_t *r, pid_t pid)
{
    uint64_t end = it_now_ms() + 2 * IT_DEADLINE_MS;
    for (;;) {
        IT_CHECK(t, it_pid_running(pid), "master pid %d (no crash point) exited", (int)pid);
        bool ready, pause;
        if (!cp_step(t, r, pid, false, &ready, &pause))
            return;
        if (ready)
            break;
        IT_CHECK(t, it_now_ms() < end, "master pid %d does not recover within %d ms", (int)pid,
                 2 * IT_DEADLINE_MS);
        if (pause)
            it_sleep_ms(IT_POLL_MS);
    }
    char who[64];
    snprintf(who, sizeof who, "master pid %d recovered", (int)pid);
    IT_CHECK(t, cp_note_ckpt(t, r, who), "the checkpoint master pid %d took over", (int)pid);
}

/* The pids of the masters the supervisor has seen end, in order, from its
 * log ("sluice-supervise: CMD (pid P) killed by signal 9 (KILL); ..."). */
static size_t cp_ended(const it_proc_t *sup, pid_t *out, size_t cap)
{
    char *log = it_read_file(sup->log_path, NULL);
    size_t n = 0;
    for (char *line = log; line && *line;) {
        char *nl = strchr(line, '\n');
        if (nl)
            *nl = '\0';
        const char *p = strstr(line, "(pid ");
        int pid;
        if (!strncmp(line, "sluice-supervise:", 17) && p && sscanf(p, "(pid %d)", &pid) == 1 &&
            n < cap)
            out[n++] = (pid_t)pid;
        line = nl ? nl + 1 : NULL;
    }
    free(log);
    return n;
}

typedef struct {
    cp_run_t *r;
    pid_t after, next;
} cp_next_wait_t;

static bool cp_next_cond(void *arg)
{
    cp_next_wait_t *w = arg;
    const it_master_t *m = &w->r->s.e.m;
    pid_t ended[256];
    size_t n = cp_ended(m->proc, ended, 256), i = 0;
    if (w->after) {
        while (i < n && ended[i] != w->after)
            i++;
        if (i == n)
            return false;       /* `after` still runs */
        i++;
    }
    if (i < n) {
        w->next = ended[i];     /* started after `after` and ended already */
        return true;
    }
    pid_t pid = it_master_pid(NULL, m);
    for (size_t k = 0; k < n; k++)
        if (ended[k] == pid)
            return false;
    if (pid && pid != w->after && it_pid_runs_master(pid)) {
        w->next = pid;
        return true;
    }
    return false;
}

/* The master the supervisor started after master `after` (0: its first),
 * running or, when it died at once, already gone. */
static bool cp_next_child(it_ctx_t *t, cp_run_t *r, pid_t after, pid_t *out)
{
    cp_next_wait_t w = { r, after, 0 };
    *out = 0;
    if (!it_wait_until(cp_next_cond, &w, IT_DEADLINE_MS)) {
        it_note(t, "the supervisor started no master after pid %d within %d ms", (int)after,
                IT_DEADLINE_MS);
        return false;
    }
    *out = w.next;
    return true;
}

static void cp_run(it_ctx_t *t, cp_run_t *r)
{
    it_master_cm_t cm = { .lease_timeout = CP_LEASE, .recovery_wait = "30s", .supervised = true,
                          .supervise_delay = "0.05" };
    it_path(t, cm.checkpoint_dir, "ckpt");
    it_path(t, cm.env_file, "master.env");
    const it_rc_opts_t o = {
        .cluster = { .workers = 2, .cores = 2, .memory = "512M", .memory_bytes = 512ull << 20,
                     .worker_timeout = "10s", .manual_clock = true, .cm = &cm },
        .count = CP_COUNT,
        .rate = CP_RATE,
        .flush_every = 10,
        .extra = CP_PUSH * (CP_MAX_TICKS + 1),
    };
    it_rc_init(t, &r->s, &o);
    snprintf(r->ckpt, sizeof r->ckpt, "%s/sluice.db", cm.checkpoint_dir);
    snprintf(r->env, sizeof r->env, "%s", cm.env_file);
    it_engine_t *e = &r->s.e;
    e->m.cm = r->s.cm;
    snprintf(e->m.clock, sizeof e->m.clock, "manual");
    snprintf(e->m.worker_timeout, sizeof e->m.worker_timeout, "10s");
    pid_t pid, bridge = 0;
    /* The environment file is read and emptied by each master as it starts:
     * the crash point written before a start goes to that master only, and
     * the one the supervisor starts after its crash runs without. */
    IT_CHECK(t, cp_set_env(t, r, cp_crash_at[0]), "write %s", r->env);
    IT_CHECK(t, it_master_start(t, &e->m), "start the supervised master");
    IT_CHECK(t, cp_next_child(t, r, 0, &pid), "the first master");
    for (size_t i = 0; i < 2; i++) {
        it_worker_t *w = &e->w[i];
        char name[16];
        w->cores = 2;
        snprintf(w->memory, sizeof w->memory, "512M");
        w->memory_bytes = 512ull << 20;
        snprintf(name, sizeof name, "worker%zu", i + 1);
        IT_CHECK(t, it_worker_start(t, w, name, &e->m), "start %s", name);
        e->nworkers++;
    }
    for (size_t i = 0; i < CP_NCRASH; i++) {
        /* Master pid dies at its crash point; the supervisor starts the
         * next without one: it recovers from the crash. Stopped with
         * SIGTERM, it releases the lease, so that the master started after
         * it (with the next crash point) takes the lease at once and counts
         * its writes from the same start every time. */
        cp_crash(t, r, pid, cp_crash_at[i]);
        if (t->failed)
            return;
        IT_CHECK(t, cp_next_child(t, r, pid, &bridge), "a master after crash %zu", i + 1);
        cp_recover(t, r, bridge);
        if (t->failed || i + 1 == CP_NCRASH)
            break;
        IT_CHECK(t, cp_set_env(t, r, cp_crash_at[i + 1]), "write %s", r->env);
        IT_CHECK(t, kill(bridge, SIGTERM) == 0, "SIGTERM master pid %d: %s", (int)bridge,
                 strerror(errno));
        IT_CHECK(t, cp_next_child(t, r, bridge, &pid),
                 "a master after master pid %d stopped", (int)bridge);
        char line[64];
        snprintf(line, sizeof line, "(pid %d) exited with status 0", (int)bridge);
        IT_CHECK(t, it_log_has(e->m.proc, line, NULL),
                 "master pid %d exits 0 on SIGTERM (the supervisor's log says how it ended)",
                 (int)bridge);
    }
    if (t->failed)
        return;
    /* The last master, which recovered from the last crash, runs to the
     * end: the producer finishes and the outputs are checked. */
    IT_CHECK(t, r->submitted && r->nticks > 0,
             "the crashes left no acknowledged submission or tick to check (%s, %zu ticks)",
             r->submitted ? "submitted" : "not submitted", r->nticks);
    it_rc_finish(t, &r->s, NULL, NULL);
    if (t->failed)
        return;
    /* Every tick that reported its batch done made one batch, and so did
     * the one it_rc_finish ticked. */
    IT_CHECK(t, r->s.ckpt_batches >= r->nticks + 1,
             "the checkpoint holds %zu batches of the job, but %zu ticks were acknowledged",
             r->s.ckpt_batches, r->nticks + 1);
    IT_CHECK(t, cp_note_ckpt(t, r, "at the end"), "the checkpoint at the end");
}

void it_test_ckpt_crash_points(it_ctx_t *t)
{
    cp_run_t *r = calloc(1, sizeof *r);
    IT_CHECK(t, r != NULL, "out of memory");
    cp_run(t, r);
    it_master_stop_supervised(t, &r->s.e.m);
    free(r);
}

/* --- ckpt_corrupt -------------------------------------------------------------------- */

#define CC_JOB "corruptme"

static const char cc_jobfile[] =
    "job " CC_JOB "\n"
    "batch 1s\n"
    "lines = push(\"lines\")\n"
    "counts = lines.flat_map(split).map(pair_one).reduce_by_key(sum)\n"
    "counts.save_as_text_files(\"@DIR@/out/words\")\n";

typedef enum { CC_HALF, CC_HEAD, CC_EMPTY, CC_HEADER, CC_ROW_FLIP, CC_PAGE_FLIP } cc_damage_t;

typedef struct {
    const char *name;           /* the copy's directory */
    cc_damage_t damage;
    const char *what;           /* for messages */
    const char *say[3];         /* the log must say one of these (NULL-terminated) */
} cc_case_t;

static const cc_case_t cc_cases[] = {
    { "half", CC_HALF, "truncated to half", { "malformed", "integrity check failed", NULL } },
    { "head", CC_HEAD, "truncated to 300 bytes", { "malformed", "not a database", NULL } },
    { "empty", CC_EMPTY, "truncated to zero bytes", { "empty", NULL } },
    { "header", CC_HEADER, "random bytes over its 100-byte header", { "not a database", NULL } },
    { "rowflip", CC_ROW_FLIP, "a byte of the job's row flipped (the index disagrees)",
      { "integrity check failed", NULL } },
    { "pageflip", CC_PAGE_FLIP, "the type byte of a table's root page flipped",
      { "malformed", "integrity check failed", NULL } },
};

/* Finds `needle` in buf[from, to). */
static long cc_find(const unsigned char *buf, size_t from, size_t to, const char *needle)
{
    size_t n = strlen(needle);
    for (size_t i = from; i + n <= to; i++)
        if (!memcmp(buf + i, needle, n))
            return (long)i;
    return -1;
}

/* The page size and the root page of `table` in the good checkpoint. */
static bool cc_layout(it_ctx_t *t, const char *db, const char *table, long *page_size,
                      long *root)
{
    char v[64], sql[128];
    if (!it_sqlite_line(t, db, "PRAGMA page_size", v, sizeof v))
        return false;
    *page_size = atol(v);
    snprintf(sql, sizeof sql, "SELECT rootpage FROM sqlite_master WHERE name = '%s'", table);
    if (!it_sqlite_line(t, db, sql, v, sizeof v))
        return false;
    *root = atol(v);
    return *page_size >= 512 && *root >= 2;
}

/* A damaged copy of good[0, len) into *out (malloc'ed), of *out_len bytes. */
static bool cc_damage(it_ctx_t *t, const cc_case_t *c, const char *good_db,
                      const unsigned char *good, size_t len, unsigned char **out,
                      size_t *out_len)
{
    unsigned char *b = malloc(len + 1);
    long psize, root, at;
    if (!b) {
        it_note(t, "out of memory");
        return false;
    }
    memcpy(b, good, len);
    *out = b;
    *out_len = len;
    switch (c->damage) {
    case CC_HALF:
        *out_len = len / 2;
        break;
    case CC_HEAD:
        *out_len = 300;
        break;
    case CC_EMPTY:
        *out_len = 0;
        break;
    case CC_HEADER: {
        /* Fixed-seed pseudo-random bytes: the same damage every run. */
        uint32_t x = 0x5eed1234u;
        for (size_t i = 0; i < 100; i++) {
            x = x * 1103515245u + 12345u;
            b[i] = (unsigned char)(x >> 16);
        }
        break;
    }
    case CC_ROW_FLIP:
        /* In the jobs table's root page, the row's id (its first copy: the
         * id column comes before the spec) loses a bit; its index entry
         * keeps the old id. */
        if (!cc_layout(t, good_db, "jobs", &psize, &root))
            return false;
        at = cc_find(b, (size_t)(root - 1) * (size_t)psize,
                     (size_t)root * (size_t)psize < len ? (size_t)root * (size_t)psize : len,
                     CC_JOB);
        if (at < 0) {
            it_note(t, "'%s' is not in page %ld of %s", CC_JOB, root, good_db);
            return false;
        }
        b[at + 2] ^= 0x01;      /* "corruptme" -> "cosruptme" */
        break;
    case CC_PAGE_FLIP:
        if (!cc_layout(t, good_db, "meta", &psize, &root))
            return false;
        b[(size_t)(root - 1) * (size_t)psize] ^= 0xff;
        break;
    }
    return *out_len <= len;
}

static void cc_one(it_ctx_t *t, const cc_case_t *c, const char *good_db,
                   const unsigned char *good, size_t len)
{
    char dir[IT_PATH_LEN], db[IT_PATH_LEN + 16], check[IT_PATH_LEN + 32];
    unsigned char *bad = NULL;
    size_t blen = 0;
    char *after = NULL, *log = NULL;
    size_t alen = 0;
    it_path(t, dir, c->name);
    snprintf(db, sizeof db, "%s/sluice.db", dir);
    if (mkdir(dir, 0755) != 0 || !cc_damage(t, c, good_db, good, len, &bad, &blen) ||
        !cm_write_bytes(t, db, bad, blen)) {
        it_fail_at(t, __FILE__, __LINE__, "%s: make the damaged copy (%s)", c->name, c->what);
        goto done;
    }
    if (c->damage == CC_ROW_FLIP) {
        /* The damage is real: integrity_check (on another copy) finds it. */
        char res[256] = "";
        snprintf(check, sizeof check, "%s/rowflip-check.db", t->dir);
        if (!cm_write_bytes(t, check, bad, blen) ||
            !it_sqlite_line(t, check, "PRAGMA integrity_check", res, sizeof res) ||
            !strcmp(res, "ok")) {
            it_fail_at(t, __FILE__, __LINE__, "%s: integrity_check does not notice %s (%s)",
                       c->name, c->what, res);
            goto done;
        }
    }
    it_master_t m = { .clock = "manual" };
    snprintf(m.cm.checkpoint_dir, sizeof m.cm.checkpoint_dir, "%s", dir);
    char desc[96];
    if (!it_master_spawn(t, &m) || !it_proc_wait_exit(t, m.proc, IT_DEADLINE_MS)) {
        it_fail_at(t, __FILE__, __LINE__, "%s: a master on the checkpoint %s does not exit",
                   c->name, c->what);
        goto done;
    }
    /* Exit 1 (a failure, as documented), not a signal (a crash). */
    if (it_proc_exit_code(m.proc) != 1) {
        it_fail_at(t, __FILE__, __LINE__, "%s: the master on the checkpoint %s ended with %s, "
                   "want exit 1", c->name, c->what, it_proc_describe(m.proc, desc, sizeof desc));
        goto done;
    }
    log = it_read_file(m.proc->log_path, NULL);
    if (!log || !strstr(log, db)) {
        it_fail_at(t, __FILE__, __LINE__, "%s: the master's log does not name %s: %.400s",
                   c->name, db, log ? log : "(no log)");
        goto done;
    }
    bool says = false;
    for (size_t i = 0; c->say[i]; i++)
        says |= strstr(log, c->say[i]) != NULL;
    if (!says) {
        it_fail_at(t, __FILE__, __LINE__, "%s: the master's log does not say what is wrong with "
                   "the checkpoint (%s; want '%s'%s%s): %.400s", c->name, c->what, c->say[0],
                   c->say[1] ? " or '" : "", c->say[1] ? c->say[1] : "", log);
        goto done;
    }
    after = it_read_file(db, &alen);
    if (!after || alen != blen || memcmp(after, bad, blen) != 0) {
        it_fail_at(t, __FILE__, __LINE__, "%s: the master changed the damaged checkpoint "
                   "(%zu bytes before, %zu after)", c->name, blen, after ? alen : 0);
        goto done;
    }
    /* Nothing else left in the directory either (no journal, no new file). */
    char extra[IT_PATH_LEN + 32];
    snprintf(extra, sizeof extra, "%s-journal", db);
    if (access(extra, F_OK) == 0)
        it_fail_at(t, __FILE__, __LINE__, "%s: the master left %s", c->name, extra);
done:
    free(bad);
    free(after);
    free(log);
}

void it_test_ckpt_corrupt(it_ctx_t *t)
{
    it_engine_t e;
    it_master_cm_t cm = { 0 };
    it_path(t, cm.checkpoint_dir, "good");
    const it_engine_opts_t o = { .workers = 1, .cores = 2, .memory = "1G",
                                 .memory_bytes = 1ull << 30, .worker_timeout = "10s",
                                 .manual_clock = true, .cm = &cm };
    IT_CHECK(t, it_engine_start_with(t, &e, &o), "a checkpointing master and a worker");
    IT_CHECK(t, it_engine_submit(t, &e, "corruptme.job", cc_jobfile, CC_JOB), "submit %s", CC_JOB);
    IT_CHECK(t, it_engine_push(t, &e, CC_JOB, "lines", "a b\nb c\n", NULL, NULL), "push lines");
    IT_CHECK(t, it_engine_tick(t, &e, CC_JOB, 2, NULL), "tick two batches");
    IT_CHECK(t, it_proc_signal(t, e.m.proc, SIGTERM), "SIGTERM the master");
    IT_CHECK(t, it_proc_wait_exit(t, e.m.proc, IT_DEADLINE_MS), "the master stops on SIGTERM");
    IT_CHECK_EQ(t, it_proc_exit_code(e.m.proc), 0, "the master's exit code after SIGTERM");
    char good_db[IT_PATH_LEN + 16], v[256];
    snprintf(good_db, sizeof good_db, "%s/sluice.db", cm.checkpoint_dir);
    IT_CHECK(t, it_sqlite_line(t, good_db, "PRAGMA integrity_check", v, sizeof v) &&
                    !strcmp(v, "ok"),
             "the checkpoint after the stop is intact (%s)", v);
    IT_CHECK(t, it_sqlite_line(t, good_db, "SELECT group_concat(id) FROM jobs", v, sizeof v) &&
                    !strcmp(v, CC_JOB),
             "the checkpoint holds job %s (jobs: '%s')", CC_JOB, v);
    size_t len = 0;
    char *good = it_read_file(good_db, &len);
    IT_CHECK(t, good && len >= 4096, "read %s (%zu bytes)", good_db, len);
    for (size_t i = 0; i < sizeof cc_cases / sizeof *cc_cases && !t->failed; i++)
        cc_one(t, &cc_cases[i], good_db, (const unsigned char *)good, len);
    free(good);
}
