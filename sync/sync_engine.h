/* sync_engine.h: the sync workers: threads that claim queued change events one mapping at a time
 * and hand each batch to sync_batch_run.
 *
 * Owns struct sync_engine: its worker threads, each worker's own PostgreSQL connection, CRM HTTP
 * handle and cache of enabled mappings with their live schemas, the wake-up condition, and the
 * queue-lag gauge. The CRM clients are borrowed (shared by all threads; they lock inside).
 *
 * Design:
 * - Per-mapping serialisation. A worker syncs a mapping only while it holds the session-level
 *   advisory lock (SYNC_MAPPING_LOCK_CLASS, mapping id) on its own dedicated connection, so no
 *   two workers (threads or processes on one database) ever touch records of one mapping at the
 *   same time: a Salesforce event and a HubSpot event of one linked pair cannot race. Workers
 *   round-robin over the enabled mappings and skip one that is locked elsewhere.
 *   Trade-off: one mapping is synced by one worker at a time; its throughput comes from
 *   batching (up to SYNKRO_WORKER_BATCH records per round, read and written in batch calls),
 *   not from parallel workers. Extra workers help when there are several mappings.
 * - A round: lock a mapping, claim up to `batch` of its records (queue_claim_records_for with the
 *   mapping's objects as filter; leases of lease_ms), sync them, unlock. An idle worker sleeps
 *   poll_ms or until sync_engine_wake.
 * - Mappings are re-read (with their schemas) every mapping_ttl_ms; a mapping whose schemas cannot
 *   be read is skipped until the next reload.
 * - Stopping: no new claims; each worker finishes its current batch (bounded by the CRM client
 *   timeouts; if the process dies instead, the leases run out and the events come back), then
 *   threads are joined and everything is freed.
 *
 * Must not: share a connection or HTTP handle between threads, hold the advisory lock across
 * rounds, or log secrets (the conninfo is never logged). */
#ifndef SYNKRO_SYNC_SYNC_ENGINE_H
#define SYNKRO_SYNC_SYNC_ENGINE_H

#include "db/queue_claim.h"
#include "sync/crm_http.h"
#include "sync/sync_batch.h"

#include <stddef.h>
#include <stdint.h>

struct app;
struct hubspot_client;
struct salesforce_client;

/* First key of the mapping locks (pg_try_advisory_lock(int, int)), apart from the queue's. */
#define SYNC_MAPPING_LOCK_CLASS 1934713709

struct sync_engine_options {
    const char *conninfo;         /* the database; each worker opens its own connection */
    int statement_timeout_ms;     /* on each worker connection; <= 0: none */
    struct hubspot_client *hc;    /* borrowed */
    struct salesforce_client *sc; /* borrowed */
    struct crm_http_options http; /* for each worker's handle */
    int workers;                  /* threads sync_engine_start starts */
    int batch;                    /* records per round; <= 0: 200 */
    int poll_ms;                  /* idle sleep; <= 0: 200 */
    int linger_ms; /* after a wake-up from idle, wait this long so a burst fills the batch */
    int lease_ms;  /* <= 0: 300000 */
    struct queue_backoff_policy backoff;
    int64_t mapping_ttl_ms;    /* re-read schemas after this (and after a batch had conversion or
                                  validation failures); 0: every round */
    const char *worker_prefix; /* worker ids are "<prefix>:w<n>"; NULL: "<host>:<pid>" */
};

/* Options from the configuration and the app's clients (pointers borrow from app). */
void sync_engine_options_from_app(struct sync_engine_options *o, const struct app *app);

struct sync_engine;

/* Creates the engine (no thread yet). NULL with err when the options are unusable (no clients,
 * no conninfo). Caller frees with sync_engine_destroy(). */
struct sync_engine *sync_engine_create(const struct sync_engine_options *o, char *err,
                                       size_t errlen);

/* Starts o->workers threads (0: none). 0, or -1 with err (threads already started keep running
 * until sync_engine_stop). */
int sync_engine_start(struct sync_engine *e, char *err, size_t errlen);

/* Runs exactly one round on the calling thread with the engine's own test worker (its own
 * connection and handle): the first enabled mapping, in round-robin order, that is not locked
 * elsewhere and has due records is synced. *rep (may be NULL) receives the batch's counts.
 * Returns the number of records synced (0: nothing to do), or -1 with err. Not to be called
 * from two threads on one engine at once (use two engines). */
int sync_engine_run_once(struct sync_engine *e, struct sync_batch_report *rep, char *err,
                         size_t errlen);

/* Wakes idle workers now (e.g. after a webhook's events committed). Thread-safe, cheap. */
void sync_engine_wake(struct sync_engine *e);

/* Stops claiming, lets the current batches finish, joins the threads. Idempotent. */
void sync_engine_stop(struct sync_engine *e);

/* Stops (if needed) and frees everything. Accepts NULL. */
void sync_engine_destroy(struct sync_engine *e);

#endif
