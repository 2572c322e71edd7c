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

/* ---- internal to sync_batch.c, sync_read.c and sync_write.c ---- */

enum pair_state { PAIR_PENDING = 0, PAIR_DONE, PAIR_RETRY, PAIR_FAIL };

enum pair_outcome {
    OUT_UNCHANGED = 0,
    OUT_SYNCED,
    OUT_CREATED,
    OUT_DELETED,
};

struct sync_pair {
    char *sf_id;                  /* heap; NULL: none known */
    char *hs_id;                  /* heap */
    const struct sync_link *link; /* borrowed from the batch's links; NULL: not linked */
    size_t *recs;                 /* indices of the batch's records */
    size_t nrecs;
    bool absorbed; /* merged into another pair: ignore */
    bool from_sf;  /* Salesforce events in the pair */
    bool from_hs;
    bool del_sf; /* the Salesforce record's last word is a delete */
    bool del_hs;
    bool restore; /* a HubSpot restore is the last word */
    bool need_sf_read, need_hs_read;
    json_object *sf_rec;         /* owned; NULL: missing or unread */
    json_object *hs_props;       /* owned (a reference to the read's properties) */
    bool sf_missing, hs_missing; /* read and found missing */
    struct merge_output out;
    bool merged;
    bool created_hs, created_sf;
    bool wrote_hs, wrote_sf;
    int64_t written_ms; /* epoch ms when the CRM acknowledged the pair's writes; 0: none yet */
    bool mark_deleted;
    bool delete_sf, delete_hs; /* delete the other record (on_delete delete) */
    bool deletes_sent;         /* sync_write_deletes handled delete_sf / delete_hs */
    bool gone_sf, gone_hs;     /* a write found that record deleted: settled as its delete */
    int64_t read_ms;           /* epoch ms when the pair's records were last read; 0: never */
    /* owned: the bases to merge against when the link held a write-ahead record of a batch cut
     * short (sync_base_resolve_pending); NULL: the link's own sf_values / hs_values */
    json_object *base_sf, *base_hs;
    bool pending_stored; /* this batch stored the link's write-ahead record (sync_write.c) */
    /* The association step has its own outcome: it never turns a finished field sync into a
     * failure. PAIR_PENDING: fine (or no associations); PAIR_RETRY / PAIR_FAIL: the pair's
     * association events (or a follow-up event) retry or fail, its field events complete. */
    enum pair_state assoc_state;
    enum queue_error_category assoc_category;
    long assoc_retry_after_ms;
    char assoc_error[640];
    json_object *hs_extra; /* owned: identity property to write to HubSpot; NULL: none */
    json_object *sf_extra; /* owned: identity field to write to Salesforce */
    enum pair_state state;
    enum pair_outcome outcome;
    enum queue_error_category category;
    long retry_after_ms;
    char error[640];
};

struct sync_batch {
    const struct sync_env *env;
    const struct sync_mapping *sm;
    struct claimed_record *recs;
    size_t nrecs;
    struct sync_link *links;
    size_t nlinks;
    struct sync_link *adopted_links; /* links found for ids learnt by adoption (sync_read.c) */
    size_t nadopted_links;
    struct sync_pair *pairs;
    size_t npairs;
    struct sync_batch_report *rep;
};

/* Pair failures: a CRM error (classified: retry or fail with a category), or a plain one. */
void sync_pair_fail_crm(struct sync_pair *p, const struct crm_error *e, const char *what);
void sync_pair_fail(struct sync_pair *p, enum queue_error_category category, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The association step's outcome of a pair whose fields synced (sync_outcome.c): a CRM error
 * (retry, or fail with the association category), or a target not synced yet (retry, reason
 * kept). The first retryable reason is kept; a permanent one replaces it. */
void sync_pair_assoc_fail(struct sync_pair *p, const struct crm_error *e, const char *what);
void sync_pair_assoc_wait(struct sync_pair *p, const char *reason);

/* Moves src's records, flags, reads and ids into dst (where dst has none); src becomes absorbed. */
void sync_pair_absorb(struct sync_pair *dst, struct sync_pair *src);
/* The pending pair (not absorbed) whose Salesforce id / HubSpot id is id, other than except. */
struct sync_pair *sync_pair_by_sf(struct sync_batch *b, const char *id,
                                  const struct sync_pair *except);
struct sync_pair *sync_pair_by_hs(struct sync_batch *b, const char *id,
                                  const struct sync_pair *except);
/* True when two Salesforce ids name one record (15-character prefixes equal). */
bool sync_sf_id_equal(const char *a, const char *b);

/* sync_read.c: reads every pending pair's records (need_*_read), then adopts by identity and
 * reads the adopted side. */
void sync_read_pairs(struct sync_batch *b);
/* sync_write.c: deletes of pairs marked delete_*; creates, updates and identity writes of
 * merged pending pairs. */
void sync_write_deletes(struct sync_batch *b);
void sync_write_pairs(struct sync_batch *b);
/* sync_read.c: reads again the records of pending pairs flagged need_sf_read / need_hs_read
 * (a read grown stale before its write, or a record a write found gone); no adoption. */
void sync_read_again(struct sync_batch *b);

/* The bases p merges against: the resolved ones (base_sf / base_hs), else the link's; NULL when
 * the pair has no link. */
json_object *sync_pair_sf_base(const struct sync_pair *p);
json_object *sync_pair_hs_base(const struct sync_pair *p);

/* sync_payload.c: true when p (linked, link active, pending) is an echo: every claimed event
 * carries its values and they all equal the link's base (settle it unchanged, no CRM call). */
bool sync_pair_is_echo(const struct sync_batch *b, const struct sync_pair *p);

#endif
