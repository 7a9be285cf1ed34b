/* A hash table for aggregating by key inside one task: the accumulator is
 * stored in the entry itself, keys up to SL_AGG_INLINE bytes too (words,
 * ids: the common case), longer ones in the table's arena; one entry is one
 * 64-byte cache line, and the table is kept at most half full. This is the
 * hot path of reduce_by_key and count_by_value (map side and reduce side): no
 * allocation per key, one cache line touched per lookup for short keys. */
#ifndef SL_AGG_H
#define SL_AGG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "arena.h"
#include "block.h"

#define SL_AGG_INLINE 16

typedef struct {
    uint64_t hash;          /* 0: empty slot (real hashes have the top bit set) */
    uint32_t key_len;
    uint32_t pad_;
    union {
        uint8_t in[SL_AGG_INLINE];      /* key_len <= SL_AGG_INLINE, zero-padded */
        const uint8_t *out;             /* longer keys, in the table's arena */
    } key;
    sl_value_t acc;         /* the caller's accumulator */
} sl_agg_entry_t;

typedef struct {
    sl_agg_entry_t *slots;
    size_t cap;             /* power of two */
    size_t count;
    sl_arena_t *keys;
} sl_agg_t;

/* NULL when out of memory. Free with sl_agg_free(). */
sl_agg_t *sl_agg_new(size_t expected);
void sl_agg_free(sl_agg_t *a);   /* accepts NULL */

/* The entry of `key`, created (acc zeroed, *created set) when absent; NULL
 * when out of memory or for a key over 4 GiB. Valid until the next insert. */
sl_agg_entry_t *sl_agg_upsert(sl_agg_t *a, const uint8_t *key, size_t len, bool *created /* OUT */);

/* An entry's key bytes (valid while the entry does not move). */
static inline const uint8_t *sl_agg_key(const sl_agg_entry_t *e)
{
    return e->key_len <= SL_AGG_INLINE ? e->key.in : e->key.out;
}

/* Iteration: *pos starts at 0; NULL at the end. No inserts meanwhile. */
sl_agg_entry_t *sl_agg_next(sl_agg_t *a, size_t *pos);

#endif
