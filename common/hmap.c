/* Open-addressing hash map with byte keys (XXH3 hashes, stored to skip
 * mismatches cheaply). Removal uses backward-shift deletion, so there are no
 * tombstones. Keys live in one malloc'ed block per entry. */
#include <stdlib.h>
#include <string.h>
#include "block.h"
#include "hmap.h"

typedef struct {
    uint64_t hash;
    uint8_t *key;       /* NULL: empty slot */
    size_t len;
    void *value;
} sl_hslot_t;

struct sl_hmap {
    sl_hslot_t *slots;
    size_t cap;         /* power of two */
    size_t count;
};

sl_hmap_t *sl_hmap_new(size_t initial)
{
    sl_hmap_t *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    size_t cap = 16;
    while (cap < initial * 2)
        cap *= 2;
    m->slots = calloc(cap, sizeof *m->slots);
    if (!m->slots) {
        free(m);
        return NULL;
    }
    m->cap = cap;
    return m;
}

void sl_hmap_free(sl_hmap_t *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->cap; i++)
        free(m->slots[i].key);
    free(m->slots);
    free(m);
}

static size_t sl_hmap_find(const sl_hmap_t *m, uint64_t h, const void *key, size_t len)
{
    size_t mask = m->cap - 1, i = h & mask;
    for (;;) {
        const sl_hslot_t *s = &m->slots[i];
        if (!s->key || (s->hash == h && s->len == len && memcmp(s->key, key, len) == 0))
            return i;
        i = (i + 1) & mask;
    }
}

static bool sl_hmap_grow(sl_hmap_t *m)
{
    size_t ncap = m->cap * 2;
    sl_hslot_t *ns = calloc(ncap, sizeof *ns);
    if (!ns)
        return false;
    for (size_t i = 0; i < m->cap; i++) {
        sl_hslot_t *s = &m->slots[i];
        if (!s->key)
            continue;
        size_t j = s->hash & (ncap - 1);
        while (ns[j].key)
            j = (j + 1) & (ncap - 1);
        ns[j] = *s;
    }
    free(m->slots);
    m->slots = ns;
    m->cap = ncap;
    return true;
}

void **sl_hmap_slot(sl_hmap_t *m, const void *key, size_t len, bool *created)
{
    uint64_t h = sl_key_hash(key, len);
    size_t i = sl_hmap_find(m, h, key, len);
    if (m->slots[i].key) {
        *created = false;
        return &m->slots[i].value;
    }
    if ((m->count + 1) * 4 > m->cap * 3) {   /* keep the load under 3/4 */
        if (!sl_hmap_grow(m))
            return NULL;
        i = sl_hmap_find(m, h, key, len);
    }
    uint8_t *k = malloc(len ? len : 1);
    if (!k)
        return NULL;
    memcpy(k, key, len);
    m->slots[i] = (sl_hslot_t){ .hash = h, .key = k, .len = len, .value = NULL };
    m->count++;
    *created = true;
    return &m->slots[i].value;
}

void *sl_hmap_get(const sl_hmap_t *m, const void *key, size_t len)
{
    size_t i = sl_hmap_find(m, sl_key_hash(key, len), key, len);
    return m->slots[i].key ? m->slots[i].value : NULL;
}

void *sl_hmap_remove(sl_hmap_t *m, const void *key, size_t len)
{
    size_t mask = m->cap - 1, i = sl_hmap_find(m, sl_key_hash(key, len), key, len);
    if (!m->slots[i].key)
        return NULL;
    void *v = m->slots[i].value;
    free(m->slots[i].key);
    m->slots[i].key = NULL;
    m->count--;
    /* Backward shift: pull later entries of the run into the hole. */
    size_t hole = i, j = (i + 1) & mask;
    while (m->slots[j].key) {
        size_t home = m->slots[j].hash & mask;
        if (((j - home) & mask) >= ((j - hole) & mask)) {
            m->slots[hole] = m->slots[j];
            m->slots[j].key = NULL;
            hole = j;
        }
        j = (j + 1) & mask;
    }
    return v;
}

size_t sl_hmap_count(const sl_hmap_t *m) { return m->count; }

bool sl_hmap_next(const sl_hmap_t *m, size_t *pos, const void **key, size_t *len, void **value)
{
    while (*pos < m->cap) {
        const sl_hslot_t *s = &m->slots[(*pos)++];
        if (s->key) {
            *key = s->key;
            *len = s->len;
            *value = s->value;
            return true;
        }
    }
    return false;
}
