/* Shared-secret authentication primitives: loading the secret file, random
 * nonces, and HMAC-SHA256 proofs (OpenSSL's libcrypto: crypto is not ours to
 * hand-roll). The handshake that uses them is in handshake.c. */
#ifndef SL_AUTH_H
#define SL_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "status.h"

#define SL_NONCE_LEN 16
#define SL_PROOF_LEN 32
#define SL_SECRET_MAX 4096

typedef struct sl_secret sl_secret_t;

/* Reads a secret from `path`: its bytes, with trailing whitespace cut. An
 * unreadable, empty or oversized file is an error naming the file, written to
 * `err` (SL_ERRMSG_LEN bytes, may be NULL). Caller
 * frees with sl_secret_free(). Logs a warning when the file is readable by
 * group or others. */
sl_status_t sl_secret_load(const char *path, sl_secret_t **out /* OUT */, char *err);
/* A secret from memory (tests). Copies `len` bytes. */
sl_secret_t *sl_secret_from_bytes(const void *bytes, size_t len);
/* Wipes and frees; accepts NULL. */
void sl_secret_free(sl_secret_t *s);

/* Fills `out` with cryptographically random bytes. */
sl_status_t sl_auth_nonce(uint8_t out[SL_NONCE_LEN]);

/* out = HMAC-SHA256(secret, label || client_nonce || server_nonce). The label
 * differs per direction so a proof cannot be reflected back. */
void sl_auth_proof(const sl_secret_t *secret, const char *label,
                   const uint8_t client_nonce[SL_NONCE_LEN],
                   const uint8_t server_nonce[SL_NONCE_LEN], uint8_t out[SL_PROOF_LEN]);

/* Constant-time check of a received proof of `len` bytes. */
bool sl_auth_verify(const sl_secret_t *secret, const char *label,
                    const uint8_t client_nonce[SL_NONCE_LEN],
                    const uint8_t server_nonce[SL_NONCE_LEN], const uint8_t *proof, size_t len);

#define SL_AUTH_LABEL_SERVER "sluice-server-v1"
#define SL_AUTH_LABEL_CLIENT "sluice-client-v1"

#endif
