/* The envelope codec: protobuf-c Envelope <-> header bytes of a frame, and the
 * protocol version. Every message type is one case of Envelope.body; a frame
 * whose body is not a case this build knows is SL_ERR_UNKNOWN_MESSAGE. */
#ifndef SL_MSG_H
#define SL_MSG_H

#include <stddef.h>
#include <stdint.h>
#include "sluice.pb-c.h"
#include "status.h"

#define SL_PROTOCOL_VERSION 1

typedef Sluice__Envelope sl_envelope_t;

/* Unpacks `len` header bytes. On SL_OK the caller frees *out with
 * sl_msg_free(). SL_ERR_DECODE for bytes that are not an Envelope,
 * SL_ERR_UNKNOWN_MESSAGE for an Envelope with no body this build knows. */
sl_status_t sl_msg_decode(const uint8_t *header, size_t len, sl_envelope_t **out /* OUT */,
                          char *err);
void sl_msg_free(sl_envelope_t *env);

/* Encodes env (borrowed) and payload into one malloc'ed frame; the caller
 * frees *out with free(). */
sl_status_t sl_msg_encode(const sl_envelope_t *env, const void *payload, size_t payload_len,
                          size_t max_frame, uint8_t **out /* OUT */, size_t *out_len /* OUT */);

/* A deep copy of any protobuf-c message (Envelope, JobSpec, BlockInfo, ...),
 * made by packing and unpacking it, so the copy owns all its memory: free it
 * with the type's free_unpacked (or protobuf_c_message_free_unpacked). NULL
 * when out of memory. */
void *sl_msg_clone(const void *msg);

/* Name of a body case for logs ("register_worker"); "unknown" otherwise. */
const char *sl_msg_name(Sluice__Envelope__BodyCase c);

/* Name of a role ("master", "worker", "client"). */
const char *sl_role_name(Sluice__Role r);

#endif
