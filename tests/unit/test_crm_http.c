/* test_crm_http.c: unit tests for sync/crm_http (the shared libcurl layer) and its retry timing.
 *
 * Runs against a small libmicrohttpd server inside this file (the layer under test is plain HTTP;
 * CRM contracts are tested against crmsim elsewhere). Checks what goes on the wire (method, body,
 * User-Agent synkro/<version>, Accept-Encoding with gzip, no body after a reset), gzip decoding,
 * response headers (case-insensitive, final response only), connection reuse across calls (one
 * TCP connection for many calls on one handle), the total timeout, the response size cap,
 * refused connections, the call metrics, the backoff/jitter schedule, and the encoders. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <json-c/json.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/metrics.h"
#include "base/strbuf.h"
#include "crm/crm_http.h"
#include "version.h"

/* ---- the stub server ---- */

static atomic_int connections;

struct req_ctx {
    struct strbuf body;
};

static const unsigned char gz_body[] = {
    0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x03, 0xab, 0x56, 0x4a, 0xaf,
    0x52, 0xb2, 0x52, 0xaa, 0x4c, 0x2d, 0xd6, 0x51, 0x48, 0x49, 0x4d, 0xce, 0x4f, 0x49,
    0x4d, 0x51, 0xaa, 0x05, 0x00, 0xfc, 0x83, 0x3f, 0x79, 0x15, 0x00, 0x00, 0x00};

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status, const void *data,
                             size_t len, const char *const *headers)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(len, (void *)(uintptr_t)data, MHD_RESPMEM_MUST_COPY);
    for (size_t i = 0; headers && headers[i]; i += 2)
        MHD_add_response_header(r, headers[i], headers[i + 1]);
    enum MHD_Result rc = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return rc;
}

static const char *hdr(struct MHD_Connection *c, const char *name)
{
    const char *v = MHD_lookup_connection_value(c, MHD_HEADER_KIND, name);
    return v ? v : "";
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *c, const char *url,
                               const char *method, const char *version, const char *upload,
                               size_t *upload_size, void **con_cls)
{
    (void)cls;
    (void)version;
    struct req_ctx *ctx = *con_cls;
    if (!ctx) {
        ctx = calloc(1, sizeof *ctx);
        *con_cls = ctx;
        return MHD_YES;
    }
    if (*upload_size) {
        strbuf_append(&ctx->body, upload, *upload_size);
        *upload_size = 0;
        return MHD_YES;
    }
    if (strcmp(url, "/echo") == 0) {
        json_object *o = json_object_new_object();
        json_object_object_add(o, "method", json_object_new_string(method));
        json_object_object_add(o, "ua", json_object_new_string(hdr(c, "User-Agent")));
        json_object_object_add(o, "ae", json_object_new_string(hdr(c, "Accept-Encoding")));
        json_object_object_add(o, "ct", json_object_new_string(hdr(c, "Content-Type")));
        json_object_object_add(o, "x", json_object_new_string(hdr(c, "X-Test")));
        json_object_object_add(o, "body", json_object_new_string(strbuf_str(&ctx->body)));
        const char *s = json_object_to_json_string(o);
        static const char *const h[] = {"Content-Type", "application/json",
                                        "X-HubSpot-RateLimit-Remaining", "42", NULL};
        enum MHD_Result rc = reply(c, 200, s, strlen(s), h);
        json_object_put(o);
        return rc;
    }
    if (strcmp(url, "/gzip") == 0) {
        static const char *const h[] = {"Content-Encoding", "gzip", "Content-Type",
                                        "application/json", NULL};
        return reply(c, 200, gz_body, sizeof gz_body, h);
    }
    if (strcmp(url, "/slow") == 0) {
        struct timespec ts = {1, 500000000L};
        nanosleep(&ts, NULL);
        return reply(c, 200, "{}", 2, NULL);
    }
    if (strcmp(url, "/big") == 0) {
        size_t n = 2u * 1024u * 1024u;
        char *big = malloc(n);
        memset(big, 'a', n);
        enum MHD_Result rc = reply(c, 200, big, n, NULL);
        free(big);
        return rc;
    }
    if (strncmp(url, "/status/", 8) == 0) {
        static const char *const h[] = {"Retry-After", "3", NULL};
        return reply(c, (unsigned)atoi(url + 8), "{\"status\":\"error\"}", 18, h);
    }
    if (strcmp(url, "/empty") == 0)
        return reply(c, 204, "", 0, NULL);
    return reply(c, 404, "", 0, NULL);
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls,
                      enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)c;
    (void)toe;
    struct req_ctx *ctx = *con_cls;
    if (ctx) {
        strbuf_free(&ctx->body);
        free(ctx);
    }
    *con_cls = NULL;
}

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe)
{
    (void)cls;
    (void)c;
    (void)socket_context;
    if (toe == MHD_CONNECTION_NOTIFY_STARTED)
        atomic_fetch_add(&connections, 1);
}

struct server {
    struct MHD_Daemon *d;
    char base[64];
};

static int server_setup(void **state)
{
    metrics_reset_all();
    struct server *s = calloc(1, sizeof *s);
    s->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION |
                                MHD_USE_ERROR_LOG,
                            0, NULL, NULL, handler, NULL, MHD_OPTION_NOTIFY_COMPLETED, completed,
                            NULL, MHD_OPTION_NOTIFY_CONNECTION, on_connection, NULL,
                            MHD_OPTION_SOCK_ADDR, NULL, MHD_OPTION_END);
    assert_non_null(s->d);
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
    assert_non_null(info);
    snprintf(s->base, sizeof s->base, "http://127.0.0.1:%u", (unsigned)info->port);
    atomic_store(&connections, 0);
    *state = s;
    return 0;
}

static int server_teardown(void **state)
{
    struct server *s = *state;
    MHD_stop_daemon(s->d);
    free(s);
    metrics_reset_all();
    return 0;
}

static struct crm_http *new_handle(long timeout_ms, size_t max_body)
{
    char err[256];
    struct crm_http_options o = {
        .timeout_ms = timeout_ms, .connect_timeout_ms = 1000, .max_body_bytes = max_body};
    struct crm_http *h = crm_http_create(&o, err, sizeof err);
    if (!h)
        fail_msg("crm_http_create: %s", err);
    return h;
}

static char *url_of(struct server *s, const char *path)
{
    static _Thread_local char buf[256];
    snprintf(buf, sizeof buf, "%s%s", s->base, path);
    return buf;
}

/* ---- tests ---- */

static void test_request_shape(void **state)
{
    struct server *s = *state;
    struct crm_http *h = new_handle(5000, 0);
    const char *headers[] = {"X-Test: one", NULL};
    struct crm_http_request req = {.crm = CRM_HUBSPOT,
                                   .operation = "echo",
                                   .method = "POST",
                                   .url = url_of(s, "/echo"),
                                   .headers = headers,
                                   .body = "{\"a\":1}",
                                   .body_len = 7};
    struct crm_http_response resp;
    struct crm_error err;
    assert_int_equal(crm_http_perform(h, &req, &resp, &err), 0);
    assert_int_equal(resp.status, 200);
    json_object *o = json_tokener_parse(resp.body);
    assert_non_null(o);
    json_object *v;
    json_object_object_get_ex(o, "method", &v);
    assert_string_equal(json_object_get_string(v), "POST");
    json_object_object_get_ex(o, "ua", &v);
    assert_string_equal(json_object_get_string(v), "synkro/" SYNKRO_VERSION);
    json_object_object_get_ex(o, "ae", &v);
    assert_non_null(strstr(json_object_get_string(v), "gzip"));
    json_object_object_get_ex(o, "ct", &v);
    assert_string_equal(json_object_get_string(v), "application/json");
    json_object_object_get_ex(o, "x", &v);
    assert_string_equal(json_object_get_string(v), "one");
    json_object_object_get_ex(o, "body", &v);
    assert_string_equal(json_object_get_string(v), "{\"a\":1}");
    json_object_put(o);
    assert_string_equal(crm_http_header(&resp, "x-hubspot-ratelimit-remaining"), "42");
    assert_null(crm_http_header(&resp, "X-Absent"));
    crm_http_response_free(&resp);

    /* the next call on the same handle carries nothing of the previous one */
    struct crm_http_request get = {
        .crm = CRM_HUBSPOT, .operation = "echo", .method = "GET", .url = url_of(s, "/echo")};
    assert_int_equal(crm_http_perform(h, &get, &resp, &err), 0);
    o = json_tokener_parse(resp.body);
    json_object_object_get_ex(o, "method", &v);
    assert_string_equal(json_object_get_string(v), "GET");
    json_object_object_get_ex(o, "body", &v);
    assert_string_equal(json_object_get_string(v), "");
    json_object_object_get_ex(o, "x", &v);
    assert_string_equal(json_object_get_string(v), "");
    json_object_put(o);
    crm_http_response_free(&resp);

    struct crm_http_request patch = {.crm = CRM_SALESFORCE,
                                     .operation = "echo",
                                     .method = "PATCH",
                                     .url = url_of(s, "/echo"),
                                     .body = "grant=x",
                                     .body_len = 7,
                                     .content_type = "application/x-www-form-urlencoded"};
    assert_int_equal(crm_http_perform(h, &patch, &resp, &err), 0);
    o = json_tokener_parse(resp.body);
    json_object_object_get_ex(o, "method", &v);
    assert_string_equal(json_object_get_string(v), "PATCH");
    json_object_object_get_ex(o, "ct", &v);
    assert_string_equal(json_object_get_string(v), "application/x-www-form-urlencoded");
    json_object_put(o);
    crm_http_response_free(&resp);

    struct crm_http_request del = {.crm = CRM_SALESFORCE,
                                   .operation = "empty",
                                   .method = "DELETE",
                                   .url = url_of(s, "/empty")};
    assert_int_equal(crm_http_perform(h, &del, &resp, &err), 0);
    assert_int_equal(resp.status, 204);
    assert_int_equal(resp.body_len, 0);
    assert_string_equal(resp.body, "");
    crm_http_response_free(&resp);
    crm_http_destroy(h);
}

static void test_gzip_decoded(void **state)
{
    struct server *s = *state;
    struct crm_http *h = new_handle(5000, 0);
    struct crm_http_request req = {
        .crm = CRM_HUBSPOT, .operation = "gzip", .method = "GET", .url = url_of(s, "/gzip")};
    struct crm_http_response resp;
    struct crm_error err;
    assert_int_equal(crm_http_perform(h, &req, &resp, &err), 0);
    assert_string_equal(resp.body, "{\"gz\":\"yes, decoded\"}");
    crm_http_response_free(&resp);
    crm_http_destroy(h);
}

static void test_connection_reused(void **state)
{
    struct server *s = *state;
    struct crm_http *h = new_handle(5000, 0);
    struct crm_error err;
    for (int i = 0; i < 20; i++) {
        struct crm_http_request req = {.crm = CRM_HUBSPOT,
                                       .operation = "echo",
                                       .method = i % 2 ? "POST" : "GET",
                                       .url = url_of(s, "/echo"),
                                       .body = i % 2 ? "{}" : NULL,
                                       .body_len = i % 2 ? 2 : 0};
        struct crm_http_response resp;
        assert_int_equal(crm_http_perform(h, &req, &resp, &err), 0);
        assert_int_equal(resp.status, 200);
        crm_http_response_free(&resp);
    }
    assert_int_equal(atomic_load(&connections), 1);
    /* a second handle (another worker thread) has its own connection */
    struct crm_http *h2 = new_handle(5000, 0);
    struct crm_http_request req = {
        .crm = CRM_HUBSPOT, .operation = "echo", .method = "GET", .url = url_of(s, "/echo")};
    struct crm_http_response resp;
    assert_int_equal(crm_http_perform(h2, &req, &resp, &err), 0);
    crm_http_response_free(&resp);
    assert_int_equal(atomic_load(&connections), 2);
    crm_http_destroy(h2);
    crm_http_destroy(h);
}

static void test_timeout_and_limits(void **state)
{
    struct server *s = *state;
    struct crm_http *h = new_handle(400, 1024 * 1024);
    struct crm_http_response resp;
    struct crm_error err;
    crm_error_clear(&err);
    struct crm_http_request slow = {
        .crm = CRM_HUBSPOT, .operation = "slow", .method = "GET", .url = url_of(s, "/slow")};
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_int_equal(crm_http_perform(h, &slow, &resp, &err), -1);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    long ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
    assert_true(ms < 1300);
    assert_int_equal(err.cls, CRM_ERR_TRANSIENT);
    assert_int_equal(err.http_status, 0);
    assert_string_equal(err.code, "network");
    crm_http_response_free(&resp);

    struct crm_http *h2 = new_handle(5000, 1024 * 1024);
    struct crm_http_request big = {
        .crm = CRM_SALESFORCE, .operation = "big", .method = "GET", .url = url_of(s, "/big")};
    assert_int_equal(crm_http_perform(h2, &big, &resp, &err), -1);
    assert_int_equal(err.cls, CRM_ERR_PERMANENT);
    assert_string_equal(err.code, "response_too_large");
    crm_http_response_free(&resp);

    /* nothing listens on port 1 */
    struct crm_http_request refused = {.crm = CRM_SALESFORCE,
                                       .operation = "refused",
                                       .method = "GET",
                                       .url = "http://127.0.0.1:1/x"};
    assert_int_equal(crm_http_perform(h2, &refused, &resp, &err), -1);
    assert_int_equal(err.cls, CRM_ERR_TRANSIENT);
    crm_http_response_free(&resp);
    struct crm_http_request bad = {
        .crm = CRM_SALESFORCE, .operation = "bad", .method = "GET", .url = "gopher://x/y"};
    assert_int_equal(crm_http_perform(h2, &bad, &resp, &err), -1);
    assert_int_equal(err.cls, CRM_ERR_PERMANENT);
    crm_http_response_free(&resp);
    crm_http_destroy(h2);
    crm_http_destroy(h);
}

static void test_metrics_counted(void **state)
{
    struct server *s = *state;
    struct crm_http *h = new_handle(5000, 0);
    struct crm_http_response resp;
    struct crm_error err;
    for (int i = 0; i < 3; i++) {
        struct crm_http_request req = {.crm = CRM_HUBSPOT,
                                       .operation = "batch_read",
                                       .method = "GET",
                                       .url = url_of(s, "/echo")};
        assert_int_equal(crm_http_perform(h, &req, &resp, &err), 0);
        crm_http_response_free(&resp);
    }
    struct crm_http_request r503 = {.crm = CRM_SALESFORCE,
                                    .operation = "query",
                                    .method = "GET",
                                    .url = url_of(s, "/status/503")};
    assert_int_equal(crm_http_perform(h, &r503, &resp, &err), 0);
    assert_int_equal(resp.status, 503);
    assert_string_equal(crm_http_header(&resp, "retry-after"), "3");
    crm_http_response_free(&resp);
    struct crm_http_request refused = {.crm = CRM_SALESFORCE,
                                       .operation = "query",
                                       .method = "GET",
                                       .url = "http://127.0.0.1:1/x"};
    assert_int_equal(crm_http_perform(h, &refused, &resp, &err), -1);
    crm_http_response_free(&resp);

    static const char *const lc[] = {"crm", "operation", "status"};
    static const char *const ld[] = {"crm", "operation"};
    static const double b[] = {1};
    struct metric_family *calls =
        metrics_register(METRIC_COUNTER, "synkro_crm_api_calls_total", "x", lc, 3, NULL, 0);
    struct metric_family *dur = metrics_register(
        METRIC_HISTOGRAM, "synkro_crm_api_call_duration_seconds", "x", ld, 2, b, 1);
    assert_non_null(calls);
    assert_non_null(dur);
    assert_true(metrics_value(calls, (const char *const[]){"hubspot", "batch_read", "200"}) == 3);
    assert_true(metrics_value(calls, (const char *const[]){"salesforce", "query", "503"}) == 1);
    assert_true(metrics_value(calls, (const char *const[]){"salesforce", "query", "error"}) == 1);
    assert_int_equal(metrics_histogram_count(dur, (const char *const[]){"hubspot", "batch_read"}),
                     3);
    assert_int_equal(metrics_histogram_count(dur, (const char *const[]){"salesforce", "query"}), 2);
    crm_http_destroy(h);
}

static void test_retry_schedule(void **state)
{
    (void)state;
    struct crm_retry_policy p = {
        .max_attempts = 6, .base_delay_ms = 100, .max_delay_ms = 1000, .max_wait_ms = 5000};
    struct crm_error e;
    crm_error_clear(&e);
    e.cls = CRM_ERR_TRANSIENT;
    long seen_min[6] = {0}, seen_max[6] = {0};
    for (int f = 1; f <= 5; f++) {
        seen_min[f] = 1L << 30;
        for (int k = 0; k < 200; k++) {
            long d = crm_retry_delay_ms(&p, f, &e);
            if (d < seen_min[f])
                seen_min[f] = d;
            if (d > seen_max[f])
                seen_max[f] = d;
        }
    }
    /* equal jitter: [cap/2, cap] with cap = min(1000, 100 * 2^(f-1)) */
    const long caps[6] = {0, 100, 200, 400, 800, 1000};
    for (int f = 1; f <= 5; f++) {
        assert_true(seen_min[f] >= caps[f] / 2);
        assert_true(seen_max[f] <= caps[f]);
        assert_true(seen_max[f] > seen_min[f]); /* there is jitter */
    }
    assert_int_equal(crm_retry_delay_ms(&p, 6, &e), -1); /* attempts used up */
    e.cls = CRM_ERR_RETRY_AFTER;
    e.retry_after_ms = 2000;
    for (int k = 0; k < 100; k++) {
        long d = crm_retry_delay_ms(&p, 1, &e);
        assert_true(d >= 2000 && d <= 2400);
    }
    e.retry_after_ms = 6000; /* beyond max_wait: the caller reschedules */
    assert_int_equal(crm_retry_delay_ms(&p, 1, &e), -1);
    e.cls = CRM_ERR_PERMANENT;
    assert_int_equal(crm_retry_delay_ms(&p, 1, &e), -1);
    e.cls = CRM_ERR_AUTH;
    assert_int_equal(crm_retry_delay_ms(&p, 1, &e), -1);
    struct crm_retry_policy d = {0};
    crm_retry_policy_normalize(&d);
    assert_int_equal(d.max_attempts, 5);
    assert_int_equal(d.base_delay_ms, 250);
}

static void test_encoders(void **state)
{
    (void)state;
    struct strbuf sb = STRBUF_INIT;
    crm_url_escape(&sb, "SELECT Id FROM T WHERE x = 'a&b' AND y > 2024-01-01T00:00:00+00:00~_.-");
    assert_string_equal(strbuf_str(&sb),
                        "SELECT%20Id%20FROM%20T%20WHERE%20x%20%3D%20%27a%26b%27%20AND%20y%20%3E%"
                        "202024-01-01T00%3A00%3A00%2B00%3A00~_.-");
    strbuf_free(&sb);
    crm_form_add(&sb, "grant_type", "refresh_token");
    crm_form_add(&sb, "refresh_token", "a/b+c=d");
    crm_form_add(&sb, "client_id", NULL);
    assert_string_equal(strbuf_str(&sb),
                        "grant_type=refresh_token&refresh_token=a%2Fb%2Bc%3Dd&client_id=");
    strbuf_free(&sb);
}

#define ST(fn) cmocka_unit_test_setup_teardown(fn, server_setup, server_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        ST(test_request_shape),          ST(test_gzip_decoded),
        ST(test_connection_reused),      ST(test_timeout_and_limits),
        ST(test_metrics_counted),        cmocka_unit_test(test_retry_schedule),
        cmocka_unit_test(test_encoders),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
