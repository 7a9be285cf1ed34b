/* sluice-worker's command line: flags to options, then run. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include "flags.h"
#include "log.h"
#include "worker.h"

static const char sl_worker_usage[] =
    "sluice-worker --master HOST:PORT[,HOST:PORT...] --listen HOST:PORT [--cores N]\n"
    "                     [--memory SIZE] [--work-dir DIR] [--secret-file FILE] [--id ID]\n"
    "                     [--advertise HOST:PORT] [--log-level LEVEL]";

/* Like Spark's standalone worker: all but 1 GiB of the machine's memory. */
static uint64_t sl_default_memory(void)
{
    long pages = sysconf(_SC_PHYS_PAGES), psize = sysconf(_SC_PAGESIZE);
    uint64_t total = pages > 0 && psize > 0 ? (uint64_t)pages * (uint64_t)psize : 0;
    uint64_t gib = 1ULL << 30;
    return total > 2 * gib ? total - gib : 512ULL << 20;
}

int main(int argc, char **argv)
{
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    sl_worker_opts_t o = {
        .cores = ncpu > 0 ? (uint64_t)ncpu : 1,
        .memory_bytes = sl_default_memory(),
    };
    sl_log_level_t level = SL_LOG_INFO;
    const sl_flag_t flags[] = {
        { "master", SL_FLAG_ADDR_LIST, &o.masters, "ADDRS", "master address list (required)", 0, 0 },
        { "listen", SL_FLAG_ADDR, &o.listen, "HOST:PORT", "address for peers and clients (required)", 0, 0 },
        { "advertise", SL_FLAG_ADDR, &o.advertise, "HOST:PORT", "address given to the master (default: --listen)", 0, 0 },
        { "cores", SL_FLAG_UINT, &o.cores, "N", "executor threads offered (default: all CPUs)", 1, 1024 },
        { "memory", SL_FLAG_SIZE, &o.memory_bytes, "SIZE", "memory offered (default: RAM - 1G)", 1 << 20, 0 },
        { "work-dir", SL_FLAG_STRING, &o.work_dir, "DIR", "local scratch directory", 0, 0 },
        { "secret-file", SL_FLAG_STRING, &o.secret_file, "FILE", "shared secret of the cluster", 0, 0 },
        { "id", SL_FLAG_STRING, &o.id, "ID", "worker id (default worker-HOST-PORT)", 0, 0 },
        { "log-level", SL_FLAG_LOG_LEVEL, &level, "LEVEL", "debug, info, warn or error (default info)", 0, 0 },
    };
    const size_t nflags = sizeof flags / sizeof *flags;
    char err[SL_ERRMSG_LEN];
    bool help;
    int next = 1;
    if (sl_flags_parse(flags, nflags, argc, argv, &next, &help, err) != SL_OK) {
        fprintf(stderr, "sluice-worker: %s\n", err);
        return 2;
    }
    if (help) {
        sl_flags_usage(stdout, sl_worker_usage,
                       "A Sluice worker: hosts receivers, keeps blocks, runs tasks.", flags, nflags);
        return 0;
    }
    if (next < argc) {
        fprintf(stderr, "sluice-worker: unexpected argument '%s'\n", argv[next]);
        return 2;
    }
    if (!o.masters || !o.listen) {
        fprintf(stderr, "sluice-worker: %s is required\n", !o.masters ? "--master" : "--listen");
        return 2;
    }
    sl_log_init("sluice-worker", level);
    sl_worker_t *w = sl_worker_new(&o, err);
    if (!w) {
        sl_error("worker", "cannot start: %s", err);
        return 1;
    }
    sl_status_t st = sl_worker_run(w);
    sl_worker_free(w);
    sl_info("worker", "stopped");
    return st == SL_OK ? 0 : 1;
}
