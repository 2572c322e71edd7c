/* test_mapping_validate.c: unit tests for sync/mapping_validate against the schema fixtures.
 *
 * A clean Project__c <-> 2-3465404 mapping produces no problem at all; every other test changes
 * that mapping (or a copy of a fixture schema, or the account context) in one place and asserts
 * the exact problems, codes, paths and severities that follow, so each validation code is shown
 * to fire on its own. Needs SYNKRO_SOURCE_DIR (set by ctest) or runs from the repository root. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/mapping_validate.h"

/* Field indices of the clean mapping. */
enum {
    F_NAME = 0,
    F_DESCRIPTION,
    F_EMAIL,
    F_PHONE,
    F_WEBSITE,
    F_STATUS,
    F_REGIONS,
    F_PRIORITY,
    F_BILLABLE,
    F_SEATS,
    F_HOURS,
    F_BUDGET,
    F_COMPLETION,
    F_START,
    F_KICKOFF,
    F_CODE,
    F_NOTES,
    F_COUNT
};

static const char clean_doc[] =
    "{\"id\":7,\"version\":2,\"name\":\"Projects\",\"state\":\"draft\","
    "\"salesforce_object\":\"Project__c\",\"hubspot_object\":\"2-3465404\","
    "\"rules\":{\"salesforce_to_hubspot\":{\"create\":true,\"update\":true,\"delete\":\"none\"},"
    "\"hubspot_to_salesforce\":{\"create\":false,\"update\":true,\"delete\":\"none\"},"
    "\"conflict_winner\":\"salesforce\"},"
    "\"identity\":{\"hubspot_property\":\"salesforce_id\",\"salesforce_field\":\"HubSpot_Id__c\"},"
    "\"fields\":["
    "{\"salesforce\":\"Name\",\"hubspot\":\"name\",\"rule\":\"always_salesforce\"},"
    "{\"salesforce\":\"Description__c\",\"hubspot\":\"description\",\"rule\":\"always_salesforce\"}"
    ","
    "{\"salesforce\":\"Contact_Email__c\",\"hubspot\":\"contact_email\","
    "\"rule\":\"always_salesforce\"},"
    "{\"salesforce\":\"Phone__c\",\"hubspot\":\"phone\",\"rule\":\"always_salesforce\"},"
    "{\"salesforce\":\"Website__c\",\"hubspot\":\"website\",\"rule\":\"always_salesforce\"},"
    "{\"salesforce\":\"Status__c\",\"hubspot\":\"project_status\",\"rule\":\"two_way\","
    "\"value_map\":{\"Planned\":\"planned\",\"In Progress\":\"in_progress\","
    "\"On Hold\":\"on_hold\",\"Completed\":\"completed\"}},"
    "{\"salesforce\":\"Regions__c\",\"hubspot\":\"regions\",\"rule\":\"two_way\"},"
    "{\"salesforce\":\"Priority__c\",\"hubspot\":\"priority\",\"rule\":\"two_way\"},"
    "{\"salesforce\":\"Is_Billable__c\",\"hubspot\":\"is_billable\",\"rule\":\"two_way\"},"
    "{\"salesforce\":\"Seats__c\",\"hubspot\":\"seats\",\"rule\":\"two_way\"},"
    "{\"salesforce\":\"Hours_Estimate__c\",\"hubspot\":\"hours_estimate\",\"rule\":\"two_way\"},"
    "{\"salesforce\":\"Budget__c\",\"hubspot\":\"budget\",\"rule\":\"two_way\"},"
    "{\"salesforce\":\"Completion__c\",\"hubspot\":\"completion\",\"rule\":\"two_way\"},"
    "{\"salesforce\":\"Start_Date__c\",\"hubspot\":\"start_date\",\"rule\":\"two_way\"},"
    "{\"salesforce\":\"Kickoff__c\",\"hubspot\":\"kickoff\",\"rule\":\"two_way\"},"
    "{\"salesforce\":\"Code__c\",\"hubspot\":\"project_code\",\"rule\":\"always_salesforce\"},"
    "{\"salesforce\":\"Notes__c\",\"hubspot\":\"notes\",\"rule\":\"always_hubspot\"}],"
    "\"associations\":["
    "{\"salesforce_field\":\"Account__c\",\"hubspot_object\":\"0-2\","
    "\"association_type_id\":279,\"enabled\":true,\"resolver\":{\"mapping_id\":3}},"
    "{\"salesforce_field\":\"Contact__c\",\"hubspot_object\":\"0-1\","
    "\"association_type_id\":null,\"enabled\":true,\"resolver\":null}]}";

/* The account: Accounts (3) and Contacts (4) are synced by synkro; 7 is the mapping itself. */
static const struct mapping_summary account_mappings[] = {
    {3, "Accounts", "Account", "0-2"},
    {4, "Contacts", "Contact", "0-1"},
    {7, "Projects", "Project__c", "2-3465404"},
};

struct fixtures {
    json_object *sf_json, *hs_json, *co_json;
    struct sf_object *sf;
    struct hs_object *hs, *companies;
    const struct hs_object *targets[1];
    struct mapping_context ctx;
};

static struct fixtures fx;

static json_object *load_fixture(const char *name)
{
    const char *dir = getenv("SYNKRO_SOURCE_DIR");
    char path[1024];

    snprintf(path, sizeof(path), "%s/tests/fixtures/schemas/%s", dir != NULL ? dir : ".", name);
    return json_object_from_file(path);
}

static int setup(void **state)
{
    (void)state;
    fx.sf_json = load_fixture("salesforce_project_describe.json");
    fx.hs_json = load_fixture("hubspot_project_schema.json");
    fx.co_json = load_fixture("hubspot_companies_schema.json");
    fx.sf = sf_object_from_describe(fx.sf_json, NULL, 0);
    fx.hs = hs_object_from_schema(fx.hs_json, NULL, 0);
    fx.companies = hs_object_from_schema(fx.co_json, NULL, 0);
    if (fx.sf == NULL || fx.hs == NULL || fx.companies == NULL)
        return -1;
    fx.targets[0] = fx.companies;
    fx.ctx.mappings = account_mappings;
    fx.ctx.n_mappings = sizeof(account_mappings) / sizeof(account_mappings[0]);
    fx.ctx.limit = 10;
    fx.ctx.count = 3;
    fx.ctx.hubspot_targets = fx.targets;
    fx.ctx.n_hubspot_targets = 1;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    sf_object_free(fx.sf);
    hs_object_free(fx.hs);
    hs_object_free(fx.companies);
    json_object_put(fx.sf_json);
    json_object_put(fx.hs_json);
    json_object_put(fx.co_json);
    return 0;
}

/* ---- document edits ---- */

static json_object *clean(void)
{
    json_object *doc = json_tokener_parse(clean_doc);

    assert_non_null(doc);
    return doc;
}

static json_object *at(json_object *obj, const char *key)
{
    json_object *v = NULL;

    assert_true(json_object_object_get_ex(obj, key, &v));
    return v;
}

static json_object *field(json_object *doc, size_t i)
{
    json_object *f = json_object_array_get_idx(at(doc, "fields"), i);

    assert_non_null(f);
    return f;
}

static json_object *assoc(json_object *doc, size_t i)
{
    json_object *a = json_object_array_get_idx(at(doc, "associations"), i);

    assert_non_null(a);
    return a;
}

static void set_str(json_object *obj, const char *key, const char *value)
{
    json_object_object_add(obj, key, value != NULL ? json_object_new_string(value) : NULL);
}

static void set_bool(json_object *obj, const char *key, bool value)
{
    json_object_object_add(obj, key, json_object_new_boolean(value));
}

static void set_json(json_object *obj, const char *key, const char *text)
{
    json_object *v = json_tokener_parse(text);

    assert_non_null(v);
    json_object_object_add(obj, key, v);
}

static void add_json(json_object *doc, const char *key, const char *text)
{
    json_object *v = json_tokener_parse(text);

    assert_non_null(v);
    json_object_array_add(at(doc, key), v);
}

static void add_field(json_object *doc, const char *sf, const char *hs, const char *rule)
{
    char text[512];

    snprintf(text, sizeof(text), "{\"salesforce\":\"%s\",\"hubspot\":\"%s\",\"rule\":\"%s\"}", sf,
             hs, rule);
    add_json(doc, "fields", text);
}

/* ---- schema variants: a copy of a fixture with one member changed ---- */

static json_object *find_named(json_object *arr, const char *name)
{
    for (size_t i = 0; i < json_object_array_length(arr); i++) {
        json_object *e = json_object_array_get_idx(arr, i);

        if (strcmp(json_object_get_string(at(e, "name")), name) == 0)
            return e;
    }
    fail_msg("no element named %s", name);
    return NULL;
}

static json_object *copy(json_object *src)
{
    json_object *dst = NULL;

    assert_int_equal(json_object_deep_copy(src, &dst, NULL), 0);
    return dst;
}

static struct sf_object *sf_variant(const char *field_name, const char *key, json_object *value)
{
    json_object *doc = copy(fx.sf_json);
    struct sf_object *sf;

    json_object_object_add(find_named(at(doc, "fields"), field_name), key, value);
    sf = sf_object_from_describe(doc, NULL, 0);
    assert_non_null(sf);
    json_object_put(doc);
    return sf;
}

static struct hs_object *hs_variant(const char *prop, const char *key, json_object *value)
{
    json_object *doc = copy(fx.hs_json);
    struct hs_object *hs;

    json_object_object_add(find_named(at(doc, "properties"), prop), key, value);
    hs = hs_object_from_schema(doc, NULL, 0);
    assert_non_null(hs);
    json_object_put(doc);
    return hs;
}

/* ---- running ---- */

static void dump(const struct problem_list *pl)
{
    for (size_t i = 0; i < pl->count; i++)
        fprintf(stderr, "  [%zu] %s path=%s code=%s: %s\n", i,
                problem_severity_name(pl->items[i].severity), pl->items[i].path, pl->items[i].code,
                pl->items[i].message);
}

/* Parses doc (consumed), validates it with the given schemas/context into pl. */
static void run_with(json_object *doc, const struct sf_object *sf, const struct hs_object *hs,
                     const struct mapping_context *ctx, struct problem_list *pl)
{
    struct problem_list parse_pl = PROBLEM_LIST_INIT;
    struct mapping *m = NULL;

    problem_list_init(pl);
    if (mapping_parse(doc, &m, &parse_pl) != MAPPING_PARSE_OK) {
        dump(&parse_pl);
        fail_msg("the test document does not parse");
    }
    json_object_put(doc);
    assert_int_equal(mapping_validate(m, sf, hs, ctx, pl), 0);
    mapping_free(m);
    problem_list_free(&parse_pl);
}

static void run(json_object *doc, struct problem_list *pl)
{
    run_with(doc, fx.sf, fx.hs, &fx.ctx, pl);
}

/* Asserts the list holds exactly these problems (in any order): n triples of
 * severity ('E'/'W'), path, code. Frees the list. */
static void expect(struct problem_list *pl, size_t n, ...)
{
    va_list ap;
    bool ok = pl->count == n;

    va_start(ap, n);
    for (size_t i = 0; i < n; i++) {
        int sev = va_arg(ap, int);
        const char *path = va_arg(ap, const char *);
        const char *code = va_arg(ap, const char *);
        bool found = false;

        for (size_t j = 0; j < pl->count && !found; j++) {
            const struct problem *p = &pl->items[j];

            found = strcmp(p->path, path) == 0 && strcmp(p->code, code) == 0 &&
                    p->severity == (sev == 'W' ? PROBLEM_WARNING : PROBLEM_ERROR) &&
                    strlen(p->message) > 20;
        }
        if (!found) {
            fprintf(stderr, "missing: %c %s %s\n", sev, path, code);
            ok = false;
        }
    }
    va_end(ap);
    if (!ok) {
        dump(pl);
        fail_msg("want exactly %zu problem(s), got %zu", n, pl->count);
    }
    problem_list_free(pl);
}

static void run_expect_one(json_object *doc, int sev, const char *path, const char *code)
{
    struct problem_list pl;

    run(doc, &pl);
    assert_int_equal(problem_list_has_errors(&pl), sev == 'E');
    expect(&pl, 1, sev, path, code);
}

/* ---- the clean mapping ---- */

static void test_clean_mapping_has_no_problems(void **state)
{
    struct problem_list pl;

    (void)state;
    run(clean(), &pl);
    assert_false(problem_list_has_errors(&pl));
    expect(&pl, 0);
}

static void test_dont_sync_skips_direction_checks(void **state)
{
    json_object *doc = clean();
    struct problem_list pl;

    (void)state;
    /* a formula field and a calculated property: fine while the rule writes nothing */
    add_field(doc, "Days_Open__c", "days_open", "dont_sync");
    run(doc, &pl);
    expect(&pl, 0);
}

/* ---- the object pair and the account ---- */

static void test_hubspot_object_not_found(void **state)
{
    struct problem_list pl;
    json_object *doc = clean();

    (void)state;
    run_with(clean(), fx.sf, NULL, &fx.ctx, &pl);
    expect(&pl, 1, 'E', "hubspot_object", "hubspot_object_not_found");
    /* a schema of another object counts as not found */
    set_str(doc, "hubspot_object", "2-999");
    run(doc, &pl);
    expect(&pl, 1, 'E', "hubspot_object", "hubspot_object_not_found");
}

static void test_salesforce_object_not_found(void **state)
{
    struct problem_list pl;

    (void)state;
    run_with(clean(), NULL, fx.hs, &fx.ctx, &pl);
    expect(&pl, 1, 'E', "salesforce_object", "salesforce_object_not_found");
}

static void test_fully_qualified_name_accepted(void **state)
{
    json_object *doc = clean();
    struct problem_list pl;

    (void)state;
    set_str(doc, "hubspot_object", "p62515_project");
    run(doc, &pl);
    expect(&pl, 0);
}

static void test_duplicate_mapping(void **state)
{
    static const struct mapping_summary same_sf[] = {{9, "Old projects", "project__c", "2-99"}};
    static const struct mapping_summary same_hs[] = {{10, NULL, "Other__c", "p62515_project"}};
    struct mapping_context ctx = fx.ctx;
    struct problem_list pl;

    (void)state;
    ctx.mappings = same_sf;
    ctx.n_mappings = 1;
    ctx.count = 1;
    ctx.hubspot_targets = NULL;
    ctx.n_hubspot_targets = 0;
    /* without the account's other mappings the associations cannot resolve: drop them */
    {
        json_object *doc = clean();

        json_object_object_add(doc, "associations", json_object_new_array());
        run_with(doc, fx.sf, fx.hs, &ctx, &pl);
        expect(&pl, 1, 'E', "salesforce_object", "duplicate_mapping");
    }
    ctx.mappings = same_hs;
    {
        json_object *doc = clean();

        json_object_object_add(doc, "associations", json_object_new_array());
        run_with(doc, fx.sf, fx.hs, &ctx, &pl);
        expect(&pl, 1, 'E', "hubspot_object", "duplicate_mapping");
    }
}

static void test_mapping_limit_reached(void **state)
{
    struct mapping_context ctx = fx.ctx;
    struct problem_list pl;
    json_object *doc = clean();

    (void)state;
    ctx.count = 10;
    ctx.n_mappings = 2; /* a new mapping is not among the stored ones */
    json_object_object_del(doc, "id");
    run_with(doc, fx.sf, fx.hs, &ctx, &pl);
    expect(&pl, 1, 'E', "", "mapping_limit_reached");

    /* a stored mapping is already counted */
    run_with(clean(), fx.sf, fx.hs, &ctx, &pl);
    expect(&pl, 0);

    /* a new one below the limit; 0 means the default of 10 */
    ctx.count = 9;
    ctx.limit = 0;
    doc = clean();
    json_object_object_del(doc, "id");
    run_with(doc, fx.sf, fx.hs, &ctx, &pl);
    expect(&pl, 0);
    ctx.count = MAPPING_DEFAULT_LIMIT;
    doc = clean();
    json_object_object_del(doc, "id");
    run_with(doc, fx.sf, fx.hs, &ctx, &pl);
    expect(&pl, 1, 'E', "", "mapping_limit_reached");
}

/* ---- fields ---- */

static void test_salesforce_field_not_found(void **state)
{
    json_object *doc = clean();

    (void)state;
    set_str(field(doc, F_DESCRIPTION), "salesforce", "Descripton__c");
    run_expect_one(doc, 'E', "fields[1].salesforce", "salesforce_field_not_found");
}

static void test_hubspot_property_not_found(void **state)
{
    json_object *doc = clean();

    (void)state;
    set_str(field(doc, F_DESCRIPTION), "hubspot", "descr");
    run_expect_one(doc, 'E', "fields[1].hubspot", "hubspot_property_not_found");
}

static void test_salesforce_field_lookup_ignores_case(void **state)
{
    json_object *doc = clean();
    struct problem_list pl;

    (void)state;
    set_str(field(doc, F_DESCRIPTION), "salesforce", "DESCRIPTION__C");
    run(doc, &pl);
    expect(&pl, 0);
}

static void test_duplicate_salesforce_field(void **state)
{
    json_object *doc = clean();

    (void)state;
    set_str(field(doc, F_CODE), "salesforce", "name");
    run_expect_one(doc, 'E', "fields[15].salesforce", "duplicate_salesforce_field");
}

static void test_duplicate_hubspot_property(void **state)
{
    json_object *doc = clean();

    (void)state;
    set_str(field(doc, F_CODE), "hubspot", "description");
    run_expect_one(doc, 'E', "fields[15].hubspot", "duplicate_hubspot_property");
}

static void test_lookup_as_field(void **state)
{
    json_object *doc = clean();

    (void)state;
    add_field(doc, "Account__c", "budget_tier", "two_way");
    run_expect_one(doc, 'E', "fields[17].salesforce", "lookup_as_field");
}

static void test_formula_field_written_from_hubspot(void **state)
{
    json_object *doc = clean();

    (void)state;
    /* always_hubspot: HubSpot writes into the formula Days_Open__c */
    add_field(doc, "Days_Open__c", "days_open", "always_hubspot");
    run_expect_one(doc, 'E', "fields[17].salesforce", "salesforce_field_not_updateable");
}

static void test_formula_both_ways(void **state)
{
    json_object *doc = clean();
    struct problem_list pl;

    (void)state;
    add_field(doc, "Days_Open__c", "days_open", "two_way");
    run(doc, &pl);
    expect(&pl, 2, 'E', "fields[17].salesforce", "salesforce_field_not_updateable", 'E',
           "fields[17].hubspot", "hubspot_property_read_only");
}

static void test_salesforce_field_not_createable(void **state)
{
    json_object *doc = clean();
    struct sf_object *sf = sf_variant("Notes__c", "createable", json_object_new_boolean(false));
    struct sf_object *sf2;
    json_object *sf_doc = copy(fx.sf_json);
    struct problem_list pl;

    (void)state;
    /* an auto-number Name (not createable, defaulted) so that creates need only Notes__c */
    json_object *name = find_named(at(sf_doc, "fields"), "Name");
    set_bool(name, "createable", false);
    set_bool(name, "updateable", false);
    set_bool(name, "defaultedOnCreate", true);
    set_bool(find_named(at(sf_doc, "fields"), "Notes__c"), "createable", false);
    sf2 = sf_object_from_describe(sf_doc, NULL, 0);
    assert_non_null(sf2);
    set_bool(at(at(doc, "rules"), "hubspot_to_salesforce"), "create", true);
    run_with(doc, sf2, fx.hs, &fx.ctx, &pl);
    assert_int_equal(pl.count, 1);
    assert_non_null(strstr(pl.items[0].message, "set on new records"));
    expect(&pl, 1, 'E', "fields[16].salesforce", "salesforce_field_not_updateable");

    /* with creates from HubSpot off the same field is fine */
    run_with(clean(), sf, fx.hs, &fx.ctx, &pl);
    expect(&pl, 0);
    sf_object_free(sf);
    sf_object_free(sf2);
    json_object_put(sf_doc);
}

static void test_hubspot_property_read_only(void **state)
{
    json_object *doc = clean();
    struct problem_list pl;

    (void)state;
    add_field(doc, "Days_Open__c", "days_open", "always_salesforce");    /* calculated */
    add_field(doc, "CreatedDate", "hs_createdate", "always_salesforce"); /* read-only value */
    run(doc, &pl);
    expect(&pl, 2, 'E', "fields[17].hubspot", "hubspot_property_read_only", 'E',
           "fields[18].hubspot", "hubspot_property_read_only");
}

static void test_type_incompatible(void **state)
{
    json_object *doc = clean();
    struct problem_list pl;

    (void)state;
    set_str(field(doc, F_BUDGET), "hubspot", "budget_tier"); /* currency -> dropdown */
    run(doc, &pl);
    assert_non_null(strstr(pl.items[0].message, "a number property"));
    expect(&pl, 1, 'E', "fields[11].hubspot", "type_incompatible");

    doc = clean();
    set_str(field(doc, F_START), "hubspot", "kickoff"); /* date -> datetime */
    set_str(field(doc, F_KICKOFF), "hubspot", "start_date");
    run(doc, &pl);
    expect(&pl, 2, 'E', "fields[13].hubspot", "type_incompatible", 'E', "fields[14].hubspot",
           "type_incompatible");

    doc = clean();
    set_str(field(doc, F_BILLABLE), "hubspot", "seats"); /* boolean -> number */
    set_str(field(doc, F_SEATS), "hubspot", "is_billable");
    run(doc, &pl);
    expect(&pl, 2, 'E', "fields[8].hubspot", "type_incompatible", 'E', "fields[9].hubspot",
           "type_incompatible");

    doc = clean();
    set_str(field(doc, F_REGIONS), "hubspot", "priority"); /* multi-picklist -> radio */
    set_str(field(doc, F_PRIORITY), "hubspot", "regions"); /* picklist -> checkboxes */
    run(doc, &pl);
    expect(&pl, 2, 'E', "fields[6].hubspot", "type_incompatible", 'E', "fields[7].hubspot",
           "type_incompatible");
}

static void test_restricted_picklist_from_free_text(void **state)
{
    json_object *doc = clean();
    struct problem_list pl;

    (void)state;
    /* Status__c (restricted) two-way with a text property: HubSpot text may hold anything */
    set_str(field(doc, F_CODE), "salesforce", "Status__c");
    set_str(field(doc, F_CODE), "rule", "two_way");
    json_object_array_del_idx(at(doc, "fields"), F_STATUS, 1);
    run_expect_one(doc, 'E', "fields[14].hubspot", "type_incompatible");

    /* one way from Salesforce is fine */
    doc = clean();
    set_str(field(doc, F_CODE), "salesforce", "Status__c");
    json_object_array_del_idx(at(doc, "fields"), F_STATUS, 1);
    run(doc, &pl);
    expect(&pl, 0);
}

static void test_unrestricted_picklist_to_free_text_is_fine(void **state)
{
    json_object *doc = clean();
    struct problem_list pl;

    (void)state;
    set_json(doc, "fields",
             "[{\"salesforce\":\"Name\",\"hubspot\":\"name\",\"rule\":\"always_salesforce\"},"
             "{\"salesforce\":\"Priority__c\",\"hubspot\":\"project_code\",\"rule\":\"two_way\"}]");
    run(doc, &pl);
    expect(&pl, 0);
}

static void test_value_map_unknown_salesforce_value(void **state)
{
    json_object *doc = clean();

    (void)state;
    set_str(at(field(doc, F_STATUS), "value_map"), "Done", "completed");
    run_expect_one(doc, 'E', "fields[5].value_map[\"Done\"]", "value_map_unknown_salesforce_value");
}

static void test_value_map_unknown_hubspot_option(void **state)
{
    json_object *doc = clean();

    (void)state;
    set_json(field(doc, F_PRIORITY), "value_map", "{\"High\":\"urgent\"}");
    run_expect_one(doc, 'E', "fields[7].value_map[\"High\"]", "value_map_unknown_hubspot_option");
}

static void test_value_map_not_applicable(void **state)
{
    json_object *doc = clean();

    (void)state;
    set_json(field(doc, F_BUDGET), "value_map", "{\"1\":\"2\"}");
    run_expect_one(doc, 'E', "fields[11].value_map", "value_map_not_applicable");
}

static void test_option_unmapped_salesforce_value(void **state)
{
    json_object *doc = clean();

    (void)state;
    /* "On Hold" is active in Salesforce; HubSpot has only "on_hold" and nothing maps it */
    json_object_object_del(at(field(doc, F_STATUS), "value_map"), "On Hold");
    set_str(field(doc, F_STATUS), "rule", "always_salesforce");
    run_expect_one(doc, 'E', "fields[5].value_map", "option_unmapped");
}

static void test_option_unmapped_hubspot_option_restricted(void **state)
{
    json_object *doc = clean();
    struct problem_list pl;

    (void)state;
    json_object_object_del(at(field(doc, F_STATUS), "value_map"), "On Hold");
    set_str(field(doc, F_STATUS), "rule", "always_hubspot");
    run_expect_one(doc, 'E', "fields[5].value_map", "option_unmapped");

    /* both ways: both directions are reported */
    doc = clean();
    json_object_object_del(at(field(doc, F_STATUS), "value_map"), "On Hold");
    run(doc, &pl);
    expect(&pl, 2, 'E', "fields[5].value_map", "option_unmapped", 'E', "fields[5].value_map",
           "option_unmapped");

    /* an inactive value cannot take a HubSpot option in a restricted picklist */
    doc = clean();
    set_str(at(field(doc, F_STATUS), "value_map"), "On Hold", "on_hold");
    set_str(at(field(doc, F_STATUS), "value_map"), "Cancelled", "on_hold");
    json_object_object_del(at(field(doc, F_STATUS), "value_map"), "On Hold");
    set_str(field(doc, F_STATUS), "rule", "always_hubspot");
    run_expect_one(doc, 'E', "fields[5].value_map", "option_unmapped");
}

static void test_option_unmapped_unrestricted_is_warning(void **state)
{
    json_object *doc = clean();
    json_object *sf_doc = copy(fx.sf_json);
    json_object *values;
    struct sf_object *sf;
    struct problem_list pl;

    (void)state;
    /* Priority__c without "Low": HubSpot's "Low" has no Salesforce value */
    values = at(find_named(at(sf_doc, "fields"), "Priority__c"), "picklistValues");
    json_object_array_del_idx(values, 2, 1);
    sf = sf_object_from_describe(sf_doc, NULL, 0);
    assert_non_null(sf);
    run_with(doc, sf, fx.hs, &fx.ctx, &pl);
    assert_false(problem_list_has_errors(&pl));
    expect(&pl, 1, 'W', "fields[7].value_map", "option_unmapped");
    sf_object_free(sf);
    json_object_put(sf_doc);
}

static void test_text_may_truncate(void **state)
{
    json_object *doc = clean();

    (void)state;
    /* 131,072-character long text area into HubSpot's 65,536 */
    set_str(field(doc, F_NOTES), "rule", "always_salesforce");
    run_expect_one(doc, 'W', "fields[16].hubspot", "text_may_truncate");

    /* HubSpot text into the 20-character Code__c */
    doc = clean();
    set_str(field(doc, F_CODE), "rule", "prefer_salesforce_unless_blank");
    run_expect_one(doc, 'W', "fields[15].salesforce", "text_may_truncate");
}

static void test_required_property_unmapped(void **state)
{
    json_object *doc = clean();

    (void)state;
    json_object_array_del_idx(at(doc, "fields"), F_NAME, 1);
    run_expect_one(doc, 'E', "fields", "required_property_unmapped");

    doc = clean();
    set_str(field(doc, F_NAME), "rule", "dont_sync");
    run_expect_one(doc, 'E', "fields[0].rule", "required_property_unmapped");
}

static void test_required_property_not_needed_without_creates(void **state)
{
    json_object *doc = clean();
    struct problem_list pl;

    (void)state;
    json_object_array_del_idx(at(doc, "fields"), F_NAME, 1);
    set_bool(at(at(doc, "rules"), "salesforce_to_hubspot"), "create", false);
    run(doc, &pl);
    expect(&pl, 0);
}

static void test_salesforce_required_field_unmapped(void **state)
{
    json_object *doc = clean();
    struct problem_list pl;

    (void)state;
    /* HubSpot creates Salesforce records, but Name (required) is written only from Salesforce */
    set_bool(at(at(doc, "rules"), "hubspot_to_salesforce"), "create", true);
    run_expect_one(doc, 'E', "fields[0].rule", "salesforce_required_field_unmapped");

    doc = clean();
    set_bool(at(at(doc, "rules"), "hubspot_to_salesforce"), "create", true);
    json_object_array_del_idx(at(doc, "fields"), F_NAME, 1);
    run(doc, &pl);
    expect(&pl, 2, 'E', "fields", "salesforce_required_field_unmapped", 'E', "fields",
           "required_property_unmapped");
}

/* ---- identity ---- */

static void test_identity_property_missing(void **state)
{
    json_object *doc = clean();
    struct problem_list pl;

    (void)state;
    set_str(at(doc, "identity"), "hubspot_property", "sf_id");
    set_bool(at(at(doc, "rules"), "salesforce_to_hubspot"), "create", false);
    run_expect_one(doc, 'E', "identity.hubspot_property", "identity_property_missing");

    /* not named at all: and salesforce_id, now an ordinary required property, is unmapped */
    doc = clean();
    set_str(at(doc, "identity"), "hubspot_property", NULL);
    run(doc, &pl);
    expect(&pl, 2, 'E', "identity.hubspot_property", "identity_property_missing", 'E', "fields",
           "required_property_unmapped");
}

static void test_identity_property_not_unique(void **state)
{
    struct hs_object *hs =
        hs_variant("salesforce_id", "hasUniqueValue", json_object_new_boolean(0));
    struct problem_list pl;

    (void)state;
    run_with(clean(), fx.sf, hs, &fx.ctx, &pl);
    expect(&pl, 1, 'E', "identity.hubspot_property", "identity_property_not_unique");
    hs_object_free(hs);
}

static void test_identity_property_wrong_type(void **state)
{
    struct hs_object *hs = hs_variant("salesforce_id", "type", json_object_new_string("number"));
    struct problem_list pl;

    (void)state;
    run_with(clean(), fx.sf, hs, &fx.ctx, &pl);
    expect(&pl, 1, 'E', "identity.hubspot_property", "identity_property_wrong_type");
    hs_object_free(hs);
}

static void test_identity_property_read_only(void **state)
{
    struct hs_object *hs = hs_variant("salesforce_id", "calculated", json_object_new_boolean(1));
    struct problem_list pl;

    (void)state;
    run_with(clean(), fx.sf, hs, &fx.ctx, &pl);
    expect(&pl, 1, 'E', "identity.hubspot_property", "hubspot_property_read_only");
    hs_object_free(hs);
}

static void test_identity_property_mapped(void **state)
{
    json_object *doc = clean();

    (void)state;
    add_field(doc, "Id", "salesforce_id", "always_salesforce");
    run_expect_one(doc, 'E', "fields[17].hubspot", "identity_property_mapped");
}

static void test_identity_field_missing(void **state)
{
    json_object *doc = clean();

    (void)state;
    set_str(at(doc, "identity"), "salesforce_field", NULL);
    run_expect_one(doc, 'E', "identity.salesforce_field", "identity_field_missing");

    doc = clean();
    set_str(at(doc, "identity"), "salesforce_field", "HubSpotId__c");
    run_expect_one(doc, 'E', "identity.salesforce_field", "identity_field_missing");
}

static void test_identity_field_not_needed_one_way(void **state)
{
    json_object *doc = clean();
    struct problem_list pl;

    (void)state;
    /* nothing is written to Salesforce at all */
    set_str(at(doc, "identity"), "salesforce_field", NULL);
    set_bool(at(at(doc, "rules"), "hubspot_to_salesforce"), "update", false);
    run(doc, &pl);
    expect(&pl, 0);
}

static void test_identity_property_not_needed_one_way(void **state)
{
    json_object *doc = clean();
    struct problem_list pl;

    (void)state;
    /* nothing is written to HubSpot at all */
    set_str(at(doc, "identity"), "hubspot_property", NULL);
    set_json(at(doc, "rules"), "salesforce_to_hubspot",
             "{\"create\":false,\"update\":false,\"delete\":\"none\"}");
    run(doc, &pl);
    expect(&pl, 0);
}

static void test_record_rules_limit_field_directions(void **state)
{
    json_object *doc = clean();
    struct problem_list pl;

    (void)state;
    /* two_way into a formula field and a calculated property, but HubSpot never writes to
     * Salesforce: only the Salesforce -> HubSpot half is a problem */
    add_field(doc, "Days_Open__c", "days_open", "two_way");
    set_json(at(doc, "rules"), "hubspot_to_salesforce",
             "{\"create\":false,\"update\":false,\"delete\":\"none\"}");
    run(doc, &pl);
    expect(&pl, 1, 'E', "fields[17].hubspot", "hubspot_property_read_only");
}

static void test_identity_field_not_external_id(void **state)
{
    struct sf_object *sf = sf_variant("HubSpot_Id__c", "externalId", json_object_new_boolean(0));
    struct problem_list pl;

    (void)state;
    run_with(clean(), sf, fx.hs, &fx.ctx, &pl);
    expect(&pl, 1, 'E', "identity.salesforce_field", "identity_field_not_external_id");
    sf_object_free(sf);
}

static void test_identity_field_wrong_type(void **state)
{
    struct sf_object *sf = sf_variant("HubSpot_Id__c", "type", json_object_new_string("double"));
    struct problem_list pl;

    (void)state;
    run_with(clean(), sf, fx.hs, &fx.ctx, &pl);
    expect(&pl, 1, 'E', "identity.salesforce_field", "identity_field_wrong_type");
    sf_object_free(sf);
}

static void test_identity_field_not_updateable(void **state)
{
    struct sf_object *sf = sf_variant("HubSpot_Id__c", "updateable", json_object_new_boolean(0));
    struct problem_list pl;

    (void)state;
    run_with(clean(), sf, fx.hs, &fx.ctx, &pl);
    expect(&pl, 1, 'E', "identity.salesforce_field", "salesforce_field_not_updateable");
    sf_object_free(sf);
}

static void test_identity_field_mapped(void **state)
{
    json_object *doc = clean();

    (void)state;
    set_str(field(doc, F_CODE), "salesforce", "HubSpot_Id__c");
    run_expect_one(doc, 'E', "fields[15].salesforce", "identity_field_mapped");
}

/* ---- associations ---- */

static void test_association_field_not_lookup(void **state)
{
    json_object *doc = clean();

    (void)state;
    set_str(assoc(doc, 0), "salesforce_field", "Name");
    run_expect_one(doc, 'E', "associations[0].salesforce_field", "association_field_not_lookup");
}

static void test_association_field_not_found(void **state)
{
    json_object *doc = clean();

    (void)state;
    set_str(assoc(doc, 0), "salesforce_field", "Acount__c");
    run_expect_one(doc, 'E', "associations[0].salesforce_field", "salesforce_field_not_found");
}

static void test_association_unresolvable_not_synced(void **state)
{
    json_object *doc = clean();
    struct mapping_context ctx = fx.ctx;
    struct problem_list pl;

    (void)state;
    /* default resolver, and no synkro mapping syncs Account <-> companies */
    set_str(assoc(doc, 0), "resolver", NULL);
    ctx.mappings = account_mappings + 1;
    ctx.n_mappings = 2;
    run_with(doc, fx.sf, fx.hs, &ctx, &pl);
    expect(&pl, 1, 'E', "associations[0].resolver", "association_unresolvable");

    /* with the Accounts mapping in the account the default resolver finds it */
    doc = clean();
    set_str(assoc(doc, 0), "resolver", NULL);
    run(doc, &pl);
    expect(&pl, 0);
}

static void test_association_unresolvable_mapping_id(void **state)
{
    json_object *doc = clean();

    (void)state;
    set_json(assoc(doc, 0), "resolver", "{\"mapping_id\":99}");
    run_expect_one(doc, 'E', "associations[0].resolver", "association_unresolvable");

    /* mapping 4 syncs Contact <-> contacts, not Account <-> companies */
    doc = clean();
    set_json(assoc(doc, 0), "resolver", "{\"mapping_id\":4}");
    run_expect_one(doc, 'E', "associations[0].resolver", "association_unresolvable");
}

static void test_association_unresolvable_property(void **state)
{
    json_object *doc = clean();
    struct mapping_context ctx = fx.ctx;
    struct problem_list pl;

    (void)state;
    set_json(assoc(doc, 0), "resolver", "{\"hubspot_property\":\"sfdc_account\"}");
    run_expect_one(doc, 'E', "associations[0].resolver.hubspot_property",
                   "association_unresolvable");

    /* HubSpot's own salesforceaccountid exists on companies */
    doc = clean();
    set_json(assoc(doc, 0), "resolver", "{\"hubspot_property\":\"salesforceaccountid\"}");
    run(doc, &pl);
    expect(&pl, 0);

    /* without the companies schema the property cannot be checked, so it is not refused */
    doc = clean();
    set_json(assoc(doc, 0), "resolver", "{\"hubspot_property\":\"sfdc_account\"}");
    ctx.hubspot_targets = NULL;
    ctx.n_hubspot_targets = 0;
    run_with(doc, fx.sf, fx.hs, &ctx, &pl);
    expect(&pl, 0);
}

static void test_association_self_lookup(void **state)
{
    json_object *doc = clean();
    json_object *sf_doc = copy(fx.sf_json);
    struct sf_object *sf;
    struct problem_list pl;

    (void)state;
    /* a Parent__c lookup to Project__c resolves through this very mapping */
    json_object_array_add(at(sf_doc, "fields"),
                          json_tokener_parse("{\"name\":\"Parent__c\",\"type\":\"reference\","
                                             "\"referenceTo\":[\"Project__c\"],\"createable\":true,"
                                             "\"updateable\":true,\"nillable\":true}"));
    sf = sf_object_from_describe(sf_doc, NULL, 0);
    assert_non_null(sf);
    add_json(doc, "associations",
             "{\"salesforce_field\":\"Parent__c\",\"hubspot_object\":\"2-3465404\"}");
    run_with(doc, sf, fx.hs, &fx.ctx, &pl);
    /* resolvable, but the schema defines no project <-> project association */
    expect(&pl, 1, 'E', "associations[2].hubspot_object", "association_not_defined");
    sf_object_free(sf);
    json_object_put(sf_doc);
}

static void test_association_contacts_and_leads(void **state)
{
    json_object *doc = clean();

    (void)state;
    add_json(doc, "associations",
             "{\"salesforce_field\":\"Lead__c\",\"hubspot_object\":\"0-1\","
             "\"resolver\":{\"hubspot_property\":\"salesforce_lead_id\"}}");
    run_expect_one(doc, 'E', "associations[2].salesforce_field", "association_contacts_and_leads");
}

static void test_contacts_and_leads_disabled_is_fine(void **state)
{
    json_object *doc = clean();
    struct problem_list pl;

    (void)state;
    add_json(doc, "associations",
             "{\"salesforce_field\":\"Lead__c\",\"hubspot_object\":\"0-1\",\"enabled\":false}");
    run(doc, &pl);
    expect(&pl, 0);
}

static void test_association_type_unknown(void **state)
{
    json_object *doc = clean();

    (void)state;
    json_object_object_add(assoc(doc, 0), "association_type_id", json_object_new_int(999));
    run_expect_one(doc, 'E', "associations[0].association_type_id", "association_type_unknown");

    /* 281 exists but links projects to contacts, not companies */
    doc = clean();
    json_object_object_add(assoc(doc, 0), "association_type_id", json_object_new_int(281));
    run_expect_one(doc, 'E', "associations[0].association_type_id", "association_type_unknown");
}

static void test_association_not_defined(void **state)
{
    json_object *doc = clean();

    (void)state;
    add_json(doc, "associations",
             "{\"salesforce_field\":\"Account__c\",\"hubspot_object\":\"0-3\","
             "\"resolver\":{\"hubspot_property\":\"salesforce_account_id\"}}");
    run_expect_one(doc, 'E', "associations[2].hubspot_object", "association_not_defined");
}

static void test_duplicate_association(void **state)
{
    json_object *doc = clean();

    (void)state;
    add_json(doc, "associations",
             "{\"salesforce_field\":\"account__c\",\"hubspot_object\":\"companies\","
             "\"association_type_id\":279,\"resolver\":{\"mapping_id\":3}}");
    run_expect_one(doc, 'E', "associations[2]", "duplicate_association");
}

/* ---- everything at once, output, arguments ---- */

static void test_every_problem_reported(void **state)
{
    json_object *doc = clean();
    struct problem_list pl;
    json_object *arr;

    (void)state;
    set_str(field(doc, F_DESCRIPTION), "salesforce", "Nope__c");
    set_str(field(doc, F_BUDGET), "hubspot", "budget_tier");
    set_str(field(doc, F_NOTES), "rule", "two_way");
    add_field(doc, "Contact__c", "website", "always_salesforce");
    set_str(at(doc, "identity"), "salesforce_field", "Code__c");
    json_object_object_add(assoc(doc, 0), "association_type_id", json_object_new_int(1));
    run(doc, &pl);
    expect(&pl, 8, 'E', "fields[1].salesforce", "salesforce_field_not_found", 'E',
           "fields[11].hubspot", "type_incompatible", 'W', "fields[16].hubspot",
           "text_may_truncate", 'E', "fields[17].salesforce", "lookup_as_field", 'E',
           "fields[17].hubspot", "duplicate_hubspot_property", 'E', "identity.salesforce_field",
           "identity_field_not_external_id", 'E', "fields[15].salesforce", "identity_field_mapped",
           'E', "associations[0].association_type_id", "association_type_unknown");
    /* (expect() freed the list; rebuild one to check the JSON form) */
    problem_list_init(&pl);
    problem_list_add(&pl, PROBLEM_WARNING, "fields[16].hubspot", "text_may_truncate", "m");
    arr = problem_list_to_json(&pl);
    assert_string_equal(json_object_to_json_string_ext(arr, JSON_C_TO_STRING_PLAIN),
                        "[{\"path\":\"fields[16].hubspot\",\"code\":\"text_may_truncate\","
                        "\"severity\":\"warning\",\"message\":\"m\"}]");
    json_object_put(arr);
    problem_list_free(&pl);
}

static void test_null_context(void **state)
{
    struct problem_list pl;

    (void)state;
    /* no other mappings: the Accounts mapping 3 and a Contacts mapping are unknown */
    run_with(clean(), fx.sf, fx.hs, NULL, &pl);
    expect(&pl, 2, 'E', "associations[0].resolver", "association_unresolvable", 'E',
           "associations[1].resolver", "association_unresolvable");
}

static void test_bad_arguments(void **state)
{
    struct problem_list pl = PROBLEM_LIST_INIT;
    struct mapping *m = NULL;
    json_object *doc = clean();

    (void)state;
    assert_int_equal(mapping_parse(doc, &m, &pl), MAPPING_PARSE_OK);
    assert_int_equal(mapping_validate(NULL, fx.sf, fx.hs, NULL, &pl), -1);
    assert_int_equal(mapping_validate(m, fx.sf, fx.hs, NULL, NULL), -1);
    assert_int_equal(pl.count, 0);
    mapping_free(m);
    json_object_put(doc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_clean_mapping_has_no_problems),
        cmocka_unit_test(test_dont_sync_skips_direction_checks),
        cmocka_unit_test(test_hubspot_object_not_found),
        cmocka_unit_test(test_salesforce_object_not_found),
        cmocka_unit_test(test_fully_qualified_name_accepted),
        cmocka_unit_test(test_duplicate_mapping),
        cmocka_unit_test(test_mapping_limit_reached),
        cmocka_unit_test(test_salesforce_field_not_found),
        cmocka_unit_test(test_hubspot_property_not_found),
        cmocka_unit_test(test_salesforce_field_lookup_ignores_case),
        cmocka_unit_test(test_duplicate_salesforce_field),
        cmocka_unit_test(test_duplicate_hubspot_property),
        cmocka_unit_test(test_lookup_as_field),
        cmocka_unit_test(test_formula_field_written_from_hubspot),
        cmocka_unit_test(test_formula_both_ways),
        cmocka_unit_test(test_salesforce_field_not_createable),
        cmocka_unit_test(test_hubspot_property_read_only),
        cmocka_unit_test(test_type_incompatible),
        cmocka_unit_test(test_restricted_picklist_from_free_text),
        cmocka_unit_test(test_unrestricted_picklist_to_free_text_is_fine),
        cmocka_unit_test(test_value_map_unknown_salesforce_value),
        cmocka_unit_test(test_value_map_unknown_hubspot_option),
        cmocka_unit_test(test_value_map_not_applicable),
        cmocka_unit_test(test_option_unmapped_salesforce_value),
        cmocka_unit_test(test_option_unmapped_hubspot_option_restricted),
        cmocka_unit_test(test_option_unmapped_unrestricted_is_warning),
        cmocka_unit_test(test_text_may_truncate),
        cmocka_unit_test(test_required_property_unmapped),
        cmocka_unit_test(test_required_property_not_needed_without_creates),
        cmocka_unit_test(test_salesforce_required_field_unmapped),
        cmocka_unit_test(test_identity_property_missing),
        cmocka_unit_test(test_identity_property_not_unique),
        cmocka_unit_test(test_identity_property_wrong_type),
        cmocka_unit_test(test_identity_property_read_only),
        cmocka_unit_test(test_identity_property_mapped),
        cmocka_unit_test(test_identity_field_missing),
        cmocka_unit_test(test_identity_field_not_needed_one_way),
        cmocka_unit_test(test_identity_property_not_needed_one_way),
        cmocka_unit_test(test_record_rules_limit_field_directions),
        cmocka_unit_test(test_identity_field_not_external_id),
        cmocka_unit_test(test_identity_field_wrong_type),
        cmocka_unit_test(test_identity_field_not_updateable),
        cmocka_unit_test(test_identity_field_mapped),
        cmocka_unit_test(test_association_field_not_lookup),
        cmocka_unit_test(test_association_field_not_found),
        cmocka_unit_test(test_association_unresolvable_not_synced),
        cmocka_unit_test(test_association_unresolvable_mapping_id),
        cmocka_unit_test(test_association_unresolvable_property),
        cmocka_unit_test(test_association_self_lookup),
        cmocka_unit_test(test_association_contacts_and_leads),
        cmocka_unit_test(test_contacts_and_leads_disabled_is_fine),
        cmocka_unit_test(test_association_type_unknown),
        cmocka_unit_test(test_association_not_defined),
        cmocka_unit_test(test_duplicate_association),
        cmocka_unit_test(test_every_problem_reported),
        cmocka_unit_test(test_null_context),
        cmocka_unit_test(test_bad_arguments),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
