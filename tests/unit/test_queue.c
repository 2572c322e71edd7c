/* test_queue.c: db/queue's readings of the whole queue against a real, migrated PostgreSQL: the
 * queue lag (age of the oldest due pending event; events not due, leased or finished do not
 * count). */
#include "db/queue.h"
#include "testdb.h"
#include "testdb_sql.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

/* One event with status and received_at / next_attempt_at the given seconds from now. */
static void add_event(PGconn *conn, const char *key, const char *status, int received_s, int next_s)
{
    char sql[512];
    snprintf(sql, sizeof sql,
             "INSERT INTO change_events (source, idempotency_key, object_type, record_id, kind,"
             " status, received_at, next_attempt_at, payload, finished_at, lease_owner,"
             " lease_until) VALUES"
             " ('hubspot', '%s', '2-100', '%s', 'update', '%s',"
             "  now() + %d * interval '1 second', now() + %d * interval '1 second', '{}',"
             "  CASE WHEN '%s' IN ('done', 'failed') THEN now() END,"
             "  CASE WHEN '%s' = 'processing' THEN 'w' END,"
             "  CASE WHEN '%s' = 'processing' THEN now() + interval '1 minute' END)",
             key, key, status, received_s, next_s, status, status, status);
    testdb_exec_ok(conn, sql);
}

static double lag(PGconn *conn)
{
    char err[256] = "";
    double s = -1;
    if (queue_lag_seconds(conn, &s, err, sizeof err) != 0)
        fail_msg("queue_lag_seconds: %s", err);
    return s;
}

static void test_lag(void **state)
{
    struct testdb *db = *state;
    assert_true(lag(db->watch) == 0.0);
    /* not due, leased, finished, or held: no lag */
    add_event(db->watch, "later", "pending", -600, 60);
    add_event(db->watch, "leased", "processing", -500, -500);
    add_event(db->watch, "done", "done", -400, -400);
    add_event(db->watch, "held", "held", -300, -300);
    assert_true(lag(db->watch) == 0.0);
    /* the oldest due pending event by due time: received 30 s ago */
    add_event(db->watch, "due1", "pending", -30, -20);
    add_event(db->watch, "due2", "pending", -100, -10);
    double s = lag(db->watch);
    assert_true(s >= 29.0 && s < 60.0);
}

int main(void)
{
    setvbuf(stdout, NULL, _IONBF, 0);
#define T(fn) cmocka_unit_test_setup_teardown(fn, testdb_setup_migrated, testdb_teardown)
    const struct CMUnitTest tests[] = {
        T(test_lag),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
