/* Framed RPC connections over libevent bufferevents: the read path (prefix
 * peek, size check, watermark, pullup, decode, drain), the handshake driver,
 * request/reply matching with per-request timers, deadlines, and deferred
 * teardown so no callback ever sees its connection freed. */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/util.h>
#include "conn.h"
#include "frame.h"
#include "handshake.h"
#include "log.h"
#include "parse.h"
#include "timeutil.h"

#define SL_CONN_HANDSHAKE_DEFAULT_MS 10000
#define SL_CONN_LINGER_MS 2000

typedef struct sl_pending {
    uint64_t id;
    sl_reply_cb cb;
    void *arg;
    struct event *timer;
    sl_conn_t *conn;
    struct sl_pending *prev, *next;
} sl_pending_t;

struct sl_conn {
    struct event_base *base;
    struct bufferevent *bev;
    sl_conn_state_t state;
    sl_conn_opts_t opts;
    char name[SL_HS_NAME_LEN];
    char peer[128];
    sl_conn_handlers_t h;
    void *arg;
    void *data;
    sl_handshake_t hs;
    struct event *hs_timer;     /* handshake deadline */
    struct event *linger_timer; /* bound on flushing while CLOSING */
    struct event *reap_ev;      /* deferred teardown */
    uint64_t next_id;
    sl_pending_t *pending_head, *pending_tail;
    sl_status_t close_why;
    char close_msg[SL_ERRMSG_LEN];
};

static void sl_conn_finish_close(sl_conn_t *c);

void sl_ignore_sigpipe(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);
}

/* --- writing --------------------------------------------------------------- */

/* Appends one frame to the output buffer; the header is packed in place. */
static sl_status_t sl_conn_write(sl_conn_t *c, const sl_envelope_t *env, const void *payload,
                                 size_t payload_len)
{
    if (c->state == SL_CONN_CLOSED || c->state == SL_CONN_CONNECTING)
        return SL_ERR_CLOSED;
    Sluice__Envelope stamped;
    if (c->opts.epoch) {
        stamped = *env;
        stamped.master_epoch = c->opts.epoch;
        env = &stamped;
    }
    size_t hlen = sluice__envelope__get_packed_size(env);
    uint8_t prefix[SL_FRAME_PREFIX_LEN];
    sl_status_t st = sl_frame_prefix(prefix, hlen, payload_len, c->opts.max_frame);
    if (st != SL_OK)
        return st;
    struct evbuffer *out = bufferevent_get_output(c->bev);
    struct evbuffer_iovec v;
    if (evbuffer_reserve_space(out, (ev_ssize_t)(SL_FRAME_PREFIX_LEN + hlen), &v, 1) < 1)
        return SL_ERR_NOMEM;
    memcpy(v.iov_base, prefix, SL_FRAME_PREFIX_LEN);
    sluice__envelope__pack(env, (uint8_t *)v.iov_base + SL_FRAME_PREFIX_LEN);
    v.iov_len = SL_FRAME_PREFIX_LEN + hlen;
    if (evbuffer_commit_space(out, &v, 1) != 0)
        return SL_ERR_NOMEM;
    if (payload_len && evbuffer_add(out, payload, payload_len) != 0)
        return SL_ERR_NOMEM;
    return SL_OK;
}

/* --- closing --------------------------------------------------------------- */

/* Records why the connection ends (first reason wins) and logs it. */
static void sl_conn_note_close(sl_conn_t *c, sl_log_level_t level, sl_status_t why,
                               const char *fmt, va_list ap)
{
    if (c->close_why != SL_OK || c->close_msg[0])
        return;
    c->close_why = why;
    vsnprintf(c->close_msg, sizeof c->close_msg, fmt, ap);
    if (c->hs.peer_role == SLUICE__ROLE__ROLE_UNKNOWN)
        SL_LOG(level, c->opts.component, "closing connection with %s (not identified yet): %s",
               c->peer, c->close_msg);
    else
        SL_LOG(level, c->opts.component, "closing connection with %s (%s '%s'): %s", c->peer,
               sl_role_name(c->hs.peer_role), c->hs.peer_name, c->close_msg);
}

/* Fails the connection: logs, tells the peer why in a Reject when `tell_peer`,
 * and closes after flushing that. */
static void sl_conn_fail(sl_conn_t *c, sl_log_level_t level, sl_status_t why, bool tell_peer,
                         const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static void sl_conn_fail(sl_conn_t *c, sl_log_level_t level, sl_status_t why, bool tell_peer,
                         const char *fmt, ...)
{
    if (c->state == SL_CONN_CLOSED)
        return;
    va_list ap;
    va_start(ap, fmt);
    sl_conn_note_close(c, level, why, fmt, ap);
    va_end(ap);
    if (tell_peer && c->state != SL_CONN_CONNECTING && c->state != SL_CONN_CLOSING) {
        Sluice__Envelope env = SLUICE__ENVELOPE__INIT;
        Sluice__Reject rej = SLUICE__REJECT__INIT;
        rej.reason = c->close_msg;
        env.status = (uint32_t)why;
        env.body_case = SLUICE__ENVELOPE__BODY_REJECT;
        env.reject = &rej;
        (void)sl_conn_write(c, &env, NULL, 0);
    }
    sl_conn_close(c);
}

static void sl_conn_linger_cb(evutil_socket_t fd, short what, void *arg)
{
    sl_conn_finish_close(arg);
}

static void sl_conn_drained_cb(struct bufferevent *bev, void *arg)
{
    sl_conn_t *c = arg;
    if (c->state == SL_CONN_CLOSING)
        sl_conn_finish_close(c);
}

void sl_conn_close(sl_conn_t *c)
{
    if (!c || c->state == SL_CONN_CLOSING || c->state == SL_CONN_CLOSED)
        return;
    bool connected = c->state != SL_CONN_CONNECTING;
    c->state = SL_CONN_CLOSING;
    bufferevent_disable(c->bev, EV_READ);
    if (!connected || evbuffer_get_length(bufferevent_get_output(c->bev)) == 0) {
        sl_conn_finish_close(c);
        return;
    }
    struct timeval tv = sl_time_tv(SL_CONN_LINGER_MS);
    evtimer_add(c->linger_timer, &tv);
}

static void sl_conn_finish_close(sl_conn_t *c)
{
    if (c->state == SL_CONN_CLOSED)
        return;
    c->state = SL_CONN_CLOSED;
    bufferevent_disable(c->bev, EV_READ | EV_WRITE);
    evtimer_del(c->linger_timer);
    evtimer_del(c->hs_timer);
    event_active(c->reap_ev, EV_TIMEOUT, 0);
}

static void sl_pending_unlink(sl_conn_t *c, sl_pending_t *p)
{
    if (p->prev)
        p->prev->next = p->next;
    else
        c->pending_head = p->next;
    if (p->next)
        p->next->prev = p->prev;
    else
        c->pending_tail = p->prev;
    event_free(p->timer);
}

/* Fails every pending request with `st`. Callbacks may issue new requests:
 * those fail at once because the connection is CLOSED. */
static void sl_conn_fail_pending(sl_conn_t *c, sl_status_t st, const char *msg)
{
    while (c->pending_head) {
        sl_pending_t *p = c->pending_head;
        sl_pending_unlink(c, p);
        p->cb(c, st, NULL, NULL, 0, msg, p->arg);
        free(p);
    }
}

static void sl_conn_destroy(sl_conn_t *c)
{
    event_free(c->reap_ev);
    event_free(c->linger_timer);
    event_free(c->hs_timer);
    bufferevent_free(c->bev);
    free(c);
}

static void sl_conn_reap_cb(evutil_socket_t fd, short what, void *arg)
{
    sl_conn_t *c = arg;
    sl_status_t why = c->close_why;
    const char *msg = c->close_msg[0] ? c->close_msg : "connection closed";
    sl_conn_fail_pending(c, why == SL_OK ? SL_ERR_CLOSED : why, msg);
    if (c->h.on_close)
        c->h.on_close(c, why, msg, c->arg);
    sl_conn_destroy(c);
}

void sl_conn_free(sl_conn_t *c)
{
    if (!c)
        return;
    c->state = SL_CONN_CLOSED;
    bufferevent_disable(c->bev, EV_READ | EV_WRITE);
    sl_conn_fail_pending(c, SL_ERR_CLOSED, "connection freed");
    sl_conn_destroy(c);
}

/* --- reading ---------------------------------------------------------------- */

static void sl_conn_ready(sl_conn_t *c)
{
    c->state = SL_CONN_READY;
    evtimer_del(c->hs_timer);
    sl_debug(c->opts.component, "connection with %s ready: %s '%s'%s", c->peer,
             sl_role_name(c->hs.peer_role), c->hs.peer_name,
             c->hs.authenticated ? " (authenticated)" : "");
    if (c->h.on_ready)
        c->h.on_ready(c, c->arg);
}

static void sl_conn_on_handshake_msg(sl_conn_t *c, const sl_envelope_t *env)
{
    sl_hs_out_t out;
    sl_status_t st = sl_hs_step(&c->hs, env, &out);
    if (out.has_msg)
        (void)sl_conn_write(c, &out.env, NULL, 0);
    if (st != SL_OK) {
        sl_conn_fail(c, SL_LOG_WARN, st, false, "handshake failed: %s", c->hs.error);
        return;
    }
    if (c->hs.state == SL_HS_DONE)
        sl_conn_ready(c);
}

static void sl_conn_on_reply(sl_conn_t *c, const sl_envelope_t *env, const uint8_t *payload,
                             size_t payload_len)
{
    sl_pending_t *p = c->pending_head;
    while (p && p->id != env->request_id)
        p = p->next;
    if (!p) {
        sl_debug(c->opts.component, "reply from %s to unknown request %llu (timed out?)",
                 c->peer, (unsigned long long)env->request_id);
        return;
    }
    sl_pending_unlink(c, p);
    if (env->status != SL_OK)
        p->cb(c, (sl_status_t)env->status, NULL, NULL, 0,
              env->error && env->error[0] ? env->error : sl_strerror((sl_status_t)env->status),
              p->arg);
    else
        p->cb(c, SL_OK, env, payload, payload_len, NULL, p->arg);
    free(p);
}

static bool sl_is_handshake_body(Sluice__Envelope__BodyCase b)
{
    return b == SLUICE__ENVELOPE__BODY_HELLO || b == SLUICE__ENVELOPE__BODY_CHALLENGE ||
           b == SLUICE__ENVELOPE__BODY_AUTH_PROOF || b == SLUICE__ENVELOPE__BODY_WELCOME;
}

static void sl_conn_dispatch(sl_conn_t *c, const sl_envelope_t *env, const uint8_t *payload,
                             size_t payload_len)
{
    if (env->body_case == SLUICE__ENVELOPE__BODY_REJECT) {
        sl_conn_fail(c, SL_LOG_WARN, env->status ? (sl_status_t)env->status : SL_ERR_CLOSED,
                     false, "refused by the peer: %s", env->reject->reason);
        return;
    }
    if (c->state == SL_CONN_HANDSHAKE) {
        sl_conn_on_handshake_msg(c, env);
        return;
    }
    if (env->is_reply) {
        sl_conn_on_reply(c, env, payload, payload_len);
        return;
    }
    if (sl_is_handshake_body(env->body_case)) {
        sl_conn_fail(c, SL_LOG_WARN, SL_ERR_PROTOCOL, true,
                     "unexpected '%s' message after the handshake", sl_msg_name(env->body_case));
        return;
    }
    if (c->h.on_message)
        c->h.on_message(c, env, payload, payload_len, c->arg);
}

static void sl_conn_read_cb(struct bufferevent *bev, void *arg)
{
    sl_conn_t *c = arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    char err[SL_ERRMSG_LEN];
    while (c->state == SL_CONN_HANDSHAKE || c->state == SL_CONN_READY) {
        uint8_t prefix[SL_FRAME_PREFIX_LEN];
        size_t avail = evbuffer_get_length(in), flen;
        if (avail < SL_FRAME_PREFIX_LEN) {
            bufferevent_setwatermark(bev, EV_READ, 0, 0);
            return;
        }
        evbuffer_copyout(in, prefix, sizeof prefix);
        sl_status_t st = sl_frame_peek(prefix, sizeof prefix, c->opts.max_frame, &flen, err);
        if (st != SL_OK) {
            sl_conn_fail(c, SL_LOG_WARN, st, true, "%s: %s", sl_strerror(st), err);
            return;
        }
        if (avail < flen) {
            /* Wake up only when the whole frame is here. */
            bufferevent_setwatermark(bev, EV_READ, flen, 0);
            return;
        }
        uint8_t *frame = evbuffer_pullup(in, (ev_ssize_t)flen);
        sl_frame_view_t view;
        sl_envelope_t *env = NULL;
        if (!frame || sl_frame_split(frame, flen, &view) != SL_OK) {
            sl_conn_fail(c, SL_LOG_ERROR, SL_ERR_NOMEM, false, "cannot assemble a %zu-byte frame",
                         flen);
            return;
        }
        st = sl_msg_decode(view.header, view.header_len, &env, err);
        if (st != SL_OK) {
            sl_conn_fail(c, SL_LOG_WARN, st, true, "%s: %s", sl_strerror(st), err);
            return;
        }
        sl_conn_dispatch(c, env, view.payload, view.payload_len);
        sl_msg_free(env);
        evbuffer_drain(in, flen);
    }
}

static void sl_conn_event_cb(struct bufferevent *bev, short what, void *arg)
{
    sl_conn_t *c = arg;
    if (what & BEV_EVENT_CONNECTED) {
        if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
            goto failed;
        sl_hs_out_t out;
        c->state = SL_CONN_HANDSHAKE;
        if (sl_hs_start(&c->hs, &out) != SL_OK) {
            sl_conn_fail(c, SL_LOG_ERROR, SL_ERR_INTERNAL, false, "cannot start the handshake: %s",
                         c->hs.error);
            return;
        }
        (void)sl_conn_write(c, &out.env, NULL, 0);
        return;
    }
failed:
    if (what & BEV_EVENT_TIMEOUT) {
        sl_conn_fail(c, SL_LOG_WARN, SL_ERR_TIMEOUT, true, "idle for %llu ms",
                     (unsigned long long)c->opts.idle_timeout_ms);
    } else if (c->state == SL_CONN_CONNECTING) {
        int e = EVUTIL_SOCKET_ERROR();
        sl_conn_fail(c, SL_LOG_DEBUG, SL_ERR_UNAVAILABLE, false, "cannot connect: %s",
                     e ? evutil_socket_error_to_string(e) : "connection refused");
    } else if (what & BEV_EVENT_ERROR) {
        int e = EVUTIL_SOCKET_ERROR();
        sl_conn_fail(c, SL_LOG_INFO, SL_ERR_CLOSED, false, "connection error: %s",
                     evutil_socket_error_to_string(e));
    } else {
        sl_conn_fail(c, c->state == SL_CONN_READY ? SL_LOG_DEBUG : SL_LOG_INFO, SL_ERR_CLOSED,
                     false, "peer closed the connection%s",
                     c->state == SL_CONN_READY ? "" : " during the handshake");
    }
    /* The socket is dead: nothing more can be flushed. */
    sl_conn_finish_close(c);
}

static void sl_conn_hs_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
    sl_conn_t *c = arg;
    sl_conn_fail(c, SL_LOG_WARN, SL_ERR_TIMEOUT, true, "handshake not finished within %llu ms",
                 (unsigned long long)c->opts.handshake_timeout_ms);
}

/* --- construction ------------------------------------------------------------ */

static sl_conn_t *sl_conn_new(struct event_base *base, struct bufferevent *bev, bool is_server,
                              const char *peer, const sl_conn_opts_t *opts,
                              const sl_conn_handlers_t *h, void *arg)
{
    sl_conn_t *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->base = base;
    c->bev = bev;
    c->opts = *opts;
    if (!c->opts.max_frame)
        c->opts.max_frame = SL_FRAME_MAX_DEFAULT;
    if (!c->opts.handshake_timeout_ms)
        c->opts.handshake_timeout_ms = SL_CONN_HANDSHAKE_DEFAULT_MS;
    if (!c->opts.component)
        c->opts.component = "conn";
    snprintf(c->name, sizeof c->name, "%s", opts->name ? opts->name : "");
    c->opts.name = c->name;
    snprintf(c->peer, sizeof c->peer, "%s", peer);
    c->h = *h;
    c->arg = arg;
    c->next_id = 1;
    sl_hs_init(&c->hs, is_server, opts->secret, opts->role, c->name);
    if (opts->refuse)
        snprintf(c->hs.refuse, sizeof c->hs.refuse, "%s", opts->refuse);
    c->opts.refuse = NULL;
    c->hs_timer = evtimer_new(base, sl_conn_hs_timeout_cb, c);
    c->linger_timer = evtimer_new(base, sl_conn_linger_cb, c);
    c->reap_ev = event_new(base, -1, 0, sl_conn_reap_cb, c);
    if (!c->hs_timer || !c->linger_timer || !c->reap_ev) {
        if (c->hs_timer)
            event_free(c->hs_timer);
        if (c->linger_timer)
            event_free(c->linger_timer);
        if (c->reap_ev)
            event_free(c->reap_ev);
        free(c);
        return NULL;
    }
    bufferevent_setcb(bev, sl_conn_read_cb, sl_conn_drained_cb, sl_conn_event_cb, c);
    sl_conn_set_idle_timeout(c, c->opts.idle_timeout_ms);
    struct timeval hs = sl_time_tv(c->opts.handshake_timeout_ms);
    evtimer_add(c->hs_timer, &hs);
    bufferevent_enable(bev, EV_READ | EV_WRITE);
    return c;
}

static void sl_set_nodelay(evutil_socket_t fd)
{
    int one = 1;
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

sl_conn_t *sl_conn_accept(struct event_base *base, evutil_socket_t fd, const char *peer,
                          const sl_conn_opts_t *opts, const sl_conn_handlers_t *h, void *arg)
{
    evutil_make_socket_nonblocking(fd);
    sl_set_nodelay(fd);
    struct bufferevent *bev = bufferevent_socket_new(base, fd, BEV_OPT_CLOSE_ON_FREE);
    if (!bev) {
        evutil_closesocket(fd);
        return NULL;
    }
    sl_conn_t *c = sl_conn_new(base, bev, true, peer, opts, h, arg);
    if (!c) {
        bufferevent_free(bev);
        return NULL;
    }
    c->state = SL_CONN_HANDSHAKE;
    return c;
}

sl_conn_t *sl_conn_connect(struct event_base *base, const char *hostport,
                           const sl_conn_opts_t *opts, const sl_conn_handlers_t *h, void *arg,
                           char *err)
{
    char host[256], port_s[8];
    uint16_t port;
    if (sl_parse_hostport(hostport, host, sizeof host, &port, err) != SL_OK)
        return NULL;
    snprintf(port_s, sizeof port_s, "%u", port);
    struct evutil_addrinfo hints, *ai = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = EVUTIL_AI_NUMERICSERV | EVUTIL_AI_ADDRCONFIG;
    int rc = evutil_getaddrinfo(host, port_s, &hints, &ai);
    if (rc != 0 || !ai) {
        snprintf(err, SL_ERRMSG_LEN, "cannot resolve '%.64s': %s", host, evutil_gai_strerror(rc));
        return NULL;
    }
    sl_conn_t *c = NULL;
    struct bufferevent *bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
    if (!bev) {
        snprintf(err, SL_ERRMSG_LEN, "cannot create a socket for %s", hostport);
        goto free_ai;
    }
    c = sl_conn_new(base, bev, false, hostport, opts, h, arg);
    if (!c) {
        bufferevent_free(bev);
        snprintf(err, SL_ERRMSG_LEN, "out of memory connecting to %s", hostport);
        goto free_ai;
    }
    c->state = SL_CONN_CONNECTING;
    if (bufferevent_socket_connect(bev, ai->ai_addr, (int)ai->ai_addrlen) != 0) {
        snprintf(err, SL_ERRMSG_LEN, "cannot connect to %s: %s", hostport,
                 evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
        sl_conn_free(c);
        c = NULL;
        goto free_ai;
    }
    sl_set_nodelay(bufferevent_getfd(bev));
free_ai:
    evutil_freeaddrinfo(ai);
    return c;
}

/* --- requests and replies ----------------------------------------------------- */

static void sl_pending_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
    sl_pending_t *p = arg;
    sl_conn_t *c = p->conn;
    sl_pending_unlink(c, p);
    p->cb(c, SL_ERR_TIMEOUT, NULL, NULL, 0, "no reply in time", p->arg);
    free(p);
}

sl_status_t sl_conn_request(sl_conn_t *c, sl_envelope_t *env, const void *payload,
                            size_t payload_len, uint64_t timeout_ms, sl_reply_cb cb, void *arg)
{
    if (c->state != SL_CONN_READY)
        return SL_ERR_CLOSED;
    sl_pending_t *p = calloc(1, sizeof *p);
    if (!p)
        return SL_ERR_NOMEM;
    p->timer = evtimer_new(c->base, sl_pending_timeout_cb, p);
    if (!p->timer) {
        free(p);
        return SL_ERR_NOMEM;
    }
    p->id = c->next_id++;
    p->cb = cb;
    p->arg = arg;
    p->conn = c;
    env->request_id = p->id;
    env->is_reply = false;
    sl_status_t st = sl_conn_write(c, env, payload, payload_len);
    if (st != SL_OK) {
        event_free(p->timer);
        free(p);
        return st;
    }
    p->prev = c->pending_tail;
    if (c->pending_tail)
        c->pending_tail->next = p;
    else
        c->pending_head = p;
    c->pending_tail = p;
    struct timeval tv = sl_time_tv(timeout_ms);
    evtimer_add(p->timer, &tv);
    return SL_OK;
}

sl_status_t sl_conn_send(sl_conn_t *c, sl_envelope_t *env, const void *payload, size_t payload_len)
{
    if (c->state != SL_CONN_READY)
        return SL_ERR_CLOSED;
    env->request_id = 0;
    env->is_reply = false;
    return sl_conn_write(c, env, payload, payload_len);
}

sl_status_t sl_conn_reply(sl_conn_t *c, const sl_envelope_t *req, sl_envelope_t *reply,
                          const void *payload, size_t payload_len)
{
    if (req->request_id == 0)
        return SL_OK;   /* one-way message: nobody waits */
    if (c->state != SL_CONN_READY)
        return SL_ERR_CLOSED;
    reply->request_id = req->request_id;
    reply->is_reply = true;
    return sl_conn_write(c, reply, payload, payload_len);
}

sl_status_t sl_conn_reply_error(sl_conn_t *c, const sl_envelope_t *req, sl_status_t st,
                                const char *msg)
{
    Sluice__Envelope env = SLUICE__ENVELOPE__INIT;
    env.status = (uint32_t)(st == SL_OK ? SL_ERR_INTERNAL : st);
    env.error = (char *)(msg ? msg : sl_strerror(st));
    return sl_conn_reply(c, req, &env, NULL, 0);
}

/* --- accessors ------------------------------------------------------------------ */

void sl_conn_set_idle_timeout(sl_conn_t *c, uint64_t ms)
{
    c->opts.idle_timeout_ms = ms;
    struct timeval tv = sl_time_tv(ms);
    bufferevent_set_timeouts(c->bev, ms ? &tv : NULL, NULL);
}

sl_conn_state_t sl_conn_state(const sl_conn_t *c) { return c->state; }

size_t sl_conn_unsent(const sl_conn_t *c)
{
    return evbuffer_get_length(bufferevent_get_output(c->bev));
}
const char *sl_conn_peer(const sl_conn_t *c) { return c->peer; }
const char *sl_conn_peer_name(const sl_conn_t *c) { return c->hs.peer_name; }
Sluice__Role sl_conn_peer_role(const sl_conn_t *c) { return c->hs.peer_role; }
bool sl_conn_authenticated(const sl_conn_t *c) { return c->hs.authenticated; }
void sl_conn_set_data(sl_conn_t *c, void *data) { c->data = data; }
void *sl_conn_data(const sl_conn_t *c) { return c->data; }
