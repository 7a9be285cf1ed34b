/* JSON renderings of status messages. */
#include "view.h"

const char *sl_view_worker_state(Sluice__WorkerState s)
{
    switch (s) {
    case SLUICE__WORKER_STATE__WORKER_ALIVE: return "alive";
    case SLUICE__WORKER_STATE__WORKER_DEAD: return "dead";
    default: return "unknown";
    }
}

json_t *sl_view_cluster_json(const Sluice__ClusterStatus *cs)
{
    json_t *workers = json_array();
    for (size_t i = 0; i < cs->n_workers; i++) {
        const Sluice__WorkerInfo *w = cs->workers[i];
        json_array_append_new(workers, json_pack(
            "{s:s, s:s, s:I, s:I, s:s, s:I, s:I, s:I, s:s, s:I}",
            "id", w->worker_id, "address", w->address, "cores", (json_int_t)w->cores,
            "memory_bytes", (json_int_t)w->memory_bytes, "state", sl_view_worker_state(w->state),
            "last_heartbeat_ago_ms", (json_int_t)w->last_heartbeat_ago_ms,
            "registered_at_unix_ms", (json_int_t)w->registered_at_unix_ms,
            "registrations", (json_int_t)w->registrations, "dead_reason", w->dead_reason,
            "silent_ms_when_declared_dead", (json_int_t)w->silent_ms_when_declared_dead));
    }
    return json_pack("{s:s, s:I, s:I, s:b, s:o}", "master", cs->master_address,
                     "uptime_ms", (json_int_t)cs->uptime_ms,
                     "worker_timeout_ms", (json_int_t)cs->worker_timeout_ms,
                     "authenticated", cs->authenticated, "workers", workers);
}
