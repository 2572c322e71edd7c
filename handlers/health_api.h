/* health_api.h: GET /api/mappings/{id}/health (a mapping's sync health) and GET /api/budget (the
 * CRM API budget as this process sees it), for the console's Sync health page (admin). */
#ifndef SYNKRO_HANDLERS_HEALTH_API_H
#define SYNKRO_HANDLERS_HEALTH_API_H

#include "handlers/console_query.h" /* HEALTH_MINUTES_MIN, _MAX, _DEFAULT */
#include "handlers/http_request.h"

/* The bucket length (seconds) for a window of minutes: 60 s up to 180 minutes, 300 s up to 1000
 * minutes, else 900 s, so at most 200 buckets come back. */
int health_bucket_seconds(int minutes);

int handle_mapping_health(struct http_request *req);
int handle_budget(struct http_request *req);

#endif
