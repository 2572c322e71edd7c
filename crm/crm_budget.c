/* crm_budget.c: the JSON of GET /api/budget from the clients' limiters and call counters.
 *
 * One side per CRM, built the same way: limits (HubSpot's two buckets; Salesforce has no
 * client-side bucket, so none), a snapshot of the client's crm_call_stats, and the daily
 * allocation from the last answer's headers (Sforce-Limit-Info, X-HubSpot-RateLimit-Daily).
 * Instants are UTC ISO 8601 with milliseconds. Must not: change a limiter (rate_limit_available
 * only reads). */
#include "crm/crm_budget.h"

#include "crm/crm_call_stats.h"
#include "crm/hubspot_client.h"
#include "crm/salesforce_client.h"
#include "crm/shared_budget.h"
#include "db/budget_store.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#define MAX_LIMITS 4

static json_object *iso_instant(int64_t ms)
{
    time_t secs = (time_t)(ms / 1000);
    struct tm tm;
    if (!gmtime_r(&secs, &tm))
        return NULL;
    char buf[40];
    snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ms % 1000));
    return json_object_new_string(buf);
}

static json_object *limits_json(const struct crm_limit_view *v, int n)
{
    json_object *arr = json_object_new_array();
    for (int i = 0; arr && i < n; i++) {
        json_object *o = json_object_new_object();
        json_object_object_add(o, "name", json_object_new_string(v[i].name));
        json_object_object_add(o, "capacity", json_object_new_int(v[i].capacity));
        json_object_object_add(o, "available", json_object_new_int(v[i].available));
        json_object_object_add(o, "interval_s", json_object_new_int(v[i].interval_s));
        json_object_array_add(arr, o);
    }
    return arr;
}

static json_object *recent_json(const struct crm_call_stats_snapshot *s)
{
    json_object *arr = json_object_new_array();
    for (int i = 0; arr && i < s->nrecent; i++) {
        json_object *o = json_object_new_object();
        json_object_object_add(o, "at", iso_instant(s->recent[i].at_ms));
        json_object_object_add(o, "policy", json_object_new_string(s->recent[i].policy));
        json_object_object_add(
            o, "retry_after_s",
            json_object_new_double((double)s->recent[i].retry_after_ms / 1000.0));
        json_object_array_add(arr, o);
    }
    return arr;
}

/* One CRM's side: stats may be NULL (client not configured: zeros). */
static json_object *side_json(bool configured, const struct crm_limit_view *limits, int nlimits,
                              struct crm_call_stats *stats, int64_t now_ms)
{
    struct crm_call_stats_snapshot snap;
    crm_call_stats_snapshot(stats, now_ms, &snap);
    json_object *o = json_object_new_object();
    if (!o)
        return NULL;
    json_object_object_add(o, "configured", json_object_new_boolean(configured));
    json_object_object_add(o, "limits", limits_json(limits, nlimits));
    json_object_object_add(o, "calls_last_hour", json_object_new_int64(snap.calls_last_hour));
    json_object_object_add(o, "rate_limited_last_hour",
                           json_object_new_int64(snap.rate_limited_last_hour));
    json_object_object_add(o, "recent_429", recent_json(&snap));
    return o;
}

/* The daily allocation the last answer reported, and the share at which every instance stops. */
static json_object *daily_json(struct crm_call_stats *stats, int stop_percent, int64_t now_ms)
{
    struct crm_call_stats_snapshot snap;
    crm_call_stats_snapshot(stats, now_ms, &snap);
    if (!snap.have_usage)
        return NULL;
    long long remaining = snap.usage_max - snap.usage_used;
    json_object *o = json_object_new_object();
    json_object_object_add(o, "max", json_object_new_int64(snap.usage_max));
    json_object_object_add(o, "remaining", json_object_new_int64(remaining > 0 ? remaining : 0));
    json_object_object_add(o, "used", json_object_new_int64(snap.usage_used));
    json_object_object_add(o, "stop_percent", json_object_new_int(stop_percent));
    return o;
}

/* The shared rows of sb's account (at most MAX_LIMITS), read in one statement: n rows, or -1 when
 * the database did not answer. */
static int shared_rows(struct shared_budget *sb, struct budget_row *rows)
{
    size_t n = 0;
    char err[256];
    if (budget_store_list(shared_budget_pool(sb), 1000, shared_budget_account(sb), rows, MAX_LIMITS,
                          &n, err, sizeof err) < 0)
        return -1;
    int kept = 0; /* the prefix "hubspot:1" also matches "hubspot:12" */
    for (size_t i = 0; i < n; i++)
        if (strcmp(rows[i].account, shared_budget_account(sb)) == 0)
            rows[kept++] = rows[i];
    return kept;
}

static json_object *shared_limit_json(const struct budget_row *r)
{
    json_object *o = json_object_new_object();
    int avail = r->capacity - r->in_use;
    json_object_object_add(o, "name", json_object_new_string(r->limit));
    json_object_object_add(o, "capacity", json_object_new_int(r->capacity));
    json_object_object_add(o, "in_use", json_object_new_int(r->in_use));
    json_object_object_add(o, "available", json_object_new_int(avail > 0 ? avail : 0));
    json_object_object_add(o, "interval_s", json_object_new_int((int)(r->interval_ms / 1000)));
    json_object_object_add(o, "paused_s", json_object_new_double((double)r->paused_ms / 1000.0));
    json_object_object_add(o, "pause_reason",
                           r->pause_reason[0] ? json_object_new_string(r->pause_reason) : NULL);
    json_object_object_add(o, "taken", json_object_new_int64(r->taken));
    json_object_object_add(o, "empty_takes", json_object_new_int64(r->refusals));
    json_object_object_add(o, "pauses", json_object_new_int64(r->pauses));
    return o;
}

/* {"account":"hubspot:42","available":true,"limits":[…]} of every instance, or null when the
 * client keeps its own budget; "available" false (no limits) when the database did not answer. */
static json_object *shared_json(struct shared_budget *sb)
{
    if (!sb)
        return NULL;
    struct budget_row rows[MAX_LIMITS];
    int n = shared_rows(sb, rows);
    json_object *o = json_object_new_object();
    json_object *arr = json_object_new_array();
    json_object_object_add(o, "account", json_object_new_string(shared_budget_account(sb)));
    json_object_object_add(o, "available", json_object_new_boolean(n >= 0));
    for (int i = 0; i < n; i++)
        json_object_array_add(arr, shared_limit_json(&rows[i]));
    json_object_object_add(o, "limits", arr);
    return o;
}

json_object *crm_budget_json(const struct crm_clients *clients, int64_t now_ms)
{
    struct crm_limit_view limits[MAX_LIMITS];
    int nlimits =
        clients->hubspot ? hubspot_client_limits(clients->hubspot, limits, MAX_LIMITS) : 0;
    json_object *hs = side_json(clients->hubspot != NULL, limits, nlimits,
                                hubspot_client_stats(clients->hubspot), now_ms);
    struct crm_call_stats *sf_stats = salesforce_client_stats(clients->salesforce);
    json_object *sf = side_json(clients->salesforce != NULL, NULL, 0, sf_stats, now_ms);
    json_object *out = json_object_new_object();
    if (!hs || !sf || !out) {
        json_object_put(hs);
        json_object_put(sf);
        json_object_put(out);
        return NULL;
    }
    json_object_object_add(
        sf, "daily_api_requests",
        daily_json(sf_stats, salesforce_client_daily_max_percent(clients->salesforce), now_ms));
    json_object_object_add(hs, "daily_api_requests",
                           daily_json(hubspot_client_stats(clients->hubspot),
                                      hubspot_client_daily_max_percent(clients->hubspot), now_ms));
    json_object_object_add(hs, "shared",
                           shared_json(hubspot_client_shared_budget(clients->hubspot)));
    json_object_object_add(sf, "shared",
                           shared_json(salesforce_client_shared_budget(clients->salesforce)));
    json_object_object_add(out, "hubspot", hs);
    json_object_object_add(out, "salesforce", sf);
    return out;
}
