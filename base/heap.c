/* heap.c: the malloc arena cap and the heap trim (heap.h). Owns no state; must not allocate.
 *
 * <stdlib.h> comes first: it defines __GLIBC__ (through <features.h>). Without a libc header
 * before the test below, __GLIBC__ is not yet defined there, mallopt and malloc_trim are
 * compiled out and both functions silently do nothing (as they did until the soak found 15 arenas
 * in a process capped at 2; tests/scripts/test_heap_symbols.sh guards this). */
#include "base/heap.h"

#include <stdlib.h>

#ifdef __GLIBC__
#include <malloc.h>
#endif

/* AddressSanitizer replaces malloc: its mallopt refuses everything and there are no glibc arenas
 * to cap, so a refusal there is not an error (the calls stay, for the symbol check). */
#if defined(__SANITIZE_ADDRESS__)
#define HEAP_SANITIZER 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define HEAP_SANITIZER 1
#endif
#endif
#ifndef HEAP_SANITIZER
#define HEAP_SANITIZER 0
#endif

int heap_limit_arenas(int n)
{
#ifdef __GLIBC__
    if (n > 0 && mallopt(M_ARENA_MAX, n) != 1 && !HEAP_SANITIZER)
        return -1;
#else
    (void)n;
#endif
    return 0;
}

void heap_trim(void)
{
#ifdef __GLIBC__
    malloc_trim(0);
#endif
}
