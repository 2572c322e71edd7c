/* test_shared_budget.c: crm/shared_budget against a real, migrated PostgreSQL, with two budgets on
 * two pools standing for two instances: tokens come in chunks (one lease per chunk), both instances
 * together get the capacity and then wait or are refused at their deadline with how long to wait;
 * unspent tokens of an ended lease go back; a pause set by one instance stops the other (acquire
 * and wait_unpaused, also to 8 threads of a new instance asking at once); a database that does not
 * answer gives -2 (the caller's fallback), for a second without trying again. */
#include "base/clock.h"
#include "crm/shared_budget.h"
#include "db/pool.h"
#include "testdb.h"
#include "testdb_sql.h"

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

static struct shared_budget *budget(struct db_pool *pool, int capacity, int64_t interval_ms,
                                    int chunk, int hold_ms)
{
    struct shared_budget *sb = shared_budget_create(pool, "hubspot", "hubspot:77");
    assert_non_null(sb);
    struct shared_limit_options o = {.name = "burst",
                                     .capacity = capacity,
                                     .interval_ms = interval_ms,
                                     .chunk = chunk,
                                     .hold_ms = hold_ms};
    assert_int_equal(shared_budget_add_limit(sb, &o), 0);
    return sb;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static void test_chunks_capacity_and_deadline(void **state)
{
    struct testdb_pooled *f = *state;
    struct db_pool *pool_b = testdb_pool(f->db, 1);
    struct shared_budget *a = budget(f->pool, 10, 60000, 4, 5000);
    struct shared_budget *b = budget(pool_b, 10, 60000, 4, 5000);
    int64_t ra = -1;
    /* 4 calls of a: one lease (one round trip) */
    for (int i = 0; i < 4; i++)
        assert_int_equal(shared_budget_acquire(a, 0, -1, NULL), 0);
    assert_int_equal(testdb_long(f->db->watch, "SELECT count(*) FROM crm_budget_leases"), 1);
    /* b takes the next 4, a the last 2: the portal's 10 */
    for (int i = 0; i < 4; i++)
        assert_int_equal(shared_budget_acquire(b, 0, -1, NULL), 0);
    assert_int_equal(shared_budget_acquire(a, 0, -1, NULL), 0);
    assert_int_equal(shared_budget_acquire(a, 0, -1, NULL), 0);
    assert_int_equal(testdb_long(f->db->watch, "SELECT sum(tokens) FROM crm_budget_leases"), 10);
    /* none left this minute: refused at the deadline, with how long to wait */
    int64_t t0 = clock_mono_ms();
    assert_int_equal(shared_budget_acquire(b, 0, clock_mono_ms() + 200, &ra), -1);
    assert_true(clock_mono_ms() - t0 < 2000);
    assert_true(ra > 50000 && ra <= 65000);
    shared_budget_destroy(a);
    shared_budget_destroy(b);
    db_pool_destroy(pool_b, 1000);
}

static void test_give_back_and_window(void **state)
{
    struct testdb_pooled *f = *state;
    /* 6 per 400 ms, chunks of 6 held 100 ms */
    struct shared_budget *a = budget(f->pool, 6, 400, 6, 100);
    assert_int_equal(shared_budget_acquire(a, 0, -1, NULL), 0);
    sleep_ms(150); /* the lease has ended with 5 unspent */
    /* the next lease gives 5 back and may take them again at once */
    for (int i = 0; i < 5; i++)
        assert_int_equal(shared_budget_acquire(a, 0, clock_mono_ms() + 50, NULL), 0);
    /* 6 spent in this window: the next waits for the first lease's hold + interval */
    int64_t t0 = clock_mono_ms();
    assert_int_equal(shared_budget_acquire(a, 0, clock_mono_ms() + 2000, NULL), 0);
    int64_t waited = clock_mono_ms() - t0;
    assert_true(waited >= 100);
    shared_budget_destroy(a);
}

static void test_pause_reaches_the_other_instance(void **state)
{
    struct testdb_pooled *f = *state;
    struct db_pool *pool_b = testdb_pool(f->db, 1);
    struct shared_budget *a = budget(f->pool, 100, 10000, 1, 100);
    struct shared_budget *b = budget(pool_b, 100, 10000, 1, 100);
    assert_int_equal(shared_budget_acquire(b, 0, -1, NULL), 0);
    shared_budget_pause(a, 0, 800, "TEN_SECONDLY_ROLLING");
    assert_string_equal(testdb_value(f->db->watch, "SELECT pause_reason FROM crm_budget"),
                        "TEN_SECONDLY_ROLLING");
    /* b learns it from the database: refused before the pause ends, let through after */
    sleep_ms(150); /* b's lease has ended */
    int64_t ra = 0;
    assert_int_equal(shared_budget_acquire(b, 0, clock_mono_ms() + 100, &ra), -1);
    assert_true(ra > 300 && ra <= 800);
    int64_t t0 = clock_mono_ms();
    assert_int_equal(shared_budget_acquire(b, 0, clock_mono_ms() + 3000, NULL), 0);
    assert_true(clock_mono_ms() - t0 >= 300);
    /* wait_unpaused (Salesforce's): the same */
    shared_budget_pause(a, 0, 600, "REQUEST_LIMIT_EXCEEDED");
    struct shared_budget *c = budget(pool_b, 100, 10000, 1, 100);
    assert_int_equal(shared_budget_wait_unpaused(c, 0, clock_mono_ms() + 100, &ra), -1);
    assert_true(ra > 200 && ra <= 600);
    assert_int_equal(shared_budget_wait_unpaused(c, 0, clock_mono_ms() + 3000, NULL), 0);
    shared_budget_destroy(a);
    shared_budget_destroy(b);
    shared_budget_destroy(c);
    db_pool_destroy(pool_b, 1000);
}

#define STARTERS 8

struct starter {
    struct shared_budget *sb;
    int rc;
};

static void *starter_thread(void *arg)
{
    struct starter *st = arg;
    st->rc = shared_budget_wait_unpaused(st->sb, 0, clock_mono_ms() + 100, NULL);
    return NULL;
}

/* An instance that starts while another has paused the limit: however many threads ask at once,
 * none is let through before the first read of the pause has answered (the others wait for that
 * read instead of going on what they know, which is nothing yet). */
static void test_pause_read_before_first_calls(void **state)
{
    struct testdb_pooled *f = *state;
    struct db_pool *pool_b = testdb_pool(f->db, 1);
    struct shared_budget *a = budget(f->pool, 100, 10000, 1, 100);
    shared_budget_pause(a, 0, 60000, "daily usage 95 of 100 reached X=95");
    for (int round = 0; round < 5; round++) {
        struct shared_budget *b = budget(pool_b, 100, 10000, 1, 100);
        struct starter st[STARTERS];
        pthread_t th[STARTERS];
        for (int i = 0; i < STARTERS; i++) {
            st[i] = (struct starter){.sb = b, .rc = 99};
            assert_int_equal(pthread_create(&th[i], NULL, starter_thread, &st[i]), 0);
        }
        for (int i = 0; i < STARTERS; i++)
            pthread_join(th[i], NULL);
        for (int i = 0; i < STARTERS; i++)
            assert_int_equal(st[i].rc, -1);
        shared_budget_destroy(b);
    }
    shared_budget_destroy(a);
    db_pool_destroy(pool_b, 1000);
}

static void test_database_down_falls_back(void **state)
{
    (void)state;
    struct db_pool_options o = {.conninfo = "postgresql://nobody@127.0.0.1:1/none",
                                .size = 1,
                                .connect_timeout_s = 1,
                                .application_name = "synkro-unit"};
    struct db_pool *dead = db_pool_create(&o);
    assert_non_null(dead);
    struct shared_budget *a = budget(dead, 10, 10000, 2, 500);
    assert_int_equal(shared_budget_acquire(a, 0, -1, NULL), -2);
    /* for a second every call answers -2 at once, without trying the database again */
    int64_t t0 = clock_mono_ms();
    for (int i = 0; i < 100; i++)
        assert_int_equal(shared_budget_acquire(a, 0, -1, NULL), -2);
    assert_true(clock_mono_ms() - t0 < 500);
    /* bad arguments */
    assert_null(shared_budget_create(NULL, "hubspot", "x"));
    assert_null(shared_budget_create(dead, "hubspot", ""));
    struct shared_limit_options bad = {
        .name = "", .capacity = 1, .interval_ms = 1, .chunk = 1, .hold_ms = 1};
    assert_int_equal(shared_budget_add_limit(a, &bad), -1);
    assert_int_equal(shared_budget_acquire(a, 5, -1, NULL), -2);
    shared_budget_destroy(a);
    db_pool_destroy(dead, 1000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_chunks_capacity_and_deadline, testdb_pooled_setup,
                                        testdb_pooled_teardown),
        cmocka_unit_test_setup_teardown(test_give_back_and_window, testdb_pooled_setup,
                                        testdb_pooled_teardown),
        cmocka_unit_test_setup_teardown(test_pause_reaches_the_other_instance, testdb_pooled_setup,
                                        testdb_pooled_teardown),
        cmocka_unit_test_setup_teardown(test_pause_read_before_first_calls, testdb_pooled_setup,
                                        testdb_pooled_teardown),
        cmocka_unit_test(test_database_down_falls_back),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
