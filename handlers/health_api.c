/* health_api.c: the data of the console's Sync health page.
 *
 * GET /api/mappings/{id}/health?minutes= (5..1440, default 60) answers db/health_stats.h's
 * object for the last `minutes`, in buckets of health_bucket_seconds(minutes); 400 bad_id or
 * bad_query (the message names the range), 404 not_found for an unknown mapping.
 * GET /api/budget answers crm/crm_budget.h's object from the live limiters and counters of this
 * process's CRM clients (req->app->crm). The bearer token is checked by the router
 * (ROUTE_ADMIN). Query values are validated by handlers/console_query.c and reach SQL only as
 * parameters.
 * Must not: change any row or any limiter. */
#include "handlers/health_api.h"

#include "handlers/api_common.h"
#include "handlers/console_query.h"
#include "db/health_stats.h"
#include "db/pool.h"
#include "crm/crm_budget.h"
#include "base/clock.h"

#include <string.h>

/* Bucket lengths by the longest window each serves (at most 200 buckets each). */
static const struct {
    int max_minutes;
    int bucket_s;
} buckets[] = {
    {180, 60},
    {1000, 300},
    {HEALTH_MINUTES_MAX, 900},
};

int health_bucket_seconds(int minutes)
{
    for (size_t i = 0; i < sizeof buckets / sizeof buckets[0]; i++)
        if (minutes <= buckets[i].max_minutes)
            return buckets[i].bucket_s;
    return buckets[sizeof buckets / sizeof buckets[0] - 1].bucket_s;
}

int handle_mapping_health(struct http_request *req)
{
    int64_t id;
    if (api_parse_id(req->params[0], &id) < 0)
        return http_respond_error(req, 400, "bad_id", "mapping id must be a positive integer");
    int minutes;
    struct console_query cq = console_query_of(req);
    const char *bad = console_query_health(&cq, &minutes);
    if (bad)
        return http_respond_error(req, 400, "bad_query", bad);
    struct health_stats_query q = {
        .mapping_id = id, .minutes = minutes, .bucket_s = health_bucket_seconds(minutes)};
    char err[256];
    PGconn *conn = db_pool_acquire(req->app->pool, 2000, err, sizeof err);
    if (!conn)
        return api_respond_db_unavailable(req, err);
    json_object *out = NULL;
    int rc = health_stats_mapping(conn, &q, &out, err, sizeof err);
    db_pool_release(req->app->pool, conn, rc < 0);
    if (rc < 0)
        return api_respond_db_unavailable(req, err);
    if (rc == HEALTH_STATS_NOT_FOUND)
        return http_respond_error(req, 404, "not_found", "no mapping with that id");
    return api_respond_json_owned(req, 200, out);
}

int handle_budget(struct http_request *req)
{
    json_object *out = crm_budget_json(&req->app->crm, clock_wall_ms());
    if (!out)
        return http_respond_error(req, 500, "internal", "out of memory");
    return api_respond_json_owned(req, 200, out);
}
