/* hexenc.h: lowercase hexadecimal encoding of bytes.
 *
 * Owns the one byte-to-hex encoder used for digests, signatures, key ids and bytea literals.
 * Must not: allocate, log, or read beyond n input bytes. */
#ifndef SYNKRO_SERVER_HEXENC_H
#define SYNKRO_SERVER_HEXENC_H

#include <stddef.h>

/* Writes the 2n lowercase hex digits of in[0..n) and a NUL to out, which must hold 2n+1 bytes. */
void hex_encode(const unsigned char *in, size_t n, char *out /* 2n+1 */);

#endif
