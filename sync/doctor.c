/* doctor.c: the deployment checks of `synkro doctor` (see doctor.h).
 *
 * Reads only: account details, token information, API versions and describes from the CRMs (each
 * through its client, so the same credentials, budgets and retries as the sync), the enabled
 * mappings and the newest notifications from PostgreSQL (db/). A check that cannot run because an
 * earlier one failed says so as a warning instead of guessing. */
#include "sync/doctor.h"

#include "base/config.h"
#include "base/strbuf.h"
#include "crm/crm_access.h"
#include "crm/crm_clients.h"
#include "crm/hubspot_client.h"
#include "crm/salesforce_client.h"
#include "db/event_recency.h"
#include "db/import_store.h"
#include "db/mapping_store.h"
#include "db/pool.h"
#include "model/mapping.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define DEFAULT_WINDOW_S 86400L

enum check_status { CHECK_OK, CHECK_WARN, CHECK_FAIL };

static const char *const status_names[] = {"ok", "warn", "fail"};

struct doctor_mapping {
    int64_t id;
    struct mapping *m;
    char hubspot_type[IMPORT_STORE_NAME_MAX]; /* objectTypeId once validated */
};

struct doctor {
    const struct doctor_options *o;
    struct crm_http *h;
    json_object *checks;
    json_object *regs;
    enum check_status worst;
    bool hubspot_ok;
    bool salesforce_ok;
    struct doctor_mapping *maps;
    size_t nmaps;
    bool maps_loaded;
};

/* ---- building checks ---- */

static void add_check(struct doctor *d, const char *id, enum check_status st, const char *title,
                      const char *fix, const char *detail_fmt, ...)
    __attribute__((format(printf, 6, 7)));

static void add_check(struct doctor *d, const char *id, enum check_status st, const char *title,
                      const char *fix, const char *detail_fmt, ...)
{
    char detail[1024];
    va_list ap;
    va_start(ap, detail_fmt);
    vsnprintf(detail, sizeof detail, detail_fmt, ap);
    va_end(ap);
    json_object *c = json_object_new_object();
    if (!c)
        return;
    json_object_object_add(c, "id", json_object_new_string(id));
    json_object_object_add(c, "status", json_object_new_string(status_names[st]));
    json_object_object_add(c, "title", json_object_new_string(title));
    json_object_object_add(c, "detail", json_object_new_string(detail));
    json_object_object_add(c, "fix", json_object_new_string(st == CHECK_OK ? "" : fix));
    json_object_array_add(d->checks, c);
    if (st > d->worst)
        d->worst = st;
}

static const char *error_text(const struct crm_error *e, char *buf, size_t len)
{
    snprintf(buf, len, "%s%s%d %s: %s", e->operation, *e->operation ? " answered " : "",
             e->http_status, e->code, e->message);
    return buf;
}

/* ---- the public base URL ---- */

static void check_public_url(struct doctor *d)
{
    const char *url = d->o->cfg->public_base_url ? d->o->cfg->public_base_url : "";
    static const char title[] = "SYNKRO_PUBLIC_BASE_URL is the https address the CRMs call";
    static const char fix[] =
        "set SYNKRO_PUBLIC_BASE_URL to the https URL of your reverse proxy as the CRMs call it, "
        "without a trailing slash (e.g. https://synkro.example.com); HubSpot signs exactly that "
        "URL";
    /* a trailing slash never gets here: base/config.c strips it when it reads the variable */
    if (strncmp(url, "https://", 8) != 0)
        add_check(d, "public_base_url", CHECK_FAIL, title, fix,
                  "'%s' is not https: Salesforce and HubSpot only call https endpoints", url);
    else
        add_check(d, "public_base_url", CHECK_OK, title, "", "%s", url);
}

/* ---- HubSpot ---- */

static const char portal_title[] = "HUBSPOT_PORTAL_ID is the account of the credentials";

static void check_hubspot_portal(struct doctor *d, long long reported)
{
    long long want = d->o->cfg->hubspot_portal_id;
    const char *title = portal_title;
    char fix[160];
    snprintf(fix, sizeof fix, "set HUBSPOT_PORTAL_ID=%lld (the account the token belongs to)",
             reported);
    if (want == 0)
        add_check(d, "hubspot.portal_id", CHECK_WARN, title, fix,
                  "HUBSPOT_PORTAL_ID is not set: webhooks of any HubSpot account are accepted; "
                  "the token belongs to portal %lld",
                  reported);
    else if (want != reported)
        add_check(d, "hubspot.portal_id", CHECK_FAIL, title, fix,
                  "HUBSPOT_PORTAL_ID is %lld but the token belongs to portal %lld: every webhook "
                  "of the real account is refused",
                  want, reported);
    else
        add_check(d, "hubspot.portal_id", CHECK_OK, title, "", "portal %lld", reported);
}

static void check_hubspot_credentials(struct doctor *d)
{
    const struct crm_clients *crm = d->o->crm;
    static const char title[] = "HubSpot credentials work";
    if (!crm->hubspot) {
        add_check(d, "hubspot.credentials", CHECK_FAIL, title,
                  "set HUBSPOT_ACCESS_TOKEN (a private app's token) or HUBSPOT_CLIENT_ID, "
                  "HUBSPOT_CLIENT_SECRET and HUBSPOT_REFRESH_TOKEN (OAuth app); see docs/DEPLOY.md",
                  "no HubSpot API access: %s", crm->hubspot_unavailable);
        return;
    }
    long long portal = 0;
    struct crm_error e;
    crm_error_clear(&e);
    char text[700];
    int rc = hubspot_account_details(crm->hubspot, d->h, &portal, &e);
    if (rc < 0 && e.http_status == 403) {
        /* authenticated, but not allowed to read the account: the token works */
        d->hubspot_ok = true;
        add_check(d, "hubspot.credentials", CHECK_OK, title, "",
                  "token accepted (account details refused: %s)",
                  error_text(&e, text, sizeof text));
        add_check(d, "hubspot.portal_id", CHECK_WARN, portal_title,
                  "compare HUBSPOT_PORTAL_ID with the account menu by hand",
                  "not checked: the token may not read the account details");
        return;
    }
    if (rc < 0) {
        add_check(d, "hubspot.credentials", CHECK_FAIL, title,
                  e.cls == CRM_ERR_AUTH
                      ? "the token was refused: copy the private app's access token again into "
                        "HUBSPOT_ACCESS_TOKEN (or renew the OAuth refresh token)"
                      : "check HUBSPOT_API_BASE and the network path to HubSpot",
                  "GET /account-info/v3/details failed: %s", error_text(&e, text, sizeof text));
        return;
    }
    d->hubspot_ok = true;
    add_check(d, "hubspot.credentials", CHECK_OK, title, "", "%s token of portal %lld",
              hubspot_client_is_private_app(crm->hubspot) ? "private-app" : "OAuth", portal);
    check_hubspot_portal(d, portal);
}

/* The scope family of a HubSpot object ("custom", "contacts", ...). */
static const char *scope_family(const char *object)
{
    static const struct {
        const char *id, *name, *family;
    } standard[] = {{"0-1", "contacts", "contacts"},
                    {"0-2", "companies", "companies"},
                    {"0-3", "deals", "deals"},
                    {"0-5", "tickets", "tickets"}};
    for (size_t i = 0; i < sizeof standard / sizeof standard[0]; i++)
        if (strcasecmp(object, standard[i].id) == 0 || strcasecmp(object, standard[i].name) == 0 ||
            strcasecmp(object, standard[i].family + 0) == 0)
            return standard[i].family;
    return "custom";
}

static bool has_scope(json_object *scopes, const char *scope)
{
    size_t n = json_object_array_length(scopes);
    for (size_t i = 0; i < n; i++) {
        const char *s = json_object_get_string(json_object_array_get_idx(scopes, i));
        if (s && strcmp(s, scope) == 0)
            return true;
    }
    return false;
}

/* Appends scope to need (space-separated) once. */
static void need_scope(struct strbuf *need, const char *scope)
{
    const char *have = strbuf_str(need);
    size_t n = strlen(scope);
    for (const char *p = strstr(have, scope); p; p = strstr(p + 1, scope))
        if ((p == have || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\0'))
            return;
    if (need->len)
        strbuf_putc(need, ' ');
    strbuf_puts(need, scope);
}

static void needed_scopes(const struct doctor *d, struct strbuf *need)
{
    char scope[96];
    for (size_t i = 0; i < d->nmaps; i++) {
        const struct mapping *m = d->maps[i].m;
        const char *fam = scope_family(m->hubspot_object);
        snprintf(scope, sizeof scope, "crm.objects.%s.read", fam);
        need_scope(need, scope);
        snprintf(scope, sizeof scope, "crm.objects.%s.write", fam);
        need_scope(need, scope);
        snprintf(scope, sizeof scope, "crm.schemas.%s.read", fam);
        need_scope(need, scope);
        for (size_t a = 0; a < m->n_associations; a++) {
            if (!m->associations[a].enabled)
                continue;
            snprintf(scope, sizeof scope, "crm.objects.%s.read",
                     scope_family(m->associations[a].hubspot_object));
            need_scope(need, scope);
        }
    }
}

static void check_hubspot_scopes(struct doctor *d)
{
    static const char title[] = "the HubSpot token's scopes cover the enabled mappings";
    if (!d->hubspot_ok) {
        add_check(d, "hubspot.scopes", CHECK_WARN, title, "fix hubspot.credentials first",
                  "not checked: the HubSpot credentials do not work");
        return;
    }
    json_object *scopes = NULL;
    struct crm_error e;
    crm_error_clear(&e);
    char text[700];
    if (hubspot_token_scopes(d->o->crm->hubspot, d->h, &scopes, &e) < 0) {
        add_check(d, "hubspot.scopes", CHECK_WARN, title,
                  "check the scopes in the app's settings (Auth tab) by hand",
                  "the token's scopes could not be read: %s", error_text(&e, text, sizeof text));
        return;
    }
    struct strbuf need = STRBUF_INIT, missing = STRBUF_INIT;
    needed_scopes(d, &need);
    char *list = strdup(strbuf_str(&need));
    for (char *save = NULL, *s = list ? strtok_r(list, " ", &save) : NULL; s;
         s = strtok_r(NULL, " ", &save))
        if (!has_scope(scopes, s))
            need_scope(&missing, s);
    free(list);
    if (missing.len) {
        char fix[1200];
        snprintf(fix, sizeof fix,
                 "add the scopes %s to the app (Auth/Scopes tab), then copy the new token into "
                 "HUBSPOT_ACCESS_TOKEN (OAuth apps: reinstall the app)",
                 strbuf_str(&missing));
        add_check(d, "hubspot.scopes", CHECK_FAIL, title, fix, "missing: %s", strbuf_str(&missing));
    } else {
        add_check(d, "hubspot.scopes", CHECK_OK, title, "", "%s",
                  need.len ? strbuf_str(&need) : "no enabled mapping needs a scope yet");
    }
    strbuf_free(&need);
    strbuf_free(&missing);
    json_object_put(scopes);
}

/* ---- Salesforce ---- */

static bool version_offered(json_object *versions, const char *configured)
{
    const char *want = configured[0] == 'v' ? configured + 1 : configured;
    size_t n = json_object_array_length(versions);
    for (size_t i = 0; i < n; i++) {
        json_object *v = NULL;
        if (json_object_object_get_ex(json_object_array_get_idx(versions, i), "version", &v) &&
            strcmp(json_object_get_string(v), want) == 0)
            return true;
    }
    return false;
}

static void check_salesforce_org(struct doctor *d)
{
    static const char title[] = "SALESFORCE_ORG_ID is the org of the credentials";
    struct salesforce_identity id;
    struct crm_error e;
    crm_error_clear(&e);
    char text[700];
    int r = salesforce_client_identity(d->o->crm->salesforce, d->h, &id, &e);
    const char *org = id.org_id;
    const char *want = d->o->cfg->salesforce_org_id ? d->o->cfg->salesforce_org_id : "";
    char fix[200];
    snprintf(fix, sizeof fix, "set SALESFORCE_ORG_ID=%s (Setup -> Company Information)",
             r == 1 ? org : "<your org id>");
    if (r < 0)
        add_check(d, "salesforce.org_id", CHECK_WARN, title, fix,
                  "the org id could not be read: %s", error_text(&e, text, sizeof text));
    else if (!*want)
        add_check(d, "salesforce.org_id", CHECK_FAIL, title, fix,
                  "SALESFORCE_ORG_ID is not set: every outbound message is refused%s%s",
                  r == 1 ? "; the credentials belong to org " : "", r == 1 ? org : "");
    else if (r == 0)
        add_check(d, "salesforce.org_id", CHECK_WARN, title,
                  "compare SALESFORCE_ORG_ID with Setup -> Company Information by hand",
                  "a configured access token tells no org id; SALESFORCE_ORG_ID is %s", want);
    else if (strncmp(want, org, 15) != 0)
        add_check(d, "salesforce.org_id", CHECK_FAIL, title, fix,
                  "SALESFORCE_ORG_ID is %s but the credentials belong to org %s: every outbound "
                  "message of the real org is refused",
                  want, org);
    else if (!id.user_id[0])
        add_check(d, "salesforce.org_id", CHECK_OK, title, "", "org %s", org);
    else
        add_check(d, "salesforce.org_id", CHECK_OK, title, "",
                  "org %s; synkro writes as user %s, the user each outbound message's flow "
                  "should leave out (LastModifiedById Does Not Equal %s, docs/DEPLOY.md 5.5)",
                  org, id.user_id, id.user_id);
}

static void check_salesforce_credentials(struct doctor *d)
{
    const struct crm_clients *crm = d->o->crm;
    static const char title[] = "Salesforce credentials work and the API version exists";
    if (!crm->salesforce) {
        add_check(d, "salesforce.credentials", CHECK_FAIL, title,
                  "set SALESFORCE_CLIENT_ID with SALESFORCE_CLIENT_SECRET and "
                  "SALESFORCE_REFRESH_TOKEN, or SALESFORCE_USERNAME with SALESFORCE_JWT_KEY_FILE; "
                  "see docs/DEPLOY.md",
                  "no Salesforce API access: %s", crm->salesforce_unavailable);
        return;
    }
    json_object *versions = NULL;
    struct crm_error e;
    crm_error_clear(&e);
    char text[700];
    if (salesforce_api_versions(crm->salesforce, d->h, &versions, &e) < 0) {
        add_check(d, "salesforce.credentials", CHECK_FAIL, title,
                  e.cls == CRM_ERR_AUTH || e.http_status == 400
                      ? "the token request was refused: check SALESFORCE_CLIENT_ID/_SECRET and "
                        "renew SALESFORCE_REFRESH_TOKEN (or the JWT user's pre-authorization)"
                      : "check SALESFORCE_LOGIN_URL and the network path to Salesforce",
                  "%s", error_text(&e, text, sizeof text));
        return;
    }
    const char *ver = salesforce_client_api_version(crm->salesforce);
    if (!version_offered(versions, ver)) {
        add_check(d, "salesforce.credentials", CHECK_FAIL, title,
                  "set SALESFORCE_API_VERSION to a version /services/data lists (e.g. v62.0)",
                  "the org does not offer API version %s", ver);
    } else {
        d->salesforce_ok = true;
        add_check(d, "salesforce.credentials", CHECK_OK, title, "", "token works; API %s", ver);
    }
    json_object_put(versions);
    if (d->salesforce_ok)
        check_salesforce_org(d);
}

/* Fields of m that synkro writes into Salesforce (HS -> SF) and cannot. */
static void unwritable_fields(const struct mapping *m, const struct sf_object *obj,
                              struct strbuf *bad)
{
    for (size_t i = 0; i < m->n_fields; i++) {
        const struct mapping_field *f = &m->fields[i];
        if (!(mapping_field_directions(f->rule) & MAPPING_DIR_HS_TO_SF))
            continue;
        const struct sf_field *sf = sf_object_field(obj, f->salesforce);
        bool need_create = m->hubspot_to_salesforce.create;
        bool need_update = m->hubspot_to_salesforce.update;
        if (!sf)
            strbuf_printf(bad, "%s%s (not visible)", bad->len ? ", " : "", f->salesforce);
        else if ((need_update && !sf->updateable) || (need_create && !sf->createable))
            strbuf_printf(bad, "%s%s (%s)", bad->len ? ", " : "", f->salesforce,
                          need_update && !sf->updateable ? "not updateable" : "not createable");
    }
}

static void check_salesforce_permissions(struct doctor *d, const struct doctor_mapping *dm)
{
    char id[64], title[200];
    snprintf(id, sizeof id, "salesforce.permissions.%lld", (long long)dm->id);
    snprintf(title, sizeof title, "the integration user can write what mapping %lld needs in %s",
             (long long)dm->id, dm->m->salesforce_object);
    if (!d->salesforce_ok) {
        add_check(d, id, CHECK_WARN, title, "fix salesforce.credentials first",
                  "not checked: the Salesforce credentials do not work");
        return;
    }
    struct sf_object *obj = NULL;
    char err[512];
    if (crm_fetch_sf_object(d->o->crm, dm->m->salesforce_object, &obj, err, sizeof err) !=
        CRM_FETCH_OK) {
        add_check(d, id, CHECK_FAIL, title,
                  "give the integration user's permission set read access to the object",
                  "describe failed: %s", err);
        return;
    }
    struct strbuf bad = STRBUF_INIT;
    if (dm->m->hubspot_to_salesforce.create && !obj->createable)
        strbuf_printf(&bad, "the object (not createable)");
    if (dm->m->hubspot_to_salesforce.update && !obj->updateable)
        strbuf_printf(&bad, "%sthe object (not updateable)", bad.len ? ", " : "");
    unwritable_fields(dm->m, obj, &bad);
    if (bad.len)
        add_check(d, id, CHECK_FAIL, title,
                  "in the integration user's permission set give Edit on the fields (Field-Level "
                  "Security) and Create/Edit on the object, or set those fields' rule to "
                  "always_salesforce",
                  "%s: %s", dm->m->salesforce_object, strbuf_str(&bad));
    else
        add_check(d, id, CHECK_OK, title, "", "%s: every field synkro writes is writable",
                  dm->m->salesforce_object);
    strbuf_free(&bad);
    sf_object_free(obj);
}

/* ---- notifications arriving ---- */

static void check_notifications(struct doctor *d, const struct doctor_mapping *dm, bool hubspot)
{
    const struct mapping *m = dm->m;
    long window = d->o->webhook_window_s > 0 ? d->o->webhook_window_s : DEFAULT_WINDOW_S;
    char id[80], title[256], fix[600];
    snprintf(id, sizeof id, "webhooks.%s.%lld", hubspot ? "hubspot" : "salesforce",
             (long long)dm->id);
    snprintf(title, sizeof title, "%s %s of mapping %lld arrive",
             hubspot ? "HubSpot webhooks for" : "Salesforce outbound messages for",
             hubspot ? m->hubspot_object : m->salesforce_object, (long long)dm->id);
    if (hubspot)
        snprintf(fix, sizeof fix,
                 "in the HubSpot app's Webhooks settings (target URL %s/webhooks/hubspot) add the "
                 "subscriptions object.creation, object.deletion and object.propertyChange for "
                 "%s listed under registrations",
                 d->o->cfg->public_base_url, m->hubspot_object);
    else
        snprintf(fix, sizeof fix,
                 "create the outbound message for %s (endpoint %s/webhooks/salesforce) and the "
                 "record-triggered flow that sends it, as listed under registrations",
                 m->salesforce_object, d->o->cfg->public_base_url);
    const char *names[2] = {hubspot ? m->hubspot_object : m->salesforce_object, dm->hubspot_type};
    size_t nnames = hubspot && dm->hubspot_type[0] ? 2 : 1;
    char err[512];
    PGconn *conn = db_pool_acquire(d->o->pool, 2000, err, sizeof err);
    struct event_recency r;
    int rc = conn ? event_recency_get(conn, hubspot ? "hubspot" : "salesforce", names, nnames,
                                      window, &r, err, sizeof err)
                  : -1;
    if (conn)
        db_pool_release(d->o->pool, conn, rc < 0);
    if (rc < 0) {
        add_check(d, id, CHECK_WARN, title, "check the database (GET /readyz)", "not checked: %s",
                  err);
        return;
    }
    const char *crm = hubspot ? "HubSpot" : "Salesforce";
    if (r.any_notification && r.notification_age_s <= (double)window)
        add_check(d, id, CHECK_OK, title, "", "the last one arrived %.0f s ago",
                  r.notification_age_s);
    else if (r.sweep_changes > 0)
        add_check(d, id, CHECK_WARN, title, fix,
                  "no %s notification for %s in %ld h while the sweep found %lld changed "
                  "record(s) there: the %s is missing or failing",
                  crm, names[0], window / 3600, r.sweep_changes,
                  hubspot ? "webhook subscription" : "outbound message or its flow");
    else if (!r.any_notification)
        add_check(d, id, CHECK_WARN, title, fix,
                  "no %s notification for %s has ever arrived (change a record to test)", crm,
                  names[0]);
    else
        add_check(d, id, CHECK_OK, title, "",
                  "quiet for %.0f h, and the sweep found no change there either",
                  r.notification_age_s / 3600);
}

/* ---- what to register ---- */

static json_object *subscription(const char *type, const char *object, const char *property)
{
    json_object *s = json_object_new_object();
    json_object_object_add(s, "subscriptionType", json_object_new_string(type));
    json_object_object_add(s, "objectName", json_object_new_string(object));
    if (property)
        json_object_object_add(s, "propertyName", json_object_new_string(property));
    return s;
}

static json_object *hubspot_registration(const struct doctor *d, const struct mapping *m)
{
    json_object *hs = json_object_new_object(), *subs = json_object_new_array();
    static const char *const kinds[] = {"object.creation", "object.deletion", "object.restore",
                                        "object.merge", "object.associationChange"};
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        json_object_array_add(subs, subscription(kinds[i], m->hubspot_object, NULL));
    for (size_t i = 0; i < m->n_fields; i++)
        if (mapping_field_directions(m->fields[i].rule) & MAPPING_DIR_HS_TO_SF)
            json_object_array_add(subs, subscription("object.propertyChange", m->hubspot_object,
                                                     m->fields[i].hubspot));
    char url[600];
    snprintf(url, sizeof url, "%s/webhooks/hubspot", d->o->cfg->public_base_url);
    json_object_object_add(hs, "object", json_object_new_string(m->hubspot_object));
    json_object_object_add(hs, "target_url", json_object_new_string(url));
    json_object_object_add(hs, "subscriptions", subs);
    return hs;
}

static void add_field_once(json_object *fields, const char *name)
{
    if (!name || !*name)
        return;
    for (size_t i = 0; i < json_object_array_length(fields); i++)
        if (strcmp(json_object_get_string(json_object_array_get_idx(fields, i)), name) == 0)
            return;
    json_object_array_add(fields, json_object_new_string(name));
}

static json_object *salesforce_registration(const struct doctor *d, const struct mapping *m)
{
    json_object *sf = json_object_new_object(), *fields = json_object_new_array();
    add_field_once(fields, "Id");
    add_field_once(fields, "LastModifiedDate");
    for (size_t i = 0; i < m->n_fields; i++)
        if (mapping_field_directions(m->fields[i].rule) & MAPPING_DIR_SF_TO_HS)
            add_field_once(fields, m->fields[i].salesforce);
    add_field_once(fields, m->identity_salesforce_field);
    char url[700];
    const char *tok = d->o->cfg->sf_endpoint_token;
    snprintf(url, sizeof url, "%s/webhooks/salesforce%s", d->o->cfg->public_base_url,
             tok && *tok ? "?token=<SYNKRO_SF_ENDPOINT_TOKEN>" : "");
    json_object_object_add(sf, "object", json_object_new_string(m->salesforce_object));
    json_object_object_add(sf, "endpoint_url", json_object_new_string(url));
    json_object_object_add(sf, "fields", fields);
    return sf;
}

static void add_registration(struct doctor *d, const struct doctor_mapping *dm)
{
    json_object *r = json_object_new_object();
    json_object_object_add(r, "mapping_id", json_object_new_int64(dm->id));
    json_object_object_add(r, "name", json_object_new_string(dm->m->name ? dm->m->name : ""));
    json_object_object_add(r, "hubspot", hubspot_registration(d, dm->m));
    json_object_object_add(r, "salesforce", salesforce_registration(d, dm->m));
    json_object_array_add(d->regs, r);
}

/* ---- the enabled mappings ---- */

static void maps_free(struct doctor *d)
{
    for (size_t i = 0; i < d->nmaps; i++)
        mapping_free(d->maps[i].m);
    free(d->maps);
    d->maps = NULL;
    d->nmaps = 0;
}

/* Parses each enabled mapping and reads its validated HubSpot type. 0, or -1 with err. */
static int load_maps(struct doctor *d, PGconn *conn, char *err, size_t errlen)
{
    struct mapping_doc *docs = NULL;
    size_t n = 0;
    if (mapping_store_enabled_documents(conn, &docs, &n, err, errlen) < 0)
        return -1;
    d->maps = calloc(n ? n : 1, sizeof *d->maps);
    int rc = d->maps ? 0 : -1;
    for (size_t i = 0; i < n && rc == 0; i++) {
        struct problem_list pl = PROBLEM_LIST_INIT;
        struct mapping *m = NULL;
        if (mapping_parse_text(docs[i].document, strlen(docs[i].document), &m, &pl) !=
            MAPPING_PARSE_OK) {
            problem_list_free(&pl);
            continue; /* an enabled mapping always parsed when it was saved */
        }
        problem_list_free(&pl);
        struct doctor_mapping *dm = &d->maps[d->nmaps++];
        dm->id = docs[i].id;
        dm->m = m;
        struct sweep_target t;
        bool found = false;
        if (import_store_target(conn, dm->id, &t, &found, err, errlen) < 0)
            rc = -1;
        else if (found)
            snprintf(dm->hubspot_type, sizeof dm->hubspot_type, "%s", t.hubspot_type);
    }
    mapping_docs_free(docs, n);
    if (rc < 0 && !*err)
        snprintf(err, errlen, "out of memory");
    return rc;
}

static void check_mappings_loaded(struct doctor *d)
{
    char err[512] = "";
    PGconn *conn = db_pool_acquire(d->o->pool, 2000, err, sizeof err);
    int rc = conn ? load_maps(d, conn, err, sizeof err) : -1;
    if (conn)
        db_pool_release(d->o->pool, conn, rc < 0);
    static const char title[] = "enabled mappings";
    if (rc < 0)
        add_check(d, "mappings", CHECK_FAIL, title, "check the database (GET /readyz)",
                  "the mappings could not be read: %s", err);
    else if (d->nmaps == 0)
        add_check(d, "mappings", CHECK_WARN, title,
                  "create a mapping and enable it (`synkro mapping create FILE`, then `synkro "
                  "mapping enable ID`)",
                  "no mapping is enabled: nothing syncs");
    else
        add_check(d, "mappings", CHECK_OK, title, "", "%zu enabled", d->nmaps);
}

json_object *doctor_run(const struct doctor_options *o)
{
    struct doctor d = {.o = o};
    d.checks = json_object_new_array();
    d.regs = json_object_new_array();
    d.h = crm_thread_http(o->cfg);
    json_object *out = json_object_new_object();
    if (!d.checks || !d.regs || !out) {
        json_object_put(d.checks);
        json_object_put(d.regs);
        json_object_put(out);
        return NULL;
    }
    check_public_url(&d);
    if (!d.h)
        add_check(&d, "crm.http", CHECK_FAIL, "an HTTP handle for the CRM calls",
                  "look at the server's log (out of memory or a libcurl problem)",
                  "the CRM checks cannot run: no HTTP handle");
    check_mappings_loaded(&d);
    if (d.h) {
        check_hubspot_credentials(&d);
        check_hubspot_scopes(&d);
        check_salesforce_credentials(&d);
    }
    for (size_t i = 0; i < d.nmaps && d.h; i++) {
        check_salesforce_permissions(&d, &d.maps[i]);
        check_notifications(&d, &d.maps[i], true);
        check_notifications(&d, &d.maps[i], false);
        add_registration(&d, &d.maps[i]);
    }
    maps_free(&d);
    json_object_object_add(out, "status", json_object_new_string(status_names[d.worst]));
    json_object_object_add(out, "checks", d.checks);
    json_object_object_add(out, "registrations", d.regs);
    return out;
}
