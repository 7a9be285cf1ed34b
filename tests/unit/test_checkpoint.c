/* Tests for master/checkpoint.c: creation and reopening, lease takeover and
 * fencing between two handles, the roundtrip of jobs, epochs, batches and
 * workers through sl_ckpt_load, damaged files refused untouched, and crashes
 * (SIGKILL from the crash hook) at every write statement in a forked child. */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "master/checkpoint.h"
#include "unit.h"

#define SL_OK_OR_FAIL(call, err) \
    do { sl_status_t st_ = (call); ck_assert_msg(st_ == SL_OK, "%s: %s", #call, (err)); } while (0)

/* --- helpers -------------------------------------------------------------------------------- */

/* A fresh directory under /tmp (dir has 64 bytes). */
static void sl_tmpdir(char *dir)
{
    snprintf(dir, 64, "/tmp/sluice-ckpt-XXXXXX");
    ck_assert_msg(mkdtemp(dir) != NULL, "mkdtemp: %s", strerror(errno));
}

/* Number of entries in dir besides . and .. */
static int sl_dir_entries(const char *dir)
{
    DIR *d = opendir(dir);
    int n = 0;
    ck_assert_ptr_nonnull(d);
    for (struct dirent *e; (e = readdir(d)) != NULL;)
        n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
    closedir(d);
    return n;
}

/* Removes dir and the files in it. */
static void sl_rmtree(const char *dir)
{
    DIR *d = opendir(dir);
    char path[512];
    ck_assert_ptr_nonnull(d);
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        unlink(path);
    }
    closedir(d);
    ck_assert_int_eq(rmdir(dir), 0);
}

static void sl_dbpath(char *path, const char *dir)
{
    snprintf(path, 128, "%s/%s", dir, SL_CKPT_FILE);
}

/* The whole file; the caller frees it. */
static uint8_t *sl_read_file(const char *path, size_t *len /* OUT */)
{
    FILE *f = fopen(path, "rb");
    ck_assert_ptr_nonnull(f);
    uint8_t *p = NULL;
    size_t n = 0, cap = 0, got;
    do {
        cap = cap ? cap * 2 : 65536;
        p = realloc(p, cap);
        ck_assert_ptr_nonnull(p);
        got = fread(p + n, 1, cap - n, f);
        n += got;
    } while (n == cap);
    fclose(f);
    *len = n;
    return p;
}

static void sl_write_file(const char *path, const uint8_t *p, size_t len)
{
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(p, 1, len, f), len);
    ck_assert_int_eq(fclose(f), 0);
}

/* Runs SQL on the file behind the module's back (to damage or inspect it). */
static void sl_raw_sql(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    ck_assert_int_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL),
                     SQLITE_OK);
    ck_assert_msg(sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK, "%s: %s", sql,
                  sqlite3_errmsg(db));
    sqlite3_close(db);
}

/* The first column of the first row of `sql`, as text. */
static void sl_raw_text(const char *path, const char *sql, char *out, size_t len)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *s = NULL;
    ck_assert_int_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    ck_assert_int_eq(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK);
    ck_assert_int_eq(sqlite3_step(s), SQLITE_ROW);
    snprintf(out, len, "%s", (const char *)sqlite3_column_text(s, 0));
    sqlite3_finalize(s);
    sqlite3_close(db);
}

/* The checkpoint as text, lease first, then what sl_ckpt_load visits. */
typedef struct {
    char s[8192];
    size_t n;
} sl_dump_t;

static void sl_dumpf(sl_dump_t *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sl_dumpf(sl_dump_t *d, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(d->s + d->n, sizeof d->s - d->n, fmt, ap);
    va_end(ap);
    ck_assert(n >= 0 && (size_t)n < sizeof d->s - d->n);
    d->n += (size_t)n;
}

static void sl_dump_job(void *arg, const char *job, const uint8_t *spec, size_t len,
                        int64_t submitted_ms)
{
    ck_assert_ptr_nonnull(spec);
    sl_dumpf(arg, "job %s '%.*s' %lld\n", job, (int)len, (const char *)spec,
             (long long)submitted_ms);
}

static void sl_dump_epoch(void *arg, const char *job, const char *stream, uint32_t epoch,
                          uint64_t seq, bool closed)
{
    sl_dumpf(arg, "epoch %s %s %u %llu %s\n", job, stream, epoch, (unsigned long long)seq,
             closed ? "closed" : "open");
}

static void sl_dump_producers(void *arg, const char *job, const char *stream,
                              const uint8_t *blob, size_t len)
{
    sl_dumpf(arg, "producers %s %s '%.*s'\n", job, stream, (int)len, (const char *)blob);
}

static void sl_dump_batch(void *arg, const char *job, int64_t time, sl_ckpt_batch_state_t state,
                          const uint8_t *alloc, size_t len, uint64_t records)
{
    if (alloc)
        sl_dumpf(arg, "batch %s %lld %d '%.*s' %llu\n", job, (long long)time, (int)state,
                 (int)len, (const char *)alloc, (unsigned long long)records);
    else
        sl_dumpf(arg, "batch %s %lld %d NULL %llu\n", job, (long long)time, (int)state,
                 (unsigned long long)records);
}

static void sl_dump_worker(void *arg, const char *id, const char *address, int64_t last_seen_ms)
{
    sl_dumpf(arg, "worker %s %s %lld\n", id, address, (long long)last_seen_ms);
}

static const sl_ckpt_visitor_t sl_dump_visitor = {
    .job = sl_dump_job, .epoch = sl_dump_epoch, .producers = sl_dump_producers,
    .batch = sl_dump_batch, .worker = sl_dump_worker,
};

static void sl_dump(sl_ckpt_t *c, sl_dump_t *d)
{
    char err[SL_ERRMSG_LEN] = "";
    sl_lease_t l;
    d->n = 0;
    d->s[0] = '\0';
    SL_OK_OR_FAIL(sl_ckpt_lease_get(c, &l, err), err);
    sl_dumpf(d, "lease %s %s %llu %lld\n", l.holder, l.address, (unsigned long long)l.epoch,
             (long long)l.expires_ms);
    SL_OK_OR_FAIL(sl_ckpt_load(c, &sl_dump_visitor, d, err), err);
}

/* Fails unless the checkpoint reads back exactly as `want`. */
#define SL_CK_DUMP(c, want)                                                               \
    do {                                                                                 \
        sl_dump_t d_;                                                                    \
        sl_dump((c), &d_);                                                               \
        ck_assert_msg(strcmp(d_.s, (want)) == 0, "got:\n%s\nwant:\n%s", d_.s, (want));   \
    } while (0)

/* Opens dir's checkpoint and takes the lease as `holder` at now_ms for 10 s. */
static sl_ckpt_t *sl_open_leader(const char *dir, const char *holder, int64_t now_ms)
{
    char err[SL_ERRMSG_LEN] = "";
    sl_ckpt_t *c = NULL;
    sl_lease_t l;
    SL_OK_OR_FAIL(sl_ckpt_open(dir, &c, err), err);
    SL_OK_OR_FAIL(sl_ckpt_lease_acquire(c, holder, "host:1", now_ms, 10000, &l, err), err);
    return c;
}

/* --- creation ------------------------------------------------------------------------------- */

START_TEST(test_create_reopen)
{
    char dir[64], path[128], text[64], err[SL_ERRMSG_LEN] = "";
    sl_ckpt_t *c = NULL;
    sl_lease_t l;
    struct stat sb;
    sl_tmpdir(dir);
    sl_dbpath(path, dir);
    SL_OK_OR_FAIL(sl_ckpt_open(dir, &c, err), err);
    ck_assert_str_eq(sl_ckpt_path(c), path);
    ck_assert_int_eq(stat(path, &sb), 0);
    ck_assert_int_gt(sb.st_size, 0);
    ck_assert_int_eq(sl_dir_entries(dir), 1);   /* no temporary file, no journal left */
    ck_assert_uint_eq(sl_ckpt_epoch(c), 0);
    SL_OK_OR_FAIL(sl_ckpt_lease_get(c, &l, err), err);
    ck_assert_uint_eq(l.epoch, 0);
    ck_assert_int_eq(l.expires_ms, 0);
    ck_assert_str_eq(l.holder, "");
    SL_CK_DUMP(c, "lease   0 0\n");
    sl_ckpt_close(c);

    sl_raw_text(path, "PRAGMA journal_mode", text, sizeof text);
    ck_assert_str_eq(text, "delete");
    sl_raw_text(path, "SELECT schema_version || ' ' || next_epoch FROM meta", text, sizeof text);
    ck_assert_str_eq(text, "1 1");

    c = NULL;
    SL_OK_OR_FAIL(sl_ckpt_open(dir, &c, err), err);
    SL_CK_DUMP(c, "lease   0 0\n");
    sl_ckpt_close(c);
    sl_ckpt_close(NULL);
    ck_assert_int_eq(sl_dir_entries(dir), 1);
    sl_rmtree(dir);

    /* The directory must exist: the master creates it, not this module. */
    c = (sl_ckpt_t *)&c;
    ck_assert_int_eq(sl_ckpt_open(dir, &c, err), SL_ERR_IO);
    ck_assert_ptr_null(c);
    SL_CK_CONTAINS(err, path);
}
END_TEST

/* --- lease ------------------------------------------------------------------------------------ */

START_TEST(test_lease_takeover)
{
    char dir[64], err[SL_ERRMSG_LEN] = "";
    sl_ckpt_t *a = NULL, *b = NULL;
    sl_lease_t l;
    sl_tmpdir(dir);
    SL_OK_OR_FAIL(sl_ckpt_open(dir, &a, err), err);
    SL_OK_OR_FAIL(sl_ckpt_open(dir, &b, err), err);

    SL_OK_OR_FAIL(sl_ckpt_lease_acquire(a, "m1", "host1:7000", 1000, 5000, &l, err), err);
    ck_assert_uint_eq(l.epoch, 1);
    ck_assert_int_eq(l.expires_ms, 6000);
    ck_assert_str_eq(l.holder, "m1");
    ck_assert_str_eq(l.address, "host1:7000");
    ck_assert_uint_eq(sl_ckpt_epoch(a), 1);

    /* While a's lease is valid nobody else gets it, a itself neither. */
    ck_assert_int_eq(sl_ckpt_lease_acquire(b, "m2", "host2:7000", 2000, 5000, &l, err),
                     SL_ERR_UNAVAILABLE);
    ck_assert_str_eq(l.holder, "m1");
    ck_assert_str_eq(l.address, "host1:7000");
    ck_assert_uint_eq(l.epoch, 1);
    ck_assert_int_eq(l.expires_ms, 6000);
    SL_CK_CONTAINS(err, "m1");
    SL_CK_CONTAINS(err, sl_ckpt_path(b));
    ck_assert_uint_eq(sl_ckpt_epoch(b), 0);
    ck_assert_int_eq(sl_ckpt_job_put(b, "j", (const uint8_t *)"x", 1, 1, err), SL_ERR_FENCED);
    SL_CK_CONTAINS(err, "no lease held");
    ck_assert_int_eq(sl_ckpt_lease_renew(b, 2000, 5000, err), SL_ERR_FENCED);

    SL_OK_OR_FAIL(sl_ckpt_lease_renew(a, 4000, 5000, err), err);
    SL_OK_OR_FAIL(sl_ckpt_lease_get(b, &l, err), err);
    ck_assert_int_eq(l.expires_ms, 9000);
    ck_assert_int_eq(sl_ckpt_lease_acquire(b, "m2", "host2:7000", 8999, 5000, &l, err),
                     SL_ERR_UNAVAILABLE);
    ck_assert_int_eq(sl_ckpt_lease_acquire(a, "m1", "host1:7000", 8000, 5000, &l, err),
                     SL_ERR_UNAVAILABLE);

    /* At expiry b takes over with the next epoch; a is fenced. */
    SL_OK_OR_FAIL(sl_ckpt_lease_acquire(b, "m2", "host2:7000", 9000, 5000, &l, err), err);
    ck_assert_uint_eq(l.epoch, 2);
    ck_assert_int_eq(l.expires_ms, 14000);
    ck_assert_uint_eq(sl_ckpt_epoch(b), 2);
    ck_assert_int_eq(sl_ckpt_lease_renew(a, 9100, 5000, err), SL_ERR_FENCED);
    SL_CK_CONTAINS(err, "the lease is at epoch 2 (held by m2 at host2:7000)");
    SL_CK_CONTAINS(err, "this master had epoch 1");
    SL_CK_CONTAINS(err, sl_ckpt_path(a));
    ck_assert_int_eq(sl_ckpt_lease_release(a, err), SL_ERR_FENCED);
    SL_OK_OR_FAIL(sl_ckpt_lease_get(a, &l, err), err);
    ck_assert_str_eq(l.holder, "m2");
    ck_assert_uint_eq(l.epoch, 2);
    ck_assert_int_eq(l.expires_ms, 14000);

    /* A release keeps holder and epoch, expires at once, and leaves b with
     * no lease to write under. */
    SL_OK_OR_FAIL(sl_ckpt_lease_release(b, err), err);
    SL_OK_OR_FAIL(sl_ckpt_lease_get(b, &l, err), err);
    ck_assert_str_eq(l.holder, "m2");
    ck_assert_uint_eq(l.epoch, 2);
    ck_assert_int_eq(l.expires_ms, 0);
    ck_assert_uint_eq(sl_ckpt_epoch(b), 0);
    ck_assert_int_eq(sl_ckpt_worker_seen(b, "w", "h:1", 1, err), SL_ERR_FENCED);
    SL_CK_CONTAINS(err, "no lease held");

    /* Re-acquiring, even by the same holder, always takes a new epoch. */
    SL_OK_OR_FAIL(sl_ckpt_lease_acquire(b, "m2", "host2:7000", 9500, 5000, &l, err), err);
    ck_assert_uint_eq(l.epoch, 3);
    SL_OK_OR_FAIL(sl_ckpt_lease_acquire(b, "m2", "host2:7000", 14500, 5000, &l, err), err);
    ck_assert_uint_eq(l.epoch, 4);
    ck_assert_int_eq(sl_ckpt_worker_seen(a, "w", "h:1", 1, err), SL_ERR_FENCED);
    SL_CK_CONTAINS(err, "the lease is at epoch 4");

    ck_assert_int_eq(sl_ckpt_lease_acquire(a, NULL, "h", 20000, 5000, &l, err), SL_ERR_INVALID);
    ck_assert_int_eq(sl_ckpt_lease_acquire(a, "m1", "h", 20000, UINT64_MAX, &l, err),
                     SL_ERR_INVALID);
    sl_ckpt_close(a);
    sl_ckpt_close(b);
    sl_rmtree(dir);
}
END_TEST

/* A replaced master's every write is refused and changes nothing. */
START_TEST(test_fenced_writes_change_nothing)
{
    char dir[64], err[SL_ERRMSG_LEN] = "";
    sl_ckpt_t *a, *b;
    sl_lease_t l;
    sl_dump_t before, after;
    uint32_t e = 0;
    const sl_ckpt_epoch_t ep = { "s", 1, 5, false };
    const sl_ckpt_producers_t pr = { "s", (const uint8_t *)"P", 1 };
    sl_tmpdir(dir);
    a = sl_open_leader(dir, "m1", 0);
    SL_OK_OR_FAIL(sl_ckpt_job_put(a, "j", (const uint8_t *)"spec", 4, 1, err), err);
    SL_OK_OR_FAIL(sl_ckpt_epoch_new(a, "j", "s", &e, err), err);
    SL_OK_OR_FAIL(sl_ckpt_batch_allocate(a, "j", 10, (const uint8_t *)"A", 1, &ep, 1, &pr, 1,
                                         err), err);
    SL_OK_OR_FAIL(sl_ckpt_worker_seen(a, "w1", "h:1", 4, err), err);
    SL_OK_OR_FAIL(sl_ckpt_open(dir, &b, err), err);
    SL_OK_OR_FAIL(sl_ckpt_lease_acquire(b, "m2", "host2:1", 10000, 10000, &l, err), err);
    sl_dump(b, &before);

    sl_status_t got[] = {
        sl_ckpt_job_put(a, "k", (const uint8_t *)"x", 1, 2, err),
        sl_ckpt_job_delete(a, "j", err),
        sl_ckpt_epoch_new(a, "j", "s", &e, err),
        sl_ckpt_batch_allocate(a, "j", 20, (const uint8_t *)"B", 1, &ep, 1, &pr, 1, err),
        sl_ckpt_batch_finish(a, "j", 10, SL_CKPT_DONE, 3, 0, err),
        sl_ckpt_worker_seen(a, "w", "h:1", 5, err),
        sl_ckpt_worker_forget(a, "w1", err),
        sl_ckpt_lease_renew(a, 10001, 10000, err),
        sl_ckpt_lease_release(a, err),
    };
    for (size_t i = 0; i < sizeof got / sizeof *got; i++)
        ck_assert_msg(got[i] == SL_ERR_FENCED, "write %zu: %s", i, sl_strerror(got[i]));
    SL_CK_CONTAINS(err, "the lease is at epoch 2 (held by m2 at host2:1), this master had epoch 1");
    sl_dump(b, &after);
    ck_assert_str_eq(after.s, before.s);
    ck_assert_uint_eq(e, 1);
    sl_ckpt_close(a);
    sl_ckpt_close(b);
    sl_rmtree(dir);
}
END_TEST

/* --- roundtrips ------------------------------------------------------------------------------- */

START_TEST(test_jobs_roundtrip)
{
    char dir[64], err[SL_ERRMSG_LEN] = "";
    uint32_t e = 0;
    const sl_ckpt_epoch_t ep = { "s", 1, 7, false };
    const sl_ckpt_producers_t pr = { "s", (const uint8_t *)"P", 1 };
    sl_tmpdir(dir);
    sl_ckpt_t *c = sl_open_leader(dir, "m1", 0);
    SL_OK_OR_FAIL(sl_ckpt_job_put(c, "j1", (const uint8_t *)"one", 3, 100, err), err);
    SL_OK_OR_FAIL(sl_ckpt_job_put(c, "j2", (const uint8_t *)"two", 3, 200, err), err);
    SL_OK_OR_FAIL(sl_ckpt_job_put(c, "j0", (const uint8_t *)"zero", 4, 300, err), err);
    SL_OK_OR_FAIL(sl_ckpt_job_put(c, "j1", (const uint8_t *)"ONE!", 4, 400, err), err);
    SL_OK_OR_FAIL(sl_ckpt_job_put(c, "j3", NULL, 0, 500, err), err);   /* an empty spec */
    SL_OK_OR_FAIL(sl_ckpt_epoch_new(c, "j2", "s", &e, err), err);
    SL_OK_OR_FAIL(sl_ckpt_epoch_new(c, "j1", "s", &e, err), err);
    SL_OK_OR_FAIL(sl_ckpt_batch_allocate(c, "j2", 1, (const uint8_t *)"A", 1, &ep, 1, &pr, 1,
                                         err), err);
    SL_OK_OR_FAIL(sl_ckpt_batch_allocate(c, "j1", 1, (const uint8_t *)"B", 1, NULL, 0, &pr, 1,
                                         err), err);
    SL_OK_OR_FAIL(sl_ckpt_worker_seen(c, "w2", "h2:1", 10, err), err);
    SL_OK_OR_FAIL(sl_ckpt_worker_seen(c, "w1", "h1:1", 11, err), err);
    SL_OK_OR_FAIL(sl_ckpt_worker_seen(c, "w1", "h1:2", 12, err), err);
    SL_OK_OR_FAIL(sl_ckpt_worker_seen(c, "w3", "h3:1", 13, err), err);
    SL_OK_OR_FAIL(sl_ckpt_worker_forget(c, "w3", err), err);
    SL_OK_OR_FAIL(sl_ckpt_worker_forget(c, "w9", err), err);   /* never seen: fine */
    ck_assert_int_eq(sl_ckpt_worker_forget(c, "", err), SL_ERR_INVALID);
    ck_assert_int_eq(sl_ckpt_job_put(c, "", (const uint8_t *)"x", 1, 1, err), SL_ERR_INVALID);
    ck_assert_int_eq(sl_ckpt_job_put(c, "j", NULL, 1, 1, err), SL_ERR_INVALID);
    /* Jobs in submission order (a replaced job keeps its place). */
    SL_CK_DUMP(c, "lease m1 host:1 1 10000\n"
                  "job j1 'ONE!' 400\n"
                  "job j2 'two' 200\n"
                  "job j0 'zero' 300\n"
                  "job j3 '' 500\n"
                  "epoch j1 s 2 0 open\n"
                  "epoch j2 s 1 7 open\n"
                  "producers j1 s 'P'\n"
                  "producers j2 s 'P'\n"
                  "batch j1 1 0 'B' 0\n"
                  "batch j2 1 0 'A' 0\n"
                  "worker w1 h1:2 12\n"
                  "worker w2 h2:1 10\n");

    SL_OK_OR_FAIL(sl_ckpt_job_delete(c, "j2", err), err);
    SL_OK_OR_FAIL(sl_ckpt_job_delete(c, "j2", err), err);   /* gone already: fine */
    SL_OK_OR_FAIL(sl_ckpt_job_put(c, "j2", (const uint8_t *)"again", 5, 600, err), err);
    const char *want = "lease m1 host:1 1 10000\n"
                       "job j1 'ONE!' 400\n"
                       "job j0 'zero' 300\n"
                       "job j3 '' 500\n"
                       "job j2 'again' 600\n"
                       "epoch j1 s 2 0 open\n"
                       "producers j1 s 'P'\n"
                       "batch j1 1 0 'B' 0\n"
                       "worker w1 h1:2 12\n"
                       "worker w2 h2:1 10\n";
    SL_CK_DUMP(c, want);
    sl_ckpt_close(c);
    c = NULL;
    SL_OK_OR_FAIL(sl_ckpt_open(dir, &c, err), err);
    SL_CK_DUMP(c, want);
    sl_ckpt_close(c);
    sl_rmtree(dir);
}
END_TEST

START_TEST(test_epoch_new_monotonic)
{
    char dir[64], path[128], err[SL_ERRMSG_LEN] = "";
    uint32_t e = 0;
    sl_ckpt_t *c, *d;
    sl_tmpdir(dir);
    sl_dbpath(path, dir);
    c = sl_open_leader(dir, "m1", 0);
    SL_OK_OR_FAIL(sl_ckpt_epoch_new(c, "j", "s2", &e, err), err);
    ck_assert_uint_eq(e, 1);
    SL_OK_OR_FAIL(sl_ckpt_epoch_new(c, "j", "s1", &e, err), err);
    ck_assert_uint_eq(e, 2);
    SL_OK_OR_FAIL(sl_ckpt_epoch_new(c, "i", "s9", &e, err), err);
    ck_assert_uint_eq(e, 3);
    SL_CK_DUMP(c, "lease m1 host:1 1 10000\n"
                  "epoch i s9 3 0 open\n"
                  "epoch j s1 2 0 open\n"
                  "epoch j s2 1 0 open\n");
    SL_OK_OR_FAIL(sl_ckpt_lease_release(c, err), err);

    /* Another handle on the same file continues the sequence... */
    d = sl_open_leader(dir, "m2", 1);
    SL_OK_OR_FAIL(sl_ckpt_epoch_new(d, "j", "s1", &e, err), err);
    ck_assert_uint_eq(e, 4);
    SL_OK_OR_FAIL(sl_ckpt_lease_release(d, err), err);
    sl_ckpt_close(d);
    sl_ckpt_close(c);
    /* ...and so does a reopened one. */
    c = sl_open_leader(dir, "m1", 2);
    SL_OK_OR_FAIL(sl_ckpt_epoch_new(c, "j", "s1", &e, err), err);
    ck_assert_uint_eq(e, 5);
    sl_ckpt_close(c);

    /* Epochs have 24 bits: the last one is handed out, then none. */
    sl_raw_sql(path, "UPDATE meta SET next_epoch = 16777215");
    c = sl_open_leader(dir, "m1", 20000);
    SL_OK_OR_FAIL(sl_ckpt_epoch_new(c, "k", "s", &e, err), err);
    ck_assert_uint_eq(e, 0xFFFFFF);
    sl_dump_t before;
    sl_dump(c, &before);
    e = 0;
    ck_assert_int_eq(sl_ckpt_epoch_new(c, "k", "t", &e, err), SL_ERR_INTERNAL);
    SL_CK_CONTAINS(err, "exhausted");
    ck_assert_uint_eq(e, 0);
    SL_CK_DUMP(c, before.s);
    sl_ckpt_close(c);
    sl_rmtree(dir);
}
END_TEST

START_TEST(test_batches)
{
    char dir[64], err[SL_ERRMSG_LEN] = "";
    sl_tmpdir(dir);
    sl_ckpt_t *c = sl_open_leader(dir, "m1", 0);
    const sl_ckpt_epoch_t ep1[] = { { "s", 1, 5, false }, { "t", 2, 3, false } };
    const sl_ckpt_epoch_t ep2[] = { { "s", 1, 9, true }, { "s", 3, 1, false } };
    const sl_ckpt_epoch_t bad[] = { { "s", 1, 99, false } };
    const sl_ckpt_producers_t p1 = { "s", (const uint8_t *)"P1", 2 };
    const sl_ckpt_producers_t p2 = { "s", (const uint8_t *)"P2", 2 };
    const sl_ckpt_producers_t p3 = { "t", (const uint8_t *)"T", 1 };
    const sl_ckpt_producers_t pbad = { "s", (const uint8_t *)"BAD", 3 };

    SL_OK_OR_FAIL(sl_ckpt_batch_allocate(c, "b", 300, (const uint8_t *)"A300", 4, ep1, 2, &p1,
                                         1, err), err);
    SL_OK_OR_FAIL(sl_ckpt_batch_allocate(c, "b", 100, (const uint8_t *)"A100", 4, NULL, 0, NULL,
                                         0, err), err);
    SL_OK_OR_FAIL(sl_ckpt_batch_allocate(c, "a", 200, NULL, 0, NULL, 0, &p3, 1, err), err);
    SL_OK_OR_FAIL(sl_ckpt_batch_allocate(c, "b", 200, (const uint8_t *)"A200", 4, ep2, 2, &p2,
                                         1, err), err);
    const char *want = "lease m1 host:1 1 10000\n"
                       "epoch b s 1 9 closed\n"
                       "epoch b s 3 1 open\n"
                       "epoch b t 2 3 open\n"
                       "producers a t 'T'\n"
                       "producers b s 'P2'\n"
                       "batch a 200 0 '' 0\n"
                       "batch b 100 0 'A100' 0\n"
                       "batch b 200 0 'A200' 0\n"
                       "batch b 300 0 'A300' 0\n";
    SL_CK_DUMP(c, want);

    /* A batch time is allocated once; the refused call changes nothing. */
    ck_assert_int_eq(sl_ckpt_batch_allocate(c, "b", 100, (const uint8_t *)"X", 1, bad, 1, &pbad,
                                            1, err), SL_ERR_EXISTS);
    SL_CK_CONTAINS(err, "batch 100 of job 'b' is already stored");
    SL_CK_CONTAINS(err, sl_ckpt_path(c));
    SL_CK_DUMP(c, want);

    /* Finished batches lose their allocation; only the newest `keep` stay. */
    SL_OK_OR_FAIL(sl_ckpt_batch_finish(c, "b", 100, SL_CKPT_DONE, 10, 2, err), err);
    SL_OK_OR_FAIL(sl_ckpt_batch_finish(c, "b", 300, SL_CKPT_FAILED, 30, 2, err), err);
    SL_CK_DUMP(c, "lease m1 host:1 1 10000\n"
                  "epoch b s 1 9 closed\n"
                  "epoch b s 3 1 open\n"
                  "epoch b t 2 3 open\n"
                  "producers a t 'T'\n"
                  "producers b s 'P2'\n"
                  "batch a 200 0 '' 0\n"
                  "batch b 100 1 NULL 10\n"
                  "batch b 200 0 'A200' 0\n"
                  "batch b 300 2 NULL 30\n");
    SL_OK_OR_FAIL(sl_ckpt_batch_finish(c, "b", 200, SL_CKPT_DONE, 20, 2, err), err);
    SL_OK_OR_FAIL(sl_ckpt_batch_allocate(c, "b", 400, (const uint8_t *)"A400", 4, NULL, 0, NULL,
                                         0, err), err);
    SL_CK_DUMP(c, "lease m1 host:1 1 10000\n"
                  "epoch b s 1 9 closed\n"
                  "epoch b s 3 1 open\n"
                  "epoch b t 2 3 open\n"
                  "producers a t 'T'\n"
                  "producers b s 'P2'\n"
                  "batch a 200 0 '' 0\n"
                  "batch b 200 1 NULL 20\n"
                  "batch b 300 2 NULL 30\n"
                  "batch b 400 0 'A400' 0\n");
    /* keep 0: every finished batch of b goes, allocated ones and other jobs stay. */
    SL_OK_OR_FAIL(sl_ckpt_batch_finish(c, "b", 300, SL_CKPT_DONE, 31, 0, err), err);
    SL_CK_DUMP(c, "lease m1 host:1 1 10000\n"
                  "epoch b s 1 9 closed\n"
                  "epoch b s 3 1 open\n"
                  "epoch b t 2 3 open\n"
                  "producers a t 'T'\n"
                  "producers b s 'P2'\n"
                  "batch a 200 0 '' 0\n"
                  "batch b 400 0 'A400' 0\n");

    ck_assert_int_eq(sl_ckpt_batch_finish(c, "b", 999, SL_CKPT_DONE, 1, 5, err),
                     SL_ERR_NOT_FOUND);
    SL_CK_CONTAINS(err, "batch 999 of job 'b' is not stored");
    ck_assert_int_eq(sl_ckpt_batch_finish(c, "b", 400, SL_CKPT_ALLOCATED, 1, 5, err),
                     SL_ERR_INVALID);
    sl_ckpt_close(c);
    sl_rmtree(dir);
}
END_TEST

/* --- damaged files ------------------------------------------------------------------------- */

/* Refuses the file holding `bytes`, leaving it as it was; err names the file
 * and contains `want`. */
static void sl_expect_refused(const char *dir, const uint8_t *bytes, size_t len, const char *want)
{
    char path[128], err[SL_ERRMSG_LEN] = "";
    sl_ckpt_t *c = (sl_ckpt_t *)&c;
    size_t n;
    sl_dbpath(path, dir);
    sl_write_file(path, bytes, len);
    ck_assert_msg(sl_ckpt_open(dir, &c, err) == SL_ERR_CORRUPT, "%s accepted (%s)", want, err);
    ck_assert_ptr_null(c);
    SL_CK_CONTAINS(err, path);
    SL_CK_CONTAINS(err, want);
    uint8_t *after = sl_read_file(path, &n);
    ck_assert_uint_eq(n, len);
    ck_assert_msg(len == 0 || memcmp(after, bytes, len) == 0, "%s: the file was modified", want);
    free(after);
    ck_assert_int_eq(sl_dir_entries(dir), 1);   /* no journal, no temporary file */
}

START_TEST(test_damaged_files_refused)
{
    char dir[64], path[128], err[SL_ERRMSG_LEN] = "";
    uint8_t spec[1000];
    size_t len, n;
    sl_tmpdir(dir);
    sl_dbpath(path, dir);
    sl_ckpt_t *c = sl_open_leader(dir, "m1", 0);
    for (int i = 0; i < 20; i++) {
        char job[16];
        snprintf(job, sizeof job, "job%d", i);
        memset(spec, 'a' + i, sizeof spec);
        SL_OK_OR_FAIL(sl_ckpt_job_put(c, job, spec, sizeof spec, i, err), err);
    }
    sl_ckpt_close(c);
    uint8_t *good = sl_read_file(path, &len);
    ck_assert_uint_ge(len, 8 * 4096);
    uint8_t *bad = malloc(len);
    ck_assert_ptr_nonnull(bad);

    sl_expect_refused(dir, good, 0, "the file is empty (a truncated checkpoint)");
    sl_expect_refused(dir, good, len / 2, "malformed (corrupt or truncated checkpoint)");
    sl_expect_refused(dir, good, 1000, "malformed (corrupt or truncated checkpoint)");
    srand(7);
    for (size_t i = 0; i < 8192; i++)
        bad[i] = (uint8_t)rand();
    sl_expect_refused(dir, bad, 8192, "file is not a database (corrupt or not a Sluice checkpoint)");
    memcpy(bad, good, len);
    bad[0] ^= 0x01;   /* the header's magic string */
    sl_expect_refused(dir, bad, len, "file is not a database");
    memcpy(bad, good, len);
    bad[4096] = 0x00;   /* page 2's b-tree page type */
    sl_expect_refused(dir, bad, len, "malformed (corrupt or truncated checkpoint)");
    memcpy(bad, good, len);
    bad[39] = 0x05;   /* the header's freelist page count: sqlite reads, the check fails */
    sl_expect_refused(dir, bad, len, "integrity check failed (corrupt checkpoint): ");

    /* Intact sqlite files that are not this checkpoint. */
    sl_write_file(path, good, len);
    sl_raw_sql(path, "UPDATE meta SET schema_version = 2");
    free(bad);
    bad = sl_read_file(path, &n);
    sl_expect_refused(dir, bad, n, "schema version 2, this Sluice reads version 1 (written by a "
                                   "newer Sluice)");
    free(bad);
    unlink(path);
    sl_raw_sql(path, "PRAGMA user_version = 0");   /* creates an empty database file */
    sl_raw_sql(path, "CREATE TABLE meta (x); CREATE TABLE other (y)");
    bad = sl_read_file(path, &n);
    sl_expect_refused(dir, bad, n, "not a Sluice checkpoint (no table 'lease')");
    free(bad);
    unlink(path);
    sl_raw_sql(path, "PRAGMA user_version = 0");
    for (size_t i = 0; i < 7; i++) {
        static const char *const t[] = { "meta", "lease", "jobs", "epochs", "producers",
                                         "batches", "workers" };
        char sql[64];
        snprintf(sql, sizeof sql, "CREATE TABLE %s (x)", t[i]);
        sl_raw_sql(path, sql);
    }
    bad = sl_read_file(path, &n);
    sl_expect_refused(dir, bad, n, "not a Sluice checkpoint: no such column: schema_version");
    free(bad);

    /* The intact file still opens after all that. */
    sl_write_file(path, good, len);
    SL_OK_OR_FAIL(sl_ckpt_open(dir, &c, err), err);
    sl_ckpt_close(c);
    free(good);
    sl_rmtree(dir);
}
END_TEST

/* --- crashes ------------------------------------------------------------------------------------ */

/* The writes a crashing child makes, one API call each; every one is a single
 * transaction, 48 counted statements in all. */
static sl_status_t sl_crash_op(sl_ckpt_t *c, int i)
{
    static const sl_ckpt_epoch_t ep[] = { { "s1", 1, 10, false }, { "s2", 2, 20, true } };
    static const sl_ckpt_producers_t pr[] = { { "s1", (const uint8_t *)"prod", 4 } };
    sl_lease_t l;
    uint32_t e;
    switch (i) {
    case 0: return sl_ckpt_lease_acquire(c, "m1", "h:1", 1000, 60000, &l, NULL);   /* 3 */
    case 1: return sl_ckpt_job_put(c, "j", (const uint8_t *)"spec", 4, 5, NULL);   /* 3 */
    case 2: return sl_ckpt_epoch_new(c, "j", "s1", &e, NULL);                      /* 4 */
    case 3: return sl_ckpt_epoch_new(c, "j", "s2", &e, NULL);                      /* 4 */
    case 4: return sl_ckpt_batch_allocate(c, "j", 100, (const uint8_t *)"a100", 4, ep, 2, pr, 1,
                                          NULL);                                   /* 6 */
    case 5: return sl_ckpt_batch_allocate(c, "j", 200, (const uint8_t *)"a200", 4, ep, 1, pr, 1,
                                          NULL);                                   /* 5 */
    case 6: return sl_ckpt_batch_finish(c, "j", 100, SL_CKPT_DONE, 7, 1, NULL);    /* 4 */
    case 7: return sl_ckpt_batch_finish(c, "j", 200, SL_CKPT_DONE, 8, 1, NULL);    /* 4 */
    case 8: return sl_ckpt_worker_seen(c, "w1", "h:2", 1500, NULL);                /* 3 */
    case 9: return sl_ckpt_lease_renew(c, 2000, 60000, NULL);                      /* 3 */
    case 10: return sl_ckpt_job_delete(c, "j", NULL);                              /* 6 */
    case 11: return sl_ckpt_lease_release(c, NULL);                                /* 3 */
    }
    return SL_ERR_INTERNAL;
}
#define SL_CRASH_OPS 12
#define SL_CRASH_WRITES 48

/* A child that opens the checkpoint with the crash hook at `at` and runs the
 * ops, writing one byte to `fd` after each that returned. Never returns. */
static void sl_crash_child(const char *dir, int at, int fd)
{
    char n[16];
    sl_ckpt_t *c = NULL;
    snprintf(n, sizeof n, "%d", at);
    if (setenv(SL_CKPT_CRASH_ENV, n, 1) != 0 || sl_ckpt_open(dir, &c, NULL) != SL_OK)
        _exit(3);
    for (int i = 0; i < SL_CRASH_OPS; i++)
        if (sl_crash_op(c, i) != SL_OK || write(fd, "x", 1) != 1)
            _exit(4);
    sl_ckpt_close(c);
    _exit(0);
}

START_TEST(test_crash_points)
{
    char dir[64], ref_dir[64], path[128], journal[160], err[SL_ERRMSG_LEN] = "";
    static sl_dump_t ref[SL_CRASH_OPS + 1];
    sl_dump_t got;
    sl_ckpt_t *c = NULL;
    int journals = 0;
    /* The state after each prefix of the ops, made without crashes. */
    sl_tmpdir(ref_dir);
    SL_OK_OR_FAIL(sl_ckpt_open(ref_dir, &c, err), err);
    sl_dump(c, &ref[0]);
    for (int i = 0; i < SL_CRASH_OPS; i++) {
        ck_assert_int_eq(sl_crash_op(c, i), SL_OK);
        sl_dump(c, &ref[i + 1]);
    }
    sl_ckpt_close(c);
    sl_rmtree(ref_dir);

    sl_tmpdir(dir);
    sl_dbpath(path, dir);
    snprintf(journal, sizeof journal, "%s-journal", path);
    for (int at = 1; at <= SL_CRASH_WRITES + 1; at++) {
        int fds[2], status, done = 0;
        char byte;
        unlink(path);
        unlink(journal);
        SL_OK_OR_FAIL(sl_ckpt_open(dir, &c, err), err);   /* a fresh file: not counted */
        sl_ckpt_close(c);
        ck_assert_int_eq(pipe(fds), 0);
        pid_t pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
            close(fds[0]);
            sl_crash_child(dir, at, fds[1]);
        }
        close(fds[1]);
        while (read(fds[0], &byte, 1) == 1)
            done++;
        close(fds[0]);
        ck_assert_int_eq(waitpid(pid, &status, 0), pid);
        if (at <= SL_CRASH_WRITES)
            ck_assert_msg(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
                          "crash at %d: child status %#x", at, status);
        else
            ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
                          "no crash: child status %#x", status);
        journals += access(journal, F_OK) == 0;
        /* Reopening passes the integrity check (a hot journal would be
         * rolled back); the state is the one after the last op that
         * returned. */
        c = NULL;
        ck_assert_msg(sl_ckpt_open(dir, &c, err) == SL_OK, "crash at %d: %s", at, err);
        sl_dump(c, &got);
        ck_assert_msg(strcmp(got.s, ref[done].s) == 0,
                      "crash at %d after %d ops:\n%s\nwant:\n%s", at, done, got.s, ref[done].s);
        sl_ckpt_close(c);
    }
    /* A crash inside a transaction after its first change (at least before
     * every COMMIT) leaves a journal behind. Its header was not synced yet
     * (that happens inside COMMIT), so sqlite rightly ignores it: the
     * database file itself was not touched. */
    ck_assert_int_ge(journals, SL_CRASH_OPS);
    sl_rmtree(dir);
}
END_TEST

Suite *sl_test_checkpoint_suite(void)
{
    Suite *s = suite_create("checkpoint");
    TCase *tc = tcase_create("checkpoint");
    tcase_add_test(tc, test_create_reopen);
    tcase_add_test(tc, test_lease_takeover);
    tcase_add_test(tc, test_fenced_writes_change_nothing);
    tcase_add_test(tc, test_jobs_roundtrip);
    tcase_add_test(tc, test_epoch_new_monotonic);
    tcase_add_test(tc, test_batches);
    tcase_add_test(tc, test_damaged_files_refused);
    tcase_add_test(tc, test_crash_points);
    suite_add_tcase(s, tc);
    return s;
}
