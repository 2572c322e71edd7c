/* hubspot_auth.c: HubSpot authentication: the OAuth token endpoint (refresh_token grant), token
 * info (OAuth and private-app tokens), account details, and the bearer check every HubSpot API
 * route goes through.
 *
 * Valid bearer tokens are the configured static token, fixture static tokens, and access tokens
 * issued by POST /oauth/v1/token (they expire after hubspot_token_expires_in seconds; expired ones
 * stay known so the 401 says EXPIRED_AUTHENTICATION). Clients are the configured default client
 * plus fixture clients. Secrets are compared with CRYPTO_memcmp and never echoed. */
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/crmsim/hubspot.h"

struct client_view {
    const char *client_id;
    const char *client_secret;
    int64_t app_id;
    char *const *refresh;
    size_t n_refresh;
    const char *default_refresh;
};

static bool secret_eq(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    return la == lb && CRYPTO_memcmp(a, b, la) == 0;
}

static bool find_client(struct sim *sim, const char *client_id, struct client_view *out)
{
    memset(out, 0, sizeof *out);
    for (size_t i = 0; i < sim->hs.n_clients; i++) {
        struct hs_client *c = &sim->hs.clients[i];
        if (strcmp(c->client_id, client_id) == 0) {
            out->client_id = c->client_id;
            out->client_secret = c->client_secret;
            out->app_id = c->app_id;
            out->refresh = c->refresh_tokens;
            out->n_refresh = c->n_refresh;
            return true;
        }
    }
    if (sim->cfg.hs_client_id[0] && strcmp(sim->cfg.hs_client_id, client_id) == 0) {
        out->client_id = sim->cfg.hs_client_id;
        out->client_secret = sim->cfg.hs_client_secret;
        out->app_id = sim->cfg.hs_app_id;
        out->default_refresh = sim->cfg.hs_refresh_token;
        return true;
    }
    return false;
}

static void oauth_error(struct http_resp *resp, const char *status, const char *error,
                        const char *description)
{
    char cid[40];
    hs_correlation_id(cid);
    json_object *o = json_object_new_object();
    json_set_str(o, "status", status);
    json_set_str(o, "message", description);
    json_set_str(o, "correlationId", cid);
    json_set_str(o, "error", error);
    json_set_str(o, "error_description", description);
    http_resp_json(resp, 400, o);
}

static void purge_expired(struct sim *sim, int64_t now)
{
    struct purge {
        char **keys;
        size_t n, cap;
    } p = {0};
    for (size_t b = 0; b < sim->hs.tokens.nbuckets; b++) {
        for (struct hmap_entry *e = sim->hs.tokens.buckets[b]; e; e = e->next) {
            struct hs_token *t = e->value;
            /* Keep recently expired tokens for an hour so their 401 can say "expired". */
            if (!t->is_static && t->expires_ms && t->expires_ms + 3600 * 1000 < now) {
                xgrow(&p.keys, &p.cap, p.n + 1, sizeof *p.keys);
                p.keys[p.n++] = xstrdup(e->key);
            }
        }
    }
    for (size_t i = 0; i < p.n; i++) {
        struct hs_token *t = hmap_del(&sim->hs.tokens, p.keys[i]);
        if (t) {
            free(t->principal);
            free(t);
        }
        free(p.keys[i]);
    }
    free(p.keys);
}

void hs_route_oauth_token(struct sim *sim, struct http_req *req, struct http_resp *resp)
{
    struct kvlist form = {0};
    if (util_parse_form(req->body ? req->body : "", req->body_len, &form) < 0) {
        oauth_error(resp, "BAD_REQUEST", "invalid_request", "malformed form body");
        kvlist_free(&form);
        return;
    }
    const char *grant = kvlist_get(&form, "grant_type");
    const char *client_id = kvlist_get(&form, "client_id");
    const char *secret = kvlist_get(&form, "client_secret");
    const char *refresh = kvlist_get(&form, "refresh_token");
    struct client_view c;
    if (!grant || strcmp(grant, "refresh_token") != 0) {
        oauth_error(resp, "BAD_GRANT_TYPE", "unsupported_grant_type",
                    "grant_type must be refresh_token");
    } else if (!client_id || !find_client(sim, client_id, &c)) {
        oauth_error(resp, "BAD_CLIENT_ID", "invalid_client", "missing or unknown client id");
    } else if (!secret || !secret_eq(secret, c.client_secret)) {
        oauth_error(resp, "BAD_CLIENT_SECRET", "invalid_client",
                    "missing or invalid client secret");
    } else {
        bool ok = false;
        if (refresh) {
            if (c.default_refresh && c.default_refresh[0] && secret_eq(refresh, c.default_refresh))
                ok = true;
            for (size_t i = 0; i < c.n_refresh && !ok; i++)
                ok = secret_eq(refresh, c.refresh[i]);
        }
        if (!ok) {
            oauth_error(resp, "BAD_REFRESH_TOKEN", "invalid_grant",
                        "missing or invalid refresh token");
        } else {
            int64_t now = util_now_ms();
            purge_expired(sim, now);
            if (sim->hs.tokens.count >= SIM_MAX_TOKENS) {
                hs_errorf(resp, 503, "SERVICE_UNAVAILABLE",
                          "crmsim holds %d HubSpot tokens; POST /_sim/reset", SIM_MAX_TOKENS);
                kvlist_free(&form);
                return;
            }
            char token[80] = "sim-hs-at-";
            util_random_hex(token + strlen(token), 24);
            struct hs_token *t = xcalloc(1, sizeof *t);
            char principal[300];
            snprintf(principal, sizeof principal, "oauth:%s", c.client_id);
            t->principal = xstrdup(principal);
            t->app_id = c.app_id;
            t->expires_ms = now + sim->cfg.hs_token_expires_in * 1000;
            hmap_put(&sim->hs.tokens, token, t);
            sim->hs.refreshes++;
            json_object *o = json_object_new_object();
            json_set_str(o, "token_type", "bearer");
            json_set_str(o, "refresh_token", refresh);
            json_set_str(o, "access_token", token);
            json_set_int(o, "expires_in", sim->cfg.hs_token_expires_in);
            http_resp_json(resp, 200, o);
        }
    }
    kvlist_free(&form);
}

/* The configured scopes (hubspot_scopes, space-separated) as a JSON array. */
static json_object *scopes_array(struct sim *sim)
{
    json_object *scopes = json_object_new_array();
    char *copy = xstrdup(sim->cfg.hs_scopes);
    for (char *save = NULL, *s = strtok_r(copy, " ", &save); s; s = strtok_r(NULL, " ", &save))
        json_object_array_add(scopes, json_object_new_string(s));
    free(copy);
    return scopes;
}

/* POST /oauth/v2/private-apps/get/access-token-info {"tokenKey":...}: a private app's token
 * (the configured static token or a fixture one) -> {"userId","hubId","appId","scopes"}; any
 * other key 404 like the OAuth token-information endpoint. No bearer token is needed. */
void hs_route_private_app_token_info(struct sim *sim, struct http_req *req, struct http_resp *resp)
{
    json_object *body = NULL;
    if (hs_body_json(req, resp, &body) < 0)
        return;
    const char *key = json_get_str(body, "tokenKey");
    bool known = false;
    int64_t app_id = sim->cfg.hs_app_id;
    if (key && sim->cfg.hs_static_token[0] && secret_eq(key, sim->cfg.hs_static_token)) {
        known = true;
    } else if (key) {
        struct hs_token *t = hmap_get(&sim->hs.tokens, key);
        known = t && t->is_static;
        if (known)
            app_id = t->app_id;
    }
    json_object_put(body);
    if (!known) {
        hs_errorf(resp, 404, "OBJECT_NOT_FOUND", "Token not found");
        return;
    }
    json_object *o = json_object_new_object();
    json_set_int(o, "userId", sim->cfg.hs_ui_user_id);
    json_set_int(o, "hubId", sim->cfg.hs_portal_id);
    json_set_int(o, "appId", app_id);
    json_object_object_add(o, "scopes", scopes_array(sim));
    http_resp_json(resp, 200, o);
}

/* GET /account-info/v3/details: the account of the bearer token. */
void hs_route_account_details(struct sim *sim, struct http_req *req, struct http_resp *resp)
{
    (void)req;
    json_object *o = json_object_new_object();
    json_set_int(o, "portalId", sim->cfg.hs_portal_id);
    json_set_str(o, "accountType", "STANDARD");
    json_set_str(o, "timeZone", "US/Eastern");
    json_set_str(o, "companyCurrency", "USD");
    json_object_object_add(o, "additionalCurrencies", json_object_new_array());
    json_set_str(o, "utcOffset", "-05:00");
    json_set_int(o, "utcOffsetMilliseconds", -18000000);
    json_set_str(o, "uiDomain", "app.hubspot.com");
    json_set_str(o, "dataHostingLocation", "na1");
    http_resp_json(resp, 200, o);
}

void hs_route_oauth_token_info(struct sim *sim, struct http_req *req, struct http_resp *resp)
{
    const char *token = http_param(req, 0);
    struct hs_token *t = hmap_get(&sim->hs.tokens, token);
    int64_t now = util_now_ms();
    if (!t || (t->expires_ms && t->expires_ms <= now)) {
        hs_errorf(resp, 404, "OBJECT_NOT_FOUND", "Token not found or expired");
        return;
    }
    json_object *o = json_object_new_object();
    json_set_str(o, "token", token);
    json_set_str(o, "user", "sim-user@example.com");
    json_set_str(o, "hub_domain", "crmsim.hubspot.local");
    json_object_object_add(o, "scopes", scopes_array(sim));
    json_set_int(o, "hub_id", sim->cfg.hs_portal_id);
    json_set_int(o, "app_id", t->app_id);
    json_set_int(o, "expires_in", t->expires_ms ? (t->expires_ms - now) / 1000 : 0);
    json_set_int(o, "user_id", sim->cfg.hs_ui_user_id);
    json_set_str(o, "token_type", "access");
    http_resp_json(resp, 200, o);
}

int hs_auth_check(struct sim *sim, struct http_req *req, struct http_resp *resp)
{
    const char *auth = kvlist_get_ci(&req->headers, "Authorization");
    const char *token = NULL;
    if (auth && strncasecmp(auth, "Bearer ", 7) == 0) {
        token = auth + 7;
        while (*token == ' ')
            token++;
    }
    if (!token || !*token) {
        hs_errorf(
            resp, 401, "INVALID_AUTHENTICATION",
            "Authentication credentials not found. This API supports OAuth 2.0 authentication "
            "and you can find more details at "
            "https://developers.hubspot.com/docs/methods/auth/oauth-overview");
        return -1;
    }
    if (sim->cfg.hs_static_token[0] && secret_eq(token, sim->cfg.hs_static_token)) {
        req->caller.authenticated = true;
        snprintf(req->caller.principal, sizeof req->caller.principal, "static:default");
        req->caller.app_id = sim->cfg.hs_app_id;
        return 0;
    }
    struct hs_token *t = hmap_get(&sim->hs.tokens, token);
    int64_t now = util_now_ms();
    if (!t) {
        hs_errorf(
            resp, 401, "INVALID_AUTHENTICATION",
            "Authentication credentials not found. This API supports OAuth 2.0 authentication "
            "and you can find more details at "
            "https://developers.hubspot.com/docs/methods/auth/oauth-overview");
        return -1;
    }
    if (t->expires_ms && t->expires_ms <= now) {
        hs_errorf(resp, 401, "EXPIRED_AUTHENTICATION",
                  "The OAuth token used to make this call expired %lld second(s) ago.",
                  (long long)((now - t->expires_ms) / 1000));
        return -1;
    }
    req->caller.authenticated = true;
    snprintf(req->caller.principal, sizeof req->caller.principal, "%s", t->principal);
    req->caller.app_id = t->app_id;
    return 0;
}

int hs_client_add(struct sim *sim, json_object *doc, char *err, size_t errlen)
{
    const char *id = json_get_str(doc, "client_id");
    const char *secret = json_get_str(doc, "client_secret");
    json_object *rts = json_get(doc, "refresh_tokens");
    if (!id || !secret || (rts && !json_object_is_type(rts, json_type_array))) {
        snprintf(err, errlen, "oauth client needs client_id, client_secret and refresh_tokens[]");
        return -1;
    }
    if (sim->hs.n_clients >= 100) {
        snprintf(err, errlen, "at most 100 HubSpot OAuth clients");
        return -1;
    }
    sim->hs.clients = xrealloc(sim->hs.clients, (sim->hs.n_clients + 1) * sizeof *sim->hs.clients);
    struct hs_client *c = &sim->hs.clients[sim->hs.n_clients++];
    memset(c, 0, sizeof *c);
    c->client_id = xstrdup(id);
    c->client_secret = xstrdup(secret);
    json_object *app = json_get(doc, "app_id");
    c->app_id = app ? json_object_get_int64(app) : sim->cfg.hs_app_id;
    size_t n = rts ? json_object_array_length(rts) : 0;
    c->refresh_tokens = xcalloc(n + 1, sizeof *c->refresh_tokens);
    for (size_t i = 0; i < n; i++) {
        const char *rt = json_object_get_string(json_object_array_get_idx(rts, i));
        if (rt)
            c->refresh_tokens[c->n_refresh++] = xstrdup(rt);
    }
    return 0;
}

int hs_static_token_add(struct sim *sim, json_object *doc, char *err, size_t errlen)
{
    const char *token = json_object_is_type(doc, json_type_string) ? json_object_get_string(doc)
                                                                   : json_get_str(doc, "token");
    if (!token || !*token) {
        snprintf(err, errlen, "static token needs a \"token\" string");
        return -1;
    }
    if (sim->hs.tokens.count >= SIM_MAX_TOKENS) {
        snprintf(err, errlen, "too many tokens");
        return -1;
    }
    struct hs_token *t = xcalloc(1, sizeof *t);
    char principal[300];
    snprintf(principal, sizeof principal, "static:%.200s", token);
    t->principal = xstrdup(principal);
    json_object *app = json_get(doc, "app_id");
    t->app_id = app ? json_object_get_int64(app) : sim->cfg.hs_app_id;
    t->is_static = true;
    struct hs_token *old = hmap_put(&sim->hs.tokens, token, t);
    if (old) {
        free(old->principal);
        free(old);
    }
    return 0;
}

struct expire_ctx {
    int64_t now;
    size_t n;
};

static void expire_one(const char *key, void *value, void *arg)
{
    struct hs_token *t = value;
    struct expire_ctx *c = arg;
    if (!t->is_static && (t->expires_ms == 0 || t->expires_ms > c->now)) {
        t->expires_ms = c->now - 1;
        c->n++;
    }
}

size_t hs_tokens_expire(struct sim *sim, const char *token)
{
    struct expire_ctx c = {util_now_ms(), 0};
    if (token) {
        struct hs_token *t = hmap_get(&sim->hs.tokens, token);
        if (t)
            expire_one(token, t, &c);
    } else {
        hmap_each(&sim->hs.tokens, expire_one, &c);
    }
    return c.n;
}

static void free_token(const char *key, void *value, void *arg)
{
    struct hs_token *t = value;
    free(t->principal);
    free(t);
}

void hs_tokens_clear(struct sim *sim)
{
    hmap_each(&sim->hs.tokens, free_token, NULL);
    hmap_clear(&sim->hs.tokens);
    for (size_t i = 0; i < sim->hs.n_clients; i++) {
        struct hs_client *c = &sim->hs.clients[i];
        free(c->client_id);
        free(c->client_secret);
        for (size_t j = 0; j < c->n_refresh; j++)
            free(c->refresh_tokens[j]);
        free(c->refresh_tokens);
    }
    free(sim->hs.clients);
    sim->hs.clients = NULL;
    sim->hs.n_clients = 0;
}

struct dump_ctx {
    json_object *statics;
    json_object *issued;
    int64_t now;
};

static void dump_token(const char *key, void *value, void *arg)
{
    struct hs_token *t = value;
    struct dump_ctx *c = arg;
    json_object *o = json_object_new_object();
    json_set_str(o, "token", key);
    json_set_int(o, "app_id", t->app_id);
    if (t->is_static) {
        json_object_array_add(c->statics, o);
    } else {
        json_set_int(o, "expires_in_ms", t->expires_ms - c->now);
        json_object_array_add(c->issued, o);
    }
}

json_object *hs_tokens_dump(struct sim *sim)
{
    struct dump_ctx c = {json_object_new_array(), json_object_new_array(), util_now_ms()};
    hmap_each(&sim->hs.tokens, dump_token, &c);
    json_object *o = json_object_new_object();
    json_object_object_add(o, "static_tokens", c.statics);
    json_object_object_add(o, "issued_tokens", c.issued);
    json_object *clients = json_object_new_array();
    for (size_t i = 0; i < sim->hs.n_clients; i++) {
        struct hs_client *cl = &sim->hs.clients[i];
        json_object *co = json_object_new_object();
        json_set_str(co, "client_id", cl->client_id);
        json_set_str(co, "client_secret", cl->client_secret);
        json_set_int(co, "app_id", cl->app_id);
        json_object *rts = json_object_new_array();
        for (size_t j = 0; j < cl->n_refresh; j++)
            json_object_array_add(rts, json_object_new_string(cl->refresh_tokens[j]));
        json_object_object_add(co, "refresh_tokens", rts);
        json_object_array_add(clients, co);
    }
    json_object_object_add(o, "oauth_clients", clients);
    return o;
}
