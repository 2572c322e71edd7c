/* test_sync_merge.c: unit tests for sync/sync_merge, the three-way merge of one record pair.
 *
 * The schemas are built by hand (a Project__c field and a HubSpot property per value kind, plus
 * fields that cannot be written), mappings are assembled field by field, and records and bases
 * are given as JSON text, so each test states the whole input next to the writes, conflicts and
 * new base it expects. Besides the decision table row by row, the echo property is checked:
 * applying the writes to the records and merging again with the new base leaves nothing to do,
 * for hand-picked cases and for many small random ones (seeded PRNG, reproducible). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sync/sync_merge.h"

/* ---- schema fixtures ---- */

static struct sf_picklist_value status_values[] = {
    {"Planned", "Planned", true},
    {"In Progress", "In Progress", true},
    {"Completed", "Completed", true},
    {"Closed", "Closed", true},
};

#define SF_F(n, t, tn, len)                                                                        \
    {                                                                                              \
        .name = (n), .label = (n), .type = (t), .type_name = (tn), .length = (len),                \
        .nillable = true, .createable = true, .updateable = true                                   \
    }

static struct sf_field sf_fields[] = {
    SF_F("Id", SF_TYPE_ID, "id", 18),
    SF_F("Name", SF_TYPE_STRING, "string", 80),
    SF_F("Code__c", SF_TYPE_STRING, "string", 5),
    SF_F("Budget__c", SF_TYPE_CURRENCY, "currency", 0),
    SF_F("Seats__c", SF_TYPE_INT, "int", 0),
    {.name = "Status__c",
     .label = "Status",
     .type = SF_TYPE_PICKLIST,
     .type_name = "picklist",
     .length = 255,
     .nillable = true,
     .createable = true,
     .updateable = true,
     .restricted_picklist = true,
     .picklist_values = status_values,
     .n_picklist_values = 4},
    SF_F("Kickoff__c", SF_TYPE_DATETIME, "datetime", 0),
    {.name = "Is_Billable__c",
     .label = "Billable",
     .type = SF_TYPE_BOOLEAN,
     .type_name = "boolean",
     .nillable = false,
     .createable = true,
     .updateable = true},
    SF_F("Start_Date__c", SF_TYPE_DATE, "date", 0),
    {.name = "Formula__c",
     .label = "Formula",
     .type = SF_TYPE_STRING,
     .type_name = "string",
     .length = 80,
     .nillable = true,
     .calculated = true},
    {.name = "Locked__c",
     .label = "Locked",
     .type = SF_TYPE_STRING,
     .type_name = "string",
     .length = 80,
     .nillable = true,
     .createable = true,
     .updateable = false},
    SF_F("Score__c", SF_TYPE_STRING, "string", 20),
    SF_F("Notes__c", SF_TYPE_STRING, "string", 80),
    SF_F("Body__c", SF_TYPE_TEXTAREA, "textarea", 131072),
};

static struct sf_object sf_project = {.name = "Project__c",
                                      .label = "Project",
                                      .createable = true,
                                      .updateable = true,
                                      .queryable = true,
                                      .fields = sf_fields,
                                      .n_fields = sizeof(sf_fields) / sizeof(sf_fields[0])};

static struct hs_option status_options[] = {
    {"planned", "Planned", false},
    {"in_progress", "In progress", false},
    {"done", "Done", false},
    {"cancelled", "Cancelled", false},
};

#define HS_P(n, t, tn, ft, ftn)                                                                    \
    {                                                                                              \
        .name = (n), .label = (n), .type = (t), .type_name = (tn), .field_type = (ft),             \
        .field_type_name = (ftn)                                                                   \
    }

static struct hs_object_property hs_props[] = {
    HS_P("salesforce_id", HS_TYPE_STRING, "string", HS_FIELD_TEXT, "text"),
    HS_P("name", HS_TYPE_STRING, "string", HS_FIELD_TEXT, "text"),
    HS_P("code", HS_TYPE_STRING, "string", HS_FIELD_TEXT, "text"),
    HS_P("budget", HS_TYPE_NUMBER, "number", HS_FIELD_NUMBER, "number"),
    HS_P("seats", HS_TYPE_NUMBER, "number", HS_FIELD_NUMBER, "number"),
    {.name = "project_status",
     .label = "Status",
     .type = HS_TYPE_ENUMERATION,
     .type_name = "enumeration",
     .field_type = HS_FIELD_SELECT,
     .field_type_name = "select",
     .options = status_options,
     .n_options = 4},
    HS_P("kickoff", HS_TYPE_DATETIME, "datetime", HS_FIELD_DATE, "date"),
    HS_P("is_billable", HS_TYPE_BOOL, "bool", HS_FIELD_BOOLEANCHECKBOX, "booleancheckbox"),
    HS_P("start_date", HS_TYPE_DATE, "date", HS_FIELD_DATE, "date"),
    HS_P("formula", HS_TYPE_STRING, "string", HS_FIELD_TEXT, "text"),
    HS_P("locked", HS_TYPE_STRING, "string", HS_FIELD_TEXT, "text"),
    {.name = "score",
     .label = "Score",
     .type = HS_TYPE_STRING,
     .type_name = "string",
     .field_type = HS_FIELD_TEXT,
     .field_type_name = "text",
     .read_only = true},
    {.name = "calc_notes",
     .label = "Notes",
     .type = HS_TYPE_STRING,
     .type_name = "string",
     .field_type = HS_FIELD_CALCULATION_EQUATION,
     .field_type_name = "calculation_equation",
     .calculated = true},
    HS_P("body", HS_TYPE_STRING, "string", HS_FIELD_TEXTAREA, "textarea"),
};

static struct hs_object hs_project = {.object_type_id = "2-3465404",
                                      .name = "project",
                                      .properties = hs_props,
                                      .n_properties = sizeof(hs_props) / sizeof(hs_props[0])};

static struct mapping_value_pair status_map[] = {
    {"Planned", "planned"},
    {"In Progress", "in_progress"},
    {"Completed", "done"},
    {"Closed", "done"}, /* two Salesforce values on one option: HubSpot -> Salesforce takes the
                           first */
};

/* ---- mappings ---- */

#define TM_MAX 16

struct test_map {
    struct mapping m;
    struct mapping_field f[TM_MAX];
};

/* Project__c <-> 2-3465404, every record rule on, Salesforce wins conflicts, no fields yet. */
static void tm_init(struct test_map *t)
{
    memset(t, 0, sizeof(*t));
    t->m.name = "Projects";
    t->m.salesforce_object = "Project__c";
    t->m.hubspot_object = "2-3465404";
    t->m.salesforce_to_hubspot.create = true;
    t->m.salesforce_to_hubspot.update = true;
    t->m.hubspot_to_salesforce.create = true;
    t->m.hubspot_to_salesforce.update = true;
    t->m.conflict_winner = MAPPING_WINNER_SALESFORCE;
    t->m.fields = t->f;
}

/* Appends a field mapping; Status__c gets the status value map. */
static void tm_add(struct test_map *t, const char *sf, const char *hs, enum field_rule rule)
{
    struct mapping_field *f;

    assert_true(t->m.n_fields < TM_MAX);
    f = &t->f[t->m.n_fields++];
    f->salesforce = (char *)sf;
    f->hubspot = (char *)hs;
    f->rule = rule;
    if (strcmp(sf, "Status__c") == 0) {
        f->value_map = status_map;
        f->n_value_map = sizeof(status_map) / sizeof(status_map[0]);
    }
}

/* ---- running merges ---- */

static json_object *parse(const char *text)
{
    json_object *o;

    if (text == NULL)
        return NULL;
    o = json_tokener_parse(text);
    assert_non_null(o);
    return o;
}

struct texts {
    const char *sf_record, *hs_properties, *sf_base, *hs_base;
};

/* Merges JSON texts (NULL: absent); the inputs are released before returning, so the output
 * must own everything it holds. */
static enum merge_result merge_texts(const struct mapping *m, struct texts t,
                                     struct merge_output *out)
{
    struct merge_input in = {m,
                             &sf_project,
                             &hs_project,
                             parse(t.sf_record),
                             parse(t.hs_properties),
                             parse(t.sf_base),
                             parse(t.hs_base),
                             NULL,
                             NULL};
    enum merge_result rc = sync_merge(&in, out);

    json_object_put(in.sf_record);
    json_object_put(in.hs_properties);
    json_object_put(in.sf_base);
    json_object_put(in.hs_base);
    return rc;
}

/* A Salesforce value as compact JSON text ("null" for JSON null). */
static const char *sf_json(json_object *v)
{
    return v == NULL ? "null" : json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN);
}

/* obj[key] as HubSpot text; want NULL: the key must be absent. */
static void expect_hs(json_object *obj, const char *key, const char *want)
{
    json_object *v = NULL;
    bool found = json_object_object_get_ex(obj, key, &v);

    if (want == NULL) {
        if (found)
            fail_msg("%s unexpectedly holds \"%s\"", key, sf_json(v));
        return;
    }
    if (!found)
        fail_msg("%s is missing (want \"%s\")", key, want);
    assert_true(json_object_is_type(v, json_type_string));
    assert_string_equal(json_object_get_string(v), want);
}

/* obj[key] as JSON text; want NULL: the key must be absent. */
static void expect_sf(json_object *obj, const char *key, const char *want)
{
    json_object *v = NULL;
    bool found = json_object_object_get_ex(obj, key, &v);

    if (want == NULL) {
        if (found)
            fail_msg("%s unexpectedly holds %s", key, sf_json(v));
        return;
    }
    if (!found)
        fail_msg("%s is missing (want %s)", key, want);
    assert_string_equal(sf_json(v), want);
}

static void expect_no_writes(const struct merge_output *out)
{
    assert_non_null(out->hs_write);
    assert_non_null(out->sf_write);
    assert_int_equal(json_object_object_length(out->hs_write), 0);
    assert_int_equal(json_object_object_length(out->sf_write), 0);
}

/* The value as the CRM would read it back: through JSON text, as over the network. */
static json_object *round_trip(json_object *v)
{
    return v == NULL ? NULL : parse(json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN));
}

static json_object *copy_or_new(json_object *record, bool create)
{
    json_object *c = NULL;

    if (record != NULL)
        assert_int_equal(json_object_deep_copy(record, &c, NULL), 0);
    else if (create)
        c = json_object_new_object();
    return c;
}

/* Applies out's writes to in's records (a requested create makes an empty record first),
 * merges again with out's new base, and asserts nothing is left to write and nothing
 * conflicts. Returns false (without checking) when a record is missing and is not created. */
static bool echo_is_quiet(const struct merge_input *in, const struct merge_output *out)
{
    json_object *sf = copy_or_new(in->sf_record, out->create_sf);
    json_object *hs = copy_or_new(in->hs_properties, out->create_hs);
    struct merge_input again = *in;
    struct merge_output out2;

    if (sf == NULL || hs == NULL) {
        json_object_put(sf);
        json_object_put(hs);
        return false;
    }
    json_object_object_foreach(out->sf_write, skey, sval)
    {
        json_object_object_add(sf, skey, round_trip(sval));
    }
    json_object_object_foreach(out->hs_write, hkey, hval)
    {
        json_object_object_add(hs, hkey, round_trip(hval));
    }
    again.sf_record = sf;
    again.hs_properties = hs;
    again.sf_base = out->sf_base_new;
    again.hs_base = out->hs_base_new;
    assert_int_equal(sync_merge(&again, &out2), MERGE_OK);
    if (json_object_object_length(out2.hs_write) != 0 ||
        json_object_object_length(out2.sf_write) != 0 || out2.nconflicts != 0)
        fail_msg("echo not quiet: hs_write %s sf_write %s conflicts %zu; records %s / %s",
                 sf_json(out2.hs_write), sf_json(out2.sf_write), out2.nconflicts, sf_json(sf),
                 sf_json(hs));
    assert_false(out2.create_hs);
    assert_false(out2.create_sf);
    merge_output_free(&out2);
    json_object_put(sf);
    json_object_put(hs);
    return true;
}

/* Merges texts, then checks the echo of the result. */
static void expect_echo_quiet(const struct mapping *m, struct texts t)
{
    struct merge_input in = {m,
                             &sf_project,
                             &hs_project,
                             parse(t.sf_record),
                             parse(t.hs_properties),
                             parse(t.sf_base),
                             parse(t.hs_base),
                             NULL,
                             NULL};
    struct merge_output out;

    assert_int_equal(sync_merge(&in, &out), MERGE_OK);
    assert_true(echo_is_quiet(&in, &out));
    merge_output_free(&out);
    json_object_put(in.sf_record);
    json_object_put(in.hs_properties);
    json_object_put(in.sf_base);
    json_object_put(in.hs_base);
}

/* ---- the decision table, rule by rule ---- */

struct table_case {
    enum field_rule rule;
    enum mapping_winner winner;
    const char *sf_now;  /* JSON value of Name; base is "A" on both sides */
    const char *hs_now;  /* text of name */
    char write;          /* 'H' ->HubSpot, 'S' ->Salesforce, '-' nothing */
    const char *written; /* HubSpot text or Salesforce JSON of the write */
    bool conflict;
    enum mapping_winner conflict_winner;
    enum merge_winner_reason reason;
};

#define SF_W    MAPPING_WINNER_SALESFORCE
#define HS_W    MAPPING_WINNER_HUBSPOT
#define R_RULE  MERGE_REASON_FIELD_RULE
#define R_WIN   MERGE_REASON_CONFLICT_WINNER
#define R_BLANK MERGE_REASON_BLANK

static const struct table_case table_cases[] = {
    /* two_way */
    {FIELD_RULE_TWO_WAY, SF_W, "\"B\"", "A", 'H', "B", false, SF_W, R_RULE},
    {FIELD_RULE_TWO_WAY, SF_W, "\"A\"", "B", 'S', "\"B\"", false, SF_W, R_RULE},
    {FIELD_RULE_TWO_WAY, SF_W, "\"B\"", "C", 'H', "B", true, SF_W, R_WIN},
    {FIELD_RULE_TWO_WAY, HS_W, "\"B\"", "C", 'S', "\"C\"", true, HS_W, R_WIN},
    {FIELD_RULE_TWO_WAY, SF_W, "\"B\"", "B", '-', NULL, false, SF_W, R_RULE},
    {FIELD_RULE_TWO_WAY, SF_W, "\"A\"", "A", '-', NULL, false, SF_W, R_RULE},
    /* prefer_salesforce_unless_blank */
    {FIELD_RULE_PREFER_SALESFORCE_UNLESS_BLANK, SF_W, "\"B\"", "A", 'H', "B", false, SF_W, R_RULE},
    {FIELD_RULE_PREFER_SALESFORCE_UNLESS_BLANK, SF_W, "\"A\"", "B", '-', NULL, false, SF_W, R_RULE},
    {FIELD_RULE_PREFER_SALESFORCE_UNLESS_BLANK, HS_W, "\"B\"", "C", 'H', "B", true, SF_W, R_RULE},
    {FIELD_RULE_PREFER_SALESFORCE_UNLESS_BLANK, SF_W, "\"B\"", "B", '-', NULL, false, SF_W, R_RULE},
    {FIELD_RULE_PREFER_SALESFORCE_UNLESS_BLANK, SF_W, "\"A\"", "A", '-', NULL, false, SF_W, R_RULE},
    /* always_salesforce */
    {FIELD_RULE_ALWAYS_SALESFORCE, SF_W, "\"B\"", "A", 'H', "B", false, SF_W, R_RULE},
    {FIELD_RULE_ALWAYS_SALESFORCE, SF_W, "\"A\"", "B", '-', NULL, false, SF_W, R_RULE},
    {FIELD_RULE_ALWAYS_SALESFORCE, HS_W, "\"B\"", "C", 'H', "B", true, SF_W, R_RULE},
    {FIELD_RULE_ALWAYS_SALESFORCE, SF_W, "\"B\"", "B", '-', NULL, false, SF_W, R_RULE},
    {FIELD_RULE_ALWAYS_SALESFORCE, SF_W, "\"A\"", "A", '-', NULL, false, SF_W, R_RULE},
    /* always_hubspot */
    {FIELD_RULE_ALWAYS_HUBSPOT, SF_W, "\"B\"", "A", '-', NULL, false, SF_W, R_RULE},
    {FIELD_RULE_ALWAYS_HUBSPOT, SF_W, "\"A\"", "B", 'S', "\"B\"", false, SF_W, R_RULE},
    {FIELD_RULE_ALWAYS_HUBSPOT, SF_W, "\"B\"", "C", 'S', "\"C\"", true, HS_W, R_RULE},
    {FIELD_RULE_ALWAYS_HUBSPOT, SF_W, "\"B\"", "B", '-', NULL, false, SF_W, R_RULE},
    {FIELD_RULE_ALWAYS_HUBSPOT, SF_W, "\"A\"", "A", '-', NULL, false, SF_W, R_RULE},
    /* prefer_salesforce_unless_blank with Salesforce blank */
    {FIELD_RULE_PREFER_SALESFORCE_UNLESS_BLANK, SF_W, "null", "B", 'S', "\"B\"", true, HS_W,
     R_BLANK},
    {FIELD_RULE_PREFER_SALESFORCE_UNLESS_BLANK, SF_W, "\"\"", "B", 'S', "\"B\"", true, HS_W,
     R_BLANK},
    {FIELD_RULE_PREFER_SALESFORCE_UNLESS_BLANK, SF_W, "null", "A", 'H', "", false, SF_W, R_RULE},
    {FIELD_RULE_PREFER_SALESFORCE_UNLESS_BLANK, SF_W, "null", "", '-', NULL, false, SF_W, R_RULE},
    {FIELD_RULE_PREFER_SALESFORCE_UNLESS_BLANK, SF_W, "\"A\"", "", '-', NULL, false, SF_W, R_RULE},
    {FIELD_RULE_PREFER_SALESFORCE_UNLESS_BLANK, SF_W, "\"B\"", "", 'H', "B", true, SF_W, R_RULE},
    /* two_way clearing */
    {FIELD_RULE_TWO_WAY, SF_W, "null", "A", 'H', "", false, SF_W, R_RULE},
    {FIELD_RULE_TWO_WAY, SF_W, "\"A\"", "", 'S', "null", false, SF_W, R_RULE},
};

static void run_table_case(const struct table_case *tc, size_t n)
{
    struct test_map t;
    struct merge_output out;
    char sf_rec[128], hs_rec[128];
    struct merge_input in = {&t.m, &sf_project, &hs_project, NULL, NULL, NULL, NULL, NULL, NULL};

    print_message("case %zu: %s %s/%s\n", n, mapping_field_rule_name(tc->rule), tc->sf_now,
                  tc->hs_now);
    tm_init(&t);
    t.m.conflict_winner = tc->winner;
    tm_add(&t, "Name", "name", tc->rule);
    snprintf(sf_rec, sizeof(sf_rec), "{\"Id\":\"a01\",\"Name\":%s}", tc->sf_now);
    snprintf(hs_rec, sizeof(hs_rec), "{\"name\":\"%s\"}", tc->hs_now);
    in.sf_record = parse(sf_rec);
    in.hs_properties = parse(hs_rec);
    in.sf_base = parse("{\"Name\":\"A\"}");
    in.hs_base = parse("{\"name\":\"A\"}");
    assert_int_equal(sync_merge(&in, &out), MERGE_OK);
    assert_false(out.create_hs);
    assert_false(out.create_sf);
    expect_hs(out.hs_write, "name", tc->write == 'H' ? tc->written : NULL);
    expect_sf(out.sf_write, "Name", tc->write == 'S' ? tc->written : NULL);
    assert_int_equal(json_object_object_length(out.hs_write) +
                         json_object_object_length(out.sf_write),
                     tc->write == '-' ? 0 : 1);
    /* the new base: the written value where written, else the current one */
    expect_hs(out.hs_base_new, "name", tc->write == 'H' ? tc->written : tc->hs_now);
    expect_sf(out.sf_base_new, "Name", tc->write == 'S' ? tc->written : tc->sf_now);
    assert_int_equal(out.nconflicts, tc->conflict ? 1 : 0);
    if (tc->conflict) {
        assert_int_equal(out.conflicts[0].field, 0);
        assert_int_equal(out.conflicts[0].winner, tc->conflict_winner);
        assert_int_equal(out.conflicts[0].reason, tc->reason);
        assert_string_equal(out.conflicts[0].hs_value, tc->hs_now);
        if (strcmp(tc->sf_now, "null") == 0 || strcmp(tc->sf_now, "\"\"") == 0)
            assert_null(out.conflicts[0].sf_value);
        else
            assert_string_equal(sf_json(out.conflicts[0].sf_value), tc->sf_now);
    }
    assert_true(echo_is_quiet(&in, &out));
    merge_output_free(&out);
    json_object_put(in.sf_record);
    json_object_put(in.hs_properties);
    json_object_put(in.sf_base);
    json_object_put(in.hs_base);
}

static void test_decision_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(table_cases) / sizeof(table_cases[0]); i++)
        run_table_case(&table_cases[i], i);
}

static void test_dont_sync(void **state)
{
    static const char *const sf_values[] = {"\"A\"", "\"B\"", "null"};
    static const char *const hs_values[] = {"A", "C", ""};
    struct test_map t;
    struct merge_output out;
    char sf_rec[64], hs_rec[64];

    (void)state;
    tm_init(&t);
    tm_add(&t, "Name", "name", FIELD_RULE_DONT_SYNC);
    for (size_t i = 0; i < 3; i++) {
        for (size_t j = 0; j < 3; j++) {
            snprintf(sf_rec, sizeof(sf_rec), "{\"Name\":%s}", sf_values[i]);
            snprintf(hs_rec, sizeof(hs_rec), "{\"name\":\"%s\"}", hs_values[j]);
            assert_int_equal(
                merge_texts(&t.m,
                            (struct texts){sf_rec, hs_rec, "{\"Name\":\"A\"}", "{\"name\":\"A\"}"},
                            &out),
                MERGE_OK);
            expect_no_writes(&out);
            assert_int_equal(out.nconflicts, 0);
            /* no base kept either */
            assert_int_equal(json_object_object_length(out.sf_base_new), 0);
            assert_int_equal(json_object_object_length(out.hs_base_new), 0);
            merge_output_free(&out);
        }
    }
    /* even on a create nothing is written */
    assert_int_equal(merge_texts(&t.m, (struct texts){"{\"Name\":\"A\"}", NULL, NULL, NULL}, &out),
                     MERGE_OK);
    assert_true(out.create_hs);
    expect_no_writes(&out);
    merge_output_free(&out);
}

static void test_prefer_fills_blank(void **state)
{
    struct test_map t;
    struct merge_output out;

    (void)state;
    tm_init(&t);
    tm_add(&t, "Name", "name", FIELD_RULE_PREFER_SALESFORCE_UNLESS_BLANK);
    /* Salesforce stayed blank, HubSpot was filled: HubSpot fills Salesforce, no conflict */
    assert_int_equal(merge_texts(&t.m,
                                 (struct texts){"{\"Name\":null}", "{\"name\":\"B\"}",
                                                "{\"Name\":null}", "{\"name\":\"\"}"},
                                 &out),
                     MERGE_OK);
    expect_sf(out.sf_write, "Name", "\"B\"");
    assert_int_equal(json_object_object_length(out.hs_write), 0);
    assert_int_equal(out.nconflicts, 0);
    merge_output_free(&out);
    expect_echo_quiet(&t.m, (struct texts){"{\"Name\":null}", "{\"name\":\"B\"}", "{\"Name\":null}",
                                           "{\"name\":\"\"}"});

    /* the same with Salesforce's "" and an absent member */
    assert_int_equal(
        merge_texts(&t.m,
                    (struct texts){"{\"Id\":\"a01\"}", "{\"name\":\"B\"}", "{\"Name\":\"\"}", "{}"},
                    &out),
        MERGE_OK);
    expect_sf(out.sf_write, "Name", "\"B\"");
    merge_output_free(&out);

    /* Salesforce not blank: HubSpot's change stays in HubSpot */
    assert_int_equal(merge_texts(&t.m,
                                 (struct texts){"{\"Name\":\"A\"}", "{\"name\":\"B\"}",
                                                "{\"Name\":\"A\"}", "{\"name\":\"\"}"},
                                 &out),
                     MERGE_OK);
    expect_no_writes(&out);
    expect_hs(out.hs_base_new, "name", "B");
    merge_output_free(&out);

    /* both cleared: they agree, nothing to do */
    assert_int_equal(merge_texts(&t.m,
                                 (struct texts){"{\"Name\":null}", "{\"name\":\"\"}",
                                                "{\"Name\":\"A\"}", "{\"name\":\"A\"}"},
                                 &out),
                     MERGE_OK);
    expect_no_writes(&out);
    assert_int_equal(out.nconflicts, 0);
    expect_sf(out.sf_base_new, "Name", "null");
    expect_hs(out.hs_base_new, "name", "");
    merge_output_free(&out);
}

/* ---- first sync and partial bases ---- */

static void test_first_sync_no_conflict(void **state)
{
    struct test_map t;
    struct merge_output out;

    (void)state;
    tm_init(&t);
    tm_add(&t, "Name", "name", FIELD_RULE_TWO_WAY);
    tm_add(&t, "Budget__c", "budget", FIELD_RULE_TWO_WAY);
    tm_add(&t, "Code__c", "code", FIELD_RULE_ALWAYS_HUBSPOT);
    /* Salesforce wins: differing values go to HubSpot, silently; equal ones stay */
    assert_int_equal(
        merge_texts(&t.m,
                    (struct texts){"{\"Name\":\"Apollo\",\"Budget__c\":419.0,\"Code__c\":\"X\"}",
                                   "{\"name\":\"apollo\",\"budget\":\"419\",\"code\":\"Y\"}", NULL,
                                   NULL},
                    &out),
        MERGE_OK);
    assert_int_equal(out.nconflicts, 0);
    expect_hs(out.hs_write, "name", "Apollo");
    expect_hs(out.hs_write, "budget", NULL);
    expect_sf(out.sf_write, "Code__c", "\"Y\"");
    assert_int_equal(json_object_object_length(out.hs_write), 1);
    assert_int_equal(json_object_object_length(out.sf_write), 1);
    expect_sf(out.sf_base_new, "Budget__c", "419.0");
    expect_hs(out.hs_base_new, "budget", "419");
    expect_hs(out.hs_base_new, "name", "Apollo");
    expect_sf(out.sf_base_new, "Code__c", "\"Y\"");
    merge_output_free(&out);

    /* HubSpot wins */
    t.m.conflict_winner = MAPPING_WINNER_HUBSPOT;
    assert_int_equal(
        merge_texts(&t.m,
                    (struct texts){"{\"Name\":\"Apollo\"}", "{\"name\":\"apollo\"}", NULL, NULL},
                    &out),
        MERGE_OK);
    assert_int_equal(out.nconflicts, 0);
    expect_sf(out.sf_write, "Name", "\"apollo\"");
    assert_int_equal(json_object_object_length(out.hs_write), 0);
    merge_output_free(&out);
}

/* A pair linked for the first time (no base on either side): for two_way fields the record
 * modified last wins, whatever conflict_winner says; unknown or equal instants fall back to it.
 * (This is what keeps a HubSpot edit made while synkro crashed between creating the Salesforce
 * record and storing the link.) */
static void test_first_sync_newer_record_wins(void **state)
{
    struct test_map t;
    struct merge_output out;
    (void)state;
    tm_init(&t);
    tm_add(&t, "Name", "name", FIELD_RULE_TWO_WAY);
    tm_add(&t, "Code__c", "code", FIELD_RULE_ALWAYS_SALESFORCE);
    static const struct {
        const char *sf_mod, *hs_mod;
        enum mapping_winner winner;
        bool want_hs_wins;
    } cases[] = {
        {"2026-11-29T10:00:05.000+0000", "2026-11-29T10:00:05.300Z", MAPPING_WINNER_SALESFORCE,
         true},
        {"2026-11-29T10:00:06.000+0000", "1795946405300", MAPPING_WINNER_HUBSPOT, false},
        {"2026-11-29T10:00:05.000+0000", "2026-11-29T10:00:05.000Z", MAPPING_WINNER_SALESFORCE,
         false}, /* equal: conflict_winner */
        {NULL, "2026-11-29T10:00:05.300Z", MAPPING_WINNER_SALESFORCE, false},
        {"not a date", "2026-11-29T10:00:05.300Z", MAPPING_WINNER_HUBSPOT, true},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        t.m.conflict_winner = cases[i].winner;
        json_object *sf = parse("{\"Name\":\"created\",\"Code__c\":\"S\"}");
        json_object *hs = parse("{\"name\":\"edited\",\"code\":\"H\"}");
        struct merge_input in = {&t.m, &sf_project,     &hs_project,    sf, hs, NULL,
                                 NULL, cases[i].sf_mod, cases[i].hs_mod};
        assert_int_equal(sync_merge(&in, &out), MERGE_OK);
        assert_int_equal(out.nconflicts, 0);
        if (cases[i].want_hs_wins) {
            expect_sf(out.sf_write, "Name", "\"edited\"");
            expect_hs(out.hs_write, "name", NULL);
        } else {
            expect_hs(out.hs_write, "name", "created");
            expect_sf(out.sf_write, "Name", NULL);
        }
        expect_hs(out.hs_write, "code", "S"); /* field rules still decide their fields */
        merge_output_free(&out);
        json_object_put(sf);
        json_object_put(hs);
    }
}

static void test_field_added_later_no_conflict(void **state)
{
    struct test_map t;
    struct merge_output out;

    (void)state;
    tm_init(&t);
    tm_add(&t, "Name", "name", FIELD_RULE_TWO_WAY);
    tm_add(&t, "Code__c", "code", FIELD_RULE_TWO_WAY);
    /* the base knows Name only: Code__c differs without a conflict being recorded */
    assert_int_equal(merge_texts(&t.m,
                                 (struct texts){"{\"Name\":\"B\",\"Code__c\":\"X\"}",
                                                "{\"name\":\"C\",\"code\":\"Y\"}",
                                                "{\"Name\":\"A\"}", "{\"name\":\"A\"}"},
                                 &out),
                     MERGE_OK);
    assert_int_equal(out.nconflicts, 1);
    assert_int_equal(out.conflicts[0].field, 0);
    expect_hs(out.hs_write, "name", "B");
    expect_hs(out.hs_write, "code", "X");
    merge_output_free(&out);

    /* only one side has a base entry: still no conflict */
    assert_int_equal(merge_texts(&t.m,
                                 (struct texts){"{\"Name\":\"B\"}", "{\"name\":\"C\"}",
                                                "{\"Name\":\"A\"}", "{}"},
                                 &out),
                     MERGE_OK);
    assert_int_equal(out.nconflicts, 0);
    expect_hs(out.hs_write, "name", "B");
    merge_output_free(&out);
}

/* ---- creates ---- */

static void add_create_fields(struct test_map *t)
{
    tm_add(t, "Name", "name", FIELD_RULE_TWO_WAY);
    tm_add(t, "Budget__c", "budget", FIELD_RULE_PREFER_SALESFORCE_UNLESS_BLANK);
    tm_add(t, "Status__c", "project_status", FIELD_RULE_ALWAYS_SALESFORCE);
    tm_add(t, "Code__c", "code", FIELD_RULE_ALWAYS_HUBSPOT);
    tm_add(t, "Seats__c", "seats", FIELD_RULE_TWO_WAY);
    tm_add(t, "Notes__c", "calc_notes", FIELD_RULE_ALWAYS_SALESFORCE);
    tm_add(t, "Score__c", "score", FIELD_RULE_TWO_WAY);
    tm_add(t, "Formula__c", "formula", FIELD_RULE_TWO_WAY);
    tm_add(t, "Locked__c", "locked", FIELD_RULE_TWO_WAY);
    tm_add(t, "Kickoff__c", "kickoff", FIELD_RULE_DONT_SYNC);
}

static const char create_sf_rec[] =
    "{\"Id\":\"a01\",\"Name\":\"Apollo\",\"Budget__c\":419.0,\"Status__c\":\"In Progress\","
    "\"Code__c\":\"X1\",\"Seats__c\":null,\"Notes__c\":\"n\",\"Score__c\":\"9\","
    "\"Formula__c\":\"f\",\"Locked__c\":\"l\",\"Kickoff__c\":\"2024-01-02T03:04:05.000+0000\"}";
static const char create_hs_rec[] =
    "{\"name\":\"Zeus\",\"budget\":\"12.50\",\"project_status\":\"done\",\"code\":\"Y1\","
    "\"seats\":\"\",\"calc_notes\":\"n\",\"score\":\"9\",\"formula\":\"f\",\"locked\":\"l\","
    "\"kickoff\":\"2024-01-02T03:04:05.000Z\"}";

static void test_create_hs(void **state)
{
    struct test_map t;
    struct merge_output out;

    (void)state;
    tm_init(&t);
    add_create_fields(&t);
    assert_int_equal(merge_texts(&t.m, (struct texts){create_sf_rec, NULL, NULL, NULL}, &out),
                     MERGE_OK);
    assert_true(out.create_hs);
    assert_false(out.create_sf);
    assert_int_equal(out.nconflicts, 0);
    expect_hs(out.hs_write, "name", "Apollo");
    expect_hs(out.hs_write, "budget", "419");
    expect_hs(out.hs_write, "project_status", "in_progress");
    expect_hs(out.hs_write, "code", NULL);       /* always_hubspot */
    expect_hs(out.hs_write, "seats", NULL);      /* blank */
    expect_hs(out.hs_write, "calc_notes", NULL); /* calculated */
    expect_hs(out.hs_write, "score", NULL);      /* read-only */
    expect_hs(out.hs_write, "formula", "f");     /* Salesforce formulas can be sent */
    expect_hs(out.hs_write, "locked", "l");
    expect_hs(out.hs_write, "kickoff", NULL); /* dont_sync */
    assert_int_equal(json_object_object_length(out.hs_write), 5);
    assert_int_equal(json_object_object_length(out.sf_write), 0);
    /* the base: what the new record holds afterwards */
    expect_hs(out.hs_base_new, "name", "Apollo");
    expect_hs(out.hs_base_new, "code", "");
    expect_hs(out.hs_base_new, "score", "");
    expect_hs(out.hs_base_new, "kickoff", NULL);
    expect_sf(out.sf_base_new, "Code__c", "\"X1\"");
    expect_sf(out.sf_base_new, "Seats__c", "null");
    expect_sf(out.sf_base_new, "Kickoff__c", NULL);
    merge_output_free(&out);

    expect_echo_quiet(&t.m, (struct texts){create_sf_rec, NULL, NULL, NULL});

    /* the record rule forbids creating: nothing at all */
    t.m.salesforce_to_hubspot.create = false;
    assert_int_equal(merge_texts(&t.m, (struct texts){create_sf_rec, NULL, NULL, NULL}, &out),
                     MERGE_OK);
    assert_false(out.create_hs);
    assert_false(out.create_sf);
    expect_no_writes(&out);
    merge_output_free(&out);

    /* update off does not matter for a create */
    t.m.salesforce_to_hubspot.create = true;
    t.m.salesforce_to_hubspot.update = false;
    assert_int_equal(merge_texts(&t.m, (struct texts){create_sf_rec, NULL, NULL, NULL}, &out),
                     MERGE_OK);
    assert_true(out.create_hs);
    assert_int_equal(json_object_object_length(out.hs_write), 5);
    merge_output_free(&out);
}

static void test_create_sf(void **state)
{
    struct test_map t;
    struct merge_output out;

    (void)state;
    tm_init(&t);
    add_create_fields(&t);
    /* a stale base is ignored on a create */
    assert_int_equal(merge_texts(&t.m,
                                 (struct texts){NULL, create_hs_rec, "{\"Name\":\"Zeus\"}",
                                                "{\"name\":\"Zeus\"}"},
                                 &out),
                     MERGE_OK);
    assert_true(out.create_sf);
    assert_false(out.create_hs);
    assert_int_equal(out.nconflicts, 0);
    expect_sf(out.sf_write, "Name", "\"Zeus\"");
    expect_sf(out.sf_write, "Budget__c", "12.5"); /* prefer: Salesforce is blank */
    expect_sf(out.sf_write, "Status__c", NULL);   /* always_salesforce */
    expect_sf(out.sf_write, "Code__c", "\"Y1\"");
    expect_sf(out.sf_write, "Seats__c", NULL);     /* blank */
    expect_sf(out.sf_write, "Score__c", "\"9\"");  /* read-only in HubSpot, readable */
    expect_sf(out.sf_write, "Formula__c", NULL);   /* calculated */
    expect_sf(out.sf_write, "Locked__c", "\"l\""); /* createable though not updateable */
    expect_sf(out.sf_write, "Kickoff__c", NULL);   /* dont_sync */
    assert_int_equal(json_object_object_length(out.sf_write), 5);
    assert_int_equal(json_object_object_length(out.hs_write), 0);
    expect_sf(out.sf_base_new, "Status__c", "null");
    expect_hs(out.hs_base_new, "project_status", "done");
    merge_output_free(&out);

    expect_echo_quiet(&t.m, (struct texts){NULL, create_hs_rec, NULL, NULL});

    t.m.hubspot_to_salesforce.create = false;
    assert_int_equal(merge_texts(&t.m, (struct texts){NULL, create_hs_rec, NULL, NULL}, &out),
                     MERGE_OK);
    assert_false(out.create_sf);
    expect_no_writes(&out);
    merge_output_free(&out);
}

/* ---- record rules and writability on updates ---- */

static void test_update_rules_block_writes(void **state)
{
    struct test_map t;
    struct merge_output out;
    const struct texts sf_changed = {"{\"Name\":\"B\"}", "{\"name\":\"A\"}", "{\"Name\":\"A\"}",
                                     "{\"name\":\"A\"}"};
    const struct texts hs_changed = {"{\"Name\":\"A\"}", "{\"name\":\"B\"}", "{\"Name\":\"A\"}",
                                     "{\"name\":\"A\"}"};
    const struct texts both = {"{\"Name\":\"B\"}", "{\"name\":\"C\"}", "{\"Name\":\"A\"}",
                               "{\"name\":\"A\"}"};

    (void)state;
    tm_init(&t);
    tm_add(&t, "Name", "name", FIELD_RULE_TWO_WAY);
    t.m.salesforce_to_hubspot.update = false;
    assert_int_equal(merge_texts(&t.m, sf_changed, &out), MERGE_OK);
    expect_no_writes(&out);
    /* the dropped write is forgotten: the base is what each side holds */
    expect_sf(out.sf_base_new, "Name", "\"B\"");
    expect_hs(out.hs_base_new, "name", "A");
    merge_output_free(&out);
    expect_echo_quiet(&t.m, sf_changed);

    /* the other direction still works */
    assert_int_equal(merge_texts(&t.m, hs_changed, &out), MERGE_OK);
    expect_sf(out.sf_write, "Name", "\"B\"");
    merge_output_free(&out);

    /* a conflict won by a blocked side is still reported, but nothing is written */
    assert_int_equal(merge_texts(&t.m, both, &out), MERGE_OK);
    expect_no_writes(&out);
    assert_int_equal(out.nconflicts, 1);
    assert_int_equal(out.conflicts[0].winner, MAPPING_WINNER_SALESFORCE);
    merge_output_free(&out);

    t.m.salesforce_to_hubspot.update = true;
    t.m.hubspot_to_salesforce.update = false;
    assert_int_equal(merge_texts(&t.m, hs_changed, &out), MERGE_OK);
    expect_no_writes(&out);
    merge_output_free(&out);
    assert_int_equal(merge_texts(&t.m, sf_changed, &out), MERGE_OK);
    expect_hs(out.hs_write, "name", "B");
    merge_output_free(&out);
    /* create flags stay false when both records exist */
    t.m.hubspot_to_salesforce.create = true;
    assert_int_equal(merge_texts(&t.m, sf_changed, &out), MERGE_OK);
    assert_false(out.create_sf);
    assert_false(out.create_hs);
    merge_output_free(&out);
}

static void test_unwritable_targets(void **state)
{
    struct test_map t;
    struct merge_output out;

    (void)state;
    tm_init(&t);
    tm_add(&t, "Formula__c", "formula", FIELD_RULE_TWO_WAY);  /* calculated in Salesforce */
    tm_add(&t, "Locked__c", "locked", FIELD_RULE_TWO_WAY);    /* not updateable */
    tm_add(&t, "Score__c", "score", FIELD_RULE_TWO_WAY);      /* read-only in HubSpot */
    tm_add(&t, "Notes__c", "calc_notes", FIELD_RULE_TWO_WAY); /* calculated in HubSpot */
    /* HubSpot changed formula and locked: neither can be written to Salesforce */
    assert_int_equal(
        merge_texts(&t.m,
                    (struct texts){"{\"Formula__c\":\"f\",\"Locked__c\":\"l\",\"Score__c\":\"2\","
                                   "\"Notes__c\":\"m\"}",
                                   "{\"formula\":\"g\",\"locked\":\"k\",\"score\":\"1\","
                                   "\"calc_notes\":\"n\"}",
                                   "{\"Formula__c\":\"f\",\"Locked__c\":\"l\",\"Score__c\":\"1\","
                                   "\"Notes__c\":\"n\"}",
                                   "{\"formula\":\"f\",\"locked\":\"l\",\"score\":\"1\","
                                   "\"calc_notes\":\"n\"}"},
                    &out),
        MERGE_OK);
    expect_no_writes(&out);
    expect_sf(out.sf_base_new, "Formula__c", "\"f\"");
    expect_hs(out.hs_base_new, "formula", "g");
    expect_sf(out.sf_base_new, "Score__c", "\"2\"");
    expect_hs(out.hs_base_new, "score", "1");
    merge_output_free(&out);

    /* the writable directions still work */
    assert_int_equal(merge_texts(&t.m,
                                 (struct texts){"{\"Formula__c\":\"g\",\"Locked__c\":\"k\"}",
                                                "{\"formula\":\"f\",\"locked\":\"l\"}",
                                                "{\"Formula__c\":\"f\",\"Locked__c\":\"l\"}",
                                                "{\"formula\":\"f\",\"locked\":\"l\"}"},
                                 &out),
                     MERGE_OK);
    expect_hs(out.hs_write, "formula", "g");
    expect_hs(out.hs_write, "locked", "k");
    merge_output_free(&out);
}

/* ---- values: maps, canonical comparison ---- */

static void test_value_map_both_ways(void **state)
{
    struct test_map t;
    struct merge_output out;

    (void)state;
    tm_init(&t);
    tm_add(&t, "Status__c", "project_status", FIELD_RULE_TWO_WAY);
    /* Salesforce -> HubSpot through the map */
    assert_int_equal(merge_texts(&t.m,
                                 (struct texts){"{\"Status__c\":\"In Progress\"}",
                                                "{\"project_status\":\"planned\"}",
                                                "{\"Status__c\":\"Planned\"}",
                                                "{\"project_status\":\"planned\"}"},
                                 &out),
                     MERGE_OK);
    expect_hs(out.hs_write, "project_status", "in_progress");
    expect_hs(out.hs_base_new, "project_status", "in_progress");
    merge_output_free(&out);

    /* HubSpot -> Salesforce: the first pair naming the option */
    assert_int_equal(
        merge_texts(&t.m,
                    (struct texts){"{\"Status__c\":\"Planned\"}", "{\"project_status\":\"done\"}",
                                   "{\"Status__c\":\"Planned\"}",
                                   "{\"project_status\":\"planned\"}"},
                    &out),
        MERGE_OK);
    expect_sf(out.sf_write, "Status__c", "\"Completed\"");
    expect_sf(out.sf_base_new, "Status__c", "\"Completed\"");
    expect_hs(out.hs_base_new, "project_status", "done");
    merge_output_free(&out);

    /* Closed maps to done too: the sides agree, no write */
    assert_int_equal(
        merge_texts(&t.m,
                    (struct texts){"{\"Status__c\":\"Closed\"}", "{\"project_status\":\"done\"}",
                                   "{\"Status__c\":\"Completed\"}",
                                   "{\"project_status\":\"done\"}"},
                    &out),
        MERGE_OK);
    expect_no_writes(&out);
    expect_sf(out.sf_base_new, "Status__c", "\"Closed\"");
    merge_output_free(&out);

    /* an agreeing first sync is not a conflict and writes nothing */
    assert_int_equal(merge_texts(&t.m,
                                 (struct texts){"{\"Status__c\":\"Closed\"}",
                                                "{\"project_status\":\"done\"}", NULL, NULL},
                                 &out),
                     MERGE_OK);
    expect_no_writes(&out);
    merge_output_free(&out);
}

static void test_canonical_values_not_changes(void **state)
{
    struct test_map t;
    struct merge_output out;

    (void)state;
    tm_init(&t);
    tm_add(&t, "Budget__c", "budget", FIELD_RULE_TWO_WAY);
    tm_add(&t, "Kickoff__c", "kickoff", FIELD_RULE_TWO_WAY);
    tm_add(&t, "Seats__c", "seats", FIELD_RULE_TWO_WAY);
    tm_add(&t, "Is_Billable__c", "is_billable", FIELD_RULE_TWO_WAY);
    tm_add(&t, "Start_Date__c", "start_date", FIELD_RULE_TWO_WAY);
    assert_int_equal(
        merge_texts(
            &t.m,
            (struct texts){
                "{\"Budget__c\":419.0,\"Kickoff__c\":\"2024-01-02T04:04:05.000+0100\","
                "\"Seats__c\":3,\"Is_Billable__c\":true,\"Start_Date__c\":\"2024-03-01\"}",
                "{\"budget\":\"419.0\",\"kickoff\":\"2024-01-02T03:04:05Z\",\"seats\":\"3.00\","
                "\"is_billable\":\"TRUE\",\"start_date\":\"1709251200000\"}",
                "{\"Budget__c\":419,\"Kickoff__c\":\"2024-01-02T03:04:05.000+0000\","
                "\"Seats__c\":3.0,\"Is_Billable__c\":true,\"Start_Date__c\":\"2024-03-01\"}",
                "{\"budget\":\"419\",\"kickoff\":\"1704164645000\",\"seats\":\"3\","
                "\"is_billable\":\"true\",\"start_date\":\"2024-03-01\"}"},
            &out),
        MERGE_OK);
    expect_no_writes(&out);
    assert_int_equal(out.nconflicts, 0);
    merge_output_free(&out);

    /* both "changed" only in form, first sync: they agree, no write */
    assert_int_equal(merge_texts(&t.m,
                                 (struct texts){"{\"Budget__c\":419.0,\"Kickoff__c\":"
                                                "\"2024-01-02T04:04:05.000+0100\"}",
                                                "{\"budget\":\"419\",\"kickoff\":"
                                                "\"1704164645000\"}",
                                                NULL, NULL},
                                 &out),
                     MERGE_OK);
    expect_hs(out.hs_write, "budget", NULL);
    expect_hs(out.hs_write, "kickoff", NULL);
    /* the fields absent from both records are blank on both sides: they agree too */
    assert_int_equal(json_object_object_length(out.hs_write), 0);
    assert_int_equal(json_object_object_length(out.sf_write), 0);
    merge_output_free(&out);

    /* a change in form only on one side and a real change on the other: no conflict, the real
       change wins even against the conflict winner */
    assert_int_equal(
        merge_texts(&t.m,
                    (struct texts){"{\"Budget__c\":419.0,\"Kickoff__c\":"
                                   "\"2024-01-02T04:04:05.000+0100\"}",
                                   "{\"budget\":\"500\",\"kickoff\":\"2025-06-01T00:00:00Z\"}",
                                   "{\"Budget__c\":419,\"Kickoff__c\":"
                                   "\"2024-01-02T03:04:05.000+0000\"}",
                                   "{\"budget\":\"419.0\",\"kickoff\":\"1704164645000\"}"},
                    &out),
        MERGE_OK);
    assert_int_equal(out.nconflicts, 0);
    expect_sf(out.sf_write, "Budget__c", "500");
    expect_sf(out.sf_write, "Kickoff__c", "\"2025-06-01T00:00:00.000Z\"");
    assert_int_equal(json_object_object_length(out.hs_write), 0);
    merge_output_free(&out);
    t.m.conflict_winner = MAPPING_WINNER_HUBSPOT;
    assert_int_equal(merge_texts(&t.m,
                                 (struct texts){"{\"Budget__c\":500}", "{\"budget\":\"419.0\"}",
                                                "{\"Budget__c\":419}", "{\"budget\":\"419\"}"},
                                 &out),
                     MERGE_OK);
    assert_int_equal(out.nconflicts, 0);
    expect_hs(out.hs_write, "budget", "500");
    assert_int_equal(json_object_object_length(out.sf_write), 0);
    merge_output_free(&out);
    t.m.conflict_winner = MAPPING_WINNER_SALESFORCE;

    /* a real change is converted to the target's format */
    assert_int_equal(merge_texts(&t.m,
                                 (struct texts){"{\"Budget__c\":419,\"Kickoff__c\":"
                                                "\"2024-01-02T03:04:05.000+0000\"}",
                                                "{\"budget\":\"419\",\"kickoff\":"
                                                "\"2024-01-02T05:04:05+01:00\"}",
                                                "{\"Budget__c\":419,\"Kickoff__c\":"
                                                "\"2024-01-02T03:04:05.000+0000\"}",
                                                "{\"budget\":\"419\",\"kickoff\":"
                                                "\"1704164645000\"}"},
                                 &out),
                     MERGE_OK);
    expect_sf(out.sf_write, "Kickoff__c", "\"2024-01-02T04:04:05.000Z\"");
    assert_int_equal(json_object_object_length(out.sf_write), 1);
    merge_output_free(&out);
}

static void test_case_insensitive_salesforce_names(void **state)
{
    struct test_map t;
    struct merge_output out;

    (void)state;
    tm_init(&t);
    tm_add(&t, "name", "name", FIELD_RULE_TWO_WAY); /* mapping spelled in another case */
    assert_int_equal(merge_texts(&t.m,
                                 (struct texts){"{\"Name\":\"B\"}", "{\"name\":\"A\"}",
                                                "{\"NAME\":\"A\"}", "{\"name\":\"A\"}"},
                                 &out),
                     MERGE_OK);
    expect_hs(out.hs_write, "name", "B");
    expect_sf(out.sf_base_new, "Name", "\"B\""); /* describe case */
    merge_output_free(&out);

    assert_int_equal(merge_texts(&t.m,
                                 (struct texts){"{\"NAME\":\"A\"}", "{\"name\":\"C\"}",
                                                "{\"Name\":\"A\"}", "{\"name\":\"A\"}"},
                                 &out),
                     MERGE_OK);
    expect_sf(out.sf_write, "Name", "\"C\"");
    merge_output_free(&out);
}

/* Values that do not convert are still compared: through the other direction's conversion,
 * else byte for byte, so equal values are not taken for a difference. */
static void test_unconvertible_values_compared(void **state)
{
    struct test_map t;
    struct merge_output out;
    size_t n = HS_STRING_MAX_CHARS + 10;
    char *big = malloc(n + 1), *sf_rec = malloc(n + 64), *hs_rec = malloc(n + 64);

    (void)state;
    assert_non_null(big);
    assert_non_null(sf_rec);
    assert_non_null(hs_rec);
    memset(big, 'x', n);
    big[n] = '\0';
    tm_init(&t);
    tm_add(&t, "Body__c", "body", FIELD_RULE_TWO_WAY);
    tm_add(&t, "Budget__c", "budget", FIELD_RULE_TWO_WAY);
    /* too long for HubSpot, fine for Salesforce: equal texts agree */
    snprintf(sf_rec, n + 64, "{\"Body__c\":\"%s\",\"Budget__c\":\"abc\"}", big);
    snprintf(hs_rec, n + 64, "{\"body\":\"%s\",\"budget\":\"abc\"}", big);
    assert_int_equal(merge_texts(&t.m, (struct texts){sf_rec, hs_rec, NULL, NULL}, &out), MERGE_OK);
    expect_no_writes(&out);
    merge_output_free(&out);
    /* they differ: Salesforce wins, and its value cannot be written */
    snprintf(hs_rec, n + 64, "{\"body\":\"y\",\"budget\":\"abc\"}");
    assert_int_equal(merge_texts(&t.m, (struct texts){sf_rec, hs_rec, NULL, NULL}, &out),
                     MERGE_CONVERSION);
    assert_non_null(strstr(out.error, "field Body__c -> body: "));
    assert_null(strstr(out.error, "Budget__c"));
    merge_output_free(&out);
    free(big);
    free(sf_rec);
    free(hs_rec);
}

/* ---- errors ---- */

static void test_conversion_errors(void **state)
{
    struct test_map t;
    struct merge_output out;

    (void)state;
    tm_init(&t);
    tm_add(&t, "Name", "name", FIELD_RULE_TWO_WAY);
    tm_add(&t, "Code__c", "code", FIELD_RULE_TWO_WAY);
    tm_add(&t, "Status__c", "project_status", FIELD_RULE_TWO_WAY);
    assert_int_equal(merge_texts(&t.m,
                                 (struct texts){"{\"Name\":\"B\",\"Code__c\":\"A\","
                                                "\"Status__c\":\"Planned\"}",
                                                "{\"name\":\"A\",\"code\":\"TOOLONG\","
                                                "\"project_status\":\"cancelled\"}",
                                                "{\"Name\":\"A\",\"Code__c\":\"A\","
                                                "\"Status__c\":\"Planned\"}",
                                                "{\"name\":\"A\",\"code\":\"A\","
                                                "\"project_status\":\"planned\"}"},
                                 &out),
                     MERGE_CONVERSION);
    assert_non_null(strstr(out.error, "field Code__c -> code: "));
    assert_non_null(strstr(out.error, "TOOLONG"));
    assert_non_null(strstr(out.error, "field Status__c -> project_status: "));
    assert_non_null(strstr(out.error, "cancelled"));
    assert_null(strstr(out.error, "Name"));
    assert_null(out.hs_write);
    assert_null(out.sf_write);
    assert_null(out.sf_base_new);
    assert_null(out.hs_base_new);
    assert_int_equal(out.nconflicts, 0);
    merge_output_free(&out);

    /* the same unconvertible values need not be written: no error */
    t.f[1].rule = FIELD_RULE_ALWAYS_SALESFORCE;
    t.f[2].rule = FIELD_RULE_PREFER_SALESFORCE_UNLESS_BLANK;
    assert_int_equal(merge_texts(&t.m,
                                 (struct texts){"{\"Name\":\"B\",\"Code__c\":\"A\","
                                                "\"Status__c\":\"Planned\"}",
                                                "{\"name\":\"A\",\"code\":\"TOOLONG\","
                                                "\"project_status\":\"cancelled\"}",
                                                "{\"Name\":\"A\",\"Code__c\":\"A\","
                                                "\"Status__c\":\"Planned\"}",
                                                "{\"name\":\"A\",\"code\":\"A\","
                                                "\"project_status\":\"planned\"}"},
                                 &out),
                     MERGE_OK);
    expect_hs(out.hs_write, "name", "B");
    assert_int_equal(json_object_object_length(out.hs_write), 1);
    assert_int_equal(json_object_object_length(out.sf_write), 0);
    expect_hs(out.hs_base_new, "code", "TOOLONG");
    merge_output_free(&out);

    /* nor when the write is blocked by the record rules */
    t.f[1].rule = FIELD_RULE_TWO_WAY;
    t.m.hubspot_to_salesforce.update = false;
    assert_int_equal(merge_texts(&t.m,
                                 (struct texts){"{\"Code__c\":\"A\"}", "{\"code\":\"TOOLONG\"}",
                                                "{\"Code__c\":\"A\"}", "{\"code\":\"A\"}"},
                                 &out),
                     MERGE_OK);
    expect_no_writes(&out);
    merge_output_free(&out);

    /* Salesforce -> HubSpot: an unmapped picklist value on a create */
    assert_int_equal(
        merge_texts(&t.m, (struct texts){"{\"Status__c\":\"Mystery\"}", NULL, NULL, NULL}, &out),
        MERGE_CONVERSION);
    assert_non_null(strstr(out.error, "field Status__c -> project_status: "));
    assert_non_null(strstr(out.error, "Mystery"));
    assert_false(out.create_hs);
    merge_output_free(&out);
}

static void test_field_missing_from_schema(void **state)
{
    struct test_map t;
    struct merge_output out;

    (void)state;
    tm_init(&t);
    tm_add(&t, "Name", "name", FIELD_RULE_TWO_WAY);
    tm_add(&t, "Gone__c", "name", FIELD_RULE_TWO_WAY);
    tm_add(&t, "Code__c", "gone", FIELD_RULE_TWO_WAY);
    tm_add(&t, "Nope__c", "nope", FIELD_RULE_DONT_SYNC); /* never looked at */
    assert_int_equal(merge_texts(&t.m, (struct texts){"{\"Name\":\"A\"}", "{}", NULL, NULL}, &out),
                     MERGE_CONVERSION);
    assert_non_null(strstr(out.error, "Salesforce field Gone__c"));
    assert_non_null(strstr(out.error, "HubSpot property gone"));
    assert_null(strstr(out.error, "Nope__c"));
    merge_output_free(&out);
}

static void test_invalid_arguments(void **state)
{
    struct test_map t;
    struct merge_output out;
    json_object *obj = parse("{\"Name\":\"A\"}");
    json_object *arr = parse("[1]");
    json_object *str = parse("\"x\"");
    struct merge_input ok = {&t.m, &sf_project, &hs_project, obj, obj, NULL, NULL, NULL, NULL};
    struct merge_input in;

    (void)state;
    tm_init(&t);
    tm_add(&t, "Name", "name", FIELD_RULE_TWO_WAY);
    assert_int_equal(sync_merge(&ok, &out), MERGE_OK);
    merge_output_free(&out);

    assert_int_equal(sync_merge(&ok, NULL), MERGE_INVALID);
    assert_int_equal(sync_merge(NULL, &out), MERGE_INVALID);
    assert_null(out.hs_write);
    assert_true(out.error[0] != '\0');
    merge_output_free(&out);

    in = ok, in.m = NULL;
    assert_int_equal(sync_merge(&in, &out), MERGE_INVALID);
    merge_output_free(&out);
    in = ok, in.sf = NULL;
    assert_int_equal(sync_merge(&in, &out), MERGE_INVALID);
    merge_output_free(&out);
    in = ok, in.hs = NULL;
    assert_int_equal(sync_merge(&in, &out), MERGE_INVALID);
    merge_output_free(&out);
    in = ok, in.sf_record = NULL, in.hs_properties = NULL;
    assert_int_equal(sync_merge(&in, &out), MERGE_INVALID);
    merge_output_free(&out);
    in = ok, in.sf_record = arr;
    assert_int_equal(sync_merge(&in, &out), MERGE_INVALID);
    merge_output_free(&out);
    in = ok, in.hs_properties = str;
    assert_int_equal(sync_merge(&in, &out), MERGE_INVALID);
    merge_output_free(&out);
    in = ok, in.sf_base = arr;
    assert_int_equal(sync_merge(&in, &out), MERGE_INVALID);
    merge_output_free(&out);
    in = ok, in.hs_base = str;
    assert_int_equal(sync_merge(&in, &out), MERGE_INVALID);
    assert_null(out.sf_write);
    merge_output_free(&out);
    t.m.fields = NULL;
    assert_int_equal(sync_merge(&ok, &out), MERGE_INVALID);
    merge_output_free(&out);

    merge_output_free(NULL);
    json_object_put(obj);
    json_object_put(arr);
    json_object_put(str);
}

static void test_helpers(void **state)
{
    json_object *empty = json_object_new_string("");
    json_object *text = json_object_new_string("x");
    json_object *zero = json_object_new_int(0);
    json_object *no = json_object_new_boolean(false);

    (void)state;
    assert_string_equal(merge_reason_name(MERGE_REASON_FIELD_RULE), "field_rule");
    assert_string_equal(merge_reason_name(MERGE_REASON_CONFLICT_WINNER), "conflict_winner");
    assert_string_equal(merge_reason_name(MERGE_REASON_BLANK), "blank");
    assert_string_equal(merge_reason_name((enum merge_winner_reason)42), "unknown");
    assert_true(merge_sf_blank(NULL));
    assert_true(merge_sf_blank(empty));
    assert_false(merge_sf_blank(text));
    assert_false(merge_sf_blank(zero));
    assert_false(merge_sf_blank(no));
    assert_true(merge_hs_blank(NULL));
    assert_true(merge_hs_blank(""));
    assert_false(merge_hs_blank(" "));
    assert_false(merge_hs_blank("0"));
    json_object_put(empty);
    json_object_put(text);
    json_object_put(zero);
    json_object_put(no);
}

/* ---- the echo property over random cases ---- */

struct pool {
    const char *sf, *hs;      /* mapping */
    const char *sf_values[6]; /* JSON texts; "-" = member absent */
    const char *hs_values[6]; /* texts; NULL = member absent */
};

static const struct pool pools[] = {
    {"Name",
     "name",
     {"-", "null", "\"A\"", "\"B\"", "\"\"", "\"a\""},
     {NULL, "", "A", "B", "C", "a"}},
    {"Budget__c",
     "budget",
     {"-", "null", "419", "419.0", "12.5", "0.1"},
     {NULL, "", "419", "419.0", "12.50", "abc"}},
    {"Seats__c", "seats", {"-", "null", "3", "4", "3.0", "-7"}, {NULL, "", "3", "3.0", "4.5", "4"}},
    {"Status__c",
     "project_status",
     {"-", "null", "\"Planned\"", "\"Completed\"", "\"Closed\"", "\"In Progress\""},
     {NULL, "", "planned", "done", "in_progress", "cancelled"}},
    {"Kickoff__c",
     "kickoff",
     {"-", "null", "\"2024-01-02T03:04:05.000+0000\"", "\"2024-01-02T04:04:05.000+0100\"",
      "\"2025-06-01T00:00:00.000+0000\"", "\"2024-01-02T03:04:05.000Z\""},
     {NULL, "", "1704164645000", "2024-01-02T03:04:05Z", "2025-06-01T00:00:00.000Z", "soon"}},
    {"Is_Billable__c",
     "is_billable",
     {"-", "false", "true", "false", "true", "null"},
     {NULL, "", "true", "false", "TRUE", "false"}},
    {"Start_Date__c",
     "start_date",
     {"-", "null", "\"2024-03-01\"", "\"2024-03-02\"", "\"2024-03-01\"", "null"},
     {NULL, "", "2024-03-01", "1709251200000", "2024-03-02", ""}},
    {"Formula__c",
     "formula",
     {"-", "\"x\"", "\"y\"", "null", "\"x\"", "\"z\""},
     {NULL, "", "x", "z", "y", "x"}},
    {"Locked__c",
     "locked",
     {"-", "\"x\"", "\"y\"", "null", "\"x\"", "\"z\""},
     {NULL, "", "x", "z", "y", "x"}},
    {"Score__c",
     "score",
     {"-", "\"1\"", "\"2\"", "null", "\"1\"", "\"3\""},
     {NULL, "", "1", "3", "2", "1"}},
    {"Notes__c",
     "calc_notes",
     {"-", "\"1\"", "\"2\"", "null", "\"1\"", "\"3\""},
     {NULL, "", "1", "3", "2", "1"}},
    {"Code__c",
     "code",
     {"-", "null", "\"AB\"", "\"ABCDE\"", "\"ab\"", "\"\""},
     {NULL, "", "AB", "ABCDEF", "ab", "ABCDE"}},
};

#define NPOOLS (sizeof(pools) / sizeof(pools[0]))

static uint32_t rng_state;

static uint32_t rng(void)
{
    /* xorshift32 */
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 17;
    rng_state ^= rng_state << 5;
    return rng_state;
}

static uint32_t pick(uint32_t n)
{
    return rng() % n;
}

static void add_sf_value(json_object *obj, const char *key, const char *text)
{
    if (strcmp(text, "-") != 0)
        json_object_object_add(obj, key, strcmp(text, "null") == 0 ? NULL : parse(text));
}

static void add_hs_value(json_object *obj, const char *key, const char *text)
{
    if (text != NULL)
        json_object_object_add(obj, key, json_object_new_string(text));
}

/* A base: NULL (never synced), or per field absent or a value from the pool. */
static void random_bases(json_object **sf_base, json_object **hs_base)
{
    *sf_base = NULL;
    *hs_base = NULL;
    if (pick(5) == 0)
        return;
    *sf_base = json_object_new_object();
    *hs_base = json_object_new_object();
    for (size_t f = 0; f < NPOOLS; f++) {
        if (pick(6) != 0)
            add_sf_value(*sf_base, pools[f].sf, pools[f].sf_values[pick(6)]);
        if (pick(6) != 0) {
            const char *h = pools[f].hs_values[pick(6)];
            add_hs_value(*hs_base, pools[f].hs, h != NULL ? h : "");
        }
    }
}

static enum merge_result random_case(bool *echoed)
{
    struct test_map t;
    struct merge_input in = {&t.m, &sf_project, &hs_project, NULL, NULL, NULL, NULL, NULL, NULL};
    struct merge_output out;
    enum merge_result rc;
    bool missing_sf = pick(10) == 0, missing_hs = !missing_sf && pick(10) == 0;

    tm_init(&t);
    t.m.conflict_winner = pick(2) ? MAPPING_WINNER_HUBSPOT : MAPPING_WINNER_SALESFORCE;
    t.m.salesforce_to_hubspot.create = pick(4) != 0;
    t.m.salesforce_to_hubspot.update = pick(4) != 0;
    t.m.hubspot_to_salesforce.create = pick(4) != 0;
    t.m.hubspot_to_salesforce.update = pick(4) != 0;
    for (size_t f = 0; f < NPOOLS; f++) {
        if (pick(4) != 0)
            tm_add(&t, pools[f].sf, pools[f].hs, (enum field_rule)pick(5));
    }
    if (!missing_sf) {
        in.sf_record = parse("{\"Id\":\"a01\"}");
        for (size_t f = 0; f < NPOOLS; f++)
            add_sf_value(in.sf_record, pools[f].sf, pools[f].sf_values[pick(6)]);
    }
    if (!missing_hs) {
        in.hs_properties = json_object_new_object();
        for (size_t f = 0; f < NPOOLS; f++)
            add_hs_value(in.hs_properties, pools[f].hs, pools[f].hs_values[pick(6)]);
    }
    random_bases(&in.sf_base, &in.hs_base);
    rc = sync_merge(&in, &out);
    *echoed = false;
    if (rc == MERGE_OK)
        *echoed = echo_is_quiet(&in, &out);
    else
        assert_int_equal(rc, MERGE_CONVERSION);
    merge_output_free(&out);
    json_object_put(in.sf_record);
    json_object_put(in.hs_properties);
    json_object_put(in.sf_base);
    json_object_put(in.hs_base);
    return rc;
}

static void test_echo_random(void **state)
{
    size_t ok = 0, conversion = 0, echoed = 0;

    (void)state;
    rng_state = 0x5eed1234u;
    for (int i = 0; i < 3000; i++) {
        bool e = false;

        if (random_case(&e) == MERGE_OK)
            ok++;
        else
            conversion++;
        echoed += e;
    }
    print_message("random merges: %zu ok (%zu echoed), %zu conversion errors\n", ok, echoed,
                  conversion);
    assert_true(ok > 300);
    assert_true(echoed > 300);
    assert_true(conversion > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decision_table),
        cmocka_unit_test(test_dont_sync),
        cmocka_unit_test(test_prefer_fills_blank),
        cmocka_unit_test(test_first_sync_no_conflict),
        cmocka_unit_test(test_first_sync_newer_record_wins),
        cmocka_unit_test(test_field_added_later_no_conflict),
        cmocka_unit_test(test_create_hs),
        cmocka_unit_test(test_create_sf),
        cmocka_unit_test(test_update_rules_block_writes),
        cmocka_unit_test(test_unwritable_targets),
        cmocka_unit_test(test_value_map_both_ways),
        cmocka_unit_test(test_canonical_values_not_changes),
        cmocka_unit_test(test_case_insensitive_salesforce_names),
        cmocka_unit_test(test_unconvertible_values_compared),
        cmocka_unit_test(test_conversion_errors),
        cmocka_unit_test(test_field_missing_from_schema),
        cmocka_unit_test(test_invalid_arguments),
        cmocka_unit_test(test_helpers),
        cmocka_unit_test(test_echo_random),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
