/* salesforce_client.c: Salesforce REST calls: the hooks this client gives the shared call loop
 * (crm/crm_call.c: the API-usage slowdown before each try, the token cache and instance URL, the
 * error parser, the secrets to scrub; 304 answers a conditional describe), OAuth refresh-token
 * and JWT bearer flows, the describe cache, and every operation's requests and answer parsers.
 *
 * Owns the client's option copies, the RSA key of the JWT flow, the token cache, the in-memory
 * refresh token (replaced only by the single-flight refresh callback; refresh_lock guards the
 * pointer because error scrubbing reads it from every thread), and the describe cache
 * (describe_lock). Describes are reference-counted wrappers: the cache holds one reference, each
 * caller of salesforce_describe() another. Collections results are positional; a whole call's
 * error names a record by its id (or external id value) in the message, and crm/crm_split.c
 * decides what is sent again.
 * Must not: let a token, secret or assertion reach an error text, a log line or a metric; give a
 * record an error that does not name it (unless it was alone in its call); retry a call itself
 * (crm/crm_call.c does; only the token endpoint has its own loop). */
#include "crm/salesforce_client.h"

#include "base/config.h"
#include "base/log.h"
#include "base/metrics.h"
#include "base/secret.h"
#include "base/strbuf.h"
#include "crm/crm_call.h"
#include "crm/crm_split.h"
#include "crm/daily_limit.h"
#include "base/json_util.h"
#include "crm/crm_call_stats.h"
#include "crm/rate_limit.h"
#include "crm/shared_budget.h"

#include <ctype.h>
#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

struct describe_ref {
    struct salesforce_describe pub; /* first: callers see a pointer to it */
    _Atomic int refs;
    char validator[64]; /* Last-Modified (or Date) of the answer: If-Modified-Since */
    int64_t fetched_ms; /* rate_limit_now_ms() clock */
};

struct describe_entry {
    char *sobject;
    struct describe_ref *d;
};

struct salesforce_client {
    char *login_url;
    char *token_url;
    char *api_version;
    char *client_id;
    char *client_secret;
    pthread_mutex_t refresh_lock; /* guards refresh_token */
    char *refresh_token;          /* replaced by the refresh callback, read by sf_scrub() */
    char identity_url[512];       /* guarded by refresh_lock: the last token answer's "id" */
    char *username;
    char *jwt_audience;
    EVP_PKEY *jwt_key;
    char *static_token;
    double usage_threshold;
    long usage_slowdown_max_ms;
    int64_t describe_ttl_ms;
    struct crm_retry_policy retry;
    struct token_store *store;
    struct token_cache *tokens;
    _Atomic uint64_t usage_bits; /* double: last USED/MAX */
    pthread_mutex_t describe_lock;
    struct describe_entry *describes; /* guarded by describe_lock */
    size_t ndescribes, cap_describes;
    struct crm_call_stats *stats; /* own lock: calls, refusals, api-usage for the budget view */
    struct shared_budget *shared; /* own locks: the org's pause shared by every instance, or NULL */
    int shared_daily;
    struct daily_stop daily; /* atomics: the stop at SALESFORCE_API_DAILY_MAX_PERCENT */
};

static struct metric_family *m_usage;
static struct metrics_once metrics_once;

static void metrics_register_all(void)
{
    m_usage = metrics_register(METRIC_GAUGE, "synkro_salesforce_api_usage_ratio",
                               "Share of the daily Salesforce API allocation used "
                               "(Sforce-Limit-Info api-usage USED/MAX).",
                               NULL, 0, NULL, 0);
}

/* ---- helpers ---- */

static char *dup_or_null(const char *s)
{
    return s && *s ? strdup(s) : NULL;
}

static void set_op(struct crm_error *err, const char *op)
{
    crm_error_clear(err);
    err->crm = CRM_SALESFORCE;
    snprintf(err->operation, sizeof err->operation, "%s", op);
}

static int oom(struct crm_error *err)
{
    crm_error_set(err, CRM_SALESFORCE, CRM_ERR_TRANSIENT, 0, "out_of_memory", "out of memory");
    return -1;
}

/* Removes the token and every secret of the client from err (also the call loop's scrub hook). */
static void sf_scrub(void *ud, struct crm_error *err, const char *token)
{
    struct salesforce_client *sc = ud;
    crm_error_scrub(err, token);
    crm_error_scrub(err, sc->static_token);
    crm_error_scrub(err, sc->client_secret);
    pthread_mutex_lock(&sc->refresh_lock);
    crm_error_scrub(err, sc->refresh_token);
    pthread_mutex_unlock(&sc->refresh_lock);
}

static void copy_field(char *dst, size_t cap, const char *src)
{
    snprintf(dst, cap, "%s", src ? src : "");
}

/* ---- API usage ---- */

static double usage_get(struct salesforce_client *sc)
{
    uint64_t bits = atomic_load(&sc->usage_bits);
    double d;
    memcpy(&d, &bits, sizeof d);
    return d;
}

double salesforce_client_api_usage(struct salesforce_client *sc)
{
    return usage_get(sc);
}

/* How long the org's requests stop for every instance: after a REQUEST_LIMIT_EXCEEDED with the
 * daily allocation used up, or when the usage reaches SALESFORCE_API_DAILY_MAX_PERCENT (the
 * allocation is a rolling 24 h: then a call probes); after a REQUEST_LIMIT_EXCEEDED below it (the
 * long-running request concurrency limit) ten seconds. */
#define SF_PAUSE_DAILY_MS       300000
#define SF_PAUSE_CONCURRENCY_MS 10000

/* "api-usage=USED/MAX" (other entries around): the usage (gauge, budget view), and at
 * SALESFORCE_API_DAILY_MAX_PERCENT the stop of the org's requests for every instance. */
static void usage_track(struct salesforce_client *sc, const char *hdr)
{
    long long used, max;
    if (daily_limit_parse_salesforce(hdr, &used, &max) < 0)
        return;
    double ratio = (double)used / (double)max;
    uint64_t bits;
    memcpy(&bits, &ratio, sizeof bits);
    atomic_store(&sc->usage_bits, bits);
    metrics_set(m_usage, NULL, ratio);
    crm_call_stats_note_usage(sc->stats, used, max);
    char why[200];
    int64_t pause = daily_stop_note(&sc->daily, used, max, rate_limit_now_ms(), SF_PAUSE_DAILY_MS,
                                    why, sizeof why);
    if (pause > 0)
        shared_budget_pause(sc->shared, sc->shared_daily, pause, why);
}

/* Pause before a call: 0 below the threshold, growing linearly to the maximum at 100%. */
static long usage_pause_ms(struct salesforce_client *sc)
{
    double u = usage_get(sc);
    if (u <= sc->usage_threshold)
        return 0;
    double share =
        sc->usage_threshold < 1 ? (u - sc->usage_threshold) / (1 - sc->usage_threshold) : 1;
    if (share > 1)
        share = 1;
    long ms = (long)(share * (double)sc->usage_slowdown_max_ms);
    return ms < 1 ? 1 : ms;
}

/* ---- JWT ---- */

static char *b64url(const unsigned char *in, size_t n)
{
    size_t cap = 4 * ((n + 2) / 3) + 1;
    char *out = malloc(cap);
    if (!out)
        return NULL;
    int len = EVP_EncodeBlock((unsigned char *)out, in, (int)n);
    if (len < 0) {
        free(out);
        return NULL;
    }
    while (len > 0 && out[len - 1] == '=')
        len--;
    out[len] = '\0';
    for (int i = 0; i < len; i++) {
        if (out[i] == '+')
            out[i] = '-';
        else if (out[i] == '/')
            out[i] = '_';
    }
    return out;
}

char *salesforce_jwt_assertion(struct salesforce_client *sc)
{
    if (!sc->jwt_key)
        return NULL;
    json_object *claims = json_object_new_object();
    json_object_object_add(claims, "iss", json_object_new_string(sc->client_id));
    json_object_object_add(claims, "sub", json_object_new_string(sc->username));
    json_object_object_add(claims, "aud", json_object_new_string(sc->jwt_audience));
    json_object_object_add(claims, "exp", json_object_new_int64((int64_t)time(NULL) + 150));
    const char *cj = json_object_to_json_string_ext(claims, JSON_C_TO_STRING_PLAIN);
    static const char header[] = "{\"alg\":\"RS256\"}";
    char *h64 = b64url((const unsigned char *)header, strlen(header));
    char *c64 = b64url((const unsigned char *)cj, strlen(cj));
    json_object_put(claims);
    char *out = NULL;
    struct strbuf input = STRBUF_INIT;
    if (h64 && c64) {
        strbuf_puts(&input, h64);
        strbuf_putc(&input, '.');
        strbuf_puts(&input, c64);
    }
    free(h64);
    free(c64);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    unsigned char *sig = NULL;
    size_t siglen = 0;
    if (md && input.data && !input.failed &&
        EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, sc->jwt_key) == 1 &&
        EVP_DigestSign(md, NULL, &siglen, (const unsigned char *)input.data, input.len) == 1 &&
        (sig = malloc(siglen)) != NULL &&
        EVP_DigestSign(md, sig, &siglen, (const unsigned char *)input.data, input.len) == 1) {
        char *s64 = b64url(sig, siglen);
        if (s64) {
            strbuf_putc(&input, '.');
            strbuf_puts(&input, s64);
            free(s64);
            if (!input.failed)
                out = strbuf_detach(&input, NULL);
        }
    }
    free(sig);
    EVP_MD_CTX_free(md);
    strbuf_free(&input);
    return out;
}

static EVP_PKEY *load_key(const char *pem, const char *file, char *err, size_t errlen)
{
    BIO *bio = pem ? BIO_new_mem_buf(pem, -1) : BIO_new_file(file, "r");
    if (!bio) {
        snprintf(err, errlen, "Salesforce client: cannot read the JWT key file %s",
                 file ? file : "");
        return NULL;
    }
    EVP_PKEY *key = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
    BIO_free(bio);
    if (!key) {
        snprintf(err, errlen, "Salesforce client: the JWT key is not a PEM private key");
        return NULL;
    }
    if (EVP_PKEY_get_base_id(key) != EVP_PKEY_RSA) {
        EVP_PKEY_free(key);
        snprintf(err, errlen, "Salesforce client: the JWT key must be an RSA key (RS256)");
        return NULL;
    }
    return key;
}

/* ---- token endpoint (single-flight through the token cache) ---- */

/* Loads the newest refresh token: the store's (rotated) one when there is one. */
static void refresh_token_load(struct salesforce_client *sc)
{
    if (!sc->store)
        return;
    struct token_record rec;
    char err[256];
    if (token_store_get(sc->store, CRM_SALESFORCE, "refresh", &rec, err, sizeof err) == 1) {
        char *copy = strdup(rec.token);
        if (copy) {
            pthread_mutex_lock(&sc->refresh_lock);
            char *old = sc->refresh_token;
            sc->refresh_token = copy;
            pthread_mutex_unlock(&sc->refresh_lock);
            secret_wipe_free(old);
        }
    }
    token_record_free(&rec);
}

static void refresh_token_rotate(struct salesforce_client *sc, const char *next)
{
    if (!next || !*next)
        return;
    char *copy = strdup(next);
    if (!copy)
        return;
    pthread_mutex_lock(&sc->refresh_lock);
    char *old = sc->refresh_token;
    bool same = old && strcmp(old, next) == 0;
    sc->refresh_token = copy;
    pthread_mutex_unlock(&sc->refresh_lock);
    secret_wipe_free(old);
    if (same || !sc->store)
        return;
    char err[300];
    if (token_store_put(sc->store, CRM_SALESFORCE, "refresh", next, 0, NULL, NULL, err,
                        sizeof err) < 0)
        log_with(LOG_LEVEL_ERROR,
                 "rotated Salesforce refresh token not stored; it is kept in memory only",
                 LF_S("error", err));
}

static int sf_refresh(void *ud, void *call_ctx, struct token_value *out, struct crm_error *err)
{
    struct salesforce_client *sc = ud;
    struct crm_http *h = call_ctx;
    set_op(err, "oauth_token");
    bool jwt = sc->jwt_key != NULL;
    if (!jwt)
        refresh_token_load(sc);
    int rc = -1;
    for (int failures = 0;;) {
        struct strbuf form = STRBUF_INIT;
        char *assertion = NULL;
        if (jwt) {
            assertion = salesforce_jwt_assertion(sc);
            crm_form_add(&form, "grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer");
            crm_form_add(&form, "assertion", assertion ? assertion : "");
        } else {
            crm_form_add(&form, "grant_type", "refresh_token");
            pthread_mutex_lock(&sc->refresh_lock);
            crm_form_add(&form, "refresh_token", sc->refresh_token);
            pthread_mutex_unlock(&sc->refresh_lock);
            crm_form_add(&form, "client_id", sc->client_id);
            crm_form_add(&form, "client_secret", sc->client_secret);
        }
        if (form.failed || (jwt && !assertion)) {
            secret_wipe_free(assertion);
            strbuf_free(&form);
            oom(err);
            break;
        }
        struct crm_http_request req = {
            .crm = CRM_SALESFORCE,
            .operation = "oauth_token",
            .method = "POST",
            .url = sc->token_url,
            .body = form.data,
            .body_len = form.len,
            .content_type = "application/x-www-form-urlencoded",
        };
        struct crm_http_response resp;
        err->attempts++;
        int prc = crm_http_perform(h, &req, &resp, err);
        OPENSSL_cleanse(form.data, form.len);
        strbuf_free(&form);
        bool done = false;
        if (prc == 0 && resp.status >= 200 && resp.status < 300) {
            json_object *doc = json_tokener_parse(resp.body);
            const char *at = json_member_text(doc, "access_token");
            const char *iu = json_member_text(doc, "instance_url");
            if (at && *at && iu && *iu) {
                out->access_token = strdup(at);
                out->instance_url = str_dup_trim_slash(iu);
                out->expires_at_ms = 0; /* Salesforce tells no expiry: a 401 says it */
                if (!out->access_token || !out->instance_url) {
                    token_value_clear(out);
                    oom(err);
                } else {
                    if (!jwt)
                        refresh_token_rotate(sc, json_member_text(doc, "refresh_token"));
                    const char *idu = json_member_text(doc, "id");
                    pthread_mutex_lock(&sc->refresh_lock);
                    snprintf(sc->identity_url, sizeof sc->identity_url, "%s", idu ? idu : "");
                    pthread_mutex_unlock(&sc->refresh_lock);
                    rc = 0;
                }
            } else {
                crm_error_set(err, CRM_SALESFORCE, CRM_ERR_PERMANENT, (int)resp.status,
                              "bad_token_response",
                              "the token endpoint answered without access_token and instance_url");
            }
            json_object_put(doc);
            done = true;
        } else if (prc == 0) {
            crm_error_from_salesforce(err, (int)resp.status, resp.body, resp.body_len);
            if (err->cls == CRM_ERR_AUTH)
                err->cls = CRM_ERR_PERMANENT; /* bad client credentials: nothing to refresh */
        }
        if (resp.body)
            OPENSSL_cleanse(resp.body, resp.body_len);
        crm_http_response_free(&resp);
        if (assertion)
            crm_error_scrub(err, assertion);
        secret_wipe_free(assertion);
        if (done)
            break;
        long delay = crm_retry_delay_ms(&sc->retry, ++failures, err);
        if (delay < 0)
            break;
        crm_sleep_ms(delay);
    }
    sf_scrub(sc, err, out->access_token);
    return rc;
}

/* ---- the call loop's hooks (crm/crm_call.h) ---- */

static const struct crm_retry_policy *sf_retry_policy(void *ud)
{
    return &((struct salesforce_client *)ud)->retry;
}

/* Salesforce has no per-call token budget (the org's allocation is daily and Sforce-Limit-Info
 * reports the org's own count): each try first waits while the org's requests are stopped (for
 * every instance with a shared budget, else for this process) after a REQUEST_LIMIT_EXCEEDED or at
 * SALESFORCE_API_DAILY_MAX_PERCENT, then, above the API usage threshold, sleeps. A stop longer
 * than the retry policy's longest wait fails the try as retryable (the event retries later). */
static int sf_budget_acquire(void *ud, const struct crm_call *c, struct crm_error *err)
{
    (void)c;
    struct salesforce_client *sc = ud;
    int64_t now = rate_limit_now_ms(), ra = 0;
    int64_t deadline = now + sc->retry.max_wait_ms;
    int rc = 0;
    if (sc->shared) {
        rc = shared_budget_wait_unpaused(sc->shared, sc->shared_daily, deadline, &ra);
    } else if ((ra = daily_stop_left(&sc->daily, now)) > 0) {
        if (now + ra > deadline)
            rc = -1;
        else
            crm_sleep_ms((long)ra);
    }
    if (rc == -1) {
        crm_error_set(err, CRM_SALESFORCE, CRM_ERR_RETRY_AFTER, 0, "client_rate_limit",
                      "the org's API requests are paused%s (REQUEST_LIMIT_EXCEEDED, or the daily "
                      "usage at SALESFORCE_API_DAILY_MAX_PERCENT) for another %lld ms",
                      sc->shared ? " for every instance" : "", (long long)ra);
        err->retry_after_ms = (long)ra;
        return -1;
    }
    crm_sleep_ms(usage_pause_ms(ud));
    return 0;
}

static void sf_budget_penalty(void *ud, const struct crm_call *c, const struct crm_error *err)
{
    (void)c;
    struct salesforce_client *sc = ud;
    if (strcmp(err->code, "REQUEST_LIMIT_EXCEEDED") != 0)
        return;
    shared_budget_pause(sc->shared, sc->shared_daily,
                        usage_get(sc) >= 1.0 ? SF_PAUSE_DAILY_MS : SF_PAUSE_CONCURRENCY_MS,
                        err->code);
}

static struct token_cache *sf_tokens(void *ud)
{
    return ((struct salesforce_client *)ud)->tokens;
}

static bool sf_token_refreshable(void *ud)
{
    return ((struct salesforce_client *)ud)->static_token == NULL;
}

/* {instance_url}/services/data/{version}/{path}; {instance_url}{path} for a path from '/'. */
static char *sf_resolve_url(void *ud, const struct token_value *tok, const char *path)
{
    struct salesforce_client *sc = ud;
    struct strbuf sb = STRBUF_INIT;
    strbuf_puts(&sb, tok->instance_url ? tok->instance_url : "");
    if (path[0] == '/') {
        strbuf_puts(&sb, path);
    } else {
        strbuf_puts(&sb, "/services/data/");
        strbuf_puts(&sb, sc->api_version);
        strbuf_putc(&sb, '/');
        strbuf_puts(&sb, path);
    }
    if (sb.failed) {
        strbuf_free(&sb);
        return NULL;
    }
    return strbuf_detach(&sb, NULL);
}

static void sf_on_answer(void *ud, const struct crm_http_response *resp)
{
    usage_track(ud, crm_http_header(resp, "Sforce-Limit-Info"));
}

static void sf_parse_error(void *ud, const struct crm_http_response *r, struct crm_error *err)
{
    (void)ud;
    crm_error_from_salesforce(err, (int)r->status, r->body, r->body_len);
}

static struct crm_call_stats *sf_stats(void *ud)
{
    return ((struct salesforce_client *)ud)->stats;
}

struct shared_budget *salesforce_client_shared_budget(struct salesforce_client *sc)
{
    return sc ? sc->shared : NULL;
}

struct crm_call_stats *salesforce_client_stats(struct salesforce_client *sc)
{
    return sc ? sc->stats : NULL;
}

int salesforce_client_daily_max_percent(const struct salesforce_client *sc)
{
    return sc ? sc->daily.max_percent : 0;
}

static const struct crm_call_hooks sf_hooks = {
    .crm = CRM_SALESFORCE,
    .name = "Salesforce",
    .accept_not_modified = true, /* describes are conditional GETs (If-Modified-Since) */
    .retry_policy = sf_retry_policy,
    .budget_acquire = sf_budget_acquire,
    .budget_penalty = sf_budget_penalty,
    .tokens = sf_tokens,
    .token_refreshable = sf_token_refreshable,
    .resolve_url = sf_resolve_url,
    .on_answer = sf_on_answer,
    .parse_error = sf_parse_error,
    .scrub = sf_scrub,
    .stats = sf_stats,
};

/* c->url is a path (see sf_resolve_url). */
static int sf_call(struct salesforce_client *sc, struct crm_http *h, struct crm_call *c,
                   struct crm_error *err)
{
    return crm_call_run(&sf_hooks, sc, h, c, err);
}

/* Escaped path: segments joined by '/', each percent-encoded. NULL-terminated list. */
static char *path_of(const char *const *segs, const char *suffix)
{
    struct strbuf sb = STRBUF_INIT;
    for (size_t i = 0; segs[i]; i++) {
        if (i)
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

/* ---- create / destroy ---- */

void salesforce_client_options_from_config(struct salesforce_client_options *o,
                                           const struct config *cfg, struct token_store *store)
{
    memset(o, 0, sizeof *o);
    o->login_url = cfg->salesforce_login_url;
    o->api_version = cfg->salesforce_api_version;
    o->client_id = cfg->salesforce_client_id;
    o->client_secret = cfg->salesforce_client_secret;
    o->refresh_token = cfg->salesforce_refresh_token;
    o->username = cfg->salesforce_username;
    o->jwt_key_file = cfg->salesforce_jwt_key_file;
    o->api_usage_max_percent = cfg->salesforce_api_usage_max_percent;
    o->api_daily_max_percent = cfg->salesforce_api_daily_max_percent;
    o->store = store;
    o->org_id = cfg->salesforce_org_id;
}

/* The org's shared pause: one "daily" row (its capacity the Enterprise base allocation, shown,
 * never leased: the org's own count in Sforce-Limit-Info is what Salesforce enforces). */
static int shared_open(struct salesforce_client *sc, const struct salesforce_client_options *o)
{
    char account[64];
    snprintf(account, sizeof account, "salesforce:%s",
             o->org_id && *o->org_id ? o->org_id : "default");
    sc->shared = shared_budget_create(o->budget_pool, "salesforce", account);
    struct shared_limit_options d = {
        .name = "daily", .capacity = 100000, .interval_ms = 86400000, .chunk = 1, .hold_ms = 1};
    sc->shared_daily = sc->shared ? shared_budget_add_limit(sc->shared, &d) : -1;
    return sc->shared_daily >= 0 ? 0 : -1;
}

static void describe_unref(struct describe_ref *d);

void salesforce_client_destroy(struct salesforce_client *sc)
{
    if (!sc)
        return;
    token_cache_destroy(sc->tokens);
    for (size_t i = 0; i < sc->ndescribes; i++) {
        free(sc->describes[i].sobject);
        describe_unref(sc->describes[i].d);
    }
    free(sc->describes);
    pthread_mutex_destroy(&sc->describe_lock);
    pthread_mutex_destroy(&sc->refresh_lock);
    EVP_PKEY_free(sc->jwt_key);
    free(sc->login_url);
    free(sc->token_url);
    free(sc->api_version);
    free(sc->client_id);
    secret_wipe_free(sc->client_secret);
    secret_wipe_free(sc->refresh_token);
    free(sc->username);
    free(sc->jwt_audience);
    secret_wipe_free(sc->static_token);
    crm_call_stats_destroy(sc->stats);
    shared_budget_destroy(sc->shared);
    free(sc);
}

struct salesforce_client *salesforce_client_create(const struct salesforce_client_options *o,
                                                   char *err, size_t errlen)
{
    bool have_static = o->access_token && *o->access_token && o->instance_url && *o->instance_url;
    bool want_jwt = (o->jwt_key_file && *o->jwt_key_file) || (o->jwt_key_pem && *o->jwt_key_pem);
    if (!have_static && (!o->login_url || !*o->login_url)) {
        snprintf(err, errlen, "Salesforce client: SALESFORCE_LOGIN_URL is not set");
        return NULL;
    }
    if (!have_static && (!o->client_id || !*o->client_id)) {
        snprintf(err, errlen, "Salesforce client: SALESFORCE_CLIENT_ID is not set");
        return NULL;
    }
    if (!have_static && want_jwt && (!o->username || !*o->username)) {
        snprintf(err, errlen, "Salesforce client: the JWT flow needs SALESFORCE_USERNAME");
        return NULL;
    }
    if (!have_static && !want_jwt && (!o->client_secret || !*o->client_secret)) {
        snprintf(err, errlen,
                 "Salesforce client: set SALESFORCE_JWT_KEY_FILE (JWT flow) or "
                 "SALESFORCE_CLIENT_SECRET and SALESFORCE_REFRESH_TOKEN (refresh-token flow)");
        return NULL;
    }
    struct salesforce_client *sc = calloc(1, sizeof *sc);
    if (!sc) {
        snprintf(err, errlen, "Salesforce client: out of memory");
        return NULL;
    }
    pthread_mutex_init(&sc->describe_lock, NULL);
    pthread_mutex_init(&sc->refresh_lock, NULL);
    sc->api_version = strdup(o->api_version && *o->api_version ? o->api_version : "v62.0");
    sc->store = o->store;
    sc->retry = o->retry;
    crm_retry_policy_normalize(&sc->retry);
    sc->usage_threshold = (o->api_usage_max_percent > 0 ? o->api_usage_max_percent : 80) / 100.0;
    sc->usage_slowdown_max_ms = o->usage_slowdown_max_ms > 0 ? o->usage_slowdown_max_ms : 2000;
    sc->describe_ttl_ms = o->describe_ttl_ms > 0 ? o->describe_ttl_ms : 300000;
    metrics_once_run(&metrics_once, metrics_register_all);
    daily_stop_init(&sc->daily, "salesforce", "SALESFORCE_API_DAILY_MAX_PERCENT",
                    o->api_daily_max_percent > 0 ? o->api_daily_max_percent : 95);
    sc->stats = crm_call_stats_create();
    bool ok = sc->api_version != NULL && sc->stats != NULL &&
              (!o->budget_pool || shared_open(sc, o) == 0);
    if (have_static) {
        sc->static_token = strdup(o->access_token);
        sc->tokens = token_cache_create(CRM_SALESFORCE, 0, 60000, NULL, sc);
        char *iu = str_dup_trim_slash(o->instance_url);
        ok = ok && sc->static_token && sc->tokens && iu &&
             token_cache_set(sc->tokens, sc->static_token, iu, 0) == 0;
        free(iu);
        if (!ok) {
            salesforce_client_destroy(sc);
            snprintf(err, errlen, "Salesforce client: out of memory");
            return NULL;
        }
        return sc;
    }
    sc->login_url = str_dup_trim_slash(o->login_url);
    sc->client_id = strdup(o->client_id);
    sc->client_secret = dup_or_null(o->client_secret);
    sc->refresh_token = dup_or_null(o->refresh_token);
    sc->username = dup_or_null(o->username);
    sc->jwt_audience =
        str_dup_trim_slash(o->jwt_audience && *o->jwt_audience ? o->jwt_audience : o->login_url);
    if (sc->login_url) {
        size_t l = strlen(sc->login_url) + 32;
        sc->token_url = malloc(l);
        if (sc->token_url)
            snprintf(sc->token_url, l, "%s/services/oauth2/token", sc->login_url);
    }
    sc->tokens = token_cache_create(CRM_SALESFORCE, 0, 60000, sf_refresh, sc);
    ok = ok && sc->login_url && sc->client_id && sc->jwt_audience && sc->token_url && sc->tokens;
    if (!ok) {
        salesforce_client_destroy(sc);
        snprintf(err, errlen, "Salesforce client: out of memory");
        return NULL;
    }
    if (want_jwt) {
        sc->jwt_key = load_key(o->jwt_key_pem && *o->jwt_key_pem ? o->jwt_key_pem : NULL,
                               o->jwt_key_file, err, errlen);
        if (!sc->jwt_key) {
            salesforce_client_destroy(sc);
            return NULL;
        }
    } else {
        refresh_token_load(sc);
        if (!sc->refresh_token) {
            salesforce_client_destroy(sc);
            snprintf(err, errlen,
                     "Salesforce client: no refresh token (SALESFORCE_REFRESH_TOKEN is unset and "
                     "the token store holds none)");
            return NULL;
        }
    }
    return sc;
}

unsigned long salesforce_client_token_refreshes(struct salesforce_client *sc)
{
    return token_cache_refreshes(sc->tokens);
}

/* ---- describe ---- */

static void describe_unref(struct describe_ref *d)
{
    if (!d || atomic_fetch_sub(&d->refs, 1) != 1)
        return;
    sf_object_free((struct sf_object *)(uintptr_t)d->pub.object);
    json_object_put(d->pub.raw);
    free(d);
}

void salesforce_describe_release(const struct salesforce_describe *d)
{
    if (d)
        describe_unref((struct describe_ref *)(uintptr_t)d);
}

/* A describe with one reference, or NULL with err filled when doc is not an sObject describe. */
static struct describe_ref *describe_build(json_object *doc, char *err, size_t errlen)
{
    struct sf_object *obj = sf_object_from_describe(doc, err, errlen);
    if (!obj)
        return NULL;
    struct describe_ref *d = calloc(1, sizeof *d);
    if (!d) {
        sf_object_free(obj);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    atomic_init(&d->refs, 1);
    d->pub.object = obj;
    d->pub.raw = json_object_get(doc);
    return d;
}

const struct salesforce_describe *salesforce_describe_parse(json_object *doc)
{
    char err[256];
    struct describe_ref *d = describe_build(doc, err, sizeof err);
    return d ? &d->pub : NULL;
}

/* With describe_lock held. */
static struct describe_entry *describe_find(struct salesforce_client *sc, const char *sobject)
{
    for (size_t i = 0; i < sc->ndescribes; i++)
        if (strcasecmp(sc->describes[i].sobject, sobject) == 0)
            return &sc->describes[i];
    return NULL;
}

/* With describe_lock held: installs d (taking the caller's reference) for sobject. */
static int describe_put(struct salesforce_client *sc, const char *sobject, struct describe_ref *d)
{
    struct describe_entry *e = describe_find(sc, sobject);
    if (e) {
        describe_unref(e->d);
        e->d = d;
        return 0;
    }
    if (sc->ndescribes == sc->cap_describes) {
        size_t nc = sc->cap_describes ? sc->cap_describes * 2 : 8;
        struct describe_entry *g = realloc(sc->describes, nc * sizeof *g);
        if (!g)
            return -1;
        sc->describes = g;
        sc->cap_describes = nc;
    }
    char *name = strdup(sobject);
    if (!name)
        return -1;
    sc->describes[sc->ndescribes].sobject = name;
    sc->describes[sc->ndescribes].d = d;
    sc->ndescribes++;
    return 0;
}

static void http_date_now(char *out, size_t cap)
{
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(out, cap, "%a, %d %b %Y %H:%M:%S GMT", &tm);
}

int salesforce_describe(struct salesforce_client *sc, struct crm_http *h, const char *sobject,
                        const struct salesforce_describe **out, struct crm_error *err)
{
    *out = NULL;
    set_op(err, "describe");
    struct describe_ref *cached = NULL;
    pthread_mutex_lock(&sc->describe_lock);
    struct describe_entry *e = describe_find(sc, sobject);
    if (e) {
        cached = e->d;
        atomic_fetch_add(&cached->refs, 1);
        if (rate_limit_now_ms() - cached->fetched_ms < sc->describe_ttl_ms) {
            pthread_mutex_unlock(&sc->describe_lock);
            *out = &cached->pub;
            return 0;
        }
    }
    pthread_mutex_unlock(&sc->describe_lock);

    char ims[96] = "";
    if (cached && cached->validator[0])
        snprintf(ims, sizeof ims, "If-Modified-Since: %s", cached->validator);
    const char *segs[] = {"sobjects", sobject, NULL};
    char *path = path_of(segs, "/describe");
    if (!path) {
        describe_unref(cached);
        return oom(err);
    }
    struct crm_call c = {
        .operation = "describe", .method = "GET", .url = path, .extra_header = ims[0] ? ims : NULL};
    int rc = sf_call(sc, h, &c, err);
    free(path);
    if (rc < 0) {
        describe_unref(cached);
        return -1;
    }
    if (c.status == 304 && cached) {
        pthread_mutex_lock(&sc->describe_lock);
        cached->fetched_ms = rate_limit_now_ms();
        pthread_mutex_unlock(&sc->describe_lock);
        json_object_put(c.json);
        *out = &cached->pub;
        return 0;
    }
    describe_unref(cached);
    char why[256] = "no describe document";
    struct describe_ref *d = c.status == 304 ? NULL : describe_build(c.json, why, sizeof why);
    json_object_put(c.json);
    if (!d) {
        crm_error_set(err, CRM_SALESFORCE, CRM_ERR_PERMANENT, c.status, "invalid_answer",
                      "the describe answer is not an sObject describe: %s", why);
        return -1;
    }
    d->fetched_ms = rate_limit_now_ms();
    if (c.validator[0])
        copy_field(d->validator, sizeof d->validator, c.validator);
    else
        http_date_now(d->validator, sizeof d->validator);
    atomic_fetch_add(&d->refs, 1); /* one for the cache, one for the caller */
    pthread_mutex_lock(&sc->describe_lock);
    if (describe_put(sc, sobject, d) < 0)
        describe_unref(d); /* not cached: the caller's reference remains */
    pthread_mutex_unlock(&sc->describe_lock);
    *out = &d->pub;
    return 0;
}

void salesforce_describe_invalidate(struct salesforce_client *sc, const char *sobject)
{
    pthread_mutex_lock(&sc->describe_lock);
    size_t k = 0;
    for (size_t i = 0; i < sc->ndescribes; i++) {
        if (!sobject || strcasecmp(sc->describes[i].sobject, sobject) == 0) {
            free(sc->describes[i].sobject);
            describe_unref(sc->describes[i].d);
        } else {
            sc->describes[k++] = sc->describes[i];
        }
    }
    sc->ndescribes = k;
    pthread_mutex_unlock(&sc->describe_lock);
}

/* ---- single records ---- */

int salesforce_record_get(struct salesforce_client *sc, struct crm_http *h, const char *sobject,
                          const char *id, const char *const *fields, size_t nfields,
                          json_object **out, struct crm_error *err)
{
    *out = NULL;
    set_op(err, "get");
    const char *segs[] = {"sobjects", sobject, id, NULL};
    char *path = path_of(segs, NULL);
    struct strbuf sb = STRBUF_INIT;
    if (path)
        strbuf_puts(&sb, path);
    free(path);
    for (size_t i = 0; i < nfields; i++) {
        strbuf_puts(&sb, i ? "," : "?fields=");
        crm_url_escape(&sb, fields[i]);
    }
    if (!path || sb.failed) {
        strbuf_free(&sb);
        return oom(err);
    }
    struct crm_call c = {.operation = "get", .method = "GET", .url = strbuf_str(&sb)};
    int rc = sf_call(sc, h, &c, err);
    strbuf_free(&sb);
    if (rc < 0)
        return -1;
    return crm_expect_json(c.json, json_type_object, CRM_SALESFORCE, c.status, "record", out, err);
}

/* A result {"id","success","errors"}: 0 with the id, or -1 with err from its errors. */
static int save_result(json_object *res, int status, char **id_out, struct crm_error *err)
{
    json_object *success = json_member(res, "success");
    if (success && !json_object_get_boolean(success)) {
        crm_error_from_salesforce_json(err, status, json_member(res, "errors"));
        return -1;
    }
    if (id_out) {
        const char *id = json_member_text(res, "id");
        *id_out = id ? strdup(id) : NULL;
    }
    return 0;
}

int salesforce_record_create(struct salesforce_client *sc, struct crm_http *h, const char *sobject,
                             json_object *fields, char **id_out, struct crm_error *err)
{
    if (id_out)
        *id_out = NULL;
    set_op(err, "create");
    const char *segs[] = {"sobjects", sobject, NULL};
    char *path = path_of(segs, NULL);
    if (!path)
        return oom(err);
    struct crm_call c = {.operation = "create", .method = "POST", .url = path, .body = fields};
    int rc = sf_call(sc, h, &c, err);
    free(path);
    if (rc == 0)
        rc = save_result(c.json, c.status, id_out, err);
    json_object_put(c.json);
    return rc;
}

int salesforce_record_update(struct salesforce_client *sc, struct crm_http *h, const char *sobject,
                             const char *id, json_object *fields, const char *if_unmodified_since,
                             struct crm_error *err)
{
    set_op(err, "update");
    const char *segs[] = {"sobjects", sobject, id, NULL};
    char *path = path_of(segs, NULL);
    if (!path)
        return oom(err);
    char ius[128] = "";
    if (if_unmodified_since && *if_unmodified_since)
        snprintf(ius, sizeof ius, "If-Unmodified-Since: %s", if_unmodified_since);
    struct crm_call c = {.operation = "update",
                         .method = "PATCH",
                         .url = path,
                         .body = fields,
                         .extra_header = ius[0] ? ius : NULL};
    int rc = sf_call(sc, h, &c, err);
    free(path);
    json_object_put(c.json);
    if (rc < 0 && err->http_status == 412 && !err->code[0])
        snprintf(err->code, sizeof err->code, "PRECONDITION_FAILED");
    return rc;
}

int salesforce_record_delete(struct salesforce_client *sc, struct crm_http *h, const char *sobject,
                             const char *id, struct crm_error *err)
{
    set_op(err, "delete");
    const char *segs[] = {"sobjects", sobject, id, NULL};
    char *path = path_of(segs, NULL);
    if (!path)
        return oom(err);
    struct crm_call c = {.operation = "delete", .method = "DELETE", .url = path};
    int rc = sf_call(sc, h, &c, err);
    free(path);
    json_object_put(c.json);
    return rc;
}

/* A shallow copy of fields without "Id" and the external id field (case-insensitive). */
static json_object *without_keys(json_object *fields, const char *ext_field)
{
    json_object *copy = json_object_new_object();
    if (!copy || !fields || !json_object_is_type(fields, json_type_object))
        return copy;
    json_object_object_foreach(fields, key, val)
    {
        if (strcasecmp(key, "Id") == 0 || (ext_field && strcasecmp(key, ext_field) == 0))
            continue;
        json_object_object_add(copy, key, json_object_get(val));
    }
    return copy;
}

int salesforce_record_upsert(struct salesforce_client *sc, struct crm_http *h, const char *sobject,
                             const char *ext_field, const char *ext_value, json_object *fields,
                             char **id_out, bool *created, struct crm_error *err)
{
    if (id_out)
        *id_out = NULL;
    if (created)
        *created = false;
    set_op(err, "upsert");
    const char *segs[] = {"sobjects", sobject, ext_field, ext_value, NULL};
    char *path = path_of(segs, NULL);
    json_object *body = without_keys(fields, ext_field);
    if (!path || !body) {
        free(path);
        json_object_put(body);
        return oom(err);
    }
    struct crm_call c = {.operation = "upsert", .method = "PATCH", .url = path, .body = body};
    int rc = sf_call(sc, h, &c, err);
    free(path);
    json_object_put(body);
    if (rc == 0) {
        if (c.json)
            rc = save_result(c.json, c.status, id_out, err);
        if (created)
            *created = c.status == 201 || json_member_bool(c.json, "created");
    }
    json_object_put(c.json);
    return rc;
}

/* ---- collections ---- */

enum coll_kind { C_CREATE, C_UPDATE, C_UPSERT, C_DELETE };

static const char *const coll_ops[] = {
    [C_CREATE] = "collection_create",
    [C_UPDATE] = "collection_update",
    [C_UPSERT] = "collection_upsert",
    [C_DELETE] = "collection_delete",
};

static json_object *coll_record(enum coll_kind kind, const char *sobject, const char *ext_field,
                                const struct salesforce_record_input *in)
{
    json_object *rec = without_keys(in->fields, kind == C_UPSERT ? ext_field : NULL);
    json_object *attrs = json_object_new_object();
    json_object_object_add(attrs, "type", json_object_new_string(sobject));
    json_object *out = json_object_new_object();
    json_object_object_add(out, "attributes", attrs);
    if (kind == C_UPDATE)
        json_object_object_add(out, "id", json_object_new_string(in->id ? in->id : ""));
    if (kind == C_UPSERT)
        json_object_object_add(out, ext_field, json_object_new_string(in->id ? in->id : ""));
    json_object_object_foreach(rec, key, val)
    {
        json_object_object_add(out, key, json_object_get(val));
    }
    json_object_put(rec);
    return out;
}

/* One Collections operation over its inputs (sync/crm_split.c decides what is sent again). */
struct coll_ctx {
    struct salesforce_client *sc;
    struct crm_http *h;
    enum coll_kind kind;
    const char *sobject;
    const char *ext_field;
    const struct salesforce_record_input *in;
    const char *const *ids;
    bool all_or_none;
    struct crm_batch_result *out;
};

/* What names input i in an error text: its record id or external id value (creates: none). */
static const char *coll_key(const struct coll_ctx *c, size_t i)
{
    return c->kind == C_DELETE ? c->ids[i] : c->in[i].id;
}

/* The request of one call: *method, the path, and the body (NULL for deletes). */
static json_object *coll_request(const struct coll_ctx *c, const size_t *idx, size_t cnt,
                                 struct strbuf *path, const char **method)
{
    if (c->kind == C_DELETE) {
        *method = "DELETE";
        strbuf_puts(path, "composite/sobjects?ids=");
        for (size_t k = 0; k < cnt; k++) {
            if (k)
                strbuf_putc(path, ',');
            crm_url_escape(path, c->ids[idx[k]]);
        }
        strbuf_puts(path, c->all_or_none ? "&allOrNone=true" : "&allOrNone=false");
        return NULL;
    }
    strbuf_puts(path, "composite/sobjects");
    if (c->kind == C_UPSERT) {
        strbuf_putc(path, '/');
        crm_url_escape(path, c->sobject);
        strbuf_putc(path, '/');
        crm_url_escape(path, c->ext_field);
    }
    *method = c->kind == C_CREATE ? "POST" : "PATCH";
    json_object *body = json_object_new_object();
    json_object *records = json_object_new_array();
    json_object_object_add(body, "allOrNone", json_object_new_boolean(c->all_or_none));
    for (size_t k = 0; k < cnt; k++)
        json_object_array_add(records,
                              coll_record(c->kind, c->sobject, c->ext_field, &c->in[idx[k]]));
    json_object_object_add(body, "records", records);
    return body;
}

static void coll_send(void *ctx, const size_t *idx, size_t cnt, struct crm_split_call *call)
{
    struct coll_ctx *c = ctx;
    const char *op = coll_ops[c->kind];
    struct strbuf path = STRBUF_INIT;
    const char *method = "POST";
    json_object *body = coll_request(c, idx, cnt, &path, &method);
    if (path.failed) {
        call->rc = oom(&call->err);
        snprintf(call->err.operation, sizeof call->err.operation, "%s", op);
    } else {
        struct crm_call sfc = {
            .operation = op, .method = method, .url = strbuf_str(&path), .body = body};
        call->rc = sf_call(c->sc, c->h, &sfc, &call->err);
        call->status = call->rc == 0 ? sfc.status : call->err.http_status;
        call->doc = sfc.json;
        if (call->rc == 0 && !json_object_is_type(call->doc, json_type_array)) {
            crm_error_set(&call->err, CRM_SALESFORCE, CRM_ERR_PERMANENT, sfc.status,
                          "invalid_answer", "the collection answer is not an array of results");
            call->rc = -1;
        }
    }
    strbuf_free(&path);
    json_object_put(body);
}

static bool coll_settled(void *ctx, size_t i)
{
    const struct coll_ctx *c = ctx;
    return c->out->items[i].ok || c->out->items[i].error;
}

static void coll_fail(void *ctx, size_t i, const struct crm_error *e)
{
    struct coll_ctx *c = ctx;
    crm_batch_item_fail(c->out, i, e);
}

static bool coll_names(void *ctx, const struct crm_split_call *call, size_t i)
{
    return crm_text_names_id(call->err.message, coll_key(ctx, i));
}

/* Results are positional, one per record sent; a short answer leaves the rest open. */
static void coll_answer(void *ctx, const size_t *idx, size_t cnt, const struct crm_split_call *call,
                        struct crm_error *unnamed)
{
    struct coll_ctx *c = ctx;
    (void)unnamed;
    size_t nres = json_object_array_length(call->doc);
    for (size_t k = 0; k < cnt && k < nres; k++) {
        json_object *res = json_object_array_get_idx(call->doc, k);
        const char *id = json_member_text(res, "id");
        if (json_member_bool(res, "success")) {
            crm_batch_item_succeed(c->out, idx[k], id ? strdup(id) : NULL, NULL,
                                   json_member_bool(res, "created"));
            continue;
        }
        struct crm_error ie;
        crm_error_clear(&ie);
        snprintf(ie.operation, sizeof ie.operation, "%s", coll_ops[c->kind]);
        crm_error_from_salesforce_json(&ie, call->status, json_member(res, "errors"));
        ie.attempts = call->err.attempts;
        crm_batch_item_fail(c->out, idx[k], &ie);
        if (id && !c->out->items[idx[k]].id)
            c->out->items[idx[k]].id = strdup(id);
    }
}

static int run_collection(struct salesforce_client *sc, struct crm_http *h, enum coll_kind kind,
                          const char *sobject, const char *ext_field,
                          const struct salesforce_record_input *in, const char *const *ids,
                          size_t n, bool all_or_none, struct crm_batch_result *out,
                          struct crm_error *err)
{
    set_op(err, coll_ops[kind]);
    if (crm_batch_result_init(out, n) < 0)
        return oom(err);
    struct coll_ctx c = {.sc = sc,
                         .h = h,
                         .kind = kind,
                         .sobject = sobject,
                         .ext_field = ext_field,
                         .in = in,
                         .ids = ids,
                         .all_or_none = all_or_none,
                         .out = out};
    const struct crm_split_ops ops = {.crm = CRM_SALESFORCE,
                                      .operation = coll_ops[kind],
                                      .chunk_max = SALESFORCE_COLLECTION_MAX,
                                      .send = coll_send,
                                      .answer = coll_answer,
                                      .names = coll_names,
                                      .fail = coll_fail,
                                      .settled = coll_settled};
    return crm_split_run(&ops, &c, n, err);
}

int salesforce_collection_create(struct salesforce_client *sc, struct crm_http *h,
                                 const char *sobject, const struct salesforce_record_input *in,
                                 size_t n, bool all_or_none, struct crm_batch_result *out,
                                 struct crm_error *err)
{
    return run_collection(sc, h, C_CREATE, sobject, NULL, in, NULL, n, all_or_none, out, err);
}

int salesforce_collection_update(struct salesforce_client *sc, struct crm_http *h,
                                 const char *sobject, const struct salesforce_record_input *in,
                                 size_t n, bool all_or_none, struct crm_batch_result *out,
                                 struct crm_error *err)
{
    return run_collection(sc, h, C_UPDATE, sobject, NULL, in, NULL, n, all_or_none, out, err);
}

int salesforce_collection_upsert(struct salesforce_client *sc, struct crm_http *h,
                                 const char *sobject, const char *ext_field,
                                 const struct salesforce_record_input *in, size_t n,
                                 bool all_or_none, struct crm_batch_result *out,
                                 struct crm_error *err)
{
    if (!ext_field || !*ext_field) {
        set_op(err, coll_ops[C_UPSERT]);
        crm_error_set(err, CRM_SALESFORCE, CRM_ERR_PERMANENT, 0, "bad_argument",
                      "upsert needs an external id field");
        return -1;
    }
    return run_collection(sc, h, C_UPSERT, sobject, ext_field, in, NULL, n, all_or_none, out, err);
}

int salesforce_collection_delete(struct salesforce_client *sc, struct crm_http *h,
                                 const char *const *ids, size_t n, bool all_or_none,
                                 struct crm_batch_result *out, struct crm_error *err)
{
    return run_collection(sc, h, C_DELETE, NULL, NULL, NULL, ids, n, all_or_none, out, err);
}

/* ---- SOQL ---- */

void salesforce_query_page_free(struct salesforce_query_page *p)
{
    if (!p)
        return;
    free(p->next_records_url);
    json_object_put(p->records);
    memset(p, 0, sizeof *p);
}

static int query_page(struct salesforce_client *sc, struct crm_http *h, const char *op,
                      const char *path, struct salesforce_query_page *out, struct crm_error *err)
{
    struct crm_call c = {.operation = op, .method = "GET", .url = path};
    if (sf_call(sc, h, &c, err) < 0)
        return -1;
    json_object *records = json_member(c.json, "records");
    json_object *total = json_member(c.json, "totalSize");
    if (!total) {
        json_object_put(c.json);
        crm_error_set(err, CRM_SALESFORCE, CRM_ERR_PERMANENT, c.status, "invalid_answer",
                      "the query answer has no totalSize");
        return -1;
    }
    out->total_size = json_object_get_int64(total);
    json_object *done = json_member(c.json, "done");
    out->done = !done || json_object_get_boolean(done);
    const char *next = json_member_text(c.json, "nextRecordsUrl");
    out->next_records_url = next && !out->done ? strdup(next) : NULL;
    out->records = records && json_object_is_type(records, json_type_array)
                       ? json_object_get(records)
                       : json_object_new_array();
    json_object_put(c.json);
    if ((next && !out->done && !out->next_records_url) || !out->records) {
        salesforce_query_page_free(out);
        return oom(err);
    }
    return 0;
}

int salesforce_query(struct salesforce_client *sc, struct crm_http *h, const char *soql,
                     bool include_deleted, struct salesforce_query_page *out, struct crm_error *err)
{
    memset(out, 0, sizeof *out);
    const char *op = include_deleted ? "query_all" : "query";
    set_op(err, op);
    struct strbuf path = STRBUF_INIT;
    strbuf_puts(&path, include_deleted ? "queryAll?q=" : "query?q=");
    crm_url_escape(&path, soql);
    if (path.failed) {
        strbuf_free(&path);
        return oom(err);
    }
    int rc = query_page(sc, h, op, strbuf_str(&path), out, err);
    strbuf_free(&path);
    return rc;
}

int salesforce_query_more(struct salesforce_client *sc, struct crm_http *h,
                          const char *next_records_url, struct salesforce_query_page *out,
                          struct crm_error *err)
{
    memset(out, 0, sizeof *out);
    set_op(err, "query_more");
    if (!next_records_url || next_records_url[0] != '/') {
        crm_error_set(err, CRM_SALESFORCE, CRM_ERR_PERMANENT, 0, "bad_argument",
                      "nextRecordsUrl must be the path Salesforce returned");
        return -1;
    }
    return query_page(sc, h, "query_more", next_records_url, out, err);
}

int salesforce_query_count(struct salesforce_client *sc, struct crm_http *h, const char *soql,
                           long long *count, struct crm_error *err)
{
    *count = 0;
    struct salesforce_query_page p;
    if (salesforce_query(sc, h, soql, false, &p, err) < 0)
        return -1;
    *count = p.total_size;
    salesforce_query_page_free(&p);
    return 0;
}

/* ---- change windows ---- */

static char *window_path(const char *sobject, const char *which, const char *start, const char *end)
{
    struct strbuf sb = STRBUF_INIT;
    strbuf_puts(&sb, "sobjects/");
    crm_url_escape(&sb, sobject);
    strbuf_printf(&sb, "/%s/?start=", which);
    crm_url_escape(&sb, start);
    strbuf_puts(&sb, "&end=");
    crm_url_escape(&sb, end);
    if (sb.failed) {
        strbuf_free(&sb);
        return NULL;
    }
    return strbuf_detach(&sb, NULL);
}

void salesforce_updated_free(struct salesforce_updated *u)
{
    if (!u)
        return;
    for (size_t i = 0; i < u->n; i++)
        free(u->ids[i]);
    free(u->ids);
    memset(u, 0, sizeof *u);
}

void salesforce_deleted_free(struct salesforce_deleted *d)
{
    if (!d)
        return;
    for (size_t i = 0; i < d->n; i++)
        free(d->records[i].id);
    free(d->records);
    memset(d, 0, sizeof *d);
}

int salesforce_get_updated(struct salesforce_client *sc, struct crm_http *h, const char *sobject,
                           const char *start, const char *end, struct salesforce_updated *out,
                           struct crm_error *err)
{
    memset(out, 0, sizeof *out);
    set_op(err, "get_updated");
    char *path = window_path(sobject, "updated", start, end);
    if (!path)
        return oom(err);
    struct crm_call c = {.operation = "get_updated", .method = "GET", .url = path};
    int rc = sf_call(sc, h, &c, err);
    free(path);
    if (rc < 0)
        return -1;
    json_object *ids = crm_member_array(c.json, "ids", CRM_SALESFORCE, c.status,
                                        "the getUpdated answer has no ids array", err);
    if (!ids)
        return -1;
    size_t n = json_object_array_length(ids);
    out->ids = n ? calloc(n, sizeof *out->ids) : NULL;
    if (n && !out->ids) {
        json_object_put(c.json);
        return oom(err);
    }
    for (size_t i = 0; i < n; i++) {
        const char *id = json_object_get_string(json_object_array_get_idx(ids, i));
        if (id && (out->ids[out->n] = strdup(id)) != NULL)
            out->n++;
    }
    copy_field(out->latest_date_covered, sizeof out->latest_date_covered,
               json_member_text(c.json, "latestDateCovered"));
    json_object_put(c.json);
    return 0;
}

int salesforce_get_deleted(struct salesforce_client *sc, struct crm_http *h, const char *sobject,
                           const char *start, const char *end, struct salesforce_deleted *out,
                           struct crm_error *err)
{
    memset(out, 0, sizeof *out);
    set_op(err, "get_deleted");
    char *path = window_path(sobject, "deleted", start, end);
    if (!path)
        return oom(err);
    struct crm_call c = {.operation = "get_deleted", .method = "GET", .url = path};
    int rc = sf_call(sc, h, &c, err);
    free(path);
    if (rc < 0)
        return -1;
    json_object *recs = crm_member_array(c.json, "deletedRecords", CRM_SALESFORCE, c.status,
                                         "the getDeleted answer has no deletedRecords array", err);
    if (!recs)
        return -1;
    size_t n = json_object_array_length(recs);
    out->records = n ? calloc(n, sizeof *out->records) : NULL;
    if (n && !out->records) {
        json_object_put(c.json);
        return oom(err);
    }
    for (size_t i = 0; i < n; i++) {
        json_object *r = json_object_array_get_idx(recs, i);
        const char *id = json_member_text(r, "id");
        if (!id || !(out->records[out->n].id = strdup(id)))
            continue;
        copy_field(out->records[out->n].deleted_date, sizeof out->records[0].deleted_date,
                   json_member_text(r, "deletedDate"));
        out->n++;
    }
    copy_field(out->earliest_date_available, sizeof out->earliest_date_available,
               json_member_text(c.json, "earliestDateAvailable"));
    copy_field(out->latest_date_covered, sizeof out->latest_date_covered,
               json_member_text(c.json, "latestDateCovered"));
    json_object_put(c.json);
    return 0;
}

/* ---- global describe ---- */

int salesforce_describe_global(struct salesforce_client *sc, struct crm_http *h, json_object **out,
                               struct crm_error *err)
{
    *out = NULL;
    set_op(err, "describe_global");
    struct crm_call c = {.operation = "describe_global", .method = "GET", .url = "sobjects"};
    if (sf_call(sc, h, &c, err) < 0)
        return -1;
    json_object *list = crm_member_array(c.json, "sobjects", CRM_SALESFORCE, c.status,
                                         "the global describe has no sobjects array", err);
    if (!list)
        return -1;
    *out = c.json;
    return 0;
}

/* ---- identity and versions (synkro doctor) ---- */

/* Copies the path segment at p up to the next '/' or the end into out when it is a 15- or
 * 18-character record id; answers the character after it, or NULL. */
static const char *identity_segment(const char *p, char out[19])
{
    size_t n = strcspn(p, "/?#");
    if (n != 15 && n != 18)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        if (!isalnum((unsigned char)p[i]))
            return NULL;
    }
    memcpy(out, p, n);
    out[n] = '\0';
    return p + n;
}

/* The org and user ids of an identity URL (".../id/<org id>/<user id>"): false without an org id;
 * the user id is left empty when it is not one. */
static bool identity_parse(const char *url, struct salesforce_identity *out)
{
    const char *p = strstr(url, "/id/");
    if (!p)
        return false;
    p = identity_segment(p + 4, out->org_id);
    if (!p || *p != '/')
        return false;
    p = identity_segment(p + 1, out->user_id);
    if (!p || (*p != '\0' && *p != '/'))
        out->user_id[0] = '\0';
    return true;
}

int salesforce_client_identity(struct salesforce_client *sc, struct crm_http *h,
                               struct salesforce_identity *out, struct crm_error *err)
{
    memset(out, 0, sizeof *out);
    set_op(err, "identity");
    if (sc->static_token)
        return 0; /* a configured access token comes without an identity URL */
    /* any call takes a token, whose answer carries the identity URL */
    struct crm_call c = {.operation = "limits", .method = "GET", .url = "limits"};
    if (sf_call(sc, h, &c, err) < 0)
        return -1;
    json_object_put(c.json);
    pthread_mutex_lock(&sc->refresh_lock);
    bool found = identity_parse(sc->identity_url, out);
    pthread_mutex_unlock(&sc->refresh_lock);
    if (!found)
        memset(out, 0, sizeof *out);
    return found ? 1 : 0;
}

int salesforce_api_versions(struct salesforce_client *sc, struct crm_http *h, json_object **out,
                            struct crm_error *err)
{
    *out = NULL;
    set_op(err, "versions");
    struct crm_call c = {.operation = "versions", .method = "GET", .url = "/services/data"};
    if (sf_call(sc, h, &c, err) < 0)
        return -1;
    if (!json_object_is_type(c.json, json_type_array)) {
        json_object_put(c.json);
        crm_error_set(err, CRM_SALESFORCE, CRM_ERR_PERMANENT, c.status, "bad_response",
                      "/services/data did not answer a list of versions");
        return -1;
    }
    *out = c.json;
    return 0;
}

const char *salesforce_client_api_version(const struct salesforce_client *sc)
{
    return sc->api_version;
}
