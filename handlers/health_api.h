/* health_api.h: GET /api/mappings/{id}/health (a mapping's sync health) and GET /api/budget (the
 * CRM API budget as this process sees it), for the console's Sync health page (admin). */
#ifndef SYNKRO_HANDLERS_HEALTH_API_H
#define SYNKRO_HANDLERS_HEALTH_API_H

#include "handlers/http_request.h"

/* Minutes of the health window: the API's range and default. */
#define HEALTH_MINUTES_MIN     5
#define HEALTH_MINUTES_MAX     1440
#define HEALTH_MINUTES_DEFAULT 60

/* The bucket length (seconds) for a window of minutes: 60 s up to 180 minutes, 300 s up to 1000
 * minutes, else 900 s, so at most 200 buckets come back. */
int health_bucket_seconds(int minutes);

int handle_mapping_health(struct http_request *req);
int handle_budget(struct http_request *req);

#endif
