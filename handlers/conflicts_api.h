/* conflicts_api.h: GET /api/conflicts (admin): the conflicts the sync engine resolved. */
#ifndef SYNKRO_HANDLERS_CONFLICTS_API_H
#define SYNKRO_HANDLERS_CONFLICTS_API_H

#include "handlers/http_request.h"

int handle_conflicts_list(struct http_request *req);

#endif
