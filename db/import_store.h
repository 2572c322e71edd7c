/* import_store.h: the SQL of reconciliation sweeps and imports: which mappings to sweep, the sweep
 * cursors (sync_cursors), advisory locks that keep two synkro processes off the same mapping or
 * import, and the import rows (sync_imports) with the events they queue (change_events.import_id).
 *
 * Owns every statement on sync_imports and sync_cursors, and this module's statements on
 * change_events; results are copied out before PQclear. Every statement is parameterised and runs
 * on the caller's connection without a transaction of its own (except import_store_create, which
 * needs one to serialise concurrent starts). Migration 0006 defines the tables.
 *
 * Must not: call CRMs, log, or decide when to sweep or page (sync/sweep.c, sync/import.c do). */
#ifndef SYNKRO_DB_IMPORT_STORE_H
#define SYNKRO_DB_IMPORT_STORE_H

#include <json-c/json.h>
#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define IMPORT_STORE_NAME_MAX 256

/* What a sweep or an import needs of one mapping. */
struct sweep_target {
    int64_t mapping_id;
    bool enabled;
    char salesforce_object[IMPORT_STORE_NAME_MAX];
    char hubspot_type[IMPORT_STORE_NAME_MAX]; /* objectTypeId when validated, else the document's */
};

/* The mapping mapping_id; *found false when there is none. 0, or -1 with err. */
int import_store_target(PGconn *conn, int64_t mapping_id, struct sweep_target *out, bool *found,
                        char *err, size_t errlen);
/* Ids of every enabled mapping in id order into *ids (caller frees) and *n. 0, or -1 with err. */
int import_store_enabled_mappings(PGconn *conn, int64_t **ids, size_t *n, char *err, size_t errlen);

/* Session advisory locks, one namespace per use. The lock belongs to conn until unlocked (or the
 * connection closes), so callers unlock before handing the connection back. */
enum import_store_lock { IMPORT_LOCK_SWEEP = 0, IMPORT_LOCK_IMPORT };
int import_store_try_lock(PGconn *conn, enum import_store_lock which, int64_t id, bool *got,
                          char *err, size_t errlen);
int import_store_unlock(PGconn *conn, enum import_store_lock which, int64_t id, char *err,
                        size_t errlen);

/* The sweep cursor of (mapping, source, kind) copied into out (outlen bytes); *found false when
 * none. source: salesforce | hubspot; kind: updated | deleted. 0, or -1 with err (also when the
 * stored position does not fit out: a cursor is never cut short). */
int import_store_cursor_get(PGconn *conn, int64_t mapping_id, const char *source, const char *kind,
                            char *out, size_t outlen, bool *found, char *err, size_t errlen);
/* Stores the sweep cursor of (mapping, source, kind), replacing the earlier one. 0, or -1 with
 * err (also for a source or kind the table does not know). */
int import_store_cursor_set(PGconn *conn, int64_t mapping_id, const char *source, const char *kind,
                            const char *position, char *err, size_t errlen);

/* ---- imports ---- */

enum import_create_result {
    IMPORT_CREATE_OK = 0,
    IMPORT_CREATE_RUNNING = 1, /* the mapping already has a queued or running import */
    IMPORT_CREATE_ERROR = -1,
};

/* Inserts a queued import of mapping_id unless one is queued or running (checked under a
 * transaction-scoped advisory lock, so two concurrent starts create one). total < 0: unknown. */
int import_store_create(PGconn *conn, int64_t mapping_id, const char *direction, const char *actor,
                        long long total, int64_t *id, char *err, size_t errlen);

/* {"id","mapping_id","direction","status","actor","total","queued","synced","failed","position",
 * "error","created_at","started_at","finished_at"}; *found false when no such import. Caller
 * puts. NULL with err on failure. */
json_object *import_store_get(PGconn *conn, int64_t id, bool *found, char *err, size_t errlen);
/* {"imports":[...]} newest first (at most 200), of one mapping (mapping_id > 0) or all. */
json_object *import_store_list(PGconn *conn, int64_t mapping_id, char *err, size_t errlen);

/* Ids of queued and running imports, oldest first (caller frees *ids). 0, or -1 with err. */
int import_store_active(PGconn *conn, int64_t **ids, size_t *n, char *err, size_t errlen);

struct import_row {
    int64_t id;
    int64_t mapping_id;
    char direction[32];
    char status[16];
    char position[IMPORT_STORE_NAME_MAX]; /* "" before the first page */
    long long total;                      /* -1 when unknown */
};

int import_store_load(PGconn *conn, int64_t id, struct import_row *out, bool *found, char *err,
                      size_t errlen);

/* Events of the import still waiting for a worker (pending, processing or held). -1 on error. */
long long import_store_waiting(PGconn *conn, int64_t import_id, char *err, size_t errlen);

/* Queues one 'update' event per record id of ids_json (a JSON array of strings) for import_id in
 * one statement, keyed "import:<import_id>:<record id>" (ON CONFLICT DO NOTHING), with the status
 * the mapping's state gives (pending when enabled). Returns the number inserted, or -1. */
long long import_store_insert_events(PGconn *conn, int64_t import_id, int64_t mapping_id,
                                     const char *source, const char *object_type,
                                     const char *ids_json, char *err, size_t errlen);

/* Updates a queued or running import: status (NULL keeps; running sets started_at once, done and
 * failed set finished_at), position (NULL keeps), error (NULL keeps, "" clears), total (< 0
 * keeps), and recounts queued/synced/failed from its events. 0 (also when the import is no
 * longer active, e.g. cancelled), or -1 with err. */
int import_store_progress(PGconn *conn, int64_t id, const char *status, const char *position,
                          const char *error, long long total, char *err, size_t errlen);

enum import_cancel_result {
    IMPORT_CANCEL_OK = 0,
    IMPORT_CANCEL_NOT_FOUND = 1,
    IMPORT_CANCEL_NOT_ACTIVE = 2,
    IMPORT_CANCEL_ERROR = -1,
};

/* Cancels a queued or running import and deletes its events that no worker holds yet. */
int import_store_cancel(PGconn *conn, int64_t id, char *err, size_t errlen);

#endif
