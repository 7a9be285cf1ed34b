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
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include "recovery.h"
#include "tests.h"

/* Declared in tests.h too, once it lists them (a repeated declaration is
 * harmless); here so that this file builds on its own. */
void it_test_standby_takeover(it_ctx_t *t);
void it_test_wal_single_worker(it_ctx_t *t);
void it_test_graceful_stop(it_ctx_t *t);

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

/* recovery.c's job, with the output paths its it_rc_t wants. */
static const char fo_rc_jobfile[] =
    "job " IT_RC_JOB "\n"
    "batch 1s\n"
    "ids = push(\"ids\", partitions = 2)\n"
    "counts = ids.map(pair_one).reduce_by_key(sum, partitions = 2)\n"
    "counts.save_as_text_files(\"@DIR@/out/counts\")\n"
    "counts.sqlite(\"@DIR@/out.db\", \"counts\")\n";

/* The same job under another name, counting into DIR/NAME.db; `wal on` when
 * asked. */
static void fo_job_text(char *out, size_t len, const char *name, bool wal)
{
    snprintf(out, len,
             "job %s\n"
             "batch 1s\n"
             "%s"
             "ids = push(\"ids\", partitions = 2)\n"
             "counts = ids.map(pair_one).reduce_by_key(sum, partitions = 2)\n"
             "counts.save_as_text_files(\"@DIR@/out/%s\")\n"
             "counts.sqlite(\"@DIR@/%s.db\", \"counts\")\n",
             name, wal ? "wal on\n" : "", name, name);
}

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

typedef struct {
    const char *ckpt;           /* --checkpoint-dir */
    const char *lease;          /* --lease-timeout; NULL: the default */
    const char *stop_timeout;   /* --stop-timeout; NULL: the default */
    const char *worker_timeout; /* --worker-timeout */
    bool manual_clock;
} fo_mopts_t;

static bool fo_wait_ports(it_ctx_t *t, const it_master_t *m)
{
    return it_wait_listening(t, m->listen, IT_DEADLINE_MS) &&
           it_wait_listening(t, m->http, IT_DEADLINE_MS);
}

/* Starts sluice-master `name` on fresh ports (m->listen, m->http) and waits
 * until both accept connections (a standby listens too). */
static bool fo_master_start(it_ctx_t *t, it_master_t *m, const char *name, const fo_mopts_t *o)
{
    memset(m, 0, sizeof *m);
    if (!it_free_addr(t, m->listen) || !it_free_addr(t, m->http))
        return false;
    snprintf(m->worker_timeout, sizeof m->worker_timeout, "%s", o->worker_timeout);
    const char *args[24];
    size_t n = 0;
    args[n++] = "--listen";
    args[n++] = m->listen;
    args[n++] = "--http";
    args[n++] = m->http;
    args[n++] = "--worker-timeout";
    args[n++] = m->worker_timeout;
    args[n++] = "--checkpoint-dir";
    args[n++] = o->ckpt;
    if (o->lease) {
        args[n++] = "--lease-timeout";
        args[n++] = o->lease;
    }
    if (o->stop_timeout) {
        args[n++] = "--stop-timeout";
        args[n++] = o->stop_timeout;
    }
    if (o->manual_clock) {
        snprintf(m->clock, sizeof m->clock, "manual");
        args[n++] = "--clock";
        args[n++] = "manual";
    }
    args[n] = NULL;
    m->proc = it_spawn(t, name, "sluice-master", args);
    return m->proc && fo_wait_ports(t, m);
}

/* Starts the master again with the same command line (it must have exited). */
static bool fo_master_restart(it_ctx_t *t, it_master_t *m)
{
    it_proc_t *p = it_respawn(t, m->proc);
    if (!p)
        return false;
    m->proc = p;
    return fo_wait_ports(t, m);
}

/* The cluster-mode object of a status: "master_info" (common/view.h), or
 * "master" should that ever hold the object. NULL when there is none. */
static json_t *fo_minfo(const json_t *st)
{
    json_t *mi = json_object_get(st, "master_info");
    if (json_is_object(mi))
        return mi;
    mi = json_object_get(st, "master");
    return json_is_object(mi) ? mi : NULL;
}

/* The documented fields of the cluster-mode object, with their types. */
static bool fo_minfo_ok(const json_t *st, char *why, size_t len)
{
    static const struct {
        const char *key;
        char type;              /* b: bool, s: string, u: integer >= 0 */
    } f[] = {
        { "active", 'b' },           { "checkpoint", 's' },      { "epoch", 'u' },
        { "lease_holder", 's' },     { "lease_address", 's' },   { "lease_expires_ms", 'u' },
        { "recovering", 'b' },       { "workers_expected", 'u' }, { "workers_back", 'u' },
        { "batches_to_rerun", 'u' }, { "jobs_recovered", 'u' },
    };
    json_t *mi = fo_minfo(st);
    if (!mi) {
        snprintf(why, len, "no \"master_info\" object");
        return false;
    }
    for (size_t i = 0; i < sizeof f / sizeof *f; i++) {
        json_t *v = json_object_get(mi, f[i].key);
        bool ok = f[i].type == 'b'   ? json_is_boolean(v)
                  : f[i].type == 's' ? json_is_string(v)
                                     : json_is_integer(v) && json_integer_value(v) >= 0;
        if (!ok) {
            snprintf(why, len, "master_info.%s missing or of the wrong type", f[i].key);
            return false;
        }
    }
    return true;
}

static bool fo_active(const json_t *st)
{
    return json_is_true(json_object_get(fo_minfo(st), "active"));
}

static long long fo_epoch(const json_t *st)
{
    return it_jint(fo_minfo(st), "epoch");
}

static const char *fo_lease_address(const json_t *st)
{
    return it_jstr(fo_minfo(st), "lease_address");
}

/* Two statuses agree on the lease (epoch, holder, address) and on the
 * checkpoint file. */
static bool fo_same_lease(const json_t *x, const json_t *y)
{
    const json_t *a = fo_minfo(x), *b = fo_minfo(y);
    return a && b && it_jint(a, "epoch") == it_jint(b, "epoch") &&
           !strcmp(it_jstr(a, "lease_holder"), it_jstr(b, "lease_holder")) &&
           !strcmp(it_jstr(a, "lease_address"), it_jstr(b, "lease_address")) &&
           !strcmp(it_jstr(a, "checkpoint"), it_jstr(b, "checkpoint"));
}

/* GET /api/v1/cluster of a master (active or standby), shape-checked
 * (the status and its cluster-mode object). NULL with a note. */
static json_t *fo_http_status(it_ctx_t *t, const it_master_t *m)
{
    int code;
    char *body;
    if (!it_http_get(t, m->http, "/api/v1/cluster", &code, &body))
        return NULL;
    json_error_t jerr;
    json_t *st = code == 200 ? json_loads(body, 0, &jerr) : NULL;
    char why[IT_MSG_LEN];
    if (!st) {
        it_note(t, "GET /api/v1/cluster of %s: HTTP %d, body %.400s", m->http, code, body);
    } else if (!it_status_shape_ok(st, why) || !fo_minfo_ok(st, why, sizeof why)) {
        it_note(t, "GET /api/v1/cluster of %s: %s; body %.600s", m->http, why, body);
        json_decref(st);
        st = NULL;
    }
    free(body);
    return st;
}

typedef bool (*fo_pred)(const json_t *st, const void *arg);

/* Polls the master's HTTP status until pred holds; returns that status
 * (caller decrefs) or NULL with a note holding the last one. */
static json_t *fo_wait_http(it_ctx_t *t, const it_master_t *m, fo_pred pred, const void *arg,
                            int deadline_ms)
{
    uint64_t end = it_now_ms() + (uint64_t)deadline_ms;
    char last[IT_MSG_LEN] = "no status read";
    for (;;) {
        json_t *st = fo_http_status(t, m);
        if (st) {
            if (pred(st, arg))
                return st;
            char *dump = json_dumps(fo_minfo(st), JSON_COMPACT);
            snprintf(last, sizeof last, "last master_info: %s", dump ? dump : "?");
            free(dump);
            json_decref(st);
        } else {
            snprintf(last, sizeof last, "%s", t->note);
        }
        if (it_now_ms() >= end)
            break;
        it_sleep_ms(IT_POLL_MS);
    }
    it_note(t, "%s (%s): condition not reached within %d ms; %s", m->proc->name, m->http,
            deadline_ms, last);
    return NULL;
}

/* Active under an epoch above *(const long long *)arg, holding the lease
 * itself. */
static bool fo_pred_active_after(const json_t *st, const void *arg)
{
    return fo_active(st) && fo_epoch(st) > *(const long long *)arg &&
           !strcmp(fo_lease_address(st), it_jstr(st, "master"));
}

/* A standby that knows the lease is held by the master at address `arg`. */
static bool fo_pred_standby_of(const json_t *st, const void *arg)
{
    return !fo_active(st) && !strcmp(fo_lease_address(st), (const char *)arg) && fo_epoch(st) > 0;
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

/* --- the checkpoint, read directly -------------------------------------------------- */

/* Runs a query returning one integer against DIR/sluice.db (read-only,
 * waiting out a master's write lock). */
static bool fo_ckpt_int(it_ctx_t *t, const char *ckpt_dir, const char *sql, long long *out)
{
    char path[IT_PATH_LEN + 16];
    snprintf(path, sizeof path, "%s/sluice.db", ckpt_dir);
    sqlite3 *db = NULL;
    sqlite3_stmt *q = NULL;
    bool ok = false;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK) {
        sqlite3_busy_timeout(db, 10000);
        if (sqlite3_prepare_v2(db, sql, -1, &q, NULL) == SQLITE_OK &&
            sqlite3_step(q) == SQLITE_ROW) {
            *out = sqlite3_column_int64(q, 0);
            ok = true;
        }
    }
    if (!ok)
        it_note(t, "checkpoint %s: '%s': %s", path, sql, db ? sqlite3_errmsg(db) : "cannot open");
    sqlite3_finalize(q);
    sqlite3_close(db);
    return ok;
}

/* --- producers and the exactly-once check ------------------------------------------ */

typedef struct {
    const char *name;           /* process name */
    const char *masters;
    const char *job;
    unsigned count, rate;
    const char *ack_log;
    const char *give_up;        /* --give-up; NULL: its default */
    const char *timeout;        /* --timeout; NULL: its default */
} fo_producer_t;

static it_proc_t *fo_producer_start(it_ctx_t *t, const fo_producer_t *p)
{
    char count[16], rate[16];
    snprintf(count, sizeof count, "%u", p->count);
    snprintf(rate, sizeof rate, "%u", p->rate);
    const char *args[24];
    size_t n = 0;
    args[n++] = "--master";
    args[n++] = p->masters;
    args[n++] = "--job";
    args[n++] = p->job;
    args[n++] = "--stream";
    args[n++] = "ids";
    args[n++] = "--count";
    args[n++] = count;
    args[n++] = "--rate";
    args[n++] = rate;
    args[n++] = "--ack-log";
    args[n++] = p->ack_log;
    if (p->give_up) {
        args[n++] = "--give-up";
        args[n++] = p->give_up;
    }
    if (p->timeout) {
        args[n++] = "--timeout";
        args[n++] = p->timeout;
    }
    args[n] = NULL;
    return it_spawn(t, p->name, "tests/producer", args);
}

static size_t fo_lines_in(const char *path)
{
    char *text = it_read_file(path, NULL);
    size_t n = it_count_lines(text);
    free(text);
    return n;
}

typedef struct {
    const char *path;
    size_t want, seen;
} fo_ack_wait_t;

static bool fo_ack_cond(void *arg)
{
    fo_ack_wait_t *a = arg;
    a->seen = fo_lines_in(a->path);
    return a->seen >= a->want;
}

/* Waits until the ack log at `path` holds `n` ids. */
static bool fo_wait_acked(it_ctx_t *t, const char *path, size_t n, int deadline_ms)
{
    fo_ack_wait_t a = { path, n, 0 };
    if (it_wait_until(fo_ack_cond, &a, deadline_ms))
        return true;
    it_note(t, "%s holds %zu acknowledged ids after %d ms, want %zu", path, a.seen, deadline_ms,
            n);
    return false;
}

/* Marks the ids of an ack log ("id-0000001" lines) in acked[1..count];
 * false with a note on a line that is not an id of the run or is repeated. */
static bool fo_read_acked(it_ctx_t *t, const char *path, bool *acked, unsigned count,
                          size_t *n /* OUT */)
{
    char *text = it_read_file(path, NULL);
    bool ok = true;
    *n = 0;
    for (char *line = text; ok && line && *line;) {
        char *nl = strchr(line, '\n');
        unsigned id;
        char end;
        if (sscanf(line, "id-%u%c", &id, &end) != 2 || end != '\n' || id < 1 || id > count ||
            acked[id]) {
            it_note(t, "%s line %zu is bad or repeated: '%.*s'", path, *n + 1,
                    (int)(nl ? nl - line : (long)strlen(line)), line);
            ok = false;
        } else {
            acked[id] = true;
            (*n)++;
        }
        line = nl ? nl + 1 : NULL;
    }
    free(text);
    return ok;
}

/* What the sqlite output of a job counted: per id (1..count) over all
 * batches, the total, and the ids seen. */
typedef struct {
    long long *per_id;          /* count + 1 entries */
    long long total;
    unsigned count;
} fo_counts_t;

static void fo_counts_free(fo_counts_t *c)
{
    free(c->per_id);
    c->per_id = NULL;
}

/* Reads table counts of the sqlite file `db`; false with a note on a row
 * that is not an id of the run with a count of 1 or more. A missing file
 * reads as nothing counted. */
static bool fo_read_counts(it_ctx_t *t, const char *db_path, unsigned count, fo_counts_t *c)
{
    memset(c, 0, sizeof *c);
    c->count = count;
    c->per_id = calloc((size_t)count + 1, sizeof *c->per_id);
    if (!c->per_id) {
        it_note(t, "out of memory");
        return false;
    }
    struct stat sb;
    if (stat(db_path, &sb) != 0)
        return true;
    sqlite3 *db = NULL;
    sqlite3_stmt *q = NULL;
    bool ok = false;
    if (sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK ||
        sqlite3_busy_timeout(db, 10000) != SQLITE_OK ||
        sqlite3_prepare_v2(db, "SELECT batch_time, key, value FROM counts", -1, &q, NULL) !=
            SQLITE_OK) {
        /* No batch had input yet: the table does not exist. */
        ok = db && strstr(sqlite3_errmsg(db), "no such table") != NULL;
        if (!ok)
            it_note(t, "cannot read table counts of %s: %s", db_path,
                    db ? sqlite3_errmsg(db) : "?");
        goto done;
    }
    int rc;
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        long long time = sqlite3_column_int64(q, 0);
        const char *key = (const char *)sqlite3_column_text(q, 1);
        long long v = sqlite3_column_int64(q, 2);
        unsigned id;
        char extra;
        if (!key || sscanf(key, "id-%u%c", &id, &extra) != 1 || id < 1 || id > count ||
            sqlite3_column_type(q, 2) != SQLITE_INTEGER || v < 1) {
            it_note(t, "%s: batch %lld holds '%s' = %s, not an id of the run counted once or "
                    "more", db_path, time, key ? key : "(null)",
                    (const char *)sqlite3_column_text(q, 2));
            goto done;
        }
        c->per_id[id] += v;
        c->total += v;
    }
    ok = rc == SQLITE_DONE;
    if (!ok)
        it_note(t, "reading %s: %s", db_path, sqlite3_errmsg(db));
done:
    sqlite3_finalize(q);
    sqlite3_close(db);
    return ok;
}

/* Appends up to 5 ids with flag set to buf and counts them all. */
static size_t fo_list_ids(char *buf, size_t len, const bool *flag, unsigned count)
{
    size_t n = 0, used = strlen(buf);
    for (unsigned id = 1; id <= count; id++) {
        if (!flag[id])
            continue;
        if (n++ < 5 && used + 16 < len)
            used += (size_t)snprintf(buf + used, len - used, " id-%07u", id);
    }
    return n;
}

/* The exactly-once check of one job's sqlite output against the ids
 * acknowledged: no id counted more than once, every acknowledged id counted.
 * (An id pushed but not acknowledged may be counted once or not at all.)
 * *counted (may be NULL) gets the number of ids counted. False with a note. */
static bool fo_check_once(it_ctx_t *t, const char *db_path, const bool *acked, unsigned count,
                          size_t *counted)
{
    fo_counts_t c;
    bool *bad = calloc((size_t)count + 1, sizeof *bad);
    bool ok = bad && fo_read_counts(t, db_path, count, &c);
    if (!ok) {
        if (!bad)
            it_note(t, "out of memory");
        free(bad);
        return false;
    }
    char msg[IT_MSG_LEN];
    size_t n, nacked = 0, ncounted = 0;
    for (unsigned id = 1; id <= count; id++) {
        bad[id] = c.per_id[id] > 1;
        nacked += acked[id];
        ncounted += c.per_id[id] > 0;
    }
    snprintf(msg, sizeof msg, "ids counted more than once:");
    if ((n = fo_list_ids(msg, sizeof msg, bad, count)) != 0) {
        it_note(t, "%s: %zu %s", db_path, n, msg);
        ok = false;
    } else {
        for (unsigned id = 1; id <= count; id++)
            bad[id] = acked[id] && c.per_id[id] == 0;
        snprintf(msg, sizeof msg, "acknowledged ids counted in no batch:");
        if ((n = fo_list_ids(msg, sizeof msg, bad, count)) != 0) {
            it_note(t, "%s: %zu of %zu %s", db_path, n, nacked, msg);
            ok = false;
        }
    }
    if (counted)
        *counted = ncounted;
    fo_counts_free(&c);
    free(bad);
    return ok;
}

/* Every batch `sluice batches JOB --json` lists is done, their times are
 * consecutive, and (with `total` >= 0) their input records add up to
 * `total`. *nbatches (may be NULL) gets how many there are. */
static bool fo_check_batches(it_ctx_t *t, const it_engine_t *e, const char *job, long long total,
                             size_t *nbatches)
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
    if (nbatches)
        *nbatches = json_array_size(arr);
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
    memset(&s, 0, sizeof s);
    s.o = fo_tk_opts;
    char ckpt[IT_PATH_LEN];
    it_path(t, ckpt, "ckpt");
    const fo_mopts_t mo = { .ckpt = ckpt, .lease = FO_LEASE, .worker_timeout = "2s",
                            .stop_timeout = FO_STOP_TIMEOUT };
    it_master_t a, b;
    long long zero = 0;

    /* A takes the lease; B, started second, is its standby. */
    IT_CHECK(t, fo_master_start(t, &a, "masterA", &mo), "start master A");
    json_t *st = fo_wait_http(t, &a, fo_pred_active_after, &zero, IT_DEADLINE_MS);
    IT_CHECK(t, st != NULL, "master A holds the lease");
    long long epoch_a = fo_epoch(st);
    json_decref(st);
    IT_CHECK(t, fo_master_start(t, &b, "masterB", &mo), "start master B");
    st = fo_wait_http(t, &b, fo_pred_standby_of, a.listen, IT_DEADLINE_MS);
    IT_CHECK(t, st != NULL, "master B is a standby of A (%s)", a.listen);
    IT_CHECK_EQ(t, fo_epoch(st), epoch_a, "the lease epoch B's status shows");
    json_decref(st);
    IT_CHECK(t, fo_cli_refused(t, &b, &a, epoch_a), "the standby B refuses the CLI, naming A");
    IT_CHECK(t, it_log_has(b.proc, "standby: the lease is held by", a.listen),
             "B logs that it is a standby of A");

    /* Two workers and every client follow the list A,B. */
    snprintf(s.e.m.listen, sizeof s.e.m.listen, "%.31s,%.31s", a.listen, b.listen);
    it_worker_t *ws[2];
    for (size_t i = 0; i < 2; i++) {
        it_worker_t *w = &s.e.w[i];
        char name[16];
        w->cores = 2;
        snprintf(w->memory, sizeof w->memory, "512M");
        w->memory_bytes = 512ull << 20;
        snprintf(w->masters, sizeof w->masters, "%s", s.e.m.listen);
        snprintf(name, sizeof name, "worker%zu", i + 1);
        IT_CHECK(t, it_worker_start(t, w, name, &a), "start %s", name);
        ws[i] = w;
        s.e.nworkers++;
    }
    IT_CHECK(t, it_wait_alive(t, &a, NULL, ws, 2, IT_DEADLINE_MS), "both workers alive on A");
    it_path(t, s.prefix, "out/counts");
    it_path(t, s.db, "out.db");
    it_path(t, s.ack_log, "acked.log");
    IT_CHECK(t, it_engine_submit(t, &s.e, "recovery.job", fo_rc_jobfile, IT_RC_JOB),
             "submit the job through the list");
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
    json_t *ha = fo_http_status(t, &a), *hb = ha ? fo_http_status(t, &b) : NULL;
    char why[IT_MSG_LEN] = "";
    bool same = hb && fo_minfo_ok(cli, why, sizeof why) && fo_active(cli) &&
                fo_epoch(cli) == epoch_a && !strcmp(it_jstr(cli, "master"), a.listen) &&
                !strcmp(fo_lease_address(cli), a.listen) &&
                it_jstr(fo_minfo(cli), "checkpoint")[0] != '\0' && fo_active(ha) &&
                !fo_active(hb) && fo_same_lease(cli, ha) && fo_same_lease(cli, hb);
    char *d1 = json_dumps(fo_minfo(cli), JSON_COMPACT);
    char *d2 = ha ? json_dumps(fo_minfo(ha), JSON_COMPACT) : NULL;
    char *d3 = hb ? json_dumps(fo_minfo(hb), JSON_COMPACT) : NULL;
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
    st = fo_wait_http(t, &b, fo_pred_active_after, &epoch_a, IT_DEADLINE_MS);
    uint64_t took = it_now_ms() - killed;
    IT_CHECK(t, st != NULL, "master B takes over after A's kill -9");
    long long epoch_b = fo_epoch(st);
    json_decref(st);
    fo_record(t, "takeover.txt", "B active %llu ms after the kill -9 of A (bound %d ms)\n",
              (unsigned long long)took, FO_TAKEOVER_BOUND_MS);
    IT_CHECK(t, took <= FO_TAKEOVER_BOUND_MS,
             "B became active %llu ms after the kill -9 of A, want at most %d ms (lease %d + "
             "batch %d + slack %d)", (unsigned long long)took, FO_TAKEOVER_BOUND_MS, FO_LEASE_MS,
             IT_BATCH_MS, FO_TAKEOVER_SLACK_MS);
    IT_CHECK(t, it_log_has(b.proc, "holding the lease at epoch", NULL), "B logs the takeover");

    /* The workers register with B; the producer goes on through it. */
    IT_CHECK(t, it_wait_alive(t, &b, NULL, ws, 2, IT_DEADLINE_MS), "both workers alive on B");
    for (size_t i = 0; i < 2; i++) {
        char needle[IT_ADDR_LEN + 32];
        snprintf(needle, sizeof needle, "registered with master %s ", b.listen);
        IT_CHECK(t, it_wait_log(t, ws[i]->proc, needle, 1, IT_DEADLINE_MS),
                 "%s registers with B", ws[i]->proc->name);
    }
    size_t at_takeover = it_rc_acked(&s);
    IT_CHECK(t, it_rc_wait_acked(t, &s, at_takeover + FO_TK_THROUGH_B, 3 * IT_DEADLINE_MS),
             "%d more ids acknowledged through B (%zu before)", FO_TK_THROUGH_B, at_takeover);
    long long by_b = 0;
    char sql[256];
    snprintf(sql, sizeof sql,
             "SELECT COUNT(*) FROM batches WHERE job = '" IT_RC_JOB "' AND state = 1 AND "
             "master_epoch = %lld", epoch_b);
    IT_CHECK(t, fo_ckpt_int(t, ckpt, sql, &by_b), "read the checkpoint");
    IT_CHECK(t, by_b > 0, "no batch finished under B's epoch %lld in the checkpoint", epoch_b);

    /* A comes back: a standby of B, refusing the CLI and naming B. */
    IT_CHECK(t, fo_master_restart(t, &a), "restart master A");
    st = fo_wait_http(t, &a, fo_pred_standby_of, b.listen, IT_DEADLINE_MS);
    IT_CHECK(t, st != NULL, "the restarted A is a standby of B (%s)", b.listen);
    IT_CHECK_EQ(t, fo_epoch(st), epoch_b, "the lease epoch A's status shows");
    json_decref(st);
    IT_CHECK(t, fo_cli_refused(t, &a, &b, epoch_b), "the standby A refuses the CLI, naming B");

    /* B frozen past its lease: A takes over. Thawed, B must find itself
     * replaced and stop without writing to the checkpoint. */
    IT_CHECK(t, it_proc_signal(t, b.proc, SIGSTOP), "SIGSTOP master B");
    uint64_t frozen_wall = fo_wall_ms(), frozen = it_now_ms();
    st = fo_wait_http(t, &a, fo_pred_active_after, &epoch_b, IT_DEADLINE_MS);
    IT_CHECK(t, st != NULL, "A takes over from the frozen B");
    long long epoch_a2 = fo_epoch(st);
    uint64_t took2 = it_now_ms() - frozen;
    json_decref(st);
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
    IT_CHECK(t, fo_ckpt_int(t, ckpt, "SELECT COUNT(*) FROM batches", &rows), "read the checkpoint");
    IT_CHECK(t, rows > 0, "the checkpoint holds no batch row after A's takeover");
    snprintf(sql, sizeof sql,
             "SELECT COUNT(*) FROM batches WHERE master_epoch = %lld AND time > %llu", epoch_b,
             (unsigned long long)(frozen_wall + IT_BATCH_MS));
    IT_CHECK(t, fo_ckpt_int(t, ckpt, sql, &late), "read the checkpoint");
    IT_CHECK(t, late == 0, "%lld batch row(s) later than the freeze (%llu) written by B's epoch "
             "%lld after A took over at epoch %lld", late, (unsigned long long)frozen_wall,
             epoch_b, epoch_a2);
    IT_CHECK(t, fo_ckpt_int(t, ckpt, "SELECT epoch FROM lease WHERE id = 1", &lease_epoch),
             "read the lease");
    IT_CHECK_EQ(t, lease_epoch, epoch_a2, "the lease epoch in the checkpoint after B's exit");
    IT_CHECK(t, it_wait_alive(t, &a, NULL, ws, 2, IT_DEADLINE_MS), "both workers alive on A");

    /* The producer finishes through A; every acknowledged id counted once. */
    it_rc_finish(t, &s, NULL, NULL);
}

/* --- wal_single_worker --------------------------------------------------------------- */

/* The ids first..last, one a line. Caller frees. */
static char *fo_ids_text(unsigned first, unsigned last)
{
    size_t cap = (size_t)(last - first + 1) * 12 + 1, used = 0;
    char *s = malloc(cap);
    for (unsigned id = first; s && id <= last; id++)
        used += (size_t)snprintf(s + used, cap - used, "id-%07u\n", id);
    return s;
}

/* Pushes ids first..last to the job's stream "ids" (every one acknowledged)
 * and marks them in acked. */
static bool fo_push_ids(it_ctx_t *t, const it_engine_t *e, const char *job, unsigned first,
                        unsigned last, bool *acked)
{
    char *text = fo_ids_text(first, last);
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
    static const char job[] = "walrun";
    char ckpt[IT_PATH_LEN], db[IT_PATH_LEN], text[1024], what[IT_MSG_LEN];
    it_path(t, ckpt, "ckpt");
    it_path(t, db, "walrun.db");
    const fo_mopts_t mo = { .ckpt = ckpt, .worker_timeout = "10s", .manual_clock = true,
                            .stop_timeout = FO_STOP_TIMEOUT };
    it_engine_t e;
    memset(&e, 0, sizeof e);
    IT_CHECK(t, fo_master_start(t, &e.m, "master", &mo), "start the master");
    it_worker_t *w = &e.w[0];
    w->cores = 2;
    snprintf(w->memory, sizeof w->memory, "512M");
    w->memory_bytes = 512ull << 20;
    IT_CHECK(t, it_worker_start(t, w, "worker1", &e.m), "start the worker");
    e.nworkers = 1;
    IT_CHECK(t, it_wait_alive(t, &e.m, NULL, &w, 1, IT_DEADLINE_MS), "the worker is alive");
    fo_job_text(text, sizeof text, job, true);
    IT_CHECK(t, it_engine_submit(t, &e, "walrun.job", text, job), "submit the job (wal on)");
    it_job_state_t placed;
    IT_CHECK(t, it_engine_wait_job(t, &e, job, it_job_placed, NULL, IT_DEADLINE_MS, &placed),
             "the receiver is placed");

    bool acked[FO_WAL_IDS + 1] = { false };
    const unsigned half = FO_WAL_IDS / 2;
    /* The first half is processed before the crash, the second is only
     * acknowledged (in the log) when the worker and the master die. */
    IT_CHECK(t, fo_push_ids(t, &e, job, 1, half, acked), "push ids 1..%u", half);
    int64_t time;
    IT_CHECK(t, it_engine_tick(t, &e, job, 1, &time), "tick a batch");
    size_t counted = 0;
    IT_CHECK(t, fo_check_once(t, db, acked, FO_WAL_IDS, &counted), "the first batch");
    IT_CHECK_EQ(t, counted, half, "ids counted by the first batch");
    IT_CHECK(t, fo_push_ids(t, &e, job, half + 1, FO_WAL_IDS, acked), "push ids %u..%u",
             half + 1, FO_WAL_IDS);
    IT_CHECK(t, fo_wal_has_data(ckpt, job, what), "the write-ahead log of the job: %s", what);

    IT_CHECK(t, it_proc_kill9(t, w->proc), "kill -9 the worker");
    IT_CHECK(t, it_proc_kill9(t, e.m.proc), "kill -9 the master");
    IT_CHECK(t, fo_check_once(t, db, acked, half, &counted) && counted == half,
             "before the restart only the first batch is counted (%zu ids)", counted);

    IT_CHECK(t, fo_master_restart(t, &e.m), "restart the master");
    it_proc_t *np = it_respawn(t, w->proc);
    IT_CHECK(t, np != NULL, "restart the worker");
    w->proc = np;
    IT_CHECK(t, it_wait_alive(t, &e.m, NULL, &w, 1, IT_DEADLINE_MS), "the worker is back");
    IT_CHECK(t, it_engine_wait_job(t, &e, job, it_job_placed, NULL, IT_DEADLINE_MS, &placed),
             "the job runs again with its receiver placed");
    unsigned ticks = 0;
    for (counted = 0; counted < FO_WAL_IDS && ticks < FO_WAL_MAX_TICKS; ticks++) {
        IT_CHECK(t, it_engine_tick(t, &e, job, 1, &time), "tick batch %u after the restart",
                 ticks + 1);
        fo_counts_t c;
        IT_CHECK(t, fo_read_counts(t, db, FO_WAL_IDS, &c), "read %s", db);
        counted = 0;
        for (unsigned id = 1; id <= FO_WAL_IDS; id++)
            counted += c.per_id[id] > 0;
        fo_counts_free(&c);
    }
    IT_CHECK(t, fo_check_once(t, db, acked, FO_WAL_IDS, &counted),
             "%u batch(es) after the restart: each acknowledged id counted exactly once "
             "(%zu of %d counted)", ticks, counted, FO_WAL_IDS);
    IT_CHECK(t, it_wait_log(t, w->proc, "read back", 1, IT_DEADLINE_MS),
             "the restarted worker reads the dead receiver's log back");
    IT_CHECK(t, fo_check_batches(t, &e, job, -1, NULL), "every batch done");
    IT_CHECK(t, it_engine_stop(t, &e, job), "stop the job");
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

/* Ticks one batch (it must be done) and waits until the ack log holds
 * FO_GS_PENDING more ids than after it: acknowledged, in no batch yet. */
static bool fo_tick_then_pend(it_ctx_t *t, const it_engine_t *e, const char *job,
                              const char *log)
{
    if (!it_engine_tick(t, e, job, 1, NULL))
        return false;
    return fo_wait_acked(t, log, fo_lines_in(log) + FO_GS_PENDING, IT_DEADLINE_MS);
}

void it_test_graceful_stop(it_ctx_t *t)
{
    char ckpt[IT_PATH_LEN], text[1024], state[32], desc[96];
    it_path(t, ckpt, "ckpt");
    const fo_mopts_t mo = { .ckpt = ckpt, .worker_timeout = "10s",
                            .stop_timeout = FO_STOP_TIMEOUT, .manual_clock = true };
    it_engine_t e;
    memset(&e, 0, sizeof e);
    IT_CHECK(t, fo_master_start(t, &e.m, "master", &mo), "start the master");
    it_worker_t *ws[2];
    for (size_t i = 0; i < 2; i++) {
        it_worker_t *w = &e.w[i];
        char name[16];
        w->cores = 2;
        snprintf(w->memory, sizeof w->memory, "512M");
        w->memory_bytes = 512ull << 20;
        snprintf(name, sizeof name, "worker%zu", i + 1);
        IT_CHECK(t, it_worker_start(t, w, name, &e.m), "start %s", name);
        ws[i] = w;
        e.nworkers++;
    }
    IT_CHECK(t, it_wait_alive(t, &e.m, NULL, ws, 2, IT_DEADLINE_MS), "both workers alive");

    /* 1. sluice stop --graceful while the producer pushes. */
    char db1[IT_PATH_LEN], log1[IT_PATH_LEN];
    it_path(t, db1, "graceful.db");
    it_path(t, log1, "graceful-acked.log");
    fo_job_text(text, sizeof text, "graceful", false);
    IT_CHECK(t, it_engine_submit(t, &e, "graceful.job", text, "graceful"), "submit 'graceful'");
    it_job_state_t js;
    IT_CHECK(t, it_engine_wait_job(t, &e, "graceful", it_job_placed, NULL, IT_DEADLINE_MS, &js),
             "the receiver of 'graceful' is placed");
    const fo_producer_t p1 = { "producer", e.m.listen, "graceful", FO_GS_COUNT, FO_GS_RATE, log1,
                               "5s", "2s" };
    it_proc_t *prod1 = fo_producer_start(t, &p1);
    IT_CHECK(t, prod1 != NULL, "start the producer");
    IT_CHECK(t, fo_wait_acked(t, log1, FO_GS_BEFORE_TICK, IT_DEADLINE_MS), "%d ids acknowledged",
             FO_GS_BEFORE_TICK);
    IT_CHECK(t, fo_tick_then_pend(t, &e, "graceful", log1),
             "a batch done, then %d more ids acknowledged", FO_GS_PENDING);
    IT_CHECK(t, it_proc_alive(prod1), "the producer still pushes when the stop is asked");
    IT_CHECK(t, fo_stop_graceful(t, &e, "graceful"), "sluice stop graceful --graceful");
    size_t at_stop = fo_lines_in(log1);
    IT_CHECK(t, fo_job_state(t, &e, "graceful", state, sizeof state), "sluice jobs");
    IT_CHECK(t, !strcmp(state, "stopped"), "job graceful is '%s' after the graceful stop, want "
             "stopped", state);
    /* The producer can push no more: it gives up or fails. */
    IT_CHECK(t, it_proc_wait_exit(t, prod1, 2 * IT_DEADLINE_MS), "the producer ends");
    IT_CHECK(t, it_proc_exit_code(prod1) == 1, "producer: %s, want exit 1 (its pushes refused)",
             it_proc_describe(prod1, desc, sizeof desc));
    IT_CHECK(t, fo_refused(prod1), "the producer's log shows its pushes refused");
    IT_CHECK(t, fo_push_refused(t, &e, "graceful"), "a push after the graceful stop is refused");
    bool *acked = calloc(FO_GS_COUNT + 1, sizeof *acked);
    IT_CHECK(t, acked != NULL, "out of memory");
    size_t nacked = 0, counted = 0;
    bool ok = fo_read_acked(t, log1, acked, FO_GS_COUNT, &nacked);
    if (ok)
        ok = fo_check_once(t, db1, acked, FO_GS_COUNT, &counted);
    free(acked);
    IT_CHECK(t, ok, "job graceful: each acknowledged id counted exactly once");
    IT_CHECK(t, nacked < FO_GS_COUNT, "the producer logged all %zu ids acknowledged though the "
             "job was stopped at %zu", nacked, at_stop);
    fo_counts_t c;
    IT_CHECK(t, fo_read_counts(t, db1, FO_GS_COUNT, &c), "read graceful.db");
    long long total = c.total;
    fo_counts_free(&c);
    IT_CHECK(t, fo_check_batches(t, &e, "graceful", total, NULL),
             "job graceful: every batch done, their input all counted");
    fo_record(t, "graceful.txt", "graceful: %zu acked at the stop reply, %zu in the end, %zu "
              "counted\n", at_stop, nacked, counted);

    /* 2. SIGTERM of the master while a producer pushes to a second job. */
    char db2[IT_PATH_LEN], log2[IT_PATH_LEN];
    it_path(t, db2, "drain.db");
    it_path(t, log2, "drain-acked.log");
    fo_job_text(text, sizeof text, "drain", false);
    IT_CHECK(t, it_engine_submit(t, &e, "drain.job", text, "drain"), "submit 'drain'");
    IT_CHECK(t, it_engine_wait_job(t, &e, "drain", it_job_placed, NULL, IT_DEADLINE_MS, &js),
             "the receiver of 'drain' is placed");
    const fo_producer_t p2 = { "producer2", e.m.listen, "drain", FO_GS_COUNT, FO_GS_RATE, log2,
                               "60s", "2s" };
    it_proc_t *prod2 = fo_producer_start(t, &p2);
    IT_CHECK(t, prod2 != NULL, "start the second producer");
    IT_CHECK(t, fo_wait_acked(t, log2, FO_GS_BEFORE_TICK, IT_DEADLINE_MS), "%d ids acknowledged",
             FO_GS_BEFORE_TICK);
    IT_CHECK(t, fo_tick_then_pend(t, &e, "drain", log2),
             "a batch done, then %d more ids acknowledged", FO_GS_PENDING);
    IT_CHECK(t, it_proc_signal(t, e.m.proc, SIGTERM), "SIGTERM the master");
    IT_CHECK(t, it_proc_wait_exit(t, e.m.proc, FO_STOP_TIMEOUT_MS + FO_STOP_SLACK_MS),
             "the master exits within --stop-timeout %s", FO_STOP_TIMEOUT);
    IT_CHECK(t, it_proc_exit_code(e.m.proc) == 0, "master after SIGTERM: %s, want exit 0",
             it_proc_describe(e.m.proc, desc, sizeof desc));
    IT_CHECK(t, it_log_has(e.m.proc, "lease released", NULL), "the master released the lease");
    /* Drained: what was acknowledged before the exit is counted already. */
    acked = calloc(FO_GS_COUNT + 1, sizeof *acked);
    IT_CHECK(t, acked != NULL, "out of memory");
    ok = fo_read_acked(t, log2, acked, FO_GS_COUNT, &nacked);
    if (ok)
        ok = fo_check_once(t, db2, acked, FO_GS_COUNT, &counted);
    free(acked);
    IT_CHECK(t, ok, "job drain after the SIGTERM exit: each of the %zu ids acknowledged by then "
             "counted exactly once", nacked);
    size_t at_exit = nacked;

    /* Restarted, the master resumes the job from the checkpoint. */
    IT_CHECK(t, fo_master_restart(t, &e.m), "restart the master");
    IT_CHECK(t, it_wait_alive(t, &e.m, NULL, ws, 2, IT_DEADLINE_MS), "both workers back");
    IT_CHECK(t, it_engine_wait_job(t, &e, "drain", it_job_placed, NULL, IT_DEADLINE_MS, &js),
             "job drain runs again with its receiver placed");
    /* The producer rides through the restart: a master shutting down or
     * recovering, and a receiver that takes no more pushes, are answers to
     * try again. */
    IT_CHECK(t, it_proc_wait_exit(t, prod2, (FO_GS_COUNT / FO_GS_RATE) * 1000 + 90000),
             "the second producer ends");
    IT_CHECK(t, it_proc_exit_code(prod2) == 0,
             "second producer: %s, want exit 0 (every id pushed and acknowledged across the "
             "restart; see its log)", it_proc_describe(prod2, desc, sizeof desc));
    /* One batch cut after the last acknowledgement holds all the rest. */
    IT_CHECK(t, it_engine_tick(t, &e, "drain", 1, NULL), "tick a batch after the last ack");
    IT_CHECK(t, it_engine_stop(t, &e, "drain"), "stop job drain");
    acked = calloc(FO_GS_COUNT + 1, sizeof *acked);
    IT_CHECK(t, acked != NULL, "out of memory");
    ok = fo_read_acked(t, log2, acked, FO_GS_COUNT, &nacked);
    if (ok)
        ok = fo_check_once(t, db2, acked, FO_GS_COUNT, &counted);
    free(acked);
    IT_CHECK(t, ok, "job drain in the end: each acknowledged id counted exactly once");
    IT_CHECK_EQ(t, nacked, FO_GS_COUNT, "ids in the second producer's ack log");
    IT_CHECK_EQ(t, counted, FO_GS_COUNT, "ids of job drain counted");
    IT_CHECK(t, fo_check_batches(t, &e, "drain", -1, NULL), "job drain: every batch done");
    fo_record(t, "graceful.txt", "drain: %zu acked at the SIGTERM exit, %zu in the end "
              "(producer: %s), %zu counted\n", at_exit, nacked,
              it_proc_describe(prod2, desc, sizeof desc), counted);
}
