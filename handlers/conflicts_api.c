/* conflicts_api.c: the admin view of resolved conflicts (sync_conflicts).
 *
 * GET /api/conflicts?mapping_id=&salesforce_id=&hubspot_id=&field=&winner=&record=&before=&limit=
 * lists conflicts newest first with keyset paging (`before` is the last id seen; the answer's
 * next_before is the cursor for the next page), limit 1..500 (default 100). `field` matches the
 * Salesforce field or the HubSpot property; a 15-character salesforce_id matches the stored
 * 18-character one; `winner` is salesforce or hubspot; `record` matches either id (a Salesforce
 * one as salesforce_id does). Each filter is served by an index (migration 0010). The bearer token
 * is checked by the router (ROUTE_ADMIN). Query values are validated by handlers/console_query.c (a
 * table of the numeric ones with their ranges) and reach SQL only as parameters; unknown parameters
 * are ignored, as in /api/events. Must not change any row. */
#include "handlers/conflicts_api.h"

#include "handlers/api_common.h"
#include "handlers/console_query.h"
#include "db/link_store.h"
#include "db/pool.h"

int handle_conflicts_list(struct http_request *req)
{
    struct conflict_filter f;
    struct console_query q = console_query_of(req);
    const char *bad = console_query_conflicts(&q, &f);
    if (bad)
        return http_respond_error(req, 400, "bad_query", bad);
    char err[256];
    PGconn *conn = db_pool_acquire(req->app->pool, 2000, err, sizeof err);
    if (!conn)
        return api_respond_db_unavailable(req, err);
    json_object *out = conflict_list(conn, &f, err, sizeof err);
    db_pool_release(req->app->pool, conn, !out);
    if (!out)
        return api_respond_db_unavailable(req, err);
    return api_respond_json_owned(req, 200, out);
}
