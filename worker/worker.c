/* sluice-worker: registers with a master (trying each address of the list,
 * backing off between attempts), heartbeats at the interval the master asks
 * for, re-registers when the master forgot it, and serves its own port. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "auth.h"
#include "conn.h"
#include "daemon.h"
#include "executor.h"
#include "log.h"
#include "parse.h"
#include "timeutil.h"
#include "worker.h"

#define SL_BACKOFF_MIN_MS 100
#define SL_BACKOFF_MAX_MS 3000
#define SL_REGISTER_TIMEOUT_MS 5000
#define SL_PEER_IDLE_MS 60000

typedef enum {
    SL_LINK_DOWN,           /* waiting for the reconnect timer */
    SL_LINK_CONNECTING,     /* TCP + handshake */
    SL_LINK_REGISTERING,
    SL_LINK_REGISTERED,
} sl_link_state_t;

struct sl_worker {
    sl_worker_opts_t opts;
    char id[160];
    struct event_base *base;
    sl_secret_t *secret;
    sl_signals_t signals;
    sl_listener_t *listener;
    sl_executor_t *executor;
    bool stopping;

    /* link to the master */
    char **masters;
    size_t nmasters, next_master;
    sl_conn_t *master;
    sl_link_state_t link;
    uint64_t backoff_ms;
    uint64_t heartbeat_ms;
    bool heartbeat_inflight;
    struct event *reconnect_timer;
    struct event *heartbeat_timer;

    /* incoming connections */
    sl_conn_t **peers;
    size_t npeers, cappeers;
};

static void sl_worker_connect(sl_worker_t *w);

/* --- master link ------------------------------------------------------------------- */

static void sl_worker_schedule_reconnect(sl_worker_t *w)
{
    if (w->stopping)
        return;
    w->link = SL_LINK_DOWN;
    /* Jitter: a random point in [backoff/2, backoff], so restarted workers do
     * not all knock at once. */
    uint8_t r[SL_NONCE_LEN] = { 0 };
    (void)sl_auth_nonce(r);
    uint64_t delay = w->backoff_ms / 2 + (r[0] | (uint64_t)r[1] << 8) % (w->backoff_ms / 2 + 1);
    w->backoff_ms = w->backoff_ms * 2 > SL_BACKOFF_MAX_MS ? SL_BACKOFF_MAX_MS : w->backoff_ms * 2;
    struct timeval tv = sl_time_tv(delay);
    evtimer_add(w->reconnect_timer, &tv);
}

static void sl_worker_register(sl_worker_t *w);

static void sl_worker_on_heartbeat_reply(sl_conn_t *c, sl_status_t st, const sl_envelope_t *reply,
                                         const uint8_t *payload, size_t len, const char *msg,
                                         void *arg)
{
    sl_worker_t *w = arg;
    w->heartbeat_inflight = false;
    if (w->stopping || c != w->master)
        return;
    if (st != SL_OK) {
        sl_warn("worker", "heartbeat to master %s failed: %s; reconnecting", sl_conn_peer(c), msg);
        sl_conn_close(c);
        return;
    }
    if (reply->body_case != SLUICE__ENVELOPE__BODY_HEARTBEAT_REPLY) {
        sl_warn("worker", "master %s answered a heartbeat with '%s'; reconnecting",
                sl_conn_peer(c), sl_msg_name(reply->body_case));
        sl_conn_close(c);
        return;
    }
    if (!reply->heartbeat_reply->known && w->link == SL_LINK_REGISTERED) {
        sl_info("worker", "master %s does not know us (any more): registering again",
                sl_conn_peer(c));
        sl_worker_register(w);
    }
}

static void sl_worker_heartbeat_cb(evutil_socket_t fd, short what, void *arg)
{
    sl_worker_t *w = arg;
    if (w->link != SL_LINK_REGISTERED || w->heartbeat_inflight)
        return;
    Sluice__Envelope env = SLUICE__ENVELOPE__INIT;
    Sluice__Heartbeat hb = SLUICE__HEARTBEAT__INIT;
    hb.worker_id = w->id;
    env.body_case = SLUICE__ENVELOPE__BODY_HEARTBEAT;
    env.heartbeat = &hb;
    uint64_t timeout = w->heartbeat_ms * 4 < 2000 ? 2000 : w->heartbeat_ms * 4;
    if (sl_conn_request(w->master, &env, NULL, 0, timeout, sl_worker_on_heartbeat_reply, w) == SL_OK)
        w->heartbeat_inflight = true;
}

static void sl_worker_on_register_reply(sl_conn_t *c, sl_status_t st, const sl_envelope_t *reply,
                                        const uint8_t *payload, size_t len, const char *msg,
                                        void *arg)
{
    sl_worker_t *w = arg;
    if (w->stopping || c != w->master)
        return;
    if (st != SL_OK || reply->body_case != SLUICE__ENVELOPE__BODY_REGISTER_WORKER_REPLY) {
        sl_error("worker", "master %s refused registration of %s: %s", sl_conn_peer(c), w->id,
                 st != SL_OK ? msg : "unexpected reply");
        sl_conn_close(c);
        return;
    }
    uint64_t iv = reply->register_worker_reply->heartbeat_interval_ms;
    w->heartbeat_ms = iv < 10 ? 10 : iv;
    w->link = SL_LINK_REGISTERED;
    w->backoff_ms = SL_BACKOFF_MIN_MS;
    struct timeval tv = sl_time_tv(w->heartbeat_ms);
    evtimer_del(w->heartbeat_timer);
    event_add(w->heartbeat_timer, &tv);
    sl_info("worker", "registered with master %s as %s (heartbeat every %llu ms)", sl_conn_peer(c),
            w->id, (unsigned long long)w->heartbeat_ms);
}

static void sl_worker_register(sl_worker_t *w)
{
    Sluice__Envelope env = SLUICE__ENVELOPE__INIT;
    Sluice__RegisterWorker reg = SLUICE__REGISTER_WORKER__INIT;
    reg.worker_id = w->id;
    reg.address = (char *)(w->opts.advertise ? w->opts.advertise : w->opts.listen);
    reg.cores = (uint32_t)w->opts.cores;
    reg.memory_bytes = w->opts.memory_bytes;
    env.body_case = SLUICE__ENVELOPE__BODY_REGISTER_WORKER;
    env.register_worker = &reg;
    w->link = SL_LINK_REGISTERING;
    if (sl_conn_request(w->master, &env, NULL, 0, SL_REGISTER_TIMEOUT_MS,
                        sl_worker_on_register_reply, w) != SL_OK)
        sl_conn_close(w->master);
}

static void sl_worker_master_ready(sl_conn_t *c, void *arg)
{
    sl_worker_register(arg);
}

static void sl_worker_master_message(sl_conn_t *c, const sl_envelope_t *env,
                                     const uint8_t *payload, size_t len, void *arg)
{
    char msg[SL_ERRMSG_LEN];
    snprintf(msg, sizeof msg, "the worker does not handle '%s' from the master",
             sl_msg_name(env->body_case));
    sl_warn("worker", "%s", msg);
    sl_conn_reply_error(c, env, SL_ERR_UNKNOWN_MESSAGE, msg);
}

static void sl_worker_master_closed(sl_conn_t *c, sl_status_t why, const char *msg, void *arg)
{
    sl_worker_t *w = arg;
    if (c != w->master)
        return;
    bool was_registered = w->link == SL_LINK_REGISTERED;
    w->master = NULL;
    w->heartbeat_inflight = false;
    evtimer_del(w->heartbeat_timer);
    if (w->stopping)
        return;
    if (was_registered)
        sl_warn("worker", "lost the master %s: %s; reconnecting", sl_conn_peer(c), msg);
    else if (why == SL_ERR_AUTH || why == SL_ERR_VERSION)
        sl_error("worker", "master %s refused us: %s", sl_conn_peer(c), msg);
    else
        sl_info("worker", "cannot reach master %s: %s", sl_conn_peer(c), msg);
    sl_worker_schedule_reconnect(w);
}

static const sl_conn_handlers_t sl_worker_master_handlers = {
    .on_message = sl_worker_master_message,
    .on_ready = sl_worker_master_ready,
    .on_close = sl_worker_master_closed,
};

static void sl_worker_connect(sl_worker_t *w)
{
    const char *addr = w->masters[w->next_master++ % w->nmasters];
    char err[SL_ERRMSG_LEN];
    sl_conn_opts_t o = {
        .secret = w->secret,
        .role = SLUICE__ROLE__ROLE_WORKER,
        .name = w->id,
        .component = "worker",
    };
    w->link = SL_LINK_CONNECTING;
    w->master = sl_conn_connect(w->base, addr, &o, &sl_worker_master_handlers, w, err);
    if (!w->master) {
        sl_warn("worker", "cannot connect to master %s: %s", addr, err);
        sl_worker_schedule_reconnect(w);
    }
}

static void sl_worker_reconnect_cb(evutil_socket_t fd, short what, void *arg)
{
    sl_worker_connect(arg);
}

/* --- peers and clients -------------------------------------------------------------------- */

static void sl_worker_peer_message(sl_conn_t *c, const sl_envelope_t *env, const uint8_t *payload,
                                   size_t len, void *arg)
{
    char msg[SL_ERRMSG_LEN];
    snprintf(msg, sizeof msg, "the worker does not handle '%s' messages",
             sl_msg_name(env->body_case));
    sl_warn("worker", "%s: %s", sl_conn_peer(c), msg);
    sl_conn_reply_error(c, env, SL_ERR_UNKNOWN_MESSAGE, msg);
}

static void sl_worker_peer_closed(sl_conn_t *c, sl_status_t why, const char *msg, void *arg)
{
    sl_worker_t *w = arg;
    for (size_t i = 0; i < w->npeers; i++) {
        if (w->peers[i] == c) {
            w->peers[i] = w->peers[--w->npeers];
            break;
        }
    }
}

static const sl_conn_handlers_t sl_worker_peer_handlers = {
    .on_message = sl_worker_peer_message,
    .on_close = sl_worker_peer_closed,
};

static void sl_worker_accept(evutil_socket_t fd, const char *peer, void *arg)
{
    sl_worker_t *w = arg;
    if (w->npeers == w->cappeers) {
        size_t cap = w->cappeers ? w->cappeers * 2 : 16;
        sl_conn_t **np = realloc(w->peers, cap * sizeof *np);
        if (!np) {
            evutil_closesocket(fd);
            return;
        }
        w->peers = np;
        w->cappeers = cap;
    }
    sl_conn_opts_t o = {
        .idle_timeout_ms = SL_PEER_IDLE_MS,
        .secret = w->secret,
        .role = SLUICE__ROLE__ROLE_WORKER,
        .name = w->id,
        .component = "worker",
    };
    sl_conn_t *c = sl_conn_accept(w->base, fd, peer, &o, &sl_worker_peer_handlers, w);
    if (c)
        w->peers[w->npeers++] = c;
}

/* --- life cycle ------------------------------------------------------------------------------ */

static void sl_worker_on_signal(int signo, void *arg)
{
    sl_worker_t *w = arg;
    sl_info("worker", "signal %d: shutting down", signo);
    event_base_loopbreak(w->base);
}

/* worker-<host>-<port> of the advertised address: stable across restarts. */
static void sl_worker_default_id(sl_worker_t *w)
{
    const char *addr = w->opts.advertise ? w->opts.advertise : w->opts.listen;
    char host[256];
    uint16_t port = 0;
    if (sl_parse_hostport(addr, host, sizeof host, &port, NULL) != SL_OK)
        snprintf(host, sizeof host, "unknown");
    for (char *p = host; *p; p++)
        if (*p == ':')
            *p = '_';
    snprintf(w->id, sizeof w->id, "worker-%.128s-%u", host, port);
}

sl_worker_t *sl_worker_new(const sl_worker_opts_t *opts, char *err)
{
    sl_worker_t *w = calloc(1, sizeof *w);
    if (!w) {
        snprintf(err, SL_ERRMSG_LEN, "out of memory");
        return NULL;
    }
    w->opts = *opts;
    w->backoff_ms = SL_BACKOFF_MIN_MS;
    if (opts->id)
        snprintf(w->id, sizeof w->id, "%s", opts->id);
    else
        sl_worker_default_id(w);
    if (sl_parse_addr_list(opts->masters, &w->masters, &w->nmasters, err) != SL_OK)
        goto fail;
    if (opts->work_dir && mkdir(opts->work_dir, 0755) != 0 && errno != EEXIST) {
        snprintf(err, SL_ERRMSG_LEN, "cannot create work directory '%.128s': %s", opts->work_dir,
                 strerror(errno));
        goto fail;
    }
    if (opts->secret_file && sl_secret_load(opts->secret_file, &w->secret, err) != SL_OK)
        goto fail;
    w->base = sl_event_base_new();
    if (!w->base) {
        snprintf(err, SL_ERRMSG_LEN, "cannot create the event loop");
        goto fail;
    }
    if (sl_signals_init(&w->signals, w->base, sl_worker_on_signal, w) != SL_OK) {
        snprintf(err, SL_ERRMSG_LEN, "cannot install signal handlers");
        goto fail;
    }
    w->listener = sl_listener_new(w->base, opts->listen, sl_worker_accept, w, err);
    if (!w->listener)
        goto fail;
    w->reconnect_timer = evtimer_new(w->base, sl_worker_reconnect_cb, w);
    w->heartbeat_timer = event_new(w->base, -1, EV_PERSIST, sl_worker_heartbeat_cb, w);
    w->executor = sl_executor_new((size_t)opts->cores);
    if (!w->reconnect_timer || !w->heartbeat_timer || !w->executor) {
        snprintf(err, SL_ERRMSG_LEN, "cannot start timers or %llu executor threads",
                 (unsigned long long)opts->cores);
        goto fail;
    }
    return w;
fail:
    sl_worker_free(w);
    return NULL;
}

sl_status_t sl_worker_run(sl_worker_t *w)
{
    sl_info("worker", "%s listening on %s with %llu cores and %llu MiB; masters %s", w->id,
            w->opts.listen, (unsigned long long)w->opts.cores,
            (unsigned long long)(w->opts.memory_bytes >> 20), w->opts.masters);
    sl_worker_connect(w);
    if (event_base_dispatch(w->base) < 0)
        return SL_ERR_INTERNAL;
    return SL_OK;
}

void sl_worker_free(sl_worker_t *w)
{
    if (!w)
        return;
    w->stopping = true;
    sl_conn_free(w->master);
    w->master = NULL;
    for (size_t i = 0; i < w->npeers; i++)
        sl_conn_free(w->peers[i]);
    free(w->peers);
    sl_executor_free(w->executor);
    if (w->reconnect_timer)
        event_free(w->reconnect_timer);
    if (w->heartbeat_timer)
        event_free(w->heartbeat_timer);
    sl_listener_free(w->listener);
    sl_signals_free(&w->signals);
    sl_addr_list_free(w->masters);
    sl_secret_free(w->secret);
    if (w->base)
        event_base_free(w->base);
    free(w);
}
