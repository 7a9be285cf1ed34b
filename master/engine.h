/* The master's job engine: admits jobs, places and moves receivers, cuts a
 * batch at every boundary (timer or tick), runs its pipelines as tasks on the
 * workers, retries what fails, delivers the outputs that end at the master
 * (print, publish, sqlite) and keeps per-batch statistics. Everything runs on
 * the master's event loop. */
#ifndef SL_ENGINE_H
#define SL_ENGINE_H

#include <stdbool.h>
#include <event2/event.h>
#include "cluster.h"
#include "conn.h"
#include "msg.h"

typedef struct sl_engine sl_engine_t;

typedef struct {
    struct event_base *base;    /* borrowed */
    sl_cluster_t *cluster;      /* borrowed */
    bool manual_clock;          /* batches advance only with Tick */
    const char *scratch_dir;    /* where user libraries are checked; NULL: $TMPDIR */
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

/* A connection closed: forget watchers and waiters on it. */
void sl_engine_conn_closed(sl_engine_t *e, sl_conn_t *c);

/* Cluster changes (the cluster listener). */
void sl_engine_worker_changed(void *engine, const char *worker_id, const char *address, bool alive);

#endif
