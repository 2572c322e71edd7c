/* conflicts_api.c: the admin view of resolved conflicts (sync_conflicts).
 *
 * GET /api/conflicts?mapping_id=&salesforce_id=&hubspot_id=&field=&winner=&record=&before=&limit=
 * lists conflicts newest first with keyset paging (`before` is the last id seen; the answer's
 * next_before is the cursor for the next page), limit 1..500 (default 100). `field` matches the
 * Salesforce field or the HubSpot property; a 15-character salesforce_id matches the stored
 * 18-character one; `winner` is salesforce or hubspot; `record` matches either id (a Salesforce
 * one as salesforce_id does). Each filter is served by an index (migration 0010). The bearer token
 * is checked by the router (ROUTE_ADMIN). Query values are validated here (a table of the numeric
 * ones with their ranges) and reach SQL only as parameters; unknown parameters are ignored, as in
 * /api/events. Must not change any row. */
#include "handlers/conflicts_api.h"

#include "handlers/api_common.h"
#include "db/link_store.h"
#include "db/pool.h"

#include <string.h>

#define DEFAULT_LIMIT 100
#define MAX_LIMIT     500
#define MAX_ID_LEN    64

/* Numeric query parameters: name, range, and the message when a value is out of it. */
static const struct {
    const char *name;
    long long min, max;
    const char *message;
} numeric_args[] = {
    {"mapping_id", 1, INT64_MAX, "mapping_id must be a positive integer"},
    {"before", 1, INT64_MAX, "before must be a positive conflict id"},
    {"limit", 1, MAX_LIMIT, "limit must be an integer from 1 to 500"},
};

/* Text query parameters: name, and the message when a value is empty or too long. */
static const struct {
    const char *name;
    const char *message;
} text_args[] = {
    {"salesforce_id", "salesforce_id must be 1 to 64 characters"},
    {"hubspot_id", "hubspot_id must be 1 to 64 characters"},
    {"field", "field must be 1 to 64 characters"},
    {"record", "record must be 1 to 64 characters"},
    {"winner", "winner must be salesforce or hubspot"},
};

/* Fills f from the query; NULL, or the message of the first bad parameter. */
static const char *parse_filter(struct http_request *req, struct conflict_filter *f)
{
    long long values[sizeof numeric_args / sizeof numeric_args[0]] = {0, 0, DEFAULT_LIMIT};
    for (size_t i = 0; i < sizeof numeric_args / sizeof numeric_args[0]; i++) {
        const char *arg = http_query_arg(req, numeric_args[i].name);
        if (arg && api_parse_int64(arg, numeric_args[i].min, numeric_args[i].max, &values[i]) < 0)
            return numeric_args[i].message;
    }
    const char *texts[sizeof text_args / sizeof text_args[0]];
    for (size_t i = 0; i < sizeof text_args / sizeof text_args[0]; i++) {
        texts[i] = http_query_arg(req, text_args[i].name);
        if (texts[i] && (!*texts[i] || strlen(texts[i]) > MAX_ID_LEN))
            return text_args[i].message;
    }
    const char *winner = texts[4];
    if (winner && strcmp(winner, "salesforce") != 0 && strcmp(winner, "hubspot") != 0)
        return text_args[4].message;
    *f = (struct conflict_filter){.mapping_id = values[0],
                                  .before_id = values[1],
                                  .limit = (int)values[2],
                                  .salesforce_id = texts[0],
                                  .hubspot_id = texts[1],
                                  .field = texts[2],
                                  .record = texts[3],
                                  .winner = winner};
    return NULL;
}

int handle_conflicts_list(struct http_request *req)
{
    struct conflict_filter f;
    const char *bad = parse_filter(req, &f);
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
