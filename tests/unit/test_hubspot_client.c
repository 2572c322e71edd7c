/* test_hubspot_client.c: contract and request-shape tests of sync/hubspot_client against crmsim.
 *
 * One crmsim process (CRMSIM_BIN, started with --listen 127.0.0.1:0 --port-file) serves the whole
 * run; every test resets it, loads its own fixtures and reads back what the client sent from
 * GET /_sim/stats (recentRequests: method, path, query, headers, body), comparing bodies as JSON
 * with the reference shapes. Covers: get one (properties, associations, idProperty, 404), batch
 * read/create/update/upsert/archive with splitting into calls of 100 and per-input results and
 * errors (207), search (filters, sorts, paging, its own 5/s budget), schemas, associations v4
 * (default and labelled create, read, archive, labels), the configurable path prefix, OAuth
 * refresh (8 threads: one refresh; refresh ahead of expiry; 401 -> refresh -> retry once; bad
 * refresh token), the client-side budget (1,000 calls, no 429), back-off on 429, retries under
 * 30% injected faults, every error class from injected statuses, and secrets kept out of
 * error texts. Fails (never skips) when CRMSIM_BIN is unset. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <curl/curl.h>
#include <json-c/json.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/metrics.h"
#include "crm/crm_call_stats.h"
#include "crm/hubspot_client.h"
#include "crmsim_proc.h"
#include "unit_sim.h"
#include "version.h"

/* ---- time (the crmsim process is tests/unit/support/unit_sim) ---- */

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static const char FIXTURES[] =
    "{\"hubspot\":{"
    "\"schemas\":[{\"name\":\"projects\",\"objectTypeId\":\"2-3465404\","
    "\"labels\":{\"singular\":\"Project\",\"plural\":\"Projects\"},"
    "\"primaryDisplayProperty\":\"name\",\"requiredProperties\":[\"name\"],"
    "\"properties\":["
    "{\"name\":\"name\",\"label\":\"Name\",\"type\":\"string\",\"fieldType\":\"text\"},"
    "{\"name\":\"salesforce_id\",\"label\":\"Salesforce ID\",\"type\":\"string\","
    "\"fieldType\":\"text\",\"hasUniqueValue\":true},"
    "{\"name\":\"budget\",\"label\":\"Budget\",\"type\":\"number\",\"fieldType\":\"number\"},"
    "{\"name\":\"status\",\"label\":\"Status\",\"type\":\"enumeration\",\"fieldType\":\"select\","
    "\"options\":[{\"label\":\"Planned\",\"value\":\"planned\"},{\"label\":\"Active\","
    "\"value\":\"active\"}]},"
    "{\"name\":\"score\",\"label\":\"Score\",\"type\":\"number\",\"fieldType\":"
    "\"calculation_equation\",\"calculated\":true}],"
    "\"associations\":[{\"fromObjectTypeId\":\"2-3465404\",\"toObjectTypeId\":\"0-2\","
    "\"name\":\"project_to_company\",\"id\":\"101\"}]},"
    "{\"name\":\"companies\",\"objectTypeId\":\"0-2\",\"labels\":{\"singular\":\"Company\","
    "\"plural\":\"Companies\"},\"primaryDisplayProperty\":\"name\",\"properties\":["
    "{\"name\":\"name\",\"label\":\"Name\",\"type\":\"string\"},"
    "{\"name\":\"domain\",\"label\":\"Domain\",\"type\":\"string\",\"hasUniqueValue\":true}]}],"
    "\"association_types\":["
    "{\"fromObjectTypeId\":\"0-2\",\"toObjectTypeId\":\"2-3465404\",\"category\":"
    "\"USER_DEFINED\",\"typeId\":102,\"name\":\"company_to_project\"},"
    "{\"fromObjectTypeId\":\"2-3465404\",\"toObjectTypeId\":\"0-2\",\"category\":"
    "\"USER_DEFINED\",\"typeId\":103,\"label\":\"Sponsor\",\"name\":\"project_sponsor\"},"
    "{\"fromObjectTypeId\":\"0-2\",\"toObjectTypeId\":\"2-3465404\",\"category\":"
    "\"USER_DEFINED\",\"typeId\":104,\"label\":\"Sponsor\",\"name\":\"sponsored_project\"}],"
    "\"records\":{"
    "\"0-2\":[{\"id\":\"501\",\"properties\":{\"name\":\"Acme\",\"domain\":\"acme.example\"}},"
    "{\"id\":\"502\",\"properties\":{\"name\":\"Globex\",\"domain\":\"globex.example\"}}],"
    "\"2-3465404\":[{\"id\":\"7001\",\"properties\":{\"name\":\"Apollo\",\"salesforce_id\":"
    "\"a01000000000001AAA\",\"budget\":\"100\",\"status\":\"active\"}},"
    "{\"id\":\"7002\",\"properties\":{\"name\":\"Gemini\",\"salesforce_id\":"
    "\"a01000000000002AAA\",\"budget\":\"250\",\"status\":\"planned\"}},"
    "{\"id\":\"7003\",\"properties\":{\"name\":\"Mercury\",\"budget\":\"50\",\"status\":"
    "\"active\"}}]},"
    "\"associations\":[{\"fromObjectTypeId\":\"2-3465404\",\"fromObjectId\":\"7001\","
    "\"toObjectTypeId\":\"0-2\",\"toObjectId\":\"501\",\"category\":\"USER_DEFINED\","
    "\"typeId\":103}]},"
    "\"config\":{\"hubspot_search_delay_ms\":0}}";

static int test_setup(void **state)
{
    (void)state;
    crmsim_proc_ok(&unit_sim, "POST", "/_sim/reset", NULL);
    crmsim_proc_ok(&unit_sim, "POST", "/_sim/fixtures", FIXTURES);
    crmsim_proc_ok(&unit_sim, "POST", "/_sim/stats/reset", NULL);
    return 0;
}

/* ---- client helpers ---- */

struct env {
    struct hubspot_client *hc;
    struct crm_http *h;
};

static void env_open(struct env *e, const struct hubspot_client_options *extra)
{
    struct hubspot_client_options o = {0};
    if (extra)
        o = *extra;
    o.api_base = unit_sim.base;
    if (!o.client_id && !o.access_token)
        o.access_token = "pat-sim-token";
    if (!o.retry.max_attempts) {
        o.retry.max_attempts = 5;
        o.retry.base_delay_ms = 20;
        o.retry.max_delay_ms = 200;
        o.retry.max_wait_ms = 15000;
    }
    char err[300];
    e->hc = hubspot_client_create(&o, err, sizeof err);
    if (!e->hc)
        fail_msg("hubspot_client_create: %s", err);
    struct crm_http_options ho = {.timeout_ms = 10000, .connect_timeout_ms = 2000};
    e->h = crm_http_create(&ho, err, sizeof err);
    if (!e->h)
        fail_msg("crm_http_create: %s", err);
}

static void env_close(struct env *e)
{
    crm_http_destroy(e->h);
    hubspot_client_destroy(e->hc);
}

static void expect_ok(int rc, const struct crm_error *err)
{
    if (rc != 0) {
        char line[800];
        crm_error_format(err, line, sizeof line);
        fail_msg("call failed: %s", line);
    }
}

static const char *prop(json_object *record, const char *name)
{
    json_object *props;
    if (!json_object_object_get_ex(record, "properties", &props))
        return NULL;
    return crmsim_jstr(props, name);
}

/* ---- records ---- */

static void test_get_one(void **state)
{
    (void)state;
    struct env e;
    env_open(&e, NULL);
    struct crm_error err;
    json_object *rec = NULL;
    const char *props[] = {"name", "budget"};
    const char *assoc[] = {"0-2"};
    struct hubspot_read_options ro = {
        .properties = props, .nproperties = 2, .associations = assoc, .nassociations = 1};
    expect_ok(hubspot_object_get(e.hc, e.h, "2-3465404", "7001", &ro, &rec, &err), &err);
    assert_string_equal(crmsim_jstr(rec, "id"), "7001");
    assert_string_equal(prop(rec, "name"), "Apollo");
    assert_string_equal(prop(rec, "budget"), "100");
    json_object *assocs;
    assert_true(json_object_object_get_ex(rec, "associations", &assocs));
    json_object_put(rec);

    /* by a unique property, through the fully qualified name */
    struct hubspot_read_options by = {.id_property = "salesforce_id"};
    expect_ok(
        hubspot_object_get(e.hc, e.h, "p12345678_projects", "a01000000000002AAA", &by, &rec, &err),
        &err);
    assert_string_equal(crmsim_jstr(rec, "id"), "7002");
    json_object_put(rec);

    /* missing record: permanent 404 */
    assert_int_equal(hubspot_object_get(e.hc, e.h, "2-3465404", "999999", NULL, &rec, &err), -1);
    assert_null(rec);
    assert_int_equal(err.cls, CRM_ERR_PERMANENT);
    assert_int_equal(err.http_status, 404);
    assert_string_equal(err.code, "OBJECT_NOT_FOUND");
    assert_string_equal(err.operation, "get");
    assert_int_equal(err.attempts, 1);

    json_object *reqs;
    json_object *st = crmsim_proc_requests(&unit_sim, "/crm", &reqs);
    assert_int_equal(json_object_array_length(reqs), 3);
    json_object *r0 = json_object_array_get_idx(reqs, 0);
    assert_string_equal(crmsim_jstr(r0, "method"), "GET");
    assert_string_equal(crmsim_jstr(r0, "path"), "/crm/v3/objects/2-3465404/7001");
    assert_string_equal(crmsim_jstr(r0, "query"), "properties=name,budget&associations=0-2");
    json_object *hdrs;
    assert_true(json_object_object_get_ex(r0, "headers", &hdrs));
    assert_string_equal(crmsim_jstr(hdrs, "User-Agent"), "synkro/" SYNKRO_VERSION);
    json_object *r1 = json_object_array_get_idx(reqs, 1);
    assert_string_equal(crmsim_jstr(r1, "path"),
                        "/crm/v3/objects/p12345678_projects/a01000000000002AAA");
    assert_string_equal(crmsim_jstr(r1, "query"), "idProperty=salesforce_id");
    json_object_put(st);
    env_close(&e);
}

static void test_batch_create_splits_and_matches(void **state)
{
    (void)state;
    struct env e;
    env_open(&e, NULL);
    enum { N = 250 };
    struct hubspot_input in[N];
    json_object *props[N];
    char names[N][32];
    for (int i = 0; i < N; i++) {
        snprintf(names[i], sizeof names[i], "project-%03d", i);
        props[i] = json_object_new_object();
        json_object_object_add(props[i], "name", json_object_new_string(names[i]));
        json_object_object_add(props[i], "budget", json_object_new_string("10"));
        in[i] = (struct hubspot_input){.properties = props[i]};
    }
    /* one bad input: an option that does not exist */
    json_object_object_add(props[150], "status", json_object_new_string("bogus"));
    struct crm_batch_result res;
    struct crm_error err;
    assert_int_equal(hubspot_batch_create(e.hc, e.h, "2-3465404", in, N, &res, &err), 0);
    assert_int_equal(res.n, N);
    assert_int_equal(res.nfailed, 1);
    for (int i = 0; i < N; i++) {
        if (i == 150) {
            assert_false(res.items[i].ok);
            assert_int_equal(res.items[i].error->cls, CRM_ERR_PERMANENT);
            assert_string_equal(res.items[i].error->code, "VALIDATION_ERROR");
            assert_int_equal(res.items[i].error->nfields, 1);
            assert_string_equal(res.items[i].error->fields[0], "status");
            continue;
        }
        assert_true(res.items[i].ok);
        assert_non_null(res.items[i].id);
        assert_string_equal(prop(res.items[i].record, "name"), names[i]);
    }
    /* three calls of 100, 100 and 50, each input with a unique objectWriteTraceId */
    json_object *reqs;
    json_object *st =
        crmsim_proc_requests(&unit_sim, "/crm/v3/objects/2-3465404/batch/create", &reqs);
    assert_int_equal(json_object_array_length(reqs), 3);
    size_t sizes[3] = {100, 100, 50};
    for (size_t k = 0; k < 3; k++) {
        json_object *r = json_object_array_get_idx(reqs, k);
        assert_string_equal(crmsim_jstr(r, "method"), "POST");
        assert_string_equal(crmsim_jstr(r, "query"), "");
        json_object *body = json_tokener_parse(crmsim_jstr(r, "body"));
        json_object *inputs;
        assert_true(json_object_object_get_ex(body, "inputs", &inputs));
        assert_int_equal(json_object_array_length(inputs), sizes[k]);
        assert_int_equal(json_object_object_length(body), 1);
        json_object *first = json_object_array_get_idx(inputs, 0);
        assert_int_equal(json_object_object_length(first), 2);
        assert_non_null(crmsim_jstr(first, "objectWriteTraceId"));
        json_object *p;
        assert_true(json_object_object_get_ex(first, "properties", &p));
        assert_string_equal(crmsim_jstr(p, "name"), names[k * 100]);
        json_object_put(body);
    }
    json_object_put(st);
    /* exact shape of one small call */
    crmsim_proc_ok(&unit_sim, "POST", "/_sim/stats/reset", NULL);
    struct hubspot_input one = {.properties = props[0], .trace_id = "trace-one"};
    crm_batch_result_free(&res);
    assert_int_equal(hubspot_batch_create(e.hc, e.h, "2-3465404", &one, 1, &res, &err), 0);
    st = crmsim_proc_requests(&unit_sim, "/crm/v3/objects/2-3465404/batch/create", &reqs);
    crmsim_expect_body(json_object_array_get_idx(reqs, 0),
                       "{\"inputs\":[{\"properties\":{\"name\":\"project-000\",\"budget\":\"10\"},"
                       "\"objectWriteTraceId\":\"trace-one\"}]}");
    json_object_put(st);
    crm_batch_result_free(&res);
    for (int i = 0; i < N; i++)
        json_object_put(props[i]);
    env_close(&e);
}

static void test_batch_update_upsert_archive_read(void **state)
{
    (void)state;
    struct env e;
    env_open(&e, NULL);
    struct crm_batch_result res;
    struct crm_error err;

    /* update: 7001 exists, 424242 does not */
    json_object *p1 = json_tokener_parse("{\"budget\":\"111\"}");
    json_object *p2 = json_tokener_parse("{\"budget\":\"222\"}");
    struct hubspot_input upd[] = {{.id = "7001", .properties = p1, .trace_id = "u1"},
                                  {.id = "424242", .properties = p2, .trace_id = "u2"}};
    assert_int_equal(hubspot_batch_update(e.hc, e.h, "2-3465404", upd, 2, &res, &err), 0);
    assert_true(res.items[0].ok);
    assert_string_equal(prop(res.items[0].record, "budget"), "111");
    assert_false(res.items[1].ok);
    assert_string_equal(res.items[1].error->code, "OBJECT_NOT_FOUND");
    assert_int_equal(res.items[1].error->cls, CRM_ERR_PERMANENT);
    crm_batch_result_free(&res);

    /* upsert by salesforce_id: one update, one create */
    json_object *p3 = json_tokener_parse("{\"name\":\"Apollo 2\"}");
    json_object *p4 = json_tokener_parse("{\"name\":\"Vostok\"}");
    struct hubspot_input ups[] = {{.id = "a01000000000001AAA", .properties = p3, .trace_id = "s1"},
                                  {.id = "a01000000000009AAA", .properties = p4, .trace_id = "s2"}};
    assert_int_equal(
        hubspot_batch_upsert(e.hc, e.h, "2-3465404", "salesforce_id", ups, 2, &res, &err), 0);
    assert_int_equal(res.nfailed, 0);
    assert_string_equal(res.items[0].id, "7001");
    assert_false(res.items[0].created);
    assert_true(res.items[1].created);
    char *vostok = strdup(res.items[1].id);
    crm_batch_result_free(&res);

    /* read by id and by idProperty; a missing one fails alone */
    const char *ids[] = {"7003", "7001", "31337"};
    const char *props[] = {"name"};
    struct hubspot_read_options ro = {.properties = props, .nproperties = 1};
    assert_int_equal(hubspot_batch_read(e.hc, e.h, "2-3465404", ids, 3, &ro, &res, &err), 0);
    assert_string_equal(prop(res.items[0].record, "name"), "Mercury");
    assert_string_equal(prop(res.items[1].record, "name"), "Apollo 2");
    assert_false(res.items[2].ok);
    assert_string_equal(res.items[2].error->code, "OBJECT_NOT_FOUND");
    crm_batch_result_free(&res);
    const char *sfids[] = {"a01000000000009AAA", "a01000000000002AAA"};
    struct hubspot_read_options by = {.id_property = "salesforce_id"};
    assert_int_equal(hubspot_batch_read(e.hc, e.h, "2-3465404", sfids, 2, &by, &res, &err), 0);
    assert_string_equal(res.items[0].id, vostok);
    assert_string_equal(res.items[1].id, "7002");
    crm_batch_result_free(&res);

    /* archive */
    const char *gone[] = {"7003", vostok};
    assert_int_equal(hubspot_batch_archive(e.hc, e.h, "2-3465404", gone, 2, &res, &err), 0);
    assert_int_equal(res.nfailed, 0);
    crm_batch_result_free(&res);
    json_object *rec = NULL;
    assert_int_equal(hubspot_object_get(e.hc, e.h, "2-3465404", "7003", NULL, &rec, &err), -1);
    assert_int_equal(err.http_status, 404);

    json_object *reqs;
    json_object *st = crmsim_proc_requests(&unit_sim, "/crm/v3/objects/2-3465404/batch", &reqs);
    assert_int_equal(json_object_array_length(reqs), 5);
    crmsim_expect_body(
        json_object_array_get_idx(reqs, 0),
        "{\"inputs\":[{\"id\":\"7001\",\"properties\":{\"budget\":\"111\"},"
        "\"objectWriteTraceId\":\"u1\"},{\"id\":\"424242\",\"properties\":{\"budget\":"
        "\"222\"},\"objectWriteTraceId\":\"u2\"}]}");
    assert_string_equal(crmsim_jstr(json_object_array_get_idx(reqs, 0), "path"),
                        "/crm/v3/objects/2-3465404/batch/update");
    crmsim_expect_body(
        json_object_array_get_idx(reqs, 1),
        "{\"inputs\":[{\"id\":\"a01000000000001AAA\",\"idProperty\":\"salesforce_id\","
        "\"properties\":{\"name\":\"Apollo 2\"},\"objectWriteTraceId\":\"s1\"},"
        "{\"id\":\"a01000000000009AAA\",\"idProperty\":\"salesforce_id\",\"properties\":"
        "{\"name\":\"Vostok\"},\"objectWriteTraceId\":\"s2\"}]}");
    assert_string_equal(crmsim_jstr(json_object_array_get_idx(reqs, 1), "path"),
                        "/crm/v3/objects/2-3465404/batch/upsert");
    crmsim_expect_body(json_object_array_get_idx(reqs, 2),
                       "{\"properties\":[\"name\"],\"inputs\":[{\"id\":\"7003\"},{\"id\":\"7001\"},"
                       "{\"id\":\"31337\"}]}");
    crmsim_expect_body(
        json_object_array_get_idx(reqs, 3),
        "{\"properties\":[\"salesforce_id\"],\"idProperty\":\"salesforce_id\","
        "\"inputs\":[{\"id\":\"a01000000000009AAA\"},{\"id\":\"a01000000000002AAA\"}]}");
    char want[200];
    snprintf(want, sizeof want, "{\"inputs\":[{\"id\":\"7003\"},{\"id\":\"%s\"}]}", vostok);
    crmsim_expect_body(json_object_array_get_idx(reqs, 4), want);
    assert_string_equal(crmsim_jstr(json_object_array_get_idx(reqs, 4), "path"),
                        "/crm/v3/objects/2-3465404/batch/archive");
    json_object_put(st);
    free(vostok);
    json_object_put(p1);
    json_object_put(p2);
    json_object_put(p3);
    json_object_put(p4);
    env_close(&e);
}

static void test_search(void **state)
{
    (void)state;
    struct env e;
    env_open(&e, NULL);
    struct crm_error err;
    const char *in_values[] = {"active", "planned"};
    struct hubspot_filter f1[] = {
        {.property = "budget", .op = "GTE", .value = "50"},
        {.property = "status", .op = "IN", .values = in_values, .nvalues = 2}};
    struct hubspot_filter f2[] = {{.property = "name", .op = "EQ", .value = "Nobody"}};
    struct hubspot_filter_group groups[] = {{f1, 2}, {f2, 1}};
    struct hubspot_sort sorts[] = {{.property = "budget", .descending = true}};
    const char *props[] = {"name", "budget"};
    struct hubspot_search_query q = {.groups = groups,
                                     .ngroups = 2,
                                     .sorts = sorts,
                                     .nsorts = 1,
                                     .properties = props,
                                     .nproperties = 2,
                                     .limit = 2};
    struct hubspot_search_page page;
    expect_ok(hubspot_search(e.hc, e.h, "2-3465404", &q, &page, &err), &err);
    assert_int_equal(page.total, 3);
    assert_int_equal(json_object_array_length(page.results), 2);
    assert_string_equal(prop(json_object_array_get_idx(page.results, 0), "name"), "Gemini");
    assert_string_equal(prop(json_object_array_get_idx(page.results, 1), "name"), "Apollo");
    assert_non_null(page.next_after);
    q.after = page.next_after;
    struct hubspot_search_page page2;
    expect_ok(hubspot_search(e.hc, e.h, "2-3465404", &q, &page2, &err), &err);
    assert_int_equal(json_object_array_length(page2.results), 1);
    assert_string_equal(prop(json_object_array_get_idx(page2.results, 0), "name"), "Mercury");
    assert_null(page2.next_after);

    json_object *reqs;
    json_object *st = crmsim_proc_requests(&unit_sim, "/crm/v3/objects/2-3465404/search", &reqs);
    assert_int_equal(json_object_array_length(reqs), 2);
    crmsim_expect_body(
        json_object_array_get_idx(reqs, 0),
        "{\"filterGroups\":[{\"filters\":[{\"propertyName\":\"budget\",\"operator\":"
        "\"GTE\",\"value\":\"50\"},{\"propertyName\":\"status\",\"operator\":\"IN\","
        "\"values\":[\"active\",\"planned\"]}]},{\"filters\":[{\"propertyName\":\"name\","
        "\"operator\":\"EQ\",\"value\":\"Nobody\"}]}],\"sorts\":[{\"propertyName\":"
        "\"budget\",\"direction\":\"DESCENDING\"}],\"properties\":[\"name\",\"budget\"],"
        "\"limit\":2}");
    char want[600];
    snprintf(want, sizeof want,
             "{\"filterGroups\":[{\"filters\":[{\"propertyName\":\"budget\",\"operator\":"
             "\"GTE\",\"value\":\"50\"},{\"propertyName\":\"status\",\"operator\":\"IN\","
             "\"values\":[\"active\",\"planned\"]}]},{\"filters\":[{\"propertyName\":\"name\","
             "\"operator\":\"EQ\",\"value\":\"Nobody\"}]}],\"sorts\":[{\"propertyName\":"
             "\"budget\",\"direction\":\"DESCENDING\"}],\"properties\":[\"name\",\"budget\"],"
             "\"limit\":2,\"after\":\"%s\"}",
             page.next_after);
    crmsim_expect_body(json_object_array_get_idx(reqs, 1), want);
    json_object_put(st);
    hubspot_search_page_free(&page);
    hubspot_search_page_free(&page2);
    env_close(&e);
}

static void test_search_budget(void **state)
{
    (void)state;
    struct env e;
    env_open(&e, NULL); /* 5 searches per second by default */
    struct crm_error err;
    struct hubspot_search_query q = {.limit = 1};
    int64_t t0 = mono_ms();
    for (int i = 0; i < 12; i++) {
        struct hubspot_search_page page;
        expect_ok(hubspot_search(e.hc, e.h, "2-3465404", &q, &page, &err), &err);
        hubspot_search_page_free(&page);
    }
    int64_t took = mono_ms() - t0;
    assert_true(took >= 2000); /* 12 at 5/s: the 11th waits two full seconds */
    assert_int_equal(crmsim_proc_count(&unit_sim, "POST /crm/v3/objects/{type}/search", 429), 0);
    assert_int_equal(crmsim_proc_count(&unit_sim, "POST /crm/v3/objects/{type}/search", 200), 12);
    env_close(&e);
}

static void test_schemas(void **state)
{
    (void)state;
    struct env e;
    env_open(&e, NULL);
    struct crm_error err;
    struct hs_object *s;
    expect_ok(hubspot_schema_get(e.hc, e.h, "p12345678_projects", &s, &err), &err);
    assert_string_equal(s->object_type_id, "2-3465404");
    assert_string_equal(s->name, "projects");
    assert_string_equal(s->primary_display_property, "name");
    assert_string_equal(s->label_singular, "Project");
    assert_int_equal(s->n_required_properties, 1);
    assert_string_equal(s->required_properties[0], "name");
    const struct hs_object_property *p = hs_object_property_find(s, "salesforce_id");
    assert_non_null(p);
    assert_true(p->has_unique_value);
    assert_int_equal(p->type, HS_TYPE_STRING);
    p = hs_object_property_find(s, "status");
    assert_int_equal(p->type, HS_TYPE_ENUMERATION);
    assert_int_equal(p->field_type, HS_FIELD_SELECT);
    assert_int_equal(p->n_options, 2);
    assert_string_equal(p->options[1].value, "active");
    assert_string_equal(p->options[1].label, "Active");
    assert_true(hs_object_property_required(s, "name"));
    assert_false(hs_object_property_required(s, "budget"));
    assert_true(hs_object_property_find(s, "score")->calculated);
    assert_null(hs_object_property_find(s, "nope"));
    assert_true(s->n_associations >= 1);
    assert_string_equal(s->associations[0].to_object_type_id, "0-2");
    hs_object_free(s);

    struct hs_object **list;
    size_t n;
    expect_ok(hubspot_schema_list(e.hc, e.h, &list, &n, &err), &err);
    int found = 0;
    for (size_t i = 0; i < n; i++)
        found += strcmp(list[i]->object_type_id, "2-3465404") == 0;
    assert_int_equal(found, 1);
    hubspot_schema_list_free(list, n);

    assert_int_equal(hubspot_schema_get(e.hc, e.h, "2-999", &s, &err), -1);
    assert_int_equal(err.http_status, 404);

    json_object *reqs;
    json_object *st = crmsim_proc_requests(&unit_sim, "/crm-object-schemas", &reqs);
    assert_string_equal(crmsim_jstr(json_object_array_get_idx(reqs, 0), "path"),
                        "/crm-object-schemas/v3/schemas/p12345678_projects");
    assert_string_equal(crmsim_jstr(json_object_array_get_idx(reqs, 1), "path"),
                        "/crm-object-schemas/v3/schemas");
    json_object_put(st);
    env_close(&e);
}

static void test_associations(void **state)
{
    (void)state;
    struct env e;
    env_open(&e, NULL);
    struct crm_error err;
    struct hubspot_assoc_label *labels;
    size_t nl;
    expect_ok(hubspot_assoc_labels(e.hc, e.h, "2-3465404", "0-2", &labels, &nl, &err), &err);
    long long sponsor = 0;
    for (size_t i = 0; i < nl; i++)
        if (labels[i].label && strcmp(labels[i].label, "Sponsor") == 0)
            sponsor = labels[i].type_id;
    assert_int_equal(sponsor, 103);
    hubspot_assoc_labels_free(labels, nl);

    struct hubspot_assoc_type sp[] = {{"USER_DEFINED", 103}};
    struct hubspot_assoc_input in[] = {
        {.from_id = "7002", .to_id = "502"},
        {.from_id = "7002", .to_id = "501", .types = sp, .ntypes = 1},
        {.from_id = "7003", .to_id = "99999"}};
    struct crm_batch_result res;
    assert_int_equal(hubspot_assoc_batch_create(e.hc, e.h, "2-3465404", "0-2", in, 3, &res, &err),
                     0);
    assert_true(res.items[0].ok);
    assert_true(res.items[1].ok);
    assert_false(res.items[2].ok); /* no company 99999 */
    assert_int_equal(res.items[2].error->cls, CRM_ERR_PERMANENT);
    crm_batch_result_free(&res);

    const char *from[] = {"7001", "7002", "7003"};
    struct hubspot_assoc_links links;
    expect_ok(hubspot_assoc_batch_read(e.hc, e.h, "2-3465404", "0-2", from, 3, &links, &err), &err);
    int seen_7002_502 = 0, seen_7002_501_sponsor = 0, seen_7001 = 0;
    for (size_t i = 0; i < links.n; i++) {
        struct hubspot_assoc_link *l = &links.items[i];
        if (strcmp(l->from_id, "7002") == 0 && strcmp(l->to_id, "502") == 0)
            seen_7002_502++;
        if (strcmp(l->from_id, "7002") == 0 && strcmp(l->to_id, "501") == 0 && l->type_id == 103)
            seen_7002_501_sponsor++;
        if (strcmp(l->from_id, "7001") == 0)
            seen_7001++;
    }
    assert_true(seen_7002_502 >= 1);
    assert_int_equal(seen_7002_501_sponsor, 1);
    assert_int_equal(seen_7001, 1);
    hubspot_assoc_links_free(&links);

    struct hubspot_assoc_input rm[] = {{.from_id = "7002", .to_id = "501"}};
    expect_ok(hubspot_assoc_batch_archive(e.hc, e.h, "2-3465404", "0-2", rm, 1, &err), &err);
    const char *one[] = {"7002"};
    expect_ok(hubspot_assoc_batch_read(e.hc, e.h, "2-3465404", "0-2", one, 1, &links, &err), &err);
    for (size_t i = 0; i < links.n; i++)
        assert_string_not_equal(links.items[i].to_id, "501");
    hubspot_assoc_links_free(&links);

    json_object *reqs;
    json_object *st = crmsim_proc_requests(&unit_sim, "/crm/v4", &reqs);
    assert_string_equal(crmsim_jstr(json_object_array_get_idx(reqs, 0), "path"),
                        "/crm/v4/associations/2-3465404/0-2/labels");
    json_object *r = json_object_array_get_idx(reqs, 1);
    assert_string_equal(crmsim_jstr(r, "path"), "/crm/v4/associations/2-3465404/0-2/batch/create");
    crmsim_expect_body(r,
                       "{\"inputs\":[{\"from\":{\"id\":\"7002\"},\"to\":{\"id\":\"501\"},\"types\":"
                       "[{\"associationCategory\":\"USER_DEFINED\",\"associationTypeId\":103}]}]}");
    r = json_object_array_get_idx(reqs, 2);
    assert_string_equal(crmsim_jstr(r, "path"),
                        "/crm/v4/associations/2-3465404/0-2/batch/associate/default");
    crmsim_expect_body(r, "{\"inputs\":[{\"from\":{\"id\":\"7002\"},\"to\":{\"id\":\"502\"}},"
                          "{\"from\":{\"id\":\"7003\"},\"to\":{\"id\":\"99999\"}}]}");
    r = json_object_array_get_idx(reqs, 3);
    assert_string_equal(crmsim_jstr(r, "path"), "/crm/v4/associations/2-3465404/0-2/batch/read");
    crmsim_expect_body(r, "{\"inputs\":[{\"id\":\"7001\"},{\"id\":\"7002\"},{\"id\":\"7003\"}]}");
    r = json_object_array_get_idx(reqs, 4);
    assert_string_equal(crmsim_jstr(r, "path"), "/crm/v4/associations/2-3465404/0-2/batch/archive");
    crmsim_expect_body(r, "{\"inputs\":[{\"from\":{\"id\":\"7002\"},\"to\":[{\"id\":\"501\"}]}]}");
    json_object_put(st);
    env_close(&e);
}

static void test_path_prefix_configurable(void **state)
{
    (void)state;
    struct env e;
    struct hubspot_client_options o = {.objects_prefix = "/crm/objects/2026-03"};
    env_open(&e, &o);
    struct crm_error err;
    json_object *rec;
    expect_ok(hubspot_object_get(e.hc, e.h, "2-3465404", "7001", NULL, &rec, &err), &err);
    json_object_put(rec);
    json_object *reqs;
    json_object *st = crmsim_proc_requests(&unit_sim, "/crm", &reqs);
    assert_string_equal(crmsim_jstr(json_object_array_get_idx(reqs, 0), "path"),
                        "/crm/objects/2026-03/2-3465404/7001");
    json_object_put(st);
    env_close(&e);
}

/* ---- batch answers read input by input ---- */

static void fault(const char *rule)
{
    crmsim_proc_ok(&unit_sim, "POST", "/_sim/faults", rule);
}

/* Projects first..first+n-1 (ids as decimal strings), budget "1". */
static void load_projects(int first, int n)
{
    size_t cap = (size_t)n * 96 + 64, o = 0;
    char *doc = malloc(cap);
    assert_non_null(doc);
    o += (size_t)snprintf(doc + o, cap - o, "{\"hubspot\":{\"records\":{\"2-3465404\":[");
    for (int i = 0; i < n; i++)
        o +=
            (size_t)snprintf(doc + o, cap - o,
                             "%s{\"id\":\"%d\",\"properties\":{\"name\":\"P%d\",\"budget\":\"1\"}}",
                             i ? "," : "", first + i, first + i);
    snprintf(doc + o, cap - o, "]}}}");
    crmsim_proc_ok(&unit_sim, "POST", "/_sim/fixtures", doc);
    free(doc);
}

/* Calls made to path since the last stats reset, and the ids each call's body carried. */
static size_t calls_to(const char *path)
{
    json_object *reqs;
    json_object *st = crmsim_proc_requests(&unit_sim, path, &reqs);
    size_t n = json_object_array_length(reqs);
    json_object_put(st);
    return n;
}

static size_t inputs_of_call(const char *path, size_t k)
{
    json_object *reqs;
    json_object *st = crmsim_proc_requests(&unit_sim, path, &reqs);
    json_object *body = json_tokener_parse(crmsim_jstr(json_object_array_get_idx(reqs, k), "body"));
    json_object *inputs = NULL;
    json_object_object_get_ex(body, "inputs", &inputs);
    size_t n = inputs ? json_object_array_length(inputs) : 0;
    json_object_put(body);
    json_object_put(st);
    return n;
}

/* True when some call to path carried id as its only input. */
static bool sent_alone(const char *path, const char *id)
{
    json_object *reqs;
    json_object *st = crmsim_proc_requests(&unit_sim, path, &reqs);
    bool found = false;
    for (size_t k = 0; !found && k < json_object_array_length(reqs); k++) {
        json_object *body =
            json_tokener_parse(crmsim_jstr(json_object_array_get_idx(reqs, k), "body"));
        json_object *inputs = NULL;
        json_object_object_get_ex(body, "inputs", &inputs);
        found = inputs && json_object_array_length(inputs) == 1 &&
                strcmp(crmsim_jstr(json_object_array_get_idx(inputs, 0), "id"), id) == 0;
        json_object_put(body);
    }
    json_object_put(st);
    return found;
}

struct upd {
    char ids[64][16];
    char traces[64][16];
    struct hubspot_input in[64];
    json_object *props;
};

/* Updates of ids[0..n) setting budget to value, traced t<id>. */
static void upd_init(struct upd *u, const char *const *ids, size_t n, const char *value)
{
    char p[64];
    snprintf(p, sizeof p, "{\"budget\":\"%s\"}", value);
    u->props = json_tokener_parse(p);
    for (size_t i = 0; i < n; i++) {
        snprintf(u->ids[i], sizeof u->ids[i], "%s", ids[i]);
        snprintf(u->traces[i], sizeof u->traces[i], "t%s", ids[i]);
        u->in[i] = (struct hubspot_input){
            .id = u->ids[i], .properties = u->props, .trace_id = u->traces[i]};
    }
}

static void expect_gone(const struct crm_batch_item *it)
{
    assert_false(it->ok);
    assert_non_null(it->error);
    assert_string_equal(it->error->code, "OBJECT_NOT_FOUND");
    assert_int_equal(it->error->http_status, 404);
    assert_int_equal(it->error->cls, CRM_ERR_PERMANENT);
}

static const char UPDATE_PATH[] = "/crm/v3/objects/2-3465404/batch/update";
static const char READ_PATH[] = "/crm/v3/objects/2-3465404/batch/read";

/* A record deleted while a batch is in flight: HubSpot's 207 names it, the others succeed. */
static void test_batch_gone_record_fails_alone(void **state)
{
    (void)state;
    struct env e;
    env_open(&e, NULL);
    load_projects(8000, 30);
    crmsim_proc_ok(&unit_sim, "DELETE", "/_sim/hubspot/2-3465404/records/8007", NULL);
    crmsim_proc_ok(&unit_sim, "POST", "/_sim/stats/reset", NULL);
    char idbuf[30][8];
    const char *ids[30];
    for (int i = 0; i < 30; i++) {
        snprintf(idbuf[i], sizeof idbuf[i], "%d", 8000 + i);
        ids[i] = idbuf[i];
    }
    struct upd u;
    upd_init(&u, ids, 30, "5");
    struct crm_batch_result res;
    struct crm_error err;
    expect_ok(hubspot_batch_update(e.hc, e.h, "2-3465404", u.in, 30, &res, &err), &err);
    assert_int_equal(res.nfailed, 1);
    expect_gone(&res.items[7]);
    for (int i = 0; i < 30; i++)
        if (i != 7)
            assert_string_equal(prop(res.items[i].record, "budget"), "5");
    crm_batch_result_free(&res);
    assert_int_equal(calls_to(UPDATE_PATH), 1);

    /* read: the same */
    const char *props[] = {"budget"};
    struct hubspot_read_options ro = {.properties = props, .nproperties = 1};
    expect_ok(hubspot_batch_read(e.hc, e.h, "2-3465404", ids, 30, &ro, &res, &err), &err);
    assert_int_equal(res.nfailed, 1);
    expect_gone(&res.items[7]);
    assert_string_equal(prop(res.items[8].record, "budget"), "5");
    crm_batch_result_free(&res);
    /* a read that finds nothing: HubSpot answers the call 404, naming the ids */
    const char *only[] = {"8007", "8099"};
    expect_ok(hubspot_batch_read(e.hc, e.h, "2-3465404", only, 2, &ro, &res, &err), &err);
    expect_gone(&res.items[0]);
    expect_gone(&res.items[1]);
    crm_batch_result_free(&res);
    assert_int_equal(calls_to(READ_PATH), 2);

    /* archive: 204 whatever the ids */
    const char *arch[] = {"8006", "8007"};
    expect_ok(hubspot_batch_archive(e.hc, e.h, "2-3465404", arch, 2, &res, &err), &err);
    assert_int_equal(res.nfailed, 0);
    crm_batch_result_free(&res);
    json_object_put(u.props);
    env_close(&e);
}

/* A 207 whose one error names one input: inputs it does not name are not given that error (the
 * issue's 181 validation failures), they are sent again. */
static void test_batch_207_error_only_for_named_input(void **state)
{
    (void)state;
    struct env e;
    env_open(&e, NULL);
    fault("{\"match\":\"POST /crm/v3/objects/2-3465404/batch/update\",\"count\":1,\"status\":207,"
          "\"body\":{\"status\":\"COMPLETE\",\"results\":[{\"id\":\"7001\",\"objectWriteTraceId\":"
          "\"t7001\",\"properties\":{\"budget\":\"9\"}}],\"numErrors\":1,\"errors\":[{\"status\":"
          "\"error\",\"category\":\"VALIDATION_ERROR\",\"message\":\"Property values were not "
          "valid\",\"context\":{\"objectWriteTraceId\":[\"t7002\"]}}]}}");
    const char *ids[] = {"7001", "7002", "7003"};
    struct upd u;
    upd_init(&u, ids, 3, "9");
    struct crm_batch_result res;
    struct crm_error err;
    expect_ok(hubspot_batch_update(e.hc, e.h, "2-3465404", u.in, 3, &res, &err), &err);
    assert_true(res.items[0].ok);
    assert_false(res.items[1].ok);
    assert_string_equal(res.items[1].error->code, "VALIDATION_ERROR");
    assert_int_equal(res.items[1].error->http_status, 400);
    assert_int_equal(res.items[1].error->cls, CRM_ERR_PERMANENT);
    assert_true(res.items[2].ok); /* unnamed: sent again, alone */
    assert_string_equal(prop(res.items[2].record, "budget"), "9");
    crm_batch_result_free(&res);
    assert_int_equal(calls_to(UPDATE_PATH), 2);
    assert_int_equal(inputs_of_call(UPDATE_PATH, 1), 1);
    json_object_put(u.props);
    env_close(&e);
}

/* A whole call failing with an error that names no input: split in halves, which succeed. */
static void test_batch_unnamed_error_splits(void **state)
{
    (void)state;
    struct env e;
    env_open(&e, NULL);
    load_projects(8100, 4);
    crmsim_proc_ok(&unit_sim, "POST", "/_sim/stats/reset", NULL);
    fault("{\"match\":\"POST /crm/v3/objects/2-3465404/batch/update\",\"count\":1,\"status\":400,"
          "\"body\":{\"status\":\"error\",\"category\":\"VALIDATION_ERROR\",\"message\":\"Some "
          "input of this batch is not valid\",\"correlationId\":\"c-1\"}}");
    const char *ids[] = {"8100", "8101", "8102", "8103"};
    struct upd u;
    upd_init(&u, ids, 4, "3");
    struct crm_batch_result res;
    struct crm_error err;
    expect_ok(hubspot_batch_update(e.hc, e.h, "2-3465404", u.in, 4, &res, &err), &err);
    assert_int_equal(res.nfailed, 0);
    for (int i = 0; i < 4; i++)
        assert_string_equal(prop(res.items[i].record, "budget"), "3");
    crm_batch_result_free(&res);
    assert_int_equal(calls_to(UPDATE_PATH), 3);
    assert_int_equal(inputs_of_call(UPDATE_PATH, 1), 2);
    assert_int_equal(inputs_of_call(UPDATE_PATH, 2), 2);
    assert_int_equal(err.attempts, 3);
    json_object_put(u.props);
    env_close(&e);
}

/* One bad input among 50, HubSpot failing every call that carries it with an error naming no
 * input: it ends up alone with that error; the 49 others succeed; 13 calls (1 + 2 per halving). */
static void test_batch_one_bad_among_50(void **state)
{
    (void)state;
    struct env e;
    env_open(&e, NULL);
    load_projects(8200, 50);
    crmsim_proc_ok(&unit_sim, "POST", "/_sim/stats/reset", NULL);
    fault("{\"match\":\"POST /crm/v3/objects/2-3465404/batch/update\",\"body_contains\":"
          "\"\\\"id\\\":\\\"8223\\\"\",\"status\":400,\"body\":{\"status\":\"error\",\"category\":"
          "\"VALIDATION_ERROR\",\"message\":\"Property values were not valid: [{\\\"isValid\\\":"
          "false,\\\"message\\\":\\\"8224 is not a valid option\\\"}]\"}}");
    char idbuf[50][8];
    const char *ids[50];
    for (int i = 0; i < 50; i++) {
        snprintf(idbuf[i], sizeof idbuf[i], "%d", 8200 + i);
        ids[i] = idbuf[i];
    }
    struct upd u;
    upd_init(&u, ids, 50, "8");
    struct crm_batch_result res;
    struct crm_error err;
    expect_ok(hubspot_batch_update(e.hc, e.h, "2-3465404", u.in, 50, &res, &err), &err);
    assert_int_equal(res.nfailed, 1);
    assert_false(res.items[23].ok);
    assert_string_equal(res.items[23].error->code, "VALIDATION_ERROR");
    assert_int_equal(res.items[23].error->http_status, 400);
    assert_int_equal(res.items[23].error->cls, CRM_ERR_PERMANENT);
    for (int i = 0; i < 50; i++)
        if (i != 23)
            assert_string_equal(prop(res.items[i].record, "budget"), "8");
    crm_batch_result_free(&res);
    assert_int_equal(calls_to(UPDATE_PATH), 13);
    assert_int_equal(err.attempts, 13);
    assert_true(sent_alone(UPDATE_PATH, "8223"));
    json_object_put(u.props);
    env_close(&e);
}

/* A whole call answering 500 once: retried by the call loop, then every input succeeds. */
static void test_batch_500_then_success(void **state)
{
    (void)state;
    struct env e;
    env_open(&e, NULL);
    fault("{\"match\":\"POST /crm/v3/objects/2-3465404/batch/update\",\"count\":1,\"status\":500}");
    const char *ids[] = {"7001", "7002", "7003"};
    struct upd u;
    upd_init(&u, ids, 3, "6");
    struct crm_batch_result res;
    struct crm_error err;
    expect_ok(hubspot_batch_update(e.hc, e.h, "2-3465404", u.in, 3, &res, &err), &err);
    assert_int_equal(res.nfailed, 0);
    assert_string_equal(prop(res.items[2].record, "budget"), "6");
    crm_batch_result_free(&res);
    assert_int_equal(calls_to(UPDATE_PATH), 2);
    assert_int_equal(inputs_of_call(UPDATE_PATH, 1), 3);
    json_object_put(u.props);
    env_close(&e);
}

/* Errors naming an input only in their message text, as a whole word: a message about 70021 or
 * 17002 does not name 7002. As a 207 entry and as a whole call's error. */
static void test_batch_message_names_input(void **state)
{
    (void)state;
    struct env e;
    env_open(&e, NULL);
    crmsim_proc_ok(&unit_sim, "POST", "/_sim/fixtures",
                   "{\"hubspot\":{\"records\":{\"2-3465404\":[{\"id\":\"70021\",\"properties\":{"
                   "\"name\":\"a\"}},{\"id\":\"17002\",\"properties\":{\"name\":\"b\"}}]}}}");
    crmsim_proc_ok(&unit_sim, "POST", "/_sim/stats/reset", NULL);
    const char *ids[] = {"7001", "70021", "7002", "17002"};
    struct upd u;
    upd_init(&u, ids, 4, "4");
    struct crm_batch_result res;
    struct crm_error err;
    /* 207: a result for 7001, an error whose message alone names 70021 */
    fault("{\"match\":\"POST /crm/v3/objects/2-3465404/batch/update\",\"count\":1,\"status\":207,"
          "\"body\":{\"status\":\"COMPLETE\",\"results\":[{\"id\":\"7001\",\"objectWriteTraceId\":"
          "\"t7001\",\"properties\":{\"budget\":\"4\"}}],\"errors\":[{\"status\":\"error\","
          "\"category\":\"OBJECT_NOT_FOUND\",\"message\":\"Object with id 70021 not found\"}]}}");
    expect_ok(hubspot_batch_update(e.hc, e.h, "2-3465404", u.in, 4, &res, &err), &err);
    assert_true(res.items[0].ok);
    expect_gone(&res.items[1]);
    assert_true(res.items[2].ok);
    assert_true(res.items[3].ok);
    crm_batch_result_free(&res);
    assert_int_equal(calls_to(UPDATE_PATH), 2);
    assert_int_equal(inputs_of_call(UPDATE_PATH, 1), 2);

    /* a whole-call 404 whose message names 17002: the others are sent again */
    crmsim_proc_ok(&unit_sim, "POST", "/_sim/stats/reset", NULL);
    fault("{\"match\":\"POST /crm/v3/objects/2-3465404/batch/update\",\"count\":1,\"status\":404,"
          "\"body\":{\"status\":\"error\",\"category\":\"OBJECT_NOT_FOUND\",\"message\":\"Object "
          "with id 17002 not found\"}}");
    expect_ok(hubspot_batch_update(e.hc, e.h, "2-3465404", u.in, 4, &res, &err), &err);
    assert_true(res.items[0].ok);
    assert_true(res.items[1].ok);
    assert_true(res.items[2].ok);
    expect_gone(&res.items[3]);
    crm_batch_result_free(&res);
    assert_int_equal(calls_to(UPDATE_PATH), 2);
    assert_int_equal(inputs_of_call(UPDATE_PATH, 1), 3);
    json_object_put(u.props);
    env_close(&e);
}

/* A whole-call 404 naming nothing is not about records (a wrong path or type): no input is taken
 * for gone; each gets a retryable call failure and nothing is split. */
static void test_batch_unnamed_404_is_not_gone(void **state)
{
    (void)state;
    struct env e;
    env_open(&e, NULL);
    fault("{\"match\":\"POST /crm/v3/objects/2-3465404/batch/read\",\"count\":1,\"status\":404,"
          "\"body\":{\"status\":\"error\",\"category\":\"OBJECT_NOT_FOUND\",\"message\":\"Not "
          "found\"}}");
    const char *ids[] = {"7001", "7002"};
    struct crm_batch_result res;
    struct crm_error err;
    assert_int_equal(hubspot_batch_read(e.hc, e.h, "2-3465404", ids, 2, NULL, &res, &err), -1);
    assert_int_equal(err.cls, CRM_ERR_TRANSIENT);
    for (int i = 0; i < 2; i++) {
        assert_false(res.items[i].ok);
        assert_string_equal(res.items[i].error->code, "call_failed");
        assert_int_equal(res.items[i].error->http_status, 0);
        assert_int_equal(res.items[i].error->cls, CRM_ERR_TRANSIENT);
    }
    crm_batch_result_free(&res);
    assert_int_equal(calls_to(READ_PATH), 1);
    env_close(&e);
}

static const char ASSOC_READ[] = "/crm/v4/associations/2-3465404/0-2/batch/read";

static bool has_link(const struct hubspot_assoc_links *l, const char *from, const char *to)
{
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->items[i].from_id, from) == 0 && strcmp(l->items[i].to_id, to) == 0)
            return true;
    return false;
}

/* The association read: one from id's error is that id's alone; the others get their links. */
static void test_assoc_read_per_from_errors(void **state)
{
    (void)state;
    struct env e;
    env_open(&e, NULL);
    struct crm_error err;
    struct hubspot_assoc_links l;
    /* 7002: the record is gone (OBJECT_NOT_FOUND naming it, not "no associations") */
    fault(
        "{\"match\":\"POST /crm/v4/associations/2-3465404/0-2/batch/read\",\"count\":1,"
        "\"status\":207,\"body\":{\"status\":\"COMPLETE\",\"results\":[{\"from\":{\"id\":\"7001\"},"
        "\"to\":[{\"toObjectId\":501,\"associationTypes\":[{\"category\":\"USER_DEFINED\","
        "\"typeId\":103,\"label\":\"Sponsor\"}]}]}],\"numErrors\":2,\"errors\":[{\"status\":"
        "\"error\",\"category\":\"OBJECT_NOT_FOUND\",\"message\":\"Could not get some objects, "
        "they may be deleted or not exist. Check that ids are valid.\",\"context\":{\"ids\":["
        "\"7002\"]}},{\"status\":\"error\",\"category\":\"OBJECT_NOT_FOUND\",\"subCategory\":"
        "\"crm.associations.NO_ASSOCIATIONS_FOUND\",\"message\":\"No 0-2 is associated with "
        "2-3465404 7003.\",\"context\":{\"fromObjectId\":[\"7003\"]}}]}}");
    const char *from[] = {"7001", "7002", "7003"};
    expect_ok(hubspot_assoc_batch_read(e.hc, e.h, "2-3465404", "0-2", from, 3, &l, &err), &err);
    assert_true(has_link(&l, "7001", "501"));
    assert_int_equal(l.n, 1);
    assert_int_equal(l.nfailed, 1);
    const struct hubspot_assoc_read_error *f = hubspot_assoc_links_failed(&l, "7002");
    assert_non_null(f);
    assert_true(f->gone);
    assert_string_equal(f->error.code, "OBJECT_NOT_FOUND");
    assert_int_equal(f->error.http_status, 404);
    assert_int_equal(f->error.cls, CRM_ERR_PERMANENT);
    assert_null(hubspot_assoc_links_failed(&l, "7003")); /* no associations: read, none */
    assert_null(hubspot_assoc_links_failed(&l, "7001"));
    hubspot_assoc_links_free(&l);

    /* another error naming 7001 by fromObjectId: its own failure, not gone; 7002 and 7003 (not
     * named, no result) are read again from crmsim */
    crmsim_proc_ok(&unit_sim, "POST", "/_sim/stats/reset", NULL);
    fault("{\"match\":\"POST /crm/v4/associations/2-3465404/0-2/batch/read\",\"count\":1,"
          "\"status\":207,\"body\":{\"status\":\"COMPLETE\",\"results\":[],\"errors\":[{\"status\":"
          "\"error\",\"category\":\"VALIDATION_ERROR\",\"message\":\"Invalid input\",\"context\":{"
          "\"fromObjectId\":[\"7001\"]}}]}}");
    crmsim_proc_ok(&unit_sim, "POST", "/_sim/hubspot/associations",
                   "{\"fromObjectType\":\"2-3465404\",\"fromObjectId\":\"7002\",\"toObjectType\":"
                   "\"0-2\",\"toObjectId\":\"502\"}");
    expect_ok(hubspot_assoc_batch_read(e.hc, e.h, "2-3465404", "0-2", from, 3, &l, &err), &err);
    f = hubspot_assoc_links_failed(&l, "7001");
    assert_non_null(f);
    assert_false(f->gone);
    assert_string_equal(f->error.code, "VALIDATION_ERROR");
    assert_true(has_link(&l, "7002", "502"));
    assert_null(hubspot_assoc_links_failed(&l, "7002"));
    assert_null(hubspot_assoc_links_failed(&l, "7003"));
    hubspot_assoc_links_free(&l);
    assert_int_equal(calls_to(ASSOC_READ), 2);

    /* crmsim itself: a from record that does not exist has no associations */
    const char *ghost[] = {"7001", "880001"};
    expect_ok(hubspot_assoc_batch_read(e.hc, e.h, "2-3465404", "0-2", ghost, 2, &l, &err), &err);
    assert_int_equal(l.nfailed, 0);
    assert_true(has_link(&l, "7001", "501"));
    hubspot_assoc_links_free(&l);
    env_close(&e);
}

/* Association writes: a whole-call 400 naming an object (HubSpot's "One or more associations are
 * invalid") fails the inputs with that id; an unnamed one splits; archive answers per input. */
static void test_assoc_write_named_errors(void **state)
{
    (void)state;
    struct env e;
    env_open(&e, NULL);
    fault("{\"match\":\"POST /crm/v4/associations/2-3465404/0-2/batch/create\",\"count\":1,"
          "\"status\":400,\"body\":{\"status\":\"error\",\"message\":\"One or more associations "
          "are invalid\",\"context\":{\"INVALID_OBJECT_IDS\":[\"COMPANY=99999 is not valid\"],"
          "\"objectId\":[\"99999\"],\"objectType\":[\"COMPANY\"]},\"category\":"
          "\"VALIDATION_ERROR\"}}");
    struct hubspot_assoc_type sp[] = {{"USER_DEFINED", 103}};
    struct hubspot_assoc_input in[] = {
        {.from_id = "7002", .to_id = "501", .types = sp, .ntypes = 1},
        {.from_id = "7003", .to_id = "99999", .types = sp, .ntypes = 1},
        {.from_id = "7001", .to_id = "502", .types = sp, .ntypes = 1}};
    struct crm_batch_result res;
    struct crm_error err;
    expect_ok(hubspot_assoc_batch_create(e.hc, e.h, "2-3465404", "0-2", in, 3, &res, &err), &err);
    assert_true(res.items[0].ok);
    assert_false(res.items[1].ok);
    assert_string_equal(res.items[1].error->code, "VALIDATION_ERROR");
    assert_int_equal(res.items[1].error->cls, CRM_ERR_PERMANENT);
    assert_true(res.items[2].ok);
    crm_batch_result_free(&res);
    assert_int_equal(calls_to("/crm/v4/associations/2-3465404/0-2/batch/create"), 2);

    /* archive: a whole-call 400 naming nothing splits; both halves succeed */
    fault("{\"match\":\"POST /crm/v4/associations/2-3465404/0-2/batch/archive\",\"count\":1,"
          "\"status\":400,\"body\":{\"status\":\"error\",\"category\":\"VALIDATION_ERROR\","
          "\"message\":\"Invalid input\"}}");
    struct hubspot_assoc_input rm[] = {{.from_id = "7002", .to_id = "501"},
                                       {.from_id = "7001", .to_id = "502"}};
    expect_ok(hubspot_assoc_batch_archive_each(e.hc, e.h, "2-3465404", "0-2", rm, 2, &res, &err),
              &err);
    assert_int_equal(res.nfailed, 0);
    crm_batch_result_free(&res);
    assert_int_equal(calls_to("/crm/v4/associations/2-3465404/0-2/batch/archive"), 3);
    const char *from[] = {"7002"};
    struct hubspot_assoc_links l;
    expect_ok(hubspot_assoc_batch_read(e.hc, e.h, "2-3465404", "0-2", from, 1, &l, &err), &err);
    assert_false(has_link(&l, "7002", "501"));
    hubspot_assoc_links_free(&l);
    env_close(&e);
}

/* ---- auth ---- */

struct thread_arg {
    struct hubspot_client *hc;
    pthread_barrier_t *barrier;
    int rc;
    int calls;
};

static void *get_worker(void *p)
{
    struct thread_arg *a = p;
    char err[200];
    struct crm_http_options ho = {.timeout_ms = 10000};
    struct crm_http *h = crm_http_create(&ho, err, sizeof err);
    pthread_barrier_wait(a->barrier);
    a->rc = 0;
    for (int i = 0; i < (a->calls ? a->calls : 1); i++) {
        json_object *rec = NULL;
        struct crm_error e;
        if (hubspot_object_get(a->hc, h, "2-3465404", "7001", NULL, &rec, &e) != 0)
            a->rc = -1;
        json_object_put(rec);
    }
    crm_http_destroy(h);
    return NULL;
}

static void run_threads(struct hubspot_client *hc, int n, int calls_each)
{
    pthread_barrier_t b;
    pthread_barrier_init(&b, NULL, (unsigned)n);
    pthread_t th[16];
    struct thread_arg args[16];
    for (int i = 0; i < n; i++) {
        args[i] = (struct thread_arg){.hc = hc, .barrier = &b, .calls = calls_each};
        assert_int_equal(pthread_create(&th[i], NULL, get_worker, &args[i]), 0);
    }
    for (int i = 0; i < n; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(args[i].rc, 0);
    }
    pthread_barrier_destroy(&b);
}

static void test_oauth_single_refresh_and_401(void **state)
{
    (void)state;
    struct env e;
    struct hubspot_client_options o = {.client_id = "sim-client-id",
                                       .client_secret = "sim-client-secret",
                                       .refresh_token = "sim-refresh-token"};
    env_open(&e, &o);
    run_threads(e.hc, 8, 1);
    assert_int_equal(crmsim_proc_token_refreshes(&unit_sim, "hubspot"), 1);
    assert_int_equal(hubspot_client_token_refreshes(e.hc), 1);
    json_object *reqs;
    json_object *st = crmsim_proc_requests(&unit_sim, "/oauth/v1/token", &reqs);
    assert_int_equal(json_object_array_length(reqs), 1);
    json_object *r = json_object_array_get_idx(reqs, 0);
    assert_string_equal(crmsim_jstr(r, "method"), "POST");
    /* crmsim replaces credentials with *** in what it records */
    assert_string_equal(crmsim_jstr(r, "body"), "grant_type=refresh_token&refresh_token=***&"
                                                "client_id=sim-client-id&client_secret=***");
    json_object *hdrs;
    json_object_object_get_ex(r, "headers", &hdrs);
    assert_string_equal(crmsim_jstr(hdrs, "Content-Type"), "application/x-www-form-urlencoded");
    json_object_put(st);

    /* the server drops every token: the next call gets 401, refreshes once, and retries */
    crmsim_proc_ok(&unit_sim, "POST", "/_sim/hubspot/tokens/expire", "{}");
    run_threads(e.hc, 8, 1);
    assert_int_equal(crmsim_proc_token_refreshes(&unit_sim, "hubspot"), 2);
    assert_int_equal(crmsim_proc_count(&unit_sim, "GET /crm/v3/objects/{type}/{id}", 200), 16);
    assert_true(crmsim_proc_count(&unit_sim, "GET /crm/v3/objects/{type}/{id}", 401) >= 1);
    env_close(&e);
}

static void test_oauth_refresh_ahead_of_expiry(void **state)
{
    (void)state;
    crmsim_proc_ok(&unit_sim, "POST", "/_sim/config", "{\"hubspot_token_expires_in\":3}");
    struct env e;
    struct hubspot_client_options o = {.client_id = "sim-client-id",
                                       .client_secret = "sim-client-secret",
                                       .refresh_token = "sim-refresh-token",
                                       .refresh_margin_ms = 2500};
    env_open(&e, &o);
    struct crm_error err;
    json_object *rec;
    expect_ok(hubspot_object_get(e.hc, e.h, "2-3465404", "7001", NULL, &rec, &err), &err);
    json_object_put(rec);
    assert_int_equal(crmsim_proc_token_refreshes(&unit_sim, "hubspot"), 1);
    sleep_ms(700); /* 2.3 s left: inside the margin */
    expect_ok(hubspot_object_get(e.hc, e.h, "2-3465404", "7001", NULL, &rec, &err), &err);
    json_object_put(rec);
    assert_int_equal(crmsim_proc_token_refreshes(&unit_sim, "hubspot"), 2);
    assert_int_equal(crmsim_proc_count(&unit_sim, "GET /crm/v3/objects/{type}/{id}", 401), 0);
    env_close(&e);
}

static void test_oauth_bad_refresh_token(void **state)
{
    (void)state;
    struct env e;
    struct hubspot_client_options o = {.client_id = "sim-client-id",
                                       .client_secret = "sim-client-secret",
                                       .refresh_token = "not-the-refresh-token"};
    env_open(&e, &o);
    struct crm_error err;
    json_object *rec;
    assert_int_equal(hubspot_object_get(e.hc, e.h, "2-3465404", "7001", NULL, &rec, &err), -1);
    assert_int_equal(err.cls, CRM_ERR_PERMANENT);
    assert_string_equal(err.code, "invalid_grant");
    assert_int_equal(crmsim_proc_count(&unit_sim, "GET /crm/v3/objects/{type}/{id}", 200), 0);
    char line[800];
    crm_error_format(&err, line, sizeof line);
    assert_null(strstr(line, "not-the-refresh-token"));
    assert_null(strstr(line, "sim-client-secret"));
    env_close(&e);
}

static void test_secrets_not_in_errors(void **state)
{
    (void)state;
    /* a server that echoes credentials in its messages */
    crmsim_proc_ok(&unit_sim, "POST", "/_sim/faults",
                   "{\"match\":\"GET /crm/v3/objects\",\"status\":400,\"count\":1,\"body\":"
                   "{\"status\":\"error\",\"category\":\"VALIDATION_ERROR\",\"correlationId\":"
                   "\"pat-sim-token\",\"message\":\"token pat-sim-token is not valid here\"}}");
    struct env e;
    env_open(&e, NULL);
    struct crm_error err;
    json_object *rec;
    assert_int_equal(hubspot_object_get(e.hc, e.h, "2-3465404", "7001", NULL, &rec, &err), -1);
    char line[800];
    crm_error_format(&err, line, sizeof line);
    assert_null(strstr(line, "pat-sim-token"));
    assert_non_null(strstr(line, "token *** is not valid"));
    env_close(&e);

    crmsim_proc_ok(
        &unit_sim, "POST", "/_sim/faults",
        "{\"match\":\"POST /oauth/v1/token\",\"status\":400,\"count\":1,\"body\":"
        "{\"status\":\"BAD_REFRESH_TOKEN\",\"error\":\"invalid_grant\",\"message\":"
        "\"refresh token sim-refresh-token for sim-client-id with secret sim-client-secret "
        "is bad\"}}");
    struct hubspot_client_options o = {.client_id = "sim-client-id",
                                       .client_secret = "sim-client-secret",
                                       .refresh_token = "sim-refresh-token"};
    env_open(&e, &o);
    assert_int_equal(hubspot_object_get(e.hc, e.h, "2-3465404", "7001", NULL, &rec, &err), -1);
    crm_error_format(&err, line, sizeof line);
    assert_null(strstr(line, "sim-refresh-token"));
    assert_null(strstr(line, "sim-client-secret"));
    assert_non_null(strstr(line, "invalid_grant"));
    env_close(&e);
}

/* ---- budgets, back-off, faults ---- */

static void test_burst_of_1000_under_budget(void **state)
{
    (void)state;
    /* the account allows 100 per 500 ms; the client is configured with the same budget */
    crmsim_proc_ok(&unit_sim, "POST", "/_sim/config",
                   "{\"hubspot_rate_limit_max\":100,\"hubspot_rate_limit_interval_ms\":500}");
    struct env e;
    struct hubspot_client_options o = {.rate_limit = 100, .rate_interval_ms = 500};
    env_open(&e, &o);
    int64_t t0 = mono_ms();
    run_threads(e.hc, 8, 125);
    int64_t took = mono_ms() - t0;
    print_message("1,000 calls at 100 per 500 ms took %lld ms\n", (long long)took);
    assert_int_equal(crmsim_proc_count(&unit_sim, "GET /crm/v3/objects/{type}/{id}", 200), 1000);
    assert_int_equal(crmsim_proc_count(&unit_sim, "GET /crm/v3/objects/{type}/{id}", 429), 0);
    assert_true(took >= 9 * 500);
    assert_true(took < 30000);
    env_close(&e);
}

static void test_backoff_on_429(void **state)
{
    (void)state;
    /* the account's limit is lower than the client's budget: HubSpot answers 429 */
    crmsim_proc_ok(&unit_sim, "POST", "/_sim/config",
                   "{\"hubspot_rate_limit_max\":4,\"hubspot_rate_limit_interval_ms\":400}");
    struct env e;
    struct hubspot_client_options o = {.rate_limit = 1000, .rate_interval_ms = 1000};
    o.retry = (struct crm_retry_policy){
        .max_attempts = 10, .base_delay_ms = 20, .max_delay_ms = 200, .max_wait_ms = 5000};
    env_open(&e, &o);
    struct crm_error err;
    for (int i = 0; i < 12; i++) {
        json_object *rec;
        expect_ok(hubspot_object_get(e.hc, e.h, "2-3465404", "7001", NULL, &rec, &err), &err);
        json_object_put(rec);
    }
    assert_int_equal(crmsim_proc_count(&unit_sim, "GET /crm/v3/objects/{type}/{id}", 200), 12);
    long long n429 = crmsim_proc_count(&unit_sim, "GET /crm/v3/objects/{type}/{id}", 429);
    print_message("429 answers: %lld\n", n429);
    assert_true(n429 >= 1);
    assert_true(n429 <= 6); /* after a 429 the client waits the interval instead of hammering */
    env_close(&e);
}

static void test_faults_30_percent(void **state)
{
    (void)state;
    crmsim_proc_ok(&unit_sim, "POST", "/_sim/config", "{\"fault_timeout_ms\":200}");
    crmsim_proc_ok(&unit_sim, "POST", "/_sim/faults",
                   "{\"match\":\"* /crm/v3/objects\",\"rate\":0.3,\"status\":503}");
    crmsim_proc_ok(&unit_sim, "POST", "/_sim/faults",
                   "{\"match\":\"* /crm/v3/objects\",\"rate\":0.05,\"timeout\":true}");
    struct env e;
    struct hubspot_client_options o = {0};
    o.retry = (struct crm_retry_policy){
        .max_attempts = 14, .base_delay_ms = 5, .max_delay_ms = 40, .max_wait_ms = 5000};
    env_open(&e, &o);
    struct crm_http_options ho = {.timeout_ms = 1000, .connect_timeout_ms = 1000};
    char msg[200];
    crm_http_destroy(e.h);
    e.h = crm_http_create(&ho, msg, sizeof msg);
    struct crm_error err;
    int created = 0;
    for (int i = 0; i < 40; i++) {
        json_object *p = json_object_new_object();
        char name[32];
        snprintf(name, sizeof name, "faulty-%d", i);
        json_object_object_add(p, "name", json_object_new_string(name));
        struct hubspot_input in = {.properties = p};
        struct crm_batch_result res;
        expect_ok(hubspot_batch_create(e.hc, e.h, "2-3465404", &in, 1, &res, &err), &err);
        created += res.items[0].ok;
        crm_batch_result_free(&res);
        json_object_put(p);
        json_object *rec;
        expect_ok(hubspot_object_get(e.hc, e.h, "2-3465404", "7001", NULL, &rec, &err), &err);
        json_object_put(rec);
    }
    assert_int_equal(created, 40);
    long long faults =
        crmsim_proc_count(&unit_sim, "POST /crm/v3/objects/{type}/batch/create", 503) +
        crmsim_proc_count(&unit_sim, "GET /crm/v3/objects/{type}/{id}", 503);
    print_message("injected 503s: %lld\n", faults);
    assert_true(faults >= 5);
    env_close(&e);
}

struct class_case {
    int status;
    const char *body; /* NULL: crmsim's default body for the status */
    enum crm_error_class want;
    long min_wait;
};

static void test_error_classes(void **state)
{
    (void)state;
    static const struct class_case cases[] = {
        {400, NULL, CRM_ERR_PERMANENT, 0},
        {403, NULL, CRM_ERR_PERMANENT, 0},
        {404, NULL, CRM_ERR_PERMANENT, 0},
        {401, NULL, CRM_ERR_AUTH, 0},
        {423, NULL, CRM_ERR_RETRY_AFTER, 2000},
        {429, NULL, CRM_ERR_RETRY_AFTER, 1000},
        {477, NULL, CRM_ERR_RETRY_AFTER, 1000},
        {500, NULL, CRM_ERR_TRANSIENT, 0},
        {502, NULL, CRM_ERR_TRANSIENT, 0},
        {503, NULL, CRM_ERR_TRANSIENT, 0},
        {504, NULL, CRM_ERR_TRANSIENT, 0},
        {521, NULL, CRM_ERR_TRANSIENT, 0},
        {523, NULL, CRM_ERR_TRANSIENT, 0},
        {524, NULL, CRM_ERR_TRANSIENT, 0},
        {429,
         "{\"status\":\"error\",\"message\":\"daily\",\"errorType\":\"RATE_LIMIT\","
         "\"policyName\":\"DAILY\"}",
         CRM_ERR_RETRY_AFTER, 1000},
    };
    struct env e;
    struct hubspot_client_options o = {0};
    o.retry = (struct crm_retry_policy){.max_attempts = 1};
    env_open(&e, &o);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char fault[600];
        if (cases[i].body)
            snprintf(fault, sizeof fault,
                     "{\"match\":\"GET /crm/v3/objects\",\"status\":%d,\"count\":1,\"body\":%s}",
                     cases[i].status, cases[i].body);
        else
            snprintf(fault, sizeof fault,
                     "{\"match\":\"GET /crm/v3/objects\",\"status\":%d,\"count\":1}",
                     cases[i].status);
        crmsim_proc_ok(&unit_sim, "POST", "/_sim/faults", fault);
        struct crm_error err;
        json_object *rec = NULL;
        int rc = hubspot_object_get(e.hc, e.h, "2-3465404", "7001", NULL, &rec, &err);
        json_object_put(rec);
        if (rc != -1 || err.cls != cases[i].want || err.http_status != cases[i].status ||
            (cases[i].want == CRM_ERR_RETRY_AFTER && err.retry_after_ms < cases[i].min_wait)) {
            char line[800];
            crm_error_format(&err, line, sizeof line);
            fail_msg("HTTP %d: want %s, got rc %d: %s (wait %ld)", cases[i].status,
                     crm_error_class_name(cases[i].want), rc, line, err.retry_after_ms);
        }
    }
    env_close(&e);
}

static void test_retry_after_waits(void **state)
{
    (void)state;
    /* 423 twice: each retry waits at least the 2 s HubSpot asks for */
    crmsim_proc_ok(&unit_sim, "POST", "/_sim/faults",
                   "{\"match\":\"GET /crm/v3/objects\",\"status\":423,\"count\":1}");
    struct env e;
    env_open(&e, NULL);
    struct crm_error err;
    json_object *rec;
    int64_t t0 = mono_ms();
    expect_ok(hubspot_object_get(e.hc, e.h, "2-3465404", "7001", NULL, &rec, &err), &err);
    json_object_put(rec);
    int64_t took = mono_ms() - t0;
    assert_true(took >= 2000 && took < 4500);
    assert_int_equal(err.attempts, 2);
    /* metrics: both calls counted with their statuses */
    static const char *const lc[] = {"crm", "operation", "status"};
    struct metric_family *calls =
        metrics_register(METRIC_COUNTER, "synkro_crm_api_calls_total", "x", lc, 3, NULL, 0);
    assert_true(metrics_value(calls, (const char *const[]){"hubspot", "get", "423"}) >= 1);
    assert_true(metrics_value(calls, (const char *const[]){"hubspot", "get", "200"}) >= 1);
    env_close(&e);
}

/* The portal's daily limit from X-HubSpot-RateLimit-Daily / -Daily-Remaining (crmsim counts a
 * daily window of 10): at HUBSPOT_DAILY_MAX_PERCENT (50) the client stops calling before HubSpot
 * refuses anything; the next call fails as retryable without reaching HubSpot. */
static void test_daily_limit_stop(void **state)
{
    (void)state;
    crmsim_proc_ok(&unit_sim, "POST", "/_sim/config", "{\"hubspot_daily_limit\":10}");
    struct env e;
    struct hubspot_client_options o = {.daily_max_percent = 50};
    o.retry.max_attempts = 1;
    o.retry.max_wait_ms = 500; /* shorter than any daily stop (at least 1 s) */
    env_open(&e, &o);
    struct crm_error err;
    json_object *rec = NULL;
    for (int i = 0; i < 5; i++) {
        expect_ok(hubspot_object_get(e.hc, e.h, "2-3465404", "7001", NULL, &rec, &err), &err);
        json_object_put(rec);
    }
    struct crm_call_stats_snapshot snap;
    crm_call_stats_snapshot(hubspot_client_stats(e.hc), 0, &snap);
    assert_true(snap.have_usage);
    assert_int_equal(snap.usage_used, 5);
    assert_int_equal(snap.usage_max, 10);
    struct metric_family *g = metrics_register(METRIC_GAUGE, "synkro_hubspot_api_daily_usage_ratio",
                                               "x", NULL, 0, NULL, 0);
    assert_true(metrics_value(g, NULL) > 0.49 && metrics_value(g, NULL) < 0.51);
    rec = NULL;
    assert_int_equal(hubspot_object_get(e.hc, e.h, "2-3465404", "7001", NULL, &rec, &err), -1);
    assert_null(rec);
    assert_int_equal(err.cls, CRM_ERR_RETRY_AFTER);
    assert_string_equal(err.code, "client_rate_limit");
    assert_true(err.retry_after_ms >= 1000);
    assert_int_equal(crmsim_proc_count(&unit_sim, "GET /crm/v3/objects/{type}/{id}", 200), 5);
    assert_int_equal(crmsim_proc_count(&unit_sim, "GET /crm/v3/objects/{type}/{id}", 429), 0);
    struct metric_family *stops = metrics_register(METRIC_COUNTER, "synkro_crm_daily_stops_total",
                                                   "x", (const char *[]){"crm"}, 1, NULL, 0);
    assert_true(metrics_value(stops, (const char *[]){"hubspot"}) >= 1);
    env_close(&e);
}

#define T(fn) cmocka_unit_test_setup(fn, test_setup)

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        T(test_get_one),
        T(test_batch_create_splits_and_matches),
        T(test_batch_update_upsert_archive_read),
        T(test_search),
        T(test_search_budget),
        T(test_daily_limit_stop),
        T(test_schemas),
        T(test_associations),
        T(test_path_prefix_configurable),
        T(test_batch_gone_record_fails_alone),
        T(test_batch_207_error_only_for_named_input),
        T(test_batch_unnamed_error_splits),
        T(test_batch_one_bad_among_50),
        T(test_batch_500_then_success),
        T(test_batch_message_names_input),
        T(test_batch_unnamed_404_is_not_gone),
        T(test_assoc_read_per_from_errors),
        T(test_assoc_write_named_errors),
        T(test_oauth_single_refresh_and_401),
        T(test_oauth_refresh_ahead_of_expiry),
        T(test_oauth_bad_refresh_token),
        T(test_secrets_not_in_errors),
        T(test_burst_of_1000_under_budget),
        T(test_backoff_on_429),
        T(test_faults_30_percent),
        T(test_error_classes),
        T(test_retry_after_waits),
    };
    int rc = cmocka_run_group_tests(tests, unit_sim_start, unit_sim_stop);
    curl_global_cleanup();
    return rc;
}
