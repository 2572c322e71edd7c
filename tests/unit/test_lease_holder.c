/* test_lease_holder.c: the liveness of leases (queue_holder_take, queue_release_expired) against a
 * real, migrated PostgreSQL: the leases of a session that has ended are released at once, by
 * anyone and by a successor taking a key; those of a live holder are not, however long they run;
 * a session cannot settle another session's leases under the same worker id; and under
 * concurrency (four live holders claiming and settling while a releaser runs without pause, and a
 * fifth that disconnects mid-batch) no live holder's lease is ever released and every event is
 * completed exactly once.
 *
 * Must not: sleep for a lease to run out (every lease here is long): only liveness ends them. */
#include "db/queue_claim.h"
#include "testdb.h"
#include "testdb_sql.h"

#include <inttypes.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#define LONG_LEASE_MS 600000

static void add_events(PGconn *conn, int records, int per_record)
{
    char sql[512];
    snprintf(sql, sizeof sql,
             "INSERT INTO change_events (source, idempotency_key, object_type, record_id, kind,"
             " occurred_at, status, payload)"
             " SELECT 'hubspot', 'k' || r || ':' || e, '2-100', 'R' || r, 'update',"
             "  now() - interval '1 hour' + e * interval '1 second', 'pending', '{}'"
             " FROM generate_series(1, %d) r, generate_series(1, %d) e",
             records, per_record);
    testdb_exec_ok(conn, sql);
}

static PGconn *holder(const struct testdb *db, int32_t *key, long *released)
{
    PGconn *conn = testdb_connect_or_fail(db->conninfo);
    char err[512] = "";
    long ignored = 0;
    if (queue_holder_take(conn, key, released ? released : &ignored, err, sizeof err) != 0)
        fail_msg("taking a holder key: %s", err);
    assert_true(*key > 0);
    return conn;
}

static struct claimed_record *claim(PGconn *conn, const char *worker, int max, size_t *n)
{
    char err[512] = "";
    struct claimed_record *recs = NULL;
    if (queue_claim_records(conn, worker, max, LONG_LEASE_MS, &recs, n, err, sizeof err) != 0)
        fail_msg("claim by %s failed: %s", worker, err);
    return recs;
}

static long release(PGconn *conn)
{
    char err[512] = "";
    long released = -1;
    if (queue_release_expired(conn, &released, err, sizeof err) != 0)
        fail_msg("release failed: %s", err);
    return released;
}

/* Waits (up to 10 s) until no session holds liveness key `key`: a closed connection's backend
 * ends a moment after the client has gone. */
static void wait_key_free(PGconn *watch, int32_t key)
{
    char sql[256];
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND classid = 1934713711"
             " AND objid = %" PRId32 " AND objsubid = 2",
             key);
    for (int i = 0; i < 1000; i++) {
        if (testdb_long(watch, sql) == 0)
            return;
        usleep(10 * 1000);
    }
    fail_msg("key %" PRId32 " still held 10 s after its session closed", key);
}

/* A holder's leases stay while it lives (the lease is long, and releasing finds nothing) and are
 * stamped with its key; once its session ends, one release gives every one of them back, due now
 * and saying why, and another holder claims them at once. */
static void test_ended_holders_leases_are_released_live_ones_kept(void **state)
{
    struct testdb *db = *state;
    add_events(db->watch, 3, 2);
    int32_t ka = 0, kb = 0;
    PGconn *a = holder(db, &ka, NULL);
    PGconn *b = holder(db, &kb, NULL);
    assert_int_not_equal(ka, kb);
    size_t n = 0;
    struct claimed_record *recs = claim(a, "host:1:w0", 2, &n);
    assert_int_equal(n, 2);
    queue_claimed_free(recs, n);
    char sql[256];
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM change_events WHERE status = 'processing'"
             " AND lease_holder = %" PRId32 " AND lease_owner = 'host:1:w0'",
             ka);
    assert_int_equal(testdb_long(db->watch, sql), 4);

    assert_int_equal(release(db->watch), 0); /* a is alive: nothing to give back */
    assert_int_equal(release(b), 0);

    PQfinish(a); /* what kill -9 does to the session */
    wait_key_free(db->watch, ka);
    assert_int_equal(release(db->watch), 4);
    assert_int_equal(testdb_long(db->watch, "SELECT count(*) FROM change_events"
                                            " WHERE status = 'pending' AND attempts = 1"
                                            " AND next_attempt_at <= now()"
                                            " AND lease_holder IS NULL AND lease_owner IS NULL"
                                            " AND last_error LIKE 'worker host:1:w0 ended%'"),
                     4);
    recs = claim(b, "host:2:w0", 10, &n);
    assert_int_equal(n, 3);
    queue_claimed_free(recs, n);
    assert_int_equal(release(db->watch), 0);
    PQfinish(b);
}

/* A successor taking its key releases what ended sessions left, before it claims anything. */
static void test_successor_releases_on_start(void **state)
{
    struct testdb *db = *state;
    add_events(db->watch, 2, 3);
    int32_t ka = 0;
    PGconn *a = holder(db, &ka, NULL);
    size_t n = 0;
    struct claimed_record *recs = claim(a, "host:1:w0", 10, &n);
    assert_int_equal(n, 2);
    queue_claimed_free(recs, n);
    PQfinish(a);
    wait_key_free(db->watch, ka);
    int32_t kc = 0;
    long released = 0;
    PGconn *c = holder(db, &kc, &released);
    assert_int_equal(released, 6);
    /* a lease stamped with the key a new session has just taken is one an ended session left */
    testdb_exec_ok(db->watch, "UPDATE change_events SET status = 'processing', lease_owner = 'x',"
                              " lease_until = now() + interval '1 hour', lease_holder = 7");
    testdb_exec_ok(db->watch, "SELECT pg_advisory_lock(1934713711, 7)"); /* "7" alive */
    assert_int_equal(release(c), 0);
    PQfinish(c);
    PQfinish(db->watch); /* key 7's session ends */
    db->watch = testdb_connect_or_fail(db->conninfo);
    wait_key_free(db->watch, 7);
    assert_int_equal(release(db->watch), 6);
}

/* Settling needs the session's own key: the same worker id on another session (a worker that
 * reconnected after losing its session, whose leases may be gone to others) settles nothing,
 * while the holder settles its own; a session without a key settles only keyless leases. */
static void test_settle_is_fenced_by_holder(void **state)
{
    struct testdb *db = *state;
    add_events(db->watch, 1, 2);
    int32_t ka = 0, kb = 0;
    PGconn *a = holder(db, &ka, NULL);
    PGconn *b = holder(db, &kb, NULL);
    size_t n = 0;
    struct claimed_record *recs = claim(a, "w", 1, &n);
    assert_int_equal(n, 1);
    char err[512] = "";
    long changed = -1;
    assert_int_equal(
        queue_complete(b, "w", recs[0].ids, recs[0].nevents, &changed, err, sizeof err), 0);
    assert_int_equal(changed, 0);
    assert_int_equal(
        queue_complete(db->watch, "w", recs[0].ids, recs[0].nevents, &changed, err, sizeof err), 0);
    assert_int_equal(changed, 0);
    assert_int_equal(
        queue_complete(a, "w", recs[0].ids, recs[0].nevents, &changed, err, sizeof err), 0);
    assert_int_equal(changed, 2);
    queue_claimed_free(recs, n);
    PQfinish(a);
    PQfinish(b);
}

/* --- concurrency ------------------------------------------------------------------------ */

#define CC_HOLDERS 4
#define CC_RECORDS 120
#define CC_EVENTS  3
#define CC_TOTAL   (CC_RECORDS * CC_EVENTS)

struct cc_shared {
    const struct testdb *db;
    atomic_int done[CC_TOTAL + 1]; /* completions per event id (ids 1..CC_TOTAL) */
    atomic_int holding[CC_TOTAL + 1];
    atomic_int overlaps; /* an event claimed while another live holder held it */
    atomic_int errors;
    atomic_bool stop;
    atomic_long released;
    atomic_int victim_claimed;
};

struct cc_thread {
    struct cc_shared *sh;
    int number;
};

static void *cc_holder(void *arg)
{
    struct cc_thread *t = arg;
    struct cc_shared *sh = t->sh;
    PGconn *conn = PQconnectdb(sh->db->conninfo);
    char err[512], worker[16];
    snprintf(worker, sizeof worker, "w%d", t->number);
    int32_t key;
    long released;
    if (PQstatus(conn) != CONNECTION_OK ||
        queue_holder_take(conn, &key, &released, err, sizeof err) != 0) {
        atomic_fetch_add(&sh->errors, 1);
        PQfinish(conn);
        return NULL;
    }
    int idle = 0;
    while (idle < 50) {
        struct claimed_record *recs = NULL;
        size_t n = 0;
        if (queue_claim_records(conn, worker, 4, LONG_LEASE_MS, &recs, &n, err, sizeof err) != 0) {
            atomic_fetch_add(&sh->errors, 1);
            break;
        }
        idle = n ? 0 : idle + 1;
        if (!n)
            usleep(20 * 1000);
        for (size_t i = 0; i < n; i++)
            for (size_t j = 0; j < recs[i].nevents; j++)
                if (atomic_fetch_add(&sh->holding[recs[i].ids[j]], 1) != 0)
                    atomic_fetch_add(&sh->overlaps, 1);
        usleep(2000); /* "syncing" */
        for (size_t i = 0; i < n; i++) {
            for (size_t j = 0; j < recs[i].nevents; j++)
                atomic_fetch_sub(&sh->holding[recs[i].ids[j]], 1);
            long changed = 0;
            if (queue_complete(conn, worker, recs[i].ids, recs[i].nevents, &changed, err,
                               sizeof err) != 0 ||
                changed != (long)recs[i].nevents)
                atomic_fetch_add(&sh->errors, 1);
            for (size_t j = 0; j < recs[i].nevents; j++)
                atomic_fetch_add(&sh->done[recs[i].ids[j]], 1);
        }
        queue_claimed_free(recs, n);
    }
    PQfinish(conn);
    return NULL;
}

/* Claims a batch and disconnects without settling: a worker killed mid-batch. */
static void *cc_victim(void *arg)
{
    struct cc_shared *sh = arg;
    PGconn *conn = PQconnectdb(sh->db->conninfo);
    char err[512];
    int32_t key;
    long released;
    struct claimed_record *recs = NULL;
    size_t n = 0;
    if (PQstatus(conn) != CONNECTION_OK ||
        queue_holder_take(conn, &key, &released, err, sizeof err) != 0 ||
        queue_claim_records(conn, "victim", 10, LONG_LEASE_MS, &recs, &n, err, sizeof err) != 0)
        atomic_fetch_add(&sh->errors, 1);
    int events = 0;
    for (size_t i = 0; i < n; i++)
        events += (int)recs[i].nevents;
    atomic_store(&sh->victim_claimed, events);
    queue_claimed_free(recs, n);
    PQfinish(conn);
    return NULL;
}

static void *cc_releaser(void *arg)
{
    struct cc_shared *sh = arg;
    PGconn *conn = PQconnectdb(sh->db->conninfo);
    char err[512];
    while (!atomic_load(&sh->stop)) {
        long released = 0;
        if (queue_release_expired(conn, &released, err, sizeof err) != 0) {
            atomic_fetch_add(&sh->errors, 1);
            break;
        }
        atomic_fetch_add(&sh->released, released);
    }
    PQfinish(conn);
    return NULL;
}

static void test_concurrent_holders_and_releaser(void **state)
{
    struct testdb *db = *state;
    add_events(db->watch, CC_RECORDS, CC_EVENTS);
    assert_int_equal(testdb_long(db->watch, "SELECT max(id) FROM change_events"), CC_TOTAL);
    struct cc_shared *sh = calloc(1, sizeof *sh);
    assert_non_null(sh);
    sh->db = db;
    pthread_t victim, releaser, holders[CC_HOLDERS];
    struct cc_thread args[CC_HOLDERS];
    assert_int_equal(pthread_create(&victim, NULL, cc_victim, sh), 0);
    assert_int_equal(pthread_join(victim, NULL), 0);
    assert_true(atomic_load(&sh->victim_claimed) > 0);
    assert_int_equal(pthread_create(&releaser, NULL, cc_releaser, sh), 0);
    for (int i = 0; i < CC_HOLDERS; i++) {
        args[i] = (struct cc_thread){.sh = sh, .number = i};
        assert_int_equal(pthread_create(&holders[i], NULL, cc_holder, &args[i]), 0);
    }
    for (int i = 0; i < CC_HOLDERS; i++)
        pthread_join(holders[i], NULL);
    atomic_store(&sh->stop, true);
    pthread_join(releaser, NULL);
    assert_int_equal(atomic_load(&sh->errors), 0);
    assert_int_equal(atomic_load(&sh->overlaps), 0);
    /* only the victim's events were released (by the releaser or a holder's start), never a
     * live holder's */
    long from_start = testdb_long(db->watch, "SELECT count(*) FROM change_events"
                                             " WHERE last_error LIKE 'worker victim ended%'");
    assert_int_equal(from_start, atomic_load(&sh->victim_claimed));
    assert_int_equal(testdb_long(db->watch, "SELECT count(*) FROM change_events"
                                            " WHERE status <> 'done'"),
                     0);
    assert_int_equal(testdb_long(db->watch, "SELECT count(*) FROM change_events WHERE attempts > 0"
                                            " AND last_error NOT LIKE 'worker victim ended%'"),
                     0);
    for (int id = 1; id <= CC_TOTAL; id++)
        if (atomic_load(&sh->done[id]) != 1)
            fail_msg("event %d completed %d times", id, atomic_load(&sh->done[id]));
    free(sh);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, testdb_setup_migrated, testdb_teardown)
    const struct CMUnitTest tests[] = {
        T(test_ended_holders_leases_are_released_live_ones_kept),
        T(test_successor_releases_on_start),
        T(test_settle_is_fenced_by_holder),
        T(test_concurrent_holders_and_releaser),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
