/* console_query.h: the query strings of the console's read APIs, parsed and validated apart from
 * the request, so that the handlers and the fuzz target (tests/fuzz/fuzz_console_query.c) run
 * the same code: GET /api/records, /api/records/{id}/timeline, /api/conflicts and
 * /api/mappings/{id}/health.
 *
 * A parser reads its parameters through a lookup (the request's decoded query arguments in the
 * handlers) and answers NULL with *out filled, or the 400 message naming what is allowed. Values
 * that reach db/ as text (search text, cursors) are only passed on when db/ accepts them too.
 * Must not: touch the database, allocate, or keep anything of the lookup's strings beyond the
 * request (out's strings are the lookup's). */
#ifndef SYNKRO_HANDLERS_CONSOLE_QUERY_H
#define SYNKRO_HANDLERS_CONSOLE_QUERY_H

#include "handlers/http_request.h"
#include "db/history_store.h"
#include "db/link_store.h"

#include <stdbool.h>

/* Minutes of the health window: the API's range and default. */
#define HEALTH_MINUTES_MIN     5
#define HEALTH_MINUTES_MAX     1440
#define HEALTH_MINUTES_DEFAULT 60

/* The value of query parameter name, or NULL when absent. */
typedef const char *(*console_query_arg_fn)(void *ud, const char *name);

struct console_query {
    console_query_arg_fn arg;
    void *ud;
};

/* The request's own query arguments (decoded by libmicrohttpd). */
struct console_query console_query_of(struct http_request *req);

/* A keyset cursor (a previous answer's next): 1 to 19 decimal digits, 1..INT64_MAX, no sign or
 * blank. */
bool console_query_cursor_ok(const char *s);

/* GET /api/records?q=&mapping=&limit=&after= */
const char *console_query_records(const struct console_query *q, struct record_query *out);

/* GET /api/records/{id}/timeline?limit=&before= (before NULL: from the newest) */
const char *console_query_timeline(const struct console_query *q, int *limit, const char **before);

/* GET /api/conflicts?mapping_id=&salesforce_id=&hubspot_id=&field=&winner=&record=&before=&limit=
 */
const char *console_query_conflicts(const struct console_query *q, struct conflict_filter *out);

/* GET /api/mappings/{id}/health?minutes= (HEALTH_MINUTES_MIN..MAX, default _DEFAULT) */
const char *console_query_health(const struct console_query *q, int *minutes);

#endif
