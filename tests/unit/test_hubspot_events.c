/* test_hubspot_events.c: unit tests for handlers/hubspot_events (webhook body parser, keys).
 *
 * Covers the documented event shapes (generic object.* events, custom objects, associations,
 * merges, legacy contact.* with eventType), every result code, HubSpot's lenient number forms,
 * int64 ids above 2^53, text conversion of property values, UTF-8 and \u escapes, the raw JSON
 * kept for storage and the idempotency key rules. Must not depend on other synkro modules. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "handlers/hubspot_events.h"

#define MAX HUBSPOT_EVENTS_MAX_PER_REQUEST

static const char property_change[] =
    "[{\"eventId\":1653735237,\"subscriptionId\":2281617,\"portalId\":62515,"
    "\"appId\":1160452,\"occurredAt\":1697736405918,\"subscriptionType\":\"object.propertyChange\","
    "\"attemptNumber\":0,\"objectId\":21168431,\"objectTypeId\":\"2-123\",\"propertyName\":"
    "\"name\",\"propertyValue\":\"Widget A/B\",\"changeSource\":\"INTEGRATION\","
    "\"sourceId\":\"1160452\",\"isSensitive\":false}]";

static const char creation_and_deletion[] =
    "[{\"eventId\":100,\"subscriptionId\":200,\"portalId\":62515,\"appId\":1160452,"
    "\"occurredAt\":1697736405000,\"subscriptionType\":\"object.creation\",\"attemptNumber\":0,"
    "\"objectId\":123,\"objectTypeId\":\"0-3\",\"changeFlag\":\"CREATED\","
    "\"changeSource\":\"CRM_UI\",\"sourceId\":\"userId:123\"},"
    "{\"eventId\":101,\"subscriptionId\":201,\"portalId\":62515,\"appId\":1160452,"
    "\"occurredAt\":1697736406000,\"subscriptionType\":\"object.deletion\",\"attemptNumber\":2,"
    "\"objectId\":124,\"objectTypeId\":\"0-2\",\"changeFlag\":\"DELETED\","
    "\"changeSource\":\"API\"}]";

static const char association_change[] =
    "[{\"eventId\":3016540787,\"subscriptionId\":2281620,\"portalId\":62515,\"appId\":1160452,"
    "\"occurredAt\":1697736500000,\"subscriptionType\":\"object.associationChange\","
    "\"attemptNumber\":0,\"changeSource\":\"USER\",\"associationType\":\"CONTACT_TO_COMPANY\","
    "\"associationCategory\":\"HUBSPOT_DEFINED\",\"associationTypeId\":1,\"fromObjectId\":51,"
    "\"toObjectId\":9993,\"fromObjectTypeId\":\"0-1\",\"toObjectTypeId\":\"0-2\","
    "\"associationRemoved\":false,\"isPrimaryAssociation\":true}]";

static const char merge[] =
    "[{\"eventId\":7,\"subscriptionId\":8,\"portalId\":62515,\"appId\":1160452,"
    "\"occurredAt\":1697736600000,\"subscriptionType\":\"object.merge\",\"attemptNumber\":0,"
    "\"objectId\":5001,\"objectTypeId\":\"0-1\",\"changeSource\":\"CRM_UI\","
    "\"primaryObjectId\":5001,\"mergedObjectIds\":[5002,\"9007199254740993\"],"
    "\"newObjectId\":5004,\"numberOfPropertiesMoved\":12}]";

static const char legacy_contact[] =
    "[{\"eventId\":\"1\",\"subscriptionId\":\"12345\",\"portalId\":\"62515\","
    "\"occurredAt\":\"1462216307945\",\"eventType\":\"contact.propertyChange\","
    "\"attemptNumber\":0,\"objectId\":123,\"changeSource\":\"CRM\",\"propertyName\":"
    "\"firstname\",\"propertyValue\":\"sample-value\"}]";

/* A one-event body "[{fields}]" in a static buffer. */
static char *event_json(const char *fields)
{
    static char buf[4096];
    int n = snprintf(buf, sizeof(buf), "[{%s}]", fields);

    assert_true(n > 0 && (size_t)n < sizeof(buf));
    return buf;
}

#define BASE_FIELDS                                                                                \
    "\"eventId\":1,\"portalId\":2,\"occurredAt\":3,\"subscriptionType\":\"object.creation\","      \
    "\"objectId\":4,\"objectTypeId\":\"0-1\""

static int parse(const char *body, struct hubspot_event_batch **b, char *err, size_t errlen)
{
    return hubspot_events_parse(body, strlen(body), MAX, b, err, errlen);
}

static void expect_result(const char *body, int want, const char *err_part)
{
    struct hubspot_event_batch *b = (struct hubspot_event_batch *)1;
    char err[256];
    int rc = parse(body, &b, err, sizeof(err));

    if (rc != want)
        fail_msg("body %s: got %s (%s), want %s", body, hubspot_events_result_name(rc), err,
                 hubspot_events_result_name(want));
    if (want == HS_EV_OK) {
        assert_non_null(b);
        hubspot_event_batch_free(b);
        return;
    }
    assert_null(b);
    assert_true(strlen(err) > 0);
    if (err_part != NULL && strstr(err, err_part) == NULL)
        fail_msg("err \"%s\" lacks \"%s\"", err, err_part);
}

static struct hubspot_event_batch *parse_ok(const char *body)
{
    struct hubspot_event_batch *b = NULL;
    char err[256];
    int rc = parse(body, &b, err, sizeof(err));

    if (rc != HS_EV_OK)
        fail_msg("parse failed: %s: %s", hubspot_events_result_name(rc), err);
    assert_string_equal(err, "");
    return b;
}

static void test_property_change_custom_object(void **state)
{
    struct hubspot_event_batch *b = parse_ok(property_change);
    const struct hubspot_event *e = &b->events[0];

    assert_int_equal(b->count, 1);
    assert_int_equal(e->kind, HS_EVENT_UPDATE);
    assert_int_equal(e->event_id, 1653735237);
    assert_true(e->has.subscription_id);
    assert_int_equal(e->subscription_id, 2281617);
    assert_int_equal(e->portal_id, 62515);
    assert_true(e->has.app_id);
    assert_int_equal(e->app_id, 1160452);
    assert_int_equal(e->occurred_at, 1697736405918LL);
    assert_string_equal(e->subscription_type, "object.propertyChange");
    assert_true(e->has.attempt_number);
    assert_int_equal(e->attempt_number, 0);
    assert_int_equal(e->object_id, 21168431);
    assert_true(e->has.object_id_field);
    assert_string_equal(e->object_type_id, "2-123");
    assert_false(e->object_type_id_derived);
    assert_string_equal(e->property_name, "name");
    assert_string_equal(e->property_value, "Widget A/B");
    assert_string_equal(e->change_source, "INTEGRATION");
    assert_string_equal(e->source_id, "1160452");
    assert_null(e->association_type);
    assert_false(e->has.from_object_id);
    assert_null(e->merged_object_ids);
    /* Raw JSON: plain, '/' not escaped, unknown fields kept. */
    assert_int_equal(e->raw_json_len, strlen(e->raw_json));
    assert_non_null(strstr(e->raw_json, "\"propertyValue\":\"Widget A/B\""));
    assert_non_null(strstr(e->raw_json, "\"isSensitive\":false"));
    assert_int_equal(e->raw_json[0], '{');
    hubspot_event_batch_free(b);
}

static void test_creation_and_deletion(void **state)
{
    struct hubspot_event_batch *b = parse_ok(creation_and_deletion);

    assert_int_equal(b->count, 2);
    assert_int_equal(b->events[0].kind, HS_EVENT_CREATE);
    assert_string_equal(b->events[0].object_type_id, "0-3");
    assert_string_equal(b->events[0].source_id, "userId:123");
    assert_null(b->events[0].property_name);
    assert_null(b->events[0].property_value);
    assert_int_equal(b->events[1].kind, HS_EVENT_DELETE);
    assert_int_equal(b->events[1].object_id, 124);
    assert_int_equal(b->events[1].attempt_number, 2);
    assert_null(b->events[1].source_id);
    hubspot_event_batch_free(b);
}

static void test_association_change(void **state)
{
    struct hubspot_event_batch *b = parse_ok(association_change);
    const struct hubspot_event *e = &b->events[0];

    assert_int_equal(e->kind, HS_EVENT_ASSOCIATION);
    assert_string_equal(e->association_type, "CONTACT_TO_COMPANY");
    assert_string_equal(e->association_category, "HUBSPOT_DEFINED");
    assert_true(e->has.association_type_id);
    assert_int_equal(e->association_type_id, 1);
    assert_true(e->has.from_object_id && e->has.to_object_id);
    assert_int_equal(e->from_object_id, 51);
    assert_int_equal(e->to_object_id, 9993);
    assert_string_equal(e->from_object_type_id, "0-1");
    assert_string_equal(e->to_object_type_id, "0-2");
    assert_true(e->has.association_removed);
    assert_false(e->association_removed);
    assert_true(e->has.is_primary_association);
    assert_true(e->is_primary_association);
    /* No objectId/objectTypeId: taken from the "from" side. */
    assert_false(e->has.object_id_field);
    assert_int_equal(e->object_id, 51);
    assert_string_equal(e->object_type_id, "0-1");
    assert_true(e->object_type_id_derived);
    hubspot_event_batch_free(b);
}

static void test_merge(void **state)
{
    struct hubspot_event_batch *b = parse_ok(merge);
    const struct hubspot_event *e = &b->events[0];

    assert_int_equal(e->kind, HS_EVENT_MERGE);
    assert_true(e->has.primary_object_id && e->has.new_object_id && e->has.merged_object_ids);
    assert_int_equal(e->primary_object_id, 5001);
    assert_int_equal(e->new_object_id, 5004);
    assert_int_equal(e->merged_object_ids_count, 2);
    assert_int_equal(e->merged_object_ids[0], 5002);
    assert_true(e->merged_object_ids[1] == 9007199254740993LL);
    hubspot_event_batch_free(b);

    b = parse_ok(event_json(BASE_FIELDS ",\"mergedObjectIds\":[]"));
    assert_true(b->events[0].has.merged_object_ids);
    assert_int_equal(b->events[0].merged_object_ids_count, 0);
    hubspot_event_batch_free(b);
}

static void test_legacy_contact_event_type(void **state)
{
    struct hubspot_event_batch *b = parse_ok(legacy_contact);
    const struct hubspot_event *e = &b->events[0];

    assert_string_equal(e->subscription_type, "contact.propertyChange");
    assert_int_equal(e->kind, HS_EVENT_UPDATE);
    assert_string_equal(e->object_type_id, "0-1");
    assert_true(e->object_type_id_derived);
    assert_int_equal(e->portal_id, 62515);
    assert_int_equal(e->occurred_at, 1462216307945LL);
    assert_int_equal(e->event_id, 1);
    assert_false(e->has.app_id);
    assert_string_equal(e->property_value, "sample-value");
    hubspot_event_batch_free(b);
}

static void test_kinds_and_derived_types(void **state)
{
    static const struct {
        const char *type;
        enum hubspot_event_kind kind;
        const char *derived;
    } cases[] = {
        {"contact.creation", HS_EVENT_CREATE, "0-1"},
        {"company.propertyChange", HS_EVENT_UPDATE, "0-2"},
        {"deal.deletion", HS_EVENT_DELETE, "0-3"},
        {"ticket.merge", HS_EVENT_MERGE, "0-5"},
        {"contact.privacyDeletion", HS_EVENT_DELETE, "0-1"},
        {"contact.restore", HS_EVENT_RESTORE, "0-1"},
        {"object.restore", HS_EVENT_RESTORE, NULL},
        {"conversation.newMessage", HS_EVENT_UNKNOWN, NULL},
        {"contactx.creation", HS_EVENT_CREATE, NULL},
        {"object.Creation", HS_EVENT_UNKNOWN, NULL},
        {"nodot", HS_EVENT_UNKNOWN, NULL},
    };
    char fields[256];

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct hubspot_event_batch *b;

        snprintf(fields, sizeof(fields),
                 "\"eventId\":1,\"portalId\":2,\"occurredAt\":3,\"subscriptionType\":\"%s\","
                 "\"objectId\":4",
                 cases[i].type);
        b = parse_ok(event_json(fields));
        assert_int_equal(b->events[0].kind, cases[i].kind);
        if (cases[i].derived == NULL)
            assert_null(b->events[0].object_type_id);
        else
            assert_string_equal(b->events[0].object_type_id, cases[i].derived);
        hubspot_event_batch_free(b);
    }
    assert_string_equal(hubspot_event_kind_name(HS_EVENT_CREATE), "create");
    assert_string_equal(hubspot_event_kind_name(HS_EVENT_UPDATE), "update");
    assert_string_equal(hubspot_event_kind_name(HS_EVENT_DELETE), "delete");
    assert_string_equal(hubspot_event_kind_name(HS_EVENT_ASSOCIATION), "association");
    assert_string_equal(hubspot_event_kind_name(HS_EVENT_MERGE), "merge");
    assert_string_equal(hubspot_event_kind_name(HS_EVENT_RESTORE), "restore");
    assert_string_equal(hubspot_event_kind_name(HS_EVENT_UNKNOWN), "unknown");
    assert_string_equal(hubspot_event_kind_name((enum hubspot_event_kind)42), "unknown");
    assert_int_equal(hubspot_event_kind_from_type(NULL), HS_EVENT_UNKNOWN);
    assert_string_equal(hubspot_events_result_name(HS_EV_TOO_MANY), "too_many");
    assert_string_equal(hubspot_events_result_name(1), "unknown");
    assert_string_equal(hubspot_events_result_name(-100), "unknown");
}

static void test_malformed(void **state)
{
    expect_result("", HS_EV_MALFORMED, "empty");
    expect_result("not json", HS_EV_MALFORMED, NULL);
    expect_result("[{", HS_EV_MALFORMED, NULL);
    expect_result("[{\"eventId\":1,}]", HS_EV_MALFORMED, NULL);
    expect_result("[1,]", HS_EV_MALFORMED, NULL);
    expect_result("[{\"eventId\":'1'}]", HS_EV_MALFORMED, NULL);
    expect_result("[\"\xff\"]", HS_EV_MALFORMED, NULL);
    expect_result("   ", HS_EV_MALFORMED, NULL);
}

static void test_trailing_garbage(void **state)
{
    static const char nul_after[] = "[{" BASE_FIELDS "}]\0";
    struct hubspot_event_batch *b = (struct hubspot_event_batch *)1;
    char body[512];

    snprintf(body, sizeof(body), "[{%s}] x", BASE_FIELDS);
    expect_result(body, HS_EV_MALFORMED, NULL);
    snprintf(body, sizeof(body), "[{%s}][]", BASE_FIELDS);
    expect_result(body, HS_EV_MALFORMED, NULL);
    snprintf(body, sizeof(body), "[{%s}]}", BASE_FIELDS);
    expect_result(body, HS_EV_MALFORMED, NULL);
    assert_int_equal(hubspot_events_parse(nul_after, sizeof(nul_after), MAX, &b, NULL, 0),
                     HS_EV_MALFORMED);
    assert_null(b);
    /* Surrounding whitespace is fine. */
    snprintf(body, sizeof(body), " \n[{%s}] \r\n\t ", BASE_FIELDS);
    expect_result(body, HS_EV_OK, NULL);
    /* The length is honoured: no NUL terminator needed, bytes after len ignored. */
    snprintf(body, sizeof(body), "[{%s}]GARBAGE", BASE_FIELDS);
    assert_int_equal(hubspot_events_parse(body, strlen(body) - 7, MAX, &b, NULL, 0), HS_EV_OK);
    hubspot_event_batch_free(b);
}

static void test_not_array_and_empty(void **state)
{
    expect_result("{\"eventId\":1}", HS_EV_NOT_ARRAY, "not an array");
    expect_result(event_json(BASE_FIELDS) + 1, HS_EV_MALFORMED, NULL); /* "{...}]" */
    expect_result("123", HS_EV_NOT_ARRAY, NULL);
    expect_result("\"[]\"", HS_EV_NOT_ARRAY, NULL);
    expect_result("null", HS_EV_NOT_ARRAY, NULL);
    expect_result("[]", HS_EV_EMPTY, NULL);
    expect_result(" [ ] ", HS_EV_EMPTY, NULL);
}

static char *many_events(size_t n)
{
    size_t cap = 64 + n * 160, len = 1;
    char *s = malloc(cap);

    assert_non_null(s);
    s[0] = '[';
    for (size_t i = 0; i < n; i++)
        len += (size_t)snprintf(s + len, cap - len, "%s{" BASE_FIELDS ",\"attemptNumber\":%zu}",
                                i > 0 ? "," : "", i);
    snprintf(s + len, cap - len, "]");
    return s;
}

static void test_too_many(void **state)
{
    char *hundred = many_events(100);
    char *hundred_one = many_events(101);
    struct hubspot_event_batch *b = NULL;

    expect_result(hundred, HS_EV_OK, NULL);
    expect_result(hundred_one, HS_EV_TOO_MANY, "101");
    assert_int_equal(hubspot_events_parse(hundred_one, strlen(hundred_one), 0, &b, NULL, 0),
                     HS_EV_TOO_MANY);
    assert_int_equal(hubspot_events_parse(hundred, strlen(hundred), 5, &b, NULL, 0),
                     HS_EV_TOO_MANY);
    assert_int_equal(hubspot_events_parse(hundred_one, strlen(hundred_one), 1000, &b, NULL, 0),
                     HS_EV_OK);
    assert_int_equal(b->count, 101);
    assert_int_equal(b->events[100].attempt_number, 100);
    hubspot_event_batch_free(b);
    free(hundred);
    free(hundred_one);
}

static void test_missing_fields(void **state)
{
    expect_result(event_json("\"portalId\":2,\"occurredAt\":3,\"subscriptionType\":\"a.creation\","
                             "\"objectId\":4"),
                  HS_EV_INVALID, "\"eventId\"");
    expect_result(event_json("\"eventId\":1,\"occurredAt\":3,\"subscriptionType\":\"a.creation\","
                             "\"objectId\":4"),
                  HS_EV_INVALID, "\"portalId\"");
    expect_result(event_json("\"eventId\":1,\"portalId\":2,\"subscriptionType\":\"a.creation\","
                             "\"objectId\":4"),
                  HS_EV_INVALID, "\"occurredAt\"");
    expect_result(event_json("\"eventId\":1,\"portalId\":2,\"occurredAt\":3,\"objectId\":4"),
                  HS_EV_INVALID, "\"subscriptionType\"");
    expect_result(event_json("\"eventId\":1,\"portalId\":2,\"occurredAt\":3,"
                             "\"subscriptionType\":\"\",\"objectId\":4"),
                  HS_EV_INVALID, "\"subscriptionType\"");
    expect_result(event_json("\"eventId\":1,\"portalId\":2,\"occurredAt\":3,"
                             "\"subscriptionType\":\"a.creation\""),
                  HS_EV_INVALID, "\"objectId\"");
    /* fromObjectId stands in for objectId only on association events. */
    expect_result(event_json("\"eventId\":1,\"portalId\":2,\"occurredAt\":3,"
                             "\"subscriptionType\":\"a.creation\",\"fromObjectId\":5"),
                  HS_EV_INVALID, "\"objectId\"");
    expect_result(event_json("\"eventId\":1,\"portalId\":2,\"occurredAt\":3,"
                             "\"subscriptionType\":\"a.associationChange\""),
                  HS_EV_INVALID, "\"objectId\"");
    /* JSON null counts as missing for required fields. */
    expect_result(event_json("\"eventId\":1,\"portalId\":null,\"occurredAt\":3,"
                             "\"subscriptionType\":\"a.creation\",\"objectId\":4"),
                  HS_EV_INVALID, "\"portalId\"");
    /* The error names the element. */
    expect_result("[{" BASE_FIELDS "},{\"eventId\":1}]", HS_EV_INVALID, "Event 1");
}

static void test_wrong_types(void **state)
{
    static const char *const bad[] = {
        "\"portalId\":\"abc-private-value\"",
        "\"portalId\":true",
        "\"portalId\":\"-5\"",
        "\"portalId\":\" 5\"",
        "\"portalId\":\"\"",
        "\"occurredAt\":{}",
        "\"occurredAt\":[]",
        "\"objectId\":-1",
        "\"objectId\":1.5",
        "\"objectId\":1e300",
        "\"objectId\":9223372036854775808",
        "\"objectId\":18446744073709551615",
        "\"objectId\":\"9223372036854775808\"",
        "\"objectId\":9007199254740994.0",
        "\"eventId\":\"12a\"",
        "\"subscriptionType\":5",
        "\"objectTypeId\":1",
        "\"propertyName\":[\"x\"]",
        "\"propertyValue\":{\"a\":1}",
        "\"associationRemoved\":\"yes\"",
        "\"isPrimaryAssociation\":1",
        "\"mergedObjectIds\":[1,\"x\"]",
        "\"mergedObjectIds\":[1,null]",
        "\"mergedObjectIds\":5",
        "\"attemptNumber\":\"first\"",
        "\"propertyName\":\"a\\u0000b\"",
    };
    char fields[512];

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct hubspot_event_batch *b = NULL;
        char err[256];
        int rc;

        /* Later duplicate keys win in json-c, so the bad value overrides BASE_FIELDS. */
        snprintf(fields, sizeof(fields), BASE_FIELDS ",%s", bad[i]);
        rc = parse(event_json(fields), &b, err, sizeof(err));
        if (rc != HS_EV_INVALID)
            fail_msg("%s: got %s", bad[i], hubspot_events_result_name(rc));
        assert_null(b);
        assert_null(strstr(err, "private-value"));
    }
    expect_result("[1]", HS_EV_INVALID, "not a JSON object");
    expect_result("[{" BASE_FIELDS "},[]]", HS_EV_INVALID, "Event 1 is not a JSON object");
    expect_result("[null]", HS_EV_INVALID, NULL);
}

static void test_lenient_numbers(void **state)
{
    struct hubspot_event_batch *b =
        parse_ok(event_json("\"eventId\":\"10\",\"portalId\":62515.0,\"occurredAt\":1.6977364e12,"
                            "\"subscriptionType\":\"object.creation\",\"objectId\":\"4\","
                            "\"associationRemoved\":\"true\",\"isPrimaryAssociation\":\"false\","
                            "\"appId\":null,\"objectTypeId\":null"));
    const struct hubspot_event *e = &b->events[0];

    assert_int_equal(e->event_id, 10);
    assert_int_equal(e->portal_id, 62515);
    assert_int_equal(e->occurred_at, 1697736400000LL);
    assert_int_equal(e->object_id, 4);
    assert_true(e->has.association_removed && e->association_removed);
    assert_true(e->has.is_primary_association && !e->is_primary_association);
    assert_false(e->has.app_id);
    assert_null(e->object_type_id);
    hubspot_event_batch_free(b);
}

static void test_huge_object_id(void **state)
{
    struct hubspot_event_batch *b = parse_ok(
        event_json("\"eventId\":9223372036854775807,\"portalId\":2,\"occurredAt\":3,"
                   "\"subscriptionType\":\"object.creation\",\"objectId\":9007199254740993"));

    assert_true(b->events[0].object_id == 9007199254740993LL);
    assert_true(b->events[0].event_id == INT64_MAX);
    assert_non_null(strstr(b->events[0].raw_json, "9007199254740993"));
    hubspot_event_batch_free(b);
    b = parse_ok(event_json("\"eventId\":1,\"portalId\":2,\"occurredAt\":3,"
                            "\"subscriptionType\":\"object.creation\","
                            "\"objectId\":\"9223372036854775807\""));
    assert_true(b->events[0].object_id == INT64_MAX);
    hubspot_event_batch_free(b);
}

static void test_property_value_text(void **state)
{
    static const struct {
        const char *json;
        const char *want; /* NULL: absent */
    } cases[] = {
        {"null", NULL},
        {"42", "42"},
        {"true", "true"},
        {"false", "false"},
        {"1.50", "1.50"},
        {"\"\"", ""},
        {"\"a;b;c\"", "a;b;c"},
        {"-7", "-7"},
        {"\"\\\"q\\\"\"", "\"q\""},
        /* non-ASCII raw and escaped, including a surrogate pair */
        {"\"Gr\xc3\xbc\xc3\x9f"
         "e \\u00e4 \xe2\x82\xac \\ud83d\\ude00\"",
         "Gr\xc3\xbc\xc3\x9f"
         "e \xc3\xa4 \xe2\x82\xac \xf0\x9f\x98\x80"},
    };
    char fields[512];

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct hubspot_event_batch *b;

        snprintf(fields, sizeof(fields), BASE_FIELDS ",\"propertyValue\":%s,\"sourceId\":%s",
                 cases[i].json, cases[i].json);
        b = parse_ok(event_json(fields));
        if (cases[i].want == NULL) {
            assert_null(b->events[0].property_value);
            assert_null(b->events[0].source_id);
        } else {
            assert_string_equal(b->events[0].property_value, cases[i].want);
            assert_string_equal(b->events[0].source_id, cases[i].want);
        }
        hubspot_event_batch_free(b);
    }
}

/* raw_json is each element's own bytes, whatever strings, nesting and whitespace surround it. */
static void test_raw_json_is_each_elements_bytes(void **state)
{
    static const char *const elems[] = {
        "{\"eventId\":1,\"subscriptionId\":2,\"portalId\":62515,\"appId\":3,\"occurredAt\":"
        "1700000000000,\"subscriptionType\":\"contact.propertyChange\",\"attemptNumber\":0,"
        "\"objectId\":11,\"propertyName\":\"firstname\",\"propertyValue\":\"a,]}\\\"[{\"}",
        "{ \"eventId\" : 2 , \"subscriptionId\":2,\"portalId\":62515,\"appId\":3,\"occurredAt\":"
        "1700000000000,\"subscriptionType\":\"contact.propertyChange\",\"attemptNumber\":0,"
        "\"objectId\":12,\"propertyName\":\"x\",\"propertyValue\":\"\\\\\",\"extra\":[1,{\"k\":[]}]"
        "}",
        "{\"eventId\":3,\"subscriptionId\":2,\"portalId\":62515,\"appId\":3,\"occurredAt\":"
        "1700000000000,\"subscriptionType\":\"contact.creation\",\"attemptNumber\":0,"
        "\"objectId\":13}"};
    char body[2048];
    snprintf(body, sizeof body, " [\n  %s ,\t%s,\r\n%s\n] \n", elems[0], elems[1], elems[2]);
    struct hubspot_event_batch *b = parse_ok(body);
    (void)state;
    assert_int_equal(b->count, 3);
    for (size_t i = 0; i < 3; i++) {
        assert_string_equal(b->events[i].raw_json, elems[i]);
        assert_int_equal(b->events[i].raw_json_len, strlen(elems[i]));
    }
    assert_string_equal(b->events[0].property_value, "a,]}\"[{");
    assert_string_equal(b->events[1].property_value, "\\");
    hubspot_event_batch_free(b);
}

static void test_raw_json_keeps_unicode(void **state)
{
    struct hubspot_event_batch *b =
        parse_ok(event_json(BASE_FIELDS ",\"propertyValue\":\"\\u00e4/\\u20ac\""));
    const struct hubspot_event *e = &b->events[0];
    struct hubspot_event_batch *again;
    char wrapped[1024];
    char k1[HUBSPOT_EVENT_KEY_SIZE], k2[HUBSPOT_EVENT_KEY_SIZE];

    /* The stored text is the body's own (escapes kept; jsonb decodes them) */
    assert_non_null(strstr(e->raw_json, "\"propertyValue\":\"\\u00e4/\\u20ac\""));
    assert_string_equal(e->property_value, "\xc3\xa4/\xe2\x82\xac");
    /* and parses back to the same event. */
    snprintf(wrapped, sizeof(wrapped), "[%s]", e->raw_json);
    again = parse_ok(wrapped);
    assert_string_equal(again->events[0].property_value, e->property_value);
    assert_string_equal(again->events[0].raw_json, e->raw_json);
    assert_int_equal(hubspot_event_idempotency_key(e, k1, sizeof(k1)), 0);
    assert_int_equal(hubspot_event_idempotency_key(&again->events[0], k2, sizeof(k2)), 0);
    assert_string_equal(k1, k2);
    hubspot_event_batch_free(again);
    hubspot_event_batch_free(b);
}

static void test_deep_nesting(void **state)
{
    char body[512];
    size_t o = 0;

    o += (size_t)snprintf(body + o, sizeof(body) - o, "[{" BASE_FIELDS ",\"x\":");
    for (int i = 0; i < 40; i++)
        body[o++] = '[';
    for (int i = 0; i < 40; i++)
        body[o++] = ']';
    snprintf(body + o, sizeof(body) - o, "}]");
    expect_result(body, HS_EV_MALFORMED, NULL);
    /* Unknown fields nested within the limit are accepted. */
    expect_result("[{" BASE_FIELDS ",\"x\":[[[{\"y\":[1]}]]]}]", HS_EV_OK, NULL);
}

static void test_idempotency_key(void **state)
{
    struct hubspot_event_batch *b = parse_ok(property_change);
    struct hubspot_event e = b->events[0];
    struct hubspot_event other;
    char base[HUBSPOT_EVENT_KEY_SIZE], k[HUBSPOT_EVENT_KEY_SIZE];

    assert_int_equal(hubspot_event_idempotency_key(&e, base, sizeof(base)), 0);
    assert_int_equal(strlen(base), HUBSPOT_EVENT_KEY_SIZE - 1);
    assert_memory_equal(base, "hs:", 3);
    assert_int_equal(strspn(base + 3, "0123456789abcdef"), 64);

    /* A redelivery differs only in attemptNumber (and fields not in the key). */
    other = e;
    other.attempt_number = 9;
    other.subscription_id = 1;
    other.property_value = "other";
    other.raw_json = "{}";
    assert_int_equal(hubspot_event_idempotency_key(&other, k, sizeof(k)), 0);
    assert_string_equal(k, base);

#define EXPECT_DIFFERS(stmt)                                                                       \
    do {                                                                                           \
        other = e;                                                                                 \
        stmt;                                                                                      \
        assert_int_equal(hubspot_event_idempotency_key(&other, k, sizeof(k)), 0);                  \
        assert_string_not_equal(k, base);                                                          \
    } while (0)
    EXPECT_DIFFERS(other.portal_id++);
    EXPECT_DIFFERS(other.subscription_type = "object.creation");
    EXPECT_DIFFERS(other.object_type_id = "2-124");
    EXPECT_DIFFERS(other.object_type_id = NULL);
    EXPECT_DIFFERS(other.object_id++);
    EXPECT_DIFFERS(other.property_name = "nam");
    EXPECT_DIFFERS(other.property_name = NULL);
    EXPECT_DIFFERS(other.property_name = "");
    EXPECT_DIFFERS(other.occurred_at++);
    EXPECT_DIFFERS(other.event_id++);
    /* Length prefixes: moving a character between adjacent strings changes the key. */
    EXPECT_DIFFERS(
        (other.subscription_type = "object.propertyChange2", other.object_type_id = "-123"));
#undef EXPECT_DIFFERS

    /* The same event parsed from a redelivery body gives the same key. */
    {
        char body[sizeof(property_change) + 8];
        struct hubspot_event_batch *b2;
        char *p;

        snprintf(body, sizeof(body), "%s", property_change);
        p = strstr(body, "\"attemptNumber\":0");
        assert_non_null(p);
        p[16] = '3';
        b2 = parse_ok(body);
        assert_int_equal(b2->events[0].attempt_number, 3);
        assert_int_equal(hubspot_event_idempotency_key(&b2->events[0], k, sizeof(k)), 0);
        assert_string_equal(k, base);
        hubspot_event_batch_free(b2);
    }

    assert_int_equal(hubspot_event_idempotency_key(&e, k, HUBSPOT_EVENT_KEY_SIZE - 1), -1);
    assert_string_equal(k, "");
    assert_int_equal(hubspot_event_idempotency_key(NULL, k, sizeof(k)), -1);
    assert_int_equal(hubspot_event_idempotency_key(&e, NULL, 0), -1);
    hubspot_event_batch_free(b);
}

static void test_arguments_and_free(void **state)
{
    struct hubspot_event_batch *b = NULL;

    hubspot_event_batch_free(NULL);
    assert_int_equal(hubspot_events_parse("[]", 2, MAX, NULL, NULL, 0), HS_EV_INTERNAL_ERROR);
    assert_int_equal(hubspot_events_parse(NULL, 5, MAX, &b, NULL, 0), HS_EV_INTERNAL_ERROR);
    assert_int_equal(hubspot_events_parse(NULL, 0, MAX, &b, NULL, 0), HS_EV_MALFORMED);
    assert_null(b);
}

/* One property change of app 77 with the given changeSource and sourceId (JSON values, "" for
 * none) and appId (JSON value, "" for none). */
static bool own_write(const char *change_source, const char *source_id, const char *app_id)
{
    char body[512];
    snprintf(body, sizeof body,
             "[{\"eventId\":1,\"portalId\":62515,\"occurredAt\":1697736405918,"
             "\"subscriptionType\":\"object.propertyChange\",\"objectId\":5,"
             "\"objectTypeId\":\"2-123\",\"propertyName\":\"name\",\"propertyValue\":\"x\""
             "%s%s%s%s%s%s}]",
             *app_id ? ",\"appId\":" : "", app_id, *change_source ? ",\"changeSource\":" : "",
             change_source, *source_id ? ",\"sourceId\":" : "", source_id);
    struct hubspot_event_batch *b = parse_ok(body);
    bool own = hubspot_event_is_own_write(&b->events[0]);
    hubspot_event_batch_free(b);
    return own;
}

/* Only a change the receiving app itself wrote is an own write: INTEGRATION and a sourceId that
 * is exactly the event's appId. */
static void test_own_write(void **state)
{
    (void)state;
    assert_true(own_write("\"INTEGRATION\"", "\"77\"", "77"));
    assert_true(own_write("\"INTEGRATION\"", "\"77\"", "\"77\""));
    struct hubspot_event_batch *b = parse_ok(property_change); /* app 1160452's own change */
    assert_true(hubspot_event_is_own_write(&b->events[0]));
    hubspot_event_batch_free(b);
    assert_false(own_write("\"CRM_UI\"", "\"77\"", "77"));
    assert_false(own_write("\"CRM_UI\"", "\"userId:77\"", "77"));
    assert_false(own_write("\"INTEGRATION\"", "\"78\"", "77"));
    assert_false(own_write("\"INTEGRATION\"", "\"077\"", "77"));
    assert_false(own_write("\"INTEGRATION\"", "\"+77\"", "77"));
    assert_false(own_write("\"INTEGRATION\"", "\" 77\"", "77"));
    assert_false(own_write("\"INTEGRATION\"", "\"77 \"", "77"));
    assert_false(own_write("\"INTEGRATION\"", "\"userId:77\"", "77"));
    assert_false(own_write("\"integration\"", "\"77\"", "77"));
    assert_false(own_write("\"INTEGRATION\"", "", "77"));
    assert_false(own_write("\"INTEGRATION\"", "null", "77"));
    assert_false(own_write("\"INTEGRATION\"", "\"77\"", ""));
    assert_false(own_write("", "\"77\"", "77"));
    assert_false(own_write("null", "\"77\"", "77"));
    assert_false(hubspot_event_is_own_write(NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_property_change_custom_object),
        cmocka_unit_test(test_own_write),
        cmocka_unit_test(test_creation_and_deletion),
        cmocka_unit_test(test_association_change),
        cmocka_unit_test(test_merge),
        cmocka_unit_test(test_legacy_contact_event_type),
        cmocka_unit_test(test_kinds_and_derived_types),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_trailing_garbage),
        cmocka_unit_test(test_not_array_and_empty),
        cmocka_unit_test(test_too_many),
        cmocka_unit_test(test_missing_fields),
        cmocka_unit_test(test_wrong_types),
        cmocka_unit_test(test_lenient_numbers),
        cmocka_unit_test(test_huge_object_id),
        cmocka_unit_test(test_property_value_text),
        cmocka_unit_test(test_raw_json_keeps_unicode),
        cmocka_unit_test(test_raw_json_is_each_elements_bytes),
        cmocka_unit_test(test_deep_nesting),
        cmocka_unit_test(test_idempotency_key),
        cmocka_unit_test(test_arguments_and_free),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
