/* it_sync_e2e.c: the sync engine end to end: the real `synkro serve` against crmsim (both CRMs,
 * webhooks and outbound messages really delivered) and a real PostgreSQL: create, update and clear
 * both ways; every per-field rule; conflicts with each winner (listed by GET /api/conflicts);
 * deletes both ways (Salesforce's through the sweep); a HubSpot restore and merge; and the echo
 * test: a change settles with exactly one write and then none.
 *
 * Each test runs in its own environment (sync_env.h). Expectations come from issue 6 and the rule
 * table in sync/sync_merge.h, not from the engine's code. */
#include "sync_env.h"

#include <json-c/json.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define WAIT_MS  45000
#define QUIET_MS 60000

static struct sync_env *start(void **state, const struct sync_env_options *o)
{
    struct sync_env *env = sync_env_start(o);
    if (!env)
        fail_msg("the sync environment did not start");
    *state = env;
    return env;
}

static int teardown(void **state)
{
    struct sync_env *env = *state;
    *state = NULL;
    return sync_env_stop(env) == 0 ? 0 : -1;
}

static void check_no_failed(const struct sync_env *env)
{
    if (sync_report_failed(env, 10) != 0) {
        sync_env_dump_logs(env, 4000);
        fail_msg("some events failed");
    }
}

static void quiet(const struct sync_env *env)
{
    if (!sync_wait_quiet(env, QUIET_MS)) {
        sync_env_dump_logs(env, 4000);
        fail_msg("the sync did not settle");
    }
}

/* Reads both records and compares every mapped field with what is expected ("" = blank). */
static void expect_values(const struct sync_env *env, const char *sf_id, const char *hs_id,
                          const char *const sf_want[SYNC_NFIELDS],
                          const char *const hs_want[SYNC_NFIELDS])
{
    json_object *sf = sync_sf_get(env, sf_id);
    json_object *hs = sync_hs_get(env, hs_id);
    assert_non_null(sf);
    assert_non_null(hs);
    int bad = 0;
    for (size_t i = 0; i < SYNC_NFIELDS; i++) {
        const char *s = sync_sf_value(sf, sync_fields[i].sf);
        const char *h = sync_hs_value(hs, sync_fields[i].hs);
        if (strcmp(s, sf_want[i]) != 0) {
            fprintf(stderr, "Salesforce %s %s (%s): expected \"%s\", got \"%s\"\n", sf_id,
                    sync_fields[i].sf, sync_fields[i].rule, sf_want[i], s);
            bad++;
        }
        if (strcmp(h, hs_want[i]) != 0) {
            fprintf(stderr, "HubSpot %s %s (%s): expected \"%s\", got \"%s\"\n", hs_id,
                    sync_fields[i].hs, sync_fields[i].rule, hs_want[i], h);
            bad++;
        }
    }
    json_object_put(sf);
    json_object_put(hs);
    if (bad)
        fail_msg("%d field(s) differ from the rules", bad);
}

static size_t count_live(json_object *list, bool hubspot)
{
    size_t n = 0;
    for (size_t i = 0; i < json_object_array_length(list); i++) {
        json_object *r = json_object_array_get_idx(list, i);
        n += hubspot ? !sync_hs_archived(r) : !sync_sf_deleted(r);
    }
    return n;
}

static void expect_live_counts(const struct sync_env *env, size_t nsf, size_t nhs)
{
    json_object *sf = sync_sf_list(env), *hs = sync_hs_list(env);
    size_t a = count_live(sf, false), b = count_live(hs, true);
    json_object_put(sf);
    json_object_put(hs);
    if (a != nsf || b != nhs)
        fail_msg("live records: Salesforce %zu (expected %zu), HubSpot %zu (expected %zu)", a, nsf,
                 b, nhs);
}

/* A Salesforce record with every field set, synced to HubSpot; ids into sf_id / hs_id. */
static void make_pair(const struct sync_env *env, const char *tag, char *sf_id, char *hs_id)
{
    char v[SYNC_NFIELDS][64];
    for (size_t i = 0; i < SYNC_NFIELDS; i++)
        snprintf(v[i], sizeof v[i], "%s-%s", tag, sync_fields[i].hs);
    char *body =
        sync_json_kv(sync_fields[0].sf, v[0], sync_fields[1].sf, v[1], sync_fields[2].sf, v[2],
                     sync_fields[3].sf, v[3], sync_fields[4].sf, v[4], (const char *)NULL);
    assert_int_equal(sync_sf_create(env, body, sf_id, 64), 0);
    free(body);
    assert_true(sync_wait_hs_for_sf(env, sf_id, hs_id, 64, WAIT_MS));
    quiet(env);
}

/* ---- create ---- */

static void test_create_salesforce_to_hubspot(void **state)
{
    struct sync_env *env = start(state, NULL);
    char sf_id[64], hs_id[64];
    assert_int_equal(sync_sf_create(env,
                                    "{\"Two_Way__c\":\"tw\",\"Prefer_Sf__c\":\"pf\","
                                    "\"Always_Sf__c\":\"as\",\"Always_Hs__c\":\"ah\","
                                    "\"Dont_Sync__c\":\"ds\",\"Amount__c\":12.5}",
                                    sf_id, sizeof sf_id),
                     0);
    assert_true(sync_wait_hs_for_sf(env, sf_id, hs_id, sizeof hs_id, WAIT_MS));
    /* the HubSpot id is written back into the Salesforce identity field */
    assert_true(sync_wait_sf_value(env, sf_id, SYNC_SF_IDENTITY, hs_id, WAIT_MS));
    quiet(env);
    /* always_hubspot and dont_sync do not travel from Salesforce */
    const char *sf_want[] = {"tw", "pf", "as", "ah", "ds"};
    const char *hs_want[] = {"tw", "pf", "as", "", ""};
    expect_values(env, sf_id, hs_id, sf_want, hs_want);
    json_object *hs = sync_hs_get(env, hs_id);
    assert_float_equal(strtod(sync_hs_value(hs, "amount"), NULL), 12.5, 1e-9);
    json_object_put(hs);
    expect_live_counts(env, 1, 1);
    check_no_failed(env);
}

static void test_create_hubspot_to_salesforce(void **state)
{
    struct sync_env *env = start(state, NULL);
    char sf_id[64], hs_id[64];
    assert_int_equal(sync_hs_create(env,
                                    "{\"two_way\":\"tw\",\"prefer_sf\":\"pf\","
                                    "\"always_sf\":\"as\",\"always_hs\":\"ah\","
                                    "\"dont_sync\":\"ds\",\"amount\":\"7.5\"}",
                                    hs_id, sizeof hs_id),
                     0);
    assert_true(sync_wait_sf_for_hs(env, hs_id, sf_id, sizeof sf_id, WAIT_MS));
    assert_true(sync_wait_hs_value(env, hs_id, SYNC_HS_IDENTITY, sf_id, WAIT_MS));
    quiet(env);
    /* always_salesforce and dont_sync do not travel from HubSpot; prefer_salesforce_unless_blank
     * fills the blank new Salesforce record */
    const char *sf_want[] = {"tw", "pf", "", "ah", ""};
    const char *hs_want[] = {"tw", "pf", "as", "ah", "ds"};
    expect_values(env, sf_id, hs_id, sf_want, hs_want);
    json_object *sf = sync_sf_get(env, sf_id);
    assert_float_equal(json_object_get_double(sync_get(sf, "Amount__c")), 7.5, 1e-9);
    json_object_put(sf);
    expect_live_counts(env, 1, 1);
    check_no_failed(env);
}

/* ---- update and clear ---- */

static void test_update_and_clear_both_ways(void **state)
{
    struct sync_env *env = start(state, NULL);
    char sf_id[64], hs_id[64];
    make_pair(env, "u", sf_id, hs_id);

    assert_int_equal(sync_sf_update(env, sf_id, "{\"Two_Way__c\":\"from-sf\"}"), 0);
    assert_true(sync_wait_hs_value(env, hs_id, "two_way", "from-sf", WAIT_MS));
    quiet(env);
    assert_int_equal(sync_hs_update(env, hs_id, "{\"two_way\":\"from-hs\"}"), 0);
    assert_true(sync_wait_sf_value(env, sf_id, "Two_Way__c", "from-hs", WAIT_MS));
    quiet(env);
    /* clearing propagates both ways for two_way */
    assert_int_equal(sync_sf_update(env, sf_id, "{\"Two_Way__c\":null}"), 0);
    assert_true(sync_wait_hs_value(env, hs_id, "two_way", "", WAIT_MS));
    quiet(env);
    assert_int_equal(sync_hs_update(env, hs_id, "{\"two_way\":\"again\"}"), 0);
    assert_true(sync_wait_sf_value(env, sf_id, "Two_Way__c", "again", WAIT_MS));
    quiet(env);
    assert_int_equal(sync_hs_update(env, hs_id, "{\"two_way\":\"\"}"), 0);
    assert_true(sync_wait_sf_value(env, sf_id, "Two_Way__c", "", WAIT_MS));
    quiet(env);
    expect_live_counts(env, 1, 1);
    check_no_failed(env);
}

/* ---- per-field rules ---- */

static void test_field_rules(void **state)
{
    struct sync_env *env = start(state, NULL);
    char sf_id[64], hs_id[64];
    make_pair(env, "r", sf_id, hs_id);

    /* Salesforce changes every field */
    assert_int_equal(sync_sf_update(env, sf_id,
                                    "{\"Two_Way__c\":\"s1\",\"Prefer_Sf__c\":\"s2\","
                                    "\"Always_Sf__c\":\"s3\",\"Always_Hs__c\":\"s4\","
                                    "\"Dont_Sync__c\":\"s5\"}"),
                     0);
    assert_true(sync_wait_hs_value(env, hs_id, "always_sf", "s3", WAIT_MS));
    quiet(env);
    const char *sf1[] = {"s1", "s2", "s3", "s4", "s5"};
    const char *hs1[] = {"s1", "s2", "s3", "", ""};
    expect_values(env, sf_id, hs_id, sf1, hs1);

    /* HubSpot changes every field: Salesforce is not blank, so prefer_sf stays */
    assert_int_equal(sync_hs_update(env, hs_id,
                                    "{\"two_way\":\"h1\",\"prefer_sf\":\"h2\","
                                    "\"always_sf\":\"h3\",\"always_hs\":\"h4\","
                                    "\"dont_sync\":\"h5\"}"),
                     0);
    assert_true(sync_wait_sf_value(env, sf_id, "Always_Hs__c", "h4", WAIT_MS));
    quiet(env);
    const char *sf2[] = {"h1", "s2", "s3", "h4", "s5"};
    const char *hs2[] = {"h1", "h2", "h3", "h4", "h5"};
    expect_values(env, sf_id, hs_id, sf2, hs2);

    /* prefer_salesforce_unless_blank: Salesforce clearing clears HubSpot too ... */
    assert_int_equal(sync_sf_update(env, sf_id, "{\"Prefer_Sf__c\":null}"), 0);
    assert_true(sync_wait_hs_value(env, hs_id, "prefer_sf", "", WAIT_MS));
    quiet(env);
    /* ... and HubSpot fills Salesforce while it is blank */
    assert_int_equal(sync_hs_update(env, hs_id, "{\"prefer_sf\":\"fill\"}"), 0);
    assert_true(sync_wait_sf_value(env, sf_id, "Prefer_Sf__c", "fill", WAIT_MS));
    quiet(env);
    /* always_salesforce: a HubSpot clear stays in HubSpot; a Salesforce clear travels */
    assert_int_equal(sync_sf_update(env, sf_id, "{\"Always_Sf__c\":null}"), 0);
    assert_true(sync_wait_hs_value(env, hs_id, "always_sf", "", WAIT_MS));
    quiet(env);
    /* always_hubspot: clearing in HubSpot clears Salesforce */
    assert_int_equal(sync_hs_update(env, hs_id, "{\"always_hs\":\"\"}"), 0);
    assert_true(sync_wait_sf_value(env, sf_id, "Always_Hs__c", "", WAIT_MS));
    quiet(env);
    const char *sf3[] = {"h1", "fill", "", "", "s5"};
    const char *hs3[] = {"h1", "fill", "", "", "h5"};
    expect_values(env, sf_id, hs_id, sf3, hs3);
    check_no_failed(env);
}

/* ---- conflicts ---- */

struct want_conflict {
    const char *sf_id;
    const char *field;
    const char *winner;
    const char *reason;
    const char *sf_value; /* NULL: JSON null */
    const char *hs_value;
};

static bool conflict_listed(json_object *list, const struct want_conflict *w)
{
    for (size_t i = 0; i < json_object_array_length(list); i++) {
        json_object *c = json_object_array_get_idx(list, i);
        const char *id = json_object_get_string(sync_get(c, "salesforce_id"));
        const char *f = json_object_get_string(sync_get(c, "salesforce_field"));
        if (!id || !f || strncmp(id, w->sf_id, 15) != 0 || strcmp(f, w->field) != 0)
            continue;
        const char *winner = json_object_get_string(sync_get(c, "winner"));
        const char *reason = json_object_get_string(sync_get(c, "reason"));
        json_object *sv = sync_get(c, "salesforce_value");
        const char *svt =
            sv && !json_object_is_type(sv, json_type_null) ? json_object_get_string(sv) : NULL;
        const char *hv = json_object_get_string(sync_get(c, "hubspot_value"));
        bool ok = winner && strcmp(winner, w->winner) == 0 && reason &&
                  strcmp(reason, w->reason) == 0 &&
                  (w->sf_value ? svt && strcmp(svt, w->sf_value) == 0 : !svt || !*svt) &&
                  strcmp(hv ? hv : "", w->hs_value) == 0;
        if (!ok)
            fprintf(stderr, "conflict %s %s listed as %s\n", w->sf_id, w->field,
                    json_object_to_json_string(c));
        return ok;
    }
    fprintf(stderr, "no conflict listed for %s %s (expected winner %s, reason %s)\n", w->sf_id,
            w->field, w->winner, w->reason);
    return false;
}

/* Deliveries are held: both sides change before synkro hears of either. */
static void run_conflicts(void **state, const char *winner)
{
    struct sync_env_options o = {.conflict_winner = winner, .hold_deliveries = true};
    struct sync_env *env = start(state, &o);
    char sa[64], ha[64], sb[64], hb[64];
    make_pair(env, "a", sa, ha);
    make_pair(env, "b", sb, hb);

    assert_int_equal(sync_sf_update(env, sa,
                                    "{\"Two_Way__c\":\"sf-tw\",\"Prefer_Sf__c\":\"sf-pf\","
                                    "\"Always_Sf__c\":\"sf-as\",\"Always_Hs__c\":\"sf-ah\","
                                    "\"Dont_Sync__c\":\"sf-ds\"}"),
                     0);
    assert_int_equal(sync_hs_update(env, ha,
                                    "{\"two_way\":\"hs-tw\",\"prefer_sf\":\"hs-pf\","
                                    "\"always_sf\":\"hs-as\",\"always_hs\":\"hs-ah\","
                                    "\"dont_sync\":\"hs-ds\"}"),
                     0);
    /* b: Salesforce blanks prefer_sf while HubSpot sets it; both set two_way to the same value */
    assert_int_equal(sync_sf_update(env, sb, "{\"Prefer_Sf__c\":null,\"Two_Way__c\":\"same\"}"), 0);
    assert_int_equal(sync_hs_update(env, hb, "{\"prefer_sf\":\"hs-fill\",\"two_way\":\"same\"}"),
                     0);
    quiet(env);

    bool sf_wins = strcmp(winner, "salesforce") == 0;
    const char *tw = sf_wins ? "sf-tw" : "hs-tw";
    const char *sfa[] = {tw, "sf-pf", "sf-as", "hs-ah", "sf-ds"};
    const char *hsa[] = {tw, "sf-pf", "sf-as", "hs-ah", "hs-ds"};
    expect_values(env, sa, ha, sfa, hsa);
    const char *sfb[] = {"same", "hs-fill", "b-always_sf", "b-always_hs", "b-dont_sync"};
    const char *hsb[] = {"same", "hs-fill", "b-always_sf", "", ""};
    expect_values(env, sb, hb, sfb, hsb);

    long st = 0;
    json_object *o2 = sync_api(env, "GET", "/api/conflicts?limit=100", NULL, &st);
    assert_int_equal(st, 200);
    json_object *list = sync_get(o2, "conflicts");
    assert_non_null(list);
    const struct want_conflict want[] = {
        {sa, "Two_Way__c", winner, "conflict_winner", "sf-tw", "hs-tw"},
        {sa, "Prefer_Sf__c", "salesforce", "field_rule", "sf-pf", "hs-pf"},
        {sa, "Always_Sf__c", "salesforce", "field_rule", "sf-as", "hs-as"},
        {sa, "Always_Hs__c", "hubspot", "field_rule", "sf-ah", "hs-ah"},
        {sb, "Prefer_Sf__c", "hubspot", "blank", NULL, "hs-fill"},
    };
    int bad = 0;
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        bad += !conflict_listed(list, &want[i]);
    /* equal values and dont_sync are never conflicts */
    size_t n = json_object_array_length(list);
    if (n != sizeof want / sizeof want[0]) {
        fprintf(stderr, "conflicts listed: %s\n", json_object_to_json_string(list));
        bad++;
    }
    json_object_put(o2);
    if (bad)
        fail_msg("GET /api/conflicts does not list the expected %zu conflicts (%zu listed)",
                 sizeof want / sizeof want[0], n);
    check_no_failed(env);
}

static void test_conflicts_salesforce_wins(void **state)
{
    run_conflicts(state, "salesforce");
}

static void test_conflicts_hubspot_wins(void **state)
{
    run_conflicts(state, "hubspot");
}

/* ---- echoes ---- */

static void expect_writes_stay(const struct sync_env *env, long hs, long sf)
{
    harness_sleep_ms(3000);
    quiet(env);
    long hs2 = sync_write_calls(env, "hubspot"), sf2 = sync_write_calls(env, "salesforce");
    if (hs2 != hs || sf2 != sf)
        fail_msg("writes after the change settled: HubSpot %ld -> %ld, Salesforce %ld -> %ld", hs,
                 hs2, sf, sf2);
}

static void test_echo_settles_without_writes(void **state)
{
    struct sync_env *env = start(state, NULL);
    char sf_id[64], hs_id[64];
    make_pair(env, "e", sf_id, hs_id);
    expect_writes_stay(env, sync_write_calls(env, "hubspot"), sync_write_calls(env, "salesforce"));

    /* one Salesforce change: one HubSpot write, nothing back to Salesforce, then nothing */
    long hs0 = sync_write_calls(env, "hubspot"), sf0 = sync_write_calls(env, "salesforce");
    assert_int_equal(sync_sf_update(env, sf_id, "{\"Two_Way__c\":\"echo-1\"}"), 0);
    assert_true(sync_wait_hs_value(env, hs_id, "two_way", "echo-1", WAIT_MS));
    quiet(env);
    long hs1 = sync_write_calls(env, "hubspot"), sf1 = sync_write_calls(env, "salesforce");
    if (hs1 - hs0 != 1 || sf1 != sf0)
        fail_msg("a Salesforce change cost %ld HubSpot and %ld Salesforce writes (expected 1, 0)",
                 hs1 - hs0, sf1 - sf0);
    expect_writes_stay(env, hs1, sf1);

    /* one HubSpot change: one Salesforce write, then nothing */
    assert_int_equal(sync_hs_update(env, hs_id, "{\"two_way\":\"echo-2\"}"), 0);
    assert_true(sync_wait_sf_value(env, sf_id, "Two_Way__c", "echo-2", WAIT_MS));
    quiet(env);
    long hs2 = sync_write_calls(env, "hubspot"), sf2 = sync_write_calls(env, "salesforce");
    if (hs2 != hs1 || sf2 - sf1 != 1)
        fail_msg("a HubSpot change cost %ld HubSpot and %ld Salesforce writes (expected 0, 1)",
                 hs2 - hs1, sf2 - sf1);
    expect_writes_stay(env, hs2, sf2);
    check_no_failed(env);
}

/* ---- deletes, restore, merge ---- */

static void test_delete_hubspot_to_salesforce(void **state)
{
    struct sync_env *env = start(state, NULL);
    char sf_id[64], hs_id[64];
    make_pair(env, "d", sf_id, hs_id);
    assert_int_equal(sync_hs_delete(env, hs_id), 0);
    if (!sync_wait_sf_deleted(env, sf_id, WAIT_MS))
        fail_msg("HubSpot delete of %s did not delete Salesforce %s", hs_id, sf_id);
    quiet(env);
    assert_int_equal(sync_db_count(env,
                                   "SELECT count(*) FROM sync_links WHERE hubspot_id = $1 AND "
                                   "state = 'deleted'",
                                   hs_id, (const char *)NULL),
                     1);
    expect_live_counts(env, 0, 0);
    check_no_failed(env);
}

static void test_delete_salesforce_to_hubspot(void **state)
{
    /* outbound messages never report deletes: the sweep finds them */
    struct sync_env_options o = {.sweep_interval_s = 1};
    struct sync_env *env = start(state, &o);
    char sf_id[64], hs_id[64];
    make_pair(env, "x", sf_id, hs_id);
    assert_int_equal(sync_sf_delete(env, sf_id), 0);
    if (!sync_wait_hs_archived(env, hs_id, WAIT_MS))
        fail_msg("Salesforce delete of %s did not archive HubSpot %s", sf_id, hs_id);
    quiet(env);
    assert_int_equal(sync_db_count(env,
                                   "SELECT count(*) FROM sync_links WHERE hubspot_id = $1 AND "
                                   "state = 'deleted'",
                                   hs_id, (const char *)NULL),
                     1);
    expect_live_counts(env, 0, 0);
    check_no_failed(env);
}

static void test_restore_hubspot(void **state)
{
    /* HubSpot deletes leave Salesforce alone here, so the restored pair syncs again */
    struct sync_env_options o = {.h2s_delete = "none"};
    struct sync_env *env = start(state, &o);
    char sf_id[64], hs_id[64];
    make_pair(env, "o", sf_id, hs_id);
    assert_int_equal(sync_hs_delete(env, hs_id), 0);
    quiet(env);
    expect_live_counts(env, 1, 0);
    assert_int_equal(sync_hs_restore(env, hs_id), 0);
    quiet(env);
    expect_live_counts(env, 1, 1);
    assert_int_equal(sync_hs_update(env, hs_id, "{\"two_way\":\"restored-hs\"}"), 0);
    assert_true(sync_wait_sf_value(env, sf_id, "Two_Way__c", "restored-hs", WAIT_MS));
    quiet(env);
    assert_int_equal(sync_sf_update(env, sf_id, "{\"Always_Sf__c\":\"restored-sf\"}"), 0);
    assert_true(sync_wait_hs_value(env, hs_id, "always_sf", "restored-sf", WAIT_MS));
    quiet(env);
    expect_live_counts(env, 1, 1);
    assert_int_equal(sync_db_count(env,
                                   "SELECT count(*) FROM sync_links WHERE hubspot_id = $1 AND "
                                   "state = 'active'",
                                   hs_id, (const char *)NULL),
                     1);
    check_no_failed(env);
}

static void test_merge_hubspot(void **state)
{
    struct sync_env *env = start(state, NULL);
    char sa[64], ha[64], sb[64], hb[64];
    make_pair(env, "ma", sa, ha);
    make_pair(env, "mb", sb, hb);
    assert_int_equal(sync_hs_merge(env, ha, hb), 0);
    quiet(env);
    /* the merged record's link is gone; no HubSpot record was created to replace it */
    assert_int_equal(sync_db_count(env,
                                   "SELECT count(*) FROM sync_links WHERE hubspot_id = $1 AND "
                                   "state = 'deleted'",
                                   hb, (const char *)NULL),
                     1);
    json_object *hs = sync_hs_list(env);
    size_t live = count_live(hs, true);
    json_object_put(hs);
    assert_int_equal(live, 1);
    /* the survivor keeps syncing with its Salesforce record, both ways */
    assert_int_equal(sync_sf_update(env, sa, "{\"Two_Way__c\":\"after-merge\"}"), 0);
    assert_true(sync_wait_hs_value(env, ha, "two_way", "after-merge", WAIT_MS));
    quiet(env);
    assert_int_equal(sync_hs_update(env, ha, "{\"always_hs\":\"survivor\"}"), 0);
    assert_true(sync_wait_sf_value(env, sa, "Always_Hs__c", "survivor", WAIT_MS));
    quiet(env);
    check_no_failed(env);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_create_salesforce_to_hubspot, teardown),
        cmocka_unit_test_teardown(test_create_hubspot_to_salesforce, teardown),
        cmocka_unit_test_teardown(test_update_and_clear_both_ways, teardown),
        cmocka_unit_test_teardown(test_field_rules, teardown),
        cmocka_unit_test_teardown(test_conflicts_salesforce_wins, teardown),
        cmocka_unit_test_teardown(test_conflicts_hubspot_wins, teardown),
        cmocka_unit_test_teardown(test_echo_settles_without_writes, teardown),
        cmocka_unit_test_teardown(test_delete_hubspot_to_salesforce, teardown),
        cmocka_unit_test_teardown(test_delete_salesforce_to_hubspot, teardown),
        cmocka_unit_test_teardown(test_restore_hubspot, teardown),
        cmocka_unit_test_teardown(test_merge_hubspot, teardown),
    };
    /* SYNC_TEST_FILTER=pattern runs only the matching tests (while investigating) */
    const char *only = getenv("SYNC_TEST_FILTER");
    if (only && *only)
        cmocka_set_test_filter(only);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
