/* Tests for common/handshake.c: a client and a server state machine driven
 * against each other through real frames, honest and hostile peers alike. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include "auth.h"
#include "frame.h"
#include "handshake.h"
#include "msg.h"
#include "unit.h"

/* --- the in-memory wire -------------------------------------------------- */

/* Sends env the way a connection would: encode into a frame, check the
 * prefix, split, decode. Returns the received envelope (sl_msg_free it). */
static sl_envelope_t *sl_wire(const Sluice__Envelope *env)
{
    uint8_t *frame = NULL;
    size_t frame_len = 0, len = 0;
    sl_frame_view_t v;
    sl_envelope_t *got = NULL;
    char err[SL_ERRMSG_LEN] = "";
    ck_assert_int_eq(sl_msg_encode(env, NULL, 0, SL_FRAME_MAX_DEFAULT, &frame, &frame_len), SL_OK);
    ck_assert_int_eq(sl_frame_peek(frame, frame_len, SL_FRAME_MAX_DEFAULT, &len, err), SL_OK);
    ck_assert_uint_eq(len, frame_len);
    ck_assert_int_eq(sl_frame_split(frame, frame_len, &v), SL_OK);
    ck_assert_ptr_null(v.payload);
    sl_status_t st = sl_msg_decode(v.header, v.header_len, &got, err);
    ck_assert_msg(st == SL_OK, "decode: %s (%s)", sl_strerror(st), err);
    free(frame);
    return got;
}

/* Feeds one hand-built envelope to hs through the wire. */
static sl_status_t sl_feed(sl_handshake_t *hs, const Sluice__Envelope *env, sl_hs_out_t *out)
{
    sl_envelope_t *in = sl_wire(env);
    sl_status_t st = sl_hs_step(hs, in, out);
    sl_msg_free(in);
    return st;
}

static bool sl_hs_finished(const sl_handshake_t *hs)
{
    return hs->state == SL_HS_DONE || hs->state == SL_HS_FAILED;
}

#define SL_MAX_MSGS 8

/* A client and a server run against each other, with what each sent. */
typedef struct {
    sl_handshake_t client, server;
    sl_status_t client_st, server_st;       /* last sl_hs_* result on each side */
    Sluice__Envelope__BodyCase client_sent[SL_MAX_MSGS], server_sent[SL_MAX_MSGS];
    size_t n_client_sent, n_server_sent;
    char reject_reason[SL_ERRMSG_LEN];      /* of the last Reject the server sent */
} sl_hs_pair_t;

/* Runs a whole handshake. A message to a side that has already finished is
 * dropped, as the connection would be closed by then. */
static void sl_hs_run(sl_hs_pair_t *p, const sl_secret_t *client_secret,
                      const sl_secret_t *server_secret)
{
    memset(p, 0, sizeof *p);
    sl_hs_init(&p->client, false, client_secret, SLUICE__ROLE__ROLE_CLIENT, "sluice-cli");
    sl_hs_init(&p->server, true, server_secret, SLUICE__ROLE__ROLE_MASTER, "master-1");
    ck_assert_int_eq(p->client.state, SL_HS_CLIENT_START);
    ck_assert_int_eq(p->server.state, SL_HS_SERVER_AWAIT_HELLO);

    sl_hs_out_t out;
    p->client_st = sl_hs_start(&p->client, &out);
    ck_assert_int_eq(p->client_st, SL_OK);
    ck_assert_int_eq(p->client.state, SL_HS_CLIENT_AWAIT_SERVER);
    bool from_client = true;
    while (out.has_msg) {
        sl_handshake_t *to = from_client ? &p->server : &p->client;
        if (from_client) {
            ck_assert_uint_lt(p->n_client_sent, SL_MAX_MSGS);
            p->client_sent[p->n_client_sent++] = out.env.body_case;
        } else {
            ck_assert_uint_lt(p->n_server_sent, SL_MAX_MSGS);
            p->server_sent[p->n_server_sent++] = out.env.body_case;
            if (out.env.body_case == SLUICE__ENVELOPE__BODY_REJECT)
                snprintf(p->reject_reason, sizeof p->reject_reason, "%s", out.env.reject->reason);
        }
        if (sl_hs_finished(to))
            break;
        sl_envelope_t *in = sl_wire(&out.env);
        sl_status_t st = sl_hs_step(to, in, &out);
        sl_msg_free(in);
        *(from_client ? &p->server_st : &p->client_st) = st;
        from_client = !from_client;
    }
}

static void sl_assert_sent(const Sluice__Envelope__BodyCase *sent, size_t n,
                           const Sluice__Envelope__BodyCase *want, size_t n_want)
{
    ck_assert_uint_eq(n, n_want);
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(sent[i] == want[i], "message %zu: sent '%s', want '%s'", i,
                      sl_msg_name(sent[i]), sl_msg_name(want[i]));
}

#define SL_ASSERT_SENT(sent, n, ...)                                              \
    do {                                                                          \
        static const Sluice__Envelope__BodyCase want_[] = { __VA_ARGS__ };       \
        sl_assert_sent((sent), (n), want_, sizeof want_ / sizeof *want_);         \
    } while (0)

/* A client handshake that sent its Hello, and the Hello as received. */
static sl_envelope_t *sl_client_hello(sl_handshake_t *client, const sl_secret_t *secret)
{
    sl_hs_out_t out;
    sl_hs_init(client, false, secret, SLUICE__ROLE__ROLE_WORKER, "worker-1");
    ck_assert_int_eq(sl_hs_start(client, &out), SL_OK);
    ck_assert(out.has_msg);
    return sl_wire(&out.env);
}

/* A server handshake that got a valid Hello and sent its Challenge; returns
 * the Challenge as received (sl_msg_free it). */
static sl_envelope_t *sl_server_challenged(sl_handshake_t *client, sl_handshake_t *server,
                                           const sl_secret_t *secret)
{
    sl_hs_out_t out;
    sl_envelope_t *hello = sl_client_hello(client, secret);
    sl_hs_init(server, true, secret, SLUICE__ROLE__ROLE_MASTER, "master-1");
    ck_assert_int_eq(sl_hs_step(server, hello, &out), SL_OK);
    sl_msg_free(hello);
    ck_assert_int_eq(server->state, SL_HS_SERVER_AWAIT_PROOF);
    ck_assert_int_eq(out.env.body_case, SLUICE__ENVELOPE__BODY_CHALLENGE);
    return sl_wire(&out.env);
}

/* --- honest peers -------------------------------------------------------- */

START_TEST(test_open_server_open_client)
{
    sl_hs_pair_t p;
    sl_hs_run(&p, NULL, NULL);
    ck_assert_int_eq(p.client_st, SL_OK);
    ck_assert_int_eq(p.server_st, SL_OK);
    ck_assert_int_eq(p.client.state, SL_HS_DONE);
    ck_assert_int_eq(p.server.state, SL_HS_DONE);
    ck_assert(!p.client.authenticated);
    ck_assert(!p.server.authenticated);
    ck_assert_int_eq(p.server.peer_role, SLUICE__ROLE__ROLE_CLIENT);
    ck_assert_str_eq(p.server.peer_name, "sluice-cli");
    ck_assert_int_eq(p.client.peer_role, SLUICE__ROLE__ROLE_MASTER);
    ck_assert_str_eq(p.client.peer_name, "master-1");
    SL_ASSERT_SENT(p.client_sent, p.n_client_sent, SLUICE__ENVELOPE__BODY_HELLO);
    SL_ASSERT_SENT(p.server_sent, p.n_server_sent, SLUICE__ENVELOPE__BODY_WELCOME);
    ck_assert_str_eq(p.client.error, "");
    ck_assert_str_eq(p.server.error, "");
}
END_TEST

START_TEST(test_same_secret_authenticates)
{
    /* Two separate copies of the same bytes, as two processes would load. */
    sl_secret_t *cs = sl_secret_from_bytes("s3cret", 6);
    sl_secret_t *ss = sl_secret_from_bytes("s3cret", 6);
    sl_hs_pair_t p;
    sl_hs_run(&p, cs, ss);
    ck_assert_msg(p.client_st == SL_OK, "client: %s", p.client.error);
    ck_assert_msg(p.server_st == SL_OK, "server: %s", p.server.error);
    ck_assert_int_eq(p.client.state, SL_HS_DONE);
    ck_assert_int_eq(p.server.state, SL_HS_DONE);
    ck_assert(p.client.authenticated);
    ck_assert(p.server.authenticated);
    ck_assert_int_eq(p.server.peer_role, SLUICE__ROLE__ROLE_CLIENT);
    ck_assert_str_eq(p.server.peer_name, "sluice-cli");
    ck_assert_int_eq(p.client.peer_role, SLUICE__ROLE__ROLE_MASTER);
    ck_assert_str_eq(p.client.peer_name, "master-1");
    SL_ASSERT_SENT(p.client_sent, p.n_client_sent, SLUICE__ENVELOPE__BODY_HELLO,
                   SLUICE__ENVELOPE__BODY_AUTH_PROOF);
    SL_ASSERT_SENT(p.server_sent, p.n_server_sent, SLUICE__ENVELOPE__BODY_CHALLENGE,
                   SLUICE__ENVELOPE__BODY_WELCOME);
    /* Both sides agree on both nonces, and the two nonces differ. */
    ck_assert_mem_eq(p.client.client_nonce, p.server.client_nonce, SL_NONCE_LEN);
    ck_assert_mem_eq(p.client.server_nonce, p.server.server_nonce, SL_NONCE_LEN);
    ck_assert(memcmp(p.client.client_nonce, p.client.server_nonce, SL_NONCE_LEN) != 0);
    sl_secret_free(cs);
    sl_secret_free(ss);
}
END_TEST

START_TEST(test_sessions_use_fresh_nonces)
{
    sl_secret_t *s = sl_secret_from_bytes("s3cret", 6);
    sl_hs_pair_t a, b;
    sl_hs_run(&a, s, s);
    sl_hs_run(&b, s, s);
    ck_assert_int_eq(a.server.state, SL_HS_DONE);
    ck_assert_int_eq(b.server.state, SL_HS_DONE);
    ck_assert(memcmp(a.server.client_nonce, b.server.client_nonce, SL_NONCE_LEN) != 0);
    ck_assert(memcmp(a.server.server_nonce, b.server.server_nonce, SL_NONCE_LEN) != 0);
    sl_secret_free(s);
}
END_TEST

START_TEST(test_long_name_is_truncated)
{
    char longname[200];
    memset(longname, 'n', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    sl_handshake_t client, server;
    sl_hs_out_t out;
    sl_hs_init(&client, false, NULL, SLUICE__ROLE__ROLE_WORKER, longname);
    sl_hs_init(&server, true, NULL, SLUICE__ROLE__ROLE_MASTER, NULL);
    ck_assert_str_eq(server.name, "");
    ck_assert_uint_eq(strlen(client.name), SL_HS_NAME_LEN - 1);
    ck_assert_int_eq(sl_hs_start(&client, &out), SL_OK);
    ck_assert_int_eq(sl_feed(&server, &out.env, &out), SL_OK);
    ck_assert_uint_eq(strlen(server.peer_name), SL_HS_NAME_LEN - 1);
    ck_assert_int_eq(server.peer_role, SLUICE__ROLE__ROLE_WORKER);
}
END_TEST

/* --- mismatched configuration -------------------------------------------- */

START_TEST(test_wrong_client_secret)
{
    sl_secret_t *cs = sl_secret_from_bytes("guess", 5);
    sl_secret_t *ss = sl_secret_from_bytes("s3cret", 6);
    sl_hs_pair_t p;
    sl_hs_run(&p, cs, ss);
    ck_assert_int_eq(p.server.state, SL_HS_FAILED);
    ck_assert_int_eq(p.server_st, SL_ERR_AUTH);
    SL_CK_CONTAINS(p.server.error, "secret is wrong");
    ck_assert(!p.server.authenticated);
    SL_ASSERT_SENT(p.server_sent, p.n_server_sent, SLUICE__ENVELOPE__BODY_CHALLENGE,
                   SLUICE__ENVELOPE__BODY_REJECT);
    SL_CK_CONTAINS(p.reject_reason, "secret is wrong");
    /* The client saw a server proof it could not verify and failed first; it
     * still sent its proof so that the server logs the real reason. */
    ck_assert_int_eq(p.client.state, SL_HS_FAILED);
    ck_assert_int_eq(p.client_st, SL_ERR_AUTH);
    SL_CK_CONTAINS(p.client.error, "secret differs");
    ck_assert(!p.client.authenticated);
    SL_ASSERT_SENT(p.client_sent, p.n_client_sent, SLUICE__ENVELOPE__BODY_HELLO,
                   SLUICE__ENVELOPE__BODY_AUTH_PROOF);
    sl_secret_free(cs);
    sl_secret_free(ss);
}
END_TEST

START_TEST(test_client_without_secret)
{
    sl_secret_t *ss = sl_secret_from_bytes("s3cret", 6);
    sl_hs_pair_t p;
    sl_hs_run(&p, NULL, ss);
    ck_assert_int_eq(p.client.state, SL_HS_FAILED);
    ck_assert_int_eq(p.client_st, SL_ERR_AUTH);
    SL_CK_CONTAINS(p.client.error, "--secret-file");
    ck_assert_int_eq(p.server.state, SL_HS_FAILED);
    ck_assert_int_eq(p.server_st, SL_ERR_AUTH);
    SL_CK_CONTAINS(p.server.error, "no secret");
    SL_ASSERT_SENT(p.client_sent, p.n_client_sent, SLUICE__ENVELOPE__BODY_HELLO,
                   SLUICE__ENVELOPE__BODY_AUTH_PROOF);
    SL_ASSERT_SENT(p.server_sent, p.n_server_sent, SLUICE__ENVELOPE__BODY_CHALLENGE,
                   SLUICE__ENVELOPE__BODY_REJECT);
    SL_CK_CONTAINS(p.reject_reason, "no secret");
    sl_secret_free(ss);
}
END_TEST

START_TEST(test_client_without_secret_sends_empty_proof)
{
    sl_secret_t *ss = sl_secret_from_bytes("s3cret", 6);
    sl_handshake_t client, server;
    sl_hs_out_t out;
    sl_envelope_t *ch = sl_server_challenged(&client, &server, ss);
    sl_handshake_t bare;
    sl_msg_free(sl_client_hello(&bare, NULL));
    ck_assert_int_eq(sl_hs_step(&bare, ch, &out), SL_ERR_AUTH);
    ck_assert(out.has_msg);
    ck_assert_int_eq(out.env.body_case, SLUICE__ENVELOPE__BODY_AUTH_PROOF);
    ck_assert_uint_eq(out.env.auth_proof->client_proof.len, 0);
    sl_envelope_t *proof = sl_wire(&out.env);
    ck_assert_uint_eq(proof->auth_proof->client_proof.len, 0);
    sl_msg_free(proof);
    sl_msg_free(ch);
    sl_secret_free(ss);
}
END_TEST

START_TEST(test_client_with_secret_refuses_open_server)
{
    sl_secret_t *cs = sl_secret_from_bytes("s3cret", 6);
    sl_hs_pair_t p;
    sl_hs_run(&p, cs, NULL);
    ck_assert_int_eq(p.client.state, SL_HS_FAILED);
    ck_assert_int_eq(p.client_st, SL_ERR_AUTH);
    SL_CK_CONTAINS(p.client.error, "refusing an unauthenticated server");
    ck_assert(!p.client.authenticated);
    /* The open server cannot tell; it is done and unauthenticated. */
    ck_assert_int_eq(p.server.state, SL_HS_DONE);
    ck_assert(!p.server.authenticated);
    SL_ASSERT_SENT(p.client_sent, p.n_client_sent, SLUICE__ENVELOPE__BODY_HELLO);
    SL_ASSERT_SENT(p.server_sent, p.n_server_sent, SLUICE__ENVELOPE__BODY_WELCOME);
    sl_secret_free(cs);
}
END_TEST

/* --- malformed and hostile Hellos ---------------------------------------- */

/* Sends a hand-built Hello to a fresh server and returns its status; out
 * holds the server's reply. */
static sl_status_t sl_send_hello(sl_handshake_t *server, const sl_secret_t *secret,
                                 uint32_t version, Sluice__Role role, const uint8_t *nonce,
                                 size_t nonce_len, sl_hs_out_t *out /* OUT */)
{
    Sluice__Hello h = SLUICE__HELLO__INIT;
    h.protocol_version = version;
    h.role = role;
    h.node_name = "intruder";
    h.client_nonce.data = (uint8_t *)nonce;
    h.client_nonce.len = nonce_len;
    Sluice__Envelope env = SLUICE__ENVELOPE__INIT;
    env.body_case = SLUICE__ENVELOPE__BODY_HELLO;
    env.hello = &h;
    sl_hs_init(server, true, secret, SLUICE__ROLE__ROLE_MASTER, "master-1");
    return sl_feed(server, &env, out);
}

static const uint8_t sl_nonce16[SL_NONCE_LEN] = { 9, 9, 9, 9, 9, 9, 9, 9,
                                                  9, 9, 9, 9, 9, 9, 9, 9 };

START_TEST(test_wrong_protocol_version)
{
    sl_handshake_t server;
    sl_hs_out_t out;
    ck_assert_int_eq(sl_send_hello(&server, NULL, 99, SLUICE__ROLE__ROLE_WORKER, sl_nonce16,
                                   SL_NONCE_LEN, &out),
                     SL_ERR_VERSION);
    ck_assert_int_eq(server.state, SL_HS_FAILED);
    SL_CK_CONTAINS(server.error, "protocol version 99 is not supported");
    ck_assert(out.has_msg);
    ck_assert_int_eq(out.env.body_case, SLUICE__ENVELOPE__BODY_REJECT);
    SL_CK_CONTAINS(out.env.reject->reason, "version 99");

    /* The Reject reaches a waiting client, which fails with the reason. */
    sl_handshake_t client;
    sl_msg_free(sl_client_hello(&client, NULL));
    sl_hs_out_t cout;
    /* ...with the server's reason and its status. */
    ck_assert_int_eq(sl_feed(&client, &out.env, &cout), SL_ERR_VERSION);
    ck_assert_int_eq(client.state, SL_HS_FAILED);
    SL_CK_CONTAINS(client.error, "refused by the server");
    SL_CK_CONTAINS(client.error, "version 99");
    ck_assert(!cout.has_msg);

    /* Version 0 (a Hello without the field) is refused too, also with a secret. */
    sl_secret_t *ss = sl_secret_from_bytes("s3cret", 6);
    ck_assert_int_eq(sl_send_hello(&server, ss, 0, SLUICE__ROLE__ROLE_WORKER, sl_nonce16,
                                   SL_NONCE_LEN, &out),
                     SL_ERR_VERSION);
    ck_assert_int_eq(out.env.body_case, SLUICE__ENVELOPE__BODY_REJECT);
    sl_secret_free(ss);
}
END_TEST

START_TEST(test_bad_client_nonce_length)
{
    static const uint8_t long_nonce[SL_NONCE_LEN + 1] = { 0 };
    static const size_t lens[] = { 0, 8, SL_NONCE_LEN - 1, SL_NONCE_LEN + 1 };
    for (size_t i = 0; i < sizeof lens / sizeof *lens; i++) {
        sl_handshake_t server;
        sl_hs_out_t out;
        char want[64];
        ck_assert_int_eq(sl_send_hello(&server, NULL, SL_PROTOCOL_VERSION,
                                       SLUICE__ROLE__ROLE_WORKER, long_nonce, lens[i], &out),
                         SL_ERR_PROTOCOL);
        ck_assert_int_eq(server.state, SL_HS_FAILED);
        snprintf(want, sizeof want, "nonce has %zu bytes, want 16", lens[i]);
        SL_CK_CONTAINS(server.error, want);
        ck_assert_int_eq(out.env.body_case, SLUICE__ENVELOPE__BODY_REJECT);
        SL_CK_CONTAINS(out.env.reject->reason, want);
    }
}
END_TEST

START_TEST(test_unknown_role)
{
    sl_handshake_t server;
    sl_hs_out_t out;
    ck_assert_int_eq(sl_send_hello(&server, NULL, SL_PROTOCOL_VERSION, SLUICE__ROLE__ROLE_UNKNOWN,
                                   sl_nonce16, SL_NONCE_LEN, &out),
                     SL_ERR_PROTOCOL);
    SL_CK_CONTAINS(server.error, "unknown role 0");
    ck_assert_int_eq(out.env.body_case, SLUICE__ENVELOPE__BODY_REJECT);
    ck_assert_int_eq(sl_send_hello(&server, NULL, SL_PROTOCOL_VERSION, (Sluice__Role)7,
                                   sl_nonce16, SL_NONCE_LEN, &out),
                     SL_ERR_PROTOCOL);
    SL_CK_CONTAINS(server.error, "unknown role 7");
}
END_TEST

START_TEST(test_bad_server_nonce_length)
{
    sl_secret_t *cs = sl_secret_from_bytes("s3cret", 6);
    sl_handshake_t client;
    sl_hs_out_t out;
    sl_msg_free(sl_client_hello(&client, cs));
    uint8_t proof[SL_PROOF_LEN] = { 0 };
    Sluice__Challenge c = SLUICE__CHALLENGE__INIT;
    c.server_nonce.data = (uint8_t *)sl_nonce16;
    c.server_nonce.len = 8;
    c.server_proof.data = proof;
    c.server_proof.len = sizeof proof;
    Sluice__Envelope env = SLUICE__ENVELOPE__INIT;
    env.body_case = SLUICE__ENVELOPE__BODY_CHALLENGE;
    env.challenge = &c;
    ck_assert_int_eq(sl_feed(&client, &env, &out), SL_ERR_PROTOCOL);
    ck_assert_int_eq(client.state, SL_HS_FAILED);
    SL_CK_CONTAINS(client.error, "challenge nonce has 8 bytes, want 16");
    /* Whatever is sent on the way out carries no proof of our secret. */
    if (out.has_msg) {
        ck_assert_int_eq(out.env.body_case, SLUICE__ENVELOPE__BODY_AUTH_PROOF);
        ck_assert_uint_eq(out.env.auth_proof->client_proof.len, 0);
    }
    sl_secret_free(cs);
}
END_TEST

/* --- messages out of order ----------------------------------------------- */

START_TEST(test_unexpected_message_server)
{
    Sluice__Heartbeat hb = SLUICE__HEARTBEAT__INIT;
    hb.worker_id = "w-1";
    Sluice__Envelope env = SLUICE__ENVELOPE__INIT;
    env.body_case = SLUICE__ENVELOPE__BODY_HEARTBEAT;
    env.heartbeat = &hb;
    sl_handshake_t server;
    sl_hs_out_t out;
    sl_hs_init(&server, true, NULL, SLUICE__ROLE__ROLE_MASTER, "master-1");
    ck_assert_int_eq(sl_feed(&server, &env, &out), SL_ERR_PROTOCOL);
    ck_assert_int_eq(server.state, SL_HS_FAILED);
    SL_CK_CONTAINS(server.error, "unexpected 'heartbeat' message during the handshake");
    /* A server tells the peer why before closing. */
    ck_assert(out.has_msg);
    ck_assert_int_eq(out.env.body_case, SLUICE__ENVELOPE__BODY_REJECT);
    SL_CK_CONTAINS(out.env.reject->reason, "heartbeat");

    /* A server waiting for a proof does not take a second Hello. */
    sl_secret_t *s = sl_secret_from_bytes("s3cret", 6);
    sl_handshake_t client;
    sl_envelope_t *ch = sl_server_challenged(&client, &server, s);
    sl_msg_free(ch);
    sl_handshake_t client2;
    sl_envelope_t *hello2 = sl_client_hello(&client2, s);
    ck_assert_int_eq(sl_hs_step(&server, hello2, &out), SL_ERR_PROTOCOL);
    SL_CK_CONTAINS(server.error, "unexpected 'hello'");
    sl_msg_free(hello2);
    sl_secret_free(s);
}
END_TEST

START_TEST(test_unexpected_message_client)
{
    Sluice__Heartbeat hb = SLUICE__HEARTBEAT__INIT;
    Sluice__Envelope env = SLUICE__ENVELOPE__INIT;
    env.body_case = SLUICE__ENVELOPE__BODY_HEARTBEAT;
    env.heartbeat = &hb;
    sl_handshake_t client;
    sl_hs_out_t out;
    sl_msg_free(sl_client_hello(&client, NULL));
    ck_assert_int_eq(sl_feed(&client, &env, &out), SL_ERR_PROTOCOL);
    ck_assert_int_eq(client.state, SL_HS_FAILED);
    SL_CK_CONTAINS(client.error, "unexpected 'heartbeat'");
    ck_assert(!out.has_msg);

    /* A client that already sent its proof does not take a second Challenge. */
    sl_secret_t *s = sl_secret_from_bytes("s3cret", 6);
    sl_handshake_t server;
    sl_envelope_t *ch = sl_server_challenged(&client, &server, s);
    ck_assert_int_eq(sl_hs_step(&client, ch, &out), SL_OK);
    ck_assert_int_eq(client.state, SL_HS_CLIENT_AWAIT_WELCOME);
    ck_assert_int_eq(sl_hs_step(&client, ch, &out), SL_ERR_PROTOCOL);
    SL_CK_CONTAINS(client.error, "unexpected 'challenge'");
    sl_msg_free(ch);
    sl_secret_free(s);
}
END_TEST

START_TEST(test_step_after_finish)
{
    sl_hs_pair_t p;
    sl_hs_run(&p, NULL, NULL);
    ck_assert_int_eq(p.server.state, SL_HS_DONE);
    sl_handshake_t client;
    sl_envelope_t *hello = sl_client_hello(&client, NULL);
    sl_hs_out_t out;
    ck_assert_int_eq(sl_hs_step(&p.server, hello, &out), SL_ERR_PROTOCOL);
    ck_assert_int_eq(p.server.state, SL_HS_FAILED);
    SL_CK_CONTAINS(p.server.error, "already finished");
    ck_assert_int_eq(sl_hs_step(&p.server, hello, &out), SL_ERR_PROTOCOL);
    sl_msg_free(hello);
}
END_TEST

START_TEST(test_start_misuse)
{
    sl_handshake_t hs;
    sl_hs_out_t out;
    sl_hs_init(&hs, true, NULL, SLUICE__ROLE__ROLE_MASTER, "m");
    ck_assert_int_eq(sl_hs_start(&hs, &out), SL_ERR_INVALID);
    ck_assert(!out.has_msg);
    ck_assert_int_eq(hs.state, SL_HS_SERVER_AWAIT_HELLO);
    sl_hs_init(&hs, false, NULL, SLUICE__ROLE__ROLE_CLIENT, "c");
    ck_assert_int_eq(sl_hs_start(&hs, &out), SL_OK);
    ck_assert_int_eq(sl_hs_start(&hs, &out), SL_ERR_INVALID);
    ck_assert(!out.has_msg);
    ck_assert_int_eq(hs.state, SL_HS_CLIENT_AWAIT_SERVER);
}
END_TEST

/* --- attacks on the proof ------------------------------------------------ */

/* Sends an AuthProof carrying `proof` to a server waiting for one. */
static sl_status_t sl_send_proof(sl_handshake_t *server, const uint8_t *proof, size_t len,
                                 sl_hs_out_t *out)
{
    Sluice__AuthProof ap = SLUICE__AUTH_PROOF__INIT;
    ap.client_proof.data = (uint8_t *)proof;
    ap.client_proof.len = len;
    Sluice__Envelope env = SLUICE__ENVELOPE__INIT;
    env.body_case = SLUICE__ENVELOPE__BODY_AUTH_PROOF;
    env.auth_proof = &ap;
    return sl_feed(server, &env, out);
}

START_TEST(test_reflected_server_proof_refused)
{
    /* An attacker without the secret sends the server's own proof back. */
    sl_secret_t *s = sl_secret_from_bytes("s3cret", 6);
    sl_handshake_t client, server;
    sl_hs_out_t out;
    sl_envelope_t *ch = sl_server_challenged(&client, &server, s);
    ck_assert_uint_eq(ch->challenge->server_proof.len, SL_PROOF_LEN);
    ck_assert_int_eq(sl_send_proof(&server, ch->challenge->server_proof.data,
                                   ch->challenge->server_proof.len, &out),
                     SL_ERR_AUTH);
    ck_assert_int_eq(server.state, SL_HS_FAILED);
    ck_assert(!server.authenticated);
    SL_CK_CONTAINS(server.error, "secret is wrong");
    ck_assert_int_eq(out.env.body_case, SLUICE__ENVELOPE__BODY_REJECT);
    sl_msg_free(ch);
    sl_secret_free(s);
}
END_TEST

START_TEST(test_replayed_client_proof_refused)
{
    /* A proof recorded from one session does not open another. */
    sl_secret_t *s = sl_secret_from_bytes("s3cret", 6);
    sl_handshake_t client, server;
    sl_hs_out_t out;
    sl_envelope_t *ch = sl_server_challenged(&client, &server, s);
    ck_assert_int_eq(sl_hs_step(&client, ch, &out), SL_OK);
    uint8_t recorded[SL_PROOF_LEN];
    ck_assert_uint_eq(out.env.auth_proof->client_proof.len, SL_PROOF_LEN);
    memcpy(recorded, out.env.auth_proof->client_proof.data, SL_PROOF_LEN);
    ck_assert_int_eq(sl_feed(&server, &out.env, &out), SL_OK);
    ck_assert(server.authenticated);
    sl_msg_free(ch);

    /* The attacker replays the first Hello (same client nonce) and the proof. */
    sl_handshake_t server2;
    ck_assert_int_eq(sl_send_hello(&server2, s, SL_PROTOCOL_VERSION, SLUICE__ROLE__ROLE_WORKER,
                                   client.client_nonce, SL_NONCE_LEN, &out),
                     SL_OK);
    ck_assert_int_eq(server2.state, SL_HS_SERVER_AWAIT_PROOF);
    ck_assert_int_eq(sl_send_proof(&server2, recorded, SL_PROOF_LEN, &out), SL_ERR_AUTH);
    ck_assert(!server2.authenticated);
    SL_CK_CONTAINS(server2.error, "secret is wrong");
    sl_secret_free(s);
}
END_TEST

START_TEST(test_tampered_proof_refused)
{
    /* One flipped bit in transit: the server rejects, and the client, waiting
     * for a Welcome, fails with the server's reason. */
    sl_secret_t *s = sl_secret_from_bytes("s3cret", 6);
    sl_handshake_t client, server;
    sl_hs_out_t out;
    sl_envelope_t *ch = sl_server_challenged(&client, &server, s);
    ck_assert_int_eq(sl_hs_step(&client, ch, &out), SL_OK);
    sl_msg_free(ch);
    uint8_t bad[SL_PROOF_LEN];
    memcpy(bad, out.env.auth_proof->client_proof.data, SL_PROOF_LEN);
    bad[SL_PROOF_LEN - 1] ^= 0x01;
    ck_assert_int_eq(sl_send_proof(&server, bad, SL_PROOF_LEN, &out), SL_ERR_AUTH);
    ck_assert_int_eq(out.env.body_case, SLUICE__ENVELOPE__BODY_REJECT);
    sl_hs_out_t cout;
    ck_assert_int_eq(sl_feed(&client, &out.env, &cout), SL_ERR_AUTH);
    ck_assert_int_eq(client.state, SL_HS_FAILED);
    SL_CK_CONTAINS(client.error, "refused by the server");
    SL_CK_CONTAINS(client.error, "secret is wrong");
    ck_assert(!client.authenticated);
    sl_secret_free(s);
}
END_TEST

START_TEST(test_short_and_long_proofs_refused)
{
    sl_secret_t *s = sl_secret_from_bytes("s3cret", 6);
    static const size_t lens[] = { 1, SL_PROOF_LEN - 1, SL_PROOF_LEN + 1 };
    for (size_t i = 0; i < sizeof lens / sizeof *lens; i++) {
        sl_handshake_t client, server;
        sl_hs_out_t out;
        sl_envelope_t *ch = sl_server_challenged(&client, &server, s);
        ck_assert_int_eq(sl_hs_step(&client, ch, &out), SL_OK);
        sl_msg_free(ch);
        uint8_t p[SL_PROOF_LEN + 1] = { 0 };
        memcpy(p, out.env.auth_proof->client_proof.data, SL_PROOF_LEN);
        ck_assert_int_eq(sl_send_proof(&server, p, lens[i], &out), SL_ERR_AUTH);
        ck_assert(!server.authenticated);
        SL_CK_CONTAINS(server.error, "secret is wrong");
    }
    sl_secret_free(s);
}
END_TEST

START_TEST(test_forged_server_proof_refused)
{
    /* A fake server without the secret: the client refuses its Challenge. */
    sl_secret_t *cs = sl_secret_from_bytes("s3cret", 6);
    sl_handshake_t client;
    sl_hs_out_t out;
    sl_msg_free(sl_client_hello(&client, cs));
    uint8_t junk[SL_PROOF_LEN];
    memset(junk, 0x42, sizeof junk);
    Sluice__Challenge c = SLUICE__CHALLENGE__INIT;
    c.server_nonce.data = (uint8_t *)sl_nonce16;
    c.server_nonce.len = SL_NONCE_LEN;
    c.server_proof.data = junk;
    c.server_proof.len = sizeof junk;
    Sluice__Envelope env = SLUICE__ENVELOPE__INIT;
    env.body_case = SLUICE__ENVELOPE__BODY_CHALLENGE;
    env.challenge = &c;
    ck_assert_int_eq(sl_feed(&client, &env, &out), SL_ERR_AUTH);
    ck_assert_int_eq(client.state, SL_HS_FAILED);
    SL_CK_CONTAINS(client.error, "secret differs");
    ck_assert(!client.authenticated);

    /* Nor a Challenge without any proof. */
    sl_msg_free(sl_client_hello(&client, cs));
    c.server_proof.data = NULL;
    c.server_proof.len = 0;
    ck_assert_int_eq(sl_feed(&client, &env, &out), SL_ERR_AUTH);
    ck_assert_int_eq(client.state, SL_HS_FAILED);
    sl_secret_free(cs);
}
END_TEST

/* Regression: a client with a secret accepts a Welcome{authenticated=true} that
 * arrives instead of a Challenge, so a server that never proved the secret is
 * taken as authenticated. */
START_TEST(test_forged_welcome_without_challenge_refused)
{
    sl_secret_t *cs = sl_secret_from_bytes("s3cret", 6);
    sl_handshake_t client;
    sl_hs_out_t out;
    sl_msg_free(sl_client_hello(&client, cs));
    Sluice__Welcome w = SLUICE__WELCOME__INIT;
    w.role = SLUICE__ROLE__ROLE_MASTER;
    w.node_name = "impostor";
    w.authenticated = 1;
    Sluice__Envelope env = SLUICE__ENVELOPE__INIT;
    env.body_case = SLUICE__ENVELOPE__BODY_WELCOME;
    env.welcome = &w;
    ck_assert_int_eq(sl_feed(&client, &env, &out), SL_ERR_AUTH);
    ck_assert_int_eq(client.state, SL_HS_FAILED);
    ck_assert(!client.authenticated);
    sl_secret_free(cs);
}
END_TEST

Suite *sl_test_handshake_suite(void)
{
    Suite *s = suite_create("handshake");
    TCase *tc = tcase_create("honest");
    tcase_add_test(tc, test_open_server_open_client);
    tcase_add_test(tc, test_same_secret_authenticates);
    tcase_add_test(tc, test_sessions_use_fresh_nonces);
    tcase_add_test(tc, test_long_name_is_truncated);
    suite_add_tcase(s, tc);

    tc = tcase_create("mismatch");
    tcase_add_test(tc, test_wrong_client_secret);
    tcase_add_test(tc, test_client_without_secret);
    tcase_add_test(tc, test_client_without_secret_sends_empty_proof);
    tcase_add_test(tc, test_client_with_secret_refuses_open_server);
    suite_add_tcase(s, tc);

    tc = tcase_create("malformed");
    tcase_add_test(tc, test_wrong_protocol_version);
    tcase_add_test(tc, test_bad_client_nonce_length);
    tcase_add_test(tc, test_unknown_role);
    tcase_add_test(tc, test_bad_server_nonce_length);
    tcase_add_test(tc, test_unexpected_message_server);
    tcase_add_test(tc, test_unexpected_message_client);
    tcase_add_test(tc, test_step_after_finish);
    tcase_add_test(tc, test_start_misuse);
    suite_add_tcase(s, tc);

    tc = tcase_create("attacks");
    tcase_add_test(tc, test_reflected_server_proof_refused);
    tcase_add_test(tc, test_replayed_client_proof_refused);
    tcase_add_test(tc, test_tampered_proof_refused);
    tcase_add_test(tc, test_short_and_long_proofs_refused);
    tcase_add_test(tc, test_forged_server_proof_refused);
    tcase_add_test(tc, test_forged_welcome_without_challenge_refused);
    suite_add_tcase(s, tc);
    return s;
}
