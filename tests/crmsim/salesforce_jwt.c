/* salesforce_jwt.c: verification of Salesforce JWT bearer assertions (RS256 compact JWS) and
 * loading of the verifying public key.
 *
 * Pure: no simulator state, no logging. The assertion must be exactly three base64url parts, the
 * header must say alg RS256, the RSA-SHA256 signature must verify over "header.payload" with the
 * configured key, and the claims must be a JSON object; the caller checks iss/sub/aud/exp against
 * its configuration. The key may be a PEM public key or a PEM certificate (what a connected app is
 * given). */
#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/crmsim/salesforce.h"

#define JWT_MAX_LEN 16384

EVP_PKEY *sf_jwt_load_key(const char *pem, size_t len, char *err, size_t errlen)
{
    if (!pem || len == 0 || len > 65536) {
        snprintf(err, errlen, "no public key configured");
        return NULL;
    }
    BIO *bio = BIO_new_mem_buf(pem, (int)len);
    if (!bio) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    EVP_PKEY *key = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
    if (!key) {
        (void)BIO_reset(bio);
        X509 *cert = PEM_read_bio_X509(bio, NULL, NULL, NULL);
        if (cert) {
            key = X509_get_pubkey(cert);
            X509_free(cert);
        }
    }
    BIO_free(bio);
    if (!key)
        snprintf(err, errlen, "the configured key is not a PEM public key or certificate");
    return key;
}

static json_object *decode_json_part(const char *p, size_t len)
{
    size_t n = 0;
    unsigned char *raw = util_base64url_decode(p, len, &n);
    if (!raw)
        return NULL;
    char err[64];
    json_object *o = json_parse_buf((const char *)raw, n, NULL, err, sizeof err);
    free(raw);
    if (o && !json_object_is_type(o, json_type_object)) {
        json_object_put(o);
        return NULL;
    }
    return o;
}

static void copy_claim(json_object *claims, const char *key, char *out, size_t outlen)
{
    json_object *v = json_get(claims, key);
    out[0] = '\0';
    if (v && json_object_is_type(v, json_type_string))
        snprintf(out, outlen, "%s", json_object_get_string(v));
    else if (v && json_object_is_type(v, json_type_array) && json_object_array_length(v) > 0 &&
             json_object_is_type(json_object_array_get_idx(v, 0), json_type_string))
        snprintf(out, outlen, "%s", json_object_get_string(json_object_array_get_idx(v, 0)));
}

int sf_jwt_verify(const char *assertion, EVP_PKEY *key, struct sf_jwt_claims *claims, char *err,
                  size_t errlen)
{
    memset(claims, 0, sizeof *claims);
    size_t len = assertion ? strlen(assertion) : 0;
    if (len == 0 || len > JWT_MAX_LEN) {
        snprintf(err, errlen, "assertion is missing or too long");
        return -1;
    }
    const char *dot1 = strchr(assertion, '.');
    const char *dot2 = dot1 ? strchr(dot1 + 1, '.') : NULL;
    if (!dot1 || !dot2 || strchr(dot2 + 1, '.')) {
        snprintf(err, errlen, "assertion is not a compact JWS (three dot-separated parts)");
        return -1;
    }
    json_object *header = decode_json_part(assertion, (size_t)(dot1 - assertion));
    if (!header) {
        snprintf(err, errlen, "assertion header is not base64url JSON");
        return -1;
    }
    const char *alg = json_get_str(header, "alg");
    bool rs256 = alg && strcmp(alg, "RS256") == 0;
    json_object_put(header);
    if (!rs256) {
        snprintf(err, errlen, "assertion alg must be RS256");
        return -1;
    }
    size_t siglen = 0;
    unsigned char *sig = util_base64url_decode(dot2 + 1, strlen(dot2 + 1), &siglen);
    if (!sig || siglen == 0) {
        free(sig);
        snprintf(err, errlen, "assertion signature is not base64url");
        return -1;
    }
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int ok = ctx && EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, key) == 1 &&
             EVP_DigestVerify(ctx, sig, siglen, (const unsigned char *)assertion,
                              (size_t)(dot2 - assertion)) == 1;
    EVP_MD_CTX_free(ctx);
    free(sig);
    if (!ok) {
        snprintf(err, errlen, "assertion signature does not verify");
        return -1;
    }
    json_object *payload = decode_json_part(dot1 + 1, (size_t)(dot2 - dot1 - 1));
    if (!payload) {
        snprintf(err, errlen, "assertion claims are not base64url JSON");
        return -1;
    }
    copy_claim(payload, "iss", claims->iss, sizeof claims->iss);
    copy_claim(payload, "sub", claims->sub, sizeof claims->sub);
    copy_claim(payload, "aud", claims->aud, sizeof claims->aud);
    json_object *exp = json_get(payload, "exp");
    if (exp &&
        (json_object_is_type(exp, json_type_int) || json_object_is_type(exp, json_type_double)))
        claims->exp = json_object_get_int64(exp);
    json_object_put(payload);
    return 0;
}
