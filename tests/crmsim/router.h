/* router.h: the route table and request dispatch: fault injection, per-CRM auth and limits, handler
 * call, limit headers, stats.
 *
 * Owns the table of every endpoint (router.c). Takes sim->lock around everything but fault latency
 * sleeps. Must not: implement endpoint behaviour. */
#ifndef SYNKRO_TESTS_CRMSIM_ROUTER_H
#define SYNKRO_TESTS_CRMSIM_ROUTER_H

#include "tests/crmsim/http.h"
#include "tests/crmsim/sim.h"

enum route_area {
    AREA_HUBSPOT,
    AREA_HUBSPOT_OAUTH,
    AREA_SALESFORCE,
    AREA_SALESFORCE_OAUTH,
    AREA_SALESFORCE_PUBLIC,
    AREA_SIM,
    AREA_OTHER
};

typedef void (*route_fn)(struct sim *sim, struct http_req *req, struct http_resp *resp);

struct route {
    const char *method;
    const char *pattern; /* "/crm/v3/objects/{type}/{id}"; {version} matches vNN.N */
    enum route_area area;
    route_fn fn;
};

/* Handles one request (caller does not hold sim->lock). */
void router_dispatch(struct sim *sim, struct http_req *req, struct http_resp *resp);
/* Answers a request the transport could not accept (413, malformed URI) in the right CRM's error
 * shape. */
void router_reject(struct sim *sim, struct http_req *req, struct http_resp *resp, int status,
                   const char *message);
/* The route table, for documentation checks in tests ({method, pattern} pairs, NULL-terminated). */
const struct route *router_table(void);

#endif
