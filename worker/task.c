/* Task execution. Records flow by push: a source (block or shuffle reader)
 * calls sl_task_emit(node, part, record), which feeds the node's sinks and
 * applies each narrow consumer's operation, recursively. Per-record scratch
 * memory comes from an arena reset after each input record; anything that
 * must outlive a record (aggregation keys and accumulators) is copied into
 * the task-lifetime arena. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "arena.h"
#include "block.h"
#include "agg.h"
#include "hmap.h"
#include "log.h"
#include "rpcsync.h"
#include "task.h"

#define SL_TASK_MAX_SINKS 64
#define SL_COLLECT_LIMIT ((size_t)48 << 20)

/* Reducers run without a call per record when they are the built-in integer
 * sum or count (the common case: word counts); anything else takes the
 * general path through funcs.c. */
typedef enum { SL_FAST_NONE, SL_FAST_SUM, SL_FAST_COUNT } sl_fast_t;

static sl_fast_t sl_fast_of(const sl_func_t *f)
{
    if (!f)
        return SL_FAST_NONE;
    const char *n = sl_func_name(f);
    return strcmp(n, "sum") == 0 ? SL_FAST_SUM : strcmp(n, "count") == 0 ? SL_FAST_COUNT
                                                                          : SL_FAST_NONE;
}

/* Map side of one shuffle: records of (node part) headed for consumer edge. */
typedef struct {
    sl_plan_edge_t edge;
    uint32_t part;
    Sluice__OpKind op;          /* the consuming wide op */
    const sl_func_t *reducer;   /* reduce / reduce_by_key */
    sl_fast_t fast;
    uint32_t nbuckets;
    sl_block_builder_t *buckets;
    sl_agg_t *agg;              /* key -> accumulator (reduce_by_key, count_by_value) */
    sl_value_t single;          /* count / reduce: the one accumulator */
    bool has_single;
    uint64_t rr;                /* repartition: round robin */
} sl_writer_t;

typedef struct {
    uint32_t output;
    uint32_t node_part;
    Sluice__OutputKind kind;
    uint32_t limit;             /* print: records kept */
    uint64_t total;
    sl_block_builder_t bb;      /* collected records */
    FILE *file;                 /* save_as_text_files */
    char tmp_path[1024], final_path[1024];
} sl_sink_t;

typedef struct {
    const sl_task_env_t *env;
    sl_jobrt_t *rt;
    const Sluice__RunTask *t;
    sl_task_result_t *res;
    sl_arena_t *tmp;            /* per input record */
    sl_arena_t *keep;           /* per task */
    sl_writer_t writers[SL_TASK_MAX_SINKS];
    size_t nwriters;
    sl_sink_t sinks[SL_TASK_MAX_SINKS];
    size_t nsinks;
    sl_buf_t line;
    struct {
        char addr[262];
        sl_sync_conn_t *conn;
    } peers[16];
    size_t npeers;
} sl_task_t;

/* Formats the task's error once (the first failure is the interesting one). */
static sl_status_t sl_task_fail(sl_task_t *tk, sl_status_t st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static sl_status_t sl_task_fail(sl_task_t *tk, sl_status_t st, const char *fmt, ...)
{
    if (tk->res->status == SL_OK) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(tk->res->err, sizeof tk->res->err, fmt, ap);
        va_end(ap);
        tk->res->status = st;
    }
    return st;
}

/* --- values that must outlive the current record ---------------------------- */

static sl_status_t sl_persist(sl_task_t *tk, sl_value_t *v)
{
    if (v->type == SL_VAL_BYTES && v->u.b.len) {
        void *p = sl_arena_dup(tk->keep, v->u.b.p, v->u.b.len);
        if (!p)
            return SL_ERR_NOMEM;
        v->u.b.p = p;
    } else if ((v->type == SL_VAL_LIST || v->type == SL_VAL_TUPLE) && v->u.list.len) {
        void *p = sl_arena_dup(tk->keep, v->u.list.p, v->u.list.len);
        if (!p)
            return SL_ERR_NOMEM;
        v->u.list.p = p;
    }
    return SL_OK;
}

/* --- sinks -------------------------------------------------------------------- */

static sl_status_t sl_sink_record(sl_task_t *tk, sl_sink_t *s, const sl_record_t *r)
{
    s->total++;
    tk->res->records_out++;
    if (s->file) {
        sl_buf_reset(&tk->line);
        if (sl_record_format_line(&tk->line, r) != SL_OK || sl_buf_append_u8(&tk->line, '\n') != SL_OK)
            return sl_task_fail(tk, SL_ERR_NOMEM, "out of memory formatting a line");
        if (fwrite(tk->line.p, 1, tk->line.len, s->file) != tk->line.len)
            return sl_task_fail(tk, SL_ERR_IO, "cannot write %s: %s", s->tmp_path, strerror(errno));
        return SL_OK;
    }
    if (s->kind == SLUICE__OUTPUT_KIND__OUT_PRINT && s->total > s->limit)
        return SL_OK;
    if (sl_bb_bytes(&s->bb) > SL_COLLECT_LIMIT)
        return sl_task_fail(tk, SL_ERR_INVALID,
                            "output %u collects more than %zu MiB in one partition; write big "
                            "results with save_as_text_files", s->output, SL_COLLECT_LIMIT >> 20);
    if (sl_bb_add(&s->bb, r) != SL_OK)
        return sl_task_fail(tk, SL_ERR_NOMEM, "out of memory collecting output");
    return SL_OK;
}

static sl_status_t sl_mkdirs(char *path)
{
    for (char *p = path + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = 0;
        int r = mkdir(path, 0755);
        *p = '/';
        if (r != 0 && errno != EEXIST)
            return SL_ERR_IO;
    }
    if (mkdir(path, 0755) != 0 && errno != EEXIST)
        return SL_ERR_IO;
    return SL_OK;
}

static sl_status_t sl_sink_open(sl_task_t *tk, uint32_t output, uint32_t part)
{
    if (tk->nsinks == SL_TASK_MAX_SINKS)
        return sl_task_fail(tk, SL_ERR_INVALID, "too many outputs in one task");
    const Sluice__OutputSpec *o = tk->rt->spec->outputs[output];
    sl_sink_t *s = &tk->sinks[tk->nsinks++];
    memset(s, 0, sizeof *s);
    s->output = output;
    s->node_part = part;
    s->kind = o->kind;
    s->limit = o->count ? o->count : 10;
    sl_bb_init(&s->bb);
    if (o->kind != SLUICE__OUTPUT_KIND__OUT_SAVE_TEXT)
        return SL_OK;
    /* Spark's layout: prefix-<batch time ms>/part-NNNNN, written under a
     * temporary name and renamed, so a re-run batch replaces it whole. */
    char dir[900];
    snprintf(dir, sizeof dir, "%.880s-%lld", o->path, (long long)tk->t->batch_time_ms);
    if (sl_mkdirs(dir) != SL_OK)
        return sl_task_fail(tk, SL_ERR_IO, "cannot create %s: %s", dir, strerror(errno));
    snprintf(s->final_path, sizeof s->final_path, "%s/part-%05u", dir, part);
    snprintf(s->tmp_path, sizeof s->tmp_path, "%s/.part-%05u.%.40s.%u.tmp", dir, part,
             tk->env->worker_id, tk->t->attempt);
    s->file = fopen(s->tmp_path, "w");
    if (!s->file)
        return sl_task_fail(tk, SL_ERR_IO, "cannot create %s: %s", s->tmp_path, strerror(errno));
    return SL_OK;
}

static sl_sink_t *sl_sink_find(sl_task_t *tk, uint32_t output, uint32_t part)
{
    for (size_t i = 0; i < tk->nsinks; i++)
        if (tk->sinks[i].output == output && tk->sinks[i].node_part == part)
            return &tk->sinks[i];
    return NULL;
}

/* --- shuffle writers ------------------------------------------------------------ */

static sl_status_t sl_writer_open(sl_task_t *tk, sl_plan_edge_t e, uint32_t part)
{
    if (tk->nwriters == SL_TASK_MAX_SINKS)
        return sl_task_fail(tk, SL_ERR_INVALID, "too many shuffles in one task");
    sl_writer_t *w = &tk->writers[tk->nwriters++];
    memset(w, 0, sizeof *w);
    w->edge = e;
    w->part = part;
    w->op = tk->rt->spec->nodes[e.node]->op;
    w->reducer = tk->rt->funcs[e.node];
    w->fast = sl_fast_of(w->reducer);
    w->nbuckets = tk->rt->plan->nodes[e.node].nparts;
    w->rr = part;
    w->buckets = calloc(w->nbuckets, sizeof *w->buckets);
    if (!w->buckets)
        return sl_task_fail(tk, SL_ERR_NOMEM, "out of memory");
    for (uint32_t b = 0; b < w->nbuckets; b++)
        sl_bb_init(&w->buckets[b]);
    if (w->op == SLUICE__OP_KIND__OP_REDUCE_BY_KEY || w->op == SLUICE__OP_KIND__OP_COUNT_BY_VALUE) {
        w->agg = sl_agg_new(4096);
        if (!w->agg)
            return sl_task_fail(tk, SL_ERR_NOMEM, "out of memory");
    }
    return SL_OK;
}

static sl_writer_t *sl_writer_find(sl_task_t *tk, sl_plan_edge_t e, uint32_t part)
{
    for (size_t i = 0; i < tk->nwriters; i++) {
        sl_writer_t *w = &tk->writers[i];
        if (w->edge.node == e.node && w->edge.slot == e.slot && w->part == part)
            return w;
    }
    return NULL;
}

static uint32_t sl_bucket_of(const sl_writer_t *w, const uint8_t *key, size_t len)
{
    return (uint32_t)(sl_key_hash(key, len) % w->nbuckets);
}

/* Folds value v into the accumulator *acc (starting it when `created`),
 * keeping the result in the task arena. `merge` joins two accumulators (the
 * reduce side) instead of folding in a value (the map side). */
static sl_status_t sl_fold(sl_task_t *tk, const sl_func_t *f, sl_fast_t fast, sl_value_t *acc,
                           bool created, const sl_value_t *v, bool merge)
{
    if (fast != SL_FAST_NONE && (created || acc->type == SL_VAL_INT)) {
        if (fast == SL_FAST_COUNT && !merge) {
            *acc = created ? sl_val_int(1) : sl_val_int(acc->u.i + 1);
            return SL_OK;
        }
        if (v->type == SL_VAL_INT) {
            int64_t sum;
            if (created) {
                *acc = *v;
                return SL_OK;
            }
            if (!__builtin_add_overflow(acc->u.i, v->u.i, &sum)) {
                acc->u.i = sum;
                return SL_OK;
            }
        }
    }
    sl_value_t out;
    sl_status_t st;
    char err[SL_ERRMSG_LEN];
    err[0] = 0;
    if (created)
        st = merge ? (out = *v, SL_OK) : sl_func_reduce_init(f, v, &out, tk->tmp, err);
    else
        st = merge ? sl_func_reduce_merge(f, acc, v, &out, tk->tmp, err)
                   : sl_func_reduce_combine(f, acc, v, &out, tk->tmp, err);
    if (st != SL_OK)
        return sl_task_fail(tk, st, "%s", err);
    if (sl_persist(tk, &out) != SL_OK)
        return sl_task_fail(tk, SL_ERR_NOMEM, "out of memory");
    *acc = out;
    return SL_OK;
}

static sl_status_t sl_writer_add(sl_task_t *tk, sl_writer_t *w, const sl_record_t *r)
{
    sl_status_t st = SL_OK;
    switch (w->op) {
    case SLUICE__OP_KIND__OP_REPARTITION:
        st = sl_bb_add(&w->buckets[w->rr++ % w->nbuckets], r);
        break;
    case SLUICE__OP_KIND__OP_COUNT: {
        if (!w->has_single)
            w->single = sl_val_int(0);
        w->has_single = true;
        w->single.u.i++;
        break;
    }
    case SLUICE__OP_KIND__OP_REDUCE:
        st = sl_fold(tk, w->reducer, w->fast, &w->single, !w->has_single, &r->val, false);
        w->has_single |= st == SL_OK;
        return st;
    case SLUICE__OP_KIND__OP_COUNT_BY_VALUE: {
        sl_buf_reset(&tk->line);
        if (sl_value_format(&tk->line, &r->val) != SL_OK)
            return sl_task_fail(tk, SL_ERR_NOMEM, "out of memory");
        bool created;
        sl_agg_entry_t *e = sl_agg_upsert(w->agg, tk->line.p, tk->line.len, &created);
        if (!e)
            return sl_task_fail(tk, SL_ERR_NOMEM, "out of memory");
        e->acc = created ? sl_val_int(1) : sl_val_int(e->acc.u.i + 1);
        return SL_OK;
    }
    case SLUICE__OP_KIND__OP_REDUCE_BY_KEY: {
        bool created;
        sl_agg_entry_t *e = sl_agg_upsert(w->agg, r->key, r->key_len, &created);
        if (!e)
            return sl_task_fail(tk, SL_ERR_NOMEM, "out of memory");
        return sl_fold(tk, w->reducer, w->fast, &e->acc, created, &r->val, false);
    }
    default:   /* group_by_key, joins, cogroup: by key, no combining */
        st = sl_bb_add(&w->buckets[sl_bucket_of(w, r->key, r->key_len)], r);
        break;
    }
    if (st != SL_OK)
        return sl_task_fail(tk, st, "out of memory writing shuffle data");
    return SL_OK;
}

/* Moves combined state into buckets, then every bucket into the store. */
static sl_status_t sl_writer_finish(sl_task_t *tk, sl_writer_t *w)
{
    size_t pos = 0;
    for (sl_agg_entry_t *e; w->agg && (e = sl_agg_next(w->agg, &pos));) {
        sl_record_t r = { .key = sl_agg_key(e), .key_len = e->key_len, .val = e->acc };
        if (sl_bb_add(&w->buckets[sl_bucket_of(w, r.key, r.key_len)], &r) != SL_OK)
            return sl_task_fail(tk, SL_ERR_NOMEM, "out of memory writing shuffle data");
    }
    if (w->op == SLUICE__OP_KIND__OP_COUNT || w->has_single) {
        sl_record_t r = { .val = w->has_single ? w->single : sl_val_int(0) };
        if (sl_bb_add(&w->buckets[0], &r) != SL_OK)
            return sl_task_fail(tk, SL_ERR_NOMEM, "out of memory writing shuffle data");
    }
    uint64_t bytes = 0;
    for (uint32_t b = 0; b < w->nbuckets; b++) {
        uint8_t *data;
        size_t len;
        if (sl_bb_finish(&w->buckets[b], &data, &len) != SL_OK)
            return sl_task_fail(tk, SL_ERR_NOMEM, "out of memory writing shuffle data");
        bytes += len;
        sl_shuffle_key_t key = { .batch = tk->t->batch_time_ms, .attempt = tk->t->attempt,
                                 .node = w->edge.node, .slot = w->edge.slot,
                                 .map_part = w->part, .bucket = b };
        if (sl_store_put_shuffle(tk->env->store, tk->rt->id, &key, data, len) != SL_OK)
            return sl_task_fail(tk, SL_ERR_NOMEM, "out of memory storing shuffle data");
    }
    sl_task_result_t *res = tk->res;
    Sluice__ShuffleOutputInfo *na = realloc(res->shuffles, (res->nshuffles + 1) * sizeof *na);
    if (!na)
        return sl_task_fail(tk, SL_ERR_NOMEM, "out of memory");
    res->shuffles = na;
    Sluice__ShuffleOutputInfo *si = &na[res->nshuffles++];
    sluice__shuffle_output_info__init(si);
    si->node = w->edge.node;
    si->slot = w->edge.slot;
    si->map_part = w->part;
    si->bytes = bytes;
    return SL_OK;
}

static void sl_writer_free(sl_writer_t *w)
{
    for (uint32_t b = 0; w->buckets && b < w->nbuckets; b++)
        sl_bb_free(&w->buckets[b]);
    free(w->buckets);
    sl_agg_free(w->agg);
}

/* --- the pipeline ------------------------------------------------------------------ */

static sl_status_t sl_task_emit(sl_task_t *tk, uint32_t node, uint32_t part, const sl_record_t *r);

typedef struct {
    sl_emit_t base;
    sl_task_t *tk;
    uint32_t node, part;
    const sl_record_t *keep_key;   /* flat_map_values: restore this key */
} sl_flat_emit_t;

static sl_status_t sl_flat_emit_fn(sl_emit_t *self, const sl_record_t *r)
{
    sl_flat_emit_t *fe = (sl_flat_emit_t *)self;
    if (!fe->keep_key)
        return sl_task_emit(fe->tk, fe->node, fe->part, r);
    sl_record_t kr = *r;
    kr.key = fe->keep_key->key;
    kr.key_len = fe->keep_key->key_len;
    return sl_task_emit(fe->tk, fe->node, fe->part, &kr);
}

/* Static-dataset transform: join, left_outer_join, filter or subtract. */
static sl_status_t sl_apply_transform(sl_task_t *tk, uint32_t node, uint32_t part,
                                      const sl_record_t *r)
{
    const char *mode = tk->rt->spec->nodes[node]->mode;
    const sl_static_vals_t *sv = sl_hmap_get(tk->rt->statics[node], r->key, r->key_len);
    if (strcmp(mode, "filter") == 0)
        return sv ? sl_task_emit(tk, node, part, r) : SL_OK;
    if (strcmp(mode, "subtract") == 0)
        return sv ? SL_OK : sl_task_emit(tk, node, part, r);
    bool outer = strcmp(mode, "left_outer_join") == 0;
    if (!sv && !outer)
        return SL_OK;
    sl_value_t none = sl_val_null();
    const uint8_t *p = sv ? sv->values.p : NULL, *end = sv ? p + sv->values.len : NULL;
    uint32_t n = sv ? sv->n : 1;
    for (uint32_t i = 0; i < n; i++) {
        sl_value_t w = none;
        if (sv && !sl_value_decode(&p, end, &w))
            return sl_task_fail(tk, SL_ERR_INTERNAL, "corrupt static dataset");
        sl_buf_t elems = { 0 };
        sl_status_t st = sl_value_encode(&elems, &r->val);
        if (st == SL_OK)
            st = sl_value_encode(&elems, &w);
        if (st == SL_OK) {
            sl_record_t out = { .key = r->key, .key_len = r->key_len,
                                .val = sl_val_list(SL_VAL_TUPLE, &elems, 2) };
            st = sl_task_emit(tk, node, part, &out);
        }
        sl_buf_free(&elems);
        if (st != SL_OK)
            return st;
    }
    return SL_OK;
}

/* Applies narrow operation `node` to record r of its input. */
static sl_status_t sl_task_apply(sl_task_t *tk, uint32_t node, uint32_t part, const sl_record_t *r)
{
    const sl_func_t *f = tk->rt->funcs[node];
    char err[SL_ERRMSG_LEN];
    err[0] = 0;
    sl_record_t out;
    sl_status_t st;
    switch (tk->rt->spec->nodes[node]->op) {
    case SLUICE__OP_KIND__OP_MAP:
    case SLUICE__OP_KIND__OP_MAP_VALUES:
        st = sl_func_map(f, r, &out, tk->tmp, err);
        if (st != SL_OK)
            return sl_task_fail(tk, st, "%s", err);
        if (tk->rt->spec->nodes[node]->op == SLUICE__OP_KIND__OP_MAP_VALUES) {
            out.key = r->key;
            out.key_len = r->key_len;
        }
        return sl_task_emit(tk, node, part, &out);
    case SLUICE__OP_KIND__OP_FLAT_MAP:
    case SLUICE__OP_KIND__OP_FLAT_MAP_VALUES: {
        sl_flat_emit_t fe = { { sl_flat_emit_fn }, tk, node, part,
                              tk->rt->spec->nodes[node]->op == SLUICE__OP_KIND__OP_FLAT_MAP_VALUES
                                  ? r : NULL };
        st = sl_func_flat_map(f, r, &fe.base, tk->tmp, err);
        if (st != SL_OK && tk->res->status == SL_OK)
            return sl_task_fail(tk, st, "%s", err);
        return st;
    }
    case SLUICE__OP_KIND__OP_FILTER:
        return sl_func_filter(f, r) ? sl_task_emit(tk, node, part, r) : SL_OK;
    case SLUICE__OP_KIND__OP_UNION:
        return sl_task_emit(tk, node, part, r);
    case SLUICE__OP_KIND__OP_TRANSFORM:
        return sl_apply_transform(tk, node, part, r);
    default:
        return sl_task_fail(tk, SL_ERR_INTERNAL, "node %u is not a narrow operation", node);
    }
}

static sl_status_t sl_task_emit(sl_task_t *tk, uint32_t node, uint32_t part, const sl_record_t *r)
{
    const sl_plan_node_t *pn = &tk->rt->plan->nodes[node];
    sl_status_t st;
    for (uint32_t i = 0; i < pn->noutputs; i++) {
        sl_sink_t *s = sl_sink_find(tk, pn->outputs[i], part);
        if (s && (st = sl_sink_record(tk, s, r)) != SL_OK)
            return st;
    }
    for (uint32_t i = 0; i < pn->nshuffles; i++) {
        sl_writer_t *w = sl_writer_find(tk, pn->shuffles[i], part);
        if (w && (st = sl_writer_add(tk, w, r)) != SL_OK)
            return st;
    }
    for (uint32_t i = 0; i < pn->nnarrow; i++) {
        sl_plan_edge_t e = pn->narrow[i];
        if ((st = sl_task_apply(tk, e.node, sl_plan_narrow_part(e, part), r)) != SL_OK)
            return st;
    }
    return SL_OK;
}

/* Opens the sinks of every (node, part) this task computes. */
static sl_status_t sl_task_open_sinks(sl_task_t *tk, uint32_t node, uint32_t part)
{
    const sl_plan_node_t *pn = &tk->rt->plan->nodes[node];
    sl_status_t st;
    for (uint32_t i = 0; i < pn->noutputs; i++)
        if (!sl_sink_find(tk, pn->outputs[i], part) &&
            (st = sl_sink_open(tk, pn->outputs[i], part)) != SL_OK)
            return st;
    for (uint32_t i = 0; i < pn->nshuffles; i++)
        if (!sl_writer_find(tk, pn->shuffles[i], part) &&
            (st = sl_writer_open(tk, pn->shuffles[i], part)) != SL_OK)
            return st;
    for (uint32_t i = 0; i < pn->nnarrow; i++) {
        sl_plan_edge_t e = pn->narrow[i];
        if ((st = sl_task_open_sinks(tk, e.node, sl_plan_narrow_part(e, part))) != SL_OK)
            return st;
    }
    return SL_OK;
}

/* --- inputs ------------------------------------------------------------------------- */

static sl_sync_conn_t *sl_task_peer(sl_task_t *tk, const char *addr, char *err)
{
    for (size_t i = 0; i < tk->npeers; i++)
        if (strcmp(tk->peers[i].addr, addr) == 0)
            return tk->peers[i].conn;
    sl_sync_conn_t *c = NULL;
    if (sl_sync_connect(addr, tk->env->secret, SLUICE__ROLE__ROLE_WORKER, tk->env->worker_id,
                        tk->env->fetch_timeout_ms, &c, err) != SL_OK)
        return NULL;
    if (tk->npeers < sizeof tk->peers / sizeof *tk->peers) {
        snprintf(tk->peers[tk->npeers].addr, sizeof tk->peers[0].addr, "%s", addr);
        tk->peers[tk->npeers++].conn = c;
    }
    return c;
}

/* Fetches from a peer; on SL_OK *data is malloc'ed. */
static sl_status_t sl_task_fetch(sl_task_t *tk, const char *addr, sl_envelope_t *req,
                                 uint8_t **data, size_t *len)
{
    char err[SL_ERRMSG_LEN];
    err[0] = 0;
    sl_sync_conn_t *c = sl_task_peer(tk, addr, err);
    sl_envelope_t *reply = NULL;
    sl_status_t st = c ? sl_sync_call(c, req, NULL, 0, &reply, data, len, err) : SL_ERR_UNAVAILABLE;
    sl_msg_free(reply);
    bool cached = false;
    for (size_t i = 0; c && i < tk->npeers; i++)
        cached |= tk->peers[i].conn == c;
    if (c && !cached)
        sl_sync_close(c);   /* past the cache's size: one connection per fetch */
    if (st != SL_OK)
        sl_debug("task", "fetch from %s failed: %s", addr, err);
    return st;
}

/* Iterates one block, emitting each record as (node, part). */
static sl_status_t sl_task_feed(sl_task_t *tk, const uint8_t *data, size_t len, bool verify,
                                uint32_t node, uint32_t part, const char *what)
{
    sl_block_iter_t it;
    char err[SL_ERRMSG_LEN];
    err[0] = 0;
    if (sl_block_open(data, len, verify, &it, err) != SL_OK)
        return sl_task_fail(tk, SL_ERR_DECODE, "%s: %s", what, err);
    sl_record_t r;
    int rc;
    while ((rc = sl_block_next(&it, &r)) == 1) {
        tk->res->records_in++;
        sl_status_t st = sl_task_emit(tk, node, part, &r);
        sl_arena_reset(tk->tmp);
        if (st != SL_OK)
            return st;
    }
    if (rc < 0)
        return sl_task_fail(tk, SL_ERR_DECODE, "%s is corrupt", what);
    return SL_OK;
}

static sl_status_t sl_task_read_blocks(sl_task_t *tk, uint32_t root, uint32_t part)
{
    for (size_t i = 0; i < tk->t->n_blocks; i++) {
        const Sluice__BlockRef *b = tk->t->blocks[i];
        char what[96];
        snprintf(what, sizeof what, "block %llx", (unsigned long long)b->id);
        const sl_rbuf_t *local = sl_store_get_block(tk->env->store, tk->rt->id, b->stream, b->id);
        sl_status_t st;
        if (local) {
            st = sl_task_feed(tk, local->data, local->len, false, root, part, what);
            sl_store_release(local);
            if (st != SL_OK)
                return st;
            continue;
        }
        st = SL_ERR_UNAVAILABLE;
        for (size_t k = 0; k < b->n_locations && st != SL_OK; k++) {
            if (strcmp(b->locations[k], tk->env->self_address) == 0)
                continue;
            Sluice__Envelope env = SLUICE__ENVELOPE__INIT;
            Sluice__FetchBlock fb = SLUICE__FETCH_BLOCK__INIT;
            fb.job_id = tk->rt->id;
            fb.stream = b->stream;
            fb.id = b->id;
            env.body_case = SLUICE__ENVELOPE__BODY_FETCH_BLOCK;
            env.fetch_block = &fb;
            uint8_t *data = NULL;
            size_t len = 0;
            st = sl_task_fetch(tk, b->locations[k], &env, &data, &len);
            if (st == SL_OK) {
                st = sl_task_feed(tk, data, len, true, root, part, what);
                free(data);
                if (st != SL_OK)
                    return st;
            }
        }
        if (st != SL_OK) {
            tk->res->fetch_failed = true;
            snprintf(tk->res->failed_address, sizeof tk->res->failed_address, "%s",
                     b->n_locations ? b->locations[0] : "");
            return sl_task_fail(tk, SL_ERR_UNAVAILABLE, "block %llx is on no reachable worker",
                                (unsigned long long)b->id);
        }
    }
    return SL_OK;
}

/* Calls fn for each shuffle bucket of this task's partition, slot by slot. */
typedef sl_status_t (*sl_bucket_fn)(sl_task_t *tk, uint32_t slot, const uint8_t *data, size_t len,
                                    void *arg);

static sl_status_t sl_task_each_bucket(sl_task_t *tk, uint32_t root, sl_bucket_fn fn, void *arg)
{
    for (size_t s = 0; s < tk->t->n_shuffles; s++) {
        const Sluice__ShuffleInput *in = tk->t->shuffles[s];
        for (size_t m = 0; m < in->n_maps; m++) {
            const Sluice__MapOutputRef *ref = in->maps[m];
            sl_shuffle_key_t key = { .batch = tk->t->batch_time_ms, .attempt = tk->t->attempt,
                                     .node = root, .slot = in->slot, .map_part = ref->map_part,
                                     .bucket = tk->t->partition };
            sl_status_t st;
            if (strcmp(ref->address, tk->env->self_address) == 0) {
                const sl_rbuf_t *b = sl_store_get_shuffle(tk->env->store, tk->rt->id, &key);
                if (!b) {
                    tk->res->fetch_failed = true;
                    snprintf(tk->res->failed_address, sizeof tk->res->failed_address, "%s",
                             ref->address);
                    return sl_task_fail(tk, SL_ERR_NOT_FOUND, "shuffle output %u/%u/%u is gone",
                                        root, in->slot, ref->map_part);
                }
                st = fn(tk, in->slot, b->data, b->len, arg);
                sl_store_release(b);
            } else {
                Sluice__Envelope env = SLUICE__ENVELOPE__INIT;
                Sluice__FetchShuffle fs = SLUICE__FETCH_SHUFFLE__INIT;
                fs.job_id = tk->rt->id;
                fs.batch_time_ms = key.batch;
                fs.attempt = key.attempt;
                fs.node = key.node;
                fs.slot = key.slot;
                fs.map_part = key.map_part;
                fs.bucket = key.bucket;
                env.body_case = SLUICE__ENVELOPE__BODY_FETCH_SHUFFLE;
                env.fetch_shuffle = &fs;
                uint8_t *data = NULL;
                size_t len = 0;
                if (sl_task_fetch(tk, ref->address, &env, &data, &len) != SL_OK) {
                    tk->res->fetch_failed = true;
                    snprintf(tk->res->failed_address, sizeof tk->res->failed_address, "%s",
                             ref->address);
                    return sl_task_fail(tk, SL_ERR_UNAVAILABLE,
                                        "cannot fetch shuffle data from %s", ref->address);
                }
                st = fn(tk, in->slot, data, len, arg);
                free(data);
            }
            if (st != SL_OK)
                return st;
        }
    }
    return SL_OK;
}

/* --- the reduce side of wide operations ------------------------------------------------ */

typedef struct {
    uint32_t root, part;
    sl_fast_t fast;
    sl_agg_t *agg;              /* reduce_by_key, count_by_value: key -> accumulator */
    sl_hmap_t *table;           /* group_by_key, joins, cogroup: key -> sl_groups_t* */
    sl_value_t single;
    bool has_single;
} sl_reduce_ctx_t;

typedef struct {
    sl_buf_t side[2];           /* encoded values from each input */
    uint32_t n[2];
} sl_groups_t;

static sl_status_t sl_reduce_bucket(sl_task_t *tk, uint32_t slot, const uint8_t *data, size_t len,
                                    void *arg)
{
    sl_reduce_ctx_t *rc = arg;
    Sluice__OpKind op = tk->rt->spec->nodes[rc->root]->op;
    const sl_func_t *f = tk->rt->funcs[rc->root];
    sl_block_iter_t it;
    char err[SL_ERRMSG_LEN];
    err[0] = 0;
    if (sl_block_open(data, len, true, &it, err) != SL_OK)
        return sl_task_fail(tk, SL_ERR_DECODE, "shuffle data: %s", err);
    sl_record_t r;
    int more;
    sl_status_t st = SL_OK;
    while (st == SL_OK && (more = sl_block_next(&it, &r)) == 1) {
        tk->res->records_in++;
        switch (op) {
        case SLUICE__OP_KIND__OP_REPARTITION:
            st = sl_task_emit(tk, rc->root, rc->part, &r);
            break;
        case SLUICE__OP_KIND__OP_COUNT:
            if (!rc->has_single)
                rc->single = sl_val_int(0);
            rc->has_single = true;
            rc->single.u.i += r.val.type == SL_VAL_INT ? r.val.u.i : 0;
            break;
        case SLUICE__OP_KIND__OP_REDUCE:
            st = sl_fold(tk, f, rc->fast, &rc->single, !rc->has_single, &r.val, true);
            rc->has_single |= st == SL_OK;
            break;
        case SLUICE__OP_KIND__OP_COUNT_BY_VALUE:
        case SLUICE__OP_KIND__OP_REDUCE_BY_KEY: {
            bool created;
            sl_agg_entry_t *e = sl_agg_upsert(rc->agg, r.key, r.key_len, &created);
            if (!e)
                st = sl_task_fail(tk, SL_ERR_NOMEM, "out of memory");
            else if (op == SLUICE__OP_KIND__OP_COUNT_BY_VALUE)
                e->acc = created ? r.val : sl_val_int(e->acc.u.i + r.val.u.i);
            else
                st = sl_fold(tk, f, rc->fast, &e->acc, created, &r.val, true);
            break;
        }
        default: {   /* group_by_key, joins, cogroup: remember values per side */
            bool created;
            sl_groups_t **g = (sl_groups_t **)sl_hmap_slot(rc->table, r.key, r.key_len, &created);
            if (g && created && !(*g = calloc(1, sizeof **g))) {
                sl_hmap_remove(rc->table, r.key, r.key_len);   /* no NULL groups left behind */
                g = NULL;
            }
            if (!g) {
                st = sl_task_fail(tk, SL_ERR_NOMEM, "out of memory");
                break;
            }
            uint32_t side = slot ? 1 : 0;
            if (sl_value_encode(&(*g)->side[side], &r.val) != SL_OK)
                st = sl_task_fail(tk, SL_ERR_NOMEM, "out of memory");
            (*g)->n[side]++;
            break;
        }
        }
        sl_arena_reset(tk->tmp);
    }
    if (st == SL_OK && more < 0)
        st = sl_task_fail(tk, SL_ERR_DECODE, "shuffle data is corrupt");
    return st;
}

/* Emits (key, (a, b)) for every pair a in xs (or null when none), b in ys. */
static sl_status_t sl_emit_pairs(sl_task_t *tk, const sl_reduce_ctx_t *rc, const sl_record_t *k,
                                 const sl_groups_t *g, bool left_outer, bool right_outer)
{
    sl_value_t none = sl_val_null();
    uint32_t nx = g->n[0] ? g->n[0] : (right_outer ? 1 : 0);
    uint32_t ny = g->n[1] ? g->n[1] : (left_outer ? 1 : 0);
    const uint8_t *px = g->side[0].p, *ex = px + g->side[0].len;
    for (uint32_t i = 0; i < nx; i++) {
        sl_value_t x = none;
        if (g->n[0] && !sl_value_decode(&px, ex, &x))
            return sl_task_fail(tk, SL_ERR_INTERNAL, "corrupt group");
        const uint8_t *py = g->side[1].p, *ey = py + g->side[1].len;
        for (uint32_t j = 0; j < ny; j++) {
            sl_value_t y = none;
            if (g->n[1] && !sl_value_decode(&py, ey, &y))
                return sl_task_fail(tk, SL_ERR_INTERNAL, "corrupt group");
            sl_buf_t elems = { 0 };
            sl_status_t st = sl_value_encode(&elems, &x);
            if (st == SL_OK)
                st = sl_value_encode(&elems, &y);
            sl_record_t out = *k;
            out.val = sl_val_list(SL_VAL_TUPLE, &elems, 2);
            if (st == SL_OK)
                st = sl_task_emit(tk, rc->root, rc->part, &out);
            else
                sl_task_fail(tk, st, "out of memory");
            sl_buf_free(&elems);
            sl_arena_reset(tk->tmp);
            if (st != SL_OK)
                return st;
        }
    }
    return SL_OK;
}

static sl_status_t sl_emit_group(sl_task_t *tk, const sl_reduce_ctx_t *rc, const sl_record_t *k,
                                 const sl_groups_t *g, Sluice__OpKind op)
{
    switch (op) {
    case SLUICE__OP_KIND__OP_JOIN:
        return sl_emit_pairs(tk, rc, k, g, false, false);
    case SLUICE__OP_KIND__OP_LEFT_OUTER_JOIN:
        return g->n[0] ? sl_emit_pairs(tk, rc, k, g, true, false) : SL_OK;
    case SLUICE__OP_KIND__OP_RIGHT_OUTER_JOIN:
        return g->n[1] ? sl_emit_pairs(tk, rc, k, g, false, true) : SL_OK;
    case SLUICE__OP_KIND__OP_FULL_OUTER_JOIN:
        return sl_emit_pairs(tk, rc, k, g, true, true);
    case SLUICE__OP_KIND__OP_COGROUP: {
        /* (key, ([xs], [ys])) */
        sl_buf_t elems = { 0 };
        sl_value_t xs = sl_val_list(SL_VAL_LIST, &g->side[0], g->n[0]);
        sl_value_t ys = sl_val_list(SL_VAL_LIST, &g->side[1], g->n[1]);
        sl_status_t st = sl_value_encode(&elems, &xs);
        if (st == SL_OK)
            st = sl_value_encode(&elems, &ys);
        sl_record_t out = *k;
        out.val = sl_val_list(SL_VAL_TUPLE, &elems, 2);
        st = st == SL_OK ? sl_task_emit(tk, rc->root, rc->part, &out)
                         : sl_task_fail(tk, st, "out of memory");
        sl_buf_free(&elems);
        return st;
    }
    default: {   /* group_by_key: (key, [values]) */
        sl_record_t out = *k;
        out.val = sl_val_list(SL_VAL_LIST, &g->side[0], g->n[0]);
        return sl_task_emit(tk, rc->root, rc->part, &out);
    }
    }
}

static sl_status_t sl_task_reduce_side(sl_task_t *tk, uint32_t root, uint32_t part)
{
    Sluice__OpKind op = tk->rt->spec->nodes[root]->op;
    sl_reduce_ctx_t rc = { .root = root, .part = part, .fast = sl_fast_of(tk->rt->funcs[root]) };
    bool grouped = op == SLUICE__OP_KIND__OP_GROUP_BY_KEY || op == SLUICE__OP_KIND__OP_JOIN ||
                   op == SLUICE__OP_KIND__OP_LEFT_OUTER_JOIN ||
                   op == SLUICE__OP_KIND__OP_RIGHT_OUTER_JOIN ||
                   op == SLUICE__OP_KIND__OP_FULL_OUTER_JOIN || op == SLUICE__OP_KIND__OP_COGROUP;
    bool keyed = op == SLUICE__OP_KIND__OP_REDUCE_BY_KEY || op == SLUICE__OP_KIND__OP_COUNT_BY_VALUE;
    if ((grouped && !(rc.table = sl_hmap_new(1024))) || (keyed && !(rc.agg = sl_agg_new(4096))))
        goto nomem;
    sl_status_t st = sl_task_each_bucket(tk, root, sl_reduce_bucket, &rc);
    size_t pos = 0, klen;
    const void *k;
    void *v;
    if (st == SL_OK && op == SLUICE__OP_KIND__OP_COUNT) {
        sl_record_t out = { .val = rc.has_single ? rc.single : sl_val_int(0) };
        st = sl_task_emit(tk, root, part, &out);
    } else if (st == SL_OK && op == SLUICE__OP_KIND__OP_REDUCE && rc.has_single) {
        sl_record_t out = { .val = rc.single };
        st = sl_task_emit(tk, root, part, &out);
    }
    for (sl_agg_entry_t *e; st == SL_OK && rc.agg && (e = sl_agg_next(rc.agg, &pos));) {
        sl_record_t out = { .key = sl_agg_key(e), .key_len = e->key_len, .val = e->acc };
        st = sl_task_emit(tk, root, part, &out);
        sl_arena_reset(tk->tmp);
    }
    pos = 0;
    while (st == SL_OK && rc.table && sl_hmap_next(rc.table, &pos, &k, &klen, &v)) {
        sl_record_t key = { .key = k, .key_len = klen };
        st = sl_emit_group(tk, &rc, &key, v, op);
        sl_arena_reset(tk->tmp);
    }
    pos = 0;
    while (grouped && rc.table && sl_hmap_next(rc.table, &pos, &k, &klen, &v)) {
        sl_groups_t *g = v;
        sl_buf_free(&g->side[0]);
        sl_buf_free(&g->side[1]);
        free(g);
    }
    sl_hmap_free(rc.table);
    sl_agg_free(rc.agg);
    return st;
nomem:
    sl_hmap_free(rc.table);
    return sl_task_fail(tk, SL_ERR_NOMEM, "out of memory");
}

/* --- running a task ------------------------------------------------------------------------ */

static sl_status_t sl_task_finish_sinks(sl_task_t *tk)
{
    sl_task_result_t *res = tk->res;
    for (size_t i = 0; i < tk->nwriters; i++) {
        sl_status_t st = sl_writer_finish(tk, &tk->writers[i]);
        if (st != SL_OK)
            return st;
    }
    for (size_t i = 0; i < tk->nsinks; i++) {
        sl_sink_t *s = &tk->sinks[i];
        if (s->file) {
            bool ok = fflush(s->file) == 0 && fsync(fileno(s->file)) == 0;
            ok = fclose(s->file) == 0 && ok;
            s->file = NULL;
            if (!ok || rename(s->tmp_path, s->final_path) != 0)
                return sl_task_fail(tk, SL_ERR_IO, "cannot write %s: %s", s->final_path,
                                    strerror(errno));
            continue;
        }
        uint8_t *data;
        size_t len;
        if (sl_bb_finish(&s->bb, &data, &len) != SL_OK)
            return sl_task_fail(tk, SL_ERR_NOMEM, "out of memory");
        Sluice__CollectedOutput *na = realloc(res->collected, (res->ncollected + 1) * sizeof *na);
        if (!na || sl_buf_append(&res->payload, data, len) != SL_OK) {
            free(data);
            if (na)
                res->collected = na;
            return sl_task_fail(tk, SL_ERR_NOMEM, "out of memory");
        }
        free(data);
        res->collected = na;
        Sluice__CollectedOutput *co = &na[res->ncollected++];
        sluice__collected_output__init(co);
        co->output = s->output;
        co->node_part = s->node_part;
        co->offset = res->payload.len - len;
        co->length = len;
        co->total_records = s->total;
    }
    return SL_OK;
}

static void sl_task_cleanup(sl_task_t *tk)
{
    for (size_t i = 0; i < tk->nwriters; i++)
        sl_writer_free(&tk->writers[i]);
    for (size_t i = 0; i < tk->nsinks; i++) {
        sl_sink_t *s = &tk->sinks[i];
        if (s->file) {
            fclose(s->file);
            unlink(s->tmp_path);
        }
        sl_bb_free(&s->bb);
    }
    for (size_t i = 0; i < tk->npeers; i++)
        sl_sync_close(tk->peers[i].conn);
    sl_buf_free(&tk->line);
    sl_arena_free(tk->tmp);
    sl_arena_free(tk->keep);
}

void sl_task_run(const sl_task_env_t *env, sl_jobrt_t *rt, const Sluice__RunTask *t,
                 sl_task_result_t *res)
{
    sl_task_t tk;
    memset(&tk, 0, sizeof tk);
    tk.env = env;
    tk.rt = rt;
    tk.t = t;
    tk.res = res;
    res->status = SL_OK;
    tk.tmp = sl_arena_new(0);
    tk.keep = sl_arena_new(0);
    if (!tk.tmp || !tk.keep) {
        sl_task_fail(&tk, SL_ERR_NOMEM, "out of memory");
        goto done;
    }
    if (t->pipeline >= rt->plan->npipelines ||
        t->partition >= rt->plan->pipelines[t->pipeline].ntasks) {
        sl_task_fail(&tk, SL_ERR_INVALID, "no task %u of pipeline %u in job %s", t->partition,
                     t->pipeline, rt->id);
        goto done;
    }
    uint32_t root = rt->plan->pipelines[t->pipeline].root;
    if (sl_task_open_sinks(&tk, root, t->partition) != SL_OK)
        goto done;
    sl_status_t st = rt->plan->nodes[root].wide ? sl_task_reduce_side(&tk, root, t->partition)
                                                : sl_task_read_blocks(&tk, root, t->partition);
    if (st == SL_OK)
        sl_task_finish_sinks(&tk);
done:
    sl_task_cleanup(&tk);
}

void sl_task_result_free(sl_task_result_t *res)
{
    free(res->shuffles);
    free(res->collected);
    sl_buf_free(&res->payload);
    memset(res, 0, sizeof *res);
}
