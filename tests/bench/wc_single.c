/* wc_single: the baseline of the word-count benchmark. One process, one
 * thread: the corpus is read into memory first (not timed), then split like
 * the engine's split (runs of ASCII whitespace) and counted in an
 * open-addressing table hashed with XXH3 (the engine's hash). The counting
 * pass runs --runs times; the median is reported. MB are 10^6 bytes.
 *
 *   wc_single CORPUS [--runs N] */
#include "corpus.h"

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    const char *path = NULL;
    int runs = 3;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--runs") == 0 && i + 1 < argc)
            runs = atoi(argv[++i]);
        else if (argv[i][0] == '-' || path)
            path = NULL, i = argc;
        else
            path = argv[i];
    }
    if (!path || runs < 1 || runs > 100) {
        fprintf(stderr, "usage: wc_single CORPUS [--runs N (3)]\n");
        return 2;
    }
    size_t len;
    char *text = bc_read_file(path, &len);
    if (!text) {
        fprintf(stderr, "wc_single: cannot read %s: %s\n", path, strerror(errno));
        return 1;
    }
    double secs[100];
    bc_counter_t c = { 0 };
    for (int r = 0; r < runs; r++) {
        bc_counter_free(&c);
        double t0 = bc_now();
        if (!bc_counter_init(&c, 1024) || !bc_count_text(&c, text, len)) {
            fprintf(stderr, "wc_single: out of memory\n");
            return 1;
        }
        secs[r] = bc_now() - t0;
    }
    double all[100];
    memcpy(all, secs, sizeof all);
    qsort(secs, (size_t)runs, sizeof *secs, cmp_double);
    double med = secs[runs / 2];
    double mbps = (double)len / 1e6 / med, wps = (double)c.total / med;

    printf("single-process word count: %s\n", path);
    printf("  input     %.1f MB, %llu words, %zu distinct\n", (double)len / 1e6,
           (unsigned long long)c.total, c.n);
    printf("  runs     ");
    for (int r = 0; r < runs; r++)
        printf(" %.3f s", all[r]);
    printf("  (median %.3f s)\n", med);
    printf("  rate      %.1f MB/s, %.2f M words/s\n", mbps, wps / 1e6);
    const bc_slot_t *top[5];
    size_t n = bc_counter_top(&c, top, 5);
    printf("  top      ");
    for (size_t i = 0; i < n; i++)
        printf(" %.*s=%llu", (int)top[i]->len, c.pool + top[i]->off,
               (unsigned long long)top[i]->count);
    printf("\n");
    printf("RESULT single bytes=%zu words=%llu seconds=%.4f mbps=%.2f wps=%.0f\n", len,
           (unsigned long long)c.total, med, mbps, wps);
    bc_counter_free(&c);
    free(text);
    return 0;
}
