/* routes.h: the route table and the matcher that resolves a request to it.
 *
 * A route is (method, pattern, name, handler, flags, accepted content types).
 * Patterns are literal segments and `{name}` captures of one segment:
 * "/api/events/{id}". The matcher distinguishes "no such path" (404) from
 * "path exists, method does not" (405, with the Allow list). The `name` is
 * the bounded label used in metrics, never the raw path. */
#ifndef SYNKRO_SERVER_ROUTES_H
#define SYNKRO_SERVER_ROUTES_H

#include "handlers/http_request.h"

#include <stdbool.h>
#include <stddef.h>

enum route_flags {
    ROUTE_ADMIN = 1 << 0,   /* needs a user's bearer token or a console session (+ CSRF) */
    ROUTE_NO_BODY = 1 << 1, /* a body is refused with 413 */
    ROUTE_CONSOLE = 1 << 2, /* console page, asset or sign-in: security headers, admin plane
                               only (404 on SYNKRO_LISTEN when SYNKRO_ADMIN_LISTEN is set), 404
                               when SYNKRO_CONSOLE=off; no authorisation by the router */
    ROUTE_PROBE = 1 << 3,   /* answered also on the probe reserve's connections (http_guard.h) */
};

struct route {
    const char *method;
    const char *pattern;
    const char *name;
    http_handler_fn handler;
    unsigned flags;
    const char *const *content_types; /* NULL: any; else accepted media types */
};

enum route_result { ROUTE_FOUND, ROUTE_METHOD_NOT_ALLOWED, ROUTE_NOT_FOUND };

struct route_match {
    const struct route *route;
    char params[HTTP_MAX_PARAMS][128];
    size_t nparams;
    char allow[128]; /* for 405: "GET, HEAD" */
};

/* Resolves method+path in table. HEAD matches GET routes. */
enum route_result route_find(const struct route *table, size_t n, const char *method,
                             const char *path, struct route_match *m);

/* True when the request's Content-Type (media type before ';',
 * case-insensitive) is one the route accepts. */
bool route_content_type_ok(const struct route *r, const char *content_type);

/* The service's route table. */
const struct route *routes_table(size_t *n);

#endif
