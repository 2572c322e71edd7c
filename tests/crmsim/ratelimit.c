/* ratelimit.c: API limits of both CRMs: HubSpot's per-token rolling window, daily quota and search
 * limit, and Salesforce's daily API request allocation.
 *
 * HubSpot windows belong to the account, as HubSpot's do: every private-app (static) token of the
 * portal shares one window ("portal"), and an OAuth app has its own per account
 * ("oauth:<client_id>", so that refreshing does not reset it). A window holds the monotonic
 * timestamps of accepted calls in a ring buffer of hubspot_rate_limit_max entries. Rejected calls
 * are not counted. Every authenticated HubSpot response carries the X-HubSpot-RateLimit-* headers.
 * Salesforce counts every authenticated /services/data call in sim->sf.api_used and answers 403
 * REQUEST_LIMIT_EXCEEDED past the maximum. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/crmsim/hubspot.h"
#include "tests/crmsim/salesforce.h"

static void window_free(const char *key, void *value, void *arg)
{
    struct rate_window *w = value;
    free(w->stamps);
    free(w);
}

void hs_ratelimit_clear(struct sim *sim)
{
    hmap_each(&sim->hs.windows, window_free, NULL);
    hmap_clear(&sim->hs.windows);
    sim->hs.search_count = 0;
    sim->hs.search_head = 0;
}

static struct rate_window *window_get(struct sim *sim, const char *principal)
{
    size_t max = (size_t)sim->cfg.hs_rate_limit_max;
    struct rate_window *w = hmap_get(&sim->hs.windows, principal);
    if (w && w->cap != max) {
        free(w->stamps);
        w->stamps = xcalloc(max, sizeof *w->stamps);
        w->cap = max;
        w->head = w->count = 0;
    }
    if (!w) {
        if (sim->hs.windows.count >= SIM_MAX_TOKENS)
            hs_ratelimit_clear(sim);
        w = xcalloc(1, sizeof *w);
        w->stamps = xcalloc(max, sizeof *w->stamps);
        w->cap = max;
        hmap_put(&sim->hs.windows, principal, w);
    }
    return w;
}

static void set_header_int(struct http_resp *resp, const char *name, int64_t v)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%lld", (long long)(v < 0 ? 0 : v));
    http_resp_header(resp, name, buf);
}

static void rate_limit_error(struct http_resp *resp, const char *message, const char *policy)
{
    char cid[40];
    hs_correlation_id(cid);
    json_object *o = json_object_new_object();
    json_set_str(o, "status", "error");
    json_set_str(o, "message", message);
    json_set_str(o, "errorType", "RATE_LIMIT");
    json_set_str(o, "correlationId", cid);
    json_set_str(o, "policyName", policy);
    http_resp_json(resp, 429, o);
}

int hs_ratelimit_check(struct sim *sim, struct http_req *req, struct http_resp *resp)
{
    const char *principal = req->caller.principal;
    struct rate_window *w =
        window_get(sim, strncmp(principal, "static:", 7) == 0 ? "portal" : principal);
    int64_t now = util_mono_ms();
    int64_t interval = sim->cfg.hs_rate_limit_interval_ms;
    while (w->count > 0 && w->stamps[w->head] <= now - interval) {
        w->head = (w->head + 1) % w->cap;
        w->count--;
    }
    int64_t day = util_now_ms() / 86400000;
    if (day != w->day) {
        w->day = day;
        w->daily = 0;
    }
    int rc = 0;
    if (w->daily >= sim->cfg.hs_daily_limit) {
        rate_limit_error(resp, "You have reached your daily limit.", "DAILY");
        rc = -1;
    } else if (w->count >= w->cap) {
        rate_limit_error(resp, "You have reached your secondly limit.", "TEN_SECONDLY_ROLLING");
        rc = -1;
    } else {
        w->stamps[(w->head + w->count) % w->cap] = now;
        w->count++;
        w->daily++;
    }
    set_header_int(resp, "X-HubSpot-RateLimit-Max", (int64_t)w->cap);
    set_header_int(resp, "X-HubSpot-RateLimit-Remaining", (int64_t)(w->cap - w->count));
    set_header_int(resp, "X-HubSpot-RateLimit-Interval-Milliseconds", interval);
    set_header_int(resp, "X-HubSpot-RateLimit-Daily", sim->cfg.hs_daily_limit);
    set_header_int(resp, "X-HubSpot-RateLimit-Daily-Remaining", sim->cfg.hs_daily_limit - w->daily);
    return rc;
}

int hs_search_ratelimit_check(struct sim *sim, struct http_resp *resp)
{
    size_t cap = sizeof sim->hs.search_stamps / sizeof sim->hs.search_stamps[0];
    size_t max = (size_t)sim->cfg.hs_search_rate_per_second;
    if (max > cap)
        max = cap;
    int64_t now = util_mono_ms();
    while (sim->hs.search_count > 0 && sim->hs.search_stamps[sim->hs.search_head] <= now - 1000) {
        sim->hs.search_head = (sim->hs.search_head + 1) % cap;
        sim->hs.search_count--;
    }
    if (sim->hs.search_count >= max) {
        rate_limit_error(resp, "You have reached your secondly limit.", "SECONDLY");
        return -1;
    }
    sim->hs.search_stamps[(sim->hs.search_head + sim->hs.search_count) % cap] = now;
    sim->hs.search_count++;
    return 0;
}

int sf_usage_check(struct sim *sim, struct http_resp *resp)
{
    if (sim->sf.api_used >= sim->cfg.sf_api_usage_max) {
        sf_error(resp, 403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.");
        return -1;
    }
    sim->sf.api_used++;
    return 0;
}

void sf_usage_header(struct sim *sim, struct http_resp *resp)
{
    char buf[64];
    snprintf(buf, sizeof buf, "api-usage=%lld/%lld", (long long)sim->sf.api_used,
             (long long)sim->cfg.sf_api_usage_max);
    http_resp_header(resp, "Sforce-Limit-Info", buf);
}
