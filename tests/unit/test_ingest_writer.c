/* test_ingest_writer.c: the ingest writer's commit on the request's own thread
 * (ingest_commit_if_idle, db/ingest_writer.h) against a real PostgreSQL, next to its group
 * commits (ingest_submit_async).
 *
 * Covers: a lone request commits at once on the calling thread and is stored, its redelivery is
 * a duplicate; nothing is tried without an open pooled connection (no connect on the caller's
 * thread); while a group commit is in flight (held on a table lock) the call returns false at
 * once instead of waiting; after a group commit that carried several requests it leaves the
 * next ones to the writer, and takes them again once a commit carries one request. Must not:
 * run without PostgreSQL (it fails, never skips). */
#include "db/ingest_writer.h"
#include "db/pool.h"
#include "db/queue.h"
#include "testdb.h"
#include "testdb_sql.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* One HubSpot-like event keyed key (its strings live in the caller's buffers). */
static struct queue_event event_for(const char *key)
{
    return (struct queue_event){
        .source = "hubspot",
        .idempotency_key = key,
        .object_type = "0-1",
        .record_id = "101",
        .kind = "update",
        .occurred_at_ms = 1700000000000LL,
        .status = "pending",
        .payload_json = "{}",
    };
}

static long rows_with_key(PGconn *watch, const char *key)
{
    char sql[160];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM change_events WHERE idempotency_key = '%s'",
             key);
    return testdb_long(watch, sql);
}

/* Opens n pooled connections (acquired side by side, then released). */
static void open_connections(struct db_pool *pool, int n)
{
    PGconn *c[4];
    char err[256] = "";
    for (int i = 0; i < n; i++) {
        c[i] = db_pool_acquire(pool, 1000, err, sizeof err);
        if (!c[i])
            fail_msg("db_pool_acquire: %s", err);
    }
    for (int i = 0; i < n; i++)
        db_pool_release(pool, c[i], false);
}

/* Completions of async submissions. */
static pthread_mutex_t done_lock = PTHREAD_MUTEX_INITIALIZER;
static int done_count;
static int done_failed;

static void on_done(void *ctx, int rc, const char *err)
{
    (void)ctx;
    (void)err;
    pthread_mutex_lock(&done_lock);
    done_count++;
    done_failed += rc != 0;
    pthread_mutex_unlock(&done_lock);
}

static int done_now(void)
{
    pthread_mutex_lock(&done_lock);
    int n = done_count;
    pthread_mutex_unlock(&done_lock);
    return n;
}

static void wait_done(int want)
{
    for (int i = 0; i < 400 && done_now() < want; i++)
        sleep_ms(25);
    assert_int_equal(done_now(), want);
    assert_int_equal(done_failed, 0);
}

static void submit(struct ingest_writer *w, struct queue_event *ev)
{
    char err[256] = "";
    if (ingest_submit_async(w, ev, 1, on_done, NULL, err, sizeof err) < 0)
        fail_msg("ingest_submit_async: %s", err);
}

static void test_lone_request_commits_inline(void **state)
{
    struct testdb *db = *state;
    struct db_pool *pool = testdb_pool(db, 2);
    struct ingest_writer *w = ingest_writer_start(pool, 1, 100);
    assert_non_null(w);

    /* no open connection yet: not tried (the caller's thread never connects) */
    struct queue_event e = event_for("inline-1");
    assert_false(ingest_commit_if_idle(w, &e, 1));
    assert_int_equal(db_pool_open_count(pool), 0);
    assert_int_equal(rows_with_key(db->watch, "inline-1"), 0);

    open_connections(pool, 1);
    assert_true(ingest_commit_if_idle(w, &e, 1));
    assert_int_equal(e.outcome, QUEUE_STORED);
    assert_true(e.id > 0);
    assert_int_equal(rows_with_key(db->watch, "inline-1"), 1); /* committed before returning */

    struct queue_event again = event_for("inline-1");
    assert_true(ingest_commit_if_idle(w, &again, 1));
    assert_int_equal(again.outcome, QUEUE_DUPLICATE);
    assert_int_equal(rows_with_key(db->watch, "inline-1"), 1);

    ingest_writer_stop(w);
    assert_int_equal(db_pool_destroy(pool, 1000), 0);
}

static void test_busy_writer_and_batches_go_async(void **state)
{
    struct testdb *db = *state;
    struct db_pool *pool = testdb_pool(db, 3);
    struct ingest_writer *w = ingest_writer_start(pool, 1, 100);
    assert_non_null(w);
    open_connections(pool, 3); /* a free open connection is never what stops it below */
    done_count = done_failed = 0;

    /* a group commit held in flight: its insert waits for the table lock */
    testdb_exec_ok(db->watch, "BEGIN");
    testdb_exec_ok(db->watch, "LOCK TABLE change_events IN EXCLUSIVE MODE");
    struct queue_event e1 = event_for("busy-1");
    submit(w, &e1);
    PGconn *probe = testdb_connect_or_fail(db->conninfo);
    long waiting = 0;
    for (int i = 0; i < 200 && waiting == 0; i++) {
        waiting = testdb_long(probe, "SELECT count(*) FROM pg_stat_activity WHERE "
                                     "wait_event_type = 'Lock' AND query LIKE '%change_events%'");
        if (waiting == 0)
            sleep_ms(25);
    }
    assert_int_equal(waiting, 1);

    /* busy: false at once, nothing stored (the request would suspend) */
    struct queue_event e2 = event_for("busy-2");
    int64_t t0 = now_ms();
    assert_false(ingest_commit_if_idle(w, &e2, 1));
    assert_true(now_ms() - t0 < 1000);

    /* two requests queue behind the commit in flight: the next group commit carries both */
    struct queue_event e3 = event_for("busy-3"), e4 = event_for("busy-4");
    submit(w, &e3);
    submit(w, &e4);
    testdb_exec_ok(db->watch, "COMMIT");
    wait_done(3);
    assert_int_equal(testdb_long(probe, "SELECT count(*) FROM change_events"), 3);

    /* requests arrive side by side: idle again, but the next one is still left to the writer */
    struct queue_event e5 = event_for("busy-5");
    assert_false(ingest_commit_if_idle(w, &e5, 1));
    assert_int_equal(rows_with_key(probe, "busy-5"), 0);
    submit(w, &e5); /* alone: a group commit of one request */
    wait_done(4);

    /* one request at a time again: committed on the caller's thread */
    struct queue_event e6 = event_for("busy-6");
    assert_true(ingest_commit_if_idle(w, &e6, 1));
    assert_int_equal(e6.outcome, QUEUE_STORED);
    assert_int_equal(rows_with_key(probe, "busy-6"), 1);

    PQfinish(probe);
    ingest_writer_stop(w);
    assert_int_equal(db_pool_destroy(pool, 1000), 0);
}

int main(void)
{
    setvbuf(stdout, NULL, _IONBF, 0);
#define T(fn) cmocka_unit_test_setup_teardown(fn, testdb_setup_migrated, testdb_teardown)
    const struct CMUnitTest tests[] = {
        T(test_lone_request_commits_inline),
        T(test_busy_writer_and_batches_go_async),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
