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

typedef struct {
    char listen[IT_ADDR_LEN];       /* "" before it_master_start: a free port is chosen */
    char http[IT_ADDR_LEN];         /* same */
    char worker_timeout[16];        /* "" : "2s" */
    char clock[16];                 /* --clock: "" : the master's default (wall) */
    char secret_file[IT_PATH_LEN];  /* "" : none */
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

/* Starts sluice-master (name "master") and waits until both its ports
 * accept connections. */
bool it_master_start(it_ctx_t *t, it_master_t *m);
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
/* Waits until every worker in ws[0..n) is listed alive. */
bool it_wait_alive(it_ctx_t *t, const it_master_t *m, const char *secret_file,
                   it_worker_t *const ws[], size_t n, int deadline_ms);

/* GET path over HTTP/1.0; *code is the status code, *body the body
 * (malloc'ed, caller frees). False with a note on a transport error. */
bool it_http_get(it_ctx_t *t, const char *addr, const char *path, int *code /* OUT */,
                 char **body /* OUT */);

#endif
