/* errors_api.h: GET /api/errors, POST /api/events/{id}/retry and POST /api/errors/retry (admin). */
#ifndef SYNKRO_HANDLERS_ERRORS_API_H
#define SYNKRO_HANDLERS_ERRORS_API_H

#include "handlers/http_request.h"

int handle_errors_summary(struct http_request *req);
int handle_event_retry(struct http_request *req);
int handle_errors_retry(struct http_request *req);

#endif
