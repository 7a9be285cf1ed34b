/* sluice-master's command line: flags to options, then run. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "flags.h"
#include "log.h"
#include "master.h"

static const char sl_master_usage[] =
    "sluice-master [--listen HOST:PORT] [--http HOST:PORT] [--checkpoint-dir DIR]\n"
    "                     [--lease-timeout DUR] [--recovery-wait DUR] [--stop-timeout DUR] [--wal]\n"
    "                     [--secret-file FILE] [--worker-timeout DUR] [--clock wall|manual]\n"
    "                     [--log-level LEVEL]";

int main(int argc, char **argv)
{
    sl_master_opts_t o = {
        .listen = "127.0.0.1:7077",
        .http = "127.0.0.1:8080",
        .worker_timeout_ms = 10000,
        .lease_ms = 5000,
        .stop_timeout_ms = 30000,
        .recovery_wait_ms = 10000,
    };
    sl_log_level_t level = SL_LOG_INFO;
    const char *clock = "wall";
    const sl_flag_t flags[] = {
        { "listen", SL_FLAG_ADDR, &o.listen, "HOST:PORT", "RPC address (default 127.0.0.1:7077)", 0, 0 },
        { "http", SL_FLAG_ADDR, &o.http, "HOST:PORT", "HTTP API address (default 127.0.0.1:8080)", 0, 0 },
        { "checkpoint-dir", SL_FLAG_STRING, &o.checkpoint_dir, "DIR",
          "metadata checkpoint directory (shared storage): jobs survive restarts, standby "
          "masters share it", 0, 0 },
        { "lease-timeout", SL_FLAG_DURATION, &o.lease_ms, "DUR",
          "master lease time to live: a standby takes over this long after the active master "
          "stops renewing it (default 5s)", 300, 3600000 },
        { "recovery-wait", SL_FLAG_DURATION, &o.recovery_wait_ms, "DUR",
          "after a takeover, wait at most this long for the workers the checkpoint knows "
          "(default 10s)", 0, 3600000 },
        { "stop-timeout", SL_FLAG_DURATION, &o.stop_timeout_ms, "DUR",
          "SIGTERM: stop receiving and finish what was acked within this long (default 30s)",
          0, 3600000 },
        { "wal", SL_FLAG_BOOL, &o.wal, NULL,
          "every job's receivers write the write-ahead log (needs --checkpoint-dir)", 0, 0 },
        { "secret-file", SL_FLAG_STRING, &o.secret_file, "FILE",
          "shared secret; without it the cluster runs open", 0, 0 },
        { "worker-timeout", SL_FLAG_DURATION, &o.worker_timeout_ms, "DUR",
          "declare a worker dead after this long without a heartbeat (default 10s)", 100, 3600000 },
        { "clock", SL_FLAG_STRING, &clock, "wall|manual",
          "batch clock: wall time, or manual (advanced by 'sluice tick')", 0, 0 },
        { "log-level", SL_FLAG_LOG_LEVEL, &level, "LEVEL", "debug, info, warn or error (default info)", 0, 0 },
    };
    const size_t nflags = sizeof flags / sizeof *flags;
    char err[SL_ERRMSG_LEN];
    bool help;
    int next = 1;
    if (sl_flags_parse(flags, nflags, argc, argv, &next, &help, err) != SL_OK) {
        fprintf(stderr, "sluice-master: %s\n", err);
        return 2;
    }
    if (help) {
        sl_flags_usage(stdout, sl_master_usage,
                       "The Sluice master: tracks workers and jobs, cuts batches, schedules tasks.",
                       flags, nflags);
        return 0;
    }
    if (next < argc) {
        fprintf(stderr, "sluice-master: unexpected argument '%s'\n", argv[next]);
        return 2;
    }
    if (strcmp(clock, "wall") != 0 && strcmp(clock, "manual") != 0) {
        fprintf(stderr, "sluice-master: --clock: '%s' is neither 'wall' nor 'manual'\n", clock);
        return 2;
    }
    o.manual_clock = strcmp(clock, "manual") == 0;
    sl_log_init("sluice-master", level);
    sl_master_t *m = sl_master_new(&o, err);
    if (!m) {
        sl_error("master", "cannot start: %s", err);
        return 1;
    }
    sl_status_t st = sl_master_run(m);
    sl_master_free(m);
    sl_info("master", "stopped");
    /* 3: replaced by a newer master (fenced); 1: any other failure. */
    return st == SL_OK ? 0 : st == SL_ERR_FENCED ? 3 : 1;
}
