/* sync_base.h: the last-synced values (the base) a pair's link stores after a batch, given which
 * of the batch's writes the CRMs acknowledged.
 *
 * Owns one rule: a write and the base it establishes go together. sync_merge answers the base
 * both sides hold "once the writes succeed"; a batch can end with some writes acknowledged and
 * others not (one CRM refused or timed out, or a later step of the pair failed). Per mapped field:
 *   - no write planned for it: the new base is what both sides held when read (as sync_merge says);
 *   - a write planned to a side whose write was acknowledged: the new base (the written value on
 *     that side, the current one on the other);
 *   - a write planned to a side whose write was NOT acknowledged: the OLD base on both sides (the
 *     change stays visible as a change of its source, so the next run writes it again; if the
 *     write did land after all, the next read finds both sides agreeing and settles it).
 * Association keys (SYNC_ASSOC_KEY_PREFIX) of the old base are carried over; the association step
 * replaces the ones it settles. Keys of fields no longer mapped are dropped.
 * A conflict counts as settled (recorded) only when its field's new base is stored.
 *
 * Must not: touch the network or the database, log, or keep state. Pure and thread-safe. */
#ifndef SYNKRO_SYNC_SYNC_BASE_H
#define SYNKRO_SYNC_SYNC_BASE_H

#include "crm/crm_schema.h"
#include "model/mapping.h"
#include "sync/sync_merge.h"

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>

/* What the batch knows of one pair after its writes. Everything borrowed. */
struct base_input {
    const struct mapping *m;
    const struct merge_output *out; /* a successful merge (sf_base_new etc. set) */
    json_object *sf_old;            /* the link's stored sf_values; NULL: none */
    json_object *hs_old;            /* the link's stored hs_values; NULL: none */
    bool hs_acked;                  /* the HubSpot write (update or create) was acknowledged */
    bool sf_acked;                  /* the Salesforce write was acknowledged */
};

/* The bases to store (*sf_out, *hs_out: new objects the caller puts). 0, or -1 when out of
 * memory or the input is not a merged pair (then both outputs are NULL). */
int sync_base_after(const struct base_input *in, json_object **sf_out, json_object **hs_out);

/* True when field i of in->m has its new base stored by sync_base_after: no write was planned
 * for it, or the side it was written to acknowledged the write. */
bool sync_base_field_settled(const struct base_input *in, size_t field);

/* ---- write-ahead records (migration 0007) ----
 * Before a batch sends its updates it stores, per linked pair, the value each written field held
 * on its target side when read (sf_read / hs_read), the bases it merged against (sf_from /
 * hs_from) and the bases the pair has once every write lands (sf_base / hs_base). The commit
 * clears the record (or keeps it when a write's outcome is unknown). When it is still there at
 * the next sync of the pair, it is resolved against the records just read, per field:
 *   - no write: the record's base (what that batch's commit would have stored);
 *   - a write whose target no longer holds the value read: it landed (the target holds the
 *     written value, or a value a user set after synkro read it, which is then the most recent
 *     change): the record's base, so that edit is a one-sided change and wins, never a conflict;
 *   - a write whose target still holds the value read: it did not land: the base that batch
 *     merged against (the merge writes it again).
 * The record therefore stands for everything the lost commit would have stored; association keys
 * come from the link (the association step keeps its own). */
struct pending_input {
    const struct mapping *m;
    const struct sf_object *sf; /* for comparing values by type */
    const struct hs_object *hs;
    json_object *sf_old; /* the link's stored bases */
    json_object *hs_old;
    json_object *pending; /* the link's write-ahead record */
    json_object *sf_now;  /* the Salesforce record just read; NULL: unread or missing */
    json_object *hs_now;  /* the HubSpot properties just read; NULL: unread or missing */
};

/* The write-ahead record of a merged pair about to be written (a new object the caller puts;
 * NULL when out of memory): sf_read / hs_read (each written field's value in sf_record /
 * hs_properties, the records as read), sf_base / hs_base (out's new bases) and sf_from / hs_from
 * (the bases the merge ran against; NULL members when there were none). */
json_object *sync_base_pending_record(const struct merge_output *out, json_object *sf_record,
                                      json_object *hs_properties, json_object *sf_from,
                                      json_object *hs_from);

/* The bases to merge against (new objects the caller puts), by the rules above. 0, or -1 (out of
 * memory or a malformed record; outputs NULL). */
int sync_base_resolve_pending(const struct pending_input *in, json_object **sf_out,
                              json_object **hs_out);

/* True when field i had a write in the record and its target no longer holds the value read. */
bool sync_base_pending_landed(const struct pending_input *in, size_t i);

#endif
