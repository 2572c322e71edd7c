/* store.c: record containers, ids and write transactions for both CRMs (see store.h).
 *
 * HubSpot records live in a per-schema array sorted by numeric id (list paging walks it) plus an id
 * hash; Salesforce records in creation order plus an 18-char id hash. Rollback relies on writes
 * replacing a record's props/fields object instead of mutating it, so a snapshot is just a
 * reference. */
#include "tests/crmsim/store.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/crmsim/deliveries.h"

/* ---- HubSpot ---- */

static bool all_digits(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++) {
        if (!isdigit((unsigned char)*s))
            return false;
    }
    return true;
}

int hs_id_cmp(const char *a, const char *b)
{
    bool da = all_digits(a), db = all_digits(b);
    if (da != db)
        return da ? -1 : 1;
    if (da) {
        while (*a == '0' && a[1])
            a++;
        while (*b == '0' && b[1])
            b++;
        size_t la = strlen(a), lb = strlen(b);
        if (la != lb)
            return la < lb ? -1 : 1;
    }
    return strcmp(a, b);
}

char *hs_id_next(struct sim *sim)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%llu", (unsigned long long)++sim->hs.next_id);
    return xstrdup(buf);
}

struct hs_record *hs_record_new(const char *id)
{
    struct hs_record *r = xcalloc(1, sizeof *r);
    r->id = xstrdup(id);
    r->props = json_object_new_object();
    return r;
}

void hs_record_free(struct hs_record *rec)
{
    if (!rec)
        return;
    free(rec->id);
    json_object_put(rec->props);
    json_object_put(rec->index_props);
    uindex_keys_free(&rec->unique_keys);
    free(rec);
}

const struct hs_property *hs_unique_prop(const struct hs_schema *s, const char *name)
{
    for (size_t i = 0; i < s->n_props; i++)
        if (s->props[i].unique && strcmp(s->props[i].name, name) == 0)
            return &s->props[i];
    return NULL;
}

void hs_unique_note(struct hs_schema *s, struct hs_record *rec)
{
    for (size_t i = 0; i < s->n_props; i++) {
        const struct hs_property *p = &s->props[i];
        const char *v = p->unique ? json_get_str(rec->props, p->name) : NULL;
        if (v)
            uindex_note(&s->unique_index, &rec->unique_keys, rec,
                        uindex_key(p->name, v, strlen(v), 0));
    }
}

struct hs_record *const *hs_unique_candidates(struct hs_schema *s, const char *prop,
                                              const char *value, size_t *n)
{
    char *k = uindex_key(prop, value, strlen(value), 0);
    void *const *c = uindex_candidates(&s->unique_index, k, n);
    free(k);
    return (struct hs_record *const *)c;
}

static size_t hs_lower_bound(struct hs_schema *s, const char *id)
{
    size_t lo = 0, hi = s->n_records;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (hs_id_cmp(s->records[mid]->id, id) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

int hs_records_insert(struct sim *sim, struct hs_schema *s, struct hs_record *rec)
{
    if (hmap_get(&s->by_id, rec->id))
        return -1;
    size_t pos = hs_lower_bound(s, rec->id);
    xgrow(&s->records, &s->cap_records, s->n_records + 1, sizeof *s->records);
    memmove(&s->records[pos + 1], &s->records[pos], (s->n_records - pos) * sizeof *s->records);
    s->records[pos] = rec;
    s->n_records++;
    hmap_put(&s->by_id, rec->id, rec);
    hs_unique_note(s, rec);
    sim->hs.total_records++;
    /* Keep generated ids above every id loaded from fixtures. */
    if (all_digits(rec->id) && strlen(rec->id) < 19) {
        unsigned long long v = strtoull(rec->id, NULL, 10);
        if (v > sim->hs.next_id)
            sim->hs.next_id = v;
    }
    return 0;
}

void hs_records_remove(struct sim *sim, struct hs_schema *s, struct hs_record *rec)
{
    size_t pos = hs_lower_bound(s, rec->id);
    if (pos < s->n_records && s->records[pos] == rec) {
        memmove(&s->records[pos], &s->records[pos + 1],
                (s->n_records - pos - 1) * sizeof *s->records);
        s->n_records--;
        sim->hs.total_records--;
    }
    hmap_del(&s->by_id, rec->id);
    uindex_forget(&s->unique_index, &rec->unique_keys, rec);
}

struct hs_record *hs_record_find(struct hs_schema *s, const char *id)
{
    return hmap_get(&s->by_id, id);
}

void hs_schema_free(struct hs_schema *s)
{
    if (!s)
        return;
    free(s->object_type_id);
    free(s->name);
    free(s->fqn);
    json_object_put(s->json);
    for (size_t i = 0; i < s->n_props; i++) {
        struct hs_property *p = &s->props[i];
        free(p->name);
        free(p->type);
        free(p->field_type);
        for (size_t j = 0; j < p->n_options; j++) {
            free(p->options[j].value);
            free(p->options[j].label);
        }
        free(p->options);
    }
    free(s->props);
    for (size_t i = 0; i < s->n_required; i++)
        free(s->required[i]);
    free(s->required);
    for (size_t i = 0; i < s->n_records; i++)
        hs_record_free(s->records[i]);
    free(s->records);
    hmap_clear(&s->by_id);
    uindex_clear(&s->unique_index);
    free(s);
}

/* ---- Salesforce ---- */

void sf_id_suffix(const char *id15, char *out)
{
    static const char map[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345";
    for (int i = 0; i < 3; i++) {
        int flags = 0;
        for (int j = 0; j < 5; j++) {
            char c = id15[i * 5 + j];
            if (c >= 'A' && c <= 'Z')
                flags |= 1 << j;
        }
        out[i] = map[flags];
    }
}

int sf_id_normalize(const char *in, char *out)
{
    if (!in)
        return -1;
    size_t n = strlen(in);
    if (n != 15 && n != 18)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (!isalnum((unsigned char)in[i]))
            return -1;
    }
    memcpy(out, in, 15);
    sf_id_suffix(in, out + 15);
    out[18] = '\0';
    if (n == 18) {
        for (int i = 0; i < 3; i++) {
            if (toupper((unsigned char)in[15 + i]) != out[15 + i])
                return -1;
        }
    }
    return 0;
}

void sf_id_generate(struct sim *sim, const char *prefix, char *out)
{
    static const char b62[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    uint64_t v = ++sim->sf.id_counter;
    char digits[11];
    for (int i = 9; i >= 0; i--) {
        digits[i] = b62[v % 62];
        v /= 62;
    }
    digits[10] = '\0';
    snprintf(out, 16, "%.3s5g%s", prefix, digits);
    sf_id_suffix(out, out + 15);
    out[18] = '\0';
}

struct sf_record *sf_record_new(void)
{
    struct sf_record *r = xcalloc(1, sizeof *r);
    r->fields = json_object_new_object();
    return r;
}

/* The index key of text value v of field f: values the unique check takes as equal (ids by their
 * first 15 characters, text without case unless the field is case-sensitive) share it. */
static char *sf_unique_key(const struct sf_field *f, const char *v)
{
    bool id = strcmp(f->type, "id") == 0 || strcmp(f->type, "reference") == 0;
    size_t vl = strlen(v);
    return uindex_key(f->name, v, id && vl > 15 ? 15 : vl, !id && !f->case_sensitive);
}

void sf_record_free(struct sf_record *rec)
{
    if (!rec)
        return;
    json_object_put(rec->fields);
    uindex_keys_free(&rec->unique_keys);
    free(rec);
}

void sf_unique_note(struct sf_object *o, struct sf_record *rec)
{
    for (size_t i = 0; i < o->n_fields; i++) {
        const struct sf_field *f = &o->fields[i];
        json_object *v = f->unique ? json_get(rec->fields, f->name) : NULL;
        if (v && json_object_is_type(v, json_type_string))
            uindex_note(&o->unique_index, &rec->unique_keys, rec,
                        sf_unique_key(f, json_object_get_string(v)));
    }
}

struct sf_record *const *sf_unique_candidates(struct sf_object *o, const struct sf_field *f,
                                              const char *v, size_t *n)
{
    char *k = sf_unique_key(f, v);
    void *const *c = uindex_candidates(&o->unique_index, k, n);
    free(k);
    return (struct sf_record *const *)c;
}

void sf_records_append(struct sim *sim, struct sf_object *o, struct sf_record *rec)
{
    xgrow(&o->records, &o->cap_records, o->n_records + 1, sizeof *o->records);
    o->records[o->n_records++] = rec;
    hmap_put(&o->by_id, rec->id, rec);
    sf_unique_note(o, rec);
}

void sf_records_remove(struct sim *sim, struct sf_object *o, struct sf_record *rec)
{
    for (size_t i = o->n_records; i-- > 0;) {
        if (o->records[i] == rec) {
            memmove(&o->records[i], &o->records[i + 1],
                    (o->n_records - i - 1) * sizeof *o->records);
            o->n_records--;
            break;
        }
    }
    hmap_del(&o->by_id, rec->id);
    uindex_forget(&o->unique_index, &rec->unique_keys, rec);
}

struct sf_record *sf_record_find(struct sf_object *o, const char *id)
{
    char id18[19];
    if (sf_id_normalize(id, id18) < 0)
        return NULL;
    return hmap_get(&o->by_id, id18);
}

void sf_object_free(struct sf_object *o)
{
    if (!o)
        return;
    free(o->name);
    json_object_put(o->describe);
    for (size_t i = 0; i < o->n_fields; i++) {
        struct sf_field *f = &o->fields[i];
        free(f->name);
        free(f->type);
        json_object_put(f->default_value);
        for (size_t j = 0; j < f->n_picklist; j++)
            free(f->picklist[j]);
        free(f->picklist);
    }
    free(o->fields);
    for (size_t i = 0; i < o->n_records; i++)
        sf_record_free(o->records[i]);
    free(o->records);
    hmap_clear(&o->by_id);
    uindex_clear(&o->unique_index);
    free(o);
}

struct sf_object *sf_object_find(struct sim *sim, const char *name)
{
    for (size_t i = 0; i < sim->sf.n_objects; i++) {
        if (util_streq_ci(sim->sf.objects[i]->name, name))
            return sim->sf.objects[i];
    }
    return NULL;
}

struct sf_field *sf_field_find(struct sf_object *o, const char *name)
{
    for (size_t i = 0; i < o->n_fields; i++) {
        if (util_streq_ci(o->fields[i].name, name))
            return &o->fields[i];
    }
    return NULL;
}

/* ---- transactions ---- */

void txn_init(struct txn *t, enum change_source source, int64_t app_id)
{
    memset(t, 0, sizeof *t);
    t->source = source;
    t->app_id = app_id;
    t->events = json_object_new_array();
}

static struct undo *txn_push(struct txn *t, enum undo_kind kind, void *owner, void *rec)
{
    xgrow(&t->undo, &t->cap_undo, t->n_undo + 1, sizeof *t->undo);
    struct undo *u = &t->undo[t->n_undo++];
    memset(u, 0, sizeof *u);
    u->kind = kind;
    u->owner = owner;
    u->rec = rec;
    return u;
}

void txn_hs_created(struct txn *t, struct hs_schema *s, struct hs_record *rec)
{
    txn_push(t, UNDO_HS_CREATE, s, rec);
}

void txn_hs_snapshot(struct txn *t, struct hs_schema *s, struct hs_record *rec)
{
    struct undo *u = txn_push(t, UNDO_HS_SNAPSHOT, s, rec);
    u->values = json_object_get(rec->props);
    u->index_props = json_object_get(rec->index_props);
    u->t1 = rec->updated_ms;
    u->t2 = rec->archived_ms;
    u->t3 = rec->index_due_ms;
    u->flag1 = rec->archived;
    u->flag2 = rec->index_archived;
}

void txn_sf_created(struct txn *t, struct sf_object *o, struct sf_record *rec)
{
    txn_push(t, UNDO_SF_CREATE, o, rec);
}

void txn_sf_snapshot(struct txn *t, struct sf_object *o, struct sf_record *rec)
{
    struct undo *u = txn_push(t, UNDO_SF_SNAPSHOT, o, rec);
    u->values = json_object_get(rec->fields);
    u->t1 = rec->modified_ms;
    u->t2 = rec->modstamp_ms;
    u->t3 = rec->deleted_ms;
    u->flag1 = rec->deleted;
    memcpy(u->by, rec->modified_by, sizeof u->by);
}

void txn_hs_assoc_added(struct txn *t, const struct hs_assoc *a)
{
    struct undo *u = txn_push(t, UNDO_HS_ASSOC, NULL, NULL);
    u->assoc.from_type = xstrdup(a->from_type);
    u->assoc.from_id = xstrdup(a->from_id);
    u->assoc.to_type = xstrdup(a->to_type);
    u->assoc.to_id = xstrdup(a->to_id);
    u->assoc.category = xstrdup(a->category);
    u->assoc.type_id = a->type_id;
}

void txn_event(struct txn *t, json_object *ev)
{
    json_object_array_add(t->events, ev);
}

void txn_sf_changed(struct txn *t, const char *object, const char *record_id,
                    const char *modified_by)
{
    for (size_t i = 0; i < t->n_ob; i++) {
        if (strcmp(t->ob[i].record_id, record_id) == 0)
            return;
    }
    xgrow(&t->ob, &t->cap_ob, t->n_ob + 1, sizeof *t->ob);
    struct ob_change *c = &t->ob[t->n_ob++];
    c->object = xstrdup(object);
    snprintf(c->record_id, sizeof c->record_id, "%s", record_id);
    snprintf(c->modified_by, sizeof c->modified_by, "%s", modified_by);
}

static void free_assoc_fields(struct hs_assoc *a)
{
    free(a->from_type);
    free(a->from_id);
    free(a->to_type);
    free(a->to_id);
    free(a->category);
}

static void txn_release(struct txn *t)
{
    for (size_t i = 0; i < t->n_undo; i++) {
        json_object_put(t->undo[i].values);
        json_object_put(t->undo[i].index_props);
        if (t->undo[i].kind == UNDO_HS_ASSOC)
            free_assoc_fields(&t->undo[i].assoc);
    }
    free(t->undo);
    for (size_t i = 0; i < t->n_ob; i++)
        free(t->ob[i].object);
    free(t->ob);
    json_object_put(t->events);
    memset(t, 0, sizeof *t);
}

void txn_commit(struct sim *sim, struct txn *t)
{
    deliveries_queue_events(sim, t->events);
    for (size_t i = 0; i < t->n_ob; i++)
        deliveries_queue_outbound(sim, t->ob[i].object, t->ob[i].record_id, t->ob[i].modified_by);
    txn_release(t);
}

static void undo_assoc(struct sim *sim, const struct hs_assoc *a)
{
    for (size_t i = sim->hs.n_assocs; i-- > 0;) {
        struct hs_assoc *e = &sim->hs.assocs[i];
        if (e->type_id == a->type_id && strcmp(e->from_type, a->from_type) == 0 &&
            strcmp(e->from_id, a->from_id) == 0 && strcmp(e->to_type, a->to_type) == 0 &&
            strcmp(e->to_id, a->to_id) == 0) {
            free_assoc_fields(e);
            memmove(e, e + 1, (sim->hs.n_assocs - i - 1) * sizeof *e);
            sim->hs.n_assocs--;
            return;
        }
    }
}

void txn_rollback(struct sim *sim, struct txn *t)
{
    for (size_t i = t->n_undo; i-- > 0;) {
        struct undo *u = &t->undo[i];
        switch (u->kind) {
        case UNDO_HS_CREATE:
            hs_records_remove(sim, u->owner, u->rec);
            hs_record_free(u->rec);
            break;
        case UNDO_HS_SNAPSHOT: {
            struct hs_record *r = u->rec;
            json_object_put(r->props);
            r->props = u->values;
            u->values = NULL;
            json_object_put(r->index_props);
            r->index_props = u->index_props;
            u->index_props = NULL;
            r->updated_ms = u->t1;
            r->archived_ms = u->t2;
            r->index_due_ms = u->t3;
            r->archived = u->flag1;
            r->index_archived = u->flag2;
            break;
        }
        case UNDO_SF_CREATE:
            sf_records_remove(sim, u->owner, u->rec);
            sf_record_free(u->rec);
            break;
        case UNDO_SF_SNAPSHOT: {
            struct sf_record *r = u->rec;
            json_object_put(r->fields);
            r->fields = u->values;
            u->values = NULL;
            r->modified_ms = u->t1;
            r->modstamp_ms = u->t2;
            r->deleted_ms = u->t3;
            r->deleted = u->flag1;
            memcpy(r->modified_by, u->by, sizeof r->modified_by);
            break;
        }
        case UNDO_HS_ASSOC:
            undo_assoc(sim, &u->assoc);
            break;
        }
    }
    txn_release(t);
}
