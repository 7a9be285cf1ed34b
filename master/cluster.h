/* The master's view of its workers: who registered, from where, with what
 * resources, when each was last heard from, and which are dead and why.
 * Pure bookkeeping: no I/O; the caller passes the clock in. */
#ifndef SL_CLUSTER_H
#define SL_CLUSTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "conn.h"
#include "msg.h"

typedef struct sl_cluster sl_cluster_t;

sl_cluster_t *sl_cluster_new(uint64_t worker_timeout_ms);
void sl_cluster_free(sl_cluster_t *cl);   /* accepts NULL */

/* Registers (or re-registers) a worker reached through `conn` (borrowed; the
 * cluster forgets it in sl_cluster_conn_lost). A live worker with the same id
 * at another address is refused (SL_ERR_EXISTS); at the same address the new
 * registration replaces the old one (a restarted worker). *replaced receives
 * the previous connection, if any, for the caller to close. */
sl_status_t sl_cluster_register(sl_cluster_t *cl, const Sluice__RegisterWorker *reg,
                                sl_conn_t *conn, uint64_t now_mono, uint64_t now_wall,
                                sl_conn_t **replaced /* OUT */, char *err);

/* Records a heartbeat. False when the id is unknown or declared dead: the
 * worker must register again. */
bool sl_cluster_heartbeat(sl_cluster_t *cl, const char *worker_id, sl_conn_t *conn,
                          uint64_t now_mono);

/* The connection of a worker closed: it is dead at once. */
void sl_cluster_conn_lost(sl_cluster_t *cl, sl_conn_t *conn, const char *why);

/* Declares dead every live worker silent for longer than the timeout and
 * returns how many. */
size_t sl_cluster_sweep(sl_cluster_t *cl, uint64_t now_mono);

size_t sl_cluster_count(const sl_cluster_t *cl, Sluice__WorkerState state);

/* A ClusterStatus listing every worker; master_address, uptime and
 * authenticated are for the caller to set. Free with sl_cluster_status_free(). */
Sluice__ClusterStatus *sl_cluster_status_new(const sl_cluster_t *cl, uint64_t now_mono);
void sl_cluster_status_free(Sluice__ClusterStatus *cs);

/* A live worker as the scheduler sees it; strings borrowed from the registry
 * (valid until the next registration). */
typedef struct {
    const char *id;
    const char *address;
    uint32_t cores;
    sl_conn_t *conn;
} sl_worker_view_t;

/* Fills up to `max` live workers with a connection; returns how many. */
size_t sl_cluster_alive(const sl_cluster_t *cl, sl_worker_view_t *out, size_t max);
/* The advertised address of the worker on connection `c` (not the
 * connection's own source port), or NULL. */
const char *sl_cluster_address_of(const sl_cluster_t *cl, const sl_conn_t *c);

/* The live worker with this id or address, or false. */
bool sl_cluster_lookup(const sl_cluster_t *cl, const char *id_or_address, sl_worker_view_t *out);

/* Called when a worker becomes alive (registered) or dead, after the
 * registry changed. */
typedef void (*sl_cluster_listener_t)(void *arg, const char *worker_id, const char *address,
                                      bool alive);
void sl_cluster_set_listener(sl_cluster_t *cl, sl_cluster_listener_t fn, void *arg);

/* Heartbeat interval the master asks of workers: about a quarter of the
 * timeout, within [50 ms, 2 s]. */
uint64_t sl_cluster_heartbeat_interval_ms(const sl_cluster_t *cl);

#endif
