/* it_sync_resilience.c: the sync engine under crashes, several processes and faults, end to end
 * (real synkro, crmsim, PostgreSQL):
 * - kill -9 at random points while writes are slowed down (so kills land mid-batch, between the
 *   remote write and the commit), plus one kill aimed right after a remote create: after restarts
 *   no record is duplicated on either side and nothing is lost;
 * - three synkro processes on one database: every event done once, per-record order kept (the
 *   last of several quick edits wins), no duplicate records, writes bounded by events;
 * - 20% faults (429, 503, timeouts) on both CRMs: everything still converges, nothing fails;
 * - kill -9 of a process holding leases (the default 300 s lease), alone and restarted, and one
 *   of three: every event it held is synced again within 10 s (its workers' sessions ended, so
 *   the others, or its successor, release its leases at once), and nothing is written twice.
 *
 * Records are tracked by the side they were created on; the check finds each one's partner by
 * the identity fields (HubSpot salesforce_id / Salesforce HubSpot_Id__c). */
#include "sync_env.h"

#include <json-c/json.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#define MAX_TRACKED 128

struct tracked {
    char id[64];
    bool on_sf;       /* created in Salesforce (else HubSpot) */
    char two_way[64]; /* the value both sides must end with */
};

struct tracker {
    struct tracked t[MAX_TRACKED];
    size_t n;
};

static int teardown(void **state)
{
    struct sync_env *env = *state;
    *state = NULL;
    return sync_env_stop(env) == 0 ? 0 : -1;
}

static struct sync_env *start(void **state, const struct sync_env_options *o)
{
    struct sync_env *env = sync_env_start(o);
    if (!env)
        fail_msg("the sync environment did not start");
    *state = env;
    return env;
}

static void create_tracked(const struct sync_env *env, struct tracker *tr, bool on_sf,
                           const char *value)
{
    assert_true(tr->n < MAX_TRACKED);
    struct tracked *t = &tr->t[tr->n];
    char *body = on_sf
                     ? sync_json_kv("Two_Way__c", value, "Always_Sf__c", value, (const char *)NULL)
                     : sync_json_kv("two_way", value, "always_hs", value, (const char *)NULL);
    int rc = on_sf ? sync_sf_create(env, body, t->id, sizeof t->id)
                   : sync_hs_create(env, body, t->id, sizeof t->id);
    free(body);
    assert_int_equal(rc, 0);
    t->on_sf = on_sf;
    snprintf(t->two_way, sizeof t->two_way, "%s", value);
    tr->n++;
}

/* Edits a tracked record's two_way on its own side. */
static void edit_tracked(const struct sync_env *env, struct tracked *t, const char *value)
{
    char *body = t->on_sf ? sync_json_kv("Two_Way__c", value, (const char *)NULL)
                          : sync_json_kv("two_way", value, (const char *)NULL);
    int rc = t->on_sf ? sync_sf_update(env, t->id, body) : sync_hs_update(env, t->id, body);
    free(body);
    assert_int_equal(rc, 0);
    snprintf(t->two_way, sizeof t->two_way, "%s", value);
}

struct check {
    const struct sync_env *env;
    const struct tracker *tr;
    bool report;
    int problems;
};

static void problem(struct check *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void problem(struct check *c, const char *fmt, ...)
{
    c->problems++;
    if (!c->report || c->problems > 20)
        return;
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

/* Every tracked record has exactly one live partner holding the same two_way value; nothing else
 * is live on either side. */
static bool converged(void *ud)
{
    struct check *c = ud;
    c->problems = 0;
    /* a failed event never syncs: stop waiting and report it */
    if (!c->report && sync_db_count(c->env,
                                    "SELECT count(*) FROM change_events WHERE status = "
                                    "'failed'",
                                    (const char *)NULL) > 0)
        return true;
    json_object *sf = sync_sf_list(c->env), *hs = sync_hs_list(c->env);
    size_t live_sf = 0, live_hs = 0;
    for (size_t i = 0; i < json_object_array_length(sf); i++)
        live_sf += !sync_sf_deleted(json_object_array_get_idx(sf, i));
    for (size_t i = 0; i < json_object_array_length(hs); i++)
        live_hs += !sync_hs_archived(json_object_array_get_idx(hs, i));
    if (live_sf != c->tr->n || live_hs != c->tr->n)
        problem(c, "live records: Salesforce %zu, HubSpot %zu, expected %zu each", live_sf, live_hs,
                c->tr->n);
    for (size_t k = 0; k < c->tr->n; k++) {
        const struct tracked *t = &c->tr->t[k];
        json_object *own = NULL, *partner = NULL;
        size_t partners = 0;
        json_object *mine = t->on_sf ? sf : hs, *other = t->on_sf ? hs : sf;
        for (size_t i = 0; i < json_object_array_length(mine); i++) {
            json_object *r = json_object_array_get_idx(mine, i);
            if (strcmp(json_object_get_string(sync_get(r, t->on_sf ? "Id" : "id")), t->id) == 0)
                own = r;
        }
        for (size_t i = 0; i < json_object_array_length(other); i++) {
            json_object *r = json_object_array_get_idx(other, i);
            bool live = t->on_sf ? !sync_hs_archived(r) : !sync_sf_deleted(r);
            const char *ref =
                t->on_sf ? sync_hs_value(r, SYNC_HS_IDENTITY) : sync_sf_value(r, SYNC_SF_IDENTITY);
            if (live && strcmp(ref, t->id) == 0) {
                partners++;
                partner = r;
            }
        }
        if (partners != 1) {
            problem(c, "%s record %s has %zu live partners (expected 1)",
                    t->on_sf ? "Salesforce" : "HubSpot", t->id, partners);
            continue;
        }
        const char *own_v =
            t->on_sf ? sync_sf_value(own, "Two_Way__c") : sync_hs_value(own, "two_way");
        const char *other_v =
            t->on_sf ? sync_hs_value(partner, "two_way") : sync_sf_value(partner, "Two_Way__c");
        if (strcmp(own_v, t->two_way) != 0 || strcmp(other_v, t->two_way) != 0)
            problem(c, "%s record %s two_way: expected \"%s\" both sides, got \"%s\" / \"%s\"",
                    t->on_sf ? "Salesforce" : "HubSpot", t->id, t->two_way, own_v, other_v);
    }
    json_object_put(sf);
    json_object_put(hs);
    return c->problems == 0;
}

static void expect_converged(const struct sync_env *env, const struct tracker *tr, int timeout_ms)
{
    struct check c = {env, tr, false, 0};
    bool ok = harness_wait_until(converged, &c, timeout_ms) && sync_wait_quiet(env, 60000);
    c.report = true;
    bool now = converged(&c); /* again, reporting every problem */
    if (!ok || !now) {
        sync_report_failed(env, 10);
        sync_env_dump_logs(env, 3000);
        fail_msg("%d problem(s) after waiting %d ms", c.problems, timeout_ms);
    }
    if (sync_report_failed(env, 10) != 0)
        fail_msg("some events failed");
}

/* ---- crash ---- */

static void test_crash_mid_batch(void **state)
{
    /* a short lease: the killed process's claims come back quickly */
    static const char *const lease[] = {"SYNKRO_LEASE_MS=3000", NULL};
    struct sync_env_options o = {.sweep_interval_s = 2, .workers = 2, .extra_env = lease};
    struct sync_env *env = start(state, &o);
    static struct tracker tracker;
    struct tracker *tr = &tracker;
    memset(tr, 0, sizeof *tr);
    unsigned seed = (unsigned)time(NULL);
    fprintf(stderr, "crash test seed %u\n", seed);
    srand(seed);
    /* every CRM call takes a while, so a kill finds work in flight */
    assert_int_equal(sync_fault_add(env, "{\"match\":\"* /crm/v3/objects\",\"latency_ms\":300}"),
                     0);
    assert_int_equal(sync_fault_add(env, "{\"match\":\"* /services/data\",\"latency_ms\":300}"), 0);
    for (int round = 0; round < 6; round++) {
        for (int k = 0; k < 4; k++) {
            char v[64];
            snprintf(v, sizeof v, "crash-%d-%d-sf", round, k);
            create_tracked(env, tr, true, v);
            snprintf(v, sizeof v, "crash-%d-%d-hs", round, k);
            create_tracked(env, tr, false, v);
        }
        if (round > 0)
            edit_tracked(env, &tr->t[(size_t)rand() % (tr->n - 8)], "edited-before-crash");
        harness_sleep_ms(300 + rand() % 1500);
        assert_int_equal(sync_env_proc_stop(env, 0, SIGKILL, 5000), 128 + SIGKILL);
        harness_sleep_ms(100 + rand() % 400);
        assert_int_equal(sync_env_proc_start(env, 0), 0);
    }

    /* one kill aimed between a remote create and its commit: Salesforce writes (the identity
     * written back) are slow, HubSpot creates are not */
    sync_faults_clear(env);
    assert_int_equal(
        sync_fault_add(env, "{\"match\":\"PATCH /services/data\",\"latency_ms\":2000}"), 0);
    assert_int_equal(sync_fault_add(env, "{\"match\":\"POST /services/data\",\"latency_ms\":2000}"),
                     0);
    size_t first = tr->n;
    for (int k = 0; k < 3; k++) {
        char v[64];
        snprintf(v, sizeof v, "aimed-%d", k);
        create_tracked(env, tr, true, v);
    }
    char hs_id[64];
    bool created = sync_wait_hs_for_sf(env, tr->t[first].id, hs_id, sizeof hs_id, 60000);
    assert_int_equal(sync_env_proc_stop(env, 0, SIGKILL, 5000), 128 + SIGKILL);
    long long linked = sync_db_count(env,
                                     "SELECT count(*) FROM sync_links WHERE salesforce_id = $1 "
                                     "AND hubspot_id IS NOT NULL",
                                     tr->t[first].id, (const char *)NULL);
    fprintf(stderr, "aimed kill: HubSpot record created %s, link committed %s\n",
            created ? "yes" : "no", linked > 0 ? "yes (kill after commit)" : "no (mid-write)");
    sync_faults_clear(env);
    assert_int_equal(sync_env_proc_start(env, 0), 0);

    expect_converged(env, tr, 150000);
}

/* ---- three processes ---- */

static void test_three_processes_share_work(void **state)
{
    struct sync_env_options o = {.nprocs = 3, .workers = 2};
    struct sync_env *env = start(state, &o);
    static struct tracker tracker;
    struct tracker *tr = &tracker;
    memset(tr, 0, sizeof *tr);
    for (int k = 0; k < 15; k++) {
        char v[64];
        snprintf(v, sizeof v, "p3-%d-sf", k);
        create_tracked(env, tr, true, v);
        snprintf(v, sizeof v, "p3-%d-hs", k);
        create_tracked(env, tr, false, v);
    }
    expect_converged(env, tr, 120000);
    /* several quick edits per record, interleaved across records: the last one must win */
    for (int step = 1; step <= 5; step++)
        for (size_t i = 0; i < tr->n; i++) {
            char v[64];
            snprintf(v, sizeof v, "step-%d-of-%zu", step, i);
            edit_tracked(env, &tr->t[i], v);
        }
    expect_converged(env, tr, 120000);

    long long not_done = sync_db_count(env,
                                       "SELECT count(*) FROM change_events WHERE status <> "
                                       "'done'",
                                       (const char *)NULL);
    long long retried = sync_db_count(env, "SELECT count(*) FROM change_events WHERE attempts > 0",
                                      (const char *)NULL);
    long long events = sync_db_count(env, "SELECT count(*) FROM change_events", (const char *)NULL);
    long long owners = sync_db_count(env,
                                     "SELECT count(DISTINCT split_part(lease_owner, ':', 2)) "
                                     "FROM change_events WHERE lease_owner IS NOT NULL",
                                     (const char *)NULL);
    long writes = sync_write_calls(env, NULL);
    fprintf(stderr,
            "three processes: %lld events, %ld writes, %lld retried, lease owners seen %lld\n",
            events, writes, retried, owners);
    assert_int_equal(not_done, 0);
    /* no faults here: nothing needed a second try */
    assert_int_equal(retried, 0);
    /* an event processed once causes at most one write; coalescing and batching make fewer */
    if (writes > events)
        fail_msg("%ld writes for %lld events: some work was done twice", writes, events);
    /* settled: nothing more is written */
    harness_sleep_ms(2000);
    assert_true(sync_wait_quiet(env, 30000));
    assert_int_equal(sync_write_calls(env, NULL), writes);
}

/* ---- faults ---- */

static void test_faults_still_converge(void **state)
{
    struct sync_env_options o = {.workers = 2};
    struct sync_env *env = start(state, &o);
    const char *rules[] = {
        "{\"match\":\"* /crm\",\"rate\":0.07,\"status\":429,\"body\":{\"status\":\"error\","
        "\"message\":\"You have reached your secondly limit.\",\"errorType\":\"RATE_LIMIT\","
        "\"correlationId\":\"sim\",\"policyName\":\"SECONDLY\"}}",
        "{\"match\":\"* /crm\",\"rate\":0.08,\"status\":503}",
        "{\"match\":\"* /crm\",\"rate\":0.07,\"timeout\":true}",
        "{\"match\":\"* /services/data\",\"rate\":0.08,\"status\":503}",
        "{\"match\":\"* /services/data\",\"rate\":0.07,\"status\":429}",
        "{\"match\":\"* /services/data\",\"rate\":0.07,\"timeout\":true}",
    };
    for (size_t i = 0; i < sizeof rules / sizeof rules[0]; i++)
        assert_int_equal(sync_fault_add(env, rules[i]), 0);
    static struct tracker tracker;
    struct tracker *tr = &tracker;
    memset(tr, 0, sizeof *tr);
    for (int k = 0; k < 12; k++) {
        char v[64];
        snprintf(v, sizeof v, "f-%d-sf", k);
        create_tracked(env, tr, true, v);
        snprintf(v, sizeof v, "f-%d-hs", k);
        create_tracked(env, tr, false, v);
    }
    expect_converged(env, tr, 180000);
    /* waves of edits, each settled before the next: many batches meet the faults */
    for (int wave = 0; wave < 4; wave++) {
        for (size_t i = 0; i < tr->n; i++) {
            char v[64];
            snprintf(v, sizeof v, "f-edit-%d-%zu", wave, i);
            edit_tracked(env, &tr->t[i], v);
            if (i % 4 == 3)
                harness_sleep_ms(100); /* a few records per batch */
        }
        expect_converged(env, tr, 180000);
    }
    json_object *faults = sync_sim(env, "GET", "/_sim/faults", NULL, NULL);
    long hits = 0;
    json_object *list = sync_get(faults, "faults");
    for (size_t i = 0; list && i < json_object_array_length(list); i++)
        hits += json_object_get_int(sync_get(json_object_array_get_idx(list, i), "hits"));
    json_object_put(faults);
    fprintf(stderr, "faults injected: %ld\n", hits);
    assert_true(hits > 0);
}

/* ---- leases of a killed process ---- */

static long long mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

#define HELD_MAX 512

/* The ids of the events process idx holds (processing under a lease of one of its workers,
 * whose ids are "host:pid:..."); at most HELD_MAX. */
static size_t held_events(const struct sync_env *env, size_t idx, long long *ids)
{
    char pid[24];
    snprintf(pid, sizeof pid, "%ld", (long)env->procs[idx].pid);
    size_t n = 0;
    long long last = 0;
    while (n < HELD_MAX) {
        char after[24];
        snprintf(after, sizeof after, "%lld", last);
        long long id = sync_db_count(env,
                                     "SELECT COALESCE(min(id), 0) FROM change_events"
                                     " WHERE status = 'processing' AND id > $1::bigint"
                                     " AND split_part(lease_owner, ':', 2) = $2",
                                     after, pid, (const char *)NULL);
        if (id <= 0)
            break;
        ids[n++] = last = id;
    }
    return n;
}

static long long not_done(const struct sync_env *env, const long long *ids, size_t n)
{
    long long open = 0;
    for (size_t i = 0; i < n; i++) {
        char id[24];
        snprintf(id, sizeof id, "%lld", ids[i]);
        open += sync_db_count(env,
                              "SELECT count(*) FROM change_events WHERE id = $1::bigint"
                              " AND status <> 'done'",
                              id, (const char *)NULL);
    }
    return open;
}

/* nprocs processes sync edits of linked pairs
 * while every CRM write takes 2 s; process `victim` is frozen (SIGSTOP) while it holds events,
 * those events are listed, the slowness is lifted, and it is killed with SIGKILL (and started
 * again when `restart`). Every listed event must be done within 10 s of the kill, though the
 * lease is the default 300 s; then everything converges and the CRMs saw no more writes than
 * the events plus the killed batches' own (whose commit never happened). */
static void lease_recovery(void **state, size_t nprocs, size_t victim, bool restart)
{
    /* small batches and a slot for every worker: each process takes a share; the lease is the
     * default 300 s (the environment's is 30 s) */
    static const char *const small[] = {"SYNKRO_WORKER_BATCH=3", "SYNKRO_MAPPING_WORKERS=6",
                                        "SYNKRO_LEASE_MS=300000", NULL};
    struct sync_env_options o = {.nprocs = nprocs, .workers = 2, .extra_env = small};
    struct sync_env *env = start(state, &o);
    static struct tracker tracker;
    struct tracker *tr = &tracker;
    memset(tr, 0, sizeof *tr);
    for (int k = 0; k < 12; k++) {
        char v[64];
        snprintf(v, sizeof v, "lease-%d-sf", k);
        create_tracked(env, tr, true, v);
        snprintf(v, sizeof v, "lease-%d-hs", k);
        create_tracked(env, tr, false, v);
    }
    expect_converged(env, tr, 120000);
    long writes_before = sync_write_calls(env, NULL);
    long long events_before =
        sync_db_count(env, "SELECT count(*) FROM change_events", (const char *)NULL);

    assert_int_equal(sync_fault_add(env, "{\"match\":\"PATCH /crm\",\"latency_ms\":2000}"), 0);
    assert_int_equal(sync_fault_add(env, "{\"match\":\"POST /crm\",\"latency_ms\":2000}"), 0);
    assert_int_equal(
        sync_fault_add(env, "{\"match\":\"PATCH /services/data\",\"latency_ms\":2000}"), 0);
    assert_int_equal(sync_fault_add(env, "{\"match\":\"POST /services/data\",\"latency_ms\":2000}"),
                     0);
    long long ids[HELD_MAX];
    size_t held = 0;
    for (int wave = 0; wave < 6 && held == 0; wave++) {
        for (size_t i = 0; i < tr->n; i++) {
            char v[64];
            snprintf(v, sizeof v, "lease-edit-%d-%zu", wave, i);
            edit_tracked(env, &tr->t[i], v);
        }
        sync_flush(env);
        /* the victim runs freely until it is seen holding events, then is frozen and its
         * events listed again (it may have finished those seen); stopping it for every look
         * starved it on a loaded machine (a CI run saw it hold nothing in 6 waves) */
        for (long long until = mono_ms() + 15000; mono_ms() < until;) {
            if (held_events(env, victim, ids) > 0) {
                assert_int_equal(kill(env->procs[victim].pid, SIGSTOP), 0);
                held = held_events(env, victim, ids);
                if (held > 0)
                    break;
                assert_int_equal(kill(env->procs[victim].pid, SIGCONT), 0);
            }
            harness_sleep_ms(50);
        }
    }
    assert_true(held > 0);
    sync_faults_clear(env);
    long long t0 = mono_ms();
    assert_int_equal(sync_env_proc_stop(env, victim, SIGKILL, 5000), 128 + SIGKILL);
    if (restart)
        assert_int_equal(sync_env_proc_start(env, victim), 0);
    long long open = (long long)held;
    while ((open = not_done(env, ids, held)) > 0 && mono_ms() - t0 < 60000)
        harness_sleep_ms(100);
    long long elapsed = mono_ms() - t0;
    fprintf(stderr,
            "lease recovery (%zu process(es), %s): %zu events held by the killed process, all done"
            " %lld ms after the kill\n",
            nprocs, restart ? "restarted" : "not restarted", held, elapsed);
    if (open > 0)
        sync_env_dump_logs(env, 3000);
    assert_int_equal(open, 0);
    if (elapsed > 10000)
        fail_msg("the killed process's events took %lld ms to sync again (goal: 10 s)", elapsed);
    assert_int_equal(
        sync_db_count(env, "SELECT count(*) FROM change_events WHERE last_error LIKE '%expired%'",
                      (const char *)NULL),
        0);
    expect_converged(env, tr, 120000);
    long writes = sync_write_calls(env, NULL) - writes_before;
    long long events =
        sync_db_count(env, "SELECT count(*) FROM change_events", (const char *)NULL) -
        events_before;
    fprintf(stderr, "after the kill: %lld events, %ld writes\n", events, writes);
    /* every event caused at most one write, except the killed batches', which may be written
     * once more by their next holder (each the write of one record to one CRM per batch) */
    if (writes > events + (long long)held)
        fail_msg("%ld writes for %lld events (%zu held by the killed process): some work was done"
                 " twice",
                 writes, events, held);
}

static void test_killed_process_restarted_leases_back_in_seconds(void **state)
{
    lease_recovery(state, 1, 0, true);
}

static void test_one_of_three_killed_leases_back_in_seconds(void **state)
{
    lease_recovery(state, 3, 2, false);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_crash_mid_batch, teardown),
        cmocka_unit_test_teardown(test_three_processes_share_work, teardown),
        cmocka_unit_test_teardown(test_faults_still_converge, teardown),
        cmocka_unit_test_teardown(test_killed_process_restarted_leases_back_in_seconds, teardown),
        cmocka_unit_test_teardown(test_one_of_three_killed_leases_back_in_seconds, teardown),
    };
    /* SYNC_TEST_FILTER=pattern runs only the matching tests (while investigating) */
    const char *only = getenv("SYNC_TEST_FILTER");
    if (only && *only)
        cmocka_set_test_filter(only);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
