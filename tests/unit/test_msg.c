/* Tests for common/msg.c: Envelope encode/decode round trips through real
 * frames (with and without a raw payload), malformed and unknown headers, names. */
#include <stdint.h>
#include <stdlib.h>
#include "frame.h"
#include "msg.h"
#include "unit.h"

/* One message as it crossed the wire: the encoded frame (owned), the view
 * into it and the decoded envelope (owned). */
typedef struct {
    uint8_t *frame;
    size_t frame_len;
    sl_frame_view_t view;
    sl_envelope_t *env;
} sl_wired_t;

/* Encodes env and payload, then reads them back as a receiver would. */
static void sl_wire(const sl_envelope_t *env, const void *payload, size_t payload_len,
                    sl_wired_t *w /* OUT */)
{
    char err[SL_ERRMSG_LEN] = "";
    size_t len = 0;
    memset(w, 0, sizeof *w);
    ck_assert_int_eq(sl_msg_encode(env, payload, payload_len, SL_FRAME_MAX_DEFAULT, &w->frame,
                                   &w->frame_len),
                     SL_OK);
    ck_assert_int_eq(sl_frame_peek(w->frame, w->frame_len, SL_FRAME_MAX_DEFAULT, &len, err), SL_OK);
    ck_assert_uint_eq(len, w->frame_len);
    ck_assert_int_eq(sl_frame_split(w->frame, w->frame_len, &w->view), SL_OK);
    ck_assert_uint_eq(w->view.payload_len, payload_len);
    sl_status_t st = sl_msg_decode(w->view.header, w->view.header_len, &w->env, err);
    ck_assert_msg(st == SL_OK, "decode: %s (%s)", sl_strerror(st), err);
}

static void sl_wired_free(sl_wired_t *w)
{
    sl_msg_free(w->env);
    free(w->frame);
    memset(w, 0, sizeof *w);
}

/* Decodes hand-made header bytes, expecting failure `want`. */
static void sl_decode_fails(const uint8_t *hdr, size_t len, sl_status_t want, const char *err_has)
{
    sl_envelope_t *env = NULL;
    char err[SL_ERRMSG_LEN] = "";
    sl_status_t st = sl_msg_decode(hdr, len, &env, err);
    ck_assert_msg(st == want, "got %s, want %s", sl_strerror(st), sl_strerror(want));
    ck_assert_ptr_null(env);
    SL_CK_CONTAINS(err, err_has);
}

/* --- round trips --------------------------------------------------------- */

START_TEST(test_round_trip_hello)
{
    static const uint8_t nonce[16] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16 };
    Sluice__Hello hello = SLUICE__HELLO__INIT;
    hello.protocol_version = SL_PROTOCOL_VERSION;
    hello.role = SLUICE__ROLE__ROLE_WORKER;
    hello.node_name = "worker-7";
    hello.client_nonce.data = (uint8_t *)nonce;
    hello.client_nonce.len = sizeof nonce;
    sl_envelope_t env = SLUICE__ENVELOPE__INIT;
    env.request_id = 42;
    env.body_case = SLUICE__ENVELOPE__BODY_HELLO;
    env.hello = &hello;

    sl_wired_t w;
    sl_wire(&env, NULL, 0, &w);
    ck_assert_ptr_null(w.view.payload);
    ck_assert_uint_eq(w.env->request_id, 42);
    ck_assert(!w.env->is_reply);
    ck_assert_int_eq(w.env->body_case, SLUICE__ENVELOPE__BODY_HELLO);
    ck_assert_uint_eq(w.env->hello->protocol_version, SL_PROTOCOL_VERSION);
    ck_assert_int_eq(w.env->hello->role, SLUICE__ROLE__ROLE_WORKER);
    ck_assert_str_eq(w.env->hello->node_name, "worker-7");
    ck_assert_uint_eq(w.env->hello->client_nonce.len, sizeof nonce);
    ck_assert_mem_eq(w.env->hello->client_nonce.data, nonce, sizeof nonce);
    sl_wired_free(&w);
}
END_TEST

START_TEST(test_round_trip_with_raw_payload)
{
    /* The payload is bytes, never parsed: zeros and protobuf-looking junk included. */
    size_t plen = 3000;
    uint8_t *payload = malloc(plen);
    ck_assert_ptr_nonnull(payload);
    for (size_t i = 0; i < plen; i++)
        payload[i] = (uint8_t)(i * 31 + 7);
    payload[0] = 0;
    payload[1] = 0xff;

    Sluice__RegisterWorker rw = SLUICE__REGISTER_WORKER__INIT;
    rw.worker_id = "w-1";
    rw.address = "10.0.0.5:7078";
    rw.cores = 8;
    rw.memory_bytes = 16ULL << 30;
    sl_envelope_t env = SLUICE__ENVELOPE__INIT;
    env.request_id = UINT64_MAX;
    env.body_case = SLUICE__ENVELOPE__BODY_REGISTER_WORKER;
    env.register_worker = &rw;

    sl_wired_t w;
    sl_wire(&env, payload, plen, &w);
    ck_assert_uint_eq(w.frame_len, SL_FRAME_PREFIX_LEN + w.view.header_len + plen);
    ck_assert_ptr_eq(w.view.payload, w.view.header + w.view.header_len);
    ck_assert_mem_eq(w.view.payload, payload, plen);
    ck_assert(w.env->request_id == UINT64_MAX);
    ck_assert_int_eq(w.env->body_case, SLUICE__ENVELOPE__BODY_REGISTER_WORKER);
    ck_assert_str_eq(w.env->register_worker->worker_id, "w-1");
    ck_assert_str_eq(w.env->register_worker->address, "10.0.0.5:7078");
    ck_assert_uint_eq(w.env->register_worker->cores, 8);
    ck_assert_uint_eq(w.env->register_worker->memory_bytes, 16ULL << 30);
    sl_wired_free(&w);
    free(payload);
}
END_TEST

START_TEST(test_round_trip_cluster_status)
{
    Sluice__WorkerInfo a = SLUICE__WORKER_INFO__INIT, b = SLUICE__WORKER_INFO__INIT;
    a.worker_id = "w-a";
    a.address = "h1:1";
    a.state = SLUICE__WORKER_STATE__WORKER_ALIVE;
    a.registrations = 1;
    b.worker_id = "w-b";
    b.address = "h2:2";
    b.state = SLUICE__WORKER_STATE__WORKER_DEAD;
    b.dead_reason = "no heartbeat for 10s";
    b.silent_ms_when_declared_dead = 10250;
    Sluice__WorkerInfo *workers[] = { &a, &b };
    Sluice__ClusterStatus cs = SLUICE__CLUSTER_STATUS__INIT;
    cs.master_address = "m:7077";
    cs.uptime_ms = 123456;
    cs.authenticated = 1;
    cs.n_workers = 2;
    cs.workers = workers;
    sl_envelope_t env = SLUICE__ENVELOPE__INIT;
    env.request_id = 9;
    env.is_reply = 1;
    env.body_case = SLUICE__ENVELOPE__BODY_CLUSTER_STATUS;
    env.cluster_status = &cs;

    sl_wired_t w;
    sl_wire(&env, NULL, 0, &w);
    ck_assert(w.env->is_reply);
    ck_assert_uint_eq(w.env->status, SL_OK);
    const Sluice__ClusterStatus *got = w.env->cluster_status;
    ck_assert_str_eq(got->master_address, "m:7077");
    ck_assert_uint_eq(got->uptime_ms, 123456);
    ck_assert(got->authenticated);
    ck_assert_uint_eq(got->n_workers, 2);
    ck_assert_str_eq(got->workers[0]->worker_id, "w-a");
    ck_assert_int_eq(got->workers[0]->state, SLUICE__WORKER_STATE__WORKER_ALIVE);
    ck_assert_str_eq(got->workers[0]->dead_reason, "");
    ck_assert_str_eq(got->workers[1]->worker_id, "w-b");
    ck_assert_int_eq(got->workers[1]->state, SLUICE__WORKER_STATE__WORKER_DEAD);
    ck_assert_str_eq(got->workers[1]->dead_reason, "no heartbeat for 10s");
    ck_assert_uint_eq(got->workers[1]->silent_ms_when_declared_dead, 10250);
    sl_wired_free(&w);
}
END_TEST

START_TEST(test_round_trip_empty_body_and_small_messages)
{
    /* An empty ClusterStatusRequest is still a known body: it packs to a tag. */
    Sluice__ClusterStatusRequest req = SLUICE__CLUSTER_STATUS_REQUEST__INIT;
    sl_envelope_t env = SLUICE__ENVELOPE__INIT;
    env.body_case = SLUICE__ENVELOPE__BODY_CLUSTER_STATUS_REQUEST;
    env.cluster_status_request = &req;
    sl_wired_t w;
    sl_wire(&env, NULL, 0, &w);
    ck_assert_int_eq(w.env->body_case, SLUICE__ENVELOPE__BODY_CLUSTER_STATUS_REQUEST);
    ck_assert_uint_eq(w.env->request_id, 0);
    sl_wired_free(&w);

    Sluice__HeartbeatReply hr = SLUICE__HEARTBEAT_REPLY__INIT;
    hr.known = 1;
    sl_envelope_t env2 = SLUICE__ENVELOPE__INIT;
    env2.request_id = 3;
    env2.is_reply = 1;
    env2.body_case = SLUICE__ENVELOPE__BODY_HEARTBEAT_REPLY;
    env2.heartbeat_reply = &hr;
    sl_wire(&env2, "x", 1, &w);
    ck_assert_int_eq(w.env->body_case, SLUICE__ENVELOPE__BODY_HEARTBEAT_REPLY);
    ck_assert(w.env->heartbeat_reply->known);
    ck_assert_uint_eq(w.view.payload_len, 1);
    ck_assert_mem_eq(w.view.payload, "x", 1);
    sl_wired_free(&w);
}
END_TEST

START_TEST(test_error_reply_without_body)
{
    sl_envelope_t env = SLUICE__ENVELOPE__INIT;
    env.request_id = 5;
    env.is_reply = 1;
    env.status = SL_ERR_NOT_FOUND;
    env.error = "no such worker 'w-9'";
    sl_wired_t w;
    sl_wire(&env, NULL, 0, &w);
    ck_assert_int_eq(w.env->body_case, SLUICE__ENVELOPE__BODY__NOT_SET);
    ck_assert_uint_eq(w.env->status, SL_ERR_NOT_FOUND);
    ck_assert_str_eq(w.env->error, "no such worker 'w-9'");
    sl_wired_free(&w);
}
END_TEST

/* --- malformed and unknown headers --------------------------------------- */

START_TEST(test_decode_garbage)
{
    static const uint8_t ff[] = { 0xff, 0xff, 0xff, 0xff };
    sl_decode_fails(ff, sizeof ff, SL_ERR_DECODE, "header of 4 bytes is not a valid envelope");
    /* A varint that never ends. */
    static const uint8_t endless[] = { 0x08, 0x80, 0x80, 0x80 };
    sl_decode_fails(endless, sizeof endless, SL_ERR_DECODE, "not a valid envelope");
    /* Field 10 (hello) claiming 100 bytes, only 2 present. */
    static const uint8_t short_sub[] = { 0x52, 100, 0x08, 0x01 };
    sl_decode_fails(short_sub, sizeof short_sub, SL_ERR_DECODE, "not a valid envelope");
    /* Field 10 with a length-delimited body that is itself garbage. */
    static const uint8_t bad_sub[] = { 0x52, 0x02, 0xff, 0xff };
    sl_decode_fails(bad_sub, sizeof bad_sub, SL_ERR_DECODE, "not a valid envelope");
    /* Text is not protobuf. */
    static const char text[] = "GET / HTTP/1.1\r\n\r\n";
    sl_decode_fails((const uint8_t *)text, sizeof text - 1, SL_ERR_DECODE, "not a valid envelope");
    /* err may be NULL. */
    sl_envelope_t *env = NULL;
    ck_assert_int_eq(sl_msg_decode(ff, sizeof ff, &env, NULL), SL_ERR_DECODE);
}
END_TEST

START_TEST(test_decode_truncated_valid_header)
{
    Sluice__Heartbeat hb = SLUICE__HEARTBEAT__INIT;
    hb.worker_id = "worker-with-a-name";
    sl_envelope_t env = SLUICE__ENVELOPE__INIT;
    env.body_case = SLUICE__ENVELOPE__BODY_HEARTBEAT;
    env.heartbeat = &hb;
    sl_wired_t w;
    sl_wire(&env, NULL, 0, &w);
    /* Every proper prefix of the header cuts the nested message short. */
    for (size_t n = 1; n < w.view.header_len; n++)
        sl_decode_fails(w.view.header, n, SL_ERR_DECODE, "not a valid envelope");
    sl_wired_free(&w);
}
END_TEST

START_TEST(test_decode_unknown_field_only)
{
    /* Field 99, varint 1: valid protobuf, but no body this build knows. */
    static const uint8_t f99[] = { 0x98, 0x06, 0x01 };
    sl_decode_fails(f99, sizeof f99, SL_ERR_UNKNOWN_MESSAGE, "no message type this daemon knows");
    /* Field 99 length-delimited, as a future body case would be sent. */
    static const uint8_t f99_ld[] = { 0x9a, 0x06, 0x02, 0x08, 0x01 };
    sl_decode_fails(f99_ld, sizeof f99_ld, SL_ERR_UNKNOWN_MESSAGE, "no message type");
    /* Known scalar fields but no body: a request_id alone is not a message. */
    static const uint8_t id_only[] = { 0x08, 0x07 };
    sl_decode_fails(id_only, sizeof id_only, SL_ERR_UNKNOWN_MESSAGE, "no message type");
    /* A successful reply still needs a body. */
    static const uint8_t ok_reply[] = { 0x08, 0x07, 0x10, 0x01 };
    sl_decode_fails(ok_reply, sizeof ok_reply, SL_ERR_UNKNOWN_MESSAGE, "no message type");
    /* Zero header bytes unpack to an all-default envelope: unknown too. */
    sl_decode_fails(f99, 0, SL_ERR_UNKNOWN_MESSAGE, "no message type");
}
END_TEST

START_TEST(test_decode_unknown_field_in_a_frame)
{
    /* The same through framing: the frame is fine, the envelope is unknown. */
    static const uint8_t f99[] = { 0x98, 0x06, 0x01 };
    uint8_t frame[SL_FRAME_PREFIX_LEN + sizeof f99];
    ck_assert_int_eq(sl_frame_prefix(frame, sizeof f99, 0, SL_FRAME_MAX_DEFAULT), SL_OK);
    memcpy(frame + SL_FRAME_PREFIX_LEN, f99, sizeof f99);
    size_t len = 0;
    sl_frame_view_t v;
    ck_assert_int_eq(sl_frame_peek(frame, sizeof frame, SL_FRAME_MAX_DEFAULT, &len, NULL), SL_OK);
    ck_assert_uint_eq(len, sizeof frame);
    ck_assert_int_eq(sl_frame_split(frame, len, &v), SL_OK);
    sl_decode_fails(v.header, v.header_len, SL_ERR_UNKNOWN_MESSAGE, "no message type");
}
END_TEST

START_TEST(test_known_body_with_unknown_fields_decodes)
{
    /* Forward compatibility: a heartbeat with an extra field 99 still decodes. */
    static const uint8_t hdr[] = { 0xb2, 0x01, 0x03, 0x0a, 0x01, 'w', 0x98, 0x06, 0x01 };
    sl_envelope_t *env = NULL;
    char err[SL_ERRMSG_LEN] = "";
    ck_assert_int_eq(sl_msg_decode(hdr, sizeof hdr, &env, err), SL_OK);
    ck_assert_int_eq(env->body_case, SLUICE__ENVELOPE__BODY_HEARTBEAT);
    ck_assert_str_eq(env->heartbeat->worker_id, "w");
    sl_msg_free(env);
    sl_msg_free(NULL);
}
END_TEST

START_TEST(test_encode_empty_envelope_refused)
{
    sl_envelope_t env = SLUICE__ENVELOPE__INIT;
    uint8_t *out = (uint8_t *)&env;     /* sentinel: must stay untouched */
    size_t out_len = 77;
    ck_assert_uint_eq(sluice__envelope__get_packed_size(&env), 0);
    ck_assert_int_eq(sl_msg_encode(&env, NULL, 0, SL_FRAME_MAX_DEFAULT, &out, &out_len),
                     SL_ERR_INVALID);
    ck_assert_ptr_eq(out, (uint8_t *)&env);
    ck_assert_uint_eq(out_len, 77);
    /* A payload does not make a message of an empty envelope. */
    ck_assert_int_eq(sl_msg_encode(&env, "abc", 3, SL_FRAME_MAX_DEFAULT, &out, &out_len),
                     SL_ERR_INVALID);
    ck_assert_ptr_eq(out, (uint8_t *)&env);
}
END_TEST

START_TEST(test_encode_respects_max_frame)
{
    Sluice__Heartbeat hb = SLUICE__HEARTBEAT__INIT;
    hb.worker_id = "w";
    sl_envelope_t env = SLUICE__ENVELOPE__INIT;
    env.body_case = SLUICE__ENVELOPE__BODY_HEARTBEAT;
    env.heartbeat = &hb;
    size_t hlen = sluice__envelope__get_packed_size(&env);
    uint8_t payload[64] = { 0 };
    uint8_t *out = NULL;
    size_t out_len = 0;
    size_t max = SL_FRAME_PREFIX_LEN + hlen + 10;
    ck_assert_int_eq(sl_msg_encode(&env, payload, 10, max, &out, &out_len), SL_OK);
    ck_assert_uint_eq(out_len, max);
    free(out);
    out = NULL;
    ck_assert_int_eq(sl_msg_encode(&env, payload, 11, max, &out, &out_len),
                     SL_ERR_FRAME_TOO_LARGE);
    ck_assert_ptr_null(out);
}
END_TEST

START_TEST(test_truncated_frame_needs_more)
{
    Sluice__Reject rj = SLUICE__REJECT__INIT;
    rj.reason = "go away";
    sl_envelope_t env = SLUICE__ENVELOPE__INIT;
    env.body_case = SLUICE__ENVELOPE__BODY_REJECT;
    env.reject = &rj;
    uint8_t *frame = NULL;
    size_t frame_len = 0;
    ck_assert_int_eq(sl_msg_encode(&env, "tail", 4, SL_FRAME_MAX_DEFAULT, &frame, &frame_len),
                     SL_OK);
    for (size_t n = 0; n < frame_len; n++) {
        size_t len = 0;
        sl_frame_view_t v;
        sl_status_t st = sl_frame_peek(frame, n, SL_FRAME_MAX_DEFAULT, &len, NULL);
        if (n < SL_FRAME_PREFIX_LEN) {
            ck_assert_int_eq(st, SL_AGAIN);
        } else {
            ck_assert_int_eq(st, SL_OK);
            ck_assert_uint_eq(len, frame_len);
            ck_assert_uint_gt(len, n);
        }
        ck_assert_int_eq(sl_frame_split(frame, n, &v), SL_ERR_FRAME_MALFORMED);
    }
    free(frame);
}
END_TEST

/* --- names --------------------------------------------------------------- */

START_TEST(test_msg_names)
{
    static const struct {
        Sluice__Envelope__BodyCase c;
        const char *name;
    } names[] = {
        { SLUICE__ENVELOPE__BODY_HELLO, "hello" },
        { SLUICE__ENVELOPE__BODY_CHALLENGE, "challenge" },
        { SLUICE__ENVELOPE__BODY_AUTH_PROOF, "auth_proof" },
        { SLUICE__ENVELOPE__BODY_WELCOME, "welcome" },
        { SLUICE__ENVELOPE__BODY_REJECT, "reject" },
        { SLUICE__ENVELOPE__BODY_REGISTER_WORKER, "register_worker" },
        { SLUICE__ENVELOPE__BODY_REGISTER_WORKER_REPLY, "register_worker_reply" },
        { SLUICE__ENVELOPE__BODY_HEARTBEAT, "heartbeat" },
        { SLUICE__ENVELOPE__BODY_HEARTBEAT_REPLY, "heartbeat_reply" },
        { SLUICE__ENVELOPE__BODY_CLUSTER_STATUS_REQUEST, "cluster_status_request" },
        { SLUICE__ENVELOPE__BODY_CLUSTER_STATUS, "cluster_status" },
        { SLUICE__ENVELOPE__BODY__NOT_SET, "unknown" },
        { (Sluice__Envelope__BodyCase)99, "unknown" },
    };
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        ck_assert_str_eq(sl_msg_name(names[i].c), names[i].name);

    ck_assert_str_eq(sl_role_name(SLUICE__ROLE__ROLE_MASTER), "master");
    ck_assert_str_eq(sl_role_name(SLUICE__ROLE__ROLE_WORKER), "worker");
    ck_assert_str_eq(sl_role_name(SLUICE__ROLE__ROLE_CLIENT), "client");
    ck_assert_str_eq(sl_role_name(SLUICE__ROLE__ROLE_UNKNOWN), "unknown");
    ck_assert_str_eq(sl_role_name((Sluice__Role)42), "unknown");
}
END_TEST

START_TEST(test_every_named_body_survives_the_wire)
{
    /* Each body the name table knows decodes as that body even when empty. */
    static const Sluice__Envelope__BodyCase cases[] = {
        SLUICE__ENVELOPE__BODY_HELLO, SLUICE__ENVELOPE__BODY_CHALLENGE,
        SLUICE__ENVELOPE__BODY_AUTH_PROOF, SLUICE__ENVELOPE__BODY_WELCOME,
        SLUICE__ENVELOPE__BODY_REJECT, SLUICE__ENVELOPE__BODY_REGISTER_WORKER,
        SLUICE__ENVELOPE__BODY_REGISTER_WORKER_REPLY, SLUICE__ENVELOPE__BODY_HEARTBEAT,
        SLUICE__ENVELOPE__BODY_HEARTBEAT_REPLY, SLUICE__ENVELOPE__BODY_CLUSTER_STATUS_REQUEST,
        SLUICE__ENVELOPE__BODY_CLUSTER_STATUS,
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        /* Field number N, wire type 2, length 0. */
        uint8_t hdr[3];
        size_t n = 0;
        unsigned tag = ((unsigned)cases[i] << 3) | 2;
        if (tag < 0x80) {
            hdr[n++] = (uint8_t)tag;
        } else {
            hdr[n++] = (uint8_t)(tag | 0x80);
            hdr[n++] = (uint8_t)(tag >> 7);
        }
        hdr[n++] = 0;
        sl_envelope_t *env = NULL;
        char err[SL_ERRMSG_LEN] = "";
        ck_assert_msg(sl_msg_decode(hdr, n, &env, err) == SL_OK, "%s: %s",
                      sl_msg_name(cases[i]), err);
        ck_assert_int_eq(env->body_case, cases[i]);
        sl_msg_free(env);
    }
}
END_TEST

Suite *sl_test_msg_suite(void)
{
    Suite *s = suite_create("msg");
    TCase *tc = tcase_create("round_trip");
    tcase_add_test(tc, test_round_trip_hello);
    tcase_add_test(tc, test_round_trip_with_raw_payload);
    tcase_add_test(tc, test_round_trip_cluster_status);
    tcase_add_test(tc, test_round_trip_empty_body_and_small_messages);
    tcase_add_test(tc, test_error_reply_without_body);
    tcase_add_test(tc, test_every_named_body_survives_the_wire);
    suite_add_tcase(s, tc);

    tc = tcase_create("malformed");
    tcase_add_test(tc, test_decode_garbage);
    tcase_add_test(tc, test_decode_truncated_valid_header);
    tcase_add_test(tc, test_decode_unknown_field_only);
    tcase_add_test(tc, test_decode_unknown_field_in_a_frame);
    tcase_add_test(tc, test_known_body_with_unknown_fields_decodes);
    tcase_add_test(tc, test_encode_empty_envelope_refused);
    tcase_add_test(tc, test_encode_respects_max_frame);
    tcase_add_test(tc, test_truncated_frame_needs_more);
    suite_add_tcase(s, tc);

    tc = tcase_create("names");
    tcase_add_test(tc, test_msg_names);
    suite_add_tcase(s, tc);
    return s;
}
