/* routes.c: the table of every HTTP endpoint synkro serves, and its matcher.
 *
 * Adding an endpoint means adding one row here and a handler in handlers/.
 * Must not contain handler logic. */
#include "server/routes.h"

#include "handlers/conflicts_api.h"
#include "handlers/console_static.h"
#include "handlers/discovery_api.h"
#include "handlers/doctor_api.h"
#include "handlers/errors_api.h"
#include "handlers/events_api.h"
#include "handlers/health.h"
#include "handlers/health_api.h"
#include "handlers/imports_api.h"
#include "handlers/mappings_api.h"
#include "handlers/session_api.h"
#include "handlers/records_api.h"
#include "handlers/webhook_hubspot.h"
#include "handlers/webhook_salesforce.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

static const char *const soap_types[] = {"text/xml", "application/xml", "application/soap+xml",
                                         NULL};
static const char *const json_types[] = {"application/json", NULL};

static const struct route service_routes[] = {
    {"POST", "/webhooks/salesforce", "webhook_salesforce", handle_webhook_salesforce, 0,
     soap_types},
    {"POST", "/webhooks/hubspot", "webhook_hubspot", handle_webhook_hubspot, 0, json_types},
    {"GET", "/api/events", "events_list", handle_events_list, ROUTE_ADMIN | ROUTE_NO_BODY, NULL},
    {"GET", "/api/events/{id}", "events_get", handle_events_get, ROUTE_ADMIN | ROUTE_NO_BODY, NULL},
    {"POST", "/api/events/{id}/retry", "event_retry", handle_event_retry, ROUTE_ADMIN, NULL},
    {"GET", "/api/errors", "errors_summary", handle_errors_summary, ROUTE_ADMIN | ROUTE_NO_BODY,
     NULL},
    {"POST", "/api/errors/retry", "errors_retry", handle_errors_retry, ROUTE_ADMIN, NULL},
    {"GET", "/api/conflicts", "conflicts_list", handle_conflicts_list, ROUTE_ADMIN | ROUTE_NO_BODY,
     NULL},
    {"GET", "/api/mappings", "mappings_list", handle_mappings_list, ROUTE_ADMIN | ROUTE_NO_BODY,
     NULL},
    {"POST", "/api/mappings", "mappings_create", handle_mappings_create, ROUTE_ADMIN, json_types},
    {"GET", "/api/mappings/export", "mappings_export", handle_mappings_export,
     ROUTE_ADMIN | ROUTE_NO_BODY, NULL},
    {"POST", "/api/mappings/import", "mappings_import", handle_mappings_import, ROUTE_ADMIN,
     json_types},
    {"GET", "/api/mappings/{id}", "mappings_get", handle_mappings_get, ROUTE_ADMIN | ROUTE_NO_BODY,
     NULL},
    {"PUT", "/api/mappings/{id}", "mappings_update", handle_mappings_update, ROUTE_ADMIN,
     json_types},
    {"DELETE", "/api/mappings/{id}", "mappings_delete", handle_mappings_delete,
     ROUTE_ADMIN | ROUTE_NO_BODY, NULL},
    {"POST", "/api/mappings/{id}/validate", "mappings_validate", handle_mappings_validate,
     ROUTE_ADMIN, NULL},
    {"POST", "/api/mappings/{id}/enable", "mappings_enable", handle_mappings_enable, ROUTE_ADMIN,
     NULL},
    {"POST", "/api/mappings/{id}/pause", "mappings_pause", handle_mappings_pause, ROUTE_ADMIN,
     NULL},
    {"GET", "/api/mappings/{id}/history", "mappings_history", handle_mappings_history,
     ROUTE_ADMIN | ROUTE_NO_BODY, NULL},
    {"GET", "/api/mappings/{id}/health", "mapping_health", handle_mapping_health,
     ROUTE_ADMIN | ROUTE_NO_BODY, NULL},
    {"GET", "/api/budget", "budget", handle_budget, ROUTE_ADMIN | ROUTE_NO_BODY, NULL},
    {"GET", "/api/salesforce/objects", "salesforce_objects_list", handle_salesforce_objects_list,
     ROUTE_ADMIN | ROUTE_NO_BODY, NULL},
    {"GET", "/api/salesforce/objects/{name}", "salesforce_object_get", handle_salesforce_object_get,
     ROUTE_ADMIN | ROUTE_NO_BODY, NULL},
    {"GET", "/api/hubspot/objects", "hubspot_objects_list", handle_hubspot_objects_list,
     ROUTE_ADMIN | ROUTE_NO_BODY, NULL},
    {"GET", "/api/hubspot/objects/{type}", "hubspot_object_get", handle_hubspot_object_get,
     ROUTE_ADMIN | ROUTE_NO_BODY, NULL},
    {"GET", "/api/mappings/{id}/preview", "mappings_preview", handle_mappings_preview,
     ROUTE_ADMIN | ROUTE_NO_BODY, NULL},
    {"GET", "/api/mappings/{id}/import/estimate", "import_estimate", handle_import_estimate,
     ROUTE_ADMIN | ROUTE_NO_BODY, NULL},
    {"POST", "/api/mappings/{id}/imports", "imports_create", handle_imports_create, ROUTE_ADMIN,
     NULL},
    {"GET", "/api/imports", "imports_list", handle_imports_list, ROUTE_ADMIN | ROUTE_NO_BODY, NULL},
    {"GET", "/api/imports/{id}", "imports_get", handle_imports_get, ROUTE_ADMIN | ROUTE_NO_BODY,
     NULL},
    {"POST", "/api/imports/{id}/cancel", "import_cancel", handle_import_cancel, ROUTE_ADMIN, NULL},
    {"GET", "/api/doctor", "doctor", handle_doctor, ROUTE_ADMIN | ROUTE_NO_BODY, NULL},
    {"POST", "/api/session", "session_create", handle_session_create, ROUTE_CONSOLE, json_types},
    {"GET", "/api/session", "session_get", handle_session_get, ROUTE_CONSOLE | ROUTE_NO_BODY, NULL},
    {"DELETE", "/api/session", "session_delete", handle_session_delete,
     ROUTE_CONSOLE | ROUTE_NO_BODY, NULL},
    {"POST", "/api/session/codes", "signin_code_create", handle_signin_code_create,
     ROUTE_ADMIN | ROUTE_CONSOLE | ROUTE_NO_BODY, NULL},
    {"GET", "/signin", "signin_link", handle_signin_link, ROUTE_CONSOLE | ROUTE_NO_BODY, NULL},
    {"GET", "/api/records", "records_search", handle_records_search, ROUTE_ADMIN | ROUTE_NO_BODY,
     NULL},
    {"GET", "/api/records/{id}", "records_get", handle_records_get, ROUTE_ADMIN | ROUTE_NO_BODY,
     NULL},
    {"GET", "/api/records/{id}/timeline", "records_timeline", handle_records_timeline,
     ROUTE_ADMIN | ROUTE_NO_BODY, NULL},
    {"GET", "/", "console_index", handle_console_index, ROUTE_CONSOLE | ROUTE_NO_BODY, NULL},
    {"GET", "/console/{file}", "console_file", handle_console_file, ROUTE_CONSOLE | ROUTE_NO_BODY,
     NULL},
    {"GET", "/console/{dir}/{file}", "console_page", handle_console_file,
     ROUTE_CONSOLE | ROUTE_NO_BODY, NULL},
    {"GET", "/ui", "console_ui", handle_console_redirect, ROUTE_CONSOLE | ROUTE_NO_BODY, NULL},
    {"GET", "/admin", "console_admin", handle_console_redirect, ROUTE_CONSOLE | ROUTE_NO_BODY,
     NULL},
    {"GET", "/healthz", "healthz", handle_healthz, ROUTE_NO_BODY | ROUTE_PROBE, NULL},
    {"GET", "/readyz", "readyz", handle_readyz, ROUTE_NO_BODY | ROUTE_PROBE, NULL},
    {"GET", "/metrics", "metrics", handle_metrics, ROUTE_NO_BODY | ROUTE_PROBE, NULL},
};

const struct route *routes_table(size_t *n)
{
    *n = sizeof service_routes / sizeof service_routes[0];
    return service_routes;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Percent-decodes one path segment into out; -1 when too long or when it
 * decodes to a NUL or a slash. */
static int decode_segment(const char *s, size_t len, char *out, size_t outlen)
{
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (c == '%' && i + 2 < len) {
            int hi = hexval(s[i + 1]);
            int lo = hexval(s[i + 2]);
            if (hi >= 0 && lo >= 0) {
                c = (char)(hi * 16 + lo);
                i += 2;
                if (c == '\0' || c == '/')
                    return -1;
            }
        }
        if (o + 1 >= outlen)
            return -1;
        out[o++] = c;
    }
    out[o] = '\0';
    return 0;
}

/* Matches path against pattern, capturing {params}. */
static bool pattern_match(const char *pattern, const char *path, struct route_match *m)
{
    size_t nparams = 0;
    const char *p = pattern, *s = path;
    while (*p && *s) {
        if (*p != '/' || *s != '/')
            return false;
        p++;
        s++;
        size_t plen = strcspn(p, "/");
        size_t slen = strcspn(s, "/");
        if (plen >= 2 && p[0] == '{' && p[plen - 1] == '}') {
            if (slen == 0 || nparams >= HTTP_MAX_PARAMS)
                return false;
            if (decode_segment(s, slen, m->params[nparams], sizeof m->params[0]) < 0)
                return false;
            nparams++;
        } else if (plen != slen || strncmp(p, s, plen) != 0) {
            return false;
        }
        p += plen;
        s += slen;
    }
    if (*p || *s)
        return false;
    m->nparams = nparams;
    return true;
}

enum route_result route_find(const struct route *table, size_t n, const char *method,
                             const char *path, struct route_match *m)
{
    memset(m, 0, sizeof *m);
    bool path_found = false;
    size_t allow_len = 0;
    for (size_t i = 0; i < n; i++) {
        struct route_match tmp;
        memset(&tmp, 0, sizeof tmp);
        if (!pattern_match(table[i].pattern, path, &tmp))
            continue;
        bool same = strcmp(table[i].method, method) == 0 ||
                    (strcmp(method, "HEAD") == 0 && strcmp(table[i].method, "GET") == 0);
        if (same) {
            memcpy(m->params, tmp.params, sizeof m->params);
            m->nparams = tmp.nparams;
            m->route = &table[i];
            return ROUTE_FOUND;
        }
        path_found = true;
        int w = snprintf(m->allow + allow_len, sizeof m->allow - allow_len, "%s%s",
                         allow_len ? ", " : "", table[i].method);
        if (w > 0 && (size_t)w < sizeof m->allow - allow_len)
            allow_len += (size_t)w;
        if (strcmp(table[i].method, "GET") == 0) {
            w = snprintf(m->allow + allow_len, sizeof m->allow - allow_len, ", HEAD");
            if (w > 0 && (size_t)w < sizeof m->allow - allow_len)
                allow_len += (size_t)w;
        }
    }
    return path_found ? ROUTE_METHOD_NOT_ALLOWED : ROUTE_NOT_FOUND;
}

bool route_content_type_ok(const struct route *r, const char *content_type)
{
    if (!r->content_types)
        return true;
    if (!content_type)
        return false;
    size_t len = strcspn(content_type, ";");
    while (len > 0 && (content_type[len - 1] == ' ' || content_type[len - 1] == '\t'))
        len--;
    for (const char *const *t = r->content_types; *t; t++)
        if (strlen(*t) == len && strncasecmp(*t, content_type, len) == 0)
            return true;
    return false;
}
