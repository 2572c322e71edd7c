/* it_discovery.c: the setup wizard's discovery endpoints end to end: a real synkro (with a real
 * PostgreSQL) asks crmsim, loaded with tests/crmsim/fixtures/example.json, for both CRMs' objects,
 * one Salesforce object's fields and one HubSpot object's properties and association types; 404
 * for objects neither CRM knows; 401 without the admin token; 503 naming the variables to set when
 * a CRM is not configured; 502 with the CRM's message, and no token or secret, when the CRM
 * fails. */
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

#define ADMIN "admin-token-for-discovery-tests"

struct fixture {
    struct harness_db db;
    struct harness_crmsim sim;
    struct harness_proc proc;
    char env_hs_base[160], env_sf_login[160];
};

static int setup_common(void **state, bool with_crms)
{
    struct fixture *f = calloc(1, sizeof *f);
    if (!f || harness_db_create(&f->db) != 0)
        return -1;
    *state = f;
    if (!with_crms) {
        const char *env[] = {"SYNKRO_ADMIN_TOKEN=" ADMIN, NULL};
        return harness_synkro_start(&f->proc, f->db.url, env);
    }
    if (harness_crmsim_start_example(&f->sim, f->env_hs_base, sizeof f->env_hs_base,
                                     f->env_sf_login, sizeof f->env_sf_login) != 0)
        return -1;
    const char *env[] = {HARNESS_CRM_ENV(f->env_hs_base, f->env_sf_login),
                         "SYNKRO_ADMIN_TOKEN=" ADMIN, NULL};
    return harness_synkro_start(&f->proc, f->db.url, env);
}

static int setup(void **state)
{
    return setup_common(state, true);
}

static int setup_unconfigured(void **state)
{
    return setup_common(state, false);
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    int rc = harness_teardown_clean(&f->db, &f->proc, &f->sim);
    free(f);
    return rc;
}

/* GET path with the admin token (auth NULL: none). *raw (may be NULL) receives the body text
 * (caller frees). Returns the parsed body (NULL when empty or not JSON). */
static json_object *api_get(const struct fixture *f, const char *path, const char *auth,
                            long *status, char **raw)
{
    char url[512];
    snprintf(url, sizeof url, "%s%s", f->proc.base_url, path);
    const char *h[] = {auth, NULL};
    struct harness_response r;
    assert_int_equal(harness_http("GET", url, auth ? h : NULL, NULL, 0, &r), 0);
    *status = r.status;
    json_object *o = r.body_len ? json_tokener_parse(r.body) : NULL;
    if (raw)
        *raw = strdup(r.body ? r.body : "");
    harness_response_free(&r);
    return o;
}

static json_object *admin_get(const struct fixture *f, const char *path, long *status)
{
    return api_get(f, path, "Authorization: Bearer " ADMIN, status, NULL);
}

static json_object *get(json_object *o, const char *key)
{
    json_object *v = NULL;
    json_object_object_get_ex(o, key, &v);
    return v;
}

static const char *str(json_object *o, const char *key)
{
    json_object *v = get(o, key);
    assert_non_null(v);
    assert_true(json_object_is_type(v, json_type_string));
    return json_object_get_string(v);
}

static bool flag(json_object *o, const char *key)
{
    json_object *v = get(o, key);
    assert_non_null(v);
    assert_true(json_object_is_type(v, json_type_boolean));
    return json_object_get_boolean(v);
}

static bool is_null(json_object *o, const char *key)
{
    json_object *v = NULL;
    return json_object_object_get_ex(o, key, &v) && v == NULL;
}

/* Asserts o has exactly these members (NULL-terminated). */
static void assert_keys(json_object *o, const char *const *keys)
{
    assert_true(json_object_is_type(o, json_type_object));
    size_t n = 0;
    for (; keys[n]; n++) {
        json_object *v;
        if (!json_object_object_get_ex(o, keys[n], &v))
            fail_msg("member %s missing in %s", keys[n], json_object_to_json_string(o));
    }
    assert_int_equal((size_t)json_object_object_length(o), n);
}

/* The element of array whose member key equals value; fails the test when absent. */
static json_object *find_by(json_object *array, const char *key, const char *value)
{
    assert_non_null(array);
    assert_true(json_object_is_type(array, json_type_array));
    for (size_t i = 0; i < json_object_array_length(array); i++) {
        json_object *e = json_object_array_get_idx(array, i);
        json_object *v = get(e, key);
        if (v && strcmp(json_object_get_string(v), value) == 0)
            return e;
    }
    fail_msg("no element with %s=%s", key, value);
    return NULL;
}

static void assert_error(json_object *o, const char *code, const char *message_part)
{
    json_object *e = get(o, "error");
    assert_non_null(e);
    assert_string_equal(str(e, "code"), code);
    if (message_part && !strstr(str(e, "message"), message_part))
        fail_msg("message \"%s\" does not mention \"%s\"", str(e, "message"), message_part);
}

/* ---- Salesforce ---- */

static void test_salesforce_objects(void **state)
{
    struct fixture *f = *state;
    long status;
    json_object *o = admin_get(f, "/api/salesforce/objects", &status);
    assert_int_equal(status, 200);
    static const char *const top[] = {"objects", NULL};
    assert_keys(o, top);
    json_object *objects = get(o, "objects");
    assert_int_equal(json_object_array_length(objects), 2);
    static const char *const keys[] = {"name",       "label",     "custom", "createable",
                                       "updateable", "queryable", NULL};
    json_object *account = find_by(objects, "name", "Account");
    assert_keys(account, keys);
    assert_string_equal(str(account, "label"), "Account");
    assert_false(flag(account, "custom"));
    assert_true(flag(account, "createable"));
    assert_true(flag(account, "updateable"));
    assert_true(flag(account, "queryable"));
    json_object *project = find_by(objects, "name", "Project__c");
    assert_keys(project, keys);
    assert_string_equal(str(project, "label"), "Project");
    assert_true(flag(project, "custom"));
    assert_true(flag(project, "queryable"));
    json_object_put(o);
}

static void test_salesforce_object_fields(void **state)
{
    struct fixture *f = *state;
    long status;
    json_object *o = admin_get(f, "/api/salesforce/objects/Project__c", &status);
    assert_int_equal(status, 200);
    static const char *const top[] = {"name", "label", "fields", NULL};
    assert_keys(o, top);
    assert_string_equal(str(o, "name"), "Project__c");
    assert_string_equal(str(o, "label"), "Project");
    json_object *fields = get(o, "fields");
    static const char *const keys[] = {"name",
                                       "label",
                                       "type",
                                       "length",
                                       "lookup",
                                       "reference_to",
                                       "relationship_name",
                                       "createable",
                                       "updateable",
                                       "nillable",
                                       "external_id",
                                       "unique",
                                       "calculated",
                                       "picklist_values",
                                       NULL};
    for (size_t i = 0; i < json_object_array_length(fields); i++)
        assert_keys(json_object_array_get_idx(fields, i), keys);

    /* the lookup, flagged with its target and relationship */
    json_object *acc = find_by(fields, "name", "Account__c");
    assert_string_equal(str(acc, "type"), "reference");
    assert_true(flag(acc, "lookup"));
    json_object *refs = get(acc, "reference_to");
    assert_int_equal(json_object_array_length(refs), 1);
    assert_string_equal(json_object_get_string(json_object_array_get_idx(refs, 0)), "Account");
    assert_string_equal(str(acc, "relationship_name"), "Account__r");

    /* plain fields are not lookups */
    json_object *name = find_by(fields, "name", "Name");
    assert_string_equal(str(name, "type"), "string");
    assert_int_equal(json_object_get_int(get(name, "length")), 80);
    assert_false(flag(name, "lookup"));
    assert_int_equal(json_object_array_length(get(name, "reference_to")), 0);
    assert_true(is_null(name, "relationship_name"));
    assert_false(flag(name, "nillable"));
    assert_true(flag(name, "createable"));
    json_object *id = find_by(fields, "name", "Id");
    assert_string_equal(str(id, "type"), "id");
    assert_false(flag(id, "lookup"));
    assert_false(flag(id, "updateable"));

    /* external ids: unique or not */
    json_object *ext = find_by(fields, "name", "External_Id__c");
    assert_true(flag(ext, "external_id"));
    assert_true(flag(ext, "unique"));
    assert_int_equal(json_object_get_int(get(ext, "length")), 40);
    json_object *code = find_by(fields, "name", "Code__c");
    assert_true(flag(code, "external_id"));
    assert_false(flag(code, "unique"));
    assert_false(flag(find_by(fields, "name", "Budget__c"), "external_id"));
    assert_string_equal(str(find_by(fields, "name", "Budget__c"), "type"), "currency");

    /* the formula */
    assert_true(flag(find_by(fields, "name", "Formula__c"), "calculated"));
    assert_false(flag(name, "calculated"));

    /* the picklist's values in order */
    json_object *status_f = find_by(fields, "name", "Status__c");
    assert_string_equal(str(status_f, "type"), "picklist");
    json_object *values = get(status_f, "picklist_values");
    static const char *const expected[] = {"Planned", "Active", "Done"};
    assert_int_equal(json_object_array_length(values), 3);
    static const char *const pv_keys[] = {"value", "label", "active", NULL};
    for (size_t i = 0; i < 3; i++) {
        json_object *v = json_object_array_get_idx(values, i);
        assert_keys(v, pv_keys);
        assert_string_equal(str(v, "value"), expected[i]);
        assert_string_equal(str(v, "label"), expected[i]);
        assert_true(flag(v, "active"));
    }
    assert_int_equal(json_object_array_length(get(name, "picklist_values")), 0);
    json_object_put(o);

    /* Salesforce names are case-insensitive */
    o = admin_get(f, "/api/salesforce/objects/account", &status);
    assert_int_equal(status, 200);
    assert_string_equal(str(o, "name"), "Account");
    json_object_put(o);
}

/* ---- HubSpot ---- */

static void test_hubspot_objects(void **state)
{
    struct fixture *f = *state;
    long status;
    json_object *o = admin_get(f, "/api/hubspot/objects", &status);
    assert_int_equal(status, 200);
    static const char *const top[] = {"objects", NULL};
    assert_keys(o, top);
    json_object *objects = get(o, "objects");
    /* the custom object first, then the four standard objects, companies only once although the
     * fixture defines a schema for it */
    static const struct {
        const char *id, *fqn, *name, *label;
        bool custom;
    } expected[] = {
        {"2-3465404", "p12345678_projects", "projects", "Projects", true},
        {"0-1", "contacts", "contacts", "Contacts", false},
        {"0-2", "companies", "companies", "Companies", false},
        {"0-3", "deals", "deals", "Deals", false},
        {"0-5", "tickets", "tickets", "Tickets", false},
    };
    size_t n = sizeof expected / sizeof expected[0];
    assert_int_equal(json_object_array_length(objects), n);
    static const char *const keys[] = {
        "object_type_id", "fully_qualified_name", "name", "label", "custom", NULL};
    for (size_t i = 0; i < n; i++) {
        json_object *e = json_object_array_get_idx(objects, i);
        assert_keys(e, keys);
        assert_string_equal(str(e, "object_type_id"), expected[i].id);
        assert_string_equal(str(e, "fully_qualified_name"), expected[i].fqn);
        assert_string_equal(str(e, "name"), expected[i].name);
        assert_string_equal(str(e, "label"), expected[i].label);
        assert_int_equal(flag(e, "custom"), expected[i].custom);
    }
    json_object_put(o);
}

static void test_hubspot_object_properties(void **state)
{
    struct fixture *f = *state;
    long status;
    json_object *o = admin_get(f, "/api/hubspot/objects/2-3465404", &status);
    assert_int_equal(status, 200);
    static const char *const top[] = {
        "object_type_id",      "fully_qualified_name", "name",         "primary_display_property",
        "required_properties", "properties",           "associations", NULL};
    assert_keys(o, top);
    assert_string_equal(str(o, "object_type_id"), "2-3465404");
    assert_string_equal(str(o, "fully_qualified_name"), "p12345678_projects");
    assert_string_equal(str(o, "name"), "projects");
    assert_string_equal(str(o, "primary_display_property"), "name");
    json_object *req = get(o, "required_properties");
    assert_int_equal(json_object_array_length(req), 1);
    assert_string_equal(json_object_get_string(json_object_array_get_idx(req, 0)), "name");

    json_object *props = get(o, "properties");
    static const char *const keys[] = {
        "name",       "label",     "type",     "field_type", "options", "has_unique_value",
        "calculated", "read_only", "required", NULL};
    for (size_t i = 0; i < json_object_array_length(props); i++)
        assert_keys(json_object_array_get_idx(props, i), keys);

    /* the unique property (the one an identity can use), and only that one */
    size_t unique = 0;
    for (size_t i = 0; i < json_object_array_length(props); i++)
        unique += flag(json_object_array_get_idx(props, i), "has_unique_value");
    assert_int_equal(unique, 1);
    json_object *sid = find_by(props, "name", "salesforce_id");
    assert_true(flag(sid, "has_unique_value"));
    assert_string_equal(str(sid, "label"), "Salesforce ID");
    assert_string_equal(str(sid, "type"), "string");
    assert_string_equal(str(sid, "field_type"), "text");
    assert_false(flag(sid, "required"));
    assert_false(flag(sid, "read_only"));

    json_object *name = find_by(props, "name", "name");
    assert_true(flag(name, "required"));
    assert_false(flag(name, "has_unique_value"));

    json_object *st = find_by(props, "name", "status");
    assert_string_equal(str(st, "type"), "enumeration");
    assert_string_equal(str(st, "field_type"), "select");
    json_object *options = get(st, "options");
    assert_int_equal(json_object_array_length(options), 3);
    static const char *const values[] = {"planned", "active", "done"};
    static const char *const labels[] = {"Planned", "Active", "Done"};
    for (size_t i = 0; i < 3; i++) {
        json_object *op = json_object_array_get_idx(options, i);
        assert_string_equal(str(op, "value"), values[i]);
        assert_string_equal(str(op, "label"), labels[i]);
        assert_false(flag(op, "hidden"));
    }
    assert_string_equal(str(find_by(props, "name", "tags"), "field_type"), "checkbox");

    json_object *score = find_by(props, "name", "score");
    assert_true(flag(score, "calculated"));
    assert_true(flag(score, "read_only"));
    assert_true(flag(find_by(props, "name", "hs_object_id"), "read_only"));
    assert_false(flag(find_by(props, "name", "budget"), "calculated"));

    /* the association type the schema defines */
    json_object *assocs = get(o, "associations");
    assert_int_equal(json_object_array_length(assocs), 1);
    json_object *a = json_object_array_get_idx(assocs, 0);
    static const char *const akeys[] = {"id", "name", "to_object_type_id", NULL};
    assert_keys(a, akeys);
    assert_true(json_object_is_type(get(a, "id"), json_type_int));
    assert_int_equal(json_object_get_int64(get(a, "id")), 101);
    assert_string_equal(str(a, "name"), "project_to_company");
    assert_string_equal(str(a, "to_object_type_id"), "0-2");
    json_object_put(o);

    /* the fully qualified name names the same object; a standard object by its name */
    o = admin_get(f, "/api/hubspot/objects/p12345678_projects", &status);
    assert_int_equal(status, 200);
    assert_string_equal(str(o, "object_type_id"), "2-3465404");
    json_object_put(o);
    o = admin_get(f, "/api/hubspot/objects/companies", &status);
    assert_int_equal(status, 200);
    assert_string_equal(str(o, "object_type_id"), "0-2");
    assert_true(flag(find_by(get(o, "properties"), "name", "domain"), "has_unique_value"));
    assert_int_equal(json_object_array_length(get(o, "required_properties")), 0);
    json_object_put(o);
}

/* ---- errors ---- */

static void test_unknown_objects_404(void **state)
{
    struct fixture *f = *state;
    long status;
    json_object *o = admin_get(f, "/api/salesforce/objects/Nope__c", &status);
    assert_int_equal(status, 404);
    assert_error(o, "not_found", "Salesforce object Nope__c does not exist");
    json_object_put(o);
    o = admin_get(f, "/api/hubspot/objects/2-999999", &status);
    assert_int_equal(status, 404);
    assert_error(o, "not_found", "HubSpot object 2-999999 does not exist");
    json_object_put(o);
    /* names no CRM can have are refused without asking it */
    o = admin_get(f, "/api/salesforce/objects/Project__c%20x", &status);
    assert_int_equal(status, 404);
    assert_error(o, "not_found", "does not exist");
    json_object_put(o);
    o = admin_get(f, "/api/hubspot/objects/p1.x", &status);
    assert_int_equal(status, 404);
    json_object_put(o);
}

static const char *const all_paths[] = {
    "/api/salesforce/objects",
    "/api/salesforce/objects/Project__c",
    "/api/hubspot/objects",
    "/api/hubspot/objects/2-3465404",
};

static void test_no_token_401(void **state)
{
    struct fixture *f = *state;
    for (size_t i = 0; i < sizeof all_paths / sizeof all_paths[0]; i++) {
        static const char *const auths[] = {NULL, "Authorization: Bearer wrong-token-0123456789",
                                            "Authorization: Basic " ADMIN};
        for (size_t k = 0; k < sizeof auths / sizeof auths[0]; k++) {
            long status;
            json_object *o = api_get(f, all_paths[i], auths[k], &status, NULL);
            assert_int_equal(status, 401);
            assert_error(o, "unauthorized", NULL);
            assert_null(get(o, "objects"));
            json_object_put(o);
        }
    }
}

static void test_unconfigured_503(void **state)
{
    struct fixture *f = *state;
    for (size_t i = 0; i < sizeof all_paths / sizeof all_paths[0]; i++) {
        long status;
        json_object *o = admin_get(f, all_paths[i], &status);
        assert_int_equal(status, 503);
        bool sf = strstr(all_paths[i], "salesforce") != NULL;
        assert_error(o, "crm_unconfigured",
                     sf ? "Salesforce API access is not configured"
                        : "HubSpot API access is not "
                          "configured");
        /* the message names what to set */
        if (sf) {
            assert_error(o, "crm_unconfigured", "SALESFORCE_CLIENT_SECRET");
            assert_error(o, "crm_unconfigured", "SALESFORCE_REFRESH_TOKEN");
            assert_error(o, "crm_unconfigured", "SALESFORCE_JWT_KEY_FILE");
        } else {
            assert_error(o, "crm_unconfigured", "HUBSPOT_ACCESS_TOKEN");
            assert_error(o, "crm_unconfigured", "HUBSPOT_REFRESH_TOKEN");
        }
        json_object_put(o);
    }
}

static const char *const secrets[] = {"pat-sim-token", "sim-sf-client-secret",
                                      "sim-sf-refresh-token", "sf-sim-token", ADMIN};

static void assert_no_secret(const char *body)
{
    for (size_t i = 0; i < sizeof secrets / sizeof secrets[0]; i++)
        if (strstr(body, secrets[i]))
            fail_msg("the answer leaks %s: %s", secrets[i], body);
}

/* 502 with the CRM's (scrubbed) message. */
static void assert_crm_unavailable(const struct fixture *f, const char *path, const char *message)
{
    long status;
    char *raw = NULL;
    json_object *o = api_get(f, path, "Authorization: Bearer " ADMIN, &status, &raw);
    assert_int_equal(status, 502);
    assert_error(o, "crm_unavailable", message);
    assert_no_secret(raw);
    free(raw);
    json_object_put(o);
}

static void test_crm_failure_502(void **state)
{
    struct fixture *f = *state;
    /* the CRMs' error messages echo the credentials: synkro must not pass them on */
    assert_int_equal(
        harness_crmsim_post(&f->sim, "/_sim/faults",
                            "{\"match\":\"GET /crm-object-schemas/v3/schemas\",\"status\":500,"
                            "\"body\":{\"status\":\"error\",\"category\":\"INTERNAL_ERROR\","
                            "\"message\":\"schema store down (token pat-sim-token)\","
                            "\"correlationId\":\"c0ffee00-0000-4000-8000-000000000001\"}}"),
        201);
    assert_crm_unavailable(f, "/api/hubspot/objects", "schema store down (token ***)");
    assert_crm_unavailable(f, "/api/hubspot/objects/2-3465404", "schema store down (token ***)");
    assert_int_equal(
        harness_crmsim_post(&f->sim, "/_sim/faults",
                            "{\"match\":\"GET /services/data/v62.0/sobjects\",\"status\":500,"
                            "\"body\":[{\"errorCode\":\"UNKNOWN_EXCEPTION\",\"message\":\"describe "
                            "failed for sim-sf-client-secret/sim-sf-refresh-token\"}]}"),
        201);
    assert_crm_unavailable(f, "/api/salesforce/objects", "describe failed for ***/***");
    assert_crm_unavailable(f, "/api/salesforce/objects/Project__c", "describe failed for ***/***");

    /* the faults gone, the same calls answer again */
    struct harness_response r;
    char url[256];
    snprintf(url, sizeof url, "%s/_sim/faults", f->sim.base_url);
    assert_int_equal(harness_http("DELETE", url, NULL, NULL, 0, &r), 0);
    assert_int_equal(r.status, 200);
    harness_response_free(&r);
    for (size_t i = 0; i < sizeof all_paths / sizeof all_paths[0]; i++) {
        long status;
        json_object *o = admin_get(f, all_paths[i], &status);
        assert_int_equal(status, 200);
        json_object_put(o);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_salesforce_objects, setup, teardown),
        cmocka_unit_test_setup_teardown(test_salesforce_object_fields, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hubspot_objects, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hubspot_object_properties, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_objects_404, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_token_401, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unconfigured_503, setup_unconfigured, teardown),
        cmocka_unit_test_setup_teardown(test_crm_failure_502, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
