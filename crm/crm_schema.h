/* crm_schema.h: normalised object schemas of both CRMs, built from their raw API documents.
 *
 * Owns: struct sf_object (from a Salesforce `GET sobjects/T/describe` answer) and struct hs_object
 * (from a HubSpot `GET /crm-object-schemas/v3/schemas/{type}` answer), the type tables that turn
 * the CRMs' type names into enums, and lookups by name.
 *
 * Design: one walk over the json-c tree; every string the structs hold is copied, so the caller
 * may release the JSON right after. Unknown type names become SF_TYPE_OTHER / HS_TYPE_OTHER /
 * HS_FIELD_OTHER with the raw name kept, because both CRMs add types over time. Members the
 * documents may omit (flags, lengths, options) default to false/0/empty; a member that is present
 * with the wrong JSON type is an error, so a mangled document is never taken for a real schema.
 *
 * Must not: do network or database work, log, or keep global mutable state. */
#ifndef SYNKRO_SYNC_CRM_SCHEMA_H
#define SYNKRO_SYNC_CRM_SCHEMA_H

#include <json-c/json.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* HubSpot's limit for a string property value, in characters. */
#define HS_STRING_MAX_CHARS 65536

/* ---- Salesforce ---- */

enum sf_field_type {
    SF_TYPE_OTHER = 0, /* anything not listed (address, location, base64, anyType, ...) */
    SF_TYPE_ID,
    SF_TYPE_STRING,
    SF_TYPE_TEXTAREA,
    SF_TYPE_EMAIL,
    SF_TYPE_PHONE,
    SF_TYPE_URL,
    SF_TYPE_COMBOBOX,
    SF_TYPE_ENCRYPTEDSTRING,
    SF_TYPE_PICKLIST,
    SF_TYPE_MULTIPICKLIST,
    SF_TYPE_BOOLEAN,
    SF_TYPE_INT,
    SF_TYPE_LONG,
    SF_TYPE_DOUBLE,
    SF_TYPE_CURRENCY,
    SF_TYPE_PERCENT,
    SF_TYPE_DATE,
    SF_TYPE_DATETIME,
    SF_TYPE_TIME,
    SF_TYPE_REFERENCE,
};

struct sf_picklist_value {
    char *value; /* the API value (what records hold) */
    char *label;
    bool active;
};

struct sf_field {
    char *name; /* API name, e.g. "Budget__c" */
    char *label;
    enum sf_field_type type;
    char *type_name; /* describe's "type" as sent, e.g. "currency" or "address" */
    int64_t length;  /* characters for text types, 0 otherwise */
    bool nillable;
    bool createable;
    bool updateable;
    bool calculated; /* formula or roll-up summary: never writable */
    bool external_id;
    bool unique;
    bool defaulted_on_create;
    bool name_field;
    bool restricted_picklist;
    bool id_lookup;      /* idLookup: usable to identify a record (upsert key) */
    char **reference_to; /* referenceTo[]: target objects of a reference field */
    size_t n_reference_to;
    char *relationship_name; /* NULL when absent */
    struct sf_picklist_value *picklist_values;
    size_t n_picklist_values;
};

struct sf_object {
    char *name; /* API name, e.g. "Project__c" */
    char *label;
    char *key_prefix; /* keyPrefix, the first 3 characters of record ids; NULL when absent */
    bool custom;
    bool createable; /* object-level permissions of the API user */
    bool updateable;
    bool deletable;
    bool queryable;
    struct sf_field *fields;
    size_t n_fields;
};

/* Builds an sf_object from a describe document. Requires a JSON object with a non-empty string
 * "name" and an array "fields" whose elements are objects with non-empty string "name" and
 * "type"; field names must be unique ignoring case. Returns the object (caller frees with
 * sf_object_free()), or NULL with a sentence in err (may be NULL) on malformed input or when
 * memory runs out. */
struct sf_object *sf_object_from_describe(json_object *describe, char *err, size_t errlen);

/* Frees an sf_object. Accepts NULL. */
void sf_object_free(struct sf_object *obj);

/* The field with this API name, ignoring case as Salesforce does; NULL if none or NULL args. */
const struct sf_field *sf_object_field(const struct sf_object *obj, const char *name);

/* The picklist entry whose value equals value exactly; NULL if none or NULL args. */
const struct sf_picklist_value *sf_field_picklist_value(const struct sf_field *field,
                                                        const char *value);

/* True if the field references object_name (ignoring case) in referenceTo[]. */
bool sf_field_references(const struct sf_field *field, const char *object_name);

/* Type table: "string" -> SF_TYPE_STRING, ...; unknown or NULL -> SF_TYPE_OTHER. */
enum sf_field_type sf_field_type_from_name(const char *name);
/* "string", ...; "other" for SF_TYPE_OTHER. Never NULL. */
const char *sf_field_type_name(enum sf_field_type type);

/* ---- HubSpot ---- */

enum hs_property_type {
    HS_TYPE_OTHER = 0,
    HS_TYPE_STRING,
    HS_TYPE_NUMBER,
    HS_TYPE_BOOL,
    HS_TYPE_ENUMERATION,
    HS_TYPE_DATE,
    HS_TYPE_DATETIME,
    HS_TYPE_PHONE_NUMBER,
};

enum hs_field_type {
    HS_FIELD_OTHER = 0,
    HS_FIELD_TEXT,
    HS_FIELD_TEXTAREA,
    HS_FIELD_HTML,
    HS_FIELD_PHONENUMBER,
    HS_FIELD_FILE,
    HS_FIELD_SELECT,
    HS_FIELD_RADIO,
    HS_FIELD_CHECKBOX, /* with HS_TYPE_ENUMERATION: multi-select, values joined with ';' */
    HS_FIELD_BOOLEANCHECKBOX,
    HS_FIELD_NUMBER,
    HS_FIELD_DATE,
    HS_FIELD_CALCULATION_EQUATION,
    HS_FIELD_CALCULATION_ROLLUP,
    HS_FIELD_CALCULATION_SCORE,
    HS_FIELD_CALCULATION_READ_TIME,
};

struct hs_option {
    char *value;
    char *label;
    bool hidden;
};

/* One property of a HubSpot object (named so as not to clash with crmsim's hs_property). */
struct hs_object_property {
    char *name;
    char *label;
    enum hs_property_type type;
    char *type_name;
    enum hs_field_type field_type;
    char *field_type_name; /* "" when the schema sent none */
    struct hs_option *options;
    size_t n_options;
    bool has_unique_value;
    bool calculated;
    bool read_only; /* modificationMetadata.readOnlyValue */
};

/* One association definition of the schema (from this object to another type). */
struct hs_association_def {
    int64_t id; /* the associationTypeId, sent as a string or a number */
    char *from_object_type_id;
    char *to_object_type_id;
    char *name; /* NULL when absent */
};

struct hs_object {
    char *id;                       /* the schema's "id"; NULL when absent */
    char *object_type_id;           /* "2-3465404" */
    char *fully_qualified_name;     /* "p62515_project"; NULL when absent */
    char *name;                     /* "project" */
    char *label_singular;           /* NULL when absent */
    char *label_plural;             /* NULL when absent */
    char *primary_display_property; /* NULL when absent */
    char **required_properties;
    size_t n_required_properties;
    struct hs_object_property *properties;
    size_t n_properties;
    struct hs_association_def *associations;
    size_t n_associations;
};

/* Builds an hs_object from a schema document. Requires a JSON object with non-empty strings
 * "name" and "objectTypeId" and an array "properties" of objects with non-empty string "name"
 * and "type"; property names unique; every requiredProperties entry a string. Returns the object
 * (caller frees with hs_object_free()), or NULL with a sentence in err (may be NULL). */
struct hs_object *hs_object_from_schema(json_object *schema, char *err, size_t errlen);

/* Frees an hs_object. Accepts NULL. */
void hs_object_free(struct hs_object *obj);

/* The property with this internal name (exact); NULL if none or NULL args. */
const struct hs_object_property *hs_object_property_find(const struct hs_object *obj,
                                                         const char *name);

/* The option whose value equals value exactly; NULL if none or NULL args. */
const struct hs_option *hs_property_option(const struct hs_object_property *prop,
                                           const char *value);

/* True for an enumeration shown as checkboxes (multi-select). */
bool hs_property_is_multi_select(const struct hs_object_property *prop);

/* True if ref names this object the way HubSpot's API accepts it: the objectTypeId
 * ("2-3465404", exact), the fully qualified name ("p62515_project", ignoring case), or for
 * HubSpot's own objects (0-N) the name ("companies", ignoring case). False for NULL args. */
bool hs_object_matches(const struct hs_object *obj, const char *ref);

/* True if name is listed in the schema's requiredProperties. */
bool hs_object_property_required(const struct hs_object *obj, const char *name);

/* Type tables as for Salesforce; unknown or NULL -> *_OTHER; names never NULL. */
enum hs_property_type hs_property_type_from_name(const char *name);
const char *hs_property_type_name(enum hs_property_type type);
enum hs_field_type hs_field_type_from_name(const char *name);
const char *hs_field_type_name(enum hs_field_type type);

#endif
