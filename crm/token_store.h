/* token_store.h: CRM tokens, encrypted at rest in PostgreSQL and cached in memory.
 *
 * Owns (1) what the table crm_tokens (migration 0003; its SQL is db/token_rows) holds: one
 * AES-256-GCM ciphertext per (crm, kind), under a key derived from SYNKRO_SECRET_KEY with
 * HKDF-SHA256, a fresh random 12-byte nonce per write and "synkro/crm_tokens/v1/<crm>/<kind>"
 * as additional authenticated data, so a value
 * copied to another row, altered, or read with another key fails to decrypt; and (2) struct
 * token_cache, the in-memory access token of one CRM client with single-flight refresh: one
 * thread refreshes while the others wait on a condition variable for its result.
 *
 * Writes are single statements (INSERT ... ON CONFLICT DO UPDATE), so a rotated refresh token
 * replaces the old one atomically. Token texts are wiped (OPENSSL_cleanse) before being freed.
 *
 * Locking: struct token_store is immutable after creation (the pool has its own lock);
 * struct token_cache guards its state with its own mutex + condition (CLOCK_MONOTONIC), and
 * never holds the mutex while the refresh callback runs.
 * Must not: log, or put a token (or the key) into an error text. */
#ifndef SYNKRO_SYNC_TOKEN_STORE_H
#define SYNKRO_SYNC_TOKEN_STORE_H

#include "db/pool.h"
#include "crm/crm_error.h"

#include <stddef.h>
#include <stdint.h>

#define TOKEN_KEY_LEN   32
#define TOKEN_NONCE_LEN 12
#define TOKEN_TAG_LEN   16
#define TOKEN_MAX_LEN   8192

/* ---- crypto (exposed for tests) ---- */

/* Derives the AES-256 key from the configured secret (at least 32 characters). 0, or -1 when the
 * secret is too short or OpenSSL fails. */
int token_key_derive(const char *secret, unsigned char key[TOKEN_KEY_LEN]);

/* Encrypts len bytes of pt into ct (len bytes) with a fresh random nonce; aad is bound to the
 * ciphertext. 0 or -1. */
int token_seal(const unsigned char key[TOKEN_KEY_LEN], const char *aad, const unsigned char *pt,
               size_t len, unsigned char nonce[TOKEN_NONCE_LEN], unsigned char *ct,
               unsigned char tag[TOKEN_TAG_LEN]);

/* Decrypts and authenticates. 0, or -1 when the key, nonce, aad, ciphertext or tag do not match
 * (pt is then wiped). */
int token_open(const unsigned char key[TOKEN_KEY_LEN], const char *aad,
               const unsigned char nonce[TOKEN_NONCE_LEN], const unsigned char *ct, size_t len,
               const unsigned char tag[TOKEN_TAG_LEN], unsigned char *pt);

/* ---- the PostgreSQL store ---- */

struct token_store;

/* A store on pool (borrowed; must outlive the store) with the key derived from secret_key. NULL
 * with err when the secret is unset or shorter than 32 characters. Caller frees with
 * token_store_destroy() (which wipes the key). */
struct token_store *token_store_create(struct db_pool *pool, const char *secret_key, char *err,
                                       size_t errlen);
void token_store_destroy(struct token_store *ts);

struct token_record {
    char *token;           /* heap; wiped and freed by token_record_free() */
    char *instance_url;    /* heap or NULL */
    int64_t expires_at_ms; /* Unix ms; 0 = no expiry stored */
    long long version;     /* 1 on first write, +1 on every replacement */
};

/* Reads and decrypts (crm, kind) ("refresh" or "access"). 1 found (out filled), 0 none, -1 error
 * (database, or a value that does not decrypt: tampered, or written under another key). */
int token_store_get(struct token_store *ts, enum crm_kind crm, const char *kind,
                    struct token_record *out, char *err, size_t errlen);

/* Encrypts and writes token for (crm, kind), replacing any earlier value in one statement.
 * expires_at_ms 0 = none; instance_url may be NULL. *version_out (may be NULL) receives the
 * row's new version. 0 or -1 with err. */
int token_store_put(struct token_store *ts, enum crm_kind crm, const char *kind, const char *token,
                    int64_t expires_at_ms, const char *instance_url, long long *version_out,
                    char *err, size_t errlen);

/* Removes (crm, kind). 0 (also when absent) or -1. */
int token_store_delete(struct token_store *ts, enum crm_kind crm, const char *kind, char *err,
                       size_t errlen);

void token_record_free(struct token_record *r);

/* ---- the in-memory cache with single-flight refresh ---- */

struct token_value {
    char *access_token;    /* heap */
    char *instance_url;    /* heap or NULL */
    int64_t expires_at_ms; /* rate_limit_now_ms() clock; 0 = never expires */
};

/* Wipes and frees the strings of v and zeroes it. */
void token_value_clear(struct token_value *v);

/* Obtains a fresh token into out (the callee owns nothing of out on failure). call_ctx is what
 * token_cache_get() was given (the caller's struct crm_http). 0 or -1 with err. */
typedef int (*token_refresh_fn)(void *ud, void *call_ctx, struct token_value *out,
                                struct crm_error *err);

struct token_cache;

/* A cache refreshing margin_ms before expiry through refresh(ud, ...) (NULL: the token can only
 * be set). Waiters give up after wait_ms. Caller frees with token_cache_destroy(). */
struct token_cache *token_cache_create(enum crm_kind crm, int64_t margin_ms, long wait_ms,
                                       token_refresh_fn refresh, void *ud);
void token_cache_destroy(struct token_cache *tc);

/* Installs a token (a static token, or one read from the store). */
int token_cache_set(struct token_cache *tc, const char *access_token, const char *instance_url,
                    int64_t expires_at_ms);

/* Copies a usable token into out (caller clears it with token_value_clear()) and its generation
 * into *generation (may be NULL). Refreshes when there is none, it expires within the margin, or
 * it was invalidated: one caller runs the refresh, concurrent callers wait for its outcome (and
 * share its error when it fails). 0 or -1 with err. */
int token_cache_get(struct token_cache *tc, void *call_ctx, struct token_value *out,
                    uint64_t *generation, struct crm_error *err);

/* Marks the token of that generation unusable (after a 401), so the next get refreshes. A stale
 * generation (the token was already replaced) changes nothing: one 401 wave, one refresh. */
void token_cache_invalidate(struct token_cache *tc, uint64_t generation);

/* Successful refreshes so far (tests, metrics). */
unsigned long token_cache_refreshes(struct token_cache *tc);

#endif
