/* sync_assoc.h: syncs a mapping's associations (Salesforce lookups <-> HubSpot associations) for
 * one batch of linked record pairs, three-way like the fields.
 *
 * Owns the association step of a sync batch: reading the pairs' current HubSpot associations,
 * resolving lookup ids to HubSpot ids and back, creating / archiving HubSpot associations,
 * writing Salesforce lookups, and the association keys of the link's stored values. The engine
 * (sync/sync_batch.c) calls sync_assoc_run once per batch, after its own writes and before its
 * commit, for the pairs that have both ids, and merges each pair's base keys into the link's new
 * sf_values / hs_values.
 *
 * Design, per enabled association with lookup field F and target type T:
 *   - base keys: sf_values["@assoc:F"] = the lookup id last synced, hs_values["@assoc:F"] = the
 *     HubSpot target id last synced (JSON string, or null when blank). "@" is in no Salesforce
 *     field or HubSpot property name, so the keys never clash with the field merge.
 *   - Salesforce value: the record's F (a missing member means unknown: no Salesforce change);
 *     HubSpot value: the base target while the record is still associated to it, else the single
 *     current target of type T (association_type_id when set, any type otherwise), blank when
 *     there is none (several new targets are ambiguous: no HubSpot change).
 *   - one side changed: its value is carried over; both changed: equal values (after resolving)
 *     settle, else the mapping's conflict_winner decides.
 *   - resolving: by the links of the target mapping (resolver.mapping_id, or by default the synkro
 *     mapping of F's referenceTo object), or by resolver.hubspot_property on T (HubSpot search
 *     forwards, batch read backwards). An unresolvable target makes the pair wait (reason set,
 *     that association's base kept) so a retry finds it once the target is synced.
 *   - calls per batch: one association read per target type (<= 1,000 ids per call), one
 *     association create and one archive call per association (<= 2,000), one Salesforce
 *     Collections update (<= 200 per call) for every lookup written, resolver reads in batches.
 * A write that fails keeps that association's base, so the next run redoes it (creates of
 * existing associations are skipped, archives of absent ones are harmless).
 * Failures are per pair, never per call: the HubSpot client reads batch answers input by input
 * (sync/hubspot_client.h), so an error fails only the pairs whose ids it names. A pair whose
 * associations could not be read fails with its own error (its record gone: code
 * OBJECT_NOT_FOUND, http_status 404, permanent, so the engine can take it as the record's
 * deletion) and the other pairs of the run proceed; likewise one create or archive input.
 *
 * Must not: touch the engine's links or transaction, write mapped fields, take locks, or log. */
#ifndef SYNKRO_SYNC_SYNC_ASSOC_H
#define SYNKRO_SYNC_SYNC_ASSOC_H

#include "crm/crm_error.h"
#include "crm/crm_http.h"
#include "crm/crm_schema.h"
#include "model/mapping.h"

#include <json-c/json.h>
#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct hubspot_client;
struct salesforce_client;

/* The prefix of the association keys in a link's sf_values / hs_values. */
#define SYNC_ASSOC_KEY_PREFIX "@assoc:"

/* One linked pair. Inputs are borrowed; outputs are owned by the pair (sync_assoc_pairs_clear). */
struct assoc_pair {
    const char *sf_id;
    const char *hs_id;
    json_object *sf_record; /* current Salesforce record incl. the lookup fields; NULL: unread */
    json_object *sf_base;   /* the link's stored sf_values (NULL: none yet) */
    json_object *hs_base;   /* the link's stored hs_values */
    /* outputs */
    json_object *sf_write;    /* lookups written to the Salesforce record by this run; NULL: none */
    json_object *sf_base_set; /* association keys for the new sf_values (every enabled one) */
    json_object *hs_base_set; /* association keys for the new hs_values */
    bool wait;                /* a target is not resolvable yet: retry this pair later */
    char reason[512];         /* why it waits (the event's last_error) */
    struct crm_error error;   /* a CRM call failure of this pair (cls CRM_ERR_NONE when none) */
};

/* The CRM calls made (HTTP requests, retries included). */
struct assoc_calls {
    size_t hubspot;
    size_t salesforce;
};

/* What the run works with; everything borrowed. */
struct assoc_env {
    PGconn *conn; /* for the links of target mappings and the mapping list */
    struct hubspot_client *hc;
    struct salesforce_client *sc;
    struct crm_http *http;
    const struct mapping *m;
    const char *hs_type; /* the mapping's HubSpot objectTypeId (the "from" of associations) */
    const struct sf_object *sf; /* the mapping's Salesforce describe (lookup targets) */
};

/* Syncs every enabled association of env->m for pairs[0..n) (both ids set). Fills each pair's
 * outputs (sync_assoc_pairs_clear frees them; pairs must start zeroed or cleared). Per-pair CRM
 * failures land in pairs[i].error (only the pairs an error names); unresolvable targets in
 * wait/reason. calls (may be NULL) is
 * increased by the requests made. 0, or -1 with err when the database or memory failed (then
 * the pairs' outputs must not be used). */
int sync_assoc_run(const struct assoc_env *env, struct assoc_pair *pairs, size_t n,
                   struct assoc_calls *calls, char *err, size_t errlen);

/* Frees the outputs of pairs[0..n) and resets them (inputs untouched). Accepts NULL. */
void sync_assoc_pairs_clear(struct assoc_pair *pairs, size_t n);

/* The Salesforce fields the run needs in each sf_record: the lookup fields of the enabled
 * associations. *n receives the count; the names are borrowed from m. Caller frees the array
 * with free(). NULL with *n 0 when there are none (or memory ran out). */
const char **sync_assoc_sf_fields(const struct mapping *m, size_t *n);

#endif
