/* A growable byte buffer with little-endian and varint appenders: the one way
 * Sluice builds encoded data. Starts empty ({0}); free with sl_buf_free(). */
#ifndef SL_BUF_H
#define SL_BUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "status.h"

typedef struct {
    uint8_t *p;
    size_t len, cap;
} sl_buf_t;

sl_status_t sl_buf_reserve(sl_buf_t *b, size_t extra);      /* room for `extra` more bytes */
sl_status_t sl_buf_append(sl_buf_t *b, const void *data, size_t n);
sl_status_t sl_buf_append_u8(sl_buf_t *b, uint8_t v);
sl_status_t sl_buf_append_u32le(sl_buf_t *b, uint32_t v);
sl_status_t sl_buf_append_u64le(sl_buf_t *b, uint64_t v);
sl_status_t sl_buf_append_varint(sl_buf_t *b, uint64_t v);  /* LEB128 */
sl_status_t sl_buf_printf(sl_buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sl_buf_reset(sl_buf_t *b);                             /* len = 0, keeps memory */
void sl_buf_free(sl_buf_t *b);                              /* back to {0} */
/* Hands the bytes to the caller (free() them; NULL when the buffer never
 * allocated); the buffer is left empty ({0}). */
uint8_t *sl_buf_take(sl_buf_t *b, size_t *len /* OUT */);

/* Reads a LEB128 varint from [*p, end); advances *p (only on success). False
 * on truncation, more than 10 bytes, or a value past 64 bits. */
bool sl_varint_read(const uint8_t **p, const uint8_t *end, uint64_t *out /* OUT */);

#endif
