/* Helpers the suites of common/funcs.c (test_funcs.c, which defines them)
 * and common/udf.c (test_udf.c) share. Values are written as specs: "n"
 * null, "i:42", "d:1.5", "b:text", and "L:e|e" / "T:e|e" for a list /
 * tuple of element specs. */
#ifndef SL_TEST_FUNCS_H
#define SL_TEST_FUNCS_H

#include "arena.h"
#include "funcs.h"

#define SL_NELEM(a) (sizeof (a) / sizeof *(a))

/* The arena calls allocate from: made by sl_tsetup, freed by sl_tteardown
 * (the checked fixture of every test case that uses these helpers). */
extern sl_arena_t *sl_ta;
void sl_tsetup(void);
void sl_tteardown(void);

/* The value a spec describes; lists and tuples live until sl_tteardown. */
sl_value_t sl_tv(const char *spec);

/* The spec-like text of v ("i:42", "b:hi", "L:[1, 2]"); valid for a while
 * (a ring of 8). */
const char *sl_ts(const sl_value_t *v);

/* Fails unless record r's key is `want`. */
void sl_ck_key(const sl_record_t *r, const char *want);

/* sl_func_compile that must succeed; the caller frees with sl_func_free(). */
sl_func_t *sl_tcompile(const char *name, const char *const *args, size_t nargs,
                       sl_fn_kind_t want, const sl_udf_lib_t *lib);

/* Collects what a flat_map emits as "spec|spec|..." (checking each key
 * against `key` unless NULL); fails after `fail_at` records when that is
 * non-zero. Initialize as { { sl_collect_fn }, key, "", 0, fail_at }. */
typedef struct {
    sl_emit_t base;
    const char *key;
    char out[512];
    unsigned n, fail_at;
} sl_collect_t;
sl_status_t sl_collect_fn(sl_emit_t *self, const sl_record_t *r);

/* A reducer's init(v[from]), then combine over the rest of [from, to). */
sl_status_t sl_tfold(const sl_func_t *f, const sl_value_t *v, size_t from, size_t to,
                     sl_value_t *acc, char *err);

#endif
