/* mapping_store.h: mappings and their history in PostgreSQL.
 *
 * A mapping row holds the document (sync/mapping.h's JSON), its state and a
 * version number. Every write runs in one transaction that also appends a
 * history row (who, when, action, the new document, and the changed paths),
 * and checks the caller's expected version so that concurrent edits are
 * detected (MS_STALE) instead of lost. All SQL is parameterised. */
#ifndef SYNKRO_DB_MAPPING_STORE_H
#define SYNKRO_DB_MAPPING_STORE_H

#include <json-c/json.h>
#include <libpq-fe.h>
#include <stddef.h>
#include <stdint.h>

enum mapping_store_result {
    MS_OK = 0,
    MS_NOT_FOUND = -1,
    MS_STALE = -2,    /* the stored version is not the expected one */
    MS_CONFLICT = -3, /* another mapping already uses this Salesforce or HubSpot object */
    MS_ERROR = -4,    /* database error; err says which */
};

struct mapping_row {
    json_object *document; /* the mapping document (id, version, state members ignored) */
    const char *name;
    const char *state; /* draft | enabled | paused */
    const char *salesforce_object;
    const char *hubspot_object;
    json_object *problems; /* last validation result (array); NULL: [] on create, unchanged on
                              update */
    const char *hubspot_object_type_id; /* resolved by validation; NULL when unknown */
};

/* Inserts a new mapping (version 1). */
int mapping_store_create(PGconn *conn, const struct mapping_row *row, const char *actor,
                         int64_t *id, char *err, size_t errlen);

/* Replaces the document/state of mapping id when its version is
 * expected_version (0: any), bumping the version. action: update, enable,
 * pause. *new_version is set on success. */
int mapping_store_update(PGconn *conn, int64_t id, int64_t expected_version,
                         const struct mapping_row *row, const char *action, const char *actor,
                         int64_t *new_version, char *err, size_t errlen);

/* Deletes mapping id (expected_version 0: any); history is kept. */
int mapping_store_delete(PGconn *conn, int64_t id, int64_t expected_version, const char *actor,
                         char *err, size_t errlen);

/* One mapping: {"id","version","state",<document members>,"problems","validated_at",
 * "created_at","updated_at"}. *result is MS_OK, MS_NOT_FOUND or MS_ERROR. */
json_object *mapping_store_get(PGconn *conn, int64_t id, int *result, char *err, size_t errlen);

/* Every mapping, in id order, as mapping_store_get returns them. */
json_object *mapping_store_list(PGconn *conn, char *err, size_t errlen);

/* The history of mapping id, oldest first. */
json_object *mapping_store_history(PGconn *conn, int64_t id, char *err, size_t errlen);

/* Stores a validation result without changing the version or history. */
int mapping_store_set_validation(PGconn *conn, int64_t id, json_object *problems,
                                 const char *hubspot_object_type_id, char *err, size_t errlen);

/* Brings queued events in line with the mappings: events of an enabled
 * mapping's objects become pending, of a draft/paused one held, of no
 * mapping unmapped (events being processed, done or failed are left alone).
 * Returns the number of events moved, or -1. */
long mapping_store_reclassify_events(PGconn *conn, char *err, size_t errlen);

/* A digest of what decides a queued event's status (every mapping's id, state, Salesforce object
 * and HubSpot object type id): equal digests mean mapping_store_reclassify_events has nothing new
 * to decide. Heap (caller frees); NULL with err. */
char *mapping_store_classes_signature(PGconn *conn, char *err, size_t errlen);

/* Number of mappings. -1 on error. */
long mapping_store_count(PGconn *conn, char *err, size_t errlen);

/* ---- what the sync workers read each round ---- */

/* "id:version,..." of the enabled mappings in id order ("" when none), heap (caller frees). One
 * cheap one-row query, so a worker that compares it each round notices a mapping enabled,
 * changed or paused at once. NULL with err. */
char *mapping_store_enabled_signature(PGconn *conn, char *err, size_t errlen);

/* An enabled mapping's stored document. */
struct mapping_doc {
    int64_t id;
    char *document; /* heap: the document's JSON text as stored */
};

/* The enabled mappings' documents in id order into *docs (free with mapping_docs_free) and *n.
 * 0, or -1 with err (*docs NULL). */
int mapping_store_enabled_documents(PGconn *conn, struct mapping_doc **docs, size_t *n, char *err,
                                    size_t errlen);
void mapping_docs_free(struct mapping_doc *docs, size_t n);

/* Import: replaces every mapping with rows (ids kept when the documents carry
 * them) in one transaction; on any failure nothing changes. */
int mapping_store_replace_all(PGconn *conn, const struct mapping_row *rows, size_t n,
                              const char *actor, char *err, size_t errlen);

#endif
