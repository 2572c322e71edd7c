/* test_routes.c: unit tests for server/routes (matcher, content types) and http_error_body.
 *
 * Resolves requests against a custom table (literal paths, {param} captures with
 * percent-decoding, 404 versus 405 with the Allow text, HEAD as GET), checks the
 * Content-Type rule, the shape of the service's own table, and that error bodies are valid
 * JSON whatever the message holds (parsed back with json-c). Starts no server. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <json-c/json.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/http.h"
#include "server/routes.h"

static int handler_a(struct http_request *req)
{
    (void)req;
    return 1;
}

static int handler_b(struct http_request *req)
{
    (void)req;
    return 2;
}

static const char *const json_types[] = {"application/json", NULL};
static const char *const soap_types[] = {"text/xml", "application/soap+xml", NULL};

static const struct route table[] = {
    {"GET", "/items", "items_list", handler_a, 0, NULL},
    {"POST", "/items", "items_create", handler_b, 0, json_types},
    {"GET", "/items/{id}", "item_get", handler_a, 0, NULL},
    {"DELETE", "/items/{id}", "item_delete", handler_b, ROUTE_ADMIN, NULL},
    {"PUT", "/items/{id}/tags/{tag}", "tag_put", handler_a, 0, NULL},
    {"POST", "/hook", "hook", handler_b, 0, soap_types},
    {"GET", "/", "root", handler_a, ROUTE_NO_BODY, NULL},
};
#define NTABLE (sizeof table / sizeof table[0])

static enum route_result find(const char *method, const char *path, struct route_match *m)
{
    return route_find(table, NTABLE, method, path, m);
}

static void expect_found(const char *method, const char *path, const char *name, size_t nparams,
                         const char *p0, const char *p1)
{
    struct route_match m;
    enum route_result r = find(method, path, &m);
    if (r != ROUTE_FOUND)
        fail_msg("%s %s: result %d, expected found", method, path, (int)r);
    assert_non_null(m.route);
    assert_string_equal(m.route->name, name);
    assert_int_equal(m.nparams, nparams);
    if (p0)
        assert_string_equal(m.params[0], p0);
    if (p1)
        assert_string_equal(m.params[1], p1);
}

static void expect_not_found(const char *method, const char *path)
{
    struct route_match m;
    enum route_result r = find(method, path, &m);
    if (r != ROUTE_NOT_FOUND)
        fail_msg("%s %s: result %d, expected not found", method, path, (int)r);
    assert_null(m.route);
    assert_string_equal(m.allow, "");
}

static void expect_405(const char *method, const char *path, const char *allow)
{
    struct route_match m;
    enum route_result r = find(method, path, &m);
    if (r != ROUTE_METHOD_NOT_ALLOWED)
        fail_msg("%s %s: result %d, expected 405", method, path, (int)r);
    assert_null(m.route);
    assert_string_equal(m.allow, allow);
}

static void test_literal_match(void **state)
{
    (void)state;
    expect_found("GET", "/items", "items_list", 0, NULL, NULL);
    expect_found("POST", "/items", "items_create", 0, NULL, NULL);
    expect_found("POST", "/hook", "hook", 0, NULL, NULL);
    expect_found("GET", "/", "root", 0, NULL, NULL);
    struct route_match m;
    assert_int_equal(find("POST", "/items", &m), ROUTE_FOUND);
    assert_ptr_equal(m.route, &table[1]);
    assert_ptr_equal(m.route->handler, handler_b);
}

static void test_param_capture(void **state)
{
    (void)state;
    expect_found("GET", "/items/42", "item_get", 1, "42", NULL);
    expect_found("DELETE", "/items/abc-DEF_1.2~x", "item_delete", 1, "abc-DEF_1.2~x", NULL);
    expect_found("PUT", "/items/7/tags/blue", "tag_put", 2, "7", "blue");
}

static void test_param_percent_decoding(void **state)
{
    (void)state;
    expect_found("GET", "/items/a%20b", "item_get", 1, "a b", NULL);
    expect_found("GET", "/items/%41%42c", "item_get", 1, "ABc", NULL);
    expect_found("GET", "/items/%c3%A9t%C3%a9", "item_get", 1, "\xc3\xa9t\xc3\xa9", NULL);
    expect_found("GET", "/items/100%25", "item_get", 1, "100%", NULL);
    expect_found("GET", "/items/%3Fq%3D1%23", "item_get", 1, "?q=1#", NULL);
    /* not an escape: kept literally */
    expect_found("GET", "/items/%zz", "item_get", 1, "%zz", NULL);
    expect_found("GET", "/items/50%", "item_get", 1, "50%", NULL);
    expect_found("GET", "/items/x%4", "item_get", 1, "x%4", NULL);
    expect_found("PUT", "/items/a%2Db/tags/%7E", "tag_put", 2, "a-b", "~");
}

static void test_param_slash_and_nul_rejected(void **state)
{
    (void)state;
    expect_not_found("GET", "/items/a%2Fb");
    expect_not_found("GET", "/items/a%2fb");
    expect_not_found("GET", "/items/%2F");
    expect_not_found("GET", "/items/a%00b");
    expect_not_found("PUT", "/items/1/tags/..%2F..%2Fetc");
}

static void test_param_length_limit(void **state)
{
    (void)state;
    char path[300];
    char want[200];
    memset(want, 'x', 127);
    want[127] = '\0';
    snprintf(path, sizeof path, "/items/%s", want);
    expect_found("GET", path, "item_get", 1, want, NULL);
    snprintf(path, sizeof path, "/items/%sx", want); /* 128 bytes: does not fit */
    expect_not_found("GET", path);
    /* 127 decoded bytes from 381 encoded ones fit */
    char enc[400] = "/items/";
    for (int i = 0; i < 127; i++)
        strcat(enc, "%78");
    struct route_match m;
    assert_int_equal(find("GET", enc, &m), ROUTE_FOUND);
    assert_string_equal(m.params[0], want);
}

static void test_trailing_slash_and_empty_segments(void **state)
{
    (void)state;
    expect_not_found("GET", "/items/");
    expect_not_found("GET", "/items/42/");
    expect_not_found("POST", "/hook/");
    expect_not_found("GET", "//items");
    expect_not_found("GET", "/items//");
    expect_not_found("PUT", "/items//tags/x");
    expect_not_found("GET", "");
    expect_not_found("GET", "items");
}

static void test_not_found(void **state)
{
    (void)state;
    expect_not_found("GET", "/nope");
    expect_not_found("GET", "/itemsx");
    expect_not_found("GET", "/item");
    expect_not_found("GET", "/items/1/tags");
    expect_not_found("PUT", "/items/1/tags/x/y");
    expect_not_found("GET", "/ITEMS");
    expect_not_found("POST", "/nope");
}

static void test_method_not_allowed(void **state)
{
    (void)state;
    expect_405("PATCH", "/items", "GET, HEAD, POST");
    expect_405("DELETE", "/items", "GET, HEAD, POST");
    expect_405("POST", "/items/42", "GET, HEAD, DELETE");
    expect_405("GET", "/hook", "POST");
    expect_405("HEAD", "/hook", "POST");
    expect_405("GET", "/items/1/tags/x", "PUT");
    expect_405("POST", "/", "GET, HEAD");
}

static void test_head_matches_get(void **state)
{
    (void)state;
    expect_found("HEAD", "/items", "items_list", 0, NULL, NULL);
    expect_found("HEAD", "/items/9", "item_get", 1, "9", NULL);
    expect_found("HEAD", "/", "root", 0, NULL, NULL);
}

static void test_content_type(void **state)
{
    (void)state;
    const struct route *json = &table[1];
    const struct route *soap = &table[5];
    const struct route *any = &table[0];

    assert_true(route_content_type_ok(json, "application/json"));
    assert_true(route_content_type_ok(json, "Application/JSON"));
    assert_true(route_content_type_ok(json, "application/json; charset=utf-8"));
    assert_true(route_content_type_ok(json, "application/json;charset=UTF-8"));
    assert_true(route_content_type_ok(json, "application/json ; charset=utf-8"));
    assert_true(route_content_type_ok(json, "application/json\t;x=y"));
    assert_false(route_content_type_ok(json, "application/jsonx"));
    assert_false(route_content_type_ok(json, "application/jso"));
    assert_false(route_content_type_ok(json, "application/json-patch+json"));
    assert_false(route_content_type_ok(json, "text/plain"));
    assert_false(route_content_type_ok(json, ""));
    assert_false(route_content_type_ok(json, ";application/json"));
    assert_false(route_content_type_ok(json, NULL));

    assert_true(route_content_type_ok(soap, "text/xml; charset=utf-8"));
    assert_true(route_content_type_ok(soap, "TEXT/XML"));
    assert_true(route_content_type_ok(soap, "application/soap+xml; action=\"x\""));
    assert_false(route_content_type_ok(soap, "application/json"));
    assert_false(route_content_type_ok(soap, "text/xm"));

    assert_true(route_content_type_ok(any, NULL));
    assert_true(route_content_type_ok(any, "image/png"));
    assert_true(route_content_type_ok(any, ""));
}

static void test_service_table(void **state)
{
    (void)state;
    size_t n = 0;
    const struct route *rt = routes_table(&n);
    assert_non_null(rt);
    assert_true(n >= 3);
    static const char *const health[][2] = {
        {"/healthz", "healthz"}, {"/readyz", "readyz"}, {"/metrics", "metrics"}};
    for (size_t i = 0; i < 3; i++) {
        struct route_match m;
        assert_int_equal(route_find(rt, n, "GET", health[i][0], &m), ROUTE_FOUND);
        assert_string_equal(m.route->method, "GET");
        assert_string_equal(m.route->pattern, health[i][0]);
        assert_string_equal(m.route->name, health[i][1]);
        assert_non_null(m.route->handler);
        assert_true(m.route->flags & ROUTE_NO_BODY);
        assert_false(m.route->flags & ROUTE_ADMIN);
        assert_int_equal(route_find(rt, n, "HEAD", health[i][0], &m), ROUTE_FOUND);
        assert_int_equal(route_find(rt, n, "POST", health[i][0], &m), ROUTE_METHOD_NOT_ALLOWED);
        assert_string_equal(m.allow, "GET, HEAD");
        char slash[32];
        snprintf(slash, sizeof slash, "%s/", health[i][0]);
        assert_int_equal(route_find(rt, n, "GET", slash, &m), ROUTE_NOT_FOUND);
    }
    /* every row is well-formed: a path pattern, a handler, a unique metrics name, and no two
     * rows with the same method and pattern */
    for (size_t i = 0; i < n; i++) {
        assert_non_null(rt[i].method);
        assert_non_null(rt[i].handler);
        assert_true(rt[i].pattern[0] == '/');
        assert_true(rt[i].name && rt[i].name[0]);
        for (size_t j = i + 1; j < n; j++) {
            assert_string_not_equal(rt[i].name, rt[j].name);
            if (strcmp(rt[i].method, rt[j].method) == 0)
                assert_string_not_equal(rt[i].pattern, rt[j].pattern);
        }
    }
}

/* Parses body, checks it is exactly {"error":{"code":..,"message":..}} with these values. */
static void expect_error_body(const char *body, const char *code, const char *message)
{
    enum json_tokener_error jerr = json_tokener_success;
    struct json_object *root = json_tokener_parse_verbose(body, &jerr);
    if (!root)
        fail_msg("not JSON (%s): %s", json_tokener_error_desc(jerr), body);
    assert_true(json_object_is_type(root, json_type_object));
    assert_int_equal(json_object_object_length(root), 1);
    struct json_object *err = NULL, *c = NULL, *msg = NULL;
    assert_true(json_object_object_get_ex(root, "error", &err));
    assert_int_equal(json_object_object_length(err), 2);
    assert_true(json_object_object_get_ex(err, "code", &c));
    assert_true(json_object_object_get_ex(err, "message", &msg));
    assert_true(json_object_is_type(c, json_type_string));
    assert_true(json_object_is_type(msg, json_type_string));
    assert_int_equal(json_object_get_string_len(c), strlen(code));
    assert_string_equal(json_object_get_string(c), code);
    assert_int_equal(json_object_get_string_len(msg), strlen(message));
    assert_string_equal(json_object_get_string(msg), message);
    json_object_put(root);
}

static void test_error_body_plain(void **state)
{
    (void)state;
    char *body = http_error_body("not_found", "no such route");
    assert_non_null(body);
    assert_string_equal(body, "{\"error\":{\"code\":\"not_found\",\"message\":\"no such route\"}}");
    expect_error_body(body, "not_found", "no such route");
    free(body);
    body = http_error_body("", "");
    assert_string_equal(body, "{\"error\":{\"code\":\"\",\"message\":\"\"}}");
    free(body);
}

static void test_error_body_escaping(void **state)
{
    (void)state;
    const char *msg = "say \"hi\" \\ back\\slash\n\r\ttab \x01\x1f\x7f end";
    char *body = http_error_body("bad\"code\\", msg);
    assert_non_null(body);
    assert_string_equal(body, "{\"error\":{\"code\":\"bad\\\"code\\\\\",\"message\":\"say "
                              "\\\"hi\\\" \\\\ back\\\\slash\\n\\r\\ttab \\u0001\\u001f\\u007f "
                              "end\"}}");
    expect_error_body(body, "bad\"code\\", msg);
    free(body);
}

static void test_error_body_every_control_char(void **state)
{
    (void)state;
    char msg[64];
    size_t n = 0;
    for (int c = 1; c < 0x20; c++)
        msg[n++] = (char)c;
    msg[n++] = 0x7f;
    memcpy(msg + n, "\xc3\xa9\xe2\x82\xac", 5); /* UTF-8 passes through */
    n += 5;
    msg[n] = '\0';
    char *body = http_error_body("x", msg);
    assert_non_null(body);
    for (const char *p = body; *p; p++)
        assert_true((unsigned char)*p >= 0x20 && *p != 0x7f);
    expect_error_body(body, "x", msg);
    free(body);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_literal_match),
        cmocka_unit_test(test_param_capture),
        cmocka_unit_test(test_param_percent_decoding),
        cmocka_unit_test(test_param_slash_and_nul_rejected),
        cmocka_unit_test(test_param_length_limit),
        cmocka_unit_test(test_trailing_slash_and_empty_segments),
        cmocka_unit_test(test_not_found),
        cmocka_unit_test(test_method_not_allowed),
        cmocka_unit_test(test_head_matches_get),
        cmocka_unit_test(test_content_type),
        cmocka_unit_test(test_service_table),
        cmocka_unit_test(test_error_body_plain),
        cmocka_unit_test(test_error_body_escaping),
        cmocka_unit_test(test_error_body_every_control_char),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
