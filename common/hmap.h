/* A hash map from byte-string keys to a pointer, open addressing with linear
 * probing. Keys are copied into the map's own storage; values are the
 * caller's. Used for aggregation tables (one per task, not shared) and, under
 * the owner's lock, for the worker's stores. Not thread-safe by itself. */
#ifndef SL_HMAP_H
#define SL_HMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "status.h"

typedef struct sl_hmap sl_hmap_t;

sl_hmap_t *sl_hmap_new(size_t initial);          /* NULL when out of memory */
void sl_hmap_free(sl_hmap_t *m);                 /* values are not freed; accepts NULL */

/* Finds the slot for `key`, creating it (value NULL) when absent. *created
 * tells which. Returns the value slot (valid until the next insert), or NULL
 * when out of memory. */
void **sl_hmap_slot(sl_hmap_t *m, const void *key, size_t len, bool *created /* OUT */);
void *sl_hmap_get(const sl_hmap_t *m, const void *key, size_t len);
/* Removes and returns the value (NULL when absent). */
void *sl_hmap_remove(sl_hmap_t *m, const void *key, size_t len);
size_t sl_hmap_count(const sl_hmap_t *m);

/* Iteration in insertion order of the slots' current layout: *pos starts at
 * 0; returns false at the end. Key and value are borrowed. Do not insert or
 * remove while iterating. */
bool sl_hmap_next(const sl_hmap_t *m, size_t *pos, const void **key, size_t *len, void **value);

#endif
