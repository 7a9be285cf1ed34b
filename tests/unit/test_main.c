/* The unit-test runner: every module suite in one SRunner; the exit status
 * says whether any test failed. */
#include <stdlib.h>
#include "unit.h"

int main(void)
{
    SRunner *sr = srunner_create(sl_test_parse_suite());
    srunner_add_suite(sr, sl_test_frame_suite());
    srunner_add_suite(sr, sl_test_msg_suite());
    srunner_add_suite(sr, sl_test_auth_suite());
    srunner_add_suite(sr, sl_test_handshake_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
