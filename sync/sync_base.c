/* sync_base.c: the base a pair's link stores after a batch, from the merge's answer and which
 * writes the CRMs acknowledged (the rule is in sync_base.h).
 *
 * The merge keys its outputs by the schema's spelling of each name, the mapping by the admin's;
 * Salesforce API names are case-insensitive, so keys are matched exactly first, then ignoring
 * case.
 *
 * Must not: touch the network or the database, log, or keep state. */
#include "sync/sync_base.h"

#include "sync/sync_assoc.h"
#include "model/value_convert.h"

#include <string.h>
#include <strings.h>

/* The key of o that names name (exact, then ignoring case); NULL when none. */
static const char *key_in(json_object *o, const char *name)
{
    if (!o || !name || !json_object_is_type(o, json_type_object))
        return NULL;
    const char *folded = NULL;
    struct json_object_iterator it = json_object_iter_begin(o);
    struct json_object_iterator end = json_object_iter_end(o);
    for (; !json_object_iter_equal(&it, &end); json_object_iter_next(&it)) {
        const char *k = json_object_iter_peek_name(&it);
        if (strcmp(k, name) == 0)
            return k;
        if (!folded && strcasecmp(k, name) == 0)
            folded = k;
    }
    return folded;
}

static bool has_key(json_object *o, const char *name)
{
    return key_in(o, name) != NULL;
}

bool sync_base_field_settled(const struct base_input *in, size_t field)
{
    if (!in || !in->m || !in->out || field >= in->m->n_fields)
        return false;
    const struct mapping_field *f = &in->m->fields[field];
    if (!in->hs_acked && has_key(in->out->hs_write, f->hubspot))
        return false;
    if (!in->sf_acked && has_key(in->out->sf_write, f->salesforce))
        return false;
    return true;
}

/* Copies src[name] (matched like key_in) into dst under key, or nothing when src lacks it. */
static int copy_member(json_object *dst, const char *key, json_object *src, const char *name)
{
    const char *k = key_in(src, name);
    if (!k)
        return 0;
    json_object *v = NULL;
    json_object_object_get_ex(src, k, &v);
    return json_object_object_add(dst, key, v ? json_object_get(v) : NULL) == 0 ? 0 : -1;
}

/* The association keys of old, copied into dst. */
static int carry_assoc_keys(json_object *dst, json_object *old)
{
    if (!old || !json_object_is_type(old, json_type_object))
        return 0;
    size_t plen = strlen(SYNC_ASSOC_KEY_PREFIX);
    struct json_object_iterator it = json_object_iter_begin(old);
    struct json_object_iterator end = json_object_iter_end(old);
    for (; !json_object_iter_equal(&it, &end); json_object_iter_next(&it)) {
        const char *k = json_object_iter_peek_name(&it);
        if (strncmp(k, SYNC_ASSOC_KEY_PREFIX, plen) != 0)
            continue;
        json_object *v = json_object_iter_peek_value(&it);
        if (json_object_object_add(dst, k, v ? json_object_get(v) : NULL) != 0)
            return -1;
    }
    return 0;
}

/* Whether field i takes the fresh (new) base entries. */
typedef bool (*take_fresh_fn)(const void *ctx, size_t i);

/* One side's base: association keys from old, then for each mapped field present in fresh the
 * fresh entry when take_fresh says so, else the old one (absent when there was none). */
static int side_base(const struct mapping *m, bool sf, json_object *fresh, json_object *old,
                     take_fresh_fn take_fresh, const void *ctx, json_object *dst)
{
    if (carry_assoc_keys(dst, old) < 0)
        return -1;
    for (size_t i = 0; i < m->n_fields; i++) {
        const struct mapping_field *f = &m->fields[i];
        const char *name = sf ? f->salesforce : f->hubspot;
        const char *key = key_in(fresh, name);
        if (!key)
            continue; /* dont_sync, or not merged: no base kept */
        int rc = take_fresh(ctx, i) ? copy_member(dst, key, fresh, name)
                                    : copy_member(dst, key, old, name);
        if (rc < 0)
            return -1;
    }
    return 0;
}

static int both_bases(const struct mapping *m, json_object *sf_fresh, json_object *hs_fresh,
                      json_object *sf_old, json_object *hs_old, take_fresh_fn take_fresh,
                      const void *ctx, json_object **sf_out, json_object **hs_out)
{
    json_object *sfb = json_object_new_object(), *hsb = json_object_new_object();
    if (!sfb || !hsb || side_base(m, true, sf_fresh, sf_old, take_fresh, ctx, sfb) < 0 ||
        side_base(m, false, hs_fresh, hs_old, take_fresh, ctx, hsb) < 0) {
        json_object_put(sfb);
        json_object_put(hsb);
        return -1;
    }
    *sf_out = sfb;
    *hs_out = hsb;
    return 0;
}

static bool settled(const void *ctx, size_t i)
{
    return sync_base_field_settled(ctx, i);
}

int sync_base_after(const struct base_input *in, json_object **sf_out, json_object **hs_out)
{
    *sf_out = *hs_out = NULL;
    if (!in || !in->m || !in->out || !in->out->sf_base_new || !in->out->hs_base_new)
        return -1;
    return both_bases(in->m, in->out->sf_base_new, in->out->hs_base_new, in->sf_old, in->hs_old,
                      settled, in, sf_out, hs_out);
}

/* ---- write-ahead records of a batch cut short ---- */

static json_object *member(json_object *o, const char *name)
{
    const char *k = key_in(o, name);
    json_object *v = NULL;
    if (k)
        json_object_object_get_ex(o, k, &v);
    return v;
}

static const char *text_of(json_object *v)
{
    return v && !json_object_is_type(v, json_type_null) ? json_object_get_string(v) : NULL;
}

/* Whether field i had a write in the record: to Salesforce (*to_sf) or HubSpot. */
static bool pending_written(const struct pending_input *in, size_t i, bool *to_sf)
{
    const struct mapping_field *f = &in->m->fields[i];
    *to_sf = key_in(member(in->pending, "sf_read"), f->salesforce) != NULL;
    return *to_sf || key_in(member(in->pending, "hs_read"), f->hubspot) != NULL;
}

bool sync_base_pending_landed(const struct pending_input *in, size_t i)
{
    if (!in || !in->m || i >= in->m->n_fields || !in->pending)
        return false;
    const struct mapping_field *f = &in->m->fields[i];
    bool to_sf;
    if (!pending_written(in, i, &to_sf))
        return false;
    if (to_sf) {
        const struct sf_field *sff = sf_object_field(in->sf, f->salesforce);
        if (!sff || !in->sf_now)
            return false;
        return !value_equal_sf(sff, member(in->sf_now, f->salesforce),
                               member(member(in->pending, "sf_read"), f->salesforce));
    }
    const struct hs_object_property *hp = hs_object_property_find(in->hs, f->hubspot);
    if (!hp || !in->hs_now)
        return false;
    return !value_equal_hs(text_of(member(in->hs_now, f->hubspot)),
                           text_of(member(member(in->pending, "hs_read"), f->hubspot)),
                           value_hs_kind(hp));
}

/* A field takes the record's base unless its write did not land (then the base it was merged
 * against): for fields without a write the record holds what the commit would have stored. */
static bool pending_takes(const void *ctx, size_t i)
{
    const struct pending_input *in = ctx;
    bool to_sf;
    return !pending_written(in, i, &to_sf) || sync_base_pending_landed(in, i);
}

/* from's members, with the association keys of assoc_from (the association step stores those
 * itself and never uses the write-ahead record). */
static json_object *with_assoc_keys(json_object *from, json_object *assoc_from)
{
    json_object *o = json_object_new_object();
    if (!o)
        return NULL;
    size_t plen = strlen(SYNC_ASSOC_KEY_PREFIX);
    json_object *parts[] = {from, assoc_from};
    for (int k = 0; k < 2; k++) {
        if (!json_object_is_type(parts[k], json_type_object))
            continue;
        json_object_object_foreach(parts[k], key, val)
        {
            bool assoc = strncmp(key, SYNC_ASSOC_KEY_PREFIX, plen) == 0;
            if ((k == 0) != assoc &&
                json_object_object_add(o, key, val ? json_object_get(val) : NULL) != 0) {
                json_object_put(o);
                return NULL;
            }
        }
    }
    return o;
}

int sync_base_resolve_pending(const struct pending_input *in, json_object **sf_out,
                              json_object **hs_out)
{
    *sf_out = *hs_out = NULL;
    if (!in || !in->m || !in->pending)
        return -1;
    json_object *sf_fresh = member(in->pending, "sf_base");
    json_object *hs_fresh = member(in->pending, "hs_base");
    if (!json_object_is_type(sf_fresh, json_type_object) ||
        !json_object_is_type(hs_fresh, json_type_object))
        return -1;
    /* the bases that batch merged against (older records lack them: the link's then) */
    json_object *sf_from = member(in->pending, "sf_from"),
                *hs_from = member(in->pending, "hs_from");
    json_object *sfo = with_assoc_keys(sf_from ? sf_from : in->sf_old, in->sf_old);
    json_object *hso = with_assoc_keys(hs_from ? hs_from : in->hs_old, in->hs_old);
    int rc = sfo && hso ? both_bases(in->m, sf_fresh, hs_fresh, sfo, hso, pending_takes, in, sf_out,
                                     hs_out)
                        : -1;
    json_object_put(sfo);
    json_object_put(hso);
    return rc;
}

/* {"<field>": <value of record at field>} for every key of written (caller puts). */
static json_object *values_read(json_object *written, json_object *record)
{
    json_object *o = json_object_new_object();
    if (!o || !json_object_is_type(written, json_type_object))
        return o;
    json_object_object_foreach(written, key, val)
    {
        (void)val;
        json_object *cur = NULL;
        if (record)
            json_object_object_get_ex(record, key, &cur);
        json_object_object_add(o, key, cur ? json_object_get(cur) : NULL);
    }
    return o;
}

json_object *sync_base_pending_record(const struct merge_output *out, json_object *sf_record,
                                      json_object *hs_properties, json_object *sf_from,
                                      json_object *hs_from)
{
    json_object *o = json_object_new_object();
    json_object *parts[6] = {values_read(out->sf_write, sf_record),
                             values_read(out->hs_write, hs_properties),
                             json_object_get(out->sf_base_new),
                             json_object_get(out->hs_base_new),
                             json_object_get(sf_from),
                             json_object_get(hs_from)};
    static const char *const names[6] = {"sf_read", "hs_read", "sf_base",
                                         "hs_base", "sf_from", "hs_from"};
    bool ok = o && parts[0] && parts[1];
    for (int k = 0; k < 6; k++) {
        if (ok && json_object_object_add(o, names[k], parts[k]) == 0)
            continue;
        json_object_put(parts[k]);
        ok = false;
    }
    if (!ok) {
        json_object_put(o);
        return NULL;
    }
    return o;
}
