/* HTTP endpoints of the master: health, cluster status as JSON, metrics. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>
#include "http.h"
#include "log.h"
#include "parse.h"
#include "view.h"

struct sl_http {
    struct evhttp *http;
    sl_master_t *m;
};

typedef void (*sl_http_handler)(sl_http_t *h, struct evhttp_request *req, struct evbuffer *out);

static void sl_http_healthz(sl_http_t *h, struct evhttp_request *req, struct evbuffer *out)
{
    evbuffer_add_printf(out, "ok\n");
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", "text/plain");
}

static void sl_http_cluster(sl_http_t *h, struct evhttp_request *req, struct evbuffer *out)
{
    Sluice__ClusterStatus *cs = sl_master_status_new(h->m);
    json_t *j = cs ? sl_view_cluster_json(cs) : NULL;
    char *text = j ? json_dumps(j, JSON_INDENT(2)) : NULL;
    if (text)
        evbuffer_add_printf(out, "%s\n", text);
    else
        evbuffer_add_printf(out, "{\"error\": \"out of memory\"}\n");
    free(text);
    json_decref(j);
    sl_master_status_free(cs);
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", "application/json");
}

static void sl_http_metrics(sl_http_t *h, struct evhttp_request *req, struct evbuffer *out)
{
    Sluice__ClusterStatus *cs = sl_master_status_new(h->m);
    const sl_master_stats_t *st = sl_master_stats(h->m);
    size_t alive = 0, dead = 0;
    for (size_t i = 0; cs && i < cs->n_workers; i++) {
        alive += cs->workers[i]->state == SLUICE__WORKER_STATE__WORKER_ALIVE;
        dead += cs->workers[i]->state == SLUICE__WORKER_STATE__WORKER_DEAD;
    }
    evbuffer_add_printf(out,
        "# HELP sluice_workers Registered workers by state.\n"
        "# TYPE sluice_workers gauge\n"
        "sluice_workers{state=\"alive\"} %zu\n"
        "sluice_workers{state=\"dead\"} %zu\n"
        "# HELP sluice_master_uptime_seconds Seconds since this master started.\n"
        "# TYPE sluice_master_uptime_seconds gauge\n"
        "sluice_master_uptime_seconds %.3f\n"
        "# HELP sluice_connections_accepted_total RPC connections accepted.\n"
        "# TYPE sluice_connections_accepted_total counter\n"
        "sluice_connections_accepted_total %llu\n",
        alive, dead, cs ? (double)cs->uptime_ms / 1000.0 : 0.0,
        (unsigned long long)st->connections_accepted);
    uint64_t rejected = 0;
    evbuffer_add_printf(out,
        "# HELP sluice_connections_closed_total RPC connections closed, by reason.\n"
        "# TYPE sluice_connections_closed_total counter\n");
    for (int s = 0; s < SL_STATUS_COUNT; s++) {
        if (!st->connections_closed[s])
            continue;
        evbuffer_add_printf(out, "sluice_connections_closed_total{reason=\"%s\"} %llu\n",
                            s == SL_OK ? "local close" : sl_strerror((sl_status_t)s),
                            (unsigned long long)st->connections_closed[s]);
        if (s != SL_OK && s != SL_ERR_CLOSED)
            rejected += st->connections_closed[s];
    }
    evbuffer_add_printf(out,
        "# HELP sluice_connections_rejected_total Connections closed for bad input, failed "
        "authentication or deadlines.\n"
        "# TYPE sluice_connections_rejected_total counter\n"
        "sluice_connections_rejected_total %llu\n", (unsigned long long)rejected);
    sl_master_status_free(cs);
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
                      "text/plain; version=0.0.4");
}

static const struct {
    const char *path;
    sl_http_handler fn;
} sl_http_routes[] = {
    { "/healthz", sl_http_healthz },
    { "/api/v1/cluster", sl_http_cluster },
    { "/metrics", sl_http_metrics },
};

static void sl_http_dispatch(struct evhttp_request *req, void *arg)
{
    sl_http_t *h = arg;
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
    const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
    enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
    struct evbuffer *out = evbuffer_new();
    if (!out) {
        evhttp_send_error(req, HTTP_INTERNAL, NULL);
        return;
    }
    for (size_t i = 0; path && i < sizeof sl_http_routes / sizeof *sl_http_routes; i++) {
        if (strcmp(path, sl_http_routes[i].path) != 0)
            continue;
        if (cmd != EVHTTP_REQ_GET && cmd != EVHTTP_REQ_HEAD) {
            evhttp_send_error(req, 405, "only GET is supported");
            goto done;
        }
        sl_http_routes[i].fn(h, req, out);
        evhttp_send_reply(req, HTTP_OK, "OK", out);
        goto done;
    }
    evhttp_send_error(req, HTTP_NOTFOUND, "no such endpoint");
done:
    evbuffer_free(out);
}

sl_http_t *sl_http_new(struct event_base *base, const char *hostport, sl_master_t *m, char *err)
{
    char host[256];
    uint16_t port;
    if (sl_parse_hostport(hostport, host, sizeof host, &port, err) != SL_OK)
        return NULL;
    sl_http_t *h = calloc(1, sizeof *h);
    if (!h) {
        snprintf(err, SL_ERRMSG_LEN, "out of memory");
        return NULL;
    }
    h->m = m;
    h->http = evhttp_new(base);
    if (!h->http || evhttp_bind_socket_with_handle(h->http, host, port) == NULL) {
        snprintf(err, SL_ERRMSG_LEN, "cannot serve HTTP on %.64s", hostport);
        sl_http_free(h);
        return NULL;
    }
    evhttp_set_allowed_methods(h->http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD | EVHTTP_REQ_POST);
    evhttp_set_max_body_size(h->http, 64 * 1024);
    evhttp_set_max_headers_size(h->http, 16 * 1024);
    evhttp_set_timeout(h->http, 30);
    evhttp_set_gencb(h->http, sl_http_dispatch, h);
    return h;
}

void sl_http_free(sl_http_t *h)
{
    if (!h)
        return;
    if (h->http)
        evhttp_free(h->http);
    free(h);
}
