/* session_token.h: the secrets of a console session and their text forms: a random session id
 * (the cookie value) or sign-in code, the digest the database stores instead of it, the CSRF token
 * derived from it, and finding the session cookie in a Cookie header.
 *
 * A session id is 32 random bytes as 64 lowercase hex digits; a sign-in code 16 random bytes as 32.
 * The database keeps only SHA-256("synkro-session-id:" + value), so a copy of the database signs
 * nobody in. The CSRF token is SHA-256("synkro-csrf:" + session id): nothing to store, the same for
 * the life of the session, and unknowable without the cookie (which scripts cannot read:
 * HttpOnly). Compare given CSRF tokens with secret_equal (base/secret.h).
 * Must not: log, or keep any value. */
#ifndef SYNKRO_BASE_SESSION_TOKEN_H
#define SYNKRO_BASE_SESSION_TOKEN_H

#include <stdbool.h>
#include <stddef.h>

#define SESSION_ID_HEX      64 /* characters of a session id */
#define SESSION_CODE_HEX    32 /* characters of a one-time sign-in code */
#define SESSION_DIGEST_HEX  64 /* characters of a stored digest or a CSRF token */
#define SESSION_COOKIE_NAME "synkro_session"

/* Fills out with hex_chars (even, at most 64) lowercase hex digits of fresh random bytes and a
 * NUL. 0, or -1 when the random generator failed (out is then ""). */
int session_token_new(char *out, size_t hex_chars);

/* True when s is exactly hex_chars lowercase hex digits. */
bool session_token_well_formed(const char *s, size_t hex_chars);

/* The digest stored for a session id or sign-in code: 64 hex digits and a NUL into out. */
void session_token_digest(const char *value, char out[SESSION_DIGEST_HEX + 1]);

/* The CSRF token of a session id: 64 hex digits and a NUL into out. */
void session_csrf_token(const char *session_id, char out[SESSION_DIGEST_HEX + 1]);

/* Looks for the synkro_session cookie in a Cookie header (NULL: none). The first cookie of that
 * name counts. 1 with a well-formed id copied into out, 0 when there is no such cookie, -1 when
 * there is one but its value is not a session id (out is then ""). */
int session_cookie_find(const char *cookie_header, char out[SESSION_ID_HEX + 1]);

#endif
