/* test_janitor.c: the janitor's decisions that need no thread or database: when the
 * reclassification sweep runs (janitor_reclassify_due). */
#include "server/janitor.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

/* The first round always sweeps: nothing is known of the events inserted before the start. */
static void test_first_round_sweeps(void **state)
{
    (void)state;
    assert_true(janitor_reclassify_due(NULL, "a", false, 0));
    assert_true(janitor_reclassify_due(NULL, NULL, false, 0));
}

/* Unchanged mappings: no sweep, however often the job runs, until the full interval. */
static void test_unchanged_mappings_do_not_sweep(void **state)
{
    (void)state;
    assert_false(janitor_reclassify_due("a", "a", false, 5000));
    assert_false(janitor_reclassify_due("a", "a", false, JANITOR_RECLASSIFY_FULL_MS - 1));
    assert_true(janitor_reclassify_due("a", "a", false, JANITOR_RECLASSIFY_FULL_MS));
}

/* A change sweeps, and so does the round after it (followup), for inserts that raced. */
static void test_change_and_the_round_after_sweep(void **state)
{
    (void)state;
    assert_true(janitor_reclassify_due("a", "b", false, 1000));
    assert_true(janitor_reclassify_due("b", "b", true, 1000));
    assert_false(janitor_reclassify_due("b", "b", false, 1000));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_first_round_sweeps),
        cmocka_unit_test(test_unchanged_mappings_do_not_sweep),
        cmocka_unit_test(test_change_and_the_round_after_sweep),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
