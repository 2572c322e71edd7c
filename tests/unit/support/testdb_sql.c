/* testdb_sql.c: one-line SQL checks of unit tests on a testdb connection (see testdb_sql.h).
 *
 * Owns the static buffers of testdb_value and of the captured plans. Fails the running cmocka test
 * on any SQL error. Must not build SQL from values: callers pass their own fixed statements. */
#include "testdb_sql.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

static char plans[32768];
static PQnoticeProcessor plans_old; /* libpq's default, whose argument is unused */

static void capture_plan(void *arg, const char *message)
{
    (void)arg;
    if (strstr(message, "plan:") && strlen(plans) + strlen(message) + 1 < sizeof plans)
        strcat(plans, message);
}

void testdb_plans_begin(PGconn *conn)
{
    testdb_exec_ok(conn, "LOAD 'auto_explain'");
    testdb_exec_ok(conn, "SET auto_explain.log_min_duration = 0");
    testdb_exec_ok(conn, "SET client_min_messages = log");
    plans[0] = '\0';
    plans_old = PQsetNoticeProcessor(conn, capture_plan, NULL);
}

const char *testdb_plans_end(PGconn *conn)
{
    PQsetNoticeProcessor(conn, plans_old, NULL);
    testdb_exec_ok(conn, "SET client_min_messages = notice");
    testdb_exec_ok(conn, "SET auto_explain.log_min_duration = -1");
    return plans;
}
