/* test_history_store.c: db/history_store against a real, migrated PostgreSQL: a batch of history
 * rows appended in one call (hostile text kept verbatim, bad rows refused with nothing stored), a
 * link's timeline newest first with keyset paging (rows recorded before the link existed
 * included, other links' rows not), unknown links and bad cursors, record search by either id,
 * a 15-character Salesforce id, the label's start (case-insensitive; LIKE wildcards in the search
 * text are plain characters), the mapping filter and paging, the index plans of the search and
 * the timeline, a record's detail with its last-synced values per mapped field, and pruning. */
#include "db/history_store.h"
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

static PGconn *connect_db(void **state)
{
    struct testdb *db = *state;
    return testdb_connect_or_fail(db->conninfo);
}

/* Two mappings, three links (label from Name, from firstname/lastname, none). */
static void seed(PGconn *conn)
{
    testdb_exec_ok(
        conn, "INSERT INTO mappings (id, name, salesforce_object, hubspot_object, document)"
              " VALUES (1, 'Accounts', 'Account', 'companies', '{\"fields\":["
              "{\"salesforce\":\"Name\",\"hubspot\":\"name\",\"rule\":\"two_way\"},"
              "{\"salesforce\":\"Phone\",\"hubspot\":\"phone\",\"rule\":\"always_salesforce\"},"
              "{\"salesforce\":\"Rating\",\"hubspot\":\"rating\"}]}'),"
              " (2, 'Contacts', 'Contact', 'contacts', '{}')");
    testdb_exec_ok(conn,
                   "INSERT INTO sync_links (id, mapping_id, salesforce_id, hubspot_id, sf_values,"
                   " hs_values, synced_at) VALUES"
                   " (1, 1, '001000000000000AAA', '101', '{\"Name\":\"Acme 100%_Corp\","
                   "\"Phone\":\"+1 555\"}', '{\"name\":\"Acme 100%_Corp\",\"phone\":\"+1 555\"}',"
                   " '2026-12-01T10:00:00Z'),"
                   " (2, 2, '003000000000000BBB', '202', '{}',"
                   " '{\"firstname\":\"Ada\",\"lastname\":\"Lovelace\"}', NULL),"
                   " (3, 1, '001000000000000CCC', '303', '{}', '{}', NULL)");
    testdb_exec_ok(conn, "SELECT setval('sync_links_id_seq', 3)");
}

/* Link 1 of seed() as the search and the detail show it, without the closing brace. */
#define RECORD_1                                                                                   \
    "{\"link_id\":1,\"mapping_id\":1,\"mapping_name\":\"Accounts\",\"salesforce_object\":"         \
    "\"Account\",\"hubspot_object\":\"companies\",\"salesforce_id\":\"001000000000000AAA\","       \
    "\"hubspot_id\":\"101\",\"label\":\"Acme 100%_Corp\",\"last_synced_at\":"                      \
    "\"2026-12-01T10:00:00.000Z\""

static void assert_json_is(json_object *got, const char *want_text)
{
    json_object *want = json_tokener_parse(want_text);
    if (!want || !json_object_equal(got, want))
        fail_msg("got %s, want %s", json_object_to_json_string(got), want_text);
    json_object_put(want);
}

static void append_ok(PGconn *conn, const struct history_row *rows, size_t n)
{
    char err[512] = "";
    if (history_append(conn, rows, n, err, sizeof err) != 0)
        fail_msg("history_append: %s", err);
}

static json_object *timeline_ok(PGconn *conn, int64_t link, const char *before, int limit)
{
    char err[512] = "";
    json_object *out = NULL;
    int rc = history_timeline(conn, link, before, limit, &out, err, sizeof err);
    if (rc != 1)
        fail_msg("history_timeline(%" PRId64 ") = %d: %s", link, rc, err);
    return out;
}

static const char *entry_summary(json_object *page, size_t i)
{
    json_object *e = json_object_array_get_idx(json_object_object_get(page, "entries"), i);
    return json_object_get_string(json_object_object_get(e, "summary"));
}

static size_t entries(json_object *page)
{
    return json_object_array_length(json_object_object_get(page, "entries"));
}

static const char *next_of(json_object *page)
{
    return json_object_get_string(json_object_object_get(page, "next"));
}

static void test_append_and_timeline(void **state)
{
    PGconn *conn = connect_db(state);
    seed(conn);
    const char *hostile = "'; DROP TABLE sync_history; -- \"q\" \\ \xe2\x9c\x93 <script>";
    json_object *d = json_tokener_parse("{\"field\":\"Amount\",\"from\":\"hubspot\",\"v\":[1,2]}");
    /* an error before the link existed (unlinked, same Salesforce id), then the link's own */
    struct history_row early = {.mapping_id = 1,
                                .salesforce_id = "001000000000000AAA",
                                .kind = "error",
                                .side = "hubspot",
                                .summary = "early error"};
    append_ok(conn, &early, 1);
    struct history_row rows[] = {
        {.mapping_id = 1,
         .link_id = 1,
         .kind = "event",
         .side = "salesforce",
         .actor = "u1",
         .event_id = 42,
         .summary = "s1"},
        {.mapping_id = 1, .link_id = 1, .kind = "decision", .summary = "s2", .details = d},
        {.mapping_id = 1, .link_id = 1, .kind = "write", .side = "hubspot", .summary = hostile},
        {.mapping_id = 1, .link_id = 3, .kind = "skip", .summary = "other link"},
        {.mapping_id = 2,
         .salesforce_id = "001000000000000AAA",
         .kind = "error",
         .summary = "other mapping, same id"},
    };
    append_ok(conn, rows, 5);
    json_object_put(d);
    assert_int_equal(testdb_long(conn, "SELECT count(*) FROM sync_history"), 6);

    json_object *page = timeline_ok(conn, 1, NULL, 10);
    assert_int_equal(entries(page), 4);
    assert_string_equal(entry_summary(page, 0), hostile);
    assert_string_equal(entry_summary(page, 1), "s2");
    assert_string_equal(entry_summary(page, 2), "s1");
    assert_string_equal(entry_summary(page, 3), "early error");
    assert_null(json_object_object_get(page, "next"));
    json_object *e1 = json_object_array_get_idx(json_object_object_get(page, "entries"), 1);
    json_object *want =
        json_tokener_parse("{\"field\":\"Amount\",\"from\":\"hubspot\",\"v\":[1,2]}");
    assert_true(json_object_equal(json_object_object_get(e1, "details"), want));
    json_object_put(want);
    assert_string_equal(json_object_get_string(json_object_object_get(e1, "kind")), "decision");
    assert_null(json_object_object_get(e1, "side"));
    json_object *e2 = json_object_array_get_idx(json_object_object_get(page, "entries"), 2);
    assert_string_equal(json_object_get_string(json_object_object_get(e2, "actor")), "u1");
    assert_string_equal(json_object_get_string(json_object_object_get(e2, "side")), "salesforce");
    assert_int_equal(json_object_get_int64(json_object_object_get(e2, "event_id")), 42);
    const char *at = json_object_get_string(json_object_object_get(e2, "at"));
    assert_true(at && strlen(at) == 24 && at[10] == 'T' && at[23] == 'Z');
    json_object_put(page);

    /* paging: 2 + 2, the cursor of a full page, none after the last */
    page = timeline_ok(conn, 1, NULL, 2);
    assert_int_equal(entries(page), 2);
    assert_string_equal(entry_summary(page, 1), "s2");
    char cursor[32];
    snprintf(cursor, sizeof cursor, "%s", next_of(page));
    json_object_put(page);
    page = timeline_ok(conn, 1, cursor, 2);
    assert_int_equal(entries(page), 2);
    assert_string_equal(entry_summary(page, 0), "s1");
    assert_string_equal(entry_summary(page, 1), "early error");
    snprintf(cursor, sizeof cursor, "%s", next_of(page));
    json_object_put(page);
    page = timeline_ok(conn, 1, cursor, 2);
    assert_int_equal(entries(page), 0);
    assert_null(json_object_object_get(page, "next"));
    json_object_put(page);

    /* a link without history, an unknown link, bad cursors and limits */
    page = timeline_ok(conn, 2, NULL, 5);
    assert_int_equal(entries(page), 0);
    json_object_put(page);
    char err[256];
    json_object *out = NULL;
    assert_int_equal(history_timeline(conn, 999, NULL, 5, &out, err, sizeof err), 0);
    assert_null(out);
    assert_int_equal(history_timeline(conn, 1, "1 OR 1=1", 5, &out, err, sizeof err), -1);
    assert_int_equal(history_timeline(conn, 1, "-3", 5, &out, err, sizeof err), -1);
    assert_int_equal(history_timeline(conn, 1, "99999999999999999999", 5, &out, err, sizeof err),
                     -1);
    assert_int_equal(history_timeline(conn, 1, NULL, 0, &out, err, sizeof err), -1);
    assert_int_equal(history_timeline(conn, 1, NULL, 201, &out, err, sizeof err), -1);

    /* a bad row: nothing of the batch is stored */
    struct history_row bad[] = {
        {.mapping_id = 1, .link_id = 1, .kind = "event", .summary = "x"},
        {.mapping_id = 1, .link_id = 1, .kind = "nonsense", .summary = "y"}};
    assert_int_equal(history_append(conn, bad, 2, err, sizeof err), -1);
    assert_non_null(strstr(err, "row 1"));
    bad[1].kind = "write";
    bad[1].side = "both";
    assert_int_equal(history_append(conn, bad, 2, err, sizeof err), -1);
    assert_int_equal(testdb_long(conn, "SELECT count(*) FROM sync_history"), 6);
    PQfinish(conn);
}

/* The rows go by COPY in its text format: every character that format treats specially comes
 * back verbatim (a literal "\N" is text, not NULL; "\." is not the end of the data), NULLs stay
 * NULL, and a batch larger than one piece of COPY input (1 MiB) keeps its order. */
static void test_append_copy_escapes(void **state)
{
    PGconn *conn = connect_db(state);
    seed(conn);
    static const char *const texts[] = {
        "tab\there", "line\nbreak", "cr\rhere", "back\\slash",         "\\N", "\\.", "\\",
        "end\\",     "\t\n\r\\\\",  "a\\tb",    "\xe2\x9c\x93 \"q\" '"};
    size_t nt = sizeof texts / sizeof texts[0];
    json_object *d = json_object_new_object();
    json_object_object_add(d, "v", json_object_new_string("x\\y\n\t\"z\" \\N"));
    struct history_row rows[sizeof texts / sizeof texts[0]];
    for (size_t i = 0; i < nt; i++)
        rows[i] = (struct history_row){.mapping_id = 1,
                                       .link_id = i % 2 ? 1 : 0,
                                       .salesforce_id = texts[i],
                                       .hubspot_id = texts[(i + 1) % nt],
                                       .kind = "event",
                                       .side = i % 3 ? "hubspot" : NULL,
                                       .actor = i % 2 ? texts[(i + 2) % nt] : NULL,
                                       .event_id = (int64_t)i,
                                       .summary = texts[i],
                                       .details = i == 3 ? d : NULL};
    append_ok(conn, rows, nt);
    PGresult *r = PQexec(conn, "SELECT salesforce_id, hubspot_id, side, actor, event_id,"
                               " summary, details::text, link_id FROM sync_history ORDER BY id");
    assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
    assert_int_equal(PQntuples(r), (int)nt);
    for (int i = 0; i < (int)nt; i++) {
        assert_string_equal(PQgetvalue(r, i, 0), texts[i]);
        assert_string_equal(PQgetvalue(r, i, 1), texts[(i + 1) % nt]);
        assert_int_equal(PQgetisnull(r, i, 2), i % 3 == 0);
        assert_int_equal(PQgetisnull(r, i, 3), i % 2 == 0);
        if (i % 2)
            assert_string_equal(PQgetvalue(r, i, 3), texts[(i + 2) % nt]);
        assert_int_equal(PQgetisnull(r, i, 4), i == 0);
        assert_string_equal(PQgetvalue(r, i, 5), texts[i]);
        assert_int_equal(PQgetisnull(r, i, 7), i % 2 == 0);
        json_object *got = json_tokener_parse(PQgetvalue(r, i, 6));
        assert_true(json_object_is_type(got, json_type_object));
        if (i == 3)
            assert_true(json_object_equal(got, d));
        else
            assert_int_equal(json_object_object_length(got), 0);
        json_object_put(got);
    }
    PQclear(r);
    json_object_put(d);

    /* 3,000 rows of ~600 bytes: over a MiB of COPY input, sent in pieces, order kept */
    enum { BIG = 3000 };
    struct history_row *big = calloc(BIG, sizeof *big);
    char(*sums)[640] = calloc(BIG, sizeof *sums);
    assert_non_null(big);
    assert_non_null(sums);
    for (int i = 0; i < BIG; i++) {
        snprintf(sums[i], sizeof sums[i], "%06d\t%0600d", i, i);
        big[i] = (struct history_row){
            .mapping_id = 2, .link_id = 3, .kind = "decision", .summary = sums[i]};
    }
    append_ok(conn, big, BIG);
    assert_int_equal(testdb_long(conn, "SELECT count(*) FROM sync_history WHERE mapping_id = 2"
                                       " AND length(summary) = 607"),
                     BIG);
    assert_int_equal(testdb_long(conn, "SELECT count(*) FROM (SELECT summary, lag(summary)"
                                       " OVER (ORDER BY id) AS prev FROM sync_history"
                                       " WHERE mapping_id = 2) s WHERE prev >= summary"),
                     0);
    free(sums);
    free(big);
    PQfinish(conn);
}

/* Inside a transaction, rows the database refuses (text that is not UTF-8) are rolled back to
 * the savepoint and the transaction goes on; good rows are kept. */
static void test_guarded_append_keeps_the_transaction(void **state)
{
    PGconn *conn = connect_db(state);
    testdb_exec_ok(conn, "BEGIN");
    testdb_exec_ok(conn, "INSERT INTO sync_links (mapping_id, salesforce_id) VALUES (1, 'x')");
    struct history_row bad = {
        .mapping_id = 1, .link_id = 1, .kind = "event", .summary = "not \xff\xfe UTF-8"};
    struct history_row good = {.mapping_id = 1, .link_id = 1, .kind = "event", .summary = "ok"};
    char err[256] = "";
    assert_int_equal(history_append_guarded(conn, &bad, 1, err, sizeof err), 1);
    assert_non_null(strstr(err, "UTF8"));
    assert_int_equal(history_append_guarded(conn, &good, 1, err, sizeof err), 0);
    /* a row refused before the database is asked leaves the transaction as it was */
    struct history_row unknown = {.mapping_id = 1, .link_id = 1, .kind = "nope", .summary = "x"};
    assert_int_equal(history_append_guarded(conn, &unknown, 1, err, sizeof err), 1);
    assert_int_equal(history_append_guarded(conn, &good, 1, err, sizeof err), 0);
    testdb_exec_ok(conn, "COMMIT");
    assert_int_equal(testdb_long(conn, "SELECT count(*) FROM sync_links"), 1);
    assert_string_equal(
        testdb_value(conn, "SELECT string_agg(summary, ',' ORDER BY id) FROM sync_history"),
        "ok,ok");

    /* in a transaction that has already failed, the transaction is reported lost */
    testdb_exec_ok(conn, "BEGIN");
    PQclear(PQexec(conn, "SELECT 1/0"));
    assert_int_equal(history_append_guarded(conn, &good, 1, err, sizeof err), -1);
    testdb_exec_ok(conn, "ROLLBACK");
    assert_int_equal(testdb_long(conn, "SELECT count(*) FROM sync_history"), 2);
    PQfinish(conn);
}

static json_object *search_ok(PGconn *conn, const char *q, int64_t mapping, const char *after,
                              int limit)
{
    char err[512] = "";
    struct record_query rq = {.q = q, .mapping_id = mapping, .after = after, .limit = limit};
    json_object *out = record_search(conn, &rq, err, sizeof err);
    if (!out)
        fail_msg("record_search(%s): %s", q ? q : "(none)", err);
    return out;
}

/* The link ids of a search answer, "1,3" style. */
static const char *found_ids(json_object *page)
{
    static char buf[256];
    buf[0] = '\0';
    json_object *arr = json_object_object_get(page, "records");
    for (size_t i = 0; i < json_object_array_length(arr); i++) {
        json_object *r = json_object_array_get_idx(arr, i);
        size_t len = strlen(buf);
        snprintf(buf + len, sizeof buf - len, "%s%" PRId64, i ? "," : "",
                 json_object_get_int64(json_object_object_get(r, "link_id")));
    }
    return buf;
}

static void expect_search(PGconn *conn, const char *q, int64_t mapping, const char *want)
{
    json_object *page = search_ok(conn, q, mapping, NULL, 100);
    if (strcmp(found_ids(page), want) != 0)
        fail_msg("search %s: got [%s], want [%s]", q ? q : "(none)", found_ids(page), want);
    json_object_put(page);
}

static void test_search(void **state)
{
    PGconn *conn = connect_db(state);
    seed(conn);
    expect_search(conn, "001000000000000AAA", 0, "1");
    expect_search(conn, "001000000000000", 0, "3,1"); /* 15 characters: both of mapping 1's */
    expect_search(conn, "001000000000000", 2, "");
    expect_search(conn, "202", 0, "2");
    expect_search(conn, "acme", 0, "1");
    expect_search(conn, "ACME 100%_c", 0, "1");
    expect_search(conn, "Ada Love", 0, "2");
    expect_search(conn, "ada", 1, "");
    /* wildcards and quotes are text: they match nothing here */
    expect_search(conn, "%", 0, "");
    expect_search(conn, "_", 0, "");
    expect_search(conn, "Acme 100%%", 0, "");
    expect_search(conn, "a_me", 0, "");
    expect_search(conn, "' OR 1=1 --", 0, "");
    expect_search(conn, "\\", 0, "");
    expect_search(conn, NULL, 0, "3,2,1");
    expect_search(conn, NULL, 1, "3,1");

    json_object *page = search_ok(conn, "001000000000000AAA", 0, NULL, 10);
    json_object *r = json_object_array_get_idx(json_object_object_get(page, "records"), 0);
    assert_json_is(r, RECORD_1 "}");
    json_object_put(page);

    /* paging */
    page = search_ok(conn, NULL, 0, NULL, 2);
    assert_string_equal(found_ids(page), "3,2");
    assert_string_equal(next_of(page), "2");
    json_object_put(page);
    page = search_ok(conn, NULL, 0, "2", 2);
    assert_string_equal(found_ids(page), "1");
    assert_null(json_object_object_get(page, "next"));
    json_object_put(page);

    char err[256];
    struct record_query bad = {.q = "", .limit = 10};
    assert_null(record_search(conn, &bad, err, sizeof err));
    bad = (struct record_query){.q = "x", .limit = 101};
    assert_null(record_search(conn, &bad, err, sizeof err));
    bad = (struct record_query){.q = "x", .limit = 10, .after = "abc"};
    assert_null(record_search(conn, &bad, err, sizeof err));
    char longq[HISTORY_QUERY_MAX + 2];
    memset(longq, 'a', sizeof longq - 1);
    longq[sizeof longq - 1] = '\0';
    bad = (struct record_query){.q = longq, .limit = 10};
    assert_null(record_search(conn, &bad, err, sizeof err));
    PQfinish(conn);
}

static void test_detail(void **state)
{
    PGconn *conn = connect_db(state);
    seed(conn);
    char err[256] = "";
    json_object *out = NULL;
    assert_int_equal(record_detail(conn, 1, &out, err, sizeof err), 1);
    assert_json_is(
        out, RECORD_1
        ",\"state\":\"active\",\"fields\":["
        "{\"salesforce_field\":\"Name\",\"hubspot_property\":\"name\",\"rule\":\"two_way\","
        "\"base\":\"Acme 100%_Corp\",\"base_salesforce\":\"Acme 100%_Corp\","
        "\"base_hubspot\":\"Acme 100%_Corp\"},"
        "{\"salesforce_field\":\"Phone\",\"hubspot_property\":\"phone\",\"rule\":"
        "\"always_salesforce\",\"base\":\"+1 555\",\"base_salesforce\":\"+1 555\","
        "\"base_hubspot\":\"+1 555\"},"
        "{\"salesforce_field\":\"Rating\",\"hubspot_property\":\"rating\",\"rule\":\"two_way\","
        "\"base\":null,\"base_salesforce\":null,\"base_hubspot\":null}]}");
    json_object_put(out);
    /* a mapping document without fields; a link whose mapping is gone */
    assert_int_equal(record_detail(conn, 2, &out, err, sizeof err), 1);
    assert_int_equal(json_object_array_length(json_object_object_get(out, "fields")), 0);
    assert_null(json_object_object_get(out, "last_synced_at"));
    json_object_put(out);
    testdb_exec_ok(conn, "DELETE FROM mappings WHERE id = 2");
    assert_int_equal(record_detail(conn, 2, &out, err, sizeof err), 1);
    assert_null(json_object_object_get(out, "mapping_name"));
    json_object_put(out);
    assert_int_equal(record_detail(conn, 404, &out, err, sizeof err), 0);
    assert_null(out);
    PQfinish(conn);
}

struct notices {
    char text[262144];
};

static void collect_notice(void *arg, const char *message)
{
    struct notices *n = arg;
    size_t len = strlen(n->text);
    snprintf(n->text + len, sizeof n->text - len, "%s", message);
}

/* With 20,000 links and 100,000 history rows: every search way and the timeline read indexes. */
static void test_plans_use_indexes(void **state)
{
    PGconn *conn = connect_db(state);
    seed(conn);
    testdb_exec_ok(conn, "INSERT INTO sync_links (mapping_id, salesforce_id, hubspot_id, sf_values)"
                         " SELECT 1, 'a01' || lpad(i::text, 15, '0'), (10000 + i)::text,"
                         " jsonb_build_object('Name', 'Bench ' || i)"
                         " FROM generate_series(1, 20000) AS i");
    testdb_exec_ok(conn, "INSERT INTO sync_history (mapping_id, link_id, kind, summary)"
                         " SELECT 1, 4 + i % 20000, 'event', 'e' || i"
                         " FROM generate_series(1, 100000) AS i");
    testdb_exec_ok(conn, "ANALYZE sync_links");
    testdb_exec_ok(conn, "ANALYZE sync_history");
    testdb_exec_ok(conn, "LOAD 'auto_explain'");
    testdb_exec_ok(conn, "SET auto_explain.log_min_duration = 0");
    testdb_exec_ok(conn, "SET auto_explain.log_nested_statements = on");
    testdb_exec_ok(conn, "SET client_min_messages = log");
    static struct notices plans;
    plans.text[0] = '\0';
    PQnoticeProcessor old = PQsetNoticeProcessor(conn, collect_notice, &plans);
    expect_search(conn, "a01000000000012345", 0, "12348"); /* ids from 4 on */
    expect_search(conn, "22345", 0, "12348");
    json_object *page = search_ok(conn, "a01000000000012", 0, NULL, 100); /* a01...012000..999 */
    assert_int_equal(json_object_array_length(json_object_object_get(page, "records")), 100);
    assert_string_equal(next_of(page), "12903");
    json_object_put(page);
    page = search_ok(conn, "bench 1234", 0, NULL, 100);
    /* Bench 12349 .. 12340, Bench 1234 */
    assert_string_equal(found_ids(page),
                        "12352,12351,12350,12349,12348,12347,12346,12345,12344,12343,1237");
    json_object_put(page);
    page = timeline_ok(conn, 500, NULL, 50);
    assert_int_equal(entries(page), 5);
    json_object_put(page);
    PQsetNoticeProcessor(conn, old, NULL);
    testdb_exec_ok(conn, "SET client_min_messages = warning");
    if (getenv("HISTORY_PLANS"))
        fprintf(stderr, "%s\n", plans.text);
    if (!strstr(plans.text, "sync_links_salesforce") || !strstr(plans.text, "sync_links_hubspot") ||
        !strstr(plans.text, "sync_links_salesforce15") || !strstr(plans.text, "sync_links_label") ||
        !strstr(plans.text, "sync_history_link") ||
        strstr(plans.text, "Seq Scan on sync_history") ||
        strstr(plans.text, "Seq Scan on sync_links")) {
        fprintf(stderr, "%s\n", plans.text);
        fail_msg("a record query does not use its index (plans above)");
    }
    PQfinish(conn);
}

static void test_prune(void **state)
{
    PGconn *conn = connect_db(state);
    testdb_exec_ok(conn,
                   "INSERT INTO sync_history (mapping_id, link_id, kind, summary, occurred_at)"
                   " SELECT 1, 1, 'event', 'old ' || i, now() - interval '40 days'"
                   " FROM generate_series(1, 25) AS i");
    testdb_exec_ok(conn, "INSERT INTO sync_history (mapping_id, link_id, kind, summary)"
                         " SELECT 1, 1, 'event', 'new ' || i FROM generate_series(1, 5) AS i");
    char err[256] = "";
    assert_int_equal(history_prune(conn, 30L * 86400, 10, err, sizeof err), 10);
    assert_int_equal(history_prune(conn, 30L * 86400, 10, err, sizeof err), 10);
    assert_int_equal(history_prune(conn, 30L * 86400, 10, err, sizeof err), 5);
    assert_int_equal(history_prune(conn, 30L * 86400, 10, err, sizeof err), 0);
    assert_int_equal(testdb_long(conn, "SELECT count(*) FROM sync_history WHERE summary LIKE"
                                       " 'new %'"),
                     5);
    assert_int_equal(history_prune(conn, -1, 10, err, sizeof err), -1);
    assert_int_equal(history_prune(conn, 1, 0, err, sizeof err), -1);
    PQfinish(conn);
}

int main(void)
{
    setvbuf(stdout, NULL, _IONBF, 0);
#define T(fn) cmocka_unit_test_setup_teardown(fn, testdb_setup_migrated, testdb_teardown)
    const struct CMUnitTest tests[] = {
        T(test_append_and_timeline),
        T(test_append_copy_escapes),
        T(test_guarded_append_keeps_the_transaction),
        T(test_search),
        T(test_detail),
        T(test_plans_use_indexes),
        T(test_prune),
    };
    return cmocka_run_group_tests_name("history_store", tests, NULL, NULL);
}
