/* The master's job engine, part one: admitting jobs (validation, deployment),
 * their life cycle, the client requests about jobs, and reacting to workers
 * coming and going. Receivers and cuts are in receivers.c, batch execution in
 * batch.c, master-side outputs in output.c. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "engine-internal.h"
#include "funcs.h"
#include "jobspec.h"
#include "log.h"
#include "timeutil.h"


void sl_ctx_fill(sl_req_ctx_t *x, sl_mjob_t *j, uint32_t receiver)
{
    x->e = j->engine;
    snprintf(x->job, sizeof x->job, "%s", j->id);
    x->generation = j->generation;
    x->receiver = receiver;
    x->epoch = receiver < j->nreceivers ? j->receivers[receiver].epoch : 0;
}

sl_req_ctx_t *sl_ctx_new(sl_mjob_t *j, uint32_t receiver)
{
    sl_req_ctx_t *x = calloc(1, sizeof *x);
    if (x)
        sl_ctx_fill(x, j, receiver);
    return x;
}

/* The job a reply belongs to, or NULL when it is gone or was resubmitted. */
sl_mjob_t *sl_ctx_job(const sl_req_ctx_t *x)
{
    sl_mjob_t *j = sl_engine_job(x->e, x->job);
    return j && j->generation == x->generation ? j : NULL;
}

sl_mjob_t *sl_engine_job(sl_engine_t *e, const char *id)
{
    return sl_hmap_get(e->jobs, id, strlen(id));
}

/* --- small helpers ---------------------------------------------------------------- */

void sl_reply_body(sl_conn_t *c, uint64_t request_id, Sluice__Envelope *reply)
{
    Sluice__Envelope req = SLUICE__ENVELOPE__INIT;
    req.request_id = request_id;
    if (c)
        sl_conn_reply(c, &req, reply, NULL, 0);
}

void sl_reply_err(sl_conn_t *c, uint64_t request_id, sl_status_t st, const char *msg)
{
    Sluice__Envelope req = SLUICE__ENVELOPE__INIT;
    req.request_id = request_id;
    if (c)
        sl_conn_reply_error(c, &req, st, msg);
}

uint32_t sl_engine_receivers_on(sl_engine_t *e, const char *address)
{
    uint32_t n = 0;
    size_t pos = 0, klen;
    const void *k;
    void *v;
    while (sl_hmap_next(e->jobs, &pos, &k, &klen, &v)) {
        sl_mjob_t *j = v;
        if (j->state != SLUICE__JOB_STATE__JOB_RUNNING)
            continue;
        for (uint32_t i = 0; i < j->nreceivers; i++)
            n += strcmp(j->receivers[i].worker, address) == 0;
    }
    return n;
}

static void sl_schedule_cb(evutil_socket_t fd, short what, void *arg)
{
    sl_batch_schedule(arg);
}

void sl_engine_kick(sl_engine_t *e)
{
    event_active(e->schedule_ev, EV_TIMEOUT, 0);
}

/* Sends a one-way-in-spirit request whose answer only matters for logs. */
void sl_log_reply(sl_conn_t *c, sl_status_t st, const sl_envelope_t *reply,
                         const uint8_t *payload, size_t len, const char *msg, void *arg)
{
    if (st != SL_OK)
        sl_warn("engine", "%s to worker %s failed: %s", (const char *)arg, sl_conn_peer_name(c), msg);
}

static void sl_send_drop_job(sl_engine_t *e, const char *job)
{
    sl_worker_view_t ws[SL_MAX_WORKERS];
    size_t n = sl_cluster_alive(e->opts.cluster, ws, SL_MAX_WORKERS);
    for (size_t i = 0; i < n; i++) {
        Sluice__Envelope env = SLUICE__ENVELOPE__INIT;
        Sluice__DropJob d = SLUICE__DROP_JOB__INIT;
        d.job_id = (char *)job;
        env.body_case = SLUICE__ENVELOPE__BODY_DROP_JOB;
        env.drop_job = &d;
        sl_conn_request(ws[i].conn, &env, NULL, 0, SL_SETUP_TIMEOUT_MS, sl_log_reply, "drop_job");
    }
}

/* --- job life cycle ----------------------------------------------------------------- */

void sl_job_free(sl_mjob_t *j)
{
    if (!j)
        return;
    if (j->timer)
        event_free(j->timer);
    if (j->cut_retry)
        event_free(j->cut_retry);
    if (j->drain_timer)
        event_free(j->drain_timer);
    sl_hmap_free(j->undeployed);
    while (j->batches) {
        sl_mbatch_t *b = j->batches;
        j->batches = b->next;
        sl_batch_free(b);
    }
    for (size_t i = 0; i < j->nhistory; i++)
        sluice__batch_info__free_unpacked(j->history[i], NULL);
    free(j->history);
    for (uint32_t i = 0; j->receivers && i < j->nreceivers; i++) {
        sl_seqset_free(j->receivers[i].producers);
        for (size_t k = 0; k < j->receivers[i].norphans; k++)
            sluice__block_info__free_unpacked(j->receivers[i].orphans[k], NULL);
        free(j->receivers[i].orphans);
        free(j->receivers[i].dead);
        free(j->receivers[i].closing);
    }
    free(j->receivers);
    while (j->tick_waiters) {
        sl_waiter_t *w = j->tick_waiters;
        j->tick_waiters = w->next;
        free(w);
    }
    while (j->watchers) {
        sl_watcher_t *w = j->watchers;
        j->watchers = w->next;
        free(w);
    }
    sl_plan_free(j->plan);
    if (j->spec)
        sluice__job_spec__free_unpacked(j->spec, NULL);
    free(j);
}

/* Ends a job that failed or was stopped: workers drop it, the checkpoint
 * forgets it, waiters hear why. */
void sl_job_end(sl_mjob_t *j, Sluice__JobState state, const char *why)
{
    j->state = state;
    j->draining = false;
    sl_persist_job_delete(j);
    if (j->drain_conn) {
        if (state == SLUICE__JOB_STATE__JOB_STOPPED) {
            Sluice__Envelope env = SLUICE__ENVELOPE__INIT;
            Sluice__StopJobReply r = SLUICE__STOP_JOB_REPLY__INIT;
            env.body_case = SLUICE__ENVELOPE__BODY_STOP_JOB_REPLY;
            env.stop_job_reply = &r;
            sl_reply_body(j->drain_conn, j->drain_request, &env);
        } else {
            sl_reply_err(j->drain_conn, j->drain_request, SL_ERR_CLOSED, why ? why : "the job ended");
        }
        j->drain_conn = NULL;
    }
    if (why)
        snprintf(j->error, sizeof j->error, "%s", why);
    if (j->timer)
        evtimer_del(j->timer);
    sl_send_drop_job(j->engine, j->id);
    while (j->batches) {
        sl_mbatch_t *b = j->batches;
        j->batches = b->next;
        sl_batch_free(b);
    }
    while (j->tick_waiters) {
        sl_waiter_t *w = j->tick_waiters;
        j->tick_waiters = w->next;
        sl_reply_err(w->conn, w->request_id, SL_ERR_CLOSED,
                     state == SLUICE__JOB_STATE__JOB_STOPPED ? "the job was stopped" : j->error);
        free(w);
    }
    for (uint32_t i = 0; i < j->nreceivers; i++) {
        j->receivers[i].ready = false;
        j->receivers[i].worker[0] = 0;
    }
}

static void sl_job_remove(sl_engine_t *e, sl_mjob_t *j)
{
    sl_hmap_remove(e->jobs, j->id, strlen(j->id));
    sl_job_free(j);
}

/* Submission failed after the job was registered: tell the submitter and
 * forget the job entirely (its name is free again). */
void sl_job_setup_failed(sl_mjob_t *j, sl_status_t st, const char *msg)
{
    sl_error("engine", "job %s: %s", j->id, msg);
    if (!j->admitted) {
        sl_reply_err(j->submitter, j->submit_request, st, msg);
        sl_send_drop_job(j->engine, j->id);
        sl_job_remove(j->engine, j);
        return;
    }
    sl_job_end(j, SLUICE__JOB_STATE__JOB_FAILED, msg);
}

void sl_job_arm_timer(sl_mjob_t *j)
{
    uint64_t now = sl_time_wall_ms(), iv = j->spec->batch_ms;
    uint64_t next = (now / iv + 1) * iv;
    struct timeval tv = sl_time_tv(next - now);
    evtimer_add(j->timer, &tv);
}

/* Setup step finished; when none are left the job is admitted. */
void sl_job_setup_step(sl_mjob_t *j)
{
    if (--j->pending_setup > 0 || j->admitted)
        return;
    char err[SL_ERRMSG_LEN];
    if (sl_persist_job(j, err) != SL_OK) {
        sl_job_setup_failed(j, SL_ERR_IO, err);
        return;
    }
    j->admitted = true;
    Sluice__Envelope env = SLUICE__ENVELOPE__INIT;
    Sluice__SubmitJobReply r = SLUICE__SUBMIT_JOB_REPLY__INIT;
    r.job_id = j->id;
    env.body_case = SLUICE__ENVELOPE__BODY_SUBMIT_JOB_REPLY;
    env.submit_job_reply = &r;
    sl_reply_body(j->submitter, j->submit_request, &env);
    j->submitter = NULL;
    sl_info("engine", "job %s running: %zu nodes, %u pipelines, %u tasks per batch, batch %llu ms%s",
            j->id, j->spec->n_nodes, j->plan->npipelines, j->plan->ntasks,
            (unsigned long long)j->spec->batch_ms,
            j->engine->opts.manual_clock ? " (manual clock)" : "");
    if (!j->engine->opts.manual_clock)
        sl_job_arm_timer(j);
}

static void sl_deploy_reply(sl_conn_t *c, sl_status_t st, const sl_envelope_t *reply,
                            const uint8_t *payload, size_t len, const char *msg, void *arg)
{
    sl_req_ctx_t *x = arg;
    sl_mjob_t *j = sl_ctx_job(x);
    free(x);
    if (!j || j->admitted)
        return;
    if (st != SL_OK) {
        char why[SL_ERRMSG_LEN];
        snprintf(why, sizeof why, "worker %.64s cannot deploy the job: %.160s", sl_conn_peer_name(c),
                 msg);
        sl_job_setup_failed(j, st, why);
        return;
    }
    sl_job_setup_step(j);
}

/* A deploy to a worker that joined later: a failure keeps tasks away from it. */
static void sl_late_deploy_reply(sl_conn_t *c, sl_status_t st, const sl_envelope_t *reply,
                                 const uint8_t *payload, size_t len, const char *msg, void *arg)
{
    sl_req_ctx_t *x = arg;
    sl_mjob_t *j = sl_ctx_job(x);
    free(x);
    const char *addr = j ? sl_cluster_address_of(j->engine->opts.cluster, c) : NULL;
    if (st == SL_OK || !addr)
        return;
    sl_warn("engine", "worker %s cannot deploy job %s (%s): no tasks of the job go there", addr,
            j->id, msg);
    bool created;
    void **slot = sl_hmap_slot(j->undeployed, addr, strlen(addr), &created);
    if (slot)
        *slot = (void *)1;   /* a set: present means non-NULL */
}

static void sl_deploy_to(sl_mjob_t *j, sl_conn_t *conn, bool counted)
{
    sl_req_ctx_t *x = sl_ctx_new(j, UINT32_MAX);
    Sluice__Envelope env = SLUICE__ENVELOPE__INIT;
    Sluice__DeployJob d = SLUICE__DEPLOY_JOB__INIT;
    d.job_id = j->id;
    d.spec = j->spec;
    d.generation = j->generation;
    env.body_case = SLUICE__ENVELOPE__BODY_DEPLOY_JOB;
    env.deploy_job = &d;
    if (!counted) {
        if (x && sl_conn_request(conn, &env, NULL, 0, SL_SETUP_TIMEOUT_MS, sl_late_deploy_reply,
                                 x) != SL_OK)
            free(x);
        return;
    }
    j->pending_setup++;
    if (!x || sl_conn_request(conn, &env, NULL, 0, SL_SETUP_TIMEOUT_MS, sl_deploy_reply, x) != SL_OK) {
        free(x);
        j->pending_setup--;
    }
}

/* --- client requests ----------------------------------------------------------------------- */

sl_status_t sl_job_build(sl_engine_t *e, const Sluice__JobSpec *spec, uint64_t generation,
                         sl_mjob_t **out, char *err)
{
    sl_status_t st = SL_ERR_NOMEM;
    sl_mjob_t *j = calloc(1, sizeof *j);
    if (!j)
        goto fail;
    j->engine = e;
    j->generation = generation;
    if (generation > e->generations)
        e->generations = generation;
    j->last_time = -1;
    j->state = SLUICE__JOB_STATE__JOB_RUNNING;
    snprintf(j->id, sizeof j->id, "%s", spec->name);
    j->spec = sl_msg_clone(spec);
    if (!j->spec || (st = sl_plan_build(j->spec, &j->plan, err)) != SL_OK)
        goto fail;
    st = SL_ERR_NOMEM;
    j->wal = (spec->wal || e->opts.wal_default) && e->opts.wal_root;
    for (size_t i = 0; i < j->spec->n_nodes; i++)
        j->nreceivers += j->spec->nodes[i]->op == SLUICE__OP_KIND__OP_PUSH;
    j->receivers = calloc(j->nreceivers + 1, sizeof *j->receivers);
    j->timer = evtimer_new(e->opts.base, sl_job_timer_cb, j);
    j->cut_retry = evtimer_new(e->opts.base, sl_cut_retry_cb, j);
    j->undeployed = sl_hmap_new(8);
    if (!j->receivers || !j->timer || !j->cut_retry || !j->undeployed)
        goto fail;
    uint32_t ri = 0;
    for (size_t i = 0; i < j->spec->n_nodes; i++) {
        const Sluice__StreamNode *node = j->spec->nodes[i];
        if (node->op != SLUICE__OP_KIND__OP_PUSH)
            continue;
        sl_mreceiver_t *r = &j->receivers[ri++];
        r->node = (uint32_t)i;
        r->stream = node->source;
        r->partitions = j->plan->nodes[i].nparts;
        if (!(r->producers = sl_seqset_new()))
            goto fail;
    }
    *out = j;
    return SL_OK;
fail:
    if (st == SL_ERR_NOMEM)
        snprintf(err, SL_ERRMSG_LEN, "out of memory");
    sl_job_free(j);
    *out = NULL;
    return st;
}

void sl_engine_submit(sl_engine_t *e, sl_conn_t *c, const sl_envelope_t *req)
{
    const Sluice__JobSpec *spec = req->submit_job->spec;
    char err[SL_ERRMSG_LEN] = "";
    sl_udf_lib_t *lib = NULL;
    sl_status_t st = SL_ERR_INVALID;
    sl_mjob_t *j = NULL;
    if (!spec) {
        snprintf(err, SL_ERRMSG_LEN, "submit_job carries no job");
        goto refuse;
    }
    if (spec->library.len &&
        (st = sl_udf_lib_load_bytes(spec->library.data, spec->library.len, spec->library_name,
                                    e->opts.scratch_dir, &lib, err)) != SL_OK)
        goto refuse;
    if (spec->library_name && spec->library_name[0] && !spec->library.len) {
        snprintf(err, SL_ERRMSG_LEN, "library '%.100s' was named but not sent", spec->library_name);
        st = SL_ERR_INVALID;
        goto refuse;
    }
    if ((st = sl_jobspec_validate(spec, lib, err)) != SL_OK)
        goto refuse;
    if (spec->wal && !e->opts.wal_root) {
        snprintf(err, SL_ERRMSG_LEN, "job '%.64s' asks for a write-ahead log (wal on), but the "
                 "master runs without --checkpoint-dir, where the logs live", spec->name);
        st = SL_ERR_INVALID;
        goto refuse;
    }
    sl_mjob_t *old = sl_engine_job(e, spec->name);
    if (old && old->state == SLUICE__JOB_STATE__JOB_RUNNING) {
        snprintf(err, SL_ERRMSG_LEN, "a job named '%.64s' is already running", spec->name);
        st = SL_ERR_EXISTS;
        goto refuse;
    }
    if (e->recovering || e->draining) {
        snprintf(err, SL_ERRMSG_LEN, "the master is %s; submit again in a moment",
                 e->recovering ? "recovering after a takeover" : "shutting down");
        st = SL_ERR_UNAVAILABLE;
        goto refuse;
    }
    if (old)
        sl_job_remove(e, old);
    /* The generation is the submission's wall time, unique across masters
     * and restarts, so workers tell a resubmission from a recovery. */
    uint64_t gen = sl_time_wall_ms();
    if (gen <= e->generations)
        gen = e->generations + 1;
    e->generations = gen;
    if ((st = sl_job_build(e, spec, gen, &j, err)) != SL_OK)
        goto refuse;
    st = SL_ERR_NOMEM;
    uint32_t ri;
    /* Spark's rule: receivers hold a core each, and tasks need at least one more. */
    sl_worker_view_t ws[SL_MAX_WORKERS];
    size_t nw = sl_cluster_alive(e->opts.cluster, ws, SL_MAX_WORKERS);
    uint64_t cores = 0, held = 0;
    for (size_t i = 0; i < nw; i++) {
        cores += ws[i].cores;
        held += sl_engine_receivers_on(e, ws[i].address);
    }
    if (held + j->nreceivers + 1 > cores) {
        snprintf(err, SL_ERRMSG_LEN, "job needs %u receiver core%s plus at least one core for tasks, "
                 "but the cluster has %llu cores with %llu held by receivers",
                 j->nreceivers, j->nreceivers == 1 ? "" : "s", (unsigned long long)cores,
                 (unsigned long long)held);
        st = SL_ERR_UNAVAILABLE;
        goto refuse;
    }
    bool created;
    void **slot = sl_hmap_slot(e->jobs, j->id, strlen(j->id), &created);
    if (!slot)
        goto refuse;
    *slot = j;
    j->submitter = c;
    j->submit_request = req->request_id;
    j->pending_setup = 1;   /* held until every request is out */
    for (size_t i = 0; i < nw; i++)
        sl_deploy_to(j, ws[i].conn, true);
    for (ri = 0; ri < j->nreceivers; ri++)
        sl_receiver_place(j, ri);
    sl_udf_lib_free(lib);
    sl_info("engine", "job %s submitted by %s", j->id, sl_conn_peer(c));
    sl_job_setup_step(j);
    return;
refuse:
    if (st == SL_ERR_NOMEM && !err[0])
        snprintf(err, SL_ERRMSG_LEN, "out of memory");
    sl_warn("engine", "refused a job from %s: %s", sl_conn_peer(c), err);
    sl_conn_reply_error(c, req, st, err);
    sl_job_free(j);
    sl_udf_lib_free(lib);
}

static sl_mjob_t *sl_engine_job_or_reply(sl_engine_t *e, sl_conn_t *c, const sl_envelope_t *req,
                                         const char *id)
{
    sl_mjob_t *j = id ? sl_engine_job(e, id) : NULL;
    if (!j) {
        char msg[SL_ERRMSG_LEN];
        snprintf(msg, sizeof msg, "no job named '%.64s'", id ? id : "");
        sl_conn_reply_error(c, req, SL_ERR_NOT_FOUND, msg);
    }
    return j;
}

void sl_engine_list_jobs(sl_engine_t *e, sl_conn_t *c, const sl_envelope_t *req)
{
    size_t n = sl_hmap_count(e->jobs), i = 0, pos = 0, klen, nr = 0;
    const void *k;
    void *v;
    Sluice__JobInfo *infos = calloc(n + 1, sizeof *infos);
    Sluice__JobInfo **ptrs = calloc(n + 1, sizeof *ptrs);
    while (sl_hmap_next(e->jobs, &pos, &k, &klen, &v))
        nr += ((sl_mjob_t *)v)->nreceivers;
    Sluice__ReceiverInfo *rs = calloc(nr + 1, sizeof *rs);
    Sluice__ReceiverInfo **rp = calloc(nr + 1, sizeof *rp);
    if (!infos || !ptrs || !rs || !rp) {
        sl_conn_reply_error(c, req, SL_ERR_NOMEM, "out of memory");
        goto done;
    }
    pos = 0;
    size_t r = 0;
    while (sl_hmap_next(e->jobs, &pos, &k, &klen, &v)) {
        sl_mjob_t *j = v;
        Sluice__JobInfo *ji = &infos[i];
        sluice__job_info__init(ji);
        ji->job_id = j->id;
        ji->state = j->state;
        ji->batch_ms = j->spec->batch_ms;
        ji->batches_done = j->batches_done;
        for (sl_mbatch_t *b = j->batches; b; b = b->next)
            ji->batches_queued++;
        ji->last_batch_time_ms = j->last_time;
        ji->error = j->error;
        ji->receivers = &rp[r];
        for (uint32_t q = 0; q < j->nreceivers; q++, r++) {
            sluice__receiver_info__init(&rs[r]);
            rs[r].stream = (char *)j->receivers[q].stream;
            rs[r].worker_id = j->receivers[q].worker_id;
            rs[r].address = j->receivers[q].worker;
            rs[r].epoch = j->receivers[q].epoch;
            rp[r] = &rs[r];
        }
        ji->n_receivers = j->nreceivers;
        ptrs[i++] = ji;
    }
    Sluice__Envelope env = SLUICE__ENVELOPE__INIT;
    Sluice__JobList jl = SLUICE__JOB_LIST__INIT;
    jl.jobs = ptrs;
    jl.n_jobs = i;
    env.body_case = SLUICE__ENVELOPE__BODY_JOB_LIST;
    env.job_list = &jl;
    sl_conn_reply(c, req, &env, NULL, 0);
done:
    free(infos);
    free(ptrs);
    free(rs);
    free(rp);
}

void sl_engine_stop_job(sl_engine_t *e, sl_conn_t *c, const sl_envelope_t *req)
{
    sl_mjob_t *j = sl_engine_job_or_reply(e, c, req, req->stop_job->job_id);
    if (!j)
        return;
    const Sluice__StopJob *sj = req->stop_job;
    if (j->state == SLUICE__JOB_STATE__JOB_RUNNING && sj->graceful && j->admitted) {
        if (j->drain_conn) {
            sl_conn_reply_error(c, req, SL_ERR_EXISTS, "a graceful stop of this job is under way");
            return;
        }
        sl_info("engine", "job %s: graceful stop asked by %s", j->id, sl_conn_peer(c));
        j->drain_conn = c;
        j->drain_request = req->request_id;
        sl_job_drain(j, false, sj->timeout_ms ? sj->timeout_ms : 60000);
        return;
    }
    if (j->state == SLUICE__JOB_STATE__JOB_RUNNING) {
        sl_info("engine", "job %s stopped by %s", j->id, sl_conn_peer(c));
        sl_job_end(j, SLUICE__JOB_STATE__JOB_STOPPED, NULL);
    }
    Sluice__Envelope env = SLUICE__ENVELOPE__INIT;
    Sluice__StopJobReply r = SLUICE__STOP_JOB_REPLY__INIT;
    env.body_case = SLUICE__ENVELOPE__BODY_STOP_JOB_REPLY;
    env.stop_job_reply = &r;
    sl_conn_reply(c, req, &env, NULL, 0);
}

void sl_engine_tick(sl_engine_t *e, sl_conn_t *c, const sl_envelope_t *req)
{
    const Sluice__Tick *t = req->tick;
    sl_mjob_t *j = sl_engine_job_or_reply(e, c, req, t->job_id);
    if (!j)
        return;
    if (!e->opts.manual_clock) {
        sl_conn_reply_error(c, req, SL_ERR_INVALID,
                            "the master runs a wall clock; start it with --clock manual to tick");
        return;
    }
    if (j->state != SLUICE__JOB_STATE__JOB_RUNNING || !j->admitted) {
        sl_conn_reply_error(c, req, SL_ERR_INVALID, "the job is not running");
        return;
    }
    if (j->draining) {
        sl_conn_reply_error(c, req, SL_ERR_INVALID, "the job is stopping");
        return;
    }
    uint32_t count = t->count ? t->count : 1;
    if (count > 10000) {
        sl_conn_reply_error(c, req, SL_ERR_INVALID, "at most 10000 ticks at once");
        return;
    }
    int64_t *times = calloc(count, sizeof *times);
    if (!times) {
        sl_conn_reply_error(c, req, SL_ERR_NOMEM, "out of memory");
        return;
    }
    for (uint32_t i = 0; i < count; i++) {
        j->manual_now += (int64_t)j->spec->batch_ms;
        times[i] = j->manual_now;
        if (sl_job_new_batch(j, j->manual_now) != SL_OK) {
            free(times);
            sl_conn_reply_error(c, req, SL_ERR_NOMEM, "out of memory");
            return;
        }
    }
    if (t->wait) {
        sl_waiter_t *w = calloc(1, sizeof *w);
        if (w) {
            w->conn = c;
            w->request_id = req->request_id;
            w->first_time = times[0];
            w->last_time = times[count - 1];
            w->next = j->tick_waiters;
            j->tick_waiters = w;
        } else {
            sl_conn_reply_error(c, req, SL_ERR_NOMEM, "out of memory");
        }
    } else {
        Sluice__Envelope env = SLUICE__ENVELOPE__INIT;
        Sluice__TickReply r = SLUICE__TICK_REPLY__INIT;
        r.batch_times_ms = times;
        r.n_batch_times_ms = count;
        env.body_case = SLUICE__ENVELOPE__BODY_TICK_REPLY;
        env.tick_reply = &r;
        sl_conn_reply(c, req, &env, NULL, 0);
    }
    free(times);
    sl_engine_kick(e);
}

/* Answers tick --wait requests whose last batch is over (done or failed). */
void sl_job_reply_waiters(sl_mjob_t *j)
{
    sl_waiter_t **pw = &j->tick_waiters;
    while (*pw) {
        sl_waiter_t *w = *pw;
        bool pending = false;
        for (sl_mbatch_t *b = j->batches; b && !pending; b = b->next)
            pending = b->time <= w->last_time;
        if (pending) {
            pw = &w->next;
            continue;
        }
        *pw = w->next;
        /* Report the waited-for batches; a failure among them is an error. */
        const char *failure = NULL;
        size_t nt = 0;
        int64_t times[1024];
        for (size_t i = 0; i < j->nhistory; i++) {
            const Sluice__BatchInfo *bi = j->history[i];
            if (bi->time_ms > w->last_time || bi->time_ms < w->first_time)
                continue;
            if (nt < 1024)
                times[nt++] = bi->time_ms;
            if (bi->state == SLUICE__BATCH_STATE__BATCH_FAILED && !failure)
                failure = bi->error;
        }
        if (failure) {
            char msg[SL_ERRMSG_LEN];
            snprintf(msg, sizeof msg, "a batch failed: %.200s", failure);
            sl_reply_err(w->conn, w->request_id, SL_ERR_INTERNAL, msg);
        } else {
            Sluice__Envelope env = SLUICE__ENVELOPE__INIT;
            Sluice__TickReply r = SLUICE__TICK_REPLY__INIT;
            r.batch_times_ms = times;
            r.n_batch_times_ms = nt;
            env.body_case = SLUICE__ENVELOPE__BODY_TICK_REPLY;
            env.tick_reply = &r;
            sl_reply_body(w->conn, w->request_id, &env);
        }
        free(w);
    }
}

void sl_engine_list_batches(sl_engine_t *e, sl_conn_t *c, const sl_envelope_t *req)
{
    sl_mjob_t *j = sl_engine_job_or_reply(e, c, req, req->list_batches->job_id);
    if (!j)
        return;
    size_t pending = 0;
    for (sl_mbatch_t *b = j->batches; b; b = b->next)
        pending++;
    Sluice__BatchInfo **ptrs = calloc(j->nhistory + pending + 1, sizeof *ptrs);
    if (!ptrs) {
        sl_conn_reply_error(c, req, SL_ERR_NOMEM, "out of memory");
        return;
    }
    size_t n = 0;
    for (size_t i = 0; i < j->nhistory; i++)
        ptrs[n++] = j->history[i];
    for (sl_mbatch_t *b = j->batches; b; b = b->next)
        if ((ptrs[n] = sl_batch_info_new(b, j->plan->ntasks)))
            n++;
    Sluice__Envelope env = SLUICE__ENVELOPE__INIT;
    Sluice__BatchList bl = SLUICE__BATCH_LIST__INIT;
    bl.batches = ptrs;
    bl.n_batches = n;
    env.body_case = SLUICE__ENVELOPE__BODY_BATCH_LIST;
    env.batch_list = &bl;
    sl_conn_reply(c, req, &env, NULL, 0);
    for (size_t i = j->nhistory; i < n; i++)
        sluice__batch_info__free_unpacked(ptrs[i], NULL);
    free(ptrs);
}

void sl_engine_locate(sl_engine_t *e, sl_conn_t *c, const sl_envelope_t *req)
{
    const Sluice__LocateStream *ls = req->locate_stream;
    sl_mjob_t *j = sl_engine_job_or_reply(e, c, req, ls->job_id);
    if (!j)
        return;
    for (uint32_t i = 0; i < j->nreceivers; i++) {
        sl_mreceiver_t *r = &j->receivers[i];
        if (strcmp(r->stream, ls->stream) != 0)
            continue;
        if (j->state != SLUICE__JOB_STATE__JOB_RUNNING) {
            sl_conn_reply_error(c, req, SL_ERR_NOT_FOUND, "the job is not running");
            return;
        }
        if (j->draining && !j->drain_keep) {
            sl_conn_reply_error(c, req, SL_ERR_NOT_FOUND, "the job is stopping");
            return;
        }
        if (e->draining || e->recovering) {
            sl_conn_reply_error(c, req, SL_ERR_UNAVAILABLE,
                                e->draining ? "the master is shutting down; try again"
                                            : "the master is recovering; try again");
            return;
        }
        if (!r->ready || r->last_cut) {
            sl_conn_reply_error(c, req, SL_ERR_UNAVAILABLE,
                                "the stream's receiver is starting or moving; try again");
            return;
        }
        Sluice__Envelope env = SLUICE__ENVELOPE__INIT;
        Sluice__StreamLocation loc = SLUICE__STREAM_LOCATION__INIT;
        loc.address = r->worker;
        loc.epoch = r->epoch;
        env.body_case = SLUICE__ENVELOPE__BODY_STREAM_LOCATION;
        env.stream_location = &loc;
        sl_conn_reply(c, req, &env, NULL, 0);
        return;
    }
    char msg[SL_ERRMSG_LEN];
    snprintf(msg, sizeof msg, "job '%.64s' has no push stream '%.64s'", ls->job_id, ls->stream);
    sl_conn_reply_error(c, req, SL_ERR_NOT_FOUND, msg);
}

void sl_engine_watch(sl_engine_t *e, sl_conn_t *c, const sl_envelope_t *req)
{
    const Sluice__Watch *w = req->watch;
    sl_mjob_t *j = sl_engine_job_or_reply(e, c, req, w->job_id);
    if (!j)
        return;
    if (w->stream[0]) {
        bool known = false;
        for (size_t i = 0; i < j->spec->n_nodes && !known; i++)
            known = strcmp(j->spec->nodes[i]->name, w->stream) == 0;
        if (!known) {
            char msg[SL_ERRMSG_LEN];
            snprintf(msg, sizeof msg, "job '%.64s' has no stream named '%.64s'", j->id, w->stream);
            sl_conn_reply_error(c, req, SL_ERR_NOT_FOUND, msg);
            return;
        }
    }
    sl_watcher_t *x = calloc(1, sizeof *x);
    if (!x) {
        sl_conn_reply_error(c, req, SL_ERR_NOMEM, "out of memory");
        return;
    }
    x->conn = c;
    snprintf(x->stream, sizeof x->stream, "%s", w->stream);
    x->next = j->watchers;
    j->watchers = x;
    Sluice__Envelope env = SLUICE__ENVELOPE__INIT;
    Sluice__WatchReply r = SLUICE__WATCH_REPLY__INIT;
    env.body_case = SLUICE__ENVELOPE__BODY_WATCH_REPLY;
    env.watch_reply = &r;
    sl_conn_reply(c, req, &env, NULL, 0);
}

void sl_engine_conn_closed(sl_engine_t *e, sl_conn_t *c)
{
    size_t pos = 0, klen;
    const void *k;
    void *v;
    while (sl_hmap_next(e->jobs, &pos, &k, &klen, &v)) {
        sl_mjob_t *j = v;
        if (j->submitter == c)
            j->submitter = NULL;
        if (j->drain_conn == c)
            j->drain_conn = NULL;
        for (sl_waiter_t *w = j->tick_waiters; w; w = w->next)
            if (w->conn == c)
                w->conn = NULL;
        sl_watcher_t **pw = &j->watchers;
        while (*pw) {
            if ((*pw)->conn == c) {
                sl_watcher_t *dead = *pw;
                *pw = dead->next;
                free(dead);
            } else {
                pw = &(*pw)->next;
            }
        }
    }
}

/* --- cluster changes ----------------------------------------------------------------------- */

void sl_engine_worker_changed(void *engine, const char *worker_id, const char *address, bool alive)
{
    sl_engine_t *e = engine;
    size_t pos = 0, klen;
    const void *k;
    void *v;
    sl_worker_view_t w;
    bool have = alive && sl_cluster_lookup(e->opts.cluster, worker_id, &w);
    if (!alive)
        sl_hmap_remove(e->busy, address, strlen(address));
    sl_persist_worker(e, worker_id, address, alive);
    while (sl_hmap_next(e->jobs, &pos, &k, &klen, &v)) {
        sl_mjob_t *j = v;
        if (j->state != SLUICE__JOB_STATE__JOB_RUNNING)
            continue;
        if (alive) {
            sl_hmap_remove(j->undeployed, address, strlen(address));   /* a new chance */
            if (have)
                sl_deploy_to(j, w.conn, false);
            /* A receiver left unplaced for want of cores (or of any worker to
             * collect its dead epochs from) may go now. */
            for (uint32_t ri = 0; !e->recovering && ri < j->nreceivers; ri++)
                if (!j->receivers[ri].worker[0] && !j->receivers[ri].moving)
                    sl_receiver_collect(j, ri);
            continue;
        }
        for (uint32_t ri = 0; ri < j->nreceivers; ri++)
            if (strcmp(j->receivers[ri].worker, address) == 0)
                sl_receiver_move(j, ri, j->receivers[ri].epoch);
        sl_batch_worker_lost(j, address);
    }
    /* Running receivers replicate to the workers alive now. */
    pos = 0;
    while (sl_hmap_next(e->jobs, &pos, &k, &klen, &v)) {
        sl_mjob_t *j = v;
        for (uint32_t ri = 0; j->state == SLUICE__JOB_STATE__JOB_RUNNING && ri < j->nreceivers; ri++) {
            sl_worker_view_t rw;
            if (j->receivers[ri].ready && sl_cluster_lookup(e->opts.cluster, j->receivers[ri].worker, &rw))
                sl_receiver_start(j, ri, &rw, true);
        }
    }
    if (alive)
        sl_recovery_worker_back(e, worker_id);
    sl_engine_kick(e);
}

/* --- construction ---------------------------------------------------------------------------- */

sl_engine_t *sl_engine_new(const sl_engine_opts_t *opts, char *err)
{
    sl_engine_t *e = calloc(1, sizeof *e);
    if (!e) {
        snprintf(err, SL_ERRMSG_LEN, "out of memory");
        return NULL;
    }
    e->opts = *opts;
    e->jobs = sl_hmap_new(16);
    e->busy = sl_hmap_new(16);
    e->schedule_ev = event_new(opts->base, -1, 0, sl_schedule_cb, e);
    e->retry_ev = evtimer_new(opts->base, sl_schedule_cb, e);
    e->drain_ev = evtimer_new(opts->base, sl_engine_drain_timeout_cb, e);
    e->expected = sl_hmap_new(16);
    if (!e->jobs || !e->busy || !e->schedule_ev || !e->retry_ev || !e->drain_ev || !e->expected) {
        snprintf(err, SL_ERRMSG_LEN, "out of memory");
        sl_engine_free(e);
        return NULL;
    }
    return e;
}

void sl_engine_free(sl_engine_t *e)
{
    if (!e)
        return;
    size_t pos = 0, klen;
    const void *k;
    void *v;
    while (e->jobs && sl_hmap_next(e->jobs, &pos, &k, &klen, &v))
        sl_job_free(v);
    sl_hmap_free(e->jobs);
    sl_hmap_free(e->busy);
    sl_hmap_free(e->expected);
    if (e->schedule_ev)
        event_free(e->schedule_ev);
    if (e->retry_ev)
        event_free(e->retry_ev);
    if (e->drain_ev)
        event_free(e->drain_ev);
    if (e->recovery_ev)
        event_free(e->recovery_ev);
    free(e);
}

uint64_t sl_engine_busy(sl_engine_t *e, const char *address)
{
    return (uintptr_t)sl_hmap_get(e->busy, address, strlen(address));
}

void sl_engine_busy_add(sl_engine_t *e, const char *address, int delta)
{
    bool created;
    uintptr_t *slot = (uintptr_t *)sl_hmap_slot(e->busy, address, strlen(address), &created);
    if (!slot)
        return;
    if (delta < 0 && *slot < (uintptr_t)-delta)
        *slot = 0;
    else
        *slot += (uintptr_t)(intptr_t)delta;
}
