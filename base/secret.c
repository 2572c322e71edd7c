/* secret.c: constant-time secret comparison and wipe-on-free. Must not log or copy secrets. */
#include "base/secret.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

bool secret_equal(const char *given, const char *expected)
{
    if (!given || !expected || !*expected)
        return false;
    unsigned char a[EVP_MAX_MD_SIZE], b[EVP_MAX_MD_SIZE];
    unsigned int alen = 0, blen = 0;
    if (EVP_Digest(given, strlen(given), a, &alen, EVP_sha256(), NULL) != 1 ||
        EVP_Digest(expected, strlen(expected), b, &blen, EVP_sha256(), NULL) != 1 || alen != blen)
        return false;
    bool eq = CRYPTO_memcmp(a, b, alen) == 0;
    OPENSSL_cleanse(a, sizeof a);
    OPENSSL_cleanse(b, sizeof b);
    return eq;
}

void secret_wipe_free(char *s)
{
    if (!s)
        return;
    OPENSSL_cleanse(s, strlen(s));
    free(s);
}
