/* test_hubspot_signature.c: unit tests for handlers/hubspot_signature (v1/v2/v3, URI rules).
 *
 * Covers the published HubSpot SDK vectors, the exact percent-escape set v3 decodes, the URI
 * rebuild from a public base URL, the timestamp window at its boundaries, the header selection
 * rules (no fallback from a wrong v3, require_v3) and that error texts never leak secrets.
 * Must not depend on the network, the clock or any other synkro module. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "handlers/hubspot_signature.h"

#define SECRET   "yyyyyyyy-yyyy-yyyy-yyyy-yyyyyyyyyyyy"
#define URI      "https://www.example.com/webhook_uri"
#define BODY     "{'example_field':'example_value'}"
#define TS       "15000000"
#define TS_MS    15000000
#define V1_SIG   "69fc6631a867edd4f9e9e627fc5c1148e3fbdd8b21837b6d2b8901c1fa57f750"
#define V2_SIG   "4fe4e3a7d3cf09db53be39d0a58130e2aaba074ec123a9e355b876a689a1c383"
#define V3_SIG   "HPW73RUtKmcYoEDADG0s6MmGFWUzWJKAW07r8RDgcQw="
#define V1_UPPER "69FC6631A867EDD4F9E9E627FC5C1148E3FBDD8B21837B6D2B8901C1FA57F750"

static struct hubspot_sig_request base_request(void)
{
    struct hubspot_sig_request r = {
        .method = "POST",
        .full_uri = URI,
        .body = BODY,
        .body_len = strlen(BODY),
    };
    return r;
}

/* Verifies and checks that err holds neither the secret nor any expected signature. */
static enum hubspot_sig_result verify(const struct hubspot_sig_request *r, bool require_v3,
                                      int64_t now)
{
    char err[256];
    enum hubspot_sig_result res =
        hubspot_signature_verify(r, SECRET, require_v3, now, err, sizeof(err));

    assert_null(strstr(err, SECRET));
    assert_null(strstr(err, V1_SIG));
    assert_null(strstr(err, V2_SIG));
    assert_null(strstr(err, V3_SIG));
    if (res == HS_SIG_OK)
        assert_string_equal(err, "");
    else
        assert_true(strlen(err) > 0);
    return res;
}

static void assert_canonical(const char *in, const char *want)
{
    char out[512];
    char *dup;

    assert_int_equal(hubspot_uri_canonicalize(in, out, sizeof(out)), 0);
    assert_string_equal(out, want);
    dup = hubspot_uri_canonicalize_dup(in);
    assert_non_null(dup);
    assert_string_equal(dup, want);
    free(dup);
}

static void test_published_vectors(void **state)
{
    char out[HUBSPOT_SIG_HEX_SIZE];
    char v3[HUBSPOT_SIG_V3_SIZE];

    assert_int_equal(hubspot_sign_v1(SECRET, BODY, strlen(BODY), out, sizeof(out)), 0);
    assert_string_equal(out, V1_SIG);
    assert_int_equal(hubspot_sign_v2(SECRET, "POST", URI, BODY, strlen(BODY), out, sizeof(out)), 0);
    assert_string_equal(out, V2_SIG);
    assert_int_equal(hubspot_sign_v3(SECRET, "POST", URI, BODY, strlen(BODY), TS, v3, sizeof(v3)),
                     0);
    assert_string_equal(v3, V3_SIG);
}

static void test_verify_published_vectors(void **state)
{
    struct hubspot_sig_request r = base_request();

    r.signature = V1_SIG;
    assert_int_equal(verify(&r, false, TS_MS), HS_SIG_OK);
    r.signature_version = "v1";
    assert_int_equal(verify(&r, false, TS_MS), HS_SIG_OK);
    r.signature = V2_SIG;
    r.signature_version = "v2";
    assert_int_equal(verify(&r, false, TS_MS), HS_SIG_OK);

    r = base_request();
    r.signature_v3 = V3_SIG;
    r.timestamp = TS;
    assert_int_equal(verify(&r, false, TS_MS), HS_SIG_OK);
    assert_int_equal(verify(&r, true, TS_MS + 1000), HS_SIG_OK);
}

static void test_sign_rejects_bad_arguments(void **state)
{
    char out[HUBSPOT_SIG_HEX_SIZE];
    char v3[HUBSPOT_SIG_V3_SIZE];

    assert_int_equal(hubspot_sign_v1(NULL, BODY, 1, out, sizeof(out)), -1);
    assert_int_equal(hubspot_sign_v1("", BODY, 1, out, sizeof(out)), -1);
    assert_int_equal(hubspot_sign_v1(SECRET, NULL, 1, out, sizeof(out)), -1);
    assert_int_equal(hubspot_sign_v1(SECRET, BODY, 1, out, sizeof(out) - 1), -1);
    assert_int_equal(hubspot_sign_v1(SECRET, NULL, 0, out, sizeof(out)), 0);
    assert_int_equal(hubspot_sign_v2(SECRET, NULL, URI, BODY, 1, out, sizeof(out)), -1);
    assert_int_equal(hubspot_sign_v3(SECRET, "POST", URI, BODY, 1, NULL, v3, sizeof(v3)), -1);
    assert_int_equal(hubspot_sign_v3(SECRET, "POST", URI, BODY, 1, TS, v3, sizeof(v3) - 1), -1);
}

static void test_canonicalize_decodes_exact_set(void **state)
{
    assert_canonical("https://h/p?a=%3A%2f&b=%20%E2%82%AC", "https://h/p?a=:/&b=%20%E2%82%AC");
    assert_canonical("%3A%2F%3F%40%21%24%27%28%29%2A%2C%3B", ":/?@!$'()*,;");
    assert_canonical("%3a%2f%3f%40%21%24%27%28%29%2a%2c%3b", ":/?@!$'()*,;");
    /* Everything else stays as sent, case included. */
    assert_canonical("%20%2B%2b%3D%3d%26%25%5B%5d%e2%82%ac%7E%23",
                     "%20%2B%2b%3D%3d%26%25%5B%5d%e2%82%ac%7E%23");
    /* Single pass: a decoded %25 would not be re-read, and %25 itself is kept. */
    assert_canonical("%253A", "%253A");
    assert_canonical("%%3A", "%:");
    assert_canonical("", "");
    assert_canonical("plain/path?x=1", "plain/path?x=1");
}

static void test_canonicalize_truncated_escapes(void **state)
{
    assert_canonical("%", "%");
    assert_canonical("%3", "%3");
    assert_canonical("abc%", "abc%");
    assert_canonical("abc%3", "abc%3");
    assert_canonical("%G1%3G%3", "%G1%3G%3");
    assert_canonical("a%3Ab%3", "a:b%3");
}

static void test_canonicalize_small_buffer(void **state)
{
    char out[8] = "junk";

    assert_int_equal(hubspot_uri_canonicalize("%3A%3A%3A", out, 4), 0);
    assert_string_equal(out, ":::");
    memcpy(out, "junk", 5);
    assert_int_equal(hubspot_uri_canonicalize("abcd", out, 4), -1);
    assert_string_equal(out, "");
    assert_int_equal(hubspot_uri_canonicalize("", out, 1), 0);
    assert_int_equal(hubspot_uri_canonicalize("a", out, 0), -1);
    assert_int_equal(hubspot_uri_canonicalize(NULL, out, sizeof(out)), -1);
    assert_int_equal(hubspot_uri_canonicalize("a", NULL, 4), -1);
    assert_null(hubspot_uri_canonicalize_dup(NULL));
}

static void assert_full_uri(const char *base, const char *path, const char *query, const char *want)
{
    char *got = hubspot_build_full_uri(base, path, query);

    assert_non_null(got);
    assert_string_equal(got, want);
    free(got);
}

static void test_build_full_uri(void **state)
{
    assert_full_uri("https://hooks.example.com", "/webhooks/hubspot", NULL,
                    "https://hooks.example.com/webhooks/hubspot");
    assert_full_uri("https://hooks.example.com/", "/webhooks/hubspot", "",
                    "https://hooks.example.com/webhooks/hubspot");
    assert_full_uri("https://example.com/synkro", "/webhooks/hubspot", "x=1",
                    "https://example.com/synkro/webhooks/hubspot?x=1");
    assert_full_uri("https://example.com/synkro//", "webhooks/hubspot", "b=2&a=%3a%20",
                    "https://example.com/synkro/webhooks/hubspot?b=2&a=%3a%20");
    assert_full_uri("https://h", NULL, NULL, "https://h/");
    assert_full_uri("https://h", "", "q", "https://h/?q");
    assert_null(hubspot_build_full_uri(NULL, "/p", NULL));
    assert_null(hubspot_build_full_uri("", "/p", NULL));
}

/* HMAC over an already canonical URI, computed independently of the module. */
static void reference_v3(const char *canonical_uri, const char *body, const char *ts, char *out)
{
    char msg[1024];
    unsigned char md[32];
    unsigned int mdlen = 0;
    int n = snprintf(msg, sizeof(msg), "POST%s%s%s", canonical_uri, body, ts);

    assert_true(n > 0 && (size_t)n < sizeof(msg));
    assert_non_null(HMAC(EVP_sha256(), SECRET, (int)strlen(SECRET), (unsigned char *)msg, (size_t)n,
                         md, &mdlen));
    assert_int_equal(mdlen, 32);
    assert_int_equal(EVP_EncodeBlock((unsigned char *)out, md, 32), 44);
}

static void test_v3_with_query_and_escapes(void **state)
{
    const char *raw = "https://hooks.example.com/synkro/webhooks/hubspot?a=%3A%2f&b=%20%E2%82%AC";
    const char *canonical = "https://hooks.example.com/synkro/webhooks/hubspot?a=:/&b=%20%E2%82%AC";
    char want[HUBSPOT_SIG_V3_SIZE];
    char got[HUBSPOT_SIG_V3_SIZE];
    struct hubspot_sig_request r = base_request();
    char *full = hubspot_build_full_uri("https://hooks.example.com/synkro/", "/webhooks/hubspot",
                                        "a=%3A%2f&b=%20%E2%82%AC");

    assert_non_null(full);
    assert_string_equal(full, raw);
    reference_v3(canonical, BODY, "1700000000000", want);
    assert_int_equal(
        hubspot_sign_v3(SECRET, "POST", raw, BODY, strlen(BODY), "1700000000000", got, sizeof(got)),
        0);
    assert_string_equal(got, want);

    r.full_uri = full;
    r.signature_v3 = want;
    r.timestamp = "1700000000000";
    assert_int_equal(verify(&r, true, 1700000000500LL), HS_SIG_OK);
    /* A signature over the undecoded URI must not verify. */
    reference_v3(raw, BODY, "1700000000000", got);
    r.signature_v3 = got;
    assert_int_equal(verify(&r, true, 1700000000500LL), HS_SIG_BAD);
    /* Changing an escape that is kept (case of %e2) changes the signature. */
    r.signature_v3 = want;
    r.full_uri = "https://hooks.example.com/synkro/webhooks/hubspot?a=%3A%2f&b=%20%e2%82%AC";
    assert_int_equal(verify(&r, true, 1700000000500LL), HS_SIG_BAD);
    free(full);
}

static void test_v3_timestamp_window(void **state)
{
    struct hubspot_sig_request r = base_request();

    r.signature_v3 = V3_SIG;
    r.timestamp = TS;
    assert_int_equal(verify(&r, false, TS_MS + HUBSPOT_SIG_MAX_AGE_MS), HS_SIG_OK);
    assert_int_equal(verify(&r, false, TS_MS + HUBSPOT_SIG_MAX_AGE_MS + 1), HS_SIG_STALE);
    assert_int_equal(verify(&r, false, TS_MS - HUBSPOT_SIG_MAX_FUTURE_MS), HS_SIG_OK);
    assert_int_equal(verify(&r, false, TS_MS - HUBSPOT_SIG_MAX_FUTURE_MS - 1), HS_SIG_FUTURE);
    assert_int_equal(verify(&r, false, INT64_MAX), HS_SIG_STALE);
    assert_int_equal(verify(&r, false, INT64_MIN), HS_SIG_FUTURE);
    assert_int_equal(verify(&r, false, 0), HS_SIG_FUTURE);
    /* The window is checked before the HMAC: a stale wrong signature is STALE. */
    r.signature_v3 = "AAAA";
    assert_int_equal(verify(&r, false, TS_MS + 400000), HS_SIG_STALE);
}

static void test_v3_bad_timestamp(void **state)
{
    static const char *const bad[] = {"",          "abc",       "-5",        "15000000.0",
                                      " 15000000", "15000000 ", "+15000000", "99999999999999999999",
                                      "0x10"};
    struct hubspot_sig_request r = base_request();

    r.signature_v3 = V3_SIG;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        r.timestamp = bad[i];
        assert_int_equal(verify(&r, false, TS_MS), HS_SIG_BAD_TIMESTAMP);
    }
    r.timestamp = "015000000"; /* leading zero: still an integer, but signed text differs */
    assert_int_equal(verify(&r, false, TS_MS), HS_SIG_BAD);
    r.timestamp = "9223372036854775807";
    assert_int_equal(verify(&r, false, TS_MS), HS_SIG_FUTURE);
}

static void test_missing_headers(void **state)
{
    struct hubspot_sig_request r = base_request();

    assert_int_equal(verify(&r, false, TS_MS), HS_SIG_MISSING);
    assert_int_equal(verify(&r, true, TS_MS), HS_SIG_MISSING);
    r.signature_v3 = V3_SIG; /* v3 without timestamp */
    assert_int_equal(verify(&r, false, TS_MS), HS_SIG_MISSING);
    r.signature = V1_SIG; /* a valid v1 does not rescue a v3 without timestamp */
    assert_int_equal(verify(&r, false, TS_MS), HS_SIG_MISSING);
    r = base_request();
    r.timestamp = TS; /* timestamp alone */
    assert_int_equal(verify(&r, false, TS_MS), HS_SIG_MISSING);
}

static void test_wrong_signatures(void **state)
{
    struct hubspot_sig_request r = base_request();
    char sig[80];

    r.signature_v3 = "HPW73RUtKmcYoEDADG0s6MmGFWUzWJKAW07r8RDgcQx=";
    r.timestamp = TS;
    assert_int_equal(verify(&r, false, TS_MS), HS_SIG_BAD);
    r.signature_v3 = "HPW73RUtKmcYoEDADG0s6MmGFWUzWJKAW07r8RDgcQw"; /* one short */
    assert_int_equal(verify(&r, false, TS_MS), HS_SIG_BAD);
    r.signature_v3 = V3_SIG "A"; /* one long */
    assert_int_equal(verify(&r, false, TS_MS), HS_SIG_BAD);
    r.signature_v3 = ""; /* present but empty counts as present */
    assert_int_equal(verify(&r, false, TS_MS), HS_SIG_BAD);
    r.signature_v3 = "hpw73rutkmcyoedadg0s6mmgfwuzwjkaw07r8rdgcqw="; /* base64 is case-sensitive */
    assert_int_equal(verify(&r, false, TS_MS), HS_SIG_BAD);
    r.signature_v3 = V3_SIG;
    r.method = "PUT";
    assert_int_equal(verify(&r, false, TS_MS), HS_SIG_BAD);

    r = base_request();
    snprintf(sig, sizeof(sig), "%s", V1_SIG);
    sig[10] = sig[10] == '0' ? '1' : '0';
    r.signature = sig;
    assert_int_equal(verify(&r, false, TS_MS), HS_SIG_BAD);
    r.signature = V1_SIG "00";
    assert_int_equal(verify(&r, false, TS_MS), HS_SIG_BAD);
    r.signature = V2_SIG; /* v2 value under the default v1 rule */
    assert_int_equal(verify(&r, false, TS_MS), HS_SIG_BAD);
    r.signature_version = "v2";
    r.full_uri = URI "/";
    assert_int_equal(verify(&r, false, TS_MS), HS_SIG_BAD);
    r.full_uri = URI;
    r.signature_version = "v9";
    assert_int_equal(verify(&r, false, TS_MS), HS_SIG_BAD);
}

static void test_require_v3_refuses_v1_v2(void **state)
{
    struct hubspot_sig_request r = base_request();

    r.signature = V1_SIG;
    assert_int_equal(verify(&r, true, TS_MS), HS_SIG_V3_REQUIRED);
    r.signature = V2_SIG;
    r.signature_version = "v2";
    assert_int_equal(verify(&r, true, TS_MS), HS_SIG_V3_REQUIRED);
}

static void test_uppercase_hex_accepted(void **state)
{
    struct hubspot_sig_request r = base_request();
    char v2[HUBSPOT_SIG_HEX_SIZE];

    r.signature = V1_UPPER;
    assert_int_equal(verify(&r, false, TS_MS), HS_SIG_OK);
    for (size_t i = 0; i < sizeof(v2); i++)
        v2[i] = (V2_SIG[i] >= 'a' && V2_SIG[i] <= 'f') ? (char)(V2_SIG[i] - 32) : V2_SIG[i];
    r.signature = v2;
    r.signature_version = "V2";
    assert_int_equal(verify(&r, false, TS_MS), HS_SIG_OK);
}

static void test_body_with_nul(void **state)
{
    static const char body[] = {'[', '"', 'a', '\0', 'b', '"', ']'};
    char v1[HUBSPOT_SIG_HEX_SIZE];
    char v1_short[HUBSPOT_SIG_HEX_SIZE];
    char v3[HUBSPOT_SIG_V3_SIZE];
    struct hubspot_sig_request r = base_request();

    assert_int_equal(hubspot_sign_v1(SECRET, body, sizeof(body), v1, sizeof(v1)), 0);
    assert_int_equal(hubspot_sign_v1(SECRET, body, 3, v1_short, sizeof(v1_short)), 0);
    assert_string_not_equal(v1, v1_short);
    assert_int_equal(hubspot_sign_v3(SECRET, "POST", URI, body, sizeof(body), TS, v3, sizeof(v3)),
                     0);
    r.body = body;
    r.body_len = sizeof(body);
    r.signature = v1;
    assert_int_equal(verify(&r, false, TS_MS), HS_SIG_OK);
    r.signature_v3 = v3;
    r.timestamp = TS;
    assert_int_equal(verify(&r, true, TS_MS), HS_SIG_OK);
    r.body_len = 3; /* everything after the NUL counts */
    assert_int_equal(verify(&r, true, TS_MS), HS_SIG_BAD);
}

static void test_wrong_v3_does_not_fall_back(void **state)
{
    struct hubspot_sig_request r = base_request();

    r.signature = V1_SIG; /* valid v1 */
    r.signature_v3 = "HPW73RUtKmcYoEDADG0s6MmGFWUzWJKAW07r8RDgcQx=";
    r.timestamp = TS;
    assert_int_equal(verify(&r, false, TS_MS), HS_SIG_BAD);
    r.signature_v3 = V3_SIG; /* valid v3 with a stale timestamp: no fallback either */
    assert_int_equal(verify(&r, false, TS_MS + 10 * 60 * 1000), HS_SIG_STALE);
}

static void test_internal_errors_and_names(void **state)
{
    struct hubspot_sig_request r = base_request();
    char err[64];

    r.signature = V1_SIG;
    assert_int_equal(hubspot_signature_verify(&r, NULL, false, 0, err, sizeof(err)),
                     HS_SIG_INTERNAL_ERROR);
    assert_int_equal(hubspot_signature_verify(&r, "", false, 0, err, sizeof(err)),
                     HS_SIG_INTERNAL_ERROR);
    assert_int_equal(hubspot_signature_verify(NULL, SECRET, false, 0, err, sizeof(err)),
                     HS_SIG_INTERNAL_ERROR);
    r.method = NULL;
    assert_int_equal(hubspot_signature_verify(&r, SECRET, false, 0, NULL, 0),
                     HS_SIG_INTERNAL_ERROR);
    r = base_request();
    r.signature = V1_SIG;
    assert_int_equal(hubspot_signature_verify(&r, SECRET, false, 0, err, 1), HS_SIG_OK);
    assert_int_equal(hubspot_signature_verify(&r, "other-secret", false, 0, err, 8), HS_SIG_BAD);
    assert_int_equal(strlen(err), 7);

    assert_string_equal(hubspot_sig_result_name(HS_SIG_OK), "ok");
    assert_string_equal(hubspot_sig_result_name(HS_SIG_STALE), "stale");
    assert_string_equal(hubspot_sig_result_name(HS_SIG_INTERNAL_ERROR), "internal_error");
    assert_string_equal(hubspot_sig_result_name((enum hubspot_sig_result) - 99), "unknown");
    assert_string_equal(hubspot_sig_result_name((enum hubspot_sig_result)5), "unknown");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_published_vectors),
        cmocka_unit_test(test_verify_published_vectors),
        cmocka_unit_test(test_sign_rejects_bad_arguments),
        cmocka_unit_test(test_canonicalize_decodes_exact_set),
        cmocka_unit_test(test_canonicalize_truncated_escapes),
        cmocka_unit_test(test_canonicalize_small_buffer),
        cmocka_unit_test(test_build_full_uri),
        cmocka_unit_test(test_v3_with_query_and_escapes),
        cmocka_unit_test(test_v3_timestamp_window),
        cmocka_unit_test(test_v3_bad_timestamp),
        cmocka_unit_test(test_missing_headers),
        cmocka_unit_test(test_wrong_signatures),
        cmocka_unit_test(test_require_v3_refuses_v1_v2),
        cmocka_unit_test(test_uppercase_hex_accepted),
        cmocka_unit_test(test_body_with_nul),
        cmocka_unit_test(test_wrong_v3_does_not_fall_back),
        cmocka_unit_test(test_internal_errors_and_names),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
