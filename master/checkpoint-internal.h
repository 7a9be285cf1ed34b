/* Shared by checkpoint.c (opening, schema, lease, fenced writes) and
 * checkpoint-load.c (reading it all back): the handle, its prepared
 * statements and the helpers that run them. */
#ifndef SL_CHECKPOINT_INTERNAL_H
#define SL_CHECKPOINT_INTERNAL_H

#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include "checkpoint.h"

#define SL_CKPT_MAX_EPOCH 0xFFFFFFu   /* receiver epochs fit in 24 bits */

#define SL_CKPT_ERR(err, ...) \
    do { if (err) snprintf(err, SL_ERRMSG_LEN, __VA_ARGS__); } while (0)

/* Every statement the handle runs, prepared once at open (the SQL is in
 * checkpoint.c's table, which also marks the ones the crash hook counts). */
typedef enum {
    SL_Q_BEGIN, SL_Q_COMMIT, SL_Q_ROLLBACK, SL_Q_BEGIN_READ, SL_Q_END_READ,
    SL_Q_LEASE_GET, SL_Q_LEASE_TAKE, SL_Q_LEASE_RENEW, SL_Q_LEASE_RELEASE,
    SL_Q_JOB_PUT, SL_Q_JOB_DEL, SL_Q_JOB_DEL_EPOCHS, SL_Q_JOB_DEL_PRODUCERS, SL_Q_JOB_DEL_BATCHES,
    SL_Q_NEXT_EPOCH, SL_Q_SET_NEXT_EPOCH, SL_Q_EPOCH_ADD, SL_Q_EPOCH_SET, SL_Q_PRODUCERS_SET,
    SL_Q_BATCH_ADD, SL_Q_BATCH_FINISH, SL_Q_BATCH_PRUNE, SL_Q_WORKER_SET, SL_Q_WORKER_DEL,
    SL_Q_LOAD_JOBS, SL_Q_LOAD_EPOCHS, SL_Q_LOAD_PRODUCERS, SL_Q_LOAD_BATCHES, SL_Q_LOAD_WORKERS,
    SL_Q_COUNT
} sl_ckpt_q_t;

struct sl_ckpt {
    sqlite3 *db;
    char *path;                  /* DIR/sluice.db */
    uint64_t epoch;              /* the lease epoch this handle holds; 0: none */
    uint64_t crash_at;           /* SL_CKPT_CRASH_ENV; 0: off */
    uint64_t writes;             /* write statements counted for crash_at */
    sqlite3_stmt *q[SL_Q_COUNT];
};

/* Fills err for sqlite result `rc` of `what` (NULL: nothing to add) and
 * returns SL_ERR_CORRUPT for a damaged file, SL_ERR_IO otherwise. Call it
 * before anything else touches the connection. */
sl_status_t sl_ckpt_fail(sl_ckpt_t *c, int rc, const char *what, char *err);
/* Statement q, reset and with its bindings cleared; owned by the handle. */
sqlite3_stmt *sl_ckpt_stmt(sl_ckpt_t *c, sl_ckpt_q_t q);
/* Runs statement q (already bound) to its end, counting it for the crash
 * hook when it writes; resets it afterwards. */
sl_status_t sl_ckpt_run(sl_ckpt_t *c, sl_ckpt_q_t q, const char *what, char *err);
/* Ends a failed transaction, unless sqlite already rolled it back. */
void sl_ckpt_rollback(sl_ckpt_t *c);
/* Column i of the current row as text, "" when NULL; valid until the
 * statement steps or resets. */
const char *sl_ckpt_col_text(sqlite3_stmt *s, int i);

#endif
