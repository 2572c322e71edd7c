/* fixtures.c: fixture loading and state dumps.
 *
 * Document: {"config":{...}, "hubspot":{"schemas":[], "association_types":[],
 * "records":{type:[{id?, properties, createdAt?, updatedAt?, archived?}]}, "associations":[],
 * "static_tokens":[], "oauth_clients":
 * []}, "salesforce":{"describes":[], "records":{Object:[{Id?, fields..., CreatedDate?,
 * LastModifiedDate?, SystemModstamp?, IsDeleted?, CreatedById?, LastModifiedById?}]}, "clients":[],
 * "static_tokens":[], "users":[], "outbound_rules":[]}}. Records are validated like API writes
 * (system fields may be given). Everything is applied in one transaction; on any error the
 * schemas/describes/association types added so far are removed and the records rolled back, so a
 * failed load changes nothing. */
#include "tests/crmsim/fixtures.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/crmsim/config.h"
#include "tests/crmsim/deliveries.h"
#include "tests/crmsim/hubspot.h"
#include "tests/crmsim/salesforce.h"

#define MAX_RULES        50
#define MAX_FIXTURE_FILE (64 * 1024 * 1024)

struct load {
    struct sim *sim;
    struct txn t;
    size_t schemas_before;
    size_t objects_before;
    size_t types_before;
    char *err;
    size_t errlen;
    json_object *summary;
};

static int check_keys(json_object *o, const char *where, const char *const *allowed, char *err,
                      size_t errlen)
{
    if (!o)
        return 0;
    if (!json_object_is_type(o, json_type_object)) {
        snprintf(err, errlen, "%s must be an object", where);
        return -1;
    }
    json_object_object_foreach(o, key, val)
    {
        (void)val;
        bool ok = false;
        for (size_t i = 0; allowed[i] && !ok; i++)
            ok = strcmp(allowed[i], key) == 0;
        if (!ok) {
            snprintf(err, errlen, "unknown key %.100s in %s", key, where);
            return -1;
        }
    }
    return 0;
}

static json_object *array_or_null(json_object *o, const char *key, const char *where, char *err,
                                  size_t errlen, int *rc)
{
    json_object *v = json_get(o, key);
    if (v && !json_object_is_type(v, json_type_array)) {
        snprintf(err, errlen, "%s.%s must be an array", where, key);
        *rc = -1;
        return NULL;
    }
    return v;
}

static void count(struct load *l, const char *key, size_t n)
{
    json_object *v = json_get(l->summary, key);
    json_set_int(l->summary, key, (v ? json_object_get_int64(v) : 0) + (int64_t)n);
}

/* ---- HubSpot ---- */

static int load_hs_records(struct load *l, json_object *records)
{
    struct sim *sim = l->sim;
    if (!json_object_is_type(records, json_type_object)) {
        snprintf(l->err, l->errlen, "hubspot.records must be an object keyed by object type");
        return -1;
    }
    json_object_object_foreach(records, type, arr)
    {
        struct hs_schema *s = hs_schema_resolve(sim, type);
        if (!s) {
            snprintf(l->err, l->errlen, "hubspot.records: unknown object type %.100s", type);
            return -1;
        }
        if (!json_object_is_type(arr, json_type_array)) {
            snprintf(l->err, l->errlen, "hubspot.records.%.100s must be an array", type);
            return -1;
        }
        for (size_t i = 0; i < json_object_array_length(arr); i++) {
            json_object *rd = json_object_array_get_idx(arr, i);
            json_object *props = json_get(rd, "properties");
            json_object *copy = json_object_new_object();
            json_object *direct = json_object_new_object(); /* read-only values fixtures may set */
            if (props && json_object_is_type(props, json_type_object)) {
                json_object_object_foreach(props, pk, pv)
                {
                    if (strcmp(pk, "hs_object_id") == 0 || strcmp(pk, "hs_createdate") == 0 ||
                        strcmp(pk, "hs_lastmodifieddate") == 0)
                        continue;
                    struct hs_property *hp = hs_schema_prop(s, pk);
                    if (hp && hp->read_only) {
                        if (pv && json_object_is_type(pv, json_type_string))
                            json_object_object_add(direct, pk, json_object_get(pv));
                        continue;
                    }
                    json_object_object_add(copy, pk, json_object_get(pv));
                }
            }
            struct hs_verr e;
            hs_verr_init(&e);
            json_object *changes = hs_validate_props(sim, s, copy, true, NULL, &e);
            json_object_put(copy);
            json_object *idv = json_get(rd, "id");
            struct hs_record *rec =
                changes ? hs_write_create(sim, &l->t, s, changes, NULL,
                                          idv ? json_object_get_string(idv) : NULL, &e)
                        : NULL;
            json_object_put(changes);
            if (!rec) {
                char msg[4096];
                const char *m = e.message;
                if (!*m && e.invalid) {
                    char *inner = json_to_heap(e.invalid, NULL);
                    snprintf(msg, sizeof msg, "%s", inner);
                    free(inner);
                    m = msg;
                }
                snprintf(l->err, l->errlen, "hubspot.records.%.100s[%zu]: %s", type, i, m);
                hs_verr_free(&e);
                json_object_put(direct);
                return -1;
            }
            hs_verr_free(&e);
            json_object_object_foreach(direct, dk, dv)
            {
                json_object_object_add(rec->props, dk, json_object_get(dv));
            }
            json_object_put(direct);
            int64_t ms;
            const char *ca = json_get_str(rd, "createdAt");
            const char *ua = json_get_str(rd, "updatedAt");
            if (ca && util_parse_datetime(ca, &ms) == 0)
                rec->created_ms = rec->updated_ms = ms;
            if (ua && util_parse_datetime(ua, &ms) == 0)
                rec->updated_ms = ms;
            char ts[40];
            util_fmt_iso_ms(rec->created_ms, ts, sizeof ts);
            json_set_str(rec->props, "hs_createdate", ts);
            util_fmt_iso_ms(rec->updated_ms, ts, sizeof ts);
            json_set_str(rec->props, "hs_lastmodifieddate", ts);
            json_object *av = json_get(rd, "archived");
            if (av && json_object_get_boolean(av)) {
                rec->archived = true;
                rec->archived_ms = rec->updated_ms;
            }
            hs_unique_note(s, rec);
            json_object_put(rec->index_props);
            rec->index_props = json_object_get(rec->props);
            rec->index_archived = rec->archived;
            rec->index_due_ms = 0;
        }
        count(l, "hubspotRecords", json_object_array_length(arr));
    }
    return 0;
}

static int load_hubspot(struct load *l, json_object *hs)
{
    static const char *const keys[] = {
        "schemas",       "association_types", "records",       "associations",
        "static_tokens", "oauth_clients",     "issued_tokens", NULL};
    if (check_keys(hs, "hubspot", keys, l->err, l->errlen) < 0)
        return -1;
    if (!hs)
        return 0;
    int rc = 0;
    json_object *schemas = array_or_null(hs, "schemas", "hubspot", l->err, l->errlen, &rc);
    json_object *types = array_or_null(hs, "association_types", "hubspot", l->err, l->errlen, &rc);
    json_object *assocs = array_or_null(hs, "associations", "hubspot", l->err, l->errlen, &rc);
    if (rc < 0)
        return -1;
    for (size_t i = 0; schemas && i < json_object_array_length(schemas); i++) {
        char err[512];
        struct hs_schema *s =
            hs_schema_from_json(l->sim, json_object_array_get_idx(schemas, i), err, sizeof err);
        if (!s || hs_schema_install(l->sim, s, err, sizeof err) < 0) {
            hs_schema_free(s);
            snprintf(l->err, l->errlen, "hubspot.schemas[%zu]: %s", i, err);
            return -1;
        }
    }
    count(l, "hubspotSchemas", schemas ? json_object_array_length(schemas) : 0);
    for (size_t i = 0; types && i < json_object_array_length(types); i++) {
        char err[512];
        if (hs_assoc_type_from_json(l->sim, json_object_array_get_idx(types, i), err, sizeof err) <
            0) {
            snprintf(l->err, l->errlen, "hubspot.association_types[%zu]: %s", i, err);
            return -1;
        }
    }
    json_object *records = json_get(hs, "records");
    if (records && load_hs_records(l, records) < 0)
        return -1;
    for (size_t i = 0; assocs && i < json_object_array_length(assocs); i++) {
        char err[1200];
        if (hs_assoc_from_json(l->sim, &l->t, json_object_array_get_idx(assocs, i), err,
                               sizeof err) < 0) {
            snprintf(l->err, l->errlen, "hubspot.associations[%zu]: %s", i, err);
            return -1;
        }
    }
    count(l, "hubspotAssociations", assocs ? json_object_array_length(assocs) : 0);
    return 0;
}

/* ---- Salesforce ---- */

/* A record's CreatedById or LastModifiedById given by a fixture into out (left as it is when the
 * fixture gives none). */
static int fixture_user_id(json_object *rd, const char *key, char out[19], struct load *l)
{
    const char *v = json_get_str(rd, key);
    if (!v)
        return 0;
    if (sf_id_normalize(v, out) < 0 || strncmp(out, "005", 3) != 0) {
        snprintf(l->err, l->errlen, "salesforce.records: %s %.40s is not a user id (005...)", key,
                 v);
        return -1;
    }
    return 0;
}

static int load_sf_records(struct load *l, json_object *records)
{
    struct sim *sim = l->sim;
    if (!json_object_is_type(records, json_type_object)) {
        snprintf(l->err, l->errlen, "salesforce.records must be an object keyed by sObject name");
        return -1;
    }
    static const char *const sys[] = {"attributes",       "Id",
                                      "CreatedDate",      "CreatedById",
                                      "LastModifiedDate", "LastModifiedById",
                                      "SystemModstamp",   "IsDeleted"};
    json_object_object_foreach(records, name, arr)
    {
        struct sf_object *o = sf_object_find(sim, name);
        if (!o || !json_object_is_type(arr, json_type_array)) {
            snprintf(l->err, l->errlen,
                     "salesforce.records.%.100s: unknown sObject or not an array", name);
            return -1;
        }
        for (size_t i = 0; i < json_object_array_length(arr); i++) {
            json_object *rd = json_object_array_get_idx(arr, i);
            if (!json_object_is_type(rd, json_type_object)) {
                snprintf(l->err, l->errlen, "salesforce.records.%.100s[%zu] must be an object",
                         name, i);
                return -1;
            }
            json_object *copy = json_object_new_object();
            json_object *direct = json_object_new_object(); /* calculated values fixtures may set */
            json_object_object_foreach(rd, fk, fv)
            {
                bool skip = false;
                for (size_t k = 0; k < sizeof sys / sizeof sys[0]; k++)
                    skip |= util_streq_ci(fk, sys[k]);
                struct sf_field *ff = skip ? NULL : sf_field_find(o, fk);
                if (ff && !ff->createable) {
                    if (fv)
                        json_object_object_add(direct, ff->name, json_object_get(fv));
                    continue;
                }
                if (!skip)
                    json_object_object_add(copy, fk, json_object_get(fv));
            }
            struct sf_err e;
            sf_err_init(&e);
            json_object *changes = sf_validate_fields(sim, o, copy, true, NULL, NULL, &e);
            json_object_put(copy);
            struct sf_record *rec = changes ? sf_write_create(sim, &l->t, o, changes, &e) : NULL;
            json_object_put(changes);
            if (!rec) {
                snprintf(l->err, l->errlen, "salesforce.records.%.100s[%zu]: %s: %s", name, i,
                         e.code, e.message);
                sf_err_free(&e);
                json_object_put(direct);
                return -1;
            }
            sf_err_free(&e);
            json_object_object_foreach(direct, dk, dv)
            {
                json_object_object_add(rec->fields, dk, json_object_get(dv));
            }
            json_object_put(direct);
            sf_unique_note(o, rec);
            const char *id = json_get_str(rd, "Id");
            if (id) {
                char id18[19];
                if (sf_id_normalize(id, id18) < 0 || strncmp(id18, o->key_prefix, 3) != 0 ||
                    hmap_get(&o->by_id, id18)) {
                    snprintf(l->err, l->errlen,
                             "salesforce.records.%.100s[%zu]: Id %.40s is malformed, has another "
                             "key prefix than %s, or is taken",
                             name, i, id, o->key_prefix);
                    return -1;
                }
                sf_records_remove(sim, o, rec);
                memcpy(rec->id, id18, sizeof rec->id);
                sf_records_append(sim, o, rec);
            }
            int64_t ms;
            const char *cd = json_get_str(rd, "CreatedDate");
            const char *lm = json_get_str(rd, "LastModifiedDate");
            const char *sm = json_get_str(rd, "SystemModstamp");
            if (cd && util_parse_datetime(cd, &ms) == 0)
                rec->created_ms = rec->modified_ms = rec->modstamp_ms = ms;
            if (lm && util_parse_datetime(lm, &ms) == 0)
                rec->modified_ms = rec->modstamp_ms = ms;
            if (sm && util_parse_datetime(sm, &ms) == 0)
                rec->modstamp_ms = ms;
            if (fixture_user_id(rd, "CreatedById", rec->created_by, l) < 0 ||
                fixture_user_id(rd, "LastModifiedById", rec->modified_by, l) < 0)
                return -1;
            json_object *del = json_get(rd, "IsDeleted");
            if (del && json_object_get_boolean(del)) {
                rec->deleted = true;
                rec->deleted_ms = rec->modstamp_ms;
            }
        }
        count(l, "salesforceRecords", json_object_array_length(arr));
    }
    return 0;
}

static void rule_free(struct ob_rule *r)
{
    free(r->object);
    for (size_t i = 0; i < r->n_fields; i++)
        free(r->fields[i]);
    free(r->fields);
    free(r->url);
    free(r->org_id);
    free(r->session_id);
}

void fixtures_rules_clear(struct sim *sim)
{
    for (size_t i = 0; i < sim->sf.n_rules; i++)
        rule_free(&sim->sf.rules[i]);
    free(sim->sf.rules);
    sim->sf.rules = NULL;
    sim->sf.n_rules = 0;
}

static int parse_rule(struct sim *sim, json_object *rd, struct ob_rule *r, char *err, size_t errlen)
{
    memset(r, 0, sizeof *r);
    const char *object = json_get_str(rd, "object");
    const char *url = json_get_str(rd, "url");
    json_object *fields = json_get(rd, "fields");
    struct sf_object *o = object ? sf_object_find(sim, object) : NULL;
    if (!o) {
        snprintf(err, errlen, "object %s is not a loaded describe", object ? object : "(missing)");
        return -1;
    }
    if (!url || !(util_starts_with(url, "http://") || util_starts_with(url, "https://"))) {
        snprintf(err, errlen, "url must be an http(s) URL");
        return -1;
    }
    if (!fields || !json_object_is_type(fields, json_type_array)) {
        snprintf(err, errlen, "fields must be an array of field names");
        return -1;
    }
    r->object = xstrdup(o->name);
    r->url = xstrdup(url);
    size_t n = json_object_array_length(fields);
    r->fields = xcalloc(n + 1, sizeof *r->fields);
    for (size_t i = 0; i < n; i++) {
        const char *fname = json_object_get_string(json_object_array_get_idx(fields, i));
        struct sf_field *f = fname ? sf_field_find(o, fname) : NULL;
        if (!f) {
            snprintf(err, errlen, "field %.100s is not on %s", fname ? fname : "(null)", o->name);
            rule_free(r);
            return -1;
        }
        r->fields[r->n_fields++] = xstrdup(f->name);
    }
    const char *org = json_get_str(rd, "orgId");
    const char *session = json_get_str(rd, "sessionId");
    const char *action = json_get_str(rd, "actionId");
    char tmp[19];
    if (org && sf_id_normalize(org, tmp) < 0) {
        snprintf(err, errlen, "orgId must be a 15 or 18 character id");
        rule_free(r);
        return -1;
    }
    r->org_id = xstrdup(org);
    r->session_id = xstrdup(session);
    if (action) {
        if (sf_id_normalize(action, r->action_id) < 0) {
            snprintf(err, errlen, "actionId must be a 15 or 18 character id");
            rule_free(r);
            return -1;
        }
    } else {
        sf_id_generate(sim, "04k", r->action_id);
    }
    const char *skip = json_get_str(rd, "skipWhenLastModifiedBy");
    if (skip && sf_id_normalize(skip, r->skip_user) < 0) {
        snprintf(err, errlen, "skipWhenLastModifiedBy must be a 15 or 18 character user id");
        rule_free(r);
        return -1;
    }
    return 0;
}

static int load_salesforce(struct load *l, json_object *sf, struct ob_rule **rules, size_t *n_rules)
{
    static const char *const keys[] = {"describes", "records",        "clients", "static_tokens",
                                       "users",     "outbound_rules", "session", NULL};
    if (check_keys(sf, "salesforce", keys, l->err, l->errlen) < 0)
        return -1;
    if (!sf)
        return 0;
    int rc = 0;
    json_object *describes = array_or_null(sf, "describes", "salesforce", l->err, l->errlen, &rc);
    json_object *rd = array_or_null(sf, "outbound_rules", "salesforce", l->err, l->errlen, &rc);
    if (rc < 0)
        return -1;
    for (size_t i = 0; describes && i < json_object_array_length(describes); i++) {
        char err[512];
        struct sf_object *o =
            sf_object_from_json(l->sim, json_object_array_get_idx(describes, i), err, sizeof err);
        if (!o || sf_object_install(l->sim, o, err, sizeof err) < 0) {
            sf_object_free(o);
            snprintf(l->err, l->errlen, "salesforce.describes[%zu]: %s", i, err);
            return -1;
        }
    }
    count(l, "salesforceDescribes", describes ? json_object_array_length(describes) : 0);
    json_object *records = json_get(sf, "records");
    if (records && load_sf_records(l, records) < 0)
        return -1;
    if (rd) {
        size_t n = json_object_array_length(rd);
        if (n > MAX_RULES) {
            snprintf(l->err, l->errlen, "at most %d outbound rules", MAX_RULES);
            return -1;
        }
        *rules = xcalloc(n + 1, sizeof **rules);
        for (size_t i = 0; i < n; i++) {
            char err[300];
            if (parse_rule(l->sim, json_object_array_get_idx(rd, i), &(*rules)[i], err,
                           sizeof err) < 0) {
                snprintf(l->err, l->errlen, "salesforce.outbound_rules[%zu]: %s", i, err);
                for (size_t j = 0; j < i; j++)
                    rule_free(&(*rules)[j]);
                free(*rules);
                *rules = NULL;
                return -1;
            }
        }
        *n_rules = n;
    }
    return 0;
}

/* Checks token/client/user lists before anything is applied (they are added after the rest). */
static int check_credentials(json_object *hs, json_object *sf, char *err, size_t errlen)
{
    json_object *lists[] = {json_get(hs, "static_tokens"), json_get(hs, "oauth_clients"),
                            json_get(sf, "clients"), json_get(sf, "static_tokens"),
                            json_get(sf, "users")};
    static const char *const names[] = {"hubspot.static_tokens", "hubspot.oauth_clients",
                                        "salesforce.clients", "salesforce.static_tokens",
                                        "salesforce.users"};
    for (size_t i = 0; i < 5; i++) {
        if (!lists[i])
            continue;
        if (!json_object_is_type(lists[i], json_type_array)) {
            snprintf(err, errlen, "%s must be an array", names[i]);
            return -1;
        }
        for (size_t j = 0; j < json_object_array_length(lists[i]); j++) {
            json_object *v = json_object_array_get_idx(lists[i], j);
            bool ok;
            if (i == 1 || i == 2)
                ok = json_get_str(v, "client_id") && json_get_str(v, "client_secret");
            else if (i == 0)
                ok = json_object_is_type(v, json_type_string) || json_get_str(v, "token");
            else
                ok = json_object_is_type(v, json_type_string) ||
                     (i == 4 && json_get_str(v, "username"));
            if (!ok) {
                snprintf(err, errlen, "%s[%zu] is malformed", names[i], j);
                return -1;
            }
        }
    }
    return 0;
}

static void apply_credentials(struct sim *sim, json_object *hs, json_object *sf)
{
    char err[200];
    json_object *l;
    if ((l = json_get(hs, "static_tokens")))
        for (size_t i = 0; i < json_object_array_length(l); i++)
            hs_static_token_add(sim, json_object_array_get_idx(l, i), err, sizeof err);
    if ((l = json_get(hs, "oauth_clients")))
        for (size_t i = 0; i < json_object_array_length(l); i++)
            hs_client_add(sim, json_object_array_get_idx(l, i), err, sizeof err);
    if ((l = json_get(sf, "clients")))
        for (size_t i = 0; i < json_object_array_length(l); i++)
            sf_client_add(sim, json_object_array_get_idx(l, i), err, sizeof err);
    if ((l = json_get(sf, "static_tokens")))
        for (size_t i = 0; i < json_object_array_length(l); i++)
            sf_static_token_add(sim, json_object_get_string(json_object_array_get_idx(l, i)), err,
                                sizeof err);
    if ((l = json_get(sf, "users")))
        for (size_t i = 0; i < json_object_array_length(l); i++) {
            json_object *u = json_object_array_get_idx(l, i);
            sf_user_add(sim,
                        json_object_is_type(u, json_type_string) ? json_object_get_string(u)
                                                                 : json_get_str(u, "username"),
                        err, sizeof err);
        }
}

static void undo_definitions(struct load *l)
{
    struct sim *sim = l->sim;
    while (sim->hs.n_schemas > l->schemas_before)
        hs_schema_free(sim->hs.schemas[--sim->hs.n_schemas]);
    while (sim->sf.n_objects > l->objects_before)
        sf_object_free(sim->sf.objects[--sim->sf.n_objects]);
    while (sim->hs.n_assoc_types > l->types_before) {
        struct hs_assoc_type *d = &sim->hs.assoc_types[--sim->hs.n_assoc_types];
        free(d->from);
        free(d->to);
        free(d->category);
        free(d->label);
        free(d->name);
    }
}

int fixtures_load(struct sim *sim, json_object *doc, json_object **summary, char *err,
                  size_t errlen)
{
    if (summary)
        *summary = NULL;
    static const char *const top[] = {"config", "hubspot", "salesforce", "deliveries", NULL};
    if (!doc || !json_object_is_type(doc, json_type_object)) {
        snprintf(err, errlen, "fixtures must be a JSON object");
        return -1;
    }
    if (check_keys(doc, "the fixture document", top, err, errlen) < 0)
        return -1;
    json_object *hs = json_get(doc, "hubspot");
    json_object *sf = json_get(doc, "salesforce");
    struct sim_config scratch;
    config_defaults(&scratch);
    json_object *cur = config_to_json(&sim->cfg);
    config_apply_json(&scratch, cur, err, errlen);
    json_object_put(cur);
    json_object *cfg = json_get(doc, "config");
    if ((cfg && config_apply_json(&scratch, cfg, err, errlen) < 0) ||
        check_credentials(hs, sf, err, errlen) < 0) {
        config_free(&scratch);
        return -1;
    }
    struct load l;
    memset(&l, 0, sizeof l);
    l.sim = sim;
    l.err = err;
    l.errlen = errlen;
    l.schemas_before = sim->hs.n_schemas;
    l.objects_before = sim->sf.n_objects;
    l.types_before = sim->hs.n_assoc_types;
    l.summary = json_object_new_object();
    txn_init(&l.t, SRC_UI, 0);
    struct ob_rule *rules = NULL;
    size_t n_rules = 0;
    /* Records created while loading are indexed for search immediately. */
    int64_t saved_delay = sim->cfg.hs_search_delay_ms;
    sim->cfg.hs_search_delay_ms = 0;
    int rc = load_hubspot(&l, hs);
    if (rc == 0)
        rc = load_salesforce(&l, sf, &rules, &n_rules);
    sim->cfg.hs_search_delay_ms = saved_delay;
    if (rc < 0) {
        txn_rollback(sim, &l.t);
        undo_definitions(&l);
        config_free(&scratch);
        json_object_put(l.summary);
        return -1;
    }
    /* Fixture data is history: it produces no webhooks or outbound messages. */
    json_object_put(l.t.events);
    l.t.events = json_object_new_array();
    for (size_t i = 0; i < l.t.n_ob; i++)
        free(l.t.ob[i].object);
    l.t.n_ob = 0;
    txn_commit(sim, &l.t);
    if (cfg) {
        config_free(&sim->cfg);
        sim->cfg = scratch;
        hs_fqn_refresh(sim);
        pthread_cond_broadcast(&sim->cond);
    } else {
        config_free(&scratch);
    }
    apply_credentials(sim, hs, sf);
    if (json_get(sf, "outbound_rules")) {
        deliveries_clear_outbound(sim);
        fixtures_rules_clear(sim);
        sim->sf.rules = rules;
        sim->sf.n_rules = n_rules;
        json_set_int(l.summary, "outboundRules", (int64_t)n_rules);
    }
    if (summary)
        *summary = l.summary;
    else
        json_object_put(l.summary);
    return 0;
}

int fixtures_load_file(struct sim *sim, const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "cannot open fixtures file %s", path);
        return -1;
    }
    struct buf b = {0};
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
        if (b.len + n > MAX_FIXTURE_FILE) {
            fclose(f);
            buf_free(&b);
            snprintf(err, errlen, "fixtures file %s is larger than 64 MiB", path);
            return -1;
        }
        buf_append(&b, chunk, n);
    }
    fclose(f);
    char perr[200];
    json_object *doc = json_parse_buf(b.data ? b.data : "", b.len, NULL, perr, sizeof perr);
    buf_free(&b);
    if (!doc) {
        snprintf(err, errlen, "fixtures file %s: %s", path, perr);
        return -1;
    }
    char lerr[900];
    int rc = fixtures_load(sim, doc, NULL, lerr, sizeof lerr);
    if (rc < 0)
        snprintf(err, errlen, "fixtures file %s: %s", path, lerr);
    json_object_put(doc);
    return rc;
}

json_object *fixtures_dump(struct sim *sim)
{
    json_object *root = json_object_new_object();
    json_object_object_add(root, "config", config_to_json(&sim->cfg));

    json_object *hs = json_object_new_object();
    json_object *schemas = json_object_new_array();
    json_object *hrecords = json_object_new_object();
    for (size_t i = 0; i < sim->hs.n_schemas; i++) {
        struct hs_schema *s = sim->hs.schemas[i];
        json_object_array_add(schemas, hs_schema_render(sim, s));
        json_object *arr = json_object_new_array();
        for (size_t j = 0; j < s->n_records; j++)
            json_object_array_add(
                arr, hs_record_render(s, s->records[j], s->records[j]->props, NULL, HS_RENDER_ALL));
        json_object_object_add(hrecords, s->object_type_id, arr);
    }
    json_object_object_add(hs, "schemas", schemas);
    json_object_object_add(hs, "association_types", hs_assoc_types_dump(sim));
    json_object_object_add(hs, "records", hrecords);
    json_object_object_add(hs, "associations", hs_assoc_dump(sim));
    json_object *tokens = hs_tokens_dump(sim);
    json_object_object_foreach(tokens, tk, tv)
    {
        json_object_object_add(hs, tk, json_object_get(tv));
    }
    json_object_put(tokens);
    json_object_object_add(root, "hubspot", hs);

    json_object *sf = json_object_new_object();
    json_object *describes = json_object_new_array();
    json_object *srecords = json_object_new_object();
    for (size_t i = 0; i < sim->sf.n_objects; i++) {
        struct sf_object *o = sim->sf.objects[i];
        json_object_array_add(describes, json_object_get(o->describe));
        json_object *arr = json_object_new_array();
        for (size_t j = 0; j < o->n_records; j++)
            json_object_array_add(arr, sf_record_render(o, o->records[j], NULL, "v58.0"));
        json_object_object_add(srecords, o->name, arr);
    }
    json_object_object_add(sf, "describes", describes);
    json_object_object_add(sf, "records", srecords);
    json_object *rules = json_object_new_array();
    for (size_t i = 0; i < sim->sf.n_rules; i++) {
        struct ob_rule *r = &sim->sf.rules[i];
        json_object *o = json_object_new_object();
        json_set_str(o, "object", r->object);
        json_object *fl = json_object_new_array();
        for (size_t j = 0; j < r->n_fields; j++)
            json_object_array_add(fl, json_object_new_string(r->fields[j]));
        json_object_object_add(o, "fields", fl);
        json_set_str(o, "url", r->url);
        if (r->org_id)
            json_set_str(o, "orgId", r->org_id);
        if (r->session_id)
            json_set_str(o, "sessionId", r->session_id);
        json_set_str(o, "actionId", r->action_id);
        if (r->skip_user[0])
            json_set_str(o, "skipWhenLastModifiedBy", r->skip_user);
        json_object_array_add(rules, o);
    }
    json_object_object_add(sf, "outbound_rules", rules);
    json_object *st = json_object_new_array();
    for (size_t i = 0; i < sim->sf.n_static_tokens; i++)
        json_object_array_add(st, json_object_new_string(sim->sf.static_tokens[i]));
    json_object_object_add(sf, "static_tokens", st);
    json_object *session = sf_tokens_dump(sim);
    json_object_object_add(sf, "clients", json_object_get(json_get(session, "clients")));
    json_object_object_add(sf, "users", json_object_get(json_get(session, "users")));
    json_object_object_del(session, "clients");
    json_object_object_del(session, "users");
    json_set_int(session, "api_used", sim->sf.api_used);
    json_object_object_add(sf, "session", session);
    json_object_object_add(root, "salesforce", sf);
    json_object_object_add(root, "deliveries", deliveries_to_json(sim));
    return root;
}
