/* fuzz_hubspot_uri.c: libFuzzer target for the v3 URI rules and signature round trips.
 *
 * Splits the input into base URL, path, query and body (separated by 0x01 bytes), then checks:
 * hubspot_uri_canonicalize() against a naive reference decoder, that it never grows the input,
 * is idempotent and honours exact buffer sizes; hubspot_build_full_uri() layout; and that a v3
 * and a v1 signature produced for the request verify, while a one-character change does not.
 * Must not: write files or keep state between inputs. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "handlers/hubspot_signature.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define SECRET "fuzz-secret-0123456789"
#define TS     "1700000000000"
#define TS_MS  1700000000000LL

static void check(int cond, const char *what)
{
    if (!cond) {
        fprintf(stderr, "invariant violated: %s\n", what);
        abort();
    }
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Deliberately different shape from the module: explicit length, strchr on the allowed set. */
static void reference_canonicalize(const char *in, size_t n, char *out)
{
    size_t o = 0;

    for (size_t i = 0; i < n; i++) {
        if (in[i] == '%' && i + 2 < n && hexval(in[i + 1]) >= 0 && hexval(in[i + 2]) >= 0) {
            char v = (char)(hexval(in[i + 1]) * 16 + hexval(in[i + 2]));

            if (v != '\0' && strchr(":/?@!$'()*,;", v) != NULL) {
                out[o++] = v;
                i += 2;
                continue;
            }
        }
        out[o++] = in[i];
    }
    out[o] = '\0';
}

static void check_canonical(const char *s)
{
    size_t n = strlen(s);
    char *out = malloc(n + 1), *ref = malloc(n + 1), *twice = malloc(n + 1), *dup;
    size_t m;

    check(out && ref && twice, "malloc");
    check(hubspot_uri_canonicalize(s, out, n + 1) == 0, "fits in input size");
    reference_canonicalize(s, n, ref);
    check(strcmp(out, ref) == 0, "matches reference");
    m = strlen(out);
    check(m <= n, "never grows");
    check(hubspot_uri_canonicalize(out, twice, n + 1) == 0 && strcmp(out, twice) == 0,
          "idempotent");
    check(hubspot_uri_canonicalize(s, twice, m + 1) == 0 && strcmp(out, twice) == 0,
          "exact size fits");
    check(hubspot_uri_canonicalize(s, twice, m) == -1 && (m == 0 || twice[0] == '\0'),
          "one short fails cleanly");
    dup = hubspot_uri_canonicalize_dup(s);
    check(dup != NULL && strcmp(dup, out) == 0, "dup");
    free(dup);
    free(out);
    free(ref);
    free(twice);
}

static void check_signatures(const char *uri, const char *body, size_t body_len)
{
    struct hubspot_sig_request r = {
        .method = "POST", .full_uri = uri, .body = body, .body_len = body_len};
    char v3[HUBSPOT_SIG_V3_SIZE], v1[HUBSPOT_SIG_HEX_SIZE];
    char err[256];

    check(hubspot_sign_v3(SECRET, "POST", uri, body, body_len, TS, v3, sizeof(v3)) == 0, "v3");
    check(hubspot_sign_v1(SECRET, body, body_len, v1, sizeof(v1)) == 0, "v1");
    r.signature_v3 = v3;
    r.timestamp = TS;
    check(hubspot_signature_verify(&r, SECRET, true, TS_MS, err, sizeof(err)) == HS_SIG_OK,
          "v3 round trip");
    v3[body_len % 43] = v3[body_len % 43] == 'A' ? 'B' : 'A';
    r.signature = v1;
    check(hubspot_signature_verify(&r, SECRET, false, TS_MS, err, sizeof(err)) == HS_SIG_BAD,
          "changed v3 fails without fallback");
    check(strstr(err, SECRET) == NULL && strstr(err, v1) == NULL, "err leaks nothing");
    r.signature_v3 = NULL;
    check(hubspot_signature_verify(&r, SECRET, false, TS_MS, err, sizeof(err)) == HS_SIG_OK,
          "v1 round trip");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    char *parts[4] = {NULL, NULL, NULL, NULL};
    size_t nparts = 1;
    const char *body;
    size_t body_len;
    char *full;

    if (s == NULL)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    /* Everything up to the first NUL is a URI to canonicalise. */
    check_canonical(s);

    /* base \x01 path \x01 query \x01 body (body keeps any NUL bytes). */
    parts[0] = s;
    for (size_t i = 0; i < size && nparts < 4; i++) {
        if (s[i] == '\x01') {
            s[i] = '\0';
            parts[nparts++] = s + i + 1;
        }
    }
    body = nparts == 4 ? parts[3] : "";
    body_len = nparts == 4 ? size - (size_t)(parts[3] - s) : 0;
    full = hubspot_build_full_uri(parts[0], parts[1], parts[2]);
    if (parts[0][0] == '\0') {
        check(full == NULL, "empty base refused");
    } else {
        check(full != NULL, "full uri");
        check(parts[2] == NULL || parts[2][0] == '\0' ||
                  (strlen(full) > strlen(parts[2]) &&
                   strcmp(full + strlen(full) - strlen(parts[2]), parts[2]) == 0 &&
                   full[strlen(full) - strlen(parts[2]) - 1] == '?'),
              "query appended verbatim");
        check_canonical(full);
        check_signatures(full, body, body_len);
        free(full);
    }
    free(s);
    return 0;
}
