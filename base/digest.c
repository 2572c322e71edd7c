/* digest.c: per-thread SHA-256 and HMAC-SHA256 contexts (see digest.h).
 *
 * Owns the algorithms (fetched once, kept for the process) and, per thread, one EVP_MD_CTX, one
 * EVP_MAC_CTX and a copy of the HMAC key it was keyed with (wiped when replaced or freed). A
 * context is reached only through its thread's pthread key, so no lock is needed; the key's
 * destructor frees them when the thread exits.
 * Must not: share a context between threads. */
#include "base/digest.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

struct digest_tls {
    EVP_MD_CTX *md;
    EVP_MAC_CTX *mac;
    unsigned char *mac_key; /* the key mac is keyed with (OPENSSL_clear_free) */
    size_t mac_key_len;
};

static pthread_once_t once = PTHREAD_ONCE_INIT;
static pthread_key_t tls_key;
static bool tls_key_ok;
static EVP_MD *sha256;
static EVP_MAC *hmac;

static void tls_free(void *p)
{
    struct digest_tls *t = p;
    EVP_MD_CTX_free(t->md);
    EVP_MAC_CTX_free(t->mac);
    OPENSSL_clear_free(t->mac_key, t->mac_key_len);
    free(t);
}

static void digest_init(void)
{
    tls_key_ok = pthread_key_create(&tls_key, tls_free) == 0;
    sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
    hmac = EVP_MAC_fetch(NULL, OSSL_MAC_NAME_HMAC, NULL);
}

static struct digest_tls *tls_get(void)
{
    pthread_once(&once, digest_init);
    if (!tls_key_ok)
        return NULL;
    struct digest_tls *t = pthread_getspecific(tls_key);
    if (t)
        return t;
    t = calloc(1, sizeof *t);
    if (t && pthread_setspecific(tls_key, t) != 0) {
        free(t);
        t = NULL;
    }
    return t;
}

EVP_MD_CTX *digest_sha256_begin(void)
{
    struct digest_tls *t = tls_get();
    if (!t || !sha256)
        return NULL;
    if (!t->md && !(t->md = EVP_MD_CTX_new()))
        return NULL;
    return EVP_DigestInit_ex2(t->md, sha256, NULL) == 1 ? t->md : NULL;
}

/* Keys t->mac with key (a fresh context and a copy of the key). 0 on success. */
static int mac_rekey(struct digest_tls *t, const void *key, size_t keylen)
{
    EVP_MAC_CTX_free(t->mac);
    OPENSSL_clear_free(t->mac_key, t->mac_key_len);
    t->mac_key = NULL;
    t->mac_key_len = 0;
    t->mac = EVP_MAC_CTX_new(hmac);
    if (!t->mac)
        return -1;
    char digest_name[] = OSSL_DIGEST_NAME_SHA2_256;
    OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest_name, 0),
                           OSSL_PARAM_construct_end()};
    t->mac_key = OPENSSL_malloc(keylen ? keylen : 1);
    /* a NULL key would mean "keep the current one" */
    const void *k = keylen ? key : (const void *)"";
    if (!t->mac_key || EVP_MAC_init(t->mac, k, keylen, params) != 1) {
        EVP_MAC_CTX_free(t->mac);
        OPENSSL_free(t->mac_key);
        t->mac = NULL;
        t->mac_key = NULL;
        return -1;
    }
    if (keylen)
        memcpy(t->mac_key, key, keylen);
    t->mac_key_len = keylen;
    return 0;
}

EVP_MAC_CTX *digest_hmac_sha256_begin(const void *key, size_t keylen)
{
    struct digest_tls *t = tls_get();
    if (!t || !hmac || (!key && keylen))
        return NULL;
    bool same =
        t->mac && t->mac_key_len == keylen && (keylen == 0 || memcmp(t->mac_key, key, keylen) == 0);
    if (!same)
        return mac_rekey(t, key, keylen) == 0 ? t->mac : NULL;
    /* the same key: restart the context, which keeps it */
    return EVP_MAC_init(t->mac, NULL, 0, NULL) == 1 ? t->mac : NULL;
}
