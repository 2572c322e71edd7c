/* router.c: the table of every crmsim endpoint and the per-request pipeline.
 *
 * Pipeline for CRM paths: fault rules (latency/timeout sleeps happen without the lock) → lock →
 * auth (HubSpot bearer + rolling window + X-HubSpot-RateLimit-* headers; Salesforce session + API
 * usage + Sforce-Limit-Info) → handler → stats → unlock. /_sim/ paths skip faults, auth and stats.
 * Routes are matched in table order (literal segments before placeholders where they overlap); a
 * path that matches with another method answers 405. Date-versioned HubSpot object paths
 * (/crm/objects/2026-03/...) are served as /crm/v3/objects/.... */
#include "tests/crmsim/router.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/crmsim/control.h"
#include "tests/crmsim/faults.h"
#include "tests/crmsim/hubspot.h"
#include "tests/crmsim/salesforce.h"
#include "tests/crmsim/stats.h"

#define HS   AREA_HUBSPOT
#define SF   AREA_SALESFORCE
#define SIMA AREA_SIM
#define SFD  "/services/data/{version}"

static const struct route routes[] = {
    /* HubSpot OAuth */
    {"POST", "/oauth/v1/token", AREA_HUBSPOT_OAUTH, hs_route_oauth_token},
    {"GET", "/oauth/v1/access-tokens/{token}", AREA_HUBSPOT_OAUTH, hs_route_oauth_token_info},
    {"POST", "/oauth/v2/private-apps/get/access-token-info", AREA_HUBSPOT_OAUTH,
     hs_route_private_app_token_info},
    {"GET", "/account-info/v3/details", HS, hs_route_account_details},
    /* HubSpot schemas */
    {"GET", "/crm-object-schemas/v3/schemas", HS, hs_route_schemas_list},
    {"GET", "/crm-object-schemas/v3/schemas/{type}", HS, hs_route_schemas_get},
    /* HubSpot records */
    {"GET", "/crm/v3/objects/{type}", HS, hs_route_list},
    {"POST", "/crm/v3/objects/{type}", HS, hs_route_create},
    {"POST", "/crm/v3/objects/{type}/search", HS, hs_route_search},
    {"POST", "/crm/v3/objects/{type}/merge", HS, hs_route_merge},
    {"POST", "/crm/v3/objects/{type}/batch/read", HS, hs_route_batch_read},
    {"POST", "/crm/v3/objects/{type}/batch/create", HS, hs_route_batch_create},
    {"POST", "/crm/v3/objects/{type}/batch/update", HS, hs_route_batch_update},
    {"POST", "/crm/v3/objects/{type}/batch/upsert", HS, hs_route_batch_upsert},
    {"POST", "/crm/v3/objects/{type}/batch/archive", HS, hs_route_batch_archive},
    {"GET", "/crm/v3/objects/{type}/{id}", HS, hs_route_get},
    {"PATCH", "/crm/v3/objects/{type}/{id}", HS, hs_route_update},
    {"DELETE", "/crm/v3/objects/{type}/{id}", HS, hs_route_archive},
    /* HubSpot associations v4 */
    {"PUT", "/crm/v4/objects/{from}/{id}/associations/default/{to}/{toId}", HS,
     hs_route_assoc_put_default},
    {"PUT", "/crm/v4/objects/{from}/{id}/associations/{to}/{toId}", HS,
     hs_route_assoc_put_labelled},
    {"DELETE", "/crm/v4/objects/{from}/{id}/associations/{to}/{toId}", HS, hs_route_assoc_delete},
    {"GET", "/crm/v4/objects/{from}/{id}/associations/{to}", HS, hs_route_assoc_list},
    {"POST", "/crm/v4/associations/{from}/{to}/batch/create", HS, hs_route_assoc_batch_create},
    {"POST", "/crm/v4/associations/{from}/{to}/batch/associate/default", HS,
     hs_route_assoc_batch_default},
    {"POST", "/crm/v4/associations/{from}/{to}/batch/read", HS, hs_route_assoc_batch_read},
    {"POST", "/crm/v4/associations/{from}/{to}/batch/archive", HS, hs_route_assoc_batch_archive},
    {"GET", "/crm/v4/associations/{from}/{to}/labels", HS, hs_route_assoc_labels},
    /* Salesforce OAuth */
    {"POST", "/services/oauth2/token", AREA_SALESFORCE_OAUTH, sf_route_oauth_token},
    {"POST", "/services/oauth2/revoke", AREA_SALESFORCE_OAUTH, sf_route_oauth_revoke},
    /* Salesforce REST */
    {"GET", "/services/data", AREA_SALESFORCE_PUBLIC, sf_route_versions},
    {"GET", SFD "/limits", SF, sf_route_limits},
    {"GET", SFD "/sobjects", SF, sf_route_global_describe},
    {"GET", SFD "/sobjects/{T}", SF, sf_route_sobject_info},
    {"POST", SFD "/sobjects/{T}", SF, sf_route_create},
    {"GET", SFD "/sobjects/{T}/describe", SF, sf_route_describe},
    {"GET", SFD "/sobjects/{T}/updated", SF, sf_route_updated},
    {"GET", SFD "/sobjects/{T}/deleted", SF, sf_route_deleted},
    {"GET", SFD "/sobjects/{T}/{id}", SF, sf_route_get},
    {"PATCH", SFD "/sobjects/{T}/{id}", SF, sf_route_update},
    {"DELETE", SFD "/sobjects/{T}/{id}", SF, sf_route_delete},
    {"GET", SFD "/sobjects/{T}/{field}/{value}", SF, sf_route_get_by_key},
    {"PATCH", SFD "/sobjects/{T}/{field}/{value}", SF, sf_route_upsert},
    {"DELETE", SFD "/sobjects/{T}/{field}/{value}", SF, sf_route_delete_by_key},
    {"POST", SFD "/composite/sobjects", SF, sf_route_collection_create},
    {"PATCH", SFD "/composite/sobjects", SF, sf_route_collection_update},
    {"DELETE", SFD "/composite/sobjects", SF, sf_route_collection_delete},
    {"PATCH", SFD "/composite/sobjects/{T}/{field}", SF, sf_route_collection_upsert},
    {"GET", SFD "/query", SF, sf_route_query},
    {"GET", SFD "/query/{locator}", SF, sf_route_query_more},
    {"GET", SFD "/queryAll", SF, sf_route_query_all},
    {"GET", SFD "/queryAll/{locator}", SF, sf_route_query_more},
    /* control API */
    {"GET", "/_sim/health", SIMA, ctl_health},
    {"POST", "/_sim/reset", SIMA, ctl_reset},
    {"POST", "/_sim/fixtures", SIMA, ctl_fixtures},
    {"GET", "/_sim/dump", SIMA, ctl_dump},
    {"GET", "/_sim/config", SIMA, ctl_config_get},
    {"POST", "/_sim/config", SIMA, ctl_config_set},
    {"GET", "/_sim/config/schema", SIMA, ctl_config_schema},
    {"GET", "/_sim/stats", SIMA, ctl_stats},
    {"POST", "/_sim/stats/reset", SIMA, ctl_stats_reset},
    {"GET", "/_sim/faults", SIMA, ctl_faults_list},
    {"POST", "/_sim/faults", SIMA, ctl_faults_add},
    {"DELETE", "/_sim/faults", SIMA, ctl_faults_clear},
    {"DELETE", "/_sim/faults/{id}", SIMA, ctl_faults_delete},
    {"GET", "/_sim/deliveries", SIMA, ctl_deliveries},
    {"POST", "/_sim/deliveries/flush", SIMA, ctl_deliveries_flush},
    {"POST", "/_sim/hubspot/associations", SIMA, ctl_hs_assoc_add},
    {"DELETE", "/_sim/hubspot/associations", SIMA, ctl_hs_assoc_remove},
    {"POST", "/_sim/hubspot/tokens/expire", SIMA, ctl_hs_tokens_expire},
    {"POST", "/_sim/hubspot/sign", SIMA, ctl_hs_sign},
    {"GET", "/_sim/hubspot/{type}/records", SIMA, ctl_hs_list},
    {"GET", "/_sim/hubspot/{type}/count", SIMA, ctl_hs_count},
    {"POST", "/_sim/hubspot/{type}/records", SIMA, ctl_hs_create},
    {"POST", "/_sim/hubspot/{type}/merge", SIMA, ctl_hs_merge},
    {"GET", "/_sim/hubspot/{type}/records/{id}", SIMA, ctl_hs_get},
    {"PATCH", "/_sim/hubspot/{type}/records/{id}", SIMA, ctl_hs_update},
    {"DELETE", "/_sim/hubspot/{type}/records/{id}", SIMA, ctl_hs_delete},
    {"POST", "/_sim/hubspot/{type}/records/{id}/restore", SIMA, ctl_hs_restore},
    {"POST", "/_sim/salesforce/tokens/invalidate", SIMA, ctl_sf_tokens_invalidate},
    {"POST", "/_sim/salesforce/api-usage", SIMA, ctl_sf_api_usage},
    {"GET", "/_sim/salesforce/{T}/records", SIMA, ctl_sf_list},
    {"GET", "/_sim/salesforce/{T}/count", SIMA, ctl_sf_count},
    {"POST", "/_sim/salesforce/{T}/records", SIMA, ctl_sf_create},
    {"GET", "/_sim/salesforce/{T}/records/{id}", SIMA, ctl_sf_get},
    {"PATCH", "/_sim/salesforce/{T}/records/{id}", SIMA, ctl_sf_update},
    {"DELETE", "/_sim/salesforce/{T}/records/{id}", SIMA, ctl_sf_delete},
    {NULL, NULL, AREA_OTHER, NULL},
};

const struct route *router_table(void)
{
    return routes;
}

/* "v58.0" → 58; -1 when not a version segment. */
static int parse_version(const char *s)
{
    if (s[0] != 'v' || !isdigit((unsigned char)s[1]))
        return -1;
    const char *p = s + 1;
    int major = 0;
    while (isdigit((unsigned char)*p)) {
        major = major * 10 + (*p - '0');
        if (major > 1000)
            return -1;
        p++;
    }
    if (*p != '.' || !isdigit((unsigned char)p[1]))
        return -1;
    p++;
    while (isdigit((unsigned char)*p))
        p++;
    return *p ? -1 : major;
}

static bool route_match(const struct route *r, struct http_req *req)
{
    const char *p = r->pattern;
    size_t i = 0, np = 0;
    while (*p) {
        while (*p == '/')
            p++;
        if (!*p)
            break;
        const char *e = strchr(p, '/');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        if (i >= req->nseg)
            return false;
        const char *seg = req->seg[i];
        if (n == 9 && strncmp(p, "{version}", 9) == 0) {
            if (parse_version(seg) < 0)
                return false;
        } else if (*p == '{') {
            if (np < HTTP_MAX_PARAMS)
                req->params[np++] = seg;
        } else if (strlen(seg) != n || strncmp(seg, p, n) != 0) {
            return false;
        }
        i++;
        p += n;
    }
    if (i != req->nseg)
        return false;
    req->nparams = np;
    return true;
}

static enum route_area guess_area(const char *path)
{
    if (util_starts_with(path, "/_sim"))
        return AREA_SIM;
    if (util_starts_with(path, "/services/oauth2"))
        return AREA_SALESFORCE_OAUTH;
    if (util_starts_with(path, "/services"))
        return AREA_SALESFORCE;
    if (util_starts_with(path, "/crm") || util_starts_with(path, "/oauth"))
        return AREA_HUBSPOT;
    return AREA_OTHER;
}

static void plain_error(struct http_resp *resp, int status, const char *message)
{
    json_object *o = json_object_new_object();
    json_set_str(o, "error", message);
    http_resp_json(resp, status, o);
}

static void area_error(enum route_area area, struct http_resp *resp, int status,
                       const char *message)
{
    switch (area) {
    case AREA_HUBSPOT:
    case AREA_HUBSPOT_OAUTH:
        hs_errorf(resp, status,
                  status == 404   ? "OBJECT_NOT_FOUND"
                  : status == 401 ? "INVALID_AUTHENTICATION"
                  : status < 500  ? "VALIDATION_ERROR"
                                  : "INTERNAL_ERROR",
                  "%s", message);
        break;
    case AREA_SALESFORCE:
    case AREA_SALESFORCE_PUBLIC:
    case AREA_SALESFORCE_OAUTH: {
        const char *code = status == 404   ? "NOT_FOUND"
                           : status == 405 ? "METHOD_NOT_ALLOWED"
                           : status == 401 ? "INVALID_SESSION_ID"
                           : status == 403 ? "REQUEST_LIMIT_EXCEEDED"
                           : status == 503 ? "SERVER_UNAVAILABLE"
                           : status >= 500 ? "UNKNOWN_EXCEPTION"
                                           : "INVALID_REQUEST";
        sf_error(resp, status, code, message);
        break;
    }
    default:
        plain_error(resp, status, message);
    }
}

void router_reject(struct sim *sim, struct http_req *req, struct http_resp *resp, int status,
                   const char *message)
{
    enum route_area area = guess_area(req->path ? req->path : "/");
    pthread_mutex_lock(&sim->lock);
    area_error(area, resp, status, message);
    if (area != AREA_SIM)
        stats_record(sim, req, resp, "(rejected)");
    pthread_mutex_unlock(&sim->lock);
}

/* /crm/objects/2026-03/... → /crm/v3/objects/... */
static void rewrite_dated_paths(struct http_req *req)
{
    if (req->nseg >= 3 && strcmp(req->seg[0], "crm") == 0 && strcmp(req->seg[1], "objects") == 0 &&
        strlen(req->seg[2]) == 7 && isdigit((unsigned char)req->seg[2][0]) &&
        req->seg[2][4] == '-') {
        free(req->seg[1]);
        free(req->seg[2]);
        req->seg[1] = xstrdup("v3");
        req->seg[2] = xstrdup("objects");
    }
}

static void fault_response(struct sim *sim, enum route_area area, struct fault_action *fa,
                           struct http_resp *resp)
{
    if (fa->body) {
        bool json = fa->body[0] == '{' || fa->body[0] == '[' || fa->body[0] == '"';
        http_resp_body(resp, fa->status, json ? "application/json;charset=UTF-8" : "text/plain",
                       fa->body, strlen(fa->body));
        return;
    }
    if ((area == AREA_HUBSPOT || area == AREA_HUBSPOT_OAUTH) && fa->status == 429) {
        char cid[40];
        hs_correlation_id(cid);
        json_object *o = json_object_new_object();
        json_set_str(o, "status", "error");
        json_set_str(o, "message", "You have reached your secondly limit.");
        json_set_str(o, "errorType", "RATE_LIMIT");
        json_set_str(o, "correlationId", cid);
        json_set_str(o, "policyName", "TEN_SECONDLY_ROLLING");
        http_resp_json(resp, 429, o);
        /* what HubSpot sends with a rolling-window 429: the window's size and nothing left */
        char v[32];
        snprintf(v, sizeof v, "%lld", (long long)sim->cfg.hs_rate_limit_max);
        http_resp_header(resp, "X-HubSpot-RateLimit-Max", v);
        http_resp_header(resp, "X-HubSpot-RateLimit-Remaining", "0");
        snprintf(v, sizeof v, "%lld", (long long)sim->cfg.hs_rate_limit_interval_ms);
        http_resp_header(resp, "X-HubSpot-RateLimit-Interval-Milliseconds", v);
        return;
    }
    char msg[128];
    snprintf(msg, sizeof msg, "crmsim injected fault (HTTP %d)", fa->status);
    area_error(area, resp, fa->status, msg);
}

void router_dispatch(struct sim *sim, struct http_req *req, struct http_resp *resp)
{
    rewrite_dated_paths(req);
    const struct route *r = NULL;
    bool path_match = false;
    for (const struct route *c = routes; c->method; c++) {
        if (!route_match(c, req))
            continue;
        path_match = true;
        if (strcmp(c->method, req->method) == 0) {
            r = c;
            break;
        }
    }
    enum route_area area = r ? r->area : guess_area(req->path);
    const char *route_name = r ? r->pattern : path_match ? "(method not allowed)" : "(unmatched)";
    req->route = r;
    if (r && area == AREA_SALESFORCE && req->nseg > 2) {
        snprintf(req->caller.sf_version, sizeof req->caller.sf_version, "%s", req->seg[2]);
        req->caller.sf_version_major = parse_version(req->seg[2]);
    }

    if (area != AREA_SIM) {
        struct fault_action fa;
        pthread_mutex_lock(&sim->lock);
        faults_pick(sim, req->method, req->path, req->body, &fa);
        pthread_mutex_unlock(&sim->lock);
        if (fa.hit) {
            if (fa.latency_ms > 0)
                sim_sleep_ms(sim, fa.latency_ms);
            if (fa.timeout) {
                sim_sleep_ms(sim, fa.timeout_ms);
                resp->drop = true;
            } else if (fa.status) {
                fault_response(sim, area, &fa, resp);
            }
            if (fa.timeout || fa.status) {
                pthread_mutex_lock(&sim->lock);
                stats_record(sim, req, resp, route_name);
                pthread_mutex_unlock(&sim->lock);
                fault_action_free(&fa);
                return;
            }
        }
        fault_action_free(&fa);
    }

    pthread_mutex_lock(&sim->lock);
    if (!r) {
        if (path_match)
            area_error(area, resp, 405, "Method Not Allowed");
        else
            area_error(area, resp, 404,
                       area == AREA_SALESFORCE ? "The requested resource does not exist"
                                               : "Unable to route the request: unknown path");
    } else {
        bool ok = true;
        if (area == AREA_HUBSPOT)
            ok = hs_auth_check(sim, req, resp) == 0 && hs_ratelimit_check(sim, req, resp) == 0;
        else if (area == AREA_SALESFORCE)
            ok = sf_auth_check(sim, req, resp) == 0 && sf_usage_check(sim, resp) == 0;
        if (ok)
            r->fn(sim, req, resp);
        if (!resp->status && !resp->drop)
            area_error(area, resp, 500, "crmsim handler produced no response");
    }
    if (area == AREA_SALESFORCE)
        sf_usage_header(sim, resp);
    if (area != AREA_SIM)
        stats_record(sim, req, resp, route_name);
    pthread_mutex_unlock(&sim->lock);
}
