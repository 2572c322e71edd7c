/* it_budget_daily.c: the CRMs' daily limits in the shared budget (issue 17), end to end: real
 * `synkro serve` processes on one database against crmsim, whose HubSpot daily window and
 * Salesforce allocation are set small.
 *
 * HubSpot: two processes make pairs; process 1 is killed; crmsim's daily limit is set so that
 * HUBSPOT_DAILY_MAX_PERCENT (50) is reached about 30 calls later, far below the limit itself;
 * a burst of HubSpot edits (webhooks go to process 0) crosses it. Process 0 stops: the burst
 * row is paused with its reason (GET /api/budget shows it), no HubSpot call is made afterwards,
 * crmsim never answered a 429, the stop is logged and counted once, and the edits are still in
 * the queue (none failed). Then process 0 is killed and process 1 started: it never read the
 * usage, yet it makes no HubSpot call for new Salesforce edits (outbound messages go to it): it
 * learned the pause from the row.
 * Salesforce: the same with the org's allocation (Sforce-Limit-Info) and
 * SALESFORCE_API_DAILY_MAX_PERCENT (95): Salesforce edits to process 1 cross it, crmsim never
 * answers REQUEST_LIMIT_EXCEEDED, the daily row is paused with its reason, and process 0,
 * started after, makes no Salesforce call for new HubSpot edits.
 * Must not: know how the budget is kept inside; it reads crmsim's stats, /api/budget, /metrics,
 * logs and the queue's rows. */
#include "harness.h"
#include "sync_env.h"

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

#define NPAIRS  40
#define WAIT_MS 30000

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Calls crmsim answered on routes starting with prefix (status 0: any; else that status). */
static long sim_calls(const struct sync_env *env, const char *prefix, int status)
{
    json_object *st = sync_sim(env, "GET", "/_sim/stats?limit=0", NULL, NULL);
    json_object *calls = sync_get(st, "calls");
    long n = 0;
    for (size_t i = 0; calls && i < json_object_array_length(calls); i++) {
        json_object *c = json_object_array_get_idx(calls, i);
        const char *route = json_object_get_string(sync_get(c, "route"));
        if (!route || strncmp(route, prefix, strlen(prefix)) != 0)
            continue;
        if (status && json_object_get_int(sync_get(c, "status")) != status)
            continue;
        n += json_object_get_int(sync_get(c, "count"));
    }
    json_object_put(st);
    return n;
}

/* Process idx's GET /api/budget (NULL when it did not answer 200). Caller puts. */
static json_object *budget(const struct sync_env *env, size_t idx)
{
    char url[256];
    snprintf(url, sizeof url, "%s/api/budget", env->procs[idx].base_url);
    const char *hdr[] = {"Authorization: Bearer " SYNC_ADMIN_TOKEN, NULL};
    struct harness_response r;
    json_object *out = NULL;
    if (harness_http("GET", url, hdr, NULL, 0, &r) == 0 && r.status == 200 && r.body)
        out = json_tokener_parse(r.body);
    harness_response_free(&r);
    return out;
}

/* The shared limit `name` of crm's side in a budget document (borrowed; NULL when absent). */
static json_object *shared_limit(json_object *b, const char *crm, const char *name)
{
    json_object *lim = sync_get(sync_get(sync_get(b, crm), "shared"), "limits");
    for (size_t i = 0; lim && i < json_object_array_length(lim); i++) {
        json_object *l = json_object_array_get_idx(lim, i);
        if (strcmp(json_object_get_string(sync_get(l, "name")), name) == 0)
            return l;
    }
    return NULL;
}

static long long daily_member(json_object *b, const char *crm, const char *key)
{
    json_object *v = sync_get(sync_get(sync_get(b, crm), "daily_api_requests"), key);
    return v ? json_object_get_int64(v) : -1;
}

/* Waits until crm's shared limit is paused for the daily max (its reason names setting). */
static bool wait_daily_pause(const struct sync_env *env, const char *limit, const char *setting)
{
    char like[96];
    snprintf(like, sizeof like, "daily usage %% reached %s=%%", setting);
    for (int64_t until = now_ms() + WAIT_MS; now_ms() < until;) {
        if (sync_db_count(env,
                          "SELECT count(*) FROM crm_budget WHERE limit_name = $1 AND "
                          "paused_until > now() AND pause_reason LIKE $2",
                          limit, like, (const char *)NULL) == 1)
            return true;
        harness_sleep_ms(100);
    }
    return false;
}

/* Lines of process idx's log containing text. */
static int log_lines(const struct sync_env *env, size_t idx, const char *text)
{
    char path[320];
    snprintf(path, sizeof path, "%s/synkro-%zu.log", env->dir, idx);
    char *log = harness_read_file(path);
    int n = 0;
    for (const char *p = log; p && (p = strstr(p, text)) != NULL; p += strlen(text))
        n++;
    free(log);
    return n;
}

static long long events(const struct sync_env *env, const char *statuses)
{
    return sync_db_count(env,
                         "SELECT count(*) FROM change_events WHERE status = ANY "
                         "(string_to_array($1, ','))",
                         statuses, (const char *)NULL);
}

/* NPAIRS linked pairs, made with every process running; the queue is quiet after. */
static void make_pairs(struct sync_env *env, char (*sf_ids)[64], char (*hs_ids)[64])
{
    for (int i = 0; i < NPAIRS; i++) {
        char body[96];
        snprintf(body, sizeof body, "{\"Two_Way__c\":\"made-%d\"}", i);
        assert_int_equal(sync_sf_create(env, body, sf_ids[i], 64), 0);
    }
    for (int i = 0; i < NPAIRS; i++)
        assert_true(sync_wait_hs_for_sf(env, sf_ids[i], hs_ids[i], 64, WAIT_MS));
    assert_true(sync_wait_quiet(env, WAIT_MS));
}

/* No call to crmsim's routes under prefix for 3 s (after 1.5 s for calls in flight). */
static void expect_no_calls(const struct sync_env *env, const char *prefix)
{
    harness_sleep_ms(1500);
    long before = sim_calls(env, prefix, 0);
    harness_sleep_ms(3000);
    long after = sim_calls(env, prefix, 0);
    fprintf(stderr, "calls to %s in 3 s while stopped: %ld\n", prefix, after - before);
    assert_int_equal(after, before);
}

/* The stop as process idx's /api/budget shows it: the limit paused with the setting's reason,
 * the daily usage at or over stop_percent of max. */
static void expect_budget_stop(const struct sync_env *env, size_t idx, const char *crm,
                               const char *limit, const char *setting, long long max, int pct)
{
    json_object *b = budget(env, idx);
    assert_non_null(b);
    json_object *l = shared_limit(b, crm, limit);
    assert_non_null(l);
    assert_true(json_object_get_double(sync_get(l, "paused_s")) > 0);
    const char *why = json_object_get_string(sync_get(l, "pause_reason"));
    fprintf(stderr, "process %zu: %s %s paused %.0f s (%s)\n", idx, crm, limit,
            json_object_get_double(sync_get(l, "paused_s")), why ? why : "-");
    assert_non_null(why);
    assert_non_null(strstr(why, setting));
    if (max > 0) {
        assert_int_equal(daily_member(b, crm, "max"), max);
        assert_int_equal(daily_member(b, crm, "stop_percent"), pct);
        /* calls in flight at the stop may answer after it with a count a few lower */
        assert_true(daily_member(b, crm, "used") * 100 >= max * (pct - 5));
    }
    json_object_put(b);
}

/* The edits are kept: some still wait in the queue, none failed; those the stop held back wait
 * without an attempt counted (nothing reached the CRM), so however long the stop lasts their
 * retries are never used up. */
static void expect_events_kept(const struct sync_env *env)
{
    long long waiting = events(env, "pending,processing"), failed = events(env, "failed");
    long long held = sync_db_count(env,
                                   "SELECT count(*) FROM change_events WHERE status = 'pending'"
                                   " AND last_error LIKE '%client_rate_limit%'",
                                   (const char *)NULL);
    long long counted = sync_db_count(env,
                                      "SELECT count(*) FROM change_events WHERE status IN"
                                      " ('pending', 'processing') AND attempts > 0",
                                      (const char *)NULL);
    fprintf(stderr, "events waiting: %lld (held back: %lld, with attempts: %lld), failed: %lld\n",
            waiting, held, counted, failed);
    if (failed)
        sync_report_failed(env, 5);
    assert_true(waiting > 0);
    assert_true(held > 0);
    assert_int_equal(counted, 0);
    assert_int_equal(failed, 0);
}

/* One CRM's daily stop as the test drives it. */
struct daily_case {
    const char *crm;     /* its side in /api/budget: "hubspot", "salesforce" */
    const char *limit;   /* the shared row the stop pauses */
    const char *setting; /* "HUBSPOT_DAILY_MAX_PERCENT" */
    int pct;             /* its value in the test */
    const char *routes;  /* crmsim's routes of that CRM */
    int refusal;         /* the status of the CRM's own refusal (must never be answered) */
    const char *held;    /* in the log of a process whose call the stop held back */
    size_t crosser;      /* the process that crosses the max (the other learns from the row) */
};

/* Edits n records of the side whose deliveries go to process proc (webhooks: HubSpot edits to
 * process 0; outbound messages: Salesforce edits to process 1). */
static void edit_for(const struct sync_env *env, size_t proc, char (*sf_ids)[64],
                     char (*hs_ids)[64], int n, const char *tag)
{
    for (int i = 0; i < n; i++) {
        char body[96];
        snprintf(body, sizeof body, "{\"%s\":\"%s-%d\"}", proc == 0 ? "two_way" : "Two_Way__c", tag,
                 i);
        if (proc == 0)
            assert_int_equal(sync_hs_update(env, hs_ids[i], body), 0);
        else
            assert_int_equal(sync_sf_update(env, sf_ids[i], body), 0);
    }
}

/* The crosser alone (the other process killed) syncs a burst of edits: it stops before the CRM
 * refuses anything, with the reason in the row, logged and counted once; the edits wait. */
static void cross(struct sync_env *env, const struct daily_case *c, char (*sf_ids)[64],
                  char (*hs_ids)[64], long long max)
{
    size_t other = 1 - c->crosser;
    char reason[96];
    snprintf(reason, sizeof reason, "%s=%d", c->setting, c->pct);
    assert_int_equal(sync_env_proc_stop(env, other, SIGKILL, 5000), 128 + SIGKILL);
    edit_for(env, c->crosser, sf_ids, hs_ids, NPAIRS, "burst");
    assert_true(wait_daily_pause(env, c->limit, c->setting));
    expect_no_calls(env, c->routes);
    assert_int_equal(sim_calls(env, c->routes, c->refusal), 0);
    expect_budget_stop(env, c->crosser, c->crm, c->limit, reason, max, c->pct);
    assert_int_equal(log_lines(env, c->crosser, "\"crm daily limit stop\""), 1);
    assert_true(sync_proc_metric_total(env, c->crosser, "synkro_crm_daily_stops_total") == 1);
    expect_events_kept(env);
}

/* The crosser killed, the other process started: it never read the usage, yet it makes no call to
 * the CRM for new edits and holds its calls back (retryable): it learned the stop from the row. */
static void learn(struct sync_env *env, const struct daily_case *c, char (*sf_ids)[64],
                  char (*hs_ids)[64])
{
    size_t other = 1 - c->crosser;
    char reason[96];
    snprintf(reason, sizeof reason, "%s=%d", c->setting, c->pct);
    assert_int_equal(sync_env_proc_stop(env, c->crosser, SIGKILL, 5000), 128 + SIGKILL);
    assert_int_equal(sync_env_proc_start(env, other), 0);
    json_object_put(sync_sim(env, "POST", "/_sim/stats/reset", NULL, NULL));
    edit_for(env, other, sf_ids, hs_ids, 10, "late");
    harness_sleep_ms(2000); /* delivered, claimed, tried */
    expect_no_calls(env, c->routes);
    if (sim_calls(env, c->routes, 0) != 0)
        sync_env_dump_logs(env, 6000);
    assert_int_equal(sim_calls(env, c->routes, 0), 0);
    assert_true(log_lines(env, other, c->held) > 0);
    expect_budget_stop(env, other, c->crm, c->limit, reason, 0, 0);
    assert_true(sync_proc_metric_total(env, other, "synkro_crm_daily_stops_total") <= 0);
    expect_events_kept(env);
}

static void test_hubspot_daily_stop(void **state)
{
    const char *extra[] = {"HUBSPOT_DAILY_MAX_PERCENT=50", "SYNKRO_WORKER_BATCH=1", NULL};
    struct sync_env_options o = {.nprocs = 2, .workers = 2, .extra_env = extra};
    struct sync_env *env = sync_env_start_test(state, &o);
    static char sf_ids[NPAIRS][64], hs_ids[NPAIRS][64];
    make_pairs(env, sf_ids, hs_ids);

    /* the portal's count so far: the latest of the two processes' readings (both quiet) */
    long long used = 0;
    for (size_t i = 0; i < 2; i++) {
        json_object *b = budget(env, i);
        long long u = daily_member(b, "hubspot", "used");
        used = u > used ? u : used;
        json_object_put(b);
    }
    assert_true(used > 0);
    long long limit = 2 * used + 60; /* 50%: 30 calls from now; the limit: used + 60 more */
    char cfg[96];
    snprintf(cfg, sizeof cfg, "{\"hubspot_daily_limit\":%lld}", limit);
    long st = 0;
    json_object_put(sync_sim(env, "POST", "/_sim/config", cfg, &st));
    assert_int_equal(st, 200);
    fprintf(stderr, "daily: %lld used, limit %lld, stop at %lld\n", used, limit, limit / 2);

    const struct daily_case c = {.crm = "hubspot",
                                 .limit = "burst",
                                 .setting = "HUBSPOT_DAILY_MAX_PERCENT",
                                 .pct = 50,
                                 .routes = "/crm",
                                 .refusal = 429,
                                 .held = "call budget has no free call",
                                 .crosser = 0};
    cross(env, &c, sf_ids, hs_ids, limit);
    learn(env, &c, sf_ids, hs_ids);
}

static void test_salesforce_daily_stop(void **state)
{
    const char *extra[] = {"SALESFORCE_API_DAILY_MAX_PERCENT=95",
                           "SALESFORCE_API_USAGE_MAX_PERCENT=100", "SYNKRO_WORKER_BATCH=1", NULL};
    struct sync_env_options o = {.nprocs = 2, .workers = 2, .extra_env = extra};
    struct sync_env *env = sync_env_start_test(state, &o);
    static char sf_ids[NPAIRS][64], hs_ids[NPAIRS][64];
    make_pairs(env, sf_ids, hs_ids);

    /* 940 of 1000 used: 95% ten calls from now, REQUEST_LIMIT_EXCEEDED sixty */
    long st = 0;
    json_object_put(
        sync_sim(env, "POST", "/_sim/config", "{\"salesforce_api_usage_max\":1000}", &st));
    assert_int_equal(st, 200);
    json_object_put(sync_sim(env, "POST", "/_sim/salesforce/api-usage", "{\"used\":940}", &st));
    assert_int_equal(st, 200);

    const struct daily_case c = {.crm = "salesforce",
                                 .limit = "daily",
                                 .setting = "SALESFORCE_API_DAILY_MAX_PERCENT",
                                 .pct = 95,
                                 .routes = "/services/data",
                                 .refusal = 403,
                                 .held = "API requests are paused for every instance",
                                 .crosser = 1};
    cross(env, &c, sf_ids, hs_ids, 1000);
    learn(env, &c, sf_ids, hs_ids);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_hubspot_daily_stop, sync_env_teardown),
        cmocka_unit_test_teardown(test_salesforce_daily_stop, sync_env_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
