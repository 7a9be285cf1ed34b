/* A hash table for aggregating by key inside one task: keys copied into the
 * table's own arena, the accumulator stored in the entry itself, open
 * addressing kept at most half full. This is the hot path of reduce_by_key
 * and count_by_value (map side and reduce side): no allocation per key
 * beyond the arena, one cache line touched per lookup. */
#ifndef SL_AGG_H
#define SL_AGG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "arena.h"
#include "block.h"

typedef struct {
    uint64_t hash;
    const uint8_t *key;     /* in the table's arena; NULL: empty slot */
    size_t key_len;
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
 * when out of memory. Valid until the next insert. */
sl_agg_entry_t *sl_agg_upsert(sl_agg_t *a, const uint8_t *key, size_t len, bool *created /* OUT */);

/* Iteration: *pos starts at 0; NULL at the end. No inserts meanwhile. */
sl_agg_entry_t *sl_agg_next(sl_agg_t *a, size_t *pos);

#endif
