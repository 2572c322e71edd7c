/* it_sync_scale.c: scale-out end to end (real synkro processes, crmsim, one PostgreSQL):
 * - an import of a few hundred Salesforce records with one process, then the same import with
 *   three processes on one database: the three group the import (and its echoes) into batches as
 *   one process does (calls per record within a bound of the one-process run, few small batches)
 *   and each of them syncs a share of the records;
 * - then, with three processes, a burst of two-sided edits, creates and deletes with 10% faults
 *   on both CRMs, and a kill -9 of one of the three in the middle: everything converges, no event
 *   fails, nothing is written twice (writes bounded by events), and the two survivors shared the
 *   burst.
 * - an import with three processes whose creates are claimed as pieces by all of them, one of
 *   which is killed (kill -9) while it holds some: they are taken over, every record is synced
 *   once (one HubSpot record per Salesforce record), nothing fails.
 * Per process it prints batches, records, calls and the work share (from the "sync batch" log
 * lines), and the 429s crmsim answered (the shared CRM budget is not asserted here).
 *
 * Must not: know how the engine claims inside; it reads only logs, crmsim's stats and the
 * queue's rows. */
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

#include <cmocka.h>

#define IMPORT_RECORDS 300
#define BURST_PAIRS    60 /* linked pairs edited on both sides in the burst */
#define BURST_CREATES  20 /* records created on each side in the burst */
#define BURST_DELETES  10 /* linked pairs deleted (HubSpot side) in the burst */

/* What the "sync batch" log lines of one process say. */
struct proc_work {
    long batches, records, calls, small; /* small: batches of fewer than 5 records */
    long untimed; /* lines without claim_ms (the pick and take) or ms (the batch) */
};

/* What crmsim counted. */
struct sim_calls {
    long hubspot, salesforce, refused; /* refused: 429 answers */
};

static int teardown(void **state)
{
    struct sync_env *env = *state;
    *state = NULL;
    return sync_env_stop(env) == 0 ? 0 : -1;
}

static long long mono_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static long json_long_member(json_object *o, const char *key)
{
    json_object *v = sync_get(o, key);
    return v ? (long)json_object_get_int64(v) : 0;
}

/* The "sync batch" lines of process idx's log, from byte offset `from`. */
static void proc_work_read(const struct sync_env *env, size_t idx, size_t from, struct proc_work *w)
{
    memset(w, 0, sizeof *w);
    char path[320];
    snprintf(path, sizeof path, "%s/synkro-%zu.log", env->dir, idx);
    char *log = harness_read_file(path);
    if (!log)
        return;
    size_t len = strlen(log);
    char *line = log + (from < len ? from : len);
    while (line && *line) {
        char *nl = strchr(line, '\n');
        if (nl)
            *nl = '\0';
        if (strstr(line, "\"msg\":\"sync batch\"")) {
            json_object *o = json_tokener_parse(line);
            long r = json_long_member(o, "records");
            w->batches++;
            w->records += r;
            w->calls +=
                json_long_member(o, "hubspot_calls") + json_long_member(o, "salesforce_calls");
            w->small += r < 5;
            json_object *claim = sync_get(o, "claim_ms"), *ms = sync_get(o, "ms");
            w->untimed +=
                !claim || !ms || json_object_get_int64(claim) < 0 || json_object_get_int64(ms) < 0;
            json_object_put(o);
        }
        line = nl ? nl + 1 : NULL;
    }
    free(log);
}

static size_t log_size(const struct sync_env *env, size_t idx)
{
    char path[320];
    snprintf(path, sizeof path, "%s/synkro-%zu.log", env->dir, idx);
    char *log = harness_read_file(path);
    size_t n = log ? strlen(log) : 0;
    free(log);
    return n;
}

static void sim_calls_read(const struct sync_env *env, struct sim_calls *c)
{
    memset(c, 0, sizeof *c);
    json_object *st = sync_sim(env, "GET", "/_sim/stats?limit=0", NULL, NULL);
    json_object *calls = sync_get(st, "calls");
    for (size_t i = 0; calls && i < json_object_array_length(calls); i++) {
        json_object *k = json_object_array_get_idx(calls, i);
        const char *route = json_object_get_string(sync_get(k, "route"));
        long count = json_long_member(k, "count");
        if (!route || strstr(route, "oauth") || strstr(route, "/token") ||
            strncmp(route, "/_sim", 5) == 0)
            continue;
        if (json_long_member(k, "status") == 429)
            c->refused += count;
        if (strncmp(route, "/crm", 4) == 0)
            c->hubspot += count;
        else if (strncmp(route, "/services", 9) == 0)
            c->salesforce += count;
    }
    json_object_put(st);
}

/* n Salesforce records loaded as history (no outbound messages): the import's source. */
static void load_sf_records(const struct sync_env *env, int n)
{
    json_object *arr = json_object_new_array();
    for (int i = 0; i < n; i++) {
        json_object *r = json_object_new_object();
        char v[32];
        snprintf(v, sizeof v, "imp-%d", i);
        json_object_object_add(r, "Two_Way__c", json_object_new_string(v));
        json_object_array_add(arr, r);
    }
    json_object *recs = json_object_new_object();
    json_object_object_add(recs, SYNC_SF_OBJECT, arr);
    json_object *sf = json_object_new_object();
    json_object_object_add(sf, "records", recs);
    json_object *doc = json_object_new_object();
    json_object_object_add(doc, "salesforce", sf);
    long st = 0;
    json_object_put(sync_sim(env, "POST", "/_sim/fixtures", json_object_to_json_string(doc), &st));
    json_object_put(doc);
    assert_int_equal(st, 200);
}

static long long linked_pairs(const struct sync_env *env)
{
    return sync_db_count(env,
                         "SELECT count(*) FROM sync_links WHERE state = 'active'"
                         " AND salesforce_id IS NOT NULL AND hubspot_id IS NOT NULL",
                         (const char *)NULL);
}

struct import_wait {
    const struct sync_env *env;
    long long want;
};

static bool import_linked(void *ud)
{
    const struct import_wait *w = ud;
    return linked_pairs(w->env) >= w->want;
}

/* Every CRM call (not crmsim's control API) answered after CALL_LATENCY_MS, as a real CRM
 * answers after tens of milliseconds: batches then take time, and a burst arrives while they run.
 */
#define CALL_LATENCY_MS 50

static void slow_crms(const struct sync_env *env)
{
    /* 10% faults (crmsim applies the first rule whose roll succeeds: faults before latency) */
    static const char *const faults[] = {
        "{\"match\":\"* /crm\",\"rate\":0.05,\"status\":429,\"body\":{\"status\":\"error\","
        "\"message\":\"You have reached your secondly limit.\",\"errorType\":\"RATE_LIMIT\","
        "\"correlationId\":\"sim\",\"policyName\":\"SECONDLY\"}}",
        "{\"match\":\"* /crm\",\"rate\":0.05,\"status\":503}",
        "{\"match\":\"* /services/data\",\"rate\":0.1,\"status\":503}",
    };
    for (size_t i = 0; i < sizeof faults / sizeof faults[0]; i++)
        assert_int_equal(sync_fault_add(env, faults[i]), 0);
    char rule[160];
    snprintf(rule, sizeof rule, "{\"match\":\"* /crm\",\"latency_ms\":%d}", CALL_LATENCY_MS);
    assert_int_equal(sync_fault_add(env, rule), 0);
    snprintf(rule, sizeof rule, "{\"match\":\"* /services\",\"latency_ms\":%d}", CALL_LATENCY_MS);
    assert_int_equal(sync_fault_add(env, rule), 0);
}

/* Starts an import of every Salesforce record and waits until all are linked and the queue is
 * quiet; the milliseconds it took. */
static long long run_import(const struct sync_env *env, int n)
{
    char path[96];
    snprintf(path, sizeof path, "/api/mappings/%lld/imports", (long long)env->mapping_id);
    long long t0 = mono_ms();
    long st = 0;
    json_object_put(sync_api(env, "POST", path, "{\"direction\":\"salesforce_to_hubspot\"}", &st));
    assert_int_equal(st, 202);
    struct import_wait w = {env, n};
    if (!harness_wait_until(import_linked, &w, 60000)) {
        sync_env_dump_logs(env, 3000);
        fail_msg("the import linked %lld of %d records", linked_pairs(env), n);
    }
    long long ms = mono_ms() - t0;
    assert_true(sync_wait_quiet(env, 60000));
    return ms;
}

/* Batches, records and calls of the processes, printed; totals into *all. */
static void report_work(const struct sync_env *env, const char *what, const size_t *from,
                        struct proc_work *per, struct proc_work *all)
{
    memset(all, 0, sizeof *all);
    for (size_t i = 0; i < env->nprocs; i++) {
        proc_work_read(env, i, from[i], &per[i]);
        all->batches += per[i].batches;
        all->records += per[i].records;
        all->calls += per[i].calls;
        all->small += per[i].small;
        all->untimed += per[i].untimed;
    }
    if (all->untimed > 0)
        fail_msg("%s: %ld of %ld sync batch lines say no claim_ms or ms", what, all->untimed,
                 all->batches);
    for (size_t i = 0; i < env->nprocs; i++)
        fprintf(stderr,
                "%s: process %zu: %ld batches (%ld of <5 records), %ld records (share %.0f%%),"
                " %ld calls\n",
                what, i, per[i].batches, per[i].small, per[i].records,
                all->records ? 100.0 * (double)per[i].records / (double)all->records : 0.0,
                per[i].calls);
}

/* ---- the test ---- */

struct pair {
    char sf[64], hs[64];
};

static struct pair pairs[IMPORT_RECORDS];
static size_t npairs;

/* The linked pairs of the mapping, read from sync_links. */
static void read_pairs(const struct sync_env *env)
{
    PGconn *c = harness_db_connect(&env->db);
    PGresult *r = PQexec(c, "SELECT salesforce_id, hubspot_id FROM sync_links"
                            " WHERE state = 'active' AND salesforce_id IS NOT NULL"
                            " AND hubspot_id IS NOT NULL ORDER BY id");
    assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
    npairs = 0;
    for (int i = 0; i < PQntuples(r) && npairs < IMPORT_RECORDS; i++, npairs++) {
        snprintf(pairs[npairs].sf, sizeof pairs[npairs].sf, "%s", PQgetvalue(r, i, 0));
        snprintf(pairs[npairs].hs, sizeof pairs[npairs].hs, "%s", PQgetvalue(r, i, 1));
    }
    PQclear(r);
    PQfinish(c);
}

/* Batches of 20 records: the import and the storm are many batches, more than one process's
 * two slots per mapping hold at once, so how they spread over the processes shows. */
static const char *const small_batches[] = {"SYNKRO_WORKER_BATCH=20", NULL};

/* The import with one process: calls per record and time, the baseline of the three. */
static double one_process_import(long long *ms)
{
    struct sync_env_options o = {.nprocs = 1, .workers = 2, .extra_env = small_batches};
    struct sync_env *env = sync_env_start(&o);
    if (!env)
        fail_msg("the one-process environment did not start");
    load_sf_records(env, IMPORT_RECORDS);
    slow_crms(env);
    struct sim_calls c0, c1;
    sim_calls_read(env, &c0);
    size_t from[1] = {log_size(env, 0)};
    *ms = run_import(env, IMPORT_RECORDS);
    sim_calls_read(env, &c1);
    struct proc_work per[1], all;
    report_work(env, "import, 1 process", from, per, &all);
    double cpr = (double)(c1.hubspot + c1.salesforce - c0.hubspot - c0.salesforce) / IMPORT_RECORDS;
    fprintf(stderr, "import, 1 process: %lld ms, %.3f calls/record, %ld refused (429)\n", *ms, cpr,
            c1.refused - c0.refused);
    assert_int_equal(sync_env_stop(env), 0);
    return cpr;
}

/* ---- the storm ---- */

struct storm {
    const struct sync_env *env;
    char sf_new[BURST_CREATES][64], hs_new[BURST_CREATES][64]; /* created in the burst */
    char problem[256];
};

static const char *sf_id_of(json_object *rec)
{
    return json_object_get_string(sync_get(rec, "Id"));
}

static const char *hs_id_of(json_object *rec)
{
    return json_object_get_string(sync_get(rec, "id"));
}

/* The live record of list whose id (or, by_field, whose field) is key; NULL when none. *count
 * receives how many live records matched (duplicates). */
static json_object *find_live(json_object *list, bool hubspot, const char *field, const char *key,
                              int *count)
{
    json_object *found = NULL;
    *count = 0;
    for (size_t i = 0; list && i < json_object_array_length(list); i++) {
        json_object *r = json_object_array_get_idx(list, i);
        if (hubspot ? sync_hs_archived(r) : sync_sf_deleted(r))
            continue;
        const char *v = field ? (hubspot ? sync_hs_value(r, field) : sync_sf_value(r, field))
                              : (hubspot ? hs_id_of(r) : sf_id_of(r));
        if (v && strcmp(v, key) == 0) {
            (*count)++;
            found = r;
        }
    }
    return found;
}

/* The value a pair's two_way field ends with: the burst's edit, or the import's. */
static void expected_value(size_t i, char *out, size_t len)
{
    if (i < BURST_PAIRS)
        snprintf(out, len, "burst-%zu", i);
    else
        out[0] = '\0';
}

static bool storm_converged(void *ud)
{
    struct storm *st = ud;
    json_object *sfl = sync_sf_list(st->env), *hsl = sync_hs_list(st->env);
    bool ok = sfl && hsl;
    st->problem[0] = '\0';
    for (size_t i = 0; ok && i < BURST_PAIRS + BURST_DELETES; i++) {
        int n = 0;
        json_object *hs = find_live(hsl, true, NULL, pairs[i].hs, &n);
        json_object *sf = find_live(sfl, false, NULL, pairs[i].sf, &n);
        if (i >= BURST_PAIRS) { /* archived in HubSpot: deleted in Salesforce */
            if (hs || sf)
                snprintf(st->problem, sizeof st->problem, "pair %zu (deleted) still live", i);
            ok = !hs && !sf;
            continue;
        }
        char want[64];
        expected_value(i, want, sizeof want);
        const char *a = sf ? sync_sf_value(sf, "Two_Way__c") : "(gone)";
        const char *b = hs ? sync_hs_value(hs, "two_way") : "(gone)";
        if (strcmp(a, want) != 0 || strcmp(b, want) != 0) {
            snprintf(st->problem, sizeof st->problem, "pair %zu: sf %s hs %s, want %s", i, a, b,
                     want);
            ok = false;
        }
    }
    for (size_t k = 0; ok && k < BURST_CREATES; k++) {
        int n = 0, m = 0;
        json_object *hs = find_live(hsl, true, SYNC_HS_IDENTITY, st->sf_new[k], &n);
        json_object *sf = find_live(sfl, false, SYNC_SF_IDENTITY, st->hs_new[k], &m);
        if (!hs || !sf) {
            snprintf(st->problem, sizeof st->problem, "created record %zu has no partner yet", k);
            ok = false;
        } else if (n > 1 || m > 1) {
            snprintf(st->problem, sizeof st->problem, "created record %zu has %d/%d partners", k, n,
                     m);
            ok = false;
        }
    }
    json_object_put(sfl);
    json_object_put(hsl);
    return ok;
}

/* Live records of one side sharing one identity value (a record created twice). */
static int duplicates(json_object *list, bool hubspot, const char *field)
{
    int dups = 0;
    for (size_t i = 0; list && i < json_object_array_length(list); i++) {
        json_object *r = json_object_array_get_idx(list, i);
        const char *v = hubspot ? sync_hs_value(r, field) : sync_sf_value(r, field);
        if ((hubspot ? sync_hs_archived(r) : sync_sf_deleted(r)) || !v || !*v)
            continue;
        int n = 0;
        find_live(list, hubspot, field, v, &n);
        dups += n > 1;
    }
    return dups;
}

/* The burst: edits of BURST_PAIRS pairs (alternating sides), BURST_CREATES creates per side and
 * BURST_DELETES deletes, with process 2 killed (kill -9) halfway. */
static void storm(struct sync_env *env, struct storm *st)
{
    for (size_t i = 0; i < BURST_PAIRS + BURST_DELETES; i++) {
        if (i == (BURST_PAIRS + BURST_DELETES) / 2)
            assert_int_equal(sync_env_proc_stop(env, 2, SIGKILL, 5000), 128 + SIGKILL);
        if (i >= BURST_PAIRS) {
            assert_int_equal(sync_hs_delete(env, pairs[i].hs), 0);
            continue;
        }
        char v[64];
        expected_value(i, v, sizeof v);
        char *body = sync_json_kv(i % 2 ? "Two_Way__c" : "two_way", v, (const char *)NULL);
        int rc =
            i % 2 ? sync_sf_update(env, pairs[i].sf, body) : sync_hs_update(env, pairs[i].hs, body);
        free(body);
        assert_int_equal(rc, 0);
        if (i < BURST_CREATES) {
            char name[64];
            snprintf(name, sizeof name, "new-sf-%zu", i);
            body = sync_json_kv("Two_Way__c", name, (const char *)NULL);
            assert_int_equal(sync_sf_create(env, body, st->sf_new[i], sizeof st->sf_new[i]), 0);
            free(body);
            snprintf(name, sizeof name, "new-hs-%zu", i);
            body = sync_json_kv("two_way", name, (const char *)NULL);
            assert_int_equal(sync_hs_create(env, body, st->hs_new[i], sizeof st->hs_new[i]), 0);
            free(body);
        }
    }
}

static void test_three_processes_import_and_storm(void **state)
{
    long long one_ms = 0;
    double one_cpr = one_process_import(&one_ms);

    struct sync_env_options o = {.nprocs = 3, .workers = 2, .extra_env = small_batches};
    struct sync_env *env = sync_env_start_test(state, &o);
    load_sf_records(env, IMPORT_RECORDS);
    slow_crms(env);
    struct sim_calls c0, c1;
    sim_calls_read(env, &c0);
    size_t from[SYNC_ENV_MAX_PROCS];
    for (size_t i = 0; i < env->nprocs; i++)
        from[i] = log_size(env, i);
    long long ms = run_import(env, IMPORT_RECORDS);
    sim_calls_read(env, &c1);
    struct proc_work per[SYNC_ENV_MAX_PROCS], all;
    report_work(env, "import, 3 processes", from, per, &all);
    double cpr = (double)(c1.hubspot + c1.salesforce - c0.hubspot - c0.salesforce) / IMPORT_RECORDS;
    fprintf(stderr,
            "import, 3 processes: %lld ms (1 process: %lld ms), %.3f calls/record"
            " (1 process: %.3f), %ld refused (429)\n",
            ms, one_ms, cpr, one_cpr, c1.refused - c0.refused);
    /* grouped as one process groups them: calls per record close to one process's, and the
     * records mostly in batches, not one by one */
    if (cpr > one_cpr * 1.25 + 0.05)
        fail_msg("3 processes: %.3f calls per record, 1 process: %.3f", cpr, one_cpr);
    if (all.small * 4 > all.batches + 4)
        fail_msg("%ld of %ld batches had fewer than 5 records", all.small, all.batches);
    /* every process took a share */
    for (size_t i = 0; i < env->nprocs; i++)
        if (per[i].records * 10 < all.records)
            fail_msg("process %zu synced %ld of %ld records", i, per[i].records, all.records);
    assert_int_equal(sync_db_count(env, "SELECT count(*) FROM change_events WHERE status <> 'done'",
                                   (const char *)NULL),
                     0);
    read_pairs(env);
    assert_int_equal(npairs, IMPORT_RECORDS);

    /* the storm, one process killed halfway */
    for (size_t i = 0; i < env->nprocs; i++)
        from[i] = log_size(env, i);
    long long events0 =
        sync_db_count(env, "SELECT count(*) FROM change_events", (const char *)NULL);
    static struct storm st;
    memset(&st, 0, sizeof st);
    st.env = env;
    long long t0 = mono_ms();
    storm(env, &st);
    if (!harness_wait_until(storm_converged, &st, 90000)) {
        sync_report_failed(env, 10);
        fail_msg("the storm did not converge: %s", st.problem);
    }
    fprintf(stderr, "storm: converged %lld ms after its first edit\n", mono_ms() - t0);
    assert_true(sync_wait_quiet(env, 60000));
    struct sim_calls c2;
    sim_calls_read(env, &c2);
    report_work(env, "storm, 3 processes (2 killed halfway)", from, per, &all);
    long long events = sync_db_count(env, "SELECT count(*) FROM change_events", (const char *)NULL);
    fprintf(stderr, "storm: %lld events, %ld calls, %ld refused (429)\n", events - events0,
            c2.hubspot + c2.salesforce - c1.hubspot - c1.salesforce, c2.refused - c1.refused);
    assert_int_equal(sync_report_failed(env, 10), 0);
    json_object *sfl = sync_sf_list(env), *hsl = sync_hs_list(env);
    int dup_hs = duplicates(hsl, true, SYNC_HS_IDENTITY);
    int dup_sf = duplicates(sfl, false, SYNC_SF_IDENTITY);
    json_object_put(sfl);
    json_object_put(hsl);
    if (dup_hs || dup_sf)
        fail_msg("records created twice: %d in HubSpot, %d in Salesforce", dup_hs, dup_sf);
    /* the two survivors both worked */
    for (size_t i = 0; i < 2; i++)
        if (per[i].records * 10 < all.records)
            fail_msg("process %zu synced %ld of the storm's %ld records", i, per[i].records,
                     all.records);
}

/* ---- import pieces ---- */

#define PIECE_RECORDS 400

/* Which process holds a lease (lease_owner is "<host>:<pid>:w<n>"); -1 when none. */
static int proc_of_owner(const struct sync_env *env, const char *owner)
{
    for (size_t i = 0; i < env->nprocs; i++) {
        char pid[32];
        snprintf(pid, sizeof pid, ":%d:", (int)env->procs[i].pid);
        if (env->procs[i].pid > 0 && strstr(owner, pid))
            return (int)i;
    }
    return -1;
}

/* The import's events leased now, counted per process (held[i]); into ids (at most cap) those of
 * process `of`. How many processes hold some. */
static int piece_holders(const struct sync_env *env, PGconn *c, long *held, int of, long long *ids,
                         size_t cap, size_t *nids)
{
    PGresult *r = PQexec(c, "SELECT lease_owner, id FROM change_events WHERE status = 'processing'"
                            " AND import_id IS NOT NULL");
    assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
    memset(held, 0, sizeof(long) * env->nprocs);
    *nids = 0;
    for (int i = 0; i < PQntuples(r); i++) {
        int p = proc_of_owner(env, PQgetvalue(r, i, 0));
        if (p < 0)
            continue;
        held[p]++;
        if (p == of && *nids < cap)
            ids[(*nids)++] = strtoll(PQgetvalue(r, i, 1), NULL, 10);
    }
    PQclear(r);
    int holders = 0;
    for (size_t i = 0; i < env->nprocs; i++)
        holders += held[i] > 0;
    return holders;
}

/* An import's creates are pieces any live process claims: with three processes, two or more hold
 * import records (unlinked: each create) at one moment, and when the process holding some is
 * killed (kill -9), they are taken over and every record is synced once: one HubSpot record per
 * Salesforce record, no failed event. */
static void test_import_pieces_spread_and_taken_over(void **state)
{
    static const char *const env_vars[] = {"SYNKRO_WORKER_BATCH=20", NULL};
    struct sync_env_options o = {.nprocs = 3, .workers = 2, .extra_env = env_vars};
    struct sync_env *env = sync_env_start_test(state, &o);
    load_sf_records(env, PIECE_RECORDS);
    char rule[160];
    snprintf(rule, sizeof rule, "{\"match\":\"* /crm\",\"latency_ms\":%d}", 2 * CALL_LATENCY_MS);
    assert_int_equal(sync_fault_add(env, rule), 0);
    snprintf(rule, sizeof rule, "{\"match\":\"* /services\",\"latency_ms\":%d}",
             2 * CALL_LATENCY_MS);
    assert_int_equal(sync_fault_add(env, rule), 0);

    char path[96];
    snprintf(path, sizeof path, "/api/mappings/%lld/imports", (long long)env->mapping_id);
    long st = 0;
    json_object_put(sync_api(env, "POST", path, "{\"direction\":\"salesforce_to_hubspot\"}", &st));
    assert_int_equal(st, 202);

    PGconn *c = harness_db_connect(&env->db);
    long held[SYNC_ENV_MAX_PROCS];
    static long long killed_ids[256];
    size_t nkilled = 0;
    int most = 0;
    bool killed = false;
    long long t0 = mono_ms();
    while (linked_pairs(env) < PIECE_RECORDS && mono_ms() - t0 < 90000) {
        size_t n = 0;
        int holders = piece_holders(env, c, held, 2, killed_ids, 256, &n);
        most = holders > most ? holders : most;
        /* process 2 (it receives no webhooks) is killed while it holds pieces, once another
         * process held some at the same time */
        if (!killed && holders >= 2 && n > 0) {
            assert_int_equal(sync_env_proc_stop(env, 2, SIGKILL, 5000), 128 + SIGKILL);
            killed = true;
            nkilled = n;
            fprintf(stderr, "pieces: process 2 killed holding %zu import events (%d holders)\n", n,
                    holders);
        }
        struct timespec ts = {0, 10 * 1000000L};
        nanosleep(&ts, NULL);
    }
    if (linked_pairs(env) < PIECE_RECORDS) {
        sync_env_dump_logs(env, 3000);
        fail_msg("the import linked %lld of %d records", linked_pairs(env), PIECE_RECORDS);
    }
    fprintf(stderr, "pieces: import of %d records in %lld ms, at most %d processes held pieces\n",
            PIECE_RECORDS, mono_ms() - t0, most);
    assert_true(sync_wait_quiet(env, 60000));
    if (!killed)
        fail_msg("process 2 never held import events while another did (most holders: %d)", most);
    /* the killed process's events were taken over (given back as its session ended) and done */
    char list[4096] = "{";
    for (size_t i = 0; i < nkilled; i++) {
        size_t l = strlen(list);
        snprintf(list + l, sizeof list - l, "%s%lld", i ? "," : "", killed_ids[i]);
    }
    strncat(list, "}", sizeof list - strlen(list) - 1);
    const char *params[] = {list};
    PGresult *r = PQexecParams(c,
                               "SELECT count(*) FILTER (WHERE status = 'done' AND attempts > 0),"
                               " count(*) FILTER (WHERE status = 'done') FROM change_events"
                               " WHERE id = ANY($1::bigint[])",
                               1, NULL, params, NULL, NULL, 0);
    assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
    long taken_over = strtol(PQgetvalue(r, 0, 0), NULL, 10);
    long still = strtol(PQgetvalue(r, 0, 1), NULL, 10);
    PQclear(r);
    PQfinish(c);
    fprintf(stderr, "pieces: %ld of the killed process's %zu events taken over and done\n",
            taken_over, nkilled);
    /* all done; those still leased at the kill (not settled in the instant before it) were
     * given back and retried: at least one */
    assert_int_equal(still, (long)nkilled);
    assert_true(taken_over >= 1);
    assert_int_equal(sync_report_failed(env, 10), 0);
    /* every record synced once: one live HubSpot record per Salesforce record */
    json_object *hsl = sync_hs_list(env);
    int live = 0;
    for (size_t i = 0; hsl && i < json_object_array_length(hsl); i++)
        live += !sync_hs_archived(json_object_array_get_idx(hsl, i));
    int dups = duplicates(hsl, true, SYNC_HS_IDENTITY);
    json_object_put(hsl);
    assert_int_equal(dups, 0);
    assert_int_equal(live, PIECE_RECORDS);
    assert_int_equal(linked_pairs(env), PIECE_RECORDS);
    /* the pieces spread: two or more processes held import records at one moment */
    if (most < 2)
        fail_msg("at most %d process held the import's records at once", most);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_three_processes_import_and_storm, teardown),
        cmocka_unit_test_teardown(test_import_pieces_spread_and_taken_over, teardown),
    };
    const char *only = getenv("SYNC_TEST_FILTER");
    if (only && *only)
        cmocka_set_test_filter(only);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
