/* The master's HTTP API (libevent evhttp): /healthz, /api/v1/cluster (JSON)
 * and /metrics (Prometheus text format). */
#ifndef SL_MASTER_HTTP_H
#define SL_MASTER_HTTP_H

#include <event2/event.h>
#include "master.h"

typedef struct sl_http sl_http_t;

/* Serves on `hostport`; `m` is borrowed and must outlive the server. */
sl_http_t *sl_http_new(struct event_base *base, const char *hostport, sl_master_t *m, char *err);
void sl_http_free(sl_http_t *h);   /* accepts NULL */

#endif
