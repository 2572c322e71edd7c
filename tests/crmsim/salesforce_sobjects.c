/* salesforce_sobjects.c: the Salesforce sObject REST routes under /services/data/vNN.0/: versions,
 * limits, global describe, sObject info, describe (If-Modified-Since → 304), create, read
 * (?fields=), update (If-Unmodified-Since → 412), delete (soft: the record keeps IsDeleted and a
 * deletedDate), read/upsert/delete by external id (201 created / 200 or 204 updated / 300 several
 * matches), and updated/deleted windows.
 *
 * Errors are Salesforce arrays [{"message","errorCode","fields"}]: unknown object or record → 404
 * NOT_FOUND, malformed id in a write path → 400 MALFORMED_ID, deleted record on write → 404
 * ENTITY_IS_DELETED. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/crmsim/salesforce.h"

static const char *version_of(const struct http_req *req)
{
    return req->caller.sf_version[0] ? req->caller.sf_version : "v58.0";
}

void sf_route_versions(struct sim *sim, struct http_req *req, struct http_resp *resp)
{
    static const char *const versions[][2] = {{"Winter '23", "56.0"}, {"Spring '23", "57.0"},
                                              {"Summer '23", "58.0"}, {"Winter '24", "59.0"},
                                              {"Spring '24", "60.0"}, {"Summer '24", "61.0"},
                                              {"Winter '25", "62.0"}};
    json_object *arr = json_object_new_array();
    for (size_t i = 0; i < sizeof versions / sizeof versions[0]; i++) {
        json_object *o = json_object_new_object();
        json_set_str(o, "label", versions[i][0]);
        char url[64];
        snprintf(url, sizeof url, "/services/data/v%s", versions[i][1]);
        json_set_str(o, "url", url);
        json_set_str(o, "version", versions[i][1]);
        json_object_array_add(arr, o);
    }
    http_resp_json(resp, 200, arr);
}

void sf_route_limits(struct sim *sim, struct http_req *req, struct http_resp *resp)
{
    json_object *o = json_object_new_object();
    json_object *d = json_object_new_object();
    json_set_int(d, "Max", sim->cfg.sf_api_usage_max);
    json_set_int(d, "Remaining", sim->cfg.sf_api_usage_max - sim->sf.api_used);
    json_object_object_add(o, "DailyApiRequests", d);
    http_resp_json(resp, 200, o);
}

static json_object *object_summary(struct sf_object *o, const char *version)
{
    json_object *s = json_object_new_object();
    static const char *const keys[] = {"name",      "label",        "labelPlural", "keyPrefix",
                                       "custom",    "createable",   "updateable",  "deletable",
                                       "queryable", "retrieveable", "searchable",  "replicateable"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        json_object *v = json_get(o->describe, keys[i]);
        json_object_object_add(s, keys[i], v ? json_object_get(v) : NULL);
    }
    json_object *urls = json_object_new_object();
    char buf[300];
    snprintf(buf, sizeof buf, "/services/data/%s/sobjects/%s", version, o->name);
    json_set_str(urls, "sobject", buf);
    snprintf(buf, sizeof buf, "/services/data/%s/sobjects/%s/describe", version, o->name);
    json_set_str(urls, "describe", buf);
    snprintf(buf, sizeof buf, "/services/data/%s/sobjects/%s/{ID}", version, o->name);
    json_set_str(urls, "rowTemplate", buf);
    json_object_object_add(s, "urls", urls);
    return s;
}

void sf_route_global_describe(struct sim *sim, struct http_req *req, struct http_resp *resp)
{
    json_object *o = json_object_new_object();
    json_set_str(o, "encoding", "UTF-8");
    json_set_int(o, "maxBatchSize", SF_COLLECTION_MAX);
    json_object *arr = json_object_new_array();
    for (size_t i = 0; i < sim->sf.n_objects; i++)
        json_object_array_add(arr, object_summary(sim->sf.objects[i], version_of(req)));
    json_object_object_add(o, "sobjects", arr);
    http_resp_json(resp, 200, o);
}

void sf_route_sobject_info(struct sim *sim, struct http_req *req, struct http_resp *resp)
{
    struct sf_object *o = sf_object_require(sim, http_param(req, 0), resp);
    if (!o)
        return;
    json_object *out = json_object_new_object();
    json_object_object_add(out, "objectDescribe", object_summary(o, version_of(req)));
    json_object_object_add(out, "recentItems", json_object_new_array());
    http_resp_json(resp, 200, out);
}

void sf_route_describe(struct sim *sim, struct http_req *req, struct http_resp *resp)
{
    struct sf_object *o = sf_object_require(sim, http_param(req, 0), resp);
    if (!o)
        return;
    char lm[64];
    sf_http_date_format(o->describe_ms, lm, sizeof lm);
    http_resp_header(resp, "Last-Modified", lm);
    int64_t since;
    const char *ims = kvlist_get_ci(&req->headers, "If-Modified-Since");
    if (ims && sf_http_date_parse(ims, &since) == 0 && o->describe_ms <= since) {
        http_resp_empty(resp, 304);
        return;
    }
    http_resp_json(resp, 200, sf_describe_render(sim, o, version_of(req)));
}

static int body_object(struct http_req *req, struct http_resp *resp, json_object **out)
{
    char err[256];
    *out = http_req_json(req, err, sizeof err);
    if (!*out || !json_object_is_type(*out, json_type_object)) {
        json_object_put(*out);
        *out = NULL;
        sf_errorf(resp, 400, "JSON_PARSER_ERROR", "%s", err[0] ? err : "expected a JSON object");
        return -1;
    }
    return 0;
}

static json_object *save_result(const char *id, bool created_field, bool created)
{
    json_object *o = json_object_new_object();
    json_set_str(o, "id", id);
    json_set_bool(o, "success", true);
    json_object_object_add(o, "errors", json_object_new_array());
    if (created_field)
        json_set_bool(o, "created", created);
    return o;
}

void sf_route_create(struct sim *sim, struct http_req *req, struct http_resp *resp)
{
    struct sf_object *o = sf_object_require(sim, http_param(req, 0), resp);
    if (!o)
        return;
    json_object *body;
    if (body_object(req, resp, &body) < 0)
        return;
    struct sf_err e;
    sf_err_init(&e);
    json_object *changes = sf_validate_fields(sim, o, body, true, NULL, NULL, &e);
    struct txn t;
    txn_init(&t, SRC_INTEGRATION, 0);
    struct sf_record *rec = changes ? sf_write_create(sim, &t, o, changes, &e) : NULL;
    if (!rec) {
        txn_rollback(sim, &t);
        sf_err_respond(&e, resp);
    } else {
        http_resp_json(resp, 201, save_result(rec->id, false, false));
        txn_commit(sim, &t);
    }
    json_object_put(changes);
    json_object_put(body);
    sf_err_free(&e);
}

/* ?fields=a,b resolved to canonical names; NULL for all; -1 (answered) on an unknown field. */
static int fields_param(struct sf_object *o, struct http_req *req, struct http_resp *resp,
                        json_object **out)
{
    *out = NULL;
    const char *fs = kvlist_get(&req->query, "fields");
    if (!fs)
        return 0;
    json_object *list = json_split_list(fs, ',');
    for (size_t i = 0; i < json_object_array_length(list); i++) {
        const char *name = json_object_get_string(json_object_array_get_idx(list, i));
        if (!sf_field_find(o, name)) {
            sf_errorf(
                resp, 400, "INVALID_FIELD",
                "No such column '%.100s' on entity '%s'. If you are attempting to use a custom "
                "field, be sure to append the '__c' after the custom field name.",
                name, o->name);
            json_object_put(list);
            return -1;
        }
    }
    *out = list;
    return 0;
}

/* Finds the record of a path id for reads: 404 NOT_FOUND unless present and not deleted. */
static struct sf_record *read_target(struct sf_object *o, const char *id, struct http_resp *resp)
{
    struct sf_record *rec = sf_record_find(o, id);
    if (!rec || rec->deleted || strncmp(rec->id, o->key_prefix, 3) != 0) {
        sf_error(resp, 404, "NOT_FOUND", "The requested resource does not exist");
        return NULL;
    }
    return rec;
}

/* Finds the record of a path id for writes: MALFORMED_ID, NOT_FOUND or ENTITY_IS_DELETED. */
static struct sf_record *write_target(struct sf_object *o, const char *id, struct http_resp *resp)
{
    char id18[19];
    if (sf_id_normalize(id, id18) < 0) {
        sf_errorf(resp, 400, "MALFORMED_ID", "%s ID: id value of incorrect type: %.100s", o->name,
                  id);
        return NULL;
    }
    struct sf_record *rec = hmap_get(&o->by_id, id18);
    if (!rec) {
        sf_error(resp, 404, "NOT_FOUND", "The requested resource does not exist");
        return NULL;
    }
    if (rec->deleted) {
        sf_error(resp, 404, "ENTITY_IS_DELETED", "entity is deleted");
        return NULL;
    }
    return rec;
}

void sf_route_get(struct sim *sim, struct http_req *req, struct http_resp *resp)
{
    struct sf_object *o = sf_object_require(sim, http_param(req, 0), resp);
    if (!o)
        return;
    const char *id = http_param(req, 1);
    char id18[19];
    if (sf_id_normalize(id, id18) < 0) {
        sf_errorf(resp, 404, "NOT_FOUND",
                  "Provided external ID field does not exist or is not accessible: %.100s", id);
        return;
    }
    struct sf_record *rec = read_target(o, id, resp);
    if (!rec)
        return;
    json_object *fields;
    if (fields_param(o, req, resp, &fields) < 0)
        return;
    http_resp_json(resp, 200, sf_record_render(o, rec, fields, version_of(req)));
    json_object_put(fields);
}

static int check_unmodified_since(struct http_req *req, struct sf_record *rec,
                                  struct http_resp *resp)
{
    const char *ius = kvlist_get_ci(&req->headers, "If-Unmodified-Since");
    int64_t since;
    if (ius && sf_http_date_parse(ius, &since) == 0 && rec->modified_ms / 1000 > since / 1000) {
        sf_error(resp, 412, "PRECONDITION_FAILED",
                 "The requested resource has been modified since the If-Unmodified-Since date");
        return -1;
    }
    return 0;
}

void sf_route_update(struct sim *sim, struct http_req *req, struct http_resp *resp)
{
    struct sf_object *o = sf_object_require(sim, http_param(req, 0), resp);
    if (!o)
        return;
    struct sf_record *rec = write_target(o, http_param(req, 1), resp);
    if (!rec || check_unmodified_since(req, rec, resp) < 0)
        return;
    json_object *body;
    if (body_object(req, resp, &body) < 0)
        return;
    struct sf_err e;
    sf_err_init(&e);
    json_object *changes = sf_validate_fields(sim, o, body, false, rec, NULL, &e);
    if (!changes) {
        sf_err_respond(&e, resp);
    } else {
        struct txn t;
        txn_init(&t, SRC_INTEGRATION, 0);
        sf_write_update(sim, &t, o, rec, changes);
        txn_commit(sim, &t);
        http_resp_empty(resp, 204);
    }
    json_object_put(changes);
    json_object_put(body);
    sf_err_free(&e);
}

void sf_route_delete(struct sim *sim, struct http_req *req, struct http_resp *resp)
{
    struct sf_object *o = sf_object_require(sim, http_param(req, 0), resp);
    if (!o)
        return;
    struct sf_record *rec = write_target(o, http_param(req, 1), resp);
    if (!rec)
        return;
    struct txn t;
    txn_init(&t, SRC_INTEGRATION, 0);
    sf_write_delete(sim, &t, o, rec);
    txn_commit(sim, &t);
    http_resp_empty(resp, 204);
}

/* Resolves the external id field of a by-key path; 404 when it is not an external id (or Id). */
static struct sf_field *key_field(struct sf_object *o, const char *name, struct http_resp *resp)
{
    struct sf_field *f = sf_field_find(o, name);
    if (!f || !(f->external_id || strcmp(f->name, "Id") == 0)) {
        sf_errorf(resp, 404, "NOT_FOUND",
                  "Provided external ID field does not exist or is not accessible: %.100s", name);
        return NULL;
    }
    return f;
}

static void multiple_choices(struct sf_object *o, struct sf_record **matches, size_t n,
                             const char *version, struct http_resp *resp)
{
    json_object *arr = json_object_new_array();
    for (size_t i = 0; i < n; i++) {
        char url[300];
        snprintf(url, sizeof url, "/services/data/%s/sobjects/%s/%s", version, o->name,
                 matches[i]->id);
        json_object_array_add(arr, json_object_new_string(url));
    }
    http_resp_json(resp, 300, arr);
}

void sf_route_get_by_key(struct sim *sim, struct http_req *req, struct http_resp *resp)
{
    struct sf_object *o = sf_object_require(sim, http_param(req, 0), resp);
    if (!o)
        return;
    struct sf_field *f = key_field(o, http_param(req, 1), resp);
    if (!f)
        return;
    struct sf_record **matches;
    size_t n = sf_records_matching(o, f, http_param(req, 2), &matches);
    if (n == 0) {
        sf_error(resp, 404, "NOT_FOUND", "The requested resource does not exist");
    } else if (n > 1) {
        multiple_choices(o, matches, n, version_of(req), resp);
    } else {
        json_object *fields;
        if (fields_param(o, req, resp, &fields) == 0) {
            http_resp_json(resp, 200, sf_record_render(o, matches[0], fields, version_of(req)));
            json_object_put(fields);
        }
    }
    free(matches);
}

void sf_route_upsert(struct sim *sim, struct http_req *req, struct http_resp *resp)
{
    struct sf_object *o = sf_object_require(sim, http_param(req, 0), resp);
    if (!o)
        return;
    struct sf_field *f = key_field(o, http_param(req, 1), resp);
    if (!f)
        return;
    const char *value = http_param(req, 2);
    json_object *body;
    if (body_object(req, resp, &body) < 0)
        return;
    if (json_get(body, f->name) || json_get(body, "Id")) {
        sf_errorf(resp, 400, "INVALID_FIELD",
                  "The request body must not contain Id or the external ID field %s when upserting "
                  "by external ID",
                  f->name);
        json_object_put(body);
        return;
    }
    struct sf_record **matches;
    size_t n = sf_records_matching(o, f, value, &matches);
    struct sf_err e;
    sf_err_init(&e);
    struct txn t;
    txn_init(&t, SRC_INTEGRATION, 0);
    if (n > 1) {
        multiple_choices(o, matches, n, version_of(req), resp);
    } else if (n == 1) {
        json_object *changes = sf_validate_fields(sim, o, body, false, matches[0], NULL, &e);
        if (!changes) {
            sf_err_respond(&e, resp);
        } else {
            sf_write_update(sim, &t, o, matches[0], changes);
            if (req->caller.sf_version_major >= 46)
                http_resp_json(resp, 200, save_result(matches[0]->id, true, false));
            else
                http_resp_empty(resp, 204);
            json_object_put(changes);
        }
    } else if (strcmp(f->name, "Id") == 0) {
        sf_error(resp, 404, "NOT_FOUND", "The requested resource does not exist");
    } else {
        json_object *key = sf_coerce_key(f, value);
        if (!key) {
            sf_errorf(resp, 400, "JSON_PARSER_ERROR", "%.100s is not a valid value for %s", value,
                      f->name);
        } else {
            json_object *with_key = NULL;
            json_object_deep_copy(body, &with_key, NULL);
            json_object_object_add(with_key, f->name, key);
            /* The key field may be non-createable in theory; validate it as part of the body. */
            json_object *changes = sf_validate_fields(sim, o, with_key, true, NULL, NULL, &e);
            struct sf_record *rec = changes ? sf_write_create(sim, &t, o, changes, &e) : NULL;
            if (rec)
                http_resp_json(resp, 201, save_result(rec->id, true, true));
            else
                sf_err_respond(&e, resp);
            json_object_put(changes);
            json_object_put(with_key);
        }
    }
    if (e.status)
        txn_rollback(sim, &t);
    else
        txn_commit(sim, &t);
    free(matches);
    sf_err_free(&e);
    json_object_put(body);
}

void sf_route_delete_by_key(struct sim *sim, struct http_req *req, struct http_resp *resp)
{
    struct sf_object *o = sf_object_require(sim, http_param(req, 0), resp);
    if (!o)
        return;
    struct sf_field *f = key_field(o, http_param(req, 1), resp);
    if (!f)
        return;
    struct sf_record **matches;
    size_t n = sf_records_matching(o, f, http_param(req, 2), &matches);
    if (n == 0) {
        sf_error(resp, 404, "NOT_FOUND", "The requested resource does not exist");
    } else if (n > 1) {
        multiple_choices(o, matches, n, version_of(req), resp);
    } else {
        struct txn t;
        txn_init(&t, SRC_INTEGRATION, 0);
        sf_write_delete(sim, &t, o, matches[0]);
        txn_commit(sim, &t);
        http_resp_empty(resp, 204);
    }
    free(matches);
}

/* Parses ?start/&end; '+' decoded as a space (clients that forget to escape it) is restored. */
static int window_param(struct http_req *req, const char *name, int64_t *ms)
{
    const char *v = kvlist_get(&req->query, name);
    if (!v)
        return -1;
    if (util_parse_datetime(v, ms) == 0)
        return 0;
    char fixed[64];
    snprintf(fixed, sizeof fixed, "%s", v);
    for (char *p = fixed; *p; p++) {
        if (*p == ' ')
            *p = '+';
    }
    return util_parse_datetime(fixed, ms);
}

static int parse_window(struct http_req *req, struct http_resp *resp, int max_days, int64_t *start,
                        int64_t *end)
{
    if (!kvlist_get(&req->query, "start") || !kvlist_get(&req->query, "end")) {
        sf_error(resp, 400, "MISSING_ARGUMENT", "start and end parameters are required");
        return -1;
    }
    if (window_param(req, "start", start) < 0 || window_param(req, "end", end) < 0) {
        sf_error(resp, 400, "INVALID_REPLICATION_DATE",
                 "start and end must be ISO 8601 date-times (e.g. 2024-05-02T11:00:00Z)");
        return -1;
    }
    int64_t now = util_now_ms();
    if (*start > *end) {
        sf_error(resp, 400, "INVALID_REPLICATION_DATE", "startDate must be before endDate");
        return -1;
    }
    if (*start < now - (int64_t)max_days * 86400000) {
        sf_errorf(resp, 400, "INVALID_REPLICATION_DATE",
                  "startDate cannot be more than %d days ago", max_days);
        return -1;
    }
    if (*end > now)
        *end = now;
    return 0;
}

void sf_route_updated(struct sim *sim, struct http_req *req, struct http_resp *resp)
{
    struct sf_object *o = sf_object_require(sim, http_param(req, 0), resp);
    if (!o)
        return;
    int64_t start, end;
    if (parse_window(req, resp, SF_UPDATED_MAX_DAYS, &start, &end) < 0)
        return;
    json_object *ids = json_object_new_array();
    for (size_t i = 0; i < o->n_records; i++) {
        struct sf_record *r = o->records[i];
        if (!r->deleted && r->modstamp_ms >= start && r->modstamp_ms <= end)
            json_object_array_add(ids, json_object_new_string(r->id));
    }
    json_object *out = json_object_new_object();
    json_object_object_add(out, "ids", ids);
    char ts[40];
    util_fmt_sf_datetime(end, ts, sizeof ts);
    json_set_str(out, "latestDateCovered", ts);
    http_resp_json(resp, 200, out);
}

void sf_route_deleted(struct sim *sim, struct http_req *req, struct http_resp *resp)
{
    struct sf_object *o = sf_object_require(sim, http_param(req, 0), resp);
    if (!o)
        return;
    int64_t start, end;
    if (parse_window(req, resp, SF_DELETED_MAX_DAYS, &start, &end) < 0)
        return;
    json_object *recs = json_object_new_array();
    char ts[40];
    for (size_t i = 0; i < o->n_records; i++) {
        struct sf_record *r = o->records[i];
        if (r->deleted && r->deleted_ms >= start && r->deleted_ms <= end) {
            json_object *d = json_object_new_object();
            json_set_str(d, "id", r->id);
            util_fmt_sf_datetime(r->deleted_ms, ts, sizeof ts);
            json_set_str(d, "deletedDate", ts);
            json_object_array_add(recs, d);
        }
    }
    json_object *out = json_object_new_object();
    json_object_object_add(out, "deletedRecords", recs);
    util_fmt_sf_datetime(util_now_ms() - (int64_t)SF_DELETED_MAX_DAYS * 86400000, ts, sizeof ts);
    json_set_str(out, "earliestDateAvailable", ts);
    util_fmt_sf_datetime(end, ts, sizeof ts);
    json_set_str(out, "latestDateCovered", ts);
    http_resp_json(resp, 200, out);
}
