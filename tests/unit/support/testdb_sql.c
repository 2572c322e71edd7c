/* testdb_sql.c: one-line SQL checks of unit tests on a testdb connection (see testdb_sql.h).
 *
 * Owns the static buffer of testdb_value. Fails the running cmocka test on any SQL error. Must not
 * build SQL from values: callers pass their own fixed statements. */
#include "testdb_sql.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <cmocka.h>

const char *testdb_value(PGconn *conn, const char *sql)
{
    static char value[1024];
    PGresult *r = PQexec(conn, sql);
    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s", PQresultErrorMessage(r));
        PQclear(r);
        fail_msg("%s: %s", sql, msg);
    }
    snprintf(value, sizeof value, "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    return value;
}

long testdb_long(PGconn *conn, const char *sql)
{
    return strtol(testdb_value(conn, sql), NULL, 10);
}

void testdb_exec_ok(PGconn *conn, const char *sql)
{
    PGresult *r = PQexec(conn, sql);
    ExecStatusType st = PQresultStatus(r);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s", PQresultErrorMessage(r));
        PQclear(r);
        fail_msg("%s: %s", sql, msg);
    }
    PQclear(r);
}
