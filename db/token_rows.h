/* token_rows.h: the rows of crm_tokens (migration 0003): one encrypted token per (crm, kind).
 *
 * Stores and returns a token's ciphertext, nonce and tag as bytes, with the id of the key that
 * sealed it, its expiry, the instance URL and the row's version. Encryption and decryption are
 * the caller's (crm/token_store.c); this module never sees a token in clear. bytea values travel
 * as hex text ("\x..."), so every statement is a parameterised call through db_pool_exec (run
 * once more on a fresh connection after a database restart). Writes are one statement (INSERT
 * ... ON CONFLICT DO UPDATE), so a rotated token replaces the old one atomically.
 *
 * Owns the buffers of struct token_row (token_row_free wipes the ciphertext before freeing it).
 * Must not: log, or put a stored value into an error text. */
#ifndef SYNKRO_DB_TOKEN_ROWS_H
#define SYNKRO_DB_TOKEN_ROWS_H

#include <stddef.h>
#include <stdint.h>

struct db_pool;

/* One token to store for (crm, kind); every pointer is borrowed. */
struct token_row_write {
    const char *crm;  /* "salesforce" | "hubspot" */
    const char *kind; /* "refresh" | "access" */
    const unsigned char *nonce;
    size_t nonce_len;
    const unsigned char *ciphertext;
    size_t ciphertext_len;
    const unsigned char *tag;
    size_t tag_len;
    const char *key_id;       /* names the key that sealed it */
    int64_t expires_at_ms;    /* Unix ms; 0 = none */
    const char *instance_url; /* NULL or "": none */
};

/* Writes w's row, replacing any earlier (crm, kind) row in one statement (version + 1).
 * *version_out (may be NULL) receives the row's new version. 0, or -1 with err (the database's
 * message, or "out of memory"). */
int token_rows_store(struct db_pool *pool, int wait_ms, const struct token_row_write *w,
                     long long *version_out, char *err, size_t errlen);

/* A stored row. A bytea column that does not decode leaves its pointer NULL (the caller tells
 * a malformed row so). */
struct token_row {
    unsigned char *nonce; /* heap */
    size_t nonce_len;
    unsigned char *ciphertext; /* heap; wiped by token_row_free */
    size_t ciphertext_len;
    unsigned char *tag; /* heap */
    size_t tag_len;
    char *key_id;          /* heap */
    int64_t expires_at_ms; /* Unix ms; 0 = no expiry stored */
    char *instance_url;    /* heap or NULL */
    long long version;
};

/* Reads the row of (crm, kind) into *out (free with token_row_free). 1 found, 0 none (out
 * zeroed), -1 with err. */
int token_rows_load(struct db_pool *pool, int wait_ms, const char *crm, const char *kind,
                    struct token_row *out, char *err, size_t errlen);

/* Deletes the row of (crm, kind). 0 (also when there was none), or -1 with err. */
int token_rows_delete(struct db_pool *pool, int wait_ms, const char *crm, const char *kind,
                      char *err, size_t errlen);

/* Wipes the ciphertext, frees every buffer of r and zeroes it. Accepts a zeroed row. */
void token_row_free(struct token_row *r);

#endif
