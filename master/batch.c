/* The master's job engine, part three: a batch from its cut to its end. The
 * oldest batch of a job runs (batches complete in order; later ones queue);
 * its pipelines start when their parents are done; each task goes to the
 * worker holding its input where it can, within that worker's free cores. A
 * failed task is retried elsewhere (up to SL_MAX_ATTEMPTS); lost data (a dead
 * worker, a failed fetch) re-runs the whole batch, which is safe because
 * outputs are idempotent per batch. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "engine-internal.h"
#include "log.h"
#include "output.h"
#include "timeutil.h"

#define SL_TASK_TIMEOUT_MS (10 * 60 * 1000)

typedef struct {
    sl_engine_t *e;
    char job[65];
    uint64_t generation;
    int64_t batch;
    uint32_t attempt;
    uint32_t task;
    char worker[262];
} sl_task_ctx_t;

/* --- construction ----------------------------------------------------------------- */

static uint32_t sl_node_inputs(const sl_mjob_t *j, uint32_t node)
{
    return (uint32_t)j->spec->nodes[node]->n_inputs;
}

static uint32_t sl_input_parts(const sl_mjob_t *j, uint32_t node, uint32_t slot)
{
    return j->plan->nodes[j->spec->nodes[node]->inputs[slot]].nparts;
}

sl_mbatch_t *sl_batch_new(sl_mjob_t *j, int64_t time)
{
    sl_mbatch_t *b = calloc(1, sizeof *b);
    if (!b)
        return NULL;
    b->time = time;
    b->state = SLUICE__BATCH_STATE__BATCH_QUEUED;
    b->attempt = 1;
    b->created_wall = sl_time_wall_ms();
    const sl_plan_t *p = j->plan;
    size_t nshuf = 0, ncoll = 0;
    b->shuffle_base = calloc((size_t)p->nnodes * 2 + 1, sizeof *b->shuffle_base);
    b->collected_base = calloc(j->spec->n_outputs + 1, sizeof *b->collected_base);
    if (!b->shuffle_base || !b->collected_base)
        goto fail;
    for (uint32_t n = 0; n < p->nnodes; n++) {
        if (!p->nodes[n].wide)
            continue;
        for (uint32_t k = 0; k < sl_node_inputs(j, n); k++) {
            b->shuffle_base[n * 2 + k] = nshuf;
            nshuf += sl_input_parts(j, n, k);
        }
    }
    for (size_t o = 0; o < j->spec->n_outputs; o++) {
        b->collected_base[o] = ncoll;
        ncoll += p->nodes[j->spec->outputs[o]->input].nparts;
    }
    b->tasks = calloc(p->ntasks + 1, sizeof *b->tasks);
    b->pipeline_started = calloc(p->npipelines + 1, sizeof *b->pipeline_started);
    b->shuffle_loc = calloc(nshuf + 1, sizeof *b->shuffle_loc);
    b->collected = calloc(ncoll + 1, sizeof *b->collected);
    b->cut_done = calloc(j->nreceivers + 1, sizeof *b->cut_done);
    b->cut_epoch = calloc(j->nreceivers + 1, sizeof *b->cut_epoch);
    b->cut_seq = calloc(j->nreceivers + 1, sizeof *b->cut_seq);
    if (!b->tasks || !b->pipeline_started || !b->shuffle_loc || !b->collected || !b->cut_done ||
        !b->cut_epoch || !b->cut_seq)
        goto fail;
    uint32_t t = 0;
    for (uint32_t pl = 0; pl < p->npipelines; pl++)
        for (uint32_t part = 0; part < p->pipelines[pl].ntasks; part++, t++) {
            b->tasks[t].pipeline = pl;
            b->tasks[t].partition = part;
        }
    /* The sizes the free functions need. */
    b->nshuffle_loc = nshuf;
    b->ncollected = ncoll;
    return b;
fail:
    sl_batch_free(b);
    return NULL;
}

/* Forgets what an attempt produced (shuffle locations, collected outputs). */
static void sl_batch_clear_results(sl_mbatch_t *b)
{
    for (size_t i = 0; b->shuffle_loc && i < b->nshuffle_loc; i++) {
        free(b->shuffle_loc[i]);
        b->shuffle_loc[i] = NULL;
    }
    for (size_t i = 0; b->collected && i < b->ncollected; i++) {
        free(b->collected[i].data);
        memset(&b->collected[i], 0, sizeof b->collected[i]);
    }
}

void sl_batch_free(sl_mbatch_t *b)
{
    if (!b)
        return;
    sl_batch_clear_results(b);
    for (size_t i = 0; i < b->nblocks; i++)
        sluice__block_info__free_unpacked(b->blocks[i], NULL);
    free(b->blocks);
    free(b->block_streams);
    free(b->cut_done);
    free(b->cut_epoch);
    free(b->cut_seq);
    free(b->closing);
    free(b->tasks);
    free(b->pipeline_started);
    free(b->shuffle_loc);
    free(b->shuffle_base);
    free(b->collected);
    free(b->collected_base);
    free(b);
}

sl_status_t sl_batch_add_blocks(sl_mbatch_t *b, sl_mreceiver_t *r, Sluice__BlockInfo **blocks,
                                size_t n)
{
    if (b->nblocks + n > b->capblocks) {
        size_t cap = b->capblocks ? b->capblocks : 16;
        while (cap < b->nblocks + n)
            cap *= 2;
        Sluice__BlockInfo **nb = realloc(b->blocks, cap * sizeof *nb);
        if (!nb)
            return SL_ERR_NOMEM;
        b->blocks = nb;
        char **ns = realloc(b->block_streams, cap * sizeof *ns);
        if (!ns)
            return SL_ERR_NOMEM;
        b->block_streams = ns;
        b->capblocks = cap;
    }
    for (size_t i = 0; i < n; i++) {
        Sluice__BlockInfo *copy = sl_msg_clone(blocks[i]);
        if (!copy)
            return SL_ERR_NOMEM;
        b->blocks[b->nblocks] = copy;
        b->block_streams[b->nblocks++] = (char *)r->stream;
        b->input_records += copy->records;
    }
    return SL_OK;
}

Sluice__BatchInfo *sl_batch_info_new(const sl_mbatch_t *b, uint32_t ntasks)
{
    Sluice__BatchInfo *bi = malloc(sizeof *bi);
    if (!bi)
        return NULL;
    sluice__batch_info__init(bi);
    bi->time_ms = b->time;
    bi->state = b->state;
    bi->input_records = b->input_records;
    /* Under the manual clock batch times are not wall times: delays count
     * from when the batch was created (the tick). */
    uint64_t origin = b->created_wall;
    if (b->started_wall)
        bi->scheduling_delay_ms = b->started_wall - origin;
    if (b->ended_wall) {
        bi->processing_ms = b->ended_wall - b->started_wall;
        bi->total_delay_ms = b->ended_wall - origin;
    }
    bi->tasks = ntasks;
    bi->failed_tasks = b->failed_tasks;
    bi->attempts = b->attempt;
    bi->error = strdup(b->error);
    if (!bi->error) {
        free(bi);
        return NULL;
    }
    return bi;
}

/* --- the end of a batch ------------------------------------------------------------ */

static void sl_log_ack(sl_conn_t *c, sl_status_t st, const sl_envelope_t *reply,
                       const uint8_t *payload, size_t len, const char *msg, void *arg)
{
    if (st != SL_OK)
        sl_debug("batch", "cleanup on worker %s failed: %s", sl_conn_peer_name(c), msg);
}

/* Tells workers to drop the batch's shuffle data and input blocks. */
static void sl_batch_release(sl_mjob_t *j, sl_mbatch_t *b)
{
    sl_worker_view_t ws[SL_MAX_WORKERS];
    size_t n = sl_cluster_alive(j->engine->opts.cluster, ws, SL_MAX_WORKERS);
    uint64_t *ids = calloc(b->nblocks + 1, sizeof *ids);
    for (size_t i = 0; i < n; i++) {
        Sluice__Envelope env = SLUICE__ENVELOPE__INIT;
        Sluice__DropBatch d = SLUICE__DROP_BATCH__INIT;
        d.job_id = j->id;
        d.batch_time_ms = b->time;
        env.body_case = SLUICE__ENVELOPE__BODY_DROP_BATCH;
        env.drop_batch = &d;
        sl_conn_request(ws[i].conn, &env, NULL, 0, 30000, sl_log_ack, NULL);
        for (uint32_t ri = 0; ids && ri < j->nreceivers; ri++) {
            size_t nid = 0;
            for (size_t k = 0; k < b->nblocks; k++) {
                if (b->block_streams[k] != j->receivers[ri].stream)
                    continue;
                for (size_t l = 0; l < b->blocks[k]->n_locations; l++)
                    if (strcmp(b->blocks[k]->locations[l], ws[i].address) == 0)
                        ids[nid++] = b->blocks[k]->id;
            }
            if (!nid)
                continue;
            Sluice__Envelope e2 = SLUICE__ENVELOPE__INIT;
            Sluice__DropBlocks db = SLUICE__DROP_BLOCKS__INIT;
            db.job_id = j->id;
            db.stream = (char *)j->receivers[ri].stream;
            db.ids = ids;
            db.n_ids = nid;
            e2.body_case = SLUICE__ENVELOPE__BODY_DROP_BLOCKS;
            e2.drop_blocks = &db;
            sl_conn_request(ws[i].conn, &e2, NULL, 0, 30000, sl_log_ack, NULL);
        }
    }
    free(ids);
}

/* Moves the (oldest) batch into the history, done or failed. */
static void sl_batch_finish(sl_mjob_t *j, sl_mbatch_t *b, const char *failure)
{
    SL_CHECK(j->batches == b);
    if (!failure && sl_output_deliver(j, b, b->error) != SL_OK)
        failure = b->error;
    if (failure) {
        if (failure != b->error)
            snprintf(b->error, sizeof b->error, "%s", failure);
        b->state = SLUICE__BATCH_STATE__BATCH_FAILED;
        sl_error("batch", "job %s: batch %lld failed: %s", j->id, (long long)b->time, b->error);
    } else {
        b->state = SLUICE__BATCH_STATE__BATCH_DONE;
        j->batches_done++;
    }
    b->ended_wall = sl_time_wall_ms();
    if (!b->started_wall)
        b->started_wall = b->ended_wall;
    Sluice__BatchInfo *bi = sl_batch_info_new(b, j->plan->ntasks);
    if (bi) {
        if (j->nhistory == SL_BATCH_HISTORY) {
            sluice__batch_info__free_unpacked(j->history[0], NULL);
            memmove(j->history, j->history + 1, (j->nhistory - 1) * sizeof *j->history);
            j->nhistory--;
        }
        Sluice__BatchInfo **nh = realloc(j->history, (j->nhistory + 1) * sizeof *nh);
        if (nh) {
            j->history = nh;
            j->history[j->nhistory++] = bi;
        } else {
            sluice__batch_info__free_unpacked(bi, NULL);
        }
    }
    sl_debug("batch", "job %s: batch %lld %s: %llu records, %llu ms", j->id, (long long)b->time,
             failure ? "failed" : "done", (unsigned long long)b->input_records,
             (unsigned long long)(b->ended_wall - b->started_wall));
    sl_persist_batch_finish(j, b);
    sl_batch_release(j, b);
    j->batches = b->next;
    sl_batch_free(b);
    sl_job_reply_waiters(j);
    if (j->draining)
        sl_job_drain_step(j);
}

/* Lost data: run the whole batch again, up to the attempt limit. */
static void sl_batch_restart(sl_mjob_t *j, sl_mbatch_t *b, const char *why)
{
    if (b->attempt >= SL_MAX_ATTEMPTS) {
        char msg[SL_ERRMSG_LEN];
        snprintf(msg, sizeof msg, "gave up after %u attempts: %.200s", b->attempt, why);
        sl_batch_finish(j, b, msg);
        return;
    }
    b->attempt++;
    sl_warn("batch", "job %s: batch %lld runs again (attempt %u): %s", j->id, (long long)b->time,
            b->attempt, why);
    sl_batch_clear_results(b);
    for (uint32_t t = 0; t < j->plan->ntasks; t++) {
        b->tasks[t].state = SL_TASK_IDLE;
        b->tasks[t].worker[0] = 0;
    }
    memset(b->pipeline_started, 0, j->plan->npipelines * sizeof *b->pipeline_started);
}

/* --- task results ---------------------------------------------------------------------- */

static sl_status_t sl_batch_record(sl_mjob_t *j, sl_mbatch_t *b, const char *worker,
                                   const Sluice__TaskResult *r, const uint8_t *payload, size_t len)
{
    for (size_t i = 0; i < r->n_shuffle_outputs; i++) {
        const Sluice__ShuffleOutputInfo *so = r->shuffle_outputs[i];
        if (so->node >= j->plan->nnodes || !j->plan->nodes[so->node].wide || so->slot > 1 ||
            so->slot >= sl_node_inputs(j, so->node) ||
            so->map_part >= sl_input_parts(j, so->node, so->slot))
            return SL_ERR_PROTOCOL;
        char **loc = &b->shuffle_loc[b->shuffle_base[so->node * 2 + so->slot] + so->map_part];
        free(*loc);
        if (!(*loc = strdup(worker)))
            return SL_ERR_NOMEM;
    }
    for (size_t i = 0; i < r->n_collected; i++) {
        const Sluice__CollectedOutput *co = r->collected[i];
        if (co->output >= j->spec->n_outputs ||
            co->node_part >= j->plan->nodes[j->spec->outputs[co->output]->input].nparts ||
            co->offset > len || co->length > len - co->offset)
            return SL_ERR_PROTOCOL;
        sl_collected_t *slot = &b->collected[b->collected_base[co->output] + co->node_part];
        free(slot->data);
        slot->data = malloc(co->length ? co->length : 1);
        if (!slot->data)
            return SL_ERR_NOMEM;
        memcpy(slot->data, payload + co->offset, co->length);
        slot->len = co->length;
        slot->total = co->total_records;
        slot->present = true;
    }
    return SL_OK;
}

static bool sl_status_is_loss(sl_status_t st)
{
    return st == SL_ERR_CLOSED || st == SL_ERR_UNAVAILABLE || st == SL_ERR_TIMEOUT;
}

static void sl_task_reply(sl_conn_t *c, sl_status_t st, const sl_envelope_t *reply,
                          const uint8_t *payload, size_t len, const char *msg, void *arg)
{
    sl_task_ctx_t *x = arg;
    sl_engine_t *e = x->e;
    sl_engine_busy_add(e, x->worker, -1);
    sl_mjob_t *j = sl_engine_job(e, x->job);
    sl_mbatch_t *b = j && j->generation == x->generation ? j->batches : NULL;
    if (!b || b->time != x->batch || b->attempt != x->attempt ||
        b->tasks[x->task].state != SL_TASK_RUNNING) {
        free(x);   /* a stale answer: that attempt is over */
        sl_engine_kick(e);
        return;
    }
    sl_mtask_t *t = &b->tasks[x->task];
    const Sluice__TaskResult *r =
        st == SL_OK && reply->body_case == SLUICE__ENVELOPE__BODY_TASK_RESULT ? reply->task_result : NULL;
    if (st == SL_OK && !r) {
        st = SL_ERR_PROTOCOL;
        msg = "unexpected reply to run_task";
    }
    char why[SL_ERRMSG_LEN];
    if (r && r->fetch_failed) {
        snprintf(why, sizeof why, "task %u.%u on %.64s could not read its input from %.64s",
                 t->pipeline, t->partition, x->worker, r->failed_address);
        sl_batch_restart(j, b, why);
    } else if (r) {
        sl_status_t rs = sl_batch_record(j, b, x->worker, r, payload, len);
        if (rs != SL_OK) {
            snprintf(why, sizeof why, "task %u.%u on %.64s sent a bad result: %s", t->pipeline,
                     t->partition, x->worker, sl_strerror(rs));
            sl_batch_finish(j, b, why);
        } else {
            t->state = SL_TASK_DONE;
        }
    } else if (sl_status_is_loss(st)) {
        snprintf(why, sizeof why, "worker %.64s went away running task %u.%u: %.120s", x->worker,
                 t->pipeline, t->partition, msg);
        sl_batch_restart(j, b, why);
    } else {
        b->failed_tasks++;
        snprintf(t->last_error, sizeof t->last_error, "%s", msg);
        if (++t->attempts >= SL_MAX_ATTEMPTS) {
            snprintf(why, sizeof why, "task %u.%u failed %u times, last on %.64s: %.120s",
                     t->pipeline, t->partition, t->attempts, x->worker, msg);
            sl_batch_finish(j, b, why);
        } else {
            sl_warn("batch", "job %s: task %u.%u of batch %lld failed on %s (attempt %u): %s",
                    j->id, t->pipeline, t->partition, (long long)b->time, x->worker, t->attempts, msg);
            t->state = SL_TASK_IDLE;
        }
    }
    free(x);
    sl_engine_kick(e);
}

/* --- dispatch --------------------------------------------------------------------------- */

/* Blocks of the receiver feeding `node`, partition `part`, as task input. */
static size_t sl_batch_task_blocks(const sl_mjob_t *j, const sl_mbatch_t *b, uint32_t node,
                                   uint32_t part, Sluice__BlockRef *refs, Sluice__BlockRef **ptrs)
{
    const char *stream = j->spec->nodes[node]->source;
    size_t n = 0;
    for (size_t i = 0; i < b->nblocks; i++) {
        if (b->blocks[i]->partition != part || strcmp(b->block_streams[i], stream) != 0)
            continue;
        sluice__block_ref__init(&refs[n]);
        refs[n].id = b->blocks[i]->id;
        refs[n].stream = (char *)stream;
        refs[n].locations = b->blocks[i]->locations;
        refs[n].n_locations = b->blocks[i]->n_locations;
        ptrs[n] = &refs[n];
        n++;
    }
    return n;
}

/* The worker for a task: live, with a free core; preferring the one holding
 * most of its input blocks, and not the one it just failed on. */
static bool sl_batch_pick(sl_engine_t *e, const sl_mjob_t *j, const sl_mtask_t *t,
                          Sluice__BlockRef **refs, size_t nrefs, sl_worker_view_t *out)
{
    sl_worker_view_t ws[SL_MAX_WORKERS];
    size_t n = sl_cluster_alive(e->opts.cluster, ws, SL_MAX_WORKERS);
    int best = -1;
    int64_t best_score = -1;
    for (size_t i = 0; i < n; i++) {
        int64_t free_cores = (int64_t)ws[i].cores - sl_engine_receivers_on(e, ws[i].address) -
                             (int64_t)sl_engine_busy(e, ws[i].address);
        if (free_cores <= 0 || sl_hmap_get(j->undeployed, ws[i].address, strlen(ws[i].address)))
            continue;
        int64_t local = 0;
        for (size_t k = 0; k < nrefs; k++)
            for (size_t l = 0; l < refs[k]->n_locations; l++)
                local += strcmp(refs[k]->locations[l], ws[i].address) == 0;
        int64_t score = local * 1000 + free_cores * 10 +
                        (t->attempts && strcmp(t->worker, ws[i].address) == 0 ? 0 : 5);
        if (score > best_score) {
            best_score = score;
            best = (int)i;
        }
    }
    if (best < 0)
        return false;
    *out = ws[best];
    return true;
}

static bool sl_batch_dispatch(sl_engine_t *e, sl_mjob_t *j, sl_mbatch_t *b, uint32_t ti)
{
    sl_mtask_t *t = &b->tasks[ti];
    const sl_plan_pipeline_t *pl = &j->plan->pipelines[t->pipeline];
    uint32_t root = pl->root;
    bool ok = false;
    size_t nb = b->nblocks, nmaps = 0;
    Sluice__BlockRef *refs = calloc(nb + 1, sizeof *refs);
    Sluice__BlockRef **ptrs = calloc(nb + 1, sizeof *ptrs);
    Sluice__ShuffleInput ins[2], *inptrs[2];
    uint32_t nin = j->plan->nodes[root].wide ? sl_node_inputs(j, root) : 0;
    for (uint32_t k = 0; k < nin; k++)
        nmaps += sl_input_parts(j, root, k);
    Sluice__MapOutputRef *maps = calloc(nmaps + 1, sizeof *maps);
    Sluice__MapOutputRef **mptrs = calloc(nmaps + 1, sizeof *mptrs);
    sl_task_ctx_t *x = calloc(1, sizeof *x);
    if (!refs || !ptrs || !maps || !mptrs || !x)
        goto done;
    Sluice__RunTask rt = SLUICE__RUN_TASK__INIT;
    rt.job_id = j->id;
    rt.batch_time_ms = b->time;
    rt.attempt = b->attempt;
    rt.pipeline = t->pipeline;
    rt.partition = t->partition;
    if (!j->plan->nodes[root].wide) {
        nb = sl_batch_task_blocks(j, b, root, t->partition, refs, ptrs);
        rt.blocks = ptrs;
        rt.n_blocks = nb;
    } else {
        size_t m = 0;
        for (uint32_t k = 0; k < nin; k++) {
            sluice__shuffle_input__init(&ins[k]);
            ins[k].slot = k;
            ins[k].maps = &mptrs[m];
            for (uint32_t q = 0; q < sl_input_parts(j, root, k); q++, m++) {
                const char *loc = b->shuffle_loc[b->shuffle_base[root * 2 + k] + q];
                if (!loc) {
                    /* Every parent task said it was done, yet one output is
                     * unaccounted for: a worker's result was incomplete. */
                    char why[SL_ERRMSG_LEN];
                    snprintf(why, sizeof why, "no location for shuffle output %u/%u/%u", root, k, q);
                    sl_batch_restart(j, b, why);
                    goto done;
                }
                sluice__map_output_ref__init(&maps[m]);
                maps[m].map_part = q;
                maps[m].address = (char *)loc;
                mptrs[m] = &maps[m];
            }
            ins[k].n_maps = sl_input_parts(j, root, k);
            inptrs[k] = &ins[k];
        }
        rt.shuffles = inptrs;
        rt.n_shuffles = nin;
        nb = 0;
    }
    sl_worker_view_t w;
    if (!sl_batch_pick(e, j, t, ptrs, nb, &w))
        goto done;
    Sluice__Envelope env = SLUICE__ENVELOPE__INIT;
    env.body_case = SLUICE__ENVELOPE__BODY_RUN_TASK;
    env.run_task = &rt;
    x->e = e;
    snprintf(x->job, sizeof x->job, "%s", j->id);
    x->generation = j->generation;
    x->batch = b->time;
    x->attempt = b->attempt;
    x->task = ti;
    snprintf(x->worker, sizeof x->worker, "%s", w.address);
    if (sl_conn_request(w.conn, &env, NULL, 0, SL_TASK_TIMEOUT_MS, sl_task_reply, x) != SL_OK)
        goto done;
    x = NULL;
    t->state = SL_TASK_RUNNING;
    snprintf(t->worker, sizeof t->worker, "%s", w.address);
    sl_engine_busy_add(e, w.address, 1);
    ok = true;
done:
    free(x);
    free(refs);
    free(ptrs);
    free(maps);
    free(mptrs);
    return ok;
}

static bool sl_pipeline_done(const sl_mjob_t *j, const sl_mbatch_t *b, uint32_t pl)
{
    uint32_t first = 0;
    for (uint32_t p = 0; p < pl; p++)
        first += j->plan->pipelines[p].ntasks;
    for (uint32_t t = 0; t < j->plan->pipelines[pl].ntasks; t++)
        if (b->tasks[first + t].state != SL_TASK_DONE)
            return false;
    return b->pipeline_started[pl];
}

/* Runs what can run of a job's oldest batch; false when no core was free. */
static bool sl_batch_step(sl_engine_t *e, sl_mjob_t *j)
{
    sl_mbatch_t *b = j->batches;
    if (!b || !sl_job_may_run(j))
        return true;
    for (uint32_t ri = 0; ri < j->nreceivers; ri++)
        if (!b->cut_done[ri])
            return true;   /* inputs still being collected */
    /* The allocation is durable before anything runs. */
    if (!b->persisted && sl_persist_batch(j, b) != SL_OK)
        return true;
    if (b->state == SLUICE__BATCH_STATE__BATCH_QUEUED) {
        for (size_t i = 0; i < b->nblocks; i++) {
            if (b->blocks[i]->n_locations == 0) {
                char why[SL_ERRMSG_LEN];
                snprintf(why, sizeof why, "input block %llx of '%s' was lost with its only worker",
                         (unsigned long long)b->blocks[i]->id, b->block_streams[i]);
                sl_batch_finish(j, b, why);
                return true;
            }
        }
        b->state = SLUICE__BATCH_STATE__BATCH_RUNNING;
        b->started_wall = sl_time_wall_ms();
    }
    bool all_done = true;
    for (uint32_t pl = 0; pl < j->plan->npipelines; pl++) {
        if (!b->pipeline_started[pl]) {
            bool ready = true;
            for (uint32_t d = 0; d < j->plan->pipelines[pl].ndeps && ready; d++)
                ready = sl_pipeline_done(j, b, j->plan->pipelines[pl].deps[d]);
            b->pipeline_started[pl] = ready;
        }
        all_done &= sl_pipeline_done(j, b, pl);
    }
    if (all_done) {
        sl_batch_finish(j, b, NULL);
        return true;
    }
    for (uint32_t t = 0; t < j->plan->ntasks; t++) {
        sl_mtask_t *task = &b->tasks[t];
        if (task->state != SL_TASK_IDLE || !b->pipeline_started[task->pipeline])
            continue;
        if (!sl_batch_dispatch(e, j, b, t))
            return false;
    }
    return true;
}

void sl_batch_schedule(sl_engine_t *e)
{
    size_t pos = 0, klen;
    const void *k;
    void *v;
    while (sl_hmap_next(e->jobs, &pos, &k, &klen, &v)) {
        sl_mjob_t *j = v;
        if (j->state != SLUICE__JOB_STATE__JOB_RUNNING || !j->admitted)
            continue;
        /* Finishing a batch may let the next one start at once. */
        for (int guard = 0; guard < 64; guard++) {
            sl_mbatch_t *before = j->batches;
            if (!sl_batch_step(e, j) || j->batches == before)
                break;
        }
    }
}

void sl_batch_worker_lost(sl_mjob_t *j, const char *address)
{
    for (sl_mbatch_t *b = j->batches; b; b = b->next) {
        for (size_t i = 0; i < b->nblocks; i++) {
            Sluice__BlockInfo *bi = b->blocks[i];
            size_t k = 0;
            for (size_t l = 0; l < bi->n_locations; l++) {
                if (strcmp(bi->locations[l], address) == 0)
                    free(bi->locations[l]);
                else
                    bi->locations[k++] = bi->locations[l];
            }
            bi->n_locations = k;
        }
    }
    sl_mbatch_t *b = j->batches;
    if (!b || b->state != SLUICE__BATCH_STATE__BATCH_RUNNING)
        return;
    for (uint32_t t = 0; t < j->plan->ntasks; t++) {
        if (b->tasks[t].state != SL_TASK_IDLE && strcmp(b->tasks[t].worker, address) == 0) {
            char why[SL_ERRMSG_LEN];
            snprintf(why, sizeof why, "worker %.64s was lost with task output of this batch", address);
            sl_batch_restart(j, b, why);
            return;
        }
    }
}
