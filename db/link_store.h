/* link_store.h: the sync engine's memory in PostgreSQL: linked record pairs with their last-synced
 * values (sync_links) and the conflicts it resolved (sync_conflicts). Migration 0006 defines the
 * tables; the sweep cursors (sync_cursors) are db/import_store's.
 *
 * Owns the SQL of those tables and the structs it returns (free them with the *_free functions).
 * Every statement is parameterised; the batch functions send one statement for any number of rows
 * (arrays / JSON parameters), so a batch of 200 records costs one round trip. Functions run on the
 * caller's connection without a transaction of their own: inside the caller's BEGIN they are part
 * of it (the engine stores links, conflicts and settles events in one transaction).
 *
 * Must not: call CRMs, decide sync semantics, or log. */
#ifndef SYNKRO_DB_LINK_STORE_H
#define SYNKRO_DB_LINK_STORE_H

#include <json-c/json.h>
#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sync_link {
    int64_t id;
    int64_t mapping_id;
    char *salesforce_id;    /* NULL when not created yet */
    char *hubspot_id;       /* NULL when not created yet */
    bool deleted;           /* state 'deleted' */
    json_object *sf_values; /* owned; {} when never synced */
    json_object *hs_values; /* owned */
    json_object *pending; /* owned; the writes of a batch cut short (migration 0007); NULL: none */
};

/* The links of mapping_id whose salesforce_id is one of sf_ids or whose hubspot_id is one of
 * hs_ids (deleted ones included), in id order. Salesforce ids match on their first 15 characters
 * when a 15-character id is given. *out (free with sync_links_free) and *n receive them.
 * 0, or -1 with err. */
int link_load(PGconn *conn, int64_t mapping_id, const char *const *sf_ids, size_t nsf,
              const char *const *hs_ids, size_t nhs, struct sync_link **out, size_t *n, char *err,
              size_t errlen);

void sync_links_free(struct sync_link *links, size_t n);

/* One link to store. id > 0 updates that row (of this mapping); id 0 inserts, or updates the row
 * that already has this (mapping, salesforce_id) or, failing that, (mapping, hubspot_id) (a link
 * created from one side gets the other side's id). NULL ids and NULL values leave the stored
 * ones; deleted and synced are always applied. */
struct link_write {
    int64_t id;
    const char *salesforce_id;
    const char *hubspot_id;
    bool deleted;
    json_object *sf_values; /* borrowed; NULL: unchanged ({} on insert) */
    json_object *hs_values; /* borrowed */
    bool synced;            /* set synced_at = now() */
    bool keep_pending;      /* keep the write-ahead record (some write's outcome is unknown);
                               false: clear it, as every save of the values settles it */
};

/* Stores n links in one statement; ids_out (may be NULL) receives each row's id in input order.
 * Two inputs naming the same pair (the same link id, Salesforce id or HubSpot id, or resolving to
 * one stored row), an unknown link id, or one input whose two ids belong to two different links
 * are an error. 0, or -1 with err (nothing stored). */
int link_save_batch(PGconn *conn, int64_t mapping_id, const struct link_write *w, size_t n,
                    int64_t *ids_out, char *err, size_t errlen);

/* One link's write-ahead record: the writes a batch is about to send (see migration 0007). */
struct link_pending {
    int64_t id;           /* the link (of this mapping) */
    json_object *pending; /* borrowed; stored as sent */
};

/* Stores n write-ahead records in one statement (its own transaction under autocommit: it must
 * be durable before the writes go out). Links of other mappings or unknown ids are left alone.
 * A later link_save_batch of a link clears its record unless that write sets keep_pending.
 * 0, or -1 with err. */
int link_store_pending(PGconn *conn, int64_t mapping_id, const struct link_pending *p, size_t n,
                       char *err, size_t errlen);

/* Re-points the links of HubSpot records merged_ids to survivor_id (a HubSpot merge): when the
 * survivor has no active link, the active link of the first merged record (in merged_ids order)
 * that has one moves to it (a deleted link of the survivor is removed to make room); the active
 * links of the other merged records are marked deleted. Locks the rows it reads (FOR UPDATE) and
 * runs up to three statements: call it inside the caller's transaction. *moved (may be NULL)
 * receives the id of the moved link (0 when none). 0, or -1 with err. */
int link_repoint_hubspot(PGconn *conn, int64_t mapping_id, const char *survivor_id,
                         const char *const *merged_ids, size_t n, int64_t *moved, char *err,
                         size_t errlen);

/* Number of active links of a mapping (-1 with err on failure). */
long long link_count(PGconn *conn, int64_t mapping_id, char *err, size_t errlen);

/* ---- conflicts ---- */

struct conflict_row {
    int64_t mapping_id;
    int64_t link_id; /* 0: none */
    const char *salesforce_id;
    const char *hubspot_id;
    const char *salesforce_field;
    const char *hubspot_property;
    json_object *salesforce_value; /* borrowed; NULL = JSON null */
    const char *hubspot_value;     /* NULL = "" */
    const char *winner;            /* "salesforce" | "hubspot" */
    const char *reason;            /* merge_reason_name() */
};

/* Inserts n conflicts in one statement. 0, or -1 with err. */
int conflict_insert_batch(PGconn *conn, const struct conflict_row *rows, size_t n, char *err,
                          size_t errlen);

struct conflict_filter {
    int64_t mapping_id;        /* 0: all */
    const char *salesforce_id; /* NULL: any; 15 characters match the stored 18 */
    const char *hubspot_id;    /* NULL: any */
    const char *field;         /* Salesforce field or HubSpot property; NULL: any */
    const char *winner;        /* "salesforce" | "hubspot"; NULL: any */
    const char *record;        /* the Salesforce (15 or 18 characters) or HubSpot id; NULL: any */
    int64_t before_id;         /* keyset paging, newest first; 0: from the newest */
    int limit;                 /* 1..500 */
};

/* {"conflicts":[{"id","mapping_id","link_id","salesforce_id","hubspot_id","salesforce_field",
 * "hubspot_property","salesforce_value","hubspot_value","winner","reason","occurred_at"}],
 * "next_before":id|null}, newest first. Caller puts. NULL with err on failure. */
json_object *conflict_list(PGconn *conn, const struct conflict_filter *f, char *err, size_t errlen);

/* Deletes conflicts older than retention_s seconds, at most batch rows. Returns the count or -1. */
long conflict_prune(PGconn *conn, long retention_s, int batch, char *err, size_t errlen);

/* ---- the HubSpot deletion audit ---- */

/* How many links one audit call returns: enough to go through every active link of the mapping
 * that has a HubSpot id within `sweeps` calls (sweeps >= 1), at least `least` and at most `most`
 * (a `most` below `least` counts as `least`). */
struct link_audit_scale {
    int sweeps;
    int least;
    int most;
};

/* One audit call's links. */
struct link_audit_batch {
    char **hubspot_ids; /* heap; n heap strings, in link id order */
    size_t n;
    int64_t last_id; /* the last link's id, where the next call goes on; 0 when n is 0 */
};

/* The next active links of mapping_id that have a HubSpot id, after link id after_id in id order,
 * as many as scale says (counted over those links now): the HubSpot records a sweep checks for
 * deletions whose webhook was missed. n 0 means the end was reached (start again from 0).
 * *out is freed with link_audit_batch_free. 0, or -1 with err. */
int link_audit_next(PGconn *conn, int64_t mapping_id, int64_t after_id,
                    const struct link_audit_scale *scale, struct link_audit_batch *out, char *err,
                    size_t errlen);
void link_audit_batch_free(struct link_audit_batch *b);

#endif
