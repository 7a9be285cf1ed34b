/* libsluice: the client library of Sluice. Connect to a cluster, read its
 * status (and, with later releases, submit jobs and push records).
 *
 * Handles are opaque. Functions that can fail return an sl_status_t and write
 * a message for people into `err` (SL_ERRMSG_LEN bytes, may be NULL). The
 * library never prints. A client is used from one thread at a time.
 * Programs using it must ignore SIGPIPE (sl_client_open does so). */
#ifndef SLUICE_H
#define SLUICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct sl_client sl_client_t;
typedef struct sl_cluster_info sl_cluster_info_t;

/* Connects to the first reachable master of `masters` ("host:port[,...]"),
 * authenticating with the secret in `secret_file` (NULL: none). Every call is
 * bounded by `timeout_ms` (0: 10 s). Caller frees with sl_client_close(). */
sl_status_t sl_client_open(const char *masters, const char *secret_file, uint64_t timeout_ms,
                           sl_client_t **out /* OUT */, char *err);
void sl_client_close(sl_client_t *c);   /* accepts NULL */

/* The address of the master this client talks to; valid until close. */
const char *sl_client_master(const sl_client_t *c);

/* Fetches the cluster status. Caller frees with sl_cluster_info_free(). */
sl_status_t sl_cluster_status(sl_client_t *c, sl_cluster_info_t **out /* OUT */, char *err);
void sl_cluster_info_free(sl_cluster_info_t *info);   /* accepts NULL */

/* Accessors; strings are valid until sl_cluster_info_free(). */
const char *sl_cluster_master_address(const sl_cluster_info_t *info);
uint64_t sl_cluster_uptime_ms(const sl_cluster_info_t *info);
uint64_t sl_cluster_worker_timeout_ms(const sl_cluster_info_t *info);
bool sl_cluster_authenticated(const sl_cluster_info_t *info);
size_t sl_cluster_worker_count(const sl_cluster_info_t *info);
const char *sl_cluster_worker_id(const sl_cluster_info_t *info, size_t i);
const char *sl_cluster_worker_address(const sl_cluster_info_t *info, size_t i);
uint32_t sl_cluster_worker_cores(const sl_cluster_info_t *info, size_t i);
uint64_t sl_cluster_worker_memory(const sl_cluster_info_t *info, size_t i);
bool sl_cluster_worker_alive(const sl_cluster_info_t *info, size_t i);
uint64_t sl_cluster_worker_heartbeat_ago_ms(const sl_cluster_info_t *info, size_t i);
const char *sl_cluster_worker_dead_reason(const sl_cluster_info_t *info, size_t i);

/* The status as pretty-printed JSON (the shape of the master's
 * /api/v1/cluster). Caller frees with free(). */
char *sl_cluster_info_json(const sl_cluster_info_t *info);

#ifdef __cplusplus
}
#endif

#endif
