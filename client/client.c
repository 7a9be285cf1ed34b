/* libsluice: a blocking facade over the asynchronous connection layer. Each
 * client owns a private event loop and runs it only while a call waits. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include "auth.h"
#include "conn.h"
#include "daemon.h"
#include "parse.h"
#include "sluice.h"
#include "view.h"

#define SL_CLIENT_DEFAULT_TIMEOUT_MS 10000

struct sl_client {
    struct event_base *base;
    sl_conn_t *conn;
    sl_secret_t *secret;
    uint64_t timeout_ms;
    char master[262];
    /* state of the call in progress */
    bool done;
    sl_status_t st;
    char msg[SL_ERRMSG_LEN];
    sl_envelope_t *reply;       /* copy of the reply, owned */
};

struct sl_cluster_info {
    sl_envelope_t *env;         /* owns everything below */
    const Sluice__ClusterStatus *cs;
};

static void sl_client_on_ready(sl_conn_t *c, void *arg)
{
    sl_client_t *cl = arg;
    cl->done = true;
    cl->st = SL_OK;
}

static void sl_client_on_close(sl_conn_t *c, sl_status_t why, const char *msg, void *arg)
{
    sl_client_t *cl = arg;
    if (cl->conn == c)
        cl->conn = NULL;
    if (!cl->done) {
        cl->done = true;
        cl->st = why == SL_OK ? SL_ERR_CLOSED : why;
        snprintf(cl->msg, sizeof cl->msg, "%s", msg);
    }
}

static void sl_client_on_message(sl_conn_t *c, const sl_envelope_t *env, const uint8_t *payload,
                                 size_t len, void *arg)
{
    /* The master sends clients nothing unasked yet. */
}

static const sl_conn_handlers_t sl_client_handlers = {
    .on_message = sl_client_on_message,
    .on_ready = sl_client_on_ready,
    .on_close = sl_client_on_close,
};

/* Runs the loop until the current call is done. */
static void sl_client_wait(sl_client_t *cl)
{
    while (!cl->done)
        event_base_loop(cl->base, EVLOOP_ONCE);
}

/* Formats an error with up to two strings; long ones are cut, not overflowed. */
static void sl_client_seterr(char *err, const char *fmt, const char *a, const char *b)
    __attribute__((noinline));
static void sl_client_seterr(char *err, const char *fmt, const char *a, const char *b)
{
    if (err)
        snprintf(err, SL_ERRMSG_LEN, fmt, a, b);
}

sl_status_t sl_client_open(const char *masters, const char *secret_file, uint64_t timeout_ms,
                           sl_client_t **out, char *err)
{
    char why[SL_ERRMSG_LEN] = "";
    char **list = NULL;
    size_t n = 0;
    sl_status_t st;
    sl_ignore_sigpipe();
    if (!masters || !*masters) {
        sl_client_seterr(err, "no master address given (--master or $SLUICE_MASTER)%s%s", "", "");
        return SL_ERR_INVALID;
    }
    sl_client_t *cl = calloc(1, sizeof *cl);
    if (!cl)
        return SL_ERR_NOMEM;
    cl->timeout_ms = timeout_ms ? timeout_ms : SL_CLIENT_DEFAULT_TIMEOUT_MS;
    st = sl_parse_addr_list(masters, &list, &n, why);
    if (st != SL_OK) {
        sl_client_seterr(err, "%s%s", why, "");
        goto fail;
    }
    if (secret_file && (st = sl_secret_load(secret_file, &cl->secret, why)) != SL_OK) {
        sl_client_seterr(err, "%s%s", why, "");
        goto fail;
    }
    cl->base = sl_event_base_new();
    if (!cl->base) {
        st = SL_ERR_NOMEM;
        goto fail;
    }
    /* Try each master in turn; keep the first that completes the handshake. */
    st = SL_ERR_UNAVAILABLE;
    for (size_t i = 0; i < n && !cl->conn; i++) {
        sl_conn_opts_t o = {
            .handshake_timeout_ms = cl->timeout_ms,
            .secret = cl->secret,
            .role = SLUICE__ROLE__ROLE_CLIENT,
            .name = "sluice-client",
            .component = "client",
        };
        cl->done = false;
        cl->conn = sl_conn_connect(cl->base, list[i], &o, &sl_client_handlers, cl, why);
        if (!cl->conn) {
            st = SL_ERR_UNAVAILABLE;
            continue;
        }
        sl_client_wait(cl);
        if (cl->st == SL_OK) {
            snprintf(cl->master, sizeof cl->master, "%s", list[i]);
            st = SL_OK;
            break;
        }
        st = cl->st;
        snprintf(why, sizeof why, "%s", cl->msg);
        /* A refusal (auth, version) will not change by trying elsewhere, but
         * another master of the list may be the one with the right secret. */
        if (cl->conn) {
            sl_conn_free(cl->conn);
            cl->conn = NULL;
        }
    }
    if (st != SL_OK) {
        sl_client_seterr(err, "cannot connect to %s: %s", masters, why);
        goto fail;
    }
    sl_addr_list_free(list);
    *out = cl;
    return SL_OK;
fail:
    sl_addr_list_free(list);
    sl_client_close(cl);
    return st;
}

void sl_client_close(sl_client_t *cl)
{
    if (!cl)
        return;
    sl_conn_free(cl->conn);
    sl_msg_free(cl->reply);
    if (cl->base)
        event_base_free(cl->base);
    sl_secret_free(cl->secret);
    free(cl);
}

const char *sl_client_master(const sl_client_t *cl)
{
    return cl->master;
}

static void sl_client_on_reply(sl_conn_t *c, sl_status_t st, const sl_envelope_t *reply,
                               const uint8_t *payload, size_t len, const char *msg, void *arg)
{
    sl_client_t *cl = arg;
    cl->done = true;
    cl->st = st;
    if (st != SL_OK) {
        snprintf(cl->msg, sizeof cl->msg, "%s", msg);
        return;
    }
    /* Keep a private copy: the reply is only borrowed for this callback. */
    size_t sz = sluice__envelope__get_packed_size(reply);
    uint8_t *buf = malloc(sz ? sz : 1);
    if (!buf) {
        cl->st = SL_ERR_NOMEM;
        snprintf(cl->msg, sizeof cl->msg, "out of memory");
        return;
    }
    sluice__envelope__pack(reply, buf);
    cl->reply = sluice__envelope__unpack(NULL, sz, buf);
    free(buf);
    if (!cl->reply) {
        cl->st = SL_ERR_DECODE;
        snprintf(cl->msg, sizeof cl->msg, "cannot copy the reply");
    }
}

/* Sends `env` and waits for the reply; on SL_OK the caller owns *reply. */
static sl_status_t sl_client_call(sl_client_t *cl, sl_envelope_t *env, sl_envelope_t **reply,
                                  char *err)
{
    if (!cl->conn) {
        sl_client_seterr(err, "not connected to %s%s", cl->master, "");
        return SL_ERR_CLOSED;
    }
    cl->done = false;
    cl->reply = NULL;
    sl_status_t st = sl_conn_request(cl->conn, env, NULL, 0, cl->timeout_ms, sl_client_on_reply, cl);
    if (st != SL_OK) {
        sl_client_seterr(err, "cannot send to %s: %s", cl->master, sl_strerror(st));
        return st;
    }
    sl_client_wait(cl);
    if (cl->st != SL_OK) {
        sl_client_seterr(err, "%s: %s", cl->master, cl->msg);
        return cl->st;
    }
    *reply = cl->reply;
    cl->reply = NULL;
    return SL_OK;
}

sl_status_t sl_cluster_status(sl_client_t *cl, sl_cluster_info_t **out, char *err)
{
    Sluice__Envelope env = SLUICE__ENVELOPE__INIT;
    Sluice__ClusterStatusRequest req = SLUICE__CLUSTER_STATUS_REQUEST__INIT;
    env.body_case = SLUICE__ENVELOPE__BODY_CLUSTER_STATUS_REQUEST;
    env.cluster_status_request = &req;
    sl_envelope_t *reply = NULL;
    sl_status_t st = sl_client_call(cl, &env, &reply, err);
    if (st != SL_OK)
        return st;
    if (reply->body_case != SLUICE__ENVELOPE__BODY_CLUSTER_STATUS) {
        sl_client_seterr(err, "%s answered with '%s' instead of a cluster status", cl->master,
                         sl_msg_name(reply->body_case));
        sl_msg_free(reply);
        return SL_ERR_PROTOCOL;
    }
    sl_cluster_info_t *info = malloc(sizeof *info);
    if (!info) {
        sl_msg_free(reply);
        return SL_ERR_NOMEM;
    }
    info->env = reply;
    info->cs = reply->cluster_status;
    *out = info;
    return SL_OK;
}

void sl_cluster_info_free(sl_cluster_info_t *info)
{
    if (!info)
        return;
    sl_msg_free(info->env);
    free(info);
}

const char *sl_cluster_master_address(const sl_cluster_info_t *i) { return i->cs->master_address; }
uint64_t sl_cluster_uptime_ms(const sl_cluster_info_t *i) { return i->cs->uptime_ms; }
uint64_t sl_cluster_worker_timeout_ms(const sl_cluster_info_t *i) { return i->cs->worker_timeout_ms; }
bool sl_cluster_authenticated(const sl_cluster_info_t *i) { return i->cs->authenticated; }
size_t sl_cluster_worker_count(const sl_cluster_info_t *i) { return i->cs->n_workers; }

const char *sl_cluster_worker_id(const sl_cluster_info_t *i, size_t k)
{
    return k < i->cs->n_workers ? i->cs->workers[k]->worker_id : NULL;
}

const char *sl_cluster_worker_address(const sl_cluster_info_t *i, size_t k)
{
    return k < i->cs->n_workers ? i->cs->workers[k]->address : NULL;
}

uint32_t sl_cluster_worker_cores(const sl_cluster_info_t *i, size_t k)
{
    return k < i->cs->n_workers ? i->cs->workers[k]->cores : 0;
}

uint64_t sl_cluster_worker_memory(const sl_cluster_info_t *i, size_t k)
{
    return k < i->cs->n_workers ? i->cs->workers[k]->memory_bytes : 0;
}

bool sl_cluster_worker_alive(const sl_cluster_info_t *i, size_t k)
{
    return k < i->cs->n_workers &&
           i->cs->workers[k]->state == SLUICE__WORKER_STATE__WORKER_ALIVE;
}

uint64_t sl_cluster_worker_heartbeat_ago_ms(const sl_cluster_info_t *i, size_t k)
{
    return k < i->cs->n_workers ? i->cs->workers[k]->last_heartbeat_ago_ms : 0;
}

const char *sl_cluster_worker_dead_reason(const sl_cluster_info_t *i, size_t k)
{
    return k < i->cs->n_workers ? i->cs->workers[k]->dead_reason : NULL;
}

char *sl_cluster_info_json(const sl_cluster_info_t *info)
{
    json_t *j = sl_view_cluster_json(info->cs);
    char *text = j ? json_dumps(j, JSON_INDENT(2)) : NULL;
    json_decref(j);
    return text;
}
