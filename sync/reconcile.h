/* reconcile.h: the background thread of reconciliation: a sweep of every enabled mapping every
 * SYNKRO_SWEEP_INTERVAL seconds (sync/sweep.h) and one step of each running import about once a
 * second (sync/import.h).
 *
 * Owns the thread and its stop flag (guarded by its own mutex); sweeps and import steps of other
 * processes are kept apart by their advisory locks. Must not: sweep or import itself. */
#ifndef SYNKRO_SYNC_RECONCILE_H
#define SYNKRO_SYNC_RECONCILE_H

#include "sync/sync_context.h"

struct sync_sweeper;

/* Starts the thread (ctx borrowed until sync_sweeper_stop). NULL when it cannot start. */
struct sync_sweeper *sync_sweeper_start(const struct sync_context *ctx);
/* Wakes the thread, waits for its current job, frees it. Accepts NULL. */
void sync_sweeper_stop(struct sync_sweeper *s);

#endif
