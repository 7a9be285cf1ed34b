/* Which push sequence numbers of each producer are stored: a floor (every
 * sequence up to it is in) plus the few above it, so the set stays small
 * while a producer's pushes arrive in order. Receivers use it to drop retried
 * pushes exactly (a sequence is a duplicate only if that very push is
 * stored), and the master carries it to a receiver's next epoch. */
#ifndef SL_SEQSET_H
#define SL_SEQSET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "status.h"

typedef struct sl_seqset sl_seqset_t;

sl_seqset_t *sl_seqset_new(void);
void sl_seqset_free(sl_seqset_t *s);   /* accepts NULL */

bool sl_seqset_has(const sl_seqset_t *s, uint64_t producer, uint64_t seq);
sl_status_t sl_seqset_add(sl_seqset_t *s, uint64_t producer, uint64_t seq);
/* Every sequence up to `floor` is in. */
sl_status_t sl_seqset_add_upto(sl_seqset_t *s, uint64_t producer, uint64_t floor);
/* Adds one triple as sl_seqset_each visits them: add_upto when `upto`, else add. */
sl_status_t sl_seqset_put(sl_seqset_t *s, uint64_t producer, uint64_t seq, bool upto);

/* Visits the set as (producer, seq, upto) triples: one with upto=true for
 * each producer's floor, then one per sequence above it. */
typedef void (*sl_seqset_visit_fn)(void *arg, uint64_t producer, uint64_t seq, bool upto);
void sl_seqset_each(const sl_seqset_t *s, sl_seqset_visit_fn fn, void *arg);
size_t sl_seqset_entries(const sl_seqset_t *s);   /* how many triples sl_seqset_each visits */

#endif
