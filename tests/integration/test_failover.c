/* Cluster mode (issue #4): masters sharing a checkpoint directory, the
 * receiver write-ahead log, and graceful stops.
 *
 * standby_takeover: two masters on one checkpoint, two workers and a producer
 * following the list A,B. The standby refuses `sluice status`, naming the
 * active master; both masters' /api/v1/cluster and the CLI's status agree on
 * the lease. kill -9 of the active master A: the standby B takes
 * the lease within the lease timeout plus one batch interval (plus slack for
 * a loaded machine), the workers register with it, the producer's pushes are
 * acknowledged through it. Then A comes back as a standby, B is frozen
 * (SIGSTOP) until A takes over, and thawed: B finds it was replaced, logs
 * "fenced" and exits 3, and the checkpoint holds no batch row B's epoch wrote
 * after the freeze. Each acknowledged id is counted exactly once.
 *
 * wal_single_worker: one worker, a job with `wal on`, manual clock. Ids
 * pushed and acknowledged, some processed by a batch, the rest not yet; kill
 * -9 of the worker and of the master; both restarted: ticks process the rest
 * (read back from the log), each acknowledged id counted exactly once.
 *
 * graceful_stop: `sluice stop JOB --graceful` while a producer pushes: the
 * command succeeds once everything acknowledged is processed, the job is
 * stopped, further pushes are refused; then SIGTERM of the master while a
 * producer pushes to a second job: the master finishes what was acknowledged,
 * exits 0 and releases the lease; restarted, it resumes the job and the
 * producer finishes through the restart. Each acknowledged id is counted
 * exactly once. Under the manual clock, so that when the stop comes there
 * are always acknowledged records no batch has taken yet (under a wall clock
 * a stop just after a cut would let a plain stop pass for a graceful one).
 *
 * Every wait is a condition polled against a deadline; the only bound on
 * speed is the takeover time, against the configured lease timeout. */
#include <dirent.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include "recovery.h"
#include "tests.h"

/* The lease of the masters that take over from each other: short so that
 * takeovers are quick, but long enough that an active master stalled by a
 * loaded machine (it renews every third of it) does not fence itself. The
 * other tests keep the default (5 s). */
#define FO_LEASE "3s"
#define FO_LEASE_MS 3000
/* The issue bounds a takeover by the lease timeout plus one batch interval
 * (a standby polls the lease, and the first batch after the takeover waits
 * for the next interval). Measured from the kill -9 to the standby's own
 * status saying it is active, with slack of twice the lease for a loaded
 * 2-core machine or a sanitized build: the standby's lease poll, the sqlite
 * busy wait, and our 100 ms status polls. */
#define FO_TAKEOVER_SLACK_MS (2 * FO_LEASE_MS)
#define FO_TAKEOVER_BOUND_MS (FO_LEASE_MS + IT_BATCH_MS + FO_TAKEOVER_SLACK_MS)
/* The masters' --stop-timeout (SIGTERM), and how long past it the exit may
 * take on a slow machine. */
#define FO_STOP_TIMEOUT "10s"
#define FO_STOP_TIMEOUT_MS 10000
#define FO_STOP_SLACK_MS 10000

/* The producer's stream in the takeover test: about 20 s, so that it spans
 * both takeovers. */
#define FO_TK_COUNT 6000
#define FO_TK_RATE 300
#define FO_TK_BEFORE 600        /* acknowledged before the kill -9 */
#define FO_TK_THROUGH_B 300     /* acknowledged through B after the takeover */

#define FO_GS_COUNT 3000
#define FO_GS_RATE 300
#define FO_GS_BEFORE_TICK 300   /* acknowledged before a batch is ticked */
#define FO_GS_PENDING 150       /* acknowledged after it, before the stop */

#define FO_WAL_IDS 300          /* pushed in two halves */
#define FO_WAL_MAX_TICKS 5      /* batches ticked after the restart, at most */

/* A job like recovery.c's under its own name, counting into DIR/<name>.db
 * and DIR/out/<name>-<time>/; its producer logs to DIR/<name>-acked.log. */
typedef struct {
    const char *name;
    char db[IT_PATH_LEN];
    char ack_log[IT_PATH_LEN];
    it_proc_t *producer;
} fo_job_t;

static uint64_t fo_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Appends a line to DIR/file: what a run measured, for a reader of the kept
 * temp dir (SLUICE_IT_KEEP=1 or a failure); never checked. */
static void fo_record(it_ctx_t *t, const char *file, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void fo_record(it_ctx_t *t, const char *file, const char *fmt, ...)
{
    char path[IT_PATH_LEN], line[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    it_path(t, path, file);
    FILE *f = fopen(path, "a");
    if (f) {
        fputs(line, f);
        fclose(f);
    }
}

/* --- masters ------------------------------------------------------------------ */

/* Starts master `name` of the takeover test (worker timeout 2s) on fresh
 * ports and waits until both accept connections (a standby listens too). */
static bool fo_master_start(it_ctx_t *t, it_master_t *m, const char *name,
                            const it_master_cm_t *cm)
{
    memset(m, 0, sizeof *m);
    snprintf(m->name, sizeof m->name, "%s", name);
    snprintf(m->worker_timeout, sizeof m->worker_timeout, "2s");
    m->cm = *cm;
    return it_master_start(t, m);
}

static bool fo_active(const json_t *st)
{
    return json_is_true(json_object_get(it_master_info(st), "active"));
}

static long long fo_epoch(const json_t *st)
{
    return it_jint(it_master_info(st), "epoch");
}

static const char *fo_lease_address(const json_t *st)
{
    return it_jstr(it_master_info(st), "lease_address");
}

/* Two statuses agree on the lease (epoch, holder, address) and on the
 * checkpoint file. */
static bool fo_same_lease(const json_t *x, const json_t *y)
{
    const json_t *a = it_master_info(x), *b = it_master_info(y);
    return a && b && it_jint(a, "epoch") == it_jint(b, "epoch") &&
           !strcmp(it_jstr(a, "lease_holder"), it_jstr(b, "lease_holder")) &&
           !strcmp(it_jstr(a, "lease_address"), it_jstr(b, "lease_address")) &&
           !strcmp(it_jstr(a, "checkpoint"), it_jstr(b, "checkpoint"));
}

/* Active under an epoch above *(const long long *)arg, holding the lease
 * itself. */
static bool fo_pred_active_after(const json_t *st, void *arg)
{
    return fo_active(st) && fo_epoch(st) > *(const long long *)arg &&
           !strcmp(fo_lease_address(st), it_jstr(st, "master"));
}

/* A standby that knows the lease is held by the master at address `arg`. */
static bool fo_pred_standby_of(const json_t *st, void *arg)
{
    return !fo_active(st) && !strcmp(fo_lease_address(st), (const char *)arg) && fo_epoch(st) > 0;
}

/* Polls master m's HTTP status (GET /api/v1/cluster, which a standby
 * answers too, shape-checked) until pred holds; *epoch gets the lease epoch
 * that status shows. */
static bool fo_wait_lease(it_ctx_t *t, const it_master_t *m, it_status_pred pred, void *arg,
                          long long *epoch)
{
    json_t *st = it_wait_http_status(t, m, pred, arg, IT_DEADLINE_MS);
    if (st)
        *epoch = fo_epoch(st);
    json_decref(st);
    return st != NULL;
}

/* `sluice --master STANDBY status` is refused at the handshake with the
 * message naming the active master `active` and its lease epoch. */
static bool fo_cli_refused(it_ctx_t *t, const it_master_t *standby, const it_master_t *active,
                           long long epoch)
{
    const char *const args[] = { "--master", standby->listen, "status", NULL };
    it_run_t r;
    if (!it_run(t, &r, NULL, IT_CLI_DEADLINE_MS, "sluice", args))
        return false;
    char at[IT_ADDR_LEN + 8], ep[48];
    snprintf(at, sizeof at, " at %s ", active->listen);
    snprintf(ep, sizeof ep, "(lease epoch %lld)", epoch);
    bool ok = r.exit_code == 1 && !r.timed_out &&
              strstr(r.err, "this master is a standby; the active master is ") != NULL &&
              strstr(r.err, at) != NULL && strstr(r.err, ep) != NULL && r.out[0] == '\0';
    if (!ok)
        it_note(t, "sluice --master %s status: exit %d, stdout '%.200s', stderr '%.400s'; want "
                "exit 1 and 'this master is a standby; the active master is ...%s%s'",
                standby->listen, r.exit_code, r.out, r.err, at, ep);
    it_run_free(&r);
    return ok;
}

/* Runs a query giving one integer on DIR/sluice.db of the checkpoint dir. */
static bool fo_ckpt_int(it_ctx_t *t, const char *ckpt_dir, const char *sql, long long *out)
{
    char path[IT_PATH_LEN + 16], line[64];
    snprintf(path, sizeof path, "%s/sluice.db", ckpt_dir);
    if (!it_sqlite_line(t, path, sql, line, sizeof line))
        return false;
    if (sscanf(line, "%lld", out) == 1)
        return true;
    it_note(t, "checkpoint %s: '%s' gave '%s', not an integer", path, sql, line);
    return false;
}

/* --- clusters and jobs ---------------------------------------------------------- */

/* A manual-clock master keeping its checkpoint in DIR/ckpt (worker timeout
 * 10s, --stop-timeout FO_STOP_TIMEOUT) and `workers` workers of 2 cores and
 * 512M, all alive. */
static bool fo_cluster_start(it_ctx_t *t, it_engine_t *e, size_t workers)
{
    it_master_cm_t cm = { .stop_timeout = FO_STOP_TIMEOUT };
    it_path(t, cm.checkpoint_dir, "ckpt");
    const it_engine_opts_t o = { .workers = workers, .cores = 2, .memory = "512M",
                                 .memory_bytes = 512ull << 20, .worker_timeout = "10s",
                                 .manual_clock = true, .cm = &cm };
    return it_engine_start_with(t, e, &o);
}

/* Submits job `name` (`wal on` when asked) and waits until its receiver is
 * placed. */
static bool fo_job_submit(it_ctx_t *t, const it_engine_t *e, fo_job_t *j, const char *name,
                          bool wal)
{
    char text[IT_RC_JOB_TEXT], texts[64], db[64], file[64];
    memset(j, 0, sizeof *j);
    j->name = name;
    snprintf(texts, sizeof texts, "out/%s", name);
    snprintf(db, sizeof db, "%s.db", name);
    it_path(t, j->db, db);
    snprintf(file, sizeof file, "%s-acked.log", name);
    it_path(t, j->ack_log, file);
    snprintf(file, sizeof file, "%s.job", name);
    it_rc_job_text(text, name, texts, db, wal);
    it_job_state_t js;
    return it_engine_submit(t, e, file, text, name) &&
           it_engine_wait_job(t, e, name, it_job_placed, NULL, IT_DEADLINE_MS, &js);
}

/* Every batch `sluice batches JOB --json` lists is done, their times are
 * consecutive, and (with `total` >= 0) their input records add up to
 * `total`. */
static bool fo_check_batches(it_ctx_t *t, const it_engine_t *e, const char *job, long long total)
{
    json_t *bl = it_engine_batches(t, e, job);
    if (!bl)
        return false;
    json_t *arr = json_object_get(bl, "batches"), *b;
    size_t i;
    long long input = 0, prev = -1;
    bool ok = json_array_size(arr) > 0;
    if (!ok)
        it_note(t, "job %s lists no batch", job);
    json_array_foreach(arr, i, b) {
        if (!ok)
            break;
        long long time = it_jint(b, "time_ms");
        if (strcmp(it_jstr(b, "state"), "done") != 0) {
            it_note(t, "job %s: batch %lld is %s after %lld attempt(s): %s", job, time,
                    it_jstr(b, "state"), it_jint(b, "attempts"), it_jstr(b, "error"));
            ok = false;
        } else if (prev >= 0 && time != prev + IT_BATCH_MS) {
            it_note(t, "job %s: batch %lld follows batch %lld", job, time, prev);
            ok = false;
        }
        prev = time;
        input += it_jint(b, "input_records");
    }
    if (ok && total >= 0 && input != total) {
        it_note(t, "job %s: its batches had %lld input records but the output counts %lld ids",
                job, input, total);
        ok = false;
    }
    json_decref(bl);
    return ok;
}

/* The job's state in `sluice jobs --json` ("running", "stopped", ...) into
 * out; false with a note when it is not listed. */
static bool fo_job_state(it_ctx_t *t, const it_engine_t *e, const char *job, char *out,
                         size_t len)
{
    json_t *all = it_engine_jobs(t, e);
    json_t *j = all ? it_engine_job_at(all, job) : NULL;
    if (j)
        snprintf(out, len, "%s", it_jstr(j, "state"));
    else if (all)
        it_note(t, "sluice jobs --json does not list job %s", job);
    json_decref(all);
    return j != NULL;
}

/* --- standby_takeover ------------------------------------------------------------ */

/* The recovery job's scenario with two workers (no worker is lost here: one
 * for the receiver, one for its replicas) and a wall clock. */
static const it_rc_opts_t fo_tk_opts = {
    .cluster = { .workers = 2, .cores = 2, .memory = "512M", .memory_bytes = 512ull << 20,
                 .worker_timeout = "2s", .manual_clock = false },
    .count = FO_TK_COUNT,
    .rate = FO_TK_RATE,
};

void it_test_standby_takeover(it_ctx_t *t)
{
    it_rc_t s;
    it_rc_init(t, &s, &fo_tk_opts);
    it_master_cm_t cm = { .lease_timeout = FO_LEASE, .stop_timeout = FO_STOP_TIMEOUT };
    it_path(t, cm.checkpoint_dir, "ckpt");
    it_master_t a, b;
    long long zero = 0, epoch_a, epoch_b, epoch_a2, epoch;

    /* A takes the lease; B, started second, is its standby. */
    IT_CHECK(t, fo_master_start(t, &a, "masterA", &cm), "start master A");
    IT_CHECK(t, fo_wait_lease(t, &a, fo_pred_active_after, &zero, &epoch_a),
             "master A holds the lease");
    IT_CHECK(t, fo_master_start(t, &b, "masterB", &cm), "start master B");
    IT_CHECK(t, fo_wait_lease(t, &b, fo_pred_standby_of, a.listen, &epoch),
             "master B is a standby of A (%s)", a.listen);
    IT_CHECK_EQ(t, epoch, epoch_a, "the lease epoch B's status shows");
    IT_CHECK(t, fo_cli_refused(t, &b, &a, epoch_a), "the standby B refuses the CLI, naming A");
    IT_CHECK(t, it_log_has(b.proc, "standby: the lease is held by", a.listen),
             "B logs that it is a standby of A");

    /* Two workers and every client follow the list A,B. */
    snprintf(s.e.m.listen, sizeof s.e.m.listen, "%.31s,%.31s", a.listen, b.listen);
    IT_CHECK(t, it_engine_start_workers(t, &s.e, &s.o.cluster), "start two workers (--master A,B)");
    IT_CHECK(t, it_engine_wait_alive(t, &s.e, &a, IT_DEADLINE_MS), "both workers alive on A");
    IT_CHECK(t, it_rc_submit_ok(t, &s), "submit the job through the list");
    it_job_state_t before;
    long long two = 2;
    IT_CHECK(t, it_engine_wait_job(t, &s.e, IT_RC_JOB, it_job_placed, NULL, IT_DEADLINE_MS,
                                   &before),
             "the receiver is placed");
    IT_CHECK(t, it_rc_start_producer(t, &s), "start the producer (--master A,B)");
    IT_CHECK(t, it_rc_wait_acked(t, &s, FO_TK_BEFORE, IT_DEADLINE_MS),
             "%d ids acknowledged through A", FO_TK_BEFORE);
    IT_CHECK(t, it_engine_wait_job(t, &s.e, IT_RC_JOB, it_job_batches_done, &two,
                                   IT_DEADLINE_MS, &before),
             "two batches done under A");

    /* The CLI's status (through the list: A's) and the HTTP statuses of A
     * and of the standby B show the same lease and checkpoint. */
    json_t *cli = it_status(t, &s.e.m, NULL, NULL);
    IT_CHECK(t, cli != NULL, "sluice --master A,B status --json");
    json_t *ha = it_http_status(t, &a), *hb = ha ? it_http_status(t, &b) : NULL;
    char why[IT_MSG_LEN] = "";
    bool same = hb && it_master_info_ok(cli, why) && fo_active(cli) &&
                fo_epoch(cli) == epoch_a && !strcmp(it_jstr(cli, "master"), a.listen) &&
                !strcmp(fo_lease_address(cli), a.listen) &&
                it_jstr(it_master_info(cli), "checkpoint")[0] != '\0' && fo_active(ha) &&
                !fo_active(hb) && fo_same_lease(cli, ha) && fo_same_lease(cli, hb);
    char *d1 = json_dumps(it_master_info(cli), JSON_COMPACT);
    char *d2 = ha ? json_dumps(it_master_info(ha), JSON_COMPACT) : NULL;
    char *d3 = hb ? json_dumps(it_master_info(hb), JSON_COMPACT) : NULL;
    if (hb)
        it_note(t, "%s; CLI: %.500s; HTTP of A: %.500s; HTTP of B: %.500s", why, d1 ? d1 : "?",
                d2 ? d2 : "?", d3 ? d3 : "?");
    free(d1);
    free(d2);
    free(d3);
    json_decref(cli);
    json_decref(ha);
    json_decref(hb);
    IT_CHECK(t, same, "the CLI status through the list and the HTTP statuses of A and B: A "
             "active at epoch %lld with a checkpoint, B its standby", epoch_a);

    /* kill -9 of A: B takes over within the bound. */
    IT_CHECK(t, it_proc_kill9(t, a.proc), "kill -9 master A");
    uint64_t killed = it_now_ms();
    bool took_over = fo_wait_lease(t, &b, fo_pred_active_after, &epoch_a, &epoch_b);
    uint64_t took = it_now_ms() - killed;
    IT_CHECK(t, took_over, "master B takes over after A's kill -9");
    fo_record(t, "takeover.txt", "B active %llu ms after the kill -9 of A (bound %d ms)\n",
              (unsigned long long)took, FO_TAKEOVER_BOUND_MS);
    IT_CHECK(t, took <= FO_TAKEOVER_BOUND_MS,
             "B became active %llu ms after the kill -9 of A, want at most %d ms (lease %d + "
             "batch %d + slack %d)", (unsigned long long)took, FO_TAKEOVER_BOUND_MS, FO_LEASE_MS,
             IT_BATCH_MS, FO_TAKEOVER_SLACK_MS);
    IT_CHECK(t, it_log_has(b.proc, "holding the lease at epoch", NULL), "B logs the takeover");

    /* The workers register with B; the producer goes on through it. */
    IT_CHECK(t, it_engine_wait_alive(t, &s.e, &b, IT_DEADLINE_MS), "both workers alive on B");
    for (size_t i = 0; i < s.e.nworkers; i++) {
        char needle[IT_ADDR_LEN + 32];
        snprintf(needle, sizeof needle, "registered with master %s ", b.listen);
        IT_CHECK(t, it_wait_log(t, s.e.w[i].proc, needle, 1, IT_DEADLINE_MS),
                 "%s registers with B", s.e.w[i].proc->name);
    }
    size_t at_takeover = it_rc_acked(&s);
    IT_CHECK(t, it_rc_wait_acked(t, &s, at_takeover + FO_TK_THROUGH_B, 3 * IT_DEADLINE_MS),
             "%d more ids acknowledged through B (%zu before)", FO_TK_THROUGH_B, at_takeover);
    long long by_b = 0;
    char sql[256];
    snprintf(sql, sizeof sql,
             "SELECT COUNT(*) FROM batches WHERE job = '" IT_RC_JOB "' AND state = 1 AND "
             "master_epoch = %lld", epoch_b);
    IT_CHECK(t, fo_ckpt_int(t, cm.checkpoint_dir, sql, &by_b), "read the checkpoint");
    IT_CHECK(t, by_b > 0, "no batch finished under B's epoch %lld in the checkpoint", epoch_b);

    /* A comes back (same ports, same command line): a standby of B,
     * refusing the CLI and naming B. */
    IT_CHECK(t, it_master_start(t, &a), "restart master A");
    IT_CHECK(t, fo_wait_lease(t, &a, fo_pred_standby_of, b.listen, &epoch),
             "the restarted A is a standby of B (%s)", b.listen);
    IT_CHECK_EQ(t, epoch, epoch_b, "the lease epoch A's status shows");
    IT_CHECK(t, fo_cli_refused(t, &a, &b, epoch_b), "the standby A refuses the CLI, naming B");

    /* B frozen past its lease: A takes over. Thawed, B must find itself
     * replaced and stop without writing to the checkpoint. */
    IT_CHECK(t, it_proc_signal(t, b.proc, SIGSTOP), "SIGSTOP master B");
    uint64_t frozen_wall = fo_wall_ms(), frozen = it_now_ms();
    IT_CHECK(t, fo_wait_lease(t, &a, fo_pred_active_after, &epoch_b, &epoch_a2),
             "A takes over from the frozen B");
    uint64_t took2 = it_now_ms() - frozen;
    fo_record(t, "takeover.txt", "A active %llu ms after B was frozen (bound %d ms)\n",
              (unsigned long long)took2, FO_TAKEOVER_BOUND_MS);
    IT_CHECK(t, took2 <= FO_TAKEOVER_BOUND_MS,
             "A became active %llu ms after B was frozen, want at most %d ms",
             (unsigned long long)took2, FO_TAKEOVER_BOUND_MS);
    IT_CHECK(t, it_proc_signal(t, b.proc, SIGCONT), "SIGCONT master B");
    IT_CHECK(t, it_proc_wait_exit(t, b.proc, IT_DEADLINE_MS), "the thawed B exits");
    char desc[96];
    IT_CHECK(t, it_proc_exit_code(b.proc) == 3, "master B: %s, want exit 3 (fenced)",
             it_proc_describe(b.proc, desc, sizeof desc));
    IT_CHECK(t, it_log_has(b.proc, "fenced", NULL), "B's log says it was fenced");
    long long late = -1, rows = -1, lease_epoch = -1;
    IT_CHECK(t, fo_ckpt_int(t, cm.checkpoint_dir, "SELECT COUNT(*) FROM batches", &rows),
             "read the checkpoint");
    IT_CHECK(t, rows > 0, "the checkpoint holds no batch row after A's takeover");
    snprintf(sql, sizeof sql,
             "SELECT COUNT(*) FROM batches WHERE master_epoch = %lld AND time > %llu", epoch_b,
             (unsigned long long)(frozen_wall + IT_BATCH_MS));
    IT_CHECK(t, fo_ckpt_int(t, cm.checkpoint_dir, sql, &late), "read the checkpoint");
    IT_CHECK(t, late == 0, "%lld batch row(s) later than the freeze (%llu) written by B's epoch "
             "%lld after A took over at epoch %lld", late, (unsigned long long)frozen_wall,
             epoch_b, epoch_a2);
    IT_CHECK(t, fo_ckpt_int(t, cm.checkpoint_dir, "SELECT epoch FROM lease WHERE id = 1",
                            &lease_epoch),
             "read the lease");
    IT_CHECK_EQ(t, lease_epoch, epoch_a2, "the lease epoch in the checkpoint after B's exit");
    IT_CHECK(t, it_engine_wait_alive(t, &s.e, &a, IT_DEADLINE_MS), "both workers alive on A");

    /* The producer finishes through A; every acknowledged id counted once. */
    it_rc_finish(t, &s, NULL, NULL);
}

/* --- wal_single_worker --------------------------------------------------------------- */

/* Pushes ids first..last to the job's stream "ids" (every one acknowledged)
 * and marks them in acked. */
static bool fo_push_ids(it_ctx_t *t, const it_engine_t *e, const char *job, unsigned first,
                        unsigned last, bool *acked)
{
    char *text = it_ids_text(first, last - first + 1, NULL);
    if (!text) {
        it_note(t, "out of memory");
        return false;
    }
    bool ok = it_engine_push(t, e, job, "ids", text, NULL, NULL);
    free(text);
    for (unsigned id = first; ok && id <= last; id++)
        acked[id] = true;
    return ok;
}

/* Whether DIR/wal/JOB/ids holds an epoch directory with a non-empty file;
 * `what` (IT_MSG_LEN) says what was found. */
static bool fo_wal_has_data(const char *ckpt, const char *job, char *what)
{
    char dir[IT_PATH_LEN * 2];
    snprintf(dir, sizeof dir, "%s/wal/%s/ids", ckpt, job);
    snprintf(what, IT_MSG_LEN, "%s:", dir);
    DIR *d = opendir(dir);
    if (!d) {
        snprintf(what, IT_MSG_LEN, "%s does not exist", dir);
        return false;
    }
    bool found = false;
    struct dirent *e;
    while (!found && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char sub[IT_PATH_LEN * 3];
        snprintf(sub, sizeof sub, "%s/%s", dir, e->d_name);
        size_t used = strlen(what);
        snprintf(what + used, IT_MSG_LEN - used, " %s/", e->d_name);
        DIR *ed = opendir(sub);
        struct dirent *f;
        while (ed && !found && (f = readdir(ed)) != NULL) {
            char file[IT_PATH_LEN * 4];
            struct stat sb;
            snprintf(file, sizeof file, "%s/%s", sub, f->d_name);
            if (f->d_name[0] != '.' && stat(file, &sb) == 0 && S_ISREG(sb.st_mode) &&
                sb.st_size > 0) {
                found = true;
                used = strlen(what);
                snprintf(what + used, IT_MSG_LEN - used, "%s (%lld bytes)", f->d_name,
                         (long long)sb.st_size);
            }
        }
        if (ed)
            closedir(ed);
    }
    closedir(d);
    return found;
}

void it_test_wal_single_worker(it_ctx_t *t)
{
    char what[IT_MSG_LEN];
    it_engine_t e;
    IT_CHECK(t, fo_cluster_start(t, &e, 1), "a checkpointing master and one worker");
    it_worker_t *w = &e.w[0];
    fo_job_t j;
    IT_CHECK(t, fo_job_submit(t, &e, &j, "walrun", true),
             "submit job walrun (wal on); its receiver is placed");

    bool acked[FO_WAL_IDS + 1] = { false };
    const unsigned half = FO_WAL_IDS / 2;
    /* The first half is processed before the crash, the second is only
     * acknowledged (in the log) when the worker and the master die. */
    IT_CHECK(t, fo_push_ids(t, &e, j.name, 1, half, acked), "push ids 1..%u", half);
    IT_CHECK(t, it_engine_tick(t, &e, j.name, 1, NULL), "tick a batch");
    size_t counted = 0;
    IT_CHECK(t, it_check_once(t, j.db, acked, FO_WAL_IDS, &counted), "the first batch");
    IT_CHECK_EQ(t, counted, half, "ids counted by the first batch");
    IT_CHECK(t, fo_push_ids(t, &e, j.name, half + 1, FO_WAL_IDS, acked), "push ids %u..%u",
             half + 1, FO_WAL_IDS);
    IT_CHECK(t, fo_wal_has_data(e.m.cm.checkpoint_dir, j.name, what),
             "the write-ahead log of the job: %s", what);

    IT_CHECK(t, it_proc_kill9(t, w->proc), "kill -9 the worker");
    IT_CHECK(t, it_proc_kill9(t, e.m.proc), "kill -9 the master");
    IT_CHECK(t, it_check_once(t, j.db, acked, half, &counted) && counted == half,
             "before the restart only the first batch is counted (%zu ids)", counted);

    /* Both again with the same command lines. */
    IT_CHECK(t, it_master_start(t, &e.m), "restart the master");
    IT_CHECK(t, it_worker_start(t, w, "worker1", &e.m), "restart the worker");
    IT_CHECK(t, it_engine_wait_alive(t, &e, NULL, IT_DEADLINE_MS), "the worker is back");
    it_job_state_t placed;
    IT_CHECK(t, it_engine_wait_job(t, &e, j.name, it_job_placed, NULL, IT_DEADLINE_MS, &placed),
             "the job runs again with its receiver placed");
    unsigned ticks = 0;
    for (counted = 0; counted < FO_WAL_IDS && ticks < FO_WAL_MAX_TICKS; ticks++) {
        IT_CHECK(t, it_engine_tick(t, &e, j.name, 1, NULL), "tick batch %u after the restart",
                 ticks + 1);
        it_counts_t c;
        bool read = it_counts_read(t, j.db, FO_WAL_IDS, &c);
        counted = c.counted;
        it_counts_free(&c);
        IT_CHECK(t, read, "read %s", j.db);
    }
    IT_CHECK(t, it_check_once(t, j.db, acked, FO_WAL_IDS, &counted),
             "%u batch(es) after the restart: each acknowledged id counted exactly once "
             "(%zu of %d counted)", ticks, counted, FO_WAL_IDS);
    IT_CHECK(t, it_wait_log(t, w->proc, "read back", 1, IT_DEADLINE_MS),
             "the restarted worker reads the dead receiver's log back");
    IT_CHECK(t, fo_check_batches(t, &e, j.name, -1), "every batch done");
    IT_CHECK(t, it_engine_stop(t, &e, j.name), "stop the job");
}

/* --- graceful_stop ------------------------------------------------------------------- */

/* `sluice stop JOB --graceful --timeout 60s`: exit 0 and "stopped JOB..." */
static bool fo_stop_graceful(it_ctx_t *t, const it_engine_t *e, const char *job)
{
    const char *const args[] = { "--master", e->m.listen, "stop", job, "--graceful",
                                 "--timeout", "60s", NULL };
    it_run_t r;
    if (!it_run(t, &r, NULL, 90000, "sluice", args))
        return false;
    char want[96];
    snprintf(want, sizeof want, "stopped %s", job);
    bool ok = r.exit_code == 0 && !strncmp(r.out, want, strlen(want));
    if (!ok)
        it_note(t, "sluice stop %s --graceful: exit %d%s after %llu ms, stdout '%.200s', stderr "
                "'%.400s'", job, r.exit_code, r.timed_out ? " (timed out)" : "",
                (unsigned long long)r.elapsed_ms, r.out, r.err);
    it_run_free(&r);
    return ok;
}

/* One of the ways a push to a job that stops or stopped is refused: by its
 * receiver after the last cut, or by the master locating the receiver. */
static const char *const fo_refusals[] = {
    "the receiver takes no more pushes", "the job is stopping", "the job is not running",
};

static bool fo_has_refusal(const char *text)
{
    for (size_t i = 0; text && i < sizeof fo_refusals / sizeof *fo_refusals; i++)
        if (strstr(text, fo_refusals[i]))
            return true;
    return false;
}

/* The producer's log says why it gave up: a refusal. */
static bool fo_refused(const it_proc_t *p)
{
    char *log = it_read_file(p->log_path, NULL);
    bool ok = fo_has_refusal(log);
    free(log);
    return ok;
}

/* `sluice push JOB ids` of one record fails with a refusal. */
static bool fo_push_refused(it_ctx_t *t, const it_engine_t *e, const char *job)
{
    char path[IT_PATH_LEN];
    it_path(t, path, "late-push.txt");
    if (!it_write_file(t, path, "id-9999999\n", 0644))
        return false;
    const char *const args[] = { "--master", e->m.listen, "--timeout", "5s", "push", job, "ids",
                                 path, NULL };
    it_run_t r;
    if (!it_run(t, &r, NULL, IT_CLI_DEADLINE_MS, "sluice", args))
        return false;
    bool ok = r.exit_code == 1 && fo_has_refusal(r.err);
    if (!ok)
        it_note(t, "sluice push %s ids after the stop: exit %d%s, stdout '%.200s', stderr "
                "'%.400s'; want exit 1 and a refusal", job, r.exit_code,
                r.timed_out ? " (timed out)" : "", r.out, r.err);
    it_run_free(&r);
    return ok;
}

/* Submits job `name` of graceful_stop and starts its producer (`pname`,
 * --give-up `give_up`): FO_GS_BEFORE_TICK ids acknowledged, a batch ticked
 * (it must be done), then FO_GS_PENDING more acknowledged, in no batch yet. */
static bool fo_gs_start(it_ctx_t *t, const it_engine_t *e, fo_job_t *j, const char *name,
                        const char *pname, const char *give_up)
{
    if (!fo_job_submit(t, e, j, name, false))
        return false;
    const it_producer_t p = { .name = pname, .master = e->m.listen, .job = name,
                              .count = FO_GS_COUNT, .rate = FO_GS_RATE, .ack_log = j->ack_log,
                              .give_up = give_up, .timeout = "2s" };
    j->producer = it_producer_start(t, &p);
    return j->producer && it_ack_log_wait(t, j->ack_log, FO_GS_BEFORE_TICK, IT_DEADLINE_MS) &&
           it_engine_tick(t, e, name, 1, NULL) &&
           it_ack_log_wait(t, j->ack_log, it_ack_log_count(j->ack_log) + FO_GS_PENDING,
                           IT_DEADLINE_MS);
}

/* The exactly-once check of job j against its producer's ack log, which
 * holds *nacked ids; *counted ids are counted. */
static bool fo_gs_once(it_ctx_t *t, const fo_job_t *j, size_t *nacked, size_t *counted)
{
    bool *acked = calloc(FO_GS_COUNT + 1, sizeof *acked);
    if (!acked) {
        it_note(t, "out of memory");
        return false;
    }
    bool ok = it_ack_log_read(t, j->ack_log, acked, FO_GS_COUNT, nacked) &&
              it_check_once(t, j->db, acked, FO_GS_COUNT, counted);
    free(acked);
    return ok;
}

void it_test_graceful_stop(it_ctx_t *t)
{
    char state[32], desc[96];
    it_engine_t e;
    IT_CHECK(t, fo_cluster_start(t, &e, 2), "a checkpointing master and two workers");

    /* 1. sluice stop --graceful while the producer pushes. */
    fo_job_t g;
    IT_CHECK(t, fo_gs_start(t, &e, &g, "graceful", "producer", "5s"),
             "job graceful placed, its producer started: %d ids acknowledged, a batch done, then "
             "%d more ids acknowledged", FO_GS_BEFORE_TICK, FO_GS_PENDING);
    IT_CHECK(t, it_proc_alive(g.producer), "the producer still pushes when the stop is asked");
    IT_CHECK(t, fo_stop_graceful(t, &e, g.name), "sluice stop graceful --graceful");
    size_t at_stop = it_ack_log_count(g.ack_log);
    IT_CHECK(t, fo_job_state(t, &e, g.name, state, sizeof state), "sluice jobs");
    IT_CHECK(t, !strcmp(state, "stopped"), "job graceful is '%s' after the graceful stop, want "
             "stopped", state);
    /* The producer can push no more: it gives up or fails. */
    IT_CHECK(t, it_proc_wait_exit(t, g.producer, 2 * IT_DEADLINE_MS), "the producer ends");
    IT_CHECK(t, it_proc_exit_code(g.producer) == 1,
             "producer: %s, want exit 1 (its pushes refused)",
             it_proc_describe(g.producer, desc, sizeof desc));
    IT_CHECK(t, fo_refused(g.producer), "the producer's log shows its pushes refused");
    IT_CHECK(t, fo_push_refused(t, &e, g.name), "a push after the graceful stop is refused");
    size_t nacked = 0, counted = 0;
    IT_CHECK(t, fo_gs_once(t, &g, &nacked, &counted),
             "job graceful: each acknowledged id counted exactly once");
    IT_CHECK(t, nacked < FO_GS_COUNT, "the producer logged all %zu ids acknowledged though the "
             "job was stopped at %zu", nacked, at_stop);
    it_counts_t c;
    bool read = it_counts_read(t, g.db, FO_GS_COUNT, &c);
    long long total = c.total;
    it_counts_free(&c);
    IT_CHECK(t, read, "read graceful.db");
    IT_CHECK(t, fo_check_batches(t, &e, g.name, total),
             "job graceful: every batch done, their input all counted");
    fo_record(t, "graceful.txt", "graceful: %zu acked at the stop reply, %zu in the end, %zu "
              "counted\n", at_stop, nacked, counted);

    /* 2. SIGTERM of the master while a producer pushes to a second job. */
    fo_job_t d;
    IT_CHECK(t, fo_gs_start(t, &e, &d, "drain", "producer2", "60s"),
             "job drain placed, the second producer started: %d ids acknowledged, a batch done, "
             "then %d more ids acknowledged", FO_GS_BEFORE_TICK, FO_GS_PENDING);
    IT_CHECK(t, it_proc_signal(t, e.m.proc, SIGTERM), "SIGTERM the master");
    IT_CHECK(t, it_proc_wait_exit(t, e.m.proc, FO_STOP_TIMEOUT_MS + FO_STOP_SLACK_MS),
             "the master exits within --stop-timeout %s", FO_STOP_TIMEOUT);
    IT_CHECK(t, it_proc_exit_code(e.m.proc) == 0, "master after SIGTERM: %s, want exit 0",
             it_proc_describe(e.m.proc, desc, sizeof desc));
    IT_CHECK(t, it_log_has(e.m.proc, "lease released", NULL), "the master released the lease");
    /* Drained: what was acknowledged before the exit is counted already. */
    IT_CHECK(t, fo_gs_once(t, &d, &nacked, &counted),
             "job drain after the SIGTERM exit: each of the %zu ids acknowledged by then "
             "counted exactly once", nacked);
    size_t at_exit = nacked;

    /* Restarted, the master resumes the job from the checkpoint. */
    IT_CHECK(t, it_master_start(t, &e.m), "restart the master");
    IT_CHECK(t, it_engine_wait_alive(t, &e, NULL, IT_DEADLINE_MS), "both workers back");
    it_job_state_t js;
    IT_CHECK(t, it_engine_wait_job(t, &e, d.name, it_job_placed, NULL, IT_DEADLINE_MS, &js),
             "job drain runs again with its receiver placed");
    /* The producer rides through the restart: a master shutting down or
     * recovering, and a receiver that takes no more pushes, are answers to
     * try again. */
    IT_CHECK(t, it_proc_wait_exit(t, d.producer, (FO_GS_COUNT / FO_GS_RATE) * 1000 + 90000),
             "the second producer ends");
    IT_CHECK(t, it_proc_exit_code(d.producer) == 0,
             "second producer: %s, want exit 0 (every id pushed and acknowledged across the "
             "restart; see its log)", it_proc_describe(d.producer, desc, sizeof desc));
    /* One batch cut after the last acknowledgement holds all the rest. */
    IT_CHECK(t, it_engine_tick(t, &e, d.name, 1, NULL), "tick a batch after the last ack");
    IT_CHECK(t, it_engine_stop(t, &e, d.name), "stop job drain");
    IT_CHECK(t, fo_gs_once(t, &d, &nacked, &counted),
             "job drain in the end: each acknowledged id counted exactly once");
    IT_CHECK_EQ(t, nacked, FO_GS_COUNT, "ids in the second producer's ack log");
    IT_CHECK_EQ(t, counted, FO_GS_COUNT, "ids of job drain counted");
    IT_CHECK(t, fo_check_batches(t, &e, d.name, -1), "job drain: every batch done");
    fo_record(t, "graceful.txt", "drain: %zu acked at the SIGTERM exit, %zu in the end "
              "(producer: %s), %zu counted\n", at_exit, nacked,
              it_proc_describe(d.producer, desc, sizeof desc), counted);
}
