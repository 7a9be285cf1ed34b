/* The integration tests, one function per acceptance scenario; the table that
 * lists them is in tests.c. */
#ifndef SL_IT_TESTS_H
#define SL_IT_TESTS_H

#include "harness.h"

/* test_cluster.c */
void it_test_cluster_membership(it_ctx_t *t);
void it_test_heartbeat_timeout(it_ctx_t *t);
void it_test_master_restart(it_ctx_t *t);
void it_test_clean_shutdown(it_ctx_t *t);
/* test_badinput.c */
void it_test_bad_input(it_ctx_t *t);
/* test_auth.c */
void it_test_auth(it_ctx_t *t);
/* test_cli.c */
void it_test_cli_usage(it_ctx_t *t);
/* test_http.c */
void it_test_http_api(it_ctx_t *t);
/* test_wordcount.c */
void it_test_wordcount(it_ctx_t *t);
/* test_ops.c */
void it_test_ops_narrow(it_ctx_t *t);
void it_test_ops_aggregate(it_ctx_t *t);
void it_test_ops_joins(it_ctx_t *t);
void it_test_ops_transform(it_ctx_t *t);
void it_test_ops_outputs(it_ctx_t *t);
/* test_udf.c */
void it_test_udf(it_ctx_t *t);
/* test_badjobs.c */
void it_test_bad_jobs(it_ctx_t *t);
/* test_recovery.c */
void it_test_worker_loss_tasks(it_ctx_t *t);
void it_test_worker_loss_receiver(it_ctx_t *t);
/* test_regress.c */
void it_test_regress_zombie_receiver(it_ctx_t *t);
void it_test_regress_sole_worker(it_ctx_t *t);
void it_test_regress_unreplicated_retry(it_ctx_t *t);
/* test_backpressure.c */
void it_test_backpressure(it_ctx_t *t);
/* test_failover.c */
void it_test_standby_takeover(it_ctx_t *t);
void it_test_wal_single_worker(it_ctx_t *t);
void it_test_graceful_stop(it_ctx_t *t);
/* test_fencing.c */
void it_test_stale_master_fenced(it_ctx_t *t);
/* test_cluster_mode.c */
void it_test_ckpt_crash_loop(it_ctx_t *t);
void it_test_ckpt_crash_points(it_ctx_t *t);
void it_test_ckpt_corrupt(it_ctx_t *t);

#endif
