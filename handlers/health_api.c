/* health_api.c: the data of the console's Sync health page.
 *
 * GET /api/mappings/{id}/health?minutes= (5..1440, default 60) answers db/health_stats.h's
 * object for the last `minutes`, in buckets of health_bucket_seconds(minutes); 400 bad_id or
 * bad_query (the message names the range), 404 not_found for an unknown mapping.
 * GET /api/budget answers crm/crm_budget.h's object from the live limiters and counters of this
 * process's CRM clients (req->app->crm). The bearer token is checked by the router
 * (ROUTE_ADMIN). Query values are validated here and reach SQL only as parameters.
 * Must not: change any row or any limiter. */
#include "handlers/health_api.h"

#include "handlers/api_common.h"
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

/* minutes as plain decimal digits (no sign, space or exponent) within the API's range. */
static int parse_minutes(const char *arg, long long *out)
{
    size_t n = strspn(arg, "0123456789");
    if (n == 0 || n > 4 || arg[n] != '\0')
        return -1;
    return api_parse_int64(arg, HEALTH_MINUTES_MIN, HEALTH_MINUTES_MAX, out);
}

int handle_mapping_health(struct http_request *req)
{
    int64_t id;
    if (api_parse_id(req->params[0], &id) < 0)
        return http_respond_error(req, 400, "bad_id", "mapping id must be a positive integer");
    long long minutes = HEALTH_MINUTES_DEFAULT;
    const char *arg = http_query_arg(req, "minutes");
    if (arg && parse_minutes(arg, &minutes) < 0)
        return http_respond_error(req, 400, "bad_query",
                                  "minutes must be an integer from 5 to 1440");
    struct health_stats_query q = {
        .mapping_id = id, .minutes = (int)minutes, .bucket_s = health_bucket_seconds((int)minutes)};
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
