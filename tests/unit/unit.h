/* Shared declarations for the unit-test binary: one Check suite per common/
 * module, all run by test_main.c, plus small assertion helpers. */
#ifndef SL_UNIT_H
#define SL_UNIT_H

#include <check.h>
#include <stdint.h>
#include <string.h>

Suite *sl_test_parse_suite(void);
Suite *sl_test_frame_suite(void);
Suite *sl_test_msg_suite(void);
Suite *sl_test_auth_suite(void);
Suite *sl_test_handshake_suite(void);
/* A JobSpec packed without its job-file positions (nodes, functions and
 * outputs), so specs of the same job written differently compare equal.
 * Clears the positions in `s`; the caller frees the bytes. */
struct Sluice__JobSpec;
uint8_t *sl_test_pack_unplaced(struct Sluice__JobSpec *s, size_t *len);

/* Suites of modules that may not have tests yet: weak, NULL when absent. */
__attribute__((weak)) Suite *sl_test_buf_suite(void);
__attribute__((weak)) Suite *sl_test_arena_suite(void);
__attribute__((weak)) Suite *sl_test_block_suite(void);
__attribute__((weak)) Suite *sl_test_funcs_suite(void);
__attribute__((weak)) Suite *sl_test_udf_suite(void);
__attribute__((weak)) Suite *sl_test_jobspec_suite(void);
__attribute__((weak)) Suite *sl_test_jobfile_suite(void);
__attribute__((weak)) Suite *sl_test_plan_suite(void);
__attribute__((weak)) Suite *sl_test_seqset_suite(void);
__attribute__((weak)) Suite *sl_test_builder_suite(void);
__attribute__((weak)) Suite *sl_test_client_suite(void);
__attribute__((weak)) Suite *sl_test_checkpoint_suite(void);
__attribute__((weak)) Suite *sl_test_wal_suite(void);

/* Fails unless the string `hay` contains `needle`, showing both. */
#define SL_CK_CONTAINS(hay, needle)                                                    \
    ck_assert_msg(strstr((hay), (needle)) != NULL, "'%s' does not contain '%s'", (hay), \
                  (needle))

/* Tests that reproduce known, still-open bugs in common/ fail until the bug
 * is fixed, so they are only built with -DSL_TEST_KNOWN_BUGS. Once a bug is
 * fixed, move its test out of the #ifdef. */

#endif
