/* crm_schema.c: Salesforce describe and HubSpot schema JSON -> struct sf_object / hs_object.
 *
 * Owns the type-name tables of both CRMs, the member readers that tell "absent" (default) from
 * "present with the wrong type" (error), and the copies of every string.
 *
 * Design: each builder allocates the top struct zeroed, fills it member by member and on the
 * first error frees what it has with the matching free function (which tolerates half-built
 * objects), so there is one cleanup path. Lookups are linear: objects have at most a few hundred
 * fields, and validation looks each one up a handful of times.
 *
 * Must not: log, touch the network or the database, or keep global mutable state. */
#include "crm/crm_schema.h"

#include "base/json_util.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- type tables ---- */

static const struct {
    enum sf_field_type type;
    const char *name;
} sf_types[] = {
    {SF_TYPE_ID, "id"},
    {SF_TYPE_STRING, "string"},
    {SF_TYPE_TEXTAREA, "textarea"},
    {SF_TYPE_EMAIL, "email"},
    {SF_TYPE_PHONE, "phone"},
    {SF_TYPE_URL, "url"},
    {SF_TYPE_COMBOBOX, "combobox"},
    {SF_TYPE_ENCRYPTEDSTRING, "encryptedstring"},
    {SF_TYPE_PICKLIST, "picklist"},
    {SF_TYPE_MULTIPICKLIST, "multipicklist"},
    {SF_TYPE_BOOLEAN, "boolean"},
    {SF_TYPE_INT, "int"},
    {SF_TYPE_LONG, "long"},
    {SF_TYPE_DOUBLE, "double"},
    {SF_TYPE_CURRENCY, "currency"},
    {SF_TYPE_PERCENT, "percent"},
    {SF_TYPE_DATE, "date"},
    {SF_TYPE_DATETIME, "datetime"},
    {SF_TYPE_TIME, "time"},
    {SF_TYPE_REFERENCE, "reference"},
};

static const struct {
    enum hs_property_type type;
    const char *name;
} hs_types[] = {
    {HS_TYPE_STRING, "string"},
    {HS_TYPE_NUMBER, "number"},
    {HS_TYPE_BOOL, "bool"},
    {HS_TYPE_ENUMERATION, "enumeration"},
    {HS_TYPE_DATE, "date"},
    {HS_TYPE_DATETIME, "datetime"},
    {HS_TYPE_PHONE_NUMBER, "phone_number"},
};

static const struct {
    enum hs_field_type type;
    const char *name;
} hs_field_types[] = {
    {HS_FIELD_TEXT, "text"},
    {HS_FIELD_TEXTAREA, "textarea"},
    {HS_FIELD_HTML, "html"},
    {HS_FIELD_PHONENUMBER, "phonenumber"},
    {HS_FIELD_FILE, "file"},
    {HS_FIELD_SELECT, "select"},
    {HS_FIELD_RADIO, "radio"},
    {HS_FIELD_CHECKBOX, "checkbox"},
    {HS_FIELD_BOOLEANCHECKBOX, "booleancheckbox"},
    {HS_FIELD_NUMBER, "number"},
    {HS_FIELD_DATE, "date"},
    {HS_FIELD_CALCULATION_EQUATION, "calculation_equation"},
    {HS_FIELD_CALCULATION_ROLLUP, "calculation_rollup"},
    {HS_FIELD_CALCULATION_SCORE, "calculation_score"},
    {HS_FIELD_CALCULATION_READ_TIME, "calculation_read_time"},
};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

enum sf_field_type sf_field_type_from_name(const char *name)
{
    for (size_t i = 0; name != NULL && i < COUNT(sf_types); i++) {
        if (strcmp(sf_types[i].name, name) == 0)
            return sf_types[i].type;
    }
    return SF_TYPE_OTHER;
}

const char *sf_field_type_name(enum sf_field_type type)
{
    for (size_t i = 0; i < COUNT(sf_types); i++) {
        if (sf_types[i].type == type)
            return sf_types[i].name;
    }
    return "other";
}

enum hs_property_type hs_property_type_from_name(const char *name)
{
    for (size_t i = 0; name != NULL && i < COUNT(hs_types); i++) {
        if (strcmp(hs_types[i].name, name) == 0)
            return hs_types[i].type;
    }
    return HS_TYPE_OTHER;
}

const char *hs_property_type_name(enum hs_property_type type)
{
    for (size_t i = 0; i < COUNT(hs_types); i++) {
        if (hs_types[i].type == type)
            return hs_types[i].name;
    }
    return "other";
}

enum hs_field_type hs_field_type_from_name(const char *name)
{
    for (size_t i = 0; name != NULL && i < COUNT(hs_field_types); i++) {
        if (strcmp(hs_field_types[i].name, name) == 0)
            return hs_field_types[i].type;
    }
    return HS_FIELD_OTHER;
}

const char *hs_field_type_name(enum hs_field_type type)
{
    for (size_t i = 0; i < COUNT(hs_field_types); i++) {
        if (hs_field_types[i].type == type)
            return hs_field_types[i].name;
    }
    return "other";
}

/* ---- member readers ---- */

struct reader {
    char *err;
    size_t errlen;
    int failed;
};

static void fail(struct reader *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void fail(struct reader *r, const char *fmt, ...)
{
    va_list ap;

    if (r->failed)
        return;
    r->failed = 1;
    if (r->err == NULL || r->errlen == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(r->err, r->errlen, fmt, ap);
    va_end(ap);
}

static char *dup_or_fail(struct reader *r, const char *s)
{
    char *d = strdup(s);

    if (d == NULL)
        fail(r, "out of memory");
    return d;
}

/* Copies a string member into *out. Absent/null: *out stays NULL, an error if required. Present
 * and not a string, or empty when required: an error naming what (e.g. "field Budget__c"). */
static void read_string(struct reader *r, json_object *obj, const char *key, bool required,
                        const char *what, char **out)
{
    json_object *v = json_member(obj, key);

    *out = NULL;
    if (r->failed)
        return;
    if (v == NULL) {
        if (required)
            fail(r, "%s has no \"%s\"", what, key);
        return;
    }
    if (!json_object_is_type(v, json_type_string)) {
        fail(r, "%s: \"%s\" must be a string", what, key);
        return;
    }
    if (required && json_object_get_string_len(v) == 0) {
        fail(r, "%s: \"%s\" must not be empty", what, key);
        return;
    }
    *out = dup_or_fail(r, json_object_get_string(v));
}

static bool read_bool(struct reader *r, json_object *obj, const char *key, const char *what)
{
    json_object *v = json_member(obj, key);

    if (r->failed || v == NULL)
        return false;
    if (!json_object_is_type(v, json_type_boolean)) {
        fail(r, "%s: \"%s\" must be true or false", what, key);
        return false;
    }
    return json_object_get_boolean(v) != 0;
}

/* A JSON integer, or a string of decimal digits (HubSpot sends association ids as strings). */
static int parse_int64(json_object *v, int64_t *out)
{
    if (json_object_is_type(v, json_type_int)) {
        errno = 0;
        *out = json_object_get_int64(v);
        return errno == 0 ? 0 : -1;
    }
    if (json_object_is_type(v, json_type_string)) {
        const char *s = json_object_get_string(v);
        char *end = NULL;
        long long n;

        if (s[0] < '0' || s[0] > '9')
            return -1;
        errno = 0;
        n = strtoll(s, &end, 10);
        if (errno != 0 || *end != '\0')
            return -1;
        *out = n;
        return 0;
    }
    return -1;
}

static int64_t read_int(struct reader *r, json_object *obj, const char *key, const char *what)
{
    json_object *v = json_member(obj, key);
    int64_t n = 0;

    if (r->failed || v == NULL)
        return 0;
    if (!json_object_is_type(v, json_type_int) || parse_int64(v, &n) < 0) {
        fail(r, "%s: \"%s\" must be an integer", what, key);
        return 0;
    }
    return n;
}

/* The array member, or NULL when absent (not an error unless required). */
static json_object *read_array(struct reader *r, json_object *obj, const char *key, bool required,
                               const char *what)
{
    json_object *v = json_member(obj, key);

    if (r->failed)
        return NULL;
    if (v == NULL) {
        if (required)
            fail(r, "%s has no \"%s\" array", what, key);
        return NULL;
    }
    if (!json_object_is_type(v, json_type_array)) {
        fail(r, "%s: \"%s\" must be an array", what, key);
        return NULL;
    }
    return v;
}

/* calloc of n elements, at least one so that an empty list is a valid pointer. */
static void *alloc_array(struct reader *r, size_t n, size_t size)
{
    void *p = calloc(n > 0 ? n : 1, size);

    if (p == NULL)
        fail(r, "out of memory");
    return p;
}

/* ---- Salesforce ---- */

static void sf_field_clear(struct sf_field *f)
{
    free(f->name);
    free(f->label);
    free(f->type_name);
    for (size_t i = 0; i < f->n_reference_to; i++)
        free(f->reference_to[i]);
    free(f->reference_to);
    free(f->relationship_name);
    for (size_t i = 0; i < f->n_picklist_values; i++) {
        free(f->picklist_values[i].value);
        free(f->picklist_values[i].label);
    }
    free(f->picklist_values);
}

void sf_object_free(struct sf_object *obj)
{
    if (obj == NULL)
        return;
    free(obj->name);
    free(obj->label);
    free(obj->key_prefix);
    for (size_t i = 0; i < obj->n_fields; i++)
        sf_field_clear(&obj->fields[i]);
    free(obj->fields);
    free(obj);
}

static void sf_read_picklist(struct reader *r, json_object *fd, struct sf_field *f,
                             const char *what)
{
    json_object *arr = read_array(r, fd, "picklistValues", false, what);
    size_t n = arr != NULL ? json_object_array_length(arr) : 0;

    if (r->failed || arr == NULL)
        return;
    f->picklist_values = alloc_array(r, n, sizeof(*f->picklist_values));
    for (size_t i = 0; !r->failed && i < n; i++) {
        json_object *pd = json_object_array_get_idx(arr, i);
        struct sf_picklist_value *pv = &f->picklist_values[i];
        char pwhat[200];

        snprintf(pwhat, sizeof(pwhat), "%s picklistValues[%zu]", what, i);
        if (!json_object_is_type(pd, json_type_object)) {
            fail(r, "%s must be an object", pwhat);
            break;
        }
        f->n_picklist_values = i + 1;
        read_string(r, pd, "value", true, pwhat, &pv->value);
        read_string(r, pd, "label", false, pwhat, &pv->label);
        if (!r->failed && pv->label == NULL)
            pv->label = dup_or_fail(r, pv->value);
        /* describe always sends "active"; a value without it is taken as active */
        pv->active = json_member(pd, "active") == NULL || read_bool(r, pd, "active", pwhat);
    }
}

static void sf_read_references(struct reader *r, json_object *fd, struct sf_field *f,
                               const char *what)
{
    json_object *arr = read_array(r, fd, "referenceTo", false, what);
    size_t n = arr != NULL ? json_object_array_length(arr) : 0;

    if (r->failed || arr == NULL)
        return;
    f->reference_to = alloc_array(r, n, sizeof(*f->reference_to));
    for (size_t i = 0; !r->failed && i < n; i++) {
        json_object *v = json_object_array_get_idx(arr, i);

        if (!json_object_is_type(v, json_type_string)) {
            fail(r, "%s: referenceTo[%zu] must be a string", what, i);
            break;
        }
        f->reference_to[i] = dup_or_fail(r, json_object_get_string(v));
        f->n_reference_to = i + 1;
    }
}

static void sf_read_field(struct reader *r, json_object *fd, size_t index, struct sf_field *f)
{
    char what[160];
    json_object *nv = json_member(fd, "name");

    if (nv != NULL && json_object_is_type(nv, json_type_string) &&
        json_object_get_string_len(nv) > 0)
        snprintf(what, sizeof(what), "field %s", json_object_get_string(nv));
    else
        snprintf(what, sizeof(what), "fields[%zu]", index);
    if (!json_object_is_type(fd, json_type_object)) {
        fail(r, "%s must be an object", what);
        return;
    }
    read_string(r, fd, "name", true, what, &f->name);
    read_string(r, fd, "label", false, what, &f->label);
    read_string(r, fd, "type", true, what, &f->type_name);
    if (r->failed)
        return;
    if (f->label == NULL)
        f->label = dup_or_fail(r, f->name);
    f->type = sf_field_type_from_name(f->type_name);
    f->length = read_int(r, fd, "length", what);
    f->nillable = read_bool(r, fd, "nillable", what);
    f->createable = read_bool(r, fd, "createable", what);
    f->updateable = read_bool(r, fd, "updateable", what);
    f->calculated = read_bool(r, fd, "calculated", what);
    f->external_id = read_bool(r, fd, "externalId", what);
    f->unique = read_bool(r, fd, "unique", what);
    f->defaulted_on_create = read_bool(r, fd, "defaultedOnCreate", what);
    f->name_field = read_bool(r, fd, "nameField", what);
    f->restricted_picklist = read_bool(r, fd, "restrictedPicklist", what);
    f->id_lookup = read_bool(r, fd, "idLookup", what);
    read_string(r, fd, "relationshipName", false, what, &f->relationship_name);
    sf_read_references(r, fd, f, what);
    sf_read_picklist(r, fd, f, what);
}

struct sf_object *sf_object_from_describe(json_object *describe, char *err, size_t errlen)
{
    struct reader r = {err, errlen, 0};
    struct sf_object *obj;
    json_object *fields;
    size_t n;

    if (err != NULL && errlen > 0)
        err[0] = '\0';
    if (describe == NULL || !json_object_is_type(describe, json_type_object)) {
        fail(&r, "the Salesforce describe must be a JSON object");
        return NULL;
    }
    obj = calloc(1, sizeof(*obj));
    if (obj == NULL) {
        fail(&r, "out of memory");
        return NULL;
    }
    read_string(&r, describe, "name", true, "the Salesforce describe", &obj->name);
    read_string(&r, describe, "label", false, "the Salesforce describe", &obj->label);
    read_string(&r, describe, "keyPrefix", false, "the Salesforce describe", &obj->key_prefix);
    obj->custom = read_bool(&r, describe, "custom", "the Salesforce describe");
    obj->createable = read_bool(&r, describe, "createable", "the Salesforce describe");
    obj->updateable = read_bool(&r, describe, "updateable", "the Salesforce describe");
    obj->deletable = read_bool(&r, describe, "deletable", "the Salesforce describe");
    obj->queryable = read_bool(&r, describe, "queryable", "the Salesforce describe");
    fields = read_array(&r, describe, "fields", true, "the Salesforce describe");
    if (r.failed)
        goto fail;
    if (obj->label == NULL)
        obj->label = dup_or_fail(&r, obj->name);
    n = json_object_array_length(fields);
    obj->fields = alloc_array(&r, n, sizeof(*obj->fields));
    for (size_t i = 0; !r.failed && i < n; i++) {
        obj->n_fields = i + 1;
        sf_read_field(&r, json_object_array_get_idx(fields, i), i, &obj->fields[i]);
        for (size_t j = 0; !r.failed && j < i; j++) {
            if (strcasecmp(obj->fields[j].name, obj->fields[i].name) == 0)
                fail(&r, "the Salesforce describe lists field %s twice", obj->fields[i].name);
        }
    }
    if (r.failed)
        goto fail;
    return obj;
fail:
    sf_object_free(obj);
    return NULL;
}

const struct sf_field *sf_object_field(const struct sf_object *obj, const char *name)
{
    if (obj == NULL || name == NULL)
        return NULL;
    for (size_t i = 0; i < obj->n_fields; i++) {
        if (strcasecmp(obj->fields[i].name, name) == 0)
            return &obj->fields[i];
    }
    return NULL;
}

const struct sf_picklist_value *sf_field_picklist_value(const struct sf_field *field,
                                                        const char *value)
{
    if (field == NULL || value == NULL)
        return NULL;
    for (size_t i = 0; i < field->n_picklist_values; i++) {
        if (strcmp(field->picklist_values[i].value, value) == 0)
            return &field->picklist_values[i];
    }
    return NULL;
}

bool sf_field_references(const struct sf_field *field, const char *object_name)
{
    if (field == NULL || object_name == NULL)
        return false;
    for (size_t i = 0; i < field->n_reference_to; i++) {
        if (strcasecmp(field->reference_to[i], object_name) == 0)
            return true;
    }
    return false;
}

/* ---- HubSpot ---- */

static void hs_property_clear(struct hs_object_property *p)
{
    free(p->name);
    free(p->label);
    free(p->type_name);
    free(p->field_type_name);
    for (size_t i = 0; i < p->n_options; i++) {
        free(p->options[i].value);
        free(p->options[i].label);
    }
    free(p->options);
}

void hs_object_free(struct hs_object *obj)
{
    if (obj == NULL)
        return;
    free(obj->id);
    free(obj->object_type_id);
    free(obj->fully_qualified_name);
    free(obj->name);
    free(obj->label_singular);
    free(obj->label_plural);
    free(obj->primary_display_property);
    for (size_t i = 0; i < obj->n_required_properties; i++)
        free(obj->required_properties[i]);
    free(obj->required_properties);
    for (size_t i = 0; i < obj->n_properties; i++)
        hs_property_clear(&obj->properties[i]);
    free(obj->properties);
    for (size_t i = 0; i < obj->n_associations; i++) {
        free(obj->associations[i].from_object_type_id);
        free(obj->associations[i].to_object_type_id);
        free(obj->associations[i].name);
    }
    free(obj->associations);
    free(obj);
}

static void hs_read_options(struct reader *r, json_object *pd, struct hs_object_property *p,
                            const char *what)
{
    json_object *arr = read_array(r, pd, "options", false, what);
    size_t n = arr != NULL ? json_object_array_length(arr) : 0;

    if (r->failed || arr == NULL)
        return;
    p->options = alloc_array(r, n, sizeof(*p->options));
    for (size_t i = 0; !r->failed && i < n; i++) {
        json_object *od = json_object_array_get_idx(arr, i);
        struct hs_option *o = &p->options[i];
        char owhat[160];

        snprintf(owhat, sizeof(owhat), "%s options[%zu]", what, i);
        if (!json_object_is_type(od, json_type_object)) {
            fail(r, "%s must be an object", owhat);
            break;
        }
        p->n_options = i + 1;
        read_string(r, od, "value", false, owhat, &o->value);
        read_string(r, od, "label", false, owhat, &o->label);
        if (!r->failed && o->value == NULL)
            fail(r, "%s has no \"value\"", owhat);
        if (!r->failed && o->label == NULL)
            o->label = dup_or_fail(r, o->value);
        o->hidden = read_bool(r, od, "hidden", owhat);
    }
}

static void hs_read_property(struct reader *r, json_object *pd, size_t index,
                             struct hs_object_property *p)
{
    char what[160];
    json_object *nv = json_member(pd, "name");
    json_object *mm;

    if (nv != NULL && json_object_is_type(nv, json_type_string) &&
        json_object_get_string_len(nv) > 0)
        snprintf(what, sizeof(what), "property %s", json_object_get_string(nv));
    else
        snprintf(what, sizeof(what), "properties[%zu]", index);
    if (!json_object_is_type(pd, json_type_object)) {
        fail(r, "%s must be an object", what);
        return;
    }
    read_string(r, pd, "name", true, what, &p->name);
    read_string(r, pd, "label", false, what, &p->label);
    read_string(r, pd, "type", true, what, &p->type_name);
    read_string(r, pd, "fieldType", false, what, &p->field_type_name);
    if (r->failed)
        return;
    if (p->label == NULL)
        p->label = dup_or_fail(r, p->name);
    if (p->field_type_name == NULL)
        p->field_type_name = dup_or_fail(r, "");
    p->type = hs_property_type_from_name(p->type_name);
    p->field_type = hs_field_type_from_name(p->field_type_name);
    p->has_unique_value = read_bool(r, pd, "hasUniqueValue", what);
    p->calculated = read_bool(r, pd, "calculated", what);
    mm = json_member(pd, "modificationMetadata");
    if (mm != NULL && !json_object_is_type(mm, json_type_object))
        fail(r, "%s: \"modificationMetadata\" must be an object", what);
    else if (mm != NULL)
        p->read_only = read_bool(r, mm, "readOnlyValue", what);
    hs_read_options(r, pd, p, what);
}

static void hs_read_associations(struct reader *r, json_object *schema, struct hs_object *obj)
{
    json_object *arr = read_array(r, schema, "associations", false, "the HubSpot schema");
    size_t n = arr != NULL ? json_object_array_length(arr) : 0;

    if (r->failed || arr == NULL)
        return;
    obj->associations = alloc_array(r, n, sizeof(*obj->associations));
    for (size_t i = 0; !r->failed && i < n; i++) {
        json_object *ad = json_object_array_get_idx(arr, i);
        struct hs_association_def *a = &obj->associations[i];
        json_object *idv;
        char what[80];

        snprintf(what, sizeof(what), "association definition %zu", i);
        if (!json_object_is_type(ad, json_type_object)) {
            fail(r, "%s must be an object", what);
            break;
        }
        obj->n_associations = i + 1;
        idv = json_member(ad, "id");
        if (idv == NULL || parse_int64(idv, &a->id) < 0) {
            fail(r, "%s needs a numeric \"id\"", what);
            break;
        }
        read_string(r, ad, "toObjectTypeId", true, what, &a->to_object_type_id);
        read_string(r, ad, "fromObjectTypeId", false, what, &a->from_object_type_id);
        read_string(r, ad, "name", false, what, &a->name);
        if (!r->failed && a->from_object_type_id == NULL)
            a->from_object_type_id = dup_or_fail(r, obj->object_type_id);
    }
}

static void hs_read_required(struct reader *r, json_object *schema, struct hs_object *obj)
{
    json_object *arr = read_array(r, schema, "requiredProperties", false, "the HubSpot schema");
    size_t n = arr != NULL ? json_object_array_length(arr) : 0;

    if (r->failed || arr == NULL)
        return;
    obj->required_properties = alloc_array(r, n, sizeof(*obj->required_properties));
    for (size_t i = 0; !r->failed && i < n; i++) {
        json_object *v = json_object_array_get_idx(arr, i);

        if (!json_object_is_type(v, json_type_string)) {
            fail(r, "the HubSpot schema: requiredProperties[%zu] must be a string", i);
            break;
        }
        obj->required_properties[i] = dup_or_fail(r, json_object_get_string(v));
        obj->n_required_properties = i + 1;
    }
}

struct hs_object *hs_object_from_schema(json_object *schema, char *err, size_t errlen)
{
    static const char what[] = "the HubSpot schema";
    struct reader r = {err, errlen, 0};
    struct hs_object *obj;
    json_object *props, *labels;
    size_t n;

    if (err != NULL && errlen > 0)
        err[0] = '\0';
    if (schema == NULL || !json_object_is_type(schema, json_type_object)) {
        fail(&r, "the HubSpot schema must be a JSON object");
        return NULL;
    }
    obj = calloc(1, sizeof(*obj));
    if (obj == NULL) {
        fail(&r, "out of memory");
        return NULL;
    }
    read_string(&r, schema, "name", true, what, &obj->name);
    read_string(&r, schema, "objectTypeId", true, what, &obj->object_type_id);
    read_string(&r, schema, "id", false, what, &obj->id);
    read_string(&r, schema, "fullyQualifiedName", false, what, &obj->fully_qualified_name);
    read_string(&r, schema, "primaryDisplayProperty", false, what, &obj->primary_display_property);
    labels = json_member(schema, "labels");
    if (!r.failed && labels != NULL && !json_object_is_type(labels, json_type_object))
        fail(&r, "the HubSpot schema: \"labels\" must be an object");
    if (!r.failed && labels != NULL) {
        read_string(&r, labels, "singular", false, "the HubSpot schema labels",
                    &obj->label_singular);
        read_string(&r, labels, "plural", false, "the HubSpot schema labels", &obj->label_plural);
    }
    props = read_array(&r, schema, "properties", true, what);
    if (r.failed)
        goto fail;
    n = json_object_array_length(props);
    obj->properties = alloc_array(&r, n, sizeof(*obj->properties));
    for (size_t i = 0; !r.failed && i < n; i++) {
        obj->n_properties = i + 1;
        hs_read_property(&r, json_object_array_get_idx(props, i), i, &obj->properties[i]);
        for (size_t j = 0; !r.failed && j < i; j++) {
            if (strcmp(obj->properties[j].name, obj->properties[i].name) == 0)
                fail(&r, "the HubSpot schema lists property %s twice", obj->properties[i].name);
        }
    }
    hs_read_required(&r, schema, obj);
    hs_read_associations(&r, schema, obj);
    if (r.failed)
        goto fail;
    return obj;
fail:
    hs_object_free(obj);
    return NULL;
}

const struct hs_object_property *hs_object_property_find(const struct hs_object *obj,
                                                         const char *name)
{
    if (obj == NULL || name == NULL)
        return NULL;
    for (size_t i = 0; i < obj->n_properties; i++) {
        if (strcmp(obj->properties[i].name, name) == 0)
            return &obj->properties[i];
    }
    return NULL;
}

const struct hs_option *hs_property_option(const struct hs_object_property *prop, const char *value)
{
    if (prop == NULL || value == NULL)
        return NULL;
    for (size_t i = 0; i < prop->n_options; i++) {
        if (strcmp(prop->options[i].value, value) == 0)
            return &prop->options[i];
    }
    return NULL;
}

bool hs_property_is_multi_select(const struct hs_object_property *prop)
{
    return prop != NULL && prop->type == HS_TYPE_ENUMERATION &&
           prop->field_type == HS_FIELD_CHECKBOX;
}

bool hs_object_matches(const struct hs_object *obj, const char *ref)
{
    if (obj == NULL || ref == NULL || ref[0] == '\0')
        return false;
    if (strcmp(obj->object_type_id, ref) == 0)
        return true;
    if (obj->fully_qualified_name != NULL && strcasecmp(obj->fully_qualified_name, ref) == 0)
        return true;
    return strncmp(obj->object_type_id, "0-", 2) == 0 && strcasecmp(obj->name, ref) == 0;
}

bool hs_object_property_required(const struct hs_object *obj, const char *name)
{
    if (obj == NULL || name == NULL)
        return false;
    for (size_t i = 0; i < obj->n_required_properties; i++) {
        if (strcmp(obj->required_properties[i], name) == 0)
            return true;
    }
    return false;
}
