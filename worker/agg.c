/* Aggregation table: linear probing over one-cache-line entries. Short keys
 * are compared as two 8-byte words against a zero-padded copy of the probe
 * key, so the common lookup costs no call and no second cache miss. */
#include <stdlib.h>
#include <string.h>
#include "agg.h"

#define SL_AGG_USED (1ULL << 63)

_Static_assert(sizeof(sl_agg_entry_t) == 64, "an aggregation entry is one cache line");

sl_agg_t *sl_agg_new(size_t expected)
{
    sl_agg_t *a = calloc(1, sizeof *a);
    if (!a)
        return NULL;
    size_t cap = 64;
    while (cap < expected * 2)
        cap *= 2;
    a->slots = aligned_alloc(64, cap * sizeof *a->slots);
    a->keys = sl_arena_new(0);
    if (!a->slots || !a->keys) {
        sl_agg_free(a);
        return NULL;
    }
    memset(a->slots, 0, cap * sizeof *a->slots);
    a->cap = cap;
    return a;
}

void sl_agg_free(sl_agg_t *a)
{
    if (!a)
        return;
    free(a->slots);
    sl_arena_free(a->keys);
    free(a);
}

static bool sl_agg_grow(sl_agg_t *a)
{
    size_t ncap = a->cap * 2, mask = ncap - 1;
    sl_agg_entry_t *ns = aligned_alloc(64, ncap * sizeof *ns);
    if (!ns)
        return false;
    memset(ns, 0, ncap * sizeof *ns);
    for (size_t i = 0; i < a->cap; i++) {
        if (!a->slots[i].hash)
            continue;
        size_t j = a->slots[i].hash & mask;
        while (ns[j].hash)
            j = (j + 1) & mask;
        ns[j] = a->slots[i];   /* inline keys move with the entry */
    }
    free(a->slots);
    a->slots = ns;
    a->cap = ncap;
    return true;
}

/* Whether entry e holds the key; `padded` is the key zero-padded to
 * SL_AGG_INLINE bytes when it is that short. */
static inline bool sl_agg_match(const sl_agg_entry_t *e, uint64_t h, const uint8_t *key,
                                size_t len, const uint64_t padded[2])
{
    if (e->hash != h || e->key_len != len)
        return false;
    if (len > SL_AGG_INLINE)
        return memcmp(e->key.out, key, len) == 0;
    uint64_t w[2];
    memcpy(w, e->key.in, sizeof w);
    return w[0] == padded[0] && w[1] == padded[1];
}

sl_agg_entry_t *sl_agg_upsert(sl_agg_t *a, const uint8_t *key, size_t len, bool *created)
{
    if (len > UINT32_MAX)
        return NULL;
    uint64_t h = sl_key_hash(key, len) | SL_AGG_USED;
    uint64_t padded[2] = { 0, 0 };
    if (len <= SL_AGG_INLINE && len)
        memcpy(padded, key, len);
    for (;;) {
        size_t mask = a->cap - 1, i = h & mask;
        while (a->slots[i].hash) {
            if (sl_agg_match(&a->slots[i], h, key, len, padded)) {
                *created = false;
                return &a->slots[i];
            }
            i = (i + 1) & mask;
        }
        if ((a->count + 1) * 2 > a->cap) {   /* at most half full */
            if (!sl_agg_grow(a))
                return NULL;
            continue;
        }
        sl_agg_entry_t *e = &a->slots[i];
        memset(e, 0, sizeof *e);
        if (len <= SL_AGG_INLINE) {
            memcpy(e->key.in, padded, sizeof e->key.in);
        } else {
            uint8_t *k = sl_arena_alloc(a->keys, len);
            if (!k)
                return NULL;
            memcpy(k, key, len);
            e->key.out = k;
        }
        e->hash = h;
        e->key_len = (uint32_t)len;
        a->count++;
        *created = true;
        return e;
    }
}

sl_agg_entry_t *sl_agg_next(sl_agg_t *a, size_t *pos)
{
    while (*pos < a->cap) {
        sl_agg_entry_t *e = &a->slots[(*pos)++];
        if (e->hash)
            return e;
    }
    return NULL;
}
