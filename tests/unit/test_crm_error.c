/* test_crm_error.c: unit tests for sync/crm_error (classification tables, error-body parsers,
 * per-input HubSpot batch errors, whole-word id naming, formatting, secret scrubbing, batch result
 * lists).
 *
 * The classification test is one table of (CRM, HTTP status, body, headers) -> (class, code, least
 * wait, fields) rows covering every class of both CRMs as the reference documents them: HubSpot
 * 401/423/429 (interval, SECONDLY, DAILY)/477 (Retry-After)/5xx incl. 521/523/524/400/403/404 and
 * OAuth refusals; Salesforce INVALID_SESSION_ID, REQUEST_LIMIT_EXCEEDED, UNABLE_TO_LOCK_ROW,
 * QUERY_TIMEOUT, 500/503, validation/duplicate/INVALID_* codes with their fields, 300 multiple
 * matches, OAuth invalid_grant, and transport failures (status 0). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crm/crm_error.h"

struct class_case {
    enum crm_kind crm;
    int status;
    const char *body;
    const char *retry_after; /* HubSpot Retry-After header */
    const char *interval_ms; /* HubSpot X-HubSpot-RateLimit-Interval-Milliseconds */
    enum crm_error_class want;
    const char *want_code;  /* NULL: not checked */
    long want_wait_min;     /* retry_after_ms lower bound (retry_after class) */
    long want_wait_max;     /* upper bound; 0: not checked */
    const char *want_field; /* a field name that must be kept; NULL: none */
    const char *want_corr;  /* correlation id; NULL: not checked */
};

#define HS CRM_HUBSPOT
#define SF CRM_SALESFORCE

static const struct class_case cases[] = {
    /* ---- HubSpot ---- */
    {HS, 0, NULL, NULL, NULL, CRM_ERR_TRANSIENT, NULL, 0, 0, NULL, NULL},
    {HS, 401,
     "{\"status\":\"error\",\"message\":\"Authentication credentials not found.\","
     "\"correlationId\":\"c-401\",\"category\":\"INVALID_AUTHENTICATION\"}",
     NULL, NULL, CRM_ERR_AUTH, "INVALID_AUTHENTICATION", 0, 0, NULL, "c-401"},
    {HS, 423, "{\"status\":\"error\",\"message\":\"locked\",\"category\":\"LOCKED\"}", NULL, NULL,
     CRM_ERR_RETRY_AFTER, "LOCKED", 2000, 2000, NULL, NULL},
    {HS, 423, "{\"status\":\"error\",\"message\":\"locked\"}", "5", NULL, CRM_ERR_RETRY_AFTER, NULL,
     5000, 5000, NULL, NULL},
    {HS, 429,
     "{\"status\":\"error\",\"message\":\"You have reached your secondly limit.\","
     "\"errorType\":\"RATE_LIMIT\",\"correlationId\":\"c-429\",\"policyName\":\"TEN_SECONDLY_"
     "ROLLING\"}",
     NULL, "10000", CRM_ERR_RETRY_AFTER, "RATE_LIMIT", 10000, 10000, NULL, "c-429"},
    {HS, 429,
     "{\"status\":\"error\",\"message\":\"limit\",\"errorType\":\"RATE_LIMIT\","
     "\"policyName\":\"TEN_SECONDLY_ROLLING\"}",
     NULL, "1500", CRM_ERR_RETRY_AFTER, "RATE_LIMIT", 1500, 1500, NULL, NULL},
    {HS, 429,
     "{\"status\":\"error\",\"message\":\"limit\",\"errorType\":\"RATE_LIMIT\","
     "\"policyName\":\"SECONDLY\"}",
     NULL, NULL, CRM_ERR_RETRY_AFTER, "RATE_LIMIT", 1000, 1000, NULL, NULL},
    {HS, 429,
     "{\"status\":\"error\",\"message\":\"daily\",\"errorType\":\"RATE_LIMIT\","
     "\"policyName\":\"DAILY\"}",
     NULL, "10000", CRM_ERR_RETRY_AFTER, "RATE_LIMIT", 1000, 86400000, NULL, NULL},
    {HS, 477, "{\"status\":\"error\",\"message\":\"migration in progress\"}", "7", NULL,
     CRM_ERR_RETRY_AFTER, NULL, 7000, 7000, NULL, NULL},
    {HS, 500, "{\"status\":\"error\",\"message\":\"internal\"}", NULL, NULL, CRM_ERR_TRANSIENT,
     NULL, 0, 0, NULL, NULL},
    {HS, 502, "<html>bad gateway</html>", NULL, NULL, CRM_ERR_TRANSIENT, NULL, 0, 0, NULL, NULL},
    {HS, 503, "", NULL, NULL, CRM_ERR_TRANSIENT, NULL, 0, 0, NULL, NULL},
    {HS, 504, NULL, NULL, NULL, CRM_ERR_TRANSIENT, NULL, 0, 0, NULL, NULL},
    {HS, 521, NULL, NULL, NULL, CRM_ERR_TRANSIENT, NULL, 0, 0, NULL, NULL},
    {HS, 523, NULL, NULL, NULL, CRM_ERR_TRANSIENT, NULL, 0, 0, NULL, NULL},
    {HS, 524, NULL, NULL, NULL, CRM_ERR_TRANSIENT, NULL, 0, 0, NULL, NULL},
    {HS, 400,
     "{\"status\":\"error\",\"message\":\"Property values were not valid: "
     "[{\\\"isValid\\\":false,\\\"message\\\":\\\"x was not one of the allowed options\\\","
     "\\\"error\\\":\\\"INVALID_OPTION\\\",\\\"name\\\":\\\"stage\\\"}]\","
     "\"correlationId\":\"c-400\",\"category\":\"VALIDATION_ERROR\"}",
     NULL, NULL, CRM_ERR_PERMANENT, "VALIDATION_ERROR", 0, 0, "stage", "c-400"},
    {HS, 400,
     "{\"status\":\"error\",\"message\":\"bad\",\"category\":\"VALIDATION_ERROR\","
     "\"errors\":[{\"message\":\"no such property\",\"code\":\"PROPERTY_DOESNT_EXIST\","
     "\"context\":{\"propertyName\":[\"budget\"]}}]}",
     NULL, NULL, CRM_ERR_PERMANENT, "VALIDATION_ERROR", 0, 0, "budget", NULL},
    {HS, 403,
     "{\"status\":\"error\",\"message\":\"missing scopes\",\"category\":\"MISSING_SCOPES\"}", NULL,
     NULL, CRM_ERR_PERMANENT, "MISSING_SCOPES", 0, 0, NULL, NULL},
    {HS, 404, "{\"status\":\"error\",\"message\":\"not found\",\"category\":\"OBJECT_NOT_FOUND\"}",
     NULL, NULL, CRM_ERR_PERMANENT, "OBJECT_NOT_FOUND", 0, 0, NULL, NULL},
    {HS, 409, "{\"status\":\"error\",\"message\":\"conflict\",\"category\":\"CONFLICT\"}", NULL,
     NULL, CRM_ERR_PERMANENT, "CONFLICT", 0, 0, NULL, NULL},
    {HS, 400,
     "{\"status\":\"BAD_REFRESH_TOKEN\",\"message\":\"missing or invalid refresh token\","
     "\"error\":\"invalid_grant\",\"error_description\":\"missing or invalid refresh token\"}",
     NULL, NULL, CRM_ERR_PERMANENT, "invalid_grant", 0, 0, NULL, NULL},
    {HS, 401, "{\"error\":\"invalid_client\",\"error_description\":\"bad secret\"}", NULL, NULL,
     CRM_ERR_PERMANENT, "invalid_client", 0, 0, NULL, NULL},
    /* ---- Salesforce ---- */
    {SF, 0, NULL, NULL, NULL, CRM_ERR_TRANSIENT, NULL, 0, 0, NULL, NULL},
    {SF, 401, "[{\"message\":\"Session expired or invalid\",\"errorCode\":\"INVALID_SESSION_ID\"}]",
     NULL, NULL, CRM_ERR_AUTH, "INVALID_SESSION_ID", 0, 0, NULL, NULL},
    {SF, 403,
     "[{\"message\":\"TotalRequests Limit exceeded.\",\"errorCode\":\"REQUEST_LIMIT_EXCEEDED\"}]",
     NULL, NULL, CRM_ERR_TRANSIENT, "REQUEST_LIMIT_EXCEEDED", 0, 0, NULL, NULL},
    {SF, 400,
     "[{\"message\":\"unable to obtain exclusive access to this record\","
     "\"errorCode\":\"UNABLE_TO_LOCK_ROW\",\"fields\":[]}]",
     NULL, NULL, CRM_ERR_TRANSIENT, "UNABLE_TO_LOCK_ROW", 0, 0, NULL, NULL},
    {SF, 400,
     "[{\"message\":\"Your query request was running for too long.\","
     "\"errorCode\":\"QUERY_TIMEOUT\"}]",
     NULL, NULL, CRM_ERR_TRANSIENT, "QUERY_TIMEOUT", 0, 0, NULL, NULL},
    {SF, 500,
     "[{\"message\":\"An unexpected error occurred.\",\"errorCode\":\"UNKNOWN_EXCEPTION\"}]", NULL,
     NULL, CRM_ERR_TRANSIENT, "UNKNOWN_EXCEPTION", 0, 0, NULL, NULL},
    /* a 429 is retried whatever its code says (this one would otherwise match INVALID_*) */
    {SF, 429, "[{\"message\":\"Too many requests\",\"errorCode\":\"INVALID_REQUEST\"}]", NULL, NULL,
     CRM_ERR_RETRY_AFTER, "INVALID_REQUEST", 1000, 0, NULL, NULL},
    {SF, 503, "<html>Service Unavailable</html>", NULL, NULL, CRM_ERR_TRANSIENT, NULL, 0, 0, NULL,
     NULL},
    {SF, 400,
     "[{\"message\":\"Budget must be positive\",\"errorCode\":\"FIELD_CUSTOM_VALIDATION_"
     "EXCEPTION\",\"fields\":[\"Budget__c\"]}]",
     NULL, NULL, CRM_ERR_PERMANENT, "FIELD_CUSTOM_VALIDATION_EXCEPTION", 0, 0, "Budget__c", NULL},
    {SF, 400,
     "[{\"message\":\"Required fields are missing: [Name]\",\"errorCode\":\"REQUIRED_FIELD_"
     "MISSING\",\"fields\":[\"Name\"]}]",
     NULL, NULL, CRM_ERR_PERMANENT, "REQUIRED_FIELD_MISSING", 0, 0, "Name", NULL},
    {SF, 400,
     "[{\"message\":\"duplicate value found: Ext__c\",\"errorCode\":\"DUPLICATE_VALUE\","
     "\"fields\":[\"Ext__c\"]}]",
     NULL, NULL, CRM_ERR_PERMANENT, "DUPLICATE_VALUE", 0, 0, "Ext__c", NULL},
    {SF, 400,
     "[{\"message\":\"data value too large\",\"errorCode\":\"STRING_TOO_LONG\","
     "\"fields\":[\"Name\"]}]",
     NULL, NULL, CRM_ERR_PERMANENT, "STRING_TOO_LONG", 0, 0, "Name", NULL},
    {SF, 400,
     "[{\"message\":\"bad value for restricted picklist\",\"errorCode\":\"INVALID_OR_NULL_FOR_"
     "RESTRICTED_PICKLIST\",\"fields\":[\"Stage__c\"]}]",
     NULL, NULL, CRM_ERR_PERMANENT, "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST", 0, 0, "Stage__c",
     NULL},
    {SF, 400, "[{\"message\":\"No such column\",\"errorCode\":\"INVALID_FIELD\"}]", NULL, NULL,
     CRM_ERR_PERMANENT, "INVALID_FIELD", 0, 0, NULL, NULL},
    {SF, 404, "[{\"message\":\"bad id\",\"errorCode\":\"MALFORMED_ID\"}]", NULL, NULL,
     CRM_ERR_PERMANENT, "MALFORMED_ID", 0, 0, NULL, NULL},
    {SF, 404, "[{\"message\":\"deleted\",\"errorCode\":\"ENTITY_IS_DELETED\"}]", NULL, NULL,
     CRM_ERR_PERMANENT, "ENTITY_IS_DELETED", 0, 0, NULL, NULL},
    {SF, 404,
     "[{\"message\":\"The requested resource does not exist\",\"errorCode\":\"NOT_FOUND\"}]", NULL,
     NULL, CRM_ERR_PERMANENT, "NOT_FOUND", 0, 0, NULL, NULL},
    {SF, 403,
     "[{\"message\":\"insufficient access\",\"errorCode\":\"INSUFFICIENT_ACCESS_OR_READONLY\"}]",
     NULL, NULL, CRM_ERR_PERMANENT, "INSUFFICIENT_ACCESS_OR_READONLY", 0, 0, NULL, NULL},
    {SF, 400,
     "[{\"message\":\"trigger failed\",\"errorCode\":\"CANNOT_INSERT_UPDATE_ACTIVATE_ENTITY\"}]",
     NULL, NULL, CRM_ERR_PERMANENT, "CANNOT_INSERT_UPDATE_ACTIVATE_ENTITY", 0, 0, NULL, NULL},
    {SF, 300,
     "[\"/services/data/v62.0/sobjects/Project__c/a00000000000001AAA\","
     "\"/services/data/v62.0/sobjects/Project__c/a00000000000002AAA\"]",
     NULL, NULL, CRM_ERR_PERMANENT, "MULTIPLE_CHOICES", 0, 0, NULL, NULL},
    {SF, 400,
     "{\"error\":\"invalid_grant\",\"error_description\":\"expired access/refresh token\"}", NULL,
     NULL, CRM_ERR_PERMANENT, "invalid_grant", 0, 0, NULL, NULL},
    {SF, 412, "", NULL, NULL, CRM_ERR_PERMANENT, NULL, 0, 0, NULL, NULL},
    {SF, 200,
     "[{\"statusCode\":\"ALL_OR_NONE_OPERATION_ROLLED_BACK\",\"message\":\"rolled back\"}]", NULL,
     NULL, CRM_ERR_TRANSIENT, "ALL_OR_NONE_OPERATION_ROLLED_BACK", 0, 0, NULL, NULL},
};

static void test_classification_table(void **state)
{
    (void)state;
    int failures = 0;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const struct class_case *c = &cases[i];
        struct crm_error e;
        crm_error_clear(&e);
        snprintf(e.operation, sizeof e.operation, "case_%zu", i);
        size_t len = c->body ? strlen(c->body) : 0;
        if (c->crm == CRM_HUBSPOT) {
            struct crm_hubspot_error_headers h = {.retry_after = c->retry_after,
                                                  .rate_interval_ms = c->interval_ms};
            crm_error_from_hubspot(&e, c->status, c->body, len, &h);
        } else {
            crm_error_from_salesforce(&e, c->status, c->body, len);
        }
        char line[1024];
        crm_error_format(&e, line, sizeof line);
        int bad = 0;
        if (e.cls != c->want)
            bad = 1;
        if (c->want_code && strcmp(e.code, c->want_code) != 0)
            bad = 1;
        if (c->want == CRM_ERR_RETRY_AFTER &&
            (e.retry_after_ms < c->want_wait_min ||
             (c->want_wait_max && e.retry_after_ms > c->want_wait_max)))
            bad = 1;
        if (c->want_field) {
            int found = 0;
            for (size_t f = 0; f < e.nfields; f++)
                found |= strcmp(e.fields[f], c->want_field) == 0;
            bad |= !found;
        }
        if (c->want_corr && strcmp(e.correlation_id, c->want_corr) != 0)
            bad = 1;
        if (e.http_status != c->status || e.crm != c->crm || strcmp(e.operation, "case_") < 0)
            bad = 1;
        if (bad) {
            print_error("case %zu: want %s code=%s wait=[%ld,%ld] field=%s; got %s (wait %ld)\n", i,
                        crm_error_class_name(c->want), c->want_code ? c->want_code : "-",
                        c->want_wait_min, c->want_wait_max, c->want_field ? c->want_field : "-",
                        line, e.retry_after_ms);
            failures++;
        }
    }
    assert_int_equal(failures, 0);
}

static void test_classify_codes_directly(void **state)
{
    (void)state;
    long w = -1;
    assert_int_equal(crm_error_classify(CRM_SALESFORCE, 400, "INVALID_TYPE", &w),
                     CRM_ERR_PERMANENT);
    assert_int_equal(w, 0);
    /* INVALID_SESSION_ID must not fall into INVALID_* */
    assert_int_equal(crm_error_classify(CRM_SALESFORCE, 401, "INVALID_SESSION_ID", NULL),
                     CRM_ERR_AUTH);
    /* status decides when the code is unknown */
    assert_int_equal(crm_error_classify(CRM_SALESFORCE, 502, "SOMETHING_NEW", NULL),
                     CRM_ERR_TRANSIENT);
    assert_int_equal(crm_error_classify(CRM_SALESFORCE, 400, "SOMETHING_NEW", NULL),
                     CRM_ERR_PERMANENT);
    assert_int_equal(crm_error_classify(CRM_HUBSPOT, 423, NULL, &w), CRM_ERR_RETRY_AFTER);
    assert_int_equal(w, 2000);
    assert_int_equal(crm_error_classify(CRM_HUBSPOT, 418, "", NULL), CRM_ERR_PERMANENT);
    /* codes are case-sensitive: "invalid_field" is not a Salesforce code */
    assert_int_equal(crm_error_classify(CRM_SALESFORCE, 503, "invalid_field", NULL),
                     CRM_ERR_TRANSIENT);
}

static void test_hubspot_batch_error_object(void **state)
{
    (void)state;
    json_object *e = json_tokener_parse(
        "{\"status\":\"error\",\"category\":\"VALIDATION_ERROR\",\"message\":\"bad value\","
        "\"context\":{\"objectWriteTraceId\":[\"t-1\"],\"propertyName\":[\"amount\",\"stage\"]}}");
    assert_non_null(e);
    struct crm_error err;
    crm_error_clear(&err);
    crm_error_from_hubspot_json(&err, 207, e);
    json_object_put(e);
    assert_int_equal(err.cls, CRM_ERR_PERMANENT);
    assert_string_equal(err.code, "VALIDATION_ERROR");
    assert_int_equal(err.nfields, 2);
    assert_string_equal(err.fields[0], "amount");
    assert_string_equal(err.fields[1], "stage");
}

static void item(const char *json, int call_status, struct crm_error *e)
{
    json_object *o = json_tokener_parse(json);
    assert_non_null(o);
    crm_error_clear(e);
    crm_error_from_hubspot_item(e, call_status, o);
    json_object_put(o);
}

/* A per-input error of a 207 stands for the status of its category, not for the 207. */
static void test_hubspot_item_status(void **state)
{
    (void)state;
    struct crm_error e;
    item("{\"status\":\"error\",\"category\":\"OBJECT_NOT_FOUND\",\"message\":\"Could not get "
         "some objects\",\"context\":{\"ids\":[\"1\"]}}",
         207, &e);
    assert_int_equal(e.http_status, 404);
    assert_string_equal(e.code, "OBJECT_NOT_FOUND");
    assert_int_equal(e.cls, CRM_ERR_PERMANENT);
    item("{\"status\":\"error\",\"category\":\"VALIDATION_ERROR\",\"message\":\"bad\"}", 207, &e);
    assert_int_equal(e.http_status, 400);
    item("{\"status\":\"error\",\"category\":\"CONFLICT\",\"message\":\"taken\"}", 207, &e);
    assert_int_equal(e.http_status, 409);
    /* a numeric status member counts; an unknown category keeps the call's status */
    item("{\"status\":\"503\",\"category\":\"SOMETHING\",\"message\":\"busy\"}", 207, &e);
    assert_int_equal(e.http_status, 503);
    assert_int_equal(e.cls, CRM_ERR_TRANSIENT);
    item("{\"status\":\"error\",\"category\":\"SOMETHING\",\"message\":\"odd\"}", 207, &e);
    assert_int_equal(e.http_status, 207);
    assert_int_equal(e.cls, CRM_ERR_PERMANENT);
}

/* Ids are named as whole words only. */
static void test_text_names_id(void **state)
{
    (void)state;
    assert_true(crm_text_names_id("Object with id 123 not found", "123"));
    assert_true(crm_text_names_id("123", "123"));
    assert_true(crm_text_names_id("ids [9, 123]", "123"));
    assert_true(crm_text_names_id("CONTACT=123 is not valid", "123"));
    assert_true(crm_text_names_id("id 41234, then 123.", "123"));
    assert_false(crm_text_names_id("Object with id 41234 not found", "123"));
    assert_false(crm_text_names_id("id 1230", "123"));
    assert_false(crm_text_names_id("type 2-123 unknown", "123"));
    assert_false(crm_text_names_id("trace synkro-123", "123"));
    assert_true(crm_text_names_id("trace synkro-123 failed", "synkro-123"));
    assert_false(crm_text_names_id("trace synkro-1234 failed", "synkro-123"));
    assert_true(crm_text_names_id("value a@b.example is taken", "a@b.example"));
    assert_false(crm_text_names_id("anything", ""));
    assert_false(crm_text_names_id(NULL, "1"));
    assert_false(crm_text_names_id("1", NULL));
}

static void test_salesforce_multiple_errors(void **state)
{
    (void)state;
    const char *body = "[{\"message\":\"first\",\"errorCode\":\"REQUIRED_FIELD_MISSING\","
                       "\"fields\":[\"Name\"]},{\"message\":\"second\",\"errorCode\":"
                       "\"STRING_TOO_LONG\",\"fields\":[\"Code__c\",\"Name\"]}]";
    struct crm_error e;
    crm_error_clear(&e);
    crm_error_from_salesforce(&e, 400, body, strlen(body));
    assert_string_equal(e.code, "REQUIRED_FIELD_MISSING");
    assert_string_equal(e.message, "first; second");
    assert_int_equal(e.nfields, 2); /* deduplicated */
    assert_string_equal(e.fields[0], "Name");
    assert_string_equal(e.fields[1], "Code__c");
}

static void test_format_and_scrub(void **state)
{
    (void)state;
    struct crm_error e;
    crm_error_clear(&e);
    snprintf(e.operation, sizeof e.operation, "batch_update");
    const char *body = "{\"status\":\"error\",\"message\":\"token pat-na1-SECRET-123 is "
                       "invalid\",\"correlationId\":\"abc\",\"category\":\"VALIDATION_ERROR\","
                       "\"subCategory\":\"X\",\"context\":{\"propertyName\":[\"p1\"]}}";
    crm_error_from_hubspot(&e, 400, body, strlen(body), NULL);
    crm_error_scrub(&e, "pat-na1-SECRET-123");
    crm_error_scrub(&e, "abc"); /* shorter than 4: ignored */
    char line[600];
    crm_error_format(&e, line, sizeof line);
    assert_null(strstr(line, "SECRET"));
    assert_string_equal(line, "hubspot batch_update: HTTP 400 VALIDATION_ERROR (X): token *** is "
                              "invalid [fields: p1] [correlation id: abc] [permanent]");
    crm_error_set(&e, CRM_SALESFORCE, CRM_ERR_TRANSIENT, 0, "network", "connection refused %d", 7);
    crm_error_format(&e, line, sizeof line);
    assert_string_equal(line, "salesforce batch_update: no HTTP answer network: connection "
                              "refused 7 [transient]");
}

static void test_long_message_cut_on_utf8_boundary(void **state)
{
    (void)state;
    char body[3000];
    size_t p = 0;
    p += (size_t)snprintf(body + p, sizeof body - p, "[{\"errorCode\":\"X\",\"message\":\"");
    for (int i = 0; i < 600; i++) {
        memcpy(body + p, "\xc3\xa4", 2); /* a-umlaut */
        p += 2;
    }
    p += (size_t)snprintf(body + p, sizeof body - p, "\"}]");
    struct crm_error e;
    crm_error_clear(&e);
    crm_error_from_salesforce(&e, 400, body, p);
    size_t n = strlen(e.message);
    assert_true(n < sizeof e.message);
    assert_int_equal(n % 2, 0); /* never half a character */
}

static void test_batch_result(void **state)
{
    (void)state;
    struct crm_batch_result r;
    assert_int_equal(crm_batch_result_init(&r, 3), 0);
    struct crm_error e;
    crm_error_clear(&e);
    crm_error_set(&e, CRM_HUBSPOT, CRM_ERR_PERMANENT, 207, "VALIDATION_ERROR", "bad");
    crm_batch_item_succeed(&r, 0, strdup("1"), json_object_new_object(), true);
    crm_batch_item_fail(&r, 1, &e);
    crm_batch_item_fail(&r, 1, &e); /* replacing keeps the count */
    assert_int_equal(r.nfailed, 1);
    crm_batch_item_fail(&r, 2, &e);
    assert_int_equal(r.nfailed, 2);
    crm_batch_item_succeed(&r, 2, NULL, NULL, false); /* a retry that worked */
    assert_int_equal(r.nfailed, 1);
    assert_true(r.items[0].ok && r.items[0].created);
    assert_string_equal(r.items[0].id, "1");
    assert_false(r.items[1].ok);
    assert_string_equal(r.items[1].error->code, "VALIDATION_ERROR");
    crm_batch_item_succeed(&r, 9, strdup("x"), NULL, false); /* out of range: freed, ignored */
    crm_batch_result_free(&r);
    crm_batch_result_free(&r);
    crm_batch_result_free(NULL);
}

/* A hold-back is the client's own budget refusing a call (retry-after, "client_rate_limit"); a
 * CRM's 429 or any other retryable error is not. */
static void test_hold_back(void **state)
{
    (void)state;
    struct crm_error e;
    crm_error_set(&e, CRM_HUBSPOT, CRM_ERR_RETRY_AFTER, 0, "client_rate_limit", "paused");
    assert_true(crm_error_is_hold_back(&e));
    crm_error_set(&e, CRM_HUBSPOT, CRM_ERR_RETRY_AFTER, 429, "RATE_LIMIT", "secondly limit");
    assert_false(crm_error_is_hold_back(&e));
    crm_error_set(&e, CRM_SALESFORCE, CRM_ERR_TRANSIENT, 0, "client_rate_limit", "odd");
    assert_false(crm_error_is_hold_back(&e));
    assert_false(crm_error_is_hold_back(NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_classification_table),
        cmocka_unit_test(test_classify_codes_directly),
        cmocka_unit_test(test_hubspot_batch_error_object),
        cmocka_unit_test(test_hubspot_item_status),
        cmocka_unit_test(test_text_names_id),
        cmocka_unit_test(test_salesforce_multiple_errors),
        cmocka_unit_test(test_format_and_scrub),
        cmocka_unit_test(test_long_message_cut_on_utf8_boundary),
        cmocka_unit_test(test_batch_result),
        cmocka_unit_test(test_hold_back),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
