/* Worker registry of the master: registration, heartbeats, liveness sweep. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cluster.h"
#include "log.h"
#include "parse.h"

#define SL_WORKER_ID_MAX 128

typedef struct {
    char id[SL_WORKER_ID_MAX + 1];
    char address[262];
    uint32_t cores;
    uint64_t memory_bytes;
    Sluice__WorkerState state;
    uint64_t last_heartbeat_mono;
    uint64_t registered_wall;
    uint32_t registrations;
    uint64_t silent_ms_when_dead;
    char dead_reason[128];
    sl_conn_t *conn;            /* borrowed; NULL once lost */
} sl_worker_entry_t;

struct sl_cluster {
    uint64_t timeout_ms;
    sl_cluster_listener_t listener;
    void *listener_arg;
    sl_worker_entry_t *workers;
    size_t n, cap;
};

sl_cluster_t *sl_cluster_new(uint64_t worker_timeout_ms)
{
    sl_cluster_t *cl = calloc(1, sizeof *cl);
    if (cl)
        cl->timeout_ms = worker_timeout_ms;
    return cl;
}

void sl_cluster_free(sl_cluster_t *cl)
{
    if (!cl)
        return;
    free(cl->workers);
    free(cl);
}

uint64_t sl_cluster_heartbeat_interval_ms(const sl_cluster_t *cl)
{
    uint64_t iv = cl->timeout_ms / 4;
    return iv < 50 ? 50 : iv > 2000 ? 2000 : iv;
}

static sl_worker_entry_t *sl_cluster_find(sl_cluster_t *cl, const char *id)
{
    for (size_t i = 0; i < cl->n; i++)
        if (strcmp(cl->workers[i].id, id) == 0)
            return &cl->workers[i];
    return NULL;
}

static void sl_worker_mark_dead(sl_cluster_t *cl, sl_worker_entry_t *w, const char *why,
                                uint64_t silent_ms)
{
    w->state = SLUICE__WORKER_STATE__WORKER_DEAD;
    w->silent_ms_when_dead = silent_ms;
    snprintf(w->dead_reason, sizeof w->dead_reason, "%s", why);
    sl_warn("cluster", "worker %s (%s) is dead: %s", w->id, w->address, why);
    if (cl->listener)
        cl->listener(cl->listener_arg, w->id, w->address, false);
}

void sl_cluster_set_listener(sl_cluster_t *cl, sl_cluster_listener_t fn, void *arg)
{
    cl->listener = fn;
    cl->listener_arg = arg;
}

size_t sl_cluster_alive(const sl_cluster_t *cl, sl_worker_view_t *out, size_t max)
{
    size_t n = 0;
    for (size_t i = 0; i < cl->n && n < max; i++) {
        const sl_worker_entry_t *w = &cl->workers[i];
        if (w->state != SLUICE__WORKER_STATE__WORKER_ALIVE || !w->conn)
            continue;
        out[n++] = (sl_worker_view_t){ w->id, w->address, w->cores, w->conn };
    }
    return n;
}

const char *sl_cluster_address_of(const sl_cluster_t *cl, const sl_conn_t *c)
{
    for (size_t i = 0; i < cl->n; i++)
        if (cl->workers[i].conn == c)
            return cl->workers[i].address;
    return NULL;
}

bool sl_cluster_lookup(const sl_cluster_t *cl, const char *key, sl_worker_view_t *out)
{
    for (size_t i = 0; i < cl->n; i++) {
        const sl_worker_entry_t *w = &cl->workers[i];
        if (w->state != SLUICE__WORKER_STATE__WORKER_ALIVE || !w->conn ||
            (strcmp(w->id, key) != 0 && strcmp(w->address, key) != 0))
            continue;
        *out = (sl_worker_view_t){ w->id, w->address, w->cores, w->conn };
        return true;
    }
    return false;
}

sl_status_t sl_cluster_register(sl_cluster_t *cl, const Sluice__RegisterWorker *reg,
                                sl_conn_t *conn, uint64_t now_mono, uint64_t now_wall,
                                sl_conn_t **replaced, char *err)
{
    char host[256];
    uint16_t port;
    *replaced = NULL;
    size_t idlen = strlen(reg->worker_id);
    if (idlen == 0 || idlen > SL_WORKER_ID_MAX) {
        snprintf(err, SL_ERRMSG_LEN, "worker id must be 1 to %d characters", SL_WORKER_ID_MAX);
        return SL_ERR_INVALID;
    }
    if (sl_parse_hostport(reg->address, host, sizeof host, &port, err) != SL_OK)
        return SL_ERR_INVALID;
    if (reg->cores == 0) {
        snprintf(err, SL_ERRMSG_LEN, "worker %s offers no cores", reg->worker_id);
        return SL_ERR_INVALID;
    }
    sl_worker_entry_t *w = sl_cluster_find(cl, reg->worker_id);
    if (w && w->state == SLUICE__WORKER_STATE__WORKER_ALIVE && w->conn && w->conn != conn &&
        strcmp(w->address, reg->address) != 0) {
        snprintf(err, SL_ERRMSG_LEN, "worker id '%.64s' is already registered by a live worker at %.64s",
                 reg->worker_id, w->address);
        return SL_ERR_EXISTS;
    }
    if (!w) {
        if (cl->n == cl->cap) {
            size_t cap = cl->cap ? cl->cap * 2 : 8;
            sl_worker_entry_t *nw = realloc(cl->workers, cap * sizeof *nw);
            if (!nw)
                return SL_ERR_NOMEM;
            cl->workers = nw;
            cl->cap = cap;
        }
        w = &cl->workers[cl->n++];
        memset(w, 0, sizeof *w);
        snprintf(w->id, sizeof w->id, "%s", reg->worker_id);
    }
    if (w->conn && w->conn != conn) {
        *replaced = w->conn;
        /* The same worker on a new connection: its old incarnation is gone
         * (with its receivers and task output), so it dies first. */
        if (w->state == SLUICE__WORKER_STATE__WORKER_ALIVE)
            sl_worker_mark_dead(cl, w, "registered again on a new connection", 0);
    }
    snprintf(w->address, sizeof w->address, "%s", reg->address);
    w->cores = reg->cores;
    w->memory_bytes = reg->memory_bytes;
    w->state = SLUICE__WORKER_STATE__WORKER_ALIVE;
    w->last_heartbeat_mono = now_mono;
    w->registered_wall = now_wall;
    w->registrations++;
    w->silent_ms_when_dead = 0;
    w->dead_reason[0] = '\0';
    w->conn = conn;
    sl_info("cluster", "worker %s registered from %s: %u cores, %llu MiB (registration %u)", w->id,
            w->address, w->cores, (unsigned long long)(w->memory_bytes >> 20), w->registrations);
    if (cl->listener)
        cl->listener(cl->listener_arg, w->id, w->address, true);
    return SL_OK;
}

bool sl_cluster_heartbeat(sl_cluster_t *cl, const char *worker_id, sl_conn_t *conn,
                          uint64_t now_mono)
{
    sl_worker_entry_t *w = sl_cluster_find(cl, worker_id);
    if (!w || w->state != SLUICE__WORKER_STATE__WORKER_ALIVE || w->conn != conn)
        return false;
    w->last_heartbeat_mono = now_mono;
    return true;
}

void sl_cluster_conn_lost(sl_cluster_t *cl, sl_conn_t *conn, const char *why)
{
    for (size_t i = 0; i < cl->n; i++) {
        sl_worker_entry_t *w = &cl->workers[i];
        if (w->conn != conn)
            continue;
        w->conn = NULL;
        if (w->state == SLUICE__WORKER_STATE__WORKER_ALIVE) {
            char reason[128];
            snprintf(reason, sizeof reason, "connection lost: %.100s", why);
            sl_worker_mark_dead(cl, w, reason, 0);
        }
    }
}

size_t sl_cluster_sweep(sl_cluster_t *cl, uint64_t now_mono)
{
    size_t dead = 0;
    for (size_t i = 0; i < cl->n; i++) {
        sl_worker_entry_t *w = &cl->workers[i];
        if (w->state != SLUICE__WORKER_STATE__WORKER_ALIVE)
            continue;
        uint64_t silent = now_mono - w->last_heartbeat_mono;
        if (silent <= cl->timeout_ms)
            continue;
        char reason[128];
        snprintf(reason, sizeof reason, "no heartbeat for %llu ms (timeout %llu ms)",
                 (unsigned long long)silent, (unsigned long long)cl->timeout_ms);
        sl_worker_mark_dead(cl, w, reason, silent);
        dead++;
    }
    return dead;
}

size_t sl_cluster_count(const sl_cluster_t *cl, Sluice__WorkerState state)
{
    size_t n = 0;
    for (size_t i = 0; i < cl->n; i++)
        n += cl->workers[i].state == state;
    return n;
}

Sluice__ClusterStatus *sl_cluster_status_new(const sl_cluster_t *cl, uint64_t now_mono)
{
    Sluice__ClusterStatus *cs = calloc(1, sizeof *cs);
    if (!cs)
        return NULL;
    sluice__cluster_status__init(cs);
    cs->worker_timeout_ms = cl->timeout_ms;
    if (cl->n == 0)
        return cs;
    /* One array of pointers, one array of infos: workers[0] owns the latter. */
    cs->workers = calloc(cl->n, sizeof *cs->workers);
    Sluice__WorkerInfo *infos = calloc(cl->n, sizeof *infos);
    if (!cs->workers || !infos) {
        free(infos);
        free(cs->workers);
        free(cs);
        return NULL;
    }
    for (size_t i = 0; i < cl->n; i++) {
        const sl_worker_entry_t *w = &cl->workers[i];
        Sluice__WorkerInfo *wi = &infos[i];
        sluice__worker_info__init(wi);
        /* Strings are borrowed from the registry: valid until it changes. */
        wi->worker_id = (char *)w->id;
        wi->address = (char *)w->address;
        wi->cores = w->cores;
        wi->memory_bytes = w->memory_bytes;
        wi->state = w->state;
        wi->last_heartbeat_ago_ms = now_mono - w->last_heartbeat_mono;
        wi->registered_at_unix_ms = w->registered_wall;
        wi->dead_reason = (char *)w->dead_reason;
        wi->silent_ms_when_declared_dead = w->silent_ms_when_dead;
        wi->registrations = w->registrations;
        cs->workers[i] = wi;
    }
    cs->n_workers = cl->n;
    return cs;
}

void sl_cluster_status_free(Sluice__ClusterStatus *cs)
{
    if (!cs)
        return;
    if (cs->n_workers)
        free(cs->workers[0]);
    free(cs->workers);
    free(cs);
}
