/* it_doctor.c: `synkro doctor` and GET /api/doctor end to end: a real synkro (real PostgreSQL)
 * against crmsim with tests/crmsim/fixtures/example.json and one enabled mapping. A correct setup
 * passes every check but the notification ones (nothing arrived yet: warnings naming what to
 * register); an outbound message then turns its check ok; a sweep change without any HubSpot
 * webhook warns naming the subscription. Each breakage fails its own check and makes the CLI
 * exit 1: a wrong HubSpot token, a missing scope, a wrong portal id, a wrong org id, an http
 * public base URL; a token that may not read the account details is not one. The CLI prints the
 * checks for people, --json the API's document. */
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

#define ADMIN       "admin-token-for-doctor-tests"
#define PUBLIC_URL  "https://synkro.example.test"
#define GOOD_ORG    "SALESFORCE_ORG_ID=00D000000000001"
#define GOOD_PORTAL "HUBSPOT_PORTAL_ID=12345678"

#define PROJECT_MAPPING                                                                            \
    "{\"name\":\"Projects\",\"salesforce_object\":\"Project__c\","                                 \
    "\"hubspot_object\":\"2-3465404\","                                                            \
    "\"rules\":{\"salesforce_to_hubspot\":{\"create\":true,\"update\":true,\"delete\":\"delete\"}" \
    ",\"hubspot_to_salesforce\":{\"create\":true,\"update\":true,\"delete\":\"none\"},"            \
    "\"conflict_winner\":\"salesforce\"},"                                                         \
    "\"identity\":{\"hubspot_property\":\"salesforce_id\",\"salesforce_field\":\"External_Id__"    \
    "c\"},"                                                                                        \
    "\"fields\":[{\"salesforce\":\"Name\",\"hubspot\":\"name\",\"rule\":\"two_way\"},"             \
    "{\"salesforce\":\"Budget__c\",\"hubspot\":\"budget\",\"rule\":\"two_way\"},"                  \
    "{\"salesforce\":\"Due__c\",\"hubspot\":\"due_at\",\"rule\":\"always_salesforce\"}]}"

struct fixture {
    struct harness_db db;
    struct harness_crmsim sim;
    struct harness_proc proc;
    char env_hs_base[160], env_sf_login[160];
    long long mapping_id;
};

/* (Re)starts synkro on the fixture's database with the CRM settings and the extra variables. */
static int start_with(struct fixture *f, const char *hs_token, const char *portal, const char *org,
                      const char *public_url)
{
    if (f->proc.pid > 0 && harness_synkro_stop(&f->proc, SIGTERM, 15000) != 0)
        return -1;
    char tok[200], url[200];
    snprintf(tok, sizeof tok, "HUBSPOT_ACCESS_TOKEN=%s", hs_token);
    snprintf(url, sizeof url, "SYNKRO_PUBLIC_BASE_URL=%s", public_url);
    const char *env[] = {HARNESS_CRM_ENV(f->env_hs_base, f->env_sf_login),
                         tok,
                         portal,
                         org,
                         url,
                         "SYNKRO_ADMIN_TOKEN=" ADMIN,
                         "HUBSPOT_CLIENT_SECRET=sim-client-secret",
                         "SYNKRO_SWEEP_INTERVAL=0",
                         NULL};
    return harness_synkro_start(&f->proc, f->db.url, env);
}

static json_object *api(const struct fixture *f, const char *method, const char *path,
                        const char *body, long *status)
{
    char url[512];
    snprintf(url, sizeof url, "%s%s", f->proc.base_url, path);
    const char *h[] = {"Authorization: Bearer " ADMIN, "Content-Type: application/json", NULL};
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

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    if (!f || harness_db_create(&f->db) != 0)
        return -1;
    *state = f;
    f->proc.pid = -1;
    if (harness_crmsim_start_example(&f->sim, f->env_hs_base, sizeof f->env_hs_base,
                                     f->env_sf_login, sizeof f->env_sf_login) != 0)
        return -1;
    if (start_with(f, "pat-sim-token", GOOD_PORTAL, GOOD_ORG, PUBLIC_URL) != 0)
        return -1;
    long status;
    json_object *o = api(f, "POST", "/api/mappings", PROJECT_MAPPING, &status);
    if (status != 201)
        return -1;
    f->mapping_id = json_object_get_int64(get(o, "id"));
    json_object_put(o);
    char path[80];
    snprintf(path, sizeof path, "/api/mappings/%lld/enable", f->mapping_id);
    o = api(f, "POST", path, NULL, &status);
    json_object_put(o);
    return status == 200 ? 0 : -1;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    int rc = harness_teardown_clean(&f->db, &f->proc, &f->sim);
    free(f);
    return rc;
}

/* The doctor document (asserts 200). Caller puts. */
static json_object *doctor(const struct fixture *f)
{
    long status;
    json_object *o = api(f, "GET", "/api/doctor", NULL, &status);
    assert_int_equal(status, 200);
    assert_non_null(o);
    return o;
}

/* The check id (its "%lld", if any, replaced by the mapping id); fails the test when absent. */
static json_object *check(const struct fixture *f, json_object *doc, const char *id_fmt)
{
    char id[128];
    const char *at = strstr(id_fmt, "%lld");
    if (at)
        snprintf(id, sizeof id, "%.*s%lld%s", (int)(at - id_fmt), id_fmt, f->mapping_id, at + 4);
    else
        snprintf(id, sizeof id, "%s", id_fmt);
    json_object *checks = get(doc, "checks");
    for (size_t i = 0; i < json_object_array_length(checks); i++) {
        json_object *c = json_object_array_get_idx(checks, i);
        if (strcmp(json_object_get_string(get(c, "id")), id) == 0) {
            /* every check has the five members, and a fix unless it is ok */
            assert_non_null(get(c, "title"));
            assert_non_null(get(c, "detail"));
            bool ok = strcmp(json_object_get_string(get(c, "status")), "ok") == 0;
            assert_int_equal(ok, json_object_get_string_len(get(c, "fix")) == 0);
            return c;
        }
    }
    fail_msg("no check %s", id);
    return NULL;
}

static void assert_status(const struct fixture *f, json_object *doc, const char *id_fmt,
                          const char *want)
{
    json_object *c = check(f, doc, id_fmt);
    if (strcmp(json_object_get_string(get(c, "status")), want) != 0)
        fail_msg("%s is %s, not %s: %s", id_fmt, json_object_get_string(get(c, "status")), want,
                 json_object_get_string(get(c, "detail")));
}

static bool text_has(json_object *c, const char *key, const char *needle)
{
    return strstr(json_object_get_string(get(c, key)), needle) != NULL;
}

/* Runs `synkro doctor ARG` against the fixture's synkro; returns the exit status. */
static int run_cli(const struct fixture *f, const char *arg, char **out)
{
    char api_url[200];
    snprintf(api_url, sizeof api_url, "SYNKRO_API_URL=%s", f->proc.base_url);
    const char *env[] = {api_url, "SYNKRO_ADMIN_TOKEN=" ADMIN, NULL};
    const char *argv[] = {"doctor", arg, NULL};
    return harness_synkro_run(argv, env, out);
}

static void post_outbound_message(const struct fixture *f)
{
    static const char soap[] =
        "<soapenv:Envelope xmlns:soapenv=\"http://schemas.xmlsoap.org/soap/envelope/\" "
        "xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\"><soapenv:Body>"
        "<notifications xmlns=\"http://soap.sforce.com/2005/09/outbound\">"
        "<OrganizationId>00D000000000001EAA</OrganizationId>"
        "<Notification><Id>04l000000000001AAA</Id>"
        "<sObject xsi:type=\"sf:Project__c\" xmlns:sf=\"urn:sobject.enterprise.soap.sforce.com\">"
        "<sf:Id>a01000000000009AAA</sf:Id><sf:Name>X</sf:Name></sObject></Notification>"
        "</notifications></soapenv:Body></soapenv:Envelope>";
    char url[256];
    snprintf(url, sizeof url, "%s/webhooks/salesforce", f->proc.base_url);
    const char *h[] = {"Content-Type: text/xml", NULL};
    struct harness_response r;
    assert_int_equal(harness_http("POST", url, h, soap, strlen(soap), &r), 0);
    assert_int_equal(r.status, 200);
    harness_response_free(&r);
}

static void test_correct_setup_and_registrations(void **state)
{
    struct fixture *f = *state;
    json_object *doc = doctor(f);
    assert_status(f, doc, "public_base_url", "ok");
    assert_status(f, doc, "mappings", "ok");
    assert_status(f, doc, "hubspot.credentials", "ok");
    assert_status(f, doc, "hubspot.portal_id", "ok");
    assert_status(f, doc, "hubspot.scopes", "ok");
    assert_status(f, doc, "salesforce.credentials", "ok");
    assert_status(f, doc, "salesforce.org_id", "ok");
    /* the user the outbound message's flow should leave out: crmsim's token user */
    assert_true(text_has(check(f, doc, "salesforce.org_id"), "detail",
                         "synkro writes as user 005000000000001"));
    assert_status(f, doc, "salesforce.permissions.%lld", "ok");
    /* nothing has arrived yet: warnings that say what to register */
    assert_status(f, doc, "webhooks.hubspot.%lld", "warn");
    assert_status(f, doc, "webhooks.salesforce.%lld", "warn");
    assert_true(
        text_has(check(f, doc, "webhooks.hubspot.%lld"), "fix", PUBLIC_URL "/webhooks/hubspot"));
    assert_string_equal(json_object_get_string(get(doc, "status")), "warn");
    /* registrations: the property changes synkro reads and the fields it needs */
    json_object *reg = json_object_array_get_idx(get(doc, "registrations"), 0);
    assert_non_null(reg);
    const char *hs = json_object_to_json_string_ext(get(reg, "hubspot"), JSON_C_TO_STRING_PLAIN);
    assert_non_null(strstr(hs, "\"subscriptionType\":\"object.creation\""));
    assert_non_null(strstr(hs, "\"propertyName\":\"budget\""));
    assert_null(strstr(hs, "\"propertyName\":\"due_at\"")); /* always_salesforce: never read */
    const char *sf = json_object_to_json_string_ext(get(reg, "salesforce"), JSON_C_TO_STRING_PLAIN);
    assert_non_null(strstr(sf, "\"Budget__c\""));
    assert_non_null(strstr(sf, "\"Due__c\""));
    assert_non_null(strstr(sf, "\"External_Id__c\""));
    json_object_put(doc);

    /* the CLI: aligned lines, what to register, exit 0 on warnings */
    char *out = NULL;
    assert_int_equal(run_cli(f, "--window-hours", &out), 2); /* needs a number */
    free(out);
    const char *argv[] = {"doctor", NULL};
    char api_url[200];
    snprintf(api_url, sizeof api_url, "SYNKRO_API_URL=%s", f->proc.base_url);
    const char *env[] = {api_url, "SYNKRO_ADMIN_TOKEN=" ADMIN, NULL};
    assert_int_equal(harness_synkro_run(argv, env, &out), 0);
    assert_non_null(strstr(out, "ok    hubspot.credentials"));
    assert_non_null(strstr(out, "warn  webhooks.hubspot."));
    assert_non_null(strstr(out, "fix: "));
    assert_non_null(strstr(out, "object.propertyChange"));
    assert_non_null(strstr(out, "Salesforce outbound message on Project__c"));
    free(out);
    assert_int_equal(run_cli(f, "--json", &out), 0);
    json_object *cli = json_tokener_parse(out);
    assert_non_null(cli);
    assert_string_equal(json_object_get_string(get(cli, "status")), "warn");
    json_object_put(cli);
    free(out);

    /* an outbound message arrives: its check turns ok */
    post_outbound_message(f);
    doc = doctor(f);
    assert_status(f, doc, "webhooks.salesforce.%lld", "ok");
    assert_status(f, doc, "webhooks.hubspot.%lld", "warn");
    json_object_put(doc);

    /* the sweep found HubSpot changes but no webhook came: the warning says so */
    char *id = harness_db_scalar(
        &f->db, "INSERT INTO change_events (source, idempotency_key, object_type, record_id, kind,"
                " payload) VALUES ('hubspot', 'sweep:hs:901:1', '2-3465404', '901', 'update',"
                " '{\"sweep\":true}') RETURNING id");
    assert_non_null(id);
    free(id);
    doc = doctor(f);
    json_object *c = check(f, doc, "webhooks.hubspot.%lld");
    assert_string_equal(json_object_get_string(get(c, "status")), "warn");
    assert_true(text_has(c, "detail", "the sweep found 1 changed record"));
    assert_true(text_has(c, "fix", "object.propertyChange"));
    json_object_put(doc);
}

/* One breakage: synkro restarted with it, the check fails and the CLI exits 1 naming it. */
static void expect_failure(struct fixture *f, const char *check_id, const char *detail_needle)
{
    json_object *doc = doctor(f);
    assert_status(f, doc, check_id, "fail");
    if (detail_needle && !text_has(check(f, doc, check_id), "detail", detail_needle))
        fail_msg("%s: '%s' not in '%s'", check_id, detail_needle,
                 json_object_get_string(get(check(f, doc, check_id), "detail")));
    assert_string_equal(json_object_get_string(get(doc, "status")), "fail");
    json_object_put(doc);
    char *out = NULL;
    assert_int_equal(run_cli(f, NULL, &out), 1);
    char line[160];
    snprintf(line, sizeof line, "FAIL  %s", check_id);
    if (!strstr(out, line))
        fail_msg("CLI output lacks '%s':\n%s", line, out);
    assert_non_null(strstr(out, "FAILED: fix the checks marked FAIL"));
    free(out);
}

static void test_wrong_hubspot_token(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(start_with(f, "pat-wrong-token", GOOD_PORTAL, GOOD_ORG, PUBLIC_URL), 0);
    expect_failure(f, "hubspot.credentials", "401");
    json_object *doc = doctor(f);
    assert_status(f, doc, "hubspot.scopes", "warn"); /* not checked, and says why */
    assert_status(f, doc, "salesforce.credentials", "ok");
    json_object_put(doc);
}

static void test_missing_scope(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(harness_crmsim_post(&f->sim, "/_sim/config",
                                         "{\"hubspot_scopes\":\"crm.objects.custom.read "
                                         "crm.schemas.custom.read oauth\"}"),
                     200);
    expect_failure(f, "hubspot.scopes", "crm.objects.custom.write");
    json_object *doc = doctor(f);
    assert_true(text_has(check(f, doc, "hubspot.scopes"), "fix", "crm.objects.custom.write"));
    json_object_put(doc);
}

/* A token that may not read the account details still works: no failure, the portal unchecked. */
static void test_account_details_forbidden(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(
        harness_crmsim_post(&f->sim, "/_sim/faults",
                            "{\"match\":\"GET /account-info/v3/details\",\"status\":403,"
                            "\"body\":{\"status\":\"error\",\"category\":\"MISSING_SCOPES\","
                            "\"message\":\"This app hasn't been granted all required scopes\"}}"),
        201);
    json_object *doc = doctor(f);
    assert_status(f, doc, "hubspot.credentials", "ok");
    assert_true(text_has(check(f, doc, "hubspot.credentials"), "detail", "403"));
    assert_status(f, doc, "hubspot.portal_id", "warn");
    assert_status(f, doc, "hubspot.scopes", "ok");
    json_object_put(doc);
}

static void test_wrong_portal_id(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(start_with(f, "pat-sim-token", "HUBSPOT_PORTAL_ID=999", GOOD_ORG, PUBLIC_URL),
                     0);
    expect_failure(f, "hubspot.portal_id", "portal 12345678");
    json_object *doc = doctor(f);
    assert_true(text_has(check(f, doc, "hubspot.portal_id"), "fix", "HUBSPOT_PORTAL_ID=12345678"));
    json_object_put(doc);
}

static void test_wrong_org_id(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(start_with(f, "pat-sim-token", GOOD_PORTAL,
                                "SALESFORCE_ORG_ID=00D000000000002", PUBLIC_URL),
                     0);
    expect_failure(f, "salesforce.org_id", "00D000000000001");
}

static void test_http_public_url(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(
        start_with(f, "pat-sim-token", GOOD_PORTAL, GOOD_ORG, "http://synkro.example.test"), 0);
    expect_failure(f, "public_base_url", "is not https");
}

/* A crmsim answer (asserts 200); caller puts. */
static json_object *sim_call(const struct fixture *f, const char *method, const char *path,
                             const char *const *headers, const char *body)
{
    char url[512];
    snprintf(url, sizeof url, "%s%s", f->sim.base_url, path);
    struct harness_response r;
    assert_int_equal(harness_http(method, url, headers, body, body ? strlen(body) : 0, &r), 0);
    assert_int_equal(r.status, 200);
    json_object *o = json_tokener_parse(r.body);
    harness_response_free(&r);
    assert_non_null(o);
    return o;
}

/* Field-Level Security taken away: Salesforce's describe, made as the integration user, then
 * reports the field as not updateable. crmsim answers Project__c's describe with Budget__c so
 * marked (a fault rule carrying the real describe, edited); the doctor names the field. */
static void test_salesforce_field_not_writable(void **state)
{
    struct fixture *f = *state;
    static const char form[] = "grant_type=refresh_token&client_id=sim-sf-client-id"
                               "&client_secret=sim-sf-client-secret"
                               "&refresh_token=sim-sf-refresh-token";
    const char *fh[] = {"Content-Type: application/x-www-form-urlencoded", NULL};
    json_object *tok = sim_call(f, "POST", "/services/oauth2/token", fh, form);
    char auth[600];
    snprintf(auth, sizeof auth, "Authorization: Bearer %s",
             json_object_get_string(get(tok, "access_token")));
    json_object_put(tok);
    const char *ah[] = {auth, NULL};
    static const char describe[] = "/services/data/v62.0/sobjects/Project__c/describe";
    json_object *d = sim_call(f, "GET", describe, ah, NULL);
    json_object *fields = get(d, "fields");
    bool found = false;
    for (size_t i = 0; i < json_object_array_length(fields); i++) {
        json_object *fd = json_object_array_get_idx(fields, i);
        if (strcmp(json_object_get_string(get(fd, "name")), "Budget__c") == 0) {
            json_object_object_add(fd, "updateable", json_object_new_boolean(0));
            found = true;
        }
    }
    assert_true(found);
    json_object *rule = json_object_new_object();
    json_object_object_add(rule, "match",
                           json_object_new_string("GET /services/data/v62.0/"
                                                  "sobjects/Project__c/describe"));
    json_object_object_add(rule, "status", json_object_new_int(200));
    json_object_object_add(rule, "body", d);
    assert_int_equal(harness_crmsim_post(&f->sim, "/_sim/faults", json_object_to_json_string(rule)),
                     201);
    json_object_put(rule);
    /* a new process: no describe cached from the mapping's validation */
    assert_int_equal(start_with(f, "pat-sim-token", GOOD_PORTAL, GOOD_ORG, PUBLIC_URL), 0);
    char id[64];
    snprintf(id, sizeof id, "salesforce.permissions.%lld", f->mapping_id);
    expect_failure(f, id, "Budget__c (not updateable)");
    json_object *doc = doctor(f);
    json_object *c = check(f, doc, "salesforce.permissions.%lld");
    assert_true(text_has(c, "fix", "Field-Level"));
    /* only the field it cannot write: Name stays out of the finding */
    assert_false(text_has(c, "detail", "Name ("));
    assert_status(f, doc, "salesforce.credentials", "ok");
    json_object_put(doc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_correct_setup_and_registrations, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wrong_hubspot_token, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_scope, setup, teardown),
        cmocka_unit_test_setup_teardown(test_account_details_forbidden, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wrong_portal_id, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wrong_org_id, setup, teardown),
        cmocka_unit_test_setup_teardown(test_http_public_url, setup, teardown),
        cmocka_unit_test_setup_teardown(test_salesforce_field_not_writable, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
