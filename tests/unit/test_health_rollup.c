/* test_health_rollup.c: the janitor's health rollup (db/health_rollup.c) against a real, migrated
 * PostgreSQL holding 20,000 finished events older than the rollup keeps: rebuilt from no
 * watermark, its five-minute periods equal a plain aggregate of change_events; after events change
 * state (pending -> done and done -> failed inside the periods a step recomputes, and new ones
 * finishing) the next step's figures equal it again; and a step reads only the events of its range
 * through the index (no scan of change_events, no range on finished_at alone that walks every
 * finished event, no JIT), so its cost does not grow with the events kept.
 *
 * Must not: depend on the wall clock beyond "now": every time is relative to now(). */
#include "db/health_rollup.h"
#include "testdb.h"
#include "testdb_sql.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

/* The periods of the rollup's window the check compares: from 2 days less one period ago (the
 * oldest period may be pruned while a step runs) up to the watermark. */
#define WINDOW_SQL                                                                                 \
    " period >= now() - interval '2 days' + interval '5 minutes'"                                  \
    " AND period < (SELECT rolled_to FROM health_rollup_state)"

/* The rollup's figures, computed plainly from change_events (every finished event, one GROUP BY).
 */
#define REFERENCE_SQL                                                                              \
    "SELECT * FROM (SELECT source, lower(object_type) AS object_key,"                              \
    "  to_timestamp(floor(date_part('epoch', finished_at) / 300) * 300) AS period,"                \
    "  " HEALTH_BIN_SQL(                                                                           \
        "date_part('epoch', finished_at - received_at) * 1000") "::smallint AS bin,"               \
                                                                "  count(*) FILTER (WHERE status " \
                                                                "= 'done')::int AS synced,"        \
                                                                "  count(*) FILTER (WHERE status " \
                                                                "= 'failed')::int AS failed"       \
                                                                " FROM change_events WHERE "       \
                                                                "status IN ('done', 'failed') "    \
                                                                "GROUP BY 1, 2, 3, 4) r "          \
                                                                "WHERE" WINDOW_SQL

#define ROLLUP_SQL                                                                                 \
    "SELECT source, object_key, period, bin, synced, failed FROM health_periods WHERE" WINDOW_SQL

/* Rows in one and not the other, both ways: 0 when the rollup equals the reference. */
static long differences(PGconn *conn)
{
    return testdb_long(conn, "SELECT (SELECT count(*) FROM (" REFERENCE_SQL
                             " EXCEPT ALL " ROLLUP_SQL ") a) + (SELECT count(*) FROM (" ROLLUP_SQL
                             " EXCEPT ALL " REFERENCE_SQL ") b)");
}

/* Steps until caught up (at most 100: a rebuild of two days is 64 steps, each an hour from 15
 * minutes before the last one's end); returns the steps taken. */
static int catch_up(PGconn *conn)
{
    char err[512] = "";
    for (int steps = 1; steps <= 100; steps++) {
        int rc = health_rollup_step(conn, NULL, err, sizeof err);
        if (rc < 0)
            fail_msg("health_rollup_step: %s", err);
        if (rc == 0)
            return steps;
    }
    fail_msg("the rollup did not catch up in 100 steps");
    return -1;
}

/* 20,000 done events finished 3 days ago (kept, but older than the rollup's two days), and 600 in
 * the last 2 hours: both sources, two object types in two spellings, latencies from 0.5 ms to
 * 20 s, done, failed, pending and processing. */
static void fill(PGconn *conn)
{
    testdb_exec_ok(
        conn, "INSERT INTO change_events (source, idempotency_key, object_type, record_id, kind,"
              " received_at, status, payload, finished_at)"
              " SELECT 'salesforce', 'old-' || g, 'Account', 'R' || g, 'update',"
              "  now() - interval '3 days' - g * interval '1 second', 'done', '{}',"
              "  now() - interval '3 days' - g * interval '1 second' + interval '200 ms'"
              " FROM generate_series(1, 20000) g");
    testdb_exec_ok(
        conn,
        "INSERT INTO change_events (source, idempotency_key, object_type, record_id, kind,"
        " received_at, status, payload, finished_at, lease_owner, lease_until, error_category)"
        " SELECT CASE WHEN g % 2 = 0 THEN 'salesforce' ELSE 'hubspot' END, 'new-' || g,"
        "  CASE WHEN g % 2 = 0 THEN (CASE WHEN g % 4 = 0 THEN 'Account' ELSE 'ACCOUNT' END)"
        "   ELSE '2-100' END, 'N' || g, 'update', fin - lat, st, '{}',"
        "  CASE WHEN st IN ('done', 'failed') THEN fin END,"
        "  CASE WHEN st = 'processing' THEN 'w' END,"
        "  CASE WHEN st = 'processing' THEN now() + interval '1 hour' END,"
        "  CASE WHEN st = 'failed' THEN 'validation' END"
        " FROM (SELECT g, now() - interval '3 minutes' - g * interval '12 seconds' AS fin,"
        "  (0.5 + (g * 7919) % 20000) * interval '1 millisecond' AS lat,"
        "  CASE WHEN g % 10 < 7 THEN 'done' WHEN g % 10 = 7 THEN 'failed'"
        "   WHEN g % 10 = 8 THEN 'pending' ELSE 'processing' END AS st"
        "  FROM generate_series(1, 600) g) s");
    testdb_exec_ok(conn, "ANALYZE change_events");
}

static void test_rollup_equals_the_events_after_they_change(void **state)
{
    struct testdb *db = *state;
    PGconn *conn = testdb_connect_or_fail(db->conninfo);
    fill(db->watch);

    /* rebuilt from no watermark: two days in one-hour steps, equal to the events */
    assert_true(catch_up(conn) >= 48); /* at most an hour a step */
    assert_true(testdb_long(db->watch, "SELECT count(*) FROM health_periods WHERE" WINDOW_SQL) >
                20);
    assert_int_equal(differences(db->watch), 0);
    assert_int_equal(testdb_long(db->watch, "SELECT count(*) FROM health_periods WHERE period <"
                                            " now() - interval '2 days' - interval '5 minutes'"),
                     0);

    /* events change state in the periods the next step recomputes (from 15 minutes before the
     * watermark, which goes back one period to make the step due): pending and processing ones
     * finish (late commits: finished_at is their transaction's start, before the watermark),
     * done ones are failed by a retry, and new ones finish in the newest period */
    testdb_exec_ok(
        db->watch,
        "UPDATE change_events SET status = 'done', lease_owner = NULL, lease_until = NULL,"
        " received_at = w.t - interval '1500 ms', finished_at = w.t"
        " FROM (SELECT rolled_to - interval '10 minutes' AS t FROM health_rollup_state) w"
        " WHERE status IN ('pending', 'processing') AND idempotency_key LIKE 'new-%'"
        " AND substr(idempotency_key, 5)::int % 20 IN (8, 9)");
    testdb_exec_ok(db->watch,
                   "UPDATE change_events SET status = 'failed', error_category = 'duplicate',"
                   " finished_at = finished_at + interval '1 second'"
                   " WHERE status = 'done' AND finished_at >= (SELECT rolled_to - interval"
                   " '15 minutes' FROM health_rollup_state) AND idempotency_key LIKE 'new-%'"
                   " AND substr(idempotency_key, 5)::int % 3 = 0");
    testdb_exec_ok(
        db->watch,
        "INSERT INTO change_events (source, idempotency_key, object_type, record_id,"
        " kind, received_at, status, payload, finished_at)"
        " SELECT 'hubspot', 'late-' || g, '2-100', 'L' || g, 'update',"
        "  w.t - interval '2 seconds', 'done', '{}', w.t + g * interval '1 second'"
        " FROM (SELECT rolled_to - interval '4 minutes' AS t FROM health_rollup_state) w,"
        " generate_series(1, 40) g");
    long changed = testdb_long(
        db->watch, "SELECT count(*) FROM change_events WHERE status IN ('done', 'failed') AND"
                   " finished_at >= (SELECT rolled_to - interval '15 minutes' FROM"
                   " health_rollup_state)");
    assert_true(changed > 40);
    assert_true(differences(db->watch) > 0); /* the rollup has not seen them yet */

    testdb_exec_ok(db->watch, "UPDATE health_rollup_state SET rolled_to = rolled_to -"
                              " interval '5 minutes'");
    testdb_plans_begin(conn);
    catch_up(conn);
    const char *plans = testdb_plans_end(conn);
    assert_int_equal(differences(db->watch), 0);

    /* the events of the range by (status, finished_at), never every finished event */
    if (!strstr(plans, "Index Cond: ((status = 'done'::text) AND (finished_at >=") ||
        !strstr(plans, "Index Cond: ((status = 'failed'::text) AND (finished_at >=") ||
        strstr(plans, "Seq Scan on change_events") || strstr(plans, "Index Cond: ((finished_at") ||
        strstr(plans, "JIT"))
        fail_msg("a rollup step does not read its range through the index:\n%s", plans);

    /* a step that is not due reads the state row only */
    testdb_plans_begin(conn);
    assert_int_equal(catch_up(conn), 1);
    plans = testdb_plans_end(conn);
    if (strstr(plans, "INSERT") || strstr(plans, "JIT"))
        fail_msg("a step that is not due did more than read the range:\n%s", plans);
    PQfinish(conn);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_rollup_equals_the_events_after_they_change,
                                        testdb_setup_migrated, testdb_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
