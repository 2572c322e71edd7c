/* test_migrate.c: unit tests for db/migrate against a real PostgreSQL.
 *
 * Every test gets its own database (synkro_t_<pid>_<n>, created through SYNKRO_TEST_ADMIN_URL
 * and dropped WITH (FORCE) afterwards) and writes its migration files into a fresh mkdtemp
 * directory. Covers numeric ordering, idempotence, checksum and unknown-version refusal,
 * rollback of a failing migration, file-name and duplicate checks, migrate_status, four
 * concurrent runners, and the embedded set. Fails (never skips) without SYNKRO_TEST_ADMIN_URL. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <libpq-fe.h>

#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "db/migrate.h"
#include "testdb.h"
#include "base/strbuf.h"

/* ---- throwaway database per test ---- */

struct migdb {
    struct testdb *base;
    PGconn *conn;         /* base->watch */
    const char *conninfo; /* base->conninfo */
    char dir[64];         /* this test's migration files */
};

static int db_setup(void **state)
{
    void *base = NULL;
    testdb_setup(&base);
    struct migdb *db = calloc(1, sizeof *db);
    assert_non_null(db);
    db->base = base;
    db->conn = db->base->watch;
    db->conninfo = db->base->conninfo;
    PQclear(PQexec(db->conn, "SET client_min_messages = warning"));
    snprintf(db->dir, sizeof db->dir, "/tmp/synkro_mig.XXXXXX");
    assert_non_null(mkdtemp(db->dir));
    *state = db;
    return 0;
}

static void remove_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        char path[512];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        unlink(path);
    }
    closedir(d);
    rmdir(dir);
}

static int db_teardown(void **state)
{
    struct migdb *db = *state;
    if (!db)
        return 0;
    remove_dir(db->dir);
    void *base = db->base;
    testdb_teardown(&base);
    free(db);
    *state = NULL;
    return 0;
}

/* ---- helpers ---- */

static void write_file(const char *dir, const char *name, const char *text)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(fputs(text, f) >= 0, 1);
    assert_int_equal(fclose(f), 0);
}

static void remove_file(const char *dir, const char *name)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    assert_int_equal(unlink(path), 0);
}

static void load_set(const char *dir, struct migration_set *set)
{
    char err[512] = "";
    if (migration_set_load_dir(dir, set, err, sizeof err) != 0)
        fail_msg("migration_set_load_dir: %s", err);
}

/* The single value of a one-row, one-column query. */
static char *query1(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1 || PQnfields(r) != 1) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s", PQresultErrorMessage(r));
        PQclear(r);
        fail_msg("%s: %s", sql, msg);
    }
    char *v = strdup(PQgetisnull(r, 0, 0) ? "(null)" : PQgetvalue(r, 0, 0));
    PQclear(r);
    return v;
}

static void expect_query(PGconn *c, const char *sql, const char *want)
{
    char *got = query1(c, sql);
    int same = strcmp(got, want) == 0;
    if (!same)
        print_error("%s: got '%s', expected '%s'\n", sql, got, want);
    free(got);
    assert_true(same);
}

static void expect_table(PGconn *c, const char *table, int exists)
{
    char sql[256];
    snprintf(sql, sizeof sql, "SELECT to_regclass('%s') IS NOT NULL", table);
    expect_query(c, sql, exists ? "t" : "f");
}

/* Advisory locks held in this test's database (other databases may run migrations too). */
#define NO_ADVISORY_LOCKS                                                                          \
    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND database = (SELECT oid FROM "   \
    "pg_database WHERE datname = current_database())"

static int apply(PGconn *c, const struct migration_set *set, char *err, size_t errlen)
{
    err[0] = '\0';
    return migrate_apply(c, set, NULL, err, errlen);
}

#define M1 "CREATE TABLE t_users (id int PRIMARY KEY);\nINSERT INTO t_order (v) VALUES (1);\n"
#define M2                                                                                         \
    "CREATE TABLE t_orders (id int PRIMARY KEY, user_id int NOT NULL REFERENCES t_users (id));\n"  \
    "INSERT INTO t_order (v) VALUES (2);\n"
#define M10                                                                                        \
    "CREATE TABLE t_log AS SELECT count(*) AS n FROM t_orders;\nINSERT INTO t_order (v) VALUES "   \
    "(10);\n"
#define M0 "CREATE TABLE t_order (seq serial PRIMARY KEY, v int NOT NULL);\n"

/* 0_order, 0001_users, 2_orders, 10_log: 10 sorts before 2 by text, after it by number. */
static void write_ordered_set(const char *dir)
{
    write_file(dir, "10_log.sql", M10);
    write_file(dir, "2_orders.sql", M2);
    write_file(dir, "0001_users.sql", M1);
    write_file(dir, "0_order.sql", M0);
    write_file(dir, "README.md", "not a migration");
    write_file(dir, "0003_ignored.sql.bak", "SELECT broken syntax here");
}

static void test_apply_in_numeric_order(void **state)
{
    struct migdb *db = *state;
    write_ordered_set(db->dir);
    struct migration_set set;
    load_set(db->dir, &set);
    assert_int_equal(set.count, 4);
    assert_string_equal(set.items[0].filename, "0_order.sql");
    assert_string_equal(set.items[1].filename, "0001_users.sql");
    assert_string_equal(set.items[2].filename, "2_orders.sql");
    assert_string_equal(set.items[3].filename, "10_log.sql");
    assert_string_equal(set.items[3].sql, M10);

    char *progress = NULL;
    size_t plen = 0;
    FILE *pf = open_memstream(&progress, &plen);
    assert_non_null(pf);
    char err[512] = "";
    int rc = migrate_apply(db->conn, &set, pf, err, sizeof err);
    fclose(pf);
    if (rc != 4)
        fail_msg("migrate_apply returned %d: %s", rc, err);
    assert_string_equal(progress, "applied 0_order.sql\napplied 0001_users.sql\n"
                                  "applied 2_orders.sql\napplied 10_log.sql\n");
    free(progress);
    expect_query(db->conn, "SELECT string_agg(v::text, ',' ORDER BY seq) FROM t_order", "1,2,10");
    expect_query(db->conn,
                 "SELECT string_agg(version || ':' || name, ',' ORDER BY version) FROM "
                 "schema_migrations",
                 "0:0_order.sql,1:0001_users.sql,2:2_orders.sql,10:10_log.sql");
    /* checksums are the SHA-256 of each file's text */
    for (size_t i = 0; i < set.count; i++) {
        char sum[65], sql[256];
        migration_checksum(set.items[i].sql, sum);
        snprintf(sql, sizeof sql, "SELECT checksum FROM schema_migrations WHERE name = '%s'",
                 set.items[i].filename);
        expect_query(db->conn, sql, sum);
    }
    expect_table(db->conn, "t_log", 1);
    expect_query(db->conn,
                 "SELECT count(*) FROM schema_migrations WHERE applied_at > now() - "
                 "interval '1 hour' AND applied_at <= now()",
                 "4");
    assert_int_equal(PQtransactionStatus(db->conn), PQTRANS_IDLE);
    /* the advisory lock was released */
    expect_query(db->conn, NO_ADVISORY_LOCKS, "0");
    migration_set_free(&set);
}

static void test_second_run_applies_nothing(void **state)
{
    struct migdb *db = *state;
    write_ordered_set(db->dir);
    struct migration_set set;
    load_set(db->dir, &set);
    char err[512];
    assert_int_equal(apply(db->conn, &set, err, sizeof err), 4);
    char *progress = NULL;
    size_t plen = 0;
    FILE *pf = open_memstream(&progress, &plen);
    assert_int_equal(migrate_apply(db->conn, &set, pf, err, sizeof err), 0);
    fclose(pf);
    assert_string_equal(progress, "");
    free(progress);
    expect_query(db->conn, "SELECT count(*) FROM schema_migrations", "4");
    expect_query(db->conn, "SELECT count(*) FROM t_order", "3");
    migration_set_free(&set);

    /* a new file is the only one applied */
    write_file(db->dir, "0011_more.sql", "CREATE TABLE t_more (x int);");
    load_set(db->dir, &set);
    assert_int_equal(apply(db->conn, &set, err, sizeof err), 1);
    assert_int_equal(apply(db->conn, &set, err, sizeof err), 0);
    expect_query(db->conn, "SELECT count(*) FROM schema_migrations", "5");
    expect_table(db->conn, "t_more", 1);
    migration_set_free(&set);
}

static void test_changed_file_refused(void **state)
{
    struct migdb *db = *state;
    write_ordered_set(db->dir);
    struct migration_set set;
    load_set(db->dir, &set);
    char err[512];
    assert_int_equal(apply(db->conn, &set, err, sizeof err), 4);
    migration_set_free(&set);

    write_file(db->dir, "2_orders.sql", M2 "-- an edit after the fact\n");
    write_file(db->dir, "0011_more.sql", "CREATE TABLE t_more (x int);");
    load_set(db->dir, &set);
    assert_int_equal(apply(db->conn, &set, err, sizeof err), -1);
    char sum_new[65], sum_old[65];
    migration_checksum(M2 "-- an edit after the fact\n", sum_new);
    migration_checksum(M2, sum_old);
    char want[512];
    snprintf(want, sizeof want,
             "migration 2_orders.sql was changed after it was applied (checksum %.12s…, database "
             "has %.12s…); restore the file and put the change in a new migration",
             sum_new, sum_old);
    assert_string_equal(err, want);
    /* nothing further was applied, nothing recorded */
    expect_table(db->conn, "t_more", 0);
    expect_query(db->conn, "SELECT count(*) FROM schema_migrations", "4");
    expect_query(db->conn, "SELECT checksum FROM schema_migrations WHERE version = 2", sum_old);
    assert_int_equal(PQtransactionStatus(db->conn), PQTRANS_IDLE);
    expect_query(db->conn, NO_ADVISORY_LOCKS, "0");
    migration_set_free(&set);

    /* restoring the file makes it pass again */
    write_file(db->dir, "2_orders.sql", M2);
    load_set(db->dir, &set);
    assert_int_equal(apply(db->conn, &set, err, sizeof err), 1);
    expect_table(db->conn, "t_more", 1);
    migration_set_free(&set);
}

static void test_unknown_newer_version_refused(void **state)
{
    struct migdb *db = *state;
    write_file(db->dir, "0001_a.sql", "CREATE TABLE t_a (x int);");
    write_file(db->dir, "0002_b.sql", "CREATE TABLE t_b (x int);");
    struct migration_set set;
    load_set(db->dir, &set);
    char err[512];
    assert_int_equal(apply(db->conn, &set, err, sizeof err), 2);
    migration_set_free(&set);

    /* an older binary: knows 0001 only, and has a new 0003 of its own */
    remove_file(db->dir, "0002_b.sql");
    write_file(db->dir, "0003_c.sql", "CREATE TABLE t_c (x int);");
    load_set(db->dir, &set);
    assert_int_equal(apply(db->conn, &set, err, sizeof err), -1);
    assert_string_equal(err, "the database has migration 2 (0002_b.sql) that this synkro does "
                             "not know: it was migrated by a newer version");
    expect_table(db->conn, "t_c", 0);
    expect_query(db->conn, "SELECT count(*) FROM schema_migrations", "2");
    migration_set_free(&set);
}

static void test_failing_migration_rolls_back(void **state)
{
    struct migdb *db = *state;
    write_file(db->dir, "0001_one.sql",
               "CREATE TABLE t_one (x int); INSERT INTO t_one VALUES (1);");
    write_file(db->dir, "0002_bad.sql",
               "CREATE TABLE t_two (x int);\nINSERT INTO t_one VALUES (2);\nSELECT 1/0;\n");
    write_file(db->dir, "0003_three.sql", "CREATE TABLE t_three (x int);");
    struct migration_set set;
    load_set(db->dir, &set);
    char *progress = NULL;
    size_t plen = 0;
    FILE *pf = open_memstream(&progress, &plen);
    char err[512] = "";
    assert_int_equal(migrate_apply(db->conn, &set, pf, err, sizeof err), -1);
    fclose(pf);
    assert_string_equal(progress, "applied 0001_one.sql\n");
    free(progress);
    assert_string_equal(err, "migration 0002_bad.sql failed: ERROR:  division by zero");
    /* 0002 left no trace; 0001 stays; 0003 never ran */
    expect_table(db->conn, "t_one", 1);
    expect_table(db->conn, "t_two", 0);
    expect_table(db->conn, "t_three", 0);
    expect_query(db->conn, "SELECT string_agg(x::text, ',') FROM t_one", "1");
    expect_query(db->conn, "SELECT string_agg(version::text, ',') FROM schema_migrations", "1");
    assert_int_equal(PQtransactionStatus(db->conn), PQTRANS_IDLE);
    expect_query(db->conn, NO_ADVISORY_LOCKS, "0");
    migration_set_free(&set);

    /* once fixed, the rest goes through */
    write_file(db->dir, "0002_bad.sql", "CREATE TABLE t_two (x int);");
    load_set(db->dir, &set);
    assert_int_equal(apply(db->conn, &set, err, sizeof err), 2);
    expect_table(db->conn, "t_two", 1);
    expect_table(db->conn, "t_three", 1);
    migration_set_free(&set);
}

static void test_syntax_error_rolls_back(void **state)
{
    struct migdb *db = *state;
    write_file(db->dir, "0001_bad.sql", "CREATE TABLE t_x (x int);\nCREAT TABLE t_y (y int);\n");
    struct migration_set set;
    load_set(db->dir, &set);
    char err[512];
    assert_int_equal(apply(db->conn, &set, err, sizeof err), -1);
    assert_string_equal(err, "migration 0001_bad.sql failed: ERROR:  syntax error at or near "
                             "\"CREAT\"");
    expect_table(db->conn, "t_x", 0);
    /* the bookkeeping table exists but is empty */
    expect_query(db->conn, "SELECT count(*) FROM schema_migrations", "0");
    migration_set_free(&set);
}

static void test_bad_file_names(void **state)
{
    struct migdb *db = *state;
    static const char *const bad[] = {"abc.sql",        "0001-init.sql",
                                      "0001.sql",       "_init.sql",
                                      "x0001_init.sql", "0001_.sq.sql.x.sql" /* fine */};
    for (size_t i = 0; i < 5; i++) {
        write_file(db->dir, "0001_good.sql", "SELECT 1;");
        write_file(db->dir, bad[i], "SELECT 1;");
        struct migration_set set;
        char err[512] = "", want[512];
        assert_int_equal(migration_set_load_dir(db->dir, &set, err, sizeof err), -1);
        snprintf(want, sizeof want, "migration file name '%s' is not NNNN_name.sql", bad[i]);
        assert_string_equal(err, want);
        assert_int_equal(set.count, 0);
        assert_null(set.items);
        migration_set_free(&set);
        remove_file(db->dir, bad[i]);
    }
    /* accepted: a name with dots after the number */
    write_file(db->dir, bad[5], "SELECT 1;");
    remove_file(db->dir, "0001_good.sql");
    struct migration_set ok;
    load_set(db->dir, &ok);
    assert_int_equal(ok.count, 1);
    migration_set_free(&ok);

    /* in-memory sets are checked the same way, and migrate_apply refuses them before touching
     * the database */
    struct migration_source items[] = {{"0001_a.sql", "SELECT 1"}, {"b.sql", "SELECT 1"}};
    struct migration_set mem = {.items = items, .count = 2};
    char err[512];
    assert_int_equal(migration_set_validate(&mem, err, sizeof err), -1);
    assert_string_equal(err, "migration file name 'b.sql' is not NNNN_name.sql");
    assert_int_equal(apply(db->conn, &mem, err, sizeof err), -1);
    assert_string_equal(err, "migration file name 'b.sql' is not NNNN_name.sql");
    expect_table(db->conn, "schema_migrations", 0);

    struct migration_source noext[] = {{"0001_a.txt", "SELECT 1"}};
    struct migration_set mem2 = {.items = noext, .count = 1};
    assert_int_equal(migration_set_validate(&mem2, err, sizeof err), -1);
    assert_string_equal(err, "migration file name '0001_a.txt' is not NNNN_name.sql");

    assert_int_equal(migration_set_load_dir("/nonexistent/synkro-migrations", &ok, err, sizeof err),
                     -1);
    assert_string_equal(err, "cannot open migrations directory /nonexistent/synkro-migrations");
}

static void test_duplicate_versions(void **state)
{
    struct migdb *db = *state;
    write_file(db->dir, "0001_a.sql", "SELECT 1;");
    write_file(db->dir, "1_b.sql", "SELECT 1;");
    struct migration_set set;
    char err[512] = "";
    assert_int_equal(migration_set_load_dir(db->dir, &set, err, sizeof err), -1);
    assert_string_equal(err, "two migrations share version 1 ('1_b.sql')");
    migration_set_free(&set);

    struct migration_source dup[] = {{"0002_a.sql", "SELECT 1"}, {"0002_b.sql", "SELECT 2"}};
    struct migration_set mem = {.items = dup, .count = 2};
    assert_int_equal(apply(db->conn, &mem, err, sizeof err), -1);
    assert_string_equal(err, "two migrations share version 2 ('0002_b.sql')");
    expect_table(db->conn, "schema_migrations", 0);

    struct migration_source order[] = {{"0002_a.sql", "SELECT 1"}, {"0001_b.sql", "SELECT 2"}};
    struct migration_set mem2 = {.items = order, .count = 2};
    assert_int_equal(migration_set_validate(&mem2, err, sizeof err), -1);
    assert_string_equal(err, "migration '0001_b.sql' is out of order");
}

static void test_status(void **state)
{
    struct migdb *db = *state;
    write_file(db->dir, "0001_a.sql", "CREATE TABLE t_a (x int);");
    write_file(db->dir, "0002_b.sql", "CREATE TABLE t_b (x int);");
    write_file(db->dir, "0003_c.sql", "CREATE TABLE t_c (x int);");
    struct migration_set set;
    load_set(db->dir, &set);

    /* fresh database: everything pending, and status creates nothing */
    struct migration_status st;
    char err[512];
    assert_int_equal(migrate_status(db->conn, &set, &st, err, sizeof err), 0);
    assert_int_equal(st.count, 3);
    assert_int_equal(st.pending, 3);
    assert_int_equal(st.changed, 0);
    assert_int_equal(st.unknown, 0);
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(st.rows[i].state, MIGRATION_PENDING);
        assert_int_equal(st.rows[i].version, (long)i + 1);
        assert_string_equal(st.rows[i].applied_at, "");
    }
    assert_string_equal(st.rows[1].name, "0002_b.sql");
    migration_status_free(&st);
    expect_table(db->conn, "schema_migrations", 0);

    assert_int_equal(apply(db->conn, &set, err, sizeof err), 3);
    migration_set_free(&set);

    /* now: 0001 unchanged, 0002 edited, 0003 gone (unknown), 0004 new (pending) */
    write_file(db->dir, "0002_b.sql", "CREATE TABLE t_b (x int, y int);");
    remove_file(db->dir, "0003_c.sql");
    write_file(db->dir, "0004_d.sql", "CREATE TABLE t_d (x int);");
    load_set(db->dir, &set);
    assert_int_equal(migrate_status(db->conn, &set, &st, err, sizeof err), 0);
    assert_int_equal(st.count, 4);
    assert_int_equal(st.pending, 1);
    assert_int_equal(st.changed, 1);
    assert_int_equal(st.unknown, 1);
    static const struct {
        long version;
        const char *name;
        enum migration_state state;
        const char *state_name;
        int has_time;
    } want[] = {
        {1, "0001_a.sql", MIGRATION_APPLIED, "applied", 1},
        {2, "0002_b.sql", MIGRATION_CHANGED, "changed", 1},
        {4, "0004_d.sql", MIGRATION_PENDING, "pending", 0},
        {3, "0003_c.sql", MIGRATION_UNKNOWN, "unknown", 1},
    };
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(st.rows[i].version, want[i].version);
        assert_string_equal(st.rows[i].name, want[i].name);
        assert_int_equal(st.rows[i].state, want[i].state);
        assert_string_equal(migration_state_name(st.rows[i].state), want[i].state_name);
        if (want[i].has_time) {
            const char *t = st.rows[i].applied_at;
            assert_int_equal(strlen(t), 20); /* 2026-01-31T12:34:56Z */
            int y, mo, d, h, mi, sec;
            char tee, zed;
            assert_int_equal(
                sscanf(t, "%4d-%2d-%2d%c%2d:%2d:%2d%c", &y, &mo, &d, &tee, &h, &mi, &sec, &zed), 8);
            assert_int_equal(tee, 'T');
            assert_int_equal(zed, 'Z');
            assert_in_range(y, 2000, 9999);
        } else {
            assert_string_equal(st.rows[i].applied_at, "");
        }
    }
    migration_status_free(&st);
    assert_null(st.rows);
    migration_status_free(NULL);
    migration_set_free(&set);
}

#define CONC_THREADS 4

struct runner {
    const char *conninfo;
    const struct migration_set *set;
    pthread_barrier_t *barrier;
    int rc;
    int connected;
    char err[512];
};

static void *runner_main(void *arg)
{
    struct runner *r = arg;
    PGconn *c = PQconnectdb(r->conninfo);
    r->connected = PQstatus(c) == CONNECTION_OK;
    if (r->connected)
        PQclear(PQexec(c, "SET client_min_messages = warning"));
    pthread_barrier_wait(r->barrier);
    if (r->connected)
        r->rc = migrate_apply(c, r->set, NULL, r->err, sizeof r->err);
    else
        snprintf(r->err, sizeof r->err, "%s", PQerrorMessage(c));
    PQfinish(c);
    return NULL;
}

static void test_concurrent_runs(void **state)
{
    struct migdb *db = *state;
    write_file(
        db->dir, "0001_a.sql",
        "SELECT pg_sleep(0.3);\nCREATE TABLE t_runs (n int);\nINSERT INTO t_runs VALUES (1);");
    write_file(db->dir, "0002_b.sql", "INSERT INTO t_runs VALUES (2);");
    write_file(db->dir, "0003_c.sql", "CREATE TABLE t_c (x int);\nINSERT INTO t_runs VALUES (3);");
    write_file(db->dir, "0004_d.sql", "ALTER TABLE t_c ADD COLUMN y int;");
    write_file(db->dir, "0005_e.sql", "INSERT INTO t_runs VALUES (5);");
    struct migration_set set;
    load_set(db->dir, &set);
    pthread_barrier_t barrier;
    assert_int_equal(pthread_barrier_init(&barrier, NULL, CONC_THREADS), 0);
    struct runner r[CONC_THREADS];
    pthread_t tid[CONC_THREADS];
    for (int i = 0; i < CONC_THREADS; i++) {
        r[i] =
            (struct runner){.conninfo = db->conninfo, .set = &set, .barrier = &barrier, .rc = -2};
        assert_int_equal(pthread_create(&tid[i], NULL, runner_main, &r[i]), 0);
    }
    for (int i = 0; i < CONC_THREADS; i++)
        assert_int_equal(pthread_join(tid[i], NULL), 0);
    pthread_barrier_destroy(&barrier);
    int total = 0;
    for (int i = 0; i < CONC_THREADS; i++) {
        if (!r[i].connected || r[i].rc < 0)
            fail_msg("runner %d: rc=%d err=%s", i, r[i].rc, r[i].err);
        total += r[i].rc;
    }
    assert_int_equal(total, 5);
    expect_query(db->conn, "SELECT count(*) FROM schema_migrations", "5");
    expect_query(db->conn, "SELECT count(DISTINCT version) FROM schema_migrations", "5");
    expect_query(db->conn, "SELECT string_agg(n::text, ',' ORDER BY n) FROM t_runs", "1,2,3,5");
    migration_set_free(&set);
}

static void test_embedded_set(void **state)
{
    struct migdb *db = *state;
    struct migration_set set;
    migration_set_embedded(&set);
    assert_int_equal(set.count, migrations_embedded_count);
    assert_true(set.count >= 1);
    assert_ptr_equal(set.items, migrations_embedded);
    assert_false(set.owns_items);
    assert_string_equal(set.items[0].filename, "0001_init.sql");
    char err[512];
    if (migration_set_validate(&set, err, sizeof err) != 0)
        fail_msg("embedded set invalid: %s", err);
    int rc = apply(db->conn, &set, err, sizeof err);
    if (rc != (int)set.count)
        fail_msg("embedded set: migrate_apply returned %d (expected %zu): %s", rc, set.count, err);
    assert_int_equal(apply(db->conn, &set, err, sizeof err), 0);
    char want[32];
    snprintf(want, sizeof want, "%zu", set.count);
    expect_query(db->conn, "SELECT count(*) FROM schema_migrations", want);
    expect_table(db->conn, "synkro_instance", 1);
    struct migration_status st;
    assert_int_equal(migrate_status(db->conn, &set, &st, err, sizeof err), 0);
    assert_int_equal(st.count, set.count);
    assert_int_equal(st.pending + st.changed + st.unknown, 0);
    migration_status_free(&st);
    migration_set_free(&set); /* frees nothing it does not own */
    assert_true(migrations_embedded[0].sql[0] != '\0');
}

static void test_checksum(void **state)
{
    (void)state;
    char sum[65];
    migration_checksum("", sum);
    assert_string_equal(sum, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    migration_checksum("abc", sum);
    assert_string_equal(sum, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    assert_string_equal(migration_state_name(MIGRATION_APPLIED), "applied");
    assert_string_equal(migration_state_name(MIGRATION_PENDING), "pending");
    assert_string_equal(migration_state_name(MIGRATION_CHANGED), "changed");
    assert_string_equal(migration_state_name(MIGRATION_UNKNOWN), "unknown");
}

#define DBT(fn) cmocka_unit_test_setup_teardown(fn, db_setup, db_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        DBT(test_apply_in_numeric_order),
        DBT(test_second_run_applies_nothing),
        DBT(test_changed_file_refused),
        DBT(test_unknown_newer_version_refused),
        DBT(test_failing_migration_rolls_back),
        DBT(test_syntax_error_rolls_back),
        DBT(test_bad_file_names),
        DBT(test_duplicate_versions),
        DBT(test_status),
        DBT(test_concurrent_runs),
        DBT(test_embedded_set),
        cmocka_unit_test(test_checksum),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
