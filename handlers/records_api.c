/* records_api.c: a record's history for the console (issue 12): GET /api/records (find linked
 * records by Salesforce id, 15 or 18 characters, HubSpot id, or the start of their label, newest
 * link first), GET /api/records/{id} (the link, its mapping, state and the last-synced value of
 * every mapped field) and GET /api/records/{id}/timeline (what the engine saw and did, newest
 * first). Both lists are keyset-paged: `next` of an answer is the cursor of the next page
 * (`after` for the records, `before` for the timeline), null on the last page.
 *
 * The router checks the token (ROUTE_ADMIN). Every query value is validated here (400 with what is
 * allowed) and reaches SQL only as a parameter (db/history_store.c); unknown parameters are
 * ignored, as in /api/events. Must not change any row. */
#include "handlers/records_api.h"

#include "handlers/api_common.h"
#include "db/history_store.h"
#include "db/pool.h"

#include <string.h>

#define RECORDS_DEFAULT_LIMIT  50
#define TIMELINE_DEFAULT_LIMIT 50

/* A cursor: what an answer's next holds, a positive decimal id. */
static bool cursor_ok(const char *s)
{
    long long v;
    return api_parse_int64(s, 1, INT64_MAX, &v) == 0;
}

/* Search text: 1..HISTORY_QUERY_MAX bytes without control characters. */
static bool query_ok(const char *q)
{
    size_t n = strlen(q);
    if (n == 0 || n > HISTORY_QUERY_MAX)
        return false;
    for (const unsigned char *p = (const unsigned char *)q; *p; p++)
        if (*p < 0x20 || *p == 0x7f)
            return false;
    return true;
}

/* limit into *out (default when absent); false when present and outside 1..max. */
static bool limit_arg(struct http_request *req, long long max, long long def, int *out)
{
    const char *s = http_query_arg(req, "limit");
    long long v = def;
    if (s && api_parse_int64(s, 1, max, &v) < 0)
        return false;
    *out = (int)v;
    return true;
}

int handle_records_search(struct http_request *req)
{
    struct record_query rq = {.q = http_query_arg(req, "q"), .after = http_query_arg(req, "after")};
    if (rq.q && !query_ok(rq.q))
        return http_respond_error(req, 400, "bad_query",
                                  "q must be 1 to 200 characters without control characters: a"
                                  " Salesforce id, a HubSpot id or the start of a record's name");
    const char *mapping = http_query_arg(req, "mapping");
    long long mid = 0;
    if (mapping && api_parse_int64(mapping, 1, INT64_MAX, &mid) < 0)
        return http_respond_error(req, 400, "bad_query", "mapping must be a positive mapping id");
    rq.mapping_id = mid;
    if (!limit_arg(req, 100, RECORDS_DEFAULT_LIMIT, &rq.limit))
        return http_respond_error(req, 400, "bad_query", "limit must be an integer from 1 to 100");
    if (rq.after && !cursor_ok(rq.after))
        return http_respond_error(req, 400, "bad_query",
                                  "after must be the next value of a previous answer");
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
    if (!limit_arg(req, 200, TIMELINE_DEFAULT_LIMIT, &limit))
        return http_respond_error(req, 400, "bad_query", "limit must be an integer from 1 to 200");
    const char *before = http_query_arg(req, "before");
    if (before && !cursor_ok(before))
        return http_respond_error(req, 400, "bad_query",
                                  "before must be the next value of a previous answer");
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
