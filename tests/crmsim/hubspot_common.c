/* hubspot_common.c: HubSpot error bodies, object-type resolution, record rendering and batch
 * envelopes.
 *
 * Error bodies follow HubSpot's shape: {"status":"error","message","correlationId","category",
 * "errors":[{"message","code","context":{"propertyName":[..]}}],"context"}; property validation
 * messages embed the list HubSpot puts in "Property values were not valid: [...]". */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/crmsim/hubspot.h"

void hs_correlation_id(char *out)
{
    util_uuid(out);
}

void hs_verr_init(struct hs_verr *e)
{
    memset(e, 0, sizeof *e);
}

void hs_verr_free(struct hs_verr *e)
{
    json_object_put(e->errors);
    json_object_put(e->invalid);
    json_object_put(e->context);
    memset(e, 0, sizeof *e);
}

static json_object *name_list(const char *name)
{
    json_object *a = json_object_new_array();
    json_object_array_add(a, json_object_new_string(name));
    return a;
}

void hs_verr_detail(struct hs_verr *e, const char *code, const char *property, const char *message)
{
    if (!e->errors)
        e->errors = json_object_new_array();
    json_object *d = json_object_new_object();
    json_set_str(d, "message", message);
    json_set_str(d, "code", code);
    if (property) {
        json_object *ctx = json_object_new_object();
        json_object_object_add(ctx, "propertyName", name_list(property));
        json_object_object_add(d, "context", ctx);
    }
    json_object_array_add(e->errors, d);
}

void hs_verr_property(struct hs_verr *e, int status, const char *code, const char *property,
                      const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (!e->status || status == 400) {
        e->status = status;
        snprintf(e->category, sizeof e->category, "%s",
                 status == 409 ? "CONFLICT" : "VALIDATION_ERROR");
    }
    hs_verr_detail(e, code, property, msg);
    if (!e->invalid)
        e->invalid = json_object_new_array();
    json_object *inv = json_object_new_object();
    json_set_bool(inv, "isValid", false);
    json_set_str(inv, "message", msg);
    json_set_str(inv, "error", code);
    json_set_str(inv, "name", property);
    json_set_str(inv, "localizedErrorMessage", msg);
    json_object_array_add(e->invalid, inv);
}

void hs_verr_set(struct hs_verr *e, int status, const char *category, const char *fmt, ...)
{
    e->status = status;
    snprintf(e->category, sizeof e->category, "%s", category);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->message, sizeof e->message, fmt, ap);
    va_end(ap);
}

static void verr_message(const struct hs_verr *e, char *out, size_t outlen)
{
    if (e->message[0]) {
        snprintf(out, outlen, "%s", e->message);
        return;
    }
    char *inner = e->invalid ? json_to_heap(e->invalid, NULL) : xstrdup("[]");
    snprintf(out, outlen, "Property values were not valid: %s", inner);
    free(inner);
}

void hs_verr_respond(struct hs_verr *e, struct http_resp *resp)
{
    char msg[4096];
    verr_message(e, msg, sizeof msg);
    hs_error(resp, e->status ? e->status : 400, e->category[0] ? e->category : "VALIDATION_ERROR",
             msg, json_object_get(e->errors), json_object_get(e->context));
}

json_object *hs_verr_batch_error(const struct hs_verr *e, const char *trace_id)
{
    char msg[4096];
    verr_message(e, msg, sizeof msg);
    json_object *o = json_object_new_object();
    json_set_str(o, "status", "error");
    json_set_str(o, "category", e->category[0] ? e->category : "VALIDATION_ERROR");
    json_set_str(o, "message", msg);
    json_object *ctx = e->context ? json_object_get(e->context) : json_object_new_object();
    if (trace_id)
        json_object_object_add(ctx, "objectWriteTraceId", name_list(trace_id));
    json_object_object_add(o, "context", ctx);
    if (e->errors)
        json_object_object_add(o, "errors", json_object_get(e->errors));
    return o;
}

void hs_error(struct http_resp *resp, int status, const char *category, const char *message,
              json_object *errors, json_object *context)
{
    char cid[40];
    hs_correlation_id(cid);
    json_object *o = json_object_new_object();
    json_set_str(o, "status", "error");
    json_set_str(o, "message", message);
    json_set_str(o, "correlationId", cid);
    json_set_str(o, "category", category);
    if (errors)
        json_object_object_add(o, "errors", errors);
    if (context)
        json_object_object_add(o, "context", context);
    http_resp_json(resp, status, o);
}

void hs_errorf(struct http_resp *resp, int status, const char *category, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    hs_error(resp, status, category, msg, NULL, NULL);
}

struct hs_schema *hs_schema_resolve(struct sim *sim, const char *type)
{
    if (!type || !*type)
        return NULL;
    for (size_t i = 0; i < sim->hs.n_schemas; i++) {
        struct hs_schema *s = sim->hs.schemas[i];
        if (strcmp(s->object_type_id, type) == 0 || util_streq_ci(s->fqn, type))
            return s;
    }
    for (size_t i = 0; i < sim->hs.n_schemas; i++) {
        struct hs_schema *s = sim->hs.schemas[i];
        if (util_starts_with(s->object_type_id, "0-") && util_streq_ci(s->name, type))
            return s;
    }
    return NULL;
}

struct hs_schema *hs_schema_require(struct sim *sim, const char *type, struct http_resp *resp)
{
    struct hs_schema *s = hs_schema_resolve(sim, type);
    if (!s)
        hs_errorf(resp, 400, "VALIDATION_ERROR", "Unable to infer object type from: %.200s", type);
    return s;
}

struct hs_property *hs_schema_prop(struct hs_schema *s, const char *name)
{
    for (size_t i = 0; i < s->n_props; i++) {
        if (strcmp(s->props[i].name, name) == 0)
            return &s->props[i];
    }
    return NULL;
}

struct hs_record *hs_record_find_by_prop(struct hs_schema *s, const char *prop, const char *value)
{
    if (hs_unique_prop(s, prop)) { /* indexed: the live holder with the lowest id */
        size_t n = 0;
        struct hs_record *const *c = hs_unique_candidates(s, prop, value, &n);
        struct hs_record *best = NULL;
        for (size_t i = 0; i < n; i++) {
            const char *v = c[i]->archived ? NULL : json_get_str(c[i]->props, prop);
            if (v && strcmp(v, value) == 0 && (!best || hs_id_cmp(c[i]->id, best->id) < 0))
                best = c[i];
        }
        return best;
    }
    for (size_t i = 0; i < s->n_records; i++) {
        struct hs_record *r = s->records[i];
        if (r->archived)
            continue;
        const char *v = json_get_str(r->props, prop);
        if (v && strcmp(v, value) == 0)
            return r;
    }
    return NULL;
}

json_object *hs_properties_param(const struct http_req *req, const char *name)
{
    json_object *out = NULL;
    for (size_t i = 0; i < req->query.n; i++) {
        if (strcmp(req->query.items[i].key, name) != 0)
            continue;
        json_object *parts = json_split_list(req->query.items[i].value, ',');
        if (!out)
            out = json_object_new_array();
        for (size_t j = 0; j < json_object_array_length(parts); j++)
            json_object_array_add(out, json_object_get(json_object_array_get_idx(parts, j)));
        json_object_put(parts);
    }
    return out;
}

static const char *const system_props[] = {"hs_createdate", "hs_lastmodifieddate", "hs_object_id"};

json_object *hs_record_render(struct hs_schema *s, struct hs_record *rec, json_object *props,
                              json_object *wanted, enum hs_render_mode mode)
{
    json_object *o = json_object_new_object();
    json_set_str(o, "id", rec->id);
    json_object *p = json_object_new_object();
    if (mode == HS_RENDER_ALL && !wanted) {
        json_object_object_foreach(props, key, val)
        {
            json_object_object_add(p, key, json_object_get(val));
        }
    }
    if (wanted && json_object_is_type(wanted, json_type_array)) {
        for (size_t i = 0; i < json_object_array_length(wanted); i++) {
            const char *name = json_object_get_string(json_object_array_get_idx(wanted, i));
            if (!name || !hs_schema_prop(s, name))
                continue;
            json_object *v = json_get(props, name);
            json_object_object_add(p, name, v ? json_object_get(v) : NULL);
        }
    }
    for (size_t i = 0; i < sizeof system_props / sizeof system_props[0]; i++) {
        json_object *v = json_get(props, system_props[i]);
        json_object_object_add(p, system_props[i], v ? json_object_get(v) : NULL);
    }
    json_object_object_add(o, "properties", p);
    char ts[40];
    util_fmt_iso_ms(rec->created_ms, ts, sizeof ts);
    json_set_str(o, "createdAt", ts);
    util_fmt_iso_ms(rec->updated_ms, ts, sizeof ts);
    json_set_str(o, "updatedAt", ts);
    json_set_bool(o, "archived", rec->archived);
    if (rec->archived) {
        util_fmt_iso_ms(rec->archived_ms, ts, sizeof ts);
        json_set_str(o, "archivedAt", ts);
    }
    return o;
}

json_object *hs_batch_envelope(json_object *results, json_object *errors, int64_t started_ms)
{
    json_object *o = json_object_new_object();
    json_set_str(o, "status", "COMPLETE");
    json_object_object_add(o, "results", results);
    if (errors && json_object_array_length(errors) > 0) {
        json_set_int(o, "numErrors", (int64_t)json_object_array_length(errors));
        json_object_object_add(o, "errors", errors);
    } else {
        json_object_put(errors);
    }
    char ts[40];
    util_fmt_iso_ms(started_ms, ts, sizeof ts);
    json_set_str(o, "startedAt", ts);
    util_fmt_iso_ms(util_now_ms(), ts, sizeof ts);
    json_set_str(o, "completedAt", ts);
    return o;
}

void hs_fqn_refresh(struct sim *sim)
{
    for (size_t i = 0; i < sim->hs.n_schemas; i++) {
        struct hs_schema *s = sim->hs.schemas[i];
        if (!s->fqn_auto)
            continue;
        char buf[300];
        snprintf(buf, sizeof buf, "p%lld_%s", (long long)sim->cfg.hs_portal_id, s->name);
        free(s->fqn);
        s->fqn = xstrdup(buf);
    }
}

int hs_body_json(struct http_req *req, struct http_resp *resp, json_object **out)
{
    char err[256];
    *out = http_req_json(req, err, sizeof err);
    if (!*out) {
        hs_errorf(resp, 400, "VALIDATION_ERROR", "Invalid input JSON: %s", err);
        return -1;
    }
    if (!json_object_is_type(*out, json_type_object)) {
        json_object_put(*out);
        *out = NULL;
        hs_errorf(resp, 400, "VALIDATION_ERROR", "Invalid input JSON: expected an object");
        return -1;
    }
    return 0;
}

int hs_body_inputs(struct http_req *req, struct http_resp *resp, size_t max, json_object **body,
                   json_object **inputs)
{
    if (hs_body_json(req, resp, body) < 0)
        return -1;
    *inputs = json_get(*body, "inputs");
    if (!*inputs || !json_object_is_type(*inputs, json_type_array)) {
        hs_errorf(resp, 400, "VALIDATION_ERROR", "Invalid input JSON: \"inputs\" must be an array");
        json_object_put(*body);
        *body = NULL;
        return -1;
    }
    size_t n = json_object_array_length(*inputs);
    if (n > max) {
        hs_errorf(resp, 400, "VALIDATION_ERROR",
                  "Batch input limit exceeded: %zu inputs were provided, the limit is %zu", n, max);
        json_object_put(*body);
        *body = NULL;
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        if (!json_object_is_type(json_object_array_get_idx(*inputs, i), json_type_object)) {
            hs_errorf(resp, 400, "VALIDATION_ERROR",
                      "Invalid input JSON: inputs[%zu] must be an object", i);
            json_object_put(*body);
            *body = NULL;
            return -1;
        }
    }
    return 0;
}
