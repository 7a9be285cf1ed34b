/* Listener and signal plumbing shared by the daemons. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <event2/listener.h>
#include <event2/thread.h>
#include <event2/util.h>
#include "conn.h"
#include "daemon.h"
#include "parse.h"

struct sl_listener {
    struct evconnlistener *lev;
    sl_accept_cb cb;
    void *arg;
};

static void sl_listener_accept(struct evconnlistener *lev, evutil_socket_t fd,
                               struct sockaddr *sa, int socklen, void *arg)
{
    sl_listener_t *l = arg;
    char host[INET6_ADDRSTRLEN] = "?", peer[INET6_ADDRSTRLEN + 16];
    unsigned port = 0;
    if (sa->sa_family == AF_INET) {
        struct sockaddr_in *in = (struct sockaddr_in *)sa;
        inet_ntop(AF_INET, &in->sin_addr, host, sizeof host);
        port = ntohs(in->sin_port);
        snprintf(peer, sizeof peer, "%s:%u", host, port);
    } else if (sa->sa_family == AF_INET6) {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)sa;
        inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
        port = ntohs(in6->sin6_port);
        snprintf(peer, sizeof peer, "[%s]:%u", host, port);
    } else {
        snprintf(peer, sizeof peer, "unknown");
    }
    l->cb(fd, peer, l->arg);
}

sl_listener_t *sl_listener_new(struct event_base *base, const char *hostport, sl_accept_cb cb,
                               void *arg, char *err)
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
    hints.ai_flags = EVUTIL_AI_PASSIVE | EVUTIL_AI_NUMERICSERV;
    int rc = evutil_getaddrinfo(host, port_s, &hints, &ai);
    if (rc != 0 || !ai) {
        snprintf(err, SL_ERRMSG_LEN, "cannot resolve listen address '%.64s': %s", hostport,
                 evutil_gai_strerror(rc));
        return NULL;
    }
    sl_listener_t *l = calloc(1, sizeof *l);
    if (!l) {
        evutil_freeaddrinfo(ai);
        snprintf(err, SL_ERRMSG_LEN, "out of memory");
        return NULL;
    }
    l->cb = cb;
    l->arg = arg;
    l->lev = evconnlistener_new_bind(base, sl_listener_accept, l,
                                     LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_FREE |
                                         LEV_OPT_CLOSE_ON_EXEC,
                                     128, ai->ai_addr, (int)ai->ai_addrlen);
    evutil_freeaddrinfo(ai);
    if (!l->lev) {
        snprintf(err, SL_ERRMSG_LEN, "cannot listen on %.64s: %s", hostport, strerror(errno));
        free(l);
        return NULL;
    }
    return l;
}

void sl_listener_free(sl_listener_t *l)
{
    if (!l)
        return;
    if (l->lev)
        evconnlistener_free(l->lev);
    free(l);
}

typedef struct {
    sl_signal_cb cb;
    void *arg;
} sl_signal_ctx_t;

static void sl_signal_fire(evutil_socket_t signo, short what, void *arg)
{
    sl_signal_ctx_t *ctx = arg;
    ctx->cb((int)signo, ctx->arg);
}

sl_status_t sl_signals_init(sl_signals_t *s, struct event_base *base, sl_signal_cb cb, void *arg)
{
    sl_ignore_sigpipe();
    memset(s, 0, sizeof *s);
    sl_signal_ctx_t *ctx = malloc(sizeof *ctx);
    if (!ctx)
        return SL_ERR_NOMEM;
    ctx->cb = cb;
    ctx->arg = arg;
    s->term = evsignal_new(base, SIGTERM, sl_signal_fire, ctx);
    s->intr = evsignal_new(base, SIGINT, sl_signal_fire, ctx);
    if (!s->term || !s->intr || evsignal_add(s->term, NULL) || evsignal_add(s->intr, NULL)) {
        sl_signals_free(s);
        if (!s->term)
            free(ctx);
        return SL_ERR_INTERNAL;
    }
    return SL_OK;
}

void sl_signals_free(sl_signals_t *s)
{
    void *ctx = s->term ? event_get_callback_arg(s->term) : NULL;
    if (s->term)
        event_free(s->term);
    if (s->intr)
        event_free(s->intr);
    free(ctx);
    s->term = s->intr = NULL;
}

struct event_base *sl_event_base_new(void)
{
    /* Idempotent: it only installs libevent's pthread lock callbacks. */
    evthread_use_pthreads();
    return event_base_new();
}
