/* sync_batch.h: syncs one mapping's batch of claimed records: reads both CRMs, merges each pair
 * three-way, writes the differences in batched calls, and stores links, conflicts and the events'
 * outcome in one transaction.
 *
 * Owns one batch's working state (struct sync_batch, its pairs and their CRM values) for the
 * duration of sync_batch_run, and the table that turns CRM error codes into failure categories.
 * The caller (sync/sync_engine.c) owns the mapping, schemas, clients, the HTTP handle and the
 * connection, and holds the mapping's advisory lock while this runs.
 *
 * Steps of sync_batch_run (sync_batch.c orchestrates, sync_read.c reads, sync_write.c writes,
 * sync_outcome.c classifies failures, sync_payload.c reads the events' own payloads):
 *  1. records -> pairs: a Salesforce record and a HubSpot record of one link become one pair
 *     (link_load), HubSpot merges re-point the link to the survivor first (link_repoint_hubspot);
 *  2. echoes: a linked pair whose events all carry values equal to the link's base (synkro's
 *     own writes coming back) is settled unchanged without any call (sync_payload.c);
 *     deletes (the last delete/restore event of a side decides) follow the mapping's on_delete;
 *  3. reads: Salesforce by SOQL `... WHERE Id IN (...)` (crm/soql: ids and names checked, at
 *     most 200 per query; an outbound message is never taken as the read, as a retried one can be
 *     older than what was synced), HubSpot by batch read (100 per call), both concurrently; a
 *     missing record is deleted;
 *  4. adoption: an unlinked record whose identity field names a record of the other CRM is
 *     linked to it (synkro's own creates and crash recovery), the other side read too;
 *  5. sync_merge per pair (read again first when the read is over 5 s old); creates by upsert on
 *     the identity field/property (idempotent), updates by batch update / Collections, then each
 *     side's id into the other's identity; a record a write finds deleted is settled as its
 *     delete; the new bases become what the CRMs acknowledged (sync/sync_base.h); associations
 *     (their failure retries the associations alone, never the fields);
 *  6. one transaction: link_save_batch, conflict_insert_batch, and settling every event
 *     (complete / retry later with back-off / fail with a category). A crash before it leaves
 *     the events leased: they come back and are redone, creates finding their records again.
 * One record's failure fails that record's pair only; a whole-call failure every pair in it.
 *
 * Must not: take locks, sleep, log tokens, or touch another mapping's records. */
#ifndef SYNKRO_SYNC_SYNC_BATCH_H
#define SYNKRO_SYNC_SYNC_BATCH_H

#include "db/link_store.h"
#include "db/queue_claim.h"
#include "crm/crm_error.h"
#include "crm/crm_http.h"
#include "crm/crm_schema.h"
#include "model/mapping.h"
#include "sync/sync_merge.h"

#include <json-c/json.h>
#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct hubspot_client;
struct salesforce_client;

/* One enabled mapping, ready to sync (the engine's cache owns it). */
struct sync_mapping {
    int64_t id;
    struct mapping *m;
    struct sf_object *sf;
    struct hs_object *hs;
    const char *hs_type; /* the objectTypeId used in HubSpot paths (hs->object_type_id) */
};

/* What a batch runs with; everything borrowed. */
struct sync_env {
    PGconn *conn; /* the worker's own connection */
    const char *worker_id;
    struct hubspot_client *hc;
    struct salesforce_client *sc;
    struct crm_http *http;
    struct crm_http *http_aux; /* the worker's second handle: the HubSpot read runs on a short
                                  thread beside the Salesforce read; NULL: one after the other */
    struct queue_backoff_policy backoff;
    bool history; /* record each pair's history (sync_history) in the batch's commit */
};

/* Counts of one batch (for the log line and tests). */
struct sync_batch_report {
    size_t records; /* claimed records */
    size_t synced;  /* records whose pair was written to */
    size_t created; /* records whose pair got a new record */
    size_t unchanged;
    size_t deleted;
    size_t failed;
    size_t retried;
    size_t conflicts;
    size_t hs_calls; /* HubSpot API calls (reads + writes) */
    size_t sf_calls;
    size_t hs_writes; /* records written to HubSpot */
    size_t sf_writes;
    size_t assoc_retried; /* pairs synced whose association step retries on its own */
};

/* Registers the sync metrics (idempotent). */
void sync_batch_metrics_init(void);

/* Syncs records (n of them, all of sm's objects, claimed by env->worker_id) and settles their
 * events. 0 when the outcome was committed; -1 with err when the final transaction failed (the
 * events stay leased and come back after the lease). */
int sync_batch_run(const struct sync_env *env, const struct sync_mapping *sm,
                   struct claimed_record *records, size_t n, struct sync_batch_report *rep,
                   char *err, size_t errlen);

/* The failure category of a permanent CRM error (by the CRM's codes, then HTTP status). */
enum queue_error_category sync_error_category(const struct crm_error *e);

#endif
