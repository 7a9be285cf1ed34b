/* Plan building: partition counts, narrow/wide edges, pipelines and their
 * dependencies. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "plan.h"

bool sl_op_is_wide(Sluice__OpKind op)
{
    switch (op) {
    case SLUICE__OP_KIND__OP_REPARTITION:
    case SLUICE__OP_KIND__OP_COUNT:
    case SLUICE__OP_KIND__OP_COUNT_BY_VALUE:
    case SLUICE__OP_KIND__OP_REDUCE:
    case SLUICE__OP_KIND__OP_REDUCE_BY_KEY:
    case SLUICE__OP_KIND__OP_GROUP_BY_KEY:
    case SLUICE__OP_KIND__OP_JOIN:
    case SLUICE__OP_KIND__OP_LEFT_OUTER_JOIN:
    case SLUICE__OP_KIND__OP_RIGHT_OUTER_JOIN:
    case SLUICE__OP_KIND__OP_FULL_OUTER_JOIN:
    case SLUICE__OP_KIND__OP_COGROUP:
        return true;
    default:
        return false;
    }
}

/* Spark's rules: sources and explicit counts as given; a whole-stream
 * aggregate has one partition; keyed shuffles default to their (largest)
 * parent's count; narrow ops keep it; union adds. */
static uint32_t sl_plan_nparts(const sl_plan_t *p, const Sluice__StreamNode *n)
{
    uint32_t a = n->n_inputs > 0 ? p->nodes[n->inputs[0]].nparts : 1;
    uint32_t b = n->n_inputs > 1 ? p->nodes[n->inputs[1]].nparts : 0;
    switch (n->op) {
    case SLUICE__OP_KIND__OP_PUSH:
    case SLUICE__OP_KIND__OP_REPARTITION:
        return n->partitions ? n->partitions : 1;
    case SLUICE__OP_KIND__OP_COUNT:
    case SLUICE__OP_KIND__OP_REDUCE:
        return 1;
    case SLUICE__OP_KIND__OP_UNION:
        return a + b;
    case SLUICE__OP_KIND__OP_COUNT_BY_VALUE:
    case SLUICE__OP_KIND__OP_REDUCE_BY_KEY:
    case SLUICE__OP_KIND__OP_GROUP_BY_KEY:
    case SLUICE__OP_KIND__OP_JOIN:
    case SLUICE__OP_KIND__OP_LEFT_OUTER_JOIN:
    case SLUICE__OP_KIND__OP_RIGHT_OUTER_JOIN:
    case SLUICE__OP_KIND__OP_FULL_OUTER_JOIN:
    case SLUICE__OP_KIND__OP_COGROUP:
        return n->partitions ? n->partitions : (a > b ? a : b);
    default:
        return a;
    }
}

static sl_status_t sl_edge_push(sl_plan_edge_t **arr, uint32_t *n, sl_plan_edge_t e)
{
    sl_plan_edge_t *na = realloc(*arr, (*n + 1) * sizeof *na);
    if (!na)
        return SL_ERR_NOMEM;
    na[(*n)++] = e;
    *arr = na;
    return SL_OK;
}

static sl_status_t sl_u32_push(uint32_t **arr, uint32_t *n, uint32_t v)
{
    for (uint32_t i = 0; i < *n; i++)
        if ((*arr)[i] == v)
            return SL_OK;   /* sets, not lists */
    uint32_t *na = realloc(*arr, (*n + 1) * sizeof *na);
    if (!na)
        return SL_ERR_NOMEM;
    na[(*n)++] = v;
    *arr = na;
    return SL_OK;
}

/* Marks every node reachable from `node` through narrow edges as belonging
 * to pipeline `pl` (a node may belong to two pipelines below a union). */
static void sl_plan_mark(const sl_plan_t *p, uint32_t node, uint32_t pl, uint8_t *member)
{
    member[(size_t)pl * p->nnodes + node] = 1;
    const sl_plan_node_t *n = &p->nodes[node];
    for (uint32_t i = 0; i < n->nnarrow; i++)
        sl_plan_mark(p, n->narrow[i].node, pl, member);
}

sl_status_t sl_plan_build(const Sluice__JobSpec *spec, sl_plan_t **out, char *err)
{
    sl_status_t st = SL_ERR_NOMEM;
    uint8_t *member = NULL;
    sl_plan_t *p = calloc(1, sizeof *p);
    if (!p)
        return SL_ERR_NOMEM;
    p->spec = spec;
    p->nnodes = (uint32_t)spec->n_nodes;
    p->nodes = calloc(p->nnodes ? p->nnodes : 1, sizeof *p->nodes);
    if (!p->nodes)
        goto fail;
    for (uint32_t i = 0; i < p->nnodes; i++) {
        const Sluice__StreamNode *n = spec->nodes[i];
        for (size_t k = 0; k < n->n_inputs; k++) {
            if (n->inputs[k] >= i) {
                snprintf(err, SL_ERRMSG_LEN, "node %u reads node %u, which is not earlier", i,
                         n->inputs[k]);
                st = SL_ERR_INVALID;
                goto fail;
            }
        }
        p->nodes[i].op = n->op;
        p->nodes[i].wide = sl_op_is_wide(n->op);
        p->nodes[i].nparts = sl_plan_nparts(p, n);
        for (size_t k = 0; k < n->n_inputs; k++) {
            sl_plan_node_t *parent = &p->nodes[n->inputs[k]];
            uint32_t shift = n->op == SLUICE__OP_KIND__OP_UNION && k == 1
                                 ? p->nodes[n->inputs[0]].nparts : 0;
            sl_plan_edge_t e = { i, (uint32_t)k, shift };
            if (p->nodes[i].wide ? sl_edge_push(&parent->shuffles, &parent->nshuffles, e)
                                 : sl_edge_push(&parent->narrow, &parent->nnarrow, e))
                goto fail;
        }
    }
    for (uint32_t o = 0; o < spec->n_outputs; o++) {
        uint32_t in = spec->outputs[o]->input;
        if (in >= p->nnodes) {
            snprintf(err, SL_ERRMSG_LEN, "output %u reads missing node %u", o, in);
            st = SL_ERR_INVALID;
            goto fail;
        }
        if (sl_u32_push(&p->nodes[in].outputs, &p->nodes[in].noutputs, o))
            goto fail;
    }
    /* Pipelines: one per source or wide node, in node order. */
    for (uint32_t i = 0; i < p->nnodes; i++)
        p->npipelines += p->nodes[i].wide || spec->nodes[i]->n_inputs == 0;
    p->pipelines = calloc(p->npipelines ? p->npipelines : 1, sizeof *p->pipelines);
    member = calloc((size_t)p->npipelines * p->nnodes + 1, 1);
    if (!p->pipelines || !member)
        goto fail;
    uint32_t pl = 0;
    for (uint32_t i = 0; i < p->nnodes; i++) {
        if (!(p->nodes[i].wide || spec->nodes[i]->n_inputs == 0))
            continue;
        p->pipelines[pl].root = i;
        p->pipelines[pl].ntasks = p->nodes[i].nparts;
        p->ntasks += p->nodes[i].nparts;
        sl_plan_mark(p, i, pl, member);
        pl++;
    }
    /* A wide root depends on every pipeline computing one of its inputs. */
    for (pl = 0; pl < p->npipelines; pl++) {
        const Sluice__StreamNode *root = spec->nodes[p->pipelines[pl].root];
        if (!p->nodes[p->pipelines[pl].root].wide)
            continue;
        for (size_t k = 0; k < root->n_inputs; k++)
            for (uint32_t q = 0; q < pl; q++)
                if (member[(size_t)q * p->nnodes + root->inputs[k]] &&
                    sl_u32_push(&p->pipelines[pl].deps, &p->pipelines[pl].ndeps, q))
                    goto fail;
    }
    free(member);
    *out = p;
    return SL_OK;
fail:
    free(member);
    sl_plan_free(p);
    if (st == SL_ERR_NOMEM)
        snprintf(err, SL_ERRMSG_LEN, "out of memory building the plan");
    return st;
}

void sl_plan_free(sl_plan_t *p)
{
    if (!p)
        return;
    for (uint32_t i = 0; p->nodes && i < p->nnodes; i++) {
        free(p->nodes[i].narrow);
        free(p->nodes[i].shuffles);
        free(p->nodes[i].outputs);
    }
    for (uint32_t i = 0; p->pipelines && i < p->npipelines; i++)
        free(p->pipelines[i].deps);
    free(p->nodes);
    free(p->pipelines);
    free(p);
}

