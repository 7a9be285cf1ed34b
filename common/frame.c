/* Length-prefixed frames: validation of the prefix and splitting of a whole
 * frame into header and payload. */
#include <stdio.h>
#include "frame.h"

static uint32_t sl_get_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void sl_put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

sl_status_t sl_frame_peek(const uint8_t *buf, size_t n, size_t max_frame, size_t *frame_len,
                          char *err)
{
    if (n < SL_FRAME_PREFIX_LEN)
        return SL_AGAIN;
    uint32_t total = sl_get_be32(buf), hlen = sl_get_be32(buf + 4);
    if ((uint64_t)total + 4 > max_frame) {
        if (err)
            snprintf(err, SL_ERRMSG_LEN, "frame of %llu bytes exceeds the limit of %zu bytes",
                     (unsigned long long)total + 4, max_frame);
        return SL_ERR_FRAME_TOO_LARGE;
    }
    if (total < 4 || hlen == 0 || hlen > total - 4) {
        if (err)
            snprintf(err, SL_ERRMSG_LEN, "bad frame lengths: total %u, header %u", total, hlen);
        return SL_ERR_FRAME_MALFORMED;
    }
    *frame_len = (size_t)total + 4;
    return SL_OK;
}

sl_status_t sl_frame_split(const uint8_t *frame, size_t frame_len, sl_frame_view_t *out)
{
    size_t len;
    sl_status_t st = sl_frame_peek(frame, frame_len, SIZE_MAX, &len, NULL);
    if (st == SL_AGAIN)
        return SL_ERR_FRAME_MALFORMED;
    if (st != SL_OK)
        return st;
    if (len != frame_len)
        return SL_ERR_FRAME_MALFORMED;
    size_t hlen = sl_get_be32(frame + 4);
    out->header = frame + SL_FRAME_PREFIX_LEN;
    out->header_len = hlen;
    out->payload_len = frame_len - SL_FRAME_PREFIX_LEN - hlen;
    out->payload = out->payload_len ? out->header + hlen : NULL;
    return SL_OK;
}

sl_status_t sl_frame_prefix(uint8_t out[SL_FRAME_PREFIX_LEN], size_t header_len,
                            size_t payload_len, size_t max_frame)
{
    if (header_len == 0)
        return SL_ERR_INVALID;
    /* The total must fit the 32-bit length field and the limit; check each
     * term first so that no sum wraps. */
    if (max_frame < SL_FRAME_PREFIX_LEN || header_len > max_frame || payload_len > max_frame ||
        header_len + payload_len > max_frame - SL_FRAME_PREFIX_LEN ||
        (uint64_t)header_len + payload_len > (uint64_t)UINT32_MAX - 4)
        return SL_ERR_FRAME_TOO_LARGE;
    sl_put_be32(out, (uint32_t)(4 + header_len + payload_len));
    sl_put_be32(out + 4, (uint32_t)header_len);
    return SL_OK;
}
