/* hubspot_signature.h: verify (and produce) HubSpot webhook request signatures v1, v2 and v3.
 *
 * Owns: the canonical form of the request URI that v3 signs, the rebuild of the URI as HubSpot
 * called it (from the configured public base URL, never from our own listener), the three
 * signature formulas, the timestamp window and the constant-time comparison.
 *
 * Design: pure functions over caller-provided buffers; SHA-256, HMAC-SHA256 and base64 come from
 * OpenSSL (EVP), nothing else. The body is raw bytes with an explicit length (it may contain NUL)
 * and is hashed exactly as received. Comparison uses CRYPTO_memcmp over a fixed-length buffer, so
 * only the length of a wrong signature can influence timing. Thread-safe (no shared state).
 *
 * Must not: log (the caller logs), put the client secret or an expected signature into an error
 * text, or fall back from a present-but-wrong v3 signature to v1/v2. */
#ifndef SYNKRO_HANDLERS_HUBSPOT_SIGNATURE_H
#define SYNKRO_HANDLERS_HUBSPOT_SIGNATURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A v3 timestamp older than this (now - ts > limit) is refused. */
#define HUBSPOT_SIG_MAX_AGE_MS 300000
/* A v3 timestamp further than this in the future (ts - now > limit) is refused. */
#define HUBSPOT_SIG_MAX_FUTURE_MS 60000
/* Output sizes including the terminating NUL. */
#define HUBSPOT_SIG_HEX_SIZE 65 /* v1/v2: 64 lowercase hex digits */
#define HUBSPOT_SIG_V3_SIZE  45 /* v3: 44 base64 characters */

enum hubspot_sig_result {
    HS_SIG_OK = 0,
    HS_SIG_MISSING = -1,       /* no usable signature header (or v3 without timestamp) */
    HS_SIG_BAD = -2,           /* signature does not match, or unknown signature version */
    HS_SIG_STALE = -3,         /* v3 timestamp more than HUBSPOT_SIG_MAX_AGE_MS old */
    HS_SIG_FUTURE = -4,        /* v3 timestamp more than HUBSPOT_SIG_MAX_FUTURE_MS ahead */
    HS_SIG_V3_REQUIRED = -5,   /* only v1/v2 given while v3 is required */
    HS_SIG_BAD_TIMESTAMP = -6, /* X-HubSpot-Request-Timestamp is not a non-negative integer */
    HS_SIG_INTERNAL_ERROR =
        -7, /* bad arguments (NULL, empty secret), allocation or crypto failure */
};

/* The request as received. Header values are NULL when the header is absent; a header that is
 * present with an empty value counts as present. full_uri comes from hubspot_build_full_uri(). */
struct hubspot_sig_request {
    const char *method;   /* "POST" */
    const char *full_uri; /* https://host[/prefix]/path[?raw-query], not yet canonical */
    const void *body;     /* raw bytes; may be NULL when body_len is 0 */
    size_t body_len;
    const char *signature_v3;      /* X-HubSpot-Signature-v3 */
    const char *timestamp;         /* X-HubSpot-Request-Timestamp, as received */
    const char *signature;         /* X-HubSpot-Signature (v1/v2) */
    const char *signature_version; /* X-HubSpot-Signature-Version: "v1", "v2" or NULL */
};

/* Decodes exactly %3A %2F %3F %40 %21 %24 %27 %28 %29 %2A %2C %3B (either hex case) and copies
 * everything else (other escapes with their case, truncated escapes like "%3" or "%") as sent.
 * The result is never longer than uri. Returns 0, or -1 when an argument is NULL or out (outlen
 * bytes, NUL included) is too small; then out holds "" when outlen > 0. */
int hubspot_uri_canonicalize(const char *uri, char *out, size_t outlen);

/* Same as hubspot_uri_canonicalize() into a new string. Caller frees with free(). NULL on
 * allocation failure or NULL uri. */
char *hubspot_uri_canonicalize_dup(const char *uri);

/* The URI as HubSpot called it: public_base_url with trailing '/' removed ("https://h" or
 * "https://h/prefix"), then path (a '/' is inserted when path does not start with one; NULL or ""
 * gives "/"), then "?" + query when query is non-NULL and non-empty. path and query must be the
 * raw, still percent-encoded strings as received; query is without its leading '?' and is copied
 * byte for byte. Caller frees the result with free(). NULL on NULL/empty base or allocation
 * failure. */
char *hubspot_build_full_uri(const char *public_base_url, const char *path, const char *query);

/* Producers (for the simulator, benchmark and tests). Each writes a NUL-terminated signature into
 * out and returns 0, or -1 on NULL/empty secret, NULL arguments, outlen too small or crypto
 * failure. */
/* v1: hex(SHA-256(secret + body)); out needs HUBSPOT_SIG_HEX_SIZE bytes. */
int hubspot_sign_v1(const char *secret, const void *body, size_t body_len, char *out,
                    size_t outlen);
/* v2: hex(SHA-256(secret + method + uri + body)); uri is used as given (not canonicalised). */
int hubspot_sign_v2(const char *secret, const char *method, const char *uri, const void *body,
                    size_t body_len, char *out, size_t outlen);
/* v3: base64(HMAC-SHA256(secret, method + canonical(uri) + body + timestamp)); uri is
 * canonicalised here; timestamp is the header text exactly as it will be sent. out needs
 * HUBSPOT_SIG_V3_SIZE bytes. */
int hubspot_sign_v3(const char *secret, const char *method, const char *uri, const void *body,
                    size_t body_len, const char *timestamp, char *out, size_t outlen);

/* Verifies req against secret. If signature_v3 is present only v3 is checked (timestamp required,
 * window checked before the HMAC). Otherwise, unless require_v3, X-HubSpot-Signature is checked
 * as v2 when signature_version is "v2" and as v1 when it is "v1" or absent (hex compared
 * case-insensitively). now_ms is the current epoch time in milliseconds. err (may be NULL)
 * receives a plain sentence on failure; it never contains the secret or an expected signature. */
enum hubspot_sig_result hubspot_signature_verify(const struct hubspot_sig_request *req,
                                                 const char *secret, bool require_v3,
                                                 int64_t now_ms, char *err, size_t errlen);

/* Stable lowercase name for logs and metrics ("ok", "missing", "bad", ...). Never NULL. */
const char *hubspot_sig_result_name(enum hubspot_sig_result r);

#endif
