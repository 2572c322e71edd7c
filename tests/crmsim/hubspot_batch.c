/* hubspot_batch.c: HubSpot batch record routes: /batch/read, /batch/create, /batch/update,
 * /batch/upsert and /batch/archive under /crm/v3/objects/{type}.
 *
 * At most 100 inputs (400 VALIDATION_ERROR beyond). Write batches are all-or-nothing unless every
 * input carries a unique objectWriteTraceId: then each input is its own transaction and failures
 * come back as per-input errors with HTTP 207 (HubSpot's multi-status mode). Missing records are
 * never all-or-nothing, as with HubSpot: reads report missing ids as one OBJECT_NOT_FOUND error
 * listing context.ids with 207 (404 with that error as the body when no id was found), updates
 * likewise with 207 while the other inputs are applied. Archive ignores unknown ids and answers
 * 204. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/crmsim/hubspot.h"

/* True when every input has a distinct, non-empty objectWriteTraceId. */
static bool all_traced(json_object *inputs)
{
    size_t n = json_object_array_length(inputs);
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++) {
        const char *t = json_get_str(json_object_array_get_idx(inputs, i), "objectWriteTraceId");
        if (!t || !*t)
            return false;
        for (size_t j = 0; j < i; j++) {
            const char *u =
                json_get_str(json_object_array_get_idx(inputs, j), "objectWriteTraceId");
            if (strcmp(t, u) == 0)
                return false;
        }
    }
    return true;
}

static const char *trace_of(json_object *input)
{
    return json_get_str(input, "objectWriteTraceId");
}

static json_object *render_result(struct hs_schema *s, struct hs_record *rec, json_object *input,
                                  json_object *wanted)
{
    json_object *o = hs_record_render(s, rec, rec->props, wanted, HS_RENDER_ALL);
    const char *trace = trace_of(input);
    if (trace)
        json_set_str(o, "objectWriteTraceId", trace);
    return o;
}

/* Rejects batches naming the same record twice (HubSpot answers 400 for those). */
static int check_duplicate_ids(json_object *inputs, struct http_resp *resp)
{
    size_t n = json_object_array_length(inputs);
    for (size_t i = 0; i < n; i++) {
        const char *a = json_get_str(json_object_array_get_idx(inputs, i), "id");
        for (size_t j = 0; a && j < i; j++) {
            const char *b = json_get_str(json_object_array_get_idx(inputs, j), "id");
            if (b && strcmp(a, b) == 0) {
                hs_errorf(resp, 400, "VALIDATION_ERROR",
                          "Duplicate IDs found in batch input: [%.200s]", a);
                return -1;
            }
        }
    }
    return 0;
}

static void not_found_message(const struct hs_schema *s, char *msg, size_t len)
{
    snprintf(msg, len,
             "Could not get some %s objects, they may be deleted or not exist. Check that ids are "
             "valid.",
             s->name);
}

/* HubSpot's batch error for records that do not exist: {status, category OBJECT_NOT_FOUND,
 * message, context: {ids}} (takes ids). */
static json_object *not_found_error(const struct hs_schema *s, json_object *ids)
{
    json_object *e = json_object_new_object();
    json_set_str(e, "status", "error");
    json_set_str(e, "category", "OBJECT_NOT_FOUND");
    char msg[400];
    not_found_message(s, msg, sizeof msg);
    json_set_str(e, "message", msg);
    json_object *ctx = json_object_new_object();
    json_object_object_add(ctx, "ids", ids);
    json_object_object_add(e, "context", ctx);
    return e;
}

void hs_route_batch_read(struct sim *sim, struct http_req *req, struct http_resp *resp)
{
    struct hs_schema *s = hs_schema_require(sim, http_param(req, 0), resp);
    if (!s)
        return;
    json_object *body, *inputs;
    if (hs_body_inputs(req, resp, HS_BATCH_MAX, &body, &inputs) < 0)
        return;
    int64_t started = util_now_ms();
    const char *id_prop = json_get_str(body, "idProperty");
    if (id_prop && *id_prop && strcmp(id_prop, "hs_object_id") != 0) {
        struct hs_property *p = hs_schema_prop(s, id_prop);
        if (!p || !p->unique) {
            hs_errorf(resp, 400, "VALIDATION_ERROR",
                      "idProperty \"%.200s\" is not a property with unique values", id_prop);
            json_object_put(body);
            return;
        }
    } else {
        id_prop = NULL;
    }
    json_object *archived_v = json_get(body, "archived");
    bool archived = archived_v && json_object_get_boolean(archived_v);
    json_object *wanted = json_get(body, "properties");
    json_object *results = json_object_new_array();
    json_object *missing = json_object_new_array();
    for (size_t i = 0; i < json_object_array_length(inputs); i++) {
        const char *id = json_get_str(json_object_array_get_idx(inputs, i), "id");
        if (!id) {
            json_object_array_add(missing, json_object_new_string(""));
            continue;
        }
        struct hs_record *rec =
            id_prop ? hs_record_find_by_prop(s, id_prop, id) : hs_record_find(s, id);
        if (rec && rec->archived != archived)
            rec = NULL;
        if (!rec) {
            json_object_array_add(missing, json_object_new_string(id));
            continue;
        }
        json_object_array_add(results,
                              hs_record_render(s, rec, rec->props, wanted, HS_RENDER_DEFAULT));
    }
    size_t nmissing = json_object_array_length(missing);
    if (nmissing > 0 && json_object_array_length(results) == 0) {
        /* nothing found: HubSpot answers the call itself with 404 */
        char msg[400];
        not_found_message(s, msg, sizeof msg);
        json_object *ctx = json_object_new_object();
        json_object_object_add(ctx, "ids", missing);
        hs_error(resp, 404, "OBJECT_NOT_FOUND", msg, NULL, ctx);
        json_object_put(results);
        json_object_put(body);
        return;
    }
    json_object *errors = json_object_new_array();
    if (nmissing > 0)
        json_object_array_add(errors, not_found_error(s, missing));
    else
        json_object_put(missing);
    int status = json_object_array_length(errors) ? 207 : 200;
    http_resp_json(resp, status, hs_batch_envelope(results, errors, started));
    json_object_put(body);
}

/* Outcome of one write input: a record, or an error in e. */
typedef struct hs_record *(*input_fn)(struct sim *sim, struct txn *t, struct hs_schema *s,
                                      json_object *input, struct hs_verr *e, bool *is_new);

static struct hs_record *input_create(struct sim *sim, struct txn *t, struct hs_schema *s,
                                      json_object *input, struct hs_verr *e, bool *is_new)
{
    json_object *changes = hs_validate_props(sim, s, json_get(input, "properties"), true, NULL, e);
    if (!changes)
        return NULL;
    struct hs_record *rec =
        hs_write_create(sim, t, s, changes, json_get(input, "associations"), NULL, e);
    json_object_put(changes);
    *is_new = true;
    return rec;
}

static struct hs_record *input_update(struct sim *sim, struct txn *t, struct hs_schema *s,
                                      json_object *input, struct hs_verr *e, bool *is_new)
{
    const char *id = json_get_str(input, "id");
    const char *id_prop = json_get_str(input, "idProperty");
    struct hs_record *rec = NULL;
    if (!id) {
        hs_verr_set(e, 400, "VALIDATION_ERROR", "Every input needs an \"id\"");
        return NULL;
    }
    if (id_prop && *id_prop && strcmp(id_prop, "hs_object_id") != 0) {
        struct hs_property *p = hs_schema_prop(s, id_prop);
        if (!p || !p->unique) {
            hs_verr_set(e, 400, "VALIDATION_ERROR",
                        "idProperty \"%.200s\" is not a property with unique values", id_prop);
            return NULL;
        }
        rec = hs_record_find_by_prop(s, id_prop, id);
    } else {
        rec = hs_record_find(s, id);
        if (rec && rec->archived)
            rec = NULL;
    }
    if (!rec) {
        hs_verr_set(e, 404, "OBJECT_NOT_FOUND",
                    "Could not get some %s objects, they may be deleted or not exist. Check that "
                    "ids are valid.",
                    s->name);
        e->context = json_object_new_object();
        json_object *ids = json_object_new_array();
        json_object_array_add(ids, json_object_new_string(id));
        json_object_object_add(e->context, "ids", ids);
        return NULL;
    }
    json_object *changes = hs_validate_props(sim, s, json_get(input, "properties"), false, rec, e);
    if (!changes)
        return NULL;
    hs_write_update(sim, t, s, rec, changes);
    json_object_put(changes);
    *is_new = false;
    return rec;
}

static struct hs_record *input_upsert(struct sim *sim, struct txn *t, struct hs_schema *s,
                                      json_object *input, struct hs_verr *e, bool *is_new)
{
    const char *id = json_get_str(input, "id");
    const char *id_prop = json_get_str(input, "idProperty");
    if (!id || !*id || !id_prop || !*id_prop) {
        hs_verr_set(e, 400, "VALIDATION_ERROR",
                    "Every upsert input needs \"id\" and \"idProperty\"");
        return NULL;
    }
    struct hs_property *p = hs_schema_prop(s, id_prop);
    if (!p || !p->unique) {
        hs_verr_set(e, 400, "VALIDATION_ERROR",
                    "idProperty \"%.200s\" must be a property with hasUniqueValue: true", id_prop);
        return NULL;
    }
    struct hs_record *rec = hs_record_find_by_prop(s, id_prop, id);
    json_object *props = json_get(input, "properties");
    if (rec) {
        json_object *changes = hs_validate_props(sim, s, props, false, rec, e);
        if (!changes)
            return NULL;
        hs_write_update(sim, t, s, rec, changes);
        json_object_put(changes);
        *is_new = false;
        return rec;
    }
    json_object *with_id = NULL;
    if (props && json_object_is_type(props, json_type_object))
        json_object_deep_copy(props, &with_id, NULL);
    else if (!props)
        with_id = json_object_new_object();
    else
        with_id = json_object_get(props); /* not an object: validation reports it */
    if (json_object_is_type(with_id, json_type_object))
        json_set_str(with_id, id_prop, id);
    json_object *changes = hs_validate_props(sim, s, with_id, true, NULL, e);
    json_object_put(with_id);
    if (!changes)
        return NULL;
    rec = hs_write_create(sim, t, s, changes, NULL, NULL, e);
    json_object_put(changes);
    *is_new = true;
    return rec;
}

static void run_write_batch(struct sim *sim, struct http_req *req, struct http_resp *resp,
                            input_fn fn, int ok_status, bool report_new, bool unique_ids)
{
    struct hs_schema *s = hs_schema_require(sim, http_param(req, 0), resp);
    if (!s)
        return;
    json_object *body, *inputs;
    if (hs_body_inputs(req, resp, HS_BATCH_MAX, &body, &inputs) < 0)
        return;
    if (unique_ids && check_duplicate_ids(inputs, resp) < 0) {
        json_object_put(body);
        return;
    }
    int64_t started = util_now_ms();
    bool traced = all_traced(inputs);
    json_object *results = json_object_new_array();
    json_object *errors = json_object_new_array();
    json_object *missing = json_object_new_array(); /* untraced: ids of records not found */
    struct txn whole;
    txn_init(&whole, SRC_INTEGRATION, req->caller.app_id);
    size_t n = json_object_array_length(inputs);
    for (size_t i = 0; i < n; i++) {
        json_object *input = json_object_array_get_idx(inputs, i);
        struct txn one;
        struct txn *t = &whole;
        if (traced) {
            txn_init(&one, SRC_INTEGRATION, req->caller.app_id);
            t = &one;
        }
        struct hs_verr e;
        hs_verr_init(&e);
        bool is_new = false;
        struct hs_record *rec = fn(sim, t, s, input, &e, &is_new);
        if (!rec && !traced && e.status == 404) {
            /* a record that is gone fails alone, also without trace ids */
            json_object_array_add(missing, json_object_new_string(json_get_str(input, "id")));
        } else if (!rec) {
            if (!traced) {
                txn_rollback(sim, &whole);
                hs_verr_respond(&e, resp);
                hs_verr_free(&e);
                json_object_put(results);
                json_object_put(errors);
                json_object_put(missing);
                json_object_put(body);
                return;
            }
            txn_rollback(sim, &one);
            json_object_array_add(errors, hs_verr_batch_error(&e, trace_of(input)));
        } else {
            json_object *r = render_result(s, rec, input, NULL);
            if (report_new)
                json_set_bool(r, "new", is_new);
            json_object_array_add(results, r);
            if (traced)
                txn_commit(sim, &one);
        }
        hs_verr_free(&e);
    }
    txn_commit(sim, &whole);
    if (json_object_array_length(missing) > 0)
        json_object_array_add(errors, not_found_error(s, missing));
    else
        json_object_put(missing);
    int status = json_object_array_length(errors) ? 207 : ok_status;
    http_resp_json(resp, status, hs_batch_envelope(results, errors, started));
    json_object_put(body);
}

void hs_route_batch_create(struct sim *sim, struct http_req *req, struct http_resp *resp)
{
    run_write_batch(sim, req, resp, input_create, 201, false, false);
}

void hs_route_batch_update(struct sim *sim, struct http_req *req, struct http_resp *resp)
{
    run_write_batch(sim, req, resp, input_update, 200, false, true);
}

void hs_route_batch_upsert(struct sim *sim, struct http_req *req, struct http_resp *resp)
{
    run_write_batch(sim, req, resp, input_upsert, 200, true, true);
}

void hs_route_batch_archive(struct sim *sim, struct http_req *req, struct http_resp *resp)
{
    struct hs_schema *s = hs_schema_require(sim, http_param(req, 0), resp);
    if (!s)
        return;
    json_object *body, *inputs;
    if (hs_body_inputs(req, resp, HS_BATCH_MAX, &body, &inputs) < 0)
        return;
    struct txn t;
    txn_init(&t, SRC_INTEGRATION, req->caller.app_id);
    for (size_t i = 0; i < json_object_array_length(inputs); i++) {
        const char *id = json_get_str(json_object_array_get_idx(inputs, i), "id");
        struct hs_record *rec = id ? hs_record_find(s, id) : NULL;
        if (rec && !rec->archived)
            hs_write_archive(sim, &t, s, rec);
    }
    txn_commit(sim, &t);
    http_resp_empty(resp, 204);
    json_object_put(body);
}
