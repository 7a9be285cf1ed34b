/* The master's job engine, part two: receivers and cuts. Places each push
 * stream's receiver on a worker with a free core, moves it when its worker
 * dies (first collecting the acked blocks its replicas hold, and the producer
 * sequences inside them), and cuts every batch from every receiver in order,
 * taking only blocks above what the receiver's epoch already gave. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "block.h"
#include "engine-internal.h"
#include "log.h"
#include "timeutil.h"


/* --- receivers ---------------------------------------------------------------------------- */

/* The live worker with the most free cores that can host one more receiver
 * and still leave the cluster a core for tasks; NULL when none. */
static bool sl_pick_receiver_worker(sl_engine_t *e, uint32_t extra, sl_worker_view_t *out)
{
    sl_worker_view_t ws[SL_MAX_WORKERS];
    size_t n = sl_cluster_alive(e->opts.cluster, ws, SL_MAX_WORKERS);
    uint64_t total = 0, held = extra;
    int best = -1;
    int64_t best_free = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t rc = sl_engine_receivers_on(e, ws[i].address);
        total += ws[i].cores;
        held += rc;
        int64_t free_cores = (int64_t)ws[i].cores - rc;
        if (free_cores > best_free) {
            best_free = free_cores;
            best = (int)i;
        }
    }
    /* The new receiver's core, and one left for tasks. */
    if (best < 0 || held + 2 > total)
        return false;
    *out = ws[best];
    return true;
}

static void sl_start_receiver_reply(sl_conn_t *c, sl_status_t st, const sl_envelope_t *reply,
                                    const uint8_t *payload, size_t len, const char *msg, void *arg);

typedef struct {
    Sluice__ProducerSeq *ps;
    Sluice__ProducerSeq **pp;
    size_t n;
} sl_pseq_export_t;

static void sl_pseq_export(void *arg, uint64_t producer, uint64_t seq, bool upto)
{
    sl_pseq_export_t *ex = arg;
    Sluice__ProducerSeq *p = &ex->ps[ex->n];
    sluice__producer_seq__init(p);
    p->producer = producer;
    p->seq = seq;
    p->upto = upto;
    ex->pp[ex->n++] = p;
}

size_t sl_producers_export(const sl_seqset_t *s, Sluice__ProducerSeq *ps, Sluice__ProducerSeq **pp)
{
    sl_pseq_export_t ex = { ps, pp, 0 };
    sl_seqset_each(s, sl_pseq_export, &ex);
    return ex.n;
}

/* Records the pushes inside a block as stored. */
static void sl_note_block_pushes(sl_mreceiver_t *r, const Sluice__BlockInfo *bi)
{
    for (size_t p = 0; p < bi->n_producers; p++)
        sl_seqset_put(r->producers, bi->producers[p]->producer, bi->producers[p]->seq,
                      bi->producers[p]->upto);
}

/* Starts receiver ri on worker w in a new epoch, or (refresh) tells the
 * running one the current replica peers. */
void sl_receiver_start(sl_mjob_t *j, uint32_t ri, const sl_worker_view_t *w, bool refresh)
{
    sl_mreceiver_t *r = &j->receivers[ri];
    sl_engine_t *e = j->engine;
    if (!refresh) {
        uint32_t epoch;
        if (sl_persist_epoch(j, ri, &epoch) != SL_OK) {
            r->worker[0] = 0;
            struct timeval tv = sl_time_tv(1000);
            evtimer_add(j->cut_retry, &tv);   /* places it again */
            return;
        }
        snprintf(r->worker, sizeof r->worker, "%s", w->address);
        snprintf(r->worker_id, sizeof r->worker_id, "%s", w->id);
        r->epoch = epoch;
        r->reported_seq = 0;
        r->done_seq = 0;
        r->last_cut = false;
        r->ready = false;
    }
    sl_worker_view_t ws[SL_MAX_WORKERS];
    size_t n = sl_cluster_alive(e->opts.cluster, ws, SL_MAX_WORKERS);
    char *peers[SL_MAX_WORKERS];
    size_t np = 0;
    for (size_t i = 0; i < n; i++)
        if (strcmp(ws[i].address, w->address) != 0)
            peers[np++] = (char *)ws[i].address;
    size_t nprod = sl_seqset_entries(r->producers);
    Sluice__ProducerSeq *ps = calloc(nprod + 1, sizeof *ps), **pp = calloc(nprod + 1, sizeof *pp);
    size_t k = ps && pp ? sl_producers_export(r->producers, ps, pp) : 0;
    Sluice__Envelope env = SLUICE__ENVELOPE__INIT;
    Sluice__StartReceiver s = SLUICE__START_RECEIVER__INIT;
    s.job_id = j->id;
    s.stream = (char *)r->stream;
    s.partitions = r->partitions;
    /* Default block interval: 200 ms, or the batch interval when shorter. */
    s.block_ms = j->spec->block_ms ? j->spec->block_ms
                                   : (j->spec->batch_ms < 200 ? j->spec->batch_ms : 200);
    s.epoch = r->epoch;
    s.replica_peers = peers;
    s.n_replica_peers = np;
    s.producers = pp;
    s.n_producers = k;
    s.wal_root = j->wal ? (char *)e->opts.wal_root : (char *)"";
    env.body_case = SLUICE__ENVELOPE__BODY_START_RECEIVER;
    env.start_receiver = &s;
    if (refresh) {
        sl_conn_request(w->conn, &env, NULL, 0, SL_SETUP_TIMEOUT_MS, sl_log_reply, "start_receiver");
        free(ps);
        free(pp);
        return;
    }
    sl_req_ctx_t *x = sl_ctx_new(j, ri);
    if (!j->admitted)
        j->pending_setup++;
    if (!x || sl_conn_request(w->conn, &env, NULL, 0, SL_SETUP_TIMEOUT_MS,
                              sl_start_receiver_reply, x) != SL_OK) {
        free(x);
        if (!j->admitted)
            j->pending_setup--;
        r->worker[0] = 0;
    }
    free(ps);
    free(pp);
}

void sl_receiver_place(sl_mjob_t *j, uint32_t ri)
{
    sl_worker_view_t w;
    if (!sl_pick_receiver_worker(j->engine, 0, &w)) {
        j->receivers[ri].worker[0] = 0;
        sl_warn("engine", "job %s: no worker can host the receiver of '%s' now; waiting for one",
                j->id, j->receivers[ri].stream);
        return;
    }
    sl_receiver_start(j, ri, &w, false);
}

static void sl_start_receiver_reply(sl_conn_t *c, sl_status_t st, const sl_envelope_t *reply,
                                    const uint8_t *payload, size_t len, const char *msg, void *arg)
{
    sl_req_ctx_t *x = arg;
    sl_mjob_t *j = sl_ctx_job(x);
    uint32_t ri = x->receiver, epoch = x->epoch;
    free(x);
    if (!j || ri >= j->nreceivers || j->receivers[ri].epoch != epoch ||
        j->state != SLUICE__JOB_STATE__JOB_RUNNING)
        return;
    sl_mreceiver_t *r = &j->receivers[ri];
    if (st != SL_OK) {
        char why[SL_ERRMSG_LEN];
        snprintf(why, sizeof why, "cannot start the receiver of '%.64s' on %.64s: %.80s",
                 r->stream, r->worker, msg);
        if (!j->admitted) {
            sl_job_setup_failed(j, st, why);
            return;
        }
        sl_warn("engine", "job %s: %s; placing it elsewhere", j->id, why);
        /* It may have started after all: its epoch is collected like a dead one. */
        sl_receiver_move(j, ri, r->epoch);
        return;
    }
    r->ready = true;
    r->moving = false;
    sl_info("engine", "job %s: receiver '%s' on %s (epoch %u)", j->id, r->stream, r->worker,
            r->epoch);
    if (!j->admitted)
        sl_job_setup_step(j);
    sl_job_advance_cuts(j);
}

/* Collecting a receiver's dead epochs: every live worker lists the blocks
 * of each epoch it holds (one of them reads the epoch's write-ahead log back
 * first). A block of an unfinished batch gets its holders as locations; a
 * block above what the epoch had allocated is an orphan, taken by the next
 * batch together with the pushes inside it. Then the receiver is placed. */
typedef struct {
    sl_req_ctx_t base;
    uint32_t pending;
} sl_collect_ctx_t;

typedef struct {
    sl_collect_ctx_t *shared;
    sl_dead_epoch_t dead;
} sl_collect_req_t;

/* Adds `holder` to a block's locations unless it is there. */
static void sl_add_location(Sluice__BlockInfo *bi, const char *holder)
{
    for (size_t l = 0; l < bi->n_locations; l++)
        if (strcmp(bi->locations[l], holder) == 0)
            return;
    char **nl = realloc(bi->locations, (bi->n_locations + 1) * sizeof *nl);
    if (!nl)
        return;
    bi->locations = nl;
    if ((nl[bi->n_locations] = strdup(holder)) != NULL)
        bi->n_locations++;
}

/* The block `id` of an unfinished batch of the job, or NULL. */
static Sluice__BlockInfo *sl_job_pending_block(sl_mjob_t *j, const char *stream, uint64_t id)
{
    for (sl_mbatch_t *b = j->batches; b; b = b->next)
        for (size_t i = 0; i < b->nblocks; i++)
            if (b->blocks[i]->id == id && strcmp(b->block_streams[i], stream) == 0)
                return b->blocks[i];
    return NULL;
}

/* Takes one listed block; false when it is stale (allocated to a batch that
 * is over, whose drop the holder missed). */
static bool sl_collect_block(sl_mjob_t *j, sl_mreceiver_t *r, const sl_dead_epoch_t *d,
                             const Sluice__BlockInfo *bi, const char *holder)
{
    Sluice__BlockInfo *pending = sl_job_pending_block(j, r->stream, bi->id);
    if (pending) {
        sl_add_location(pending, holder);
        return true;
    }
    if (d->refresh_only || sl_block_id_seq(bi->id) <= d->seq)
        return false;
    for (size_t k = 0; k < r->norphans; k++) {
        if (r->orphans[k]->id == bi->id) {
            sl_add_location(r->orphans[k], holder);
            return true;
        }
    }
    Sluice__BlockInfo **no = realloc(r->orphans, (r->norphans + 1) * sizeof *no);
    if (!no)
        return true;
    r->orphans = no;
    Sluice__BlockInfo *copy = sl_msg_clone(bi);
    if (!copy)
        return true;
    for (size_t l = 0; l < copy->n_locations; l++)
        free(copy->locations[l]);
    copy->n_locations = 0;
    sl_add_location(copy, holder);
    r->orphans[r->norphans++] = copy;
    sl_note_block_pushes(r, bi);
    return true;
}

static void sl_collect_done(sl_mjob_t *j, uint32_t ri)
{
    sl_mreceiver_t *r = &j->receivers[ri];
    size_t nclose = 0;
    for (size_t i = 0; i < r->ndead; i++)
        nclose += !r->dead[i].refresh_only;
    sl_dead_epoch_t *nc = realloc(r->closing, (r->nclosing + nclose + 1) * sizeof *nc);
    if (nc) {
        r->closing = nc;
        for (size_t i = 0; i < r->ndead; i++)
            if (!r->dead[i].refresh_only)
                r->closing[r->nclosing++] = r->dead[i];
    }
    sl_info("engine", "job %s: receiver '%s': %zu dead epoch%s collected, %zu acked blocks "
            "recovered", j->id, r->stream, r->ndead, r->ndead == 1 ? "" : "s", r->norphans);
    r->ndead = 0;
    r->moving = false;
    j->collecting--;
    if (j->state != SLUICE__JOB_STATE__JOB_RUNNING)
        return;   /* stopped meanwhile: nothing to place */
    sl_receiver_place(j, ri);
    sl_engine_kick(j->engine);
}

static void sl_collect_reply(sl_conn_t *c, sl_status_t st, const sl_envelope_t *reply,
                             const uint8_t *payload, size_t len, const char *msg, void *arg)
{
    sl_collect_req_t *q = arg;
    sl_collect_ctx_t *x = q->shared;
    sl_mjob_t *j = sl_ctx_job(&x->base);
    uint32_t ri = x->base.receiver;
    const char *holder = sl_cluster_address_of(x->base.e->opts.cluster, c);
    if (j && ri < j->nreceivers && st == SL_OK && holder &&
        reply->body_case == SLUICE__ENVELOPE__BODY_LIST_REPLICAS_REPLY) {
        const Sluice__ListReplicasReply *lr = reply->list_replicas_reply;
        uint64_t *stale = calloc(lr->n_blocks + 1, sizeof *stale);
        size_t nstale = 0;
        for (size_t i = 0; i < lr->n_blocks; i++)
            if (!sl_collect_block(j, &j->receivers[ri], &q->dead, lr->blocks[i], holder) && stale)
                stale[nstale++] = lr->blocks[i]->id;
        if (nstale) {
            /* Left over from a master that died before it dropped them. */
            Sluice__Envelope env = SLUICE__ENVELOPE__INIT;
            Sluice__DropBlocks db = SLUICE__DROP_BLOCKS__INIT;
            db.job_id = j->id;
            db.stream = (char *)j->receivers[ri].stream;
            db.ids = stale;
            db.n_ids = nstale;
            env.body_case = SLUICE__ENVELOPE__BODY_DROP_BLOCKS;
            env.drop_blocks = &db;
            sl_conn_request(c, &env, NULL, 0, SL_SETUP_TIMEOUT_MS, sl_log_reply, "drop_blocks");
        }
        free(stale);
    } else if (st != SL_OK) {
        sl_warn("engine", "listing the blocks of a dead receiver epoch on worker %s failed: %s",
                sl_conn_peer_name(c), msg);
    }
    free(q);
    if (--x->pending == 0) {
        if (j && ri < j->nreceivers)
            sl_collect_done(j, ri);
        free(x);
    }
}

void sl_receiver_collect(sl_mjob_t *j, uint32_t ri)
{
    sl_mreceiver_t *r = &j->receivers[ri];
    sl_engine_t *e = j->engine;
    if (j->state != SLUICE__JOB_STATE__JOB_RUNNING || r->moving || r->worker[0])
        return;
    if (!r->ndead) {
        sl_receiver_place(j, ri);
        return;
    }
    sl_worker_view_t ws[SL_MAX_WORKERS];
    size_t n = sl_cluster_alive(e->opts.cluster, ws, SL_MAX_WORKERS);
    sl_collect_ctx_t *x = n ? calloc(1, sizeof *x) : NULL;
    if (!x) {
        sl_warn("engine", "job %s: receiver '%s' waits for a worker to collect its acked blocks "
                "from", j->id, r->stream);
        return;
    }
    sl_ctx_fill(&x->base, j, ri);
    x->pending = 1;   /* held until every request is out */
    r->moving = true;
    r->ready = false;
    j->collecting++;
    for (size_t d = 0; d < r->ndead; d++) {
        for (size_t i = 0; i < n; i++) {
            Sluice__Envelope env = SLUICE__ENVELOPE__INIT;
            Sluice__ListReplicas lr = SLUICE__LIST_REPLICAS__INIT;
            lr.job_id = j->id;
            lr.stream = (char *)r->stream;
            lr.epoch = r->dead[d].epoch;
            lr.after_seq = 0;
            /* One worker reads the epoch's log back into its store. */
            lr.wal_root = j->wal && i == 0 ? (char *)e->opts.wal_root : (char *)"";
            env.body_case = SLUICE__ENVELOPE__BODY_LIST_REPLICAS;
            env.list_replicas = &lr;
            sl_collect_req_t *q = calloc(1, sizeof *q);
            if (!q)
                continue;
            q->shared = x;
            q->dead = r->dead[d];
            x->pending++;
            if (sl_conn_request(ws[i].conn, &env, NULL, 0, SL_SETUP_TIMEOUT_MS, sl_collect_reply,
                                q) != SL_OK) {
                x->pending--;
                free(q);
            }
        }
    }
    if (--x->pending == 0) {
        sl_collect_done(j, ri);
        free(x);
    }
}

/* The receiver's worker died: its epoch is dead; collect it, then place. */
void sl_receiver_move(sl_mjob_t *j, uint32_t ri, uint32_t dead_epoch)
{
    sl_mreceiver_t *r = &j->receivers[ri];
    r->ready = false;
    r->cut_inflight = false;
    r->worker[0] = 0;
    sl_dead_epoch_t *nd = realloc(r->dead, (r->ndead + 1) * sizeof *nd);
    if (nd) {
        r->dead = nd;
        r->dead[r->ndead++] = (sl_dead_epoch_t){ ri, dead_epoch, r->reported_seq, false };
    }
    r->moving = false;
    sl_receiver_collect(j, ri);
}

/* --- cuts ----------------------------------------------------------------------------------- */

void sl_cut_retry_cb(evutil_socket_t fd, short what, void *arg)
{
    sl_mjob_t *j = arg;
    if (j->state != SLUICE__JOB_STATE__JOB_RUNNING)
        return;
    for (uint32_t ri = 0; !j->engine->recovering && ri < j->nreceivers; ri++)
        if (!j->receivers[ri].worker[0] && !j->receivers[ri].moving)
            sl_receiver_collect(j, ri);
    sl_job_advance_cuts(j);
}

static void sl_cut_reply(sl_conn_t *c, sl_status_t st, const sl_envelope_t *reply,
                         const uint8_t *payload, size_t len, const char *msg, void *arg)
{
    sl_req_ctx_t *x = arg;
    sl_mjob_t *j = sl_ctx_job(x);
    uint32_t ri = x->receiver, epoch = x->epoch;
    int64_t time = x->batch;
    free(x);
    /* A reply from an epoch being moved away is not taken: its blocks come
     * back through the replica listing, exactly once. */
    if (!j || ri >= j->nreceivers || j->receivers[ri].epoch != epoch ||
        j->receivers[ri].moving || !j->receivers[ri].ready)
        return;
    sl_mreceiver_t *r = &j->receivers[ri];
    r->cut_inflight = false;
    sl_mbatch_t *b = j->batches;
    while (b && b->time != time)
        b = b->next;
    if (st != SL_OK || reply->body_case != SLUICE__ENVELOPE__BODY_CUT_BLOCKS_REPLY) {
        /* The worker is going away; its death moves the receiver and the cut
         * is asked again of the new one. */
        sl_warn("engine", "job %s: cut of '%s' at %lld failed: %s", j->id, r->stream,
                (long long)time, st != SL_OK ? msg : "unexpected reply");
        /* Ask again shortly: the receiver still has every unconfirmed block. */
        struct timeval tv = sl_time_tv(500);
        evtimer_add(j->cut_retry, &tv);
        return;
    }
    if (!b) {
        sl_warn("engine", "job %s: cut for a batch that is gone", j->id);
        return;
    }
    /* The receiver repeats blocks until a cut confirms them: take only the
     * ones above what this epoch already gave. */
    const Sluice__CutBlocksReply *cr = reply->cut_blocks_reply;
    Sluice__BlockInfo **fresh = calloc(cr->n_blocks + 1, sizeof *fresh);
    size_t nfresh = 0;
    uint64_t top = r->reported_seq;
    for (size_t i = 0; fresh && i < cr->n_blocks; i++) {
        const Sluice__BlockInfo *bi = cr->blocks[i];
        uint64_t seq = sl_block_id_seq(bi->id);
        if (seq <= r->reported_seq)
            continue;
        fresh[nfresh++] = cr->blocks[i];
        if (seq > top)
            top = seq;
        sl_note_block_pushes(r, bi);
    }
    sl_status_t added = fresh ? sl_batch_add_blocks(b, r, fresh, nfresh) : SL_ERR_NOMEM;
    free(fresh);
    if (added == SL_OK)
        r->reported_seq = top;
    if (added != SL_OK ||
        sl_batch_add_blocks(b, r, r->orphans, r->norphans) != SL_OK) {
        sl_error("engine", "job %s: out of memory recording blocks", j->id);
        return;
    }
    for (size_t k = 0; k < r->norphans; k++)
        sluice__block_info__free_unpacked(r->orphans[k], NULL);
    free(r->orphans);
    r->orphans = NULL;
    r->norphans = 0;
    /* This batch closes the dead epochs whose orphans it took. */
    if (r->nclosing) {
        sl_dead_epoch_t *nc = realloc(b->closing, (b->nclosing + r->nclosing) * sizeof *nc);
        if (!nc) {
            sl_error("engine", "job %s: out of memory recording blocks", j->id);
            return;
        }
        b->closing = nc;
        memcpy(b->closing + b->nclosing, r->closing, r->nclosing * sizeof *nc);
        b->nclosing += r->nclosing;
        r->nclosing = 0;
    }
    b->cut_epoch[ri] = r->epoch;
    b->cut_seq[ri] = r->reported_seq;
    b->cut_done[ri] = true;
    if (j->draining && b->time == j->drain_time) {
        r->last_cut = true;
        sl_info("engine", "job %s: receiver '%s' takes no more pushes", j->id, r->stream);
    }
    sl_job_advance_cuts(j);
    sl_engine_kick(j->engine);
}

void sl_job_advance_cuts(sl_mjob_t *j)
{
    sl_engine_t *e = j->engine;
    for (uint32_t ri = 0; ri < j->nreceivers; ri++) {
        sl_mreceiver_t *r = &j->receivers[ri];
        if (!r->ready || r->cut_inflight)
            continue;
        sl_mbatch_t *b = j->batches;
        while (b && b->cut_done[ri])
            b = b->next;
        if (!b)
            continue;
        sl_worker_view_t w;
        if (!sl_cluster_lookup(e->opts.cluster, r->worker, &w))
            continue;
        sl_req_ctx_t *x = sl_ctx_new(j, ri);
        if (!x)
            continue;
        x->batch = b->time;
        Sluice__Envelope env = SLUICE__ENVELOPE__INIT;
        Sluice__CutBlocks cb = SLUICE__CUT_BLOCKS__INIT;
        cb.job_id = j->id;
        cb.stream = (char *)r->stream;
        cb.epoch = r->epoch;
        cb.acked_seq = r->reported_seq;
        cb.done_seq = r->done_seq;
        cb.last = j->draining && b->time == j->drain_time;
        env.body_case = SLUICE__ENVELOPE__BODY_CUT_BLOCKS;
        env.cut_blocks = &cb;
        if (sl_conn_request(w.conn, &env, NULL, 0, SL_CUT_TIMEOUT_MS, sl_cut_reply, x) == SL_OK)
            r->cut_inflight = true;
        else
            free(x);
    }
}

/* A new batch at `time`: appended, then cut. */
sl_status_t sl_job_new_batch(sl_mjob_t *j, int64_t time)
{
    sl_mbatch_t *b = sl_batch_new(j, time);
    if (!b)
        return SL_ERR_NOMEM;
    sl_mbatch_t **tail = &j->batches;
    while (*tail)
        tail = &(*tail)->next;
    *tail = b;
    j->last_time = time;
    sl_job_advance_cuts(j);
    return SL_OK;
}

/* Every boundary after the last batch up to `t` gets its batch, even if the
 * loop was late by more than an interval: batch times never skip. */
void sl_job_batches_upto(sl_mjob_t *j, int64_t t)
{
    int64_t iv = (int64_t)j->spec->batch_ms;
    int64_t first = j->last_time < 0 ? t : j->last_time + iv;
    if (first <= t && (t - first) / iv >= SL_MAX_CATCHUP) {
        /* The clock jumped, or the loop stalled for long: make up a bounded
         * number of batches; the skipped times are said in the log. */
        int64_t resume = t - (int64_t)(SL_MAX_CATCHUP - 1) * iv;
        sl_warn("engine", "job %s: the clock moved %lld ms at once; batch times %lld to %lld "
                "are skipped", j->id, (long long)(t - first), (long long)first,
                (long long)(resume - iv));
        first = resume;
    }
    for (int64_t bt = first; bt <= t; bt += iv) {
        if (sl_job_new_batch(j, bt) != SL_OK) {
            sl_error("engine", "job %s: out of memory starting batch %lld", j->id, (long long)bt);
            break;
        }
    }
}

void sl_job_timer_cb(evutil_socket_t fd, short what, void *arg)
{
    sl_mjob_t *j = arg;
    if (j->state != SLUICE__JOB_STATE__JOB_RUNNING)
        return;
    uint64_t iv = j->spec->batch_ms;
    sl_job_batches_upto(j, (int64_t)(sl_time_wall_ms() / iv * iv));
    sl_job_arm_timer(j);
}

