/* it_conflicts.c: GET /api/conflicts end to end through HTTP against real PostgreSQL: conflicts
 * seeded with SQL listed newest first with every field, filters (mapping, Salesforce id in 18 and
 * 15 characters, HubSpot id, field or property), keyset paging across pages, the default and
 * maximum limits, 400 with a message for bad parameters, 401 without the admin token, 503
 * when the database is gone, and the janitor pruning conflicts past their retention. */
#include "harness.h"

#include <inttypes.h>
#include <json-c/json.h>
#include <setjmp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define ADMIN "admin-token-0123456789abcdef"

struct fixture {
    struct harness_db db;
    struct harness_proc proc;
};

static const char *const base_env[] = {"SALESFORCE_ORG_ID=00D5g000004Sbsb",
                                       "SYNKRO_SF_ENDPOINT_TOKEN=sf-endpoint-token-0123456789",
                                       "HUBSPOT_CLIENT_SECRET=hs-secret-abcdef-0123456789",
                                       "HUBSPOT_PORTAL_ID=62515",
                                       "SYNKRO_ADMIN_TOKEN=" ADMIN,
                                       "SYNKRO_CONFLICT_RETENTION=1",
                                       NULL};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    if (!f)
        return -1;
    *state = f;
    return harness_synkro_start_fresh(&f->db, &f->proc, base_env);
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    harness_synkro_kill_fresh(&f->db, &f->proc);
    free(f);
    return 0;
}

static json_object *request(struct fixture *f, const char *path, const char *token, long *status)
{
    char url[512], auth[128];
    snprintf(url, sizeof url, "%s%s", f->proc.base_url, path);
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", token ? token : "");
    const char *h[] = {auth, NULL};
    struct harness_response r;
    assert_int_equal(harness_http("GET", url, token ? h : NULL, NULL, 0, &r), 0);
    *status = r.status;
    json_object *o = json_tokener_parse(r.body);
    harness_response_free(&r);
    return o;
}

static json_object *get_ok(struct fixture *f, const char *path)
{
    long status;
    json_object *o = request(f, path, ADMIN, &status);
    if (status != 200)
        fail_msg("%s: status %ld", path, status);
    assert_non_null(o);
    return o;
}

static json_object *field(json_object *o, const char *key)
{
    json_object *v = NULL;
    if (!json_object_object_get_ex(o, key, &v))
        fail_msg("no field %s in %s", key, json_object_to_json_string(o));
    return v;
}

static void exec_ok(PGconn *conn, const char *sql)
{
    PGresult *res = PQexec(conn, sql);
    if (PQresultStatus(res) != PGRES_COMMAND_OK)
        fail_msg("%s: %s", sql, PQerrorMessage(conn));
    PQclear(res);
}

/* Six conflicts, oldest first: ids 1..6 of a fresh database. */
static void seed(struct fixture *f)
{
    PGconn *conn = harness_db_connect(&f->db);
    exec_ok(conn,
            "INSERT INTO sync_conflicts (mapping_id, link_id, salesforce_id, hubspot_id,"
            " salesforce_field, hubspot_property, salesforce_value, hubspot_value, winner, reason)"
            " VALUES"
            " (1, 10, '001A0000006Vm9rIAC', '501', 'Name', 'name', '\"Z\\u00fcrich\"', 'Zurich',"
            "  'salesforce', 'conflict_winner'),"
            " (1, 10, '001A0000006Vm9rIAC', '501', 'Amount__c', 'amount', '0.1', '0.2',"
            "  'hubspot', 'field_rule'),"
            " (2, NULL, 'a01000000000002AAA', '502', 'Name', 'project_name', NULL, '',"
            "  'hubspot', 'blank'),"
            " (1, 11, 'a01000000000003AAA', '503', 'Stage__c', 'stage', '\"Open\"', 'open',"
            "  'salesforce', 'conflict_winner'),"
            " (2, 12, 'a01000000000004AAA', '504', 'Stage__c', 'name', '\"Won\"', 'won',"
            "  'hubspot', 'conflict_winner'),"
            " (1, 10, '001A0000006Vm9rIAC', '501', 'Stage__c', 'stage', '\"Done\"', 'done',"
            "  'salesforce', 'field_rule')");
    PQfinish(conn);
}

/* The ids listed, joined with ','. */
static const char *ids_of(json_object *o)
{
    static char out[256];
    out[0] = '\0';
    json_object *arr = field(o, "conflicts");
    for (size_t i = 0; i < json_object_array_length(arr); i++) {
        size_t len = strlen(out);
        snprintf(out + len, sizeof out - len, "%s%" PRId64, i ? "," : "",
                 json_object_get_int64(field(json_object_array_get_idx(arr, i), "id")));
    }
    return out;
}

static void test_list_and_fields(void **state)
{
    struct fixture *f = *state;
    seed(f);
    json_object *o = get_ok(f, "/api/conflicts");
    assert_string_equal(ids_of(o), "6,5,4,3,2,1");
    assert_null(field(o, "next_before"));
    json_object *arr = field(o, "conflicts");
    json_object *c = json_object_array_get_idx(arr, 4); /* id 2 */
    assert_int_equal(json_object_get_int64(field(c, "mapping_id")), 1);
    assert_int_equal(json_object_get_int64(field(c, "link_id")), 10);
    assert_string_equal(json_object_get_string(field(c, "salesforce_id")), "001A0000006Vm9rIAC");
    assert_string_equal(json_object_get_string(field(c, "hubspot_id")), "501");
    assert_string_equal(json_object_get_string(field(c, "salesforce_field")), "Amount__c");
    assert_string_equal(json_object_get_string(field(c, "hubspot_property")), "amount");
    assert_string_equal(json_object_to_json_string(field(c, "salesforce_value")), "0.1");
    assert_string_equal(json_object_get_string(field(c, "hubspot_value")), "0.2");
    assert_string_equal(json_object_get_string(field(c, "winner")), "hubspot");
    assert_string_equal(json_object_get_string(field(c, "reason")), "field_rule");
    assert_non_null(strstr(json_object_get_string(field(c, "occurred_at")), "Z"));
    c = json_object_array_get_idx(arr, 5); /* id 1 */
    assert_string_equal(json_object_get_string(field(c, "salesforce_value")), "Z\xc3\xbcrich");
    c = json_object_array_get_idx(arr, 3); /* id 3 */
    assert_null(field(c, "salesforce_value"));
    assert_null(field(c, "link_id"));
    assert_string_equal(json_object_get_string(field(c, "hubspot_value")), "");
    json_object_put(o);
}

static void test_filters(void **state)
{
    struct fixture *f = *state;
    seed(f);
    const struct {
        const char *path, *ids;
    } cases[] = {
        {"/api/conflicts?mapping_id=1", "6,4,2,1"},
        {"/api/conflicts?mapping_id=2", "5,3"},
        {"/api/conflicts?mapping_id=3", ""},
        {"/api/conflicts?salesforce_id=001A0000006Vm9rIAC", "6,2,1"},
        {"/api/conflicts?salesforce_id=001A0000006Vm9r", "6,2,1"},
        {"/api/conflicts?salesforce_id=001a0000006Vm9r", ""},
        {"/api/conflicts?hubspot_id=503", "4"},
        {"/api/conflicts?field=Stage__c", "6,5,4"},
        {"/api/conflicts?field=name", "5,1"},
        {"/api/conflicts?field=Stage__c&mapping_id=1&hubspot_id=501", "6"},
        {"/api/conflicts?field=%27%20OR%201%3D1%20--", ""},
        {"/api/conflicts?unknown=1&mapping_id=2", "5,3"},
        {"/api/conflicts?winner=hubspot", "5,3,2"},
        {"/api/conflicts?winner=salesforce", "6,4,1"},
        {"/api/conflicts?winner=hubspot&mapping_id=1", "2"},
        {"/api/conflicts?record=501", "6,2,1"},
        {"/api/conflicts?record=001A0000006Vm9rIAC", "6,2,1"},
        {"/api/conflicts?record=001A0000006Vm9r", "6,2,1"},
        {"/api/conflicts?record=a01000000000004AAA", "5"},
        {"/api/conflicts?record=504", "5"},
        {"/api/conflicts?record=999", ""},
        {"/api/conflicts?record=501&winner=salesforce", "6,1"},
        {"/api/conflicts?record=501&winner=salesforce&field=Stage__c", "6"},
        {"/api/conflicts?record=%27%20OR%201%3D1%20--", ""},
        {"/api/conflicts?record=501%27%20OR%20%271%27%3D%271&winner=hubspot", ""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        json_object *o = get_ok(f, cases[i].path);
        if (strcmp(ids_of(o), cases[i].ids) != 0)
            fail_msg("%s: %s, want %s", cases[i].path, ids_of(o), cases[i].ids);
        json_object_put(o);
    }
}

static void test_paging(void **state)
{
    struct fixture *f = *state;
    seed(f);
    json_object *o = get_ok(f, "/api/conflicts?limit=4");
    assert_string_equal(ids_of(o), "6,5,4,3");
    assert_int_equal(json_object_get_int64(field(o, "next_before")), 3);
    json_object_put(o);
    o = get_ok(f, "/api/conflicts?limit=4&before=3");
    assert_string_equal(ids_of(o), "2,1");
    assert_null(field(o, "next_before"));
    json_object_put(o);
    o = get_ok(f, "/api/conflicts?mapping_id=1&limit=2&before=6");
    assert_string_equal(ids_of(o), "4,2");
    assert_int_equal(json_object_get_int64(field(o, "next_before")), 2);
    json_object_put(o);
    o = get_ok(f, "/api/conflicts?winner=hubspot&limit=2");
    assert_string_equal(ids_of(o), "5,3");
    assert_int_equal(json_object_get_int64(field(o, "next_before")), 3);
    json_object_put(o);
    o = get_ok(f, "/api/conflicts?winner=hubspot&limit=2&before=3");
    assert_string_equal(ids_of(o), "2");
    assert_null(field(o, "next_before"));
    json_object_put(o);
    o = get_ok(f, "/api/conflicts?record=501&limit=2");
    assert_string_equal(ids_of(o), "6,2");
    assert_int_equal(json_object_get_int64(field(o, "next_before")), 2);
    json_object_put(o);
    o = get_ok(f, "/api/conflicts?record=501&limit=2&before=2");
    assert_string_equal(ids_of(o), "1");
    json_object_put(o);

    /* more than the default page */
    PGconn *conn = harness_db_connect(&f->db);
    exec_ok(conn, "INSERT INTO sync_conflicts (mapping_id, salesforce_field, hubspot_property,"
                  " winner, reason) SELECT 9, 'F', 'p', 'salesforce', 'blank'"
                  " FROM generate_series(1, 600)");
    PQfinish(conn);
    o = get_ok(f, "/api/conflicts?mapping_id=9");
    assert_int_equal(json_object_array_length(field(o, "conflicts")), 100);
    assert_non_null(field(o, "next_before"));
    json_object_put(o);
    o = get_ok(f, "/api/conflicts?mapping_id=9&limit=500");
    assert_int_equal(json_object_array_length(field(o, "conflicts")), 500);
    int64_t next = json_object_get_int64(field(o, "next_before"));
    json_object_put(o);
    char path[128];
    snprintf(path, sizeof path, "/api/conflicts?mapping_id=9&limit=500&before=%" PRId64, next);
    o = get_ok(f, path);
    assert_int_equal(json_object_array_length(field(o, "conflicts")), 100);
    assert_null(field(o, "next_before"));
    json_object_put(o);
}

static void test_bad_parameters(void **state)
{
    struct fixture *f = *state;
    seed(f);
    const struct {
        const char *path, *message;
    } cases[] = {
        {"/api/conflicts?limit=0", "limit"},
        {"/api/conflicts?limit=501", "limit"},
        {"/api/conflicts?limit=ten", "limit"},
        {"/api/conflicts?limit=", "limit"},
        {"/api/conflicts?limit=5x", "limit"},
        {"/api/conflicts?before=-1", "before"},
        {"/api/conflicts?before=0", "before"},
        {"/api/conflicts?before=99999999999999999999", "before"},
        {"/api/conflicts?mapping_id=abc", "mapping_id"},
        {"/api/conflicts?mapping_id=0", "mapping_id"},
        {"/api/conflicts?salesforce_id=", "salesforce_id"},
        {"/api/conflicts?hubspot_id=", "hubspot_id"},
        {"/api/conflicts?field=", "field"},
        {"/api/conflicts?winner=both", "winner"},
        {"/api/conflicts?winner=", "winner"},
        {"/api/conflicts?winner=SALESFORCE", "winner"},
        {"/api/conflicts?winner=salesforce%27--", "winner"},
        {"/api/conflicts?record=", "record"},
        {"/api/conflicts?record=0123456789012345678901234567890123456789012345678901234567890123"
         "4",
         "record"},
        {"/api/conflicts?field=0123456789012345678901234567890123456789012345678901234567890123"
         "4",
         "field"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        long status;
        json_object *o = request(f, cases[i].path, ADMIN, &status);
        if (status != 400)
            fail_msg("%s: status %ld", cases[i].path, status);
        assert_non_null(o);
        json_object *err = field(o, "error");
        assert_string_equal(json_object_get_string(field(err, "code")), "bad_query");
        const char *msg = json_object_get_string(field(err, "message"));
        if (!strstr(msg, cases[i].message))
            fail_msg("%s: message \"%s\" does not name %s", cases[i].path, msg, cases[i].message);
        json_object_put(o);
    }
}

static void test_needs_admin_token(void **state)
{
    struct fixture *f = *state;
    seed(f);
    long status;
    json_object *o = request(f, "/api/conflicts", NULL, &status);
    assert_int_equal(status, 401);
    json_object_put(o);
    o = request(f, "/api/conflicts", "wrong-token-0123456789", &status);
    assert_int_equal(status, 401);
    json_object_put(o);
    o = request(f, "/api/conflicts?limit=0", NULL, &status);
    assert_int_equal(status, 401);
    json_object_put(o);
}

static bool only_recent_left(void *ud)
{
    struct fixture *f = ud;
    char *v = harness_db_scalar(&f->db, "SELECT count(*) FROM sync_conflicts");
    bool done = v && strcmp(v, "3") == 0;
    free(v);
    return done;
}

/* The janitor prunes conflicts older than SYNKRO_CONFLICT_RETENTION days (here 1); newer ones
 * stay listed. Its rounds run every 5 s. */
static void test_janitor_prunes_old_conflicts(void **state)
{
    struct fixture *f = *state;
    seed(f);
    PGconn *conn = harness_db_connect(&f->db);
    exec_ok(conn, "UPDATE sync_conflicts SET occurred_at = now() - interval '2 days'"
                  " WHERE id IN (1, 3, 5)");
    PQfinish(conn);
    assert_true(harness_wait_until(only_recent_left, f, 15000));
    json_object *o = get_ok(f, "/api/conflicts");
    assert_string_equal(ids_of(o), "6,4,2");
    json_object_put(o);
}

/* The database goes away under a running synkro: 503 "unavailable", never a crash. */
static void test_database_gone(void **state)
{
    struct fixture *f = *state;
    seed(f);
    json_object *o = get_ok(f, "/api/conflicts");
    json_object_put(o);
    harness_db_drop(&f->db);
    long status;
    o = request(f, "/api/conflicts", ADMIN, &status);
    assert_int_equal(status, 503);
    assert_non_null(o);
    assert_string_equal(json_object_get_string(field(field(o, "error"), "code")), "unavailable");
    json_object_put(o);
    o = request(f, "/api/conflicts?limit=0", ADMIN, &status);
    assert_int_equal(status, 400); /* parameters are checked before the database */
    json_object_put(o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_list_and_fields, setup, teardown),
        cmocka_unit_test_setup_teardown(test_filters, setup, teardown),
        cmocka_unit_test_setup_teardown(test_paging, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_parameters, setup, teardown),
        cmocka_unit_test_setup_teardown(test_needs_admin_token, setup, teardown),
        cmocka_unit_test_setup_teardown(test_database_gone, setup, teardown),
        cmocka_unit_test_setup_teardown(test_janitor_prunes_old_conflicts, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
