/* The connection handshake as a pure state machine: envelopes in, envelopes
 * out, no I/O, so both sides can be driven against each other in a test.
 *
 *   client                         server
 *   Hello(version, role, cn)  -->
 *                             <--  Welcome            (server has no secret)
 *                             <--  Challenge(sn, sp)  (server has a secret)
 *   AuthProof(cp)             -->
 *                             <--  Welcome | Reject
 *
 * sp = HMAC(secret, SERVER_LABEL|cn|sn), cp = HMAC(secret, CLIENT_LABEL|cn|sn):
 * each side proves the secret to the other. A client with a secret refuses a
 * server that does not authenticate; a client without one answers a Challenge
 * with an empty proof so that the server can log why it refuses. */
#ifndef SL_HANDSHAKE_H
#define SL_HANDSHAKE_H

#include <stdbool.h>
#include "auth.h"
#include "msg.h"

typedef enum {
    SL_HS_CLIENT_START,         /* client: sl_hs_start() not called yet */
    SL_HS_CLIENT_AWAIT_SERVER,  /* client: sent Hello */
    SL_HS_CLIENT_AWAIT_WELCOME, /* client: sent AuthProof */
    SL_HS_SERVER_AWAIT_HELLO,
    SL_HS_SERVER_AWAIT_PROOF,
    SL_HS_DONE,
    SL_HS_FAILED,
} sl_hs_state_t;

#define SL_HS_NAME_LEN 64

typedef struct {
    bool is_server;
    sl_hs_state_t state;
    const sl_secret_t *secret;          /* borrowed; NULL: no secret */
    Sluice__Role role;                  /* ours */
    char name[SL_HS_NAME_LEN];          /* ours */
    uint8_t client_nonce[SL_NONCE_LEN];
    uint8_t server_nonce[SL_NONCE_LEN];
    Sluice__Role peer_role;             /* valid once DONE */
    char peer_name[SL_HS_NAME_LEN];
    bool authenticated;                 /* DONE with a verified secret */
    char error[SL_ERRMSG_LEN];          /* why it FAILED */
    char refuse[SL_ERRMSG_LEN];         /* server: reject every Hello with this */
} sl_handshake_t;

/* Storage for one outgoing handshake message: `env` points into the other
 * fields, so the whole struct must stay alive until env is encoded. */
typedef struct {
    bool has_msg;                       /* false: nothing to send */
    Sluice__Envelope env;
    Sluice__Hello hello;
    Sluice__Challenge challenge;
    Sluice__AuthProof proof;
    Sluice__Welcome welcome;
    Sluice__Reject reject;
    uint8_t proof_buf[SL_PROOF_LEN];
    char reason[SL_ERRMSG_LEN];
} sl_hs_out_t;

/* `secret` is borrowed and must outlive the handshake. */
void sl_hs_init(sl_handshake_t *hs, bool is_server, const sl_secret_t *secret,
                Sluice__Role role, const char *name);

/* Client only: produces the Hello. */
sl_status_t sl_hs_start(sl_handshake_t *hs, sl_hs_out_t *out /* OUT */);

/* Feeds one received envelope (borrowed). On SL_OK the state advanced (maybe to
 * DONE); on an error the state is FAILED and hs->error says why. In both cases
 * out->has_msg says whether there is something to send (on failure: a Reject
 * or an empty proof, to be sent before closing). */
sl_status_t sl_hs_step(sl_handshake_t *hs, const Sluice__Envelope *in, sl_hs_out_t *out /* OUT */);

#endif
