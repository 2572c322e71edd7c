/* crm_access.c: per-thread CRM HTTP handles and live schema fetches for the layers
 * above the clients (admin handlers, sweeps, imports).
 *
 * A thread's handle lives in a pthread key whose destructor frees it when
 * the libmicrohttpd worker thread exits, so keep-alive connections are
 * reused across requests without any shared lock. Schemas come from the
 * clients, already normalised with sync/crm_schema: a HubSpot schema is
 * handed over as is; a Salesforce describe is shared by the client's cache
 * (reference-counted), so the caller gets its own sf_object built from the
 * cached document. Must not log secrets: error texts
 * come from struct crm_error, which never holds tokens. */
#include "crm/crm_access.h"

#include "crm/hubspot_client.h"
#include "crm/salesforce_client.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

static pthread_key_t http_key;
static pthread_once_t http_key_once = PTHREAD_ONCE_INIT;

static void free_thread_http(void *p)
{
    crm_http_destroy(p);
}

static void make_key(void)
{
    pthread_key_create(&http_key, free_thread_http);
}

struct crm_http *crm_thread_http(const struct config *cfg)
{
    pthread_once(&http_key_once, make_key);
    struct crm_http *h = pthread_getspecific(http_key);
    if (h)
        return h;
    struct crm_http_options o;
    crm_http_options_from_config(&o, cfg);
    char err[256];
    h = crm_http_create(&o, err, sizeof err);
    if (h)
        pthread_setspecific(http_key, h);
    return h;
}

static int fetch_failed(const struct crm_error *e, const char *what, char *err, size_t errlen)
{
    /* HubSpot answers an unknown object type with 400 "Unable to infer
     * object type from: ..." rather than 404 */
    if (e->http_status == 404 || strcmp(e->code, "NOT_FOUND") == 0 ||
        strcmp(e->code, "OBJECT_NOT_FOUND") == 0 || strcmp(e->code, "INVALID_TYPE") == 0 ||
        (e->http_status == 400 && strstr(e->message, "Unable to infer object type"))) {
        snprintf(err, errlen, "%s does not exist", what);
        return CRM_FETCH_NOT_FOUND;
    }
    snprintf(err, errlen, "cannot read %s: %s", what, e->message);
    return CRM_FETCH_UNAVAILABLE;
}

int crm_fetch_sf_object(const struct crm_clients *crm, const char *object, struct sf_object **out,
                        char *err, size_t errlen)
{
    *out = NULL;
    if (!crm->salesforce) {
        snprintf(err, errlen, "Salesforce API access is not configured: %s",
                 crm->salesforce_unavailable);
        return CRM_FETCH_UNCONFIGURED;
    }
    struct crm_http *h = crm_thread_http(crm->cfg);
    if (!h) {
        snprintf(err, errlen, "cannot create an HTTP handle");
        return CRM_FETCH_UNAVAILABLE;
    }
    const struct salesforce_describe *d = NULL;
    struct crm_error e;
    crm_error_clear(&e);
    char what[300];
    snprintf(what, sizeof what, "the Salesforce object %s", object);
    if (salesforce_describe(crm->salesforce, h, object, &d, &e) != 0)
        return fetch_failed(&e, what, err, errlen);
    *out = sf_object_from_describe(d->raw, err, errlen);
    salesforce_describe_release(d);
    return *out ? CRM_FETCH_OK : CRM_FETCH_UNAVAILABLE;
}

int crm_fetch_hs_object(const struct crm_clients *crm, const char *object, struct hs_object **out,
                        char *err, size_t errlen)
{
    *out = NULL;
    if (!crm->hubspot) {
        snprintf(err, errlen, "HubSpot API access is not configured: %s", crm->hubspot_unavailable);
        return CRM_FETCH_UNCONFIGURED;
    }
    struct crm_http *h = crm_thread_http(crm->cfg);
    if (!h) {
        snprintf(err, errlen, "cannot create an HTTP handle");
        return CRM_FETCH_UNAVAILABLE;
    }
    struct crm_error e;
    crm_error_clear(&e);
    char what[300];
    snprintf(what, sizeof what, "the HubSpot object %s", object);
    if (hubspot_schema_get(crm->hubspot, h, object, out, &e) != 0)
        return fetch_failed(&e, what, err, errlen);
    return CRM_FETCH_OK;
}
