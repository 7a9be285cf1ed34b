/* The master's metadata checkpoint (see checkpoint.h): one sqlite database on
 * shared storage. Every write is one short transaction that first checks the
 * lease epoch, so a master that was replaced can never overwrite its
 * successor's state; an existing file is verified before it is trusted and is
 * never "repaired" or recreated. This file opens the handle and holds the
 * lease and the writes; checkpoint-load.c reads it all back.
 *
 * Crash hook: when SLUICE_CKPT_CRASH_AT=N (N > 0) is set at open, the handle
 * counts the statements it executes in write transactions (BEGIN IMMEDIATE,
 * every INSERT/UPDATE/DELETE, COMMIT; lease operations included; not reads,
 * not ROLLBACK, not the creation of a fresh file) and just before the Nth it
 * raises SIGKILL, logging and flushing nothing, as a crash would. */
#include "checkpoint-internal.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Schema, version SL_CKPT_SCHEMA_VERSION:
 *   meta      one row: schema_version, next_epoch (the next receiver epoch; 1 first)
 *   lease     one row: holder, address, epoch (0: never held), expires_ms (wall clock)
 *   jobs      id PK, spec BLOB, submitted_ms, ord (submission order; a replaced
 *             job keeps its place)
 *   epochs    (job, stream, epoch) PK, seq (allocated up to), closed
 *   producers (job, stream) PK, blob
 *   batches   (job, time) PK, state (sl_ckpt_batch_state_t), alloc BLOB (NULL
 *             once finished), records, master_epoch (lease epoch of the master
 *             that last wrote the row)
 *   workers   id PK, address, last_seen_ms
 * Rollback-journal mode (journal_mode=DELETE), not WAL: WAL needs the
 * processes to share memory (the -shm file, mmapped) and does not work on a
 * network file system, while the masters reach this file over shared storage;
 * a rollback journal needs only file locks. synchronous=FULL: a commit is on
 * disk before the master acts on it. */
#define SL_STR_(x) #x
#define SL_STR(x) SL_STR_(x)
static const char *const sl_ckpt_schema[] = {
    "CREATE TABLE meta (id INTEGER PRIMARY KEY CHECK (id = 1),"
    " schema_version INTEGER NOT NULL, next_epoch INTEGER NOT NULL)",
    "CREATE TABLE lease (id INTEGER PRIMARY KEY CHECK (id = 1), holder TEXT NOT NULL,"
    " address TEXT NOT NULL, epoch INTEGER NOT NULL, expires_ms INTEGER NOT NULL)",
    "CREATE TABLE jobs (id TEXT PRIMARY KEY, spec BLOB NOT NULL, submitted_ms INTEGER NOT NULL,"
    " ord INTEGER NOT NULL)",
    "CREATE TABLE epochs (job TEXT NOT NULL, stream TEXT NOT NULL, epoch INTEGER NOT NULL,"
    " seq INTEGER NOT NULL, closed INTEGER NOT NULL, PRIMARY KEY (job, stream, epoch))",
    "CREATE TABLE producers (job TEXT NOT NULL, stream TEXT NOT NULL, blob BLOB NOT NULL,"
    " PRIMARY KEY (job, stream))",
    "CREATE TABLE batches (job TEXT NOT NULL, time INTEGER NOT NULL, state INTEGER NOT NULL,"
    " alloc BLOB, records INTEGER NOT NULL, master_epoch INTEGER NOT NULL,"
    " PRIMARY KEY (job, time))",
    "CREATE TABLE workers (id TEXT PRIMARY KEY, address TEXT NOT NULL,"
    " last_seen_ms INTEGER NOT NULL)",
    "INSERT INTO meta VALUES (1, " SL_STR(SL_CKPT_SCHEMA_VERSION) ", 1)",
    "INSERT INTO lease VALUES (1, '', '', 0, 0)",
};
static const char *const sl_ckpt_tables[] = { "meta", "lease", "jobs", "epochs",
                                              "producers", "batches", "workers" };

#define SL_CKPT_BUSY_MS 2000

/* The SQL of every statement the handle runs (sl_ckpt_q_t), prepared once at
 * open. `write` marks the ones the crash hook counts. */
static const struct {
    const char *sql;
    bool write;
} sl_ckpt_sql[SL_Q_COUNT] = {
    [SL_Q_BEGIN] = { "BEGIN IMMEDIATE", true },
    [SL_Q_COMMIT] = { "COMMIT", true },
    [SL_Q_ROLLBACK] = { "ROLLBACK", false },
    [SL_Q_BEGIN_READ] = { "BEGIN", false },
    [SL_Q_END_READ] = { "COMMIT", false },
    [SL_Q_LEASE_GET] = { "SELECT holder, address, epoch, expires_ms FROM lease WHERE id = 1",
                         false },
    [SL_Q_LEASE_TAKE] = { "UPDATE lease SET holder = ?1, address = ?2, epoch = epoch + 1,"
                          " expires_ms = ?3 WHERE id = 1", true },
    [SL_Q_LEASE_RENEW] = { "UPDATE lease SET expires_ms = ?1 WHERE id = 1", true },
    [SL_Q_LEASE_RELEASE] = { "UPDATE lease SET expires_ms = 0 WHERE id = 1", true },
    [SL_Q_JOB_PUT] = { "INSERT INTO jobs (id, spec, submitted_ms, ord) VALUES (?1, ?2, ?3,"
                       " (SELECT COALESCE(MAX(ord), 0) + 1 FROM jobs)) ON CONFLICT (id)"
                       " DO UPDATE SET spec = excluded.spec, submitted_ms = excluded.submitted_ms",
                       true },
    [SL_Q_JOB_DEL] = { "DELETE FROM jobs WHERE id = ?1", true },
    [SL_Q_JOB_DEL_EPOCHS] = { "DELETE FROM epochs WHERE job = ?1", true },
    [SL_Q_JOB_DEL_PRODUCERS] = { "DELETE FROM producers WHERE job = ?1", true },
    [SL_Q_JOB_DEL_BATCHES] = { "DELETE FROM batches WHERE job = ?1", true },
    [SL_Q_NEXT_EPOCH] = { "SELECT next_epoch FROM meta WHERE id = 1", false },
    [SL_Q_SET_NEXT_EPOCH] = { "UPDATE meta SET next_epoch = ?1 WHERE id = 1", true },
    [SL_Q_EPOCH_ADD] = { "INSERT INTO epochs (job, stream, epoch, seq, closed)"
                         " VALUES (?1, ?2, ?3, 0, 0)", true },
    [SL_Q_EPOCH_SET] = { "INSERT INTO epochs (job, stream, epoch, seq, closed)"
                         " VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (job, stream, epoch)"
                         " DO UPDATE SET seq = excluded.seq, closed = excluded.closed", true },
    [SL_Q_PRODUCERS_SET] = { "INSERT INTO producers (job, stream, blob) VALUES (?1, ?2, ?3)"
                             " ON CONFLICT (job, stream) DO UPDATE SET blob = excluded.blob",
                             true },
    [SL_Q_BATCH_ADD] = { "INSERT INTO batches (job, time, state, alloc, records, master_epoch)"
                         " VALUES (?1, ?2, 0, ?3, 0, ?4)", true },
    [SL_Q_BATCH_FINISH] = { "UPDATE batches SET state = ?3, records = ?4, alloc = NULL,"
                            " master_epoch = ?5 WHERE job = ?1 AND time = ?2", true },
    [SL_Q_BATCH_PRUNE] = { "DELETE FROM batches WHERE job = ?1 AND state <> 0 AND time NOT IN"
                           " (SELECT time FROM batches WHERE job = ?1 AND state <> 0"
                           " ORDER BY time DESC LIMIT ?2)", true },
    [SL_Q_WORKER_SET] = { "INSERT INTO workers (id, address, last_seen_ms) VALUES (?1, ?2, ?3)"
                          " ON CONFLICT (id) DO UPDATE SET address = excluded.address,"
                          " last_seen_ms = excluded.last_seen_ms", true },
    [SL_Q_WORKER_DEL] = { "DELETE FROM workers WHERE id = ?1", true },
    [SL_Q_LOAD_JOBS] = { "SELECT id, spec, submitted_ms FROM jobs ORDER BY ord", false },
    [SL_Q_LOAD_EPOCHS] = { "SELECT job, stream, epoch, seq, closed FROM epochs"
                           " ORDER BY job, stream, epoch", false },
    [SL_Q_LOAD_PRODUCERS] = { "SELECT job, stream, blob FROM producers ORDER BY job, stream",
                              false },
    [SL_Q_LOAD_BATCHES] = { "SELECT job, time, state, alloc, records FROM batches"
                            " ORDER BY job, time", false },
    [SL_Q_LOAD_WORKERS] = { "SELECT id, address, last_seen_ms FROM workers ORDER BY id",
                            false },
};

/* --- helpers ----------------------------------------------------------------------------- */

/* Fills err for sqlite result `rc` of `what` (NULL: nothing to add) on
 * `path`, and maps it: a damaged file is SL_ERR_CORRUPT, anything else
 * SL_ERR_IO. Call it before anything else touches the connection. */
static sl_status_t sl_ckpt_sqlerr(sqlite3 *db, const char *path, int rc, const char *what,
                                  char *err)
{
    int prim = rc & 0xff;
    const char *sep = what ? ": " : "";
    what = what ? what : "";
    if (prim == SQLITE_NOTADB)
        SL_CKPT_ERR(err, "checkpoint %.100s: %s%sfile is not a database (corrupt or not a Sluice "
                    "checkpoint)", path, what, sep);
    else if (prim == SQLITE_CORRUPT)
        SL_CKPT_ERR(err, "checkpoint %.100s: %s%sthe database is malformed (corrupt or truncated "
                    "checkpoint)", path, what, sep);
    else if (prim == SQLITE_FULL)
        SL_CKPT_ERR(err, "checkpoint %.100s: %s%sdisk full (%.60s)", path, what, sep,
                    db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
    else if (prim == SQLITE_BUSY)
        SL_CKPT_ERR(err, "checkpoint %.100s: %s%sstill locked by another process after %d ms",
                    path, what, sep, SL_CKPT_BUSY_MS);
    else
        SL_CKPT_ERR(err, "checkpoint %.100s: %s%s%.100s", path, what, sep,
                    db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
    return prim == SQLITE_NOTADB || prim == SQLITE_CORRUPT ? SL_ERR_CORRUPT : SL_ERR_IO;
}

/* sl_ckpt_sqlerr for the handle's connection. */
sl_status_t sl_ckpt_fail(sl_ckpt_t *c, int rc, const char *what, char *err)
{
    return sl_ckpt_sqlerr(c->db, c->path, rc, what, err);
}

/* The crash hook: counts one write statement and dies like a crash (SIGKILL,
 * nothing logged or flushed) just before the Nth. */
static void sl_ckpt_count_write(sl_ckpt_t *c)
{
    if (c->crash_at && ++c->writes == c->crash_at)
        raise(SIGKILL);
}

/* Statement q, reset and with its bindings cleared, ready to bind. */
sqlite3_stmt *sl_ckpt_stmt(sl_ckpt_t *c, sl_ckpt_q_t q)
{
    sqlite3_reset(c->q[q]);
    sqlite3_clear_bindings(c->q[q]);
    return c->q[q];
}

/* Column i as text, "" when NULL. */
const char *sl_ckpt_col_text(sqlite3_stmt *s, int i)
{
    const unsigned char *t = sqlite3_column_text(s, i);
    return t ? (const char *)t : "";
}

/* Runs statement q (already bound) to its end, counting it for the crash
 * hook when it writes; resets it afterwards. */
sl_status_t sl_ckpt_run(sl_ckpt_t *c, sl_ckpt_q_t q, const char *what, char *err)
{
    sqlite3_stmt *s = c->q[q];
    if (sl_ckpt_sql[q].write)
        sl_ckpt_count_write(c);
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW)
        ;
    sl_status_t st = rc == SQLITE_DONE ? SL_OK : sl_ckpt_fail(c, rc, what, err);
    sqlite3_reset(s);
    return st;
}

/* Ends a failed transaction, unless sqlite already rolled it back. */
void sl_ckpt_rollback(sl_ckpt_t *c)
{
    if (sqlite3_get_autocommit(c->db))
        return;
    sqlite3_step(sl_ckpt_stmt(c, SL_Q_ROLLBACK));
    sqlite3_reset(c->q[SL_Q_ROLLBACK]);
}

/* Reads the lease row into *out (inside a transaction or not). */
static sl_status_t sl_ckpt_read_lease(sl_ckpt_t *c, sl_lease_t *out /* OUT */, char *err)
{
    sqlite3_stmt *s = sl_ckpt_stmt(c, SL_Q_LEASE_GET);
    sl_status_t st = SL_OK;
    int rc = sqlite3_step(s);
    memset(out, 0, sizeof *out);
    if (rc == SQLITE_ROW) {
        snprintf(out->holder, sizeof out->holder, "%s", sl_ckpt_col_text(s, 0));
        snprintf(out->address, sizeof out->address, "%s", sl_ckpt_col_text(s, 1));
        out->epoch = (uint64_t)sqlite3_column_int64(s, 2);
        out->expires_ms = sqlite3_column_int64(s, 3);
    } else if (rc == SQLITE_DONE) {
        SL_CKPT_ERR(err, "checkpoint %.100s: the lease row is missing", c->path);
        st = SL_ERR_CORRUPT;
    } else {
        st = sl_ckpt_fail(c, rc, "reading the lease", err);
    }
    sqlite3_reset(s);
    return st;
}

/* Starts a write transaction that may go on only if the lease still carries
 * this handle's epoch: SL_ERR_FENCED (nothing left open) otherwise. */
static sl_status_t sl_ckpt_begin(sl_ckpt_t *c, char *err)
{
    sl_lease_t l;
    if (c->epoch == 0) {
        SL_CKPT_ERR(err, "checkpoint %.100s: no lease held (this master has not acquired it)",
                    c->path);
        return SL_ERR_FENCED;
    }
    sl_status_t st = sl_ckpt_run(c, SL_Q_BEGIN, "starting a transaction", err);
    if (st == SL_OK)
        st = sl_ckpt_read_lease(c, &l, err);
    if (st == SL_OK && l.epoch != c->epoch) {
        SL_CKPT_ERR(err, "checkpoint %.96s: the lease is at epoch %llu (held by %.32s at %.40s), "
                    "this master had epoch %llu", c->path, (unsigned long long)l.epoch, l.holder,
                    l.address, (unsigned long long)c->epoch);
        st = SL_ERR_FENCED;
    }
    if (st != SL_OK)
        sl_ckpt_rollback(c);
    return st;
}

/* Refuses a NULL or empty name argument. */
static sl_status_t sl_ckpt_need(const sl_ckpt_t *c, const char *name, const char *what, char *err)
{
    if (name && *name)
        return SL_OK;
    SL_CKPT_ERR(err, "checkpoint %.100s: %s must not be empty", c->path, what);
    return SL_ERR_INVALID;
}

/* --- fenced write transactions ------------------------------------------------------------- */

/* A value for one statement parameter. Text and blob bytes are borrowed
 * (bound SQLITE_STATIC, not copied): they must outlive the statement's run.
 * An empty blob is stored as a zero-length blob, not NULL. */
typedef struct {
    enum { SL_CKPT_V_NONE, SL_CKPT_V_INT, SL_CKPT_V_TEXT, SL_CKPT_V_BLOB } type;
    int64_t i;
    const void *p;
    size_t len;
} sl_ckpt_val_t;

#define SL_CKPT_INT(v) { .type = SL_CKPT_V_INT, .i = (int64_t)(v) }
#define SL_CKPT_TEXT(s) { .type = SL_CKPT_V_TEXT, .p = (s) }
#define SL_CKPT_BLOB(b, n) { .type = SL_CKPT_V_BLOB, .p = (b), .len = (n) }
#define SL_CKPT_MAX_PARAMS 5

/* One write statement and the values for its ?1, ?2, ... (in order, up to
 * the first unset one); `what` names it in error messages. */
typedef struct {
    sl_ckpt_q_t q;
    const char *what;
    sl_ckpt_val_t v[SL_CKPT_MAX_PARAMS];
} sl_ckpt_step_t;

/* Readies step->q to run: reset, with the step's values bound. */
static sl_status_t sl_ckpt_bind(sl_ckpt_t *c, const sl_ckpt_step_t *step, char *err)
{
    sqlite3_stmt *s = sl_ckpt_stmt(c, step->q);
    int rc = SQLITE_OK;
    for (int i = 0; i < SL_CKPT_MAX_PARAMS && step->v[i].type != SL_CKPT_V_NONE; i++) {
        const sl_ckpt_val_t *v = &step->v[i];
        if (v->type == SL_CKPT_V_INT)
            rc |= sqlite3_bind_int64(s, i + 1, v->i);
        else if (v->type == SL_CKPT_V_TEXT)
            rc |= sqlite3_bind_text(s, i + 1, v->p, -1, SQLITE_STATIC);
        else if (v->len)
            rc |= sqlite3_bind_blob64(s, i + 1, v->p, v->len, SQLITE_STATIC);
        else
            rc |= sqlite3_bind_zeroblob(s, i + 1, 0);
    }
    if (rc == SQLITE_OK)
        return SL_OK;
    SL_CKPT_ERR(err, "checkpoint %.100s: cannot bind a value: %.100s", c->path,
                sqlite3_errmsg(c->db));
    return SL_ERR_IO;
}

/* Binds and runs `n` steps in order inside the open transaction, stopping
 * at the first that fails. */
static sl_status_t sl_ckpt_exec(sl_ckpt_t *c, const sl_ckpt_step_t *steps, size_t n, char *err)
{
    sl_status_t st = SL_OK;
    for (size_t i = 0; st == SL_OK && i < n; i++)
        if ((st = sl_ckpt_bind(c, &steps[i], err)) == SL_OK)
            st = sl_ckpt_run(c, steps[i].q, steps[i].what, err);
    return st;
}

/* Ends the write transaction sl_ckpt_begin started: commits it when st is
 * SL_OK, and rolls it back when st or the commit failed. Returns the
 * outcome. */
static sl_status_t sl_ckpt_end(sl_ckpt_t *c, sl_status_t st, const char *commit, char *err)
{
    if (st == SL_OK)
        st = sl_ckpt_run(c, SL_Q_COMMIT, commit, err);
    if (st != SL_OK)
        sl_ckpt_rollback(c);
    return st;
}

/* Runs `n` steps as one transaction fenced by the lease epoch: BEGIN
 * IMMEDIATE, the steps, COMMIT (`commit` names it in error messages). On any
 * failure nothing is written. */
static sl_status_t sl_ckpt_write(sl_ckpt_t *c, const sl_ckpt_step_t *steps, size_t n,
                                 const char *commit, char *err)
{
    sl_status_t st = sl_ckpt_begin(c, err);
    if (st != SL_OK)
        return st;
    return sl_ckpt_end(c, sl_ckpt_exec(c, steps, n, err), commit, err);
}

/* --- opening ------------------------------------------------------------------------------- */

/* Opens a connection to `path` with `flags`, busy timeout and extended result
 * codes set. *db is set even on failure: the caller closes it. */
static sl_status_t sl_ckpt_connect(const char *path, int flags, sqlite3 **db /* OUT */, char *err)
{
    int rc = sqlite3_open_v2(path, db, flags, NULL);
    if (rc != SQLITE_OK) {
        int e = *db ? sqlite3_system_errno(*db) : 0;
        SL_CKPT_ERR(err, "checkpoint %.100s: cannot open: %.60s%s%.60s", path,
                    *db ? sqlite3_errmsg(*db) : sqlite3_errstr(rc), e ? ": " : "",
                    e ? strerror(e) : "");
        return SL_ERR_IO;
    }
    sqlite3_extended_result_codes(*db, 1);
    sqlite3_busy_timeout(*db, SL_CKPT_BUSY_MS);
    return SL_OK;
}

/* Makes sure the directory entry of a new file is on disk. */
static sl_status_t sl_ckpt_sync_dir(const char *path, char *err)
{
    char *dir = strdup(path);
    sl_status_t st = SL_OK;
    int fd = -1;
    if (!dir) {
        SL_CKPT_ERR(err, "checkpoint %.100s: out of memory", path);
        return SL_ERR_NOMEM;
    }
    char *slash = strrchr(dir, '/');
    if (slash)
        *(slash == dir ? slash + 1 : slash) = '\0';
    fd = open(slash ? dir : ".", O_RDONLY | O_DIRECTORY);
    if (fd < 0 || fsync(fd) != 0) {
        SL_CKPT_ERR(err, "checkpoint %.100s: cannot sync its directory: %s", path,
                    strerror(errno));
        st = SL_ERR_IO;
    }
    if (fd >= 0)
        close(fd);
    free(dir);
    return st;
}

/* Creates the checkpoint file with its schema. It is built under a temporary
 * name in one transaction and then linked into place, so no master ever sees
 * a half-made (empty) checkpoint; when another master creates it at the same
 * moment, its file wins and ours is dropped. The file is private to its
 * owner (mkstemp's 0600): job specs may carry credentials. */
static sl_status_t sl_ckpt_create(sl_ckpt_t *c, char *err)
{
    static const char *const pre[] = { "PRAGMA journal_mode=DELETE", "PRAGMA synchronous=FULL",
                                       "BEGIN IMMEDIATE" };
    size_t n = strlen(c->path) + sizeof ".XXXXXX";
    sqlite3 *db = NULL;
    sl_status_t st = SL_OK;
    int rc = SQLITE_OK;
    char *tmp = malloc(n);
    int fd = -1;
    if (!tmp) {
        SL_CKPT_ERR(err, "checkpoint %.100s: out of memory", c->path);
        return SL_ERR_NOMEM;
    }
    snprintf(tmp, n, "%s.XXXXXX", c->path);
    if ((fd = mkstemp(tmp)) < 0) {
        SL_CKPT_ERR(err, "checkpoint %.100s: cannot create: %s", c->path, strerror(errno));
        free(tmp);
        return SL_ERR_IO;
    }
    close(fd);
    if ((st = sl_ckpt_connect(tmp, SQLITE_OPEN_READWRITE, &db, err)) != SL_OK)
        goto drop_tmp;
    for (size_t i = 0; rc == SQLITE_OK && i < sizeof pre / sizeof *pre; i++)
        rc = sqlite3_exec(db, pre[i], NULL, NULL, NULL);
    for (size_t i = 0; rc == SQLITE_OK && i < sizeof sl_ckpt_schema / sizeof *sl_ckpt_schema; i++)
        rc = sqlite3_exec(db, sl_ckpt_schema[i], NULL, NULL, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        st = sl_ckpt_sqlerr(db, c->path, rc, "creating the schema", err);
        goto drop_tmp;
    }
    if ((rc = sqlite3_close(db)) != SQLITE_OK) {
        st = sl_ckpt_sqlerr(NULL, c->path, rc, "creating the schema", err);
        goto drop_tmp;
    }
    db = NULL;
    /* link() never replaces an existing file; where the file system has no
     * hard links, rename() unless the file appeared meanwhile. */
    if (link(tmp, c->path) != 0 && errno != EEXIST) {
        int e = errno;
        bool nolink = e == EPERM || e == ENOTSUP || e == EOPNOTSUPP || e == ENOSYS;
        if (!nolink || (access(c->path, F_OK) != 0 && rename(tmp, c->path) != 0)) {
            SL_CKPT_ERR(err, "checkpoint %.100s: cannot move the new file into place: %s",
                        c->path, strerror(nolink ? errno : e));
            st = SL_ERR_IO;
            goto drop_tmp;
        }
    }
    st = sl_ckpt_sync_dir(c->path, err);
drop_tmp:
    sqlite3_close(db);
    unlink(tmp);
    free(tmp);
    return st;
}

/* Runs a one-column query on the handle's connection and checks its rows:
 * PRAGMA integrity_check must give exactly "ok"; the others one row, whose
 * integer lands in *val. Reads only. */
static sl_status_t sl_ckpt_query(sl_ckpt_t *c, const char *sql, const char *bind,
                                 int64_t *val /* OUT, NULL for integrity_check */, char *err)
{
    sqlite3_stmt *s = NULL;
    sl_status_t st = SL_OK;
    char first[120] = "";
    int rows = 0;
    bool ok = false;
    int rc = sqlite3_prepare_v2(c->db, sql, -1, &s, NULL);
    if (rc == SQLITE_OK && bind)
        rc = sqlite3_bind_text(s, 1, bind, -1, SQLITE_STATIC);
    while (rc == SQLITE_OK && (rc = sqlite3_step(s)) == SQLITE_ROW) {
        const char *t = sl_ckpt_col_text(s, 0);
        ok = ++rows == 1 && strcmp(t, "ok") == 0;
        if (!first[0] && strcmp(t, "ok") != 0 && strncmp(t, "*** ", 4) != 0)
            snprintf(first, sizeof first, "%s", t);
        if (val)
            *val = sqlite3_column_int64(s, 0);
        rc = SQLITE_OK;
    }
    if ((rc & 0xff) == SQLITE_ERROR) {   /* e.g. no such column: a foreign schema */
        SL_CKPT_ERR(err, "checkpoint %.100s: not a Sluice checkpoint: %.100s", c->path,
                    sqlite3_errmsg(c->db));
        st = SL_ERR_CORRUPT;
    } else if (rc != SQLITE_DONE) {
        st = sl_ckpt_fail(c, rc, NULL, err);
    } else if (!val && !(ok && rows == 1)) {
        SL_CKPT_ERR(err, "checkpoint %.100s: integrity check failed (corrupt checkpoint): %s",
                    c->path, first);
        st = SL_ERR_CORRUPT;
    } else if (val && rows != 1) {
        SL_CKPT_ERR(err, "checkpoint %.100s: not a Sluice checkpoint (%s gave %d rows)",
                    c->path, sql, rows);
        st = SL_ERR_CORRUPT;
    }
    sqlite3_finalize(s);
    return st;
}

/* Checks that the open file is an intact Sluice checkpoint of our schema
 * version, then prepares every statement. Modifies nothing. */
static sl_status_t sl_ckpt_verify(sl_ckpt_t *c, char *err)
{
    int64_t v = 0;
    sl_status_t st = SL_OK;
    if (sqlite3_db_readonly(c->db, "main") == 1) {
        SL_CKPT_ERR(err, "checkpoint %.100s: the file is not writable", c->path);
        return SL_ERR_IO;
    }
    if ((st = sl_ckpt_query(c, "PRAGMA integrity_check", NULL, NULL, err)) != SL_OK)
        return st;
    for (size_t i = 0; i < sizeof sl_ckpt_tables / sizeof *sl_ckpt_tables; i++) {
        st = sl_ckpt_query(c, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND"
                           " name = ?1", sl_ckpt_tables[i], &v, err);
        if (st != SL_OK)
            return st;
        if (v != 1) {
            SL_CKPT_ERR(err, "checkpoint %.100s: not a Sluice checkpoint (no table '%s')",
                        c->path, sl_ckpt_tables[i]);
            return SL_ERR_CORRUPT;
        }
    }
    if ((st = sl_ckpt_query(c, "SELECT schema_version FROM meta", NULL, &v, err)) != SL_OK)
        return st;
    if (v != SL_CKPT_SCHEMA_VERSION) {
        SL_CKPT_ERR(err, "checkpoint %.100s: schema version %lld, this Sluice reads version %d%s",
                    c->path, (long long)v, SL_CKPT_SCHEMA_VERSION,
                    v > SL_CKPT_SCHEMA_VERSION ? " (written by a newer Sluice)" : "");
        return SL_ERR_CORRUPT;
    }
    if ((st = sl_ckpt_query(c, "SELECT count(*) FROM lease", NULL, &v, err)) != SL_OK)
        return st;
    if (v != 1) {
        SL_CKPT_ERR(err, "checkpoint %.100s: the lease table has %lld rows, not 1", c->path,
                    (long long)v);
        return SL_ERR_CORRUPT;
    }
    for (int i = 0; i < SL_Q_COUNT; i++) {
        int rc = sqlite3_prepare_v3(c->db, sl_ckpt_sql[i].sql, -1, SQLITE_PREPARE_PERSISTENT,
                                    &c->q[i], NULL);
        if (rc != SQLITE_OK && (rc & 0xff) != SQLITE_ERROR)
            return sl_ckpt_fail(c, rc, NULL, err);
        if (rc != SQLITE_OK) {
            SL_CKPT_ERR(err, "checkpoint %.100s: schema mismatch: %.100s", c->path,
                        sqlite3_errmsg(c->db));
            return SL_ERR_CORRUPT;
        }
    }
    return SL_OK;
}

/* Switches the verified connection to rollback-journal mode (a no-op unless
 * someone changed it) with synchronous=FULL. */
static sl_status_t sl_ckpt_set_modes(sl_ckpt_t *c, char *err)
{
    sqlite3_stmt *s = NULL;
    sl_status_t st = SL_OK;
    int rc = sqlite3_prepare_v2(c->db, "PRAGMA journal_mode=DELETE", -1, &s, NULL);
    if (rc == SQLITE_OK && (rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (strcmp(sl_ckpt_col_text(s, 0), "delete") != 0) {
            SL_CKPT_ERR(err, "checkpoint %.100s: cannot leave journal mode '%.20s'", c->path,
                        sl_ckpt_col_text(s, 0));
            st = SL_ERR_IO;
        }
        rc = SQLITE_OK;
    }
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(c->db, "PRAGMA synchronous=FULL", NULL, NULL, NULL);
    if (st == SL_OK && rc != SQLITE_OK)
        st = sl_ckpt_fail(c, rc, "setting the journal mode", err);
    sqlite3_finalize(s);
    return st;
}

sl_status_t sl_ckpt_open(const char *dir, sl_ckpt_t **out /* OUT */, char *err)
{
    struct stat sb;
    sl_status_t st = SL_OK;
    sl_ckpt_t *c = calloc(1, sizeof *c);
    size_t n = strlen(dir) + sizeof "/" SL_CKPT_FILE;
    *out = NULL;
    if (!c || !(c->path = malloc(n))) {
        SL_CKPT_ERR(err, "checkpoint in %.100s: out of memory", dir);
        st = SL_ERR_NOMEM;
        goto fail;
    }
    snprintf(c->path, n, "%s/%s", dir, SL_CKPT_FILE);
    if (stat(c->path, &sb) != 0) {
        if (errno != ENOENT) {
            SL_CKPT_ERR(err, "checkpoint %.100s: %s", c->path, strerror(errno));
            st = SL_ERR_IO;
            goto fail;
        }
        if ((st = sl_ckpt_create(c, err)) != SL_OK)
            goto fail;
    } else if (!S_ISREG(sb.st_mode)) {
        SL_CKPT_ERR(err, "checkpoint %.100s: not a regular file", c->path);
        st = SL_ERR_IO;
        goto fail;
    } else if (sb.st_size == 0) {
        SL_CKPT_ERR(err, "checkpoint %.100s: the file is empty (a truncated checkpoint)",
                    c->path);
        st = SL_ERR_CORRUPT;
        goto fail;
    }
    if ((st = sl_ckpt_connect(c->path, SQLITE_OPEN_READWRITE, &c->db, err)) != SL_OK ||
        (st = sl_ckpt_verify(c, err)) != SL_OK || (st = sl_ckpt_set_modes(c, err)) != SL_OK)
        goto fail;
    const char *crash = getenv(SL_CKPT_CRASH_ENV);
    if (crash)
        c->crash_at = strtoull(crash, NULL, 10);
    *out = c;
    return SL_OK;
fail:
    sl_ckpt_close(c);
    return st;
}

void sl_ckpt_close(sl_ckpt_t *c)
{
    if (!c)
        return;
    for (int i = 0; i < SL_Q_COUNT; i++)
        sqlite3_finalize(c->q[i]);
    sqlite3_close(c->db);
    free(c->path);
    free(c);
}

const char *sl_ckpt_path(const sl_ckpt_t *c)
{
    return c->path;
}

/* --- lease --------------------------------------------------------------------------------- */

sl_status_t sl_ckpt_lease_get(sl_ckpt_t *c, sl_lease_t *out /* OUT */, char *err)
{
    return sl_ckpt_read_lease(c, out, err);
}

/* now_ms + ttl_ms into *expires, refusing what does not fit. */
static sl_status_t sl_ckpt_expiry(const sl_ckpt_t *c, int64_t now_ms, uint64_t ttl_ms,
                                  int64_t *expires /* OUT */, char *err)
{
    if (now_ms < 0 || ttl_ms > (uint64_t)(INT64_MAX - now_ms)) {
        SL_CKPT_ERR(err, "checkpoint %.100s: lease time out of range (now %lld, ttl %llu)",
                    c->path, (long long)now_ms, (unsigned long long)ttl_ms);
        return SL_ERR_INVALID;
    }
    *expires = now_ms + (int64_t)ttl_ms;
    return SL_OK;
}

sl_status_t sl_ckpt_lease_acquire(sl_ckpt_t *c, const char *holder, const char *address,
                                  int64_t now_ms, uint64_t ttl_ms, sl_lease_t *out /* OUT */,
                                  char *err)
{
    sl_lease_t l;
    int64_t expires = 0;
    sl_status_t st;
    memset(out, 0, sizeof *out);
    if ((st = sl_ckpt_need(c, holder, "the lease holder", err)) != SL_OK ||
        (st = sl_ckpt_expiry(c, now_ms, ttl_ms, &expires, err)) != SL_OK)
        return st;
    if (!address || strlen(holder) >= sizeof l.holder || strlen(address) >= sizeof l.address) {
        SL_CKPT_ERR(err, "checkpoint %.100s: lease holder or address missing or too long",
                    c->path);
        return SL_ERR_INVALID;
    }
    const sl_ckpt_step_t take = { SL_Q_LEASE_TAKE, "taking the lease",
                                  { SL_CKPT_TEXT(holder), SL_CKPT_TEXT(address),
                                    SL_CKPT_INT(expires) } };
    /* Not fenced: taking the lease is what gives this handle an epoch. */
    st = sl_ckpt_run(c, SL_Q_BEGIN, "starting a transaction", err);
    if (st == SL_OK)
        st = sl_ckpt_read_lease(c, &l, err);
    if (st == SL_OK && l.expires_ms > now_ms) {
        *out = l;
        SL_CKPT_ERR(err, "checkpoint %.96s: the lease is held by %.32s at %.40s (epoch %llu) "
                    "for %lld ms more", c->path, l.holder, l.address,
                    (unsigned long long)l.epoch, (long long)(l.expires_ms - now_ms));
        st = SL_ERR_UNAVAILABLE;
    }
    if (st == SL_OK)
        st = sl_ckpt_exec(c, &take, 1, err);
    if ((st = sl_ckpt_end(c, st, "committing the lease", err)) != SL_OK)
        return st;
    snprintf(out->holder, sizeof out->holder, "%s", holder);
    snprintf(out->address, sizeof out->address, "%s", address);
    out->epoch = l.epoch + 1;
    out->expires_ms = expires;
    c->epoch = out->epoch;
    return SL_OK;
}

sl_status_t sl_ckpt_lease_renew(sl_ckpt_t *c, int64_t now_ms, uint64_t ttl_ms, char *err)
{
    int64_t expires = 0;
    sl_status_t st = sl_ckpt_expiry(c, now_ms, ttl_ms, &expires, err);
    if (st != SL_OK)
        return st;
    const sl_ckpt_step_t renew = { SL_Q_LEASE_RENEW, "renewing the lease",
                                   { SL_CKPT_INT(expires) } };
    return sl_ckpt_write(c, &renew, 1, "committing the lease", err);
}

/* After a release this handle holds no epoch any more: its writes are
 * refused until it acquires the lease again (at a new epoch). */
sl_status_t sl_ckpt_lease_release(sl_ckpt_t *c, char *err)
{
    static const sl_ckpt_step_t release = { .q = SL_Q_LEASE_RELEASE,
                                            .what = "releasing the lease" };
    sl_status_t st = sl_ckpt_write(c, &release, 1, "committing the lease", err);
    if (st == SL_OK)
        c->epoch = 0;
    return st;
}

uint64_t sl_ckpt_epoch(const sl_ckpt_t *c)
{
    return c->epoch;
}

/* --- writes -------------------------------------------------------------------------------- */

/* A replaced job keeps its place in the submission order. */
sl_status_t sl_ckpt_job_put(sl_ckpt_t *c, const char *job, const uint8_t *spec, size_t len,
                            int64_t submitted_ms, char *err)
{
    sl_status_t st = sl_ckpt_need(c, job, "the job name", err);
    if (st == SL_OK && !spec && len) {
        SL_CKPT_ERR(err, "checkpoint %.100s: job '%.64s' has no spec", c->path, job);
        st = SL_ERR_INVALID;
    }
    if (st != SL_OK)
        return st;
    const sl_ckpt_step_t put = { SL_Q_JOB_PUT, "storing a job",
                                 { SL_CKPT_TEXT(job), SL_CKPT_BLOB(spec, len),
                                   SL_CKPT_INT(submitted_ms) } };
    return sl_ckpt_write(c, &put, 1, "committing a job", err);
}

/* Deleting a job that is not stored is not an error. */
sl_status_t sl_ckpt_job_delete(sl_ckpt_t *c, const char *job, char *err)
{
    sl_status_t st = sl_ckpt_need(c, job, "the job name", err);
    if (st != SL_OK)
        return st;
    const sl_ckpt_step_t dels[] = {
        { SL_Q_JOB_DEL, "deleting a job", { SL_CKPT_TEXT(job) } },
        { SL_Q_JOB_DEL_EPOCHS, "deleting a job", { SL_CKPT_TEXT(job) } },
        { SL_Q_JOB_DEL_PRODUCERS, "deleting a job", { SL_CKPT_TEXT(job) } },
        { SL_Q_JOB_DEL_BATCHES, "deleting a job", { SL_CKPT_TEXT(job) } },
    };
    return sl_ckpt_write(c, dels, sizeof dels / sizeof *dels, "committing a job deletion", err);
}

/* The next receiver epoch from meta into *next (inside a write
 * transaction): SL_ERR_CORRUPT when it is missing or below 1,
 * SL_ERR_INTERNAL when all are used. */
static sl_status_t sl_ckpt_next_epoch(sl_ckpt_t *c, int64_t *next /* OUT */, char *err)
{
    sqlite3_stmt *s = sl_ckpt_stmt(c, SL_Q_NEXT_EPOCH);
    sl_status_t st = SL_OK;
    int rc = sqlite3_step(s);
    *next = 0;
    if (rc == SQLITE_ROW)
        *next = sqlite3_column_int64(s, 0);
    else if (rc != SQLITE_DONE)
        st = sl_ckpt_fail(c, rc, "reading the next epoch", err);
    sqlite3_reset(s);
    if (st == SL_OK && *next < 1) {   /* also when the meta row is missing */
        SL_CKPT_ERR(err, "checkpoint %.100s: no valid next receiver epoch in meta (%lld)",
                    c->path, (long long)*next);
        st = SL_ERR_CORRUPT;
    } else if (st == SL_OK && *next > (int64_t)SL_CKPT_MAX_EPOCH) {
        SL_CKPT_ERR(err, "checkpoint %.100s: receiver epochs exhausted (all %u used)", c->path,
                    SL_CKPT_MAX_EPOCH);
        st = SL_ERR_INTERNAL;
    }
    return st;
}

sl_status_t sl_ckpt_epoch_new(sl_ckpt_t *c, const char *job, const char *stream,
                              uint32_t *epoch /* OUT */, char *err)
{
    int64_t next = 0;
    sl_status_t st = sl_ckpt_need(c, job, "the job name", err);
    if (st != SL_OK || (st = sl_ckpt_need(c, stream, "the stream name", err)) != SL_OK ||
        (st = sl_ckpt_begin(c, err)) != SL_OK)
        return st;
    if ((st = sl_ckpt_next_epoch(c, &next, err)) == SL_OK) {
        const sl_ckpt_step_t steps[] = {
            { SL_Q_EPOCH_ADD, "recording an epoch",
              { SL_CKPT_TEXT(job), SL_CKPT_TEXT(stream), SL_CKPT_INT(next) } },
            { SL_Q_SET_NEXT_EPOCH, "advancing the epoch", { SL_CKPT_INT(next + 1) } },
        };
        st = sl_ckpt_exec(c, steps, sizeof steps / sizeof *steps, err);
    }
    if ((st = sl_ckpt_end(c, st, "committing an epoch", err)) == SL_OK)
        *epoch = (uint32_t)next;
    return st;
}

/* Inserts batch `time` of `job` with its allocation (inside a write
 * transaction): SL_ERR_EXISTS when that batch is stored already. Counted by
 * the crash hook like any write step. */
static sl_status_t sl_ckpt_add_batch(sl_ckpt_t *c, const char *job, int64_t time,
                                     const uint8_t *alloc, size_t alloc_len, char *err)
{
    const sl_ckpt_step_t add = { SL_Q_BATCH_ADD, "storing a batch allocation",
                                 { SL_CKPT_TEXT(job), SL_CKPT_INT(time),
                                   SL_CKPT_BLOB(alloc, alloc_len), SL_CKPT_INT(c->epoch) } };
    sl_status_t st = sl_ckpt_bind(c, &add, err);
    if (st != SL_OK)
        return st;
    sl_ckpt_count_write(c);
    int rc = sqlite3_step(c->q[SL_Q_BATCH_ADD]);
    if (rc == SQLITE_CONSTRAINT_PRIMARYKEY) {
        SL_CKPT_ERR(err, "checkpoint %.100s: batch %lld of job '%.64s' is already stored",
                    c->path, (long long)time, job);
        st = SL_ERR_EXISTS;
    } else if (rc != SQLITE_DONE) {
        st = sl_ckpt_fail(c, rc, add.what, err);
    }
    sqlite3_reset(c->q[SL_Q_BATCH_ADD]);
    return st;
}

sl_status_t sl_ckpt_batch_allocate(sl_ckpt_t *c, const char *job, int64_t time,
                                   const uint8_t *alloc, size_t alloc_len,
                                   const sl_ckpt_epoch_t *epochs, size_t nepochs,
                                   const sl_ckpt_producers_t *producers, size_t nproducers,
                                   char *err)
{
    sl_status_t st = sl_ckpt_need(c, job, "the job name", err);
    for (size_t i = 0; st == SL_OK && i < nepochs; i++)
        st = sl_ckpt_need(c, epochs[i].stream, "an epoch's stream", err);
    for (size_t i = 0; st == SL_OK && i < nproducers; i++)
        if ((st = sl_ckpt_need(c, producers[i].stream, "a producer set's stream", err)) ==
                SL_OK && !producers[i].blob && producers[i].len) {
            SL_CKPT_ERR(err, "checkpoint %.100s: producer set without bytes", c->path);
            st = SL_ERR_INVALID;
        }
    if (st == SL_OK && !alloc && alloc_len) {
        SL_CKPT_ERR(err, "checkpoint %.100s: allocation without bytes", c->path);
        st = SL_ERR_INVALID;
    }
    if (st != SL_OK || (st = sl_ckpt_begin(c, err)) != SL_OK)
        return st;
    st = sl_ckpt_add_batch(c, job, time, alloc, alloc_len, err);
    for (size_t i = 0; st == SL_OK && i < nepochs; i++) {
        const sl_ckpt_epoch_t *e = &epochs[i];
        const sl_ckpt_step_t set = { SL_Q_EPOCH_SET, "storing an epoch's progress",
                                     { SL_CKPT_TEXT(job), SL_CKPT_TEXT(e->stream),
                                       SL_CKPT_INT(e->epoch), SL_CKPT_INT(e->seq),
                                       SL_CKPT_INT(e->closed) } };
        st = sl_ckpt_exec(c, &set, 1, err);
    }
    for (size_t i = 0; st == SL_OK && i < nproducers; i++) {
        const sl_ckpt_producers_t *p = &producers[i];
        const sl_ckpt_step_t set = { SL_Q_PRODUCERS_SET, "storing a producer set",
                                     { SL_CKPT_TEXT(job), SL_CKPT_TEXT(p->stream),
                                       SL_CKPT_BLOB(p->blob, p->len) } };
        st = sl_ckpt_exec(c, &set, 1, err);
    }
    return sl_ckpt_end(c, st, "committing a batch allocation", err);
}

/* SL_ERR_NOT_FOUND when the batch is not stored; SL_ERR_INVALID for a state
 * other than done or failed. */
sl_status_t sl_ckpt_batch_finish(sl_ckpt_t *c, const char *job, int64_t time,
                                 sl_ckpt_batch_state_t state, uint64_t records, size_t keep,
                                 char *err)
{
    sl_status_t st = sl_ckpt_need(c, job, "the job name", err);
    if (st == SL_OK && state != SL_CKPT_DONE && state != SL_CKPT_FAILED) {
        SL_CKPT_ERR(err, "checkpoint %.100s: a batch can only finish done or failed", c->path);
        st = SL_ERR_INVALID;
    }
    if (st != SL_OK || (st = sl_ckpt_begin(c, err)) != SL_OK)
        return st;
    const sl_ckpt_step_t finish = { SL_Q_BATCH_FINISH, "finishing a batch",
                                    { SL_CKPT_TEXT(job), SL_CKPT_INT(time), SL_CKPT_INT(state),
                                      SL_CKPT_INT(records), SL_CKPT_INT(c->epoch) } };
    const sl_ckpt_step_t prune = { SL_Q_BATCH_PRUNE, "pruning finished batches",
                                   { SL_CKPT_TEXT(job),
                                     SL_CKPT_INT(keep > INT64_MAX ? INT64_MAX : (int64_t)keep) } };
    st = sl_ckpt_exec(c, &finish, 1, err);
    if (st == SL_OK && sqlite3_changes(c->db) != 1) {
        SL_CKPT_ERR(err, "checkpoint %.100s: batch %lld of job '%.64s' is not stored", c->path,
                    (long long)time, job);
        st = SL_ERR_NOT_FOUND;
    }
    if (st == SL_OK)
        st = sl_ckpt_exec(c, &prune, 1, err);
    return sl_ckpt_end(c, st, "committing a finished batch", err);
}

sl_status_t sl_ckpt_worker_seen(sl_ckpt_t *c, const char *id, const char *address,
                                int64_t now_ms, char *err)
{
    sl_status_t st = sl_ckpt_need(c, id, "the worker id", err);
    if (st != SL_OK || (st = sl_ckpt_need(c, address, "the worker address", err)) != SL_OK)
        return st;
    const sl_ckpt_step_t set = { SL_Q_WORKER_SET, "storing a worker",
                                 { SL_CKPT_TEXT(id), SL_CKPT_TEXT(address),
                                   SL_CKPT_INT(now_ms) } };
    return sl_ckpt_write(c, &set, 1, "committing a worker", err);
}

/* Forgetting a worker that is not stored is not an error. */
sl_status_t sl_ckpt_worker_forget(sl_ckpt_t *c, const char *id, char *err)
{
    sl_status_t st = sl_ckpt_need(c, id, "the worker id", err);
    if (st != SL_OK)
        return st;
    const sl_ckpt_step_t del = { SL_Q_WORKER_DEL, "forgetting a worker", { SL_CKPT_TEXT(id) } };
    return sl_ckpt_write(c, &del, 1, "committing a worker", err);
}
