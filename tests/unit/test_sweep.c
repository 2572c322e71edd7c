/* test_sweep.c: sync/sweep against crmsim and a real, migrated PostgreSQL: a first sweep queues
 * exactly one event per changed Salesforce and HubSpot record, a re-sweep queues nothing, later
 * changes (an update on each side and a Salesforce delete) queue exactly one new event each with
 * the right kind, cursors persist per (source, kind), the HubSpot search cap restarts from the
 * last timestamp without losing or duplicating records, a mapping locked by another process is
 * skipped, a mapping that is not enabled is refused, and the metrics count what was queued.
 * Fails (never skips) without CRMSIM_BIN or SYNKRO_TEST_ADMIN_URL. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "db/pool.h"
#include "handlers/app.h"
#include "base/config.h"
#include "base/metrics.h"
#include "base/strbuf.h"
#include "crm/hubspot_client.h"
#include "crm/salesforce_client.h"
#include "sync/sweep.h"
#include "crmsim_proc.h"
#include "unit_sim.h"
#include "testdb.h"
#include "testdb_sql.h"

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static const char SCHEMAS[] =
    "{\"config\":{\"hubspot_search_delay_ms\":0},"
    "\"hubspot\":{\"schemas\":[{\"name\":\"projects\",\"objectTypeId\":\"2-3465404\","
    "\"properties\":[{\"name\":\"name\",\"type\":\"string\"}]}]},"
    "\"salesforce\":{\"describes\":[{\"name\":\"Project__c\",\"keyPrefix\":\"a01\","
    "\"fields\":[{\"name\":\"Name\",\"type\":\"string\",\"length\":80}]}]}}";

/* ---- the app the sweep runs in ---- */

struct env {
    struct testdb *db;
    struct config cfg;
    struct app app;
    int64_t mapping_id;
};

static void env_open(struct env *e, struct testdb *db)
{
    memset(e, 0, sizeof *e);
    e->db = db;
    e->cfg.crm_timeout_ms = 10000;
    e->cfg.crm_connect_timeout_ms = 2000;
    e->cfg.import_inflight = 1000;
    unit_app_open(&e->app, &e->cfg, db->conninfo, "test_sweep", 0);
}

static void env_close(struct env *e)
{
    unit_app_close(&e->app);
}

static int64_t add_mapping(PGconn *conn, const char *state)
{
    const char *params[] = {state};
    PGresult *r = PQexecParams(conn,
                               "INSERT INTO mappings (name, state, salesforce_object,"
                               " hubspot_object, hubspot_object_type_id, document)"
                               " VALUES ('Projects', $1, 'Project__c', 'p12345678_projects',"
                               " '2-3465404', '{}') RETURNING id",
                               1, NULL, params, NULL, NULL, 0);
    assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
    int64_t id = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    return id;
}

static void sweep_ok(struct env *e, const struct sweep_options *o, struct sweep_result *res)
{
    if (sync_sweep_mapping(&e->app.sync_ctx, e->mapping_id, o, res) != 0)
        fail_msg("sweep failed: %s", res->error);
    assert_false(res->busy);
}

static void test_options(struct sweep_options *o)
{
    sweep_options_default(o);
    o->hs_lag_ms = 0;
    o->sf_min_window_ms = 0;
}

static int test_setup(void **state)
{
    crmsim_proc_ok(&unit_sim, "POST", "/_sim/reset", NULL);
    crmsim_proc_ok(&unit_sim, "POST", "/_sim/fixtures", SCHEMAS);
    return testdb_setup_migrated(state);
}

/* The id of the n-th (0-based) Salesforce Project__c record crmsim holds. */
static char *sf_record_id(int n)
{
    json_object *all =
        crmsim_proc_call(&unit_sim, "GET", "/_sim/salesforce/Project__c/records", NULL, NULL);
    json_object *recs = NULL;
    json_object_object_get_ex(all, "records", &recs);
    assert_true(recs && (int)json_object_array_length(recs) > n);
    char *id = strdup(crmsim_jstr(json_object_array_get_idx(recs, (size_t)n), "Id"));
    json_object_put(all);
    return id;
}

static long events(PGconn *conn, const char *source, const char *kind)
{
    char sql[300];
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM change_events WHERE source = '%s' AND kind = '%s'"
             " AND status = 'pending' AND idempotency_key LIKE 'sweep:%%'"
             " AND payload->>'sweep' = 'true'",
             source, kind);
    return testdb_long(conn, sql);
}

static void test_sweep_changes_once(void **state)
{
    struct testdb *db = *state;
    crmsim_proc_ok(&unit_sim, "POST", "/_sim/fixtures",
                   "{\"salesforce\":{\"records\":{\"Project__c\":[{\"Name\":\"Apollo\"},"
                   "{\"Name\":\"Gemini\"},{\"Name\":\"Mercury\"}]}},"
                   "\"hubspot\":{\"records\":{\"2-3465404\":[{\"id\":\"901\",\"properties\":"
                   "{\"name\":\"Vega\"}},{\"id\":\"902\",\"properties\":{\"name\":\"Lyra\"}}]}}}");
    struct env e;
    env_open(&e, db);
    e.mapping_id = add_mapping(db->watch, "enabled");
    struct sweep_options o;
    test_options(&o);
    struct sweep_result res;

    sweep_ok(&e, &o, &res);
    assert_int_equal(res.sf_updated, 3);
    assert_int_equal(res.sf_deleted, 0);
    assert_int_equal(res.hs_updated, 2);
    assert_int_equal(events(db->watch, "salesforce", "update"), 3);
    assert_int_equal(events(db->watch, "hubspot", "update"), 2);
    assert_int_equal(testdb_long(db->watch, "SELECT count(*) FROM change_events WHERE source ="
                                            " 'hubspot' AND object_type = '2-3465404'"),
                     2);
    assert_int_equal(testdb_long(db->watch, "SELECT count(*) FROM change_events WHERE source ="
                                            " 'salesforce' AND object_type = 'Project__c'"),
                     3);
    /* Salesforce updated + deleted, HubSpot updated, and the HubSpot deletion audit's link cursor
     */
    assert_int_equal(testdb_long(db->watch, "SELECT count(*) FROM sync_cursors"), 4);

    /* the same changes again: nothing new */
    sweep_ok(&e, &o, &res);
    assert_int_equal(res.sf_updated + res.sf_deleted + res.hs_updated, 0);
    assert_int_equal(testdb_long(db->watch, "SELECT count(*) FROM change_events"), 5);

    /* later changes (SystemModstamp has second granularity) */
    sleep_ms(1100);
    char *updated = sf_record_id(0), *deleted = sf_record_id(1), path[160];
    snprintf(path, sizeof path, "/_sim/salesforce/Project__c/records/%s", updated);
    crmsim_proc_ok(&unit_sim, "PATCH", path, "{\"Name\":\"Apollo 2\"}");
    snprintf(path, sizeof path, "/_sim/salesforce/Project__c/records/%s", deleted);
    crmsim_proc_ok(&unit_sim, "DELETE", path, NULL);
    crmsim_proc_ok(&unit_sim, "PATCH", "/_sim/hubspot/2-3465404/records/902",
                   "{\"properties\":{\"name\":\"Lyra 2\"}}");

    sweep_ok(&e, &o, &res);
    assert_int_equal(res.sf_updated, 1);
    assert_int_equal(res.sf_deleted, 1);
    assert_int_equal(res.hs_updated, 1);
    char sql[300];
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM change_events WHERE kind = 'delete' AND record_id = '%s'",
             deleted);
    assert_int_equal(testdb_long(db->watch, sql), 1);
    snprintf(sql, sizeof sql, "SELECT count(*) FROM change_events WHERE record_id = '%s'", updated);
    assert_int_equal(testdb_long(db->watch, sql), 2);
    assert_int_equal(testdb_long(db->watch, "SELECT count(*) FROM change_events WHERE record_id ="
                                            " '902'"),
                     2);
    assert_int_equal(events(db->watch, "salesforce", "delete"), 1);

    sweep_ok(&e, &o, &res);
    assert_int_equal(res.sf_updated + res.sf_deleted + res.hs_updated, 0);
    assert_int_equal(testdb_long(db->watch, "SELECT count(*) FROM change_events"), 8);

    /* the cursors persist and move forward */
    assert_int_equal(testdb_long(db->watch, "SELECT count(*) FROM sync_cursors WHERE kind ="
                                            " 'updated' OR source = 'salesforce'"),
                     3);
    assert_int_equal(testdb_long(db->watch, "SELECT count(*) FROM sync_cursors WHERE CASE WHEN kind"
                                            " = 'updated' OR source = 'salesforce' THEN position::"
                                            "timestamptz > now() - interval '1 minute' END"),
                     3);

    struct strbuf sb = STRBUF_INIT;
    assert_int_equal(metrics_render(&sb), 0);
    assert_non_null(strstr(sb.data, "synkro_sweep_events_total{mapping=\""));
    assert_non_null(strstr(sb.data, "kind=\"delete\"} 1"));
    assert_non_null(strstr(sb.data, "synkro_sweep_runs_total{outcome=\"ok\"}"));
    strbuf_free(&sb);
    free(updated);
    free(deleted);
    env_close(&e);
}

/* More HubSpot changes than the (lowered) search cap: the search restarts from the last
 * timestamp seen; every record is queued exactly once. */
static void test_hubspot_search_cap(void **state)
{
    struct testdb *db = *state;
    struct strbuf fx = STRBUF_INIT;
    strbuf_puts(&fx, "{\"hubspot\":{\"records\":{\"2-3465404\":[");
    time_t now = time(NULL);
    for (int i = 0; i < 13; i++) {
        time_t t = now - 300 + (i == 6 ? 5 : i) * 7; /* records 5 and 6 share a second */
        struct tm tm;
        gmtime_r(&t, &tm);
        strbuf_printf(&fx,
                      "%s{\"id\":\"%d\",\"properties\":{\"name\":\"R%d\"},"
                      "\"updatedAt\":\"%04d-%02d-%02dT%02d:%02d:%02d.000Z\"}",
                      i ? "," : "", 100 + i, i, tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                      tm.tm_hour, tm.tm_min, tm.tm_sec);
    }
    strbuf_puts(&fx, "]}}}");
    crmsim_proc_ok(&unit_sim, "POST", "/_sim/fixtures", fx.data);
    strbuf_free(&fx);
    struct env e;
    env_open(&e, db);
    e.mapping_id = add_mapping(db->watch, "enabled");
    struct sweep_options o;
    test_options(&o);
    o.hs_page_limit = 2;
    o.hs_result_cap = 6;
    struct sweep_result res;
    sweep_ok(&e, &o, &res);
    assert_int_equal(res.hs_updated, 13);
    assert_int_equal(testdb_long(db->watch, "SELECT count(DISTINCT record_id) FROM change_events"
                                            " WHERE source = 'hubspot'"),
                     13);
    sweep_ok(&e, &o, &res);
    assert_int_equal(res.hs_updated, 0);
    env_close(&e);
}

/* HubSpot deletions whose webhook was missed: linked records are batch-read in turn (a few per
 * sweep, cursor by link id, wrapping), and each archived one is queued once as a HubSpot delete. */
static void test_hubspot_deletions_audited(void **state)
{
    struct testdb *db = *state;
    crmsim_proc_ok(&unit_sim, "POST", "/_sim/fixtures",
                   "{\"hubspot\":{\"records\":{\"2-3465404\":["
                   "{\"id\":\"501\",\"properties\":{\"name\":\"Kept\"}},"
                   "{\"id\":\"502\",\"properties\":{\"name\":\"Gone\"}},"
                   "{\"id\":\"503\",\"properties\":{\"name\":\"Also kept\"}}]}}}");
    crmsim_proc_ok(&unit_sim, "DELETE", "/_sim/hubspot/2-3465404/records/502", NULL);
    struct env e;
    env_open(&e, db);
    e.mapping_id = add_mapping(db->watch, "enabled");
    char sql[512];
    snprintf(sql, sizeof sql,
             "INSERT INTO sync_links (mapping_id, salesforce_id, hubspot_id) VALUES"
             " (%" PRId64 ", 'a01000000000001AAA', '501'), (%" PRId64
             ", 'a01000000000002AAA', '502'),"
             " (%" PRId64 ", 'a01000000000003AAA', '503')",
             e.mapping_id, e.mapping_id, e.mapping_id);
    testdb_exec_ok(db->watch, sql);
    struct sweep_options o;
    test_options(&o);
    o.hs_audit_links = 2; /* two links per sweep: 501, 502, then 503, then from the start */
    struct sweep_result res;
    sweep_ok(&e, &o, &res);
    assert_int_equal(res.hs_deleted, 1);
    assert_int_equal(events(db->watch, "hubspot", "delete"), 1);
    assert_int_equal(testdb_long(db->watch, "SELECT count(*) FROM change_events WHERE kind ="
                                            " 'delete' AND record_id = '502'"),
                     1);
    sweep_ok(&e, &o, &res); /* 503: still there */
    assert_int_equal(res.hs_deleted, 0);
    sweep_ok(&e, &o, &res); /* wrapped: nothing left to read */
    sweep_ok(&e, &o, &res); /* 501, 502 again: 502's event exists, none new */
    assert_int_equal(res.hs_deleted, 0);
    assert_int_equal(events(db->watch, "hubspot", "delete"), 1);
    /* a link marked deleted is not read again: with its event gone and the audit restarted,
     * nothing is queued for it */
    testdb_exec_ok(db->watch, "UPDATE sync_links SET state = 'deleted' WHERE hubspot_id = '502'");
    testdb_exec_ok(db->watch, "DELETE FROM change_events WHERE record_id = '502'");
    testdb_exec_ok(db->watch, "UPDATE sync_cursors SET position = '0' WHERE source = 'hubspot'"
                              " AND kind = 'deleted'");
    sweep_ok(&e, &o, &res);
    sweep_ok(&e, &o, &res);
    assert_int_equal(res.hs_deleted, 0);
    assert_int_equal(events(db->watch, "hubspot", "delete"), 0);
    env_close(&e);
}

/* How many links one sweep audits: enough to cover them all within hs_audit_sweeps sweeps, at
 * least hs_audit_links, at most hs_audit_max (the audit cursor is the last link id checked). */
static void test_hubspot_audit_scales_with_links(void **state)
{
    struct testdb *db = *state;
    struct env e;
    env_open(&e, db);
    e.mapping_id = add_mapping(db->watch, "enabled");
    char sql[512];
    snprintf(sql, sizeof sql,
             "INSERT INTO sync_links (mapping_id, salesforce_id, hubspot_id)"
             " SELECT %" PRId64 ", 'a0100000000' || lpad(g::text, 4, '0') || 'AAA', (600 + g)::text"
             " FROM generate_series(1, 12) g",
             e.mapping_id);
    testdb_exec_ok(db->watch, sql);
    const char *checked =
        "SELECT (SELECT count(*) FROM sync_links l WHERE l.id <= c.position::bigint)"
        " FROM sync_cursors c WHERE c.source = 'hubspot' AND c.kind = 'deleted'";
    struct sweep_options o;
    test_options(&o);
    o.hs_audit_links = 1;
    o.hs_audit_sweeps = 4; /* 12 links in 4 sweeps: 3 per sweep */
    struct sweep_result res;
    sweep_ok(&e, &o, &res);
    assert_int_equal(testdb_long(db->watch, checked), 3);
    sweep_ok(&e, &o, &res);
    assert_int_equal(testdb_long(db->watch, checked), 6);
    o.hs_audit_max = 2; /* capped */
    sweep_ok(&e, &o, &res);
    assert_int_equal(testdb_long(db->watch, checked), 8);
    o.hs_audit_max = 0;
    o.hs_audit_links = 5; /* the floor wins over 3 */
    sweep_ok(&e, &o, &res);
    assert_int_equal(testdb_long(db->watch, checked), 12);
    /* crmsim holds none of these HubSpot records: every link read was queued as a deletion */
    assert_int_equal(res.hs_deleted, 4);
    assert_int_equal(events(db->watch, "hubspot", "delete"), 12);
    env_close(&e);
}

static void test_busy_and_disabled(void **state)
{
    struct testdb *db = *state;
    crmsim_proc_ok(&unit_sim, "POST", "/_sim/fixtures",
                   "{\"salesforce\":{\"records\":{\"Project__c\":[{\"Name\":\"Apollo\"}]}}}");
    struct env e;
    env_open(&e, db);
    e.mapping_id = add_mapping(db->watch, "enabled");
    char sql[200];
    snprintf(sql, sizeof sql, "SELECT pg_advisory_lock(1937204080, %" PRId64 ")", e.mapping_id);
    testdb_value(db->watch, sql);
    struct sweep_options o;
    test_options(&o);
    struct sweep_result res;
    assert_int_equal(sync_sweep_mapping(&e.app.sync_ctx, e.mapping_id, &o, &res), 0);
    assert_true(res.busy);
    assert_int_equal(testdb_long(db->watch, "SELECT count(*) FROM change_events"), 0);
    snprintf(sql, sizeof sql, "SELECT pg_advisory_unlock(1937204080, %" PRId64 ")", e.mapping_id);
    testdb_value(db->watch, sql);
    sweep_ok(&e, &o, &res);
    assert_int_equal(res.sf_updated, 1);

    testdb_value(db->watch, "UPDATE mappings SET state = 'paused' RETURNING id");
    assert_int_equal(sync_sweep_mapping(&e.app.sync_ctx, e.mapping_id, &o, &res), -1);
    assert_non_null(strstr(res.error, "not enabled"));
    env_close(&e);
}

/* A failing CRM leaves the cursor where it was; the next sweep catches up. */
static void test_failure_keeps_cursor(void **state)
{
    struct testdb *db = *state;
    crmsim_proc_ok(&unit_sim, "POST", "/_sim/fixtures",
                   "{\"salesforce\":{\"records\":{\"Project__c\":[{\"Name\":\"Apollo\"}]}}}");
    struct env e;
    env_open(&e, db);
    e.mapping_id = add_mapping(db->watch, "enabled");
    crmsim_proc_ok(&unit_sim, "POST", "/_sim/faults",
                   "{\"match\":\"GET /services/data\",\"status\":400,\"count\":1}");
    struct sweep_options o;
    test_options(&o);
    struct sweep_result res;
    assert_int_equal(sync_sweep_mapping(&e.app.sync_ctx, e.mapping_id, &o, &res), -1);
    assert_int_equal(res.errors, 1);
    assert_int_equal(testdb_long(db->watch, "SELECT count(*) FROM sync_cursors WHERE source ="
                                            " 'salesforce' AND kind = 'updated'"),
                     0);
    sweep_ok(&e, &o, &res);
    assert_int_equal(res.sf_updated, 1);
    env_close(&e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_sweep_changes_once, test_setup, testdb_teardown),
        cmocka_unit_test_setup_teardown(test_hubspot_search_cap, test_setup, testdb_teardown),
        cmocka_unit_test_setup_teardown(test_hubspot_deletions_audited, test_setup,
                                        testdb_teardown),
        cmocka_unit_test_setup_teardown(test_hubspot_audit_scales_with_links, test_setup,
                                        testdb_teardown),
        cmocka_unit_test_setup_teardown(test_busy_and_disabled, test_setup, testdb_teardown),
        cmocka_unit_test_setup_teardown(test_failure_keeps_cursor, test_setup, testdb_teardown),
    };
    return cmocka_run_group_tests(tests, unit_sim_start, unit_sim_stop);
}
