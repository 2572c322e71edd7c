/* test_queue_claim.c: db/queue_claim against a real, migrated PostgreSQL: coalescing in order of
 * occurrence, 8 concurrent claimers never sharing a record, per-record order across claims under
 * load, leases (a leased record is not claimed; expired leases come back; a worker whose lease
 * was taken over cannot settle), retry with back-off bounds, failure categories, statuses that
 * are never claimed, pruning in batches, and claim latency with a million done rows (printed,
 * not asserted; the plan is asserted to use the partial indexes). */
#include "db/queue.h"
#include "db/queue_claim.h"
#include "testdb.h"
#include "testdb_sql.h"

#include <inttypes.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#define LONG_LEASE_MS 60000

/* One event of record_id with a given status; occurred_s seconds after a fixed instant. Returns
 * its id. A parameterised insert, so the tests control every column the claim looks at. */
static int64_t add_event(PGconn *conn, const char *key, const char *record_id, int occurred_s,
                         const char *status)
{
    char occ[24];
    snprintf(occ, sizeof occ, "%d", occurred_s);
    const char *params[] = {key, record_id, occ, status};
    PGresult *r = PQexecParams(
        conn,
        "INSERT INTO change_events (source, idempotency_key, object_type, record_id, kind,"
        " occurred_at, status, payload, finished_at)"
        " VALUES ('hubspot', $1, '2-100', $2, 'update',"
        "  timestamptz '2024-01-01 00:00:00+00' + $3::int * interval '1 second', $4,"
        "  jsonb_build_object('key', $1::text),"
        "  CASE WHEN $4 IN ('done', 'failed') THEN now() END) RETURNING id",
        4, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s", PQresultErrorMessage(r));
        PQclear(r);
        fail_msg("insert %s: %s", key, msg);
    }
    int64_t id = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    return id;
}

static struct claimed_record *claim(PGconn *conn, const char *worker, int max, int lease_ms,
                                    size_t *n)
{
    char err[512] = "";
    struct claimed_record *recs = NULL;
    if (queue_claim_records(conn, worker, max, lease_ms, &recs, n, err, sizeof err) != 0)
        fail_msg("claim by %s failed: %s", worker, err);
    assert_int_equal(PQtransactionStatus(conn), PQTRANS_IDLE);
    return recs;
}

static const char *payload_key(const struct claimed_event *e)
{
    static char key[64];
    const char *p = strstr(e->payload_json, "\"key\": \"");
    assert_non_null(p);
    p += strlen("\"key\": \"");
    size_t len = strcspn(p, "\"");
    snprintf(key, sizeof key, "%.*s", (int)len, p);
    return key;
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

/* The filter of the mapping Project__c <-> 2-100 (p1_projects). */
static const struct queue_claim_filter project_filter = {.salesforce_object = "Project__c",
                                                         .hubspot_object_type_id = "2-100",
                                                         .hubspot_object_name = "p1_projects"};

/* Three events of one record inserted out of order (through the ingest path) come back as one
 * claimed record, in order of occurrence; a second record is claimed beside it; nothing is left. */
/* A filtered claim takes only the records of one mapping's objects (Salesforce object names
 * compared ignoring case, HubSpot by objectTypeId or fully qualified name, exactly), and every
 * claimed event carries its received_at. */
static void test_filtered_claim_takes_one_mappings_records(void **state)
{
    struct testdb *db = *state;
    add_event(db->watch, "h1", "r1", 1, "pending"); /* hubspot 2-100 */
    testdb_exec_ok(
        db->watch,
        "INSERT INTO change_events (source, idempotency_key, object_type, record_id, kind,"
        " payload) VALUES"
        " ('salesforce', 's1', 'project__C', 'a01000000000001AAA', 'update', '{}'),"
        " ('salesforce', 's2', 'Account', '001000000000001AAA', 'update', '{}'),"
        " ('hubspot', 'h2', 'p1_projects', 'r2', 'update', '{}'),"
        " ('hubspot', 'h3', '2-999', 'r3', 'update', '{}'),"
        " ('hubspot', 'h4', 'P1_Projects', 'r4', 'update', '{}')"); /* HubSpot: exact names */
    struct queue_claim_filter f = project_filter;
    char err[512] = "";
    struct claimed_record *recs = NULL;
    size_t n = 0;
    assert_int_equal(
        queue_claim_records_for(db->watch, "w1", &f, 10, 60000, &recs, &n, err, sizeof err), 0);
    assert_int_equal(n, 3);
    for (size_t i = 0; i < n; i++) {
        assert_true(strcmp(recs[i].object_type, "Account") != 0);
        assert_true(strcmp(recs[i].object_type, "2-999") != 0);
        assert_true(recs[i].events[0].received_at_ms > 1700000000000LL);
    }
    queue_claimed_free(recs, n);
    struct queue_claim_filter none = {.salesforce_object = "Nothing__c"};
    assert_int_equal(
        queue_claim_records_for(db->watch, "w1", &none, 10, 60000, &recs, &n, err, sizeof err), 0);
    assert_int_equal(n, 0);
    recs = claim(db->watch, "w2", 10, 60000, &n); /* unfiltered: the rest */
    assert_int_equal(n, 3);
    queue_claimed_free(recs, n);
}

/* Another mapping's backlog ahead of this mapping's events: a filtered claim reads its own
 * objects' due rows through change_events_due_object (migration 0018), in due order, and stops at
 * its window; it neither walks the backlog through change_events_due nor bitmap-scans its object
 * (bench/README, "Dead index entries": reading the whole due index cost 1,654 buffers with 100,000
 * due rows of another object, the per-object index 15). */
static void test_filtered_claim_reads_only_its_objects_due_rows(void **state)
{
    struct testdb *db = *state;
    testdb_exec_ok(db->watch,
                   "INSERT INTO change_events (source, idempotency_key, object_type, record_id,"
                   " kind, payload, next_attempt_at)"
                   " SELECT 'salesforce', 'acc-' || g, 'Account', 'acc' || g, 'update', '{}',"
                   "  now() - interval '1 hour' FROM generate_series(1, 20000) g");
    testdb_exec_ok(db->watch,
                   "INSERT INTO change_events (source, idempotency_key, object_type, record_id,"
                   " kind, payload)"
                   " SELECT CASE WHEN g % 2 = 0 THEN 'salesforce' ELSE 'hubspot' END, 'own-' || g,"
                   "  CASE WHEN g % 2 = 0 THEN 'PROJECT__c' ELSE '2-100' END, 'own' || g, 'update',"
                   "  '{}' FROM generate_series(1, 20) g");
    testdb_exec_ok(db->watch, "ANALYZE change_events");
    struct queue_claim_filter f = project_filter;
    char err[512] = "";
    struct claimed_record *recs = NULL;
    size_t n = 0;
    testdb_plans_begin(db->watch);
    int rc = queue_claim_records_for(db->watch, "w1", &f, 5, 60000, &recs, &n, err, sizeof err);
    const char *plans = testdb_plans_end(db->watch);
    assert_int_equal(rc, 0);
    assert_int_equal(n, 5);
    for (size_t i = 0; i < n; i++) /* this mapping's records only */
        assert_int_equal(strncmp(recs[i].record_id, "own", 3), 0);
    queue_claimed_free(recs, n);
    if (!strstr(plans, "Index Scan using change_events_due_object on change_events") ||
        strstr(plans, "Index Scan using change_events_due on change_events") ||
        strstr(plans, "Bitmap") || strstr(plans, "Seq Scan on change_events"))
        fail_msg("the filtered claim does not read its objects' due rows by index:\n%s", plans);
}

static void test_coalesces_one_record_in_order(void **state)
{
    struct testdb *db = *state;
    char err[512] = "";
    struct queue_event ev[] = {
        {.source = "salesforce",
         .idempotency_key = "k3",
         .object_type = "Project__c",
         .record_id = "a01A",
         .kind = "update",
         .occurred_at_ms = 1700000003000,
         .status = "pending",
         .payload_json = "{\"key\":\"k3\"}"},
        {.source = "salesforce",
         .idempotency_key = "k1",
         .object_type = "Project__c",
         .record_id = "a01A",
         .kind = "create",
         .occurred_at_ms = 1700000001000,
         .status = "pending",
         .payload_json = "{\"key\":\"k1\"}"},
        {.source = "salesforce",
         .idempotency_key = "b1",
         .object_type = "Project__c",
         .record_id = "a01B",
         .kind = "update",
         .occurred_at_ms = 1700000001500,
         .status = "pending",
         .payload_json = "{\"key\":\"b1\"}"},
        {.source = "salesforce",
         .idempotency_key = "k2",
         .object_type = "Project__c",
         .record_id = "a01A",
         .kind = "update",
         .occurred_at_ms = 1700000002000,
         .status = "pending",
         .payload_json = "{\"key\":\"k2\"}"},
    };
    if (queue_insert_batch(db->watch, ev, 4, err, sizeof err) != 0)
        fail_msg("insert: %s", err);
    size_t n = 0;
    struct claimed_record *recs = claim(db->watch, "w1", 10, LONG_LEASE_MS, &n);
    assert_int_equal(n, 2);
    /* oldest due first: a01A's first row was stored first */
    assert_string_equal(recs[0].source, "salesforce");
    assert_string_equal(recs[0].object_type, "Project__c");
    assert_string_equal(recs[0].record_id, "a01A");
    assert_int_equal(recs[0].nevents, 3);
    static const char *const want[] = {"k1", "k2", "k3"};
    for (size_t i = 0; i < 3; i++) {
        assert_string_equal(payload_key(&recs[0].events[i]), want[i]);
        assert_int_equal(recs[0].ids[i], recs[0].events[i].id);
        assert_int_equal(recs[0].events[i].occurred_at_ms, 1700000001000 + 1000 * (int64_t)i);
        assert_int_equal(recs[0].events[i].attempts, 0);
    }
    assert_string_equal(recs[0].events[0].kind, "create");
    assert_int_equal(recs[0].events[0].id, ev[1].id);
    assert_string_equal(recs[1].record_id, "a01B");
    assert_int_equal(recs[1].nevents, 1);
    assert_int_equal(testdb_long(db->watch,
                                 "SELECT count(*) FROM change_events WHERE status = 'processing'"
                                 " AND lease_owner = 'w1' AND lease_until > now() + interval '50 s'"
                                 " AND lease_until < now() + interval '61 s'"),
                     4);
    queue_claimed_free(recs, n);
    /* everything is leased: nothing more to claim */
    recs = claim(db->watch, "w2", 10, LONG_LEASE_MS, &n);
    assert_int_equal(n, 0);
    assert_null(recs);
}

/* Events without a record id are claimed one by one, never grouped. */
static void test_events_without_record_id_are_claimed_alone(void **state)
{
    struct testdb *db = *state;
    add_event(db->watch, "x1", NULL, 1, "pending");
    add_event(db->watch, "x2", NULL, 2, "pending");
    size_t n = 0;
    struct claimed_record *recs = claim(db->watch, "w1", 10, LONG_LEASE_MS, &n);
    assert_int_equal(n, 2);
    for (size_t i = 0; i < n; i++) {
        assert_null(recs[i].record_id);
        assert_int_equal(recs[i].nevents, 1);
    }
    queue_claimed_free(recs, n);
}

/* Each guard of a claim on its own: a record whose lock another claim holds right now is
 * skipped; a record one of whose events another transaction has locked is skipped whole (never
 * split); release_expired leaves a record alone while a claim holds its lock. */
static void test_record_lock_and_row_locks_each_keep_records_whole(void **state)
{
    struct testdb *db = *state;
    char err[512] = "";
    add_event(db->watch, "a1", "A", 1, "pending");
    add_event(db->watch, "a2", "A", 2, "pending");
    add_event(db->watch, "b1", "B", 1, "pending");
    int64_t b2 = add_event(db->watch, "b2", "B", 2, "pending");
    add_event(db->watch, "c1", "C", 1, "pending");
    PGconn *other = testdb_connect_or_fail(db->conninfo);
    testdb_exec_ok(db->watch, "SET lock_timeout = 5000"); /* a claim must never wait for a lock */
    testdb_exec_ok(other, "BEGIN");
    /* what a claim of A in progress holds (see QUEUE_RECORD_LOCK in db/queue_claim.c) */
    testdb_exec_ok(other, "SELECT pg_advisory_xact_lock(1934713708, hashtext('hubspot:2-100:A'))");
    /* what a worker settling one of B's events holds */
    char sql[128];
    snprintf(sql, sizeof sql, "SELECT id FROM change_events WHERE id = %" PRId64 " FOR UPDATE", b2);
    testdb_exec_ok(other, sql);
    size_t n = 0;
    struct claimed_record *recs = claim(db->watch, "w1", 10, 200, &n);
    assert_int_equal(n, 1);
    assert_string_equal(recs[0].record_id, "C");
    queue_claimed_free(recs, n);
    assert_int_equal(testdb_long(db->watch, "SELECT count(*) FROM change_events"
                                            " WHERE status = 'processing'"),
                     1);
    testdb_exec_ok(other, "COMMIT");
    recs = claim(db->watch, "w2", 10, 200, &n);
    assert_int_equal(n, 2);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(recs[i].nevents, 2);
    queue_claimed_free(recs, n);

    /* all three leases run out; a claim holding A's lock keeps release_expired off A */
    usleep(350 * 1000);
    testdb_exec_ok(other, "BEGIN");
    testdb_exec_ok(other, "SELECT pg_advisory_xact_lock(1934713708, hashtext('hubspot:2-100:A'))");
    long released = 0;
    assert_int_equal(queue_release_expired(db->watch, &released, err, sizeof err), 0);
    assert_int_equal(released, 3); /* B's two and C's one */
    testdb_exec_ok(other, "COMMIT");
    assert_int_equal(queue_release_expired(db->watch, &released, err, sizeof err), 0);
    assert_int_equal(released, 2);
    PQfinish(other);
}

/* --- 8 concurrent claimers over 200 records x 5 events ----------------------------------- */

#define CC_THREADS 8
#define CC_RECORDS 200
#define CC_EVENTS  5
#define CC_TOTAL   (CC_RECORDS * CC_EVENTS)

struct cc_shared {
    pthread_barrier_t start;
    atomic_int next_claim;
    /* claim number of every event id (ids are 1..CC_TOTAL in a fresh database); filled by the
     * claimers; counts[] says how often each was claimed */
    atomic_int claim_of[CC_TOTAL + 1];
    atomic_int counts[CC_TOTAL + 1];
    atomic_int foreign_ids;
    atomic_int errors;
    char first_error[256];
    pthread_mutex_t error_lock;
};

struct cc_thread {
    struct cc_shared *sh;
    PGconn *conn;
    char worker[16];
    int claims;
};

static void cc_error(struct cc_shared *sh, const char *msg)
{
    pthread_mutex_lock(&sh->error_lock);
    if (atomic_fetch_add(&sh->errors, 1) == 0)
        snprintf(sh->first_error, sizeof sh->first_error, "%s", msg);
    pthread_mutex_unlock(&sh->error_lock);
}

static void *cc_main(void *arg)
{
    struct cc_thread *t = arg;
    struct cc_shared *sh = t->sh;
    pthread_barrier_wait(&sh->start);
    for (int round = 0; round < 20000; round++) {
        char err[512] = "";
        struct claimed_record *recs = NULL;
        size_t n = 0;
        if (queue_claim_records(t->conn, t->worker, 5, LONG_LEASE_MS, &recs, &n, err, sizeof err) !=
            0) {
            cc_error(sh, err);
            return NULL;
        }
        if (n == 0) {
            PGresult *r = PQexec(t->conn, "SELECT count(*) FROM change_events"
                                          " WHERE status = 'pending'");
            long left =
                PQresultStatus(r) == PGRES_TUPLES_OK ? strtol(PQgetvalue(r, 0, 0), NULL, 10) : -1;
            PQclear(r);
            if (left == 0)
                return NULL;
            usleep(200);
            continue;
        }
        for (size_t i = 0; i < n; i++) {
            int claim_no = atomic_fetch_add(&sh->next_claim, 1) + 1;
            t->claims++;
            for (size_t j = 0; j < recs[i].nevents; j++) {
                int64_t id = recs[i].ids[j];
                if (id < 1 || id > CC_TOTAL) {
                    atomic_fetch_add(&sh->foreign_ids, 1);
                    continue;
                }
                atomic_fetch_add(&sh->counts[id], 1);
                atomic_store(&sh->claim_of[id], claim_no);
            }
        }
        queue_claimed_free(recs, n);
    }
    cc_error(sh, "a claimer gave up after 20000 rounds");
    return NULL;
}

static void test_concurrent_claimers_never_share_a_record(void **state)
{
    struct testdb *db = *state;
    /* record r<i> gets events i*5+1 .. i*5+5, interleaved across records in id order so that
     * every claim window sees many records and every record's events lie apart */
    char sql[512];
    snprintf(sql, sizeof sql,
             "INSERT INTO change_events (id, source, idempotency_key, object_type, record_id,"
             " kind, occurred_at, payload)"
             " SELECT g, 'salesforce', 'cc-' || g, 'Project__c', 'r' || ((g - 1) %% %d), 'update',"
             "  now() + (g * interval '1 ms'), '{}'"
             " FROM generate_series(1, %d) g",
             CC_RECORDS, CC_TOTAL);
    testdb_exec_ok(db->watch, sql);
    testdb_exec_ok(db->watch, "SELECT setval('change_events_id_seq', 100000)");

    struct cc_shared *sh = calloc(1, sizeof *sh);
    assert_non_null(sh);
    pthread_barrier_init(&sh->start, NULL, CC_THREADS);
    pthread_mutex_init(&sh->error_lock, NULL);
    struct cc_thread threads[CC_THREADS];
    pthread_t tids[CC_THREADS];
    for (int i = 0; i < CC_THREADS; i++) {
        threads[i] = (struct cc_thread){.sh = sh, .conn = testdb_connect_or_fail(db->conninfo)};
        snprintf(threads[i].worker, sizeof threads[i].worker, "cc%d", i);
    }
    for (int i = 0; i < CC_THREADS; i++)
        assert_int_equal(pthread_create(&tids[i], NULL, cc_main, &threads[i]), 0);
    int busy_threads = 0;
    for (int i = 0; i < CC_THREADS; i++) {
        pthread_join(tids[i], NULL);
        PQfinish(threads[i].conn);
        busy_threads += threads[i].claims > 0;
    }
    if (atomic_load(&sh->errors))
        fail_msg("%d claimer errors, first: %s", atomic_load(&sh->errors), sh->first_error);
    assert_int_equal(atomic_load(&sh->foreign_ids), 0);
    /* every event exactly once */
    for (int id = 1; id <= CC_TOTAL; id++)
        if (atomic_load(&sh->counts[id]) != 1)
            fail_msg("event %d was claimed %d times", id, atomic_load(&sh->counts[id]));
    /* every record's events in one claim, and one claim per record */
    for (int rec = 0; rec < CC_RECORDS; rec++) {
        int first = atomic_load(&sh->claim_of[rec + 1]);
        for (int k = 1; k < CC_EVENTS; k++) {
            int id = rec + 1 + k * CC_RECORDS;
            if (atomic_load(&sh->claim_of[id]) != first)
                fail_msg("record r%d was split: event %d in claim %d, event %d in claim %d", rec,
                         rec + 1, first, id, atomic_load(&sh->claim_of[id]));
        }
    }
    assert_int_equal(atomic_load(&sh->next_claim), CC_RECORDS);
    assert_int_equal(
        testdb_long(db->watch, "SELECT count(*) FROM change_events WHERE status = 'processing'"),
        CC_TOTAL);
    /* one lease owner per record in the table, too */
    assert_int_equal(testdb_long(db->watch,
                                 "SELECT count(*) FROM (SELECT record_id FROM change_events"
                                 " GROUP BY record_id HAVING count(DISTINCT lease_owner) <> 1) x"),
                     0);
    printf("    8 claimers: %d claimed records, %d of 8 threads got work\n",
           atomic_load(&sh->next_claim), busy_threads);
    pthread_barrier_destroy(&sh->start);
    pthread_mutex_destroy(&sh->error_lock);
    free(sh);
}

/* --- per-record order across claims, under load ------------------------------------------ */

#define OL_WORKERS 4
#define OL_RECORDS 20
#define OL_ROUNDS  25

struct ol_shared {
    char *conninfo;
    atomic_bool inserter_done;
    pthread_mutex_t lock;
    int holder[OL_RECORDS];   /* worker number + 1 holding the record; 0: free (under lock) */
    int last_seq[OL_RECORDS]; /* last applied event's sequence (under lock) */
    int applied;              /* events applied (under lock) */
    int overlap, disorder, errors, refused;
    char first_problem[256];
};

struct ol_worker {
    struct ol_shared *sh;
    PGconn *conn;
    int number;
};

static void ol_problem(struct ol_shared *sh, int *counter, const char *msg)
{
    /* called with sh->lock held */
    if (sh->overlap + sh->disorder + sh->errors + sh->refused == 0)
        snprintf(sh->first_problem, sizeof sh->first_problem, "%s", msg);
    (*counter)++;
}

static void *ol_inserter(void *arg)
{
    struct ol_shared *sh = arg;
    PGconn *conn = PQconnectdb(sh->conninfo);
    for (int round = 1; round <= OL_ROUNDS && PQstatus(conn) == CONNECTION_OK; round++) {
        char roundtext[16];
        snprintf(roundtext, sizeof roundtext, "%d", round);
        const char *params[] = {roundtext};
        PGresult *r = PQexecParams(
            conn,
            "INSERT INTO change_events (source, idempotency_key, object_type, record_id, kind,"
            " occurred_at, payload)"
            " SELECT 'hubspot', 'ol-' || g || '-' || $1, '2-7', 'r' || g, 'update',"
            "  timestamptz '2024-01-01 00:00:00+00' + $1::int * interval '1 second',"
            "  jsonb_build_object('seq', $1::int)"
            " FROM generate_series(0, 19) g",
            1, NULL, params, NULL, NULL, 0);
        if (PQresultStatus(r) != PGRES_COMMAND_OK) {
            pthread_mutex_lock(&sh->lock);
            ol_problem(sh, &sh->errors, PQresultErrorMessage(r));
            pthread_mutex_unlock(&sh->lock);
        }
        PQclear(r);
        usleep(3000);
    }
    PQfinish(conn);
    atomic_store(&sh->inserter_done, true);
    return NULL;
}

static int seq_of(const struct claimed_event *e)
{
    const char *p = strstr(e->payload_json, "\"seq\": ");
    return p ? atoi(p + strlen("\"seq\": ")) : -1;
}

static void *ol_worker_main(void *arg)
{
    struct ol_worker *w = arg;
    struct ol_shared *sh = w->sh;
    char worker_id[16];
    snprintf(worker_id, sizeof worker_id, "ol%d", w->number);
    for (int round = 0; round < 50000; round++) {
        char err[512] = "";
        struct claimed_record *recs = NULL;
        size_t n = 0;
        if (queue_claim_records(w->conn, worker_id, 3, LONG_LEASE_MS, &recs, &n, err, sizeof err) !=
            0) {
            pthread_mutex_lock(&sh->lock);
            ol_problem(sh, &sh->errors, err);
            pthread_mutex_unlock(&sh->lock);
            return NULL;
        }
        if (n == 0) {
            if (atomic_load(&sh->inserter_done)) {
                PGresult *r = PQexec(w->conn, "SELECT count(*) FROM change_events"
                                              " WHERE status IN ('pending', 'processing')");
                long left = PQresultStatus(r) == PGRES_TUPLES_OK
                                ? strtol(PQgetvalue(r, 0, 0), NULL, 10)
                                : -1;
                PQclear(r);
                if (left == 0)
                    return NULL;
            }
            usleep(500);
            continue;
        }
        for (size_t i = 0; i < n; i++) {
            int rec = atoi(recs[i].record_id + 1);
            char msg[160];
            pthread_mutex_lock(&sh->lock);
            if (sh->holder[rec] != 0) {
                snprintf(msg, sizeof msg, "record r%d claimed by ol%d while ol%d holds it", rec,
                         w->number, sh->holder[rec] - 1);
                ol_problem(sh, &sh->overlap, msg);
            }
            sh->holder[rec] = w->number + 1;
            for (size_t j = 0; j < recs[i].nevents; j++) {
                int seq = seq_of(&recs[i].events[j]);
                if (seq <= sh->last_seq[rec]) {
                    snprintf(msg, sizeof msg, "record r%d: event %d applied after %d", rec, seq,
                             sh->last_seq[rec]);
                    ol_problem(sh, &sh->disorder, msg);
                }
                sh->last_seq[rec] = seq;
                sh->applied++;
            }
            pthread_mutex_unlock(&sh->lock);
        }
        usleep(1000); /* "syncing" */
        pthread_mutex_lock(&sh->lock);
        for (size_t i = 0; i < n; i++)
            sh->holder[atoi(recs[i].record_id + 1)] = 0;
        pthread_mutex_unlock(&sh->lock);
        for (size_t i = 0; i < n; i++) {
            long changed = 0;
            int rc = queue_complete(w->conn, worker_id, recs[i].ids, recs[i].nevents, &changed, err,
                                    sizeof err);
            if (rc != 0 || changed != (long)recs[i].nevents) {
                pthread_mutex_lock(&sh->lock);
                ol_problem(sh, &sh->refused, rc != 0 ? err : "a complete was refused");
                pthread_mutex_unlock(&sh->lock);
            }
        }
        queue_claimed_free(recs, n);
    }
    pthread_mutex_lock(&sh->lock);
    ol_problem(sh, &sh->errors, "a worker gave up after 50000 rounds");
    pthread_mutex_unlock(&sh->lock);
    return NULL;
}

static void test_order_per_record_across_claims_under_load(void **state)
{
    struct testdb *db = *state;
    struct ol_shared *sh = calloc(1, sizeof *sh);
    assert_non_null(sh);
    sh->conninfo = db->conninfo;
    pthread_mutex_init(&sh->lock, NULL);
    struct ol_worker workers[OL_WORKERS];
    pthread_t tids[OL_WORKERS], inserter;
    for (int i = 0; i < OL_WORKERS; i++)
        workers[i] =
            (struct ol_worker){.sh = sh, .conn = testdb_connect_or_fail(db->conninfo), .number = i};
    assert_int_equal(pthread_create(&inserter, NULL, ol_inserter, sh), 0);
    for (int i = 0; i < OL_WORKERS; i++)
        assert_int_equal(pthread_create(&tids[i], NULL, ol_worker_main, &workers[i]), 0);
    pthread_join(inserter, NULL);
    for (int i = 0; i < OL_WORKERS; i++) {
        pthread_join(tids[i], NULL);
        PQfinish(workers[i].conn);
    }
    if (sh->overlap || sh->disorder || sh->errors || sh->refused)
        fail_msg("overlaps %d, out of order %d, errors %d, refused completes %d; first: %s",
                 sh->overlap, sh->disorder, sh->errors, sh->refused, sh->first_problem);
    assert_int_equal(sh->applied, OL_RECORDS * OL_ROUNDS);
    for (int r = 0; r < OL_RECORDS; r++)
        assert_int_equal(sh->last_seq[r], OL_ROUNDS);
    assert_int_equal(testdb_long(db->watch,
                                 "SELECT count(*) FROM change_events WHERE status = 'done'"
                                 " AND finished_at IS NOT NULL"),
                     OL_RECORDS * OL_ROUNDS);
    pthread_mutex_destroy(&sh->lock);
    free(sh);
}

/* --- leases ------------------------------------------------------------------------------- */

/* While a record is leased, a claim does not return it, not even its new events; when the lease
 * runs out, the next claim takes every event of the record, old and new, in order. */
static void test_leased_record_waits_then_comes_back(void **state)
{
    struct testdb *db = *state;
    add_event(db->watch, "a1", "A", 1, "pending");
    add_event(db->watch, "a2", "A", 2, "pending");
    size_t n = 0;
    struct claimed_record *recs = claim(db->watch, "w1", 10, 200, &n);
    assert_int_equal(n, 1);
    assert_int_equal(recs[0].nevents, 2);
    queue_claimed_free(recs, n);

    add_event(db->watch, "a3", "A", 3, "pending"); /* arrives while w1 holds A */
    add_event(db->watch, "b1", "B", 1, "pending");
    recs = claim(db->watch, "w2", 10, LONG_LEASE_MS, &n);
    assert_int_equal(n, 1); /* B only */
    assert_string_equal(recs[0].record_id, "B");
    queue_claimed_free(recs, n);

    usleep(350 * 1000); /* w1's 200 ms lease runs out */
    recs = claim(db->watch, "w2", 10, LONG_LEASE_MS, &n);
    assert_int_equal(n, 1);
    assert_string_equal(recs[0].record_id, "A");
    assert_int_equal(recs[0].nevents, 3);
    assert_string_equal(payload_key(&recs[0].events[0]), "a1");
    assert_string_equal(payload_key(&recs[0].events[1]), "a2");
    assert_string_equal(payload_key(&recs[0].events[2]), "a3");
    queue_claimed_free(recs, n);
    assert_int_equal(testdb_long(db->watch,
                                 "SELECT count(*) FROM change_events WHERE record_id = 'A'"
                                 " AND status = 'processing' AND lease_owner = 'w2'"),
                     3);
}

/* A crashed worker's events: nothing to release while the lease runs; afterwards they are
 * pending again (an attempt counted, the lease named) and can be claimed. */
static void test_release_expired_leases(void **state)
{
    struct testdb *db = *state;
    char err[512] = "";
    add_event(db->watch, "a1", "A", 1, "pending");
    add_event(db->watch, "a2", "A", 2, "pending");
    add_event(db->watch, "c1", "C", 1, "pending");
    size_t n = 0;
    struct claimed_record *recs = claim(db->watch, "crashed", 1, 200, &n); /* A only */
    assert_int_equal(n, 1);
    queue_claimed_free(recs, n);
    recs = claim(db->watch, "alive", 1, LONG_LEASE_MS, &n); /* C, long lease */
    assert_int_equal(n, 1);
    queue_claimed_free(recs, n);
    long released = -1;
    assert_int_equal(queue_release_expired(db->watch, &released, err, sizeof err), 0);
    assert_int_equal(released, 0);
    recs = claim(db->watch, "w2", 10, LONG_LEASE_MS, &n);
    assert_int_equal(n, 0);
    assert_null(recs);
    usleep(350 * 1000);
    assert_int_equal(queue_release_expired(db->watch, &released, err, sizeof err), 0);
    assert_int_equal(released, 2);
    assert_int_equal(testdb_long(db->watch,
                                 "SELECT count(*) FROM change_events WHERE record_id = 'A'"
                                 " AND status = 'pending' AND attempts = 1 AND lease_owner IS NULL"
                                 " AND next_attempt_at <= now()"
                                 " AND last_error LIKE '%lease of worker crashed expired%'"),
                     2);
    /* C's lease is still running: untouched */
    assert_string_equal(
        testdb_value(db->watch, "SELECT status FROM change_events WHERE record_id = 'C'"),
        "processing");
    recs = claim(db->watch, "w2", 10, LONG_LEASE_MS, &n);
    assert_int_equal(n, 1);
    assert_string_equal(recs[0].record_id, "A");
    assert_int_equal(recs[0].nevents, 2);
    assert_int_equal(recs[0].events[0].attempts, 1);
    queue_claimed_free(recs, n);
}

/* A worker whose lease was taken over can neither complete, retry nor fail the events; the new
 * holder can. A lease that ran out but was not taken over still lets its worker finish. */
static void test_settling_after_takeover_is_refused(void **state)
{
    struct testdb *db = *state;
    char err[512] = "";
    add_event(db->watch, "a1", "A", 1, "pending");
    add_event(db->watch, "a2", "A", 2, "pending");
    size_t n = 0;
    struct claimed_record *old = claim(db->watch, "slow", 10, 200, &n);
    assert_int_equal(n, 1);
    usleep(350 * 1000);
    long changed = -1;
    assert_int_equal(queue_release_expired(db->watch, &changed, err, sizeof err), 0);
    assert_int_equal(changed, 2);
    struct claimed_record *fresh = claim(db->watch, "fast", 10, LONG_LEASE_MS, &n);
    assert_int_equal(n, 1);
    assert_int_equal(fresh[0].nevents, 2);

    assert_int_equal(
        queue_complete(db->watch, "slow", old[0].ids, old[0].nevents, &changed, err, sizeof err),
        0);
    assert_int_equal(changed, 0);
    assert_int_equal(queue_retry_later(db->watch, "slow", old[0].ids, old[0].nevents, "late", 10,
                                       &changed, err, sizeof err),
                     0);
    assert_int_equal(changed, 0);
    assert_int_equal(queue_fail(db->watch, "slow", old[0].ids, old[0].nevents, QUEUE_ERR_VALIDATION,
                                "late", &changed, err, sizeof err),
                     0);
    assert_int_equal(changed, 0);
    assert_int_equal(testdb_long(db->watch,
                                 "SELECT count(*) FROM change_events"
                                 " WHERE status = 'processing' AND lease_owner = 'fast'"),
                     2);
    assert_int_equal(queue_complete(db->watch, "fast", fresh[0].ids, fresh[0].nevents, &changed,
                                    err, sizeof err),
                     0);
    assert_int_equal(changed, 2);
    assert_int_equal(testdb_long(db->watch,
                                 "SELECT count(*) FROM change_events WHERE status = 'done'"
                                 " AND finished_at IS NOT NULL AND lease_until IS NULL"),
                     2);
    /* completing twice changes nothing */
    assert_int_equal(queue_complete(db->watch, "fast", fresh[0].ids, fresh[0].nevents, &changed,
                                    err, sizeof err),
                     0);
    assert_int_equal(changed, 0);
    queue_claimed_free(old, 1);
    queue_claimed_free(fresh, 1);

    /* expired, not taken over: the worker may still finish */
    add_event(db->watch, "b1", "B", 1, "pending");
    struct claimed_record *b = claim(db->watch, "late", 10, 200, &n);
    assert_int_equal(n, 1);
    usleep(350 * 1000);
    assert_int_equal(
        queue_complete(db->watch, "late", b[0].ids, b[0].nevents, &changed, err, sizeof err), 0);
    assert_int_equal(changed, 1);
    queue_claimed_free(b, 1);
}

/* retry_later: pending again, attempts + 1, not due before the delay, error kept; once due the
 * next claim takes it with its attempt count. A new event of a record that waits for its retry
 * brings the waiting events along, in order (a record's events never overtake each other). */
static void test_retry_later(void **state)
{
    struct testdb *db = *state;
    char err[512] = "";
    add_event(db->watch, "a1", "A", 1, "pending");
    size_t n = 0;
    struct claimed_record *recs = claim(db->watch, "w1", 10, LONG_LEASE_MS, &n);
    assert_int_equal(n, 1);
    long changed = 0;
    assert_int_equal(queue_retry_later(db->watch, "w1", recs[0].ids, recs[0].nevents,
                                       "HTTP 503 from HubSpot", 3600000, &changed, err, sizeof err),
                     0);
    assert_int_equal(changed, 1);
    queue_claimed_free(recs, n);
    assert_int_equal(testdb_long(db->watch,
                                 "SELECT count(*) FROM change_events WHERE status = 'pending'"
                                 " AND attempts = 1 AND last_error = 'HTTP 503 from HubSpot'"
                                 " AND lease_owner IS NULL AND lease_until IS NULL"
                                 " AND next_attempt_at > now() + interval '59 min'"
                                 " AND next_attempt_at < now() + interval '61 min'"),
                     1);
    recs = claim(db->watch, "w1", 10, LONG_LEASE_MS, &n);
    assert_int_equal(n, 0); /* not due */
    assert_null(recs);
    testdb_exec_ok(db->watch, "UPDATE change_events SET next_attempt_at = now() - interval '1 s'");
    recs = claim(db->watch, "w2", 10, LONG_LEASE_MS, &n);
    assert_int_equal(n, 1);
    assert_int_equal(recs[0].events[0].attempts, 1);
    assert_int_equal(queue_retry_later(db->watch, "w2", recs[0].ids, recs[0].nevents, "again",
                                       3600000, &changed, err, sizeof err),
                     0);
    queue_claimed_free(recs, n);
    /* a2 arrives while a1 waits for its retry: both go together, a1 first */
    add_event(db->watch, "a2", "A", 2, "pending");
    recs = claim(db->watch, "w3", 10, LONG_LEASE_MS, &n);
    assert_int_equal(n, 1);
    assert_int_equal(recs[0].nevents, 2);
    assert_string_equal(payload_key(&recs[0].events[0]), "a1");
    assert_int_equal(recs[0].events[0].attempts, 2);
    assert_string_equal(payload_key(&recs[0].events[1]), "a2");
    queue_claimed_free(recs, n);
}

/* defer: like retry_later (pending, not due before the delay, error kept, lease cleared) but the
 * attempt count stays: a call the client's budget held back never reached the CRM. Only the
 * lease's holder may defer. */
static void test_defer_counts_no_attempt(void **state)
{
    struct testdb *db = *state;
    char err[512] = "";
    add_event(db->watch, "d1", "D", 1, "pending");
    size_t n = 0;
    struct claimed_record *recs = claim(db->watch, "w1", 10, LONG_LEASE_MS, &n);
    assert_int_equal(n, 1);
    long changed = 0;
    assert_int_equal(queue_defer(db->watch, "w2", recs[0].ids, recs[0].nevents, "stopped", 1000,
                                 &changed, err, sizeof err),
                     0);
    assert_int_equal(changed, 0); /* not w2's lease */
    assert_int_equal(queue_defer(db->watch, "w1", recs[0].ids, recs[0].nevents,
                                 "HubSpot daily stop", 3600000, &changed, err, sizeof err),
                     0);
    assert_int_equal(changed, 1);
    queue_claimed_free(recs, n);
    assert_int_equal(testdb_long(db->watch,
                                 "SELECT count(*) FROM change_events WHERE status = 'pending'"
                                 " AND attempts = 0 AND last_error = 'HubSpot daily stop'"
                                 " AND lease_owner IS NULL AND lease_until IS NULL"
                                 " AND next_attempt_at > now() + interval '59 min'"),
                     1);
    recs = claim(db->watch, "w1", 10, LONG_LEASE_MS, &n);
    assert_int_equal(n, 0); /* not due */
    testdb_exec_ok(db->watch, "UPDATE change_events SET next_attempt_at = now() - interval '1 s'");
    recs = claim(db->watch, "w3", 10, LONG_LEASE_MS, &n);
    assert_int_equal(n, 1);
    assert_int_equal(recs[0].events[0].attempts, 0);
    queue_claimed_free(recs, n);
}

/* Back-off: full jitter within [0, min(cap, base * 2^attempts)], -1 when tries are exhausted;
 * the defaults add up to about a day. */
static void test_backoff_schedule(void **state)
{
    (void)state;
    const struct queue_backoff_policy custom = {.base_ms = 100, .cap_ms = 1000, .max_attempts = 6};
    static const long want_ceiling[] = {100, 200, 400, 800, 1000};
    for (int a = 0; a < 5; a++) {
        long ceiling = want_ceiling[a];
        /* the draw decides the delay exactly */
        assert_int_equal(queue_backoff_ms_draw(a, &custom, (uint64_t)ceiling), ceiling);
        assert_int_equal(queue_backoff_ms_draw(a, &custom, (uint64_t)ceiling + 1), 0);
        assert_int_equal(queue_backoff_ms_draw(a, &custom, 0), 0);
        assert_int_equal(queue_backoff_ms_draw(a, &custom, UINT64_MAX),
                         (long)(UINT64_MAX % (uint64_t)(ceiling + 1)));
        long lo = ceiling, hi = 0;
        for (int i = 0; i < 400; i++) {
            long d = queue_backoff_ms(a, &custom);
            assert_in_range(d, 0, ceiling);
            lo = d < lo ? d : lo;
            hi = d > hi ? d : hi;
        }
        /* jitter: 400 uniform draws cover most of the range (fails with odds below 1e-30) */
        assert_true(lo < ceiling / 4);
        assert_true(hi > ceiling * 3 / 4);
    }
    assert_int_equal(queue_backoff_ms(5, &custom), -1); /* the 6th try failed: give up */
    assert_int_equal(queue_backoff_ms(9, &custom), -1);

    /* defaults (NULL policy, or fields <= 0) */
    const struct queue_backoff_policy zero = {0, 0, 0};
    long long sum_ceilings = 0;
    for (int a = 0; a < QUEUE_BACKOFF_DEFAULT_MAX_ATTEMPTS - 1; a++) {
        long expect = 5000L << (a < 11 ? a : 11);
        if (expect > 7200000L)
            expect = 7200000L;
        assert_int_equal(queue_backoff_ms_draw(a, NULL, (uint64_t)expect), expect);
        assert_int_equal(queue_backoff_ms_draw(a, &zero, (uint64_t)expect), expect);
        assert_int_equal(queue_backoff_ms_draw(a, NULL, (uint64_t)expect + 1), 0);
        long d = queue_backoff_ms(a, NULL);
        assert_in_range(d, 0, expect);
        sum_ceilings += expect;
    }
    assert_int_equal(queue_backoff_ms(QUEUE_BACKOFF_DEFAULT_MAX_ATTEMPTS - 1, NULL), -1);
    /* 29 waits: at most 139835 s (38.8 h); full jitter averages half: 19.4 h */
    assert_int_equal(sum_ceilings, 139835000LL);
    /* no overflow however many attempts a policy allows */
    const struct queue_backoff_policy many = {
        .base_ms = 5000, .cap_ms = 7200000, .max_attempts = 100000};
    assert_int_equal(queue_backoff_ms_draw(5000, &many, 7200000), 7200000);
    assert_in_range(queue_backoff_ms(99998, &many), 0, 7200000);
    printf("    default back-off: 29 waits, at most %.1f h, %.1f h on average\n",
           (double)sum_ceilings / 3.6e6, (double)sum_ceilings / 7.2e6);
}

/* fail: status failed with the category and the CRM's message; categories are a table. */
static void test_fail_with_category(void **state)
{
    struct testdb *db = *state;
    char err[512] = "";
    static const char *const names[] = {"validation",       "duplicate", "permission",
                                        "association",      "not_found", "conversion",
                                        "retries_exhausted"};
    for (int c = 0; c < QUEUE_ERR_CATEGORY_COUNT; c++)
        assert_string_equal(queue_error_category_name((enum queue_error_category)c), names[c]);
    assert_null(queue_error_category_name(QUEUE_ERR_CATEGORY_COUNT));

    add_event(db->watch, "a1", "A", 1, "pending");
    add_event(db->watch, "b1", "B", 1, "pending");
    size_t n = 0;
    struct claimed_record *recs = claim(db->watch, "w1", 10, LONG_LEASE_MS, &n);
    assert_int_equal(n, 2);
    long changed = 0;
    assert_int_equal(queue_fail(db->watch, "w1", recs[0].ids, recs[0].nevents, QUEUE_ERR_VALIDATION,
                                "INVALID_OPTION: Stage__c: bad value for restricted picklist",
                                &changed, err, sizeof err),
                     0);
    assert_int_equal(changed, 1);
    assert_int_equal(queue_fail(db->watch, "w1", recs[1].ids, recs[1].nevents, QUEUE_ERR_NOT_FOUND,
                                "ENTITY_IS_DELETED", &changed, err, sizeof err),
                     0);
    assert_int_equal(queue_fail(db->watch, "w1", recs[1].ids, recs[1].nevents,
                                QUEUE_ERR_CATEGORY_COUNT, "x", &changed, err, sizeof err),
                     -1);
    assert_non_null(strstr(err, "category"));
    queue_claimed_free(recs, n);
    assert_string_equal(testdb_value(db->watch,
                                     "SELECT status || '/' || error_category || '/' || last_error"
                                     " || '/' || attempts FROM change_events WHERE record_id = 'A'"
                                     " AND finished_at IS NOT NULL AND lease_owner IS NULL"),
                        "failed/validation/INVALID_OPTION: Stage__c: bad value for restricted "
                        "picklist/1");
    assert_string_equal(testdb_value(db->watch, "SELECT error_category FROM change_events"
                                                " WHERE record_id = 'B'"),
                        "not_found");
    /* the column refuses anything outside the table */
    PGresult *r = PQexec(db->watch, "UPDATE change_events SET error_category = 'oops'");
    assert_int_equal(PQresultStatus(r), PGRES_FATAL_ERROR);
    PQclear(r);
    /* failed events are never claimed again */
    recs = claim(db->watch, "w1", 10, LONG_LEASE_MS, &n);
    assert_int_equal(n, 0);
    assert_null(recs);
}

/* held, unmapped, done, failed and not-yet-due events are never claimed; a held event does not
 * ride along with a pending one of the same record. */
static void test_other_statuses_never_claimed(void **state)
{
    struct testdb *db = *state;
    add_event(db->watch, "h1", "H", 1, "held");
    add_event(db->watch, "u1", "U", 1, "unmapped");
    add_event(db->watch, "d1", "D", 1, "done");
    add_event(db->watch, "f1", "F", 1, "failed");
    int64_t later = add_event(db->watch, "l1", "L", 1, "pending");
    char sql[160];
    snprintf(
        sql, sizeof sql,
        "UPDATE change_events SET next_attempt_at = now() + interval '1 hour' WHERE id = %" PRId64,
        later);
    testdb_exec_ok(db->watch, sql);
    size_t n = 0;
    struct claimed_record *recs = claim(db->watch, "w1", 10, LONG_LEASE_MS, &n);
    assert_int_equal(n, 0);
    assert_null(recs);
    add_event(db->watch, "h2", "H", 2, "pending");
    recs = claim(db->watch, "w1", 10, LONG_LEASE_MS, &n);
    assert_int_equal(n, 1);
    assert_string_equal(recs[0].record_id, "H");
    assert_int_equal(recs[0].nevents, 1);
    assert_string_equal(payload_key(&recs[0].events[0]), "h2");
    queue_claimed_free(recs, n);
    assert_string_equal(testdb_value(db->watch,
                                     "SELECT string_agg(idempotency_key || '=' || status, ','"
                                     " ORDER BY idempotency_key) FROM change_events"),
                        "d1=done,f1=failed,h1=held,h2=processing,l1=pending,u1=unmapped");
}

/* prune: only done rows past their retention and failed rows past theirs, in batches; nothing
 * unfinished, however old. */
static void test_prune_in_batches(void **state)
{
    struct testdb *db = *state;
    char err[512] = "";
    testdb_exec_ok(
        db->watch,
        "INSERT INTO change_events (source, idempotency_key, object_type, record_id, kind,"
        " status, received_at, next_attempt_at, finished_at, payload)"
        " SELECT 'hubspot', s.st || '-' || s.age || '-' || g, '2-1', 'r' || g, 'update', s.st,"
        "  now() - s.age * interval '1 day', now() - s.age * interval '1 day',"
        "  CASE WHEN s.st IN ('done', 'failed') THEN now() - s.age * interval '1 day' END,"
        "  '{}'"
        " FROM (VALUES ('done', 8, 25), ('done', 6, 5), ('failed', 31, 7), ('failed', 10, 3),"
        "  ('pending', 60, 2), ('held', 60, 2), ('unmapped', 60, 2)) AS s(st, age, cnt),"
        " generate_series(1, s.cnt) g");
    testdb_exec_ok(db->watch, "UPDATE change_events SET status = 'processing', lease_owner = 'w',"
                              " lease_until = now() + interval '1 min'"
                              " WHERE idempotency_key = 'pending-60-1'");
    const long week = 7 * 86400, month = 30 * 86400;
    long deleted = -1;
    /* one batch of 10 per status */
    assert_int_equal(queue_prune(db->watch, 10, 1, week, month, &deleted, err, sizeof err), 0);
    assert_int_equal(deleted, 17);
    assert_int_equal(
        testdb_long(db->watch, "SELECT count(*) FROM change_events WHERE status = 'done'"), 20);
    assert_int_equal(queue_prune(db->watch, 10, 1, week, month, &deleted, err, sizeof err), 0);
    assert_int_equal(deleted, 10);
    assert_int_equal(queue_prune(db->watch, 10, 100, week, month, &deleted, err, sizeof err), 0);
    assert_int_equal(deleted, 5);
    assert_int_equal(queue_prune(db->watch, 10, 100, week, month, &deleted, err, sizeof err), 0);
    assert_int_equal(deleted, 0);
    assert_string_equal(testdb_value(db->watch,
                                     "SELECT string_agg(status || '=' || c, ',' ORDER BY status)"
                                     " FROM (SELECT status, count(*) c FROM change_events"
                                     " GROUP BY status) x"),
                        "done=5,failed=3,held=2,pending=1,processing=1,unmapped=2");
    assert_int_equal(queue_prune(db->watch, 0, 1, week, month, &deleted, err, sizeof err), -1);
}

/* --- claim latency with a million done rows ----------------------------------------------- */

/* 300 records x 2 due events, then 30 claims of 10 records (each completed untimed); returns the
 * median claim time in ms and the slowest in *worst. */
static double measure_claims(PGconn *conn, int phase, double *worst)
{
    char sql[512];
    snprintf(sql, sizeof sql,
             "INSERT INTO change_events (source, idempotency_key, object_type, record_id, kind,"
             " occurred_at, payload)"
             " SELECT 'salesforce', 'lat-%d-' || g, 'Project__c', 'p%d-' || (g %% 300), 'update',"
             "  now(), '{}' FROM generate_series(1, 600) g",
             phase, phase);
    testdb_exec_ok(conn, sql);
    testdb_exec_ok(conn, "ANALYZE change_events");
    double times[30];
    for (int i = 0; i < 30; i++) {
        char err[512] = "";
        struct claimed_record *recs = NULL;
        size_t n = 0;
        double t0 = now_ms();
        if (queue_claim_records(conn, "lat", 10, LONG_LEASE_MS, &recs, &n, err, sizeof err) != 0)
            fail_msg("claim: %s", err);
        times[i] = now_ms() - t0;
        assert_int_equal(n, 10);
        for (size_t r = 0; r < n; r++) {
            assert_int_equal(recs[r].nevents, 2);
            long changed = 0;
            if (queue_complete(conn, "lat", recs[r].ids, recs[r].nevents, &changed, err,
                               sizeof err) != 0)
                fail_msg("complete: %s", err);
        }
        queue_claimed_free(recs, n);
    }
    for (int i = 1; i < 30; i++) /* insertion sort */
        for (int j = i; j > 0 && times[j] < times[j - 1]; j--) {
            double t = times[j];
            times[j] = times[j - 1];
            times[j - 1] = t;
        }
    *worst = times[29];
    return (times[14] + times[15]) / 2;
}

static void test_claim_latency_with_a_million_done_rows(void **state)
{
    struct testdb *db = *state;
    double worst_before, worst_after;
    double before = measure_claims(db->watch, 1, &worst_before);

    double t0 = now_ms();
    testdb_exec_ok(
        db->watch,
        "INSERT INTO change_events (source, idempotency_key, object_type, record_id, kind,"
        " occurred_at, received_at, status, next_attempt_at, finished_at, payload)"
        " SELECT CASE WHEN g % 2 = 0 THEN 'salesforce' ELSE 'hubspot' END, 'old-' || g,"
        "  CASE WHEN g % 2 = 0 THEN 'Project__c' ELSE '2-100' END, 'h' || (g % 50000),"
        "  'update', now() - interval '1 day', now() - interval '1 day', 'done',"
        "  now() - interval '1 day', now() - interval '1 day', '{}'"
        " FROM generate_series(1, 1000000) g");
    testdb_exec_ok(db->watch, "ANALYZE change_events");
    double load_ms = now_ms() - t0;
    assert_int_equal(
        testdb_long(db->watch, "SELECT count(*) FROM change_events WHERE status = 'done'"),
        1000000 + 600);

    double after = measure_claims(db->watch, 2, &worst_after);
    printf("    claim of 10 records x 2 events: median %.2f ms (max %.2f) with 600 done rows;"
           " median %.2f ms (max %.2f) with 1,000,600 done rows (loaded in %.1f s)\n",
           before, worst_before, after, worst_after, load_ms / 1000.0);

    /* the plans of the claim's statements, as PostgreSQL ran them (auto_explain) */
    testdb_exec_ok(
        db->watch,
        "INSERT INTO change_events (source, idempotency_key, object_type, record_id, kind,"
        " occurred_at, payload)"
        " SELECT 'salesforce', 'plan-' || g, 'Project__c', 'q' || g, 'update', now(), '{}'"
        " FROM generate_series(1, 20) g");
    testdb_plans_begin(db->watch);
    size_t n = 0;
    struct claimed_record *recs = claim(db->watch, "plan", 10, LONG_LEASE_MS, &n);
    const char *plans = testdb_plans_end(db->watch);
    assert_int_equal(n, 10);
    queue_claimed_free(recs, n);
    /* due rows through the due index, a record's events through the index of unfinished
     * events, single events by id; never a scan of the table or of every pending row */
    bool every_pending_row = false;
    for (const char *p = strstr(plans, "Index Cond: (status"); p;
         p = strstr(p + 1, "Index Cond: (status")) {
        size_t len = strcspn(p, "\n");
        bool by_id = false, pending = false;
        for (const char *q = p; q < p + len; q++) {
            by_id = by_id || strncmp(q, "(id = ", 6) == 0;
            pending = pending || strncmp(q, "pending", 7) == 0;
        }
        every_pending_row = every_pending_row || (pending && !by_id);
    }
    if (!strstr(plans, "Index Scan using change_events_due on change_events") ||
        !strstr(plans, "Index Scan using change_events_active_record on change_events") ||
        strstr(plans, "Seq Scan on change_events") || every_pending_row)
        fail_msg("the claim does not use the partial indexes:\n%s", plans);
}

int main(void)
{
    setvbuf(stdout, NULL, _IONBF, 0);
#define T(fn) cmocka_unit_test_setup_teardown(fn, testdb_setup_migrated, testdb_teardown)
    const struct CMUnitTest tests[] = {
        T(test_coalesces_one_record_in_order),
        T(test_filtered_claim_takes_one_mappings_records),
        T(test_filtered_claim_reads_only_its_objects_due_rows),
        T(test_events_without_record_id_are_claimed_alone),
        T(test_record_lock_and_row_locks_each_keep_records_whole),
        T(test_concurrent_claimers_never_share_a_record),
        T(test_order_per_record_across_claims_under_load),
        T(test_leased_record_waits_then_comes_back),
        T(test_release_expired_leases),
        T(test_settling_after_takeover_is_refused),
        T(test_retry_later),
        T(test_defer_counts_no_attempt),
        cmocka_unit_test(test_backoff_schedule),
        T(test_fail_with_category),
        T(test_other_statuses_never_claimed),
        T(test_prune_in_batches),
        T(test_claim_latency_with_a_million_done_rows),
    };
    return cmocka_run_group_tests_name("queue_claim", tests, NULL, NULL);
}
