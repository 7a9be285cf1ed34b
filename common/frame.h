/* Byte-level framing. A frame is
 *   u32 total   big-endian: number of bytes after this field (>= 4)
 *   u32 hlen    big-endian: length of the protobuf header (>= 1)
 *   hlen bytes  the Envelope
 *   rest        raw payload (total - 4 - hlen bytes, may be 0)
 * The size limit is checked on the 8-byte prefix, before anything is
 * allocated for the body. Pure functions: no I/O, no allocation. */
#ifndef SL_FRAME_H
#define SL_FRAME_H

#include <stddef.h>
#include <stdint.h>
#include "status.h"

#define SL_FRAME_PREFIX_LEN 8
#define SL_FRAME_MAX_DEFAULT ((size_t)64 << 20)   /* whole frame, prefix included */

typedef struct {
    const uint8_t *header;      /* borrowed from the frame buffer */
    size_t header_len;
    const uint8_t *payload;     /* borrowed; NULL when payload_len is 0 */
    size_t payload_len;
} sl_frame_view_t;

/* Looks at the first `n` bytes of a stream. SL_AGAIN: fewer than 8 bytes.
 * SL_OK: *frame_len is the size of the whole frame (prefix included), which may
 * be more than `n`. SL_ERR_FRAME_TOO_LARGE / SL_ERR_FRAME_MALFORMED otherwise,
 * with `err` (SL_ERRMSG_LEN bytes, may be NULL) saying which numbers were wrong. */
sl_status_t sl_frame_peek(const uint8_t *buf, size_t n, size_t max_frame,
                          size_t *frame_len /* OUT */, char *err);

/* Splits a complete frame of exactly frame_len bytes (as sl_frame_peek said). */
sl_status_t sl_frame_split(const uint8_t *frame, size_t frame_len, sl_frame_view_t *out /* OUT */);

/* Writes the prefix for a frame with these header and payload lengths.
 * SL_ERR_FRAME_TOO_LARGE when the frame would exceed max_frame. */
sl_status_t sl_frame_prefix(uint8_t out[SL_FRAME_PREFIX_LEN], size_t header_len,
                            size_t payload_len, size_t max_frame);

#endif
