/* Watching job outputs: Watch subscriptions (renewed after a reconnect), the
 * queue of BatchOutput messages the master sends, and the batch outputs
 * handed to the caller with their records read in place. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include "block.h"
#include "client-internal.h"
#include "parse.h"
#include "timeutil.h"

#define SL_WATCH_QUEUE_MAX 4096
#define SL_RECONNECT_BACKOFF_MIN_MS 100
#define SL_RECONNECT_BACKOFF_MAX_MS 1000

_Static_assert(SL_TYPE_NULL == (int)SL_VAL_NULL && SL_TYPE_INT == (int)SL_VAL_INT &&
               SL_TYPE_DOUBLE == (int)SL_VAL_DOUBLE && SL_TYPE_BYTES == (int)SL_VAL_BYTES &&
               SL_TYPE_LIST == (int)SL_VAL_LIST && SL_TYPE_TUPLE == (int)SL_VAL_TUPLE,
               "public value types follow the block encoding");

struct sl_watch_sub {
    char *job_id;
    char *stream;
    sl_watch_sub_t *next;
};

struct sl_batch_output {
    sl_envelope_t *env;         /* owns bo */
    const Sluice__BatchOutput *bo;
    uint8_t *payload;           /* owned; the records as one block */
    size_t len;
    bool corrupt;               /* the payload is not a valid block */
    uint32_t count;
    sl_block_iter_t it;
    sl_record_t cur;            /* points into payload */
    bool has_cur;
    sl_batch_output_t *next;    /* in the client's queue */
};

static sl_batch_output_t *sl_batch_output_new(const sl_envelope_t *env, const uint8_t *payload,
                                              size_t len)
{
    sl_batch_output_t *o = calloc(1, sizeof *o);
    if (!o)
        return NULL;
    o->env = sl_msg_clone(env);
    o->payload = malloc(len ? len : 1);
    if (!o->env || !o->payload) {
        sl_batch_output_free(o);
        return NULL;
    }
    o->bo = o->env->batch_output;
    memcpy(o->payload, payload, len);
    o->len = len;
    if (len) {
        char why[SL_ERRMSG_LEN];
        o->corrupt = sl_block_open(o->payload, len, true, &o->it, why) != SL_OK;
        o->count = o->corrupt ? 0 : o->it.count;
    }
    return o;
}

void sl_watch_enqueue(sl_client_t *cl, const sl_envelope_t *env, const uint8_t *payload,
                      size_t len)
{
    sl_batch_output_t *o = sl_batch_output_new(env, payload, len);
    if (!o) {
        cl->outq_dropped++;
        return;
    }
    if (cl->outq_len >= SL_WATCH_QUEUE_MAX) {
        sl_batch_output_t *old = cl->outq_head;
        cl->outq_head = old->next;
        if (!cl->outq_head)
            cl->outq_tail = NULL;
        cl->outq_len--;
        cl->outq_dropped++;
        sl_batch_output_free(old);
    }
    if (cl->outq_tail)
        cl->outq_tail->next = o;
    else
        cl->outq_head = o;
    cl->outq_tail = o;
    cl->outq_len++;
}

void sl_watch_free_all(sl_client_t *cl)
{
    while (cl->subs) {
        sl_watch_sub_t *s = cl->subs;
        cl->subs = s->next;
        free(s->job_id);
        free(s->stream);
        free(s);
    }
    while (cl->outq_head) {
        sl_batch_output_t *o = cl->outq_head;
        cl->outq_head = o->next;
        sl_batch_output_free(o);
    }
    cl->outq_tail = NULL;
    cl->outq_len = 0;
}

static sl_status_t sl_client_send_watch(sl_client_t *cl, const char *job_id, const char *stream,
                                        char *err)
{
    Sluice__Envelope env = SLUICE__ENVELOPE__INIT;
    Sluice__Watch req = SLUICE__WATCH__INIT;
    req.job_id = (char *)job_id;
    req.stream = (char *)stream;
    env.body_case = SLUICE__ENVELOPE__BODY_WATCH;
    env.watch = &req;
    sl_envelope_t *reply = NULL;
    sl_status_t st = sl_client_call_once(cl, &env, NULL, 0, 0, &reply, err);
    if (st != SL_OK)
        return st;
    st = sl_client_expect(cl, reply, SLUICE__ENVELOPE__BODY_WATCH_REPLY, "a watch reply", err);
    if (st == SL_OK)
        sl_msg_free(reply);
    return st;
}

sl_status_t sl_watch_renew(sl_client_t *cl, char *err)
{
    char why[SL_ERRMSG_LEN];
    for (sl_watch_sub_t *s = cl->subs; s; s = s->next) {
        sl_status_t st = sl_client_send_watch(cl, s->job_id, s->stream, why);
        if (st != SL_OK) {
            sl_errf(err, "cannot watch job '%s' again: %s", s->job_id, why);
            return st;
        }
    }
    return SL_OK;
}

sl_status_t sl_job_watch(sl_client_t *cl, const char *job_id, const char *stream, char *err)
{
    if (!sl_client_check_id(job_id, err))
        return SL_ERR_INVALID;
    if (!stream)
        stream = "";
    if (!cl->conn) {
        sl_status_t st = sl_client_reconnect(cl, err);
        if (st != SL_OK)
            return st;
    }
    sl_status_t st = sl_client_send_watch(cl, job_id, stream, err);
    if (st != SL_OK)
        return st;
    for (sl_watch_sub_t *s = cl->subs; s; s = s->next)
        if (strcmp(s->job_id, job_id) == 0 && strcmp(s->stream, stream) == 0)
            return SL_OK;
    sl_watch_sub_t *s = calloc(1, sizeof *s);
    if (s) {
        s->job_id = strdup(job_id);
        s->stream = strdup(stream);
    }
    if (!s || !s->job_id || !s->stream) {
        if (s) {
            free(s->job_id);
            free(s->stream);
        }
        free(s);
        sl_errf(err, "out of memory");
        return SL_ERR_NOMEM;
    }
    s->next = cl->subs;
    cl->subs = s;
    return SL_OK;
}

/* Failures that waiting may cure: the master is restarting or failing over. */
static bool sl_client_retryable(sl_status_t st)
{
    return st == SL_ERR_CLOSED || st == SL_ERR_TIMEOUT || st == SL_ERR_UNAVAILABLE ||
           st == SL_ERR_IO;
}

static sl_batch_output_t *sl_client_pop_output(sl_client_t *cl)
{
    sl_batch_output_t *o = cl->outq_head;
    if (!o)
        return NULL;
    cl->outq_head = o->next;
    if (!cl->outq_head)
        cl->outq_tail = NULL;
    cl->outq_len--;
    o->next = NULL;
    return o;
}

sl_status_t sl_watch_next(sl_client_t *cl, uint64_t timeout_ms, sl_batch_output_t **out, char *err)
{
    uint64_t start = sl_time_mono_ms();
    uint64_t deadline = timeout_ms == SL_WAIT_FOREVER ? UINT64_MAX : start + timeout_ms;
    uint64_t retry_at = 0, backoff = SL_RECONNECT_BACKOFF_MIN_MS;
    char why[SL_ERRMSG_LEN] = "";
    for (;;) {
        /* Take in whatever already arrived before deciding. */
        event_base_loop(cl->base, EVLOOP_NONBLOCK);
        sl_batch_output_t *o = sl_client_pop_output(cl);
        if (o) {
            *out = o;
            return SL_OK;
        }
        uint64_t now = sl_time_mono_ms();
        if (!cl->conn && cl->subs && now >= retry_at) {
            /* The master went away: come back to it (or a standby) and
             * renew the subscriptions, for as long as the client timeout. */
            sl_status_t st = sl_client_reconnect(cl, why);
            now = sl_time_mono_ms();
            bool gave_up = now - cl->conn_lost_ms >= cl->timeout_ms;
            if (st != SL_OK && (gave_up || !sl_client_retryable(st))) {
                sl_errf(err, "%s", why);
                return st;
            }
            if (st != SL_OK) {
                retry_at = sl_time_mono_ms() + backoff;
                backoff = backoff * 2 > SL_RECONNECT_BACKOFF_MAX_MS ? SL_RECONNECT_BACKOFF_MAX_MS
                                                                    : backoff * 2;
            }
            continue;
        }
        if (!cl->conn && !cl->subs) {
            sl_errf(err, "not watching anything (sl_job_watch) and not connected to %s",
                    cl->master);
            return SL_ERR_CLOSED;
        }
        if (now >= deadline) {
            char d[32];
            sl_format_duration_ms(timeout_ms, d, sizeof d);
            sl_errf(err, "no batch output within %s", d);
            return SL_ERR_TIMEOUT;
        }
        uint64_t wait = deadline - now;
        if (!cl->conn && retry_at > now && retry_at - now < wait)
            wait = retry_at - now;
        sl_client_run_once(cl, wait > 1000 ? 1000 : wait);
    }
}

uint64_t sl_watch_dropped(const sl_client_t *cl)
{
    return cl->outq_dropped;
}

void sl_batch_output_free(sl_batch_output_t *o)
{
    if (!o)
        return;
    sl_msg_free(o->env);
    free(o->payload);
    free(o);
}

const char *sl_batch_output_job(const sl_batch_output_t *o) { return o->bo->job_id; }
const char *sl_batch_output_stream(const sl_batch_output_t *o) { return o->bo->stream; }
int64_t sl_batch_output_time_ms(const sl_batch_output_t *o) { return o->bo->batch_time_ms; }
uint64_t sl_batch_output_total_records(const sl_batch_output_t *o) { return o->bo->total_records; }
size_t sl_batch_output_count(const sl_batch_output_t *o) { return o->count; }

const char *sl_batch_output_kind(const sl_batch_output_t *o)
{
    switch (o->bo->kind) {
    case SLUICE__OUTPUT_KIND__OUT_PRINT: return "print";
    case SLUICE__OUTPUT_KIND__OUT_PUBLISH: return "publish";
    default: return "unknown";
    }
}

void sl_batch_output_rewind(sl_batch_output_t *o)
{
    o->has_cur = false;
    if (o->len && !o->corrupt) {
        char why[SL_ERRMSG_LEN];
        (void)sl_block_open(o->payload, o->len, false, &o->it, why);
    }
}

int sl_batch_output_next(sl_batch_output_t *o)
{
    o->has_cur = false;
    if (o->corrupt)
        return -1;
    if (!o->len)
        return 0;
    int rc = sl_block_next(&o->it, &o->cur);
    if (rc < 0)
        o->corrupt = true;
    o->has_cur = rc == 1;
    return rc;
}

const uint8_t *sl_batch_output_key(const sl_batch_output_t *o, size_t *len)
{
    *len = o->has_cur ? o->cur.key_len : 0;
    return o->has_cur ? o->cur.key : NULL;
}

sl_value_type_t sl_batch_output_type(const sl_batch_output_t *o)
{
    return o->has_cur ? (sl_value_type_t)o->cur.val.type : SL_TYPE_NULL;
}

int64_t sl_batch_output_int(const sl_batch_output_t *o)
{
    return o->has_cur && o->cur.val.type == SL_VAL_INT ? o->cur.val.u.i : 0;
}

double sl_batch_output_double(const sl_batch_output_t *o)
{
    return o->has_cur && o->cur.val.type == SL_VAL_DOUBLE ? o->cur.val.u.d : 0.0;
}

const uint8_t *sl_batch_output_bytes(const sl_batch_output_t *o, size_t *len)
{
    bool bytes = o->has_cur && o->cur.val.type == SL_VAL_BYTES;
    *len = bytes ? o->cur.val.u.b.len : 0;
    return bytes ? o->cur.val.u.b.p : NULL;
}

/* Turns an sl_buf_t into a NUL-terminated string for the caller to free(). */
static char *sl_buf_to_string(sl_buf_t *b, sl_status_t st)
{
    if (st == SL_OK)
        st = sl_buf_append_u8(b, 0);
    if (st != SL_OK) {
        sl_buf_free(b);
        return NULL;
    }
    size_t len;
    return (char *)sl_buf_take(b, &len);
}

char *sl_batch_output_line(const sl_batch_output_t *o)
{
    sl_buf_t b = { 0 };
    sl_status_t st = o->has_cur ? sl_record_format_line(&b, &o->cur) : SL_OK;
    return sl_buf_to_string(&b, st);
}

/* Bytes as a JSON string: as they are when UTF-8, else printable ASCII with
 * every other byte as \xNN. */
static json_t *sl_json_bytes(const uint8_t *p, size_t len)
{
    json_t *s = json_stringn((const char *)(p ? p : (const uint8_t *)""), len);
    if (s)
        return s;
    sl_buf_t b = { 0 };
    sl_status_t st = SL_OK;
    for (size_t i = 0; i < len && st == SL_OK; i++) {
        if (p[i] >= 0x20 && p[i] < 0x7f && p[i] != '\\')
            st = sl_buf_append_u8(&b, p[i]);
        else if (p[i] == '\\')
            st = sl_buf_append(&b, "\\\\", 2);
        else
            st = sl_buf_printf(&b, "\\x%02x", p[i]);
    }
    s = st == SL_OK ? json_stringn(b.len ? (const char *)b.p : "", b.len) : NULL;
    sl_buf_free(&b);
    return s;
}

static json_t *sl_json_value(const sl_value_t *v, int depth)
{
    switch (v->type) {
    case SL_VAL_NULL:
        return json_null();
    case SL_VAL_INT:
        return json_integer((json_int_t)v->u.i);
    case SL_VAL_DOUBLE: {
        json_t *r = json_real(v->u.d);
        if (!r) {   /* NaN and infinities are not JSON numbers */
            sl_buf_t b = { 0 };
            if (sl_value_format(&b, v) == SL_OK)
                r = json_stringn(b.len ? (const char *)b.p : "", b.len);
            sl_buf_free(&b);
        }
        return r;
    }
    case SL_VAL_BYTES:
        return sl_json_bytes(v->u.b.p, v->u.b.len);
    case SL_VAL_LIST:
    case SL_VAL_TUPLE: {
        json_t *a = json_array();
        if (!a || depth > 32)
            return a;
        sl_list_iter_t it;
        sl_value_t e;
        sl_list_iter_init(&it, v);
        while (sl_list_next(&it, &e) == 1)
            json_array_append_new(a, sl_json_value(&e, depth + 1));
        return a;
    }
    }
    return json_null();
}

char *sl_batch_output_json(const sl_batch_output_t *o)
{
    json_t *recs = json_array();
    if (recs && o->len && !o->corrupt) {
        sl_block_iter_t it;
        sl_record_t r;
        char why[SL_ERRMSG_LEN];
        if (sl_block_open(o->payload, o->len, false, &it, why) == SL_OK)
            while (sl_block_next(&it, &r) == 1)
                json_array_append_new(recs, json_pack("{s:o, s:o}",
                                                      "key", sl_json_bytes(r.key, r.key_len),
                                                      "value", sl_json_value(&r.val, 0)));
    }
    return sl_json_text(json_pack("{s:s, s:s, s:s, s:I, s:I, s:o}", "job", o->bo->job_id,
                                  "stream", o->bo->stream, "kind", sl_batch_output_kind(o),
                                  "batch_time_ms", (json_int_t)o->bo->batch_time_ms,
                                  "total_records", (json_int_t)o->bo->total_records,
                                  "records", recs),
                        JSON_COMPACT);
}
