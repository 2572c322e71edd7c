/* webhook_common.h: what both webhook endpoints share: the ingest metrics,
 * the hand-off to the group-commit writer, and timestamp parsing. */
#ifndef SYNKRO_HANDLERS_WEBHOOK_COMMON_H
#define SYNKRO_HANDLERS_WEBHOOK_COMMON_H

#include "db/queue.h"
#include "handlers/http_request.h"

#include <stddef.h>
#include <stdint.h>

/* Registers synkro_events_received_total and synkro_queue_depth. */
void webhook_metrics_init(void);

/* outcome: stored, duplicate, rejected_signature, rejected_org, malformed,
 * unavailable. Adds n to synkro_events_received_total{source,outcome}. */
void webhook_count(const char *source, const char *outcome, double n);

/* Stores events through the app's ingest writer without holding the daemon thread while they
 * commit (http_suspend): the handler fills a webhook_pending that lives until the request
 * completes, suspends with a start function that calls webhook_store_start(wp), and on resume
 * calls webhook_store_finish(wp), which counts each event's outcome: 0 when every event is
 * durable, -1 otherwise (wp->err; counted as unavailable). No timeout: the writer's own (pool,
 * statement) bound the wait. */
struct webhook_pending {
    struct http_request *req;
    const char *source;
    struct queue_event *events;
    size_t n; /* at least 1 */
    int rc;
    char err[256];
};
void webhook_store_start(struct webhook_pending *wp);
int webhook_store_finish(struct webhook_pending *wp);

/* The handler's last step once wp is filled (wp->req is the request): with SYNKRO_INGEST_INLINE,
 * when the writer is idle (ingest_commit_if_idle) the events commit on this thread and finish(req)
 * answers at once, with no suspension, hand-off or resume; otherwise the request is suspended with
 * start and finish as above. Either way nothing is acknowledged before its events are committed. */
int webhook_store_or_suspend(struct webhook_pending *wp, void (*start)(struct http_request *),
                             int (*finish)(struct http_request *));

/* Refreshes synkro_queue_depth{status} from the database (janitor job). */
void webhook_refresh_queue_depth(struct app *app);

/* How often the janitor runs webhook_refresh_queue_depth (server/janitor.c's job table); the
 * shared counts it reads may be up to half a second younger than this (DEPTH_MAX_AGE_MS), so an
 * instance's own count of the round before is always stale by its next round. */
#define WEBHOOK_DEPTH_PERIOD_MS 5000

#endif
