/* sync_engine.h: the sync workers: threads that claim queued change events of one mapping at a
 * time and hand each batch to sync_batch_run.
 *
 * Owns struct sync_engine: its worker threads, each worker's own PostgreSQL connection, CRM HTTP
 * handle and cache of enabled mappings with their live schemas, the wake-up condition, and the
 * queue-lag gauge. The CRM clients are borrowed (shared by all threads; they lock inside).
 *
 * Design:
 * - Pairs side by side, the rest alone. The two records of a linked pair must never be synced by
 *   two workers at once (a Salesforce event and a HubSpot event of one pair would race), and
 *   creates, adoption and HubSpot merges change which records form a pair. So a mapping has one
 *   session-level advisory lock (LOCK_KEY_MAPPING in db/locks.h), taken two ways:
 *   - shared, by up to mapping_workers workers of each process at once (each holds one of its
 *     process's slots, counted in the process: another instance's busy workers never keep an
 *     idle instance out): each claims with queue_claim_pairs, which takes only records of an
 *     active link holding both ids, keyed by the link, so two claims never hold one pair; the
 *     link keys stay locked until the batch is settled (queue_pairs_release), so a lease that
 *     runs out mid-batch is not taken over while its holder lives (up to `batch` advisory locks
 *     per pairs worker: within PostgreSQL's default lock table for synkro's defaults);
 *   - exclusive, by one worker, for what queue_claim_pairs leaves and reports (unlinked records,
 *     merges, events without a record id): claimed with queue_claim_records_for while no pairs
 *     batch runs. A worker that saw such records waits up to EXCLUSIVE_WAIT_MS for it; its
 *     waiting request also keeps new shared holders out, so the wait ends after the batches in
 *     flight.
 *   Links only change ids in a batch's closing transaction (which also settles its events) or
 *   under the exclusive lock, so a record's pair cannot change while another claim holds it.
 *   Locks live on each worker's own connection, so threads and processes on one database
 *   coordinate the same way. Workers round-robin over the enabled mappings.
 *   Trade-off: mapping_workers (SYNKRO_MAPPING_WORKERS, default 2) bounds the batches of one
 *   mapping in flight per process (so N instances run up to N x mapping_workers): more lowers
 *   steady-state latency (an event no longer waits for the batch before it) but spends the CRMs'
 *   rate limits in smaller batches; bursts fill full batches either way.
 * - Grouping across instances: a pairs claim of a partial batch waits while its burst is still
 *   arriving (a quarter of a batch or more, younger than BURST_WAIT_MS), and so does a smaller
 *   one until its oldest event has been due for linger_ms (queue_claim_filter.gather_ms): with
 *   several processes polling, the first events of a trickle would otherwise go one by one. A
 *   batch's retries share one back-off draw (sync_batch.c), so they come back as one batch.
 * - A round: for each mapping, a pairs batch (shared lock + slot, up to `batch` records, leases
 *   of lease_ms), then, if the claim reported records that need the mapping alone, an exclusive
 *   batch. An idle worker sleeps poll_ms or until sync_engine_wake; a wake-up after a second
 *   without batches lingers linger_ms first, so a burst's first batch is full.
 * - Mappings are re-read (with their schemas) every mapping_ttl_ms; a mapping whose schemas cannot
 *   be read is skipped until the next reload. The schemas are read once for all of the process's
 *   workers (sync/live_schemas.h): per change of the enabled mappings, failed batch or
 *   mapping_ttl_ms, not once per worker.
 * - Stopping: no new claims; each worker finishes its current batch (bounded by the CRM client
 *   timeouts; if the process dies instead, the leases run out and the events come back), then
 *   threads are joined and everything is freed.
 *
 * Must not: share a connection or HTTP handle between threads, hold an advisory lock across
 * rounds, or log secrets (the conninfo is never logged). */
#ifndef SYNKRO_SYNC_SYNC_ENGINE_H
#define SYNKRO_SYNC_SYNC_ENGINE_H

#include "db/locks.h"
#include "db/queue_claim.h"
#include "crm/crm_http.h"
#include "sync/sync_batch.h"

#include <stddef.h>
#include <stdint.h>

struct config;
struct crm_clients;
struct hubspot_client;
struct salesforce_client;

/* The most workers that may sync one mapping's pairs at once: one per slot lock (db/locks.h). */
#define SYNC_MAX_MAPPING_WORKERS LOCK_SLOTS_PER_MAPPING

struct sync_engine_options {
    const char *conninfo;         /* the database; each worker opens its own connection */
    int statement_timeout_ms;     /* on each worker connection; <= 0: none */
    struct hubspot_client *hc;    /* borrowed */
    struct salesforce_client *sc; /* borrowed */
    struct crm_http_options http; /* for each worker's handle */
    int workers;                  /* threads sync_engine_start starts */
    int batch;                    /* records per round; <= 0: 200 */
    int poll_ms;                  /* idle sleep; <= 0: 200 */
    int linger_ms;       /* after a wake-up from idle, wait this long so a burst fills the batch */
    int lease_ms;        /* <= 0: 300000 */
    int mapping_workers; /* workers syncing one mapping's pairs at once; < 1: 2; at most
                            SYNC_MAX_MAPPING_WORKERS */
    struct queue_backoff_policy backoff;
    bool history;              /* record each record's history (SYNKRO_HISTORY_RETENTION > 0) */
    int64_t mapping_ttl_ms;    /* re-read schemas after this (and after a batch had conversion or
                                  validation failures); 0: every round */
    const char *worker_prefix; /* worker ids are "<prefix>:w<n>"; NULL: "<host>:<pid>" */
};

/* Options from the configuration and the app's clients (pointers borrow from app). */
void sync_engine_options_from_config(struct sync_engine_options *o, const struct config *cfg,
                                     const struct crm_clients *crm);

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
