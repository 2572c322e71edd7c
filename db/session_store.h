/* session_store.h: the console's sessions and one-time sign-in codes in PostgreSQL (migration
 * 0008).
 *
 * A session is found by the digest of its cookie value (base/session_token.h); it is valid while
 * not revoked, before its expiry (created + SYNKRO_SESSION_TTL_S) and seen within the idle timeout
 * (SYNKRO_SESSION_IDLE_S); each valid lookup moves last_seen_at to now (one statement, so a lookup
 * never revives an idle session). Every time is the database's now(), so processes with skewed
 * clocks agree. A sign-in code is taken at most once: one UPDATE marks it used only while unused
 * and unexpired. Each call borrows a pool connection (db_pool_exec: one retry after a database
 * restart).
 * Must not: log, or take the cookie value or code itself (only their digests). */
#ifndef SYNKRO_DB_SESSION_STORE_H
#define SYNKRO_DB_SESSION_STORE_H

#include <stddef.h>

struct db_pool;

struct session_row {
    char user[64];
    char token_fp[33];
    char expires_at[32]; /* ISO-8601 UTC, "2026-12-06T20:00:00Z" */
};

/* Stores a session of user (made with the token of fingerprint token_fp) that ends ttl_s from now;
 * its user, fingerprint and expiry into *out. 0, or -1 with err. */
int session_store_create(struct db_pool *pool, const char *id_hash, const char *user,
                         const char *token_fp, int ttl_s, struct session_row *out, char *err,
                         size_t errlen);

/* Finds a valid session (see above) and touches it. 1 valid (*out filled), 0 none or ended, -1
 * with err. */
int session_store_touch(struct db_pool *pool, const char *id_hash, int idle_s,
                        struct session_row *out, char *err, size_t errlen);

/* Revokes one session (no error when it does not exist or is already revoked). 0, or -1. */
int session_store_revoke(struct db_pool *pool, const char *id_hash, char *err, size_t errlen);

/* Revokes every session of user, or (keep_fp not NULL) every one made with another token than
 * keep_fp. The number revoked, or -1 with err. */
long session_store_revoke_user(struct db_pool *pool, const char *user, const char *keep_fp,
                               char *err, size_t errlen);

/* Revokes every session of a user not in users[0..n) (users removed from the users file). The
 * number revoked, or -1 with err. */
long session_store_revoke_others(struct db_pool *pool, const char *const *users, size_t n,
                                 char *err, size_t errlen);

/* Deletes at most limit sessions that ended (revoked, expired, or idle longer than idle_s) and
 * at most limit ended sign-in codes (used or expired). The number deleted, or -1 with err. */
long session_store_prune(struct db_pool *pool, int idle_s, int limit, char *err, size_t errlen);

/* Stores a sign-in code of user valid for ttl_s; its expiry into expires_at (32 bytes). 0 or -1. */
int session_store_code_create(struct db_pool *pool, const char *code_hash, const char *user,
                              const char *token_fp, int ttl_s, char *expires_at, char *err,
                              size_t errlen);

/* Takes an unused, unexpired code: marks it used and fills out->user and out->token_fp.
 * 1 taken, 0 no such usable code, -1 with err. */
int session_store_code_take(struct db_pool *pool, const char *code_hash, struct session_row *out,
                            char *err, size_t errlen);

#endif
