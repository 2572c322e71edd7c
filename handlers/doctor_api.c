/* doctor_api.c: GET /api/doctor[?window_s=N] answers 200 with sync/doctor.h's document
 * {"status":"ok|warn|fail","checks":[...],"registrations":[...]}, whatever the checks found (a
 * failed check is a finding, not an HTTP error); 400 bad_query for a window_s outside 60 to
 * 2592000 seconds (default 86400, how long without notifications is suspicious); 500 when out of
 * memory. The bearer token is checked by the router (ROUTE_ADMIN).
 * Must not: run the checks itself (sync/doctor.c does) or change anything. */
#include "handlers/doctor_api.h"

#include "handlers/api_common.h"
#include "handlers/app.h"
#include "sync/doctor.h"

int handle_doctor(struct http_request *req)
{
    long long window = 86400;
    const char *arg = http_query_arg(req, "window_s");
    if (arg && api_parse_int64(arg, 60, 2592000, &window) < 0)
        return http_respond_error(req, 400, "bad_query",
                                  "window_s must be an integer from 60 to 2592000");
    struct doctor_options o = {
        .cfg = req->app->cfg,
        .crm = &req->app->crm,
        .pool = req->app->pool,
        .webhook_window_s = (long)window,
    };
    json_object *doc = doctor_run(&o);
    if (!doc)
        return http_respond_error(req, 500, "internal", "out of memory");
    int rc = http_respond_json(req, 200, doc);
    json_object_put(doc);
    return rc;
}
