/* http_api: the master's HTTP port, spoken to as raw HTTP/1.0: /healthz,
 * /api/v1/cluster (the same JSON as `sluice status --json`), /metrics with
 * worker counts that follow the cluster, and 404 for anything else. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cluster.h"
#include "tests.h"

/* Value of the sample line "<series> <value>" in Prometheus text, or -1. */
static double it_metric(const char *text, const char *series)
{
    size_t n = strlen(series);
    for (const char *s = text; s && *s;) {
        if (!strncmp(s, series, n) && (s[n] == ' ' || s[n] == '\t')) {
            char *end;
            double v = strtod(s + n, &end);
            return end == s + n ? -1 : v;
        }
        const char *nl = strchr(s, '\n');
        s = nl ? nl + 1 : NULL;
    }
    return -1;
}

typedef struct {
    it_ctx_t *t;
    const char *http;
    double alive, dead;     /* wanted */
    char last[IT_MSG_LEN];
} it_metrics_wait_t;

static bool it_metrics_cond(void *arg)
{
    it_metrics_wait_t *mw = arg;
    int code;
    char *body;
    if (!it_http_get(mw->t, mw->http, "/metrics", &code, &body)) {
        snprintf(mw->last, sizeof mw->last, "%s", mw->t->note);
        return false;
    }
    double alive = it_metric(body, "sluice_workers{state=\"alive\"}");
    double dead = it_metric(body, "sluice_workers{state=\"dead\"}");
    snprintf(mw->last, sizeof mw->last, "HTTP %d, alive %g, dead %g, body: %.600s", code, alive,
             dead, body);
    free(body);
    return code == 200 && alive == mw->alive && dead == mw->dead;
}

void it_test_http_api(it_ctx_t *t)
{
    it_master_t m = { 0 };
    it_worker_t w1 = { .cores = 2, .memory = "512M", .memory_bytes = 512ull << 20 };
    it_worker_t w2 = { .cores = 4, .memory = "1G", .memory_bytes = 1ull << 30 };
    IT_CHECK(t, it_master_start(t, &m), "start master");
    IT_CHECK(t, it_worker_start(t, &w1, "worker1", &m), "start worker1");
    IT_CHECK(t, it_worker_start(t, &w2, "worker2", &m), "start worker2");
    it_worker_t *const ws[] = { &w1, &w2 };
    IT_CHECK(t, it_wait_alive(t, &m, NULL, ws, 2, IT_DEADLINE_MS), "workers alive");

    int code;
    char *body;
    IT_CHECK(t, it_http_get(t, m.http, "/healthz", &code, &body), "GET /healthz");
    char healthz[128];
    snprintf(healthz, sizeof healthz, "%s", body);
    free(body);
    size_t hl = strlen(healthz);
    while (hl && (healthz[hl - 1] == '\n' || healthz[hl - 1] == '\r'))
        healthz[--hl] = '\0';
    IT_CHECK_EQ(t, code, 200, "GET /healthz status");
    IT_CHECK(t, !strcmp(healthz, "ok"), "GET /healthz body '%s', want 'ok'", healthz);

    IT_CHECK(t, it_http_get(t, m.http, "/api/v1/cluster", &code, &body), "GET /api/v1/cluster");
    json_error_t jerr;
    json_t *st = json_loads(body, 0, &jerr);
    char excerpt[600];
    snprintf(excerpt, sizeof excerpt, "%s", body);
    free(body);
    IT_CHECK_EQ(t, code, 200, "GET /api/v1/cluster status");
    IT_CHECK(t, st != NULL, "/api/v1/cluster is not JSON (%s): %s", jerr.text, excerpt);
    char why[IT_MSG_LEN] = "";
    bool shape = it_status_shape_ok(st, why);
    bool both = it_worker_in_state(st, w1.id, "alive") && it_worker_in_state(st, w2.id, "alive");
    size_t n = json_array_size(json_object_get(st, "workers"));
    char master[IT_ADDR_LEN];
    snprintf(master, sizeof master, "%s", it_jstr(st, "master"));
    long long cores2 = it_jint(it_status_worker(st, w2.id), "cores");
    long long mem2 = it_jint(it_status_worker(st, w2.id), "memory_bytes");
    json_decref(st);
    IT_CHECK(t, shape, "/api/v1/cluster: %s", why);
    IT_CHECK(t, both, "/api/v1/cluster does not list both workers alive: %s", excerpt);
    IT_CHECK_EQ(t, n, 2, "workers in /api/v1/cluster");
    IT_CHECK(t, !strcmp(master, m.listen), "\"master\" is '%s', want '%s'", master, m.listen);
    IT_CHECK_EQ(t, cores2, 4, "worker2 cores");
    IT_CHECK_EQ(t, mem2, 1ll << 30, "worker2 memory_bytes");

    IT_CHECK(t, it_http_get(t, m.http, "/metrics", &code, &body), "GET /metrics");
    double alive = it_metric(body, "sluice_workers{state=\"alive\"}");
    double dead = it_metric(body, "sluice_workers{state=\"dead\"}");
    double rejected = it_metric(body, "sluice_connections_rejected_total");
    snprintf(excerpt, sizeof excerpt, "%s", body);
    free(body);
    IT_CHECK_EQ(t, code, 200, "GET /metrics status");
    IT_CHECK(t, alive == 2, "sluice_workers{state=\"alive\"} is %g, want 2: %s", alive, excerpt);
    IT_CHECK(t, dead == 0, "sluice_workers{state=\"dead\"} is %g, want 0: %s", dead, excerpt);
    IT_CHECK(t, rejected >= 0, "no sluice_connections_rejected_total sample: %s", excerpt);

    static const char *const missing[] = { "/nope", "/api/v1/nope", "/healthz/x", "/api/v1" };
    for (size_t i = 0; i < sizeof missing / sizeof *missing; i++) {
        IT_CHECK(t, it_http_get(t, m.http, missing[i], &code, &body), "GET %s", missing[i]);
        free(body);
        IT_CHECK(t, code == 404, "GET %s: status %d, want 404", missing[i], code);
    }

    /* The counts follow the cluster. */
    IT_CHECK(t, it_proc_kill9(t, w2.proc), "kill -9 worker2");
    it_metrics_wait_t mw = { t, m.http, 1, 1, "" };
    IT_CHECK(t, it_wait_until(it_metrics_cond, &mw, IT_DEADLINE_MS),
             "/metrics shows 1 alive and 1 dead worker; last: %s", mw.last);
    IT_CHECK(t, it_http_get(t, m.http, "/api/v1/cluster", &code, &body), "GET /api/v1/cluster");
    st = json_loads(body, 0, &jerr);
    free(body);
    IT_CHECK(t, st != NULL, "/api/v1/cluster is not JSON");
    bool states = it_worker_in_state(st, w1.id, "alive") && it_worker_in_state(st, w2.id, "dead");
    json_decref(st);
    IT_CHECK(t, states, "/api/v1/cluster: worker1 alive and worker2 dead");
}
