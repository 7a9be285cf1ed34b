/* The `sluice` command-line tool: global flags, then a subcommand looked up
 * in a table. Exit codes: 0 done, 1 the operation failed, 2 usage error. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "flags.h"
#include "parse.h"
#include "sluice.h"

typedef struct {
    const char *masters;
    const char *secret_file;
    uint64_t timeout_ms;
} sl_cli_globals_t;

typedef int (*sl_cli_fn)(const sl_cli_globals_t *g, int argc, char **argv);

static void sl_cli_usage(FILE *out);

/* Parses a subcommand's own flags; returns -1 to go on, else an exit code. */
static int sl_cli_subflags(const char *cmd, const char *usage, const char *summary,
                           const sl_flag_t *flags, size_t n, int argc, char **argv, int *next)
{
    char err[SL_ERRMSG_LEN];
    bool help;
    *next = 1;
    if (sl_flags_parse(flags, n, argc, argv, next, &help, err) != SL_OK) {
        fprintf(stderr, "sluice %s: %s\n", cmd, err);
        return 2;
    }
    if (help) {
        sl_flags_usage(stdout, usage, summary, flags, n);
        return 0;
    }
    if (*next < argc) {
        fprintf(stderr, "sluice %s: unexpected argument '%s'\n", cmd, argv[*next]);
        return 2;
    }
    return -1;
}

static sl_client_t *sl_cli_connect(const sl_cli_globals_t *g)
{
    char err[SL_ERRMSG_LEN];
    sl_client_t *c = NULL;
    if (sl_client_open(g->masters, g->secret_file, g->timeout_ms, &c, err) != SL_OK) {
        fprintf(stderr, "sluice: %s\n", err);
        return NULL;
    }
    return c;
}

static void sl_cli_human_size(uint64_t bytes, char *buf, size_t len)
{
    const char *units = "BKMGT";
    double v = (double)bytes;
    size_t u = 0;
    while (v >= 1024 && u < 4) {
        v /= 1024;
        u++;
    }
    snprintf(buf, len, u ? "%.1f%c" : "%.0f%c", v, units[u]);
}

static int sl_cli_status(const sl_cli_globals_t *g, int argc, char **argv)
{
    bool json = false;
    const sl_flag_t flags[] = {
        { "json", SL_FLAG_BOOL, &json, NULL, "print the status as JSON", 0, 0 },
    };
    int next, rc = sl_cli_subflags("status", "sluice [global flags] status [--json]",
                                   "Shows the master and every worker it knows: id, address, "
                                   "cores, memory, state, last heartbeat.",
                                   flags, 1, argc, argv, &next);
    if (rc >= 0)
        return rc;
    sl_client_t *c = sl_cli_connect(g);
    if (!c)
        return 1;
    char err[SL_ERRMSG_LEN];
    sl_cluster_info_t *info = NULL;
    if (sl_cluster_status(c, &info, err) != SL_OK) {
        fprintf(stderr, "sluice: %s\n", err);
        sl_client_close(c);
        return 1;
    }
    if (json) {
        char *text = sl_cluster_info_json(info);
        if (text)
            printf("%s\n", text);
        free(text);
        rc = text ? 0 : 1;
    } else {
        char tmo[32], up[32];
        sl_format_duration_ms(sl_cluster_worker_timeout_ms(info), tmo, sizeof tmo);
        sl_format_duration_ms(sl_cluster_uptime_ms(info) / 1000 * 1000, up, sizeof up);
        printf("master %s  up %s  auth %s  worker timeout %s\n", sl_cluster_master_address(info),
               up, sl_cluster_authenticated(info) ? "on" : "off", tmo);
        printf("%-28s %-22s %5s %8s %-6s %s\n", "WORKER", "ADDRESS", "CORES", "MEMORY", "STATE",
               "LAST HEARTBEAT");
        for (size_t i = 0; i < sl_cluster_worker_count(info); i++) {
            char mem[32];
            sl_cli_human_size(sl_cluster_worker_memory(info, i), mem, sizeof mem);
            bool alive = sl_cluster_worker_alive(info, i);
            printf("%-28s %-22s %5u %8s %-6s %.1fs ago%s%s\n", sl_cluster_worker_id(info, i),
                   sl_cluster_worker_address(info, i), sl_cluster_worker_cores(info, i), mem,
                   alive ? "alive" : "dead",
                   (double)sl_cluster_worker_heartbeat_ago_ms(info, i) / 1000.0,
                   alive ? "" : "  ", alive ? "" : sl_cluster_worker_dead_reason(info, i));
        }
        rc = 0;
    }
    sl_cluster_info_free(info);
    sl_client_close(c);
    return rc;
}

static const struct {
    const char *name;
    sl_cli_fn fn;
    const char *summary;
} sl_cli_commands[] = {
    { "status", sl_cli_status, "show the master and its workers" },
};

static void sl_cli_usage(FILE *out)
{
    fprintf(out,
            "Usage: sluice [--master ADDRS] [--secret-file FILE] [--timeout DUR] COMMAND [ARGS]\n\n"
            "Controls a Sluice cluster.\n\n"
            "Global flags:\n"
            "  --master ADDRS         master address list host:port[,host:port] "
            "(default $SLUICE_MASTER)\n"
            "  --secret-file FILE     shared secret of the cluster\n"
            "  --timeout DUR          bound on each request (default 10s)\n"
            "  --help                 show this help\n\nCommands:\n");
    for (size_t i = 0; i < sizeof sl_cli_commands / sizeof *sl_cli_commands; i++)
        fprintf(out, "  %-22s %s\n", sl_cli_commands[i].name, sl_cli_commands[i].summary);
    fprintf(out, "\n'sluice COMMAND --help' describes a command.\n");
}

int main(int argc, char **argv)
{
    sl_cli_globals_t g = { .masters = getenv("SLUICE_MASTER"), .timeout_ms = 10000 };
    const sl_flag_t flags[] = {
        { "master", SL_FLAG_ADDR_LIST, &g.masters, "ADDRS", "", 0, 0 },
        { "secret-file", SL_FLAG_STRING, &g.secret_file, "FILE", "", 0, 0 },
        { "timeout", SL_FLAG_DURATION, &g.timeout_ms, "DUR", "", 1, 3600000 },
    };
    char err[SL_ERRMSG_LEN];
    bool help;
    int next = 1;
    if (sl_flags_parse(flags, sizeof flags / sizeof *flags, argc, argv, &next, &help, err) != SL_OK) {
        fprintf(stderr, "sluice: %s\n", err);
        return 2;
    }
    if (help) {
        sl_cli_usage(stdout);
        return 0;
    }
    if (next >= argc) {
        sl_cli_usage(stderr);
        return 2;
    }
    for (size_t i = 0; i < sizeof sl_cli_commands / sizeof *sl_cli_commands; i++)
        if (strcmp(argv[next], sl_cli_commands[i].name) == 0)
            return sl_cli_commands[i].fn(&g, argc - next, argv + next);
    fprintf(stderr, "sluice: unknown command '%s' (see 'sluice --help')\n", argv[next]);
    return 2;
}
