/* imports_api.h: the admin API of imports: GET /api/mappings/{id}/import/estimate,
 * POST /api/mappings/{id}/imports, GET /api/imports, GET /api/imports/{id},
 * POST /api/imports/{id}/cancel. */
#ifndef SYNKRO_HANDLERS_IMPORTS_API_H
#define SYNKRO_HANDLERS_IMPORTS_API_H

#include "handlers/http_request.h"

int handle_import_estimate(struct http_request *req);
int handle_imports_create(struct http_request *req);
int handle_imports_list(struct http_request *req);
int handle_imports_get(struct http_request *req);
int handle_import_cancel(struct http_request *req);

#endif
