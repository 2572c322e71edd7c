/* token_rows.c: the SQL of crm_tokens (design in token_rows.h).
 *
 * Owns nothing across calls: bytes are hex-encoded into heap texts for the statement (the
 * ciphertext's text wiped after it) and decoded from the result into the caller's token_row.
 * Must not: log, or copy a stored value into err. */
#include "db/token_rows.h"

#include "base/hexenc.h"
#include "base/secret.h"
#include "db/pool.h"

#include <openssl/crypto.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* "\x" + hex, heap. */
static char *bytea_hex(const unsigned char *b, size_t n)
{
    char *s = malloc(2 * n + 3);
    if (!s)
        return NULL;
    s[0] = '\\';
    s[1] = 'x';
    hex_encode(b, n, s + 2);
    return s;
}

int token_rows_store(struct db_pool *pool, int wait_ms, const struct token_row_write *w,
                     long long *version_out, char *err, size_t errlen)
{
    char *hn = bytea_hex(w->nonce, w->nonce_len), *hc = bytea_hex(w->ciphertext, w->ciphertext_len),
         *ht = bytea_hex(w->tag, w->tag_len);
    char exp[32] = "";
    if (w->expires_at_ms > 0)
        snprintf(exp, sizeof exp, "%lld", (long long)w->expires_at_ms);
    int rc = -1;
    if (hn && hc && ht) {
        const char *params[] = {w->crm,
                                w->kind,
                                hn,
                                hc,
                                ht,
                                w->key_id,
                                w->expires_at_ms > 0 ? exp : NULL,
                                w->instance_url && *w->instance_url ? w->instance_url : NULL};
        PGresult *r = db_pool_exec(
            pool, wait_ms,
            "INSERT INTO crm_tokens (crm, kind, nonce, ciphertext, tag, key_id, expires_at, "
            "instance_url) VALUES ($1, $2, $3::bytea, $4::bytea, $5::bytea, $6, "
            "to_timestamp($7::double precision / 1000), $8) "
            "ON CONFLICT (crm, kind) DO UPDATE SET nonce = EXCLUDED.nonce, "
            "ciphertext = EXCLUDED.ciphertext, tag = EXCLUDED.tag, key_id = EXCLUDED.key_id, "
            "expires_at = EXCLUDED.expires_at, instance_url = EXCLUDED.instance_url, "
            "version = crm_tokens.version + 1, updated_at = now() RETURNING version",
            8, params, err, errlen);
        if (r) {
            if (version_out && PQntuples(r) == 1)
                *version_out = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
            PQclear(r);
            rc = 0;
        }
    } else {
        snprintf(err, errlen, "out of memory");
    }
    free(hn);
    secret_wipe_free(hc);
    free(ht);
    return rc;
}

/* Decodes a bytea column (hex output) into a heap buffer; NULL when it does not decode. */
static unsigned char *column_bytes(PGresult *r, int col, size_t *len)
{
    unsigned char *tmp = PQunescapeBytea((const unsigned char *)PQgetvalue(r, 0, col), len);
    if (!tmp)
        return NULL;
    unsigned char *out = malloc(*len ? *len : 1);
    if (out && *len)
        memcpy(out, tmp, *len);
    OPENSSL_cleanse(tmp, *len);
    PQfreemem(tmp);
    return out;
}

int token_rows_load(struct db_pool *pool, int wait_ms, const char *crm, const char *kind,
                    struct token_row *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    const char *params[] = {crm, kind};
    PGresult *r = db_pool_exec(
        pool, wait_ms,
        "SELECT nonce, ciphertext, tag, key_id, "
        "COALESCE((extract(epoch FROM expires_at) * 1000)::bigint, 0), instance_url, version "
        "FROM crm_tokens WHERE crm = $1 AND kind = $2",
        2, params, err, errlen);
    if (!r)
        return -1;
    if (PQntuples(r) == 0) {
        PQclear(r);
        return 0;
    }
    out->nonce = column_bytes(r, 0, &out->nonce_len);
    out->ciphertext = column_bytes(r, 1, &out->ciphertext_len);
    out->tag = column_bytes(r, 2, &out->tag_len);
    out->key_id = strdup(PQgetvalue(r, 0, 3));
    out->expires_at_ms = strtoll(PQgetvalue(r, 0, 4), NULL, 10);
    out->instance_url = PQgetisnull(r, 0, 5) ? NULL : strdup(PQgetvalue(r, 0, 5));
    out->version = strtoll(PQgetvalue(r, 0, 6), NULL, 10);
    bool oom = !out->key_id || (!PQgetisnull(r, 0, 5) && !out->instance_url);
    PQclear(r);
    if (oom) {
        token_row_free(out);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    return 1;
}

int token_rows_delete(struct db_pool *pool, int wait_ms, const char *crm, const char *kind,
                      char *err, size_t errlen)
{
    const char *params[] = {crm, kind};
    PGresult *r = db_pool_exec(pool, wait_ms, "DELETE FROM crm_tokens WHERE crm = $1 AND kind = $2",
                               2, params, err, errlen);
    if (!r)
        return -1;
    PQclear(r);
    return 0;
}

void token_row_free(struct token_row *r)
{
    if (!r)
        return;
    if (r->ciphertext)
        OPENSSL_cleanse(r->ciphertext, r->ciphertext_len);
    free(r->nonce);
    free(r->ciphertext);
    free(r->tag);
    free(r->key_id);
    free(r->instance_url);
    memset(r, 0, sizeof *r);
}
