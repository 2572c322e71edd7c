/* records_api.h: the console's record history API (admin): find a linked record, show its link
 * with the last-synced values, and its timeline (docs: the console contract). */
#ifndef SYNKRO_HANDLERS_RECORDS_API_H
#define SYNKRO_HANDLERS_RECORDS_API_H

#include "handlers/http_request.h"

/* GET /api/records?q=&mapping=&limit=&after= */
int handle_records_search(struct http_request *req);
/* GET /api/records/{id} */
int handle_records_get(struct http_request *req);
/* GET /api/records/{id}/timeline?limit=&before= */
int handle_records_timeline(struct http_request *req);

#endif
