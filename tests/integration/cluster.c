/* Starting Sluice daemons for a test, reading and waiting on the cluster
 * status, and raw HTTP GETs. See cluster.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "cluster.h"

bool it_master_start(it_ctx_t *t, it_master_t *m)
{
    if (!m->listen[0] && !it_free_addr(t, m->listen))
        return false;
    if (!m->http[0] && !it_free_addr(t, m->http))
        return false;
    if (!m->worker_timeout[0])
        snprintf(m->worker_timeout, sizeof m->worker_timeout, "2s");
    const char *args[16];
    size_t n = 0;
    args[n++] = "--listen";
    args[n++] = m->listen;
    args[n++] = "--http";
    args[n++] = m->http;
    args[n++] = "--worker-timeout";
    args[n++] = m->worker_timeout;
    if (m->clock[0]) {
        args[n++] = "--clock";
        args[n++] = m->clock;
    }
    if (m->secret_file[0]) {
        args[n++] = "--secret-file";
        args[n++] = m->secret_file;
    }
    args[n] = NULL;
    m->proc = it_spawn(t, "master", "sluice-master", args);
    if (!m->proc)
        return false;
    return it_wait_listening(t, m->listen, IT_DEADLINE_MS) &&
           it_wait_listening(t, m->http, IT_DEADLINE_MS);
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

json_t *it_wait_status(it_ctx_t *t, const it_master_t *m, const char *secret_file,
                       it_status_pred pred, void *arg, int deadline_ms)
{
    uint64_t end = it_now_ms() + (uint64_t)deadline_ms;
    char last[IT_MSG_LEN] = "no status read";
    for (;;) {
        bool bad = false;
        json_t *st = it_status(t, m, secret_file, &bad);
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
