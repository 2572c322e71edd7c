/* it_sync_random.c: randomised convergence of the sync engine against an independent reference
 * model of the rules (the table in sync/sync_merge.h), end to end with the real synkro, crmsim and
 * PostgreSQL.
 *
 * A seeded PRNG (printed; SYNKRO_RANDOM_SEED replays one) creates records on both sides, then
 * plays rounds: a round edits random fields of random records on one or both sides while crmsim
 * holds every webhook and outbound message, so synkro sees all of a round's edits at once and the
 * model knows exactly which fields changed on which side since the last sync. Then deliveries are
 * released and the test waits for quiescence. Some rounds stop synkro (SIGSTOP) while deliveries
 * are in flight, so crmsim times out and redelivers what synkro already stored; the later rounds
 * run with CRM faults. After each round both CRMs must hold what the model computes, and in
 * fault-free rounds the number of recorded conflicts must match the model's.
 *
 * The model, per record pair and field: current values on both sides and the base (values right
 * after the last sync). Blank is "" on both sides (Salesforce stores "" as null). */
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

#define NRECORDS     32
#define MIN_ROUNDS   20
#define MAX_ROUNDS   90
#define TARGET_EDITS 2000
#define BUDGET_MS    150000
#define VAL_MAX      32

struct mrec {
    char sf_id[64], hs_id[64];
    char sf[SYNC_NFIELDS][VAL_MAX], hs[SYNC_NFIELDS][VAL_MAX];   /* now */
    char bsf[SYNC_NFIELDS][VAL_MAX], bhs[SYNC_NFIELDS][VAL_MAX]; /* base */
};

struct model {
    struct mrec r[NRECORDS];
    bool sf_wins; /* the mapping's conflict winner */
    uint64_t rng;
    long edits;
};

static uint64_t rnd(struct model *m)
{
    /* xorshift64*: reproducible from the printed seed */
    m->rng ^= m->rng >> 12;
    m->rng ^= m->rng << 25;
    m->rng ^= m->rng >> 27;
    return m->rng * 2685821657736338717ULL;
}

static unsigned pick(struct model *m, unsigned n)
{
    return (unsigned)(rnd(m) % n);
}

static void random_value(struct model *m, char *out, int round)
{
    if (pick(m, 5) == 0)
        out[0] = '\0'; /* a clear */
    else
        snprintf(out, VAL_MAX, "r%dv%u", round, pick(m, 100000));
}

/* ---- the reference model: sync_merge.h's table, written independently ---- */

enum dir { NONE, TO_HS, TO_SF };

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* What one field of a linked pair does; *conflict set for a real concurrent edit. */
static enum dir decide(const struct model *m, const struct mrec *r, size_t f, bool *conflict)
{
    *conflict = false;
    const char *rule = sync_fields[f].rule;
    bool sfc = strcmp(r->sf[f], r->bsf[f]) != 0, hsc = strcmp(r->hs[f], r->bhs[f]) != 0;
    bool sf_blank = r->sf[f][0] == '\0';
    if (strcmp(rule, "dont_sync") == 0 || (!sfc && !hsc) || strcmp(r->sf[f], r->hs[f]) == 0)
        return NONE;
    if (sfc && !hsc) {
        if (strcmp(rule, "always_hubspot") == 0)
            return NONE;
        return TO_HS; /* two_way, always_salesforce, prefer_salesforce_unless_blank */
    }
    if (!sfc && hsc) {
        if (strcmp(rule, "two_way") == 0 || strcmp(rule, "always_hubspot") == 0)
            return TO_SF;
        if (strcmp(rule, "prefer_salesforce_unless_blank") == 0)
            return sf_blank ? TO_SF : NONE;
        return NONE; /* always_salesforce */
    }
    *conflict = true;
    if (strcmp(rule, "always_salesforce") == 0)
        return TO_HS;
    if (strcmp(rule, "always_hubspot") == 0)
        return TO_SF;
    if (strcmp(rule, "prefer_salesforce_unless_blank") == 0)
        return sf_blank ? TO_SF : TO_HS;
    return m->sf_wins ? TO_HS : TO_SF;
}

/* Applies the sync of every record; returns the number of conflicts it records. */
static long model_sync(struct model *m)
{
    long conflicts = 0;
    for (size_t i = 0; i < NRECORDS; i++) {
        struct mrec *r = &m->r[i];
        for (size_t f = 0; f < SYNC_NFIELDS; f++) {
            bool conflict;
            enum dir d = decide(m, r, f, &conflict);
            conflicts += conflict;
            if (d == TO_HS)
                memcpy(r->hs[f], r->sf[f], VAL_MAX);
            else if (d == TO_SF)
                memcpy(r->sf[f], r->hs[f], VAL_MAX);
            memcpy(r->bsf[f], r->sf[f], VAL_MAX);
            memcpy(r->bhs[f], r->hs[f], VAL_MAX);
        }
    }
    return conflicts;
}

/* A new record on one side: fields whose rule lets that side write, and that are not blank,
 * reach the other side. */
static void model_create(struct mrec *r, bool on_sf)
{
    for (size_t f = 0; f < SYNC_NFIELDS; f++) {
        const char *rule = sync_fields[f].rule;
        bool travels = strcmp(rule, "two_way") == 0 ||
                       strcmp(rule, "prefer_salesforce_unless_blank") == 0 ||
                       strcmp(rule, on_sf ? "always_salesforce" : "always_hubspot") == 0;
        char *src = on_sf ? r->sf[f] : r->hs[f], *dst = on_sf ? r->hs[f] : r->sf[f];
        if (travels && src[0])
            memcpy(dst, src, VAL_MAX);
        memcpy(r->bsf[f], r->sf[f], VAL_MAX);
        memcpy(r->bhs[f], r->hs[f], VAL_MAX);
    }
}

/* ---- talking to the CRMs ---- */

static char *fields_body(const struct mrec *r, const bool touched[SYNC_NFIELDS], bool sf)
{
    json_object *o = json_object_new_object();
    for (size_t f = 0; f < SYNC_NFIELDS; f++) {
        if (!touched[f])
            continue;
        const char *v = sf ? r->sf[f] : r->hs[f];
        json_object_object_add(o, sf ? sync_fields[f].sf : sync_fields[f].hs,
                               sf && !v[0] ? NULL : json_object_new_string(v));
    }
    char *out = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
    json_object_put(o);
    return out;
}

static json_object *find_by(json_object *list, const char *key, const char *id)
{
    for (size_t i = 0; i < json_object_array_length(list); i++) {
        json_object *r = json_object_array_get_idx(list, i);
        const char *v = json_object_get_string(sync_get(r, key));
        if (v && strcmp(v, id) == 0)
            return r;
    }
    return NULL;
}

/* Compares both CRMs with the model; prints up to 20 differences. Returns how many. */
static int compare(const struct sync_env *env, const struct model *m, int round)
{
    json_object *sf = sync_sf_list(env), *hs = sync_hs_list(env);
    int bad = 0;
    for (size_t i = 0; i < NRECORDS; i++) {
        const struct mrec *r = &m->r[i];
        json_object *s = find_by(sf, "Id", r->sf_id), *h = find_by(hs, "id", r->hs_id);
        for (size_t f = 0; f < SYNC_NFIELDS; f++) {
            const char *sv = s ? sync_sf_value(s, sync_fields[f].sf) : "<missing>";
            const char *hv = h ? sync_hs_value(h, sync_fields[f].hs) : "<missing>";
            if (strcmp(sv, r->sf[f]) == 0 && strcmp(hv, r->hs[f]) == 0)
                continue;
            if (++bad <= 20)
                fprintf(stderr,
                        "round %d record %zu (sf %s, hs %s) %s [%s]: expected sf \"%s\" hs \"%s\", "
                        "got sf \"%s\" hs \"%s\"\n",
                        round, i, r->sf_id, r->hs_id, sync_fields[f].sf, sync_fields[f].rule,
                        r->sf[f], r->hs[f], sv, hv);
        }
    }
    size_t live_sf = 0, live_hs = 0;
    for (size_t i = 0; i < json_object_array_length(sf); i++)
        live_sf += !sync_sf_deleted(json_object_array_get_idx(sf, i));
    for (size_t i = 0; i < json_object_array_length(hs); i++)
        live_hs += !sync_hs_archived(json_object_array_get_idx(hs, i));
    if (live_sf != NRECORDS || live_hs != NRECORDS) {
        fprintf(stderr, "round %d: live records Salesforce %zu, HubSpot %zu (expected %d)\n", round,
                live_sf, live_hs, NRECORDS);
        bad++;
    }
    json_object_put(sf);
    json_object_put(hs);
    return bad;
}

static void settle(const struct sync_env *env, int round)
{
    if (!sync_wait_quiet(env, 90000)) {
        sync_report_failed(env, 10);
        sync_env_dump_logs(env, 3000);
        fail_msg("round %d did not settle", round);
    }
}

/* ---- setup: records on both sides, linked ---- */

static void create_records(struct sync_env *env, struct model *m)
{
    for (size_t i = 0; i < NRECORDS; i++) {
        struct mrec *r = &m->r[i];
        bool on_sf = i % 2 == 0;
        bool all[SYNC_NFIELDS];
        for (size_t f = 0; f < SYNC_NFIELDS; f++) {
            random_value(m, on_sf ? r->sf[f] : r->hs[f], 0);
            all[f] = (on_sf ? r->sf[f] : r->hs[f])[0] != '\0';
        }
        char *body = fields_body(r, all, on_sf);
        int rc = on_sf ? sync_sf_create(env, body, r->sf_id, sizeof r->sf_id)
                       : sync_hs_create(env, body, r->hs_id, sizeof r->hs_id);
        free(body);
        assert_int_equal(rc, 0);
        model_create(r, on_sf);
    }
    settle(env, 0);
    for (size_t i = 0; i < NRECORDS; i++) {
        struct mrec *r = &m->r[i];
        bool ok = i % 2 == 0 ? sync_wait_hs_for_sf(env, r->sf_id, r->hs_id, sizeof r->hs_id, 30000)
                             : sync_wait_sf_for_hs(env, r->hs_id, r->sf_id, sizeof r->sf_id, 30000);
        if (!ok)
            fail_msg("record %zu was not created on the other side", i);
    }
}

/* ---- one round ---- */

static void edit_round(struct sync_env *env, struct model *m, int round)
{
    unsigned n = 6 + pick(m, 10);
    for (unsigned k = 0; k < n; k++) {
        struct mrec *r = &m->r[pick(m, NRECORDS)];
        unsigned mode = pick(m, 5); /* 0,1: Salesforce; 2,3: HubSpot; 4: both */
        for (int side = 0; side < 2; side++) {
            bool sf = side == 0;
            if ((sf && mode >= 2 && mode != 4) || (!sf && mode < 2))
                continue;
            bool touched[SYNC_NFIELDS] = {false};
            unsigned nf = 1 + pick(m, 4);
            for (unsigned j = 0; j < nf; j++) {
                size_t f = pick(m, SYNC_NFIELDS);
                touched[f] = true;
                random_value(m, sf ? r->sf[f] : r->hs[f], round);
                m->edits++;
            }
            char *body = fields_body(r, touched, sf);
            int rc = sf ? sync_sf_update(env, r->sf_id, body) : sync_hs_update(env, r->hs_id, body);
            free(body);
            assert_int_equal(rc, 0);
        }
    }
}

/* synkro stops answering while deliveries are sent: crmsim times out and later redelivers
 * what synkro had already stored. */
static void deliver_with_redeliveries(struct sync_env *env)
{
    kill(env->procs[0].pid, SIGSTOP);
    if (env->nprocs > 1)
        kill(env->procs[1].pid, SIGSTOP);
    sync_flush(env);
    harness_sleep_ms(3600);
    kill(env->procs[0].pid, SIGCONT);
    if (env->nprocs > 1)
        kill(env->procs[1].pid, SIGCONT);
}

static void add_faults(const struct sync_env *env)
{
    const char *rules[] = {
        "{\"match\":\"* /crm\",\"rate\":0.05,\"status\":503}",
        "{\"match\":\"* /crm\",\"rate\":0.04,\"status\":429,\"body\":{\"status\":\"error\","
        "\"message\":\"You have reached your secondly limit.\",\"errorType\":\"RATE_LIMIT\","
        "\"correlationId\":\"sim\",\"policyName\":\"SECONDLY\"}}",
        "{\"match\":\"* /services/data\",\"rate\":0.05,\"status\":503}",
        "{\"match\":\"* /services/data\",\"rate\":0.03,\"timeout\":true}",
    };
    for (size_t i = 0; i < sizeof rules / sizeof rules[0]; i++)
        assert_int_equal(sync_fault_add(env, rules[i]), 0);
}

static void test_random_convergence(void **state)
{
    uint64_t seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 16);
    const char *fixed = getenv("SYNKRO_RANDOM_SEED");
    if (fixed && *fixed)
        seed = strtoull(fixed, NULL, 10);
    if (seed == 0)
        seed = 1;
    struct model *m = calloc(1, sizeof *m);
    assert_non_null(m);
    m->rng = seed;
    m->sf_wins = seed % 2 == 0;
    fprintf(stderr, "randomised sync: seed %llu (SYNKRO_RANDOM_SEED=%llu replays it), winner %s\n",
            (unsigned long long)seed, (unsigned long long)seed,
            m->sf_wins ? "salesforce" : "hubspot");
    struct sync_env_options o = {.conflict_winner = m->sf_wins ? "salesforce" : "hubspot",
                                 .hold_deliveries = true,
                                 .workers = 2};
    struct sync_env *env = sync_env_start(&o);
    if (!env)
        fail_msg("the sync environment did not start");
    *state = env;

    create_records(env, m);
    if (compare(env, m, 0) != 0)
        fail_msg("seed %llu: the created records differ from the model", (unsigned long long)seed);

    int64_t t0 = mono_ms();
    int round = 1, faults_from = 0;
    long conflicts_expected = 0, conflicts_checked = 0;
    for (; round <= MAX_ROUNDS; round++) {
        bool enough = m->edits >= TARGET_EDITS || mono_ms() - t0 > BUDGET_MS;
        if (round > MIN_ROUNDS && enough)
            break;
        if (!faults_from && (m->edits >= TARGET_EDITS / 2 || round > MIN_ROUNDS / 2)) {
            faults_from = round;
            add_faults(env);
        }
        long c0 = sync_db_count(env, "SELECT count(*) FROM sync_conflicts", (const char *)NULL);
        edit_round(env, m, round);
        if (round % 6 == 3)
            deliver_with_redeliveries(env);
        settle(env, round);
        long expected = model_sync(m);
        conflicts_expected += expected;
        int bad = compare(env, m, round);
        if (bad)
            fail_msg("seed %llu round %d: %d difference(s) from the model",
                     (unsigned long long)seed, round, bad);
        long c1 = sync_db_count(env, "SELECT count(*) FROM sync_conflicts", (const char *)NULL);
        if (!faults_from) {
            conflicts_checked += expected;
            if (c1 - c0 != expected)
                fail_msg("seed %llu round %d: %ld conflicts recorded, the model has %ld",
                         (unsigned long long)seed, round, c1 - c0, expected);
        }
    }
    if (sync_report_failed(env, 10) != 0)
        fail_msg("seed %llu: some events failed", (unsigned long long)seed);
    fprintf(stderr,
            "randomised sync: seed %llu, %d rounds (faults from round %d), %ld field edits, %ld "
            "conflicts (%ld checked exactly), %.1f s\n",
            (unsigned long long)seed, round - 1, faults_from, m->edits, conflicts_expected,
            conflicts_checked, (double)(mono_ms() - t0) / 1000.0);
    free(m);
}

static int teardown(void **state)
{
    struct sync_env *env = *state;
    *state = NULL;
    return sync_env_stop(env) == 0 ? 0 : -1;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_random_convergence, teardown),
    };
    /* SYNC_TEST_FILTER=pattern runs only the matching tests (while investigating) */
    const char *only = getenv("SYNC_TEST_FILTER");
    if (only && *only)
        cmocka_set_test_filter(only);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
