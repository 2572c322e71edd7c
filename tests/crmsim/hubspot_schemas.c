/* hubspot_schemas.c: HubSpot custom object schemas: loading them from fixtures and the
 * /crm-object-schemas/v3/schemas routes.
 *
 * A fixture schema is validated (name, property types, options, required and unique properties, at
 * most 10 unique properties), completed with HubSpot's defaults (labels, fieldType,
 * modificationMetadata, the hs_object_id/hs_createdate/hs_lastmodifieddate system properties) and
 * kept as the document served. Its associations[] become USER_DEFINED association definitions. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/crmsim/hubspot.h"

#define HS_MAX_UNIQUE_PROPERTIES 10

static const char *const hs_types[] = {"string", "number",   "bool",        "enumeration",
                                       "date",   "datetime", "phone_number"};

static const char *default_field_type(const char *type)
{
    static const struct {
        const char *type;
        const char *field;
    } map[] = {{"string", "text"},
               {"number", "number"},
               {"bool", "booleancheckbox"},
               {"enumeration", "select"},
               {"date", "date"},
               {"datetime", "date"},
               {"phone_number", "phonenumber"}};
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++) {
        if (strcmp(map[i].type, type) == 0)
            return map[i].field;
    }
    return "text";
}

static bool valid_name(const char *s)
{
    if (!s || !*s || strlen(s) > 100)
        return false;
    for (; *s; s++) {
        if (!isalnum((unsigned char)*s) && *s != '_')
            return false;
    }
    return true;
}

static void fill_str(json_object *o, const char *key, const char *value)
{
    if (!json_get(o, key))
        json_set_str(o, key, value);
}

static void fill_bool(json_object *o, const char *key, bool value)
{
    if (!json_get(o, key))
        json_set_bool(o, key, value);
}

static bool get_bool(json_object *o, const char *key)
{
    json_object *v = json_get(o, key);
    return v && json_object_is_type(v, json_type_boolean) && json_object_get_boolean(v);
}

/* Parses and completes one property document (modified in place). */
static int parse_property(json_object *pd, struct hs_property *p, const char *now, char *err,
                          size_t errlen)
{
    const char *name = json_get_str(pd, "name");
    if (!valid_name(name)) {
        snprintf(err, errlen, "schema property without a valid name (letters, digits, _)");
        return -1;
    }
    const char *type = json_get_str(pd, "type");
    if (!type)
        type = "string";
    bool known = false;
    for (size_t i = 0; i < sizeof hs_types / sizeof hs_types[0]; i++)
        known |= strcmp(hs_types[i], type) == 0;
    if (!known) {
        snprintf(err, errlen, "property %s has unknown type %s", name, type);
        return -1;
    }
    p->name = xstrdup(name);
    p->type = xstrdup(type);
    type = p->type; /* the document's string may be replaced below */
    name = p->name;
    fill_str(pd, "type", type);
    fill_str(pd, "label", name);
    fill_str(pd, "fieldType", default_field_type(type));
    p->field_type = xstrdup(json_get_str(pd, "fieldType") ? json_get_str(pd, "fieldType") : "text");
    fill_str(pd, "description", "");
    fill_str(pd, "groupName", "objectinformation");
    json_object *opts = json_get(pd, "options");
    if (opts && !json_object_is_type(opts, json_type_array)) {
        snprintf(err, errlen, "property %s: options must be an array", name);
        return -1;
    }
    if (!opts) {
        opts = json_object_new_array();
        json_object_object_add(pd, "options", opts);
    }
    size_t n = json_object_array_length(opts);
    if (n > 0 && strcmp(type, "enumeration") != 0 && strcmp(type, "bool") != 0) {
        snprintf(err, errlen, "property %s: only enumeration properties have options", name);
        return -1;
    }
    p->options = xcalloc(n ? n : 1, sizeof *p->options);
    for (size_t i = 0; i < n; i++) {
        json_object *od = json_object_array_get_idx(opts, i);
        const char *v = json_get_str(od, "value");
        if (!v) {
            snprintf(err, errlen, "property %s: option %zu has no value", name, i);
            return -1;
        }
        fill_str(od, "label", v);
        if (!json_get(od, "displayOrder"))
            json_set_int(od, "displayOrder", (int64_t)i);
        fill_bool(od, "hidden", false);
        p->options[p->n_options].value = xstrdup(v);
        p->options[p->n_options].label = xstrdup(json_get_str(od, "label"));
        p->n_options++;
    }
    if (!json_get(pd, "displayOrder"))
        json_set_int(pd, "displayOrder", -1);
    fill_bool(pd, "calculated", false);
    fill_bool(pd, "externalOptions", false);
    fill_bool(pd, "hasUniqueValue", false);
    fill_bool(pd, "hidden", false);
    fill_bool(pd, "hubspotDefined", util_starts_with(name, "hs_"));
    fill_bool(pd, "formField", true);
    fill_bool(pd, "archived", false);
    fill_str(pd, "createdAt", now);
    fill_str(pd, "updatedAt", now);
    json_object *mm = json_get(pd, "modificationMetadata");
    if (!mm || !json_object_is_type(mm, json_type_object)) {
        mm = json_object_new_object();
        json_object_object_add(pd, "modificationMetadata", mm);
    }
    fill_bool(mm, "archivable", true);
    fill_bool(mm, "readOnlyDefinition", util_starts_with(name, "hs_"));
    fill_bool(mm, "readOnlyValue", get_bool(pd, "calculated"));
    p->unique = get_bool(pd, "hasUniqueValue");
    p->calculated = get_bool(pd, "calculated");
    p->read_only = get_bool(mm, "readOnlyValue") || p->calculated;
    return 0;
}

static json_object *system_property(const char *name, const char *label, const char *type)
{
    json_object *p = json_object_new_object();
    json_set_str(p, "name", name);
    json_set_str(p, "label", label);
    json_set_str(p, "type", type);
    json_set_str(p, "fieldType", strcmp(type, "number") == 0 ? "number" : "date");
    json_object *mm = json_object_new_object();
    json_set_bool(mm, "readOnlyValue", true);
    json_object_object_add(p, "modificationMetadata", mm);
    return p;
}

struct hs_schema *hs_schema_from_json(struct sim *sim, json_object *doc, char *err, size_t errlen)
{
    if (!doc || !json_object_is_type(doc, json_type_object)) {
        snprintf(err, errlen, "schema must be a JSON object");
        return NULL;
    }
    const char *name = json_get_str(doc, "name");
    if (!valid_name(name)) {
        snprintf(err, errlen, "schema needs a \"name\" of letters, digits and _");
        return NULL;
    }
    char now[40];
    util_fmt_iso_ms(util_now_ms(), now, sizeof now);
    struct hs_schema *s = xcalloc(1, sizeof *s);
    if (json_object_deep_copy(doc, &s->json, NULL) != 0 || !s->json) {
        free(s);
        snprintf(err, errlen, "out of memory copying schema %s", name);
        return NULL;
    }
    json_object *d = s->json;
    s->name = xstrdup(name);
    const char *otid = json_get_str(d, "objectTypeId");
    char buf[300];
    if (otid) {
        if (!(util_starts_with(otid, "0-") || util_starts_with(otid, "2-")) || strlen(otid) < 3) {
            snprintf(err, errlen, "schema %s: objectTypeId must look like 0-N or 2-N", name);
            goto fail;
        }
        s->object_type_id = xstrdup(otid);
    } else {
        snprintf(buf, sizeof buf, "2-%llu",
                 (unsigned long long)(1000000 + ++sim->hs.next_schema_id));
        s->object_type_id = xstrdup(buf);
        json_set_str(d, "objectTypeId", buf);
    }
    const char *fqn = json_get_str(d, "fullyQualifiedName");
    if (fqn) {
        s->fqn = xstrdup(fqn);
    } else if (util_starts_with(s->object_type_id, "0-")) {
        s->fqn = xstrdup(name);
    } else {
        snprintf(buf, sizeof buf, "p%lld_%s", (long long)sim->cfg.hs_portal_id, name);
        s->fqn = xstrdup(buf);
        s->fqn_auto = true;
    }
    if (!json_get(d, "id"))
        json_set_str(d, "id", strchr(s->object_type_id, '-') + 1);
    json_object *labels = json_get(d, "labels");
    if (!labels || !json_object_is_type(labels, json_type_object)) {
        labels = json_object_new_object();
        json_object_object_add(d, "labels", labels);
    }
    fill_str(labels, "singular", name);
    fill_str(labels, "plural", name);
    json_object *props = json_get(d, "properties");
    if (props && !json_object_is_type(props, json_type_array)) {
        snprintf(err, errlen, "schema %s: properties must be an array", name);
        goto fail;
    }
    if (!props) {
        props = json_object_new_array();
        json_object_object_add(d, "properties", props);
    }
    static const char *const sys[][3] = {{"hs_object_id", "Record ID", "number"},
                                         {"hs_createdate", "Create date", "datetime"},
                                         {"hs_lastmodifieddate", "Last modified date", "datetime"}};
    for (size_t i = 0; i < 3; i++) {
        bool present = false;
        for (size_t j = 0; j < json_object_array_length(props); j++) {
            const char *pn = json_get_str(json_object_array_get_idx(props, j), "name");
            present |= pn && strcmp(pn, sys[i][0]) == 0;
        }
        if (!present)
            json_object_array_add(props, system_property(sys[i][0], sys[i][1], sys[i][2]));
    }
    size_t np = json_object_array_length(props);
    if (np > SIM_MAX_PROPERTIES) {
        snprintf(err, errlen, "schema %s has more than %d properties", name, SIM_MAX_PROPERTIES);
        goto fail;
    }
    s->props = xcalloc(np, sizeof *s->props);
    size_t n_unique = 0;
    for (size_t i = 0; i < np; i++) {
        json_object *pd = json_object_array_get_idx(props, i);
        if (!json_object_is_type(pd, json_type_object)) {
            snprintf(err, errlen, "schema %s: properties[%zu] must be an object", name, i);
            goto fail;
        }
        char perr[200];
        int rc = parse_property(pd, &s->props[s->n_props], now, perr, sizeof perr);
        s->n_props++; /* counted even on failure so hs_schema_free releases it */
        if (rc < 0) {
            snprintf(err, errlen, "schema %s: %s", name, perr);
            goto fail;
        }
        for (size_t j = 0; j + 1 < s->n_props; j++) {
            if (strcmp(s->props[j].name, s->props[s->n_props - 1].name) == 0) {
                snprintf(err, errlen, "schema %s: property %s is defined twice", name,
                         s->props[j].name);
                goto fail;
            }
        }
        n_unique += s->props[s->n_props - 1].unique;
    }
    if (n_unique > HS_MAX_UNIQUE_PROPERTIES) {
        snprintf(err, errlen, "schema %s: at most %d properties may have hasUniqueValue", name,
                 HS_MAX_UNIQUE_PROPERTIES);
        goto fail;
    }
    json_object *req = json_get(d, "requiredProperties");
    if (req && !json_object_is_type(req, json_type_array)) {
        snprintf(err, errlen, "schema %s: requiredProperties must be an array", name);
        goto fail;
    }
    if (!req) {
        req = json_object_new_array();
        json_object_object_add(d, "requiredProperties", req);
    }
    s->required = xcalloc(json_object_array_length(req) + 1, sizeof *s->required);
    for (size_t i = 0; i < json_object_array_length(req); i++) {
        const char *rn = json_object_get_string(json_object_array_get_idx(req, i));
        if (!rn || !hs_schema_prop(s, rn)) {
            snprintf(err, errlen, "schema %s: required property %s is not defined", name,
                     rn ? rn : "(null)");
            goto fail;
        }
        s->required[s->n_required++] = xstrdup(rn);
    }
    const char *pdp = json_get_str(d, "primaryDisplayProperty");
    if (pdp && !hs_schema_prop(s, pdp)) {
        snprintf(err, errlen, "schema %s: primaryDisplayProperty %s is not defined", name, pdp);
        goto fail;
    }
    if (!json_get(d, "secondaryDisplayProperties"))
        json_object_object_add(d, "secondaryDisplayProperties", json_object_new_array());
    if (!json_get(d, "searchableProperties"))
        json_object_object_add(d, "searchableProperties", json_object_new_array());
    json_object *assocs = json_get(d, "associations");
    if (assocs && !json_object_is_type(assocs, json_type_array)) {
        snprintf(err, errlen, "schema %s: associations must be an array", name);
        goto fail;
    }
    if (!assocs)
        json_object_object_add(d, "associations", json_object_new_array());
    for (size_t i = 0; assocs && i < json_object_array_length(assocs); i++) {
        json_object *ad = json_object_array_get_idx(assocs, i);
        json_object *idv = json_get(ad, "id");
        if (!json_get_str(ad, "toObjectTypeId") || !idv) {
            snprintf(err, errlen, "schema %s: associations[%zu] needs toObjectTypeId and id", name,
                     i);
            goto fail;
        }
        int64_t tid;
        if (json_object_is_type(idv, json_type_int))
            tid = json_object_get_int64(idv);
        else if (!json_object_is_type(idv, json_type_string) ||
                 util_parse_int64(json_object_get_string(idv), &tid) < 0) {
            snprintf(err, errlen, "schema %s: associations[%zu].id must be a number", name, i);
            goto fail;
        }
        json_set_str(ad, "id", json_object_get_string(idv));
        (void)tid;
        fill_str(ad, "fromObjectTypeId", s->object_type_id);
        fill_str(ad, "createdAt", now);
        fill_str(ad, "updatedAt", now);
    }
    fill_bool(d, "archived", false);
    fill_str(d, "createdAt", now);
    fill_str(d, "updatedAt", now);
    fill_str(d, "metaType",
             util_starts_with(s->object_type_id, "0-") ? "HUBSPOT" : "PORTAL_SPECIFIC");
    return s;
fail:
    hs_schema_free(s);
    return NULL;
}

int hs_schema_install(struct sim *sim, struct hs_schema *s, char *err, size_t errlen)
{
    for (size_t i = 0; i < sim->hs.n_schemas; i++) {
        struct hs_schema *o = sim->hs.schemas[i];
        if (strcmp(o->object_type_id, s->object_type_id) == 0 || strcmp(o->name, s->name) == 0 ||
            util_streq_ci(o->fqn, s->fqn)) {
            snprintf(err, errlen,
                     "schema %s (%s) already exists; POST /_sim/reset first to replace it", s->name,
                     s->object_type_id);
            return -1;
        }
    }
    if (sim->hs.n_schemas >= SIM_MAX_SCHEMAS) {
        snprintf(err, errlen, "at most %d schemas", SIM_MAX_SCHEMAS);
        return -1;
    }
    json_object *assocs = json_get(s->json, "associations");
    for (size_t i = 0; assocs && i < json_object_array_length(assocs); i++) {
        json_object *ad = json_object_array_get_idx(assocs, i);
        int64_t tid = 0;
        util_parse_int64(json_get_str(ad, "id"), &tid);
        const char *cat = json_get_str(ad, "associationCategory");
        if (!cat)
            cat = json_get_str(ad, "category");
        if (hs_assoc_type_add(sim, json_get_str(ad, "fromObjectTypeId"),
                              json_get_str(ad, "toObjectTypeId"), cat ? cat : "USER_DEFINED", tid,
                              json_get_str(ad, "label"), json_get_str(ad, "name"), err, errlen) < 0)
            return -1;
    }
    xgrow(&sim->hs.schemas, &sim->hs.cap_schemas, sim->hs.n_schemas + 1, sizeof *sim->hs.schemas);
    sim->hs.schemas[sim->hs.n_schemas++] = s;
    return 0;
}

json_object *hs_schema_render(struct sim *sim, struct hs_schema *s)
{
    json_object *o = NULL;
    json_object_deep_copy(s->json, &o, NULL);
    json_set_str(o, "fullyQualifiedName", s->fqn);
    json_set_str(o, "objectTypeId", s->object_type_id);
    return o;
}

void hs_route_schemas_list(struct sim *sim, struct http_req *req, struct http_resp *resp)
{
    json_object *results = json_object_new_array();
    for (size_t i = 0; i < sim->hs.n_schemas; i++) {
        struct hs_schema *s = sim->hs.schemas[i];
        if (util_starts_with(s->object_type_id, "0-"))
            continue; /* the schemas API lists custom objects only */
        json_object_array_add(results, hs_schema_render(sim, s));
    }
    json_object *o = json_object_new_object();
    json_object_object_add(o, "results", results);
    http_resp_json(resp, 200, o);
}

void hs_route_schemas_get(struct sim *sim, struct http_req *req, struct http_resp *resp)
{
    const char *type = http_param(req, 0);
    struct hs_schema *s = hs_schema_resolve(sim, type);
    if (!s) {
        hs_errorf(resp, 404, "OBJECT_NOT_FOUND",
                  "Unable to find object type with id or name: %.200s", type);
        return;
    }
    http_resp_json(resp, 200, hs_schema_render(sim, s));
}
