/* Handshake state machine: version check, role exchange and mutual HMAC
 * challenge-response. See handshake.h for the message flow. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include "handshake.h"

static void sl_hs_copy_name(char *dst, const char *src)
{
    snprintf(dst, SL_HS_NAME_LEN, "%s", src ? src : "");
}

void sl_hs_init(sl_handshake_t *hs, bool is_server, const sl_secret_t *secret, Sluice__Role role,
                const char *name)
{
    memset(hs, 0, sizeof *hs);
    hs->is_server = is_server;
    hs->state = is_server ? SL_HS_SERVER_AWAIT_HELLO : SL_HS_CLIENT_START;
    hs->secret = secret;
    hs->role = role;
    sl_hs_copy_name(hs->name, name);
}

static void sl_hs_out_reset(sl_hs_out_t *out)
{
    memset(out, 0, sizeof *out);
    sluice__envelope__init(&out->env);
}

/* Marks the handshake failed with a formatted reason; when `reject` is set the
 * reason is also put in a Reject for the peer. */
static sl_status_t sl_hs_fail(sl_handshake_t *hs, sl_hs_out_t *out, bool reject, sl_status_t st,
                              const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static sl_status_t sl_hs_fail(sl_handshake_t *hs, sl_hs_out_t *out, bool reject, sl_status_t st,
                              const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(hs->error, sizeof hs->error, fmt, ap);
    va_end(ap);
    hs->state = SL_HS_FAILED;
    if (reject) {
        sluice__reject__init(&out->reject);
        snprintf(out->reason, sizeof out->reason, "%s", hs->error);
        out->reject.reason = out->reason;
        out->env.status = (uint32_t)st;
        out->env.body_case = SLUICE__ENVELOPE__BODY_REJECT;
        out->env.reject = &out->reject;
        out->has_msg = true;
    }
    return st;
}

static void sl_hs_welcome(sl_handshake_t *hs, sl_hs_out_t *out)
{
    sluice__welcome__init(&out->welcome);
    out->welcome.role = hs->role;
    out->welcome.node_name = hs->name;
    out->welcome.authenticated = hs->authenticated;
    out->env.body_case = SLUICE__ENVELOPE__BODY_WELCOME;
    out->env.welcome = &out->welcome;
    out->has_msg = true;
    hs->state = SL_HS_DONE;
}

sl_status_t sl_hs_start(sl_handshake_t *hs, sl_hs_out_t *out)
{
    sl_hs_out_reset(out);
    if (hs->is_server || hs->state != SL_HS_CLIENT_START)
        return SL_ERR_INVALID;
    if (sl_auth_nonce(hs->client_nonce) != SL_OK)
        return sl_hs_fail(hs, out, false, SL_ERR_IO, "cannot generate a nonce");
    sluice__hello__init(&out->hello);
    out->hello.protocol_version = SL_PROTOCOL_VERSION;
    out->hello.role = hs->role;
    out->hello.node_name = hs->name;
    out->hello.client_nonce.data = hs->client_nonce;
    out->hello.client_nonce.len = SL_NONCE_LEN;
    out->env.body_case = SLUICE__ENVELOPE__BODY_HELLO;
    out->env.hello = &out->hello;
    out->has_msg = true;
    hs->state = SL_HS_CLIENT_AWAIT_SERVER;
    return SL_OK;
}

static sl_status_t sl_hs_server_hello(sl_handshake_t *hs, const Sluice__Hello *h, sl_hs_out_t *out)
{
    if (h->protocol_version != SL_PROTOCOL_VERSION)
        return sl_hs_fail(hs, out, true, SL_ERR_VERSION,
                          "protocol version %u is not supported (this daemon speaks version %u)",
                          h->protocol_version, SL_PROTOCOL_VERSION);
    if (hs->refuse[0])
        return sl_hs_fail(hs, out, true, SL_ERR_UNAVAILABLE, "%s", hs->refuse);
    if (h->role != SLUICE__ROLE__ROLE_MASTER && h->role != SLUICE__ROLE__ROLE_WORKER &&
        h->role != SLUICE__ROLE__ROLE_CLIENT)
        return sl_hs_fail(hs, out, true, SL_ERR_PROTOCOL, "hello carries an unknown role %d",
                          (int)h->role);
    if (h->client_nonce.len != SL_NONCE_LEN)
        return sl_hs_fail(hs, out, true, SL_ERR_PROTOCOL, "hello nonce has %zu bytes, want %d",
                          h->client_nonce.len, SL_NONCE_LEN);
    memcpy(hs->client_nonce, h->client_nonce.data, SL_NONCE_LEN);
    hs->peer_role = h->role;
    sl_hs_copy_name(hs->peer_name, h->node_name);
    if (!hs->secret) {
        sl_hs_welcome(hs, out);
        return SL_OK;
    }
    if (sl_auth_nonce(hs->server_nonce) != SL_OK)
        return sl_hs_fail(hs, out, true, SL_ERR_IO, "cannot generate a nonce");
    sl_auth_proof(hs->secret, SL_AUTH_LABEL_SERVER, hs->client_nonce, hs->server_nonce,
                  out->proof_buf);
    sluice__challenge__init(&out->challenge);
    out->challenge.server_nonce.data = hs->server_nonce;
    out->challenge.server_nonce.len = SL_NONCE_LEN;
    out->challenge.server_proof.data = out->proof_buf;
    out->challenge.server_proof.len = SL_PROOF_LEN;
    out->env.body_case = SLUICE__ENVELOPE__BODY_CHALLENGE;
    out->env.challenge = &out->challenge;
    out->has_msg = true;
    hs->state = SL_HS_SERVER_AWAIT_PROOF;
    return SL_OK;
}

static sl_status_t sl_hs_server_proof(sl_handshake_t *hs, const Sluice__AuthProof *p,
                                      sl_hs_out_t *out)
{
    if (p->client_proof.len == 0)
        return sl_hs_fail(hs, out, true, SL_ERR_AUTH,
                          "authentication required: the peer has no secret (--secret-file)");
    if (!sl_auth_verify(hs->secret, SL_AUTH_LABEL_CLIENT, hs->client_nonce, hs->server_nonce,
                        p->client_proof.data, p->client_proof.len))
        return sl_hs_fail(hs, out, true, SL_ERR_AUTH,
                          "authentication failed: the peer's secret is wrong");
    hs->authenticated = true;
    sl_hs_welcome(hs, out);
    return SL_OK;
}

/* Client: got a Challenge. Always answers with a proof (empty without a
 * secret) so the server can tell the two failures apart in its log. */
static sl_status_t sl_hs_client_challenge(sl_handshake_t *hs, const Sluice__Challenge *c,
                                          sl_hs_out_t *out)
{
    sluice__auth_proof__init(&out->proof);
    out->env.body_case = SLUICE__ENVELOPE__BODY_AUTH_PROOF;
    out->env.auth_proof = &out->proof;
    out->has_msg = true;
    if (!hs->secret)
        return sl_hs_fail(hs, out, false, SL_ERR_AUTH,
                          "the server requires authentication: give a secret file (--secret-file)");
    if (c->server_nonce.len != SL_NONCE_LEN)
        return sl_hs_fail(hs, out, false, SL_ERR_PROTOCOL, "challenge nonce has %zu bytes, want %d",
                          c->server_nonce.len, SL_NONCE_LEN);
    memcpy(hs->server_nonce, c->server_nonce.data, SL_NONCE_LEN);
    sl_auth_proof(hs->secret, SL_AUTH_LABEL_CLIENT, hs->client_nonce, hs->server_nonce,
                  out->proof_buf);
    out->proof.client_proof.data = out->proof_buf;
    out->proof.client_proof.len = SL_PROOF_LEN;
    if (!sl_auth_verify(hs->secret, SL_AUTH_LABEL_SERVER, hs->client_nonce, hs->server_nonce,
                        c->server_proof.data, c->server_proof.len))
        return sl_hs_fail(hs, out, false, SL_ERR_AUTH,
                          "authentication failed: the server's secret differs from ours");
    hs->state = SL_HS_CLIENT_AWAIT_WELCOME;
    return SL_OK;
}

static sl_status_t sl_hs_client_welcome(sl_handshake_t *hs, const Sluice__Welcome *w,
                                        sl_hs_out_t *out)
{
    /* With a secret, only a server that proved it (state AWAIT_WELCOME, reached
     * after verifying its Challenge) is accepted; its own claim counts for
     * nothing. */
    if (hs->secret && (hs->state != SL_HS_CLIENT_AWAIT_WELCOME || !w->authenticated))
        return sl_hs_fail(hs, out, false, SL_ERR_AUTH,
                          "the server did not prove the shared secret (it runs without "
                          "authentication?); refusing an unauthenticated server");
    hs->peer_role = w->role;
    sl_hs_copy_name(hs->peer_name, w->node_name);
    hs->authenticated = w->authenticated;
    hs->state = SL_HS_DONE;
    return SL_OK;
}

sl_status_t sl_hs_step(sl_handshake_t *hs, const Sluice__Envelope *in, sl_hs_out_t *out)
{
    sl_hs_out_reset(out);
    Sluice__Envelope__BodyCase got = in->body_case;
    switch (hs->state) {
    case SL_HS_SERVER_AWAIT_HELLO:
        if (got == SLUICE__ENVELOPE__BODY_HELLO)
            return sl_hs_server_hello(hs, in->hello, out);
        break;
    case SL_HS_SERVER_AWAIT_PROOF:
        if (got == SLUICE__ENVELOPE__BODY_AUTH_PROOF)
            return sl_hs_server_proof(hs, in->auth_proof, out);
        break;
    case SL_HS_CLIENT_AWAIT_SERVER:
        if (got == SLUICE__ENVELOPE__BODY_CHALLENGE)
            return sl_hs_client_challenge(hs, in->challenge, out);
        /* an open server answers Hello with Welcome */
        __attribute__((fallthrough));
    case SL_HS_CLIENT_AWAIT_WELCOME:
        if (got == SLUICE__ENVELOPE__BODY_WELCOME)
            return sl_hs_client_welcome(hs, in->welcome, out);
        if (got == SLUICE__ENVELOPE__BODY_REJECT)
            return sl_hs_fail(hs, out, false,
                              in->status ? (sl_status_t)in->status : SL_ERR_AUTH,
                              "refused by the server: %s", in->reject->reason);
        break;
    case SL_HS_CLIENT_START:
        return sl_hs_fail(hs, out, false, SL_ERR_PROTOCOL, "handshake not started");
    default:
        return sl_hs_fail(hs, out, false, SL_ERR_PROTOCOL, "handshake already finished");
    }
    return sl_hs_fail(hs, out, hs->is_server, SL_ERR_PROTOCOL,
                      "unexpected '%s' message during the handshake", sl_msg_name(got));
}
