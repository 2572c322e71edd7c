/* salesforce_auth.c: Salesforce OAuth: POST /services/oauth2/token (refresh_token with optional
 * rotation, JWT bearer, client_credentials), POST /services/oauth2/revoke, and the session check of
 * every /services/data call.
 *
 * Issued access tokens stay valid until invalidated through /_sim/ (Salesforce tokens have no
 * expires_in; expiry is simulated by invalidation). With salesforce_refresh_rotation on, every
 * refresh answer carries a new refresh token and the old one stops working. JWT assertions are
 * verified with the configured PEM key (salesforce_jwt.c) and their iss/sub/aud/exp checked: exp
 * must be in the future and at most 3 minutes ahead. Secrets are compared with CRYPTO_memcmp and
 * never echoed. */
#include <openssl/crypto.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "tests/crmsim/salesforce.h"

#define JWT_MAX_FUTURE_S 180
#define JWT_CLOCK_SKEW_S 5

static bool secret_eq(const char *a, const char *b)
{
    if (!a || !b)
        return false;
    size_t la = strlen(a), lb = strlen(b);
    return la == lb && CRYPTO_memcmp(a, b, la) == 0;
}

static void oauth_error(struct http_resp *resp, int status, const char *error,
                        const char *description)
{
    json_object *o = json_object_new_object();
    json_set_str(o, "error", error);
    json_set_str(o, "error_description", description);
    http_resp_json(resp, status, o);
}

/* A fixture client, or NULL when client_id is the configured default client (*is_default set). */
static struct sf_client *find_client(struct sim *sim, const char *client_id, bool *is_default)
{
    *is_default = false;
    for (size_t i = 0; i < sim->sf.n_clients; i++) {
        if (strcmp(sim->sf.clients[i].client_id, client_id) == 0)
            return &sim->sf.clients[i];
    }
    if (sim->cfg.sf_client_id[0] && strcmp(sim->cfg.sf_client_id, client_id) == 0)
        *is_default = true;
    return NULL;
}

static void new_refresh_token(char *out, size_t outlen)
{
    char hex[41];
    util_random_hex(hex, 20);
    snprintf(out, outlen, "5Aep861sim%s", hex);
}

static void issue(struct sim *sim, struct http_resp *resp, const char *username,
                  const char *client_secret, const char *refresh_token)
{
    char org18[19], user18[19];
    if (sf_id_normalize(sim->cfg.sf_org_id, org18) < 0)
        snprintf(org18, sizeof org18, "%s", sim->cfg.sf_org_id);
    if (sf_id_normalize(sim->cfg.sf_user_id, user18) < 0)
        snprintf(user18, sizeof user18, "%s", sim->cfg.sf_user_id);
    if (sim->sf.tokens.count >= SIM_MAX_TOKENS) {
        sf_error(resp, 503, "SERVER_UNAVAILABLE", "crmsim holds too many Salesforce tokens; reset");
        return;
    }
    char token[128], hex[49];
    util_random_hex(hex, 24);
    snprintf(token, sizeof token, "%.15s!AQsim%s", org18, hex);
    struct sf_token *t = xcalloc(1, sizeof *t);
    t->username = xstrdup(username);
    hmap_put(&sim->sf.tokens, token, t);
    char id_url[512], issued[32];
    snprintf(id_url, sizeof id_url, "%s/id/%s/%s", sim_base_url(sim), org18, user18);
    snprintf(issued, sizeof issued, "%lld", (long long)util_now_ms());
    struct buf msg = {0};
    buf_puts(&msg, id_url);
    buf_puts(&msg, issued);
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int maclen = 0;
    const char *key = client_secret ? client_secret : "crmsim";
    HMAC(EVP_sha256(), key, (int)strlen(key), (const unsigned char *)msg.data, msg.len, mac,
         &maclen);
    buf_free(&msg);
    char *sig = util_base64_encode(mac, maclen, false);
    json_object *o = json_object_new_object();
    json_set_str(o, "access_token", token);
    if (refresh_token)
        json_set_str(o, "refresh_token", refresh_token);
    json_set_str(o, "signature", sig);
    json_set_str(o, "scope", refresh_token ? "refresh_token api" : "api");
    json_set_str(o, "instance_url", sim_base_url(sim));
    json_set_str(o, "id", id_url);
    json_set_str(o, "token_type", "Bearer");
    json_set_str(o, "issued_at", issued);
    free(sig);
    http_resp_json(resp, 200, o);
}

static void grant_refresh(struct sim *sim, struct kvlist *form, struct http_resp *resp)
{
    const char *client_id = kvlist_get(form, "client_id");
    const char *secret = kvlist_get(form, "client_secret");
    const char *rt = kvlist_get(form, "refresh_token");
    bool is_default;
    struct sf_client *c = client_id ? find_client(sim, client_id, &is_default) : NULL;
    if (!c && !(client_id && is_default)) {
        oauth_error(resp, 400, "invalid_client_id", "client identifier invalid");
        return;
    }
    /* The client secret is optional for the refresh grant, but when sent it must be right. */
    if (secret && !secret_eq(secret, c ? c->client_secret : sim->cfg.sf_client_secret)) {
        oauth_error(resp, 400, "invalid_client", "invalid client credentials");
        return;
    }
    char **slot = NULL;
    if (rt && c) {
        for (size_t i = 0; i < c->n_refresh && !slot; i++) {
            if (secret_eq(rt, c->refresh_tokens[i]))
                slot = &c->refresh_tokens[i];
        }
    } else if (rt) {
        const char *current = sim->sf.rotated_default_refresh ? sim->sf.rotated_default_refresh
                                                              : sim->cfg.sf_refresh_token;
        if (current[0] && secret_eq(rt, current))
            slot = &sim->sf.rotated_default_refresh;
    }
    if (!slot) {
        oauth_error(resp, 400, "invalid_grant", "expired access/refresh token");
        return;
    }
    char next[96];
    snprintf(next, sizeof next, "%s", rt);
    if (sim->cfg.sf_refresh_rotation) {
        new_refresh_token(next, sizeof next);
        free(*slot);
        *slot = xstrdup(next);
    }
    sim->sf.refreshes++;
    issue(sim, resp, sim->cfg.sf_username, c ? c->client_secret : sim->cfg.sf_client_secret, next);
}

static bool audience_ok(struct sim *sim, const char *aud)
{
    json_object *list = json_split_list(sim->cfg.sf_jwt_audiences, ',');
    bool ok = false;
    for (size_t i = 0; i < json_object_array_length(list) && !ok; i++) {
        const char *a = json_object_get_string(json_object_array_get_idx(list, i));
        size_t la = strlen(a);
        /* A trailing slash is tolerated, as Salesforce does. */
        ok = strcmp(a, aud) == 0 ||
             (strncmp(a, aud, la) == 0 && aud[la] == '/' && aud[la + 1] == '\0');
    }
    json_object_put(list);
    return ok;
}

static bool user_ok(struct sim *sim, const char *sub)
{
    if (strcmp(sub, sim->cfg.sf_username) == 0)
        return true;
    for (size_t i = 0; i < sim->sf.n_users; i++) {
        if (strcmp(sim->sf.users[i], sub) == 0)
            return true;
    }
    return false;
}

static char *read_key_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    struct buf b = {0};
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0 && b.len < 65536)
        buf_append(&b, chunk, n);
    fclose(f);
    return buf_detach(&b, len);
}

static void grant_jwt(struct sim *sim, struct kvlist *form, struct http_resp *resp)
{
    const char *assertion = kvlist_get(form, "assertion");
    char err[200];
    EVP_PKEY *key = NULL;
    if (sim->cfg.sf_jwt_public_key[0]) {
        key = sf_jwt_load_key(sim->cfg.sf_jwt_public_key, strlen(sim->cfg.sf_jwt_public_key), err,
                              sizeof err);
    } else if (sim->cfg.sf_jwt_public_key_file[0]) {
        size_t len = 0;
        char *pem = read_key_file(sim->cfg.sf_jwt_public_key_file, &len);
        if (pem)
            key = sf_jwt_load_key(pem, len, err, sizeof err);
        else
            snprintf(err, sizeof err, "cannot read salesforce_jwt_public_key_file");
        free(pem);
    } else {
        snprintf(err, sizeof err, "crmsim has no salesforce_jwt_public_key configured");
    }
    if (!key) {
        char msg[300];
        snprintf(msg, sizeof msg, "invalid assertion: %s", err);
        oauth_error(resp, 400, "invalid_grant", msg);
        return;
    }
    struct sf_jwt_claims claims;
    int rc = sf_jwt_verify(assertion, key, &claims, err, sizeof err);
    EVP_PKEY_free(key);
    if (rc < 0) {
        oauth_error(resp, 400, "invalid_grant", "invalid assertion");
        return;
    }
    int64_t now = util_now_ms() / 1000;
    bool dummy;
    if (!claims.iss[0] || (!find_client(sim, claims.iss, &dummy) && !dummy)) {
        oauth_error(resp, 400, "invalid_client_id", "client identifier invalid");
    } else if (!audience_ok(sim, claims.aud)) {
        oauth_error(resp, 400, "invalid_grant", "audience is invalid");
    } else if (claims.exp == 0 || claims.exp + JWT_CLOCK_SKEW_S < now) {
        oauth_error(resp, 400, "invalid_grant", "invalid assertion: the token has expired");
    } else if (claims.exp > now + JWT_MAX_FUTURE_S + JWT_CLOCK_SKEW_S) {
        oauth_error(resp, 400, "invalid_grant",
                    "invalid assertion: exp is more than 3 minutes in the future");
    } else if (!claims.sub[0] || !user_ok(sim, claims.sub)) {
        oauth_error(resp, 400, "invalid_grant", "user hasn't approved this consumer");
    } else {
        issue(sim, resp, claims.sub, NULL, NULL);
    }
}

static void grant_client_credentials(struct sim *sim, struct kvlist *form, struct http_resp *resp)
{
    const char *client_id = kvlist_get(form, "client_id");
    const char *secret = kvlist_get(form, "client_secret");
    bool is_default;
    struct sf_client *c = client_id ? find_client(sim, client_id, &is_default) : NULL;
    if (!c && !(client_id && is_default)) {
        oauth_error(resp, 400, "invalid_client_id", "client identifier invalid");
        return;
    }
    const char *want = c ? c->client_secret : sim->cfg.sf_client_secret;
    if (!secret || !secret_eq(secret, want)) {
        oauth_error(resp, 400, "invalid_client", "invalid client credentials");
        return;
    }
    issue(sim, resp, sim->cfg.sf_username, want, NULL);
}

void sf_route_oauth_token(struct sim *sim, struct http_req *req, struct http_resp *resp)
{
    struct kvlist form = {0};
    if (util_parse_form(req->body ? req->body : "", req->body_len, &form) < 0) {
        oauth_error(resp, 400, "invalid_request", "malformed form body");
        kvlist_free(&form);
        return;
    }
    const char *grant = kvlist_get(&form, "grant_type");
    if (!grant)
        oauth_error(resp, 400, "unsupported_grant_type", "grant type not supported");
    else if (strcmp(grant, "refresh_token") == 0)
        grant_refresh(sim, &form, resp);
    else if (strcmp(grant, "urn:ietf:params:oauth:grant-type:jwt-bearer") == 0)
        grant_jwt(sim, &form, resp);
    else if (strcmp(grant, "client_credentials") == 0)
        grant_client_credentials(sim, &form, resp);
    else
        oauth_error(resp, 400, "unsupported_grant_type", "grant type not supported");
    kvlist_free(&form);
}

void sf_route_oauth_revoke(struct sim *sim, struct http_req *req, struct http_resp *resp)
{
    struct kvlist form = {0};
    util_parse_form(req->body ? req->body : "", req->body_len, &form);
    const char *token = kvlist_get(&form, "token");
    if (!token)
        token = kvlist_get(&req->query, "token");
    if (!token || sf_tokens_invalidate(sim, token) == 0)
        oauth_error(resp, 400, "unsupported_token_type", "this token type is not supported");
    else
        http_resp_empty(resp, 200);
    kvlist_free(&form);
}

int sf_auth_check(struct sim *sim, struct http_req *req, struct http_resp *resp)
{
    const char *auth = kvlist_get_ci(&req->headers, "Authorization");
    const char *token = NULL;
    if (auth && strncasecmp(auth, "Bearer ", 7) == 0)
        token = auth + 7;
    else if (auth && strncasecmp(auth, "OAuth ", 6) == 0)
        token = auth + 6;
    while (token && *token == ' ')
        token++;
    bool ok = false;
    if (token && *token) {
        if (sim->cfg.sf_static_token[0] && !sim->sf.static_revoked &&
            secret_eq(token, sim->cfg.sf_static_token))
            ok = true;
        else if (hmap_get(&sim->sf.tokens, token))
            ok = true;
    }
    if (!ok) {
        http_resp_header(resp, "WWW-Authenticate", "Token");
        sf_error(resp, 401, "INVALID_SESSION_ID", "Session expired or invalid");
        return -1;
    }
    req->caller.authenticated = true;
    return 0;
}

static void free_sf_token(const char *key, void *value, void *arg)
{
    struct sf_token *t = value;
    free(t->username);
    free(t);
}

size_t sf_tokens_invalidate(struct sim *sim, const char *token)
{
    if (!token) {
        size_t n = sim->sf.tokens.count + (sim->sf.static_revoked ? 0 : 1);
        hmap_each(&sim->sf.tokens, free_sf_token, NULL);
        hmap_clear(&sim->sf.tokens);
        sim->sf.static_revoked = true;
        return n;
    }
    if (sim->cfg.sf_static_token[0] && secret_eq(token, sim->cfg.sf_static_token) &&
        !sim->sf.static_revoked) {
        sim->sf.static_revoked = true;
        return 1;
    }
    struct sf_token *t = hmap_del(&sim->sf.tokens, token);
    if (!t)
        return 0;
    free_sf_token(token, t, NULL);
    return 1;
}

void sf_tokens_clear(struct sim *sim)
{
    hmap_each(&sim->sf.tokens, free_sf_token, NULL);
    hmap_clear(&sim->sf.tokens);
    for (size_t i = 0; i < sim->sf.n_clients; i++) {
        struct sf_client *c = &sim->sf.clients[i];
        free(c->client_id);
        free(c->client_secret);
        for (size_t j = 0; j < c->n_refresh; j++)
            free(c->refresh_tokens[j]);
        free(c->refresh_tokens);
    }
    free(sim->sf.clients);
    sim->sf.clients = NULL;
    sim->sf.n_clients = 0;
    for (size_t i = 0; i < sim->sf.n_static_tokens; i++)
        free(sim->sf.static_tokens[i]);
    free(sim->sf.static_tokens);
    sim->sf.static_tokens = NULL;
    sim->sf.n_static_tokens = 0;
    for (size_t i = 0; i < sim->sf.n_users; i++)
        free(sim->sf.users[i]);
    free(sim->sf.users);
    sim->sf.users = NULL;
    sim->sf.n_users = 0;
    free(sim->sf.rotated_default_refresh);
    sim->sf.rotated_default_refresh = NULL;
    sim->sf.static_revoked = false;
}

int sf_client_add(struct sim *sim, json_object *doc, char *err, size_t errlen)
{
    const char *id = json_get_str(doc, "client_id");
    const char *secret = json_get_str(doc, "client_secret");
    json_object *rts = json_get(doc, "refresh_tokens");
    if (!id || !secret || (rts && !json_object_is_type(rts, json_type_array))) {
        snprintf(err, errlen, "salesforce client needs client_id, client_secret, refresh_tokens[]");
        return -1;
    }
    if (sim->sf.n_clients >= 100) {
        snprintf(err, errlen, "at most 100 Salesforce clients");
        return -1;
    }
    sim->sf.clients = xrealloc(sim->sf.clients, (sim->sf.n_clients + 1) * sizeof *sim->sf.clients);
    struct sf_client *c = &sim->sf.clients[sim->sf.n_clients++];
    memset(c, 0, sizeof *c);
    c->client_id = xstrdup(id);
    c->client_secret = xstrdup(secret);
    size_t n = rts ? json_object_array_length(rts) : 0;
    c->refresh_tokens = xcalloc(n + 1, sizeof *c->refresh_tokens);
    c->cap_refresh = n + 1;
    for (size_t i = 0; i < n; i++) {
        const char *rt = json_object_get_string(json_object_array_get_idx(rts, i));
        if (rt)
            c->refresh_tokens[c->n_refresh++] = xstrdup(rt);
    }
    return 0;
}

int sf_static_token_add(struct sim *sim, const char *token, char *err, size_t errlen)
{
    if (!token || !*token) {
        snprintf(err, errlen, "static token must be a non-empty string");
        return -1;
    }
    if (sim->sf.tokens.count >= SIM_MAX_TOKENS) {
        snprintf(err, errlen, "too many tokens");
        return -1;
    }
    if (!hmap_get(&sim->sf.tokens, token)) {
        struct sf_token *t = xcalloc(1, sizeof *t);
        t->username = xstrdup(sim->cfg.sf_username);
        hmap_put(&sim->sf.tokens, token, t);
    }
    sim->sf.static_tokens =
        xrealloc(sim->sf.static_tokens, (sim->sf.n_static_tokens + 1) * sizeof(char *));
    sim->sf.static_tokens[sim->sf.n_static_tokens++] = xstrdup(token);
    return 0;
}

int sf_user_add(struct sim *sim, const char *username, char *err, size_t errlen)
{
    if (!username || !*username) {
        snprintf(err, errlen, "user needs a username");
        return -1;
    }
    if (sim->sf.n_users >= 1000) {
        snprintf(err, errlen, "at most 1000 Salesforce users");
        return -1;
    }
    sim->sf.users = xrealloc(sim->sf.users, (sim->sf.n_users + 1) * sizeof(char *));
    sim->sf.users[sim->sf.n_users++] = xstrdup(username);
    return 0;
}

static void dump_sf_token(const char *key, void *value, void *arg)
{
    struct sf_token *t = value;
    json_object *o = json_object_new_object();
    json_set_str(o, "access_token", key);
    json_set_str(o, "username", t->username);
    json_object_array_add(arg, o);
}

json_object *sf_tokens_dump(struct sim *sim)
{
    json_object *o = json_object_new_object();
    json_object *tokens = json_object_new_array();
    hmap_each(&sim->sf.tokens, dump_sf_token, tokens);
    json_object_object_add(o, "access_tokens", tokens);
    json_object *clients = json_object_new_array();
    for (size_t i = 0; i < sim->sf.n_clients; i++) {
        struct sf_client *c = &sim->sf.clients[i];
        json_object *co = json_object_new_object();
        json_set_str(co, "client_id", c->client_id);
        json_set_str(co, "client_secret", c->client_secret);
        json_object *rts = json_object_new_array();
        for (size_t j = 0; j < c->n_refresh; j++)
            json_object_array_add(rts, json_object_new_string(c->refresh_tokens[j]));
        json_object_object_add(co, "refresh_tokens", rts);
        json_object_array_add(clients, co);
    }
    json_object_object_add(o, "clients", clients);
    json_object *users = json_object_new_array();
    for (size_t i = 0; i < sim->sf.n_users; i++)
        json_object_array_add(users, json_object_new_string(sim->sf.users[i]));
    json_object_object_add(o, "users", users);
    json_set_str(o, "current_default_refresh_token",
                 sim->sf.rotated_default_refresh ? sim->sf.rotated_default_refresh
                                                 : sim->cfg.sf_refresh_token);
    json_set_bool(o, "static_token_revoked", sim->sf.static_revoked);
    return o;
}
