/* janitor.h: periodic maintenance on a background thread. */
#ifndef SYNKRO_SERVER_JANITOR_H
#define SYNKRO_SERVER_JANITOR_H

#include "handlers/app.h"

#include <stdbool.h>

struct janitor;

/* Starts the thread; every interval_ms it runs the jobs that are due (each has its own period,
 * 1 s or 5 s: readiness, queue depth, reclassification, lease release, pruning). NULL on
 * failure. */
struct janitor *janitor_start(struct app *app, int interval_ms);
/* Wakes the thread, waits for it to finish its current job, frees it. */
void janitor_stop(struct janitor *j);

/* Whether the reclassification sweep (a scan of every queued event) must run this round: when
 * the mappings' classes signature changed since the last sweep (or none was made yet), on the
 * round after such a change (followup: an insert that read the old mappings may commit after the
 * first sweep's snapshot), or once since_sweep_ms reaches JANITOR_RECLASSIFY_FULL_MS. */
#define JANITOR_RECLASSIFY_FULL_MS 300000
bool janitor_reclassify_due(bool changed, bool followup, long long since_sweep_ms);

#endif
