/* The integration-test harness core: the table of tests, the per-test
 * context (temp dir, the processes it started, the first failure), checks
 * that record file:line and end the test, and waits that poll a condition
 * against a deadline. Processes are in proc.h, sockets in net.h; main() in
 * harness.c runs the tests one after another.
 *
 * Ownership: everything a test starts or creates through it_ctx_t
 * (processes, files in the temp dir) is released by the runner after the
 * test returns, pass or fail; strings returned by it_read_file() and it_run()
 * are the caller's to free. */
#ifndef SL_IT_HARNESS_H
#define SL_IT_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Deadline for anything the system under test must do "soon". Generous: the
 * suite has to pass on a loaded 2-core machine and under ASan. */
#define IT_DEADLINE_MS 20000
/* Deadline for one CLI invocation. */
#define IT_CLI_DEADLINE_MS 20000
/* How often conditions are polled. */
#define IT_POLL_MS 100

#define IT_MAX_PROCS 16
#define IT_MAX_ARGS 48
#define IT_ADDR_LEN 64
#define IT_PATH_LEN 512
#define IT_MSG_LEN 2048

/* One process started by the test. */
typedef struct {
    char name[48];              /* unique in the test: "master", "worker1", "worker1.2" */
    char prog[64];              /* binary name under SLUICE_BIN_DIR */
    char log_path[IT_PATH_LEN]; /* its stdout+stderr */
    char *argv[IT_MAX_ARGS];    /* owned copies, argv[0] = prog, NULL-terminated */
    pid_t pid;
    bool reaped;                /* waited for: wstatus is valid */
    int wstatus;
    bool may_die;               /* the test killed it or expects it to exit */
    bool stopped;               /* SIGSTOP sent and not yet SIGCONT */
} it_proc_t;

typedef struct {
    const char *test_name;
    char dir[IT_PATH_LEN];      /* the test's temp dir */
    bool failed;
    char fail_msg[IT_MSG_LEN];  /* first failure: "file:line: ..." */
    char note[IT_MSG_LEN];      /* detail left by the last helper that failed */
    it_proc_t procs[IT_MAX_PROCS];
    size_t nprocs;
    unsigned runs;              /* CLI runs so far, to name their output files */
} it_ctx_t;

typedef void (*it_test_fn)(it_ctx_t *t);

typedef struct {
    const char *name;
    it_test_fn fn;
    const char *what;           /* one line for --list */
} it_test_t;

/* The table of all tests, in tests.c. */
extern const it_test_t it_tests[];
extern const size_t it_ntests;

/* --- failing ------------------------------------------------------------- */

/* Records the first failure of the test (later ones are ignored). */
void it_fail_at(it_ctx_t *t, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Leaves a detail for the next failing check to show (helpers call this). */
void it_note(it_ctx_t *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Fails the test and returns from the (void) test function unless `cond`. */
#define IT_CHECK(t, cond, ...)                                          \
    do {                                                                \
        if (!(cond)) {                                                  \
            it_check_failed((t), __FILE__, __LINE__, #cond, __VA_ARGS__); \
            return;                                                     \
        }                                                               \
        (t)->note[0] = '\0';                                            \
    } while (0)

#define IT_FAIL(t, ...)                                    \
    do {                                                   \
        it_check_failed((t), __FILE__, __LINE__, NULL, __VA_ARGS__); \
        return;                                            \
    } while (0)

/* Integer equality with both values in the message. */
#define IT_CHECK_EQ(t, a, b, what)                                                   \
    do {                                                                             \
        long long it_a_ = (long long)(a), it_b_ = (long long)(b);                    \
        IT_CHECK(t, it_a_ == it_b_, "%s: got %lld, want %lld", (what), it_a_, it_b_); \
    } while (0)

/* `hay` (may be NULL) contains `needle`. */
#define IT_CHECK_CONTAINS(t, hay, needle, what)                                   \
    do {                                                                          \
        const char *it_h_ = (hay);                                                \
        IT_CHECK(t, it_h_ != NULL && strstr(it_h_, (needle)) != NULL,             \
                 "%s: '%s' does not contain '%s'", (what), it_h_ ? it_h_ : "(null)", \
                 (needle));                                                       \
    } while (0)

void it_check_failed(it_ctx_t *t, const char *file, int line, const char *expr,
                     const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* --- environment ----------------------------------------------------------- */

/* $SLUICE_SANITIZED=1: the binaries are ASan/UBSan builds. */
bool it_sanitized(void);
/* $SLUICE_BIN_DIR: where sluice-master, sluice-worker and sluice are. */
const char *it_bin_dir(void);
uint64_t it_now_ms(void);
/* Sleeps `ms` (polling only, never for correctness). */
void it_sleep_ms(unsigned ms);

/* Polls cond(ctx) every IT_POLL_MS until it returns true (then true) or the
 * deadline passes (then false, after one last try). */
bool it_wait_until(bool (*cond)(void *ctx), void *ctx, int deadline_ms);

/* "DIR/name" into out (IT_PATH_LEN bytes). */
void it_path(const it_ctx_t *t, char *out, const char *name);
/* Writes `text` to path with `mode`. */
bool it_write_file(it_ctx_t *t, const char *path, const char *text, unsigned mode);
/* The whole file, NUL-terminated; caller frees. NULL if unreadable. */
char *it_read_file(const char *path, size_t *len /* OUT, may be NULL */);

#endif
