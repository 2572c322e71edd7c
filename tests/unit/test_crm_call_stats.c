/* test_crm_call_stats.c: unit tests for crm/crm_call_stats (a CRM client's calls and rate-limit
 * refusals of the last hour, the ring of its last 20 refusals, the daily allocation).
 *
 * Per-minute counters: counts within the hour, a minute 60 minutes old no longer counts, a slot
 * reused an hour later starts from zero, a clock that went back. The ring: newest first, wraps
 * after 20 keeping the newest 20, policy defaults and truncation. Usage: bad values ignored.
 * Concurrency: 8 threads counting calls and refusals at once lose none, and a reader taking
 * snapshots meanwhile always sees a ring of at most 20 in order. Also: NULL is harmless, and the
 * budget JSON (crm/crm_budget) of unconfigured clients. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "crm/crm_budget.h"
#include "crm/crm_call_stats.h"

#define MIN_MS   60000LL
#define T0       (1700000000000LL) /* an arbitrary wall-clock instant */
#define THREADS  8
#define PER_TASK 5000

static void test_counts_within_the_hour(void **state)
{
    (void)state;
    struct crm_call_stats *s = crm_call_stats_create();
    assert_non_null(s);
    for (int m = 0; m < 60; m++) {
        crm_call_stats_note_call(s, T0 + m * MIN_MS);
        crm_call_stats_note_call(s, T0 + m * MIN_MS + 1000);
    }
    crm_call_stats_note_refusal(s, T0 + 10 * MIN_MS, "TEN_SECONDLY_ROLLING", 10000);
    struct crm_call_stats_snapshot snap;
    crm_call_stats_snapshot(s, T0 + 59 * MIN_MS + 5000, &snap);
    assert_int_equal(snap.calls_last_hour, 120);
    assert_int_equal(snap.rate_limited_last_hour, 1);
    /* one minute later the first minute has left the hour */
    crm_call_stats_snapshot(s, T0 + 60 * MIN_MS + 5000, &snap);
    assert_int_equal(snap.calls_last_hour, 118);
    /* the refusal's minute (10) leaves at minute 70 */
    crm_call_stats_snapshot(s, T0 + 70 * MIN_MS, &snap);
    assert_int_equal(snap.rate_limited_last_hour, 0);
    assert_int_equal(snap.nrecent, 1); /* the ring keeps it: it is the last refusal */
    /* hours later nothing counts */
    crm_call_stats_snapshot(s, T0 + 600 * MIN_MS, &snap);
    assert_int_equal(snap.calls_last_hour, 0);
    crm_call_stats_destroy(s);
}

static void test_slot_reused_an_hour_later_starts_at_zero(void **state)
{
    (void)state;
    struct crm_call_stats *s = crm_call_stats_create();
    for (int i = 0; i < 5; i++)
        crm_call_stats_note_call(s, T0);
    /* the same slot (minute % 60) one hour later */
    crm_call_stats_note_call(s, T0 + 60 * MIN_MS);
    struct crm_call_stats_snapshot snap;
    crm_call_stats_snapshot(s, T0 + 60 * MIN_MS, &snap);
    assert_int_equal(snap.calls_last_hour, 1);
    /* a clock gone back does not count the newer minute as the past hour's */
    crm_call_stats_snapshot(s, T0 - 5 * MIN_MS, &snap);
    assert_int_equal(snap.calls_last_hour, 0);
    crm_call_stats_destroy(s);
}

static void test_ring_wraps_newest_first(void **state)
{
    (void)state;
    struct crm_call_stats *s = crm_call_stats_create();
    for (int i = 0; i < 47; i++) {
        char policy[16];
        snprintf(policy, sizeof policy, "P%d", i);
        crm_call_stats_note_refusal(s, T0 + i, policy, i * 10);
    }
    struct crm_call_stats_snapshot snap;
    crm_call_stats_snapshot(s, T0 + 100, &snap);
    assert_int_equal(snap.nrecent, CRM_CALL_STATS_RECENT);
    assert_int_equal(snap.rate_limited_last_hour, 47);
    for (int i = 0; i < CRM_CALL_STATS_RECENT; i++) {
        char want[16];
        snprintf(want, sizeof want, "P%d", 46 - i);
        assert_string_equal(snap.recent[i].policy, want);
        assert_int_equal(snap.recent[i].at_ms, T0 + 46 - i);
        assert_int_equal(snap.recent[i].retry_after_ms, (46 - i) * 10);
    }
    crm_call_stats_destroy(s);
}

static void test_policy_defaults_and_truncation(void **state)
{
    (void)state;
    struct crm_call_stats *s = crm_call_stats_create();
    crm_call_stats_note_refusal(s, T0, NULL, -5);
    crm_call_stats_note_refusal(s, T0 + 1, "", 0);
    char longp[200];
    memset(longp, 'X', sizeof longp - 1);
    longp[sizeof longp - 1] = '\0';
    crm_call_stats_note_refusal(s, T0 + 2, longp, 1000);
    struct crm_call_stats_snapshot snap;
    crm_call_stats_snapshot(s, T0 + 3, &snap);
    assert_int_equal(snap.nrecent, 3);
    assert_int_equal(strlen(snap.recent[0].policy), sizeof snap.recent[0].policy - 1);
    assert_string_equal(snap.recent[1].policy, "UNKNOWN");
    assert_string_equal(snap.recent[2].policy, "UNKNOWN");
    assert_int_equal(snap.recent[2].retry_after_ms, 0);
    crm_call_stats_destroy(s);
}

static void test_usage(void **state)
{
    (void)state;
    struct crm_call_stats *s = crm_call_stats_create();
    struct crm_call_stats_snapshot snap;
    crm_call_stats_snapshot(s, T0, &snap);
    assert_false(snap.have_usage);
    crm_call_stats_note_usage(s, 5, 0);
    crm_call_stats_note_usage(s, -1, 10);
    crm_call_stats_snapshot(s, T0, &snap);
    assert_false(snap.have_usage);
    crm_call_stats_note_usage(s, 120, 15000);
    crm_call_stats_snapshot(s, T0, &snap);
    assert_true(snap.have_usage);
    assert_int_equal(snap.usage_used, 120);
    assert_int_equal(snap.usage_max, 15000);
    crm_call_stats_destroy(s);
}

static void test_null_is_harmless(void **state)
{
    (void)state;
    crm_call_stats_note_call(NULL, T0);
    crm_call_stats_note_refusal(NULL, T0, "X", 1);
    crm_call_stats_note_usage(NULL, 1, 2);
    struct crm_call_stats_snapshot snap;
    memset(&snap, 0x5a, sizeof snap);
    crm_call_stats_snapshot(NULL, T0, &snap);
    assert_int_equal(snap.calls_last_hour, 0);
    assert_int_equal(snap.nrecent, 0);
    crm_call_stats_destroy(NULL);
}

struct task {
    struct crm_call_stats *s;
    int index;
};

static void *count_task(void *arg)
{
    struct task *t = arg;
    for (int i = 0; i < PER_TASK; i++) {
        /* spread over three minutes so slots are shared and reset concurrently only once */
        int64_t at = T0 + (int64_t)(i % 3) * MIN_MS + t->index;
        crm_call_stats_note_call(t->s, at);
        if (i % 10 == 0)
            crm_call_stats_note_refusal(t->s, at, "SECONDLY", 1000);
    }
    return NULL;
}

static atomic_int reader_stop;

static void *reader_task(void *arg)
{
    struct crm_call_stats *s = arg;
    int bad = 0;
    while (!atomic_load(&reader_stop)) {
        struct crm_call_stats_snapshot snap;
        crm_call_stats_snapshot(s, T0 + 3 * MIN_MS, &snap);
        if (snap.nrecent > CRM_CALL_STATS_RECENT || snap.nrecent < 0)
            bad++;
        for (int i = 0; i < snap.nrecent; i++)
            if (strcmp(snap.recent[i].policy, "SECONDLY") != 0)
                bad++;
    }
    return (void *)(intptr_t)bad;
}

static void test_threads_lose_nothing(void **state)
{
    (void)state;
    struct crm_call_stats *s = crm_call_stats_create();
    /* touch every minute first, so no reset happens while the threads count */
    for (int m = 0; m < 3; m++)
        crm_call_stats_note_call(s, T0 + m * MIN_MS);
    pthread_t th[THREADS], reader;
    struct task tasks[THREADS];
    atomic_store(&reader_stop, 0);
    assert_int_equal(pthread_create(&reader, NULL, reader_task, s), 0);
    for (int i = 0; i < THREADS; i++) {
        tasks[i] = (struct task){.s = s, .index = i};
        assert_int_equal(pthread_create(&th[i], NULL, count_task, &tasks[i]), 0);
    }
    for (int i = 0; i < THREADS; i++)
        pthread_join(th[i], NULL);
    atomic_store(&reader_stop, 1);
    void *bad;
    pthread_join(reader, &bad);
    assert_int_equal((intptr_t)bad, 0);
    struct crm_call_stats_snapshot snap;
    crm_call_stats_snapshot(s, T0 + 3 * MIN_MS, &snap);
    assert_int_equal(snap.calls_last_hour, THREADS * PER_TASK + 3);
    assert_int_equal(snap.rate_limited_last_hour, THREADS * (PER_TASK / 10));
    assert_int_equal(snap.nrecent, CRM_CALL_STATS_RECENT);
    crm_call_stats_destroy(s);
}

static void test_budget_json_without_clients(void **state)
{
    (void)state;
    struct crm_clients none = {0};
    json_object *j = crm_budget_json(&none, T0);
    assert_non_null(j);
    const char *text = json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN);
    assert_string_equal(text,
                        "{\"hubspot\":{\"configured\":false,\"limits\":[],\"calls_last_hour\":0,"
                        "\"rate_limited_last_hour\":0,\"recent_429\":[],"
                        "\"daily_api_requests\":null,\"shared\":null},"
                        "\"salesforce\":{\"configured\":false,\"limits\":[],\"calls_last_hour\":0,"
                        "\"rate_limited_last_hour\":0,\"recent_429\":[],"
                        "\"daily_api_requests\":null,\"shared\":null}}");
    json_object_put(j);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_counts_within_the_hour),
        cmocka_unit_test(test_slot_reused_an_hour_later_starts_at_zero),
        cmocka_unit_test(test_ring_wraps_newest_first),
        cmocka_unit_test(test_policy_defaults_and_truncation),
        cmocka_unit_test(test_usage),
        cmocka_unit_test(test_null_is_harmless),
        cmocka_unit_test(test_threads_lose_nothing),
        cmocka_unit_test(test_budget_json_without_clients),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
