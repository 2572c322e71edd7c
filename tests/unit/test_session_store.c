/* test_session_store.c: db/session_store against a real, migrated PostgreSQL: a session created,
 * found and touched; idle expiry and TTL expiry (times moved back in the table, the store reads the
 * database's clock); revoke, revoke-all-for-user and revoke-of-old-tokens (rotation), revocation of
 * users no longer listed; one-time sign-in codes taken once, not after expiry; prune of ended rows
 * only; and that no stored value is the cookie value or code itself. */
#include "base/session_token.h"
#include "db/pool.h"
#include "db/session_store.h"
#include "testdb.h"
#include "testdb_sql.h"

#include <setjmp.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

/* A new session of user with fingerprint fp: its cookie value into id, its digest into digest. */
static void new_session(struct testdb_pooled *f, const char *user, const char *fp, int ttl_s,
                        char *id, char *digest)
{
    char err[256] = "";
    struct session_row row;
    assert_int_equal(session_token_new(id, SESSION_ID_HEX), 0);
    session_token_digest(id, digest);
    if (session_store_create(f->pool, digest, user, fp, ttl_s, &row, err, sizeof err) != 0)
        fail_msg("session_store_create: %s", err);
    assert_string_equal(row.user, user);
    assert_string_equal(row.token_fp, fp);
    assert_int_equal(strlen(row.expires_at), 20);
}

static int touch(struct testdb_pooled *f, const char *digest, int idle_s, struct session_row *row)
{
    char err[256] = "";
    int rc = session_store_touch(f->pool, digest, idle_s, row, err, sizeof err);
    if (rc < 0)
        fail_msg("session_store_touch: %s", err);
    return rc;
}

/* Runs "UPDATE <update> WHERE <its key> = '<digest>'" (update: "table SET ..."). */
static void exec_digest(struct testdb_pooled *f, const char *update, const char *digest)
{
    char sql[512];
    bool code = strncmp(update, "console_signin_codes", 20) == 0;
    snprintf(sql, sizeof sql, "UPDATE %s WHERE %s = '%s'", update, code ? "code_hash" : "id_hash",
             digest);
    testdb_exec_ok(f->db->watch, sql);
}

static void test_create_touch_and_expiry(void **state)
{
    struct testdb_pooled *f = *state;
    char id[SESSION_ID_HEX + 1], digest[SESSION_DIGEST_HEX + 1];
    new_session(f, "admin", "00112233aabbccdd", 3600, id, digest);
    struct session_row row;
    assert_int_equal(touch(f, digest, 1800, &row), 1);
    assert_string_equal(row.user, "admin");
    assert_string_equal(row.token_fp, "00112233aabbccdd");
    /* the cookie value is never stored, only its digest */
    char sql[256];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM console_sessions WHERE id_hash = '%s'", id);
    assert_int_equal(testdb_long(f->db->watch, sql), 0);
    /* an unknown digest finds nothing */
    char other[SESSION_DIGEST_HEX + 1];
    session_token_digest("not-a-session", other);
    assert_int_equal(touch(f, other, 1800, &row), 0);

    /* idle: last seen 31 minutes ago is over a 30-minute idle timeout; touching does not revive */
    exec_digest(f, "console_sessions SET last_seen_at = now() - interval '31 minutes' ", digest);
    assert_int_equal(touch(f, digest, 1800, &row), 0);
    assert_int_equal(touch(f, digest, 1800, &row), 0);
    /* ... but is within a 40-minute one, and that touch moves last_seen_at to now */
    assert_int_equal(touch(f, digest, 2400, &row), 1);
    assert_int_equal(touch(f, digest, 60, &row), 1);

    /* TTL: past its expiry it is gone however recently it was used */
    exec_digest(f, "console_sessions SET expires_at = now() - interval '1 second' ", digest);
    assert_int_equal(touch(f, digest, 1800, &row), 0);
}

static void test_revocations(void **state)
{
    struct testdb_pooled *f = *state;
    char err[256] = "";
    char a1[SESSION_ID_HEX + 1], a2[SESSION_ID_HEX + 1], b1[SESSION_ID_HEX + 1];
    char da1[SESSION_DIGEST_HEX + 1], da2[SESSION_DIGEST_HEX + 1], db1[SESSION_DIGEST_HEX + 1];
    char c1[SESSION_ID_HEX + 1], dc1[SESSION_DIGEST_HEX + 1];
    new_session(f, "alice", "aaaaaaaaaaaaaaaa", 3600, a1, da1);
    new_session(f, "alice", "bbbbbbbbbbbbbbbb", 3600, a2, da2);
    new_session(f, "bob", "cccccccccccccccc", 3600, b1, db1);
    new_session(f, "carol", "dddddddddddddddd", 3600, c1, dc1);
    struct session_row row;

    /* one session */
    assert_int_equal(session_store_revoke(f->pool, db1, err, sizeof err), 0);
    assert_int_equal(touch(f, db1, 1800, &row), 0);
    assert_int_equal(session_store_revoke(f->pool, db1, err, sizeof err), 0); /* again: no error */

    /* rotation: alice's token is now the one of fingerprint bbbb...: the aaaa... session goes */
    assert_int_equal(
        session_store_revoke_user(f->pool, "alice", "bbbbbbbbbbbbbbbb", err, sizeof err), 1);
    assert_int_equal(touch(f, da1, 1800, &row), 0);
    assert_int_equal(touch(f, da2, 1800, &row), 1);
    /* all of a user's */
    assert_int_equal(session_store_revoke_user(f->pool, "alice", NULL, err, sizeof err), 1);
    assert_int_equal(touch(f, da2, 1800, &row), 0);

    /* users no longer listed: carol is not in the list */
    const char *listed[] = {"admin", "alice", "o\"dd\\name"};
    assert_int_equal(session_store_revoke_others(f->pool, listed, 3, err, sizeof err), 1);
    assert_int_equal(touch(f, dc1, 1800, &row), 0);
    assert_int_equal(testdb_long(f->db->watch, "SELECT count(*) FROM console_sessions "
                                               "WHERE revoked_at IS NULL"),
                     0);
}

static void test_signin_codes(void **state)
{
    struct testdb_pooled *f = *state;
    char err[256] = "", expires[32] = "";
    char code[SESSION_CODE_HEX + 1], digest[SESSION_DIGEST_HEX + 1];
    assert_int_equal(session_token_new(code, SESSION_CODE_HEX), 0);
    assert_true(session_token_well_formed(code, SESSION_CODE_HEX));
    session_token_digest(code, digest);
    if (session_store_code_create(f->pool, digest, "admin", "0011223344556677", 600, expires, err,
                                  sizeof err) != 0)
        fail_msg("code_create: %s", err);
    assert_int_equal(strlen(expires), 20);
    struct session_row row;
    assert_int_equal(session_store_code_take(f->pool, digest, &row, err, sizeof err), 1);
    assert_string_equal(row.user, "admin");
    assert_string_equal(row.token_fp, "0011223344556677");
    /* single use */
    assert_int_equal(session_store_code_take(f->pool, digest, &row, err, sizeof err), 0);

    /* an expired code is refused */
    char code2[SESSION_CODE_HEX + 1], digest2[SESSION_DIGEST_HEX + 1];
    assert_int_equal(session_token_new(code2, SESSION_CODE_HEX), 0);
    session_token_digest(code2, digest2);
    assert_int_equal(session_store_code_create(f->pool, digest2, "admin", "0011223344556677", 600,
                                               expires, err, sizeof err),
                     0);
    exec_digest(f, "console_signin_codes SET expires_at = now() - interval '1 second' ", digest2);
    assert_int_equal(session_store_code_take(f->pool, digest2, &row, err, sizeof err), 0);
    /* a digest that is not hex is refused by the table's check, as an error */
    assert_int_equal(session_store_code_create(f->pool, "'; DROP TABLE console_sessions; --",
                                               "admin", "x", 600, expires, err, sizeof err),
                     -1);
    assert_int_equal(testdb_long(f->db->watch, "SELECT count(*) FROM console_sessions"), 0);
}

static void test_prune(void **state)
{
    struct testdb_pooled *f = *state;
    char err[256] = "";
    char ids[5][SESSION_ID_HEX + 1], d[5][SESSION_DIGEST_HEX + 1];
    for (int i = 0; i < 5; i++)
        new_session(f, "admin", "0011223344556677", 3600, ids[i], d[i]);
    exec_digest(f, "console_sessions SET revoked_at = now()", d[0]);
    exec_digest(f, "console_sessions SET expires_at = now() - interval '1 second' ", d[1]);
    exec_digest(f, "console_sessions SET last_seen_at = now() - interval '2 hours' ", d[2]);
    char code[SESSION_CODE_HEX + 1], cd[SESSION_DIGEST_HEX + 1], expires[32];
    assert_int_equal(session_token_new(code, SESSION_CODE_HEX), 0);
    session_token_digest(code, cd);
    assert_int_equal(session_store_code_create(f->pool, cd, "admin", "0011223344556677", 600,
                                               expires, err, sizeof err),
                     0);
    struct session_row row;
    assert_int_equal(session_store_code_take(f->pool, cd, &row, err, sizeof err), 1);

    /* a limit of 2 deletes at most 2 sessions (and at most 2 codes) per call */
    long n = session_store_prune(f->pool, 3600, 2, err, sizeof err);
    assert_int_equal(n, 3);
    n = session_store_prune(f->pool, 3600, 2, err, sizeof err);
    assert_int_equal(n, 1);
    assert_int_equal(session_store_prune(f->pool, 3600, 2, err, sizeof err), 0);
    /* the two live ones stay and still work */
    assert_int_equal(testdb_long(f->db->watch, "SELECT count(*) FROM console_sessions"), 2);
    assert_int_equal(touch(f, d[3], 3600, &row), 1);
    assert_int_equal(touch(f, d[4], 3600, &row), 1);
    assert_int_equal(testdb_long(f->db->watch, "SELECT count(*) FROM console_signin_codes"), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_create_touch_and_expiry, testdb_pooled_setup,
                                        testdb_pooled_teardown),
        cmocka_unit_test_setup_teardown(test_revocations, testdb_pooled_setup,
                                        testdb_pooled_teardown),
        cmocka_unit_test_setup_teardown(test_signin_codes, testdb_pooled_setup,
                                        testdb_pooled_teardown),
        cmocka_unit_test_setup_teardown(test_prune, testdb_pooled_setup, testdb_pooled_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
