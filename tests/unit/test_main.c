/* The unit-test runner: every module suite in one SRunner; the exit status
 * says whether any test failed. */
#include <stddef.h>
#include <stdlib.h>
#include "unit.h"

typedef Suite *(*sl_suite_fn)(void);

int main(void)
{
    /* Weak entries are NULL until their module's tests exist. */
    const sl_suite_fn suites[] = {
        sl_test_parse_suite, sl_test_frame_suite, sl_test_msg_suite, sl_test_auth_suite,
        sl_test_handshake_suite, sl_test_buf_suite, sl_test_arena_suite, sl_test_block_suite,
        sl_test_funcs_suite, sl_test_jobspec_suite, sl_test_jobfile_suite, sl_test_plan_suite,
        sl_test_seqset_suite, sl_test_builder_suite, sl_test_client_suite, sl_test_udf_suite,
        sl_test_checkpoint_suite,
        sl_test_wal_suite,
    };
    SRunner *sr = srunner_create(NULL);
    for (size_t i = 0; i < sizeof suites / sizeof *suites; i++)
        if (suites[i])
            srunner_add_suite(sr, suites[i]());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
