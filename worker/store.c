/* Block and shuffle store: one hash map per kind under one mutex, entries
 * holding reference-counted buffers. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "block.h"
#include "buf.h"
#include "hmap.h"
#include "store.h"

#define SL_JOB_MAX 64

typedef struct {
    sl_rbuf_t pub;              /* first: callers see this */
    atomic_int refs;
    uint8_t *owned;
} sl_rbuf_impl_t;

typedef struct {
    sl_rbuf_impl_t *buf;
    char job[SL_JOB_MAX + 1];
    char stream[SL_JOB_MAX + 1];
    int64_t batch;              /* shuffle entries */
    Sluice__BlockInfo *info;    /* block entries (packed copy, unpacked) */
} sl_entry_t;

struct sl_store {
    pthread_mutex_t lock;
    sl_hmap_t *blocks;
    sl_hmap_t *shuffles;
    size_t bytes;
};

static sl_rbuf_impl_t *sl_rbuf_new(uint8_t *data, size_t len)
{
    sl_rbuf_impl_t *b = malloc(sizeof *b);
    if (!b) {
        free(data);
        return NULL;
    }
    b->pub.data = data;
    b->pub.len = len;
    b->owned = data;
    atomic_init(&b->refs, 1);
    return b;
}

void sl_store_release(const sl_rbuf_t *pub)
{
    if (!pub)
        return;
    sl_rbuf_impl_t *b = (sl_rbuf_impl_t *)pub;
    if (atomic_fetch_sub(&b->refs, 1) == 1) {
        free(b->owned);
        free(b);
    }
}

static void sl_entry_free(sl_entry_t *e)
{
    if (!e)
        return;
    sl_store_release(&e->buf->pub);
    if (e->info)
        sluice__block_info__free_unpacked(e->info, NULL);
    free(e);
}

sl_store_t *sl_store_new(void)
{
    sl_store_t *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    pthread_mutex_init(&s->lock, NULL);
    s->blocks = sl_hmap_new(256);
    s->shuffles = sl_hmap_new(256);
    if (!s->blocks || !s->shuffles) {
        sl_store_free(s);
        return NULL;
    }
    return s;
}

static void sl_store_clear(sl_hmap_t *m)
{
    size_t pos = 0, len;
    const void *k;
    void *v;
    while (m && sl_hmap_next(m, &pos, &k, &len, &v))
        sl_entry_free(v);
    sl_hmap_free(m);
}

void sl_store_free(sl_store_t *s)
{
    if (!s)
        return;
    sl_store_clear(s->blocks);
    sl_store_clear(s->shuffles);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

/* Key of a block: job NUL stream NUL id(8). */
static size_t sl_block_key(char *key, const char *job, const char *stream, uint64_t id)
{
    size_t jl = strnlen(job, SL_JOB_MAX), sl = strnlen(stream, SL_JOB_MAX);
    memcpy(key, job, jl);
    key[jl] = 0;
    memcpy(key + jl + 1, stream, sl);
    key[jl + 1 + sl] = 0;
    memcpy(key + jl + 2 + sl, &id, sizeof id);
    return jl + 2 + sl + sizeof id;
}

/* Key of a shuffle bucket: job NUL then the key's fields one by one (never
 * the struct itself: its padding bytes are undefined). */
static size_t sl_shuffle_keybytes(char *key, const char *job, const sl_shuffle_key_t *k)
{
    size_t jl = strnlen(job, SL_JOB_MAX);
    memcpy(key, job, jl);
    key[jl] = 0;
    char *q = key + jl + 1;
    memcpy(q, &k->batch, sizeof k->batch);
    q += sizeof k->batch;
    const uint32_t f[5] = { k->attempt, k->node, k->slot, k->map_part, k->bucket };
    memcpy(q, f, sizeof f);
    return jl + 1 + sizeof k->batch + sizeof f;
}

/* Inserts `e` under `key`, replacing (and freeing) an older entry. */
static sl_status_t sl_store_insert(sl_store_t *s, sl_hmap_t *m, const char *key, size_t klen,
                                   sl_entry_t *e)
{
    pthread_mutex_lock(&s->lock);
    bool created;
    void **slot = sl_hmap_slot(m, key, klen, &created);
    if (!slot) {
        pthread_mutex_unlock(&s->lock);
        sl_entry_free(e);
        return SL_ERR_NOMEM;
    }
    sl_entry_t *old = created ? NULL : *slot;
    *slot = e;
    s->bytes += e->buf->pub.len;
    if (old)
        s->bytes -= old->buf->pub.len;
    pthread_mutex_unlock(&s->lock);
    sl_entry_free(old);
    return SL_OK;
}

static const sl_rbuf_t *sl_store_lookup(sl_store_t *s, sl_hmap_t *m, const char *key, size_t klen)
{
    pthread_mutex_lock(&s->lock);
    sl_entry_t *e = sl_hmap_get(m, key, klen);
    if (e)
        atomic_fetch_add(&e->buf->refs, 1);
    pthread_mutex_unlock(&s->lock);
    return e ? &e->buf->pub : NULL;
}

sl_status_t sl_store_put_block(sl_store_t *s, const char *job, const char *stream,
                               const Sluice__BlockInfo *info, uint8_t *data, size_t len)
{
    sl_entry_t *e = calloc(1, sizeof *e);
    if (!e) {
        free(data);
        return SL_ERR_NOMEM;
    }
    e->buf = sl_rbuf_new(data, len);
    e->info = sl_msg_clone(info);
    if (!e->buf || !e->info) {
        if (e->buf)
            sl_store_release(&e->buf->pub);
        if (e->info)
            sluice__block_info__free_unpacked(e->info, NULL);
        free(e);
        return SL_ERR_NOMEM;
    }
    snprintf(e->job, sizeof e->job, "%s", job);
    snprintf(e->stream, sizeof e->stream, "%s", stream);
    char key[2 * SL_JOB_MAX + 16];
    size_t klen = sl_block_key(key, job, stream, info->id);
    return sl_store_insert(s, s->blocks, key, klen, e);
}

const sl_rbuf_t *sl_store_get_block(sl_store_t *s, const char *job, const char *stream, uint64_t id)
{
    char key[2 * SL_JOB_MAX + 16];
    size_t klen = sl_block_key(key, job, stream, id);
    return sl_store_lookup(s, s->blocks, key, klen);
}

void sl_store_drop_blocks(sl_store_t *s, const char *job, const char *stream, const uint64_t *ids,
                          size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char key[2 * SL_JOB_MAX + 16];
        size_t klen = sl_block_key(key, job, stream, ids[i]);
        pthread_mutex_lock(&s->lock);
        sl_entry_t *e = sl_hmap_remove(s->blocks, key, klen);
        if (e)
            s->bytes -= e->buf->pub.len;
        pthread_mutex_unlock(&s->lock);
        sl_entry_free(e);
    }
}

size_t sl_store_list_epoch(sl_store_t *s, const char *job, const char *stream, uint32_t epoch,
                           uint64_t after_seq, Sluice__BlockInfo ***out)
{
    size_t n = 0, cap = 0, pos = 0, klen;
    Sluice__BlockInfo **arr = NULL;
    const void *k;
    void *v;
    pthread_mutex_lock(&s->lock);
    while (sl_hmap_next(s->blocks, &pos, &k, &klen, &v)) {
        sl_entry_t *e = v;
        uint64_t id = e->info->id;
        if (strcmp(e->job, job) != 0 || strcmp(e->stream, stream) != 0 ||
            sl_block_id_epoch(id) != epoch || sl_block_id_seq(id) <= after_seq)
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            Sluice__BlockInfo **na = realloc(arr, cap * sizeof *na);
            if (!na)
                break;
            arr = na;
        }
        Sluice__BlockInfo *c = sl_msg_clone(e->info);
        if (c)
            arr[n++] = c;
    }
    pthread_mutex_unlock(&s->lock);
    *out = arr;
    return n;
}

void sl_store_infos_free(Sluice__BlockInfo **infos, size_t n)
{
    for (size_t i = 0; i < n; i++)
        sluice__block_info__free_unpacked(infos[i], NULL);
    free(infos);
}

sl_status_t sl_store_put_shuffle(sl_store_t *s, const char *job, const sl_shuffle_key_t *k,
                                 uint8_t *data, size_t len)
{
    sl_entry_t *e = calloc(1, sizeof *e);
    if (!e) {
        free(data);
        return SL_ERR_NOMEM;
    }
    e->buf = sl_rbuf_new(data, len);
    if (!e->buf) {
        free(e);
        return SL_ERR_NOMEM;
    }
    snprintf(e->job, sizeof e->job, "%s", job);
    e->batch = k->batch;
    char key[SL_JOB_MAX + 1 + sizeof *k];
    size_t klen = sl_shuffle_keybytes(key, job, k);
    return sl_store_insert(s, s->shuffles, key, klen, e);
}

const sl_rbuf_t *sl_store_get_shuffle(sl_store_t *s, const char *job, const sl_shuffle_key_t *k)
{
    char key[SL_JOB_MAX + 1 + sizeof *k];
    size_t klen = sl_shuffle_keybytes(key, job, k);
    return sl_store_lookup(s, s->shuffles, key, klen);
}

/* Removes every entry of `m` matching (job, batch <= max_batch or any batch). */
static void sl_store_drop_where(sl_store_t *s, sl_hmap_t *m, const char *job, bool any_batch,
                                int64_t max_batch)
{
    for (;;) {
        /* Collect a few keys per pass: removal reorders slots. */
        char keys[32][2 * SL_JOB_MAX + 40];
        size_t lens[32], nk = 0, pos = 0, klen;
        const void *k;
        void *v;
        pthread_mutex_lock(&s->lock);
        while (nk < 32 && sl_hmap_next(m, &pos, &k, &klen, &v)) {
            sl_entry_t *e = v;
            if (strcmp(e->job, job) != 0 || (!any_batch && e->batch > max_batch))
                continue;
            if (klen > sizeof keys[0])
                continue;
            memcpy(keys[nk], k, klen);
            lens[nk++] = klen;
        }
        sl_entry_t *gone[32];
        for (size_t i = 0; i < nk; i++) {
            gone[i] = sl_hmap_remove(m, keys[i], lens[i]);
            if (gone[i])
                s->bytes -= gone[i]->buf->pub.len;
        }
        pthread_mutex_unlock(&s->lock);
        for (size_t i = 0; i < nk; i++)
            sl_entry_free(gone[i]);
        if (nk < 32)
            return;
    }
}

void sl_store_drop_batch(sl_store_t *s, const char *job, int64_t batch_time)
{
    sl_store_drop_where(s, s->shuffles, job, false, batch_time);
}

void sl_store_drop_job(sl_store_t *s, const char *job)
{
    sl_store_drop_where(s, s->shuffles, job, true, 0);
    sl_store_drop_where(s, s->blocks, job, true, 0);
}

size_t sl_store_bytes(sl_store_t *s)
{
    pthread_mutex_lock(&s->lock);
    size_t b = s->bytes;
    pthread_mutex_unlock(&s->lock);
    return b;
}
