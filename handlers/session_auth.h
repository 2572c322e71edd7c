/* session_auth.h: who is calling the admin API, and whether they may: a bearer token (the admin's
 * or a SYNKRO_USERS_FILE user's) or the console's session cookie, with the CSRF rule for cookies.
 *
 * The decision is one pure function over the facts of a request (auth_decide, table-tested):
 *   - an Authorization: Bearer header decides alone: its token is a user's -> allowed, else 401
 *     (a wrong token never falls back to a cookie);
 *   - else a session cookie (only while SYNKRO_CONSOLE is on): a valid session allows GET and HEAD,
 *     and any other method only with X-CSRF-Token equal to the session's CSRF token (else 403
 *     csrf); a missing, malformed, unknown, revoked, expired or idle session is 401; a database
 *     failure while looking it up is 503;
 *   - else 401.
 * A session is valid only while the token it was signed in with is still its user's token
 * (fingerprints, base/users.h); one that is not is revoked on sight with its user's other
 * sessions of the old token.
 * Must not: log or copy a token, session id or CSRF token anywhere but the caller's buffers. */
#ifndef SYNKRO_HANDLERS_SESSION_AUTH_H
#define SYNKRO_HANDLERS_SESSION_AUTH_H

#include "base/session_token.h"
#include "db/session_store.h"
#include "handlers/http_request.h"

#include <stdbool.h>

enum auth_session {
    AUTH_SESSION_NONE,    /* no cookie (or the console is off) */
    AUTH_SESSION_VALID,   /* a live session */
    AUTH_SESSION_INVALID, /* a cookie that is malformed, unknown or ended */
    AUTH_SESSION_ERROR,   /* the database could not be asked */
};

struct auth_facts {
    bool bearer_present; /* an Authorization: Bearer header */
    bool bearer_valid;   /* ... whose token is a user's */
    enum auth_session session;
    bool safe_method; /* GET or HEAD */
    bool csrf_valid;  /* X-CSRF-Token equals the session's CSRF token */
};

enum auth_outcome {
    AUTH_ALLOW_BEARER,
    AUTH_ALLOW_SESSION,
    AUTH_UNAUTHORIZED, /* 401 unauthorized */
    AUTH_CSRF,         /* 403 csrf */
    AUTH_UNAVAILABLE,  /* 503: the session store did not answer */
};

enum auth_outcome auth_decide(const struct auth_facts *f);

/* The request's session, when its cookie names a live one (v->id and v->row filled). */
struct session_view {
    char id[SESSION_ID_HEX + 1]; /* the cookie value (secret) */
    struct session_row row;
};

/* Looks the request's session cookie up (and touches the session). err gets the database's
 * message on AUTH_SESSION_ERROR. */
enum auth_session session_from_request(const struct http_request *req, struct session_view *v,
                                       char *err, size_t errlen);

/* True when the request's X-CSRF-Token is the CSRF token of session_id (constant time). */
bool session_csrf_ok(const struct http_request *req, const char *session_id);

/* Authorises a request to an admin route; on an allow, fills req->actor and req->auth_via. */
enum auth_outcome http_authorize(struct http_request *req, char *err, size_t errlen);

#endif
