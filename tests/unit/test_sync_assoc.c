/* test_sync_assoc.c: sync/sync_assoc against crmsim and a real PostgreSQL: a Project__c ->
 * projects mapping whose Account__c lookup maps to a companies (0-2) association, resolved through
 * the links of an Account -> companies mapping (seeded with link_save_batch) or a HubSpot
 * property. Each run is followed by what the engine does with the outputs: the base keys merged
 * into the pair's stored values.
 *
 * Covers: lookup set -> association created (and a second run writes nothing); lookup changed ->
 * old association archived, new one created; lookup cleared -> archived; HubSpot association
 * changed / removed -> the lookup set / cleared in Salesforce; an unlinked target waits with a
 * reason and its base untouched, then syncs once linked; the property resolver both ways; a
 * labelled association type; a change on both sides resolved by each conflict winner; 30 pairs
 * in one association read and one create call; an association read error naming one pair's
 * record (gone: that pair fails with OBJECT_NOT_FOUND / 404, the others sync) and create /
 * archive errors naming one pair's ids (that pair fails and keeps its base, the others sync),
 * injected with crmsim fault rules. Fails (never skips) without CRMSIM_BIN or
 * SYNKRO_TEST_ADMIN_URL. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "crmsim_proc.h"
#include "unit_sim.h"
#include "db/link_store.h"
#include "crm/hubspot_client.h"
#include "crm/salesforce_client.h"
#include "sync/sync_assoc.h"
#include "testdb.h"
#include "testdb_sql.h"

#include <json-c/json.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PRJ   "2-3465404"
#define KEY   "@assoc:Account__c"
#define NPROJ 30

static const char FIXTURES[] =
    "{\"config\":{\"hubspot_search_delay_ms\":0},"
    "\"hubspot\":{\"schemas\":["
    "{\"name\":\"projects\",\"objectTypeId\":\"2-3465404\",\"primaryDisplayProperty\":\"name\","
    "\"properties\":[{\"name\":\"name\",\"type\":\"string\",\"fieldType\":\"text\"}]},"
    "{\"name\":\"companies\",\"objectTypeId\":\"0-2\",\"primaryDisplayProperty\":\"name\","
    "\"properties\":[{\"name\":\"name\",\"type\":\"string\",\"fieldType\":\"text\"},"
    "{\"name\":\"sf_account_id\",\"type\":\"string\",\"fieldType\":\"text\","
    "\"hasUniqueValue\":true}]}],"
    "\"association_types\":["
    "{\"fromObjectTypeId\":\"2-3465404\",\"toObjectTypeId\":\"0-2\",\"category\":\"USER_DEFINED\","
    "\"typeId\":105},"
    "{\"fromObjectTypeId\":\"0-2\",\"toObjectTypeId\":\"2-3465404\",\"category\":\"USER_DEFINED\","
    "\"typeId\":106},"
    "{\"fromObjectTypeId\":\"2-3465404\",\"toObjectTypeId\":\"0-2\",\"category\":\"USER_DEFINED\","
    "\"typeId\":103,\"label\":\"Sponsor\"},"
    "{\"fromObjectTypeId\":\"0-2\",\"toObjectTypeId\":\"2-3465404\",\"category\":\"USER_DEFINED\","
    "\"typeId\":104,\"label\":\"Sponsor\"}]},"
    "\"salesforce\":{\"describes\":["
    "{\"name\":\"Account\",\"keyPrefix\":\"001\",\"fields\":["
    "{\"name\":\"Name\",\"type\":\"string\",\"length\":255,\"nillable\":false}]},"
    "{\"name\":\"Project__c\",\"keyPrefix\":\"a01\",\"fields\":["
    "{\"name\":\"Name\",\"type\":\"string\",\"length\":80,\"nillable\":false},"
    "{\"name\":\"Account__c\",\"type\":\"reference\",\"referenceTo\":[\"Account\"],"
    "\"relationshipName\":\"Account__r\",\"nillable\":true}]}]}}";

/* conflict winner, then extra members of the association */
static const char MAPPING[] =
    "{\"name\":\"Projects\",\"salesforce_object\":\"Project__c\",\"hubspot_object\":\"2-3465404\","
    "\"rules\":{\"conflict_winner\":\"%s\"},"
    "\"fields\":[{\"salesforce\":\"Name\",\"hubspot\":\"name\"}],"
    "\"associations\":[{\"salesforce_field\":\"Account__c\",\"hubspot_object\":\"0-2\"%s}]}";

#define ACCOUNTS_MAPPING 2

struct env {
    struct testdb *db;
    struct hubspot_client *hc;
    struct salesforce_client *sc;
    struct crm_http *http;
    struct mapping *m;
    const struct salesforce_describe *desc;
    struct assoc_calls calls;
};

struct proj {
    char *sf_id;
    char *hs_id;
    json_object *sf_base;
    json_object *hs_base;
};

/* ---- crmsim helpers ---- */

static char *created_id(json_object *r, const char *key)
{
    const char *id = crmsim_jstr(r, key);
    assert_non_null(id);
    char *copy = strdup(id);
    json_object_put(r);
    return copy;
}

static char *sf_create(const char *object, const char *fields_json)
{
    char path[128];
    snprintf(path, sizeof path, "/_sim/salesforce/%s/records", object);
    return created_id(crmsim_proc_call(&unit_sim, "POST", path, fields_json, NULL), "Id");
}

static char *hs_create(const char *type, const char *props_json)
{
    char path[128], body[512];
    snprintf(path, sizeof path, "/_sim/hubspot/%s/records", type);
    snprintf(body, sizeof body, "{\"properties\":%s}", props_json);
    return created_id(crmsim_proc_call(&unit_sim, "POST", path, body, NULL), "id");
}

static json_object *sf_project(const char *id)
{
    char path[128];
    snprintf(path, sizeof path, "/_sim/salesforce/Project__c/records/%s", id);
    return crmsim_proc_call(&unit_sim, "GET", path, NULL, NULL);
}

static void sf_set_account(const char *id, const char *account)
{
    char path[128], body[128];
    snprintf(path, sizeof path, "/_sim/salesforce/Project__c/records/%s", id);
    snprintf(body, sizeof body, "{\"Account__c\":\"%s\"}", account ? account : "");
    crmsim_proc_ok(&unit_sim, "PATCH", path, body);
}

static void hs_associate(const char *method, const char *project, const char *company)
{
    char body[256];
    snprintf(body, sizeof body,
             "{\"fromObjectType\":\"" PRJ "\",\"fromObjectId\":\"%s\",\"toObjectType\":\"0-2\","
             "\"toObjectId\":\"%s\"}",
             project, company);
    crmsim_proc_ok(&unit_sim, method, "/_sim/hubspot/associations", body);
}

/* The distinct companies the project is associated to, joined with ',' in read order. */
static const char *hs_targets(struct env *e, const char *project, long long type_id)
{
    static char out[512];
    struct hubspot_assoc_links l;
    struct crm_error err;
    const char *ids[] = {project};
    if (hubspot_assoc_batch_read(e->hc, e->http, PRJ, "0-2", ids, 1, &l, &err) < 0)
        fail_msg("assoc read: %s", err.message);
    out[0] = '\0';
    for (size_t i = 0; i < l.n; i++) {
        if (type_id && l.items[i].type_id != type_id)
            continue;
        if (strstr(out, l.items[i].to_id))
            continue;
        size_t len = strlen(out);
        snprintf(out + len, sizeof out - len, "%s%s", len ? "," : "", l.items[i].to_id);
    }
    hubspot_assoc_links_free(&l);
    return out;
}

static long long assoc_calls(const char *route_tail)
{
    char route[160];
    snprintf(route, sizeof route, "POST /crm/v4/associations/{from}/{to}/%s", route_tail);
    return crmsim_proc_count(&unit_sim, route, 200) + crmsim_proc_count(&unit_sim, route, 201) +
           crmsim_proc_count(&unit_sim, route, 204) + crmsim_proc_count(&unit_sim, route, 207);
}

static long long sf_updates(void)
{
    return crmsim_proc_count(&unit_sim, "PATCH /services/data/{version}/composite/sobjects", 200);
}

/* ---- database helpers ---- */

/* Links an Account to a company in the Accounts mapping (as its sync would have). */
static void link_account(struct env *e, const char *account, const char *company)
{
    struct link_write w = {.salesforce_id = account, .hubspot_id = company, .synced = true};
    char err[256];
    if (link_save_batch(e->db->watch, ACCOUNTS_MAPPING, &w, 1, NULL, err, sizeof err) < 0)
        fail_msg("link_save_batch: %s", err);
}

/* An Account linked to a new company; *company receives the company id. */
static char *linked_account(struct env *e, const char *name, char **company)
{
    char fields[128], props[128];
    snprintf(fields, sizeof fields, "{\"Name\":\"%s\"}", name);
    snprintf(props, sizeof props, "{\"name\":\"%s\"}", name);
    char *account = sf_create("Account", fields);
    *company = hs_create("0-2", props);
    link_account(e, account, *company);
    return account;
}

/* ---- setup ---- */

static void set_mapping(struct env *e, const char *winner, const char *extra)
{
    char doc[2048];
    snprintf(doc, sizeof doc, MAPPING, winner, extra);
    struct problem_list problems = PROBLEM_LIST_INIT;
    mapping_free(e->m);
    e->m = NULL;
    if (mapping_parse_text(doc, strlen(doc), &e->m, &problems) != MAPPING_PARSE_OK)
        fail_msg("mapping_parse_text: %s",
                 problems.count ? problems.items[0].message : "out of memory");
    problem_list_free(&problems);
}

static void clients_new(struct env *e)
{
    char err[256];
    struct hubspot_client_options ho = {
        .api_base = unit_sim.base,
        .access_token = "pat-sim-token",
        .retry = {.max_attempts = 2, .base_delay_ms = 10, .max_delay_ms = 50, .max_wait_ms = 1000}};
    e->hc = hubspot_client_create(&ho, err, sizeof err);
    struct salesforce_client_options so = {.access_token = "sf-sim-token",
                                           .instance_url = unit_sim.base,
                                           .login_url = unit_sim.base,
                                           .api_version = "v62.0",
                                           .retry = ho.retry};
    e->sc = salesforce_client_create(&so, err, sizeof err);
    struct crm_http_options hto = {0};
    e->http = crm_http_create(&hto, err, sizeof err);
    if (!e->hc || !e->sc || !e->http)
        fail_msg("clients: %s", err);
    struct crm_error cerr;
    if (salesforce_describe(e->sc, e->http, "Project__c", &e->desc, &cerr) < 0)
        fail_msg("describe: %s", cerr.message);
}

static int setup(void **state)
{
    testdb_setup_migrated(state);
    struct env *e = calloc(1, sizeof *e);
    e->db = *state;
    crmsim_proc_ok(&unit_sim, "POST", "/_sim/reset", NULL);
    crmsim_proc_ok(&unit_sim, "POST", "/_sim/fixtures", FIXTURES);
    clients_new(e);
    testdb_exec_ok(
        e->db->watch,
        "INSERT INTO mappings (id, name, state, salesforce_object, hubspot_object, document,"
        " hubspot_object_type_id) VALUES (2, 'Accounts', 'enabled', 'Account', '0-2',"
        " '{\"name\":\"Accounts\",\"salesforce_object\":\"Account\","
        "\"hubspot_object\":\"0-2\"}'::jsonb, '0-2')");
    set_mapping(e, "salesforce", "");
    *state = e;
    return 0;
}

static int teardown(void **state)
{
    struct env *e = *state;
    salesforce_describe_release(e->desc);
    mapping_free(e->m);
    crm_http_destroy(e->http);
    hubspot_client_destroy(e->hc);
    salesforce_client_destroy(e->sc);
    void *db = e->db;
    free(e);
    return testdb_teardown(&db);
}

/* ---- projects and runs ---- */

static void proj_new(struct proj *p, const char *account)
{
    char fields[128];
    if (account)
        snprintf(fields, sizeof fields, "{\"Name\":\"P\",\"Account__c\":\"%s\"}", account);
    else
        snprintf(fields, sizeof fields, "{\"Name\":\"P\"}");
    p->sf_id = sf_create("Project__c", fields);
    p->hs_id = hs_create(PRJ, "{\"name\":\"P\"}");
    p->sf_base = json_object_new_object();
    p->hs_base = json_object_new_object();
}

static void proj_free(struct proj *p)
{
    free(p->sf_id);
    free(p->hs_id);
    json_object_put(p->sf_base);
    json_object_put(p->hs_base);
}

static void merge_into(json_object *base, json_object *set)
{
    json_object_object_foreach(set, k, v)
    {
        json_object_object_add(base, k, v ? json_object_get(v) : NULL);
    }
}

/* Runs the association step for projects[0..n) as the engine would and stores the new bases
 * (only of pairs without a CRM error). pairs receives the outputs (caller clears them). */
static void run_assoc(struct env *e, struct proj *projects, size_t n, struct assoc_pair *pairs)
{
    memset(pairs, 0, n * sizeof *pairs);
    for (size_t i = 0; i < n; i++)
        pairs[i] = (struct assoc_pair){.sf_id = projects[i].sf_id,
                                       .hs_id = projects[i].hs_id,
                                       .sf_record = sf_project(projects[i].sf_id),
                                       .sf_base = projects[i].sf_base,
                                       .hs_base = projects[i].hs_base};
    struct assoc_env env = {.conn = e->db->watch,
                            .hc = e->hc,
                            .sc = e->sc,
                            .http = e->http,
                            .m = e->m,
                            .hs_type = PRJ,
                            .sf = e->desc->object};
    memset(&e->calls, 0, sizeof e->calls);
    char err[256] = "";
    if (sync_assoc_run(&env, pairs, n, &e->calls, err, sizeof err) < 0)
        fail_msg("sync_assoc_run: %s", err);
    for (size_t i = 0; i < n; i++) {
        json_object_put(pairs[i].sf_record);
        pairs[i].sf_record = NULL;
        if (pairs[i].error.cls != CRM_ERR_NONE)
            continue;
        assert_non_null(pairs[i].sf_base_set);
        assert_non_null(pairs[i].hs_base_set);
        merge_into(projects[i].sf_base, pairs[i].sf_base_set);
        merge_into(projects[i].hs_base, pairs[i].hs_base_set);
    }
}

static struct assoc_pair run1(struct env *e, struct proj *p)
{
    struct assoc_pair pair;
    run_assoc(e, p, 1, &pair);
    assert_int_equal(pair.error.cls, CRM_ERR_NONE);
    return pair;
}

static const char *base_of(json_object *base)
{
    return crmsim_jstr(base, KEY);
}

static const char *sf_account_of(const char *project)
{
    static char out[32];
    json_object *r = sf_project(project);
    const char *v = crmsim_jstr(r, "Account__c");
    snprintf(out, sizeof out, "%s", v ? v : "");
    json_object_put(r);
    return out;
}

/* ---- tests ---- */

static void test_lookup_set_creates_association(void **state)
{
    struct env *e = *state;
    char *company;
    char *account = linked_account(e, "Acme", &company);
    struct proj p;
    proj_new(&p, account);
    struct assoc_pair pair = run1(e, &p);
    assert_false(pair.wait);
    assert_null(pair.sf_write);
    assert_string_equal(hs_targets(e, p.hs_id, 0), company);
    assert_string_equal(base_of(p.sf_base), account);
    assert_string_equal(base_of(p.hs_base), company);
    sync_assoc_pairs_clear(&pair, 1);

    /* settled: a second run only reads */
    long long creates = assoc_calls("batch/associate/default");
    assert_int_equal(creates, 1);
    pair = run1(e, &p);
    assert_null(pair.sf_write);
    assert_int_equal(assoc_calls("batch/associate/default"), creates);
    assert_int_equal(assoc_calls("batch/archive"), 0);
    assert_int_equal(e->calls.hubspot, 1);
    assert_int_equal(e->calls.salesforce, 0);
    sync_assoc_pairs_clear(&pair, 1);
    proj_free(&p);
    free(account);
    free(company);
}

static void test_lookup_changed_then_cleared(void **state)
{
    struct env *e = *state;
    char *c1, *c2;
    char *a1 = linked_account(e, "One", &c1), *a2 = linked_account(e, "Two", &c2);
    struct proj p;
    proj_new(&p, a1);
    struct assoc_pair pair = run1(e, &p);
    sync_assoc_pairs_clear(&pair, 1);
    assert_string_equal(hs_targets(e, p.hs_id, 0), c1);

    sf_set_account(p.sf_id, a2);
    pair = run1(e, &p);
    assert_false(pair.wait);
    assert_string_equal(hs_targets(e, p.hs_id, 0), c2);
    assert_string_equal(base_of(p.hs_base), c2);
    sync_assoc_pairs_clear(&pair, 1);

    sf_set_account(p.sf_id, NULL);
    pair = run1(e, &p);
    assert_string_equal(hs_targets(e, p.hs_id, 0), "");
    assert_null(base_of(p.sf_base));
    assert_null(base_of(p.hs_base));
    assert_null(pair.sf_write);
    sync_assoc_pairs_clear(&pair, 1);
    proj_free(&p);
    free(a1), free(a2), free(c1), free(c2);
}

static void test_hubspot_change_sets_and_clears_lookup(void **state)
{
    struct env *e = *state;
    char *c1, *c2;
    char *a1 = linked_account(e, "One", &c1), *a2 = linked_account(e, "Two", &c2);
    struct proj p;
    proj_new(&p, a1);
    struct assoc_pair pair = run1(e, &p);
    sync_assoc_pairs_clear(&pair, 1);

    hs_associate("DELETE", p.hs_id, c1);
    hs_associate("POST", p.hs_id, c2);
    long long before = sf_updates();
    pair = run1(e, &p);
    assert_false(pair.wait);
    assert_non_null(pair.sf_write);
    assert_string_equal(crmsim_jstr(pair.sf_write, "Account__c"), a2);
    assert_string_equal(sf_account_of(p.sf_id), a2);
    assert_int_equal(sf_updates(), before + 1);
    assert_string_equal(base_of(p.sf_base), a2);
    assert_string_equal(base_of(p.hs_base), c2);
    sync_assoc_pairs_clear(&pair, 1);

    hs_associate("DELETE", p.hs_id, c2);
    pair = run1(e, &p);
    assert_non_null(pair.sf_write);
    json_object *v = NULL;
    assert_true(json_object_object_get_ex(pair.sf_write, "Account__c", &v));
    assert_null(v);
    assert_string_equal(sf_account_of(p.sf_id), "");
    assert_null(base_of(p.hs_base));
    sync_assoc_pairs_clear(&pair, 1);

    /* the echo: nothing further to write */
    pair = run1(e, &p);
    assert_null(pair.sf_write);
    assert_int_equal(e->calls.salesforce, 0);
    sync_assoc_pairs_clear(&pair, 1);
    proj_free(&p);
    free(a1), free(a2), free(c1), free(c2);
}

static void test_unlinked_target_waits_then_syncs(void **state)
{
    struct env *e = *state;
    char *account = sf_create("Account", "{\"Name\":\"Later\"}");
    char *company = hs_create("0-2", "{\"name\":\"Later\"}");
    struct proj p;
    proj_new(&p, account);
    struct assoc_pair pair = run1(e, &p);
    assert_true(pair.wait);
    assert_non_null(strstr(pair.reason, "Salesforce Account"));
    assert_non_null(strstr(pair.reason, account));
    assert_non_null(strstr(pair.reason, "not synced to HubSpot yet"));
    assert_null(base_of(p.sf_base)); /* base untouched: retried */
    assert_string_equal(hs_targets(e, p.hs_id, 0), "");
    sync_assoc_pairs_clear(&pair, 1);

    link_account(e, account, company);
    pair = run1(e, &p);
    assert_false(pair.wait);
    assert_string_equal(pair.reason, "");
    assert_string_equal(hs_targets(e, p.hs_id, 0), company);
    assert_string_equal(base_of(p.sf_base), account);
    sync_assoc_pairs_clear(&pair, 1);
    proj_free(&p);
    free(account), free(company);
}

static void test_unlinked_hubspot_target_waits(void **state)
{
    struct env *e = *state;
    char *company = hs_create("0-2", "{\"name\":\"Orphan\"}");
    struct proj p;
    proj_new(&p, NULL);
    hs_associate("POST", p.hs_id, company);
    struct assoc_pair pair = run1(e, &p);
    assert_true(pair.wait);
    assert_non_null(strstr(pair.reason, company));
    assert_non_null(strstr(pair.reason, "not synced to Salesforce yet"));
    assert_null(pair.sf_write);
    assert_null(base_of(p.hs_base));
    sync_assoc_pairs_clear(&pair, 1);
    proj_free(&p);
    free(company);
}

static void test_property_resolver(void **state)
{
    struct env *e = *state;
    set_mapping(e, "salesforce", ",\"resolver\":{\"hubspot_property\":\"sf_account_id\"}");
    char *a1 = sf_create("Account", "{\"Name\":\"One\"}");
    char *a2 = sf_create("Account", "{\"Name\":\"Two\"}");
    char props[128];
    snprintf(props, sizeof props, "{\"name\":\"One\",\"sf_account_id\":\"%s\"}", a1);
    char *c1 = hs_create("0-2", props);
    snprintf(props, sizeof props, "{\"name\":\"Two\",\"sf_account_id\":\"%s\"}", a2);
    char *c2 = hs_create("0-2", props);
    struct proj p;
    proj_new(&p, a1);
    struct assoc_pair pair = run1(e, &p);
    assert_false(pair.wait);
    assert_string_equal(hs_targets(e, p.hs_id, 0), c1);
    sync_assoc_pairs_clear(&pair, 1);

    hs_associate("DELETE", p.hs_id, c1);
    hs_associate("POST", p.hs_id, c2);
    pair = run1(e, &p);
    assert_string_equal(crmsim_jstr(pair.sf_write, "Account__c"), a2);
    assert_string_equal(sf_account_of(p.sf_id), a2);
    sync_assoc_pairs_clear(&pair, 1);

    /* a company without the property cannot be resolved */
    char *c3 = hs_create("0-2", "{\"name\":\"Three\"}");
    hs_associate("DELETE", p.hs_id, c2);
    hs_associate("POST", p.hs_id, c3);
    pair = run1(e, &p);
    assert_true(pair.wait);
    assert_non_null(strstr(pair.reason, "sf_account_id"));
    assert_string_equal(sf_account_of(p.sf_id), a2);
    sync_assoc_pairs_clear(&pair, 1);
    proj_free(&p);
    free(a1), free(a2), free(c1), free(c2), free(c3);
}

static void test_labelled_type(void **state)
{
    struct env *e = *state;
    set_mapping(e, "salesforce", ",\"association_type_id\":103");
    char *company;
    char *account = linked_account(e, "Acme", &company);
    struct proj p;
    proj_new(&p, account);
    struct assoc_pair pair = run1(e, &p);
    assert_string_equal(hs_targets(e, p.hs_id, 103), company);
    assert_int_equal(assoc_calls("batch/create"), 1);
    sync_assoc_pairs_clear(&pair, 1);

    set_mapping(e, "salesforce", ",\"association_type_id\":999");
    char *c2;
    char *a2 = linked_account(e, "Other", &c2);
    sf_set_account(p.sf_id, a2);
    run_assoc(e, &p, 1, &pair);
    assert_int_equal(pair.error.cls, CRM_ERR_PERMANENT);
    assert_string_equal(pair.error.code, "INVALID_ASSOCIATION_TYPE");
    sync_assoc_pairs_clear(&pair, 1);
    proj_free(&p);
    free(account), free(company), free(a2), free(c2);
}

/* Both sides moved since the last sync: lookup to a2, association to c3. */
static void both_changed(struct env *e, struct proj *p, char **ids)
{
    ids[0] = linked_account(e, "One", &ids[1]);
    ids[2] = linked_account(e, "Two", &ids[3]);
    ids[4] = linked_account(e, "Three", &ids[5]);
    proj_new(p, ids[0]);
    struct assoc_pair pair = run1(e, p);
    sync_assoc_pairs_clear(&pair, 1);
    sf_set_account(p->sf_id, ids[2]);
    hs_associate("DELETE", p->hs_id, ids[1]);
    hs_associate("POST", p->hs_id, ids[5]);
}

static void test_conflict_salesforce_wins(void **state)
{
    struct env *e = *state;
    struct proj p;
    char *ids[6];
    both_changed(e, &p, ids);
    struct assoc_pair pair = run1(e, &p);
    assert_null(pair.sf_write);
    assert_string_equal(hs_targets(e, p.hs_id, 0), ids[3]);
    assert_string_equal(base_of(p.sf_base), ids[2]);
    assert_string_equal(base_of(p.hs_base), ids[3]);
    sync_assoc_pairs_clear(&pair, 1);
    proj_free(&p);
    for (int i = 0; i < 6; i++)
        free(ids[i]);
}

static void test_conflict_hubspot_wins(void **state)
{
    struct env *e = *state;
    set_mapping(e, "hubspot", "");
    struct proj p;
    char *ids[6];
    both_changed(e, &p, ids);
    struct assoc_pair pair = run1(e, &p);
    assert_string_equal(crmsim_jstr(pair.sf_write, "Account__c"), ids[4]);
    assert_string_equal(sf_account_of(p.sf_id), ids[4]);
    assert_string_equal(hs_targets(e, p.hs_id, 0), ids[5]);
    assert_string_equal(base_of(p.sf_base), ids[4]);
    sync_assoc_pairs_clear(&pair, 1);
    proj_free(&p);
    for (int i = 0; i < 6; i++)
        free(ids[i]);
}

static void test_calls_batched(void **state)
{
    struct env *e = *state;
    struct proj p[NPROJ];
    char *accounts[NPROJ], *companies[NPROJ];
    for (int i = 0; i < NPROJ; i++) {
        char name[32];
        snprintf(name, sizeof name, "Acct%d", i);
        accounts[i] = linked_account(e, name, &companies[i]);
        proj_new(&p[i], accounts[i]);
    }
    crmsim_proc_ok(&unit_sim, "POST", "/_sim/stats/reset", NULL);
    struct assoc_pair pairs[NPROJ];
    run_assoc(e, p, NPROJ, pairs);
    for (int i = 0; i < NPROJ; i++) {
        assert_int_equal(pairs[i].error.cls, CRM_ERR_NONE);
        assert_string_equal(hs_targets(e, p[i].hs_id, 0), companies[i]);
    }
    assert_int_equal(e->calls.hubspot, 2);
    assert_int_equal(assoc_calls("batch/read"), 1 + NPROJ); /* + the checks above */
    assert_int_equal(assoc_calls("batch/associate/default"), 1);
    sync_assoc_pairs_clear(pairs, NPROJ);
    for (int i = 0; i < NPROJ; i++) {
        proj_free(&p[i]);
        free(accounts[i]);
        free(companies[i]);
    }
}

/* Three projects, each looking up its own linked account (synced by the test's first run). */
struct trio {
    struct proj p[3];
    char *accounts[3];
    char *companies[3];
};

static void trio_new(struct env *e, struct trio *t)
{
    for (size_t i = 0; i < 3; i++) {
        char name[32];
        snprintf(name, sizeof name, "Acct%zu", i);
        t->accounts[i] = linked_account(e, name, &t->companies[i]);
        proj_new(&t->p[i], t->accounts[i]);
    }
}

static void trio_free(struct trio *t)
{
    for (size_t i = 0; i < 3; i++) {
        proj_free(&t->p[i]);
        free(t->accounts[i]);
        free(t->companies[i]);
    }
}

/* Adds a crmsim fault rule made from fmt (one call of the association route it matches). */
static void fault_once(const char *route, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void fault_once(const char *route, const char *fmt, ...)
{
    char answer[768], rule[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(answer, sizeof answer, fmt, ap);
    va_end(ap);
    snprintf(rule, sizeof rule,
             "{\"match\":\"POST /crm/v4/associations/" PRJ "/0-2/%s\",\"count\":1,%s}", route,
             answer);
    crmsim_proc_ok(&unit_sim, "POST", "/_sim/faults", rule);
}

/* HubSpot's answer to an association write naming one object as invalid. */
#define INVALID_OBJECT                                                                             \
    "\"status\":400,\"body\":{\"status\":\"error\",\"message\":\"One or more associations are "    \
    "invalid\",\"category\":\"VALIDATION_ERROR\",\"context\":{\"INVALID_OBJECT_IDS\":[\"COMPANY=%" \
    "s "                                                                                           \
    "is not valid\"],\"objectId\":[\"%s\"]}}"

/* The association read answers with an error naming one pair's record as gone: that pair fails
 * with OBJECT_NOT_FOUND / 404 (the engine takes it as a deletion); the others proceed. */
static void test_read_error_fails_only_its_pair(void **state)
{
    struct env *e = *state;
    struct trio t;
    trio_new(e, &t);
    fault_once("batch/read",
               "\"status\":207,\"body\":{\"status\":\"COMPLETE\",\"results\":[],\"numErrors\":1,"
               "\"errors\":[{\"status\":\"error\",\"category\":\"OBJECT_NOT_FOUND\",\"message\":"
               "\"Could not get some objects, they may be deleted or not exist. Check that ids are "
               "valid.\",\"context\":{\"ids\":[\"%s\"]}}]}",
               t.p[1].hs_id);
    struct assoc_pair pairs[3];
    run_assoc(e, t.p, 3, pairs);
    assert_string_equal(pairs[1].error.code, "OBJECT_NOT_FOUND");
    assert_int_equal(pairs[1].error.http_status, 404);
    assert_int_equal(pairs[1].error.cls, CRM_ERR_PERMANENT);
    assert_string_equal(hs_targets(e, t.p[1].hs_id, 0), "");
    for (int i = 0; i < 3; i += 2) {
        assert_int_equal(pairs[i].error.cls, CRM_ERR_NONE);
        assert_string_equal(hs_targets(e, t.p[i].hs_id, 0), t.companies[i]);
        assert_string_equal(base_of(t.p[i].hs_base), t.companies[i]);
    }
    assert_int_equal(assoc_calls("batch/associate/default"), 1);
    sync_assoc_pairs_clear(pairs, 3);
    trio_free(&t);
}

/* A create or archive error naming one pair's ids fails that pair only; its base is kept, so a
 * later run redoes it. */
static void test_write_errors_fail_only_their_pairs(void **state)
{
    struct env *e = *state;
    struct trio t;
    trio_new(e, &t);
    fault_once("batch/associate/default", INVALID_OBJECT, t.companies[1], t.companies[1]);
    struct assoc_pair pairs[3];
    run_assoc(e, t.p, 3, pairs);
    assert_string_equal(pairs[1].error.code, "VALIDATION_ERROR");
    assert_int_equal(pairs[1].error.cls, CRM_ERR_PERMANENT);
    assert_string_equal(hs_targets(e, t.p[1].hs_id, 0), "");
    assert_null(base_of(t.p[1].hs_base));
    for (int i = 0; i < 3; i += 2) {
        assert_int_equal(pairs[i].error.cls, CRM_ERR_NONE);
        assert_string_equal(hs_targets(e, t.p[i].hs_id, 0), t.companies[i]);
    }
    sync_assoc_pairs_clear(pairs, 3);
    run_assoc(e, t.p, 3, pairs); /* the failed pair is redone */
    assert_int_equal(pairs[1].error.cls, CRM_ERR_NONE);
    assert_string_equal(hs_targets(e, t.p[1].hs_id, 0), t.companies[1]);
    sync_assoc_pairs_clear(pairs, 3);

    /* every lookup cleared: the archive call fails naming pair 0's company */
    for (int i = 0; i < 3; i++)
        sf_set_account(t.p[i].sf_id, NULL);
    fault_once("batch/archive", INVALID_OBJECT, t.companies[0], t.companies[0]);
    run_assoc(e, t.p, 3, pairs);
    assert_string_equal(pairs[0].error.code, "VALIDATION_ERROR");
    assert_string_equal(hs_targets(e, t.p[0].hs_id, 0), t.companies[0]);
    assert_string_equal(base_of(t.p[0].hs_base), t.companies[0]);
    for (int i = 1; i < 3; i++) {
        assert_int_equal(pairs[i].error.cls, CRM_ERR_NONE);
        assert_string_equal(hs_targets(e, t.p[i].hs_id, 0), "");
        assert_null(base_of(t.p[i].hs_base));
    }
    sync_assoc_pairs_clear(pairs, 3);
    trio_free(&t);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_lookup_set_creates_association),
        T(test_lookup_changed_then_cleared),
        T(test_hubspot_change_sets_and_clears_lookup),
        T(test_unlinked_target_waits_then_syncs),
        T(test_unlinked_hubspot_target_waits),
        T(test_property_resolver),
        T(test_labelled_type),
        T(test_conflict_salesforce_wins),
        T(test_conflict_hubspot_wins),
        T(test_calls_batched),
        T(test_read_error_fails_only_its_pair),
        T(test_write_errors_fail_only_their_pairs),
    };
#undef T
    return cmocka_run_group_tests(tests, unit_sim_start, unit_sim_stop);
}
