/* One task: partition `partition` of pipeline `pipeline` of one batch. Runs
 * on an executor thread: reads its input (received blocks or shuffle buckets,
 * local or fetched from peers), pushes every record through the pipeline's
 * narrow operations, and hands records to the sinks: shuffle writers (with
 * map-side combining), text files, and outputs collected for the master. */
#ifndef SL_TASK_H
#define SL_TASK_H

#include <stdbool.h>
#include "auth.h"
#include "buf.h"
#include "jobrt.h"
#include "msg.h"
#include "store.h"

typedef struct {
    sl_store_t *store;
    const sl_secret_t *secret;  /* for fetches from peers; may be NULL */
    const char *self_address;   /* this worker's advertised address */
    const char *worker_id;
    uint64_t fetch_timeout_ms;
} sl_task_env_t;

typedef struct {
    sl_status_t status;
    char err[SL_ERRMSG_LEN];
    uint64_t records_in, records_out;
    Sluice__ShuffleOutputInfo *shuffles;   /* array of nshuffles */
    size_t nshuffles;
    Sluice__CollectedOutput *collected;    /* array of ncollected; offsets into payload */
    size_t ncollected;
    sl_buf_t payload;
    bool fetch_failed;
    char failed_address[262];
} sl_task_result_t;

/* Runs the task; the result (zeroed by the caller) says how it went. `rt` and
 * `t` are borrowed for the call. */
void sl_task_run(const sl_task_env_t *env, sl_jobrt_t *rt, const Sluice__RunTask *t,
                 sl_task_result_t *res);
void sl_task_result_free(sl_task_result_t *res);

#endif
