/* heap.c: the malloc arena cap and the heap trim (heap.h). Owns no state; must not allocate. */
#include "base/heap.h"

#ifdef __GLIBC__
#include <malloc.h>
#endif

int heap_limit_arenas(int n)
{
#ifdef __GLIBC__
    if (n > 0 && mallopt(M_ARENA_MAX, n) != 1)
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
