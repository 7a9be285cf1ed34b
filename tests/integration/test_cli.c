/* cli_usage: the command lines of sluice, sluice-master and sluice-worker:
 * --help everywhere, usage errors (exit 2, one line naming the flag and
 * quoting the value), runtime errors (exit 1, "sluice: ..."), and
 * SLUICE_MASTER. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cluster.h"
#include "tests.h"

/* Case-insensitive strstr (strcasestr is a GNU extension). */
static bool it_icontains(const char *hay, const char *needle)
{
    size_t n = strlen(needle);
    for (; *hay; hay++) {
        size_t i = 0;
        while (i < n && hay[i] && tolower((unsigned char)hay[i]) == tolower((unsigned char)needle[i]))
            i++;
        if (i == n)
            return true;
    }
    return n == 0;
}

/* The value appears quoted: 'v', "v" or `v'. */
static bool it_quotes(const char *hay, const char *value)
{
    static const char *const forms[] = { "'%s'", "\"%s\"", "`%s'" };
    for (size_t i = 0; i < sizeof forms / sizeof *forms; i++) {
        char q[128];
        snprintf(q, sizeof q, forms[i], value);
        if (strstr(hay, q))
            return true;
    }
    return false;
}

typedef struct {
    const char *prog;
    const char *args[6];
    const char *must_mention[3];    /* words the usage text must contain */
} it_help_case_t;

static const it_help_case_t it_help_cases[] = {
    { "sluice-master", { "--help" }, { "--listen", "--http", "--worker-timeout" } },
    { "sluice-worker", { "--help" }, { "--master", "--listen", "--memory" } },
    { "sluice", { "--help" }, { "status", "--master", "--secret-file" } },
    { "sluice", { "status", "--help" }, { "--json" } },
    { "sluice", { "stop", "--help" }, { "--graceful", "--timeout" } },
};

/* A usage error: which flag it must name and which value it must quote. */
typedef struct {
    const char *prog;
    const char *args[12];
    const char *flag;
    const char *value;          /* must appear quoted */
} it_usage_case_t;

/* "A"/"B" in args stand for two free loopback addresses, so that a daemon that
 * wrongly accepted the command line would start rather than fail for an
 * unrelated reason. */
static const it_usage_case_t it_usage_cases[] = {
    { "sluice", { "--bogus", "status" }, "--bogus", "--bogus" },
    { "sluice", { "--master", "A", "status", "--bogus" }, "--bogus", "--bogus" },
    { "sluice", { "--master", "A", "--timeout", "abc", "status" }, "--timeout", "abc" },
    { "sluice", { "--master", "not-an-address", "status" }, "--master", "not-an-address" },
    { "sluice", { "--master", "A", "frobnicate" }, NULL, "frobnicate" },
    { "sluice", { "--master", "A", "stop", "wc", "--timeout", "5s" }, "--timeout", NULL },
    { "sluice", { "--master", "A", "stop", "wc", "--graceful", "--timeout", "soon" }, "--timeout",
      "soon" },
    { "sluice-master", { "--listen", "A", "--http", "B", "--worker-timeout", "10x" },
      "--worker-timeout", "10x" },
    { "sluice-master", { "--listen", "A", "--http", "B", "--bogus" }, "--bogus", "--bogus" },
    { "sluice-master", { "--listen", "nonsense", "--http", "B" }, "--listen", "nonsense" },
    { "sluice-worker", { "--master", "A", "--listen", "B", "--memory", "12Q" }, "--memory", "12Q" },
    { "sluice-worker", { "--master", "A", "--listen", "B", "--cores", "abc" }, "--cores", "abc" },
    { "sluice-worker", { "--master", "A", "--listen", "B", "--bogus" }, "--bogus", "--bogus" },
};

static void it_fill_args(const char *const in[], const char *a, const char *b, const char *out[])
{
    size_t n = 0;
    for (; in[n]; n++)
        out[n] = !strcmp(in[n], "A") ? a : !strcmp(in[n], "B") ? b : in[n];
    out[n] = NULL;
}

static void it_cli_help(it_ctx_t *t)
{
    for (size_t i = 0; i < sizeof it_help_cases / sizeof *it_help_cases; i++) {
        const it_help_case_t *c = &it_help_cases[i];
        it_run_t r;
        IT_CHECK(t, it_run(t, &r, NULL, IT_CLI_DEADLINE_MS, c->prog, c->args), "run %s", c->prog);
        char what[128];
        snprintf(what, sizeof what, "%s %s%s", c->prog, c->args[0], c->args[1] ? " --help" : "");
        int code = r.exit_code;
        bool usage = it_icontains(r.out, "usage");
        const char *missing = NULL;
        for (size_t k = 0; k < 3 && c->must_mention[k]; k++)
            if (!strstr(r.out, c->must_mention[k]))
                missing = c->must_mention[k];
        bool err_empty = r.err[0] == '\0';
        char out[600], err[300];
        snprintf(out, sizeof out, "%s", r.out);
        snprintf(err, sizeof err, "%s", r.err);
        it_run_free(&r);
        IT_CHECK(t, code == 0, "%s: exit %d, want 0 (stderr: %s)", what, code, err);
        IT_CHECK(t, usage, "%s: stdout has no usage text: '%s'", what, out);
        IT_CHECK(t, missing == NULL, "%s: usage does not mention '%s': '%s'", what, missing, out);
        IT_CHECK(t, err_empty, "%s: usage must go to stdout, stderr has '%s'", what, err);
    }
}

static void it_cli_usage_errors(it_ctx_t *t)
{
    char a[IT_ADDR_LEN], b[IT_ADDR_LEN];
    IT_CHECK(t, it_free_addr(t, a) && it_free_addr(t, b), "free ports");
    for (size_t i = 0; i < sizeof it_usage_cases / sizeof *it_usage_cases; i++) {
        const it_usage_case_t *c = &it_usage_cases[i];
        const char *args[16];
        it_fill_args(c->args, a, b, args);
        char what[256] = "";
        size_t n = (size_t)snprintf(what, sizeof what, "%s", c->prog);
        for (size_t k = 0; args[k] && n < sizeof what; k++)
            n += (size_t)snprintf(what + n, sizeof what - n, " %s", args[k]);

        it_run_t r;
        IT_CHECK(t, it_run(t, &r, NULL, IT_CLI_DEADLINE_MS, c->prog, args), "run %s", what);
        int code = r.exit_code;
        bool timed_out = r.timed_out;
        size_t lines = it_count_lines(r.err);
        bool names_flag = !c->flag || strstr(r.err, c->flag) != NULL;
        bool quotes = !c->value || it_quotes(r.err, c->value);
        /* "sluice: ..." or, for an error inside a subcommand, "sluice status: ...". */
        bool prefix = strcmp(c->prog, "sluice") != 0 || !strncmp(r.err, "sluice: ", 8) ||
                      !strncmp(r.err, "sluice status: ", 15) || !strncmp(r.err, "sluice stop: ", 13);
        char err[600];
        snprintf(err, sizeof err, "%s", r.err);
        it_run_free(&r);
        IT_CHECK(t, !timed_out, "%s: still running after %d ms (should refuse its command line)",
                 what, IT_CLI_DEADLINE_MS);
        IT_CHECK(t, code == 2, "%s: exit %d, want 2 (stderr: '%s')", what, code, err);
        IT_CHECK(t, lines == 1, "%s: stderr has %zu lines, want exactly 1: '%s'", what, lines, err);
        IT_CHECK(t, names_flag, "%s: stderr does not name %s: '%s'", what, c->flag, err);
        IT_CHECK(t, quotes, "%s: stderr does not quote '%s': '%s'", what, c->value, err);
        IT_CHECK(t, prefix, "%s: stderr does not begin with 'sluice: ' or 'sluice COMMAND: ': '%s'",
                 what, err);
    }
}

/* Runs `sluice status` with env and args, returning exit code and outputs
 * (copied into out/err, truncated). */
typedef struct {
    int code;
    bool timed_out;
    char out[4096];
    char err[1024];
} it_cli_result_t;

static bool it_cli(it_ctx_t *t, const char *const env[], const char *const args[],
                   it_cli_result_t *res)
{
    it_run_t r;
    if (!it_run(t, &r, env, IT_CLI_DEADLINE_MS, "sluice", args))
        return false;
    res->code = r.exit_code;
    res->timed_out = r.timed_out;
    snprintf(res->out, sizeof res->out, "%s", r.out);
    snprintf(res->err, sizeof res->err, "%s", r.err);
    it_run_free(&r);
    return true;
}

static void it_cli_unreachable(it_ctx_t *t)
{
    char dead[IT_ADDR_LEN], dead2[IT_ADDR_LEN], list[2 * IT_ADDR_LEN + 2];
    IT_CHECK(t, it_free_addr(t, dead) && it_free_addr(t, dead2), "free ports");
    snprintf(list, sizeof list, "%s,%s", dead, dead2);
    const char *const cases[][6] = {
        { "--master", dead, "status", NULL },
        { "--master", dead, "status", "--json", NULL },
        { "--master", list, "--timeout", "5s", "status", NULL },
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        it_cli_result_t res;
        IT_CHECK(t, it_cli(t, NULL, cases[i], &res), "run sluice");
        IT_CHECK(t, !res.timed_out, "sluice --master %s status: still running after %d ms",
                 cases[i][1], IT_CLI_DEADLINE_MS);
        IT_CHECK(t, res.code == 1, "sluice --master %s status with no master there: exit %d, "
                 "want 1 (stderr: '%s')", cases[i][1], res.code, res.err);
        IT_CHECK(t, !strncmp(res.err, "sluice: ", 8),
                 "stderr must begin with 'sluice: ': '%s'", res.err);
        IT_CHECK(t, strstr(res.err, dead) != NULL,
                 "the message should say which master could not be reached (%s): '%s'", dead,
                 res.err);
        IT_CHECK(t, res.out[0] == '\0', "nothing on stdout on failure, got '%s'", res.out);
    }
}

static void it_cli_env_master(it_ctx_t *t)
{
    it_master_t m = { 0 };
    IT_CHECK(t, it_master_start(t, &m), "start master");
    char dead[IT_ADDR_LEN], env_live[IT_ADDR_LEN + 16], env_dead[IT_ADDR_LEN + 16];
    char dead_live[3 * IT_ADDR_LEN];
    IT_CHECK(t, it_free_addr(t, dead), "free port");
    snprintf(env_live, sizeof env_live, "SLUICE_MASTER=%s", m.listen);
    snprintf(env_dead, sizeof env_dead, "SLUICE_MASTER=%s", dead);
    snprintf(dead_live, sizeof dead_live, "%s,%s", dead, m.listen);

    /* $SLUICE_MASTER alone finds the master. */
    const char *const env1[] = { env_live, NULL };
    const char *const json_args[] = { "status", "--json", NULL };
    it_cli_result_t res;
    IT_CHECK(t, it_cli(t, env1, json_args, &res), "run sluice");
    IT_CHECK(t, res.code == 0, "SLUICE_MASTER=%s sluice status --json: exit %d (stderr '%s')",
             m.listen, res.code, res.err);
    json_error_t jerr;
    json_t *st = json_loads(res.out, 0, &jerr);
    IT_CHECK(t, st != NULL, "status --json output is not JSON (%s): '%s'", jerr.text, res.out);
    char why[IT_MSG_LEN] = "";
    bool shape = it_status_shape_ok(st, why);
    char master[IT_ADDR_LEN];
    snprintf(master, sizeof master, "%s", it_jstr(st, "master"));
    size_t nworkers = json_array_size(json_object_get(st, "workers"));
    bool auth = json_is_true(json_object_get(st, "authenticated"));
    long long wt = it_jint(st, "worker_timeout_ms");
    json_decref(st);
    IT_CHECK(t, shape, "%s", why);
    IT_CHECK(t, !strcmp(master, m.listen), "\"master\" is '%s', want '%s'", master, m.listen);
    IT_CHECK_EQ(t, nworkers, 0, "workers listed by a master nobody joined");
    IT_CHECK(t, !auth, "\"authenticated\" is true on a master without --secret-file");
    IT_CHECK_EQ(t, wt, 2000, "worker_timeout_ms for --worker-timeout 2s");

    /* ...and it is really what is used: pointing it elsewhere fails. */
    const char *const env2[] = { env_dead, NULL };
    const char *const plain_args[] = { "status", NULL };
    IT_CHECK(t, it_cli(t, env2, plain_args, &res), "run sluice");
    IT_CHECK(t, res.code == 1, "SLUICE_MASTER=%s (nobody there): exit %d, want 1 (stderr '%s')",
             dead, res.code, res.err);

    /* --master wins over the environment. */
    const char *const flag_args[] = { "--master", m.listen, "status", NULL };
    IT_CHECK(t, it_cli(t, env2, flag_args, &res), "run sluice");
    IT_CHECK(t, res.code == 0, "--master %s with SLUICE_MASTER=%s: exit %d, want 0 (stderr '%s')",
             m.listen, dead, res.code, res.err);
    IT_CHECK(t, res.out[0] != '\0', "sluice status printed nothing");

    /* A list of masters: the unreachable one is skipped. */
    const char *const list_args[] = { "--master", dead_live, "status", "--json", NULL };
    IT_CHECK(t, it_cli(t, NULL, list_args, &res), "run sluice");
    IT_CHECK(t, res.code == 0, "--master %s: exit %d, want 0 (stderr '%s')", dead_live, res.code,
             res.err);
}

void it_test_cli_usage(it_ctx_t *t)
{
    it_cli_help(t);
    if (t->failed)
        return;
    it_cli_usage_errors(t);
    if (t->failed)
        return;
    it_cli_unreachable(t);
    if (t->failed)
        return;
    it_cli_env_master(t);
}
