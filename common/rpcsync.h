/* A blocking RPC connection for threads that have no event loop (executor
 * threads fetching blocks and shuffle data from peers): connect with a
 * deadline, the same handshake as conn.c, then request/reply calls bounded by
 * a timeout. One caller at a time. */
#ifndef SL_RPCSYNC_H
#define SL_RPCSYNC_H

#include <stddef.h>
#include <stdint.h>
#include "auth.h"
#include "msg.h"

typedef struct sl_sync_conn sl_sync_conn_t;

/* `secret` is borrowed (may be NULL) and must outlive the connection. */
sl_status_t sl_sync_connect(const char *hostport, const sl_secret_t *secret, Sluice__Role role,
                            const char *name, uint64_t timeout_ms, sl_sync_conn_t **out /* OUT */,
                            char *err);

/* Sends env (borrowed; request_id is set here) with an optional payload and
 * waits for its reply. On SL_OK the caller frees *reply with sl_msg_free() and
 * *payload with free() (NULL when empty). An error reply returns its status
 * with its message in err. */
sl_status_t sl_sync_call(sl_sync_conn_t *c, sl_envelope_t *env, const void *payload, size_t len,
                         sl_envelope_t **reply /* OUT */, uint8_t **rpayload /* OUT */,
                         size_t *rlen /* OUT */, char *err);

const char *sl_sync_peer(const sl_sync_conn_t *c);
void sl_sync_close(sl_sync_conn_t *c);   /* accepts NULL */

#endif
