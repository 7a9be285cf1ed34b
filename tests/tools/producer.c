/* A producer for the recovery and backpressure tests, and a small example
 * of pushing with libsluice: N records "id-0000001", "id-0000002", ...
 * (empty key, bytes value, padded with '.' to --size bytes when that is
 * longer) to one stream at a steady rate, sl_flush() every --flush-every
 * records, and after each flush that succeeded the ids it acknowledged
 * appended to the ack log and fsync'ed, so a test knows exactly which records
 * the cluster acknowledged. A flush that times out (the receiver is moving)
 * is tried again until --give-up passes with no acknowledgement.
 * Exit 0: all N pushed and acknowledged; 1: failed or gave up (why on
 * stderr); 2: usage error. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "client/sluice.h"
#include "flags.h"

#define PR_ID_LEN 16    /* "id-0000001" and its NUL, with room */

typedef struct {
    const char *masters, *secret_file, *job, *stream, *ack_log;
    uint64_t count, rate, flush_every, timeout_ms, give_up_ms, size;
} pr_opts_t;

static uint64_t pr_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Sleeps until record i (1-based) is due: record i goes out at i/rate s. */
static void pr_pace(uint64_t start_ms, uint64_t i, uint64_t rate)
{
    uint64_t due = start_ms + (i - 1) * 1000u / rate, now = pr_now_ms();
    if (due <= now)
        return;
    struct timespec ts = { .tv_sec = (time_t)((due - now) / 1000),
                           .tv_nsec = (long)((due - now) % 1000) * 1000000L };
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

static int pr_id(char *out, uint64_t i)
{
    return snprintf(out, PR_ID_LEN, "id-%07" PRIu64, i);
}

/* Appends ids first..last, one a line, to the ack log and fsyncs it. */
static int pr_log_acked(int fd, uint64_t first, uint64_t last, char *err)
{
    char line[PR_ID_LEN + 1];
    for (uint64_t i = first; i <= last; i++) {
        int n = pr_id(line, i);
        line[n++] = '\n';
        for (int off = 0; off < n;) {
            ssize_t w = write(fd, line + off, (size_t)(n - off));
            if (w < 0 && errno == EINTR)
                continue;
            if (w < 0) {
                snprintf(err, SL_ERRMSG_LEN, "cannot write the ack log: %s", strerror(errno));
                return -1;
            }
            off += (int)w;
        }
    }
    if (fsync(fd) != 0) {
        snprintf(err, SL_ERRMSG_LEN, "cannot fsync the ack log: %s", strerror(errno));
        return -1;
    }
    return 0;
}

/* Flushes until everything pushed is acknowledged. The library re-locates
 * the receiver and re-sends on its own within the client timeout; past it
 * sl_flush() says SL_ERR_TIMEOUT and keeps the records, so we ask again,
 * giving up only after give_up_ms without a single acknowledgement. */
static sl_status_t pr_flush(sl_client_t *c, const pr_opts_t *o, char *err)
{
    uint64_t acked, last_acked, progress_at = pr_now_ms();
    sl_push_stats(c, &last_acked, NULL, NULL);
    for (;;) {
        sl_status_t st = sl_flush(c, err);
        if (st != SL_ERR_TIMEOUT)
            return st;
        sl_push_stats(c, &acked, NULL, NULL);
        if (acked > last_acked) {
            last_acked = acked;
            progress_at = pr_now_ms();
        }
        if (pr_now_ms() - progress_at >= o->give_up_ms)
            return st;
        fprintf(stderr, "producer: flush: %s; trying again\n", err);
    }
}

static int pr_run(const pr_opts_t *o)
{
    char err[SL_ERRMSG_LEN];
    sl_client_t *c = NULL;
    int rc = 1;
    /* The value: the id, then the padding, which stays put between records. */
    size_t cap = o->size > PR_ID_LEN ? (size_t)o->size : PR_ID_LEN;
    char *id = malloc(cap);
    if (!id) {
        fprintf(stderr, "producer: out of memory\n");
        return 1;
    }
    memset(id, '.', cap);
    int fd = open(o->ack_log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) {
        fprintf(stderr, "producer: cannot open %s: %s\n", o->ack_log, strerror(errno));
        goto free_value;
    }
    if (sl_client_open(o->masters, o->secret_file, o->timeout_ms, &c, err) != SL_OK) {
        fprintf(stderr, "producer: %s\n", err);
        goto close_log;
    }
    uint64_t start = pr_now_ms(), logged = 0, acked, pending, resent;
    for (uint64_t i = 1; i <= o->count; i++) {
        pr_pace(start, i, o->rate);
        int idlen = pr_id(id, i);
        size_t n = (size_t)idlen;
        if (o->size > n) {
            id[n] = '.';        /* over pr_id's NUL */
            n = (size_t)o->size;
        }
        /* SL_ERR_TIMEOUT (no window for a new block) keeps the record. */
        sl_status_t st = sl_push_bytes(c, o->job, o->stream, NULL, 0, id, n, err);
        if (st != SL_OK && st != SL_ERR_TIMEOUT) {
            fprintf(stderr, "producer: push of %.*s: %s\n", idlen, id, err);
            goto close_client;
        }
        if (i % o->flush_every != 0 && i != o->count)
            continue;
        if (pr_flush(c, o, err) != SL_OK) {
            fprintf(stderr, "producer: giving up at %.*s: %s\n", idlen, id, err);
            goto close_client;
        }
        sl_push_stats(c, &acked, &pending, NULL);
        if (acked != i || pending != 0) {
            fprintf(stderr, "producer: after a successful flush at %.*s: %" PRIu64
                    " acknowledged and %" PRIu64 " pending, want %" PRIu64 " and 0\n",
                    idlen, id, acked, pending, i);
            goto close_client;
        }
        if (pr_log_acked(fd, logged + 1, i, err) != 0) {
            fprintf(stderr, "producer: %s\n", err);
            goto close_client;
        }
        logged = i;
    }
    sl_push_stats(c, &acked, NULL, &resent);
    fprintf(stderr, "producer: %" PRIu64 " records pushed and acknowledged in %" PRIu64
            " ms (%" PRIu64 " blocks sent again)\n", acked, pr_now_ms() - start, resent);
    rc = 0;
close_client:
    sl_client_close(c);
close_log:
    close(fd);
free_value:
    free(id);
    return rc;
}

int main(int argc, char **argv)
{
    static const char usage[] =
        "producer --master ADDRS --job JOB --stream STREAM --count N --rate R --ack-log FILE\n"
        "                [--flush-every N] [--size BYTES] [--secret-file FILE] [--timeout DUR]\n"
        "                [--give-up DUR]";
    pr_opts_t o = { .flush_every = 50, .timeout_ms = 5000, .give_up_ms = 60000 };
    const sl_flag_t flags[] = {
        { "master", SL_FLAG_ADDR_LIST, &o.masters, "ADDRS", "master address list", 0, 0 },
        { "job", SL_FLAG_STRING, &o.job, "JOB", "job id", 0, 0 },
        { "stream", SL_FLAG_STRING, &o.stream, "STREAM", "push stream of the job", 0, 0 },
        { "count", SL_FLAG_UINT, &o.count, "N", "records to push", 1, 9999999 },
        { "rate", SL_FLAG_UINT, &o.rate, "R", "records per second", 1, 1000000 },
        { "ack-log", SL_FLAG_STRING, &o.ack_log, "FILE", "acknowledged ids are appended here",
          0, 0 },
        { "flush-every", SL_FLAG_UINT, &o.flush_every, "N", "records between flushes (50)", 1, 0 },
        { "size", SL_FLAG_UINT, &o.size, "BYTES",
          "bytes per record: the id padded with '.' (just the id)", 1, 1 << 20 },
        { "secret-file", SL_FLAG_STRING, &o.secret_file, "FILE", "shared secret", 0, 0 },
        { "timeout", SL_FLAG_DURATION, &o.timeout_ms, "DUR", "client timeout (5s)", 1, 0 },
        { "give-up", SL_FLAG_DURATION, &o.give_up_ms, "DUR",
          "stop after this long without an acknowledgement (60s)", 1, 0 },
    };
    const size_t nflags = sizeof flags / sizeof *flags;
    char err[SL_ERRMSG_LEN];
    int next = 1;
    bool help;
    if (sl_flags_parse(flags, nflags, argc, argv, &next, &help, err) != SL_OK) {
        fprintf(stderr, "producer: %s\n", err);
        return 2;
    }
    if (help) {
        sl_flags_usage(stdout, usage, "Pushes numbered records and logs the acknowledged ones.",
                       flags, nflags);
        return 0;
    }
    if (next < argc || !o.masters || !o.job || !o.stream || !o.count || !o.rate || !o.ack_log) {
        fprintf(stderr, "usage: %s\n", usage);
        return 2;
    }
    return pr_run(&o);
}
