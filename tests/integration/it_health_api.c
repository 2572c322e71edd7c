/* it_health_api.c: the console's Sync health data end to end (real synkro + crmsim + PostgreSQL):
 * GET /api/mappings/{id}/health and GET /api/budget.
 *
 * One environment (the Widgets mapping of sync_env, enabled) serves every test, in order:
 *   - real syncs and a real failure (crmsim refuses one record's HubSpot write with
 *     VALIDATION_ERROR): they appear in the series' recent buckets with latencies, in the totals,
 *     and the failure under errors with its record;
 *   - events inserted with known times: exact bucket, counts and latency percentiles; events of
 *     another object never count; queue counts and the oldest pending age; a failed event of
 *     another category with its example; conflicts and active imports of the window;
 *   - the budget: HubSpot's two limits, calls of the last hour on both CRMs, Salesforce's daily
 *     allocation from Sforce-Limit-Info, and a 429 (crmsim fault) with its policy;
 *   - 400/404/401 answers, the minutes range boundaries and bucket sizes, hostile query strings. */
#include "sync_env.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#define WAIT_MS 60000
#define BAD     "bad-health-value"

static struct sync_env *env;

static int group_setup(void **state)
{
    (void)state;
    struct sync_env_options o = {.workers = 2};
    env = sync_env_start(&o);
    return env ? 0 : -1;
}

static int group_teardown(void **state)
{
    (void)state;
    return sync_env_stop(env);
}

static json_object *health(const char *query, long *status)
{
    char path[256];
    snprintf(path, sizeof path, "/api/mappings/%lld/health%s", (long long)env->mapping_id, query);
    return sync_api(env, "GET", path, NULL, status);
}

static long long num(json_object *o, const char *key)
{
    json_object *v = sync_get(o, key);
    assert_non_null(v);
    return json_object_get_int64(v);
}

static const char *str(json_object *o, const char *key)
{
    json_object *v = sync_get(o, key);
    return v ? json_object_get_string(v) : NULL;
}

/* Decimal text of the mapping id / an epoch for sync_db_count's parameters (static buffers, one
 * use per call). */
static const char *env_mapping_text(void)
{
    static char buf[24];
    snprintf(buf, sizeof buf, "%lld", (long long)env->mapping_id);
    return buf;
}

static const char *env_epoch_text(long long epoch_s)
{
    static char buf[24];
    snprintf(buf, sizeof buf, "%lld", epoch_s);
    return buf;
}

static json_object *category(json_object *h, const char *name)
{
    json_object *errors = sync_get(h, "errors");
    for (size_t i = 0; errors && i < json_object_array_length(errors); i++) {
        json_object *c = json_object_array_get_idx(errors, i);
        if (strcmp(str(c, "category"), name) == 0)
            return c;
    }
    return NULL;
}

/* ---- real syncs and a real failure ---- */

static bool has_failed(void *ud)
{
    (void)ud;
    return sync_db_count(env, "SELECT count(*) FROM change_events WHERE status = 'failed'",
                         (const char *)NULL) >= 1;
}

static void test_syncs_and_a_failure(void **state)
{
    (void)state;
    for (int k = 0; k < 3; k++) {
        char body[128], sf_id[64], hs_id[64];
        snprintf(body, sizeof body, "{\"Two_Way__c\":\"health-%d\"}", k);
        assert_int_equal(sync_sf_create(env, body, sf_id, sizeof sf_id), 0);
        assert_true(sync_wait_hs_for_sf(env, sf_id, hs_id, sizeof hs_id, WAIT_MS));
    }
    assert_true(sync_wait_quiet(env, WAIT_MS));
    assert_int_equal(sync_fault_add(env, "{\"match\":\"POST /crm/v3/objects\",\"body_contains\":"
                                         "\"" BAD "\",\"status\":400,\"body\":{\"status\":"
                                         "\"error\",\"message\":\"Property values were not valid\","
                                         "\"category\":\"VALIDATION_ERROR\",\"correlationId\":"
                                         "\"sim-health\"}}"),
                     0);
    char bad_id[64];
    assert_int_equal(sync_sf_create(env, "{\"Two_Way__c\":\"" BAD "\"}", bad_id, sizeof bad_id), 0);
    assert_true(harness_wait_until(has_failed, NULL, WAIT_MS));
    sync_faults_clear(env);

    long st = 0;
    json_object *h = health("", &st);
    assert_int_equal(st, 200);
    json_object *m = sync_get(h, "mapping");
    assert_int_equal(num(m, "id"), env->mapping_id);
    assert_string_equal(str(m, "state"), "enabled");
    assert_non_null(str(m, "name"));
    json_object *w = sync_get(h, "window");
    assert_int_equal(num(w, "bucket_s"), 60);
    assert_non_null(str(w, "from"));
    assert_non_null(str(w, "to"));
    json_object *series = sync_get(h, "series");
    assert_int_equal(json_object_array_length(series), 60);
    long long synced = 0, failed = 0;
    /* everything happened within the last few minutes: the last buckets */
    for (size_t i = 0; i < 60; i++) {
        json_object *b = json_object_array_get_idx(series, i);
        long long s = num(b, "synced"), f = num(b, "failed");
        synced += s;
        failed += f;
        if (i < 55)
            assert_int_equal(s + f, 0);
        json_object *p50 = sync_get(b, "latency_p50_ms"), *p95 = sync_get(b, "latency_p95_ms");
        if (s + f == 0) {
            assert_null(p50);
            assert_null(p95);
        } else {
            assert_non_null(p50);
            assert_true(json_object_get_int64(p50) >= 0);
            assert_true(json_object_get_int64(p50) <= json_object_get_int64(p95));
        }
    }
    assert_true(synced >= 3);
    assert_int_equal(failed, 1);
    json_object *totals = sync_get(h, "totals");
    assert_int_equal(num(totals, "synced"), synced);
    assert_int_equal(num(totals, "failed"), 1);
    json_object *queue = sync_get(h, "queue");
    assert_int_equal(num(queue, "failed"), 1);
    json_object *c = category(h, "validation");
    assert_non_null(c);
    assert_int_equal(num(c, "count"), 1);
    json_object *ex = json_object_array_get_idx(sync_get(c, "examples"), 0);
    assert_non_null(ex);
    assert_string_equal(str(ex, "record_id"), bad_id);
    assert_true(num(ex, "event_id") > 0);
    assert_non_null(str(ex, "last_error"));
    assert_non_null(str(ex, "finished_at"));
    json_object_put(h);
}

/* ---- events with known times ---- */

/* "" stands for NULL in finished, category and last_error (sync_db_count's list ends at NULL). */
static void insert_event(const char *key, const char *source, const char *object_type,
                         const char *status, const char *received, const char *finished,
                         const char *category, const char *last_error)
{
    long long n = sync_db_count(
        env,
        "WITH i AS (INSERT INTO change_events (source, idempotency_key, object_type, record_id,"
        " kind, received_at, status, next_attempt_at, payload, finished_at, error_category,"
        " last_error, lease_owner, lease_until)"
        " VALUES ($2, $1, $3, 'rec-' || $1, 'update', to_timestamp($5::float8), $4,"
        "  now() + interval '1 day', '{}', to_timestamp(NULLIF($6, '')::float8), NULLIF($7, ''), "
        "NULLIF($8, ''),"
        "  CASE WHEN $4 = 'processing' THEN 'it-health' END,"
        "  CASE WHEN $4 = 'processing' THEN now() + interval '1 day' END) RETURNING 1)"
        " SELECT count(*) FROM i",
        key, source, object_type, status, received, finished, category, last_error,
        (const char *)NULL);
    assert_int_equal(n, 1);
}

static void iso_of(long long epoch_s, char *out, size_t len)
{
    time_t t = (time_t)epoch_s;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, len, "%Y-%m-%dT%H:%M:%S.000Z", &tm);
}

static void test_known_buckets_queue_and_errors(void **state)
{
    (void)state;
    assert_true(sync_wait_quiet(env, WAIT_MS)); /* no real event left pending or processing */
    /* the start of the minute ten minutes ago */
    long long e =
        sync_db_count(env, "SELECT (floor(date_part('epoch', now()) / 60) * 60 - 600)::bigint",
                      (const char *)NULL);
    assert_true(e > 0);
    char fin[32], rcv[32], fin2[32], rcv2[32], old[32], young[32];
    snprintf(fin, sizeof fin, "%lld.5", e + 30);
    /* latencies 100, 200 and 1000 ms, finished in that bucket; one Salesforce object spelled in
     * lower case, one HubSpot event of the mapping's type */
    snprintf(rcv, sizeof rcv, "%lld.4", e + 30);
    insert_event("it-h-1", "salesforce", SYNC_SF_OBJECT, "done", rcv, fin, "", "");
    snprintf(rcv, sizeof rcv, "%lld.3", e + 30);
    insert_event("it-h-2", "salesforce", "widget__c", "done", rcv, fin, "", "");
    snprintf(rcv, sizeof rcv, "%lld.5", e + 29);
    insert_event("it-h-3", "hubspot", SYNC_HS_TYPE, "done", rcv, fin, "", "");
    /* not this mapping's: another object, and the HubSpot type id sent as Salesforce */
    insert_event("it-h-4", "salesforce", "Other__c", "done", rcv, fin, "", "");
    insert_event("it-h-5", "salesforce", SYNC_HS_TYPE, "failed", rcv, fin, "validation", "x");
    /* a failure of another category five minutes earlier */
    snprintf(fin2, sizeof fin2, "%lld", e - 290);
    snprintf(rcv2, sizeof rcv2, "%lld", e - 300);
    insert_event("it-h-6", "hubspot", SYNC_HS_TYPE, "failed", rcv2, fin2, "duplicate",
                 "duplicate record");
    /* the queue: two pending (one received an hour ago), one processing */
    long long now_s =
        sync_db_count(env, "SELECT floor(date_part('epoch', now()))::bigint", (const char *)NULL);
    snprintf(old, sizeof old, "%lld", now_s - 3600);
    snprintf(young, sizeof young, "%lld", now_s - 100);
    insert_event("it-h-7", "salesforce", SYNC_SF_OBJECT, "pending", old, "", "", "");
    insert_event("it-h-8", "hubspot", SYNC_HS_TYPE, "pending", young, "", "", "");
    insert_event("it-h-9", "hubspot", SYNC_HS_TYPE, "processing", young, "", "", "");
    insert_event("it-h-10", "salesforce", "Other__c", "pending", old, "", "", "");
    /* conflicts: one now, one before the window, one of another mapping */
    char mid[24];
    snprintf(mid, sizeof mid, "%lld", (long long)env->mapping_id);
    assert_int_equal(
        sync_db_count(env,
                      "WITH i AS (INSERT INTO sync_conflicts (mapping_id, salesforce_field,"
                      " hubspot_property, winner, reason, occurred_at) VALUES"
                      " ($1::bigint, 'A', 'a', 'hubspot', 'conflict_winner', now()),"
                      " ($1::bigint, 'A', 'a', 'hubspot', 'conflict_winner', now() - interval"
                      " '2 hours'), ($1::bigint + 1000, 'A', 'a', 'hubspot', 'conflict_winner',"
                      " now()) RETURNING 1) SELECT count(*) FROM i",
                      mid, (const char *)NULL),
        3);
    /* an import of another mapping does not count; one of this mapping does */
    assert_int_equal(sync_db_count(env,
                                   "WITH i AS (INSERT INTO sync_imports (mapping_id, direction,"
                                   " status) VALUES ($1::bigint + 1000, 'salesforce_to_hubspot',"
                                   " 'running') RETURNING 1) SELECT count(*) FROM i",
                                   mid, (const char *)NULL),
                     1);

    long st = 0;
    json_object *h = health("?minutes=60", &st);
    assert_int_equal(st, 200);
    char want[40];
    iso_of(e, want, sizeof want);
    json_object *series = sync_get(h, "series"), *bucket = NULL;
    for (size_t i = 0; i < json_object_array_length(series); i++)
        if (strcmp(str(json_object_array_get_idx(series, i), "t"), want) == 0)
            bucket = json_object_array_get_idx(series, i);
    assert_non_null(bucket);
    assert_int_equal(num(bucket, "synced"), 3);
    assert_int_equal(num(bucket, "failed"), 0);
    assert_int_equal(num(bucket, "latency_p50_ms"), 200);
    assert_int_equal(num(bucket, "latency_p95_ms"), 920); /* 200 + 0.9 * 800, interpolated */
    iso_of(e - 300, want, sizeof want);
    for (size_t i = 0; i < json_object_array_length(series); i++) {
        json_object *b = json_object_array_get_idx(series, i);
        if (strcmp(str(b, "t"), want) == 0) {
            assert_int_equal(num(b, "failed"), 1);
            assert_int_equal(num(b, "latency_p50_ms"), 10000);
        }
    }
    json_object *totals = sync_get(h, "totals");
    assert_int_equal(num(totals, "failed"), 2);
    assert_int_equal(num(totals, "conflicts"), 1);
    json_object *queue = sync_get(h, "queue");
    assert_int_equal(num(queue, "pending"), 2);
    assert_int_equal(num(queue, "processing"), 1);
    assert_int_equal(num(queue, "held"), 0);
    assert_int_equal(num(queue, "failed"), 2);
    double age = json_object_get_double(sync_get(queue, "oldest_pending_age_s"));
    assert_true(age >= 3600 && age < 3600 + 120);
    json_object *dup = category(h, "duplicate");
    assert_non_null(dup);
    assert_int_equal(num(dup, "count"), 1);
    json_object *ex = json_object_array_get_idx(sync_get(dup, "examples"), 0);
    assert_string_equal(str(ex, "record_id"), "rec-it-h-6");
    assert_string_equal(str(ex, "last_error"), "duplicate record");
    assert_int_equal(num(category(h, "validation"), "count"), 1); /* it-h-5 is not this mapping's */
    assert_int_equal(num(sync_get(h, "imports"), "active"), 0);
    json_object_put(h);

    /* an active import of this mapping, inserted last: the reconciliation thread may step it,
     * but it stays queued or running for longer than this one request */
    assert_int_equal(sync_db_count(env,
                                   "WITH i AS (INSERT INTO sync_imports (mapping_id, direction,"
                                   " status) VALUES ($1::bigint, 'salesforce_to_hubspot',"
                                   " 'queued') RETURNING 1) SELECT count(*) FROM i",
                                   mid, (const char *)NULL),
                     1);
    h = health("?minutes=5", &st);
    assert_int_equal(st, 200);
    assert_int_equal(num(sync_get(h, "imports"), "active"), 1);
    json_object_put(h);
}

/* ---- long windows: migration 0014's rollup ---- */

static bool rollup_rebuilt(void *ud)
{
    (void)ud;
    return sync_db_count(env,
                         "SELECT count(*) FROM health_rollup_state"
                         " WHERE rolled_to > now() - interval '10 minutes'",
                         (const char *)NULL) == 1;
}

static json_object *bucket_at(json_object *h, long long epoch_s)
{
    char want[40];
    iso_of(epoch_s, want, sizeof want);
    json_object *series = sync_get(h, "series");
    for (size_t i = 0; i < json_object_array_length(series); i++)
        if (strcmp(str(json_object_array_get_idx(series, i), "t"), want) == 0)
            return json_object_array_get_idx(series, i);
    return NULL;
}

/* Every done/failed event of the mapping finished since the window's start, counted from the
 * events themselves. */
static long long events_since(const char *status, const char *from)
{
    return sync_db_count(env,
                         "SELECT count(*) FROM change_events e, mappings m WHERE m.id = $3::bigint"
                         " AND e.status = $1 AND e.finished_at >= $2::timestamptz AND"
                         " ((e.source = 'salesforce' AND lower(e.object_type) ="
                         " lower(m.salesforce_object)) OR (e.source = 'hubspot' AND"
                         " lower(e.object_type) = lower(m.hubspot_object_type_id)))",
                         status, from, env_mapping_text(), (const char *)NULL);
}

static void test_long_windows_read_the_rollup(void **state)
{
    (void)state;
    /* five hours ago, on a 15-minute boundary: three done events (100, 200, 1000 ms) in its
     * first five minutes, one failed (10 s) in the next five */
    long long e = sync_db_count(
        env, "SELECT (floor(date_part('epoch', now()) / 900) * 900 - 5 * 3600)::bigint",
        (const char *)NULL);
    char rcv[32], fin[32];
    snprintf(fin, sizeof fin, "%lld.5", e + 30);
    snprintf(rcv, sizeof rcv, "%lld.4", e + 30);
    insert_event("it-r-1", "salesforce", SYNC_SF_OBJECT, "done", rcv, fin, "", "");
    snprintf(rcv, sizeof rcv, "%lld.3", e + 30);
    insert_event("it-r-2", "hubspot", SYNC_HS_TYPE, "done", rcv, fin, "", "");
    snprintf(rcv, sizeof rcv, "%lld.5", e + 29);
    insert_event("it-r-3", "salesforce", SYNC_SF_OBJECT, "done", rcv, fin, "", "");
    insert_event("it-r-4", "salesforce", "Other__c", "done", rcv, fin, "", ""); /* not ours */
    snprintf(fin, sizeof fin, "%lld", e + 400);
    snprintf(rcv, sizeof rcv, "%lld", e + 390);
    insert_event("it-r-5", "hubspot", SYNC_HS_TYPE, "failed", rcv, fin, "validation", "x");
    /* events settled in the past are only rolled up again from before the watermark: move it
     * back to 15 minutes after their period (a step recomputes from 15 minutes before it) and
     * wait for the janitor to catch up. Not NULL, as bench/console_data does after its fill:
     * from NULL a step takes the oldest event from its range statement's snapshot, which can
     * predate the inserts above when the statement waited for the row lock this UPDATE holds
     * (a clean-clone run found no rows here) */
    assert_int_equal(sync_db_count(env,
                                   "WITH u AS (UPDATE health_rollup_state SET rolled_to ="
                                   " to_timestamp($1::float8 + 900) RETURNING 1)"
                                   " SELECT count(*) FROM u",
                                   env_epoch_text(e), (const char *)NULL),
                     1);
    assert_true(harness_wait_until(rollup_rebuilt, NULL, 90000));
    assert_true(sync_db_count(env,
                              "SELECT count(*) FROM health_periods WHERE period ="
                              " to_timestamp($1::float8)",
                              env_epoch_text(e), (const char *)NULL) >= 2);

    long st = 0;
    json_object *h = health("?minutes=1440", &st);
    assert_int_equal(st, 200);
    assert_int_equal(num(sync_get(h, "window"), "bucket_s"), 900);
    json_object *b = bucket_at(h, e);
    assert_non_null(b);
    assert_int_equal(num(b, "synced"), 3);
    assert_int_equal(num(b, "failed"), 1);
    /* within the latency bin of the exact rank: 200 ms in [198.8, 216.8), 10 s in [9741, 10624) */
    assert_in_range(num(b, "latency_p50_ms"), 198, 217);
    assert_in_range(num(b, "latency_p95_ms"), 9741, 10624);
    /* the periods before the watermark and the events after it: every event once */
    const char *from = str(sync_get(h, "window"), "from");
    json_object *totals = sync_get(h, "totals");
    assert_int_equal(num(totals, "synced"), events_since("done", from));
    assert_int_equal(num(totals, "failed"), events_since("failed", from));
    json_object_put(h);

    h = health("?minutes=600", &st); /* 300 s buckets */
    assert_int_equal(st, 200);
    b = bucket_at(h, e);
    assert_non_null(b);
    assert_int_equal(num(b, "synced"), 3);
    assert_int_equal(num(b, "failed"), 0);
    assert_in_range(num(b, "latency_p50_ms"), 198, 217);
    b = bucket_at(h, e + 300);
    assert_non_null(b);
    assert_int_equal(num(b, "failed"), 1);
    assert_in_range(num(b, "latency_p50_ms"), 9741, 10624);
    json_object_put(h);
}

/* ---- the budget ---- */

static bool budget_has_429(void *ud)
{
    (void)ud;
    json_object *b = sync_api(env, "GET", "/api/budget", NULL, NULL);
    bool yes = b && num(sync_get(b, "hubspot"), "rate_limited_last_hour") >= 1;
    json_object_put(b);
    return yes;
}

static void test_budget(void **state)
{
    (void)state;
    long st = 0;
    json_object *b = sync_api(env, "GET", "/api/budget", NULL, &st);
    assert_int_equal(st, 200);
    json_object *hs = sync_get(b, "hubspot"), *sf = sync_get(b, "salesforce");
    assert_true(json_object_get_boolean(sync_get(hs, "configured")));
    json_object *limits = sync_get(hs, "limits");
    assert_int_equal(json_object_array_length(limits), 2);
    json_object *burst = json_object_array_get_idx(limits, 0);
    assert_string_equal(str(burst, "name"), "burst");
    assert_int_equal(num(burst, "interval_s"), 10);
    assert_true(num(burst, "capacity") > 0);
    assert_true(num(burst, "available") >= 0 && num(burst, "available") <= num(burst, "capacity"));
    json_object *search = json_object_array_get_idx(limits, 1);
    assert_string_equal(str(search, "name"), "search");
    assert_int_equal(num(search, "interval_s"), 1);
    assert_true(num(hs, "calls_last_hour") >= 3);
    assert_true(num(sf, "calls_last_hour") >= 1);
    assert_int_equal(json_object_array_length(sync_get(hs, "recent_429")), 0);
    json_object *daily = sync_get(sf, "daily_api_requests");
    assert_non_null(daily);
    assert_true(num(daily, "max") > 0);
    assert_true(num(daily, "remaining") >= 0 && num(daily, "remaining") <= num(daily, "max"));
    json_object_put(b);

    /* one 429 from HubSpot, then a sync that meets it */
    assert_int_equal(sync_fault_add(env, "{\"match\":\"* /crm\",\"count\":1,\"status\":429,"
                                         "\"body\":{\"status\":\"error\",\"message\":\"You have "
                                         "reached your ten_secondly_rolling limit.\",\"errorType\":"
                                         "\"RATE_LIMIT\",\"correlationId\":\"sim-429\","
                                         "\"policyName\":\"TEN_SECONDLY_ROLLING\"}}"),
                     0);
    char sf_id[64], hs_id[64];
    assert_int_equal(sync_sf_create(env, "{\"Two_Way__c\":\"after-429\"}", sf_id, sizeof sf_id), 0);
    assert_true(harness_wait_until(budget_has_429, NULL, WAIT_MS));
    assert_true(sync_wait_hs_for_sf(env, sf_id, hs_id, sizeof hs_id, WAIT_MS));
    b = sync_api(env, "GET", "/api/budget", NULL, &st);
    json_object *recent = sync_get(sync_get(b, "hubspot"), "recent_429");
    assert_int_equal(json_object_array_length(recent), 1);
    json_object *r = json_object_array_get_idx(recent, 0);
    assert_string_equal(str(r, "policy"), "TEN_SECONDLY_ROLLING");
    assert_true(json_object_get_double(sync_get(r, "retry_after_s")) > 0);
    const char *at = str(r, "at");
    assert_non_null(at);
    assert_int_equal(strlen(at), 24); /* YYYY-MM-DDThh:mm:ss.mmmZ */
    assert_int_equal(at[23], 'Z');
    json_object_put(b);
}

/* ---- refusals and boundaries ---- */

static long status_of(const char *path)
{
    long st = 0;
    json_object_put(sync_api(env, "GET", path, NULL, &st));
    return st;
}

static void test_bad_requests_and_boundaries(void **state)
{
    (void)state;
    static const struct {
        const char *query;
        long status;
        int buckets, bucket_s;
    } cases[] = {
        {"?minutes=5", 200, 5, 60},
        {"?minutes=180", 200, 180, 60},
        {"?minutes=181", 200, 37, 300},
        {"?minutes=1000", 200, 200, 300},
        {"?minutes=1001", 200, 67, 900},
        {"?minutes=1440", 200, 96, 900},
        {"?minutes=60&foo=bar", 200, 60, 60},
        {"?minutes=4", 400, 0, 0},
        {"?minutes=1441", 400, 0, 0},
        {"?minutes=0", 400, 0, 0},
        {"?minutes=-60", 400, 0, 0},
        {"?minutes=", 400, 0, 0},
        {"?minutes=60abc", 400, 0, 0},
        {"?minutes=1e3", 400, 0, 0},
        {"?minutes=%2060", 400, 0, 0},
        {"?minutes=%2B60", 400, 0, 0},
        {"?minutes=99999999999999999999999", 400, 0, 0},
        {"?minutes=60%27%3B%20DROP%20TABLE%20change_events%3B--", 400, 0, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        long st = 0;
        json_object *h = health(cases[i].query, &st);
        if (st != cases[i].status)
            fail_msg("%s answered %ld, expected %ld", cases[i].query, st, cases[i].status);
        if (st == 200) {
            assert_int_equal(json_object_array_length(sync_get(h, "series")), cases[i].buckets);
            assert_int_equal(num(sync_get(h, "window"), "bucket_s"), cases[i].bucket_s);
        } else {
            const char *msg = str(sync_get(h, "error"), "message");
            assert_non_null(msg);
            assert_non_null(strstr(msg, "from 5 to 1440"));
        }
        json_object_put(h);
    }
    assert_int_equal(status_of("/api/mappings/999999/health"), 404);
    assert_int_equal(status_of("/api/mappings/0/health"), 400);
    assert_int_equal(status_of("/api/mappings/abc/health"), 400);
    assert_int_equal(status_of("/api/mappings/1%3BDROP/health"), 400);
    assert_int_equal(status_of("/api/mappings/99999999999999999999999/health"), 400);
    assert_true(sync_db_count(env, "SELECT count(*) FROM change_events", (const char *)NULL) > 0);
    /* no admin token */
    char url[512];
    snprintf(url, sizeof url, "%s/api/budget", env->procs[0].base_url);
    struct harness_response r;
    assert_int_equal(harness_http("GET", url, NULL, NULL, 0, &r), 0);
    assert_int_equal(r.status, 401);
    harness_response_free(&r);
    snprintf(url, sizeof url, "%s/api/mappings/%lld/health", env->procs[0].base_url,
             (long long)env->mapping_id);
    assert_int_equal(harness_http("GET", url, NULL, NULL, 0, &r), 0);
    assert_int_equal(r.status, 401);
    harness_response_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_syncs_and_a_failure),
        cmocka_unit_test(test_known_buckets_queue_and_errors),
        cmocka_unit_test(test_long_windows_read_the_rollup),
        cmocka_unit_test(test_budget),
        cmocka_unit_test(test_bad_requests_and_boundaries),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
