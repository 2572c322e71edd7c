/* test_pool.c: unit tests for db/pool against a real PostgreSQL.
 *
 * Every test gets its own database (synkro_t_<pid>_<n>, created through SYNKRO_TEST_ADMIN_URL
 * and dropped WITH (FORCE) afterwards). Covers reuse, statement_timeout, the bounded wait of a
 * full pool, detection of a connection killed with pg_terminate_backend (and db_pool_run's one
 * retry on a fresh connection), discarding a connection released mid-transaction, the
 * transaction and session helpers (db_begin/db_commit/db_rollback, statement_timeout, ping),
 * password-free connection errors, destroy with a borrowed connection, and many threads sharing
 * a small pool. Fails (never skips) without SYNKRO_TEST_ADMIN_URL. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <libpq-fe.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/log.h"
#include "db/pool.h"
#include "testdb.h"
#include "base/strbuf.h"

/* ---- helpers ---- */

static struct db_pool *make_pool(const struct testdb *db, int size, int timeout_ms)
{
    struct db_pool_options o = {
        .conninfo = db->conninfo,
        .size = size,
        .statement_timeout_ms = timeout_ms,
        .connect_timeout_s = 5,
        .application_name = "synkro-unit",
    };
    struct db_pool *pool = db_pool_create(&o);
    assert_non_null(pool);
    return pool;
}

static PGconn *acquire_or_fail(struct db_pool *pool, int wait_ms)
{
    char err[512] = "";
    PGconn *c = db_pool_acquire(pool, wait_ms, err, sizeof err);
    if (!c)
        fail_msg("db_pool_acquire: %s", err);
    return c;
}

/* The single value of a one-row query through db_exec; caller frees. */
static char *value_of(PGconn *c, const char *sql)
{
    char err[512] = "";
    PGresult *r = db_exec(c, sql, 0, NULL, err, sizeof err);
    if (!r)
        fail_msg("%s: %s", sql, err);
    assert_int_equal(PQntuples(r), 1);
    char *v = strdup(PQgetvalue(r, 0, 0));
    PQclear(r);
    return v;
}

static void expect_sql_value(PGconn *c, const char *sql, const char *want)
{
    char *got = value_of(c, sql);
    int same = strcmp(got, want) == 0;
    if (!same)
        print_error("%s: got '%s', expected '%s'\n", sql, got, want);
    free(got);
    assert_true(same);
}

static void sleep_ms(int ms);

/* Polls sql until it yields want (at most 5 s). */
static void wait_sql_value(PGconn *c, const char *sql, const char *want)
{
    char *got = NULL;
    for (int i = 0; i < 200; i++) {
        free(got);
        got = value_of(c, sql);
        if (strcmp(got, want) == 0)
            break;
        sleep_ms(25);
    }
    int same = strcmp(got, want) == 0;
    if (!same)
        print_error("%s: still '%s' after 5 s, expected '%s'\n", sql, got, want);
    free(got);
    assert_true(same);
}

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

/* ---- tests ---- */

static void test_create_bad_options(void **state)
{
    (void)state;
    assert_null(db_pool_create(NULL));
    struct db_pool_options o = {.conninfo = NULL, .size = 1};
    assert_null(db_pool_create(&o));
    o.conninfo = "dbname=x";
    o.size = 0;
    assert_null(db_pool_create(&o));
    o.size = -3;
    assert_null(db_pool_create(&o));
    o.size = 1;
    struct db_pool *pool = db_pool_create(&o);
    assert_non_null(pool);
    assert_int_equal(db_pool_open_count(pool), 0); /* connects nothing yet */
    assert_int_equal(db_pool_destroy(pool, 0), 0);
    assert_int_equal(db_pool_destroy(NULL, 0), 0);
}

static void test_acquire_release_reuses(void **state)
{
    struct testdb *db = *state;
    struct db_pool *pool = make_pool(db, 2, 5000);
    assert_int_equal(db_pool_open_count(pool), 0);
    PGconn *c1 = acquire_or_fail(pool, 1000);
    assert_int_equal(db_pool_open_count(pool), 1);
    int pid1 = PQbackendPID(c1);
    assert_true(pid1 > 0);
    db_pool_release(pool, c1, false);
    assert_int_equal(db_pool_open_count(pool), 1);
    PGconn *c2 = acquire_or_fail(pool, 1000);
    assert_ptr_equal(c2, c1);
    assert_int_equal(PQbackendPID(c2), pid1);
    /* a second borrower gets a second connection */
    PGconn *c3 = acquire_or_fail(pool, 1000);
    assert_ptr_not_equal(c3, c2);
    assert_int_not_equal(PQbackendPID(c3), pid1);
    assert_int_equal(db_pool_open_count(pool), 2);
    db_pool_release(pool, c3, false);
    db_pool_release(pool, c2, false);
    /* idle connections with a connection are preferred over empty slots */
    PGconn *c4 = acquire_or_fail(pool, 1000);
    assert_true(c4 == c2 || c4 == c3);
    db_pool_release(pool, c4, false);
    assert_int_equal(db_pool_open_count(pool), 2);
    db_pool_release(pool, NULL, false); /* harmless */
    expect_sql_value(db->watch,
                     "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'synkro-unit' "
                     "AND datname = current_database()",
                     "2");
    assert_int_equal(db_pool_destroy(pool, 1000), 0);
    /* backends exit asynchronously after the client closes */
    wait_sql_value(db->watch,
                   "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'synkro-unit' "
                   "AND datname = current_database() AND pid <> pg_backend_pid()",
                   "0");
}

/* db_pool_try_acquire_open: only an idle connection that is already open, never a wait or a
 * connect; what it lends goes back with db_pool_release like any other. */
static void test_try_acquire_open(void **state)
{
    struct testdb *db = *state;
    struct db_pool *pool = make_pool(db, 2, 5000);
    assert_null(db_pool_try_acquire_open(pool)); /* nothing open: no connect */
    assert_int_equal(db_pool_open_count(pool), 0);
    PGconn *c1 = acquire_or_fail(pool, 1000);
    assert_null(db_pool_try_acquire_open(pool)); /* the open one is borrowed, the other empty */
    db_pool_release(pool, c1, false);
    PGconn *c2 = db_pool_try_acquire_open(pool);
    assert_ptr_equal(c2, c1);
    expect_sql_value(c2, "SELECT 1", "1");
    assert_null(db_pool_try_acquire_open(pool)); /* lent: not lent twice */
    PGconn *c3 = acquire_or_fail(pool, 1000);    /* the empty slot still serves acquire */
    assert_ptr_not_equal(c3, c2);
    db_pool_release(pool, c2, false);
    db_pool_release(pool, c3, true); /* closed: the slot is empty again */
    assert_int_equal(db_pool_open_count(pool), 1);
    PGconn *c4 = db_pool_try_acquire_open(pool);
    assert_ptr_equal(c4, c1);
    db_pool_release(pool, c4, false);
    assert_int_equal(db_pool_destroy(pool, 1000), 0);
}

static void test_statement_timeout_set(void **state)
{
    struct testdb *db = *state;
    struct db_pool *pool = make_pool(db, 1, 1234);
    PGconn *c = acquire_or_fail(pool, 1000);
    expect_sql_value(c, "SHOW statement_timeout", "1234ms");
    expect_sql_value(c, "SHOW application_name", "synkro-unit");
    db_pool_release(pool, c, false);
    assert_int_equal(db_pool_destroy(pool, 1000), 0);

    pool = make_pool(db, 1, 300);
    c = acquire_or_fail(pool, 1000);
    expect_sql_value(c, "SHOW statement_timeout", "300ms");
    char err[512] = "";
    int64_t t0 = now_ms();
    PGresult *r = db_exec(c, "SELECT pg_sleep(5)", 0, NULL, err, sizeof err);
    int64_t took = now_ms() - t0;
    assert_null(r);
    assert_string_equal(err,
                        "database error: ERROR:  canceling statement due to statement timeout");
    assert_in_range(took, 250, 3000);
    assert_false(db_conn_lost(c)); /* a timeout does not lose the connection */
    db_pool_release(pool, c, false);
    /* still there and still configured after the error */
    c = acquire_or_fail(pool, 1000);
    expect_sql_value(c, "SHOW statement_timeout", "300ms");
    db_pool_release(pool, c, false);
    assert_int_equal(db_pool_destroy(pool, 1000), 0);
}

static void test_db_exec(void **state)
{
    struct testdb *db = *state;
    struct db_pool *pool = make_pool(db, 1, 5000);
    PGconn *c = acquire_or_fail(pool, 1000);
    const char *params[] = {"2", "3", "it's; DROP TABLE x"};
    char err[512] = "";
    PGresult *r = db_exec(c, "SELECT $1::int + $2::int, $3::text", 3, params, err, sizeof err);
    assert_non_null(r);
    assert_string_equal(PQgetvalue(r, 0, 0), "5");
    assert_string_equal(PQgetvalue(r, 0, 1), "it's; DROP TABLE x");
    PQclear(r);
    r = db_exec(c, "CREATE TABLE t (x int)", 0, NULL, err, sizeof err);
    assert_non_null(r);
    assert_int_equal(PQresultStatus(r), PGRES_COMMAND_OK);
    PQclear(r);
    r = db_exec(c, "SELECT nope FROM t", 0, NULL, err, sizeof err);
    assert_null(r);
    /* first line only */
    assert_string_equal(err, "database error: ERROR:  column \"nope\" does not exist");
    r = db_exec(c, "SELECT $1::int", 1, (const char *const[]){"abc"}, err, sizeof err);
    assert_null(r);
    assert_string_equal(err,
                        "database error: ERROR:  invalid input syntax for type integer: \"abc\"");
    assert_false(db_conn_lost(c));
    db_pool_release(pool, c, false);

    r = db_pool_exec(pool, 1000, "SELECT $1::text || 'y'", 1, (const char *const[]){"x"}, err,
                     sizeof err);
    assert_non_null(r);
    assert_string_equal(PQgetvalue(r, 0, 0), "xy");
    PQclear(r);
    /* an ordinary error is returned, not retried, and keeps the connection */
    r = db_pool_exec(pool, 1000, "SELECT 1/0", 0, NULL, err, sizeof err);
    assert_null(r);
    assert_string_equal(err, "database error: ERROR:  division by zero");
    assert_int_equal(db_pool_open_count(pool), 1);
    assert_int_equal(db_pool_destroy(pool, 1000), 0);
}

static void test_full_pool_times_out(void **state)
{
    struct testdb *db = *state;
    struct db_pool *pool = make_pool(db, 2, 5000);
    PGconn *a = acquire_or_fail(pool, 1000);
    PGconn *b = acquire_or_fail(pool, 1000);
    char err[512] = "";
    int64_t t0 = now_ms();
    PGconn *c = db_pool_acquire(pool, 400, err, sizeof err);
    int64_t took = now_ms() - t0;
    assert_null(c);
    assert_string_equal(err, "no database connection free within 400 ms (pool of 2)");
    assert_in_range(took, 380, 2000);
    /* no wait at all */
    t0 = now_ms();
    assert_null(db_pool_acquire(pool, 0, err, sizeof err));
    assert_in_range(now_ms() - t0, 0, 200);
    assert_string_equal(err, "no database connection free within 0 ms (pool of 2)");
    assert_int_equal(db_pool_open_count(pool), 2);
    db_pool_release(pool, a, false);
    db_pool_release(pool, b, false);
    assert_int_equal(db_pool_destroy(pool, 1000), 0);
}

struct late_release {
    struct db_pool *pool;
    PGconn *conn;
    int delay_ms;
};

static void *late_release_main(void *arg)
{
    struct late_release *lr = arg;
    sleep_ms(lr->delay_ms);
    db_pool_release(lr->pool, lr->conn, false);
    return NULL;
}

static void test_waiter_gets_released_connection(void **state)
{
    struct testdb *db = *state;
    struct db_pool *pool = make_pool(db, 1, 5000);
    PGconn *a = acquire_or_fail(pool, 1000);
    struct late_release lr = {.pool = pool, .conn = a, .delay_ms = 300};
    pthread_t tid;
    assert_int_equal(pthread_create(&tid, NULL, late_release_main, &lr), 0);
    int64_t t0 = now_ms();
    PGconn *b = acquire_or_fail(pool, 5000);
    int64_t took = now_ms() - t0;
    assert_int_equal(pthread_join(tid, NULL), 0);
    assert_ptr_equal(b, a);
    assert_in_range(took, 250, 3000);
    db_pool_release(pool, b, false);
    assert_int_equal(db_pool_destroy(pool, 1000), 0);
}

/* Waits until the backend is gone from pg_stat_activity. */
static void wait_backend_gone(PGconn *watch, int pid)
{
    char p[16];
    snprintf(p, sizeof p, "%d", pid);
    const char *params[] = {p};
    for (int i = 0; i < 200; i++) {
        char err[256];
        PGresult *r = db_exec(watch, "SELECT count(*) FROM pg_stat_activity WHERE pid = $1::int", 1,
                              params, err, sizeof err);
        if (!r)
            fail_msg("%s", err);
        int gone = strcmp(PQgetvalue(r, 0, 0), "0") == 0;
        PQclear(r);
        if (gone)
            return;
        sleep_ms(25);
    }
    fail_msg("backend %d still running after pg_terminate_backend", pid);
}

static void terminate(PGconn *watch, int pid)
{
    char p[16];
    snprintf(p, sizeof p, "%d", pid);
    const char *params[] = {p};
    char err[256] = "";
    PGresult *r =
        db_exec(watch, "SELECT pg_terminate_backend($1::int)", 1, params, err, sizeof err);
    if (!r)
        fail_msg("pg_terminate_backend: %s", err);
    assert_string_equal(PQgetvalue(r, 0, 0), "t");
    PQclear(r);
    wait_backend_gone(watch, pid);
}

/* A pool of one whose idle connection's backend was killed (as by a database restart); *pid
 * receives the dead backend's pid. */
static struct db_pool *pool_with_killed_idle(const struct testdb *db, int *pid)
{
    struct db_pool *pool = make_pool(db, 1, 5000);
    PGconn *c = acquire_or_fail(pool, 1000);
    *pid = PQbackendPID(c);
    db_pool_release(pool, c, false);
    terminate(db->watch, *pid);
    return pool;
}

static void test_killed_connection_detected(void **state)
{
    struct testdb *db = *state;
    int pid;
    struct db_pool *pool = pool_with_killed_idle(db, &pid);
    PGconn *c;

    /* the pool still thinks the idle connection is fine; db_pool_exec finds out and retries */
    char err[512] = "";
    PGresult *r = db_pool_exec(pool, 1000, "SELECT pg_backend_pid()", 0, NULL, err, sizeof err);
    if (!r)
        fail_msg("db_pool_exec did not recover from a killed connection: %s", err);
    int newpid = atoi(PQgetvalue(r, 0, 0));
    PQclear(r);
    assert_true(newpid > 0);
    assert_int_not_equal(newpid, pid);
    assert_int_equal(db_pool_open_count(pool), 1);

    /* by hand: the failure is classified as a lost connection */
    c = acquire_or_fail(pool, 1000);
    pid = PQbackendPID(c);
    assert_int_equal(pid, newpid);
    db_pool_release(pool, c, false);
    terminate(db->watch, pid);
    c = acquire_or_fail(pool, 1000);
    r = db_exec(c, "SELECT 1", 0, NULL, err, sizeof err);
    assert_null(r);
    assert_true(strncmp(err, "database error: ", 16) == 0);
    assert_true(db_conn_lost(c));
    db_pool_release(pool, c, false); /* libpq says it is bad: closed anyway */
    assert_int_equal(db_pool_open_count(pool), 0);
    c = acquire_or_fail(pool, 1000);
    assert_int_not_equal(PQbackendPID(c), pid);
    expect_sql_value(c, "SELECT 41 + 1", "42");
    db_pool_release(pool, c, false);
    assert_int_equal(db_pool_destroy(pool, 1000), 0);
}

/* Notices go to the JSON log, never raw to stderr: a RAISE of each level, and the FATAL the
 * server sends an idle connection it terminates (libpq hands that over as a notice when it reads
 * it while no query runs, as when PostgreSQL stops during an outage); a rollback with nothing open
 * sends nothing, so it draws no warning. */
static void test_notices_are_logged(void **state)
{
    struct testdb *db = *state;
    char path[] = "/tmp/test_pool_log.XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    unlink(path);
    log_set_fd(fd);
    log_set_level(LOG_LEVEL_INFO);
    struct db_pool *pool = make_pool(db, 1, 5000);
    PGconn *c = acquire_or_fail(pool, 1000);
    char err[256] = "";
    assert_int_equal(db_exec_command(c,
                                     "DO $$ BEGIN RAISE NOTICE 'note %', 1;"
                                     " RAISE WARNING 'careful %', 2; END $$",
                                     err, sizeof err),
                     0);
    db_rollback(c); /* nothing open: nothing sent, so no "no transaction in progress" */
    int pid = PQbackendPID(c);
    terminate(db->watch, pid);
    /* idle: reading and parsing the connection's input finds the server's last words */
    for (int i = 0; i < 50 && PQstatus(c) == CONNECTION_OK; i++) {
        PQconsumeInput(c);
        (void)PQisBusy(c);
        struct timespec ts = {0, 20 * 1000000L};
        nanosleep(&ts, NULL);
    }
    db_pool_release(pool, c, false);
    assert_int_equal(db_pool_destroy(pool, 1000), 0);
    log_set_fd(2);

    off_t end = lseek(fd, 0, SEEK_END);
    assert_true(end > 0);
    char *text = calloc(1, (size_t)end + 1);
    assert_non_null(text);
    assert_int_equal(pread(fd, text, (size_t)end, 0), end);
    close(fd);
    int lines = 0;
    for (char *line = text; *line;) { /* every line is one JSON object */
        char *eol = strchr(line, '\n');
        assert_non_null(eol);
        *eol = '\0';
        if (line[0] != '{' || eol[-1] != '}')
            fail_msg("not a JSON line: %s", line);
        *eol = '\n';
        line = eol + 1;
        lines++;
    }
    if (lines < 3)
        fail_msg("a line per notice expected, got %d, the last: %s", lines, strrchr(text, '{'));
    assert_non_null(strstr(text, "\"level\":\"info\",\"msg\":\"database notice\","
                                 "\"severity\":\"NOTICE\",\"code\":\"00000\","
                                 "\"message\":\"note 1\""));
    assert_non_null(strstr(text, "\"level\":\"warn\",\"msg\":\"database notice\","
                                 "\"severity\":\"WARNING\",\"code\":\"01000\","
                                 "\"message\":\"careful 2\""));
    assert_non_null(strstr(text, "\"severity\":\"FATAL\",\"code\":\"57P01\""));
    assert_null(strstr(text, "no transaction in progress"));
    free(text);
}

struct run_count {
    int calls;
    int fail_with; /* 0: succeed; 1: an ordinary error */
    int pid;
};

static int count_and_ping(PGconn *conn, void *ud, char *err, size_t errlen)
{
    struct run_count *rc = ud;
    rc->calls++;
    rc->pid = PQbackendPID(conn);
    if (rc->fail_with) {
        snprintf(err, errlen, "refused by the test");
        return -1;
    }
    return db_ping(conn, err, errlen);
}

/* db_pool_run: work on a connection that died with a restart runs once more on a fresh one; an
 * ordinary failure is returned at once, and the connection kept. */
static void test_pool_run_retries_a_dead_connection(void **state)
{
    struct testdb *db = *state;
    int pid;
    struct db_pool *pool = pool_with_killed_idle(db, &pid);
    PGconn *c;
    char err[512] = "";
    struct run_count rc = {0};
    assert_int_equal(db_pool_run(pool, 1000, count_and_ping, &rc, err, sizeof err), 0);
    assert_int_equal(rc.calls, 2);
    assert_int_not_equal(rc.pid, pid);
    assert_int_equal(db_pool_open_count(pool), 1);
    rc = (struct run_count){.fail_with = 1};
    assert_int_equal(db_pool_run(pool, 1000, count_and_ping, &rc, err, sizeof err), -1);
    assert_int_equal(rc.calls, 1);
    assert_string_equal(err, "refused by the test");
    assert_int_equal(db_pool_open_count(pool), 1);
    /* no connection at all: -1 with the pool's error, fn never runs */
    c = acquire_or_fail(pool, 1000);
    rc = (struct run_count){0};
    assert_int_equal(db_pool_run(pool, 100, count_and_ping, &rc, err, sizeof err), -1);
    assert_int_equal(rc.calls, 0);
    assert_non_null(strstr(err, "no database connection free"));
    db_pool_release(pool, c, false);
    assert_int_equal(db_pool_destroy(pool, 1000), 0);
}

static void test_release_broken_closes(void **state)
{
    struct testdb *db = *state;
    struct db_pool *pool = make_pool(db, 1, 5000);
    PGconn *c = acquire_or_fail(pool, 1000);
    int pid = PQbackendPID(c);
    db_pool_release(pool, c, true);
    assert_int_equal(db_pool_open_count(pool), 0);
    wait_backend_gone(db->watch, pid);
    c = acquire_or_fail(pool, 1000);
    assert_int_not_equal(PQbackendPID(c), pid);
    db_pool_release(pool, c, false);
    assert_int_equal(db_pool_destroy(pool, 1000), 0);
}

static void test_release_mid_transaction_discarded(void **state)
{
    struct testdb *db = *state;
    struct db_pool *pool = make_pool(db, 1, 5000);
    PGconn *c = acquire_or_fail(pool, 1000);
    int pid = PQbackendPID(c);
    char err[512];
    PGresult *r = db_exec(c, "BEGIN", 0, NULL, err, sizeof err);
    assert_non_null(r);
    PQclear(r);
    r = db_exec(c, "CREATE TABLE t_uncommitted (x int)", 0, NULL, err, sizeof err);
    assert_non_null(r);
    PQclear(r);
    assert_int_equal(PQtransactionStatus(c), PQTRANS_INTRANS);
    db_pool_release(pool, c, false);
    assert_int_equal(db_pool_open_count(pool), 0);
    wait_backend_gone(db->watch, pid);
    c = acquire_or_fail(pool, 1000);
    assert_int_not_equal(PQbackendPID(c), pid);
    assert_int_equal(PQtransactionStatus(c), PQTRANS_IDLE);
    expect_sql_value(c, "SELECT to_regclass('t_uncommitted') IS NULL", "t");
    db_pool_release(pool, c, false);

    /* a failed transaction (INERROR) is discarded too */
    c = acquire_or_fail(pool, 1000);
    pid = PQbackendPID(c);
    PQclear(db_exec(c, "BEGIN", 0, NULL, err, sizeof err));
    assert_null(db_exec(c, "SELECT 1/0", 0, NULL, err, sizeof err));
    assert_int_equal(PQtransactionStatus(c), PQTRANS_INERROR);
    db_pool_release(pool, c, false);
    assert_int_equal(db_pool_open_count(pool), 0);
    c = acquire_or_fail(pool, 1000);
    assert_int_not_equal(PQbackendPID(c), pid);
    db_pool_release(pool, c, false);
    assert_int_equal(db_pool_destroy(pool, 1000), 0);
}

/* db_begin/db_commit/db_rollback group statements; db_set_statement_timeout and db_ping work on
 * a connection of one's own. */
static void test_transaction_helpers(void **state)
{
    struct testdb *db = *state;
    struct db_pool *pool = make_pool(db, 1, 5000);
    PGconn *c = acquire_or_fail(pool, 1000);
    char err[512] = "";
    assert_int_equal(db_exec_command(c, "CREATE TABLE t_tx (x int)", err, sizeof err), 0);
    /* committed */
    assert_int_equal(db_begin(c, err, sizeof err), 0);
    assert_int_equal(PQtransactionStatus(c), PQTRANS_INTRANS);
    assert_int_equal(db_exec_command(c, "INSERT INTO t_tx VALUES (1)", err, sizeof err), 0);
    assert_int_equal(db_commit(c, err, sizeof err), 0);
    assert_int_equal(PQtransactionStatus(c), PQTRANS_IDLE);
    expect_sql_value(db->watch, "SELECT count(*) FROM t_tx", "1");
    /* rolled back, also from a failed transaction */
    assert_int_equal(db_begin(c, err, sizeof err), 0);
    assert_int_equal(db_exec_command(c, "INSERT INTO t_tx VALUES (2)", err, sizeof err), 0);
    assert_int_equal(db_exec_command(c, "SELECT 1/0", err, sizeof err), -1);
    assert_int_equal(PQtransactionStatus(c), PQTRANS_INERROR);
    db_rollback(c);
    assert_int_equal(PQtransactionStatus(c), PQTRANS_IDLE);
    expect_sql_value(db->watch, "SELECT count(*) FROM t_tx", "1");
    /* a rollback without a transaction is harmless; BEGIN twice is only a warning */
    db_rollback(c);
    assert_int_equal(db_begin(c, err, sizeof err), 0);
    assert_int_equal(db_begin(c, err, sizeof err), 0);
    db_rollback(c);
    assert_int_equal(PQtransactionStatus(c), PQTRANS_IDLE);
    /* COMMIT without a transaction is only a warning too */
    assert_int_equal(db_commit(c, err, sizeof err), 0);
    /* session settings and the ping */
    assert_int_equal(db_set_statement_timeout(c, 4321, err, sizeof err), 0);
    expect_sql_value(c, "SHOW statement_timeout", "4321ms");
    assert_int_equal(db_set_statement_timeout(c, -5, err, sizeof err), -1);
    assert_non_null(strstr(err, "statement_timeout"));
    expect_sql_value(c, "SHOW jit", "off"); /* the pool's connections have JIT off */
    assert_int_equal(db_exec_command(c, "SET jit = on", err, sizeof err), 0);
    assert_int_equal(db_disable_jit(c, err, sizeof err), 0);
    expect_sql_value(c, "SHOW jit", "off");
    assert_int_equal(db_ping(c, err, sizeof err), 0);
    assert_false(db_conn_lost(c));
    db_pool_release(pool, c, false);
    assert_int_equal(db_pool_destroy(pool, 1000), 0);
}

static void expect_connect_error_without_password(const char *conninfo, const char *password)
{
    struct db_pool_options o = {
        .conninfo = conninfo, .size = 1, .statement_timeout_ms = 1000, .connect_timeout_s = 2};
    struct db_pool *pool = db_pool_create(&o);
    assert_non_null(pool);
    for (int i = 0; i < 2; i++) { /* the slot is given back after a failure */
        char err[1024] = "";
        int64_t t0 = now_ms();
        PGconn *c = db_pool_acquire(pool, 500, err, sizeof err);
        int64_t took = now_ms() - t0;
        if (c)
            db_pool_release(pool, c, true);
        assert_null(c);
        assert_true(strncmp(err, "database connection failed: ", 28) == 0);
        assert_true(strlen(err) > 28);
        assert_null(strchr(err, '\n'));
        assert_in_range(took, 0, 3000);
        if (strstr(err, password)) {
            db_pool_destroy(pool, 0);
            fail_msg("connection error shows the password: %s", err);
        }
        assert_null(strstr(err, "no database connection free"));
    }
    assert_int_equal(db_pool_open_count(pool), 0);
    assert_int_equal(db_pool_destroy(pool, 0), 0);
}

static void test_bad_conninfo_no_password(void **state)
{
    (void)state;
    expect_connect_error_without_password("postgresql://u:s3cretpw@localhost:1/x", "s3cretpw");
    expect_connect_error_without_password("host=localhost port=1 user=u password=s3cretpw2",
                                          "s3cretpw2");
    expect_connect_error_without_password("postgresql://u:s3cretpw3@localhost:notaport/x",
                                          "s3cretpw3");
}

/* libpq repeats a malformed URL in its error text; the pool must not pass the password on. */
static void test_malformed_url_no_password(void **state)
{
    (void)state;
    expect_connect_error_without_password("postgresql://u:s3cretpw4@[::1/x", "s3cretpw4");
}

static void test_destroy_with_borrowed(void **state)
{
    struct testdb *db = *state;
    struct db_pool *pool = make_pool(db, 2, 5000);
    PGconn *idle = acquire_or_fail(pool, 1000);
    PGconn *held = acquire_or_fail(pool, 1000);
    int held_pid = PQbackendPID(held);
    int idle_pid = PQbackendPID(idle);
    db_pool_release(pool, idle, false);
    int64_t t0 = now_ms();
    assert_int_equal(db_pool_destroy(pool, 300), -1);
    int64_t took = now_ms() - t0;
    assert_in_range(took, 280, 2000);
    /* the idle connection was closed; the borrowed one still works */
    wait_backend_gone(db->watch, idle_pid);
    expect_sql_value(held, "SELECT 7", "7");
    /* a late release is safe and closes it */
    db_pool_release(pool, held, false);
    wait_backend_gone(db->watch, held_pid);
    assert_int_equal(db_pool_destroy(pool, 0), 0);
}

static void test_destroy_waits_for_release(void **state)
{
    struct testdb *db = *state;
    struct db_pool *pool = make_pool(db, 1, 5000);
    PGconn *c = acquire_or_fail(pool, 1000);
    struct late_release lr = {.pool = pool, .conn = c, .delay_ms = 200};
    pthread_t tid;
    assert_int_equal(pthread_create(&tid, NULL, late_release_main, &lr), 0);
    int64_t t0 = now_ms();
    int rc = db_pool_destroy(pool, 5000);
    int64_t took = now_ms() - t0;
    assert_int_equal(pthread_join(tid, NULL), 0);
    assert_int_equal(rc, 0);
    assert_in_range(took, 150, 3000);
}

#define POOL_THREADS 8
#define POOL_ITERS   40

struct worker {
    struct db_pool *pool;
    int id;
    int failures;
    char err[512];
};

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    for (int i = 0; i < POOL_ITERS; i++) {
        char a[16], b[16];
        snprintf(a, sizeof a, "%d", w->id);
        snprintf(b, sizeof b, "%d", i);
        const char *params[] = {a, b};
        PGresult *r = db_pool_exec(w->pool, 10000, "SELECT $1::int * 1000 + $2::int", 2, params,
                                   w->err, sizeof w->err);
        if (!r || atoi(PQgetvalue(r, 0, 0)) != w->id * 1000 + i)
            w->failures++;
        PQclear(r);
    }
    return NULL;
}

static void test_threads_share_small_pool(void **state)
{
    struct testdb *db = *state;
    struct db_pool *pool = make_pool(db, 3, 5000);
    struct worker w[POOL_THREADS];
    pthread_t tid[POOL_THREADS];
    for (int i = 0; i < POOL_THREADS; i++) {
        w[i] = (struct worker){.pool = pool, .id = i};
        assert_int_equal(pthread_create(&tid[i], NULL, worker_main, &w[i]), 0);
    }
    for (int i = 0; i < POOL_THREADS; i++)
        assert_int_equal(pthread_join(tid[i], NULL), 0);
    for (int i = 0; i < POOL_THREADS; i++)
        if (w[i].failures)
            fail_msg("worker %d: %d failures, last: %s", i, w[i].failures, w[i].err);
    assert_in_range(db_pool_open_count(pool), 1, 3);
    expect_sql_value(db->watch,
                     "SELECT count(*) <= 3 FROM pg_stat_activity WHERE application_name = "
                     "'synkro-unit' AND datname = current_database()",
                     "t");
    assert_int_equal(db_pool_destroy(pool, 1000), 0);
}

#define DBT(fn) cmocka_unit_test_setup_teardown(fn, testdb_setup, testdb_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_create_bad_options),
        DBT(test_acquire_release_reuses),
        DBT(test_try_acquire_open),
        DBT(test_statement_timeout_set),
        DBT(test_db_exec),
        DBT(test_full_pool_times_out),
        DBT(test_waiter_gets_released_connection),
        DBT(test_killed_connection_detected),
        DBT(test_notices_are_logged),
        DBT(test_pool_run_retries_a_dead_connection),
        DBT(test_release_broken_closes),
        DBT(test_release_mid_transaction_discarded),
        DBT(test_transaction_helpers),
        cmocka_unit_test(test_bad_conninfo_no_password),
        cmocka_unit_test(test_malformed_url_no_password),
        DBT(test_destroy_with_borrowed),
        DBT(test_destroy_waits_for_release),
        DBT(test_threads_share_small_pool),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
