/* test_sync_batch.c: the sync engine end to end against crmsim and a real PostgreSQL: events
 * inserted as a webhook would, one engine round (sync_engine_run_once), then both CRMs' records
 * (through crmsim's /_sim/ API and its call stats) and the database checked.
 *
 * Covers: Salesforce create -> HubSpot upsert with identity, link and the Salesforce identity
 * back-write; HubSpot create -> Salesforce upsert; updates both ways and clearing; a conflict
 * resolved by the mapping's winner and recorded; echoes settling with zero further writes; an
 * idempotent create after a simulated crash; one bad record failing alone (validation, the CRM's
 * message); a transient 503 retried later; deletes with on_delete delete and none; a HubSpot
 * merge re-pointing the link; the mapping lock keeping a second engine out; 150 changes written
 * in 2 HubSpot calls; echoes of synkro's own writes (HubSpot propertyChange webhooks, Salesforce
 * outbound messages) settled with no CRM call while user changes of the same shape sync and a
 * message lacking a mapped field is read; a message carrying every field standing in for the
 * SOQL read; a failed HubSpot read (run beside the Salesforce read) retrying the pair; both sides
 * of a pair updated in one batch (at once), a failed HubSpot update retried until both converge.
 * With the engine's own worker threads (sync_engine_start): a wake-up after more than a second
 * without batches lingers linger_ms before claiming, one soon after a batch does not (lower
 * bounds on the deliberate delay only). A batch with a failed record makes the next round re-read
 * the schemas within mapping_ttl_ms (a picklist value the HubSpot dropdown lacked syncs once the
 * option is added; crmsim's options are changed by dump, reset and reload).
 * Fails (never skips) without CRMSIM_BIN or SYNKRO_TEST_ADMIN_URL. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "crmsim_proc.h"
#include "db/history_store.h"
#include "db/locks.h"
#include "db/queue.h"
#include "db/queue_errors.h"
#include "metric_read.h"
#include "base/metrics.h"
#include "base/strbuf.h"
#include "crm/hubspot_client.h"
#include "crm/salesforce_client.h"
#include "sync/sync_engine.h"
#include "testdb.h"

#include <json-c/json.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define HS_TYPE "2-3465404"

static struct crmsim_proc sim;

/* The fixture document; hs_extra / sf_extra append properties / fields (each starting with a
 * comma, or ""). */
#define FIXTURE_DOC(hs_extra, sf_extra)                                                            \
    "{\"config\":{\"hubspot_search_delay_ms\":0},"                                                 \
    "\"hubspot\":{\"schemas\":[{\"name\":\"projects\",\"objectTypeId\":\"2-3465404\","             \
    "\"primaryDisplayProperty\":\"name\",\"requiredProperties\":[\"name\"],\"properties\":["       \
    "{\"name\":\"name\",\"type\":\"string\",\"fieldType\":\"text\"},"                              \
    "{\"name\":\"salesforce_id\",\"type\":\"string\",\"fieldType\":\"text\","                      \
    "\"hasUniqueValue\":true},"                                                                    \
    "{\"name\":\"budget\",\"type\":\"number\",\"fieldType\":\"number\"},"                          \
    "{\"name\":\"contact_email\",\"type\":\"string\",\"fieldType\":\"text\"}" hs_extra "]}]},"     \
    "\"salesforce\":{\"describes\":[{\"name\":\"Project__c\",\"keyPrefix\":\"a01\",\"fields\":["   \
    "{\"name\":\"Name\",\"type\":\"string\",\"length\":80,\"nillable\":false},"                    \
    "{\"name\":\"HubSpot_Id__c\",\"type\":\"string\",\"length\":40,\"externalId\":true,"           \
    "\"unique\":true},"                                                                            \
    "{\"name\":\"Budget__c\",\"type\":\"double\"},"                                                \
    "{\"name\":\"Email__c\",\"type\":\"email\"}" sf_extra "]}]}}"

static const char FIXTURES[] = FIXTURE_DOC("", "");

/* For test_failed_batch_rereads_schemas: a HubSpot dropdown that lacks the picklist's "Blocked". */
static const char FIXTURES_STAGE[] =
    FIXTURE_DOC(",{\"name\":\"stage\",\"type\":\"enumeration\",\"fieldType\":\"select\","
                "\"options\":[{\"label\":\"Planned\",\"value\":\"Planned\"}]}",
                ",{\"name\":\"Stage__c\",\"type\":\"picklist\","
                "\"picklistValues\":[{\"value\":\"Planned\"},{\"value\":\"Blocked\"}]}");

static const char MAPPING[] =
    "{\"name\":\"Projects\",\"salesforce_object\":\"Project__c\",\"hubspot_object\":\"2-3465404\","
    "\"rules\":{\"salesforce_to_hubspot\":{\"create\":true,\"update\":true,\"delete\":\"%s\"},"
    "\"hubspot_to_salesforce\":{\"create\":true,\"update\":true,\"delete\":\"%s\"},"
    "\"conflict_winner\":\"salesforce\"},"
    "\"identity\":{\"hubspot_property\":\"salesforce_id\",\"salesforce_field\":\"HubSpot_Id__c\"},"
    "\"fields\":[{\"salesforce\":\"Name\",\"hubspot\":\"name\"},"
    "{\"salesforce\":\"Budget__c\",\"hubspot\":\"budget\"},"
    "{\"salesforce\":\"Email__c\",\"hubspot\":\"contact_email\"}%s]}";

struct env {
    struct testdb *db;
    struct hubspot_client *hc;
    struct salesforce_client *sc;
    struct sync_engine *eng;
    int64_t mapping_id;
    int keys;
};

/* ---- database helpers ---- */

static const char *q1(PGconn *conn, const char *sql)
{
    static char value[1024];
    PGresult *r = PQexec(conn, sql);
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        fail_msg("%s: %s", sql, PQerrorMessage(conn));
    snprintf(value, sizeof value, "%s", PQntuples(r) ? PQgetvalue(r, 0, 0) : "");
    PQclear(r);
    return value;
}

static long q1_long(PGconn *conn, const char *sql)
{
    return strtol(q1(conn, sql), NULL, 10);
}

static void exec_ok(PGconn *conn, const char *sql)
{
    PGresult *r = PQexec(conn, sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK)
        fail_msg("%s: %s", sql, PQerrorMessage(conn));
    PQclear(r);
}

/* The mapping with the delete rules and extra_fields (each starting with a comma, or ""). */
static void set_mapping_fields(struct env *e, const char *s2h_delete, const char *h2s_delete,
                               const char *extra_fields)
{
    char doc[2048];
    snprintf(doc, sizeof doc, MAPPING, s2h_delete, h2s_delete, extra_fields);
    const char *params[] = {doc};
    PGresult *r = PQexecParams(
        e->db->watch,
        "INSERT INTO mappings (id, name, state, salesforce_object, hubspot_object, document,"
        " hubspot_object_type_id) VALUES (1, 'Projects', 'enabled', 'Project__c', '2-3465404',"
        " $1::jsonb, '2-3465404') ON CONFLICT (id) DO UPDATE SET document = EXCLUDED.document"
        " RETURNING id",
        1, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        fail_msg("mapping insert: %s", PQerrorMessage(e->db->watch));
    e->mapping_id = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
}

static void set_mapping(struct env *e, const char *s2h_delete, const char *h2s_delete)
{
    set_mapping_fields(e, s2h_delete, h2s_delete, "");
}

/* Queues one event as a webhook would. */
static void queue_event(struct env *e, const char *source, const char *id, const char *kind,
                        const char *payload)
{
    char key[64];
    snprintf(key, sizeof key, "test-%d", ++e->keys);
    bool sf = strcmp(source, "salesforce") == 0;
    struct queue_event ev = {.source = source,
                             .idempotency_key = key,
                             .object_type = sf ? "Project__c" : HS_TYPE,
                             .record_id = id,
                             .kind = kind,
                             .status = "pending",
                             .payload_json = payload ? payload : "{}"};
    char err[256];
    if (queue_insert_batch(e->db->watch, &ev, 1, err, sizeof err) < 0)
        fail_msg("queue_insert_batch: %s", err);
}

static int run(struct env *e)
{
    char err[512] = "";
    struct sync_batch_report rep;
    int n = sync_engine_run_once(e->eng, &rep, err, sizeof err);
    if (n < 0)
        fail_msg("run_once: %s", err);
    return n;
}

/* ---- crmsim helpers ---- */

static char *sf_create(const char *fields_json)
{
    json_object *r =
        crmsim_proc_call(&sim, "POST", "/_sim/salesforce/Project__c/records", fields_json, NULL);
    char *id = strdup(crmsim_jstr(r, "Id"));
    json_object_put(r);
    return id;
}

static char *hs_create(const char *props_json)
{
    char body[1024];
    snprintf(body, sizeof body, "{\"properties\":%s}", props_json);
    json_object *r =
        crmsim_proc_call(&sim, "POST", "/_sim/hubspot/" HS_TYPE "/records", body, NULL);
    char *id = strdup(crmsim_jstr(r, "id"));
    json_object_put(r);
    return id;
}

/* The record as crmsim holds it (caller puts). */
static json_object *sf_get(const char *id)
{
    char path[128];
    snprintf(path, sizeof path, "/_sim/salesforce/Project__c/records/%s", id);
    return crmsim_proc_call(&sim, "GET", path, NULL, NULL);
}

static json_object *hs_get(const char *id)
{
    char path[128];
    snprintf(path, sizeof path, "/_sim/hubspot/" HS_TYPE "/records/%s", id);
    return crmsim_proc_call(&sim, "GET", path, NULL, NULL);
}

static void sf_patch(const char *id, const char *fields_json)
{
    char path[128];
    snprintf(path, sizeof path, "/_sim/salesforce/Project__c/records/%s", id);
    crmsim_proc_ok(&sim, "PATCH", path, fields_json);
}

static void hs_patch(const char *id, const char *props_json)
{
    char path[128], body[1024];
    snprintf(path, sizeof path, "/_sim/hubspot/" HS_TYPE "/records/%s", id);
    snprintf(body, sizeof body, "{\"properties\":%s}", props_json);
    crmsim_proc_ok(&sim, "PATCH", path, body);
}

static const char *hs_prop(json_object *rec, const char *name)
{
    json_object *props = NULL;
    json_object_object_get_ex(rec, "properties", &props);
    return crmsim_jstr(props, name);
}

/* HubSpot records of the type (archived ones included). */
static size_t hs_count(void)
{
    json_object *r = crmsim_proc_call(&sim, "GET", "/_sim/hubspot/" HS_TYPE "/records", NULL, NULL);
    json_object *arr = r;
    if (json_object_is_type(r, json_type_object))
        json_object_object_get_ex(r, "results", &arr);
    size_t n = arr && json_object_is_type(arr, json_type_array) ? json_object_array_length(arr) : 0;
    json_object_put(r);
    return n;
}

/* Write calls (anything but reads, queries, searches, tokens) recorded for prefix. */
static long long writes(const char *prefix)
{
    json_object *st = crmsim_proc_call(&sim, "GET", "/_sim/stats", NULL, NULL);
    json_object *calls = NULL;
    json_object_object_get_ex(st, "calls", &calls);
    long long n = 0;
    for (size_t i = 0; calls && i < json_object_array_length(calls); i++) {
        json_object *c = json_object_array_get_idx(calls, i);
        const char *method = crmsim_jstr(c, "method"), *route = crmsim_jstr(c, "route");
        if (!method || !route || strcmp(method, "GET") == 0 || strstr(route, "batch/read") ||
            strstr(route, "/search") || strstr(route, "oauth") ||
            strncmp(route, prefix, strlen(prefix)))
            continue;
        n += crmsim_jint(c, "count");
    }
    json_object_put(st);
    return n;
}

/* Record calls recorded in /_sim/stats whose route contains needle (NULL: every one; the control
 * API is not recorded). Schema and describe reads (the engine's mapping cache, reloaded every
 * round here) are not record calls. */
static long long calls_matching(const char *needle)
{
    json_object *st = crmsim_proc_call(&sim, "GET", "/_sim/stats", NULL, NULL);
    json_object *calls = NULL;
    json_object_object_get_ex(st, "calls", &calls);
    long long n = 0;
    for (size_t i = 0; calls && i < json_object_array_length(calls); i++) {
        json_object *c = json_object_array_get_idx(calls, i);
        const char *route = crmsim_jstr(c, "route");
        if (route && !strstr(route, "schemas") && !strstr(route, "describe") &&
            (!needle || strstr(route, needle)))
            n += crmsim_jint(c, "count");
    }
    json_object_put(st);
    return n;
}

/* One engine round with its report. */
static struct sync_batch_report run_report(struct env *e, int want_records)
{
    char err[512] = "";
    struct sync_batch_report rep;
    memset(&rep, 0, sizeof rep);
    int n = sync_engine_run_once(e->eng, &rep, err, sizeof err);
    if (n < 0)
        fail_msg("run_once: %s", err);
    assert_int_equal(n, want_records);
    return rep;
}

/* A HubSpot object.propertyChange webhook event as synkro stores it. */
static void queue_hs_change(struct env *e, const char *hs_id, const char *prop, const char *value,
                            const char *source)
{
    char payload[512];
    snprintf(payload, sizeof payload,
             "{\"subscriptionType\":\"object.propertyChange\",\"objectId\":%s,"
             "\"propertyName\":\"%s\",\"propertyValue\":\"%s\",\"changeSource\":\"%s\"}",
             hs_id, prop, value, source);
    queue_event(e, "hubspot", hs_id, "update", payload);
}

/* A Salesforce outbound-message event as synkro stores it; fields_json is the "fields" object. */
static void queue_sf_message(struct env *e, const char *sf_id, const char *fields_json)
{
    char payload[1024];
    snprintf(payload, sizeof payload,
             "{\"notificationId\":\"04l000000000001AAA\",\"objectType\":\"Project__c\","
             "\"recordId\":\"%s\",\"fields\":%s}",
             sf_id, fields_json);
    queue_event(e, "salesforce", sf_id, "update", payload);
}

/* The rendered metrics text (caller frees). */
static char *metrics_text(void)
{
    struct strbuf sb = STRBUF_INIT;
    if (metrics_render(&sb) != 0)
        fail_msg("metrics_render failed");
    return strbuf_detach(&sb, NULL);
}

/* Observations of synkro_sync_latency_seconds for mapping 1. */
static long latency_count(void)
{
    static const char key[] = "synkro_sync_latency_seconds_count{mapping=\"1\"} ";
    char *text = metrics_text();
    const char *at = strstr(text, key);
    long n = at ? strtol(at + strlen(key), NULL, 10) : 0;
    free(text);
    return n;
}

static long done_events(struct env *e)
{
    return q1_long(e->db->watch, "SELECT count(*) FROM change_events WHERE status = 'done'");
}

/* ---- setup ---- */

static int group_setup(void **state)
{
    (void)state;
    crmsim_proc_start_or_fail(&sim);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    crmsim_proc_stop(&sim);
    return 0;
}

/* An engine of `workers` threads (the caller starts them) that sleep poll_ms when idle (<= 0: the
 * engine's default), linger linger_ms after a wake-up from idle and re-read mappings every
 * mapping_ttl_ms (0: every round). */
static struct sync_engine *engine_new_with(struct env *e, const char *prefix, int workers,
                                           int poll_ms, int linger_ms, int64_t mapping_ttl_ms)
{
    struct sync_engine_options o = {.conninfo = e->db->conninfo,
                                    .hc = e->hc,
                                    .sc = e->sc,
                                    .workers = workers,
                                    .batch = 200,
                                    .poll_ms = poll_ms,
                                    .linger_ms = linger_ms,
                                    .lease_ms = 60000,
                                    .backoff = {.base_ms = 1000, .cap_ms = 2000, .max_attempts = 5},
                                    .mapping_ttl_ms = mapping_ttl_ms,
                                    .history = true,
                                    .worker_prefix = prefix};
    char err[256];
    struct sync_engine *eng = sync_engine_create(&o, err, sizeof err);
    if (!eng)
        fail_msg("sync_engine_create: %s", err);
    return eng;
}

static struct sync_engine *engine_new(struct env *e, const char *prefix)
{
    return engine_new_with(e, prefix, 0, 0, 0, 0);
}

static int setup(void **state)
{
    testdb_setup_migrated(state);
    struct env *e = calloc(1, sizeof *e);
    e->db = *state;
    crmsim_proc_ok(&sim, "POST", "/_sim/reset", NULL);
    crmsim_proc_ok(&sim, "POST", "/_sim/fixtures", FIXTURES);
    char err[256];
    struct hubspot_client_options ho = {
        .api_base = sim.base,
        .access_token = "pat-sim-token",
        .retry = {.max_attempts = 2, .base_delay_ms = 10, .max_delay_ms = 50, .max_wait_ms = 1000}};
    e->hc = hubspot_client_create(&ho, err, sizeof err);
    struct salesforce_client_options so = {.access_token = "sf-sim-token",
                                           .instance_url = sim.base,
                                           .login_url = sim.base,
                                           .api_version = "v62.0",
                                           .retry = ho.retry};
    e->sc = salesforce_client_create(&so, err, sizeof err);
    if (!e->hc || !e->sc)
        fail_msg("clients: %s", err);
    set_mapping(e, "delete", "delete");
    e->eng = engine_new(e, "t1");
    crmsim_proc_ok(&sim, "POST", "/_sim/stats/reset", NULL);
    *state = e;
    return 0;
}

static int teardown(void **state)
{
    struct env *e = *state;
    sync_engine_destroy(e->eng);
    hubspot_client_destroy(e->hc);
    salesforce_client_destroy(e->sc);
    void *db = e->db;
    free(e);
    return testdb_teardown(&db);
}

/* A linked pair made through the engine: SF record -> HubSpot. */
static void make_pair(struct env *e, char **sf_id, char **hs_id, const char *name)
{
    char fields[256];
    snprintf(fields, sizeof fields, "{\"Name\":\"%s\",\"Budget__c\":100}", name);
    *sf_id = sf_create(fields);
    queue_event(e, "salesforce", *sf_id, "create", NULL);
    assert_int_equal(run(e), 1);
    json_object *sf = sf_get(*sf_id);
    const char *hs = crmsim_jstr(sf, "HubSpot_Id__c");
    assert_non_null(hs);
    *hs_id = strdup(hs);
    json_object_put(sf);
}

/* ---- tests ---- */

static void test_sf_create_links_and_echo_settles(void **state)
{
    struct env *e = *state;
    char *sf_id = sf_create("{\"Name\":\"Apollo\",\"Budget__c\":250.5}");
    queue_event(e, "salesforce", sf_id, "create", NULL);
    assert_int_equal(run(e), 1);
    json_object *sf = sf_get(sf_id);
    const char *hs_id = crmsim_jstr(sf, "HubSpot_Id__c");
    assert_non_null(hs_id);
    json_object *hs = hs_get(hs_id);
    assert_string_equal(hs_prop(hs, "name"), "Apollo");
    assert_string_equal(hs_prop(hs, "budget"), "250.5");
    assert_string_equal(hs_prop(hs, "salesforce_id"), sf_id);
    assert_int_equal(crmsim_proc_count(&sim, "POST /crm/v3/objects/{type}/batch/upsert", 200), 1);
    char sql[256];
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM sync_links WHERE salesforce_id = '%s' AND hubspot_id = '%s'"
             " AND state = 'active'",
             sf_id, hs_id);
    assert_int_equal(q1_long(e->db->watch, sql), 1);
    assert_int_equal(
        q1_long(e->db->watch, "SELECT count(*) FROM change_events WHERE status <> 'done'"), 0);

    /* echoes of both writes: nothing more is written */
    crmsim_proc_ok(&sim, "POST", "/_sim/stats/reset", NULL);
    queue_event(e, "hubspot", hs_id, "create",
                "{\"subscriptionType\":\"object.creation\",\"changeSource\":\"INTEGRATION\"}");
    queue_event(e, "salesforce", sf_id, "update", NULL);
    assert_int_equal(run(e), 2);
    assert_int_equal(writes("/crm"), 0);
    assert_int_equal(writes("/services"), 0);
    assert_int_equal(
        q1_long(e->db->watch, "SELECT count(*) FROM change_events WHERE status <> 'done'"), 0);
    json_object_put(hs);
    json_object_put(sf);
    free(sf_id);
}

static void test_hs_create_upserts_salesforce(void **state)
{
    struct env *e = *state;
    char *hs_id = hs_create("{\"name\":\"Gemini\",\"budget\":\"75\"}");
    queue_event(e, "hubspot", hs_id, "create", "{\"changeSource\":\"CRM_UI\"}");
    assert_int_equal(run(e), 1);
    json_object *hs = hs_get(hs_id);
    const char *sf_id = hs_prop(hs, "salesforce_id");
    assert_non_null(sf_id);
    json_object *sf = sf_get(sf_id);
    assert_string_equal(crmsim_jstr(sf, "Name"), "Gemini");
    assert_string_equal(crmsim_jstr(sf, "HubSpot_Id__c"), hs_id);
    assert_int_equal(
        crmsim_proc_count(&sim, "PATCH /services/data/{version}/composite/sobjects/{T}/{field}",
                          200),
        1);
    /* the echo of the Salesforce create and of the identity write */
    crmsim_proc_ok(&sim, "POST", "/_sim/stats/reset", NULL);
    queue_event(e, "salesforce", sf_id, "update", NULL);
    queue_event(e, "hubspot", hs_id, "update", "{\"changeSource\":\"INTEGRATION\"}");
    assert_int_equal(run(e), 2);
    assert_int_equal(writes("/crm") + writes("/services"), 0);
    json_object_put(sf);
    json_object_put(hs);
    free(hs_id);
}

static void test_updates_both_ways_and_clear(void **state)
{
    struct env *e = *state;
    char *sf_id, *hs_id;
    make_pair(e, &sf_id, &hs_id, "Mercury");
    sf_patch(sf_id, "{\"Budget__c\":300}");
    queue_event(e, "salesforce", sf_id, "update", NULL);
    assert_int_equal(run(e), 1);
    json_object *hs = hs_get(hs_id);
    assert_string_equal(hs_prop(hs, "budget"), "300");
    json_object_put(hs);

    hs_patch(hs_id, "{\"name\":\"Mercury 2\",\"budget\":\"\"}");
    queue_event(e, "hubspot", hs_id, "update", "{\"changeSource\":\"CRM_UI\"}");
    assert_int_equal(run(e), 1);
    json_object *sf = sf_get(sf_id);
    assert_string_equal(crmsim_jstr(sf, "Name"), "Mercury 2");
    json_object *budget = NULL;
    json_object_object_get_ex(sf, "Budget__c", &budget);
    assert_null(budget); /* cleared */
    json_object_put(sf);
    free(sf_id);
    free(hs_id);
}

static void test_conflict_recorded(void **state)
{
    struct env *e = *state;
    char *sf_id, *hs_id;
    make_pair(e, &sf_id, &hs_id, "Vega");
    sf_patch(sf_id, "{\"Name\":\"Vega SF\"}");
    hs_patch(hs_id, "{\"name\":\"Vega HS\"}");
    queue_event(e, "hubspot", hs_id, "update", "{\"changeSource\":\"CRM_UI\"}");
    queue_event(e, "salesforce", sf_id, "update", NULL);
    assert_int_equal(run(e), 2);
    json_object *hs = hs_get(hs_id);
    assert_string_equal(hs_prop(hs, "name"), "Vega SF");
    json_object_put(hs);
    assert_string_equal(q1(e->db->watch, "SELECT winner || ':' || hubspot_property || ':' ||"
                                         " hubspot_value FROM sync_conflicts"),
                        "salesforce:name:Vega HS");
    free(sf_id);
    free(hs_id);
}

/* The history of the link of Salesforce record sf_id, newest first: "kind|side|summary" lines
 * (the timeline's first page of 200). */
static char *timeline_text(struct env *e, const char *sf_id)
{
    char sql[256];
    snprintf(sql, sizeof sql, "SELECT id FROM sync_links WHERE salesforce_id = '%s'", sf_id);
    long link = q1_long(e->db->watch, sql);
    json_object *page = NULL;
    char err[256] = "";
    if (history_timeline(e->db->watch, link, NULL, 200, &page, err, sizeof err) != 1)
        fail_msg("timeline of link %ld: %s", link, err);
    struct strbuf sb = STRBUF_INIT;
    json_object *entries = json_object_object_get(page, "entries");
    for (size_t i = 0; i < json_object_array_length(entries); i++) {
        json_object *en = json_object_array_get_idx(entries, i);
        const char *side = crmsim_jstr(en, "side");
        strbuf_printf(&sb, "%s|%s|%s\n", crmsim_jstr(en, "kind"), side ? side : "",
                      crmsim_jstr(en, "summary"));
    }
    json_object_put(page);
    return strbuf_detach(&sb, NULL);
}

/* needles[] appear in text in this order. */
static void assert_in_order(const char *text, const char *const *needles, size_t n)
{
    const char *at = text;
    for (size_t i = 0; i < n; i++) {
        const char *hit = strstr(at, needles[i]);
        if (!hit)
            fail_msg("\"%s\" missing (or out of order) in the timeline:\n%s", needles[i], text);
        at = hit + strlen(needles[i]);
    }
}

/* A record's timeline after its creation, an edit on each side and a conflict: every event,
 * decision (field, direction, rule, why), write and the conflict with its winner and the losing
 * value, newest first; an echo is a skip; a failed record's error is on its timeline too. */
/* The value of synkro_sync_batch_seconds_total{part="<part>"} on this process's /metrics. */
static double batch_seconds(const char *part)
{
    char series[96];
    snprintf(series, sizeof series, "synkro_sync_batch_seconds_total{part=\"%s\"}", part);
    return metric_read(series, -1);
}

static void test_timeline_records_each_step(void **state)
{
    struct env *e = *state;
    double batch0 = batch_seconds("batch"), history0 = batch_seconds("history");
    char *sf_id, *hs_id;
    make_pair(e, &sf_id, &hs_id, "Orion");
    sf_patch(sf_id, "{\"Budget__c\":300}");
    queue_event(e, "salesforce", sf_id, "update", NULL);
    assert_int_equal(run(e), 1);
    hs_patch(hs_id, "{\"name\":\"Orion 2\"}");
    queue_event(e, "hubspot", hs_id, "update", "{\"changeSource\":\"CRM_UI\"}");
    assert_int_equal(run(e), 1);
    sf_patch(sf_id, "{\"Name\":\"Orion SF\"}");
    hs_patch(hs_id, "{\"name\":\"Orion HS\"}");
    queue_event(e, "hubspot", hs_id, "update", "{\"changeSource\":\"CRM_UI\"}");
    queue_event(e, "salesforce", sf_id, "update", NULL);
    assert_int_equal(run(e), 2);
    /* a change event whose values both records already hold, then the echo of the last write */
    queue_event(e, "hubspot", hs_id, "update", "{\"changeSource\":\"CRM_UI\"}");
    assert_int_equal(run(e), 1);
    queue_hs_change(e, hs_id, "name", "Orion SF", "INTEGRATION");
    assert_int_equal(run(e), 1);

    /* the time of the batches and the part spent storing their history are counted */
    double batch = batch_seconds("batch") - (batch0 > 0 ? batch0 : 0);
    double history = batch_seconds("history") - (history0 > 0 ? history0 : 0);
    assert_true(batch > 0 && history > 0 && history < batch);

    char *text = timeline_text(e, sf_id);
    char created[128];
    snprintf(created, sizeof created, "write|hubspot|Created the HubSpot record %s\n", hs_id);
    const char *const want[] = {
        /* a settled event that is skipped is one row: the event and why it was skipped */
        "skip|hubspot|Skipped HubSpot update event",
        ": the change carries the values synkro wrote itself (an echo)\n",
        "skip|hubspot|Skipped HubSpot update event",
        ": both records already agree\n",
        /* the conflict's batch */
        "write|hubspot|Updated 1 field in HubSpot: name\n",
        "conflict|salesforce|Conflict on Name: changed on both sides; Salesforce wins"
        " (conflict_winner) with \"Orion SF\", HubSpot's \"Orion HS\" is overwritten\n",
        "decision|hubspot|Name: Salesforce -> HubSpot (two-way, conflict, Salesforce wins)\n",
        "event|salesforce|Salesforce update event",
        "event|hubspot|HubSpot update event",
        /* the HubSpot edit */
        "write|salesforce|Updated 1 field in Salesforce: Name\n",
        "decision|salesforce|name: HubSpot -> Salesforce (two-way, changed in HubSpot)\n",
        "event|hubspot|HubSpot update event",
        /* the Salesforce edit */
        "write|hubspot|Updated 1 field in HubSpot: budget\n",
        "decision|hubspot|Budget__c: Salesforce -> HubSpot (two-way, changed in Salesforce)\n",
        "event|salesforce|Salesforce update event",
        /* the create */
        created,
        "decision|hubspot|Name: Salesforce -> HubSpot (two-way, new HubSpot record)\n",
        "event|salesforce|Salesforce create event",
    };
    assert_in_order(text, want, sizeof want / sizeof want[0]);
    free(text);
    /* one statement per batch: each batch's rows are consecutive and share one transaction */
    assert_int_equal(q1_long(e->db->watch, "SELECT count(DISTINCT xmin::text) FROM sync_history"),
                     6);
    assert_int_equal(q1_long(e->db->watch, "SELECT count(*) FROM sync_history WHERE kind ="
                                           " 'conflict' AND details->>'losing_value' = 'Orion HS'"),
                     1);
    /* the echo's one row carries its event (id, when it was received) and the reason */
    assert_int_equal(q1_long(e->db->watch, "SELECT count(*) FROM sync_history WHERE kind = 'skip'"
                                           " AND event_id IS NOT NULL AND details->>'reason' ="
                                           " 'echo' AND details ? 'received_at'"),
                     1);

    /* a record that fails: its error (category, the CRM's message) */
    char *bad = hs_create("{\"name\":\"Bad\",\"contact_email\":\"not an email\"}");
    queue_event(e, "hubspot", bad, "create", NULL);
    assert_int_equal(run(e), 1);
    char sql[256];
    snprintf(sql, sizeof sql,
             "SELECT summary FROM sync_history WHERE hubspot_id = '%s' AND kind = 'error'", bad);
    const char *err_summary = q1(e->db->watch, sql);
    if (!strstr(err_summary, "Sync failed (validation)") ||
        !strstr(err_summary, "INVALID_EMAIL_ADDRESS"))
        fail_msg("error entry: %s", err_summary);
    free(bad);
    free(sf_id);
    free(hs_id);
}

static void test_create_idempotent_after_crash(void **state)
{
    struct env *e = *state;
    char *sf_id = sf_create("{\"Name\":\"Crash\"}");
    queue_event(e, "salesforce", sf_id, "create", NULL);
    assert_int_equal(run(e), 1);
    assert_int_equal(hs_count(), 1);
    /* as if the process died after the remote writes, before the commit */
    sf_patch(sf_id, "{\"HubSpot_Id__c\":null}");
    exec_ok(e->db->watch, "DELETE FROM sync_links");
    exec_ok(e->db->watch, "UPDATE change_events SET status = 'pending', finished_at = NULL");
    assert_int_equal(run(e), 1);
    assert_int_equal(hs_count(), 1);
    assert_int_equal(q1_long(e->db->watch, "SELECT count(*) FROM sync_links"), 1);
    json_object *sf = sf_get(sf_id);
    assert_non_null(crmsim_jstr(sf, "HubSpot_Id__c"));
    json_object_put(sf);
    free(sf_id);
}

/* A create cut short by a crash (the Salesforce record exists, the link still lacks its id) and
 * then an edit in HubSpot whose retry fails: the retry finds the Salesforce record through its
 * identity field and updates it instead of storing a new base for a blind upsert, so when the
 * Salesforce record's own event comes first, the record still compares against the base it really
 * holds and the HubSpot edit is written, not taken back. */
static void test_cut_short_create_is_looked_up(void **state)
{
    struct env *e = *state;
    char *hs_id = hs_create("{\"name\":\"Halted\",\"budget\":\"10\"}");
    queue_event(e, "hubspot", hs_id, "create", "{\"changeSource\":\"CRM_UI\"}");
    assert_int_equal(run(e), 1);
    json_object *hs = hs_get(hs_id);
    char *sf_id = strdup(hs_prop(hs, "salesforce_id"));
    json_object_put(hs);
    /* as if the process died after the Salesforce create, before the identity write-back and the
     * commit: the write-ahead link holds the HubSpot id and the base only */
    hs_patch(hs_id, "{\"salesforce_id\":\"\"}");
    exec_ok(e->db->watch, "UPDATE sync_links SET salesforce_id = NULL");
    hs_patch(hs_id, "{\"name\":\"Halted edited\"}");
    crmsim_proc_ok(&sim, "POST", "/_sim/faults",
                   "{\"match\":\"PATCH /services/data\",\"status\":503}");
    queue_event(e, "hubspot", hs_id, "update", "{\"changeSource\":\"CRM_UI\"}");
    assert_int_equal(run(e), 1); /* the Salesforce write fails: retried later */
    crmsim_proc_ok(&sim, "DELETE", "/_sim/faults", NULL);
    assert_int_equal(q1_long(e->db->watch, "SELECT count(*) FROM change_events WHERE status ="
                                           " 'pending' AND attempts = 1"),
                     1);
    /* the retry waits (its back-off has full jitter: pin it), so the Salesforce record's own
     * event runs alone first */
    exec_ok(e->db->watch, "UPDATE change_events SET next_attempt_at = now() + interval '1 hour'"
                          " WHERE status = 'pending'");
    queue_event(e, "salesforce", sf_id, "update", NULL);
    assert_int_equal(run(e), 1);
    json_object *sf = sf_get(sf_id);
    assert_string_equal(crmsim_jstr(sf, "Name"), "Halted edited");
    json_object_put(sf);
    hs = hs_get(hs_id);
    assert_string_equal(hs_prop(hs, "name"), "Halted edited");
    json_object_put(hs);
    exec_ok(e->db->watch, "UPDATE change_events SET next_attempt_at = now()");
    assert_int_equal(run(e), 1);
    assert_int_equal(q1_long(e->db->watch, "SELECT count(*) FROM sync_links WHERE salesforce_id"
                                           " IS NOT NULL AND hubspot_id IS NOT NULL"),
                     1);
    json_object *all =
        crmsim_proc_call(&sim, "GET", "/_sim/salesforce/Project__c/records", NULL, NULL);
    json_object *arr = all;
    if (json_object_is_type(all, json_type_object))
        json_object_object_get_ex(all, "records", &arr);
    assert_int_equal(arr ? json_object_array_length(arr) : 0, 1); /* no second record */
    json_object_put(all);
    free(sf_id);
    free(hs_id);
}

/* record_id's event ended as status_category ("failed:validation") with error_part in its error. */
static void assert_event_failed(struct env *e, const char *record_id, const char *status_category,
                                const char *error_part)
{
    char sql[256];
    snprintf(sql, sizeof sql,
             "SELECT status || ':' || error_category FROM change_events WHERE record_id = '%s'",
             record_id);
    assert_string_equal(q1(e->db->watch, sql), status_category);
    snprintf(sql, sizeof sql, "SELECT last_error FROM change_events WHERE record_id = '%s'",
             record_id);
    assert_non_null(strstr(q1(e->db->watch, sql), error_part));
}

static void test_bad_record_fails_alone(void **state)
{
    struct env *e = *state;
    char *a = hs_create("{\"name\":\"Good A\"}");
    char *bad = hs_create("{\"name\":\"Bad\",\"contact_email\":\"not an email\"}");
    char *c = hs_create("{\"name\":\"Good C\"}");
    queue_event(e, "hubspot", a, "create", NULL);
    queue_event(e, "hubspot", bad, "create", NULL);
    queue_event(e, "hubspot", c, "create", NULL);
    assert_int_equal(run(e), 3);
    /* the failed create keeps its write-ahead link (HubSpot id and base only) for the retry */
    assert_int_equal(q1_long(e->db->watch, "SELECT count(*) FROM sync_links WHERE salesforce_id"
                                           " IS NOT NULL AND hubspot_id IS NOT NULL"),
                     2);
    assert_int_equal(q1_long(e->db->watch, "SELECT count(*) FROM sync_links WHERE salesforce_id"
                                           " IS NULL AND hs_values <> '{}'"),
                     1);
    assert_event_failed(e, bad, "failed:validation", "INVALID_EMAIL_ADDRESS");
    assert_int_equal(
        q1_long(e->db->watch, "SELECT count(*) FROM change_events WHERE status = 'done'"), 2);
    free(a), free(bad), free(c);
}

static void test_transient_error_retried(void **state)
{
    struct env *e = *state;
    char *sf_id, *hs_id;
    make_pair(e, &sf_id, &hs_id, "Flaky");
    sf_patch(sf_id, "{\"Budget__c\":42}");
    crmsim_proc_ok(&sim, "POST", "/_sim/faults",
                   "{\"match\":\"POST /crm/v3/objects/" HS_TYPE "/batch/update\",\"status\":503}");
    queue_event(e, "salesforce", sf_id, "update", NULL);
    assert_int_equal(run(e), 1);
    assert_string_equal(q1(e->db->watch, "SELECT status || ':' || attempts FROM change_events"
                                         " WHERE kind = 'update'"),
                        "pending:1");
    crmsim_proc_ok(&sim, "DELETE", "/_sim/faults", NULL);
    exec_ok(e->db->watch, "UPDATE change_events SET next_attempt_at = now()");
    assert_int_equal(run(e), 1);
    json_object *hs = hs_get(hs_id);
    assert_string_equal(hs_prop(hs, "budget"), "42");
    json_object_put(hs);
    free(sf_id);
    free(hs_id);
}

/* The records of a batch that failed together come back due together (one back-off draw per
 * batch), so they are claimed again as one batch rather than one by one as each one's own jitter
 * runs out. */
static void test_batch_retries_share_one_backoff(void **state)
{
    struct env *e = *state;
    char *sf[3], *hs[3];
    for (int i = 0; i < 3; i++) {
        char name[16];
        snprintf(name, sizeof name, "Herd %d", i);
        make_pair(e, &sf[i], &hs[i], name);
    }
    for (int i = 0; i < 3; i++) {
        sf_patch(sf[i], "{\"Budget__c\":7}");
        queue_event(e, "salesforce", sf[i], "update", NULL);
    }
    crmsim_proc_ok(&sim, "POST", "/_sim/faults",
                   "{\"match\":\"POST /crm/v3/objects/" HS_TYPE "/batch/update\",\"status\":503}");
    struct sync_batch_report rep = run_report(e, 3);
    assert_int_equal(rep.retried, 3);
    crmsim_proc_ok(&sim, "DELETE", "/_sim/faults", NULL);
    /* back-off base 1 s: three draws of their own would differ by milliseconds or more */
    assert_string_equal(q1(e->db->watch, "SELECT count(*) || ':' || (max(next_attempt_at)"
                                         " - min(next_attempt_at) < interval '5 ms')"
                                         " FROM change_events WHERE kind = 'update'"
                                         " AND status = 'pending'"),
                        "3:true");
    exec_ok(e->db->watch, "UPDATE change_events SET next_attempt_at = now()");
    rep = run_report(e, 3);
    assert_int_equal(rep.failed + rep.retried, 0);
    for (int i = 0; i < 3; i++)
        free(sf[i]), free(hs[i]);
}

static void test_delete_rules(void **state)
{
    struct env *e = *state;
    char *sf1, *hs1, *sf2, *hs2;
    make_pair(e, &sf1, &hs1, "Doomed");
    char path[128];
    snprintf(path, sizeof path, "/_sim/hubspot/" HS_TYPE "/records/%s", hs1);
    crmsim_proc_ok(&sim, "DELETE", path, NULL);
    queue_event(e, "hubspot", hs1, "delete", "{\"subscriptionType\":\"object.deletion\"}");
    assert_int_equal(run(e), 1);
    json_object *sf = sf_get(sf1);
    assert_true(json_object_get_boolean(json_object_object_get(sf, "IsDeleted")));
    json_object_put(sf);
    char sql[160];
    snprintf(sql, sizeof sql, "SELECT state FROM sync_links WHERE hubspot_id = '%s'", hs1);
    assert_string_equal(q1(e->db->watch, sql), "deleted");

    set_mapping(e, "none", "none");
    make_pair(e, &sf2, &hs2, "Kept");
    snprintf(path, sizeof path, "/_sim/hubspot/" HS_TYPE "/records/%s", hs2);
    crmsim_proc_ok(&sim, "DELETE", path, NULL);
    queue_event(e, "hubspot", hs2, "delete", NULL);
    assert_int_equal(run(e), 1);
    sf = sf_get(sf2);
    assert_false(json_object_get_boolean(json_object_object_get(sf, "IsDeleted")));
    json_object_put(sf);
    snprintf(sql, sizeof sql, "SELECT state FROM sync_links WHERE hubspot_id = '%s'", hs2);
    assert_string_equal(q1(e->db->watch, sql), "deleted");
    free(sf1), free(hs1), free(sf2), free(hs2);
}

static void test_merge_repoints_link(void **state)
{
    struct env *e = *state;
    char *sf_id, *hs_old;
    make_pair(e, &sf_id, &hs_old, "Merged");
    char *survivor = hs_create("{\"name\":\"Survivor\"}");
    char body[256];
    snprintf(body, sizeof body, "{\"primaryObjectId\":\"%s\",\"objectIdToMerge\":\"%s\"}", survivor,
             hs_old);
    crmsim_proc_ok(&sim, "POST", "/_sim/hubspot/" HS_TYPE "/merge", body);
    char payload[256];
    snprintf(payload, sizeof payload,
             "{\"subscriptionType\":\"object.merge\",\"primaryObjectId\":%s,"
             "\"mergedObjectIds\":[%s],\"newObjectId\":%s}",
             survivor, hs_old, survivor);
    queue_event(e, "hubspot", survivor, "merge", payload);
    assert_int_equal(run(e), 1);
    char sql[200];
    snprintf(sql, sizeof sql, "SELECT hubspot_id FROM sync_links WHERE salesforce_id = '%s'",
             sf_id);
    assert_string_equal(q1(e->db->watch, sql), survivor);
    json_object *sf = sf_get(sf_id);
    assert_string_equal(crmsim_jstr(sf, "HubSpot_Id__c"), survivor);
    json_object_put(sf);
    free(sf_id), free(hs_old), free(survivor);
}

static void test_mapping_lock_excludes_other_engines(void **state)
{
    struct env *e = *state;
    char *sf_id = sf_create("{\"Name\":\"Locked\"}");
    queue_event(e, "salesforce", sf_id, "create", NULL);
    PGconn *other = testdb_connect_or_fail(e->db->conninfo);
    char sql[128];
    snprintf(sql, sizeof sql, "SELECT pg_advisory_lock(%d, 1)", LOCK_KEY_MAPPING);
    exec_ok(other, sql);
    struct sync_engine *second = engine_new(e, "t2");
    char err[256];
    assert_int_equal(sync_engine_run_once(second, NULL, err, sizeof err), 0);
    assert_int_equal(run(e), 0);
    assert_int_equal(
        q1_long(e->db->watch, "SELECT count(*) FROM change_events WHERE status = 'pending'"), 1);
    PQfinish(other); /* the session ends: the lock is gone once the server has noticed */
    for (int i = 0; i < 500 && q1_long(e->db->watch, "SELECT count(*) FROM pg_locks"
                                                     " WHERE locktype = 'advisory'") > 0;
         i++)
        usleep(10000);
    assert_int_equal(sync_engine_run_once(second, NULL, err, sizeof err), 1);
    assert_int_equal(run(e), 0);
    assert_int_equal(hs_count(), 1);
    sync_engine_destroy(second);
    free(sf_id);
}

/* Workers sync one mapping's pairs side by side (SYNKRO_MAPPING_WORKERS per process, default 2):
 * with another process's pairs batches in flight (the mapping's lock shared elsewhere, and even
 * the slot locks older versions took) a linked record still syncs here: slots are counted per
 * process, so busy workers of one instance never keep an idle one out. An unlinked record needs
 * the mapping alone: while the shared lock is held elsewhere it waits (the exclusive wait times
 * out, nothing is lost) and syncs once that batch is over. */
static void test_pairs_sync_side_by_side_within_slots(void **state)
{
    struct env *e = *state;
    char *sf_id, *hs_id;
    make_pair(e, &sf_id, &hs_id, "Side");
    PGconn *other = testdb_connect_or_fail(e->db->conninfo);
    char sql[160];
    snprintf(sql, sizeof sql, "SELECT pg_advisory_lock_shared(%d, 1)", LOCK_KEY_MAPPING);
    exec_ok(other, sql);
    for (int slot = 0; slot < 2; slot++) {
        snprintf(sql, sizeof sql, "SELECT pg_advisory_lock(%d, %d)", LOCK_KEY_SLOT,
                 1 * SYNC_MAX_MAPPING_WORKERS + slot);
        exec_ok(other, sql);
        char budget[32];
        snprintf(budget, sizeof budget, "{\"Budget__c\":%d}", 11 + slot);
        sf_patch(sf_id, budget);
        queue_event(e, "salesforce", sf_id, "update", NULL);
        assert_int_equal(run(e), 1);
        json_object *hs = hs_get(hs_id);
        assert_string_equal(hs_prop(hs, "budget"), slot ? "12" : "11");
        json_object_put(hs);
    }

    char *sf_new = sf_create("{\"Name\":\"Alone\"}");
    queue_event(e, "salesforce", sf_new, "create", NULL);
    assert_int_equal(run(e), 0); /* waited for the mapping alone, then gave up this round */
    assert_int_equal(
        q1_long(e->db->watch, "SELECT count(*) FROM change_events WHERE status = 'pending'"), 1);
    PQfinish(other);
    for (int i = 0; i < 500 && q1_long(e->db->watch, "SELECT count(*) FROM pg_locks"
                                                     " WHERE locktype = 'advisory'") > 0;
         i++)
        usleep(10000);
    assert_int_equal(run(e), 1);
    assert_int_equal(hs_count(), 2);
    free(sf_id);
    free(hs_id);
    free(sf_new);
}

static void test_batch_of_150_takes_two_calls(void **state)
{
    struct env *e = *state;
    enum { N = 150 };
    char *ids[N];
    for (int i = 0; i < N; i++) {
        char fields[64];
        snprintf(fields, sizeof fields, "{\"Name\":\"P%d\"}", i);
        ids[i] = sf_create(fields);
        queue_event(e, "salesforce", ids[i], "create", NULL);
    }
    assert_int_equal(run(e), N);
    assert_int_equal(hs_count(), N);
    assert_int_equal(crmsim_proc_count(&sim, "POST /crm/v3/objects/{type}/batch/upsert", 200), 2);
    crmsim_proc_ok(&sim, "POST", "/_sim/stats/reset", NULL);
    for (int i = 0; i < N; i++) {
        sf_patch(ids[i], "{\"Budget__c\":7}");
        queue_event(e, "salesforce", ids[i], "update", NULL);
    }
    assert_int_equal(run(e), N);
    assert_int_equal(writes("/crm"), 2);
    assert_int_equal(crmsim_proc_count(&sim, "POST /crm/v3/objects/{type}/batch/update", 200), 2);
    for (int i = 0; i < N; i++)
        free(ids[i]);
}

static void test_hs_echo_settles_without_calls(void **state)
{
    struct env *e = *state;
    char *sf_id, *hs_id;
    make_pair(e, &sf_id, &hs_id, "Echo");
    sf_patch(sf_id, "{\"Budget__c\":250}");
    queue_event(e, "salesforce", sf_id, "update", NULL);
    assert_int_equal(run(e), 1);
    json_object *hs = hs_get(hs_id);
    assert_string_equal(hs_prop(hs, "budget"), "250");
    json_object_put(hs);

    /* the webhooks of synkro's own write: budget, plus properties the mapping does not sync */
    crmsim_proc_ok(&sim, "POST", "/_sim/stats/reset", NULL);
    long done = done_events(e), observed = latency_count();
    queue_hs_change(e, hs_id, "budget", "250.0", "INTEGRATION");
    queue_hs_change(e, hs_id, "salesforce_id", sf_id, "INTEGRATION");
    queue_hs_change(e, hs_id, "hs_lastmodifieddate", "1700000000000", "INTEGRATION");
    struct sync_batch_report rep = run_report(e, 1);
    assert_int_equal(calls_matching(NULL), 0);
    assert_int_equal(rep.unchanged, 1);
    assert_int_equal(rep.hs_calls + rep.sf_calls, 0);
    assert_int_equal(done_events(e), done + 3);
    assert_int_equal(latency_count(), observed); /* an echo is no sync */

    /* a user change of the same shape (the echo, then the change) is synced */
    hs_patch(hs_id, "{\"budget\":\"999\"}");
    queue_hs_change(e, hs_id, "budget", "250", "INTEGRATION");
    queue_hs_change(e, hs_id, "budget", "999", "CRM_UI");
    rep = run_report(e, 1);
    assert_int_equal(rep.synced, 1);
    assert_int_equal(latency_count(), observed + 1);
    char *text = metrics_text();
    assert_non_null(strstr(text, "synkro_sync_latency_seconds_bucket{mapping=\"1\",le=\"0.15\"}"));
    assert_non_null(strstr(text, "synkro_sync_latency_seconds_bucket{mapping=\"1\",le=\"120\"}"));
    free(text);
    json_object *sf = sf_get(sf_id);
    assert_int_equal(json_object_get_int(json_object_object_get(sf, "Budget__c")), 999);
    json_object_put(sf);
    free(sf_id);
    free(hs_id);
}

static void test_sf_echo_settles_without_calls(void **state)
{
    struct env *e = *state;
    char *sf_id, *hs_id;
    make_pair(e, &sf_id, &hs_id, "Echo");
    hs_patch(hs_id, "{\"name\":\"Echo HS\"}");
    queue_event(e, "hubspot", hs_id, "update", "{\"changeSource\":\"CRM_UI\"}");
    assert_int_equal(run(e), 1);
    json_object *sf = sf_get(sf_id);
    assert_string_equal(crmsim_jstr(sf, "Name"), "Echo HS");
    json_object_put(sf);

    /* the outbound message of synkro's own write (null fields sent as nil) */
    crmsim_proc_ok(&sim, "POST", "/_sim/stats/reset", NULL);
    char fields[512];
    snprintf(fields, sizeof fields,
             "{\"Id\":\"%s\",\"name\":\"Echo HS\",\"Budget__c\":\"100.0\",\"Email__c\":null,"
             "\"HubSpot_Id__c\":\"%s\"}",
             sf_id, hs_id);
    queue_sf_message(e, sf_id, fields);
    struct sync_batch_report rep = run_report(e, 1);
    assert_int_equal(calls_matching(NULL), 0);
    assert_int_equal(rep.unchanged, 1);
    assert_int_equal(
        q1_long(e->db->watch, "SELECT count(*) FROM change_events WHERE status <> 'done'"), 0);

    /* a message without a mapped field (Email__c omitted: unknown) is read, and a change synced */
    sf_patch(sf_id, "{\"Name\":\"Real SF\"}");
    snprintf(fields, sizeof fields,
             "{\"Name\":\"Real SF\",\"Budget__c\":\"100.0\",\"HubSpot_Id__c\":\"%s\"}", hs_id);
    queue_sf_message(e, sf_id, fields);
    rep = run_report(e, 1);
    assert_int_equal(rep.synced, 1);
    assert_int_equal(calls_matching("/query"), 1);
    json_object *hs = hs_get(hs_id);
    assert_string_equal(hs_prop(hs, "name"), "Real SF");
    json_object_put(hs);
    free(sf_id);
    free(hs_id);
}

/* An outbound message is never taken as the record's current values: one older than what was
 * synced (retried or overtaken) would push stale values. A message whose values differ from the
 * base therefore costs a read, and the record's real values are synced. */
static void test_stale_message_is_not_trusted(void **state)
{
    struct env *e = *state;
    char *sf_id, *hs_id;
    make_pair(e, &sf_id, &hs_id, "Message");
    sf_patch(sf_id, "{\"Name\":\"Message 3\",\"Email__c\":\"m@example.com\"}");
    crmsim_proc_ok(&sim, "POST", "/_sim/stats/reset", NULL);
    char fields[512];
    snprintf(fields, sizeof fields,
             "{\"Id\":\"%s\",\"Name\":\"Message 1\",\"Budget__c\":\"100.0\","
             "\"Email__c\":\"old@example.com\",\"HubSpot_Id__c\":\"%s\"}",
             sf_id, hs_id);
    queue_sf_message(e, sf_id, fields); /* complete, but older than the record */
    struct sync_batch_report rep = run_report(e, 1);
    assert_int_equal(rep.synced, 1);
    assert_int_equal(calls_matching("/query"), 1);
    json_object *hs = hs_get(hs_id);
    assert_string_equal(hs_prop(hs, "name"), "Message 3");
    assert_string_equal(hs_prop(hs, "contact_email"), "m@example.com");
    json_object_put(hs);
    free(sf_id);
    free(hs_id);
}

static void test_concurrent_read_failure_retries(void **state)
{
    struct env *e = *state;
    char *sf_id, *hs_id;
    make_pair(e, &sf_id, &hs_id, "Parallel");
    crmsim_proc_ok(&sim, "POST", "/_sim/stats/reset", NULL);
    sf_patch(sf_id, "{\"Budget__c\":77}");
    /* both reads run (the HubSpot one beside the Salesforce one); the HubSpot one fails */
    crmsim_proc_ok(&sim, "POST", "/_sim/faults",
                   "{\"match\":\"POST /crm/v3/objects/" HS_TYPE "/batch/read\",\"status\":503}");
    queue_event(e, "salesforce", sf_id, "update", NULL);
    struct sync_batch_report rep = run_report(e, 1);
    assert_int_equal(rep.retried, 1);
    assert_int_equal(calls_matching("/query"), 1);
    assert_string_equal(q1(e->db->watch, "SELECT status || ':' || attempts || ':' ||"
                                         " (last_error LIKE 'reading HubSpot%') FROM change_events"
                                         " WHERE kind = 'update'"),
                        "pending:1:true");
    crmsim_proc_ok(&sim, "DELETE", "/_sim/faults", NULL);
    exec_ok(e->db->watch, "UPDATE change_events SET next_attempt_at = now()");
    rep = run_report(e, 1);
    assert_int_equal(rep.synced, 1);
    json_object *hs = hs_get(hs_id);
    assert_string_equal(hs_prop(hs, "budget"), "77");
    json_object_put(hs);
    free(sf_id);
    free(hs_id);
}

static void test_both_sides_written_at_once(void **state)
{
    struct env *e = *state;
    char *sf_id, *hs_id;
    make_pair(e, &sf_id, &hs_id, "Both");
    sf_patch(sf_id, "{\"Budget__c\":11}");
    hs_patch(hs_id, "{\"name\":\"Both HS\"}");
    queue_event(e, "salesforce", sf_id, "update", NULL);
    queue_event(e, "hubspot", hs_id, "update", "{\"changeSource\":\"CRM_UI\"}");
    struct sync_batch_report rep = run_report(e, 2);
    assert_int_equal(rep.hs_writes, 1);
    assert_int_equal(rep.sf_writes, 1);
    json_object *hs = hs_get(hs_id), *sf = sf_get(sf_id);
    assert_string_equal(hs_prop(hs, "budget"), "11");
    assert_string_equal(crmsim_jstr(sf, "Name"), "Both HS");
    json_object_put(hs);
    json_object_put(sf);

    /* the HubSpot update fails: the pair is retried and converges */
    sf_patch(sf_id, "{\"Budget__c\":12}");
    hs_patch(hs_id, "{\"name\":\"Both HS 2\"}");
    crmsim_proc_ok(&sim, "POST", "/_sim/faults",
                   "{\"match\":\"POST /crm/v3/objects/" HS_TYPE "/batch/update\",\"status\":503}");
    queue_event(e, "salesforce", sf_id, "update", NULL);
    queue_event(e, "hubspot", hs_id, "update", "{\"changeSource\":\"CRM_UI\"}");
    rep = run_report(e, 2);
    assert_int_equal(rep.retried, 2);
    crmsim_proc_ok(&sim, "DELETE", "/_sim/faults", NULL);
    exec_ok(e->db->watch, "UPDATE change_events SET next_attempt_at = now()");
    rep = run_report(e, 2);
    assert_int_equal(rep.failed + rep.retried, 0);
    hs = hs_get(hs_id), sf = sf_get(sf_id);
    assert_string_equal(hs_prop(hs, "budget"), "12");
    assert_string_equal(crmsim_jstr(sf, "Name"), "Both HS 2");
    json_object_put(hs);
    json_object_put(sf);
    free(sf_id);
    free(hs_id);
}

/* ---- never lose an edit (issue 16) ---- */

/* One field write acknowledged (HubSpot's Name edit reached Salesforce), the other CRM's write of
 * the same pair failed: the pair is retried, but the written field's base moved with the write.
 * A Salesforce user then edits that field: only Salesforce changed since the last sync, so the
 * edit syncs without a conflict (before, the link kept the base from before the write, both
 * sides looked changed, and a conflict was recorded; with HubSpot as the winner the user's newer
 * edit was thrown away). The failed field (Budget) is still written by the retry. */
static void test_acknowledged_write_moves_base(void **state)
{
    struct env *e = *state;
    char *sf_id, *hs_id;
    make_pair(e, &sf_id, &hs_id, "Atlas");
    hs_patch(hs_id, "{\"name\":\"Atlas HS\"}");
    sf_patch(sf_id, "{\"Budget__c\":55}");
    crmsim_proc_ok(&sim, "POST", "/_sim/faults",
                   "{\"match\":\"POST /crm/v3/objects/" HS_TYPE "/batch/update\",\"status\":503}");
    queue_event(e, "hubspot", hs_id, "update", "{\"changeSource\":\"CRM_UI\"}");
    queue_event(e, "salesforce", sf_id, "update", NULL);
    struct sync_batch_report rep = run_report(e, 2);
    assert_int_equal(rep.retried, 2);
    json_object *sf = sf_get(sf_id);
    assert_string_equal(crmsim_jstr(sf, "Name"), "Atlas HS"); /* acknowledged */
    json_object_put(sf);
    assert_string_equal(q1(e->db->watch,
                           "SELECT (sf_values->>'Name') || '|' || (hs_values->>'name')"
                           " || '|' || (sf_values->>'Budget__c') FROM sync_links"),
                        "Atlas HS|Atlas HS|100.0");
    crmsim_proc_ok(&sim, "DELETE", "/_sim/faults", NULL);
    sf_patch(sf_id, "{\"Name\":\"Atlas SF later\"}");
    queue_event(e, "salesforce", sf_id, "update", NULL);
    exec_ok(e->db->watch, "UPDATE change_events SET next_attempt_at = now()");
    rep = run_report(e, 2);
    assert_int_equal(rep.failed + rep.retried, 0);
    json_object *hs = hs_get(hs_id);
    sf = sf_get(sf_id);
    assert_string_equal(hs_prop(hs, "name"), "Atlas SF later");
    assert_string_equal(crmsim_jstr(sf, "Name"), "Atlas SF later");
    assert_string_equal(hs_prop(hs, "budget"), "55");
    json_object_put(hs);
    json_object_put(sf);
    assert_int_equal(q1_long(e->db->watch, "SELECT count(*) FROM sync_conflicts"), 0);
    free(sf_id);
    free(hs_id);
}

/* What a background thread does while the engine's batch is in flight. */
struct midway {
    pthread_t thread;
    int delay_ms;
    const char *method;
    char path[160];
    char body[256];
};

static void *midway_run(void *arg)
{
    struct midway *m = arg;
    usleep((useconds_t)m->delay_ms * 1000);
    json_object_put(crmsim_proc_call(&sim, m->method, m->path, m->body[0] ? m->body : NULL, NULL));
    return NULL;
}

static void midway_start(struct midway *m)
{
    if (pthread_create(&m->thread, NULL, midway_run, m) != 0)
        fail_msg("pthread_create");
}

/* Three HubSpot edits in one batch; the HubSpot read is slow, and a Salesforce user deletes the
 * middle record after synkro read Salesforce and before it writes. Salesforce answers that write
 * ENTITY_IS_DELETED: the pair is settled as the Salesforce record's delete (on_delete delete:
 * the HubSpot record is archived, the link marked deleted), counted in synkro_sync_gone_total,
 * and no event fails. */
static void test_record_gone_at_write_is_a_delete(void **state)
{
    struct env *e = *state;
    char *sf[3], *hs[3];
    const char *names[] = {"Orion", "Lyra", "Draco"};
    for (int i = 0; i < 3; i++)
        make_pair(e, &sf[i], &hs[i], names[i]);
    for (int i = 0; i < 3; i++) {
        char props[96];
        snprintf(props, sizeof props, "{\"name\":\"%s HS\"}", names[i]);
        hs_patch(hs[i], props);
        queue_event(e, "hubspot", hs[i], "update", "{\"changeSource\":\"CRM_UI\"}");
    }
    crmsim_proc_ok(&sim, "POST", "/_sim/faults",
                   "{\"match\":\"POST /crm/v3/objects/" HS_TYPE "/batch/read\","
                   "\"latency_ms\":1200,\"count\":1}");
    struct midway m = {.delay_ms = 400, .method = "DELETE"};
    snprintf(m.path, sizeof m.path, "/_sim/salesforce/Project__c/records/%s", sf[1]);
    midway_start(&m);
    struct sync_batch_report rep = run_report(e, 3);
    pthread_join(m.thread, NULL);
    assert_int_equal(rep.failed + rep.retried, 0);
    assert_int_equal(rep.synced, 2);
    assert_int_equal(rep.deleted, 1);
    for (int i = 0; i < 3; i += 2) {
        json_object *r = sf_get(sf[i]);
        char want[96];
        snprintf(want, sizeof want, "%s HS", names[i]);
        assert_string_equal(crmsim_jstr(r, "Name"), want);
        json_object_put(r);
    }
    char sql[200];
    snprintf(sql, sizeof sql, "SELECT state FROM sync_links WHERE hubspot_id = '%s'", hs[1]);
    assert_string_equal(q1(e->db->watch, sql), "deleted");
    json_object *h = hs_get(hs[1]);
    assert_true(json_object_get_boolean(json_object_object_get(h, "archived")));
    json_object_put(h);
    assert_int_equal(
        q1_long(e->db->watch, "SELECT count(*) FROM change_events WHERE status <> 'done'"), 0);
    char *text = metrics_text();
    assert_non_null(strstr(text, "synkro_sync_gone_total{mapping=\"1\",crm=\"salesforce\"} 1"));
    free(text);
    for (int i = 0; i < 3; i++)
        free(sf[i]), free(hs[i]);
}

/* The same from the other side: Salesforce edits written to HubSpot, one HubSpot record archived
 * by a user while the Salesforce read is slow. HubSpot answers that input OBJECT_NOT_FOUND: the
 * pair is settled as the HubSpot record's delete (on_delete delete: the Salesforce record is
 * deleted too), the other two are written, nothing fails. */
static void test_hubspot_record_gone_at_write_is_a_delete(void **state)
{
    struct env *e = *state;
    char *sf[3], *hs[3];
    const char *names[] = {"Ara", "Crux", "Lupus"};
    for (int i = 0; i < 3; i++)
        make_pair(e, &sf[i], &hs[i], names[i]);
    for (int i = 0; i < 3; i++) {
        sf_patch(sf[i], "{\"Budget__c\":321}");
        queue_event(e, "salesforce", sf[i], "update", NULL);
    }
    crmsim_proc_ok(&sim, "POST", "/_sim/faults",
                   "{\"match\":\"GET /services/data\",\"latency_ms\":1200,\"count\":1}");
    struct midway m = {.delay_ms = 400, .method = "DELETE"};
    snprintf(m.path, sizeof m.path, "/_sim/hubspot/" HS_TYPE "/records/%s", hs[2]);
    midway_start(&m);
    struct sync_batch_report rep = run_report(e, 3);
    pthread_join(m.thread, NULL);
    assert_int_equal(rep.failed + rep.retried, 0);
    assert_int_equal(rep.synced, 2);
    assert_int_equal(rep.deleted, 1);
    for (int i = 0; i < 2; i++) {
        json_object *h = hs_get(hs[i]);
        assert_string_equal(hs_prop(h, "budget"), "321");
        json_object_put(h);
    }
    json_object *r = sf_get(sf[2]);
    assert_true(json_object_get_boolean(json_object_object_get(r, "IsDeleted")));
    json_object_put(r);
    assert_int_equal(
        q1_long(e->db->watch, "SELECT count(*) FROM change_events WHERE status <> 'done'"), 0);
    char *text = metrics_text();
    assert_non_null(strstr(text, "synkro_sync_gone_total{mapping=\"1\",crm=\"hubspot\"} 1"));
    free(text);
    for (int i = 0; i < 3; i++)
        free(sf[i]), free(hs[i]);
}

/* A batch whose HubSpot read took over SYNC_STALE_READ_MS (5 s) reads again before writing: a
 * Salesforce user's edit of the field made while the slow read was running is seen (a conflict,
 * resolved by the mapping's winner, Salesforce) instead of being overwritten by a write built on
 * the 5-second-old Salesforce read. */
static void test_stale_read_is_read_again(void **state)
{
    struct env *e = *state;
    char *sf_id, *hs_id;
    make_pair(e, &sf_id, &hs_id, "Cygnus");
    hs_patch(hs_id, "{\"name\":\"Cygnus HS\"}");
    queue_event(e, "hubspot", hs_id, "update", "{\"changeSource\":\"CRM_UI\"}");
    crmsim_proc_ok(&sim, "POST", "/_sim/faults",
                   "{\"match\":\"POST /crm/v3/objects/" HS_TYPE "/batch/read\","
                   "\"latency_ms\":5600,\"count\":1}");
    struct midway m = {.delay_ms = 1000, .method = "PATCH", .body = "{\"Name\":\"Cygnus SF\"}"};
    snprintf(m.path, sizeof m.path, "/_sim/salesforce/Project__c/records/%s", sf_id);
    midway_start(&m);
    struct sync_batch_report rep = run_report(e, 1);
    pthread_join(m.thread, NULL);
    assert_int_equal(rep.failed + rep.retried, 0);
    json_object *sf = sf_get(sf_id), *hs = hs_get(hs_id);
    assert_string_equal(crmsim_jstr(sf, "Name"), "Cygnus SF");
    assert_string_equal(hs_prop(hs, "name"), "Cygnus SF");
    json_object_put(sf);
    json_object_put(hs);
    assert_string_equal(q1(e->db->watch, "SELECT winner || ':' || hubspot_value FROM"
                                         " sync_conflicts"),
                        "salesforce:Cygnus HS");
    char *text = metrics_text();
    assert_non_null(strstr(text, "synkro_sync_stale_rereads_total{mapping=\"1\"} 1"));
    free(text);
    free(sf_id);
    free(hs_id);
}

/* The writes of a batch land and its commit does not (here a trigger makes the commit fail; a
 * kill -9 leaves the same state, see it_sync_partial): the link keeps the write-ahead record, and
 * the next sync of the pair takes the base of every write that landed. Users then edit: HubSpot
 * again (the same field) and Salesforce (another one). Both edits sync, with no conflict; before,
 * the HubSpot edit looked concurrent with synkro's own landed write and Salesforce, the winner,
 * took it back. */
static void test_commit_lost_after_writes_keeps_edits(void **state)
{
    struct env *e = *state;
    char *sf_id, *hs_id;
    make_pair(e, &sf_id, &hs_id, "Hydra");
    exec_ok(e->db->watch,
            "CREATE FUNCTION refuse_commit() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
            " RAISE EXCEPTION 'commit refused by the test'; END $$;"
            "CREATE TRIGGER refuse_commit BEFORE UPDATE ON sync_links FOR EACH ROW"
            " WHEN (OLD.pending IS NOT NULL AND NEW.pending IS NULL) EXECUTE FUNCTION"
            " refuse_commit()");
    hs_patch(hs_id, "{\"name\":\"Hydra HS\"}");
    sf_patch(sf_id, "{\"Budget__c\":7}");
    queue_event(e, "hubspot", hs_id, "update", "{\"changeSource\":\"CRM_UI\"}");
    queue_event(e, "salesforce", sf_id, "update", NULL);
    char err[512] = "";
    struct sync_batch_report rep;
    sync_engine_run_once(e->eng, &rep, err, sizeof err);
    assert_non_null(strstr(err, "commit refused by the test"));
    json_object *sf = sf_get(sf_id), *hs = hs_get(hs_id);
    assert_string_equal(crmsim_jstr(sf, "Name"), "Hydra HS"); /* both writes landed */
    assert_string_equal(hs_prop(hs, "budget"), "7");
    json_object_put(sf);
    json_object_put(hs);
    assert_int_equal(q1_long(e->db->watch, "SELECT count(*) FROM sync_links WHERE pending IS NOT"
                                           " NULL AND sf_values->>'Name' = 'Hydra'"),
                     1);
    exec_ok(e->db->watch, "DROP TRIGGER refuse_commit ON sync_links");
    hs_patch(hs_id, "{\"name\":\"Hydra HS again\"}");
    sf_patch(sf_id, "{\"Email__c\":\"ops@example.com\"}");
    queue_event(e, "hubspot", hs_id, "update", "{\"changeSource\":\"CRM_UI\"}");
    queue_event(e, "salesforce", sf_id, "update", NULL);
    exec_ok(e->db->watch, "UPDATE change_events SET next_attempt_at = now()");
    rep = run_report(e, 2);
    assert_int_equal(rep.failed + rep.retried + rep.conflicts, 0);
    sf = sf_get(sf_id), hs = hs_get(hs_id);
    assert_string_equal(crmsim_jstr(sf, "Name"), "Hydra HS again");
    assert_string_equal(hs_prop(hs, "name"), "Hydra HS again");
    assert_string_equal(hs_prop(hs, "contact_email"), "ops@example.com");
    assert_string_equal(hs_prop(hs, "budget"), "7");
    json_object_put(sf);
    json_object_put(hs);
    assert_int_equal(q1_long(e->db->watch, "SELECT count(*) FROM sync_conflicts"), 0);
    assert_int_equal(q1_long(e->db->watch, "SELECT count(*) FROM sync_links WHERE pending IS NOT"
                                           " NULL"),
                     0);
    free(sf_id);
    free(hs_id);
}

/* A write-ahead record whose writes did not land (the target still holds what was read) keeps
 * the old base: the change is written again, not lost. */
static void test_pending_write_not_landed_is_redone(void **state)
{
    struct env *e = *state;
    char *sf_id, *hs_id;
    make_pair(e, &sf_id, &hs_id, "Pyxis");
    hs_patch(hs_id, "{\"name\":\"Pyxis HS\"}");
    /* as if a batch stored its record and died before its Salesforce write went out */
    exec_ok(e->db->watch,
            "UPDATE sync_links SET pending = jsonb_build_object('sf_read',"
            " '{\"Name\":\"Pyxis\"}'::jsonb, 'hs_read', '{}'::jsonb, 'sf_base',"
            " sf_values || '{\"Name\":\"Pyxis HS\"}', 'hs_base', hs_values || '{\"name\":\"Pyxis"
            " HS\"}')");
    queue_event(e, "hubspot", hs_id, "update", "{\"changeSource\":\"CRM_UI\"}");
    struct sync_batch_report rep = run_report(e, 1);
    assert_int_equal(rep.failed + rep.retried + rep.conflicts, 0);
    assert_int_equal(rep.sf_writes, 1);
    json_object *sf = sf_get(sf_id);
    assert_string_equal(crmsim_jstr(sf, "Name"), "Pyxis HS");
    json_object_put(sf);
    free(sf_id);
    free(hs_id);
}

/* ---- the worker threads: lingering, schema reloads ---- */

static int64_t now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static bool event_done(struct env *e, const char *record_id)
{
    char sql[200];
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM change_events WHERE record_id = '%s' AND status = 'done'",
             record_id);
    return q1_long(e->db->watch, sql) == 1;
}

/* Queues a Salesforce create of a new record named name and wakes the engine; returns the id. */
static char *queue_create_and_wake(struct env *e, const char *name)
{
    char fields[128];
    snprintf(fields, sizeof fields, "{\"Name\":\"%s\"}", name);
    char *id = sf_create(fields);
    queue_event(e, "salesforce", id, "create", NULL);
    sync_engine_wake(e->eng);
    return id;
}

/* Polls (waking the engine again each time, as further webhooks would) until record_id's event is
 * done or limit_ms passed since t0; returns the milliseconds since t0, or -1. The repeated wake-ups
 * cover one that came before the worker went idle (a wake-up then is lost); they cannot shorten a
 * linger, which is not interruptible. */
static int64_t wait_done(struct env *e, const char *record_id, int64_t t0, int64_t limit_ms)
{
    while (now_ms() - t0 < limit_ms) {
        if (event_done(e, record_id))
            return now_ms() - t0;
        sync_engine_wake(e->eng);
        usleep(20000);
    }
    return -1;
}

/* A wake-up after more than LINGER_AFTER_IDLE_MS (1 s) without batches lingers linger_ms before
 * claiming, so the first batch of a burst is full; a wake-up soon after a batch (a steady stream)
 * claims at once. One worker thread, polling only every minute: every round here is a wake-up. */
static void test_wake_lingers_only_after_idle(void **state)
{
    struct env *e = *state;
    enum { LINGER_MS = 1500 };
    sync_engine_destroy(e->eng);
    e->eng = engine_new_with(e, "linger", 1, 60000, LINGER_MS, 0);
    char err[256];
    if (sync_engine_start(e->eng, err, sizeof err) != 0)
        fail_msg("sync_engine_start: %s", err);
    usleep(1200 * 1000); /* the worker's first round finds nothing; more than 1 s idle */

    char *first = queue_create_and_wake(e, "Lingered");
    int64_t t0 = now_ms();
    /* lingering: not claimed for at least the first 1000 of its 1500 ms */
    int64_t early = wait_done(e, first, t0, 1000);
    assert_int_equal(early, -1);
    int64_t took = wait_done(e, first, t0, 30000);
    assert_true(took >= 1000);

    /* the next event well within 1 s of that batch: no linger. The bound is the skipped linger
     * (1500 ms): whatever the machine's speed, a lingering worker could not be done before it. */
    char *second = queue_create_and_wake(e, "Streamed");
    int64_t t1 = now_ms();
    int64_t streamed = wait_done(e, second, t1, 30000);
    assert_true(streamed >= 0);
    if (streamed >= 1200)
        fail_msg("the second event took %lld ms: the wake-up lingered although a batch had just "
                 "finished",
                 (long long)streamed);
    sync_engine_stop(e->eng);
    assert_int_equal(hs_count(), 2);
    free(first);
    free(second);
}

/* Adds option value (label = value) to HubSpot property prop of the projects schema, as an admin
 * would: crmsim has no property-update route, so its state is dumped, changed, and restored over
 * a reset (records, schemas and describes are kept; POST /_sim/fixtures takes a dump). */
static void hs_add_option(const char *prop, const char *value)
{
    json_object *dump = crmsim_proc_call(&sim, "GET", "/_sim/dump", NULL, NULL);
    json_object *hs = NULL, *schemas = NULL, *options = NULL;
    json_object_object_get_ex(dump, "hubspot", &hs);
    json_object_object_get_ex(hs, "schemas", &schemas);
    for (size_t i = 0; schemas && i < json_object_array_length(schemas); i++) {
        json_object *sch = json_object_array_get_idx(schemas, i), *props = NULL;
        const char *schema_name = crmsim_jstr(sch, "name");
        if (!schema_name || strcmp(schema_name, "projects") != 0)
            continue;
        json_object_object_get_ex(sch, "properties", &props);
        for (size_t j = 0; props && j < json_object_array_length(props); j++) {
            json_object *p = json_object_array_get_idx(props, j);
            const char *name = crmsim_jstr(p, "name");
            if (name && strcmp(name, prop) == 0)
                json_object_object_get_ex(p, "options", &options);
        }
    }
    if (!options || !json_object_is_type(options, json_type_array))
        fail_msg("no options of HubSpot property %s in the crmsim dump", prop);
    json_object *opt = json_object_new_object();
    json_object_object_add(opt, "label", json_object_new_string(value));
    json_object_object_add(opt, "value", json_object_new_string(value));
    json_object_array_add(options, opt);
    char *doc = strdup(json_object_to_json_string_ext(dump, JSON_C_TO_STRING_PLAIN));
    json_object_put(dump);
    crmsim_proc_ok(&sim, "POST", "/_sim/reset", NULL);
    crmsim_proc_ok(&sim, "POST", "/_sim/fixtures", doc);
    free(doc);
}

/* A batch with failed records makes the worker re-read both schemas before its next round, even
 * within mapping_ttl_ms: the failure may be a schema change (here a picklist value the HubSpot
 * dropdown lacked, fixed by adding the option), and the retried record must see the new schema
 * rather than the cached one. */
static void test_failed_batch_rereads_schemas(void **state)
{
    struct env *e = *state;
    crmsim_proc_ok(&sim, "POST", "/_sim/reset", NULL);
    crmsim_proc_ok(&sim, "POST", "/_sim/fixtures", FIXTURES_STAGE);
    set_mapping_fields(e, "delete", "delete",
                       ",{\"salesforce\":\"Stage__c\",\"hubspot\":\"stage\"}");
    sync_engine_destroy(e->eng);
    e->eng = engine_new_with(e, "ttl", 0, 0, 0, 600000); /* schemas cached for 10 minutes */

    char *sf_id = sf_create("{\"Name\":\"Staged\",\"Stage__c\":\"Blocked\"}");
    queue_event(e, "salesforce", sf_id, "create", NULL);
    struct sync_batch_report rep = run_report(e, 1);
    assert_int_equal(rep.failed, 1);
    assert_event_failed(e, sf_id, "failed:conversion", "Blocked");
    char sql[200];
    assert_int_equal(hs_count(), 0);

    hs_add_option("stage", "Blocked");
    snprintf(sql, sizeof sql, "SELECT id FROM change_events WHERE record_id = '%s'", sf_id);
    int64_t id = strtoll(q1(e->db->watch, sql), NULL, 10);
    char err[256] = "";
    assert_int_equal(queue_retry_event(e->db->watch, id, err, sizeof err), QUEUE_RETRY_OK);
    rep = run_report(e, 1);
    assert_int_equal(rep.failed, 0);
    assert_int_equal(rep.created, 1);
    json_object *sf = sf_get(sf_id);
    const char *hs_id = crmsim_jstr(sf, "HubSpot_Id__c");
    assert_non_null(hs_id);
    json_object *hs = hs_get(hs_id);
    assert_string_equal(hs_prop(hs, "stage"), "Blocked");
    json_object_put(hs);
    json_object_put(sf);
    free(sf_id);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_sf_create_links_and_echo_settles),
        T(test_hs_create_upserts_salesforce),
        T(test_updates_both_ways_and_clear),
        T(test_conflict_recorded),
        T(test_timeline_records_each_step),
        T(test_create_idempotent_after_crash),
        T(test_cut_short_create_is_looked_up),
        T(test_bad_record_fails_alone),
        T(test_transient_error_retried),
        T(test_batch_retries_share_one_backoff),
        T(test_delete_rules),
        T(test_merge_repoints_link),
        T(test_mapping_lock_excludes_other_engines),
        T(test_pairs_sync_side_by_side_within_slots),
        T(test_batch_of_150_takes_two_calls),
        T(test_hs_echo_settles_without_calls),
        T(test_sf_echo_settles_without_calls),
        T(test_stale_message_is_not_trusted),
        T(test_concurrent_read_failure_retries),
        T(test_both_sides_written_at_once),
        T(test_acknowledged_write_moves_base),
        T(test_record_gone_at_write_is_a_delete),
        T(test_hubspot_record_gone_at_write_is_a_delete),
        T(test_stale_read_is_read_again),
        T(test_commit_lost_after_writes_keeps_edits),
        T(test_pending_write_not_landed_is_redone),
        T(test_wake_lingers_only_after_idle),
        T(test_failed_batch_rereads_schemas),
    };
    int rc = cmocka_run_group_tests(tests, group_setup, group_teardown);
    metrics_reset_all();
    return rc;
}
