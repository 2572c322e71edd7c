/* test_queue_vacuum.c: db/queue_vacuum against a real, migrated PostgreSQL: nothing happens
 * below the dead-row threshold; above it the queue is vacuumed (its dead rows gone, the
 * session's statement_timeout set back); a table another session is vacuuming (its lock held)
 * is skipped at once, not waited for; a user that does not own the table is told so; a broken
 * connection is an error. Also checks migration 0016's autovacuum settings. */
#include "db/pool.h"
#include "db/queue_vacuum.h"
#include "testdb.h"
#include "testdb_sql.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#define EVENTS 3000

static void sleep_ms(int ms)
{
    struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&t, NULL);
}

static long dead_rows(PGconn *conn)
{
    return testdb_long(conn, "SELECT COALESCE(n_dead_tup, 0) FROM pg_stat_user_tables"
                             " WHERE relid = 'change_events'::regclass");
}

/* Waits (up to 10 s) until PostgreSQL's statistics count at least / below n dead rows. */
static long wait_dead(PGconn *conn, long n, bool at_least)
{
    long d = dead_rows(conn);
    for (int i = 0; i < 100 && (at_least ? d < n : d >= n); i++) {
        sleep_ms(100);
        d = dead_rows(conn);
    }
    return d;
}

/* EVENTS events, each rewritten as a claim and a settle rewrite it: 2 x EVENTS dead rows. */
static void churn(PGconn *conn, bool insert)
{
    if (insert)
        testdb_exec_ok(conn,
                       "INSERT INTO change_events (source, idempotency_key, object_type,"
                       " record_id, kind, status, payload) SELECT 'hubspot', 'k' || i, '2-100',"
                       " 'r' || i, 'update', 'pending', '{}' FROM generate_series(1, 3000) i");
    testdb_exec_ok(conn, "UPDATE change_events SET status = 'processing', lease_owner = 'w',"
                         " lease_until = now() + interval '1 minute'");
    testdb_exec_ok(conn, "UPDATE change_events SET status = 'done', lease_owner = NULL,"
                         " lease_until = NULL, finished_at = now()");
}

static struct queue_vacuum_result run(PGconn *conn, long min_dead, int rc_expected)
{
    char err[256] = "";
    struct queue_vacuum_result res;
    int rc = queue_vacuum_if_due(conn, min_dead, 60000, 4321, &res, err, sizeof err);
    if (rc != rc_expected)
        fail_msg("queue_vacuum_if_due returned %d: %s", rc, err);
    return res;
}

static void test_threshold_then_vacuum(void **state)
{
    struct testdb *db = *state;
    PGconn *c = db->watch;
    churn(c, true);
    long d = wait_dead(c, 2 * EVENTS - 100, true);
    assert_true(d >= 2 * EVENTS - 100);
    /* below the threshold: nothing */
    struct queue_vacuum_result res = run(c, 100000, 0);
    assert_int_equal(res.outcome, QUEUE_VACUUM_NOT_DUE);
    assert_true(res.dead_rows >= 2 * EVENTS - 100);
    assert_true(res.seconds == 0);
    long before = testdb_long(c, "SELECT vacuum_count FROM pg_stat_user_tables"
                                 " WHERE relid = 'change_events'::regclass");
    /* 0 turns it off whatever the count */
    assert_int_equal(run(c, 0, 0).outcome, QUEUE_VACUUM_NOT_DUE);
    /* at the threshold: vacuumed, and the session's statement_timeout is the one given back */
    res = run(c, 1000, 0);
    assert_int_equal(res.outcome, QUEUE_VACUUM_DONE);
    assert_true(res.seconds > 0);
    assert_string_equal(testdb_value(c, "SHOW statement_timeout"), "4321ms");
    assert_true(wait_dead(c, 100, false) < 100);
    long after = 0;
    for (int i = 0; i < 100 && after <= before; i++, sleep_ms(100))
        after = testdb_long(c, "SELECT vacuum_count FROM pg_stat_user_tables"
                               " WHERE relid = 'change_events'::regclass");
    assert_int_equal(after, before + 1);
}

/* Another session holds the lock a vacuum needs (as another instance's vacuum or autovacuum
 * does): skipped at once, counted as busy. */
static void test_busy_is_skipped_not_waited_for(void **state)
{
    struct testdb *db = *state;
    PGconn *c = db->watch;
    churn(c, true);
    assert_true(wait_dead(c, 1000, true) >= 1000);
    PGconn *other = testdb_connect_or_fail(db->conninfo);
    testdb_exec_ok(other, "BEGIN");
    testdb_exec_ok(other, "LOCK TABLE change_events IN SHARE UPDATE EXCLUSIVE MODE");
    time_t t0 = time(NULL);
    struct queue_vacuum_result res = run(c, 1000, 0);
    assert_int_equal(res.outcome, QUEUE_VACUUM_BUSY);
    assert_true(time(NULL) - t0 <= 2);
    testdb_exec_ok(other, "ROLLBACK");
    PQfinish(other);
    assert_string_equal(testdb_value(c, "SHOW statement_timeout"), "4321ms");
    assert_int_equal(run(c, 1000, 0).outcome, QUEUE_VACUUM_DONE);
}

/* A database user that does not own change_events: told, nothing run. */
static void test_not_owner(void **state)
{
    struct testdb *db = *state;
    PGconn *c = db->watch;
    churn(c, true);
    assert_true(wait_dead(c, 1000, true) >= 1000);
    char role[64], sql[256];
    snprintf(role, sizeof role, "synkro_vacuum_other_%d", (int)getpid());
    snprintf(sql, sizeof sql, "DROP ROLE IF EXISTS %s; CREATE ROLE %s", role, role);
    testdb_exec_ok(c, sql);
    snprintf(sql, sizeof sql, "SET ROLE %s", role);
    testdb_exec_ok(c, sql);
    struct queue_vacuum_result res = run(c, 1000, 0);
    assert_int_equal(res.outcome, QUEUE_VACUUM_NOT_OWNER);
    assert_true(res.dead_rows >= 1000);
    testdb_exec_ok(c, "RESET ROLE");
    snprintf(sql, sizeof sql, "DROP ROLE %s", role);
    testdb_exec_ok(c, sql);
}

static void test_errors_and_settings(void **state)
{
    struct testdb *db = *state;
    /* migration 0016: the queue's autovacuum settings */
    const char *opts =
        testdb_value(db->watch, "SELECT array_to_string(reloptions, ',')"
                                " FROM pg_class WHERE oid = 'change_events'::regclass");
    assert_non_null(strstr(opts, "autovacuum_vacuum_scale_factor=0.02"));
    assert_non_null(strstr(opts, "autovacuum_analyze_scale_factor=0.02"));
    /* a connection that is gone */
    PGconn *c = testdb_connect_or_fail(db->conninfo);
    char sql[96];
    snprintf(sql, sizeof sql, "SELECT pg_terminate_backend(%d)", PQbackendPID(c));
    testdb_exec_ok(db->watch, sql);
    sleep_ms(100);
    char err[256] = "";
    struct queue_vacuum_result res;
    assert_int_equal(queue_vacuum_if_due(c, 1, 60000, 5000, &res, err, sizeof err), -1);
    assert_true(err[0] != '\0');
    PQfinish(c);
}

int main(void)
{
    setvbuf(stdout, NULL, _IONBF, 0);
#define T(fn) cmocka_unit_test_setup_teardown(fn, testdb_setup_migrated, testdb_teardown)
    const struct CMUnitTest tests[] = {
        T(test_threshold_then_vacuum),
        T(test_busy_is_skipped_not_waited_for),
        T(test_not_owner),
        T(test_errors_and_settings),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
