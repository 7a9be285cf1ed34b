/* Tests for common/frame.c: prefix validation (short, oversize and every
 * malformed length), splitting into header and payload, and prefix writing. */
#include <stdint.h>
#include <stdlib.h>
#include "frame.h"
#include "unit.h"

#define SL_NO_LEN ((size_t)0xdeadbeef)

static void sl_put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* Returns a malloc'ed buffer of exactly 8 bytes holding the prefix, so that
 * valgrind or ASan catch any read past it. */
static uint8_t *sl_prefix_only(uint32_t total, uint32_t hlen)
{
    uint8_t *p = malloc(SL_FRAME_PREFIX_LEN);
    ck_assert_ptr_nonnull(p);
    sl_put32(p, total);
    sl_put32(p + 4, hlen);
    return p;
}

/* Peeks an 8-byte prefix against `max`; returns the status, fills *len. */
static sl_status_t sl_peek_prefix(uint32_t total, uint32_t hlen, size_t max, size_t *len,
                                  char *err)
{
    uint8_t *p = sl_prefix_only(total, hlen);
    sl_status_t st = sl_frame_peek(p, SL_FRAME_PREFIX_LEN, max, len, err);
    free(p);
    return st;
}

/* --- sl_frame_peek ------------------------------------------------------- */

START_TEST(test_peek_short_is_again)
{
    uint8_t buf[SL_FRAME_PREFIX_LEN];
    sl_put32(buf, 5);
    sl_put32(buf + 4, 1);
    for (size_t n = 0; n < SL_FRAME_PREFIX_LEN; n++) {
        size_t len = SL_NO_LEN;
        ck_assert_int_eq(sl_frame_peek(buf, n, SL_FRAME_MAX_DEFAULT, &len, NULL), SL_AGAIN);
        ck_assert_uint_eq(len, SL_NO_LEN);
    }
    size_t len = SL_NO_LEN;
    ck_assert_int_eq(sl_frame_peek(buf, SL_FRAME_PREFIX_LEN, SL_FRAME_MAX_DEFAULT, &len, NULL),
                     SL_OK);
    ck_assert_uint_eq(len, 9);
}
END_TEST

START_TEST(test_peek_huge_length_refused_from_prefix)
{
    /* 2^32-1 declared: refused on the 8 bytes alone, nothing more is read. */
    size_t len = SL_NO_LEN;
    char err[SL_ERRMSG_LEN] = "";
    ck_assert_int_eq(sl_peek_prefix(UINT32_MAX, 1, SL_FRAME_MAX_DEFAULT, &len, err),
                     SL_ERR_FRAME_TOO_LARGE);
    ck_assert_uint_eq(len, SL_NO_LEN);
    SL_CK_CONTAINS(err, "frame of 4294967299 bytes exceeds the limit of 67108864 bytes");
    /* Also with a header length that is itself absurd. */
    ck_assert_int_eq(sl_peek_prefix(UINT32_MAX, UINT32_MAX, SL_FRAME_MAX_DEFAULT, &len, NULL),
                     SL_ERR_FRAME_TOO_LARGE);
    /* Size is checked before shape: an oversize frame with a 0 header is too large. */
    ck_assert_int_eq(sl_peek_prefix(UINT32_MAX, 0, SL_FRAME_MAX_DEFAULT, &len, NULL),
                     SL_ERR_FRAME_TOO_LARGE);
    /* Even an unlimited peer cannot overflow: 2^32-1 + 4 fits in size_t. */
    ck_assert_int_eq(sl_peek_prefix(UINT32_MAX, 1, SIZE_MAX, &len, NULL), SL_OK);
    ck_assert_uint_eq(len, (size_t)UINT32_MAX + 4);
}
END_TEST

START_TEST(test_peek_total_below_four)
{
    for (uint32_t total = 0; total < 4; total++) {
        size_t len = SL_NO_LEN;
        char err[SL_ERRMSG_LEN] = "";
        ck_assert_int_eq(sl_peek_prefix(total, 1, SL_FRAME_MAX_DEFAULT, &len, err),
                         SL_ERR_FRAME_MALFORMED);
        ck_assert_uint_eq(len, SL_NO_LEN);
        SL_CK_CONTAINS(err, "bad frame lengths");
        ck_assert_int_eq(sl_peek_prefix(total, 0, SL_FRAME_MAX_DEFAULT, &len, NULL),
                         SL_ERR_FRAME_MALFORMED);
    }
}
END_TEST

START_TEST(test_peek_zero_header)
{
    size_t len = SL_NO_LEN;
    char err[SL_ERRMSG_LEN] = "";
    ck_assert_int_eq(sl_peek_prefix(10, 0, SL_FRAME_MAX_DEFAULT, &len, err),
                     SL_ERR_FRAME_MALFORMED);
    SL_CK_CONTAINS(err, "total 10, header 0");
    ck_assert_int_eq(sl_peek_prefix(4, 0, SL_FRAME_MAX_DEFAULT, &len, NULL),
                     SL_ERR_FRAME_MALFORMED);
    ck_assert_uint_eq(len, SL_NO_LEN);
}
END_TEST

START_TEST(test_peek_header_longer_than_frame)
{
    size_t len = SL_NO_LEN;
    char err[SL_ERRMSG_LEN] = "";
    ck_assert_int_eq(sl_peek_prefix(10, 7, SL_FRAME_MAX_DEFAULT, &len, err),
                     SL_ERR_FRAME_MALFORMED);
    SL_CK_CONTAINS(err, "total 10, header 7");
    ck_assert_int_eq(sl_peek_prefix(4, 1, SL_FRAME_MAX_DEFAULT, &len, NULL),
                     SL_ERR_FRAME_MALFORMED);
    ck_assert_int_eq(sl_peek_prefix(100, UINT32_MAX, SL_FRAME_MAX_DEFAULT, &len, NULL),
                     SL_ERR_FRAME_MALFORMED);
    ck_assert_uint_eq(len, SL_NO_LEN);
    /* header == total - 4: a frame with no payload. */
    ck_assert_int_eq(sl_peek_prefix(10, 6, SL_FRAME_MAX_DEFAULT, &len, NULL), SL_OK);
    ck_assert_uint_eq(len, 14);
}
END_TEST

START_TEST(test_peek_max_size_boundary)
{
    size_t len = SL_NO_LEN;
    /* The limit counts the whole frame, prefix included. */
    ck_assert_int_eq(sl_peek_prefix(1020, 1, 1024, &len, NULL), SL_OK);
    ck_assert_uint_eq(len, 1024);
    len = SL_NO_LEN;
    ck_assert_int_eq(sl_peek_prefix(1021, 1, 1024, &len, NULL), SL_ERR_FRAME_TOO_LARGE);
    ck_assert_uint_eq(len, SL_NO_LEN);

    uint32_t max_total = (uint32_t)(SL_FRAME_MAX_DEFAULT - 4);
    ck_assert_int_eq(sl_peek_prefix(max_total, 1, SL_FRAME_MAX_DEFAULT, &len, NULL), SL_OK);
    ck_assert_uint_eq(len, SL_FRAME_MAX_DEFAULT);
    ck_assert_int_eq(sl_peek_prefix(max_total + 1, 1, SL_FRAME_MAX_DEFAULT, &len, NULL),
                     SL_ERR_FRAME_TOO_LARGE);
}
END_TEST

START_TEST(test_peek_reports_whole_frame_length)
{
    /* A valid prefix with only part of the body present: SL_OK and a length
     * larger than what is buffered, i.e. "read more". */
    uint8_t buf[12];
    sl_put32(buf, 100);
    sl_put32(buf + 4, 10);
    memset(buf + 8, 0xab, 4);
    size_t len = SL_NO_LEN;
    ck_assert_int_eq(sl_frame_peek(buf, sizeof buf, SL_FRAME_MAX_DEFAULT, &len, NULL), SL_OK);
    ck_assert_uint_eq(len, 104);
    ck_assert_uint_gt(len, sizeof buf);
}
END_TEST

/* --- sl_frame_split ------------------------------------------------------ */

START_TEST(test_split_with_payload)
{
    uint8_t frame[8 + 3 + 7];
    sl_put32(frame, 4 + 3 + 7);
    sl_put32(frame + 4, 3);
    memcpy(frame + 8, "HDR", 3);
    memcpy(frame + 11, "payload", 7);
    sl_frame_view_t v;
    ck_assert_int_eq(sl_frame_split(frame, sizeof frame, &v), SL_OK);
    ck_assert_ptr_eq(v.header, frame + 8);
    ck_assert_uint_eq(v.header_len, 3);
    ck_assert_ptr_eq(v.payload, frame + 11);
    ck_assert_uint_eq(v.payload_len, 7);
    ck_assert_mem_eq(v.payload, "payload", 7);
}
END_TEST

START_TEST(test_split_without_payload)
{
    uint8_t frame[8 + 5];
    sl_put32(frame, 4 + 5);
    sl_put32(frame + 4, 5);
    memcpy(frame + 8, "HEADR", 5);
    sl_frame_view_t v;
    ck_assert_int_eq(sl_frame_split(frame, sizeof frame, &v), SL_OK);
    ck_assert_ptr_eq(v.header, frame + 8);
    ck_assert_uint_eq(v.header_len, 5);
    ck_assert_ptr_null(v.payload);
    ck_assert_uint_eq(v.payload_len, 0);
}
END_TEST

START_TEST(test_split_malformed)
{
    uint8_t frame[16];
    sl_frame_view_t v;
    sl_put32(frame, 4 + 3 + 5);
    sl_put32(frame + 4, 3);
    memset(frame + 8, 'x', 8);
    /* Shorter than declared (truncated) and longer (trailing bytes). */
    ck_assert_int_eq(sl_frame_split(frame, 15, &v), SL_ERR_FRAME_MALFORMED);
    sl_put32(frame, 4 + 3 + 4);
    ck_assert_int_eq(sl_frame_split(frame, 16, &v), SL_ERR_FRAME_MALFORMED);
    /* Less than a prefix. */
    for (size_t n = 0; n < SL_FRAME_PREFIX_LEN; n++)
        ck_assert_int_eq(sl_frame_split(frame, n, &v), SL_ERR_FRAME_MALFORMED);
    /* Bad lengths inside. */
    sl_put32(frame, 12);
    sl_put32(frame + 4, 0);
    ck_assert_int_eq(sl_frame_split(frame, 16, &v), SL_ERR_FRAME_MALFORMED);
    sl_put32(frame + 4, 9);
    ck_assert_int_eq(sl_frame_split(frame, 16, &v), SL_ERR_FRAME_MALFORMED);
    sl_put32(frame, 3);
    sl_put32(frame + 4, 1);
    ck_assert_int_eq(sl_frame_split(frame, 8, &v), SL_ERR_FRAME_MALFORMED);
}
END_TEST

/* --- sl_frame_prefix ----------------------------------------------------- */

START_TEST(test_prefix_layout_and_round_trip)
{
    uint8_t p[SL_FRAME_PREFIX_LEN];
    static const uint8_t want[SL_FRAME_PREFIX_LEN] = { 0, 0, 0, 14, 0, 0, 0, 3 };
    ck_assert_int_eq(sl_frame_prefix(p, 3, 7, SL_FRAME_MAX_DEFAULT), SL_OK);
    ck_assert_mem_eq(p, want, sizeof want);
    size_t len = SL_NO_LEN;
    ck_assert_int_eq(sl_frame_peek(p, sizeof p, SL_FRAME_MAX_DEFAULT, &len, NULL), SL_OK);
    ck_assert_uint_eq(len, 8 + 3 + 7);

    static const uint8_t want_big[SL_FRAME_PREFIX_LEN] = { 0x00, 0x01, 0x00, 0x04,
                                                           0x00, 0x00, 0x01, 0x00 };
    ck_assert_int_eq(sl_frame_prefix(p, 256, 65280, SL_FRAME_MAX_DEFAULT), SL_OK);
    ck_assert_mem_eq(p, want_big, sizeof want_big);
}
END_TEST

START_TEST(test_prefix_refuses_zero_header)
{
    uint8_t p[SL_FRAME_PREFIX_LEN];
    memset(p, 0x5a, sizeof p);
    ck_assert_int_eq(sl_frame_prefix(p, 0, 0, SL_FRAME_MAX_DEFAULT), SL_ERR_INVALID);
    ck_assert_int_eq(sl_frame_prefix(p, 0, 10, SL_FRAME_MAX_DEFAULT), SL_ERR_INVALID);
    for (size_t i = 0; i < sizeof p; i++)
        ck_assert_uint_eq(p[i], 0x5a);
}
END_TEST

START_TEST(test_prefix_refuses_oversize)
{
    uint8_t p[SL_FRAME_PREFIX_LEN];
    /* Exactly the limit (prefix included) is fine, one more byte is not. */
    ck_assert_int_eq(sl_frame_prefix(p, 2, 90, 100), SL_OK);
    ck_assert_int_eq(sl_frame_prefix(p, 2, 91, 100), SL_ERR_FRAME_TOO_LARGE);
    ck_assert_int_eq(sl_frame_prefix(p, 93, 0, 100), SL_ERR_FRAME_TOO_LARGE);
    ck_assert_int_eq(sl_frame_prefix(p, 1, SL_FRAME_MAX_DEFAULT - 9, SL_FRAME_MAX_DEFAULT), SL_OK);
    ck_assert_int_eq(sl_frame_prefix(p, 1, SL_FRAME_MAX_DEFAULT - 8, SL_FRAME_MAX_DEFAULT),
                     SL_ERR_FRAME_TOO_LARGE);
    /* Sums that would wrap around size_t are refused, not wrapped. */
    ck_assert_int_eq(sl_frame_prefix(p, 1, SIZE_MAX, SL_FRAME_MAX_DEFAULT),
                     SL_ERR_FRAME_TOO_LARGE);
    ck_assert_int_eq(sl_frame_prefix(p, SIZE_MAX, 1, SL_FRAME_MAX_DEFAULT),
                     SL_ERR_FRAME_TOO_LARGE);
    ck_assert_int_eq(sl_frame_prefix(p, SIZE_MAX / 2, SIZE_MAX / 2, SL_FRAME_MAX_DEFAULT),
                     SL_ERR_FRAME_TOO_LARGE);
}
END_TEST

/* Regressions: sl_frame_prefix writes the 32-bit total without checking that
 * it fits (a limit above 4 GiB lets it wrap), and computes max_frame - 8
 * without checking max_frame >= 8. */
START_TEST(test_prefix_total_must_fit_32_bits)
{
    uint8_t p[SL_FRAME_PREFIX_LEN];
    ck_assert_int_eq(sl_frame_prefix(p, 1, (size_t)UINT32_MAX, SIZE_MAX),
                     SL_ERR_FRAME_TOO_LARGE);
}
END_TEST

START_TEST(test_prefix_tiny_limit)
{
    uint8_t p[SL_FRAME_PREFIX_LEN];
    ck_assert_int_eq(sl_frame_prefix(p, 1, 0, 4), SL_ERR_FRAME_TOO_LARGE);
}
END_TEST

Suite *sl_test_frame_suite(void)
{
    Suite *s = suite_create("frame");
    TCase *tc = tcase_create("peek");
    tcase_add_test(tc, test_peek_short_is_again);
    tcase_add_test(tc, test_peek_huge_length_refused_from_prefix);
    tcase_add_test(tc, test_peek_total_below_four);
    tcase_add_test(tc, test_peek_zero_header);
    tcase_add_test(tc, test_peek_header_longer_than_frame);
    tcase_add_test(tc, test_peek_max_size_boundary);
    tcase_add_test(tc, test_peek_reports_whole_frame_length);
    suite_add_tcase(s, tc);

    tc = tcase_create("split");
    tcase_add_test(tc, test_split_with_payload);
    tcase_add_test(tc, test_split_without_payload);
    tcase_add_test(tc, test_split_malformed);
    suite_add_tcase(s, tc);

    tc = tcase_create("prefix");
    tcase_add_test(tc, test_prefix_layout_and_round_trip);
    tcase_add_test(tc, test_prefix_refuses_zero_header);
    tcase_add_test(tc, test_prefix_refuses_oversize);
    tcase_add_test(tc, test_prefix_total_must_fit_32_bits);
    tcase_add_test(tc, test_prefix_tiny_limit);
    suite_add_tcase(s, tc);
    return s;
}
