/* One status type for all of Sluice: every function that can fail returns an
 * sl_status_t; sl_strerror() gives its fixed description. Context (which flag,
 * which peer) travels separately in a caller-supplied message buffer. */
#ifndef SL_STATUS_H
#define SL_STATUS_H

typedef enum {
    SL_OK = 0,
    SL_AGAIN,              /* not an error: more input needed */
    SL_ERR_INVALID,        /* bad argument or value */
    SL_ERR_NOMEM,
    SL_ERR_IO,             /* a system call failed */
    SL_ERR_FRAME_TOO_LARGE,
    SL_ERR_FRAME_MALFORMED,
    SL_ERR_DECODE,         /* bytes are not a valid protobuf envelope */
    SL_ERR_UNKNOWN_MESSAGE,
    SL_ERR_VERSION,        /* protocol version mismatch */
    SL_ERR_AUTH,           /* authentication failed */
    SL_ERR_PROTOCOL,       /* a valid message at the wrong time */
    SL_ERR_TIMEOUT,
    SL_ERR_CLOSED,         /* the peer went away */
    SL_ERR_NOT_FOUND,
    SL_ERR_EXISTS,
    SL_ERR_UNAVAILABLE,    /* no master reachable, ... */
    SL_ERR_INTERNAL,
    SL_ERR_FENCED,         /* a newer master epoch took over: this one may not act */
    SL_ERR_CORRUPT,        /* stored data (checkpoint, log) is damaged */
    SL_STATUS_COUNT
} sl_status_t;

/* A static, never-NULL description of `st`. */
const char *sl_strerror(sl_status_t st);

/* Size of the error-message buffers passed around with a status. */
#define SL_ERRMSG_LEN 256

#endif
