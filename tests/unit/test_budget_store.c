/* test_budget_store.c: db/budget_store against a real, migrated PostgreSQL (migration 0012): a
 * limit grants at most its capacity per window, in chunks; a lease's tokens count until its hold
 * plus the interval and then come back; unspent tokens given back are free at once; a pause stops
 * every take (and an earlier pause never shortens a later one); four threads with their own pools
 * (four "instances") taking at once are granted exactly the capacity between them; the list shows
 * what is in use; bad arguments are refused. */
#include "db/budget_store.h"
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

static void sleep_ms(long ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static struct budget_grant take(struct db_pool *pool, const char *limit, int capacity,
                                int64_t interval_ms, int want, int hold_ms, int64_t ret_lease,
                                int ret_tokens)
{
    char err[256] = "";
    struct budget_take t = {.account = "hubspot:42",
                            .limit = limit,
                            .capacity = capacity,
                            .interval_ms = interval_ms,
                            .want = want,
                            .hold_ms = hold_ms,
                            .return_lease = ret_lease,
                            .return_tokens = ret_tokens};
    struct budget_grant g;
    if (budget_store_take(pool, 2000, &t, &g, err, sizeof err) != 0)
        fail_msg("budget_store_take: %s", err);
    return g;
}

static void test_capacity_chunks_and_window(void **state)
{
    struct testdb_pooled *f = *state;
    /* 10 tokens per 400 ms, chunks of 4 held 100 ms: 4 + 4 + 2, then none. */
    struct budget_grant a = take(f->pool, "burst", 10, 400, 4, 100, 0, 0);
    struct budget_grant b = take(f->pool, "burst", 10, 400, 4, 100, 0, 0);
    struct budget_grant c = take(f->pool, "burst", 10, 400, 4, 100, 0, 0);
    struct budget_grant d = take(f->pool, "burst", 10, 400, 4, 100, 0, 0);
    assert_int_equal(a.granted, 4);
    assert_int_equal(b.granted, 4);
    assert_int_equal(c.granted, 2);
    assert_true(a.lease_id > 0 && b.lease_id > a.lease_id);
    assert_int_equal(d.granted, 0);
    assert_int_equal(d.lease_id, 0);
    assert_int_equal(d.paused_ms, 0);
    /* the first lease frees at its hold (100) + the interval (400) */
    assert_true(d.wait_ms > 0 && d.wait_ms <= 500);
    assert_int_equal(testdb_long(f->db->watch, "SELECT refusals FROM crm_budget"), 1);
    assert_int_equal(testdb_long(f->db->watch, "SELECT taken FROM crm_budget"), 10);
    /* still counted after the hold alone */
    sleep_ms(200);
    assert_int_equal(take(f->pool, "burst", 10, 400, 4, 100, 0, 0).granted, 0);
    /* free once hold + interval have passed */
    sleep_ms(400);
    assert_int_equal(take(f->pool, "burst", 10, 400, 4, 100, 0, 0).granted, 4);
    /* another limit of the same account is its own bucket */
    assert_int_equal(take(f->pool, "search", 5, 1000, 5, 100, 0, 0).granted, 5);
}

static void test_give_back(void **state)
{
    struct testdb_pooled *f = *state;
    struct budget_grant a = take(f->pool, "burst", 6, 60000, 6, 100, 0, 0);
    assert_int_equal(a.granted, 6);
    assert_int_equal(take(f->pool, "burst", 6, 60000, 1, 100, 0, 0).granted, 0);
    /* 4 of the 6 were not spent: given back with the next take, which may then have 3 */
    struct budget_grant b = take(f->pool, "burst", 6, 60000, 3, 100, a.lease_id, 4);
    assert_int_equal(b.granted, 3);
    assert_int_equal(take(f->pool, "burst", 6, 60000, 3, 100, 0, 0).granted, 1);
    assert_int_equal(testdb_long(f->db->watch, "SELECT taken FROM crm_budget"), 6);
    /* a lease id of another limit gives nothing back */
    struct budget_grant s = take(f->pool, "search", 5, 60000, 5, 100, 0, 0);
    assert_int_equal(take(f->pool, "burst", 6, 60000, 1, 100, s.lease_id, 5).granted, 0);
}

static void test_pause(void **state)
{
    struct testdb_pooled *f = *state;
    char err[256] = "";
    int64_t left = 0;
    assert_int_equal(
        budget_store_paused(f->pool, 2000, "hubspot:42", "burst", &left, err, sizeof err), 0);
    assert_int_equal(left, 0);
    /* a pause of a limit never taken from creates its row */
    assert_int_equal(budget_store_pause(f->pool, 2000, "hubspot:42", "burst", 190, 10000, 3000,
                                        "TEN_SECONDLY_ROLLING", &left, err, sizeof err),
                     0);
    assert_true(left > 2500 && left <= 3000);
    struct budget_grant g = take(f->pool, "burst", 190, 10000, 10, 500, 0, 0);
    assert_int_equal(g.granted, 0);
    assert_true(g.paused_ms > 2500 && g.paused_ms <= 3000);
    /* a shorter pause keeps the longer one and its reason */
    assert_int_equal(budget_store_pause(f->pool, 2000, "hubspot:42", "burst", 190, 10000, 100,
                                        "other", &left, err, sizeof err),
                     0);
    assert_true(left > 2500);
    assert_string_equal(testdb_value(f->db->watch, "SELECT pause_reason FROM crm_budget"),
                        "TEN_SECONDLY_ROLLING");
    assert_int_equal(testdb_long(f->db->watch, "SELECT pauses FROM crm_budget"), 2);
    assert_int_equal(
        budget_store_paused(f->pool, 2000, "hubspot:42", "burst", &left, err, sizeof err), 0);
    assert_true(left > 2000);
    /* other accounts are not paused */
    assert_int_equal(
        budget_store_paused(f->pool, 2000, "hubspot:43", "burst", &left, err, sizeof err), 0);
    assert_int_equal(left, 0);
    /* the pause ends */
    testdb_exec_ok(f->db->watch, "UPDATE crm_budget SET paused_until = now() - interval '1 s'");
    assert_int_equal(take(f->pool, "burst", 190, 10000, 10, 500, 0, 0).granted, 10);
}

struct racer {
    const struct testdb *db;
    pthread_barrier_t *start;
    int granted;
    int calls;
};

static void *race(void *arg)
{
    struct racer *r = arg;
    struct db_pool *pool = testdb_pool(r->db, 1);
    /* connected before the race starts: otherwise on a quiet machine the first racer to connect
     * takes all 97 tokens before the others have a connection (a clean-clone run saw that) */
    char cerr[256];
    PGconn *c = db_pool_acquire(pool, 5000, cerr, sizeof cerr);
    if (c)
        db_pool_release(pool, c, false);
    pthread_barrier_wait(r->start);
    for (;;) {
        char err[256] = "";
        struct budget_take t = {.account = "hubspot:42",
                                .limit = "burst",
                                .capacity = 97,
                                .interval_ms = 60000,
                                .want = 3,
                                .hold_ms = 1000};
        struct budget_grant g;
        if (budget_store_take(pool, 5000, &t, &g, err, sizeof err) != 0) {
            r->granted = -1000;
            break;
        }
        r->calls++;
        if (g.granted == 0)
            break;
        r->granted += g.granted;
    }
    db_pool_destroy(pool, 1000);
    return NULL;
}

static void test_instances_share_exactly(void **state)
{
    struct testdb_pooled *f = *state;
    struct racer r[4];
    pthread_t th[4];
    pthread_barrier_t start;
    assert_int_equal(pthread_barrier_init(&start, NULL, 4), 0);
    for (int i = 0; i < 4; i++) {
        r[i] = (struct racer){.db = f->db, .start = &start};
        assert_int_equal(pthread_create(&th[i], NULL, race, &r[i]), 0);
    }
    int sum = 0, active = 0;
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        sum += r[i].granted;
        active += r[i].calls > 1;
    }
    pthread_barrier_destroy(&start);
    assert_int_equal(sum, 97);
    assert_true(active >= 2);
    assert_int_equal(testdb_long(f->db->watch, "SELECT sum(tokens) FROM crm_budget_leases"), 97);
}

static void test_list_and_bad_args(void **state)
{
    struct testdb_pooled *f = *state;
    char err[256] = "";
    take(f->pool, "burst", 190, 10000, 7, 500, 0, 0);
    take(f->pool, "search", 5, 1000, 1, 200, 0, 0);
    assert_int_equal(budget_store_pause(f->pool, 2000, "salesforce:00D000000000001", "daily", 1,
                                        86400000, 60000, "REQUEST_LIMIT_EXCEEDED", NULL, err,
                                        sizeof err),
                     0);
    struct budget_row rows[8];
    size_t n = 0;
    assert_int_equal(budget_store_list(f->pool, 2000, "hubspot:", rows, 8, &n, err, sizeof err), 0);
    assert_int_equal(n, 2);
    assert_string_equal(rows[0].limit, "burst");
    assert_int_equal(rows[0].capacity, 190);
    assert_int_equal(rows[0].in_use, 7);
    assert_int_equal(rows[0].taken, 7);
    assert_string_equal(rows[1].limit, "search");
    assert_int_equal(rows[1].interval_ms, 1000);
    assert_int_equal(budget_store_list(f->pool, 2000, "", rows, 8, &n, err, sizeof err), 0);
    assert_int_equal(n, 3);
    assert_string_equal(rows[2].account, "salesforce:00D000000000001");
    assert_true(rows[2].paused_ms > 50000);
    assert_string_equal(rows[2].pause_reason, "REQUEST_LIMIT_EXCEEDED");
    /* a prefix with LIKE's wildcards matches only itself */
    assert_int_equal(budget_store_list(f->pool, 2000, "%", rows, 8, &n, err, sizeof err), 0);
    assert_int_equal(n, 0);
    assert_int_equal(budget_store_list(f->pool, 2000, "", rows, 1, &n, err, sizeof err), 0);
    assert_int_equal(n, 1);

    struct budget_grant g;
    struct budget_take bad = {.account = "hubspot:42",
                              .limit = "burst",
                              .capacity = 0,
                              .interval_ms = 1000,
                              .want = 1,
                              .hold_ms = 100};
    assert_int_equal(budget_store_take(f->pool, 2000, &bad, &g, err, sizeof err), -1);
    bad.capacity = 5;
    bad.want = 0;
    assert_int_equal(budget_store_take(f->pool, 2000, &bad, &g, err, sizeof err), -1);
    /* the database refuses a hostile limit name (CHECK) */
    bad.want = 1;
    bad.limit = "burst'; DROP TABLE crm_budget; --";
    assert_int_equal(budget_store_take(f->pool, 2000, &bad, &g, err, sizeof err), -1);
    assert_int_equal(testdb_long(f->db->watch, "SELECT count(*) FROM crm_budget"), 3);
    assert_int_equal(budget_store_pause(f->pool, 2000, "hubspot:42", "burst", 190, 10000, 0, "x",
                                        NULL, err, sizeof err),
                     -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_capacity_chunks_and_window, testdb_pooled_setup,
                                        testdb_pooled_teardown),
        cmocka_unit_test_setup_teardown(test_give_back, testdb_pooled_setup,
                                        testdb_pooled_teardown),
        cmocka_unit_test_setup_teardown(test_pause, testdb_pooled_setup, testdb_pooled_teardown),
        cmocka_unit_test_setup_teardown(test_instances_share_exactly, testdb_pooled_setup,
                                        testdb_pooled_teardown),
        cmocka_unit_test_setup_teardown(test_list_and_bad_args, testdb_pooled_setup,
                                        testdb_pooled_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
