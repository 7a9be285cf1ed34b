/* libsluice: a blocking facade over the asynchronous connection layer. Each
 * client owns a private event loop and runs it only while a call waits. This
 * file holds the master connection (connect, reconnect, request/reply),
 * cluster status and job control; watching outputs is in watch.c, pushing in
 * push.c, building jobs in builder.c. */
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <jansson.h>
#include "client-internal.h"
#include "daemon.h"
#include "parse.h"
#include "timeutil.h"
#include "view.h"

#define SL_CLIENT_DEFAULT_TIMEOUT_MS 10000
#define SL_STOP_DEFAULT_TIMEOUT_MS 60000    /* the master's, for a graceful stop without one */
#define SL_STOP_MARGIN_MS 10000             /* on top of it, for the reply to come back */

/* The info objects begin with the reply they read, which owns everything
 * below it (see sl_client_fetch()). */
struct sl_cluster_info {
    sl_envelope_t *env;
    const Sluice__ClusterStatus *cs;
};

struct sl_job_info {
    sl_envelope_t *env;
    const Sluice__JobList *jl;
};

struct sl_batch_info {
    sl_envelope_t *env;
    const Sluice__BatchList *bl;
    char *job_id;
};

_Static_assert(offsetof(struct sl_cluster_info, env) == 0 &&
               offsetof(struct sl_job_info, env) == 0 && offsetof(struct sl_batch_info, env) == 0,
               "info objects begin with their reply");

void sl_errf(char *err, const char *fmt, ...)
{
    if (!err)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, SL_ERRMSG_LEN, fmt, ap);
    va_end(ap);
}

/* --- the master connection ---------------------------------------------------- */

static void sl_client_on_ready(sl_conn_t *c, void *arg)
{
    sl_client_t *cl = arg;
    cl->done = true;
    cl->st = SL_OK;
    cl->conn_lost_ms = 0;
}

static void sl_client_on_close(sl_conn_t *c, sl_status_t why, const char *msg, void *arg)
{
    sl_client_t *cl = arg;
    if (cl->conn == c) {
        cl->conn = NULL;
        /* Failed reconnects do not move the time the master was lost. */
        if (!cl->conn_lost_ms)
            cl->conn_lost_ms = sl_time_mono_ms();
    }
    if (!cl->done) {
        cl->done = true;
        cl->st = why == SL_OK ? SL_ERR_CLOSED : why;
        snprintf(cl->msg, sizeof cl->msg, "%s", msg);
    }
}

/* One-way messages from the master: batch outputs of watched jobs are queued
 * for sl_watch_next(); anything else is not for clients and is ignored. */
static void sl_client_on_message(sl_conn_t *c, const sl_envelope_t *env, const uint8_t *payload,
                                 size_t len, void *arg)
{
    if (env->body_case == SLUICE__ENVELOPE__BODY_BATCH_OUTPUT)
        sl_watch_enqueue(arg, env, payload, len);
}

static const sl_conn_handlers_t sl_client_handlers = {
    .on_message = sl_client_on_message,
    .on_ready = sl_client_on_ready,
    .on_close = sl_client_on_close,
};

static void sl_client_wake_cb(evutil_socket_t fd, short what, void *arg)
{
    /* Only makes the loop pass return. */
}

/* Runs the loop until the current call is done. */
static void sl_client_wait(sl_client_t *cl)
{
    while (!cl->done)
        event_base_loop(cl->base, EVLOOP_ONCE);
}

void sl_client_run_once(sl_client_t *cl, uint64_t max_wait_ms)
{
    struct timeval tv = sl_time_tv(max_wait_ms);
    evtimer_add(cl->wake, &tv);
    event_base_loop(cl->base, EVLOOP_ONCE);
    evtimer_del(cl->wake);
}

/* Connects to the first master of the list that completes the handshake.
 * On failure `why` says what the last one answered, and the status is its:
 * SL_ERR_UNAVAILABLE for an unreachable master or a standby. */
static sl_status_t sl_client_connect_any(sl_client_t *cl, char *why)
{
    char **list = NULL;
    size_t n = 0;
    sl_status_t st = sl_parse_addr_list(cl->masters, &list, &n, why);
    if (st != SL_OK)
        return st;
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
        snprintf(why, SL_ERRMSG_LEN, "%s", cl->msg);
        /* Go on after a refusal too: a standby refuses clients
         * (SL_ERR_UNAVAILABLE) while another master of the list is active,
         * and another may be the one with the right secret. */
        if (cl->conn) {
            sl_conn_free(cl->conn);
            cl->conn = NULL;
        }
    }
    sl_addr_list_free(list);
    return st;
}

sl_status_t sl_client_open(const char *masters, const char *secret_file, uint64_t timeout_ms,
                           sl_client_t **out, char *err)
{
    char why[SL_ERRMSG_LEN] = "";
    sl_status_t st;
    sl_ignore_sigpipe();
    if (!masters || !*masters) {
        sl_errf(err, "no master address given (--master or $SLUICE_MASTER)");
        return SL_ERR_INVALID;
    }
    sl_client_t *cl = calloc(1, sizeof *cl);
    if (!cl)
        return SL_ERR_NOMEM;
    cl->timeout_ms = timeout_ms ? timeout_ms : SL_CLIENT_DEFAULT_TIMEOUT_MS;
    cl->done = true;
    cl->masters = strdup(masters);
    if (!cl->masters) {
        st = SL_ERR_NOMEM;
        goto fail;
    }
    if (secret_file && (st = sl_secret_load(secret_file, &cl->secret, why)) != SL_OK) {
        sl_errf(err, "%s", why);
        goto fail;
    }
    cl->base = sl_event_base_new();
    cl->wake = cl->base ? evtimer_new(cl->base, sl_client_wake_cb, cl) : NULL;
    if (!cl->wake) {
        st = SL_ERR_NOMEM;
        goto fail;
    }
    /* A random producer id: the receiver keys its duplicate detection on it. */
    if (getrandom(&cl->producer, sizeof cl->producer, 0) != (ssize_t)sizeof cl->producer ||
        cl->producer == 0)
        cl->producer = sl_time_wall_ms() * 0x9E3779B97F4A7C15ULL ^ (uint64_t)(uintptr_t)cl;
    st = sl_client_connect_any(cl, why);
    if (st != SL_OK) {
        sl_errf(err, "cannot connect to %s: %s", masters, why);
        goto fail;
    }
    *out = cl;
    return SL_OK;
fail:
    sl_client_close(cl);
    return st;
}

void sl_client_close(sl_client_t *cl)
{
    if (!cl)
        return;
    sl_push_free_all(cl);
    sl_conn_free(cl->conn);
    sl_msg_free(cl->reply);
    sl_watch_free_all(cl);
    if (cl->wake)
        event_free(cl->wake);
    if (cl->base)
        event_base_free(cl->base);
    sl_secret_free(cl->secret);
    free(cl->masters);
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
    cl->reply = sl_msg_clone(reply);
    if (!cl->reply) {
        cl->st = SL_ERR_NOMEM;
        snprintf(cl->msg, sizeof cl->msg, "cannot copy the reply");
    }
}

sl_status_t sl_client_call_once(sl_client_t *cl, sl_envelope_t *env, const void *payload,
                                size_t payload_len, uint64_t timeout_ms, sl_envelope_t **reply,
                                char *err)
{
    if (!cl->conn) {
        snprintf(cl->msg, sizeof cl->msg, "not connected");
        sl_errf(err, "not connected to %s", cl->master);
        return SL_ERR_CLOSED;
    }
    cl->done = false;
    cl->reply = NULL;
    sl_status_t st = sl_conn_request(cl->conn, env, payload, payload_len,
                                     timeout_ms ? timeout_ms : cl->timeout_ms, sl_client_on_reply, cl);
    if (st != SL_OK) {
        cl->done = true;
        snprintf(cl->msg, sizeof cl->msg, "%s", sl_strerror(st));
        sl_errf(err, "cannot send to %s: %s", cl->master, sl_strerror(st));
        return st;
    }
    sl_client_wait(cl);
    if (cl->st != SL_OK) {
        sl_msg_free(cl->reply);
        cl->reply = NULL;
        sl_errf(err, "%s: %s", cl->master, cl->msg);
        return cl->st;
    }
    *reply = cl->reply;
    cl->reply = NULL;
    return SL_OK;
}

sl_status_t sl_client_reconnect(sl_client_t *cl, char *err)
{
    char why[SL_ERRMSG_LEN] = "";
    uint64_t lost = cl->conn_lost_ms;
    sl_status_t st = sl_client_connect_any(cl, why);
    if (st != SL_OK) {
        snprintf(cl->msg, sizeof cl->msg, "%s", why);
        sl_errf(err, "lost the connection to the master and cannot reconnect to %s: %s",
                cl->masters, why);
        return st;
    }
    if ((st = sl_watch_renew(cl, why)) != SL_OK) {
        /* Half renewed is not renewed: drop the connection so that the next
         * attempt starts over. */
        snprintf(cl->msg, sizeof cl->msg, "%s", why);
        sl_errf(err, "reconnected to %s but %s", cl->master, why);
        sl_conn_free(cl->conn);
        cl->conn = NULL;
        cl->conn_lost_ms = lost ? lost : sl_time_mono_ms();
        return st;
    }
    return SL_OK;
}

sl_status_t sl_client_call(sl_client_t *cl, sl_envelope_t *env, const void *payload,
                           size_t payload_len, uint64_t timeout_ms, sl_envelope_t **reply,
                           char *err)
{
    if (!cl->conn) {
        sl_status_t st = sl_client_reconnect(cl, err);
        if (st != SL_OK)
            return st;
    }
    return sl_client_call_once(cl, env, payload, payload_len, timeout_ms, reply, err);
}

sl_status_t sl_client_expect(sl_client_t *cl, sl_envelope_t *reply, Sluice__Envelope__BodyCase want,
                             const char *what, char *err)
{
    if (reply->body_case == want)
        return SL_OK;
    sl_errf(err, "%s answered with '%s' instead of %s", cl->master, sl_msg_name(reply->body_case),
            what);
    sl_msg_free(reply);
    return SL_ERR_PROTOCOL;
}

sl_status_t sl_client_request(sl_client_t *cl, sl_envelope_t *env, uint64_t timeout_ms,
                              Sluice__Envelope__BodyCase want, const char *what,
                              sl_envelope_t **reply, char *err)
{
    *reply = NULL;
    sl_status_t st = sl_client_call(cl, env, NULL, 0, timeout_ms, reply, err);
    if (st == SL_OK && (st = sl_client_expect(cl, *reply, want, what, err)) != SL_OK)
        *reply = NULL;
    return st;
}

/* Sends `env` (borrowed) like sl_client_request() and hands the reply to a
 * new zeroed info object of `size` bytes, whose first member is the
 * envelope that owns it. Returns the object (caller frees it and its
 * reply), or NULL with *st and err saying why. */
static void *sl_client_fetch(sl_client_t *cl, sl_envelope_t *env, Sluice__Envelope__BodyCase want,
                             const char *what, size_t size, sl_status_t *st /* OUT */, char *err)
{
    sl_envelope_t *reply;
    *st = sl_client_request(cl, env, 0, want, what, &reply, err);
    if (*st != SL_OK)
        return NULL;
    sl_envelope_t **info = calloc(1, size);
    if (!info) {
        sl_msg_free(reply);
        *st = SL_ERR_NOMEM;
        return NULL;
    }
    *info = reply;
    return info;
}

/* --- cluster status ------------------------------------------------------------- */

sl_status_t sl_cluster_status(sl_client_t *cl, sl_cluster_info_t **out, char *err)
{
    Sluice__Envelope env = SLUICE__ENVELOPE__INIT;
    Sluice__ClusterStatusRequest req = SLUICE__CLUSTER_STATUS_REQUEST__INIT;
    env.body_case = SLUICE__ENVELOPE__BODY_CLUSTER_STATUS_REQUEST;
    env.cluster_status_request = &req;
    sl_status_t st;
    sl_cluster_info_t *info = sl_client_fetch(cl, &env, SLUICE__ENVELOPE__BODY_CLUSTER_STATUS,
                                              "a cluster status", sizeof *info, &st, err);
    if (info) {
        info->cs = info->env->cluster_status;
        *out = info;
    }
    return st;
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

/* A status without MasterInfo (a master from before cluster mode) reads as
 * an active master without a checkpoint. */
bool sl_cluster_master_active(const sl_cluster_info_t *i)
{
    return !i->cs->master || i->cs->master->active;
}

#define SL_MASTER_FIELD(fn, type, field, none)                 \
    type fn(const sl_cluster_info_t *i)                        \
    {                                                          \
        const Sluice__MasterInfo *mi = i->cs->master;          \
        return mi ? (type)mi->field : (none);                  \
    }
SL_MASTER_FIELD(sl_cluster_checkpoint, const char *, checkpoint, "")
SL_MASTER_FIELD(sl_cluster_lease_epoch, uint64_t, epoch, 0)
SL_MASTER_FIELD(sl_cluster_lease_holder, const char *, lease_holder, "")
SL_MASTER_FIELD(sl_cluster_lease_address, const char *, lease_address, "")
SL_MASTER_FIELD(sl_cluster_lease_expires_ms, int64_t, lease_expires_ms, 0)
SL_MASTER_FIELD(sl_cluster_recovering, bool, recovering, false)
SL_MASTER_FIELD(sl_cluster_workers_expected, uint32_t, workers_expected, 0)
SL_MASTER_FIELD(sl_cluster_workers_back, uint32_t, workers_back, 0)
SL_MASTER_FIELD(sl_cluster_batches_to_rerun, uint32_t, batches_to_rerun, 0)
SL_MASTER_FIELD(sl_cluster_jobs_recovered, uint32_t, jobs_recovered, 0)
#undef SL_MASTER_FIELD

char *sl_json_text(json_t *j, size_t flags)
{
    char *text = j ? json_dumps(j, flags) : NULL;
    json_decref(j);
    return text;
}

char *sl_cluster_info_json(const sl_cluster_info_t *info)
{
    return sl_json_text(sl_view_cluster_json(info->cs), JSON_INDENT(2));
}

/* --- job control ----------------------------------------------------------------- */

bool sl_client_check_id(const char *job_id, char *err)
{
    if (job_id && *job_id)
        return true;
    sl_errf(err, "no job id given");
    return false;
}

/* Rewrites the master's "line L, col C: msg" as "origin:L:C: msg". */
static void sl_client_submit_error(const char *origin, const char *msg, char *err)
{
    unsigned line, col;
    int used = 0;
    if (origin && sscanf(msg, "line %u, col %u: %n", &line, &col, &used) == 2 && used > 0)
        sl_errf(err, "%s:%u:%u: %s", origin, line, col, msg + used);
    else if (origin)
        sl_errf(err, "%s: %s", origin, msg);
    else
        sl_errf(err, "%s", msg);
}

sl_status_t sl_client_submit_spec(sl_client_t *cl, const Sluice__JobSpec *spec, const char *origin,
                                  char *job_id_out, char *err)
{
    Sluice__Envelope env = SLUICE__ENVELOPE__INIT;
    Sluice__SubmitJob req = SLUICE__SUBMIT_JOB__INIT;
    req.spec = (Sluice__JobSpec *)spec;
    env.body_case = SLUICE__ENVELOPE__BODY_SUBMIT_JOB;
    env.submit_job = &req;
    sl_envelope_t *reply;
    char why[SL_ERRMSG_LEN];
    sl_status_t st = sl_client_request(cl, &env, 0, SLUICE__ENVELOPE__BODY_SUBMIT_JOB_REPLY,
                                       "a job id", &reply, why);
    if (st != SL_OK) {
        /* The master's verdict on the job reads best without its address. */
        if (st == SL_ERR_INVALID || st == SL_ERR_EXISTS || st == SL_ERR_NOT_FOUND)
            sl_client_submit_error(origin, cl->msg, err);
        else
            sl_errf(err, "%s", why);
        return st;
    }
    const char *id = reply->submit_job_reply->job_id;
    if (!*id || strlen(id) >= SL_JOB_ID_LEN) {
        sl_errf(err, "%s answered with an invalid job id", cl->master);
        st = SL_ERR_PROTOCOL;
    } else {
        snprintf(job_id_out, SL_JOB_ID_LEN, "%s", id);
    }
    sl_msg_free(reply);
    return st;
}

/* Sends StopJob. A graceful stop is answered only once the job is over, so
 * the request waits for the job's timeout (0: the master's 60 s) plus a
 * margin for the last batch's reply to come back, not the client timeout. */
static sl_status_t sl_job_stop_send(sl_client_t *cl, const char *job_id, bool graceful,
                                    uint64_t timeout_ms, char *err)
{
    if (!sl_client_check_id(job_id, err))
        return SL_ERR_INVALID;
    Sluice__Envelope env = SLUICE__ENVELOPE__INIT;
    Sluice__StopJob req = SLUICE__STOP_JOB__INIT;
    req.job_id = (char *)job_id;
    req.graceful = graceful;
    req.timeout_ms = timeout_ms;
    env.body_case = SLUICE__ENVELOPE__BODY_STOP_JOB;
    env.stop_job = &req;
    uint64_t wait = 0;
    if (graceful) {
        uint64_t job = timeout_ms ? timeout_ms : SL_STOP_DEFAULT_TIMEOUT_MS;
        wait = job > UINT64_MAX - SL_STOP_MARGIN_MS ? UINT64_MAX : job + SL_STOP_MARGIN_MS;
    }
    sl_envelope_t *reply;
    sl_status_t st = sl_client_request(cl, &env, wait, SLUICE__ENVELOPE__BODY_STOP_JOB_REPLY,
                                       "a stop reply", &reply, err);
    sl_msg_free(reply);
    return st;
}

sl_status_t sl_job_stop(sl_client_t *cl, const char *job_id, char *err)
{
    return sl_job_stop_send(cl, job_id, false, 0, err);
}

sl_status_t sl_job_stop_graceful(sl_client_t *cl, const char *job_id, uint64_t timeout_ms,
                                 char *err)
{
    return sl_job_stop_send(cl, job_id, true, timeout_ms, err);
}

sl_status_t sl_job_tick(sl_client_t *cl, const char *job_id, uint32_t count, bool wait,
                        int64_t **times_out, size_t *n_out, char *err)
{
    if (!sl_client_check_id(job_id, err))
        return SL_ERR_INVALID;
    Sluice__Envelope env = SLUICE__ENVELOPE__INIT;
    Sluice__Tick req = SLUICE__TICK__INIT;
    req.job_id = (char *)job_id;
    req.count = count;
    req.wait = wait;
    env.body_case = SLUICE__ENVELOPE__BODY_TICK;
    env.tick = &req;
    /* Waiting covers the batches' processing: each gets the client timeout. */
    uint64_t tmo = cl->timeout_ms * (wait ? (uint64_t)(count ? count : 1) + 1 : 1);
    sl_envelope_t *reply;
    sl_status_t st = sl_client_request(cl, &env, tmo, SLUICE__ENVELOPE__BODY_TICK_REPLY,
                                       "a tick reply", &reply, err);
    if (st != SL_OK)
        return st;
    const Sluice__TickReply *tr = reply->tick_reply;
    if (times_out) {
        *times_out = malloc((tr->n_batch_times_ms ? tr->n_batch_times_ms : 1) * sizeof **times_out);
        if (!*times_out) {
            sl_msg_free(reply);
            return SL_ERR_NOMEM;
        }
        if (tr->n_batch_times_ms)
            memcpy(*times_out, tr->batch_times_ms, tr->n_batch_times_ms * sizeof **times_out);
    }
    if (n_out)
        *n_out = tr->n_batch_times_ms;
    sl_msg_free(reply);
    return SL_OK;
}

static const char *sl_job_state_name(Sluice__JobState s)
{
    switch (s) {
    case SLUICE__JOB_STATE__JOB_RUNNING: return "running";
    case SLUICE__JOB_STATE__JOB_STOPPED: return "stopped";
    case SLUICE__JOB_STATE__JOB_FAILED: return "failed";
    default: return "unknown";
    }
}

static const char *sl_batch_state_name(Sluice__BatchState s)
{
    switch (s) {
    case SLUICE__BATCH_STATE__BATCH_QUEUED: return "queued";
    case SLUICE__BATCH_STATE__BATCH_RUNNING: return "running";
    case SLUICE__BATCH_STATE__BATCH_DONE: return "done";
    case SLUICE__BATCH_STATE__BATCH_FAILED: return "failed";
    default: return "unknown";
    }
}

sl_status_t sl_job_list(sl_client_t *cl, sl_job_info_t **out, char *err)
{
    Sluice__Envelope env = SLUICE__ENVELOPE__INIT;
    Sluice__ListJobs req = SLUICE__LIST_JOBS__INIT;
    env.body_case = SLUICE__ENVELOPE__BODY_LIST_JOBS;
    env.list_jobs = &req;
    sl_status_t st;
    sl_job_info_t *info = sl_client_fetch(cl, &env, SLUICE__ENVELOPE__BODY_JOB_LIST, "a job list",
                                          sizeof *info, &st, err);
    if (info) {
        info->jl = info->env->job_list;
        *out = info;
    }
    return st;
}

void sl_job_info_free(sl_job_info_t *info)
{
    if (!info)
        return;
    sl_msg_free(info->env);
    free(info);
}

static const Sluice__JobInfo *sl_job_at(const sl_job_info_t *info, size_t i)
{
    return i < info->jl->n_jobs ? info->jl->jobs[i] : NULL;
}

static const Sluice__ReceiverInfo *sl_receiver_at(const sl_job_info_t *info, size_t i, size_t r)
{
    const Sluice__JobInfo *j = sl_job_at(info, i);
    return j && r < j->n_receivers ? j->receivers[r] : NULL;
}

size_t sl_job_info_count(const sl_job_info_t *info) { return info->jl->n_jobs; }

/* The accessors differ only in the field they read. */
#define SL_JOB_FIELD(fn, type, field, none)                    \
    type fn(const sl_job_info_t *info, size_t i)               \
    {                                                          \
        const Sluice__JobInfo *j = sl_job_at(info, i);         \
        return j ? (type)j->field : (none);                    \
    }
SL_JOB_FIELD(sl_job_info_id, const char *, job_id, NULL)
SL_JOB_FIELD(sl_job_info_batch_ms, uint64_t, batch_ms, 0)
SL_JOB_FIELD(sl_job_info_batches_done, uint64_t, batches_done, 0)
SL_JOB_FIELD(sl_job_info_batches_queued, uint64_t, batches_queued, 0)
SL_JOB_FIELD(sl_job_info_last_batch_ms, int64_t, last_batch_time_ms, -1)
SL_JOB_FIELD(sl_job_info_error, const char *, error, NULL)
SL_JOB_FIELD(sl_job_info_receiver_count, size_t, n_receivers, 0)
#undef SL_JOB_FIELD

#define SL_RECEIVER_FIELD(fn, type, field, none)                        \
    type fn(const sl_job_info_t *info, size_t i, size_t r)              \
    {                                                                   \
        const Sluice__ReceiverInfo *ri = sl_receiver_at(info, i, r);    \
        return ri ? (type)ri->field : (none);                           \
    }
SL_RECEIVER_FIELD(sl_job_info_receiver_stream, const char *, stream, NULL)
SL_RECEIVER_FIELD(sl_job_info_receiver_worker, const char *, worker_id, NULL)
SL_RECEIVER_FIELD(sl_job_info_receiver_address, const char *, address, NULL)
SL_RECEIVER_FIELD(sl_job_info_receiver_epoch, uint32_t, epoch, 0)
#undef SL_RECEIVER_FIELD

const char *sl_job_info_state(const sl_job_info_t *info, size_t i)
{
    const Sluice__JobInfo *j = sl_job_at(info, i);
    return j ? sl_job_state_name(j->state) : NULL;
}

char *sl_job_info_json(const sl_job_info_t *info)
{
    json_t *jobs = json_array();
    for (size_t i = 0; jobs && i < info->jl->n_jobs; i++) {
        const Sluice__JobInfo *j = info->jl->jobs[i];
        json_t *recv = json_array();
        for (size_t r = 0; recv && r < j->n_receivers; r++) {
            const Sluice__ReceiverInfo *ri = j->receivers[r];
            json_array_append_new(recv, json_pack("{s:s, s:s, s:s, s:I}", "stream", ri->stream,
                                                  "worker_id", ri->worker_id, "address",
                                                  ri->address, "epoch", (json_int_t)ri->epoch));
        }
        json_array_append_new(jobs, json_pack(
            "{s:s, s:s, s:I, s:I, s:I, s:I, s:s, s:o}", "id", j->job_id,
            "state", sl_job_state_name(j->state), "batch_ms", (json_int_t)j->batch_ms,
            "batches_done", (json_int_t)j->batches_done,
            "batches_queued", (json_int_t)j->batches_queued,
            "last_batch_time_ms", (json_int_t)j->last_batch_time_ms, "error", j->error,
            "receivers", recv));
    }
    return sl_json_text(json_pack("{s:o}", "jobs", jobs), JSON_INDENT(2));
}

sl_status_t sl_job_batches(sl_client_t *cl, const char *job_id, sl_batch_info_t **out, char *err)
{
    if (!sl_client_check_id(job_id, err))
        return SL_ERR_INVALID;
    Sluice__Envelope env = SLUICE__ENVELOPE__INIT;
    Sluice__ListBatches req = SLUICE__LIST_BATCHES__INIT;
    req.job_id = (char *)job_id;
    env.body_case = SLUICE__ENVELOPE__BODY_LIST_BATCHES;
    env.list_batches = &req;
    sl_status_t st;
    sl_batch_info_t *info = sl_client_fetch(cl, &env, SLUICE__ENVELOPE__BODY_BATCH_LIST,
                                            "a batch list", sizeof *info, &st, err);
    if (!info)
        return st;
    info->bl = info->env->batch_list;
    info->job_id = strdup(job_id);
    if (!info->job_id) {
        sl_batch_info_free(info);
        return SL_ERR_NOMEM;
    }
    *out = info;
    return SL_OK;
}

void sl_batch_info_free(sl_batch_info_t *info)
{
    if (!info)
        return;
    sl_msg_free(info->env);
    free(info->job_id);
    free(info);
}

static const Sluice__BatchInfo *sl_batch_at(const sl_batch_info_t *info, size_t i)
{
    return i < info->bl->n_batches ? info->bl->batches[i] : NULL;
}

/* The numeric accessors differ only in the field they read. */
#define SL_BATCH_FIELD(fn, type, field, none)                  \
    type fn(const sl_batch_info_t *info, size_t i)             \
    {                                                          \
        const Sluice__BatchInfo *b = sl_batch_at(info, i);     \
        return b ? (type)b->field : (none);                    \
    }
SL_BATCH_FIELD(sl_batch_info_time_ms, int64_t, time_ms, 0)
SL_BATCH_FIELD(sl_batch_info_input_records, uint64_t, input_records, 0)
SL_BATCH_FIELD(sl_batch_info_scheduling_delay_ms, uint64_t, scheduling_delay_ms, 0)
SL_BATCH_FIELD(sl_batch_info_processing_ms, uint64_t, processing_ms, 0)
SL_BATCH_FIELD(sl_batch_info_total_delay_ms, uint64_t, total_delay_ms, 0)
SL_BATCH_FIELD(sl_batch_info_tasks, uint32_t, tasks, 0)
SL_BATCH_FIELD(sl_batch_info_failed_tasks, uint32_t, failed_tasks, 0)
SL_BATCH_FIELD(sl_batch_info_attempts, uint32_t, attempts, 0)
SL_BATCH_FIELD(sl_batch_info_error, const char *, error, NULL)
#undef SL_BATCH_FIELD

size_t sl_batch_info_count(const sl_batch_info_t *info) { return info->bl->n_batches; }

const char *sl_batch_info_state(const sl_batch_info_t *info, size_t i)
{
    const Sluice__BatchInfo *b = sl_batch_at(info, i);
    return b ? sl_batch_state_name(b->state) : NULL;
}

char *sl_batch_info_json(const sl_batch_info_t *info)
{
    json_t *batches = json_array();
    for (size_t i = 0; batches && i < info->bl->n_batches; i++) {
        const Sluice__BatchInfo *b = info->bl->batches[i];
        json_array_append_new(batches, json_pack(
            "{s:I, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:s}", "time_ms", (json_int_t)b->time_ms,
            "state", sl_batch_state_name(b->state), "input_records", (json_int_t)b->input_records,
            "scheduling_delay_ms", (json_int_t)b->scheduling_delay_ms,
            "processing_ms", (json_int_t)b->processing_ms,
            "total_delay_ms", (json_int_t)b->total_delay_ms, "tasks", (json_int_t)b->tasks,
            "failed_tasks", (json_int_t)b->failed_tasks, "attempts", (json_int_t)b->attempts,
            "error", b->error));
    }
    return sl_json_text(json_pack("{s:s, s:o}", "job", info->job_id, "batches", batches),
                        JSON_INDENT(2));
}

