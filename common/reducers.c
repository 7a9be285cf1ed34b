/* The built-in reducers (sum, count, min, max, concat): the init, combine
 * and merge steps the catalogue in common/funcs.c points at. Accumulators
 * live in the caller's arena; min, max and concat copy what they keep of
 * an input value, since inputs are only borrowed. */
#include <stdint.h>
#include <string.h>
#include "funcs-internal.h"

static inline bool sl_is_numeric(const sl_value_t *v)
{
    return v->type == SL_VAL_INT || v->type == SL_VAL_DOUBLE;
}

static const char *const sl_val_type_names[] = {
    [SL_VAL_NULL] = "null", [SL_VAL_INT] = "int", [SL_VAL_DOUBLE] = "double",
    [SL_VAL_BYTES] = "bytes", [SL_VAL_LIST] = "list", [SL_VAL_TUPLE] = "tuple",
};

static const char *sl_val_type_name(sl_val_type_t t)
{
    return (unsigned)t < SL_NELEM(sl_val_type_names) && sl_val_type_names[t]
               ? sl_val_type_names[t] : "unknown";
}

sl_status_t sl_reduce_init_keep(const sl_func_t *f, const sl_value_t *v, sl_value_t *acc,
                                sl_arena_t *a, char *err)
{
    return sl_funcs_keep(v, true, a, acc);
}

static sl_status_t sl_not_a_number(const sl_func_t *f, const sl_value_t *v, char *err)
{
    sl_text_t t = { sl_funcs_empty, 0 };
    if (v->type == SL_VAL_BYTES)
        (void)sl_funcs_text_of(v, 0, &t);
    int shown = t.len > 40 ? 40 : (int)t.len;
    if (t.len)
        SL_ERRF(err, "%s: '%.*s%s' is bytes, not a number (convert with to_int or to_double first)",
                f->name, shown, (const char *)t.p, t.len > 40 ? "..." : "");
    else
        SL_ERRF(err, "%s: a %s value is not a number", f->name, sl_val_type_name(v->type));
    return SL_ERR_INVALID;
}

sl_status_t sl_reduce_sum_init(const sl_func_t *f, const sl_value_t *v, sl_value_t *acc,
                               sl_arena_t *a, char *err)
{
    if (v->type != SL_VAL_NULL && !sl_is_numeric(v))
        return sl_not_a_number(f, v, err);
    *acc = *v;
    return SL_OK;
}

sl_status_t sl_reduce_sum_fold(const sl_func_t *f, const sl_value_t *x, const sl_value_t *y,
                               bool y_input, sl_value_t *out, sl_arena_t *a, char *err)
{
    if (x->type != SL_VAL_NULL && !sl_is_numeric(x))
        return sl_not_a_number(f, x, err);
    if (y->type != SL_VAL_NULL && !sl_is_numeric(y))
        return sl_not_a_number(f, y, err);
    if (y->type == SL_VAL_NULL || x->type == SL_VAL_NULL) {
        *out = y->type == SL_VAL_NULL ? *x : *y;
        return SL_OK;
    }
    if (x->type == SL_VAL_INT && y->type == SL_VAL_INT) {
        int64_t r;
        if (__builtin_add_overflow(x->u.i, y->u.i, &r)) {
            SL_ERRF(err, "sum: integer overflow adding %lld and %lld (convert with to_double "
                    "to sum as doubles)", (long long)x->u.i, (long long)y->u.i);
            return SL_ERR_INVALID;
        }
        *out = sl_val_int(r);
        return SL_OK;
    }
    double dx = x->type == SL_VAL_INT ? (double)x->u.i : x->u.d;
    double dy = y->type == SL_VAL_INT ? (double)y->u.i : y->u.d;
    *out = sl_val_double(dx + dy);
    return SL_OK;
}

sl_status_t sl_reduce_count_init(const sl_func_t *f, const sl_value_t *v, sl_value_t *acc,
                                 sl_arena_t *a, char *err)
{
    *acc = sl_val_int(1);
    return SL_OK;
}

static sl_status_t sl_count_add(const sl_value_t *x, int64_t n, sl_value_t *out, char *err)
{
    int64_t r;
    if (x->type != SL_VAL_INT) {
        SL_ERRF(err, "count: bad accumulator (a %s value)", sl_val_type_name(x->type));
        return SL_ERR_INVALID;
    }
    if (__builtin_add_overflow(x->u.i, n, &r)) {
        SL_ERRF(err, "count: more than %lld values", (long long)INT64_MAX);
        return SL_ERR_INVALID;
    }
    *out = sl_val_int(r);
    return SL_OK;
}

sl_status_t sl_reduce_count_combine(const sl_func_t *f, const sl_value_t *x, const sl_value_t *y,
                                    bool y_input, sl_value_t *out, sl_arena_t *a, char *err)
{
    return sl_count_add(x, 1, out, err);
}

sl_status_t sl_reduce_count_merge(const sl_func_t *f, const sl_value_t *x, const sl_value_t *y,
                                  bool y_input, sl_value_t *out, sl_arena_t *a, char *err)
{
    if (y->type != SL_VAL_INT) {
        SL_ERRF(err, "count: bad accumulator (a %s value)", sl_val_type_name(y->type));
        return SL_ERR_INVALID;
    }
    return sl_count_add(x, y->u.i, out, err);
}

/* <0, 0, >0 as x is below, equal to or above y: numbers by value (NaN equal
 * to anything), anything else by the bytes of its text. */
static sl_status_t sl_compare(const sl_value_t *x, const sl_value_t *y, int *cmp /* OUT */)
{
    if (x->type == SL_VAL_INT && y->type == SL_VAL_INT) {
        *cmp = (x->u.i > y->u.i) - (x->u.i < y->u.i);
        return SL_OK;
    }
    if (sl_is_numeric(x) && sl_is_numeric(y)) {
        double dx = x->type == SL_VAL_INT ? (double)x->u.i : x->u.d;
        double dy = y->type == SL_VAL_INT ? (double)y->u.i : y->u.d;
        *cmp = (dx > dy) - (dx < dy);
        return SL_OK;
    }
    sl_text_t tx, ty;
    sl_status_t st = sl_funcs_text_of(x, 0, &tx);
    if (st == SL_OK)
        st = sl_funcs_text_of(y, 1, &ty);
    if (st != SL_OK)
        return st;
    int c = memcmp(tx.p, ty.p, tx.len < ty.len ? tx.len : ty.len);
    *cmp = c ? (c > 0) - (c < 0) : (tx.len > ty.len) - (tx.len < ty.len);
    return SL_OK;
}

/* min (sign -1) or max (+1); null loses, ties keep x. */
static sl_status_t sl_fold_extreme(const sl_value_t *x, const sl_value_t *y, bool y_input, int sign,
                                   sl_value_t *out, sl_arena_t *a)
{
    int cmp = 0;
    if (y->type == SL_VAL_NULL) {
        *out = *x;
        return SL_OK;
    }
    if (x->type != SL_VAL_NULL) {
        sl_status_t st = sl_compare(x, y, &cmp);
        if (st != SL_OK)
            return st;
        if (cmp * sign >= 0) {
            *out = *x;
            return SL_OK;
        }
    }
    return sl_funcs_keep(y, y_input, a, out);
}

sl_status_t sl_reduce_min_fold(const sl_func_t *f, const sl_value_t *x, const sl_value_t *y,
                               bool y_input, sl_value_t *out, sl_arena_t *a, char *err)
{
    return sl_fold_extreme(x, y, y_input, -1, out, a);
}

sl_status_t sl_reduce_max_fold(const sl_func_t *f, const sl_value_t *x, const sl_value_t *y,
                               bool y_input, sl_value_t *out, sl_arena_t *a, char *err)
{
    return sl_fold_extreme(x, y, y_input, 1, out, a);
}

/* concat's accumulator is bytes (or null while only nulls were seen). */
sl_status_t sl_reduce_concat_init(const sl_func_t *f, const sl_value_t *v, sl_value_t *acc,
                                  sl_arena_t *a, char *err)
{
    sl_text_t t;
    sl_status_t st;
    if (v->type == SL_VAL_NULL) {
        *acc = *v;
        return SL_OK;
    }
    if ((st = sl_funcs_text_of(v, 0, &t)) != SL_OK)
        return st;
    const uint8_t *p = sl_funcs_dup(a, t.p, t.len);
    if (!p)
        return SL_ERR_NOMEM;
    *acc = sl_funcs_bytes_value(p, t.len);
    return SL_OK;
}

sl_status_t sl_reduce_concat_fold(const sl_func_t *f, const sl_value_t *x, const sl_value_t *y,
                                  bool y_input, sl_value_t *out, sl_arena_t *a, char *err)
{
    sl_text_t tx, ty;
    sl_status_t st;
    if (y->type == SL_VAL_NULL) {
        *out = *x;
        return SL_OK;
    }
    if (x->type == SL_VAL_NULL)
        return sl_reduce_concat_init(f, y, out, a, err);
    if ((st = sl_funcs_text_of(x, 0, &tx)) != SL_OK || (st = sl_funcs_text_of(y, 1, &ty)) != SL_OK)
        return st;
    size_t n = tx.len + f->slen;
    if (n < tx.len || n + ty.len < n)
        return SL_ERR_NOMEM;
    n += ty.len;
    uint8_t *p = n ? sl_arena_alloc(a, n) : NULL;
    if (n && !p)
        return SL_ERR_NOMEM;
    if (n) {
        memcpy(p, tx.p, tx.len);
        memcpy(p + tx.len, f->s ? f->s : "", f->slen);
        memcpy(p + tx.len + f->slen, ty.p, ty.len);
    }
    *out = sl_funcs_bytes_value(p, n);
    return SL_OK;
}
