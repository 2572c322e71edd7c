/* webhook_salesforce.h: POST /webhooks/salesforce (outbound messages). */
#ifndef SYNKRO_HANDLERS_WEBHOOK_SALESFORCE_H
#define SYNKRO_HANDLERS_WEBHOOK_SALESFORCE_H

#include "handlers/http_request.h"

int handle_webhook_salesforce(struct http_request *req);

#endif
