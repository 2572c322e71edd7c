/* secret.h: constant-time comparison of secrets (tokens, endpoint tokens) and wiping them on free.
 *
 * Both strings are hashed with SHA-256 and the digests compared with
 * CRYPTO_memcmp, so neither the content nor the length of the expected
 * secret leaks through timing. secret_wipe_free() overwrites a heap secret
 * with OPENSSL_cleanse before releasing it. */
#ifndef SYNKRO_SERVER_SECRET_H
#define SYNKRO_SERVER_SECRET_H

#include <stdbool.h>

/* True when given equals expected. False when either is NULL or expected is
 * empty (an unset secret never matches). */
bool secret_equal(const char *given, const char *expected);

/* Overwrites the NUL-terminated heap string s with OPENSSL_cleanse, then frees it. Accepts NULL. */
void secret_wipe_free(char *s);

#endif
