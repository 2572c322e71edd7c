/* records_api.c: a record's history for the console (issue 12): GET /api/records (find linked
 * records by Salesforce id, 15 or 18 characters, HubSpot id, or the start of their label, newest
 * link first), GET /api/records/{id} (the link, its mapping, state and the last-synced value of
 * every mapped field) and GET /api/records/{id}/timeline (what the engine saw and did, newest
 * first). Both lists are keyset-paged: `next` of an answer is the cursor of the next page
 * (`after` for the records, `before` for the timeline), null on the last page.
 *
 * The router checks the token (ROUTE_ADMIN). Every query value is validated by
 * handlers/console_query.c (400 with what is allowed) and reaches SQL only as a parameter
 * (db/history_store.c); unknown parameters are ignored, as in /api/events. Must not change any row.
 */
#include "handlers/records_api.h"

#include "handlers/api_common.h"
#include "handlers/console_query.h"
#include "db/history_store.h"
#include "db/pool.h"

int handle_records_search(struct http_request *req)
{
    struct console_query q = console_query_of(req);
    struct record_query rq;
    const char *bad = console_query_records(&q, &rq);
    if (bad)
        return http_respond_error(req, 400, "bad_query", bad);
    char err[256];
    PGconn *conn = db_pool_acquire(req->app->pool, 2000, err, sizeof err);
    if (!conn)
        return api_respond_db_unavailable(req, err);
    json_object *out = record_search(conn, &rq, err, sizeof err);
    db_pool_release(req->app->pool, conn, !out);
    if (!out)
        return api_respond_db_unavailable(req, err);
    return api_respond_json_owned(req, 200, out);
}

/* The {id} of the path; false (answered 400) when it is not a link id. */
static bool link_id_arg(struct http_request *req, int64_t *id, int *rc)
{
    if (api_parse_id(req->params[0], id) == 0)
        return true;
    *rc = http_respond_error(req, 400, "bad_id",
                             "the record id must be a positive link id (link_id in"
                             " GET /api/records)");
    return false;
}

static int not_found(struct http_request *req)
{
    return http_respond_error(req, 404, "not_found",
                              "no linked record with that id; find it with GET /api/records?q=");
}

int handle_records_get(struct http_request *req)
{
    int64_t id;
    int rc;
    if (!link_id_arg(req, &id, &rc))
        return rc;
    char err[256];
    PGconn *conn = db_pool_acquire(req->app->pool, 2000, err, sizeof err);
    if (!conn)
        return api_respond_db_unavailable(req, err);
    json_object *out = NULL;
    int found = record_detail(conn, id, &out, err, sizeof err);
    db_pool_release(req->app->pool, conn, found < 0);
    if (found < 0)
        return api_respond_db_unavailable(req, err);
    return found ? api_respond_json_owned(req, 200, out) : not_found(req);
}

int handle_records_timeline(struct http_request *req)
{
    int64_t id;
    int rc;
    if (!link_id_arg(req, &id, &rc))
        return rc;
    int limit;
    const char *before;
    struct console_query q = console_query_of(req);
    const char *bad = console_query_timeline(&q, &limit, &before);
    if (bad)
        return http_respond_error(req, 400, "bad_query", bad);
    char err[256];
    PGconn *conn = db_pool_acquire(req->app->pool, 2000, err, sizeof err);
    if (!conn)
        return api_respond_db_unavailable(req, err);
    json_object *out = NULL;
    int found = history_timeline(conn, id, before, limit, &out, err, sizeof err);
    db_pool_release(req->app->pool, conn, found < 0);
    if (found < 0)
        return api_respond_db_unavailable(req, err);
    return found ? api_respond_json_owned(req, 200, out) : not_found(req);
}
