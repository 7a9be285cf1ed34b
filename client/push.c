/* The pusher: records to the worker hosting a stream's receiver. One pusher
 * per (job, stream) appends records to a block builder, sends ~256 KiB blocks
 * as Push requests (producer id + sequence number), keeps each block until
 * its PushAck, bounds the unacknowledged blocks (backpressure), and after a
 * failure locates the receiver again and re-sends the unacknowledged blocks
 * in order under their old sequence numbers, which lets the receiver drop
 * the ones it already stored.
 *
 * Callbacks only record what happened; locating (a blocking call to the
 * master) and waiting happen in the public calls, never inside a callback. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "block.h"
#include "client-internal.h"
#include "parse.h"
#include "timeutil.h"

#define SL_PUSH_BLOCK_BYTES (256u * 1024u)
#define SL_PUSH_WINDOW 16
#define SL_PUSH_MAX_RECORD (16u * 1024u * 1024u)
#define SL_PUSH_BACKOFF_MIN_MS 100
#define SL_PUSH_BACKOFF_MAX_MS 1000

typedef struct sl_push_block {
    sl_pusher_t *p;
    uint64_t seq;
    uint8_t *data;              /* the finished block, owned */
    size_t len;
    uint32_t records;
    bool in_flight;             /* a request for it is pending on p->conn */
    bool sent;                  /* sent at least once (a re-send counts) */
    struct sl_push_block *prev, *next;
} sl_push_block_t;

typedef enum {
    SL_PUSHER_IDLE,             /* no connection: locate the receiver first */
    SL_PUSHER_CONNECTING,       /* handshaking with the receiver's worker */
    SL_PUSHER_READY,
} sl_pusher_state_t;

struct sl_pusher {
    sl_client_t *cl;
    char *job_id;
    char *stream;
    sl_block_builder_t bb;      /* records not cut into a block yet */
    uint64_t next_seq;
    sl_pusher_state_t state;
    sl_conn_t *conn;
    char address[262];          /* of the receiver's worker, last located */
    uint32_t epoch;
    sl_push_block_t *head, *tail;   /* unacknowledged blocks in seq order */
    size_t unacked;
    uint64_t unacked_records;
    uint64_t stall_since;       /* blocks wait and none was acked since */
    bool failing;               /* failures since the last ack */
    uint64_t retry_at;          /* next locate attempt while IDLE */
    uint64_t backoff_ms;
    char last_msg[SL_ERRMSG_LEN];   /* the last retryable failure */
    sl_status_t fatal_st;       /* a failure no retry cures, not reported yet */
    char fatal_msg[SL_ERRMSG_LEN];
    uint64_t acked_records;
    uint64_t resent_blocks;
    sl_pusher_t *next;
};

/* Failures that pass: the worker went away, is slow or short of memory, or
 * no longer hosts the receiver (it moved after a failure); the master knows
 * where it is now. */
static bool sl_push_retryable(sl_status_t st)
{
    return st == SL_ERR_CLOSED || st == SL_ERR_TIMEOUT || st == SL_ERR_UNAVAILABLE ||
           st == SL_ERR_IO || st == SL_ERR_NOT_FOUND || st == SL_ERR_NOMEM;
}

/* The same for the master's answer to LocateStream: there NOT_FOUND is final
 * (no such job or stream). */
static bool sl_locate_retryable(sl_status_t st)
{
    return st == SL_ERR_CLOSED || st == SL_ERR_TIMEOUT || st == SL_ERR_UNAVAILABLE ||
           st == SL_ERR_IO;
}

static void sl_pusher_fatal(sl_pusher_t *p, sl_status_t st, const char *why)
{
    if (p->fatal_st != SL_OK)
        return;
    p->fatal_st = st;
    sl_errf(p->fatal_msg, "push to job '%s' stream '%s': %s", p->job_id, p->stream, why);
}

static void sl_pusher_note(sl_pusher_t *p, const char *why)
{
    sl_errf(p->last_msg, "%s", why);
}

/* Schedules the next locate attempt: at once after the first failure, then
 * 100 ms doubling to 1 s. */
static void sl_pusher_schedule_retry(sl_pusher_t *p)
{
    uint64_t now = sl_time_mono_ms();
    if (!p->failing) {
        p->failing = true;
        p->backoff_ms = SL_PUSH_BACKOFF_MIN_MS;
        p->retry_at = now;
        return;
    }
    p->retry_at = now + p->backoff_ms;
    p->backoff_ms = p->backoff_ms * 2 > SL_PUSH_BACKOFF_MAX_MS ? SL_PUSH_BACKOFF_MAX_MS
                                                               : p->backoff_ms * 2;
}

static void sl_push_block_unlink(sl_pusher_t *p, sl_push_block_t *b)
{
    if (b->prev)
        b->prev->next = b->next;
    else
        p->head = b->next;
    if (b->next)
        b->next->prev = b->prev;
    else
        p->tail = b->prev;
    p->unacked--;
    p->unacked_records -= b->records;
}

static void sl_push_block_free(sl_push_block_t *b)
{
    free(b->data);
    free(b);
}

/* Drops what the pusher holds (after an error no retry cures). Outside
 * callbacks only: frees the connection, which fails its pending pushes. */
static void sl_pusher_discard(sl_pusher_t *p)
{
    if (p->conn) {
        sl_conn_t *c = p->conn;
        p->conn = NULL;
        p->state = SL_PUSHER_IDLE;
        sl_conn_free(c);
    }
    while (p->head) {
        sl_push_block_t *b = p->head;
        sl_push_block_unlink(p, b);
        sl_push_block_free(b);
    }
    sl_bb_free(&p->bb);
    sl_bb_init(&p->bb);
    p->failing = false;
    p->last_msg[0] = '\0';
}

static sl_status_t sl_pusher_report_fatal(sl_pusher_t *p, char *err)
{
    sl_status_t st = p->fatal_st;
    sl_errf(err, "%s", p->fatal_msg);
    sl_pusher_discard(p);
    p->fatal_st = SL_OK;
    p->fatal_msg[0] = '\0';
    return st;
}

/* --- the receiver connection ----------------------------------------------------- */

static void sl_push_on_ack(sl_conn_t *c, sl_status_t st, const sl_envelope_t *reply,
                           const uint8_t *payload, size_t len, const char *msg, void *arg)
{
    sl_push_block_t *b = arg;
    sl_pusher_t *p = b->p;
    char why[SL_ERRMSG_LEN];
    b->in_flight = false;
    if (st == SL_OK && reply->body_case != SLUICE__ENVELOPE__BODY_PUSH_ACK) {
        st = SL_ERR_PROTOCOL;
        msg = "answered a push with something else than an ack";
    }
    if (st == SL_OK) {
        sl_push_block_unlink(p, b);
        p->acked_records += b->records;
        p->failing = false;
        p->last_msg[0] = '\0';
        p->stall_since = sl_time_mono_ms();
        sl_push_block_free(b);
        return;
    }
    /* Start over on a fresh connection, so that blocks go out in order. */
    if (p->conn == c)
        sl_conn_close(c);
    sl_errf(why, "%s: %s", sl_conn_peer(c), msg);
    if (sl_push_retryable(st))
        sl_pusher_note(p, why);
    else
        sl_pusher_fatal(p, st, why);
}

/* Sends every block not in flight, in seq order. Safe from callbacks. */
static void sl_pusher_send(sl_pusher_t *p)
{
    for (sl_push_block_t *b = p->head; b && p->state == SL_PUSHER_READY; b = b->next) {
        if (b->in_flight)
            continue;
        Sluice__Envelope env = SLUICE__ENVELOPE__INIT;
        Sluice__Push req = SLUICE__PUSH__INIT;
        req.job_id = p->job_id;
        req.stream = p->stream;
        req.producer = p->cl->producer;
        req.seq = b->seq;
        env.body_case = SLUICE__ENVELOPE__BODY_PUSH;
        env.push = &req;
        sl_status_t st = sl_conn_request(p->conn, &env, b->data, b->len, p->cl->timeout_ms,
                                         sl_push_on_ack, b);
        if (st != SL_OK) {
            char why[SL_ERRMSG_LEN];
            sl_errf(why, "cannot send to %s: %s", p->address, sl_strerror(st));
            if (sl_push_retryable(st))
                sl_pusher_note(p, why);
            else
                sl_pusher_fatal(p, st, why);
            sl_conn_close(p->conn);
            return;
        }
        b->in_flight = true;
        if (b->sent)
            p->resent_blocks++;
        b->sent = true;
    }
}

static void sl_push_on_ready(sl_conn_t *c, void *arg)
{
    sl_pusher_t *p = arg;
    if (p->conn != c)
        return;
    p->state = SL_PUSHER_READY;
    sl_pusher_send(p);
}

static void sl_push_on_close(sl_conn_t *c, sl_status_t why, const char *msg, void *arg)
{
    sl_pusher_t *p = arg;
    if (p->conn != c)
        return;
    p->conn = NULL;
    p->state = SL_PUSHER_IDLE;
    /* SL_OK: we closed it after a failed push, whose reason is noted. */
    if (why != SL_OK) {
        char text[SL_ERRMSG_LEN];
        sl_errf(text, "%s: %s", p->address, msg);
        if (sl_push_retryable(why))
            sl_pusher_note(p, text);
        else
            sl_pusher_fatal(p, why, text);
    }
    if (p->unacked)
        sl_pusher_schedule_retry(p);
}

static const sl_conn_handlers_t sl_push_handlers = {
    .on_ready = sl_push_on_ready,
    .on_close = sl_push_on_close,
};

/* --- driving (outside callbacks) ----------------------------------------------------- */

/* Asks the master where the receiver is and starts connecting to it. */
static sl_status_t sl_pusher_locate(sl_pusher_t *p, char *err)
{
    sl_client_t *cl = p->cl;
    Sluice__Envelope env = SLUICE__ENVELOPE__INIT;
    Sluice__LocateStream req = SLUICE__LOCATE_STREAM__INIT;
    req.job_id = p->job_id;
    req.stream = p->stream;
    env.body_case = SLUICE__ENVELOPE__BODY_LOCATE_STREAM;
    env.locate_stream = &req;
    sl_envelope_t *reply = NULL;
    char why[SL_ERRMSG_LEN];
    sl_status_t st = sl_client_call(cl, &env, NULL, 0, 0, &reply, why);
    if (st != SL_OK) {
        if (!sl_locate_retryable(st)) {
            sl_pusher_fatal(p, st, cl->msg);
            return sl_pusher_report_fatal(p, err);
        }
        sl_pusher_note(p, why);
        sl_pusher_schedule_retry(p);
        return SL_OK;
    }
    if (reply->body_case != SLUICE__ENVELOPE__BODY_STREAM_LOCATION) {
        sl_errf(why, "%s answered LocateStream with '%s'", cl->master,
                sl_msg_name(reply->body_case));
        sl_msg_free(reply);
        sl_pusher_fatal(p, SL_ERR_PROTOCOL, why);
        return sl_pusher_report_fatal(p, err);
    }
    snprintf(p->address, sizeof p->address, "%s", reply->stream_location->address);
    p->epoch = reply->stream_location->epoch;
    sl_msg_free(reply);
    if (!p->address[0]) {
        sl_pusher_note(p, "the master has not placed the receiver yet");
        sl_pusher_schedule_retry(p);
        return SL_OK;
    }
    sl_conn_opts_t o = {
        .handshake_timeout_ms = cl->timeout_ms,
        .secret = cl->secret,
        .role = SLUICE__ROLE__ROLE_CLIENT,
        .name = "sluice-client",
        .component = "client",
    };
    why[0] = '\0';
    p->conn = sl_conn_connect(cl->base, p->address, &o, &sl_push_handlers, p, why);
    if (!p->conn) {
        sl_pusher_note(p, why);
        sl_pusher_schedule_retry(p);
        return SL_OK;
    }
    p->state = SL_PUSHER_CONNECTING;
    return SL_OK;
}

/* Moves the pusher on: reports a pending fatal error, or (re)locates the
 * receiver when blocks wait and the backoff allows. */
static sl_status_t sl_pusher_drive(sl_pusher_t *p, char *err)
{
    if (p->fatal_st != SL_OK)
        return sl_pusher_report_fatal(p, err);
    if (p->state != SL_PUSHER_IDLE || !p->unacked)
        return SL_OK;
    if (sl_time_mono_ms() < p->retry_at)
        return SL_OK;
    return sl_pusher_locate(p, err);
}

static bool sl_pusher_stalled(const sl_pusher_t *p, uint64_t now)
{
    return p->unacked && now - p->stall_since >= p->cl->timeout_ms;
}

static sl_status_t sl_pusher_timeout(sl_pusher_t *p, char *err)
{
    char d[32];
    sl_format_duration_ms(p->cl->timeout_ms, d, sizeof d);
    if (p->last_msg[0])
        sl_errf(err, "push to job '%s' stream '%s': no acknowledgement for %s (last error: %s)",
                p->job_id, p->stream, d, p->last_msg);
    else
        sl_errf(err, "push to job '%s' stream '%s': no acknowledgement from %s for %s", p->job_id,
                p->stream, p->address[0] ? p->address : "the receiver", d);
    /* The records stay; a later call starts a new window. */
    p->stall_since = sl_time_mono_ms();
    return SL_ERR_TIMEOUT;
}

/* How long the loop may sleep for this pusher. */
static uint64_t sl_pusher_wait_ms(const sl_pusher_t *p, uint64_t now)
{
    if (!p->unacked)
        return UINT64_MAX;
    uint64_t end = p->stall_since + p->cl->timeout_ms;
    uint64_t wait = end > now ? end - now : 0;
    if (p->state == SL_PUSHER_IDLE && p->retry_at > now && p->retry_at - now < wait)
        wait = p->retry_at - now;
    return wait;
}

/* Waits until pusher p has fewer than SL_PUSH_WINDOW blocks unacknowledged. */
static sl_status_t sl_pusher_wait_window(sl_pusher_t *p, char *err)
{
    while (p->unacked >= SL_PUSH_WINDOW || p->fatal_st != SL_OK) {
        sl_status_t st = sl_pusher_drive(p, err);
        if (st != SL_OK)
            return st;
        uint64_t now = sl_time_mono_ms();
        if (sl_pusher_stalled(p, now))
            return sl_pusher_timeout(p, err);
        if (p->unacked >= SL_PUSH_WINDOW)
            sl_client_run_once(p->cl, sl_pusher_wait_ms(p, now));
    }
    return SL_OK;
}

/* Cuts the builder's records into a block and sends it (or queues it until
 * the connection is ready). */
static sl_status_t sl_pusher_cut(sl_pusher_t *p, char *err)
{
    if (!p->bb.count)
        return SL_OK;
    sl_status_t st = sl_pusher_wait_window(p, err);
    if (st != SL_OK)
        return st;
    sl_push_block_t *b = calloc(1, sizeof *b);
    if (!b) {
        sl_errf(err, "out of memory");
        return SL_ERR_NOMEM;
    }
    b->p = p;
    b->records = p->bb.count;
    st = sl_bb_finish(&p->bb, &b->data, &b->len);
    if (st != SL_OK) {
        sl_errf(err, "cannot finish a block of %u records: %s", b->records, sl_strerror(st));
        free(b);
        return st;
    }
    b->seq = p->next_seq++;
    b->prev = p->tail;
    if (p->tail)
        p->tail->next = b;
    else
        p->head = b;
    p->tail = b;
    if (!p->unacked)
        p->stall_since = sl_time_mono_ms();
    p->unacked++;
    p->unacked_records += b->records;
    if (p->state == SL_PUSHER_READY)
        sl_pusher_send(p);
    return sl_pusher_drive(p, err);
}

static sl_pusher_t *sl_pusher_get(sl_client_t *cl, const char *job_id, const char *stream)
{
    sl_pusher_t *p = cl->last_pusher;
    if (p && strcmp(p->stream, stream) == 0 && strcmp(p->job_id, job_id) == 0)
        return p;
    for (p = cl->pushers; p; p = p->next)
        if (strcmp(p->stream, stream) == 0 && strcmp(p->job_id, job_id) == 0)
            return cl->last_pusher = p;
    p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->cl = cl;
    p->job_id = strdup(job_id);
    p->stream = strdup(stream);
    if (!p->job_id || !p->stream) {
        free(p->job_id);
        free(p->stream);
        free(p);
        return NULL;
    }
    sl_bb_init(&p->bb);
    p->next_seq = 1;
    p->next = cl->pushers;
    cl->pushers = p;
    return cl->last_pusher = p;
}

/* --- the public calls ------------------------------------------------------------------ */

static sl_status_t sl_push_record(sl_client_t *cl, const char *job_id, const char *stream,
                                  const void *key, size_t key_len, sl_value_t v, char *err)
{
    if (!job_id || !*job_id || !stream || !*stream) {
        sl_errf(err, "push: %s", !job_id || !*job_id ? "no job id given" : "no stream given");
        return SL_ERR_INVALID;
    }
    size_t vlen = v.type == SL_VAL_BYTES ? v.u.b.len : 8;
    if (key_len > SL_PUSH_MAX_RECORD || vlen > SL_PUSH_MAX_RECORD - key_len) {
        sl_errf(err, "push to job '%s' stream '%s': a record of %zu bytes is above the limit of "
                "16 MiB", job_id, stream, key_len + vlen);
        return SL_ERR_INVALID;
    }
    sl_pusher_t *p = sl_pusher_get(cl, job_id, stream);
    if (!p) {
        sl_errf(err, "out of memory");
        return SL_ERR_NOMEM;
    }
    if (p->fatal_st != SL_OK)
        return sl_pusher_report_fatal(p, err);
    sl_record_t r = { .key = key_len ? key : (const uint8_t *)"", .key_len = key_len, .val = v };
    sl_status_t st = sl_bb_add(&p->bb, &r);
    if (st != SL_OK) {
        sl_errf(err, "cannot buffer a record: %s", sl_strerror(st));
        return st;
    }
    if (sl_bb_bytes(&p->bb) < SL_PUSH_BLOCK_BYTES)
        return SL_OK;
    st = sl_pusher_cut(p, err);
    /* Let the socket take the block and collect the acks that came. */
    event_base_loop(cl->base, EVLOOP_NONBLOCK);
    return st;
}

sl_status_t sl_push_bytes(sl_client_t *c, const char *job_id, const char *stream, const void *key,
                          size_t key_len, const void *value, size_t value_len, char *err)
{
    return sl_push_record(c, job_id, stream, key, key_len,
                          sl_val_bytes(value_len ? value : "", value_len), err);
}

sl_status_t sl_push_int(sl_client_t *c, const char *job_id, const char *stream, const void *key,
                        size_t key_len, int64_t value, char *err)
{
    return sl_push_record(c, job_id, stream, key, key_len, sl_val_int(value), err);
}

sl_status_t sl_push_double(sl_client_t *c, const char *job_id, const char *stream,
                           const void *key, size_t key_len, double value, char *err)
{
    return sl_push_record(c, job_id, stream, key, key_len, sl_val_double(value), err);
}

sl_status_t sl_push_null(sl_client_t *c, const char *job_id, const char *stream, const void *key,
                         size_t key_len, char *err)
{
    return sl_push_record(c, job_id, stream, key, key_len, sl_val_null(), err);
}

sl_status_t sl_flush(sl_client_t *cl, char *err)
{
    sl_status_t st;
    for (sl_pusher_t *p = cl->pushers; p; p = p->next) {
        if (p->fatal_st != SL_OK)
            return sl_pusher_report_fatal(p, err);
        if ((st = sl_pusher_cut(p, err)) != SL_OK)
            return st;
    }
    for (;;) {
        uint64_t wait = UINT64_MAX;
        for (sl_pusher_t *p = cl->pushers; p; p = p->next) {
            if ((st = sl_pusher_drive(p, err)) != SL_OK)
                return st;
            uint64_t now = sl_time_mono_ms();
            if (sl_pusher_stalled(p, now))
                return sl_pusher_timeout(p, err);
            uint64_t w = sl_pusher_wait_ms(p, now);
            if (w < wait)
                wait = w;
        }
        if (wait == UINT64_MAX)
            return SL_OK;   /* nothing waits for an ack */
        sl_client_run_once(cl, wait);
    }
}

void sl_push_stats(const sl_client_t *cl, uint64_t *acked_records, uint64_t *pending_records,
                   uint64_t *resent_blocks)
{
    uint64_t acked = 0, pending = 0, resent = 0;
    for (const sl_pusher_t *p = cl->pushers; p; p = p->next) {
        acked += p->acked_records;
        pending += p->unacked_records + p->bb.count;
        resent += p->resent_blocks;
    }
    if (acked_records)
        *acked_records = acked;
    if (pending_records)
        *pending_records = pending;
    if (resent_blocks)
        *resent_blocks = resent;
}

void sl_push_free_all(sl_client_t *cl)
{
    while (cl->pushers) {
        sl_pusher_t *p = cl->pushers;
        cl->pushers = p->next;
        sl_pusher_discard(p);
        sl_bb_free(&p->bb);
        free(p->job_id);
        free(p->stream);
        free(p);
    }
    cl->last_pusher = NULL;
}
