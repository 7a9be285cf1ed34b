/* A fixed pool of executor threads (--cores of them) taking jobs from one
 * queue. Tasks arrive with the engine; for now the pool is started, sized and
 * shut down cleanly. */
#ifndef SL_EXECUTOR_H
#define SL_EXECUTOR_H

#include <stddef.h>
#include "status.h"

typedef struct sl_executor sl_executor_t;
typedef void (*sl_exec_fn)(void *arg);

/* Starts `nthreads` threads. NULL when a thread cannot be created. */
sl_executor_t *sl_executor_new(size_t nthreads);

/* Queues fn(arg) to run on one of the threads. SL_ERR_CLOSED after shutdown. */
sl_status_t sl_executor_submit(sl_executor_t *ex, sl_exec_fn fn, void *arg);

/* Lets queued work finish, joins the threads and frees. Accepts NULL. */
void sl_executor_free(sl_executor_t *ex);

size_t sl_executor_threads(const sl_executor_t *ex);

#endif
