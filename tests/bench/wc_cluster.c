/* wc_cluster: the word-count benchmark through a running Sluice cluster.
 *
 * Submits the job a user would write for word count,
 *     lines  = push("lines", partitions = P)
 *     counts = lines.flat_map(split).map(pair_one).reduce_by_key(sum, P)
 *     counts.save_as_text_files(OUT/counts)        (batch 1 s)
 * pushes the corpus --repeat times in a row, one record per line, through
 * libsluice (sl_push_bytes in a loop, sl_flush at the end), at full speed or
 * paced at --rate MB/s, waits until every line is processed, reads the
 * batches from the master (sl_job_batches), and checks the counts written by
 * the job, summed over its batches, against a count of the corpus made here
 * times the repeat: every word's count, the number of distinct words and the
 * total must match, or the run fails.
 *
 * Figures: sustained input MB/s and words/s over the whole push (first push
 * to sl_flush returning, i.e. every record acknowledged by the receiver); the
 * processing time p50/p99/max and the largest scheduling delay over the
 * batches that hold pushed input (from the first to the last one with input:
 * the empty batches before and after the push are left out). The cluster
 * keeps up when p99 processing stays under the batch interval and no batch
 * waits an interval or more to start (a queue of batches is falling behind).
 * MB are 10^6 bytes.
 *
 *   wc_cluster --master ADDR --corpus FILE --out DIR [--partitions N]
 *              [--block-ms N] [--batch-ms N] [--repeat N] [--min-seconds S]
 *              [--rate MBPS] */
#include <dirent.h>
#include <sys/resource.h>
#include "corpus.h"
#include "client/sluice.h"

typedef struct {
    const char *master, *corpus, *out;
    uint32_t partitions;
    uint64_t block_ms, batch_ms;
    uint32_t repeat;        /* copies of the corpus pushed, at least */
    double min_seconds;     /* ...and more copies until the push lasted this long */
    double rate;            /* MB/s the push is paced at; 0: full speed */
} opts_t;

typedef struct {
    int64_t time_ms;
    uint64_t records, sched_ms, proc_ms, total_ms;
    uint32_t tasks;
} batch_t;

/* What the push did. */
typedef struct {
    uint32_t copies;        /* of the corpus */
    uint64_t lines, bytes;
    double seconds;         /* first push to sl_flush returning */
    double cpu, paced;      /* producer CPU; time slept to keep to the rate */
    double mbps[4096];      /* MB/s in consecutive windows of about 1 s */
    size_t nmbps;
} push_t;

static void die(const char *what, const char *err)
{
    fprintf(stderr, "wc_cluster: %s: %s\n", what, err);
    exit(1);
}

static void usage(void)
{
    fprintf(stderr, "usage: wc_cluster --master ADDR --corpus FILE --out DIR [--partitions N (2)]\n"
            "                  [--block-ms N (0: engine default)] [--batch-ms N (1000)]\n"
            "                  [--repeat N (1)] [--min-seconds S (0)] [--rate MBPS (0: full speed)]\n");
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

static void sleep_seconds(double s)
{
    struct timespec ts = { (time_t)s, (long)((s - (double)(time_t)s) * 1e9) };
    nanosleep(&ts, NULL);
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
        sleep_seconds(0.05);
    }
    die("job", "not ready after 30 s");
}

/* Pushes text[0, len) o->repeat times, and more until o->min_seconds have
 * passed, one record per line; with o->rate, sleeps whenever the bytes pushed
 * run ahead of rate x elapsed (checked every 64 lines, about 4 KB). Ends with
 * sl_flush. Fills *ps. */
static void push_corpus(sl_client_t *c, const char *job, const char *text, size_t len,
                        const opts_t *o, push_t *ps)
{
    char err[SL_ERRMSG_LEN];
    memset(ps, 0, sizeof *ps);
    double cpu0 = cpu_seconds(), t0 = bc_now(), tick = t0 + 1, tick_t = t0;
    uint64_t tick_bytes = 0;
    while (ps->copies < o->repeat || bc_now() - t0 < o->min_seconds) {
        for (const char *p = text, *end = text + len; p < end;) {
            const char *nl = memchr(p, '\n', (size_t)(end - p));
            const char *stop = nl ? nl : end;
            if (sl_push_bytes(c, job, "lines", NULL, 0, p, (size_t)(stop - p), err) != SL_OK)
                die("push", err);
            p = nl ? nl + 1 : end;
            if ((++ps->lines & 63) != 0)
                continue;
            uint64_t sent = ps->bytes + (uint64_t)(p - text);
            double now = bc_now();
            if (o->rate > 0) {
                double due = t0 + (double)sent / (o->rate * 1e6);
                if (due > now) {
                    sleep_seconds(due - now);
                    ps->paced += due - now;
                    now = bc_now();
                }
            }
            if (now >= tick) {
                if (ps->nmbps < sizeof ps->mbps / sizeof *ps->mbps)
                    ps->mbps[ps->nmbps++] = (double)(sent - tick_bytes) / 1e6 / (now - tick_t);
                tick_bytes = sent;
                tick_t = now;
                tick = now + 1;     /* windows of >= 1 s, even after a blocked push */
            }
        }
        ps->copies++;
        ps->bytes += len;
    }
    if (sl_flush(c, err) != SL_OK)
        die("flush", err);
    ps->seconds = bc_now() - t0;
    ps->cpu = cpu_seconds() - cpu0;
}

/* Polls the master until the batches done hold `lines` input records; returns
 * those batches, from the first to the last one with input (empty ones in
 * between included), in *out (caller frees). Fails on a failed batch or after
 * `timeout` seconds. */
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
        size_t n = sl_batch_info_count(info), k = 0, first = SIZE_MAX, last = 0;
        batch_t *v = calloc(n ? n : 1, sizeof *v);
        if (!v)
            die("batches", "out of memory");
        for (size_t i = 0; i < n; i++) {
            const char *state = sl_batch_info_state(info, i);
            if (strcmp(state, "failed") == 0)
                die("a batch failed", sl_batch_info_error(info, i));
            if (strcmp(state, "done") != 0)
                continue;
            uint64_t recs = sl_batch_info_input_records(info, i);
            done += recs;
            if (recs) {
                first = first == SIZE_MAX ? k : first;
                last = k;
            }
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
        if (done == lines && first != SIZE_MAX) {
            memmove(v, v + first, (last - first + 1) * sizeof *v);
            *out = v;
            return last - first + 1;
        }
        free(v);
        if (bc_now() > deadline) {
            fprintf(stderr, "wc_cluster: after %.0f s only %llu of %llu lines are processed\n",
                    timeout, (unsigned long long)done, (unsigned long long)lines);
            exit(1);
        }
        sleep_seconds(0.05);
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

/* Compares the job's counts with the reference times `times`: same total,
 * same distinct words, same count for every word. Prints what differs. */
static bool verify(const bc_counter_t *ref, uint32_t times, const bc_counter_t *got)
{
    bool ok = ref->total * times == got->total && ref->n == got->n;
    size_t bad = 0;
    for (size_t i = 0; i < ref->cap; i++) {
        const bc_slot_t *s = &ref->slots[i];
        if (!s->hash)
            continue;
        const bc_slot_t *g = bc_counter_get(got, ref->pool + s->off, s->len);
        if (g && g->count == s->count * times)
            continue;
        ok = false;
        if (bad++ < 5)
            printf("  MISMATCH %.*s: corpus x %u %llu, job %llu\n", (int)s->len,
                   ref->pool + s->off, times, (unsigned long long)(s->count * times),
                   g ? (unsigned long long)g->count : 0ull);
    }
    printf("  verify    corpus x %u: %llu words, %zu distinct; job output: %llu words, %zu "
           "distinct; %zu words differ -> %s\n", times, (unsigned long long)(ref->total * times),
           ref->n, (unsigned long long)got->total, got->n, bad, ok ? "OK" : "WRONG");
    print_top("corpus", ref);
    print_top("job", got);
    return ok;
}

static opts_t parse_args(int argc, char **argv)
{
    opts_t o = { .partitions = 2, .batch_ms = 1000, .repeat = 1 };
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
        else if (strcmp(a, "--repeat") == 0)
            o.repeat = (uint32_t)strtoul(v, NULL, 10);
        else if (strcmp(a, "--min-seconds") == 0)
            o.min_seconds = strtod(v, NULL);
        else if (strcmp(a, "--rate") == 0)
            o.rate = strtod(v, NULL);
        else
            usage();
        i++;
    }
    if (!o.master || !o.corpus || !o.out || o.partitions < 1 || o.batch_ms < 10 ||
        o.repeat < 1 || o.repeat > 1000 || o.min_seconds < 0 || o.rate < 0)
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
    if (o.rate > 0)
        printf("  pace      %.1f MB/s\n", o.rate);
    else
        printf("  pace      full speed\n");
    fflush(stdout);

    push_t *ps = malloc(sizeof *ps);
    if (!ps)
        die("push", "out of memory");
    push_corpus(c, job, text, len, &o, ps);
    double t1 = bc_now();
    batch_t *b;
    size_t nb = wait_processed(c, job, ps->lines, 600, &b);
    double drain_s = bc_now() - t1;
    if (sl_job_stop(c, job, err) != SL_OK)
        die("stopping the job", err);

    bc_counter_t ref, got;
    if (!bc_counter_init(&ref, 1 << 18) || !bc_counter_init(&got, 1 << 18) ||
        !bc_count_text(&ref, text, len))
        die("counting", "out of memory");
    uint64_t nwords = ref.total * ps->copies;
    double mbps = (double)ps->bytes / 1e6 / ps->seconds, wps = (double)nwords / ps->seconds;
    double e2e_s = ps->seconds + drain_s, e2e_mbps = (double)ps->bytes / 1e6 / e2e_s;

    printf("  input     corpus x %u: %.1f MB, %llu lines, %llu words\n", ps->copies,
           (double)ps->bytes / 1e6, (unsigned long long)ps->lines, (unsigned long long)nwords);
    printf("  push      %.2f s: %.1f MB/s, %.2f M words/s, %.0f lines/s (producer CPU %.2f s, "
           "paced %.2f s)\n", ps->seconds, mbps, wps / 1e6, (double)ps->lines / ps->seconds,
           ps->cpu, ps->paced);
    printf("  push MB/s per second (windows of >= 1 s):");
    for (size_t i = 0; i < ps->nmbps; i++)
        printf(" %.0f", ps->mbps[i]);
    printf("\n");
    printf("  end2end   %.2f s from first push to last line processed (%.2f s after the push): "
           "%.1f MB/s\n", e2e_s, drain_s, e2e_mbps);

    uint64_t *proc = calloc(nb, sizeof *proc);
    uint64_t sched_max = 0;
    size_t empty = 0;
    if (!proc)
        die("batches", "out of memory");
    printf("  batches from the first to the last with input: %zu\n", nb);
    printf("    %-15s %9s %7s %9s %9s\n", "time_ms", "lines", "tasks", "sched_ms", "proc_ms");
    for (size_t i = 0; i < nb; i++) {
        printf("    %-15lld %9llu %7u %9llu %9llu\n", (long long)b[i].time_ms,
               (unsigned long long)b[i].records, b[i].tasks, (unsigned long long)b[i].sched_ms,
               (unsigned long long)b[i].proc_ms);
        proc[i] = b[i].proc_ms;
        empty += b[i].records == 0;
        if (b[i].sched_ms > sched_max)
            sched_max = b[i].sched_ms;
    }
    qsort(proc, nb, sizeof *proc, cmp_u64);
    uint64_t p50 = percentile(proc, nb, 50), p99 = percentile(proc, nb, 99), pmax = proc[nb - 1];
    bool proc_ok = p99 < o.batch_ms, sched_ok = sched_max < o.batch_ms;
    bool keeps_up = proc_ok && sched_ok;
    printf("  processing p50 %llu ms, p99 %llu ms, max %llu ms over %zu batches (%zu empty); "
           "max scheduling delay %llu ms\n", (unsigned long long)p50, (unsigned long long)p99,
           (unsigned long long)pmax, nb, empty, (unsigned long long)sched_max);
    printf("  keeps up  %s (p99 processing %s the %llu ms interval, scheduling delay %s it)\n",
           keeps_up ? "yes" : "NO", proc_ok ? "under" : "NOT under",
           (unsigned long long)o.batch_ms, sched_ok ? "under" : "NOT under");

    size_t files = read_outputs(o.out, &got);
    printf("  output    %zu part files under %s\n", files, o.out);
    bool ok = verify(&ref, ps->copies, &got);

    printf("RESULT cluster bytes=%llu words=%llu lines=%llu copies=%u rate=%.1f "
           "push_seconds=%.4f mbps=%.2f wps=%.0f e2e_seconds=%.4f e2e_mbps=%.2f batches=%zu "
           "p50_ms=%llu p99_ms=%llu max_ms=%llu sched_max_ms=%llu interval_ms=%llu keeps_up=%s "
           "verified=%s client_cpu=%.2f\n",
           (unsigned long long)ps->bytes, (unsigned long long)nwords,
           (unsigned long long)ps->lines, ps->copies, o.rate, ps->seconds, mbps, wps, e2e_s,
           e2e_mbps, nb, (unsigned long long)p50, (unsigned long long)p99,
           (unsigned long long)pmax, (unsigned long long)sched_max,
           (unsigned long long)o.batch_ms, keeps_up ? "yes" : "no", ok ? "yes" : "no",
           cpu_seconds());
    free(proc);
    free(b);
    free(ps);
    bc_counter_free(&ref);
    bc_counter_free(&got);
    sl_client_close(c);
    free(text);
    return ok ? 0 : 1;
}
