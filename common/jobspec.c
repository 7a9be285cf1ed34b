/* The one check every JobSpec passes before the master admits it, whichever
 * front door built it (job file or C builder). An op table says, per
 * operation, how many inputs it takes, which kind of function it wants and
 * whether it takes a partition count; the checks read the table. Fields an
 * op does not use must be left empty, so that builder mistakes surface here
 * rather than as silently ignored settings. */
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include "jobspec.h"
#include "parse.h"

#define SL_JOB_NAME_MAX       64
#define SL_BATCH_MIN_MS       10
#define SL_PARTITIONS_MAX     4096
#define SL_PRINT_COUNT_MAX    1000000
#define SL_TABLE_NAME_MAX     64

/* How an op treats StreamNode.partitions. */
typedef enum {
    SL_PARTS_NONE = 0,      /* must be 0 */
    SL_PARTS_REQUIRED,      /* 1..SL_PARTITIONS_MAX */
    SL_PARTS_OPTIONAL,      /* 0 (engine default) or 1..SL_PARTITIONS_MAX */
} sl_parts_rule_t;

typedef struct {
    const char *name;       /* as the job file spells it */
    unsigned inputs;
    sl_fn_kind_t fn;        /* 0: takes no function */
    sl_parts_rule_t parts;
} sl_op_info_t;

static const sl_op_info_t sl_ops[] = {
    [SLUICE__OP_KIND__OP_PUSH] = { "push", 0, 0, SL_PARTS_REQUIRED },
    [SLUICE__OP_KIND__OP_MAP] = { "map", 1, SL_FN_MAP, SL_PARTS_NONE },
    [SLUICE__OP_KIND__OP_FLAT_MAP] = { "flat_map", 1, SL_FN_FLAT_MAP, SL_PARTS_NONE },
    [SLUICE__OP_KIND__OP_FILTER] = { "filter", 1, SL_FN_FILTER, SL_PARTS_NONE },
    [SLUICE__OP_KIND__OP_MAP_VALUES] = { "map_values", 1, SL_FN_MAP, SL_PARTS_NONE },
    [SLUICE__OP_KIND__OP_FLAT_MAP_VALUES] = { "flat_map_values", 1, SL_FN_FLAT_MAP, SL_PARTS_NONE },
    [SLUICE__OP_KIND__OP_REPARTITION] = { "repartition", 1, 0, SL_PARTS_REQUIRED },
    [SLUICE__OP_KIND__OP_UNION] = { "union", 2, 0, SL_PARTS_NONE },
    [SLUICE__OP_KIND__OP_COUNT] = { "count", 1, 0, SL_PARTS_NONE },
    [SLUICE__OP_KIND__OP_COUNT_BY_VALUE] = { "count_by_value", 1, 0, SL_PARTS_NONE },
    [SLUICE__OP_KIND__OP_REDUCE] = { "reduce", 1, SL_FN_REDUCE, SL_PARTS_NONE },
    [SLUICE__OP_KIND__OP_REDUCE_BY_KEY] = { "reduce_by_key", 1, SL_FN_REDUCE, SL_PARTS_OPTIONAL },
    [SLUICE__OP_KIND__OP_GROUP_BY_KEY] = { "group_by_key", 1, 0, SL_PARTS_OPTIONAL },
    [SLUICE__OP_KIND__OP_JOIN] = { "join", 2, 0, SL_PARTS_OPTIONAL },
    [SLUICE__OP_KIND__OP_LEFT_OUTER_JOIN] = { "left_outer_join", 2, 0, SL_PARTS_OPTIONAL },
    [SLUICE__OP_KIND__OP_RIGHT_OUTER_JOIN] = { "right_outer_join", 2, 0, SL_PARTS_OPTIONAL },
    [SLUICE__OP_KIND__OP_FULL_OUTER_JOIN] = { "full_outer_join", 2, 0, SL_PARTS_OPTIONAL },
    [SLUICE__OP_KIND__OP_COGROUP] = { "cogroup", 2, 0, SL_PARTS_OPTIONAL },
    [SLUICE__OP_KIND__OP_TRANSFORM] = { "transform", 1, 0, SL_PARTS_NONE },
};
#define SL_NOPS (sizeof sl_ops / sizeof *sl_ops)

static const char *const sl_outputs[] = {
    [SLUICE__OUTPUT_KIND__OUT_PRINT] = "print",
    [SLUICE__OUTPUT_KIND__OUT_SAVE_TEXT] = "save_as_text_files",
    [SLUICE__OUTPUT_KIND__OUT_SQLITE] = "sqlite",
    [SLUICE__OUTPUT_KIND__OUT_PUBLISH] = "publish",
};
#define SL_NOUTPUTS (sizeof sl_outputs / sizeof *sl_outputs)

static const char *const sl_transform_modes[] = { "join", "left_outer_join", "filter", "subtract" };

const char *sl_op_name(Sluice__OpKind op)
{
    if ((unsigned)op >= SL_NOPS || !sl_ops[op].name)
        return "unknown";
    return sl_ops[op].name;
}

const char *sl_output_name(Sluice__OutputKind kind)
{
    if ((unsigned)kind >= SL_NOUTPUTS || !sl_outputs[kind])
        return "unknown";
    return sl_outputs[kind];
}

/* Protobuf-c leaves absent strings as "", a hand-built spec may leave NULL. */
static bool sl_empty(const char *s)
{
    return !s || !*s;
}

static bool sl_name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '_' || c == '.' || c == '-';
}

/* A SQL identifier we can put into statements unquoted: [A-Za-z_][A-Za-z0-9_]*. */
static bool sl_table_name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > SL_TABLE_NAME_MAX || (s[0] >= '0' && s[0] <= '9'))
        return false;
    for (size_t i = 0; i < n; i++)
        if (!sl_name_char(s[i]) || s[i] == '.' || s[i] == '-')
            return false;
    return true;
}

/* Writes "<where>: <message>" into err, where `where` is the job-file
 * position of the element when it has one ("line 4, col 12") and its index
 * and name otherwise. Returns SL_ERR_INVALID. */
__attribute__((format(printf, 6, 7)))
static sl_status_t sl_fail_at(char *err, const char *what, size_t index, const char *name,
                              uint32_t line_col[2], const char *fmt, ...)
{
    if (!err)
        return SL_ERR_INVALID;
    int n;
    if (line_col[0])
        n = snprintf(err, SL_ERRMSG_LEN, "line %u, col %u: ", (unsigned)line_col[0],
                     (unsigned)line_col[1]);
    else
        n = snprintf(err, SL_ERRMSG_LEN, "%s %zu ('%s'): ", what, index, name);
    if (n >= 0 && n < SL_ERRMSG_LEN) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err + n, SL_ERRMSG_LEN - (size_t)n, fmt, ap);
        va_end(ap);
    }
    return SL_ERR_INVALID;
}

/* For sl_check_node() and sl_check_output(), where i, n or o and pos are set. */
#define SL_NODE_FAIL(...) \
    sl_fail_at(err, "node", i, sl_empty(n->name) ? "" : n->name, pos, __VA_ARGS__)
#define SL_OUT_FAIL(...) sl_fail_at(err, "output", i, sl_output_name(o->kind), pos, __VA_ARGS__)

__attribute__((format(printf, 2, 3)))
static sl_status_t sl_fail(char *err, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, SL_ERRMSG_LEN, fmt, ap);
        va_end(ap);
    }
    return SL_ERR_INVALID;
}

/* Compiles the function of a node for `want` and throws the result away.
 * A name that is not built in cannot be checked without the library: it is
 * accepted when the spec names one (lib NULL: the caller has not loaded it,
 * the master checks again once it has) and refused when there is none. */
static sl_status_t sl_check_func(const Sluice__JobSpec *spec, const Sluice__FuncRef *fr,
                                 sl_fn_kind_t want, const sl_udf_lib_t *lib, char *msg)
{
    if (!sl_builtin_find(fr->name) && !lib) {
        if (!sl_empty(spec->library_name))
            return SL_OK;
        snprintf(msg, SL_ERRMSG_LEN,
                 "unknown function '%s' (not built in, and the job has no library)", fr->name);
        return SL_ERR_INVALID;
    }
    for (size_t a = 0; a < fr->n_args; a++) {
        if (!fr->args[a]) {
            snprintf(msg, SL_ERRMSG_LEN, "%s: argument %zu is missing", fr->name, a + 1);
            return SL_ERR_INVALID;
        }
    }
    sl_func_t *f = NULL;
    sl_status_t st = sl_func_compile(fr->name, (const char *const *)fr->args, fr->n_args, want, lib,
                                     &f, msg);
    sl_func_free(f);
    return st;
}

static sl_status_t sl_check_node(const Sluice__JobSpec *spec, size_t i, const sl_udf_lib_t *lib,
                                 char *err)
{
    const Sluice__StreamNode *n = spec->nodes[i];
    uint32_t pos[2] = { n->line, n->col };
    if ((unsigned)n->op >= SL_NOPS || !sl_ops[n->op].name)
        return SL_NODE_FAIL("unknown operation %d", (int)n->op);
    if (n->name && strlen(n->name) > SL_JOB_NAME_MAX)
        return SL_NODE_FAIL("name '%.32s...' is longer than %d characters", n->name,
                            SL_JOB_NAME_MAX);
    const sl_op_info_t *op = &sl_ops[n->op];

    if (n->n_inputs != op->inputs)
        return SL_NODE_FAIL("%s takes %u input%s, got %zu", op->name, op->inputs,
                            op->inputs == 1 ? "" : "s", n->n_inputs);
    for (size_t k = 0; k < n->n_inputs; k++)
        if (n->inputs[k] >= i)
            return SL_NODE_FAIL("%s: input %u is not an earlier node (inputs must come before the "
                                "node that reads them, so the graph has no cycles)",
                                op->name, (unsigned)n->inputs[k]);

    switch (op->parts) {
    case SL_PARTS_NONE:
        if (n->partitions)
            return SL_NODE_FAIL("%s takes no partition count", op->name);
        break;
    case SL_PARTS_REQUIRED:
    case SL_PARTS_OPTIONAL:
        if ((n->partitions == 0 && op->parts == SL_PARTS_REQUIRED) ||
            n->partitions > SL_PARTITIONS_MAX)
            return SL_NODE_FAIL("%s: partition count %u is out of range (1..%d)", op->name,
                                (unsigned)n->partitions, SL_PARTITIONS_MAX);
        break;
    }

    bool has_func = n->func && !sl_empty(n->func->name);
    if (op->fn && !has_func)
        return SL_NODE_FAIL("%s needs a function", op->name);
    if (!op->fn && has_func)
        return SL_NODE_FAIL("%s takes no function", op->name);
    if (has_func) {
        char msg[SL_ERRMSG_LEN] = "";
        sl_status_t st = sl_check_func(spec, n->func, op->fn, lib, msg);
        if (st == SL_ERR_NOMEM) {
            sl_fail(err, "out of memory");
            return SL_ERR_NOMEM;
        }
        if (st != SL_OK) {
            /* Point at the function itself when the job file said where. */
            if (n->func->line) {
                pos[0] = n->func->line;
                pos[1] = n->func->col;
            }
            return SL_NODE_FAIL("%s", msg);
        }
    }

    if (n->op == SLUICE__OP_KIND__OP_PUSH) {
        if (sl_empty(n->source))
            return SL_NODE_FAIL("push needs a stream name");
        if (strlen(n->source) > SL_JOB_NAME_MAX)
            return SL_NODE_FAIL("stream name '%.32s...' is longer than %d characters", n->source,
                                SL_JOB_NAME_MAX);
        for (size_t j = 0; j < i; j++) {
            const Sluice__StreamNode *m = spec->nodes[j];
            if (m->op != SLUICE__OP_KIND__OP_PUSH || sl_empty(m->source) ||
                strcmp(m->source, n->source) != 0)
                continue;
            if (m->line)
                return SL_NODE_FAIL("stream '%s' is already pushed at line %u", n->source,
                                    (unsigned)m->line);
            return SL_NODE_FAIL("stream '%s' is already pushed by node %zu", n->source, j);
        }
    } else if (!sl_empty(n->source)) {
        return SL_NODE_FAIL("%s takes no source stream (only push does)", op->name);
    }

    if (n->op == SLUICE__OP_KIND__OP_TRANSFORM) {
        const char *mode = sl_empty(n->mode) ? "" : n->mode;
        size_t m = 0, nmodes = sizeof sl_transform_modes / sizeof *sl_transform_modes;
        while (m < nmodes && strcmp(mode, sl_transform_modes[m]) != 0)
            m++;
        if (m == nmodes)
            return SL_NODE_FAIL("unknown transform mode '%s' (expected join, left_outer_join, "
                                "filter or subtract)", mode);
        if (sl_empty(n->path))
            return SL_NODE_FAIL("transform needs the path of its dataset");
    } else if (!sl_empty(n->mode) || !sl_empty(n->path)) {
        return SL_NODE_FAIL("%s takes no mode or path (only transform does)", op->name);
    }
    return SL_OK;
}

static sl_status_t sl_check_output(const Sluice__JobSpec *spec, size_t i, char *err)
{
    const Sluice__OutputSpec *o = spec->outputs[i];
    uint32_t pos[2] = { o->line, o->col };
    if ((unsigned)o->kind >= SL_NOUTPUTS || !sl_outputs[o->kind])
        return SL_OUT_FAIL("unknown output kind %d", (int)o->kind);
    const char *name = sl_outputs[o->kind];
    if (o->input >= spec->n_nodes)
        return SL_OUT_FAIL("%s: input node %u does not exist (the job has %zu node%s)", name,
                           (unsigned)o->input, spec->n_nodes, spec->n_nodes == 1 ? "" : "s");

    bool print = o->kind == SLUICE__OUTPUT_KIND__OUT_PRINT;
    bool wants_path = o->kind == SLUICE__OUTPUT_KIND__OUT_SAVE_TEXT ||
                      o->kind == SLUICE__OUTPUT_KIND__OUT_SQLITE;
    bool wants_table = o->kind == SLUICE__OUTPUT_KIND__OUT_SQLITE;
    if (print && (o->count == 0 || o->count > SL_PRINT_COUNT_MAX))
        return SL_OUT_FAIL("print: count %u is out of range (1..%d)", (unsigned)o->count,
                           SL_PRINT_COUNT_MAX);
    if (!print && o->count)
        return SL_OUT_FAIL("%s takes no count (only print does)", name);
    if (wants_path && sl_empty(o->path))
        return SL_OUT_FAIL("%s needs a path", name);
    if (!wants_path && !sl_empty(o->path))
        return SL_OUT_FAIL("%s takes no path", name);
    if (wants_table && (sl_empty(o->table) || !sl_table_name_ok(o->table)))
        return SL_OUT_FAIL("sqlite: invalid table name '%s' (use 1-%d of A-Z a-z 0-9 _, not "
                           "starting with a digit)", sl_empty(o->table) ? "" : o->table,
                           SL_TABLE_NAME_MAX);
    if (!wants_table && !sl_empty(o->table))
        return SL_OUT_FAIL("%s takes no table", name);
    return SL_OK;
}

sl_status_t sl_jobspec_validate(const Sluice__JobSpec *spec, const sl_udf_lib_t *lib, char *err)
{
    if (!spec)
        return sl_fail(err, "no job spec");

    const char *name = sl_empty(spec->name) ? "" : spec->name;
    size_t len = strlen(name);
    bool name_ok = len >= 1 && len <= SL_JOB_NAME_MAX;
    for (size_t k = 0; name_ok && k < len; k++)
        name_ok = sl_name_char(name[k]);
    if (!name_ok)
        return sl_fail(err, "invalid job name '%.*s%s' (use 1-%d of A-Z a-z 0-9 _ . -)",
                       SL_JOB_NAME_MAX, name, len > SL_JOB_NAME_MAX ? "..." : "",
                       SL_JOB_NAME_MAX);

    char batch[32], block[32];
    sl_format_duration_ms(spec->batch_ms, batch, sizeof batch);
    sl_format_duration_ms(spec->block_ms, block, sizeof block);
    if (spec->batch_ms < SL_BATCH_MIN_MS)
        return sl_fail(err, "batch interval %s is below the minimum of %dms", batch,
                       SL_BATCH_MIN_MS);
    if (spec->block_ms > spec->batch_ms)
        return sl_fail(err, "block interval %s is longer than the batch interval %s", block, batch);

    if (spec->n_nodes && !spec->nodes)
        return sl_fail(err, "node list is missing");
    if (spec->n_outputs && !spec->outputs)
        return sl_fail(err, "output list is missing");
    for (size_t i = 0; i < spec->n_nodes; i++)
        if (!spec->nodes[i])
            return sl_fail(err, "node %zu is missing", i);
    for (size_t i = 0; i < spec->n_outputs; i++)
        if (!spec->outputs[i])
            return sl_fail(err, "output %zu is missing", i);

    for (size_t i = 0; i < spec->n_nodes; i++) {
        sl_status_t st = sl_check_node(spec, i, lib, err);
        if (st != SL_OK)
            return st;
    }
    for (size_t i = 0; i < spec->n_outputs; i++) {
        sl_status_t st = sl_check_output(spec, i, err);
        if (st != SL_OK)
            return st;
    }
    if (spec->n_outputs == 0)
        return sl_fail(err, "the job has no output operation (print, save_as_text_files, sqlite "
                            "or publish)");
    return SL_OK;
}
