/* salesforce_collections.c: sObject Collections: POST/PATCH/DELETE composite/sobjects and
 * PATCH composite/sobjects/{T}/{ExternalIdField}.
 *
 * At most 200 records; results come back in request order with HTTP 200 even when records fail.
 * With allOrNone every change is made in one transaction: one failure rolls everything back and
 * every other record reports ALL_OR_NONE_OPERATION_ROLLED_BACK. Without it each record is its own
 * transaction. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/crmsim/salesforce.h"

struct coll {
    bool all_or_none;
    json_object *results; /* array, one per record */
    bool *failed;
    bool *created; /* the record was inserted: a rollback takes its id away */
    size_t n;
    struct txn whole;
};

static json_object *ok_result(const char *id, bool with_created, bool created)
{
    json_object *o = json_object_new_object();
    json_set_str(o, "id", id);
    json_set_bool(o, "success", true);
    json_object_object_add(o, "errors", json_object_new_array());
    if (with_created)
        json_set_bool(o, "created", created);
    return o;
}

static json_object *fail_result(const char *id, const struct sf_err *e)
{
    json_object *o = json_object_new_object();
    if (id)
        json_set_str(o, "id", id);
    json_set_bool(o, "success", false);
    json_object *errs = json_object_new_array();
    json_object_array_add(errs, sf_err_collection(e));
    json_object_object_add(o, "errors", errs);
    return o;
}

static void coll_begin(struct coll *c, size_t n, bool all_or_none)
{
    memset(c, 0, sizeof *c);
    c->all_or_none = all_or_none;
    c->n = n;
    c->results = json_object_new_array();
    c->failed = xcalloc(n + 1, sizeof *c->failed);
    c->created = xcalloc(n + 1, sizeof *c->created);
    txn_init(&c->whole, SRC_INTEGRATION, 0);
}

/* Records the outcome of record i made in t (its own txn, or the shared one). */
static void coll_record(struct sim *sim, struct coll *c, size_t i, struct txn *t, json_object *res,
                        bool failed, bool created)
{
    c->failed[i] = failed;
    c->created[i] = created;
    json_object_array_add(c->results, res);
    if (t != &c->whole) {
        if (failed)
            txn_rollback(sim, t);
        else
            txn_commit(sim, t);
    }
}

static void coll_finish(struct sim *sim, struct coll *c, struct http_resp *resp)
{
    bool any_failed = false;
    for (size_t i = 0; i < c->n; i++)
        any_failed |= c->failed[i];
    if (c->all_or_none && any_failed) {
        txn_rollback(sim, &c->whole);
        struct sf_err rb;
        sf_err_init(&rb);
        sf_err_set(&rb, 400, "ALL_OR_NONE_OPERATION_ROLLED_BACK", NULL,
                   "Record rolled back because not all records were valid and the request was "
                   "using AllOrNone header");
        for (size_t i = 0; i < c->n; i++) {
            if (c->failed[i])
                continue;
            json_object *old = json_object_array_get_idx(c->results, i);
            const char *id = json_get_str(old, "id");
            /* Created records were rolled back, so they have no id any more. */
            json_object *res = fail_result(c->created[i] ? NULL : id, &rb);
            json_object_array_put_idx(c->results, i, res);
        }
        sf_err_free(&rb);
    } else {
        txn_commit(sim, &c->whole);
    }
    http_resp_json(resp, 200, c->results);
    free(c->failed);
    free(c->created);
}

static struct txn *record_txn(struct coll *c, struct txn *own)
{
    if (c->all_or_none)
        return &c->whole;
    txn_init(own, SRC_INTEGRATION, 0);
    return own;
}

/* Parses {"allOrNone":bool,"records":[...]} with at most 200 objects. */
static int parse_body(struct http_req *req, struct http_resp *resp, json_object **body,
                      json_object **records, bool *all_or_none)
{
    char err[256];
    *body = http_req_json(req, err, sizeof err);
    if (!*body || !json_object_is_type(*body, json_type_object)) {
        json_object_put(*body);
        sf_errorf(resp, 400, "JSON_PARSER_ERROR", "%s", *body ? "expected a JSON object" : err);
        *body = NULL;
        return -1;
    }
    *records = json_get(*body, "records");
    if (!*records || !json_object_is_type(*records, json_type_array)) {
        sf_error(resp, 400, "JSON_PARSER_ERROR", "\"records\" must be an array");
        json_object_put(*body);
        return -1;
    }
    if (json_object_array_length(*records) > SF_COLLECTION_MAX) {
        sf_error(resp, 400, "EXCEEDED_ID_LIMIT",
                 "record limit reached. cannot submit more than 200 records into this call");
        json_object_put(*body);
        return -1;
    }
    json_object *aon = json_get(*body, "allOrNone");
    *all_or_none = aon && json_object_get_boolean(aon);
    return 0;
}

static struct sf_object *record_object(struct sim *sim, json_object *rec, const char *fallback,
                                       struct sf_err *e)
{
    const char *type = json_get_str(json_get(rec, "attributes"), "type");
    if (!type)
        type = fallback;
    if (!type) {
        sf_err_set(e, 400, "INVALID_TYPE", NULL, "Must specify a type in attributes");
        return NULL;
    }
    struct sf_object *o = sf_object_find(sim, type);
    if (!o)
        sf_err_set(e, 400, "INVALID_TYPE", NULL, "sObject type '%.100s' is not supported.", type);
    return o;
}

void sf_route_collection_create(struct sim *sim, struct http_req *req, struct http_resp *resp)
{
    json_object *body, *records;
    bool aon;
    if (parse_body(req, resp, &body, &records, &aon) < 0)
        return;
    struct coll c;
    size_t n = json_object_array_length(records);
    coll_begin(&c, n, aon);
    for (size_t i = 0; i < n; i++) {
        json_object *in = json_object_array_get_idx(records, i);
        struct txn own;
        struct txn *t = record_txn(&c, &own);
        struct sf_err e;
        sf_err_init(&e);
        struct sf_record *rec = NULL;
        struct sf_object *o = record_object(sim, in, NULL, &e);
        if (o && (json_get(in, "id") || json_get(in, "Id")))
            sf_err_set(&e, 400, "INVALID_FIELD", NULL, "cannot specify Id in an insert call");
        else if (o) {
            json_object *changes = sf_validate_fields(sim, o, in, true, NULL, NULL, &e);
            if (changes)
                rec = sf_write_create(sim, t, o, changes, &e);
            json_object_put(changes);
        }
        json_object *res = rec ? ok_result(rec->id, false, false) : fail_result(NULL, &e);
        coll_record(sim, &c, i, t, res, rec == NULL, rec != NULL);
        sf_err_free(&e);
    }
    coll_finish(sim, &c, resp);
    json_object_put(body);
}

static struct sf_record *update_target(struct sf_object *o, const char *id, struct sf_err *e)
{
    char id18[19];
    if (!id) {
        sf_err_set(e, 400, "MISSING_ARGUMENT", NULL, "Id not specified in an update call");
        return NULL;
    }
    if (sf_id_normalize(id, id18) < 0) {
        sf_err_set(e, 400, "MALFORMED_ID", NULL, "malformed id %.100s", id);
        return NULL;
    }
    struct sf_record *rec = hmap_get(&o->by_id, id18);
    if (!rec) {
        sf_err_set(e, 400, "INVALID_CROSS_REFERENCE_KEY", NULL, "invalid cross reference id");
        return NULL;
    }
    if (rec->deleted) {
        sf_err_set(e, 400, "ENTITY_IS_DELETED", NULL, "entity is deleted");
        return NULL;
    }
    return rec;
}

void sf_route_collection_update(struct sim *sim, struct http_req *req, struct http_resp *resp)
{
    json_object *body, *records;
    bool aon;
    if (parse_body(req, resp, &body, &records, &aon) < 0)
        return;
    struct coll c;
    size_t n = json_object_array_length(records);
    coll_begin(&c, n, aon);
    for (size_t i = 0; i < n; i++) {
        json_object *in = json_object_array_get_idx(records, i);
        struct txn own;
        struct txn *t = record_txn(&c, &own);
        struct sf_err e;
        sf_err_init(&e);
        const char *id = json_get_str(in, "id");
        if (!id)
            id = json_get_str(in, "Id");
        struct sf_record *rec = NULL;
        struct sf_object *o = record_object(sim, in, NULL, &e);
        if (o)
            rec = update_target(o, id, &e);
        if (rec) {
            json_object *changes = sf_validate_fields(sim, o, in, false, rec, "id", &e);
            if (changes)
                sf_write_update(sim, t, o, rec, changes);
            else
                rec = NULL;
            json_object_put(changes);
        }
        coll_record(sim, &c, i, t, rec ? ok_result(rec->id, false, false) : fail_result(id, &e),
                    rec == NULL, false);
        sf_err_free(&e);
    }
    coll_finish(sim, &c, resp);
    json_object_put(body);
}

void sf_route_collection_upsert(struct sim *sim, struct http_req *req, struct http_resp *resp)
{
    struct sf_object *o = sf_object_require(sim, http_param(req, 0), resp);
    if (!o)
        return;
    struct sf_field *f = sf_field_find(o, http_param(req, 1));
    if (!f || !(f->external_id || strcmp(f->name, "Id") == 0)) {
        sf_errorf(resp, 404, "NOT_FOUND",
                  "Provided external ID field does not exist or is not accessible: %.100s",
                  http_param(req, 1));
        return;
    }
    json_object *body, *records;
    bool aon;
    if (parse_body(req, resp, &body, &records, &aon) < 0)
        return;
    struct coll c;
    size_t n = json_object_array_length(records);
    coll_begin(&c, n, aon);
    for (size_t i = 0; i < n; i++) {
        json_object *in = json_object_array_get_idx(records, i);
        struct txn own;
        struct txn *t = record_txn(&c, &own);
        struct sf_err e;
        sf_err_init(&e);
        json_object *res = NULL;
        bool created = false;
        struct sf_object *ro = record_object(sim, in, o->name, &e);
        json_object *keyv = json_get(in, f->name);
        if (ro && ro != o)
            sf_err_set(&e, 400, "INVALID_TYPE", NULL, "All records must be of type %s", o->name);
        else if (ro && (!keyv || json_object_is_type(keyv, json_type_null)))
            sf_err_set(&e, 400, "MISSING_ARGUMENT", f->name, "%s not specified", f->name);
        if (!e.status) {
            struct sf_record **matches;
            size_t m = sf_records_matching(o, f, json_object_get_string(keyv), &matches);
            if (m > 1) {
                sf_err_set(&e, 300, "DUPLICATE_EXTERNAL_ID", f->name,
                           "Foreign key external ID: %.100s not found for field %s in entity %s "
                           "(more than one match)",
                           json_object_get_string(keyv), f->name, o->name);
            } else if (m == 1) {
                json_object *changes =
                    sf_validate_fields(sim, o, in, false, matches[0], f->name, &e);
                if (changes) {
                    sf_write_update(sim, t, o, matches[0], changes);
                    res = ok_result(matches[0]->id, true, false);
                }
                json_object_put(changes);
            } else {
                json_object *changes = sf_validate_fields(sim, o, in, true, NULL, NULL, &e);
                struct sf_record *rec = changes ? sf_write_create(sim, t, o, changes, &e) : NULL;
                if (rec) {
                    res = ok_result(rec->id, true, true);
                    created = true;
                }
                json_object_put(changes);
            }
            free(matches);
        }
        coll_record(sim, &c, i, t, res ? res : fail_result(NULL, &e), res == NULL, created);
        sf_err_free(&e);
    }
    coll_finish(sim, &c, resp);
    json_object_put(body);
}

void sf_route_collection_delete(struct sim *sim, struct http_req *req, struct http_resp *resp)
{
    const char *ids = kvlist_get(&req->query, "ids");
    if (!ids || !*ids) {
        sf_error(resp, 400, "MISSING_ARGUMENT", "ids parameter is required");
        return;
    }
    json_object *list = json_split_list(ids, ',');
    size_t n = json_object_array_length(list);
    if (n > SF_COLLECTION_MAX) {
        sf_error(resp, 400, "EXCEEDED_ID_LIMIT",
                 "record limit reached. cannot submit more than 200 records into this call");
        json_object_put(list);
        return;
    }
    const char *aon = kvlist_get(&req->query, "allOrNone");
    struct coll c;
    coll_begin(&c, n, aon && util_streq_ci(aon, "true"));
    for (size_t i = 0; i < n; i++) {
        const char *id = json_object_get_string(json_object_array_get_idx(list, i));
        struct txn own;
        struct txn *t = record_txn(&c, &own);
        struct sf_err e;
        sf_err_init(&e);
        char id18[19];
        struct sf_object *o = NULL;
        struct sf_record *rec = NULL;
        if (sf_id_normalize(id, id18) < 0) {
            sf_err_set(&e, 400, "MALFORMED_ID", NULL, "malformed id %.100s", id);
        } else {
            for (size_t k = 0; k < sim->sf.n_objects && !o; k++) {
                if (strncmp(sim->sf.objects[k]->key_prefix, id18, 3) == 0)
                    o = sim->sf.objects[k];
            }
            rec = o ? update_target(o, id18, &e) : NULL;
            if (!o)
                sf_err_set(&e, 400, "INVALID_CROSS_REFERENCE_KEY", NULL,
                           "invalid cross reference id");
        }
        if (rec)
            sf_write_delete(sim, t, o, rec);
        coll_record(sim, &c, i, t, rec ? ok_result(rec->id, false, false) : fail_result(id, &e),
                    rec == NULL, false);
        sf_err_free(&e);
    }
    coll_finish(sim, &c, resp);
    json_object_put(list);
}
