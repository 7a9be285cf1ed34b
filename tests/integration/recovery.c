/* The failure scenarios' job, producer and exactly-once check. See
 * recovery.h. */
#include <dirent.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "recovery.h"

#define IT_RC_SHOW 5                    /* ids quoted in a failure */

static const char it_rc_jobfile[] =
    "job " IT_RC_JOB "\n"
    "batch 1s\n"
    "ids = push(\"ids\", partitions = 2)\n"
    "counts = ids.map(pair_one).reduce_by_key(sum, partitions = 2)\n"
    "counts.save_as_text_files(\"@DIR@/out/counts\")\n"
    "counts.sqlite(\"@DIR@/out.db\", \"counts\")\n";

/* A finished batch as `sluice batches --json` shows it. */
typedef struct {
    long long time;
    char state[32];
    long long input;
    long long attempts;
    char error[256];
} it_rc_batch_t;

/* --- the cluster, the job, the producer --------------------------------------- */

bool it_rc_start(it_ctx_t *t, it_rc_t *s, const it_rc_opts_t *o)
{
    memset(s, 0, sizeof *s);
    s->o = *o;
    if (!it_engine_start_with(t, &s->e, &o->cluster))
        return false;
    it_path(t, s->prefix, "out/counts");
    it_path(t, s->db, "out.db");
    it_path(t, s->ack_log, "acked.log");
    return it_engine_submit(t, &s->e, "recovery.job", it_rc_jobfile, IT_RC_JOB);
}

static bool it_rc_job(it_ctx_t *t, const it_rc_t *s, it_job_state_t *out /* OUT */)
{
    return it_engine_job_state(t, &s->e, IT_RC_JOB, out);
}

/* How long the producer may take: its stream, with room for a slow
 * machine and receiver moves. */
static int it_rc_producer_ms(const it_rc_t *s)
{
    return (int)(s->o.count / s->o.rate * 1000u + 90000u);
}

bool it_rc_start_producer(it_ctx_t *t, it_rc_t *s)
{
    char count[16], rate[16], flush[16];
    snprintf(count, sizeof count, "%u", s->o.count);
    snprintf(rate, sizeof rate, "%u", s->o.rate);
    snprintf(flush, sizeof flush, "%u", s->o.flush_every);
    const char *args[24];
    size_t n = 0;
    args[n++] = "--master";
    args[n++] = s->e.m.listen;
    args[n++] = "--job";
    args[n++] = IT_RC_JOB;
    args[n++] = "--stream";
    args[n++] = "ids";
    args[n++] = "--count";
    args[n++] = count;
    args[n++] = "--rate";
    args[n++] = rate;
    args[n++] = "--ack-log";
    args[n++] = s->ack_log;
    if (s->o.flush_every) {
        args[n++] = "--flush-every";
        args[n++] = flush;
    }
    if (s->o.timeout) {
        args[n++] = "--timeout";
        args[n++] = s->o.timeout;
    }
    args[n] = NULL;
    s->producer = it_spawn(t, "producer", "tests/producer", args);
    return s->producer != NULL;
}

typedef struct {
    const it_rc_t *s;
    size_t want, seen;
} it_rc_ack_wait_t;

size_t it_rc_acked(const it_rc_t *s)
{
    char *text = it_read_file(s->ack_log, NULL);
    size_t n = it_count_lines(text);
    free(text);
    return n;
}

static bool it_rc_acked_cond(void *arg)
{
    it_rc_ack_wait_t *a = arg;
    a->seen = it_rc_acked(a->s);
    return a->seen >= a->want;
}

bool it_rc_wait_acked(it_ctx_t *t, const it_rc_t *s, size_t n, int deadline_ms)
{
    it_rc_ack_wait_t a = { s, n, 0 };
    if (it_wait_until(it_rc_acked_cond, &a, deadline_ms))
        return true;
    it_note(t, "the producer logged %zu acknowledged ids after %d ms, want %zu", a.seen,
            deadline_ms, n);
    return false;
}

/* --- the checks after the run ------------------------------------------------------ */

/* The ids of the ack log as flags, acked[1..count]; false with a note
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
        if (sscanf(line, "id-%u%c", &id, &end) != 2 || end != '\n' || id < 1 ||
            id > s->o.count || acked[id]) {
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
    IT_CHECK(t, it_proc_wait_exit(t, s->producer, it_rc_producer_ms(s)),
             "the producer finishes its %u ids", s->o.count);
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

bool it_rc_wait_over(it_ctx_t *t, const it_rc_t *s, long long time, int deadline_ms)
{
    it_rc_over_wait_t o = { t, s, time, "" };
    if (it_wait_until(it_rc_over_cond, &o, deadline_ms))
        return true;
    it_note(t, "no batch from %lld on was over within %d ms; last: %.600s", time, deadline_ms,
            o.last);
    return false;
}

/* After the producer is done: waits until a batch cut after its last ack is
 * over (under the manual clock: ticks one), stops the job so that the batch
 * list stays put, and reads it. The batch cut first after the last ack (the
 * one after the latest batch now) holds every acknowledged block, because a
 * receiver acks a block only once it is stored and reports it at the next
 * cut. */
static void it_rc_settle(it_ctx_t *t, it_rc_t *s, it_rc_batch_t **out /* OUT */, size_t *n /* OUT */)
{
    *out = NULL;
    *n = 0;
    it_job_state_t j;
    IT_CHECK(t, it_rc_job(t, s, &j), "sluice jobs after the producer finished");
    long long need = j.last_batch + IT_RC_BATCH_MS;
    if (s->o.cluster.manual_clock) {
        int64_t time;
        IT_CHECK(t, it_engine_tick(t, &s->e, IT_RC_JOB, 1, &time),
                 "tick a batch after the last ack");
        need = time;
    }
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
    unsigned count;             /* the ids of the run: 1..count */
    long long *per_id;          /* count + 1 entries */
    long long *per_batch;       /* indexed like the batch list */
} it_rc_tally_t;

/* Adds one "id<TAB>count" of batch bi; false with a note when it is not an
 * id of the run with a count of 1 or more. */
static bool it_rc_add(it_ctx_t *t, it_rc_tally_t *tl, size_t bi, long long time, const char *key,
                      long long value)
{
    unsigned id;
    char extra;
    if (sscanf(key, "id-%u%c", &id, &extra) != 1 || id < 1 || id > tl->count ||
        value < 1) {
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
static void it_rc_list(char *buf, size_t len, const bool *which, unsigned ids,
                       size_t *count /* OUT */)
{
    size_t n = 0, used = strlen(buf);
    for (unsigned id = 1; id <= ids; id++) {
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
    const unsigned ids = s->o.count;
    bool *acked = calloc(ids + 1, sizeof *acked);
    bool *bad = calloc(ids + 1, sizeof *bad);
    long long *pi = calloc(2 * ((size_t)ids + 1), sizeof *pi);
    long long *pb = calloc(2 * nb + 1, sizeof *pb);
    it_rc_tally_t sqt = { "sqlite output", ids, pi, pb }, txt = { "text output", ids, NULL, NULL };
    it_rc_tally_t *sq = &sqt, *tx = &txt;
    char msg[IT_MSG_LEN];
    size_t nacked = 0, n;
    if (!acked || !bad || !pi || !pb) {
        it_fail_at(t, __FILE__, __LINE__, "out of memory");
        goto done;
    }
    tx->per_id = pi + ids + 1;
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
    for (unsigned id = 1; id <= ids; id++)
        bad[id] = sq->per_id[id] != tx->per_id[id];
    snprintf(msg, sizeof msg, "ids counted differently by the sqlite and the text output:");
    it_rc_list(msg, sizeof msg, bad, ids, &n);
    if (n) {
        it_fail_at(t, __FILE__, __LINE__, "%zu %s", n, msg);
        goto done;
    }
    unsigned first_dup = 0;
    for (unsigned id = 1; id <= ids; id++) {
        bad[id] = sq->per_id[id] > 1;
        if (bad[id] && !first_dup)
            first_dup = id;
    }
    snprintf(msg, sizeof msg, "ids counted more than once:");
    it_rc_list(msg, sizeof msg, bad, ids, &n);
    if (n) {
        char rows[512];
        it_rc_rows_of(s, first_dup, rows, sizeof rows);
        it_fail_at(t, __FILE__, __LINE__, "%zu %s; id-%07u is in%s", n, msg, first_dup, rows);
        goto done;
    }
    for (unsigned id = 1; id <= ids; id++)
        bad[id] = acked[id] && sq->per_id[id] == 0;
    snprintf(msg, sizeof msg, "acknowledged ids counted in no batch:");
    it_rc_list(msg, sizeof msg, bad, ids, &n);
    if (n)
        it_fail_at(t, __FILE__, __LINE__, "%zu of %zu %s", n, nacked, msg);
    else if (nacked != ids)
        it_fail_at(t, __FILE__, __LINE__, "the ack log has %zu ids, want %u", nacked, ids);
done:
    free(acked);
    free(bad);
    free(pi);
    free(pb);
}

void it_rc_finish(it_ctx_t *t, it_rc_t *s, const it_job_state_t *stay,
                  long long *max_attempts /* OUT */)
{
    it_rc_batch_t *bs = NULL;
    size_t nb = 0;
    it_job_state_t now;
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

