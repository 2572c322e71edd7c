/* it_mappings.c: setting up a sync through the admin API, step by step, as
 * HubSpot's wizard does, against crmsim and a real PostgreSQL: create a
 * draft, see its problems, preview real records (one that does not fit),
 * fix it, enable it; the mapping limit; stale writes; history; queued
 * events following the mapping's state; export -> import on an empty
 * database; the CLI printing what the API answers; 401 without the token. */
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

#define ADMIN "admin-token-for-mapping-tests"

struct fixture {
    struct harness_db db;
    struct harness_crmsim sim;
    struct harness_proc proc;
    char env_hs_base[160], env_sf_login[160];
};

static int start_synkro(struct fixture *f, struct harness_db *db, struct harness_proc *proc)
{
    const char *env[] = {HARNESS_CRM_ENV(f->env_hs_base, f->env_sf_login),
                         "SYNKRO_ADMIN_TOKEN=" ADMIN, "SYNKRO_MAX_MAPPINGS=2",
                         "SALESFORCE_ORG_ID=00D000000000001", NULL};
    return harness_synkro_start(proc, db->url, env);
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    if (!f || harness_db_create(&f->db) != 0)
        return -1;
    if (harness_crmsim_start_example(&f->sim, f->env_hs_base, sizeof f->env_hs_base,
                                     f->env_sf_login, sizeof f->env_sf_login) != 0)
        return -1;
    *state = f;
    return start_synkro(f, &f->db, &f->proc);
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    int rc = harness_teardown_clean(&f->db, &f->proc, &f->sim);
    free(f);
    return rc;
}

/* One admin API call; returns the parsed body (NULL when empty). */
static json_object *api(const struct harness_proc *p, const char *method, const char *path,
                        const char *body, long *status)
{
    char url[512];
    snprintf(url, sizeof url, "%s%s", p->base_url, path);
    const char *h[] = {"Authorization: Bearer " ADMIN, "Content-Type: application/json",
                       "X-Synkro-Actor: it-test", NULL};
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

static bool has_problem(json_object *o, const char *code, const char *severity)
{
    json_object *problems = get(o, "problems");
    for (size_t i = 0; problems && i < json_object_array_length(problems); i++) {
        json_object *p = json_object_array_get_idx(problems, i);
        if (strcmp(json_object_get_string(get(p, "code")), code) == 0 &&
            (!severity || strcmp(json_object_get_string(get(p, "severity")), severity) == 0))
            return true;
    }
    return false;
}

static size_t count_errors(json_object *o)
{
    json_object *problems = get(o, "problems");
    size_t n = 0;
    for (size_t i = 0; problems && i < json_object_array_length(problems); i++)
        n += strcmp(json_object_get_string(get(json_object_array_get_idx(problems, i), "severity")),
                    "error") == 0;
    return n;
}

#define PROJECT_MAPPING(status_map, version)                                                       \
    "{" version "\"name\":\"Projects\",\"salesforce_object\":\"Project__c\","                      \
    "\"hubspot_object\":\"2-3465404\","                                                            \
    "\"rules\":{\"salesforce_to_hubspot\":{\"create\":true,\"update\":true,\"delete\":\"delete\"}" \
    ","                                                                                            \
    "\"hubspot_to_salesforce\":{\"create\":true,\"update\":true,\"delete\":\"none\"},"             \
    "\"conflict_winner\":\"salesforce\"},"                                                         \
    "\"identity\":{\"hubspot_property\":\"salesforce_id\",\"salesforce_field\":\"External_Id__"    \
    "c\"},"                                                                                        \
    "\"fields\":[{\"salesforce\":\"Name\",\"hubspot\":\"name\",\"rule\":\"two_way\"},"             \
    "{\"salesforce\":\"Budget__c\",\"hubspot\":\"budget\",\"rule\":\"two_way\"},"                  \
    "{\"salesforce\":\"Status__c\",\"hubspot\":\"status\",\"rule\":\"two_way\","                   \
    "\"value_map\":{" status_map "}},"                                                             \
    "{\"salesforce\":\"Active__c\",\"hubspot\":\"is_active\",\"rule\":\"two_way\"},"               \
    "{\"salesforce\":\"Start__c\",\"hubspot\":\"start_date\",\"rule\":\"two_way\"},"               \
    "{\"salesforce\":\"Due__c\",\"hubspot\":\"due_at\",\"rule\":\"always_salesforce\"}]}"

#define PARTIAL_MAP "\"Planned\":\"planned\",\"Active\":\"active\""
#define FULL_MAP    "\"Planned\":\"planned\",\"Active\":\"active\",\"Done\":\"done\""

/* An outbound message with one notification of record_id (18 characters); the notification id
 * (synkro's idempotency key) differs per record, as Salesforce's do. */
static char *soap_for(const char *record_id)
{
    char *buf = malloc(2048);
    snprintf(
        buf, 2048,
        "<soapenv:Envelope xmlns:soapenv=\"http://schemas.xmlsoap.org/soap/envelope/\" "
        "xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\"><soapenv:Body>"
        "<notifications xmlns=\"http://soap.sforce.com/2005/09/outbound\">"
        "<OrganizationId>00D000000000001EAA</OrganizationId>"
        "<Notification><Id>04l%.15s</Id>"
        "<sObject xsi:type=\"sf:Project__c\" xmlns:sf=\"urn:sobject.enterprise.soap.sforce.com\">"
        "<sf:Id>%s</sf:Id><sf:Name>X</sf:Name></sObject></Notification>"
        "</notifications></soapenv:Body></soapenv:Envelope>",
        record_id + 3, record_id);
    return buf;
}

static char *event_status(struct fixture *f)
{
    return harness_db_scalar(&f->db, "SELECT string_agg(status, ',') FROM change_events");
}

static void test_wizard_flow_to_enabled(void **state)
{
    struct fixture *f = *state;
    long status;
    /* an event arrives before any mapping exists: kept, unmapped */
    char *soap = soap_for("a01000000000009AAA");
    char url[256];
    snprintf(url, sizeof url, "%s/webhooks/salesforce", f->proc.base_url);
    const char *sh[] = {"Content-Type: text/xml", NULL};
    struct harness_response r;
    assert_int_equal(harness_http("POST", url, sh, soap, strlen(soap), &r), 0);
    assert_int_equal(r.status, 200);
    harness_response_free(&r);
    free(soap);
    char *st = event_status(f);
    assert_string_equal(st, "unmapped");
    free(st);

    /* a document with structural problems: 400, every problem listed, nothing saved */
    json_object *o = api(&f->proc, "POST", "/api/mappings",
                         "{\"name\":\"\",\"salesforce_object\":\"Project__c\",\"fields\":[{"
                         "\"salesforce\":\"Name\",\"hubspot\":\"name\",\"rule\":\"sometimes\"}]}",
                         &status);
    assert_int_equal(status, 400);
    assert_true(has_problem(o, "missing", NULL));       /* hubspot_object */
    assert_true(has_problem(o, "invalid_value", NULL)); /* the rule */
    json_object_put(o);

    /* step 1-4: the draft, with one problem: "Done" has no HubSpot option */
    o = api(&f->proc, "POST", "/api/mappings", PROJECT_MAPPING(PARTIAL_MAP, ""), &status);
    assert_int_equal(status, 201);
    assert_string_equal(json_object_get_string(get(o, "state")), "draft");
    assert_int_equal(json_object_get_int(get(o, "version")), 1);
    assert_true(has_problem(o, "option_unmapped", "error"));
    /* "Done" is missing both ways: no HubSpot option for it, and HubSpot's
     * "done" has no value in the restricted Salesforce picklist */
    if (count_errors(o) != 2)
        fail_msg("expected two errors: %s", json_object_get_string(get(o, "problems")));
    int64_t id = json_object_get_int64(get(o, "id"));
    json_object_put(o);
    st = event_status(f);
    assert_string_equal(st, "held"); /* a draft keeps its events */
    free(st);

    char path[128];
    /* enabling refuses while there are errors; the mapping stays a draft */
    snprintf(path, sizeof path, "/api/mappings/%lld/enable", (long long)id);
    o = api(&f->proc, "POST", path, NULL, &status);
    assert_int_equal(status, 400);
    assert_true(has_problem(o, "option_unmapped", "error"));
    json_object_put(o);

    /* step 5: preview real Salesforce records; the "Done" one cannot be written */
    const char *recs[] = {"{\"Name\":\"Apollo\",\"Budget__c\":419.0,\"Status__c\":\"Active\","
                          "\"Active__c\":true,\"Start__c\":\"2024-02-29\","
                          "\"Due__c\":\"2024-05-02T11:53:53.000+0000\"}",
                          "{\"Name\":\"Gemini\",\"Status__c\":\"Done\"}"};
    for (size_t i = 0; i < 2; i++)
        assert_int_equal(
            harness_crmsim_post(&f->sim, "/_sim/salesforce/Project__c/records", recs[i]), 201);
    snprintf(path, sizeof path, "/api/mappings/%lld/preview", (long long)id);
    o = api(&f->proc, "GET", path, NULL, &status);
    assert_int_equal(status, 200);
    json_object *records = get(o, "records");
    assert_int_equal(json_object_array_length(records), 2);
    int seen_apollo = 0, seen_gemini = 0;
    for (size_t i = 0; i < 2; i++) {
        json_object *rec = json_object_array_get_idx(records, i);
        json_object *props = get(rec, "hubspot_properties");
        json_object *errors = get(rec, "errors");
        const char *name = json_object_get_string(get(props, "name"));
        if (strcmp(name, "Apollo") == 0) {
            seen_apollo = 1;
            assert_string_equal(json_object_get_string(get(props, "budget")), "419");
            assert_string_equal(json_object_get_string(get(props, "status")), "active");
            assert_string_equal(json_object_get_string(get(props, "is_active")), "true");
            assert_string_equal(json_object_get_string(get(props, "start_date")), "2024-02-29");
            assert_string_equal(json_object_get_string(get(props, "due_at")),
                                "2024-05-02T11:53:53.000Z");
            assert_string_equal(json_object_get_string(get(props, "salesforce_id")),
                                json_object_get_string(get(rec, "salesforce_id")));
            assert_int_equal(json_object_array_length(errors), 0);
        } else {
            seen_gemini = 1;
            assert_int_equal(json_object_array_length(errors), 1);
            json_object *e = json_object_array_get_idx(errors, 0);
            assert_string_equal(json_object_get_string(get(e, "salesforce")), "Status__c");
            assert_string_equal(json_object_get_string(get(e, "code")), "unmapped_option");
            assert_null(get(props, "status"));
        }
    }
    assert_true(seen_apollo && seen_gemini);
    assert_int_equal(json_object_array_length(get(o, "fields")), 6);
    json_object_put(o);
    char *written = harness_db_scalar(&f->db, "SELECT count(*) FROM mappings");
    assert_string_equal(written, "1"); /* the preview wrote nothing */
    free(written);

    /* fix it: a stale version is refused, the current one accepted */
    snprintf(path, sizeof path, "/api/mappings/%lld", (long long)id);
    o = api(&f->proc, "PUT", path, PROJECT_MAPPING(FULL_MAP, "\"version\":7,"), &status);
    assert_int_equal(status, 409);
    assert_string_equal(json_object_get_string(get(get(o, "error"), "code")), "stale_version");
    json_object_put(o);
    o = api(&f->proc, "PUT", path, PROJECT_MAPPING(FULL_MAP, "\"version\":1,"), &status);
    assert_int_equal(status, 200);
    assert_int_equal(json_object_get_int(get(o, "version")), 2);
    assert_int_equal(count_errors(o), 0);
    json_object_put(o);
    snprintf(path, sizeof path, "/api/mappings/%lld/validate", (long long)id);
    o = api(&f->proc, "POST", path, NULL, &status);
    assert_int_equal(status, 200);
    assert_true(json_object_get_boolean(get(o, "valid")));
    json_object_put(o);

    /* step 6: turn it on */
    snprintf(path, sizeof path, "/api/mappings/%lld/enable", (long long)id);
    o = api(&f->proc, "POST", path, NULL, &status);
    assert_int_equal(status, 200);
    assert_string_equal(json_object_get_string(get(o, "state")), "enabled");
    json_object_put(o);
    /* held events are released (a worker may already have claimed or synced it) */
    st = harness_db_scalar(&f->db, "SELECT count(*) FROM change_events WHERE status = 'held'");
    assert_string_equal(st, "0");
    free(st);
    snprintf(path, sizeof path, "/api/mappings/%lld/pause", (long long)id);
    o = api(&f->proc, "POST", path, NULL, &status);
    assert_int_equal(status, 200);
    assert_string_equal(json_object_get_string(get(o, "state")), "paused");
    json_object_put(o);
    /* The released event may already have been synced by a worker between the two
     * calls; what pause guarantees is that nothing stays pending and that an event
     * arriving now is held. */
    st = harness_db_scalar(&f->db, "SELECT count(*) FROM change_events WHERE status = 'pending'");
    assert_string_equal(st, "0");
    free(st);
    soap = soap_for("a01000000000008AAA");
    assert_int_equal(harness_http("POST", url, sh, soap, strlen(soap), &r), 0);
    assert_int_equal(r.status, 200);
    harness_response_free(&r);
    free(soap);
    st = harness_db_scalar(&f->db, "SELECT string_agg(status, ',') FROM change_events"
                                   " WHERE record_id = 'a01000000000008AAA'");
    assert_string_equal(st, "held");
    free(st);

    /* history: who, when, what */
    snprintf(path, sizeof path, "/api/mappings/%lld/history", (long long)id);
    o = api(&f->proc, "GET", path, NULL, &status);
    assert_int_equal(status, 200);
    json_object *h = get(o, "history");
    assert_int_equal(json_object_array_length(h), 4);
    const char *actions[] = {"create", "update", "enable", "pause"};
    for (size_t i = 0; i < 4; i++) {
        json_object *e = json_object_array_get_idx(h, i);
        assert_string_equal(json_object_get_string(get(e, "action")), actions[i]);
        assert_string_equal(json_object_get_string(get(e, "actor")), "it-test");
        assert_non_null(get(e, "changed_at"));
    }
    json_object *changes = get(json_object_array_get_idx(h, 1), "changes");
    assert_int_equal(json_object_array_length(changes), 1);
    assert_string_equal(json_object_get_string(get(json_object_array_get_idx(changes, 0), "path")),
                        "fields[2].value_map.Done");
    json_object_put(o);
}

static void test_limit_errors_and_auth(void **state)
{
    struct fixture *f = *state;
    long status;
    json_object *o = api(&f->proc, "POST", "/api/mappings", PROJECT_MAPPING(FULL_MAP, ""), &status);
    assert_int_equal(status, 201);
    json_object_put(o);
    /* the same Salesforce object again */
    o = api(&f->proc, "POST", "/api/mappings", PROJECT_MAPPING(FULL_MAP, ""), &status);
    assert_int_equal(status, 409);
    json_object_put(o);
    /* a HubSpot object that does not exist: stored as a draft with the problem */
    o = api(&f->proc, "POST", "/api/mappings",
            "{\"name\":\"Accounts\",\"salesforce_object\":\"Account\","
            "\"hubspot_object\":\"2-999999\",\"rules\":{\"hubspot_to_salesforce\":"
            "{\"create\":false,\"update\":false}},"
            "\"identity\":{\"hubspot_property\":\"salesforce_id\"},"
            "\"fields\":[{\"salesforce\":\"Name\",\"hubspot\":\"name\"}]}",
            &status);
    assert_int_equal(status, 201);
    assert_true(has_problem(o, "hubspot_object_not_found", "error"));
    json_object_put(o);
    /* SYNKRO_MAX_MAPPINGS=2: the third is refused */
    o = api(&f->proc, "POST", "/api/mappings",
            "{\"name\":\"Third\",\"salesforce_object\":\"Contact\",\"hubspot_object\":\"0-1\","
            "\"fields\":[]}",
            &status);
    assert_int_equal(status, 409);
    assert_string_equal(json_object_get_string(get(get(o, "error"), "code")),
                        "mapping_limit_reached");
    json_object_put(o);
    o = api(&f->proc, "GET", "/api/mappings/999", NULL, &status);
    assert_int_equal(status, 404);
    json_object_put(o);
    o = api(&f->proc, "GET", "/api/mappings/abc", NULL, &status);
    assert_int_equal(status, 400);
    json_object_put(o);
    /* no token, wrong token */
    char url[256];
    snprintf(url, sizeof url, "%s/api/mappings", f->proc.base_url);
    struct harness_response r;
    assert_int_equal(harness_http("GET", url, NULL, NULL, 0, &r), 0);
    assert_int_equal(r.status, 401);
    harness_response_free(&r);
    const char *bad[] = {"Authorization: Bearer admin-token-for-mapping-testZ", NULL};
    assert_int_equal(harness_http("GET", url, bad, NULL, 0, &r), 0);
    assert_int_equal(r.status, 401);
    harness_response_free(&r);
}

static void test_export_import_round_trip_and_cli(void **state)
{
    struct fixture *f = *state;
    long status;
    json_object *o = api(&f->proc, "POST", "/api/mappings", PROJECT_MAPPING(FULL_MAP, ""), &status);
    assert_int_equal(status, 201);
    char path[64];
    snprintf(path, sizeof path, "/api/mappings/%lld/enable",
             (long long)json_object_get_int64(get(o, "id")));
    json_object_put(o);
    o = api(&f->proc, "POST", path, NULL, &status);
    assert_int_equal(status, 200);
    json_object_put(o);
    json_object *exported = api(&f->proc, "GET", "/api/mappings/export", NULL, &status);
    assert_int_equal(status, 200);

    /* the CLI prints what the API answers (`mapping export`, the old name, also notes its
     * deprecation on stderr, which this output would mix in) */
    char api_url[200];
    snprintf(api_url, sizeof api_url, "SYNKRO_API_URL=%s", f->proc.base_url);
    const char *env[] = {api_url, "SYNKRO_ADMIN_TOKEN=" ADMIN, NULL};
    const char *argv[] = {"config", "export", NULL};
    char *out = NULL;
    assert_int_equal(harness_synkro_run(argv, env, &out), 0);
    json_object *cli = json_tokener_parse(out);
    assert_non_null(cli);
    assert_true(json_object_equal(cli, exported));
    json_object_put(cli);
    free(out);
    const char *bad_argv[] = {"mapping", "show", "999", NULL};
    assert_int_equal(harness_synkro_run(bad_argv, env, &out), 1);
    assert_non_null(strstr(out, "not_found"));
    free(out);

    /* import into an empty database yields the same configuration */
    struct harness_db db2;
    struct harness_proc p2;
    assert_int_equal(harness_db_create(&db2), 0);
    assert_int_equal(start_synkro(f, &db2, &p2), 0);
    const char *text = json_object_to_json_string_ext(exported, JSON_C_TO_STRING_PLAIN);
    o = api(&p2, "POST", "/api/mappings/import", text, &status);
    assert_int_equal(status, 200);
    assert_int_equal(json_object_get_int(get(o, "imported")), 1);
    json_object_put(o);
    json_object *again = api(&p2, "GET", "/api/mappings/export", NULL, &status);
    assert_true(json_object_equal(again, exported));
    json_object_put(again);
    /* a broken import changes nothing */
    o = api(&p2, "POST", "/api/mappings/import",
            "{\"mappings\":[{\"name\":\"x\",\"salesforce_object\":\"Project__c\"}]}", &status);
    assert_int_equal(status, 400);
    json_object_put(o);
    again = api(&p2, "GET", "/api/mappings/export", NULL, &status);
    assert_true(json_object_equal(again, exported));
    json_object_put(again);
    assert_int_equal(harness_synkro_stop(&p2, SIGTERM, 15000), 0);
    harness_db_drop(&db2);
    json_object_put(exported);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_wizard_flow_to_enabled, setup, teardown),
        cmocka_unit_test_setup_teardown(test_limit_errors_and_auth, setup, teardown),
        cmocka_unit_test_setup_teardown(test_export_import_round_trip_and_cli, setup, teardown),
    };
    return cmocka_run_group_tests_name("it_mappings", tests, NULL, NULL);
}
