/* The sluice-master instance: one struct owning the event loop, the listener,
 * the HTTP server, the worker registry and every connection. No globals, so a
 * test could run two masters in one process. */
#ifndef SL_MASTER_H
#define SL_MASTER_H

#include <stdbool.h>
#include <stdint.h>
#include "msg.h"
#include "status.h"

typedef struct {
    const char *listen;         /* host:port for RPC */
    const char *http;           /* host:port for the HTTP API */
    const char *checkpoint_dir; /* may be NULL */
    const char *secret_file;    /* may be NULL: open cluster */
    uint64_t worker_timeout_ms;
    bool manual_clock;          /* batches advance with `sluice tick` only */
    uint64_t lease_ms;          /* master lease time to live (with a checkpoint) */
    uint64_t stop_timeout_ms;   /* SIGTERM: at most this long to finish what was acked */
    uint64_t recovery_wait_ms;  /* a takeover waits this long at most for known workers */
    bool wal;                   /* every job writes the receiver write-ahead log */
} sl_master_opts_t;

typedef struct sl_master sl_master_t;

/* Counters shown by /metrics. */
typedef struct {
    uint64_t connections_accepted;
    uint64_t connections_closed[SL_STATUS_COUNT];   /* by reason */
} sl_master_stats_t;

/* Builds a master and binds its sockets; strings in opts are borrowed for the
 * master's life. NULL with `err` saying what failed. */
sl_master_t *sl_master_new(const sl_master_opts_t *opts, char *err);
/* Runs the loop until SIGTERM/SIGINT (SL_OK), or until a newer master took
 * the lease (SL_ERR_FENCED), or the checkpoint failed at a takeover. */
sl_status_t sl_master_run(sl_master_t *m);
void sl_master_free(sl_master_t *m);   /* accepts NULL and a half-built master */

/* For the HTTP module. A status snapshot; free with sl_master_status_free(). */
Sluice__ClusterStatus *sl_master_status_new(const sl_master_t *m);
void sl_master_status_free(Sluice__ClusterStatus *cs);
const sl_master_stats_t *sl_master_stats(const sl_master_t *m);

#endif
