/* Tests for common/buf.c: growth by doubling, the fixed-width, varint and
 * printf appenders, reset/free/take ownership, and varint decoding edges. */
#include <stdint.h>
#include <stdlib.h>
#include "buf.h"
#include "unit.h"

/* Encodes v alone and checks the bytes and that it reads back. */
static void sl_check_varint(uint64_t v, const uint8_t *want, size_t want_len)
{
    sl_buf_t b = {0};
    ck_assert_int_eq(sl_buf_append_varint(&b, v), SL_OK);
    ck_assert_uint_eq(b.len, want_len);
    ck_assert_mem_eq(b.p, want, want_len);
    const uint8_t *p = b.p;
    uint64_t got = 0;
    ck_assert(sl_varint_read(&p, b.p + b.len, &got));
    ck_assert(got == v);
    ck_assert_ptr_eq(p, b.p + b.len);
    sl_buf_free(&b);
}

START_TEST(test_append_grows_by_doubling)
{
    sl_buf_t b = {0};
    for (size_t i = 0; i < 10000; i++) {
        uint8_t c = (uint8_t)(i * 7);
        ck_assert_int_eq(sl_buf_append(&b, &c, 1), SL_OK);
        ck_assert_uint_ge(b.cap, b.len);
        /* 64 doubled some number of times */
        ck_assert_uint_eq(b.cap % 64, 0);
        ck_assert_uint_eq((b.cap / 64) & (b.cap / 64 - 1), 0);
    }
    ck_assert_uint_eq(b.len, 10000);
    for (size_t i = 0; i < 10000; i++)
        ck_assert_uint_eq(b.p[i], (uint8_t)(i * 7));
    sl_buf_free(&b);
}
END_TEST

START_TEST(test_append_big_and_empty)
{
    sl_buf_t b = {0};
    ck_assert_int_eq(sl_buf_append(&b, NULL, 0), SL_OK);
    ck_assert_ptr_null(b.p);
    char big[1000];
    memset(big, 'x', sizeof big);
    ck_assert_int_eq(sl_buf_append(&b, big, sizeof big), SL_OK);
    ck_assert_uint_eq(b.len, 1000);
    ck_assert_uint_eq(b.cap, 1024);
    ck_assert_int_eq(sl_buf_reserve(&b, 24), SL_OK);
    ck_assert_uint_eq(b.cap, 1024);
    ck_assert_int_eq(sl_buf_reserve(&b, 25), SL_OK);
    ck_assert_uint_eq(b.cap, 2048);
    ck_assert_int_eq(sl_buf_reserve(&b, SIZE_MAX), SL_ERR_NOMEM);
    ck_assert_uint_eq(b.len, 1000);
    sl_buf_free(&b);
}
END_TEST

START_TEST(test_fixed_width_le)
{
    sl_buf_t b = {0};
    ck_assert_int_eq(sl_buf_append_u8(&b, 0xab), SL_OK);
    ck_assert_int_eq(sl_buf_append_u32le(&b, 0x01020304u), SL_OK);
    ck_assert_int_eq(sl_buf_append_u64le(&b, 0x1122334455667788ull), SL_OK);
    const uint8_t want[] = {0xab, 4, 3, 2, 1, 0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11};
    ck_assert_uint_eq(b.len, sizeof want);
    ck_assert_mem_eq(b.p, want, sizeof want);
    sl_buf_free(&b);
}
END_TEST

START_TEST(test_varint_edges)
{
    sl_check_varint(0, (const uint8_t[]){0x00}, 1);
    sl_check_varint(1, (const uint8_t[]){0x01}, 1);
    sl_check_varint(127, (const uint8_t[]){0x7f}, 1);
    sl_check_varint(128, (const uint8_t[]){0x80, 0x01}, 2);
    sl_check_varint(300, (const uint8_t[]){0xac, 0x02}, 2);
    sl_check_varint(16383, (const uint8_t[]){0xff, 0x7f}, 2);
    sl_check_varint(16384, (const uint8_t[]){0x80, 0x80, 0x01}, 3);
    sl_check_varint(UINT64_MAX,
                    (const uint8_t[]){0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01},
                    10);
    sl_check_varint((uint64_t)1 << 63,
                    (const uint8_t[]){0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01},
                    10);
}
END_TEST

START_TEST(test_varint_round_trip_powers)
{
    sl_buf_t b = {0};
    for (int s = 0; s < 64; s++) {
        uint64_t v = (uint64_t)1 << s;
        ck_assert_int_eq(sl_buf_append_varint(&b, v - 1), SL_OK);
        ck_assert_int_eq(sl_buf_append_varint(&b, v), SL_OK);
        ck_assert_int_eq(sl_buf_append_varint(&b, v + 1), SL_OK);
    }
    const uint8_t *p = b.p, *end = b.p + b.len;
    for (int s = 0; s < 64; s++) {
        uint64_t v = (uint64_t)1 << s, got;
        ck_assert(sl_varint_read(&p, end, &got) && got == v - 1);
        ck_assert(sl_varint_read(&p, end, &got) && got == v);
        ck_assert(sl_varint_read(&p, end, &got) && got == v + 1);
    }
    ck_assert_ptr_eq(p, end);
    sl_buf_free(&b);
}
END_TEST

START_TEST(test_varint_truncated)
{
    sl_buf_t b = {0};
    ck_assert_int_eq(sl_buf_append_varint(&b, UINT64_MAX), SL_OK);
    for (size_t n = 0; n < b.len; n++) {
        /* An exact-size copy, so that a read past n shows under ASan/valgrind. */
        uint8_t *copy = malloc(n ? n : 1);
        memcpy(copy, b.p, n);
        const uint8_t *p = copy;
        uint64_t got = 42;
        ck_assert(!sl_varint_read(&p, copy + n, &got));
        ck_assert_ptr_eq(p, copy);
        ck_assert(got == 42);
        free(copy);
    }
    sl_buf_free(&b);
}
END_TEST

START_TEST(test_varint_overlong)
{
    /* 11 bytes: ten continuation bytes are already one too many. */
    const uint8_t eleven[11] = {0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00};
    const uint8_t *p = eleven;
    uint64_t got;
    ck_assert(!sl_varint_read(&p, eleven + sizeof eleven, &got));
    ck_assert_ptr_eq(p, eleven);
    /* 10 bytes whose last carries more than bit 63. */
    const uint8_t over[10] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02};
    p = over;
    ck_assert(!sl_varint_read(&p, over + sizeof over, &got));
    /* A redundant zero group inside 10 bytes still reads (not canonical, but
     * in range). */
    const uint8_t padded[2] = {0x81, 0x00};
    p = padded;
    ck_assert(sl_varint_read(&p, padded + 2, &got));
    ck_assert(got == 1);
}
END_TEST

START_TEST(test_printf)
{
    sl_buf_t b = {0};
    ck_assert_int_eq(sl_buf_printf(&b, "%d-%s", 42, "x"), SL_OK);
    ck_assert_uint_eq(b.len, 4);
    ck_assert_mem_eq(b.p, "42-x", 5);    /* NUL written past len */
    /* Longer than what is left: the retry path. */
    char want[301];
    memset(want, 'y', 300);
    want[300] = '\0';
    ck_assert_int_eq(sl_buf_printf(&b, "%s", want), SL_OK);
    ck_assert_uint_eq(b.len, 304);
    ck_assert_mem_eq(b.p + 4, want, 301);
    ck_assert_int_eq(sl_buf_printf(&b, "%s", ""), SL_OK);
    ck_assert_uint_eq(b.len, 304);
    sl_buf_free(&b);
}
END_TEST

START_TEST(test_reset_free_take)
{
    sl_buf_t b = {0};
    ck_assert_int_eq(sl_buf_append(&b, "hello", 5), SL_OK);
    uint8_t *mem = b.p;
    size_t cap = b.cap;
    sl_buf_reset(&b);
    ck_assert_uint_eq(b.len, 0);
    ck_assert_ptr_eq(b.p, mem);
    ck_assert_uint_eq(b.cap, cap);
    ck_assert_int_eq(sl_buf_append(&b, "abc", 3), SL_OK);
    size_t len = 0;
    uint8_t *taken = sl_buf_take(&b, &len);
    ck_assert_ptr_eq(taken, mem);
    ck_assert_uint_eq(len, 3);
    ck_assert_mem_eq(taken, "abc", 3);
    ck_assert_ptr_null(b.p);
    ck_assert_uint_eq(b.len, 0);
    ck_assert_uint_eq(b.cap, 0);
    free(taken);
    /* Empty take: nothing to hand over. */
    len = 7;
    ck_assert_ptr_null(sl_buf_take(&b, &len));
    ck_assert_uint_eq(len, 0);
    /* Usable after take, free is idempotent and accepts NULL. */
    ck_assert_int_eq(sl_buf_append_u8(&b, 1), SL_OK);
    sl_buf_free(&b);
    ck_assert_ptr_null(b.p);
    sl_buf_free(&b);
    sl_buf_free(NULL);
}
END_TEST

Suite *sl_test_buf_suite(void)
{
    Suite *s = suite_create("buf");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_append_grows_by_doubling);
    tcase_add_test(tc, test_append_big_and_empty);
    tcase_add_test(tc, test_fixed_width_le);
    tcase_add_test(tc, test_varint_edges);
    tcase_add_test(tc, test_varint_round_trip_powers);
    tcase_add_test(tc, test_varint_truncated);
    tcase_add_test(tc, test_varint_overlong);
    tcase_add_test(tc, test_printf);
    tcase_add_test(tc, test_reset_free_take);
    suite_add_tcase(s, tc);
    return s;
}
