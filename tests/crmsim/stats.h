/* stats.h: call counters and the recent-request log served by GET /_sim/stats.
 *
 * Owns sim->stats: counts per (method, route pattern, status) and a ring of the last
 * request_log_size requests (method, path, query, headers without Authorization/Cookie, body
 * truncated to request_log_body_max, status). Callers hold sim->lock. Must not: record /_sim/ calls
 * (the router skips them) or any credential header. */
#ifndef SYNKRO_TESTS_CRMSIM_STATS_H
#define SYNKRO_TESTS_CRMSIM_STATS_H

#include <json-c/json.h>

#include "tests/crmsim/http.h"
#include "tests/crmsim/sim.h"

void stats_record(struct sim *sim, const struct http_req *req, const struct http_resp *resp,
                  const char *route);
/* The stats document; recent requests filtered by path_prefix (may be NULL) and capped at limit
 * (<0: all). */
json_object *stats_to_json(struct sim *sim, const char *path_prefix, int64_t limit);
void stats_reset(struct sim *sim);

#endif
