/* Processes started by a test (see harness.h for it_proc_t): daemons with a
 * log file each, one-shot commands with captured output, and the runner's
 * end-of-test stop-and-check. */
#ifndef SL_IT_PROC_H
#define SL_IT_PROC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "harness.h"

/* --- processes -------------------------------------------------------------- */

/* Starts $SLUICE_BIN_DIR/prog with `args` (NULL-terminated, argv[0] excluded;
 * copied) and stdout+stderr appended to DIR/<name>.log. The name gets a
 * ".2", ".3" suffix when already used in this test. NULL (with a note) when
 * the process could not be started. */
it_proc_t *it_spawn(it_ctx_t *t, const char *name, const char *prog, const char *const args[]);
/* Starts the same command line as `old` again (old must have exited). */
it_proc_t *it_respawn(it_ctx_t *t, const it_proc_t *old);

/* True while the process runs (reaps it when it has exited). */
bool it_proc_alive(it_proc_t *p);
/* Sends a signal. SIGKILL, SIGTERM and SIGINT mark an exit as expected;
 * SIGSTOP/SIGCONT are remembered so the end of the test can wake it up. */
bool it_proc_signal(it_ctx_t *t, it_proc_t *p, int sig);
/* SIGKILL and reap. */
bool it_proc_kill9(it_ctx_t *t, it_proc_t *p);
/* Waits for the process to exit within deadline_ms; false (with a note) if
 * it still runs. Marks the exit as expected. */
bool it_proc_wait_exit(it_ctx_t *t, it_proc_t *p, int deadline_ms);
/* Exit code of a reaped process; -1 when it was killed by a signal or is
 * still running. */
int it_proc_exit_code(const it_proc_t *p);
/* "exit 3", "signal 9 (Killed)", "running". */
const char *it_proc_describe(const it_proc_t *p, char *buf, size_t len);

/* Whether the process's log contains `needle`; with `also` (may be NULL), a
 * single line must contain both. */
bool it_log_has(const it_proc_t *p, const char *needle, const char *also);
/* Number of lines of the log containing `needle`. */
size_t it_log_count(const it_proc_t *p, const char *needle);
/* Waits until at least `count` lines of the log contain `needle`. */
bool it_wait_log(it_ctx_t *t, const it_proc_t *p, const char *needle, size_t count,
                 int deadline_ms);

/* --- one-shot commands ------------------------------------------------------ */

typedef struct {
    int exit_code;              /* -1: killed by a signal or by the deadline */
    bool timed_out;
    char *out;                  /* captured stdout, NUL-terminated */
    char *err;                  /* captured stderr */
    uint64_t elapsed_ms;
} it_run_t;

/* Runs $SLUICE_BIN_DIR/prog with args, waits up to deadline_ms (then kills
 * it), and captures its output. `env` (may be NULL) is a NULL-terminated list
 * of "NAME=value" to set or "NAME" to unset; SLUICE_MASTER is always unset
 * first so the caller's environment cannot leak in. False only when the
 * command could not be run at all; a timeout is reported in r->timed_out.
 * Under SLUICE_SANITIZED a sanitizer report on its stderr fails the test.
 * Free r with it_run_free(). */
bool it_run(it_ctx_t *t, it_run_t *r /* OUT */, const char *const env[], int deadline_ms,
            const char *prog, const char *const args[]);
void it_run_free(it_run_t *r);
/* Number of lines in s ("a\n" and "a" are 1, "" is 0). */
size_t it_count_lines(const char *s);

/* --- end of test (the runner) ---------------------------------------------- */

/* Stops every process the test left running and checks how each ended: an
 * exit the test did not ask for fails the test; in sanitized runs each must
 * exit 0 on SIGTERM within IT_DEADLINE_MS and no log may hold a sanitizer
 * report; otherwise they are SIGKILLed. All are reaped. */
void it_procs_finish(it_ctx_t *t);
/* Frees what the process table owns. */
void it_procs_release(it_ctx_t *t);

#endif
