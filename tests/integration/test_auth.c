/* auth: a cluster with a shared secret. Workers with the secret join; the CLI
 * works with it and is refused (exit 1, and the reason on both sides) with a
 * wrong secret or none; a worker with a wrong secret never becomes alive and
 * says why; the daemons keep serving throughout. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cluster.h"
#include "tests.h"

typedef struct {
    it_ctx_t *t;
    const it_proc_t *master;
    const it_proc_t *intruder;
    const char *intruder_id;
    size_t wrong_before;        /* "secret is wrong" lines before the intruder came */
    bool seen_alive;
} it_intruder_watch_t;

/* Done once the intruder has been refused at least once on both sides; every
 * status read on the way must not list it alive. */
static bool it_intruder_pred(const json_t *st, void *arg)
{
    it_intruder_watch_t *w = arg;
    if (it_worker_in_state(st, w->intruder_id, "alive"))
        w->seen_alive = true;
    return it_log_count(w->master, "secret is wrong") > w->wrong_before &&
           it_log_has(w->intruder, "secret", NULL);
}

static double it_metric_value(const char *text, const char *series)
{
    size_t n = strlen(series);
    for (const char *s = text; s && *s;) {
        if (!strncmp(s, series, n) && s[n] == ' ')
            return strtod(s + n, NULL);
        const char *nl = strchr(s, '\n');
        s = nl ? nl + 1 : NULL;
    }
    return -1;
}

void it_test_auth(it_ctx_t *t)
{
    char good[IT_PATH_LEN], wrong[IT_PATH_LEN];
    it_path(t, good, "cluster.secret");
    it_path(t, wrong, "wrong.secret");
    IT_CHECK(t, it_write_file(t, good, "correct horse battery staple\n", 0600), "secret file");
    IT_CHECK(t, it_write_file(t, wrong, "incorrect horse\n", 0600), "wrong secret file");

    it_master_t m = { 0 };
    snprintf(m.secret_file, sizeof m.secret_file, "%s", good);
    it_worker_t w1 = { .cores = 2, .memory = "512M", .memory_bytes = 512ull << 20 };
    it_worker_t w2 = { .cores = 4, .memory = "1G", .memory_bytes = 1ull << 30 };
    snprintf(w1.secret_file, sizeof w1.secret_file, "%s", good);
    snprintf(w2.secret_file, sizeof w2.secret_file, "%s", good);
    IT_CHECK(t, it_master_start(t, &m), "start master with --secret-file");
    IT_CHECK(t, it_worker_start(t, &w1, "worker1", &m), "start worker1");
    IT_CHECK(t, it_worker_start(t, &w2, "worker2", &m), "start worker2");
    it_worker_t *const ws[] = { &w1, &w2 };
    IT_CHECK(t, it_wait_alive(t, &m, good, ws, 2, IT_DEADLINE_MS),
             "workers with the secret join (status read with the secret)");
    json_t *st = it_status(t, &m, good, NULL);
    IT_CHECK(t, st != NULL, "status with the right secret");
    bool authed = json_is_true(json_object_get(st, "authenticated"));
    json_decref(st);
    IT_CHECK(t, authed, "\"authenticated\" must be true on a master with --secret-file");

    /* The CLI with a wrong secret. */
    const char *const wrong_args[] = { "--master", m.listen, "--secret-file", wrong, "status", NULL };
    it_run_t r;
    IT_CHECK(t, it_run(t, &r, NULL, IT_CLI_DEADLINE_MS, "sluice", wrong_args), "run sluice");
    int code = r.exit_code;
    char err[600];
    snprintf(err, sizeof err, "%s", r.err);
    it_run_free(&r);
    IT_CHECK(t, code == 1, "sluice with a wrong secret: exit %d, want 1 (stderr '%s')", code, err);
    IT_CHECK(t, !strncmp(err, "sluice: ", 8), "stderr must begin with 'sluice: ': '%s'", err);
    IT_CHECK_CONTAINS(t, err, "secret", "stderr of sluice with a wrong secret");
    IT_CHECK(t, it_wait_log(t, m.proc, "secret is wrong", 1, IT_DEADLINE_MS),
             "the master log says 'secret is wrong'");

    /* The CLI without a secret. */
    const char *const none_args[] = { "--master", m.listen, "status", "--json", NULL };
    IT_CHECK(t, it_run(t, &r, NULL, IT_CLI_DEADLINE_MS, "sluice", none_args), "run sluice");
    code = r.exit_code;
    snprintf(err, sizeof err, "%s", r.err);
    bool out_empty = r.out[0] == '\0';
    it_run_free(&r);
    IT_CHECK(t, code == 1, "sluice without a secret: exit %d, want 1 (stderr '%s')", code, err);
    IT_CHECK(t, !strncmp(err, "sluice: ", 8), "stderr must begin with 'sluice: ': '%s'", err);
    IT_CHECK_CONTAINS(t, err, "--secret-file", "stderr of sluice without a secret");
    IT_CHECK(t, out_empty, "no JSON may be printed when the status could not be read");

    /* A worker with a wrong secret. */
    it_worker_t bad = { .cores = 1, .memory = "128M", .memory_bytes = 128ull << 20 };
    snprintf(bad.secret_file, sizeof bad.secret_file, "%s", wrong);
    IT_CHECK(t, it_worker_start(t, &bad, "intruder", &m), "start the worker with a wrong secret");
    bad.proc->may_die = true;   /* giving up is as fine as retrying */
    it_intruder_watch_t iw = { t, m.proc, bad.proc, bad.id, it_log_count(m.proc, "secret is wrong"),
                               false };
    st = it_wait_status(t, &m, good, it_intruder_pred, &iw, IT_DEADLINE_MS);
    IT_CHECK(t, st != NULL || iw.seen_alive,
             "the intruder is refused: master log gets another 'secret is wrong' line and the "
             "intruder's log mentions the secret");
    bool listed_alive = it_worker_in_state(st, bad.id, "alive");
    bool others = it_worker_in_state(st, w1.id, "alive") && it_worker_in_state(st, w2.id, "alive");
    json_decref(st);
    IT_CHECK(t, !iw.seen_alive && !listed_alive, "a worker with a wrong secret was listed alive");
    IT_CHECK(t, others, "worker1 and worker2 stay alive");
    IT_CHECK(t, it_log_has(bad.proc, "secret", NULL), "intruder log says why");

    /* Still serving, and the refusals are counted. */
    IT_CHECK(t, it_proc_alive(m.proc), "master running");
    IT_CHECK(t, it_wait_alive(t, &m, good, ws, 2, IT_DEADLINE_MS), "status still works");
    char *body;
    IT_CHECK(t, it_http_get(t, m.http, "/metrics", &code, &body), "GET /metrics");
    double rejected = it_metric_value(body, "sluice_connections_rejected_total");
    free(body);
    IT_CHECK(t, rejected >= 3,
             "sluice_connections_rejected_total is %g after a wrong-secret CLI, a secret-less CLI "
             "and a wrong-secret worker (want >= 3)", rejected);
}
