/* testdb.h: a throwaway PostgreSQL database per unit test.
 *
 * Every test gets its own database (synkro_t_<pid>_<n>) created through
 * SYNKRO_TEST_ADMIN_URL (set by scripts/test.sh) and dropped WITH (FORCE)
 * afterwards, so tests never collide. Fails (never skips) when the variable
 * is unset: these tests need a real PostgreSQL, never a mock. */
#ifndef SYNKRO_TESTS_TESTDB_H
#define SYNKRO_TESTS_TESTDB_H

#include <libpq-fe.h>

struct testdb {
    char name[64];
    char *conninfo;
    PGconn *watch; /* a connection outside any pool, for checks */
};

const char *testdb_admin_url(void);
PGconn *testdb_connect_or_fail(const char *conninfo);
/* Runs "<before><quoted dbname><after>" on the admin database. */
void testdb_admin_exec(const char *before, const char *dbname, const char *after);
/* The admin conninfo with another database name; caller frees. */
char *testdb_conninfo_for(const char *dbname);

/* cmocka setup/teardown: *state becomes a struct testdb. */
int testdb_setup(void **state);
int testdb_teardown(void **state);
/* Same, with the embedded migrations applied. */
int testdb_setup_migrated(void **state);

struct db_pool;
/* A pool of size connections to db (statement_timeout 5 s, connect timeout 5 s, application
 * name synkro-unit); fails the test when it cannot be made. Caller destroys it. */
struct db_pool *testdb_pool(const struct testdb *db, int size);

/* A migrated database with a pool of 2 connections, as a cmocka fixture: *state becomes a
 * struct testdb_pooled; the teardown destroys the pool and drops the database. */
struct testdb_pooled {
    struct testdb *db;
    struct db_pool *pool;
};
int testdb_pooled_setup(void **state);
int testdb_pooled_teardown(void **state);

#endif
