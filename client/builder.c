/* The two front doors to a JobSpec: the C builder (sl_job_new, sl_map, ...,
 * sl_job_submit) and job files (sl_job_submit_file). Both end the same way:
 * paths made absolute against the caller's directory, the user library's
 * bytes put into the spec, SubmitJob to the master, which validates.
 *
 * A builder keeps its spec as a protobuf-c message whose every string and
 * array is malloc'ed, so sluice__job_spec__free_unpacked() frees it. */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "buf.h"
#include "client-internal.h"
#include "jobfile.h"

#define SL_BUILDER_PRINT_DEFAULT 10     /* as print() in a job file */

struct sl_job {
    Sluice__JobSpec *spec;
    size_t cap_nodes, cap_outputs;
    char *library_path;         /* as given; read at submission */
    sl_status_t st;             /* the first construction error */
    char err[SL_ERRMSG_LEN];
};

/* --- files and paths ------------------------------------------------------------- */

/* Reads a whole file into a malloc'ed buffer (NUL-terminated for text). */
static sl_status_t sl_read_file(const char *path, uint8_t **out, size_t *len, char *why)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        sl_errf(why, "%s", strerror(errno));
        return errno == ENOENT ? SL_ERR_NOT_FOUND : SL_ERR_IO;
    }
    sl_buf_t b = { 0 };
    sl_status_t st = SL_OK;
    for (;;) {
        if ((st = sl_buf_reserve(&b, 65536)) != SL_OK)
            break;
        size_t n = fread(b.p + b.len, 1, 65536, f);
        b.len += n;
        if (n < 65536)
            break;
    }
    if (st == SL_OK && ferror(f)) {
        sl_errf(why, "%s", strerror(errno));
        st = SL_ERR_IO;
    }
    fclose(f);
    if (st == SL_OK)
        st = sl_buf_append_u8(&b, 0);
    if (st != SL_OK) {
        if (st == SL_ERR_NOMEM)
            sl_errf(why, "out of memory");
        sl_buf_free(&b);
        return st;
    }
    *out = sl_buf_take(&b, len);
    (*len)--;
    return SL_OK;
}

/* Replaces *path (malloc'ed, or protobuf-c's empty default) by `dir/path`
 * when it is relative. */
static sl_status_t sl_absolutize(char **path, const char *dir, char *err)
{
    if (!**path || **path == '/')
        return SL_OK;
    size_t n = strlen(dir) + strlen(*path) + 2;
    char *abs = malloc(n);
    if (!abs) {
        sl_errf(err, "out of memory");
        return SL_ERR_NOMEM;
    }
    snprintf(abs, n, "%s/%s", dir, *path);
    free(*path);
    *path = abs;
    return SL_OK;
}

sl_status_t sl_jobspec_absolutize(Sluice__JobSpec *spec, char *err)
{
    char cwd[PATH_MAX];
    if (!getcwd(cwd, sizeof cwd)) {
        sl_errf(err, "cannot tell the current directory: %s", strerror(errno));
        return SL_ERR_IO;
    }
    sl_status_t st = SL_OK;
    for (size_t i = 0; i < spec->n_nodes && st == SL_OK; i++)
        if (spec->nodes[i]->op == SLUICE__OP_KIND__OP_TRANSFORM)
            st = sl_absolutize(&spec->nodes[i]->path, cwd, err);
    for (size_t i = 0; i < spec->n_outputs && st == SL_OK; i++) {
        Sluice__OutputSpec *o = spec->outputs[i];
        if (o->kind == SLUICE__OUTPUT_KIND__OUT_SAVE_TEXT || o->kind == SLUICE__OUTPUT_KIND__OUT_SQLITE)
            st = sl_absolutize(&o->path, cwd, err);
    }
    return st;
}

/* Puts the library file's bytes into spec->library. */
static sl_status_t sl_spec_load_library(Sluice__JobSpec *spec, const char *file, char *why)
{
    uint8_t *data;
    size_t len;
    sl_status_t st = sl_read_file(file, &data, &len, why);
    if (st != SL_OK)
        return st;
    free(spec->library.data);
    spec->library.data = data;
    spec->library.len = len;
    return SL_OK;
}

/* Where the `library` line of a job file is, for error messages. */
static void sl_jobfile_library_pos(const char *text, unsigned *line, unsigned *col)
{
    *line = *col = 1;
    for (unsigned ln = 1; *text; ln++) {
        const char *p = text;
        while (*p == ' ' || *p == '\t')
            p++;
        if (strncmp(p, "library", 7) == 0 && (p[7] == ' ' || p[7] == '\t')) {
            *line = ln;
            *col = (unsigned)(p - text) + 1;
            return;
        }
        const char *nl = strchr(text, '\n');
        if (!nl)
            return;
        text = nl + 1;
    }
}

sl_status_t sl_jobfile_load(const char *path, Sluice__JobSpec **out, char *err)
{
    char why[SL_ERRMSG_LEN] = "";
    uint8_t *text = NULL;
    size_t len;
    Sluice__JobSpec *spec = NULL;
    sl_status_t st = sl_read_file(path, &text, &len, why);
    if (st != SL_OK) {
        sl_errf(err, "cannot read job file '%s': %s", path, why);
        return st;
    }
    if ((st = sl_jobfile_parse((const char *)text, len, path, &spec, err)) != SL_OK)
        goto free_text;
    if (spec->library_name[0]) {
        /* The library is found next to the job file, not in the caller's cwd. */
        const char *slash = strrchr(path, '/');
        char *file = strdup(spec->library_name);
        if (!file) {
            st = SL_ERR_NOMEM;
            sl_errf(err, "out of memory");
            goto free_spec;
        }
        if (slash) {
            char *dir = strndup(path, (size_t)(slash - path) + (slash == path));
            st = dir ? sl_absolutize(&file, dir, err) : SL_ERR_NOMEM;
            free(dir);
        }
        if (st == SL_OK)
            st = sl_spec_load_library(spec, file, why);
        if (st != SL_OK) {
            unsigned line, col;
            sl_jobfile_library_pos((const char *)text, &line, &col);
            sl_errf(err, "%s:%u:%u: cannot read library '%s': %s", path, line, col, file,
                    st == SL_ERR_NOMEM && !why[0] ? "out of memory" : why);
            free(file);
            goto free_spec;
        }
        free(file);
    }
    if ((st = sl_jobspec_absolutize(spec, err)) != SL_OK)
        goto free_spec;
    *out = spec;
    free(text);
    return SL_OK;
free_spec:
    sluice__job_spec__free_unpacked(spec, NULL);
free_text:
    free(text);
    return st;
}

sl_status_t sl_job_submit_file(sl_client_t *c, const char *path, char *job_id_out, char *err)
{
    Sluice__JobSpec *spec = NULL;
    if (!path || !*path) {
        sl_errf(err, "no job file given");
        return SL_ERR_INVALID;
    }
    sl_status_t st = sl_jobfile_load(path, &spec, err);
    if (st != SL_OK)
        return st;
    st = sl_client_submit_spec(c, spec, path, job_id_out, err);
    sluice__job_spec__free_unpacked(spec, NULL);
    return st;
}

/* --- the builder ---------------------------------------------------------------------- */

static void sl_job_fail(sl_job_t *j, sl_status_t st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void sl_job_fail(sl_job_t *j, sl_status_t st, const char *fmt, ...)
{
    if (j->st != SL_OK)
        return;
    j->st = st;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(j->err, sizeof j->err, fmt, ap);
    va_end(ap);
}

sl_job_t *sl_job_new(const char *name, uint64_t batch_ms)
{
    sl_job_t *j = calloc(1, sizeof *j);
    if (!j)
        return NULL;
    j->spec = malloc(sizeof *j->spec);
    if (!j->spec) {
        free(j);
        return NULL;
    }
    sluice__job_spec__init(j->spec);
    j->spec->batch_ms = batch_ms;
    if (name && *name && !(j->spec->name = strdup(name))) {
        sl_job_free(j);
        return NULL;
    }
    return j;
}

void sl_job_free(sl_job_t *j)
{
    if (!j)
        return;
    if (j->spec)
        sluice__job_spec__free_unpacked(j->spec, NULL);
    free(j->library_path);
    free(j);
}

const char *sl_job_error(const sl_job_t *j)
{
    if (!j)
        return "no job (sl_job_new failed: out of memory)";
    return j->st != SL_OK ? j->err : NULL;
}

const Sluice__JobSpec *sl_job_spec(const sl_job_t *j)
{
    return j->st == SL_OK ? j->spec : NULL;
}

void sl_job_set_block_interval(sl_job_t *j, uint64_t block_ms)
{
    if (j)
        j->spec->block_ms = block_ms;
}

void sl_job_set_wal(sl_job_t *j, bool on)
{
    if (j)
        j->spec->wal = on;
}

/* Replaces a string field (malloc'ed or protobuf-c's empty default). */
static bool sl_job_set_string(char **field, const char *value)
{
    char *copy = strdup(value ? value : "");
    if (!copy)
        return false;
    if (*field && *field != protobuf_c_empty_string)
        free(*field);
    *field = copy;
    return true;
}

sl_status_t sl_job_set_library(sl_job_t *j, const char *path, char *err)
{
    if (!j || !path || !*path) {
        sl_errf(err, "no library path given");
        return SL_ERR_INVALID;
    }
    char *copy = strdup(path);
    if (!copy || !sl_job_set_string(&j->spec->library_name, path)) {
        free(copy);
        sl_errf(err, "out of memory");
        return SL_ERR_NOMEM;
    }
    free(j->library_path);
    j->library_path = copy;
    return SL_OK;
}

/* Checks that `node` names an existing node; records the error if not. */
static bool sl_job_check_node(sl_job_t *j, const char *what, int node)
{
    if (j->st != SL_OK)
        return false;
    if (node >= 0 && (size_t)node < j->spec->n_nodes)
        return true;
    sl_job_fail(j, SL_ERR_INVALID, "%s: %d is not a node of job '%s' (it has %zu)", what, node,
                j->spec->name, j->spec->n_nodes);
    return false;
}

static bool sl_job_check_string(sl_job_t *j, const char *what, const char *arg, const char *value)
{
    if (j->st != SL_OK)
        return false;
    if (value && *value)
        return true;
    sl_job_fail(j, SL_ERR_INVALID, "%s: no %s given", what, arg);
    return false;
}

/* What one node constructor needs; unused fields stay zero. */
typedef struct {
    const char *what;           /* the constructor, for errors */
    Sluice__OpKind op;
    int inputs[2];
    size_t ninputs;
    const char *func;
    const char *const *args;
    size_t nargs;
    uint32_t partitions;
    const char *source, *mode, *path;
} sl_node_req_t;

static Sluice__FuncRef *sl_func_ref_new(const char *name, const char *const *args, size_t nargs)
{
    Sluice__FuncRef *f = malloc(sizeof *f);
    if (!f)
        return NULL;
    sluice__func_ref__init(f);
    if (!sl_job_set_string(&f->name, name))
        goto fail;
    if (nargs) {
        f->args = calloc(nargs, sizeof *f->args);
        if (!f->args)
            goto fail;
        for (; f->n_args < nargs; f->n_args++)
            if (!(f->args[f->n_args] = strdup(args[f->n_args])))
                goto fail;
    }
    return f;
fail:
    sluice__func_ref__free_unpacked(f, NULL);
    return NULL;
}

static int sl_job_add_node(sl_job_t *j, const sl_node_req_t *r)
{
    if (!j || j->st != SL_OK)
        return -1;
    for (size_t i = 0; i < r->ninputs; i++)
        if (!sl_job_check_node(j, r->what, r->inputs[i]))
            return -1;
    if (r->func && !sl_job_check_string(j, r->what, "function", r->func))
        return -1;
    for (size_t i = 0; r->func && i < r->nargs; i++) {
        if (!r->args || !r->args[i]) {
            sl_job_fail(j, SL_ERR_INVALID, "%s: argument %zu of '%s' is NULL", r->what, i + 1,
                        r->func);
            return -1;
        }
    }
    if (j->spec->n_nodes >= INT_MAX - 1) {
        sl_job_fail(j, SL_ERR_INVALID, "%s: too many nodes", r->what);
        return -1;
    }
    Sluice__StreamNode *n = malloc(sizeof *n);
    if (!n)
        goto oom;
    sluice__stream_node__init(n);
    n->op = r->op;
    n->partitions = r->partitions;
    if (r->ninputs) {
        n->inputs = malloc(r->ninputs * sizeof *n->inputs);
        if (!n->inputs)
            goto oom_node;
        for (; n->n_inputs < r->ninputs; n->n_inputs++)
            n->inputs[n->n_inputs] = (uint32_t)r->inputs[n->n_inputs];
    }
    if (r->func && !(n->func = sl_func_ref_new(r->func, r->args, r->nargs)))
        goto oom_node;
    if ((r->source && !sl_job_set_string(&n->source, r->source)) ||
        (r->mode && !sl_job_set_string(&n->mode, r->mode)) ||
        (r->path && !sl_job_set_string(&n->path, r->path)))
        goto oom_node;
    if (j->spec->n_nodes == j->cap_nodes) {
        size_t cap = j->cap_nodes ? j->cap_nodes * 2 : 8;
        Sluice__StreamNode **nodes = realloc(j->spec->nodes, cap * sizeof *nodes);
        if (!nodes)
            goto oom_node;
        j->spec->nodes = nodes;
        j->cap_nodes = cap;
    }
    j->spec->nodes[j->spec->n_nodes] = n;
    return (int)j->spec->n_nodes++;
oom_node:
    sluice__stream_node__free_unpacked(n, NULL);
oom:
    sl_job_fail(j, SL_ERR_NOMEM, "%s: out of memory", r->what);
    return -1;
}

int sl_push_stream(sl_job_t *j, const char *source, uint32_t partitions)
{
    if (!j || !sl_job_check_string(j, "sl_push_stream", "stream name", source))
        return -1;
    return sl_job_add_node(j, &(sl_node_req_t){ .what = "sl_push_stream",
                                                .op = SLUICE__OP_KIND__OP_PUSH,
                                                .partitions = partitions ? partitions : 1,
                                                .source = source });
}

/* The per-record operations share one shape. */
#define SL_FUNC_OP(fn, kind)                                                                   \
    int fn(sl_job_t *j, int in, const char *func, const char *const *args, size_t nargs)       \
    {                                                                                          \
        return sl_job_add_node(j, &(sl_node_req_t){ .what = #fn, .op = SLUICE__OP_KIND__OP_##kind, \
                                                    .inputs = { in }, .ninputs = 1,            \
                                                    .func = func ? func : "", .args = args,    \
                                                    .nargs = nargs });                         \
    }
SL_FUNC_OP(sl_map, MAP)
SL_FUNC_OP(sl_flat_map, FLAT_MAP)
SL_FUNC_OP(sl_filter, FILTER)
SL_FUNC_OP(sl_map_values, MAP_VALUES)
SL_FUNC_OP(sl_flat_map_values, FLAT_MAP_VALUES)
#undef SL_FUNC_OP

int sl_repartition(sl_job_t *j, int in, uint32_t partitions)
{
    return sl_job_add_node(j, &(sl_node_req_t){ .what = "sl_repartition",
                                                .op = SLUICE__OP_KIND__OP_REPARTITION,
                                                .inputs = { in }, .ninputs = 1,
                                                .partitions = partitions });
}

int sl_union(sl_job_t *j, int a, int b)
{
    return sl_job_add_node(j, &(sl_node_req_t){ .what = "sl_union", .op = SLUICE__OP_KIND__OP_UNION,
                                                .inputs = { a, b }, .ninputs = 2 });
}

int sl_count(sl_job_t *j, int in)
{
    return sl_job_add_node(j, &(sl_node_req_t){ .what = "sl_count", .op = SLUICE__OP_KIND__OP_COUNT,
                                                .inputs = { in }, .ninputs = 1 });
}

int sl_count_by_value(sl_job_t *j, int in)
{
    return sl_job_add_node(j, &(sl_node_req_t){ .what = "sl_count_by_value",
                                                .op = SLUICE__OP_KIND__OP_COUNT_BY_VALUE,
                                                .inputs = { in }, .ninputs = 1 });
}

int sl_reduce(sl_job_t *j, int in, const char *func)
{
    return sl_job_add_node(j, &(sl_node_req_t){ .what = "sl_reduce", .op = SLUICE__OP_KIND__OP_REDUCE,
                                                .inputs = { in }, .ninputs = 1,
                                                .func = func ? func : "" });
}

int sl_reduce_by_key(sl_job_t *j, int in, const char *func, uint32_t partitions)
{
    return sl_job_add_node(j, &(sl_node_req_t){ .what = "sl_reduce_by_key",
                                                .op = SLUICE__OP_KIND__OP_REDUCE_BY_KEY,
                                                .inputs = { in }, .ninputs = 1,
                                                .func = func ? func : "",
                                                .partitions = partitions });
}

int sl_group_by_key(sl_job_t *j, int in, uint32_t partitions)
{
    return sl_job_add_node(j, &(sl_node_req_t){ .what = "sl_group_by_key",
                                                .op = SLUICE__OP_KIND__OP_GROUP_BY_KEY,
                                                .inputs = { in }, .ninputs = 1,
                                                .partitions = partitions });
}

#define SL_PAIR_OP(fn, kind)                                                                   \
    int fn(sl_job_t *j, int left, int right, uint32_t partitions)                              \
    {                                                                                          \
        return sl_job_add_node(j, &(sl_node_req_t){ .what = #fn, .op = SLUICE__OP_KIND__OP_##kind, \
                                                    .inputs = { left, right }, .ninputs = 2,   \
                                                    .partitions = partitions });               \
    }
SL_PAIR_OP(sl_join, JOIN)
SL_PAIR_OP(sl_left_outer_join, LEFT_OUTER_JOIN)
SL_PAIR_OP(sl_right_outer_join, RIGHT_OUTER_JOIN)
SL_PAIR_OP(sl_full_outer_join, FULL_OUTER_JOIN)
SL_PAIR_OP(sl_cogroup, COGROUP)
#undef SL_PAIR_OP

int sl_transform(sl_job_t *j, int in, const char *mode, const char *path)
{
    if (!j || !sl_job_check_string(j, "sl_transform", "mode", mode) ||
        !sl_job_check_string(j, "sl_transform", "dataset path", path))
        return -1;
    return sl_job_add_node(j, &(sl_node_req_t){ .what = "sl_transform",
                                                .op = SLUICE__OP_KIND__OP_TRANSFORM,
                                                .inputs = { in }, .ninputs = 1, .mode = mode,
                                                .path = path });
}

int sl_name(sl_job_t *j, int node, const char *name)
{
    if (!j || !sl_job_check_node(j, "sl_name", node) ||
        !sl_job_check_string(j, "sl_name", "name", name))
        return -1;
    if (!sl_job_set_string(&j->spec->nodes[node]->name, name)) {
        sl_job_fail(j, SL_ERR_NOMEM, "sl_name: out of memory");
        return -1;
    }
    return node;
}

static int sl_job_add_output(sl_job_t *j, const char *what, Sluice__OutputKind kind, int node,
                             uint32_t count, const char *path, const char *table)
{
    if (!j || !sl_job_check_node(j, what, node))
        return -1;
    if (j->spec->n_outputs >= INT_MAX - 1) {
        sl_job_fail(j, SL_ERR_INVALID, "%s: too many outputs", what);
        return -1;
    }
    Sluice__OutputSpec *o = malloc(sizeof *o);
    if (!o)
        goto oom;
    sluice__output_spec__init(o);
    o->kind = kind;
    o->input = (uint32_t)node;
    o->count = count;
    if ((path && !sl_job_set_string(&o->path, path)) ||
        (table && !sl_job_set_string(&o->table, table)))
        goto oom_out;
    if (j->spec->n_outputs == j->cap_outputs) {
        size_t cap = j->cap_outputs ? j->cap_outputs * 2 : 4;
        Sluice__OutputSpec **outs = realloc(j->spec->outputs, cap * sizeof *outs);
        if (!outs)
            goto oom_out;
        j->spec->outputs = outs;
        j->cap_outputs = cap;
    }
    j->spec->outputs[j->spec->n_outputs] = o;
    return (int)j->spec->n_outputs++;
oom_out:
    sluice__output_spec__free_unpacked(o, NULL);
oom:
    sl_job_fail(j, SL_ERR_NOMEM, "%s: out of memory", what);
    return -1;
}

int sl_print(sl_job_t *j, int node, uint32_t n)
{
    return sl_job_add_output(j, "sl_print", SLUICE__OUTPUT_KIND__OUT_PRINT, node,
                             n ? n : SL_BUILDER_PRINT_DEFAULT, NULL, NULL);
}

int sl_save_as_text_files(sl_job_t *j, int node, const char *prefix)
{
    if (!j || !sl_job_check_string(j, "sl_save_as_text_files", "prefix", prefix))
        return -1;
    return sl_job_add_output(j, "sl_save_as_text_files", SLUICE__OUTPUT_KIND__OUT_SAVE_TEXT, node, 0,
                             prefix, NULL);
}

int sl_sqlite(sl_job_t *j, int node, const char *db, const char *table)
{
    if (!j || !sl_job_check_string(j, "sl_sqlite", "database", db) ||
        !sl_job_check_string(j, "sl_sqlite", "table", table))
        return -1;
    return sl_job_add_output(j, "sl_sqlite", SLUICE__OUTPUT_KIND__OUT_SQLITE, node, 0, db, table);
}

int sl_publish(sl_job_t *j, int node)
{
    return sl_job_add_output(j, "sl_publish", SLUICE__OUTPUT_KIND__OUT_PUBLISH, node, 0, NULL, NULL);
}


sl_status_t sl_job_submit(sl_client_t *c, const sl_job_t *j, char *job_id_out, char *err)
{
    if (!j) {
        sl_errf(err, "no job given");
        return SL_ERR_INVALID;
    }
    if (j->st != SL_OK) {
        sl_errf(err, "%s", j->err);
        return j->st;
    }
    Sluice__JobSpec *spec = sl_msg_clone(j->spec);
    if (!spec) {
        sl_errf(err, "out of memory");
        return SL_ERR_NOMEM;
    }
    char why[SL_ERRMSG_LEN] = "";
    sl_status_t st = SL_OK;
    if (j->library_path && (st = sl_spec_load_library(spec, j->library_path, why)) != SL_OK)
        sl_errf(err, "cannot read library '%s': %s", j->library_path, why);
    if (st == SL_OK)
        st = sl_jobspec_absolutize(spec, err);
    if (st == SL_OK)
        st = sl_client_submit_spec(c, spec, NULL, job_id_out, err);
    sluice__job_spec__free_unpacked(spec, NULL);
    return st;
}
