/* What common/funcs.c (the built-in catalogue, compiling and calling),
 * common/reducers.c (the built-in reducers' steps) and common/udf.c (user
 * libraries and the adapters to their ABI) share: the layout of a compiled
 * sl_func_t, the call steps it dispatches through, and the text and value
 * helpers they use. Private to those three files. */
#ifndef SL_FUNCS_INTERNAL_H
#define SL_FUNCS_INTERNAL_H

#include <regex.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "funcs.h"

#define SL_ERRF(err, ...) do { if (err) snprintf(err, SL_ERRMSG_LEN, __VA_ARGS__); } while (0)
#define SL_NELEM(a) (sizeof (a) / sizeof *(a))

/* A non-NULL address for empty byte strings (memcpy/memmem want one). */
extern const uint8_t sl_funcs_empty[1];

typedef struct {
    const uint8_t *p;    /* never NULL */
    size_t len;
} sl_text_t;

/* --- call steps, shared by built-ins and the UDF adapters ----------------- */

/* Function types, so that a step can also be declared by its type. */
typedef sl_status_t sl_value_step(const sl_func_t *f, const sl_value_t *v, sl_value_t *out,
                                  sl_arena_t *a);
typedef sl_status_t sl_map_step(const sl_func_t *f, const sl_record_t *in, sl_record_t *out,
                                sl_arena_t *a, char *err);
typedef sl_status_t sl_flat_map_step(const sl_func_t *f, const sl_record_t *in, sl_emit_t *emit,
                                     sl_arena_t *a, char *err);
typedef bool sl_filter_step(const sl_func_t *f, const sl_record_t *in);
typedef sl_status_t sl_init_step(const sl_func_t *f, const sl_value_t *v, sl_value_t *acc,
                                 sl_arena_t *a, char *err);
/* Folds y into x. `y_input`: y is borrowed from an input record (combine),
 * so what the result keeps of it must be copied; else y is an accumulator. */
typedef sl_status_t sl_fold_step(const sl_func_t *f, const sl_value_t *x, const sl_value_t *y,
                                 bool y_input, sl_value_t *out, sl_arena_t *a, char *err);

typedef struct {
    sl_value_step *value;         /* SL_FN_MAP that keeps the key */
    sl_map_step *map;             /* other SL_FN_MAP, and SL_FN_KEY */
    sl_flat_map_step *flat_map;
    sl_filter_step *filter;
    sl_init_step *init;           /* SL_FN_REDUCE: all three */
    sl_fold_step *combine;
    sl_fold_step *merge;
} sl_calls_t;

/* Rows of a call-step table (sl_calls_t), built-in or user. */
#define SL_VALUE(fn)    { .value = (fn) }
#define SL_MAP(fn)      { .map = (fn) }
#define SL_FLAT(fn)     { .flat_map = (fn) }
#define SL_FILTER(fn)   { .filter = (fn) }
#define SL_REDUCE(i, c, m) { .init = (i), .combine = (c), .merge = (m) }

struct sl_func {
    const char *name;             /* the catalogue's or the library's: not copied */
    sl_fn_kind_t kind;
    const sl_calls_t *calls;
    size_t n;                     /* field, key_by_field: field number */
    char *s;                      /* separator or needle, owned; NULL when not given */
    size_t slen;
    bool has_re;
    regex_t re;                   /* matches; regexec is thread-safe */
    void (*ufn)(void);            /* user function, cast to its sl_udf_*_fn type */
};

/* --- helpers (common/funcs.c) -------------------------------------------- */

/* n bytes of p copied into the arena (sl_funcs_empty when n is 0); NULL
 * only when out of memory. */
const uint8_t *sl_funcs_dup(sl_arena_t *a, const uint8_t *p, size_t n);

/* A bytes value for [p, p+len); p may be NULL when len is 0. Borrows p. */
sl_value_t sl_funcs_bytes_value(const uint8_t *p, size_t len);

/* The text of v: bytes as they are (borrowed), anything else rendered by
 * sl_value_format into this thread's scratch `slot` (0 or 1; valid until
 * that slot's next use on this thread). */
sl_status_t sl_funcs_text_of(const sl_value_t *v, int slot, sl_text_t *out /* OUT */);

/* Like sl_funcs_text_of, but a rendering is copied into the arena so that
 * it survives calls out (bytes are still borrowed). */
sl_status_t sl_funcs_text_keep(const sl_value_t *v, sl_arena_t *a, sl_text_t *out /* OUT */);

/* *out = *v, with v's bytes copied into the arena when `copy`. */
sl_status_t sl_funcs_keep(const sl_value_t *v, bool copy, sl_arena_t *a, sl_value_t *out /* OUT */);

/* --- reducer steps (common/reducers.c) ----------------------------------- */

/* The init step that keeps a copy of the first value (min, max, user reducers). */
sl_init_step sl_reduce_init_keep;

/* sum: numbers and nulls only; int while both sides are ints (overflow is
 * an error), else double. One fold serves combine and merge. */
sl_init_step sl_reduce_sum_init;
sl_fold_step sl_reduce_sum_fold;

/* count: the accumulator is an int; combine adds one, merge adds y. */
sl_init_step sl_reduce_count_init;
sl_fold_step sl_reduce_count_combine, sl_reduce_count_merge;

/* min and max (init: sl_reduce_init_keep): numbers by value, anything else
 * by the bytes of its text; nulls lose, ties keep x. */
sl_fold_step sl_reduce_min_fold, sl_reduce_max_fold;

/* concat: the texts joined with f->s between them; the accumulator is
 * bytes in the arena, or null while only nulls were seen. */
sl_init_step sl_reduce_concat_init;
sl_fold_step sl_reduce_concat_fold;

/* --- user functions for sl_func_compile (common/udf.c) -------------------- */

/* A function of a user library, as sl_func_compile needs it. */
typedef struct {
    const char *name;             /* the library's: valid while it is loaded */
    sl_fn_kind_t kind;
    const sl_calls_t *calls;      /* the adapters for its ABI kind */
    void (*fn)(void);             /* the function, cast to its sl_udf_*_fn type */
} sl_udf_entry_t;

/* Looks `name` up in lib's table; false when lib does not define it. */
bool sl_udf_find(const sl_udf_lib_t *lib, const char *name, sl_udf_entry_t *out /* OUT */);

/* lib's file name without its directory, for messages; valid while lib is. */
const char *sl_udf_lib_file(const sl_udf_lib_t *lib);

#endif
