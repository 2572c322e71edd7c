/* session_auth.c: the admin API's authorisation by bearer token or session cookie + CSRF
 * (design in session_auth.h). Must not log a secret. */
#include "handlers/session_auth.h"

#include "base/secret.h"
#include "base/users.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

enum auth_outcome auth_decide(const struct auth_facts *f)
{
    if (f->bearer_present)
        return f->bearer_valid ? AUTH_ALLOW_BEARER : AUTH_UNAUTHORIZED;
    switch (f->session) {
    case AUTH_SESSION_VALID:
        return f->safe_method || f->csrf_valid ? AUTH_ALLOW_SESSION : AUTH_CSRF;
    case AUTH_SESSION_ERROR:
        return AUTH_UNAVAILABLE;
    case AUTH_SESSION_INVALID:
    case AUTH_SESSION_NONE:
        break;
    }
    return AUTH_UNAUTHORIZED;
}

/* A live session whose token is no longer its user's: revoke it and the user's other sessions of
 * old tokens (all of them when the user is gone). */
static void revoke_rotated(const struct http_request *req, const struct session_row *row,
                           const char *current_fp)
{
    char err[256];
    session_store_revoke_user(req->app->pool, row->user, current_fp, err, sizeof err);
}

enum auth_session session_from_request(const struct http_request *req, struct session_view *v,
                                       char *err, size_t errlen)
{
    memset(v, 0, sizeof *v);
    if (!req->app->cfg->console)
        return AUTH_SESSION_NONE;
    int found = session_cookie_find(http_header(req, "Cookie"), v->id);
    if (found <= 0)
        return found == 0 ? AUTH_SESSION_NONE : AUTH_SESSION_INVALID;
    char digest[SESSION_DIGEST_HEX + 1];
    session_token_digest(v->id, digest);
    int rc = session_store_touch(req->app->pool, digest, req->app->cfg->session_idle_s, &v->row,
                                 err, errlen);
    if (rc < 0)
        return AUTH_SESSION_ERROR;
    if (rc == 0)
        return AUTH_SESSION_INVALID;
    char fp[USER_FP_HEX + 1];
    bool known = user_set_fingerprint(req->app->users, v->row.user, fp);
    if (!known || strcmp(fp, v->row.token_fp) != 0) {
        revoke_rotated(req, &v->row, known ? fp : NULL);
        return AUTH_SESSION_INVALID;
    }
    return AUTH_SESSION_VALID;
}

bool session_csrf_ok(const struct http_request *req, const char *session_id)
{
    char expected[SESSION_DIGEST_HEX + 1];
    session_csrf_token(session_id, expected);
    return secret_equal(http_header(req, "X-CSRF-Token"), expected);
}

static bool safe_method(const char *method)
{
    return strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
}

enum auth_outcome http_authorize(struct http_request *req, char *err, size_t errlen)
{
    struct auth_facts f = {.safe_method = safe_method(req->method)};
    const char *auth = http_header(req, "Authorization");
    const char *bearer_user = NULL;
    struct session_view v;
    memset(&v, 0, sizeof v);
    if (auth && strncasecmp(auth, "Bearer ", 7) == 0) {
        f.bearer_present = true;
        bearer_user = user_set_find(req->app->users, auth + 7);
        f.bearer_valid = bearer_user != NULL;
    } else {
        f.session = session_from_request(req, &v, err, errlen);
        f.csrf_valid = f.session == AUTH_SESSION_VALID && session_csrf_ok(req, v.id);
    }
    enum auth_outcome o = auth_decide(&f);
    if (o == AUTH_ALLOW_BEARER || o == AUTH_ALLOW_SESSION) {
        req->auth_via = o == AUTH_ALLOW_BEARER ? HTTP_AUTH_BEARER : HTTP_AUTH_SESSION;
        snprintf(req->actor, sizeof req->actor, "%s",
                 o == AUTH_ALLOW_BEARER ? bearer_user : v.row.user);
    }
    memset(v.id, 0, sizeof v.id);
    return o;
}
