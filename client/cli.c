/* The `sluice` command-line tool: global flags, then a subcommand looked up
 * in a table. A subcommand reads its own arguments, then sl_cli_run()
 * connects, runs its body (the part that talks to the cluster) and reports
 * failures. Exit codes: 0 done, 1 the operation failed, 2 usage error. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "flags.h"
#include "log.h"
#include "parse.h"
#include "sluice.h"
#include "timeutil.h"

typedef struct {
    const char *masters;
    const char *secret_file;
    uint64_t timeout_ms;
} sl_cli_globals_t;

typedef int (*sl_cli_fn)(const sl_cli_globals_t *g, int argc, char **argv);

/* How a subcommand reads its command line: flags anywhere, positional
 * arguments named for errors ("JOB", "STREAM"), `min` of them required. */
typedef struct {
    const char *cmd;
    const char *usage;
    const char *summary;
    const char *const *names;
    int min, max;
} sl_cli_cmd_t;

static void sl_cli_usage(FILE *out);

/* Parses a subcommand's flags, which may come before, between or after its
 * positional arguments; "-" is a positional (stdin) and "--" ends the flags.
 * Returns -1 to go on, else an exit code. */
static int sl_cli_args(const sl_cli_cmd_t *cmd, const sl_flag_t *flags, size_t n, int argc,
                       char **argv, const char **pos, int *npos)
{
    char err[SL_ERRMSG_LEN];
    bool only_pos = false;
    *npos = 0;
    for (int i = 1; i < argc;) {
        const char *a = argv[i];
        if (!only_pos && strcmp(a, "--") == 0) {
            only_pos = true;
            i++;
            continue;
        }
        if (!only_pos && a[0] == '-' && a[1] != '\0') {
            /* sl_flags_parse refuses "-": stop it there. */
            int lim = i, next = i;
            bool help;
            while (lim < argc && strcmp(argv[lim], "-") != 0 && strcmp(argv[lim], "--") != 0)
                lim++;
            if (sl_flags_parse(flags, n, lim, argv, &next, &help, err) != SL_OK) {
                fprintf(stderr, "sluice %s: %s\n", cmd->cmd, err);
                return 2;
            }
            if (help) {
                sl_flags_usage(stdout, cmd->usage, cmd->summary, flags, n);
                return 0;
            }
            i = next;
            continue;
        }
        if (*npos >= cmd->max) {
            fprintf(stderr, "sluice %s: unexpected argument '%s'\n", cmd->cmd, a);
            return 2;
        }
        pos[(*npos)++] = a;
        i++;
    }
    if (*npos < cmd->min) {
        fprintf(stderr, "sluice %s: missing %s (see 'sluice %s --help')\n", cmd->cmd,
                cmd->names[*npos], cmd->cmd);
        return 2;
    }
    return -1;
}

/* The part of a subcommand that talks to the cluster, given its positional
 * arguments and its options (a struct of the subcommand's own). On failure
 * it says why in err (SL_ERRMSG_LEN bytes), or leaves err empty when it
 * reported the failure itself. */
typedef sl_status_t (*sl_cli_body_fn)(sl_client_t *c, const char *const *pos, void *opts,
                                      char *err);

/* Connects to the cluster, runs `body` and closes the client. Returns the
 * exit code: 0, or 1 when connecting or the body failed (reported on
 * stderr). */
static int sl_cli_run(const sl_cli_globals_t *g, sl_cli_body_fn body, const char *const *pos,
                      void *opts)
{
    char err[SL_ERRMSG_LEN] = "";
    sl_client_t *c = NULL;
    if (sl_client_open(g->masters, g->secret_file, g->timeout_ms, &c, err) != SL_OK) {
        fprintf(stderr, "sluice: %s\n", err);
        return 1;
    }
    sl_status_t st = body(c, pos, opts, err);
    if (st != SL_OK && err[0])
        fprintf(stderr, "sluice: %s\n", err);
    sl_client_close(c);
    return st == SL_OK ? 0 : 1;
}

/* Prints a JSON text made by the library and frees it (NULL: out of
 * memory). */
static sl_status_t sl_cli_print_json(char *text, char *err)
{
    if (!text) {
        snprintf(err, SL_ERRMSG_LEN, "out of memory");
        return SL_ERR_NOMEM;
    }
    printf("%s\n", text);
    free(text);
    return SL_OK;
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

/* Runs a subcommand whose only flag is --json (`json_help` describes it):
 * reads its command line, then runs `body` with opts pointing at the flag. */
static int sl_cli_json_cmd(const sl_cli_globals_t *g, const sl_cli_cmd_t *cmd,
                           const char *json_help, sl_cli_body_fn body, int argc, char **argv)
{
    bool json = false;
    const sl_flag_t flags[] = {
        { "json", SL_FLAG_BOOL, &json, NULL, json_help, 0, 0 },
    };
    const char *pos[1];
    int npos, rc = sl_cli_args(cmd, flags, 1, argc, argv, pos, &npos);
    return rc >= 0 ? rc : sl_cli_run(g, body, pos, &json);
}

/* --- status ----------------------------------------------------------------------- */

/* The master's cluster-mode lines: checkpoint, lease, recovery. */
static void sl_cli_print_master(const sl_cluster_info_t *info)
{
    const char *ckpt = sl_cluster_checkpoint(info);
    if (!*ckpt) {
        printf("checkpoint: none (jobs do not survive a master restart)\n");
        return;
    }
    printf("checkpoint: %s\n", ckpt);
    if (!sl_cluster_master_active(info)) {
        printf("lease: this master is a standby; held by %s at %s, epoch %" PRIu64 "\n",
               sl_cluster_lease_holder(info), sl_cluster_lease_address(info),
               sl_cluster_lease_epoch(info));
    } else {
        int64_t left = sl_cluster_lease_expires_ms(info) - (int64_t)sl_time_wall_ms();
        printf("lease: held by %s at %s, epoch %" PRIu64 ", %s %" PRId64 " ms%s\n",
               sl_cluster_lease_holder(info), sl_cluster_lease_address(info),
               sl_cluster_lease_epoch(info), left >= 0 ? "expires in" : "expired",
               left >= 0 ? left : -left, left >= 0 ? "" : " ago");
    }
    if (sl_cluster_recovering(info))
        printf("recovering: %u of %u known workers back, %u batches to run again\n",
               sl_cluster_workers_back(info), sl_cluster_workers_expected(info),
               sl_cluster_batches_to_rerun(info));
}

static void sl_cli_print_cluster(const sl_cluster_info_t *info)
{
    char tmo[32], up[32];
    sl_format_duration_ms(sl_cluster_worker_timeout_ms(info), tmo, sizeof tmo);
    sl_format_duration_ms(sl_cluster_uptime_ms(info) / 1000 * 1000, up, sizeof up);
    printf("master %s  up %s  auth %s  worker timeout %s\n", sl_cluster_master_address(info), up,
           sl_cluster_authenticated(info) ? "on" : "off", tmo);
    sl_cli_print_master(info);
    printf("%-28s %-22s %5s %8s %-6s %s\n", "WORKER", "ADDRESS", "CORES", "MEMORY", "STATE",
           "LAST HEARTBEAT");
    for (size_t i = 0; i < sl_cluster_worker_count(info); i++) {
        char mem[32];
        sl_cli_human_size(sl_cluster_worker_memory(info, i), mem, sizeof mem);
        bool alive = sl_cluster_worker_alive(info, i);
        printf("%-28s %-22s %5u %8s %-6s %.1fs ago%s%s\n", sl_cluster_worker_id(info, i),
               sl_cluster_worker_address(info, i), sl_cluster_worker_cores(info, i), mem,
               alive ? "alive" : "dead",
               (double)sl_cluster_worker_heartbeat_ago_ms(info, i) / 1000.0, alive ? "" : "  ",
               alive ? "" : sl_cluster_worker_dead_reason(info, i));
    }
}

/* opts: bool, --json */
static sl_status_t sl_cli_status_body(sl_client_t *c, const char *const *pos, void *opts,
                                      char *err)
{
    sl_cluster_info_t *info = NULL;
    sl_status_t st = sl_cluster_status(c, &info, err);
    if (st != SL_OK)
        return st;
    if (*(bool *)opts)
        st = sl_cli_print_json(sl_cluster_info_json(info), err);
    else
        sl_cli_print_cluster(info);
    sl_cluster_info_free(info);
    return st;
}

static int sl_cli_status(const sl_cli_globals_t *g, int argc, char **argv)
{
    static const sl_cli_cmd_t cmd = {
        "status", "sluice [global flags] status [--json]",
        "Shows the master (its checkpoint, the lease, and the recovery after a takeover) and\n"
        "every worker it knows: id, address, cores, memory, state, last heartbeat.", NULL, 0, 0,
    };
    return sl_cli_json_cmd(g, &cmd, "print the status as JSON", sl_cli_status_body, argc, argv);
}

/* --- jobs: submit, jobs, batches, stop, tick ------------------------------------------- */

static const char *const sl_cli_file_names[] = { "FILE" };
static const char *const sl_cli_job_names[] = { "JOB", "N" };
static const char *const sl_cli_stream_names[] = { "JOB", "STREAM", "FILE" };

static sl_status_t sl_cli_submit_body(sl_client_t *c, const char *const *pos, void *opts,
                                      char *err)
{
    char id[SL_JOB_ID_LEN];
    sl_status_t st = sl_job_submit_file(c, pos[0], id, err);
    if (st == SL_OK)
        printf("%s\n", id);
    return st;
}

static int sl_cli_submit(const sl_cli_globals_t *g, int argc, char **argv)
{
    static const sl_cli_cmd_t cmd = {
        "submit", "sluice [global flags] submit FILE",
        "Submits the job defined in job file FILE and prints its id. The library the file names\n"
        "is read from the job file's directory; relative output paths (save_as_text_files,\n"
        "sqlite) and transform datasets are taken from the current directory.",
        sl_cli_file_names, 1, 1,
    };
    const char *pos[1];
    int npos, rc = sl_cli_args(&cmd, NULL, 0, argc, argv, pos, &npos);
    return rc >= 0 ? rc : sl_cli_run(g, sl_cli_submit_body, pos, NULL);
}

/* Formats a batch time (ms) or "-" for none. */
static void sl_cli_time(int64_t ms, char *buf, size_t len)
{
    if (ms < 0)
        snprintf(buf, len, "-");
    else
        snprintf(buf, len, "%" PRId64, ms);
}

static void sl_cli_print_jobs(const sl_job_info_t *info)
{
    printf("%-32s %-8s %7s %8s %7s %-15s %s\n", "JOB", "STATE", "BATCH", "DONE", "QUEUED",
           "LAST BATCH", "RECEIVERS");
    for (size_t i = 0; i < sl_job_info_count(info); i++) {
        char batch[32], last[32];
        sl_format_duration_ms(sl_job_info_batch_ms(info, i), batch, sizeof batch);
        sl_cli_time(sl_job_info_last_batch_ms(info, i), last, sizeof last);
        printf("%-32s %-8s %7s %8" PRIu64 " %7" PRIu64 " %-15s ", sl_job_info_id(info, i),
               sl_job_info_state(info, i), batch, sl_job_info_batches_done(info, i),
               sl_job_info_batches_queued(info, i), last);
        size_t nr = sl_job_info_receiver_count(info, i);
        for (size_t r = 0; r < nr; r++) {
            const char *addr = sl_job_info_receiver_address(info, i, r);
            printf("%s%s@%s", r ? "," : "", sl_job_info_receiver_stream(info, i, r),
                   *addr ? addr : "-");
        }
        const char *e = sl_job_info_error(info, i);
        printf("%s%s%s\n", nr ? "" : "-", *e ? "  error: " : "", e);
    }
}

/* opts: bool, --json */
static sl_status_t sl_cli_jobs_body(sl_client_t *c, const char *const *pos, void *opts, char *err)
{
    sl_job_info_t *info = NULL;
    sl_status_t st = sl_job_list(c, &info, err);
    if (st != SL_OK)
        return st;
    if (*(bool *)opts)
        st = sl_cli_print_json(sl_job_info_json(info), err);
    else
        sl_cli_print_jobs(info);
    sl_job_info_free(info);
    return st;
}

static int sl_cli_jobs(const sl_cli_globals_t *g, int argc, char **argv)
{
    static const sl_cli_cmd_t cmd = {
        "jobs", "sluice [global flags] jobs [--json]",
        "Lists the jobs of the cluster: id, state, batch interval, batches done and queued, the\n"
        "last batch time, and where each stream's receiver runs (or the job's error).",
        NULL, 0, 0,
    };
    return sl_cli_json_cmd(g, &cmd, "print the jobs as JSON", sl_cli_jobs_body, argc, argv);
}

static void sl_cli_print_batches(const sl_batch_info_t *info)
{
    printf("%-15s %-8s %10s %12s %12s %12s %s\n", "TIME", "STATE", "INPUT", "SCHED DELAY",
           "PROCESSING", "TOTAL DELAY", "TASKS");
    for (size_t i = 0; i < sl_batch_info_count(info); i++) {
        char sched[32], proc[32], total[32];
        sl_format_duration_ms(sl_batch_info_scheduling_delay_ms(info, i), sched, sizeof sched);
        sl_format_duration_ms(sl_batch_info_processing_ms(info, i), proc, sizeof proc);
        sl_format_duration_ms(sl_batch_info_total_delay_ms(info, i), total, sizeof total);
        printf("%-15" PRId64 " %-8s %10" PRIu64 " %12s %12s %12s %u",
               sl_batch_info_time_ms(info, i), sl_batch_info_state(info, i),
               sl_batch_info_input_records(info, i), sched, proc, total,
               sl_batch_info_tasks(info, i));
        if (sl_batch_info_failed_tasks(info, i))
            printf(" (%u failed)", sl_batch_info_failed_tasks(info, i));
        if (sl_batch_info_attempts(info, i) > 1)
            printf("  attempt %u", sl_batch_info_attempts(info, i));
        const char *e = sl_batch_info_error(info, i);
        printf("%s%s\n", *e ? "  error: " : "", e);
    }
}

/* opts: bool, --json */
static sl_status_t sl_cli_batches_body(sl_client_t *c, const char *const *pos, void *opts,
                                       char *err)
{
    sl_batch_info_t *info = NULL;
    sl_status_t st = sl_job_batches(c, pos[0], &info, err);
    if (st != SL_OK)
        return st;
    if (*(bool *)opts)
        st = sl_cli_print_json(sl_batch_info_json(info), err);
    else
        sl_cli_print_batches(info);
    sl_batch_info_free(info);
    return st;
}

static int sl_cli_batches(const sl_cli_globals_t *g, int argc, char **argv)
{
    static const sl_cli_cmd_t cmd = {
        "batches", "sluice [global flags] batches JOB [--json]",
        "Lists the batches of job JOB the master remembers, oldest first: batch time, state,\n"
        "input records, scheduling delay (batch time to start), processing time, total delay\n"
        "and tasks.",
        sl_cli_job_names, 1, 1,
    };
    return sl_cli_json_cmd(g, &cmd, "print the batches as JSON", sl_cli_batches_body, argc, argv);
}

#define SL_CLI_UNSET UINT64_MAX     /* a flag's value when it was not given */

typedef struct {
    bool graceful;              /* --graceful */
    uint64_t timeout_ms;        /* --timeout; SL_CLI_UNSET: the master's default */
} sl_cli_stop_opts_t;

static sl_status_t sl_cli_stop_body(sl_client_t *c, const char *const *pos, void *opts, char *err)
{
    const sl_cli_stop_opts_t *o = opts;
    uint64_t tmo = o->timeout_ms == SL_CLI_UNSET ? 0 : o->timeout_ms;
    sl_status_t st = o->graceful ? sl_job_stop_graceful(c, pos[0], tmo, err)
                                 : sl_job_stop(c, pos[0], err);
    if (st == SL_OK)
        printf("stopped %s%s\n", pos[0],
               o->graceful ? " gracefully: every acked record was processed" : "");
    return st;
}

static int sl_cli_stop(const sl_cli_globals_t *g, int argc, char **argv)
{
    sl_cli_stop_opts_t o = { .timeout_ms = SL_CLI_UNSET };
    const sl_flag_t flags[] = {
        { "graceful", SL_FLAG_BOOL, &o.graceful, NULL,
          "stop taking pushes, process every acked record, then stop", 0, 0 },
        { "timeout", SL_FLAG_DURATION, &o.timeout_ms, "DUR",
          "with --graceful: give up (and stop anyway) after this long (default 60s)", 1,
          86400000 },
    };
    static const sl_cli_cmd_t cmd = {
        "stop", "sluice [global flags] stop JOB [--graceful [--timeout DUR]]",
        "Stops job JOB: it runs no more batches and its receivers close; records acknowledged\n"
        "but not yet in a finished batch are dropped. With --graceful the receivers stop taking\n"
        "pushes first, and the command returns once every acknowledged record was processed\n"
        "(exit 1 when that takes longer than --timeout; the job is stopped anyway).",
        sl_cli_job_names, 1, 1,
    };
    const char *pos[1];
    int npos, rc = sl_cli_args(&cmd, flags, 2, argc, argv, pos, &npos);
    if (rc >= 0)
        return rc;
    if (o.timeout_ms != SL_CLI_UNSET && !o.graceful) {
        fprintf(stderr, "sluice stop: --timeout: only meaningful with --graceful\n");
        return 2;
    }
    return sl_cli_run(g, sl_cli_stop_body, pos, &o);
}

typedef struct {
    uint64_t count;             /* N */
    bool wait;                  /* --wait */
} sl_cli_tick_opts_t;

static sl_status_t sl_cli_tick_body(sl_client_t *c, const char *const *pos, void *opts, char *err)
{
    const sl_cli_tick_opts_t *o = opts;
    int64_t *times = NULL;
    size_t n = 0;
    sl_status_t st = sl_job_tick(c, pos[0], (uint32_t)o->count, o->wait, &times, &n, err);
    if (st != SL_OK)
        return st;
    for (size_t i = 0; i < n; i++)
        printf("%" PRId64 "\n", times[i]);
    free(times);
    return SL_OK;
}

static int sl_cli_tick(const sl_cli_globals_t *g, int argc, char **argv)
{
    sl_cli_tick_opts_t o = { .count = 1 };
    const sl_flag_t flags[] = {
        { "wait", SL_FLAG_BOOL, &o.wait, NULL, "return once the batches are done", 0, 0 },
    };
    static const sl_cli_cmd_t cmd = {
        "tick", "sluice [global flags] tick JOB [N] [--wait]",
        "With the master's manual clock: starts the next N batches (default 1) of job JOB and\n"
        "prints their batch times, one per line. Records pushed before a tick belong to its\n"
        "batch.",
        sl_cli_job_names, 1, 2,
    };
    const char *pos[2];
    int npos, rc = sl_cli_args(&cmd, flags, 1, argc, argv, pos, &npos);
    if (rc >= 0)
        return rc;
    char err[SL_ERRMSG_LEN];
    if (npos > 1 && sl_parse_uint(pos[1], 1, 100000, &o.count, err) != SL_OK) {
        fprintf(stderr, "sluice tick: N: %s\n", err);
        return 2;
    }
    return sl_cli_run(g, sl_cli_tick_body, pos, &o);
}

/* --- push --------------------------------------------------------------------------- */

typedef enum { SL_CLI_BYTES, SL_CLI_INT, SL_CLI_DOUBLE } sl_cli_vtype_t;

/* Pushes one line's record. A line that does not read as asked sets *bad
 * and describes itself in err. The line is NUL-terminated at `len`. */
static sl_status_t sl_cli_push_line(sl_client_t *c, const char *job, const char *stream, bool kv,
                                    sl_cli_vtype_t vt, char *line, size_t len, bool *bad, char *err)
{
    const char *key = "", *val = line;
    size_t klen = 0, vlen = len;
    *bad = true;
    if (kv) {
        char *tab = memchr(line, '\t', len);
        if (!tab) {
            snprintf(err, SL_ERRMSG_LEN, "no TAB between key and value");
            return SL_ERR_INVALID;
        }
        key = line;
        klen = (size_t)(tab - line);
        val = tab + 1;
        vlen = len - klen - 1;
    }
    if (vt == SL_CLI_BYTES) {
        *bad = false;
        return sl_push_bytes(c, job, stream, key, klen, val, vlen, err);
    }
    char *end = NULL;
    errno = 0;
    if (vt == SL_CLI_INT) {
        long long v = vlen && strlen(val) == vlen ? strtoll(val, &end, 10) : 0;
        if (!end || *end || end == val || errno == ERANGE || val[0] == ' ' || val[0] == '\t') {
            snprintf(err, SL_ERRMSG_LEN, "'%.64s' is not an integer", val);
            return SL_ERR_INVALID;
        }
        *bad = false;
        return sl_push_int(c, job, stream, key, klen, (int64_t)v, err);
    }
    double d = vlen && strlen(val) == vlen ? strtod(val, &end) : 0;
    if (!end || *end || end == val || (errno == ERANGE && isinf(d)) || val[0] == ' ' ||
        val[0] == '\t') {
        snprintf(err, SL_ERRMSG_LEN, "'%.64s' is not a number", val);
        return SL_ERR_INVALID;
    }
    *bad = false;
    return sl_push_double(c, job, stream, key, klen, d, err);
}

typedef struct {
    FILE *in;
    const char *name;           /* of the input, for messages */
    bool kv;                    /* --format kv */
    sl_cli_vtype_t vt;          /* --value-type */
} sl_cli_push_opts_t;

/* Pushes every line of o->in, flushes and prints how many records were
 * acknowledged. A bad line stops the push and is reported here, with the
 * count acknowledged before it. */
static sl_status_t sl_cli_push_body(sl_client_t *c, const char *const *pos, void *opts, char *err)
{
    const sl_cli_push_opts_t *o = opts;
    char bad[SL_ERRMSG_LEN + 256] = "";
    char *line = NULL;
    size_t cap = 0;
    uint64_t lineno = 0;
    ssize_t got;
    sl_status_t st = SL_OK;
    while ((got = getline(&line, &cap, o->in)) >= 0) {
        size_t len = (size_t)got;
        lineno++;
        if (len && line[len - 1] == '\n')
            line[--len] = '\0';
        if (len && line[len - 1] == '\r')
            line[--len] = '\0';
        bool is_bad;
        st = sl_cli_push_line(c, pos[0], pos[1], o->kv, o->vt, line, len, &is_bad, err);
        if (st != SL_OK && is_bad) {
            snprintf(bad, sizeof bad, "%.200s:%" PRIu64 ": %s", o->name, lineno, err);
            break;
        }
        if (st != SL_OK)
            break;
    }
    if (st == SL_OK && ferror(o->in)) {
        snprintf(err, SL_ERRMSG_LEN, "cannot read '%s': %s", o->name, strerror(errno));
        st = SL_ERR_IO;
    }
    free(line);
    /* What was read before a bad line still goes out. */
    if (st == SL_OK || bad[0]) {
        char ferr[SL_ERRMSG_LEN];
        sl_status_t fst = sl_flush(c, ferr);
        if (fst != SL_OK && !bad[0]) {
            st = fst;
            memcpy(err, ferr, sizeof ferr);
        }
    }
    uint64_t acked = 0;
    sl_push_stats(c, &acked, NULL, NULL);
    if (bad[0]) {
        fprintf(stderr, "sluice: %s (records acknowledged before it: %" PRIu64 ")\n", bad, acked);
        err[0] = '\0';                 /* reported */
        return st;
    }
    if (st == SL_OK)
        printf("%" PRIu64 " records acknowledged\n", acked);
    return st;
}

static int sl_cli_push(const sl_cli_globals_t *g, int argc, char **argv)
{
    const char *format = "text", *vtype = "bytes";
    const sl_flag_t flags[] = {
        { "format", SL_FLAG_STRING, &format, "text|kv",
          "text: a line is a value (empty key); kv: KEY<TAB>VALUE (default text)", 0, 0 },
        { "value-type", SL_FLAG_STRING, &vtype, "int|double|bytes",
          "how values are read (default bytes)", 0, 0 },
    };
    static const sl_cli_cmd_t cmd = {
        "push", "sluice [global flags] push JOB STREAM [FILE|-] [--format text|kv] "
        "[--value-type int|double|bytes]",
        "Pushes the lines of FILE (default: standard input) as records to stream STREAM of job\n"
        "JOB, waits until the receiver acknowledged all of them, and prints how many were. Lines\n"
        "end at '\\n' (a '\\r' before it is dropped); a value that does not read as the type\n"
        "asked for stops the push with its line number.",
        sl_cli_stream_names, 2, 3,
    };
    const char *pos[3];
    int npos, rc = sl_cli_args(&cmd, flags, 2, argc, argv, pos, &npos);
    if (rc >= 0)
        return rc;
    sl_cli_push_opts_t o = { .kv = strcmp(format, "kv") == 0 };
    if (!o.kv && strcmp(format, "text") != 0) {
        fprintf(stderr, "sluice push: --format: '%s' is not text or kv\n", format);
        return 2;
    }
    o.vt = strcmp(vtype, "int") == 0      ? SL_CLI_INT
           : strcmp(vtype, "double") == 0 ? SL_CLI_DOUBLE
                                          : SL_CLI_BYTES;
    if (o.vt == SL_CLI_BYTES && strcmp(vtype, "bytes") != 0) {
        fprintf(stderr, "sluice push: --value-type: '%s' is not int, double or bytes\n", vtype);
        return 2;
    }
    const char *path = npos > 2 && strcmp(pos[2], "-") != 0 ? pos[2] : NULL;
    o.name = path ? path : "stdin";
    o.in = path ? fopen(path, "rb") : stdin;
    if (!o.in) {
        fprintf(stderr, "sluice: cannot open '%s': %s\n", path, strerror(errno));
        return 1;
    }
    rc = sl_cli_run(g, sl_cli_push_body, pos, &o);
    if (path)
        fclose(o.in);
    return rc;
}

/* --- watch ---------------------------------------------------------------------------- */

typedef struct {
    const char *stream;         /* STREAM, or "" for every output */
    uint64_t batches;           /* --batches, 0: never stop */
    bool json;                  /* --json */
} sl_cli_watch_opts_t;

/* Prints one batch output: a JSON line, or a header line and its records. */
static void sl_cli_print_output(sl_batch_output_t *o, const sl_cli_watch_opts_t *w)
{
    if (w->json) {
        char *text = sl_batch_output_json(o);
        if (text)
            printf("%s\n", text);
        free(text);
        return;
    }
    printf("-- batch %" PRId64 "%s%s (%" PRIu64 " records)\n", sl_batch_output_time_ms(o),
           *w->stream ? "" : " ", *w->stream ? "" : sl_batch_output_stream(o),
           sl_batch_output_total_records(o));
    int more;
    while ((more = sl_batch_output_next(o)) == 1) {
        char *text = sl_batch_output_line(o);
        if (text)
            printf("%s\n", text);
        free(text);
    }
    if (more < 0)
        printf("(the rest of this batch's records is corrupt)\n");
    else if (sl_batch_output_total_records(o) > sl_batch_output_count(o))
        printf("...\n");
}

static sl_status_t sl_cli_watch_body(sl_client_t *c, const char *const *pos, void *opts,
                                     char *err)
{
    const sl_cli_watch_opts_t *w = opts;
    sl_status_t st = sl_job_watch(c, pos[0], w->stream, err);
    for (uint64_t seen = 0; st == SL_OK && (!w->batches || seen < w->batches); seen++) {
        sl_batch_output_t *o = NULL;
        if ((st = sl_watch_next(c, SL_WAIT_FOREVER, &o, err)) != SL_OK)
            break;
        sl_cli_print_output(o, w);
        fflush(stdout);
        sl_batch_output_free(o);
    }
    return st;
}

static int sl_cli_watch(const sl_cli_globals_t *g, int argc, char **argv)
{
    sl_cli_watch_opts_t w = { .stream = "" };
    const sl_flag_t flags[] = {
        { "batches", SL_FLAG_UINT, &w.batches, "N", "stop after N batches (default: never)", 1,
          1000000000 },
        { "json", SL_FLAG_BOOL, &w.json, NULL, "print each batch as one line of JSON", 0, 0 },
    };
    static const sl_cli_cmd_t cmd = {
        "watch", "sluice [global flags] watch JOB [STREAM] [--batches N] [--json]",
        "Prints the print() and publish() outputs of node STREAM of job JOB (every such output\n"
        "when STREAM is not given) as batches complete: a line '-- batch TIME (N records)',\n"
        "then one line per record (KEY<TAB>VALUE, or VALUE for an empty key), and '...' when\n"
        "the batch had more records than print() shows.",
        sl_cli_stream_names, 1, 2,
    };
    const char *pos[2];
    int npos, rc = sl_cli_args(&cmd, flags, 2, argc, argv, pos, &npos);
    if (rc >= 0)
        return rc;
    if (npos > 1)
        w.stream = pos[1];
    return sl_cli_run(g, sl_cli_watch_body, pos, &w);
}

static const struct {
    const char *name;
    sl_cli_fn fn;
    const char *summary;
} sl_cli_commands[] = {
    { "status", sl_cli_status, "show the master and its workers" },
    { "submit", sl_cli_submit, "submit a job file; prints the job id" },
    { "jobs", sl_cli_jobs, "list the jobs" },
    { "batches", sl_cli_batches, "list a job's batches with their delays" },
    { "stop", sl_cli_stop, "stop a job, at once or gracefully" },
    { "tick", sl_cli_tick, "start the next batches of a job (manual clock)" },
    { "push", sl_cli_push, "push lines of a file or stdin to a job's stream" },
    { "watch", sl_cli_watch, "print a job's print() and publish() outputs" },
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
            "  --log-level LEVEL      library log lines on stderr: debug, info, warn, error, off "
            "(default error)\n"
            "  --help                 show this help\n\nCommands:\n");
    for (size_t i = 0; i < sizeof sl_cli_commands / sizeof *sl_cli_commands; i++)
        fprintf(out, "  %-22s %s\n", sl_cli_commands[i].name, sl_cli_commands[i].summary);
    fprintf(out, "\n'sluice COMMAND --help' describes a command.\n");
}

int main(int argc, char **argv)
{
    sl_cli_globals_t g = { .masters = getenv("SLUICE_MASTER"), .timeout_ms = 10000 };
    sl_log_level_t level = SL_LOG_ERROR;
    const sl_flag_t flags[] = {
        { "master", SL_FLAG_ADDR_LIST, &g.masters, "ADDRS", "", 0, 0 },
        { "secret-file", SL_FLAG_STRING, &g.secret_file, "FILE", "", 0, 0 },
        { "timeout", SL_FLAG_DURATION, &g.timeout_ms, "DUR", "", 1, 3600000 },
        { "log-level", SL_FLAG_LOG_LEVEL, &level, "LEVEL", "", 0, 0 },
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
    /* The CLI reports failures itself; the connection layer's lines are for
     * debugging. */
    sl_log_init("sluice", level);
    for (size_t i = 0; i < sizeof sl_cli_commands / sizeof *sl_cli_commands; i++)
        if (strcmp(argv[next], sl_cli_commands[i].name) == 0)
            return sl_cli_commands[i].fn(&g, argc - next, argv + next);
    fprintf(stderr, "sluice: unknown command '%s' (see 'sluice --help')\n", argv[next]);
    return 2;
}
