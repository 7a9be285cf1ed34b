/* Cluster membership end to end: workers register with their resources, a
 * killed worker is declared dead and comes back under the same id, a frozen
 * worker is declared dead by heartbeat timeout (never early), workers find a
 * restarted master on their own, and every daemon exits 0 on SIGTERM. */
#include <ctype.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "cluster.h"
#include "tests.h"

#define IT_TIMEOUT_MS 2000      /* --worker-timeout 2s */
#define IT_LATE_SLACK_MS 1500   /* how late a heartbeat-timeout verdict may be */

static uint64_t it_unix_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static bool it_ci_contains(const char *hay, const char *needle)
{
    size_t n = strlen(needle);
    for (; *hay; hay++) {
        size_t i = 0;
        while (i < n && hay[i] && tolower((unsigned char)hay[i]) == tolower((unsigned char)needle[i]))
            i++;
        if (i == n)
            return true;
    }
    return false;
}

static void it_worker_init(it_worker_t *w, unsigned cores, const char *memory, uint64_t bytes)
{
    memset(w, 0, sizeof *w);
    w->cores = cores;
    snprintf(w->memory, sizeof w->memory, "%s", memory);
    w->memory_bytes = bytes;
}

/* Master + two workers (2 cores/512M and 4 cores/1G), both alive. */
static bool it_two_worker_cluster(it_ctx_t *t, it_master_t *m, it_worker_t *w1, it_worker_t *w2)
{
    memset(m, 0, sizeof *m);
    it_worker_init(w1, 2, "512M", 512ull << 20);
    it_worker_init(w2, 4, "1G", 1ull << 30);
    if (!it_master_start(t, m) || !it_worker_start(t, w1, "worker1", m) ||
        !it_worker_start(t, w2, "worker2", m))
        return false;
    it_worker_t *const ws[] = { w1, w2 };
    return it_wait_alive(t, m, NULL, ws, 2, IT_DEADLINE_MS);
}

/* Watches one worker while waiting for something about another: it must stay
 * alive with exactly `registrations` registrations in every status read. */
typedef struct {
    const it_worker_t *target;
    const char *want_state;
    const it_worker_t *bystander;
    long long bystander_regs;
    char violation[1024];
} it_watch_t;

static bool it_watch_pred(const json_t *st, void *arg)
{
    it_watch_t *w = arg;
    if (w->bystander && !w->violation[0]) {
        json_t *b = it_status_worker(st, w->bystander->id);
        if (!b || strcmp(it_jstr(b, "state"), "alive") ||
            it_jint(b, "registrations") != w->bystander_regs) {
            char *dump = json_dumps(st, JSON_COMPACT);
            snprintf(w->violation, sizeof w->violation,
                     "%s should stay alive with %lld registration(s), status was: %.400s",
                     w->bystander->id, w->bystander_regs, dump ? dump : "?");
            free(dump);
        }
    }
    return it_worker_in_state(st, w->target->id, w->want_state);
}

/* Checks what `status --json` says about a worker against how it was started. */
static void it_check_worker_entry(it_ctx_t *t, const json_t *st, const it_worker_t *w,
                                  long long regs, uint64_t started_unix_ms)
{
    json_t *e = it_status_worker(st, w->id);
    IT_CHECK(t, e != NULL, "worker %s not listed", w->id);
    IT_CHECK(t, !strcmp(it_jstr(e, "state"), "alive"), "%s: state '%s'", w->id,
             it_jstr(e, "state"));
    IT_CHECK(t, !strcmp(it_jstr(e, "address"), w->listen), "%s: address '%s', want '%s'", w->id,
             it_jstr(e, "address"), w->listen);
    IT_CHECK_EQ(t, it_jint(e, "cores"), w->cores, "cores");
    IT_CHECK_EQ(t, it_jint(e, "memory_bytes"), w->memory_bytes, "memory_bytes");
    IT_CHECK_EQ(t, it_jint(e, "registrations"), regs, "registrations");
    IT_CHECK(t, it_jint(e, "last_heartbeat_ago_ms") <= IT_TIMEOUT_MS,
             "%s alive but last heartbeat %lld ms ago (timeout %d ms)", w->id,
             it_jint(e, "last_heartbeat_ago_ms"), IT_TIMEOUT_MS);
    long long reg_at = it_jint(e, "registered_at_unix_ms");
    uint64_t now = it_unix_ms();
    IT_CHECK(t, reg_at + 1000 >= (long long)started_unix_ms && reg_at <= (long long)now + 1000,
             "%s: registered_at_unix_ms %lld is not between the test start %llu and now %llu",
             w->id, reg_at, (unsigned long long)started_unix_ms, (unsigned long long)now);
}

void it_test_cluster_membership(it_ctx_t *t)
{
    uint64_t t0 = it_unix_ms();
    it_master_t m;
    it_worker_t w1, w2;
    IT_CHECK(t, it_two_worker_cluster(t, &m, &w1, &w2), "cluster of a master and two workers");

    json_t *st = it_status(t, &m, NULL, NULL);
    IT_CHECK(t, st != NULL, "sluice status --json");
    char master[IT_ADDR_LEN];
    snprintf(master, sizeof master, "%s", it_jstr(st, "master"));
    long long wt = it_jint(st, "worker_timeout_ms");
    size_t n = json_array_size(json_object_get(st, "workers"));
    bool auth = json_is_true(json_object_get(st, "authenticated"));
    it_check_worker_entry(t, st, &w1, 1, t0);
    if (!t->failed)
        it_check_worker_entry(t, st, &w2, 1, t0);
    json_decref(st);
    if (t->failed)
        return;
    IT_CHECK(t, !strcmp(master, m.listen), "\"master\" is '%s', want '%s'", master, m.listen);
    IT_CHECK_EQ(t, wt, IT_TIMEOUT_MS, "worker_timeout_ms");
    IT_CHECK_EQ(t, n, 2, "number of workers listed");
    IT_CHECK(t, !auth, "\"authenticated\" true without --secret-file");

    /* The human-readable form lists both workers too. */
    const char *const args[] = { "--master", m.listen, "status", NULL };
    it_run_t r;
    IT_CHECK(t, it_run(t, &r, NULL, IT_CLI_DEADLINE_MS, "sluice", args), "run sluice status");
    int code = r.exit_code;
    bool has1 = strstr(r.out, w1.id) != NULL, has2 = strstr(r.out, w2.id) != NULL;
    char out[800];
    snprintf(out, sizeof out, "%s", r.out);
    it_run_free(&r);
    IT_CHECK(t, code == 0, "sluice status: exit %d", code);
    IT_CHECK(t, has1 && has2, "sluice status does not list %s and %s: '%s'", w1.id, w2.id, out);

    /* kill -9: the connection drops, so the master knows at once. */
    IT_CHECK(t, it_proc_kill9(t, w1.proc), "kill -9 worker1");
    it_watch_t watch = { &w1, "dead", &w2, 1, "" };
    st = it_wait_status(t, &m, NULL, it_watch_pred, &watch, IT_DEADLINE_MS);
    IT_CHECK(t, st != NULL, "worker1 marked dead after kill -9");
    json_t *e = it_status_worker(st, w1.id);
    char reason[256];
    snprintf(reason, sizeof reason, "%s", it_jstr(e, "dead_reason"));
    long long silent = it_jint(e, "silent_ms_when_declared_dead");
    n = json_array_size(json_object_get(st, "workers"));
    json_decref(st);
    IT_CHECK(t, !watch.violation[0], "%s", watch.violation);
    IT_CHECK(t, reason[0] != '\0', "a dead worker needs a dead_reason");
    IT_CHECK_EQ(t, silent, 0, "silent_ms_when_declared_dead of a worker whose connection dropped");
    IT_CHECK_EQ(t, n, 2, "workers listed (the dead one stays listed)");

    /* Same flags again: same id, alive, second registration. */
    w1.proc = it_respawn(t, w1.proc);
    IT_CHECK(t, w1.proc != NULL, "restart worker1");
    watch = (it_watch_t){ &w1, "alive", &w2, 1, "" };
    st = it_wait_status(t, &m, NULL, it_watch_pred, &watch, IT_DEADLINE_MS);
    IT_CHECK(t, st != NULL, "restarted worker1 alive again");
    it_check_worker_entry(t, st, &w1, 2, t0);
    n = json_array_size(json_object_get(st, "workers"));
    json_decref(st);
    if (t->failed)
        return;
    IT_CHECK(t, !watch.violation[0], "%s", watch.violation);
    IT_CHECK_EQ(t, n, 2, "workers listed after the restart (same id, no duplicate)");
}

void it_test_heartbeat_timeout(it_ctx_t *t)
{
    it_master_t m;
    it_worker_t w1, w2;
    IT_CHECK(t, it_two_worker_cluster(t, &m, &w1, &w2), "cluster of a master and two workers");

    /* Frozen, not dead: the kernel keeps its connection open, so only the
     * missing heartbeats can give it away. */
    IT_CHECK(t, it_proc_signal(t, w1.proc, SIGSTOP), "SIGSTOP worker1");
    it_watch_t watch = { &w1, "dead", &w2, 1, "" };
    json_t *st = it_wait_status(t, &m, NULL, it_watch_pred, &watch, IT_DEADLINE_MS);
    IT_CHECK(t, st != NULL, "frozen worker1 marked dead");
    json_t *e = it_status_worker(st, w1.id);
    long long silent = it_jint(e, "silent_ms_when_declared_dead");
    long long ago = it_jint(e, "last_heartbeat_ago_ms");
    long long wt = it_jint(st, "worker_timeout_ms");
    char reason[256];
    snprintf(reason, sizeof reason, "%s", it_jstr(e, "dead_reason"));
    json_decref(st);
    IT_CHECK(t, !watch.violation[0], "%s", watch.violation);
    IT_CHECK_EQ(t, wt, IT_TIMEOUT_MS, "worker_timeout_ms");
    IT_CHECK(t, silent >= wt, "declared dead early: silent for %lld ms < timeout %lld ms", silent,
             wt);
    IT_CHECK(t, silent <= wt + IT_LATE_SLACK_MS,
             "declared dead late: silent for %lld ms > timeout %lld ms + %d ms", silent, wt,
             IT_LATE_SLACK_MS);
    IT_CHECK(t, ago >= silent, "last_heartbeat_ago_ms %lld < silent_ms_when_declared_dead %lld",
             ago, silent);
    IT_CHECK(t, it_ci_contains(reason, "heartbeat"), "dead_reason '%s' does not mention heartbeat",
             reason);

    IT_CHECK(t, it_proc_signal(t, w1.proc, SIGCONT), "SIGCONT worker1");
    watch = (it_watch_t){ &w1, "alive", &w2, 1, "" };
    st = it_wait_status(t, &m, NULL, it_watch_pred, &watch, IT_DEADLINE_MS);
    IT_CHECK(t, st != NULL, "worker1 alive again after SIGCONT");
    json_decref(st);
    IT_CHECK(t, !watch.violation[0], "%s", watch.violation);
    IT_CHECK(t, it_proc_alive(w1.proc), "worker1 still running");
}

void it_test_master_restart(it_ctx_t *t)
{
    it_master_t m = { 0 };
    it_worker_t w1, w2;
    char dead[IT_ADDR_LEN];
    it_worker_init(&w1, 2, "512M", 512ull << 20);
    it_worker_init(&w2, 4, "1G", 1ull << 30);
    IT_CHECK(t, it_master_start(t, &m), "start master");
    /* worker2 is given a dead address first: it must move on to the next. */
    IT_CHECK(t, it_free_addr(t, dead), "free port");
    snprintf(w2.masters, sizeof w2.masters, "%s,%s", dead, m.listen);
    IT_CHECK(t, it_worker_start(t, &w1, "worker1", &m), "start worker1");
    IT_CHECK(t, it_worker_start(t, &w2, "worker2", &m), "start worker2");
    it_worker_t *const ws[] = { &w1, &w2 };
    IT_CHECK(t, it_wait_alive(t, &m, NULL, ws, 2, IT_DEADLINE_MS), "both workers alive");

    IT_CHECK(t, it_proc_kill9(t, m.proc), "kill -9 master");
    uint64_t restarted = it_unix_ms();
    /* A new master on the same ports; nothing tells the workers. */
    IT_CHECK(t, it_master_start(t, &m), "start a new master on %s", m.listen);
    json_t *st = NULL;
    IT_CHECK(t, it_wait_alive(t, &m, NULL, ws, 2, IT_DEADLINE_MS),
             "both workers re-registered with the new master");
    st = it_status(t, &m, NULL, NULL);
    IT_CHECK(t, st != NULL, "status");
    it_check_worker_entry(t, st, &w1, 1, restarted);
    if (!t->failed)
        it_check_worker_entry(t, st, &w2, 1, restarted);
    size_t n = json_array_size(json_object_get(st, "workers"));
    json_decref(st);
    if (t->failed)
        return;
    IT_CHECK_EQ(t, n, 2, "workers listed by the new master");
    IT_CHECK(t, it_proc_alive(w1.proc) && it_proc_alive(w2.proc), "workers kept running");
}

void it_test_clean_shutdown(it_ctx_t *t)
{
    it_master_t m;
    it_worker_t w1, w2;
    char desc[96];
    IT_CHECK(t, it_two_worker_cluster(t, &m, &w1, &w2), "cluster of a master and two workers");

    IT_CHECK(t, it_proc_signal(t, w1.proc, SIGTERM), "SIGTERM worker1");
    IT_CHECK(t, it_proc_wait_exit(t, w1.proc, IT_DEADLINE_MS), "worker1 exits after SIGTERM");
    IT_CHECK(t, it_proc_exit_code(w1.proc) == 0, "worker1 after SIGTERM: %s, want exit 0",
             it_proc_describe(w1.proc, desc, sizeof desc));
    it_watch_t watch = { &w1, "dead", &w2, 1, "" };
    json_t *st = it_wait_status(t, &m, NULL, it_watch_pred, &watch, IT_DEADLINE_MS);
    IT_CHECK(t, st != NULL, "the master notices worker1 left");
    json_decref(st);
    IT_CHECK(t, !watch.violation[0], "%s", watch.violation);

    IT_CHECK(t, it_proc_signal(t, w2.proc, SIGTERM), "SIGTERM worker2");
    IT_CHECK(t, it_proc_wait_exit(t, w2.proc, IT_DEADLINE_MS), "worker2 exits after SIGTERM");
    IT_CHECK(t, it_proc_exit_code(w2.proc) == 0, "worker2 after SIGTERM: %s, want exit 0",
             it_proc_describe(w2.proc, desc, sizeof desc));

    IT_CHECK(t, it_proc_signal(t, m.proc, SIGTERM), "SIGTERM master");
    IT_CHECK(t, it_proc_wait_exit(t, m.proc, IT_DEADLINE_MS), "master exits after SIGTERM");
    IT_CHECK(t, it_proc_exit_code(m.proc) == 0, "master after SIGTERM: %s, want exit 0",
             it_proc_describe(m.proc, desc, sizeof desc));

    /* SIGINT (Ctrl-C) is a clean stop too, also with workers still connected. */
    it_master_t m2 = { 0 };
    it_worker_t w3;
    it_worker_init(&w3, 1, "256M", 256ull << 20);
    IT_CHECK(t, it_master_start(t, &m2), "start a second master");
    IT_CHECK(t, it_worker_start(t, &w3, "worker3", &m2), "start worker3");
    it_worker_t *const ws[] = { &w3 };
    IT_CHECK(t, it_wait_alive(t, &m2, NULL, ws, 1, IT_DEADLINE_MS), "worker3 alive");
    IT_CHECK(t, it_proc_signal(t, m2.proc, SIGINT), "SIGINT master");
    IT_CHECK(t, it_proc_wait_exit(t, m2.proc, IT_DEADLINE_MS), "master exits after SIGINT");
    IT_CHECK(t, it_proc_exit_code(m2.proc) == 0, "master after SIGINT: %s, want exit 0",
             it_proc_describe(m2.proc, desc, sizeof desc));
    /* Its worker outlives it (it will look for a master again) and still
     * stops cleanly. */
    IT_CHECK(t, it_proc_alive(w3.proc), "worker3 must keep running when its master goes away");
    IT_CHECK(t, it_proc_signal(t, w3.proc, SIGTERM), "SIGTERM worker3");
    IT_CHECK(t, it_proc_wait_exit(t, w3.proc, IT_DEADLINE_MS), "worker3 exits after SIGTERM");
    IT_CHECK(t, it_proc_exit_code(w3.proc) == 0, "worker3 after SIGTERM: %s, want exit 0",
             it_proc_describe(w3.proc, desc, sizeof desc));
}
