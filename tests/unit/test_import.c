/* test_import.c: sync/import and db/import_store against crmsim and a real, migrated
 * PostgreSQL: the estimate equals the source's count (both CRMs); an import of 4,500 Salesforce
 * records pages through SOQL pages of 500 (nextRecordsUrl followed), never keeps more than
 * import_inflight of its events waiting while simulated workers settle them between steps,
 * counts synced and failed, and finishes with every record queued exactly once; a second import
 * of the same mapping is refused while one runs and queues its own events afterwards; a
 * HubSpot-to-Salesforce import pages by hs_object_id; cancelling drops the waiting events; a step
 * of a finished import changes nothing. Fails (never skips) without CRMSIM_BIN or
 * SYNKRO_TEST_ADMIN_URL. */
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

#include "db/import_store.h"
#include "db/pool.h"
#include "handlers/app.h"
#include "base/config.h"
#include "base/strbuf.h"
#include "crm/hubspot_client.h"
#include "sync/import.h"
#include "sync/reconcile.h"
#include "crm/salesforce_client.h"
#include "sync/sweep.h"
#include "crmsim_proc.h"
#include "unit_sim.h"
#include "testdb.h"

#define SF_RECORDS 4500
#define HS_RECORDS 450

static const char SCHEMAS[] =
    "{\"config\":{\"hubspot_search_delay_ms\":0,\"salesforce_query_page_size\":500,"
    "\"hubspot_search_rate_per_second\":50},"
    "\"hubspot\":{\"schemas\":[{\"name\":\"projects\",\"objectTypeId\":\"2-3465404\","
    "\"properties\":[{\"name\":\"name\",\"type\":\"string\"}]}]},"
    "\"salesforce\":{\"describes\":[{\"name\":\"Project__c\",\"keyPrefix\":\"a01\","
    "\"fields\":[{\"name\":\"Name\",\"type\":\"string\",\"length\":80}]}]}}";

struct env {
    struct testdb *db;
    struct config cfg;
    struct app app;
    int64_t mapping_id;
    struct sweep_target target;
};

static void env_open(struct env *e, struct testdb *db, int inflight)
{
    memset(e, 0, sizeof *e);
    e->db = db;
    e->cfg.crm_timeout_ms = 10000;
    e->cfg.crm_connect_timeout_ms = 2000;
    e->cfg.import_inflight = inflight;
    unit_app_open(&e->app, &e->cfg, db->conninfo, "test_import", 50);
    char err[300];
    PGresult *r = PQexec(db->watch, "INSERT INTO mappings (name, state, salesforce_object,"
                                    " hubspot_object, hubspot_object_type_id, document)"
                                    " VALUES ('Projects', 'enabled', 'Project__c',"
                                    " 'p12345678_projects', '2-3465404', '{}') RETURNING id");
    assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
    e->mapping_id = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    bool found = false;
    PGconn *conn = db_pool_acquire(e->app.pool, 2000, err, sizeof err);
    assert_non_null(conn);
    assert_int_equal(import_store_target(conn, e->mapping_id, &e->target, &found, err, sizeof err),
                     0);
    db_pool_release(e->app.pool, conn, false);
    assert_true(found);
    assert_true(e->target.enabled);
}

static void env_close(struct env *e)
{
    unit_app_close(&e->app);
}

static long long q1_ll(PGconn *conn, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static long long q1_ll(PGconn *conn, const char *fmt, ...)
{
    char sql[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(sql, sizeof sql, fmt, ap);
    va_end(ap);
    PGresult *r = PQexec(conn, sql);
    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s", PQresultErrorMessage(r));
        PQclear(r);
        fail_msg("%s: %s", sql, msg);
    }
    long long v = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    return v;
}

/* Workers: settle up to n of the import's pending events (one of them failed when fail_one). */
static void settle(PGconn *conn, int64_t import_id, int n, bool fail_one)
{
    q1_ll(conn,
          "WITH s AS (SELECT id, row_number() OVER (ORDER BY id) AS k FROM change_events"
          " WHERE import_id = %" PRId64 " AND status = 'pending' ORDER BY id LIMIT %d),"
          " u AS (UPDATE change_events e SET status = CASE WHEN %d = 1 AND s.k = 1 THEN 'failed'"
          " ELSE 'done' END, finished_at = now(), error_category = CASE WHEN %d = 1 AND s.k = 1"
          " THEN 'validation' END FROM s WHERE e.id = s.id RETURNING 1)"
          " SELECT count(*) FROM u",
          import_id, n, fail_one ? 1 : 0, fail_one ? 1 : 0);
}

static int test_setup(void **state)
{
    crmsim_proc_ok(&unit_sim, "POST", "/_sim/reset", NULL);
    crmsim_proc_ok(&unit_sim, "POST", "/_sim/fixtures", SCHEMAS);
    return testdb_setup_migrated(state);
}

static void load_sf_records(int n)
{
    struct strbuf fx = STRBUF_INIT;
    strbuf_puts(&fx, "{\"salesforce\":{\"records\":{\"Project__c\":[");
    for (int i = 0; i < n; i++)
        strbuf_printf(&fx, "%s{\"Name\":\"P%d\"}", i ? "," : "", i);
    strbuf_puts(&fx, "]}}}");
    assert_false(fx.failed);
    crmsim_proc_ok(&unit_sim, "POST", "/_sim/fixtures", fx.data);
    strbuf_free(&fx);
}

static void load_hs_records(int n)
{
    struct strbuf fx = STRBUF_INIT;
    strbuf_puts(&fx, "{\"hubspot\":{\"records\":{\"2-3465404\":[");
    for (int i = 0; i < n; i++)
        strbuf_printf(&fx, "%s{\"properties\":{\"name\":\"H%d\"}}", i ? "," : "", i);
    strbuf_puts(&fx, "]}}}");
    assert_false(fx.failed);
    crmsim_proc_ok(&unit_sim, "POST", "/_sim/fixtures", fx.data);
    strbuf_free(&fx);
}

static int64_t start_import(struct env *e, const char *direction, long long total)
{
    char err[256];
    PGconn *conn = db_pool_acquire(e->app.pool, 2000, err, sizeof err);
    assert_non_null(conn);
    int64_t id = 0;
    int rc =
        import_store_create(conn, e->mapping_id, direction, "test", total, &id, err, sizeof err);
    db_pool_release(e->app.pool, conn, false);
    if (rc != IMPORT_CREATE_OK)
        fail_msg("import_store_create: %d %s", rc, err);
    return id;
}

static void step(struct env *e, int64_t id, struct import_step_result *res)
{
    char err[512];
    if (import_step(&e->app.sync_ctx, id, res, err, sizeof err) != 0)
        fail_msg("import_step: %s", err);
    assert_false(res->busy);
}

static long long waiting(struct env *e, int64_t id)
{
    return q1_ll(e->db->watch,
                 "SELECT count(*) FROM change_events WHERE import_id = %" PRId64
                 " AND status IN ('pending', 'processing')",
                 id);
}

/* Steps until done, settling `per_round` events between steps; returns the steps taken. */
static int run_to_done(struct env *e, int64_t id, int per_round, long long *max_waiting)
{
    struct import_step_result res;
    for (int i = 0; i < 200; i++) {
        step(e, id, &res);
        long long w = waiting(e, id);
        if (w > *max_waiting)
            *max_waiting = w;
        assert_true(w <= e->cfg.import_inflight);
        if (strcmp(res.status, "done") == 0)
            return i + 1;
        settle(e->db->watch, id, per_round, i == 0);
    }
    fail_msg("the import did not finish");
    return -1;
}

static void test_salesforce_import(void **state)
{
    struct testdb *db = *state;
    load_sf_records(SF_RECORDS);
    struct env e;
    env_open(&e, db, 1000);
    char err[512];
    long long count = 0;
    assert_int_equal(
        import_estimate(&e.app.sync_ctx, &e.target, IMPORT_SF_TO_HS, &count, err, sizeof err),
        IMPORT_CRM_OK);
    assert_int_equal(count, SF_RECORDS);

    int64_t id = start_import(&e, "salesforce_to_hubspot", -1);
    /* a second import of the same mapping waits for the first */
    PGconn *conn = db_pool_acquire(e.app.pool, 2000, err, sizeof err);
    int64_t other = 0;
    assert_int_equal(import_store_create(conn, e.mapping_id, "hubspot_to_salesforce", "test", 1,
                                         &other, err, sizeof err),
                     IMPORT_CREATE_RUNNING);
    db_pool_release(e.app.pool, conn, false);

    struct import_step_result res;
    step(&e, id, &res);
    assert_string_equal(res.status, "running");
    /* one step fills the window (two SOQL pages of 500), no more */
    assert_int_equal(res.queued_now, 1000);
    assert_int_equal(waiting(&e, id), 1000);
    assert_int_equal(q1_ll(db->watch, "SELECT total FROM sync_imports WHERE id = %" PRId64, id),
                     SF_RECORDS);
    step(&e, id, &res);
    assert_int_equal(res.queued_now, 0); /* nothing settled: nothing new */
    settle(db->watch, id, 300, false);
    step(&e, id, &res);
    assert_int_equal(res.queued_now, 300);
    assert_int_equal(q1_ll(db->watch, "SELECT synced FROM sync_imports WHERE id = %" PRId64, id),
                     300);

    long long max_waiting = 0;
    run_to_done(&e, id, 700, &max_waiting);
    assert_int_equal(max_waiting, 1000);
    /* the import's counts: everything queued once, one failure */
    settle(db->watch, id, SF_RECORDS, false);
    assert_int_equal(q1_ll(db->watch,
                           "SELECT count(DISTINCT record_id) FROM change_events WHERE import_id = "
                           "%" PRId64 " AND source = 'salesforce' AND object_type = 'Project__c'"
                           " AND kind = 'update'",
                           id),
                     SF_RECORDS);
    assert_int_equal(q1_ll(db->watch, "SELECT queued FROM sync_imports WHERE id = %" PRId64, id),
                     SF_RECORDS);
    assert_int_equal(q1_ll(db->watch, "SELECT failed FROM sync_imports WHERE id = %" PRId64, id),
                     1);
    assert_int_equal(q1_ll(db->watch,
                           "SELECT count(*) FROM sync_imports WHERE id = %" PRId64
                           " AND status = 'done' AND started_at IS NOT NULL AND finished_at IS NOT"
                           " NULL AND error IS NULL",
                           id),
                     1);
    /* a finished import does not move */
    step(&e, id, &res);
    assert_string_equal(res.status, "done");
    assert_int_equal(res.queued_now, 0);

    /* running it again queues its own events (the workers find the records linked and equal) */
    int64_t again = start_import(&e, "salesforce_to_hubspot", -1);
    step(&e, again, &res);
    assert_int_equal(res.queued_now, 1000);
    assert_int_equal(q1_ll(db->watch,
                           "SELECT count(*) FROM change_events WHERE import_id = %" PRId64
                           " AND idempotency_key LIKE 'import:%" PRId64 ":%%'",
                           again, again),
                     1000);
    env_close(&e);
}

/* With the workers' batch size known, an import pages in whole batches: room for 150 records
 * pages nothing (a partial batch would cost a whole batch's calls), room for 250 pages 200; the
 * source's last page is whatever is left, and every record is queued once. */
static void test_pages_in_whole_batches(void **state)
{
    struct testdb *db = *state;
    load_sf_records(SF_RECORDS);
    struct env e;
    env_open(&e, db, 1000);
    e.cfg.worker_batch = 200;
    int64_t id = start_import(&e, "salesforce_to_hubspot", -1);
    struct import_step_result res;
    step(&e, id, &res);
    assert_int_equal(res.queued_now, 1000);
    settle(db->watch, id, 150, false);
    step(&e, id, &res);
    assert_int_equal(res.queued_now, 0);
    assert_string_equal(res.status, "running");
    settle(db->watch, id, 100, false);
    step(&e, id, &res);
    assert_int_equal(res.queued_now, 200);
    long long queued = 1200;
    for (int i = 0; i < 200 && strcmp(res.status, "done") != 0; i++) {
        settle(db->watch, id, 130, false);
        step(&e, id, &res);
        queued += res.queued_now;
        /* every page but the source's last is whole batches */
        if (queued < SF_RECORDS)
            assert_int_equal(res.queued_now % 200, 0);
        assert_true(waiting(&e, id) <= 1000);
    }
    assert_string_equal(res.status, "done");
    assert_int_equal(queued, SF_RECORDS);
    assert_int_equal(q1_ll(db->watch, "SELECT queued FROM sync_imports WHERE id = %" PRId64, id),
                     SF_RECORDS);
    /* a page is at most 2,000 ids: with room for more, 2,000 rounded down to whole batches */
    e.cfg.import_inflight = 5000;
    e.cfg.worker_batch = 300;
    int64_t again = start_import(&e, "salesforce_to_hubspot", -1);
    step(&e, again, &res);
    assert_int_equal(res.queued_now, 1800);
    env_close(&e);
}

static void test_hubspot_import_and_cancel(void **state)
{
    struct testdb *db = *state;
    load_hs_records(HS_RECORDS);
    struct env e;
    env_open(&e, db, 200);
    char err[512];
    long long count = 0;
    assert_int_equal(
        import_estimate(&e.app.sync_ctx, &e.target, IMPORT_HS_TO_SF, &count, err, sizeof err),
        IMPORT_CRM_OK);
    assert_int_equal(count, HS_RECORDS);

    int64_t id = start_import(&e, "hubspot_to_salesforce", count);
    long long max_waiting = 0;
    run_to_done(&e, id, 150, &max_waiting);
    assert_int_equal(max_waiting, 200);
    assert_int_equal(q1_ll(db->watch,
                           "SELECT count(DISTINCT record_id) FROM change_events WHERE import_id = "
                           "%" PRId64 " AND source = 'hubspot' AND object_type = '2-3465404'",
                           id),
                     HS_RECORDS);

    /* cancel: the waiting events go, the import stops */
    int64_t second = start_import(&e, "hubspot_to_salesforce", count);
    struct import_step_result res;
    step(&e, second, &res);
    assert_int_equal(res.queued_now, 200);
    PGconn *conn = db_pool_acquire(e.app.pool, 2000, err, sizeof err);
    assert_int_equal(import_store_cancel(conn, second, err, sizeof err), IMPORT_CANCEL_OK);
    assert_int_equal(import_store_cancel(conn, second, err, sizeof err), IMPORT_CANCEL_NOT_ACTIVE);
    assert_int_equal(import_store_cancel(conn, 999999, err, sizeof err), IMPORT_CANCEL_NOT_FOUND);
    db_pool_release(e.app.pool, conn, false);
    assert_int_equal(waiting(&e, second), 0);
    step(&e, second, &res);
    assert_string_equal(res.status, "cancelled");
    assert_int_equal(waiting(&e, second), 0);
    env_close(&e);
}

/* A step under another process's lock does nothing; an import whose mapping is gone fails. */
static void test_lock_and_missing_mapping(void **state)
{
    struct testdb *db = *state;
    load_sf_records(5);
    struct env e;
    env_open(&e, db, 100);
    int64_t id = start_import(&e, "salesforce_to_hubspot", -1);
    q1_ll(db->watch, "SELECT 1 FROM (SELECT pg_advisory_lock(1768779636, %" PRId64 ")) x", id);
    char err[256];
    struct import_step_result res;
    assert_int_equal(import_step(&e.app.sync_ctx, id, &res, err, sizeof err), 0);
    assert_true(res.busy);
    assert_int_equal(waiting(&e, id), 0);
    q1_ll(db->watch, "SELECT 1 FROM (SELECT pg_advisory_unlock(1768779636, %" PRId64 ")) x", id);
    step(&e, id, &res);
    assert_int_equal(res.queued_now, 5);

    q1_ll(db->watch, "WITH d AS (DELETE FROM mappings RETURNING 1) SELECT count(*) FROM d");
    assert_int_equal(import_step(&e.app.sync_ctx, id, &res, err, sizeof err), -1);
    assert_int_equal(q1_ll(db->watch,
                           "SELECT count(*) FROM sync_imports WHERE id = %" PRId64
                           " AND status = 'failed' AND error LIKE '%%no longer exists%%'",
                           id),
                     1);
    env_close(&e);
}

/* The background thread: with SYNKRO_SWEEP_INTERVAL=1 it sweeps the enabled mapping (the records
 * were created a moment ago) and steps a queued import without being asked; stop joins it. */
static void test_sweeper_thread(void **state)
{
    struct testdb *db = *state;
    load_sf_records(5);
    struct env e;
    env_open(&e, db, 100);
    e.cfg.sweep_interval_s = 1;
    int64_t id = start_import(&e, "salesforce_to_hubspot", -1);
    struct sync_sweeper *s = sync_sweeper_start(&e.app.sync_ctx);
    assert_non_null(s);
    long long queued = 0, swept = 0;
    for (int i = 0; i < 100 && (queued < 5 || swept < 5); i++) {
        struct timespec ts = {0, 100 * 1000000L};
        nanosleep(&ts, NULL);
        queued = q1_ll(db->watch, "SELECT queued FROM sync_imports WHERE id = %" PRId64, id);
        swept = q1_ll(db->watch, "SELECT count(*) FROM change_events WHERE idempotency_key LIKE"
                                 " 'sweep:sf:%%'");
    }
    sync_sweeper_stop(s);
    assert_int_equal(queued, 5);
    assert_int_equal(swept, 5);
    env_close(&e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_salesforce_import, test_setup, testdb_teardown),
        cmocka_unit_test_setup_teardown(test_pages_in_whole_batches, test_setup, testdb_teardown),
        cmocka_unit_test_setup_teardown(test_hubspot_import_and_cancel, test_setup,
                                        testdb_teardown),
        cmocka_unit_test_setup_teardown(test_lock_and_missing_mapping, test_setup, testdb_teardown),
        cmocka_unit_test_setup_teardown(test_sweeper_thread, test_setup, testdb_teardown),
    };
    return cmocka_run_group_tests(tests, unit_sim_start, unit_sim_stop);
}
