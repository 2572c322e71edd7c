/* errors_api.c: the admin view of failed change events and their requeueing.
 *
 * GET /api/errors?examples= groups failed events by error category with counts, the oldest and
 * newest failure and up to `examples` (0..20, default 3) newest events each.
 * POST /api/events/{id}/retry requeues one failed event (404 unknown id, 409 not_failed when it
 * is not failed) and answers with the event after. POST /api/errors/retry?category= requeues the
 * failed events of one category, or every failed event without `category`, answering
 * {"requeued":n}. The bearer token is checked by the router (ROUTE_ADMIN). Query values are
 * validated here (category names against db/queue_claim.h's table) and reach SQL only as
 * parameters. Must not change events other than failed ones. */
#include "handlers/errors_api.h"

#include "handlers/api_common.h"
#include "db/queue.h"
#include "db/queue_claim.h"
#include "db/queue_errors.h"

#include <stdbool.h>
#include <string.h>

#define DEFAULT_EXAMPLES 3

static bool known_category(const char *name)
{
    for (int c = 0; c < QUEUE_ERR_CATEGORY_COUNT; c++)
        if (strcmp(name, queue_error_category_name((enum queue_error_category)c)) == 0)
            return true;
    return false;
}

int handle_errors_summary(struct http_request *req)
{
    long long examples = DEFAULT_EXAMPLES;
    const char *arg = http_query_arg(req, "examples");
    if (arg && api_parse_int64(arg, 0, QUEUE_ERRORS_MAX_EXAMPLES, &examples) < 0)
        return http_respond_error(req, 400, "bad_query",
                                  "examples must be an integer from 0 to 20");
    char err[256];
    PGconn *conn = db_pool_acquire(req->app->pool, 2000, err, sizeof err);
    if (!conn)
        return api_respond_db_unavailable(req, err);
    json_object *out = queue_errors_summary(conn, (int)examples, err, sizeof err);
    db_pool_release(req->app->pool, conn, !out);
    if (!out)
        return api_respond_db_unavailable(req, err);
    return api_respond_json_owned(req, 200, out);
}

int handle_event_retry(struct http_request *req)
{
    long long id;
    if (api_parse_int64(req->params[0], 1, INT64_MAX, &id) < 0)
        return http_respond_error(req, 400, "bad_id", "event id must be a positive integer");
    char err[256];
    PGconn *conn = db_pool_acquire(req->app->pool, 2000, err, sizeof err);
    if (!conn)
        return api_respond_db_unavailable(req, err);
    int result = queue_retry_event(conn, id, err, sizeof err);
    if (result < 0) {
        db_pool_release(req->app->pool, conn, true);
        return api_respond_db_unavailable(req, err);
    }
    if (result != QUEUE_RETRY_OK) {
        db_pool_release(req->app->pool, conn, false);
        return result == QUEUE_RETRY_NOT_FOUND
                   ? http_respond_error(req, 404, "not_found", "no event with that id")
                   : http_respond_error(req, 409, "not_failed",
                                        "the event is not failed; only failed events are retried");
    }
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

int handle_errors_retry(struct http_request *req)
{
    const char *category = http_query_arg(req, "category");
    if (category && !known_category(category))
        return http_respond_error(req, 400, "bad_query",
                                  "category must be one of validation, duplicate, permission, "
                                  "association, not_found, conversion, retries_exhausted");
    char err[256];
    PGconn *conn = db_pool_acquire(req->app->pool, 2000, err, sizeof err);
    if (!conn)
        return api_respond_db_unavailable(req, err);
    long n = queue_retry_category(conn, category, err, sizeof err);
    db_pool_release(req->app->pool, conn, n < 0);
    if (n < 0)
        return api_respond_db_unavailable(req, err);
    json_object *out = json_object_new_object();
    json_object_object_add(out, "requeued", json_object_new_int64(n));
    return api_respond_json_owned(req, 200, out);
}
