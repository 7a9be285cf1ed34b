/* The receiver write-ahead log: every received block is appended to a
 * segment file of its receiver epoch and fsynced before it is acknowledged,
 * so a restarted receiver can replay what it had accepted. Replay verifies
 * each record and cuts the log at the first torn or corrupt one. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>
#define XXH_STATIC_LINKING_ONLY   /* XXH64_state_t on the stack */
#include <xxhash.h>
#include "block.h"
#include "wal.h"

/* Record format, all integers little-endian:
 *
 *   off  size  field
 *     0     4  magic "SLW1"
 *     4     4  info_len   (<= SL_WAL_INFO_MAX)
 *     8     4  data_len   (<= SL_WAL_DATA_MAX)
 *    12     8  id         (sequence = id & (2^40 - 1))
 *    20     8  hash: XXH64, seed 0, over bytes 0..19, then info, then data
 *    28        info bytes, then data bytes
 *
 * A segment is a plain concatenation of records, named "%016llx.log" after
 * the sequence of the first record appended to it (a lower bound of all of
 * its sequences). Files of other names in the epoch directory are ignored. */
static const uint8_t sl_wal_magic[4] = {'S', 'L', 'W', '1'};

#define SL_WAL_HEADER_LEN 28
#define SL_WAL_HASHED_LEN 20
#define SL_WAL_INFO_MAX ((uint32_t)16 << 20)
#define SL_WAL_DATA_MAX ((uint32_t)1 << 30)
#define SL_WAL_NAME_LEN 20        /* 16 hex digits + ".log" */

typedef struct {
    uint64_t first;     /* from the file name */
    uint64_t last;      /* valid when last_known */
    bool last_known;    /* appended by this handle, or read through at open */
} sl_wal_seg_t;

struct sl_wal {
    char dir[PATH_MAX];     /* the epoch directory, for messages */
    int dirfd;              /* -1 until open */
    sl_wal_seg_t *segs;     /* sorted by first; the last is open when fd >= 0 */
    size_t nsegs, cap;
    int fd;                 /* the segment being appended to, -1: none */
    uint64_t size;          /* its size up to the last good record */
    bool dirty;             /* bytes past `size` may remain from a failed append */
    uint64_t floor;         /* an append's sequence must be > floor, */
    bool strict;            /* or >= while no record is known (floor 0 or an empty
                               segment's name) */
};

/* --- small helpers --------------------------------------------------------- */

static void sl_put_le32(uint8_t *q, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        q[i] = (uint8_t)(v >> (8 * i));
}

static void sl_put_le64(uint8_t *q, uint64_t v)
{
    sl_put_le32(q, (uint32_t)v);
    sl_put_le32(q + 4, (uint32_t)(v >> 32));
}

static uint32_t sl_get_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t sl_get_le64(const uint8_t *p)
{
    return (uint64_t)sl_get_le32(p) | (uint64_t)sl_get_le32(p + 4) << 32;
}

/* Writes "<what> <path>: <strerror(errnum)>" to err (may be NULL), keeping
 * the tail of a long path so the cause always fits. Returns SL_ERR_IO. */
static sl_status_t sl_wal_syserr(char *err, const char *what, const char *path, int errnum)
{
    if (err) {
        size_t n = strlen(path);
        const char *dots = n > 160 ? "..." : "";
        snprintf(err, SL_ERRMSG_LEN, "%s %s%s: %s", what, dots, n > 160 ? path + n - 160 : path,
                 strerror(errnum));
    }
    return SL_ERR_IO;
}

/* True for a plain directory-entry name: non-empty, no '/', not "." or "..". */
static bool sl_wal_plain_name(const char *s)
{
    return s && *s && !strchr(s, '/') && strcmp(s, ".") != 0 && strcmp(s, "..") != 0;
}

/* Checks the names and writes ROOT/<job>/<stream>/<epoch> to path (PATH_MAX
 * bytes). */
static sl_status_t sl_wal_path(const char *root, const char *job, const char *stream,
                               uint32_t epoch, char *path /* OUT */, char *err)
{
    if (!root || !*root) {
        if (err)
            snprintf(err, SL_ERRMSG_LEN, "write-ahead log: empty root directory");
        return SL_ERR_INVALID;
    }
    if (!sl_wal_plain_name(job) || !sl_wal_plain_name(stream)) {
        if (err)
            snprintf(err, SL_ERRMSG_LEN,
                     "write-ahead log: job '%.64s' / stream '%.64s' is not a plain name "
                     "(empty, '/', '.' or '..')",
                     job ? job : "(null)", stream ? stream : "(null)");
        return SL_ERR_INVALID;
    }
    int n = snprintf(path, PATH_MAX, "%s/%s/%s/%u", root, job, stream, (unsigned)epoch);
    if (n < 0 || n >= PATH_MAX) {
        if (err)
            snprintf(err, SL_ERRMSG_LEN, "write-ahead log: path under '%.64s' is too long", root);
        return SL_ERR_INVALID;
    }
    return SL_OK;
}

/* Parses a segment file name; true with its first sequence in *first. */
static bool sl_wal_seg_name(const char *name, uint64_t *first /* OUT */)
{
    if (strlen(name) != SL_WAL_NAME_LEN || strcmp(name + 16, ".log") != 0)
        return false;
    uint64_t v = 0;
    for (int i = 0; i < 16; i++) {
        char c = name[i];
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
        if (d < 0)
            return false;
        v = v << 4 | (uint64_t)d;
    }
    *first = v;
    return true;
}

static void sl_wal_seg_file(uint64_t first, char name[SL_WAL_NAME_LEN + 1])
{
    snprintf(name, SL_WAL_NAME_LEN + 1, "%016llx.log", (unsigned long long)first);
}

static int sl_wal_seg_cmp(const void *a, const void *b)
{
    uint64_t x = ((const sl_wal_seg_t *)a)->first, y = ((const sl_wal_seg_t *)b)->first;
    return x < y ? -1 : x > y;
}

/* Lists the segments in directory `d`, sorted by first sequence, last
 * unknown. The caller frees *segs; *segs is NULL when there are none. */
static sl_status_t sl_wal_list(DIR *d, const char *dir, sl_wal_seg_t **segs /* OUT */,
                               size_t *n /* OUT */, char *err)
{
    sl_status_t st = SL_OK;
    sl_wal_seg_t *v = NULL;
    size_t len = 0, cap = 0;
    struct dirent *e;
    errno = 0;
    while ((e = readdir(d)) != NULL) {
        uint64_t first;
        if (!sl_wal_seg_name(e->d_name, &first))
            continue;
        if (len == cap) {
            size_t ncap = cap ? 2 * cap : 16;
            sl_wal_seg_t *nv = realloc(v, ncap * sizeof *nv);
            if (!nv) {
                st = SL_ERR_NOMEM;
                if (err)
                    snprintf(err, SL_ERRMSG_LEN, "out of memory listing %.200s", dir);
                goto free_list;
            }
            v = nv;
            cap = ncap;
        }
        v[len++] = (sl_wal_seg_t){.first = first};
        errno = 0;
    }
    if (errno) {
        st = sl_wal_syserr(err, "cannot list", dir, errno);
        goto free_list;
    }
    if (len)
        qsort(v, len, sizeof *v, sl_wal_seg_cmp);
    *segs = v;
    *n = len;
    return SL_OK;
free_list:
    free(v);
    return st;
}

/* fsyncs the directory at `path`. */
static sl_status_t sl_wal_fsync_dir(const char *path, char *err)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return sl_wal_syserr(err, "cannot open directory", path, errno);
    sl_status_t st = SL_OK;
    if (fsync(fd) != 0)
        st = sl_wal_syserr(err, "cannot fsync directory", path, errno);
    close(fd);
    return st;
}

/* fsyncs the directory holding `path` (a copy is cut at its last '/'). */
static sl_status_t sl_wal_fsync_parent(const char *path, char *err)
{
    char parent[PATH_MAX];
    snprintf(parent, sizeof parent, "%s", path);
    char *slash = strrchr(parent, '/');
    if (!slash)
        snprintf(parent, sizeof parent, ".");
    else if (slash == parent)
        slash[1] = '\0';
    else
        *slash = '\0';
    return sl_wal_fsync_dir(parent, err);
}

/* mkdir -p with mode 0755; every directory it creates is made durable by
 * fsyncing its parent. */
static sl_status_t sl_wal_mkdirs(const char *path, char *err)
{
    char p[PATH_MAX];
    snprintf(p, sizeof p, "%s", path);
    size_t n = strlen(p);
    for (size_t i = 1; i <= n; i++) {
        if (p[i] != '/' && p[i] != '\0')
            continue;
        if (p[i - 1] == '/')   /* "a//b" */
            continue;
        char saved = p[i];
        p[i] = '\0';
        if (mkdir(p, 0755) == 0) {
            sl_status_t st = sl_wal_fsync_parent(p, err);
            if (st != SL_OK)
                return st;
        } else if (errno != EEXIST) {
            return sl_wal_syserr(err, "cannot create directory", p, errno);
        }
        p[i] = saved;
    }
    return SL_OK;
}

/* read(2) of exactly n bytes at off; false on error or end of file (errno
 * is 0 then). */
static bool sl_wal_pread_full(int fd, uint8_t *buf, size_t n, uint64_t off)
{
    while (n) {
        ssize_t r = pread(fd, buf, n, (off_t)off);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            if (r == 0)
                errno = 0;
            return false;
        }
        buf += r;
        n -= (size_t)r;
        off += (uint64_t)r;
    }
    return true;
}

/* The record hash: XXH64 over the first 20 header bytes, info, data. */
static uint64_t sl_wal_hash(const uint8_t *head, const uint8_t *info, size_t info_len,
                            const uint8_t *data, size_t len)
{
    XXH64_state_t s;
    XXH64_reset(&s, 0);
    XXH64_update(&s, head, SL_WAL_HASHED_LEN);
    if (info_len)
        XXH64_update(&s, info, info_len);
    if (len)
        XXH64_update(&s, data, len);
    return XXH64_digest(&s);
}

/* --- reading back ---------------------------------------------------------- */

/* Cuts the log at byte `off` of segment i: removes the later segments
 * (newest first), then truncates segment i there, adding what went to *cut.
 * In that order a crash part-way leaves the bad record in place for the next
 * replay to finish the cut. dfd is the epoch directory. */
static sl_status_t sl_wal_cut(int dfd, const char *dir, const sl_wal_seg_t *segs, size_t n,
                              size_t i, uint64_t off, uint64_t size, uint64_t *cut, char *err)
{
    char name[SL_WAL_NAME_LEN + 1], path[PATH_MAX + SL_WAL_NAME_LEN + 2];
    sl_status_t st = SL_OK;
    for (size_t j = n; j-- > i + 1;) {
        struct stat sb;
        sl_wal_seg_file(segs[j].first, name);
        snprintf(path, sizeof path, "%s/%s", dir, name);
        if (fstatat(dfd, name, &sb, 0) == 0)
            *cut += (uint64_t)sb.st_size;
        if (unlinkat(dfd, name, 0) != 0 && errno != ENOENT)
            return sl_wal_syserr(err, "cannot remove", path, errno);
    }
    if (n > i + 1 && fsync(dfd) != 0)
        return sl_wal_syserr(err, "cannot fsync directory", dir, errno);
    sl_wal_seg_file(segs[i].first, name);
    snprintf(path, sizeof path, "%s/%s", dir, name);
    int fd = openat(dfd, name, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return sl_wal_syserr(err, "cannot open", path, errno);
    int rc;
    while ((rc = ftruncate(fd, (off_t)off)) != 0 && errno == EINTR)
        ;
    if (rc != 0) {
        st = sl_wal_syserr(err, "cannot truncate", path, errno);
        goto close_fd;
    }
    if (fsync(fd) != 0) {
        st = sl_wal_syserr(err, "cannot fsync", path, errno);
        goto close_fd;
    }
    *cut += size - off;
close_fd:
    close(fd);
    return st;
}

/* A read buffer reused across records and segments, grown to the largest
 * record read (never past what the file holds). */
typedef struct {
    uint8_t *p;
    size_t cap;
} sl_wal_rbuf_t;

/* Reads the records of one segment file in order, calling fn for each
 * intact one. *good is where the intact records end (the file size when all
 * are intact), *size the file size. */
static sl_status_t sl_wal_read_seg(int fd, const char *path, sl_wal_fn fn, void *arg,
                                   sl_wal_rbuf_t *b, uint64_t *good /* OUT */,
                                   uint64_t *size /* OUT */, char *err)
{
    struct stat sb;
    if (fstat(fd, &sb) != 0)
        return sl_wal_syserr(err, "cannot stat", path, errno);
    *size = (uint64_t)sb.st_size;
    *good = 0;
    uint8_t head[SL_WAL_HEADER_LEN];
    for (uint64_t off = 0; off < *size; off = *good) {
        if (*size - off < sizeof head)
            return SL_OK;
        if (!sl_wal_pread_full(fd, head, sizeof head, off))
            return errno ? sl_wal_syserr(err, "cannot read", path, errno) : SL_OK;
        uint32_t info_len = sl_get_le32(head + 4), len = sl_get_le32(head + 8);
        if (memcmp(head, sl_wal_magic, 4) != 0 || info_len > SL_WAL_INFO_MAX ||
            len > SL_WAL_DATA_MAX)
            return SL_OK;
        uint64_t body = (uint64_t)info_len + len;
        if (*size - off - sizeof head < body)
            return SL_OK;
        if (body > b->cap) {
            uint8_t *np = realloc(b->p, (size_t)body);
            if (!np) {
                if (err)
                    snprintf(err, SL_ERRMSG_LEN, "out of memory reading %.200s", path);
                return SL_ERR_NOMEM;
            }
            b->p = np;
            b->cap = (size_t)body;
        }
        if (!sl_wal_pread_full(fd, b->p, (size_t)body, off + sizeof head))
            return errno ? sl_wal_syserr(err, "cannot read", path, errno) : SL_OK;
        if (sl_wal_hash(head, b->p, info_len, b->p + info_len, len) != sl_get_le64(head + 20))
            return SL_OK;
        sl_status_t st = fn(arg, sl_get_le64(head + 12), b->p, info_len, b->p + info_len, len);
        if (st != SL_OK)
            return st;
        *good = off + sizeof head + body;
    }
    return SL_OK;
}

/* Reads segment i of the sorted segs of directory dir (open as dfd), calling
 * fn for each intact record; at a torn or corrupt record the log is cut
 * there (sl_wal_cut), *torn is set and the bytes cut are added to *cut. */
static sl_status_t sl_wal_check_seg(int dfd, const char *dir, const sl_wal_seg_t *segs, size_t n,
                                    size_t i, sl_wal_fn fn, void *arg, sl_wal_rbuf_t *b,
                                    uint64_t *cut, bool *torn /* OUT */, char *err)
{
    char name[SL_WAL_NAME_LEN + 1], path[PATH_MAX + SL_WAL_NAME_LEN + 2];
    sl_wal_seg_file(segs[i].first, name);
    snprintf(path, sizeof path, "%s/%s", dir, name);
    *torn = false;
    int fd = openat(dfd, name, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return sl_wal_syserr(err, "cannot open", path, errno);
    uint64_t good = 0, size = 0;
    sl_status_t st = sl_wal_read_seg(fd, path, fn, arg, b, &good, &size, err);
    close(fd);
    if (st == SL_OK && good < size) {
        *torn = true;
        st = sl_wal_cut(dfd, dir, segs, n, i, good, size, cut, err);
    }
    return st;
}

/* --- appending ------------------------------------------------------------- */

/* Notes the sequence of each record read (into a uint64_t[2]: count, last). */
static sl_status_t sl_wal_note_last(void *arg, uint64_t id, const uint8_t *info, size_t info_len,
                                    const uint8_t *data, size_t len)
{
    uint64_t *v = arg;
    v[0]++;
    v[1] = sl_block_id_seq(id);
    return SL_OK;
}

/* Makes the epoch directory and a handle over it (the caller closes it with
 * sl_wal_close); no segment is created before the first append. A re-opened
 * epoch keeps its segments (they may be trimmed). The newest is read
 * through: a torn tail left by a crash is cut (as replay would) so that new
 * records never land behind it, and its last sequence becomes the floor of
 * the next append. */
sl_status_t sl_wal_open(const char *root, const char *job, const char *stream, uint32_t epoch,
                        sl_wal_t **out, char *err)
{
    sl_status_t st;
    DIR *d = NULL;
    sl_wal_rbuf_t b = {NULL, 0};
    *out = NULL;
    sl_wal_t *w = calloc(1, sizeof *w);
    if (!w) {
        if (err)
            snprintf(err, SL_ERRMSG_LEN, "out of memory opening the write-ahead log");
        return SL_ERR_NOMEM;
    }
    w->dirfd = -1;
    w->fd = -1;
    if ((st = sl_wal_path(root, job, stream, epoch, w->dir, err)) != SL_OK)
        goto close_wal;
    if ((st = sl_wal_mkdirs(w->dir, err)) != SL_OK)
        goto close_wal;
    w->dirfd = open(w->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (w->dirfd < 0) {
        st = sl_wal_syserr(err, "cannot open", w->dir, errno);
        goto close_wal;
    }
    int lfd = dup(w->dirfd);
    if (lfd < 0 || !(d = fdopendir(lfd))) {
        st = sl_wal_syserr(err, "cannot list", w->dir, errno);
        if (lfd >= 0)
            close(lfd);
        goto close_wal;
    }
    if ((st = sl_wal_list(d, w->dir, &w->segs, &w->nsegs, err)) != SL_OK)
        goto close_wal;
    w->cap = w->nsegs;
    if (w->nsegs) {
        sl_wal_seg_t *s = &w->segs[w->nsegs - 1];
        uint64_t seen[2] = {0, 0}, cut = 0;
        bool torn;
        st = sl_wal_check_seg(w->dirfd, w->dir, w->segs, w->nsegs, w->nsegs - 1,
                              sl_wal_note_last, seen, &b, &cut, &torn, err);
        if (st != SL_OK)
            goto close_wal;
        w->floor = seen[0] ? seen[1] : s->first;
        w->strict = seen[0] > 0;
        s->last = seen[1];
        s->last_known = seen[0] > 0;
    }
    *out = w;
    w = NULL;
close_wal:
    if (d)
        closedir(d);
    free(b.p);
    sl_wal_close(w);
    return st;
}

/* Closes the files and frees the handle, half-built or NULL too. Every
 * append was fsynced already: nothing is flushed here. */
void sl_wal_close(sl_wal_t *w)
{
    if (!w)
        return;
    if (w->fd >= 0)
        close(w->fd);
    if (w->dirfd >= 0)
        close(w->dirfd);
    free(w->segs);
    free(w);
}

/* Cuts the open segment back to its last good record after a failed append
 * and makes the cut durable; the handle stays dirty (and refuses appends)
 * until this succeeds. */
static sl_status_t sl_wal_undo(sl_wal_t *w, char *err)
{
    char name[SL_WAL_NAME_LEN + 1], path[PATH_MAX + SL_WAL_NAME_LEN + 2];
    sl_wal_seg_file(w->segs[w->nsegs - 1].first, name);
    snprintf(path, sizeof path, "%s/%s", w->dir, name);
    int rc;
    while ((rc = ftruncate(w->fd, (off_t)w->size)) != 0 && errno == EINTR)
        ;
    if (rc != 0)
        return sl_wal_syserr(err, "cannot cut back", path, errno);
    if (fsync(w->fd) != 0)
        return sl_wal_syserr(err, "cannot fsync", path, errno);
    w->dirty = false;
    return SL_OK;
}

/* Closes the open segment (already fsynced) so the next append starts a new
 * one. */
static void sl_wal_roll(sl_wal_t *w)
{
    close(w->fd);
    w->fd = -1;
    w->size = 0;
}

/* Opens (creating, or appending to an empty or cut-back file of the same
 * name) the segment named after `seq` and fsyncs the directory. */
static sl_status_t sl_wal_start_segment(sl_wal_t *w, uint64_t seq, char *err)
{
    char name[SL_WAL_NAME_LEN + 1], path[PATH_MAX + SL_WAL_NAME_LEN + 2];
    sl_wal_seg_file(seq, name);
    snprintf(path, sizeof path, "%s/%s", w->dir, name);
    sl_status_t st;
    bool reuse = w->nsegs && w->segs[w->nsegs - 1].first == seq;
    if (!reuse && w->nsegs == w->cap) {
        size_t ncap = w->cap ? 2 * w->cap : 8;
        sl_wal_seg_t *nv = realloc(w->segs, ncap * sizeof *nv);
        if (!nv) {
            if (err)
                snprintf(err, SL_ERRMSG_LEN, "out of memory starting %.200s", path);
            return SL_ERR_NOMEM;
        }
        w->segs = nv;
        w->cap = ncap;
    }
    int fd = openat(w->dirfd, name, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0)
        return sl_wal_syserr(err, "cannot create", path, errno);
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        st = sl_wal_syserr(err, "cannot stat", path, errno);
        goto close_fd;
    }
    if (fsync(w->dirfd) != 0) {
        st = sl_wal_syserr(err, "cannot fsync directory", w->dir, errno);
        goto close_fd;
    }
    if (!reuse)
        w->segs[w->nsegs++] = (sl_wal_seg_t){.first = seq};
    w->fd = fd;
    w->size = (uint64_t)sb.st_size;
    w->dirty = false;
    return SL_OK;
close_fd:
    close(fd);
    return st;
}

/* writev(2) of all of iov, through short writes and EINTR. May advance iov. */
static bool sl_wal_writev_full(int fd, struct iovec *iov, int n)
{
    while (n > 0) {
        ssize_t r = writev(fd, iov, n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return false;
        if (r == 0) {
            errno = EIO;
            return false;
        }
        size_t left = (size_t)r;
        while (n > 0 && left >= iov->iov_len) {
            left -= iov->iov_len;
            iov++;
            n--;
        }
        if (n > 0) {
            iov->iov_base = (uint8_t *)iov->iov_base + left;
            iov->iov_len -= left;
        }
    }
    return true;
}

/* Writes one record at the end of the open segment (starting one first when
 * there is none or the current one is full) and fdatasyncs it. Borrows info
 * and data. On failure the segment is cut back to its size before. */
sl_status_t sl_wal_append(sl_wal_t *w, uint64_t id, const uint8_t *info, size_t info_len,
                          const uint8_t *data, size_t len, char *err)
{
    uint64_t seq = sl_block_id_seq(id);
    char name[SL_WAL_NAME_LEN + 1], path[PATH_MAX + SL_WAL_NAME_LEN + 2];
    sl_status_t st;
    if (info_len > SL_WAL_INFO_MAX || len > SL_WAL_DATA_MAX) {
        if (err)
            snprintf(err, SL_ERRMSG_LEN, "block %llu: %zu info / %zu data bytes exceed the "
                     "write-ahead log's limits", (unsigned long long)seq, info_len, len);
        return SL_ERR_INVALID;
    }
    if (w->strict ? seq <= w->floor : seq < w->floor) {
        if (err)
            snprintf(err, SL_ERRMSG_LEN, "block %llu appended after %llu in %.180s",
                     (unsigned long long)seq, (unsigned long long)w->floor, w->dir);
        return SL_ERR_INVALID;
    }
    /* A failed append whose cut-back failed too: never write past its junk. */
    if (w->fd >= 0 && w->dirty && (st = sl_wal_undo(w, err)) != SL_OK)
        return st;
    if (w->fd >= 0 && w->size >= SL_WAL_SEGMENT_BYTES)
        sl_wal_roll(w);
    if (w->fd < 0 && (st = sl_wal_start_segment(w, seq, err)) != SL_OK)
        return st;

    uint8_t head[SL_WAL_HEADER_LEN];
    memcpy(head, sl_wal_magic, 4);
    sl_put_le32(head + 4, (uint32_t)info_len);
    sl_put_le32(head + 8, (uint32_t)len);
    sl_put_le64(head + 12, id);
    sl_put_le64(head + 20, sl_wal_hash(head, info, info_len, data, len));
    struct iovec iov[3] = {
        {.iov_base = head, .iov_len = sizeof head},
        {.iov_base = (void *)info, .iov_len = info_len},
        {.iov_base = (void *)data, .iov_len = len},
    };
    if (!sl_wal_writev_full(w->fd, iov, 3) || fdatasync(w->fd) != 0) {
        int saved = errno;
        sl_wal_seg_file(w->segs[w->nsegs - 1].first, name);
        snprintf(path, sizeof path, "%s/%s", w->dir, name);
        w->dirty = true;
        char undo_err[SL_ERRMSG_LEN];
        sl_wal_undo(w, undo_err);   /* if it fails, the next append retries it */
        return sl_wal_syserr(err, "cannot append to", path, saved);
    }
    w->size += sizeof head + info_len + len;
    sl_wal_seg_t *s = &w->segs[w->nsegs - 1];
    s->last = seq;
    s->last_known = true;
    w->floor = seq;
    w->strict = true;
    return SL_OK;
}

/* Unlinks the closed segments whose sequences are all <= upto, then fsyncs
 * the directory. A segment appended to by this handle, and the newest one
 * found at open (read through there), know their last sequence; an older
 * one found at open is bounded by the next segment's first sequence - 1
 * (sequences increase). Trimming never reads the log. */
sl_status_t sl_wal_trim(sl_wal_t *w, uint64_t upto, char *err)
{
    sl_status_t st = SL_OK;
    size_t keep = 0, removed = 0;
    size_t closed = w->fd >= 0 ? w->nsegs - 1 : w->nsegs;
    for (size_t i = 0; i < w->nsegs; i++) {
        sl_wal_seg_t *s = &w->segs[i];
        bool gone = false;
        if (i < closed) {
            if (s->last_known)
                gone = s->last <= upto;
            else if (i + 1 < w->nsegs)
                gone = w->segs[i + 1].first - 1 <= upto;
        }
        if (gone && st != SL_OK)
            gone = false;   /* stop at the first failure: removal stays a prefix */
        if (gone) {
            char name[SL_WAL_NAME_LEN + 1];
            sl_wal_seg_file(s->first, name);
            if (unlinkat(w->dirfd, name, 0) != 0 && errno != ENOENT) {
                char path[PATH_MAX + SL_WAL_NAME_LEN + 2];
                snprintf(path, sizeof path, "%s/%s", w->dir, name);
                st = sl_wal_syserr(err, "cannot remove", path, errno);
                gone = false;
            } else {
                removed++;
            }
        }
        /* Removal is a prefix of the closed segments, so a kept segment
         * keeps the successor its bound came from. */
        if (!gone)
            w->segs[keep++] = *s;
    }
    w->nsegs = keep;
    if (removed && fsync(w->dirfd) != 0 && st == SL_OK)
        st = sl_wal_syserr(err, "cannot fsync directory", w->dir, errno);
    return st;
}

/* The user's callback behind the after_seq filter. */
typedef struct {
    uint64_t after_seq;
    sl_wal_fn fn;
    void *arg;
} sl_wal_filter_t;

static sl_status_t sl_wal_filtered(void *arg, uint64_t id, const uint8_t *info, size_t info_len,
                                   const uint8_t *data, size_t len)
{
    const sl_wal_filter_t *f = arg;
    if (sl_block_id_seq(id) <= f->after_seq)
        return SL_OK;
    return f->fn(f->arg, id, info, info_len, data, len);
}

/* Lists the epoch's segments and reads them in order of first sequence; the
 * first torn or corrupt record ends the log, which is cut there. *cut_bytes
 * is set to the bytes cut. Replaying an epoch while a handle appends to it
 * is not supported. */
sl_status_t sl_wal_replay(const char *root, const char *job, const char *stream, uint32_t epoch,
                          uint64_t after_seq, sl_wal_fn fn, void *arg, uint64_t *cut_bytes,
                          char *err)
{
    char dir[PATH_MAX];
    uint64_t cut = 0;
    sl_wal_seg_t *segs = NULL;
    size_t n = 0;
    sl_wal_rbuf_t b = {NULL, 0};
    sl_wal_filter_t f = {after_seq, fn, arg};
    sl_status_t st;
    if (cut_bytes)
        *cut_bytes = 0;
    if ((st = sl_wal_path(root, job, stream, epoch, dir, err)) != SL_OK)
        return st;
    DIR *d = opendir(dir);
    if (!d)
        return errno == ENOENT ? SL_OK : sl_wal_syserr(err, "cannot open", dir, errno);
    if ((st = sl_wal_list(d, dir, &segs, &n, err)) != SL_OK)
        goto close_dir;
    bool torn = false;
    for (size_t i = 0; i < n && st == SL_OK && !torn; i++)
        st = sl_wal_check_seg(dirfd(d), dir, segs, n, i, sl_wal_filtered, &f, &b, &cut, &torn,
                              err);
    if (cut_bytes)
        *cut_bytes = cut;
close_dir:
    free(b.p);
    free(segs);
    closedir(d);
    return st;
}

/* Unlinks every file of the epoch directory, then the directory, and makes
 * the removal durable in its parent. */
sl_status_t sl_wal_remove(const char *root, const char *job, const char *stream, uint32_t epoch,
                          char *err)
{
    char dir[PATH_MAX], path[PATH_MAX + NAME_MAX + 2];
    sl_status_t st;
    if ((st = sl_wal_path(root, job, stream, epoch, dir, err)) != SL_OK)
        return st;
    DIR *d = opendir(dir);
    if (!d) {
        if (errno == ENOENT)
            return SL_OK;
        return sl_wal_syserr(err, "cannot open", dir, errno);
    }
    struct dirent *e;
    errno = 0;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        if (unlinkat(dirfd(d), e->d_name, 0) != 0 && errno != ENOENT) {
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
            st = sl_wal_syserr(err, "cannot remove", path, errno);
            goto close_dir;
        }
        errno = 0;
    }
    if (errno) {
        st = sl_wal_syserr(err, "cannot list", dir, errno);
        goto close_dir;
    }
    closedir(d);
    d = NULL;
    if (rmdir(dir) != 0) {
        if (errno == ENOENT)
            return SL_OK;
        return sl_wal_syserr(err, "cannot remove", dir, errno);
    }
    return sl_wal_fsync_parent(dir, err);
close_dir:
    closedir(d);
    return st;
}
