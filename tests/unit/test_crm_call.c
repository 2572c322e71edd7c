/* test_crm_call.c: unit tests for crm/crm_call (the one CRM call loop), driven through a fake
 * client's hooks table against a small scripted HTTP server inside this file.
 *
 * Each test scripts the server's answers (status, body, headers) and a fake client whose hooks
 * count what the loop asks of them (its tokens are a real token_cache with a fake refresh).
 * Checked: a success on the first try (Authorization, body, metrics labels), a refused budget (no
 * request, the budget's error), a 401 refreshed once then answered, a second 401 final, a static
 * token never refreshed, a retry-after wait honoured (a lower bound only) and the budget penalty
 * told, a wait beyond max_wait_ms returned instead, a permanent error not retried, transient
 * errors and missing answers retried until the attempts run out, attempts counted, secrets
 * scrubbed, error bodies kept only for the last try, a 2xx that is not JSON, 304 accepted only
 * when the hooks say so, a failed token refresh, and URL resolution with an extra header. The
 * real clients' hooks are tested through test_hubspot_client.c and test_salesforce_client.c
 * against crmsim. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <json-c/json.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/json_util.h"
#include "base/metrics.h"
#include "base/strbuf.h"
#include "crm/crm_call.h"
#include "crm/token_store.h"

#define SECRET "client-secret-xyz"

/* ---- the scripted server ---- */

struct answer {
    unsigned status;
    const char *body; /* NULL: empty */
    const char *hname, *hvalue;
    bool echo_auth; /* the body is an error quoting the Authorization header and the secret */
};

#define MAX_ANSWERS 8
#define ANSWER(st, b)                                                                              \
    {                                                                                              \
        .status = (st), .body = (b)                                                                \
    }
#define ANSWER_H(st, b, n, v)                                                                      \
    {                                                                                              \
        .status = (st), .body = (b), .hname = (n), .hvalue = (v)                                   \
    }

static pthread_mutex_t srv_lock = PTHREAD_MUTEX_INITIALIZER;
static struct answer script[MAX_ANSWERS];
static int nscript, served;
static char seen_auth[MAX_ANSWERS][128], seen_url[MAX_ANSWERS][128], seen_ims[128], seen_body[256];

static void script_set(const struct answer *a, int n)
{
    pthread_mutex_lock(&srv_lock);
    memset(script, 0, sizeof script);
    memcpy(script, a, (size_t)n * sizeof *a);
    nscript = n;
    served = 0;
    memset(seen_auth, 0, sizeof seen_auth);
    memset(seen_url, 0, sizeof seen_url);
    seen_ims[0] = seen_body[0] = '\0';
    pthread_mutex_unlock(&srv_lock);
}

static int served_count(void)
{
    pthread_mutex_lock(&srv_lock);
    int n = served;
    pthread_mutex_unlock(&srv_lock);
    return n;
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
    (void)method;
    (void)version;
    struct strbuf *body = *con_cls;
    if (!body) {
        *con_cls = calloc(1, sizeof *body);
        return MHD_YES;
    }
    if (*upload_size) {
        strbuf_append(body, upload, *upload_size);
        *upload_size = 0;
        return MHD_YES;
    }
    pthread_mutex_lock(&srv_lock);
    struct answer a = {.status = 500, .body = "{\"message\":\"script exhausted\"}"};
    if (served < nscript)
        a = script[served];
    if (served < MAX_ANSWERS) {
        snprintf(seen_auth[served], sizeof seen_auth[0], "%s", hdr(c, "Authorization"));
        snprintf(seen_url[served], sizeof seen_url[0], "%s", url);
    }
    snprintf(seen_ims, sizeof seen_ims, "%s", hdr(c, "If-Modified-Since"));
    snprintf(seen_body, sizeof seen_body, "%s", strbuf_str(body));
    served++;
    pthread_mutex_unlock(&srv_lock);
    char text[512];
    if (a.echo_auth) {
        snprintf(text, sizeof text,
                 "{\"category\":\"VALIDATION_ERROR\",\"message\":\"sent %s with " SECRET "\"}",
                 hdr(c, "Authorization"));
        a.body = text;
    }
    const char *b = a.body ? a.body : "";
    struct MHD_Response *r =
        MHD_create_response_from_buffer(strlen(b), (void *)(uintptr_t)b, MHD_RESPMEM_MUST_COPY);
    if (a.hname)
        MHD_add_response_header(r, a.hname, a.hvalue);
    enum MHD_Result rc = MHD_queue_response(c, a.status, r);
    MHD_destroy_response(r);
    return rc;
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls,
                      enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)c;
    (void)toe;
    struct strbuf *body = *con_cls;
    if (body) {
        strbuf_free(body);
        free(body);
    }
    *con_cls = NULL;
}

/* ---- the fake client and its hooks ---- */

struct fake {
    struct crm_retry_policy retry;
    char base[64];              /* http://127.0.0.1:PORT */
    struct token_cache *tokens; /* "tok-<n>-secret", n = 1 + refreshes */
    bool static_tok;            /* token_refreshable says no */
    bool fail_refresh;
    int refuse_budget_from; /* budget_acquire refuses from this call on (1-based; 0 never) */
    int budget_calls, penalties, refreshes, answers;
};

static const struct crm_retry_policy *f_retry(void *ud)
{
    return &((struct fake *)ud)->retry;
}

static int f_budget(void *ud, const struct crm_call *c, struct crm_error *err)
{
    (void)c;
    struct fake *f = ud;
    f->budget_calls++;
    if (f->refuse_budget_from && f->budget_calls >= f->refuse_budget_from) {
        crm_error_set(err, CRM_HUBSPOT, CRM_ERR_RETRY_AFTER, 0, "client_rate_limit",
                      "no free call");
        err->retry_after_ms = 1234;
        return -1;
    }
    return 0;
}

static void f_penalty(void *ud, const struct crm_call *c, const struct crm_error *err)
{
    (void)c;
    if (err->http_status == 429)
        ((struct fake *)ud)->penalties++;
}

/* The token endpoint of the fake: a new token, or an error of the token endpoint (the clients'
 * refreshes name their errors "oauth_token" and count their requests in them). */
static int f_refresh(void *ud, void *call_ctx, struct token_value *out, struct crm_error *err)
{
    struct fake *f = ud;
    assert_non_null(call_ctx); /* the caller's struct crm_http */
    crm_error_clear(err);
    snprintf(err->operation, sizeof err->operation, "oauth_token");
    err->attempts++;
    f->refreshes++;
    if (f->fail_refresh) {
        crm_error_set(err, CRM_HUBSPOT, CRM_ERR_PERMANENT, 400, "invalid_grant", "bad grant");
        return -1;
    }
    char t[64];
    snprintf(t, sizeof t, "tok-%d-secret", 1 + f->refreshes);
    out->access_token = strdup(t);
    out->instance_url = strdup(f->base);
    return 0;
}

static struct token_cache *f_tokens(void *ud)
{
    return ((struct fake *)ud)->tokens;
}

static bool f_token_refreshable(void *ud)
{
    return !((struct fake *)ud)->static_tok;
}

static char *f_resolve(void *ud, const struct token_value *tok, const char *path)
{
    (void)ud;
    char *u = malloc(strlen(tok->instance_url) + strlen(path) + 8);
    sprintf(u, "%s/v1/%s", tok->instance_url, path);
    return u;
}

static void f_answer(void *ud, const struct crm_http_response *resp)
{
    (void)resp;
    ((struct fake *)ud)->answers++;
}

static void f_parse_error(void *ud, const struct crm_http_response *r, struct crm_error *err)
{
    (void)ud;
    struct crm_hubspot_error_headers eh = {
        .retry_after = crm_http_header(r, "Retry-After"),
        .rate_interval_ms = crm_http_header(r, "X-HubSpot-RateLimit-Interval-Milliseconds"),
    };
    crm_error_from_hubspot(err, (int)r->status, r->body, r->body_len, &eh);
}

static void f_scrub(void *ud, struct crm_error *err, const char *token)
{
    (void)ud;
    crm_error_scrub(err, token);
    crm_error_scrub(err, SECRET);
}

/* Every hook; c->url is a path under base/v1/. */
static const struct crm_call_hooks full_hooks = {
    .crm = CRM_HUBSPOT,
    .name = "FakeCRM",
    .accept_not_modified = true,
    .retry_policy = f_retry,
    .budget_acquire = f_budget,
    .budget_penalty = f_penalty,
    .tokens = f_tokens,
    .token_refreshable = f_token_refreshable,
    .resolve_url = f_resolve,
    .on_answer = f_answer,
    .parse_error = f_parse_error,
    .scrub = f_scrub,
};

/* Only the required hooks; c->url is absolute. */
static const struct crm_call_hooks minimal_hooks = {
    .crm = CRM_SALESFORCE,
    .name = "FakeCRM",
    .retry_policy = f_retry,
    .tokens = f_tokens,
    .token_refreshable = f_token_refreshable,
    .parse_error = f_parse_error,
    .scrub = f_scrub,
};

struct env {
    struct MHD_Daemon *d;
    struct crm_http *h;
    struct fake f;
};

static int setup(void **state)
{
    metrics_reset_all();
    struct env *e = calloc(1, sizeof *e);
    e->d = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_ERROR_LOG, 0,
        NULL, NULL, handler, NULL, MHD_OPTION_NOTIFY_COMPLETED, completed, NULL, MHD_OPTION_END);
    assert_non_null(e->d);
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(e->d, MHD_DAEMON_INFO_BIND_PORT);
    assert_non_null(info);
    snprintf(e->f.base, sizeof e->f.base, "http://127.0.0.1:%u", (unsigned)info->port);
    e->f.retry = (struct crm_retry_policy){
        .max_attempts = 3, .base_delay_ms = 5, .max_delay_ms = 20, .max_wait_ms = 5000};
    e->f.tokens = token_cache_create(CRM_HUBSPOT, 0, 5000, f_refresh, &e->f);
    assert_int_equal(token_cache_set(e->f.tokens, "tok-1-secret", e->f.base, 0), 0);
    char err[256];
    struct crm_http_options o = {.timeout_ms = 5000, .connect_timeout_ms = 1000};
    e->h = crm_http_create(&o, err, sizeof err);
    assert_non_null(e->h);
    *state = e;
    return 0;
}

static int teardown(void **state)
{
    struct env *e = *state;
    crm_http_destroy(e->h);
    token_cache_destroy(e->f.tokens);
    MHD_stop_daemon(e->d);
    free(e);
    metrics_reset_all();
    return 0;
}

static int run(struct env *e, const struct crm_call_hooks *hooks, struct crm_call *c,
               struct crm_error *err)
{
    return crm_call_run(hooks, &e->f, e->h, c, err);
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- tests ---- */

static void test_success_first_try(void **state)
{
    struct env *e = *state;
    script_set((struct answer[]){ANSWER(200, "{\"ok\":1}")}, 1);
    json_object *body = json_tokener_parse("{\"a\":1}");
    struct crm_call c = {.operation = "fake_op", .method = "POST", .url = "items", .body = body};
    struct crm_error err;
    assert_int_equal(run(e, &full_hooks, &c, &err), 0);
    json_object_put(body);
    assert_int_equal(c.status, 200);
    assert_int_equal(json_object_get_int(json_member(c.json, "ok")), 1);
    json_object_put(c.json);
    assert_int_equal(err.cls, CRM_ERR_NONE);
    assert_int_equal(err.attempts, 1);
    assert_string_equal(err.operation, "fake_op");
    assert_int_equal(e->f.budget_calls, 1);
    assert_int_equal(e->f.refreshes, 0);
    assert_int_equal(e->f.answers, 1);
    assert_string_equal(seen_auth[0], "Bearer tok-1-secret");
    assert_string_equal(seen_url[0], "/v1/items");
    assert_string_equal(seen_body, "{\"a\":1}");
    static const char *const lc[] = {"crm", "operation", "status"};
    struct metric_family *calls =
        metrics_register(METRIC_COUNTER, "synkro_crm_api_calls_total", "x", lc, 3, NULL, 0);
    assert_true(metrics_value(calls, (const char *const[]){"hubspot", "fake_op", "200"}) == 1);
}

static void test_budget_refused(void **state)
{
    struct env *e = *state;
    script_set((struct answer[]){ANSWER(200, "{}")}, 1);
    e->f.refuse_budget_from = 1;
    struct crm_call c = {.operation = "fake_op", .method = "GET", .url = "items"};
    struct crm_error err;
    assert_int_equal(run(e, &full_hooks, &c, &err), -1);
    assert_null(c.json);
    assert_int_equal(err.cls, CRM_ERR_RETRY_AFTER);
    assert_string_equal(err.code, "client_rate_limit");
    assert_int_equal(err.retry_after_ms, 1234);
    assert_int_equal(err.attempts, 0);
    assert_string_equal(err.operation, "fake_op");
    assert_int_equal(served_count(), 0);
    assert_int_equal(e->f.refreshes, 0);
}

static void test_refresh_once_then_success(void **state)
{
    struct env *e = *state;
    script_set((struct answer[]){ANSWER(401, "{\"category\":\"EXPIRED_AUTHENTICATION\"}"),
                                 ANSWER(200, "{\"ok\":2}")},
               2);
    struct crm_call c = {.operation = "fake_op", .method = "GET", .url = "items"};
    struct crm_error err;
    assert_int_equal(run(e, &full_hooks, &c, &err), 0);
    assert_int_equal(json_object_get_int(json_member(c.json, "ok")), 2);
    json_object_put(c.json);
    assert_int_equal(err.attempts, 2);
    assert_string_equal(err.operation, "fake_op");
    assert_int_equal(e->f.refreshes, 1);
    assert_string_equal(seen_auth[0], "Bearer tok-1-secret");
    assert_string_equal(seen_auth[1], "Bearer tok-2-secret");
}

static void test_second_401_final(void **state)
{
    struct env *e = *state;
    script_set((struct answer[]){ANSWER(401, "{\"message\":\"expired\"}"),
                                 ANSWER(401, "{\"message\":\"still expired\"}"), ANSWER(200, "{}")},
               3);
    struct crm_call c = {.operation = "fake_op", .method = "GET", .url = "items"};
    struct crm_error err;
    assert_int_equal(run(e, &full_hooks, &c, &err), -1);
    assert_null(c.json);
    assert_int_equal(err.cls, CRM_ERR_AUTH);
    assert_int_equal(err.http_status, 401);
    assert_string_equal(err.message, "still expired");
    assert_int_equal(err.attempts, 2);
    assert_int_equal(e->f.refreshes, 1);
    assert_int_equal(served_count(), 2);
}

static void test_static_token_not_refreshed(void **state)
{
    struct env *e = *state;
    e->f.static_tok = true;
    token_cache_destroy(e->f.tokens);
    e->f.tokens = token_cache_create(CRM_HUBSPOT, 0, 5000, NULL, NULL);
    token_cache_set(e->f.tokens, "tok-1-secret", e->f.base, 0);
    script_set((struct answer[]){ANSWER(401, "{\"message\":\"revoked\"}"), ANSWER(200, "{}")}, 2);
    struct crm_call c = {.operation = "fake_op", .method = "GET", .url = "items"};
    struct crm_error err;
    assert_int_equal(run(e, &full_hooks, &c, &err), -1);
    assert_int_equal(err.cls, CRM_ERR_AUTH);
    assert_int_equal(err.attempts, 1);
    assert_int_equal(e->f.refreshes, 0);
    assert_int_equal(served_count(), 1);
}

static void test_retry_after_honoured(void **state)
{
    struct env *e = *state;
    script_set((struct answer[]){ANSWER_H(429, "{\"errorType\":\"RATE_LIMIT\"}",
                                          "X-HubSpot-RateLimit-Interval-Milliseconds", "1200"),
                                 ANSWER(200, "{}")},
               2);
    struct crm_call c = {.operation = "fake_op", .method = "GET", .url = "items"};
    struct crm_error err;
    int64_t t0 = now_ms();
    assert_int_equal(run(e, &full_hooks, &c, &err), 0);
    int64_t waited = now_ms() - t0;
    json_object_put(c.json);
    assert_true(waited >= 1200); /* a lower bound only */
    assert_int_equal(err.attempts, 2);
    assert_int_equal(e->f.penalties, 1);
    assert_int_equal(e->f.budget_calls, 2);
}

static void test_retry_after_beyond_max_wait_returned(void **state)
{
    struct env *e = *state;
    script_set((struct answer[]){ANSWER_H(429, "{\"errorType\":\"RATE_LIMIT\"}",
                                          "X-HubSpot-RateLimit-Interval-Milliseconds", "60000"),
                                 ANSWER(200, "{}")},
               2);
    struct crm_call c = {.operation = "fake_op", .method = "GET", .url = "items"};
    struct crm_error err;
    assert_int_equal(run(e, &full_hooks, &c, &err), -1);
    assert_int_equal(err.cls, CRM_ERR_RETRY_AFTER);
    assert_int_equal(err.retry_after_ms, 60000);
    assert_int_equal(err.attempts, 1);
    assert_int_equal(served_count(), 1);
}

static void test_permanent_not_retried(void **state)
{
    struct env *e = *state;
    script_set(
        (struct answer[]){ANSWER(400, "{\"category\":\"VALIDATION_ERROR\",\"message\":\"bad\"}"),
                          ANSWER(200, "{}")},
        2);
    struct crm_call c = {.operation = "fake_op", .method = "POST", .url = "items"};
    struct crm_error err;
    assert_int_equal(run(e, &full_hooks, &c, &err), -1);
    assert_int_equal(err.cls, CRM_ERR_PERMANENT);
    assert_int_equal(err.http_status, 400);
    assert_string_equal(err.code, "VALIDATION_ERROR");
    assert_string_equal(err.operation, "fake_op");
    assert_int_equal(err.attempts, 1);
    assert_int_equal(served_count(), 1);
    assert_int_equal(e->f.refreshes, 0);
}

static void test_transient_retried_until_attempts_used(void **state)
{
    struct env *e = *state;
    script_set((struct answer[]){ANSWER(503, "{}"), ANSWER(502, "{}"), ANSWER(200, "{\"ok\":3}")},
               3);
    struct crm_call c = {.operation = "fake_op", .method = "GET", .url = "items"};
    struct crm_error err;
    assert_int_equal(run(e, &full_hooks, &c, &err), 0);
    assert_int_equal(json_object_get_int(json_member(c.json, "ok")), 3);
    json_object_put(c.json);
    assert_int_equal(err.attempts, 3);

    script_set((struct answer[]){ANSWER(503, "{}"), ANSWER(503, "{}"), ANSWER(503, "{}"),
                                 ANSWER(200, "{}")},
               4);
    assert_int_equal(run(e, &full_hooks, &c, &err), -1);
    assert_int_equal(err.cls, CRM_ERR_TRANSIENT);
    assert_int_equal(err.http_status, 503);
    assert_int_equal(err.attempts, 3); /* max_attempts */
    assert_int_equal(served_count(), 3);
}

static void test_no_answer_retried(void **state)
{
    struct env *e = *state;
    struct crm_call c = {.operation = "fake_op", .method = "GET", .url = "http://127.0.0.1:1/x"};
    struct crm_error err;
    assert_int_equal(run(e, &minimal_hooks, &c, &err), -1);
    assert_int_equal(err.cls, CRM_ERR_TRANSIENT);
    assert_int_equal(err.http_status, 0);
    assert_int_equal(err.attempts, 3);
    assert_int_equal(err.crm, CRM_SALESFORCE);
    static const char *const lc[] = {"crm", "operation", "status"};
    struct metric_family *calls =
        metrics_register(METRIC_COUNTER, "synkro_crm_api_calls_total", "x", lc, 3, NULL, 0);
    assert_true(metrics_value(calls, (const char *const[]){"salesforce", "fake_op", "error"}) == 3);
}

static void test_secrets_scrubbed(void **state)
{
    struct env *e = *state;
    script_set(
        (struct answer[]){
            {.status = 400, .body = NULL, .hname = NULL, .hvalue = NULL, .echo_auth = true}},
        1);
    struct crm_call c = {.operation = "fake_op", .method = "GET", .url = "items"};
    struct crm_error err;
    assert_int_equal(run(e, &full_hooks, &c, &err), -1);
    assert_int_equal(err.cls, CRM_ERR_PERMANENT);
    assert_null(strstr(err.message, "tok-1-secret"));
    assert_null(strstr(err.message, SECRET));
    assert_non_null(strstr(err.message, "***"));
    char line[1024];
    crm_error_format(&err, line, sizeof line);
    assert_null(strstr(line, "tok-1-secret"));
    assert_null(strstr(line, SECRET));
}

static void test_error_body_kept_for_last_try_only(void **state)
{
    struct env *e = *state;
    script_set((struct answer[]){ANSWER(
                   400, "{\"category\":\"VALIDATION_ERROR\",\"context\":{\"ids\":[\"7\"]}}")},
               1);
    struct crm_call c = {
        .operation = "fake_op", .method = "POST", .url = "items", .keep_error_body = true};
    struct crm_error err;
    assert_int_equal(run(e, &full_hooks, &c, &err), -1);
    assert_non_null(json_member(c.json, "context"));
    json_object_put(c.json);

    /* a 503 body, then the budget refuses the retry: the 503's body is not this error's */
    script_set((struct answer[]){ANSWER(503, "{\"message\":\"busy\"}"), ANSWER(200, "{}")}, 2);
    e->f.budget_calls = 0;
    e->f.refuse_budget_from = 2;
    assert_int_equal(run(e, &full_hooks, &c, &err), -1);
    assert_string_equal(err.code, "client_rate_limit");
    assert_int_equal(err.attempts, 1);
    assert_null(c.json);
}

static void test_invalid_json(void **state)
{
    struct env *e = *state;
    script_set((struct answer[]){ANSWER(200, "not json")}, 1);
    struct crm_call c = {.operation = "fake_op", .method = "GET", .url = "items"};
    struct crm_error err;
    assert_int_equal(run(e, &full_hooks, &c, &err), -1);
    assert_null(c.json);
    assert_int_equal(err.cls, CRM_ERR_PERMANENT);
    assert_int_equal(err.http_status, 200);
    assert_string_equal(err.code, "invalid_json");
    assert_string_equal(err.message, "FakeCRM answered 200 with a body that is not JSON");
    assert_int_equal(err.attempts, 1);
}

static void test_not_modified_and_extra_header(void **state)
{
    struct env *e = *state;
    const char *lm = "Wed, 21 Oct 2015 07:28:00 GMT";
    script_set((struct answer[]){ANSWER_H(304, NULL, "Last-Modified", lm)}, 1);
    struct crm_call c = {.operation = "fake_op",
                         .method = "GET",
                         .url = "items/describe",
                         .extra_header = "If-Modified-Since: Tue, 20 Oct 2015 07:28:00 GMT"};
    struct crm_error err;
    assert_int_equal(run(e, &full_hooks, &c, &err), 0);
    assert_int_equal(c.status, 304);
    assert_null(c.json);
    assert_string_equal(c.validator, lm);
    assert_string_equal(seen_ims, "Tue, 20 Oct 2015 07:28:00 GMT");
    assert_string_equal(seen_url[0], "/v1/items/describe");

    /* without accept_not_modified a 304 is an error answer */
    script_set((struct answer[]){ANSWER_H(304, NULL, "Last-Modified", lm)}, 1);
    char url[128];
    snprintf(url, sizeof url, "%s/abs", e->f.base);
    struct crm_call m = {.operation = "fake_op", .method = "GET", .url = url};
    assert_int_equal(run(e, &minimal_hooks, &m, &err), -1);
    assert_int_equal(err.http_status, 304);
    assert_int_equal(err.attempts, 1);
    assert_string_equal(seen_url[0], "/abs");
    assert_string_equal(m.validator, lm);
}

static void test_token_failure(void **state)
{
    struct env *e = *state;
    e->f.fail_refresh = true;
    token_cache_destroy(e->f.tokens); /* no token yet: the first get refreshes */
    e->f.tokens = token_cache_create(CRM_HUBSPOT, 0, 5000, f_refresh, &e->f);
    script_set((struct answer[]){ANSWER(200, "{}")}, 1);
    struct crm_call c = {.operation = "fake_op", .method = "GET", .url = "items"};
    struct crm_error err;
    assert_int_equal(run(e, &full_hooks, &c, &err), -1);
    assert_string_equal(err.operation, "fake_op");
    assert_string_equal(err.code, "invalid_grant");
    assert_int_equal(served_count(), 0);
    assert_null(c.json);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_success_first_try, setup, teardown),
        cmocka_unit_test_setup_teardown(test_budget_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refresh_once_then_success, setup, teardown),
        cmocka_unit_test_setup_teardown(test_second_401_final, setup, teardown),
        cmocka_unit_test_setup_teardown(test_static_token_not_refreshed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_retry_after_honoured, setup, teardown),
        cmocka_unit_test_setup_teardown(test_retry_after_beyond_max_wait_returned, setup, teardown),
        cmocka_unit_test_setup_teardown(test_permanent_not_retried, setup, teardown),
        cmocka_unit_test_setup_teardown(test_transient_retried_until_attempts_used, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_no_answer_retried, setup, teardown),
        cmocka_unit_test_setup_teardown(test_secrets_scrubbed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_error_body_kept_for_last_try_only, setup, teardown),
        cmocka_unit_test_setup_teardown(test_invalid_json, setup, teardown),
        cmocka_unit_test_setup_teardown(test_not_modified_and_extra_header, setup, teardown),
        cmocka_unit_test_setup_teardown(test_token_failure, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
