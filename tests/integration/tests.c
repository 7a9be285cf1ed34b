/* The table of integration tests, in the order they run. */
#include "tests.h"

const it_test_t it_tests[] = {
    { "cli_usage", it_test_cli_usage, "--help, bad flags and values, unreachable master, SLUICE_MASTER" },
    { "cluster_membership", it_test_cluster_membership, "workers register, die on kill -9, re-register" },
    { "heartbeat_timeout", it_test_heartbeat_timeout, "a SIGSTOPped worker is declared dead on time" },
    { "master_restart", it_test_master_restart, "workers re-register with a restarted master" },
    { "bad_input", it_test_bad_input, "malformed frames and handshakes against master and worker" },
    { "auth", it_test_auth, "shared-secret authentication of workers and the CLI" },
    { "http_api", it_test_http_api, "/healthz, /api/v1/cluster, /metrics, 404" },
    { "clean_shutdown", it_test_clean_shutdown, "SIGTERM makes every daemon exit 0" },
    { "worker_loss_tasks", it_test_worker_loss_tasks, "kill -9 of a task worker mid-stream: every batch done, each acked id counted once" },
    { "worker_loss_receiver", it_test_worker_loss_receiver, "kill -9 of the receiver's worker: it moves, pushes resume, each acked id counted once" },
    { "wordcount", it_test_wordcount, "word count under the manual clock: 3 batches, exact counts" },
    { "ops_narrow", it_test_ops_narrow, "map, flat_map, filter, *_values, repartition, union" },
    { "ops_aggregate", it_test_ops_aggregate, "count, count_by_value, reduce, reduce_by_key, group_by_key" },
    { "ops_joins", it_test_ops_joins, "join, outer joins and cogroup with one-sided keys" },
    { "ops_transform", it_test_ops_transform, "transform against a static dataset, every mode" },
    { "ops_outputs", it_test_ops_outputs, "print and publish through watch, sqlite rows per batch" },
    { "udf", it_test_udf, "user functions from a library; missing symbol, kind, library" },
    { "bad_jobs", it_test_bad_jobs, "bad job files refused with FILE:LINE:COL; the master goes on" },
    { "regress_zombie_receiver", it_test_regress_zombie_receiver, "a receiver frozen past the worker timeout stops once thawed; each acked id counted once" },
    { "regress_sole_worker", it_test_regress_sole_worker, "the receiver of a one-worker cluster is placed again when the worker restarts" },
    { "regress_unreplicated_retry", it_test_regress_unreplicated_retry, "a retried push is acked only once its block has a replica; the replica is counted" },
    { "backpressure", it_test_backpressure, "past half of --memory receivers ack only at ticks: acks bounded, then each record counted once" },
    { "standby_takeover", it_test_standby_takeover, "kill -9 of the active master: the standby takes the lease, workers and producer follow; the old master comes back as a standby and a fenced master exits 3" },
    { "wal_single_worker", it_test_wal_single_worker, "wal on, one worker: kill -9 of worker and master, acked ids read back from the write-ahead log, each counted once" },
    { "stale_master_fenced", it_test_stale_master_fenced, "a worker refuses a master of a superseded lease epoch: its registration reply, and a command stamped with the old epoch (SL_ERR_FENCED)" },
    { "graceful_stop", it_test_graceful_stop, "stop --graceful and SIGTERM of the master finish what was acked; the restarted master resumes the job" },
    { "ckpt_corrupt", it_test_ckpt_corrupt, "a damaged checkpoint (truncated, empty, bad header, flipped byte): the master exits 1 naming the file and what is wrong, the file unchanged" },
    { "ckpt_crash_points", it_test_ckpt_crash_points, "masters SIGKILLed at chosen checkpoint writes in a row: the checkpoint stays intact, each acked id counted once" },
    { "ckpt_crash_loop", it_test_ckpt_crash_loop, "kill -9 of a supervised master every 8 s for a minute: each acked id counted once, batch times without gap or duplicate" },
};

const size_t it_ntests = sizeof it_tests / sizeof *it_tests;
