/* it_errors.c: the admin errors API end to end through HTTP against real PostgreSQL: events
 * failed by db/queue_claim's queue_fail grouped by category (counts, ordering, newest examples,
 * total), one event requeued (then pending and claimable again), 404/409/400 answers, requeueing
 * by category and of everything (in batches), and 401 without the admin token. */
#include "harness.h"

#include "db/queue_claim.h"

#include <inttypes.h>
#include <json-c/json.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define ADMIN  "admin-token-0123456789abcdef"
#define WORKER "it-errors:1"

struct fixture {
    struct harness_db db;
    struct harness_proc proc;
};

static const char *const base_env[] = {"SALESFORCE_ORG_ID=00D5g000004Sbsb",
                                       "SYNKRO_SF_ENDPOINT_TOKEN=sf-endpoint-token-0123456789",
                                       "HUBSPOT_CLIENT_SECRET=hs-secret-abcdef-0123456789",
                                       "HUBSPOT_PORTAL_ID=62515", "SYNKRO_ADMIN_TOKEN=" ADMIN,
                                       /* the test claims and fails the events itself */
                                       "SYNKRO_WORKERS=0", NULL};

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

static json_object *request(struct fixture *f, const char *method, const char *path,
                            const char *token, long *status)
{
    char url[512], auth[128];
    snprintf(url, sizeof url, "%s%s", f->proc.base_url, path);
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", token ? token : "");
    const char *h[] = {auth, NULL};
    struct harness_response r;
    assert_int_equal(harness_http(method, url, token ? h : NULL, NULL, 0, &r), 0);
    *status = r.status;
    json_object *o = json_tokener_parse(r.body);
    harness_response_free(&r);
    return o;
}

static json_object *get_ok(struct fixture *f, const char *path)
{
    long status;
    json_object *o = request(f, "GET", path, ADMIN, &status);
    assert_int_equal(status, 200);
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

static long scalar_long(struct fixture *f, const char *sql)
{
    char *v = harness_db_scalar(&f->db, sql);
    assert_non_null(v);
    long n = atol(v);
    free(v);
    return n;
}

static void exec_ok(PGconn *conn, const char *sql)
{
    PGresult *res = PQexec(conn, sql);
    if (PQresultStatus(res) != PGRES_COMMAND_OK)
        fail_msg("%s: %s", sql, PQerrorMessage(conn));
    PQclear(res);
}

/* Stores events for records r1..r9 (one each) as claimed by WORKER (inserted straight as
 * 'processing' under its lease: a claim would race the running synkro's janitor, which moves
 * pending events of unmapped objects to 'unmapped'), fails r1..r4 as validation, r5..r6 as
 * duplicate, r7 as permission (one queue_fail each, in this order, with the message "crm says
 * rN") and completes r8 and r9. ids[i] is record r(i+1)'s event id. */
static void make_failures(struct fixture *f, PGconn *conn, int64_t ids[9])
{
    /* an enabled mapping covers object 0-1, so the janitor's reclassify job (every 5 s) keeps
     * a retried event pending instead of turning it into 'unmapped' under the test */
    PGresult *m = PQexec(conn, "INSERT INTO mappings (name, state, salesforce_object,"
                               " hubspot_object, hubspot_object_type_id, document)"
                               " VALUES ('it-errors', 'enabled', 'Contact', 'contacts', '0-1',"
                               " '{}'::jsonb)");
    if (PQresultStatus(m) != PGRES_COMMAND_OK)
        fail_msg("inserting the mapping: %s", PQerrorMessage(conn));
    PQclear(m);
    PGresult *res = PQexec(conn, "INSERT INTO change_events (source, idempotency_key, object_type,"
                                 " record_id, kind, status, lease_owner, lease_until, payload)"
                                 " SELECT 'hubspot', 'hs:it-errors:' || i, '0-1', 'r' || i,"
                                 " 'update', 'processing', '" WORKER "',"
                                 " now() + interval '10 minutes', '{}'::jsonb"
                                 " FROM generate_series(1, 9) AS i RETURNING id, record_id");
    if (PQresultStatus(res) != PGRES_TUPLES_OK)
        fail_msg("inserting events: %s", PQerrorMessage(conn));
    assert_int_equal(PQntuples(res), 9);
    for (int i = 0; i < 9; i++) {
        int k = atoi(PQgetvalue(res, i, 1) + 1);
        assert_true(k >= 1 && k <= 9);
        ids[k - 1] = strtoll(PQgetvalue(res, i, 0), NULL, 10);
    }
    PQclear(res);
    char err[256];
    for (int k = 1; k <= 7; k++) {
        enum queue_error_category c = k <= 4   ? QUEUE_ERR_VALIDATION
                                      : k <= 6 ? QUEUE_ERR_DUPLICATE
                                               : QUEUE_ERR_PERMISSION;
        char msg[64];
        snprintf(msg, sizeof msg, "crm says r%d", k);
        long changed = 0;
        assert_int_equal(
            queue_fail(conn, WORKER, &ids[k - 1], 1, c, msg, &changed, err, sizeof err), 0);
        assert_int_equal(changed, 1);
    }
    long changed = 0;
    assert_int_equal(queue_complete(conn, WORKER, &ids[7], 2, &changed, err, sizeof err), 0);
    assert_int_equal(changed, 2);
    (void)f;
}

static void check_category(json_object *cat, const char *name, int64_t count, size_t nexamples)
{
    assert_string_equal(json_object_get_string(field(cat, "category")), name);
    assert_int_equal(json_object_get_int64(field(cat, "count")), count);
    assert_non_null(field(cat, "oldest"));
    assert_non_null(field(cat, "newest"));
    assert_true(strcmp(json_object_get_string(field(cat, "oldest")),
                       json_object_get_string(field(cat, "newest"))) <= 0);
    assert_int_equal(json_object_array_length(field(cat, "examples")), nexamples);
}

static void test_summary(void **state)
{
    struct fixture *f = *state;
    PGconn *conn = harness_db_connect(&f->db);
    int64_t ids[9];
    make_failures(f, conn, ids);

    json_object *o = get_ok(f, "/api/errors");
    assert_int_equal(json_object_get_int64(field(o, "total")), 7);
    json_object *cats = field(o, "categories");
    assert_int_equal(json_object_array_length(cats), 3);
    check_category(json_object_array_get_idx(cats, 0), "validation", 4, 3);
    check_category(json_object_array_get_idx(cats, 1), "duplicate", 2, 2);
    check_category(json_object_array_get_idx(cats, 2), "permission", 1, 1);
    /* the newest examples first: r4, r3, r2 */
    json_object *ex = field(json_object_array_get_idx(cats, 0), "examples");
    for (int i = 0; i < 3; i++) {
        json_object *e = json_object_array_get_idx(ex, (size_t)i);
        char rec[8], msg[32];
        snprintf(rec, sizeof rec, "r%d", 4 - i);
        snprintf(msg, sizeof msg, "crm says r%d", 4 - i);
        assert_int_equal(json_object_get_int64(field(e, "id")), ids[3 - i]);
        assert_string_equal(json_object_get_string(field(e, "source")), "hubspot");
        assert_string_equal(json_object_get_string(field(e, "object_type")), "0-1");
        assert_string_equal(json_object_get_string(field(e, "record_id")), rec);
        assert_string_equal(json_object_get_string(field(e, "last_error")), msg);
        assert_non_null(json_object_get_string(field(e, "finished_at")));
    }
    json_object_put(o);

    o = get_ok(f, "/api/errors?examples=0");
    cats = field(o, "categories");
    assert_int_equal(json_object_array_length(cats), 3);
    check_category(json_object_array_get_idx(cats, 0), "validation", 4, 0);
    json_object_put(o);
    o = get_ok(f, "/api/errors?examples=20");
    check_category(json_object_array_get_idx(field(o, "categories"), 0), "validation", 4, 4);
    json_object_put(o);

    const char *bad[] = {"/api/errors?examples=21", "/api/errors?examples=-1",
                         "/api/errors?examples=abc", "/api/errors?examples="};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        long status;
        o = request(f, "GET", bad[i], ADMIN, &status);
        assert_int_equal(status, 400);
        json_object_put(o);
    }
    PQfinish(conn);
}

static void test_retry_one(void **state)
{
    struct fixture *f = *state;
    PGconn *conn = harness_db_connect(&f->db);
    int64_t ids[9];
    make_failures(f, conn, ids);

    char path[128];
    long status;
    snprintf(path, sizeof path, "/api/events/%" PRId64 "/retry", ids[6]);
    json_object *o = request(f, "POST", path, ADMIN, &status);
    assert_int_equal(status, 200);
    assert_int_equal(json_object_get_int64(field(o, "id")), ids[6]);
    assert_string_equal(json_object_get_string(field(o, "status")), "pending");
    assert_int_equal(json_object_get_int(field(o, "attempts")), 0);
    assert_string_equal(json_object_get_string(field(o, "last_error")), "crm says r7");
    json_object_put(o);
    char sql[256];
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM change_events WHERE id = %" PRId64
             " AND status = 'pending' AND error_category IS NULL AND finished_at IS NULL"
             " AND lease_owner IS NULL AND lease_until IS NULL AND next_attempt_at <= now()",
             ids[6]);
    assert_int_equal(scalar_long(f, sql), 1);

    /* the summary no longer counts it */
    o = get_ok(f, "/api/errors");
    assert_int_equal(json_object_get_int64(field(o, "total")), 6);
    assert_int_equal(json_object_array_length(field(o, "categories")), 2);
    json_object_put(o);

    /* a second retry: the event is pending now, not failed */
    o = request(f, "POST", path, ADMIN, &status);
    assert_int_equal(status, 409);
    assert_string_equal(json_object_get_string(field(field(o, "error"), "code")), "not_failed");
    json_object_put(o);

    /* it is claimable again, alone */
    struct claimed_record *recs = NULL;
    size_t n = 0;
    char err[256];
    assert_int_equal(queue_claim_records(conn, WORKER, 20, 60000, &recs, &n, err, sizeof err), 0);
    assert_int_equal(n, 1);
    assert_string_equal(recs[0].record_id, "r7");
    assert_int_equal(recs[0].ids[0], ids[6]);
    assert_int_equal(recs[0].events[0].attempts, 0);
    queue_claimed_free(recs, n);

    /* a done event is not failed either */
    snprintf(path, sizeof path, "/api/events/%" PRId64 "/retry", ids[7]);
    o = request(f, "POST", path, ADMIN, &status);
    assert_int_equal(status, 409);
    json_object_put(o);
    o = request(f, "POST", "/api/events/999999/retry", ADMIN, &status);
    assert_int_equal(status, 404);
    json_object_put(o);
    o = request(f, "POST", "/api/events/abc/retry", ADMIN, &status);
    assert_int_equal(status, 400);
    json_object_put(o);
    o = request(f, "POST", "/api/events/0/retry", ADMIN, &status);
    assert_int_equal(status, 400);
    json_object_put(o);
    PQfinish(conn);
}

static void test_retry_category(void **state)
{
    struct fixture *f = *state;
    PGconn *conn = harness_db_connect(&f->db);
    int64_t ids[9];
    make_failures(f, conn, ids);

    long status;
    json_object *o = request(f, "POST", "/api/errors/retry?category=bogus", ADMIN, &status);
    assert_int_equal(status, 400);
    json_object_put(o);
    o = request(f, "POST", "/api/errors/retry?category=", ADMIN, &status);
    assert_int_equal(status, 400);
    json_object_put(o);
    assert_int_equal(scalar_long(f, "SELECT count(*) FROM change_events WHERE status = 'failed'"),
                     7);

    o = request(f, "POST", "/api/errors/retry?category=duplicate", ADMIN, &status);
    assert_int_equal(status, 200);
    assert_int_equal(json_object_get_int64(field(o, "requeued")), 2);
    json_object_put(o);
    assert_int_equal(scalar_long(f, "SELECT count(*) FROM change_events WHERE status = 'pending'"
                                    " AND attempts = 0 AND record_id IN ('r5', 'r6')"),
                     2);
    o = request(f, "POST", "/api/errors/retry?category=not_found", ADMIN, &status);
    assert_int_equal(status, 200);
    assert_int_equal(json_object_get_int64(field(o, "requeued")), 0);
    json_object_put(o);
    o = get_ok(f, "/api/errors");
    assert_int_equal(json_object_get_int64(field(o, "total")), 5);
    json_object *cats = field(o, "categories");
    assert_int_equal(json_object_array_length(cats), 2);
    check_category(json_object_array_get_idx(cats, 0), "validation", 4, 3);
    check_category(json_object_array_get_idx(cats, 1), "permission", 1, 1);
    json_object_put(o);

    /* more failures than one batch, then everything at once */
    exec_ok(conn, "INSERT INTO change_events (source, idempotency_key, object_type, record_id,"
                  " kind, status, payload, finished_at, error_category, last_error, attempts)"
                  " SELECT 'salesforce', 'sf:it-errors:' || i, 'Project__c', 'b' || i, 'update',"
                  " 'failed', '{}'::jsonb, now(), 'conversion', 'bad date', 3"
                  " FROM generate_series(1, 1203) AS i");
    o = get_ok(f, "/api/errors?examples=1");
    assert_int_equal(json_object_get_int64(field(o, "total")), 1208);
    check_category(json_object_array_get_idx(field(o, "categories"), 0), "conversion", 1203, 1);
    json_object_put(o);
    o = request(f, "POST", "/api/errors/retry", ADMIN, &status);
    assert_int_equal(status, 200);
    assert_int_equal(json_object_get_int64(field(o, "requeued")), 1208);
    json_object_put(o);
    assert_int_equal(scalar_long(f, "SELECT count(*) FROM change_events WHERE status = 'failed'"),
                     0);
    assert_int_equal(scalar_long(f, "SELECT count(*) FROM change_events WHERE status = 'pending'"
                                    " AND attempts = 0 AND error_category IS NULL"
                                    " AND finished_at IS NULL AND last_error IS NOT NULL"),
                     1210);
    o = get_ok(f, "/api/errors");
    assert_int_equal(json_object_get_int64(field(o, "total")), 0);
    assert_int_equal(json_object_array_length(field(o, "categories")), 0);
    json_object_put(o);
    PQfinish(conn);
}

static void test_needs_admin_token(void **state)
{
    struct fixture *f = *state;
    PGconn *conn = harness_db_connect(&f->db);
    int64_t ids[9];
    make_failures(f, conn, ids);
    char path[128];
    snprintf(path, sizeof path, "/api/events/%" PRId64 "/retry", ids[0]);
    const struct {
        const char *method, *path;
    } calls[] = {{"GET", "/api/errors"}, {"POST", path}, {"POST", "/api/errors/retry"}};
    for (size_t i = 0; i < sizeof calls / sizeof calls[0]; i++) {
        long status;
        json_object *o = request(f, calls[i].method, calls[i].path, NULL, &status);
        assert_int_equal(status, 401);
        json_object_put(o);
        o = request(f, calls[i].method, calls[i].path, "wrong-token-0123456789", &status);
        assert_int_equal(status, 401);
        json_object_put(o);
    }
    assert_int_equal(scalar_long(f, "SELECT count(*) FROM change_events WHERE status = 'failed'"),
                     7);
    PQfinish(conn);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_summary, setup, teardown),
        cmocka_unit_test_setup_teardown(test_retry_one, setup, teardown),
        cmocka_unit_test_setup_teardown(test_retry_category, setup, teardown),
        cmocka_unit_test_setup_teardown(test_needs_admin_token, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
