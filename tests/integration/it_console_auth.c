/* it_console_auth.c: the console's sign-in and the admin plane, end to end against the real binary
 * and PostgreSQL: sign-in with the admin token (cookie attributes, security headers, the JSON
 * answer) and its refusals (wrong token, malformed, hostile and oversized bodies); hostile cookie
 * values; GET with the cookie; a state-changing request refused without or with a wrong CSRF token
 * and allowed with it, recording the signed-in user as the mapping's actor (a SYNKRO_USERS_FILE
 * user); sign-out, after which the cookie is refused; bearer tokens still working; the sign-in rate
 * limit (429 + Retry-After); the admin plane on its own address with the public one answering 404;
 * one-time sign-in links (used once); a Secure cookie behind https and the idle timeout;
 * SYNKRO_CONSOLE=off; the admin token rotated across a restart
 * ending the old sessions; and no token, session id, CSRF token or code in the log. */
#include "harness.h"

#include <json-c/json.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#define ADMIN   "admin-token-console-0123456789"
#define ADMIN2  "admin-token-rotated-9876543210"
#define ALICE   "alice-token-console-0123456789"
#define JSON_CT "Content-Type: application/json"

#define PROJECT_MAPPING                                                                            \
    "{\"name\":\"Projects\",\"salesforce_object\":\"Project__c\","                                 \
    "\"hubspot_object\":\"2-3465404\","                                                            \
    "\"rules\":{\"salesforce_to_hubspot\":{\"create\":true,\"update\":true,\"delete\":\"delete\"}" \
    ",\"hubspot_to_salesforce\":{\"create\":true,\"update\":true,\"delete\":\"none\"},"            \
    "\"conflict_winner\":\"salesforce\"},"                                                         \
    "\"identity\":{\"hubspot_property\":\"salesforce_id\",\"salesforce_field\":\"External_Id__"    \
    "c\"},"                                                                                        \
    "\"fields\":[{\"salesforce\":\"Name\",\"hubspot\":\"name\",\"rule\":\"two_way\"}]}"

struct fixture {
    struct harness_db db;
    struct harness_proc proc;
    struct harness_crmsim sim; /* never started: for harness_teardown_clean */
    char users_path[256];
    char admin_url[128]; /* the admin plane, when started with one */
};

struct session {
    char cookie[128]; /* "Cookie: synkro_session=..." */
    char id[80];
    char csrf[80];
    char csrf_header[128];
};

static int fixture_start(void **state, const char *const *extra)
{
    struct fixture *f = calloc(1, sizeof *f);
    if (!f)
        return -1;
    *state = f;
    snprintf(f->users_path, sizeof f->users_path, "/tmp/synkro-it-users.%d", (int)getpid());
    FILE *u = fopen(f->users_path, "w");
    if (!u)
        return -1;
    fprintf(u, "# people\nalice:%s\n", ALICE);
    fclose(u);
    char users_env[300];
    snprintf(users_env, sizeof users_env, "SYNKRO_USERS_FILE=%s", f->users_path);
    const char *env[16] = {"SYNKRO_ADMIN_TOKEN=" ADMIN, users_env, "LOG_LEVEL=debug"};
    size_t n = 3;
    for (const char *const *e = extra; e && *e && n < 15; e++)
        env[n++] = *e;
    env[n] = NULL;
    return harness_synkro_start_fresh(&f->db, &f->proc, env);
}

static int setup(void **state)
{
    return fixture_start(state, NULL);
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    int rc = harness_teardown_clean(&f->db, &f->proc, &f->sim);
    unlink(f->users_path);
    free(f);
    return rc;
}

/* One request to base + path with up to three headers; the response into *r. */
static void call(const char *base, const char *method, const char *path, const char *h1,
                 const char *h2, const char *h3, const char *body, struct harness_response *r)
{
    char url[512];
    snprintf(url, sizeof url, "%s%s", base, path);
    const char *h[4] = {h1, h2, h3, NULL};
    /* drop NULL holes so the list ends at the last header */
    size_t n = 0;
    for (size_t i = 0; i < 3; i++)
        if (h[i])
            h[n++] = h[i];
    h[n] = NULL;
    assert_int_equal(harness_http(method, url, h, body, body ? strlen(body) : 0, r), 0);
}

static const char *error_code(const struct harness_response *r, char *out, size_t outlen)
{
    json_object *o = json_tokener_parse(r->body ? r->body : "");
    json_object *e = NULL, *c = NULL;
    snprintf(out, outlen, "%s",
             o && json_object_object_get_ex(o, "error", &e) &&
                     json_object_object_get_ex(e, "code", &c)
                 ? json_object_get_string(c)
                 : "");
    json_object_put(o);
    return out;
}

static void expect_status(const char *base, const char *method, const char *path, const char *h1,
                          const char *h2, const char *h3, const char *body, long status,
                          const char *code)
{
    struct harness_response r;
    call(base, method, path, h1, h2, h3, body, &r);
    if (r.status != status)
        fail_msg("%s %s: status %ld, want %ld (%s)", method, path, r.status, status,
                 r.body ? r.body : "");
    char got[64];
    if (code)
        assert_string_equal(error_code(&r, got, sizeof got), code);
    harness_response_free(&r);
}

/* Signs in with body; fills s from the cookie and the answer. */
static void sign_in(const char *base, const char *body, const char *user, struct session *s)
{
    struct harness_response r;
    call(base, "POST", "/api/session", JSON_CT, NULL, NULL, body, &r);
    if (r.status != 200)
        fail_msg("sign-in: %ld %s", r.status, r.body ? r.body : "");
    char cookie[512];
    assert_int_equal(harness_response_header(&r, "Set-Cookie", cookie, sizeof cookie), 0);
    assert_int_equal(strncmp(cookie, "synkro_session=", 15), 0);
    size_t idlen = strcspn(cookie + 15, ";");
    assert_int_equal(idlen, 64);
    snprintf(s->id, sizeof s->id, "%.*s", (int)idlen, cookie + 15);
    snprintf(s->cookie, sizeof s->cookie, "Cookie: synkro_session=%s", s->id);
    json_object *o = json_tokener_parse(r.body);
    assert_non_null(o);
    json_object *v;
    assert_true(json_object_object_get_ex(o, "user", &v));
    assert_string_equal(json_object_get_string(v), user);
    assert_true(json_object_object_get_ex(o, "csrf_token", &v));
    snprintf(s->csrf, sizeof s->csrf, "%s", json_object_get_string(v));
    assert_int_equal(strlen(s->csrf), 64);
    assert_string_not_equal(s->csrf, s->id);
    snprintf(s->csrf_header, sizeof s->csrf_header, "X-CSRF-Token: %s", s->csrf);
    json_object_put(o);
    harness_response_free(&r);
}

static void test_sign_in_and_out(void **state)
{
    struct fixture *f = *state;
    const char *base = f->proc.base_url;
    /* refusals */
    expect_status(base, "POST", "/api/session", JSON_CT, NULL, NULL,
                  "{\"token\":\"wrong-token-0123456789\"}", 401, "unauthorized");
    expect_status(base, "POST", "/api/session", JSON_CT, NULL, NULL, "{\"token\":", 400,
                  "bad_request");
    expect_status(base, "POST", "/api/session", JSON_CT, NULL, NULL, "[\"" ADMIN "\"]", 400,
                  "bad_request");
    expect_status(base, "POST", "/api/session", JSON_CT, NULL, NULL, "{\"token\":42}", 400,
                  "bad_request");
    expect_status(base, "POST", "/api/session", JSON_CT, NULL, NULL,
                  "{\"token\":\"" ADMIN "\",\"code\":\"00\"}", 400, "bad_request");
    expect_status(base, "POST", "/api/session", JSON_CT, NULL, NULL, "", 400, "bad_request");
    expect_status(base, "POST", "/api/session", JSON_CT, NULL, NULL,
                  "{\"code\":\"../../etc/passwd\"}", 401, "unauthorized");
    expect_status(base, "POST", "/api/session", "Content-Type: text/plain", NULL, NULL,
                  "{\"token\":\"" ADMIN "\"}", 415, "unsupported_media_type");
    size_t big = 9000;
    char *huge = malloc(big + 32);
    assert_non_null(huge);
    strcpy(huge, "{\"token\":\"");
    memset(huge + 10, 'a', big);
    strcpy(huge + 10 + big, "\"}");
    expect_status(base, "POST", "/api/session", JSON_CT, NULL, NULL, huge, 413,
                  "payload_too_large");
    free(huge);

    /* sign-in: the cookie's attributes and the security headers */
    struct harness_response r;
    call(base, "POST", "/api/session", JSON_CT, NULL, NULL, "{\"token\":\"" ADMIN "\"}", &r);
    assert_int_equal(r.status, 200);
    char h[512];
    assert_int_equal(harness_response_header(&r, "Set-Cookie", h, sizeof h), 0);
    assert_non_null(strstr(h, "; Path=/"));
    assert_non_null(strstr(h, "; HttpOnly"));
    assert_non_null(strstr(h, "; SameSite=Strict"));
    assert_null(strstr(h, "Secure")); /* the public base URL is http here */
    assert_int_equal(harness_response_header(&r, "Content-Security-Policy", h, sizeof h), 0);
    assert_non_null(strstr(h, "default-src 'self'"));
    assert_non_null(strstr(h, "frame-ancestors 'none'"));
    assert_int_equal(harness_response_header(&r, "X-Frame-Options", h, sizeof h), 0);
    assert_string_equal(h, "DENY");
    assert_int_equal(harness_response_header(&r, "Referrer-Policy", h, sizeof h), 0);
    assert_string_equal(h, "no-referrer");
    assert_int_equal(harness_response_header(&r, "X-Content-Type-Options", h, sizeof h), 0);
    assert_string_equal(h, "nosniff");
    json_object *o = json_tokener_parse(r.body);
    json_object *v;
    assert_true(json_object_object_get_ex(o, "idle_timeout_s", &v));
    assert_int_equal(json_object_get_int(v), 1800);
    assert_true(json_object_object_get_ex(o, "expires_at", &v));
    assert_int_equal(strlen(json_object_get_string(v)), 20);
    json_object_put(o);
    harness_response_free(&r);

    struct session s;
    sign_in(base, "{\"token\":\"" ADMIN "\"}", "admin", &s);
    /* GET /api/session: the same CSRF token */
    call(base, "GET", "/api/session", s.cookie, NULL, NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, s.csrf));
    harness_response_free(&r);
    /* the admin API by cookie: GET needs no CSRF token, POST does */
    expect_status(base, "GET", "/api/mappings", s.cookie, NULL, NULL, NULL, 200, NULL);
    expect_status(base, "POST", "/api/errors/retry", s.cookie, NULL, NULL, "", 403, "csrf");
    expect_status(base, "POST", "/api/errors/retry", s.cookie, "X-CSRF-Token: 00", NULL, "", 403,
                  "csrf");
    expect_status(base, "POST", "/api/errors/retry", s.cookie,
                  "X-CSRF-Token: 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
                  NULL, "", 403, "csrf");
    expect_status(base, "POST", "/api/errors/retry", s.cookie, s.csrf_header, NULL, "", 200, NULL);
    /* a wrong bearer token does not fall back to the cookie */
    expect_status(base, "GET", "/api/mappings", s.cookie, "Authorization: Bearer wrong-0123456789",
                  NULL, NULL, 401, "unauthorized");
    /* bearer still works, without CSRF */
    expect_status(base, "POST", "/api/errors/retry", "Authorization: Bearer " ADMIN, NULL, NULL, "",
                  200, NULL);

    /* hostile cookies */
    static const char *const hostile[] = {
        "Cookie: synkro_session=garbage",
        "Cookie: synkro_session=0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        "Cookie: synkro_session='; DROP TABLE console_sessions; --",
        "Cookie: synkro_session=%00%00",
        "Cookie: synkro_session=",
        "Cookie: ;;;===;;",
    };
    for (size_t i = 0; i < sizeof hostile / sizeof hostile[0]; i++) {
        expect_status(base, "GET", "/api/mappings", hostile[i], NULL, NULL, NULL, 401,
                      "unauthorized");
        expect_status(base, "GET", "/api/session", hostile[i], NULL, NULL, NULL, 401,
                      "unauthorized");
    }
    /* the CSRF token is not a cookie */
    char as_cookie[160];
    snprintf(as_cookie, sizeof as_cookie, "Cookie: synkro_session=%s", s.csrf);
    expect_status(base, "GET", "/api/session", as_cookie, NULL, NULL, NULL, 401, "unauthorized");

    /* sign-out: needs the CSRF token, clears the cookie, ends the session */
    expect_status(base, "DELETE", "/api/session", s.cookie, NULL, NULL, NULL, 403, "csrf");
    call(base, "DELETE", "/api/session", s.cookie, s.csrf_header, NULL, NULL, &r);
    assert_int_equal(r.status, 204);
    assert_int_equal(harness_response_header(&r, "Set-Cookie", h, sizeof h), 0);
    assert_non_null(strstr(h, "synkro_session=;"));
    assert_non_null(strstr(h, "Max-Age=0"));
    harness_response_free(&r);
    expect_status(base, "GET", "/api/session", s.cookie, NULL, NULL, NULL, 401, "unauthorized");
    expect_status(base, "GET", "/api/mappings", s.cookie, NULL, NULL, NULL, 401, "unauthorized");
    expect_status(base, "DELETE", "/api/session", s.cookie, s.csrf_header, NULL, NULL, 401,
                  "unauthorized");
    expect_status(base, "GET", "/api/session", NULL, NULL, NULL, NULL, 401, "unauthorized");

    /* the stored row holds neither the cookie value nor the CSRF token */
    char sql[256];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM console_sessions WHERE id_hash IN ('%s', '%s')",
             s.id, s.csrf);
    char *n = harness_db_scalar(&f->db, sql);
    assert_string_equal(n, "0");
    free(n);

    /* nothing a client sent as a secret reaches the log, not even a wrong token */
    char *log = harness_read_file(f->proc.err_path);
    assert_non_null(log);
    assert_null(strstr(log, "wrong-token-0123456789"));
    assert_null(strstr(log, ADMIN));
    assert_null(strstr(log, s.id));
    assert_null(strstr(log, s.csrf));
    free(log);
}

/* A named user's change is recorded under their name, by cookie and by bearer. */
static void test_user_is_the_actor(void **state)
{
    struct fixture *f = *state;
    const char *base = f->proc.base_url;
    struct session s;
    sign_in(base, "{\"token\":\"" ALICE "\"}", "alice", &s);
    struct harness_response r;
    call(base, "POST", "/api/mappings", s.cookie, s.csrf_header, JSON_CT, PROJECT_MAPPING, &r);
    if (r.status != 201)
        fail_msg("create: %ld %s", r.status, r.body);
    harness_response_free(&r);
    /* X-Synkro-Actor does not let a named user pose as someone else */
    call(base, "POST", "/api/mappings/1/pause", "Authorization: Bearer " ALICE,
         "X-Synkro-Actor: mallory", NULL, "", &r);
    harness_response_free(&r);
    char *actors = harness_db_scalar(
        &f->db, "SELECT string_agg(DISTINCT actor, ',' ORDER BY actor) FROM mapping_history");
    assert_non_null(actors);
    assert_string_equal(actors, "alice");
    free(actors);
}

static void test_rate_limit(void **state)
{
    struct fixture *f = *state;
    const char *base = f->proc.base_url;
    for (int i = 0; i < 3; i++)
        expect_status(base, "POST", "/api/session", JSON_CT, NULL, NULL,
                      "{\"token\":\"wrong-token-0123456789\"}", 401, "unauthorized");
    struct harness_response r;
    call(base, "POST", "/api/session", JSON_CT, NULL, NULL, "{\"token\":\"" ADMIN "\"}", &r);
    assert_int_equal(r.status, 429);
    char h[64], code[64];
    assert_string_equal(error_code(&r, code, sizeof code), "rate_limited");
    assert_int_equal(harness_response_header(&r, "Retry-After", h, sizeof h), 0);
    assert_true(atoi(h) >= 1 && atoi(h) <= 60);
    harness_response_free(&r);
    /* the one-time link is counted too; bearer calls are not */
    expect_status(base, "GET", "/signin?code=00", NULL, NULL, NULL, NULL, 429, "rate_limited");
    expect_status(base, "GET", "/api/mappings", "Authorization: Bearer " ADMIN, NULL, NULL, NULL,
                  200, NULL);
}

static int setup_rate_limited(void **state)
{
    static const char *const env[] = {"SYNKRO_SIGNIN_RATE_PER_MIN=3", NULL};
    return fixture_start(state, env);
}

static int setup_admin_plane(void **state)
{
    static char listen[64];
    int port = harness_free_port();
    snprintf(listen, sizeof listen, "SYNKRO_ADMIN_LISTEN=127.0.0.1:%d", port);
    const char *env[] = {listen, NULL};
    int rc = fixture_start(state, env);
    struct fixture *f = *state;
    snprintf(f->admin_url, sizeof f->admin_url, "http://127.0.0.1:%d", port);
    return rc;
}

static void test_admin_plane(void **state)
{
    struct fixture *f = *state;
    const char *pub = f->proc.base_url, *adm = f->admin_url;
    /* the public listener: no console, no /api */
    expect_status(pub, "GET", "/api/mappings", "Authorization: Bearer " ADMIN, NULL, NULL, NULL,
                  404, "not_found");
    expect_status(pub, "POST", "/api/session", JSON_CT, NULL, NULL, "{\"token\":\"" ADMIN "\"}",
                  404, "not_found");
    expect_status(pub, "GET", "/signin?code=00", NULL, NULL, NULL, NULL, 404, "not_found");
    expect_status(pub, "GET", "/healthz", NULL, NULL, NULL, NULL, 200, NULL);
    expect_status(pub, "GET", "/readyz", NULL, NULL, NULL, NULL, 200, NULL);
    expect_status(pub, "GET", "/metrics", NULL, NULL, NULL, NULL, 200, NULL);
    /* webhooks still reach their handler there (refused for the missing signature) */
    struct harness_response r;
    call(pub, "POST", "/webhooks/hubspot", JSON_CT, NULL, NULL, "[]", &r);
    assert_true(r.status != 404);
    harness_response_free(&r);
    /* the admin plane: everything */
    expect_status(adm, "GET", "/api/mappings", "Authorization: Bearer " ADMIN, NULL, NULL, NULL,
                  200, NULL);
    expect_status(adm, "GET", "/healthz", NULL, NULL, NULL, NULL, 200, NULL);
    struct session s;
    sign_in(adm, "{\"token\":\"" ADMIN "\"}", "admin", &s);
    expect_status(adm, "GET", "/api/mappings", s.cookie, NULL, NULL, NULL, 200, NULL);
    /* the admin plane's cookie does not open the public plane */
    expect_status(pub, "GET", "/api/mappings", s.cookie, NULL, NULL, NULL, 404, "not_found");

    /* a one-time sign-in link, made by a signed-in user (cookie + CSRF) */
    call(adm, "POST", "/api/session/codes", s.cookie, s.csrf_header, NULL, "", &r);
    if (r.status != 201)
        fail_msg("codes: %ld %s", r.status, r.body);
    json_object *o = json_tokener_parse(r.body);
    json_object *v;
    assert_true(json_object_object_get_ex(o, "url", &v));
    char url[256], prefix[200];
    snprintf(url, sizeof url, "%s", json_object_get_string(v));
    snprintf(prefix, sizeof prefix, "%s/signin?code=", adm);
    assert_int_equal(strncmp(url, prefix, strlen(prefix)), 0);
    json_object_put(o);
    harness_response_free(&r);
    const char *path = url + strlen(adm);
    call(adm, "HEAD", path, NULL, NULL, NULL, NULL, &r); /* a link checker: the code stays */
    assert_int_equal(r.status, 200);
    harness_response_free(&r);
    call(adm, "GET", path, NULL, NULL, NULL, NULL, &r);
    assert_int_equal(r.status, 302);
    char h[256];
    assert_int_equal(harness_response_header(&r, "Location", h, sizeof h), 0);
    assert_string_equal(h, "/");
    assert_int_equal(harness_response_header(&r, "Set-Cookie", h, sizeof h), 0);
    assert_non_null(strstr(h, "HttpOnly"));
    char cookie[128];
    snprintf(cookie, sizeof cookie, "Cookie: %.*s", (int)strcspn(h, ";"), h);
    harness_response_free(&r);
    expect_status(adm, "GET", "/api/session", cookie, NULL, NULL, NULL, 200, NULL);
    /* used once */
    call(adm, "GET", path, NULL, NULL, NULL, NULL, &r);
    assert_int_equal(r.status, 401);
    harness_response_free(&r);
    /* the code by POST /api/session is refused too now, and a made-up one always */
    char body[128];
    snprintf(body, sizeof body, "{\"code\":\"%s\"}", strstr(url, "code=") + 5);
    expect_status(adm, "POST", "/api/session", JSON_CT, NULL, NULL, body, 401, "unauthorized");

    /* synkro console-link finds the admin plane by SYNKRO_ADMIN_LISTEN */
    char listen_env[80];
    snprintf(listen_env, sizeof listen_env, "SYNKRO_ADMIN_LISTEN=%s", adm + strlen("http://"));
    const char *argv[] = {"console-link", NULL};
    const char *env[] = {listen_env, "SYNKRO_ADMIN_TOKEN=" ADMIN, NULL};
    char *out = NULL;
    assert_int_equal(harness_synkro_run(argv, env, &out), 0);
    assert_non_null(out);
    assert_int_equal(strncmp(out, prefix, strlen(prefix)), 0);
    assert_non_null(strstr(out, "signs in as admin once"));
    out[strcspn(out, "\n")] = '\0';
    expect_status(adm, "GET", out + strlen(adm), NULL, NULL, NULL, NULL, 302, NULL);
    free(out);
    const char *wrong[] = {listen_env, "SYNKRO_ADMIN_TOKEN=wrong-token-0123456789", NULL};
    assert_int_equal(harness_synkro_run(argv, wrong, &out), 1);
    free(out);
}

/* A users file that does not parse stops synkro at start, naming the line, never the token. */
static void test_bad_users_file(void **state)
{
    struct fixture *f = *state;
    char path[300], users_env[320], db_env[1100];
    snprintf(path, sizeof path, "%s.bad", f->users_path);
    FILE *u = fopen(path, "w");
    assert_non_null(u);
    fprintf(u, "# ok\nbob:bob-token-0123456789\nbad name:carol-token-0123456789\n");
    fclose(u);
    snprintf(users_env, sizeof users_env, "SYNKRO_USERS_FILE=%s", path);
    snprintf(db_env, sizeof db_env, "DATABASE_URL=%s", f->db.url);
    const char *argv[] = {"serve", NULL};
    const char *env[] = {db_env, users_env, "SYNKRO_LISTEN=127.0.0.1:0",
                         "SYNKRO_ADMIN_TOKEN=" ADMIN, NULL};
    char *out = NULL;
    assert_int_equal(harness_synkro_run(argv, env, &out), 1);
    unlink(path);
    assert_non_null(out);
    assert_non_null(strstr(out, "line 3: the user name"));
    assert_null(strstr(out, "carol-token-0123456789"));
    assert_null(strstr(out, "bob-token-0123456789"));
    free(out);
}

static int setup_https(void **state)
{
    static const char *const env[] = {"SYNKRO_PUBLIC_BASE_URL=https://synkro.example.com", NULL};
    return fixture_start(state, env);
}

/* Behind https the cookie is Secure; a session unused longer than the idle timeout ends. */
static void test_secure_cookie_and_idle(void **state)
{
    struct fixture *f = *state;
    const char *base = f->proc.base_url;
    struct harness_response r;
    call(base, "POST", "/api/session", JSON_CT, NULL, NULL, "{\"token\":\"" ADMIN "\"}", &r);
    assert_int_equal(r.status, 200);
    char h[512];
    assert_int_equal(harness_response_header(&r, "Set-Cookie", h, sizeof h), 0);
    assert_non_null(strstr(h, "; Secure"));
    harness_response_free(&r);
    struct session s;
    sign_in(base, "{\"token\":\"" ADMIN "\"}", "admin", &s);
    expect_status(base, "GET", "/api/session", s.cookie, NULL, NULL, NULL, 200, NULL);
    char *n = harness_db_scalar(&f->db, "WITH u AS (UPDATE console_sessions SET last_seen_at = "
                                        "now() - interval '31 minutes' RETURNING 1) "
                                        "SELECT count(*) FROM u");
    assert_non_null(n);
    assert_string_equal(n, "2");
    free(n);
    expect_status(base, "GET", "/api/session", s.cookie, NULL, NULL, NULL, 401, "unauthorized");
    expect_status(base, "GET", "/api/mappings", s.cookie, NULL, NULL, NULL, 401, "unauthorized");
}

static int setup_console_off(void **state)
{
    static const char *const env[] = {"SYNKRO_CONSOLE=off", NULL};
    return fixture_start(state, env);
}

static void test_console_off(void **state)
{
    struct fixture *f = *state;
    const char *base = f->proc.base_url;
    expect_status(base, "POST", "/api/session", JSON_CT, NULL, NULL, "{\"token\":\"" ADMIN "\"}",
                  404, "not_found");
    expect_status(base, "GET", "/api/session", NULL, NULL, NULL, NULL, 404, "not_found");
    expect_status(base, "GET", "/signin?code=00", NULL, NULL, NULL, NULL, 404, "not_found");
    expect_status(base, "GET", "/api/mappings", "Authorization: Bearer " ADMIN, NULL, NULL, NULL,
                  200, NULL);
    /* a session cookie is not even looked at */
    expect_status(base, "GET", "/api/mappings",
                  "Cookie: synkro_session="
                  "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
                  NULL, NULL, NULL, 401, "unauthorized");
    char url_env[200];
    snprintf(url_env, sizeof url_env, "SYNKRO_API_URL=%s", base);
    const char *argv[] = {"console-link", NULL};
    const char *env[] = {url_env, "SYNKRO_ADMIN_TOKEN=" ADMIN, NULL};
    char *out = NULL;
    assert_int_equal(harness_synkro_run(argv, env, &out), 1);
    assert_non_null(strstr(out, "SYNKRO_CONSOLE=off"));
    free(out);
}

/* The admin token changes across a restart: sessions made with the old one end. */
static void test_rotation_and_log(void **state)
{
    struct fixture *f = *state;
    struct session s, a;
    sign_in(f->proc.base_url, "{\"token\":\"" ADMIN "\"}", "admin", &s);
    sign_in(f->proc.base_url, "{\"token\":\"" ALICE "\"}", "alice", &a);
    struct harness_response r;
    call(f->proc.base_url, "POST", "/api/session/codes", "Authorization: Bearer " ADMIN, NULL, NULL,
         "", &r);
    assert_int_equal(r.status, 201);
    json_object *o = json_tokener_parse(r.body);
    json_object *v;
    assert_true(json_object_object_get_ex(o, "code", &v));
    char code[64];
    snprintf(code, sizeof code, "%s", json_object_get_string(v));
    json_object_put(o);
    harness_response_free(&r);

    /* no secret in the log of that run */
    char *log = harness_read_file(f->proc.err_path);
    assert_non_null(log);
    const char *secrets[] = {ADMIN, ALICE, s.id, s.csrf, a.id, a.csrf, code};
    for (size_t i = 0; i < sizeof secrets / sizeof secrets[0]; i++)
        if (strstr(log, secrets[i]))
            fail_msg("secret %zu is in the log", i);
    assert_non_null(strstr(log, "session_create")); /* the requests were logged */
    free(log);

    assert_int_equal(harness_synkro_stop(&f->proc, SIGTERM, 15000), 0);
    char users_env[300];
    snprintf(users_env, sizeof users_env, "SYNKRO_USERS_FILE=%s", f->users_path);
    const char *env[] = {"SYNKRO_ADMIN_TOKEN=" ADMIN2, users_env, NULL};
    assert_int_equal(harness_synkro_start(&f->proc, f->db.url, env), 0);
    const char *base = f->proc.base_url;
    expect_status(base, "GET", "/api/session", s.cookie, NULL, NULL, NULL, 401, "unauthorized");
    expect_status(base, "GET", "/api/mappings", s.cookie, NULL, NULL, NULL, 401, "unauthorized");
    /* the code made with the old token is no good either */
    char body[128];
    snprintf(body, sizeof body, "{\"code\":\"%s\"}", code);
    expect_status(base, "POST", "/api/session", JSON_CT, NULL, NULL, body, 401, "unauthorized");
    /* alice's token did not change: her session lives on */
    expect_status(base, "GET", "/api/session", a.cookie, NULL, NULL, NULL, 200, NULL);
    expect_status(base, "POST", "/api/session", JSON_CT, NULL, NULL, "{\"token\":\"" ADMIN "\"}",
                  401, "unauthorized");
    sign_in(base, "{\"token\":\"" ADMIN2 "\"}", "admin", &s);
    /* revoked at start (and then pruned by the janitor): only alice's and the new one live */
    char *live = harness_db_scalar(
        &f->db, "SELECT string_agg(user_name, ',' ORDER BY user_name) FROM console_sessions "
                "WHERE revoked_at IS NULL AND expires_at > now()");
    assert_non_null(live);
    assert_string_equal(live, "admin,alice");
    free(live);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_sign_in_and_out, setup, teardown),
        cmocka_unit_test_setup_teardown(test_user_is_the_actor, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rate_limit, setup_rate_limited, teardown),
        cmocka_unit_test_setup_teardown(test_admin_plane, setup_admin_plane, teardown),
        cmocka_unit_test_setup_teardown(test_console_off, setup_console_off, teardown),
        cmocka_unit_test_setup_teardown(test_secure_cookie_and_idle, setup_https, teardown),
        cmocka_unit_test_setup_teardown(test_rotation_and_log, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_users_file, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
