/* The execution plan of a job, derived from its JobSpec the same way on the
 * master and on every worker (so tasks need only name a pipeline and a
 * partition).
 *
 * Every node has a partition count. Narrow nodes (map, filter, union, ...)
 * are computed in the task that computes their parent's partition; wide
 * nodes (reduce_by_key, join, count, repartition, ...) read a shuffle. A
 * pipeline is rooted at a source or a wide node and holds every node reachable
 * from it through narrow edges; it runs as one task per partition of its root.
 * Each (node, partition) is computed by exactly one task of one pipeline.
 * Pipelines in index order are a topological order. */
#ifndef SL_PLAN_H
#define SL_PLAN_H

#include <stdbool.h>
#include <stdint.h>
#include "msg.h"
#include "status.h"

typedef struct {
    uint32_t node;      /* the consuming node */
    uint32_t slot;      /* which of its inputs (0 or 1) */
    uint32_t shift;     /* narrow edges: added to the partition (union's second input) */
} sl_plan_edge_t;

typedef struct {
    Sluice__OpKind op;
    uint32_t nparts;
    bool wide;                      /* reads a shuffle: root of a pipeline */
    sl_plan_edge_t *narrow;         /* narrow consumers */
    uint32_t nnarrow;
    sl_plan_edge_t *shuffles;       /* wide consumers: this node writes their shuffle */
    uint32_t nshuffles;
    uint32_t *outputs;              /* indices into spec->outputs */
    uint32_t noutputs;
} sl_plan_node_t;

typedef struct {
    uint32_t root;                  /* node index */
    uint32_t ntasks;                /* partitions of the root */
    uint32_t *deps;                 /* pipelines that must finish first */
    uint32_t ndeps;
} sl_plan_pipeline_t;

typedef struct {
    const Sluice__JobSpec *spec;    /* borrowed */
    sl_plan_node_t *nodes;
    uint32_t nnodes;
    sl_plan_pipeline_t *pipelines;
    uint32_t npipelines;
    uint32_t ntasks;                /* sum over pipelines: tasks per batch */
} sl_plan_t;

/* Builds the plan of a spec that passed sl_jobspec_validate (borrowed; must
 * outlive the plan). Caller frees with sl_plan_free(). */
sl_status_t sl_plan_build(const Sluice__JobSpec *spec, sl_plan_t **out /* OUT */, char *err);
void sl_plan_free(sl_plan_t *p);   /* accepts NULL */

/* True for ops that read a shuffle. */
bool sl_op_is_wide(Sluice__OpKind op);

/* Partition (within the consuming node) that partition `part` of the input in
 * `slot` becomes, for a narrow edge of the plan: identity, except union's
 * second input, which is shifted past the first input's partitions. Inline:
 * it runs per record. */
static inline uint32_t sl_plan_narrow_part(sl_plan_edge_t e, uint32_t part)
{
    return part + e.shift;
}

#endif
