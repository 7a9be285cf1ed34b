/* Backpressure (README, "How a batch runs", point 4): while a worker holds
 * more than half of its --memory in blocks and shuffle data, its receivers
 * stop cutting, and so acking, on their own; only the master's cuts at batch
 * boundaries release acks. Under the manual clock with no tick, a producer
 * pushing several times that much must stall with the acknowledged bytes
 * bounded by the threshold plus a pusher's unacked window; ticks then let it
 * finish, and the batches count every record exactly once. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "engine.h"
#include "tests.h"

#define IT_BP_JOB "backpressure"
#define IT_BP_MEMORY "16M"
#define IT_BP_MEMORY_BYTES (16ull << 20)
/* Held bytes above which a worker's receivers stop cutting on their own. */
#define IT_BP_THRESHOLD (IT_BP_MEMORY_BYTES / 2)
/* A pusher's unacknowledged blocks: 16 of 256 KiB (client/push.c). */
#define IT_BP_WINDOW (16ull * 256u * 1024u)
#define IT_BP_RECORD 512                /* bytes per record (producer --size) */
#define IT_BP_RECORDS 100000            /* about 49 MiB, six times the threshold */
/* Records between the producer's flushes: 1 MiB, the granularity of its ack
 * log, well below the threshold. */
#define IT_BP_FLUSH 2048
/* How long the ack log must stand still, the producer running, for the
 * pushes to count as stalled. */
#define IT_BP_STALL_MS 1500
/* Ticks allowed for the producer to finish; each releases what its cut
 * holds and frees a batch's blocks, so a handful suffice. */
#define IT_BP_MAX_TICKS 100

static const char it_bp_jobfile[] =
    "job " IT_BP_JOB "\n"
    "batch 1s\n"
    "ids = push(\"ids\", partitions = 2)\n"
    "n = ids.count()\n"
    "n.sqlite(\"@DIR@/out.db\", \"counts\")\n";

/* The producer pushes as fast as it can; its client timeout and give-up are
 * its defaults (5 s, 60 s), far above the stall the test waits out. */
static it_proc_t *it_bp_start_producer(it_ctx_t *t, const it_engine_t *e, const char *ack_log)
{
    char count[16], flush[16], size[16];
    snprintf(count, sizeof count, "%u", IT_BP_RECORDS);
    snprintf(flush, sizeof flush, "%u", IT_BP_FLUSH);
    snprintf(size, sizeof size, "%u", IT_BP_RECORD);
    const char *const args[] = { "--master", e->m.listen, "--job", IT_BP_JOB, "--stream", "ids",
                                 "--count", count, "--rate", "1000000", "--flush-every", flush,
                                 "--size", size, "--ack-log", ack_log, NULL };
    return it_spawn(t, "producer", "tests/producer", args);
}

static size_t it_bp_acked(const char *ack_log)
{
    char *text = it_read_file(ack_log, NULL);
    size_t n = it_count_lines(text);
    free(text);
    return n;
}

typedef struct {
    const char *ack_log;
    it_proc_t *producer;
    size_t acked;
    uint64_t changed_at;        /* when acked last grew */
} it_bp_stall_t;

/* The ack log has not grown for IT_BP_STALL_MS since something was
 * acknowledged, or the producer ended. */
static bool it_bp_stalled(void *arg)
{
    it_bp_stall_t *s = arg;
    size_t n = it_bp_acked(s->ack_log);
    uint64_t now = it_now_ms();
    if (n != s->acked) {
        s->acked = n;
        s->changed_at = now;
    }
    return !it_proc_alive(s->producer) || (n > 0 && now - s->changed_at >= IT_BP_STALL_MS);
}

void it_test_backpressure(it_ctx_t *t)
{
    const it_engine_opts_t o = { .workers = 2, .cores = 2, .memory = IT_BP_MEMORY,
                                 .memory_bytes = IT_BP_MEMORY_BYTES, .worker_timeout = "10s",
                                 .manual_clock = true };
    it_engine_t e;
    it_job_state_t j;
    char ack_log[IT_PATH_LEN], desc[96];
    IT_CHECK(t, it_engine_start_with(t, &e, &o), "manual-clock cluster, two workers of %s",
             IT_BP_MEMORY);
    IT_CHECK(t, it_engine_submit(t, &e, "backpressure.job", it_bp_jobfile, IT_BP_JOB),
             "submit the job");
    IT_CHECK(t, it_engine_wait_job(t, &e, IT_BP_JOB, it_job_placed, NULL, IT_DEADLINE_MS, &j),
             "the receiver is placed");
    it_path(t, ack_log, "acked.log");
    it_proc_t *producer = it_bp_start_producer(t, &e, ack_log);
    IT_CHECK(t, producer != NULL, "start the producer");

    /* No tick, so only the receiver's own cuts ack. The stall is observed as
     * the ack log standing still for IT_BP_STALL_MS while the producer still
     * runs with most of its records to go; that window is the observation,
     * and the assertions below are on what was acknowledged by then. */
    it_bp_stall_t st = { ack_log, producer, 0, it_now_ms() };
    IT_CHECK(t, it_wait_until(it_bp_stalled, &st, IT_DEADLINE_MS),
             "the producer's acks stall within %d ms (last: %zu records acknowledged, growing)",
             IT_DEADLINE_MS, st.acked);
    IT_CHECK(t, it_proc_alive(producer), "the producer ended (%s) before any tick: %zu of %u "
             "records acknowledged without backpressure",
             it_proc_describe(producer, desc, sizeof desc), st.acked, IT_BP_RECORDS);
    uint64_t acked_bytes = (uint64_t)st.acked * IT_BP_RECORD;
    /* Acknowledged records are in cut blocks, which the receiver's worker
     * holds until a batch is done: their bytes stop at the threshold plus
     * what the last cut added, at most the pusher's unacked window. */
    IT_CHECK(t, acked_bytes <= IT_BP_THRESHOLD + IT_BP_WINDOW,
             "%zu records (%" PRIu64 " bytes) acknowledged without a tick, want at most %llu "
             "(half of --memory %s plus the pusher window of %llu)",
             st.acked, acked_bytes, IT_BP_THRESHOLD + IT_BP_WINDOW, IT_BP_MEMORY, IT_BP_WINDOW);
    /* And below it the receiver acked on its own: the stall is the
     * threshold's, not a stuck push. The blocks held then (more than the
     * threshold) are all acknowledged; the log trails them by the flush in
     * progress (1 MiB) and the records' encoding (4 bytes each), which half
     * the threshold leaves room for. */
    IT_CHECK(t, acked_bytes >= IT_BP_THRESHOLD / 2,
             "only %zu records (%" PRIu64 " bytes) acknowledged before the stall, want at least "
             "%llu: the receiver stopped acking before its worker held half of --memory",
             st.acked, acked_bytes, IT_BP_THRESHOLD / 2);

    /* Each tick's cut releases the acks of what the receiver buffered, and
     * the done batch frees its blocks, so the producer goes on. */
    unsigned ticks = 0;
    while (it_proc_alive(producer)) {
        IT_CHECK(t, ticks < IT_BP_MAX_TICKS, "the producer still runs after %u ticks (%zu of %u "
                 "records acknowledged)", ticks, it_bp_acked(ack_log), IT_BP_RECORDS);
        IT_CHECK(t, it_engine_tick(t, &e, IT_BP_JOB, 1, NULL), "tick %u", ticks + 1);
        ticks++;
    }
    IT_CHECK(t, it_proc_wait_exit(t, producer, IT_DEADLINE_MS), "the producer exits");
    IT_CHECK(t, it_proc_exit_code(producer) == 0, "producer: %s, want exit 0 (see its log)",
             it_proc_describe(producer, desc, sizeof desc));
    IT_CHECK_EQ(t, it_bp_acked(ack_log), IT_BP_RECORDS, "records in the producer's ack log");
    /* The blocks cut after the last master cut are reported at the next. */
    IT_CHECK(t, it_engine_tick(t, &e, IT_BP_JOB, 1, NULL), "tick a batch after the last ack");

    /* Exactly once: over all batches, the input and the count() rows each
     * add up to the records pushed, one row per batch. */
    json_t *bl = it_engine_batches(t, &e, IT_BP_JOB);
    IT_CHECK(t, bl != NULL, "sluice batches --json");
    json_t *arr = json_object_get(bl, "batches"), *b;
    size_t i, nb = json_array_size(arr);
    long long input = 0, undone = -1;
    json_array_foreach(arr, i, b) {
        input += it_jint(b, "input_records");
        if (strcmp(it_jstr(b, "state"), "done") != 0 && undone < 0)
            undone = it_jint(b, "time_ms");
    }
    json_decref(bl);
    IT_CHECK_EQ(t, nb, ticks + 1, "batches listed");
    IT_CHECK(t, undone < 0, "batch %lld is not done", undone);
    IT_CHECK_EQ(t, input, IT_BP_RECORDS, "input records over all batches");
    char db[IT_PATH_LEN];
    it_path(t, db, "out.db");
    it_lines_t rows = { 0 };
    bool ok = it_sqlite_query(t, db, "SELECT count(*) || ' ' || sum(value) FROM counts", &rows);
    char want[64];
    snprintf(want, sizeof want, "%zu %u", nb, IT_BP_RECORDS);
    ok = ok && rows.n == 1 && !strcmp(rows.v[0], want);
    if (rows.n == 1 && !ok)
        it_note(t, "got '%s'", rows.v[0]);
    it_lines_free(&rows);
    IT_CHECK(t, ok, "sqlite table counts holds %zu rows adding up to %u (rows, sum)", nb,
             IT_BP_RECORDS);
}
