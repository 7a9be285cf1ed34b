/* Push receivers. Clients push blocks of records; a receiver appends each to
 * one of its partitions' open buffers (round robin), cuts the buffers into
 * blocks every block interval (or when the master asks, at a batch boundary),
 * stores each block, replicates it to another worker, and only then acks the
 * pushes it holds. The master learns of blocks from CutBlocks replies, which
 * wait for replication, so every reported block is already on two workers.
 * Producer ids and sequence numbers let it drop a retried push it has. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "block.h"
#include "log.h"
#include "parse.h"
#include "rpcsync.h"
#include "seqset.h"
#include "timeutil.h"
#include "wal.h"
#include "worker-internal.h"

/* A partition's buffer is cut early at this size: a pusher may have only a
 * few MiB unacked, and acks wait for the cut, so waiting for the block
 * interval with a full window would stall it. */
#define SL_RCV_MAX_BLOCK ((size_t)1 << 20)
/* Bound on one replication call: a frozen peer must not hold every ack of
 * this worker for long (the call fails and the next peer is tried). */
#define SL_RCV_REPL_TIMEOUT_MS 3000
/* A peer that failed is tried last for this long, so a frozen peer costs one
 * timeout, not one per queued block. */
#define SL_RCV_PEER_DOWN_MS 5000

typedef struct sl_ack {
    sl_conn_t *conn;            /* NULL once that connection closed */
    uint64_t request_id;
    uint64_t records;
    bool duplicate;
    struct sl_ack *next;
} sl_ack_t;

typedef struct {
    uint64_t producer, seq;
} sl_pseq_t;

/* A partition's open buffer, or a cut block on its way to the master. */
typedef struct sl_rblock {
    sl_block_builder_t bb;      /* open buffer only */
    uint64_t id;
    uint32_t partition;
    uint64_t records, bytes;
    sl_pseq_t *pushes;          /* every (producer, seq) inside */
    size_t npushes, cappushes;
    sl_ack_t *acks;
    bool replicating;
    bool unreplicated;          /* replication failed while peers existed */
    char replica[262];          /* where the copy went; empty: none */
    struct sl_rblock *next;
} sl_rblock_t;

typedef struct sl_waiter {
    sl_conn_t *conn;
    uint64_t request_id;
    uint64_t upto;              /* the cut covers blocks up to this sequence */
    struct sl_waiter *next;
} sl_waiter_t;

struct sl_receiver {
    sl_worker_t *w;             /* owner, for the timer */
    char job[65], stream[65];
    uint32_t epoch, partitions;
    uint64_t block_ms;
    sl_rblock_t *open;          /* one per partition */
    uint32_t rr;
    uint64_t seq;
    sl_rblock_t *blocks, *blocks_tail;   /* cut, in sequence order */
    sl_seqset_t *seen;          /* pushes stored or buffered, this epoch and before */
    char **peers;
    size_t npeers;
    struct event *timer;
    sl_waiter_t *cuts;
    sl_wal_t *wal;              /* write-ahead log, or NULL; used on the replicator thread */
    bool stopped;               /* a last cut came: no more pushes */
};

/* --- acks ----------------------------------------------------------------------- */

static void sl_ack_send(sl_ack_t *a, sl_status_t st, const char *msg)
{
    if (!a->conn)
        return;
    Sluice__Envelope req = SLUICE__ENVELOPE__INIT;
    req.request_id = a->request_id;
    if (st != SL_OK) {
        sl_conn_reply_error(a->conn, &req, st, msg);
        return;
    }
    Sluice__Envelope env = SLUICE__ENVELOPE__INIT;
    Sluice__PushAck ack = SLUICE__PUSH_ACK__INIT;
    ack.records = a->records;
    ack.duplicate = a->duplicate;
    env.body_case = SLUICE__ENVELOPE__BODY_PUSH_ACK;
    env.push_ack = &ack;
    sl_conn_reply(a->conn, &req, &env, NULL, 0);
}

static void sl_acks_flush(sl_ack_t **list, sl_status_t st, const char *msg)
{
    while (*list) {
        sl_ack_t *a = *list;
        *list = a->next;
        sl_ack_send(a, st, msg);
        free(a);
    }
}

static sl_status_t sl_ack_add(sl_ack_t **list, sl_conn_t *c, const sl_envelope_t *req,
                              uint64_t records, bool duplicate)
{
    sl_ack_t *a = calloc(1, sizeof *a);
    if (!a)
        return SL_ERR_NOMEM;
    a->conn = c;
    a->request_id = req->request_id;
    a->records = records;
    a->duplicate = duplicate;
    a->next = *list;
    *list = a;
    return SL_OK;
}

/* --- lookup and life cycle ---------------------------------------------------------- */

static void sl_receiver_wal_close(sl_worker_t *w, sl_wal_t *wal);

sl_receiver_t *sl_receiver_find(sl_worker_t *w, const char *job, const char *stream)
{
    for (size_t i = 0; i < w->nreceivers; i++)
        if (strcmp(w->receivers[i]->job, job) == 0 && strcmp(w->receivers[i]->stream, stream) == 0)
            return w->receivers[i];
    return NULL;
}

static void sl_rblock_free(sl_rblock_t *b)
{
    sl_acks_flush(&b->acks, SL_ERR_CLOSED, "the receiver stopped");
    sl_bb_free(&b->bb);
    free(b->pushes);
}

static void sl_receiver_free(sl_receiver_t *r)
{
    if (!r)
        return;
    if (r->timer)
        event_free(r->timer);
    for (uint32_t p = 0; r->open && p < r->partitions; p++)
        sl_rblock_free(&r->open[p]);
    free(r->open);
    while (r->blocks) {
        sl_rblock_t *b = r->blocks;
        r->blocks = b->next;
        sl_rblock_free(b);
        free(b);
    }
    while (r->cuts) {
        sl_waiter_t *c = r->cuts;
        r->cuts = c->next;
        free(c);
    }
    sl_seqset_free(r->seen);
    sl_addr_list_free(r->peers);
    if (r->wal)
        sl_receiver_wal_close(r->w, r->wal);
    free(r);
}

void sl_receivers_stop(sl_worker_t *w, const char *job)
{
    size_t k = 0;
    for (size_t i = 0; i < w->nreceivers; i++) {
        sl_receiver_t *r = w->receivers[i];
        if (!job || strcmp(r->job, job) == 0) {
            sl_info("receiver", "stopping receiver %s/%s (epoch %u)", r->job, r->stream, r->epoch);
            sl_receiver_free(r);
        } else {
            w->receivers[k++] = r;
        }
    }
    w->nreceivers = k;
}

void sl_receivers_conn_closed(sl_worker_t *w, sl_conn_t *c)
{
    for (size_t i = 0; i < w->nreceivers; i++) {
        sl_receiver_t *r = w->receivers[i];
        for (uint32_t p = 0; p < r->partitions; p++)
            for (sl_ack_t *a = r->open[p].acks; a; a = a->next)
                if (a->conn == c)
                    a->conn = NULL;
        for (sl_rblock_t *b = r->blocks; b; b = b->next)
            for (sl_ack_t *a = b->acks; a; a = a->next)
                if (a->conn == c)
                    a->conn = NULL;
        for (sl_waiter_t *x = r->cuts; x; x = x->next)
            if (x->conn == c)
                x->conn = NULL;
    }
}

/* --- reporting cuts ----------------------------------------------------------------------- */

/* Describes cut block b in *bi: id, partition, records, bytes and the pushes
 * inside, which go into ps/pp (room for b->npushes; bi points at them). */
static void sl_rblock_describe(const sl_rblock_t *b, Sluice__BlockInfo *bi,
                               Sluice__ProducerSeq *ps, Sluice__ProducerSeq **pp)
{
    sluice__block_info__init(bi);
    bi->id = b->id;
    bi->partition = b->partition;
    bi->records = b->records;
    bi->bytes = b->bytes;
    for (size_t k = 0; k < b->npushes; k++) {
        sluice__producer_seq__init(&ps[k]);
        ps[k].producer = b->pushes[k].producer;
        ps[k].seq = b->pushes[k].seq;
        pp[k] = &ps[k];
    }
    bi->producers = pp;
    bi->n_producers = b->npushes;
}

static uint64_t sl_block_seq(const sl_rblock_t *b)
{
    return sl_block_id_seq(b->id);
}

/* Whether a block up to sequence `upto` is still being replicated. */
static bool sl_receiver_replicating(const sl_receiver_t *r, uint64_t upto)
{
    for (const sl_rblock_t *b = r->blocks; b && sl_block_seq(b) <= upto; b = b->next)
        if (b->replicating)
            return true;
    return false;
}

/* Sends one cut's answer: every block up to its sequence that the master has
 * not confirmed yet. They stay here until a later cut's acked_seq covers
 * them, so a reply lost on the way loses no block. */
static void sl_receiver_answer(sl_worker_t *w, sl_receiver_t *r, const sl_waiter_t *x)
{
    size_t n = 0, npush = 0;
    for (sl_rblock_t *b = r->blocks; b && sl_block_seq(b) <= x->upto; b = b->next) {
        n++;
        npush += b->npushes;
    }
    Sluice__BlockInfo *infos = calloc(n + 1, sizeof *infos);
    Sluice__BlockInfo **ptrs = calloc(n + 1, sizeof *ptrs);
    Sluice__ProducerSeq *pseqs = calloc(npush + 1, sizeof *pseqs);
    Sluice__ProducerSeq **pptrs = calloc(npush + 1, sizeof *pptrs);
    char **locptrs = calloc(2 * n + 1, sizeof *locptrs);
    Sluice__Envelope req = SLUICE__ENVELOPE__INIT;
    req.request_id = x->request_id;
    if (!infos || !ptrs || !pseqs || !pptrs || !locptrs) {
        sl_conn_reply_error(x->conn, &req, SL_ERR_NOMEM, "out of memory answering a cut");
        goto done;
    }
    size_t i = 0, pk = 0;
    for (sl_rblock_t *b = r->blocks; i < n; b = b->next, i++) {
        Sluice__BlockInfo *bi = &infos[i];
        sl_rblock_describe(b, bi, &pseqs[pk], &pptrs[pk]);
        pk += b->npushes;
        locptrs[2 * i] = (char *)w->address;
        locptrs[2 * i + 1] = b->replica;
        bi->locations = &locptrs[2 * i];
        bi->n_locations = b->replica[0] ? 2 : 1;
        ptrs[i] = bi;
    }
    Sluice__Envelope env = SLUICE__ENVELOPE__INIT;
    Sluice__CutBlocksReply reply = SLUICE__CUT_BLOCKS_REPLY__INIT;
    reply.blocks = ptrs;
    reply.n_blocks = n;
    env.body_case = SLUICE__ENVELOPE__BODY_CUT_BLOCKS_REPLY;
    env.cut_blocks_reply = &reply;
    sl_conn_reply(x->conn, &req, &env, NULL, 0);
done:
    free(infos);
    free(ptrs);
    free(pseqs);
    free(pptrs);
    free(locptrs);
}

/* Answers each waiting cut once the blocks it covers are replicated (blocks
 * cut after it arrived do not hold it up). */
static void sl_receiver_answer_cuts(sl_worker_t *w, sl_receiver_t *r)
{
    sl_waiter_t **px = &r->cuts;
    while (*px) {
        sl_waiter_t *x = *px;
        if (x->conn && sl_receiver_replicating(r, x->upto)) {
            px = &x->next;
            continue;
        }
        *px = x->next;
        if (x->conn)
            sl_receiver_answer(w, r, x);
        free(x);
    }
}

/* Forgets the blocks the master confirmed it has (sequence <= acked). */
static void sl_receiver_confirmed(sl_receiver_t *r, uint64_t acked_seq)
{
    while (r->blocks && !r->blocks->replicating && sl_block_seq(r->blocks) <= acked_seq) {
        sl_rblock_t *b = r->blocks;
        r->blocks = b->next;
        sl_rblock_free(b);
        free(b);
    }
    if (!r->blocks)
        r->blocks_tail = NULL;
}

/* --- replication (on the replicator thread) ---------------------------------------------- */

typedef struct {
    sl_worker_t *w;
    char job[65], stream[65];
    uint32_t epoch;
    Sluice__BlockInfo info;     /* id, partition, records, bytes, pushes inside */
    Sluice__ProducerSeq *pseqs; /* storage for info.producers */
    Sluice__ProducerSeq **pptrs;
    const sl_rbuf_t *data;
    char **peers;               /* copy; NULL: none */
    sl_wal_t *wal;              /* the receiver's log, or NULL */
    sl_status_t st;
    char replica[262];
    char err[SL_ERRMSG_LEN];
} sl_repl_t;

static void sl_repl_done(sl_worker_t *w, void *arg);

static bool sl_peer_down(sl_worker_t *w, const char *peer, uint64_t now)
{
    return (uintptr_t)sl_hmap_get(w->repl_down, peer, strlen(peer)) > now;
}

static void sl_peer_mark(sl_worker_t *w, const char *peer, bool down)
{
    if (!down) {
        sl_hmap_remove(w->repl_down, peer, strlen(peer));
        return;
    }
    bool created;
    uintptr_t *until = (uintptr_t *)sl_hmap_slot(w->repl_down, peer, strlen(peer), &created);
    if (until)
        *until = (uintptr_t)(sl_time_mono_ms() + SL_RCV_PEER_DOWN_MS);
}

/* Sends the block to the first of rp's peers that takes it, among those
 * that are (pass 0) or are not (pass 1) marked as failed lately. */
static void sl_repl_try(sl_worker_t *w, sl_repl_t *rp, int pass, uint64_t now)
{
    for (size_t i = 0; rp->peers && rp->peers[i] && rp->st != SL_OK; i++) {
        const char *peer = rp->peers[i];
        if (sl_peer_down(w, peer, now) != (pass == 1))
            continue;
        sl_sync_conn_t *c = sl_hmap_get(w->repl_conns, peer, strlen(peer));
        if (!c) {
            if (sl_sync_connect(peer, w->secret, SLUICE__ROLE__ROLE_WORKER, w->id,
                                SL_RCV_REPL_TIMEOUT_MS, &c, rp->err) != SL_OK) {
                sl_peer_mark(w, peer, true);
                continue;
            }
            bool created;
            void **slot = sl_hmap_slot(w->repl_conns, peer, strlen(peer), &created);
            if (slot)
                *slot = c;
        }
        Sluice__Envelope env = SLUICE__ENVELOPE__INIT;
        Sluice__ReplicateBlock rb = SLUICE__REPLICATE_BLOCK__INIT;
        rb.job_id = rp->job;
        rb.stream = rp->stream;
        rb.block = &rp->info;
        env.body_case = SLUICE__ENVELOPE__BODY_REPLICATE_BLOCK;
        env.replicate_block = &rb;
        sl_envelope_t *reply = NULL;
        uint8_t *rpl = NULL;
        size_t rlen = 0;
        sl_status_t st = sl_sync_call(c, &env, rp->data->data, rp->data->len, &reply, &rpl, &rlen,
                                      rp->err);
        sl_msg_free(reply);
        free(rpl);
        if (st == SL_OK) {
            rp->st = SL_OK;
            snprintf(rp->replica, sizeof rp->replica, "%s", peer);
            sl_peer_mark(w, peer, false);
        } else if (st != SL_ERR_INVALID) {
            /* Broken connection: forget it, the next block reconnects. */
            sl_hmap_remove(w->repl_conns, peer, strlen(peer));
            sl_sync_close(c);
            sl_peer_mark(w, peer, true);
        }
    }
}

/* Appends the block to the write-ahead log (on the replicator thread). */
static sl_status_t sl_repl_log(sl_repl_t *rp)
{
    size_t ilen = sluice__block_info__get_packed_size(&rp->info);
    uint8_t *info = malloc(ilen + 1);
    if (!info) {
        snprintf(rp->err, sizeof rp->err, "out of memory writing the write-ahead log");
        return SL_ERR_NOMEM;
    }
    sluice__block_info__pack(&rp->info, info);
    sl_status_t st = sl_wal_append(rp->wal, rp->info.id, info, ilen, rp->data->data, rp->data->len,
                                   rp->err);
    free(info);
    return st;
}

/* Replicator thread: the log first when there is one (it alone makes the
 * block safe), then peers that have not failed lately, then the rest. */
static void sl_repl_run(void *arg)
{
    sl_repl_t *rp = arg;
    sl_worker_t *w = rp->w;
    uint64_t now = sl_time_mono_ms();
    rp->st = SL_ERR_UNAVAILABLE;
    if (rp->wal && (rp->st = sl_repl_log(rp)) != SL_OK) {
        sl_worker_post(w, sl_repl_done, rp);
        return;
    }
    bool logged = rp->wal != NULL;
    if (rp->peers && rp->peers[0]) {
        rp->st = SL_ERR_UNAVAILABLE;
        sl_repl_try(w, rp, 0, now);
        if (rp->st != SL_OK)
            sl_repl_try(w, rp, 1, now);
        if (rp->st != SL_OK && logged) {
            sl_warn("receiver", "%s/%s: block %llu is in the write-ahead log but on no second "
                    "worker: %s", rp->job, rp->stream, (unsigned long long)rp->info.id, rp->err);
            rp->st = SL_OK;
        }
    }
    sl_worker_post(w, sl_repl_done, rp);
}

static void sl_wal_close_job(void *arg)
{
    sl_wal_close(arg);
}

/* Closes a receiver's log after the replicator thread is done with the
 * blocks queued before (it runs jobs in order). */
static void sl_receiver_wal_close(sl_worker_t *w, sl_wal_t *wal)
{
    if (sl_executor_submit(w->replicator, sl_wal_close_job, wal) != SL_OK)
        sl_warn("receiver", "cannot hand a write-ahead log to the replicator to close it");
}

typedef struct {
    sl_wal_t *wal;
    uint64_t upto;
    char job[65], stream[65];
} sl_wal_trim_t;

static void sl_wal_trim_job(void *arg)
{
    sl_wal_trim_t *t = arg;
    char err[SL_ERRMSG_LEN];
    if (sl_wal_trim(t->wal, t->upto, err) != SL_OK)
        sl_warn("receiver", "%s/%s: trimming the write-ahead log: %s", t->job, t->stream, err);
    free(t);
}

static void sl_repl_free(sl_repl_t *rp)
{
    free(rp->pseqs);
    free(rp->pptrs);
    sl_store_release(rp->data);
    sl_addr_list_free(rp->peers);
    free(rp);
}

static sl_rblock_t *sl_receiver_block(sl_receiver_t *r, uint64_t id)
{
    for (sl_rblock_t *b = r->blocks; b; b = b->next)
        if (b->id == id)
            return b;
    return NULL;
}

static void sl_repl_done(sl_worker_t *w, void *arg)
{
    sl_repl_t *rp = arg;
    sl_receiver_t *r = sl_receiver_find(w, rp->job, rp->stream);
    sl_rblock_t *b = r && r->epoch == rp->epoch ? sl_receiver_block(r, rp->info.id) : NULL;
    if (b) {
        b->replicating = false;
        if (rp->st == SL_OK) {
            snprintf(b->replica, sizeof b->replica, "%s", rp->replica);
            sl_acks_flush(&b->acks, SL_OK, NULL);
        } else {
            b->unreplicated = true;   /* a retried push will replicate it again */
            char msg[SL_ERRMSG_LEN];
            snprintf(msg, sizeof msg, "block could not be %s: %.200s",
                     rp->wal ? "logged" : "replicated", rp->err[0] ? rp->err : "no peer reachable");
            sl_warn("receiver", "%s/%s: %s", rp->job, rp->stream, msg);
            sl_acks_flush(&b->acks, SL_ERR_UNAVAILABLE, msg);
        }
        sl_receiver_answer_cuts(w, r);
    }
    sl_repl_free(rp);
}

static void sl_receiver_replicate(sl_worker_t *w, sl_receiver_t *r, sl_rblock_t *b)
{
    sl_repl_t *rp = calloc(1, sizeof *rp);
    char **peers = NULL;
    size_t n = 0;
    bool peers_ok = r->npeers == 0;
    if (rp && r->npeers) {
        /* Copy the peer list for the other thread. */
        size_t len = 0;
        for (size_t i = 0; i < r->npeers; i++)
            len += strlen(r->peers[i]) + 1;
        char *joined = malloc(len);
        if (joined) {
            joined[0] = 0;
            for (size_t i = 0; i < r->npeers; i++) {
                strcat(joined, r->peers[i]);
                if (i + 1 < r->npeers)
                    strcat(joined, ",");
            }
            peers_ok = sl_parse_addr_list(joined, &peers, &n, NULL) == SL_OK;
            free(joined);
        }
    }
    if (rp) {
        rp->peers = peers;
        rp->pseqs = calloc(b->npushes + 1, sizeof *rp->pseqs);
        rp->pptrs = calloc(b->npushes + 1, sizeof *rp->pptrs);
    }
    if (!rp || !peers_ok || !rp->pseqs || !rp->pptrs) {
        if (rp)
            sl_repl_free(rp);
        else
            sl_addr_list_free(peers);
        b->replicating = false;
        sl_acks_flush(&b->acks, SL_ERR_NOMEM, "out of memory replicating");
        return;
    }
    snprintf(rp->job, sizeof rp->job, "%s", r->job);
    snprintf(rp->stream, sizeof rp->stream, "%s", r->stream);
    rp->epoch = r->epoch;
    /* The replica holder keeps the pushes inside, so a receiver that moves
     * still recognises them when they are retried. */
    sl_rblock_describe(b, &rp->info, rp->pseqs, rp->pptrs);
    rp->wal = r->wal;
    rp->data = sl_store_get_block(w->store, r->job, r->stream, b->id);
    rp->w = w;
    if (!rp->data || sl_executor_submit(w->replicator, sl_repl_run, rp) != SL_OK) {
        rp->st = SL_ERR_INTERNAL;
        snprintf(rp->err, sizeof rp->err, "block vanished before replication");
        sl_repl_done(w, rp);
    }
}

/* --- cutting -------------------------------------------------------------------------- */

/* Turns every non-empty open buffer into a stored block. */
static void sl_receiver_cut_now(sl_worker_t *w, sl_receiver_t *r)
{
    for (uint32_t p = 0; p < r->partitions; p++) {
        sl_rblock_t *open = &r->open[p];
        if (open->bb.count == 0 && !open->acks)
            continue;
        sl_rblock_t *b = calloc(1, sizeof *b);
        uint8_t *data = NULL;
        size_t len = 0;
        if (!b || sl_bb_finish(&open->bb, &data, &len) != SL_OK) {
            free(b);
            sl_acks_flush(&open->acks, SL_ERR_NOMEM, "out of memory cutting a block");
            continue;
        }
        b->id = sl_block_id(r->epoch, ++r->seq);
        b->partition = p;
        b->records = open->records;
        b->bytes = len;
        b->pushes = open->pushes;
        b->npushes = open->npushes;
        b->cappushes = open->cappushes;
        open->pushes = NULL;
        open->npushes = open->cappushes = 0;
        b->acks = open->acks;
        open->acks = NULL;
        open->records = 0;
        /* The stored info carries the pushes inside, so that a master that
         * collects this block after losing the receiver knows them. */
        Sluice__BlockInfo info;
        Sluice__ProducerSeq *pseqs = calloc(b->npushes + 1, sizeof *pseqs);
        Sluice__ProducerSeq **pptrs = calloc(b->npushes + 1, sizeof *pptrs);
        sl_status_t put = SL_ERR_NOMEM;
        if (pseqs && pptrs) {
            sl_rblock_describe(b, &info, pseqs, pptrs);
            put = sl_store_put_block(w->store, r->job, r->stream, &info, data, len);
        } else {
            free(data);
        }
        free(pseqs);
        free(pptrs);
        if (put != SL_OK) {
            sl_acks_flush(&b->acks, SL_ERR_NOMEM, "out of memory storing a block");
            sl_rblock_free(b);
            free(b);
            continue;
        }
        if (r->blocks_tail)
            r->blocks_tail->next = b;
        else
            r->blocks = b;
        r->blocks_tail = b;
        if (r->npeers || r->wal) {
            b->replicating = true;
            sl_receiver_replicate(w, r, b);
        } else {
            sl_acks_flush(&b->acks, SL_OK, NULL);   /* a one-worker cluster: no replica */
        }
    }
    sl_receiver_answer_cuts(w, r);
}

/* Backpressure: while the worker holds more than half its memory in blocks
 * and shuffle data, receivers stop cutting on their own (so they stop acking,
 * and pushers, whose unacked window is bounded, wait). The master's cuts at
 * batch boundaries still happen, so acks follow the pace of the batches
 * instead of memory growing without bound. */
static bool sl_receiver_backpressure(const sl_worker_t *w)
{
    return sl_store_bytes(w->store) > w->opts.memory_bytes / 2;
}

static void sl_receiver_timer_cb(evutil_socket_t fd, short what, void *arg)
{
    sl_receiver_t *r = arg;
    if (!sl_receiver_backpressure(r->w))
        sl_receiver_cut_now(r->w, r);
}

void sl_receiver_cut(sl_worker_t *w, sl_receiver_t *r, sl_conn_t *c, const sl_envelope_t *req)
{
    if (req->cut_blocks->epoch != r->epoch) {
        char msg[SL_ERRMSG_LEN];
        snprintf(msg, sizeof msg, "receiver %.64s/%.64s is at epoch %u, not %u", r->job, r->stream,
                 r->epoch, req->cut_blocks->epoch);
        sl_conn_reply_error(c, req, SL_ERR_NOT_FOUND, msg);
        return;
    }
    sl_receiver_confirmed(r, req->cut_blocks->acked_seq);
    if (r->wal && req->cut_blocks->done_seq) {
        sl_wal_trim_t *t = calloc(1, sizeof *t);
        if (t) {
            t->wal = r->wal;
            t->upto = req->cut_blocks->done_seq;
            snprintf(t->job, sizeof t->job, "%s", r->job);
            snprintf(t->stream, sizeof t->stream, "%s", r->stream);
            if (sl_executor_submit(w->replicator, sl_wal_trim_job, t) != SL_OK)
                free(t);
        }
    }
    sl_waiter_t *x = calloc(1, sizeof *x);
    if (!x) {
        sl_conn_reply_error(c, req, SL_ERR_NOMEM, "out of memory");
        return;
    }
    sl_receiver_cut_now(w, r);
    if (req->cut_blocks->last && !r->stopped) {
        r->stopped = true;
        sl_info("receiver", "%s/%s: last cut: taking no more pushes", r->job, r->stream);
    }
    /* This cut covers what is cut by now; it is answered once that much is
     * replicated (at once when nothing is in flight). */
    x->conn = c;
    x->request_id = req->request_id;
    x->upto = r->seq;
    x->next = r->cuts;
    r->cuts = x;
    sl_receiver_answer_cuts(w, r);
}

/* --- pushes ----------------------------------------------------------------------------- */

static sl_status_t sl_note_push(sl_rblock_t *b, uint64_t producer, uint64_t seq)
{
    if (b->npushes == b->cappushes) {
        size_t cap = b->cappushes ? b->cappushes * 2 : 8;
        sl_pseq_t *np = realloc(b->pushes, cap * sizeof *np);
        if (!np)
            return SL_ERR_NOMEM;
        b->pushes = np;
        b->cappushes = cap;
    }
    b->pushes[b->npushes++] = (sl_pseq_t){ producer, seq };
    return SL_OK;
}

static bool sl_holds_push(const sl_rblock_t *b, uint64_t producer, uint64_t seq)
{
    for (size_t i = 0; i < b->npushes; i++)
        if (b->pushes[i].producer == producer && b->pushes[i].seq == seq)
            return true;
    return false;
}

/* A retried push this receiver already has: ack it together with the block
 * that holds it once that block is replicated (replicating it again if that
 * failed before), or now if it is already safe (replicated, or stored by an
 * earlier epoch). Never an ack for a push with only one copy. */
static void sl_receiver_duplicate(sl_worker_t *w, sl_receiver_t *r, sl_conn_t *c,
                                  const sl_envelope_t *req, uint64_t producer, uint64_t seq)
{
    for (uint32_t p = 0; p < r->partitions; p++)
        if (sl_holds_push(&r->open[p], producer, seq) &&
            sl_ack_add(&r->open[p].acks, c, req, 0, true) == SL_OK)
            return;
    for (sl_rblock_t *b = r->blocks; b; b = b->next) {
        if (!sl_holds_push(b, producer, seq) || !(b->replicating || b->unreplicated))
            continue;
        if (sl_ack_add(&b->acks, c, req, 0, true) != SL_OK)
            break;
        if (b->unreplicated) {
            b->unreplicated = false;
            b->replicating = true;
            sl_receiver_replicate(w, r, b);
        }
        return;
    }
    sl_ack_t a = { .conn = c, .request_id = req->request_id, .duplicate = true };
    sl_ack_send(&a, SL_OK, NULL);
}

void sl_receiver_push(sl_worker_t *w, sl_receiver_t *r, sl_conn_t *c, const sl_envelope_t *req,
                      const uint8_t *payload, size_t len)
{
    char err[SL_ERRMSG_LEN] = "";
    sl_block_iter_t it;
    if (sl_block_open(payload, len, true, &it, err) != SL_OK) {
        char msg[SL_ERRMSG_LEN];
        snprintf(msg, sizeof msg, "pushed block is invalid: %.200s", err);
        sl_warn("receiver", "%s from %s", msg, sl_conn_peer(c));
        sl_conn_reply_error(c, req, SL_ERR_DECODE, msg);
        return;
    }
    /* Walk every record once so a malformed block never reaches a task. */
    sl_record_t rec;
    int rc;
    uint64_t n = 0;
    while ((rc = sl_block_next(&it, &rec)) == 1)
        n++;
    if (rc < 0 || n != it.count) {
        sl_warn("receiver", "corrupt records in a push from %s", sl_conn_peer(c));
        sl_conn_reply_error(c, req, SL_ERR_DECODE, "pushed block has corrupt records");
        return;
    }
    const Sluice__Push *push = req->push;
    if (push->seq != 0 && sl_seqset_has(r->seen, push->producer, push->seq)) {
        sl_receiver_duplicate(w, r, c, req, push->producer, push->seq);
        return;
    }
    if (r->stopped) {
        sl_conn_reply_error(c, req, SL_ERR_UNAVAILABLE, "the receiver takes no more pushes: the "
                            "job or the master is stopping");
        return;
    }
    sl_rblock_t *open = &r->open[r->rr++ % r->partitions];
    if (push->seq != 0 && (sl_seqset_add(r->seen, push->producer, push->seq) != SL_OK ||
                           sl_note_push(open, push->producer, push->seq) != SL_OK)) {
        sl_conn_reply_error(c, req, SL_ERR_NOMEM, "out of memory");
        return;
    }
    if (sl_bb_append_block(&open->bb, payload, len) != SL_OK ||
        sl_ack_add(&open->acks, c, req, n, false) != SL_OK) {
        sl_conn_reply_error(c, req, SL_ERR_NOMEM, "out of memory");
        return;
    }
    open->records += n;
    if (sl_bb_bytes(&open->bb) >= SL_RCV_MAX_BLOCK && !sl_receiver_backpressure(w))
        sl_receiver_cut_now(w, r);
}

sl_status_t sl_receiver_start(sl_worker_t *w, const Sluice__StartReceiver *req, char *err)
{
    sl_receiver_t *old = sl_receiver_find(w, req->job_id, req->stream);
    if (old && old->epoch == req->epoch) {
        /* The same receiver again: the cluster changed, take the new peers. */
        sl_addr_list_free(old->peers);
        old->peers = calloc(req->n_replica_peers + 1, sizeof *old->peers);
        old->npeers = 0;
        for (size_t i = 0; old->peers && i < req->n_replica_peers; i++)
            if (strcmp(req->replica_peers[i], w->address) != 0)
                old->peers[old->npeers++] = strdup(req->replica_peers[i]);
        return SL_OK;
    }
    if (old) {
        for (size_t i = 0; i < w->nreceivers; i++)
            if (w->receivers[i] == old)
                w->receivers[i] = w->receivers[--w->nreceivers];
        sl_receiver_free(old);
    }
    sl_receiver_t *r = calloc(1, sizeof *r);
    sl_receiver_t **nr = realloc(w->receivers, (w->nreceivers + 1) * sizeof *nr);
    if (!r || !nr) {
        free(r);
        snprintf(err, SL_ERRMSG_LEN, "out of memory");
        return SL_ERR_NOMEM;
    }
    w->receivers = nr;
    snprintf(r->job, sizeof r->job, "%s", req->job_id);
    snprintf(r->stream, sizeof r->stream, "%s", req->stream);
    r->epoch = req->epoch;
    r->partitions = req->partitions ? req->partitions : 1;
    r->block_ms = req->block_ms ? req->block_ms : 200;
    r->open = calloc(r->partitions, sizeof *r->open);
    r->seen = sl_seqset_new();
    r->w = w;
    r->timer = event_new(w->base, -1, EV_PERSIST, sl_receiver_timer_cb, r);
    if (!r->open || !r->seen || !r->timer) {
        sl_receiver_free(r);
        snprintf(err, SL_ERRMSG_LEN, "out of memory");
        return SL_ERR_NOMEM;
    }
    for (uint32_t p = 0; p < r->partitions; p++)
        sl_bb_init(&r->open[p].bb);
    for (size_t i = 0; i < req->n_producers; i++) {
        const Sluice__ProducerSeq *ps = req->producers[i];
        if (sl_seqset_put(r->seen, ps->producer, ps->seq, ps->upto) != SL_OK) {
            sl_receiver_free(r);
            snprintf(err, SL_ERRMSG_LEN, "out of memory");
            return SL_ERR_NOMEM;
        }
    }
    if (req->wal_root && req->wal_root[0] &&
        sl_wal_open(req->wal_root, r->job, r->stream, r->epoch, &r->wal, err) != SL_OK) {
        sl_receiver_free(r);
        return SL_ERR_IO;
    }
    if (req->n_replica_peers) {
        r->peers = calloc(req->n_replica_peers + 1, sizeof *r->peers);
        for (size_t i = 0; r->peers && i < req->n_replica_peers; i++)
            if (strcmp(req->replica_peers[i], w->address) != 0)
                r->peers[r->npeers++] = strdup(req->replica_peers[i]);
    }
    w->receivers[w->nreceivers++] = r;
    struct timeval tv = sl_time_tv(r->block_ms);
    event_add(r->timer, &tv);
    sl_info("receiver", "receiver %s/%s started (epoch %u, %u partitions, block %llu ms, %zu "
            "replica peers%s)", r->job, r->stream, r->epoch, r->partitions,
            (unsigned long long)r->block_ms, r->npeers, r->wal ? ", write-ahead log" : "");
    return SL_OK;
}
