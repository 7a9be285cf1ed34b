/* Secrets and HMAC proofs for the handshake. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include "auth.h"
#include "log.h"

#define SL_AUTH_ERR(err, ...) do { if (err) snprintf(err, SL_ERRMSG_LEN, __VA_ARGS__); } while (0)

struct sl_secret {
    size_t len;
    uint8_t bytes[];
};

sl_secret_t *sl_secret_from_bytes(const void *bytes, size_t len)
{
    sl_secret_t *s = malloc(sizeof *s + len);
    if (!s)
        return NULL;
    s->len = len;
    memcpy(s->bytes, bytes, len);
    return s;
}

void sl_secret_free(sl_secret_t *s)
{
    if (!s)
        return;
    OPENSSL_cleanse(s->bytes, s->len);
    free(s);
}

sl_status_t sl_secret_load(const char *path, sl_secret_t **out, char *err)
{
    uint8_t buf[SL_SECRET_MAX + 1];
    sl_status_t st = SL_ERR_IO;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        SL_AUTH_ERR(err, "cannot read secret file '%s': %s", path, strerror(errno));
        return SL_ERR_IO;
    }
    struct stat sb;
    if (fstat(fd, &sb) == 0 && (sb.st_mode & 077))
        sl_warn("auth", "secret file '%s' is readable by group or others (mode %03o)", path,
                (unsigned)(sb.st_mode & 0777));
    size_t len = 0;
    for (;;) {
        ssize_t r = read(fd, buf + len, sizeof buf - len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            SL_AUTH_ERR(err, "cannot read secret file '%s': %s", path, strerror(errno));
            goto close_fd;
        }
        if (r == 0)
            break;
        len += (size_t)r;
        if (len > SL_SECRET_MAX) {
            SL_AUTH_ERR(err, "secret file '%s' is larger than %d bytes", path,
                     SL_SECRET_MAX);
            st = SL_ERR_INVALID;
            goto close_fd;
        }
    }
    while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r' || buf[len - 1] == ' ' ||
                       buf[len - 1] == '\t'))
        len--;
    if (len == 0) {
        SL_AUTH_ERR(err, "secret file '%s' is empty", path);
        st = SL_ERR_INVALID;
        goto close_fd;
    }
    *out = sl_secret_from_bytes(buf, len);
    st = *out ? SL_OK : SL_ERR_NOMEM;
close_fd:
    OPENSSL_cleanse(buf, sizeof buf);
    close(fd);
    return st;
}

sl_status_t sl_auth_nonce(uint8_t out[SL_NONCE_LEN])
{
    size_t got = 0;
    while (got < SL_NONCE_LEN) {
        ssize_t r = getrandom(out + got, SL_NONCE_LEN - got, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return SL_ERR_IO;
        got += (size_t)r;
    }
    return SL_OK;
}

void sl_auth_proof(const sl_secret_t *secret, const char *label,
                   const uint8_t client_nonce[SL_NONCE_LEN],
                   const uint8_t server_nonce[SL_NONCE_LEN], uint8_t out[SL_PROOF_LEN])
{
    uint8_t msg[64 + 2 * SL_NONCE_LEN];
    size_t llen = strlen(label);
    SL_CHECK(llen <= 64);
    memcpy(msg, label, llen);
    memcpy(msg + llen, client_nonce, SL_NONCE_LEN);
    memcpy(msg + llen + SL_NONCE_LEN, server_nonce, SL_NONCE_LEN);
    unsigned int olen = SL_PROOF_LEN;
    SL_CHECK(HMAC(EVP_sha256(), secret->bytes, (int)secret->len, msg, llen + 2 * SL_NONCE_LEN,
                  out, &olen) != NULL);
    SL_CHECK(olen == SL_PROOF_LEN);
}

bool sl_auth_verify(const sl_secret_t *secret, const char *label,
                    const uint8_t client_nonce[SL_NONCE_LEN],
                    const uint8_t server_nonce[SL_NONCE_LEN], const uint8_t *proof, size_t len)
{
    if (len != SL_PROOF_LEN)
        return false;
    uint8_t want[SL_PROOF_LEN];
    sl_auth_proof(secret, label, client_nonce, server_nonce, want);
    return CRYPTO_memcmp(want, proof, SL_PROOF_LEN) == 0;
}
