/* test_console_auth.c: the console's authorisation pieces without a database: the decision table
 * of handlers/session_auth.c (bearer, cookie, CSRF, every combination), the session cookie lookup
 * (hostile and malformed Cookie headers), session ids, digests and CSRF tokens, the users file
 * (base/users.c: format, every refusal, fingerprints, lookup) and the per-address sign-in limiter.
 */
#include "base/addr_limiter.h"
#include "base/session_token.h"
#include "base/users.h"
#include "handlers/session_auth.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

/* ---- the decision ---- */

static void test_decision_table(void **state)
{
    (void)state;
    enum {
        N = AUTH_SESSION_NONE,
        V = AUTH_SESSION_VALID,
        I = AUTH_SESSION_INVALID,
        E = AUTH_SESSION_ERROR
    };
    static const struct {
        bool bearer, bearer_ok;
        int session;
        bool safe, csrf;
        enum auth_outcome want;
    } rows[] = {
        /* bearer decides alone, whatever the cookie says */
        {true, true, N, false, false, AUTH_ALLOW_BEARER},
        {true, true, I, false, false, AUTH_ALLOW_BEARER},
        {true, true, E, true, false, AUTH_ALLOW_BEARER},
        {true, false, V, true, true, AUTH_UNAUTHORIZED}, /* a wrong token never falls back */
        {true, false, N, true, false, AUTH_UNAUTHORIZED},
        /* session: safe methods need no CSRF token, others do */
        {false, false, V, true, false, AUTH_ALLOW_SESSION},
        {false, false, V, true, true, AUTH_ALLOW_SESSION},
        {false, false, V, false, true, AUTH_ALLOW_SESSION},
        {false, false, V, false, false, AUTH_CSRF},
        /* no, bad or ended session */
        {false, false, N, true, false, AUTH_UNAUTHORIZED},
        {false, false, N, false, true, AUTH_UNAUTHORIZED},
        {false, false, I, true, false, AUTH_UNAUTHORIZED},
        {false, false, I, false, true, AUTH_UNAUTHORIZED},
        {false, false, I, false, false, AUTH_UNAUTHORIZED},
        /* the store did not answer */
        {false, false, E, true, false, AUTH_UNAVAILABLE},
        {false, false, E, false, false, AUTH_UNAVAILABLE},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        struct auth_facts f = {.bearer_present = rows[i].bearer,
                               .bearer_valid = rows[i].bearer_ok,
                               .session = (enum auth_session)rows[i].session,
                               .safe_method = rows[i].safe,
                               .csrf_valid = rows[i].csrf};
        if (auth_decide(&f) != rows[i].want)
            fail_msg("row %zu: got %d, want %d", i, auth_decide(&f), rows[i].want);
    }
}

/* ---- cookies, ids, CSRF ---- */

#define ID_A "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static void test_cookie_find(void **state)
{
    (void)state;
    char out[SESSION_ID_HEX + 1];
    static const struct {
        const char *header;
        int want;
    } rows[] = {
        {NULL, 0},
        {"", 0},
        {"other=1", 0},
        {"synkro_session=" ID_A, 1},
        {"a=b; synkro_session=" ID_A "; c=d", 1},
        {"  synkro_session = " ID_A " ;", 1},
        {";;;synkro_session=" ID_A, 1},
        {"xsynkro_session=" ID_A, 0}, /* another cookie's name ending the same */
        {"synkro_sessionx=" ID_A, 0},
        {"synkro_session", 0}, /* no '=' */
        {"synkro_session=", -1},
        {"synkro_session=" ID_A "0", -1}, /* too long */
        {"synkro_session=0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef", -1},
        {"synkro_session=\"" ID_A "\"", -1},
        {"synkro_session=../../etc/passwd", -1},
        {"synkro_session='; DROP TABLE console_sessions; --", -1},
        {"synkro_session=%30123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde", -1},
        {"synkro_session=bad; synkro_session=" ID_A, -1}, /* the first one counts */
        {"synkro_session=" ID_A "; synkro_session=bad", 1},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        int got = session_cookie_find(rows[i].header, out);
        if (got != rows[i].want)
            fail_msg("row %zu (%s): got %d, want %d", i, rows[i].header ? rows[i].header : "NULL",
                     got, rows[i].want);
        if (got == 1)
            assert_string_equal(out, ID_A);
        else
            assert_string_equal(out, "");
    }
    /* a very long header with the cookie at the end */
    size_t big = 1 << 16;
    char *h = malloc(big + 100);
    assert_non_null(h);
    memset(h, ';', big);
    strcpy(h + big, "synkro_session=" ID_A);
    assert_int_equal(session_cookie_find(h, out), 1);
    free(h);
}

static void test_ids_digests_csrf(void **state)
{
    (void)state;
    char a[SESSION_ID_HEX + 1], b[SESSION_ID_HEX + 1], code[SESSION_CODE_HEX + 1];
    assert_int_equal(session_token_new(a, SESSION_ID_HEX), 0);
    assert_int_equal(session_token_new(b, SESSION_ID_HEX), 0);
    assert_int_equal(session_token_new(code, SESSION_CODE_HEX), 0);
    assert_true(session_token_well_formed(a, SESSION_ID_HEX));
    assert_true(session_token_well_formed(code, SESSION_CODE_HEX));
    assert_false(session_token_well_formed(code, SESSION_ID_HEX));
    assert_false(session_token_well_formed(NULL, SESSION_ID_HEX));
    assert_string_not_equal(a, b);
    assert_int_equal(session_token_new(a, 3), -1); /* odd: refused */
    assert_int_equal(session_token_new(a, 66), -1);

    char d1[SESSION_DIGEST_HEX + 1], d2[SESSION_DIGEST_HEX + 1], c1[SESSION_DIGEST_HEX + 1],
        c2[SESSION_DIGEST_HEX + 1];
    session_token_digest(ID_A, d1);
    session_token_digest(ID_A, d2);
    assert_string_equal(d1, d2); /* stable */
    assert_true(session_token_well_formed(d1, SESSION_DIGEST_HEX));
    session_csrf_token(ID_A, c1);
    session_csrf_token(ID_A, c2);
    assert_string_equal(c1, c2);
    /* the CSRF token is neither the id nor its stored digest */
    assert_string_not_equal(c1, ID_A);
    assert_string_not_equal(c1, d1);
    assert_string_not_equal(d1, ID_A);
    session_csrf_token(b, c2);
    assert_string_not_equal(c1, c2);
}

/* ---- users ---- */

static struct user_set *parse_ok(const char *admin, const char *text)
{
    char err[256] = "";
    struct user_set *s = user_set_parse(admin, text, err, sizeof err);
    if (!s)
        fail_msg("user_set_parse: %s", err);
    return s;
}

static void test_users_file(void **state)
{
    (void)state;
    struct user_set *s =
        parse_ok("admin-token-0123456789", "# people\n"
                                           "\n"
                                           "alice:alice-token-0123456789\n"
                                           "  bob.smith@example.com : bob-token-0123456789  \r\n"
                                           "carol:carol:token:with:colons");
    assert_int_equal(user_set_count(s), 4);
    assert_string_equal(user_set_name(s, 0), "admin");
    assert_string_equal(user_set_find(s, "admin-token-0123456789"), "admin");
    assert_string_equal(user_set_find(s, "alice-token-0123456789"), "alice");
    assert_string_equal(user_set_find(s, "bob-token-0123456789"), "bob.smith@example.com");
    assert_string_equal(user_set_find(s, "carol:token:with:colons"), "carol");
    assert_null(user_set_find(s, "alice-token-012345678"));
    assert_null(user_set_find(s, ""));
    assert_null(user_set_find(s, NULL));
    char fa[USER_FP_HEX + 1], fb[USER_FP_HEX + 1];
    assert_true(user_set_fingerprint(s, "alice", fa));
    assert_true(user_set_fingerprint(s, "admin", fb));
    assert_int_equal(strlen(fa), USER_FP_HEX);
    assert_string_not_equal(fa, fb);
    assert_false(user_set_fingerprint(s, "nobody", fa));
    user_set_free(s);

    /* the fingerprint follows the token: a rotated admin token has another one */
    struct user_set *r1 = parse_ok("admin-token-0123456789", NULL);
    struct user_set *r2 = parse_ok("admin-token-9876543210", NULL);
    assert_true(user_set_fingerprint(r1, "admin", fa));
    assert_true(user_set_fingerprint(r2, "admin", fb));
    assert_string_not_equal(fa, fb);
    user_set_free(r1);
    user_set_free(r2);

    /* no admin token: no admin user, and nothing matches an empty token */
    struct user_set *none = parse_ok("", NULL);
    assert_int_equal(user_set_count(none), 0);
    assert_null(user_set_find(none, ""));
    user_set_free(none);
}

static void test_users_file_refused(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        const char *want; /* in the error */
    } rows[] = {
        {"alice\n", "line 1: expected name:token"},
        {"ok:ok-token-0123456789\nbad name:tok-0123456789abcdef", "line 2: the user name"},
        {":token-0123456789abcdef", "line 1: the user name"},
        {"admin:token-0123456789abcdef", "'admin' is reserved"},
        {"alice:short", "line 1: the token must be"},
        {"alice:token with spaces 0123456789", "line 1: the token must be"},
        {"alice:token-0123456789abcdef\nalice:token-abcdef0123456789", "named twice"},
        {"alice:token-0123456789abcdef\nbob:token-0123456789abcdef", "also another user's"},
        {"bob:admin-token-0123456789", "also another user's"}, /* the admin's token */
        {"a234567890123456789012345678901234567890123456789012345678901234:tok-0123456789abcdef",
         "the user name"},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        char err[256] = "";
        struct user_set *s =
            user_set_parse("admin-token-0123456789", rows[i].text, err, sizeof err);
        if (s)
            fail_msg("row %zu accepted", i);
        if (!strstr(err, rows[i].want))
            fail_msg("row %zu: error '%s' lacks '%s'", i, err, rows[i].want);
        /* a refusal never shows the token */
        assert_null(strstr(err, "0123456789abcdef"));
    }
    char err[256] = "";
    assert_null(user_set_load("admin-token-0123456789", "/nonexistent/users", err, sizeof err));
    assert_non_null(strstr(err, "/nonexistent/users"));
    assert_true(user_name_valid("a.b-c_d@e"));
    assert_false(user_name_valid(""));
    assert_false(user_name_valid("a b"));
    assert_false(user_name_valid("a\"b"));
}

/* ---- the sign-in limiter ---- */

static void test_addr_limiter(void **state)
{
    (void)state;
    struct addr_limiter *l = addr_limiter_create(3, 2);
    assert_non_null(l);
    int retry = 0;
    int64_t t = 1000000;
    for (int i = 0; i < 3; i++)
        assert_true(addr_limiter_take(l, "10.0.0.1", t + i, &retry));
    assert_false(addr_limiter_take(l, "10.0.0.1", t + 10, &retry));
    assert_int_equal(retry, 60);
    assert_false(addr_limiter_take(l, "10.0.0.1", t + 30500, &retry));
    assert_int_equal(retry, 30);
    /* another address has its own budget */
    assert_true(addr_limiter_take(l, "10.0.0.2", t + 100, &retry));
    /* the window ends: the budget is back */
    assert_true(addr_limiter_take(l, "10.0.0.1", t + 60000, &retry));
    /* a third address in a table of two takes the oldest slot (10.0.0.2 started at t+100, before
     * 10.0.0.1's new window) and does not reset 10.0.0.1 */
    assert_true(addr_limiter_take(l, "10.0.0.3", t + 60001, &retry));
    assert_true(addr_limiter_take(l, "10.0.0.1", t + 60002, &retry));
    assert_true(addr_limiter_take(l, "10.0.0.1", t + 60003, &retry));
    assert_false(addr_limiter_take(l, "10.0.0.1", t + 60004, &retry));
    /* a NULL or overlong address is one key, not a crash */
    char longaddr[200];
    memset(longaddr, 'x', sizeof longaddr - 1);
    longaddr[sizeof longaddr - 1] = '\0';
    assert_true(addr_limiter_take(l, NULL, t, &retry));
    assert_true(addr_limiter_take(l, longaddr, t, &retry));
    addr_limiter_destroy(l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decision_table),     cmocka_unit_test(test_cookie_find),
        cmocka_unit_test(test_ids_digests_csrf),   cmocka_unit_test(test_users_file),
        cmocka_unit_test(test_users_file_refused), cmocka_unit_test(test_addr_limiter),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
