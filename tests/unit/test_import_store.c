/* test_import_store.c: db/import_store against a real, migrated PostgreSQL: the sweep cursors
 * (absent, stored, replaced, kept apart per mapping, source and kind; a stored position that does
 * not fit the caller's buffer is an error, never cut short; a source the table does not know is
 * refused). */
#include "db/import_store.h"
#include "testdb.h"
#include "testdb_sql.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#define MAPPING 7

static PGconn *connect_db(void **state)
{
    struct testdb *db = *state;
    return testdb_connect_or_fail(db->conninfo);
}

static void test_cursors(void **state)
{
    PGconn *conn = connect_db(state);
    char err[256] = "", pos[64];
    bool found = true;
    assert_int_equal(import_store_cursor_get(conn, MAPPING, "salesforce", "updated", pos,
                                             sizeof pos, &found, err, sizeof err),
                     0);
    assert_false(found);
    assert_int_equal(import_store_cursor_set(conn, MAPPING, "salesforce", "updated",
                                             "2024-05-01T10:00:00.000Z", err, sizeof err),
                     0);
    assert_int_equal(import_store_cursor_set(conn, MAPPING, "hubspot", "deleted",
                                             "2024-01-01T00:00:00Z", err, sizeof err),
                     0);
    assert_int_equal(import_store_cursor_set(conn, MAPPING, "salesforce", "updated",
                                             "2024-05-02T10:00:00.000Z", err, sizeof err),
                     0);
    assert_int_equal(import_store_cursor_get(conn, MAPPING, "salesforce", "updated", pos,
                                             sizeof pos, &found, err, sizeof err),
                     0);
    assert_true(found);
    assert_string_equal(pos, "2024-05-02T10:00:00.000Z");
    assert_int_equal(import_store_cursor_get(conn, MAPPING, "hubspot", "deleted", pos, sizeof pos,
                                             &found, err, sizeof err),
                     0);
    assert_true(found);
    assert_string_equal(pos, "2024-01-01T00:00:00Z");
    assert_int_equal(import_store_cursor_get(conn, MAPPING + 1, "hubspot", "deleted", pos,
                                             sizeof pos, &found, err, sizeof err),
                     0);
    assert_false(found);
    assert_int_equal(testdb_long(conn, "SELECT count(*) FROM sync_cursors"), 2);
    /* too small a buffer, or an unknown source, is an error */
    char tiny[8];
    assert_int_equal(import_store_cursor_get(conn, MAPPING, "hubspot", "deleted", tiny, sizeof tiny,
                                             &found, err, sizeof err),
                     -1);
    assert_false(found);
    assert_int_equal(
        import_store_cursor_set(conn, MAPPING, "zendesk", "updated", "x", err, sizeof err), -1);
    PQfinish(conn);
}

int main(void)
{
    setvbuf(stdout, NULL, _IONBF, 0);
#define T(fn) cmocka_unit_test_setup_teardown(fn, testdb_setup_migrated, testdb_teardown)
    const struct CMUnitTest tests[] = {
        T(test_cursors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
