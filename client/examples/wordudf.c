/* An example library of user functions for Sluice: one of each kind, working
 * on words. It needs only sluice_udf.h:
 *
 *   cc -shared -fPIC -I/path/to/sluice/common -o libwordudf.so wordudf.c
 *
 * (or -I$PREFIX/include/sluice once installed), and a job names it and its
 * functions like built-ins:
 *
 *   library "libwordudf.so"
 *   words     = lines.flat_map(tokens).filter(is_long)
 *   loud      = words.map(shout)
 *   by_letter = words.map(first_letter).reduce_by_key(longest)
 *
 * Functions may run on several threads at once, so they keep no global state;
 * output bytes come from ctx->alloc and live as long as the task. */
#include <stddef.h>
#include "sluice_udf.h"

const unsigned sluice_udf_abi = SLUICE_UDF_ABI;

static int is_alnum(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* map: "hello" -> "HELLO!". The key is kept: out starts as a copy of in. */
static int shout(sl_udf_ctx_t *ctx, const sl_udf_record_t *in, sl_udf_record_t *out)
{
    if (in->type != SL_UDF_BYTES) {
        ctx->error(ctx, "shout wants a text value");
        return 1;
    }
    char *s = ctx->alloc(ctx, in->len + 1);
    if (!s) {
        ctx->error(ctx, "out of memory");
        return 1;
    }
    const unsigned char *p = in->bytes;
    for (size_t i = 0; i < in->len; i++)
        s[i] = (char)(p[i] >= 'a' && p[i] <= 'z' ? p[i] - 'a' + 'A' : p[i]);
    s[in->len] = '!';
    out->type = SL_UDF_BYTES;
    out->bytes = s;
    out->len = in->len + 1;
    return 0;
}

/* flat_map: "Hello, World-42!" -> "hello", "world", "42", each with the
 * input's key. */
static int tokens(sl_udf_ctx_t *ctx, const sl_udf_record_t *in)
{
    if (in->type != SL_UDF_BYTES)
        return 0;                               /* no words in a number */
    const unsigned char *p = in->bytes;
    size_t i = 0;
    while (i < in->len) {
        while (i < in->len && !is_alnum(p[i]))
            i++;
        size_t start = i;
        while (i < in->len && is_alnum(p[i]))
            i++;
        if (i == start)
            break;
        char *w = ctx->alloc(ctx, i - start);
        if (!w) {
            ctx->error(ctx, "out of memory");
            return 1;
        }
        for (size_t j = start; j < i; j++)
            w[j - start] = (char)(p[j] >= 'A' && p[j] <= 'Z' ? p[j] - 'A' + 'a' : p[j]);
        sl_udf_record_t word = { .key = in->key, .key_len = in->key_len,
                                 .type = SL_UDF_BYTES, .bytes = w, .len = i - start };
        if (ctx->emit(ctx, &word) != 0)
            return 1;                           /* Sluice already knows why */
    }
    return 0;
}

/* filter: keeps text values of 5 bytes or more. */
static int is_long(const sl_udf_record_t *in)
{
    return in->type == SL_UDF_BYTES && in->len >= 5;
}

/* reduce: the longer of two text values (the first one on a tie). */
static int longest(sl_udf_ctx_t *ctx, const sl_udf_record_t *a, const sl_udf_record_t *b,
                   sl_udf_record_t *out)
{
    if (a->type != SL_UDF_BYTES || b->type != SL_UDF_BYTES) {
        ctx->error(ctx, "longest wants text values");
        return 1;
    }
    *out = b->len > a->len ? *b : *a;
    return 0;
}

/* key: the first byte of the value ("hello" -> key "h"); empty for an empty
 * or non-text value. The value is kept. */
static int first_letter(sl_udf_ctx_t *ctx, const sl_udf_record_t *in, const void **key,
                        size_t *key_len)
{
    (void)ctx;                                  /* needs no memory */
    int text = in->type == SL_UDF_BYTES && in->len > 0;
    *key = text ? in->bytes : NULL;
    *key_len = text ? 1 : 0;
    return 0;
}

const sl_udf_def_t sluice_udfs[] = {
    { "shout", SL_UDF_MAP, (void (*)(void))shout },
    { "tokens", SL_UDF_FLAT_MAP, (void (*)(void))tokens },
    { "is_long", SL_UDF_FILTER, (void (*)(void))is_long },
    { "longest", SL_UDF_REDUCE, (void (*)(void))longest },
    { "first_letter", SL_UDF_KEY, (void (*)(void))first_letter },
    { NULL, 0, NULL },
};
