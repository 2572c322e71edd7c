/* test_locks.c: db/locks against a real PostgreSQL: the list of advisory-lock keys (distinct,
 * pinned, spelled as SQL text), a mapping's lock shared by several sessions and exclusive for
 * one, the keys the locks take (as pg_locks shows them, mapping ids past 2^27 folded), slots,
 * releasing a lock that is not held, the bounded wait for the exclusive lock (timed out, then
 * taken; no transaction or lock_timeout left behind; a lost connection an error), and locks
 * ending with the session. */
#include "db/locks.h"
#include "testdb.h"
#include "testdb_sql.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

static PGconn *connect_db(void **state)
{
    struct testdb *db = *state;
    return testdb_connect_or_fail(db->conninfo);
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Advisory locks of (cls, key) granted now, in mode ("ShareLock" or "ExclusiveLock"). */
static long held(PGconn *watch, long long cls, long long key, const char *mode)
{
    char sql[256];
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted"
             " AND classid = %lld AND objid = %lld AND objsubid = 2 AND mode = '%s'",
             cls, key, mode);
    return testdb_long(watch, sql);
}

static void test_keys_listed_once(void **state)
{
    (void)state;
    const long long keys[] = {LOCK_KEY_QUEUE_RECORD, LOCK_KEY_MAPPING, LOCK_KEY_SLOT,
                              LOCK_KEY_SWEEP,        LOCK_KEY_IMPORT,  LOCK_KEY_IMPORT_CREATE,
                              LOCK_KEY_MIGRATE};
    size_t n = sizeof keys / sizeof keys[0];
    for (size_t i = 0; i < n; i++)
        for (size_t k = i + 1; k < n; k++)
            assert_true(keys[i] != keys[k]);
    /* two-int4 classes fit an int4; the migration key is the one bigint */
    for (size_t i = 0; i + 1 < n; i++)
        assert_in_range(keys[i], 1, 2147483647);
    assert_true(LOCK_KEY_MIGRATE > 2147483647LL);
    /* pinned: processes of two versions share one database during a rolling deploy, so a key
     * never changes */
    assert_string_equal(LOCK_KEY_TEXT(LOCK_KEY_QUEUE_RECORD), "1934713708");
    assert_string_equal(LOCK_KEY_TEXT(LOCK_KEY_MAPPING), "1934713709");
    assert_string_equal(LOCK_KEY_TEXT(LOCK_KEY_SLOT), "1934713710");
    assert_string_equal(LOCK_KEY_TEXT(LOCK_KEY_SWEEP), "1937204080");
    assert_string_equal(LOCK_KEY_TEXT(LOCK_KEY_IMPORT), "1768779636");
    assert_string_equal(LOCK_KEY_TEXT(LOCK_KEY_IMPORT_CREATE), "1768779637");
    assert_string_equal(LOCK_KEY_TEXT(LOCK_KEY_MIGRATE), "7317735301");
    assert_int_equal(LOCK_SLOTS_PER_MAPPING, 16);
}

static void test_mapping_lock_shared_and_exclusive(void **state)
{
    struct testdb *db = *state;
    PGconn *a = connect_db(state), *b = connect_db(state), *c = connect_db(state);
    char err[256] = "";
    /* shared by two sessions */
    assert_int_equal(lock_mapping_try(a, 7, true, err, sizeof err), 1);
    assert_int_equal(lock_mapping_try(b, 7, true, err, sizeof err), 1);
    assert_int_equal(held(db->watch, LOCK_KEY_MAPPING, 7, "ShareLock"), 2);
    /* not exclusive while shared; another mapping is free */
    assert_int_equal(lock_mapping_try(c, 7, false, err, sizeof err), 0);
    assert_int_equal(lock_mapping_try(c, 8, false, err, sizeof err), 1);
    assert_int_equal(held(db->watch, LOCK_KEY_MAPPING, 8, "ExclusiveLock"), 1);
    assert_int_equal(lock_mapping_try(a, 8, true, err, sizeof err), 0);
    /* released: then exclusive, which keeps shared holders out */
    assert_int_equal(lock_mapping_release(a, 7, true, err, sizeof err), 1);
    assert_int_equal(lock_mapping_release(b, 7, true, err, sizeof err), 1);
    assert_int_equal(lock_mapping_try(c, 7, false, err, sizeof err), 1);
    assert_int_equal(lock_mapping_try(a, 7, true, err, sizeof err), 0);
    /* releasing what is not held (or in the other mode) says so */
    assert_int_equal(lock_mapping_release(a, 7, true, err, sizeof err), 0);
    assert_int_equal(lock_mapping_release(c, 7, true, err, sizeof err), 0);
    assert_int_equal(lock_mapping_release(c, 7, false, err, sizeof err), 1);
    assert_int_equal(lock_mapping_release(c, 8, false, err, sizeof err), 1);
    assert_int_equal(testdb_long(db->watch, "SELECT count(*) FROM pg_locks"
                                            " WHERE locktype = 'advisory'"),
                     0);
    PQfinish(a);
    PQfinish(b);
    PQfinish(c);
}

static void test_keys_taken(void **state)
{
    struct testdb *db = *state;
    PGconn *a = connect_db(state), *b = connect_db(state);
    char err[256] = "";
    int64_t big = 134217728LL * 3 + 5; /* folds onto mapping key 5 */
    assert_int_equal(lock_mapping_try(a, big, false, err, sizeof err), 1);
    assert_int_equal(held(db->watch, LOCK_KEY_MAPPING, 5, "ExclusiveLock"), 1);
    assert_int_equal(lock_mapping_try(b, 5, true, err, sizeof err), 0);
    /* every lock ends with its session */
    PQfinish(a);
    PQfinish(b);
    for (int i = 0; i < 500 && testdb_long(db->watch, "SELECT count(*) FROM pg_locks"
                                                      " WHERE locktype = 'advisory'") > 0;
         i++)
        usleep(10000);
    assert_int_equal(
        testdb_long(db->watch, "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'"), 0);
}

static void test_wait_for_exclusive(void **state)
{
    struct testdb *db = *state;
    PGconn *a = connect_db(state), *b = connect_db(state);
    char err[256] = "";
    assert_int_equal(lock_mapping_try(a, 3, true, err, sizeof err), 1);
    int64_t t0 = now_ms();
    assert_int_equal(lock_mapping_wait(b, 3, 300, err, sizeof err), 0);
    int64_t took = now_ms() - t0;
    assert_in_range(took, 250, 5000);
    /* nothing left behind: no transaction, no lock_timeout, no lock */
    assert_int_equal(PQtransactionStatus(b), PQTRANS_IDLE);
    assert_string_equal(testdb_value(b, "SHOW lock_timeout"), "0");
    assert_int_equal(held(db->watch, LOCK_KEY_MAPPING, 3, "ExclusiveLock"), 0);
    assert_int_equal(lock_mapping_release(a, 3, true, err, sizeof err), 1);
    /* free: taken at once, and kept after the wait's transaction */
    t0 = now_ms();
    assert_int_equal(lock_mapping_wait(b, 3, 5000, err, sizeof err), 1);
    assert_in_range(now_ms() - t0, 0, 2000);
    assert_int_equal(PQtransactionStatus(b), PQTRANS_IDLE);
    assert_int_equal(held(db->watch, LOCK_KEY_MAPPING, 3, "ExclusiveLock"), 1);
    assert_int_equal(lock_mapping_try(a, 3, true, err, sizeof err), 0);
    assert_int_equal(lock_mapping_release(b, 3, false, err, sizeof err), 1);
    /* a lost connection is an error, not a timeout */
    char sql[128];
    snprintf(sql, sizeof sql, "SELECT pg_terminate_backend(%d)", PQbackendPID(b));
    testdb_exec_ok(db->watch, sql);
    err[0] = '\0';
    assert_int_equal(lock_mapping_wait(b, 3, 100, err, sizeof err), -1);
    assert_true(err[0] != '\0');
    assert_int_equal(lock_mapping_try(b, 3, true, err, sizeof err), -1);
    PQfinish(a);
    PQfinish(b);
}

int main(void)
{
    setvbuf(stdout, NULL, _IONBF, 0);
#define T(fn) cmocka_unit_test_setup_teardown(fn, testdb_setup, testdb_teardown)
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keys_listed_once),
        T(test_mapping_lock_shared_and_exclusive),
        T(test_keys_taken),
        T(test_wait_for_exclusive),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
