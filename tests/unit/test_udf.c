/* Tests for common/udf.c: user functions from build/examples/libwordudf.so
 * (directory from SLUICE_EXAMPLES_DIR) of every kind, called through
 * sl_func_*, their kind and argument errors, and the ways loading a library
 * can fail. */
#define _GNU_SOURCE      /* dladdr */
#include <dlfcn.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include "arena.h"
#include "funcs.h"
#include "test_funcs.h"
#include "unit.h"

static void sl_tlib_path(char *path, size_t len, const char *file)
{
    const char *dir = getenv("SLUICE_EXAMPLES_DIR");
    snprintf(path, len, "%s/%s", dir && *dir ? dir : "build/examples", file);
}

static sl_udf_lib_t *sl_tlib(void)
{
    char path[4096], err[SL_ERRMSG_LEN] = "";
    sl_udf_lib_t *lib = NULL;
    sl_tlib_path(path, sizeof path, "libwordudf.so");
    sl_status_t st = sl_udf_lib_load(path, &lib, err);
    ck_assert_msg(st == SL_OK, "loading %s: %s (build it with make, or set SLUICE_EXAMPLES_DIR)",
                  path, err);
    return lib;
}

START_TEST(test_udf_map)
{
    sl_udf_lib_t *lib = sl_tlib();
    sl_func_t *f = sl_tcompile("shout", NULL, 0, SL_FN_MAP, lib);
    ck_assert_int_eq(sl_func_kind(f), SL_FN_MAP);
    ck_assert_str_eq(sl_func_name(f), "shout");
    struct { const char *in, *want; } ok[] = {
        { "b:hello", "b:HELLO!" }, { "b:", "b:!" }, { "L:b:a|i:1", "b:[A, 1]!" },
    };
    for (size_t i = 0; i < SL_NELEM(ok); i++) {
        sl_record_t in = { (const uint8_t *)"k", 1, sl_tv(ok[i].in) }, out;
        char err[SL_ERRMSG_LEN] = "";
        ck_assert_msg(sl_func_map(f, &in, &out, sl_ta, err) == SL_OK, "%s", err);
        ck_assert_str_eq(sl_ts(&out.val), ok[i].want);
        sl_ck_key(&out, "k");
    }
    sl_record_t in = { NULL, 0, sl_val_int(5) }, out;
    char err[SL_ERRMSG_LEN] = "";
    ck_assert_int_eq(sl_func_map(f, &in, &out, sl_ta, err), SL_ERR_INTERNAL);
    ck_assert_str_eq(err, "user function 'shout' failed: shout wants a text value");
    sl_func_free(f);
    sl_udf_lib_free(lib);
}
END_TEST

START_TEST(test_udf_flat_map)
{
    sl_udf_lib_t *lib = sl_tlib();
    sl_func_t *f = sl_tcompile("tokens", NULL, 0, SL_FN_FLAT_MAP, lib);
    struct { const char *in, *want; } cases[] = {
        { "b:Hello, World-42!", "b:hello|b:world|b:42" }, { "b:", "" }, { "b: ,.", "" },
        { "i:5", "" }, { "T:b:A|b:B", "b:a|b:b" },
    };
    for (size_t i = 0; i < SL_NELEM(cases); i++) {
        sl_record_t in = { (const uint8_t *)"k", 1, sl_tv(cases[i].in) };
        sl_collect_t col = { { sl_collect_fn }, "k", "", 0, 0 };
        char err[SL_ERRMSG_LEN] = "";
        ck_assert_msg(sl_func_flat_map(f, &in, &col.base, sl_ta, err) == SL_OK, "%s", err);
        ck_assert_msg(strcmp(col.out, cases[i].want) == 0, "tokens on '%s' gave '%s'", cases[i].in,
                      col.out);
    }
    /* The consumer's failure is the call's status. */
    sl_record_t in = { NULL, 0, sl_tv("b:a b c") };
    sl_collect_t col = { { sl_collect_fn }, "", "", 0, 2 };
    char err[SL_ERRMSG_LEN] = "";
    ck_assert_int_eq(sl_func_flat_map(f, &in, &col.base, sl_ta, err), SL_ERR_CLOSED);
    ck_assert_uint_eq(col.n, 1);
    SL_CK_CONTAINS(err, "user function 'tokens'");
    SL_CK_CONTAINS(err, sl_strerror(SL_ERR_CLOSED));
    sl_func_free(f);
    sl_udf_lib_free(lib);
}
END_TEST

START_TEST(test_udf_filter)
{
    sl_udf_lib_t *lib = sl_tlib();
    sl_func_t *f = sl_tcompile("is_long", NULL, 0, SL_FN_FILTER, lib);
    struct { const char *in; bool keep; } cases[] = {
        { "b:hello", true }, { "b:hey", false }, { "b:", false }, { "i:123456", false },
        { "L:i:1|i:2", true },                   /* "[1, 2]" */
        { "L:i:1", false },                      /* "[1]" */
    };
    for (size_t i = 0; i < SL_NELEM(cases); i++) {
        sl_record_t in = { NULL, 0, sl_tv(cases[i].in) };
        ck_assert_msg(sl_func_filter(f, &in) == cases[i].keep, "is_long on '%s'", cases[i].in);
    }
    sl_func_free(f);
    sl_udf_lib_free(lib);
}
END_TEST

START_TEST(test_udf_reduce)
{
    sl_udf_lib_t *lib = sl_tlib();
    sl_func_t *f = sl_tcompile("longest", NULL, 0, SL_FN_REDUCE, lib);
    sl_value_t v[] = { sl_tv("b:a"), sl_tv("b:abc"), sl_tv("b:ab"), sl_tv("b:xyz") }, acc, l, r;
    char err[SL_ERRMSG_LEN] = "";
    ck_assert_msg(sl_tfold(f, v, 0, 4, &acc, err) == SL_OK, "%s", err);
    ck_assert_str_eq(sl_ts(&acc), "b:abc");
    for (size_t k = 1; k < 4; k++) {
        ck_assert_int_eq(sl_tfold(f, v, 0, k, &l, err), SL_OK);
        ck_assert_int_eq(sl_tfold(f, v, k, 4, &r, err), SL_OK);
        ck_assert_int_eq(sl_func_reduce_merge(f, &l, &r, &acc, sl_ta, err), SL_OK);
        ck_assert_str_eq(sl_ts(&acc), "b:abc");
    }
    /* The user function returns b itself: the accumulator gets a copy. */
    char buf[8] = "long";
    sl_value_t in = sl_val_bytes(buf, 4);
    ck_assert_int_eq(sl_func_reduce_combine(f, &v[0], &in, &acc, sl_ta, err), SL_OK);
    memset(buf, '#', sizeof buf);
    ck_assert_str_eq(sl_ts(&acc), "b:long");
    /* Its error becomes the call's. */
    sl_value_t num = sl_val_int(3);
    ck_assert_int_eq(sl_func_reduce_combine(f, &v[0], &num, &acc, sl_ta, err), SL_ERR_INTERNAL);
    ck_assert_str_eq(err, "user function 'longest' failed: longest wants text values");
    sl_func_free(f);
    sl_udf_lib_free(lib);
}
END_TEST

START_TEST(test_udf_key)
{
    sl_udf_lib_t *lib = sl_tlib();
    struct { const char *in, *key, *val; } cases[] = {
        { "b:hello", "h", "b:hello" }, { "L:i:1", "[", "L:[1]" }, { "i:5", "", "i:5" },
        { "b:", "", "b:" },
    };
    static const sl_fn_kind_t wants[] = { SL_FN_MAP, SL_FN_KEY };
    for (size_t w = 0; w < SL_NELEM(wants); w++) {
        sl_func_t *f = sl_tcompile("first_letter", NULL, 0, wants[w], lib);
        ck_assert_int_eq(sl_func_kind(f), SL_FN_KEY);
        for (size_t i = 0; i < SL_NELEM(cases); i++) {
            sl_record_t in = { (const uint8_t *)"old", 3, sl_tv(cases[i].in) }, out;
            char err[SL_ERRMSG_LEN] = "";
            ck_assert_msg(sl_func_map(f, &in, &out, sl_ta, err) == SL_OK, "%s", err);
            sl_ck_key(&out, cases[i].key);
            ck_assert_str_eq(sl_ts(&out.val), cases[i].val);
        }
        sl_func_free(f);
    }
    sl_udf_lib_free(lib);
}
END_TEST

START_TEST(test_udf_compile_errors)
{
    sl_udf_lib_t *lib = sl_tlib();
    const char *arg[] = { "x" };
    struct { const char *name; size_t nargs; sl_fn_kind_t want; const char *err; } cases[] = {
        { "tokens", 0, SL_FN_MAP, "'tokens' is a flat_map function, not a map function" },
        { "longest", 0, SL_FN_MAP, "'longest' is a reducer, not a map function" },
        { "shout", 0, SL_FN_KEY, "'shout' is a map function, not a key function" },
        { "is_long", 0, SL_FN_REDUCE, "'is_long' is a filter, not a reducer" },
        { "first_letter", 0, SL_FN_FILTER, "'first_letter' is a key function, not a filter" },
        { "shout", 1, SL_FN_MAP, "'shout' is a user function and takes no arguments, got 1" },
        { "nosuch", 0, SL_FN_MAP,
          "unknown function 'nosuch' (neither built in nor in 'libwordudf.so')" },
    };
    for (size_t i = 0; i < SL_NELEM(cases); i++) {
        sl_func_t *f = NULL;
        char err[SL_ERRMSG_LEN] = "";
        ck_assert_int_eq(sl_func_compile(cases[i].name, arg, cases[i].nargs, cases[i].want, lib, &f,
                                         err), SL_ERR_INVALID);
        ck_assert_ptr_null(f);
        ck_assert_str_eq(err, cases[i].err);
    }
    /* Built-ins are still there with a library. */
    sl_func_free(sl_tcompile("lower", NULL, 0, SL_FN_MAP, lib));
    sl_udf_lib_free(lib);
}
END_TEST

/* The path of the shared object that defines `sym` (a system library). */
static void sl_tlib_of(const char *sym, char *path, size_t len)
{
    Dl_info info;
    void *p = dlsym(RTLD_DEFAULT, sym);
    ck_assert_msg(p && dladdr(p, &info) && info.dli_fname, "cannot find the library of %s", sym);
    snprintf(path, len, "%s", info.dli_fname);
}

START_TEST(test_udf_load_errors)
{
    char path[4096], err[SL_ERRMSG_LEN];
    sl_udf_lib_t *lib = (sl_udf_lib_t *)&lib;  /* must not be written on error */
    sl_tlib_path(path, sizeof path, "libnope.so");
    struct { const char *path, *err_has; } cases[] = {
        { path, "cannot load user library 'libnope.so': " },
        { "/nonexistent/dir/x.so", "'x.so'" },
        { "libm.so.6", "cannot load user library 'libm.so.6'" },   /* no library search */
        { "", "empty user library path" },
    };
    for (size_t i = 0; i < SL_NELEM(cases); i++) {
        err[0] = '\0';
        ck_assert_int_eq(sl_udf_lib_load(cases[i].path, &lib, err), SL_ERR_INVALID);
        SL_CK_CONTAINS(err, cases[i].err_has);
    }
    ck_assert_int_eq(sl_udf_lib_load(NULL, &lib, err), SL_ERR_INVALID);
    /* A real shared object without the table. */
    sl_tlib_of("cos", path, sizeof path);
    const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
    char want[128];
    snprintf(want, sizeof want, "'%.64s' has no sluice_udfs table", base);
    ck_assert_int_eq(sl_udf_lib_load(path, &lib, err), SL_ERR_INVALID);
    SL_CK_CONTAINS(err, want);
    ck_assert_ptr_eq(lib, (sl_udf_lib_t *)&lib);
    sl_udf_lib_free(NULL);
}
END_TEST

Suite *sl_test_udf_suite(void)
{
    Suite *s = suite_create("udf");
    TCase *tu = tcase_create("user functions");
    tcase_add_checked_fixture(tu, sl_tsetup, sl_tteardown);
    tcase_add_test(tu, test_udf_map);
    tcase_add_test(tu, test_udf_flat_map);
    tcase_add_test(tu, test_udf_filter);
    tcase_add_test(tu, test_udf_reduce);
    tcase_add_test(tu, test_udf_key);
    tcase_add_test(tu, test_udf_compile_errors);
    tcase_add_test(tu, test_udf_load_errors);
    suite_add_tcase(s, tu);
    return s;
}
