/* test_queue_claim_pairs.c: queue_claim_pairs (db/queue_claim.c) against a real, migrated
 * PostgreSQL: it takes only records of an active link holding both ids and reports the rest;
 * both records of a link are one unit (a claim takes them together, and a link with one record
 * leased is skipped by every other pairs claim until that record is settled); a pending merge
 * leaves the record to the exclusive claim; a holder keeps its links past its lease while its
 * session lives; a partial batch of a burst still arriving waits (young_ms); an import's pieces
 * and linked pairs never share a claim; and 8 concurrent pairs claimers over 300 links with
 * events on both sides never hold records of one link at the same time, each event claimed once
 * (guarded by leases alone, and by the link locks alone); with 200,000 links and a million done
 * events the claim still runs on indexes (latency printed).
 */
#include "db/queue_claim.h"
#include "metric_read.h"
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

#define LEASE_MS   60000
#define MAPPING_ID 7

static const struct queue_claim_filter filter = {.salesforce_object = "Project__c",
                                                 .hubspot_object_type_id = "2-100",
                                                 .hubspot_object_name = "p1_projects"};

static void sf_id(char *out, size_t len, int i)
{
    snprintf(out, len, "a0S%015d", i);
}

static void hs_id(char *out, size_t len, int i)
{
    snprintf(out, len, "%d", 900000 + i);
}

/* Runs an INSERT ... RETURNING id; fails the test with PostgreSQL's message otherwise. */
static int64_t insert_id(PGconn *conn, const char *sql, int n, const char *const *params)
{
    PGresult *r = PQexecParams(conn, sql, n, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s", PQresultErrorMessage(r));
        PQclear(r);
        fail_msg("insert: %s", msg);
    }
    int64_t id = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    return id;
}

/* A link of MAPPING_ID; sf or hs < 0 leaves that side NULL. Returns the link id. */
static int64_t add_link(PGconn *conn, int sf, int hs, const char *state)
{
    char s[32], h[32];
    sf_id(s, sizeof s, sf);
    hs_id(h, sizeof h, hs);
    const char *params[] = {sf >= 0 ? s : NULL, hs >= 0 ? h : NULL, state};
    return insert_id(conn,
                     "INSERT INTO sync_links (mapping_id, salesforce_id, hubspot_id, state)"
                     " VALUES (7, $1, $2, $3) RETURNING id",
                     3, params);
}

/* A pending event of the Salesforce (sf) or HubSpot record number i. Returns its id. */
static int64_t add_event(PGconn *conn, bool sf, int i, const char *kind)
{
    static atomic_int seq;
    char rec[32], key[48];
    if (sf)
        sf_id(rec, sizeof rec, i);
    else
        hs_id(rec, sizeof rec, i);
    snprintf(key, sizeof key, "pairs-%d", atomic_fetch_add(&seq, 1));
    const char *params[] = {sf ? "salesforce" : "hubspot", key, sf ? "Project__c" : "2-100", rec,
                            kind};
    return insert_id(conn,
                     "INSERT INTO change_events (source, idempotency_key, object_type,"
                     " record_id, kind, occurred_at, payload)"
                     " VALUES ($1, $2, $3, $4, $5, clock_timestamp(), '{}') RETURNING id",
                     5, params);
}

static void release(PGconn *conn, struct queue_pair_locks *held)
{
    char err[512] = "";
    if (queue_pairs_release(conn, held, err, sizeof err) != 0)
        fail_msg("releasing the link locks failed: %s", err);
    assert_int_equal(held->n, 0);
}

/* A pairs claim with a lease of lease_ms. The link locks stay held in *held, or, with held NULL,
 * are let go at once, so only the leases guard the claimed records (as after a holder's session
 * ended). */
static struct claimed_record *claim_pairs_held(PGconn *conn, const char *worker, int max,
                                               int lease_ms, size_t *n, bool *others,
                                               struct queue_pair_locks *held)
{
    char err[512] = "";
    struct claimed_record *recs = NULL;
    struct queue_pair_locks mine;
    struct queue_pair_locks *h = held ? held : &mine;
    enum queue_pick deferred = QUEUE_PICK_DEFERRED;
    if (queue_claim_pairs(conn, worker, &filter, MAPPING_ID, max, lease_ms, &recs, n, others, h,
                          &deferred, err, sizeof err) != 0)
        fail_msg("pairs claim by %s failed: %s", worker, err);
    assert_int_not_equal(deferred, QUEUE_PICK_DEFERRED); /* filter.young_ms is 0 */
    assert_int_equal(PQtransactionStatus(conn), PQTRANS_IDLE);
    if (!held)
        release(conn, &mine);
    return recs;
}

static struct claimed_record *claim_pairs(PGconn *conn, const char *worker, int max, size_t *n,
                                          bool *others)
{
    return claim_pairs_held(conn, worker, max, LEASE_MS, n, others, NULL);
}

static bool has_record(const struct claimed_record *recs, size_t n, const char *id)
{
    for (size_t i = 0; i < n; i++)
        if (recs[i].record_id && strcmp(recs[i].record_id, id) == 0)
            return true;
    return false;
}

static void complete_all(PGconn *conn, const char *worker, struct claimed_record *recs, size_t n)
{
    char err[512] = "";
    for (size_t i = 0; i < n; i++) {
        long changed = 0;
        if (queue_complete(conn, worker, recs[i].ids, recs[i].nevents, &changed, err, sizeof err) !=
            0)
            fail_msg("complete: %s", err);
        assert_int_equal(changed, (long)recs[i].nevents);
    }
    queue_claimed_free(recs, n);
}

/* Only records of an active link with both ids; unlinked records, a write-ahead link (one id),
 * a deleted link and an event without a record id are reported, left pending, and taken by the
 * exclusive claim afterwards. */
static void test_takes_linked_records_and_reports_the_rest(void **state)
{
    struct testdb *db = *state;
    add_link(db->watch, 1, 1, "active");
    add_link(db->watch, 2, -1, "active"); /* write-ahead: no HubSpot id yet */
    add_link(db->watch, 3, 3, "deleted");
    add_link(db->watch, 4, 4, "active");
    add_event(db->watch, true, 1, "update");
    add_event(db->watch, false, 1, "update");
    add_event(db->watch, true, 2, "update");
    add_event(db->watch, false, 3, "update");
    add_event(db->watch, false, 5, "create"); /* no link at all */
    add_event(db->watch, false, 4, "update"); /* linked, HubSpot side */
    testdb_exec_ok(db->watch, "INSERT INTO change_events (source, idempotency_key, object_type,"
                              " record_id, kind, payload)"
                              " VALUES ('hubspot', 'lone', '2-100', NULL, 'unknown', '{}')");
    /* another mapping's link of the same ids does not count */
    testdb_exec_ok(db->watch, "INSERT INTO sync_links (mapping_id, salesforce_id, hubspot_id)"
                              " VALUES (8, 'a0S000000000000002', '900005')");
    size_t n = 0;
    bool others = false;
    struct claimed_record *recs = claim_pairs(db->watch, "p1", 10, &n, &others);
    assert_int_equal(n, 3);
    assert_true(others);
    assert_true(has_record(recs, n, "a0S000000000000001"));
    assert_true(has_record(recs, n, "900001"));
    assert_true(has_record(recs, n, "900004"));
    complete_all(db->watch, "p1", recs, n);

    recs = claim_pairs(db->watch, "p1", 10, &n, &others);
    assert_int_equal(n, 0);
    assert_true(others); /* still due, for the exclusive claim */
    char err[512] = "";
    assert_int_equal(
        queue_claim_records_for(db->watch, "x1", &filter, 10, LEASE_MS, &recs, &n, err, sizeof err),
        0);
    assert_int_equal(n, 4); /* sf 2, hs 3, hs 5, the lone event */
    complete_all(db->watch, "x1", recs, n);
    recs = claim_pairs(db->watch, "p1", 10, &n, &others);
    assert_int_equal(n, 0);
    assert_false(others);
    assert_int_equal(testdb_long(db->watch, "SELECT count(*) FROM change_events"
                                            " WHERE status <> 'done'"),
                     0);
}

/* Both records of a link are one unit: a claim of one record leaves the other to nobody else
 * until it is settled, even though the other record has no lease of its own. */
static void test_a_link_is_held_by_one_claim(void **state)
{
    struct testdb *db = *state;
    add_link(db->watch, 1, 1, "active");
    add_link(db->watch, 2, 2, "active");
    add_event(db->watch, true, 1, "update");
    add_event(db->watch, false, 1, "update");
    add_event(db->watch, false, 2, "update");
    size_t n = 0;
    bool others = true;
    /* max 1 record: the oldest (Salesforce side of link 1) */
    struct claimed_record *a = claim_pairs(db->watch, "p1", 1, &n, &others);
    assert_int_equal(n, 1);
    assert_false(others);
    assert_string_equal(a[0].record_id, "a0S000000000000001");
    size_t nb = 0;
    PGconn *other = testdb_connect_or_fail(db->conninfo);
    struct claimed_record *b = claim_pairs(other, "p2", 10, &nb, &others);
    assert_int_equal(nb, 1); /* link 2 only: link 1's HubSpot record waits */
    assert_string_equal(b[0].record_id, "900002");
    complete_all(other, "p2", b, nb);
    b = claim_pairs(other, "p2", 10, &nb, &others);
    assert_int_equal(nb, 0);
    complete_all(db->watch, "p1", a, n);
    b = claim_pairs(other, "p2", 10, &nb, &others);
    assert_int_equal(nb, 1);
    assert_string_equal(b[0].record_id, "900001");
    complete_all(other, "p2", b, nb);
    PQfinish(other);
}

/* synkro_queue_picks_total{outcome}, 0 before the first claim. */
static double metric_count(const char *outcome)
{
    char series[96];
    snprintf(series, sizeof series, "synkro_queue_picks_total{outcome=\"%s\"}", outcome);
    return metric_read(series, 0);
}

/* A pairs claim of at most max records; its outcome, *n and the records (link locks let go). */
static enum queue_pick claim_outcome(PGconn *conn, const char *worker, int max, size_t *n,
                                     struct claimed_record **recs)
{
    char err[512] = "";
    bool others = false;
    struct queue_pair_locks held;
    enum queue_pick outcome = QUEUE_PICK_DEFERRED;
    if (queue_claim_pairs(conn, worker, &filter, MAPPING_ID, max, LEASE_MS, recs, n, &others, &held,
                          &outcome, err, sizeof err) != 0)
        fail_msg("pairs claim by %s failed: %s", worker, err);
    release(conn, &held);
    return outcome;
}

/* A claim that finds events due but can take none (their record or its pair is leased) says so,
 * apart from one that finds nothing due, and both are counted in synkro_queue_picks_total. */
static void test_blocked_pick_is_told_apart_from_empty(void **state)
{
    struct testdb *db = *state;
    add_link(db->watch, 1, 1, "active");
    add_event(db->watch, true, 1, "update");
    PGconn *other = testdb_connect_or_fail(db->conninfo);
    struct claimed_record *a = NULL, *b = NULL;
    size_t na = 0, nb = 0;
    double blocked0 = metric_count("blocked"), empty0 = metric_count("empty");
    assert_int_equal(claim_outcome(db->watch, "p1", 10, &na, &a), QUEUE_PICK_TAKEN);
    assert_int_equal(na, 1);
    assert_int_equal(claim_outcome(other, "p2", 10, &nb, &b), QUEUE_PICK_EMPTY);
    /* another edit of the leased record itself */
    add_event(db->watch, true, 1, "update");
    assert_int_equal(claim_outcome(other, "p2", 10, &nb, &b), QUEUE_PICK_BLOCKED);
    /* the echo of p1's write arrives on the HubSpot side while p1 holds the link */
    add_event(db->watch, false, 1, "update");
    assert_int_equal(claim_outcome(other, "p2", 10, &nb, &b), QUEUE_PICK_BLOCKED);
    assert_int_equal(nb, 0);
    assert_null(b);
    assert_true(metric_count("blocked") == blocked0 + 2);
    assert_true(metric_count("empty") == empty0 + 1);
    complete_all(db->watch, "p1", a, na);
    assert_int_equal(claim_outcome(other, "p2", 10, &nb, &b), QUEUE_PICK_TAKEN);
    assert_int_equal(nb, 2);
    complete_all(other, "p2", b, nb);
    PQfinish(other);
}

/* "Which links have a record leased now?" (LEASED_PAIRS) reads the link a pairs claim kept on its
 * events (lease_pair), not the leased records' links looked up again: shown by changing the link's
 * Salesforce record in the middle of the lease (synkro changes a link's ids only in the
 * transaction that settles its batch, or under the mapping's exclusive lock, so both answers
 * agree there). lease_pair is cleared when the events settle. */
static void test_kept_link_holds_the_pair_while_leased(void **state)
{
    struct testdb *db = *state;
    int64_t link = add_link(db->watch, 1, 1, "active");
    add_event(db->watch, true, 1, "update");
    size_t na = 0, nb = 0;
    bool others = false;
    struct claimed_record *a = claim_pairs(db->watch, "p1", 10, &na, &others);
    assert_int_equal(na, 1);
    assert_int_equal(testdb_long(db->watch, "SELECT lease_pair FROM change_events"
                                            " WHERE status = 'processing'"),
                     link);
    char s9[32];
    sf_id(s9, sizeof s9, 9);
    const char *params[] = {s9};
    PQclear(PQexecParams(db->watch, "UPDATE sync_links SET salesforce_id = $1", 1, NULL, params,
                         NULL, NULL, 0));
    add_event(db->watch, false, 1, "update"); /* the echo of p1's write */
    PGconn *other = testdb_connect_or_fail(db->conninfo);
    struct claimed_record *b = NULL;
    assert_int_equal(claim_outcome(other, "p2", 10, &nb, &b), QUEUE_PICK_BLOCKED);
    assert_int_equal(nb, 0);
    complete_all(db->watch, "p1", a, na);
    assert_int_equal(testdb_long(db->watch, "SELECT count(*) FROM change_events"
                                            " WHERE lease_pair IS NOT NULL"),
                     0);
    assert_int_equal(claim_outcome(other, "p2", 10, &nb, &b), QUEUE_PICK_TAKEN);
    assert_int_equal(nb, 1);
    complete_all(other, "p2", b, nb);
    PQfinish(other);
}

/* A record leased by a claim of whole records (no kept link) still holds its pair: its link is
 * looked up. */
static void test_record_leased_by_a_whole_record_claim_holds_its_pair(void **state)
{
    struct testdb *db = *state;
    add_link(db->watch, 1, 1, "active");
    add_event(db->watch, true, 1, "update");
    char err[512] = "";
    struct claimed_record *a = NULL, *b = NULL;
    size_t na = 0, nb = 0;
    if (queue_claim_records_for(db->watch, "w1", &filter, 10, LEASE_MS, &a, &na, err, sizeof err) !=
        0)
        fail_msg("claim failed: %s", err);
    assert_int_equal(na, 1);
    assert_int_equal(testdb_long(db->watch, "SELECT count(*) FROM change_events"
                                            " WHERE status = 'processing' AND lease_pair IS NULL"),
                     1);
    add_event(db->watch, false, 1, "update");
    PGconn *other = testdb_connect_or_fail(db->conninfo);
    assert_int_equal(claim_outcome(other, "p2", 10, &nb, &b), QUEUE_PICK_BLOCKED);
    assert_int_equal(nb, 0);
    complete_all(db->watch, "w1", a, na);
    assert_int_equal(claim_outcome(other, "p2", 10, &nb, &b), QUEUE_PICK_TAKEN);
    assert_int_equal(nb, 1);
    complete_all(other, "p2", b, nb);
    PQfinish(other);
}

/* Both sides due at once go to the same claim. */
static void test_both_sides_of_a_link_go_together(void **state)
{
    struct testdb *db = *state;
    for (int i = 1; i <= 20; i++)
        add_link(db->watch, i, i, "active");
    for (int i = 1; i <= 20; i++) {
        add_event(db->watch, true, i, "update");
        add_event(db->watch, false, 21 - i, "update");
    }
    PGconn *other = testdb_connect_or_fail(db->conninfo);
    size_t na = 0, nb = 0;
    bool others = false;
    struct claimed_record *a = claim_pairs(db->watch, "p1", 20, &na, &others);
    struct claimed_record *b = claim_pairs(other, "p2", 40, &nb, &others);
    assert_int_equal(na + nb, 40);
    for (int i = 1; i <= 20; i++) {
        char s[32], h[32];
        sf_id(s, sizeof s, i);
        hs_id(h, sizeof h, i);
        assert_int_equal(has_record(a, na, s), has_record(a, na, h));
        assert_int_equal(has_record(b, nb, s), has_record(b, nb, h));
    }
    complete_all(db->watch, "p1", a, na);
    complete_all(other, "p2", b, nb);
    PQfinish(other);
}

/* A record with an unfinished merge event needs the mapping alone: the pairs claim leaves it
 * (and reports it), while its partner record is still taken. */
static void test_merge_is_left_to_the_exclusive_claim(void **state)
{
    struct testdb *db = *state;
    add_link(db->watch, 1, 1, "active");
    add_event(db->watch, false, 1, "update");
    add_event(db->watch, false, 1, "merge");
    add_event(db->watch, true, 1, "update");
    size_t n = 0;
    bool others = false;
    struct claimed_record *recs = claim_pairs(db->watch, "p1", 10, &n, &others);
    assert_int_equal(n, 1);
    assert_string_equal(recs[0].record_id, "a0S000000000000001");
    assert_true(others);
    complete_all(db->watch, "p1", recs, n);
    char err[512] = "";
    assert_int_equal(
        queue_claim_records_for(db->watch, "x1", &filter, 10, LEASE_MS, &recs, &n, err, sizeof err),
        0);
    assert_int_equal(n, 1);
    assert_int_equal(recs[0].nevents, 2);
    complete_all(db->watch, "x1", recs, n);
}

/* A pairs claim with a bad mapping id is refused with a clear error. */
static void test_refuses_without_mapping(void **state)
{
    struct testdb *db = *state;
    char err[512] = "";
    struct claimed_record *recs = NULL;
    size_t n = 1;
    bool others = true;
    struct queue_pair_locks held;
    enum queue_pick deferred = QUEUE_PICK_DEFERRED;
    assert_int_equal(queue_claim_pairs(db->watch, "p1", &filter, 0, 10, LEASE_MS, &recs, &n,
                                       &others, &held, &deferred, err, sizeof err),
                     -1);
    assert_int_equal(deferred, QUEUE_PICK_EMPTY);
    assert_null(recs);
    assert_int_equal(n, 0);
    assert_false(others);
    assert_int_equal(held.n, 0);
    assert_non_null(strstr(err, "mapping id"));
    assert_int_equal(queue_claim_pairs(db->watch, "p1", NULL, MAPPING_ID, 10, LEASE_MS, &recs, &n,
                                       &others, &held, &deferred, err, sizeof err),
                     -1);
    release(db->watch, &held);
}

/* A holder that is still syncing keeps its links even after its lease ran out: the link lock is
 * session-level, so another pairs claim skips the link until the holder lets go; then the expired
 * events are taken over as usual. Letting go of locks one does not hold is an error. */
static void test_live_holder_keeps_its_links_past_the_lease(void **state)
{
    struct testdb *db = *state;
    add_link(db->watch, 1, 1, "active");
    add_link(db->watch, 2, 2, "active");
    add_event(db->watch, true, 1, "update");
    add_event(db->watch, false, 2, "update");
    size_t n = 0, nb = 0;
    bool others = false;
    struct queue_pair_locks held;
    struct claimed_record *a = claim_pairs_held(db->watch, "p1", 1, LEASE_MS, &n, &others, &held);
    assert_int_equal(n, 1);
    assert_int_equal(held.n, 1);
    testdb_exec_ok(db->watch, "UPDATE change_events SET lease_until = now() - interval '1 second'"
                              " WHERE status = 'processing'");
    add_event(db->watch, false, 1, "update"); /* the partner changes meanwhile */
    PGconn *other = testdb_connect_or_fail(db->conninfo);
    struct claimed_record *b = claim_pairs(other, "p2", 10, &nb, &others);
    assert_int_equal(nb, 1); /* link 2; link 1 is still p1's */
    assert_string_equal(b[0].record_id, "900002");
    complete_all(other, "p2", b, nb);
    b = claim_pairs(other, "p2", 10, &nb, &others);
    assert_int_equal(nb, 0);
    release(db->watch, &held);
    b = claim_pairs(other, "p2", 10, &nb, &others);
    assert_int_equal(nb, 1); /* link 1's HubSpot side; its expired Salesforce event is not due */
    assert_string_equal(b[0].record_id, "900001");
    complete_all(other, "p2", b, nb);
    char err[256] = "";
    long released = 0;
    assert_int_equal(queue_release_expired(db->watch, &released, err, sizeof err), 0);
    assert_int_equal(released, 1); /* the janitor returns it; now it is taken over */
    b = claim_pairs(other, "p2", 10, &nb, &others);
    assert_int_equal(nb, 1);
    assert_string_equal(b[0].record_id, "a0S000000000000001");
    complete_all(other, "p2", b, nb);
    queue_claimed_free(a, n);
    /* unlocking what is not held is reported */
    int64_t bogus[] = {424242};
    struct queue_pair_locks fake = {.mapping_id = MAPPING_ID, .n = 1};
    fake.links = malloc(sizeof bogus);
    assert_non_null(fake.links);
    memcpy(fake.links, bogus, sizeof bogus);
    assert_int_equal(queue_pairs_release(db->watch, &fake, err, sizeof err), -1);
    assert_non_null(strstr(err, "not held"));
    assert_null(fake.links);
    PQfinish(other);
}

/* With young_ms, a claim that would take a partial batch (a quarter of max_records or more) of
 * events that are all younger than young_ms takes nothing and says so: a burst is arriving.
 * Fewer records, a full batch, or an older event: the claim goes ahead. With gather_ms, fewer
 * records wait too while their oldest event is younger than gather_ms. */
/* A pairs claim of at most 40 records with f; the link locks are let go at once. */
static struct claimed_record *claim_young(PGconn *conn, const struct queue_claim_filter *f,
                                          size_t *n, bool *deferred)
{
    char err[512] = "";
    struct claimed_record *recs = NULL;
    bool others = false;
    struct queue_pair_locks held;
    enum queue_pick outcome = QUEUE_PICK_EMPTY;
    if (queue_claim_pairs(conn, "b1", f, MAPPING_ID, 40, LEASE_MS, &recs, n, &others, &held,
                          &outcome, err, sizeof err) != 0)
        fail_msg("pairs claim failed: %s", err);
    *deferred = outcome == QUEUE_PICK_DEFERRED;
    release(conn, &held);
    return recs;
}

static void test_partial_batch_of_a_burst_waits(void **state)
{
    struct testdb *db = *state;
    for (int i = 1; i <= 200; i++)
        add_link(db->watch, i, i, "active");
    for (int i = 1; i <= 8; i++)
        add_event(db->watch, true, i, "update");
    struct queue_claim_filter young = filter;
    young.young_ms = 60000;
    struct claimed_record *recs = NULL;
    size_t n = 0;
    bool deferred = true;
    /* young_min 1: any partial batch of young events waits */
    young.young_min = 1;
    recs = claim_young(db->watch, &young, &n, &deferred);
    assert_true(deferred);
    assert_int_equal(n, 0);
    young.young_min = 0;
    /* 8 of 40: under a quarter, claimed at once (a trickle) */
    recs = claim_young(db->watch, &young, &n, &deferred);
    assert_false(deferred);
    assert_int_equal(n, 8);
    complete_all(db->watch, "b1", recs, n);
    /* 30 of 40, all just arrived: deferred, nothing leased, no lock kept after the release */
    for (int i = 21; i <= 50; i++)
        add_event(db->watch, true, i, "update");
    recs = claim_young(db->watch, &young, &n, &deferred);
    assert_true(deferred);
    assert_int_equal(n, 0);
    assert_null(recs);
    assert_int_equal(testdb_long(db->watch, "SELECT count(*) FROM change_events"
                                            " WHERE status = 'processing'"),
                     0);
    assert_int_equal(testdb_long(db->watch, "SELECT count(*) FROM pg_locks WHERE locktype ="
                                            " 'advisory' AND pid = pg_backend_pid()"),
                     0);
    /* the burst goes on: 40 of 40, a full batch, claimed */
    for (int i = 51; i <= 70; i++)
        add_event(db->watch, true, i, "update");
    recs = claim_young(db->watch, &young, &n, &deferred);
    assert_false(deferred);
    assert_int_equal(n, 40);
    complete_all(db->watch, "b1", recs, n);
    /* the tail: 10 left, under a quarter; and a partial batch whose oldest event is old enough */
    for (int i = 71; i <= 90; i++)
        add_event(db->watch, true, i, "update");
    testdb_exec_ok(db->watch, "UPDATE change_events SET next_attempt_at = now() - interval '1 s'"
                              " WHERE status = 'pending'");
    young.young_ms = 500;
    recs = claim_young(db->watch, &young, &n, &deferred);
    assert_false(deferred);
    assert_int_equal(n, 30);
    complete_all(db->watch, "b1", recs, n);
    /* gather_ms: a small partial batch (3 of 40) that has just become due waits for the rest of
     * its arrival; once its oldest event is older than gather_ms it is claimed */
    for (int i = 91; i <= 93; i++)
        add_event(db->watch, true, i, "update");
    young.gather_ms = 60000;
    recs = claim_young(db->watch, &young, &n, &deferred);
    assert_true(deferred);
    assert_int_equal(n, 0);
    testdb_exec_ok(db->watch, "UPDATE change_events SET next_attempt_at = now() - interval '1 s'"
                              " WHERE status = 'pending'");
    young.gather_ms = 500;
    recs = claim_young(db->watch, &young, &n, &deferred);
    assert_false(deferred);
    assert_int_equal(n, 3);
    complete_all(db->watch, "b1", recs, n);
}

/* ---- concurrency: 8 claimers, 300 links, events on both sides arriving meanwhile ---- */

#define CP_LINKS   300
#define CP_TOTAL   3000 /* events, inserted while the claimers run */
#define CP_THREADS 8

struct cp_shared {
    pthread_barrier_t start; /* the claimers and the inserter */
    char *conninfo;
    atomic_int holder[CP_LINKS + 1];
    atomic_int seen[CP_TOTAL + 1];
    atomic_int violations;
    atomic_int errors;
    atomic_bool inserting;
    int64_t base;    /* event ids are base + 1 .. base + CP_TOTAL */
    bool hold_locks; /* keep the link locks until settled (else let go at once: leases only) */
    int lease_ms;
    char first_error[256];
};

struct cp_thread {
    struct cp_shared *sh;
    PGconn *conn;
    char worker[16];
    int me;
    int claims;
};

static void cp_error(struct cp_shared *sh, const char *msg)
{
    if (atomic_fetch_add(&sh->errors, 1) == 0)
        snprintf(sh->first_error, sizeof sh->first_error, "%s", msg);
}

/* The link number of a claimed record (both sides carry it in their ids). */
static int link_number(const struct claimed_record *r)
{
    if (strcmp(r->source, "salesforce") == 0)
        return (int)strtol(r->record_id + 3, NULL, 10);
    return (int)strtol(r->record_id, NULL, 10) - 900000;
}

/* Events on both sides of few links at a time, so a record's partner is often leased when the
 * record's next event arrives. */
static void *cp_inserter(void *arg)
{
    struct cp_shared *sh = arg;
    PGconn *conn = PQconnectdb(sh->conninfo);
    pthread_barrier_wait(&sh->start);
    for (int k = 0; k < CP_TOTAL && PQstatus(conn) == CONNECTION_OK; k++) {
        int link = (k / 2 * 37) % CP_LINKS + 1;
        char rec[32], key[32];
        if (k % 2 == 0)
            sf_id(rec, sizeof rec, link);
        else
            hs_id(rec, sizeof rec, link);
        snprintf(key, sizeof key, "cp-%d", k);
        const char *params[] = {k % 2 == 0 ? "salesforce" : "hubspot", key,
                                k % 2 == 0 ? "Project__c" : "2-100", rec};
        PGresult *r = PQexecParams(conn,
                                   "INSERT INTO change_events (source, idempotency_key,"
                                   " object_type, record_id, kind, occurred_at, payload)"
                                   " VALUES ($1, $2, $3, $4, 'update', clock_timestamp(), '{}')",
                                   4, NULL, params, NULL, NULL, 0);
        if (PQresultStatus(r) != PGRES_COMMAND_OK)
            cp_error(sh, PQresultErrorMessage(r));
        PQclear(r);
        if (k % 2 == 0)
            usleep(700); /* the Salesforce side is often claimed alone before its partner */
    }
    PQfinish(conn);
    atomic_store(&sh->inserting, false);
    return NULL;
}

static void cp_settle(struct cp_thread *t, struct claimed_record *recs, size_t n)
{
    char err[512] = "";
    for (size_t i = 0; i < n; i++) {
        long changed = 0;
        if (queue_complete(t->conn, t->worker, recs[i].ids, recs[i].nevents, &changed, err,
                           sizeof err) != 0)
            cp_error(t->sh, err);
    }
}

static void *cp_main(void *arg)
{
    struct cp_thread *t = arg;
    struct cp_shared *sh = t->sh;
    pthread_barrier_wait(&sh->start);
    for (int round = 0; round < 100000; round++) {
        char err[512] = "";
        struct claimed_record *recs = NULL;
        size_t n = 0;
        bool others = false;
        bool last_look = !atomic_load(&sh->inserting);
        struct queue_pair_locks held;
        enum queue_pick deferred = QUEUE_PICK_EMPTY;
        if (queue_claim_pairs(t->conn, t->worker, &filter, MAPPING_ID, 7, sh->lease_ms, &recs, &n,
                              &others, &held, &deferred, err, sizeof err) != 0) {
            cp_error(sh, err);
            return NULL;
        }
        if ((!sh->hold_locks || n == 0) && queue_pairs_release(t->conn, &held, err, sizeof err))
            cp_error(sh, err);
        if (n == 0) {
            if (last_look && testdb_long(t->conn, "SELECT count(*) FROM change_events"
                                                  " WHERE status <> 'done'") == 0)
                return NULL;
            usleep(200);
            continue;
        }
        t->claims++;
        int links[64];
        size_t nl = 0;
        for (size_t i = 0; i < n; i++) {
            int l = link_number(&recs[i]);
            bool mine = false;
            for (size_t k = 0; k < nl; k++)
                mine |= links[k] == l;
            if (!mine) {
                int expected = 0;
                if (!atomic_compare_exchange_strong(&sh->holder[l], &expected, t->me))
                    atomic_fetch_add(&sh->violations, 1);
                if (nl < 64)
                    links[nl++] = l;
            }
            for (size_t j = 0; j < recs[i].nevents; j++) {
                int64_t k = recs[i].ids[j] - sh->base;
                if (k >= 1 && k <= CP_TOTAL)
                    atomic_fetch_add(&sh->seen[k], 1);
            }
        }
        usleep(2000); /* "syncing": the other claimers and the inserter go on meanwhile */
        for (size_t k = 0; k < nl; k++)
            atomic_store(&sh->holder[links[k]], 0); /* before settling, so no false alarm */
        cp_settle(t, recs, n);
        if (sh->hold_locks && queue_pairs_release(t->conn, &held, err, sizeof err))
            cp_error(sh, err);
        queue_claimed_free(recs, n);
    }
    cp_error(sh, "a claimer gave up after 100000 rounds");
    return NULL;
}

/* The claimers with hold_locks / lease_ms; asserts that no link was ever held twice and every
 * event was claimed once. */
static void run_claimers(struct testdb *db, bool hold_locks, int lease_ms)
{
    for (int i = 1; i <= CP_LINKS; i++)
        add_link(db->watch, i, i, "active");
    struct cp_shared *sh = calloc(1, sizeof *sh);
    assert_non_null(sh);
    sh->conninfo = db->conninfo;
    sh->hold_locks = hold_locks;
    sh->lease_ms = lease_ms;
    sh->base = add_event(db->watch, true, 1, "update"); /* ids after this one are the run's */
    testdb_exec_ok(db->watch, "UPDATE change_events SET status = 'done', finished_at = now()");
    atomic_store(&sh->inserting, true);
    pthread_barrier_init(&sh->start, NULL, CP_THREADS + 1);
    struct cp_thread threads[CP_THREADS];
    pthread_t tids[CP_THREADS], inserter;
    for (int i = 0; i < CP_THREADS; i++) {
        threads[i] =
            (struct cp_thread){.sh = sh, .conn = testdb_connect_or_fail(db->conninfo), .me = i + 1};
        snprintf(threads[i].worker, sizeof threads[i].worker, "cp%d", i);
    }
    assert_int_equal(pthread_create(&inserter, NULL, cp_inserter, sh), 0);
    for (int i = 0; i < CP_THREADS; i++)
        assert_int_equal(pthread_create(&tids[i], NULL, cp_main, &threads[i]), 0);
    pthread_join(inserter, NULL);
    int busy = 0, claims = 0;
    for (int i = 0; i < CP_THREADS; i++) {
        pthread_join(tids[i], NULL);
        PQfinish(threads[i].conn);
        busy += threads[i].claims > 0;
        claims += threads[i].claims;
    }
    if (atomic_load(&sh->errors))
        fail_msg("%d errors, first: %s", atomic_load(&sh->errors), sh->first_error);
    assert_int_equal(atomic_load(&sh->violations), 0);
    for (int k = 1; k <= CP_TOTAL; k++)
        if (atomic_load(&sh->seen[k]) != 1)
            fail_msg("event %d was claimed %d times", k, atomic_load(&sh->seen[k]));
    assert_true(busy >= 2); /* the claimers did work side by side */
    printf("    %d claims by %d of %d claimers (%s, lease %d ms)\n", claims, busy, CP_THREADS,
           hold_locks ? "link locks held" : "leases only", lease_ms);
    pthread_barrier_destroy(&sh->start);
    free(sh);
}

/* Guarded by leases alone (the link locks let go right after each claim). */
static void test_concurrent_pairs_claimers_never_share_a_link(void **state)
{
    run_claimers(*state, false, LEASE_MS);
}

/* Guarded by the link locks alone (every lease has run out by the time anyone looks). */
static void test_concurrent_holders_keep_links_with_expired_leases(void **state)
{
    run_claimers(*state, true, 1);
}

/* A pending event of unlinked Salesforce record i that is a piece of import imp. */
static void add_piece(PGconn *conn, int64_t imp, int i)
{
    char ev[24], im[24];
    snprintf(ev, sizeof ev, "%" PRId64, add_event(conn, true, i, "update"));
    snprintf(im, sizeof im, "%" PRId64, imp);
    const char *params[] = {im, ev};
    insert_id(conn,
              "UPDATE change_events SET import_id = $1::bigint WHERE id = $2::bigint"
              " RETURNING id",
              2, params);
}

static size_t count_pieces(const struct claimed_record *recs, size_t n)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        k += recs[i].piece;
    return k;
}

/* An import's pieces (creates) and linked pairs (updates, echoes) never share a claim: the oldest
 * free candidate decides, so echoes due first go alone, then the pieces, and a piece due first
 * goes without the echoes behind it. */
static void test_pieces_and_pairs_are_not_mixed(void **state)
{
    struct testdb *db = *state;
    PGconn *c = db->watch;
    for (int i = 1; i <= 3; i++)
        add_link(c, i, i, "active");
    add_event(c, true, 1, "update"); /* echoes of linked pairs, due first */
    add_event(c, false, 1, "update");
    add_event(c, true, 2, "update");
    int64_t imp = insert_id(c,
                            "INSERT INTO sync_imports (mapping_id, direction, status)"
                            " VALUES (7, 'salesforce_to_hubspot', 'running') RETURNING id",
                            0, NULL);
    for (int i = 101; i <= 104; i++)
        add_piece(c, imp, i);

    size_t n = 0;
    bool others = false;
    struct claimed_record *a = claim_pairs(c, "w1", 10, &n, &others);
    assert_int_equal(n, 3); /* the three echoes, not the pieces behind them */
    assert_int_equal(count_pieces(a, n), 0);
    size_t m = 0;
    struct claimed_record *b = claim_pairs(c, "w2", 10, &m, &others);
    assert_int_equal(m, 4); /* the echoes are leased: the pieces go together */
    assert_int_equal(count_pieces(b, m), 4);
    complete_all(c, "w1", a, n);
    complete_all(c, "w2", b, m);

    for (int i = 105; i <= 106; i++) /* now a piece is due first */
        add_piece(c, imp, i);
    add_event(c, false, 3, "update");
    a = claim_pairs(c, "w1", 10, &n, &others);
    assert_int_equal(n, 2);
    assert_int_equal(count_pieces(a, n), 2);
    complete_all(c, "w1", a, n);
    a = claim_pairs(c, "w1", 10, &n, &others);
    assert_int_equal(n, 1);
    assert_int_equal(count_pieces(a, n), 0);
    complete_all(c, "w1", a, n);
}

/* ---- the pairs claim as the tables grow ---- */

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

/* 20 rounds: 10 linked records get an event on each side, one pairs claim takes them (timed),
 * and they are completed untimed. The median claim time in ms; *worst the slowest. */
static double measure_pairs_claims(PGconn *conn, int first_link, double *worst)
{
    double times[20];
    for (int round = 0; round < 20; round++) {
        for (int k = 0; k < 10; k++) {
            int link = first_link + round * 10 + k;
            add_event(conn, true, link, "update");
            add_event(conn, false, link, "update");
        }
        size_t n = 0;
        bool others = false;
        double t0 = now_ms();
        struct claimed_record *recs = claim_pairs(conn, "lat", 20, &n, &others);
        times[round] = now_ms() - t0;
        assert_int_equal(n, 20);
        complete_all(conn, "lat", recs, n);
    }
    *worst = 0;
    for (int i = 0; i < 20; i++)
        *worst = times[i] > *worst ? times[i] : *worst;
    for (int i = 1; i < 20; i++) /* insertion sort for the median */
        for (int j = i; j > 0 && times[j - 1] > times[j]; j--) {
            double t = times[j];
            times[j] = times[j - 1];
            times[j - 1] = t;
        }
    return (times[9] + times[10]) / 2;
}

/* With 200,000 links and a million done events the pairs claim still finds links through the
 * unique indexes and events through the partial indexes (plans asserted through auto_explain;
 * the latency is printed, not asserted). */
static void test_pairs_claim_with_many_links_and_done_rows(void **state)
{
    struct testdb *db = *state;
    for (int i = 1; i <= 400; i++)
        add_link(db->watch, i, i, "active");
    double worst_before, worst_after;
    double before = measure_pairs_claims(db->watch, 1, &worst_before);
    double t0 = now_ms();
    testdb_exec_ok(db->watch,
                   "INSERT INTO sync_links (mapping_id, salesforce_id, hubspot_id, state)"
                   " SELECT CASE WHEN g % 4 = 0 THEN 8 ELSE 7 END,"
                   "  'a0S' || lpad(g::text, 15, '0'), (900000 + g)::text, 'active'"
                   " FROM generate_series(1000, 200999) g");
    testdb_exec_ok(db->watch,
                   "INSERT INTO change_events (source, idempotency_key, object_type, record_id,"
                   " kind, occurred_at, received_at, status, next_attempt_at, finished_at, payload)"
                   " SELECT CASE WHEN g % 2 = 0 THEN 'salesforce' ELSE 'hubspot' END, 'old-' || g,"
                   "  CASE WHEN g % 2 = 0 THEN 'Project__c' ELSE '2-100' END,"
                   "  CASE WHEN g % 2 = 0 THEN 'a0S' || lpad((1000 + g % 200000)::text, 15, '0')"
                   "  ELSE (901000 + g % 200000)::text END,"
                   "  'update', now() - interval '1 day', now() - interval '1 day', 'done',"
                   "  now() - interval '1 day', now() - interval '1 day', '{}'"
                   " FROM generate_series(1, 1000000) g");
    testdb_exec_ok(db->watch, "ANALYZE change_events");
    testdb_exec_ok(db->watch, "ANALYZE sync_links");
    double load_ms = now_ms() - t0;
    double after = measure_pairs_claims(db->watch, 201, &worst_after);
    printf("    pairs claim of 10 links x 2 records: median %.2f ms (max %.2f) with 400 links;"
           " median %.2f ms (max %.2f) with 200,400 links and 1,000,000 done rows (loaded in"
           " %.1f s)\n",
           before, worst_before, after, worst_after, load_ms / 1000.0);

    for (int k = 0; k < 10; k++) {
        add_event(db->watch, true, 300 + k, "update");
        add_event(db->watch, false, 300 + k, "update");
    }
    testdb_plans_begin(db->watch);
    size_t n = 0;
    bool others = false;
    struct claimed_record *recs = claim_pairs(db->watch, "plan", 20, &n, &others);
    const char *plans = testdb_plans_end(db->watch);
    assert_int_equal(n, 20);
    complete_all(db->watch, "plan", recs, n);
    if (!strstr(plans, "Index Scan using change_events_due on change_events") ||
        !strstr(plans, "using sync_links_salesforce on sync_links") ||
        !strstr(plans, "using sync_links_hubspot on sync_links") ||
        strstr(plans, "Seq Scan on change_events") || strstr(plans, "Seq Scan on sync_links"))
        fail_msg("the pairs claim does not use the indexes:\n%s", plans);
}

int main(void)
{
    setvbuf(stdout, NULL, _IONBF, 0);
#define T(fn) cmocka_unit_test_setup_teardown(fn, testdb_setup_migrated, testdb_teardown)
    const struct CMUnitTest tests[] = {
        T(test_takes_linked_records_and_reports_the_rest),
        T(test_a_link_is_held_by_one_claim),
        T(test_blocked_pick_is_told_apart_from_empty),
        T(test_kept_link_holds_the_pair_while_leased),
        T(test_record_leased_by_a_whole_record_claim_holds_its_pair),
        T(test_both_sides_of_a_link_go_together),
        T(test_merge_is_left_to_the_exclusive_claim),
        T(test_refuses_without_mapping),
        T(test_live_holder_keeps_its_links_past_the_lease),
        T(test_partial_batch_of_a_burst_waits),
        T(test_pieces_and_pairs_are_not_mixed),
        T(test_concurrent_pairs_claimers_never_share_a_link),
        T(test_concurrent_holders_keep_links_with_expired_leases),
        T(test_pairs_claim_with_many_links_and_done_rows),
    };
    return cmocka_run_group_tests_name("queue_claim_pairs", tests, NULL, NULL);
}
