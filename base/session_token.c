/* session_token.c: session ids, sign-in codes, their digests, CSRF tokens and the cookie lookup
 * (design in session_token.h). Must not log or keep a value. */
#include "base/session_token.h"

#include "base/hexenc.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <string.h>

int session_token_new(char *out, size_t hex_chars)
{
    unsigned char rnd[32];
    size_t n = hex_chars / 2;
    out[0] = '\0';
    if (n == 0 || n > sizeof rnd || hex_chars % 2 || RAND_bytes(rnd, (int)n) != 1)
        return -1;
    hex_encode(rnd, n, out);
    OPENSSL_cleanse(rnd, sizeof rnd);
    return 0;
}

bool session_token_well_formed(const char *s, size_t hex_chars)
{
    if (!s)
        return false;
    size_t i = 0;
    for (; s[i]; i++) {
        if (i >= hex_chars || !((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    }
    return i == hex_chars;
}

/* SHA-256(prefix + value) as hex into out. */
static void prefixed_digest(const char *prefix, const char *value, char out[SESSION_DIGEST_HEX + 1])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    bool ok = ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1 &&
              EVP_DigestUpdate(ctx, prefix, strlen(prefix)) == 1 &&
              EVP_DigestUpdate(ctx, value, strlen(value)) == 1 &&
              EVP_DigestFinal_ex(ctx, md, &len) == 1 && len == 32;
    EVP_MD_CTX_free(ctx);
    if (!ok) {
        /* never a predictable value: an unusable digest matches no stored row */
        memset(out, 'x', SESSION_DIGEST_HEX);
        out[SESSION_DIGEST_HEX] = '\0';
        return;
    }
    hex_encode(md, 32, out);
}

void session_token_digest(const char *value, char out[SESSION_DIGEST_HEX + 1])
{
    prefixed_digest("synkro-session-id:", value, out);
}

void session_csrf_token(const char *session_id, char out[SESSION_DIGEST_HEX + 1])
{
    prefixed_digest("synkro-csrf:", session_id, out);
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t';
}

int session_cookie_find(const char *cookie_header, char out[SESSION_ID_HEX + 1])
{
    out[0] = '\0';
    if (!cookie_header)
        return 0;
    const size_t name_len = strlen(SESSION_COOKIE_NAME);
    const char *p = cookie_header;
    while (*p) {
        while (is_space(*p) || *p == ';')
            p++;
        size_t len = strcspn(p, ";");
        const char *eq = memchr(p, '=', len);
        size_t nlen = eq ? (size_t)(eq - p) : len;
        while (nlen > 0 && is_space(p[nlen - 1]))
            nlen--;
        if (eq && nlen == name_len && memcmp(p, SESSION_COOKIE_NAME, name_len) == 0) {
            const char *v = eq + 1;
            size_t vlen = len - (size_t)(v - p);
            while (vlen > 0 && is_space(*v)) {
                v++;
                vlen--;
            }
            while (vlen > 0 && is_space(v[vlen - 1]))
                vlen--;
            if (vlen != SESSION_ID_HEX)
                return -1;
            memcpy(out, v, vlen);
            out[vlen] = '\0';
            if (!session_token_well_formed(out, SESSION_ID_HEX)) {
                out[0] = '\0';
                return -1;
            }
            return 1;
        }
        p += len;
    }
    return 0;
}
