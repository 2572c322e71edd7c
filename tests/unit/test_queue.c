/* test_queue.c: db/queue's readings of the whole queue against a real, migrated PostgreSQL: the
 * queue lag (age of the oldest due pending event; events not due, leased or finished do not
 * count) and the depth per status, also through the pool (run again on a fresh connection after
 * the first one died), counted once for every instance (stored counts, an age, a lock), each status
 * by an index scan of its own range. */
#include "db/pool.h"
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

/* One insert classifies each event without a status by the mappings of its object, looked up
 * once per (source, object) of the statement: pending for an enabled mapping (Salesforce names in
 * any case, HubSpot by objectTypeId), held for a draft or paused one, unmapped without one; a
 * given status is kept, and a repeated key is a duplicate. */
static void test_insert_classifies_by_mapping(void **state)
{
    struct testdb *db = *state;
    testdb_exec_ok(db->watch,
                   "INSERT INTO mappings (name, state, salesforce_object, hubspot_object,"
                   " hubspot_object_type_id, document) VALUES"
                   " ('On', 'enabled', 'Project__c', 'projects', '2-100', '{}'),"
                   " ('Draft', 'draft', 'Task__c', 'tasks', '2-200', '{}')");
    struct queue_event ev[] = {
        {.source = "salesforce", .idempotency_key = "k1", .object_type = "project__C"},
        {.source = "hubspot", .idempotency_key = "k2", .object_type = "2-100"},
        {.source = "salesforce", .idempotency_key = "k3", .object_type = "Task__c"},
        {.source = "hubspot", .idempotency_key = "k4", .object_type = "2-200"},
        {.source = "hubspot", .idempotency_key = "k5", .object_type = "2-999"},
        {.source = "salesforce",
         .idempotency_key = "k6",
         .object_type = "Project__c",
         .status = "unmapped"},
        {.source = "hubspot", .idempotency_key = "k7", .object_type = "Task__c"},
        {.source = "salesforce", .idempotency_key = "k8", .object_type = "Project__c"},
        {.source = "salesforce", .idempotency_key = "k1", .object_type = "Project__c"},
    };
    static const char *const want[] = {"pending",  "pending",  "held",    "held", "unmapped",
                                       "unmapped", "unmapped", "pending", NULL};
    size_t n = sizeof ev / sizeof ev[0];
    for (size_t i = 0; i < n; i++) {
        ev[i].record_id = "r";
        ev[i].kind = "update";
        ev[i].payload_json = "{}";
    }
    char err[256] = "";
    if (queue_insert_batch(db->watch, ev, n, err, sizeof err) != 0)
        fail_msg("queue_insert_batch: %s", err);
    for (size_t i = 0; i < n; i++) {
        if (!want[i]) {
            assert_int_equal(ev[i].outcome, QUEUE_DUPLICATE);
            continue;
        }
        assert_int_equal(ev[i].outcome, QUEUE_STORED);
        char sql[128];
        snprintf(sql, sizeof sql, "SELECT status FROM change_events WHERE id = %lld",
                 (long long)ev[i].id);
        const char *got = testdb_value(db->watch, sql);
        if (!got || strcmp(got, want[i]) != 0)
            fail_msg("event %zu (%s %s): status %s, want %s", i, ev[i].source, ev[i].object_type,
                     got ? got : "(none)", want[i]);
    }
}

static long member(json_object *o, const char *key)
{
    json_object *v = NULL;
    return json_object_object_get_ex(o, key, &v) ? (long)json_object_get_int64(v) : -1;
}

static void test_depth_through_the_pool(void **state)
{
    struct testdb *db = *state;
    add_event(db->watch, "p1", "pending", 0, 0);
    add_event(db->watch, "p2", "pending", 0, 60);
    add_event(db->watch, "f1", "failed", 0, 0);
    struct db_pool *pool = testdb_pool(db, 1);
    char err[256] = "";
    add_event(db->watch, "d1", "done", 0, 0);
    json_object *d = queue_depth_pooled(pool, 0, 1000, err, sizeof err);
    assert_non_null(d);
    assert_int_equal(member(d, "pending"), 2);
    assert_int_equal(member(d, "failed"), 1);
    assert_int_equal(member(d, "held"), 0); /* every status, 0 when none */
    assert_int_equal(member(d, "done"), 1);
    json_object_put(d);
    /* the pooled connection dies (a database restart): answered on a fresh one */
    PGconn *c = db_pool_acquire(pool, 1000, err, sizeof err);
    assert_non_null(c);
    char sql[96];
    snprintf(sql, sizeof sql, "SELECT pg_terminate_backend(%d)", PQbackendPID(c));
    db_pool_release(pool, c, false);
    testdb_exec_ok(db->watch, sql);
    d = queue_depth_pooled(pool, 0, 1000, err, sizeof err);
    if (!d)
        fail_msg("queue_depth_pooled after a lost connection: %s", err);
    assert_int_equal(member(d, "pending"), 2);
    json_object_put(d);
    /* no connection free: NULL with the pool's error */
    c = db_pool_acquire(pool, 1000, err, sizeof err);
    assert_non_null(c);
    assert_null(queue_depth_pooled(pool, 0, 50, err, sizeof err));
    assert_non_null(strstr(err, "no database connection free"));
    db_pool_release(pool, c, false);
    assert_int_equal(db_pool_destroy(pool, 1000), 0);
}

static json_object *depth(PGconn *conn, int max_age_ms)
{
    char err[256] = "";
    json_object *d = queue_depth(conn, max_age_ms, err, sizeof err);
    if (!d)
        fail_msg("queue_depth: %s", err);
    return d;
}

/* Checks one reading of the depth against the expected pending and done counts, and puts it. */
static void expect_depth(PGconn *conn, int max_age_ms, long pending, long done)
{
    json_object *d = depth(conn, max_age_ms);
    long p = member(d, "pending"), n = member(d, "done");
    json_object_put(d);
    if (p != pending || n != done)
        fail_msg("depth: pending %ld done %ld, expected %ld and %ld", p, n, pending, done);
}

/* The counts are shared by every instance: a reading younger than the age is answered from
 * queue_depth_counts without counting (so a second instance does not count again), an older one
 * is counted again (done only after a minute), and while another session counts (holds the
 * lock) the stored counts are answered at once, without waiting. */
static void test_depth_is_counted_once_for_every_instance(void **state)
{
    struct testdb *db = *state;
    PGconn *c = db->watch;
    add_event(c, "p1", "pending", 0, 0);
    add_event(c, "d1", "done", 0, 0);
    expect_depth(c, 4500, 1, 1); /* nothing stored yet: counted */
    assert_int_equal(testdb_long(c, "SELECT count(*) FROM queue_depth_counts"), 6);
    add_event(c, "p2", "pending", 0, 0);
    add_event(c, "d2", "done", 0, 0);
    expect_depth(c, 4500, 1, 1); /* another instance's reading: the stored counts */
    testdb_exec_ok(c, "UPDATE queue_depth_counts SET counted_at = now() - interval '10 seconds'");
    expect_depth(c, 4500, 2, 1); /* past 4.5 s: counted again; done's age is a minute */
    testdb_exec_ok(c, "UPDATE queue_depth_counts SET counted_at = now() - interval '2 minutes'");
    expect_depth(c, 4500, 2, 2);

    /* another instance is counting: the stored counts, at once */
    PGconn *other = testdb_connect_or_fail(db->conninfo);
    testdb_exec_ok(other, "BEGIN");
    testdb_exec_ok(other, "SELECT pg_advisory_xact_lock(1934713712, 0)");
    testdb_exec_ok(c, "UPDATE queue_depth_counts SET counted_at = now() - interval '1 minute'");
    add_event(c, "p3", "pending", 0, 0);
    expect_depth(c, 4500, 2, 2);
    testdb_exec_ok(other, "COMMIT");
    PQfinish(other);
    expect_depth(c, 4500, 3, 2);
    expect_depth(c, 0, 3, 2); /* 0: counted now */
}

/* A count reads each status's range of change_events_status by a plain or index-only scan, never
 * the whole table or a bitmap scan (which the planner chose from statistics: it cannot know the
 * status a count asks for): in a burst most entries of the open statuses' ranges are dead (each
 * claim and settle leaves one), and only a plain scan marks them so that the next count skips them
 * (bench/README, "What the queue depth cost in a burst"). */
static void test_depth_counts_without_bitmap_scans(void **state)
{
    struct testdb *db = *state;
    PGconn *c = db->watch;
    testdb_exec_ok(c, "INSERT INTO change_events (source, idempotency_key, object_type, record_id,"
                      " kind, payload, status, finished_at)"
                      " SELECT 'hubspot', 'd-' || g, '2-100', 'r' || g, 'update', '{}', 'done',"
                      "  now() FROM generate_series(1, 20000) g");
    testdb_exec_ok(c, "INSERT INTO change_events (source, idempotency_key, object_type, record_id,"
                      " kind, payload) SELECT 'hubspot', 'p-' || g, '2-100', 'p' || g, 'update',"
                      " '{}' FROM generate_series(1, 400) g");
    testdb_exec_ok(c, "ANALYZE change_events");
    testdb_plans_begin(c);
    json_object *d = depth(c, 0);
    const char *plans = testdb_plans_end(c);
    long pending = member(d, "pending"), done = member(d, "done");
    json_object_put(d);
    assert_int_equal(pending, 400);
    assert_int_equal(done, 20000);
    if (!strstr(plans, "Scan using change_events_status on change_events") ||
        strstr(plans, "Bitmap") || strstr(plans, "Seq Scan on change_events"))
        fail_msg("the depth is not counted by plain scans of change_events_status:\n%s", plans);
}

/* A count that fails says why and leaves the connection out of its transaction (the janitor's
 * pooled connection is used again for other statements). */
static void test_depth_failure_ends_its_transaction(void **state)
{
    struct testdb *db = *state;
    PGconn *c = db->watch;
    testdb_exec_ok(c, "DROP TABLE queue_depth_counts");
    char err[256] = "";
    json_object *d = queue_depth(c, 0, err, sizeof err);
    assert_null(d);
    assert_non_null(strstr(err, "queue_depth_counts"));
    assert_int_equal(PQtransactionStatus(c), PQTRANS_IDLE);
    assert_int_equal(testdb_long(c, "SELECT 1"), 1);
}

int main(void)
{
    setvbuf(stdout, NULL, _IONBF, 0);
#define T(fn) cmocka_unit_test_setup_teardown(fn, testdb_setup_migrated, testdb_teardown)
    const struct CMUnitTest tests[] = {
        T(test_lag),
        T(test_insert_classifies_by_mapping),
        T(test_depth_through_the_pool),
        T(test_depth_is_counted_once_for_every_instance),
        T(test_depth_counts_without_bitmap_scans),
        T(test_depth_failure_ends_its_transaction),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
