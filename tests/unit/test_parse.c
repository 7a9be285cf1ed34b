/* Tests for common/parse.c: durations, sizes, bounded integers, host:port,
 * address lists and duration formatting, good inputs and bad ones. */
#include <stdint.h>
#include <stdio.h>
#include "parse.h"
#include "unit.h"

#define SL_SENTINEL 0xdeadbeefULL

typedef struct {
    const char *in;
    uint64_t want;
} sl_good_t;

typedef struct {
    const char *in;
    const char *err_has;        /* a substring the error message must contain */
} sl_bad_t;

#define SL_NELEM(a) (sizeof (a) / sizeof *(a))

/* --- durations ----------------------------------------------------------- */

static const sl_good_t sl_good_durations[] = {
    { "0", 0 },
    { "0ms", 0 },
    { "1ms", 1 },
    { "500ms", 500 },
    { "10s", 10000 },
    { "2m", 120000 },
    { "1h", 3600000 },
    { "1.5s", 1500 },
    { "0.001s", 1 },
    { "1.5m", 90000 },
    { "0.5h", 1800000 },
    { "10S", 10000 },           /* units are case-insensitive */
    { "5124095576030h", 5124095576030ULL * 3600000ULL },   /* largest whole hours */
};

START_TEST(test_duration_good)
{
    const sl_good_t *c = &sl_good_durations[_i];
    uint64_t v = SL_SENTINEL;
    char err[SL_ERRMSG_LEN] = "";
    sl_status_t st = sl_parse_duration_ms(c->in, &v, err);
    ck_assert_msg(st == SL_OK, "'%s': %s (%s)", c->in, sl_strerror(st), err);
    ck_assert_msg(v == c->want, "'%s' gave %llu, want %llu", c->in, (unsigned long long)v,
                  (unsigned long long)c->want);
}
END_TEST

static const sl_bad_t sl_bad_durations[] = {
    { "", "empty duration" },
    { "10", "unknown unit ''" },
    { "10x", "unknown unit 'x'" },
    { "-1s", "'-1s'" },
    { "s", "'s'" },
    { "1.0001s", "not a whole number of milliseconds" },
    { "1.5ms", "not a whole number of milliseconds" },
    { "1.s", "'1.s'" },
    { ".5s", "'.5s'" },
    { " 1s", "' 1s'" },
    { "1s ", "unknown unit 's '" },
    { "1 s", "unknown unit ' s'" },
    { "10sec", "unknown unit 'sec'" },
    { "99999999999999999999h", "'99999999999999999999h'" },
    { "5124095576031h", "too large" },
    { "18446744073709551615s", "too large" },
};

START_TEST(test_duration_bad)
{
    const sl_bad_t *c = &sl_bad_durations[_i];
    uint64_t v = SL_SENTINEL;
    char err[SL_ERRMSG_LEN] = "";
    sl_status_t st = sl_parse_duration_ms(c->in, &v, err);
    ck_assert_msg(st == SL_ERR_INVALID, "'%s' gave %s", c->in, sl_strerror(st));
    ck_assert_msg(v == SL_SENTINEL, "'%s': output written on error", c->in);
    SL_CK_CONTAINS(err, c->err_has);
    if (*c->in) {
        /* Every message about a non-empty input quotes the input. */
        char quoted[SL_ERRMSG_LEN];
        snprintf(quoted, sizeof quoted, "'%s'", c->in);
        SL_CK_CONTAINS(err, quoted);
    }
}
END_TEST

START_TEST(test_duration_null_and_no_err_buffer)
{
    uint64_t v = SL_SENTINEL;
    char err[SL_ERRMSG_LEN] = "";
    ck_assert_int_eq(sl_parse_duration_ms(NULL, &v, err), SL_ERR_INVALID);
    SL_CK_CONTAINS(err, "empty duration");
    /* err may be NULL. */
    ck_assert_int_eq(sl_parse_duration_ms("10x", &v, NULL), SL_ERR_INVALID);
    ck_assert_int_eq(sl_parse_duration_ms("10s", &v, NULL), SL_OK);
    ck_assert_uint_eq(v, 10000);
}
END_TEST

/* --- sizes --------------------------------------------------------------- */

static const sl_good_t sl_good_sizes[] = {
    { "0", 0 },
    { "4096", 4096 },
    { "1b", 1 },
    { "512M", 512ULL << 20 },
    { "2G", 2ULL << 30 },
    { "64KiB", 64ULL << 10 },
    { "64kib", 64ULL << 10 },
    { "3KB", 3ULL << 10 },
    { "1.5K", 1536 },
    { "0.5M", 512ULL << 10 },
    { "8g", 8ULL << 30 },
    { "2MiB", 2ULL << 20 },
    { "1TB", 1ULL << 40 },
    { "16777215T", 16777215ULL << 40 },        /* largest whole TiB */
    { "18446744073709551615", UINT64_MAX },
};

START_TEST(test_size_good)
{
    const sl_good_t *c = &sl_good_sizes[_i];
    uint64_t v = SL_SENTINEL;
    char err[SL_ERRMSG_LEN] = "";
    sl_status_t st = sl_parse_size(c->in, &v, err);
    ck_assert_msg(st == SL_OK, "'%s': %s (%s)", c->in, sl_strerror(st), err);
    ck_assert_msg(v == c->want, "'%s' gave %llu, want %llu", c->in, (unsigned long long)v,
                  (unsigned long long)c->want);
}
END_TEST

static const sl_bad_t sl_bad_sizes[] = {
    { "", "empty size" },
    { "20000000T", "too large" },
    { "16777216T", "too large" },
    { "18446744073709551616", "'18446744073709551616'" },
    { "12Q", "unknown unit 'Q'" },
    { "1.1K", "not a whole number of bytes" },
    { "1.5", "not a whole number of bytes" },
    { "K", "'K'" },
    { "-1", "'-1'" },
    { "1..5K", "'1..5K'" },
    { "1KK", "unknown unit 'KK'" },
    { "1PB", "unknown unit 'PB'" },
};

START_TEST(test_size_bad)
{
    const sl_bad_t *c = &sl_bad_sizes[_i];
    uint64_t v = SL_SENTINEL;
    char err[SL_ERRMSG_LEN] = "";
    sl_status_t st = sl_parse_size(c->in, &v, err);
    ck_assert_msg(st == SL_ERR_INVALID, "'%s' gave %s", c->in, sl_strerror(st));
    ck_assert_msg(v == SL_SENTINEL, "'%s': output written on error", c->in);
    SL_CK_CONTAINS(err, c->err_has);
    if (*c->in) {
        char quoted[SL_ERRMSG_LEN];
        snprintf(quoted, sizeof quoted, "'%s'", c->in);
        SL_CK_CONTAINS(err, quoted);
    }
}
END_TEST

/* --- bounded integers ---------------------------------------------------- */

START_TEST(test_uint_range)
{
    uint64_t v = SL_SENTINEL;
    char err[SL_ERRMSG_LEN] = "";
    ck_assert_int_eq(sl_parse_uint("0", 0, 10, &v, err), SL_OK);
    ck_assert_uint_eq(v, 0);
    ck_assert_int_eq(sl_parse_uint("10", 0, 10, &v, err), SL_OK);
    ck_assert_uint_eq(v, 10);
    ck_assert_int_eq(sl_parse_uint("5", 5, 5, &v, err), SL_OK);
    ck_assert_uint_eq(v, 5);
    ck_assert_int_eq(sl_parse_uint("007", 0, 10, &v, err), SL_OK);
    ck_assert_uint_eq(v, 7);
    ck_assert_int_eq(sl_parse_uint("18446744073709551615", 0, UINT64_MAX, &v, err), SL_OK);
    ck_assert(v == UINT64_MAX);

    v = SL_SENTINEL;
    ck_assert_int_eq(sl_parse_uint("11", 0, 10, &v, err), SL_ERR_INVALID);
    SL_CK_CONTAINS(err, "number '11' out of range [0, 10]");
    ck_assert_int_eq(sl_parse_uint("4", 5, 10, &v, err), SL_ERR_INVALID);
    SL_CK_CONTAINS(err, "out of range [5, 10]");
    ck_assert(v == SL_SENTINEL);
}
END_TEST

static const char *const sl_bad_uints[] = {
    "", "-1", "+1", "abc", "1.0", "1.5", "1e3", " 1", "1 ", "0x10", "18446744073709551616",
};

START_TEST(test_uint_bad)
{
    const char *in = sl_bad_uints[_i];
    uint64_t v = SL_SENTINEL;
    char err[SL_ERRMSG_LEN] = "";
    ck_assert_msg(sl_parse_uint(in, 0, UINT64_MAX, &v, err) == SL_ERR_INVALID, "'%s' accepted",
                  in);
    ck_assert(v == SL_SENTINEL);
    char want[SL_ERRMSG_LEN];
    snprintf(want, sizeof want, "invalid number '%s'", in);
    SL_CK_CONTAINS(err, want);
}
END_TEST

START_TEST(test_uint_null)
{
    uint64_t v = SL_SENTINEL;
    char err[SL_ERRMSG_LEN] = "";
    ck_assert_int_eq(sl_parse_uint(NULL, 0, 10, &v, err), SL_ERR_INVALID);
    SL_CK_CONTAINS(err, "invalid number ''");
    ck_assert_int_eq(sl_parse_uint("x", 0, 10, &v, NULL), SL_ERR_INVALID);
}
END_TEST

/* --- host:port ----------------------------------------------------------- */

typedef struct {
    const char *in;
    const char *host;
    uint16_t port;
} sl_good_hostport_t;

static const sl_good_hostport_t sl_good_hostports[] = {
    { "localhost:7077", "localhost", 7077 },
    { "10.0.0.1:80", "10.0.0.1", 80 },
    { "[::1]:7077", "::1", 7077 },
    { "[fe80::1%eth0]:1", "fe80::1%eth0", 1 },
    { "h:0", "h", 0 },
    { "h:65535", "h", 65535 },
};

START_TEST(test_hostport_good)
{
    const sl_good_hostport_t *c = &sl_good_hostports[_i];
    char host[64] = "";
    uint16_t port = 12345;
    char err[SL_ERRMSG_LEN] = "";
    sl_status_t st = sl_parse_hostport(c->in, host, sizeof host, &port, err);
    ck_assert_msg(st == SL_OK, "'%s': %s (%s)", c->in, sl_strerror(st), err);
    ck_assert_str_eq(host, c->host);
    ck_assert_uint_eq(port, c->port);
}
END_TEST

static const sl_bad_t sl_bad_hostports[] = {
    { "localhost", "expected host:port" },          /* missing port */
    { "localhost:", "port must be 0-65535" },
    { "localhost:70000", "port must be 0-65535" },
    { "localhost:65536", "port must be 0-65535" },
    { "localhost:-1", "port must be 0-65535" },
    { "localhost:http", "port must be 0-65535" },
    { ":7077", "bad host part" },                   /* empty host */
    { "[]:7077", "bad host part" },
    { "[::1]", "expected [v6addr]:port" },
    { "[::1]7077", "expected [v6addr]:port" },
    { "[::1:7077", "expected [v6addr]:port" },
    { "::1:7077", "expected host:port" },           /* v6 without brackets */
    { "a:1:2", "expected host:port" },
};

START_TEST(test_hostport_bad)
{
    const sl_bad_t *c = &sl_bad_hostports[_i];
    char host[64] = "untouched";
    uint16_t port = 12345;
    char err[SL_ERRMSG_LEN] = "";
    sl_status_t st = sl_parse_hostport(c->in, host, sizeof host, &port, err);
    ck_assert_msg(st == SL_ERR_INVALID, "'%s' gave %s", c->in, sl_strerror(st));
    ck_assert_str_eq(host, "untouched");
    ck_assert_uint_eq(port, 12345);
    SL_CK_CONTAINS(err, c->err_has);
    char quoted[SL_ERRMSG_LEN];
    snprintf(quoted, sizeof quoted, "'%s'", c->in);
    SL_CK_CONTAINS(err, quoted);
}
END_TEST

START_TEST(test_hostport_empty_and_small_buffer)
{
    char host[4];
    uint16_t port = 0;
    char err[SL_ERRMSG_LEN] = "";
    ck_assert_int_eq(sl_parse_hostport("", host, sizeof host, &port, err), SL_ERR_INVALID);
    SL_CK_CONTAINS(err, "empty address");
    ck_assert_int_eq(sl_parse_hostport(NULL, host, sizeof host, &port, err), SL_ERR_INVALID);
    /* The host must fit with its terminator. */
    ck_assert_int_eq(sl_parse_hostport("abc:1", host, sizeof host, &port, err), SL_OK);
    ck_assert_str_eq(host, "abc");
    ck_assert_int_eq(sl_parse_hostport("abcd:1", host, sizeof host, &port, err), SL_ERR_INVALID);
    SL_CK_CONTAINS(err, "bad host part");
    ck_assert_int_eq(sl_parse_hostport("abcd:1", host, sizeof host, &port, NULL), SL_ERR_INVALID);
}
END_TEST

/* --- address lists ------------------------------------------------------- */

START_TEST(test_addr_list_good)
{
    char **list = NULL;
    size_t n = 0;
    char err[SL_ERRMSG_LEN] = "";
    ck_assert_int_eq(sl_parse_addr_list("a:1,b:2", &list, &n, err), SL_OK);
    ck_assert_uint_eq(n, 2);
    ck_assert_str_eq(list[0], "a:1");
    ck_assert_str_eq(list[1], "b:2");
    ck_assert_ptr_null(list[2]);
    sl_addr_list_free(list);

    list = NULL;
    ck_assert_int_eq(sl_parse_addr_list("[::1]:7077,master-2:7078,10.0.0.3:7079", &list, &n, err),
                     SL_OK);
    ck_assert_uint_eq(n, 3);
    ck_assert_str_eq(list[0], "[::1]:7077");
    ck_assert_str_eq(list[1], "master-2:7078");
    ck_assert_str_eq(list[2], "10.0.0.3:7079");
    ck_assert_ptr_null(list[3]);
    sl_addr_list_free(list);

    list = NULL;
    ck_assert_int_eq(sl_parse_addr_list("solo:1", &list, &n, err), SL_OK);
    ck_assert_uint_eq(n, 1);
    ck_assert_str_eq(list[0], "solo:1");
    ck_assert_ptr_null(list[1]);
    sl_addr_list_free(list);

    sl_addr_list_free(NULL);
}
END_TEST

static const sl_bad_t sl_bad_addr_lists[] = {
    { "", "empty address list" },
    { "a:1,,b:2", "empty address" },
    { "a:1,", "empty address" },
    { ",a:1", "empty address" },
    { "a:1,b", "invalid address 'b'" },
    { "a:1,b:99999", "invalid address 'b:99999'" },
    { "a:1;b:2", "invalid address 'a:1;b:2'" },
};

START_TEST(test_addr_list_bad)
{
    const sl_bad_t *c = &sl_bad_addr_lists[_i];
    char **list = NULL;
    size_t n = 77;
    char err[SL_ERRMSG_LEN] = "";
    sl_status_t st = sl_parse_addr_list(c->in, &list, &n, err);
    ck_assert_msg(st == SL_ERR_INVALID, "'%s' gave %s", c->in, sl_strerror(st));
    ck_assert_ptr_null(list);
    ck_assert_uint_eq(n, 77);
    SL_CK_CONTAINS(err, c->err_has);
}
END_TEST

/* --- formatting ---------------------------------------------------------- */

START_TEST(test_format_duration)
{
    static const struct {
        uint64_t ms;
        const char *want;
    } cases[] = {
        { 0, "0ms" }, { 1, "1ms" }, { 999, "999ms" }, { 1500, "1500ms" }, { 2000, "2s" },
        { 59000, "59s" }, { 60000, "1m" }, { 90000, "90s" }, { 3600000, "1h" },
        { 5400000, "90m" }, { 86400000, "24h" }, { 3601000, "3601s" }, { 3600001, "3600001ms" },
    };
    for (size_t i = 0; i < SL_NELEM(cases); i++) {
        char buf[32];
        sl_format_duration_ms(cases[i].ms, buf, sizeof buf);
        ck_assert_str_eq(buf, cases[i].want);
    }
}
END_TEST

START_TEST(test_format_duration_round_trip)
{
    static const uint64_t values[] = {
        0, 1, 7, 500, 1000, 1500, 10000, 61000, 120000, 3599999, 3600000, 7200000,
        86400000, 604800000ULL, 5124095576030ULL * 3600000ULL, UINT64_MAX,
    };
    for (size_t i = 0; i < SL_NELEM(values); i++) {
        char buf[32], err[SL_ERRMSG_LEN] = "";
        uint64_t back = SL_SENTINEL;
        sl_format_duration_ms(values[i], buf, sizeof buf);
        ck_assert_msg(sl_parse_duration_ms(buf, &back, err) == SL_OK, "'%s': %s", buf, err);
        ck_assert_msg(back == values[i], "'%s' read back as %llu", buf, (unsigned long long)back);
    }
}
END_TEST

/* Regression: sl_read_decimal keeps only 6 fraction digits and drops the rest,
 * so a value that is not a whole number of ms/bytes is accepted silently. */
START_TEST(test_fraction_beyond_six_digits)
{
    uint64_t v = SL_SENTINEL;
    char err[SL_ERRMSG_LEN] = "";
    ck_assert_int_eq(sl_parse_duration_ms("1.0000001s", &v, err), SL_ERR_INVALID);
    ck_assert_int_eq(sl_parse_duration_ms("0.0000009s", &v, err), SL_ERR_INVALID);
    ck_assert_int_eq(sl_parse_size("1.0000001K", &v, err), SL_ERR_INVALID);
}
END_TEST

Suite *sl_test_parse_suite(void)
{
    Suite *s = suite_create("parse");
    TCase *tc = tcase_create("duration");
    tcase_add_loop_test(tc, test_duration_good, 0, SL_NELEM(sl_good_durations));
    tcase_add_loop_test(tc, test_duration_bad, 0, SL_NELEM(sl_bad_durations));
    tcase_add_test(tc, test_duration_null_and_no_err_buffer);
    tcase_add_test(tc, test_format_duration);
    tcase_add_test(tc, test_format_duration_round_trip);
    tcase_add_test(tc, test_fraction_beyond_six_digits);
    suite_add_tcase(s, tc);

    tc = tcase_create("size");
    tcase_add_loop_test(tc, test_size_good, 0, SL_NELEM(sl_good_sizes));
    tcase_add_loop_test(tc, test_size_bad, 0, SL_NELEM(sl_bad_sizes));
    suite_add_tcase(s, tc);

    tc = tcase_create("uint");
    tcase_add_test(tc, test_uint_range);
    tcase_add_loop_test(tc, test_uint_bad, 0, SL_NELEM(sl_bad_uints));
    tcase_add_test(tc, test_uint_null);
    suite_add_tcase(s, tc);

    tc = tcase_create("address");
    tcase_add_loop_test(tc, test_hostport_good, 0, SL_NELEM(sl_good_hostports));
    tcase_add_loop_test(tc, test_hostport_bad, 0, SL_NELEM(sl_bad_hostports));
    tcase_add_test(tc, test_hostport_empty_and_small_buffer);
    tcase_add_test(tc, test_addr_list_good);
    tcase_add_loop_test(tc, test_addr_list_bad, 0, SL_NELEM(sl_bad_addr_lists));
    suite_add_tcase(s, tc);
    return s;
}
