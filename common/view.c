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

/* The master's place in cluster mode, or JSON null when the status has none
 * (a master from before cluster mode). */
static json_t *sl_view_master_json(const Sluice__MasterInfo *mi)
{
    if (!mi)
        return json_null();
    return json_pack("{s:b, s:s, s:I, s:s, s:s, s:I, s:b, s:I, s:I, s:I, s:I}",
                     "active", mi->active, "checkpoint", mi->checkpoint,
                     "epoch", (json_int_t)mi->epoch, "lease_holder", mi->lease_holder,
                     "lease_address", mi->lease_address,
                     "lease_expires_ms", (json_int_t)mi->lease_expires_ms,
                     "recovering", mi->recovering,
                     "workers_expected", (json_int_t)mi->workers_expected,
                     "workers_back", (json_int_t)mi->workers_back,
                     "batches_to_rerun", (json_int_t)mi->batches_to_rerun,
                     "jobs_recovered", (json_int_t)mi->jobs_recovered);
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
    return json_pack("{s:s, s:I, s:I, s:b, s:o, s:o}", "master", cs->master_address,
                     "uptime_ms", (json_int_t)cs->uptime_ms,
                     "worker_timeout_ms", (json_int_t)cs->worker_timeout_ms,
                     "authenticated", cs->authenticated, "master_info",
                     sl_view_master_json(cs->master), "workers", workers);
}
