/* session_api.h: the console's sign-in API (contract.md, "Session API").
 *
 * POST /api/session {"token":"..."} or {"code":"<one-time sign-in code>"} -> 200 {"user",
 *   "csrf_token","expires_at","idle_timeout_s"} with Set-Cookie synkro_session=<id>; Path=/;
 *   HttpOnly; SameSite=Strict[; Secure]. 401 unauthorized for a wrong token or an unusable code,
 *   400 bad_request for a body that is not such an object, 413 for one over 8 KiB, 429
 *   rate_limited with Retry-After after SYNKRO_SIGNIN_RATE_PER_MIN attempts of one address.
 * GET /api/session -> 200 the same object for the cookie's session (same CSRF token), else 401.
 * DELETE /api/session (cookie + X-CSRF-Token) -> 204, the session revoked and the cookie cleared;
 *   401 without a live session, 403 csrf without the header.
 * POST /api/session/codes (admin route: bearer or session) -> 201 {"user","code","url",
 *   "expires_at"}: a sign-in code for the caller's own user, usable once within 10 minutes, and
 *   the URL that uses it (`synkro console-link` prints it).
 * GET /signin?code=... -> 302 to / with the session cookie (the link above); 401 text when the
 *   code is unusable; rate-limited like POST /api/session. HEAD answers 200 and leaves the code.
 * Secure is set when SYNKRO_PUBLIC_BASE_URL is https and the request came on the public listener,
 * or on the admin listener with X-Forwarded-Proto: https (a TLS proxy in front of it).
 * Must not: log or echo a token, code or session id, or talk SQL (db/session_store.c does). */
#ifndef SYNKRO_HANDLERS_SESSION_API_H
#define SYNKRO_HANDLERS_SESSION_API_H

#include "handlers/http_request.h"

int handle_session_create(struct http_request *req);
int handle_session_get(struct http_request *req);
int handle_session_delete(struct http_request *req);
int handle_signin_code_create(struct http_request *req);
int handle_signin_link(struct http_request *req);

#endif
