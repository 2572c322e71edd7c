/* queue_claim.h: how sync workers take change events off the queue and settle them: claim due
 * records under a lease, complete, retry later with back-off, fail with a category, return the
 * events of crashed workers, and prune old finished events.
 *
 * Owns the claimed records it returns (queue_claimed_free) and nothing across calls.
 *
 * Design (see queue_claim.c for the SQL and the proof):
 * - The unit of work is a record (source, object_type, record_id). A claim takes every unfinished
 *   event of each record it picks, in order of occurrence: several changes of one record become
 *   one sync of that record (coalescing), and a record is never held by two claims at once.
 * - A claim marks its events 'processing' with lease_owner = worker_id and lease_until; when the
 *   lease runs out (crashed or stuck worker) the events can be claimed again. Completing, retrying
 *   and failing only touch events still leased by the caller, so a worker whose lease was taken
 *   over cannot settle events another worker now holds.
 * - PostgreSQL is the only coordinator: threads and synkro processes sharing one database claim
 *   safely from the same table.
 * - worker_id must be unique among live workers (e.g. "host:pid:thread"); it is stored, so it
 *   must not be secret.
 *
 * Every function runs one short transaction on the caller's connection (autocommit for single
 * statements), uses parameters only, and rolls back on every error path. Must not call CRMs,
 * sleep, or decide retry policy beyond queue_backoff_ms. */
#ifndef SYNKRO_DB_QUEUE_CLAIM_H
#define SYNKRO_DB_QUEUE_CLAIM_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One claimed event. */
struct claimed_event {
    int64_t id;
    char *kind;             /* create|update|delete|association|merge|restore|unknown */
    int64_t occurred_at_ms; /* epoch ms; 0 when the CRM did not say */
    int64_t received_at_ms; /* epoch ms when synkro stored it */
    int attempts;           /* failed tries so far (before this claim) */
    char *payload_json;     /* the stored payload, as JSON text */
};

/* One claimed record and its events in order of occurrence (occurred_at, else received_at, then
 * id). ids[i] == events[i].id, ready for queue_complete/queue_retry_later/queue_fail. */
struct claimed_record {
    char *source;
    char *object_type;
    char *record_id; /* NULL for an event without a record id: it is claimed alone */
    size_t nevents;
    int64_t *ids;
    struct claimed_event *events;
    bool piece; /* queue_claim_pairs: an unlinked record of the mapping's running import, claimed
                   as a piece (see queue_claim_pairs): its batch may create its partner record
                   but must not adopt one (sync_batch.c leaves that for the mapping alone) */
};

/* Claims up to max_records records that have a due pending event (status 'pending',
 * next_attempt_at <= now()) and no unexpired lease, oldest due first. Every unfinished event of a
 * picked record is taken (pending ones, including any still waiting for their back-off, and
 * processing ones whose lease ran out), so the record's events stay in order; they become
 * 'processing' with lease_owner = worker_id and lease_until = now() + lease_ms.
 * *out (caller frees with queue_claimed_free(*out, *n)) and *n receive the records; *n may be 0.
 * 0 on success, -1 with err on failure (then nothing was claimed). */
int queue_claim_records(PGconn *conn, const char *worker_id, int max_records, int lease_ms,
                        struct claimed_record **out, size_t *n, char *err, size_t errlen);

/* Which records a claim may take: the objects of one mapping. */
struct queue_claim_filter {
    const char *salesforce_object;      /* Salesforce events of this object (case-insensitive);
                                           NULL: none */
    const char *hubspot_object_type_id; /* HubSpot events of this objectTypeId; NULL: none */
    const char *hubspot_object_name;    /* or of this fully qualified name; NULL: none */
    int young_ms;  /* queue_claim_pairs: > 0 defers a partial batch of a burst still arriving (at
                      least young_min records, the oldest due for less than young_ms) */
    int young_min; /* <= 0: a quarter of max_records */
    int gather_ms; /* queue_claim_pairs: > 0 also defers a smaller partial batch (fewer than
                      young_min records) whose oldest event has been due for less than gather_ms:
                      the rest of its arrival is likely a few milliseconds behind it */
};

/* As queue_claim_records, taking only records that filter admits (NULL: every record). The
 * window of due rows read is filtered too, so other mappings' backlogs do not crowd it out. */
int queue_claim_records_for(PGconn *conn, const char *worker_id,
                            const struct queue_claim_filter *filter, int max_records, int lease_ms,
                            struct claimed_record **out, size_t *n, char *err, size_t errlen);

/* The link locks a pairs claim leaves held (session-level, on the claim's connection) until
 * queue_pairs_release: one entry per picked record. */
/* What a claim's pick found (queue_claim_pairs' *outcome; every claim counts it in
 * synkro_queue_picks_total). */
enum queue_pick {
    QUEUE_PICK_EMPTY,    /* nothing due */
    QUEUE_PICK_TAKEN,    /* events claimed */
    QUEUE_PICK_DEFERRED, /* a partial batch of a burst still arriving: nothing taken */
    QUEUE_PICK_BLOCKED,  /* events due, none taken: leased, locked by another claim, or left
                          * for the exclusive claim */
};

struct queue_pair_locks {
    int64_t mapping_id;
    int64_t *links;
    size_t n;
    bool unknown; /* locks may be held that are not listed (out of memory): end the session */
};

/* As queue_claim_records_for, in pairs mode, for workers that sync one mapping side by side
 * (sync_engine.c holds the mapping's lock shared while calling it): takes only records of an
 * active link of mapping_id that holds both ids and have no unfinished merge event, and treats
 * both records of such a link as one unit, so the two sides of a pair are never held by two
 * claims at once: the link's advisory lock is taken session-level and held (*held) until the
 * caller has settled the batch and calls queue_pairs_release, so even a lease that runs out
 * while its holder is still syncing is not taken over by another pairs claim; a crashed holder's
 * session ends and its lease then decides (a link with a record leased anywhere is skipped).
 * It also takes import pieces: the unlinked records of the mapping's running import, on the side
 * it pages, that have no link row at all and whose events were never tried (attempts 0), each
 * keyed by its own negative key held the same way (claimed_record.piece), so an import's creates
 * are synced side by side by every live instance; a piece whose batch fails, is deferred or whose
 * holder dies is retried (attempts > 0) under the exclusive lock.
 * *others_due becomes true when due records of the mapping were left because they need the
 * mapping alone (other unlinked records, merges, events without a record id): those are for
 * queue_claim_records_for under the exclusive lock. With filter->young_ms > 0, a claim that would
 * take a partial batch of a burst still arriving takes nothing and sets *outcome to
 * QUEUE_PICK_DEFERRED: claim again in a moment, for a full batch (calls per record);
 * filter->gather_ms does the same for a small partial batch younger than it (the first events of
 * a trickle: with several processes polling, each would otherwise take them one by one).
 * *outcome is QUEUE_PICK_BLOCKED when events were due but none could be taken (their records or
 * pairs leased, or locked by another claim, or left for the exclusive claim): claiming again
 * before a lease ends finds the same. 0, or
 * -1 with err; *held must be released in both cases (*held starts empty). */
int queue_claim_pairs(PGconn *conn, const char *worker_id, const struct queue_claim_filter *filter,
                      int64_t mapping_id, int max_records, int lease_ms,
                      struct claimed_record **out, size_t *n, bool *others_due,
                      struct queue_pair_locks *held, enum queue_pick *outcome, char *err,
                      size_t errlen);

/* Lets go of the link locks of a pairs claim and empties *held. 0, or -1 with err when a lock
 * was not held or the statement failed: then close the connection (the session's end releases
 * every lock it held). */
int queue_pairs_release(PGconn *conn, struct queue_pair_locks *held, char *err, size_t errlen);

/* Frees what queue_claim_records returned. Accepts NULL. */
void queue_claimed_free(struct claimed_record *records, size_t n);

/* Marks the events done (finished_at = now()) when they are still 'processing' and leased by
 * worker_id (an expired lease not yet taken over still counts). *changed (may be NULL) receives
 * how many were; fewer than n means the others were taken over or released meanwhile.
 * 0 on success, -1 with err on failure. */
int queue_complete(PGconn *conn, const char *worker_id, const int64_t *ids, size_t n, long *changed,
                   char *err, size_t errlen);

/* Puts the events back to 'pending' with attempts + 1, next_attempt_at = now() + delay_ms and
 * last_error = error, under the same lease condition as queue_complete. */
int queue_retry_later(PGconn *conn, const char *worker_id, const int64_t *ids, size_t n,
                      const char *error, long delay_ms, long *changed, char *err, size_t errlen);

/* Like queue_retry_later, but attempts stay as they are: for work that never reached the CRM
 * (its client's budget held the call back), so a long stop cannot exhaust the retries. */
int queue_defer(PGconn *conn, const char *worker_id, const int64_t *ids, size_t n,
                const char *error, long delay_ms, long *changed, char *err, size_t errlen);

/* Why an event failed for good. */
enum queue_error_category {
    QUEUE_ERR_VALIDATION = 0,    /* the CRM refused a value */
    QUEUE_ERR_DUPLICATE,         /* a unique value already exists in the CRM */
    QUEUE_ERR_PERMISSION,        /* the integration user may not do this */
    QUEUE_ERR_ASSOCIATION,       /* a related record or association type is missing or refused */
    QUEUE_ERR_NOT_FOUND,         /* the record no longer exists */
    QUEUE_ERR_CONVERSION,        /* a value could not be converted between the CRMs' types */
    QUEUE_ERR_RETRIES_EXHAUSTED, /* transient errors until queue_backoff_ms gave up */
    QUEUE_ERR_CATEGORY_COUNT
};

/* "validation", "duplicate", "permission", "association", "not_found", "conversion",
 * "retries_exhausted" (the stored error_category); NULL when out of range. */
const char *queue_error_category_name(enum queue_error_category category);

/* Marks the events 'failed' with error_category, last_error = error (the CRM's message),
 * attempts + 1 and finished_at = now(), under the same lease condition as queue_complete. */
int queue_fail(PGconn *conn, const char *worker_id, const int64_t *ids, size_t n,
               enum queue_error_category category, const char *error, long *changed, char *err,
               size_t errlen);

struct queue_backoff_policy {
    long base_ms;     /* first ceiling; doubles per attempt */
    long cap_ms;      /* largest ceiling */
    int max_attempts; /* tries before giving up */
};

/* base 5 s, cap 2 h, 30 tries: up to 29 waits, about 19 h on average, at most about 39 h. */
#define QUEUE_BACKOFF_DEFAULT_BASE_MS      5000L
#define QUEUE_BACKOFF_DEFAULT_CAP_MS       7200000L
#define QUEUE_BACKOFF_DEFAULT_MAX_ATTEMPTS 30

/* The wait before the next try of an event that has failed `attempts` times before this failure
 * (its attempts column, 0 on the first failure): a uniformly random delay ("full jitter") in
 * [0, min(cap_ms, base_ms * 2^attempts)]. -1 when attempts + 1 >= max_attempts: the caller then
 * fails the event (QUEUE_ERR_RETRIES_EXHAUSTED). policy NULL, or a field <= 0, means the default.
 * Thread-safe. */
long queue_backoff_ms(int attempts, const struct queue_backoff_policy *policy);

/* Same, with the random draw given (any 64-bit value; the delay is draw mod (ceiling + 1)). */
long queue_backoff_ms_draw(int attempts, const struct queue_backoff_policy *policy, uint64_t draw);

/* Puts events whose lease ran out (status 'processing', lease_until < now()), and events whose
 * holder's session has ended (lease_holder set and its liveness lock held by nobody: the process
 * was killed or lost its connection), back to 'pending', due now, with attempts + 1 and
 * last_error naming the lease's worker and why. A record that a claim is taking over at this
 * moment is left to that claim. *released (may be NULL) receives the count. 0 on success, -1
 * with err on failure. */
int queue_release_expired(PGconn *conn, long *released, char *err, size_t errlen);

/* Makes conn a lease holder: takes a free liveness key (LOCK_KEY_LEASE_HOLDER, a random key in
 * 1..2^31-1 that no live session holds) as a session-level advisory lock kept until the session
 * ends, and names it in the session setting synkro.lease_holder, which every later claim on conn
 * stamps on its leases (change_events.lease_holder) and every settle on conn requires. Then
 * releases whatever leases an ended session left under that key, and every other lease
 * queue_release_expired would. Call once per connection, right after connecting, outside a
 * transaction. *key receives the key, *released (may be NULL) the events released. 0, or -1
 * with err (then close the connection: it may hold the lock without the setting). */
int queue_holder_take(PGconn *conn, int32_t *key, long *released, char *err, size_t errlen);

/* Deletes 'done' events finished more than done_retention_s seconds ago and 'failed' ones
 * finished more than failed_retention_s ago, at most `batch` rows per statement (each statement
 * its own transaction, rows locked by others skipped) and at most max_batches statements per
 * status and call. Pending, processing, held and unmapped events are never touched. *deleted (may
 * be NULL) receives the count. 0 on success, -1 with err on failure (rows of earlier batches stay
 * deleted). */
int queue_prune(PGconn *conn, int batch, int max_batches, long done_retention_s,
                long failed_retention_s, long *deleted, char *err, size_t errlen);

#endif
