/* health.h: liveness, readiness and metrics endpoints. */
#ifndef SYNKRO_HANDLERS_HEALTH_H
#define SYNKRO_HANDLERS_HEALTH_H

#include "handlers/http_request.h"

/* Registers synkro_db_up; call once at start, before serving. */
void health_init(void);

int handle_healthz(struct http_request *req);
int handle_readyz(struct http_request *req);
int handle_metrics(struct http_request *req);

/* Checks the database and the migrations. Returns 0 when ready, else -1
 * with the reason in reason. Used by /readyz and the janitor. */
int health_check_ready(struct app *app, char *reason, size_t reasonlen);

#endif
