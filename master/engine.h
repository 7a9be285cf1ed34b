/* The master's job engine: admits jobs, places and moves receivers, cuts a
 * batch at every boundary (timer or tick), runs its pipelines as tasks on the
 * workers, retries what fails, delivers the outputs that end at the master
 * (print, publish, sqlite) and keeps per-batch statistics. Everything runs on
 * the master's event loop. */
#ifndef SL_ENGINE_H
#define SL_ENGINE_H

#include <stdbool.h>
#include <event2/event.h>
#include "checkpoint.h"
#include "cluster.h"
#include "conn.h"
#include "msg.h"

typedef struct sl_engine sl_engine_t;

typedef struct {
    struct event_base *base;    /* borrowed */
    sl_cluster_t *cluster;      /* borrowed */
    bool manual_clock;          /* batches advance only with Tick */
    const char *scratch_dir;    /* where user libraries are checked; NULL: $TMPDIR */
    sl_ckpt_t *ckpt;            /* borrowed, holding the lease; NULL: nothing is durable */
    const char *wal_root;       /* write-ahead logs (under the checkpoint dir); NULL: none */
    bool wal_default;           /* every job logs, not only those that ask (wal = on) */
    uint64_t recovery_wait_ms;  /* a takeover waits this long at most for known workers */
    /* The checkpoint refused a write: a newer master holds the lease. */
    void (*fenced)(void *arg, const char *why);
    void *fenced_arg;
} sl_engine_opts_t;

sl_engine_t *sl_engine_new(const sl_engine_opts_t *opts, char *err);
void sl_engine_free(sl_engine_t *e);   /* accepts NULL */

/* Client requests: each answers `req` on `c`, now or later. */
void sl_engine_submit(sl_engine_t *e, sl_conn_t *c, const sl_envelope_t *req);
void sl_engine_list_jobs(sl_engine_t *e, sl_conn_t *c, const sl_envelope_t *req);
void sl_engine_stop_job(sl_engine_t *e, sl_conn_t *c, const sl_envelope_t *req);
void sl_engine_tick(sl_engine_t *e, sl_conn_t *c, const sl_envelope_t *req);
void sl_engine_list_batches(sl_engine_t *e, sl_conn_t *c, const sl_envelope_t *req);
void sl_engine_locate(sl_engine_t *e, sl_conn_t *c, const sl_envelope_t *req);
void sl_engine_watch(sl_engine_t *e, sl_conn_t *c, const sl_envelope_t *req);

/* After taking the lease: reloads every job from the checkpoint, then waits
 * for the workers it knows (at most recovery_wait_ms) before collecting their
 * blocks, re-running unfinished batches and placing receivers. */
sl_status_t sl_engine_recover(sl_engine_t *e, char *err);
/* Fills the recovery fields of a status. */
void sl_engine_recovery_info(const sl_engine_t *e, Sluice__MasterInfo *out);
/* SIGTERM: every job stops receiving, finishes what was acked, and `done`
 * is called (at the latest after timeout_ms). Jobs stay in the checkpoint. */
void sl_engine_drain(sl_engine_t *e, uint64_t timeout_ms, void (*done)(void *arg), void *arg);

/* A connection closed: forget watchers and waiters on it. */
void sl_engine_conn_closed(sl_engine_t *e, sl_conn_t *c);

/* Cluster changes (the cluster listener). */
void sl_engine_worker_changed(void *engine, const char *worker_id, const char *address, bool alive);

#endif
