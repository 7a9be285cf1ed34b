/* Aggregation table: linear probing over entries that carry their hash, key
 * pointer and accumulator. */
#include <stdlib.h>
#include <string.h>
#include "agg.h"

sl_agg_t *sl_agg_new(size_t expected)
{
    sl_agg_t *a = calloc(1, sizeof *a);
    if (!a)
        return NULL;
    size_t cap = 64;
    while (cap < expected * 2)
        cap *= 2;
    a->slots = calloc(cap, sizeof *a->slots);
    a->keys = sl_arena_new(0);
    if (!a->slots || !a->keys) {
        sl_agg_free(a);
        return NULL;
    }
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
    sl_agg_entry_t *ns = calloc(ncap, sizeof *ns);
    if (!ns)
        return false;
    for (size_t i = 0; i < a->cap; i++) {
        if (!a->slots[i].key)
            continue;
        size_t j = a->slots[i].hash & mask;
        while (ns[j].key)
            j = (j + 1) & mask;
        ns[j] = a->slots[i];
    }
    free(a->slots);
    a->slots = ns;
    a->cap = ncap;
    return true;
}

sl_agg_entry_t *sl_agg_upsert(sl_agg_t *a, const uint8_t *key, size_t len, bool *created)
{
    uint64_t h = sl_key_hash(key, len);
    for (;;) {
        size_t mask = a->cap - 1, i = h & mask;
        for (;;) {
            sl_agg_entry_t *e = &a->slots[i];
            if (!e->key)
                break;
            if (e->hash == h && e->key_len == len && memcmp(e->key, key, len) == 0) {
                *created = false;
                return e;
            }
            i = (i + 1) & mask;
        }
        if ((a->count + 1) * 2 > a->cap) {   /* at most half full */
            if (!sl_agg_grow(a))
                return NULL;
            continue;
        }
        /* An empty key still needs a non-NULL pointer: the arena gives one. */
        void *k = sl_arena_alloc(a->keys, len ? len : 1);
        if (!k)
            return NULL;
        memcpy(k, key, len);
        sl_agg_entry_t *e = &a->slots[i];
        *e = (sl_agg_entry_t){ .hash = h, .key = k, .key_len = len };
        a->count++;
        *created = true;
        return e;
    }
}

sl_agg_entry_t *sl_agg_next(sl_agg_t *a, size_t *pos)
{
    while (*pos < a->cap) {
        sl_agg_entry_t *e = &a->slots[(*pos)++];
        if (e->key)
            return e;
    }
    return NULL;
}
