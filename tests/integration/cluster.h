/* Sluice-specific helpers on top of the harness: starting a master and
 * workers with the usual flags, reading the cluster status through
 * `sluice status --json` (shape-checked on every read), waiting for a status
 * condition, and raw HTTP/1.0 GETs against the master's HTTP port. */
#ifndef SL_IT_CLUSTER_H
#define SL_IT_CLUSTER_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include "harness.h"
#include "net.h"
#include "proc.h"

#define IT_MASTER_MAX_ENV 4

/* A master's cluster-mode settings, all optional: zeroed, the master runs
 * without a checkpoint, as before cluster mode. */
typedef struct {
    char checkpoint_dir[IT_PATH_LEN];   /* --checkpoint-dir; "" : none */
    char lease_timeout[16];             /* --lease-timeout; "" : the master's default (5s) */
    char recovery_wait[16];             /* --recovery-wait; "" : the master's default (10s) */
    char stop_timeout[16];              /* --stop-timeout; "" : the master's default */
    bool wal;                           /* --wal */
    /* "NAME=value" set in the master's environment (e.g.
     * "SLUICE_CKPT_CRASH_AT=12"); "" : unused. A supervised master keeps
     * them across its restarts. */
    char env[IT_MASTER_MAX_ENV][64];
    /* Run the master under deploy/sluice-supervise (found next to
     * SLUICE_BIN_DIR or in the current directory), which starts it again
     * whenever it ends and writes its pid to it_master_t.pidfile. */
    bool supervised;
    char supervise_delay[16];           /* the supervisor's --delay; "" : "0.2" */
    /* A file of NAME=value lines (may be empty) that /bin/sh reads into the
     * master's environment and then empties, each time the master starts:
     * what a test writes there applies to the next start only (a
     * supervised master's restarts after it get an empty file unless the
     * test writes it again). ""  : none. */
    char env_file[IT_PATH_LEN];
} it_master_cm_t;

typedef struct {
    char name[32];                  /* the process name; "" : "master" */
    char listen[IT_ADDR_LEN];       /* "" before it_master_start: a free port is chosen */
    char http[IT_ADDR_LEN];         /* same */
    char worker_timeout[16];        /* "" : "2s" */
    char clock[16];                 /* --clock: "" : the master's default (wall) */
    char secret_file[IT_PATH_LEN];  /* "" : none */
    it_master_cm_t cm;              /* cluster mode; zeroed: none */
    char pidfile[IT_PATH_LEN];      /* supervised: DIR/<proc name>.pid, set at the start */
    /* The master process, or under cm.supervised the supervisor (whose log
     * holds the master's output too): it_master_pid() gives the master. */
    it_proc_t *proc;
} it_master_t;

typedef struct {
    char listen[IT_ADDR_LEN];       /* "" : a free port */
    char id[128];                   /* the id the worker should get: worker-HOST-PORT */
    char masters[3 * IT_ADDR_LEN];  /* --master value */
    unsigned cores;
    char memory[16];                /* --memory value, e.g. "512M" */
    uint64_t memory_bytes;          /* what it means */
    char secret_file[IT_PATH_LEN];  /* "" : none */
    it_proc_t *proc;
} it_worker_t;

/* Appends "flag value" to args[*n..] when value is set (not NULL or ""). */
void it_arg_opt(const char *args[], size_t *n, const char *flag, const char *value);

/* Starts sluice-master (named m->name, by default "master") and waits
 * until both its ports accept connections. Again on the same it_master_t: a
 * new master on the same ports with the settings m holds now (m->cm.env may
 * have changed). */
bool it_master_start(it_ctx_t *t, it_master_t *m);
/* Starts it like it_master_start but does not wait (for a master that is
 * expected to exit at once, e.g. on a damaged checkpoint). */
it_proc_t *it_master_spawn(it_ctx_t *t, it_master_t *m);

/* --- cluster mode ------------------------------------------------------------ */

/* The running master's pid: m->proc's, or under the supervisor the one its
 * pid file names. 0 with a note (t may be NULL: none) when there is none. */
pid_t it_master_pid(it_ctx_t *t, const it_master_t *m);
/* Whether a process with this pid runs (a zombie does not). */
bool it_pid_running(pid_t pid);
/* Whether it runs sluice-master (exec'd: past a supervisor's fork and the
 * shell that reads cm.env_file). */
bool it_pid_runs_master(pid_t pid);
/* Supervised: waits until the pid file names a live process other than
 * `old` (0: any) that runs sluice-master (so it has read cm.env_file);
 * its pid goes to *pid. */
bool it_master_wait_restarted(it_ctx_t *t, const it_master_t *m, pid_t old, pid_t *pid /* OUT */,
                              int deadline_ms);
/* Waits until the master answers `sluice status` as the active master with
 * its recovery over (a standby refuses the status request). */
bool it_master_wait_active(it_ctx_t *t, const it_master_t *m, int deadline_ms);
/* Ends a supervised master: SIGTERM to the supervisor, which stops the
 * master and must exit 0 within IT_DEADLINE_MS; the master must be gone
 * then. Fails the test otherwise (killing both). A no-op when m is not
 * supervised or was never started; safe to call after a failure, and
 * needed even then: the runner's SIGKILL of a supervisor would leave the
 * master running. */
void it_master_stop_supervised(it_ctx_t *t, it_master_t *m);
/* Starts sluice-worker `name` against w->masters (or the given master when
 * w->masters is empty) with --cores/--memory/--work-dir; does not wait. */
bool it_worker_start(it_ctx_t *t, it_worker_t *w, const char *name, const it_master_t *m);

/* `sluice --master M [--secret-file F] status --json`, exit 0 and a
 * well-formed status required. Caller json_decref()s. NULL with a note
 * otherwise; *bad_shape (may be NULL) is set when the command succeeded but
 * its output is not the documented JSON. */
json_t *it_status(it_ctx_t *t, const it_master_t *m, const char *secret_file, bool *bad_shape);
/* Checks the documented shape; false with `why` (IT_MSG_LEN) filled. */
bool it_status_shape_ok(const json_t *st, char *why);
/* The cluster-mode object of a status ("master_info", borrowed), or NULL. */
json_t *it_master_info(const json_t *st);
/* Checks its documented fields and their types; false with `why`
 * (IT_MSG_LEN) filled. */
bool it_master_info_ok(const json_t *st, char *why);
/* GET /api/v1/cluster of the master, which a standby answers too: HTTP 200
 * and a well-formed status, with a well-formed "master_info" when the
 * master has a checkpoint dir. Caller json_decref()s; NULL with a note. */
json_t *it_http_status(it_ctx_t *t, const it_master_t *m);

/* The worker object with this id (borrowed from st), or NULL. */
json_t *it_status_worker(const json_t *st, const char *id);
const char *it_jstr(const json_t *obj, const char *key);      /* "" when absent */
long long it_jint(const json_t *obj, const char *key);        /* -1 when absent */
/* True when st lists `id` with state `state` ("alive"/"dead"). */
bool it_worker_in_state(const json_t *st, const char *id, const char *state);

typedef bool (*it_status_pred)(const json_t *st, void *arg);
/* Reads the status every IT_POLL_MS until pred(st, arg) holds; returns that
 * status (caller decrefs), or NULL with a note holding the last status or
 * error once the deadline passed. */
json_t *it_wait_status(it_ctx_t *t, const it_master_t *m, const char *secret_file,
                       it_status_pred pred, void *arg, int deadline_ms);
/* it_wait_status over it_http_status (a standby's status too). Unlike
 * it_wait_status it goes on polling after a malformed status, as after any
 * failed read; the note of the last one stays in the final note. */
json_t *it_wait_http_status(it_ctx_t *t, const it_master_t *m, it_status_pred pred, void *arg,
                            int deadline_ms);
/* Waits until every worker in ws[0..n) is listed alive. */
bool it_wait_alive(it_ctx_t *t, const it_master_t *m, const char *secret_file,
                   it_worker_t *const ws[], size_t n, int deadline_ms);

/* GET path over HTTP/1.0; *code is the status code, *body the body
 * (malloc'ed, caller frees). False with a note on a transport error. */
bool it_http_get(it_ctx_t *t, const char *addr, const char *path, int *code /* OUT */,
                 char **body /* OUT */);

#endif
