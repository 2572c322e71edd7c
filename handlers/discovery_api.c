/* discovery_api.c: what the setup wizard offers in its drop-downs, read live from both CRMs.
 *
 * GET /api/salesforce/objects       the org's objects (global describe): name, label, flags.
 * GET /api/salesforce/objects/{n}   one object's fields: type, length, lookup targets, flags,
 *                                   picklist values (describe, normalised by sync/crm_schema).
 * GET /api/hubspot/objects          custom objects (schemas list) first, then the standard objects
 *                                   synkro syncs (contacts, companies, deals, tickets), listed
 *                                   from a table without asking HubSpot.
 * GET /api/hubspot/objects/{type}   one object's properties, required properties and association
 *                                   types (schema, normalised by sync/crm_schema).
 *
 * Design: the CRM clients are reached through handlers/crm_access (per-thread HTTP handle, live
 * schema fetches); failures map by table to 404 not_found (the CRM does not know the object),
 * 503 crm_unconfigured (no API access configured; the message names the variables to set) and
 * 502 crm_unavailable (the call failed; the message is the CRM's, which the clients have already
 * scrubbed of tokens and secrets). Admin authentication is the router's (ROUTE_ADMIN).
 *
 * Must not: talk HTTP to the CRMs or parse their raw documents itself, touch the database, or put
 * a token or secret into an answer. */
#include "handlers/discovery_api.h"

#include "crm/crm_access.h"
#include "crm/hubspot_client.h"
#include "crm/salesforce_client.h"

#include <stdio.h>
#include <string.h>

/* What an answer says about a CRM that is not configured. */
struct crm_side {
    const char *name;   /* "Salesforce" */
    const char *marker; /* a reason naming this variable already tells what to set */
    const char *setup;  /* the variables that configure API access */
};

static const struct crm_side salesforce_side = {
    "Salesforce",
    "SALESFORCE_JWT_KEY_FILE",
    "set SALESFORCE_CLIENT_ID with SALESFORCE_CLIENT_SECRET and SALESFORCE_REFRESH_TOKEN "
    "(refresh-token flow) or with SALESFORCE_USERNAME and SALESFORCE_JWT_KEY_FILE (JWT flow)",
};

static const struct crm_side hubspot_side = {
    "HubSpot",
    "HUBSPOT_ACCESS_TOKEN",
    "set HUBSPOT_ACCESS_TOKEN (private app), or HUBSPOT_CLIENT_ID, HUBSPOT_CLIENT_SECRET and "
    "HUBSPOT_REFRESH_TOKEN (OAuth)",
};

/* The standard HubSpot objects synkro syncs, offered after the custom ones. */
static const struct {
    const char *object_type_id;
    const char *name;
    const char *label;
} hubspot_standard[] = {
    {"0-1", "contacts", "Contacts"},
    {"0-2", "companies", "Companies"},
    {"0-3", "deals", "Deals"},
    {"0-5", "tickets", "Tickets"},
};

static int respond_unconfigured(struct http_request *req, const struct crm_side *side,
                                const char *reason)
{
    if (!reason || !*reason)
        reason = "no credentials are set";
    char msg[768];
    if (strstr(reason, side->marker))
        snprintf(msg, sizeof msg, "%s API access is not configured: %s", side->name, reason);
    else
        snprintf(msg, sizeof msg, "%s API access is not configured (%s); %s", side->name, reason,
                 side->setup);
    return http_respond_error(req, 503, "crm_unconfigured", msg);
}

/* Answers a failed crm_fetch_* (not CRM_FETCH_OK). */
static int respond_fetch_error(struct http_request *req, const struct crm_side *side,
                               const char *reason, int result, const char *err)
{
    static const struct {
        int result;
        unsigned status;
        const char *code;
    } table[] = {
        {CRM_FETCH_NOT_FOUND, 404, "not_found"},
        {CRM_FETCH_UNAVAILABLE, 502, "crm_unavailable"},
    };
    if (result == CRM_FETCH_UNCONFIGURED)
        return respond_unconfigured(req, side, reason);
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        if (table[i].result == result)
            return http_respond_error(req, table[i].status, table[i].code, err);
    return http_respond_error(req, 500, "internal", err);
}

static int respond_call_failed(struct http_request *req, const char *what,
                               const struct crm_error *e)
{
    char msg[768];
    snprintf(msg, sizeof msg, "cannot list the %s objects: %s", what,
             e->message[0] ? e->message : "no answer");
    return http_respond_error(req, 502, "crm_unavailable", msg);
}

/* Object names reach the CRMs only when made of letters, digits and the extra characters; any
 * other name cannot exist there. */
static bool plain_name(const char *s, const char *extra)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              strchr(extra, *s)))
            return false;
    return true;
}

static int respond_no_such_object(struct http_request *req, const char *crm, const char *name)
{
    char msg[300];
    snprintf(msg, sizeof msg, "the %s object %s does not exist", crm, name);
    return http_respond_error(req, 404, "not_found", msg);
}

static json_object *str_or_null(const char *s)
{
    return s ? json_object_new_string(s) : NULL;
}

static json_object *member(json_object *o, const char *key)
{
    json_object *v = NULL;
    return json_object_object_get_ex(o, key, &v) ? v : NULL;
}

static bool member_bool(json_object *o, const char *key)
{
    json_object *v = member(o, key);
    return v && json_object_is_type(v, json_type_boolean) && json_object_get_boolean(v);
}

static const char *member_str(json_object *o, const char *key)
{
    json_object *v = member(o, key);
    return v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

static int respond_body(struct http_request *req, json_object *body)
{
    int rc = http_respond_json(req, 200, body);
    json_object_put(body);
    return rc;
}

/* ---- Salesforce ---- */

int handle_salesforce_objects_list(struct http_request *req)
{
    const struct app *app = req->app;
    if (!app->crm.salesforce)
        return respond_unconfigured(req, &salesforce_side, app->crm.salesforce_unavailable);
    struct crm_http *h = crm_thread_http(app->cfg);
    if (!h)
        return http_respond_error(req, 502, "crm_unavailable", "cannot create an HTTP handle");
    struct crm_error e;
    crm_error_clear(&e);
    json_object *doc = NULL;
    if (salesforce_describe_global(app->crm.salesforce, h, &doc, &e) != 0)
        return respond_call_failed(req, "Salesforce", &e);
    json_object *sobjects = member(doc, "sobjects");
    json_object *objects = json_object_new_array();
    size_t n = json_object_array_length(sobjects);
    for (size_t i = 0; i < n; i++) {
        json_object *s = json_object_array_get_idx(sobjects, i);
        const char *name = member_str(s, "name");
        if (!name)
            continue;
        const char *label = member_str(s, "label");
        json_object *o = json_object_new_object();
        json_object_object_add(o, "name", json_object_new_string(name));
        json_object_object_add(o, "label", json_object_new_string(label ? label : name));
        static const char *const flags[] = {"custom", "createable", "updateable", "queryable"};
        for (size_t k = 0; k < sizeof flags / sizeof flags[0]; k++)
            json_object_object_add(o, flags[k], json_object_new_boolean(member_bool(s, flags[k])));
        json_object_array_add(objects, o);
    }
    json_object_put(doc);
    json_object *body = json_object_new_object();
    json_object_object_add(body, "objects", objects);
    return respond_body(req, body);
}

static json_object *sf_field_json(const struct sf_field *f)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "name", json_object_new_string(f->name));
    json_object_object_add(o, "label", json_object_new_string(f->label ? f->label : f->name));
    json_object_object_add(o, "type", json_object_new_string(f->type_name));
    json_object_object_add(o, "length", json_object_new_int64(f->length));
    json_object_object_add(o, "lookup", json_object_new_boolean(f->type == SF_TYPE_REFERENCE));
    json_object *refs = json_object_new_array();
    for (size_t i = 0; i < f->n_reference_to; i++)
        json_object_array_add(refs, json_object_new_string(f->reference_to[i]));
    json_object_object_add(o, "reference_to", refs);
    json_object_object_add(o, "relationship_name", str_or_null(f->relationship_name));
    const struct {
        const char *key;
        bool value;
    } flags[] = {
        {"createable", f->createable}, {"updateable", f->updateable},
        {"nillable", f->nillable},     {"external_id", f->external_id},
        {"unique", f->unique},         {"calculated", f->calculated},
    };
    for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++)
        json_object_object_add(o, flags[i].key, json_object_new_boolean(flags[i].value));
    json_object *values = json_object_new_array();
    for (size_t i = 0; i < f->n_picklist_values; i++) {
        const struct sf_picklist_value *pv = &f->picklist_values[i];
        json_object *v = json_object_new_object();
        json_object_object_add(v, "value", str_or_null(pv->value));
        json_object_object_add(v, "label", str_or_null(pv->label ? pv->label : pv->value));
        json_object_object_add(v, "active", json_object_new_boolean(pv->active));
        json_object_array_add(values, v);
    }
    json_object_object_add(o, "picklist_values", values);
    return o;
}

int handle_salesforce_object_get(struct http_request *req)
{
    const char *name = req->params[0];
    if (!plain_name(name, "_"))
        return respond_no_such_object(req, "Salesforce", name);
    char err[768];
    struct sf_object *obj = NULL;
    int result = crm_fetch_sf_object(&req->app->crm, name, &obj, err, sizeof err);
    if (result != CRM_FETCH_OK)
        return respond_fetch_error(req, &salesforce_side, req->app->crm.salesforce_unavailable,
                                   result, err);
    json_object *body = json_object_new_object();
    json_object_object_add(body, "name", json_object_new_string(obj->name));
    json_object_object_add(body, "label",
                           json_object_new_string(obj->label ? obj->label : obj->name));
    json_object *fields = json_object_new_array();
    for (size_t i = 0; i < obj->n_fields; i++)
        json_object_array_add(fields, sf_field_json(&obj->fields[i]));
    json_object_object_add(body, "fields", fields);
    sf_object_free(obj);
    return respond_body(req, body);
}

/* ---- HubSpot ---- */

static json_object *hs_object_entry(const char *object_type_id, const char *fqn, const char *name,
                                    const char *label, bool custom)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "object_type_id", json_object_new_string(object_type_id));
    json_object_object_add(o, "fully_qualified_name", str_or_null(fqn));
    json_object_object_add(o, "name", json_object_new_string(name));
    json_object_object_add(o, "label", json_object_new_string(label ? label : name));
    json_object_object_add(o, "custom", json_object_new_boolean(custom));
    return o;
}

int handle_hubspot_objects_list(struct http_request *req)
{
    const struct app *app = req->app;
    if (!app->crm.hubspot)
        return respond_unconfigured(req, &hubspot_side, app->crm.hubspot_unavailable);
    struct crm_http *h = crm_thread_http(app->cfg);
    if (!h)
        return http_respond_error(req, 502, "crm_unavailable", "cannot create an HTTP handle");
    struct crm_error e;
    crm_error_clear(&e);
    struct hs_object **list = NULL;
    size_t n = 0;
    if (hubspot_schema_list(app->crm.hubspot, h, &list, &n, &e) != 0)
        return respond_call_failed(req, "HubSpot", &e);
    json_object *objects = json_object_new_array();
    for (size_t i = 0; i < n; i++) {
        const struct hs_object *s = list[i];
        /* custom objects have objectTypeIds 2-N; the standard ones follow from the table */
        if (!s->object_type_id || !s->name || strncmp(s->object_type_id, "2-", 2) != 0)
            continue;
        const char *label = s->label_plural ? s->label_plural : s->label_singular;
        json_object_array_add(objects, hs_object_entry(s->object_type_id, s->fully_qualified_name,
                                                       s->name, label, true));
    }
    hubspot_schema_list_free(list, n);
    for (size_t i = 0; i < sizeof hubspot_standard / sizeof hubspot_standard[0]; i++)
        json_object_array_add(
            objects, hs_object_entry(hubspot_standard[i].object_type_id, hubspot_standard[i].name,
                                     hubspot_standard[i].name, hubspot_standard[i].label, false));
    json_object *body = json_object_new_object();
    json_object_object_add(body, "objects", objects);
    return respond_body(req, body);
}

static json_object *hs_property_json(const struct hs_object *obj,
                                     const struct hs_object_property *p)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "name", json_object_new_string(p->name));
    json_object_object_add(o, "label", json_object_new_string(p->label ? p->label : p->name));
    json_object_object_add(o, "type", json_object_new_string(p->type_name));
    json_object_object_add(o, "field_type", json_object_new_string(p->field_type_name));
    json_object *options = json_object_new_array();
    for (size_t i = 0; i < p->n_options; i++) {
        const struct hs_option *op = &p->options[i];
        json_object *v = json_object_new_object();
        json_object_object_add(v, "value", str_or_null(op->value));
        json_object_object_add(v, "label", str_or_null(op->label ? op->label : op->value));
        json_object_object_add(v, "hidden", json_object_new_boolean(op->hidden));
        json_object_array_add(options, v);
    }
    json_object_object_add(o, "options", options);
    json_object_object_add(o, "has_unique_value", json_object_new_boolean(p->has_unique_value));
    json_object_object_add(o, "calculated", json_object_new_boolean(p->calculated));
    json_object_object_add(o, "read_only", json_object_new_boolean(p->read_only));
    json_object_object_add(o, "required",
                           json_object_new_boolean(hs_object_property_required(obj, p->name)));
    return o;
}

int handle_hubspot_object_get(struct http_request *req)
{
    const char *type = req->params[0];
    if (!plain_name(type, "_-"))
        return respond_no_such_object(req, "HubSpot", type);
    char err[768];
    struct hs_object *obj = NULL;
    int result = crm_fetch_hs_object(&req->app->crm, type, &obj, err, sizeof err);
    if (result != CRM_FETCH_OK)
        return respond_fetch_error(req, &hubspot_side, req->app->crm.hubspot_unavailable, result,
                                   err);
    json_object *body = json_object_new_object();
    json_object_object_add(body, "object_type_id", json_object_new_string(obj->object_type_id));
    json_object_object_add(body, "fully_qualified_name", str_or_null(obj->fully_qualified_name));
    json_object_object_add(body, "name", json_object_new_string(obj->name));
    json_object_object_add(body, "primary_display_property",
                           str_or_null(obj->primary_display_property));
    json_object *required = json_object_new_array();
    for (size_t i = 0; i < obj->n_required_properties; i++)
        json_object_array_add(required, json_object_new_string(obj->required_properties[i]));
    json_object_object_add(body, "required_properties", required);
    json_object *props = json_object_new_array();
    for (size_t i = 0; i < obj->n_properties; i++)
        json_object_array_add(props, hs_property_json(obj, &obj->properties[i]));
    json_object_object_add(body, "properties", props);
    json_object *assocs = json_object_new_array();
    for (size_t i = 0; i < obj->n_associations; i++) {
        const struct hs_association_def *a = &obj->associations[i];
        json_object *v = json_object_new_object();
        json_object_object_add(v, "id", json_object_new_int64(a->id));
        json_object_object_add(v, "name", str_or_null(a->name));
        json_object_object_add(v, "to_object_type_id", str_or_null(a->to_object_type_id));
        json_object_array_add(assocs, v);
    }
    json_object_object_add(body, "associations", assocs);
    hs_object_free(obj);
    return respond_body(req, body);
}
