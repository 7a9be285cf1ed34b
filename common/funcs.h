/* Functions that jobs name: the built-in catalogue and user functions from a
 * shared library (ABI in common/sluice_udf.h), compiled once with their
 * arguments into an immutable sl_func_t that any executor thread may call.
 *
 * Value functions (lower, field, to_int, ...) transform the value and keep the
 * key; on a non-bytes value they work on its text rendering. pair_one and
 * key_by_field set the key. Reducers have three steps so that map-side
 * combining works for all of them: init(v) starts an accumulator, combine(acc,
 * v) folds a value in, merge(acc, acc) joins two accumulators (count: init 1,
 * combine acc+1, merge acc+acc; the others: init v (concat: its text),
 * combine = merge = op). Catalogue and user ABI for people: client/FUNCTIONS.md. */
#ifndef SL_FUNCS_H
#define SL_FUNCS_H

#include <stdbool.h>
#include <stddef.h>
#include "arena.h"
#include "block.h"
#include "status.h"

typedef enum {
    SL_FN_MAP = 1,       /* record -> record */
    SL_FN_FLAT_MAP,      /* record -> 0..n records */
    SL_FN_FILTER,        /* record -> keep? */
    SL_FN_REDUCE,        /* (acc, value) -> acc */
    SL_FN_KEY,           /* record -> key (usable wherever a map is: sets the key) */
} sl_fn_kind_t;

/* Where flat_map sends its output; fn is called once per produced record,
 * which is borrowed for the call. */
typedef struct sl_emit {
    sl_status_t (*fn)(struct sl_emit *self, const sl_record_t *r);
} sl_emit_t;

typedef struct sl_func sl_func_t;
typedef struct sl_udf_lib sl_udf_lib_t;

/* Loads a user library (dlopen RTLD_NOW|RTLD_LOCAL) and checks its ABI
 * version symbol and function table. A path without '/' names a file in the
 * current directory (dlopen's library search is not used). Errors name the
 * file and the problem. The library must outlive every function compiled
 * against it. Caller frees with sl_udf_lib_free(). */
sl_status_t sl_udf_lib_load(const char *path, sl_udf_lib_t **out /* OUT */, char *err);
/* Loads a library shipped as bytes (with a job): writes it as `name`'s last
 * path component into a fresh private directory under `dir` (NULL: $TMPDIR or
 * /tmp), so every load is its own file and errors name the user's file; the
 * file is removed again once loaded (the mapping stays). */
sl_status_t sl_udf_lib_load_bytes(const void *data, size_t len, const char *name, const char *dir,
                                  sl_udf_lib_t **out /* OUT */, char *err);
void sl_udf_lib_free(sl_udf_lib_t *lib);    /* accepts NULL */

/* Compiles name(args) for use as `want`. Built-ins are looked up first, then
 * `lib` (may be NULL). A key function is accepted where a map is wanted (and
 * is called through sl_func_map); user functions take no arguments. args are
 * copied. Errors: "unknown function 'x'", "'sum' is a reducer, not a map
 * function", "field expects 2 arguments (n, sep), got 1", "field: '-1' is not
 * a field number ...", "matches: bad regular expression ...". Caller frees
 * with sl_func_free(). */
sl_status_t sl_func_compile(const char *name, const char *const *args, size_t nargs,
                            sl_fn_kind_t want, const sl_udf_lib_t *lib, sl_func_t **out /* OUT */,
                            char *err);
void sl_func_free(sl_func_t *f);            /* accepts NULL */
sl_fn_kind_t sl_func_kind(const sl_func_t *f);   /* its own kind: SL_FN_KEY stays KEY */
const char *sl_func_name(const sl_func_t *f);

/* The calls; any thread may call a compiled function at the same time. New
 * output bytes live in the arena (valid until it is reset); input is
 * borrowed, and map/flat_map output may point into it (the key kept as it
 * was, identity, trim, field, ...): copy it before the input goes away. An
 * accumulator never borrows from a reduced value: init and combine copy what
 * they keep of v into the arena; merge's result may be x or y itself. `err`
 * (SL_ERRMSG_LEN, may be NULL) says what failed, e.g. "sum: integer overflow
 * ..." or "user function 'x' failed: ..." (SL_ERR_INTERNAL). A filter that
 * cannot decide (out of memory) drops the record. */
sl_status_t sl_func_map(const sl_func_t *f, const sl_record_t *in, sl_record_t *out /* OUT */,
                        sl_arena_t *a, char *err);
sl_status_t sl_func_flat_map(const sl_func_t *f, const sl_record_t *in, sl_emit_t *emit,
                             sl_arena_t *a, char *err);
bool sl_func_filter(const sl_func_t *f, const sl_record_t *in);
sl_status_t sl_func_reduce_init(const sl_func_t *f, const sl_value_t *v, sl_value_t *acc /* OUT */,
                                sl_arena_t *a, char *err);
sl_status_t sl_func_reduce_combine(const sl_func_t *f, const sl_value_t *acc, const sl_value_t *v,
                                   sl_value_t *out /* OUT */, sl_arena_t *a, char *err);
sl_status_t sl_func_reduce_merge(const sl_func_t *f, const sl_value_t *x, const sl_value_t *y,
                                 sl_value_t *out /* OUT */, sl_arena_t *a, char *err);

/* The catalogue, for validation without compiling and for documentation. */
typedef struct {
    const char *name;
    sl_fn_kind_t kind;
    const char *signature;   /* "field(n, sep)" */
    const char *doc;         /* one line */
} sl_builtin_info_t;

size_t sl_builtin_count(void);
const sl_builtin_info_t *sl_builtin_info(size_t i);
const sl_builtin_info_t *sl_builtin_find(const char *name);   /* NULL when not built in */
const char *sl_fn_kind_name(sl_fn_kind_t k);                  /* "map", "reducer", ... */

#endif
