/* test_console_static.c: unit tests for handlers/console_static (the embedded console).
 *
 * Checks console_resolve against the real generated table: Content-Type per extension, strong
 * ETags (one per representation), If-None-Match -> 304 (lists, W/, *), gzip negotiation
 * (q values, x-gzip, *, refusals), Cache-Control, /ui and /admin redirects, unknown files,
 * and hostile paths (.., encoded dots and slashes, hidden files, empty parts, oversized and
 * control characters), which must all answer 404. Also: the gzip copies decompress (gzip -dc)
 * to the file, the HTML has no inline script, style or on* attribute (the console's CSP forbids
 * them), no page writes HTML from strings, and the assets stay under 300 kB. Starts no server. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "handlers/console_static.h"

static void expect_status(const char *path, unsigned status)
{
    struct console_answer a;
    console_resolve(path, NULL, NULL, &a);
    if (a.status != status)
        fail_msg("%s: expected %u, got %u", path, status, a.status);
}

static void test_content_types(void **state)
{
    (void)state;
    assert_string_equal(console_content_type("index.html"), "text/html; charset=utf-8");
    assert_string_equal(console_content_type("app.js"), "text/javascript; charset=utf-8");
    assert_string_equal(console_content_type("pages/wizard.js"), "text/javascript; charset=utf-8");
    assert_string_equal(console_content_type("style.css"), "text/css; charset=utf-8");
    assert_string_equal(console_content_type("favicon.svg"), "image/svg+xml");
    assert_string_equal(console_content_type("x.PNG"), "image/png");
    assert_string_equal(console_content_type("README"), "application/octet-stream");
    assert_string_equal(console_content_type("a.js/b"), "application/octet-stream");
    assert_string_equal(console_content_type("x.exe"), "application/octet-stream");
    assert_string_equal(console_content_type(NULL), "application/octet-stream");
    /* every embedded file has a known type */
    for (size_t i = 0; i < console_assets_count; i++)
        if (strcmp(console_content_type(console_assets[i].path), "application/octet-stream") == 0)
            fail_msg("%s has no Content-Type in the table", console_assets[i].path);
}

static void test_the_shell_is_embedded(void **state)
{
    (void)state;
    static const char *const files[] = {
        "index.html",      "style.css",         "app.js",         "api.js", "ui.js", "favicon.svg",
        "pages/signin.js", "pages/mappings.js", "pages/wizard.js"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        const struct console_asset *a = console_asset_find(files[i]);
        if (!a)
            fail_msg("%s is not embedded", files[i]);
        assert_true(a->len > 0);
        assert_int_equal(strlen((const char *)a->data), a->len);
        assert_int_equal(strlen(a->etag), 18); /* "\"" + 16 hex + "\"" */
        assert_true(a->etag[0] == '"' && a->etag[17] == '"');
    }
}

static void test_root_and_files(void **state)
{
    (void)state;
    struct console_answer a;
    console_resolve("/", NULL, NULL, &a);
    assert_int_equal(a.status, 200);
    assert_string_equal(a.asset->path, "index.html");
    assert_string_equal(a.content_type, "text/html; charset=utf-8");
    assert_string_equal(a.cache_control, "no-cache");
    assert_false(a.gzip);
    assert_ptr_equal(a.body, a.asset->data);
    assert_int_equal(a.len, a.asset->len);
    assert_string_equal(a.etag, a.asset->etag);

    console_resolve("/console/pages/signin.js", NULL, NULL, &a);
    assert_int_equal(a.status, 200);
    assert_string_equal(a.asset->path, "pages/signin.js");
    assert_string_equal(a.cache_control, "max-age=300");
    assert_string_equal(a.content_type, "text/javascript; charset=utf-8");

    console_resolve("/console/index.html", NULL, NULL, &a);
    assert_int_equal(a.status, 200);
    assert_string_equal(a.cache_control, "no-cache");
}

static void test_redirects(void **state)
{
    (void)state;
    const char *paths[] = {"/ui", "/admin"};
    for (size_t i = 0; i < 2; i++) {
        struct console_answer a;
        console_resolve(paths[i], NULL, NULL, &a);
        assert_int_equal(a.status, 302);
        assert_string_equal(a.location, "/");
    }
    expect_status("/uix", 404);
    expect_status("/admin/x", 404);
}

static void test_etag_and_304(void **state)
{
    (void)state;
    const struct console_asset *app = console_asset_find("app.js");
    assert_non_null(app);
    struct console_answer a;
    console_resolve("/console/app.js", NULL, app->etag, &a);
    assert_int_equal(a.status, 304);
    assert_null(a.body);
    char list[128];
    snprintf(list, sizeof list, "\"0000000000000000\", W/%s", app->etag);
    console_resolve("/console/app.js", NULL, list, &a);
    assert_int_equal(a.status, 304);
    console_resolve("/console/app.js", NULL, "*", &a);
    assert_int_equal(a.status, 304);
    console_resolve("/console/app.js", NULL, "\"0000000000000000\"", &a);
    assert_int_equal(a.status, 200);
    console_resolve("/console/app.js", NULL, "", &a);
    assert_int_equal(a.status, 200);
    /* an ETag without its quotes, or with a prefix, is another tag */
    char bare[32];
    snprintf(bare, sizeof bare, "%.16s", app->etag + 1);
    console_resolve("/console/app.js", NULL, bare, &a);
    assert_int_equal(a.status, 200);
    /* another file's tag does not match */
    console_resolve("/console/ui.js", NULL, app->etag, &a);
    assert_int_equal(a.status, 200);

    /* the gzip representation has its own tag: the identity tag gives 200 gzip, its own 304 */
    assert_non_null(app->gz);
    console_resolve("/console/app.js", "gzip", app->etag, &a);
    assert_int_equal(a.status, 200);
    assert_true(a.gzip);
    assert_string_not_equal(a.etag, app->etag);
    char gz_tag[40];
    snprintf(gz_tag, sizeof gz_tag, "%s", a.etag);
    assert_int_equal(strlen(gz_tag), 21);
    console_resolve("/console/app.js", "gzip", gz_tag, &a);
    assert_int_equal(a.status, 304);
    console_resolve("/console/app.js", NULL, gz_tag, &a);
    assert_int_equal(a.status, 200);
    assert_false(a.gzip);
}

static void test_gzip_negotiation(void **state)
{
    (void)state;
    assert_true(console_accepts_gzip("gzip"));
    assert_true(console_accepts_gzip("GZIP"));
    assert_true(console_accepts_gzip("gzip, deflate, br"));
    assert_true(console_accepts_gzip("deflate, gzip;q=0.5"));
    assert_true(console_accepts_gzip("br;q=1.0, gzip; q=0.001"));
    assert_true(console_accepts_gzip("x-gzip"));
    assert_true(console_accepts_gzip("*"));
    assert_true(console_accepts_gzip("identity, *;q=0.1"));
    assert_false(console_accepts_gzip(NULL));
    assert_false(console_accepts_gzip(""));
    assert_false(console_accepts_gzip("identity"));
    assert_false(console_accepts_gzip("deflate, br"));
    assert_false(console_accepts_gzip("gzip;q=0"));
    assert_false(console_accepts_gzip("gzip;q=0.000"));
    assert_false(console_accepts_gzip("gzip;q=0, *"));
    assert_false(console_accepts_gzip("*;q=0"));
    assert_false(console_accepts_gzip("gzipx, xgzip, gzi"));
    assert_false(console_accepts_gzip(",,,;;;q=,"));

    struct console_answer a;
    console_resolve("/console/style.css", "gzip, deflate", NULL, &a);
    assert_int_equal(a.status, 200);
    assert_true(a.gzip);
    assert_ptr_equal(a.body, a.asset->gz);
    assert_int_equal(a.len, a.asset->gz_len);
    assert_true(a.len < a.asset->len);
    assert_int_equal(a.body[0], 0x1f);
    assert_int_equal(a.body[1], 0x8b);
    console_resolve("/console/style.css", "gzip;q=0", NULL, &a);
    assert_false(a.gzip);
    assert_ptr_equal(a.body, a.asset->data);
}

/* Every gzip copy decompresses (gzip -dc) to exactly its file. */
static void test_gzip_copies_decompress(void **state)
{
    (void)state;
    char dir[] = "/tmp/synkro-console-gz.XXXXXX";
    assert_non_null(mkdtemp(dir));
    size_t checked = 0;
    for (size_t i = 0; i < console_assets_count; i++) {
        const struct console_asset *a = &console_assets[i];
        if (!a->gz)
            continue;
        char path[128], cmd[256];
        snprintf(path, sizeof path, "%s/a.gz", dir);
        FILE *f = fopen(path, "wb");
        assert_non_null(f);
        assert_int_equal(fwrite(a->gz, 1, a->gz_len, f), a->gz_len);
        fclose(f);
        snprintf(cmd, sizeof cmd, "gzip -dc %s", path);
        FILE *p = popen(cmd, "r");
        assert_non_null(p);
        char *out = malloc(a->len + 2);
        assert_non_null(out);
        size_t n = fread(out, 1, a->len + 1, p);
        assert_int_equal(pclose(p), 0);
        if (n != a->len || memcmp(out, a->data, a->len) != 0)
            fail_msg("the gzip copy of %s does not decompress to it", a->path);
        free(out);
        unlink(path);
        checked++;
    }
    rmdir(dir);
    assert_true(checked >= 5);
}

static void test_unknown_and_hostile_paths(void **state)
{
    (void)state;
    static const char *const paths[] = {
        "/console/nope.js",
        "/console/",
        "/console",
        "/index.html",
        "/app.js",
        "/console/../CMakeLists.txt",
        "/console/../../etc/passwd",
        "/console/pages/../app.js",
        "/console/./app.js",
        "/console/pages/./wizard.js",
        "/console//app.js",
        "/console/pages//wizard.js",
        "/console/app.js/",
        "/console/%2e%2e/CMakeLists.txt",
        "/console/pages%2Fwizard.js",
        "/console/pages%2fwizard.js",
        "/console/app%2ejs",
        "/console/app.js%00.png",
        "/console/.hidden",
        "/console/pages/.wizard.js",
        "/console/app.js;x",
        "/console/app.js\r\nX: y",
        "/console/app.js ",
        "/console/APP.JS",
        "/console/\\app.js",
        "/console/pages\\wizard.js",
        "//console/app.js",
        "",
    };
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++)
        expect_status(paths[i], 404);
    struct console_answer a;
    console_resolve(NULL, "gzip", "*", &a);
    assert_int_equal(a.status, 404);
    assert_null(console_asset_find(NULL));
    assert_null(console_asset_find(""));
    assert_null(console_asset_find("/app.js"));

    /* oversized: long names, many parts, a long run of "../" */
    size_t big = 70000;
    char *p = malloc(big + 1);
    assert_non_null(p);
    memcpy(p, "/console/", 9);
    memset(p + 9, 'a', big - 9);
    p[big] = '\0';
    expect_status(p, 404);
    for (size_t i = 9; i + 3 <= big; i += 3)
        memcpy(p + i, "../", 3);
    expect_status(p, 404);
    for (size_t i = 9; i + 2 <= big; i += 2)
        memcpy(p + i, "a/", 2);
    expect_status(p, 404);
    /* control and high bytes */
    for (int c = 1; c < 256; c++) {
        char q[32];
        snprintf(q, sizeof q, "/console/app%cjs", c);
        if (c == '.')
            continue;
        expect_status(q, 404);
    }
    free(p);
}

/* True when html has an attribute named on<letters> (whitespace, "on", letters, '='). */
static bool has_on_attribute(const char *html)
{
    for (const char *s = html; *s; s++) {
        if ((*s != ' ' && *s != '\n' && *s != '\t') || strncmp(s + 1, "on", 2) != 0)
            continue;
        const char *e = s + 3;
        while (*e >= 'a' && *e <= 'z')
            e++;
        if (e > s + 3 && *e == '=')
            return true;
    }
    return false;
}

/* The console's CSP has no 'unsafe-inline': no inline <script>, style attribute or on* handler
 * in the HTML, and the scripts never write HTML from a string. */
static void test_csp_friendly_assets(void **state)
{
    (void)state;
    for (size_t i = 0; i < console_assets_count; i++) {
        const struct console_asset *a = &console_assets[i];
        const char *text = (const char *)a->data;
        size_t n = strlen(a->path);
        if (n > 5 && strcmp(a->path + n - 5, ".html") == 0) {
            for (const char *s = strstr(text, "<script"); s; s = strstr(s + 1, "<script")) {
                const char *end = strchr(s, '>');
                assert_non_null(end);
                char tag[256];
                snprintf(tag, sizeof tag, "%.*s", (int)(end - s), s);
                if (!strstr(tag, " src="))
                    fail_msg("%s has an inline <script>", a->path);
            }
            if (strstr(text, " style=") || strstr(text, "<style"))
                fail_msg("%s has inline style", a->path);
            if (has_on_attribute(text))
                fail_msg("%s has an on* attribute", a->path);
        }
        if (n > 3 && strcmp(a->path + n - 3, ".js") == 0) {
            if (strstr(text, "innerHTML") || strstr(text, "outerHTML") ||
                strstr(text, "insertAdjacentHTML") || strstr(text, "document.write") ||
                strstr(text, "eval("))
                fail_msg("%s writes HTML from a string (or evals)", a->path);
        }
    }
}

static void test_size_budget(void **state)
{
    (void)state;
    size_t total = 0;
    for (size_t i = 0; i < console_assets_count; i++)
        total += console_assets[i].len + console_assets[i].gz_len;
    printf("console assets: %zu files, %zu bytes with their gzip copies\n", console_assets_count,
           total);
    assert_true(total < 300 * 1024);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_content_types),
        cmocka_unit_test(test_the_shell_is_embedded),
        cmocka_unit_test(test_root_and_files),
        cmocka_unit_test(test_redirects),
        cmocka_unit_test(test_etag_and_304),
        cmocka_unit_test(test_gzip_negotiation),
        cmocka_unit_test(test_gzip_copies_decompress),
        cmocka_unit_test(test_unknown_and_hostile_paths),
        cmocka_unit_test(test_csp_friendly_assets),
        cmocka_unit_test(test_size_budget),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
