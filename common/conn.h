/* A framed, authenticated RPC connection over libevent, used by the master,
 * the worker and the client library alike.
 *
 * Life of a connection: CONNECTING (outgoing only) -> HANDSHAKE -> READY ->
 * CLOSED. Frames are read with their size checked before any allocation; a
 * malformed frame, a failed handshake, a silent peer (idle deadline) or a
 * handshake that takes too long closes the connection with a logged reason.
 * Requests carry ids; replies are matched to them and time out on their own.
 *
 * Callbacks never see a connection freed under them: closing only marks the
 * connection; it is torn down (pending requests failed, on_close called, memory
 * freed) from a separate event once the current callback has returned. */
#ifndef SL_CONN_H
#define SL_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <event2/event.h>
#include "auth.h"
#include "msg.h"
#include "status.h"

typedef struct sl_conn sl_conn_t;

typedef enum {
    SL_CONN_CONNECTING,
    SL_CONN_HANDSHAKE,
    SL_CONN_READY,
    SL_CONN_CLOSING,   /* flushing a last message, then CLOSED */
    SL_CONN_CLOSED,
} sl_conn_state_t;

typedef struct {
    /* A request or one-way message on a READY connection. env and payload are
     * borrowed for the duration of the call. Answer requests with
     * sl_conn_reply() or sl_conn_reply_error(), now or later. */
    void (*on_message)(sl_conn_t *c, const sl_envelope_t *env, const uint8_t *payload,
                       size_t payload_len, void *arg);
    /* The handshake finished; the peer's role and name are known. */
    void (*on_ready)(sl_conn_t *c, void *arg);
    /* Called exactly once, from the reaper, after which `c` is freed: `why` is
     * SL_OK for a local sl_conn_close(), else the failure; msg names it. */
    void (*on_close)(sl_conn_t *c, sl_status_t why, const char *msg, void *arg);
} sl_conn_handlers_t;

typedef struct {
    size_t max_frame;               /* 0: SL_FRAME_MAX_DEFAULT */
    uint64_t handshake_timeout_ms;  /* 0: 10 s */
    uint64_t idle_timeout_ms;       /* no bytes read for this long closes; 0: never */
    const sl_secret_t *secret;      /* borrowed; NULL runs open */
    Sluice__Role role;              /* our role */
    const char *name;               /* our name for the peer's logs; copied */
    const char *component;          /* log tag, e.g. "master"; borrowed, static */
    const char *refuse;             /* server: reject the peer's Hello with this reason
                                       (SL_ERR_UNAVAILABLE); copied; NULL: accept */
    uint64_t epoch;                 /* stamped as master_epoch on all we send; 0: none */
} sl_conn_opts_t;

/* Called with the reply of a request, or with st != SL_OK and reply NULL when
 * it failed (timeout, connection closed, error reply: msg says which). Both
 * reply and payload are borrowed for the call. */
typedef void (*sl_reply_cb)(sl_conn_t *c, sl_status_t st, const sl_envelope_t *reply,
                            const uint8_t *payload, size_t payload_len, const char *msg,
                            void *arg);

/* Takes ownership of an accepted socket `fd` and starts the server side of the
 * handshake. `peer` (e.g. "127.0.0.1:5012") is copied. */
sl_conn_t *sl_conn_accept(struct event_base *base, evutil_socket_t fd, const char *peer,
                          const sl_conn_opts_t *opts, const sl_conn_handlers_t *h, void *arg);

/* Starts connecting to `hostport` and then the client side of the handshake.
 * Failures after this returns come through on_close. NULL with `err` filled
 * when the address cannot be resolved or the socket not created. */
sl_conn_t *sl_conn_connect(struct event_base *base, const char *hostport,
                           const sl_conn_opts_t *opts, const sl_conn_handlers_t *h, void *arg,
                           char *err);

/* Sends a request; env is borrowed (its request_id is set here). The reply or
 * the failure reaches cb exactly once, never from inside this call. */
sl_status_t sl_conn_request(sl_conn_t *c, sl_envelope_t *env, const void *payload,
                            size_t payload_len, uint64_t timeout_ms, sl_reply_cb cb, void *arg);

/* One-way message (request_id 0). */
sl_status_t sl_conn_send(sl_conn_t *c, sl_envelope_t *env, const void *payload, size_t payload_len);

/* Answers request `req` with `reply` (borrowed; its id and flags are set here). */
sl_status_t sl_conn_reply(sl_conn_t *c, const sl_envelope_t *req, sl_envelope_t *reply,
                          const void *payload, size_t payload_len);
sl_status_t sl_conn_reply_error(sl_conn_t *c, const sl_envelope_t *req, sl_status_t st,
                                const char *msg);

/* Closes after what is queued has been written (bounded by a short deadline).
 * Safe from any callback, idempotent. */
void sl_conn_close(sl_conn_t *c);

/* Frees at once, without on_close; pending requests fail with SL_ERR_CLOSED.
 * For owners tearing everything down outside of callbacks. Accepts NULL. */
void sl_conn_free(sl_conn_t *c);

/* Changes the idle timeout of a live connection (0: none). */
void sl_conn_set_idle_timeout(sl_conn_t *c, uint64_t ms);

sl_conn_state_t sl_conn_state(const sl_conn_t *c);
size_t sl_conn_unsent(const sl_conn_t *c);             /* bytes queued, not yet written */
const char *sl_conn_peer(const sl_conn_t *c);          /* address, valid while c lives */
const char *sl_conn_peer_name(const sl_conn_t *c);     /* from the handshake */
Sluice__Role sl_conn_peer_role(const sl_conn_t *c);
bool sl_conn_authenticated(const sl_conn_t *c);
void sl_conn_set_data(sl_conn_t *c, void *data);       /* owner's pointer, not freed */
void *sl_conn_data(const sl_conn_t *c);

/* Ignores SIGPIPE process-wide (libevent writes without MSG_NOSIGNAL). */
void sl_ignore_sigpipe(void);

#endif
