/* The failure scenarios' job, producer and exactly-once check. See
 * recovery.h. */
#include <dirent.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "recovery.h"

#define IT_RC_SHOW 5                    /* ids quoted in a failure */

/* A finished batch as `sluice batches --json` shows it. */
typedef struct {
    long long time;
    char state[32];
    long long input;
    long long attempts;
    char error[256];
} it_rc_batch_t;

/* What one output says: each id's total over all batches and, with a batch
 * list, each batch's total over all ids. */
typedef struct {
    const char *name;           /* for a failure: "sqlite output", a path */
    it_counts_t c;              /* the ids of the run: 1..c.ids */
    long long *per_batch;       /* indexed like the batch list; NULL: none */
} it_rc_tally_t;

static bool it_tally_sqlite(it_ctx_t *t, const char *db_path, const it_rc_batch_t *bs, size_t nb,
                            it_rc_tally_t *tl);
static size_t it_rc_list(char *buf, size_t len, const bool *which, unsigned ids);
static void it_rc_rows_of(const char *db_path, unsigned id, char *buf, size_t len);

/* --- any job of the kind, its producer and the exactly-once check -------------- */

void it_rc_job_text(char *out, const char *job, const char *texts, const char *db, bool wal)
{
    snprintf(out, IT_RC_JOB_TEXT,
             "job %s\n"
             "batch 1s\n"
             "%s"
             "ids = push(\"ids\", partitions = 2)\n"
             "counts = ids.map(pair_one).reduce_by_key(sum, partitions = 2)\n"
             "counts.save_as_text_files(\"@DIR@/%s\")\n"
             "counts.sqlite(\"@DIR@/%s\", \"counts\")\n",
             job, wal ? "wal on\n" : "", texts, db);
}

it_proc_t *it_producer_start(it_ctx_t *t, const it_producer_t *p)
{
    char count[16], rate[16], flush[16];
    snprintf(count, sizeof count, "%u", p->count);
    snprintf(rate, sizeof rate, "%u", p->rate);
    snprintf(flush, sizeof flush, "%u", p->flush_every);
    const char *args[24];
    size_t n = 0;
    args[n++] = "--master";
    args[n++] = p->master;
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
    it_arg_opt(args, &n, "--flush-every", p->flush_every ? flush : NULL);
    it_arg_opt(args, &n, "--give-up", p->give_up);
    it_arg_opt(args, &n, "--timeout", p->timeout);
    args[n] = NULL;
    return it_spawn(t, p->name ? p->name : "producer", "tests/producer", args);
}

size_t it_ack_log_count(const char *path)
{
    char *text = it_read_file(path, NULL);
    size_t n = it_count_lines(text);
    free(text);
    return n;
}

typedef struct {
    const char *path;
    size_t want, seen;
} it_ack_wait_t;

static bool it_ack_cond(void *arg)
{
    it_ack_wait_t *a = arg;
    a->seen = it_ack_log_count(a->path);
    return a->seen >= a->want;
}

bool it_ack_log_wait(it_ctx_t *t, const char *path, size_t n, int deadline_ms)
{
    it_ack_wait_t a = { path, n, 0 };
    if (it_wait_until(it_ack_cond, &a, deadline_ms))
        return true;
    it_note(t, "%s holds %zu acknowledged ids after %d ms, want %zu", path, a.seen, deadline_ms,
            n);
    return false;
}

bool it_ack_log_read(it_ctx_t *t, const char *path, bool *acked, unsigned ids, size_t *n)
{
    char *text = it_read_file(path, NULL);
    bool ok = true;
    *n = 0;
    for (char *line = text; ok && line && *line;) {
        char *nl = strchr(line, '\n');
        unsigned id;
        char end;
        if (sscanf(line, "id-%u%c", &id, &end) != 2 || end != '\n' || id < 1 || id > ids ||
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

char *it_ids_text(unsigned first, unsigned n, size_t *len)
{
    size_t cap = (size_t)n * 16 + 1, used = 0;
    char *text = malloc(cap);
    if (text)
        text[0] = '\0';
    for (unsigned i = 0; text && i < n; i++)
        used += (size_t)snprintf(text + used, cap - used, "id-%07u\n", first + i);
    if (len)
        *len = used;
    return text;
}

bool it_counts_read(it_ctx_t *t, const char *db_path, unsigned ids, it_counts_t *c)
{
    it_rc_tally_t tl = { db_path, { ids, calloc((size_t)ids + 1, sizeof(long long)), 0, 0 },
                         NULL };
    *c = tl.c;
    if (!tl.c.per_id) {
        it_note(t, "out of memory");
        return false;
    }
    bool ok = it_tally_sqlite(t, db_path, NULL, 0, &tl);
    for (unsigned id = 1; id <= ids; id++)
        tl.c.counted += tl.c.per_id[id] > 0;
    *c = tl.c;
    return ok;
}

void it_counts_free(it_counts_t *c)
{
    free(c->per_id);
    c->per_id = NULL;
}

bool it_counts_once(it_ctx_t *t, const char *db_path, const it_counts_t *c, const bool *acked)
{
    const unsigned ids = c->ids;
    bool *bad = calloc((size_t)ids + 1, sizeof *bad);
    if (!bad) {
        it_note(t, "out of memory");
        return false;
    }
    char msg[IT_MSG_LEN];
    size_t n, nacked = 0;
    unsigned first_dup = 0;
    for (unsigned id = 1; id <= ids; id++) {
        bad[id] = c->per_id[id] > 1;
        if (bad[id] && !first_dup)
            first_dup = id;
        nacked += acked[id];
    }
    snprintf(msg, sizeof msg, "ids counted more than once:");
    bool ok = (n = it_rc_list(msg, sizeof msg, bad, ids)) == 0;
    if (!ok) {
        char rows[512];
        it_rc_rows_of(db_path, first_dup, rows, sizeof rows);
        it_note(t, "%s: %zu %s; id-%07u is in%s", db_path, n, msg, first_dup, rows);
    } else {
        for (unsigned id = 1; id <= ids; id++)
            bad[id] = acked[id] && c->per_id[id] == 0;
        snprintf(msg, sizeof msg, "acknowledged ids counted in no batch:");
        ok = (n = it_rc_list(msg, sizeof msg, bad, ids)) == 0;
        if (!ok)
            it_note(t, "%s: %zu of %zu %s", db_path, n, nacked, msg);
    }
    free(bad);
    return ok;
}

bool it_check_once(it_ctx_t *t, const char *db_path, const bool *acked, unsigned ids,
                   size_t *counted)
{
    it_counts_t c;
    bool ok = it_counts_read(t, db_path, ids, &c) && it_counts_once(t, db_path, &c, acked);
    if (counted && c.per_id)
        *counted = c.counted;
    it_counts_free(&c);
    return ok;
}

/* --- the cluster, the job, the producer --------------------------------------- */

/* The scenario's job: out/counts-<time>/ and out.db. */
static void it_rc_jobfile(char *out /* IT_RC_JOB_TEXT */)
{
    it_rc_job_text(out, IT_RC_JOB, "out/counts", "out.db", false);
}

void it_rc_init(it_ctx_t *t, it_rc_t *s, const it_rc_opts_t *o)
{
    memset(s, 0, sizeof *s);
    s->o = *o;
    if (o->cluster.cm) {
        s->cm = *o->cluster.cm;
        s->o.cluster.cm = &s->cm;
    }
    it_path(t, s->prefix, "out/counts");
    it_path(t, s->db, "out.db");
    it_path(t, s->ack_log, "acked.log");
}

bool it_rc_start(it_ctx_t *t, it_rc_t *s, const it_rc_opts_t *o)
{
    it_rc_init(t, s, o);
    return it_engine_start_with(t, &s->e, &s->o.cluster) && it_rc_submit_ok(t, s);
}

bool it_rc_submit(it_ctx_t *t, const it_rc_t *s, it_run_t *r)
{
    char path[IT_PATH_LEN], text[IT_RC_JOB_TEXT];
    it_rc_jobfile(text);
    return it_engine_write_job(t, "recovery.job", text, path) &&
           it_engine_submit_path(t, &s->e, path, r);
}

bool it_rc_submit_ok(it_ctx_t *t, const it_rc_t *s)
{
    char text[IT_RC_JOB_TEXT];
    it_rc_jobfile(text);
    return it_engine_submit(t, &s->e, "recovery.job", text, IT_RC_JOB);
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
    const it_producer_t p = { .master = s->e.m.listen, .job = IT_RC_JOB, .count = s->o.count,
                              .rate = s->o.rate, .ack_log = s->ack_log,
                              .flush_every = s->o.flush_every, .timeout = s->o.timeout };
    s->producer = it_producer_start(t, &p);
    return s->producer != NULL;
}

bool it_rc_push(it_ctx_t *t, it_rc_t *s, unsigned n, bool *acked)
{
    *acked = false;
    if (n == 0 || s->extra_pushed + n > s->o.extra) {
        it_note(t, "it_rc_push: %u more ids asked for, %u of %u used", n, s->extra_pushed,
                s->o.extra);
        return false;
    }
    size_t used;
    unsigned first = s->o.count + s->extra_pushed + 1;
    char *lines = it_ids_text(first, n, &used), path[IT_PATH_LEN], name[64];
    if (!lines) {
        it_note(t, "out of memory");
        return false;
    }
    snprintf(name, sizeof name, "push-%07u.txt", first);
    it_path(t, path, name);
    bool ok = it_write_file(t, path, lines, 0644);
    it_run_t r;
    const char *const args[] = { "--master", s->e.m.listen, "--timeout", "10s", "push",
                                 IT_RC_JOB, "ids", path, NULL };
    if (ok && (ok = it_run(t, &r, NULL, IT_ENGINE_CLI_MS, "sluice", args))) {
        char want[64];
        snprintf(want, sizeof want, "%u records acknowledged\n", n);
        *acked = r.exit_code == 0 && !strcmp(r.out, want);
        if (!*acked)
            it_note(t, "sluice push of ids %u-%u: %s %d, stdout '%.100s', stderr '%.300s'", first,
                    first + n - 1, r.timed_out ? "timed out," : "exit", r.exit_code, r.out, r.err);
        it_run_free(&r);
    }
    if (ok) {
        s->extra_pushed += n;
        if (!*acked) {
            s->extra_unacked += n;
        } else {
            /* One append: the producer appends its lines to the same log. */
            int fd = open(s->ack_log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
            ok = fd >= 0 && it_send_all(fd, lines, used);
            if (fd >= 0)
                close(fd);
            if (!ok)
                it_note(t, "cannot append to %s", s->ack_log);
        }
    }
    free(lines);
    return ok;
}

size_t it_rc_acked(const it_rc_t *s)
{
    return it_ack_log_count(s->ack_log);
}

bool it_rc_wait_acked(it_ctx_t *t, const it_rc_t *s, size_t n, int deadline_ms)
{
    return it_ack_log_wait(t, s->ack_log, n, deadline_ms);
}

/* --- the checks after the run ------------------------------------------------------ */

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

/* A row of the checkpoint's batches table. */
typedef struct {
    long long time;
    int state;                  /* 0 allocated, 1 done, 2 failed */
    long long records;
} it_rc_ckrow_t;

/* The job's rows of the checkpoint's batches table, by time; NULL with a
 * note when it cannot be read (no row is not an error). Caller frees. */
static it_rc_ckrow_t *it_rc_read_ckpt(it_ctx_t *t, const it_rc_t *s, size_t *n /* OUT */)
{
    char path[IT_PATH_LEN + 16];
    it_lines_t rows = { 0 };
    *n = 0;
    snprintf(path, sizeof path, "%s/sluice.db", s->o.cluster.cm->checkpoint_dir);
    if (!it_sqlite_query(t, path, "SELECT time, state, records FROM batches WHERE job = '"
                         IT_RC_JOB "' ORDER BY time", &rows)) {
        it_lines_free(&rows);
        return NULL;
    }
    it_rc_ckrow_t *ck = calloc(rows.n + 1, sizeof *ck);
    for (size_t i = 0; ck && i < rows.n; i++) {
        if (sscanf(rows.v[i], "%lld|%d|%lld", &ck[i].time, &ck[i].state, &ck[i].records) != 3) {
            it_note(t, "%s: batches row '%s' is not time|state|records", path, rows.v[i]);
            free(ck);
            ck = NULL;
        }
    }
    if (ck)
        *n = rows.n;
    else if (!t->note[0])
        it_note(t, "out of memory");
    it_lines_free(&rows);
    return ck;
}

/* The batch list: every batch from the first to the last done, none
 * missing, the last at least `need`. False after failing the test. */
static bool it_rc_check_list(it_ctx_t *t, const it_rc_batch_t *bs, size_t nb, long long need)
{
    if (nb == 0) {
        it_fail_at(t, __FILE__, __LINE__, "the job ran no batch");
        return false;
    }
    if (bs[nb - 1].time < need) {
        it_fail_at(t, __FILE__, __LINE__, "the last batch is %lld, want at least %lld",
                   bs[nb - 1].time, need);
        return false;
    }
    for (size_t i = 0; i < nb; i++) {
        if (strcmp(bs[i].state, "done") != 0) {
            it_fail_at(t, __FILE__, __LINE__, "batch %lld is %s after %lld attempt(s): %s",
                       bs[i].time, bs[i].state, bs[i].attempts, bs[i].error);
            return false;
        }
        if (bs[i].time % IT_RC_BATCH_MS != 0) {
            it_fail_at(t, __FILE__, __LINE__, "batch time %lld is not a multiple of %d",
                       bs[i].time, IT_RC_BATCH_MS);
            return false;
        }
        if (i > 0 && bs[i].time != bs[i - 1].time + IT_RC_BATCH_MS) {
            if (bs[i].time <= bs[i - 1].time)
                it_fail_at(t, __FILE__, __LINE__, "batch %lld follows batch %lld: listed twice "
                           "or out of order", bs[i].time, bs[i - 1].time);
            else
                it_fail_at(t, __FILE__, __LINE__, "batch %lld follows batch %lld: %lld batch "
                           "time(s) missing", bs[i].time, bs[i - 1].time,
                           (bs[i].time - bs[i - 1].time) / IT_RC_BATCH_MS - 1);
            return false;
        }
    }
    return true;
}

/* The checkpoint's batches (read just before the stop) against the batch
 * list (read after it): the same first batch, consecutive times, none
 * failed, all finished up to `need` (later ones, cut by the wall clock
 * meanwhile, may still be allocated, and only after every finished one),
 * and each finished one done in the list with the same input count. */
static void it_rc_check_ckpt(it_ctx_t *t, it_rc_t *s, const it_rc_ckrow_t *ck, size_t nck,
                             const it_rc_batch_t *bs, size_t nb, long long need)
{
    s->ckpt_batches = nck;
    if (nck == 0 || ck[0].time != bs[0].time) {
        it_fail_at(t, __FILE__, __LINE__, "the checkpoint's first batch of the job is %lld, the "
                   "batch list's %lld", nck ? ck[0].time : -1, bs[0].time);
        return;
    }
    if (ck[nck - 1].time < need) {
        it_fail_at(t, __FILE__, __LINE__, "the checkpoint's last batch is %lld, but batch %lld "
                   "was over", ck[nck - 1].time, need);
        return;
    }
    for (size_t i = 0; i < nck; i++) {
        const it_rc_ckrow_t *r = &ck[i];
        if (i > 0 && r->time != ck[i - 1].time + IT_RC_BATCH_MS) {
            it_fail_at(t, __FILE__, __LINE__, "checkpoint: batch %lld follows batch %lld (want "
                       "consecutive times, %d ms apart)", r->time, ck[i - 1].time, IT_RC_BATCH_MS);
            return;
        }
        if (r->state != 0 && r->state != 1) {
            it_fail_at(t, __FILE__, __LINE__, "checkpoint: batch %lld has state %d (want 1, "
                       "done)", r->time, r->state);
            return;
        }
        if (r->state == 0 && (r->time <= need || s->o.cluster.manual_clock)) {
            it_fail_at(t, __FILE__, __LINE__, "checkpoint: batch %lld is still allocated "
                       "(state 0) though batch %lld is over", r->time, need);
            return;
        }
        if (r->state == 1 && i > 0 && ck[i - 1].state == 0) {
            it_fail_at(t, __FILE__, __LINE__, "checkpoint: batch %lld finished before batch "
                       "%lld", r->time, ck[i - 1].time);
            return;
        }
        if (r->state != 1)
            continue;
        long long bi = (r->time - bs[0].time) / IT_RC_BATCH_MS;
        if (bi < 0 || (size_t)bi >= nb || bs[bi].time != r->time ||
            bs[bi].input != r->records) {
            it_fail_at(t, __FILE__, __LINE__, "checkpoint: batch %lld done with %lld records, "
                       "but the batch list has %s %lld input records", r->time, r->records,
                       bi >= 0 && (size_t)bi < nb ? "it with" : "no such batch",
                       bi >= 0 && (size_t)bi < nb ? bs[bi].input : 0);
            return;
        }
    }
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
    it_rc_ckrow_t *ck = NULL;
    size_t nck = 0;
    if (s->o.cluster.cm && s->o.cluster.cm->checkpoint_dir[0]) {
        /* Before the stop, which deletes the job from the checkpoint. */
        ck = it_rc_read_ckpt(t, s, &nck);
        IT_CHECK(t, ck != NULL, "read the job's batches in the checkpoint before the stop");
    }
    bool stopped = it_engine_stop(t, &s->e, IT_RC_JOB);
    json_t *bl = stopped ? it_engine_batches(t, &s->e, IT_RC_JOB) : NULL;
    json_t *arr = json_object_get(bl, "batches");
    size_t nb = json_array_size(arr);
    it_rc_batch_t *bs = bl ? calloc(nb + 1, sizeof *bs) : NULL;
    if (!bs) {
        free(ck);
        json_decref(bl);
        IT_CHECK(t, stopped, "stop the job");
        IT_CHECK(t, bl != NULL, "sluice batches --json after the stop");
        IT_FAIL(t, "out of memory");
    }
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
    if (it_rc_check_list(t, bs, nb, need) && ck)
        it_rc_check_ckpt(t, s, ck, nck, bs, nb, need);
    free(ck);
}

/* Adds one "id<TAB>count" of batch bi; false with a note when it is not an
 * id of the run with a count of 1 or more. */
static bool it_rc_add(it_ctx_t *t, it_rc_tally_t *tl, size_t bi, long long time, const char *key,
                      long long value)
{
    unsigned id;
    char extra;
    if (sscanf(key, "id-%u%c", &id, &extra) != 1 || id < 1 || id > tl->c.ids || value < 1) {
        it_note(t, "%s of batch %lld holds '%s' = %lld, not an id of the run counted once or more",
                tl->name, time, key, value);
        return false;
    }
    tl->c.per_id[id] += value;
    tl->c.total += value;
    if (tl->per_batch)
        tl->per_batch[bi] += value;
    return true;
}

/* Adds the rows of table counts of db_path to tl. With a batch list (bs),
 * the job is over and each row's batch must be listed; without, the job
 * may still run: a missing file or table is nothing counted yet, and a
 * writer's lock is waited out. */
static bool it_tally_sqlite(it_ctx_t *t, const char *db_path, const it_rc_batch_t *bs, size_t nb,
                            it_rc_tally_t *tl)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *q = NULL;
    bool ok = false;
    struct stat sb;
    if (!bs && stat(db_path, &sb) != 0)
        return true;
    if (sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK ||
        (!bs && sqlite3_busy_timeout(db, 10000) != SQLITE_OK) ||
        sqlite3_prepare_v2(db, "SELECT batch_time, key, value FROM counts", -1, &q, NULL) !=
            SQLITE_OK) {
        /* A running job whose batches had no input yet has no table. */
        ok = !bs && db && strstr(sqlite3_errmsg(db), "no such table") != NULL;
        if (!ok)
            it_note(t, "cannot read table counts of %s: %s", db_path,
                    db ? sqlite3_errmsg(db) : "?");
        goto done;
    }
    int rc;
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        long long time = sqlite3_column_int64(q, 0);
        const char *key = (const char *)sqlite3_column_text(q, 1);
        long long bi = bs ? (time - bs[0].time) / IT_RC_BATCH_MS : 0;
        if (bs && (time < bs[0].time || (size_t)bi >= nb || bs[bi].time != time)) {
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
        it_note(t, "reading %s: %s", db_path, sqlite3_errmsg(db));
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

/* Appends up to IT_RC_SHOW ids of `which` to buf; returns how many there are. */
static size_t it_rc_list(char *buf, size_t len, const bool *which, unsigned ids)
{
    size_t n = 0, used = strlen(buf);
    for (unsigned id = 1; id <= ids; id++) {
        if (!which[id])
            continue;
        if (n++ < IT_RC_SHOW && used + 16 < len)
            used += (size_t)snprintf(buf + used, len - used, " id-%07u", id);
    }
    return n;
}

/* Where an id shows up in the sqlite output, for a failure message. */
static void it_rc_rows_of(const char *db_path, unsigned id, char *buf, size_t len)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *q = NULL;
    char key[16];
    size_t used = 0;
    buf[0] = '\0';
    snprintf(key, sizeof key, "id-%07u", id);
    if (sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
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
    const unsigned ids = s->o.count + s->extra_pushed;
    bool *acked = calloc(ids + 1, sizeof *acked);
    bool *bad = calloc(ids + 1, sizeof *bad);
    long long *pi = calloc(2 * ((size_t)ids + 1), sizeof *pi);
    long long *pb = calloc(2 * nb + 1, sizeof *pb);
    it_rc_tally_t sqt = { "sqlite output", { ids, pi, 0, 0 }, pb },
                  txt = { "text output", { ids, NULL, 0, 0 }, NULL };
    it_rc_tally_t *sq = &sqt, *tx = &txt;
    char msg[IT_MSG_LEN];
    size_t nacked = 0, n;
    if (!acked || !bad || !pi || !pb) {
        it_fail_at(t, __FILE__, __LINE__, "out of memory");
        goto done;
    }
    tx->c.per_id = pi + ids + 1;
    tx->per_batch = pb + nb;
    if (!it_ack_log_read(t, s->ack_log, acked, ids, &nacked) ||
        !it_tally_sqlite(t, s->db, bs, nb, sq) || !it_rc_tally_text(t, s, bs, nb, tx)) {
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
        bad[id] = sq->c.per_id[id] != tx->c.per_id[id];
    snprintf(msg, sizeof msg, "ids counted differently by the sqlite and the text output:");
    if ((n = it_rc_list(msg, sizeof msg, bad, ids)) != 0) {
        it_fail_at(t, __FILE__, __LINE__, "%zu %s", n, msg);
        goto done;
    }
    if (!it_counts_once(t, s->db, &sq->c, acked))
        it_fail_at(t, __FILE__, __LINE__, "each acknowledged id counted exactly once, the "
                   "others at most once");
    else if (nacked + s->extra_unacked != ids)
        it_fail_at(t, __FILE__, __LINE__, "the ack log has %zu ids, want %u", nacked,
                   ids - s->extra_unacked);
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

