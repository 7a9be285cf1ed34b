/* Engine-test helpers: a manual-clock cluster, jobs, pushes and ticks through
 * the CLI, and the outputs read back as multisets of lines. See engine.h. */
#include <dirent.h>
#include <inttypes.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "engine.h"

/* --- the cluster ------------------------------------------------------------ */

bool it_engine_start(it_ctx_t *t, it_engine_t *e)
{
    /* Generous worker timeout: a worker declared dead by a slow sanitized
     * run would re-run batches, which the tests do not want to depend on. */
    const it_engine_opts_t o = { .workers = 2, .cores = 2, .memory = "1G",
                                 .memory_bytes = 1ull << 30, .worker_timeout = "10s",
                                 .manual_clock = true };
    return it_engine_start_with(t, e, &o);
}

bool it_engine_start_with(it_ctx_t *t, it_engine_t *e, const it_engine_opts_t *o)
{
    memset(e, 0, sizeof *e);
    if (o->workers < 1 || o->workers > IT_ENGINE_MAX_WORKERS) {
        it_note(t, "%zu workers asked for, at most %d", o->workers, IT_ENGINE_MAX_WORKERS);
        return false;
    }
    snprintf(e->m.worker_timeout, sizeof e->m.worker_timeout, "%s", o->worker_timeout);
    if (o->manual_clock)
        snprintf(e->m.clock, sizeof e->m.clock, "manual");
    if (o->cm)
        e->m.cm = *o->cm;
    return it_master_start(t, &e->m) && it_engine_start_workers(t, e, o) &&
           it_engine_wait_alive(t, e, NULL, IT_DEADLINE_MS);
}

bool it_engine_start_workers(it_ctx_t *t, it_engine_t *e, const it_engine_opts_t *o)
{
    if (e->nworkers + o->workers > IT_ENGINE_MAX_WORKERS) {
        it_note(t, "%zu more workers asked for, at most %d in all", o->workers,
                IT_ENGINE_MAX_WORKERS);
        return false;
    }
    for (size_t i = 0; i < o->workers; i++) {
        char name[32];
        it_worker_t *w = &e->w[e->nworkers];
        w->cores = o->cores;
        snprintf(w->memory, sizeof w->memory, "%s", o->memory);
        w->memory_bytes = o->memory_bytes;
        snprintf(name, sizeof name, "worker%zu", e->nworkers + 1);
        if (!it_worker_start(t, w, name, &e->m))
            return false;
        e->nworkers++;
    }
    return true;
}

bool it_engine_wait_alive(it_ctx_t *t, it_engine_t *e, const it_master_t *m, int deadline_ms)
{
    it_worker_t *ws[IT_ENGINE_MAX_WORKERS];
    for (size_t i = 0; i < e->nworkers; i++)
        ws[i] = &e->w[i];
    return it_wait_alive(t, m ? m : &e->m, NULL, ws, e->nworkers, deadline_ms);
}

it_worker_t *it_engine_worker_at(it_engine_t *e, const char *address)
{
    for (size_t i = 0; i < e->nworkers; i++)
        if (!strcmp(e->w[i].listen, address))
            return &e->w[i];
    return NULL;
}

/* Runs `sluice --master M --timeout 50s ARGS...` (args NULL-terminated). */
static bool it_engine_cli(it_ctx_t *t, const it_engine_t *e, it_run_t *r, const char *const args[])
{
    const char *full[IT_MAX_ARGS];
    size_t n = 0;
    full[n++] = "--master";
    full[n++] = e->m.listen;
    full[n++] = "--timeout";
    full[n++] = "50s";
    for (size_t i = 0; args[i] && n + 1 < IT_MAX_ARGS; i++)
        full[n++] = args[i];
    full[n] = NULL;
    return it_run(t, r, NULL, IT_ENGINE_CLI_MS, "sluice", full);
}

/* Runs the CLI and requires exit 0; keeps r for the caller on success. */
static bool it_engine_cli_ok(it_ctx_t *t, const it_engine_t *e, it_run_t *r,
                             const char *const args[], const char *what)
{
    if (!it_engine_cli(t, e, r, args))
        return false;
    if (r->exit_code == 0)
        return true;
    it_note(t, "%s: %s %d, stderr: %.600s", what, r->timed_out ? "timed out," : "exit",
            r->exit_code, r->err);
    it_run_free(r);
    return false;
}

/* --- jobs --------------------------------------------------------------------- */

bool it_engine_write_job(it_ctx_t *t, const char *file, const char *text, char *path)
{
    static const char mark[] = "@DIR@";
    size_t cap = strlen(text) + 1, dirlen = strlen(t->dir);
    for (const char *p = strstr(text, mark); p; p = strstr(p + 1, mark))
        cap += dirlen;
    char *out = malloc(cap), *o = out;
    if (!out) {
        it_note(t, "out of memory");
        return false;
    }
    for (const char *p = text; *p;) {
        if (!strncmp(p, mark, sizeof mark - 1)) {
            memcpy(o, t->dir, dirlen);
            o += dirlen;
            p += sizeof mark - 1;
        } else {
            *o++ = *p++;
        }
    }
    *o = '\0';
    it_path(t, path, file);
    bool ok = it_write_file(t, path, out, 0644);
    free(out);
    return ok;
}

bool it_engine_submit_path(it_ctx_t *t, const it_engine_t *e, const char *path, it_run_t *r)
{
    const char *const args[] = { "submit", path, NULL };
    return it_engine_cli(t, e, r, args);
}

bool it_engine_submit(it_ctx_t *t, const it_engine_t *e, const char *file, const char *text,
                      const char *job)
{
    char path[IT_PATH_LEN];
    if (!it_engine_write_job(t, file, text, path))
        return false;
    const char *const args[] = { "submit", path, NULL };
    it_run_t r;
    if (!it_engine_cli_ok(t, e, &r, args, "sluice submit"))
        return false;
    char want[128];
    snprintf(want, sizeof want, "%s\n", job);
    bool ok = !strcmp(r.out, want);
    if (!ok)
        it_note(t, "sluice submit %s printed '%.200s', want the job id '%s'", file, r.out, job);
    it_run_free(&r);
    return ok;
}

bool it_engine_stop(it_ctx_t *t, const it_engine_t *e, const char *job)
{
    const char *const args[] = { "stop", job, NULL };
    it_run_t r;
    if (!it_engine_cli_ok(t, e, &r, args, "sluice stop"))
        return false;
    it_run_free(&r);
    return true;
}

bool it_engine_push(it_ctx_t *t, const it_engine_t *e, const char *job, const char *stream,
                    const char *lines, const char *format, const char *vtype)
{
    size_t n = it_count_lines(lines);
    if (n == 0)
        return true;
    char path[IT_PATH_LEN], name[96];
    snprintf(name, sizeof name, "push%03u-%s.txt", t->runs + 1, stream);
    it_path(t, path, name);
    if (!it_write_file(t, path, lines, 0644))
        return false;
    const char *args[12];
    size_t k = 0;
    args[k++] = "push";
    args[k++] = job;
    args[k++] = stream;
    args[k++] = path;
    if (format) {
        args[k++] = "--format";
        args[k++] = format;
    }
    if (vtype) {
        args[k++] = "--value-type";
        args[k++] = vtype;
    }
    args[k] = NULL;
    it_run_t r;
    if (!it_engine_cli_ok(t, e, &r, args, "sluice push"))
        return false;
    char want[64];
    snprintf(want, sizeof want, "%zu records acknowledged\n", n);
    bool ok = !strcmp(r.out, want);
    if (!ok)
        it_note(t, "sluice push %s %s printed '%.200s', want '%s'", job, stream, r.out, want);
    it_run_free(&r);
    return ok;
}

bool it_engine_tick(it_ctx_t *t, const it_engine_t *e, const char *job, unsigned n,
                    int64_t *times)
{
    char count[16];
    snprintf(count, sizeof count, "%u", n);
    const char *const args[] = { "tick", job, count, "--wait", NULL };
    it_run_t r;
    if (!it_engine_cli_ok(t, e, &r, args, "sluice tick --wait"))
        return false;
    bool ok = it_count_lines(r.out) == n;
    const char *p = r.out;
    for (unsigned i = 0; ok && i < n; i++) {
        char *end;
        long long v = strtoll(p, &end, 10);
        ok = end != p && *end == '\n';
        if (times)
            times[i] = v;
        p = end + 1;
    }
    if (!ok)
        it_note(t, "sluice tick %s %u --wait printed '%.200s', want %u batch times", job, n,
                r.out, n);
    it_run_free(&r);
    return ok;
}

bool it_engine_tick_fails(it_ctx_t *t, const it_engine_t *e, const char *job, const char *phrase)
{
    const char *const args[] = { "tick", job, "--wait", NULL };
    it_run_t r;
    if (!it_engine_cli(t, e, &r, args))
        return false;
    bool ok = r.exit_code == 1 && strstr(r.err, phrase) != NULL;
    if (!ok)
        it_note(t, "sluice tick %s --wait: exit %d, stderr '%.400s'; want exit 1 and '%s'", job,
                r.exit_code, r.err, phrase);
    it_run_free(&r);
    return ok;
}

/* Runs a `--json` command and parses its output. */
static json_t *it_engine_json(it_ctx_t *t, const it_engine_t *e, const char *const args[],
                              const char *what)
{
    it_run_t r;
    if (!it_engine_cli_ok(t, e, &r, args, what))
        return NULL;
    json_error_t jerr;
    json_t *doc = json_loads(r.out, 0, &jerr);
    if (!doc)
        it_note(t, "%s printed no valid JSON (%s): %.300s", what, jerr.text, r.out);
    it_run_free(&r);
    return doc;
}

json_t *it_engine_batches(it_ctx_t *t, const it_engine_t *e, const char *job)
{
    const char *const args[] = { "batches", job, "--json", NULL };
    return it_engine_json(t, e, args, "sluice batches --json");
}

json_t *it_engine_batch_at(const json_t *batches, int64_t time)
{
    size_t i;
    json_t *b;
    json_array_foreach(json_object_get(batches, "batches"), i, b) {
        if (it_jint(b, "time_ms") == time)
            return b;
    }
    return NULL;
}

bool it_engine_check_batch_info(it_ctx_t *t, const json_t *batches, int64_t time,
                                long long input, long long tasks)
{
    json_t *b = it_engine_batch_at(batches, time);
    if (!b) {
        char *dump = json_dumps(batches, JSON_COMPACT);
        it_note(t, "sluice batches lists no batch %" PRId64 ": %.600s", time, dump ? dump : "?");
        free(dump);
        return false;
    }
    const char *why = NULL;
    if (strcmp(it_jstr(b, "state"), "done"))
        why = "state is not done";
    else if (it_jint(b, "input_records") != input)
        why = "wrong input_records";
    else if (tasks && it_jint(b, "tasks") != tasks)
        why = "wrong number of tasks";
    else if (it_jint(b, "failed_tasks") != 0 || it_jint(b, "attempts") != 1)
        why = "failed tasks or more than one attempt";
    if (!why)
        return true;
    char *dump = json_dumps(b, JSON_COMPACT);
    it_note(t, "batch %" PRId64 ": %s (want done, %lld input records, %lld tasks): %s", time, why,
            input, tasks, dump ? dump : "?");
    free(dump);
    return false;
}

json_t *it_engine_jobs(it_ctx_t *t, const it_engine_t *e)
{
    const char *const args[] = { "jobs", "--json", NULL };
    return it_engine_json(t, e, args, "sluice jobs --json");
}

json_t *it_engine_job_at(const json_t *jobs, const char *id)
{
    size_t i;
    json_t *j;
    json_array_foreach(json_object_get(jobs, "jobs"), i, j) {
        if (!strcmp(it_jstr(j, "id"), id))
            return j;
    }
    return NULL;
}

/* --- a job's state ------------------------------------------------------------------- */

bool it_engine_job_state(it_ctx_t *t, const it_engine_t *e, const char *job, it_job_state_t *out)
{
    memset(out, 0, sizeof *out);
    json_t *all = it_engine_jobs(t, e);
    if (!all)
        return false;
    json_t *j = it_engine_job_at(all, job);
    json_t *rcv = json_array_get(json_object_get(j, "receivers"), 0);
    if (!j || !rcv) {
        char *dump = json_dumps(all, JSON_COMPACT);
        it_note(t, "sluice jobs --json has no job '%s' with a receiver: %.400s", job,
                dump ? dump : "?");
        free(dump);
        json_decref(all);
        return false;
    }
    snprintf(out->state, sizeof out->state, "%s", it_jstr(j, "state"));
    snprintf(out->address, sizeof out->address, "%s", it_jstr(rcv, "address"));
    out->epoch = it_jint(rcv, "epoch");
    out->batches_done = it_jint(j, "batches_done");
    json_t *last = json_object_get(j, "last_batch_time_ms");
    out->last_batch = json_is_integer(last) ? (long long)json_integer_value(last) : -1;
    json_decref(all);
    return true;
}

bool it_engine_wait_job(it_ctx_t *t, const it_engine_t *e, const char *job, it_job_pred pred,
                        const void *arg, int deadline_ms, it_job_state_t *out)
{
    uint64_t end = it_now_ms() + (uint64_t)deadline_ms;
    char last[IT_MSG_LEN] = "no job state read";
    for (;;) {
        if (it_engine_job_state(t, e, job, out)) {
            if (pred(out, arg))
                return true;
            snprintf(last, sizeof last,
                     "last: state %s, receiver at '%s' epoch %lld, %lld batches done",
                     out->state, out->address, out->epoch, out->batches_done);
        } else {
            snprintf(last, sizeof last, "%s", t->note);
        }
        if (it_now_ms() >= end)
            break;
        it_sleep_ms(IT_POLL_MS);
    }
    it_note(t, "job %s: condition not reached within %d ms; %s", job, deadline_ms, last);
    return false;
}

bool it_job_placed(const it_job_state_t *j, const void *arg)
{
    return !strcmp(j->state, "running") && j->address[0] != '\0';
}

bool it_job_moved(const it_job_state_t *j, const void *arg)
{
    const it_job_state_t *old = arg;
    return j->address[0] && strcmp(j->address, old->address) != 0 && j->epoch > old->epoch;
}

bool it_job_batches_done(const it_job_state_t *j, const void *arg)
{
    return j->batches_done >= *(const long long *)arg;
}

/* --- multisets of lines ----------------------------------------------------------- */

void it_lines_free(it_lines_t *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
    memset(l, 0, sizeof *l);
}

bool it_lines_add(it_lines_t *l, const char *s, size_t len)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        char **nv = realloc(l->v, cap * sizeof *nv);
        if (!nv)
            return false;
        l->v = nv;
        l->cap = cap;
    }
    char *copy = strndup(s, len);
    if (!copy)
        return false;
    l->v[l->n++] = copy;
    return true;
}

bool it_lines_add_text(it_lines_t *l, const char *text)
{
    while (text && *text) {
        const char *nl = strchr(text, '\n');
        size_t len = nl ? (size_t)(nl - text) : strlen(text);
        if (!it_lines_add(l, text, len))
            return false;
        text += len + (nl ? 1 : 0);
    }
    return true;
}

bool it_lines_add_all(it_lines_t *l, const char *const *v)
{
    for (size_t i = 0; v && v[i]; i++)
        if (!it_lines_add(l, v[i], strlen(v[i])))
            return false;
    return true;
}

static int it_cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

void it_lines_sort(it_lines_t *l)
{
    if (l->n > 1)
        qsort(l->v, l->n, sizeof *l->v, it_cmp_str);
}

/* Sorts the `sep`-separated pieces of s[0..len) in place. */
static void it_sort_pieces(char *s, size_t len, const char *sep)
{
    size_t seplen = strlen(sep), n = 0;
    char *copy = strndup(s, len);
    char **pieces = calloc(len + 1, sizeof *pieces);
    if (!copy || !pieces)
        goto done;
    for (char *p = copy;;) {
        pieces[n++] = p;
        char *next = strstr(p, sep);
        if (!next)
            break;
        *next = '\0';
        p = next + seplen;
    }
    qsort(pieces, n, sizeof *pieces, it_cmp_str);
    char *o = s;
    for (size_t i = 0; i < n; i++) {
        if (i) {
            memcpy(o, sep, seplen);
            o += seplen;
        }
        size_t pl = strlen(pieces[i]);
        memcpy(o, pieces[i], pl);
        o += pl;
    }
done:
    free(copy);
    free(pieces);
}

void it_lines_normalize(it_lines_t *l, it_norm_t how)
{
    for (size_t i = 0; i < l->n; i++) {
        char *s = l->v[i];
        if (how == IT_NORM_CSV) {
            char *tab = strchr(s, '\t');
            char *val = tab ? tab + 1 : s;
            it_sort_pieces(val, strlen(val), ",");
        } else if (how == IT_NORM_LISTS) {
            /* Every [...] without a nested [ inside. */
            for (char *open = strchr(s, '['); open; open = strchr(open + 1, '[')) {
                char *close = strchr(open, ']');
                char *inner = strchr(open + 1, '[');
                if (close && (!inner || inner > close))
                    it_sort_pieces(open + 1, (size_t)(close - open - 1), ", ");
            }
        }
    }
}

/* Appends "'line', " items to buf (len bytes) while room is left. */
static void it_list_lines(char *buf, size_t len, char *const *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        size_t used = strlen(buf);
        if (used + 8 >= len)
            return;
        snprintf(buf + used, len - used, "%s'%s'", i ? ", " : "", v[i]);
    }
}

bool it_lines_match(it_ctx_t *t, it_lines_t *got, it_lines_t *want, const char *what)
{
    it_lines_sort(got);
    it_lines_sort(want);
    char missing[800] = "", extra[800] = "";
    char **miss = calloc(want->n + 1, sizeof *miss), **ext = calloc(got->n + 1, sizeof *ext);
    size_t nm = 0, ne = 0, i = 0, j = 0;
    if (!miss || !ext) {
        free(miss);
        free(ext);
        it_note(t, "out of memory");
        return false;
    }
    while (i < got->n || j < want->n) {
        int c = i == got->n ? 1 : j == want->n ? -1 : strcmp(got->v[i], want->v[j]);
        if (c == 0) {
            i++;
            j++;
        } else if (c < 0) {
            ext[ne++] = got->v[i++];
        } else {
            miss[nm++] = want->v[j++];
        }
    }
    it_list_lines(missing, sizeof missing, miss, nm);
    it_list_lines(extra, sizeof extra, ext, ne);
    free(miss);
    free(ext);
    if (nm == 0 && ne == 0)
        return true;
    it_note(t, "%s: %zu line(s), want %zu; missing %zu: [%s]; unexpected %zu: [%s]", what, got->n,
            want->n, nm, missing, ne, extra);
    return false;
}

/* --- outputs -------------------------------------------------------------------------- */

bool it_engine_read_batch(it_ctx_t *t, const char *prefix, int64_t time, it_lines_t *out,
                          size_t *nparts)
{
    char dir[IT_PATH_LEN], name[IT_PATH_LEN];
    snprintf(name, sizeof name, "%s-%" PRId64, prefix, time);
    it_path(t, dir, name);
    *nparts = 0;
    DIR *d = opendir(dir);
    if (!d) {
        it_note(t, "no batch directory %s", dir);
        return false;
    }
    bool ok = true;
    struct dirent *de;
    while (ok && (de = readdir(d)) != NULL) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        if (strncmp(de->d_name, "part-", 5) != 0) {
            it_note(t, "%s holds '%s', which is not a part file", dir, de->d_name);
            ok = false;
            break;
        }
        char path[IT_PATH_LEN * 2];
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        char *text = it_read_file(path, NULL);
        if (!text) {
            it_note(t, "cannot read %s", path);
            ok = false;
            break;
        }
        (*nparts)++;
        if (text[0] && text[strlen(text) - 1] != '\n') {
            it_note(t, "%s does not end with a newline", path);
            ok = false;
        }
        if (ok && !it_lines_add_text(out, text)) {
            it_note(t, "out of memory");
            ok = false;
        }
        free(text);
    }
    closedir(d);
    return ok;
}

bool it_engine_check_batch(it_ctx_t *t, const char *prefix, int64_t time,
                           const char *const want[], it_norm_t norm, size_t want_parts)
{
    it_lines_t got = { 0 }, exp = { 0 };
    size_t nparts = 0;
    bool ok = it_engine_read_batch(t, prefix, time, &got, &nparts) && it_lines_add_all(&exp, want);
    if (ok) {
        it_lines_normalize(&got, norm);
        it_lines_normalize(&exp, norm);
        char what[IT_PATH_LEN];
        snprintf(what, sizeof what, "%s-%" PRId64, prefix, time);
        ok = it_lines_match(t, &got, &exp, what);
        if (ok && want_parts && nparts != want_parts) {
            it_note(t, "%s has %zu part files, want %zu", what, nparts, want_parts);
            ok = false;
        }
    }
    it_lines_free(&got);
    it_lines_free(&exp);
    return ok;
}

bool it_sqlite_query(it_ctx_t *t, const char *db_path, const char *sql, it_lines_t *out)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    bool ok = false;
    if (sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        it_note(t, "cannot open %s: %s", db_path, db ? sqlite3_errmsg(db) : "out of memory");
        goto done;
    }
    sqlite3_busy_timeout(db, 5000);
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
        it_note(t, "%s on %s: %s", sql, db_path, sqlite3_errmsg(db));
        goto done;
    }
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        char row[1024] = "";
        for (int c = 0; c < sqlite3_column_count(st); c++) {
            const unsigned char *v = sqlite3_column_text(st, c);
            size_t used = strlen(row);
            snprintf(row + used, sizeof row - used, "%s%s", c ? "|" : "",
                     v ? (const char *)v : "NULL");
        }
        if (!it_lines_add(out, row, strlen(row))) {
            it_note(t, "out of memory");
            goto done;
        }
    }
    if (rc != SQLITE_DONE) {
        it_note(t, "%s on %s: %s", sql, db_path, sqlite3_errmsg(db));
        goto done;
    }
    ok = true;
done:
    sqlite3_finalize(st);
    sqlite3_close(db);
    return ok;
}

bool it_sqlite_line(it_ctx_t *t, const char *db_path, const char *sql, char *out, size_t len)
{
    it_lines_t rows = { 0 };
    bool ok = it_sqlite_query(t, db_path, sql, &rows);
    out[0] = '\0';
    if (ok && rows.n != 1) {
        it_note(t, "%s on %s gave %zu rows, want 1", sql, db_path, rows.n);
        ok = false;
    }
    if (ok)
        snprintf(out, len, "%s", rows.v[0]);
    it_lines_free(&rows);
    return ok;
}

/* --- watch --------------------------------------------------------------------------- */

/* Batch time of a header line "-- batch TIME (N records)", or -1. */
static int64_t it_watch_header(const char *line, uint64_t *total)
{
    long long time;
    unsigned long long n;
    if (sscanf(line, "-- batch %lld (%llu records)", &time, &n) != 2)
        return -1;
    if (total)
        *total = n;
    return time;
}

typedef struct {
    const it_proc_t *proc;
    int64_t after;      /* a header later than this */
    int64_t seen;       /* latest header time seen, -1: none */
} it_header_wait_t;

/* Latest header time in the watch's log, -1 when none. */
static int64_t it_watch_latest(const it_proc_t *p)
{
    char *text = it_read_file(p->log_path, NULL);
    int64_t latest = -1;
    for (const char *s = text; s && *s;) {
        const char *nl = strchr(s, '\n');
        if (!nl)
            break;      /* a line still being written */
        int64_t h = it_watch_header(s, NULL);
        if (h > latest)
            latest = h;
        s = nl + 1;
    }
    free(text);
    return latest;
}

static bool it_header_after(void *arg)
{
    it_header_wait_t *w = arg;
    w->seen = it_watch_latest(w->proc);
    return w->seen > w->after;
}

bool it_engine_watch_start(it_ctx_t *t, const it_engine_t *e, const char *job,
                           const char *const streams[], it_proc_t *procs[], size_t n,
                           int64_t *last_time)
{
    for (size_t i = 0; i < n; i++) {
        const char *const args[] = { "--master", e->m.listen, "watch", job, streams[i], NULL };
        char name[96];
        snprintf(name, sizeof name, "watch-%s", streams[i]);
        if (!(procs[i] = it_spawn(t, name, "sluice", args)))
            return false;
    }
    /* A watch sees the batches that end after the master took its request,
     * and nothing says when that was: tick until each has printed one. */
    uint64_t end = it_now_ms() + IT_DEADLINE_MS;
    for (;;) {
        int64_t tm;
        if (!it_engine_tick(t, e, job, 1, &tm))
            return false;
        if (last_time)
            *last_time = tm;
        size_t ready = 0;
        for (size_t i = 0; i < n; i++) {
            it_header_wait_t w = { procs[i], -1, -1 };
            ready += it_wait_until(it_header_after, &w, 300);
        }
        if (ready == n)
            return true;
        if (it_now_ms() >= end) {
            it_note(t, "the watches of %s printed no batch within %d ms", job, IT_DEADLINE_MS);
            return false;
        }
    }
}

bool it_engine_watched(it_ctx_t *t, const it_proc_t *watch, int64_t time, it_watched_t *w)
{
    memset(w, 0, sizeof *w);
    it_header_wait_t hw = { watch, time, -1 };
    if (!it_wait_until(it_header_after, &hw, IT_DEADLINE_MS)) {
        it_note(t, "%s printed no batch after %" PRId64 " within %d ms (latest: %" PRId64 ")",
                watch->name, time, IT_DEADLINE_MS, hw.seen);
        return false;
    }
    char *text = it_read_file(watch->log_path, NULL);
    bool in = false, found = false, ok = true;
    for (const char *s = text; s && *s && ok;) {
        const char *nl = strchr(s, '\n');
        size_t len = nl ? (size_t)(nl - s) : strlen(s);
        uint64_t total = 0;
        int64_t h = it_watch_header(s, &total);
        if (h >= 0) {
            in = h == time;
            if (in && found) {
                it_note(t, "%s printed batch %" PRId64 " twice", watch->name, time);
                ok = false;
            }
            if (in) {
                found = true;
                w->total = total;
            }
        } else if (in && len == 3 && !strncmp(s, "...", 3)) {
            w->more = true;
        } else if (in && !(ok = it_lines_add(&w->records, s, len))) {
            it_note(t, "out of memory");
        }
        s += len + (nl ? 1 : 0);
    }
    free(text);
    if (ok && !found)
        it_note(t, "%s printed no batch %" PRId64 " (it skipped it)", watch->name, time);
    if (!ok || !found) {
        it_lines_free(&w->records);
        return false;
    }
    return true;
}

void it_engine_watch_stop(it_ctx_t *t, it_proc_t *watch)
{
    if (watch)
        it_proc_kill9(t, watch);
}
