/* testdb_sql.h: one-line SQL checks of unit tests on a testdb connection.
 *
 * Owns two static buffers (testdb_value's answer, overwritten by the next call; the captured
 * plans of testdb_plans_begin/end). Every helper fails
 * the running cmocka test, with the statement and the server's message, when the statement does
 * not succeed. Must not be used for statements with untrusted input: the SQL is the test's own. */
#ifndef SYNKRO_TESTS_TESTDB_SQL_H
#define SYNKRO_TESTS_TESTDB_SQL_H

#include <libpq-fe.h>

/* The single value of a one-row query, as text ("" for NULL; at most 1023 bytes, in a static
 * buffer valid until the next call). */
const char *testdb_value(PGconn *conn, const char *sql);
/* testdb_value as a long. */
long testdb_long(PGconn *conn, const char *sql);
/* Runs a statement that must succeed (rows, if any, are dropped). */
void testdb_exec_ok(PGconn *conn, const char *sql);

/* Starts capturing the plan of every statement PostgreSQL runs on conn (auto_explain, logged to
 * the client) until testdb_plans_end, which stops and returns them (static; the first 32 KiB). */
void testdb_plans_begin(PGconn *conn);
const char *testdb_plans_end(PGconn *conn);

#endif
