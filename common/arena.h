/* A bump allocator for memory whose lifetime is a task or a batch: many small
 * allocations, one free. Not thread-safe; one arena per task. */
#ifndef SL_ARENA_H
#define SL_ARENA_H

#include <stddef.h>

typedef struct sl_arena sl_arena_t;

/* Chunks are `chunk` bytes (0: 64 KiB); requests over a quarter of that get a
 * chunk of their own. Free with sl_arena_free(). */
sl_arena_t *sl_arena_new(size_t chunk);
/* 16-byte aligned; NULL only when out of memory. Valid until reset or free. */
void *sl_arena_alloc(sl_arena_t *a, size_t n);
/* Copies n bytes into the arena. */
void *sl_arena_dup(sl_arena_t *a, const void *p, size_t n);
/* Forgets every allocation but keeps the first chunk for reuse. */
void sl_arena_reset(sl_arena_t *a);
void sl_arena_free(sl_arena_t *a);           /* accepts NULL */
size_t sl_arena_bytes(const sl_arena_t *a);  /* bytes handed out since the last reset */

#endif
