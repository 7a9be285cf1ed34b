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
#include <dirent.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "engine.h"
#include "tests.h"

#define IT_RC_WORKERS 3
#define IT_RC_BATCH_MS IT_BATCH_MS    /* "batch 1s" */
#define IT_RC_COUNT 3000                /* ids pushed... */
#define IT_RC_RATE 300                  /* ...per second: about 10 s of stream */
#define IT_RC_KILL_AFTER (IT_RC_COUNT / 3)   /* acknowledged ids before the kill */
/* The producer's run, with room for a slow machine and a receiver move. */
#define IT_RC_PRODUCER_MS (IT_RC_COUNT / IT_RC_RATE * 1000 + 90000)
/* For the batches to catch up once the producer is done. */
#define IT_RC_CATCH_UP_MS 60000
#define IT_RC_SHOW 5                    /* ids quoted in a failure */
/* How long before a batch boundary a worker is frozen to catch it holding
 * tasks of that batch. */
#define IT_RC_FREEZE_LEAD_MS 150

#define IT_RC_JOB "recovery"

static const char it_rc_jobfile[] =
    "job " IT_RC_JOB "\n"
    "batch 1s\n"
    "ids = push(\"ids\", partitions = 2)\n"
    "counts = ids.map(pair_one).reduce_by_key(sum, partitions = 2)\n"
    "counts.save_as_text_files(\"@DIR@/out/counts\")\n"
    "counts.sqlite(\"@DIR@/out.db\", \"counts\")\n";

/* One scenario: the cluster, the job and the producer. Three workers, so
 * that one can die and leave two: one for the receiver, one for its
 * replicas. */
typedef struct {
    it_engine_t e;              /* e.m: the master (wall clock); e.w unused, see w */
    it_worker_t w[IT_RC_WORKERS];
    char prefix[IT_PATH_LEN];   /* save_as_text_files: <prefix>-<time>/part-NNNNN */
    char db[IT_PATH_LEN];       /* sqlite output, table "counts" */
    char ack_log[IT_PATH_LEN];  /* the producer's acknowledged ids */
    it_proc_t *producer;
} it_rc_t;

/* The job's state as `sluice jobs --json` shows it. */
typedef struct {
    char state[32];
    char address[IT_ADDR_LEN];  /* the receiver's worker; "" while it moves */
    long long epoch;
    long long batches_done;
    long long last_batch;       /* time of the latest batch cut, -1: none */
} it_rc_job_t;

/* A finished batch as `sluice batches --json` shows it. */
typedef struct {
    long long time;
    char state[32];
    long long input;
    long long attempts;
    char error[256];
} it_rc_batch_t;

/* --- the cluster, the job, the producer --------------------------------------- */

static bool it_rc_start(it_ctx_t *t, it_rc_t *s)
{
    memset(s, 0, sizeof *s);
    if (!it_master_start(t, &s->e.m))
        return false;
    it_worker_t *ws[IT_RC_WORKERS];
    for (size_t i = 0; i < IT_RC_WORKERS; i++) {
        char name[16];
        it_worker_t *w = &s->w[i];
        w->cores = 2;
        snprintf(w->memory, sizeof w->memory, "512M");
        w->memory_bytes = 512ull << 20;
        snprintf(name, sizeof name, "worker%zu", i + 1);
        if (!it_worker_start(t, w, name, &s->e.m))
            return false;
        ws[i] = w;
    }
    if (!it_wait_alive(t, &s->e.m, NULL, ws, IT_RC_WORKERS, IT_DEADLINE_MS))
        return false;
    it_path(t, s->prefix, "out/counts");
    it_path(t, s->db, "out.db");
    it_path(t, s->ack_log, "acked.log");
    return it_engine_submit(t, &s->e, "recovery.job", it_rc_jobfile, IT_RC_JOB);
}

/* Reads the job's line of `sluice jobs --json`; false with a note. */
static bool it_rc_job(it_ctx_t *t, const it_rc_t *s, it_rc_job_t *out /* OUT */)
{
    memset(out, 0, sizeof *out);
    json_t *all = it_engine_jobs(t, &s->e);
    if (!all)
        return false;
    json_t *job = it_engine_job_at(all, IT_RC_JOB);
    json_t *rcv = json_array_get(json_object_get(job, "receivers"), 0);
    if (!job || !rcv) {
        char *dump = json_dumps(all, JSON_COMPACT);
        it_note(t, "sluice jobs --json has no job '%s' with a receiver: %.400s", IT_RC_JOB,
                dump ? dump : "?");
        free(dump);
        json_decref(all);
        return false;
    }
    snprintf(out->state, sizeof out->state, "%s", it_jstr(job, "state"));
    snprintf(out->address, sizeof out->address, "%s", it_jstr(rcv, "address"));
    out->epoch = it_jint(rcv, "epoch");
    out->batches_done = it_jint(job, "batches_done");
    json_t *last = json_object_get(job, "last_batch_time_ms");
    out->last_batch = json_is_integer(last) ? (long long)json_integer_value(last) : -1;
    json_decref(all);
    return true;
}

typedef bool (*it_rc_job_pred)(const it_rc_job_t *j, const void *arg);

/* Polls the job until pred holds (then true, with the job in *out) or the
 * deadline passes (false, with the last state in a note). */
static bool it_rc_wait_job(it_ctx_t *t, const it_rc_t *s, it_rc_job_pred pred, const void *arg,
                           int deadline_ms, it_rc_job_t *out /* OUT */)
{
    uint64_t end = it_now_ms() + (uint64_t)deadline_ms;
    char last[IT_MSG_LEN] = "no job state read";
    for (;;) {
        if (it_rc_job(t, s, out)) {
            if (pred(out, arg))
                return true;
            snprintf(last, sizeof last,
                     "last: state %s, receiver at '%s' epoch %lld, %lld batches done",
                     out->state, out->address, out->epoch, out->batches_done);
        } else {
            snprintf(last, sizeof last, "%s", t->note);
        }
        if (it_now_ms() >= end)
            break;
        it_sleep_ms(IT_POLL_MS);
    }
    it_note(t, "job condition not reached within %d ms; %s", deadline_ms, last);
    return false;
}

static bool it_rc_placed(const it_rc_job_t *j, const void *arg)
{
    return !strcmp(j->state, "running") && j->address[0] != '\0';
}

/* The receiver runs somewhere else than `old`, under a higher epoch. */
static bool it_rc_moved(const it_rc_job_t *j, const void *arg)
{
    const it_rc_job_t *old = arg;
    return j->address[0] && strcmp(j->address, old->address) != 0 && j->epoch > old->epoch;
}

static bool it_rc_batches_done(const it_rc_job_t *j, const void *arg)
{
    return j->batches_done >= *(const long long *)arg;
}

static it_worker_t *it_rc_worker_at(it_rc_t *s, const char *address)
{
    for (size_t i = 0; i < IT_RC_WORKERS; i++)
        if (!strcmp(s->w[i].listen, address))
            return &s->w[i];
    return NULL;
}

static bool it_rc_start_producer(it_ctx_t *t, it_rc_t *s)
{
    char count[16], rate[16];
    snprintf(count, sizeof count, "%d", IT_RC_COUNT);
    snprintf(rate, sizeof rate, "%d", IT_RC_RATE);
    const char *const args[] = { "--master", s->e.m.listen, "--job", IT_RC_JOB, "--stream", "ids",
                                 "--count", count, "--rate", rate, "--ack-log", s->ack_log,
                                 NULL };
    s->producer = it_spawn(t, "producer", "tests/producer", args);
    return s->producer != NULL;
}

typedef struct {
    const it_rc_t *s;
    size_t want, seen;
} it_rc_ack_wait_t;

static bool it_rc_acked_cond(void *arg)
{
    it_rc_ack_wait_t *a = arg;
    char *text = it_read_file(a->s->ack_log, NULL);
    a->seen = it_count_lines(text);
    free(text);
    return a->seen >= a->want;
}

/* Waits until the producer has logged `n` acknowledged ids. */
static bool it_rc_wait_acked(it_ctx_t *t, const it_rc_t *s, size_t n, int deadline_ms)
{
    it_rc_ack_wait_t a = { s, n, 0 };
    if (it_wait_until(it_rc_acked_cond, &a, deadline_ms))
        return true;
    it_note(t, "the producer logged %zu acknowledged ids after %d ms, want %zu", a.seen,
            deadline_ms, n);
    return false;
}

/* --- the checks after the run ------------------------------------------------------ */

/* The ids of the ack log as flags, acked[1..IT_RC_COUNT]; false with a note
 * on a line that is not an id of the run or is there twice. */
static bool it_rc_read_acked(it_ctx_t *t, const it_rc_t *s, bool *acked, size_t *n /* OUT */)
{
    char *text = it_read_file(s->ack_log, NULL);
    bool ok = true;
    *n = 0;
    for (char *line = text; ok && line && *line;) {
        char *nl = strchr(line, '\n');
        unsigned id;
        char end;
        if (sscanf(line, "id-%u%c", &id, &end) != 2 || end != '\n' || id < 1 || id > IT_RC_COUNT ||
            acked[id]) {
            it_note(t, "ack log line %zu is bad or repeated: '%.*s'", *n + 1,
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

/* Waits until the producer exits 0: every id pushed and acknowledged. */
static void it_rc_wait_producer(it_ctx_t *t, it_rc_t *s)
{
    char desc[96];
    IT_CHECK(t, it_proc_wait_exit(t, s->producer, IT_RC_PRODUCER_MS),
             "the producer finishes its %d ids", IT_RC_COUNT);
    IT_CHECK(t, it_proc_exit_code(s->producer) == 0, "producer: %s, want exit 0 (see its log)",
             it_proc_describe(s->producer, desc, sizeof desc));
}

typedef struct {
    it_ctx_t *t;
    const it_rc_t *s;
    long long time;
    char last[IT_MSG_LEN];
} it_rc_over_wait_t;

static bool it_rc_over_cond(void *arg)
{
    it_rc_over_wait_t *o = arg;
    json_t *bl = it_engine_batches(o->t, &o->s->e, IT_RC_JOB);
    bool over = false;
    size_t i;
    json_t *b;
    json_array_foreach(json_object_get(bl, "batches"), i, b) {
        const char *st = it_jstr(b, "state");
        if (it_jint(b, "time_ms") >= o->time && (!strcmp(st, "done") || !strcmp(st, "failed")))
            over = true;
    }
    char *dump = bl ? json_dumps(bl, JSON_COMPACT) : NULL;
    snprintf(o->last, sizeof o->last, "%s", dump ? dump : o->t->note);
    free(dump);
    json_decref(bl);
    return over;
}

/* Waits until batch `time` or a later one is over (done or failed). */
static bool it_rc_wait_over(it_ctx_t *t, const it_rc_t *s, long long time, int deadline_ms)
{
    it_rc_over_wait_t o = { t, s, time, "" };
    if (it_wait_until(it_rc_over_cond, &o, deadline_ms))
        return true;
    it_note(t, "no batch from %lld on was over within %d ms; last: %.600s", time, deadline_ms,
            o.last);
    return false;
}

/* After the producer is done: waits until a batch cut after its last ack is
 * over, stops the job so that the batch list stays put, and reads it. The
 * batch cut first after the last ack (the one after the latest batch now)
 * holds every acknowledged block, because a receiver acks a block only once
 * it is stored and reports it at the next cut. */
static void it_rc_settle(it_ctx_t *t, it_rc_t *s, it_rc_batch_t **out /* OUT */, size_t *n /* OUT */)
{
    *out = NULL;
    *n = 0;
    it_rc_job_t j;
    IT_CHECK(t, it_rc_job(t, s, &j), "sluice jobs after the producer finished");
    long long need = j.last_batch + IT_RC_BATCH_MS;
    IT_CHECK(t, it_rc_wait_over(t, s, need, IT_RC_CATCH_UP_MS),
             "batch %lld (the first after the last ack) over", need);
    IT_CHECK(t, it_engine_stop(t, &s->e, IT_RC_JOB), "stop the job");
    json_t *bl = it_engine_batches(t, &s->e, IT_RC_JOB);
    IT_CHECK(t, bl != NULL, "sluice batches --json after the stop");
    json_t *arr = json_object_get(bl, "batches");
    size_t nb = json_array_size(arr);
    it_rc_batch_t *bs = calloc(nb + 1, sizeof *bs);
    if (!bs)
        json_decref(bl);
    IT_CHECK(t, bs != NULL, "out of memory");
    for (size_t i = 0; i < nb; i++) {
        json_t *b = json_array_get(arr, i);
        bs[i].time = it_jint(b, "time_ms");
        bs[i].input = it_jint(b, "input_records");
        bs[i].attempts = it_jint(b, "attempts");
        snprintf(bs[i].state, sizeof bs[i].state, "%s", it_jstr(b, "state"));
        snprintf(bs[i].error, sizeof bs[i].error, "%s", it_jstr(b, "error"));
    }
    json_decref(bl);
    *out = bs;
    *n = nb;
    /* Every batch from the first to the last: done, and none missing. */
    IT_CHECK(t, nb > 0, "the job ran no batch");
    IT_CHECK(t, bs[nb - 1].time >= need, "the last batch is %lld, want at least %lld",
             bs[nb - 1].time, need);
    for (size_t i = 0; i < nb; i++) {
        IT_CHECK(t, !strcmp(bs[i].state, "done"), "batch %lld is %s after %lld attempt(s): %s",
                 bs[i].time, bs[i].state, bs[i].attempts, bs[i].error);
        IT_CHECK(t, bs[i].time % IT_RC_BATCH_MS == 0, "batch time %lld is not a multiple of %d",
                 bs[i].time, IT_RC_BATCH_MS);
        IT_CHECK(t, i == 0 || bs[i].time == bs[i - 1].time + IT_RC_BATCH_MS,
                 "batch %lld follows batch %lld: %lld batch time(s) missing", bs[i].time,
                 bs[i - 1].time, (bs[i].time - bs[i - 1].time) / IT_RC_BATCH_MS - 1);
    }
}

/* What one output says: each id's total over all batches, and each batch's
 * total over all ids. */
typedef struct {
    const char *name;
    long long per_id[IT_RC_COUNT + 1];
    long long *per_batch;       /* indexed like the batch list */
} it_rc_tally_t;

/* Adds one "id<TAB>count" of batch bi; false with a note when it is not an
 * id of the run with a count of 1 or more. */
static bool it_rc_add(it_ctx_t *t, it_rc_tally_t *tl, size_t bi, long long time, const char *key,
                      long long value)
{
    unsigned id;
    char extra;
    if (sscanf(key, "id-%u%c", &id, &extra) != 1 || id < 1 || id > IT_RC_COUNT || value < 1) {
        it_note(t, "%s of batch %lld holds '%s' = %lld, not an id of the run counted once or more",
                tl->name, time, key, value);
        return false;
    }
    tl->per_id[id] += value;
    tl->per_batch[bi] += value;
    return true;
}

static bool it_rc_tally_sqlite(it_ctx_t *t, const it_rc_t *s, const it_rc_batch_t *bs, size_t nb,
                               it_rc_tally_t *tl)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *q = NULL;
    bool ok = false;
    if (sqlite3_open_v2(s->db, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db, "SELECT batch_time, key, value FROM counts", -1, &q, NULL) !=
            SQLITE_OK) {
        it_note(t, "cannot read table counts of %s: %s", s->db, db ? sqlite3_errmsg(db) : "?");
        goto done;
    }
    int rc;
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        long long time = sqlite3_column_int64(q, 0);
        const char *key = (const char *)sqlite3_column_text(q, 1);
        long long bi = (time - bs[0].time) / IT_RC_BATCH_MS;
        if (time < bs[0].time || (size_t)bi >= nb || bs[bi].time != time) {
            it_note(t, "sqlite has rows of batch %lld, which the batch list does not have", time);
            goto done;
        }
        if (sqlite3_column_type(q, 2) != SQLITE_INTEGER) {
            it_note(t, "sqlite: batch %lld key '%s' has a value that is not an integer", time,
                    key ? key : "");
            goto done;
        }
        if (!it_rc_add(t, tl, (size_t)bi, time, key ? key : "", sqlite3_column_int64(q, 2)))
            goto done;
    }
    ok = rc == SQLITE_DONE;
    if (!ok)
        it_note(t, "reading %s: %s", s->db, sqlite3_errmsg(db));
done:
    sqlite3_finalize(q);
    sqlite3_close(db);
    return ok;
}

/* Reads the part files of every listed batch (a batch without input may
 * have none). Temporary files of unfinished attempts are not part files. */
static bool it_rc_tally_text(it_ctx_t *t, const it_rc_t *s, const it_rc_batch_t *bs, size_t nb,
                             it_rc_tally_t *tl)
{
    for (size_t bi = 0; bi < nb; bi++) {
        char dir[IT_PATH_LEN + 32];
        snprintf(dir, sizeof dir, "%s-%lld", s->prefix, bs[bi].time);
        DIR *d = opendir(dir);
        if (!d)
            continue;
        struct dirent *e;
        bool ok = true;
        while (ok && (e = readdir(d)) != NULL) {
            if (strncmp(e->d_name, "part-", 5) != 0)
                continue;
            char path[2 * IT_PATH_LEN];
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
            char *text = it_read_file(path, NULL);
            for (char *line = text; ok && line && *line;) {
                char *nl = strchr(line, '\n');
                if (nl)
                    *nl = '\0';
                char *tab = strchr(line, '\t');
                char *end = NULL;
                long long v = tab ? strtoll(tab + 1, &end, 10) : 0;
                if (!tab || !end || *end) {
                    it_note(t, "%s: line '%s' is not 'id<TAB>count'", path, line);
                    ok = false;
                } else {
                    *tab = '\0';
                    ok = it_rc_add(t, tl, bi, bs[bi].time, line, v);
                }
                line = nl ? nl + 1 : NULL;
            }
            free(text);
        }
        closedir(d);
        if (!ok)
            return false;
    }
    return true;
}

/* Appends up to IT_RC_SHOW ids of `which` to buf. */
static void it_rc_list(char *buf, size_t len, const bool *which, size_t *count /* OUT */)
{
    size_t n = 0, used = strlen(buf);
    for (unsigned id = 1; id <= IT_RC_COUNT; id++) {
        if (!which[id])
            continue;
        if (n++ < IT_RC_SHOW && used + 16 < len)
            used += (size_t)snprintf(buf + used, len - used, " id-%07u", id);
    }
    *count = n;
}

/* Where an id shows up in the sqlite output, for a failure message. */
static void it_rc_rows_of(const it_rc_t *s, unsigned id, char *buf, size_t len)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *q = NULL;
    char key[16];
    size_t used = 0;
    buf[0] = '\0';
    snprintf(key, sizeof key, "id-%07u", id);
    if (sqlite3_open_v2(s->db, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
        sqlite3_prepare_v2(db, "SELECT batch_time, value FROM counts WHERE key = ?1", -1, &q,
                           NULL) == SQLITE_OK) {
        sqlite3_bind_text(q, 1, key, -1, SQLITE_STATIC);
        while (sqlite3_step(q) == SQLITE_ROW && used + 48 < len)
            used += (size_t)snprintf(buf + used, len - used, " batch %lld: %lld",
                                     (long long)sqlite3_column_int64(q, 0),
                                     (long long)sqlite3_column_int64(q, 1));
    }
    sqlite3_finalize(q);
    sqlite3_close(db);
}

/* The outputs against the ack log: each batch's text files, sqlite rows and
 * input count agree; over all batches no id is counted twice and every
 * acknowledged id is counted (an id pushed but never acknowledged may be
 * counted once or not at all). */
static void it_rc_check_outputs(it_ctx_t *t, const it_rc_t *s, const it_rc_batch_t *bs, size_t nb)
{
    bool *acked = calloc(IT_RC_COUNT + 1, sizeof *acked);
    bool *bad = calloc(IT_RC_COUNT + 1, sizeof *bad);
    it_rc_tally_t *sq = calloc(1, sizeof *sq), *tx = calloc(1, sizeof *tx);
    long long *pb = calloc(2 * nb + 1, sizeof *pb);
    char msg[IT_MSG_LEN];
    size_t nacked = 0, n;
    if (!acked || !bad || !sq || !tx || !pb) {
        it_fail_at(t, __FILE__, __LINE__, "out of memory");
        goto done;
    }
    sq->name = "sqlite output";
    sq->per_batch = pb;
    tx->name = "text output";
    tx->per_batch = pb + nb;
    if (!it_rc_read_acked(t, s, acked, &nacked) || !it_rc_tally_sqlite(t, s, bs, nb, sq) ||
        !it_rc_tally_text(t, s, bs, nb, tx)) {
        it_fail_at(t, __FILE__, __LINE__, "reading the ack log and the outputs");
        goto done;
    }
    for (size_t i = 0; i < nb; i++) {
        if (sq->per_batch[i] != bs[i].input || tx->per_batch[i] != bs[i].input) {
            it_fail_at(t, __FILE__, __LINE__,
                       "batch %lld (attempt %lld) had %lld input records but counts %lld ids in "
                       "sqlite and %lld in its text files",
                       bs[i].time, bs[i].attempts, bs[i].input, sq->per_batch[i],
                       tx->per_batch[i]);
            goto done;
        }
    }
    for (unsigned id = 1; id <= IT_RC_COUNT; id++)
        bad[id] = sq->per_id[id] != tx->per_id[id];
    snprintf(msg, sizeof msg, "ids counted differently by the sqlite and the text output:");
    it_rc_list(msg, sizeof msg, bad, &n);
    if (n) {
        it_fail_at(t, __FILE__, __LINE__, "%zu %s", n, msg);
        goto done;
    }
    unsigned first_dup = 0;
    for (unsigned id = 1; id <= IT_RC_COUNT; id++) {
        bad[id] = sq->per_id[id] > 1;
        if (bad[id] && !first_dup)
            first_dup = id;
    }
    snprintf(msg, sizeof msg, "ids counted more than once:");
    it_rc_list(msg, sizeof msg, bad, &n);
    if (n) {
        char rows[512];
        it_rc_rows_of(s, first_dup, rows, sizeof rows);
        it_fail_at(t, __FILE__, __LINE__, "%zu %s; id-%07u is in%s", n, msg, first_dup, rows);
        goto done;
    }
    for (unsigned id = 1; id <= IT_RC_COUNT; id++)
        bad[id] = acked[id] && sq->per_id[id] == 0;
    snprintf(msg, sizeof msg, "acknowledged ids counted in no batch:");
    it_rc_list(msg, sizeof msg, bad, &n);
    if (n)
        it_fail_at(t, __FILE__, __LINE__, "%zu of %zu %s", n, nacked, msg);
    else if (nacked != IT_RC_COUNT)
        it_fail_at(t, __FILE__, __LINE__, "the ack log has %zu ids, want %d", nacked, IT_RC_COUNT);
done:
    free(acked);
    free(bad);
    free(sq);
    free(tx);
    free(pb);
}

/* The end of both scenarios: the producer finishes; with `stay` (may be
 * NULL) the receiver must still be where and what it was then; the batches
 * catch up and are checked, and so are the outputs. *max_attempts (may be
 * NULL) gets the most attempts any batch took. */
static void it_rc_finish(it_ctx_t *t, it_rc_t *s, const it_rc_job_t *stay,
                         long long *max_attempts /* OUT */)
{
    it_rc_batch_t *bs = NULL;
    size_t nb = 0;
    it_rc_job_t now;
    it_rc_wait_producer(t, s);
    if (!t->failed && stay) {
        IT_CHECK(t, it_rc_job(t, s, &now), "sluice jobs");
        IT_CHECK(t, !strcmp(now.address, stay->address) && now.epoch == stay->epoch,
                 "the receiver moved from %s (epoch %lld) to '%s' (epoch %lld) though its "
                 "worker lives", stay->address, stay->epoch, now.address, now.epoch);
    }
    if (!t->failed)
        it_rc_settle(t, s, &bs, &nb);
    if (!t->failed)
        it_rc_check_outputs(t, s, bs, nb);
    for (size_t i = 0; max_attempts && i < nb; i++)
        if (bs[i].attempts > *max_attempts)
            *max_attempts = bs[i].attempts;
    free(bs);
}

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
    it_rc_job_t before, after;
    long long two = 2;
    IT_CHECK(t, it_rc_start(t, &s), "a master and %d workers running the job", IT_RC_WORKERS);
    IT_CHECK(t, it_rc_wait_job(t, &s, it_rc_placed, NULL, IT_DEADLINE_MS, &before),
             "the receiver is placed");
    IT_CHECK(t, it_rc_start_producer(t, &s), "start the producer");
    IT_CHECK(t, it_rc_wait_acked(t, &s, IT_RC_KILL_AFTER, IT_RC_PRODUCER_MS),
             "%d ids acknowledged", IT_RC_KILL_AFTER);
    IT_CHECK(t, it_rc_wait_job(t, &s, it_rc_batches_done, &two, IT_DEADLINE_MS, &after),
             "two batches done");
    /* Both workers without the receiver run tasks of every batch: the
     * reduce tasks go to the workers with the most free cores (the
     * receiver's worker has one less), the map tasks to where the blocks and
     * their replicas are. */
    it_worker_t *cand[IT_RC_WORKERS], *victim = NULL;
    size_t ncand = 0;
    for (size_t i = 0; i < IT_RC_WORKERS; i++)
        if (strcmp(s.w[i].listen, before.address) != 0)
            cand[ncand++] = &s.w[i];
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
    it_rc_job_t before, after;
    IT_CHECK(t, it_rc_start(t, &s), "a master and %d workers running the job", IT_RC_WORKERS);
    IT_CHECK(t, it_rc_wait_job(t, &s, it_rc_placed, NULL, IT_DEADLINE_MS, &before),
             "the receiver is placed");
    it_worker_t *victim = it_rc_worker_at(&s, before.address);
    IT_CHECK(t, victim != NULL, "the receiver is on %s, which is none of the workers",
             before.address);
    IT_CHECK(t, it_rc_start_producer(t, &s), "start the producer");
    IT_CHECK(t, it_rc_wait_acked(t, &s, IT_RC_KILL_AFTER, IT_RC_PRODUCER_MS),
             "%d ids acknowledged", IT_RC_KILL_AFTER);
    IT_CHECK(t, it_proc_kill9(t, victim->proc), "kill -9 %s (the receiver's worker)",
             victim->proc->name);
    IT_CHECK(t, it_rc_wait_job(t, &s, it_rc_moved, &before, IT_DEADLINE_MS, &after),
             "the receiver moves off %s", before.address);
    IT_CHECK(t, it_rc_worker_at(&s, after.address) != NULL,
             "the receiver moved to %s, which is none of the workers", after.address);
    /* The producer carries on by itself: the library finds the receiver
     * again and re-sends what was not acknowledged. */
    it_rc_finish(t, &s, NULL, NULL);
}
