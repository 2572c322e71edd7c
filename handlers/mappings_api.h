/* mappings_api.h: the admin API of sync mappings (/api/mappings...). */
#ifndef SYNKRO_HANDLERS_MAPPINGS_API_H
#define SYNKRO_HANDLERS_MAPPINGS_API_H

#include "handlers/http_request.h"

int handle_mappings_list(struct http_request *req);
int handle_mappings_create(struct http_request *req);
int handle_mappings_get(struct http_request *req);
int handle_mappings_update(struct http_request *req);
int handle_mappings_delete(struct http_request *req);
int handle_mappings_validate(struct http_request *req);
int handle_mappings_enable(struct http_request *req);
int handle_mappings_pause(struct http_request *req);
int handle_mappings_history(struct http_request *req);
int handle_mappings_export(struct http_request *req);
int handle_mappings_import(struct http_request *req);
int handle_mappings_preview(struct http_request *req);

#endif
