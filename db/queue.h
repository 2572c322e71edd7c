/* queue.h: the change_events table: batch insert (with idempotency), and the
 * admin listing and lookup.
 *
 * Every query is parameterised. The batch insert is one statement for any
 * number of events: the rows travel as one JSON array parameter expanded by
 * jsonb_to_recordset, and ON CONFLICT DO NOTHING drops duplicates (also
 * duplicates inside the same batch). */
#ifndef SYNKRO_DB_QUEUE_H
#define SYNKRO_DB_QUEUE_H

#include <json-c/json.h>
#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct db_pool;

enum queue_outcome { QUEUE_PENDING_RESULT = 0, QUEUE_STORED, QUEUE_DUPLICATE };

struct queue_event {
    /* input */
    const char *source;          /* "salesforce" | "hubspot" */
    const char *idempotency_key; /* unique per change */
    const char *object_type;
    const char *record_id;    /* may be NULL */
    const char *kind;         /* create|update|delete|association|merge|restore|unknown */
    int64_t occurred_at_ms;   /* epoch ms, 0 when unknown */
    const char *status;       /* "pending" | "unmapped" | "held" */
    const char *payload_json; /* a JSON value, stored as jsonb */
    /* output */
    enum queue_outcome outcome;
    int64_t id; /* row id when stored */
};

/* Inserts n events in one statement (no transaction of its own: autocommit
 * commits it). Sets each event's outcome. -1 with err on failure (then no
 * event was stored, as the statement is atomic). */
int queue_insert_batch(PGconn *conn, struct queue_event *events, size_t n, char *err,
                       size_t errlen);

/* An event synkro queues itself: the follow-up of a record whose field sync finished but whose
 * association step must be tried again (it carries that step's own retry state). */
struct queue_followup {
    const char *source; /* "salesforce" | "hubspot" */
    const char *object_type;
    const char *record_id;
    const char *kind;            /* e.g. "association" */
    const char *payload_json;    /* a JSON object */
    int attempts;                /* failed tries so far */
    long delay_ms;               /* due after this long */
    const char *last_error;      /* why it waits (may be NULL) */
    const char *failed_category; /* NULL: pending; else stored failed with this category name */
};

/* Inserts one follow-up (a unique key of its own: never deduplicated). Runs in the caller's
 * transaction when there is one. 0, or -1 with err. */
int queue_insert_followup(PGconn *conn, const struct queue_followup *f, char *err, size_t errlen);

struct queue_filter {
    const char *source;
    const char *status;
    const char *object_type;
    const char *record_id;
    int64_t after_id; /* 0: from the start */
    int limit;        /* 1..500 */
};

/* Lists events (without payloads) as {"events":[...],"next_after":id|null}.
 * Caller puts the returned object. NULL with err on failure. */
json_object *queue_list(PGconn *conn, const struct queue_filter *f, char *err, size_t errlen);

/* One event with its payload; *found false when no such id. */
json_object *queue_get(PGconn *conn, int64_t id, bool *found, char *err, size_t errlen);

/* Events per status, {"pending": n, ...} (caller puts), shared by every instance on the database:
 * the counts come from queue_depth_counts, and those older than max_age_ms (the done events:
 * QUEUE_DEPTH_DONE_AGE_MS, as they are nearly the whole table, kept SYNKRO_EVENT_RETENTION days)
 * are counted again first, each from its own range of change_events_status, by whichever caller
 * gets the transaction lock LOCK_KEY_QUEUE_DEPTH; a caller that does not get it (another instance
 * is counting) answers the stored counts. So N instances' janitors count about as often as one.
 * A status never counted yet is left out. max_age_ms 0 counts every status now (unless another
 * instance is counting). Runs a transaction of its own (conn must not be in one). NULL with err on
 * failure. */
#define QUEUE_DEPTH_DONE_AGE_MS 60000
json_object *queue_depth(PGconn *conn, int max_age_ms, char *err, size_t errlen);

/* queue_depth on a connection of pool (waiting at most wait_ms for one), run once more on a fresh
 * connection when the first was dead (db_pool_run). Caller puts; NULL with err. */
json_object *queue_depth_pooled(struct db_pool *pool, int max_age_ms, int wait_ms, char *err,
                                size_t errlen);

/* The age in seconds of the oldest pending event that is due now (0 when none is due) into
 * *seconds: the queue lag (synkro_queue_lag_seconds). One index read (change_events_due).
 * 0, or -1 with err. */
int queue_lag_seconds(PGconn *conn, double *seconds, char *err, size_t errlen);

#endif
