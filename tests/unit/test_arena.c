/* Tests for common/arena.c: 16-byte alignment, chunk spill-over, big requests
 * in chunks of their own, dup, byte accounting and reset keeping the first chunk. */
#include <stdint.h>
#include <stdlib.h>
#include "arena.h"
#include "unit.h"

#define SL_ALIGNED(p) (((uintptr_t)(p) & 15) == 0)

START_TEST(test_alignment_and_accounting)
{
    sl_arena_t *a = sl_arena_new(0);
    ck_assert_ptr_nonnull(a);
    size_t total = 0;
    for (size_t n = 1; n <= 200; n++) {
        uint8_t *p = sl_arena_alloc(a, n);
        ck_assert_ptr_nonnull(p);
        ck_assert_msg(SL_ALIGNED(p), "alloc(%zu) = %p not 16-byte aligned", n, (void *)p);
        memset(p, (int)n, n);
        total += n;
        ck_assert_uint_eq(sl_arena_bytes(a), total);
    }
    void *z = sl_arena_alloc(a, 0);
    ck_assert_ptr_nonnull(z);
    ck_assert(SL_ALIGNED(z));
    sl_arena_free(a);
}
END_TEST

START_TEST(test_many_chunks_keep_contents)
{
    /* Small chunks, many allocations: every block keeps its own bytes. */
    sl_arena_t *a = sl_arena_new(1024);
    ck_assert_ptr_nonnull(a);
    enum { N = 5000 };
    uint32_t **ptrs = malloc(N * sizeof *ptrs);
    for (uint32_t i = 0; i < N; i++) {
        size_t words = 1 + i % 50;
        ptrs[i] = sl_arena_alloc(a, words * sizeof(uint32_t));
        ck_assert_ptr_nonnull(ptrs[i]);
        ck_assert(SL_ALIGNED(ptrs[i]));
        for (size_t w = 0; w < words; w++)
            ptrs[i][w] = i;
    }
    for (uint32_t i = 0; i < N; i++)
        for (size_t w = 0; w < 1 + i % 50; w++)
            ck_assert_uint_eq(ptrs[i][w], i);
    free(ptrs);
    sl_arena_free(a);
}
END_TEST

START_TEST(test_big_requests_get_own_chunk)
{
    sl_arena_t *a = sl_arena_new(1024);
    ck_assert_ptr_nonnull(a);
    uint8_t *s1 = sl_arena_alloc(a, 16);
    uint8_t *big = sl_arena_alloc(a, 100000);
    ck_assert_ptr_nonnull(big);
    ck_assert(SL_ALIGNED(big));
    memset(big, 0xee, 100000);
    /* The current chunk is still the one bumped from. */
    uint8_t *s2 = sl_arena_alloc(a, 16);
    ck_assert_ptr_eq(s2, s1 + 16);
    /* Bigger than a quarter chunk, but it does not fit what is left: own chunk too. */
    uint8_t *mid = sl_arena_alloc(a, 1000);
    ck_assert_ptr_nonnull(mid);
    memset(mid, 0x11, 1000);
    uint8_t *s3 = sl_arena_alloc(a, 16);
    ck_assert_ptr_eq(s3, s2 + 16);
    for (size_t i = 0; i < 100000; i++)
        ck_assert_uint_eq(big[i], 0xee);
    ck_assert_uint_eq(sl_arena_bytes(a), 16 + 100000 + 16 + 1000 + 16);
    sl_arena_free(a);
}
END_TEST

START_TEST(test_reset_keeps_first_chunk)
{
    sl_arena_t *a = sl_arena_new(4096);
    ck_assert_ptr_nonnull(a);
    void *first = sl_arena_alloc(a, 32);
    for (int i = 0; i < 1000; i++)
        ck_assert_ptr_nonnull(sl_arena_alloc(a, 100));    /* spills into more chunks */
    ck_assert_ptr_nonnull(sl_arena_alloc(a, 1 << 20));
    sl_arena_reset(a);
    ck_assert_uint_eq(sl_arena_bytes(a), 0);
    ck_assert_ptr_eq(sl_arena_alloc(a, 32), first);
    /* Reset twice in a row and on a fresh arena is harmless. */
    sl_arena_reset(a);
    sl_arena_reset(a);
    ck_assert_ptr_eq(sl_arena_alloc(a, 8), first);
    sl_arena_free(a);
}
END_TEST

START_TEST(test_dup_and_limits)
{
    sl_arena_t *a = sl_arena_new(0);
    ck_assert_ptr_nonnull(a);
    const char text[] = "sluice";
    char *d = sl_arena_dup(a, text, sizeof text);
    ck_assert_ptr_nonnull(d);
    ck_assert_ptr_ne(d, text);
    ck_assert_str_eq(d, "sluice");
    ck_assert_ptr_nonnull(sl_arena_dup(a, NULL, 0));
    /* An impossible request fails cleanly and leaves the arena usable. */
    size_t before = sl_arena_bytes(a);
    ck_assert_ptr_null(sl_arena_alloc(a, SIZE_MAX));
    ck_assert_ptr_null(sl_arena_alloc(a, SIZE_MAX - 8));
    ck_assert_uint_eq(sl_arena_bytes(a), before);
    char *e = sl_arena_dup(a, "x", 2);
    ck_assert_str_eq(e, "x");
    ck_assert_str_eq(d, "sluice");
    sl_arena_free(a);
    sl_arena_free(NULL);
    /* Tiny chunk sizes still work. */
    a = sl_arena_new(1);
    ck_assert_ptr_nonnull(a);
    for (int i = 0; i < 100; i++) {
        void *p = sl_arena_alloc(a, (size_t)i);
        ck_assert_ptr_nonnull(p);
        ck_assert(SL_ALIGNED(p));
    }
    sl_arena_free(a);
}
END_TEST

Suite *sl_test_arena_suite(void)
{
    Suite *s = suite_create("arena");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_alignment_and_accounting);
    tcase_add_test(tc, test_many_chunks_keep_contents);
    tcase_add_test(tc, test_big_requests_get_own_chunk);
    tcase_add_test(tc, test_reset_keeps_first_chunk);
    tcase_add_test(tc, test_dup_and_limits);
    suite_add_tcase(s, tc);
    return s;
}
