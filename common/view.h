/* Views of protocol messages for people and scripts: the one JSON shape of a
 * cluster status, shared by the master's HTTP API and `sluice status --json`. */
#ifndef SL_VIEW_H
#define SL_VIEW_H

#include <jansson.h>
#include "msg.h"

/* A new JSON object (caller releases with json_decref), NULL when out of
 * memory:
 * {"master" (its address),"uptime_ms","worker_timeout_ms","authenticated",
 *  "master_info":{"active","checkpoint","epoch","lease_holder",
 *  "lease_address","lease_expires_ms" (unix ms),"recovering",
 *  "workers_expected","workers_back","batches_to_rerun","jobs_recovered"}
 *  (null when the status carries none),
 *  "workers":[{"id","address","cores","memory_bytes","state",
 *  "last_heartbeat_ago_ms","registered_at_unix_ms","registrations",
 *  "dead_reason","silent_ms_when_declared_dead"}]} */
json_t *sl_view_cluster_json(const Sluice__ClusterStatus *cs);

/* "alive", "dead" or "unknown". */
const char *sl_view_worker_state(Sluice__WorkerState s);

#endif
