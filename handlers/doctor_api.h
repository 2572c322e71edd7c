/* doctor_api.h: GET /api/doctor (admin): the deployment checks of sync/doctor.h. */
#ifndef SYNKRO_HANDLERS_DOCTOR_API_H
#define SYNKRO_HANDLERS_DOCTOR_API_H

#include "handlers/http_request.h"

int handle_doctor(struct http_request *req);

#endif
