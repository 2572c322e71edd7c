/* digest.h: SHA-256 and HMAC-SHA256 with per-thread contexts (issue 14: the one-event webhook
 * path).
 *
 * OpenSSL 3 looks an algorithm up by name on every EVP_sha256()/EVP_MAC_fetch() use and
 * allocates a context for every digest; on a one-event webhook that was a large part of the
 * CPU. Here the algorithms are fetched once per process, each thread keeps one context of each
 * kind (freed when the thread exits), and the HMAC context keeps its key between calls (it is
 * re-keyed only when a different key comes).
 *
 * Must not: keep anything but the contexts and the current HMAC key, or hand a context to another
 * thread (each call's context is the caller thread's own and is valid until its next call). */
#ifndef SYNKRO_BASE_DIGEST_H
#define SYNKRO_BASE_DIGEST_H

#include <openssl/evp.h>
#include <stddef.h>

#define DIGEST_SHA256_LEN 32

/* This thread's SHA-256 context, initialised: EVP_DigestUpdate it, then EVP_DigestFinal_ex.
 * NULL when out of memory. */
EVP_MD_CTX *digest_sha256_begin(void);

/* This thread's HMAC-SHA256 context, initialised with key: EVP_MAC_update it, then
 * EVP_MAC_final. NULL when out of memory or OpenSSL fails. */
EVP_MAC_CTX *digest_hmac_sha256_begin(const void *key, size_t keylen);

#endif
