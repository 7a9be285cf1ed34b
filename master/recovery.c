/* The engine's durable side. Writes what a new master needs into the
 * metadata checkpoint (jobs, receiver epochs, each batch's allocation before
 * it runs, completions, workers), and at a takeover reads it back: jobs are
 * rebuilt, unfinished batches queued again with their blocks, the receivers'
 * ended epochs marked for collection, and the engine waits for the workers it
 * knows before it collects their blocks and places receivers. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "block.h"
#include "engine-internal.h"
#include "log.h"
#include "timeutil.h"
#include "wal.h"

/* --- writing ------------------------------------------------------------------------- */

/* A write was refused: a newer master holds the lease (stop acting), or the
 * storage failed (said in the log; the caller retries or fails visibly). */
static void sl_persist_failed(sl_engine_t *e, sl_status_t st, const char *what, const char *err)
{
    if (st == SL_ERR_FENCED) {
        sl_error("checkpoint", "%s refused: %s", what, err);
        if (e->opts.fenced)
            e->opts.fenced(e->opts.fenced_arg, err);
        return;
    }
    sl_error("checkpoint", "%s: %s", what, err);
}

sl_status_t sl_persist_job(sl_mjob_t *j, char *err)
{
    sl_engine_t *e = j->engine;
    if (!e->opts.ckpt)
        return SL_OK;
    size_t len = sluice__job_spec__get_packed_size(j->spec);
    uint8_t *buf = malloc(len + 1);
    if (!buf) {
        snprintf(err, SL_ERRMSG_LEN, "out of memory");
        return SL_ERR_NOMEM;
    }
    sluice__job_spec__pack(j->spec, buf);
    sl_status_t st = sl_ckpt_job_put(e->opts.ckpt, j->id, buf, len, (int64_t)j->generation, err);
    free(buf);
    if (st != SL_OK)
        sl_persist_failed(e, st, "storing a job", err);
    return st;
}

/* Removes an epoch's write-ahead log (nothing when the job has none). */
static void sl_wal_drop(sl_mjob_t *j, const char *stream, uint32_t epoch)
{
    char err[SL_ERRMSG_LEN];
    if (j->wal && epoch &&
        sl_wal_remove(j->engine->opts.wal_root, j->id, stream, epoch, err) != SL_OK)
        sl_warn("engine", "job %s: removing a write-ahead log: %s", j->id, err);
}

void sl_persist_job_delete(sl_mjob_t *j)
{
    sl_engine_t *e = j->engine;
    char err[SL_ERRMSG_LEN];
    sl_status_t st;
    if (e->opts.ckpt && (st = sl_ckpt_job_delete(e->opts.ckpt, j->id, err)) != SL_OK)
        sl_persist_failed(e, st, "forgetting a job", err);
    for (uint32_t ri = 0; ri < j->nreceivers; ri++) {
        sl_mreceiver_t *r = &j->receivers[ri];
        sl_wal_drop(j, r->stream, r->epoch);
        for (size_t k = 0; k < r->ndead; k++)
            sl_wal_drop(j, r->stream, r->dead[k].epoch);
        for (size_t k = 0; k < r->nclosing; k++)
            sl_wal_drop(j, r->stream, r->closing[k].epoch);
    }
}

sl_status_t sl_persist_epoch(sl_mjob_t *j, uint32_t ri, uint32_t *epoch)
{
    sl_engine_t *e = j->engine;
    if (!e->opts.ckpt) {
        *epoch = ++e->epochs;
        return SL_OK;
    }
    char err[SL_ERRMSG_LEN];
    sl_status_t st = sl_ckpt_epoch_new(e->opts.ckpt, j->id, j->receivers[ri].stream, epoch, err);
    if (st != SL_OK)
        sl_persist_failed(e, st, "starting a receiver epoch", err);
    return st;
}

/* Packs a receiver's producer set. Caller frees *out. */
static sl_status_t sl_pack_producers(const sl_mreceiver_t *r, uint8_t **out, size_t *len)
{
    Sluice__CkptProducers cp = SLUICE__CKPT_PRODUCERS__INIT;
    size_t n = sl_seqset_entries(r->producers);
    Sluice__ProducerSeq *ps = calloc(n + 1, sizeof *ps);
    Sluice__ProducerSeq **pp = calloc(n + 1, sizeof *pp);
    sl_status_t st = SL_ERR_NOMEM;
    *out = NULL;
    if (!ps || !pp)
        goto done;
    cp.producers = pp;
    cp.n_producers = sl_producers_export(r->producers, ps, pp);
    *len = sluice__ckpt_producers__get_packed_size(&cp);
    if (!(*out = malloc(*len + 1)))
        goto done;
    sluice__ckpt_producers__pack(&cp, *out);
    st = SL_OK;
done:
    free(ps);
    free(pp);
    return st;
}

sl_status_t sl_persist_batch(sl_mjob_t *j, sl_mbatch_t *b)
{
    sl_engine_t *e = j->engine;
    if (!e->opts.ckpt) {
        b->persisted = true;
        return SL_OK;
    }
    char err[SL_ERRMSG_LEN] = "out of memory";
    sl_status_t st = SL_ERR_NOMEM;
    Sluice__CkptBatch cb = SLUICE__CKPT_BATCH__INIT;
    Sluice__CkptBlock *blocks = calloc(b->nblocks + 1, sizeof *blocks);
    Sluice__CkptBlock **bp = calloc(b->nblocks + 1, sizeof *bp);
    sl_ckpt_epoch_t *epochs = calloc(j->nreceivers + b->nclosing + 1, sizeof *epochs);
    sl_ckpt_producers_t *prods = calloc(j->nreceivers + 1, sizeof *prods);
    uint8_t *alloc = NULL;
    size_t nepochs = 0, nprods = 0, alen = 0;
    if (!blocks || !bp || !epochs || !prods)
        goto done;
    for (size_t i = 0; i < b->nblocks; i++) {
        sluice__ckpt_block__init(&blocks[i]);
        blocks[i].stream = b->block_streams[i];
        blocks[i].info = b->blocks[i];
        bp[i] = &blocks[i];
    }
    cb.blocks = bp;
    cb.n_blocks = b->nblocks;
    alen = sluice__ckpt_batch__get_packed_size(&cb);
    if (!(alloc = malloc(alen + 1)))
        goto done;
    sluice__ckpt_batch__pack(&cb, alloc);
    for (uint32_t ri = 0; ri < j->nreceivers; ri++) {
        if (b->cut_epoch[ri])
            epochs[nepochs++] = (sl_ckpt_epoch_t){ j->receivers[ri].stream, b->cut_epoch[ri],
                                                   b->cut_seq[ri], false };
        uint8_t *blob;
        if (sl_pack_producers(&j->receivers[ri], &blob, &prods[nprods].len) != SL_OK)
            goto done;
        prods[nprods].stream = j->receivers[ri].stream;
        prods[nprods++].blob = blob;
    }
    for (size_t k = 0; k < b->nclosing; k++)
        epochs[nepochs++] = (sl_ckpt_epoch_t){ j->receivers[b->closing[k].receiver].stream,
                                               b->closing[k].epoch, b->closing[k].seq, true };
    st = sl_ckpt_batch_allocate(e->opts.ckpt, j->id, b->time, alloc, alen, epochs, nepochs, prods,
                                nprods, err);
done:
    if (st == SL_OK) {
        b->persisted = true;
    } else if (st == SL_ERR_EXISTS) {
        /* Never expected: batch times only move forward from the checkpoint's. */
        sl_error("engine", "job %s: %s", j->id, err);
        snprintf(b->error, sizeof b->error, "%.200s", err);
    } else {
        sl_persist_failed(e, st, "storing a batch allocation", err);
        struct timeval tv = sl_time_tv(1000);
        evtimer_add(e->retry_ev, &tv);   /* the next scheduling pass tries again */
    }
    for (size_t i = 0; prods && i < nprods; i++)
        free((void *)prods[i].blob);
    free(prods);
    free(epochs);
    free(blocks);
    free(bp);
    free(alloc);
    return st;
}

void sl_persist_batch_finish(sl_mjob_t *j, sl_mbatch_t *b)
{
    sl_engine_t *e = j->engine;
    for (uint32_t ri = 0; ri < j->nreceivers; ri++) {
        sl_mreceiver_t *r = &j->receivers[ri];
        if (b->cut_epoch[ri] == r->epoch && b->cut_seq[ri] > r->done_seq)
            r->done_seq = b->cut_seq[ri];
    }
    char err[SL_ERRMSG_LEN];
    sl_status_t st;
    if (e->opts.ckpt && b->persisted &&
        (st = sl_ckpt_batch_finish(e->opts.ckpt, j->id, b->time,
                                   b->state == SLUICE__BATCH_STATE__BATCH_DONE ? SL_CKPT_DONE
                                                                               : SL_CKPT_FAILED,
                                   b->input_records, SL_BATCH_HISTORY, err)) != SL_OK)
        sl_persist_failed(e, st, "storing a batch's end", err);
    /* Every batch with blocks of an epoch this one closed is over now. */
    for (size_t k = 0; k < b->nclosing; k++)
        sl_wal_drop(j, j->receivers[b->closing[k].receiver].stream, b->closing[k].epoch);
}

void sl_persist_worker(sl_engine_t *e, const char *id, const char *address, bool alive)
{
    char err[SL_ERRMSG_LEN];
    sl_status_t st;
    if (!e->opts.ckpt || e->draining)
        return;
    if (alive)
        st = sl_ckpt_worker_seen(e->opts.ckpt, id, address, (int64_t)sl_time_wall_ms(), err);
    else
        st = sl_ckpt_worker_forget(e->opts.ckpt, id, err);
    if (st != SL_OK)
        sl_persist_failed(e, st, "storing a worker", err);
}

bool sl_job_may_run(const sl_mjob_t *j)
{
    return !j->engine->recovering && j->collecting == 0;
}

/* --- the takeover -------------------------------------------------------------------- */

typedef struct {
    sl_engine_t *e;
    sl_status_t st;
    char err[SL_ERRMSG_LEN];
} sl_load_t;

static void sl_load_fail(sl_load_t *x, sl_status_t st, const char *fmt, const char *job)
{
    if (x->st != SL_OK)
        return;
    x->st = st;
    snprintf(x->err, sizeof x->err, fmt, job);
}

static sl_mreceiver_t *sl_job_receiver(sl_mjob_t *j, const char *stream, uint32_t *ri)
{
    for (uint32_t i = 0; j && i < j->nreceivers; i++) {
        if (strcmp(j->receivers[i].stream, stream) == 0) {
            *ri = i;
            return &j->receivers[i];
        }
    }
    return NULL;
}

static sl_status_t sl_receiver_add_dead(sl_mreceiver_t *r, sl_dead_epoch_t d)
{
    for (size_t k = 0; k < r->ndead; k++)
        if (r->dead[k].epoch == d.epoch)
            return SL_OK;
    sl_dead_epoch_t *nd = realloc(r->dead, (r->ndead + 1) * sizeof *nd);
    if (!nd)
        return SL_ERR_NOMEM;
    r->dead = nd;
    r->dead[r->ndead++] = d;
    return SL_OK;
}

static void sl_load_job(void *arg, const char *id, const uint8_t *spec, size_t len,
                        int64_t submitted_ms)
{
    sl_load_t *x = arg;
    if (x->st != SL_OK)
        return;
    Sluice__JobSpec *s = sluice__job_spec__unpack(NULL, len, spec);
    if (!s || strcmp(s->name, id) != 0) {
        if (s)
            sluice__job_spec__free_unpacked(s, NULL);
        sl_load_fail(x, SL_ERR_CORRUPT, "the spec of job '%.64s' does not decode", id);
        return;
    }
    sl_mjob_t *j = NULL;
    char err[SL_ERRMSG_LEN];
    sl_status_t st = sl_job_build(x->e, s, (uint64_t)submitted_ms, &j, err);
    sluice__job_spec__free_unpacked(s, NULL);
    bool created;
    void **slot = st == SL_OK ? sl_hmap_slot(x->e->jobs, j->id, strlen(j->id), &created) : NULL;
    if (!slot) {
        sl_job_free(j);
        sl_load_fail(x, st == SL_OK ? SL_ERR_NOMEM : st, "cannot rebuild job '%.64s'", id);
        return;
    }
    *slot = j;
    j->admitted = true;
    x->e->jobs_recovered++;
}

static void sl_load_epoch(void *arg, const char *job, const char *stream, uint32_t epoch,
                          uint64_t seq, bool closed)
{
    sl_load_t *x = arg;
    uint32_t ri;
    sl_mreceiver_t *r = sl_job_receiver(sl_engine_job(x->e, job), stream, &ri);
    if (x->st != SL_OK || closed || !r)
        return;
    if (sl_receiver_add_dead(r, (sl_dead_epoch_t){ ri, epoch, seq, false }) != SL_OK)
        sl_load_fail(x, SL_ERR_NOMEM, "out of memory loading job '%.64s'", job);
}

static void sl_load_producers(void *arg, const char *job, const char *stream, const uint8_t *blob,
                              size_t len)
{
    sl_load_t *x = arg;
    uint32_t ri;
    sl_mreceiver_t *r = sl_job_receiver(sl_engine_job(x->e, job), stream, &ri);
    if (x->st != SL_OK || !r)
        return;
    Sluice__CkptProducers *cp = sluice__ckpt_producers__unpack(NULL, len, blob);
    if (!cp) {
        sl_load_fail(x, SL_ERR_CORRUPT, "the producer sequences of job '%.64s' do not decode", job);
        return;
    }
    for (size_t i = 0; i < cp->n_producers; i++)
        if (sl_seqset_put(r->producers, cp->producers[i]->producer, cp->producers[i]->seq,
                          cp->producers[i]->upto) != SL_OK)
            sl_load_fail(x, SL_ERR_NOMEM, "out of memory loading job '%.64s'", job);
    sluice__ckpt_producers__free_unpacked(cp, NULL);
}

/* An unfinished batch comes back with its blocks (locations unknown until
 * the workers list what they hold). */
static void sl_load_pending(sl_load_t *x, sl_mjob_t *j, int64_t time, const uint8_t *alloc,
                            size_t len)
{
    Sluice__CkptBatch *cb = sluice__ckpt_batch__unpack(NULL, len, alloc);
    if (!cb) {
        sl_load_fail(x, SL_ERR_CORRUPT, "a batch allocation of job '%.64s' does not decode", j->id);
        return;
    }
    sl_mbatch_t *b = sl_batch_new(j, time);
    if (!b) {
        sluice__ckpt_batch__free_unpacked(cb, NULL);
        sl_load_fail(x, SL_ERR_NOMEM, "out of memory loading job '%.64s'", j->id);
        return;
    }
    for (uint32_t ri = 0; ri < j->nreceivers; ri++) {
        b->cut_done[ri] = true;
        Sluice__BlockInfo **mine = calloc(cb->n_blocks + 1, sizeof *mine);
        size_t n = 0;
        for (size_t i = 0; mine && i < cb->n_blocks; i++) {
            Sluice__CkptBlock *cbk = cb->blocks[i];
            if (!cbk->info || strcmp(cbk->stream, j->receivers[ri].stream) != 0)
                continue;
            for (size_t l = 0; l < cbk->info->n_locations; l++)
                free(cbk->info->locations[l]);
            cbk->info->n_locations = 0;
            mine[n++] = cbk->info;
            uint32_t epoch = sl_block_id_epoch(cbk->info->id);
            if (sl_receiver_add_dead(&j->receivers[ri],
                                     (sl_dead_epoch_t){ ri, epoch, 0, true }) != SL_OK)
                sl_load_fail(x, SL_ERR_NOMEM, "out of memory loading job '%.64s'", j->id);
        }
        if (!mine || sl_batch_add_blocks(b, &j->receivers[ri], mine, n) != SL_OK)
            sl_load_fail(x, SL_ERR_NOMEM, "out of memory loading job '%.64s'", j->id);
        free(mine);
    }
    sluice__ckpt_batch__free_unpacked(cb, NULL);
    b->persisted = true;
    b->recovered = true;
    sl_mbatch_t **tail = &j->batches;
    while (*tail)
        tail = &(*tail)->next;
    *tail = b;
}

static void sl_load_batch(void *arg, const char *job, int64_t time, sl_ckpt_batch_state_t state,
                          const uint8_t *alloc, size_t len, uint64_t records)
{
    sl_load_t *x = arg;
    sl_mjob_t *j = sl_engine_job(x->e, job);
    if (x->st != SL_OK || !j)
        return;
    if (time > j->last_time)
        j->last_time = time;
    if (state == SL_CKPT_ALLOCATED) {
        sl_load_pending(x, j, time, alloc, len);
        return;
    }
    /* A finished batch: back into the history. */
    Sluice__BatchInfo *bi = malloc(sizeof *bi);
    Sluice__BatchInfo **nh = realloc(j->history, (j->nhistory + 1) * sizeof *nh);
    if (nh)
        j->history = nh;
    if (!bi || !nh) {
        free(bi);
        sl_load_fail(x, SL_ERR_NOMEM, "out of memory loading job '%.64s'", job);
        return;
    }
    sluice__batch_info__init(bi);
    bi->time_ms = time;
    bi->state = state == SL_CKPT_DONE ? SLUICE__BATCH_STATE__BATCH_DONE
                                      : SLUICE__BATCH_STATE__BATCH_FAILED;
    bi->input_records = records;
    j->history[j->nhistory++] = bi;
    j->batches_done += state == SL_CKPT_DONE;
}

static void sl_load_worker(void *arg, const char *id, const char *address, int64_t last_seen_ms)
{
    sl_load_t *x = arg;
    bool created;
    void **slot = sl_hmap_slot(x->e->expected, id, strlen(id), &created);
    if (slot && created) {
        *slot = (void *)(uintptr_t)1;
        x->e->nexpected++;
    }
}

static void sl_recovery_finish(sl_engine_t *e)
{
    if (!e->recovering)
        return;
    e->recovering = false;
    evtimer_del(e->recovery_ev);
    sl_info("engine", "recovery: %u of %u known workers are back; collecting blocks and placing "
            "receivers", e->nback, e->nexpected);
    size_t pos = 0, klen;
    const void *k;
    void *v;
    while (sl_hmap_next(e->jobs, &pos, &k, &klen, &v)) {
        sl_mjob_t *j = v;
        for (uint32_t ri = 0; j->state == SLUICE__JOB_STATE__JOB_RUNNING && ri < j->nreceivers; ri++)
            sl_receiver_collect(j, ri);
    }
    sl_engine_kick(e);
}

static void sl_recovery_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
    sl_engine_t *e = arg;
    if (e->recovering)
        sl_warn("engine", "recovery: waited %llu ms; %u of %u known workers are back, going on "
                "without the others", (unsigned long long)e->opts.recovery_wait_ms, e->nback,
                e->nexpected);
    sl_recovery_finish(e);
}

void sl_recovery_worker_back(sl_engine_t *e, const char *id)
{
    if (!e->recovering || (uintptr_t)sl_hmap_get(e->expected, id, strlen(id)) != 1)
        return;
    bool created;
    void **slot = sl_hmap_slot(e->expected, id, strlen(id), &created);
    if (slot)
        *slot = (void *)(uintptr_t)2;
    e->nback++;
    sl_info("engine", "recovery: worker %s is back (%u of %u)", id, e->nback, e->nexpected);
    if (e->nback == e->nexpected)
        sl_recovery_finish(e);
}

sl_status_t sl_engine_recover(sl_engine_t *e, char *err)
{
    if (!e->opts.ckpt)
        return SL_OK;
    sl_load_t x = { .e = e, .st = SL_OK };
    const sl_ckpt_visitor_t v = {
        .job = sl_load_job,
        .epoch = sl_load_epoch,
        .producers = sl_load_producers,
        .batch = sl_load_batch,
        .worker = sl_load_worker,
    };
    sl_status_t st = sl_ckpt_load(e->opts.ckpt, &v, &x, err);
    if (st != SL_OK)
        return st;
    if (x.st != SL_OK) {
        snprintf(err, SL_ERRMSG_LEN, "checkpoint %.120s: %.120s", sl_ckpt_path(e->opts.ckpt), x.err);
        return x.st;
    }
    size_t pos = 0, klen, pending = 0;
    const void *k;
    void *vj;
    while (sl_hmap_next(e->jobs, &pos, &k, &klen, &vj)) {
        sl_mjob_t *j = vj;
        j->manual_now = j->last_time < 0 ? 0 : j->last_time;
        for (sl_mbatch_t *b = j->batches; b; b = b->next)
            pending++;
        if (!e->opts.manual_clock)
            sl_job_arm_timer(j);
    }
    if (!e->jobs_recovered)
        return SL_OK;
    sl_info("engine", "recovery: %u job%s reloaded, %zu batch%s to run again; waiting up to %llu "
            "ms for %u known worker%s", e->jobs_recovered, e->jobs_recovered == 1 ? "" : "s",
            pending, pending == 1 ? "" : "es", (unsigned long long)e->opts.recovery_wait_ms,
            e->nexpected, e->nexpected == 1 ? "" : "s");
    e->recovering = true;
    e->recovery_ev = evtimer_new(e->opts.base, sl_recovery_timeout_cb, e);
    if (!e->recovery_ev) {
        snprintf(err, SL_ERRMSG_LEN, "out of memory");
        return SL_ERR_NOMEM;
    }
    struct timeval tv = sl_time_tv(e->opts.recovery_wait_ms);
    evtimer_add(e->recovery_ev, &tv);
    if (e->nback >= e->nexpected)
        sl_recovery_finish(e);
    return SL_OK;
}

void sl_engine_recovery_info(const sl_engine_t *e, Sluice__MasterInfo *out)
{
    out->recovering = e->recovering;
    out->workers_expected = e->nexpected;
    out->workers_back = e->nback;
    out->jobs_recovered = e->jobs_recovered;
    size_t pos = 0, klen;
    const void *k;
    void *v;
    while (sl_hmap_next(e->jobs, &pos, &k, &klen, &v))
        for (sl_mbatch_t *b = ((sl_mjob_t *)v)->batches; b; b = b->next)
            out->batches_to_rerun += b->recovered;
}
