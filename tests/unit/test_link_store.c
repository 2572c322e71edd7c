/* test_link_store.c: db/link_store against a real, migrated PostgreSQL: links saved and loaded
 * (round trip, update by id, a link created from one side completed from the other, 15-character
 * Salesforce ids, duplicate pairs refused with nothing stored, stored JSON values preserved
 * exactly, ids that look like SQL stored verbatim, 500 links in one call, rewrites that are
 * heap-only updates, index use of the load), HubSpot merges
 * (survivor unlinked / already linked / nothing linked / survivor with a deleted link), conflicts
 * (insert, list newest first, filters, keyset paging, pruning in batches) and the links of the
 * HubSpot deletion audit (scaled to the number of links, after a cursor). */
#include "db/link_store.h"
#include "testdb.h"
#include "testdb_sql.h"

#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define MAPPING 7

static json_object *parse(const char *text)
{
    json_object *o = json_tokener_parse(text);
    if (!o)
        fail_msg("bad test JSON: %s", text);
    return o;
}

static void save_ok(PGconn *conn, int64_t mapping, const struct link_write *w, size_t n,
                    int64_t *ids)
{
    char err[512] = "";
    if (link_save_batch(conn, mapping, w, n, ids, err, sizeof err) != 0)
        fail_msg("link_save_batch: %s", err);
}

static struct sync_link *load_ok(PGconn *conn, int64_t mapping, const char *const *sf, size_t nsf,
                                 const char *const *hs, size_t nhs, size_t *n)
{
    char err[512] = "";
    struct sync_link *links = NULL;
    if (link_load(conn, mapping, sf, nsf, hs, nhs, &links, n, err, sizeof err) != 0)
        fail_msg("link_load: %s", err);
    return links;
}

/* One link found by its Salesforce id (fails unless exactly one). */
static struct sync_link *load_one_sf(PGconn *conn, const char *sf_id)
{
    size_t n = 0;
    const char *ids[] = {sf_id};
    struct sync_link *l = load_ok(conn, MAPPING, ids, 1, NULL, 0, &n);
    if (n != 1)
        fail_msg("%zu links for %s", n, sf_id);
    return l;
}

static void assert_json_equal(json_object *got, const char *expected)
{
    json_object *want = parse(expected);
    if (!json_object_equal(got, want))
        fail_msg("got %s, want %s", json_object_to_json_string(got), expected);
    json_object_put(want);
}

static PGconn *connect_db(void **state)
{
    struct testdb *db = *state;
    return testdb_connect_or_fail(db->conninfo);
}

/* Values as the CRMs send them: unicode, decimals, nulls, nested values, escapes. */
static const char sf_values_text[] =
    "{\"Name\":\"Z\\u00fcrich \\u2713 \\ud83d\\ude00\",\"Amount__c\":0.1,\"Big__c\":1.50,"
    "\"Count__c\":12345678901234,\"Blank__c\":null,\"Flag__c\":false,"
    "\"Multi__c\":\"a;b\",\"Quote__c\":\"he said \\\"hi\\\" \\\\ "
    "\\n\",\"Nested\":{\"x\":[1,null]}}";
static const char hs_values_text[] =
    "{\"name\":\"Z\\u00fcrich\",\"amount\":\"0.1\",\"empty\":\"\"}";

static void test_round_trip(void **state)
{
    PGconn *conn = connect_db(state);
    json_object *sfv = parse(sf_values_text), *hsv = parse(hs_values_text);
    struct link_write w[] = {
        {.salesforce_id = "a015g00000ABCdeAAA",
         .hubspot_id = "1001",
         .sf_values = sfv,
         .hs_values = hsv,
         .synced = true},
        {.salesforce_id = "a015g00000ABCdfAAA", .deleted = true},
    };
    int64_t ids[2] = {0, 0};
    save_ok(conn, MAPPING, w, 2, ids);
    assert_true(ids[0] > 0 && ids[1] > ids[0]);

    const char *sf[] = {"a015g00000ABCdfAAA"};
    const char *hs[] = {"1001", "nope"};
    size_t n = 0;
    struct sync_link *l = load_ok(conn, MAPPING, sf, 1, hs, 2, &n);
    assert_int_equal(n, 2);
    assert_int_equal(l[0].id, ids[0]);
    assert_int_equal(l[0].mapping_id, MAPPING);
    assert_string_equal(l[0].salesforce_id, "a015g00000ABCdeAAA");
    assert_string_equal(l[0].hubspot_id, "1001");
    assert_false(l[0].deleted);
    assert_json_equal(l[0].sf_values, sf_values_text);
    assert_json_equal(l[0].hs_values, hs_values_text);
    /* numbers keep their spelling; unicode comes back as the same UTF-8 */
    json_object *v = NULL;
    assert_true(json_object_object_get_ex(l[0].sf_values, "Amount__c", &v));
    assert_string_equal(json_object_to_json_string(v), "0.1");
    assert_true(json_object_object_get_ex(l[0].sf_values, "Big__c", &v));
    assert_string_equal(json_object_to_json_string(v), "1.50");
    assert_true(json_object_object_get_ex(l[0].sf_values, "Name", &v));
    assert_string_equal(json_object_get_string(v), "Z\xc3\xbcrich \xe2\x9c\x93 \xf0\x9f\x98\x80");
    assert_true(json_object_object_get_ex(l[0].sf_values, "Blank__c", &v));
    assert_null(v);
    assert_int_equal(l[1].id, ids[1]);
    assert_null(l[1].hubspot_id);
    assert_true(l[1].deleted);
    assert_json_equal(l[1].sf_values, "{}");
    assert_json_equal(l[1].hs_values, "{}");
    sync_links_free(l, n);

    /* the database holds exactly these values; synced_at only where synced */
    const char *params[] = {sf_values_text};
    PGresult *r = PQexecParams(conn,
                               "SELECT count(*) FROM sync_links WHERE sf_values = $1::jsonb"
                               " AND (sf_values->'Amount__c')::text = '0.1'"
                               " AND (sf_values->'Big__c')::text = '1.50'"
                               " AND synced_at IS NOT NULL AND state = 'active'",
                               1, NULL, params, NULL, NULL, 0);
    assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
    assert_string_equal(PQgetvalue(r, 0, 0), "1");
    PQclear(r);
    assert_int_equal(testdb_long(conn, "SELECT count(*) FROM sync_links WHERE synced_at IS NULL"
                                       " AND state = 'deleted'"),
                     1);
    char err[256];
    assert_int_equal(link_count(conn, MAPPING, err, sizeof err), 1);
    assert_int_equal(link_count(conn, MAPPING + 1, err, sizeof err), 0);

    /* nothing asked, nothing loaded */
    l = load_ok(conn, MAPPING, NULL, 0, NULL, 0, &n);
    assert_null(l);
    assert_int_equal(n, 0);
    json_object_put(sfv);
    json_object_put(hsv);
    PQfinish(conn);
}

static void test_update_by_id(void **state)
{
    PGconn *conn = connect_db(state);
    json_object *sfv = parse("{\"Name\":\"one\"}"), *hsv = parse("{\"name\":\"one\"}");
    struct link_write w = {
        .salesforce_id = "S1", .hubspot_id = "H1", .sf_values = sfv, .hs_values = hsv};
    int64_t id = 0;
    save_ok(conn, MAPPING, &w, 1, &id);
    testdb_exec_ok(conn, "UPDATE sync_links SET updated_at = now() - interval '1 day',"
                         " created_at = now() - interval '1 day'");

    json_object *hsv2 = parse("{\"name\":\"two\"}");
    struct link_write u = {.id = id, .hs_values = hsv2, .deleted = true, .synced = true};
    int64_t got = 0;
    save_ok(conn, MAPPING, &u, 1, &got);
    assert_int_equal(got, id);
    struct sync_link *l = load_one_sf(conn, "S1");
    assert_int_equal(l->id, id);
    assert_string_equal(l->hubspot_id, "H1"); /* NULL ids leave the stored ones */
    assert_true(l->deleted);
    assert_json_equal(l->sf_values, "{\"Name\":\"one\"}"); /* NULL values too */
    assert_json_equal(l->hs_values, "{\"name\":\"two\"}");
    sync_links_free(l, 1);
    assert_int_equal(testdb_long(conn, "SELECT count(*) FROM sync_links WHERE updated_at > now() -"
                                       " interval '1 minute' AND synced_at IS NOT NULL"
                                       " AND created_at < now() - interval '1 hour'"),
                     1);

    /* back to active, new Salesforce id, by id */
    struct link_write u2 = {.id = id, .salesforce_id = "S1b"};
    save_ok(conn, MAPPING, &u2, 1, NULL);
    l = load_one_sf(conn, "S1b");
    assert_false(l->deleted);
    assert_string_equal(l->hubspot_id, "H1");
    sync_links_free(l, 1);

    /* an unknown id, or one of another mapping, refuses the whole batch */
    char err[256] = "";
    struct link_write bad[] = {{.salesforce_id = "S-new"}, {.id = id + 100, .hubspot_id = "H9"}};
    assert_int_equal(link_save_batch(conn, MAPPING, bad, 2, NULL, err, sizeof err), -1);
    assert_non_null(strstr(err, "does not exist"));
    bad[1].id = id;
    err[0] = '\0';
    assert_int_equal(link_save_batch(conn, MAPPING + 1, bad, 2, NULL, err, sizeof err), -1);
    assert_non_null(strstr(err, "does not exist"));
    assert_int_equal(testdb_long(conn, "SELECT count(*) FROM sync_links"), 1);
    json_object_put(sfv);
    json_object_put(hsv);
    json_object_put(hsv2);
    PQfinish(conn);
}

/* A link created from the Salesforce side gets its HubSpot id later (and the other way round):
 * a write with id 0 and both ids updates the row that has one of them. */
static void test_insert_then_complete(void **state)
{
    PGconn *conn = connect_db(state);
    json_object *sfv = parse("{\"Name\":\"x\"}"), *hsv = parse("{\"name\":\"x\"}");
    struct link_write first[] = {{.salesforce_id = "S1", .sf_values = sfv},
                                 {.hubspot_id = "H2", .hs_values = hsv}};
    int64_t ids[2];
    save_ok(conn, MAPPING, first, 2, ids);
    struct link_write later[] = {{.salesforce_id = "S2", .hubspot_id = "H2", .synced = true},
                                 {.salesforce_id = "S1", .hubspot_id = "H1", .hs_values = hsv}};
    int64_t ids2[2];
    save_ok(conn, MAPPING, later, 2, ids2);
    assert_int_equal(ids2[0], ids[1]);
    assert_int_equal(ids2[1], ids[0]);
    assert_int_equal(testdb_long(conn, "SELECT count(*) FROM sync_links"), 2);

    const char *hs[] = {"H1", "H2"};
    size_t n = 0;
    struct sync_link *l = load_ok(conn, MAPPING, NULL, 0, hs, 2, &n);
    assert_int_equal(n, 2);
    assert_string_equal(l[0].salesforce_id, "S1");
    assert_string_equal(l[0].hubspot_id, "H1");
    assert_json_equal(l[0].sf_values, "{\"Name\":\"x\"}");
    assert_json_equal(l[0].hs_values, "{\"name\":\"x\"}");
    assert_string_equal(l[1].salesforce_id, "S2");
    assert_string_equal(l[1].hubspot_id, "H2");
    assert_json_equal(l[1].hs_values, "{\"name\":\"x\"}");
    sync_links_free(l, n);

    /* ids that belong to two different links: refused, nothing changed */
    struct link_write sf_only = {.salesforce_id = "S3"};
    save_ok(conn, MAPPING, &sf_only, 1, NULL);
    struct link_write hs_only = {.hubspot_id = "H4"};
    save_ok(conn, MAPPING, &hs_only, 1, NULL);
    struct link_write cross[] = {{.salesforce_id = "S5"},
                                 {.salesforce_id = "S3", .hubspot_id = "H4"}};
    char err[256] = "";
    assert_int_equal(link_save_batch(conn, MAPPING, cross, 2, NULL, err, sizeof err), -1);
    assert_non_null(strstr(err, "two different links"));
    assert_int_equal(testdb_long(conn, "SELECT count(*) FROM sync_links"), 4);
    assert_int_equal(testdb_long(conn, "SELECT count(*) FROM sync_links WHERE salesforce_id = 'S3'"
                                       " AND hubspot_id IS NULL"),
                     1);
    json_object_put(sfv);
    json_object_put(hsv);
    PQfinish(conn);
}

static void test_salesforce_15_char_ids(void **state)
{
    PGconn *conn = connect_db(state);
    struct link_write w[] = {{.salesforce_id = "001A0000006Vm9rIAC", .hubspot_id = "11"},
                             {.salesforce_id = "001A0000006Vm9sIAC", .hubspot_id = "12"},
                             {.salesforce_id = "001a0000006Vm9rIAC", .hubspot_id = "13"}};
    int64_t ids[3];
    save_ok(conn, MAPPING, w, 3, ids);
    struct link_write other = {.salesforce_id = "001A0000006Vm9rIAC", .hubspot_id = "11"};
    save_ok(conn, MAPPING + 1, &other, 1, NULL);

    struct {
        const char *sf;
        size_t n;
        int64_t first;
    } cases[] = {
        {"001A0000006Vm9r", 1, ids[0]},    /* 15 chars: first 15 of the stored 18 */
        {"001A0000006Vm9rIAC", 1, ids[0]}, /* 18 chars: exact */
        {"001a0000006Vm9r", 1, ids[2]},    /* case-sensitive */
        {"001A0000006Vm9rXYZ", 0, 0},      /* 18 chars never match on a prefix */
        {"001A0000006Vm9", 0, 0},          /* 14 chars match nothing */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t n = 0;
        struct sync_link *l = load_ok(conn, MAPPING, &cases[i].sf, 1, NULL, 0, &n);
        if (n != cases[i].n)
            fail_msg("%s: %zu links, want %zu", cases[i].sf, n, cases[i].n);
        if (n)
            assert_int_equal(l[0].id, cases[i].first);
        sync_links_free(l, n);
    }
    /* mixed lengths and a HubSpot id in one call, in id order */
    const char *sf[] = {"001a0000006Vm9rIAC", "001A0000006Vm9r"};
    const char *hs[] = {"12"};
    size_t n = 0;
    struct sync_link *l = load_ok(conn, MAPPING, sf, 2, hs, 1, &n);
    assert_int_equal(n, 3);
    for (size_t i = 0; i < 3; i++)
        assert_int_equal(l[i].id, ids[i]);
    sync_links_free(l, n);
    PQfinish(conn);
}

static void test_duplicates_in_a_batch(void **state)
{
    PGconn *conn = connect_db(state);
    struct link_write existing = {.salesforce_id = "S1", .hubspot_id = "H1"};
    int64_t id = 0;
    save_ok(conn, MAPPING, &existing, 1, &id);

    struct link_write same_sf[] = {{.salesforce_id = "S9", .hubspot_id = "H8"},
                                   {.salesforce_id = "S9", .hubspot_id = "H9"}};
    struct link_write same_hs[] = {{.salesforce_id = "S8", .hubspot_id = "H9"},
                                   {.salesforce_id = "S9", .hubspot_id = "H9"}};
    struct link_write same_id[] = {{.id = id, .salesforce_id = "S2"}, {.id = id}};
    /* one names the row by Salesforce id, the other by HubSpot id */
    struct link_write same_row[] = {
        {.salesforce_id = "S7"}, {.salesforce_id = "S1"}, {.hubspot_id = "H1"}};
    struct link_write by_id_and_sf[] = {{.salesforce_id = "S1"}, {.id = id, .hubspot_id = "H2"}};
    struct link_write no_ids[] = {{.salesforce_id = "S6"}, {.deleted = true}};
    const struct {
        const struct link_write *w;
        size_t n;
        const char *msg;
    } cases[] = {
        {same_sf, 2, "same salesforce id S9"},
        {same_hs, 2, "same hubspot id H9"},
        {same_id, 2, "same link id"},
        {same_row, 3, "two inputs name the same link"},
        {by_id_and_sf, 2, "two inputs name the same link"},
        {no_ids, 2, "neither"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char err[256] = "";
        assert_int_equal(
            link_save_batch(conn, MAPPING, cases[i].w, cases[i].n, NULL, err, sizeof err), -1);
        if (!strstr(err, cases[i].msg))
            fail_msg("case %zu: error \"%s\" does not say \"%s\"", i, err, cases[i].msg);
        assert_int_equal(testdb_long(conn, "SELECT count(*) FROM sync_links"), 1);
        assert_int_equal(testdb_long(conn, "SELECT count(*) FROM sync_links WHERE salesforce_id ="
                                           " 'S1' AND hubspot_id = 'H1'"),
                         1);
    }
    PQfinish(conn);
}

/* Ids that look like SQL or break array/JSON literals are stored and found verbatim. */
static void test_ids_stored_verbatim(void **state)
{
    PGconn *conn = connect_db(state);
    const char *sf_ids[] = {"x'); DROP TABLE sync_links; --", "a\"b\\c{d},e", "NULL"};
    const char *hs_ids[] = {"1 OR 1=1", "\"},{\"id\":1", "{}"};
    struct link_write w[3];
    for (size_t i = 0; i < 3; i++)
        w[i] = (struct link_write){.salesforce_id = sf_ids[i], .hubspot_id = hs_ids[i]};
    int64_t ids[3];
    save_ok(conn, MAPPING, w, 3, ids);
    for (size_t i = 0; i < 3; i++) {
        size_t n = 0;
        struct sync_link *l = load_ok(conn, MAPPING, &sf_ids[i], 1, NULL, 0, &n);
        assert_int_equal(n, 1);
        assert_int_equal(l[0].id, ids[i]);
        assert_string_equal(l[0].salesforce_id, sf_ids[i]);
        assert_string_equal(l[0].hubspot_id, hs_ids[i]);
        sync_links_free(l, n);
        l = load_ok(conn, MAPPING, NULL, 0, &hs_ids[i], 1, &n);
        assert_int_equal(n, 1);
        assert_int_equal(l[0].id, ids[i]);
        sync_links_free(l, n);
    }
    assert_int_equal(testdb_long(conn, "SELECT count(*) FROM sync_links"), 3);
    PQfinish(conn);
}

static void test_500_links_in_one_call(void **state)
{
    PGconn *conn = connect_db(state);
    enum { N = 500 };
    struct link_write *w = calloc(N, sizeof *w);
    char(*sf)[16] = calloc(N, sizeof *sf);
    int64_t *ids = calloc(N, sizeof *ids), *ids2 = calloc(N, sizeof *ids2);
    assert_non_null(w);
    assert_non_null(sf);
    assert_non_null(ids);
    assert_non_null(ids2);
    json_object *sfv = parse("{\"n\":1}");
    /* in reverse id-string order, so input order is not sorted order */
    for (int i = 0; i < N; i++) {
        snprintf(sf[i], sizeof sf[i], "S%04d", N - i);
        w[i] = (struct link_write){.salesforce_id = sf[i], .sf_values = sfv, .synced = true};
    }
    save_ok(conn, MAPPING, w, N, ids);
    assert_int_equal(testdb_long(conn, "SELECT count(*) FROM sync_links"), N);
    for (int i = 0; i < N; i++) {
        char sql[128];
        if (i % 50 != 0 && i != N - 1)
            continue;
        snprintf(sql, sizeof sql, "SELECT salesforce_id FROM sync_links WHERE id = %" PRId64,
                 ids[i]);
        assert_string_equal(testdb_value(conn, sql), sf[i]);
    }
    for (int i = 1; i < N; i++)
        assert_true(ids[i] > ids[i - 1]); /* inserted in input order */

    /* the same 500 again by record id: updates, same ids */
    for (int i = 0; i < N; i++)
        w[i].hubspot_id = sf[i] + 1;
    save_ok(conn, MAPPING, w, N, ids2);
    for (int i = 0; i < N; i++)
        assert_int_equal(ids2[i], ids[i]);
    assert_int_equal(testdb_long(conn, "SELECT count(*) FROM sync_links WHERE hubspot_id ="
                                       " substr(salesforce_id, 2)"),
                     N);
    size_t n = 0;
    const char **hs = calloc(N, sizeof *hs);
    assert_non_null(hs);
    for (int i = 0; i < N; i++)
        hs[i] = w[i].hubspot_id;
    struct sync_link *l = load_ok(conn, MAPPING, NULL, 0, hs, N, &n);
    assert_int_equal(n, N);
    sync_links_free(l, n);
    free(hs);
    json_object_put(sfv);
    free(w);
    free(sf);
    free(ids);
    free(ids2);
    PQfinish(conn);
}

/* What every sync batch does to its links (the write-ahead record, then the values with it
 * cleared) rewrites them without new index entries: heap-only updates, as the table's pages keep
 * room for them (fillfactor 60, migration 0020: 88% here); at the default fillfactor 3% were,
 * the rest went to a new page and into all five indexes. */
static void test_link_rewrites_are_heap_only(void **state)
{
    PGconn *conn = connect_db(state);
    enum { N = 400 };
    struct link_write *w = calloc(N, sizeof *w);
    struct link_pending *p = calloc(N, sizeof *p);
    char(*sf)[16] = calloc(N, sizeof *sf);
    int64_t *ids = calloc(N, sizeof *ids);
    assert_non_null(w);
    assert_non_null(p);
    assert_non_null(sf);
    assert_non_null(ids);
    /* the name stays (it is the label, an indexed column); another field changes */
    json_object *v1 = parse("{\"Name\":\"Acme\",\"Stage__c\":\"a value of a typical length\"}");
    json_object *v2 = parse("{\"Name\":\"Acme\",\"Stage__c\":\"another value, also typical\"}");
    json_object *pend = parse("{\"hubspot\":{\"name\":\"another value\"}}");
    for (int i = 0; i < N; i++) {
        snprintf(sf[i], sizeof sf[i], "S%05d", i);
        w[i] = (struct link_write){.salesforce_id = sf[i],
                                   .hubspot_id = sf[i] + 1,
                                   .sf_values = v1,
                                   .hs_values = v1,
                                   .synced = true};
    }
    save_ok(conn, MAPPING, w, N, ids);
    testdb_exec_ok(conn, "SELECT pg_stat_force_next_flush()");
    long before = testdb_long(conn, "SELECT n_tup_hot_upd FROM pg_stat_user_tables"
                                    " WHERE relname = 'sync_links'");
    long upd_before = testdb_long(conn, "SELECT n_tup_upd FROM pg_stat_user_tables"
                                        " WHERE relname = 'sync_links'");
    char err[512] = "";
    for (int round = 0; round < 2; round++) {
        for (int i = 0; i < N; i++) {
            p[i] = (struct link_pending){.id = ids[i], .pending = pend};
            w[i] = (struct link_write){.id = ids[i],
                                       .sf_values = round ? v1 : v2,
                                       .hs_values = round ? v1 : v2,
                                       .synced = true};
        }
        if (link_store_pending(conn, MAPPING, p, N, err, sizeof err) != 0)
            fail_msg("link_store_pending: %s", err);
        save_ok(conn, MAPPING, w, N, NULL);
    }
    testdb_exec_ok(conn, "SELECT pg_stat_force_next_flush()");
    long hot = testdb_long(conn, "SELECT n_tup_hot_upd FROM pg_stat_user_tables"
                                 " WHERE relname = 'sync_links'") -
               before;
    long upd = testdb_long(conn, "SELECT n_tup_upd FROM pg_stat_user_tables"
                                 " WHERE relname = 'sync_links'") -
               upd_before;
    assert_int_equal(upd, 4 * N);
    if (hot * 10 < upd * 8)
        fail_msg("%ld of %ld link updates were heap-only (expected 80%% or more)", hot, upd);
    json_object_put(v1);
    json_object_put(v2);
    json_object_put(pend);
    free(w);
    free(p);
    free(sf);
    free(ids);
    PQfinish(conn);
}

struct notices {
    char text[16384];
};

static void collect_notice(void *arg, const char *message)
{
    struct notices *out = arg;
    size_t len = strlen(out->text);
    snprintf(out->text + len, sizeof out->text - len, "%s", message);
}

/* With 20000 links, loading by 18-character and HubSpot ids uses the unique indexes (the plan of
 * the real statement, captured by auto_explain), and the 15-character path still finds links. */
static void test_load_uses_indexes(void **state)
{
    PGconn *conn = connect_db(state);
    testdb_exec_ok(conn, "INSERT INTO sync_links (mapping_id, salesforce_id, hubspot_id)"
                         " SELECT 7, 'a01' || lpad(i::text, 15, '0'), i::text"
                         " FROM generate_series(1, 20000) AS i");
    testdb_exec_ok(conn, "ANALYZE sync_links");
    testdb_exec_ok(conn, "LOAD 'auto_explain'");
    testdb_exec_ok(conn, "SET auto_explain.log_min_duration = 0");
    testdb_exec_ok(conn, "SET client_min_messages = log");
    struct notices plans = {""};
    PQnoticeProcessor old = PQsetNoticeProcessor(conn, collect_notice, &plans);
    const char *sf[] = {"a01000000000000123", "a01000000000000456"};
    const char *hs[] = {"789"};
    size_t n = 0;
    struct sync_link *l = load_ok(conn, MAPPING, sf, 2, hs, 1, &n);
    PQsetNoticeProcessor(conn, old, NULL);
    assert_int_equal(n, 3);
    sync_links_free(l, n);
    if (!strstr(plans.text, "sync_links_salesforce") || !strstr(plans.text, "sync_links_hubspot") ||
        strstr(plans.text, "Seq Scan"))
        fail_msg("the load does not use the unique indexes:\n%s", plans.text);
    testdb_exec_ok(conn, "SET client_min_messages = warning");
    const char *sf15[] = {"a01000000000012"};
    l = load_ok(conn, MAPPING, sf15, 1, NULL, 0, &n);
    assert_int_equal(n, 1000); /* a01000000000012000 .. 999 */
    assert_string_equal(l[0].hubspot_id, "12000");
    assert_string_equal(l[999].hubspot_id, "12999");
    sync_links_free(l, n);
    PQfinish(conn);
}

/* Links (sf, hs) of MAPPING; returns ids in order. */
static void make_links(PGconn *conn, const char *const pairs[][2], size_t n, int64_t *ids)
{
    struct link_write w[8];
    assert_true(n <= 8);
    for (size_t i = 0; i < n; i++)
        w[i] = (struct link_write){.salesforce_id = pairs[i][0], .hubspot_id = pairs[i][1]};
    save_ok(conn, MAPPING, w, n, ids);
}

static const char *link_state(PGconn *conn, int64_t id)
{
    char sql[160];
    snprintf(sql, sizeof sql,
             "SELECT state || ':' || coalesce(hubspot_id, '-') FROM sync_links WHERE id = %" PRId64,
             id);
    return testdb_value(conn, sql);
}

static void test_repoint_survivor_unlinked(void **state)
{
    PGconn *conn = connect_db(state);
    const char *const pairs[][2] = {{"S1", "M1"}, {"S2", "M2"}, {"S3", "M3"}};
    int64_t ids[3];
    make_links(conn, pairs, 3, ids);
    testdb_exec_ok(conn, "UPDATE sync_links SET state = 'deleted' WHERE hubspot_id = 'M3'");
    char err[256] = "";
    int64_t moved = -1;
    const char *merged[] = {"M3", "M2", "M1", "V"};
    testdb_exec_ok(conn, "BEGIN");
    assert_int_equal(link_repoint_hubspot(conn, MAPPING, "V", merged, 4, &moved, err, sizeof err),
                     0);
    testdb_exec_ok(conn, "COMMIT");
    /* M3's link is deleted, so M2's (first active in the caller's order) moves */
    assert_int_equal(moved, ids[1]);
    assert_string_equal(link_state(conn, ids[1]), "active:V");
    assert_string_equal(link_state(conn, ids[0]), "deleted:M1");
    assert_string_equal(link_state(conn, ids[2]), "deleted:M3");
    PQfinish(conn);
}

static void test_repoint_survivor_linked(void **state)
{
    PGconn *conn = connect_db(state);
    const char *const pairs[][2] = {{"S0", "V"}, {"S1", "M1"}, {"S2", "M2"}, {"S9", "other"}};
    int64_t ids[4];
    make_links(conn, pairs, 4, ids);
    char err[256] = "";
    int64_t moved = -1;
    const char *merged[] = {"M1", "M2"};
    assert_int_equal(link_repoint_hubspot(conn, MAPPING, "V", merged, 2, &moved, err, sizeof err),
                     0);
    assert_int_equal(moved, 0);
    assert_string_equal(link_state(conn, ids[0]), "active:V");
    assert_string_equal(link_state(conn, ids[1]), "deleted:M1");
    assert_string_equal(link_state(conn, ids[2]), "deleted:M2");
    assert_string_equal(link_state(conn, ids[3]), "active:other");
    assert_int_equal(link_count(conn, MAPPING, err, sizeof err), 2);
    PQfinish(conn);
}

static void test_repoint_none_linked(void **state)
{
    PGconn *conn = connect_db(state);
    const char *const pairs[][2] = {{"S1", "A"}};
    int64_t ids[1];
    make_links(conn, pairs, 1, ids);
    char err[256] = "";
    int64_t moved = -1;
    const char *merged[] = {"X", "Y"};
    assert_int_equal(link_repoint_hubspot(conn, MAPPING, "V", merged, 2, &moved, err, sizeof err),
                     0);
    assert_int_equal(moved, 0);
    assert_string_equal(link_state(conn, ids[0]), "active:A");
    assert_int_equal(testdb_long(conn, "SELECT count(*) FROM sync_links"), 1);
    /* another mapping's links are never touched */
    const char *merged_a[] = {"A"};
    assert_int_equal(
        link_repoint_hubspot(conn, MAPPING + 1, "V", merged_a, 1, &moved, err, sizeof err), 0);
    assert_int_equal(moved, 0);
    assert_string_equal(link_state(conn, ids[0]), "active:A");
    assert_int_equal(link_repoint_hubspot(conn, MAPPING, "", merged, 2, &moved, err, sizeof err),
                     -1);
    PQfinish(conn);
}

/* The survivor's old deleted link makes room for the moved active one. */
static void test_repoint_survivor_with_deleted_link(void **state)
{
    PGconn *conn = connect_db(state);
    const char *const pairs[][2] = {{"S0", "V"}, {"S1", "M1"}};
    int64_t ids[2];
    make_links(conn, pairs, 2, ids);
    testdb_exec_ok(conn, "UPDATE sync_links SET state = 'deleted' WHERE hubspot_id = 'V'");
    char err[256] = "";
    int64_t moved = -1;
    const char *merged[] = {"M1"};
    assert_int_equal(link_repoint_hubspot(conn, MAPPING, "V", merged, 1, &moved, err, sizeof err),
                     0);
    assert_int_equal(moved, ids[1]);
    assert_string_equal(link_state(conn, ids[1]), "active:V");
    assert_int_equal(testdb_long(conn, "SELECT count(*) FROM sync_links"), 1);
    PQfinish(conn);
}

/* ---- conflicts ---- */

static void insert_conflicts(PGconn *conn)
{
    json_object *tenth = parse("0.1"), *text = parse("\"Z\\u00fcrich\"");
    const struct conflict_row rows[] = {
        {MAPPING, 1, "001A0000006Vm9rIAC", "11", "Name", "name", text, "Zurich", "salesforce",
         "conflict_winner"},
        {MAPPING, 1, "001A0000006Vm9rIAC", "11", "Amount__c", "amount", tenth, "0.2", "hubspot",
         "field_rule"},
        {MAPPING, 0, "S2", "12", "Name", "name", NULL, NULL, "hubspot", "blank"},
        {MAPPING + 1, 5, "S3", "13", "Stage__c", "name", text, "x", "salesforce",
         "conflict_winner"},
        {MAPPING, 2, "S2", "12", "Stage__c", "stage", text, "y", "salesforce", "field_rule"},
    };
    char err[256] = "";
    if (conflict_insert_batch(conn, rows, sizeof rows / sizeof rows[0], err, sizeof err) != 0)
        fail_msg("conflict_insert_batch: %s", err);
    json_object_put(tenth);
    json_object_put(text);
}

static json_object *list_ok(PGconn *conn, const struct conflict_filter *f)
{
    char err[256] = "";
    json_object *o = conflict_list(conn, f, err, sizeof err);
    if (!o)
        fail_msg("conflict_list: %s", err);
    return o;
}

static json_object *get(json_object *o, const char *key)
{
    json_object *v = NULL;
    if (!json_object_object_get_ex(o, key, &v))
        fail_msg("no %s in %s", key, json_object_to_json_string(o));
    return v;
}

/* The fields (by name) of each listed conflict, joined with ','. */
static const char *listed(json_object *o, const char *key)
{
    static char out[512];
    out[0] = '\0';
    json_object *arr = get(o, "conflicts");
    for (size_t i = 0; i < json_object_array_length(arr); i++) {
        json_object *v = get(json_object_array_get_idx(arr, i), key);
        size_t len = strlen(out);
        snprintf(out + len, sizeof out - len, "%s%s", i ? "," : "",
                 v ? json_object_get_string(v) : "null");
    }
    return out;
}

static void test_conflicts_list_and_filters(void **state)
{
    PGconn *conn = connect_db(state);
    insert_conflicts(conn);
    struct conflict_filter f = {.limit = 100};
    json_object *o = list_ok(conn, &f);
    assert_string_equal(listed(o, "salesforce_field"), "Stage__c,Stage__c,Name,Amount__c,Name");
    assert_null(get(o, "next_before"));
    json_object *first = json_object_array_get_idx(get(o, "conflicts"), 3); /* Amount__c */
    assert_string_equal(json_object_to_json_string(get(first, "salesforce_value")), "0.1");
    assert_string_equal(json_object_get_string(get(first, "hubspot_value")), "0.2");
    assert_string_equal(json_object_get_string(get(first, "winner")), "hubspot");
    assert_string_equal(json_object_get_string(get(first, "reason")), "field_rule");
    assert_string_equal(json_object_get_string(get(first, "hubspot_property")), "amount");
    assert_int_equal(json_object_get_int64(get(first, "link_id")), 1);
    assert_int_equal(json_object_get_int64(get(first, "mapping_id")), MAPPING);
    assert_true(json_object_get_int64(get(first, "id")) > 0);
    assert_non_null(strstr(json_object_get_string(get(first, "occurred_at")), "T"));
    json_object *blank = json_object_array_get_idx(get(o, "conflicts"), 2); /* blank */
    assert_null(get(blank, "salesforce_value"));
    assert_null(get(blank, "link_id"));
    assert_string_equal(json_object_get_string(get(blank, "hubspot_value")), "");
    json_object *name = json_object_array_get_idx(get(o, "conflicts"), 4);
    assert_string_equal(json_object_get_string(get(name, "salesforce_value")), "Z\xc3\xbcrich");
    json_object_put(o);

    const struct {
        struct conflict_filter f;
        const char *fields;
    } cases[] = {
        {{.mapping_id = MAPPING, .limit = 100}, "Stage__c,Name,Amount__c,Name"},
        {{.mapping_id = MAPPING + 1, .limit = 100}, "Stage__c"},
        {{.salesforce_id = "001A0000006Vm9rIAC", .limit = 100}, "Amount__c,Name"},
        {{.salesforce_id = "001A0000006Vm9r", .limit = 100}, "Amount__c,Name"},
        {{.hubspot_id = "12", .limit = 100}, "Stage__c,Name"},
        {{.field = "name", .limit = 100}, "Stage__c,Name,Name"}, /* HubSpot property */
        {{.field = "Stage__c", .mapping_id = MAPPING, .limit = 100}, "Stage__c"},
        {{.field = "nope", .limit = 100}, ""},
        {{.mapping_id = 99, .limit = 100}, ""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        o = list_ok(conn, &cases[i].f);
        if (strcmp(listed(o, "salesforce_field"), cases[i].fields) != 0)
            fail_msg("case %zu: %s, want %s", i, listed(o, "salesforce_field"), cases[i].fields);
        json_object_put(o);
    }
    char err[256] = "";
    struct conflict_filter bad = {.limit = 501};
    assert_null(conflict_list(conn, &bad, err, sizeof err));
    bad.limit = 0;
    assert_null(conflict_list(conn, &bad, err, sizeof err));

    struct conflict_row no_winner = {MAPPING, 0, "S", "H", "F", "p", NULL, NULL, "both", "x"};
    assert_int_equal(conflict_insert_batch(conn, &no_winner, 1, err, sizeof err), -1);
    assert_int_equal(testdb_long(conn, "SELECT count(*) FROM sync_conflicts"), 5);
    PQfinish(conn);
}

static void test_conflicts_paging(void **state)
{
    PGconn *conn = connect_db(state);
    insert_conflicts(conn);
    insert_conflicts(conn);
    struct conflict_filter f = {.mapping_id = MAPPING, .limit = 3};
    int64_t last = INT64_MAX;
    size_t total = 0, pages = 0;
    for (;;) {
        json_object *o = list_ok(conn, &f);
        json_object *arr = get(o, "conflicts");
        size_t n = json_object_array_length(arr);
        for (size_t i = 0; i < n; i++) {
            int64_t id = json_object_get_int64(get(json_object_array_get_idx(arr, i), "id"));
            assert_true(id < last); /* newest first, no repeats across pages */
            last = id;
        }
        total += n;
        pages++;
        json_object *next = get(o, "next_before");
        if (!next) {
            json_object_put(o);
            break;
        }
        assert_int_equal(json_object_get_int64(next), last);
        f.before_id = last;
        json_object_put(o);
        assert_true(pages < 10);
    }
    assert_int_equal(total, 8);
    assert_int_equal(pages, 3);
    PQfinish(conn);
}

static void test_conflicts_prune_in_batches(void **state)
{
    PGconn *conn = connect_db(state);
    insert_conflicts(conn);
    testdb_exec_ok(conn, "UPDATE sync_conflicts SET occurred_at = now() - interval '3 days'"
                         " WHERE salesforce_field <> 'Name'");
    char err[256] = "";
    assert_int_equal(conflict_prune(conn, 4 * 86400L, 2, err, sizeof err), 0);
    assert_int_equal(conflict_prune(conn, 2 * 86400L, 2, err, sizeof err), 2);
    assert_int_equal(conflict_prune(conn, 2 * 86400L, 2, err, sizeof err), 1);
    assert_int_equal(conflict_prune(conn, 2 * 86400L, 2, err, sizeof err), 0);
    assert_int_equal(testdb_long(conn, "SELECT count(*) FROM sync_conflicts"), 2);
    assert_int_equal(testdb_long(conn, "SELECT count(*) FROM sync_conflicts WHERE"
                                       " salesforce_field = 'Name'"),
                     2);
    assert_int_equal(conflict_prune(conn, -1, 2, err, sizeof err), -1);
    assert_int_equal(conflict_prune(conn, 0, 0, err, sizeof err), -1);
    PQfinish(conn);
}

static struct link_audit_batch audit_ok(PGconn *conn, int64_t mapping, int64_t after, int sweeps,
                                        int least, int most)
{
    char err[256] = "";
    struct link_audit_batch b;
    struct link_audit_scale s = {.sweeps = sweeps, .least = least, .most = most};
    if (link_audit_next(conn, mapping, after, &s, &b, err, sizeof err) != 0)
        fail_msg("link_audit_next: %s", err);
    return b;
}

/* The deletion audit's links: active links of the mapping with a HubSpot id, in id order after
 * the cursor, as many as cover them all in `sweeps` calls within [least, most]; the end says so
 * with none. */
static void test_audit_next_links(void **state)
{
    PGconn *conn = connect_db(state);
    enum { N = 30 };
    struct link_write w[N + 6];
    char hs[N + 6][16], sf[N + 6][16];
    int64_t ids[N + 6];
    for (int i = 0; i < N + 6; i++) {
        snprintf(hs[i], sizeof hs[i], "H%02d", i);
        snprintf(sf[i], sizeof sf[i], "S%02d", i);
        w[i] = (struct link_write){.salesforce_id = sf[i], .hubspot_id = hs[i]};
    }
    /* left out: two deleted, two without a HubSpot id, two of another mapping (saved apart) */
    w[N].deleted = w[N + 1].deleted = true;
    w[N + 2].hubspot_id = w[N + 3].hubspot_id = NULL;
    save_ok(conn, MAPPING, w, N + 4, ids);
    save_ok(conn, MAPPING + 1, w + N + 4, 2, ids + N + 4);

    /* 30 links in 12 sweeps: 3 a call */
    struct link_audit_batch b = audit_ok(conn, MAPPING, 0, 12, 2, 5);
    assert_int_equal(b.n, 3);
    assert_string_equal(b.hubspot_ids[0], "H00");
    assert_string_equal(b.hubspot_ids[2], "H02");
    assert_int_equal(b.last_id, ids[2]);
    int64_t after = b.last_id;
    link_audit_batch_free(&b);
    b = audit_ok(conn, MAPPING, after, 12, 2, 5);
    assert_int_equal(b.n, 3);
    assert_string_equal(b.hubspot_ids[0], "H03");
    link_audit_batch_free(&b);
    /* at least `least`, at most `most`; a `most` below `least` counts as `least` */
    b = audit_ok(conn, MAPPING, 0, 12, 5, 20);
    assert_int_equal(b.n, 5);
    link_audit_batch_free(&b);
    b = audit_ok(conn, MAPPING, 0, 12, 1, 2);
    assert_int_equal(b.n, 2);
    link_audit_batch_free(&b);
    b = audit_ok(conn, MAPPING, 0, 12, 4, 1);
    assert_int_equal(b.n, 4);
    link_audit_batch_free(&b);
    /* one sweep: all of them, and only them */
    b = audit_ok(conn, MAPPING, 0, 1, 1, 1000);
    assert_int_equal(b.n, N);
    for (int i = 0; i < N; i++)
        assert_string_equal(b.hubspot_ids[i], hs[i]);
    assert_int_equal(b.last_id, ids[N - 1]);
    link_audit_batch_free(&b);
    /* the tail, then the end */
    b = audit_ok(conn, MAPPING, ids[N - 2], 1, 1, 1000);
    assert_int_equal(b.n, 1);
    assert_string_equal(b.hubspot_ids[0], hs[N - 1]);
    link_audit_batch_free(&b);
    b = audit_ok(conn, MAPPING, ids[N - 1], 1, 1, 1000);
    assert_int_equal(b.n, 0);
    assert_int_equal(b.last_id, 0);
    link_audit_batch_free(&b);
    /* the other mapping has its own two: one a call in 12 sweeps */
    b = audit_ok(conn, MAPPING + 1, 0, 12, 1, 10);
    assert_int_equal(b.n, 1);
    assert_string_equal(b.hubspot_ids[0], hs[N + 4]);
    link_audit_batch_free(&b);
    /* a database error is reported */
    char err[256] = "";
    struct link_audit_scale zero = {.sweeps = 0, .least = 1, .most = 1};
    assert_int_equal(link_audit_next(conn, MAPPING, 0, &zero, &b, err, sizeof err), -1);
    assert_non_null(strstr(err, "division by zero"));
    assert_int_equal(b.n, 0);
    PQfinish(conn);
}

/* The write-ahead record (link_store_pending) is cleared by a save unless the save keeps it
 * (a write's answer was lost, or the link is marked deleted): by link id, and by record id when
 * the save names no link id (the insert's conflict paths). */
static void test_keep_pending(void **state)
{
    PGconn *conn = connect_db(state);
    json_object *sfv = parse("{\"Name\":\"a\"}"), *hsv = parse("{\"name\":\"a\"}");
    struct link_write w[] = {
        {.salesforce_id = "S1", .hubspot_id = "H1", .sf_values = sfv, .hs_values = hsv},
        {.hubspot_id = "H2", .sf_values = sfv, .hs_values = hsv}};
    int64_t ids[2] = {0, 0};
    save_ok(conn, MAPPING, w, 2, ids);
    json_object *rec = parse("{\"sf\":{\"Name\":\"b\"},\"hs\":{}}");
    struct link_pending pend[] = {{.id = ids[0], .pending = rec}, {.id = ids[1], .pending = rec}};
    char err[256] = "";
    const char *count_sql = "SELECT count(*) FROM sync_links WHERE pending IS NOT NULL";
    struct {
        struct link_write w[2];
        long left; /* records left after the save */
    } steps[] = {
        /* by link id: kept, kept while marking deleted, then cleared */
        {{{.id = ids[0], .keep_pending = true}, {.id = ids[1], .keep_pending = true}}, 2},
        {{{.id = ids[0], .deleted = true, .keep_pending = true},
          {.id = ids[1], .hs_values = hsv, .keep_pending = true}},
         2},
        {{{.id = ids[0], .sf_values = sfv}, {.id = ids[1]}}, 0},
        /* by record id only (no link id): the same */
        {{{.salesforce_id = "S1", .keep_pending = true},
          {.hubspot_id = "H2", .keep_pending = true}},
         2},
        {{{.salesforce_id = "S1"}, {.hubspot_id = "H2"}}, 0},
    };
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        assert_int_equal(link_store_pending(conn, MAPPING, pend, 2, err, sizeof err), 0);
        save_ok(conn, MAPPING, steps[i].w, 2, NULL);
        if (testdb_long(conn, count_sql) != steps[i].left)
            fail_msg("step %zu: %ld records left, want %ld", i, testdb_long(conn, count_sql),
                     steps[i].left);
    }
    /* a kept record is the one stored */
    assert_int_equal(link_store_pending(conn, MAPPING, pend, 1, err, sizeof err), 0);
    struct link_write keep = {.id = ids[0], .keep_pending = true, .synced = true};
    save_ok(conn, MAPPING, &keep, 1, NULL);
    struct sync_link *l = load_one_sf(conn, "S1");
    assert_non_null(l->pending);
    assert_json_equal(l->pending, "{\"sf\":{\"Name\":\"b\"},\"hs\":{}}");
    sync_links_free(l, 1);
    json_object_put(rec);
    json_object_put(sfv);
    json_object_put(hsv);
    PQfinish(conn);
}

int main(void)
{
    setvbuf(stdout, NULL, _IONBF, 0);
#define T(fn) cmocka_unit_test_setup_teardown(fn, testdb_setup_migrated, testdb_teardown)
    const struct CMUnitTest tests[] = {
        T(test_round_trip),
        T(test_update_by_id),
        T(test_keep_pending),
        T(test_insert_then_complete),
        T(test_salesforce_15_char_ids),
        T(test_duplicates_in_a_batch),
        T(test_ids_stored_verbatim),
        T(test_500_links_in_one_call),
        T(test_link_rewrites_are_heap_only),
        T(test_audit_next_links),
        T(test_load_uses_indexes),
        T(test_repoint_survivor_unlinked),
        T(test_repoint_survivor_linked),
        T(test_repoint_none_linked),
        T(test_repoint_survivor_with_deleted_link),
        T(test_conflicts_list_and_filters),
        T(test_conflicts_paging),
        T(test_conflicts_prune_in_batches),
    };
    return cmocka_run_group_tests_name("link_store", tests, NULL, NULL);
}
