/* Bump allocation in chunks for memory that lives as long as a task or a
 * batch: alloc is a pointer bump, free is one walk over the chunks. Requests
 * over a quarter of the chunk size get a chunk of their own, so a big string
 * never strands the rest of the current chunk. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "arena.h"

#define SL_ARENA_ALIGN 16
#define SL_ARENA_DEFAULT_CHUNK (64 * 1024)
#define SL_ARENA_MIN_CHUNK 64

/* A chunk header; its data follows it in the same allocation, with up to
 * SL_ARENA_ALIGN - 1 bytes of slack so the data can start aligned whatever
 * malloc returned. */
typedef struct sl_arena_chunk {
    struct sl_arena_chunk *next;
    uint8_t *pos, *end;          /* free space [pos, end) */
} sl_arena_chunk_t;

struct sl_arena {
    sl_arena_chunk_t *chunks;    /* every chunk, newest first; `first` is last */
    sl_arena_chunk_t *cur;       /* where small requests are bumped from */
    size_t chunk_size;
    size_t bytes;                /* handed out since the last reset */
    sl_arena_chunk_t first;      /* kept across resets; its data follows */
};

/* Bytes from p to the next aligned address. */
static size_t sl_arena_pad(const uint8_t *p)
{
    size_t mis = (size_t)((uintptr_t)p & (SL_ARENA_ALIGN - 1));
    return mis ? SL_ARENA_ALIGN - mis : 0;
}

static uint8_t *sl_arena_align_ptr(uint8_t *p)
{
    return p + sl_arena_pad(p);
}

/* Points c at `size` usable bytes starting at data (which has `size` +
 * SL_ARENA_ALIGN - 1 bytes allocated). */
static void sl_arena_chunk_init(sl_arena_chunk_t *c, uint8_t *data, size_t size)
{
    c->next = NULL;
    c->pos = sl_arena_align_ptr(data);
    c->end = c->pos + size;
}

/* A new chunk with room for `size` aligned bytes; NULL when out of memory
 * or when the size cannot be represented. */
static sl_arena_chunk_t *sl_arena_chunk_new(size_t size)
{
    if (size > SIZE_MAX - sizeof(sl_arena_chunk_t) - SL_ARENA_ALIGN)
        return NULL;
    sl_arena_chunk_t *c = malloc(sizeof *c + size + SL_ARENA_ALIGN - 1);
    if (!c)
        return NULL;
    sl_arena_chunk_init(c, (uint8_t *)(c + 1), size);
    return c;
}

/* Takes n bytes from c at an aligned address, or NULL when they do not fit. */
static void *sl_arena_chunk_take(sl_arena_chunk_t *c, size_t n)
{
    size_t avail = (size_t)(c->end - c->pos);
    size_t pad = sl_arena_pad(c->pos);
    if (pad > avail || n > avail - pad)
        return NULL;
    uint8_t *p = c->pos + pad;
    c->pos = p + n;
    return p;
}

/* The arena and its first chunk are one allocation. */
sl_arena_t *sl_arena_new(size_t chunk)
{
    if (chunk == 0)
        chunk = SL_ARENA_DEFAULT_CHUNK;
    if (chunk < SL_ARENA_MIN_CHUNK)
        chunk = SL_ARENA_MIN_CHUNK;
    if (chunk > SIZE_MAX - sizeof(sl_arena_t) - SL_ARENA_ALIGN)
        return NULL;
    sl_arena_t *a = malloc(sizeof *a + chunk + SL_ARENA_ALIGN - 1);
    if (!a)
        return NULL;
    sl_arena_chunk_init(&a->first, (uint8_t *)(a + 1), chunk);
    a->chunks = a->cur = &a->first;
    a->chunk_size = chunk;
    a->bytes = 0;
    return a;
}

/* Bumps from the current chunk; when it is full, starts a new one (small
 * requests) or gives the request its own chunk (big ones), which leaves the
 * current chunk in use. n may be 0: the result is then a valid, aligned
 * pointer that must not be dereferenced. */
void *sl_arena_alloc(sl_arena_t *a, size_t n)
{
    void *p = sl_arena_chunk_take(a->cur, n);
    if (p)
        goto done;
    sl_arena_chunk_t *c;
    if (n > a->chunk_size / 4) {
        c = sl_arena_chunk_new(n);
        if (!c)
            return NULL;
    } else {
        c = sl_arena_chunk_new(a->chunk_size);
        if (!c)
            return NULL;
        a->cur = c;
    }
    c->next = a->chunks;
    a->chunks = c;
    p = sl_arena_chunk_take(c, n);
done:
    a->bytes += n;
    return p;
}

void *sl_arena_dup(sl_arena_t *a, const void *p, size_t n)
{
    void *q = sl_arena_alloc(a, n);
    if (q && n)
        memcpy(q, p, n);
    return q;
}

/* Frees every chunk but the first, which is rewound. */
void sl_arena_reset(sl_arena_t *a)
{
    sl_arena_chunk_t *c = a->chunks;
    while (c != &a->first) {
        sl_arena_chunk_t *next = c->next;
        free(c);
        c = next;
    }
    sl_arena_chunk_init(&a->first, (uint8_t *)(a + 1), a->chunk_size);
    a->chunks = a->cur = &a->first;
    a->bytes = 0;
}

void sl_arena_free(sl_arena_t *a)
{
    if (!a)
        return;
    sl_arena_reset(a);
    free(a);
}

size_t sl_arena_bytes(const sl_arena_t *a)
{
    return a->bytes;
}
