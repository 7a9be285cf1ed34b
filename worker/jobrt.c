/* Job runtimes of the worker: deployment-time compilation of everything a
 * task needs. */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "block.h"
#include "jobrt.h"
#include "log.h"

static sl_fn_kind_t sl_op_fn_kind(Sluice__OpKind op)
{
    switch (op) {
    case SLUICE__OP_KIND__OP_MAP:
    case SLUICE__OP_KIND__OP_MAP_VALUES:
        return SL_FN_MAP;
    case SLUICE__OP_KIND__OP_FLAT_MAP:
    case SLUICE__OP_KIND__OP_FLAT_MAP_VALUES:
        return SL_FN_FLAT_MAP;
    case SLUICE__OP_KIND__OP_FILTER:
        return SL_FN_FILTER;
    case SLUICE__OP_KIND__OP_REDUCE:
    case SLUICE__OP_KIND__OP_REDUCE_BY_KEY:
        return SL_FN_REDUCE;
    default:
        return 0;
    }
}

void sl_static_free(sl_hmap_t *m)
{
    size_t pos = 0, len;
    const void *k;
    void *v;
    while (m && sl_hmap_next(m, &pos, &k, &len, &v)) {
        sl_static_vals_t *sv = v;
        sl_buf_free(&sv->values);
        free(sv);
    }
    sl_hmap_free(m);
}

sl_status_t sl_static_load(const char *path, sl_hmap_t **out, char *err)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, SL_ERRMSG_LEN, "cannot read static dataset '%.128s': %s", path, strerror(errno));
        return SL_ERR_IO;
    }
    sl_status_t st = SL_ERR_NOMEM;
    sl_hmap_t *m = sl_hmap_new(64);
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    if (!m)
        goto done;
    while ((n = getline(&line, &cap, f)) >= 0) {
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
            line[--n] = 0;
        if (n == 0)
            continue;
        char *tab = memchr(line, '\t', (size_t)n);
        size_t klen = tab ? (size_t)(tab - line) : (size_t)n;
        sl_value_t v = tab ? sl_val_bytes(tab + 1, (size_t)(n - (ssize_t)klen - 1)) : sl_val_null();
        bool created;
        void **slot = sl_hmap_slot(m, line, klen, &created);
        if (!slot)
            goto done;
        if (created && !(*slot = calloc(1, sizeof(sl_static_vals_t))))
            goto done;
        sl_static_vals_t *sv = *slot;
        if (sl_value_encode(&sv->values, &v) != SL_OK)
            goto done;
        sv->n++;
    }
    st = SL_OK;
    *out = m;
    m = NULL;
done:
    if (st == SL_ERR_NOMEM)
        snprintf(err, SL_ERRMSG_LEN, "out of memory loading '%.128s'", path);
    free(line);
    fclose(f);
    sl_static_free(m);
    return st;
}

sl_status_t sl_jobrt_new(const char *job_id, const Sluice__JobSpec *spec, const char *work_dir,
                         sl_jobrt_t **out, char *err)
{
    sl_status_t st = SL_ERR_NOMEM;
    sl_jobrt_t *rt = calloc(1, sizeof *rt);
    if (!rt)
        return SL_ERR_NOMEM;
    atomic_init(&rt->refs, 1);
    snprintf(rt->id, sizeof rt->id, "%s", job_id);
    rt->spec = sl_msg_clone(spec);
    if (!rt->spec)
        goto fail;
    if (rt->spec->library.len &&
        (st = sl_udf_lib_load_bytes(rt->spec->library.data, rt->spec->library.len,
                                    rt->spec->library_name, work_dir, &rt->lib, err)) != SL_OK)
        goto fail;
    if ((st = sl_plan_build(rt->spec, &rt->plan, err)) != SL_OK)
        goto fail;
    st = SL_ERR_NOMEM;
    rt->funcs = calloc(rt->spec->n_nodes + 1, sizeof *rt->funcs);
    rt->statics = calloc(rt->spec->n_nodes + 1, sizeof *rt->statics);
    if (!rt->funcs || !rt->statics)
        goto fail;
    for (size_t i = 0; i < rt->spec->n_nodes; i++) {
        const Sluice__StreamNode *node = rt->spec->nodes[i];
        sl_fn_kind_t kind = sl_op_fn_kind(node->op);
        if (kind && node->func) {
            st = sl_func_compile(node->func->name, (const char *const *)node->func->args,
                                 node->func->n_args, kind, rt->lib, &rt->funcs[i], err);
            if (st != SL_OK)
                goto fail;
        }
        if (node->op == SLUICE__OP_KIND__OP_TRANSFORM &&
            (st = sl_static_load(node->path, &rt->statics[i], err)) != SL_OK)
            goto fail;
    }
    *out = rt;
    return SL_OK;
fail:
    if (st == SL_ERR_NOMEM && !err[0])
        snprintf(err, SL_ERRMSG_LEN, "out of memory deploying job %s", job_id);
    sl_jobrt_unref(rt);
    return st;
}

sl_jobrt_t *sl_jobrt_ref(sl_jobrt_t *rt)
{
    atomic_fetch_add(&rt->refs, 1);
    return rt;
}

void sl_jobrt_unref(sl_jobrt_t *rt)
{
    if (!rt || atomic_fetch_sub(&rt->refs, 1) != 1)
        return;
    for (size_t i = 0; rt->spec && i < rt->spec->n_nodes; i++) {
        if (rt->funcs)
            sl_func_free(rt->funcs[i]);
        if (rt->statics)
            sl_static_free(rt->statics[i]);
    }
    free(rt->funcs);
    free(rt->statics);
    sl_plan_free(rt->plan);
    sl_udf_lib_free(rt->lib);
    if (rt->spec)
        sluice__job_spec__free_unpacked(rt->spec, NULL);
    free(rt);
}
