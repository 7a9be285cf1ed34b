/* Outputs that end at the master once a batch's tasks are done: print (to
 * the log and to watchers), publish (to watchers) and sqlite (one transaction
 * per batch, replacing the rows of that batch time, so a re-run batch never
 * duplicates). */
#ifndef SL_OUTPUT_H
#define SL_OUTPUT_H

#include "engine-internal.h"

/* Delivers every master-side output of batch b. On failure `err`
 * (SL_ERRMSG_LEN) says which output failed and why. */
sl_status_t sl_output_deliver(sl_mjob_t *j, const sl_mbatch_t *b, char *err);

#endif
