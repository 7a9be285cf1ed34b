/* Producer sequence sets: a hash map from producer id to a floor and a
 * sorted array of the sequences above it. */
#include <stdlib.h>
#include <string.h>
#include "hmap.h"
#include "seqset.h"

typedef struct {
    uint64_t floor;
    uint64_t *above;    /* sorted, all > floor + 1 */
    size_t n, cap;
} sl_pseqs_t;

struct sl_seqset {
    sl_hmap_t *map;     /* producer (8 bytes) -> sl_pseqs_t* */
};

sl_seqset_t *sl_seqset_new(void)
{
    sl_seqset_t *s = calloc(1, sizeof *s);
    if (s && !(s->map = sl_hmap_new(16))) {
        free(s);
        return NULL;
    }
    return s;
}

void sl_seqset_free(sl_seqset_t *s)
{
    if (!s)
        return;
    size_t pos = 0, len;
    const void *k;
    void *v;
    while (sl_hmap_next(s->map, &pos, &k, &len, &v)) {
        free(((sl_pseqs_t *)v)->above);
        free(v);
    }
    sl_hmap_free(s->map);
    free(s);
}

static sl_pseqs_t *sl_seqset_get(sl_seqset_t *s, uint64_t producer)
{
    bool created;
    void **slot = sl_hmap_slot(s->map, &producer, sizeof producer, &created);
    if (!slot)
        return NULL;
    if (created && !(*slot = calloc(1, sizeof(sl_pseqs_t))))
        sl_hmap_remove(s->map, &producer, sizeof producer);
    return *slot;
}

/* Index of the first entry >= seq. */
static size_t sl_lower_bound(const sl_pseqs_t *p, uint64_t seq)
{
    size_t lo = 0, hi = p->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (p->above[mid] < seq)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

bool sl_seqset_has(const sl_seqset_t *s, uint64_t producer, uint64_t seq)
{
    const sl_pseqs_t *p = sl_hmap_get(s->map, &producer, sizeof producer);
    if (!p)
        return false;
    if (seq <= p->floor)
        return true;
    size_t i = sl_lower_bound(p, seq);
    return i < p->n && p->above[i] == seq;
}

/* Raises the floor over the sequences that now continue it. */
static void sl_seqset_compact(sl_pseqs_t *p)
{
    size_t k = 0;
    while (k < p->n && p->above[k] <= p->floor + 1) {
        if (p->above[k] == p->floor + 1)
            p->floor++;
        k++;
    }
    if (k) {
        memmove(p->above, p->above + k, (p->n - k) * sizeof *p->above);
        p->n -= k;
    }
}

sl_status_t sl_seqset_add(sl_seqset_t *s, uint64_t producer, uint64_t seq)
{
    sl_pseqs_t *p = sl_seqset_get(s, producer);
    if (!p)
        return SL_ERR_NOMEM;
    if (seq <= p->floor)
        return SL_OK;
    if (seq == p->floor + 1) {
        p->floor = seq;
        sl_seqset_compact(p);
        return SL_OK;
    }
    size_t i = sl_lower_bound(p, seq);
    if (i < p->n && p->above[i] == seq)
        return SL_OK;
    if (p->n == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 8;
        uint64_t *na = realloc(p->above, cap * sizeof *na);
        if (!na)
            return SL_ERR_NOMEM;
        p->above = na;
        p->cap = cap;
    }
    memmove(p->above + i + 1, p->above + i, (p->n - i) * sizeof *p->above);
    p->above[i] = seq;
    p->n++;
    return SL_OK;
}

sl_status_t sl_seqset_add_upto(sl_seqset_t *s, uint64_t producer, uint64_t floor)
{
    sl_pseqs_t *p = sl_seqset_get(s, producer);
    if (!p)
        return SL_ERR_NOMEM;
    if (floor > p->floor) {
        p->floor = floor;
        sl_seqset_compact(p);
    }
    return SL_OK;
}

sl_status_t sl_seqset_put(sl_seqset_t *s, uint64_t producer, uint64_t seq, bool upto)
{
    return upto ? sl_seqset_add_upto(s, producer, seq) : sl_seqset_add(s, producer, seq);
}

void sl_seqset_each(const sl_seqset_t *s, sl_seqset_visit_fn fn, void *arg)
{
    size_t pos = 0, len;
    const void *k;
    void *v;
    while (sl_hmap_next(s->map, &pos, &k, &len, &v)) {
        const sl_pseqs_t *p = v;
        uint64_t producer;
        memcpy(&producer, k, sizeof producer);
        fn(arg, producer, p->floor, true);
        for (size_t i = 0; i < p->n; i++)
            fn(arg, producer, p->above[i], false);
    }
}

size_t sl_seqset_entries(const sl_seqset_t *s)
{
    size_t n = 0, pos = 0, len;
    const void *k;
    void *v;
    while (sl_hmap_next(s->map, &pos, &k, &len, &v))
        n += 1 + ((const sl_pseqs_t *)v)->n;
    return n;
}
