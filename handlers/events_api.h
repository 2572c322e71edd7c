/* events_api.h: GET /api/events and GET /api/events/{id} (admin). */
#ifndef SYNKRO_HANDLERS_EVENTS_API_H
#define SYNKRO_HANDLERS_EVENTS_API_H

#include "handlers/http_request.h"

int handle_events_list(struct http_request *req);
int handle_events_get(struct http_request *req);

#endif
