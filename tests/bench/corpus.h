/* What the benchmark programs share, header-only (the Makefile builds every
 * tests/bench/NAME.c into a program of its own): the deterministic Zipf text
 * corpus (vocabulary, sampler, generator), loading a corpus file, a word
 * counter (open addressing, keys in one growing pool: no per-word malloc),
 * tokenizing exactly like the engine's built-in split (runs of ASCII
 * whitespace), and a monotonic clock. */
#ifndef SL_BENCH_CORPUS_H
#define SL_BENCH_CORPUS_H

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <xxhash.h>

/* Defaults of the benchmark corpus (tests/bench/run.sh). */
#define BC_VOCAB 100000u
#define BC_ZIPF_S 1.1
#define BC_SEED 20240601u

static inline double bc_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* --- deterministic randomness: splitmix64 (no libc rand, same on every box) --- */

typedef struct {
    uint64_t s;
} bc_rng_t;

static inline uint64_t bc_rng_next(bc_rng_t *r)
{
    uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Uniform in [0, 1) with 53 random bits. */
static inline double bc_rng_unit(bc_rng_t *r)
{
    return (double)(bc_rng_next(r) >> 11) * (1.0 / 9007199254740992.0);
}

/* --- the word counter ------------------------------------------------------------ */

typedef struct {
    uint64_t hash;          /* 0: empty slot (a real hash of 0 is stored as 1) */
    uint64_t count;
    uint32_t off, len;      /* key bytes in the pool */
} bc_slot_t;

typedef struct {
    bc_slot_t *slots;
    size_t cap, n;          /* cap: a power of two, kept at least twice n */
    char *pool;             /* every key once, back to back */
    size_t pool_len, pool_cap;
    uint64_t total;         /* sum of every count */
} bc_counter_t;

static inline bool bc_counter_init(bc_counter_t *c, size_t cap)
{
    memset(c, 0, sizeof *c);
    c->cap = 1024;
    while (c->cap < cap)
        c->cap <<= 1;
    c->slots = calloc(c->cap, sizeof *c->slots);
    c->pool_cap = 1 << 20;
    c->pool = malloc(c->pool_cap);
    return c->slots && c->pool;
}

static inline void bc_counter_free(bc_counter_t *c)
{
    free(c->slots);
    free(c->pool);
    memset(c, 0, sizeof *c);
}

static inline bool bc_counter_grow(bc_counter_t *c)
{
    size_t ncap = c->cap * 2;
    bc_slot_t *ns = calloc(ncap, sizeof *ns);
    if (!ns)
        return false;
    for (size_t i = 0; i < c->cap; i++) {
        if (!c->slots[i].hash)
            continue;
        size_t j = c->slots[i].hash & (ncap - 1);
        while (ns[j].hash)
            j = (j + 1) & (ncap - 1);
        ns[j] = c->slots[i];
    }
    free(c->slots);
    c->slots = ns;
    c->cap = ncap;
    return true;
}

/* Adds n to the count of word w (copied into the pool the first time).
 * False only when out of memory. */
static inline bool bc_counter_add(bc_counter_t *c, const char *w, size_t len, uint64_t n)
{
    uint64_t h = XXH3_64bits(w, len);
    if (!h)
        h = 1;
    size_t mask = c->cap - 1, i = h & mask;
    for (;;) {
        bc_slot_t *s = &c->slots[i];
        if (!s->hash)
            break;
        if (s->hash == h && s->len == len && memcmp(c->pool + s->off, w, len) == 0) {
            s->count += n;
            c->total += n;
            return true;
        }
        i = (i + 1) & mask;
    }
    if (c->pool_len + len > c->pool_cap) {
        size_t ncap = c->pool_cap * 2 + len;
        char *np = realloc(c->pool, ncap);
        if (!np)
            return false;
        c->pool = np;
        c->pool_cap = ncap;
    }
    bc_slot_t *s = &c->slots[i];
    s->hash = h;
    s->count = n;
    s->off = (uint32_t)c->pool_len;
    s->len = (uint32_t)len;
    memcpy(c->pool + c->pool_len, w, len);
    c->pool_len += len;
    c->total += n;
    if (++c->n * 2 > c->cap)
        return bc_counter_grow(c);
    return true;
}

/* The slot of word w, or NULL. */
static inline const bc_slot_t *bc_counter_get(const bc_counter_t *c, const char *w, size_t len)
{
    uint64_t h = XXH3_64bits(w, len);
    if (!h)
        h = 1;
    size_t mask = c->cap - 1, i = h & mask;
    for (; c->slots[i].hash; i = (i + 1) & mask) {
        const bc_slot_t *s = &c->slots[i];
        if (s->hash == h && s->len == len && memcmp(c->pool + s->off, w, len) == 0)
            return s;
    }
    return NULL;
}

/* The engine's split: tokens are maximal runs of bytes that are not ASCII
 * whitespace (' ', '\t', '\n', '\v', '\f', '\r'). */
static inline bool bc_is_space(unsigned char ch)
{
    return ch == ' ' || (ch >= '\t' && ch <= '\r');
}

/* Counts every word of text[0, len). False only when out of memory. */
static inline bool bc_count_text(bc_counter_t *c, const char *text, size_t len)
{
    const char *p = text, *end = text + len;
    while (p < end) {
        while (p < end && bc_is_space((unsigned char)*p))
            p++;
        const char *w = p;
        while (p < end && !bc_is_space((unsigned char)*p))
            p++;
        if (p > w && !bc_counter_add(c, w, (size_t)(p - w), 1))
            return false;
    }
    return true;
}

/* The k most frequent words (ties: bytewise smaller first) into top[0, k);
 * returns how many there are. */
static inline size_t bc_counter_top(const bc_counter_t *c, const bc_slot_t **top, size_t k)
{
    size_t n = 0;
    for (size_t i = 0; i < c->cap; i++) {
        const bc_slot_t *s = &c->slots[i];
        if (!s->hash)
            continue;
        size_t j = n < k ? n++ : k;
        while (j > 0) {
            const bc_slot_t *t = top[j - 1];
            bool before = s->count > t->count;
            if (s->count == t->count) {
                size_t m = s->len < t->len ? s->len : t->len;
                int cmp = memcmp(c->pool + s->off, c->pool + t->off, m);
                before = cmp < 0 || (cmp == 0 && s->len < t->len);
            }
            if (!before)
                break;
            if (j < k)
                top[j] = t;
            j--;
        }
        if (j < k)
            top[j] = s;
    }
    return n;
}

/* --- the corpus ------------------------------------------------------------------------- */

/* n distinct lowercase words, rank 0 the most frequent. Frequent words are
 * short, rare ones long, as in natural text: length 2..4 at rank 0, about
 * 10..12 at rank 100000. words[i] points into *pool; caller frees both. */
static inline bool bc_vocab_build(uint32_t n, uint64_t seed, char ***words_out, char **pool_out)
{
    bc_rng_t r = { seed ^ 0x766f636162756c61ull };
    char **words = calloc(n, sizeof *words);
    char *pool = malloc((size_t)n * 24);
    bc_counter_t seen;
    if (!words || !pool || !bc_counter_init(&seen, (size_t)n * 2)) {
        free(words);
        free(pool);
        return false;
    }
    size_t used = 0;
    for (uint32_t i = 0; i < n; i++) {
        size_t base = 2 + (size_t)(log10((double)i + 1.0) * 1.6);
        for (;;) {
            size_t len = base + bc_rng_next(&r) % 3;
            char *w = pool + used;
            for (size_t k = 0; k < len; k++)
                w[k] = (char)('a' + bc_rng_next(&r) % 26);
            if (bc_counter_get(&seen, w, len))
                continue;           /* taken: draw another */
            if (!bc_counter_add(&seen, w, len, 1)) {
                bc_counter_free(&seen);
                free(words);
                free(pool);
                return false;
            }
            w[len] = '\0';
            words[i] = w;
            used += len + 1;
            break;
        }
    }
    bc_counter_free(&seen);
    *words_out = words;
    *pool_out = pool;
    return true;
}

/* Zipf(s) over ranks 0..n-1: P(rank k) proportional to 1 / (k + 1)^s,
 * sampled by inverting the cumulative distribution (binary search). */
typedef struct {
    double *cdf;
    uint32_t n;
} bc_zipf_t;

static inline bool bc_zipf_init(bc_zipf_t *z, uint32_t n, double s)
{
    z->n = n;
    z->cdf = malloc((size_t)n * sizeof *z->cdf);
    if (!z->cdf)
        return false;
    double sum = 0;
    for (uint32_t k = 0; k < n; k++)
        z->cdf[k] = (sum += pow((double)k + 1.0, -s));
    for (uint32_t k = 0; k < n; k++)
        z->cdf[k] /= sum;
    z->cdf[n - 1] = 1.0;
    return true;
}

static inline uint32_t bc_zipf_sample(const bc_zipf_t *z, bc_rng_t *r)
{
    double u = bc_rng_unit(r);
    uint32_t lo = 0, hi = z->n - 1;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (z->cdf[mid] > u)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

/* Writes about `bytes` bytes of text to f: lines of 4..16 words drawn from
 * Zipf(s) over a vocabulary of `vocab` words, one space between words, '\n'
 * after each line. The same (bytes, vocab, s, seed) always give the same
 * file. *words_out and *lines_out (may be NULL) get what was written. */
static inline bool bc_corpus_write(FILE *f, uint64_t bytes, uint32_t vocab, double s, uint64_t seed,
                            uint64_t *words_out, uint64_t *lines_out)
{
    char **words = NULL, *pool = NULL;
    bc_zipf_t z = { 0 };
    size_t buf_cap = 1 << 20, buf_len = 0;
    char *buf = malloc(buf_cap + 1024);
    bool ok = buf && bc_vocab_build(vocab, seed, &words, &pool) && bc_zipf_init(&z, vocab, s);
    bc_rng_t r = { seed };
    uint64_t written = 0, nwords = 0, nlines = 0;
    while (ok && written < bytes) {
        uint32_t nw = 4 + (uint32_t)(bc_rng_next(&r) % 13);
        for (uint32_t i = 0; i < nw; i++) {
            const char *w = words[bc_zipf_sample(&z, &r)];
            size_t len = strlen(w);
            memcpy(buf + buf_len, w, len);
            buf_len += len;
            buf[buf_len++] = i + 1 < nw ? ' ' : '\n';
        }
        nwords += nw;
        nlines++;
        if (buf_len >= buf_cap || written + buf_len >= bytes) {
            ok = fwrite(buf, 1, buf_len, f) == buf_len;
            written += buf_len;
            buf_len = 0;
        }
    }
    free(buf);
    free(words);
    free(pool);
    free(z.cdf);
    if (words_out)
        *words_out = nwords;
    if (lines_out)
        *lines_out = nlines;
    return ok;
}

/* Reads a whole file into memory (NUL-terminated). Caller frees. */
static inline char *bc_read_file(const char *path, size_t *len_out)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *data = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (cap - len < (1 << 20)) {
            cap = cap ? cap * 2 : 64 << 20;
            char *nd = realloc(data, cap + 1);
            if (!nd) {
                free(data);
                fclose(f);
                return NULL;
            }
            data = nd;
        }
        size_t got = fread(data + len, 1, cap - len, f);
        len += got;
        if (got == 0)
            break;
    }
    bool err = ferror(f);
    fclose(f);
    if (err) {
        free(data);
        return NULL;
    }
    data[len] = '\0';
    *len_out = len;
    return data;
}

#endif
