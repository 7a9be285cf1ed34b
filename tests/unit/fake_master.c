/* The fake master and worker of fake_master.h: one event loop on its own
 * thread serves the active master, the worker and the standby listeners;
 * handlers answer from canned data and count what arrives under `mu`. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include "block.h"
#include "client/sluice.h"
#include "conn.h"
#include "daemon.h"
#include "fake_master.h"
#include "timeutil.h"
#include "unit.h"

/* Free loopback addresses for outs[0..n-1] (each `len` bytes), all
 * different: the sockets stay bound until every port is known, since the
 * kernel may hand a just-closed port out again. */
static void fake_free_addrs(char *const *outs, size_t n, size_t len)
{
    int s[8];
    ck_assert(n <= sizeof s / sizeof *s);
    for (size_t i = 0; i < n; i++) {
        struct sockaddr_in a = { .sin_family = AF_INET,
                                 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        socklen_t al = sizeof a;
        s[i] = socket(AF_INET, SOCK_STREAM, 0);
        ck_assert_int_eq(bind(s[i], (struct sockaddr *)&a, sizeof a), 0);
        ck_assert_int_eq(getsockname(s[i], (struct sockaddr *)&a, &al), 0);
        snprintf(outs[i], len, "127.0.0.1:%u", ntohs(a.sin_port));
    }
    for (size_t i = 0; i < n; i++)
        close(s[i]);
}

static void fake_ack(fake_t *f, sl_conn_t *c, uint64_t request_id, uint64_t records, bool dup)
{
    Sluice__Envelope req = SLUICE__ENVELOPE__INIT, r = SLUICE__ENVELOPE__INIT;
    Sluice__PushAck ack = SLUICE__PUSH_ACK__INIT;
    req.request_id = request_id;
    ack.records = records;
    ack.duplicate = dup;
    r.body_case = SLUICE__ENVELOPE__BODY_PUSH_ACK;
    r.push_ack = &ack;
    (void)sl_conn_reply(c, &req, &r, NULL, 0);
}

static void fake_release_cb(evutil_socket_t fd, short what, void *arg)
{
    fake_t *f = arg;
    pthread_mutex_lock(&f->mu);
    while (f->nheld) {
        fake_held_t *h = &f->held[--f->nheld];
        fake_ack(f, h->conn, h->request_id, h->records, h->duplicate);
    }
    pthread_mutex_unlock(&f->mu);
}

static void fake_push(fake_t *f, sl_conn_t *c, const sl_envelope_t *env, const uint8_t *payload,
                      size_t len)
{
    sl_block_iter_t it;
    sl_record_t r;
    char why[SL_ERRMSG_LEN];
    if (sl_block_open(payload, len, true, &it, why) != SL_OK) {
        sl_conn_reply_error(c, env, SL_ERR_INVALID, why);
        return;
    }
    uint64_t seq = env->push->seq, n = 0, sum = 0;
    while (sl_block_next(&it, &r) == 1) {
        n++;
        if (r.val.type == SL_VAL_INT)
            sum += (uint64_t)r.val.u.i;
    }
    pthread_mutex_lock(&f->mu);
    f->pushes++;
    bool dup = seq < FAKE_MAX_SEQ && f->seen[seq];
    if (dup) {
        f->duplicates++;
    } else {
        if (seq < FAKE_MAX_SEQ)
            f->seen[seq] = true;
        if (seq != f->last_seq + 1)
            f->bad_order++;
        f->last_seq = seq;
        f->stored_records += n;
        f->int_sum += sum;
    }
    bool drop = f->drop_after && (int)f->pushes == f->drop_after;
    if (drop)
        f->drop_after = 0;
    bool hold = !drop && f->hold_acks && f->nheld < FAKE_MAX_HELD;
    if (hold) {
        f->held[f->nheld++] = (fake_held_t){ c, env->request_id, n, dup };
        if (f->nheld > f->max_held)
            f->max_held = f->nheld;
        if (f->nheld == 1) {
            struct timeval tv = sl_time_tv(f->release_ms);
            evtimer_add(f->release_ev, &tv);
        }
    }
    pthread_mutex_unlock(&f->mu);
    if (drop)
        sl_conn_close(c);     /* stored, never acked: the client must re-send */
    else if (!hold)
        fake_ack(f, c, env->request_id, n, dup);
}

static void fake_send_outputs(sl_conn_t *c, const char *job)
{
    sl_block_builder_t bb;
    sl_bb_init(&bb);
    sl_record_t recs[] = {
        { (const uint8_t *)"a", 1, sl_val_int(3) },
        { NULL, 0, sl_val_bytes("hello\tworld", 11) },
        { (const uint8_t *)"k", 1, sl_val_double(1.5) },
        { (const uint8_t *)"n", 1, sl_val_null() },
    };
    for (size_t i = 0; i < 4; i++)
        ck_assert_int_eq(sl_bb_add(&bb, &recs[i]), SL_OK);
    uint8_t *block;
    size_t len;
    ck_assert_int_eq(sl_bb_finish(&bb, &block, &len), SL_OK);
    for (int k = 0; k < 2; k++) {
        Sluice__Envelope env = SLUICE__ENVELOPE__INIT;
        Sluice__BatchOutput bo = SLUICE__BATCH_OUTPUT__INIT;
        bo.job_id = (char *)job;
        bo.stream = "counts";
        bo.batch_time_ms = 1000 * (k + 1);
        bo.total_records = k ? 4 : 10;
        bo.kind = SLUICE__OUTPUT_KIND__OUT_PRINT;
        env.body_case = SLUICE__ENVELOPE__BODY_BATCH_OUTPUT;
        env.batch_output = &bo;
        ck_assert_int_eq(sl_conn_send(c, &env, block, len), SL_OK);
    }
    free(block);
    sl_bb_free(&bb);
}

static void fake_on_message(sl_conn_t *c, const sl_envelope_t *env, const uint8_t *payload,
                            size_t len, void *arg)
{
    fake_t *f = arg;
    Sluice__Envelope r = SLUICE__ENVELOPE__INIT;
    switch (env->body_case) {
    case SLUICE__ENVELOPE__BODY_PUSH:
        fake_push(f, c, env, payload, len);
        return;
    case SLUICE__ENVELOPE__BODY_LOCATE_STREAM: {
        pthread_mutex_lock(&f->mu);
        f->locates++;
        pthread_mutex_unlock(&f->mu);
        if (strcmp(env->locate_stream->stream, "nope") == 0) {
            sl_conn_reply_error(c, env, SL_ERR_NOT_FOUND, "job 'j' has no stream 'nope'");
            return;
        }
        Sluice__StreamLocation loc = SLUICE__STREAM_LOCATION__INIT;
        loc.address = (char *)f->locate_addr;
        loc.epoch = 1;
        r.body_case = SLUICE__ENVELOPE__BODY_STREAM_LOCATION;
        r.stream_location = &loc;
        sl_conn_reply(c, env, &r, NULL, 0);
        return;
    }
    case SLUICE__ENVELOPE__BODY_WATCH: {
        pthread_mutex_lock(&f->mu);
        f->watches++;
        pthread_mutex_unlock(&f->mu);
        Sluice__WatchReply wr = SLUICE__WATCH_REPLY__INIT;
        r.body_case = SLUICE__ENVELOPE__BODY_WATCH_REPLY;
        r.watch_reply = &wr;
        sl_conn_reply(c, env, &r, NULL, 0);
        fake_send_outputs(c, env->watch->job_id);
        return;
    }
    case SLUICE__ENVELOPE__BODY_SUBMIT_JOB: {
        const Sluice__JobSpec *spec = env->submit_job->spec;
        if (strcmp(spec->name, "bad") == 0) {
            sl_conn_reply_error(c, env, SL_ERR_INVALID, "line 4, col 12: unknown function 'splitt'");
            return;
        }
        pthread_mutex_lock(&f->mu);
        snprintf(f->last_submit_name, sizeof f->last_submit_name, "%s", spec->name);
        pthread_mutex_unlock(&f->mu);
        char id[96];
        snprintf(id, sizeof id, "%s-%zu", spec->name, spec->n_nodes);
        Sluice__SubmitJobReply sr = SLUICE__SUBMIT_JOB_REPLY__INIT;
        sr.job_id = id;
        r.body_case = SLUICE__ENVELOPE__BODY_SUBMIT_JOB_REPLY;
        r.submit_job_reply = &sr;
        sl_conn_reply(c, env, &r, NULL, 0);
        return;
    }
    case SLUICE__ENVELOPE__BODY_TICK: {
        int64_t times[8];
        Sluice__TickReply tr = SLUICE__TICK_REPLY__INIT;
        uint32_t n = env->tick->count ? env->tick->count : 1;
        for (uint32_t i = 0; i < n && i < 8; i++)
            times[i] = 1000 * (int64_t)(i + 1) + (env->tick->wait ? 7 : 0);
        tr.batch_times_ms = times;
        tr.n_batch_times_ms = n < 8 ? n : 8;
        r.body_case = SLUICE__ENVELOPE__BODY_TICK_REPLY;
        r.tick_reply = &tr;
        sl_conn_reply(c, env, &r, NULL, 0);
        return;
    }
    case SLUICE__ENVELOPE__BODY_STOP_JOB: {
        const Sluice__StopJob *sj = env->stop_job;
        pthread_mutex_lock(&f->mu);
        f->last_graceful = sj->graceful;
        f->last_stop_timeout_ms = sj->timeout_ms;
        pthread_mutex_unlock(&f->mu);
        if (strcmp(sj->job_id, "ghost") == 0) {
            sl_conn_reply_error(c, env, SL_ERR_NOT_FOUND, "no job 'ghost'");
            return;
        }
        if (strcmp(sj->job_id, "slow") == 0) {
            sl_conn_reply_error(c, env, SL_ERR_TIMEOUT, "the graceful stop timed out with 2 "
                                "batches unfinished; stopped");
            return;
        }
        if (sj->graceful && f->stop_delay_ms) {
            /* Answered once the job is over: later than the client timeout. */
            f->stop_conn = c;
            f->stop_request = env->request_id;
            struct timeval tv = sl_time_tv(f->stop_delay_ms);
            evtimer_add(f->stop_reply_ev, &tv);
            return;
        }
        Sluice__StopJobReply sr = SLUICE__STOP_JOB_REPLY__INIT;
        r.body_case = SLUICE__ENVELOPE__BODY_STOP_JOB_REPLY;
        r.stop_job_reply = &sr;
        sl_conn_reply(c, env, &r, NULL, 0);
        return;
    }
    case SLUICE__ENVELOPE__BODY_LIST_JOBS: {
        Sluice__ReceiverInfo ri = SLUICE__RECEIVER_INFO__INIT, *rip = &ri;
        ri.stream = "lines";
        ri.worker_id = "w1";
        ri.address = "127.0.0.1:7101";
        ri.epoch = 2;
        Sluice__JobInfo ji = SLUICE__JOB_INFO__INIT, *jip = &ji;
        ji.job_id = "wc-1";
        ji.state = SLUICE__JOB_STATE__JOB_RUNNING;
        ji.batch_ms = 1000;
        ji.batches_done = 5;
        ji.last_batch_time_ms = 5000;
        ji.receivers = &rip;
        ji.n_receivers = 1;
        Sluice__JobList jl = SLUICE__JOB_LIST__INIT;
        jl.jobs = &jip;
        jl.n_jobs = 1;
        r.body_case = SLUICE__ENVELOPE__BODY_JOB_LIST;
        r.job_list = &jl;
        sl_conn_reply(c, env, &r, NULL, 0);
        return;
    }
    case SLUICE__ENVELOPE__BODY_LIST_BATCHES: {
        Sluice__BatchInfo b0 = SLUICE__BATCH_INFO__INIT, b1 = SLUICE__BATCH_INFO__INIT;
        Sluice__BatchInfo *bs[2] = { &b0, &b1 };
        b0.time_ms = 1000;
        b0.state = SLUICE__BATCH_STATE__BATCH_DONE;
        b0.input_records = 42;
        b0.processing_ms = 12;
        b0.total_delay_ms = 15;
        b0.scheduling_delay_ms = 3;
        b0.tasks = 4;
        b1.time_ms = 2000;
        b1.state = SLUICE__BATCH_STATE__BATCH_FAILED;
        b1.error = "task 3 failed";
        Sluice__BatchList bl = SLUICE__BATCH_LIST__INIT;
        bl.batches = bs;
        bl.n_batches = 2;
        r.body_case = SLUICE__ENVELOPE__BODY_BATCH_LIST;
        r.batch_list = &bl;
        sl_conn_reply(c, env, &r, NULL, 0);
        return;
    }
    case SLUICE__ENVELOPE__BODY_CLUSTER_STATUS_REQUEST: {
        Sluice__MasterInfo mi = SLUICE__MASTER_INFO__INIT;
        mi.active = true;
        mi.checkpoint = "/ck/sluice.db";
        mi.epoch = 7;
        mi.lease_holder = "master-a";
        mi.lease_address = f->master_addr;
        mi.lease_expires_ms = 1700000005000;
        mi.recovering = true;
        mi.workers_expected = 3;
        mi.workers_back = 2;
        mi.batches_to_rerun = 4;
        mi.jobs_recovered = 1;
        Sluice__ClusterStatus cs = SLUICE__CLUSTER_STATUS__INIT;
        cs.master_address = f->master_addr;
        cs.uptime_ms = 1234;
        cs.master = &mi;
        r.body_case = SLUICE__ENVELOPE__BODY_CLUSTER_STATUS;
        r.cluster_status = &cs;
        sl_conn_reply(c, env, &r, NULL, 0);
        return;
    }
    default:
        sl_conn_reply_error(c, env, SL_ERR_UNKNOWN_MESSAGE, "not in the fake");
    }
}

static void fake_on_close(sl_conn_t *c, sl_status_t why, const char *msg, void *arg)
{
    fake_t *f = arg;
    pthread_mutex_lock(&f->mu);
    for (size_t i = 0; i < FAKE_MAX_CONNS; i++)
        if (f->conns[i] == c)
            f->conns[i] = NULL;
    if (f->stop_conn == c)
        f->stop_conn = NULL;
    for (size_t i = 0; i < f->nheld;)
        if (f->held[i].conn == c)
            f->held[i] = f->held[--f->nheld];
        else
            i++;
    pthread_mutex_unlock(&f->mu);
}

static const sl_conn_handlers_t fake_handlers = {
    .on_message = fake_on_message,
    .on_close = fake_on_close,
};

static void fake_accept(fake_t *f, evutil_socket_t fd, const char *peer, Sluice__Role role,
                        bool refuse)
{
    sl_conn_opts_t o = { .role = role, .name = "fake", .component = "fake",
                         .refuse = refuse ? FAKE_STANDBY : NULL };
    sl_conn_t *c = sl_conn_accept(f->base, fd, peer, &o, &fake_handlers, f);
    ck_assert_ptr_nonnull(c);
    pthread_mutex_lock(&f->mu);
    for (size_t i = 0; i < FAKE_MAX_CONNS; i++)
        if (!f->conns[i]) {
            f->conns[i] = c;
            f->is_master[i] = role == SLUICE__ROLE__ROLE_MASTER;
            break;
        }
    pthread_mutex_unlock(&f->mu);
}

static void fake_accept_master(evutil_socket_t fd, const char *peer, void *arg)
{
    fake_t *f = arg;
    fake_accept(f, fd, peer, SLUICE__ROLE__ROLE_MASTER, f->refusing);
}

static void fake_accept_worker(evutil_socket_t fd, const char *peer, void *arg)
{
    fake_accept(arg, fd, peer, SLUICE__ROLE__ROLE_WORKER, false);
}

/* A master that is always a standby. */
static void fake_accept_standby(evutil_socket_t fd, const char *peer, void *arg)
{
    fake_accept(arg, fd, peer, SLUICE__ROLE__ROLE_MASTER, true);
}

static void fake_stop_reply_cb(evutil_socket_t fd, short what, void *arg)
{
    fake_t *f = arg;
    if (!f->stop_conn)
        return;
    Sluice__Envelope req = SLUICE__ENVELOPE__INIT, r = SLUICE__ENVELOPE__INIT;
    Sluice__StopJobReply sr = SLUICE__STOP_JOB_REPLY__INIT;
    req.request_id = f->stop_request;
    r.body_case = SLUICE__ENVELOPE__BODY_STOP_JOB_REPLY;
    r.stop_job_reply = &sr;
    (void)sl_conn_reply(f->stop_conn, &req, &r, NULL, 0);
    f->stop_conn = NULL;
}

/* The end of the standby time after a bounce: the master takes clients again. */
static void fake_activate_cb(evutil_socket_t fd, short what, void *arg)
{
    ((fake_t *)arg)->refusing = false;
}

/* A master restart: every master connection and the listener go away, and
 * the listener comes back on the same address after bounce_down_ms. */
static void fake_bounce_cb(evutil_socket_t fd, short what, void *arg)
{
    fake_t *f = arg;
    pthread_mutex_lock(&f->mu);
    for (size_t i = 0; i < FAKE_MAX_CONNS; i++)
        if (f->conns[i] && f->is_master[i])
            sl_conn_close(f->conns[i]);
    pthread_mutex_unlock(&f->mu);
    sl_listener_free(f->ml);
    f->ml = NULL;
    struct timeval tv = sl_time_tv(f->bounce_down_ms);
    evtimer_add(f->relisten_ev, &tv);
}

static void fake_relisten_cb(evutil_socket_t fd, short what, void *arg)
{
    fake_t *f = arg;
    char err[SL_ERRMSG_LEN];
    f->ml = sl_listener_new(f->base, f->master_addr, fake_accept_master, f, err);
    if (f->standby_ms) {
        f->refusing = true;
        struct timeval tv = sl_time_tv(f->standby_ms);
        evtimer_add(f->activate_ev, &tv);
    }
}

static void fake_stop_cb(evutil_socket_t fd, short what, void *arg)
{
    event_base_loopbreak(((fake_t *)arg)->base);
}

static void *fake_main(void *arg)
{
    fake_t *f = arg;
    event_base_loop(f->base, 0);
    return NULL;
}

fake_t *fake_start(void)
{
    fake_t *f = calloc(1, sizeof *f);
    char err[SL_ERRMSG_LEN];
    pthread_mutex_init(&f->mu, NULL);
    f->base = sl_event_base_new();
    char *const addrs[] = { f->master_addr, f->worker_addr, f->dead_addr, f->standby_addr };
    fake_free_addrs(addrs, sizeof addrs / sizeof *addrs, sizeof f->master_addr);
    f->locate_addr = f->worker_addr;
    f->release_ms = 20;
    f->ml = sl_listener_new(f->base, f->master_addr, fake_accept_master, f, err);
    f->wl = sl_listener_new(f->base, f->worker_addr, fake_accept_worker, f, err);
    f->sl = sl_listener_new(f->base, f->standby_addr, fake_accept_standby, f, err);
    ck_assert_msg(f->ml && f->wl && f->sl, "%s", err);
    f->activate_ev = evtimer_new(f->base, fake_activate_cb, f);
    f->stop_reply_ev = evtimer_new(f->base, fake_stop_reply_cb, f);
    f->release_ev = evtimer_new(f->base, fake_release_cb, f);
    f->stop_ev = event_new(f->base, -1, 0, fake_stop_cb, f);
    f->bounce_ev = event_new(f->base, -1, 0, fake_bounce_cb, f);
    f->relisten_ev = evtimer_new(f->base, fake_relisten_cb, f);
    return f;
}

void fake_run(fake_t *f)
{
    ck_assert_int_eq(pthread_create(&f->th, NULL, fake_main, f), 0);
}

void fake_stop(fake_t *f)
{
    event_active(f->stop_ev, EV_TIMEOUT, 0);
    pthread_join(f->th, NULL);
    for (size_t i = 0; i < FAKE_MAX_CONNS; i++)
        sl_conn_free(f->conns[i]);
    sl_listener_free(f->ml);
    sl_listener_free(f->wl);
    sl_listener_free(f->sl);
    event_free(f->activate_ev);
    event_free(f->stop_reply_ev);
    event_free(f->release_ev);
    event_free(f->stop_ev);
    event_free(f->bounce_ev);
    event_free(f->relisten_ev);
    event_base_free(f->base);
    pthread_mutex_destroy(&f->mu);
    free(f);
}

sl_client_t *fake_client(fake_t *f, uint64_t timeout_ms)
{
    char err[SL_ERRMSG_LEN] = "";
    sl_client_t *c = NULL;
    sl_status_t st = sl_client_open(f->master_addr, NULL, timeout_ms, &c, err);
    ck_assert_msg(st == SL_OK, "open: %s", err);
    return c;
}

void fake_push_ints(sl_client_t *c, const char *stream, uint64_t n)
{
    char err[SL_ERRMSG_LEN] = "";
    for (uint64_t i = 1; i <= n; i++) {
        sl_status_t st = sl_push_int(c, "j", stream, "k", 1, (int64_t)i, err);
        ck_assert_msg(st == SL_OK, "push %llu: %s", (unsigned long long)i, err);
    }
}
