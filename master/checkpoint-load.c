/* Reading the master's checkpoint back at takeover (see checkpoint.h): every
 * load query in one read transaction, each row checked and handed to the
 * caller's visitor. The handle, its statements and the helpers that run them
 * are in checkpoint.c; the SELECTs (and so the column numbers used here) are
 * the SL_Q_LOAD_* entries of its statement table. */
#include "checkpoint-internal.h"

/* Column i as a blob: NULL (len 0) for SQL NULL, never NULL otherwise. */
static const uint8_t *sl_ckpt_col_blob(sqlite3_stmt *s, int i, size_t *len /* OUT */)
{
    *len = 0;
    if (sqlite3_column_type(s, i) == SQLITE_NULL)
        return NULL;
    const uint8_t *p = sqlite3_column_blob(s, i);
    *len = (size_t)sqlite3_column_bytes(s, i);
    return p ? p : (const uint8_t *)"";
}

/* One row of a load query handed to its visitor callback. */
typedef sl_status_t (*sl_ckpt_row_fn)(sl_ckpt_t *c, sqlite3_stmt *s, const sl_ckpt_visitor_t *v,
                                      void *arg, char *err);

/* id, spec, submitted_ms */
static sl_status_t sl_ckpt_row_job(sl_ckpt_t *c, sqlite3_stmt *s, const sl_ckpt_visitor_t *v,
                                   void *arg, char *err)
{
    size_t len;
    const uint8_t *spec = sl_ckpt_col_blob(s, 1, &len);
    if (v->job)
        v->job(arg, sl_ckpt_col_text(s, 0), spec ? spec : (const uint8_t *)"", len,
               sqlite3_column_int64(s, 2));
    return SL_OK;
}

/* job, stream, epoch, seq, closed */
static sl_status_t sl_ckpt_row_epoch(sl_ckpt_t *c, sqlite3_stmt *s, const sl_ckpt_visitor_t *v,
                                     void *arg, char *err)
{
    int64_t e = sqlite3_column_int64(s, 2);
    if (e < 1 || e > (int64_t)SL_CKPT_MAX_EPOCH) {
        SL_CKPT_ERR(err, "checkpoint %.100s: receiver epoch %lld out of range", c->path,
                    (long long)e);
        return SL_ERR_CORRUPT;
    }
    if (v->epoch)
        v->epoch(arg, sl_ckpt_col_text(s, 0), sl_ckpt_col_text(s, 1), (uint32_t)e,
                 (uint64_t)sqlite3_column_int64(s, 3), sqlite3_column_int(s, 4) != 0);
    return SL_OK;
}

/* job, stream, blob */
static sl_status_t sl_ckpt_row_producers(sl_ckpt_t *c, sqlite3_stmt *s,
                                         const sl_ckpt_visitor_t *v, void *arg, char *err)
{
    size_t len;
    const uint8_t *blob = sl_ckpt_col_blob(s, 2, &len);
    if (v->producers)
        v->producers(arg, sl_ckpt_col_text(s, 0), sl_ckpt_col_text(s, 1),
                     blob ? blob : (const uint8_t *)"", len);
    return SL_OK;
}

/* job, time, state, alloc, records */
static sl_status_t sl_ckpt_row_batch(sl_ckpt_t *c, sqlite3_stmt *s, const sl_ckpt_visitor_t *v,
                                     void *arg, char *err)
{
    size_t len;
    int state = sqlite3_column_int(s, 2);
    const uint8_t *alloc = sl_ckpt_col_blob(s, 3, &len);
    if (state < SL_CKPT_ALLOCATED || state > SL_CKPT_FAILED) {
        SL_CKPT_ERR(err, "checkpoint %.100s: batch with unknown state %d", c->path, state);
        return SL_ERR_CORRUPT;
    }
    if (v->batch)
        v->batch(arg, sl_ckpt_col_text(s, 0), sqlite3_column_int64(s, 1),
                 (sl_ckpt_batch_state_t)state, alloc, len, (uint64_t)sqlite3_column_int64(s, 4));
    return SL_OK;
}

/* id, address, last_seen_ms */
static sl_status_t sl_ckpt_row_worker(sl_ckpt_t *c, sqlite3_stmt *s, const sl_ckpt_visitor_t *v,
                                      void *arg, char *err)
{
    if (v->worker)
        v->worker(arg, sl_ckpt_col_text(s, 0), sl_ckpt_col_text(s, 1),
                  sqlite3_column_int64(s, 2));
    return SL_OK;
}

static const struct {
    sl_ckpt_q_t q;
    sl_ckpt_row_fn row;
} sl_ckpt_loads[] = {
    { SL_Q_LOAD_JOBS, sl_ckpt_row_job },
    { SL_Q_LOAD_EPOCHS, sl_ckpt_row_epoch },
    { SL_Q_LOAD_PRODUCERS, sl_ckpt_row_producers },
    { SL_Q_LOAD_BATCHES, sl_ckpt_row_batch },
    { SL_Q_LOAD_WORKERS, sl_ckpt_row_worker },
};

/* All queries run in one read transaction, so the visitor sees one
 * committed state. The visitor must not call back into this handle. */
sl_status_t sl_ckpt_load(sl_ckpt_t *c, const sl_ckpt_visitor_t *v, void *arg, char *err)
{
    sl_status_t st = sl_ckpt_run(c, SL_Q_BEGIN_READ, "starting a read", err);
    for (size_t i = 0; st == SL_OK && i < sizeof sl_ckpt_loads / sizeof *sl_ckpt_loads; i++) {
        sqlite3_stmt *s = sl_ckpt_stmt(c, sl_ckpt_loads[i].q);
        int rc = SQLITE_DONE;
        while (st == SL_OK && (rc = sqlite3_step(s)) == SQLITE_ROW)
            st = sl_ckpt_loads[i].row(c, s, v, arg, err);
        if (st == SL_OK && rc != SQLITE_DONE)
            st = sl_ckpt_fail(c, rc, "reading the checkpoint", err);
        sqlite3_reset(s);
    }
    if (st == SL_OK)
        st = sl_ckpt_run(c, SL_Q_END_READ, "ending a read", err);
    if (st != SL_OK)
        sl_ckpt_rollback(c);
    return st;
}
