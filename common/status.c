/* Status codes and their descriptions, one table. */
#include "status.h"

static const char *const sl_status_text[SL_STATUS_COUNT] = {
    [SL_OK] = "ok",
    [SL_AGAIN] = "more input needed",
    [SL_ERR_INVALID] = "invalid argument",
    [SL_ERR_NOMEM] = "out of memory",
    [SL_ERR_IO] = "i/o error",
    [SL_ERR_FRAME_TOO_LARGE] = "frame too large",
    [SL_ERR_FRAME_MALFORMED] = "malformed frame",
    [SL_ERR_DECODE] = "invalid protobuf message",
    [SL_ERR_UNKNOWN_MESSAGE] = "unknown message type",
    [SL_ERR_VERSION] = "protocol version mismatch",
    [SL_ERR_AUTH] = "authentication failed",
    [SL_ERR_PROTOCOL] = "protocol error",
    [SL_ERR_TIMEOUT] = "timed out",
    [SL_ERR_CLOSED] = "connection closed",
    [SL_ERR_NOT_FOUND] = "not found",
    [SL_ERR_EXISTS] = "already exists",
    [SL_ERR_UNAVAILABLE] = "unavailable",
    [SL_ERR_INTERNAL] = "internal error",
    [SL_ERR_FENCED] = "fenced by a newer master",
    [SL_ERR_CORRUPT] = "corrupt data",
};

const char *sl_strerror(sl_status_t st)
{
    if ((unsigned)st >= SL_STATUS_COUNT || !sl_status_text[st])
        return "unknown status";
    return sl_status_text[st];
}
