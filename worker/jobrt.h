/* A job as a worker runs it: its spec, plan, compiled functions, user library
 * and static datasets, built once when the master deploys the job and then
 * read-only, shared by every task of the job. Reference counted so that a
 * dropped job is freed only after its last task ends. */
#ifndef SL_JOBRT_H
#define SL_JOBRT_H

#include <stdatomic.h>
#include <stdint.h>
#include "funcs.h"
#include "hmap.h"
#include "msg.h"
#include "plan.h"

typedef struct {
    sl_buf_t values;            /* encoded values of one key */
    uint32_t n;
} sl_static_vals_t;

typedef struct sl_jobrt {
    char id[65];
    uint64_t generation;        /* which submission of the job */
    Sluice__JobSpec *spec;      /* owned */
    sl_plan_t *plan;
    sl_func_t **funcs;          /* per node; NULL where the op takes none */
    sl_hmap_t **statics;        /* per node; transform datasets: key -> sl_static_vals_t */
    sl_udf_lib_t *lib;
    atomic_int refs;
} sl_jobrt_t;

/* Builds the runtime from a copy of `spec`. The user library, if any, is
 * written under work_dir and loaded; static datasets are read from their
 * paths. Errors name what failed. */
sl_status_t sl_jobrt_new(const char *job_id, const Sluice__JobSpec *spec, const char *work_dir,
                         sl_jobrt_t **out /* OUT */, char *err);
sl_jobrt_t *sl_jobrt_ref(sl_jobrt_t *rt);
void sl_jobrt_unref(sl_jobrt_t *rt);   /* frees at zero; accepts NULL */

/* Reads a static dataset: lines "key<TAB>value" (value as bytes) or "key"
 * (value null). Used by the transform operation. */
sl_status_t sl_static_load(const char *path, sl_hmap_t **out /* OUT */, char *err);
void sl_static_free(sl_hmap_t *m);

#endif
