/* sync_merge.h: the three-way merge of one record pair: which mapped fields to write to which CRM,
 * which conflicts that resolves, and what both sides hold afterwards.
 *
 * Owns the sync semantics of the field rules and the conflict winner (the table below), and
 * nothing else: no network, no database, no logging, no global state. The sync engine feeds it the
 * current values of both records and the last-synced values (the base) it stored for the pair,
 * and writes what it answers.
 *
 * Inputs per field mapping f (Salesforce field S, HubSpot property H):
 *   sf_now  = the current Salesforce value (REST JSON; absent/JSON null = blank)
 *   hs_now  = the current HubSpot text (absent/NULL/"" = blank)
 *   sf_base, hs_base = the values each side held right after the last sync (from the link);
 *                      a field with no base entry (new pair, or a field added to the mapping
 *                      later) has no base.
 * Changed:  sf_changed = no base, or !value_equal_sf(sf_now, sf_base); hs_changed likewise with
 *           value_equal_hs on H's kind.
 * Agree:    the converted values are equal: value_equal_hs(convert_sf_to_hs(sf_now), hs_now).
 *
 * Decision (first matching row; "->HS" writes convert(sf_now) to H, "->SF" writes convert(hs_now)
 * to S; a write is only made when the two sides do not already agree):
 *   rule dont_sync                         : nothing, ever (no base kept either)
 *   neither changed                        : nothing
 *   agree                                  : nothing (equal values are never a conflict)
 *   only SF changed                        : two_way, always_salesforce, prefer_sf_unless_blank
 *                                            ->HS; always_hubspot nothing
 *   only HS changed                        : two_way, always_hubspot ->SF; prefer_sf_unless_blank
 *                                            ->SF only when sf_now is blank; always_salesforce
 *                                            nothing
 *   both changed (a conflict)              : always_salesforce ->HS, always_hubspot ->SF,
 *                                            prefer_sf_unless_blank ->HS unless sf_now is blank,
 *                                            then ->SF; two_way: the mapping's conflict_winner
 *                                            (with no base on either side: the record
 *                                            modified last, see sf_modified).
 *   A conflict is reported (struct merge_conflict) only when both sides had a base (a real
 *   concurrent edit); a field without base is resolved the same way silently ("initial").
 * Record rules on top: a write ->HS needs salesforce_to_hubspot.update (or .create when there is
 * no HubSpot record yet), ->SF needs hubspot_to_salesforce.update (or .create). A write blocked by
 * them is dropped.
 * Creating: when one record is missing (sf_record or hs_properties NULL) every field whose rule
 * lets the present side write (two_way and prefer_sf_unless_blank both ways, always_* their way)
 * and whose value is not blank is written to the new record; a create is requested when the record
 * rule allows it (merge_output.create_hs / create_sf), else nothing is written.
 *
 * New base: for every field but dont_sync, the value each side holds after the writes succeed (the
 * written value where written, else the current one), so an echo of synkro's own write compares
 * equal and causes no further write.
 *
 * Conversion: value_sf_to_hs / value_hs_to_sf (sync/value_convert.h) with the field's value_map.
 * A value that must be written but cannot be converted is an error of the whole record: merge
 * answers MERGE_CONVERSION with every such field in out->error (nothing is to be written). A value
 * that need not be written is not converted for writing (only compared, byte-wise on failure).
 * A mapped field or property missing from the schema is reported the same way (MERGE_CONVERSION).
 * Writability: a write ->SF needs the field updateable (createable for a create) and not
 * calculated, a write ->HS a property that is neither read-only nor calculated; otherwise the
 * write is dropped like one blocked by the record rules (the new base keeps the current value).
 * A conflict is reported even when its resolution is dropped that way.
 * Failure: on anything but MERGE_OK only out->error is set (all pointers NULL, no conflicts,
 * create flags false). */
#ifndef SYNKRO_SYNC_SYNC_MERGE_H
#define SYNKRO_SYNC_SYNC_MERGE_H

#include "crm/crm_schema.h"
#include "model/mapping.h"

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>

struct merge_input {
    const struct mapping *m;
    const struct sf_object *sf; /* describe of m->salesforce_object */
    const struct hs_object *hs; /* schema of m->hubspot_object */
    json_object *sf_record;     /* current Salesforce record ({"Id",fields...}); NULL: none */
    json_object *hs_properties; /* current HubSpot "properties" object; NULL: no record */
    json_object *sf_base;       /* last-synced {field: JSON value}; NULL: never synced */
    json_object *hs_base;       /* last-synced {property: text}; NULL: never synced */
    /* When a two_way field has no base on either side (a pair linked for the first time, e.g.
     * adopted through the identity fields after a crash between a create and its commit), the
     * record modified last wins ("the most recent value wins") instead of conflict_winner:
     * ISO 8601 instants or epoch ms (Salesforce SystemModstamp, HubSpot hs_lastmodifieddate).
     * NULL, unparsable or equal: conflict_winner decides. */
    const char *sf_modified;
    const char *hs_modified;
};

enum merge_winner_reason {
    MERGE_REASON_FIELD_RULE = 0,  /* always_salesforce / always_hubspot / prefer_sf_unless_blank */
    MERGE_REASON_CONFLICT_WINNER, /* two_way: the mapping's conflict_winner */
    MERGE_REASON_BLANK,           /* prefer_sf_unless_blank with Salesforce blank: HubSpot fills */
};

struct merge_conflict {
    size_t field;          /* index into m->fields */
    json_object *sf_value; /* owned: the Salesforce value at merge time (NULL = blank) */
    char *hs_value;        /* owned: the HubSpot text at merge time ("" = blank) */
    enum mapping_winner winner;
    enum merge_winner_reason reason;
};

enum merge_result {
    MERGE_OK = 0,
    MERGE_CONVERSION = -1, /* a value to write cannot be converted: out->error says which */
    MERGE_NOMEM = -2,
    MERGE_INVALID = -3, /* bad arguments (no mapping, no schema, a non-object input) */
};

struct merge_output {
    json_object *hs_write;    /* owned: {property: text} to write to HubSpot; empty: none */
    json_object *sf_write;    /* owned: {field: JSON value} to write to Salesforce; empty: none */
    bool create_hs;           /* hs_properties was NULL and the record rules allow creating */
    bool create_sf;           /* sf_record was NULL and the record rules allow creating */
    json_object *sf_base_new; /* owned: the base to store once the writes succeed */
    json_object *hs_base_new; /* owned */
    struct merge_conflict *conflicts; /* owned, nconflicts entries */
    size_t nconflicts;
    char error[512]; /* MERGE_CONVERSION: "field S -> H: <value error message>; ..." */
};

/* Computes the merge. out is always initialised when not NULL (free it with merge_output_free);
 * the inputs are only read and may be released right after. */
enum merge_result sync_merge(const struct merge_input *in, struct merge_output *out);

void merge_output_free(struct merge_output *out);

/* "field_rule", "conflict_winner", "blank". */
const char *merge_reason_name(enum merge_winner_reason reason);

/* True if the value is blank: NULL, JSON null, "" (Salesforce) / NULL or "" (HubSpot). */
bool merge_sf_blank(json_object *v);
bool merge_hs_blank(const char *v);

#endif
