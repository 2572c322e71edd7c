/* crm_access.h: what the layers above the clients need from them: a reusable per-thread HTTP
 * handle, and live schemas in the normalised form the mapping validator reads (crm/crm_schema.h).
 */
#ifndef SYNKRO_CRM_CRM_ACCESS_H
#define SYNKRO_CRM_CRM_ACCESS_H

#include "base/config.h"
#include "crm/crm_clients.h"
#include "crm/crm_http.h"
#include "crm/crm_schema.h"

#include <stdbool.h>
#include <stddef.h>

/* This thread's CRM HTTP handle (created on first use, freed when the
 * thread exits). NULL on failure. */
struct crm_http *crm_thread_http(const struct config *cfg);

enum crm_fetch_result {
    CRM_FETCH_OK = 0,
    CRM_FETCH_NOT_FOUND = -1,    /* the CRM says the object does not exist */
    CRM_FETCH_UNCONFIGURED = -2, /* no API access configured for that CRM */
    CRM_FETCH_UNAVAILABLE = -3,  /* the call failed (network, auth, limits) */
};

/* Live Salesforce describe of object, normalised. Caller frees *out. */
int crm_fetch_sf_object(const struct crm_clients *crm, const char *object, struct sf_object **out,
                        char *err, size_t errlen);
/* Live HubSpot schema of object (objectTypeId or fully qualified name, or a
 * standard object type id such as 0-2), normalised. Caller frees *out. */
int crm_fetch_hs_object(const struct crm_clients *crm, const char *object, struct hs_object **out,
                        char *err, size_t errlen);

#endif
