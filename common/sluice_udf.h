/* The user-function ABI of Sluice. A job that says `library "x.so"` ships
 * that shared object with the job; workers load it and call its functions by
 * name. This header is all a library needs: it links against nothing of
 * Sluice.
 *
 * A library exports two symbols:
 *   const unsigned sluice_udf_abi = SLUICE_UDF_ABI;
 *   const sl_udf_def_t sluice_udfs[] = { {"name", SL_UDF_MAP, fn}, ..., {0} };
 *
 * Functions see records with scalar values (a list or tuple value arrives as
 * its text rendering, as bytes). Memory for output bytes comes from
 * ctx->alloc and lives until the task ends. Functions may be called from
 * several threads at once: keep them free of unsynchronised global state.
 * Return 0 for success; anything else fails the task with ctx's message when
 * the function set one through ctx->error. */
#ifndef SLUICE_UDF_H
#define SLUICE_UDF_H

#include <stddef.h>
#include <stdint.h>

#define SLUICE_UDF_ABI 1

typedef enum {
    SL_UDF_NULL = 0,
    SL_UDF_INT = 1,
    SL_UDF_DOUBLE = 2,
    SL_UDF_BYTES = 3,
} sl_udf_type_t;

typedef struct {
    const void *key;        /* may be NULL when key_len is 0 */
    size_t key_len;
    sl_udf_type_t type;
    int64_t i;              /* SL_UDF_INT */
    double d;               /* SL_UDF_DOUBLE */
    const void *bytes;      /* SL_UDF_BYTES */
    size_t len;
} sl_udf_record_t;

typedef struct sl_udf_ctx sl_udf_ctx_t;
struct sl_udf_ctx {
    void *(*alloc)(sl_udf_ctx_t *ctx, size_t n);                /* task-lifetime memory */
    int (*emit)(sl_udf_ctx_t *ctx, const sl_udf_record_t *r);   /* flat_map output */
    void (*error)(sl_udf_ctx_t *ctx, const char *msg);          /* why the call failed */
    void *internal;                                              /* Sluice's, do not touch */
};

typedef enum {
    SL_UDF_MAP = 1,         /* int fn(sl_udf_ctx_t *, const sl_udf_record_t *in, sl_udf_record_t *out) */
    SL_UDF_FLAT_MAP = 2,    /* int fn(sl_udf_ctx_t *, const sl_udf_record_t *in): ctx->emit each */
    SL_UDF_FILTER = 3,      /* int fn(const sl_udf_record_t *in): non-zero keeps */
    SL_UDF_REDUCE = 4,      /* int fn(sl_udf_ctx_t *, const sl_udf_record_t *a,
                                      const sl_udf_record_t *b, sl_udf_record_t *out): values only */
    SL_UDF_KEY = 5,         /* int fn(sl_udf_ctx_t *, const sl_udf_record_t *in,
                                      const void **key, size_t *key_len) */
} sl_udf_kind_t;

typedef int (*sl_udf_map_fn)(sl_udf_ctx_t *ctx, const sl_udf_record_t *in, sl_udf_record_t *out);
typedef int (*sl_udf_flat_map_fn)(sl_udf_ctx_t *ctx, const sl_udf_record_t *in);
typedef int (*sl_udf_filter_fn)(const sl_udf_record_t *in);
typedef int (*sl_udf_reduce_fn)(sl_udf_ctx_t *ctx, const sl_udf_record_t *a,
                                const sl_udf_record_t *b, sl_udf_record_t *out);
typedef int (*sl_udf_key_fn)(sl_udf_ctx_t *ctx, const sl_udf_record_t *in, const void **key,
                             size_t *key_len);

typedef struct {
    const char *name;       /* NULL ends the table */
    sl_udf_kind_t kind;
    void (*fn)(void);       /* one of the typedefs above, cast */
} sl_udf_def_t;

#endif
