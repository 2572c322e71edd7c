/* events_api.c: the admin view of the change-event queue.
 *
 * GET /api/events?source=&status=&object_type=&record_id=&limit=&after=
 * lists events (no payloads) in id order with keyset paging (`after` is the
 * last id seen; the answer's next_after is the cursor for the next page).
 * GET /api/events/{id} shows one event with its stored payload. The bearer
 * token is checked by the router (ROUTE_ADMIN). Query values are validated
 * here and passed to SQL only as parameters. */
#include "handlers/events_api.h"

#include "handlers/api_common.h"
#include "db/queue.h"

#include <string.h>

static const char *const sources[] = {"salesforce", "hubspot", NULL};
static const char *const statuses[] = {"pending", "unmapped", "held", "processing",
                                       "done",    "failed",   NULL};

static bool one_of(const char *v, const char *const *allowed)
{
    for (; *allowed; allowed++)
        if (strcmp(v, *allowed) == 0)
            return true;
    return false;
}

int handle_events_list(struct http_request *req)
{
    struct queue_filter f = {
        .source = http_query_arg(req, "source"),
        .status = http_query_arg(req, "status"),
        .object_type = http_query_arg(req, "object_type"),
        .record_id = http_query_arg(req, "record_id"),
        .limit = 50,
    };
    if (f.source && !one_of(f.source, sources))
        return http_respond_error(req, 400, "bad_query", "source must be salesforce or hubspot");
    if (f.status && !one_of(f.status, statuses))
        return http_respond_error(
            req, 400, "bad_query",
            "status must be one of pending, unmapped, held, processing, done, failed");
    long long v;
    const char *limit = http_query_arg(req, "limit");
    if (limit) {
        if (api_parse_int64(limit, 1, 500, &v) < 0)
            return http_respond_error(req, 400, "bad_query",
                                      "limit must be an integer from 1 to 500");
        f.limit = (int)v;
    }
    const char *after = http_query_arg(req, "after");
    if (after) {
        if (api_parse_int64(after, 0, INT64_MAX, &v) < 0)
            return http_respond_error(req, 400, "bad_query",
                                      "after must be a non-negative event id");
        f.after_id = v;
    }
    char err[256];
    PGconn *conn = db_pool_acquire(req->app->pool, 2000, err, sizeof err);
    if (!conn)
        return api_respond_db_unavailable(req, err);
    json_object *out = queue_list(conn, &f, err, sizeof err);
    db_pool_release(req->app->pool, conn, !out);
    if (!out)
        return api_respond_db_unavailable(req, err);
    return api_respond_json_owned(req, 200, out);
}

int handle_events_get(struct http_request *req)
{
    long long id;
    if (api_parse_int64(req->params[0], 1, INT64_MAX, &id) < 0)
        return http_respond_error(req, 400, "bad_id", "event id must be a positive integer");
    char err[256];
    PGconn *conn = db_pool_acquire(req->app->pool, 2000, err, sizeof err);
    if (!conn)
        return api_respond_db_unavailable(req, err);
    bool found = false;
    json_object *out = queue_get(conn, id, &found, err, sizeof err);
    db_pool_release(req->app->pool, conn, !out);
    if (!out)
        return api_respond_db_unavailable(req, err);
    int rc = found ? http_respond_json(req, 200, out)
                   : http_respond_error(req, 404, "not_found", "no event with that id");
    json_object_put(out);
    return rc;
}
