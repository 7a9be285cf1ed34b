/* Master-side outputs: merging the blocks collected from every partition,
 * then printing, publishing or writing them to sqlite. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sqlite3.h>
#include "block.h"
#include "log.h"
#include "output.h"

/* A watcher further behind than this is disconnected rather than let the
 * master's memory grow without bound. */
#define SL_WATCHER_BACKLOG ((size_t)64 << 20)

/* Merges the collected blocks of output o (in partition order) into one
 * block, keeping at most `limit` records (0: all). */
static sl_status_t sl_output_merge(const sl_mjob_t *j, const sl_mbatch_t *b, size_t o,
                                   uint64_t limit, uint8_t **out, size_t *len, uint64_t *total)
{
    sl_block_builder_t bb;
    sl_bb_init(&bb);
    uint32_t nparts = j->plan->nodes[j->spec->outputs[o]->input].nparts;
    uint64_t kept = 0;
    *total = 0;
    for (uint32_t p = 0; p < nparts; p++) {
        const sl_collected_t *c = &b->collected[b->collected_base[o] + p];
        if (!c->present)
            continue;
        *total += c->total;
        sl_block_iter_t it;
        sl_record_t r;
        if (sl_block_open(c->data, c->len, true, &it, NULL) != SL_OK)
            continue;
        while ((!limit || kept < limit) && sl_block_next(&it, &r) == 1) {
            if (sl_bb_add(&bb, &r) != SL_OK) {
                sl_bb_free(&bb);
                return SL_ERR_NOMEM;
            }
            kept++;
        }
    }
    sl_status_t st = sl_bb_finish(&bb, out, len);
    sl_bb_free(&bb);
    return st;
}

static void sl_output_publish(sl_mjob_t *j, const sl_mbatch_t *b, const Sluice__OutputSpec *o,
                              const uint8_t *block, size_t len, uint64_t total)
{
    const char *stream = j->spec->nodes[o->input]->name;
    for (sl_watcher_t *w = j->watchers; w; w = w->next) {
        if (w->stream[0] && strcmp(w->stream, stream) != 0)
            continue;
        if (sl_conn_unsent(w->conn) > SL_WATCHER_BACKLOG) {
            sl_warn("output", "a watcher of %s at %s is %zu MiB behind: disconnecting it", j->id,
                    sl_conn_peer(w->conn), sl_conn_unsent(w->conn) >> 20);
            sl_conn_close(w->conn);
            continue;
        }
        Sluice__Envelope env = SLUICE__ENVELOPE__INIT;
        Sluice__BatchOutput bo = SLUICE__BATCH_OUTPUT__INIT;
        bo.job_id = j->id;
        bo.stream = (char *)stream;
        bo.batch_time_ms = b->time;
        bo.total_records = total;
        bo.kind = o->kind;
        env.body_case = SLUICE__ENVELOPE__BODY_BATCH_OUTPUT;
        env.batch_output = &bo;
        if (sl_conn_send(w->conn, &env, block, len) != SL_OK)
            sl_warn("output", "cannot send batch %lld of %s to a watcher", (long long)b->time, j->id);
    }
}

/* Spark's print(): a header with the batch time, then the first records. */
static void sl_output_print(const sl_mjob_t *j, const sl_mbatch_t *b, const uint8_t *block,
                            size_t len, uint64_t total)
{
    sl_buf_t text = { 0 };
    sl_buf_printf(&text, "-------------------------------------------\n"
                         "Time: %lld ms  (job %s, %llu records)\n"
                         "-------------------------------------------",
                  (long long)b->time, j->id, (unsigned long long)total);
    sl_block_iter_t it;
    sl_record_t r;
    if (sl_block_open(block, len, false, &it, NULL) == SL_OK) {
        while (sl_block_next(&it, &r) == 1) {
            sl_buf_append_u8(&text, '\n');
            sl_record_format_line(&text, &r);
        }
    }
    sl_buf_append_u8(&text, 0);
    if (text.p)
        sl_info("print", "\n%s", (const char *)text.p);
    sl_buf_free(&text);
}

static int sl_bind_value(sqlite3_stmt *st, int col, const sl_value_t *v, sl_buf_t *scratch)
{
    switch (v->type) {
    case SL_VAL_NULL:
        return sqlite3_bind_null(st, col);
    case SL_VAL_INT:
        return sqlite3_bind_int64(st, col, v->u.i);
    case SL_VAL_DOUBLE:
        return sqlite3_bind_double(st, col, v->u.d);
    case SL_VAL_BYTES:
        return sqlite3_bind_text(st, col, (const char *)v->u.b.p, (int)v->u.b.len, SQLITE_TRANSIENT);
    default:
        sl_buf_reset(scratch);
        sl_value_format(scratch, v);
        return sqlite3_bind_text(st, col, (const char *)scratch->p, (int)scratch->len,
                                 SQLITE_TRANSIENT);
    }
}

/* One transaction: the batch's rows replace whatever that batch time had. */
static sl_status_t sl_output_sqlite(const sl_mjob_t *j, const sl_mbatch_t *b,
                                    const Sluice__OutputSpec *o, const uint8_t *block, size_t len,
                                    char *err)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *del = NULL, *ins = NULL;
    sl_buf_t sql = { 0 }, scratch = { 0 };
    sl_status_t st = SL_ERR_IO;
    char *quoted = sqlite3_mprintf("\"%w\"", o->table);
    if (!quoted || sqlite3_open_v2(o->path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) != SQLITE_OK)
        goto fail;
    sqlite3_busy_timeout(db, 5000);
    sl_buf_printf(&sql, "CREATE TABLE IF NOT EXISTS %s (batch_time INTEGER NOT NULL, key TEXT, "
                        "value);%c", quoted, 0);
    if (sqlite3_exec(db, "PRAGMA journal_mode=WAL", NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_exec(db, (const char *)sql.p, NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
        goto fail;
    sl_buf_reset(&sql);
    sl_buf_printf(&sql, "DELETE FROM %s WHERE batch_time = ?1%c", quoted, 0);
    if (sqlite3_prepare_v2(db, (const char *)sql.p, -1, &del, NULL) != SQLITE_OK)
        goto rollback;
    sl_buf_reset(&sql);
    sl_buf_printf(&sql, "INSERT INTO %s (batch_time, key, value) VALUES (?1, ?2, ?3)%c", quoted, 0);
    if (sqlite3_prepare_v2(db, (const char *)sql.p, -1, &ins, NULL) != SQLITE_OK)
        goto rollback;
    sqlite3_bind_int64(del, 1, b->time);
    if (sqlite3_step(del) != SQLITE_DONE)
        goto rollback;
    sl_block_iter_t it;
    sl_record_t r;
    if (sl_block_open(block, len, false, &it, NULL) != SL_OK)
        goto rollback;
    while (sl_block_next(&it, &r) == 1) {
        sqlite3_reset(ins);
        sqlite3_bind_int64(ins, 1, b->time);
        sqlite3_bind_text(ins, 2, (const char *)(r.key ? r.key : (const uint8_t *)""), (int)r.key_len,
                          SQLITE_TRANSIENT);
        sl_bind_value(ins, 3, &r.val, &scratch);
        if (sqlite3_step(ins) != SQLITE_DONE)
            goto rollback;
    }
    if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
        goto rollback;
    st = SL_OK;
    goto done;
rollback:
    snprintf(err, SL_ERRMSG_LEN, "sqlite output %.80s (table %.40s): %.90s", o->path, o->table,
             sqlite3_errmsg(db));
    sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    goto done;
fail:
    snprintf(err, SL_ERRMSG_LEN, "sqlite output %.80s (table %.40s): %.90s", o->path, o->table,
             db ? sqlite3_errmsg(db) : "out of memory");
done:
    (void)j;
    sqlite3_finalize(del);
    sqlite3_finalize(ins);
    sqlite3_close(db);
    sqlite3_free(quoted);
    sl_buf_free(&sql);
    sl_buf_free(&scratch);
    return st;
}

sl_status_t sl_output_deliver(sl_mjob_t *j, const sl_mbatch_t *b, char *err)
{
    for (size_t o = 0; o < j->spec->n_outputs; o++) {
        const Sluice__OutputSpec *os = j->spec->outputs[o];
        if (os->kind == SLUICE__OUTPUT_KIND__OUT_SAVE_TEXT)
            continue;   /* written by the tasks */
        uint8_t *block = NULL;
        size_t len = 0;
        uint64_t total = 0;
        uint64_t limit = os->kind == SLUICE__OUTPUT_KIND__OUT_PRINT ? (os->count ? os->count : 10) : 0;
        if (sl_output_merge(j, b, o, limit, &block, &len, &total) != SL_OK) {
            snprintf(err, SL_ERRMSG_LEN, "out of memory merging output %zu", o);
            return SL_ERR_NOMEM;
        }
        sl_status_t st = SL_OK;
        if (os->kind == SLUICE__OUTPUT_KIND__OUT_PRINT)
            sl_output_print(j, b, block, len, total);
        if (os->kind == SLUICE__OUTPUT_KIND__OUT_SQLITE)
            st = sl_output_sqlite(j, b, os, block, len, err);
        else
            sl_output_publish(j, b, os, block, len, total);
        free(block);
        if (st != SL_OK)
            return st;
    }
    return SL_OK;
}
