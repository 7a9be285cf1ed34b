/* sluice-worker: registers with a master (trying each address of the list,
 * backing off between attempts), heartbeats at the interval the master asks
 * for, re-registers when the master forgot it, and serves requests from a
 * table: the master's (deploy, receivers, cuts, tasks, drops) and its peers'
 * and clients' (pushes, replicas, block and shuffle fetches). Tasks run on the
 * executor threads; their results come back through sl_worker_post(). */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "log.h"
#include "parse.h"
#include "rpcsync.h"
#include "task.h"
#include "timeutil.h"
#include "wal.h"
#include "worker-internal.h"

#define SL_BACKOFF_MIN_MS 100
#define SL_BACKOFF_MAX_MS 3000
#define SL_REGISTER_TIMEOUT_MS 5000
#define SL_PEER_IDLE_MS 60000
#define SL_FETCH_TIMEOUT_MS 30000

static void sl_worker_connect(sl_worker_t *w);


/* --- closures posted to the I/O thread ------------------------------------------------ */

void sl_worker_post(sl_worker_t *w, void (*fn)(sl_worker_t *w, void *arg), void *arg)
{
    sl_post_t *p = malloc(sizeof *p);
    SL_CHECK(p != NULL);
    p->fn = fn;
    p->arg = arg;
    p->next = NULL;
    pthread_mutex_lock(&w->post_lock);
    if (w->post_tail)
        w->post_tail->next = p;
    else
        w->post_head = p;
    w->post_tail = p;
    pthread_mutex_unlock(&w->post_lock);
    event_active(w->post_ev, EV_READ, 0);
}

static void sl_worker_run_posts(evutil_socket_t fd, short what, void *arg)
{
    sl_worker_t *w = arg;
    pthread_mutex_lock(&w->post_lock);
    sl_post_t *p = w->post_head;
    w->post_head = w->post_tail = NULL;
    pthread_mutex_unlock(&w->post_lock);
    while (p) {
        sl_post_t *next = p->next;
        p->fn(w, p->arg);
        free(p);
        p = next;
    }
}

/* --- requests --------------------------------------------------------------------------- */

typedef void (*sl_worker_handler)(sl_worker_t *w, sl_conn_t *c, const sl_envelope_t *env,
                                  const uint8_t *payload, size_t len);

static void sl_reply_ack(sl_conn_t *c, const sl_envelope_t *req)
{
    Sluice__Envelope env = SLUICE__ENVELOPE__INIT;
    Sluice__Ack ack = SLUICE__ACK__INIT;
    env.body_case = SLUICE__ENVELOPE__BODY_ACK;
    env.ack = &ack;
    sl_conn_reply(c, req, &env, NULL, 0);
}

static sl_jobrt_t *sl_worker_job(sl_worker_t *w, const char *job_id)
{
    return sl_hmap_get(w->jobs, job_id, strlen(job_id));
}

static void sl_on_deploy(sl_worker_t *w, sl_conn_t *c, const sl_envelope_t *env,
                         const uint8_t *payload, size_t len)
{
    const Sluice__DeployJob *d = env->deploy_job;
    char err[SL_ERRMSG_LEN] = "";
    if (!d->spec || !d->job_id[0]) {
        sl_conn_reply_error(c, env, SL_ERR_INVALID, "deploy_job without a job");
        return;
    }
    sl_jobrt_t *old = sl_worker_job(w, d->job_id);
    if (old && old->generation != d->generation) {
        /* A resubmitted job: whatever the old one left here goes. */
        sl_info("worker", "job %s was resubmitted: dropping the old one", d->job_id);
        sl_receivers_stop(w, d->job_id);
        sl_jobrt_unref(sl_hmap_remove(w->jobs, d->job_id, strlen(d->job_id)));
        sl_store_drop_job(w->store, d->job_id);
        old = NULL;
    }
    if (!old) {
        sl_jobrt_t *rt;
        sl_status_t st = sl_jobrt_new(d->job_id, d->spec, w->opts.work_dir, &rt, err);
        if (st != SL_OK) {
            sl_error("worker", "cannot deploy job %s: %s", d->job_id, err);
            sl_conn_reply_error(c, env, st, err);
            return;
        }
        bool created;
        void **slot = sl_hmap_slot(w->jobs, d->job_id, strlen(d->job_id), &created);
        if (!slot) {
            sl_jobrt_unref(rt);
            sl_conn_reply_error(c, env, SL_ERR_NOMEM, "out of memory");
            return;
        }
        rt->generation = d->generation;
        *slot = rt;
        sl_info("worker", "deployed job %s (%zu nodes, %u pipelines)", d->job_id,
                rt->spec->n_nodes, rt->plan->npipelines);
    }
    Sluice__Envelope reply = SLUICE__ENVELOPE__INIT;
    Sluice__DeployJobReply r = SLUICE__DEPLOY_JOB_REPLY__INIT;
    reply.body_case = SLUICE__ENVELOPE__BODY_DEPLOY_JOB_REPLY;
    reply.deploy_job_reply = &r;
    sl_conn_reply(c, env, &reply, NULL, 0);
}

static void sl_on_drop_job(sl_worker_t *w, sl_conn_t *c, const sl_envelope_t *env,
                           const uint8_t *payload, size_t len)
{
    const char *job = env->drop_job->job_id;
    sl_receivers_stop(w, job);
    /* The job's fences go with it ("job NUL stream" keys). */
    size_t pos = 0, klen, jl = strlen(job);
    const void *k;
    void *v;
    while (sl_hmap_next(w->fences, &pos, &k, &klen, &v)) {
        if (klen > jl && memcmp(k, job, jl) == 0 && ((const char *)k)[jl] == 0) {
            sl_hmap_remove(w->fences, k, klen);
            pos = 0;   /* removal moves entries: start over */
        }
    }
    sl_jobrt_unref(sl_hmap_remove(w->jobs, job, strlen(job)));
    sl_store_drop_job(w->store, job);
    sl_reply_ack(c, env);
}

static void sl_on_start_receiver(sl_worker_t *w, sl_conn_t *c, const sl_envelope_t *env,
                                 const uint8_t *payload, size_t len)
{
    char err[SL_ERRMSG_LEN] = "";
    sl_status_t st = sl_receiver_start(w, env->start_receiver, err);
    if (st != SL_OK) {
        sl_conn_reply_error(c, env, st, err);
        return;
    }
    Sluice__Envelope reply = SLUICE__ENVELOPE__INIT;
    Sluice__StartReceiverReply r = SLUICE__START_RECEIVER_REPLY__INIT;
    reply.body_case = SLUICE__ENVELOPE__BODY_START_RECEIVER_REPLY;
    reply.start_receiver_reply = &r;
    sl_conn_reply(c, env, &reply, NULL, 0);
}

static void sl_on_cut(sl_worker_t *w, sl_conn_t *c, const sl_envelope_t *env,
                      const uint8_t *payload, size_t len)
{
    const Sluice__CutBlocks *cb = env->cut_blocks;
    sl_receiver_t *r = sl_receiver_find(w, cb->job_id, cb->stream);
    if (!r) {
        char msg[SL_ERRMSG_LEN];
        snprintf(msg, sizeof msg, "no receiver for %.64s/%.64s here", cb->job_id, cb->stream);
        sl_conn_reply_error(c, env, SL_ERR_NOT_FOUND, msg);
        return;
    }
    sl_receiver_cut(w, r, c, env);
}

/* Key of a (job, stream) fence. */
static size_t sl_fence_key(char *key, size_t cap, const char *job, const char *stream)
{
    int n = snprintf(key, cap, "%s%c%s", job, 0, stream);
    return n < 0 ? 0 : (size_t)n < cap ? (size_t)n : cap - 1;
}

/* Receiver epochs up to this one may no longer replicate blocks here. */
static uint32_t sl_fence_of(const sl_worker_t *w, const char *job, const char *stream)
{
    char key[160];
    size_t klen = sl_fence_key(key, sizeof key, job, stream);
    return (uint32_t)(uintptr_t)sl_hmap_get(w->fences, key, klen);
}

typedef struct {
    sl_worker_t *w;
    const Sluice__ListReplicas *lr;
    uint64_t loaded;
} sl_wal_reload_t;

/* One record of a write-ahead log read back: stored unless already here. */
static sl_status_t sl_wal_reload_one(void *arg, uint64_t id, const uint8_t *info, size_t info_len,
                                     const uint8_t *data, size_t len)
{
    sl_wal_reload_t *x = arg;
    const sl_rbuf_t *have = sl_store_get_block(x->w->store, x->lr->job_id, x->lr->stream, id);
    if (have) {
        sl_store_release(have);
        return SL_OK;
    }
    Sluice__BlockInfo *bi = sluice__block_info__unpack(NULL, info_len, info);
    uint8_t *copy = malloc(len + 1);
    sl_status_t st = SL_ERR_NOMEM;
    if (bi && copy && bi->id == id) {
        memcpy(copy, data, len);
        st = sl_store_put_block(x->w->store, x->lr->job_id, x->lr->stream, bi, copy, len);
        copy = NULL;
        x->loaded += st == SL_OK;
    } else if (bi) {
        st = SL_ERR_CORRUPT;
    }
    free(copy);
    if (bi)
        sluice__block_info__free_unpacked(bi, NULL);
    return st;
}

/* Reads the blocks of a dead receiver epoch back from its write-ahead log. */
static void sl_worker_wal_reload(sl_worker_t *w, const Sluice__ListReplicas *lr)
{
    sl_wal_reload_t x = { w, lr, 0 };
    uint64_t cut = 0;
    char err[SL_ERRMSG_LEN] = "";
    sl_status_t st = sl_wal_replay(lr->wal_root, lr->job_id, lr->stream, lr->epoch, lr->after_seq,
                                   sl_wal_reload_one, &x, &cut, err);
    if (st != SL_OK)
        sl_error("worker", "reading the write-ahead log of %s/%s epoch %u: %s", lr->job_id,
                 lr->stream, lr->epoch, err[0] ? err : sl_strerror(st));
    sl_info("worker", "write-ahead log of %s/%s epoch %u: %llu blocks read back%s", lr->job_id,
            lr->stream, lr->epoch, (unsigned long long)x.loaded,
            cut ? " (a torn tail was cut)" : "");
}

static void sl_on_list_replicas(sl_worker_t *w, sl_conn_t *c, const sl_envelope_t *env,
                                const uint8_t *payload, size_t len)
{
    const Sluice__ListReplicas *lr = env->list_replicas;
    /* The master is moving this receiver: from now on the old epoch may not
     * add replicas here, so a receiver that is only presumed dead (frozen,
     * cut off) can no longer ack anything the master will not count. */
    char key[160];
    size_t klen = sl_fence_key(key, sizeof key, lr->job_id, lr->stream);
    bool created;
    uintptr_t *fence = (uintptr_t *)sl_hmap_slot(w->fences, key, klen, &created);
    if (fence && lr->epoch > *fence)
        *fence = lr->epoch;
    if (lr->wal_root && lr->wal_root[0])
        sl_worker_wal_reload(w, lr);
    Sluice__BlockInfo **infos = NULL;
    size_t n = sl_store_list_epoch(w->store, lr->job_id, lr->stream, lr->epoch, lr->after_seq,
                                   &infos);
    /* They are this worker's own now: the copy it holds is what is left. */
    for (size_t i = 0; i < n; i++) {
        infos[i]->n_locations = 0;
        free(infos[i]->locations);
        infos[i]->locations = NULL;
    }
    Sluice__Envelope reply = SLUICE__ENVELOPE__INIT;
    Sluice__ListReplicasReply r = SLUICE__LIST_REPLICAS_REPLY__INIT;
    r.blocks = infos;
    r.n_blocks = n;
    reply.body_case = SLUICE__ENVELOPE__BODY_LIST_REPLICAS_REPLY;
    reply.list_replicas_reply = &r;
    sl_conn_reply(c, env, &reply, NULL, 0);
    sl_store_infos_free(infos, n);
}

static void sl_on_drop_blocks(sl_worker_t *w, sl_conn_t *c, const sl_envelope_t *env,
                              const uint8_t *payload, size_t len)
{
    const Sluice__DropBlocks *d = env->drop_blocks;
    sl_store_drop_blocks(w->store, d->job_id, d->stream, d->ids, d->n_ids);
    sl_reply_ack(c, env);
}

static void sl_on_drop_batch(sl_worker_t *w, sl_conn_t *c, const sl_envelope_t *env,
                             const uint8_t *payload, size_t len)
{
    sl_store_drop_batch(w->store, env->drop_batch->job_id, env->drop_batch->batch_time_ms);
    sl_reply_ack(c, env);
}

typedef struct {
    sl_worker_t *w;
    sl_jobrt_t *rt;
    Sluice__RunTask *task;      /* owned copy */
    uint64_t request_id;
    uint64_t serial;            /* the master connection that asked */
    sl_task_env_t env;
    sl_task_result_t res;
} sl_task_job_t;

static void sl_task_job_free(sl_task_job_t *tj)
{
    sl_jobrt_unref(tj->rt);
    if (tj->task)
        sluice__run_task__free_unpacked(tj->task, NULL);
    sl_task_result_free(&tj->res);
    free(tj);
}

/* I/O thread: send the result back, if the master that asked is still here. */
static void sl_task_done(sl_worker_t *w, void *arg)
{
    sl_task_job_t *tj = arg;
    w->tasks_running--;
    if (w->master && w->master_serial == tj->serial && !w->stopping) {
        Sluice__Envelope req = SLUICE__ENVELOPE__INIT;
        req.request_id = tj->request_id;
        if (tj->res.status != SL_OK && !tj->res.fetch_failed) {
            sl_warn("worker", "task %s/%lld/%u.%u failed: %s", tj->rt->id,
                    (long long)tj->task->batch_time_ms, tj->task->pipeline, tj->task->partition,
                    tj->res.err);
            sl_conn_reply_error(w->master, &req, tj->res.status, tj->res.err);
        } else {
            Sluice__Envelope env = SLUICE__ENVELOPE__INIT;
            Sluice__TaskResult r = SLUICE__TASK_RESULT__INIT;
            Sluice__ShuffleOutputInfo *sp[tj->res.nshuffles + 1];
            Sluice__CollectedOutput *cp[tj->res.ncollected + 1];
            for (size_t i = 0; i < tj->res.nshuffles; i++)
                sp[i] = &tj->res.shuffles[i];
            for (size_t i = 0; i < tj->res.ncollected; i++)
                cp[i] = &tj->res.collected[i];
            r.records_in = tj->res.records_in;
            r.records_out = tj->res.records_out;
            r.shuffle_outputs = sp;
            r.n_shuffle_outputs = tj->res.nshuffles;
            r.collected = cp;
            r.n_collected = tj->res.ncollected;
            r.fetch_failed = tj->res.fetch_failed;
            r.failed_address = tj->res.failed_address;
            env.body_case = SLUICE__ENVELOPE__BODY_TASK_RESULT;
            env.task_result = &r;
            if (sl_conn_reply(w->master, &req, &env, tj->res.payload.p, tj->res.payload.len) != SL_OK)
                sl_conn_reply_error(w->master, &req, SL_ERR_INVALID, "task result too large to send");
        }
    }
    sl_task_job_free(tj);
}

/* Executor thread. */
static void sl_task_exec(void *arg)
{
    sl_task_job_t *tj = arg;
    sl_task_run(&tj->env, tj->rt, tj->task, &tj->res);
    sl_worker_post(tj->w, sl_task_done, tj);
}

static void sl_on_run_task(sl_worker_t *w, sl_conn_t *c, const sl_envelope_t *env,
                           const uint8_t *payload, size_t len)
{
    const Sluice__RunTask *t = env->run_task;
    sl_jobrt_t *rt = sl_worker_job(w, t->job_id);
    if (!rt) {
        char msg[SL_ERRMSG_LEN];
        snprintf(msg, sizeof msg, "job %.64s is not deployed on this worker", t->job_id);
        sl_conn_reply_error(c, env, SL_ERR_NOT_FOUND, msg);
        return;
    }
    sl_task_job_t *tj = calloc(1, sizeof *tj);
    if (tj)
        tj->task = sl_msg_clone(t);
    if (!tj || !tj->task) {
        if (tj)
            free(tj);
        sl_conn_reply_error(c, env, SL_ERR_NOMEM, "out of memory");
        return;
    }
    tj->w = w;
    tj->rt = sl_jobrt_ref(rt);
    tj->request_id = env->request_id;
    tj->serial = w->master_serial;
    tj->env = (sl_task_env_t){ .store = w->store, .secret = w->secret, .self_address = w->address,
                               .worker_id = w->id, .fetch_timeout_ms = SL_FETCH_TIMEOUT_MS };
    w->tasks_running++;
    if (sl_executor_submit(w->executor, sl_task_exec, tj) != SL_OK) {
        w->tasks_running--;
        sl_task_job_free(tj);
        sl_conn_reply_error(c, env, SL_ERR_CLOSED, "the worker is shutting down");
    }
}

static void sl_on_push(sl_worker_t *w, sl_conn_t *c, const sl_envelope_t *env,
                       const uint8_t *payload, size_t len)
{
    const Sluice__Push *p = env->push;
    sl_receiver_t *r = sl_receiver_find(w, p->job_id, p->stream);
    if (!r) {
        char msg[SL_ERRMSG_LEN];
        snprintf(msg, sizeof msg, "no receiver for stream '%.64s' of job '%.64s' on this worker",
                 p->stream, p->job_id);
        sl_conn_reply_error(c, env, SL_ERR_NOT_FOUND, msg);
        return;
    }
    sl_receiver_push(w, r, c, env, payload, len);
}

static void sl_on_replicate(sl_worker_t *w, sl_conn_t *c, const sl_envelope_t *env,
                            const uint8_t *payload, size_t len)
{
    const Sluice__ReplicateBlock *rb = env->replicate_block;
    char err[SL_ERRMSG_LEN] = "";
    sl_block_iter_t it;
    if (!rb->block || sl_block_open(payload, len, true, &it, err) != SL_OK) {
        sl_conn_reply_error(c, env, SL_ERR_DECODE, err[0] ? err : "replicate_block without a block");
        return;
    }
    uint32_t epoch = sl_block_id_epoch(rb->block->id);
    if (epoch <= sl_fence_of(w, rb->job_id, rb->stream)) {
        char msg[SL_ERRMSG_LEN];
        snprintf(msg, sizeof msg, "receiver epoch %u of %.64s/%.64s was replaced", epoch,
                 rb->job_id, rb->stream);
        sl_conn_reply_error(c, env, SL_ERR_UNAVAILABLE, msg);
        return;
    }
    uint8_t *copy = malloc(len);
    if (!copy) {
        sl_conn_reply_error(c, env, SL_ERR_NOMEM, "out of memory");
        return;
    }
    memcpy(copy, payload, len);
    if (sl_store_put_block(w->store, rb->job_id, rb->stream, rb->block, copy, len) != SL_OK) {
        sl_conn_reply_error(c, env, SL_ERR_NOMEM, "out of memory");
        return;
    }
    Sluice__Envelope reply = SLUICE__ENVELOPE__INIT;
    Sluice__ReplicateBlockReply r = SLUICE__REPLICATE_BLOCK_REPLY__INIT;
    reply.body_case = SLUICE__ENVELOPE__BODY_REPLICATE_BLOCK_REPLY;
    reply.replicate_block_reply = &r;
    sl_conn_reply(c, env, &reply, NULL, 0);
}

/* Replies with a stored buffer as payload, or NOT_FOUND. */
static void sl_reply_buffer(sl_conn_t *c, const sl_envelope_t *req, const sl_rbuf_t *b,
                            Sluice__Envelope *reply, const char *what)
{
    if (!b) {
        char msg[SL_ERRMSG_LEN];
        snprintf(msg, sizeof msg, "%s is not on this worker", what);
        sl_conn_reply_error(c, req, SL_ERR_NOT_FOUND, msg);
        return;
    }
    if (sl_conn_reply(c, req, reply, b->data, b->len) != SL_OK)
        sl_conn_reply_error(c, req, SL_ERR_FRAME_TOO_LARGE, "data too large for one frame");
    sl_store_release(b);
}

static void sl_on_fetch_block(sl_worker_t *w, sl_conn_t *c, const sl_envelope_t *env,
                              const uint8_t *payload, size_t len)
{
    const Sluice__FetchBlock *fb = env->fetch_block;
    Sluice__Envelope reply = SLUICE__ENVELOPE__INIT;
    Sluice__FetchBlockReply r = SLUICE__FETCH_BLOCK_REPLY__INIT;
    reply.body_case = SLUICE__ENVELOPE__BODY_FETCH_BLOCK_REPLY;
    reply.fetch_block_reply = &r;
    sl_reply_buffer(c, env, sl_store_get_block(w->store, fb->job_id, fb->stream, fb->id), &reply,
                    "the block");
}

static void sl_on_fetch_shuffle(sl_worker_t *w, sl_conn_t *c, const sl_envelope_t *env,
                                const uint8_t *payload, size_t len)
{
    const Sluice__FetchShuffle *fs = env->fetch_shuffle;
    sl_shuffle_key_t k = { .batch = fs->batch_time_ms, .attempt = fs->attempt, .node = fs->node,
                           .slot = fs->slot, .map_part = fs->map_part, .bucket = fs->bucket };
    Sluice__Envelope reply = SLUICE__ENVELOPE__INIT;
    Sluice__FetchShuffleReply r = SLUICE__FETCH_SHUFFLE_REPLY__INIT;
    reply.body_case = SLUICE__ENVELOPE__BODY_FETCH_SHUFFLE_REPLY;
    reply.fetch_shuffle_reply = &r;
    sl_reply_buffer(c, env, sl_store_get_shuffle(w->store, fs->job_id, &k), &reply,
                    "the shuffle output");
}

#define SL_FROM_MASTER 1u
#define SL_FROM_PEER 2u

static const struct {
    Sluice__Envelope__BodyCase body;
    sl_worker_handler fn;
    unsigned from;
} sl_worker_handlers[] = {
    { SLUICE__ENVELOPE__BODY_DEPLOY_JOB, sl_on_deploy, SL_FROM_MASTER },
    { SLUICE__ENVELOPE__BODY_DROP_JOB, sl_on_drop_job, SL_FROM_MASTER },
    { SLUICE__ENVELOPE__BODY_START_RECEIVER, sl_on_start_receiver, SL_FROM_MASTER },
    { SLUICE__ENVELOPE__BODY_CUT_BLOCKS, sl_on_cut, SL_FROM_MASTER },
    { SLUICE__ENVELOPE__BODY_LIST_REPLICAS, sl_on_list_replicas, SL_FROM_MASTER },
    { SLUICE__ENVELOPE__BODY_DROP_BLOCKS, sl_on_drop_blocks, SL_FROM_MASTER },
    { SLUICE__ENVELOPE__BODY_DROP_BATCH, sl_on_drop_batch, SL_FROM_MASTER },
    { SLUICE__ENVELOPE__BODY_RUN_TASK, sl_on_run_task, SL_FROM_MASTER },
    { SLUICE__ENVELOPE__BODY_PUSH, sl_on_push, SL_FROM_PEER },
    { SLUICE__ENVELOPE__BODY_REPLICATE_BLOCK, sl_on_replicate, SL_FROM_PEER },
    { SLUICE__ENVELOPE__BODY_FETCH_BLOCK, sl_on_fetch_block, SL_FROM_PEER },
    { SLUICE__ENVELOPE__BODY_FETCH_SHUFFLE, sl_on_fetch_shuffle, SL_FROM_PEER },
};

/* Fencing: a command from a master whose lease epoch is older than one we
 * have seen is refused (that master was replaced); a newer one is noted. */
static bool sl_worker_epoch_ok(sl_worker_t *w, sl_conn_t *c, const sl_envelope_t *env)
{
    if (env->master_epoch >= w->master_epoch) {
        w->master_epoch = env->master_epoch;
        return true;
    }
    char msg[SL_ERRMSG_LEN];
    snprintf(msg, sizeof msg, "refused '%s' from master epoch %llu: epoch %llu took over",
             sl_msg_name(env->body_case), (unsigned long long)env->master_epoch,
             (unsigned long long)w->master_epoch);
    sl_warn("worker", "%s: %s", sl_conn_peer(c), msg);
    sl_conn_reply_error(c, env, SL_ERR_FENCED, msg);
    return false;
}

static void sl_worker_dispatch(sl_worker_t *w, sl_conn_t *c, unsigned from,
                               const sl_envelope_t *env, const uint8_t *payload, size_t len)
{
    for (size_t i = 0; i < sizeof sl_worker_handlers / sizeof *sl_worker_handlers; i++) {
        if (sl_worker_handlers[i].body != env->body_case)
            continue;
        if (sl_worker_handlers[i].from & from) {
            if (from == SL_FROM_MASTER && !sl_worker_epoch_ok(w, c, env))
                return;
            sl_worker_handlers[i].fn(w, c, env, payload, len);
            return;
        }
        break;
    }
    char msg[SL_ERRMSG_LEN];
    snprintf(msg, sizeof msg, "the worker does not handle '%s' from a %s",
             sl_msg_name(env->body_case), from == SL_FROM_MASTER ? "master" : "peer or client");
    sl_warn("worker", "%s: %s", sl_conn_peer(c), msg);
    sl_conn_reply_error(c, env, SL_ERR_UNKNOWN_MESSAGE, msg);
}

/* --- master link ------------------------------------------------------------------- */

static void sl_worker_schedule_reconnect(sl_worker_t *w)
{
    if (w->stopping)
        return;
    w->link = SL_LINK_DOWN;
    /* The rest of the master list is tried at once; the backoff is between
     * rounds. */
    if (w->nmasters > 1 && w->next_master % w->nmasters != 0) {
        struct timeval tv = sl_time_tv(10);
        evtimer_add(w->reconnect_timer, &tv);
        return;
    }
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
        /* Declared dead: the master has moved our receivers elsewhere, so
         * ours must stop acking (their pushers re-locate). */
        sl_info("worker", "master %s does not know us (any more): registering again",
                sl_conn_peer(c));
        sl_receivers_stop(w, NULL);
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
    if (reply->master_epoch < w->master_epoch) {
        sl_error("worker", "master %s is at lease epoch %llu but epoch %llu took over: it was "
                 "replaced; trying the next master", sl_conn_peer(c),
                 (unsigned long long)reply->master_epoch, (unsigned long long)w->master_epoch);
            sl_conn_close(c);
        return;
    }
    w->master_epoch = reply->master_epoch;
    uint64_t iv = reply->register_worker_reply->heartbeat_interval_ms;
    w->heartbeat_ms = iv < 10 ? 10 : iv;
    w->link = SL_LINK_REGISTERED;
    w->backoff_ms = SL_BACKOFF_MIN_MS;
    struct timeval tv = sl_time_tv(w->heartbeat_ms);
    evtimer_del(w->heartbeat_timer);
    event_add(w->heartbeat_timer, &tv);
    sl_info("worker", "registered with master %s as %s (heartbeat every %llu ms, master epoch %llu)",
            sl_conn_peer(c), w->id, (unsigned long long)w->heartbeat_ms,
            (unsigned long long)w->master_epoch);
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
    sl_worker_dispatch(arg, c, SL_FROM_MASTER, env, payload, len);
}

static void sl_worker_master_closed(sl_conn_t *c, sl_status_t why, const char *msg, void *arg)
{
    sl_worker_t *w = arg;
    sl_receivers_conn_closed(w, c);
    if (c != w->master)
        return;
    /* Without the master our receivers are presumed dead and get moved: stop
     * them, so nothing is acked that the master will not count. */
    sl_receivers_stop(w, NULL);
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
    else if (why == SL_ERR_UNAVAILABLE)
        sl_info("worker", "master %s: %s", sl_conn_peer(c), msg);
    else if (why != SL_OK)
        sl_info("worker", "cannot reach master %s: %s", sl_conn_peer(c), msg);
    /* A standby answers at once and takes over soon: keep asking briskly. */
    if (why == SL_ERR_UNAVAILABLE)
        w->backoff_ms = SL_BACKOFF_MIN_MS;
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
    w->master_serial++;
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
    sl_worker_dispatch(arg, c, SL_FROM_PEER, env, payload, len);
}

static void sl_worker_peer_closed(sl_conn_t *c, sl_status_t why, const char *msg, void *arg)
{
    sl_worker_t *w = arg;
    sl_receivers_conn_closed(w, c);
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
    w->address = opts->advertise ? opts->advertise : opts->listen;
    w->backoff_ms = SL_BACKOFF_MIN_MS;
    pthread_mutex_init(&w->post_lock, NULL);
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
    w->replicator = sl_executor_new(1);
    w->store = sl_store_new();
    w->jobs = sl_hmap_new(16);
    w->repl_conns = sl_hmap_new(16);
    w->fences = sl_hmap_new(16);
    w->repl_down = sl_hmap_new(16);
    w->post_ev = event_new(w->base, -1, 0, sl_worker_run_posts, w);
    if (!w->reconnect_timer || !w->heartbeat_timer || !w->executor || !w->replicator ||
        !w->store || !w->jobs || !w->repl_conns || !w->fences || !w->repl_down || !w->post_ev) {
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
    /* Threads first: their results are posted and dropped below. */
    sl_executor_free(w->executor);
    sl_executor_free(w->replicator);
    if (w->post_ev)
        sl_worker_run_posts(-1, 0, w);
    sl_receivers_stop(w, NULL);
    free(w->receivers);
    sl_conn_free(w->master);
    w->master = NULL;
    for (size_t i = 0; i < w->npeers; i++)
        sl_conn_free(w->peers[i]);
    free(w->peers);
    size_t pos = 0, klen;
    const void *k;
    void *v;
    while (w->jobs && sl_hmap_next(w->jobs, &pos, &k, &klen, &v))
        sl_jobrt_unref(v);
    sl_hmap_free(w->jobs);
    pos = 0;
    while (w->repl_conns && sl_hmap_next(w->repl_conns, &pos, &k, &klen, &v))
        sl_sync_close(v);
    sl_hmap_free(w->repl_conns);
    sl_hmap_free(w->fences);
    sl_hmap_free(w->repl_down);
    sl_store_free(w->store);
    if (w->post_ev)
        event_free(w->post_ev);
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
    pthread_mutex_destroy(&w->post_lock);
    free(w);
}
