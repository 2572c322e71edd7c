/* testdb.c: per-test databases for unit tests (see testdb.h). */
#include "testdb.h"

#include "db/migrate.h"
#include "db/pool.h"
#include "base/strbuf.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

const char *testdb_admin_url(void)
{
    const char *u = getenv("SYNKRO_TEST_ADMIN_URL");
    if (!u || !*u)
        fail_msg("SYNKRO_TEST_ADMIN_URL is not set: this test needs a real PostgreSQL. Run it "
                 "through scripts/test.sh (make test), or start a cluster with `scripts/pg.sh "
                 "start DIR` and export SYNKRO_TEST_ADMIN_URL as its URL with /postgres as the "
                 "database.");
    return u;
}

static void quiet_notices(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

PGconn *testdb_connect_or_fail(const char *conninfo)
{
    PGconn *c = PQconnectdb(conninfo);
    if (PQstatus(c) != CONNECTION_OK) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s", PQerrorMessage(c));
        PQfinish(c);
        fail_msg("cannot connect to the test database: %s", msg);
    }
    PQsetNoticeProcessor(c, quiet_notices, NULL);
    return c;
}

void testdb_admin_exec(const char *before, const char *dbname, const char *after)
{
    PGconn *c = testdb_connect_or_fail(testdb_admin_url());
    char *ident = PQescapeIdentifier(c, dbname, strlen(dbname));
    assert_non_null(ident);
    char sql[256];
    snprintf(sql, sizeof sql, "%s%s%s", before, ident, after);
    PQfreemem(ident);
    PGresult *r = PQexec(c, sql);
    int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    char msg[512];
    snprintf(msg, sizeof msg, "%s", PQresultErrorMessage(r));
    PQclear(r);
    PQfinish(c);
    if (!ok)
        fail_msg("%s: %s", sql, msg);
}

static void append_conninfo_value(struct strbuf *sb, const char *kw, const char *val)
{
    strbuf_printf(sb, "%s='", kw);
    for (const char *p = val; *p; p++) {
        if (*p == '\'' || *p == '\\')
            strbuf_putc(sb, '\\');
        strbuf_putc(sb, *p);
    }
    strbuf_puts(sb, "' ");
}

char *testdb_conninfo_for(const char *dbname)
{
    char *perr = NULL;
    PQconninfoOption *opts = PQconninfoParse(testdb_admin_url(), &perr);
    if (!opts) {
        char msg[256];
        snprintf(msg, sizeof msg, "%s", perr ? perr : "out of memory");
        PQfreemem(perr);
        fail_msg("SYNKRO_TEST_ADMIN_URL does not parse: %s", msg);
    }
    struct strbuf sb = STRBUF_INIT;
    for (PQconninfoOption *o = opts; o->keyword; o++)
        if (o->val && strcmp(o->keyword, "dbname") != 0)
            append_conninfo_value(&sb, o->keyword, o->val);
    append_conninfo_value(&sb, "dbname", dbname);
    PQconninfoFree(opts);
    assert_false(sb.failed);
    return strbuf_detach(&sb, NULL);
}

int testdb_setup(void **state)
{
    static int counter;
    (void)testdb_admin_url(); /* fail early and clearly */
    struct testdb *db = calloc(1, sizeof *db);
    assert_non_null(db);
    snprintf(db->name, sizeof db->name, "synkro_t_%d_%d", (int)getpid(), ++counter);
    testdb_admin_exec("DROP DATABASE IF EXISTS ", db->name, " WITH (FORCE)");
    testdb_admin_exec("CREATE DATABASE ", db->name, "");
    db->conninfo = testdb_conninfo_for(db->name);
    db->watch = testdb_connect_or_fail(db->conninfo);
    *state = db;
    return 0;
}

int testdb_setup_migrated(void **state)
{
    testdb_setup(state);
    struct testdb *db = *state;
    struct migration_set set;
    migration_set_embedded(&set);
    char err[512];
    if (migrate_apply(db->watch, &set, NULL, err, sizeof err) < 0)
        fail_msg("migrations failed: %s", err);
    return 0;
}

struct db_pool *testdb_pool(const struct testdb *db, int size)
{
    struct db_pool_options o = {.conninfo = db->conninfo,
                                .size = size,
                                .statement_timeout_ms = 5000,
                                .connect_timeout_s = 5,
                                .application_name = "synkro-unit"};
    struct db_pool *pool = db_pool_create(&o);
    if (!pool)
        fail_msg("db_pool_create failed");
    return pool;
}

int testdb_teardown(void **state)
{
    struct testdb *db = *state;
    if (!db)
        return 0;
    PQfinish(db->watch);
    testdb_admin_exec("DROP DATABASE IF EXISTS ", db->name, " WITH (FORCE)");
    free(db->conninfo);
    free(db);
    *state = NULL;
    return 0;
}

int testdb_pooled_setup(void **state)
{
    void *base = NULL;
    if (testdb_setup_migrated(&base) != 0)
        return -1;
    struct testdb_pooled *f = calloc(1, sizeof *f);
    if (!f)
        fail_msg("out of memory");
    f->db = base;
    f->pool = testdb_pool(f->db, 2);
    *state = f;
    return 0;
}

int testdb_pooled_teardown(void **state)
{
    struct testdb_pooled *f = *state;
    db_pool_destroy(f->pool, 2000);
    void *base = f->db;
    testdb_teardown(&base);
    free(f);
    return 0;
}
