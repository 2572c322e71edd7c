/* test_soql.c: crm/soql: every rule of the API name and record id checks, quoting of quotes,
 * backslashes and UTF-8 (and refusal of what cannot be quoted), the builder's output byte for byte
 * for each query synkro makes, and refusal of injection attempts through names, ids and values. */
#include "crm/soql.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* ---- names ---- */

static void test_names_accepted(void **state)
{
    (void)state;
    static const char *const ok[] = {
        "Id",
        "Name",
        "AccountId",
        "SystemModstamp",
        "Budget__c",
        "Account__r",
        "budget__C",
        "Project_Budget__c",
        "ns__Budget__c",
        "pse__Proj__c",
        "Location__Latitude__s",
        "ns__Loc__Latitude__s",
        "Feed__mdt",
        "Event__e",
        "Big__b",
        "Ext__x",
        "Article__kav",
        "Obj__Share",
        "Obj__History",
        "Obj__ChangeEvent",
        "A",
        "a1",
        "A_1_b",
        "X9__c",
    };
    for (size_t i = 0; i < COUNT(ok); i++)
        assert_true(soql_name_valid(ok[i]));
}

static void test_names_refused(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "",
        "1Name",
        "_Name",
        "Name_",
        "A___B",
        "Budget__",
        "__c",
        "Na__me2",
        "Na__m_e",
        "Name__c_",
        "Name.Id",
        "Account.Name",
        "Na-me",
        "Na me",
        " Name",
        "Name ",
        "Name,Id",
        "Name)",
        "Name'",
        "Name\\",
        "Na\tme",
        "Na\nme",
        "N\xc3\xa4me",
        "Name\x7f",
        "a__b__c__d__e",
        "Id) OR Name LIKE '%",
        "Id FROM Account WHERE Name",
        "Budget__c__",
        "ns____c",
    };
    for (size_t i = 0; i < COUNT(bad); i++) {
        if (soql_name_valid(bad[i]))
            fail_msg("accepted \"%s\"", bad[i]);
    }
    assert_false(soql_name_valid(NULL));
}

static void test_name_length(void **state)
{
    (void)state;
    char s[SOQL_NAME_MAX + 2];
    memset(s, 'a', sizeof s);
    s[SOQL_NAME_MAX] = '\0';
    assert_true(soql_name_valid(s));
    s[SOQL_NAME_MAX] = 'a';
    s[SOQL_NAME_MAX + 1] = '\0';
    assert_false(soql_name_valid(s));
}

/* ---- ids ---- */

static void test_ids(void **state)
{
    (void)state;
    assert_true(soql_id_valid("001000000000001"));
    assert_true(soql_id_valid("001000000000001AAA"));
    assert_true(soql_id_valid("a01Zz0000000aBcDeF"));
    static const char *const bad[] = {
        "",
        "00100000000001",      /* 14 */
        "0010000000000011",    /* 16 */
        "00100000000000111",   /* 17 */
        "001000000000001AAAA", /* 19 */
        "001000000000_01",
        "001000000000-01",
        "00100000000 001",
        "001000000000'01",
        "x' OR '1'='1xxxxxx",
        "001000000000\xc3\xa4",
        "0010000000000\xc3\xa4"
        "1AA",
    };
    for (size_t i = 0; i < COUNT(bad); i++)
        if (soql_id_valid(bad[i]))
            fail_msg("accepted \"%s\"", bad[i]);
    assert_false(soql_id_valid(NULL));
}

/* ---- literals ---- */

static void expect_quote(const char *in, const char *want)
{
    struct strbuf sb = STRBUF_INIT;
    strbuf_puts(&sb, "<");
    if (want) {
        assert_int_equal(soql_quote(&sb, in), 0);
        assert_string_equal(sb.data + 1, want);
    } else {
        assert_int_equal(soql_quote(&sb, in), -1);
        assert_string_equal(sb.data, "<"); /* unchanged */
    }
    strbuf_free(&sb);
}

static void test_quote(void **state)
{
    (void)state;
    expect_quote("", "''");
    expect_quote("Mercury", "'Mercury'");
    expect_quote("Bob's BBQ", "'Bob\\'s BBQ'");
    expect_quote("a\\b", "'a\\\\b'");
    expect_quote("\\'", "'\\\\\\''");
    expect_quote("x' OR '1'='1", "'x\\' OR \\'1\\'=\\'1'");
    expect_quote("say \"hi\" 100% _x_", "'say \"hi\" 100% _x_'");
    expect_quote("\xc3\xa9t\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", /* été € 😀 */
                 "'\xc3\xa9t\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80'");
    expect_quote("\xef\xbf\xbf\xf4\x8f\xbf\xbf", "'\xef\xbf\xbf\xf4\x8f\xbf\xbf'");
}

static void test_quote_refusals(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "a\nb",
        "a\rb",
        "a\tb",
        "\x01",
        "a\x7f",
        "\xc2\x80",
        "\xc2\x9f", /* C1 controls */
        "\x80",
        "\xbf",
        "\xc3",
        "\xc3(",
        "\xc0\xaf",
        "\xc1\xbf",
        "\xe0\x80\xaf",
        "\xf0\x80\x80\xaf", /* overlong */
        "\xed\xa0\x80",
        "\xed\xbf\xbf", /* surrogates */
        "\xf4\x90\x80\x80",
        "\xf5\x80\x80\x80",
        "\xff", /* past U+10FFFF */
        "\xe2\x82",
        "\xf0\x9f\x98", /* truncated */
    };
    for (size_t i = 0; i < COUNT(bad); i++) {
        if (soql_text_quotable(bad[i]))
            fail_msg("quotable: case %zu", i);
        expect_quote(bad[i], NULL);
    }
    assert_false(soql_text_quotable(NULL));
    assert_true(soql_text_quotable("\xc2\xa0"));
}

/* ---- the builder ---- */

static char *build(const struct soql_query *q, char *err, size_t errlen)
{
    err[0] = '\0';
    return soql_build(q, err, errlen);
}

static void expect_query(const struct soql_query *q, const char *want)
{
    char err[512];
    char *s = build(q, err, sizeof err);
    if (!s)
        fail_msg("refused: %s", err);
    assert_string_equal(s, want);
    assert_int_equal(soql_check_names(q, err, sizeof err), 0);
    free(s);
}

static void expect_refused(const struct soql_query *q, const char *err_part)
{
    char err[512];
    char *s = build(q, err, sizeof err);
    if (s)
        fail_msg("built: %s", s);
    if (!strstr(err, err_part))
        fail_msg("error \"%s\" lacks \"%s\"", err, err_part);
}

static void test_build_batch_read(void **state)
{
    (void)state;
    const char *fields[] = {"Id",       "Name",      "Budget__c",     "name",
                            "Owner__c", "budget__C", "SystemModstamp"};
    const char *ids[] = {"a01000000000001AAA", "a01000000000002"};
    struct soql_where w = {"Id", SOQL_IN, SOQL_IDS, ids, 2};
    struct soql_query q = {.fields = fields, .nfields = 7, .object = "Project__c", .where = &w};
    expect_query(&q, "SELECT Id, Name, Budget__c, Owner__c, SystemModstamp FROM Project__c "
                     "WHERE Id IN ('a01000000000001AAA', 'a01000000000002')");
}

static void test_build_identity_lookup(void **state)
{
    (void)state;
    const char *fields[] = {"Id", "HubSpot_Id__c"};
    const char *vals[] = {"1234", "it's"};
    struct soql_where w = {"HubSpot_Id__c", SOQL_IN, SOQL_TEXT, vals, 2};
    struct soql_query q = {.fields = fields, .nfields = 2, .object = "Contact", .where = &w};
    expect_query(&q, "SELECT Id, HubSpot_Id__c FROM Contact WHERE HubSpot_Id__c IN ('1234', "
                     "'it\\'s')");
}

static void test_build_paging_count_preview(void **state)
{
    (void)state;
    const char *id[] = {"Id"};
    const char *after[] = {"a01000000000009AAA"};
    struct soql_where w = {"Id", SOQL_GT, SOQL_IDS, after, 1};
    struct soql_query page = {
        .fields = id, .nfields = 1, .object = "Project__c", .order_by = "Id", .limit = 500};
    expect_query(&page, "SELECT Id FROM Project__c ORDER BY Id LIMIT 500");
    page.where = &w;
    expect_query(&page,
                 "SELECT Id FROM Project__c WHERE Id > 'a01000000000009AAA' ORDER BY Id LIMIT 500");

    struct soql_query count = {.count = true, .object = "Project__c"};
    expect_query(&count, "SELECT COUNT() FROM Project__c");

    const char *pf[] = {"Id", "Name", "Id"};
    struct soql_query preview = {.fields = pf,
                                 .nfields = 3,
                                 .object = "Account",
                                 .order_by = "LastModifiedDate",
                                 .descending = true,
                                 .limit = 20};
    expect_query(&preview, "SELECT Id, Name FROM Account ORDER BY LastModifiedDate DESC LIMIT 20");
}

static void test_build_refuses_bad_names(void **state)
{
    (void)state;
    const char *fields[] = {"Id", "Id) OR Name LIKE '%"};
    const char *ids[] = {"001000000000001"};
    struct soql_where w = {"Id", SOQL_IN, SOQL_IDS, ids, 1};
    struct soql_query q = {.fields = fields, .nfields = 2, .object = "Account", .where = &w};
    expect_refused(&q, "the query's field \"Id) OR Name LIKE '%\" is not a Salesforce API name");
    char err[512];
    assert_int_equal(soql_check_names(&q, err, sizeof err), -1);

    q.nfields = 1;
    q.object = "Account WHERE Name != null";
    expect_refused(&q, "the query's object \"Account WHERE Name != null\" is not");
    q.object = NULL;
    expect_refused(&q, "the query's object is missing");
    q.object = "Account";
    w.field = "Id IN ('x') OR Id";
    expect_refused(&q, "the query's WHERE field");
    w.field = "Id";
    q.order_by = "Name; DELETE";
    expect_refused(&q, "the query's ORDER BY field");
    q.order_by = NULL;
    const char *with_null[] = {"Id", NULL};
    q.fields = with_null;
    q.nfields = 2;
    expect_refused(&q, "the query's field is missing");
}

static void test_build_refuses_bad_values(void **state)
{
    (void)state;
    const char *fields[] = {"Id"};
    const char *ids[] = {"001000000000001", "x' OR '1'='1"};
    struct soql_where w = {"Id", SOQL_IN, SOQL_IDS, ids, 2};
    struct soql_query q = {.fields = fields, .nfields = 1, .object = "Account", .where = &w};
    expect_refused(&q, "\"x' OR '1'='1\" is not a Salesforce record id");
    ids[1] = "001000000000002') OR Name LIKE '%";
    expect_refused(&q, "is not a Salesforce record id");
    /* as text the same strings are quoted, not refused: they stay inside their literal */
    w.kind = SOQL_TEXT;
    char err[256];
    char *s = build(&q, err, sizeof err);
    assert_non_null(s);
    assert_string_equal(s, "SELECT Id FROM Account WHERE Id IN ('001000000000001', "
                           "'001000000000002\\') OR Name LIKE \\'%')");
    free(s);
    ids[1] = "line\nbreak";
    expect_refused(&q, "cannot be a SOQL literal");
    ids[1] = NULL;
    expect_refused(&q, "cannot be a SOQL literal");
    w.kind = SOQL_IDS;
    expect_refused(&q, "\"(none)\" is not a Salesforce record id");
}

static void test_build_refuses_bad_shapes(void **state)
{
    (void)state;
    const char *fields[] = {"Id"};
    const char *two[] = {"001000000000001", "001000000000002"};
    struct soql_where w = {"Id", SOQL_IN, SOQL_IDS, two, 0};
    struct soql_query q = {.fields = fields, .nfields = 1, .object = "Account", .where = &w};
    expect_refused(&q, "an IN list is empty");
    char err[256];
    assert_int_equal(soql_check_names(&q, err, sizeof err), 0); /* values are not its job */
    w.op = SOQL_GT;
    w.nvalues = 2;
    expect_refused(&q, "a comparison takes one value");
    q.where = NULL;
    q.limit = -1;
    expect_refused(&q, "its LIMIT is negative");
    q.limit = 0;
    q.nfields = 0;
    expect_refused(&q, "it selects no field");
    q.count = true;
    q.nfields = 1;
    expect_refused(&q, "COUNT() takes no fields");
    q.nfields = 0;
    q.order_by = "Id";
    expect_refused(&q, "COUNT() takes no fields and no ORDER BY");
}

static void test_error_excerpt_is_printable_and_short(void **state)
{
    (void)state;
    char name[300];
    memset(name, 'x', sizeof name);
    name[0] = '\x01';
    name[5] = '"';
    name[sizeof name - 1] = '\0';
    const char *fields[] = {name};
    struct soql_query q = {.fields = fields, .nfields = 1, .object = "Account"};
    char err[512];
    assert_null(soql_build(&q, err, sizeof err));
    assert_non_null(strstr(err, "\"?xxxx\"xxx"));
    assert_non_null(strstr(err, "...\" is not"));
    for (const char *c = err; *c; c++)
        assert_true(*c >= 0x20 && *c < 0x7f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names_accepted),
        cmocka_unit_test(test_names_refused),
        cmocka_unit_test(test_name_length),
        cmocka_unit_test(test_ids),
        cmocka_unit_test(test_quote),
        cmocka_unit_test(test_quote_refusals),
        cmocka_unit_test(test_build_batch_read),
        cmocka_unit_test(test_build_identity_lookup),
        cmocka_unit_test(test_build_paging_count_preview),
        cmocka_unit_test(test_build_refuses_bad_names),
        cmocka_unit_test(test_build_refuses_bad_values),
        cmocka_unit_test(test_build_refuses_bad_shapes),
        cmocka_unit_test(test_error_excerpt_is_printable_and_short),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
