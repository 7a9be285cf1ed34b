/* stale_master_fenced: a real sluice-worker refuses a master whose lease
 * epoch was superseded.
 *
 * A real checkpointing sluice-master M is started, stopped with SIGTERM (it
 * releases its lease) and started again on the same checkpoint directory,
 * so that it holds the lease at epoch 2 and epoch 1 is stale. A real
 * sluice-worker W is given the master list "M,F" and registers with M,
 * learning epoch 2. F is a stand-in for a stale master, run by the test
 * itself on its own libevent loop through the common connection layer
 * (handshake as a MASTER, requests and replies as the daemons exchange
 * them). It is an adversary at the protocol level, like the garbage frames
 * of bad_input, not a mock of a component under test: the worker and the
 * master are the real daemons.
 *
 * Once M is killed -9, W tries F:
 *   1. F answers the RegisterWorker from epoch 1 (stamped by sl_conn's
 *      opts.epoch, as a master does): W must log "is at lease epoch 1 but
 *      epoch 2 took over" and close the connection.
 *   2. On W's next attempt F answers from epoch 2 (equal: accepted), then
 *      sends DropJob stamped with epoch 1 on that connection: W must answer
 *      SL_ERR_FENCED with "refused 'drop_job' from master epoch 1: epoch 2
 *      took over" and log it; the same DropJob stamped with epoch 2 must get
 *      an answer that is not a fencing refusal.
 *
 * The test process drives F's loop only while it waits on F (fz_pump_until);
 * everything else it waits on is a condition polled against a deadline. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <event2/event.h>
#include "cluster.h"
#include "conn.h"
#include "daemon.h"
#include "log.h"
#include "msg.h"
#include "status.h"
#include "tests.h"

void it_test_stale_master_fenced(it_ctx_t *t);

#define FZ_STALE_EPOCH 1u
#define FZ_CURRENT_EPOCH 2u
#define FZ_MAX_LINKS 32
/* F's loop runs in slices this long between two looks at the conditions. */
#define FZ_SLICE_MS 20
/* What F tells W: long enough that no heartbeat falls inside the test (F
 * answers one anyway). */
#define FZ_HEARTBEAT_MS 60000
#define FZ_JOB "it-fencing-no-such-job"

typedef struct fz_fake fz_fake_t;

/* One connection F accepted. */
typedef struct {
    fz_fake_t *f;
    sl_conn_t *c;               /* NULL once closed (the conn layer freed it) */
    bool stale;                 /* speaks for FZ_STALE_EPOCH, stamped by opts.epoch */
    bool registered;            /* a RegisterWorker was answered on it */
    char worker_id[128];        /* the RegisterWorker's */
    bool closed;
    sl_status_t close_why;
    char close_msg[SL_ERRMSG_LEN];
} fz_link_t;

/* The answer to one command F sent. */
typedef struct {
    bool done;
    sl_status_t st;
    Sluice__Envelope__BodyCase body;
    char msg[SL_ERRMSG_LEN];
} fz_answer_t;

struct fz_fake {
    struct event_base *base;
    sl_listener_t *listener;
    char addr[IT_ADDR_LEN];
    /* The next connection is served at the stale epoch; cleared once a
     * registration was answered from it. */
    bool stale_mode;
    fz_link_t *links[FZ_MAX_LINKS];
    size_t nlinks;
    size_t dropped;             /* connections that could not be set up */
    fz_link_t *stale;           /* first registration answered from epoch 1 */
    fz_link_t *live;            /* first registration answered from epoch 2 */
    unsigned heartbeats, others;
    /* Here, not on a test function's stack: pending requests are failed
     * into them when the connections are freed at the end. */
    fz_answer_t answer[2];
};

/* --- the stand-in master ------------------------------------------------------- */

static void fz_on_message(sl_conn_t *c, const sl_envelope_t *env, const uint8_t *payload,
                          size_t len, void *arg)
{
    fz_link_t *l = arg;
    fz_fake_t *f = l->f;
    Sluice__Envelope reply = SLUICE__ENVELOPE__INIT;
    /* A stale link has every envelope stamped by sl_conn (opts.epoch); the
     * current one stamps its own, so that commands can carry other epochs. */
    reply.master_epoch = l->stale ? 0 : FZ_CURRENT_EPOCH;
    if (env->body_case == SLUICE__ENVELOPE__BODY_REGISTER_WORKER) {
        Sluice__RegisterWorkerReply r = SLUICE__REGISTER_WORKER_REPLY__INIT;
        r.heartbeat_interval_ms = FZ_HEARTBEAT_MS;
        r.master_epoch = l->stale ? FZ_STALE_EPOCH : FZ_CURRENT_EPOCH;
        reply.body_case = SLUICE__ENVELOPE__BODY_REGISTER_WORKER_REPLY;
        reply.register_worker_reply = &r;
        snprintf(l->worker_id, sizeof l->worker_id, "%s",
                 env->register_worker->worker_id ? env->register_worker->worker_id : "");
        if (sl_conn_reply(c, env, &reply, NULL, 0) != SL_OK)
            return;
        l->registered = true;
        if (l->stale) {
            if (!f->stale)
                f->stale = l;
            f->stale_mode = false;  /* W's next attempt meets epoch 2 */
        } else if (!f->live) {
            f->live = l;
        }
        return;
    }
    if (env->body_case == SLUICE__ENVELOPE__BODY_HEARTBEAT) {
        Sluice__HeartbeatReply r = SLUICE__HEARTBEAT_REPLY__INIT;
        r.known = l->registered;
        reply.body_case = SLUICE__ENVELOPE__BODY_HEARTBEAT_REPLY;
        reply.heartbeat_reply = &r;
        f->heartbeats++;
        sl_conn_reply(c, env, &reply, NULL, 0);
        return;
    }
    f->others++;
    if (env->request_id)
        sl_conn_reply_error(c, env, SL_ERR_UNKNOWN_MESSAGE,
                            "not handled by the test's stand-in master");
}

static void fz_on_close(sl_conn_t *c, sl_status_t why, const char *msg, void *arg)
{
    fz_link_t *l = arg;
    l->c = NULL;
    l->closed = true;
    l->close_why = why;
    snprintf(l->close_msg, sizeof l->close_msg, "%s", msg ? msg : "");
}

static const sl_conn_handlers_t fz_handlers = {
    .on_message = fz_on_message,
    .on_close = fz_on_close,
};

static void fz_accept(evutil_socket_t fd, const char *peer, void *arg)
{
    fz_fake_t *f = arg;
    fz_link_t *l = f->nlinks < FZ_MAX_LINKS ? calloc(1, sizeof *l) : NULL;
    if (!l) {
        evutil_closesocket(fd);
        f->dropped++;
        return;
    }
    l->f = f;
    l->stale = f->stale_mode;
    sl_conn_opts_t o = {
        .role = SLUICE__ROLE__ROLE_MASTER,
        .name = "master",
        .component = "it-stand-in-master",
        .epoch = l->stale ? FZ_STALE_EPOCH : 0,
    };
    l->c = sl_conn_accept(f->base, fd, peer, &o, &fz_handlers, l);
    if (!l->c) {
        free(l);
        f->dropped++;
        return;
    }
    f->links[f->nlinks++] = l;
}

static bool fz_fake_listen(it_ctx_t *t, fz_fake_t *f)
{
    char err[SL_ERRMSG_LEN] = "";
    f->stale_mode = true;
    f->base = sl_event_base_new();
    if (!f->base) {
        it_note(t, "cannot create an event base");
        return false;
    }
    if (!it_free_addr(t, f->addr))
        return false;
    f->listener = sl_listener_new(f->base, f->addr, fz_accept, f, err);
    if (!f->listener) {
        it_note(t, "the stand-in master cannot listen: %s", err);
        return false;
    }
    return true;
}

static void fz_fake_free(fz_fake_t *f)
{
    for (size_t i = 0; i < f->nlinks; i++) {
        sl_conn_free(f->links[i]->c);
        free(f->links[i]);
    }
    f->nlinks = 0;
    sl_listener_free(f->listener);
    f->listener = NULL;
    if (f->base)
        event_base_free(f->base);
    f->base = NULL;
}

/* Runs F's loop until cond(f, arg) holds (true) or the deadline passes
 * (false, after one last look). */
static bool fz_pump_until(fz_fake_t *f, bool (*cond)(fz_fake_t *f, void *arg), void *arg,
                          int deadline_ms)
{
    uint64_t end = it_now_ms() + (uint64_t)deadline_ms;
    for (;;) {
        if (cond(f, arg))
            return true;
        if (it_now_ms() >= end)
            return false;
        struct timeval tv = { 0, FZ_SLICE_MS * 1000 };
        event_base_loopexit(f->base, &tv);
        event_base_dispatch(f->base);
    }
}

static bool fz_stale_answered(fz_fake_t *f, void *arg)
{
    return f->stale != NULL;
}

static bool fz_stale_closed(fz_fake_t *f, void *arg)
{
    return f->stale->closed;
}

static bool fz_live_answered(fz_fake_t *f, void *arg)
{
    return f->live != NULL;
}

static bool fz_answered(fz_fake_t *f, void *arg)
{
    return ((const fz_answer_t *)arg)->done;
}

typedef struct {
    const it_proc_t *proc;
    const char *needle, *also;
} fz_log_t;

static bool fz_log_cond(fz_fake_t *f, void *arg)
{
    const fz_log_t *lw = arg;
    return it_log_has(lw->proc, lw->needle, lw->also);
}

static bool fz_log_poll(void *arg)
{
    return fz_log_cond(NULL, arg);
}

static void fz_on_answer(sl_conn_t *c, sl_status_t st, const sl_envelope_t *reply,
                         const uint8_t *payload, size_t len, const char *msg, void *arg)
{
    fz_answer_t *a = arg;
    a->done = true;
    a->st = st;
    a->body = reply ? reply->body_case : SLUICE__ENVELOPE__BODY__NOT_SET;
    snprintf(a->msg, sizeof a->msg, "%s", msg ? msg : "");
}

/* Sends DropJob of FZ_JOB on l stamped with `epoch`; the answer lands in *a. */
static bool fz_drop_job(it_ctx_t *t, fz_link_t *l, uint64_t epoch, fz_answer_t *a)
{
    Sluice__Envelope env = SLUICE__ENVELOPE__INIT;
    Sluice__DropJob dj = SLUICE__DROP_JOB__INIT;
    dj.job_id = (char *)FZ_JOB;
    env.master_epoch = epoch;
    env.body_case = SLUICE__ENVELOPE__BODY_DROP_JOB;
    env.drop_job = &dj;
    memset(a, 0, sizeof *a);
    sl_status_t st = l->c ? sl_conn_request(l->c, &env, NULL, 0, IT_DEADLINE_MS, fz_on_answer, a)
                          : SL_ERR_CLOSED;
    if (st != SL_OK)
        it_note(t, "cannot send DropJob: %s%s%s", sl_strerror(st),
                l->closed ? "; the connection ended: " : "", l->closed ? l->close_msg : "");
    return st == SL_OK;
}

/* --- the scenario --------------------------------------------------------------- */

static long long fz_epoch(const json_t *st)
{
    return it_jint(json_object_get(st, "master_info"), "epoch");
}

/* The lease epoch of the active master m, from `sluice status --json`; -1
 * with a note when unreadable. */
static long long fz_active_epoch(it_ctx_t *t, const it_master_t *m)
{
    if (!it_master_wait_active(t, m, IT_DEADLINE_MS))
        return -1;
    json_t *st = it_status(t, m, NULL, NULL);
    long long e = st ? fz_epoch(st) : -1;
    json_decref(st);
    return e;
}

static void fz_scenario(it_ctx_t *t, fz_fake_t *f)
{
    char desc[96], needle[512], also[64];

    /* M at epoch 1, stopped cleanly (the lease is released), then again on
     * the same checkpoint at epoch 2. */
    it_master_t m = { 0 };
    it_path(t, m.cm.checkpoint_dir, "ckpt");
    IT_CHECK(t, it_master_start(t, &m), "start master M");
    long long e1 = fz_active_epoch(t, &m);
    IT_CHECK_EQ(t, e1, FZ_STALE_EPOCH, "M's first lease epoch (status master_info.epoch)");
    it_proc_t *first = m.proc;
    IT_CHECK(t, it_proc_signal(t, first, SIGTERM), "SIGTERM to M");
    IT_CHECK(t, it_proc_wait_exit(t, first, IT_DEADLINE_MS), "M exits on SIGTERM");
    IT_CHECK(t, it_proc_exit_code(first) == 0, "M ended with %s after SIGTERM, want exit 0",
             it_proc_describe(first, desc, sizeof desc));
    IT_CHECK(t, it_master_start(t, &m), "start M again on the same checkpoint");
    long long e2 = fz_active_epoch(t, &m);
    IT_CHECK_EQ(t, e2, FZ_CURRENT_EPOCH, "M's lease epoch after the restart");

    /* F listens now (its port is taken), but serves nobody until M is gone. */
    IT_CHECK(t, fz_fake_listen(t, f), "the stand-in master F listens");

    it_worker_t w = { .cores = 1, .memory = "256M", .memory_bytes = 256ull << 20 };
    snprintf(w.masters, sizeof w.masters, "%s,%s", m.listen, f->addr);
    IT_CHECK(t, it_worker_start(t, &w, "worker", &m), "start W with --master M,F");
    it_worker_t *const ws[] = { &w };
    IT_CHECK(t, it_wait_alive(t, &m, NULL, ws, 1, IT_DEADLINE_MS), "W registers with M");
    char reg_m[256];
    snprintf(reg_m, sizeof reg_m, "registered with master %s as %s", m.listen, w.id);
    snprintf(also, sizeof also, "master epoch %u)", FZ_CURRENT_EPOCH);
    fz_log_t lw = { w.proc, reg_m, also };
    IT_CHECK(t, it_wait_until(fz_log_poll, &lw, IT_DEADLINE_MS),
             "W's log has no line '%s ... %s'", reg_m, also);

    /* M dies: W moves on to F, which answers its registration from epoch 1. */
    IT_CHECK(t, it_proc_kill9(t, m.proc), "kill -9 of M");
    IT_CHECK(t, fz_pump_until(f, fz_stale_answered, NULL, IT_DEADLINE_MS),
             "no RegisterWorker reached F within %d ms of M's death (%zu connections, %zu "
             "dropped; W %s)", IT_DEADLINE_MS, f->nlinks, f->dropped,
             it_proc_alive(w.proc) ? "running" : "gone");
    IT_CHECK(t, !strcmp(f->stale->worker_id, w.id), "F was registered by '%s', want '%s'",
             f->stale->worker_id, w.id);
    IT_CHECK(t, fz_pump_until(f, fz_stale_closed, NULL, IT_DEADLINE_MS),
             "W kept the connection to F open %d ms after its reply from epoch %u",
             IT_DEADLINE_MS, FZ_STALE_EPOCH);
    IT_CHECK(t, f->stale->close_why != SL_OK, "the stale connection was closed by F itself");
    snprintf(needle, sizeof needle, "master %s is at lease epoch %u but epoch %u took over",
             f->addr, FZ_STALE_EPOCH, FZ_CURRENT_EPOCH);
    lw = (fz_log_t){ w.proc, needle, NULL };
    IT_CHECK(t, fz_pump_until(f, fz_log_cond, &lw, IT_DEADLINE_MS),
             "W's log has no line '%s' (F's connection ended: %s)", needle, f->stale->close_msg);
    char reg_f[128];
    snprintf(reg_f, sizeof reg_f, "registered with master %s", f->addr);
    char also1[64];
    snprintf(also1, sizeof also1, "master epoch %u)", FZ_STALE_EPOCH);
    IT_CHECK(t, !it_log_has(w.proc, reg_f, also1), "W's log says it registered with F at epoch %u",
             FZ_STALE_EPOCH);

    /* W's next attempt: F answers from epoch 2, which W accepts... */
    IT_CHECK(t, fz_pump_until(f, fz_live_answered, NULL, IT_DEADLINE_MS),
             "W did not register with F again within %d ms (%zu connections so far)",
             IT_DEADLINE_MS, f->nlinks);
    fz_link_t *live = f->live;
    lw = (fz_log_t){ w.proc, reg_f, also };
    IT_CHECK(t, fz_pump_until(f, fz_log_cond, &lw, IT_DEADLINE_MS),
             "W's log has no line '%s ... %s'%s%s", reg_f, also, live->closed ? "; closed: " : "",
             live->closed ? live->close_msg : "");

    /* ... then refuses a command from epoch 1 on that same connection... */
    fz_answer_t *a = &f->answer[0];
    IT_CHECK(t, fz_drop_job(t, live, FZ_STALE_EPOCH, a), "send DropJob stamped epoch %u",
             FZ_STALE_EPOCH);
    IT_CHECK(t, fz_pump_until(f, fz_answered, a, IT_DEADLINE_MS + 5000),
             "no answer to DropJob from epoch %u", FZ_STALE_EPOCH);
    IT_CHECK(t, a->st == SL_ERR_FENCED, "DropJob from epoch %u: got status %d (%s: %s), want "
             "%d (SL_ERR_FENCED)", FZ_STALE_EPOCH, (int)a->st, sl_strerror(a->st), a->msg,
             (int)SL_ERR_FENCED);
    char refused[192];
    snprintf(refused, sizeof refused, "refused '%s' from master epoch %u: epoch %u took over",
             sl_msg_name(SLUICE__ENVELOPE__BODY_DROP_JOB), FZ_STALE_EPOCH, FZ_CURRENT_EPOCH);
    IT_CHECK_CONTAINS(t, a->msg, refused, "the fenced reply's message");
    snprintf(needle, sizeof needle, "%s: %s", f->addr, refused);
    lw = (fz_log_t){ w.proc, needle, NULL };
    IT_CHECK(t, fz_pump_until(f, fz_log_cond, &lw, IT_DEADLINE_MS),
             "W's log has no line '%s'", needle);
    IT_CHECK(t, live->c != NULL, "W closed the connection after refusing a command (%s)",
             live->close_msg);

    /* ... and takes the same command from epoch 2. */
    a = &f->answer[1];
    IT_CHECK(t, fz_drop_job(t, live, FZ_CURRENT_EPOCH, a), "send DropJob stamped epoch %u",
             FZ_CURRENT_EPOCH);
    IT_CHECK(t, fz_pump_until(f, fz_answered, a, IT_DEADLINE_MS + 5000),
             "no answer to DropJob from epoch %u", FZ_CURRENT_EPOCH);
    IT_CHECK(t, a->st != SL_ERR_FENCED && a->st != SL_ERR_TIMEOUT && a->st != SL_ERR_CLOSED,
             "DropJob from epoch %u: got status %d (%s: %s), want an answer that is no fencing "
             "refusal", FZ_CURRENT_EPOCH, (int)a->st, sl_strerror(a->st), a->msg);
    IT_CHECK_EQ(t, it_log_count(w.proc, "refused '"), 1, "W's log lines refusing a command");
    IT_CHECK(t, live->c != NULL && it_proc_alive(w.proc), "W still connected to F and running");
}

void it_test_stale_master_fenced(it_ctx_t *t)
{
    /* F's connection layer logs through the process-wide logger: keep the
     * runner's output to its PASS/FAIL lines. */
    sl_log_level_t old = SL_LOG_OFF;
    for (int l = SL_LOG_DEBUG; l < SL_LOG_OFF; l++)
        if (sl_log_enabled((sl_log_level_t)l)) {
            old = (sl_log_level_t)l;
            break;
        }
    sl_log_set_level(SL_LOG_OFF);
    fz_fake_t f = { 0 };
    fz_scenario(t, &f);
    fz_fake_free(&f);
    sl_log_set_level(old);
}
