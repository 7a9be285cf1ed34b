/* The integration-test runner: main() runs the tests named on the command
 * line (all by default), each in a fresh temp dir, and always stops and
 * reaps what a test started (proc.c). Output: one "PASS name" /
 * "FAIL name: file:line: reason" line per test, details of a failure below
 * it, and "N passed, N failed" as the very last line. Also the failure
 * recording, time, file and wait helpers every test uses. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "harness.h"
#include "net.h"
#include "proc.h"

/* Run-wide settings, read once in main(). */
typedef struct {
    const char *bin_dir;
    bool sanitized;
    bool keep;                  /* $SLUICE_IT_KEEP: keep temp dirs of passing tests too */
} it_run_env_t;

static it_run_env_t it_env;

/* --- failing ------------------------------------------------------------- */

/* Appends to the string in buf (len bytes in all), truncating. */
static void it_append(char *buf, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void it_append(char *buf, size_t len, const char *fmt, ...)
{
    size_t n = strlen(buf);
    if (n + 1 >= len)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf + n, len - n, fmt, ap);
    va_end(ap);
}

static void it_vrecord(it_ctx_t *t, const char *file, int line, const char *expr,
                       const char *fmt, va_list ap)
{
    if (t->failed)
        return;
    t->failed = true;
    const char *base = strrchr(file, '/');
    base = base ? base + 1 : file;
    it_append(t->fail_msg, sizeof t->fail_msg, "%s:%d: ", base, line);
    size_t n = strlen(t->fail_msg);
    vsnprintf(t->fail_msg + n, sizeof t->fail_msg - n, fmt, ap);
    if (expr)
        it_append(t->fail_msg, sizeof t->fail_msg, " [check: %s]", expr);
    if (t->note[0])
        it_append(t->fail_msg, sizeof t->fail_msg, " [%s]", t->note);
}

void it_fail_at(it_ctx_t *t, const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    it_vrecord(t, file, line, NULL, fmt, ap);
    va_end(ap);
}

void it_check_failed(it_ctx_t *t, const char *file, int line, const char *expr,
                     const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    it_vrecord(t, file, line, expr, fmt, ap);
    va_end(ap);
}

void it_note(it_ctx_t *t, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(t->note, sizeof t->note, fmt, ap);
    va_end(ap);
}

/* --- time and files ------------------------------------------------------ */

bool it_sanitized(void)
{
    return it_env.sanitized;
}

const char *it_bin_dir(void)
{
    return it_env.bin_dir;
}

uint64_t it_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void it_sleep_ms(unsigned ms)
{
    struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L };
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

bool it_wait_until(bool (*cond)(void *ctx), void *ctx, int deadline_ms)
{
    uint64_t end = it_now_ms() + (uint64_t)deadline_ms;
    for (;;) {
        if (cond(ctx))
            return true;
        if (it_now_ms() >= end)
            return false;
        it_sleep_ms(IT_POLL_MS);
    }
}

void it_path(const it_ctx_t *t, char *out, const char *name)
{
    out[0] = '\0';
    it_append(out, IT_PATH_LEN, "%s/%s", t->dir, name);
}

bool it_write_file(it_ctx_t *t, const char *path, const char *text, unsigned mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, (mode_t)mode);
    if (fd < 0) {
        it_note(t, "cannot create %s: %s", path, strerror(errno));
        return false;
    }
    bool ok = it_send_all(fd, text, strlen(text));
    if (fchmod(fd, (mode_t)mode) != 0)
        ok = false;
    close(fd);
    if (!ok)
        it_note(t, "cannot write %s: %s", path, strerror(errno));
    return ok;
}

char *it_read_file(const char *path, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    for (;;) {
        if (!buf)
            break;
        if (n + 1 >= cap) {
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
        ssize_t r = read(fd, buf + n, cap - n - 1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        n += (size_t)r;
    }
    close(fd);
    if (buf) {
        buf[n] = '\0';
        if (len)
            *len = n;
    }
    return buf;
}

/* rm -rf of the temp dir; it never holds anything but our files. */
static void it_remove_tree(const char *path)
{
    DIR *d = opendir(path);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
                continue;
            char sub[IT_PATH_LEN * 2];
            snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
            struct stat st;
            if (lstat(sub, &st) == 0 && S_ISDIR(st.st_mode))
                it_remove_tree(sub);
            else
                unlink(sub);
        }
        closedir(d);
    }
    rmdir(path);
}

/* --- the runner ----------------------------------------------------------- */

/* Prints the last `lines` lines of a file, indented. */
static void it_print_tail(const char *title, const char *path, int lines)
{
    char *text = it_read_file(path, NULL);
    printf("  --- %s (%s), last %d lines:\n", title, path, lines);
    if (!text) {
        printf("    (unreadable)\n");
        return;
    }
    size_t len = strlen(text);
    const char *start = text + len;
    int seen = 0;
    if (start > text && start[-1] == '\n')
        start--;
    while (start > text) {
        if (start[-1] == '\n' && ++seen == lines)
            break;
        start--;
    }
    for (const char *s = start; *s;) {
        const char *nl = strchr(s, '\n');
        int n = nl ? (int)(nl - s) : (int)strlen(s);
        printf("    | %.*s\n", n, s);
        s += n + (nl ? 1 : 0);
    }
    free(text);
}

/* One line: newlines of a failure message become " | ". */
static void it_print_one_line(const char *s)
{
    for (; *s; s++) {
        if (*s == '\n') {
            if (s[1])
                fputs(" | ", stdout);
        } else {
            putchar(*s);
        }
    }
}

static bool it_run_test(const it_test_t *test)
{
    it_ctx_t *t = calloc(1, sizeof *t);
    if (!t) {
        printf("FAIL %s: out of memory\n", test->name);
        return false;
    }
    t->test_name = test->name;
    const char *tmp = getenv("TMPDIR");
    if (!tmp || !*tmp)
        tmp = "/tmp";
    snprintf(t->dir, sizeof t->dir, "%s/sluice-it-%s-XXXXXX", tmp, test->name);
    if (!mkdtemp(t->dir)) {
        printf("FAIL %s: mkdtemp %s: %s\n", test->name, t->dir, strerror(errno));
        free(t);
        return false;
    }
    uint64_t start = it_now_ms();
    test->fn(t);
    it_procs_finish(t);
    uint64_t took = it_now_ms() - start;
    bool ok = !t->failed;
    if (ok) {
        printf("PASS %s\n", test->name);
        if (it_env.keep)
            printf("  temp dir kept (SLUICE_IT_KEEP): %s\n", t->dir);
        else
            it_remove_tree(t->dir);
    } else {
        printf("FAIL %s: ", test->name);
        it_print_one_line(t->fail_msg);
        putchar('\n');
        printf("  test took %llu ms; temp dir kept: %s\n", (unsigned long long)took, t->dir);
        for (size_t i = 0; i < t->nprocs; i++) {
            char desc[96], title[160];
            snprintf(title, sizeof title, "%s [pid %d, %s]", t->procs[i].name,
                     (int)t->procs[i].pid, it_proc_describe(&t->procs[i], desc, sizeof desc));
            it_print_tail(title, t->procs[i].log_path, 30);
        }
    }
    it_procs_release(t);
    fflush(stdout);
    free(t);
    return ok;
}

static const it_test_t *it_find_test(const char *name)
{
    for (size_t i = 0; i < it_ntests; i++)
        if (!strcmp(it_tests[i].name, name))
            return &it_tests[i];
    return NULL;
}

static void it_usage(FILE *f)
{
    fprintf(f, "usage: integration_tests [--list] [test-name...]\n"
               "environment: SLUICE_BIN_DIR (default: build) holds sluice-master, sluice-worker\n"
               "and sluice; SLUICE_SANITIZED=1 when they are ASan/UBSan builds;\n"
               "SLUICE_IT_KEEP=1 keeps the temp dirs of passing tests too.\n");
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGPIPE, SIG_IGN);
    it_env.bin_dir = getenv("SLUICE_BIN_DIR");
    if (!it_env.bin_dir || !*it_env.bin_dir)
        it_env.bin_dir = "build";
    const char *san = getenv("SLUICE_SANITIZED");
    it_env.sanitized = san && *san && strcmp(san, "0") != 0;
    const char *keep = getenv("SLUICE_IT_KEEP");
    it_env.keep = keep && *keep && strcmp(keep, "0") != 0;
    if (it_env.sanitized) {
        setenv("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0", 1);
        setenv("UBSAN_OPTIONS", "print_stacktrace=1", 1);
    }

    const it_test_t **selected = calloc(it_ntests + (size_t)argc, sizeof *selected);
    size_t nsel = 0;
    if (!selected)
        return 1;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            it_usage(stdout);
            free(selected);
            return 0;
        }
        if (!strcmp(argv[i], "--list")) {
            for (size_t k = 0; k < it_ntests; k++)
                printf("%-20s %s\n", it_tests[k].name, it_tests[k].what);
            free(selected);
            return 0;
        }
        const it_test_t *test = it_find_test(argv[i]);
        if (!test) {
            fprintf(stderr, "integration_tests: no test named '%s' (see --list)\n", argv[i]);
            free(selected);
            return 2;
        }
        selected[nsel++] = test;
    }
    if (nsel == 0)
        for (size_t k = 0; k < it_ntests; k++)
            selected[nsel++] = &it_tests[k];

    unsigned passed = 0, failed = 0;
    for (size_t i = 0; i < nsel; i++) {
        if (it_run_test(selected[i]))
            passed++;
        else
            failed++;
    }
    free(selected);
    printf("%u passed, %u failed\n", passed, failed);
    return failed ? 1 : 0;
}

