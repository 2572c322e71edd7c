/* it_imports.c: the imports admin API through the real synkro binary, against crmsim and a real
 * PostgreSQL: the estimate of both directions equals the CRMs' record counts; starting an import
 * answers 202 with the queued import (total = the estimate); a second start while it runs is
 * 409; a mapping that is not enabled is 409; unknown mappings and imports are 404; bad ids,
 * bodies, directions and filters are 400; listing (all and by mapping) and reading one import;
 * cancelling (then 409 not_active, and a new import may start); 401 without the admin token. */
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

#include <cmocka.h>

#define ADMIN      "admin-token-for-import-tests"
#define SF_RECORDS 30
#define HS_RECORDS 5

struct fixture {
    struct harness_db db;
    struct harness_crmsim sim;
    struct harness_proc proc;
    char env_hs_base[160], env_sf_login[160];
};

static int load_records(struct fixture *f)
{
    char body[4096];
    size_t n = (size_t)snprintf(body, sizeof body,
                                "{\"config\":{\"hubspot_search_delay_ms\":0},"
                                "\"salesforce\":{\"records\":{\"Project__c\":[");
    for (int i = 0; i < SF_RECORDS; i++)
        n += (size_t)snprintf(body + n, sizeof body - n, "%s{\"Name\":\"P%d\"}", i ? "," : "", i);
    n += (size_t)snprintf(body + n, sizeof body - n,
                          "]}},\"hubspot\":{\"records\":{\"2-3465404\":[");
    for (int i = 0; i < HS_RECORDS; i++)
        n += (size_t)snprintf(body + n, sizeof body - n, "%s{\"properties\":{\"name\":\"H%d\"}}",
                              i ? "," : "", i);
    snprintf(body + n, sizeof body - n, "]}}}");
    return harness_crmsim_post(&f->sim, "/_sim/fixtures", body) == 200 ? 0 : -1;
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    if (!f || harness_db_create(&f->db) != 0)
        return -1;
    if (harness_crmsim_start_example(&f->sim, f->env_hs_base, sizeof f->env_hs_base,
                                     f->env_sf_login, sizeof f->env_sf_login) != 0 ||
        load_records(f) != 0)
        return -1;
    *state = f;
    const char *env[] = {HARNESS_CRM_ENV(f->env_hs_base, f->env_sf_login),
                         "SALESFORCE_ORG_ID=00D000000000001", "SYNKRO_ADMIN_TOKEN=" ADMIN,
                         "SYNKRO_IMPORT_INFLIGHT=10", NULL};
    return harness_synkro_start(&f->proc, f->db.url, env);
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    int rc = harness_teardown_clean(&f->db, &f->proc, &f->sim);
    free(f);
    return rc;
}

static json_object *api(const struct harness_proc *p, const char *method, const char *path,
                        const char *body, long *status)
{
    char url[512];
    snprintf(url, sizeof url, "%s%s", p->base_url, path);
    const char *h[] = {"Authorization: Bearer " ADMIN, "Content-Type: application/json",
                       "X-Synkro-Actor: it-imports", NULL};
    struct harness_response r;
    assert_int_equal(harness_http(method, url, h, body, body ? strlen(body) : 0, &r), 0);
    *status = r.status;
    json_object *o = r.body_len ? json_tokener_parse(r.body) : NULL;
    harness_response_free(&r);
    return o;
}

static json_object *get(json_object *o, const char *key)
{
    json_object *v = NULL;
    json_object_object_get_ex(o, key, &v);
    return v;
}

static const char *error_code(json_object *o)
{
    return json_object_get_string(get(get(o, "error"), "code"));
}

/* Calls the API and checks the status (and the error code when given). */
static void expect(struct fixture *f, const char *method, const char *path, const char *body,
                   long want, const char *code)
{
    long status;
    json_object *o = api(&f->proc, method, path, body, &status);
    if (status != want)
        fail_msg("%s %s: %ld, want %ld: %s", method, path, status, want,
                 o ? json_object_to_json_string(o) : "");
    if (code)
        assert_string_equal(error_code(o), code);
    json_object_put(o);
}

#define PROJECT_MAPPING                                                                            \
    "{\"name\":\"Projects\",\"salesforce_object\":\"Project__c\","                                 \
    "\"hubspot_object\":\"2-3465404\","                                                            \
    "\"identity\":{\"hubspot_property\":\"salesforce_id\",\"salesforce_field\":\"External_Id__"    \
    "c\"},"                                                                                        \
    "\"fields\":[{\"salesforce\":\"Name\",\"hubspot\":\"name\",\"rule\":\"two_way\"}]}"

static long long create_mapping(struct fixture *f)
{
    long status;
    json_object *o = api(&f->proc, "POST", "/api/mappings", PROJECT_MAPPING, &status);
    assert_int_equal(status, 201);
    long long id = json_object_get_int64(get(o, "id"));
    json_object_put(o);
    return id;
}

static void test_estimate_start_list_cancel(void **state)
{
    struct fixture *f = *state;
    long long mid = create_mapping(f);
    char path[160], imports[96];
    snprintf(imports, sizeof imports, "/api/mappings/%lld/imports", mid);

    /* a draft mapping cannot import */
    expect(f, "POST", imports, "{}", 409, "mapping_not_enabled");
    snprintf(path, sizeof path, "/api/mappings/%lld/enable", mid);
    expect(f, "POST", path, NULL, 200, NULL);

    /* estimates of both directions */
    long status;
    snprintf(path, sizeof path, "/api/mappings/%lld/import/estimate", mid);
    json_object *o = api(&f->proc, "GET", path, NULL, &status);
    assert_int_equal(status, 200);
    assert_int_equal(json_object_get_int64(get(o, "records")), SF_RECORDS);
    assert_int_equal(json_object_get_int64(get(o, "mapping_id")), mid);
    assert_string_equal(json_object_get_string(get(o, "direction")), "salesforce_to_hubspot");
    json_object_put(o);
    snprintf(path, sizeof path,
             "/api/mappings/%lld/import/estimate?direction=hubspot_to_salesforce", mid);
    o = api(&f->proc, "GET", path, NULL, &status);
    assert_int_equal(status, 200);
    assert_int_equal(json_object_get_int64(get(o, "records")), HS_RECORDS);
    json_object_put(o);
    snprintf(path, sizeof path, "/api/mappings/%lld/import/estimate?direction=sideways", mid);
    expect(f, "GET", path, NULL, 400, "bad_direction");
    expect(f, "GET", "/api/mappings/99999/import/estimate", NULL, 404, "not_found");
    expect(f, "GET", "/api/mappings/abc/import/estimate", NULL, 400, "bad_id");

    /* bad starts */
    expect(f, "POST", imports, "{\"direction\":\"sideways\"}", 400, "bad_direction");
    expect(f, "POST", imports, "[1,2]", 400, "bad_body");
    expect(f, "POST", imports, "not json", 400, "bad_body");
    expect(f, "POST", "/api/mappings/99999/imports", "{}", 404, "not_found");

    /* a start, then a second one while it runs */
    o = api(&f->proc, "POST", imports, "{\"direction\":\"salesforce_to_hubspot\"}", &status);
    assert_int_equal(status, 202);
    long long iid = json_object_get_int64(get(o, "id"));
    assert_true(iid > 0);
    assert_int_equal(json_object_get_int64(get(o, "mapping_id")), mid);
    assert_int_equal(json_object_get_int64(get(o, "total")), SF_RECORDS);
    assert_string_equal(json_object_get_string(get(o, "actor")), "it-imports");
    const char *st = json_object_get_string(get(o, "status"));
    assert_true(strcmp(st, "queued") == 0 || strcmp(st, "running") == 0);
    assert_non_null(get(o, "created_at"));
    json_object_put(o);
    expect(f, "POST", imports, NULL, 409, "import_running");

    /* listing and reading */
    o = api(&f->proc, "GET", "/api/imports", NULL, &status);
    assert_int_equal(status, 200);
    assert_int_equal(json_object_array_length(get(o, "imports")), 1);
    json_object_put(o);
    snprintf(path, sizeof path, "/api/imports?mapping_id=%lld", mid);
    o = api(&f->proc, "GET", path, NULL, &status);
    assert_int_equal(status, 200);
    assert_int_equal(
        json_object_get_int64(get(json_object_array_get_idx(get(o, "imports"), 0), "id")), iid);
    json_object_put(o);
    o = api(&f->proc, "GET", "/api/imports?mapping_id=99999", NULL, &status);
    assert_int_equal(json_object_array_length(get(o, "imports")), 0);
    json_object_put(o);
    expect(f, "GET", "/api/imports?mapping_id=x", NULL, 400, "bad_query");
    snprintf(path, sizeof path, "/api/imports/%lld", iid);
    o = api(&f->proc, "GET", path, NULL, &status);
    assert_int_equal(status, 200);
    assert_string_equal(json_object_get_string(get(o, "direction")), "salesforce_to_hubspot");
    assert_non_null(get(o, "synced"));
    assert_non_null(get(o, "failed"));
    json_object_put(o);
    expect(f, "GET", "/api/imports/99999", NULL, 404, "not_found");
    expect(f, "GET", "/api/imports/abc", NULL, 400, "bad_id");

    /* cancel, then a new import may start */
    snprintf(path, sizeof path, "/api/imports/%lld/cancel", iid);
    o = api(&f->proc, "POST", path, NULL, &status);
    assert_int_equal(status, 200);
    assert_string_equal(json_object_get_string(get(o, "status")), "cancelled");
    json_object_put(o);
    expect(f, "POST", path, NULL, 409, "not_active");
    expect(f, "POST", "/api/imports/99999/cancel", NULL, 404, "not_found");
    o = api(&f->proc, "POST", imports, "{\"direction\":\"hubspot_to_salesforce\"}", &status);
    assert_int_equal(status, 202);
    /* sync workers may have created HubSpot records from the cancelled import meanwhile */
    assert_true(json_object_get_int64(get(o, "total")) >= HS_RECORDS);
    json_object_put(o);
}

static void test_auth(void **state)
{
    struct fixture *f = *state;
    const char *paths[][2] = {{"GET", "/api/imports"},
                              {"GET", "/api/imports/1"},
                              {"POST", "/api/imports/1/cancel"},
                              {"POST", "/api/mappings/1/imports"},
                              {"GET", "/api/mappings/1/import/estimate"}};
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        char url[256];
        snprintf(url, sizeof url, "%s%s", f->proc.base_url, paths[i][1]);
        struct harness_response r;
        const char *bad[] = {"Authorization: Bearer wrong-token", NULL};
        assert_int_equal(harness_http(paths[i][0], url, bad, NULL, 0, &r), 0);
        assert_int_equal(r.status, 401);
        harness_response_free(&r);
        assert_int_equal(harness_http(paths[i][0], url, NULL, NULL, 0, &r), 0);
        assert_int_equal(r.status, 401);
        harness_response_free(&r);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_estimate_start_list_cancel, setup, teardown),
        cmocka_unit_test_setup_teardown(test_auth, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
