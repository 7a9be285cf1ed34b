/* The worker instance's insides, shared by worker.c (connections, master
 * link, request table) and receiver.c (push receivers). Nothing outside
 * worker/ includes this. */
#ifndef SL_WORKER_INTERNAL_H
#define SL_WORKER_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include "auth.h"
#include "conn.h"
#include "daemon.h"
#include "executor.h"
#include "hmap.h"
#include "jobrt.h"
#include "store.h"
#include "worker.h"

typedef enum {
    SL_LINK_DOWN,           /* waiting for the reconnect timer */
    SL_LINK_CONNECTING,     /* TCP + handshake */
    SL_LINK_REGISTERING,
    SL_LINK_REGISTERED,
} sl_link_state_t;

typedef struct sl_receiver sl_receiver_t;

/* A closure run on the I/O thread, posted from any thread. */
typedef struct sl_post {
    void (*fn)(struct sl_worker *w, void *arg);
    void *arg;
    struct sl_post *next;
} sl_post_t;

struct sl_worker {
    sl_worker_opts_t opts;
    char id[160];
    const char *address;        /* advertised address (opts) */
    struct event_base *base;
    sl_secret_t *secret;
    sl_signals_t signals;
    sl_listener_t *listener;
    sl_executor_t *executor;    /* tasks */
    sl_executor_t *replicator;  /* block replication, one thread: keeps per-peer order */
    sl_store_t *store;
    sl_hmap_t *repl_conns;      /* peer address -> sl_sync_conn_t*; replicator thread only */
    sl_hmap_t *repl_down;       /* peer address -> monotonic ms until which it is tried
                                   last (it just failed); replicator thread only */
    sl_hmap_t *fences;          /* "job NUL stream" -> highest receiver epoch no longer
                                   allowed to replicate here (value slot holds it) */
    bool stopping;

    /* link to the master */
    char **masters;
    size_t nmasters, next_master;
    sl_conn_t *master;
    uint64_t master_serial;     /* bumped per connection: stale replies are dropped */
    uint64_t master_epoch;      /* highest master lease epoch seen: older ones are refused */
    sl_link_state_t link;
    uint64_t backoff_ms;
    uint64_t heartbeat_ms;
    bool heartbeat_inflight;
    struct event *reconnect_timer;
    struct event *heartbeat_timer;

    /* incoming connections */
    sl_conn_t **peers;
    size_t npeers, cappeers;

    /* jobs and receivers */
    sl_hmap_t *jobs;            /* job id -> sl_jobrt_t* */
    sl_receiver_t **receivers;
    size_t nreceivers;

    /* closures posted to the I/O thread */
    pthread_mutex_t post_lock;
    sl_post_t *post_head, *post_tail;
    struct event *post_ev;
    size_t tasks_running;
};

typedef struct sl_worker sl_worker_t;

/* Runs fn(w, arg) on the I/O thread soon. Safe from any thread. */
void sl_worker_post(sl_worker_t *w, void (*fn)(sl_worker_t *w, void *arg), void *arg);

/* --- receivers (receiver.c) --- */
sl_status_t sl_receiver_start(sl_worker_t *w, const Sluice__StartReceiver *req, char *err);
sl_receiver_t *sl_receiver_find(sl_worker_t *w, const char *job, const char *stream);
void sl_receiver_push(sl_worker_t *w, sl_receiver_t *r, sl_conn_t *c, const sl_envelope_t *req,
                      const uint8_t *payload, size_t len);
void sl_receiver_cut(sl_worker_t *w, sl_receiver_t *r, sl_conn_t *c, const sl_envelope_t *req);
/* Stops and frees every receiver of `job` (NULL: all). */
void sl_receivers_stop(sl_worker_t *w, const char *job);
/* A connection went away: forget acks owed to it. */
void sl_receivers_conn_closed(sl_worker_t *w, sl_conn_t *c);

#endif
