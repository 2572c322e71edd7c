/* queue_errors.h: the admin view of failed change events: a summary grouped by error category,
 * and requeueing failed events (one, one category, or all).
 *
 * Owns nothing across calls; the summary it returns belongs to the caller.
 *
 * Design: every function is one parameterised statement (its own short transaction under
 * autocommit), except queue_retry_category, which requeues in batches of one statement each so
 * that a large backlog never holds many row locks at once. A requeued event becomes 'pending'
 * with attempts 0, due now, its lease, error_category and finished_at cleared; last_error is kept
 * so that a person can still see why it failed before.
 *
 * Must not: decide what a category means (db/queue_claim.h names them), call CRMs, log. */
#ifndef SYNKRO_DB_QUEUE_ERRORS_H
#define SYNKRO_DB_QUEUE_ERRORS_H

#include <json-c/json.h>
#include <libpq-fe.h>
#include <stddef.h>
#include <stdint.h>

/* Most examples per category queue_errors_summary returns. */
#define QUEUE_ERRORS_MAX_EXAMPLES 20

/* Failed events grouped by category:
 * {"categories":[{"category","count","oldest","newest","examples":[{"id","source","object_type",
 *  "record_id","last_error","finished_at"}]}],"total"}
 * Categories are ordered by count, largest first (ties by name); each carries at most
 * examples_per_category (clamped to 0..QUEUE_ERRORS_MAX_EXAMPLES) of its newest events. A failed
 * event without a category (set by hand before migration 0005) is counted as "unknown".
 * Caller puts the returned object. NULL with err on failure. */
json_object *queue_errors_summary(PGconn *conn, int examples_per_category, char *err,
                                  size_t errlen);

enum queue_retry_result {
    QUEUE_RETRY_OK = 0,         /* the failed event is pending again */
    QUEUE_RETRY_NOT_FOUND = 1,  /* no event with that id */
    QUEUE_RETRY_NOT_FAILED = 2, /* the event exists but is not 'failed': nothing changed */
};

/* Requeues one failed event. Returns a queue_retry_result, or -1 with err on failure. */
int queue_retry_event(PGconn *conn, int64_t id, char *err, size_t errlen);

/* Requeues every failed event of category (a stored error_category name; NULL: every failed
 * event, with or without a category), in batches. Returns how many were requeued, or -1 with err
 * on failure (events of earlier batches stay requeued). */
long queue_retry_category(PGconn *conn, const char *category, char *err, size_t errlen);

#endif
