/* imports_api.c: the admin API that starts and watches imports of existing records.
 *
 * GET /api/mappings/{id}/import/estimate[?direction=] answers {"mapping_id","direction",
 * "records"} (Salesforce SELECT COUNT(), HubSpot search total). POST /api/mappings/{id}/imports
 * with an optional body {"direction":"salesforce_to_hubspot|hubspot_to_salesforce"} (default
 * salesforce_to_hubspot) answers 202 with the queued import; 404 unknown mapping, 400 bad body or
 * direction, 409 mapping_not_enabled (only an enabled mapping's events reach the workers) or
 * import_running (the mapping already has a queued or running import), 503 crm_unconfigured when
 * the source CRM has no API access, 502 crm_unavailable when it cannot be counted.
 * GET /api/imports[?mapping_id=] lists imports newest first, GET /api/imports/{id} shows one,
 * POST /api/imports/{id}/cancel cancels a queued or running one (409 not_active otherwise) and
 * drops its events no worker holds yet. The bearer token is checked by the router (ROUTE_ADMIN).
 * The import itself advances on the sweeper thread (sync/import.c).
 * Must not: page the CRMs itself or talk SQL (db/import_store.c does). */
#include "handlers/imports_api.h"

#include "handlers/api_common.h"
#include "db/import_store.h"
#include "sync/import.h"

#include <string.h>

/* The mapping of the path; answers 400/404/503 itself and returns -1. */
static int load_target(struct http_request *req, struct sweep_target *t, int *rc)
{
    int64_t id;
    if (api_parse_id(req->params[0], &id) < 0) {
        *rc = http_respond_error(req, 400, "bad_id", "mapping id must be a positive integer");
        return -1;
    }
    char err[256];
    PGconn *conn = db_pool_acquire(req->app->pool, 2000, err, sizeof err);
    if (!conn) {
        *rc = api_respond_db_unavailable(req, err);
        return -1;
    }
    bool found = false;
    int r = import_store_target(conn, id, t, &found, err, sizeof err);
    db_pool_release(req->app->pool, conn, r < 0);
    if (r < 0) {
        *rc = api_respond_db_unavailable(req, err);
        return -1;
    }
    if (!found) {
        *rc = http_respond_error(req, 404, "not_found", "no mapping with that id");
        return -1;
    }
    return 0;
}

/* Counts the source's records; answers 502/503 itself on failure. */
static int estimate(struct http_request *req, const struct sweep_target *t, enum import_direction d,
                    long long *count, int *rc)
{
    char err[600];
    int r = import_estimate(&req->app->sync_ctx, t, d, count, err, sizeof err);
    if (r == IMPORT_CRM_OK)
        return 0;
    *rc = r == IMPORT_CRM_UNCONFIGURED ? http_respond_error(req, 503, "crm_unconfigured", err)
                                       : http_respond_error(req, 502, "crm_unavailable", err);
    return -1;
}

static const char bad_direction[] =
    "direction must be salesforce_to_hubspot or hubspot_to_salesforce";

int handle_import_estimate(struct http_request *req)
{
    enum import_direction d;
    if (import_direction_parse(http_query_arg(req, "direction"), &d) < 0)
        return http_respond_error(req, 400, "bad_direction", bad_direction);
    struct sweep_target t;
    int rc = 0;
    long long count = 0;
    if (load_target(req, &t, &rc) < 0 || estimate(req, &t, d, &count, &rc) < 0)
        return rc;
    json_object *body = json_object_new_object();
    json_object_object_add(body, "mapping_id", json_object_new_int64(t.mapping_id));
    json_object_object_add(body, "direction", json_object_new_string(import_direction_name(d)));
    json_object_object_add(body, "records", json_object_new_int64(count));
    return api_respond_json_owned(req, 200, body);
}

/* The optional {"direction":...} body; answers 400 itself and returns -1. */
static int parse_create_body(struct http_request *req, enum import_direction *d, int *rc)
{
    *d = IMPORT_SF_TO_HS;
    if (req->body_len == 0)
        return 0;
    json_object *body = json_tokener_parse(req->body);
    json_object *dir = NULL;
    bool ok = body && json_object_is_type(body, json_type_object);
    if (ok && json_object_object_get_ex(body, "direction", &dir) &&
        !json_object_is_type(dir, json_type_null)) {
        ok = json_object_is_type(dir, json_type_string) &&
             import_direction_parse(json_object_get_string(dir), d) == 0;
        if (!ok) {
            json_object_put(body);
            *rc = http_respond_error(req, 400, "bad_direction", bad_direction);
            return -1;
        }
    }
    json_object_put(body);
    if (!ok) {
        *rc = http_respond_error(req, 400, "bad_body",
                                 "the body must be a JSON object such as "
                                 "{\"direction\":\"salesforce_to_hubspot\"}");
        return -1;
    }
    return 0;
}

static int respond_import(struct http_request *req, PGconn *conn, int64_t id, unsigned status)
{
    char err[256];
    bool found = false;
    json_object *row = import_store_get(conn, id, &found, err, sizeof err);
    db_pool_release(req->app->pool, conn, !row);
    if (!row)
        return api_respond_db_unavailable(req, err);
    if (!found) {
        json_object_put(row);
        return http_respond_error(req, 404, "not_found", "no import with that id");
    }
    return api_respond_json_owned(req, status, row);
}

int handle_imports_create(struct http_request *req)
{
    enum import_direction d;
    struct sweep_target t;
    int rc = 0;
    long long total = 0;
    if (parse_create_body(req, &d, &rc) < 0 || load_target(req, &t, &rc) < 0)
        return rc;
    if (!t.enabled)
        return http_respond_error(req, 409, "mapping_not_enabled",
                                  "enable the mapping before importing its records");
    if (estimate(req, &t, d, &total, &rc) < 0)
        return rc;
    char err[256], actor[64];
    api_request_actor(req, actor, sizeof actor);
    PGconn *conn = db_pool_acquire(req->app->pool, 2000, err, sizeof err);
    if (!conn)
        return api_respond_db_unavailable(req, err);
    int64_t id = 0;
    int r = import_store_create(conn, t.mapping_id, import_direction_name(d), actor, total, &id,
                                err, sizeof err);
    if (r != IMPORT_CREATE_OK) {
        db_pool_release(req->app->pool, conn, r < 0);
        return r < 0 ? api_respond_db_unavailable(req, err)
                     : http_respond_error(req, 409, "import_running",
                                          "this mapping already has a queued or running import");
    }
    return respond_import(req, conn, id, 202);
}

int handle_imports_list(struct http_request *req)
{
    int64_t mapping_id = 0;
    const char *arg = http_query_arg(req, "mapping_id");
    if (arg && api_parse_id(arg, &mapping_id) < 0)
        return http_respond_error(req, 400, "bad_query", "mapping_id must be a positive integer");
    char err[256];
    PGconn *conn = db_pool_acquire(req->app->pool, 2000, err, sizeof err);
    if (!conn)
        return api_respond_db_unavailable(req, err);
    json_object *out = import_store_list(conn, mapping_id, err, sizeof err);
    db_pool_release(req->app->pool, conn, !out);
    return out ? api_respond_json_owned(req, 200, out) : api_respond_db_unavailable(req, err);
}

/* The import id of the path and a borrowed connection; answers 400/503 itself and returns NULL. */
static PGconn *begin_import_call(struct http_request *req, int64_t *id, int *rc)
{
    if (api_parse_id(req->params[0], id) < 0) {
        *rc = http_respond_error(req, 400, "bad_id", "import id must be a positive integer");
        return NULL;
    }
    char err[256];
    PGconn *conn = db_pool_acquire(req->app->pool, 2000, err, sizeof err);
    if (!conn)
        *rc = api_respond_db_unavailable(req, err);
    return conn;
}

int handle_imports_get(struct http_request *req)
{
    int64_t id;
    int rc = 0;
    PGconn *conn = begin_import_call(req, &id, &rc);
    return conn ? respond_import(req, conn, id, 200) : rc;
}

int handle_import_cancel(struct http_request *req)
{
    int64_t id;
    int rc = 0;
    PGconn *conn = begin_import_call(req, &id, &rc);
    if (!conn)
        return rc;
    char err[256];
    int r = import_store_cancel(conn, id, err, sizeof err);
    if (r == IMPORT_CANCEL_OK)
        return respond_import(req, conn, id, 200);
    db_pool_release(req->app->pool, conn, r < 0);
    if (r < 0)
        return api_respond_db_unavailable(req, err);
    return r == IMPORT_CANCEL_NOT_FOUND
               ? http_respond_error(req, 404, "not_found", "no import with that id")
               : http_respond_error(req, 409, "not_active",
                                    "only a queued or running import can be cancelled");
}
