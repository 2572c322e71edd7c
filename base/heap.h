/* heap.h: keeping the process heap small over a long run (glibc malloc arenas).
 *
 * glibc gives threads their own malloc arenas (up to 8 per core) and keeps each arena's freed
 * memory; a burst of work (the events a reconciliation sweep queues, synced by several threads)
 * leaves every arena it touched at a new high-water mark. The cap and the trim below keep RSS
 * flat (bench/README.md, `make bench-soak`). Both do nothing without glibc. */
#ifndef SYNKRO_BASE_HEAP_H
#define SYNKRO_BASE_HEAP_H

/* Caps the number of malloc arenas (n > 0; call before threads start). 0 on success or n <= 0,
 * -1 when the allocator refused. */
int heap_limit_arenas(int n);

/* Hands the free pages of every arena back to the system (not only each arena's top). Holds one
 * arena's lock at a time, for milliseconds at synkro's heap size. */
void heap_trim(void);

#endif
