/* it_sync_assoc.c: association sync end to end: the real `synkro serve` against crmsim and a real
 * PostgreSQL, with two mappings (Account <-> companies 0-2, Project__c <-> a custom object whose
 * lookup Account__c syncs as an association to 0-2, default resolver) from
 * tests/fixtures/sync_assoc.json.
 *
 * Owns the scenarios: a Salesforce lookup becomes a HubSpot association; changing the lookup
 * moves the association; moving the association in HubSpot changes the lookup; a lookup whose
 * target is not synced yet waits (the event's last_error says why) and is applied by a retry once
 * the target syncs, without another edit of the project.
 *
 * Expectations come from sync/sync_assoc.h (the documented semantics), not from the engine's
 * code. Must not: mock anything or sleep fixed times where it can poll. */
#include "sync_env.h"

#include <json-c/json.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define WAIT_MS     45000
#define HS_PROJECTS "2-5550002"
#define HS_COMPANY  "0-2"
#define SF_ACCOUNT  "Account"
#define SF_PROJECT  "Project__c"
#define HS_TOKEN    "pat-sim-token"

static const char account_doc[] =
    "{\"name\":\"Accounts\",\"salesforce_object\":\"" SF_ACCOUNT "\","
    "\"hubspot_object\":\"" HS_COMPANY "\","
    "\"rules\":{\"salesforce_to_hubspot\":{\"create\":true,\"update\":true,\"delete\":\"none\"},"
    "\"hubspot_to_salesforce\":{\"create\":true,\"update\":true,\"delete\":\"none\"},"
    "\"conflict_winner\":\"salesforce\"},"
    "\"identity\":{\"hubspot_property\":\"salesforce_account_id\","
    "\"salesforce_field\":\"HubSpot_Id__c\"},"
    "\"fields\":[{\"salesforce\":\"Name\",\"hubspot\":\"name\",\"rule\":\"two_way\"}]}";

static const char project_doc[] =
    "{\"name\":\"Projects\",\"salesforce_object\":\"" SF_PROJECT "\","
    "\"hubspot_object\":\"" HS_PROJECTS "\","
    "\"rules\":{\"salesforce_to_hubspot\":{\"create\":true,\"update\":true,\"delete\":\"none\"},"
    "\"hubspot_to_salesforce\":{\"create\":true,\"update\":true,\"delete\":\"none\"},"
    "\"conflict_winner\":\"salesforce\"},"
    "\"identity\":{\"hubspot_property\":\"salesforce_id\",\"salesforce_field\":\"HubSpot_Id__c\"},"
    "\"fields\":[{\"salesforce\":\"Name\",\"hubspot\":\"name\",\"rule\":\"two_way\"}],"
    "\"associations\":[{\"salesforce_field\":\"Account__c\",\"hubspot_object\":\"" HS_COMPANY "\","
    "\"enabled\":true}]}";

/* ---- environment ---- */

/* Outbound messages for both Salesforce objects (the lookup among the project's fields). */
static int load_outbound_rules(const struct sync_env *env)
{
    char url[256], doc[1024];
    sync_env_outbound_url(env, url, sizeof url);
    snprintf(
        doc, sizeof doc,
        "{\"salesforce\":{\"outbound_rules\":["
        "{\"object\":\"" SF_ACCOUNT "\",\"fields\":[\"Name\",\"HubSpot_Id__c\"],\"url\":\"%s\"},"
        "{\"object\":\"" SF_PROJECT "\",\"fields\":[\"Name\",\"Account__c\",\"HubSpot_Id__c\"],"
        "\"url\":\"%s\"}]}}",
        url, url);
    long st = 0;
    json_object *o = sync_sim(env, "POST", "/_sim/fixtures", doc, &st);
    if (st != 200)
        fprintf(stderr, "loading outbound rules -> %ld %s\n", st,
                o ? json_object_to_json_string(o) : "");
    json_object_put(o);
    return st == 200 ? 0 : -1;
}

static int setup(void **state)
{
    static const char *const docs[] = {account_doc, project_doc, NULL};
    static const char *const extra[] = {"SYNKRO_RETRY_BASE_MS=50", "SYNKRO_RETRY_CAP_MS=500",
                                        "SYNKRO_RETRY_MAX_ATTEMPTS=200", NULL};
    struct sync_env_options o = {
        .fixture = "tests/fixtures/sync_assoc.json",
        .mapping_docs = docs,
        .extra_env = extra,
    };
    struct sync_env *env = sync_env_start(&o);
    if (!env)
        return -1;
    if (load_outbound_rules(env) != 0) {
        sync_env_stop(env);
        return -1;
    }
    *state = env;
    return 0;
}

static int teardown(void **state)
{
    struct sync_env *env = *state;
    *state = NULL;
    return sync_env_stop(env) == 0 ? 0 : -1;
}

/* ---- records through /_sim/ ---- */

static void sf_create(const struct sync_env *env, const char *object, const char *fields, char *id,
                      size_t idlen)
{
    char path[128];
    long st = 0;
    snprintf(path, sizeof path, "/_sim/salesforce/%s/records", object);
    json_object *o = sync_sim(env, "POST", path, fields, &st);
    const char *v = json_object_get_string(sync_get(o, "Id"));
    if (st != 201 || !v)
        fail_msg("creating %s %s -> %ld", object, fields, st);
    snprintf(id, idlen, "%s", v);
    json_object_put(o);
}

static void sf_patch(const struct sync_env *env, const char *object, const char *id,
                     const char *fields)
{
    char path[160];
    long st = 0;
    snprintf(path, sizeof path, "/_sim/salesforce/%s/records/%s", object, id);
    json_object_put(sync_sim(env, "PATCH", path, fields, &st));
    if (st != 200)
        fail_msg("updating %s %s with %s -> %ld", object, id, fields, st);
}

static void hs_assoc(const struct sync_env *env, const char *method, const char *project,
                     const char *company)
{
    char body[256];
    long st = 0;
    snprintf(body, sizeof body,
             "{\"fromObjectType\":\"" HS_PROJECTS "\",\"fromObjectId\":\"%s\","
             "\"toObjectType\":\"" HS_COMPANY "\",\"toObjectId\":\"%s\"}",
             project, company);
    json_object *o = sync_sim(env, method, "/_sim/hubspot/associations", body, &st);
    if (st < 200 || st > 299)
        fail_msg("%s /_sim/hubspot/associations %s -> %ld %s", method, body, st,
                 o ? json_object_to_json_string(o) : "");
    json_object_put(o);
}

/* The Salesforce field's text ("" when blank or unknown) into out. */
static void sf_field(const struct sync_env *env, const char *object, const char *id,
                     const char *field, char *out, size_t outlen)
{
    char path[160];
    long st = 0;
    snprintf(path, sizeof path, "/_sim/salesforce/%s/records/%s", object, id);
    json_object *o = sync_sim(env, "GET", path, NULL, &st);
    snprintf(out, outlen, "%s", st == 200 ? sync_sf_value(o, field) : "");
    json_object_put(o);
}

static int cmp_id(const void *a, const void *b)
{
    return strcmp(a, b);
}

/* The ids of the companies the HubSpot project is associated with (v4 read), sorted, joined with
 * ","; "" when none. */
static void hs_companies(const struct sync_env *env, const char *project, char *out, size_t outlen)
{
    char url[384];
    snprintf(url, sizeof url, "%s/crm/v4/objects/" HS_PROJECTS "/%s/associations/" HS_COMPANY,
             env->sim.base_url, project);
    const char *h[] = {"Authorization: Bearer " HS_TOKEN, NULL};
    struct harness_response r;
    out[0] = '\0';
    if (harness_http("GET", url, h, NULL, 0, &r) == 0 && r.status == 200 && r.body_len) {
        json_object *o = json_tokener_parse(r.body);
        json_object *res = sync_get(o, "results");
        char ids[32][32];
        size_t n = 0;
        for (size_t i = 0; res && i < json_object_array_length(res) && n < 32; i++) {
            json_object *t = sync_get(json_object_array_get_idx(res, i), "toObjectId");
            snprintf(ids[n++], sizeof ids[0], "%s", t ? json_object_get_string(t) : "?");
        }
        qsort(ids, n, sizeof ids[0], cmp_id);
        for (size_t i = 0; i < n; i++) {
            size_t len = strlen(out);
            snprintf(out + len, outlen - len, "%s%s", i ? "," : "", ids[i]);
        }
        json_object_put(o);
    } else {
        snprintf(out, outlen, "(read failed: %ld)", r.status);
    }
    harness_response_free(&r);
}

/* ---- waiting ---- */

struct linked_wait {
    const struct sync_env *env;
    const char *type, *prop, *sf_id;
    char hs_id[64];
};

/* A live HubSpot record of type with prop = sf_id. */
static bool linked_found(void *ud)
{
    struct linked_wait *w = ud;
    char path[128];
    snprintf(path, sizeof path, "/_sim/hubspot/%s/records", w->type);
    json_object *o = sync_sim(w->env, "GET", path, NULL, NULL);
    json_object *list = sync_get(o, "results");
    bool found = false;
    for (size_t i = 0; !found && list && i < json_object_array_length(list); i++) {
        json_object *rec = json_object_array_get_idx(list, i);
        if (!sync_hs_archived(rec) && strcmp(sync_hs_value(rec, w->prop), w->sf_id) == 0) {
            snprintf(w->hs_id, sizeof w->hs_id, "%s", json_object_get_string(sync_get(rec, "id")));
            found = true;
        }
    }
    json_object_put(o);
    return found;
}

static void wait_synced(const struct sync_env *env, const char *type, const char *prop,
                        const char *sf_id, char *hs_id, size_t len)
{
    struct linked_wait w = {env, type, prop, sf_id, ""};
    if (!harness_wait_until(linked_found, &w, WAIT_MS)) {
        sync_report_failed(env, 10);
        sync_env_dump_logs(env, 4000);
        fail_msg("Salesforce %s did not sync to HubSpot %s (no record with %s = %s)", sf_id, type,
                 prop, sf_id);
    }
    snprintf(hs_id, len, "%s", w.hs_id);
}

struct assoc_wait {
    const struct sync_env *env;
    const char *project, *want;
    char got[512];
};

static bool assoc_is(void *ud)
{
    struct assoc_wait *w = ud;
    hs_companies(w->env, w->project, w->got, sizeof w->got);
    return strcmp(w->got, w->want) == 0;
}

/* Polls until the HubSpot project is associated with exactly the companies in want. */
static void wait_assoc(const struct sync_env *env, const char *project, const char *want,
                       const char *what)
{
    struct assoc_wait w = {env, project, want, ""};
    if (!harness_wait_until(assoc_is, &w, WAIT_MS)) {
        sync_report_failed(env, 10);
        sync_env_dump_logs(env, 4000);
        fail_msg("%s: HubSpot project %s associated with companies [%s], expected [%s]", what,
                 project, w.got, want);
    }
}

struct field_wait {
    const struct sync_env *env;
    const char *object, *id, *field, *want;
    char got[256];
};

static bool field_is(void *ud)
{
    struct field_wait *w = ud;
    sf_field(w->env, w->object, w->id, w->field, w->got, sizeof w->got);
    return strcmp(w->got, w->want) == 0;
}

static void wait_sf_field(const struct sync_env *env, const char *object, const char *id,
                          const char *field, const char *want, const char *what)
{
    struct field_wait w = {env, object, id, field, want, ""};
    if (!harness_wait_until(field_is, &w, WAIT_MS)) {
        sync_report_failed(env, 10);
        sync_env_dump_logs(env, 4000);
        fail_msg("%s: Salesforce %s %s.%s = \"%s\", expected \"%s\"", what, object, id, field,
                 w.got, want);
    }
}

/* An account created in Salesforce and synced to a company; ids into sf / hs (64 bytes). */
static void synced_account(const struct sync_env *env, const char *name, char *sf, char *hs)
{
    char *fields = sync_json_kv("Name", name, (const char *)NULL);
    sf_create(env, SF_ACCOUNT, fields, sf, 64);
    free(fields);
    wait_synced(env, HS_COMPANY, "salesforce_account_id", sf, hs, 64);
}

/* A project created in Salesforce with Account__c = account, synced; ids into sf / hs. */
static void synced_project(const struct sync_env *env, const char *name, const char *account,
                           char *sf, char *hs)
{
    char *fields = sync_json_kv("Name", name, "Account__c", account, (const char *)NULL);
    sf_create(env, SF_PROJECT, fields, sf, 64);
    free(fields);
    wait_synced(env, HS_PROJECTS, "salesforce_id", sf, hs, 64);
}

/* ---- scenarios ---- */

/* 1: a lookup becomes an association; 2: changing it moves the association; 3: moving the
 * association in HubSpot changes the lookup. */
static void test_lookup_and_association_follow_each_other(void **state)
{
    struct sync_env *env = *state;
    char a_sf[64], a_hs[64], b_sf[64], b_hs[64], c_sf[64], c_hs[64], p_sf[64], p_hs[64];

    synced_account(env, "Account A", a_sf, a_hs);
    synced_project(env, "Project P", a_sf, p_sf, p_hs);
    wait_assoc(env, p_hs, a_hs, "scenario 1 (Account__c = A on create)");

    synced_account(env, "Account B", b_sf, b_hs);
    char *fields = sync_json_kv("Account__c", b_sf, (const char *)NULL);
    sf_patch(env, SF_PROJECT, p_sf, fields);
    free(fields);
    wait_assoc(env, p_hs, b_hs, "scenario 2 (Account__c changed A -> B)");

    synced_account(env, "Account C", c_sf, c_hs);
    hs_assoc(env, "POST", p_hs, c_hs);
    hs_assoc(env, "DELETE", p_hs, b_hs);
    wait_sf_field(env, SF_PROJECT, p_sf, "Account__c", c_sf,
                  "scenario 3 (HubSpot association moved B -> C)");
    wait_assoc(env, p_hs, c_hs, "scenario 3 (HubSpot keeps only C)");
    if (!sync_wait_quiet(env, 60000))
        fail_msg("the sync did not settle after scenario 3");
    char now[64];
    sf_field(env, SF_PROJECT, p_sf, "Account__c", now, sizeof now);
    assert_string_equal(now, c_sf);
    assert_int_equal(sync_report_failed(env, 10), 0);
}

struct error_wait {
    const struct sync_env *env;
    const char *record, *needle;
};

static bool error_recorded(void *ud)
{
    struct error_wait *w = ud;
    return sync_db_count(w->env,
                         "SELECT count(*) FROM change_events WHERE record_id = $1 AND "
                         "strpos(coalesce(last_error, ''), $2) > 0",
                         w->record, w->needle, (const char *)NULL) > 0;
}

/* Prints the events of one record (for failure reports). */
static void print_events(const struct sync_env *env, const char *record)
{
    char path[160];
    snprintf(path, sizeof path, "/api/events?record_id=%s", record);
    long st = 0;
    json_object *o = sync_api(env, "GET", path, NULL, &st);
    fprintf(stderr, "GET %s -> %ld %s\n", path, st, o ? json_object_to_json_string(o) : "");
    json_object_put(o);
}

/* 4: the lookup's target is not synced yet: the project syncs, its association waits with a
 * reason, and a retry adds it once the account syncs, without editing the project again. */
static void test_association_waits_for_target(void **state)
{
    struct sync_env *env = *state;
    /* D is loaded as fixture data: no outbound message, and the sweep is off, so it stays
     * unsynced until it is edited. */
    static const char fixture[] =
        "{\"salesforce\":{\"records\":{\"" SF_ACCOUNT "\":[{\"Name\":\"Account D\"}]}}}";
    long st = 0;
    json_object_put(sync_sim(env, "POST", "/_sim/fixtures", fixture, &st));
    assert_int_equal(st, 200);
    json_object *all = sync_sim(env, "GET", "/_sim/salesforce/" SF_ACCOUNT "/records", NULL, NULL);
    json_object *recs = sync_get(all, "records");
    assert_non_null(recs);
    assert_int_equal(json_object_array_length(recs), 1);
    char d_sf[64], d_hs[64], q_sf[64], q_hs[64];
    snprintf(d_sf, sizeof d_sf, "%s", sync_sf_value(json_object_array_get_idx(recs, 0), "Id"));
    json_object_put(all);

    synced_project(env, "Project Q", d_sf, q_sf, q_hs);
    struct error_wait ew = {env, q_sf, d_sf};
    if (!harness_wait_until(error_recorded, &ew, WAIT_MS)) {
        print_events(env, q_sf);
        fail_msg("no event of project %s has a last_error naming the unsynced account %s", q_sf,
                 d_sf);
    }
    char got[512];
    hs_companies(env, q_hs, got, sizeof got);
    assert_string_equal(got, "");

    sf_patch(env, SF_ACCOUNT, d_sf, "{\"Name\":\"Account D (synced)\"}");
    wait_synced(env, HS_COMPANY, "salesforce_account_id", d_sf, d_hs, sizeof d_hs);
    wait_assoc(env, q_hs, d_hs, "scenario 4 (target synced later, retried without an edit)");
    if (!sync_wait_quiet(env, 60000)) {
        print_events(env, q_sf);
        fail_msg("the sync did not settle after scenario 4");
    }
    char now[64];
    sf_field(env, SF_PROJECT, q_sf, "Account__c", now, sizeof now);
    assert_string_equal(now, d_sf);
    assert_int_equal(sync_report_failed(env, 10), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_lookup_and_association_follow_each_other, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_association_waits_for_target, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
