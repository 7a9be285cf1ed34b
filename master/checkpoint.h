/* The master's metadata checkpoint: one sqlite database, DIR/sluice.db, on
 * storage every master of the cluster shares. It holds the master lease (who
 * is active, at which epoch, until when), the jobs with their specs, every
 * batch's block allocation (written before the batch is scheduled) and its
 * completion, the receiver epochs with how far each was allocated, the
 * producers' sequence numbers per stream, and the workers seen.
 *
 * Write transactions are short, start with BEGIN IMMEDIATE, run with
 * synchronous=FULL in rollback-journal mode, and first check that the lease
 * still carries this handle's epoch: a master that was replaced cannot write
 * (SL_ERR_FENCED). Blobs are opaque here (the engine packs protobuf). One
 * handle is used by one thread. */
#ifndef SL_CHECKPOINT_H
#define SL_CHECKPOINT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "status.h"

#define SL_CKPT_FILE "sluice.db"
#define SL_CKPT_SCHEMA_VERSION 1
/* Environment: the process kills itself (SIGKILL) just before its Nth
 * checkpoint write statement (BEGIN and COMMIT count), for crash tests. */
#define SL_CKPT_CRASH_ENV "SLUICE_CKPT_CRASH_AT"

typedef struct sl_ckpt sl_ckpt_t;

typedef struct {
    char holder[160];           /* the master's id */
    char address[262];          /* where workers and clients reach it */
    uint64_t epoch;             /* 0: never held */
    int64_t expires_ms;         /* wall clock */
} sl_lease_t;

typedef enum { SL_CKPT_ALLOCATED = 0, SL_CKPT_DONE = 1, SL_CKPT_FAILED = 2 } sl_ckpt_batch_state_t;

/* A receiver epoch's progress: blocks up to `seq` were allocated to batches;
 * once closed, nothing more of it is ever taken. */
typedef struct {
    const char *stream;
    uint32_t epoch;
    uint64_t seq;
    bool closed;
} sl_ckpt_epoch_t;

/* A stream's producer sequence set after an allocation (opaque blob). */
typedef struct {
    const char *stream;
    const uint8_t *blob;
    size_t len;
} sl_ckpt_producers_t;

/* Opens DIR/sluice.db, creating it (and the schema) when absent. An existing
 * file must pass PRAGMA integrity_check and carry SL_CKPT_SCHEMA_VERSION;
 * otherwise (not a database, truncated, corrupt, newer schema, unreadable)
 * it fails with SL_ERR_CORRUPT / SL_ERR_IO and an err that names the file
 * and what is wrong. Nothing is modified in that case. */
sl_status_t sl_ckpt_open(const char *dir, sl_ckpt_t **out /* OUT */, char *err);
void sl_ckpt_close(sl_ckpt_t *c);             /* accepts NULL */
const char *sl_ckpt_path(const sl_ckpt_t *c); /* the database file; valid until close */

/* --- lease --------------------------------------------------------------------------- */

/* The lease row as stored (epoch 0 when nobody ever held it). */
sl_status_t sl_ckpt_lease_get(sl_ckpt_t *c, sl_lease_t *out /* OUT */, char *err);
/* Takes the lease when nobody holds it or it expired before now_ms: epoch
 * becomes the stored epoch + 1, expiry now_ms + ttl_ms, and this handle
 * remembers the epoch (every later write checks it). When another holder's
 * lease is still valid: SL_ERR_UNAVAILABLE, *out = that lease. */
sl_status_t sl_ckpt_lease_acquire(sl_ckpt_t *c, const char *holder, const char *address,
                                  int64_t now_ms, uint64_t ttl_ms, sl_lease_t *out /* OUT */,
                                  char *err);
/* Extends this handle's lease to now_ms + ttl_ms. SL_ERR_FENCED (err says who
 * holds it at which epoch) when the stored epoch is not ours any more. */
sl_status_t sl_ckpt_lease_renew(sl_ckpt_t *c, int64_t now_ms, uint64_t ttl_ms, char *err);
/* Gives the lease up (expires now, epoch kept) so a standby takes over at
 * once. SL_ERR_FENCED when it was not ours. */
sl_status_t sl_ckpt_lease_release(sl_ckpt_t *c, char *err);
/* This handle's epoch; 0 before a successful acquire. */
uint64_t sl_ckpt_epoch(const sl_ckpt_t *c);

/* --- writes (each one transaction, each fenced by the epoch) ------------------------- */

/* Stores (or replaces) a job's packed spec. */
sl_status_t sl_ckpt_job_put(sl_ckpt_t *c, const char *job, const uint8_t *spec, size_t len,
                            int64_t submitted_ms, char *err);
/* Forgets a job with its batches, epochs and producer sets. */
sl_status_t sl_ckpt_job_delete(sl_ckpt_t *c, const char *job, char *err);
/* A fresh receiver epoch for (job, stream), larger than any handed out
 * before in this database; recorded open with seq 0. */
sl_status_t sl_ckpt_epoch_new(sl_ckpt_t *c, const char *job, const char *stream,
                              uint32_t *epoch /* OUT */, char *err);
/* Batch `time` of `job` is allocated: the packed allocation, the epochs'
 * new progress (seq, closed) and the streams' producer sets, in one
 * transaction. Fails with SL_ERR_EXISTS if that batch time is already
 * stored. */
sl_status_t sl_ckpt_batch_allocate(sl_ckpt_t *c, const char *job, int64_t time,
                                   const uint8_t *alloc, size_t alloc_len,
                                   const sl_ckpt_epoch_t *epochs, size_t nepochs,
                                   const sl_ckpt_producers_t *producers, size_t nproducers,
                                   char *err);
/* Batch `time` is over (done or failed) with `records` input records: its
 * allocation blob is dropped; only the newest `keep` finished batches of the
 * job are kept. */
sl_status_t sl_ckpt_batch_finish(sl_ckpt_t *c, const char *job, int64_t time,
                                 sl_ckpt_batch_state_t state, uint64_t records, size_t keep,
                                 char *err);
/* A worker registered (recovery waits for the workers known here). */
sl_status_t sl_ckpt_worker_seen(sl_ckpt_t *c, const char *id, const char *address,
                                int64_t now_ms, char *err);

/* A worker was declared dead: a takeover no longer waits for it. */
sl_status_t sl_ckpt_worker_forget(sl_ckpt_t *c, const char *id, char *err);

/* --- reading it all back, at takeover ---------------------------------------------------- */

/* Callbacks get borrowed pointers valid during the call. Any may be NULL. */
typedef struct {
    void (*job)(void *arg, const char *job, const uint8_t *spec, size_t len, int64_t submitted_ms);
    void (*epoch)(void *arg, const char *job, const char *stream, uint32_t epoch, uint64_t seq,
                  bool closed);
    void (*producers)(void *arg, const char *job, const char *stream, const uint8_t *blob,
                      size_t len);
    /* alloc is NULL (len 0) for finished batches */
    void (*batch)(void *arg, const char *job, int64_t time, sl_ckpt_batch_state_t state,
                  const uint8_t *alloc, size_t len, uint64_t records);
    void (*worker)(void *arg, const char *id, const char *address, int64_t last_seen_ms);
} sl_ckpt_visitor_t;

/* Calls the visitor for every job (in submission order), then every epoch,
 * producer set, batch (by job, then time) and worker. */
sl_status_t sl_ckpt_load(sl_ckpt_t *c, const sl_ckpt_visitor_t *v, void *arg, char *err);

#endif
