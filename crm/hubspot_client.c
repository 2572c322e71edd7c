/* hubspot_client.c: HubSpot API calls: the hooks this client gives the shared call loop
 * (crm/crm_call.c: its call and search budgets, the pause after a 429, the token cache, the
 * error parser with HubSpot's rate-limit headers, the secrets to scrub), OAuth refresh, and the
 * request bodies and answer parsers of every operation.
 *
 * Owns the client's copies of its options, its token cache and its two buckets (see the header
 * for the locks). Request bodies are built with json-c and sent as plain JSON; answers are parsed
 * with json-c; per-input results of batch calls are matched to inputs by objectWriteTraceId,
 * then by id (or idProperty value), never by position unless HubSpot answered every input and
 * named none. Errors are matched the same way, by what they name (context values, sub-errors'
 * contexts, whole-word ids in the message outside embedded JSON and "Existing ID: n"); which
 * inputs are sent again is crm/crm_split.c's rule, for objects and associations alike.
 * Must not: log (callers log the structured errors), let a token reach an error text, give an
 * input an error that does not name it (unless the input was alone in its call), or retry a
 * call itself (crm/crm_call.c does; only the token endpoint has its own loop). */
#include "crm/hubspot_client.h"

#include "base/clock.h"
#include "base/config.h"
#include "base/secret.h"
#include "base/strbuf.h"
#include "crm/crm_call.h"
#include "crm/crm_call_stats.h"
#include "crm/crm_split.h"
#include "crm/daily_limit.h"
#include "base/json_util.h"
#include "base/metrics.h"
#include "crm/rate_limit.h"
#include "crm/shared_budget.h"
#include "crm/token_store.h"

#include <openssl/crypto.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct hubspot_client {
    char *api_base;
    char *objects_prefix;
    char *schemas_prefix;
    char *assoc_prefix;
    char *token_url;
    char *static_token;
    char *client_id;
    char *client_secret;
    char *refresh_token;
    int64_t rate_interval_ms;
    int64_t search_interval_ms;
    struct crm_retry_policy retry;
    struct token_cache *tokens;       /* own lock */
    struct rate_limit *bucket;        /* own lock: every call */
    struct rate_limit *search_bucket; /* own lock: search calls */
    _Atomic unsigned long trace_seq;  /* objectWriteTraceId source */
    struct crm_call_stats *stats;     /* own lock: calls and 429s for the budget view */
    /* the portal's budget shared by every instance (own locks), NULL: the two buckets above
     * alone; with it, the buckets are the fallback while its database does not answer */
    struct shared_budget *shared;
    int shared_burst, shared_search;
    struct daily_stop daily; /* atomics: the stop at HUBSPOT_DAILY_MAX_PERCENT of the daily limit */
};

static struct metric_family *m_daily_usage;
static struct metrics_once metrics_once;

static void metrics_register_all(void)
{
    m_daily_usage = metrics_register(METRIC_GAUGE, "synkro_hubspot_api_daily_usage_ratio",
                                     "Share of the HubSpot portal's daily API limit used "
                                     "(X-HubSpot-RateLimit-Daily and -Daily-Remaining).",
                                     NULL, 0, NULL, 0);
}

/* ---- small helpers ---- */

static void set_op(struct crm_error *err, const char *op)
{
    crm_error_clear(err);
    err->crm = CRM_HUBSPOT;
    snprintf(err->operation, sizeof err->operation, "%s", op);
}

/* Removes the token and every secret of the client from err (also the call loop's scrub hook). */
static void hs_scrub(void *ud, struct crm_error *err, const char *token)
{
    struct hubspot_client *hc = ud;
    crm_error_scrub(err, token);
    crm_error_scrub(err, hc->static_token);
    crm_error_scrub(err, hc->client_secret);
    crm_error_scrub(err, hc->refresh_token);
}

/* ---- OAuth refresh (runs in one thread at a time, through the token cache) ---- */

static int hs_refresh(void *ud, void *call_ctx, struct token_value *out, struct crm_error *err)
{
    struct hubspot_client *hc = ud;
    struct crm_http *h = call_ctx;
    set_op(err, "oauth_token");
    struct strbuf form = STRBUF_INIT;
    crm_form_add(&form, "grant_type", "refresh_token");
    crm_form_add(&form, "refresh_token", hc->refresh_token);
    crm_form_add(&form, "client_id", hc->client_id);
    crm_form_add(&form, "client_secret", hc->client_secret);
    if (form.failed) {
        strbuf_free(&form);
        crm_error_set(err, CRM_HUBSPOT, CRM_ERR_TRANSIENT, 0, "out_of_memory", "out of memory");
        return -1;
    }
    struct crm_http_request req = {
        .crm = CRM_HUBSPOT,
        .operation = "oauth_token",
        .method = "POST",
        .url = hc->token_url,
        .body = form.data,
        .body_len = form.len,
        .content_type = "application/x-www-form-urlencoded",
    };
    int rc = -1;
    for (int failures = 0;;) {
        struct crm_http_response resp;
        err->attempts++;
        int prc = crm_http_perform(h, &req, &resp, err);
        if (prc == 0 && resp.status >= 200 && resp.status < 300) {
            json_object *doc = json_tokener_parse(resp.body);
            const char *at = json_member_text(doc, "access_token");
            json_object *ei = json_member(doc, "expires_in");
            if (at && *at) {
                out->access_token = strdup(at);
                long long secs = ei ? json_object_get_int64(ei) : 0;
                out->expires_at_ms = secs > 0 ? rate_limit_now_ms() + secs * 1000 : 0;
                rc = out->access_token ? 0 : -1;
                if (rc < 0)
                    crm_error_set(err, CRM_HUBSPOT, CRM_ERR_TRANSIENT, 0, "out_of_memory",
                                  "out of memory");
            } else {
                crm_error_set(err, CRM_HUBSPOT, CRM_ERR_PERMANENT, (int)resp.status,
                              "bad_token_response",
                              "the token endpoint answered without an "
                              "access_token");
            }
            json_object_put(doc);
            if (resp.body)
                OPENSSL_cleanse(resp.body, resp.body_len);
            crm_http_response_free(&resp);
            break;
        }
        if (prc == 0)
            crm_error_from_hubspot(err, (int)resp.status, resp.body, resp.body_len, NULL);
        if (resp.body)
            OPENSSL_cleanse(resp.body, resp.body_len);
        crm_http_response_free(&resp);
        /* a 401 from the token endpoint means bad client credentials: nothing to refresh */
        if (err->cls == CRM_ERR_AUTH)
            err->cls = CRM_ERR_PERMANENT;
        long delay = crm_retry_delay_ms(&hc->retry, ++failures, err);
        if (delay < 0)
            break;
        crm_sleep_ms(delay);
    }
    OPENSSL_cleanse(form.data, form.len);
    strbuf_free(&form);
    hs_scrub(hc, err, out->access_token);
    return rc;
}

/* ---- the call loop's hooks (crm/crm_call.h) ---- */

static const struct crm_retry_policy *hs_retry_policy(void *ud)
{
    return &((struct hubspot_client *)ud)->retry;
}

/* One token of one limit: from the shared budget when there is one (the process's own bucket
 * while its database does not answer), else from the bucket. 0, or -1 when none is free before
 * the deadline (*retry_after_ms: how long until one may be). */
static int take_token(struct hubspot_client *hc, int shared_limit, struct rate_limit *bucket,
                      int64_t deadline, long *retry_after_ms)
{
    if (hc->shared) {
        int64_t ra = 0;
        int rc = shared_budget_acquire(hc->shared, shared_limit, deadline, &ra);
        if (rc == 0)
            return 0;
        if (rc == -1) {
            *retry_after_ms = (long)ra;
            return -1;
        }
    }
    return rate_limit_acquire(bucket, deadline);
}

/* Every call takes a token of the call budget; a search call first one of the search budget. */
static int hs_budget_acquire(void *ud, const struct crm_call *c, struct crm_error *err)
{
    struct hubspot_client *hc = ud;
    int64_t deadline = rate_limit_now_ms() + hc->retry.max_wait_ms;
    long ra = (long)hc->search_interval_ms;
    if (c->search && take_token(hc, hc->shared_search, hc->search_bucket, deadline, &ra) < 0) {
        crm_error_set(err, CRM_HUBSPOT, CRM_ERR_RETRY_AFTER, 0, "client_rate_limit",
                      "the client-side search budget has no free call within %ld ms",
                      hc->retry.max_wait_ms);
        err->retry_after_ms = ra;
        return -1;
    }
    ra = (long)hc->rate_interval_ms;
    if (take_token(hc, hc->shared_burst, hc->bucket, deadline, &ra) < 0) {
        crm_error_set(err, CRM_HUBSPOT, CRM_ERR_RETRY_AFTER, 0, "client_rate_limit",
                      "the client-side call budget has no free call within %ld ms",
                      hc->retry.max_wait_ms);
        err->retry_after_ms = ra;
        return -1;
    }
    return 0;
}

/* The longest pause a daily-limit 429 (or the stop at HUBSPOT_DAILY_MAX_PERCENT) sets for every
 * instance: then one call tries again (HubSpot resets the daily limit at midnight in the account's
 * time zone, which synkro does not know). */
#define DAILY_PAUSE_MAX_MS 3600000L

/* Pauses the call budget (the burst limit every call takes a token of) for wait ms: for every
 * instance with a shared budget, else for this process's bucket. */
static void pause_calls(struct hubspot_client *hc, long wait, const char *reason)
{
    if (hc->shared)
        shared_budget_pause(hc->shared, hc->shared_burst, wait, reason);
    else
        rate_limit_pause(hc->bucket, rate_limit_now_ms() + wait);
}

/* A 429 pauses every caller of the limit its policy names until its wait ends: the search limit
 * (SECONDLY on a search call), the daily one (DAILY: the call budget, at most an hour), else the
 * call budget (TEN_SECONDLY_ROLLING). With a shared budget the pause holds for every instance. */
static void hs_budget_penalty(void *ud, const struct crm_call *c, const struct crm_error *err)
{
    struct hubspot_client *hc = ud;
    if (err->http_status != 429)
        return;
    bool daily = strcmp(err->sub_code, "DAILY") == 0;
    bool search = !daily && c->search && strstr(err->sub_code, "SECONDLY");
    long wait = err->retry_after_ms;
    if (daily && (wait <= 0 || wait > DAILY_PAUSE_MAX_MS))
        wait = DAILY_PAUSE_MAX_MS;
    if (wait <= 0)
        wait = (long)(search ? hc->search_interval_ms : hc->rate_interval_ms);
    if (!daily)
        rate_limit_pause(search ? hc->search_bucket : hc->bucket, rate_limit_now_ms() + wait);
    shared_budget_pause(hc->shared, search ? hc->shared_search : hc->shared_burst, wait,
                        err->sub_code[0] ? err->sub_code : err->code);
}

/* Every answer's daily headers (the portal's own count, every integration's calls): kept for the
 * budget view and the gauge; at HUBSPOT_DAILY_MAX_PERCENT the call budget stops for every
 * instance until the next UTC midnight, at most an hour, before HubSpot refuses anything. */
static void hs_on_answer(void *ud, const struct crm_http_response *r)
{
    struct hubspot_client *hc = ud;
    long long used, max;
    if (daily_limit_parse_hubspot(crm_http_header(r, "X-HubSpot-RateLimit-Daily"),
                                  crm_http_header(r, "X-HubSpot-RateLimit-Daily-Remaining"), &used,
                                  &max) < 0)
        return;
    metrics_set(m_daily_usage, NULL, (double)used / (double)max);
    crm_call_stats_note_usage(hc->stats, used, max);
    char why[200];
    int64_t pause = daily_stop_note(
        &hc->daily, used, max, rate_limit_now_ms(),
        daily_limit_until_utc_midnight(clock_wall_ms(), DAILY_PAUSE_MAX_MS), why, sizeof why);
    if (pause > 0)
        pause_calls(hc, (long)pause, why);
}

static struct token_cache *hs_tokens(void *ud)
{
    return ((struct hubspot_client *)ud)->tokens;
}

static bool hs_token_refreshable(void *ud)
{
    return ((struct hubspot_client *)ud)->static_token == NULL;
}

static void hs_parse_error(void *ud, const struct crm_http_response *r, struct crm_error *err)
{
    (void)ud;
    struct crm_hubspot_error_headers eh = {
        .retry_after = crm_http_header(r, "Retry-After"),
        .rate_interval_ms = crm_http_header(r, "X-HubSpot-RateLimit-Interval-Milliseconds"),
        .rate_remaining = crm_http_header(r, "X-HubSpot-RateLimit-Remaining"),
    };
    crm_error_from_hubspot(err, (int)r->status, r->body, r->body_len, &eh);
}

static struct crm_call_stats *hs_stats(void *ud)
{
    return ((struct hubspot_client *)ud)->stats;
}

static const struct crm_call_hooks hs_hooks = {
    .crm = CRM_HUBSPOT,
    .name = "HubSpot",
    .retry_policy = hs_retry_policy,
    .budget_acquire = hs_budget_acquire,
    .budget_penalty = hs_budget_penalty,
    .on_answer = hs_on_answer,
    .tokens = hs_tokens,
    .token_refreshable = hs_token_refreshable,
    .parse_error = hs_parse_error,
    .scrub = hs_scrub,
    .stats = hs_stats,
};

static int hs_call(struct hubspot_client *hc, struct crm_http *h, struct crm_call *c,
                   struct crm_error *err)
{
    return crm_call_run(&hs_hooks, hc, h, c, err);
}

/* ---- create / destroy ---- */

void hubspot_client_options_from_config(struct hubspot_client_options *o, const struct config *cfg)
{
    memset(o, 0, sizeof *o);
    o->api_base = cfg->hubspot_api_base;
    o->access_token = cfg->hubspot_access_token;
    o->client_id = cfg->hubspot_client_id;
    o->client_secret = cfg->hubspot_client_secret;
    o->refresh_token = cfg->hubspot_refresh_token;
    o->rate_limit = cfg->hubspot_rate_per_10s;
    o->rate_interval_ms = 10000;
    o->search_rate_limit = cfg->hubspot_search_rate_per_s;
    o->search_interval_ms = 1000;
    o->portal_id = cfg->hubspot_portal_id;
    o->daily_max_percent = cfg->hubspot_daily_max_percent;
}

void hubspot_client_destroy(struct hubspot_client *hc)
{
    if (!hc)
        return;
    token_cache_destroy(hc->tokens);
    rate_limit_destroy(hc->bucket);
    rate_limit_destroy(hc->search_bucket);
    shared_budget_destroy(hc->shared);
    crm_call_stats_destroy(hc->stats);
    free(hc->api_base);
    free(hc->objects_prefix);
    free(hc->schemas_prefix);
    free(hc->assoc_prefix);
    free(hc->token_url);
    secret_wipe_free(hc->static_token);
    free(hc->client_id);
    secret_wipe_free(hc->client_secret);
    secret_wipe_free(hc->refresh_token);
    free(hc);
}

/* Budget intervals get a small safety margin: our clock starts a call before HubSpot's does,
 * and network delays differ between calls. */
static int64_t with_margin(int64_t interval_ms)
{
    int64_t m = interval_ms / 50;
    return interval_ms + (m < 50 ? 50 : m);
}

/* The portal's shared budget: the burst limit leased in chunks of a twentieth (held 500 ms), the
 * search limit one token at a time (held 200 ms); windows with the buckets' margin. */
static int shared_open(struct hubspot_client *hc, const struct hubspot_client_options *o)
{
    char account[64];
    if (o->portal_id > 0)
        snprintf(account, sizeof account, "hubspot:%lld", o->portal_id);
    else
        snprintf(account, sizeof account, "hubspot:default");
    hc->shared = shared_budget_create(o->budget_pool, "hubspot", account);
    int burst = rate_limit_capacity(hc->bucket), search = rate_limit_capacity(hc->search_bucket);
    struct shared_limit_options b = {.name = "burst",
                                     .capacity = burst,
                                     .interval_ms = rate_limit_interval_ms(hc->bucket),
                                     .chunk = burst / 20 > 1 ? burst / 20 : 1,
                                     .hold_ms = 500},
                                s = {.name = "search",
                                     .capacity = search,
                                     .interval_ms = rate_limit_interval_ms(hc->search_bucket),
                                     .chunk = search / 5 > 1 ? search / 5 : 1,
                                     .hold_ms = 200};
    hc->shared_burst = hc->shared && hc->bucket ? shared_budget_add_limit(hc->shared, &b) : -1;
    hc->shared_search =
        hc->shared && hc->search_bucket ? shared_budget_add_limit(hc->shared, &s) : -1;
    return hc->shared_burst >= 0 && hc->shared_search >= 0 ? 0 : -1;
}

struct hubspot_client *hubspot_client_create(const struct hubspot_client_options *o, char *err,
                                             size_t errlen)
{
    bool have_static = o->access_token && *o->access_token;
    bool have_oauth = o->client_id && *o->client_id && o->client_secret && *o->client_secret &&
                      o->refresh_token && *o->refresh_token;
    if (!o->api_base || !*o->api_base) {
        snprintf(err, errlen, "HubSpot client: HUBSPOT_API_BASE is not set");
        return NULL;
    }
    if (!have_static && !have_oauth) {
        snprintf(err, errlen,
                 "HubSpot client: set HUBSPOT_ACCESS_TOKEN, or HUBSPOT_CLIENT_ID, "
                 "HUBSPOT_CLIENT_SECRET and HUBSPOT_REFRESH_TOKEN");
        return NULL;
    }
    struct hubspot_client *hc = calloc(1, sizeof *hc);
    if (!hc) {
        snprintf(err, errlen, "HubSpot client: out of memory");
        return NULL;
    }
    hc->api_base = str_dup_trim_slash(o->api_base);
    hc->objects_prefix = strdup(o->objects_prefix ? o->objects_prefix : "/crm/v3/objects");
    hc->schemas_prefix =
        strdup(o->schemas_prefix ? o->schemas_prefix : "/crm-object-schemas/v3/schemas");
    hc->assoc_prefix = strdup(o->assoc_prefix ? o->assoc_prefix : "/crm/v4");
    const char *tp = o->token_path ? o->token_path : "/oauth/v1/token";
    size_t tl = (hc->api_base ? strlen(hc->api_base) : 0) + strlen(tp) + 1;
    hc->token_url = malloc(tl);
    if (hc->token_url && hc->api_base)
        snprintf(hc->token_url, tl, "%s%s", hc->api_base, tp);
    if (have_static) {
        hc->static_token = strdup(o->access_token);
    } else {
        hc->client_id = strdup(o->client_id);
        hc->client_secret = strdup(o->client_secret);
        hc->refresh_token = strdup(o->refresh_token);
    }
    hc->rate_interval_ms = o->rate_interval_ms > 0 ? o->rate_interval_ms : 10000;
    hc->search_interval_ms = o->search_interval_ms > 0 ? o->search_interval_ms : 1000;
    hc->retry = o->retry;
    crm_retry_policy_normalize(&hc->retry);
    hc->bucket = rate_limit_create(o->rate_limit > 0 ? o->rate_limit : 190,
                                   with_margin(hc->rate_interval_ms));
    hc->search_bucket = rate_limit_create(o->search_rate_limit > 0 ? o->search_rate_limit : 5,
                                          with_margin(hc->search_interval_ms));
    hc->stats = crm_call_stats_create();
    metrics_once_run(&metrics_once, metrics_register_all);
    daily_stop_init(&hc->daily, "hubspot", "HUBSPOT_DAILY_MAX_PERCENT",
                    o->daily_max_percent > 0 ? o->daily_max_percent : 90);
    if (o->budget_pool && shared_open(hc, o) < 0) {
        hubspot_client_destroy(hc);
        snprintf(err, errlen, "HubSpot client: out of memory or bad shared budget settings");
        return NULL;
    }
    int64_t margin = o->refresh_margin_ms > 0 ? o->refresh_margin_ms : 300000;
    hc->tokens =
        token_cache_create(CRM_HUBSPOT, margin, 60000, have_static ? NULL : hs_refresh, hc);
    bool ok = hc->api_base && hc->objects_prefix && hc->schemas_prefix && hc->assoc_prefix &&
              hc->token_url && hc->bucket && hc->search_bucket && hc->tokens && hc->stats &&
              (have_static ? hc->static_token != NULL
                           : hc->client_id && hc->client_secret && hc->refresh_token);
    if (ok && have_static)
        ok = token_cache_set(hc->tokens, hc->static_token, NULL, 0) == 0;
    if (!ok) {
        hubspot_client_destroy(hc);
        snprintf(err, errlen, "HubSpot client: out of memory or bad rate limit settings");
        return NULL;
    }
    return hc;
}

struct shared_budget *hubspot_client_shared_budget(struct hubspot_client *hc)
{
    return hc ? hc->shared : NULL;
}

struct crm_call_stats *hubspot_client_stats(struct hubspot_client *hc)
{
    return hc ? hc->stats : NULL;
}

int hubspot_client_daily_max_percent(const struct hubspot_client *hc)
{
    return hc ? hc->daily.max_percent : 0;
}

int hubspot_client_limits(struct hubspot_client *hc, struct crm_limit_view *out, int max)
{
    const struct {
        const char *name;
        struct rate_limit *rl;
        int64_t interval_ms;
    } limits[] = {{"burst", hc->bucket, hc->rate_interval_ms},
                  {"search", hc->search_bucket, hc->search_interval_ms}};
    int n = 0;
    for (size_t i = 0; i < sizeof limits / sizeof limits[0] && n < max; i++)
        out[n++] = (struct crm_limit_view){.name = limits[i].name,
                                           .capacity = rate_limit_capacity(limits[i].rl),
                                           .available = rate_limit_available(limits[i].rl),
                                           .interval_s = (int)(limits[i].interval_ms / 1000)};
    return n;
}

unsigned long hubspot_client_token_refreshes(struct hubspot_client *hc)
{
    return token_cache_refreshes(hc->tokens);
}

/* ---- URLs ---- */

/* base + prefix + "/" + each escaped segment (NULL-terminated list). Caller frees. */
static char *build_url(struct hubspot_client *hc, const char *prefix, const char *const *segs,
                       const char *suffix)
{
    struct strbuf sb = STRBUF_INIT;
    strbuf_puts(&sb, hc->api_base);
    strbuf_puts(&sb, prefix);
    for (size_t i = 0; segs && segs[i]; i++) {
        strbuf_putc(&sb, '/');
        crm_url_escape(&sb, segs[i]);
    }
    if (suffix)
        strbuf_puts(&sb, suffix);
    if (sb.failed) {
        strbuf_free(&sb);
        return NULL;
    }
    return strbuf_detach(&sb, NULL);
}

static void append_list_param(struct strbuf *sb, const char *name, const char *const *vals,
                              size_t n)
{
    if (!n)
        return;
    strbuf_putc(sb, strchr(strbuf_str(sb), '?') ? '&' : '?');
    strbuf_puts(sb, name);
    strbuf_putc(sb, '=');
    for (size_t i = 0; i < n; i++) {
        if (i)
            strbuf_putc(sb, ',');
        crm_url_escape(sb, vals[i]);
    }
}

static int oom(struct crm_error *err)
{
    crm_error_set(err, CRM_HUBSPOT, CRM_ERR_TRANSIENT, 0, "out_of_memory", "out of memory");
    return -1;
}

static json_object *string_array(const char *const *vals, size_t n)
{
    json_object *a = json_object_new_array();
    for (size_t i = 0; a && i < n; i++)
        json_object_array_add(a, json_object_new_string(vals[i]));
    return a;
}

/* ---- get one ---- */

int hubspot_object_get(struct hubspot_client *hc, struct crm_http *h, const char *object_type,
                       const char *id, const struct hubspot_read_options *ro, json_object **out,
                       struct crm_error *err)
{
    *out = NULL;
    set_op(err, "get");
    const char *segs[] = {object_type, id, NULL};
    char *base = build_url(hc, hc->objects_prefix, segs, NULL);
    if (!base)
        return oom(err);
    struct strbuf sb = STRBUF_INIT;
    strbuf_puts(&sb, base);
    free(base);
    if (ro) {
        append_list_param(&sb, "properties", ro->properties, ro->nproperties);
        append_list_param(&sb, "associations", ro->associations, ro->nassociations);
        if (ro->id_property && *ro->id_property) {
            strbuf_putc(&sb, strchr(strbuf_str(&sb), '?') ? '&' : '?');
            strbuf_puts(&sb, "idProperty=");
            crm_url_escape(&sb, ro->id_property);
        }
        if (ro->archived)
            strbuf_puts(&sb, strchr(strbuf_str(&sb), '?') ? "&archived=true" : "?archived=true");
    }
    if (sb.failed) {
        strbuf_free(&sb);
        return oom(err);
    }
    struct crm_call c = {.operation = "get", .method = "GET", .url = strbuf_str(&sb)};
    int rc = hs_call(hc, h, &c, err);
    strbuf_free(&sb);
    if (rc < 0)
        return -1;
    return crm_expect_json(c.json, json_type_object, CRM_HUBSPOT, c.status, "record", out, err);
}

/* ---- what an error names ---- */

/* A HubSpot message names key when it quotes it as a whole id, outside the JSON it may embed
 * (property values, which can look like ids) and outside "Existing ID: <id>" (the record that
 * holds a unique value, not the input). */
static bool message_names(const char *msg, const char *key)
{
    if (!msg || !key || !*key)
        return false;
    char *text = strdup(msg);
    if (!text)
        return false;
    char *json = strstr(text, "[{");
    if (json)
        *json = '\0';
    static const char existing[] = "Existing ID:";
    for (char *p = strstr(text, existing); p; p = strstr(p, existing)) {
        p += sizeof existing - 1;
        while (*p == ' ')
            p++;
        while (*p && *p != ' ' && *p != ',' && *p != '.')
            *p++ = ' ';
    }
    bool named = crm_text_names_id(text, key);
    free(text);
    return named;
}

static bool value_names(json_object *v, const char *key)
{
    if (json_object_is_type(v, json_type_string) || json_object_is_type(v, json_type_int))
        return crm_text_names_id(json_object_get_string(v), key);
    if (!json_object_is_type(v, json_type_array))
        return false;
    for (size_t k = 0; k < json_object_array_length(v); k++) {
        json_object *x = json_object_array_get_idx(v, k);
        if ((json_object_is_type(x, json_type_string) || json_object_is_type(x, json_type_int)) &&
            crm_text_names_id(json_object_get_string(x), key))
            return true;
    }
    return false;
}

static bool context_names(json_object *ctx, const char *key)
{
    if (!ctx || !json_object_is_type(ctx, json_type_object))
        return false;
    json_object_object_foreach(ctx, name, v)
    {
        (void)name;
        if (value_names(v, key))
            return true;
    }
    return false;
}

/* True when the HubSpot error object e names key (a record id, an idProperty value or an
 * objectWriteTraceId): in its context (ids, objectWriteTraceId, fromObjectId, objectId,
 * INVALID_OBJECT_IDS, ...), its sub-errors' contexts, or its message. */
static bool hs_error_names(json_object *e, const char *key)
{
    if (!key || !*key || !e || !json_object_is_type(e, json_type_object))
        return false;
    if (context_names(json_member(e, "context"), key) ||
        message_names(json_member_string(e, "message"), key))
        return true;
    json_object *subs = json_member(e, "errors");
    size_t n =
        subs && json_object_is_type(subs, json_type_array) ? json_object_array_length(subs) : 0;
    for (size_t k = 0; k < n; k++)
        if (context_names(json_member(json_object_array_get_idx(subs, k), "context"), key))
            return true;
    return false;
}

/* The same for a failed call: its error body, or the message when the body was not JSON. */
static bool call_names(const struct crm_split_call *call, const char *key)
{
    if (call->doc && json_object_is_type(call->doc, json_type_object))
        return hs_error_names(call->doc, key);
    return message_names(call->err.message, key);
}

static json_object *array_member(json_object *doc, const char *key, size_t *n)
{
    json_object *a = json_member(doc, key);
    *n = a && json_object_is_type(a, json_type_array) ? json_object_array_length(a) : 0;
    return *n ? a : NULL;
}

/* One call of a batch operation: the body goes to url; a permanent failure whose body is a
 * batch answer (a "results" array, e.g. a 404 for ids that are all gone) is read as an answer. */
static void split_call(struct hubspot_client *hc, struct crm_http *h, const char *op,
                       const char *url, json_object *body, struct crm_split_call *call)
{
    if (!url || !body) {
        call->rc = oom(&call->err);
        snprintf(call->err.operation, sizeof call->err.operation, "%s", op);
        json_object_put(body);
        return;
    }
    struct crm_call c = {
        .operation = op, .method = "POST", .url = url, .body = body, .keep_error_body = true};
    call->rc = hs_call(hc, h, &c, &call->err);
    json_object_put(body);
    call->status = call->rc == 0 ? c.status : call->err.http_status;
    call->doc = c.json;
    if (call->rc < 0 && call->err.cls == CRM_ERR_PERMANENT && call->status >= 400 &&
        json_object_is_type(json_member(call->doc, "results"), json_type_array))
        call->rc = 0;
}

/* A per-input error of an answer, as input i's own error. */
static void item_error(struct crm_error *ie, const char *op, const struct crm_split_call *call,
                       json_object *e)
{
    crm_error_clear(ie);
    snprintf(ie->operation, sizeof ie->operation, "%s", op);
    crm_error_from_hubspot_item(ie, call->status, e);
    ie->attempts = call->err.attempts;
}

/* ---- batch machinery ---- */

enum batch_kind { B_READ, B_CREATE, B_UPDATE, B_UPSERT, B_ARCHIVE };

struct batch_ctx {
    enum batch_kind kind;
    const char *operation;
    const char *object_type;
    const char *id_property;               /* read / upsert */
    const struct hubspot_read_options *ro; /* read */
    const struct hubspot_input *in;        /* writes */
    const char *const *ids;                /* read / archive */
    char **trace;                          /* per input (writes other than archive) */
    /* the run */
    struct hubspot_client *hc;
    struct crm_http *h;
    const char *url;
    struct crm_batch_result *out;
};

static const char *input_key(const struct batch_ctx *b, size_t i)
{
    if (b->ids)
        return b->ids[i];
    return b->in[i].id;
}

static json_object *chunk_body(const struct batch_ctx *b, const size_t *idx, size_t cnt)
{
    json_object *body = json_object_new_object();
    json_object *inputs = json_object_new_array();
    if (!body || !inputs) {
        json_object_put(body);
        json_object_put(inputs);
        return NULL;
    }
    for (size_t k = 0; k < cnt; k++) {
        size_t i = idx[k];
        json_object *o = json_object_new_object();
        switch (b->kind) {
        case B_READ:
        case B_ARCHIVE:
            json_object_object_add(o, "id", json_object_new_string(input_key(b, i)));
            break;
        case B_CREATE:
            json_object_object_add(o, "properties",
                                   b->in[i].properties ? json_object_get(b->in[i].properties)
                                                       : json_object_new_object());
            if (b->in[i].associations)
                json_object_object_add(o, "associations", json_object_get(b->in[i].associations));
            json_object_object_add(o, "objectWriteTraceId", json_object_new_string(b->trace[i]));
            break;
        case B_UPDATE:
        case B_UPSERT:
            json_object_object_add(o, "id", json_object_new_string(b->in[i].id ? b->in[i].id : ""));
            if (b->kind == B_UPSERT)
                json_object_object_add(o, "idProperty", json_object_new_string(b->id_property));
            json_object_object_add(o, "properties",
                                   b->in[i].properties ? json_object_get(b->in[i].properties)
                                                       : json_object_new_object());
            json_object_object_add(o, "objectWriteTraceId", json_object_new_string(b->trace[i]));
            break;
        }
        json_object_array_add(inputs, o);
    }
    if (b->kind == B_READ) {
        const struct hubspot_read_options *ro = b->ro;
        json_object *props = string_array(ro ? ro->properties : NULL, ro ? ro->nproperties : 0);
        /* the idProperty value is how results are matched to inputs: always ask for it */
        bool listed = false;
        for (size_t k = 0; ro && b->id_property && k < ro->nproperties; k++)
            listed = listed || strcmp(ro->properties[k], b->id_property) == 0;
        if (b->id_property && !listed)
            json_object_array_add(props, json_object_new_string(b->id_property));
        json_object_object_add(body, "properties", props);
        if (b->id_property)
            json_object_object_add(body, "idProperty", json_object_new_string(b->id_property));
    }
    json_object_object_add(body, "inputs", inputs);
    return body;
}

/* The key a result answers: its objectWriteTraceId, id, or idProperty value. */
static bool result_answers(const struct batch_ctx *b, json_object *res, size_t i)
{
    const char *trace = json_member_text(res, "objectWriteTraceId");
    if (b->trace && trace)
        return strcmp(trace, b->trace[i]) == 0;
    const char *key = input_key(b, i);
    if (!key)
        return false;
    if (b->id_property) {
        const char *v = json_member_text(json_member(res, "properties"), b->id_property);
        return v && strcmp(v, key) == 0;
    }
    if (b->kind == B_CREATE)
        return false;
    const char *id = json_member_text(res, "id");
    return id && strcmp(id, key) == 0;
}

static bool error_names(const struct batch_ctx *b, json_object *e, size_t i)
{
    return hs_error_names(e, input_key(b, i)) || (b->trace && hs_error_names(e, b->trace[i]));
}

static bool batch_settled(void *ctx, size_t i)
{
    const struct batch_ctx *b = ctx;
    return b->out->items[i].ok || b->out->items[i].error;
}

static void batch_fail(void *ctx, size_t i, const struct crm_error *e)
{
    struct batch_ctx *b = ctx;
    crm_batch_item_fail(b->out, i, e);
}

static bool batch_names(void *ctx, const struct crm_split_call *call, size_t i)
{
    const struct batch_ctx *b = ctx;
    return call_names(call, input_key(b, i)) || (b->trace && call_names(call, b->trace[i]));
}

static void batch_send(void *ctx, const size_t *idx, size_t cnt, struct crm_split_call *call)
{
    struct batch_ctx *b = ctx;
    split_call(b->hc, b->h, b->operation, b->url, b->url ? chunk_body(b, idx, cnt) : NULL, call);
}

static void succeed_with(struct batch_ctx *b, size_t i, json_object *res)
{
    const char *id = json_member_text(res, "id");
    crm_batch_item_succeed(b->out, i, id ? strdup(id) : NULL, json_object_get(res),
                           json_member_bool(res, "new"));
}

/* Settles the inputs of one call that its answer names: results by objectWriteTraceId, id or
 * idProperty value (positionally only when the answer is complete and names nothing), errors by
 * what they name. Archive answers 204: every input not named by an error is done. */
static void batch_answer(void *ctx, const size_t *idx, size_t cnt,
                         const struct crm_split_call *call, struct crm_error *unnamed)
{
    struct batch_ctx *b = ctx;
    size_t nres, nerr;
    json_object *results = array_member(call->doc, "results", &nres);
    json_object *errors = array_member(call->doc, "errors", &nerr);
    bool any_named = false;
    for (size_t r = 0; r < nres; r++) {
        json_object *res = json_object_array_get_idx(results, r);
        for (size_t k = 0; k < cnt; k++) {
            if (batch_settled(b, idx[k]) || !result_answers(b, res, idx[k]))
                continue;
            any_named = true;
            succeed_with(b, idx[k], res);
            if (b->kind != B_READ)
                break; /* one write result answers one input */
        }
    }
    if (!any_named && nerr == 0 && nres == cnt && b->kind != B_ARCHIVE)
        for (size_t k = 0; k < cnt; k++)
            succeed_with(b, idx[k], json_object_array_get_idx(results, k));
    for (size_t e = 0; e < nerr; e++) {
        json_object *eo = json_object_array_get_idx(errors, e);
        struct crm_error ie;
        item_error(&ie, b->operation, call, eo);
        bool named = false;
        for (size_t k = 0; k < cnt; k++) {
            if (!error_names(b, eo, idx[k]))
                continue;
            named = true;
            if (!batch_settled(b, idx[k]))
                crm_batch_item_fail(b->out, idx[k], &ie);
        }
        if (!named && unnamed->cls == CRM_ERR_NONE)
            *unnamed = ie;
    }
    for (size_t k = 0; b->kind == B_ARCHIVE && unnamed->cls == CRM_ERR_NONE && k < cnt; k++)
        if (!batch_settled(b, idx[k]))
            crm_batch_item_succeed(b->out, idx[k], strdup(input_key(b, idx[k])), NULL, false);
}

static int make_traces(struct hubspot_client *hc, struct batch_ctx *b, size_t n)
{
    b->trace = calloc(n, sizeof *b->trace);
    if (!b->trace)
        return -1;
    unsigned long base = atomic_fetch_add(&hc->trace_seq, n);
    for (size_t i = 0; i < n; i++) {
        char buf[48];
        if (b->in[i].trace_id && *b->in[i].trace_id)
            snprintf(buf, sizeof buf, "%s", b->in[i].trace_id);
        else
            snprintf(buf, sizeof buf, "synkro-%lu", (unsigned long)(base + i));
        b->trace[i] = strdup(buf);
        if (!b->trace[i])
            return -1;
    }
    return 0;
}

static void free_traces(struct batch_ctx *b, size_t n)
{
    for (size_t i = 0; b->trace && i < n; i++)
        free(b->trace[i]);
    free(b->trace);
    b->trace = NULL;
}

static char *batch_url(struct hubspot_client *hc, const struct batch_ctx *b)
{
    static const char *const suffix[] = {
        [B_READ] = "/batch/read",     [B_CREATE] = "/batch/create",   [B_UPDATE] = "/batch/update",
        [B_UPSERT] = "/batch/upsert", [B_ARCHIVE] = "/batch/archive",
    };
    const char *segs[] = {b->object_type, NULL};
    char *url = build_url(hc, hc->objects_prefix, segs, suffix[b->kind]);
    if (url && b->kind == B_READ && b->ro && b->ro->archived) {
        size_t l = strlen(url) + 16;
        char *u2 = malloc(l);
        if (u2)
            snprintf(u2, l, "%s?archived=true", url);
        free(url);
        url = u2;
    }
    return url;
}

/* Sends the inputs in calls of 100 (sync/crm_split.c decides what is sent again). */
static int run_batch(struct hubspot_client *hc, struct crm_http *h, struct batch_ctx *b, size_t n,
                     struct crm_batch_result *out, struct crm_error *err)
{
    set_op(err, b->operation);
    if (crm_batch_result_init(out, n) < 0)
        return oom(err);
    if (n == 0)
        return 0;
    if (b->kind != B_READ && b->kind != B_ARCHIVE && make_traces(hc, b, n) < 0) {
        free_traces(b, n);
        crm_batch_result_free(out);
        return oom(err);
    }
    char *url = batch_url(hc, b);
    b->hc = hc;
    b->h = h;
    b->url = url;
    b->out = out;
    const struct crm_split_ops ops = {.crm = CRM_HUBSPOT,
                                      .operation = b->operation,
                                      .chunk_max = HUBSPOT_BATCH_MAX,
                                      .send = batch_send,
                                      .answer = batch_answer,
                                      .names = batch_names,
                                      .fail = batch_fail,
                                      .settled = batch_settled};
    int rc = crm_split_run(&ops, b, n, err);
    free(url);
    free_traces(b, n);
    return rc;
}

int hubspot_batch_read(struct hubspot_client *hc, struct crm_http *h, const char *object_type,
                       const char *const *ids, size_t n, const struct hubspot_read_options *ro,
                       struct crm_batch_result *out, struct crm_error *err)
{
    struct batch_ctx b = {.kind = B_READ,
                          .operation = "batch_read",
                          .object_type = object_type,
                          .id_property =
                              ro && ro->id_property && *ro->id_property ? ro->id_property : NULL,
                          .ro = ro,
                          .ids = ids};
    return run_batch(hc, h, &b, n, out, err);
}

int hubspot_batch_create(struct hubspot_client *hc, struct crm_http *h, const char *object_type,
                         const struct hubspot_input *in, size_t n, struct crm_batch_result *out,
                         struct crm_error *err)
{
    struct batch_ctx b = {
        .kind = B_CREATE, .operation = "batch_create", .object_type = object_type, .in = in};
    return run_batch(hc, h, &b, n, out, err);
}

int hubspot_batch_update(struct hubspot_client *hc, struct crm_http *h, const char *object_type,
                         const struct hubspot_input *in, size_t n, struct crm_batch_result *out,
                         struct crm_error *err)
{
    struct batch_ctx b = {
        .kind = B_UPDATE, .operation = "batch_update", .object_type = object_type, .in = in};
    return run_batch(hc, h, &b, n, out, err);
}

int hubspot_batch_upsert(struct hubspot_client *hc, struct crm_http *h, const char *object_type,
                         const char *id_property, const struct hubspot_input *in, size_t n,
                         struct crm_batch_result *out, struct crm_error *err)
{
    if (!id_property || !*id_property) {
        set_op(err, "batch_upsert");
        crm_error_set(err, CRM_HUBSPOT, CRM_ERR_PERMANENT, 0, "bad_argument",
                      "upsert needs an idProperty (a property with hasUniqueValue)");
        return -1;
    }
    struct batch_ctx b = {.kind = B_UPSERT,
                          .operation = "batch_upsert",
                          .object_type = object_type,
                          .id_property = id_property,
                          .in = in};
    return run_batch(hc, h, &b, n, out, err);
}

int hubspot_batch_archive(struct hubspot_client *hc, struct crm_http *h, const char *object_type,
                          const char *const *ids, size_t n, struct crm_batch_result *out,
                          struct crm_error *err)
{
    struct batch_ctx b = {
        .kind = B_ARCHIVE, .operation = "batch_archive", .object_type = object_type, .ids = ids};
    return run_batch(hc, h, &b, n, out, err);
}

/* ---- search ---- */

static json_object *filter_json(const struct hubspot_filter *f)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "propertyName", json_object_new_string(f->property));
    json_object_object_add(o, "operator", json_object_new_string(f->op));
    if (f->value)
        json_object_object_add(o, "value", json_object_new_string(f->value));
    if (f->high_value)
        json_object_object_add(o, "highValue", json_object_new_string(f->high_value));
    if (f->values)
        json_object_object_add(o, "values", string_array(f->values, f->nvalues));
    return o;
}

int hubspot_search(struct hubspot_client *hc, struct crm_http *h, const char *object_type,
                   const struct hubspot_search_query *q, struct hubspot_search_page *out,
                   struct crm_error *err)
{
    memset(out, 0, sizeof *out);
    set_op(err, "search");
    int limit = q->limit <= 0 ? 100 : q->limit;
    if (limit > HUBSPOT_SEARCH_LIMIT_MAX)
        limit = HUBSPOT_SEARCH_LIMIT_MAX;
    json_object *body = json_object_new_object();
    if (!body)
        return oom(err);
    json_object *groups = json_object_new_array();
    for (size_t g = 0; g < q->ngroups; g++) {
        json_object *filters = json_object_new_array();
        for (size_t f = 0; f < q->groups[g].nfilters; f++)
            json_object_array_add(filters, filter_json(&q->groups[g].filters[f]));
        json_object *grp = json_object_new_object();
        json_object_object_add(grp, "filters", filters);
        json_object_array_add(groups, grp);
    }
    json_object_object_add(body, "filterGroups", groups);
    json_object *sorts = json_object_new_array();
    for (size_t s = 0; s < q->nsorts; s++) {
        json_object *so = json_object_new_object();
        json_object_object_add(so, "propertyName", json_object_new_string(q->sorts[s].property));
        json_object_object_add(
            so, "direction",
            json_object_new_string(q->sorts[s].descending ? "DESCENDING" : "ASCENDING"));
        json_object_array_add(sorts, so);
    }
    json_object_object_add(body, "sorts", sorts);
    json_object_object_add(body, "properties", string_array(q->properties, q->nproperties));
    if (q->query)
        json_object_object_add(body, "query", json_object_new_string(q->query));
    json_object_object_add(body, "limit", json_object_new_int(limit));
    if (q->after && *q->after)
        json_object_object_add(body, "after", json_object_new_string(q->after));
    const char *segs[] = {object_type, NULL};
    char *url = build_url(hc, hc->objects_prefix, segs, "/search");
    if (!url) {
        json_object_put(body);
        return oom(err);
    }
    struct crm_call c = {
        .operation = "search", .method = "POST", .url = url, .body = body, .search = true};
    int rc = hs_call(hc, h, &c, err);
    free(url);
    json_object_put(body);
    if (rc < 0)
        return -1;
    json_object *results = crm_member_array(c.json, "results", CRM_HUBSPOT, c.status,
                                            "the search answer has no results array", err);
    if (!results)
        return -1;
    json_object *total = json_member(c.json, "total");
    out->total =
        total ? json_object_get_int64(total) : (long long)json_object_array_length(results);
    out->results = json_object_get(results);
    const char *after =
        json_member_text(json_member(json_member(c.json, "paging"), "next"), "after");
    out->next_after = after ? strdup(after) : NULL;
    json_object_put(c.json);
    if (after && !out->next_after) {
        hubspot_search_page_free(out);
        return oom(err);
    }
    return 0;
}

void hubspot_search_page_free(struct hubspot_search_page *p)
{
    if (!p)
        return;
    json_object_put(p->results);
    free(p->next_after);
    memset(p, 0, sizeof *p);
}

/* ---- schemas ---- */

void hubspot_schema_list_free(struct hs_object **list, size_t n)
{
    for (size_t i = 0; list && i < n; i++)
        hs_object_free(list[i]);
    free(list);
}

int hubspot_schema_get_doc(struct hubspot_client *hc, struct crm_http *h, const char *object_type,
                           json_object **doc, struct hs_object **out, struct crm_error *err)
{
    *out = NULL;
    if (doc)
        *doc = NULL;
    set_op(err, "schema_get");
    const char *segs[] = {object_type, NULL};
    char *url = build_url(hc, hc->schemas_prefix, segs, NULL);
    if (!url)
        return oom(err);
    struct crm_call c = {.operation = "schema_get", .method = "GET", .url = url};
    int rc = hs_call(hc, h, &c, err);
    free(url);
    if (rc < 0)
        return -1;
    char why[256];
    *out = hs_object_from_schema(c.json, why, sizeof why);
    if (!*out) {
        json_object_put(c.json);
        crm_error_set(err, CRM_HUBSPOT, CRM_ERR_PERMANENT, c.status, "invalid_answer",
                      "the answer is not an object schema: %s", why);
        return -1;
    }
    if (doc)
        *doc = c.json;
    else
        json_object_put(c.json);
    return 0;
}

int hubspot_schema_get(struct hubspot_client *hc, struct crm_http *h, const char *object_type,
                       struct hs_object **out, struct crm_error *err)
{
    return hubspot_schema_get_doc(hc, h, object_type, NULL, out, err);
}

int hubspot_schema_list(struct hubspot_client *hc, struct crm_http *h, struct hs_object ***out,
                        size_t *n, struct crm_error *err)
{
    *out = NULL;
    *n = 0;
    set_op(err, "schema_list");
    char *url = build_url(hc, hc->schemas_prefix, NULL, NULL);
    if (!url)
        return oom(err);
    struct crm_call c = {.operation = "schema_list", .method = "GET", .url = url};
    int rc = hs_call(hc, h, &c, err);
    free(url);
    if (rc < 0)
        return -1;
    json_object *results = crm_member_array(c.json, "results", CRM_HUBSPOT, c.status,
                                            "the schema list has no results array", err);
    if (!results)
        return -1;
    size_t len = json_object_array_length(results);
    struct hs_object **list = len ? calloc(len, sizeof *list) : NULL;
    if (len && !list) {
        json_object_put(c.json);
        return oom(err);
    }
    size_t k = 0;
    for (size_t i = 0; i < len; i++) {
        list[k] = hs_object_from_schema(json_object_array_get_idx(results, i), NULL, 0);
        if (list[k])
            k++;
    }
    json_object_put(c.json);
    *out = list;
    *n = k;
    return 0;
}

/* ---- associations v4 ---- */

static char *assoc_url(struct hubspot_client *hc, const char *from_type, const char *to_type,
                       const char *suffix)
{
    struct strbuf sb = STRBUF_INIT;
    strbuf_puts(&sb, hc->api_base);
    strbuf_puts(&sb, hc->assoc_prefix);
    strbuf_puts(&sb, "/associations/");
    crm_url_escape(&sb, from_type);
    strbuf_putc(&sb, '/');
    crm_url_escape(&sb, to_type);
    strbuf_puts(&sb, suffix);
    if (sb.failed) {
        strbuf_free(&sb);
        return NULL;
    }
    return strbuf_detach(&sb, NULL);
}

static json_object *id_obj(const char *id)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "id", json_object_new_string(id ? id : ""));
    return o;
}

static const char *result_side_id(json_object *res, const char *side, const char *flat)
{
    const char *id = json_member_text(res, flat);
    if (!id)
        id = json_member_text(json_member(res, side), "id");
    return id;
}

/* One association write operation: the inputs in[map[k]] (all of one kind) whose results go to
 * out->items[map[k]]. */
struct assoc_ctx {
    struct hubspot_client *hc;
    struct crm_http *h;
    const char *url;
    const char *op;
    const struct hubspot_assoc_input *in;
    const size_t *map;
    bool labelled; /* batch/create with types */
    bool archive;  /* batch/archive: "to" is a list; 204 answers every input */
    struct crm_batch_result *out;
};

static const struct hubspot_assoc_input *assoc_in(const struct assoc_ctx *a, size_t k)
{
    return &a->in[a->map[k]];
}

static json_object *assoc_types_json(const struct hubspot_assoc_input *in)
{
    json_object *types = json_object_new_array();
    for (size_t t = 0; t < in->ntypes; t++) {
        json_object *ty = json_object_new_object();
        json_object_object_add(ty, "associationCategory",
                               json_object_new_string(in->types[t].category));
        json_object_object_add(ty, "associationTypeId",
                               json_object_new_int64(in->types[t].type_id));
        json_object_array_add(types, ty);
    }
    return types;
}

static json_object *assoc_body(const struct assoc_ctx *a, const size_t *idx, size_t cnt)
{
    json_object *body = json_object_new_object();
    json_object *inputs = json_object_new_array();
    for (size_t k = 0; body && inputs && k < cnt; k++) {
        const struct hubspot_assoc_input *in = assoc_in(a, idx[k]);
        json_object *o = json_object_new_object();
        json_object_object_add(o, "from", id_obj(in->from_id));
        if (a->archive) {
            json_object *tos = json_object_new_array();
            json_object_array_add(tos, id_obj(in->to_id));
            json_object_object_add(o, "to", tos);
        } else {
            json_object_object_add(o, "to", id_obj(in->to_id));
        }
        if (a->labelled)
            json_object_object_add(o, "types", assoc_types_json(in));
        json_object_array_add(inputs, o);
    }
    if (!body || !inputs) {
        json_object_put(body);
        json_object_put(inputs);
        return NULL;
    }
    json_object_object_add(body, "inputs", inputs);
    return body;
}

static bool assoc_settled(void *ctx, size_t k)
{
    const struct assoc_ctx *a = ctx;
    const struct crm_batch_item *it = &a->out->items[a->map[k]];
    return it->ok || it->error;
}

static void assoc_fail(void *ctx, size_t k, const struct crm_error *e)
{
    struct assoc_ctx *a = ctx;
    crm_batch_item_fail(a->out, a->map[k], e);
}

static bool assoc_names(void *ctx, const struct crm_split_call *call, size_t k)
{
    const struct hubspot_assoc_input *in = assoc_in(ctx, k);
    return call_names(call, in->from_id) || call_names(call, in->to_id);
}

static void assoc_send(void *ctx, const size_t *idx, size_t cnt, struct crm_split_call *call)
{
    struct assoc_ctx *a = ctx;
    split_call(a->hc, a->h, a->op, a->url, assoc_body(a, idx, cnt), call);
}

static bool same_id(const char *a, const char *b)
{
    return a && b && strcmp(a, b) == 0;
}

/* Results name inputs by (from, to); errors by the ids they name (either side). */
static void assoc_answer(void *ctx, const size_t *idx, size_t cnt,
                         const struct crm_split_call *call, struct crm_error *unnamed)
{
    struct assoc_ctx *a = ctx;
    size_t nres, nerr;
    json_object *results = array_member(call->doc, "results", &nres);
    json_object *errors = array_member(call->doc, "errors", &nerr);
    for (size_t r = 0; r < nres; r++) {
        json_object *res = json_object_array_get_idx(results, r);
        const char *f = result_side_id(res, "from", "fromObjectId");
        const char *t = result_side_id(res, "to", "toObjectId");
        for (size_t k = 0; k < cnt; k++) {
            const struct hubspot_assoc_input *in = assoc_in(a, idx[k]);
            if (!assoc_settled(a, idx[k]) && same_id(f, in->from_id) && same_id(t, in->to_id))
                crm_batch_item_succeed(a->out, a->map[idx[k]], NULL, NULL, true);
        }
    }
    for (size_t e = 0; e < nerr; e++) {
        json_object *eo = json_object_array_get_idx(errors, e);
        struct crm_error ie;
        item_error(&ie, a->op, call, eo);
        bool named = false;
        for (size_t k = 0; k < cnt; k++) {
            const struct hubspot_assoc_input *in = assoc_in(a, idx[k]);
            if (!hs_error_names(eo, in->from_id) && !hs_error_names(eo, in->to_id))
                continue;
            named = true;
            if (!assoc_settled(a, idx[k]))
                assoc_fail(a, idx[k], &ie);
        }
        if (!named && unnamed->cls == CRM_ERR_NONE)
            *unnamed = ie;
    }
    for (size_t k = 0; a->archive && unnamed->cls == CRM_ERR_NONE && k < cnt; k++)
        if (!assoc_settled(a, idx[k]))
            crm_batch_item_succeed(a->out, a->map[idx[k]], NULL, NULL, false);
}

/* Sends the inputs in[map[0..cnt)] to url (calls of 2,000) and fills their items. */
static int assoc_write(struct assoc_ctx *a, size_t cnt, struct crm_error *err)
{
    const struct crm_split_ops ops = {.crm = CRM_HUBSPOT,
                                      .operation = a->op,
                                      .chunk_max = HUBSPOT_ASSOC_BATCH_CREATE_MAX,
                                      .send = assoc_send,
                                      .answer = assoc_answer,
                                      .names = assoc_names,
                                      .fail = assoc_fail,
                                      .settled = assoc_settled};
    struct crm_error e;
    crm_error_clear(&e);
    snprintf(e.operation, sizeof e.operation, "%s", a->op);
    int rc = crm_split_run(&ops, a, cnt, &e);
    int attempts = err->attempts + e.attempts;
    if (rc < 0 && err->cls == CRM_ERR_NONE)
        *err = e;
    err->attempts = attempts;
    return rc;
}

int hubspot_assoc_batch_create(struct hubspot_client *hc, struct crm_http *h, const char *from_type,
                               const char *to_type, const struct hubspot_assoc_input *in, size_t n,
                               struct crm_batch_result *out, struct crm_error *err)
{
    set_op(err, "assoc_batch_create");
    if (crm_batch_result_init(out, n) < 0)
        return oom(err);
    if (n == 0)
        return 0;
    size_t *labelled = calloc(n, sizeof *labelled), *plain = calloc(n, sizeof *plain);
    char *url_l = assoc_url(hc, from_type, to_type, "/batch/create");
    char *url_d = assoc_url(hc, from_type, to_type, "/batch/associate/default");
    if (!labelled || !plain || !url_l || !url_d) {
        free(labelled);
        free(plain);
        free(url_l);
        free(url_d);
        crm_batch_result_free(out);
        return oom(err);
    }
    size_t nl = 0, np = 0;
    for (size_t i = 0; i < n; i++) {
        if (in[i].ntypes)
            labelled[nl++] = i;
        else
            plain[np++] = i;
    }
    struct assoc_ctx l = {.hc = hc,
                          .h = h,
                          .url = url_l,
                          .op = "assoc_batch_create",
                          .in = in,
                          .map = labelled,
                          .labelled = true,
                          .out = out};
    struct assoc_ctx d = l;
    d.url = url_d;
    d.op = "assoc_batch_create_default";
    d.map = plain;
    d.labelled = false;
    int rc = 0;
    if (nl && assoc_write(&l, nl, err) < 0)
        rc = -1;
    if (np && assoc_write(&d, np, err) < 0)
        rc = -1;
    free(labelled);
    free(plain);
    free(url_l);
    free(url_d);
    return rc;
}

int hubspot_assoc_batch_archive_each(struct hubspot_client *hc, struct crm_http *h,
                                     const char *from_type, const char *to_type,
                                     const struct hubspot_assoc_input *in, size_t n,
                                     struct crm_batch_result *out, struct crm_error *err)
{
    set_op(err, "assoc_batch_archive");
    if (crm_batch_result_init(out, n) < 0)
        return oom(err);
    if (n == 0)
        return 0;
    size_t *map = calloc(n, sizeof *map);
    char *url = assoc_url(hc, from_type, to_type, "/batch/archive");
    if (!map || !url) {
        free(map);
        free(url);
        crm_batch_result_free(out);
        return oom(err);
    }
    for (size_t i = 0; i < n; i++)
        map[i] = i;
    struct assoc_ctx a = {.hc = hc,
                          .h = h,
                          .url = url,
                          .op = "assoc_batch_archive",
                          .in = in,
                          .map = map,
                          .archive = true,
                          .out = out};
    int rc = assoc_write(&a, n, err);
    free(map);
    free(url);
    return rc;
}

int hubspot_assoc_batch_archive(struct hubspot_client *hc, struct crm_http *h,
                                const char *from_type, const char *to_type,
                                const struct hubspot_assoc_input *in, size_t n,
                                struct crm_error *err)
{
    struct crm_batch_result res;
    int rc = hubspot_assoc_batch_archive_each(hc, h, from_type, to_type, in, n, &res, err);
    for (size_t i = 0; rc == 0 && i < res.n; i++)
        if (res.items[i].error) {
            int attempts = err->attempts;
            *err = *res.items[i].error;
            err->attempts = attempts;
            rc = -1;
        }
    crm_batch_result_free(&res);
    return rc;
}

void hubspot_assoc_links_free(struct hubspot_assoc_links *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < l->n; i++) {
        free(l->items[i].from_id);
        free(l->items[i].to_id);
        free(l->items[i].label);
    }
    free(l->items);
    for (size_t i = 0; i < l->nfailed; i++)
        free(l->failed[i].from_id);
    free(l->failed);
    memset(l, 0, sizeof *l);
}

const struct hubspot_assoc_read_error *
hubspot_assoc_links_failed(const struct hubspot_assoc_links *l, const char *from_id)
{
    for (size_t i = 0; l && from_id && i < l->nfailed; i++)
        if (strcmp(l->failed[i].from_id, from_id) == 0)
            return &l->failed[i];
    return NULL;
}

static int links_add(struct hubspot_assoc_links *l, size_t *cap, const char *from, const char *to,
                     json_object *type)
{
    if (l->n == *cap) {
        size_t nc = *cap ? *cap * 2 : 16;
        struct hubspot_assoc_link *g = realloc(l->items, nc * sizeof *g);
        if (!g)
            return -1;
        l->items = g;
        *cap = nc;
    }
    struct hubspot_assoc_link *k = &l->items[l->n];
    memset(k, 0, sizeof *k);
    k->from_id = strdup(from);
    k->to_id = strdup(to);
    snprintf(k->category, sizeof k->category, "%s",
             json_member_text(type, "category") ? json_member_text(type, "category") : "");
    json_object *tid = json_member(type, "typeId");
    k->type_id = tid ? json_object_get_int64(tid) : 0;
    const char *label = json_member_text(type, "label");
    k->label = label ? strdup(label) : NULL;
    if (!k->from_id || !k->to_id) {
        free(k->from_id);
        free(k->to_id);
        free(k->label);
        return -1;
    }
    l->n++;
    return 0;
}

/* "No X is associated with Y": the from record simply has no associations of that type. */
static bool no_associations_error(json_object *e)
{
    const char *sub = json_member_string(e, "subCategory");
    return sub && strstr(sub, "NO_ASSOCIATIONS_FOUND");
}

/* One association read: from ids[i], each settled as read (its links, possibly none) or
 * failed (an entry of out->failed). */
struct aread_ctx {
    struct hubspot_client *hc;
    struct crm_http *h;
    char *url;
    const char *const *ids;
    unsigned char *state; /* 0 open, 1 read, 2 failed */
    struct hubspot_assoc_links *out;
    size_t cap, fcap;
    bool oom;
};

static bool aread_settled(void *ctx, size_t i)
{
    const struct aread_ctx *a = ctx;
    return a->state[i] != 0;
}

/* From id i fails with e; a record-not-found error (not "no associations") marks it gone. */
static void aread_fail(void *ctx, size_t i, const struct crm_error *e)
{
    struct aread_ctx *a = ctx;
    struct hubspot_assoc_links *l = a->out;
    a->state[i] = 2;
    if (l->nfailed == a->fcap) {
        size_t nc = a->fcap ? a->fcap * 2 : 8;
        struct hubspot_assoc_read_error *g = realloc(l->failed, nc * sizeof *g);
        if (!g) {
            a->oom = true;
            return;
        }
        l->failed = g;
        a->fcap = nc;
    }
    struct hubspot_assoc_read_error *f = &l->failed[l->nfailed];
    f->from_id = strdup(a->ids[i] ? a->ids[i] : "");
    if (!f->from_id) {
        a->oom = true;
        return;
    }
    f->error = *e;
    f->gone = strcmp(e->code, "OBJECT_NOT_FOUND") == 0 || e->http_status == 404;
    if (f->gone) {
        f->error.http_status = 404;
        f->error.cls = CRM_ERR_PERMANENT;
        snprintf(f->error.code, sizeof f->error.code, "OBJECT_NOT_FOUND");
    }
    l->nfailed++;
}

static bool aread_names(void *ctx, const struct crm_split_call *call, size_t i)
{
    const struct aread_ctx *a = ctx;
    return call_names(call, a->ids[i]);
}

static void aread_send(void *ctx, const size_t *idx, size_t cnt, struct crm_split_call *call)
{
    struct aread_ctx *a = ctx;
    json_object *body = json_object_new_object();
    json_object *inputs = json_object_new_array();
    for (size_t k = 0; body && inputs && k < cnt; k++)
        json_object_array_add(inputs, id_obj(a->ids[idx[k]]));
    if (body && inputs) {
        json_object_object_add(body, "inputs", inputs);
    } else {
        json_object_put(body);
        json_object_put(inputs);
        body = NULL;
    }
    split_call(a->hc, a->h, "assoc_batch_read", a->url, body, call);
}

/* Adds the links of one result; marks its from id read. */
static void aread_result(struct aread_ctx *a, const size_t *idx, size_t cnt, json_object *res)
{
    const char *fid = json_member_text(json_member(res, "from"), "id");
    bool mine = false;
    for (size_t k = 0; fid && k < cnt; k++)
        if (same_id(a->ids[idx[k]], fid) && a->state[idx[k]] == 0) {
            a->state[idx[k]] = 1;
            mine = true;
        }
    size_t nt;
    json_object *tos = array_member(res, "to", &nt);
    for (size_t t = 0; mine && t < nt; t++) {
        json_object *tobj = json_object_array_get_idx(tos, t);
        const char *tid = json_member_text(tobj, "toObjectId");
        size_t nty;
        json_object *types = array_member(tobj, "associationTypes", &nty);
        for (size_t y = 0; y < nty && tid; y++)
            if (links_add(a->out, &a->cap, fid, tid, json_object_array_get_idx(types, y)) < 0)
                a->oom = true;
    }
}

/* Results give links; "no associations" errors settle their ids with none; any other error is
 * the failure of the from ids it names. */
static void aread_answer(void *ctx, const size_t *idx, size_t cnt,
                         const struct crm_split_call *call, struct crm_error *unnamed)
{
    struct aread_ctx *a = ctx;
    size_t nres, nerr;
    json_object *results = array_member(call->doc, "results", &nres);
    json_object *errors = array_member(call->doc, "errors", &nerr);
    for (size_t r = 0; r < nres; r++)
        aread_result(a, idx, cnt, json_object_array_get_idx(results, r));
    for (size_t e = 0; e < nerr; e++) {
        json_object *eo = json_object_array_get_idx(errors, e);
        bool none = no_associations_error(eo), named = false;
        struct crm_error ie;
        item_error(&ie, "assoc_batch_read", call, eo);
        for (size_t k = 0; k < cnt; k++) {
            if (!hs_error_names(eo, a->ids[idx[k]]))
                continue;
            named = true;
            if (a->state[idx[k]] == 0 && none)
                a->state[idx[k]] = 1;
            else if (a->state[idx[k]] == 0)
                aread_fail(a, idx[k], &ie);
        }
        if (!named && unnamed->cls == CRM_ERR_NONE)
            *unnamed = ie;
    }
}

int hubspot_assoc_batch_read(struct hubspot_client *hc, struct crm_http *h, const char *from_type,
                             const char *to_type, const char *const *from_ids, size_t n,
                             struct hubspot_assoc_links *out, struct crm_error *err)
{
    memset(out, 0, sizeof *out);
    set_op(err, "assoc_batch_read");
    if (n == 0)
        return 0;
    struct aread_ctx a = {.hc = hc,
                          .h = h,
                          .url = assoc_url(hc, from_type, to_type, "/batch/read"),
                          .ids = from_ids,
                          .state = calloc(n, 1),
                          .out = out};
    int rc;
    if (!a.url || !a.state) {
        rc = oom(err);
    } else {
        const struct crm_split_ops ops = {.crm = CRM_HUBSPOT,
                                          .operation = "assoc_batch_read",
                                          .chunk_max = HUBSPOT_ASSOC_BATCH_READ_MAX,
                                          .send = aread_send,
                                          .answer = aread_answer,
                                          .names = aread_names,
                                          .fail = aread_fail,
                                          .settled = aread_settled};
        rc = crm_split_run(&ops, &a, n, err);
        if (a.oom)
            rc = oom(err);
    }
    if (rc < 0 && (a.oom || !a.state || !a.url))
        hubspot_assoc_links_free(out); /* nothing is known for sure */
    free(a.url);
    free(a.state);
    return rc;
}

void hubspot_assoc_labels_free(struct hubspot_assoc_label *labels, size_t n)
{
    for (size_t i = 0; labels && i < n; i++)
        free(labels[i].label);
    free(labels);
}

int hubspot_assoc_labels(struct hubspot_client *hc, struct crm_http *h, const char *from_type,
                         const char *to_type, struct hubspot_assoc_label **out, size_t *n,
                         struct crm_error *err)
{
    *out = NULL;
    *n = 0;
    set_op(err, "assoc_labels");
    char *url = assoc_url(hc, from_type, to_type, "/labels");
    if (!url)
        return oom(err);
    struct crm_call c = {.operation = "assoc_labels", .method = "GET", .url = url};
    int rc = hs_call(hc, h, &c, err);
    free(url);
    if (rc < 0)
        return -1;
    json_object *results = json_member(c.json, "results");
    size_t len = results && json_object_is_type(results, json_type_array)
                     ? json_object_array_length(results)
                     : 0;
    if (!results) {
        json_object_put(c.json);
        crm_error_set(err, CRM_HUBSPOT, CRM_ERR_PERMANENT, c.status, "invalid_answer",
                      "the labels answer has no results array");
        return -1;
    }
    struct hubspot_assoc_label *labels = len ? calloc(len, sizeof *labels) : NULL;
    if (len && !labels) {
        json_object_put(c.json);
        return oom(err);
    }
    for (size_t i = 0; i < len; i++) {
        json_object *o = json_object_array_get_idx(results, i);
        snprintf(labels[i].category, sizeof labels[i].category, "%s",
                 json_member_text(o, "category") ? json_member_text(o, "category") : "");
        json_object *tid = json_member(o, "typeId");
        labels[i].type_id = tid ? json_object_get_int64(tid) : 0;
        const char *label = json_member_text(o, "label");
        labels[i].label = label ? strdup(label) : NULL;
    }
    json_object_put(c.json);
    *out = labels;
    *n = len;
    return 0;
}

/* ---- account and token (synkro doctor) ---- */

int hubspot_account_details(struct hubspot_client *hc, struct crm_http *h, long long *portal_id,
                            struct crm_error *err)
{
    *portal_id = 0;
    set_op(err, "account_details");
    struct strbuf sb = STRBUF_INIT;
    strbuf_printf(&sb, "%s/account-info/v3/details", hc->api_base);
    if (sb.failed) {
        strbuf_free(&sb);
        return oom(err);
    }
    struct crm_call c = {.operation = "account_details", .method = "GET", .url = strbuf_str(&sb)};
    int rc = hs_call(hc, h, &c, err);
    strbuf_free(&sb);
    if (rc < 0)
        return -1;
    json_object *pid = NULL;
    if (!json_object_object_get_ex(c.json, "portalId", &pid) ||
        !json_object_is_type(pid, json_type_int)) {
        json_object_put(c.json);
        crm_error_set(err, CRM_HUBSPOT, CRM_ERR_PERMANENT, c.status, "bad_response",
                      "the account details have no portalId");
        return -1;
    }
    *portal_id = json_object_get_int64(pid);
    json_object_put(c.json);
    return 0;
}

bool hubspot_client_is_private_app(const struct hubspot_client *hc)
{
    return hc->static_token != NULL;
}

/* The answer's scopes array (a new reference), or NULL with err. */
static json_object *take_scopes(json_object *doc, int status, struct crm_error *err)
{
    json_object *scopes = NULL;
    if (!json_object_object_get_ex(doc, "scopes", &scopes) ||
        !json_object_is_type(scopes, json_type_array)) {
        crm_error_set(err, CRM_HUBSPOT, CRM_ERR_PERMANENT, status, "bad_response",
                      "the token information has no scopes array");
        return NULL;
    }
    return json_object_get(scopes);
}

int hubspot_token_scopes(struct hubspot_client *hc, struct crm_http *h, json_object **scopes,
                         struct crm_error *err)
{
    *scopes = NULL;
    set_op(err, "token_info");
    struct strbuf url = STRBUF_INIT;
    json_object *body = NULL;
    struct crm_call c = {.operation = "token_info"};
    if (hc->static_token) {
        /* a private app's token: POST its key to the private-apps token-info endpoint */
        strbuf_printf(&url, "%s/oauth/v2/private-apps/get/access-token-info", hc->api_base);
        body = json_object_new_object();
        if (body)
            json_object_object_add(body, "tokenKey", json_object_new_string(hc->static_token));
        c.method = "POST";
    } else {
        /* an OAuth access token: GET /oauth/v1/access-tokens/{token} */
        struct token_value tv = {0};
        if (token_cache_get(hc->tokens, h, &tv, NULL, err) < 0)
            return -1;
        strbuf_printf(&url, "%s/oauth/v1/access-tokens/", hc->api_base);
        crm_url_escape(&url, tv.access_token);
        token_value_clear(&tv);
        c.method = "GET";
    }
    if (url.failed || (hc->static_token && !body)) {
        strbuf_free(&url);
        json_object_put(body);
        return oom(err);
    }
    c.url = strbuf_str(&url);
    c.body = body;
    int rc = hs_call(hc, h, &c, err);
    OPENSSL_cleanse(url.data, url.len);
    strbuf_free(&url);
    json_object_put(body);
    if (rc < 0)
        return -1;
    *scopes = take_scopes(c.json, c.status, err);
    json_object_put(c.json);
    return *scopes ? 0 : -1;
}
