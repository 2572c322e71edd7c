/* test_janitor.c: the janitor's decisions that need no thread or database: when the
 * reclassification sweep runs (janitor_reclassify_due). */
#include "server/janitor.h"

#include <stdbool.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

/* A change sweeps at once (the first round counts as one: nothing is known of the events
 * inserted before the start), however recent the last sweep. */
static void test_change_sweeps(void **state)
{
    (void)state;
    assert_true(janitor_reclassify_due(true, false, 0));
}

/* Unchanged mappings: no sweep, however often the job runs, until the full interval. */
static void test_unchanged_mappings_do_not_sweep(void **state)
{
    (void)state;
    assert_false(janitor_reclassify_due(false, false, 5000));
    assert_false(janitor_reclassify_due(false, false, JANITOR_RECLASSIFY_FULL_MS - 1));
    assert_true(janitor_reclassify_due(false, false, JANITOR_RECLASSIFY_FULL_MS));
}

/* The round after a change sweeps too (followup), for inserts that raced the first sweep. */
static void test_the_round_after_a_change_sweeps(void **state)
{
    (void)state;
    assert_true(janitor_reclassify_due(false, true, 1000));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_change_sweeps),
        cmocka_unit_test(test_unchanged_mappings_do_not_sweep),
        cmocka_unit_test(test_the_round_after_a_change_sweeps),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
