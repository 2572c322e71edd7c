/* test_crm_schema.c: unit tests for sync/crm_schema (Salesforce describe and HubSpot schema
 * normalisation).
 *
 * Covers the fixtures under tests/fixtures/schemas (every Salesforce field type of Project__c,
 * picklists with an inactive value, lookups, a formula, the external id; every HubSpot property
 * type, options, unique/calculated/read-only properties, required properties and association
 * definitions), name lookups (case rules of each CRM), object matching, the type tables, and
 * one test per malformed-input error. Needs SYNKRO_SOURCE_DIR (set by ctest) or runs from the
 * repository root. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crm/crm_schema.h"

static json_object *load_fixture(const char *name)
{
    const char *dir = getenv("SYNKRO_SOURCE_DIR");
    char path[1024];
    json_object *doc;

    snprintf(path, sizeof(path), "%s/tests/fixtures/schemas/%s", dir != NULL ? dir : ".", name);
    doc = json_object_from_file(path);
    if (doc == NULL)
        fail_msg("cannot read fixture %s", path);
    return doc;
}

static json_object *parse(const char *text)
{
    json_object *doc = json_tokener_parse(text);

    assert_non_null(doc);
    return doc;
}

/* ---- Salesforce ---- */

static void test_sf_fixture_object(void **state)
{
    json_object *doc = load_fixture("salesforce_project_describe.json");
    char err[256] = "unchanged";
    struct sf_object *sf = sf_object_from_describe(doc, err, sizeof(err));

    (void)state;
    json_object_put(doc); /* the object must not point into the JSON */
    assert_non_null(sf);
    assert_string_equal(err, "");
    assert_string_equal(sf->name, "Project__c");
    assert_string_equal(sf->label, "Project");
    assert_true(sf->custom);
    assert_int_equal(sf->n_fields, 29);
    sf_object_free(sf);
}

static void test_sf_fixture_types(void **state)
{
    static const struct {
        const char *name;
        enum sf_field_type type;
        const char *type_name;
    } want[] = {
        {"Id", SF_TYPE_ID, "id"},
        {"OwnerId", SF_TYPE_REFERENCE, "reference"},
        {"Name", SF_TYPE_STRING, "string"},
        {"CreatedDate", SF_TYPE_DATETIME, "datetime"},
        {"Description__c", SF_TYPE_TEXTAREA, "textarea"},
        {"Notes__c", SF_TYPE_TEXTAREA, "textarea"},
        {"Contact_Email__c", SF_TYPE_EMAIL, "email"},
        {"Phone__c", SF_TYPE_PHONE, "phone"},
        {"Website__c", SF_TYPE_URL, "url"},
        {"Status__c", SF_TYPE_PICKLIST, "picklist"},
        {"Regions__c", SF_TYPE_MULTIPICKLIST, "multipicklist"},
        {"Is_Billable__c", SF_TYPE_BOOLEAN, "boolean"},
        {"Seats__c", SF_TYPE_INT, "int"},
        {"Hours_Estimate__c", SF_TYPE_DOUBLE, "double"},
        {"Budget__c", SF_TYPE_CURRENCY, "currency"},
        {"Completion__c", SF_TYPE_PERCENT, "percent"},
        {"Start_Date__c", SF_TYPE_DATE, "date"},
        {"Kickoff__c", SF_TYPE_DATETIME, "datetime"},
        {"Account__c", SF_TYPE_REFERENCE, "reference"},
        {"Days_Open__c", SF_TYPE_DOUBLE, "double"},
        {"HubSpot_Id__c", SF_TYPE_STRING, "string"},
    };
    json_object *doc = load_fixture("salesforce_project_describe.json");
    struct sf_object *sf = sf_object_from_describe(doc, NULL, 0);

    (void)state;
    assert_non_null(sf);
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        const struct sf_field *f = sf_object_field(sf, want[i].name);

        assert_non_null(f);
        assert_string_equal(f->name, want[i].name);
        assert_int_equal(f->type, want[i].type);
        assert_string_equal(f->type_name, want[i].type_name);
    }
    sf_object_free(sf);
    json_object_put(doc);
}

static void test_sf_fixture_flags(void **state)
{
    json_object *doc = load_fixture("salesforce_project_describe.json");
    struct sf_object *sf = sf_object_from_describe(doc, NULL, 0);
    const struct sf_field *f;

    (void)state;
    assert_non_null(sf);

    f = sf_object_field(sf, "Name");
    assert_int_equal(f->length, 80);
    assert_false(f->nillable);
    assert_true(f->createable);
    assert_true(f->updateable);
    assert_true(f->name_field);
    assert_false(f->defaulted_on_create);

    f = sf_object_field(sf, "Notes__c");
    assert_int_equal(f->length, 131072);

    f = sf_object_field(sf, "Days_Open__c");
    assert_true(f->calculated);
    assert_false(f->createable);
    assert_false(f->updateable);

    f = sf_object_field(sf, "HubSpot_Id__c");
    assert_true(f->external_id);
    assert_true(f->unique);
    assert_int_equal(f->length, 40);

    f = sf_object_field(sf, "Id");
    assert_false(f->createable);
    assert_false(f->updateable);
    assert_false(f->external_id);

    f = sf_object_field(sf, "Is_Billable__c");
    assert_false(f->nillable);
    assert_true(f->defaulted_on_create);
    sf_object_free(sf);
    json_object_put(doc);
}

static void test_sf_fixture_picklists(void **state)
{
    json_object *doc = load_fixture("salesforce_project_describe.json");
    struct sf_object *sf = sf_object_from_describe(doc, NULL, 0);
    const struct sf_field *f;
    const struct sf_picklist_value *pv;

    (void)state;
    assert_non_null(sf);
    f = sf_object_field(sf, "Status__c");
    assert_true(f->restricted_picklist);
    assert_int_equal(f->n_picklist_values, 5);
    assert_string_equal(f->picklist_values[1].value, "In Progress");
    assert_string_equal(f->picklist_values[1].label, "In Progress");
    assert_true(f->picklist_values[1].active);
    pv = sf_field_picklist_value(f, "Cancelled");
    assert_non_null(pv);
    assert_false(pv->active);
    /* picklist values are compared exactly */
    assert_null(sf_field_picklist_value(f, "planned"));
    assert_non_null(sf_field_picklist_value(f, "Planned"));

    f = sf_object_field(sf, "Regions__c");
    assert_false(f->restricted_picklist);
    assert_int_equal(f->n_picklist_values, 3);
    assert_string_equal(f->picklist_values[2].value, "APAC");

    f = sf_object_field(sf, "Priority__c");
    assert_false(f->restricted_picklist);
    assert_int_equal(f->n_picklist_values, 3);

    f = sf_object_field(sf, "Budget__c");
    assert_int_equal(f->n_picklist_values, 0);
    sf_object_free(sf);
    json_object_put(doc);
}

static void test_sf_fixture_references(void **state)
{
    json_object *doc = load_fixture("salesforce_project_describe.json");
    struct sf_object *sf = sf_object_from_describe(doc, NULL, 0);
    const struct sf_field *f;

    (void)state;
    assert_non_null(sf);
    f = sf_object_field(sf, "Account__c");
    assert_int_equal(f->n_reference_to, 1);
    assert_string_equal(f->reference_to[0], "Account");
    assert_string_equal(f->relationship_name, "Account__r");
    assert_true(sf_field_references(f, "account"));
    assert_false(sf_field_references(f, "Contact"));

    f = sf_object_field(sf, "Contact__c");
    assert_string_equal(f->reference_to[0], "Contact");
    f = sf_object_field(sf, "Lead__c");
    assert_string_equal(f->reference_to[0], "Lead");
    assert_string_equal(f->relationship_name, "Lead__r");

    f = sf_object_field(sf, "OwnerId");
    assert_int_equal(f->n_reference_to, 2);
    assert_string_equal(f->reference_to[0], "Group");
    assert_string_equal(f->reference_to[1], "User");

    f = sf_object_field(sf, "Name");
    assert_int_equal(f->n_reference_to, 0);
    assert_null(f->relationship_name);
    assert_false(sf_field_references(f, "Account"));
    assert_false(sf_field_references(NULL, "Account"));
    sf_object_free(sf);
    json_object_put(doc);
}

static void test_sf_lookup_ignores_case(void **state)
{
    json_object *doc = load_fixture("salesforce_project_describe.json");
    struct sf_object *sf = sf_object_from_describe(doc, NULL, 0);

    (void)state;
    assert_non_null(sf);
    assert_string_equal(sf_object_field(sf, "budget__C")->name, "Budget__c");
    assert_string_equal(sf_object_field(sf, "HUBSPOT_ID__C")->name, "HubSpot_Id__c");
    assert_null(sf_object_field(sf, "Budget"));
    assert_null(sf_object_field(sf, NULL));
    assert_null(sf_object_field(NULL, "Name"));
    sf_object_free(sf);
    json_object_put(doc);
}

static void test_sf_minimal_and_unknown_type(void **state)
{
    json_object *doc = parse("{\"name\":\"Thing__c\",\"fields\":[{\"name\":\"Where__c\","
                             "\"type\":\"address\"},{\"name\":\"At__c\",\"type\":\"time\"}]}");
    struct sf_object *sf = sf_object_from_describe(doc, NULL, 0);
    const struct sf_field *f;

    (void)state;
    assert_non_null(sf);
    assert_string_equal(sf->label, "Thing__c"); /* label defaults to the name */
    assert_false(sf->custom);
    assert_null(sf->key_prefix);
    assert_false(sf->createable || sf->updateable || sf->deletable || sf->queryable);
    f = sf_object_field(sf, "Where__c");
    assert_int_equal(f->type, SF_TYPE_OTHER);
    assert_string_equal(f->type_name, "address");
    assert_string_equal(f->label, "Where__c");
    assert_false(f->createable);
    assert_int_equal(f->length, 0);
    assert_int_equal(sf_object_field(sf, "At__c")->type, SF_TYPE_TIME);
    sf_object_free(sf);
    json_object_put(doc);
}

static void expect_sf_error(const char *text, const char *want)
{
    json_object *doc = text != NULL ? parse(text) : NULL;
    char err[256] = "";
    struct sf_object *sf = sf_object_from_describe(doc, err, sizeof(err));

    if (sf != NULL || strstr(err, want) == NULL)
        fail_msg("input %s: got %s, error \"%s\", want error containing \"%s\"",
                 text != NULL ? text : "NULL", sf != NULL ? "an object" : "NULL", err, want);
    json_object_put(doc);
}

static void test_sf_malformed(void **state)
{
    (void)state;
    expect_sf_error(NULL, "must be a JSON object");
    expect_sf_error("[]", "must be a JSON object");
    expect_sf_error("{\"fields\":[]}", "has no \"name\"");
    expect_sf_error("{\"name\":\"\",\"fields\":[]}", "\"name\" must not be empty");
    expect_sf_error("{\"name\":7,\"fields\":[]}", "\"name\" must be a string");
    expect_sf_error("{\"name\":\"A__c\"}", "has no \"fields\" array");
    expect_sf_error("{\"name\":\"A__c\",\"fields\":{}}", "\"fields\" must be an array");
    expect_sf_error("{\"name\":\"A__c\",\"fields\":[3]}", "fields[0] must be an object");
    expect_sf_error("{\"name\":\"A__c\",\"fields\":[{\"type\":\"string\"}]}",
                    "fields[0] has no \"name\"");
    expect_sf_error("{\"name\":\"A__c\",\"fields\":[{\"name\":\"B__c\"}]}",
                    "field B__c has no \"type\"");
    expect_sf_error("{\"name\":\"A__c\",\"fields\":[{\"name\":\"B__c\",\"type\":\"string\","
                    "\"createable\":\"yes\"}]}",
                    "field B__c: \"createable\" must be true or false");
    expect_sf_error("{\"name\":\"A__c\",\"fields\":[{\"name\":\"B__c\",\"type\":\"string\","
                    "\"length\":\"80\"}]}",
                    "field B__c: \"length\" must be an integer");
    expect_sf_error("{\"name\":\"A__c\",\"fields\":[{\"name\":\"B__c\",\"type\":\"string\"},"
                    "{\"name\":\"b__C\",\"type\":\"string\"}]}",
                    "lists field b__C twice");
    expect_sf_error("{\"name\":\"A__c\",\"fields\":[{\"name\":\"B__c\",\"type\":\"picklist\","
                    "\"picklistValues\":[{\"label\":\"x\"}]}]}",
                    "field B__c picklistValues[0] has no \"value\"");
    expect_sf_error("{\"name\":\"A__c\",\"fields\":[{\"name\":\"B__c\",\"type\":\"picklist\","
                    "\"picklistValues\":\"x\"}]}",
                    "\"picklistValues\" must be an array");
    expect_sf_error("{\"name\":\"A__c\",\"fields\":[{\"name\":\"B__c\",\"type\":\"reference\","
                    "\"referenceTo\":[1]}]}",
                    "field B__c: referenceTo[0] must be a string");
}

static void test_sf_free_null_and_null_err(void **state)
{
    json_object *doc = parse("{}");

    (void)state;
    sf_object_free(NULL);
    assert_null(sf_object_from_describe(doc, NULL, 0)); /* no err buffer: still fails cleanly */
    json_object_put(doc);
}

static void test_sf_type_table(void **state)
{
    (void)state;
    for (int t = SF_TYPE_OTHER; t <= SF_TYPE_REFERENCE; t++) {
        const char *name = sf_field_type_name((enum sf_field_type)t);

        assert_int_equal(sf_field_type_from_name(name), t);
    }
    assert_string_equal(sf_field_type_name(SF_TYPE_CURRENCY), "currency");
    assert_int_equal(sf_field_type_from_name("Currency"), SF_TYPE_OTHER); /* exact */
    assert_int_equal(sf_field_type_from_name(NULL), SF_TYPE_OTHER);
}

/* ---- HubSpot ---- */

static void test_hs_fixture_object(void **state)
{
    json_object *doc = load_fixture("hubspot_project_schema.json");
    char err[256] = "unchanged";
    struct hs_object *hs = hs_object_from_schema(doc, err, sizeof(err));

    (void)state;
    json_object_put(doc);
    assert_non_null(hs);
    assert_string_equal(err, "");
    assert_string_equal(hs->object_type_id, "2-3465404");
    assert_string_equal(hs->fully_qualified_name, "p62515_project");
    assert_string_equal(hs->name, "project");
    assert_string_equal(hs->label_singular, "Project");
    assert_string_equal(hs->label_plural, "Projects");
    assert_string_equal(hs->primary_display_property, "name");
    assert_int_equal(hs->n_required_properties, 2);
    assert_string_equal(hs->required_properties[0], "name");
    assert_string_equal(hs->required_properties[1], "salesforce_id");
    assert_true(hs_object_property_required(hs, "salesforce_id"));
    assert_false(hs_object_property_required(hs, "budget"));
    assert_int_equal(hs->n_properties, 23);
    hs_object_free(hs);
}

static void test_hs_fixture_properties(void **state)
{
    static const struct {
        const char *name;
        enum hs_property_type type;
        enum hs_field_type field_type;
        bool multi;
    } want[] = {
        {"name", HS_TYPE_STRING, HS_FIELD_TEXT, false},
        {"description", HS_TYPE_STRING, HS_FIELD_TEXTAREA, false},
        {"phone", HS_TYPE_PHONE_NUMBER, HS_FIELD_PHONENUMBER, false},
        {"project_status", HS_TYPE_ENUMERATION, HS_FIELD_SELECT, false},
        {"regions", HS_TYPE_ENUMERATION, HS_FIELD_CHECKBOX, true},
        {"priority", HS_TYPE_ENUMERATION, HS_FIELD_RADIO, false},
        {"is_billable", HS_TYPE_BOOL, HS_FIELD_BOOLEANCHECKBOX, false},
        {"budget", HS_TYPE_NUMBER, HS_FIELD_NUMBER, false},
        {"start_date", HS_TYPE_DATE, HS_FIELD_DATE, false},
        {"kickoff", HS_TYPE_DATETIME, HS_FIELD_DATE, false},
        {"days_open", HS_TYPE_NUMBER, HS_FIELD_CALCULATION_EQUATION, false},
    };
    json_object *doc = load_fixture("hubspot_project_schema.json");
    struct hs_object *hs = hs_object_from_schema(doc, NULL, 0);

    (void)state;
    assert_non_null(hs);
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        const struct hs_object_property *p = hs_object_property_find(hs, want[i].name);

        assert_non_null(p);
        assert_int_equal(p->type, want[i].type);
        assert_int_equal(p->field_type, want[i].field_type);
        assert_int_equal(hs_property_is_multi_select(p), want[i].multi);
    }
    hs_object_free(hs);
    json_object_put(doc);
}

static void test_hs_fixture_flags_and_options(void **state)
{
    json_object *doc = load_fixture("hubspot_project_schema.json");
    struct hs_object *hs = hs_object_from_schema(doc, NULL, 0);
    const struct hs_object_property *p;

    (void)state;
    assert_non_null(hs);
    p = hs_object_property_find(hs, "salesforce_id");
    assert_true(p->has_unique_value);
    assert_false(p->read_only);
    assert_false(p->calculated);

    p = hs_object_property_find(hs, "days_open");
    assert_true(p->calculated);
    assert_true(p->read_only);

    p = hs_object_property_find(hs, "hs_object_id");
    assert_false(p->calculated);
    assert_true(p->read_only);
    assert_false(p->has_unique_value);

    p = hs_object_property_find(hs, "project_status");
    assert_int_equal(p->n_options, 4);
    assert_string_equal(p->options[1].value, "in_progress");
    assert_string_equal(p->options[1].label, "In progress");
    assert_false(p->options[1].hidden);
    assert_non_null(hs_property_option(p, "on_hold"));
    assert_null(hs_property_option(p, "On Hold"));

    p = hs_object_property_find(hs, "regions");
    assert_int_equal(p->n_options, 3);
    assert_string_equal(hs_property_option(p, "AMER")->label, "Americas");

    p = hs_object_property_find(hs, "is_billable");
    assert_int_equal(p->n_options, 2);
    assert_null(hs_object_property_find(hs, "Name")); /* internal names are exact */
    assert_null(hs_object_property_find(NULL, "name"));
    hs_object_free(hs);
    json_object_put(doc);
}

static void test_hs_fixture_associations(void **state)
{
    json_object *doc = load_fixture("hubspot_project_schema.json");
    struct hs_object *hs = hs_object_from_schema(doc, NULL, 0);

    (void)state;
    assert_non_null(hs);
    assert_int_equal(hs->n_associations, 2);
    assert_int_equal(hs->associations[0].id, 279);
    assert_string_equal(hs->associations[0].from_object_type_id, "2-3465404");
    assert_string_equal(hs->associations[0].to_object_type_id, "0-2");
    assert_string_equal(hs->associations[0].name, "project_to_company");
    assert_int_equal(hs->associations[1].id, 281);
    assert_string_equal(hs->associations[1].to_object_type_id, "0-1");
    hs_object_free(hs);
    json_object_put(doc);
}

static void test_hs_matches(void **state)
{
    json_object *doc = load_fixture("hubspot_project_schema.json");
    json_object *cdoc = load_fixture("hubspot_companies_schema.json");
    struct hs_object *hs = hs_object_from_schema(doc, NULL, 0);
    struct hs_object *co = hs_object_from_schema(cdoc, NULL, 0);

    (void)state;
    assert_non_null(hs);
    assert_non_null(co);
    assert_true(hs_object_matches(hs, "2-3465404"));
    assert_true(hs_object_matches(hs, "p62515_project"));
    assert_true(hs_object_matches(hs, "P62515_Project"));
    assert_false(hs_object_matches(hs, "project")); /* a custom object's bare name is not an id */
    assert_false(hs_object_matches(hs, "2-346540"));
    assert_false(hs_object_matches(hs, ""));
    assert_false(hs_object_matches(hs, NULL));
    assert_false(hs_object_matches(NULL, "2-3465404"));
    assert_true(hs_object_matches(co, "0-2"));
    assert_true(hs_object_matches(co, "companies"));
    assert_true(hs_object_matches(co, "COMPANIES"));
    assert_false(hs_object_matches(co, "0-1"));
    hs_object_free(hs);
    hs_object_free(co);
    json_object_put(doc);
    json_object_put(cdoc);
}

static void test_hs_minimal_and_numeric_association_id(void **state)
{
    json_object *doc =
        parse("{\"name\":\"thing\",\"objectTypeId\":\"2-9\",\"properties\":[{\"name\":\"x\","
              "\"type\":\"object_coordinates\"}],\"associations\":[{\"id\":12,"
              "\"toObjectTypeId\":\"0-1\"}]}");
    struct hs_object *hs = hs_object_from_schema(doc, NULL, 0);
    const struct hs_object_property *p;

    (void)state;
    assert_non_null(hs);
    assert_null(hs->id);
    assert_null(hs->fully_qualified_name);
    assert_null(hs->label_singular);
    assert_null(hs->primary_display_property);
    assert_int_equal(hs->n_required_properties, 0);
    p = hs_object_property_find(hs, "x");
    assert_int_equal(p->type, HS_TYPE_OTHER);
    assert_string_equal(p->type_name, "object_coordinates");
    assert_int_equal(p->field_type, HS_FIELD_OTHER);
    assert_string_equal(p->field_type_name, "");
    assert_string_equal(p->label, "x");
    assert_int_equal(hs->associations[0].id, 12);
    assert_string_equal(hs->associations[0].from_object_type_id, "2-9");
    assert_null(hs->associations[0].name);
    hs_object_free(hs);
    json_object_put(doc);
}

static void expect_hs_error(const char *text, const char *want)
{
    json_object *doc = text != NULL ? parse(text) : NULL;
    char err[256] = "";
    struct hs_object *hs = hs_object_from_schema(doc, err, sizeof(err));

    if (hs != NULL || strstr(err, want) == NULL)
        fail_msg("input %s: got %s, error \"%s\", want error containing \"%s\"",
                 text != NULL ? text : "NULL", hs != NULL ? "an object" : "NULL", err, want);
    json_object_put(doc);
}

#define HS_HEAD "{\"name\":\"t\",\"objectTypeId\":\"2-1\","

static void test_hs_malformed(void **state)
{
    (void)state;
    expect_hs_error(NULL, "must be a JSON object");
    expect_hs_error("\"schema\"", "must be a JSON object");
    expect_hs_error("{\"objectTypeId\":\"2-1\",\"properties\":[]}", "has no \"name\"");
    expect_hs_error("{\"name\":\"t\",\"properties\":[]}", "has no \"objectTypeId\"");
    expect_hs_error(HS_HEAD "\"labels\":[]}", "\"labels\" must be an object");
    expect_hs_error(HS_HEAD "\"labels\":{}}", "has no \"properties\" array");
    expect_hs_error(HS_HEAD "\"properties\":[{\"name\":\"a\"}]}", "property a has no \"type\"");
    expect_hs_error(HS_HEAD "\"properties\":[{\"type\":\"string\"}]}",
                    "properties[0] has no \"name\"");
    expect_hs_error(HS_HEAD "\"properties\":[null]}", "properties[0] must be an object");
    expect_hs_error(HS_HEAD "\"properties\":[{\"name\":\"a\",\"type\":\"string\"},"
                            "{\"name\":\"a\",\"type\":\"number\"}]}",
                    "lists property a twice");
    expect_hs_error(HS_HEAD "\"properties\":[{\"name\":\"a\",\"type\":\"string\","
                            "\"modificationMetadata\":true}]}",
                    "\"modificationMetadata\" must be an object");
    expect_hs_error(HS_HEAD "\"properties\":[{\"name\":\"a\",\"type\":\"string\","
                            "\"modificationMetadata\":{\"readOnlyValue\":1}}]}",
                    "property a: \"readOnlyValue\" must be true or false");
    expect_hs_error(HS_HEAD "\"properties\":[{\"name\":\"a\",\"type\":\"enumeration\","
                            "\"options\":[{\"label\":\"A\"}]}]}",
                    "property a options[0] has no \"value\"");
    expect_hs_error(HS_HEAD "\"properties\":[],\"requiredProperties\":[\"a\",2]}",
                    "requiredProperties[1] must be a string");
    expect_hs_error(HS_HEAD "\"properties\":[],\"associations\":[{\"id\":\" -5\","
                            "\"toObjectTypeId\":\"0-1\"}]}",
                    "association definition 0 needs a numeric \"id\"");
    expect_hs_error(HS_HEAD "\"properties\":[],\"associations\":[{\"id\":\"5\"}]}",
                    "association definition 0 has no \"toObjectTypeId\"");
}

static void test_sf_object_flags_and_key_prefix(void **state)
{
    json_object *doc =
        parse("{\"name\":\"Job__c\",\"keyPrefix\":\"a07\",\"createable\":true,\"updateable\":true,"
              "\"deletable\":false,\"queryable\":true,\"fields\":[{\"name\":\"Code__c\",\"type\":"
              "\"string\",\"idLookup\":true},{\"name\":\"Note__c\",\"type\":\"textarea\"}]}");
    struct sf_object *sf = sf_object_from_describe(doc, NULL, 0);

    (void)state;
    assert_non_null(sf);
    assert_string_equal(sf->key_prefix, "a07");
    assert_true(sf->createable);
    assert_true(sf->updateable);
    assert_false(sf->deletable);
    assert_true(sf->queryable);
    assert_true(sf_object_field(sf, "Code__c")->id_lookup);
    assert_false(sf_object_field(sf, "Note__c")->id_lookup);
    sf_object_free(sf);
    json_object_put(doc);

    /* keyPrefix null (some system objects) is absent, not an error */
    doc = parse("{\"name\":\"X\",\"keyPrefix\":null,\"fields\":[]}");
    sf = sf_object_from_describe(doc, NULL, 0);
    assert_non_null(sf);
    assert_null(sf->key_prefix);
    assert_false(sf->queryable);
    sf_object_free(sf);
    json_object_put(doc);
    expect_sf_error("{\"name\":\"X\",\"keyPrefix\":1,\"fields\":[]}", "keyPrefix");
    expect_sf_error("{\"name\":\"X\",\"queryable\":\"yes\",\"fields\":[]}", "queryable");
    expect_sf_error("{\"name\":\"X\",\"fields\":[{\"name\":\"A\",\"type\":\"id\","
                    "\"idLookup\":1}]}",
                    "idLookup");
}

static void test_hs_schema_id(void **state)
{
    json_object *doc = parse("{\"id\":\"3465404\",\"name\":\"t\",\"objectTypeId\":\"2-1\","
                             "\"properties\":[]}");
    struct hs_object *hs = hs_object_from_schema(doc, NULL, 0);

    (void)state;
    assert_non_null(hs);
    assert_string_equal(hs->id, "3465404");
    hs_object_free(hs);
    json_object_put(doc);
    expect_hs_error(HS_HEAD "\"id\":7,\"properties\":[]}", "\"id\"");
}

static void test_hs_free_null(void **state)
{
    (void)state;
    hs_object_free(NULL);
    assert_false(hs_property_is_multi_select(NULL));
    assert_null(hs_property_option(NULL, "a"));
}

static void test_hs_type_tables(void **state)
{
    (void)state;
    for (int t = HS_TYPE_OTHER; t <= HS_TYPE_PHONE_NUMBER; t++)
        assert_int_equal(
            hs_property_type_from_name(hs_property_type_name((enum hs_property_type)t)), t);
    for (int t = HS_FIELD_OTHER; t <= HS_FIELD_CALCULATION_READ_TIME; t++)
        assert_int_equal(hs_field_type_from_name(hs_field_type_name((enum hs_field_type)t)), t);
    assert_string_equal(hs_property_type_name(HS_TYPE_ENUMERATION), "enumeration");
    assert_string_equal(hs_field_type_name(HS_FIELD_BOOLEANCHECKBOX), "booleancheckbox");
    assert_int_equal(hs_property_type_from_name("bool"), HS_TYPE_BOOL);
    assert_int_equal(hs_property_type_from_name("boolean"), HS_TYPE_OTHER);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sf_fixture_object),
        cmocka_unit_test(test_sf_fixture_types),
        cmocka_unit_test(test_sf_fixture_flags),
        cmocka_unit_test(test_sf_fixture_picklists),
        cmocka_unit_test(test_sf_fixture_references),
        cmocka_unit_test(test_sf_lookup_ignores_case),
        cmocka_unit_test(test_sf_minimal_and_unknown_type),
        cmocka_unit_test(test_sf_malformed),
        cmocka_unit_test(test_sf_free_null_and_null_err),
        cmocka_unit_test(test_sf_type_table),
        cmocka_unit_test(test_hs_fixture_object),
        cmocka_unit_test(test_hs_fixture_properties),
        cmocka_unit_test(test_hs_fixture_flags_and_options),
        cmocka_unit_test(test_hs_fixture_associations),
        cmocka_unit_test(test_hs_matches),
        cmocka_unit_test(test_hs_minimal_and_numeric_association_id),
        cmocka_unit_test(test_hs_malformed),
        cmocka_unit_test(test_sf_object_flags_and_key_prefix),
        cmocka_unit_test(test_hs_schema_id),
        cmocka_unit_test(test_hs_free_null),
        cmocka_unit_test(test_hs_type_tables),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
