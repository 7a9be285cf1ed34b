/* Tests for common/wal.c: append and replay (contents, order, after_seq),
 * torn and corrupt tails cut once, segment rolling and trim, re-opened
 * epochs, a failed append cut back, name checks and removal. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include "wal.h"
#include "unit.h"

#define SL_T_JOB_HIGH ((uint64_t)5 << 40)   /* id bits above the sequence */
#define SL_T_MIB ((size_t)1 << 20)

/* The per-TCase temporary directory (made and removed in the runner
 * process); each test uses its own job name under it. */
static char sl_tmpdir[PATH_MAX - 128];

static void sl_tmpdir_setup(void)
{
    const char *base = getenv("TMPDIR");
    snprintf(sl_tmpdir, sizeof sl_tmpdir, "%s/sluice-wal-XXXXXX", base && *base ? base : "/tmp");
    ck_assert_msg(mkdtemp(sl_tmpdir) != NULL, "mkdtemp: %s", strerror(errno));
}

/* rm -r of `path` (no symlinks are made here). */
static void sl_rm_rf(const char *path)
{
    DIR *d = opendir(path);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                continue;
            char sub[PATH_MAX];
            snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
            struct stat sb;
            if (lstat(sub, &sb) == 0 && S_ISDIR(sb.st_mode))
                sl_rm_rf(sub);
            else
                unlink(sub);
        }
        closedir(d);
    }
    rmdir(path);
}

static void sl_tmpdir_teardown(void)
{
    sl_rm_rf(sl_tmpdir);
}

/* --- deterministic records ------------------------------------------------ */

static size_t sl_t_info_len(uint64_t seq)
{
    return seq % 5 == 0 ? 0 : 10 + (size_t)(seq * 3 % 50);
}

static size_t sl_t_data_len(uint64_t seq, size_t big)
{
    if (big)
        return big;
    return seq % 7 == 0 ? 0 : 100 + (size_t)(seq * 37 % 3000);
}

static void sl_t_fill(uint8_t *p, size_t n, uint64_t seq, unsigned salt)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)(seq * 131 + i * 7 + (i >> 8) + salt);
}

static size_t sl_t_rec_size(uint64_t seq, size_t big)
{
    return 28 + sl_t_info_len(seq) + sl_t_data_len(seq, big);
}

/* Appends record `seq` (data of `big` bytes when non-zero). */
static sl_status_t sl_t_append(sl_wal_t *w, uint64_t seq, size_t big, char *err)
{
    size_t il = sl_t_info_len(seq), dl = sl_t_data_len(seq, big);
    uint8_t *info = malloc(il + 1), *data = malloc(dl + 1);
    ck_assert(info && data);
    sl_t_fill(info, il, seq, 1);
    sl_t_fill(data, dl, seq, 2);
    sl_status_t st = sl_wal_append(w, SL_T_JOB_HIGH | seq, il ? info : NULL, il, dl ? data : NULL,
                                   dl, err);
    free(info);
    free(data);
    return st;
}

/* Opens (job, "s", epoch) under the temp dir and appends seqs from..to. */
static void sl_t_write(const char *job, uint32_t epoch, uint64_t from, uint64_t to, size_t big)
{
    char err[SL_ERRMSG_LEN] = "";
    sl_wal_t *w = NULL;
    ck_assert_msg(sl_wal_open(sl_tmpdir, job, "s", epoch, &w, err) == SL_OK, "%s", err);
    for (uint64_t q = from; q <= to; q++)
        ck_assert_msg(sl_t_append(w, q, big, err) == SL_OK, "append %llu: %s",
                      (unsigned long long)q, err);
    sl_wal_close(w);
}

typedef struct {
    uint64_t seqs[512];
    size_t n;
    size_t big;
    size_t stop_at;     /* non-zero: fail the replay at this many records */
} sl_seen_t;

/* Checks each record against its generator and notes its sequence. */
static sl_status_t sl_t_collect(void *arg, uint64_t id, const uint8_t *info, size_t info_len,
                                const uint8_t *data, size_t len)
{
    sl_seen_t *s = arg;
    uint64_t seq = id & (((uint64_t)1 << 40) - 1);
    ck_assert_uint_eq(id >> 40, SL_T_JOB_HIGH >> 40);
    ck_assert_uint_eq(info_len, sl_t_info_len(seq));
    ck_assert_uint_eq(len, sl_t_data_len(seq, s->big));
    uint8_t *want = malloc(len > info_len ? len + 1 : info_len + 1);
    ck_assert_ptr_nonnull(want);
    sl_t_fill(want, info_len, seq, 1);
    ck_assert(info_len == 0 || memcmp(info, want, info_len) == 0);
    sl_t_fill(want, len, seq, 2);
    ck_assert(len == 0 || memcmp(data, want, len) == 0);
    free(want);
    ck_assert_uint_lt(s->n, 512);
    s->seqs[s->n++] = seq;
    if (s->stop_at && s->n == s->stop_at)
        return SL_ERR_INTERNAL;
    return SL_OK;
}

/* Replays (job, "s", epoch) after after_seq into *s; returns the bytes cut. */
static uint64_t sl_t_replay(const char *job, uint32_t epoch, uint64_t after_seq, sl_seen_t *s)
{
    char err[SL_ERRMSG_LEN] = "";
    uint64_t cut = 12345;
    s->n = 0;
    ck_assert_msg(sl_wal_replay(sl_tmpdir, job, "s", epoch, after_seq, sl_t_collect, s, &cut,
                                err) == SL_OK,
                  "%s", err);
    return cut;
}

/* Fails unless s holds exactly the sequences from..to, in order. */
static void sl_t_expect(const sl_seen_t *s, uint64_t from, uint64_t to)
{
    ck_assert_uint_eq(s->n, to >= from ? to - from + 1 : 0);
    for (size_t i = 0; i < s->n; i++)
        ck_assert_uint_eq(s->seqs[i], from + i);
}

static void sl_t_seg_path(const char *job, uint32_t epoch, uint64_t first, char *path)
{
    snprintf(path, PATH_MAX, "%s/%s/s/%u/%016llx.log", sl_tmpdir, job, (unsigned)epoch,
             (unsigned long long)first);
}

static bool sl_t_exists(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0;
}

static uint64_t sl_t_size(const char *path)
{
    struct stat sb;
    ck_assert_msg(stat(path, &sb) == 0, "%s: %s", path, strerror(errno));
    return (uint64_t)sb.st_size;
}

/* Counts the entries (other than . and ..) of `path`. */
static size_t sl_t_count(const char *path)
{
    DIR *d = opendir(path);
    ck_assert_ptr_nonnull(d);
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
    closedir(d);
    return n;
}

/* XORs one byte of `path` at `off`. */
static void sl_t_flip(const char *path, uint64_t off)
{
    int fd = open(path, O_RDWR);
    ck_assert_int_ge(fd, 0);
    uint8_t c;
    ck_assert_int_eq(pread(fd, &c, 1, (off_t)off), 1);
    c ^= 0x40;
    ck_assert_int_eq(pwrite(fd, &c, 1, (off_t)off), 1);
    close(fd);
}

/* --- tests ---------------------------------------------------------------- */

START_TEST(test_append_replay)
{
    sl_t_write("basic", 12, 1, 40, 0);
    char path[PATH_MAX];
    sl_t_seg_path("basic", 12, 1, path);   /* epoch in decimal, name = first seq */
    ck_assert_msg(sl_t_exists(path), "%s missing", path);
    uint64_t total = 0;
    for (uint64_t q = 1; q <= 40; q++)
        total += sl_t_rec_size(q, 0);
    ck_assert_uint_eq(sl_t_size(path), total);
    sl_seen_t s = {.n = 0};
    ck_assert_uint_eq(sl_t_replay("basic", 12, 0, &s), 0);
    sl_t_expect(&s, 1, 40);
    ck_assert_uint_eq(sl_t_replay("basic", 12, 25, &s), 0);
    sl_t_expect(&s, 26, 40);
    ck_assert_uint_eq(sl_t_replay("basic", 12, 40, &s), 0);
    ck_assert_uint_eq(s.n, 0);
    ck_assert_uint_eq(sl_t_size(path), total);   /* replay of an intact log changes nothing */
}
END_TEST

START_TEST(test_missing_log_is_empty)
{
    sl_seen_t s = {.n = 0};
    ck_assert_uint_eq(sl_t_replay("never", 1, 0, &s), 0);
    ck_assert_uint_eq(s.n, 0);
    char err[SL_ERRMSG_LEN] = "";
    ck_assert_int_eq(sl_wal_replay(sl_tmpdir, "never", "s", 1, 0, sl_t_collect, &s, NULL, err),
                     SL_OK);
}
END_TEST

/* Cuts inside the last record (header, info, data, last byte) and past it. */
START_TEST(test_torn_tail)
{
    const uint64_t n = 6;
    uint64_t last_off = 0;
    for (uint64_t q = 1; q < n; q++)
        last_off += sl_t_rec_size(q, 0);
    uint64_t end = last_off + sl_t_rec_size(n, 0);
    ck_assert_uint_gt(sl_t_info_len(n), 4);
    ck_assert_uint_gt(sl_t_data_len(n, 0), 4);
    const uint64_t cuts[] = {
        last_off + 1, last_off + 5, last_off + 20, last_off + 27,    /* header */
        last_off + 28 + 2,                                           /* info */
        last_off + 28 + sl_t_info_len(n) + 3,                        /* data */
        end - 1,
    };
    for (uint32_t i = 0; i < sizeof cuts / sizeof *cuts; i++) {
        char path[PATH_MAX];
        sl_t_write("torn", i, 1, n, 0);
        sl_t_seg_path("torn", i, 1, path);
        ck_assert_uint_eq(sl_t_size(path), end);
        ck_assert_int_eq(truncate(path, (off_t)cuts[i]), 0);
        sl_seen_t s = {.n = 0};
        ck_assert_uint_eq(sl_t_replay("torn", i, 0, &s), cuts[i] - last_off);
        sl_t_expect(&s, 1, n - 1);
        ck_assert_uint_eq(sl_t_size(path), last_off);
        ck_assert_uint_eq(sl_t_replay("torn", i, 0, &s), 0);   /* cut once */
        sl_t_expect(&s, 1, n - 1);
    }
    /* Zeros after the last record (a preallocated or half-written tail). */
    char path[PATH_MAX];
    sl_t_write("torn", 100, 1, n, 0);
    sl_t_seg_path("torn", 100, 1, path);
    ck_assert_int_eq(truncate(path, (off_t)(end + 100)), 0);
    sl_seen_t s = {.n = 0};
    ck_assert_uint_eq(sl_t_replay("torn", 100, 0, &s), 100);
    sl_t_expect(&s, 1, n);
    ck_assert_uint_eq(sl_t_size(path), end);
}
END_TEST

/* A flipped byte in the data, the hash, a length or the magic of record 3:
 * records 1 and 2 come back, the rest is cut. */
START_TEST(test_corrupt_middle)
{
    uint64_t off3 = sl_t_rec_size(1, 0) + sl_t_rec_size(2, 0);
    uint64_t end = off3;
    for (uint64_t q = 3; q <= 5; q++)
        end += sl_t_rec_size(q, 0);
    const uint64_t where[] = {
        off3 + 28 + sl_t_info_len(3) + 10,   /* data */
        off3 + 28 + 1,                       /* info */
        off3 + 21,                           /* hash */
        off3 + 13,                           /* id */
        off3 + 9,                            /* data length: past the file */
        off3 + 11,                           /* data length: beyond 1 GiB */
        off3 + 7,                            /* info length: beyond 16 MiB */
        off3,                                /* magic */
    };
    for (uint32_t i = 0; i < sizeof where / sizeof *where; i++) {
        char path[PATH_MAX];
        sl_t_write("corrupt", i, 1, 5, 0);
        sl_t_seg_path("corrupt", i, 1, path);
        sl_t_flip(path, where[i]);
        sl_seen_t s = {.n = 0};
        ck_assert_uint_eq(sl_t_replay("corrupt", i, 0, &s), end - off3);
        sl_t_expect(&s, 1, 2);
        ck_assert_uint_eq(sl_t_size(path), off3);
        ck_assert_uint_eq(sl_t_replay("corrupt", i, 0, &s), 0);
        sl_t_expect(&s, 1, 2);
    }
}
END_TEST

/* Corruption in an older segment cuts it and removes every later one. */
START_TEST(test_corrupt_removes_later_segments)
{
    sl_t_write("later", 1, 1, 3, 0);
    sl_t_write("later", 1, 4, 6, 0);   /* re-opened: a second segment */
    sl_t_write("later", 1, 7, 8, 0);   /* and a third */
    char p1[PATH_MAX], p4[PATH_MAX], p7[PATH_MAX], dir[PATH_MAX];
    sl_t_seg_path("later", 1, 1, p1);
    sl_t_seg_path("later", 1, 4, p4);
    sl_t_seg_path("later", 1, 7, p7);
    snprintf(dir, sizeof dir, "%s/later/s/1", sl_tmpdir);
    ck_assert_uint_eq(sl_t_count(dir), 3);
    uint64_t size4 = sl_t_size(p4), size7 = sl_t_size(p7);
    uint64_t off2 = sl_t_rec_size(1, 0);
    sl_t_flip(p1, off2 + 28 + sl_t_info_len(2) + 1);
    sl_seen_t s = {.n = 0};
    uint64_t cut = sl_t_replay("later", 1, 0, &s);
    sl_t_expect(&s, 1, 1);
    ck_assert_uint_eq(cut, sl_t_rec_size(2, 0) + sl_t_rec_size(3, 0) + size4 + size7);
    ck_assert(!sl_t_exists(p4));
    ck_assert(!sl_t_exists(p7));
    ck_assert_uint_eq(sl_t_count(dir), 1);
    ck_assert_uint_eq(sl_t_replay("later", 1, 0, &s), 0);
    sl_t_expect(&s, 1, 1);
}
END_TEST

/* A replay stopped by its callback returns that status and cuts nothing. */
START_TEST(test_callback_stops_replay)
{
    sl_t_write("stop", 1, 1, 10, 0);
    char path[PATH_MAX], err[SL_ERRMSG_LEN] = "";
    sl_t_seg_path("stop", 1, 1, path);
    uint64_t size = sl_t_size(path), cut = 99;
    sl_seen_t s = {.stop_at = 3};
    ck_assert_int_eq(sl_wal_replay(sl_tmpdir, "stop", "s", 1, 0, sl_t_collect, &s, &cut, err),
                     SL_ERR_INTERNAL);
    ck_assert_uint_eq(s.n, 3);
    ck_assert_uint_eq(cut, 0);
    ck_assert_uint_eq(sl_t_size(path), size);
}
END_TEST

/* Past SL_WAL_SEGMENT_BYTES a new segment starts; trim removes closed
 * segments whose blocks are all <= upto, never the open one. */
START_TEST(test_roll_and_trim)
{
    const size_t big = SL_T_MIB;
    char err[SL_ERRMSG_LEN] = "", p1[PATH_MAX], p65[PATH_MAX], dir[PATH_MAX];
    sl_wal_t *w = NULL;
    ck_assert_msg(sl_wal_open(sl_tmpdir, "roll", "s", 3, &w, err) == SL_OK, "%s", err);
    for (uint64_t q = 1; q <= 70; q++)
        ck_assert_msg(sl_t_append(w, q, big, err) == SL_OK, "%s", err);
    /* 64 records of just over 1 MiB reach 64 MiB: the 65th starts a segment. */
    sl_t_seg_path("roll", 3, 1, p1);
    sl_t_seg_path("roll", 3, 65, p65);
    snprintf(dir, sizeof dir, "%s/roll/s/3", sl_tmpdir);
    ck_assert_uint_eq(sl_t_count(dir), 2);
    uint64_t size1 = 0;
    for (uint64_t q = 1; q <= 64; q++)
        size1 += sl_t_rec_size(q, big);
    ck_assert_uint_eq(sl_t_size(p1), size1);
    ck_assert_uint_ge(size1, SL_WAL_SEGMENT_BYTES);
    ck_assert(sl_t_exists(p65));

    sl_seen_t s = {.big = big};
    ck_assert_uint_eq(sl_t_replay("roll", 3, 0, &s), 0);
    sl_t_expect(&s, 1, 70);

    ck_assert_int_eq(sl_wal_trim(w, 63, err), SL_OK);   /* 64 is still in segment 1 */
    ck_assert(sl_t_exists(p1));
    ck_assert_int_eq(sl_wal_trim(w, 64, err), SL_OK);
    ck_assert(!sl_t_exists(p1));
    ck_assert_int_eq(sl_wal_trim(w, 1000, err), SL_OK);   /* the open segment stays */
    ck_assert(sl_t_exists(p65));
    ck_assert_msg(sl_t_append(w, 71, big, err) == SL_OK, "%s", err);
    sl_wal_close(w);

    ck_assert_uint_eq(sl_t_replay("roll", 3, 0, &s), 0);
    sl_t_expect(&s, 65, 71);
}
END_TEST

/* A re-opened epoch appends to a new segment; replay sees both. */
START_TEST(test_reopen)
{
    char err[SL_ERRMSG_LEN] = "", p1[PATH_MAX], p4[PATH_MAX], p7[PATH_MAX];
    sl_t_write("reopen", 2, 1, 3, 0);
    sl_wal_t *w = NULL;
    ck_assert_msg(sl_wal_open(sl_tmpdir, "reopen", "s", 2, &w, err) == SL_OK, "%s", err);
    ck_assert_int_eq(sl_t_append(w, 3, 0, err), SL_ERR_INVALID);   /* not after 3 */
    ck_assert(err[0] != '\0');
    ck_assert_int_eq(sl_wal_trim(w, 2, err), SL_OK);   /* 3 is in it */
    sl_t_seg_path("reopen", 2, 1, p1);
    ck_assert(sl_t_exists(p1));
    for (uint64_t q = 4; q <= 6; q++)
        ck_assert_msg(sl_t_append(w, q, 0, err) == SL_OK, "%s", err);
    sl_wal_close(w);
    sl_t_seg_path("reopen", 2, 4, p4);
    ck_assert(sl_t_exists(p4));
    sl_seen_t s = {.n = 0};
    ck_assert_uint_eq(sl_t_replay("reopen", 2, 0, &s), 0);
    sl_t_expect(&s, 1, 6);

    /* A third handle: the older segments found at open can be trimmed once
     * it has started its own. */
    ck_assert_msg(sl_wal_open(sl_tmpdir, "reopen", "s", 2, &w, err) == SL_OK, "%s", err);
    ck_assert_msg(sl_t_append(w, 7, 0, err) == SL_OK, "%s", err);
    ck_assert_int_eq(sl_wal_trim(w, 2, err), SL_OK);
    ck_assert(sl_t_exists(p1));
    ck_assert_int_eq(sl_wal_trim(w, 3, err), SL_OK);
    ck_assert(!sl_t_exists(p1));
    ck_assert(sl_t_exists(p4));
    ck_assert_int_eq(sl_wal_trim(w, 6, err), SL_OK);
    ck_assert(!sl_t_exists(p4));
    sl_t_seg_path("reopen", 2, 7, p7);
    ck_assert(sl_t_exists(p7));
    sl_wal_close(w);
    ck_assert_uint_eq(sl_t_replay("reopen", 2, 0, &s), 0);
    sl_t_expect(&s, 7, 7);
}
END_TEST

/* Re-opening after a crash that tore the last record: open cuts it, so new
 * records do not end up behind a torn one. */
START_TEST(test_reopen_torn)
{
    char err[SL_ERRMSG_LEN] = "", path[PATH_MAX];
    sl_t_write("retorn", 1, 1, 3, 0);
    sl_t_seg_path("retorn", 1, 1, path);
    uint64_t good = sl_t_rec_size(1, 0) + sl_t_rec_size(2, 0);
    ck_assert_int_eq(truncate(path, (off_t)(good + 10)), 0);
    sl_wal_t *w = NULL;
    ck_assert_msg(sl_wal_open(sl_tmpdir, "retorn", "s", 1, &w, err) == SL_OK, "%s", err);
    ck_assert_uint_eq(sl_t_size(path), good);
    for (uint64_t q = 3; q <= 4; q++)   /* 3 was never acknowledged: sent again */
        ck_assert_msg(sl_t_append(w, q, 0, err) == SL_OK, "%s", err);
    sl_wal_close(w);
    sl_seen_t s = {.n = 0};
    ck_assert_uint_eq(sl_t_replay("retorn", 1, 0, &s), 0);
    sl_t_expect(&s, 1, 4);

    /* Cut down to nothing: the empty segment's name is reused. */
    sl_t_write("retorn", 2, 5, 5, 0);
    sl_t_seg_path("retorn", 2, 5, path);
    ck_assert_int_eq(truncate(path, 7), 0);
    sl_t_write("retorn", 2, 5, 6, 0);
    ck_assert_uint_eq(sl_t_replay("retorn", 2, 0, &s), 0);
    sl_t_expect(&s, 5, 6);
}
END_TEST

/* An append that fails part-way (here: the file size limit, EFBIG after a
 * short write) is cut back; the log stays intact and usable. */
START_TEST(test_failed_append_cut_back)
{
    char err[SL_ERRMSG_LEN] = "", path[PATH_MAX];
    sl_wal_t *w = NULL;
    ck_assert_msg(sl_wal_open(sl_tmpdir, "efbig", "s", 1, &w, err) == SL_OK, "%s", err);
    for (uint64_t q = 1; q <= 3; q++)
        ck_assert_msg(sl_t_append(w, q, 0, err) == SL_OK, "%s", err);
    sl_t_seg_path("efbig", 1, 1, path);
    uint64_t good = sl_t_size(path);

    struct rlimit old, lim;
    ck_assert_int_eq(getrlimit(RLIMIT_FSIZE, &old), 0);
    void (*old_handler)(int) = signal(SIGXFSZ, SIG_IGN);
    lim = old;
    lim.rlim_cur = (rlim_t)(good + 40);   /* the next record's header fits, not its body */
    ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &lim), 0);
    sl_status_t st = sl_t_append(w, 4, 0, err);
    ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &old), 0);
    signal(SIGXFSZ, old_handler);

    ck_assert_int_eq(st, SL_ERR_IO);
    SL_CK_CONTAINS(err, "0000000000000001.log");
    SL_CK_CONTAINS(err, strerror(EFBIG));
    ck_assert_uint_eq(sl_t_size(path), good);
    ck_assert_msg(sl_t_append(w, 4, 0, err) == SL_OK, "%s", err);   /* the retry */
    ck_assert_msg(sl_t_append(w, 5, 0, err) == SL_OK, "%s", err);
    sl_wal_close(w);
    sl_seen_t s = {.n = 0};
    ck_assert_uint_eq(sl_t_replay("efbig", 1, 0, &s), 0);
    sl_t_expect(&s, 1, 5);
}
END_TEST

START_TEST(test_append_limits)
{
    char err[SL_ERRMSG_LEN] = "";
    sl_wal_t *w = NULL;
    uint8_t b[1] = {0};
    ck_assert_msg(sl_wal_open(sl_tmpdir, "limits", "s", 1, &w, err) == SL_OK, "%s", err);
    /* Refused before the bytes are touched. */
    ck_assert_int_eq(sl_wal_append(w, 1, b, (16u << 20) + 1, b, 1, err), SL_ERR_INVALID);
    ck_assert_int_eq(sl_wal_append(w, 1, b, 1, b, ((size_t)1 << 30) + 1, err), SL_ERR_INVALID);
    ck_assert_int_eq(sl_wal_append(w, 1, NULL, 0, NULL, 0, err), SL_OK);   /* empty is fine */
    sl_wal_close(w);
    sl_wal_close(NULL);
}
END_TEST

START_TEST(test_invalid_names)
{
    const char *bad[] = {"", "a/b", "/", ".", "..", "x/"};
    char err[SL_ERRMSG_LEN];
    sl_seen_t s = {.n = 0};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        sl_wal_t *w = NULL;
        err[0] = '\0';
        ck_assert_int_eq(sl_wal_open(sl_tmpdir, bad[i], "s", 1, &w, err), SL_ERR_INVALID);
        ck_assert_ptr_null(w);
        SL_CK_CONTAINS(err, "not a plain name");
        err[0] = '\0';
        ck_assert_int_eq(sl_wal_open(sl_tmpdir, "job", bad[i], 1, &w, err), SL_ERR_INVALID);
        ck_assert(err[0] != '\0');
        ck_assert_int_eq(sl_wal_replay(sl_tmpdir, bad[i], "s", 1, 0, sl_t_collect, &s, NULL, err),
                         SL_ERR_INVALID);
        ck_assert_int_eq(sl_wal_remove(sl_tmpdir, "job", bad[i], 1, err), SL_ERR_INVALID);
    }
    ck_assert_int_eq(sl_wal_open(sl_tmpdir, NULL, "s", 1, &(sl_wal_t *){NULL}, err),
                     SL_ERR_INVALID);
    char job[PATH_MAX];
    snprintf(job, sizeof job, "%s/job", sl_tmpdir);
    ck_assert(!sl_t_exists(job));   /* nothing was created */
}
END_TEST

START_TEST(test_remove)
{
    char err[SL_ERRMSG_LEN] = "", dir[PATH_MAX], stream[PATH_MAX];
    sl_t_write("rm", 4, 1, 3, 0);
    sl_t_write("rm", 4, 4, 5, 0);
    sl_t_write("rm", 5, 1, 2, 0);
    snprintf(dir, sizeof dir, "%s/rm/s/4", sl_tmpdir);
    snprintf(stream, sizeof stream, "%s/rm/s", sl_tmpdir);
    ck_assert(sl_t_exists(dir));
    ck_assert_msg(sl_wal_remove(sl_tmpdir, "rm", "s", 4, err) == SL_OK, "%s", err);
    ck_assert(!sl_t_exists(dir));
    ck_assert_uint_eq(sl_t_count(stream), 1);   /* epoch 5 untouched */
    ck_assert_msg(sl_wal_remove(sl_tmpdir, "rm", "s", 4, err) == SL_OK, "%s", err);
    ck_assert_msg(sl_wal_remove(sl_tmpdir, "nojob", "s", 4, err) == SL_OK, "%s", err);
    sl_seen_t s = {.n = 0};
    ck_assert_uint_eq(sl_t_replay("rm", 4, 0, &s), 0);
    ck_assert_uint_eq(s.n, 0);
    ck_assert_uint_eq(sl_t_replay("rm", 5, 0, &s), 0);
    sl_t_expect(&s, 1, 2);
}
END_TEST

Suite *sl_test_wal_suite(void)
{
    Suite *s = suite_create("wal");
    TCase *tc = tcase_create("wal");
    tcase_add_unchecked_fixture(tc, sl_tmpdir_setup, sl_tmpdir_teardown);
    tcase_add_test(tc, test_append_replay);
    tcase_add_test(tc, test_missing_log_is_empty);
    tcase_add_test(tc, test_torn_tail);
    tcase_add_test(tc, test_corrupt_middle);
    tcase_add_test(tc, test_corrupt_removes_later_segments);
    tcase_add_test(tc, test_callback_stops_replay);
    tcase_add_test(tc, test_roll_and_trim);
    tcase_add_test(tc, test_reopen);
    tcase_add_test(tc, test_reopen_torn);
    tcase_add_test(tc, test_failed_append_cut_back);
    tcase_add_test(tc, test_append_limits);
    tcase_add_test(tc, test_invalid_names);
    tcase_add_test(tc, test_remove);
    suite_add_tcase(s, tc);
    return s;
}
