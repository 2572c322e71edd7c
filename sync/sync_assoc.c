/* sync_assoc.c: the association step of a sync batch: Salesforce lookups <-> HubSpot associations,
 * three-way against the link's stored association keys (see sync/sync_assoc.h).
 *
 * Owns the run's working state: one slot per (association, pair) holding both sides' current and
 * last-synced values, the resolved ids and the new base, plus the per-target-type association
 * reads. Steps per association: current values -> resolve (links of the target mapping, or the
 * resolver property) -> decide (one side changed, or the conflict winner) -> HubSpot writes;
 * then one Salesforce Collections update for every lookup, then the pairs' base keys. A read,
 * create or archive failure fails only the pairs it names (the client's per-input results);
 * the others go on.
 *
 * Must not: write the engine's links, run SQL of its own (db/ does), or log. */
#include "sync/sync_assoc.h"

#include "db/link_store.h"
#include "db/mapping_store.h"
#include "crm/hubspot_client.h"
#include "base/json_util.h"
#include "crm/salesforce_client.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define SEARCH_IN_MAX 100 /* values of one IN filter of a HubSpot search */

/* One (association, pair). Strings named *_base / s_now are borrowed from the pair's JSON. */
struct slot {
    bool s_known;       /* the Salesforce record carried the lookup field */
    const char *s_now;  /* current lookup (NULL: blank) */
    const char *s_base; /* last-synced lookup */
    const char *h_base; /* last-synced HubSpot target */
    char *h_now;        /* current HubSpot target (heap; NULL: blank) */
    bool sf_changed, hs_changed;
    char *s_res; /* the HubSpot id of s_now (heap) */
    char *h_res; /* the Salesforce id of h_now (heap) */
    bool failed; /* a call of this slot failed or it waits: keep the base */
    bool done;   /* new_s / new_h are the new base */
    bool via_sf; /* done only if the pair's Salesforce write succeeds */
    char *new_s; /* heap */
    char *new_h; /* heap */
    const char *create_to;
    const char *archive[2];
};

/* Current associations of the pairs to one target type, read once per run. */
struct type_read {
    const char *type;
    bool read;
    int rc;
    struct hubspot_assoc_links links;
    struct crm_error err;
};

struct target {
    bool by_links; /* else by property */
    bool found;    /* by_links: a target mapping is known */
    int64_t mapping_id;
    const char *property;
    const char *sf_object; /* for messages */
    char why[300];         /* !found: why nothing resolves */
};

struct run {
    const struct assoc_env *env;
    struct assoc_pair *pairs;
    size_t n;
    struct assoc_calls *calls;
    struct slot *slots; /* n per association */
    struct type_read *reads;
    json_object *mappings; /* the mapping list, loaded on first need */
    char *err;
    size_t errlen;
};

/* ---- small helpers ---- */

static bool blank(const char *s)
{
    return s == NULL || *s == '\0';
}

static char *dup_or_null(const char *s)
{
    return blank(s) ? NULL : strdup(s);
}

/* Two Salesforce ids of one record: equal, or a 15-character id and the 18-character form. */
static bool sf_same(const char *a, const char *b)
{
    if (blank(a) || blank(b))
        return blank(a) && blank(b);
    size_t la = strlen(a), lb = strlen(b);
    if (la == lb)
        return strcmp(a, b) == 0;
    return (la == 15 || lb == 15) && la >= 15 && lb >= 15 && strncmp(a, b, 15) == 0;
}

static bool hs_same(const char *a, const char *b)
{
    if (blank(a) || blank(b))
        return blank(a) && blank(b);
    return strcmp(a, b) == 0;
}

static void key_of(char *out, size_t outlen, const struct mapping_association *a)
{
    snprintf(out, outlen, "%s%s", SYNC_ASSOC_KEY_PREFIX, a->salesforce_field);
}

/* The string member key of o (exact, then ignoring case); *present tells if it was there. */
static const char *member_text(json_object *o, const char *key, bool *present)
{
    *present = false;
    if (!o || !json_object_is_type(o, json_type_object))
        return NULL;
    json_object *v = NULL;
    if (!json_object_object_get_ex(o, key, &v)) {
        json_object_object_foreach(o, k, val)
        {
            if (strcasecmp(k, key) == 0) {
                v = val;
                *present = true;
                break;
            }
        }
        if (!*present)
            return NULL;
    }
    *present = true;
    return v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

static void count_hs(struct run *r, const struct crm_error *e)
{
    if (r->calls)
        r->calls->hubspot += (size_t)(e->attempts > 0 ? e->attempts : 0);
}

static void pair_fail(struct assoc_pair *p, struct slot *s, const struct crm_error *e)
{
    s->failed = true;
    if (p->error.cls == CRM_ERR_NONE)
        p->error = *e;
}

static void pair_wait(struct assoc_pair *p, struct slot *s, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void pair_wait(struct assoc_pair *p, struct slot *s, const char *fmt, ...)
{
    s->failed = true;
    if (p->wait)
        return;
    p->wait = true;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->reason, sizeof p->reason, fmt, ap);
    va_end(ap);
}

/* ---- current values ---- */

static void slot_bases(struct slot *s, const struct assoc_pair *p, const char *key)
{
    bool present;
    s->s_base = member_text(p->sf_base, key, &present);
    s->h_base = member_text(p->hs_base, key, &present);
}

static void slot_sf(struct slot *s, const struct assoc_pair *p, const char *field)
{
    s->s_known = false;
    const char *v = p->sf_record ? member_text(p->sf_record, field, &s->s_known) : NULL;
    s->s_now = s->s_known ? v : s->s_base;
    s->sf_changed = s->s_known && !sf_same(s->s_now, s->s_base);
}

static bool link_matches(const struct hubspot_assoc_link *l, const char *from,
                         const struct mapping_association *a)
{
    return strcmp(l->from_id, from) == 0 &&
           (!a->has_association_type_id || l->type_id == a->association_type_id);
}

/* The HubSpot value of one pair from the current associations (see the header). */
static int slot_hs(struct slot *s, const struct assoc_pair *p, const struct hubspot_assoc_links *l,
                   const struct mapping_association *a)
{
    const char *first = NULL;
    bool base_there = false, several = false;
    for (size_t i = 0; i < l->n && !base_there; i++) {
        const struct hubspot_assoc_link *k = &l->items[i];
        if (!link_matches(k, p->hs_id, a))
            continue;
        base_there = hs_same(k->to_id, s->h_base);
        several = several || (first && strcmp(first, k->to_id) != 0);
        first = first ? first : k->to_id;
    }
    const char *now = base_there || several ? s->h_base : first;
    s->h_now = dup_or_null(now);
    if (!blank(now) && !s->h_now)
        return -1;
    s->hs_changed = !hs_same(s->h_now, s->h_base);
    return 0;
}

/* True if the pair is currently associated to to_id (of the association's type). */
static bool assoc_present(const struct hubspot_assoc_links *l, const char *from, const char *to_id,
                          const struct mapping_association *a)
{
    for (size_t i = 0; i < l->n; i++)
        if (link_matches(&l->items[i], from, a) && strcmp(l->items[i].to_id, to_id) == 0)
            return true;
    return false;
}

static struct type_read *read_of(struct run *r, size_t ai)
{
    const char *type = r->env->m->associations[ai].hubspot_object;
    for (size_t i = 0; i < ai; i++)
        if (r->reads[i].read && strcmp(r->reads[i].type, type) == 0)
            return &r->reads[i];
    return &r->reads[ai];
}

/* Reads the pairs' associations to type (once per type and run). */
static struct type_read *read_links(struct run *r, size_t ai)
{
    struct type_read *t = read_of(r, ai);
    if (t->read)
        return t;
    t->read = true;
    t->type = r->env->m->associations[ai].hubspot_object;
    const char **ids = calloc(r->n + 1, sizeof *ids);
    if (!ids) {
        crm_error_set(&t->err, CRM_HUBSPOT, CRM_ERR_TRANSIENT, 0, "out_of_memory",
                      "out of memory reading associations");
        t->rc = -1;
        return t;
    }
    for (size_t i = 0; i < r->n; i++)
        ids[i] = r->pairs[i].hs_id;
    t->rc = hubspot_assoc_batch_read(r->env->hc, r->env->http, r->env->hs_type, t->type, ids, r->n,
                                     &t->links, &t->err);
    count_hs(r, &t->err);
    free(ids);
    return t;
}

/* ---- targets ---- */

static const char *mapping_list_find(json_object *list, const struct sf_field *f, int64_t *id)
{
    size_t len = list ? json_object_array_length(list) : 0;
    for (size_t k = 0; f && k < f->n_reference_to; k++)
        for (size_t i = 0; i < len; i++) {
            json_object *doc = json_object_array_get_idx(list, i);
            const char *obj = json_member_string(doc, "salesforce_object");
            const char *idt = json_member_text(doc, "id");
            if (obj && idt && strcasecmp(obj, f->reference_to[k]) == 0) {
                *id = strtoll(idt, NULL, 10);
                return f->reference_to[k];
            }
        }
    return NULL;
}

static int target_of(struct run *r, const struct mapping_association *a, struct target *t)
{
    const struct sf_field *f = sf_object_field(r->env->sf, a->salesforce_field);
    memset(t, 0, sizeof *t);
    t->sf_object = f && f->n_reference_to ? f->reference_to[0] : "record";
    t->by_links = a->resolver != MAPPING_RESOLVER_HUBSPOT_PROPERTY;
    t->property = a->resolver_hubspot_property;
    if (a->resolver == MAPPING_RESOLVER_MAPPING) {
        t->found = true;
        t->mapping_id = a->resolver_mapping_id;
    }
    if (a->resolver != MAPPING_RESOLVER_DEFAULT)
        return 0;
    if (!r->mappings) {
        r->mappings = mapping_store_list(r->env->conn, r->err, r->errlen);
        if (!r->mappings)
            return -1;
    }
    const char *obj = mapping_list_find(r->mappings, f, &t->mapping_id);
    t->found = obj != NULL;
    if (obj)
        t->sf_object = obj;
    else
        snprintf(t->why, sizeof t->why,
                 "no synkro mapping syncs the Salesforce object %s looks up (%s)",
                 a->salesforce_field, t->sf_object);
    return 0;
}

/* ---- resolving ---- */

static bool wants_forward(const struct slot *s)
{
    return !s->failed && s->sf_changed && !blank(s->s_now);
}

static bool wants_reverse(const struct slot *s)
{
    return !s->failed && s->hs_changed && !blank(s->h_now);
}

static int forward_links(struct run *r, const struct target *t, struct slot *sl)
{
    const char **ids = calloc(r->n + 1, sizeof *ids);
    size_t k = 0;
    if (!ids) {
        snprintf(r->err, r->errlen, "out of memory resolving lookups");
        return -1;
    }
    for (size_t i = 0; i < r->n; i++)
        if (wants_forward(&sl[i]))
            ids[k++] = sl[i].s_now;
    struct sync_link *links = NULL;
    size_t nl = 0;
    int rc =
        k ? link_load(r->env->conn, t->mapping_id, ids, k, NULL, 0, &links, &nl, r->err, r->errlen)
          : 0;
    free(ids);
    for (size_t i = 0; rc == 0 && i < r->n; i++)
        for (size_t j = 0; wants_forward(&sl[i]) && !sl[i].s_res && j < nl; j++)
            if (!links[j].deleted && links[j].hubspot_id &&
                sf_same(links[j].salesforce_id, sl[i].s_now) &&
                !(sl[i].s_res = strdup(links[j].hubspot_id)))
                rc = -1;
    sync_links_free(links, nl);
    return rc;
}

static int reverse_links(struct run *r, const struct target *t, struct slot *sl)
{
    const char **ids = calloc(r->n + 1, sizeof *ids);
    size_t k = 0;
    if (!ids) {
        snprintf(r->err, r->errlen, "out of memory resolving associations");
        return -1;
    }
    for (size_t i = 0; i < r->n; i++)
        if (wants_reverse(&sl[i]))
            ids[k++] = sl[i].h_now;
    struct sync_link *links = NULL;
    size_t nl = 0;
    int rc =
        k ? link_load(r->env->conn, t->mapping_id, NULL, 0, ids, k, &links, &nl, r->err, r->errlen)
          : 0;
    free(ids);
    for (size_t i = 0; rc == 0 && i < r->n; i++)
        for (size_t j = 0; wants_reverse(&sl[i]) && !sl[i].h_res && j < nl; j++)
            if (!links[j].deleted && links[j].salesforce_id && links[j].hubspot_id &&
                strcmp(links[j].hubspot_id, sl[i].h_now) == 0 &&
                !(sl[i].h_res = strdup(links[j].salesforce_id)))
                rc = -1;
    sync_links_free(links, nl);
    return rc;
}

/* Gives the records of one search page to the slots whose lookup they carry. */
static int take_search(struct run *r, struct slot *sl, const char *prop, json_object *results)
{
    size_t len = results ? json_object_array_length(results) : 0;
    for (size_t k = 0; k < len; k++) {
        json_object *rec = json_object_array_get_idx(results, k);
        const char *id = json_member_text(rec, "id");
        const char *v = json_member_text(json_member(rec, "properties"), prop);
        for (size_t i = 0; id && v && i < r->n; i++)
            if (wants_forward(&sl[i]) && !sl[i].s_res && sf_same(v, sl[i].s_now) &&
                !(sl[i].s_res = strdup(id)))
                return -1;
    }
    return 0;
}

static void fail_forward(struct run *r, struct slot *sl, const struct crm_error *e)
{
    for (size_t i = 0; i < r->n; i++)
        if (wants_forward(&sl[i]) && !sl[i].s_res)
            pair_fail(&r->pairs[i], &sl[i], e);
}

/* Forward resolving by the property: searches `prop IN (...)` on the target type. */
static int forward_property(struct run *r, const struct mapping_association *a,
                            const struct target *t, struct slot *sl)
{
    const char **vals = calloc(r->n + 1, sizeof *vals);
    if (!vals) {
        snprintf(r->err, r->errlen, "out of memory resolving lookups");
        return -1;
    }
    size_t k = 0;
    int rc = 0;
    for (size_t i = 0; i <= r->n && rc == 0; i++) {
        if (i < r->n && wants_forward(&sl[i]))
            vals[k++] = sl[i].s_now;
        if (k == 0 || (k < SEARCH_IN_MAX && i < r->n))
            continue;
        struct hubspot_filter f = {
            .property = t->property, .op = "IN", .values = vals, .nvalues = k};
        struct hubspot_filter_group g = {.filters = &f, .nfilters = 1};
        const char *props[] = {t->property};
        struct hubspot_search_query q = {
            .groups = &g, .ngroups = 1, .properties = props, .nproperties = 1, .limit = 200};
        struct hubspot_search_page page = {0};
        struct crm_error e;
        int src = hubspot_search(r->env->hc, r->env->http, a->hubspot_object, &q, &page, &e);
        count_hs(r, &e);
        if (src < 0)
            fail_forward(r, sl, &e);
        else
            rc = take_search(r, sl, t->property, page.results);
        hubspot_search_page_free(&page);
        k = 0;
    }
    free(vals);
    if (rc < 0)
        snprintf(r->err, r->errlen, "out of memory resolving lookups");
    return rc;
}

/* Reverse resolving by the property: batch reads the targets' property. */
static int reverse_property(struct run *r, const struct mapping_association *a,
                            const struct target *t, struct slot *sl)
{
    const char **ids = calloc(r->n + 1, sizeof *ids);
    size_t *who = calloc(r->n + 1, sizeof *who);
    size_t k = 0;
    int rc = ids && who ? 0 : -1;
    for (size_t i = 0; rc == 0 && i < r->n; i++)
        if (wants_reverse(&sl[i])) {
            who[k] = i;
            ids[k++] = sl[i].h_now;
        }
    struct crm_batch_result res = {0};
    if (rc == 0 && k) {
        const char *props[] = {t->property};
        struct hubspot_read_options ro = {.properties = props, .nproperties = 1};
        struct crm_error e;
        hubspot_batch_read(r->env->hc, r->env->http, a->hubspot_object, ids, k, &ro, &res, &e);
        count_hs(r, &e);
        for (size_t j = 0; j < res.n && rc == 0; j++) {
            const struct crm_batch_item *it = &res.items[j];
            const char *v =
                it->ok ? json_member_text(json_member(it->record, "properties"), t->property)
                       : NULL;
            if (!it->ok && it->error && it->error->http_status != 404 &&
                strcmp(it->error->code, "OBJECT_NOT_FOUND") != 0)
                pair_fail(&r->pairs[who[j]], &sl[who[j]], it->error);
            else if (!blank(v) && !(sl[who[j]].h_res = strdup(v)))
                rc = -1;
        }
    }
    crm_batch_result_free(&res);
    free(ids);
    free(who);
    if (rc < 0)
        snprintf(r->err, r->errlen, "out of memory resolving associations");
    return rc;
}

static int resolve(struct run *r, const struct mapping_association *a, const struct target *t,
                   struct slot *sl)
{
    if (t->by_links && !t->found)
        return 0;
    if (t->by_links)
        return forward_links(r, t, sl) < 0 || reverse_links(r, t, sl) < 0 ? -1 : 0;
    return forward_property(r, a, t, sl) < 0 || reverse_property(r, a, t, sl) < 0 ? -1 : 0;
}

/* ---- deciding ---- */

static void wait_forward(struct assoc_pair *p, struct slot *s, const struct mapping_association *a,
                         const struct target *t)
{
    if (t->by_links && !t->found)
        pair_wait(p, s, "%s", t->why);
    else if (t->by_links)
        pair_wait(p, s, "Salesforce %s %s is not synced to HubSpot yet (lookup %s)", t->sf_object,
                  s->s_now, a->salesforce_field);
    else
        pair_wait(p, s, "no HubSpot record has %s = %s yet (lookup %s)", t->property, s->s_now,
                  a->salesforce_field);
}

static void wait_reverse(struct assoc_pair *p, struct slot *s, const struct mapping_association *a,
                         const struct target *t)
{
    char what[300];
    snprintf(what, sizeof what, "HubSpot %s %s", a->hubspot_object, s->h_now);
    if (t->by_links && !t->found)
        pair_wait(p, s, "%s", t->why);
    else if (t->by_links)
        pair_wait(p, s, "%s is not synced to Salesforce yet (lookup %s)", what,
                  a->salesforce_field);
    else
        pair_wait(p, s, "%s has no Salesforce id in %s yet (lookup %s)", what, t->property,
                  a->salesforce_field);
}

static int set_new(struct slot *s, const char *sv, const char *hv)
{
    s->new_s = dup_or_null(sv);
    s->new_h = dup_or_null(hv);
    s->done = true;
    return (!blank(sv) && !s->new_s) || (!blank(hv) && !s->new_h) ? -1 : 0;
}

/* Salesforce wins: the association follows the lookup. */
static int apply_sf(struct run *r, size_t i, struct slot *s, const struct mapping_association *a,
                    const struct target *t, const struct hubspot_assoc_links *l)
{
    const char *to = s->s_res;
    if (!blank(s->s_now) && !to) {
        wait_forward(&r->pairs[i], s, a, t);
        return 0;
    }
    size_t na = 0;
    if (!blank(s->h_now) && !hs_same(s->h_now, to))
        s->archive[na++] = s->h_now;
    if (!blank(s->h_base) && !hs_same(s->h_base, to) && !hs_same(s->h_base, s->h_now))
        s->archive[na++] = s->h_base;
    if (to && !assoc_present(l, r->pairs[i].hs_id, to, a))
        s->create_to = to;
    return set_new(s, s->s_now, to);
}

/* HubSpot wins: the lookup follows the association. */
static int apply_hs(struct run *r, size_t i, struct slot *s, const struct mapping_association *a,
                    const struct target *t)
{
    struct assoc_pair *p = &r->pairs[i];
    const char *id = s->h_res;
    if (!blank(s->h_now) && !id) {
        wait_reverse(p, s, a, t);
        return 0;
    }
    if (!s->s_known || !sf_same(s->s_now, id)) {
        if (!p->sf_write && !(p->sf_write = json_object_new_object()))
            return -1;
        json_object *v = blank(id) ? NULL : json_object_new_string(id);
        if ((!blank(id) && !v) || json_object_object_add(p->sf_write, a->salesforce_field, v) < 0)
            return -1;
        s->via_sf = true;
    }
    return set_new(s, id, s->h_now);
}

static bool sides_equal(const struct slot *s)
{
    if (blank(s->s_now) || blank(s->h_now))
        return blank(s->s_now) && blank(s->h_now);
    return hs_same(s->s_res, s->h_now) || sf_same(s->h_res, s->s_now);
}

static int decide(struct run *r, size_t i, struct slot *s, const struct mapping_association *a,
                  const struct target *t, const struct hubspot_assoc_links *l)
{
    if (s->failed || (!s->sf_changed && !s->hs_changed))
        return 0;
    if (s->sf_changed && s->hs_changed) {
        if (sides_equal(s))
            return set_new(s, s->s_now, s->h_now);
        if (r->env->m->conflict_winner == MAPPING_WINNER_SALESFORCE)
            return apply_sf(r, i, s, a, t, l);
        return apply_hs(r, i, s, a, t);
    }
    return s->sf_changed ? apply_sf(r, i, s, a, t, l) : apply_hs(r, i, s, a, t);
}

/* ---- HubSpot writes ---- */

/* Fails the pairs of the inputs of one write that did not succeed, each with its own error
 * (the call's error only for an input left without an answer). The others proceed. */
static void fail_items(struct run *r, struct slot *sl, const size_t *who, size_t k,
                       const struct crm_batch_result *res, const struct crm_error *e)
{
    for (size_t j = 0; j < k; j++) {
        const struct crm_batch_item *it = j < res->n ? &res->items[j] : NULL;
        if (!it || !it->ok)
            pair_fail(&r->pairs[who[j]], &sl[who[j]], it && it->error ? it->error : e);
    }
}

/* The association type to create with: *ntypes 0 for HubSpot's default type. */
static int assoc_type(struct run *r, const struct mapping_association *a,
                      struct hubspot_assoc_type *ty, char *category, size_t catlen,
                      struct crm_error *e)
{
    if (!a->has_association_type_id)
        return 0;
    struct hubspot_assoc_label *labels = NULL;
    size_t nl = 0;
    int rc = hubspot_assoc_labels(r->env->hc, r->env->http, r->env->hs_type, a->hubspot_object,
                                  &labels, &nl, e);
    count_hs(r, e);
    if (rc < 0)
        return -1;
    rc = -1;
    for (size_t k = 0; k < nl && rc < 0; k++)
        if (labels[k].type_id == a->association_type_id) {
            snprintf(category, catlen, "%s", labels[k].category);
            rc = 1;
        }
    hubspot_assoc_labels_free(labels, nl);
    if (rc < 0)
        crm_error_set(e, CRM_HUBSPOT, CRM_ERR_PERMANENT, 0, "INVALID_ASSOCIATION_TYPE",
                      "association type %lld is not defined from %s to %s",
                      (long long)a->association_type_id, r->env->hs_type, a->hubspot_object);
    ty->category = category;
    ty->type_id = a->association_type_id;
    return rc;
}

static void write_creates(struct run *r, const struct mapping_association *a, struct slot *sl,
                          struct hubspot_assoc_input *in, size_t *who, size_t k)
{
    char category[32] = "";
    struct hubspot_assoc_type ty = {0};
    struct crm_error e;
    crm_error_clear(&e);
    int nt = assoc_type(r, a, &ty, category, sizeof category, &e);
    for (size_t j = 0; nt < 0 && j < k; j++)
        pair_fail(&r->pairs[who[j]], &sl[who[j]], &e);
    if (nt < 0)
        return;
    for (size_t j = 0; j < k; j++) {
        in[j].types = nt ? &ty : NULL;
        in[j].ntypes = nt ? 1 : 0;
    }
    struct crm_batch_result res = {0};
    hubspot_assoc_batch_create(r->env->hc, r->env->http, r->env->hs_type, a->hubspot_object, in, k,
                               &res, &e);
    count_hs(r, &e);
    fail_items(r, sl, who, k, &res, &e);
    crm_batch_result_free(&res);
}

static void write_archives(struct run *r, const struct mapping_association *a, struct slot *sl,
                           struct hubspot_assoc_input *in, size_t *who, size_t k)
{
    struct crm_batch_result res = {0};
    struct crm_error e;
    crm_error_clear(&e);
    hubspot_assoc_batch_archive_each(r->env->hc, r->env->http, r->env->hs_type, a->hubspot_object,
                                     in, k, &res, &e);
    count_hs(r, &e);
    fail_items(r, sl, who, k, &res, &e);
    crm_batch_result_free(&res);
}

static int write_hubspot(struct run *r, const struct mapping_association *a, struct slot *sl)
{
    struct hubspot_assoc_input *in = calloc(2 * r->n + 1, sizeof *in);
    size_t *who = calloc(2 * r->n + 1, sizeof *who);
    if (!in || !who) {
        free(in), free(who);
        snprintf(r->err, r->errlen, "out of memory writing associations");
        return -1;
    }
    size_t k = 0;
    for (size_t i = 0; i < r->n; i++)
        if (sl[i].done && sl[i].create_to) {
            in[k] = (struct hubspot_assoc_input){.from_id = r->pairs[i].hs_id,
                                                 .to_id = sl[i].create_to};
            who[k++] = i;
        }
    if (k)
        write_creates(r, a, sl, in, who, k);
    k = 0;
    for (size_t i = 0; i < r->n; i++)
        for (size_t x = 0; sl[i].done && x < 2 && sl[i].archive[x]; x++) {
            in[k] = (struct hubspot_assoc_input){.from_id = r->pairs[i].hs_id,
                                                 .to_id = sl[i].archive[x]};
            who[k++] = i;
        }
    if (k)
        write_archives(r, a, sl, in, who, k);
    free(in);
    free(who);
    return 0;
}

/* ---- one association ---- */

static int association_values(struct run *r, size_t ai, struct slot *sl)
{
    const struct mapping_association *a = &r->env->m->associations[ai];
    char key[MAPPING_API_NAME_MAX + 16];
    key_of(key, sizeof key, a);
    for (size_t i = 0; i < r->n; i++) {
        slot_bases(&sl[i], &r->pairs[i], key);
        slot_sf(&sl[i], &r->pairs[i], a->salesforce_field);
    }
    struct type_read *t = read_links(r, ai);
    for (size_t i = 0; i < r->n; i++) {
        const struct hubspot_assoc_read_error *f =
            hubspot_assoc_links_failed(&t->links, r->pairs[i].hs_id);
        if (f)
            pair_fail(&r->pairs[i], &sl[i], &f->error); /* gone: OBJECT_NOT_FOUND, 404 */
        else if (t->rc < 0 && t->links.nfailed == 0)
            pair_fail(&r->pairs[i], &sl[i], &t->err); /* nothing was read */
        else if (slot_hs(&sl[i], &r->pairs[i], &t->links, a) < 0) {
            snprintf(r->err, r->errlen, "out of memory reading associations");
            return -1;
        }
    }
    return 0;
}

static int run_association(struct run *r, size_t ai)
{
    const struct mapping_association *a = &r->env->m->associations[ai];
    struct slot *sl = &r->slots[ai * r->n];
    struct target t;
    if (association_values(r, ai, sl) < 0 || target_of(r, a, &t) < 0 || resolve(r, a, &t, sl) < 0)
        return -1;
    const struct hubspot_assoc_links *l = &read_of(r, ai)->links;
    for (size_t i = 0; i < r->n; i++)
        if (decide(r, i, &sl[i], a, &t, l) < 0) {
            snprintf(r->err, r->errlen, "out of memory deciding associations");
            return -1;
        }
    return write_hubspot(r, a, sl);
}

/* ---- Salesforce writes and the new bases ---- */

static int write_salesforce(struct run *r, bool *sf_failed)
{
    struct salesforce_record_input *in = calloc(r->n + 1, sizeof *in);
    size_t *who = calloc(r->n + 1, sizeof *who);
    if (!in || !who) {
        free(in), free(who);
        snprintf(r->err, r->errlen, "out of memory writing lookups");
        return -1;
    }
    size_t k = 0;
    for (size_t i = 0; i < r->n; i++)
        if (r->pairs[i].sf_write) {
            in[k] = (struct salesforce_record_input){.id = r->pairs[i].sf_id,
                                                     .fields = r->pairs[i].sf_write};
            who[k++] = i;
        }
    struct crm_batch_result res = {0};
    struct crm_error e;
    crm_error_clear(&e);
    if (k) {
        salesforce_collection_update(r->env->sc, r->env->http, r->env->m->salesforce_object, in, k,
                                     false, &res, &e);
        if (r->calls)
            r->calls->salesforce += (size_t)(e.attempts > 0 ? e.attempts : 0);
    }
    for (size_t j = 0; j < k; j++) {
        const struct crm_batch_item *it = j < res.n ? &res.items[j] : NULL;
        if (it && it->ok)
            continue;
        struct assoc_pair *p = &r->pairs[who[j]];
        sf_failed[who[j]] = true;
        if (p->error.cls == CRM_ERR_NONE)
            p->error = it && it->error ? *it->error : e;
        json_object_put(p->sf_write);
        p->sf_write = NULL;
    }
    crm_batch_result_free(&res);
    free(in);
    free(who);
    return 0;
}

static int put_value(json_object *o, const char *key, const char *v)
{
    json_object *s = blank(v) ? NULL : json_object_new_string(v);
    if (!blank(v) && !s)
        return -1;
    return json_object_object_add(o, key, s);
}

static int pair_bases(struct run *r, size_t i, bool sf_failed)
{
    struct assoc_pair *p = &r->pairs[i];
    p->sf_base_set = json_object_new_object();
    p->hs_base_set = json_object_new_object();
    if (!p->sf_base_set || !p->hs_base_set)
        return -1;
    const struct mapping *m = r->env->m;
    for (size_t ai = 0; ai < m->n_associations; ai++) {
        if (!m->associations[ai].enabled)
            continue;
        const struct slot *s = &r->slots[ai * r->n + i];
        char key[MAPPING_API_NAME_MAX + 16];
        key_of(key, sizeof key, &m->associations[ai]);
        bool take = s->done && !s->failed && !(s->via_sf && sf_failed);
        if (put_value(p->sf_base_set, key, take ? s->new_s : s->s_base) < 0 ||
            put_value(p->hs_base_set, key, take ? s->new_h : s->h_base) < 0)
            return -1;
    }
    return 0;
}

static void slots_free(struct slot *sl, size_t n)
{
    for (size_t i = 0; sl && i < n; i++) {
        free(sl[i].h_now);
        free(sl[i].s_res);
        free(sl[i].h_res);
        free(sl[i].new_s);
        free(sl[i].new_h);
    }
    free(sl);
}

static int run_all(struct run *r)
{
    const struct mapping *m = r->env->m;
    for (size_t ai = 0; ai < m->n_associations; ai++)
        if (m->associations[ai].enabled && run_association(r, ai) < 0)
            return -1;
    bool *sf_failed = calloc(r->n + 1, sizeof *sf_failed);
    if (!sf_failed) {
        snprintf(r->err, r->errlen, "out of memory");
        return -1;
    }
    int rc = write_salesforce(r, sf_failed);
    for (size_t i = 0; rc == 0 && i < r->n; i++)
        if (pair_bases(r, i, sf_failed[i]) < 0) {
            snprintf(r->err, r->errlen, "out of memory storing association bases");
            rc = -1;
        }
    free(sf_failed);
    return rc;
}

int sync_assoc_run(const struct assoc_env *env, struct assoc_pair *pairs, size_t n,
                   struct assoc_calls *calls, char *err, size_t errlen)
{
    const struct mapping *m = env->m;
    for (size_t i = 0; i < n; i++)
        crm_error_clear(&pairs[i].error);
    if (n == 0 || m->n_associations == 0)
        return 0;
    struct run r = {
        .env = env, .pairs = pairs, .n = n, .calls = calls, .err = err, .errlen = errlen};
    size_t nslots = m->n_associations * n;
    r.slots = calloc(nslots, sizeof *r.slots);
    r.reads = calloc(m->n_associations, sizeof *r.reads);
    int rc = r.slots && r.reads ? run_all(&r) : -1;
    if (!r.slots || !r.reads)
        snprintf(err, errlen, "out of memory");
    for (size_t i = 0; r.reads && i < m->n_associations; i++)
        hubspot_assoc_links_free(&r.reads[i].links);
    free(r.reads);
    slots_free(r.slots, nslots);
    json_object_put(r.mappings);
    return rc;
}

void sync_assoc_pairs_clear(struct assoc_pair *pairs, size_t n)
{
    for (size_t i = 0; pairs && i < n; i++) {
        json_object_put(pairs[i].sf_write);
        json_object_put(pairs[i].sf_base_set);
        json_object_put(pairs[i].hs_base_set);
        pairs[i].sf_write = pairs[i].sf_base_set = pairs[i].hs_base_set = NULL;
        pairs[i].wait = false;
        pairs[i].reason[0] = '\0';
        crm_error_clear(&pairs[i].error);
    }
}

const char **sync_assoc_sf_fields(const struct mapping *m, size_t *n)
{
    *n = 0;
    const char **out = m && m->n_associations ? calloc(m->n_associations, sizeof *out) : NULL;
    for (size_t i = 0; out && i < m->n_associations; i++)
        if (m->associations[i].enabled)
            out[(*n)++] = m->associations[i].salesforce_field;
    if (out && *n == 0) {
        free(out);
        out = NULL;
    }
    return out;
}
