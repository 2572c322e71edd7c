/* test_mapping.c: unit tests for sync/mapping (the mapping document and the problem list).
 *
 * Covers the defaults of a minimal document, every member of a full one, the exact serialised
 * form, the round trip parse(to_json(m)) == m, the field-rule direction table, every structural
 * problem code with its path (and that several are reported in one call), the text entry point
 * (invalid JSON, trailing text, depth), and the problem list API. Must not depend on CRM
 * schemas. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/mapping.h"

#define MINIMAL                                                                                    \
    "{\"name\":\"Projects\",\"salesforce_object\":\"Project__c\",\"hubspot_object\":\"2-3465404\""

static const char full_doc[] =
    "{\"id\":7,\"version\":3,\"name\":\"Projects\",\"state\":\"enabled\","
    "\"salesforce_object\":\"Project__c\",\"hubspot_object\":\"2-3465404\","
    "\"rules\":{\"salesforce_to_hubspot\":{\"create\":true,\"update\":false,\"delete\":\"delete\"},"
    "\"hubspot_to_salesforce\":{\"create\":false,\"update\":true,\"delete\":\"none\"},"
    "\"conflict_winner\":\"hubspot\"},"
    "\"identity\":{\"hubspot_property\":\"salesforce_id\",\"salesforce_field\":\"HubSpot_Id__c\"},"
    "\"fields\":[{\"salesforce\":\"Name\",\"hubspot\":\"name\",\"rule\":\"always_salesforce\"},"
    "{\"salesforce\":\"Status__c\",\"hubspot\":\"project_status\","
    "\"rule\":\"prefer_salesforce_unless_blank\",\"value_map\":{\"Planned\":\"planned\","
    "\"In Progress\":\"in_progress\"}},"
    "{\"salesforce\":\"Notes__c\",\"hubspot\":\"notes\",\"rule\":\"always_hubspot\"},"
    "{\"salesforce\":\"Code__c\",\"hubspot\":\"project_code\",\"rule\":\"dont_sync\"},"
    "{\"salesforce\":\"Budget__c\",\"hubspot\":\"budget\"}],"
    "\"associations\":[{\"salesforce_field\":\"Account__c\",\"hubspot_object\":\"0-2\","
    "\"association_type_id\":279,\"enabled\":true,\"resolver\":{\"mapping_id\":3}},"
    "{\"salesforce_field\":\"Contact__c\",\"hubspot_object\":\"0-1\","
    "\"association_type_id\":null,\"enabled\":false,"
    "\"resolver\":{\"hubspot_property\":\"salesforcecontactid\"}},"
    "{\"salesforce_field\":\"Parent__c\",\"hubspot_object\":\"p62515_project\"}]}";

static struct mapping *parse_ok(const char *text)
{
    struct problem_list pl = PROBLEM_LIST_INIT;
    struct mapping *m = NULL;
    int rc = mapping_parse_text(text, strlen(text), &m, &pl);

    if (rc != MAPPING_PARSE_OK) {
        for (size_t i = 0; i < pl.count; i++)
            fprintf(stderr, "  %s %s %s\n", pl.items[i].path, pl.items[i].code,
                    pl.items[i].message);
        fail_msg("parse failed with %d", rc);
    }
    assert_int_equal(pl.count, 0);
    assert_non_null(m);
    problem_list_free(&pl);
    return m;
}

/* Parses text expecting MAPPING_PARSE_INVALID; returns the problems (caller frees). */
static struct problem_list parse_bad(const char *text)
{
    struct problem_list pl = PROBLEM_LIST_INIT;
    struct mapping *m = (struct mapping *)&pl; /* must be reset to NULL */
    int rc = mapping_parse_text(text, strlen(text), &m, &pl);

    assert_int_equal(rc, MAPPING_PARSE_INVALID);
    assert_null(m);
    assert_true(pl.count > 0);
    assert_true(problem_list_has_errors(&pl));
    return pl;
}

static void dump(const struct problem_list *pl)
{
    for (size_t i = 0; i < pl->count; i++)
        fprintf(stderr, "  [%zu] path=%s code=%s: %s\n", i, pl->items[i].path, pl->items[i].code,
                pl->items[i].message);
}

/* Exactly one problem, with this path and code. */
static void expect_one(const char *text, const char *path, const char *code)
{
    struct problem_list pl = parse_bad(text);

    if (pl.count != 1 || strcmp(pl.items[0].path, path) != 0 ||
        strcmp(pl.items[0].code, code) != 0) {
        dump(&pl);
        fail_msg("for %s want exactly one problem %s at \"%s\"", text, code, path);
    }
    assert_int_equal(pl.items[0].severity, PROBLEM_ERROR);
    assert_true(strlen(pl.items[0].message) > 10);
    problem_list_free(&pl);
}

/* ---- defaults, members, serialisation ---- */

static void test_minimal_defaults(void **state)
{
    struct mapping *m = parse_ok(MINIMAL "}");

    (void)state;
    assert_false(m->has_id);
    assert_false(m->has_version);
    assert_string_equal(m->name, "Projects");
    assert_int_equal(m->state, MAPPING_STATE_DRAFT);
    assert_string_equal(m->salesforce_object, "Project__c");
    assert_string_equal(m->hubspot_object, "2-3465404");
    assert_true(m->salesforce_to_hubspot.create);
    assert_true(m->salesforce_to_hubspot.update);
    assert_int_equal(m->salesforce_to_hubspot.on_delete, MAPPING_DELETE_NONE);
    assert_true(m->hubspot_to_salesforce.create);
    assert_true(m->hubspot_to_salesforce.update);
    assert_int_equal(m->hubspot_to_salesforce.on_delete, MAPPING_DELETE_NONE);
    assert_int_equal(m->conflict_winner, MAPPING_WINNER_SALESFORCE);
    assert_null(m->identity_hubspot_property);
    assert_null(m->identity_salesforce_field);
    assert_int_equal(m->n_fields, 0);
    assert_int_equal(m->n_associations, 0);
    mapping_free(m);
}

static void test_partial_rules_default(void **state)
{
    struct mapping *m = parse_ok(MINIMAL ",\"rules\":{\"hubspot_to_salesforce\":{\"delete\":"
                                         "\"delete\"}},\"identity\":{},\"fields\":[{"
                                         "\"salesforce\":\"Name\",\"hubspot\":\"name\","
                                         "\"value_map\":null}],\"state\":null}");

    (void)state;
    assert_true(m->hubspot_to_salesforce.create);
    assert_true(m->hubspot_to_salesforce.update);
    assert_int_equal(m->hubspot_to_salesforce.on_delete, MAPPING_DELETE_DELETE);
    assert_int_equal(m->salesforce_to_hubspot.on_delete, MAPPING_DELETE_NONE);
    assert_int_equal(m->state, MAPPING_STATE_DRAFT);
    assert_int_equal(m->fields[0].rule, FIELD_RULE_TWO_WAY);
    assert_int_equal(m->fields[0].n_value_map, 0);
    mapping_free(m);
}

static void test_full_document(void **state)
{
    struct mapping *m = parse_ok(full_doc);
    const struct mapping_association *a;

    (void)state;
    assert_true(m->has_id);
    assert_int_equal(m->id, 7);
    assert_true(m->has_version);
    assert_int_equal(m->version, 3);
    assert_int_equal(m->state, MAPPING_STATE_ENABLED);
    assert_false(m->salesforce_to_hubspot.update);
    assert_int_equal(m->salesforce_to_hubspot.on_delete, MAPPING_DELETE_DELETE);
    assert_false(m->hubspot_to_salesforce.create);
    assert_int_equal(m->conflict_winner, MAPPING_WINNER_HUBSPOT);
    assert_string_equal(m->identity_hubspot_property, "salesforce_id");
    assert_string_equal(m->identity_salesforce_field, "HubSpot_Id__c");
    assert_int_equal(m->n_fields, 5);
    assert_int_equal(m->fields[0].rule, FIELD_RULE_ALWAYS_SALESFORCE);
    assert_int_equal(m->fields[1].rule, FIELD_RULE_PREFER_SALESFORCE_UNLESS_BLANK);
    assert_int_equal(m->fields[1].n_value_map, 2);
    assert_string_equal(m->fields[1].value_map[1].salesforce, "In Progress");
    assert_string_equal(m->fields[1].value_map[1].hubspot, "in_progress");
    assert_int_equal(m->fields[2].rule, FIELD_RULE_ALWAYS_HUBSPOT);
    assert_int_equal(m->fields[3].rule, FIELD_RULE_DONT_SYNC);
    assert_int_equal(m->fields[4].rule, FIELD_RULE_TWO_WAY);
    assert_int_equal(m->n_associations, 3);
    a = &m->associations[0];
    assert_true(a->has_association_type_id);
    assert_int_equal(a->association_type_id, 279);
    assert_true(a->enabled);
    assert_int_equal(a->resolver, MAPPING_RESOLVER_MAPPING);
    assert_int_equal(a->resolver_mapping_id, 3);
    a = &m->associations[1];
    assert_false(a->has_association_type_id);
    assert_false(a->enabled);
    assert_int_equal(a->resolver, MAPPING_RESOLVER_HUBSPOT_PROPERTY);
    assert_string_equal(a->resolver_hubspot_property, "salesforcecontactid");
    a = &m->associations[2];
    assert_true(a->enabled);
    assert_int_equal(a->resolver, MAPPING_RESOLVER_DEFAULT);
    assert_null(a->resolver_hubspot_property);
    mapping_free(m);
}

static void test_minimal_serialised_exactly(void **state)
{
    struct mapping *m = parse_ok(MINIMAL ",\"fields\":[{\"salesforce\":\"Name\",\"hubspot\":"
                                         "\"name\"}],\"associations\":[{\"salesforce_field\":"
                                         "\"Account__c\",\"hubspot_object\":\"0-2\"}]}");
    json_object *doc = mapping_to_json(m);

    (void)state;
    assert_non_null(doc);
    assert_string_equal(
        json_object_to_json_string_ext(doc,
                                       JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE),
        "{\"name\":\"Projects\",\"state\":\"draft\",\"salesforce_object\":\"Project__c\","
        "\"hubspot_object\":\"2-3465404\",\"rules\":{\"salesforce_to_hubspot\":{\"create\":true,"
        "\"update\":true,\"delete\":\"none\"},\"hubspot_to_salesforce\":{\"create\":true,"
        "\"update\":true,\"delete\":\"none\"},\"conflict_winner\":\"salesforce\"},"
        "\"identity\":{\"hubspot_property\":null,\"salesforce_field\":null},"
        "\"fields\":[{\"salesforce\":\"Name\",\"hubspot\":\"name\",\"rule\":\"two_way\"}],"
        "\"associations\":[{\"salesforce_field\":\"Account__c\",\"hubspot_object\":\"0-2\","
        "\"association_type_id\":null,\"enabled\":true,\"resolver\":null}]}");
    json_object_put(doc);
    mapping_free(m);
}

static void test_round_trip(void **state)
{
    struct mapping *m = parse_ok(full_doc);
    json_object *doc = mapping_to_json(m);
    struct problem_list pl = PROBLEM_LIST_INIT;
    struct mapping *again = NULL;
    json_object *doc2;

    (void)state;
    assert_non_null(doc);
    assert_int_equal(mapping_parse(doc, &again, &pl), MAPPING_PARSE_OK);
    assert_int_equal(pl.count, 0);
    assert_true(mapping_equal(m, again));
    doc2 = mapping_to_json(again);
    assert_string_equal(json_object_to_json_string(doc), json_object_to_json_string(doc2));
    /* the serialised full document keeps what the input said */
    assert_int_equal(json_object_get_int(json_object_object_get(doc, "id")), 7);
    json_object_put(doc);
    json_object_put(doc2);
    mapping_free(again);
    mapping_free(m);
}

static void test_equal_detects_differences(void **state)
{
    struct mapping *a = parse_ok(full_doc);
    struct mapping *b = parse_ok(full_doc);

    (void)state;
    assert_true(mapping_equal(a, b));
    b->fields[1].value_map[0].hubspot[0] = 'P';
    assert_false(mapping_equal(a, b));
    b->fields[1].value_map[0].hubspot[0] = 'p';
    b->associations[0].resolver_mapping_id = 4;
    assert_false(mapping_equal(a, b));
    b->associations[0].resolver_mapping_id = 3;
    b->hubspot_to_salesforce.on_delete = MAPPING_DELETE_DELETE;
    assert_false(mapping_equal(a, b));
    b->hubspot_to_salesforce.on_delete = MAPPING_DELETE_NONE;
    b->has_version = false;
    assert_false(mapping_equal(a, b));
    b->has_version = true;
    assert_true(mapping_equal(a, b));
    assert_false(mapping_equal(a, NULL));
    assert_true(mapping_equal(NULL, NULL));
    mapping_free(a);
    mapping_free(b);
}

static void test_field_directions(void **state)
{
    struct mapping *m = parse_ok(MINIMAL "}");

    (void)state;
    assert_int_equal(mapping_field_directions(FIELD_RULE_TWO_WAY), MAPPING_DIR_BOTH);
    assert_int_equal(mapping_field_directions(FIELD_RULE_PREFER_SALESFORCE_UNLESS_BLANK),
                     MAPPING_DIR_SF_TO_HS | MAPPING_DIR_HS_TO_SF);
    assert_int_equal(mapping_field_directions(FIELD_RULE_ALWAYS_SALESFORCE), MAPPING_DIR_SF_TO_HS);
    assert_int_equal(mapping_field_directions(FIELD_RULE_ALWAYS_HUBSPOT), MAPPING_DIR_HS_TO_SF);
    assert_int_equal(mapping_field_directions(FIELD_RULE_DONT_SYNC), MAPPING_DIR_NONE);
    assert_int_equal(mapping_field_directions((enum field_rule)99), MAPPING_DIR_NONE);

    assert_int_equal(mapping_record_directions(m), MAPPING_DIR_BOTH);
    m->hubspot_to_salesforce.create = false;
    assert_int_equal(mapping_record_directions(m), MAPPING_DIR_BOTH);
    m->hubspot_to_salesforce.update = false;
    assert_int_equal(mapping_record_directions(m), MAPPING_DIR_SF_TO_HS);
    m->salesforce_to_hubspot.create = false;
    m->salesforce_to_hubspot.update = false;
    assert_int_equal(mapping_record_directions(m), MAPPING_DIR_NONE);
    mapping_free(m);
}

static void test_name_tables(void **state)
{
    enum field_rule r;
    enum mapping_state s;

    (void)state;
    assert_int_equal(mapping_field_rule_from_name("prefer_salesforce_unless_blank", &r), 0);
    assert_int_equal(r, FIELD_RULE_PREFER_SALESFORCE_UNLESS_BLANK);
    assert_int_equal(mapping_field_rule_from_name("Two_Way", &r), -1);
    assert_int_equal(mapping_field_rule_from_name(NULL, &r), -1);
    assert_string_equal(mapping_field_rule_name(FIELD_RULE_DONT_SYNC), "dont_sync");
    assert_string_equal(mapping_field_rule_name((enum field_rule)42), "unknown");
    assert_int_equal(mapping_state_from_name("paused", &s), 0);
    assert_int_equal(s, MAPPING_STATE_PAUSED);
    assert_string_equal(mapping_state_name(MAPPING_STATE_ENABLED), "enabled");
    assert_string_equal(mapping_delete_name(MAPPING_DELETE_DELETE), "delete");
    assert_string_equal(mapping_winner_name(MAPPING_WINNER_HUBSPOT), "hubspot");
}

/* ---- structural problems ---- */

static void test_not_object(void **state)
{
    struct problem_list pl = PROBLEM_LIST_INIT;
    struct mapping *m = NULL;

    (void)state;
    expect_one("[]", "", "not_object");
    expect_one("null", "", "not_object");
    assert_int_equal(mapping_parse(NULL, &m, &pl), MAPPING_PARSE_INVALID);
    assert_string_equal(pl.items[0].code, "not_object");
    problem_list_free(&pl);
}

static void test_missing_required(void **state)
{
    struct problem_list pl = parse_bad("{}");

    (void)state;
    assert_int_equal(pl.count, 3);
    assert_non_null(problem_list_find(&pl, "missing", "name"));
    assert_non_null(problem_list_find(&pl, "missing", "salesforce_object"));
    assert_non_null(problem_list_find(&pl, "missing", "hubspot_object"));
    problem_list_free(&pl);
    expect_one("{\"name\":\"P\",\"salesforce_object\":\"A\",\"hubspot_object\":null}",
               "hubspot_object", "missing");
    expect_one(MINIMAL ",\"fields\":[{\"hubspot\":\"name\"}]}", "fields[0].salesforce", "missing");
    expect_one(MINIMAL ",\"fields\":[{\"salesforce\":\"Name\"}]}", "fields[0].hubspot", "missing");
    expect_one(MINIMAL ",\"associations\":[{\"hubspot_object\":\"0-2\"}]}",
               "associations[0].salesforce_field", "missing");
    expect_one(MINIMAL ",\"associations\":[{\"salesforce_field\":\"Account__c\"}]}",
               "associations[0].hubspot_object", "missing");
}

static void test_wrong_types(void **state)
{
    (void)state;
    expect_one("{\"name\":5,\"salesforce_object\":\"A\",\"hubspot_object\":\"2-1\"}", "name",
               "wrong_type");
    expect_one(MINIMAL ",\"id\":\"7\"}", "id", "wrong_type");
    expect_one(MINIMAL ",\"version\":1.5}", "version", "wrong_type");
    expect_one(MINIMAL ",\"state\":true}", "state", "wrong_type");
    expect_one(MINIMAL ",\"rules\":[]}", "rules", "wrong_type");
    expect_one(MINIMAL ",\"rules\":{\"salesforce_to_hubspot\":\"both\"}}",
               "rules.salesforce_to_hubspot", "wrong_type");
    expect_one(MINIMAL ",\"rules\":{\"hubspot_to_salesforce\":{\"create\":\"yes\"}}}",
               "rules.hubspot_to_salesforce.create", "wrong_type");
    expect_one(MINIMAL ",\"identity\":\"salesforce_id\"}", "identity", "wrong_type");
    expect_one(MINIMAL ",\"identity\":{\"hubspot_property\":1}}", "identity.hubspot_property",
               "wrong_type");
    expect_one(MINIMAL ",\"fields\":{}}", "fields", "wrong_type");
    expect_one(MINIMAL ",\"fields\":[\"Name\"]}", "fields[0]", "wrong_type");
    expect_one(MINIMAL ",\"fields\":[{\"salesforce\":\"Name\",\"hubspot\":\"name\","
                       "\"value_map\":[]}]}",
               "fields[0].value_map", "wrong_type");
    expect_one(MINIMAL ",\"fields\":[{\"salesforce\":\"S__c\",\"hubspot\":\"s\","
                       "\"value_map\":{\"Planned\":1}}]}",
               "fields[0].value_map[\"Planned\"]", "wrong_type");
    expect_one(MINIMAL ",\"associations\":[{\"salesforce_field\":\"A__c\",\"hubspot_object\":"
                       "\"0-2\",\"enabled\":\"true\"}]}",
               "associations[0].enabled", "wrong_type");
    expect_one(MINIMAL ",\"associations\":[{\"salesforce_field\":\"A__c\",\"hubspot_object\":"
                       "\"0-2\",\"association_type_id\":\"279\"}]}",
               "associations[0].association_type_id", "wrong_type");
    expect_one(MINIMAL ",\"associations\":[{\"salesforce_field\":\"A__c\",\"hubspot_object\":"
                       "\"0-2\",\"resolver\":{\"mapping_id\":\"3\"}}]}",
               "associations[0].resolver.mapping_id", "wrong_type");
    expect_one(MINIMAL ",\"associations\":[{\"salesforce_field\":\"A__c\",\"hubspot_object\":"
                       "\"0-2\",\"resolver\":3}]}",
               "associations[0].resolver", "wrong_type");
    expect_one(MINIMAL ",\"associations\":{}}", "associations", "wrong_type");
}

static void test_bad_enum_values(void **state)
{
    struct problem_list pl;

    (void)state;
    expect_one(MINIMAL ",\"state\":\"on\"}", "state", "invalid_value");
    expect_one(MINIMAL ",\"rules\":{\"conflict_winner\":\"both\"}}", "rules.conflict_winner",
               "invalid_value");
    expect_one(MINIMAL ",\"rules\":{\"salesforce_to_hubspot\":{\"delete\":\"archive\"}}}",
               "rules.salesforce_to_hubspot.delete", "invalid_value");
    expect_one(MINIMAL ",\"fields\":[{\"salesforce\":\"Name\",\"hubspot\":\"name\","
                       "\"rule\":\"sometimes\"}]}",
               "fields[0].rule", "invalid_value");
    /* the message lists the allowed values */
    pl = parse_bad(MINIMAL ",\"fields\":[{\"salesforce\":\"Name\",\"hubspot\":\"name\","
                           "\"rule\":\"TWO_WAY\"}]}");
    assert_non_null(strstr(pl.items[0].message, "\"prefer_salesforce_unless_blank\""));
    problem_list_free(&pl);
}

static void test_bad_numbers(void **state)
{
    (void)state;
    expect_one(MINIMAL ",\"id\":0}", "id", "invalid_value");
    expect_one(MINIMAL ",\"version\":-2}", "version", "invalid_value");
    expect_one(MINIMAL ",\"associations\":[{\"salesforce_field\":\"A__c\",\"hubspot_object\":"
                       "\"0-2\",\"association_type_id\":0}]}",
               "associations[0].association_type_id", "invalid_value");
    expect_one(MINIMAL ",\"associations\":[{\"salesforce_field\":\"A__c\",\"hubspot_object\":"
                       "\"0-2\",\"resolver\":{\"mapping_id\":-3}}]}",
               "associations[0].resolver.mapping_id", "invalid_value");
}

static void test_empty_and_long(void **state)
{
    char long_name[400];
    char doc[600];

    (void)state;
    expect_one("{\"name\":\"\",\"salesforce_object\":\"A\",\"hubspot_object\":\"2-1\"}", "name",
               "empty");
    expect_one(MINIMAL ",\"fields\":[{\"salesforce\":\"\",\"hubspot\":\"name\"}]}",
               "fields[0].salesforce", "empty");
    expect_one(MINIMAL ",\"identity\":{\"salesforce_field\":\"\"}}", "identity.salesforce_field",
               "empty");
    expect_one(MINIMAL ",\"fields\":[{\"salesforce\":\"S__c\",\"hubspot\":\"s\","
                       "\"value_map\":{\"\":\"x\"}}]}",
               "fields[0].value_map[\"\"]", "empty");
    expect_one(MINIMAL ",\"fields\":[{\"salesforce\":\"S__c\",\"hubspot\":\"s\","
                       "\"value_map\":{\"A\":\"\"}}]}",
               "fields[0].value_map[\"A\"]", "empty");

    memset(long_name, 'x', MAPPING_NAME_MAX + 1);
    long_name[MAPPING_NAME_MAX + 1] = '\0';
    snprintf(doc, sizeof(doc),
             "{\"name\":\"%s\",\"salesforce_object\":\"A\",\"hubspot_object\":\"2-1\"}", long_name);
    expect_one(doc, "name", "too_long");
    long_name[MAPPING_NAME_MAX] = '\0'; /* exactly the limit is fine */
    snprintf(doc, sizeof(doc),
             "{\"name\":\"%s\",\"salesforce_object\":\"A\",\"hubspot_object\":\"2-1\"}", long_name);
    mapping_free(parse_ok(doc));
    expect_one("{\"name\":\"a\\u0000b\",\"salesforce_object\":\"A\",\"hubspot_object\":\"2-1\"}",
               "name", "invalid_value");
}

static void test_invalid_names(void **state)
{
    (void)state;
    expect_one("{\"name\":\"P\",\"salesforce_object\":\"Project c\",\"hubspot_object\":\"2-1\"}",
               "salesforce_object", "invalid_name");
    expect_one("{\"name\":\"P\",\"salesforce_object\":\"1Project\",\"hubspot_object\":\"2-1\"}",
               "salesforce_object", "invalid_name");
    expect_one("{\"name\":\"P\",\"salesforce_object\":\"A\",\"hubspot_object\":\"2/1\"}",
               "hubspot_object", "invalid_name");
    expect_one(MINIMAL ",\"fields\":[{\"salesforce\":\"Name\",\"hubspot\":\"name!\"}]}",
               "fields[0].hubspot", "invalid_name");
    expect_one(MINIMAL ",\"fields\":[{\"salesforce\":\"Name,Id FROM User\",\"hubspot\":\"n\"}]}",
               "fields[0].salesforce", "invalid_name");
    /* Salesforce names follow crm/soql's rule: "__" only after a namespace or before a suffix */
    expect_one(MINIMAL ",\"fields\":[{\"salesforce\":\"Budget___c\",\"hubspot\":\"n\"}]}",
               "fields[0].salesforce", "invalid_name");
    expect_one(MINIMAL ",\"fields\":[{\"salesforce\":\"Budget_\",\"hubspot\":\"n\"}]}",
               "fields[0].salesforce", "invalid_name");
    expect_one(MINIMAL ",\"associations\":[{\"salesforce_field\":\"A__c2\",\"hubspot_object\":"
                       "\"0-2\"}]}",
               "associations[0].salesforce_field", "invalid_name");
    mapping_free(parse_ok(MINIMAL
                          ",\"fields\":[{\"salesforce\":\"ns__Budget__c\",\"hubspot\":"
                          "\"n\"},{\"salesforce\":\"Loc__Latitude__s\",\"hubspot\":\"l\"}]}"));
    expect_one(MINIMAL ",\"associations\":[{\"salesforce_field\":\"A__c\",\"hubspot_object\":"
                       "\"0-2\",\"resolver\":{\"hubspot_property\":\"a b\"}}]}",
               "associations[0].resolver.hubspot_property", "invalid_name");
    /* names in the document the mapping's own "name" may hold anything printable */
    mapping_free(parse_ok("{\"name\":\"Projekter (Ærlig talt!)\",\"salesforce_object\":\"A\","
                          "\"hubspot_object\":\"p62515_project\"}"));
}

static void test_unknown_members(void **state)
{
    (void)state;
    expect_one(MINIMAL ",\"conflict_winner\":\"hubspot\"}", "conflict_winner", "unknown_member");
    expect_one(MINIMAL ",\"rules\":{\"conflict_winer\":\"hubspot\"}}", "rules.conflict_winer",
               "unknown_member");
    expect_one(MINIMAL ",\"rules\":{\"salesforce_to_hubspot\":{\"archive\":true}}}",
               "rules.salesforce_to_hubspot.archive", "unknown_member");
    expect_one(MINIMAL ",\"identity\":{\"hubspot\":\"salesforce_id\"}}", "identity.hubspot",
               "unknown_member");
    expect_one(MINIMAL ",\"fields\":[{\"salesforce\":\"Name\",\"hubspot\":\"name\","
                       "\"valuemap\":{}}]}",
               "fields[0].valuemap", "unknown_member");
    expect_one(MINIMAL ",\"associations\":[{\"salesforce_field\":\"A__c\",\"hubspot_object\":"
                       "\"0-2\",\"label\":\"x\"}]}",
               "associations[0].label", "unknown_member");
    expect_one(MINIMAL ",\"associations\":[{\"salesforce_field\":\"A__c\",\"hubspot_object\":"
                       "\"0-2\",\"resolver\":{\"mapping_id\":3,\"x\":1}}]}",
               "associations[0].resolver.x", "unknown_member");
}

static void test_resolver_needs_exactly_one(void **state)
{
    (void)state;
    expect_one(MINIMAL ",\"associations\":[{\"salesforce_field\":\"A__c\",\"hubspot_object\":"
                       "\"0-2\",\"resolver\":{}}]}",
               "associations[0].resolver", "invalid_value");
    expect_one(MINIMAL ",\"associations\":[{\"salesforce_field\":\"A__c\",\"hubspot_object\":"
                       "\"0-2\",\"resolver\":{\"mapping_id\":3,\"hubspot_property\":\"x\"}}]}",
               "associations[0].resolver", "invalid_value");
}

static void test_too_many(void **state)
{
    size_t cap = 64 + (MAPPING_MAX_FIELDS + 1) * 48;
    char *doc = malloc(cap);
    size_t n;

    (void)state;
    assert_non_null(doc);
    /* exactly the limit parses */
    n = (size_t)snprintf(doc, cap, MINIMAL ",\"fields\":[");
    for (int i = 0; i < MAPPING_MAX_FIELDS; i++)
        n += (size_t)snprintf(doc + n, cap - n, "%s{\"salesforce\":\"F%d__c\",\"hubspot\":\"f%d\"}",
                              i > 0 ? "," : "", i, i);
    snprintf(doc + n, cap - n, "]}");
    mapping_free(parse_ok(doc));
    /* one more does not */
    snprintf(doc + n, cap - n, ",{\"salesforce\":\"X__c\",\"hubspot\":\"x\"}]}");
    expect_one(doc, "fields", "too_many");

    n = (size_t)snprintf(doc, cap, MINIMAL ",\"associations\":[");
    for (int i = 0; i <= MAPPING_MAX_ASSOCIATIONS; i++)
        n += (size_t)snprintf(doc + n, cap - n,
                              "%s{\"salesforce_field\":\"L%d__c\",\"hubspot_object\":\"0-2\"}",
                              i > 0 ? "," : "", i);
    snprintf(doc + n, cap - n, "]}");
    expect_one(doc, "associations", "too_many");
    free(doc);
}

static void test_every_problem_at_once(void **state)
{
    struct problem_list pl = parse_bad(
        "{\"name\":\"\",\"state\":\"running\",\"salesforce_object\":\"Project__c\","
        "\"hubspot_object\":7,\"rules\":{\"conflict_winner\":\"newest\"},\"colour\":1,"
        "\"fields\":[{\"salesforce\":\"Name\",\"hubspot\":\"name\",\"rule\":\"often\"},"
        "{\"salesforce\":\"A b\"}],"
        "\"associations\":[{\"salesforce_field\":\"Account__c\",\"hubspot_object\":\"0-2\","
        "\"resolver\":{}}]}");

    (void)state;
    assert_non_null(problem_list_find(&pl, "unknown_member", "colour"));
    assert_non_null(problem_list_find(&pl, "empty", "name"));
    assert_non_null(problem_list_find(&pl, "invalid_value", "state"));
    assert_non_null(problem_list_find(&pl, "wrong_type", "hubspot_object"));
    assert_non_null(problem_list_find(&pl, "invalid_value", "rules.conflict_winner"));
    assert_non_null(problem_list_find(&pl, "invalid_value", "fields[0].rule"));
    assert_non_null(problem_list_find(&pl, "invalid_name", "fields[1].salesforce"));
    assert_non_null(problem_list_find(&pl, "missing", "fields[1].hubspot"));
    assert_non_null(problem_list_find(&pl, "invalid_value", "associations[0].resolver"));
    assert_int_equal(pl.count, 9);
    problem_list_free(&pl);
}

static void test_invalid_json_text(void **state)
{
    char deep[64];

    (void)state;
    expect_one("{\"name\":", "", "invalid_json");
    expect_one(MINIMAL "} x", "", "invalid_json");
    expect_one(MINIMAL ",}", "", "invalid_json");
    expect_one("", "", "invalid_json");
    memset(deep, '[', 20);
    memset(deep + 20, ']', 20);
    deep[40] = '\0';
    expect_one(deep, "", "invalid_json");    /* deeper than MAPPING_PARSE_MAX_DEPTH */
    mapping_free(parse_ok(MINIMAL "}\n  ")); /* trailing whitespace is fine */
}

/* ---- problem list ---- */

static void test_problem_list(void **state)
{
    struct problem_list pl;
    json_object *arr;
    char long_msg[2000];

    (void)state;
    problem_list_init(&pl);
    assert_false(problem_list_has_errors(&pl));
    assert_int_equal(problem_list_add(&pl, PROBLEM_WARNING, "fields[2].hubspot",
                                      "text_may_truncate", "cut at %d", 65536),
                     0);
    assert_false(problem_list_has_errors(&pl));
    assert_int_equal(problem_list_add(&pl, PROBLEM_ERROR, NULL, "x", "say \"%s\"", "hi"), 0);
    assert_true(problem_list_has_errors(&pl));
    assert_int_equal(problem_list_count(&pl, PROBLEM_WARNING), 1);
    assert_int_equal(problem_list_count(&pl, PROBLEM_ERROR), 1);
    assert_int_equal(problem_list_add(&pl, PROBLEM_ERROR, "p", NULL, "no code"), -1);
    memset(long_msg, 'm', sizeof(long_msg) - 1);
    long_msg[sizeof(long_msg) - 1] = '\0';
    for (int i = 0; i < 20; i++) /* grows past the first allocation */
        assert_int_equal(problem_list_add(&pl, PROBLEM_ERROR, "p", "y", "%s", long_msg), 0);
    assert_int_equal(pl.count, 22);
    assert_int_equal(strlen(pl.items[5].message), PROBLEM_MESSAGE_MAX - 1);
    assert_null(problem_list_find(&pl, "x", "fields"));
    assert_non_null(problem_list_find(&pl, "x", ""));
    assert_non_null(problem_list_find(&pl, "x", NULL));

    pl.count = 2;
    arr = problem_list_to_json(&pl);
    assert_string_equal(
        json_object_to_json_string_ext(arr, JSON_C_TO_STRING_PLAIN),
        "[{\"path\":\"fields[2].hubspot\",\"code\":\"text_may_truncate\",\"severity\":\"warning\","
        "\"message\":\"cut at 65536\"},{\"path\":\"\",\"code\":\"x\",\"severity\":\"error\","
        "\"message\":\"say \\\"hi\\\"\"}]");
    json_object_put(arr);
    problem_list_free(&pl);
    assert_int_equal(pl.count, 0);
    problem_list_free(NULL);
    assert_false(problem_list_has_errors(NULL));
    arr = problem_list_to_json(NULL);
    assert_string_equal(json_object_to_json_string_ext(arr, JSON_C_TO_STRING_PLAIN), "[]");
    json_object_put(arr);
}

static void test_path_key_escapes(void **state)
{
    char out[64];
    char tiny[12];

    (void)state;
    mapping_path_key(out, sizeof(out), "fields[1].value_map", "a\"b\\c");
    assert_string_equal(out, "fields[1].value_map[\"a\\\"b\\\\c\"]");
    mapping_path_key(tiny, sizeof(tiny), "f", "0123456789");
    assert_string_equal(tiny, "f[\"01234\"]"); /* the key is cut, the brackets kept */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_minimal_defaults),
        cmocka_unit_test(test_partial_rules_default),
        cmocka_unit_test(test_full_document),
        cmocka_unit_test(test_minimal_serialised_exactly),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_equal_detects_differences),
        cmocka_unit_test(test_field_directions),
        cmocka_unit_test(test_name_tables),
        cmocka_unit_test(test_not_object),
        cmocka_unit_test(test_missing_required),
        cmocka_unit_test(test_wrong_types),
        cmocka_unit_test(test_bad_enum_values),
        cmocka_unit_test(test_bad_numbers),
        cmocka_unit_test(test_empty_and_long),
        cmocka_unit_test(test_invalid_names),
        cmocka_unit_test(test_unknown_members),
        cmocka_unit_test(test_resolver_needs_exactly_one),
        cmocka_unit_test(test_too_many),
        cmocka_unit_test(test_every_problem_at_once),
        cmocka_unit_test(test_invalid_json_text),
        cmocka_unit_test(test_problem_list),
        cmocka_unit_test(test_path_key_escapes),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
