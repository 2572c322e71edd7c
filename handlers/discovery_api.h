/* discovery_api.h: the admin API the setup wizard fills its drop-downs from: the objects of both
 * CRMs, and the fields, properties and association types of one object (/api/salesforce/objects,
 * /api/hubspot/objects and their /{name} children). */
#ifndef SYNKRO_HANDLERS_DISCOVERY_API_H
#define SYNKRO_HANDLERS_DISCOVERY_API_H

#include "handlers/http_request.h"

int handle_salesforce_objects_list(struct http_request *req);
int handle_salesforce_object_get(struct http_request *req);
int handle_hubspot_objects_list(struct http_request *req);
int handle_hubspot_object_get(struct http_request *req);

#endif
