/* webhook_hubspot.h: POST /webhooks/hubspot (signed JSON event batches). */
#ifndef SYNKRO_HANDLERS_WEBHOOK_HUBSPOT_H
#define SYNKRO_HANDLERS_WEBHOOK_HUBSPOT_H

#include "handlers/http_request.h"

int handle_webhook_hubspot(struct http_request *req);

#endif
