/* control.c: the /_sim/ control API: reset, fixtures, dump, config, stats, faults, deliveries,
 * act-as-user writes for HubSpot and Salesforce (change source CRM_UI), token expiry/invalidation,
 * API usage and a webhook-signing helper.
 *
 * Answers are JSON; errors are {"error":"<sentence>"} with 400 (404 for unknown records/objects).
 * Act-as-user validation errors use the CRM's own error shape, like the API would. */
#include "tests/crmsim/control.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/crmsim/config.h"
#include "tests/crmsim/deliveries.h"
#include "tests/crmsim/faults.h"
#include "tests/crmsim/fixtures.h"
#include "tests/crmsim/hubspot.h"
#include "tests/crmsim/salesforce.h"
#include "tests/crmsim/stats.h"
#include "tests/crmsim/webhooks.h"

static void ctl_error(struct http_resp *resp, int status, const char *message)
{
    json_object *o = json_object_new_object();
    json_set_str(o, "error", message);
    http_resp_json(resp, status, o);
}

static void ctl_ok(struct http_resp *resp)
{
    json_object *o = json_object_new_object();
    json_set_str(o, "status", "ok");
    http_resp_json(resp, 200, o);
}

/* Parses an optional JSON object body ({} when empty); answers 400 on malformed input. */
static int ctl_body(struct http_req *req, struct http_resp *resp, json_object **out)
{
    if (req->body_len == 0) {
        *out = json_object_new_object();
        return 0;
    }
    char err[256] = "";
    *out = http_req_json(req, err, sizeof err);
    if (!*out || !json_object_is_type(*out, json_type_object)) {
        json_object_put(*out);
        *out = NULL;
        ctl_error(resp, 400, *err ? err : "body must be a JSON object");
        return -1;
    }
    return 0;
}

void ctl_health(struct sim *sim, struct http_req *req, struct http_resp *resp)
{
    json_object *o = json_object_new_object();
    json_set_str(o, "status", "ok");
    json_set_str(o, "baseUrl", sim_base_url(sim));
    http_resp_json(resp, 200, o);
}

void ctl_reset(struct sim *sim, struct http_req *req, struct http_resp *resp)
{
    char err[1024];
    if (sim_reset(sim, err, sizeof err) < 0)
        ctl_error(resp, 500, err);
    else
        ctl_ok(resp);
}

void ctl_fixtures(struct sim *sim, struct http_req *req, struct http_resp *resp)
{
    json_object *doc;
    if (ctl_body(req, resp, &doc) < 0)
        return;
    char err[1024];
    json_object *summary = NULL;
    if (fixtures_load(sim, doc, &summary, err, sizeof err) < 0) {
        ctl_error(resp, 400, err);
    } else {
        json_object *o = json_object_new_object();
        json_set_str(o, "status", "ok");
        json_object_object_add(o, "loaded", summary);
        http_resp_json(resp, 200, o);
    }
    json_object_put(doc);
}

void ctl_dump(struct sim *sim, struct http_req *req, struct http_resp *resp)
{
    http_resp_json(resp, 200, fixtures_dump(sim));
}

void ctl_config_get(struct sim *sim, struct http_req *req, struct http_resp *resp)
{
    http_resp_json(resp, 200, config_to_json(&sim->cfg));
}

void ctl_config_set(struct sim *sim, struct http_req *req, struct http_resp *resp)
{
    json_object *doc;
    if (ctl_body(req, resp, &doc) < 0)
        return;
    char err[300];
    if (config_apply_json(&sim->cfg, doc, err, sizeof err) < 0) {
        ctl_error(resp, 400, err);
    } else {
        hs_fqn_refresh(sim);
        pthread_cond_broadcast(&sim->cond);
        http_resp_json(resp, 200, config_to_json(&sim->cfg));
    }
    json_object_put(doc);
}

void ctl_config_schema(struct sim *sim, struct http_req *req, struct http_resp *resp)
{
    http_resp_json(resp, 200, config_describe());
}

void ctl_stats(struct sim *sim, struct http_req *req, struct http_resp *resp)
{
    int64_t limit = -1;
    const char *ls = kvlist_get(&req->query, "limit");
    if (ls && (util_parse_int64(ls, &limit) < 0 || limit < 0)) {
        ctl_error(resp, 400, "limit must be a non-negative integer");
        return;
    }
    http_resp_json(resp, 200, stats_to_json(sim, kvlist_get(&req->query, "path_prefix"), limit));
}

void ctl_stats_reset(struct sim *sim, struct http_req *req, struct http_resp *resp)
{
    stats_reset(sim);
    ctl_ok(resp);
}

void ctl_faults_list(struct sim *sim, struct http_req *req, struct http_resp *resp)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "faults", faults_to_json(sim));
    http_resp_json(resp, 200, o);
}

void ctl_faults_add(struct sim *sim, struct http_req *req, struct http_resp *resp)
{
    json_object *doc;
    if (ctl_body(req, resp, &doc) < 0)
        return;
    char err[300];
    uint64_t id = faults_add(sim, doc, err, sizeof err);
    if (!id) {
        ctl_error(resp, 400, err);
    } else {
        json_object *o = json_object_new_object();
        json_set_int(o, "id", (int64_t)id);
        http_resp_json(resp, 201, o);
    }
    json_object_put(doc);
}

void ctl_faults_clear(struct sim *sim, struct http_req *req, struct http_resp *resp)
{
    json_object *o = json_object_new_object();
    json_set_int(o, "removed", (int64_t)faults_remove(sim, 0));
    http_resp_json(resp, 200, o);
}

void ctl_faults_delete(struct sim *sim, struct http_req *req, struct http_resp *resp)
{
    int64_t id;
    if (util_parse_int64(http_param(req, 0), &id) < 0 || id <= 0) {
        ctl_error(resp, 400, "fault id must be a positive integer");
        return;
    }
    if (faults_remove(sim, (uint64_t)id) == 0)
        ctl_error(resp, 404, "no such fault rule");
    else
        http_resp_empty(resp, 204);
}

void ctl_deliveries(struct sim *sim, struct http_req *req, struct http_resp *resp)
{
    http_resp_json(resp, 200, deliveries_to_json(sim));
}

void ctl_deliveries_flush(struct sim *sim, struct http_req *req, struct http_resp *resp)
{
    deliveries_flush(sim);
    ctl_ok(resp);
}

/* ---- HubSpot act-as-user ---- */

static struct hs_schema *ctl_schema(struct sim *sim, struct http_req *req, struct http_resp *resp)
{
    struct hs_schema *s = hs_schema_resolve(sim, http_param(req, 0));
    if (!s)
        ctl_error(resp, 404, "unknown HubSpot object type");
    return s;
}

static struct hs_record *ctl_hs_record(struct hs_schema *s, struct http_req *req,
                                       struct http_resp *resp)
{
    struct hs_record *r = hs_record_find(s, http_param(req, 1));
    if (!r)
        ctl_error(resp, 404, "no such HubSpot record");
    return r;
}

void ctl_hs_list(struct sim *sim, struct http_req *req, struct http_resp *resp)
{
    struct hs_schema *s = ctl_schema(sim, req, resp);
    if (!s)
        return;
    json_object *arr = json_object_new_array();
    for (size_t i = 0; i < s->n_records; i++)
        json_object_array_add(
            arr, hs_record_render(s, s->records[i], s->records[i]->props, NULL, HS_RENDER_ALL));
    json_object *o = json_object_new_object();
    json_object_object_add(o, "results", arr);
    http_resp_json(resp, 200, o);
}

/* {"matched","total"}: live records (not archived/deleted), and those of them whose text value of
 * the "field" parameter starts with "prefix" (both required; "" matches every text value). A
 * count, not a listing: benchmarks poll it while synkro calls the API, and crmsim's one lock is
 * held while it runs. */
static void ctl_count(struct http_req *req, struct http_resp *resp, json_object *const *values,
                      const bool *live, size_t n)
{
    const char *field = kvlist_get(&req->query, "field");
    const char *prefix = kvlist_get(&req->query, "prefix");
    if (!field || !*field || !prefix) {
        ctl_error(resp, 400, "count needs the query parameters field and prefix");
        return;
    }
    size_t plen = strlen(prefix);
    long matched = 0, total = 0;
    for (size_t i = 0; i < n; i++) {
        if (!live[i])
            continue;
        total++;
        json_object *v = json_get(values[i], field);
        if (v && json_object_is_type(v, json_type_string) &&
            strncmp(json_object_get_string(v), prefix, plen) == 0)
            matched++;
    }
    json_object *o = json_object_new_object();
    json_object_object_add(o, "matched", json_object_new_int64(matched));
    json_object_object_add(o, "total", json_object_new_int64(total));
    http_resp_json(resp, 200, o);
}

void ctl_hs_count(struct sim *sim, struct http_req *req, struct http_resp *resp)
{
    struct hs_schema *s = ctl_schema(sim, req, resp);
    if (!s)
        return;
    json_object **values = xcalloc(s->n_records + 1, sizeof *values);
    bool *live = xcalloc(s->n_records + 1, sizeof *live);
    for (size_t i = 0; i < s->n_records; i++) {
        values[i] = s->records[i]->props;
        live[i] = !s->records[i]->archived;
    }
    ctl_count(req, resp, values, live, s->n_records);
    free(values);
    free(live);
}

void ctl_hs_create(struct sim *sim, struct http_req *req, struct http_resp *resp)
{
    struct hs_schema *s = ctl_schema(sim, req, resp);
    json_object *body;
    if (!s || ctl_body(req, resp, &body) < 0)
        return;
    struct hs_verr e;
    hs_verr_init(&e);
    struct txn t;
    txn_init(&t, SRC_UI, 0);
    json_object *changes = hs_validate_props(sim, s, json_get(body, "properties"), true, NULL, &e);
    struct hs_record *rec =
        changes ? hs_write_create(sim, &t, s, changes, json_get(body, "associations"), NULL, &e)
                : NULL;
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

void ctl_hs_get(struct sim *sim, struct http_req *req, struct http_resp *resp)
{
    struct hs_schema *s = ctl_schema(sim, req, resp);
    struct hs_record *r = s ? ctl_hs_record(s, req, resp) : NULL;
    if (r)
        http_resp_json(resp, 200, hs_record_render(s, r, r->props, NULL, HS_RENDER_ALL));
}

void ctl_hs_update(struct sim *sim, struct http_req *req, struct http_resp *resp)
{
    struct hs_schema *s = ctl_schema(sim, req, resp);
    struct hs_record *r = s ? ctl_hs_record(s, req, resp) : NULL;
    json_object *body;
    if (!r || ctl_body(req, resp, &body) < 0)
        return;
    struct hs_verr e;
    hs_verr_init(&e);
    json_object *changes = hs_validate_props(sim, s, json_get(body, "properties"), false, r, &e);
    if (!changes) {
        hs_verr_respond(&e, resp);
    } else {
        struct txn t;
        txn_init(&t, SRC_UI, 0);
        hs_write_update(sim, &t, s, r, changes);
        txn_commit(sim, &t);
        http_resp_json(resp, 200, hs_record_render(s, r, r->props, NULL, HS_RENDER_ALL));
    }
    json_object_put(changes);
    json_object_put(body);
    hs_verr_free(&e);
}

void ctl_hs_delete(struct sim *sim, struct http_req *req, struct http_resp *resp)
{
    struct hs_schema *s = ctl_schema(sim, req, resp);
    struct hs_record *r = s ? ctl_hs_record(s, req, resp) : NULL;
    if (!r)
        return;
    if (!r->archived) {
        struct txn t;
        txn_init(&t, SRC_UI, 0);
        hs_write_archive(sim, &t, s, r);
        txn_commit(sim, &t);
    }
    http_resp_empty(resp, 204);
}

void ctl_hs_restore(struct sim *sim, struct http_req *req, struct http_resp *resp)
{
    struct hs_schema *s = ctl_schema(sim, req, resp);
    struct hs_record *r = s ? ctl_hs_record(s, req, resp) : NULL;
    if (!r)
        return;
    if (!r->archived) {
        ctl_error(resp, 400, "record is not archived");
        return;
    }
    struct txn t;
    txn_init(&t, SRC_UI, 0);
    hs_write_restore(sim, &t, s, r);
    txn_commit(sim, &t);
    http_resp_json(resp, 200, hs_record_render(s, r, r->props, NULL, HS_RENDER_ALL));
}

void ctl_hs_merge(struct sim *sim, struct http_req *req, struct http_resp *resp)
{
    struct hs_schema *s = ctl_schema(sim, req, resp);
    json_object *body;
    if (!s || ctl_body(req, resp, &body) < 0)
        return;
    const char *a = json_get_str(body, "primaryObjectId");
    const char *b = json_get_str(body, "objectIdToMerge");
    struct hs_record *w = a ? hs_record_find(s, a) : NULL;
    struct hs_record *l = b ? hs_record_find(s, b) : NULL;
    if (!w || !l || w == l || w->archived || l->archived) {
        ctl_error(resp, 400, "primaryObjectId and objectIdToMerge must name two live records");
    } else {
        struct txn t;
        txn_init(&t, SRC_UI, 0);
        hs_write_merge(sim, &t, s, w, l);
        txn_commit(sim, &t);
        http_resp_json(resp, 200, hs_record_render(s, w, w->props, NULL, HS_RENDER_ALL));
    }
    json_object_put(body);
}

static int assoc_body(struct sim *sim, json_object *body, struct hs_schema **from,
                      struct hs_schema **to, const char **fid, const char **tid,
                      struct http_resp *resp)
{
    *from = hs_schema_resolve(sim, json_get_str(body, "fromObjectType"));
    *to = hs_schema_resolve(sim, json_get_str(body, "toObjectType"));
    json_object *fv = json_get(body, "fromObjectId"), *tv = json_get(body, "toObjectId");
    *fid = fv ? json_object_get_string(fv) : NULL;
    *tid = tv ? json_object_get_string(tv) : NULL;
    if (!*from || !*to || !*fid || !*tid) {
        ctl_error(
            resp, 400,
            "body needs fromObjectType, fromObjectId, toObjectType, toObjectId (known types)");
        return -1;
    }
    return 0;
}

void ctl_hs_assoc_add(struct sim *sim, struct http_req *req, struct http_resp *resp)
{
    json_object *body;
    if (ctl_body(req, resp, &body) < 0)
        return;
    struct hs_schema *from, *to;
    const char *fid, *tid;
    if (assoc_body(sim, body, &from, &to, &fid, &tid, resp) == 0) {
        struct txn t;
        txn_init(&t, SRC_UI, 0);
        struct hs_verr e;
        hs_verr_init(&e);
        json_object *tv = json_get(body, "associationTypeId");
        int rc = tv ? hs_assoc_add(sim, &t, from, fid, to, tid,
                                   json_get_str(body, "associationCategory"),
                                   json_object_get_int64(tv), &e)
                    : hs_assoc_add_default(sim, &t, from, fid, to, tid, &e);
        if (rc < 0) {
            txn_rollback(sim, &t);
            hs_verr_respond(&e, resp);
        } else {
            txn_commit(sim, &t);
            ctl_ok(resp);
        }
        hs_verr_free(&e);
    }
    json_object_put(body);
}

void ctl_hs_assoc_remove(struct sim *sim, struct http_req *req, struct http_resp *resp)
{
    json_object *body;
    if (ctl_body(req, resp, &body) < 0)
        return;
    struct hs_schema *from, *to;
    const char *fid, *tid;
    if (assoc_body(sim, body, &from, &to, &fid, &tid, resp) == 0) {
        struct txn t;
        txn_init(&t, SRC_UI, 0);
        size_t n =
            hs_assoc_remove_pair(sim, &t, from->object_type_id, fid, to->object_type_id, tid);
        txn_commit(sim, &t);
        json_object *o = json_object_new_object();
        json_set_int(o, "removed", (int64_t)n);
        http_resp_json(resp, 200, o);
    }
    json_object_put(body);
}

void ctl_hs_tokens_expire(struct sim *sim, struct http_req *req, struct http_resp *resp)
{
    json_object *body;
    if (ctl_body(req, resp, &body) < 0)
        return;
    json_object *o = json_object_new_object();
    json_set_int(o, "expired", (int64_t)hs_tokens_expire(sim, json_get_str(body, "access_token")));
    http_resp_json(resp, 200, o);
    json_object_put(body);
}

void ctl_hs_sign(struct sim *sim, struct http_req *req, struct http_resp *resp)
{
    json_object *body;
    if (ctl_body(req, resp, &body) < 0)
        return;
    const char *secret = json_get_str(body, "secret");
    const char *method = json_get_str(body, "method");
    const char *uri = json_get_str(body, "uri");
    const char *payload = json_get_str(body, "body");
    const char *ts = json_get_str(body, "timestamp");
    if (!uri || !payload || !ts) {
        ctl_error(resp, 400,
                  "body needs uri, body and timestamp strings (secret, method optional)");
        json_object_put(body);
        return;
    }
    if (!secret)
        secret = sim->cfg.hs_client_secret;
    if (!method)
        method = "POST";
    size_t len = (size_t)json_object_get_string_len(json_get(body, "body"));
    char v1[65], v2[65];
    char *suri = webhook_signature_uri(uri);
    webhook_sign_v1(secret, payload, len, v1);
    webhook_sign_v2(secret, method, suri, payload, len, v2);
    char *v3 = webhook_sign_v3(secret, method, suri, payload, len, ts);
    json_object *o = json_object_new_object();
    json_set_str(o, "v1", v1);
    json_set_str(o, "v2", v2);
    json_set_str(o, "v3", v3);
    json_set_str(o, "signedUri", suri);
    http_resp_json(resp, 200, o);
    free(v3);
    free(suri);
    json_object_put(body);
}

/* ---- Salesforce act-as-user ---- */

static struct sf_object *ctl_object(struct sim *sim, struct http_req *req, struct http_resp *resp)
{
    struct sf_object *o = sf_object_find(sim, http_param(req, 0));
    if (!o)
        ctl_error(resp, 404, "unknown Salesforce object");
    return o;
}

static struct sf_record *ctl_sf_record(struct sf_object *o, struct http_req *req,
                                       struct http_resp *resp)
{
    struct sf_record *r = sf_record_find(o, http_param(req, 1));
    if (!r)
        ctl_error(resp, 404, "no such Salesforce record");
    return r;
}

void ctl_sf_list(struct sim *sim, struct http_req *req, struct http_resp *resp)
{
    struct sf_object *o = ctl_object(sim, req, resp);
    if (!o)
        return;
    json_object *arr = json_object_new_array();
    for (size_t i = 0; i < o->n_records; i++)
        json_object_array_add(arr, sf_record_render(o, o->records[i], NULL, "v58.0"));
    json_object *out = json_object_new_object();
    json_object_object_add(out, "records", arr);
    http_resp_json(resp, 200, out);
}

void ctl_sf_count(struct sim *sim, struct http_req *req, struct http_resp *resp)
{
    struct sf_object *o = ctl_object(sim, req, resp);
    if (!o)
        return;
    json_object **values = xcalloc(o->n_records + 1, sizeof *values);
    bool *live = xcalloc(o->n_records + 1, sizeof *live);
    for (size_t i = 0; i < o->n_records; i++) {
        values[i] = o->records[i]->fields;
        live[i] = !o->records[i]->deleted;
    }
    ctl_count(req, resp, values, live, o->n_records);
    free(values);
    free(live);
}

void ctl_sf_create(struct sim *sim, struct http_req *req, struct http_resp *resp)
{
    struct sf_object *o = ctl_object(sim, req, resp);
    json_object *body;
    if (!o || ctl_body(req, resp, &body) < 0)
        return;
    struct sf_err e;
    sf_err_init(&e);
    struct txn t;
    txn_init(&t, SRC_UI, 0);
    json_object *changes = sf_validate_fields(sim, o, body, true, NULL, NULL, &e);
    struct sf_record *rec = changes ? sf_write_create(sim, &t, o, changes, &e) : NULL;
    if (!rec) {
        txn_rollback(sim, &t);
        sf_err_respond(&e, resp);
    } else {
        http_resp_json(resp, 201, sf_record_render(o, rec, NULL, "v58.0"));
        txn_commit(sim, &t);
    }
    json_object_put(changes);
    json_object_put(body);
    sf_err_free(&e);
}

void ctl_sf_get(struct sim *sim, struct http_req *req, struct http_resp *resp)
{
    struct sf_object *o = ctl_object(sim, req, resp);
    struct sf_record *r = o ? ctl_sf_record(o, req, resp) : NULL;
    if (r)
        http_resp_json(resp, 200, sf_record_render(o, r, NULL, "v58.0"));
}

void ctl_sf_update(struct sim *sim, struct http_req *req, struct http_resp *resp)
{
    struct sf_object *o = ctl_object(sim, req, resp);
    struct sf_record *r = o ? ctl_sf_record(o, req, resp) : NULL;
    json_object *body;
    if (!r || ctl_body(req, resp, &body) < 0)
        return;
    if (r->deleted) {
        sf_error(resp, 404, "ENTITY_IS_DELETED", "entity is deleted");
        json_object_put(body);
        return;
    }
    struct sf_err e;
    sf_err_init(&e);
    json_object *changes = sf_validate_fields(sim, o, body, false, r, NULL, &e);
    if (!changes) {
        sf_err_respond(&e, resp);
    } else {
        struct txn t;
        txn_init(&t, SRC_UI, 0);
        sf_write_update(sim, &t, o, r, changes);
        txn_commit(sim, &t);
        http_resp_json(resp, 200, sf_record_render(o, r, NULL, "v58.0"));
    }
    json_object_put(changes);
    json_object_put(body);
    sf_err_free(&e);
}

void ctl_sf_delete(struct sim *sim, struct http_req *req, struct http_resp *resp)
{
    struct sf_object *o = ctl_object(sim, req, resp);
    struct sf_record *r = o ? ctl_sf_record(o, req, resp) : NULL;
    if (!r)
        return;
    if (!r->deleted) {
        struct txn t;
        txn_init(&t, SRC_UI, 0);
        sf_write_delete(sim, &t, o, r);
        txn_commit(sim, &t);
    }
    http_resp_empty(resp, 204);
}

void ctl_sf_tokens_invalidate(struct sim *sim, struct http_req *req, struct http_resp *resp)
{
    json_object *body;
    if (ctl_body(req, resp, &body) < 0)
        return;
    json_object *o = json_object_new_object();
    json_set_int(o, "invalidated",
                 (int64_t)sf_tokens_invalidate(sim, json_get_str(body, "access_token")));
    http_resp_json(resp, 200, o);
    json_object_put(body);
}

void ctl_sf_api_usage(struct sim *sim, struct http_req *req, struct http_resp *resp)
{
    json_object *body;
    if (ctl_body(req, resp, &body) < 0)
        return;
    json_object *u = json_get(body, "used");
    if (!u || !json_object_is_type(u, json_type_int) || json_object_get_int64(u) < 0) {
        ctl_error(resp, 400, "body needs \"used\": a non-negative integer");
    } else {
        sim->sf.api_used = json_object_get_int64(u);
        json_object *o = json_object_new_object();
        json_set_int(o, "used", sim->sf.api_used);
        json_set_int(o, "max", sim->cfg.sf_api_usage_max);
        http_resp_json(resp, 200, o);
    }
    json_object_put(body);
}
