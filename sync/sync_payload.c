/* sync_payload.c: what a sync batch learns from its events' own payloads, without a CRM call:
 * echoes of synkro's own writes (settled unchanged, nothing read or written).
 *
 * Owns the reading of two stored payload shapes: HubSpot object.propertyChange events
 * ({"subscriptionType", "propertyName", "propertyValue", ...}, handlers/hubspot_events.c) and
 * Salesforce outbound messages ({"fields": {Name: text or null}}, soap_notification_to_json in
 * handlers/soap_outbound.c). The records it builds go to the caller.
 *
 * Design:
 *  - An echo is a linked pair (link active) whose every claimed event carries values that all
 *    equal the link's last-synced base. HubSpot: every event is an update whose subscriptionType
 *    is object.propertyChange with a propertyValue; per mapped property (not dont_sync) the
 *    latest event's value must equal hs_values[property] by value_equal_hs on the property's
 *    kind; events of unmapped properties (identity, hs_*) do not matter. Salesforce: every event
 *    is a create/update message carrying every mapped (not dont_sync) field and every lookup of
 *    an enabled association, each equal to sf_values[field] (value_sf_text_to_json then
 *    value_equal_sf) or to the "@assoc:<field>" base. A base entry that is absent never equals.
 *  - Outbound messages omit null fields, so an absent field is unknown: such a message is no
 *    echo. Sweep and import events carry no "fields" at all.
 *  - A message is never used as the record's current values otherwise: a retried or overtaken
 *    message can be older than what was already synced (it would push stale values; the
 *    randomised crash test caught exactly that), so a pair that is not an echo reads the record.
 *    An echo is safe to settle even from an old message: any newer change has its own message.
 *  - A pair with more than one claimed record of a CRM takes the normal path.
 *  - HubSpot's echoes rarely get here: its webhook names the app that wrote a change, and the
 *    front door leaves synkro's own out of the queue (handlers/webhook_hubspot.c,
 *    SYNKRO_HUBSPOT_SKIP_OWN_WRITES) by the same argument: nothing newer is lost with them.
 *    This check serves Salesforce's messages, which name no writer, and HubSpot's when that is off.
 *
 * Must not: call a CRM or the database, log, or change the pair. */
#include "sync/sync_batch_internal.h"

#include "base/json_util.h"
#include "sync/sync_assoc.h"
#include "model/value_convert.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* The member name of o (exact, else ignoring case). *found tells a JSON null from an absence. */
static json_object *member_ci(json_object *o, const char *name, bool *found)
{
    json_object *v = NULL;
    *found = false;
    if (!o || !name || !json_object_is_type(o, json_type_object))
        return NULL;
    if (json_object_object_get_ex(o, name, &v)) {
        *found = true;
        return v;
    }
    json_object_object_foreach(o, key, val)
    {
        if (strcasecmp(key, name) == 0) {
            *found = true;
            return val;
        }
    }
    return NULL;
}

/* The one claimed record of source in p; NULL when there is none or more than one (*count). */
static const struct claimed_record *only_record(const struct sync_batch *b,
                                                const struct sync_pair *p, const char *source,
                                                size_t *count)
{
    const struct claimed_record *found = NULL;
    *count = 0;
    for (size_t k = 0; k < p->nrecs; k++) {
        const struct claimed_record *r = &b->recs[p->recs[k]];
        if (strcmp(r->source, source) == 0) {
            found = r;
            (*count)++;
        }
    }
    return *count == 1 ? found : NULL;
}

/* ---- Salesforce outbound messages ---- */

static bool sf_message_kind(const char *kind)
{
    static const char *const kinds[] = {"create", "update"};
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        if (kind && strcmp(kind, kinds[i]) == 0)
            return true;
    return false;
}

/* Adds the message's value of field (absent: false) to rec, converted to its REST JSON value. */
static bool sf_take_field(const struct sf_object *obj, json_object *fields, const char *field,
                          json_object *rec)
{
    const struct sf_field *sf = sf_object_field(obj, field);
    bool found;
    json_object *v = member_ci(fields, field, &found);
    if (!sf || !found || (v && !json_object_is_type(v, json_type_string)))
        return false;
    json_object *out = NULL;
    struct value_error verr;
    if (value_sf_text_to_json(sf, v ? json_object_get_string(v) : NULL, v == NULL, &out, &verr) !=
        VALUE_OK)
        return false;
    return json_object_object_add(rec, sf->name, out) == 0;
}

/* Adds a lookup's message value (its id text, or null) to rec under its describe name. */
static bool sf_take_lookup(const struct sf_object *obj, json_object *fields, const char *field,
                           json_object *rec)
{
    const struct sf_field *sf = sf_object_field(obj, field);
    bool found;
    json_object *v = member_ci(fields, field, &found);
    if (!found || (v && !json_object_is_type(v, json_type_string)))
        return false;
    const char *text = v ? json_object_get_string(v) : NULL;
    json_object *out = text && *text ? json_object_new_string(text) : NULL;
    if (text && *text && !out)
        return false;
    return json_object_object_add(rec, sf ? sf->name : field, out) == 0;
}

/* The record an outbound-message event carries, shaped as the SOQL read returns it: {"Id", every
 * mapped field but dont_sync ones, every enabled lookup}. NULL when the event is no message or
 * lacks one of them. Caller puts. */
static json_object *sf_message_record(const struct sync_mapping *sm, const char *record_id,
                                      const struct claimed_event *ev)
{
    if (!sf_message_kind(ev->kind) || !ev->payload_json || !record_id)
        return NULL;
    json_object *pl = json_tokener_parse(ev->payload_json);
    json_object *fields = json_member(pl, "fields");
    json_object *rec =
        json_object_is_type(fields, json_type_object) ? json_object_new_object() : NULL;
    bool ok = rec && json_object_object_add(rec, "Id", json_object_new_string(record_id)) == 0;
    const struct mapping *m = sm->m;
    for (size_t i = 0; ok && i < m->n_fields; i++)
        if (m->fields[i].rule != FIELD_RULE_DONT_SYNC)
            ok = sf_take_field(sm->sf, fields, m->fields[i].salesforce, rec);
    size_t nlk = 0;
    const char **lk = ok ? sync_assoc_sf_fields(m, &nlk) : NULL;
    for (size_t i = 0; ok && i < nlk; i++)
        ok = sf_take_lookup(sm->sf, fields, lk[i], rec);
    free(lk);
    json_object_put(pl);
    if (!ok) {
        json_object_put(rec);
        return NULL;
    }
    return rec;
}

/* True when a lookup's message value names the record of its "@assoc:" base. */
static bool lookup_equal(json_object *rec, json_object *base, const char *field)
{
    char key[MAPPING_API_NAME_MAX + sizeof SYNC_ASSOC_KEY_PREFIX + 1];
    snprintf(key, sizeof key, "%s%s", SYNC_ASSOC_KEY_PREFIX, field);
    bool found_now, found_base;
    const char *now = json_object_get_string(member_ci(rec, field, &found_now));
    json_object *bv = member_ci(base, key, &found_base);
    const char *was = bv ? json_object_get_string(bv) : NULL;
    if (!found_now || !found_base)
        return false;
    if (!now || !*now || !was || !*was)
        return (!now || !*now) && (!was || !*was);
    return sync_sf_id_equal(now, was);
}

/* True when every mapped field and lookup of rec equals the link's Salesforce base. */
static bool sf_record_is_base(const struct sync_mapping *sm, json_object *rec, json_object *base)
{
    const struct mapping *m = sm->m;
    for (size_t i = 0; i < m->n_fields; i++) {
        if (m->fields[i].rule == FIELD_RULE_DONT_SYNC)
            continue;
        const struct sf_field *sf = sf_object_field(sm->sf, m->fields[i].salesforce);
        bool found_now, found_base;
        json_object *now = member_ci(rec, sf ? sf->name : NULL, &found_now);
        json_object *was = member_ci(base, sf ? sf->name : NULL, &found_base);
        if (!found_now || !found_base || !value_equal_sf(sf, now, was))
            return false;
    }
    size_t nlk = 0;
    const char **lk = sync_assoc_sf_fields(m, &nlk);
    bool same = true;
    for (size_t i = 0; same && i < nlk; i++)
        same = lookup_equal(rec, base, lk[i]);
    free(lk);
    return same;
}

static bool sf_events_are_echo(const struct sync_batch *b, const struct sync_pair *p)
{
    size_t n;
    const struct claimed_record *r = only_record(b, p, "salesforce", &n);
    if (n == 0)
        return true;
    if (!r)
        return false;
    for (size_t i = 0; i < r->nevents; i++) {
        json_object *rec = sf_message_record(b->sm, r->record_id, &r->events[i]);
        bool same = rec && sf_record_is_base(b->sm, rec, p->link->sf_values);
        json_object_put(rec);
        if (!same)
            return false;
    }
    return true;
}

/* ---- HubSpot property changes ---- */

/* The property name and value of a propertyChange update (*name and *value borrowed from *pl, which
 * the caller puts); false for any other event. */
static bool hs_change(const struct claimed_event *ev, json_object **pl, const char **name,
                      const char **value)
{
    *pl = NULL;
    if (!ev->kind || strcmp(ev->kind, "update") != 0 || !ev->payload_json)
        return false;
    *pl = json_tokener_parse(ev->payload_json);
    const char *type = json_member_string(*pl, "subscriptionType");
    json_object *v = json_member(*pl, "propertyValue");
    *name = json_member_string(*pl, "propertyName");
    *value =
        v && !json_object_is_type(v, json_type_object) && !json_object_is_type(v, json_type_array)
            ? json_object_get_string(v)
            : NULL;
    return type && strcmp(type, "object.propertyChange") == 0 && *name && *value;
}

/* True when the latest value of each mapped property among r's events equals the base. */
static bool hs_changes_are_base(const struct sync_mapping *sm, const struct claimed_record *r,
                                json_object **pls, const char **names, const char **values,
                                json_object *base)
{
    const struct mapping *m = sm->m;
    for (size_t f = 0; f < m->n_fields; f++) {
        if (m->fields[f].rule == FIELD_RULE_DONT_SYNC)
            continue;
        const char *prop = m->fields[f].hubspot;
        size_t last = r->nevents;
        for (size_t i = 0; i < r->nevents; i++)
            if (pls[i] && strcmp(names[i], prop) == 0)
                last = i;
        if (last == r->nevents)
            continue;
        const struct hs_object_property *hp = hs_object_property_find(sm->hs, prop);
        json_object *was = NULL;
        if (!hp || !json_object_object_get_ex(base, prop, &was) ||
            !value_equal_hs(values[last], was ? json_object_get_string(was) : NULL,
                            value_hs_kind(hp)))
            return false;
    }
    return true;
}

static bool hs_events_are_echo(const struct sync_batch *b, const struct sync_pair *p)
{
    size_t n;
    const struct claimed_record *r = only_record(b, p, "hubspot", &n);
    if (n == 0)
        return true;
    if (!r || r->nevents == 0)
        return false;
    json_object **pls = calloc(r->nevents, sizeof *pls);
    const char **names = calloc(r->nevents, sizeof *names);
    const char **values = calloc(r->nevents, sizeof *values);
    bool ok = pls && names && values;
    for (size_t i = 0; ok && i < r->nevents; i++)
        ok = hs_change(&r->events[i], &pls[i], &names[i], &values[i]);
    ok = ok && hs_changes_are_base(b->sm, r, pls, names, values, p->link->hs_values);
    for (size_t i = 0; pls && i < r->nevents; i++)
        json_object_put(pls[i]);
    free(pls), free(names), free(values);
    return ok;
}

/* ---- the two questions of sync_batch.h ---- */

bool sync_pair_is_echo(const struct sync_batch *b, const struct sync_pair *p)
{
    if (p->absorbed || p->state != PAIR_PENDING || p->nrecs == 0 || !p->link || p->link->deleted ||
        !p->link->sf_values || !p->link->hs_values || p->link->pending)
        return false;
    return hs_events_are_echo(b, p) && sf_events_are_echo(b, p);
}
