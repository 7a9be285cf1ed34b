/* The growable byte buffer every encoder writes into. Capacity doubles so
 * appending n bytes costs amortised O(n); the fixed-width and varint
 * appenders write straight into reserved space. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "buf.h"

/* The first allocation: small enough for one-off strings, big enough that a
 * block builder does not realloc for its header and first few records. */
#define SL_BUF_MIN_CAP 64

/* Makes room for `extra` more bytes after len, doubling the capacity until it
 * fits. On failure the buffer is unchanged. */
sl_status_t sl_buf_reserve(sl_buf_t *b, size_t extra)
{
    if (extra <= b->cap - b->len)
        return SL_OK;
    if (extra > SIZE_MAX - b->len)
        return SL_ERR_NOMEM;
    size_t need = b->len + extra;
    size_t cap = b->cap ? b->cap : SL_BUF_MIN_CAP;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    uint8_t *p = realloc(b->p, cap);
    if (!p)
        return SL_ERR_NOMEM;
    b->p = p;
    b->cap = cap;
    return SL_OK;
}

/* Appends n bytes copied from data (which may be NULL when n is 0). */
sl_status_t sl_buf_append(sl_buf_t *b, const void *data, size_t n)
{
    if (n == 0)
        return SL_OK;
    sl_status_t st = sl_buf_reserve(b, n);
    if (st != SL_OK)
        return st;
    memcpy(b->p + b->len, data, n);
    b->len += n;
    return SL_OK;
}

sl_status_t sl_buf_append_u8(sl_buf_t *b, uint8_t v)
{
    sl_status_t st = sl_buf_reserve(b, 1);
    if (st != SL_OK)
        return st;
    b->p[b->len++] = v;
    return SL_OK;
}

sl_status_t sl_buf_append_u32le(sl_buf_t *b, uint32_t v)
{
    sl_status_t st = sl_buf_reserve(b, 4);
    if (st != SL_OK)
        return st;
    uint8_t *q = b->p + b->len;
    for (int i = 0; i < 4; i++)
        q[i] = (uint8_t)(v >> (8 * i));
    b->len += 4;
    return SL_OK;
}

sl_status_t sl_buf_append_u64le(sl_buf_t *b, uint64_t v)
{
    sl_status_t st = sl_buf_reserve(b, 8);
    if (st != SL_OK)
        return st;
    uint8_t *q = b->p + b->len;
    for (int i = 0; i < 8; i++)
        q[i] = (uint8_t)(v >> (8 * i));
    b->len += 8;
    return SL_OK;
}

/* Appends v as unsigned LEB128: 7 bits a byte, low groups first, the high bit
 * set on every byte but the last. At most 10 bytes. */
sl_status_t sl_buf_append_varint(sl_buf_t *b, uint64_t v)
{
    sl_status_t st = sl_buf_reserve(b, 10);
    if (st != SL_OK)
        return st;
    uint8_t *q = b->p + b->len;
    size_t n = 0;
    while (v >= 0x80) {
        q[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    q[n++] = (uint8_t)v;
    b->len += n;
    return SL_OK;
}

/* Appends printf-formatted text (no terminating NUL counted in len, though
 * one is written just past it). First tries the space already there. */
sl_status_t sl_buf_printf(sl_buf_t *b, const char *fmt, ...)
{
    sl_status_t st = sl_buf_reserve(b, 1);
    if (st != SL_OK)
        return st;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf((char *)b->p + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    if (n < 0)
        return SL_ERR_INVALID;
    if ((size_t)n >= b->cap - b->len) {
        st = sl_buf_reserve(b, (size_t)n + 1);
        if (st != SL_OK)
            return st;
        va_start(ap, fmt);
        n = vsnprintf((char *)b->p + b->len, b->cap - b->len, fmt, ap);
        va_end(ap);
        if (n < 0)
            return SL_ERR_INVALID;
    }
    b->len += (size_t)n;
    return SL_OK;
}

void sl_buf_reset(sl_buf_t *b)
{
    b->len = 0;
}

void sl_buf_free(sl_buf_t *b)
{
    if (!b)
        return;
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

/* The caller now owns b->p (NULL when nothing was ever reserved). */
uint8_t *sl_buf_take(sl_buf_t *b, size_t *len)
{
    uint8_t *p = b->p;
    if (len)
        *len = b->len;
    b->p = NULL;
    b->len = b->cap = 0;
    return p;
}

/* The 10th byte of a 64-bit varint carries only bit 63, so anything above 1
 * there would overflow and is refused like an 11th byte. */
bool sl_varint_read(const uint8_t **p, const uint8_t *end, uint64_t *out)
{
    const uint8_t *q = *p;
    uint64_t v = 0;
    for (unsigned shift = 0; shift < 70 && q < end; shift += 7) {
        uint8_t c = *q++;
        if (shift == 63 && c > 1)
            return false;
        v |= (uint64_t)(c & 0x7f) << shift;
        if (!(c & 0x80)) {
            *out = v;
            *p = q;
            return true;
        }
    }
    return false;
}
