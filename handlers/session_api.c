/* session_api.c: sign-in, session, sign-out and one-time sign-in links (design in session_api.h).
 * Must not: log or echo a secret, or talk SQL. */
#include "handlers/session_api.h"

#include "base/addr_limiter.h"
#include "base/clock.h"
#include "base/json_util.h"
#include "base/secret.h"
#include "base/strbuf.h"
#include "base/users.h"
#include "handlers/api_common.h"
#include "handlers/session_auth.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define SIGNIN_BODY_MAX   8192
#define SIGNIN_CODE_TTL_S 600
#define SIGNIN_TOKEN_MAX  4096

/* ---- cookies ---- */

static bool cookie_secure(const struct http_request *req)
{
    if (req->plane == HTTP_PLANE_ADMIN) {
        const char *proto = http_header(req, "X-Forwarded-Proto");
        return proto && strcasecmp(proto, "https") == 0;
    }
    return strncmp(req->app->cfg->public_base_url, "https://", 8) == 0;
}

/* "synkro_session=<id>; Path=/; HttpOnly; SameSite=Strict[; Max-Age=0][; Secure]" ("" clears). */
static void cookie_header(const struct http_request *req, const char *id, char *out, size_t outlen)
{
    snprintf(out, outlen, "%s=%s; Path=/; HttpOnly; SameSite=Strict%s%s", SESSION_COOKIE_NAME, id,
             *id ? "" : "; Max-Age=0", cookie_secure(req) ? "; Secure" : "");
}

/* ---- answers ---- */

static int respond_session(struct http_request *req, unsigned status, const char *id,
                           const struct session_row *row, bool set_cookie)
{
    char csrf[SESSION_DIGEST_HEX + 1];
    session_csrf_token(id, csrf);
    json_object *o = json_object_new_object();
    json_object_object_add(o, "user", json_object_new_string(row->user));
    json_object_object_add(o, "csrf_token", json_object_new_string(csrf));
    json_object_object_add(o, "expires_at", json_object_new_string(row->expires_at));
    json_object_object_add(o, "idle_timeout_s", json_object_new_int(req->app->cfg->session_idle_s));
    const char *text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
    char cookie[160];
    cookie_header(req, id, cookie, sizeof cookie);
    const char *headers[] = {"Set-Cookie", cookie, NULL};
    int rc = http_respond_with_headers(req, status, "application/json", text, strlen(text),
                                       set_cookie ? headers : NULL);
    json_object_put(o);
    return rc;
}

static int respond_unauthorized(struct http_request *req, const char *message)
{
    return http_respond_error(req, 401, "unauthorized", message);
}

/* 429 rate_limited when the client address has used its sign-in budget; 0 when it may go on. */
static int signin_rate_check(struct http_request *req, int *rc)
{
    char addr[64];
    http_client_address(req, addr, sizeof addr);
    int retry_after = 0;
    if (addr_limiter_take(req->app->signin_limiter, addr, clock_mono_ms(), &retry_after))
        return 0;
    char value[16], *body;
    snprintf(value, sizeof value, "%d", retry_after);
    body = http_error_body("rate_limited",
                           "too many sign-in attempts from this address; wait for Retry-After "
                           "seconds and check the token");
    const char *headers[] = {"Retry-After", value, NULL};
    http_set_error_code(req, "rate_limited");
    *rc = http_respond_with_headers(req, 429, "application/json", body ? body : "",
                                    body ? strlen(body) : 0, headers);
    free(body);
    return -1;
}

/* ---- sessions ---- */

/* Makes a session of user (signed in with the token of fingerprint fp) into id and row. 0, or -1
 * after answering 503. */
static int session_open(struct http_request *req, const char *user, const char *fp, char *id,
                        struct session_row *row, int *rc)
{
    char err[256] = "the random generator failed";
    char digest[SESSION_DIGEST_HEX + 1];
    if (session_token_new(id, SESSION_ID_HEX) == 0) {
        session_token_digest(id, digest);
        if (session_store_create(req->app->pool, digest, user, fp, req->app->cfg->session_ttl_s,
                                 row, err, sizeof err) == 0)
            return 0;
    }
    *rc = api_respond_db_unavailable(req, err);
    return -1;
}

/* The user of a one-time code: 1 with user and fp filled, 0 unusable, -1 after answering 503. */
static int take_code(struct http_request *req, const char *code, char *user, char *fp, int *rc)
{
    if (!session_token_well_formed(code, SESSION_CODE_HEX))
        return 0;
    char digest[SESSION_DIGEST_HEX + 1], err[256];
    session_token_digest(code, digest);
    struct session_row row;
    int got = session_store_code_take(req->app->pool, digest, &row, err, sizeof err);
    if (got < 0) {
        *rc = api_respond_db_unavailable(req, err);
        return -1;
    }
    char current[USER_FP_HEX + 1];
    if (got == 0 || !user_set_fingerprint(req->app->users, row.user, current) ||
        strcmp(current, row.token_fp) != 0)
        return 0; /* used, expired, or made with a token that has since changed */
    snprintf(user, USER_NAME_MAX + 1, "%s", row.user);
    memcpy(fp, current, sizeof current);
    return 1;
}

/* Reads {"token":...} or {"code":...}; -1 after answering 400/413. */
static int signin_body(struct http_request *req, json_object **doc, const char **token,
                       const char **code, int *rc)
{
    *doc = NULL;
    if (req->body_len > SIGNIN_BODY_MAX) {
        *rc = http_respond_error(req, 413, "payload_too_large",
                                 "a sign-in body is a small JSON object {\"token\":\"...\"}");
        return -1;
    }
    if (req->body_len == 0 || strlen(req->body) != req->body_len ||
        !(*doc = json_tokener_parse(req->body)) || json_object_get_type(*doc) != json_type_object) {
        json_object_put(*doc);
        *doc = NULL;
        *rc = http_respond_error(req, 400, "bad_request",
                                 "send a JSON object {\"token\":\"<admin or user token>\"}");
        return -1;
    }
    *token = json_member_string(*doc, "token");
    *code = json_member_string(*doc, "code");
    if ((*token == NULL) == (*code == NULL) || (*token && strlen(*token) > SIGNIN_TOKEN_MAX)) {
        json_object_put(*doc);
        *doc = NULL;
        *rc = http_respond_error(req, 400, "bad_request",
                                 "send either \"token\" (a string of at most 4096 characters) or "
                                 "\"code\" (from `synkro console-link`)");
        return -1;
    }
    return 0;
}

int handle_session_create(struct http_request *req)
{
    int rc = 0;
    if (signin_rate_check(req, &rc) < 0)
        return rc;
    json_object *doc;
    const char *token = NULL, *code = NULL;
    if (signin_body(req, &doc, &token, &code, &rc) < 0)
        return rc;
    char user[USER_NAME_MAX + 1] = "", fp[USER_FP_HEX + 1] = "";
    int ok;
    if (token) {
        const char *name = user_set_find(req->app->users, token);
        ok = name && user_set_fingerprint(req->app->users, name, fp);
        if (ok)
            snprintf(user, sizeof user, "%s", name);
    } else {
        ok = take_code(req, code, user, fp, &rc);
    }
    json_object_put(doc); /* the token's only copy besides the request body */
    if (ok < 0)
        return rc;
    if (!ok)
        return respond_unauthorized(
            req, token ? "that token is not the admin token nor a user's; check it and try again"
                       : "that sign-in code is unknown, used or expired; run `synkro "
                         "console-link` for a new one");
    char id[SESSION_ID_HEX + 1];
    struct session_row row;
    if (session_open(req, user, fp, id, &row, &rc) < 0)
        return rc;
    rc = respond_session(req, 200, id, &row, true);
    memset(id, 0, sizeof id);
    return rc;
}

/* The request's live session into v; 0, or -1 after answering 503 or 401 (unauthorized with
 * message). */
static int require_session(struct http_request *req, struct session_view *v, const char *message,
                           int *rc)
{
    char err[256];
    enum auth_session s = session_from_request(req, v, err, sizeof err);
    if (s == AUTH_SESSION_VALID)
        return 0;
    *rc = s == AUTH_SESSION_ERROR ? api_respond_db_unavailable(req, err)
                                  : respond_unauthorized(req, message);
    return -1;
}

int handle_session_get(struct http_request *req)
{
    struct session_view v;
    int rc = 0;
    if (require_session(req, &v, "no live session; sign in with POST /api/session", &rc) < 0)
        return rc;
    rc = respond_session(req, 200, v.id, &v.row, false);
    memset(&v, 0, sizeof v);
    return rc;
}

int handle_session_delete(struct http_request *req)
{
    struct session_view v;
    char err[256];
    int rc = 0;
    if (require_session(req, &v, "no live session to sign out of", &rc) < 0)
        return rc;
    if (!session_csrf_ok(req, v.id)) {
        memset(&v, 0, sizeof v);
        return http_respond_error(req, 403, "csrf",
                                  "signing out needs the X-CSRF-Token header given by "
                                  "GET /api/session");
    }
    char digest[SESSION_DIGEST_HEX + 1];
    session_token_digest(v.id, digest);
    memset(&v, 0, sizeof v);
    if (session_store_revoke(req->app->pool, digest, err, sizeof err) < 0)
        return api_respond_db_unavailable(req, err);
    char cookie[160];
    cookie_header(req, "", cookie, sizeof cookie);
    const char *headers[] = {"Set-Cookie", cookie, NULL};
    return http_respond_with_headers(req, 204, NULL, "", 0, headers);
}

/* ---- one-time sign-in links ---- */

/* The console's address as this request reached it: the Host header on the admin listener (any
 * address it may be reached at), else SYNKRO_PUBLIC_BASE_URL. */
static void console_base(const struct http_request *req, char *out, size_t outlen)
{
    const char *host = http_header(req, "Host");
    bool ok = req->plane == HTTP_PLANE_ADMIN && host && *host && strlen(host) < 256;
    for (const char *p = host; ok && *p; p++)
        ok = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
             *p == '.' || *p == '-' || *p == ':' || *p == '[' || *p == ']';
    if (ok)
        snprintf(out, outlen, "%s://%s", cookie_secure(req) ? "https" : "http", host);
    else
        snprintf(out, outlen, "%s", req->app->cfg->public_base_url);
}

int handle_signin_code_create(struct http_request *req)
{
    char fp[USER_FP_HEX + 1], code[SESSION_CODE_HEX + 1], digest[SESSION_DIGEST_HEX + 1];
    char err[256] = "the random generator failed", expires[32];
    if (!user_set_fingerprint(req->app->users, req->actor, fp))
        return respond_unauthorized(req, "the caller is no longer a user; sign in again");
    if (session_token_new(code, SESSION_CODE_HEX) < 0)
        return api_respond_db_unavailable(req, err);
    session_token_digest(code, digest);
    if (session_store_code_create(req->app->pool, digest, req->actor, fp, SIGNIN_CODE_TTL_S,
                                  expires, err, sizeof err) < 0)
        return api_respond_db_unavailable(req, err);
    char base[300];
    console_base(req, base, sizeof base);
    struct strbuf url = STRBUF_INIT;
    strbuf_printf(&url, "%s/signin?code=%s", base, code);
    json_object *o = json_object_new_object();
    json_object_object_add(o, "user", json_object_new_string(req->actor));
    json_object_object_add(o, "code", json_object_new_string(code));
    json_object_object_add(o, "url", json_object_new_string(strbuf_str(&url)));
    json_object_object_add(o, "expires_at", json_object_new_string(expires));
    strbuf_free(&url);
    memset(code, 0, sizeof code);
    return api_respond_json_owned(req, 201, o);
}

int handle_signin_link(struct http_request *req)
{
    int rc = 0;
    if (strcmp(req->method, "HEAD") == 0) /* a link checker must not use up the code */
        return http_respond(req, 200, "text/plain; charset=utf-8", "", 0);
    if (signin_rate_check(req, &rc) < 0)
        return rc;
    const char *code = http_query_arg(req, "code");
    char user[USER_NAME_MAX + 1], fp[USER_FP_HEX + 1];
    int ok = code ? take_code(req, code, user, fp, &rc) : 0;
    if (ok < 0)
        return rc;
    if (!ok) {
        static const char msg[] = "This sign-in link is unknown, used or expired. Run `synkro "
                                  "console-link` for a new one, or sign in with the admin token.\n";
        http_set_error_code(req, "unauthorized");
        return http_respond(req, 401, "text/plain; charset=utf-8", msg, sizeof msg - 1);
    }
    char id[SESSION_ID_HEX + 1];
    struct session_row row;
    if (session_open(req, user, fp, id, &row, &rc) < 0)
        return rc;
    char cookie[160];
    cookie_header(req, id, cookie, sizeof cookie);
    memset(id, 0, sizeof id);
    const char *headers[] = {"Set-Cookie", cookie, "Location", "/", NULL};
    rc = http_respond_with_headers(req, 302, "text/plain; charset=utf-8", "", 0, headers);
    memset(cookie, 0, sizeof cookie);
    return rc;
}
