/* mapping_validate.c: a mapping checked against the Salesforce describe, the HubSpot schema and
 * the account's other mappings.
 *
 * Owns the type compatibility table, the option coverage rules for picklists, the identity and
 * association rules, and the wording of every problem (what is wrong, then what to do).
 *
 * Design: a small validator struct carries the inputs and the list; check_* functions each add
 * the problems of one concern in document order: the object pair and the account, identity,
 * each field (existence, duplicates, lookups, writability, types, value maps, options, length),
 * the required fields of both sides, then each association. Lists are scanned linearly; a
 * mapping has at most 500 fields and objects a few hundred, so the worst case is a few hundred
 * thousand string comparisons.
 *
 * Must not: log, allocate anything the caller must free (other than list items), or depend on
 * anything but the parsed structs. */
#include "model/mapping_validate.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

struct validator {
    const struct mapping *m;
    const struct sf_object *sf;
    const struct hs_object *hs;
    const struct mapping_context *ctx;
    struct problem_list *out;
    unsigned record_dirs; /* mapping_record_directions(m) */
    bool nomem;
};

static void report(struct validator *v, enum problem_severity severity, const char *path,
                   const char *code, const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static void report(struct validator *v, enum problem_severity severity, const char *path,
                   const char *code, const char *fmt, ...)
{
    char msg[PROBLEM_MESSAGE_MAX];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (problem_list_add(v->out, severity, path, code, "%s", msg) < 0)
        v->nomem = true;
}

#define add_error(v, path, code, ...)   report((v), PROBLEM_ERROR, (path), (code), __VA_ARGS__)
#define add_warning(v, path, code, ...) report((v), PROBLEM_WARNING, (path), (code), __VA_ARGS__)

/* Display names for messages. */
static const char *hs_label(const struct hs_object *hs)
{
    return hs->label_singular != NULL ? hs->label_singular : hs->name;
}

static const char *sf_label(const struct sf_object *sf)
{
    return sf->label != NULL ? sf->label : sf->name;
}

/* True if two HubSpot object references name the same object: equal ignoring case, or both
 * matched by the schema (e.g. "2-3465404" and "p62515_project"). */
static bool hs_ref_equal(const char *a, const char *b, const struct hs_object *schema)
{
    if (a == NULL || b == NULL)
        return false;
    if (strcasecmp(a, b) == 0)
        return true;
    return schema != NULL && hs_object_matches(schema, a) && hs_object_matches(schema, b);
}

/* The other mappings of the account, without an entry carrying m's own id. */
static const struct mapping_summary *other_mapping(const struct validator *v, size_t i)
{
    const struct mapping_summary *o = &v->ctx->mappings[i];

    if (v->m->has_id && o->id == v->m->id)
        return NULL;
    if (o->salesforce_object == NULL || o->hubspot_object == NULL)
        return NULL;
    return o;
}

static size_t n_mappings(const struct validator *v)
{
    return v->ctx != NULL && v->ctx->mappings != NULL ? v->ctx->n_mappings : 0;
}

static const char *mapping_display(const struct mapping_summary *o, char *buf, size_t len)
{
    if (o->name != NULL)
        snprintf(buf, len, "mapping %lld (\"%s\")", (long long)o->id, o->name);
    else
        snprintf(buf, len, "mapping %lld", (long long)o->id);
    return buf;
}

/* ---- the object pair and the account ---- */

static void check_objects(struct validator *v)
{
    const struct mapping *m = v->m;
    size_t limit = v->ctx != NULL && v->ctx->limit > 0 ? v->ctx->limit : MAPPING_DEFAULT_LIMIT;
    size_t count = v->ctx != NULL ? v->ctx->count : 0;
    bool dup_sf = false, dup_hs = false;

    if (v->sf == NULL)
        add_error(
            v, "salesforce_object", "salesforce_object_not_found",
            "Salesforce has no object %s that the integration user can see. Check the API name "
            "(Setup > Object Manager, e.g. Project__c) and give the integration user access "
            "to the object.",
            m->salesforce_object);
    if (v->hs == NULL)
        add_error(v, "hubspot_object", "hubspot_object_not_found",
                  "HubSpot has no object %s. Create the custom object in HubSpot first (Settings > "
                  "Data Management > Objects > Custom Objects), then use its object type id "
                  "(e.g. 2-3465404) or fully qualified name here.",
                  m->hubspot_object);
    if (!m->has_id && count >= limit)
        add_error(
            v, "", "mapping_limit_reached",
            "This account already has %zu mappings, the most allowed (%zu, set by "
            "SYNKRO_MAX_MAPPINGS). Delete a mapping you no longer need before adding this one.",
            count, limit);
    for (size_t i = 0; i < n_mappings(v); i++) {
        const struct mapping_summary *o = other_mapping(v, i);
        char who[PROBLEM_MESSAGE_MAX / 2];

        if (o == NULL)
            continue;
        if (!dup_sf && strcasecmp(o->salesforce_object, m->salesforce_object) == 0) {
            dup_sf = true;
            add_error(v, "salesforce_object", "duplicate_mapping",
                      "%s already syncs the Salesforce object %s; a Salesforce object can be in "
                      "only one mapping. Edit that mapping instead.",
                      mapping_display(o, who, sizeof(who)), m->salesforce_object);
        }
        if (!dup_hs && hs_ref_equal(o->hubspot_object, m->hubspot_object, v->hs)) {
            dup_hs = true;
            add_error(v, "hubspot_object", "duplicate_mapping",
                      "%s already syncs the HubSpot object %s; a HubSpot object can be in only one "
                      "mapping. Edit that mapping instead.",
                      mapping_display(o, who, sizeof(who)), m->hubspot_object);
        }
    }
}

/* ---- identity ---- */

static void check_identity(struct validator *v)
{
    const struct mapping *m = v->m;
    const char *hp = m->identity_hubspot_property;
    const char *sfn = m->identity_salesforce_field;

    if (hp == NULL && (v->record_dirs & MAPPING_DIR_SF_TO_HS) != 0) {
        add_error(
            v, "identity.hubspot_property", "identity_property_missing",
            "Name the HubSpot property that keeps the Salesforce record id, so synkro never "
            "creates a record twice: create a single-line text property with \"Require unique "
            "values\" on (for example salesforce_id) and enter its internal name here.");
    } else if (hp != NULL && v->hs != NULL) {
        const struct hs_object_property *p = hs_object_property_find(v->hs, hp);

        if (p == NULL)
            add_error(v, "identity.hubspot_property", "identity_property_missing",
                      "The HubSpot object %s has no property %s. Create it as a single-line text "
                      "property with \"Require unique values\" on, or fix the internal name.",
                      hs_label(v->hs), hp);
        else {
            if (p->type != HS_TYPE_STRING)
                add_error(v, "identity.hubspot_property", "identity_property_wrong_type",
                          "HubSpot property %s is of type %s; it must be a single-line text "
                          "property to hold Salesforce ids such as 0015g00000AbCdEAAV.",
                          hp, p->type_name);
            if (!p->has_unique_value)
                add_error(v, "identity.hubspot_property", "identity_property_not_unique",
                          "HubSpot property %s does not require unique values, so HubSpot cannot "
                          "find records by it. Create a new single-line text property with "
                          "\"Require unique values\" on (an existing property cannot be changed) "
                          "and use it here.",
                          hp);
            if (p->calculated || p->read_only)
                add_error(v, "identity.hubspot_property", "hubspot_property_read_only",
                          "HubSpot property %s is read-only or calculated, so synkro cannot store "
                          "the Salesforce id in it. Use a plain single-line text property.",
                          hp);
        }
    }

    if (sfn == NULL && (v->record_dirs & MAPPING_DIR_HS_TO_SF) != 0) {
        add_error(v, "identity.salesforce_field", "identity_field_missing",
                  "Name the Salesforce field that keeps the HubSpot record id, so synkro never "
                  "creates a record twice: create a Text(30) field marked External ID and Unique "
                  "on %s (for example HubSpot_Id__c) and enter its API name here.",
                  m->salesforce_object);
    } else if (sfn != NULL && v->sf != NULL) {
        const struct sf_field *f = sf_object_field(v->sf, sfn);

        if (f == NULL)
            add_error(v, "identity.salesforce_field", "identity_field_missing",
                      "The Salesforce object %s has no field %s visible to the integration user. "
                      "Create a Text(30) field marked External ID and Unique, or fix the API name.",
                      m->salesforce_object, sfn);
        else {
            if (!f->external_id)
                add_error(
                    v, "identity.salesforce_field", "identity_field_not_external_id",
                    "Salesforce field %s is not an External ID, so records cannot be upserted "
                    "by it. In Setup, edit the field and tick \"External ID\" (and "
                    "\"Unique\").",
                    f->name);
            if (f->type != SF_TYPE_STRING)
                add_error(v, "identity.salesforce_field", "identity_field_wrong_type",
                          "Salesforce field %s is of type %s; it must be a Text field to hold "
                          "HubSpot record ids.",
                          f->name, f->type_name);
            if (f->calculated || !f->updateable ||
                (m->hubspot_to_salesforce.create && !f->createable))
                add_error(v, "identity.salesforce_field", "salesforce_field_not_updateable",
                          "The integration user cannot write Salesforce field %s, so synkro cannot "
                          "store the HubSpot id in it. Give the user edit access to the field "
                          "(field-level security).",
                          f->name);
        }
    }
}

/* ---- field type compatibility ---- */

enum hs_kind {
    HK_OTHER = 0,
    HK_TEXT,
    HK_NUMBER,
    HK_BOOL,
    HK_SELECT,
    HK_MULTI,
    HK_DATE,
    HK_DATETIME,
};

static const char *const hs_kind_words[] = {
    [HK_OTHER] = "a property of a type synkro cannot sync",
    [HK_TEXT] = "a text property",
    [HK_NUMBER] = "a number property",
    [HK_BOOL] = "a single checkbox (bool) property",
    [HK_SELECT] = "a dropdown select or radio select property",
    [HK_MULTI] = "a multiple checkboxes property",
    [HK_DATE] = "a date picker property",
    [HK_DATETIME] = "a date and time property",
};

static enum hs_kind hs_kind_of(const struct hs_object_property *p)
{
    switch (p->type) {
    case HS_TYPE_STRING:
    case HS_TYPE_PHONE_NUMBER:
        return HK_TEXT;
    case HS_TYPE_NUMBER:
        return HK_NUMBER;
    case HS_TYPE_BOOL:
        return HK_BOOL;
    case HS_TYPE_ENUMERATION:
        return hs_property_is_multi_select(p) ? HK_MULTI : HK_SELECT;
    case HS_TYPE_DATE:
        return HK_DATE;
    case HS_TYPE_DATETIME:
        return HK_DATETIME;
    case HS_TYPE_OTHER:
        break;
    }
    return HK_OTHER;
}

enum compat_check {
    CC_PLAIN = 0,       /* values convert as they are */
    CC_OPTIONS,         /* picklist values and options must cover each other */
    CC_RESTRICTED_TEXT, /* free text cannot go into a restricted picklist */
};

/* Which HubSpot kind each Salesforce type syncs with. */
static const struct {
    enum sf_field_type sf;
    enum hs_kind hs;
    enum compat_check check;
} compat[] = {
    {SF_TYPE_ID, HK_TEXT, CC_PLAIN},           {SF_TYPE_STRING, HK_TEXT, CC_PLAIN},
    {SF_TYPE_TEXTAREA, HK_TEXT, CC_PLAIN},     {SF_TYPE_EMAIL, HK_TEXT, CC_PLAIN},
    {SF_TYPE_PHONE, HK_TEXT, CC_PLAIN},        {SF_TYPE_URL, HK_TEXT, CC_PLAIN},
    {SF_TYPE_COMBOBOX, HK_TEXT, CC_PLAIN},     {SF_TYPE_PICKLIST, HK_TEXT, CC_RESTRICTED_TEXT},
    {SF_TYPE_PICKLIST, HK_SELECT, CC_OPTIONS}, {SF_TYPE_MULTIPICKLIST, HK_MULTI, CC_OPTIONS},
    {SF_TYPE_BOOLEAN, HK_BOOL, CC_PLAIN},      {SF_TYPE_INT, HK_NUMBER, CC_PLAIN},
    {SF_TYPE_LONG, HK_NUMBER, CC_PLAIN},       {SF_TYPE_DOUBLE, HK_NUMBER, CC_PLAIN},
    {SF_TYPE_CURRENCY, HK_NUMBER, CC_PLAIN},   {SF_TYPE_PERCENT, HK_NUMBER, CC_PLAIN},
    {SF_TYPE_DATE, HK_DATE, CC_PLAIN},         {SF_TYPE_DATETIME, HK_DATETIME, CC_PLAIN},
};

/* Index of the compat row for the pair, or -1. */
static int compat_row(enum sf_field_type sf, enum hs_kind hs)
{
    for (size_t i = 0; i < COUNT(compat); i++) {
        if (compat[i].sf == sf && compat[i].hs == hs)
            return (int)i;
    }
    return -1;
}

/* "a number property" / "a text property or a dropdown select ... property" for an SF type. */
static void compatible_kinds(enum sf_field_type sf, char *buf, size_t len)
{
    size_t used = 0;

    buf[0] = '\0';
    for (size_t i = 0; i < COUNT(compat) && used < len; i++) {
        if (compat[i].sf != sf)
            continue;
        used += (size_t)snprintf(buf + used, len - used, "%s%s", used > 0 ? " or " : "",
                                 hs_kind_words[compat[i].hs]);
    }
}

static bool sf_is_text(enum sf_field_type t)
{
    return t == SF_TYPE_STRING || t == SF_TYPE_TEXTAREA || t == SF_TYPE_EMAIL ||
           t == SF_TYPE_PHONE || t == SF_TYPE_URL || t == SF_TYPE_COMBOBOX;
}

static bool sf_is_picklist(enum sf_field_type t)
{
    return t == SF_TYPE_PICKLIST || t == SF_TYPE_MULTIPICKLIST;
}

/* ---- per field ---- */

struct field_ctx {
    size_t index;
    const struct mapping_field *f;
    const struct sf_field *sff;          /* NULL if not found */
    const struct hs_object_property *hp; /* NULL if not found */
    unsigned dirs;                       /* rule directions limited to the record directions */
    char path_sf[PROBLEM_PATH_MAX];
    char path_hs[PROBLEM_PATH_MAX];
    char path_vm[PROBLEM_PATH_MAX];
};

static const struct mapping_value_pair *value_by_sf(const struct mapping_field *f, const char *s)
{
    for (size_t i = 0; i < f->n_value_map; i++) {
        if (strcmp(f->value_map[i].salesforce, s) == 0)
            return &f->value_map[i];
    }
    return NULL;
}

static const struct mapping_value_pair *value_by_hs(const struct mapping_field *f, const char *s)
{
    for (size_t i = 0; i < f->n_value_map; i++) {
        if (strcmp(f->value_map[i].hubspot, s) == 0)
            return &f->value_map[i];
    }
    return NULL;
}

static void check_field_duplicates(struct validator *v, const struct field_ctx *fc)
{
    const struct mapping *m = v->m;

    for (size_t j = 0; j < fc->index; j++) {
        if (strcasecmp(m->fields[j].salesforce, fc->f->salesforce) == 0) {
            add_error(v, fc->path_sf, "duplicate_salesforce_field",
                      "Salesforce field %s is already mapped in fields[%zu]. Map each field once; "
                      "remove one of the two.",
                      fc->f->salesforce, j);
            break;
        }
    }
    for (size_t j = 0; j < fc->index; j++) {
        if (strcasecmp(m->fields[j].hubspot, fc->f->hubspot) == 0) {
            add_error(v, fc->path_hs, "duplicate_hubspot_property",
                      "HubSpot property %s is already mapped in fields[%zu]. Map each property "
                      "once; remove one of the two.",
                      fc->f->hubspot, j);
            break;
        }
    }
    if (m->identity_salesforce_field != NULL &&
        strcasecmp(m->identity_salesforce_field, fc->f->salesforce) == 0)
        add_error(v, fc->path_sf, "identity_field_mapped",
                  "Salesforce field %s is the identity field: synkro writes the HubSpot id into it "
                  "itself. Remove this field mapping.",
                  fc->f->salesforce);
    if (m->identity_hubspot_property != NULL &&
        strcasecmp(m->identity_hubspot_property, fc->f->hubspot) == 0)
        add_error(v, fc->path_hs, "identity_property_mapped",
                  "HubSpot property %s is the identity property: synkro writes the Salesforce id "
                  "into it itself. Remove this field mapping.",
                  fc->f->hubspot);
}

static void check_writable(struct validator *v, const struct field_ctx *fc)
{
    const struct mapping *m = v->m;
    const struct sf_field *sff = fc->sff;

    if ((fc->dirs & MAPPING_DIR_HS_TO_SF) != 0 && sff != NULL) {
        bool need_update = m->hubspot_to_salesforce.update;
        bool need_create = m->hubspot_to_salesforce.create;

        if (sff->calculated)
            add_error(v, fc->path_sf, "salesforce_field_not_updateable",
                      "Salesforce field %s is a formula field and cannot be written. Set the rule "
                      "to always_salesforce, or map a different field.",
                      sff->name);
        else if ((need_update && !sff->updateable) || (need_create && !sff->createable))
            add_error(v, fc->path_sf, "salesforce_field_not_updateable",
                      "The integration user cannot %s Salesforce field %s, but rule %s writes "
                      "HubSpot values into it. Set the rule to always_salesforce, or give the user "
                      "edit access to the field (field-level security).",
                      need_update && !sff->updateable ? "edit" : "set on new records", sff->name,
                      mapping_field_rule_name(fc->f->rule));
    }
    if ((fc->dirs & MAPPING_DIR_SF_TO_HS) != 0 && fc->hp != NULL &&
        (fc->hp->calculated || fc->hp->read_only))
        add_error(v, fc->path_hs, "hubspot_property_read_only",
                  "HubSpot property %s is %s and cannot be written, but rule %s writes Salesforce "
                  "values into it. Set the rule to always_hubspot, or map a different property.",
                  fc->hp->name, fc->hp->calculated ? "calculated" : "read-only",
                  mapping_field_rule_name(fc->f->rule));
}

/* value_map entries must name real picklist values and (for dropdowns) real options. */
static void check_value_map(struct validator *v, const struct field_ctx *fc, enum hs_kind kind)
{
    const struct mapping_field *f = fc->f;

    if (f->n_value_map == 0)
        return;
    if (!sf_is_picklist(fc->sff->type)) {
        add_error(v, fc->path_vm, "value_map_not_applicable",
                  "Salesforce field %s is not a picklist, so a value_map does not apply. Remove "
                  "value_map from this field.",
                  fc->sff->name);
        return;
    }
    for (size_t i = 0; i < f->n_value_map; i++) {
        const struct mapping_value_pair *p = &f->value_map[i];
        char path[PROBLEM_PATH_MAX];

        mapping_path_key(path, sizeof(path), fc->path_vm, p->salesforce);
        if (sf_field_picklist_value(fc->sff, p->salesforce) == NULL)
            add_error(v, path, "value_map_unknown_salesforce_value",
                      "\"%s\" is not a value of the Salesforce picklist %s. Use the value's API "
                      "name as shown in Setup (values are case-sensitive), or remove the entry.",
                      p->salesforce, fc->sff->name);
        if ((kind == HK_SELECT || kind == HK_MULTI) &&
            hs_property_option(fc->hp, p->hubspot) == NULL)
            add_error(v, path, "value_map_unknown_hubspot_option",
                      "\"%s\" is not an option of the HubSpot property %s. Use the option's "
                      "internal value (Settings > Properties > %s), or add the option in HubSpot.",
                      p->hubspot, fc->hp->name, fc->hp->label);
    }
}

/* Picklist values and HubSpot options must cover each other in the directions that write. */
static void check_options(struct validator *v, const struct field_ctx *fc)
{
    const struct sf_field *sff = fc->sff;
    const struct hs_object_property *hp = fc->hp;
    const struct mapping_field *f = fc->f;

    if ((fc->dirs & MAPPING_DIR_SF_TO_HS) != 0) {
        for (size_t i = 0; i < sff->n_picklist_values; i++) {
            const struct sf_picklist_value *pv = &sff->picklist_values[i];

            if (!pv->active || value_by_sf(f, pv->value) != NULL ||
                hs_property_option(hp, pv->value) != NULL)
                continue;
            add_error(v, fc->path_vm, "option_unmapped",
                      "Salesforce value \"%s\" of %s has no option in HubSpot property %s. Add an "
                      "option with the internal value \"%s\" in HubSpot, or map it in value_map "
                      "(\"%s\": \"<HubSpot option value>\").",
                      pv->value, sff->name, hp->name, pv->value, pv->value);
        }
    }
    if ((fc->dirs & MAPPING_DIR_HS_TO_SF) == 0)
        return;
    for (size_t i = 0; i < hp->n_options; i++) {
        const struct hs_option *o = &hp->options[i];
        const struct mapping_value_pair *pair = value_by_hs(f, o->value);
        const char *target = pair != NULL ? pair->salesforce : o->value;
        const struct sf_picklist_value *pv = sf_field_picklist_value(sff, target);

        if (pair != NULL && pv == NULL)
            continue; /* reported as value_map_unknown_salesforce_value */
        if (sff->restricted_picklist && (pv == NULL || !pv->active))
            add_error(
                v, fc->path_vm, "option_unmapped",
                "HubSpot option \"%s\" of %s has no active value in the restricted Salesforce "
                "picklist %s, so Salesforce would refuse it. Add \"%s\" to the picklist (or "
                "activate it), map the option in value_map, or set the rule to "
                "always_salesforce.",
                o->value, hp->name, sff->name, target);
        else if (pv == NULL)
            add_warning(v, fc->path_vm, "option_unmapped",
                        "HubSpot option \"%s\" of %s is not a value of the Salesforce picklist %s; "
                        "Salesforce will store it as a value outside the picklist. Add it to the "
                        "picklist or map it in value_map.",
                        o->value, hp->name, sff->name);
    }
}

static void check_types(struct validator *v, const struct field_ctx *fc)
{
    const struct sf_field *sff = fc->sff;
    const struct hs_object_property *hp = fc->hp;
    enum hs_kind kind = hs_kind_of(hp);
    int row = compat_row(sff->type, kind);

    if (row < 0) {
        char kinds[PROBLEM_MESSAGE_MAX / 2];

        compatible_kinds(sff->type, kinds, sizeof(kinds));
        if (kinds[0] != '\0')
            add_error(v, fc->path_hs, "type_incompatible",
                      "Salesforce field %s (%s) cannot sync with HubSpot property %s (%s, %s): it "
                      "needs %s. Pick such a property or create one in HubSpot.",
                      sff->name, sff->type_name, hp->name, hp->type_name, hp->field_type_name,
                      kinds);
        else
            add_error(v, fc->path_hs, "type_incompatible",
                      "Salesforce field %s is of type %s, which synkro cannot sync. Remove this "
                      "field mapping.",
                      sff->name, sff->type_name);
        return;
    }
    if (compat[row].check == CC_RESTRICTED_TEXT && sff->restricted_picklist &&
        (fc->dirs & MAPPING_DIR_HS_TO_SF) != 0)
        add_error(v, fc->path_hs, "type_incompatible",
                  "HubSpot text property %s can hold any text, but Salesforce field %s is a "
                  "restricted picklist that refuses values it does not list. Map it to a dropdown "
                  "select property with the same options, or set the rule to always_salesforce.",
                  hp->name, sff->name);
    check_value_map(v, fc, kind);
    if (compat[row].check == CC_OPTIONS)
        check_options(v, fc);
    if (kind == HK_TEXT && (fc->dirs & MAPPING_DIR_SF_TO_HS) != 0 &&
        sff->length > HS_STRING_MAX_CHARS)
        add_warning(v, fc->path_hs, "text_may_truncate",
                    "Salesforce field %s holds up to %lld characters but HubSpot text properties "
                    "hold %d; longer values will be cut.",
                    sff->name, (long long)sff->length, HS_STRING_MAX_CHARS);
    if (kind == HK_TEXT && (fc->dirs & MAPPING_DIR_HS_TO_SF) != 0 && sf_is_text(sff->type) &&
        sff->length > 0 && sff->length < HS_STRING_MAX_CHARS)
        add_warning(v, fc->path_sf, "text_may_truncate",
                    "HubSpot property %s can hold up to %d characters but Salesforce field %s "
                    "holds %lld; longer HubSpot values will not fit. Consider the rule "
                    "always_salesforce or a longer Salesforce field.",
                    hp->name, HS_STRING_MAX_CHARS, sff->name, (long long)sff->length);
}

static void check_field(struct validator *v, size_t index)
{
    const struct mapping *m = v->m;
    struct field_ctx fc;

    memset(&fc, 0, sizeof(fc));
    fc.index = index;
    fc.f = &m->fields[index];
    fc.dirs = mapping_field_directions(fc.f->rule) & v->record_dirs;
    snprintf(fc.path_sf, sizeof(fc.path_sf), "fields[%zu].salesforce", index);
    snprintf(fc.path_hs, sizeof(fc.path_hs), "fields[%zu].hubspot", index);
    snprintf(fc.path_vm, sizeof(fc.path_vm), "fields[%zu].value_map", index);

    if (v->sf != NULL) {
        fc.sff = sf_object_field(v->sf, fc.f->salesforce);
        if (fc.sff == NULL)
            add_error(v, fc.path_sf, "salesforce_field_not_found",
                      "Salesforce object %s has no field %s that the integration user can see. "
                      "Check the API name (Setup > Object Manager > %s > Fields & Relationships) "
                      "and the field-level security of the integration user.",
                      v->sf->name, fc.f->salesforce, sf_label(v->sf));
    }
    if (v->hs != NULL) {
        fc.hp = hs_object_property_find(v->hs, fc.f->hubspot);
        if (fc.hp == NULL)
            add_error(v, fc.path_hs, "hubspot_property_not_found",
                      "HubSpot object %s has no property %s. Use the property's internal name "
                      "(Settings > Properties), or create the property first.",
                      hs_label(v->hs), fc.f->hubspot);
    }
    check_field_duplicates(v, &fc);
    if (fc.sff != NULL && fc.sff->type == SF_TYPE_REFERENCE) {
        add_error(v, fc.path_sf, "lookup_as_field",
                  "Salesforce field %s is a lookup to %s; lookups sync as associations, not as "
                  "values. Remove it from fields and add it under associations.",
                  fc.sff->name, fc.sff->n_reference_to > 0 ? fc.sff->reference_to[0] : "a record");
        return;
    }
    if (fc.f->rule == FIELD_RULE_DONT_SYNC)
        return;
    check_writable(v, &fc);
    if (fc.sff != NULL && fc.hp != NULL)
        check_types(v, &fc);
}

/* ---- required fields of both sides ---- */

/* Index of the field mapping for a HubSpot property / Salesforce field, or -1. */
static long find_field_hs(const struct mapping *m, const char *name)
{
    for (size_t i = 0; i < m->n_fields; i++) {
        if (strcasecmp(m->fields[i].hubspot, name) == 0)
            return (long)i;
    }
    return -1;
}

static long find_field_sf(const struct mapping *m, const char *name)
{
    for (size_t i = 0; i < m->n_fields; i++) {
        if (strcasecmp(m->fields[i].salesforce, name) == 0)
            return (long)i;
    }
    return -1;
}

static void check_required(struct validator *v)
{
    const struct mapping *m = v->m;

    if (v->hs != NULL && m->salesforce_to_hubspot.create) {
        for (size_t i = 0; i < v->hs->n_required_properties; i++) {
            const char *name = v->hs->required_properties[i];
            long j;
            char path[PROBLEM_PATH_MAX];

            if (m->identity_hubspot_property != NULL &&
                strcmp(name, m->identity_hubspot_property) == 0)
                continue; /* synkro fills it */
            j = find_field_hs(m, name);
            if (j < 0) {
                add_error(v, "fields", "required_property_unmapped",
                          "HubSpot requires %s on every %s, so records cannot be created without "
                          "it. Map a Salesforce field to %s with a rule that writes to HubSpot "
                          "(two_way, prefer_salesforce_unless_blank or always_salesforce).",
                          name, hs_label(v->hs), name);
            } else if ((mapping_field_directions(m->fields[j].rule) & MAPPING_DIR_SF_TO_HS) == 0) {
                snprintf(path, sizeof(path), "fields[%ld].rule", j);
                add_error(v, path, "required_property_unmapped",
                          "HubSpot requires %s, but rule %s never writes it from Salesforce. Use "
                          "two_way, prefer_salesforce_unless_blank or always_salesforce.",
                          name, mapping_field_rule_name(m->fields[j].rule));
            }
        }
    }
    if (v->sf == NULL || !m->hubspot_to_salesforce.create)
        return;
    for (size_t i = 0; i < v->sf->n_fields; i++) {
        const struct sf_field *f = &v->sf->fields[i];
        long j;
        char path[PROBLEM_PATH_MAX];

        if (!f->createable || f->nillable || f->defaulted_on_create || f->calculated ||
            f->type == SF_TYPE_REFERENCE)
            continue;
        if (m->identity_salesforce_field != NULL &&
            strcasecmp(f->name, m->identity_salesforce_field) == 0)
            continue;
        j = find_field_sf(m, f->name);
        if (j < 0) {
            add_error(v, "fields", "salesforce_required_field_unmapped",
                      "Salesforce requires %s on every new %s, and HubSpot records create "
                      "Salesforce records (rules.hubspot_to_salesforce.create). Map a HubSpot "
                      "property to %s with a rule that writes to Salesforce, or turn creates from "
                      "HubSpot off.",
                      f->name, m->salesforce_object, f->name);
        } else if ((mapping_field_directions(m->fields[j].rule) & MAPPING_DIR_HS_TO_SF) == 0) {
            snprintf(path, sizeof(path), "fields[%ld].rule", j);
            add_error(v, path, "salesforce_required_field_unmapped",
                      "Salesforce requires %s on new records, but rule %s never writes it from "
                      "HubSpot. Use two_way, prefer_salesforce_unless_blank or always_hubspot, or "
                      "turn creates from HubSpot off.",
                      f->name, mapping_field_rule_name(m->fields[j].rule));
        }
    }
}

/* ---- associations ---- */

/* The schema of the association target if known: m's own object or one of ctx's targets. */
static const struct hs_object *target_schema(const struct validator *v, const char *ref)
{
    if (v->hs != NULL && hs_object_matches(v->hs, ref))
        return v->hs;
    for (size_t i = 0;
         v->ctx != NULL && v->ctx->hubspot_targets != NULL && i < v->ctx->n_hubspot_targets; i++) {
        if (v->ctx->hubspot_targets[i] != NULL &&
            hs_object_matches(v->ctx->hubspot_targets[i], ref))
            return v->ctx->hubspot_targets[i];
    }
    return NULL;
}

/* "0-2" / "2-123": an object type id. */
static bool is_object_type_id(const char *s)
{
    const char *dash = strchr(s, '-');

    if (dash == NULL || dash == s || dash[1] == '\0')
        return false;
    for (const char *c = s; *c != '\0'; c++) {
        if (c != dash && (*c < '0' || *c > '9'))
            return false;
    }
    return true;
}

static void check_association_type(struct validator *v, const struct mapping_association *a,
                                   size_t k, const struct hs_object *target)
{
    const char *target_id = target != NULL                         ? target->object_type_id
                            : is_object_type_id(a->hubspot_object) ? a->hubspot_object
                                                                   : NULL;
    char path[PROBLEM_PATH_MAX];
    bool any_to_target = false;

    if (v->hs == NULL)
        return;
    for (size_t i = 0; target_id != NULL && i < v->hs->n_associations; i++)
        any_to_target |= strcmp(v->hs->associations[i].to_object_type_id, target_id) == 0;
    if (a->has_association_type_id) {
        const struct hs_association_def *def = NULL;

        snprintf(path, sizeof(path), "associations[%zu].association_type_id", k);
        for (size_t i = 0; i < v->hs->n_associations && def == NULL; i++) {
            if (v->hs->associations[i].id == a->association_type_id)
                def = &v->hs->associations[i];
        }
        if (def == NULL)
            add_error(v, path, "association_type_unknown",
                      "HubSpot object %s has no association type %lld. Use the id of one of its "
                      "association labels (GET /crm/v4/associations/%s/%s/labels), or null for "
                      "the default association.",
                      hs_label(v->hs), (long long)a->association_type_id, v->hs->object_type_id,
                      a->hubspot_object);
        else if (target_id != NULL && strcmp(def->to_object_type_id, target_id) != 0)
            add_error(v, path, "association_type_unknown",
                      "Association type %lld links %s to %s, not to %s. Use an association type "
                      "towards %s, or null for the default association.",
                      (long long)a->association_type_id, hs_label(v->hs), def->to_object_type_id,
                      a->hubspot_object, a->hubspot_object);
        return;
    }
    if (target_id != NULL && !any_to_target) {
        snprintf(path, sizeof(path), "associations[%zu].hubspot_object", k);
        add_error(v, path, "association_not_defined",
                  "HubSpot object %s has no association with %s. Define the association in "
                  "HubSpot (Settings > Data Management > Objects > %s > Associations) first.",
                  hs_label(v->hs), a->hubspot_object, hs_label(v->hs));
    }
}

/* True if the mapping pair (sf_obj, hs_obj) is the target of lookup -> a->hubspot_object. */
static bool pair_is_target(const char *sf_obj, const char *hs_obj, const struct sf_field *lookup,
                           const struct mapping_association *a, const struct hs_object *target)
{
    return sf_field_references(lookup, sf_obj) && hs_ref_equal(hs_obj, a->hubspot_object, target);
}

static void check_resolver(struct validator *v, const struct mapping_association *a, size_t k,
                           const struct sf_field *lookup, const struct hs_object *target)
{
    const struct mapping *m = v->m;
    char path[PROBLEM_PATH_MAX];
    const char *to = lookup != NULL && lookup->n_reference_to > 0 ? lookup->reference_to[0] : "";

    snprintf(path, sizeof(path), "associations[%zu].resolver", k);
    if (a->resolver == MAPPING_RESOLVER_HUBSPOT_PROPERTY) {
        snprintf(path, sizeof(path), "associations[%zu].resolver.hubspot_property", k);
        if (target != NULL && hs_object_property_find(target, a->resolver_hubspot_property) == NULL)
            add_error(v, path, "association_unresolvable",
                      "HubSpot object %s has no property %s to find the associated record by. Use "
                      "a property that holds the Salesforce %s id, or create a mapping for %s.",
                      hs_label(target), a->resolver_hubspot_property, to[0] ? to : "record",
                      to[0] ? to : "the target object");
        return;
    }
    if (a->resolver == MAPPING_RESOLVER_MAPPING) {
        const struct mapping_summary *found = NULL;
        char who[PROBLEM_MESSAGE_MAX / 2];

        if (m->has_id && a->resolver_mapping_id == m->id) {
            if (lookup != NULL &&
                !pair_is_target(m->salesforce_object, m->hubspot_object, lookup, a, target))
                add_error(v, path, "association_unresolvable",
                          "This mapping syncs %s with %s, but the lookup %s points to %s in %s. "
                          "Pick the mapping that syncs those objects.",
                          m->salesforce_object, m->hubspot_object, lookup->name, to,
                          a->hubspot_object);
            return;
        }
        for (size_t i = 0; i < n_mappings(v) && found == NULL; i++) {
            const struct mapping_summary *o = other_mapping(v, i);

            if (o != NULL && o->id == a->resolver_mapping_id)
                found = o;
        }
        if (found == NULL)
            add_error(v, path, "association_unresolvable",
                      "There is no mapping %lld in this account. Pick the mapping that syncs %s "
                      "with %s, or create it first.",
                      (long long)a->resolver_mapping_id, to[0] ? to : "the lookup's object",
                      a->hubspot_object);
        else if (lookup != NULL && !pair_is_target(found->salesforce_object, found->hubspot_object,
                                                   lookup, a, target))
            add_error(v, path, "association_unresolvable",
                      "%s syncs %s with %s, but the lookup %s points to %s in %s. Pick the "
                      "mapping that syncs those objects.",
                      mapping_display(found, who, sizeof(who)), found->salesforce_object,
                      found->hubspot_object, lookup->name, to, a->hubspot_object);
        return;
    }
    if (lookup == NULL)
        return;
    if (pair_is_target(m->salesforce_object, m->hubspot_object, lookup, a, target))
        return;
    for (size_t i = 0; i < n_mappings(v); i++) {
        const struct mapping_summary *o = other_mapping(v, i);

        if (o != NULL && pair_is_target(o->salesforce_object, o->hubspot_object, lookup, a, target))
            return;
    }
    add_error(v, path, "association_unresolvable",
              "%s is not synced with %s by any synkro mapping, so synkro cannot find the record to "
              "associate. Create a mapping for %s first, or set resolver.hubspot_property to a %s "
              "property that holds the Salesforce %s id.",
              to, a->hubspot_object, to, a->hubspot_object, to);
}

static void check_associations(struct validator *v)
{
    const struct mapping *m = v->m;
    long contact_at = -1, lead_at = -1;
    bool contacts_and_leads = false;

    for (size_t k = 0; k < m->n_associations; k++) {
        const struct mapping_association *a = &m->associations[k];
        const struct sf_field *lookup = NULL;
        const struct hs_object *target;
        char path[PROBLEM_PATH_MAX];

        snprintf(path, sizeof(path), "associations[%zu]", k);
        for (size_t j = 0; j < k; j++) {
            if (strcasecmp(m->associations[j].salesforce_field, a->salesforce_field) == 0 &&
                hs_ref_equal(m->associations[j].hubspot_object, a->hubspot_object,
                             target_schema(v, a->hubspot_object))) {
                add_error(v, path, "duplicate_association",
                          "associations[%zu] already associates %s with %s. Remove one of the two.",
                          j, a->salesforce_field, a->hubspot_object);
                break;
            }
        }
        if (!a->enabled)
            continue;
        snprintf(path, sizeof(path), "associations[%zu].salesforce_field", k);
        if (v->sf != NULL) {
            lookup = sf_object_field(v->sf, a->salesforce_field);
            if (lookup == NULL)
                add_error(v, path, "salesforce_field_not_found",
                          "Salesforce object %s has no field %s that the integration user can see. "
                          "Check the API name of the lookup field and the user's field-level "
                          "security.",
                          v->sf->name, a->salesforce_field);
            else if (lookup->type != SF_TYPE_REFERENCE) {
                add_error(v, path, "association_field_not_lookup",
                          "Salesforce field %s is a %s field, not a lookup, so it cannot become an "
                          "association. Pick a lookup field, or map %s under fields instead.",
                          lookup->name, lookup->type_name, lookup->name);
                lookup = NULL;
            }
        }
        if (lookup != NULL && !contacts_and_leads) {
            if (sf_field_references(lookup, "Contact") && contact_at < 0)
                contact_at = (long)k;
            if (sf_field_references(lookup, "Lead") && lead_at < 0)
                lead_at = (long)k;
            if (contact_at >= 0 && lead_at >= 0) {
                contacts_and_leads = true;
                add_error(v, path, "association_contacts_and_leads",
                          "This mapping would associate %s with both Salesforce Contacts and Leads "
                          "(associations[%ld] and associations[%ld]); both sync to HubSpot "
                          "contacts, so only one may be used. Disable one of them.",
                          m->salesforce_object, contact_at, lead_at);
            }
        }
        target = target_schema(v, a->hubspot_object);
        check_association_type(v, a, k, target);
        check_resolver(v, a, k, lookup, target);
    }
}

int mapping_validate(const struct mapping *m, const struct sf_object *sf,
                     const struct hs_object *hs, const struct mapping_context *ctx,
                     struct problem_list *out)
{
    struct validator v;

    if (m == NULL || out == NULL)
        return -1;
    v.m = m;
    v.sf = sf != NULL && strcasecmp(sf->name, m->salesforce_object) == 0 ? sf : NULL;
    v.hs = hs != NULL && hs_object_matches(hs, m->hubspot_object) ? hs : NULL;
    v.ctx = ctx;
    v.out = out;
    v.record_dirs = mapping_record_directions(m);
    v.nomem = false;

    check_objects(&v);
    check_identity(&v);
    for (size_t i = 0; i < m->n_fields; i++)
        check_field(&v, i);
    check_required(&v);
    check_associations(&v);
    if (v.nomem) {
        problem_list_add(out, PROBLEM_ERROR, "", "out_of_memory",
                         "the server ran out of memory while checking the mapping; try again");
        return -1;
    }
    return 0;
}
