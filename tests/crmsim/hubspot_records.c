/* hubspot_records.c: HubSpot record validation and writes, and the single-record routes
 * (GET/POST/PATCH/DELETE /crm/v3/objects/{type}[/{id}], list, merge).
 *
 * Validation mirrors HubSpot: unknown property → PROPERTY_DOESNT_EXIST, read-only →
 * READ_ONLY_VALUE, bad enumeration value → INVALID_OPTION, bad number/bool/date/datetime →
 * INVALID_INTEGER/INVALID_BOOLEAN/ INVALID_DATE/INVALID_DATETIME (all 400 VALIDATION_ERROR),
 * missing required property on create → 400, unique value already used → 409 CONFLICT. Values are
 * stored as HubSpot returns them: strings, dates as YYYY-MM-DD, datetimes as ISO 8601 with
 * milliseconds; an empty string clears a value. Writes go through a txn so batches can be rolled
 * back; every write emits webhook events into the txn. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/crmsim/hubspot.h"
#include "tests/crmsim/webhooks.h"

/* ---- value normalisation ---- */

static char *value_text(json_object *v)
{
    if (!v || json_object_is_type(v, json_type_null))
        return xstrdup("");
    if (json_object_is_type(v, json_type_string))
        return xstrndup(json_object_get_string(v), (size_t)json_object_get_string_len(v));
    if (json_object_is_type(v, json_type_boolean))
        return xstrdup(json_object_get_boolean(v) ? "true" : "false");
    if (json_object_is_type(v, json_type_int) || json_object_is_type(v, json_type_double))
        return xstrdup(json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN));
    return NULL;
}

static void options_list(const struct hs_property *p, char *out, size_t outlen)
{
    size_t o = 0;
    out[0] = '\0';
    for (size_t i = 0; i < p->n_options && o + 1 < outlen; i++) {
        int n = snprintf(out + o, outlen - o, "%s%s", i ? ", " : "", p->options[i].value);
        if (n < 0)
            break;
        o += (size_t)n;
    }
}

static bool option_ok(const struct hs_property *p, const char *v, size_t len)
{
    for (size_t i = 0; i < p->n_options; i++) {
        if (strlen(p->options[i].value) == len && strncmp(p->options[i].value, v, len) == 0)
            return true;
    }
    return false;
}

/* Normalises one value of property p; returns a heap string ("" clears) or NULL with e filled. */
static char *normalize_value(const struct hs_property *p, json_object *v, struct hs_verr *e)
{
    char *text = value_text(v);
    if (!text) {
        hs_verr_property(e, 400, "INVALID_PROPERTY_VALUE", p->name,
                         "Property \"%s\" must be a string, number or boolean", p->name);
        return NULL;
    }
    if (!*text)
        return text;
    const char *t = p->type;
    if (strcmp(t, "number") == 0) {
        double d;
        if (util_parse_double(text, &d) < 0) {
            hs_verr_property(e, 400, "INVALID_INTEGER", p->name, "%.200s was not a valid number.",
                             text);
            free(text);
            return NULL;
        }
    } else if (strcmp(t, "bool") == 0) {
        if (util_streq_ci(text, "true") || util_streq_ci(text, "false")) {
            char *norm = xstrdup(util_streq_ci(text, "true") ? "true" : "false");
            free(text);
            return norm;
        }
        hs_verr_property(e, 400, "INVALID_BOOLEAN", p->name, "%.200s was not a valid boolean.",
                         text);
        free(text);
        return NULL;
    } else if (strcmp(t, "enumeration") == 0) {
        bool multi = strcmp(p->field_type, "checkbox") == 0;
        const char *s = text;
        bool ok = true;
        while (ok) {
            const char *semi = multi ? strchr(s, ';') : NULL;
            size_t n = semi ? (size_t)(semi - s) : strlen(s);
            ok = option_ok(p, s, n);
            if (!semi)
                break;
            s = semi + 1;
        }
        if (!ok) {
            char opts[1024];
            options_list(p, opts, sizeof opts);
            hs_verr_property(e, 400, "INVALID_OPTION", p->name,
                             "%.200s was not one of the allowed options: [%s]", text, opts);
            free(text);
            return NULL;
        }
    } else if (strcmp(t, "date") == 0) {
        int64_t ms;
        bool ok = util_parse_date(text, &ms) == 0 ||
                  (util_parse_int64(text, &ms) == 0 && ms % 86400000 == 0);
        if (!ok) {
            hs_verr_property(
                e, 400, "INVALID_DATE", p->name,
                "%.200s is not a valid date. Dates must be YYYY-MM-DD or a UTC midnight "
                "timestamp in milliseconds.",
                text);
            free(text);
            return NULL;
        }
        char buf[16];
        util_fmt_date(ms, buf, sizeof buf);
        free(text);
        return xstrdup(buf);
    } else if (strcmp(t, "datetime") == 0) {
        int64_t ms;
        if (util_parse_datetime(text, &ms) < 0 && util_parse_date(text, &ms) < 0 &&
            util_parse_int64(text, &ms) < 0) {
            hs_verr_property(
                e, 400, "INVALID_DATETIME", p->name,
                "%.200s is not a valid datetime. Use ISO 8601 or milliseconds since the "
                "epoch.",
                text);
            free(text);
            return NULL;
        }
        char buf[40];
        util_fmt_iso_ms(ms, buf, sizeof buf);
        free(text);
        return xstrdup(buf);
    }
    return text;
}

/* The live record other than except holding value of unique property prop (the schema's
 * unique-value index, store.c, names the candidates). */
static struct hs_record *unique_holder(struct hs_schema *s, const char *prop, const char *value,
                                       const struct hs_record *except)
{
    size_t n = 0;
    struct hs_record *const *c = hs_unique_candidates(s, prop, value, &n);
    for (size_t i = 0; i < n; i++) {
        if (c[i] == except || c[i]->archived)
            continue;
        const char *v = json_get_str(c[i]->props, prop);
        if (v && strcmp(v, value) == 0)
            return c[i];
    }
    return NULL;
}

json_object *hs_validate_props(struct sim *sim, struct hs_schema *s, json_object *props,
                               bool is_create, struct hs_record *rec, struct hs_verr *e)
{
    if (props && !json_object_is_type(props, json_type_object)) {
        hs_verr_set(e, 400, "VALIDATION_ERROR",
                    "Invalid input JSON: \"properties\" must be an object");
        return NULL;
    }
    json_object *changes = json_object_new_object();
    if (props) {
        json_object_object_foreach(props, key, val)
        {
            struct hs_property *p = hs_schema_prop(s, key);
            if (!p) {
                hs_verr_property(e, 400, "PROPERTY_DOESNT_EXIST", key,
                                 "Property \"%.200s\" does not exist", key);
                continue;
            }
            if (p->read_only) {
                hs_verr_property(e, 400, "READ_ONLY_VALUE", key,
                                 "\"%.200s\" is a read only property; its value cannot be set.",
                                 key);
                continue;
            }
            char *norm = normalize_value(p, val, e);
            if (norm) {
                json_set_str(changes, key, norm);
                free(norm);
            }
        }
    }
    if (e->status) {
        json_object_put(changes);
        return NULL;
    }
    json_object *missing = json_object_new_array();
    for (size_t i = 0; i < s->n_required; i++) {
        const char *name = s->required[i];
        const char *nv = json_get_str(changes, name);
        bool present;
        if (nv)
            present = *nv != '\0';
        else
            present = !is_create; /* an update only fails when it clears the value */
        if (!present)
            json_object_array_add(missing, json_object_new_string(name));
    }
    if (json_object_array_length(missing) > 0) {
        hs_verr_set(e, 400, "VALIDATION_ERROR", "Some required properties were not set.");
        for (size_t i = 0; i < json_object_array_length(missing); i++) {
            const char *name = json_object_get_string(json_object_array_get_idx(missing, i));
            char msg[300];
            snprintf(msg, sizeof msg, "Required property \"%s\" is missing", name);
            hs_verr_detail(e, "REQUIRED_PROPERTY", name, msg);
        }
        e->context = json_object_new_object();
        json_object_object_add(e->context, "properties", missing);
        json_object_put(changes);
        return NULL;
    }
    json_object_put(missing);
    json_object_object_foreach(changes, ckey, cval)
    {
        struct hs_property *p = hs_schema_prop(s, ckey);
        const char *v = json_object_get_string(cval);
        if (!p->unique || !*v)
            continue;
        struct hs_record *other = unique_holder(s, ckey, v, rec);
        if (other) {
            hs_verr_set(e, 409, "CONFLICT",
                        "Property \"%.200s\" must be unique: value \"%.200s\" is already used. "
                        "Existing ID: %s",
                        ckey, v, other->id);
            char msg[600];
            snprintf(msg, sizeof msg, "Value \"%.200s\" of unique property \"%.200s\" exists on %s",
                     v, ckey, other->id);
            hs_verr_detail(e, "CONFLICT", ckey, msg);
            e->context = json_object_new_object();
            json_object *ids = json_object_new_array();
            json_object_array_add(ids, json_object_new_string(other->id));
            json_object_object_add(e->context, "existingIds", ids);
            json_object_put(changes);
            return NULL;
        }
    }
    return changes;
}

/* ---- search index ---- */

void hs_index_touch(struct sim *sim, struct hs_record *rec, int64_t now_ms)
{
    if (sim->cfg.hs_search_delay_ms <= 0) {
        json_object_put(rec->index_props);
        rec->index_props = json_object_get(rec->props);
        rec->index_archived = rec->archived;
        rec->index_due_ms = 0;
    } else {
        rec->index_due_ms = now_ms + sim->cfg.hs_search_delay_ms;
    }
}

void hs_index_catch_up(struct sim *sim, struct hs_schema *s, int64_t now_ms)
{
    for (size_t i = 0; i < s->n_records; i++) {
        struct hs_record *r = s->records[i];
        if (r->index_due_ms && r->index_due_ms <= now_ms) {
            json_object_put(r->index_props);
            r->index_props = json_object_get(r->props);
            r->index_archived = r->archived;
            r->index_due_ms = 0;
        }
    }
}

/* ---- writes ---- */

static void emit(struct sim *sim, struct txn *t, struct hs_schema *s, const char *type,
                 const char *id, int64_t now)
{
    txn_event(t, webhook_event_new(sim, t, type, s->object_type_id, id, now));
}

static void emit_property(struct sim *sim, struct txn *t, struct hs_schema *s, const char *id,
                          const char *prop, const char *value, int64_t now)
{
    if (util_starts_with(prop, "hs_"))
        return;
    json_object *ev =
        webhook_event_new(sim, t, "object.propertyChange", s->object_type_id, id, now);
    webhook_event_set_property(ev, prop, value);
    txn_event(t, ev);
}

static void set_system_props(json_object *props, const struct hs_record *rec)
{
    char ts[40];
    json_set_str(props, "hs_object_id", rec->id);
    util_fmt_iso_ms(rec->created_ms, ts, sizeof ts);
    json_set_str(props, "hs_createdate", ts);
    util_fmt_iso_ms(rec->updated_ms, ts, sizeof ts);
    json_set_str(props, "hs_lastmodifieddate", ts);
}

struct hs_record *hs_write_create(struct sim *sim, struct txn *t, struct hs_schema *s,
                                  json_object *changes, json_object *associations, const char *id,
                                  struct hs_verr *e)
{
    if ((int64_t)sim->hs.total_records >= sim->cfg.max_records) {
        hs_verr_set(e, 400, "VALIDATION_ERROR",
                    "Record limit reached: crmsim holds max_records=%lld HubSpot records",
                    (long long)sim->cfg.max_records);
        return NULL;
    }
    char *new_id = id ? xstrdup(id) : hs_id_next(sim);
    if (hs_record_find(s, new_id)) {
        hs_verr_set(e, 409, "CONFLICT", "A record with id %s already exists", new_id);
        free(new_id);
        return NULL;
    }
    struct hs_record *rec = hs_record_new(new_id);
    free(new_id);
    int64_t now = util_now_ms();
    rec->created_ms = rec->updated_ms = now;
    json_object_object_foreach(changes, key, val)
    {
        if (json_object_get_string_len(val) > 0)
            json_object_object_add(rec->props, key, json_object_get(val));
    }
    set_system_props(rec->props, rec);
    hs_records_insert(sim, s, rec);
    txn_hs_created(t, s, rec);
    hs_index_touch(sim, rec, now);
    if (associations && hs_assoc_add_inputs(sim, t, s, rec->id, associations, e) < 0)
        return NULL;
    emit(sim, t, s, "object.creation", rec->id, now);
    if (sim->cfg.hs_property_events_on_create) {
        json_object_object_foreach(rec->props, pkey, pval)
        {
            emit_property(sim, t, s, rec->id, pkey, json_object_get_string(pval), now);
        }
    }
    return rec;
}

void hs_write_update(struct sim *sim, struct txn *t, struct hs_schema *s, struct hs_record *rec,
                     json_object *changes)
{
    json_object *next = NULL;
    json_object_deep_copy(rec->props, &next, NULL);
    json_object *changed = json_object_new_array();
    json_object_object_foreach(changes, key, val)
    {
        const char *nv = json_object_get_string(val);
        const char *ov = json_get_str(rec->props, key);
        if (!*nv) {
            if (ov) {
                json_object_object_del(next, key);
                json_object_array_add(changed, json_object_new_string(key));
            }
        } else if (!ov || strcmp(ov, nv) != 0) {
            json_object_object_add(next, key, json_object_get(val));
            json_object_array_add(changed, json_object_new_string(key));
        }
    }
    if (json_object_array_length(changed) == 0) {
        json_object_put(next);
        json_object_put(changed);
        return;
    }
    txn_hs_snapshot(t, s, rec);
    int64_t now = util_now_ms();
    rec->updated_ms = now > rec->updated_ms ? now : rec->updated_ms + 1;
    set_system_props(next, rec);
    json_object_put(rec->props);
    rec->props = next;
    hs_unique_note(s, rec);
    hs_index_touch(sim, rec, now);
    for (size_t i = 0; i < json_object_array_length(changed); i++) {
        const char *name = json_object_get_string(json_object_array_get_idx(changed, i));
        const char *v = json_get_str(rec->props, name);
        emit_property(sim, t, s, rec->id, name, v ? v : "", now);
    }
    json_object_put(changed);
}

void hs_write_archive(struct sim *sim, struct txn *t, struct hs_schema *s, struct hs_record *rec)
{
    txn_hs_snapshot(t, s, rec);
    int64_t now = util_now_ms();
    rec->archived = true;
    rec->archived_ms = now;
    hs_index_touch(sim, rec, now);
    emit(sim, t, s, "object.deletion", rec->id, now);
}

void hs_write_restore(struct sim *sim, struct txn *t, struct hs_schema *s, struct hs_record *rec)
{
    txn_hs_snapshot(t, s, rec);
    int64_t now = util_now_ms();
    rec->archived = false;
    rec->archived_ms = 0;
    rec->updated_ms = now;
    json_object *next = NULL;
    json_object_deep_copy(rec->props, &next, NULL);
    set_system_props(next, rec);
    json_object_put(rec->props);
    rec->props = next;
    hs_index_touch(sim, rec, now);
    emit(sim, t, s, "object.restore", rec->id, now);
}

void hs_write_merge(struct sim *sim, struct txn *t, struct hs_schema *s, struct hs_record *winner,
                    struct hs_record *loser)
{
    txn_hs_snapshot(t, s, winner);
    txn_hs_snapshot(t, s, loser);
    int64_t now = util_now_ms();
    json_object *next = NULL;
    json_object_deep_copy(winner->props, &next, NULL);
    json_object_object_foreach(loser->props, key, val)
    {
        if (!util_starts_with(key, "hs_") && !json_get(next, key))
            json_object_object_add(next, key, json_object_get(val));
    }
    winner->updated_ms = now;
    set_system_props(next, winner);
    json_object_put(winner->props);
    winner->props = next;
    hs_unique_note(s, winner);
    loser->archived = true;
    loser->archived_ms = now;
    hs_index_touch(sim, winner, now);
    hs_index_touch(sim, loser, now);
    for (size_t i = 0; i < sim->hs.n_assocs; i++) {
        struct hs_assoc *a = &sim->hs.assocs[i];
        if (strcmp(a->from_type, s->object_type_id) == 0 && strcmp(a->from_id, loser->id) == 0) {
            free(a->from_id);
            a->from_id = xstrdup(winner->id);
        }
        if (strcmp(a->to_type, s->object_type_id) == 0 && strcmp(a->to_id, loser->id) == 0) {
            free(a->to_id);
            a->to_id = xstrdup(winner->id);
        }
    }
    json_object *ev = webhook_event_new(sim, t, "object.merge", s->object_type_id, winner->id, now);
    json_object_object_add(ev, "primaryObjectId", json_object_get(json_get(ev, "objectId")));
    json_object *merged = json_object_new_array();
    int64_t lid;
    if (util_parse_int64(loser->id, &lid) == 0)
        json_object_array_add(merged, json_object_new_int64(lid));
    else
        json_object_array_add(merged, json_object_new_string(loser->id));
    json_object_object_add(ev, "mergedObjectIds", merged);
    json_object_object_add(ev, "newObjectId", json_object_get(json_get(ev, "objectId")));
    txn_event(t, ev);
}

/* ---- lookups ---- */

struct hs_record *hs_lookup(struct sim *sim, struct hs_schema *s, const char *id,
                            const char *id_property, bool archived, struct http_resp *resp)
{
    struct hs_record *rec = NULL;
    if (id_property && *id_property && strcmp(id_property, "hs_object_id") != 0) {
        struct hs_property *p = hs_schema_prop(s, id_property);
        if (!p) {
            hs_errorf(resp, 400, "VALIDATION_ERROR", "Property \"%.200s\" does not exist",
                      id_property);
            return NULL;
        }
        if (!p->unique) {
            hs_errorf(resp, 400, "VALIDATION_ERROR",
                      "Property \"%.200s\" is not a unique property (hasUniqueValue is false)",
                      id_property);
            return NULL;
        }
        rec = hs_record_find_by_prop(s, id_property, id);
    } else {
        rec = hs_record_find(s, id);
        if (rec && rec->archived != archived)
            rec = NULL;
    }
    if (!rec)
        hs_errorf(resp, 404, "OBJECT_NOT_FOUND", "resource not found");
    return rec;
}

static bool query_bool(const struct http_req *req, const char *name)
{
    const char *v = kvlist_get(&req->query, name);
    return v && util_streq_ci(v, "true");
}

/* ---- routes ---- */

void hs_route_get(struct sim *sim, struct http_req *req, struct http_resp *resp)
{
    struct hs_schema *s = hs_schema_require(sim, http_param(req, 0), resp);
    if (!s)
        return;
    struct hs_record *rec =
        hs_lookup(sim, s, http_param(req, 1), kvlist_get(&req->query, "idProperty"),
                  query_bool(req, "archived"), resp);
    if (!rec)
        return;
    json_object *wanted = hs_properties_param(req, "properties");
    json_object *o = hs_record_render(s, rec, rec->props, wanted, HS_RENDER_DEFAULT);
    json_object_put(wanted);
    json_object *types = hs_properties_param(req, "associations");
    json_object *assoc = hs_assoc_render_v3(sim, s, rec, types);
    json_object_put(types);
    if (assoc)
        json_object_object_add(o, "associations", assoc);
    http_resp_json(resp, 200, o);
}

void hs_route_list(struct sim *sim, struct http_req *req, struct http_resp *resp)
{
    struct hs_schema *s = hs_schema_require(sim, http_param(req, 0), resp);
    if (!s)
        return;
    int64_t limit = 10;
    const char *ls = kvlist_get(&req->query, "limit");
    if (ls && (util_parse_int64(ls, &limit) < 0 || limit < 1)) {
        hs_errorf(resp, 400, "VALIDATION_ERROR", "limit must be a positive integer");
        return;
    }
    if (limit > 100)
        limit = 100;
    const char *after = kvlist_get(&req->query, "after");
    bool archived = query_bool(req, "archived");
    json_object *wanted = hs_properties_param(req, "properties");
    json_object *types = hs_properties_param(req, "associations");
    json_object *results = json_object_new_array();
    const char *next = NULL;
    for (size_t i = 0; i < s->n_records; i++) {
        struct hs_record *r = s->records[i];
        if (r->archived != archived)
            continue;
        if (after && *after && hs_id_cmp(r->id, after) < 0)
            continue;
        if ((int64_t)json_object_array_length(results) >= limit) {
            next = r->id;
            break;
        }
        json_object *o = hs_record_render(s, r, r->props, wanted, HS_RENDER_DEFAULT);
        json_object *assoc = hs_assoc_render_v3(sim, s, r, types);
        if (assoc)
            json_object_object_add(o, "associations", assoc);
        json_object_array_add(results, o);
    }
    json_object_put(wanted);
    json_object_put(types);
    json_object *out = json_object_new_object();
    json_object_object_add(out, "results", results);
    if (next) {
        json_object *paging = json_object_new_object();
        json_object *n = json_object_new_object();
        json_set_str(n, "after", next);
        char link[128];
        snprintf(link, sizeof link, "?after=%s", next);
        json_set_str(n, "link", link);
        json_object_object_add(paging, "next", n);
        json_object_object_add(out, "paging", paging);
    }
    http_resp_json(resp, 200, out);
}

void hs_route_create(struct sim *sim, struct http_req *req, struct http_resp *resp)
{
    struct hs_schema *s = hs_schema_require(sim, http_param(req, 0), resp);
    if (!s)
        return;
    json_object *body;
    if (hs_body_json(req, resp, &body) < 0)
        return;
    struct hs_verr e;
    hs_verr_init(&e);
    struct txn t;
    txn_init(&t, SRC_INTEGRATION, req->caller.app_id);
    json_object *changes = hs_validate_props(sim, s, json_get(body, "properties"), true, NULL, &e);
    struct hs_record *rec = NULL;
    if (changes)
        rec = hs_write_create(sim, &t, s, changes, json_get(body, "associations"), NULL, &e);
    if (!rec) {
        txn_rollback(sim, &t);
        hs_verr_respond(&e, resp);
    } else {
        http_resp_json(resp, 201, hs_record_render(s, rec, rec->props, NULL, HS_RENDER_ALL));
        txn_commit(sim, &t);
    }
    json_object_put(changes);
    json_object_put(body);
    hs_verr_free(&e);
}

void hs_route_update(struct sim *sim, struct http_req *req, struct http_resp *resp)
{
    struct hs_schema *s = hs_schema_require(sim, http_param(req, 0), resp);
    if (!s)
        return;
    struct hs_record *rec =
        hs_lookup(sim, s, http_param(req, 1), kvlist_get(&req->query, "idProperty"), false, resp);
    if (!rec)
        return;
    json_object *body;
    if (hs_body_json(req, resp, &body) < 0)
        return;
    struct hs_verr e;
    hs_verr_init(&e);
    json_object *changes = hs_validate_props(sim, s, json_get(body, "properties"), false, rec, &e);
    if (!changes) {
        hs_verr_respond(&e, resp);
    } else {
        struct txn t;
        txn_init(&t, SRC_INTEGRATION, req->caller.app_id);
        hs_write_update(sim, &t, s, rec, changes);
        http_resp_json(resp, 200, hs_record_render(s, rec, rec->props, NULL, HS_RENDER_ALL));
        txn_commit(sim, &t);
    }
    json_object_put(changes);
    json_object_put(body);
    hs_verr_free(&e);
}

void hs_route_archive(struct sim *sim, struct http_req *req, struct http_resp *resp)
{
    struct hs_schema *s = hs_schema_require(sim, http_param(req, 0), resp);
    if (!s)
        return;
    struct hs_record *rec = hs_lookup(sim, s, http_param(req, 1), NULL, false, resp);
    if (!rec)
        return;
    struct txn t;
    txn_init(&t, SRC_INTEGRATION, req->caller.app_id);
    hs_write_archive(sim, &t, s, rec);
    txn_commit(sim, &t);
    http_resp_empty(resp, 204);
}

void hs_route_merge(struct sim *sim, struct http_req *req, struct http_resp *resp)
{
    struct hs_schema *s = hs_schema_require(sim, http_param(req, 0), resp);
    if (!s)
        return;
    json_object *body;
    if (hs_body_json(req, resp, &body) < 0)
        return;
    const char *primary = json_get_str(body, "primaryObjectId");
    const char *other = json_get_str(body, "objectIdToMerge");
    if (!primary || !other || strcmp(primary, other) == 0) {
        hs_errorf(resp, 400, "VALIDATION_ERROR",
                  "primaryObjectId and objectIdToMerge must be two different record ids");
        json_object_put(body);
        return;
    }
    struct hs_record *w = hs_lookup(sim, s, primary, NULL, false, resp);
    struct hs_record *l = w ? hs_lookup(sim, s, other, NULL, false, resp) : NULL;
    if (w && l) {
        struct txn t;
        txn_init(&t, SRC_INTEGRATION, req->caller.app_id);
        hs_write_merge(sim, &t, s, w, l);
        txn_commit(sim, &t);
        http_resp_json(resp, 200, hs_record_render(s, w, w->props, NULL, HS_RENDER_ALL));
    }
    json_object_put(body);
}
