/* it_server.c: the synkro process end to end: health, readiness across a
 * database restart, metrics (the queue depth among them), error bodies, request ids, access log,
 * secrets, the CLI, and clean shutdown with a request in flight. Real PostgreSQL. */
#include "harness.h"

#include <arpa/inet.h>
#include <json-c/json.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

struct fixture {
    struct harness_db db;
    struct harness_proc proc;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    if (!f || harness_db_create(&f->db) != 0)
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    if (f->proc.pid > 0)
        harness_synkro_stop(&f->proc, SIGKILL, 2000);
    harness_db_drop(&f->db);
    free(f);
    return 0;
}

static struct harness_response get(struct fixture *f, const char *path)
{
    char url[512];
    snprintf(url, sizeof url, "%s%s", f->proc.base_url, path);
    struct harness_response r;
    assert_int_equal(harness_http("GET", url, NULL, NULL, 0, &r), 0);
    return r;
}

/* Asserts body is {"error":{"code":code,"message":<non-empty>}}. */
static void assert_error_body(const struct harness_response *r, const char *code)
{
    json_object *root = json_tokener_parse(r->body);
    assert_non_null(root);
    json_object *err, *c, *m;
    assert_true(json_object_object_get_ex(root, "error", &err));
    assert_true(json_object_object_get_ex(err, "code", &c));
    assert_true(json_object_object_get_ex(err, "message", &m));
    assert_string_equal(json_object_get_string(c), code);
    assert_true(strlen(json_object_get_string(m)) > 5);
    json_object_put(root);
}

static void start(struct fixture *f, const char *const *env)
{
    assert_int_equal(harness_synkro_start(&f->proc, f->db.url, env), 0);
}

static void test_healthz_and_request_ids(void **state)
{
    struct fixture *f = *state;
    start(f, NULL);
    struct harness_response r = get(f, "/healthz");
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "{\"status\":\"ok\"}");
    char id[128];
    assert_int_equal(harness_response_header(&r, "X-Request-Id", id, sizeof id), 0);
    assert_int_equal(strlen(id), 24);
    harness_response_free(&r);

    char url[256];
    snprintf(url, sizeof url, "%s/healthz", f->proc.base_url);
    const char *h[] = {"X-Request-Id: client-chosen-id.42", NULL};
    assert_int_equal(harness_http("GET", url, h, NULL, 0, &r), 0);
    assert_int_equal(harness_response_header(&r, "X-Request-Id", id, sizeof id), 0);
    assert_string_equal(id, "client-chosen-id.42");
    harness_response_free(&r);

    /* a hostile id is replaced, not echoed */
    const char *bad[] = {"X-Request-Id: <script>alert(1)</script>", NULL};
    assert_int_equal(harness_http("GET", url, bad, NULL, 0, &r), 0);
    assert_int_equal(harness_response_header(&r, "X-Request-Id", id, sizeof id), 0);
    assert_null(strchr(id, '<'));
    assert_int_equal(strlen(id), 24);
    harness_response_free(&r);

    assert_int_equal(harness_http("HEAD", url, NULL, NULL, 0, &r), 0);
    assert_int_equal(r.status, 200);
    harness_response_free(&r);
}

static void test_readyz_ready_after_migrations(void **state)
{
    struct fixture *f = *state;
    start(f, NULL);
    struct harness_response r = get(f, "/readyz");
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "{\"status\":\"ready\"}");
    harness_response_free(&r);
}

static void test_readyz_not_ready_without_migrations(void **state)
{
    struct fixture *f = *state;
    const char *env[] = {"SYNKRO_MIGRATE_ON_START=false", NULL};
    start(f, env);
    struct harness_response r = get(f, "/readyz");
    assert_int_equal(r.status, 503);
    assert_error_body(&r, "not_ready");
    assert_non_null(strstr(r.body, "pending"));
    harness_response_free(&r);
}

static void test_errors_404_405_413(void **state)
{
    struct fixture *f = *state;
    const char *env[] = {"SYNKRO_MAX_BODY_BYTES=2048", NULL};
    start(f, env);
    struct harness_response r = get(f, "/no/such/thing");
    assert_int_equal(r.status, 404);
    assert_error_body(&r, "not_found");
    char ct[128];
    assert_int_equal(harness_response_header(&r, "Content-Type", ct, sizeof ct), 0);
    assert_string_equal(ct, "application/json");
    harness_response_free(&r);

    char url[256];
    snprintf(url, sizeof url, "%s/healthz", f->proc.base_url);
    assert_int_equal(harness_http("DELETE", url, NULL, NULL, 0, &r), 0);
    assert_int_equal(r.status, 405);
    assert_error_body(&r, "method_not_allowed");
    char allow[128];
    assert_int_equal(harness_response_header(&r, "Allow", allow, sizeof allow), 0);
    assert_string_equal(allow, "GET, HEAD");
    harness_response_free(&r);

    /* declared too large: refused before the body is read */
    char *big = malloc(1 << 20);
    assert_non_null(big);
    memset(big, 'x', 1 << 20);
    int rc = harness_http("GET", url, NULL, big, 1 << 20, &r);
    if (rc != 0)
        free(big);
    assert_int_equal(rc, 0);
    assert_int_equal(r.status, 413);
    assert_error_body(&r, "payload_too_large");
    harness_response_free(&r);

    /* chunked (no Content-Length): cut off while streaming */
    const char *chunked[] = {"Transfer-Encoding: chunked", NULL};
    snprintf(url, sizeof url, "%s/metrics", f->proc.base_url);
    assert_int_equal(harness_http("GET", url, chunked, big, 4096, &r), 0);
    assert_int_equal(r.status, 413);
    harness_response_free(&r);
    free(big);

    /* the server still answers normally afterwards */
    r = get(f, "/healthz");
    assert_int_equal(r.status, 200);
    harness_response_free(&r);
}

static double metric_value(const char *text, const char *series)
{
    const char *p = text;
    size_t len = strlen(series);
    while ((p = strstr(p, series)) != NULL) {
        if ((p == text || p[-1] == '\n') && p[len] == ' ')
            return atof(p + len + 1);
        p += len;
    }
    return -1;
}

/* The HTTP counters move when a request is completed, which is after its
 * client has the answer: a count read right after a request may still miss
 * it. healthz_count() returns the count once two reads 50 ms apart agree. */
#define HEALTHZ_200 "synkro_http_requests_total{route=\"healthz\",status=\"200\"}"

static double healthz_count(struct fixture *f)
{
    double last = -2;
    for (int i = 0; i < 100; i++) {
        struct harness_response r = get(f, "/metrics");
        double v = metric_value(r.body, HEALTHZ_200);
        harness_response_free(&r);
        if (v == last)
            return v < 0 ? 0 : v;
        last = v;
        usleep(50 * 1000);
    }
    return last < 0 ? 0 : last;
}

static void test_metrics_format_and_counters(void **state)
{
    struct fixture *f = *state;
    start(f, NULL);
    /* the harness's own readiness probes are counted too: let them settle */
    double before = healthz_count(f);
    struct harness_response r = get(f, "/metrics");
    assert_int_equal(r.status, 200);
    char ct[128];
    assert_int_equal(harness_response_header(&r, "Content-Type", ct, sizeof ct), 0);
    assert_non_null(strstr(ct, "text/plain; version=0.0.4"));
    assert_non_null(strstr(r.body, "# TYPE synkro_http_requests_total counter\n"));
    assert_non_null(strstr(r.body, "# TYPE synkro_http_request_duration_seconds histogram\n"));
    assert_non_null(strstr(r.body, "synkro_build_info{version=\""));
    harness_response_free(&r);
    for (int i = 0; i < 7; i++) {
        r = get(f, "/healthz");
        harness_response_free(&r);
    }
    r = get(f, "/readyz");
    harness_response_free(&r);
    /* exactly the seven probes above, once each has completed */
    double after = healthz_count(f);
    assert_true(after - before == 7.0);
    r = get(f, "/metrics");
    assert_true(metric_value(r.body, "synkro_db_up") == 1.0);
    assert_true(
        metric_value(r.body, "synkro_http_request_duration_seconds_count{route=\"healthz\"}") >=
        7.0);
    assert_true(
        metric_value(
            r.body, "synkro_http_request_duration_seconds_bucket{route=\"healthz\",le=\"+Inf\"}") >=
        7.0);
    /* every non-comment line is "name{labels} value" */
    for (char *line = r.body; *line;) {
        char *eol = strchr(line, '\n');
        assert_non_null(eol);
        if (*line != '#') {
            char *sp = memchr(line, ' ', (size_t)(eol - line));
            assert_non_null(sp);
            assert_true(strncmp(line, "synkro_", 7) == 0);
        }
        line = eol + 1;
    }
    harness_response_free(&r);
}

struct depth_wait {
    struct fixture *f;
    double unmapped, failed;
};

static bool depth_is(void *ud)
{
    struct depth_wait *w = ud;
    struct harness_response r = get(w->f, "/metrics");
    bool ok = metric_value(r.body, "synkro_queue_depth{status=\"unmapped\"}") == w->unmapped &&
              metric_value(r.body, "synkro_queue_depth{status=\"failed\"}") == w->failed &&
              metric_value(r.body, "synkro_queue_depth{status=\"pending\"}") == 0.0;
    harness_response_free(&r);
    return ok;
}

/* synkro_queue_depth{status} follows the queue (a janitor job, every 5 s). The events are of no
 * mapping, so the janitor leaves their statuses as they are. */
static void test_queue_depth_metric(void **state)
{
    struct fixture *f = *state;
    start(f, NULL);
    struct depth_wait w = {f, 0, 0};
    assert_true(harness_wait_until(depth_is, &w, 15000));
    char *ok = harness_db_scalar(
        &f->db, "WITH i AS (INSERT INTO change_events (source, idempotency_key, object_type,"
                " record_id, kind, status, payload, finished_at) VALUES"
                " ('hubspot', 'd1', '2-100', '1', 'update', 'unmapped', '{}', NULL),"
                " ('hubspot', 'd2', '2-100', '2', 'update', 'unmapped', '{}', NULL),"
                " ('hubspot', 'd3', '2-100', '3', 'update', 'failed', '{}', now())"
                " RETURNING 1) SELECT count(*) FROM i");
    assert_non_null(ok);
    assert_string_equal(ok, "3");
    free(ok);
    w = (struct depth_wait){f, 2, 1};
    assert_true(harness_wait_until(depth_is, &w, 15000));
}

static bool readyz_is(struct fixture *f, long want)
{
    struct harness_response r = get(f, "/readyz");
    bool ok = r.status == want;
    harness_response_free(&r);
    return ok;
}

static bool ready_200(void *ud)
{
    return readyz_is(ud, 200);
}

static void test_readyz_follows_database_restart(void **state)
{
    struct fixture *f = *state;
    start(f, NULL);
    assert_true(readyz_is(f, 200));
    assert_int_equal(harness_pg("stop"), 0);
    struct harness_response r = get(f, "/readyz");
    int pg_started = 0;
    if (r.status != 503) {
        pg_started = harness_pg("start") == 0;
        fail_msg("readyz answered %ld with the database stopped", r.status);
    }
    assert_error_body(&r, "not_ready");
    assert_non_null(strstr(r.body, "database unavailable"));
    harness_response_free(&r);
    r = get(f, "/healthz");
    assert_int_equal(r.status, 200); /* alive even without the database */
    harness_response_free(&r);
    r = get(f, "/metrics");
    assert_true(metric_value(r.body, "synkro_db_up") == 0.0);
    harness_response_free(&r);
    if (!pg_started)
        assert_int_equal(harness_pg("start"), 0);
    assert_true(harness_wait_until(ready_200, f, 15000));
    r = get(f, "/metrics");
    assert_true(metric_value(r.body, "synkro_db_up") == 1.0);
    harness_response_free(&r);
}

static void test_access_log_lines(void **state)
{
    struct fixture *f = *state;
    const char *env[] = {"HUBSPOT_CLIENT_SECRET=hs-client-secret-0123456789", NULL};
    start(f, env);
    struct harness_response r = get(f, "/healthz?token=query-secret-value");
    harness_response_free(&r);
    r = get(f, "/missing");
    harness_response_free(&r);
    /* an unsigned webhook: its error code is built on the handler's stack, and the access line
     * is written when the request completes (it once read the dead stack) */
    char url[512];
    snprintf(url, sizeof url, "%s/webhooks/hubspot", f->proc.base_url);
    const char *h[] = {"Content-Type: application/json", NULL};
    static const char events[] = "[{\"eventId\":1,\"subscriptionType\":\"p.propertyChange\"}]";
    assert_int_equal(harness_http("POST", url, h, events, sizeof events - 1, &r), 0);
    assert_int_equal(r.status, 401);
    harness_response_free(&r);
    bool webhook_logged = false;
    assert_int_equal(harness_synkro_stop(&f->proc, SIGTERM, 10000), 0);
    char *log = harness_read_file(f->proc.err_path);
    assert_non_null(log);
    assert_null(strstr(log, "query-secret-value"));
    int requests = 0;
    for (char *line = log; *line;) {
        char *eol = strchr(line, '\n');
        assert_non_null(eol);
        *eol = '\0';
        json_object *o = json_tokener_parse(line);
        assert_non_null(o); /* every line is JSON */
        json_object *msg, *v;
        assert_true(json_object_object_get_ex(o, "ts", &v));
        assert_true(json_object_object_get_ex(o, "level", &v));
        assert_true(json_object_object_get_ex(o, "msg", &msg));
        if (strcmp(json_object_get_string(msg), "http request") == 0) {
            requests++;
            const char *keys[] = {"method", "path", "status", "bytes", "duration_ms", "request_id"};
            for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
                assert_true(json_object_object_get_ex(o, keys[i], &v));
            json_object_object_get_ex(o, "path", &v);
            assert_null(strchr(json_object_get_string(v), '?'));
            if (strcmp(json_object_get_string(v), "/webhooks/hubspot") == 0) {
                assert_true(json_object_object_get_ex(o, "error", &v));
                assert_string_equal(json_object_get_string(v), "signature_missing");
                webhook_logged = true;
            }
        }
        json_object_put(o);
        line = eol + 1;
    }
    assert_true(requests >= 4); /* startup probe + the three above */
    assert_true(webhook_logged);
    free(log);
}

static void test_secrets_never_logged_or_printed(void **state)
{
    struct fixture *f = *state;
    char db_env[1200];
    /* same database, but a URL that carries a password (trust auth ignores it) */
    char url_with_pw[1100];
    const char *at = strstr(f->db.url, "@");
    const char *scheme = strstr(f->db.url, "://");
    assert_non_null(at);
    assert_non_null(scheme);
    snprintf(url_with_pw, sizeof url_with_pw, "%.*s:Db-Pass-Word-77%s", (int)(at - f->db.url),
             f->db.url, at);
    snprintf(db_env, sizeof db_env, "DATABASE_URL=%s", url_with_pw);
    const char *env[] = {db_env,
                         "SYNKRO_ADMIN_TOKEN=admin-token-abcdefghijklmnop",
                         "HUBSPOT_CLIENT_SECRET=hs-client-secret-0123456789",
                         "SYNKRO_SF_ENDPOINT_TOKEN=sf-endpoint-token-zyxwvutsrq",
                         "LOG_LEVEL=debug",
                         NULL};
    const char *secrets[] = {"Db-Pass-Word-77", "admin-token-abcdefghijklmnop",
                             "hs-client-secret-0123456789", "sf-endpoint-token-zyxwvutsrq"};
    char *out = NULL;
    const char *argv[] = {"config", "check", NULL};
    assert_int_equal(harness_synkro_run(argv, env, &out), 0);
    assert_non_null(strstr(out, "SYNKRO_ADMIN_TOKEN=***"));
    assert_non_null(strstr(out, "HUBSPOT_CLIENT_SECRET=***"));
    for (size_t i = 0; i < 4; i++)
        assert_null(strstr(out, secrets[i]));
    free(out);

    assert_int_equal(harness_synkro_start(&f->proc, url_with_pw, env), 0);
    char url[256];
    snprintf(url, sizeof url, "%s/healthz?token=sf-endpoint-token-zyxwvutsrq", f->proc.base_url);
    const char *h[] = {"Authorization: Bearer admin-token-abcdefghijklmnop", NULL};
    struct harness_response r;
    assert_int_equal(harness_http("GET", url, h, NULL, 0, &r), 0);
    harness_response_free(&r);
    r = get(f, "/metrics");
    for (size_t i = 0; i < 4; i++)
        assert_null(strstr(r.body, secrets[i]));
    harness_response_free(&r);
    assert_int_equal(harness_synkro_stop(&f->proc, SIGTERM, 10000), 0);
    char *log = harness_read_file(f->proc.err_path);
    char *stdout_text = harness_read_file(f->proc.out_path);
    assert_non_null(log);
    assert_non_null(stdout_text);
    for (size_t i = 0; i < 4; i++) {
        assert_null(strstr(log, secrets[i]));
        assert_null(strstr(stdout_text, secrets[i]));
    }
    free(log);
    free(stdout_text);
}

static void test_cli(void **state)
{
    struct fixture *f = *state;
    char *out = NULL;
    const char *version[] = {"version", NULL};
    assert_int_equal(harness_synkro_run(version, NULL, &out), 0);
    assert_true(strncmp(out, "synkro ", 7) == 0);
    free(out);
    const char *cmds[][3] = {{"serve", "--help", NULL},
                             {"migrate", "--help", NULL},
                             {"config", "--help", NULL},
                             {"version", "--help", NULL},
                             {"--help", NULL, NULL}};
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
        assert_int_equal(harness_synkro_run(cmds[i], NULL, &out), 0);
        assert_non_null(strstr(out, "usage"));
        free(out);
    }
    const char *unknown[] = {"frobnicate", NULL};
    assert_int_equal(harness_synkro_run(unknown, NULL, &out), 2);
    free(out);

    /* invalid configuration: exit 2, every bad variable named */
    char db_env[1100];
    snprintf(db_env, sizeof db_env, "DATABASE_URL=%s", f->db.url);
    const char *bad_env[] = {db_env, "SYNKRO_HTTP_THREADS=lots", "SYNKRO_LISTEN=8080",
                             "LOG_LEVEL=chatty", NULL};
    const char *check[] = {"config", "check", NULL};
    assert_int_equal(harness_synkro_run(check, bad_env, &out), 2);
    assert_non_null(strstr(out, "SYNKRO_HTTP_THREADS"));
    assert_non_null(strstr(out, "SYNKRO_LISTEN"));
    assert_non_null(strstr(out, "LOG_LEVEL"));
    free(out);
    const char *serve[] = {"serve", NULL};
    assert_int_equal(harness_synkro_run(serve, bad_env, &out), 2);
    assert_non_null(strstr(out, "SYNKRO_HTTP_THREADS"));
    free(out);

    /* migrate --status: 3 while pending, 0 once applied */
    const char *env[] = {db_env, NULL};
    const char *status[] = {"migrate", "--status", NULL};
    assert_int_equal(harness_synkro_run(status, env, &out), 3);
    assert_non_null(strstr(out, "pending"));
    free(out);
    const char *migrate[] = {"migrate", NULL};
    assert_int_equal(harness_synkro_run(migrate, env, &out), 0);
    assert_non_null(strstr(out, "applied"));
    free(out);
    assert_int_equal(harness_synkro_run(status, env, &out), 0);
    free(out);
}

static int connect_raw(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

static void test_sigterm_finishes_inflight_request(void **state)
{
    struct fixture *f = *state;
    start(f, NULL);
    int fd = connect_raw(f->proc.port);
    assert_true(fd >= 0);
    /* request line and one header, but not the blank line that ends them */
    const char *part1 = "GET /healthz HTTP/1.1\r\nHost: localhost\r\n";
    assert_true(write(fd, part1, strlen(part1)) == (ssize_t)strlen(part1));
    harness_sleep_ms(300);
    kill(f->proc.pid, SIGTERM);
    harness_sleep_ms(300);
    /* no new connections once shutdown began */
    int fd2 = connect_raw(f->proc.port);
    assert_true(fd2 < 0);
    const char *part2 = "Connection: close\r\n\r\n";
    assert_true(write(fd, part2, strlen(part2)) == (ssize_t)strlen(part2));
    char buf[2048];
    size_t got = 0;
    ssize_t n;
    while (got < sizeof buf - 1 && (n = read(fd, buf + got, sizeof buf - 1 - got)) > 0)
        got += (size_t)n;
    buf[got] = '\0';
    close(fd);
    assert_true(strncmp(buf, "HTTP/1.1 200", 12) == 0);
    assert_non_null(strstr(buf, "{\"status\":\"ok\"}"));
    assert_int_equal(harness_synkro_stop(&f->proc, 0, 10000), 0);
    char *log = harness_read_file(f->proc.err_path);
    assert_non_null(strstr(log, "\"msg\":\"stopped\""));
    free(log);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_healthz_and_request_ids, setup, teardown),
        cmocka_unit_test_setup_teardown(test_readyz_ready_after_migrations, setup, teardown),
        cmocka_unit_test_setup_teardown(test_readyz_not_ready_without_migrations, setup, teardown),
        cmocka_unit_test_setup_teardown(test_errors_404_405_413, setup, teardown),
        cmocka_unit_test_setup_teardown(test_metrics_format_and_counters, setup, teardown),
        cmocka_unit_test_setup_teardown(test_queue_depth_metric, setup, teardown),
        cmocka_unit_test_setup_teardown(test_readyz_follows_database_restart, setup, teardown),
        cmocka_unit_test_setup_teardown(test_access_log_lines, setup, teardown),
        cmocka_unit_test_setup_teardown(test_secrets_never_logged_or_printed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cli, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sigterm_finishes_inflight_request, setup, teardown),
    };
    return cmocka_run_group_tests_name("it_server", tests, NULL, NULL);
}
