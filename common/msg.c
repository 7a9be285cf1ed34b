/* Envelope encode/decode on top of the framing. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "frame.h"
#include "msg.h"

typedef struct {
    Sluice__Envelope__BodyCase body;
    const char *name;
} sl_msg_entry_t;

static const sl_msg_entry_t sl_msg_table[] = {
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
    { SLUICE__ENVELOPE__BODY_SUBMIT_JOB, "submit_job" },
    { SLUICE__ENVELOPE__BODY_SUBMIT_JOB_REPLY, "submit_job_reply" },
    { SLUICE__ENVELOPE__BODY_LIST_JOBS, "list_jobs" },
    { SLUICE__ENVELOPE__BODY_JOB_LIST, "job_list" },
    { SLUICE__ENVELOPE__BODY_STOP_JOB, "stop_job" },
    { SLUICE__ENVELOPE__BODY_STOP_JOB_REPLY, "stop_job_reply" },
    { SLUICE__ENVELOPE__BODY_TICK, "tick" },
    { SLUICE__ENVELOPE__BODY_TICK_REPLY, "tick_reply" },
    { SLUICE__ENVELOPE__BODY_LIST_BATCHES, "list_batches" },
    { SLUICE__ENVELOPE__BODY_BATCH_LIST, "batch_list" },
    { SLUICE__ENVELOPE__BODY_LOCATE_STREAM, "locate_stream" },
    { SLUICE__ENVELOPE__BODY_STREAM_LOCATION, "stream_location" },
    { SLUICE__ENVELOPE__BODY_WATCH, "watch" },
    { SLUICE__ENVELOPE__BODY_WATCH_REPLY, "watch_reply" },
    { SLUICE__ENVELOPE__BODY_BATCH_OUTPUT, "batch_output" },
    { SLUICE__ENVELOPE__BODY_PUSH, "push" },
    { SLUICE__ENVELOPE__BODY_PUSH_ACK, "push_ack" },
    { SLUICE__ENVELOPE__BODY_REPLICATE_BLOCK, "replicate_block" },
    { SLUICE__ENVELOPE__BODY_REPLICATE_BLOCK_REPLY, "replicate_block_reply" },
    { SLUICE__ENVELOPE__BODY_FETCH_BLOCK, "fetch_block" },
    { SLUICE__ENVELOPE__BODY_FETCH_BLOCK_REPLY, "fetch_block_reply" },
    { SLUICE__ENVELOPE__BODY_DEPLOY_JOB, "deploy_job" },
    { SLUICE__ENVELOPE__BODY_DEPLOY_JOB_REPLY, "deploy_job_reply" },
    { SLUICE__ENVELOPE__BODY_START_RECEIVER, "start_receiver" },
    { SLUICE__ENVELOPE__BODY_START_RECEIVER_REPLY, "start_receiver_reply" },
    { SLUICE__ENVELOPE__BODY_CUT_BLOCKS, "cut_blocks" },
    { SLUICE__ENVELOPE__BODY_CUT_BLOCKS_REPLY, "cut_blocks_reply" },
    { SLUICE__ENVELOPE__BODY_LIST_REPLICAS, "list_replicas" },
    { SLUICE__ENVELOPE__BODY_LIST_REPLICAS_REPLY, "list_replicas_reply" },
    { SLUICE__ENVELOPE__BODY_DROP_JOB, "drop_job" },
    { SLUICE__ENVELOPE__BODY_DROP_BLOCKS, "drop_blocks" },
    { SLUICE__ENVELOPE__BODY_DROP_BATCH, "drop_batch" },
    { SLUICE__ENVELOPE__BODY_ACK, "ack" },
    { SLUICE__ENVELOPE__BODY_RUN_TASK, "run_task" },
    { SLUICE__ENVELOPE__BODY_TASK_RESULT, "task_result" },
    { SLUICE__ENVELOPE__BODY_FETCH_SHUFFLE, "fetch_shuffle" },
    { SLUICE__ENVELOPE__BODY_FETCH_SHUFFLE_REPLY, "fetch_shuffle_reply" },
};

const char *sl_msg_name(Sluice__Envelope__BodyCase c)
{
    for (size_t i = 0; i < sizeof sl_msg_table / sizeof *sl_msg_table; i++)
        if (sl_msg_table[i].body == c)
            return sl_msg_table[i].name;
    return "unknown";
}

const char *sl_role_name(Sluice__Role r)
{
    switch (r) {
    case SLUICE__ROLE__ROLE_MASTER: return "master";
    case SLUICE__ROLE__ROLE_WORKER: return "worker";
    case SLUICE__ROLE__ROLE_CLIENT: return "client";
    default: return "unknown";
    }
}

sl_status_t sl_msg_decode(const uint8_t *header, size_t len, sl_envelope_t **out, char *err)
{
    sl_envelope_t *env = sluice__envelope__unpack(NULL, len, header);
    if (!env) {
        if (err)
            snprintf(err, SL_ERRMSG_LEN, "header of %zu bytes is not a valid envelope", len);
        return SL_ERR_DECODE;
    }
    /* A reply may carry an error and no body; anything else needs a known body. */
    bool known = strcmp(sl_msg_name(env->body_case), "unknown") != 0;
    if (!known && !(env->is_reply && env->status != SL_OK)) {
        if (err)
            snprintf(err, SL_ERRMSG_LEN, "envelope carries no message type this daemon knows");
        sluice__envelope__free_unpacked(env, NULL);
        return SL_ERR_UNKNOWN_MESSAGE;
    }
    *out = env;
    return SL_OK;
}

void *sl_msg_clone(const void *msg)
{
    const ProtobufCMessage *m = msg;
    size_t n = protobuf_c_message_get_packed_size(m);
    uint8_t *tmp = malloc(n ? n : 1);
    if (!tmp)
        return NULL;
    protobuf_c_message_pack(m, tmp);
    ProtobufCMessage *copy = protobuf_c_message_unpack(m->descriptor, NULL, n, tmp);
    free(tmp);
    return copy;
}

void sl_msg_free(sl_envelope_t *env)
{
    if (env)
        sluice__envelope__free_unpacked(env, NULL);
}

sl_status_t sl_msg_encode(const sl_envelope_t *env, const void *payload, size_t payload_len,
                          size_t max_frame, uint8_t **out, size_t *out_len)
{
    size_t hlen = sluice__envelope__get_packed_size(env);
    uint8_t prefix[SL_FRAME_PREFIX_LEN];
    /* An all-default envelope packs to 0 bytes: that is not a message, and
     * sl_frame_prefix refuses it. */
    sl_status_t st = sl_frame_prefix(prefix, hlen, payload_len, max_frame);
    if (st != SL_OK)
        return st;
    size_t total = SL_FRAME_PREFIX_LEN + hlen + payload_len;
    uint8_t *buf = malloc(total);
    if (!buf)
        return SL_ERR_NOMEM;
    memcpy(buf, prefix, sizeof prefix);
    sluice__envelope__pack(env, buf + SL_FRAME_PREFIX_LEN);
    if (payload_len)
        memcpy(buf + SL_FRAME_PREFIX_LEN + hlen, payload, payload_len);
    *out = buf;
    *out_len = total;
    return SL_OK;
}
