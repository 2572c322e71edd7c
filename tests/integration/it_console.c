/* it_console.c: the embedded console over real HTTP: a real synkro (with a real PostgreSQL)
 * answers / with index.html (text/html, strong ETag, Cache-Control no-cache, the console's
 * security headers), /ui and /admin with 302 to /, /console/<file> with max-age=300 and gzip
 * when asked (Content-Encoding, Vary), If-None-Match with 304, HEAD without a body, and unknown
 * or hostile paths with a JSON 404; no admin token is needed for the static files, while the
 * API behind them still refuses requests without one. */
#include "harness.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cmocka.h>

struct fixture {
    struct harness_db db;
    struct harness_proc proc;
    struct harness_crmsim sim; /* never started */
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    if (!f)
        return -1;
    *state = f;
    const char *env[] = {"SYNKRO_ADMIN_TOKEN=admin-token-for-console-tests", NULL};
    return harness_synkro_start_fresh(&f->db, &f->proc, env);
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    int rc = harness_teardown_clean(&f->db, &f->proc, &f->sim);
    free(f);
    return rc;
}

static void get(struct fixture *f, const char *method, const char *path, const char *const *headers,
                struct harness_response *r)
{
    char url[512];
    snprintf(url, sizeof url, "%s%s", f->proc.base_url, path);
    assert_int_equal(harness_http(method, url, headers, NULL, 0, r), 0);
}

static void expect_header(const struct harness_response *r, const char *name, const char *want)
{
    char v[512];
    if (harness_response_header(r, name, v, sizeof v) != 0)
        fail_msg("no %s header in:\n%s", name, r->headers);
    assert_string_equal(v, want);
}

static int count_headers(const struct harness_response *r, const char *name)
{
    int n = 0;
    size_t len = strlen(name);
    for (const char *line = r->headers; line && *line; line = strchr(line, '\n')) {
        if (*line == '\n')
            line++;
        if (strncasecmp(line, name, len) == 0 && line[len] == ':')
            n++;
    }
    return n;
}

static void test_index(void **state)
{
    struct fixture *f = *state;
    struct harness_response r;
    get(f, "GET", "/", NULL, &r);
    assert_int_equal(r.status, 200);
    expect_header(&r, "Content-Type", "text/html; charset=utf-8");
    expect_header(&r, "Cache-Control", "no-cache");
    assert_int_equal(count_headers(&r, "Cache-Control"), 1);
    expect_header(&r, "X-Frame-Options", "DENY");
    expect_header(&r, "X-Content-Type-Options", "nosniff");
    expect_header(&r, "Referrer-Policy", "no-referrer");
    char csp[512];
    assert_int_equal(harness_response_header(&r, "Content-Security-Policy", csp, sizeof csp), 0);
    assert_non_null(strstr(csp, "script-src 'self'"));
    assert_non_null(strstr(csp, "frame-ancestors 'none'"));
    assert_non_null(strstr(r.body, "/console/app.js"));
    char etag[64];
    assert_int_equal(harness_response_header(&r, "ETag", etag, sizeof etag), 0);
    assert_true(etag[0] == '"');
    harness_response_free(&r);

    char inm[96];
    snprintf(inm, sizeof inm, "If-None-Match: %s", etag);
    const char *h[] = {inm, NULL};
    get(f, "GET", "/", h, &r);
    assert_int_equal(r.status, 304);
    assert_int_equal(r.body_len, 0);
    expect_header(&r, "ETag", etag);
    harness_response_free(&r);

    get(f, "HEAD", "/", NULL, &r);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.body_len, 0);
    expect_header(&r, "Content-Type", "text/html; charset=utf-8");
    harness_response_free(&r);
}

static void test_redirects(void **state)
{
    struct fixture *f = *state;
    const char *paths[] = {"/ui", "/admin"};
    for (size_t i = 0; i < 2; i++) {
        struct harness_response r;
        get(f, "GET", paths[i], NULL, &r);
        assert_int_equal(r.status, 302);
        expect_header(&r, "Location", "/");
        harness_response_free(&r);
    }
}

static void test_files_and_gzip(void **state)
{
    struct fixture *f = *state;
    struct harness_response plain, gz;
    get(f, "GET", "/console/app.js", NULL, &plain);
    assert_int_equal(plain.status, 200);
    expect_header(&plain, "Content-Type", "text/javascript; charset=utf-8");
    expect_header(&plain, "Cache-Control", "max-age=300");
    expect_header(&plain, "Vary", "Accept-Encoding");
    assert_int_equal(count_headers(&plain, "Content-Encoding"), 0);
    assert_non_null(strstr(plain.body, "import"));

    const char *h[] = {"Accept-Encoding: gzip, deflate", NULL};
    get(f, "GET", "/console/app.js", h, &gz);
    assert_int_equal(gz.status, 200);
    expect_header(&gz, "Content-Encoding", "gzip");
    assert_true(gz.body_len < plain.body_len);
    assert_int_equal((unsigned char)gz.body[0], 0x1f);
    assert_int_equal((unsigned char)gz.body[1], 0x8b);
    char e1[64], e2[64];
    assert_int_equal(harness_response_header(&plain, "ETag", e1, sizeof e1), 0);
    assert_int_equal(harness_response_header(&gz, "ETag", e2, sizeof e2), 0);
    assert_string_not_equal(e1, e2);
    harness_response_free(&plain);
    harness_response_free(&gz);

    struct harness_response r;
    get(f, "GET", "/console/pages/signin.js", NULL, &r);
    assert_int_equal(r.status, 200);
    harness_response_free(&r);
    get(f, "GET", "/console/style.css", NULL, &r);
    assert_int_equal(r.status, 200);
    expect_header(&r, "Content-Type", "text/css; charset=utf-8");
    harness_response_free(&r);
}

static void test_unknown_and_hostile(void **state)
{
    struct fixture *f = *state;
    const char *paths[] = {"/console/nope.js",
                           "/console/%2e%2e/CMakeLists.txt",
                           "/console/pages%2Fsignin.js",
                           "/console/pages/%2e%2e%2fapp.js",
                           "/console/.hidden",
                           "/console/a/b/c.js",
                           "/index.html"};
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        struct harness_response r;
        get(f, "GET", paths[i], NULL, &r);
        if (r.status != 404)
            fail_msg("%s: expected 404, got %ld", paths[i], r.status);
        assert_non_null(strstr(r.body, "\"not_found\""));
        harness_response_free(&r);
    }
    struct harness_response r;
    get(f, "POST", "/", NULL, &r);
    assert_int_equal(r.status, 405);
    harness_response_free(&r);
    /* the static files need no token; the API still does */
    get(f, "GET", "/api/mappings", NULL, &r);
    assert_int_equal(r.status, 401);
    harness_response_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_index),
        cmocka_unit_test(test_redirects),
        cmocka_unit_test(test_files_and_gzip),
        cmocka_unit_test(test_unknown_and_hostile),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
