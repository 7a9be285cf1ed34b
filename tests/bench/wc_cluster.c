/* wc_cluster: the word-count benchmark through a running Sluice cluster.
 *
 * Submits the job a user would write for word count,
 *     lines  = push("lines", partitions = P)
 *     counts = lines.flat_map(split).map(pair_one).reduce_by_key(sum, P)
 *     counts.save_as_text_files(OUT/counts)        (batch 1 s)
 * pushes the corpus, one record per line, at full speed through libsluice
 * (sl_push_bytes in a loop, sl_flush at the end), waits until every line is
 * processed, reads the per-batch processing times from the master
 * (sl_job_batches), and checks the counts written by the job, summed over
 * its batches, against a count of the corpus made here: every word's count,
 * the number of distinct words and the total must match, or the run fails.
 *
 * Rates: input MB/s and words/s over the push (first push to sl_flush
 * returning, i.e. every record acknowledged by the receiver), and end to end
 * (first push to the last record processed). MB are 10^6 bytes.
 *
 *   wc_cluster --master ADDR --corpus FILE --out DIR [--partitions N]
 *              [--block-ms N] [--batch-ms N] */
#include <dirent.h>
#include <sys/resource.h>
#include "corpus.h"
#include "client/sluice.h"

typedef struct {
    const char *master, *corpus, *out;
    uint32_t partitions;
    uint64_t block_ms, batch_ms;
} opts_t;

typedef struct {
    int64_t time_ms;
    uint64_t records, sched_ms, proc_ms, total_ms;
    uint32_t tasks;
} batch_t;

static void die(const char *what, const char *err)
{
    fprintf(stderr, "wc_cluster: %s: %s\n", what, err);
    exit(1);
}

static void usage(void)
{
    fprintf(stderr, "usage: wc_cluster --master ADDR --corpus FILE --out DIR [--partitions N (2)]\n"
            "                  [--block-ms N (0: engine default)] [--batch-ms N (1000)]\n");
    exit(2);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of sorted v[0, n). */
static uint64_t percentile(const uint64_t *v, size_t n, double p)
{
    size_t rank = (size_t)ceil(p / 100.0 * (double)n);
    return v[rank ? rank - 1 : 0];
}

static double cpu_seconds(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

/* Waits until the job's receiver is placed and one batch has run, so the
 * timed push starts on a cluster that is up. */
static void wait_ready(sl_client_t *c, const char *job)
{
    char err[SL_ERRMSG_LEN];
    double deadline = bc_now() + 30;
    while (bc_now() < deadline) {
        sl_job_info_t *info;
        if (sl_job_list(c, &info, err) != SL_OK)
            die("listing jobs", err);
        bool ready = false;
        for (size_t i = 0; i < sl_job_info_count(info); i++) {
            if (strcmp(sl_job_info_id(info, i), job) != 0)
                continue;
            if (strcmp(sl_job_info_state(info, i), "running") != 0)
                die("job", sl_job_info_error(info, i));
            ready = sl_job_info_receiver_count(info, i) == 1 &&
                    sl_job_info_receiver_address(info, i, 0)[0] &&
                    sl_job_info_batches_done(info, i) >= 1;
        }
        sl_job_info_free(info);
        if (ready)
            return;
        nanosleep(&(struct timespec){ 0, 50 * 1000 * 1000 }, NULL);
    }
    die("job", "not ready after 30 s");
}

/* Polls the master until batches done hold `lines` input records; returns
 * the batches that had input, in *out (caller frees). Fails on a failed
 * batch or after `timeout` seconds. */
static size_t wait_processed(sl_client_t *c, const char *job, uint64_t lines, double timeout,
                             batch_t **out)
{
    char err[SL_ERRMSG_LEN];
    double deadline = bc_now() + timeout;
    for (;;) {
        sl_batch_info_t *info;
        if (sl_job_batches(c, job, &info, err) != SL_OK)
            die("reading batches", err);
        uint64_t done = 0;
        size_t n = sl_batch_info_count(info), k = 0;
        batch_t *v = calloc(n ? n : 1, sizeof *v);
        if (!v)
            die("batches", "out of memory");
        for (size_t i = 0; i < n; i++) {
            const char *state = sl_batch_info_state(info, i);
            if (strcmp(state, "failed") == 0)
                die("a batch failed", sl_batch_info_error(info, i));
            uint64_t recs = sl_batch_info_input_records(info, i);
            if (strcmp(state, "done") != 0 || recs == 0)
                continue;
            done += recs;
            v[k++] = (batch_t){ sl_batch_info_time_ms(info, i), recs,
                                sl_batch_info_scheduling_delay_ms(info, i),
                                sl_batch_info_processing_ms(info, i),
                                sl_batch_info_total_delay_ms(info, i),
                                sl_batch_info_tasks(info, i) };
        }
        sl_batch_info_free(info);
        if (done > lines) {
            fprintf(stderr, "wc_cluster: batches hold %llu records, %llu were pushed\n",
                    (unsigned long long)done, (unsigned long long)lines);
            exit(1);
        }
        if (done == lines) {
            *out = v;
            return k;
        }
        free(v);
        if (bc_now() > deadline) {
            fprintf(stderr, "wc_cluster: after %.0f s only %llu of %llu lines are processed\n",
                    timeout, (unsigned long long)done, (unsigned long long)lines);
            exit(1);
        }
        nanosleep(&(struct timespec){ 0, 20 * 1000 * 1000 }, NULL);
    }
}

/* Sums the job's output files (OUT/counts-<time>/part-*, "word<TAB>count"
 * lines) into c. Returns the number of files read. */
static size_t read_outputs(const char *out, bc_counter_t *c)
{
    DIR *d = opendir(out);
    if (!d)
        die(out, strerror(errno));
    size_t files = 0;
    char path[4096];
    struct dirent *e;
    while ((e = readdir(d))) {
        if (strncmp(e->d_name, "counts-", 7) != 0)
            continue;
        snprintf(path, sizeof path, "%s/%s", out, e->d_name);
        DIR *bd = opendir(path);
        if (!bd)
            die(path, strerror(errno));
        struct dirent *pe;
        while ((pe = readdir(bd))) {
            if (strncmp(pe->d_name, "part-", 5) != 0)
                continue;
            char file[4400];
            snprintf(file, sizeof file, "%s/%s", path, pe->d_name);
            size_t len;
            char *text = bc_read_file(file, &len);
            if (!text)
                die(file, strerror(errno));
            files++;
            for (char *p = text, *end = text + len; p < end;) {
                char *nl = memchr(p, '\n', (size_t)(end - p));
                char *tab = nl ? memchr(p, '\t', (size_t)(nl - p)) : NULL;
                if (!tab)
                    die(file, "a line is not word<TAB>count");
                char *num_end;
                unsigned long long n = strtoull(tab + 1, &num_end, 10);
                if (num_end != nl || !bc_counter_add(c, p, (size_t)(tab - p), n))
                    die(file, "bad count, or out of memory");
                p = nl + 1;
            }
            free(text);
        }
        closedir(bd);
    }
    closedir(d);
    return files;
}

static void print_top(const char *label, const bc_counter_t *c)
{
    const bc_slot_t *top[5];
    size_t n = bc_counter_top(c, top, 5);
    printf("  top (%s)", label);
    for (size_t i = 0; i < n; i++)
        printf(" %.*s=%llu", (int)top[i]->len, c->pool + top[i]->off,
               (unsigned long long)top[i]->count);
    printf("\n");
}

/* Compares the job's counts with the reference: same total, same distinct
 * words, same count for every word. Prints what differs. */
static bool verify(const bc_counter_t *ref, const bc_counter_t *got)
{
    bool ok = ref->total == got->total && ref->n == got->n;
    size_t bad = 0;
    for (size_t i = 0; i < ref->cap; i++) {
        const bc_slot_t *s = &ref->slots[i];
        if (!s->hash)
            continue;
        const bc_slot_t *g = bc_counter_get(got, ref->pool + s->off, s->len);
        if (g && g->count == s->count)
            continue;
        ok = false;
        if (bad++ < 5)
            printf("  MISMATCH %.*s: corpus %llu, job %llu\n", (int)s->len, ref->pool + s->off,
                   (unsigned long long)s->count, g ? (unsigned long long)g->count : 0ull);
    }
    printf("  verify    corpus: %llu words, %zu distinct; job output: %llu words, %zu distinct; "
           "%zu words differ -> %s\n", (unsigned long long)ref->total, ref->n,
           (unsigned long long)got->total, got->n, bad, ok ? "OK" : "WRONG");
    print_top("corpus", ref);
    print_top("job", got);
    return ok;
}

static opts_t parse_args(int argc, char **argv)
{
    opts_t o = { .partitions = 2, .batch_ms = 1000 };
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v)
            usage();
        if (strcmp(a, "--master") == 0)
            o.master = v;
        else if (strcmp(a, "--corpus") == 0)
            o.corpus = v;
        else if (strcmp(a, "--out") == 0)
            o.out = v;
        else if (strcmp(a, "--partitions") == 0)
            o.partitions = (uint32_t)strtoul(v, NULL, 10);
        else if (strcmp(a, "--block-ms") == 0)
            o.block_ms = strtoull(v, NULL, 10);
        else if (strcmp(a, "--batch-ms") == 0)
            o.batch_ms = strtoull(v, NULL, 10);
        else
            usage();
        i++;
    }
    if (!o.master || !o.corpus || !o.out || o.partitions < 1 || o.batch_ms < 10)
        usage();
    return o;
}

int main(int argc, char **argv)
{
    opts_t o = parse_args(argc, argv);
    char err[SL_ERRMSG_LEN], job[SL_JOB_ID_LEN];
    size_t len;
    char *text = bc_read_file(o.corpus, &len);
    if (!text)
        die(o.corpus, strerror(errno));
    char prefix[4096];
    snprintf(prefix, sizeof prefix, "%s/counts", o.out);

    sl_client_t *c;
    if (sl_client_open(o.master, NULL, 30000, &c, err) != SL_OK)
        die("connecting", err);
    sl_job_t *j = sl_job_new("bench-wordcount", o.batch_ms);
    if (o.block_ms)
        sl_job_set_block_interval(j, o.block_ms);
    int lines = sl_push_stream(j, "lines", o.partitions);
    int words = sl_flat_map(j, lines, "split", NULL, 0);
    int counts = sl_reduce_by_key(j, sl_map(j, words, "pair_one", NULL, 0), "sum", o.partitions);
    sl_save_as_text_files(j, counts, prefix);
    if (sl_job_submit(c, j, job, err) != SL_OK)
        die("submitting the job", err);
    sl_job_free(j);
    wait_ready(c, job);

    printf("cluster word count: %s via %s, job %s\n", o.corpus, o.master, job);
    printf("  job       push(\"lines\", partitions=%u).flat_map(split).map(pair_one)"
           ".reduce_by_key(sum, %u).save_as_text_files(\"%s\")\n", o.partitions, o.partitions,
           prefix);
    printf("  intervals batch %llu ms, block %llu ms%s\n", (unsigned long long)o.batch_ms,
           (unsigned long long)(o.block_ms ? o.block_ms : 200), o.block_ms ? "" : " (default)");

    /* The push, at full speed; a sample of progress every half second. */
    double rates[4096];
    size_t nrates = 0;
    uint64_t nlines = 0;
    double cpu0 = cpu_seconds(), t0 = bc_now(), tick = t0 + 0.5;
    size_t tick_off = 0;
    for (const char *p = text, *end = text + len; p < end;) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *stop = nl ? nl : end;
        if (sl_push_bytes(c, job, "lines", NULL, 0, p, (size_t)(stop - p), err) != SL_OK)
            die("push", err);
        nlines++;
        p = nl ? nl + 1 : end;
        if ((nlines & 1023) == 0 && bc_now() >= tick) {
            if (nrates < sizeof rates / sizeof *rates)
                rates[nrates++] = (double)((size_t)(p - text) - tick_off) / 1e6 / 0.5;
            tick_off = (size_t)(p - text);
            tick += 0.5;
        }
    }
    if (sl_flush(c, err) != SL_OK)
        die("flush", err);
    double t1 = bc_now(), push_cpu = cpu_seconds() - cpu0;

    batch_t *b;
    size_t nb = wait_processed(c, job, nlines, 300, &b);
    double t2 = bc_now();
    if (sl_job_stop(c, job, err) != SL_OK)
        die("stopping the job", err);

    bc_counter_t ref, got;
    if (!bc_counter_init(&ref, 1 << 18) || !bc_counter_init(&got, 1 << 18) ||
        !bc_count_text(&ref, text, len))
        die("counting", "out of memory");
    double push_s = t1 - t0, e2e_s = t2 - t0;
    double mbps = (double)len / 1e6 / push_s, wps = (double)ref.total / push_s;
    double e2e_mbps = (double)len / 1e6 / e2e_s;

    printf("  input     %.1f MB, %llu lines, %llu words\n", (double)len / 1e6,
           (unsigned long long)nlines, (unsigned long long)ref.total);
    printf("  push      %.2f s: %.1f MB/s, %.2f M words/s, %.0f lines/s (producer CPU %.2f s)\n",
           push_s, mbps, wps / 1e6, (double)nlines / push_s, push_cpu);
    printf("  push MB/s per 0.5 s:");
    for (size_t i = 0; i < nrates; i++)
        printf(" %.0f", rates[i]);
    printf("\n");
    printf("  end2end   %.2f s from first push to last line processed: %.1f MB/s\n", e2e_s,
           e2e_mbps);

    uint64_t *proc = calloc(nb ? nb : 1, sizeof *proc);
    uint64_t sched_max = 0;
    printf("  batches with input: %zu\n", nb);
    printf("    %-15s %9s %9s %11s %9s\n", "time_ms", "lines", "tasks", "sched_ms", "proc_ms");
    for (size_t i = 0; i < nb; i++) {
        printf("    %-15lld %9llu %9u %11llu %9llu\n", (long long)b[i].time_ms,
               (unsigned long long)b[i].records, b[i].tasks, (unsigned long long)b[i].sched_ms,
               (unsigned long long)b[i].proc_ms);
        proc[i] = b[i].proc_ms;
        if (b[i].sched_ms > sched_max)
            sched_max = b[i].sched_ms;
    }
    qsort(proc, nb, sizeof *proc, cmp_u64);
    uint64_t p50 = nb ? percentile(proc, nb, 50) : 0, p99 = nb ? percentile(proc, nb, 99) : 0;
    uint64_t pmax = nb ? proc[nb - 1] : 0;
    bool keeps_up = pmax < o.batch_ms;
    printf("  processing p50 %llu ms, p99 %llu ms, max %llu ms (interval %llu ms: %s); "
           "max scheduling delay %llu ms\n", (unsigned long long)p50, (unsigned long long)p99,
           (unsigned long long)pmax, (unsigned long long)o.batch_ms,
           keeps_up ? "under" : "OVER", (unsigned long long)sched_max);

    size_t files = read_outputs(o.out, &got);
    printf("  output    %zu part files under %s\n", files, o.out);
    bool ok = verify(&ref, &got);

    printf("RESULT cluster bytes=%zu words=%llu lines=%llu push_seconds=%.4f mbps=%.2f wps=%.0f "
           "e2e_seconds=%.4f e2e_mbps=%.2f batches=%zu p50_ms=%llu p99_ms=%llu max_ms=%llu "
           "sched_max_ms=%llu interval_ms=%llu keeps_up=%s verified=%s\n",
           len, (unsigned long long)ref.total, (unsigned long long)nlines, push_s, mbps, wps,
           e2e_s, e2e_mbps, nb, (unsigned long long)p50, (unsigned long long)p99,
           (unsigned long long)pmax, (unsigned long long)sched_max,
           (unsigned long long)o.batch_ms, keeps_up ? "yes" : "no", ok ? "yes" : "no");
    free(proc);
    free(b);
    bc_counter_free(&ref);
    bc_counter_free(&got);
    sl_client_close(c);
    free(text);
    return ok ? 0 : 1;
}
