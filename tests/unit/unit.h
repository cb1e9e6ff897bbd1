/*
 * unit.h - the few lines every Check test binary shares.
 *
 * Each tests/unit/test_STAGE.c builds one Suite and ends with
 *     int main(void) { return unit_run(STAGE_suite()); }
 * unit_run prints Check's summary line ("100%: Checks: 12, Failures: 0,
 * Errors: 0") and turns failures into a non-zero exit for make.
 */
#ifndef GREENHORN_UNIT_H
#define GREENHORN_UNIT_H

#include <check.h>
#include <stdlib.h>

static inline int unit_run(Suite *s)
{
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

#endif
