/* it_records_api.c: a record's history end to end (real synkro + crmsim + PostgreSQL):
 * GET /api/records, GET /api/records/{id} and GET /api/records/{id}/timeline.
 *
 * One environment (the Widgets mapping of sync_env, deliveries held until flushed) serves every
 * test, in order:
 *   - a Salesforce record created, edited in HubSpot, edited in Salesforce, then edited on both
 *     sides before one delivery (a conflict, Salesforce wins): found by its Salesforce id (18 and
 *     15 characters) and its HubSpot id; its detail holds the last-synced values; its timeline,
 *     newest first, shows the conflict with its winner and losing value, the decisions, writes
 *     and events; pages of 3 joined equal the whole timeline;
 *   - a link found by the start of its label, case-insensitively (the label from Name);
 *   - 400 with a message for bad, hostile and oversized query values and ids, 404 for unknown
 *     links, hostile search text answered as plain text, 401 without the admin token. */
#include "sync_env.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define WAIT_MS 60000

static struct sync_env *env;
static char sf_id[64], hs_id[64];
static long long link_id;

static int group_setup(void **state)
{
    (void)state;
    struct sync_env_options o = {.workers = 2, .hold_deliveries = true};
    env = sync_env_start(&o);
    return env ? 0 : -1;
}

static int group_teardown(void **state)
{
    (void)state;
    return sync_env_stop(env);
}

static const char *str(json_object *o, const char *key)
{
    json_object *v = sync_get(o, key);
    return v ? json_object_get_string(v) : NULL;
}

static json_object *get(const char *path, long want)
{
    long st = 0;
    json_object *o = sync_api(env, "GET", path, NULL, &st);
    if (st != want)
        fail_msg("GET %s answered %ld (%s), expected %ld", path, st,
                 o ? json_object_to_json_string(o) : "", want);
    return o;
}

static void edit_sf(const char *field, const char *value)
{
    char *j = sync_json_kv(field, value, NULL);
    assert_int_equal(sync_sf_update(env, sf_id, j), 0);
    free(j);
}

static void edit_hs(const char *prop, const char *value)
{
    char *j = sync_json_kv(prop, value, NULL);
    assert_int_equal(sync_hs_update(env, hs_id, j), 0);
    free(j);
}

static void test_timeline_of_a_synced_record(void **state)
{
    (void)state;
    const char *two_sf = sync_fields[SF_TWO_WAY].sf, *two_hs = sync_fields[SF_TWO_WAY].hs;
    char *j = sync_json_kv(two_sf, "first", NULL);
    assert_int_equal(sync_sf_create(env, j, sf_id, sizeof sf_id), 0);
    free(j);
    assert_true(sync_wait_quiet(env, WAIT_MS));
    assert_true(sync_wait_hs_for_sf(env, sf_id, hs_id, sizeof hs_id, WAIT_MS));
    edit_hs(two_hs, "from hubspot");
    assert_true(sync_wait_quiet(env, WAIT_MS));
    assert_true(sync_wait_sf_value(env, sf_id, two_sf, "from hubspot", WAIT_MS));
    edit_sf("Amount__c", "42");
    assert_true(sync_wait_quiet(env, WAIT_MS));
    assert_true(sync_wait_hs_value(env, hs_id, "amount", "42", WAIT_MS));
    /* both sides before one delivery: a conflict, Salesforce (the mapping's winner) wins */
    edit_sf(two_sf, "sf wins");
    edit_hs(two_hs, "hs loses");
    assert_true(sync_wait_quiet(env, WAIT_MS));
    assert_true(sync_wait_hs_value(env, hs_id, two_hs, "sf wins", WAIT_MS));
    assert_true(sync_wait_quiet(env, WAIT_MS));

    /* found by each id */
    char path[512];
    const char *queries[] = {sf_id, hs_id, NULL};
    char sf15[16];
    snprintf(sf15, sizeof sf15, "%.15s", sf_id);
    queries[2] = sf15;
    for (size_t i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "/api/records?q=%s", queries[i]);
        json_object *o = get(path, 200);
        json_object *recs = sync_get(o, "records");
        if (json_object_array_length(recs) != 1)
            fail_msg("%s: %s", path, json_object_to_json_string(o));
        json_object *r = json_object_array_get_idx(recs, 0);
        assert_string_equal(str(r, "salesforce_id"), sf_id);
        assert_string_equal(str(r, "hubspot_id"), hs_id);
        assert_string_equal(str(r, "mapping_name"), "Widgets");
        assert_string_equal(str(r, "salesforce_object"), SYNC_SF_OBJECT);
        assert_non_null(str(r, "last_synced_at"));
        link_id = json_object_get_int64(sync_get(r, "link_id"));
        assert_null(sync_get(o, "next"));
        json_object_put(o);
    }

    /* the detail: the last-synced values */
    snprintf(path, sizeof path, "/api/records/%lld", link_id);
    json_object *d = get(path, 200);
    assert_string_equal(str(d, "state"), "active");
    json_object *fields = sync_get(d, "fields");
    assert_int_equal(json_object_array_length(fields), SYNC_NFIELDS + 1);
    json_object *f0 = json_object_array_get_idx(fields, SF_TWO_WAY);
    assert_string_equal(str(f0, "salesforce_field"), two_sf);
    assert_string_equal(str(f0, "rule"), "two_way");
    assert_string_equal(str(f0, "base"), "sf wins");
    json_object_put(d);

    /* the timeline, newest first */
    snprintf(path, sizeof path, "/api/records/%lld/timeline?limit=200", link_id);
    json_object *t = get(path, 200);
    json_object *entries = sync_get(t, "entries");
    size_t n = json_object_array_length(entries);
    assert_true(n >= 12);
    assert_null(sync_get(t, "next"));
    long long prev = INT64_MAX;
    int conflicts = 0, decisions = 0, writes = 0, events = 0;
    for (size_t i = 0; i < n; i++) {
        json_object *e = json_object_array_get_idx(entries, i);
        long long id = json_object_get_int64(sync_get(e, "id"));
        assert_true(id < prev);
        prev = id;
        const char *kind = str(e, "kind");
        assert_non_null(str(e, "summary"));
        assert_non_null(str(e, "at"));
        conflicts += strcmp(kind, "conflict") == 0;
        decisions += strcmp(kind, "decision") == 0;
        writes += strcmp(kind, "write") == 0;
        events += strcmp(kind, "event") == 0;
        if (strcmp(kind, "conflict") == 0) {
            assert_string_equal(str(e, "side"), "salesforce");
            json_object *det = sync_get(e, "details");
            assert_string_equal(str(det, "winner"), "salesforce");
            assert_string_equal(str(det, "losing_value"), "hs loses");
            assert_non_null(strstr(str(e, "summary"), "Salesforce wins"));
        }
    }
    assert_int_equal(conflicts, 1);
    assert_true(decisions >= 4 && writes >= 4 && events >= 4);
    /* newest first: the conflict comes before the HubSpot edit's decision, which comes before
     * the create's */
    size_t at_conflict = n, at_hs_edit = n, at_create = n;
    for (size_t i = 0; i < n; i++) {
        json_object *e = json_object_array_get_idx(entries, i);
        const char *sum = str(e, "summary");
        if (strcmp(str(e, "kind"), "conflict") == 0)
            at_conflict = i;
        if (strstr(sum, "HubSpot -> Salesforce (two-way, changed in HubSpot)") && at_hs_edit == n)
            at_hs_edit = i;
        if (strstr(sum, "Created the HubSpot record"))
            at_create = i;
    }
    if (!(at_conflict < at_hs_edit && at_hs_edit < at_create && at_create < n))
        fail_msg("timeline out of order: %s", json_object_to_json_string(entries));
    /* pages of 3 joined are the whole timeline */
    char before[32] = "";
    size_t seen = 0;
    for (int pages = 0; pages < 100; pages++) {
        snprintf(path, sizeof path, "/api/records/%lld/timeline?limit=3%s%s", link_id,
                 before[0] ? "&before=" : "", before);
        json_object *p = get(path, 200);
        json_object *pe = sync_get(p, "entries");
        for (size_t i = 0; i < json_object_array_length(pe); i++, seen++)
            assert_int_equal(
                json_object_get_int64(sync_get(json_object_array_get_idx(pe, i), "id")),
                json_object_get_int64(sync_get(json_object_array_get_idx(entries, seen), "id")));
        const char *next = str(p, "next");
        snprintf(before, sizeof before, "%s", next ? next : "");
        json_object_put(p);
        if (!next)
            break;
    }
    assert_int_equal(seen, n);
    json_object_put(t);
}

static void test_label_search(void **state)
{
    (void)state;
    char mapping[24];
    snprintf(mapping, sizeof mapping, "%lld", (long long)env->mapping_id);
    long long id = sync_db_count(env,
                                 "WITH x AS (INSERT INTO sync_links (mapping_id, salesforce_id,"
                                 " hubspot_id, sf_values) VALUES ($1::bigint, 'a0X000000000099AAA',"
                                 " '990099', '{\"Name\":\"Zebra Crossing 50%\"}') RETURNING id)"
                                 " SELECT id FROM x",
                                 mapping, (const char *)NULL);
    assert_true(id > 0);
    const char *hits[] = {"/api/records?q=zebra", "/api/records?q=ZEBRA%20CROSSING%2050%25",
                          "/api/records?q=Zebra&mapping=1"};
    for (size_t i = 0; i < sizeof hits / sizeof hits[0]; i++) {
        json_object *o = get(hits[i], 200);
        json_object *recs = sync_get(o, "records");
        if (json_object_array_length(recs) != 1)
            fail_msg("%s: %s", hits[i], json_object_to_json_string(o));
        assert_int_equal(
            json_object_get_int64(sync_get(json_object_array_get_idx(recs, 0), "link_id")), id);
        assert_string_equal(str(json_object_array_get_idx(recs, 0), "label"), "Zebra Crossing 50%");
        json_object_put(o);
    }
    /* wildcards, quotes and SQL are plain text: nothing matches */
    const char *misses[] = {
        "/api/records?q=%25",       "/api/records?q=_",   "/api/records?q=%27%20OR%201%3D1%20--",
        "/api/records?q=zebra%25x", "/api/records?q=%5C", "/api/records?q=zebra&mapping=999"};
    for (size_t i = 0; i < sizeof misses / sizeof misses[0]; i++) {
        json_object *o = get(misses[i], 200);
        if (json_object_array_length(sync_get(o, "records")) != 0)
            fail_msg("%s matched: %s", misses[i], json_object_to_json_string(o));
        json_object_put(o);
    }
    /* no q: every link, newest first, paged */
    json_object *o = get("/api/records?limit=1", 200);
    assert_int_equal(json_object_array_length(sync_get(o, "records")), 1);
    const char *next = str(o, "next");
    assert_non_null(next);
    char path[128];
    snprintf(path, sizeof path, "/api/records?limit=1&after=%s", next);
    json_object_put(o);
    o = get(path, 200);
    assert_int_equal(json_object_get_int64(
                         sync_get(json_object_array_get_idx(sync_get(o, "records"), 0), "link_id")),
                     link_id);
    json_object_put(o);
}

static void test_bad_requests(void **state)
{
    (void)state;
    char long_q[300] = "/api/records?q=";
    memset(long_q + strlen(long_q), 'a', 201);
    char t404[64], tbad[96];
    snprintf(t404, sizeof t404, "/api/records/%lld/timeline?before=abc", link_id);
    snprintf(tbad, sizeof tbad, "/api/records/%lld/timeline?limit=201", link_id);
    static const struct {
        const char *path;
        long status;
        const char *message; /* part of the message */
    } cases[] = {
        {"/api/records?q=", 400, "q must be 1 to 200"},
        {"/api/records?q=a%01b", 400, "control characters"},
        {"/api/records?q=a%0Ab", 400, "control characters"},
        {"/api/records?limit=0", 400, "limit must be an integer from 1 to 100"},
        {"/api/records?limit=101", 400, "from 1 to 100"},
        {"/api/records?limit=-1", 400, "from 1 to 100"},
        {"/api/records?limit=1e2", 400, "from 1 to 100"},
        {"/api/records?after=abc", 400, "after must be"},
        {"/api/records?after=0", 400, "after must be"},
        {"/api/records?after=1%20OR%201=1", 400, "after must be"},
        {"/api/records?after=99999999999999999999999", 400, "after must be"},
        /* strtoll takes a sign or blanks, db/'s cursor parser does not: 400, not a 503
         * (fuzz_console_query's seed cursor_plus) */
        {"/api/records?after=%2B5", 400, "after must be"},
        {"/api/records?after=%205", 400, "after must be"},
        {"/api/records?mapping=0", 400, "mapping must be a positive"},
        {"/api/records?mapping=x", 400, "mapping must be a positive"},
        {"/api/records/0", 400, "positive link id"},
        {"/api/records/abc", 400, "positive link id"},
        {"/api/records/1%3BDROP", 400, "positive link id"},
        {"/api/records/99999999999999999999999", 400, "positive link id"},
        {"/api/records/999999", 404, "no linked record"},
        {"/api/records/999999/timeline", 404, "no linked record"},
        {"/api/records/-1/timeline", 400, "positive link id"},
        {"/api/records/1/timeline?limit=0", 400, "from 1 to 200"},
        {"/api/records/1/timeline?before=0", 400, "before must be"},
        {"/api/records/1/timeline?before=%2B7", 400, "before must be"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        json_object *o = get(cases[i].path, cases[i].status);
        const char *msg = str(sync_get(o, "error"), "message");
        if (!msg || !strstr(msg, cases[i].message))
            fail_msg("%s: %s", cases[i].path, o ? json_object_to_json_string(o) : "(no body)");
        json_object_put(o);
    }
    const char *more[] = {long_q, t404, tbad};
    for (size_t i = 0; i < 3; i++) {
        json_object *o = get(more[i], 400);
        json_object_put(o);
    }
    /* no admin token */
    const char *paths[] = {"/api/records?q=x", "/api/records/1", "/api/records/1/timeline"};
    for (size_t i = 0; i < 3; i++) {
        char url[512];
        snprintf(url, sizeof url, "%s%s", env->procs[0].base_url, paths[i]);
        struct harness_response r;
        assert_int_equal(harness_http("GET", url, NULL, NULL, 0, &r), 0);
        assert_int_equal(r.status, 401);
        harness_response_free(&r);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_timeline_of_a_synced_record),
        cmocka_unit_test(test_label_search),
        cmocka_unit_test(test_bad_requests),
    };
    return cmocka_run_group_tests_name("it_records_api", tests, group_setup, group_teardown);
}
