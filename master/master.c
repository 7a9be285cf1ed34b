/* sluice-master: accepts worker and client connections, dispatches their
 * requests from a table, keeps the worker registry fresh with a sweep timer,
 * and serves the HTTP API. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "auth.h"
#include "checkpoint.h"
#include "cluster.h"
#include "conn.h"
#include "daemon.h"
#include "engine.h"
#include "http.h"
#include "log.h"
#include "master.h"
#include "parse.h"
#include "timeutil.h"

#define SL_MASTER_IDLE_MIN_MS 30000

struct sl_master {
    sl_master_opts_t opts;
    struct event_base *base;
    sl_listener_t *listener;
    sl_http_t *http;
    sl_cluster_t *cluster;
    sl_engine_t *engine;
    sl_secret_t *secret;
    sl_signals_t signals;
    struct event *sweep_timer;
    sl_conn_t **conns;          /* every live connection, owned */
    size_t nconns, capconns;
    uint64_t started_mono;
    sl_master_stats_t stats;
    /* cluster mode */
    char id[160];               /* lease holder name */
    sl_ckpt_t *ckpt;
    char wal_root[1024];
    bool active;                /* holds the lease (always, without a checkpoint) */
    sl_lease_t lease;           /* as last read or written */
    uint64_t lease_valid_mono;  /* ours until this monotonic time */
    struct event *lease_timer;
    char refuse[SL_ERRMSG_LEN]; /* standby: why connections are refused */
    bool stopping;
    sl_status_t exit_status;
};

typedef void (*sl_master_handler)(sl_master_t *m, sl_conn_t *c, const sl_envelope_t *env);

/* --- request handlers ------------------------------------------------------------ */

static void sl_master_on_register(sl_master_t *m, sl_conn_t *c, const sl_envelope_t *env)
{
    char err[SL_ERRMSG_LEN];
    sl_conn_t *replaced = NULL;
    sl_status_t st = sl_cluster_register(m->cluster, env->register_worker, c, sl_time_mono_ms(),
                                         sl_time_wall_ms(), &replaced, err);
    if (st != SL_OK) {
        sl_warn("master", "refused registration from %s: %s", sl_conn_peer(c), err);
        sl_conn_reply_error(c, env, st, err);
        return;
    }
    if (replaced)
        sl_conn_close(replaced);
    Sluice__Envelope reply = SLUICE__ENVELOPE__INIT;
    Sluice__RegisterWorkerReply r = SLUICE__REGISTER_WORKER_REPLY__INIT;
    r.heartbeat_interval_ms = (uint32_t)sl_cluster_heartbeat_interval_ms(m->cluster);
    r.master_epoch = m->lease.epoch;
    reply.body_case = SLUICE__ENVELOPE__BODY_REGISTER_WORKER_REPLY;
    reply.register_worker_reply = &r;
    sl_conn_reply(c, env, &reply, NULL, 0);
}

static void sl_master_on_heartbeat(sl_master_t *m, sl_conn_t *c, const sl_envelope_t *env)
{
    Sluice__Envelope reply = SLUICE__ENVELOPE__INIT;
    Sluice__HeartbeatReply r = SLUICE__HEARTBEAT_REPLY__INIT;
    r.known = sl_cluster_heartbeat(m->cluster, env->heartbeat->worker_id, c, sl_time_mono_ms());
    if (!r.known)
        sl_info("master", "heartbeat from unknown or dead worker '%s' at %s: asking it to register",
                env->heartbeat->worker_id, sl_conn_peer(c));
    reply.body_case = SLUICE__ENVELOPE__BODY_HEARTBEAT_REPLY;
    reply.heartbeat_reply = &r;
    sl_conn_reply(c, env, &reply, NULL, 0);
}

static void sl_master_on_status(sl_master_t *m, sl_conn_t *c, const sl_envelope_t *env)
{
    Sluice__ClusterStatus *cs = sl_master_status_new(m);
    if (!cs) {
        sl_conn_reply_error(c, env, SL_ERR_NOMEM, "out of memory");
        return;
    }
    Sluice__Envelope reply = SLUICE__ENVELOPE__INIT;
    reply.body_case = SLUICE__ENVELOPE__BODY_CLUSTER_STATUS;
    reply.cluster_status = cs;
    sl_conn_reply(c, env, &reply, NULL, 0);
    sl_master_status_free(cs);
}

/* Job requests go to the engine, which answers now or later. */
#define SL_ENGINE_HANDLER(name, fn)                                                    \
    static void name(sl_master_t *m, sl_conn_t *c, const sl_envelope_t *env)          \
    {                                                                                  \
        fn(m->engine, c, env);                                                         \
    }
SL_ENGINE_HANDLER(sl_master_on_submit, sl_engine_submit)
SL_ENGINE_HANDLER(sl_master_on_list_jobs, sl_engine_list_jobs)
SL_ENGINE_HANDLER(sl_master_on_stop_job, sl_engine_stop_job)
SL_ENGINE_HANDLER(sl_master_on_tick, sl_engine_tick)
SL_ENGINE_HANDLER(sl_master_on_list_batches, sl_engine_list_batches)
SL_ENGINE_HANDLER(sl_master_on_locate, sl_engine_locate)
SL_ENGINE_HANDLER(sl_master_on_watch, sl_engine_watch)

#define SL_ROLE_BIT(r) (1u << (r))
#define SL_ANY_ROLE (SL_ROLE_BIT(SLUICE__ROLE__ROLE_MASTER) | SL_ROLE_BIT(SLUICE__ROLE__ROLE_WORKER) | \
                     SL_ROLE_BIT(SLUICE__ROLE__ROLE_CLIENT))

static const struct {
    Sluice__Envelope__BodyCase body;
    sl_master_handler fn;
    unsigned roles;             /* who may send it */
} sl_master_handlers[] = {
    { SLUICE__ENVELOPE__BODY_REGISTER_WORKER, sl_master_on_register,
      SL_ROLE_BIT(SLUICE__ROLE__ROLE_WORKER) },
    { SLUICE__ENVELOPE__BODY_HEARTBEAT, sl_master_on_heartbeat,
      SL_ROLE_BIT(SLUICE__ROLE__ROLE_WORKER) },
    { SLUICE__ENVELOPE__BODY_CLUSTER_STATUS_REQUEST, sl_master_on_status, SL_ANY_ROLE },
    { SLUICE__ENVELOPE__BODY_SUBMIT_JOB, sl_master_on_submit, SL_ANY_ROLE },
    { SLUICE__ENVELOPE__BODY_LIST_JOBS, sl_master_on_list_jobs, SL_ANY_ROLE },
    { SLUICE__ENVELOPE__BODY_STOP_JOB, sl_master_on_stop_job, SL_ANY_ROLE },
    { SLUICE__ENVELOPE__BODY_TICK, sl_master_on_tick, SL_ANY_ROLE },
    { SLUICE__ENVELOPE__BODY_LIST_BATCHES, sl_master_on_list_batches, SL_ANY_ROLE },
    { SLUICE__ENVELOPE__BODY_LOCATE_STREAM, sl_master_on_locate, SL_ANY_ROLE },
    { SLUICE__ENVELOPE__BODY_WATCH, sl_master_on_watch, SL_ANY_ROLE },
};

static void sl_master_on_message(sl_conn_t *c, const sl_envelope_t *env, const uint8_t *payload,
                                 size_t payload_len, void *arg)
{
    sl_master_t *m = arg;
    for (size_t i = 0; i < sizeof sl_master_handlers / sizeof *sl_master_handlers; i++) {
        if (sl_master_handlers[i].body != env->body_case)
            continue;
        if (!(sl_master_handlers[i].roles & SL_ROLE_BIT(sl_conn_peer_role(c)))) {
            char msg[SL_ERRMSG_LEN];
            snprintf(msg, sizeof msg, "a %s may not send '%s'", sl_role_name(sl_conn_peer_role(c)),
                     sl_msg_name(env->body_case));
            sl_warn("master", "%s: %s", sl_conn_peer(c), msg);
            sl_conn_reply_error(c, env, SL_ERR_PROTOCOL, msg);
            return;
        }
        sl_master_handlers[i].fn(m, c, env);
        return;
    }
    char msg[SL_ERRMSG_LEN];
    snprintf(msg, sizeof msg, "the master does not handle '%s' messages",
             sl_msg_name(env->body_case));
    sl_warn("master", "%s: %s", sl_conn_peer(c), msg);
    sl_conn_reply_error(c, env, SL_ERR_UNKNOWN_MESSAGE, msg);
}

/* --- connections -------------------------------------------------------------------- */

static void sl_master_on_close(sl_conn_t *c, sl_status_t why, const char *msg, void *arg)
{
    sl_master_t *m = arg;
    m->stats.connections_closed[why < SL_STATUS_COUNT ? why : SL_ERR_INTERNAL]++;
    sl_engine_conn_closed(m->engine, c);
    sl_cluster_conn_lost(m->cluster, c, msg);
    for (size_t i = 0; i < m->nconns; i++) {
        if (m->conns[i] == c) {
            m->conns[i] = m->conns[--m->nconns];
            break;
        }
    }
}

/* Clients may wait long and quietly (a graceful stop, tick --wait, watch):
 * only workers, which heartbeat, are held to the idle timeout. */
static void sl_master_on_ready(sl_conn_t *c, void *arg)
{
    if (sl_conn_peer_role(c) == SLUICE__ROLE__ROLE_CLIENT)
        sl_conn_set_idle_timeout(c, 0);
}

static const sl_conn_handlers_t sl_master_conn_handlers = {
    .on_message = sl_master_on_message,
    .on_ready = sl_master_on_ready,
    .on_close = sl_master_on_close,
};

static void sl_master_accept(evutil_socket_t fd, const char *peer, void *arg)
{
    sl_master_t *m = arg;
    if (m->nconns == m->capconns) {
        size_t cap = m->capconns ? m->capconns * 2 : 16;
        sl_conn_t **nc = realloc(m->conns, cap * sizeof *nc);
        if (!nc) {
            sl_error("master", "out of memory accepting %s", peer);
            evutil_closesocket(fd);
            return;
        }
        m->conns = nc;
        m->capconns = cap;
    }
    uint64_t idle = m->opts.worker_timeout_ms * 3;
    sl_conn_opts_t o = {
        .idle_timeout_ms = idle < SL_MASTER_IDLE_MIN_MS ? SL_MASTER_IDLE_MIN_MS : idle,
        .secret = m->secret,
        .role = SLUICE__ROLE__ROLE_MASTER,
        .name = "master",
        .component = "master",
        /* A standby turns everyone away, naming the active master. */
        .refuse = m->active && !m->stopping ? NULL : m->refuse,
        .epoch = m->active ? m->lease.epoch : 0,
    };
    sl_conn_t *c = sl_conn_accept(m->base, fd, peer, &o, &sl_master_conn_handlers, m);
    if (!c) {
        sl_error("master", "cannot set up a connection for %s", peer);
        return;
    }
    m->stats.connections_accepted++;
    m->conns[m->nconns++] = c;
    sl_debug("master", "accepted connection from %s", peer);
}

/* --- timers and signals ----------------------------------------------------------------- */

/* Stops the loop; run() returns `st`. */
static void sl_master_exit(sl_master_t *m, sl_status_t st)
{
    if (m->exit_status == SL_OK)
        m->exit_status = st;
    event_base_loopbreak(m->base);
}

/* A newer master holds the lease: this one must not act any more. It exits
 * (non-zero); its supervisor starts it again, as a standby. */
static void sl_master_fenced(void *arg, const char *why)
{
    sl_master_t *m = arg;
    if (!m->active)
        return;
    m->active = false;
    sl_error("master", "fenced: %s; stopping (a restart comes back as a standby)", why);
    sl_master_exit(m, SL_ERR_FENCED);
}

static void sl_master_sweep_cb(evutil_socket_t fd, short what, void *arg)
{
    sl_master_t *m = arg;
    /* A leader stops acting at its own expiry, even when it cannot reach the
     * checkpoint to learn that it lost the lease. */
    if (m->ckpt && m->active && sl_time_mono_ms() >= m->lease_valid_mono) {
        sl_master_fenced(m, "the lease expired before it could be renewed");
        return;
    }
    sl_cluster_sweep(m->cluster, sl_time_mono_ms());
}

static void sl_master_standby_reason(sl_master_t *m)
{
    snprintf(m->refuse, sizeof m->refuse, "this master is a standby; the active master is "
             "%.64s at %.64s (lease epoch %llu)", m->lease.holder, m->lease.address,
             (unsigned long long)m->lease.epoch);
}

static void sl_master_arm_lease(sl_master_t *m, uint64_t ms)
{
    struct timeval tv = sl_time_tv(ms ? ms : 1);
    evtimer_add(m->lease_timer, &tv);
}

/* The lease was taken: reload the jobs and serve. */
static void sl_master_take_over(sl_master_t *m)
{
    char err[SL_ERRMSG_LEN];
    m->active = true;
    sl_info("master", "holding the lease at epoch %llu: active", (unsigned long long)m->lease.epoch);
    if (sl_engine_recover(m->engine, err) != SL_OK) {
        sl_error("master", "cannot recover from the checkpoint: %s", err);
        m->active = false;
        sl_master_exit(m, SL_ERR_CORRUPT);
    }
}

/* Standby: tries to take the lease (at once when the holder's expires);
 * active: renews it every third of its time to live. */
static void sl_master_lease_cb(evutil_socket_t fd, short what, void *arg)
{
    sl_master_t *m = arg;
    char err[SL_ERRMSG_LEN];
    uint64_t ttl = m->opts.lease_ms, before = sl_time_mono_ms();
    int64_t now = (int64_t)sl_time_wall_ms();
    if (m->stopping)
        return;
    if (m->active) {
        sl_status_t st = sl_ckpt_lease_renew(m->ckpt, now, ttl, err);
        if (st == SL_OK) {
            m->lease_valid_mono = before + ttl;
            m->lease.expires_ms = now + (int64_t)ttl;
        } else if (st == SL_ERR_FENCED) {
            sl_master_fenced(m, err);
            return;
        } else {
            sl_warn("master", "cannot renew the lease: %s; this master stops acting in %llu ms "
                    "unless a renewal succeeds", err,
                    (unsigned long long)(m->lease_valid_mono > before ? m->lease_valid_mono - before : 0));
        }
        sl_master_arm_lease(m, ttl / 3);
        return;
    }
    sl_lease_t held;
    sl_status_t st = sl_ckpt_lease_acquire(m->ckpt, m->id, m->opts.listen, now, ttl, &held, err);
    if (st == SL_OK) {
        m->lease = held;
        m->lease_valid_mono = before + ttl;
        sl_master_take_over(m);
        sl_master_arm_lease(m, ttl / 3);
        return;
    }
    uint64_t next = ttl / 4 < 50 ? 50 : ttl / 4;
    if (st == SL_ERR_UNAVAILABLE) {
        bool news = held.epoch != m->lease.epoch || strcmp(held.holder, m->lease.holder) != 0;
        m->lease = held;
        sl_master_standby_reason(m);
        if (news)
            sl_info("master", "standby: the lease is held by %s at %s (epoch %llu)", held.holder,
                    held.address, (unsigned long long)held.epoch);
        if (held.expires_ms > now && (uint64_t)(held.expires_ms - now) + 1 < next)
            next = (uint64_t)(held.expires_ms - now) + 1;
    } else {
        sl_warn("master", "cannot read the lease: %s", err);
    }
    sl_master_arm_lease(m, next);
}

static void sl_master_drained(void *arg)
{
    sl_master_t *m = arg;
    sl_master_exit(m, SL_OK);
}

static void sl_master_on_signal(int signo, void *arg)
{
    sl_master_t *m = arg;
    /* Without a checkpoint nothing outlives this process: no drain. */
    if (m->stopping || !m->active || !m->ckpt) {
        sl_info("master", "signal %d: shutting down", signo);
        sl_master_exit(m, SL_OK);
        return;
    }
    m->stopping = true;
    snprintf(m->refuse, sizeof m->refuse, "this master is shutting down; try another");
    char tmo[32];
    sl_format_duration_ms(m->opts.stop_timeout_ms, tmo, sizeof tmo);
    sl_info("master", "signal %d: stopping receivers and finishing what was acked (at most %s; "
            "a second signal stops at once)", signo, tmo);
    sl_engine_drain(m->engine, m->opts.stop_timeout_ms, sl_master_drained, m);
}

/* --- life cycle ---------------------------------------------------------------------------- */

static sl_status_t sl_master_check_dir(const char *dir, char *err)
{
    if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
        snprintf(err, SL_ERRMSG_LEN, "cannot create checkpoint directory '%.128s': %s", dir,
                 strerror(errno));
        return SL_ERR_IO;
    }
    if (access(dir, W_OK | X_OK) != 0) {
        snprintf(err, SL_ERRMSG_LEN, "checkpoint directory '%.128s' is not writable: %s", dir,
                 strerror(errno));
        return SL_ERR_IO;
    }
    return SL_OK;
}

sl_master_t *sl_master_new(const sl_master_opts_t *opts, char *err)
{
    sl_master_t *m = calloc(1, sizeof *m);
    if (!m) {
        snprintf(err, SL_ERRMSG_LEN, "out of memory");
        return NULL;
    }
    m->opts = *opts;
    m->started_mono = sl_time_mono_ms();
    if (opts->checkpoint_dir && sl_master_check_dir(opts->checkpoint_dir, err) != SL_OK)
        goto fail;
    if (opts->secret_file && sl_secret_load(opts->secret_file, &m->secret, err) != SL_OK)
        goto fail;
    if (opts->checkpoint_dir && sl_ckpt_open(opts->checkpoint_dir, &m->ckpt, err) != SL_OK)
        goto fail;
    if (opts->wal && !m->ckpt) {
        snprintf(err, SL_ERRMSG_LEN, "--wal needs --checkpoint-dir: the logs live there");
        goto fail;
    }
    if (m->ckpt)
        snprintf(m->wal_root, sizeof m->wal_root, "%s/wal", opts->checkpoint_dir);
    char host[128] = "localhost";
    gethostname(host, sizeof host - 1);
    snprintf(m->id, sizeof m->id, "master-%.100s-%.40s", host, opts->listen);
    m->active = m->ckpt == NULL;
    snprintf(m->refuse, sizeof m->refuse, "this master is a standby; no master holds the lease yet");
    m->base = sl_event_base_new();
    m->cluster = sl_cluster_new(opts->worker_timeout_ms);
    if (!m->base || !m->cluster) {
        snprintf(err, SL_ERRMSG_LEN, "out of memory");
        goto fail;
    }
    sl_engine_opts_t eo = { .base = m->base, .cluster = m->cluster,
                            .manual_clock = opts->manual_clock,
                            .scratch_dir = opts->checkpoint_dir,
                            .ckpt = m->ckpt,
                            .wal_root = m->ckpt ? m->wal_root : NULL,
                            .wal_default = opts->wal,
                            .recovery_wait_ms = opts->recovery_wait_ms,
                            .fenced = sl_master_fenced,
                            .fenced_arg = m };
    m->engine = sl_engine_new(&eo, err);
    if (!m->engine)
        goto fail;
    sl_cluster_set_listener(m->cluster, sl_engine_worker_changed, m->engine);
    if (sl_signals_init(&m->signals, m->base, sl_master_on_signal, m) != SL_OK) {
        snprintf(err, SL_ERRMSG_LEN, "cannot install signal handlers");
        goto fail;
    }
    m->listener = sl_listener_new(m->base, opts->listen, sl_master_accept, m, err);
    if (!m->listener)
        goto fail;
    m->http = sl_http_new(m->base, opts->http, m, err);
    if (!m->http)
        goto fail;
    uint64_t sweep = opts->worker_timeout_ms / 10;
    sweep = sweep < 10 ? 10 : sweep > 250 ? 250 : sweep;
    m->sweep_timer = event_new(m->base, -1, EV_PERSIST, sl_master_sweep_cb, m);
    struct timeval tv = sl_time_tv(sweep);
    if (!m->sweep_timer || event_add(m->sweep_timer, &tv) != 0) {
        snprintf(err, SL_ERRMSG_LEN, "cannot start the liveness timer");
        goto fail;
    }
    m->lease_timer = evtimer_new(m->base, sl_master_lease_cb, m);
    if (!m->lease_timer) {
        snprintf(err, SL_ERRMSG_LEN, "out of memory");
        goto fail;
    }
    if (m->ckpt)
        sl_master_arm_lease(m, 0);   /* the first attempt, from the loop */
    return m;
fail:
    sl_master_free(m);
    return NULL;
}

sl_status_t sl_master_run(sl_master_t *m)
{
    char tmo[32];
    sl_format_duration_ms(m->opts.worker_timeout_ms, tmo, sizeof tmo);
    sl_info("master", "listening on %s, HTTP on %s, worker timeout %s", m->opts.listen,
            m->opts.http, tmo);
    if (!m->secret)
        sl_warn("master", "no --secret-file: the cluster runs open, without authentication");
    if (m->opts.manual_clock)
        sl_info("master", "manual clock: batches advance only with 'sluice tick'");
    if (m->ckpt) {
        char ttl[32];
        sl_format_duration_ms(m->opts.lease_ms, ttl, sizeof ttl);
        sl_info("master", "checkpoint %s, lease %s, as %s", sl_ckpt_path(m->ckpt), ttl, m->id);
    } else {
        sl_warn("master", "no --checkpoint-dir: jobs do not survive a restart of this master");
    }
    if (event_base_dispatch(m->base) < 0)
        return SL_ERR_INTERNAL;
    char err[SL_ERRMSG_LEN];
    if (m->ckpt && m->active && m->exit_status == SL_OK) {
        /* Leaving on purpose: a standby need not wait for the lease to expire. */
        if (sl_ckpt_lease_release(m->ckpt, err) == SL_OK)
            sl_info("master", "lease released");
        else
            sl_warn("master", "cannot release the lease: %s", err);
    }
    return m->exit_status;
}

void sl_master_free(sl_master_t *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->nconns; i++)
        sl_conn_free(m->conns[i]);
    free(m->conns);
    if (m->sweep_timer)
        event_free(m->sweep_timer);
    if (m->lease_timer)
        event_free(m->lease_timer);
    sl_http_free(m->http);
    sl_listener_free(m->listener);
    sl_signals_free(&m->signals);
    if (m->cluster)
        sl_cluster_set_listener(m->cluster, NULL, NULL);
    sl_engine_free(m->engine);
    sl_cluster_free(m->cluster);
    sl_ckpt_close(m->ckpt);
    sl_secret_free(m->secret);
    if (m->base)
        event_base_free(m->base);
    free(m);
}

Sluice__ClusterStatus *sl_master_status_new(const sl_master_t *m)
{
    Sluice__ClusterStatus *cs = sl_cluster_status_new(m->cluster, sl_time_mono_ms());
    if (!cs)
        return NULL;
    cs->master_address = (char *)m->opts.listen;
    cs->uptime_ms = sl_time_mono_ms() - m->started_mono;
    cs->authenticated = m->secret != NULL;
    Sluice__MasterInfo *mi = malloc(sizeof *mi);
    if (mi) {
        sluice__master_info__init(mi);
        mi->active = m->active;
        mi->checkpoint = (char *)(m->ckpt ? sl_ckpt_path(m->ckpt) : "");
        mi->epoch = m->lease.epoch;
        mi->lease_holder = (char *)m->lease.holder;
        mi->lease_address = (char *)m->lease.address;
        mi->lease_expires_ms = m->lease.expires_ms;
        if (m->active)
            sl_engine_recovery_info(m->engine, mi);
        cs->master = mi;
    }
    return cs;
}

void sl_master_status_free(Sluice__ClusterStatus *cs)
{
    if (cs) {
        free(cs->master);   /* its strings are borrowed */
        cs->master = NULL;
    }
    sl_cluster_status_free(cs);
}

const sl_master_stats_t *sl_master_stats(const sl_master_t *m)
{
    return &m->stats;
}
