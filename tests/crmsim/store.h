/* store.h: record containers, ids and write transactions for both CRMs.
 *
 * Owns: inserting/finding/removing HubSpot and Salesforce records in their per-object indexes,
 * HubSpot numeric ids and Salesforce 15/18-character ids (key prefix + case-safe suffix), and
 * struct txn: an undo log plus the change notifications (webhook events, outbound notifications) a
 * write produced. A txn is committed (events queued for delivery) or rolled back (every change
 * undone, events dropped) — this is how batch all-or-nothing and allOrNone work. Callers hold
 * sim->lock. Must not: validate input or know HTTP (the API modules do). */
#ifndef SYNKRO_TESTS_CRMSIM_STORE_H
#define SYNKRO_TESTS_CRMSIM_STORE_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tests/crmsim/sim.h"

/* ---- HubSpot ---- */

/* Compares numeric id strings by value (shorter is smaller); non-numeric ids sort after, by strcmp.
 */
int hs_id_cmp(const char *a, const char *b);
/* Allocates the next record id (decimal string, caller frees). */
char *hs_id_next(struct sim *sim);
/* A new record with the given id (copied) and empty props. Caller owns until inserted. */
struct hs_record *hs_record_new(const char *id);
void hs_record_free(struct hs_record *rec);
/* Adds rec to schema (ownership moves to the schema). -1 when the id is taken. */
int hs_records_insert(struct sim *sim, struct hs_schema *s, struct hs_record *rec);
/* Removes rec from schema without freeing it. */
void hs_records_remove(struct sim *sim, struct hs_schema *s, struct hs_record *rec);
/* The unique property name of s (NULL when s has no such property or it is not unique). */
const struct hs_property *hs_unique_prop(const struct hs_schema *s, const char *name);
/* Lists rec under the current value of each of its schema's unique properties (called by
 * hs_records_insert and after every write of a record's properties; see uindex.h). */
void hs_unique_note(struct hs_schema *s, struct hs_record *rec);
/* The records that may hold value of unique property prop (*n of them; NULL when none). */
struct hs_record *const *hs_unique_candidates(struct hs_schema *s, const char *prop,
                                              const char *value, size_t *n);
struct hs_record *hs_record_find(struct hs_schema *s, const char *id);
void hs_schema_free(struct hs_schema *s);

/* ---- Salesforce ---- */

/* Writes the 3-character case-safe suffix of a 15-character id into out[0..2]. */
void sf_id_suffix(const char *id15, char *out);
/* Normalises a 15- or 18-character id into out (19 bytes). -1 when malformed (length, characters,
 * or an 18-character id whose suffix does not match). */
int sf_id_normalize(const char *in, char *out);
/* New 18-character id with the given 3-character key prefix. */
void sf_id_generate(struct sim *sim, const char *prefix, char *out);
struct sf_record *sf_record_new(void);
void sf_record_free(struct sf_record *rec);
void sf_records_append(struct sim *sim, struct sf_object *o, struct sf_record *rec);
void sf_records_remove(struct sim *sim, struct sf_object *o, struct sf_record *rec);
/* Lists rec under the current text value of each of its object's unique fields (called by
 * sf_records_append, after every write of a record's fields, and by anything else that sets
 * them; see uindex.h: the candidates of a value are a superset of its holders). */
void sf_unique_note(struct sf_object *o, struct sf_record *rec);
/* The records that may hold text value v of unique field f (*n of them; NULL when none). */
struct sf_record *const *sf_unique_candidates(struct sf_object *o, const struct sf_field *f,
                                              const char *v, size_t *n);
/* Finds a record by 15/18-char id (deleted ones included). */
struct sf_record *sf_record_find(struct sf_object *o, const char *id);
void sf_object_free(struct sf_object *o);
/* Object by API name, case-insensitive. */
struct sf_object *sf_object_find(struct sim *sim, const char *name);
/* Field by name, case-insensitive. */
struct sf_field *sf_field_find(struct sf_object *o, const char *name);

/* ---- transactions ---- */

enum change_source { SRC_INTEGRATION, SRC_UI };

enum undo_kind {
    UNDO_HS_CREATE,
    UNDO_HS_SNAPSHOT,
    UNDO_SF_CREATE,
    UNDO_SF_SNAPSHOT,
    UNDO_HS_ASSOC
};

struct undo {
    enum undo_kind kind;
    void *owner; /* struct hs_schema* or struct sf_object* */
    void *rec;
    json_object *values; /* previous props/fields (a reference) */
    json_object *index_props;
    int64_t t1, t2, t3, t4;
    bool flag1, flag2;
    char by[19];           /* UNDO_SF_SNAPSHOT: the record's LastModifiedById */
    struct hs_assoc assoc; /* UNDO_HS_ASSOC: the edge that was added (owned copy) */
};

struct ob_change {
    char *object;
    char record_id[19];
    char modified_by[19]; /* the record's LastModifiedById after this txn's change */
};

struct txn {
    enum change_source source;
    int64_t app_id; /* writer's app (INTEGRATION) */
    struct undo *undo;
    size_t n_undo;
    size_t cap_undo;
    json_object *events; /* HubSpot webhook events produced by this txn */
    struct ob_change *ob;
    size_t n_ob;
    size_t cap_ob;
};

void txn_init(struct txn *t, enum change_source source, int64_t app_id);
/* Remember a new HubSpot record (rollback removes and frees it). */
void txn_hs_created(struct txn *t, struct hs_schema *s, struct hs_record *rec);
/* Remember a HubSpot record's state before changing it (call before every change). */
void txn_hs_snapshot(struct txn *t, struct hs_schema *s, struct hs_record *rec);
void txn_sf_created(struct txn *t, struct sf_object *o, struct sf_record *rec);
void txn_sf_snapshot(struct txn *t, struct sf_object *o, struct sf_record *rec);
/* Remember an association edge that was appended to sim->hs.assocs. */
void txn_hs_assoc_added(struct txn *t, const struct hs_assoc *a);
/* Queue a webhook event (takes ownership of ev). */
void txn_event(struct txn *t, json_object *ev);
/* Queue an outbound-message check for a Salesforce record change by user modified_by. */
void txn_sf_changed(struct txn *t, const char *object, const char *record_id,
                    const char *modified_by);
/* Hands the events to the delivery queues and forgets the undo log. */
void txn_commit(struct sim *sim, struct txn *t);
/* Undoes every change in reverse order and drops the events. */
void txn_rollback(struct sim *sim, struct txn *t);

#endif
