/* test_value_convert.c: unit tests for sync/value_convert.
 *
 * The schema structs are built by hand (a Project__c field of each type and a HubSpot property
 * of each kind), so every test states its inputs next to its exact expected output: the
 * HubSpot text, the serialised Salesforce JSON (and its JSON type), or the error code and the
 * parts of the message a person needs (field name, shortened value). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/value_convert.h"

/* ---- schema fixtures ---- */

static struct sf_picklist_value status_values[] = {
    {"Planned", "Planned", true}, {"In Progress", "In Progress", true},
    {"On Hold", "On Hold", true}, {"Completed", "Completed", true},
    {"Closed", "Closed", true},   {"Custom", "Custom", true},
    {"Legacy", "Legacy", false},
};

static struct sf_picklist_value region_values[] = {
    {"EMEA", "EMEA", true},         {"APAC", "APAC", true},
    {"Americas", "Americas", true}, {"North America", "North America", true},
    {"Mars", "Mars", true},
};

#define SF_FIELD(n, t, tn, len)                                                                    \
    {                                                                                              \
        .name = (n), .label = (n), .type = (t), .type_name = (tn), .length = (len),                \
        .nillable = true                                                                           \
    }

static struct sf_field sf_name = SF_FIELD("Name", SF_TYPE_STRING, "string", 80);
static struct sf_field sf_code = SF_FIELD("Code__c", SF_TYPE_STRING, "string", 10);
static struct sf_field sf_desc = SF_FIELD("Description__c", SF_TYPE_TEXTAREA, "textarea", 32768);
static struct sf_field sf_email = SF_FIELD("Contact_Email__c", SF_TYPE_EMAIL, "email", 80);
static struct sf_field sf_phone = SF_FIELD("Phone__c", SF_TYPE_PHONE, "phone", 40);
static struct sf_field sf_url = SF_FIELD("Website__c", SF_TYPE_URL, "url", 255);
static struct sf_field sf_combo = SF_FIELD("Kind__c", SF_TYPE_COMBOBOX, "combobox", 255);
static struct sf_field sf_id = SF_FIELD("Id", SF_TYPE_ID, "id", 18);
static struct sf_field sf_ref = SF_FIELD("Account__c", SF_TYPE_REFERENCE, "reference", 18);
static struct sf_field sf_seats = SF_FIELD("Seats__c", SF_TYPE_INT, "int", 0);
static struct sf_field sf_big = SF_FIELD("Big__c", SF_TYPE_LONG, "long", 0);
static struct sf_field sf_hours = SF_FIELD("Hours_Estimate__c", SF_TYPE_DOUBLE, "double", 0);
static struct sf_field sf_budget = SF_FIELD("Budget__c", SF_TYPE_CURRENCY, "currency", 0);
static struct sf_field sf_completion = SF_FIELD("Completion__c", SF_TYPE_PERCENT, "percent", 0);
static struct sf_field sf_start = SF_FIELD("Start_Date__c", SF_TYPE_DATE, "date", 0);
static struct sf_field sf_kickoff = SF_FIELD("Kickoff__c", SF_TYPE_DATETIME, "datetime", 0);
static struct sf_field sf_address = SF_FIELD("Address__c", SF_TYPE_OTHER, "address", 0);
static struct sf_field sf_billable = {
    .name = "Is_Billable__c", .type = SF_TYPE_BOOLEAN, .type_name = "boolean", .nillable = false};
static struct sf_field sf_flag = {
    .name = "Flag__c", .type = SF_TYPE_BOOLEAN, .type_name = "boolean", .nillable = true};
static struct sf_field sf_status = {.name = "Status__c",
                                    .type = SF_TYPE_PICKLIST,
                                    .type_name = "picklist",
                                    .length = 255,
                                    .nillable = true,
                                    .restricted_picklist = true,
                                    .picklist_values = status_values,
                                    .n_picklist_values = 7};
static struct sf_field sf_status_open = {.name = "Status__c",
                                         .type = SF_TYPE_PICKLIST,
                                         .type_name = "picklist",
                                         .length = 255,
                                         .nillable = true,
                                         .restricted_picklist = false,
                                         .picklist_values = status_values,
                                         .n_picklist_values = 7};
static struct sf_field sf_regions = {.name = "Regions__c",
                                     .type = SF_TYPE_MULTIPICKLIST,
                                     .type_name = "multipicklist",
                                     .length = 4099,
                                     .nillable = true,
                                     .restricted_picklist = true,
                                     .picklist_values = region_values,
                                     .n_picklist_values = 5};

static struct hs_option status_options[] = {
    {"planned", "Planned", false}, {"in_progress", "In progress", false},
    {"on_hold", "On hold", false}, {"done", "Done", false},
    {"Custom", "Custom", false},   {"cancelled", "Cancelled", true},
};

static struct hs_option region_options[] = {
    {"emea", "EMEA", false},
    {"apac", "APAC", false},
    {"amer", "Americas", false},
};

#define HS_PROP(n, t, tn, ft, ftn)                                                                 \
    {                                                                                              \
        .name = (n), .label = (n), .type = (t), .type_name = (tn), .field_type = (ft),             \
        .field_type_name = (ftn)                                                                   \
    }

static struct hs_object_property hs_text =
    HS_PROP("name", HS_TYPE_STRING, "string", HS_FIELD_TEXT, "text");
static struct hs_object_property hs_phone =
    HS_PROP("phone", HS_TYPE_PHONE_NUMBER, "phone_number", HS_FIELD_PHONENUMBER, "phonenumber");
static struct hs_object_property hs_number =
    HS_PROP("budget", HS_TYPE_NUMBER, "number", HS_FIELD_NUMBER, "number");
static struct hs_object_property hs_bool =
    HS_PROP("is_billable", HS_TYPE_BOOL, "bool", HS_FIELD_BOOLEANCHECKBOX, "booleancheckbox");
static struct hs_object_property hs_date =
    HS_PROP("start_date", HS_TYPE_DATE, "date", HS_FIELD_DATE, "date");
static struct hs_object_property hs_datetime =
    HS_PROP("kickoff", HS_TYPE_DATETIME, "datetime", HS_FIELD_DATE, "date");
static struct hs_object_property hs_select = {.name = "project_status",
                                              .label = "Status",
                                              .type = HS_TYPE_ENUMERATION,
                                              .type_name = "enumeration",
                                              .field_type = HS_FIELD_SELECT,
                                              .field_type_name = "select",
                                              .options = status_options,
                                              .n_options = 6};
static struct hs_object_property hs_multi = {.name = "regions",
                                             .label = "Regions",
                                             .type = HS_TYPE_ENUMERATION,
                                             .type_name = "enumeration",
                                             .field_type = HS_FIELD_CHECKBOX,
                                             .field_type_name = "checkbox",
                                             .options = region_options,
                                             .n_options = 3};

static struct mapping_value_pair status_map[] = {
    {"Planned", "planned"}, {"In Progress", "in_progress"},
    {"On Hold", "on_hold"}, {"Completed", "done"},
    {"Closed", "done"}, /* two Salesforce values on one option: HubSpot -> Salesforce takes the
                           first */
};
static struct mapping_field mf_status = {.salesforce = "Status__c",
                                         .hubspot = "project_status",
                                         .value_map = status_map,
                                         .n_value_map = 5};

static struct mapping_value_pair region_map[] = {
    {"EMEA", "emea"},
    {"APAC", "apac"},
    {"Americas", "amer"},
    {"North America", "amer"},
};
static struct mapping_field mf_regions = {
    .salesforce = "Regions__c", .hubspot = "regions", .value_map = region_map, .n_value_map = 4};

/* ---- helpers ---- */

/* Converts the Salesforce JSON text (NULL: absent) and checks the HubSpot text. */
static void sf_to_hs_ok(const struct sf_field *sf, const struct hs_object_property *hs,
                        const struct mapping_field *mf, const char *json, const char *expected)
{
    json_object *v = json != NULL ? json_tokener_parse(json) : NULL;
    struct value_error err;
    char *out = (char *)"unset";

    if (json != NULL && strcmp(json, "null") != 0)
        assert_non_null(v);
    int rc = value_sf_to_hs(sf, hs, mf, v, &out, &err);
    if (rc != VALUE_OK)
        fail_msg("%s %s: %s: %s", sf->name, json ? json : "(absent)", err.code, err.message);
    assert_string_equal(err.code, "");
    assert_non_null(out);
    assert_string_equal(out, expected);
    free(out);
    json_object_put(v);
}

/* Converts and expects failure with code; returns the message in msg. */
static void sf_to_hs_err(const struct sf_field *sf, const struct hs_object_property *hs,
                         const struct mapping_field *mf, const char *json, const char *code,
                         char *msg, size_t msglen)
{
    json_object *v = json_tokener_parse(json);
    struct value_error err;
    char *out = (char *)"unset";

    assert_non_null(v);
    int rc = value_sf_to_hs(sf, hs, mf, v, &out, &err);
    if (rc == VALUE_OK)
        fail_msg("%s %s converted to \"%s\", expected %s", sf->name, json, out, code);
    assert_int_equal(rc, VALUE_INVALID);
    assert_null(out);
    assert_string_equal(err.code, code);
    assert_true(strlen(err.message) > 0);
    if (msg != NULL)
        snprintf(msg, msglen, "%s", err.message);
    json_object_put(v);
}

/* Converts HubSpot text and checks the serialised JSON ("null" for clear) and its type. */
static void hs_to_sf_ok(const struct hs_object_property *hs, const struct sf_field *sf,
                        const struct mapping_field *mf, const char *value, const char *expected,
                        json_type type)
{
    json_object *out = (json_object *)&out;
    struct value_error err;
    int rc = value_hs_to_sf(hs, sf, mf, value, &out, &err);

    if (rc != VALUE_OK)
        fail_msg("%s \"%s\": %s: %s", hs->name, value ? value : "(NULL)", err.code, err.message);
    assert_string_equal(err.code, "");
    assert_string_equal(json_object_to_json_string_ext(out, JSON_C_TO_STRING_PLAIN), expected);
    assert_int_equal(json_object_get_type(out), type);
    json_object_put(out);
}

static void hs_to_sf_err(const struct hs_object_property *hs, const struct sf_field *sf,
                         const struct mapping_field *mf, const char *value, const char *code,
                         char *msg, size_t msglen)
{
    json_object *out = (json_object *)&out;
    struct value_error err;
    int rc = value_hs_to_sf(hs, sf, mf, value, &out, &err);

    if (rc == VALUE_OK)
        fail_msg("%s \"%s\" converted to %s, expected %s", hs->name, value,
                 json_object_to_json_string(out), code);
    assert_int_equal(rc, VALUE_INVALID);
    assert_null(out);
    assert_string_equal(err.code, code);
    assert_true(strlen(err.message) > 0);
    if (msg != NULL)
        snprintf(msg, msglen, "%s", err.message);
}

static char *repeat(const char *unit, size_t times)
{
    size_t ul = strlen(unit);
    char *s = malloc(ul * times + 1);

    assert_non_null(s);
    for (size_t i = 0; i < times; i++)
        memcpy(s + i * ul, unit, ul);
    s[ul * times] = '\0';
    return s;
}

/* ---- text ---- */

static void test_text_both_ways(void **state)
{
    (void)state;
    sf_to_hs_ok(&sf_name, &hs_text, NULL, "\"Acme & Co <b>\"", "Acme & Co <b>");
    sf_to_hs_ok(&sf_desc, &hs_text, NULL, "\"line 1\\nline 2\"", "line 1\nline 2");
    sf_to_hs_ok(&sf_email, &hs_text, NULL, "\"ana@example.com\"", "ana@example.com");
    sf_to_hs_ok(&sf_phone, &hs_phone, NULL, "\"+47 22 33 44 55\"", "+47 22 33 44 55");
    sf_to_hs_ok(&sf_url, &hs_text, NULL, "\"https://example.com/a?b=c\"",
                "https://example.com/a?b=c");
    sf_to_hs_ok(&sf_combo, &hs_text, NULL, "\"Other\"", "Other");
    sf_to_hs_ok(&sf_id, &hs_text, NULL, "\"a0B5g00000XyZAbEAN\"", "a0B5g00000XyZAbEAN");
    sf_to_hs_ok(&sf_ref, &hs_text, NULL, "\"0015g00000AbCdEAAV\"", "0015g00000AbCdEAAV");
    sf_to_hs_ok(&sf_name, &hs_text, NULL, "\"Bl\\u00e5b\\u00e6r\"",
                "Bl\xc3\xa5"
                "b\xc3\xa6r");

    hs_to_sf_ok(&hs_text, &sf_name, NULL, "Acme & Co <b>", "\"Acme & Co <b>\"", json_type_string);
    hs_to_sf_ok(&hs_text, &sf_desc, NULL, "line 1\nline 2", "\"line 1\\nline 2\"",
                json_type_string);
    hs_to_sf_ok(&hs_text, &sf_email, NULL, "ana@example.com", "\"ana@example.com\"",
                json_type_string);
    hs_to_sf_ok(&hs_phone, &sf_phone, NULL, "+47 22 33 44 55", "\"+47 22 33 44 55\"",
                json_type_string);
    hs_to_sf_ok(&hs_text, &sf_url, NULL, "https://example.com/", "\"https:\\/\\/example.com\\/\"",
                json_type_string);
    hs_to_sf_ok(&hs_text, &sf_combo, NULL, "Other", "\"Other\"", json_type_string);
    hs_to_sf_ok(&hs_text, &sf_ref, NULL, "0015g00000AbCdEAAV", "\"0015g00000AbCdEAAV\"",
                json_type_string);
}

static void test_text_picklist_to_text_uses_value_map(void **state)
{
    (void)state;
    sf_to_hs_ok(&sf_status, &hs_text, &mf_status, "\"In Progress\"", "in_progress");
    sf_to_hs_ok(&sf_status, &hs_text, &mf_status, "\"Legacy\"", "Legacy"); /* text takes any */
    hs_to_sf_ok(&hs_text, &sf_status, &mf_status, "done", "\"Completed\"", json_type_string);
    hs_to_sf_ok(&hs_text, &sf_status, &mf_status, "Custom", "\"Custom\"", json_type_string);
    /* free text into a restricted picklist */
    hs_to_sf_err(&hs_text, &sf_status, &mf_status, "Whatever", "unmapped_option", NULL, 0);
    hs_to_sf_ok(&hs_text, &sf_status_open, &mf_status, "Whatever", "\"Whatever\"",
                json_type_string);
}

static void test_text_length_counts_characters(void **state)
{
    char msg[VALUE_ERROR_MESSAGE_MAX];
    (void)state;

    /* Code__c holds 10 characters: 10 two-byte letters (20 bytes) fit, 11 do not */
    hs_to_sf_ok(
        &hs_text, &sf_code, NULL,
        "\xc3\x86\xc3\x98\xc3\x85\xc3\xa6\xc3\xb8\xc3\xa5"
        "\xc3\x86\xc3\x98\xc3\x85\xc3\xa6",
        "\"\xc3\x86\xc3\x98\xc3\x85\xc3\xa6\xc3\xb8\xc3\xa5\xc3\x86\xc3\x98\xc3\x85\xc3\xa6\"",
        json_type_string);
    hs_to_sf_err(&hs_text, &sf_code, NULL,
                 "\xc3\x86\xc3\x98\xc3\x85\xc3\xa6\xc3\xb8\xc3\xa5\xc3\x86\xc3\x98\xc3\x85\xc3\xa6"
                 "x",
                 "too_long", msg, sizeof(msg));
    assert_non_null(strstr(msg, "11 characters"));
    assert_non_null(strstr(msg, "the 10 that Salesforce field Code__c holds"));

    /* 10 emoji (40 bytes) fit, 11 do not */
    char *ten = repeat("\xf0\x9f\x98\x80", 10), *eleven = repeat("\xf0\x9f\x98\x80", 11);
    char expected[64];
    snprintf(expected, sizeof(expected), "\"%s\"", ten);
    hs_to_sf_ok(&hs_text, &sf_code, NULL, ten, expected, json_type_string);
    hs_to_sf_err(&hs_text, &sf_code, NULL, eleven, "too_long", NULL, 0);
    hs_to_sf_ok(&hs_text, &sf_code, NULL, "0123456789", "\"0123456789\"", json_type_string);
    hs_to_sf_err(&hs_text, &sf_code, NULL, "0123456789A", "too_long", NULL, 0);
    free(ten);
    free(eleven);

    /* into HubSpot: 65,536 characters fit (also as 131,072 bytes of "Æ"), 65,537 do not */
    char *max = repeat("a", HS_STRING_MAX_CHARS), *over = repeat("a", HS_STRING_MAX_CHARS + 1);
    char *wide = repeat("\xc3\x86", HS_STRING_MAX_CHARS);
    json_object *jv = json_object_new_string(max), *jo = json_object_new_string(over),
                *jw = json_object_new_string(wide);
    struct value_error err;
    char *out = NULL;

    assert_int_equal(value_sf_to_hs(&sf_desc, &hs_text, NULL, jv, &out, &err), VALUE_OK);
    assert_int_equal(strlen(out), HS_STRING_MAX_CHARS);
    free(out);
    assert_int_equal(value_sf_to_hs(&sf_desc, &hs_text, NULL, jw, &out, &err), VALUE_OK);
    assert_int_equal(strlen(out), 2 * HS_STRING_MAX_CHARS);
    free(out);
    assert_int_equal(value_sf_to_hs(&sf_desc, &hs_text, NULL, jo, &out, &err), VALUE_INVALID);
    assert_null(out);
    assert_string_equal(err.code, "too_long");
    assert_non_null(strstr(err.message, "65537 characters"));
    assert_non_null(strstr(err.message, "65536 that HubSpot property name holds"));
    json_object_put(jv);
    json_object_put(jo);
    json_object_put(jw);
    free(max);
    free(over);
    free(wide);
}

static void test_text_invalid_utf8_and_nul(void **state)
{
    (void)state;
    hs_to_sf_err(&hs_text, &sf_name, NULL, "bad \xc3( byte", "invalid_text", NULL, 0);
    hs_to_sf_err(&hs_text, &sf_name, NULL, "overlong \xc0\xaf", "invalid_text", NULL, 0);
    hs_to_sf_err(&hs_text, &sf_name, NULL, "surrogate \xed\xa0\x80", "invalid_text", NULL, 0);
    sf_to_hs_err(&sf_name, &hs_text, NULL, "\"nul \\u0000 inside\"", "invalid_text", NULL, 0);
    sf_to_hs_err(&sf_name, &hs_text, NULL, "42", "wrong_json_type", NULL, 0);
}

/* ---- numbers ---- */

static void test_number_sf_to_hs(void **state)
{
    (void)state;
    sf_to_hs_ok(&sf_budget, &hs_number, NULL, "419.0", "419");
    sf_to_hs_ok(&sf_budget, &hs_number, NULL, "0.0", "0");
    sf_to_hs_ok(&sf_budget, &hs_number, NULL, "-0.0", "0");
    sf_to_hs_ok(&sf_hours, &hs_number, NULL, "0.5", "0.5");
    sf_to_hs_ok(&sf_hours, &hs_number, NULL, "0.1", "0.1");
    sf_to_hs_ok(&sf_hours, &hs_number, NULL, "-12.25", "-12.25");
    sf_to_hs_ok(&sf_hours, &hs_number, NULL, "1.5E-7", "0.00000015");
    sf_to_hs_ok(&sf_hours, &hs_number, NULL, "2.5e3", "2500");
    sf_to_hs_ok(&sf_hours, &hs_number, NULL, "0.30000000000000004", "0.30000000000000004");
    sf_to_hs_ok(&sf_budget, &hs_number, NULL, "1234567.89", "1234567.89");
    sf_to_hs_ok(&sf_budget, &hs_number, NULL, "999999999999999.0", "999999999999999");
    sf_to_hs_ok(&sf_completion, &hs_number, NULL, "12.5", "12.5");
    sf_to_hs_ok(&sf_seats, &hs_number, NULL, "12", "12");
    sf_to_hs_ok(&sf_seats, &hs_number, NULL, "-2147483648", "-2147483648");
    sf_to_hs_ok(&sf_seats, &hs_number, NULL, "12.0", "12");
    sf_to_hs_ok(&sf_big, &hs_number, NULL, "999999999999999999", "999999999999999999");
    sf_to_hs_ok(&sf_big, &hs_number, NULL, "-123456789012345678", "-123456789012345678");
    sf_to_hs_ok(&sf_hours, &hs_number, NULL, "\"7.50\"", "7.5"); /* numeric string */
}

static void test_number_sf_to_hs_errors(void **state)
{
    char msg[VALUE_ERROR_MESSAGE_MAX];
    (void)state;

    sf_to_hs_err(&sf_hours, &hs_number, NULL, "NaN", "not_a_number", msg, sizeof(msg));
    assert_non_null(strstr(msg, "Salesforce field Hours_Estimate__c"));
    sf_to_hs_err(&sf_hours, &hs_number, NULL, "1e400", "out_of_range", NULL, 0);
    sf_to_hs_err(&sf_hours, &hs_number, NULL, "1e18", "out_of_range", NULL, 0);
    /* json-c clamps integer overflow to the int64/uint64 limits: still out of range */
    sf_to_hs_err(&sf_big, &hs_number, NULL, "99999999999999999999", "out_of_range", NULL, 0);
    sf_to_hs_err(&sf_big, &hs_number, NULL, "-99999999999999999999", "out_of_range", NULL, 0);
    sf_to_hs_err(&sf_seats, &hs_number, NULL, "2147483648", "out_of_range", msg, sizeof(msg));
    assert_non_null(strstr(msg, "-2147483648 to 2147483647"));
    sf_to_hs_err(&sf_seats, &hs_number, NULL, "12.5", "not_integral", NULL, 0);
    sf_to_hs_err(&sf_hours, &hs_number, NULL, "\"12abc\"", "not_a_number", msg, sizeof(msg));
    assert_non_null(strstr(msg, "\"12abc\""));
    sf_to_hs_err(&sf_hours, &hs_number, NULL, "true", "wrong_json_type", NULL, 0);
    sf_to_hs_err(&sf_hours, &hs_number, NULL, "[1]", "wrong_json_type", NULL, 0);
}

static void test_number_hs_to_sf(void **state)
{
    (void)state;
    hs_to_sf_ok(&hs_number, &sf_seats, NULL, "419", "419", json_type_int);
    hs_to_sf_ok(&hs_number, &sf_seats, NULL, "419.0", "419", json_type_int);
    hs_to_sf_ok(&hs_number, &sf_seats, NULL, "4.19e2", "419", json_type_int);
    hs_to_sf_ok(&hs_number, &sf_seats, NULL, "+7", "7", json_type_int);
    hs_to_sf_ok(&hs_number, &sf_seats, NULL, "-0", "0", json_type_int);
    hs_to_sf_ok(&hs_number, &sf_seats, NULL, "2147483647", "2147483647", json_type_int);
    hs_to_sf_ok(&hs_number, &sf_seats, NULL, "-2147483648", "-2147483648", json_type_int);
    hs_to_sf_ok(&hs_number, &sf_big, NULL, "999999999999999999", "999999999999999999",
                json_type_int);
    hs_to_sf_ok(&hs_number, &sf_hours, NULL, "0.1", "0.1", json_type_double);
    hs_to_sf_ok(&hs_number, &sf_hours, NULL, "0.5", "0.5", json_type_double);
    hs_to_sf_ok(&hs_number, &sf_hours, NULL, "-12.250", "-12.25", json_type_double);
    hs_to_sf_ok(&hs_number, &sf_hours, NULL, "1e3", "1000", json_type_double);
    hs_to_sf_ok(&hs_number, &sf_hours, NULL, "1.5E-7", "0.00000015", json_type_double);
    hs_to_sf_ok(&hs_number, &sf_hours, NULL, ".5", "0.5", json_type_double);
    hs_to_sf_ok(&hs_number, &sf_hours, NULL, "12.", "12", json_type_double);
    hs_to_sf_ok(&hs_number, &sf_budget, NULL, "419.00", "419", json_type_double);
    hs_to_sf_ok(&hs_number, &sf_completion, NULL, "0.000000000000000000000000000001",
                "0.000000000000000000000000000001", json_type_double);

    json_object *out = NULL;
    assert_int_equal(value_hs_to_sf(&hs_number, &sf_hours, NULL, "0.1", &out, NULL), VALUE_OK);
    assert_true(json_object_get_double(out) == 0.1);
    json_object_put(out);
}

static void test_number_hs_to_sf_errors(void **state)
{
    char msg[VALUE_ERROR_MESSAGE_MAX];
    (void)state;

    hs_to_sf_err(&hs_number, &sf_seats, NULL, "419.5", "not_integral", msg, sizeof(msg));
    assert_non_null(strstr(msg, "HubSpot property budget holds \"419.5\""));
    assert_non_null(strstr(msg, "Seats__c"));
    hs_to_sf_err(&hs_number, &sf_seats, NULL, "2147483648", "out_of_range", NULL, 0);
    hs_to_sf_err(&hs_number, &sf_seats, NULL, "-2147483649", "out_of_range", NULL, 0);
    hs_to_sf_err(&hs_number, &sf_seats, NULL, "1e10", "out_of_range", NULL, 0);
    hs_to_sf_err(&hs_number, &sf_big, NULL, "1000000000000000000", "out_of_range", NULL, 0);
    hs_to_sf_err(&hs_number, &sf_hours, NULL, "1e400", "out_of_range", NULL, 0);
    hs_to_sf_err(&hs_number, &sf_hours, NULL, "1e-31", "out_of_range", NULL, 0);
    hs_to_sf_err(&hs_number, &sf_hours, NULL, "0.0000000000000000000000000000001", "out_of_range",
                 NULL, 0);
    char *longnum = repeat("1", 150);
    hs_to_sf_err(&hs_number, &sf_hours, NULL, longnum, "out_of_range", NULL, 0);
    free(longnum);
    static const char *const not_numbers[] = {
        "NaN", "nan", "Infinity", "-Infinity", "abc", "1,000", " 12",   "12 ",   "0x10",
        "1e",  "1e+", "--1",      "+",         ".",   "-.",    "1.2.3", "12abc", "\xc3\x86",
    };
    for (size_t i = 0; i < sizeof(not_numbers) / sizeof(not_numbers[0]); i++)
        hs_to_sf_err(&hs_number, &sf_hours, NULL, not_numbers[i], "not_a_number", NULL, 0);
}

/* ---- booleans ---- */

static void test_bool_both_ways(void **state)
{
    char msg[VALUE_ERROR_MESSAGE_MAX];
    (void)state;

    sf_to_hs_ok(&sf_billable, &hs_bool, NULL, "true", "true");
    sf_to_hs_ok(&sf_billable, &hs_bool, NULL, "false", "false");
    sf_to_hs_ok(&sf_billable, &hs_bool, NULL, "\"TRUE\"", "true");
    sf_to_hs_err(&sf_billable, &hs_bool, NULL, "1", "wrong_json_type", NULL, 0);

    hs_to_sf_ok(&hs_bool, &sf_billable, NULL, "true", "true", json_type_boolean);
    hs_to_sf_ok(&hs_bool, &sf_billable, NULL, "false", "false", json_type_boolean);
    hs_to_sf_ok(&hs_bool, &sf_billable, NULL, "True", "true", json_type_boolean);
    hs_to_sf_ok(&hs_bool, &sf_billable, NULL, "FALSE", "false", json_type_boolean);
    hs_to_sf_err(&hs_bool, &sf_billable, NULL, "yes", "not_a_boolean", msg, sizeof(msg));
    assert_non_null(strstr(msg, "\"yes\""));
    assert_non_null(strstr(msg, "Is_Billable__c"));
    hs_to_sf_err(&hs_bool, &sf_billable, NULL, "1", "not_a_boolean", NULL, 0);
    hs_to_sf_err(&hs_bool, &sf_billable, NULL, "true ", "not_a_boolean", NULL, 0);
    /* a cleared HubSpot bool unticks a checkbox that cannot be blank; clears one that can */
    hs_to_sf_ok(&hs_bool, &sf_billable, NULL, "", "false", json_type_boolean);
    hs_to_sf_ok(&hs_bool, &sf_billable, NULL, NULL, "false", json_type_boolean);
    hs_to_sf_ok(&hs_bool, &sf_flag, NULL, "", "null", json_type_null);
}

/* ---- dates ---- */

static void test_date_both_ways(void **state)
{
    char msg[VALUE_ERROR_MESSAGE_MAX];
    (void)state;

    sf_to_hs_ok(&sf_start, &hs_date, NULL, "\"2024-02-29\"", "2024-02-29");
    sf_to_hs_ok(&sf_start, &hs_date, NULL, "\"2011-08-04\"", "2011-08-04");
    sf_to_hs_ok(&sf_start, &hs_date, NULL, "\"2000-02-29\"", "2000-02-29");
    sf_to_hs_err(&sf_start, &hs_date, NULL, "\"2023-02-29\"", "bad_date", msg, sizeof(msg));
    assert_non_null(strstr(msg, "Salesforce field Start_Date__c holds \"2023-02-29\""));
    sf_to_hs_err(&sf_start, &hs_date, NULL, "\"1900-02-29\"", "bad_date", NULL, 0);
    sf_to_hs_err(&sf_start, &hs_date, NULL, "\"2024-02-29T00:00:00Z\"", "bad_date", NULL, 0);
    sf_to_hs_err(&sf_start, &hs_date, NULL, "20240229", "wrong_json_type", NULL, 0);

    hs_to_sf_ok(&hs_date, &sf_start, NULL, "2024-02-29", "\"2024-02-29\"", json_type_string);
    hs_to_sf_ok(&hs_date, &sf_start, NULL, "1709164800000", "\"2024-02-29\"", json_type_string);
    hs_to_sf_ok(&hs_date, &sf_start, NULL, "0", "\"1970-01-01\"", json_type_string);
    hs_to_sf_ok(&hs_date, &sf_start, NULL, "-86400000", "\"1969-12-31\"", json_type_string);
    hs_to_sf_ok(&hs_date, &sf_start, NULL, "2024-02-29T00:00:00.000Z", "\"2024-02-29\"",
                json_type_string);
    hs_to_sf_ok(&hs_date, &sf_start, NULL, "2024-03-01T02:00:00+02:00", "\"2024-03-01\"",
                json_type_string);
    hs_to_sf_ok(&hs_date, &sf_start, NULL, "0001-01-01", "\"0001-01-01\"", json_type_string);
    hs_to_sf_ok(&hs_date, &sf_start, NULL, "9999-12-31", "\"9999-12-31\"", json_type_string);
    hs_to_sf_err(&hs_date, &sf_start, NULL, "1709164800001", "bad_date", NULL, 0);
    hs_to_sf_err(&hs_date, &sf_start, NULL, "2024-02-29T11:00:00Z", "bad_date", NULL, 0);
    hs_to_sf_err(&hs_date, &sf_start, NULL, "2023-02-29", "bad_date", NULL, 0);
    hs_to_sf_err(&hs_date, &sf_start, NULL, "2024-13-01", "bad_date", NULL, 0);
    hs_to_sf_err(&hs_date, &sf_start, NULL, "2024-04-31", "bad_date", NULL, 0);
    hs_to_sf_err(&hs_date, &sf_start, NULL, "0000-01-01", "bad_date", NULL, 0);
    hs_to_sf_err(&hs_date, &sf_start, NULL, "24-02-29", "bad_date", NULL, 0);
    hs_to_sf_err(&hs_date, &sf_start, NULL, "2024-2-29", "bad_date", NULL, 0);
    hs_to_sf_err(&hs_date, &sf_start, NULL, "2024-02-29x", "bad_date", NULL, 0);
    hs_to_sf_err(&hs_date, &sf_start, NULL, "02/29/2024", "bad_date", NULL, 0);
}

/* ---- datetimes ---- */

static void test_datetime_sf_to_hs(void **state)
{
    (void)state;
    sf_to_hs_ok(&sf_kickoff, &hs_datetime, NULL, "\"2024-05-02T11:53:53.000+0000\"",
                "2024-05-02T11:53:53.000Z");
    sf_to_hs_ok(&sf_kickoff, &hs_datetime, NULL, "\"2024-05-02T11:53:53.000Z\"",
                "2024-05-02T11:53:53.000Z");
    sf_to_hs_ok(&sf_kickoff, &hs_datetime, NULL, "\"2024-05-02T11:53:53Z\"",
                "2024-05-02T11:53:53.000Z");
    sf_to_hs_ok(&sf_kickoff, &hs_datetime, NULL, "\"2024-05-02T13:53:53.120+02:00\"",
                "2024-05-02T11:53:53.120Z");
    sf_to_hs_ok(&sf_kickoff, &hs_datetime, NULL, "\"2024-05-02T06:23:53.5-05:30\"",
                "2024-05-02T11:53:53.500Z");
    sf_to_hs_ok(&sf_kickoff, &hs_datetime, NULL, "\"2024-05-02T11:53:53.123456789Z\"",
                "2024-05-02T11:53:53.123Z");
    /* the offset moves the instant across a leap day and a year */
    sf_to_hs_ok(&sf_kickoff, &hs_datetime, NULL, "\"2024-03-01T01:00:00.000+0200\"",
                "2024-02-29T23:00:00.000Z");
    sf_to_hs_ok(&sf_kickoff, &hs_datetime, NULL, "\"2023-12-31T20:00:00-05\"",
                "2024-01-01T01:00:00.000Z");
    sf_to_hs_err(&sf_kickoff, &hs_datetime, NULL, "\"2024-05-02T11:53:53\"", "bad_datetime", NULL,
                 0);
    sf_to_hs_err(&sf_kickoff, &hs_datetime, NULL, "\"2024-05-02T24:00:00Z\"", "bad_datetime", NULL,
                 0);
    sf_to_hs_err(&sf_kickoff, &hs_datetime, NULL, "\"2023-02-29T10:00:00Z\"", "bad_datetime", NULL,
                 0);
    sf_to_hs_err(&sf_kickoff, &hs_datetime, NULL, "\"2024-05-02 11:53:53Z\"", "bad_datetime", NULL,
                 0);
    sf_to_hs_err(&sf_kickoff, &hs_datetime, NULL, "\"2024-05-02T11:53:53+02:\"", "bad_datetime",
                 NULL, 0);
    sf_to_hs_err(&sf_kickoff, &hs_datetime, NULL, "\"2024-05-02T11:53:53.Z\"", "bad_datetime", NULL,
                 0);
}

static void test_datetime_hs_to_sf(void **state)
{
    char msg[VALUE_ERROR_MESSAGE_MAX];
    (void)state;

    hs_to_sf_ok(&hs_datetime, &sf_kickoff, NULL, "2024-05-02T11:53:53.123Z",
                "\"2024-05-02T11:53:53.123Z\"", json_type_string);
    hs_to_sf_ok(&hs_datetime, &sf_kickoff, NULL, "1714650833123", "\"2024-05-02T11:53:53.123Z\"",
                json_type_string);
    hs_to_sf_ok(&hs_datetime, &sf_kickoff, NULL, "2024-05-02T13:53:53+02:00",
                "\"2024-05-02T11:53:53.000Z\"", json_type_string);
    hs_to_sf_ok(&hs_datetime, &sf_kickoff, NULL, "0", "\"1970-01-01T00:00:00.000Z\"",
                json_type_string);
    hs_to_sf_ok(&hs_datetime, &sf_kickoff, NULL, "-1", "\"1969-12-31T23:59:59.999Z\"",
                json_type_string);
    hs_to_sf_ok(&hs_datetime, &sf_kickoff, NULL, "253402300799999", "\"9999-12-31T23:59:59.999Z\"",
                json_type_string);
    hs_to_sf_ok(&hs_datetime, &sf_kickoff, NULL, "-62135596800000", "\"0001-01-01T00:00:00.000Z\"",
                json_type_string);
    hs_to_sf_err(&hs_datetime, &sf_kickoff, NULL, "253402300800000", "bad_datetime", NULL, 0);
    hs_to_sf_err(&hs_datetime, &sf_kickoff, NULL, "-62135596800001", "bad_datetime", NULL, 0);
    hs_to_sf_err(&hs_datetime, &sf_kickoff, NULL, "9999-12-31T23:59:59-01:00", "bad_datetime", NULL,
                 0);
    hs_to_sf_err(&hs_datetime, &sf_kickoff, NULL, "next tuesday", "bad_datetime", msg, sizeof(msg));
    assert_non_null(strstr(msg, "HubSpot property kickoff holds \"next tuesday\""));
    hs_to_sf_err(&hs_datetime, &sf_kickoff, NULL, "2024-05-02", "bad_datetime", NULL, 0);
    hs_to_sf_err(&hs_datetime, &sf_kickoff, NULL, "17146508331231234567", "bad_datetime", NULL, 0);
}

/* ---- picklists ---- */

static void test_select_with_value_map(void **state)
{
    char msg[VALUE_ERROR_MESSAGE_MAX];
    (void)state;

    sf_to_hs_ok(&sf_status, &hs_select, &mf_status, "\"In Progress\"", "in_progress");
    sf_to_hs_ok(&sf_status, &hs_select, &mf_status, "\"Closed\"", "done");
    sf_to_hs_ok(&sf_status, &hs_select, &mf_status, "\"Custom\"", "Custom"); /* passes through */
    sf_to_hs_err(&sf_status, &hs_select, &mf_status, "\"Legacy\"", "unmapped_option", msg,
                 sizeof(msg));
    assert_non_null(strstr(msg, "Salesforce field Status__c holds \"Legacy\""));
    assert_non_null(strstr(msg, "HubSpot property project_status"));
    /* without the map nothing matches except identical option values */
    sf_to_hs_err(&sf_status, &hs_select, NULL, "\"In Progress\"", "unmapped_option", NULL, 0);

    hs_to_sf_ok(&hs_select, &sf_status, &mf_status, "in_progress", "\"In Progress\"",
                json_type_string);
    hs_to_sf_ok(&hs_select, &sf_status, &mf_status, "done", "\"Completed\"", json_type_string);
    hs_to_sf_ok(&hs_select, &sf_status, &mf_status, "Custom", "\"Custom\"", json_type_string);
    hs_to_sf_err(&hs_select, &sf_status, &mf_status, "cancelled", "unmapped_option", msg,
                 sizeof(msg));
    assert_non_null(strstr(msg, "HubSpot property project_status holds \"cancelled\""));
    assert_non_null(strstr(msg, "Salesforce field Status__c"));
    /* an inactive value of a restricted picklist is refused */
    hs_to_sf_err(&hs_select, &sf_status, &mf_status, "Legacy", "unmapped_option", NULL, 0);
    /* a picklist that is not restricted stores values it does not list */
    hs_to_sf_ok(&hs_select, &sf_status_open, &mf_status, "cancelled", "\"cancelled\"",
                json_type_string);
    hs_to_sf_ok(&hs_select, &sf_status_open, &mf_status, "Legacy", "\"Legacy\"", json_type_string);
}

static void test_multi_select(void **state)
{
    char msg[VALUE_ERROR_MESSAGE_MAX];
    (void)state;

    sf_to_hs_ok(&sf_regions, &hs_multi, &mf_regions, "\"EMEA;APAC\"", "emea;apac");
    sf_to_hs_ok(&sf_regions, &hs_multi, &mf_regions, "\"APAC;EMEA\"", "apac;emea");
    sf_to_hs_ok(&sf_regions, &hs_multi, &mf_regions, "\"EMEA;APAC;EMEA\"", "emea;apac");
    /* two values mapped onto one option: kept once, at the first place */
    sf_to_hs_ok(&sf_regions, &hs_multi, &mf_regions, "\"North America;APAC;Americas\"",
                "amer;apac");
    sf_to_hs_ok(&sf_regions, &hs_multi, &mf_regions, "\"APAC\"", "apac");
    sf_to_hs_ok(&sf_regions, &hs_multi, &mf_regions, "\";EMEA;;\"", "emea");
    sf_to_hs_ok(&sf_regions, &hs_multi, &mf_regions, "\";\"", "");
    sf_to_hs_err(&sf_regions, &hs_multi, &mf_regions, "\"EMEA;Mars;APAC\"", "unmapped_option", msg,
                 sizeof(msg));
    assert_non_null(strstr(msg, "Salesforce field Regions__c holds \"Mars\""));

    hs_to_sf_ok(&hs_multi, &sf_regions, &mf_regions, "apac;emea", "\"APAC;EMEA\"",
                json_type_string);
    hs_to_sf_ok(&hs_multi, &sf_regions, &mf_regions, "apac;emea;apac", "\"APAC;EMEA\"",
                json_type_string);
    hs_to_sf_ok(&hs_multi, &sf_regions, &mf_regions, "amer", "\"Americas\"", json_type_string);
    hs_to_sf_ok(&hs_multi, &sf_regions, &mf_regions, "emea;;apac", "\"EMEA;APAC\"",
                json_type_string);
    hs_to_sf_ok(&hs_multi, &sf_regions, &mf_regions, "Mars;emea", "\"Mars;EMEA\"",
                json_type_string);
    hs_to_sf_ok(&hs_multi, &sf_regions, &mf_regions, ";", "null", json_type_null);
    hs_to_sf_err(&hs_multi, &sf_regions, &mf_regions, "emea;pluto", "unmapped_option", msg,
                 sizeof(msg));
    assert_non_null(strstr(msg, "\"pluto\""));
}

/* ---- empty values ---- */

static void test_empty_both_ways(void **state)
{
    static const struct {
        const struct sf_field *sf;
        const struct hs_object_property *hs;
    } pairs[] = {
        {&sf_name, &hs_text},     {&sf_budget, &hs_number}, {&sf_seats, &hs_number},
        {&sf_flag, &hs_bool},     {&sf_start, &hs_date},    {&sf_kickoff, &hs_datetime},
        {&sf_status, &hs_select}, {&sf_regions, &hs_multi}, {&sf_ref, &hs_text},
    };
    (void)state;

    for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
        sf_to_hs_ok(pairs[i].sf, pairs[i].hs, NULL, NULL, "");
        sf_to_hs_ok(pairs[i].sf, pairs[i].hs, NULL, "null", "");
        hs_to_sf_ok(pairs[i].hs, pairs[i].sf, NULL, NULL, "null", json_type_null);
        hs_to_sf_ok(pairs[i].hs, pairs[i].sf, NULL, "", "null", json_type_null);
    }
    /* Salesforce stores "" as null */
    sf_to_hs_ok(&sf_name, &hs_text, NULL, "\"\"", "");
    sf_to_hs_ok(&sf_budget, &hs_number, NULL, "\"\"", "");
}

static void test_unsupported_pairs(void **state)
{
    char msg[VALUE_ERROR_MESSAGE_MAX];
    (void)state;

    sf_to_hs_err(&sf_billable, &hs_number, NULL, "true", "unsupported_types", msg, sizeof(msg));
    assert_non_null(strstr(msg, "Is_Billable__c (boolean)"));
    assert_non_null(strstr(msg, "budget (number, number)"));
    sf_to_hs_err(&sf_regions, &hs_select, NULL, "\"EMEA\"", "unsupported_types", NULL, 0);
    sf_to_hs_err(&sf_address, &hs_text, NULL, "\"x\"", "unsupported_types", NULL, 0);
    sf_to_hs_err(&sf_start, &hs_datetime, NULL, "\"2024-01-01\"", "unsupported_types", NULL, 0);
    hs_to_sf_err(&hs_text, &sf_seats, NULL, "1", "unsupported_types", NULL, 0);
    hs_to_sf_err(&hs_multi, &sf_status, NULL, "a", "unsupported_types", NULL, 0);
    /* an empty value of an unsupported pair is still refused */
    hs_to_sf_err(&hs_datetime, &sf_start, NULL, "", "unsupported_types", NULL, 0);

    assert_true(value_pair_supported(SF_TYPE_PICKLIST, VALUE_KIND_TEXT));
    assert_true(value_pair_supported(SF_TYPE_PICKLIST, VALUE_KIND_SELECT));
    assert_false(value_pair_supported(SF_TYPE_PICKLIST, VALUE_KIND_MULTI));
    assert_false(value_pair_supported(SF_TYPE_TIME, VALUE_KIND_TEXT));
    assert_int_equal(value_hs_kind(&hs_multi), VALUE_KIND_MULTI);
    assert_int_equal(value_hs_kind(&hs_select), VALUE_KIND_SELECT);
    assert_int_equal(value_hs_kind(&hs_phone), VALUE_KIND_TEXT);
    assert_int_equal(value_hs_kind(NULL), VALUE_KIND_OTHER);
    assert_int_equal(value_sf_kind(SF_TYPE_CURRENCY), VALUE_KIND_NUMBER);
    assert_int_equal(value_sf_kind(SF_TYPE_OTHER), VALUE_KIND_OTHER);

    char *out = NULL;
    struct value_error err;
    assert_int_equal(value_sf_to_hs(NULL, &hs_text, NULL, NULL, &out, &err), VALUE_INVALID);
    assert_string_equal(err.code, "invalid_argument");
    assert_int_equal(value_sf_to_hs(&sf_name, &hs_text, NULL, NULL, NULL, NULL), VALUE_INVALID);
}

/* ---- messages ---- */

static void test_message_shortens_value(void **state)
{
    char msg[VALUE_ERROR_MESSAGE_MAX], expected[128];
    (void)state;

    char *xs = repeat("x", 100), *x37 = repeat("x", 37), *x38 = repeat("x", 38);
    hs_to_sf_err(&hs_number, &sf_hours, NULL, xs, "not_a_number", msg, sizeof(msg));
    snprintf(expected, sizeof(expected), "\"%s...\"", x37);
    assert_non_null(strstr(msg, expected));
    assert_null(strstr(msg, x38));
    free(xs);
    free(x37);
    free(x38);

    /* 50 two-byte letters: 37 kept whole, never cut inside a character */
    char *ae = repeat("\xc3\x86", 50), *ae37 = repeat("\xc3\x86", 37);
    hs_to_sf_err(&hs_number, &sf_hours, NULL, ae, "not_a_number", msg, sizeof(msg));
    snprintf(expected, sizeof(expected), "\"%s...\"", ae37);
    assert_non_null(strstr(msg, expected));
    free(ae);
    free(ae37);

    /* exactly 40 characters are shown whole; control characters become '?' */
    char *x40 = repeat("y", 40);
    hs_to_sf_err(&hs_number, &sf_hours, NULL, x40, "not_a_number", msg, sizeof(msg));
    snprintf(expected, sizeof(expected), "\"%s\"", x40);
    assert_non_null(strstr(msg, expected));
    free(x40);
    hs_to_sf_err(&hs_number, &sf_hours, NULL, "a\nb", "not_a_number", msg, sizeof(msg));
    assert_non_null(strstr(msg, "\"a?b\""));
}

/* ---- outbound-message text ---- */

static void test_outbound_text_equals_rest_json(void **state)
{
    static const struct {
        const struct sf_field *sf;
        const char *text;
    } cases[] = {
        {&sf_budget, "419.0"},
        {&sf_hours, "0.5"},
        {&sf_completion, "0.0"},
        {&sf_seats, "12"},
        {&sf_seats, "12.0"},
        {&sf_billable, "true"},
        {&sf_flag, "false"},
        {&sf_start, "2011-08-04"},
        {&sf_kickoff, "2017-05-02T11:53:53.000Z"},
        {&sf_name, "A & B"},
        {&sf_status, "In Progress"},
        {&sf_regions, "EMEA;APAC"},
        {&sf_ref, "0015g00000AbCdEAAV"},
    };
    json_object *rest = json_tokener_parse(
        "{\"Budget__c\":419.0,\"Hours_Estimate__c\":0.5,\"Completion__c\":0.0,\"Seats__c\":12,"
        "\"Is_Billable__c\":true,\"Flag__c\":false,\"Start_Date__c\":\"2011-08-04\","
        "\"Kickoff__c\":\"2017-05-02T11:53:53.000+0000\",\"Name\":\"A & B\","
        "\"Status__c\":\"In Progress\",\"Regions__c\":\"EMEA;APAC\","
        "\"Account__c\":\"0015g00000AbCdEAAV\"}");
    (void)state;

    assert_non_null(rest);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_object *from_text = NULL, *from_rest = NULL;
        struct value_error err;

        assert_true(json_object_object_get_ex(rest, cases[i].sf->name, &from_rest));
        if (value_sf_text_to_json(cases[i].sf, cases[i].text, false, &from_text, &err) != 0)
            fail_msg("%s %s: %s", cases[i].sf->name, cases[i].text, err.message);
        if (!json_object_equal(from_text, from_rest))
            fail_msg("%s: text %s gave %s, REST has %s", cases[i].sf->name, cases[i].text,
                     json_object_to_json_string(from_text), json_object_to_json_string(from_rest));
        assert_true(value_equal_sf(cases[i].sf, from_text, from_rest));
        json_object_put(from_text);
    }
    json_object_put(rest);

    /* exact shapes */
    json_object *v = NULL;
    assert_int_equal(value_sf_text_to_json(&sf_seats, "419.0", false, &v, NULL), VALUE_OK);
    assert_int_equal(json_object_get_type(v), json_type_int);
    assert_int_equal(json_object_get_int64(v), 419);
    json_object_put(v);
    assert_int_equal(value_sf_text_to_json(&sf_budget, "419.0", false, &v, NULL), VALUE_OK);
    assert_int_equal(json_object_get_type(v), json_type_double);
    assert_string_equal(json_object_to_json_string(v), "419");
    json_object_put(v);
    assert_int_equal(
        value_sf_text_to_json(&sf_kickoff, "2017-05-02T13:53:53.5+02:00", false, &v, NULL),
        VALUE_OK);
    assert_string_equal(json_object_get_string(v), "2017-05-02T11:53:53.500+0000");
    json_object_put(v);
    assert_int_equal(value_sf_text_to_json(&sf_billable, "1", false, &v, NULL), VALUE_OK);
    assert_true(json_object_get_boolean(v));
    json_object_put(v);
    assert_int_equal(value_sf_text_to_json(&sf_billable, "0", false, &v, NULL), VALUE_OK);
    assert_int_equal(json_object_get_type(v), json_type_boolean);
    assert_false(json_object_get_boolean(v));
    json_object_put(v);

    /* nulls: xsi:nil, an omitted field, an empty element */
    v = (json_object *)&v;
    assert_int_equal(value_sf_text_to_json(&sf_budget, "419.0", true, &v, NULL), VALUE_OK);
    assert_null(v);
    v = (json_object *)&v;
    assert_int_equal(value_sf_text_to_json(&sf_name, NULL, false, &v, NULL), VALUE_OK);
    assert_null(v);
    v = (json_object *)&v;
    assert_int_equal(value_sf_text_to_json(&sf_kickoff, "", false, &v, NULL), VALUE_OK);
    assert_null(v);

    /* errors */
    struct value_error err;
    assert_int_equal(value_sf_text_to_json(&sf_budget, "abc", false, &v, &err), VALUE_INVALID);
    assert_null(v);
    assert_string_equal(err.code, "not_a_number");
    assert_non_null(strstr(err.message, "Budget__c"));
    assert_int_equal(value_sf_text_to_json(&sf_seats, "1.5", false, &v, &err), VALUE_INVALID);
    assert_string_equal(err.code, "not_integral");
    assert_int_equal(value_sf_text_to_json(&sf_billable, "yes", false, &v, &err), VALUE_INVALID);
    assert_string_equal(err.code, "not_a_boolean");
    assert_int_equal(value_sf_text_to_json(&sf_start, "2023-02-29", false, &v, &err),
                     VALUE_INVALID);
    assert_string_equal(err.code, "bad_date");
    assert_int_equal(value_sf_text_to_json(&sf_kickoff, "2017-05-02", false, &v, &err),
                     VALUE_INVALID);
    assert_string_equal(err.code, "bad_datetime");
    assert_int_equal(value_sf_text_to_json(&sf_address, "x", false, &v, &err), VALUE_INVALID);
    assert_string_equal(err.code, "unsupported_types");
}

/* The same record read over REST and from an outbound message converts to the same HubSpot
 * text. */
static void test_outbound_and_rest_convert_alike(void **state)
{
    json_object *rest = json_tokener_parse("419.0"), *text = NULL;
    char *a = NULL, *b = NULL;
    (void)state;

    assert_int_equal(value_sf_text_to_json(&sf_budget, "419.0", false, &text, NULL), VALUE_OK);
    assert_int_equal(value_sf_to_hs(&sf_budget, &hs_number, NULL, rest, &a, NULL), VALUE_OK);
    assert_int_equal(value_sf_to_hs(&sf_budget, &hs_number, NULL, text, &b, NULL), VALUE_OK);
    assert_string_equal(a, "419");
    assert_string_equal(b, "419");
    free(a);
    free(b);
    json_object_put(rest);
    json_object_put(text);

    rest = json_object_new_string("2017-05-02T11:53:53.000+0000");
    assert_int_equal(
        value_sf_text_to_json(&sf_kickoff, "2017-05-02T11:53:53.000Z", false, &text, NULL),
        VALUE_OK);
    assert_int_equal(value_sf_to_hs(&sf_kickoff, &hs_datetime, NULL, rest, &a, NULL), VALUE_OK);
    assert_int_equal(value_sf_to_hs(&sf_kickoff, &hs_datetime, NULL, text, &b, NULL), VALUE_OK);
    assert_string_equal(a, "2017-05-02T11:53:53.000Z");
    assert_string_equal(b, "2017-05-02T11:53:53.000Z");
    free(a);
    free(b);
    json_object_put(rest);
    json_object_put(text);
}

/* ---- comparison ---- */

static void test_equal_hs(void **state)
{
    (void)state;
    assert_true(value_equal_hs("419", "419.0", VALUE_KIND_NUMBER));
    assert_true(value_equal_hs("419", "4.19e2", VALUE_KIND_NUMBER));
    assert_true(value_equal_hs("0", "-0.0", VALUE_KIND_NUMBER));
    assert_false(value_equal_hs("419", "420", VALUE_KIND_NUMBER));
    assert_false(value_equal_hs("419", "", VALUE_KIND_NUMBER));
    assert_true(value_equal_hs("true", "True", VALUE_KIND_BOOL));
    assert_false(value_equal_hs("true", "false", VALUE_KIND_BOOL));
    assert_false(value_equal_hs("false", "", VALUE_KIND_BOOL));
    assert_true(value_equal_hs("2024-02-29", "1709164800000", VALUE_KIND_DATE));
    assert_false(value_equal_hs("2024-02-29", "2024-03-01", VALUE_KIND_DATE));
    assert_true(value_equal_hs("2024-05-02T11:53:53.123Z", "1714650833123", VALUE_KIND_DATETIME));
    assert_true(value_equal_hs("2024-05-02T11:53:53Z", "2024-05-02T13:53:53.000+02:00",
                               VALUE_KIND_DATETIME));
    assert_false(value_equal_hs("2024-05-02T11:53:53.123Z", "1714650833124", VALUE_KIND_DATETIME));
    assert_true(value_equal_hs("a;b", "b;a", VALUE_KIND_MULTI));
    assert_true(value_equal_hs("a;b;b", "a;;b", VALUE_KIND_MULTI));
    assert_false(value_equal_hs("a;b", "a", VALUE_KIND_MULTI));
    assert_false(value_equal_hs("a", "A", VALUE_KIND_TEXT));
    assert_false(value_equal_hs("a", "a ", VALUE_KIND_TEXT));
    assert_true(value_equal_hs(NULL, "", VALUE_KIND_TEXT));
    assert_true(value_equal_hs(NULL, NULL, VALUE_KIND_NUMBER));
    assert_false(value_equal_hs("planned", "Planned", VALUE_KIND_SELECT));
    /* values that do not parse compare byte for byte */
    assert_true(value_equal_hs("abc", "abc", VALUE_KIND_NUMBER));
    assert_false(value_equal_hs("abc", "abd", VALUE_KIND_NUMBER));
}

static void test_hs_canonical(void **state)
{
    static const struct {
        enum value_kind kind;
        const char *in, *out;
    } cases[] = {
        {VALUE_KIND_NUMBER, "4.19e2", "419"},
        {VALUE_KIND_NUMBER, "-000.500", "-0.5"},
        {VALUE_KIND_BOOL, "FALSE", "false"},
        {VALUE_KIND_DATE, "1709164800000", "2024-02-29"},
        {VALUE_KIND_DATETIME, "2024-05-02T13:53:53+02:00", "2024-05-02T11:53:53.000Z"},
        {VALUE_KIND_MULTI, "b;a;;b", "a;b"},
        {VALUE_KIND_TEXT, " As Is ", " As Is "},
        {VALUE_KIND_SELECT, "in_progress", "in_progress"},
        {VALUE_KIND_TEXT, NULL, ""},
    };
    struct value_error err;
    char *out = NULL;
    (void)state;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        assert_int_equal(value_hs_canonical(cases[i].kind, cases[i].in, &out, &err), VALUE_OK);
        assert_string_equal(out, cases[i].out);
        free(out);
    }
    assert_int_equal(value_hs_canonical(VALUE_KIND_NUMBER, "x", &out, &err), VALUE_INVALID);
    assert_null(out);
    assert_string_equal(err.code, "not_a_number");
    assert_int_equal(value_hs_canonical(VALUE_KIND_DATE, "2023-02-29", &out, &err), VALUE_INVALID);
    assert_string_equal(err.code, "bad_date");
}

static void test_equal_sf(void **state)
{
    json_object *i419 = json_object_new_int(419), *d419 = json_object_new_double(419.0),
                *d420 = json_object_new_double(420.0),
                *dt_plus = json_object_new_string("2024-05-02T11:53:53.000+0000"),
                *dt_z = json_object_new_string("2024-05-02T11:53:53Z"),
                *dt_other = json_object_new_string("2024-05-02T11:53:54Z"),
                *m_ab = json_object_new_string("A;B"), *m_ba = json_object_new_string("B;A"),
                *m_a = json_object_new_string("A"), *empty = json_object_new_string(""),
                *name = json_object_new_string("Acme"), *t = json_object_new_boolean(true),
                *f = json_object_new_boolean(false);
    (void)state;

    assert_true(value_equal_sf(&sf_budget, i419, d419));
    assert_false(value_equal_sf(&sf_budget, i419, d420));
    assert_true(value_equal_sf(&sf_kickoff, dt_plus, dt_z));
    assert_false(value_equal_sf(&sf_kickoff, dt_plus, dt_other));
    assert_true(value_equal_sf(&sf_regions, m_ab, m_ba));
    assert_false(value_equal_sf(&sf_regions, m_ab, m_a));
    assert_true(value_equal_sf(&sf_name, NULL, empty));
    assert_false(value_equal_sf(&sf_name, NULL, name));
    assert_true(value_equal_sf(&sf_billable, t, t));
    assert_false(value_equal_sf(&sf_billable, t, f));
    /* JSON that does not parse as the field's type falls back to json_object_equal */
    assert_true(value_equal_sf(&sf_budget, t, t));
    assert_false(value_equal_sf(&sf_budget, t, f));

    json_object *all[] = {i419, d419, d420,  dt_plus, dt_z, dt_other, m_ab,
                          m_ba, m_a,  empty, name,    t,    f};
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
        json_object_put(all[i]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_text_both_ways),
        cmocka_unit_test(test_text_picklist_to_text_uses_value_map),
        cmocka_unit_test(test_text_length_counts_characters),
        cmocka_unit_test(test_text_invalid_utf8_and_nul),
        cmocka_unit_test(test_number_sf_to_hs),
        cmocka_unit_test(test_number_sf_to_hs_errors),
        cmocka_unit_test(test_number_hs_to_sf),
        cmocka_unit_test(test_number_hs_to_sf_errors),
        cmocka_unit_test(test_bool_both_ways),
        cmocka_unit_test(test_date_both_ways),
        cmocka_unit_test(test_datetime_sf_to_hs),
        cmocka_unit_test(test_datetime_hs_to_sf),
        cmocka_unit_test(test_select_with_value_map),
        cmocka_unit_test(test_multi_select),
        cmocka_unit_test(test_empty_both_ways),
        cmocka_unit_test(test_unsupported_pairs),
        cmocka_unit_test(test_message_shortens_value),
        cmocka_unit_test(test_outbound_text_equals_rest_json),
        cmocka_unit_test(test_outbound_and_rest_convert_alike),
        cmocka_unit_test(test_equal_hs),
        cmocka_unit_test(test_hs_canonical),
        cmocka_unit_test(test_equal_sf),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
