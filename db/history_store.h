/* history_store.h: each linked record's history (sync_history, migration 0009) and the console's
 * record lookups: append a sync batch's entries, a link's timeline newest first, find links by
 * either id or by their label, one link's detail with its last-synced values, and pruning.
 *
 * Owns the SQL of sync_history and the record queries over sync_links (joined with mappings for
 * their names). Every statement is parameterised; history_append sends one statement for any
 * number of rows, on the caller's connection without a transaction of its own (the engine calls
 * it inside the batch's commit). Answers are JSON the handlers send as they are (see the shapes
 * below: they are docs/console contract's).
 *
 * Must not: call CRMs, decide what to record (sync/sync_history.c does), or log. */
#ifndef SYNKRO_DB_HISTORY_STORE_H
#define SYNKRO_DB_HISTORY_STORE_H

#include <json-c/json.h>
#include <libpq-fe.h>
#include <stddef.h>
#include <stdint.h>

/* Longest search text and record id the queries take (the handler refuses longer ones). */
#define HISTORY_QUERY_MAX 200

struct history_row {
    int64_t mapping_id;
    int64_t link_id; /* 0: the pair has no link (yet) */
    const char *salesforce_id;
    const char *hubspot_id;
    const char *kind;     /* event|decision|write|conflict|error|association|skip */
    const char *side;     /* "salesforce" | "hubspot" | NULL */
    const char *actor;    /* NULL: none */
    int64_t event_id;     /* 0: none */
    const char *summary;  /* one sentence; required */
    json_object *details; /* borrowed; NULL: {} */
};

/* Appends n rows in one statement, in input order (ids ascending). A row without summary or with
 * an unknown kind or side is an error (nothing stored). 0, or -1 with err. */
int history_append(PGconn *conn, const struct history_row *rows, size_t n, char *err,
                   size_t errlen);

/* history_append inside the caller's transaction, behind a savepoint: when the rows are refused
 * (text the database does not take, say) the savepoint is rolled back and the transaction goes
 * on without them, so a batch's outcome never depends on its history. The savepoint is opened in
 * the COPY's round trip and left for the commit to release. 0 when stored, 1 when refused (rolled
 * back, or refused before the database was asked; err says why), -1 when the transaction itself
 * is lost (err). */
int history_append_guarded(PGconn *conn, const struct history_row *rows, size_t n, char *err,
                           size_t errlen);

/* Link link_id's entries, newest first: {"entries":[{"id","at","kind","side","actor","summary",
 * "details"}],"next":"<cursor>"|null}; before is a previous answer's next ("" or NULL: from the
 * newest), limit 1..200. Entries recorded before the pair had a link are included (same mapping,
 * same record id). Returns 1 with *out, 0 when there is no such link, -1 with err (also for a
 * before that is not a cursor). */
int history_timeline(PGconn *conn, int64_t link_id, const char *before, int limit,
                     json_object **out, char *err, size_t errlen);

struct record_query {
    const char *q;      /* Salesforce id (15 or 18), HubSpot id, or the start of the label
                           (case-insensitive); NULL: every link */
    int64_t mapping_id; /* 0: any */
    const char *after;  /* a previous answer's next; NULL: from the newest link */
    int limit;          /* 1..100 */
};

/* {"records":[{"link_id","mapping_id","mapping_name","salesforce_object","hubspot_object",
 * "salesforce_id","hubspot_id","label","last_synced_at"}],"next":"<cursor>"|null}, newest link
 * first. NULL with err on failure. */
json_object *record_search(PGconn *conn, const struct record_query *rq, char *err, size_t errlen);

/* One link: {"link_id","mapping_id","mapping_name","salesforce_object","hubspot_object",
 * "salesforce_id","hubspot_id","label","state","last_synced_at","fields":[{"salesforce_field",
 * "hubspot_property","rule","base","base_salesforce","base_hubspot"}]} (fields of the mapping's
 * document in order; base is the Salesforce value, else the HubSpot one). 1 with *out, 0 when there
 * is no such link, -1 with err. */
int record_detail(PGconn *conn, int64_t link_id, json_object **out, char *err, size_t errlen);

/* Deletes entries older than retention_s seconds, at most batch rows. The count, or -1. */
long history_prune(PGconn *conn, long retention_s, int batch, char *err, size_t errlen);

#endif
