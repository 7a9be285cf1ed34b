/* wordcount: the acceptance test of the engine. Under the manual clock, with
 * two workers, three batches of generated lines (a fixed-seed generator, so
 * every run sees the same input) are counted by the classic
 * flat_map(split).map(pair_one).reduce_by_key(sum) job, and each batch's
 * output must equal the counts the test computes itself. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "engine.h"
#include "tests.h"

#define IT_WC_BATCHES 3
#define IT_WC_WORDS 32

/* 16 common words, then 16 rare ones (absent from some batches). */
static const char *const it_wc_vocab[IT_WC_WORDS] = {
    "the", "stream", "batch", "spark", "record", "key", "value", "sluice",
    "worker", "master", "block", "shuffle", "task", "window", "tick", "join",
    "aardvark", "quokka", "zephyr", "narwhal", "ibex", "okapi", "tapir", "wombat",
    "x", "yy", "Zebra", "zebra", "a1", "b-2", "c.3", "d_4",
};

/* Whitespace between words: split must treat every run as one separator. */
static const char *const it_wc_seps[] = { " ", " ", " ", "  ", "\t", " \t " };

static const char it_wc_job[] =
    "# Word count over a pushed stream of lines.\n"
    "job wordcount\n"
    "batch 1s\n"
    "lines  = push(\"lines\", partitions = 2)\n"
    "words  = lines.flat_map(split)\n"
    "counts = words.map(pair_one).reduce_by_key(sum)\n"
    "counts.save_as_text_files(\"@DIR@/out/counts\")\n";

typedef struct {
    uint64_t state;
} it_rng_t;

static uint64_t it_rng_next(it_rng_t *r)
{
    /* xorshift64* */
    r->state ^= r->state >> 12;
    r->state ^= r->state << 25;
    r->state ^= r->state >> 27;
    return r->state * 2685821657736338717ull;
}

/* Appends `nlines` generated lines to buf (cap bytes) and counts their words
 * into counts. Some lines are empty or only whitespace. */
static bool it_wc_generate(it_rng_t *r, size_t nlines, char *buf, size_t cap,
                           unsigned counts[IT_WC_WORDS])
{
    size_t len = strlen(buf);
    for (size_t i = 0; i < nlines; i++) {
        uint64_t x = it_rng_next(r);
        unsigned nwords = (unsigned)(x % 10);           /* 0..9 words */
        bool lead = (x >> 8) % 7 == 0, trail = (x >> 16) % 5 == 0;
        int n = snprintf(buf + len, cap - len, "%s", lead ? " " : "");
        len += (size_t)n;
        for (unsigned w = 0; w < nwords; w++) {
            uint64_t y = it_rng_next(r);
            unsigned idx = y % 100 < 90 ? (unsigned)(y / 100 % 16) : 16 + (unsigned)(y / 100 % 16);
            const char *sep = w ? it_wc_seps[(y >> 32) % (sizeof it_wc_seps / sizeof *it_wc_seps)] : "";
            n = snprintf(buf + len, cap - len, "%s%s", sep, it_wc_vocab[idx]);
            if (n < 0 || (size_t)n >= cap - len)
                return false;
            len += (size_t)n;
            counts[idx]++;
        }
        n = snprintf(buf + len, cap - len, "%s\n", trail ? "\t " : "");
        if (n < 0 || (size_t)n >= cap - len)
            return false;
        len += (size_t)n;
    }
    return true;
}

void it_test_wordcount(it_ctx_t *t)
{
    /* Lines per push: batch 1 gets two pushes, to show that everything acked
     * before a tick belongs to its batch. */
    static const size_t pushes[IT_WC_BATCHES][2] = { { 150, 150 }, { 200, 0 }, { 250, 0 } };
    it_engine_t e;
    IT_CHECK(t, it_engine_start(t, &e), "manual-clock cluster with two workers");
    IT_CHECK(t, it_engine_submit(t, &e, "wordcount.job", it_wc_job, "wordcount"),
             "submit the word count job");

    it_rng_t rng = { 0x5eed5eed12345678ull };
    unsigned counts[IT_WC_BATCHES][IT_WC_WORDS];
    size_t lines[IT_WC_BATCHES];
    int64_t times[IT_WC_BATCHES];
    memset(counts, 0, sizeof counts);
    for (size_t b = 0; b < IT_WC_BATCHES; b++) {
        lines[b] = 0;
        for (size_t p = 0; p < 2 && pushes[b][p]; p++) {
            char buf[64 * 1024] = "";
            IT_CHECK(t, it_wc_generate(&rng, pushes[b][p], buf, sizeof buf, counts[b]),
                     "generate input");
            IT_CHECK(t, it_engine_push(t, &e, "wordcount", "lines", buf, NULL, NULL),
                     "push %zu lines for batch %zu", pushes[b][p], b + 1);
            lines[b] += pushes[b][p];
        }
        IT_CHECK(t, it_engine_tick(t, &e, "wordcount", 1, &times[b]), "tick batch %zu", b + 1);
        IT_CHECK_EQ(t, times[b], (int64_t)(b + 1) * IT_BATCH_MS, "batch time of tick k");
    }

    for (size_t b = 0; b < IT_WC_BATCHES; b++) {
        const char *want[IT_WC_WORDS + 1];
        char text[IT_WC_WORDS][64];
        size_t n = 0;
        for (size_t w = 0; w < IT_WC_WORDS; w++) {
            if (!counts[b][w])
                continue;
            snprintf(text[n], sizeof text[n], "%s\t%u", it_wc_vocab[w], counts[b][w]);
            want[n] = text[n];
            n++;
        }
        want[n] = NULL;
        IT_CHECK(t, n > 16, "the generator gives batch %zu more than 16 distinct words", b + 1);
        /* reduce_by_key keeps its parent's 2 partitions. */
        IT_CHECK(t, it_engine_check_batch(t, "out/counts", times[b], want, IT_NORM_NONE, 2),
                 "word counts of batch %" PRId64, times[b]);
    }

    json_t *bl = it_engine_batches(t, &e, "wordcount");
    IT_CHECK(t, bl != NULL, "sluice batches wordcount --json");
    bool ok = true;
    size_t nb = json_array_size(json_object_get(bl, "batches"));
    /* 2 source tasks + 2 reduce tasks per batch. */
    for (size_t b = 0; b < IT_WC_BATCHES && ok; b++)
        ok = it_engine_check_batch_info(t, bl, times[b], (long long)lines[b], 4);
    json_decref(bl);
    IT_CHECK(t, ok, "sluice batches: state, input records and tasks per batch");
    IT_CHECK_EQ(t, nb, IT_WC_BATCHES, "batches listed");

    json_t *jobs = it_engine_jobs(t, &e);
    IT_CHECK(t, jobs != NULL, "sluice jobs --json");
    json_t *j = it_engine_job_at(jobs, "wordcount");
    char state[32];
    snprintf(state, sizeof state, "%s", j ? it_jstr(j, "state") : "(not listed)");
    long long done = j ? it_jint(j, "batches_done") : -1;
    long long last = j ? it_jint(j, "last_batch_time_ms") : -1;
    json_decref(jobs);
    IT_CHECK(t, !strcmp(state, "running"), "sluice jobs: wordcount is '%s', want running", state);
    IT_CHECK_EQ(t, done, IT_WC_BATCHES, "sluice jobs: batches_done");
    IT_CHECK_EQ(t, last, times[IT_WC_BATCHES - 1], "sluice jobs: last_batch_time_ms");
}
