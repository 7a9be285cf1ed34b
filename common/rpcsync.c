/* Blocking RPC over a plain socket: poll() for deadlines, the frame codec and
 * the handshake state machine shared with the event-driven connections. */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include "frame.h"
#include "handshake.h"
#include "parse.h"
#include "rpcsync.h"
#include "timeutil.h"

struct sl_sync_conn {
    int fd;
    uint64_t timeout_ms;
    uint64_t next_id;
    char peer[262];
};

/* Waits for `events` on fd until `deadline` (monotonic ms). */
static sl_status_t sl_sync_wait(int fd, short events, uint64_t deadline)
{
    for (;;) {
        uint64_t now = sl_time_mono_ms();
        if (now >= deadline)
            return SL_ERR_TIMEOUT;
        struct pollfd p = { .fd = fd, .events = events };
        int r = poll(&p, 1, (int)(deadline - now));
        if (r > 0)
            return SL_OK;
        if (r < 0 && errno != EINTR)
            return SL_ERR_IO;
    }
}

static sl_status_t sl_sync_write_all(sl_sync_conn_t *c, const uint8_t *p, size_t n, uint64_t deadline)
{
    while (n > 0) {
        ssize_t w = send(c->fd, p, n, MSG_NOSIGNAL);
        if (w > 0) {
            p += w;
            n -= (size_t)w;
            continue;
        }
        if (w < 0 && errno != EAGAIN && errno != EINTR)
            return SL_ERR_CLOSED;
        sl_status_t st = sl_sync_wait(c->fd, POLLOUT, deadline);
        if (st != SL_OK)
            return st;
    }
    return SL_OK;
}

static sl_status_t sl_sync_read_all(sl_sync_conn_t *c, uint8_t *p, size_t n, uint64_t deadline)
{
    while (n > 0) {
        ssize_t r = recv(c->fd, p, n, 0);
        if (r > 0) {
            p += r;
            n -= (size_t)r;
            continue;
        }
        if (r == 0 || (errno != EAGAIN && errno != EINTR))
            return SL_ERR_CLOSED;
        sl_status_t st = sl_sync_wait(c->fd, POLLIN, deadline);
        if (st != SL_OK)
            return st;
    }
    return SL_OK;
}

static sl_status_t sl_sync_send(sl_sync_conn_t *c, const sl_envelope_t *env, const void *payload,
                                size_t len, uint64_t deadline)
{
    uint8_t *frame;
    size_t flen;
    sl_status_t st = sl_msg_encode(env, payload, len, SL_FRAME_MAX_DEFAULT, &frame, &flen);
    if (st != SL_OK)
        return st;
    st = sl_sync_write_all(c, frame, flen, deadline);
    free(frame);
    return st;
}

/* Reads one frame; on SL_OK *env and *frame (which holds the payload at
 * *payload) belong to the caller. */
static sl_status_t sl_sync_recv(sl_sync_conn_t *c, uint64_t deadline, sl_envelope_t **env,
                                uint8_t **frame, const uint8_t **payload, size_t *plen, char *err)
{
    uint8_t prefix[SL_FRAME_PREFIX_LEN];
    size_t flen;
    sl_status_t st = sl_sync_read_all(c, prefix, sizeof prefix, deadline);
    if (st != SL_OK)
        return st;
    st = sl_frame_peek(prefix, sizeof prefix, SL_FRAME_MAX_DEFAULT, &flen, err);
    if (st != SL_OK)
        return st;
    uint8_t *buf = malloc(flen);
    if (!buf)
        return SL_ERR_NOMEM;
    memcpy(buf, prefix, sizeof prefix);
    st = sl_sync_read_all(c, buf + sizeof prefix, flen - sizeof prefix, deadline);
    sl_frame_view_t v;
    if (st == SL_OK)
        st = sl_frame_split(buf, flen, &v);
    if (st == SL_OK)
        st = sl_msg_decode(v.header, v.header_len, env, err);
    if (st != SL_OK) {
        free(buf);
        return st;
    }
    *frame = buf;
    *payload = v.payload;
    *plen = v.payload_len;
    return SL_OK;
}

static sl_status_t sl_sync_handshake(sl_sync_conn_t *c, const sl_secret_t *secret,
                                     Sluice__Role role, const char *name, uint64_t deadline,
                                     char *err)
{
    sl_handshake_t hs;
    sl_hs_out_t out;
    sl_hs_init(&hs, false, secret, role, name);
    sl_status_t st = sl_hs_start(&hs, &out);
    while (st == SL_OK && hs.state != SL_HS_DONE) {
        if (out.has_msg && (st = sl_sync_send(c, &out.env, NULL, 0, deadline)) != SL_OK)
            break;
        sl_envelope_t *in;
        uint8_t *frame;
        const uint8_t *pl;
        size_t plen;
        if ((st = sl_sync_recv(c, deadline, &in, &frame, &pl, &plen, err)) != SL_OK)
            break;
        if (in->body_case == SLUICE__ENVELOPE__BODY_REJECT) {
            snprintf(err, SL_ERRMSG_LEN, "refused by %.60s: %.180s", c->peer, in->reject->reason);
            st = SL_ERR_AUTH;
        } else {
            st = sl_hs_step(&hs, in, &out);
            if (st != SL_OK)
                snprintf(err, SL_ERRMSG_LEN, "%s", hs.error);
        }
        sl_msg_free(in);
        free(frame);
    }
    return st;
}

sl_status_t sl_sync_connect(const char *hostport, const sl_secret_t *secret, Sluice__Role role,
                            const char *name, uint64_t timeout_ms, sl_sync_conn_t **out, char *err)
{
    char host[256], port_s[8];
    uint16_t port;
    if (sl_parse_hostport(hostport, host, sizeof host, &port, err) != SL_OK)
        return SL_ERR_INVALID;
    snprintf(port_s, sizeof port_s, "%u", port);
    struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM }, *ai = NULL;
    if (getaddrinfo(host, port_s, &hints, &ai) != 0 || !ai) {
        snprintf(err, SL_ERRMSG_LEN, "cannot resolve %.200s", hostport);
        return SL_ERR_UNAVAILABLE;
    }
    uint64_t deadline = sl_time_mono_ms() + timeout_ms;
    sl_status_t st = SL_ERR_NOMEM;
    sl_sync_conn_t *c = calloc(1, sizeof *c);
    if (!c)
        goto free_ai;
    c->fd = -1;
    c->timeout_ms = timeout_ms;
    c->next_id = 1;
    snprintf(c->peer, sizeof c->peer, "%s", hostport);
    c->fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (c->fd < 0) {
        st = SL_ERR_IO;
        snprintf(err, SL_ERRMSG_LEN, "socket: %s", strerror(errno));
        goto fail;
    }
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(c->fd, ai->ai_addr, ai->ai_addrlen) != 0 && errno != EINPROGRESS) {
        st = SL_ERR_UNAVAILABLE;
        snprintf(err, SL_ERRMSG_LEN, "cannot connect to %.200s: %s", hostport, strerror(errno));
        goto fail;
    }
    if ((st = sl_sync_wait(c->fd, POLLOUT, deadline)) != SL_OK) {
        snprintf(err, SL_ERRMSG_LEN, "cannot connect to %.200s: %s", hostport, sl_strerror(st));
        goto fail;
    }
    int soerr = 0;
    socklen_t sl = sizeof soerr;
    getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &soerr, &sl);
    if (soerr) {
        st = SL_ERR_UNAVAILABLE;
        snprintf(err, SL_ERRMSG_LEN, "cannot connect to %.200s: %s", hostport, strerror(soerr));
        goto fail;
    }
    if ((st = sl_sync_handshake(c, secret, role, name, deadline, err)) != SL_OK)
        goto fail;
    *out = c;
    freeaddrinfo(ai);
    return SL_OK;
fail:
    sl_sync_close(c);
free_ai:
    freeaddrinfo(ai);
    return st;
}

sl_status_t sl_sync_call(sl_sync_conn_t *c, sl_envelope_t *env, const void *payload, size_t len,
                         sl_envelope_t **reply, uint8_t **rpayload, size_t *rlen, char *err)
{
    uint64_t deadline = sl_time_mono_ms() + c->timeout_ms;
    env->request_id = c->next_id++;
    env->is_reply = false;
    sl_status_t st = sl_sync_send(c, env, payload, len, deadline);
    while (st == SL_OK) {
        sl_envelope_t *in;
        uint8_t *frame;
        const uint8_t *pl;
        size_t plen;
        if ((st = sl_sync_recv(c, deadline, &in, &frame, &pl, &plen, err)) != SL_OK)
            break;
        if (!in->is_reply || in->request_id != env->request_id) {
            sl_msg_free(in);   /* not ours (one-way or stale): skip */
            free(frame);
            continue;
        }
        if (in->status != SL_OK) {
            st = (sl_status_t)in->status;
            snprintf(err, SL_ERRMSG_LEN, "%.250s", in->error ? in->error : sl_strerror(st));
            sl_msg_free(in);
            free(frame);
            return st;
        }
        /* Hand the payload over in its own allocation: move it to the front. */
        *rlen = plen;
        *rpayload = NULL;
        if (plen) {
            memmove(frame, pl, plen);
            *rpayload = frame;
        } else {
            free(frame);
        }
        *reply = in;
        return SL_OK;
    }
    if (err && !err[0])
        snprintf(err, SL_ERRMSG_LEN, "%s from %.200s", sl_strerror(st), c->peer);
    return st;
}

const char *sl_sync_peer(const sl_sync_conn_t *c) { return c->peer; }

void sl_sync_close(sl_sync_conn_t *c)
{
    if (!c)
        return;
    if (c->fd >= 0)
        close(c->fd);
    free(c);
}
