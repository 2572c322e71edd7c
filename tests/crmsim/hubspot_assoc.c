/* hubspot_assoc.c: HubSpot associations: definitions (type ids and labels per object pair), edges
 * between records, the v4 routes (PUT default/labelled, DELETE, GET, batch
 * create/read/archive/associate-default, labels), v3-style "associations" on record reads and
 * creates, and associationChange events.
 *
 * An edge is stored once, in the direction it was created; read from the other side its type id is
 * translated through the inverse definition (the definition for the swapped pair with the same
 * label), falling back to the same id. Definitions come from schema associations[] (USER_DEFINED)
 * and fixture association_types. Edges to archived records are kept (a restore brings them back)
 * but hidden. Batch read answers a from id without associations - also one whose record does not
 * exist or is archived, which HubSpot does not tell apart either - with a 207 error of category
 * OBJECT_NOT_FOUND, subCategory crm.associations.NO_ASSOCIATIONS_FOUND, naming it in
 * context.fromObjectId. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/crmsim/hubspot.h"
#include "tests/crmsim/webhooks.h"

/* ---- definitions ---- */

static bool label_eq(const char *a, const char *b)
{
    if (!a || !b)
        return a == b;
    return strcmp(a, b) == 0;
}

static const char *resolve_type_id(struct sim *sim, const char *type)
{
    struct hs_schema *s = hs_schema_resolve(sim, type);
    return s ? s->object_type_id : type;
}

int hs_assoc_type_add(struct sim *sim, const char *from, const char *to, const char *category,
                      int64_t type_id, const char *label, const char *name, char *err,
                      size_t errlen)
{
    if (!from || !to || type_id <= 0) {
        snprintf(err, errlen,
                 "association type needs fromObjectTypeId, toObjectTypeId and a "
                 "positive typeId");
        return -1;
    }
    if (strcmp(category, "HUBSPOT_DEFINED") != 0 && strcmp(category, "USER_DEFINED") != 0 &&
        strcmp(category, "INTEGRATOR_DEFINED") != 0) {
        snprintf(err, errlen,
                 "association category must be HUBSPOT_DEFINED, USER_DEFINED or "
                 "INTEGRATOR_DEFINED");
        return -1;
    }
    from = resolve_type_id(sim, from);
    to = resolve_type_id(sim, to);
    for (size_t i = 0; i < sim->hs.n_assoc_types; i++) {
        struct hs_assoc_type *d = &sim->hs.assoc_types[i];
        if (d->type_id == type_id && strcmp(d->from, from) == 0 && strcmp(d->to, to) == 0)
            return 0;
    }
    if (sim->hs.n_assoc_types >= 10000) {
        snprintf(err, errlen, "too many association types");
        return -1;
    }
    xgrow(&sim->hs.assoc_types, &sim->hs.cap_assoc_types, sim->hs.n_assoc_types + 1,
          sizeof *sim->hs.assoc_types);
    struct hs_assoc_type *d = &sim->hs.assoc_types[sim->hs.n_assoc_types++];
    d->from = xstrdup(from);
    d->to = xstrdup(to);
    d->category = xstrdup(category);
    d->type_id = type_id;
    d->label = label && *label ? xstrdup(label) : NULL;
    d->name = name && *name ? xstrdup(name) : NULL;
    return 0;
}

static int64_t json_int_any(json_object *o, const char *a, const char *b, const char *c)
{
    const char *keys[] = {a, b, c};
    for (size_t i = 0; i < 3; i++) {
        json_object *v = keys[i] ? json_get(o, keys[i]) : NULL;
        int64_t x;
        if (v && json_object_is_type(v, json_type_int))
            return json_object_get_int64(v);
        if (v && json_object_is_type(v, json_type_string) &&
            util_parse_int64(json_object_get_string(v), &x) == 0)
            return x;
    }
    return 0;
}

int hs_assoc_type_from_json(struct sim *sim, json_object *doc, char *err, size_t errlen)
{
    const char *cat = json_get_str(doc, "category");
    if (!cat)
        cat = json_get_str(doc, "associationCategory");
    return hs_assoc_type_add(sim, json_get_str(doc, "fromObjectTypeId"),
                             json_get_str(doc, "toObjectTypeId"), cat ? cat : "USER_DEFINED",
                             json_int_any(doc, "typeId", "associationTypeId", "id"),
                             json_get_str(doc, "label"), json_get_str(doc, "name"), err, errlen);
}

static struct hs_assoc_type *type_find(struct sim *sim, const char *from, const char *to,
                                       int64_t type_id)
{
    for (size_t i = 0; i < sim->hs.n_assoc_types; i++) {
        struct hs_assoc_type *d = &sim->hs.assoc_types[i];
        if (d->type_id == type_id && strcmp(d->from, from) == 0 && strcmp(d->to, to) == 0)
            return d;
    }
    return NULL;
}

static struct hs_assoc_type *type_default(struct sim *sim, const char *from, const char *to)
{
    struct hs_assoc_type *best = NULL;
    for (size_t i = 0; i < sim->hs.n_assoc_types; i++) {
        struct hs_assoc_type *d = &sim->hs.assoc_types[i];
        if (!d->label && strcmp(d->from, from) == 0 && strcmp(d->to, to) == 0) {
            if (!best || strcmp(d->category, "HUBSPOT_DEFINED") == 0)
                best = d;
        }
    }
    return best;
}

/* The definition seen from the other side of an edge created with (from, to, type_id). */
static void type_inverse(struct sim *sim, const char *from, const char *to, const char *category,
                         int64_t type_id, const char **cat_out, int64_t *id_out,
                         const char **label_out)
{
    struct hs_assoc_type *d = type_find(sim, from, to, type_id);
    *cat_out = category;
    *id_out = type_id;
    *label_out = d ? d->label : NULL;
    if (!d)
        return;
    for (size_t i = 0; i < sim->hs.n_assoc_types; i++) {
        struct hs_assoc_type *inv = &sim->hs.assoc_types[i];
        if (strcmp(inv->from, to) == 0 && strcmp(inv->to, from) == 0 &&
            label_eq(inv->label, d->label)) {
            *cat_out = inv->category;
            *id_out = inv->type_id;
            *label_out = inv->label;
            return;
        }
    }
}

/* ---- edges ---- */

static json_object *id_value(const char *id)
{
    int64_t v;
    if (util_parse_int64(id, &v) == 0)
        return json_object_new_int64(v);
    return json_object_new_string(id);
}

static void emit_assoc(struct sim *sim, struct txn *t, const struct hs_assoc *a, bool removed)
{
    int64_t now = util_now_ms();
    json_object *ev = webhook_event_new(sim, t, "object.associationChange", NULL, NULL, now);
    struct hs_assoc_type *d = type_find(sim, a->from_type, a->to_type, a->type_id);
    char name[300];
    if (d && d->name) {
        snprintf(name, sizeof name, "%s", d->name);
    } else {
        struct hs_schema *fs = hs_schema_resolve(sim, a->from_type);
        struct hs_schema *ts = hs_schema_resolve(sim, a->to_type);
        snprintf(name, sizeof name, "%s_TO_%s", fs ? fs->name : a->from_type,
                 ts ? ts->name : a->to_type);
    }
    for (char *p = name; *p; p++) {
        if (*p >= 'a' && *p <= 'z')
            *p = (char)(*p - 'a' + 'A');
    }
    json_set_str(ev, "associationType", name);
    json_object_object_add(ev, "fromObjectId", id_value(a->from_id));
    json_object_object_add(ev, "toObjectId", id_value(a->to_id));
    json_set_str(ev, "fromObjectTypeId", a->from_type);
    json_set_str(ev, "toObjectTypeId", a->to_type);
    json_set_int(ev, "associationTypeId", a->type_id);
    json_set_str(ev, "associationCategory", a->category);
    json_set_bool(ev, "associationRemoved", removed);
    json_set_bool(ev, "isPrimaryAssociation", false);
    txn_event(t, ev);
}

static bool edge_is(const struct hs_assoc *e, const char *ft, const char *fid, const char *tt,
                    const char *tid)
{
    return strcmp(e->from_type, ft) == 0 && strcmp(e->from_id, fid) == 0 &&
           strcmp(e->to_type, tt) == 0 && strcmp(e->to_id, tid) == 0;
}

static bool edge_exists(struct sim *sim, const char *ft, const char *fid, const char *tt,
                        const char *tid, const char *category, int64_t type_id)
{
    for (size_t i = 0; i < sim->hs.n_assocs; i++) {
        struct hs_assoc *e = &sim->hs.assocs[i];
        if (edge_is(e, ft, fid, tt, tid) && e->type_id == type_id)
            return true;
        if (edge_is(e, tt, tid, ft, fid)) {
            const char *cat, *label;
            int64_t inv;
            type_inverse(sim, e->from_type, e->to_type, e->category, e->type_id, &cat, &inv,
                         &label);
            if (inv == type_id)
                return true;
        }
    }
    return false;
}

static bool record_live(struct hs_schema *s, const char *id)
{
    struct hs_record *r = hs_record_find(s, id);
    return r && !r->archived;
}

int hs_assoc_add(struct sim *sim, struct txn *t, struct hs_schema *from, const char *from_id,
                 struct hs_schema *to, const char *to_id, const char *category, int64_t type_id,
                 struct hs_verr *e)
{
    struct hs_assoc_type *d = type_find(sim, from->object_type_id, to->object_type_id, type_id);
    if (!d || (category && strcmp(category, d->category) != 0)) {
        hs_verr_set(e, 400, "VALIDATION_ERROR",
                    "%s %lld is not a valid association type between %s and %s",
                    category ? category : "association type", (long long)type_id,
                    from->object_type_id, to->object_type_id);
        return -1;
    }
    if (!record_live(from, from_id)) {
        hs_verr_set(e, 404, "OBJECT_NOT_FOUND", "%s %s was not found", from->object_type_id,
                    from_id);
        return -1;
    }
    if (!record_live(to, to_id)) {
        hs_verr_set(e, 400, "VALIDATION_ERROR", "%s %s is not a valid object to associate",
                    to->object_type_id, to_id);
        return -1;
    }
    if (edge_exists(sim, from->object_type_id, from_id, to->object_type_id, to_id, d->category,
                    type_id))
        return 0;
    if (sim->hs.n_assocs >= SIM_MAX_ASSOCIATIONS) {
        hs_verr_set(e, 400, "VALIDATION_ERROR", "crmsim holds the maximum of %d associations",
                    SIM_MAX_ASSOCIATIONS);
        return -1;
    }
    xgrow(&sim->hs.assocs, &sim->hs.cap_assocs, sim->hs.n_assocs + 1, sizeof *sim->hs.assocs);
    struct hs_assoc *a = &sim->hs.assocs[sim->hs.n_assocs++];
    a->from_type = xstrdup(from->object_type_id);
    a->from_id = xstrdup(from_id);
    a->to_type = xstrdup(to->object_type_id);
    a->to_id = xstrdup(to_id);
    a->category = xstrdup(d->category);
    a->type_id = type_id;
    txn_hs_assoc_added(t, a);
    emit_assoc(sim, t, a, false);
    return 0;
}

/* The id under in[side].id as a string (JSON strings and integers accepted), or NULL. */
static const char *input_id(json_object *in, const char *side)
{
    json_object *v = json_get(json_get(in, side), "id");
    if (!v || !(json_object_is_type(v, json_type_string) || json_object_is_type(v, json_type_int)))
        return NULL;
    return json_object_get_string(v);
}

int hs_assoc_add_inputs(struct sim *sim, struct txn *t, struct hs_schema *from, const char *from_id,
                        json_object *inputs, struct hs_verr *e)
{
    if (!json_object_is_type(inputs, json_type_array)) {
        hs_verr_set(e, 400, "VALIDATION_ERROR", "\"associations\" must be an array");
        return -1;
    }
    for (size_t i = 0; i < json_object_array_length(inputs); i++) {
        json_object *in = json_object_array_get_idx(inputs, i);
        const char *to_id = input_id(in, "to");
        json_object *types = json_get(in, "types");
        if (!to_id || !types || !json_object_is_type(types, json_type_array)) {
            hs_verr_set(e, 400, "VALIDATION_ERROR",
                        "associations[%zu] needs to.id and a types array", i);
            return -1;
        }
        for (size_t j = 0; j < json_object_array_length(types); j++) {
            json_object *ty = json_object_array_get_idx(types, j);
            int64_t tid = json_int_any(ty, "associationTypeId", NULL, NULL);
            const char *cat = json_get_str(ty, "associationCategory");
            struct hs_assoc_type *d = NULL;
            for (size_t k = 0; k < sim->hs.n_assoc_types && !d; k++) {
                struct hs_assoc_type *c = &sim->hs.assoc_types[k];
                if (c->type_id == tid && strcmp(c->from, from->object_type_id) == 0)
                    d = c;
            }
            struct hs_schema *to = d ? hs_schema_resolve(sim, d->to) : NULL;
            if (!to) {
                hs_verr_set(e, 400, "VALIDATION_ERROR",
                            "association type %lld is not defined for %s", (long long)tid,
                            from->object_type_id);
                return -1;
            }
            if (hs_assoc_add(sim, t, from, from_id, to, to_id, cat, tid, e) < 0)
                return -1;
        }
    }
    return 0;
}

/* Associations of (s, id) with objects of type other: appends {id, category, typeId, label} rows.
 */
struct assoc_row {
    const char *other_id;
    const char *category;
    int64_t type_id;
    const char *label;
    const char *name;
};

static size_t collect(struct sim *sim, struct hs_schema *s, const char *id, struct hs_schema *other,
                      struct assoc_row **rows)
{
    size_t n = 0, cap = 0;
    *rows = NULL;
    for (size_t i = 0; i < sim->hs.n_assocs; i++) {
        struct hs_assoc *e = &sim->hs.assocs[i];
        struct assoc_row r;
        memset(&r, 0, sizeof r);
        if (strcmp(e->from_type, s->object_type_id) == 0 && strcmp(e->from_id, id) == 0 &&
            strcmp(e->to_type, other->object_type_id) == 0) {
            struct hs_assoc_type *d = type_find(sim, e->from_type, e->to_type, e->type_id);
            r.other_id = e->to_id;
            r.category = e->category;
            r.type_id = e->type_id;
            r.label = d ? d->label : NULL;
            r.name = d ? d->name : NULL;
        } else if (strcmp(e->to_type, s->object_type_id) == 0 && strcmp(e->to_id, id) == 0 &&
                   strcmp(e->from_type, other->object_type_id) == 0) {
            r.other_id = e->from_id;
            type_inverse(sim, e->from_type, e->to_type, e->category, e->type_id, &r.category,
                         &r.type_id, &r.label);
            struct hs_assoc_type *d = type_find(sim, e->to_type, e->from_type, r.type_id);
            r.name = d ? d->name : NULL;
        } else {
            continue;
        }
        if (!record_live(other, r.other_id))
            continue;
        xgrow(rows, &cap, n + 1, sizeof **rows);
        (*rows)[n++] = r;
    }
    return n;
}

static json_object *type_json(const struct assoc_row *r)
{
    json_object *t = json_object_new_object();
    json_set_str(t, "category", r->category);
    json_set_int(t, "typeId", r->type_id);
    json_set_str(t, "label", r->label);
    return t;
}

/* Groups rows by other id: [{"toObjectId","associationTypes":[...]}]. */
static json_object *group_rows(const struct assoc_row *rows, size_t n)
{
    json_object *out = json_object_new_array();
    for (size_t i = 0; i < n; i++) {
        bool seen = false;
        for (size_t j = 0; j < i && !seen; j++)
            seen = strcmp(rows[j].other_id, rows[i].other_id) == 0;
        if (seen)
            continue;
        json_object *o = json_object_new_object();
        json_object_object_add(o, "toObjectId", id_value(rows[i].other_id));
        json_object *types = json_object_new_array();
        for (size_t j = i; j < n; j++) {
            if (strcmp(rows[j].other_id, rows[i].other_id) == 0)
                json_object_array_add(types, type_json(&rows[j]));
        }
        json_object_object_add(o, "associationTypes", types);
        json_object_array_add(out, o);
    }
    return out;
}

json_object *hs_assoc_render_v3(struct sim *sim, struct hs_schema *s, struct hs_record *rec,
                                json_object *types)
{
    if (!types || json_object_array_length(types) == 0)
        return NULL;
    json_object *out = json_object_new_object();
    for (size_t i = 0; i < json_object_array_length(types); i++) {
        struct hs_schema *other =
            hs_schema_resolve(sim, json_object_get_string(json_object_array_get_idx(types, i)));
        if (!other)
            continue;
        struct assoc_row *rows;
        size_t n = collect(sim, s, rec->id, other, &rows);
        if (n == 0) {
            free(rows);
            continue;
        }
        json_object *results = json_object_new_array();
        for (size_t j = 0; j < n; j++) {
            json_object *r = json_object_new_object();
            json_set_str(r, "id", rows[j].other_id);
            char tname[300];
            if (rows[j].name)
                snprintf(tname, sizeof tname, "%s", rows[j].name);
            else
                snprintf(tname, sizeof tname, "%s_to_%s", s->name, other->name);
            json_set_str(r, "type", tname);
            json_object_array_add(results, r);
        }
        free(rows);
        json_object *wrap = json_object_new_object();
        json_object_object_add(wrap, "results", results);
        json_object_object_add(
            out, util_starts_with(other->object_type_id, "0-") ? other->name : other->fqn, wrap);
    }
    if (json_object_object_length(out) == 0) {
        json_object_put(out);
        return NULL;
    }
    return out;
}

/* Removes every edge between the two records (either direction); emits removal events. */
size_t hs_assoc_remove_pair(struct sim *sim, struct txn *t, const char *ft, const char *fid,
                            const char *tt, const char *tid)
{
    size_t removed = 0;
    for (size_t i = 0; i < sim->hs.n_assocs;) {
        struct hs_assoc *e = &sim->hs.assocs[i];
        if (edge_is(e, ft, fid, tt, tid) || edge_is(e, tt, tid, ft, fid)) {
            emit_assoc(sim, t, e, true);
            free(e->from_type);
            free(e->from_id);
            free(e->to_type);
            free(e->to_id);
            free(e->category);
            memmove(e, e + 1, (sim->hs.n_assocs - i - 1) * sizeof *e);
            sim->hs.n_assocs--;
            removed++;
        } else {
            i++;
        }
    }
    return removed;
}

void hs_assoc_clear(struct sim *sim)
{
    for (size_t i = 0; i < sim->hs.n_assocs; i++) {
        struct hs_assoc *e = &sim->hs.assocs[i];
        free(e->from_type);
        free(e->from_id);
        free(e->to_type);
        free(e->to_id);
        free(e->category);
    }
    free(sim->hs.assocs);
    sim->hs.assocs = NULL;
    sim->hs.n_assocs = sim->hs.cap_assocs = 0;
    for (size_t i = 0; i < sim->hs.n_assoc_types; i++) {
        struct hs_assoc_type *d = &sim->hs.assoc_types[i];
        free(d->from);
        free(d->to);
        free(d->category);
        free(d->label);
        free(d->name);
    }
    free(sim->hs.assoc_types);
    sim->hs.assoc_types = NULL;
    sim->hs.n_assoc_types = sim->hs.cap_assoc_types = 0;
}

json_object *hs_assoc_dump(struct sim *sim)
{
    json_object *arr = json_object_new_array();
    for (size_t i = 0; i < sim->hs.n_assocs; i++) {
        struct hs_assoc *e = &sim->hs.assocs[i];
        json_object *o = json_object_new_object();
        json_set_str(o, "fromObjectTypeId", e->from_type);
        json_set_str(o, "fromObjectId", e->from_id);
        json_set_str(o, "toObjectTypeId", e->to_type);
        json_set_str(o, "toObjectId", e->to_id);
        json_set_str(o, "associationCategory", e->category);
        json_set_int(o, "associationTypeId", e->type_id);
        json_object_array_add(arr, o);
    }
    return arr;
}

json_object *hs_assoc_types_dump(struct sim *sim)
{
    json_object *arr = json_object_new_array();
    for (size_t i = 0; i < sim->hs.n_assoc_types; i++) {
        struct hs_assoc_type *d = &sim->hs.assoc_types[i];
        json_object *o = json_object_new_object();
        json_set_str(o, "fromObjectTypeId", d->from);
        json_set_str(o, "toObjectTypeId", d->to);
        json_set_str(o, "category", d->category);
        json_set_int(o, "typeId", d->type_id);
        json_set_str(o, "label", d->label);
        json_set_str(o, "name", d->name);
        json_object_array_add(arr, o);
    }
    return arr;
}

int hs_assoc_from_json(struct sim *sim, struct txn *t, json_object *doc, char *err, size_t errlen)
{
    struct hs_schema *from = hs_schema_resolve(sim, json_get_str(doc, "fromObjectTypeId"));
    struct hs_schema *to = hs_schema_resolve(sim, json_get_str(doc, "toObjectTypeId"));
    json_object *fidv = json_get(doc, "fromObjectId");
    json_object *tidv = json_get(doc, "toObjectId");
    if (!from || !to || !fidv || !tidv) {
        snprintf(err, errlen,
                 "association needs known fromObjectTypeId/toObjectTypeId and "
                 "fromObjectId/toObjectId");
        return -1;
    }
    struct hs_verr e;
    hs_verr_init(&e);
    const char *cat = json_get_str(doc, "associationCategory");
    int64_t tid = json_int_any(doc, "associationTypeId", "typeId", NULL);
    int rc = tid > 0 ? hs_assoc_add(sim, t, from, json_object_get_string(fidv), to,
                                    json_object_get_string(tidv), cat, tid, &e)
                     : hs_assoc_add_default(sim, t, from, json_object_get_string(fidv), to,
                                            json_object_get_string(tidv), &e);
    if (rc < 0)
        snprintf(err, errlen, "association: %s", e.message);
    hs_verr_free(&e);
    return rc;
}

int hs_assoc_add_default(struct sim *sim, struct txn *t, struct hs_schema *from,
                         const char *from_id, struct hs_schema *to, const char *to_id,
                         struct hs_verr *e)
{
    struct hs_assoc_type *d = type_default(sim, from->object_type_id, to->object_type_id);
    if (!d) {
        hs_verr_set(e, 400, "VALIDATION_ERROR",
                    "No default association type is defined from %s to %s", from->object_type_id,
                    to->object_type_id);
        return -1;
    }
    return hs_assoc_add(sim, t, from, from_id, to, to_id, d->category, d->type_id, e);
}

/* ---- v4 routes ---- */

struct pair {
    struct hs_schema *from;
    struct hs_schema *to;
};

static int resolve_pair(struct sim *sim, struct http_req *req, size_t from_i, size_t to_i,
                        struct http_resp *resp, struct pair *p)
{
    p->from = hs_schema_require(sim, http_param(req, from_i), resp);
    if (!p->from)
        return -1;
    p->to = hs_schema_require(sim, http_param(req, to_i), resp);
    return p->to ? 0 : -1;
}

static json_object *spec_result(const char *from_id, const char *to_id, const char *cat,
                                int64_t type_id)
{
    json_object *r = json_object_new_object();
    json_object *f = json_object_new_object();
    json_set_str(f, "id", from_id);
    json_object *to = json_object_new_object();
    json_set_str(to, "id", to_id);
    json_object_object_add(r, "from", f);
    json_object_object_add(r, "to", to);
    json_object *spec = json_object_new_object();
    json_set_str(spec, "associationCategory", cat);
    json_set_int(spec, "associationTypeId", type_id);
    json_object_object_add(r, "associationSpec", spec);
    return r;
}

/* Adds the default association and appends both directions' specs to results. */
static int add_default(struct sim *sim, struct txn *t, struct pair *p, const char *from_id,
                       const char *to_id, json_object *results, struct hs_verr *e)
{
    struct hs_assoc_type *d = type_default(sim, p->from->object_type_id, p->to->object_type_id);
    if (!d) {
        hs_verr_set(e, 400, "VALIDATION_ERROR",
                    "No default association type is defined from %s to %s", p->from->object_type_id,
                    p->to->object_type_id);
        return -1;
    }
    if (hs_assoc_add(sim, t, p->from, from_id, p->to, to_id, d->category, d->type_id, e) < 0)
        return -1;
    json_object_array_add(results, spec_result(from_id, to_id, d->category, d->type_id));
    const char *cat, *label;
    int64_t inv;
    type_inverse(sim, d->from, d->to, d->category, d->type_id, &cat, &inv, &label);
    json_object_array_add(results, spec_result(to_id, from_id, cat, inv));
    return 0;
}

void hs_route_assoc_put_default(struct sim *sim, struct http_req *req, struct http_resp *resp)
{
    struct pair p;
    if (resolve_pair(sim, req, 0, 2, resp, &p) < 0)
        return;
    int64_t started = util_now_ms();
    struct txn t;
    txn_init(&t, SRC_INTEGRATION, req->caller.app_id);
    struct hs_verr e;
    hs_verr_init(&e);
    json_object *results = json_object_new_array();
    if (add_default(sim, &t, &p, http_param(req, 1), http_param(req, 3), results, &e) < 0) {
        txn_rollback(sim, &t);
        hs_verr_respond(&e, resp);
        json_object_put(results);
    } else {
        txn_commit(sim, &t);
        http_resp_json(resp, 200, hs_batch_envelope(results, NULL, started));
    }
    hs_verr_free(&e);
}

static json_object *labels_of(struct sim *sim, struct pair *p, const char *from_id,
                              const char *to_id)
{
    json_object *labels = json_object_new_array();
    struct assoc_row *rows;
    size_t n = collect(sim, p->from, from_id, p->to, &rows);
    for (size_t i = 0; i < n; i++) {
        if (strcmp(rows[i].other_id, to_id) == 0 && rows[i].label)
            json_object_array_add(labels, json_object_new_string(rows[i].label));
    }
    free(rows);
    return labels;
}

static json_object *created_result(struct sim *sim, struct pair *p, const char *from_id,
                                   const char *to_id)
{
    json_object *o = json_object_new_object();
    json_set_str(o, "fromObjectTypeId", p->from->object_type_id);
    json_object_object_add(o, "fromObjectId", id_value(from_id));
    json_set_str(o, "toObjectTypeId", p->to->object_type_id);
    json_object_object_add(o, "toObjectId", id_value(to_id));
    json_object_object_add(o, "labels", labels_of(sim, p, from_id, to_id));
    return o;
}

/* Adds every {associationCategory, associationTypeId} of types. */
static int add_types(struct sim *sim, struct txn *t, struct pair *p, const char *from_id,
                     const char *to_id, json_object *types, struct hs_verr *e)
{
    if (!types || !json_object_is_type(types, json_type_array) ||
        json_object_array_length(types) == 0) {
        hs_verr_set(e, 400, "VALIDATION_ERROR",
                    "expected a non-empty array of {associationCategory, associationTypeId}");
        return -1;
    }
    for (size_t i = 0; i < json_object_array_length(types); i++) {
        json_object *ty = json_object_array_get_idx(types, i);
        const char *cat = json_get_str(ty, "associationCategory");
        int64_t tid = json_int_any(ty, "associationTypeId", NULL, NULL);
        if (!cat || tid <= 0) {
            hs_verr_set(e, 400, "VALIDATION_ERROR",
                        "every type needs associationCategory and associationTypeId");
            return -1;
        }
        if (hs_assoc_add(sim, t, p->from, from_id, p->to, to_id, cat, tid, e) < 0)
            return -1;
    }
    return 0;
}

void hs_route_assoc_put_labelled(struct sim *sim, struct http_req *req, struct http_resp *resp)
{
    struct pair p;
    if (resolve_pair(sim, req, 0, 2, resp, &p) < 0)
        return;
    char err[256];
    json_object *types = http_req_json(req, err, sizeof err);
    if (!types) {
        hs_errorf(resp, 400, "VALIDATION_ERROR", "Invalid input JSON: %s", err);
        return;
    }
    struct txn t;
    txn_init(&t, SRC_INTEGRATION, req->caller.app_id);
    struct hs_verr e;
    hs_verr_init(&e);
    const char *from_id = http_param(req, 1), *to_id = http_param(req, 3);
    if (add_types(sim, &t, &p, from_id, to_id, types, &e) < 0) {
        txn_rollback(sim, &t);
        hs_verr_respond(&e, resp);
    } else {
        txn_commit(sim, &t);
        http_resp_json(resp, 201, created_result(sim, &p, from_id, to_id));
    }
    hs_verr_free(&e);
    json_object_put(types);
}

void hs_route_assoc_delete(struct sim *sim, struct http_req *req, struct http_resp *resp)
{
    struct pair p;
    if (resolve_pair(sim, req, 0, 2, resp, &p) < 0)
        return;
    struct txn t;
    txn_init(&t, SRC_INTEGRATION, req->caller.app_id);
    hs_assoc_remove_pair(sim, &t, p.from->object_type_id, http_param(req, 1), p.to->object_type_id,
                         http_param(req, 3));
    txn_commit(sim, &t);
    http_resp_empty(resp, 204);
}

void hs_route_assoc_list(struct sim *sim, struct http_req *req, struct http_resp *resp)
{
    struct pair p;
    if (resolve_pair(sim, req, 0, 2, resp, &p) < 0)
        return;
    const char *id = http_param(req, 1);
    if (!record_live(p.from, id)) {
        hs_errorf(resp, 404, "OBJECT_NOT_FOUND", "%s %s was not found", p.from->object_type_id, id);
        return;
    }
    int64_t limit = 500, after = 0;
    const char *ls = kvlist_get(&req->query, "limit");
    const char *as = kvlist_get(&req->query, "after");
    if ((ls && (util_parse_int64(ls, &limit) < 0 || limit < 1)) ||
        (as && (util_parse_int64(as, &after) < 0 || after < 0))) {
        hs_errorf(resp, 400, "VALIDATION_ERROR", "limit and after must be non-negative integers");
        return;
    }
    if (limit > 500)
        limit = 500;
    struct assoc_row *rows;
    size_t n = collect(sim, p.from, id, p.to, &rows);
    json_object *all = group_rows(rows, n);
    free(rows);
    json_object *page = json_object_new_array();
    size_t total = json_object_array_length(all);
    for (size_t i = (size_t)after; i < total && i < (size_t)(after + limit); i++)
        json_object_array_add(page, json_object_get(json_object_array_get_idx(all, i)));
    json_object_put(all);
    json_object *out = json_object_new_object();
    json_object_object_add(out, "results", page);
    if ((size_t)(after + limit) < total) {
        char next[32];
        snprintf(next, sizeof next, "%lld", (long long)(after + limit));
        json_object *paging = json_object_new_object();
        json_object *nx = json_object_new_object();
        json_set_str(nx, "after", next);
        json_object_object_add(paging, "next", nx);
        json_object_object_add(out, "paging", paging);
    }
    http_resp_json(resp, 200, out);
}

static void assoc_batch_write(struct sim *sim, struct http_req *req, struct http_resp *resp,
                              bool with_default)
{
    struct pair p;
    if (resolve_pair(sim, req, 0, 1, resp, &p) < 0)
        return;
    json_object *body, *inputs;
    if (hs_body_inputs(req, resp, HS_ASSOC_BATCH_CREATE_MAX, &body, &inputs) < 0)
        return;
    int64_t started = util_now_ms();
    json_object *results = json_object_new_array();
    json_object *errors = json_object_new_array();
    for (size_t i = 0; i < json_object_array_length(inputs); i++) {
        json_object *in = json_object_array_get_idx(inputs, i);
        const char *fid = input_id(in, "from"), *tid = input_id(in, "to");
        struct txn t;
        txn_init(&t, SRC_INTEGRATION, req->caller.app_id);
        struct hs_verr e;
        hs_verr_init(&e);
        int rc;
        if (!fid || !tid) {
            hs_verr_set(&e, 400, "VALIDATION_ERROR", "inputs[%zu] needs from.id and to.id", i);
            rc = -1;
        } else if (with_default) {
            rc = add_default(sim, &t, &p, fid, tid, results, &e);
        } else {
            rc = add_types(sim, &t, &p, fid, tid, json_get(in, "types"), &e);
            if (rc == 0)
                json_object_array_add(results, created_result(sim, &p, fid, tid));
        }
        if (rc < 0) {
            txn_rollback(sim, &t);
            json_object_array_add(errors, hs_verr_batch_error(&e, NULL));
        } else {
            txn_commit(sim, &t);
        }
        hs_verr_free(&e);
    }
    int status = json_object_array_length(errors) ? 207 : (with_default ? 200 : 201);
    http_resp_json(resp, status, hs_batch_envelope(results, errors, started));
    json_object_put(body);
}

void hs_route_assoc_batch_create(struct sim *sim, struct http_req *req, struct http_resp *resp)
{
    assoc_batch_write(sim, req, resp, false);
}

void hs_route_assoc_batch_default(struct sim *sim, struct http_req *req, struct http_resp *resp)
{
    assoc_batch_write(sim, req, resp, true);
}

void hs_route_assoc_batch_read(struct sim *sim, struct http_req *req, struct http_resp *resp)
{
    struct pair p;
    if (resolve_pair(sim, req, 0, 1, resp, &p) < 0)
        return;
    json_object *body, *inputs;
    if (hs_body_inputs(req, resp, HS_ASSOC_BATCH_READ_MAX, &body, &inputs) < 0)
        return;
    int64_t started = util_now_ms();
    json_object *results = json_object_new_array();
    json_object *errors = json_object_new_array();
    for (size_t i = 0; i < json_object_array_length(inputs); i++) {
        json_object *iv = json_get(json_object_array_get_idx(inputs, i), "id");
        const char *id = iv ? json_object_get_string(iv) : NULL;
        struct assoc_row *rows = NULL;
        size_t n = id && record_live(p.from, id) ? collect(sim, p.from, id, p.to, &rows) : 0;
        if (n == 0) {
            json_object *e = json_object_new_object();
            json_set_str(e, "status", "error");
            json_set_str(e, "category", "OBJECT_NOT_FOUND");
            json_set_str(e, "subCategory", "crm.associations.NO_ASSOCIATIONS_FOUND");
            char msg[400];
            snprintf(msg, sizeof msg, "No %s is associated with %s %s.", p.to->object_type_id,
                     p.from->object_type_id, id ? id : "(missing id)");
            json_set_str(e, "message", msg);
            json_object *ctx = json_object_new_object();
            json_object *ids = json_object_new_array();
            json_object_array_add(ids, json_object_new_string(id ? id : ""));
            json_object_object_add(ctx, "fromObjectId", ids);
            json_object *ft = json_object_new_array(), *tt = json_object_new_array();
            json_object_array_add(ft, json_object_new_string(p.from->object_type_id));
            json_object_array_add(tt, json_object_new_string(p.to->object_type_id));
            json_object_object_add(ctx, "fromObjectType", ft);
            json_object_object_add(ctx, "toObjectType", tt);
            json_object_object_add(e, "context", ctx);
            json_object_array_add(errors, e);
        } else {
            json_object *r = json_object_new_object();
            json_object *f = json_object_new_object();
            json_set_str(f, "id", id);
            json_object_object_add(r, "from", f);
            json_object_object_add(r, "to", group_rows(rows, n));
            json_object_array_add(results, r);
        }
        free(rows);
    }
    int status = json_object_array_length(errors) ? 207 : 200;
    http_resp_json(resp, status, hs_batch_envelope(results, errors, started));
    json_object_put(body);
}

void hs_route_assoc_batch_archive(struct sim *sim, struct http_req *req, struct http_resp *resp)
{
    struct pair p;
    if (resolve_pair(sim, req, 0, 1, resp, &p) < 0)
        return;
    json_object *body, *inputs;
    if (hs_body_inputs(req, resp, HS_ASSOC_BATCH_CREATE_MAX, &body, &inputs) < 0)
        return;
    struct txn t;
    txn_init(&t, SRC_INTEGRATION, req->caller.app_id);
    for (size_t i = 0; i < json_object_array_length(inputs); i++) {
        json_object *in = json_object_array_get_idx(inputs, i);
        const char *fid = input_id(in, "from");
        json_object *tos = json_get(in, "to");
        if (!fid || !tos || !json_object_is_type(tos, json_type_array))
            continue;
        for (size_t j = 0; j < json_object_array_length(tos); j++) {
            json_object *tv = json_get(json_object_array_get_idx(tos, j), "id");
            if (tv)
                hs_assoc_remove_pair(sim, &t, p.from->object_type_id, fid, p.to->object_type_id,
                                     json_object_get_string(tv));
        }
    }
    txn_commit(sim, &t);
    http_resp_empty(resp, 204);
    json_object_put(body);
}

void hs_route_assoc_labels(struct sim *sim, struct http_req *req, struct http_resp *resp)
{
    struct pair p;
    if (resolve_pair(sim, req, 0, 1, resp, &p) < 0)
        return;
    json_object *results = json_object_new_array();
    for (size_t i = 0; i < sim->hs.n_assoc_types; i++) {
        struct hs_assoc_type *d = &sim->hs.assoc_types[i];
        if (strcmp(d->from, p.from->object_type_id) != 0 ||
            strcmp(d->to, p.to->object_type_id) != 0)
            continue;
        json_object *o = json_object_new_object();
        json_set_str(o, "category", d->category);
        json_set_int(o, "typeId", d->type_id);
        json_set_str(o, "label", d->label);
        json_object_array_add(results, o);
    }
    json_object *out = json_object_new_object();
    json_object_object_add(out, "results", results);
    http_resp_json(resp, 200, out);
}
