/* Starting Sluice daemons for a test, reading and waiting on the cluster
 * status, and raw HTTP GETs. See cluster.h. */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "cluster.h"

/* Sets the "NAME=value" entries of env in this process's environment and
 * saves what they replace in old[] (NULL: unset), for it_env_restore. The
 * runner is single-threaded and a spawned child inherits the environment. */
static void it_env_apply(char env[][64], size_t n, char *old[])
{
    for (size_t i = 0; i < n; i++) {
        old[i] = NULL;
        const char *eq = strchr(env[i], '=');
        if (!env[i][0] || !eq)
            continue;
        char name[64];
        snprintf(name, sizeof name, "%.*s", (int)(eq - env[i]), env[i]);
        const char *cur = getenv(name);
        old[i] = cur ? strdup(cur) : NULL;
        setenv(name, eq + 1, 1);
    }
}

static void it_env_restore(char env[][64], size_t n, char *old[])
{
    for (size_t i = 0; i < n; i++) {
        const char *eq = strchr(env[i], '=');
        if (!env[i][0] || !eq)
            continue;
        char name[64];
        snprintf(name, sizeof name, "%.*s", (int)(eq - env[i]), env[i]);
        if (old[i])
            setenv(name, old[i], 1);
        else
            unsetenv(name);
        free(old[i]);
    }
}

/* Number of components of an absolute path ("/a/b" is 2). */
static size_t it_path_depth(const char *abs)
{
    size_t n = 0;
    for (const char *p = abs; *p; p++)
        if (*p != '/' && (p == abs || p[-1] == '/'))
            n++;
    return n;
}

/* `abs` (an absolute path) as a path relative to SLUICE_BIN_DIR, for
 * it_spawn, which runs BIN/prog: "../../..<abs>". */
static bool it_bin_relative(it_ctx_t *t, const char *abs, char *out /* IT_PATH_LEN */)
{
    char bin[PATH_MAX];
    if (!realpath(it_bin_dir(), bin)) {
        it_note(t, "SLUICE_BIN_DIR %s: %s", it_bin_dir(), strerror(errno));
        return false;
    }
    out[0] = '\0';
    for (size_t d = it_path_depth(bin); d > 0; d--)
        strncat(out, "../", IT_PATH_LEN - strlen(out) - 1);
    strncat(out, abs + 1, IT_PATH_LEN - strlen(out) - 1);
    if (strlen(out) + 1 >= IT_PATH_LEN) {
        it_note(t, "path too long: %s", out);
        return false;
    }
    return true;
}

/* deploy/sluice-supervise, looked for next to SLUICE_BIN_DIR (BIN/..) and
 * then in the current directory, relative to SLUICE_BIN_DIR. */
static bool it_supervise_prog(it_ctx_t *t, char *out /* IT_PATH_LEN */)
{
    char cand[2][IT_PATH_LEN], real[PATH_MAX];
    snprintf(cand[0], IT_PATH_LEN, "%s/../deploy/sluice-supervise", it_bin_dir());
    snprintf(cand[1], IT_PATH_LEN, "deploy/sluice-supervise");
    for (size_t i = 0; i < 2; i++)
        if (access(cand[i], X_OK) == 0 && realpath(cand[i], real))
            return it_bin_relative(t, real, out);
    it_note(t, "no executable deploy/sluice-supervise in %s/.. or in the current directory",
            it_bin_dir());
    return false;
}

void it_arg_opt(const char *args[], size_t *n, const char *flag, const char *value)
{
    if (value && value[0]) {
        args[(*n)++] = flag;
        args[(*n)++] = value;
    }
}

/* Reads the environment file and empties it, then runs the rest of its
 * arguments. */
static const char it_env_wrapper[] = "set -a; . \"$0\" && : >\"$0\" && exec \"$@\"";

it_proc_t *it_master_spawn(it_ctx_t *t, it_master_t *m)
{
    if (!m->listen[0] && !it_free_addr(t, m->listen))
        return NULL;
    if (!m->http[0] && !it_free_addr(t, m->http))
        return NULL;
    if (!m->worker_timeout[0])
        snprintf(m->worker_timeout, sizeof m->worker_timeout, "2s");
    const it_master_cm_t *cm = &m->cm;
    const char *base = m->name[0] ? m->name : "master";
    char master_bin[PATH_MAX], prog[IT_PATH_LEN], rel[IT_PATH_LEN];
    const char *args[40];
    size_t n = 0;
    snprintf(prog, sizeof prog, "sluice-master");
    if (cm->supervised || cm->env_file[0]) {
        snprintf(rel, sizeof rel, "%s/sluice-master", it_bin_dir());
        if (!realpath(rel, master_bin)) {
            it_note(t, "%s: %s", rel, strerror(errno));
            return NULL;
        }
    }
    if (cm->supervised) {
        if (!it_supervise_prog(t, prog))
            return NULL;
        /* Named like the process it_spawn will create: master, master.2, ... */
        char name[64];
        snprintf(name, sizeof name, "%s", base);
        for (int k = 2;; k++) {
            bool used = false;
            for (size_t i = 0; i < t->nprocs; i++)
                used |= !strcmp(t->procs[i].name, name);
            if (!used)
                break;
            snprintf(name, sizeof name, "%s.%d", base, k);
        }
        strncat(name, ".pid", sizeof name - strlen(name) - 1);
        it_path(t, m->pidfile, name);
        args[n++] = "--pidfile";
        args[n++] = m->pidfile;
        args[n++] = "--delay";
        args[n++] = cm->supervise_delay[0] ? cm->supervise_delay : "0.2";
        args[n++] = "--";
        if (cm->env_file[0]) {
            args[n++] = "/bin/sh";
            args[n++] = "-c";
            args[n++] = it_env_wrapper;
            args[n++] = cm->env_file;
        }
        args[n++] = master_bin;
    } else if (cm->env_file[0]) {
        if (!it_bin_relative(t, "/bin/sh", prog))
            return NULL;
        args[n++] = "-c";
        args[n++] = it_env_wrapper;
        args[n++] = cm->env_file;
        args[n++] = master_bin;
    }
    args[n++] = "--listen";
    args[n++] = m->listen;
    args[n++] = "--http";
    args[n++] = m->http;
    args[n++] = "--worker-timeout";
    args[n++] = m->worker_timeout;
    it_arg_opt(args, &n, "--clock", m->clock);
    it_arg_opt(args, &n, "--secret-file", m->secret_file);
    it_arg_opt(args, &n, "--checkpoint-dir", cm->checkpoint_dir);
    it_arg_opt(args, &n, "--lease-timeout", cm->lease_timeout);
    it_arg_opt(args, &n, "--recovery-wait", cm->recovery_wait);
    it_arg_opt(args, &n, "--stop-timeout", cm->stop_timeout);
    if (cm->wal)
        args[n++] = "--wal";
    args[n] = NULL;
    char *old[IT_MASTER_MAX_ENV];
    it_env_apply(m->cm.env, IT_MASTER_MAX_ENV, old);
    m->proc = it_spawn(t, base, prog, args);
    it_env_restore(m->cm.env, IT_MASTER_MAX_ENV, old);
    return m->proc;
}

bool it_master_start(it_ctx_t *t, it_master_t *m)
{
    if (!it_master_spawn(t, m))
        return false;
    return it_wait_listening(t, m->listen, IT_DEADLINE_MS) &&
           it_wait_listening(t, m->http, IT_DEADLINE_MS);
}

/* --- cluster mode ------------------------------------------------------------ */

/* The pid in a supervisor's pid file, 0 when there is none (yet). */
static pid_t it_pidfile_read(const char *path)
{
    char *text = it_read_file(path, NULL);
    long v = 0;
    char end = 0;
    if (!text || sscanf(text, "%ld%c", &v, &end) != 2 || end != '\n' || v <= 0)
        v = 0;
    free(text);
    return (pid_t)v;
}

bool it_pid_running(pid_t pid)
{
    if (pid <= 0 || (kill(pid, 0) != 0 && errno != EPERM))
        return false;
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    char *stat = it_read_file(path, NULL);
    const char *paren = stat ? strrchr(stat, ')') : NULL;
    bool zombie = paren && (paren[1] == ' ' && (paren[2] == 'Z' || paren[2] == 'X'));
    free(stat);
    return !zombie;
}

pid_t it_master_pid(it_ctx_t *t, const it_master_t *m)
{
    if (!m->proc) {
        if (t)
            it_note(t, "the master was not started");
        return 0;
    }
    if (!m->cm.supervised)
        return m->proc->pid;
    pid_t pid = it_pidfile_read(m->pidfile);
    if (!pid && t)
        it_note(t, "%s names no pid", m->pidfile);
    return pid;
}

typedef struct {
    const it_master_t *m;
    pid_t old, seen;
} it_restart_wait_t;

bool it_pid_runs_master(pid_t pid)
{
    if (!it_pid_running(pid))
        return false;
    char link[64], exe[PATH_MAX];
    snprintf(link, sizeof link, "/proc/%d/exe", (int)pid);
    ssize_t n = readlink(link, exe, sizeof exe - 1);
    if (n <= 0)
        return false;
    exe[n] = '\0';
    return strstr(exe, "/sluice-master") != NULL;
}

static bool it_restarted_cond(void *arg)
{
    it_restart_wait_t *w = arg;
    w->seen = it_pidfile_read(w->m->pidfile);
    return w->seen && w->seen != w->old && it_pid_runs_master(w->seen);
}

bool it_master_wait_restarted(it_ctx_t *t, const it_master_t *m, pid_t old, pid_t *pid,
                              int deadline_ms)
{
    it_restart_wait_t w = { m, old, 0 };
    *pid = 0;
    if (!m->cm.supervised || !m->proc) {
        it_note(t, "the master does not run under the supervisor");
        return false;
    }
    if (it_wait_until(it_restarted_cond, &w, deadline_ms)) {
        *pid = w.seen;
        return true;
    }
    it_note(t, "the supervisor started no new master within %d ms: %s names %d (the old one "
            "was %d)%s", deadline_ms, m->pidfile, (int)w.seen, (int)old,
            it_proc_alive(m->proc) ? "" : "; the supervisor exited");
    return false;
}

/* Status of an active master whose recovery is over. A status without
 * "master_info" comes from a master without cluster mode: answering at all
 * makes it active. */
static bool it_active_pred(const json_t *st, void *arg)
{
    const it_master_t *m = arg;
    json_t *mi = it_master_info(st);
    if (!mi)
        return !m->cm.checkpoint_dir[0];
    return json_is_true(json_object_get(mi, "active")) &&
           json_is_false(json_object_get(mi, "recovering"));
}

bool it_master_wait_active(it_ctx_t *t, const it_master_t *m, int deadline_ms)
{
    json_t *st = it_wait_status(t, m, m->secret_file, it_active_pred, (void *)m, deadline_ms);
    json_decref(st);
    return st != NULL;
}

void it_master_stop_supervised(it_ctx_t *t, it_master_t *m)
{
    if (!m->cm.supervised || !m->proc)
        return;
    it_proc_t *sup = m->proc;
    pid_t child = it_pidfile_read(m->pidfile);
    char desc[96];
    if (it_proc_alive(sup)) {
        it_proc_signal(t, sup, SIGTERM);
        if (!it_proc_wait_exit(t, sup, IT_DEADLINE_MS)) {
            it_fail_at(t, __FILE__, __LINE__, "the supervisor still runs %d ms after SIGTERM",
                       IT_DEADLINE_MS);
            kill(sup->pid, SIGKILL);
            it_proc_wait_exit(t, sup, IT_DEADLINE_MS);
        } else if (it_proc_exit_code(sup) != 0) {
            it_fail_at(t, __FILE__, __LINE__, "the supervisor ended with %s after SIGTERM, want "
                       "exit 0", it_proc_describe(sup, desc, sizeof desc));
        }
    } else {
        sup->may_die = true;
        it_fail_at(t, __FILE__, __LINE__, "the supervisor exited during the test (%s)",
                   it_proc_describe(sup, desc, sizeof desc));
    }
    /* Its master must be gone with it; never leave one behind. */
    uint64_t end = it_now_ms() + IT_DEADLINE_MS;
    while (it_pid_running(child) && it_now_ms() < end)
        it_sleep_ms(20);
    if (it_pid_running(child)) {
        it_fail_at(t, __FILE__, __LINE__, "master pid %d still runs after its supervisor ended",
                   (int)child);
        kill(child, SIGKILL);
    }
}

bool it_worker_start(it_ctx_t *t, it_worker_t *w, const char *name, const it_master_t *m)
{
    if (!w->listen[0]) {
        if (!it_free_addr(t, w->listen))
            return false;
    }
    const char *colon = strrchr(w->listen, ':');
    snprintf(w->id, sizeof w->id, "worker-%.*s-%s", (int)(colon - w->listen), w->listen,
             colon + 1);
    if (!w->masters[0])
        snprintf(w->masters, sizeof w->masters, "%s", m->listen);
    char cores[16], workdir[IT_PATH_LEN], dname[96];
    snprintf(cores, sizeof cores, "%u", w->cores);
    snprintf(dname, sizeof dname, "%s-work", name);
    it_path(t, workdir, dname);
    mkdir(workdir, 0755);
    const char *args[20];
    size_t n = 0;
    args[n++] = "--master";
    args[n++] = w->masters;
    args[n++] = "--listen";
    args[n++] = w->listen;
    args[n++] = "--cores";
    args[n++] = cores;
    args[n++] = "--memory";
    args[n++] = w->memory;
    args[n++] = "--work-dir";
    args[n++] = workdir;
    if (w->secret_file[0]) {
        args[n++] = "--secret-file";
        args[n++] = w->secret_file;
    }
    args[n] = NULL;
    w->proc = it_spawn(t, name, "sluice-worker", args);
    return w->proc != NULL;
}

/* --- status --------------------------------------------------------------- */

const char *it_jstr(const json_t *obj, const char *key)
{
    const char *s = json_string_value(json_object_get(obj, key));
    return s ? s : "";
}

long long it_jint(const json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    return json_is_integer(v) ? (long long)json_integer_value(v) : -1;
}

json_t *it_status_worker(const json_t *st, const char *id)
{
    json_t *ws = json_object_get(st, "workers");
    size_t i;
    json_t *w;
    json_array_foreach(ws, i, w) {
        if (!strcmp(it_jstr(w, "id"), id))
            return w;
    }
    return NULL;
}

bool it_worker_in_state(const json_t *st, const char *id, const char *state)
{
    json_t *w = it_status_worker(st, id);
    return w && !strcmp(it_jstr(w, "state"), state);
}

/* Type of one field, as the documented shape wants it. */
typedef enum { IT_J_STR, IT_J_UINT, IT_J_BOOL, IT_J_ARRAY } it_jtype_t;

typedef struct {
    const char *key;
    it_jtype_t type;
} it_jfield_t;

static const it_jfield_t it_status_fields[] = {
    { "master", IT_J_STR },           { "uptime_ms", IT_J_UINT },
    { "worker_timeout_ms", IT_J_UINT }, { "authenticated", IT_J_BOOL },
    { "workers", IT_J_ARRAY },
};

static const it_jfield_t it_worker_fields[] = {
    { "id", IT_J_STR },
    { "address", IT_J_STR },
    { "cores", IT_J_UINT },
    { "memory_bytes", IT_J_UINT },
    { "state", IT_J_STR },
    { "last_heartbeat_ago_ms", IT_J_UINT },
    { "registered_at_unix_ms", IT_J_UINT },
    { "registrations", IT_J_UINT },
    { "dead_reason", IT_J_STR },
    { "silent_ms_when_declared_dead", IT_J_UINT },
};

static const it_jfield_t it_master_info_fields[] = {
    { "active", IT_J_BOOL },           { "checkpoint", IT_J_STR },
    { "epoch", IT_J_UINT },            { "lease_holder", IT_J_STR },
    { "lease_address", IT_J_STR },     { "lease_expires_ms", IT_J_UINT },
    { "recovering", IT_J_BOOL },       { "workers_expected", IT_J_UINT },
    { "workers_back", IT_J_UINT },     { "batches_to_rerun", IT_J_UINT },
    { "jobs_recovered", IT_J_UINT },
};

static bool it_fields_ok(const json_t *obj, const it_jfield_t *f, size_t n, const char *where,
                         char *why)
{
    if (!json_is_object(obj)) {
        snprintf(why, IT_MSG_LEN, "%s is not an object", where);
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        json_t *v = json_object_get(obj, f[i].key);
        bool ok = false;
        switch (f[i].type) {
        case IT_J_STR: ok = json_is_string(v); break;
        case IT_J_UINT: ok = json_is_integer(v) && json_integer_value(v) >= 0; break;
        case IT_J_BOOL: ok = json_is_boolean(v); break;
        case IT_J_ARRAY: ok = json_is_array(v); break;
        }
        if (!ok) {
            snprintf(why, IT_MSG_LEN, "%s: field '%s' missing or of the wrong type", where,
                     f[i].key);
            return false;
        }
    }
    return true;
}

bool it_status_shape_ok(const json_t *st, char *why)
{
    if (!it_fields_ok(st, it_status_fields, sizeof it_status_fields / sizeof *it_status_fields,
                      "status", why))
        return false;
    size_t i;
    json_t *w;
    json_array_foreach(json_object_get(st, "workers"), i, w) {
        char where[64];
        snprintf(where, sizeof where, "workers[%zu]", i);
        if (!it_fields_ok(w, it_worker_fields, sizeof it_worker_fields / sizeof *it_worker_fields,
                          where, why))
            return false;
        const char *state = it_jstr(w, "state");
        if (strcmp(state, "alive") && strcmp(state, "dead")) {
            snprintf(why, IT_MSG_LEN, "%s: state '%s' is neither alive nor dead", where, state);
            return false;
        }
        if (!strcmp(state, "alive") &&
            (it_jstr(w, "dead_reason")[0] || it_jint(w, "silent_ms_when_declared_dead") != 0)) {
            snprintf(why, IT_MSG_LEN,
                     "%s (%s) is alive but has dead_reason '%s' / silent_ms_when_declared_dead "
                     "%lld (want \"\" and 0)",
                     where, it_jstr(w, "id"), it_jstr(w, "dead_reason"),
                     it_jint(w, "silent_ms_when_declared_dead"));
            return false;
        }
        if (!strcmp(state, "dead") && !it_jstr(w, "dead_reason")[0]) {
            snprintf(why, IT_MSG_LEN, "%s (%s) is dead with an empty dead_reason", where,
                     it_jstr(w, "id"));
            return false;
        }
    }
    return true;
}

json_t *it_master_info(const json_t *st)
{
    json_t *mi = json_object_get(st, "master_info");
    return json_is_object(mi) ? mi : NULL;
}

bool it_master_info_ok(const json_t *st, char *why)
{
    return it_fields_ok(it_master_info(st), it_master_info_fields,
                        sizeof it_master_info_fields / sizeof *it_master_info_fields,
                        "master_info", why);
}

json_t *it_status(it_ctx_t *t, const it_master_t *m, const char *secret_file, bool *bad_shape)
{
    if (bad_shape)
        *bad_shape = false;
    const char *args[10];
    size_t n = 0;
    args[n++] = "--master";
    args[n++] = m->listen;
    if (secret_file && secret_file[0]) {
        args[n++] = "--secret-file";
        args[n++] = secret_file;
    }
    args[n++] = "status";
    args[n++] = "--json";
    args[n] = NULL;
    it_run_t r;
    if (!it_run(t, &r, NULL, IT_CLI_DEADLINE_MS, "sluice", args))
        return NULL;
    json_t *st = NULL;
    if (r.exit_code != 0) {
        it_note(t, "sluice status --json: %s %d, stderr: %s",
                r.timed_out ? "timed out after" : "exit", r.timed_out ? IT_CLI_DEADLINE_MS : r.exit_code,
                r.err);
        goto done;
    }
    json_error_t jerr;
    st = json_loads(r.out, 0, &jerr);
    char why[IT_MSG_LEN];
    if (!st) {
        it_note(t, "sluice status --json printed no valid JSON (%s at line %d): %.400s", jerr.text,
                jerr.line, r.out);
        if (bad_shape)
            *bad_shape = true;
    } else if (!it_status_shape_ok(st, why)) {
        it_note(t, "sluice status --json: %s; output: %.600s", why, r.out);
        json_decref(st);
        st = NULL;
        if (bad_shape)
            *bad_shape = true;
    }
done:
    it_run_free(&r);
    return st;
}

json_t *it_http_status(it_ctx_t *t, const it_master_t *m)
{
    int code;
    char *body;
    if (!it_http_get(t, m->http, "/api/v1/cluster", &code, &body))
        return NULL;
    json_error_t jerr;
    json_t *st = code == 200 ? json_loads(body, 0, &jerr) : NULL;
    char why[IT_MSG_LEN];
    if (!st) {
        it_note(t, "GET /api/v1/cluster of %s: HTTP %d, body %.400s", m->http, code, body);
    } else if (!it_status_shape_ok(st, why) ||
               (m->cm.checkpoint_dir[0] && !it_master_info_ok(st, why))) {
        it_note(t, "GET /api/v1/cluster of %s: %s; body %.600s", m->http, why, body);
        json_decref(st);
        st = NULL;
    }
    free(body);
    return st;
}

/* Reads one status of m; NULL with a note when there is none, and *bad set
 * when what was read is malformed (waiting will not fix it). */
typedef json_t *(*it_status_read)(it_ctx_t *t, const it_master_t *m, const char *secret_file,
                                  bool *bad);

static json_t *it_status_read_cli(it_ctx_t *t, const it_master_t *m, const char *secret_file,
                                  bool *bad)
{
    return it_status(t, m, secret_file, bad);
}

/* Never *bad: a malformed status is read again like a failed read. */
static json_t *it_status_read_http(it_ctx_t *t, const it_master_t *m, const char *secret_file,
                                   bool *bad)
{
    return it_http_status(t, m);
}

/* Polls reader() every IT_POLL_MS until pred holds; see it_wait_status. */
static json_t *it_poll_status(it_ctx_t *t, const it_master_t *m, const char *secret_file,
                              it_status_read reader, it_status_pred pred, void *arg,
                              int deadline_ms)
{
    uint64_t end = it_now_ms() + (uint64_t)deadline_ms;
    char last[IT_MSG_LEN] = "no status read";
    for (;;) {
        bool bad = false;
        json_t *st = reader(t, m, secret_file, &bad);
        if (bad)
            return NULL;    /* the note says what is wrong; waiting will not fix it */
        if (st) {
            if (pred(st, arg))
                return st;
            char *dump = json_dumps(st, JSON_COMPACT);
            snprintf(last, sizeof last, "last status: %s", dump ? dump : "?");
            free(dump);
            json_decref(st);
        } else {
            snprintf(last, sizeof last, "%s", t->note);
        }
        if (it_now_ms() >= end)
            break;
        it_sleep_ms(IT_POLL_MS);
    }
    it_note(t, "condition not reached within %d ms; %s", deadline_ms, last);
    return NULL;
}

json_t *it_wait_status(it_ctx_t *t, const it_master_t *m, const char *secret_file,
                       it_status_pred pred, void *arg, int deadline_ms)
{
    return it_poll_status(t, m, secret_file, it_status_read_cli, pred, arg, deadline_ms);
}

json_t *it_wait_http_status(it_ctx_t *t, const it_master_t *m, it_status_pred pred, void *arg,
                            int deadline_ms)
{
    return it_poll_status(t, m, NULL, it_status_read_http, pred, arg, deadline_ms);
}

typedef struct {
    it_worker_t *const *ws;
    size_t n;
} it_alive_arg_t;

static bool it_all_alive(const json_t *st, void *arg)
{
    it_alive_arg_t *a = arg;
    for (size_t i = 0; i < a->n; i++)
        if (!it_worker_in_state(st, a->ws[i]->id, "alive"))
            return false;
    return true;
}

bool it_wait_alive(it_ctx_t *t, const it_master_t *m, const char *secret_file,
                   it_worker_t *const ws[], size_t n, int deadline_ms)
{
    it_alive_arg_t a = { ws, n };
    json_t *st = it_wait_status(t, m, secret_file, it_all_alive, &a, deadline_ms);
    json_decref(st);
    return st != NULL;
}

/* --- HTTP ----------------------------------------------------------------- */

bool it_http_get(it_ctx_t *t, const char *addr, const char *path, int *code, char **body)
{
    *body = NULL;
    *code = 0;
    int fd = it_connect(t, addr);
    if (fd < 0)
        return false;
    char req[512];
    snprintf(req, sizeof req, "GET %s HTTP/1.0\r\nHost: %s\r\n\r\n", path, addr);
    if (!it_send_all(fd, req, strlen(req))) {
        it_note(t, "cannot send the HTTP request to %s", addr);
        close(fd);
        return false;
    }
    uint8_t *buf;
    size_t len;
    const char *how;
    bool closed = it_read_until_closed(fd, IT_DEADLINE_MS, &buf, &len, &how);
    close(fd);
    if (!closed) {
        it_note(t, "GET %s from %s: response not finished (%s) after %zu bytes", path, addr, how,
                len);
        free(buf);
        return false;
    }
    const char *resp = (const char *)buf;
    int major, minor;
    if (sscanf(resp, "HTTP/%d.%d %d", &major, &minor, code) != 3) {
        it_note(t, "GET %s: not an HTTP response: %.200s", path, resp);
        free(buf);
        return false;
    }
    const char *sep = strstr(resp, "\r\n\r\n");
    *body = strdup(sep ? sep + 4 : "");
    free(buf);
    return *body != NULL;
}
