/* Tests for common/auth.c: secret files (trimming, empty, missing, oversize),
 * HMAC-SHA256 proofs against a fixed vector, verification and nonces. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include "auth.h"
#include "log.h"
#include "unit.h"

/* The per-TCase temporary directory, made and removed in the runner process
 * by an unchecked fixture, so forked tests that fail leave nothing behind. */
static char sl_tmpdir[PATH_MAX - 64];   /* room left for a file name */

static void sl_tmpdir_setup(void)
{
    const char *base = getenv("TMPDIR");
    snprintf(sl_tmpdir, sizeof sl_tmpdir, "%s/sluice-unit-XXXXXX", base && *base ? base : "/tmp");
    ck_assert_msg(mkdtemp(sl_tmpdir) != NULL, "mkdtemp: %s", strerror(errno));
}

static void sl_tmpdir_teardown(void)
{
    DIR *d = opendir(sl_tmpdir);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                continue;
            unlinkat(dirfd(d), e->d_name, 0);
        }
        closedir(d);
    }
    rmdir(sl_tmpdir);
}

/* Writes `len` bytes to a new mode-0600 file in the temp dir; its name goes
 * to path (PATH_MAX bytes). */
static void sl_write_secret_file(const void *bytes, size_t len, char *path /* OUT */)
{
    snprintf(path, PATH_MAX, "%s/secret-XXXXXX", sl_tmpdir);
    int fd = mkstemp(path);
    ck_assert_msg(fd >= 0, "mkstemp: %s", strerror(errno));
    ck_assert_int_eq(write(fd, bytes, len), (ssize_t)len);
    ck_assert_int_eq(close(fd), 0);
}

static const uint8_t sl_cn[SL_NONCE_LEN] = { 0, 1, 2, 3, 4, 5, 6, 7,
                                             8, 9, 10, 11, 12, 13, 14, 15 };
static const uint8_t sl_sn[SL_NONCE_LEN] = { 16, 17, 18, 19, 20, 21, 22, 23,
                                             24, 25, 26, 27, 28, 29, 30, 31 };

/* True when two secrets give the same proof, i.e. hold the same bytes. */
static bool sl_same_secret(const sl_secret_t *a, const sl_secret_t *b)
{
    uint8_t pa[SL_PROOF_LEN], pb[SL_PROOF_LEN];
    sl_auth_proof(a, SL_AUTH_LABEL_CLIENT, sl_cn, sl_sn, pa);
    sl_auth_proof(b, SL_AUTH_LABEL_CLIENT, sl_cn, sl_sn, pb);
    return memcmp(pa, pb, sizeof pa) == 0;
}

/* Loads `content` from a file and checks it equals the secret `want`. */
static void sl_check_loads_as(const char *content, const char *want)
{
    char path[PATH_MAX], err[SL_ERRMSG_LEN] = "";
    sl_secret_t *s = NULL;
    sl_write_secret_file(content, strlen(content), path);
    sl_status_t st = sl_secret_load(path, &s, err);
    ck_assert_msg(st == SL_OK, "%s (%s)", sl_strerror(st), err);
    ck_assert_ptr_nonnull(s);
    sl_secret_t *expect = sl_secret_from_bytes(want, strlen(want));
    ck_assert_msg(sl_same_secret(s, expect), "file '%s' did not load as '%s'", content, want);
    sl_secret_free(expect);
    sl_secret_free(s);
}

/* --- secret files -------------------------------------------------------- */

START_TEST(test_secret_load_trims_trailing_whitespace)
{
    sl_check_loads_as("s3cret", "s3cret");
    sl_check_loads_as("s3cret\n", "s3cret");
    sl_check_loads_as("s3cret\r\n", "s3cret");
    sl_check_loads_as("s3cret \t\n\n", "s3cret");
    /* Only trailing whitespace goes: leading and inner bytes are the secret. */
    sl_check_loads_as(" s3 cret\n", " s3 cret");

    char path[PATH_MAX], err[SL_ERRMSG_LEN] = "";
    sl_secret_t *s = NULL, *plain = sl_secret_from_bytes("s3cret", 6);
    sl_write_secret_file(" s3cret", 7, path);
    ck_assert_int_eq(sl_secret_load(path, &s, err), SL_OK);
    ck_assert(!sl_same_secret(s, plain));
    sl_secret_free(s);
    sl_secret_free(plain);
}
END_TEST

START_TEST(test_secret_load_binary_bytes)
{
    static const uint8_t bin[] = { 0x00, 0xff, 0x10, 0x00, 0x7f };
    char path[PATH_MAX], err[SL_ERRMSG_LEN] = "";
    sl_secret_t *s = NULL;
    sl_write_secret_file(bin, sizeof bin, path);
    ck_assert_int_eq(sl_secret_load(path, &s, err), SL_OK);
    sl_secret_t *want = sl_secret_from_bytes(bin, sizeof bin);
    ck_assert(sl_same_secret(s, want));
    sl_secret_free(want);
    sl_secret_free(s);
}
END_TEST

START_TEST(test_secret_load_empty_file)
{
    static const char *const contents[] = { "", "\n", " \r\n\t\n" };
    for (size_t i = 0; i < sizeof contents / sizeof *contents; i++) {
        char path[PATH_MAX], err[SL_ERRMSG_LEN] = "";
        sl_secret_t *s = NULL;
        sl_write_secret_file(contents[i], strlen(contents[i]), path);
        ck_assert_int_eq(sl_secret_load(path, &s, err), SL_ERR_INVALID);
        ck_assert_ptr_null(s);
        SL_CK_CONTAINS(err, "is empty");
        SL_CK_CONTAINS(err, path);
    }
}
END_TEST

START_TEST(test_secret_load_missing_file)
{
    char path[PATH_MAX], err[SL_ERRMSG_LEN] = "";
    sl_secret_t *s = NULL;
    snprintf(path, sizeof path, "%s/no-such-secret", sl_tmpdir);
    ck_assert_int_eq(sl_secret_load(path, &s, err), SL_ERR_IO);
    ck_assert_ptr_null(s);
    SL_CK_CONTAINS(err, "cannot read secret file");
    SL_CK_CONTAINS(err, path);
    SL_CK_CONTAINS(err, strerror(ENOENT));
}
END_TEST

START_TEST(test_secret_load_directory)
{
    char err[SL_ERRMSG_LEN] = "";
    sl_secret_t *s = NULL;
    ck_assert_int_eq(sl_secret_load(sl_tmpdir, &s, err), SL_ERR_IO);
    ck_assert_ptr_null(s);
    SL_CK_CONTAINS(err, sl_tmpdir);
}
END_TEST

START_TEST(test_secret_load_size_limit)
{
    char *big = malloc(SL_SECRET_MAX + 100);
    ck_assert_ptr_nonnull(big);
    memset(big, 'k', SL_SECRET_MAX + 100);

    /* Exactly the limit loads. */
    char path[PATH_MAX], err[SL_ERRMSG_LEN] = "";
    sl_secret_t *s = NULL;
    sl_write_secret_file(big, SL_SECRET_MAX, path);
    ck_assert_int_eq(sl_secret_load(path, &s, err), SL_OK);
    sl_secret_t *want = sl_secret_from_bytes(big, SL_SECRET_MAX);
    ck_assert(sl_same_secret(s, want));
    sl_secret_free(want);
    sl_secret_free(s);

    /* One byte more, and much more, do not. */
    static const size_t over[] = { SL_SECRET_MAX + 1, SL_SECRET_MAX + 100 };
    for (size_t i = 0; i < 2; i++) {
        s = NULL;
        sl_write_secret_file(big, over[i], path);
        ck_assert_int_eq(sl_secret_load(path, &s, err), SL_ERR_INVALID);
        ck_assert_ptr_null(s);
        SL_CK_CONTAINS(err, "is larger than 4096 bytes");
        SL_CK_CONTAINS(err, path);
    }
    free(big);
}
END_TEST

START_TEST(test_secret_load_loose_mode_still_loads)
{
    /* A group/world-readable file only earns a warning (silenced here). */
    char path[PATH_MAX], err[SL_ERRMSG_LEN] = "";
    sl_secret_t *s = NULL;
    sl_write_secret_file("s3cret\n", 7, path);
    ck_assert_int_eq(chmod(path, 0644), 0);
    sl_log_set_level(SL_LOG_OFF);
    sl_status_t st = sl_secret_load(path, &s, err);
    sl_log_set_level(SL_LOG_INFO);
    ck_assert_int_eq(st, SL_OK);
    sl_secret_free(s);
    sl_secret_free(NULL);
}
END_TEST

/* --- proofs -------------------------------------------------------------- */

/* HMAC-SHA256(key "key", label || 00..0f || 10..1f), computed independently
 * (Python's hmac module): pins the proof layout that peers must agree on. */
static const uint8_t sl_vec_client[SL_PROOF_LEN] = {
    0x7c, 0x0e, 0x30, 0x8e, 0x08, 0xa8, 0xc9, 0xdc, 0x90, 0x91, 0xee, 0x07, 0xdb, 0x26, 0x0f, 0xd0,
    0x24, 0xb7, 0x6b, 0xe8, 0xb7, 0x2f, 0x1f, 0xba, 0x0b, 0x93, 0xb7, 0x5d, 0x2a, 0x1b, 0x6e, 0xe1,
};
static const uint8_t sl_vec_server[SL_PROOF_LEN] = {
    0xa9, 0x6a, 0x38, 0x25, 0xca, 0x32, 0x34, 0xc5, 0x35, 0x02, 0xf1, 0x0e, 0x18, 0x00, 0x9c, 0x46,
    0x28, 0x4b, 0xfe, 0x5f, 0x1c, 0x98, 0x80, 0x95, 0x69, 0x90, 0x90, 0x69, 0xbe, 0xc7, 0x15, 0xa5,
};

START_TEST(test_proof_known_vector)
{
    sl_secret_t *s = sl_secret_from_bytes("key", 3);
    uint8_t p[SL_PROOF_LEN];
    sl_auth_proof(s, SL_AUTH_LABEL_CLIENT, sl_cn, sl_sn, p);
    ck_assert_mem_eq(p, sl_vec_client, SL_PROOF_LEN);
    sl_auth_proof(s, SL_AUTH_LABEL_SERVER, sl_cn, sl_sn, p);
    ck_assert_mem_eq(p, sl_vec_server, SL_PROOF_LEN);
    sl_secret_free(s);
}
END_TEST

START_TEST(test_proof_deterministic_and_input_sensitive)
{
    sl_secret_t *s = sl_secret_from_bytes("s3cret", 6);
    sl_secret_t *s2 = sl_secret_from_bytes("s3cret", 6);
    sl_secret_t *other = sl_secret_from_bytes("s3creT", 6);
    uint8_t a[SL_PROOF_LEN], b[SL_PROOF_LEN];
    sl_auth_proof(s, SL_AUTH_LABEL_CLIENT, sl_cn, sl_sn, a);
    sl_auth_proof(s, SL_AUTH_LABEL_CLIENT, sl_cn, sl_sn, b);
    ck_assert_mem_eq(a, b, SL_PROOF_LEN);
    sl_auth_proof(s2, SL_AUTH_LABEL_CLIENT, sl_cn, sl_sn, b);
    ck_assert_mem_eq(a, b, SL_PROOF_LEN);

    sl_auth_proof(other, SL_AUTH_LABEL_CLIENT, sl_cn, sl_sn, b);
    ck_assert(memcmp(a, b, SL_PROOF_LEN) != 0);
    uint8_t n2[SL_NONCE_LEN];
    memcpy(n2, sl_cn, sizeof n2);
    n2[SL_NONCE_LEN - 1] ^= 1;
    sl_auth_proof(s, SL_AUTH_LABEL_CLIENT, n2, sl_sn, b);
    ck_assert(memcmp(a, b, SL_PROOF_LEN) != 0);
    sl_auth_proof(s, SL_AUTH_LABEL_CLIENT, sl_cn, n2, b);
    ck_assert(memcmp(a, b, SL_PROOF_LEN) != 0);
    /* The nonces are not interchangeable. */
    sl_auth_proof(s, SL_AUTH_LABEL_CLIENT, sl_sn, sl_cn, b);
    ck_assert(memcmp(a, b, SL_PROOF_LEN) != 0);
    sl_secret_free(s);
    sl_secret_free(s2);
    sl_secret_free(other);
}
END_TEST

START_TEST(test_labels_differ_per_direction)
{
    sl_secret_t *s = sl_secret_from_bytes("s3cret", 6);
    uint8_t c[SL_PROOF_LEN], sv[SL_PROOF_LEN];
    ck_assert_str_ne(SL_AUTH_LABEL_CLIENT, SL_AUTH_LABEL_SERVER);
    sl_auth_proof(s, SL_AUTH_LABEL_CLIENT, sl_cn, sl_sn, c);
    sl_auth_proof(s, SL_AUTH_LABEL_SERVER, sl_cn, sl_sn, sv);
    ck_assert(memcmp(c, sv, SL_PROOF_LEN) != 0);
    /* A server proof reflected back does not pass as a client proof. */
    ck_assert(!sl_auth_verify(s, SL_AUTH_LABEL_CLIENT, sl_cn, sl_sn, sv, SL_PROOF_LEN));
    ck_assert(!sl_auth_verify(s, SL_AUTH_LABEL_SERVER, sl_cn, sl_sn, c, SL_PROOF_LEN));
    sl_secret_free(s);
}
END_TEST

START_TEST(test_verify)
{
    sl_secret_t *s = sl_secret_from_bytes("s3cret", 6);
    sl_secret_t *wrong = sl_secret_from_bytes("guess", 5);
    uint8_t p[SL_PROOF_LEN + 1];
    sl_auth_proof(s, SL_AUTH_LABEL_CLIENT, sl_cn, sl_sn, p);
    p[SL_PROOF_LEN] = 0;
    ck_assert(sl_auth_verify(s, SL_AUTH_LABEL_CLIENT, sl_cn, sl_sn, p, SL_PROOF_LEN));
    ck_assert(!sl_auth_verify(wrong, SL_AUTH_LABEL_CLIENT, sl_cn, sl_sn, p, SL_PROOF_LEN));
    ck_assert(!sl_auth_verify(s, SL_AUTH_LABEL_CLIENT, sl_sn, sl_cn, p, SL_PROOF_LEN));

    /* Wrong lengths: a prefix of the right proof, one byte more, nothing. */
    ck_assert(!sl_auth_verify(s, SL_AUTH_LABEL_CLIENT, sl_cn, sl_sn, p, SL_PROOF_LEN - 1));
    ck_assert(!sl_auth_verify(s, SL_AUTH_LABEL_CLIENT, sl_cn, sl_sn, p, SL_PROOF_LEN + 1));
    ck_assert(!sl_auth_verify(s, SL_AUTH_LABEL_CLIENT, sl_cn, sl_sn, p, 0));
    ck_assert(!sl_auth_verify(s, SL_AUTH_LABEL_CLIENT, sl_cn, sl_sn, NULL, 0));

    /* Any single flipped bit, first byte to last. */
    for (size_t i = 0; i < SL_PROOF_LEN; i++) {
        for (unsigned bit = 0; bit < 8; bit++) {
            p[i] ^= (uint8_t)(1u << bit);
            ck_assert_msg(!sl_auth_verify(s, SL_AUTH_LABEL_CLIENT, sl_cn, sl_sn, p, SL_PROOF_LEN),
                          "byte %zu bit %u flipped still verifies", i, bit);
            p[i] ^= (uint8_t)(1u << bit);
        }
    }
    ck_assert(sl_auth_verify(s, SL_AUTH_LABEL_CLIENT, sl_cn, sl_sn, p, SL_PROOF_LEN));
    sl_secret_free(s);
    sl_secret_free(wrong);
}
END_TEST

/* --- nonces -------------------------------------------------------------- */

START_TEST(test_nonces_differ)
{
    enum { N = 64 };
    static const uint8_t zero[SL_NONCE_LEN];
    uint8_t n[N][SL_NONCE_LEN];
    for (size_t i = 0; i < N; i++) {
        ck_assert_int_eq(sl_auth_nonce(n[i]), SL_OK);
        ck_assert(memcmp(n[i], zero, SL_NONCE_LEN) != 0);
    }
    for (size_t i = 0; i < N; i++)
        for (size_t j = i + 1; j < N; j++)
            ck_assert_msg(memcmp(n[i], n[j], SL_NONCE_LEN) != 0, "nonces %zu and %zu equal", i, j);
}
END_TEST

Suite *sl_test_auth_suite(void)
{
    Suite *s = suite_create("auth");
    TCase *tc = tcase_create("secret_file");
    tcase_add_unchecked_fixture(tc, sl_tmpdir_setup, sl_tmpdir_teardown);
    tcase_add_test(tc, test_secret_load_trims_trailing_whitespace);
    tcase_add_test(tc, test_secret_load_binary_bytes);
    tcase_add_test(tc, test_secret_load_empty_file);
    tcase_add_test(tc, test_secret_load_missing_file);
    tcase_add_test(tc, test_secret_load_directory);
    tcase_add_test(tc, test_secret_load_size_limit);
    tcase_add_test(tc, test_secret_load_loose_mode_still_loads);
    suite_add_tcase(s, tc);

    tc = tcase_create("proof");
    tcase_add_test(tc, test_proof_known_vector);
    tcase_add_test(tc, test_proof_deterministic_and_input_sensitive);
    tcase_add_test(tc, test_labels_differ_per_direction);
    tcase_add_test(tc, test_verify);
    tcase_add_test(tc, test_nonces_differ);
    suite_add_tcase(s, tc);
    return s;
}
