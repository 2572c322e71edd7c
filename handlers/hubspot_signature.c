/* hubspot_signature.c: HubSpot webhook signatures v1/v2/v3, URI canonicalisation and rebuild.
 *
 * Owns the byte-exact formulas from the HubSpot reference (docs: reference/hubspot.md,
 * "Signatures"), the set of percent-escapes v3 decodes, the timestamp window and the
 * constant-time comparison of a received signature with the expected one.
 *
 * Design: every digest is streamed through EVP (SHA-256 via EVP_MD_CTX, HMAC via EVP_MAC), so the
 * body is never copied. The expected signature is rendered as text and compared with the received
 * text through CRYPTO_memcmp on a fixed-length buffer; the received length only feeds a final
 * equality flag. Tables, not if-chains, classify characters and results.
 *
 * Must not: log, keep state between calls (the per-thread digest contexts are base/digest.c's),
 * reveal the secret or an expected signature in err, or treat a present v3 header as absent. */
#include "handlers/hubspot_signature.h"

#include "base/digest.h"
#include "base/hexenc.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define SHA256_LEN 32

/* Hex digit value + 1, indexed by unsigned char; 0 means "not a hex digit". */
static const signed char hex_value[256] = {
    ['0'] = 1,  ['1'] = 2,  ['2'] = 3,  ['3'] = 4,  ['4'] = 5,  ['5'] = 6,  ['6'] = 7,  ['7'] = 8,
    ['8'] = 9,  ['9'] = 10, ['a'] = 11, ['b'] = 12, ['c'] = 13, ['d'] = 14, ['e'] = 15, ['f'] = 16,
    ['A'] = 11, ['B'] = 12, ['C'] = 13, ['D'] = 14, ['E'] = 15, ['F'] = 16,
};

/* The characters whose escapes v3 decodes before hashing; every other escape stays as sent. */
static const bool uri_decodes[256] = {
    [':'] = true,  ['/'] = true, ['?'] = true, ['@'] = true, ['!'] = true, ['$'] = true,
    ['\''] = true, ['('] = true, [')'] = true, ['*'] = true, [','] = true, [';'] = true,
};

static const char *const result_names[] = {
    [-HS_SIG_OK] = "ok",
    [-HS_SIG_MISSING] = "missing",
    [-HS_SIG_BAD] = "bad",
    [-HS_SIG_STALE] = "stale",
    [-HS_SIG_FUTURE] = "future",
    [-HS_SIG_V3_REQUIRED] = "v3_required",
    [-HS_SIG_BAD_TIMESTAMP] = "bad_timestamp",
    [-HS_SIG_INTERNAL_ERROR] = "internal_error",
};

/* A run of bytes fed to a digest. */
struct part {
    const void *data;
    size_t len;
};

__attribute__((format(printf, 3, 4))) static void set_err(char *err, size_t errlen, const char *fmt,
                                                          ...)
{
    va_list ap;

    if (err == NULL || errlen == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

static int hex_of(unsigned char c)
{
    return hex_value[c] - 1;
}

int hubspot_uri_canonicalize(const char *uri, char *out, size_t outlen)
{
    size_t o = 0;

    if (out != NULL && outlen > 0)
        out[0] = '\0';
    if (uri == NULL || out == NULL || outlen == 0)
        return -1;
    for (size_t i = 0; uri[i] != '\0'; i++) {
        char c = uri[i];

        if (c == '%' && hex_of((unsigned char)uri[i + 1]) >= 0 &&
            hex_of((unsigned char)uri[i + 2]) >= 0) {
            unsigned char v = (unsigned char)(hex_of((unsigned char)uri[i + 1]) * 16 +
                                              hex_of((unsigned char)uri[i + 2]));
            if (uri_decodes[v]) {
                c = (char)v;
                i += 2;
            }
        }
        if (o + 1 >= outlen) {
            out[0] = '\0';
            return -1;
        }
        out[o++] = c;
    }
    out[o] = '\0';
    return 0;
}

char *hubspot_uri_canonicalize_dup(const char *uri)
{
    size_t n;
    char *out;

    if (uri == NULL)
        return NULL;
    n = strlen(uri) + 1;
    out = malloc(n);
    if (out == NULL)
        return NULL;
    if (hubspot_uri_canonicalize(uri, out, n) != 0) {
        free(out);
        return NULL;
    }
    return out;
}

char *hubspot_build_full_uri(const char *public_base_url, const char *path, const char *query)
{
    size_t base_len, path_len, query_len, total, o = 0;
    bool add_slash;
    char *out;

    if (public_base_url == NULL || public_base_url[0] == '\0')
        return NULL;
    base_len = strlen(public_base_url);
    while (base_len > 0 && public_base_url[base_len - 1] == '/')
        base_len--;
    if (path == NULL)
        path = "";
    path_len = strlen(path);
    add_slash = path[0] != '/';
    query_len = query != NULL ? strlen(query) : 0;
    total = base_len + (add_slash ? 1 : 0) + path_len + (query_len > 0 ? query_len + 1 : 0) + 1;
    out = malloc(total);
    if (out == NULL)
        return NULL;
    memcpy(out, public_base_url, base_len);
    o = base_len;
    if (add_slash)
        out[o++] = '/';
    memcpy(out + o, path, path_len);
    o += path_len;
    if (query_len > 0) {
        out[o++] = '?';
        memcpy(out + o, query, query_len);
        o += query_len;
    }
    out[o] = '\0';
    return out;
}

/* Both digests use this thread's context (base/digest.h): no per-request fetch or allocation. */
static int sha256_parts(const struct part *parts, size_t nparts, unsigned char md[SHA256_LEN])
{
    EVP_MD_CTX *ctx = digest_sha256_begin();
    unsigned int mdlen = 0;
    bool ok = ctx != NULL;

    for (size_t i = 0; ok && i < nparts; i++)
        ok = EVP_DigestUpdate(ctx, parts[i].data, parts[i].len) == 1;
    ok = ok && EVP_DigestFinal_ex(ctx, md, &mdlen) == 1 && mdlen == SHA256_LEN;
    return ok ? 0 : -1;
}

static int hmac_sha256_parts(const char *key, const struct part *parts, size_t nparts,
                             unsigned char md[SHA256_LEN])
{
    EVP_MAC_CTX *ctx = digest_hmac_sha256_begin(key, strlen(key));
    size_t mdlen = 0;
    bool ok = ctx != NULL;

    for (size_t i = 0; ok && i < nparts; i++)
        ok = EVP_MAC_update(ctx, parts[i].data, parts[i].len) == 1;
    ok = ok && EVP_MAC_final(ctx, md, &mdlen, SHA256_LEN) == 1 && mdlen == SHA256_LEN;
    return ok ? 0 : -1;
}

static bool body_ok(const void *body, size_t body_len)
{
    return body != NULL || body_len == 0;
}

int hubspot_sign_v1(const char *secret, const void *body, size_t body_len, char *out, size_t outlen)
{
    unsigned char md[SHA256_LEN];
    struct part parts[2];

    if (secret == NULL || secret[0] == '\0' || !body_ok(body, body_len) || out == NULL ||
        outlen < HUBSPOT_SIG_HEX_SIZE)
        return -1;
    parts[0] = (struct part){secret, strlen(secret)};
    parts[1] = (struct part){body, body_len};
    if (sha256_parts(parts, 2, md) != 0)
        return -1;
    hex_encode(md, SHA256_LEN, out);
    OPENSSL_cleanse(md, sizeof(md));
    return 0;
}

int hubspot_sign_v2(const char *secret, const char *method, const char *uri, const void *body,
                    size_t body_len, char *out, size_t outlen)
{
    unsigned char md[SHA256_LEN];
    struct part parts[4];

    if (secret == NULL || secret[0] == '\0' || method == NULL || uri == NULL ||
        !body_ok(body, body_len) || out == NULL || outlen < HUBSPOT_SIG_HEX_SIZE)
        return -1;
    parts[0] = (struct part){secret, strlen(secret)};
    parts[1] = (struct part){method, strlen(method)};
    parts[2] = (struct part){uri, strlen(uri)};
    parts[3] = (struct part){body, body_len};
    if (sha256_parts(parts, 4, md) != 0)
        return -1;
    hex_encode(md, SHA256_LEN, out);
    OPENSSL_cleanse(md, sizeof(md));
    return 0;
}

int hubspot_sign_v3(const char *secret, const char *method, const char *uri, const void *body,
                    size_t body_len, const char *timestamp, char *out, size_t outlen)
{
    unsigned char md[SHA256_LEN];
    struct part parts[4];
    char *canonical;
    int rc;

    if (secret == NULL || secret[0] == '\0' || method == NULL || uri == NULL || timestamp == NULL ||
        !body_ok(body, body_len) || out == NULL || outlen < HUBSPOT_SIG_V3_SIZE)
        return -1;
    canonical = hubspot_uri_canonicalize_dup(uri);
    if (canonical == NULL)
        return -1;
    parts[0] = (struct part){method, strlen(method)};
    parts[1] = (struct part){canonical, strlen(canonical)};
    parts[2] = (struct part){body, body_len};
    parts[3] = (struct part){timestamp, strlen(timestamp)};
    rc = hmac_sha256_parts(secret, parts, 4, md);
    free(canonical);
    if (rc != 0)
        return -1;
    /* 32 bytes -> 44 characters plus NUL; EVP_EncodeBlock writes the NUL. */
    if (EVP_EncodeBlock((unsigned char *)out, md, SHA256_LEN) != HUBSPOT_SIG_V3_SIZE - 1)
        rc = -1;
    OPENSSL_cleanse(md, sizeof(md));
    return rc;
}

/* Constant-time equality of a received signature with the expected text. The received value is
 * copied into a buffer of the expected length (padded with NUL, uppercase folded when fold_case),
 * so the comparison always touches exactly expected_len bytes; a length mismatch only clears the
 * final flag. */
static bool signature_equal(const char *expected, size_t expected_len, const char *given,
                            bool fold_case)
{
    char buf[HUBSPOT_SIG_HEX_SIZE];
    size_t given_len = strlen(given);
    int diff;

    if (expected_len > sizeof(buf))
        return false;
    for (size_t i = 0; i < expected_len; i++) {
        unsigned char c = i < given_len ? (unsigned char)given[i] : 0;

        if (fold_case && c >= 'A' && c <= 'Z')
            c = (unsigned char)(c | 0x20);
        buf[i] = (char)c;
    }
    diff = CRYPTO_memcmp(buf, expected, expected_len);
    OPENSSL_cleanse(buf, sizeof(buf));
    return (diff == 0) & (given_len == expected_len);
}

/* Parses an epoch-milliseconds header: 1 to 19 ASCII digits, no sign, no spaces, no overflow. */
static int parse_timestamp(const char *s, int64_t *out)
{
    int64_t v = 0;
    size_t i;

    for (i = 0; s[i] != '\0'; i++) {
        int d = s[i] - '0';

        if (d < 0 || d > 9 || v > (INT64_MAX - d) / 10)
            return -1;
        v = v * 10 + d;
    }
    if (i == 0)
        return -1;
    *out = v;
    return 0;
}

static enum hubspot_sig_result verify_v3(const struct hubspot_sig_request *req, const char *secret,
                                         int64_t now_ms, char *err, size_t errlen)
{
    char expected[HUBSPOT_SIG_V3_SIZE];
    int64_t ts;
    bool equal;

    if (req->timestamp == NULL) {
        set_err(err, errlen,
                "X-HubSpot-Signature-v3 was sent without X-HubSpot-Request-Timestamp.");
        return HS_SIG_MISSING;
    }
    if (parse_timestamp(req->timestamp, &ts) != 0) {
        set_err(err, errlen, "X-HubSpot-Request-Timestamp is not a non-negative integer.");
        return HS_SIG_BAD_TIMESTAMP;
    }
    /* Differences in uint64_t: both orders are computed only when positive, so no overflow. */
    if (ts < now_ms && (uint64_t)now_ms - (uint64_t)ts > HUBSPOT_SIG_MAX_AGE_MS) {
        set_err(err, errlen, "Request timestamp is %llu ms old (limit %d ms).",
                (unsigned long long)((uint64_t)now_ms - (uint64_t)ts), HUBSPOT_SIG_MAX_AGE_MS);
        return HS_SIG_STALE;
    }
    if (ts > now_ms && (uint64_t)ts - (uint64_t)now_ms > HUBSPOT_SIG_MAX_FUTURE_MS) {
        set_err(err, errlen, "Request timestamp is %llu ms in the future (limit %d ms).",
                (unsigned long long)((uint64_t)ts - (uint64_t)now_ms), HUBSPOT_SIG_MAX_FUTURE_MS);
        return HS_SIG_FUTURE;
    }
    if (hubspot_sign_v3(secret, req->method, req->full_uri, req->body, req->body_len,
                        req->timestamp, expected, sizeof(expected)) != 0) {
        set_err(err, errlen, "Could not compute the v3 signature.");
        return HS_SIG_INTERNAL_ERROR;
    }
    equal = signature_equal(expected, HUBSPOT_SIG_V3_SIZE - 1, req->signature_v3, false);
    OPENSSL_cleanse(expected, sizeof(expected));
    if (!equal) {
        set_err(err, errlen, "X-HubSpot-Signature-v3 does not match the request.");
        return HS_SIG_BAD;
    }
    return HS_SIG_OK;
}

/* v1 and v2 share the comparison; version selects the formula. */
enum legacy_version { LEGACY_V1, LEGACY_V2, LEGACY_UNKNOWN };

static enum legacy_version legacy_version_of(const char *v)
{
    static const struct {
        const char *name;
        enum legacy_version version;
    } versions[] = {{"v1", LEGACY_V1}, {"v2", LEGACY_V2}};

    if (v == NULL)
        return LEGACY_V1;
    for (size_t i = 0; i < sizeof(versions) / sizeof(versions[0]); i++)
        if (strcasecmp(v, versions[i].name) == 0)
            return versions[i].version;
    return LEGACY_UNKNOWN;
}

static enum hubspot_sig_result verify_legacy(const struct hubspot_sig_request *req,
                                             const char *secret, char *err, size_t errlen)
{
    char expected[HUBSPOT_SIG_HEX_SIZE];
    enum legacy_version version = legacy_version_of(req->signature_version);
    int rc;
    bool equal;

    if (version == LEGACY_UNKNOWN) {
        set_err(err, errlen, "X-HubSpot-Signature-Version is neither v1 nor v2.");
        return HS_SIG_BAD;
    }
    if (version == LEGACY_V2)
        rc = hubspot_sign_v2(secret, req->method, req->full_uri, req->body, req->body_len, expected,
                             sizeof(expected));
    else
        rc = hubspot_sign_v1(secret, req->body, req->body_len, expected, sizeof(expected));
    if (rc != 0) {
        set_err(err, errlen, "Could not compute the %s signature.",
                version == LEGACY_V2 ? "v2" : "v1");
        return HS_SIG_INTERNAL_ERROR;
    }
    equal = signature_equal(expected, HUBSPOT_SIG_HEX_SIZE - 1, req->signature, true);
    OPENSSL_cleanse(expected, sizeof(expected));
    if (!equal) {
        set_err(err, errlen, "X-HubSpot-Signature (%s) does not match the request.",
                version == LEGACY_V2 ? "v2" : "v1");
        return HS_SIG_BAD;
    }
    return HS_SIG_OK;
}

enum hubspot_sig_result hubspot_signature_verify(const struct hubspot_sig_request *req,
                                                 const char *secret, bool require_v3,
                                                 int64_t now_ms, char *err, size_t errlen)
{
    set_err(err, errlen, "%s", "");
    if (req == NULL || secret == NULL || secret[0] == '\0' || req->method == NULL ||
        req->full_uri == NULL || !body_ok(req->body, req->body_len)) {
        set_err(err, errlen, "Signature check called without request, secret, method or URI.");
        return HS_SIG_INTERNAL_ERROR;
    }
    if (req->signature_v3 != NULL)
        return verify_v3(req, secret, now_ms, err, errlen);
    if (req->signature == NULL) {
        set_err(err, errlen, "No X-HubSpot-Signature-v3 or X-HubSpot-Signature header.");
        return HS_SIG_MISSING;
    }
    if (require_v3) {
        set_err(err, errlen, "Only a v1/v2 signature was sent but v3 is required.");
        return HS_SIG_V3_REQUIRED;
    }
    return verify_legacy(req, secret, err, errlen);
}

const char *hubspot_sig_result_name(enum hubspot_sig_result r)
{
    int i = -(int)r;

    if (i < 0 || (size_t)i >= sizeof(result_names) / sizeof(result_names[0]) ||
        result_names[i] == NULL)
        return "unknown";
    return result_names[i];
}
