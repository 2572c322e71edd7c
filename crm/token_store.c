/* token_store.c: AES-256-GCM token encryption, the store of encrypted tokens, and the token cache.
 *
 * Owns the derived key (wiped on destroy) and each cache's token copy (wiped on replace). The
 * rows of crm_tokens are read and written by db/token_rows (the SQL); this file seals and opens
 * what they hold.
 * Must not: log, or copy a token or key into err. */
#include "crm/token_store.h"

#include "base/hexenc.h"
#include "base/secret.h"
#include "crm/rate_limit.h"
#include "db/token_rows.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DB_WAIT_MS 5000

static const char kdf_salt[] = "synkro/crm_tokens/salt/v1";

/* ---- crypto ---- */

static int hkdf(const char *secret, const char *info, unsigned char *out, size_t outlen)
{
    EVP_PKEY_CTX *pctx = EVP_PKEY_CTX_new_id(EVP_PKEY_HKDF, NULL);
    if (!pctx)
        return -1;
    size_t len = outlen;
    int ok =
        EVP_PKEY_derive_init(pctx) > 0 && EVP_PKEY_CTX_set_hkdf_md(pctx, EVP_sha256()) > 0 &&
        EVP_PKEY_CTX_set1_hkdf_salt(pctx, (const unsigned char *)kdf_salt, (int)strlen(kdf_salt)) >
            0 &&
        EVP_PKEY_CTX_set1_hkdf_key(pctx, (const unsigned char *)secret, (int)strlen(secret)) > 0 &&
        EVP_PKEY_CTX_add1_hkdf_info(pctx, (const unsigned char *)info, (int)strlen(info)) > 0 &&
        EVP_PKEY_derive(pctx, out, &len) > 0 && len == outlen;
    EVP_PKEY_CTX_free(pctx);
    return ok ? 0 : -1;
}

int token_key_derive(const char *secret, unsigned char key[TOKEN_KEY_LEN])
{
    if (!secret || strlen(secret) < 32)
        return -1;
    return hkdf(secret, "aes-256-gcm key", key, TOKEN_KEY_LEN);
}

int token_seal(const unsigned char key[TOKEN_KEY_LEN], const char *aad, const unsigned char *pt,
               size_t len, unsigned char nonce[TOKEN_NONCE_LEN], unsigned char *ct,
               unsigned char tag[TOKEN_TAG_LEN])
{
    if (len > TOKEN_MAX_LEN || RAND_bytes(nonce, TOKEN_NONCE_LEN) != 1)
        return -1;
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    if (!c)
        return -1;
    int outl = 0, finl = 0;
    int ok = EVP_EncryptInit_ex(c, EVP_aes_256_gcm(), NULL, NULL, NULL) == 1 &&
             EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_IVLEN, TOKEN_NONCE_LEN, NULL) == 1 &&
             EVP_EncryptInit_ex(c, NULL, NULL, key, nonce) == 1 &&
             EVP_EncryptUpdate(c, NULL, &outl, (const unsigned char *)aad, (int)strlen(aad)) == 1 &&
             EVP_EncryptUpdate(c, ct, &outl, pt, (int)len) == 1 &&
             EVP_EncryptFinal_ex(c, ct + outl, &finl) == 1 && (size_t)(outl + finl) == len &&
             EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, TOKEN_TAG_LEN, tag) == 1;
    EVP_CIPHER_CTX_free(c);
    return ok ? 0 : -1;
}

int token_open(const unsigned char key[TOKEN_KEY_LEN], const char *aad,
               const unsigned char nonce[TOKEN_NONCE_LEN], const unsigned char *ct, size_t len,
               const unsigned char tag[TOKEN_TAG_LEN], unsigned char *pt)
{
    if (len > TOKEN_MAX_LEN)
        return -1;
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    if (!c)
        return -1;
    unsigned char tagcopy[TOKEN_TAG_LEN];
    memcpy(tagcopy, tag, TOKEN_TAG_LEN);
    int outl = 0, finl = 0;
    int ok = EVP_DecryptInit_ex(c, EVP_aes_256_gcm(), NULL, NULL, NULL) == 1 &&
             EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_IVLEN, TOKEN_NONCE_LEN, NULL) == 1 &&
             EVP_DecryptInit_ex(c, NULL, NULL, key, nonce) == 1 &&
             EVP_DecryptUpdate(c, NULL, &outl, (const unsigned char *)aad, (int)strlen(aad)) == 1 &&
             EVP_DecryptUpdate(c, pt, &outl, ct, (int)len) == 1 &&
             EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, TOKEN_TAG_LEN, tagcopy) == 1 &&
             EVP_DecryptFinal_ex(c, pt + outl, &finl) == 1;
    EVP_CIPHER_CTX_free(c);
    if (!ok && len)
        OPENSSL_cleanse(pt, len);
    return ok ? 0 : -1;
}

/* ---- the store ---- */

struct token_store {
    struct db_pool *pool;
    unsigned char key[TOKEN_KEY_LEN];
    char key_id[33]; /* hex of an HKDF output under another label: names the key, reveals nothing */
};

struct token_store *token_store_create(struct db_pool *pool, const char *secret_key, char *err,
                                       size_t errlen)
{
    if (!pool) {
        snprintf(err, errlen, "token store: no database pool");
        return NULL;
    }
    if (!secret_key || strlen(secret_key) < 32) {
        snprintf(err, errlen,
                 "token store: SYNKRO_SECRET_KEY must be set to at least 32 characters to keep "
                 "CRM tokens in the database");
        return NULL;
    }
    struct token_store *ts = calloc(1, sizeof *ts);
    if (!ts) {
        snprintf(err, errlen, "token store: out of memory");
        return NULL;
    }
    unsigned char id[16];
    if (token_key_derive(secret_key, ts->key) < 0 ||
        hkdf(secret_key, "key id", id, sizeof id) < 0) {
        OPENSSL_cleanse(ts->key, sizeof ts->key);
        free(ts);
        snprintf(err, errlen, "token store: key derivation failed");
        return NULL;
    }
    hex_encode(id, sizeof id, ts->key_id);
    ts->pool = pool;
    return ts;
}

void token_store_destroy(struct token_store *ts)
{
    if (!ts)
        return;
    OPENSSL_cleanse(ts->key, sizeof ts->key);
    free(ts);
}

static const char *checked_kind(const char *kind)
{
    if (kind && (strcmp(kind, "refresh") == 0 || strcmp(kind, "access") == 0))
        return kind;
    return NULL;
}

static void make_aad(char *aad, size_t n, enum crm_kind crm, const char *kind)
{
    snprintf(aad, n, "synkro/crm_tokens/v1/%s/%s", crm_kind_name(crm), kind);
}

int token_store_put(struct token_store *ts, enum crm_kind crm, const char *kind, const char *token,
                    int64_t expires_at_ms, const char *instance_url, long long *version_out,
                    char *err, size_t errlen)
{
    if (!checked_kind(kind) || !token) {
        snprintf(err, errlen, "token store: bad token kind or no token");
        return -1;
    }
    size_t len = strlen(token);
    if (len == 0 || len > TOKEN_MAX_LEN) {
        snprintf(err, errlen, "token store: token empty or longer than %d bytes", TOKEN_MAX_LEN);
        return -1;
    }
    char aad[96];
    make_aad(aad, sizeof aad, crm, kind);
    unsigned char nonce[TOKEN_NONCE_LEN], tag[TOKEN_TAG_LEN];
    unsigned char *ct = malloc(len);
    if (!ct) {
        snprintf(err, errlen, "token store: out of memory");
        return -1;
    }
    if (token_seal(ts->key, aad, (const unsigned char *)token, len, nonce, ct, tag) < 0) {
        free(ct);
        snprintf(err, errlen, "token store: encryption failed");
        return -1;
    }
    struct token_row_write w = {.crm = crm_kind_name(crm),
                                .kind = kind,
                                .nonce = nonce,
                                .nonce_len = sizeof nonce,
                                .ciphertext = ct,
                                .ciphertext_len = len,
                                .tag = tag,
                                .tag_len = sizeof tag,
                                .key_id = ts->key_id,
                                .expires_at_ms = expires_at_ms,
                                .instance_url = instance_url};
    char dberr[256];
    int rc = token_rows_store(ts->pool, DB_WAIT_MS, &w, version_out, dberr, sizeof dberr);
    OPENSSL_cleanse(ct, len);
    free(ct);
    if (rc < 0)
        snprintf(err, errlen, "token store: writing the %s %s token failed: %s", crm_kind_name(crm),
                 kind, dberr);
    return rc;
}

int token_store_get(struct token_store *ts, enum crm_kind crm, const char *kind,
                    struct token_record *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (!checked_kind(kind)) {
        snprintf(err, errlen, "token store: bad token kind");
        return -1;
    }
    struct token_row row;
    char dberr[256];
    int found =
        token_rows_load(ts->pool, DB_WAIT_MS, crm_kind_name(crm), kind, &row, dberr, sizeof dberr);
    if (found < 0) {
        snprintf(err, errlen, "token store: reading the %s %s token failed: %s", crm_kind_name(crm),
                 kind, dberr);
        return -1;
    }
    if (found == 0)
        return 0;
    int rc = -1;
    char *pt = NULL;
    if (strcmp(row.key_id, ts->key_id) != 0) {
        snprintf(err, errlen,
                 "token store: the stored %s %s token was encrypted under another "
                 "SYNKRO_SECRET_KEY",
                 crm_kind_name(crm), kind);
    } else if (!row.nonce || !row.ciphertext || !row.tag || row.nonce_len != TOKEN_NONCE_LEN ||
               row.tag_len != TOKEN_TAG_LEN || row.ciphertext_len > TOKEN_MAX_LEN) {
        snprintf(err, errlen, "token store: the stored %s %s token is malformed",
                 crm_kind_name(crm), kind);
    } else if (!(pt = malloc(row.ciphertext_len + 1))) {
        snprintf(err, errlen, "token store: out of memory");
    } else {
        char aad[96];
        make_aad(aad, sizeof aad, crm, kind);
        if (token_open(ts->key, aad, row.nonce, row.ciphertext, row.ciphertext_len, row.tag,
                       (unsigned char *)pt) < 0) {
            snprintf(err, errlen,
                     "token store: the stored %s %s token failed authentication (altered, or "
                     "moved from another row)",
                     crm_kind_name(crm), kind);
        } else {
            pt[row.ciphertext_len] = '\0';
            out->token = pt;
            pt = NULL;
            out->expires_at_ms = row.expires_at_ms;
            out->instance_url = row.instance_url;
            row.instance_url = NULL;
            out->version = row.version;
            rc = 1;
        }
    }
    free(pt);
    token_row_free(&row);
    return rc;
}

int token_store_delete(struct token_store *ts, enum crm_kind crm, const char *kind, char *err,
                       size_t errlen)
{
    if (!checked_kind(kind)) {
        snprintf(err, errlen, "token store: bad token kind");
        return -1;
    }
    char dberr[256];
    if (token_rows_delete(ts->pool, DB_WAIT_MS, crm_kind_name(crm), kind, dberr, sizeof dberr) <
        0) {
        snprintf(err, errlen, "token store: deleting the %s %s token failed: %s",
                 crm_kind_name(crm), kind, dberr);
        return -1;
    }
    return 0;
}

void token_record_free(struct token_record *r)
{
    if (!r)
        return;
    secret_wipe_free(r->token);
    free(r->instance_url);
    memset(r, 0, sizeof *r);
}

/* ---- the cache ---- */

struct token_cache {
    enum crm_kind crm;
    int64_t margin_ms;
    long wait_ms;
    token_refresh_fn refresh;
    void *ud;
    pthread_mutex_t lock;
    pthread_cond_t cond; /* broadcast when a refresh ends */
    /* guarded by lock: */
    struct token_value cur;
    bool valid;
    uint64_t generation; /* +1 per installed token */
    bool refreshing;
    uint64_t attempts; /* refreshes finished (either way) */
    bool last_failed;
    struct crm_error last_err;
    unsigned long refreshes;
};

void token_value_clear(struct token_value *v)
{
    if (!v)
        return;
    secret_wipe_free(v->access_token);
    free(v->instance_url);
    memset(v, 0, sizeof *v);
}

struct token_cache *token_cache_create(enum crm_kind crm, int64_t margin_ms, long wait_ms,
                                       token_refresh_fn refresh, void *ud)
{
    struct token_cache *tc = calloc(1, sizeof *tc);
    if (!tc)
        return NULL;
    tc->crm = crm;
    tc->margin_ms = margin_ms > 0 ? margin_ms : 0;
    tc->wait_ms = wait_ms > 0 ? wait_ms : 60000;
    tc->refresh = refresh;
    tc->ud = ud;
    pthread_mutex_init(&tc->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&tc->cond, &ca);
    pthread_condattr_destroy(&ca);
    return tc;
}

void token_cache_destroy(struct token_cache *tc)
{
    if (!tc)
        return;
    token_value_clear(&tc->cur);
    pthread_mutex_destroy(&tc->lock);
    pthread_cond_destroy(&tc->cond);
    free(tc);
}

static int value_copy(struct token_value *dst, const struct token_value *src)
{
    memset(dst, 0, sizeof *dst);
    dst->access_token = strdup(src->access_token);
    dst->instance_url = src->instance_url ? strdup(src->instance_url) : NULL;
    dst->expires_at_ms = src->expires_at_ms;
    if (!dst->access_token || (src->instance_url && !dst->instance_url)) {
        token_value_clear(dst);
        return -1;
    }
    return 0;
}

/* With the lock held: replaces the current token by v (taking its strings). */
static void install(struct token_cache *tc, struct token_value *v)
{
    token_value_clear(&tc->cur);
    tc->cur = *v;
    memset(v, 0, sizeof *v);
    tc->valid = true;
    tc->generation++;
}

int token_cache_set(struct token_cache *tc, const char *access_token, const char *instance_url,
                    int64_t expires_at_ms)
{
    struct token_value v = {.expires_at_ms = expires_at_ms};
    struct token_value src = {(char *)access_token, (char *)instance_url, expires_at_ms};
    if (!access_token || value_copy(&v, &src) < 0)
        return -1;
    pthread_mutex_lock(&tc->lock);
    install(tc, &v);
    pthread_cond_broadcast(&tc->cond);
    pthread_mutex_unlock(&tc->lock);
    return 0;
}

static bool usable(const struct token_cache *tc, int64_t now)
{
    return tc->valid && tc->cur.access_token &&
           (tc->cur.expires_at_ms == 0 || now < tc->cur.expires_at_ms - tc->margin_ms);
}

static void timed_wait(struct token_cache *tc, int64_t deadline)
{
    struct timespec ts = {.tv_sec = (time_t)(deadline / 1000),
                          .tv_nsec = (long)(deadline % 1000) * 1000000};
    pthread_cond_timedwait(&tc->cond, &tc->lock, &ts);
}

int token_cache_get(struct token_cache *tc, void *call_ctx, struct token_value *out,
                    uint64_t *generation, struct crm_error *err)
{
    memset(out, 0, sizeof *out);
    int64_t deadline = rate_limit_now_ms() + tc->wait_ms;
    pthread_mutex_lock(&tc->lock);
    for (;;) {
        int64_t now = rate_limit_now_ms();
        if (usable(tc, now)) {
            int rc = value_copy(out, &tc->cur);
            if (generation)
                *generation = tc->generation;
            pthread_mutex_unlock(&tc->lock);
            if (rc < 0)
                crm_error_set(err, tc->crm, CRM_ERR_TRANSIENT, 0, "out_of_memory",
                              "out of memory copying the access token");
            return rc;
        }
        if (!tc->refresh) {
            pthread_mutex_unlock(&tc->lock);
            crm_error_set(err, tc->crm, CRM_ERR_PERMANENT, 0, "no_token",
                          "no usable access token and no way to refresh one");
            return -1;
        }
        if (tc->refreshing) {
            uint64_t seen = tc->attempts;
            while (tc->refreshing && tc->attempts == seen && rate_limit_now_ms() < deadline)
                timed_wait(tc, deadline);
            if (tc->attempts == seen) {
                pthread_mutex_unlock(&tc->lock);
                crm_error_set(err, tc->crm, CRM_ERR_TRANSIENT, 0, "refresh_wait",
                              "gave up waiting for another thread's token refresh");
                return -1;
            }
            if (tc->last_failed) {
                if (err)
                    *err = tc->last_err;
                pthread_mutex_unlock(&tc->lock);
                return -1;
            }
            continue;
        }
        tc->refreshing = true;
        pthread_mutex_unlock(&tc->lock);

        struct token_value nv = {0};
        struct crm_error rerr;
        crm_error_clear(&rerr);
        int rc = tc->refresh(tc->ud, call_ctx, &nv, &rerr);
        if (rc == 0 && !nv.access_token) {
            rc = -1;
            crm_error_set(&rerr, tc->crm, CRM_ERR_PERMANENT, 0, "no_token",
                          "the token endpoint returned no access token");
        }

        pthread_mutex_lock(&tc->lock);
        tc->refreshing = false;
        tc->attempts++;
        if (rc == 0) {
            install(tc, &nv);
            tc->refreshes++;
            tc->last_failed = false;
        } else {
            token_value_clear(&nv);
            tc->last_failed = true;
            tc->last_err = rerr;
        }
        pthread_cond_broadcast(&tc->cond);
        if (rc < 0) {
            pthread_mutex_unlock(&tc->lock);
            if (err)
                *err = rerr;
            return -1;
        }
    }
}

void token_cache_invalidate(struct token_cache *tc, uint64_t generation)
{
    pthread_mutex_lock(&tc->lock);
    if (generation == tc->generation)
        tc->valid = false;
    pthread_mutex_unlock(&tc->lock);
}

unsigned long token_cache_refreshes(struct token_cache *tc)
{
    pthread_mutex_lock(&tc->lock);
    unsigned long n = tc->refreshes;
    pthread_mutex_unlock(&tc->lock);
    return n;
}
