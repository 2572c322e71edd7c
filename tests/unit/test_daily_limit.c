/* test_daily_limit.c: unit tests for crm/daily_limit (the CRMs' daily allocation headers and the
 * stop before it is used up).
 *
 * Parsing: HubSpot's X-HubSpot-RateLimit-Daily / -Daily-Remaining and Salesforce's
 * Sforce-Limit-Info, well-formed and hostile (absent, empty, signs, garbage after the digits,
 * overflow, remaining above max, a zero max, an entry whose name only ends in api-usage). The
 * threshold: exactly at the share, one under, 100%, clamped percents, huge values. The stop: one
 * pause per episode whatever the number of answers in flight (also from 8 threads at once), no
 * second stop before the first ends, the probe after it stops again, a late answer from before
 * the stop cannot resume it, a reading under the max after it resumes. The UTC-midnight pause. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "crm/daily_limit.h"

static void test_parse_count(void **state)
{
    (void)state;
    long long v = -1;
    assert_int_equal(daily_limit_parse_count("0", &v), 0);
    assert_int_equal(v, 0);
    assert_int_equal(daily_limit_parse_count(" 650000 ", &v), 0);
    assert_int_equal(v, 650000);
    assert_int_equal(daily_limit_parse_count("1000000000000", &v), 0);
    const char *bad[] = {"",
                         " ",
                         "-1",
                         "+5",
                         "12abc",
                         "0x10",
                         "1e6",
                         "1 2",
                         "10000000000001",
                         "99999999999999999999999999",
                         "3.5",
                         "\t\n7",
                         "NaN"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        v = 42;
        assert_int_equal(daily_limit_parse_count(bad[i], &v), -1);
        assert_int_equal(v, 42); /* untouched */
    }
    assert_int_equal(daily_limit_parse_count(NULL, &v), -1);
}

static void test_parse_hubspot(void **state)
{
    (void)state;
    long long used = -1, max = -1;
    assert_int_equal(daily_limit_parse_hubspot("650000", "649000", &used, &max), 0);
    assert_int_equal(used, 1000);
    assert_int_equal(max, 650000);
    assert_int_equal(daily_limit_parse_hubspot("200", "0", &used, &max), 0);
    assert_int_equal(used, 200);
    assert_int_equal(daily_limit_parse_hubspot("200", "200", &used, &max), 0);
    assert_int_equal(used, 0);
    used = max = 7;
    assert_int_equal(daily_limit_parse_hubspot(NULL, "10", &used, &max), -1);
    assert_int_equal(daily_limit_parse_hubspot("10", NULL, &used, &max), -1);
    assert_int_equal(daily_limit_parse_hubspot("10", "11", &used, &max), -1); /* remaining > max */
    assert_int_equal(daily_limit_parse_hubspot("0", "0", &used, &max), -1);   /* no allocation */
    assert_int_equal(daily_limit_parse_hubspot("10", "-1", &used, &max), -1);
    assert_int_equal(daily_limit_parse_hubspot("-10", "1", &used, &max), -1);
    assert_int_equal(daily_limit_parse_hubspot("abc", "1", &used, &max), -1);
    assert_int_equal(daily_limit_parse_hubspot("10", "", &used, &max), -1);
    assert_int_equal(daily_limit_parse_hubspot("99999999999999999999", "1", &used, &max), -1);
    assert_int_equal(used, 7);
    assert_int_equal(max, 7);
}

static void test_parse_salesforce(void **state)
{
    (void)state;
    long long used = -1, max = -1;
    assert_int_equal(daily_limit_parse_salesforce("api-usage=25/100000", &used, &max), 0);
    assert_int_equal(used, 25);
    assert_int_equal(max, 100000);
    assert_int_equal(daily_limit_parse_salesforce("per-app-api-usage=1/2(appName=x), api-usage=7/9",
                                                  &used, &max),
                     0);
    assert_int_equal(used, 7);
    assert_int_equal(max, 9);
    assert_int_equal(daily_limit_parse_salesforce(
                         "api-usage=18/5000; per-app-api-usage=17/250(appName=x)", &used, &max),
                     0);
    assert_int_equal(used, 18);
    assert_int_equal(daily_limit_parse_salesforce("api-usage=120/100", &used, &max), 0);
    assert_int_equal(used, 120); /* over: Salesforce allows a little */
    used = max = 3;
    const char *bad[] = {"",
                         "api-usage=",
                         "api-usage=5",
                         "api-usage=5/",
                         "api-usage=5/0",
                         "api-usage=-5/10",
                         "api-usage=5/-10",
                         "api-usage=5/10x",
                         "api-usage=5/99999999999999999999",
                         "per-app-api-usage=1/2",
                         "xapi-usage=1/2"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(daily_limit_parse_salesforce(bad[i], &used, &max), -1);
    assert_int_equal(daily_limit_parse_salesforce(NULL, &used, &max), -1);
    assert_int_equal(used, 3);
    assert_int_equal(max, 3);
}

static void test_reached(void **state)
{
    (void)state;
    assert_true(daily_limit_reached(90, 100, 90));
    assert_false(daily_limit_reached(89, 100, 90));
    assert_true(daily_limit_reached(585000, 650000, 90));
    assert_false(daily_limit_reached(584999, 650000, 90));
    assert_true(daily_limit_reached(100, 100, 100));
    assert_false(daily_limit_reached(99, 100, 100));
    assert_true(daily_limit_reached(150, 100, 95)); /* over the allocation */
    assert_false(daily_limit_reached(0, 100, 1));
    assert_true(daily_limit_reached(1, 100, 0));     /* clamped to 1% */
    assert_false(daily_limit_reached(99, 100, 500)); /* clamped to 100% */
    assert_false(daily_limit_reached(5, 0, 90));
    assert_false(daily_limit_reached(-5, 100, 90));
    assert_true(daily_limit_reached(INT64_MAX, INT64_MAX, 100));
    assert_false(daily_limit_reached(INT64_MAX / 2, INT64_MAX, 90));
}

static void test_until_utc_midnight(void **state)
{
    (void)state;
    const int64_t day = 86400000, hour = 3600000;
    int64_t midnight = 20000 * day;
    assert_int_equal(daily_limit_until_utc_midnight(midnight + day - 60000, hour), 60000);
    assert_int_equal(daily_limit_until_utc_midnight(midnight + 5 * hour, hour), hour);
    assert_int_equal(daily_limit_until_utc_midnight(midnight + day - 10, hour), 1000);
    assert_int_equal(daily_limit_until_utc_midnight(midnight, 0), day);
}

static void test_stop_once_then_probe_then_resume(void **state)
{
    (void)state;
    struct daily_stop ds;
    daily_stop_init(&ds, "hubspot", "HUBSPOT_DAILY_MAX_PERCENT", 90);
    char why[200] = "";
    int64_t t = 1000000;
    assert_int_equal(daily_stop_note(&ds, 89, 100, t, 5000, why, sizeof why), 0);
    assert_int_equal(daily_stop_left(&ds, t), 0);
    assert_int_equal(daily_stop_note(&ds, 90, 100, t, 5000, why, sizeof why), 5000);
    assert_non_null(strstr(why, "HUBSPOT_DAILY_MAX_PERCENT=90"));
    assert_non_null(strstr(why, "90 of 100"));
    assert_int_equal(daily_stop_left(&ds, t + 1000), 4000);
    assert_true(atomic_load(&ds.stopped));
    /* answers of calls in flight: no second pause */
    assert_int_equal(daily_stop_note(&ds, 91, 100, t + 10, 5000, why, sizeof why), 0);
    /* a late answer from before the stop (under the max) does not resume it */
    assert_int_equal(daily_stop_note(&ds, 85, 100, t + 20, 5000, why, sizeof why), 0);
    assert_true(atomic_load(&ds.stopped));
    assert_int_equal(daily_stop_left(&ds, t + 20), 4980);
    /* the probe after the stop: still reached, stops again */
    assert_int_equal(daily_stop_note(&ds, 92, 100, t + 5000, 5000, why, sizeof why), 5000);
    assert_true(atomic_load(&ds.stopped));
    /* after the reset: the probe's answer resumes */
    assert_int_equal(daily_stop_note(&ds, 1, 100, t + 10000, 5000, why, sizeof why), 0);
    assert_false(atomic_load(&ds.stopped));
    assert_int_equal(daily_stop_left(&ds, t + 10000), 0);
    /* a zero pause never stops */
    assert_int_equal(daily_stop_note(&ds, 100, 100, t + 20000, 0, why, sizeof why), 0);
}

#define THREADS 8
#define READS   2000

struct race {
    struct daily_stop *ds;
    atomic_int pauses;
};

static void *race_thread(void *arg)
{
    struct race *r = arg;
    char why[200];
    for (int i = 0; i < READS; i++)
        if (daily_stop_note(r->ds, 95, 100, 5000000, 60000, why, sizeof why) > 0)
            atomic_fetch_add(&r->pauses, 1);
    return NULL;
}

static void test_stop_once_from_many_threads(void **state)
{
    (void)state;
    struct daily_stop ds;
    daily_stop_init(&ds, "salesforce", "SALESFORCE_API_DAILY_MAX_PERCENT", 95);
    struct race r = {.ds = &ds};
    pthread_t th[THREADS];
    for (int i = 0; i < THREADS; i++)
        assert_int_equal(pthread_create(&th[i], NULL, race_thread, &r), 0);
    for (int i = 0; i < THREADS; i++)
        pthread_join(th[i], NULL);
    assert_int_equal(atomic_load(&r.pauses), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_count),
        cmocka_unit_test(test_parse_hubspot),
        cmocka_unit_test(test_parse_salesforce),
        cmocka_unit_test(test_reached),
        cmocka_unit_test(test_until_utc_midnight),
        cmocka_unit_test(test_stop_once_then_probe_then_resume),
        cmocka_unit_test(test_stop_once_from_many_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
