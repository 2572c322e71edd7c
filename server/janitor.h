/* janitor.h: periodic maintenance on a background thread. */
#ifndef SYNKRO_SERVER_JANITOR_H
#define SYNKRO_SERVER_JANITOR_H

#include "handlers/app.h"

struct janitor;

/* Starts the thread; every interval_ms it runs the jobs that are due (each has its own period,
 * 1 s or 5 s: readiness, queue depth, reclassification, lease release, pruning). NULL on
 * failure. */
struct janitor *janitor_start(struct app *app, int interval_ms);
/* Wakes the thread, waits for it to finish its current job, frees it. */
void janitor_stop(struct janitor *j);

#endif
