/* Tests for client/client.c and client/push.c against a fake master and a
 * fake worker on loopback (a thread with its own event loop speaking the real
 * protocol): pushes arrive complete and in order, acks out of order are
 * fine, at most 16 blocks wait for an ack, a worker that drops the
 * connection gets the unacknowledged blocks again under the same sequence
 * numbers, an unknown stream fails at once, an unreachable receiver times
 * out; watch hands out batch outputs with their records; job control calls
 * carry their requests and replies; a standby master is skipped, and pushes
 * ride out a master restart. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>
#include <jansson.h>
#include "block.h"
#include "conn.h"
#include "daemon.h"
#include "log.h"
#include "client/sluice.h"
#include "timeutil.h"
#include "unit.h"
#include "view.h"

Suite *sl_test_client_suite(void);

#define FAKE_MAX_CONNS 64
#define FAKE_MAX_HELD 256
#define FAKE_MAX_SEQ 4096

typedef struct {
    sl_conn_t *conn;
    uint64_t request_id;
    uint64_t records;
    bool duplicate;
} fake_held_t;

typedef struct {
    struct event_base *base;
    sl_listener_t *ml, *wl, *sl;
    struct event *release_ev, *stop_ev, *bounce_ev, *relisten_ev, *activate_ev, *stop_reply_ev;
    uint64_t bounce_down_ms;
    uint64_t standby_ms;            /* after a bounce, refuse clients this long (a standby) */
    bool refusing;                  /* the master listener refuses like a standby */
    /* a graceful stop answered late */
    uint64_t stop_delay_ms;
    sl_conn_t *stop_conn;
    uint64_t stop_request;
    bool last_graceful;
    uint64_t last_stop_timeout_ms;
    uint64_t watches;
    pthread_t th;
    pthread_mutex_t mu;
    char master_addr[64], worker_addr[64], dead_addr[64], standby_addr[64];
    const char *locate_addr;        /* what LocateStream answers */
    sl_conn_t *conns[FAKE_MAX_CONNS];
    bool is_master[FAKE_MAX_CONNS];
    /* behaviour */
    int drop_after;                 /* close a worker connection at this push (once) */
    bool hold_acks;                 /* ack from a timer, newest first */
    uint64_t release_ms;
    /* what the worker saw */
    bool seen[FAKE_MAX_SEQ];
    uint64_t stored_records, int_sum, pushes, duplicates, locates, bad_order;
    uint64_t last_seq;
    fake_held_t held[FAKE_MAX_HELD];
    size_t nheld, max_held;
    char last_submit_name[64];
} fake_t;

static void fake_free_addr(char *out, size_t len)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t al = sizeof a;
    ck_assert_int_eq(bind(s, (struct sockaddr *)&a, sizeof a), 0);
    ck_assert_int_eq(getsockname(s, (struct sockaddr *)&a, &al), 0);
    snprintf(out, len, "127.0.0.1:%u", ntohs(a.sin_port));
    close(s);
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

#define FAKE_STANDBY "this master is a standby; the active master is master-a"

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

static void fake_accept_master(evutil_socket_t fd, const char *peer, void *arg);

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

static fake_t *fake_start(void)
{
    fake_t *f = calloc(1, sizeof *f);
    char err[SL_ERRMSG_LEN];
    pthread_mutex_init(&f->mu, NULL);
    f->base = sl_event_base_new();
    fake_free_addr(f->master_addr, sizeof f->master_addr);
    fake_free_addr(f->worker_addr, sizeof f->worker_addr);
    fake_free_addr(f->dead_addr, sizeof f->dead_addr);
    fake_free_addr(f->standby_addr, sizeof f->standby_addr);
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

static void fake_run(fake_t *f)
{
    ck_assert_int_eq(pthread_create(&f->th, NULL, fake_main, f), 0);
}

static void fake_stop(fake_t *f)
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

static sl_client_t *fake_client(fake_t *f, uint64_t timeout_ms)
{
    char err[SL_ERRMSG_LEN] = "";
    sl_client_t *c = NULL;
    sl_status_t st = sl_client_open(f->master_addr, NULL, timeout_ms, &c, err);
    ck_assert_msg(st == SL_OK, "open: %s", err);
    return c;
}

/* Pushes ints 1..n to job j stream s. */
static void push_ints(sl_client_t *c, const char *stream, uint64_t n)
{
    char err[SL_ERRMSG_LEN] = "";
    for (uint64_t i = 1; i <= n; i++) {
        sl_status_t st = sl_push_int(c, "j", stream, "k", 1, (int64_t)i, err);
        ck_assert_msg(st == SL_OK, "push %llu: %s", (unsigned long long)i, err);
    }
}

/* --- pushing ----------------------------------------------------------------------- */

START_TEST(test_push_all_acked_in_order)
{
    fake_t *f = fake_start();
    fake_run(f);
    sl_client_t *c = fake_client(f, 5000);
    char err[SL_ERRMSG_LEN] = "";
    const uint64_t n = 200000;
    push_ints(c, "s", n);
    ck_assert_msg(sl_flush(c, err) == SL_OK, "flush: %s", err);
    uint64_t acked, pending, resent;
    sl_push_stats(c, &acked, &pending, &resent);
    ck_assert_uint_eq(acked, n);
    ck_assert_uint_eq(pending, 0);
    ck_assert_uint_eq(resent, 0);
    /* A second flush with nothing buffered is a no-op. */
    ck_assert_int_eq(sl_flush(c, err), SL_OK);
    sl_client_close(c);
    pthread_mutex_lock(&f->mu);
    ck_assert_uint_eq(f->stored_records, n);
    ck_assert_uint_eq(f->int_sum, n * (n + 1) / 2);
    ck_assert_uint_eq(f->duplicates, 0);
    ck_assert_uint_eq(f->bad_order, 0);
    ck_assert_uint_gt(f->pushes, 4);        /* cut into blocks of ~256 KiB */
    ck_assert_uint_eq(f->locates, 1);
    pthread_mutex_unlock(&f->mu);
    fake_stop(f);
}
END_TEST

START_TEST(test_push_acks_out_of_order_and_window)
{
    fake_t *f = fake_start();
    f->hold_acks = true;
    f->release_ms = 100;
    fake_run(f);
    sl_client_t *c = fake_client(f, 5000);
    char err[SL_ERRMSG_LEN] = "";
    static char value[1000];
    memset(value, 'v', sizeof value);
    const uint64_t n = 12000;   /* ~12 MB: about 46 blocks */
    for (uint64_t i = 0; i < n; i++)
        ck_assert_int_eq(sl_push_bytes(c, "j", "s", NULL, 0, value, sizeof value, err), SL_OK);
    ck_assert_msg(sl_flush(c, err) == SL_OK, "flush: %s", err);
    uint64_t acked;
    sl_push_stats(c, &acked, NULL, NULL);
    ck_assert_uint_eq(acked, n);
    sl_client_close(c);
    pthread_mutex_lock(&f->mu);
    ck_assert_uint_eq(f->stored_records, n);
    ck_assert_uint_gt(f->pushes, 32);
    ck_assert_msg(f->max_held <= 16, "%zu pushes waited for an ack at once (window 16)",
                  f->max_held);
    ck_assert_uint_ge(f->max_held, 8);
    pthread_mutex_unlock(&f->mu);
    fake_stop(f);
}
END_TEST

START_TEST(test_push_resend_after_drop)
{
    fake_t *f = fake_start();
    f->drop_after = 3;
    fake_run(f);
    sl_client_t *c = fake_client(f, 5000);
    char err[SL_ERRMSG_LEN] = "";
    const uint64_t n = 300000;
    push_ints(c, "s", n);
    ck_assert_msg(sl_flush(c, err) == SL_OK, "flush: %s", err);
    uint64_t acked, pending, resent;
    sl_push_stats(c, &acked, &pending, &resent);
    ck_assert_uint_eq(acked, n);
    ck_assert_uint_eq(pending, 0);
    ck_assert_uint_ge(resent, 1);
    sl_client_close(c);
    pthread_mutex_lock(&f->mu);
    ck_assert_uint_eq(f->stored_records, n);           /* each block stored once */
    ck_assert_uint_eq(f->int_sum, n * (n + 1) / 2);
    ck_assert_uint_ge(f->duplicates, 1);               /* block 3 came again, same seq */
    ck_assert_uint_eq(f->bad_order, 0);
    ck_assert_uint_eq(f->locates, 2);                  /* located again after the drop */
    pthread_mutex_unlock(&f->mu);
    fake_stop(f);
}
END_TEST

START_TEST(test_push_unknown_stream_fails)
{
    fake_t *f = fake_start();
    fake_run(f);
    sl_client_t *c = fake_client(f, 5000);
    char err[SL_ERRMSG_LEN] = "";
    push_ints(c, "nope", 10);
    ck_assert_int_eq(sl_flush(c, err), SL_ERR_NOT_FOUND);
    SL_CK_CONTAINS(err, "stream 'nope'");
    SL_CK_CONTAINS(err, "job 'j' has no stream 'nope'");
    /* The records were dropped: the next flush has nothing to do. */
    uint64_t pending;
    sl_push_stats(c, NULL, &pending, NULL);
    ck_assert_uint_eq(pending, 0);
    ck_assert_int_eq(sl_flush(c, err), SL_OK);
    /* Other streams are not affected. */
    push_ints(c, "s", 10);
    ck_assert_msg(sl_flush(c, err) == SL_OK, "%s", err);
    sl_client_close(c);
    fake_stop(f);
}
END_TEST

START_TEST(test_push_unreachable_times_out)
{
    fake_t *f = fake_start();
    f->locate_addr = f->dead_addr;
    fake_run(f);
    sl_client_t *c = fake_client(f, 600);
    char err[SL_ERRMSG_LEN] = "";
    push_ints(c, "s", 10);
    uint64_t t0 = sl_time_mono_ms();
    ck_assert_int_eq(sl_flush(c, err), SL_ERR_TIMEOUT);
    uint64_t took = sl_time_mono_ms() - t0;
    ck_assert_msg(took >= 500 && took < 3000, "flush gave up after %llu ms",
                  (unsigned long long)took);
    SL_CK_CONTAINS(err, "no acknowledgement");
    SL_CK_CONTAINS(err, f->dead_addr);
    uint64_t pending;
    sl_push_stats(c, NULL, &pending, NULL);
    ck_assert_uint_eq(pending, 10);         /* kept for a later try */
    pthread_mutex_lock(&f->mu);
    ck_assert_uint_ge(f->locates, 3);       /* retried with backoff */
    f->locate_addr = f->worker_addr;
    pthread_mutex_unlock(&f->mu);
    /* Once the receiver is reachable, a later flush delivers them. */
    ck_assert_msg(sl_flush(c, err) == SL_OK, "%s", err);
    sl_push_stats(c, NULL, &pending, NULL);
    ck_assert_uint_eq(pending, 0);
    sl_client_close(c);
    fake_stop(f);
}
END_TEST

START_TEST(test_push_bad_args)
{
    fake_t *f = fake_start();
    fake_run(f);
    sl_client_t *c = fake_client(f, 5000);
    char err[SL_ERRMSG_LEN] = "";
    ck_assert_int_eq(sl_push_null(c, "", "s", NULL, 0, err), SL_ERR_INVALID);
    SL_CK_CONTAINS(err, "no job id");
    ck_assert_int_eq(sl_push_double(c, "j", NULL, NULL, 0, 1.0, err), SL_ERR_INVALID);
    SL_CK_CONTAINS(err, "no stream");
    static char big[17 * 1024 * 1024];
    ck_assert_int_eq(sl_push_bytes(c, "j", "s", NULL, 0, big, sizeof big, err), SL_ERR_INVALID);
    SL_CK_CONTAINS(err, "16 MiB");
    sl_client_close(c);     /* unflushed records are dropped, nothing leaks */
    fake_stop(f);
}
END_TEST

START_TEST(test_push_survives_master_restart)
{
    fake_t *f = fake_start();
    f->bounce_down_ms = 300;
    f->standby_ms = 300;
    fake_run(f);
    sl_client_t *c = fake_client(f, 3000);
    char err[SL_ERRMSG_LEN] = "";
    /* The master goes away before the stream is located: the pusher keeps
     * asking (connection lost, refused, then a standby's refusal) until a
     * master answers, and nothing fails in between. */
    sl_log_set_level(SL_LOG_OFF);       /* the refusals are logged as warnings */
    event_active(f->bounce_ev, EV_TIMEOUT, 0);
    usleep(50 * 1000);
    uint64_t t0 = sl_time_mono_ms();
    push_ints(c, "s", 1000);
    sl_status_t st = sl_flush(c, err);
    uint64_t took = sl_time_mono_ms() - t0;
    sl_log_set_level(SL_LOG_INFO);
    ck_assert_msg(st == SL_OK, "flush: %s", err);
    ck_assert_msg(took >= 400, "flushed after %llu ms, before the master was back",
                  (unsigned long long)took);
    uint64_t acked, pending;
    sl_push_stats(c, &acked, &pending, NULL);
    ck_assert_uint_eq(acked, 1000);
    ck_assert_uint_eq(pending, 0);
    sl_client_close(c);
    pthread_mutex_lock(&f->mu);
    ck_assert_uint_eq(f->stored_records, 1000);
    ck_assert_uint_eq(f->int_sum, 1000 * 1001 / 2);
    pthread_mutex_unlock(&f->mu);
    fake_stop(f);
}
END_TEST

/* --- connecting ---------------------------------------------------------------------- */

START_TEST(test_connect_skips_standby)
{
    fake_t *f = fake_start();
    fake_run(f);
    char err[SL_ERRMSG_LEN] = "", list[200];
    sl_client_t *c = NULL;
    sl_log_set_level(SL_LOG_OFF);       /* the refusals are logged as warnings */
    /* The standby refuses; the next master of the list is the active one. */
    snprintf(list, sizeof list, "%s,%s", f->standby_addr, f->master_addr);
    sl_status_t st = sl_client_open(list, NULL, 2000, &c, err);
    ck_assert_msg(st == SL_OK, "%s", err);
    ck_assert_str_eq(sl_client_master(c), f->master_addr);
    sl_client_close(c);
    /* Only a standby answers: its refusal is the error, as unavailable (which
     * callers retry), not as an authentication failure. */
    c = NULL;
    snprintf(list, sizeof list, "%s,%s", f->dead_addr, f->standby_addr);
    st = sl_client_open(list, NULL, 2000, &c, err);
    sl_log_set_level(SL_LOG_INFO);
    ck_assert_int_eq(st, SL_ERR_UNAVAILABLE);
    ck_assert_ptr_null(c);
    SL_CK_CONTAINS(err, FAKE_STANDBY);
    fake_stop(f);
}
END_TEST

/* --- watching ------------------------------------------------------------------------ */

START_TEST(test_watch_outputs)
{
    fake_t *f = fake_start();
    fake_run(f);
    sl_client_t *c = fake_client(f, 5000);
    char err[SL_ERRMSG_LEN] = "";
    sl_batch_output_t *o = NULL;
    ck_assert_int_eq(sl_watch_next(c, 0, &o, err), SL_ERR_TIMEOUT);
    ck_assert_int_eq(sl_job_watch(c, "wc-1", "counts", err), SL_OK);
    ck_assert_msg(sl_watch_next(c, 2000, &o, err) == SL_OK, "%s", err);
    ck_assert_str_eq(sl_batch_output_job(o), "wc-1");
    ck_assert_str_eq(sl_batch_output_stream(o), "counts");
    ck_assert_str_eq(sl_batch_output_kind(o), "print");
    ck_assert_int_eq(sl_batch_output_time_ms(o), 1000);
    ck_assert_uint_eq(sl_batch_output_total_records(o), 10);
    ck_assert_uint_eq(sl_batch_output_count(o), 4);

    size_t len;
    ck_assert_int_eq(sl_batch_output_next(o), 1);
    const uint8_t *k = sl_batch_output_key(o, &len);
    ck_assert_uint_eq(len, 1);
    ck_assert_int_eq(k[0], 'a');
    ck_assert_int_eq(sl_batch_output_type(o), SL_TYPE_INT);
    ck_assert_int_eq(sl_batch_output_int(o), 3);
    char *line = sl_batch_output_line(o);
    ck_assert_str_eq(line, "a\t3");
    free(line);

    ck_assert_int_eq(sl_batch_output_next(o), 1);
    sl_batch_output_key(o, &len);
    ck_assert_uint_eq(len, 0);
    ck_assert_int_eq(sl_batch_output_type(o), SL_TYPE_BYTES);
    const uint8_t *v = sl_batch_output_bytes(o, &len);
    ck_assert_uint_eq(len, 11);
    ck_assert_int_eq(memcmp(v, "hello\tworld", 11), 0);
    line = sl_batch_output_line(o);
    ck_assert_str_eq(line, "hello\\tworld");
    free(line);

    ck_assert_int_eq(sl_batch_output_next(o), 1);
    ck_assert_int_eq(sl_batch_output_type(o), SL_TYPE_DOUBLE);
    ck_assert(sl_batch_output_double(o) == 1.5);
    ck_assert_ptr_null(sl_batch_output_bytes(o, &len));
    ck_assert_int_eq(sl_batch_output_next(o), 1);
    ck_assert_int_eq(sl_batch_output_type(o), SL_TYPE_NULL);
    line = sl_batch_output_line(o);
    ck_assert_str_eq(line, "n\tnull");
    free(line);
    ck_assert_int_eq(sl_batch_output_next(o), 0);
    sl_batch_output_rewind(o);
    ck_assert_int_eq(sl_batch_output_next(o), 1);
    ck_assert_int_eq(sl_batch_output_int(o), 3);

    char *json = sl_batch_output_json(o);
    ck_assert_ptr_nonnull(json);
    SL_CK_CONTAINS(json, "\"batch_time_ms\":1000");
    SL_CK_CONTAINS(json, "\"total_records\":10");
    SL_CK_CONTAINS(json, "{\"key\":\"a\",\"value\":3}");
    SL_CK_CONTAINS(json, "{\"key\":\"\",\"value\":\"hello\\tworld\"}");
    SL_CK_CONTAINS(json, "{\"key\":\"k\",\"value\":1.5}");
    SL_CK_CONTAINS(json, "{\"key\":\"n\",\"value\":null}");
    free(json);
    sl_batch_output_free(o);

    ck_assert_int_eq(sl_watch_next(c, 2000, &o, err), SL_OK);
    ck_assert_int_eq(sl_batch_output_time_ms(o), 2000);
    sl_batch_output_free(o);
    uint64_t t0 = sl_time_mono_ms();
    ck_assert_int_eq(sl_watch_next(c, 200, &o, err), SL_ERR_TIMEOUT);
    ck_assert_uint_ge(sl_time_mono_ms() - t0, 190);
    SL_CK_CONTAINS(err, "no batch output within 200ms");
    ck_assert_uint_eq(sl_watch_dropped(c), 0);
    sl_client_close(c);
    fake_stop(f);
}
END_TEST

START_TEST(test_watch_survives_master_restart)
{
    fake_t *f = fake_start();
    f->bounce_down_ms = 400;
    fake_run(f);
    sl_client_t *c = fake_client(f, 3000);
    char err[SL_ERRMSG_LEN] = "";
    sl_batch_output_t *o = NULL;
    ck_assert_int_eq(sl_job_watch(c, "wc-1", "", err), SL_OK);
    for (int i = 0; i < 2; i++) {
        ck_assert_msg(sl_watch_next(c, 2000, &o, err) == SL_OK, "%s", err);
        sl_batch_output_free(o);
    }
    event_active(f->bounce_ev, EV_TIMEOUT, 0);
    /* The client comes back, renews its subscription, and gets its outputs. */
    ck_assert_msg(sl_watch_next(c, 5000, &o, err) == SL_OK, "%s", err);
    ck_assert_int_eq(sl_batch_output_time_ms(o), 1000);
    sl_batch_output_free(o);
    pthread_mutex_lock(&f->mu);
    ck_assert_uint_eq(f->watches, 2);
    pthread_mutex_unlock(&f->mu);
    /* Other calls reconnect as well. */
    int64_t *times = NULL;
    size_t n = 0;
    ck_assert_msg(sl_job_tick(c, "wc-1", 1, false, &times, &n, err) == SL_OK, "%s", err);
    free(times);

    /* A master that stays away: watch gives up after the client timeout. */
    sl_client_t *c2 = fake_client(f, 500);
    ck_assert_int_eq(sl_job_watch(c2, "wc-1", "", err), SL_OK);
    f->bounce_down_ms = 5000;
    event_active(f->bounce_ev, EV_TIMEOUT, 0);
    uint64_t t0 = sl_time_mono_ms();
    sl_status_t st;
    while ((st = sl_watch_next(c2, SL_WAIT_FOREVER, &o, err)) == SL_OK)
        sl_batch_output_free(o);
    uint64_t took = sl_time_mono_ms() - t0;
    ck_assert_int_eq(st, SL_ERR_UNAVAILABLE);
    ck_assert_msg(took >= 400 && took < 3000, "gave up after %llu ms", (unsigned long long)took);
    SL_CK_CONTAINS(err, "cannot reconnect");
    sl_client_close(c2);
    sl_client_close(c);
    fake_stop(f);
}
END_TEST

/* --- job control ------------------------------------------------------------------------ */

START_TEST(test_job_control)
{
    fake_t *f = fake_start();
    fake_run(f);
    sl_client_t *c = fake_client(f, 5000);
    char err[SL_ERRMSG_LEN] = "", id[SL_JOB_ID_LEN] = "";

    sl_job_t *j = sl_job_new("wc", 1000);
    sl_print(j, sl_map(j, sl_push_stream(j, "lines", 1), "lower", NULL, 0), 5);
    ck_assert_msg(sl_job_submit(c, j, id, err) == SL_OK, "%s", err);
    ck_assert_str_eq(id, "wc-2");
    sl_job_free(j);

    /* The master's verdict keeps its text; a job file's gets its name. */
    j = sl_job_new("bad", 1000);
    sl_print(j, sl_push_stream(j, "lines", 1), 5);
    ck_assert_int_eq(sl_job_submit(c, j, id, err), SL_ERR_INVALID);
    ck_assert_str_eq(err, "line 4, col 12: unknown function 'splitt'");
    sl_job_free(j);
    char dir[] = "/tmp/sl-client-XXXXXX", path[64];
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/bad.job", dir);
    FILE *fp = fopen(path, "w");
    fputs("job bad\nbatch 1s\na = push(\"a\")\na.print()\n", fp);
    fclose(fp);
    ck_assert_int_eq(sl_job_submit_file(c, path, id, err), SL_ERR_INVALID);
    char want[160];
    snprintf(want, sizeof want, "%s:4:12: unknown function 'splitt'", path);
    ck_assert_str_eq(err, want);
    unlink(path);
    rmdir(dir);

    int64_t *times = NULL;
    size_t n = 0;
    ck_assert_int_eq(sl_job_tick(c, "wc-1", 3, true, &times, &n, err), SL_OK);
    ck_assert_uint_eq(n, 3);
    ck_assert_int_eq(times[0], 1007);
    ck_assert_int_eq(times[2], 3007);
    free(times);
    ck_assert_int_eq(sl_job_tick(c, "wc-1", 0, false, NULL, NULL, err), SL_OK);
    ck_assert_int_eq(sl_job_tick(c, "", 0, false, NULL, NULL, err), SL_ERR_INVALID);

    ck_assert_int_eq(sl_job_stop(c, "wc-1", err), SL_OK);
    ck_assert_int_eq(sl_job_stop(c, "ghost", err), SL_ERR_NOT_FOUND);
    SL_CK_CONTAINS(err, "no job 'ghost'");

    sl_job_info_t *ji = NULL;
    ck_assert_int_eq(sl_job_list(c, &ji, err), SL_OK);
    ck_assert_uint_eq(sl_job_info_count(ji), 1);
    ck_assert_str_eq(sl_job_info_id(ji, 0), "wc-1");
    ck_assert_str_eq(sl_job_info_state(ji, 0), "running");
    ck_assert_uint_eq(sl_job_info_batches_done(ji, 0), 5);
    ck_assert_int_eq(sl_job_info_last_batch_ms(ji, 0), 5000);
    ck_assert_uint_eq(sl_job_info_receiver_count(ji, 0), 1);
    ck_assert_str_eq(sl_job_info_receiver_address(ji, 0, 0), "127.0.0.1:7101");
    ck_assert_uint_eq(sl_job_info_receiver_epoch(ji, 0, 0), 2);
    ck_assert_ptr_null(sl_job_info_id(ji, 1));
    char *json = sl_job_info_json(ji);
    SL_CK_CONTAINS(json, "\"id\": \"wc-1\"");
    SL_CK_CONTAINS(json, "\"stream\": \"lines\"");
    free(json);
    sl_job_info_free(ji);

    sl_batch_info_t *bi = NULL;
    ck_assert_int_eq(sl_job_batches(c, "wc-1", &bi, err), SL_OK);
    ck_assert_uint_eq(sl_batch_info_count(bi), 2);
    ck_assert_int_eq(sl_batch_info_time_ms(bi, 0), 1000);
    ck_assert_str_eq(sl_batch_info_state(bi, 0), "done");
    ck_assert_uint_eq(sl_batch_info_input_records(bi, 0), 42);
    ck_assert_uint_eq(sl_batch_info_total_delay_ms(bi, 0), 15);
    ck_assert_str_eq(sl_batch_info_state(bi, 1), "failed");
    ck_assert_str_eq(sl_batch_info_error(bi, 1), "task 3 failed");
    json = sl_batch_info_json(bi);
    SL_CK_CONTAINS(json, "\"job\": \"wc-1\"");
    SL_CK_CONTAINS(json, "\"scheduling_delay_ms\": 3");
    free(json);
    sl_batch_info_free(bi);
    sl_client_close(c);
    fake_stop(f);
}
END_TEST

START_TEST(test_job_stop_graceful)
{
    fake_t *f = fake_start();
    f->stop_delay_ms = 700;
    fake_run(f);
    sl_client_t *c = fake_client(f, 300);
    char err[SL_ERRMSG_LEN] = "";
    /* The master answers once the job is over, long after the client timeout:
     * the call waits for the job's timeout instead. */
    uint64_t t0 = sl_time_mono_ms();
    ck_assert_msg(sl_job_stop_graceful(c, "wc-1", 1000, err) == SL_OK, "%s", err);
    ck_assert_uint_ge(sl_time_mono_ms() - t0, 650);
    pthread_mutex_lock(&f->mu);
    ck_assert(f->last_graceful);
    ck_assert_uint_eq(f->last_stop_timeout_ms, 1000);
    pthread_mutex_unlock(&f->mu);
    /* 0 leaves the timeout to the master (60 s). */
    ck_assert_msg(sl_job_stop_graceful(c, "wc-1", 0, err) == SL_OK, "%s", err);
    pthread_mutex_lock(&f->mu);
    ck_assert_uint_eq(f->last_stop_timeout_ms, 0);
    pthread_mutex_unlock(&f->mu);
    /* The master's timeout comes back as such, with its count of batches. */
    ck_assert_int_eq(sl_job_stop_graceful(c, "slow", 1000, err), SL_ERR_TIMEOUT);
    SL_CK_CONTAINS(err, "2 batches unfinished");
    ck_assert_int_eq(sl_job_stop_graceful(c, "ghost", 1000, err), SL_ERR_NOT_FOUND);
    ck_assert_int_eq(sl_job_stop_graceful(c, "", 0, err), SL_ERR_INVALID);
    /* A plain stop is not graceful. */
    ck_assert_int_eq(sl_job_stop(c, "wc-1", err), SL_OK);
    pthread_mutex_lock(&f->mu);
    ck_assert(!f->last_graceful);
    pthread_mutex_unlock(&f->mu);
    sl_client_close(c);
    fake_stop(f);
}
END_TEST

/* --- cluster status -------------------------------------------------------------------- */

START_TEST(test_cluster_master_info)
{
    fake_t *f = fake_start();
    fake_run(f);
    sl_client_t *c = fake_client(f, 5000);
    char err[SL_ERRMSG_LEN] = "";
    sl_cluster_info_t *ci = NULL;
    ck_assert_msg(sl_cluster_status(c, &ci, err) == SL_OK, "%s", err);
    ck_assert(sl_cluster_master_active(ci));
    ck_assert_str_eq(sl_cluster_checkpoint(ci), "/ck/sluice.db");
    ck_assert_uint_eq(sl_cluster_lease_epoch(ci), 7);
    ck_assert_str_eq(sl_cluster_lease_holder(ci), "master-a");
    ck_assert_str_eq(sl_cluster_lease_address(ci), f->master_addr);
    ck_assert_int_eq(sl_cluster_lease_expires_ms(ci), 1700000005000);
    ck_assert(sl_cluster_recovering(ci));
    ck_assert_uint_eq(sl_cluster_workers_expected(ci), 3);
    ck_assert_uint_eq(sl_cluster_workers_back(ci), 2);
    ck_assert_uint_eq(sl_cluster_batches_to_rerun(ci), 4);
    ck_assert_uint_eq(sl_cluster_jobs_recovered(ci), 1);
    char *text = sl_cluster_info_json(ci);
    ck_assert_ptr_nonnull(text);
    json_t *j = json_loads(text, 0, NULL);
    free(text);
    ck_assert_ptr_nonnull(j);
    ck_assert_str_eq(json_string_value(json_object_get(j, "master")), f->master_addr);
    json_t *mi = json_object_get(j, "master_info");
    ck_assert(json_is_true(json_object_get(mi, "active")));
    ck_assert_str_eq(json_string_value(json_object_get(mi, "checkpoint")), "/ck/sluice.db");
    ck_assert_int_eq(json_integer_value(json_object_get(mi, "epoch")), 7);
    ck_assert_str_eq(json_string_value(json_object_get(mi, "lease_holder")), "master-a");
    ck_assert_str_eq(json_string_value(json_object_get(mi, "lease_address")), f->master_addr);
    ck_assert_int_eq(json_integer_value(json_object_get(mi, "lease_expires_ms")), 1700000005000);
    ck_assert(json_is_true(json_object_get(mi, "recovering")));
    ck_assert_int_eq(json_integer_value(json_object_get(mi, "workers_expected")), 3);
    ck_assert_int_eq(json_integer_value(json_object_get(mi, "workers_back")), 2);
    ck_assert_int_eq(json_integer_value(json_object_get(mi, "batches_to_rerun")), 4);
    ck_assert_int_eq(json_integer_value(json_object_get(mi, "jobs_recovered")), 1);
    json_decref(j);
    sl_cluster_info_free(ci);
    sl_client_close(c);
    fake_stop(f);

    /* A status without MasterInfo: null in JSON. */
    Sluice__ClusterStatus cs = SLUICE__CLUSTER_STATUS__INIT;
    cs.master_address = "127.0.0.1:7077";
    j = sl_view_cluster_json(&cs);
    ck_assert_ptr_nonnull(j);
    ck_assert(json_is_null(json_object_get(j, "master_info")));
    json_decref(j);
}
END_TEST

Suite *sl_test_client_suite(void)
{
    Suite *s = suite_create("client");
    TCase *tc = tcase_create("client");
    tcase_set_timeout(tc, 20);
    tcase_add_test(tc, test_push_all_acked_in_order);
    tcase_add_test(tc, test_push_acks_out_of_order_and_window);
    tcase_add_test(tc, test_push_resend_after_drop);
    tcase_add_test(tc, test_push_unknown_stream_fails);
    tcase_add_test(tc, test_push_unreachable_times_out);
    tcase_add_test(tc, test_push_bad_args);
    tcase_add_test(tc, test_push_survives_master_restart);
    tcase_add_test(tc, test_connect_skips_standby);
    tcase_add_test(tc, test_watch_outputs);
    tcase_add_test(tc, test_watch_survives_master_restart);
    tcase_add_test(tc, test_job_control);
    tcase_add_test(tc, test_job_stop_graceful);
    tcase_add_test(tc, test_cluster_master_info);
    suite_add_tcase(s, tc);
    return s;
}
