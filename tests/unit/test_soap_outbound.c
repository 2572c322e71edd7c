/* test_soap_outbound.c: unit tests for handlers/soap_outbound (Salesforce outbound messages).
 *
 * Owns: realistic outbound-message fixtures (classic soapenv/sf prefixes, other prefixes, default
 * namespaces, 1/100/101 notifications) and hostile inputs (XXE, billion laughs, depth and
 * attribute bombs), plus the Ack/Fault renderers, the org-id comparison and the JSON payload.
 * Every assertion checks a concrete value, so each case fails when the behaviour changes.
 * Must not: touch the network or the database. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libxml/parser.h>
#include <libxml/tree.h>

#include "handlers/soap_outbound.h"

#define ORG_ID     "00D5g000004SbsbEAC"
#define ACTION_ID  "04k5g000000CaTwAAK"
#define SESSION_ID "00D5g000004Sbsb!AQ0AQLiveSessionSecretValue_XyZ.123"

static char last_err[512];

static int parse_max(const char *xml, size_t max_notifications, struct soap_message **m)
{
    last_err[0] = '\0';
    return soap_parse_notifications(xml, strlen(xml), 0, max_notifications, m, last_err,
                                    sizeof(last_err));
}

static int parse(const char *xml, struct soap_message **m)
{
    return parse_max(xml, 0, m);
}

/* printf into a fresh heap string (open_memstream: one pass over the arguments). */
static char *xvasprintf(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));
static char *xvasprintf(const char *fmt, va_list ap)
{
    char *s = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&s, &len);
    assert_non_null(f);
    /* The analyzer does not follow a va_list passed as a parameter. */
    // NOLINTNEXTLINE(clang-analyzer-valist.Uninitialized)
    assert_true(vfprintf(f, fmt, ap) >= 0);
    assert_int_equal(fclose(f), 0);
    assert_non_null(s);
    return s;
}

static char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *xasprintf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = xvasprintf(fmt, ap);
    va_end(ap);
    return s;
}

/* Growable string for generated messages. */
struct sbuf {
    char *s;
    size_t len, cap;
};

static void sb_add(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_add(struct sbuf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *piece = xvasprintf(fmt, ap);
    va_end(ap);
    size_t n = strlen(piece);
    if (b->len + n + 1 > b->cap) {
        b->cap = (b->len + n + 1) * 2;
        b->s = realloc(b->s, b->cap);
        assert_non_null(b->s);
    }
    memcpy(b->s + b->len, piece, n + 1);
    b->len += n;
    free(piece);
}

/* The classic message Salesforce sends: soapenv/sf prefixes, notifications in a default
 * namespace, SessionId nil. */
static const char classic_msg[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    "<soapenv:Envelope xmlns:soapenv=\"http://schemas.xmlsoap.org/soap/envelope/\" "
    "xmlns:xsd=\"http://www.w3.org/2001/XMLSchema\" "
    "xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\">\n"
    " <soapenv:Body>\n"
    "  <notifications xmlns=\"http://soap.sforce.com/2005/09/outbound\">\n"
    "   <OrganizationId>" ORG_ID "</OrganizationId>\n"
    "   <ActionId>" ACTION_ID "</ActionId>\n"
    "   <SessionId xsi:nil=\"true\"/>\n"
    "   <EnterpriseUrl>https://acme.my.salesforce.com/services/Soap/c/58.0/00D5g000004Sbsb"
    "</EnterpriseUrl>\n"
    "   <PartnerUrl>https://acme.my.salesforce.com/services/Soap/u/58.0/00D5g000004Sbsb"
    "</PartnerUrl>\n"
    "   <Notification>\n"
    "    <Id>04l5g00000BzJ3zAAF</Id>\n"
    "    <sObject xsi:type=\"sf:Project__c\" "
    "xmlns:sf=\"urn:sobject.enterprise.soap.sforce.com\">\n"
    "     <sf:Id>a015g00000XyZ12AAB</sf:Id>\n"
    "     <sf:Budget__c>419.0</sf:Budget__c>\n"
    "     <sf:CreatedDate>2017-05-02T11:53:53.000Z</sf:CreatedDate>\n"
    "     <sf:Is_Active__c>true</sf:Is_Active__c>\n"
    "     <sf:LastModifiedDate>2017-05-02T11:53:53.000Z</sf:LastModifiedDate>\n"
    "     <sf:Name>Ocean &amp; Sky</sf:Name>\n"
    "     <sf:OwnerId>0055g00000A1b2CAAR</sf:OwnerId>\n"
    "     <sf:Start_Date__c>2011-08-04</sf:Start_Date__c>\n"
    "    </sObject>\n"
    "   </Notification>\n"
    "  </notifications>\n"
    " </soapenv:Body>\n"
    "</soapenv:Envelope>\n";

/* Wraps notification elements in the classic envelope (with a live SessionId). */
static char *wrap_classic(const char *notifications)
{
    return xasprintf(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>"
        "<soapenv:Envelope xmlns:soapenv=\"http://schemas.xmlsoap.org/soap/envelope/\" "
        "xmlns:xsd=\"http://www.w3.org/2001/XMLSchema\" "
        "xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\"><soapenv:Body>"
        "<notifications xmlns=\"http://soap.sforce.com/2005/09/outbound\">"
        "<OrganizationId>" ORG_ID "</OrganizationId><ActionId>" ACTION_ID "</ActionId>"
        "<SessionId>" SESSION_ID "</SessionId>"
        "<EnterpriseUrl>https://acme.my.salesforce.com/services/Soap/c/58.0/00D5g000004Sbsb"
        "</EnterpriseUrl>"
        "<PartnerUrl>https://acme.my.salesforce.com/services/Soap/u/58.0/00D5g000004Sbsb"
        "</PartnerUrl>%s</notifications></soapenv:Body></soapenv:Envelope>",
        notifications);
}

/* One Project__c notification whose sObject holds the given field elements (sf prefix). */
static char *wrap_fields(const char *fields)
{
    char *n = xasprintf("<Notification><Id>04l5g00000BzJ3zAAF</Id>"
                        "<sObject xsi:type=\"sf:Project__c\" "
                        "xmlns:sf=\"urn:sobject.enterprise.soap.sforce.com\">%s</sObject>"
                        "</Notification>",
                        fields);
    char *m = wrap_classic(n);
    free(n);
    return m;
}

static void assert_field(const struct soap_field *f, const char *name, const char *value)
{
    assert_string_equal(f->name, name);
    if (value == NULL) {
        assert_true(f->is_null);
        assert_null(f->value);
        assert_int_equal(f->value_len, 0);
    } else {
        assert_false(f->is_null);
        assert_non_null(f->value);
        assert_string_equal(f->value, value);
        assert_int_equal(f->value_len, strlen(value));
    }
}

static void expect_error(const char *xml, int code)
{
    struct soap_message *m = (struct soap_message *)1;
    int rc = parse(xml, &m);
    if (rc != code) {
        print_error("expected %s, got %s (%s)\n", soap_status_name(code), soap_status_name(rc),
                    last_err);
    }
    assert_int_equal(rc, code);
    assert_null(m);
    assert_true(strlen(last_err) > 10);
    assert_null(strstr(last_err, SESSION_ID));
}

/* ------------------------------------------------------------------------------------------ */

static void test_classic_one_notification(void **state)
{
    struct soap_message *m = NULL;
    assert_int_equal(parse(classic_msg, &m), SOAP_OK);
    assert_non_null(m);
    assert_string_equal(last_err, "");
    assert_string_equal(m->organization_id, ORG_ID);
    assert_string_equal(m->action_id, ACTION_ID);
    assert_null(m->session_id);
    assert_string_equal(m->enterprise_url,
                        "https://acme.my.salesforce.com/services/Soap/c/58.0/00D5g000004Sbsb");
    assert_string_equal(m->partner_url,
                        "https://acme.my.salesforce.com/services/Soap/u/58.0/00D5g000004Sbsb");
    assert_int_equal(m->notification_count, 1);
    const struct soap_notification *n = &m->notifications[0];
    assert_string_equal(n->id, "04l5g00000BzJ3zAAF");
    assert_string_equal(n->object_type, "Project__c");
    assert_string_equal(n->record_id, "a015g00000XyZ12AAB");
    assert_int_equal(n->field_count, 8);
    assert_field(&n->fields[0], "Id", "a015g00000XyZ12AAB");
    assert_field(&n->fields[1], "Budget__c", "419.0");
    assert_field(&n->fields[2], "CreatedDate", "2017-05-02T11:53:53.000Z");
    assert_field(&n->fields[3], "Is_Active__c", "true");
    assert_field(&n->fields[4], "LastModifiedDate", "2017-05-02T11:53:53.000Z");
    assert_field(&n->fields[5], "Name", "Ocean & Sky");
    assert_field(&n->fields[6], "OwnerId", "0055g00000A1b2CAAR");
    assert_field(&n->fields[7], "Start_Date__c", "2011-08-04");
    soap_message_free(m);
}

static void test_session_id_present_and_never_in_json(void **state)
{
    char *xml = wrap_fields("<sf:Id>a015g00000XyZ12AAB</sf:Id><sf:Name>Apollo</sf:Name>");
    struct soap_message *m = NULL;
    assert_int_equal(parse(xml, &m), SOAP_OK);
    assert_string_equal(m->session_id, SESSION_ID);
    json_object *j = soap_notification_to_json(&m->notifications[0], m);
    assert_non_null(j);
    const char *s = json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN);
    assert_null(strstr(s, SESSION_ID));
    assert_null(strstr(s, "AQ0AQLiveSession"));
    assert_null(strstr(s, "essionId"));
    assert_non_null(strstr(s, "\"organizationId\":\"" ORG_ID "\""));
    json_object_put(j);
    soap_message_free(m);
    free(xml);
}

static void test_json_payload_exact(void **state)
{
    char *xml = wrap_fields("<sf:Id>a015g00000XyZ12AAB</sf:Id>"
                            "<sf:Name>Bl\xC3\xA5\x62\xC3\xA6rsyltet\xC3\xB8y \"x\"</sf:Name>"
                            "<sf:Budget__c xsi:nil=\"true\"/>"
                            "<sf:Amount__c>0.0</sf:Amount__c>");
    struct soap_message *m = NULL;
    assert_int_equal(parse(xml, &m), SOAP_OK);
    json_object *j = soap_notification_to_json(&m->notifications[0], m);
    assert_non_null(j);
    assert_string_equal(
        json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE),
        "{\"notificationId\":\"04l5g00000BzJ3zAAF\",\"objectType\":\"Project__c\","
        "\"recordId\":\"a015g00000XyZ12AAB\",\"organizationId\":\"" ORG_ID "\","
        "\"actionId\":\"" ACTION_ID "\","
        "\"enterpriseUrl\":\"https://acme.my.salesforce.com/services/Soap/c/58.0/"
        "00D5g000004Sbsb\","
        "\"fields\":{\"Id\":\"a015g00000XyZ12AAB\","
        "\"Name\":\"Bl\xC3\xA5\x62\xC3\xA6rsyltet\xC3\xB8y \\\"x\\\"\",\"Budget__c\":null,"
        "\"Amount__c\":\"0.0\"}}");
    json_object_put(j);
    assert_null(soap_notification_to_json(NULL, m));
    assert_null(soap_notification_to_json(&m->notifications[0], NULL));
    soap_message_free(m);
    free(xml);
}

static char *make_opportunities(size_t count)
{
    struct sbuf b = {0};
    for (size_t i = 0; i < count; i++) {
        sb_add(&b,
               "<Notification><Id>04l5g00000B%04zuAAF</Id>"
               "<sObject xsi:type=\"sf:Opportunity\" "
               "xmlns:sf=\"urn:sobject.enterprise.soap.sforce.com\">"
               "<sf:Id>0065g00000A%04zuQAC</sf:Id><sf:Amount>%zu.0</sf:Amount>"
               "<sf:CloseDate>2024-03-31</sf:CloseDate><sf:Name>Deal %zu</sf:Name>"
               "<sf:StageName>Prospecting</sf:StageName></sObject></Notification>",
               i, i, i * 1000, i);
    }
    char *xml = wrap_classic(b.s);
    free(b.s);
    return xml;
}

static void test_hundred_notifications(void **state)
{
    char *xml = make_opportunities(100);
    struct soap_message *m = NULL;
    assert_int_equal(parse(xml, &m), SOAP_OK);
    assert_int_equal(m->notification_count, 100);
    for (size_t i = 0; i < 100; i++) {
        const struct soap_notification *n = &m->notifications[i];
        char id[32], rid[32], amount[32], name[32];
        snprintf(id, sizeof(id), "04l5g00000B%04zuAAF", i);
        snprintf(rid, sizeof(rid), "0065g00000A%04zuQAC", i);
        snprintf(amount, sizeof(amount), "%zu.0", i * 1000);
        snprintf(name, sizeof(name), "Deal %zu", i);
        assert_string_equal(n->id, id);
        assert_string_equal(n->object_type, "Opportunity");
        assert_string_equal(n->record_id, rid);
        assert_int_equal(n->field_count, 5);
        assert_field(&n->fields[1], "Amount", amount);
        assert_field(&n->fields[3], "Name", name);
        assert_field(&n->fields[4], "StageName", "Prospecting");
    }
    soap_message_free(m);
    free(xml);
}

static void test_101_notifications_too_many(void **state)
{
    char *xml = make_opportunities(101);
    expect_error(xml, SOAP_ERR_TOO_MANY);
    assert_non_null(strstr(last_err, "100"));
    free(xml);

    /* A caller limit below 100 applies too. */
    xml = make_opportunities(6);
    struct soap_message *m = (struct soap_message *)1;
    assert_int_equal(parse_max(xml, 5, &m), SOAP_ERR_TOO_MANY);
    assert_null(m);
    assert_int_equal(parse_max(xml, 6, &m), SOAP_OK);
    assert_int_equal(m->notification_count, 6);
    soap_message_free(m);
    free(xml);
}

static void test_other_prefixes(void **state)
{
    static const char xml[] =
        "<S:Envelope xmlns:S=\"http://schemas.xmlsoap.org/soap/envelope/\">"
        "<S:Header/><S:Body>"
        "<ns1:notifications xmlns:ns1=\"http://soap.sforce.com/2005/09/outbound\" "
        "xmlns:i=\"http://www.w3.org/2001/XMLSchema-instance\">"
        "<ns1:OrganizationId>00D5g000004Sbsb</ns1:OrganizationId>"
        "<ns1:SessionId i:nil=\"1\"/>"
        "<ns1:Notification><ns1:Id>04l5g00000BzJ3zAAF</ns1:Id>"
        "<ns1:sObject i:type=\"ent:Opportunity\" "
        "xmlns:ent=\"urn:sobject.enterprise.soap.sforce.com\">"
        "<ent:Id>0065g00000AbCdEQAC</ent:Id><ent:StageName>Closed Won</ent:StageName>"
        "</ns1:sObject></ns1:Notification>"
        "</ns1:notifications></S:Body></S:Envelope>";
    struct soap_message *m = NULL;
    assert_int_equal(parse(xml, &m), SOAP_OK);
    assert_string_equal(m->organization_id, "00D5g000004Sbsb");
    assert_null(m->action_id);
    assert_null(m->session_id);
    assert_null(m->enterprise_url);
    assert_int_equal(m->notification_count, 1);
    assert_string_equal(m->notifications[0].object_type, "Opportunity");
    assert_string_equal(m->notifications[0].record_id, "0065g00000AbCdEQAC");
    assert_int_equal(m->notifications[0].field_count, 2);
    assert_field(&m->notifications[0].fields[1], "StageName", "Closed Won");
    soap_message_free(m);
}

static void test_default_namespaces(void **state)
{
    static const char xml[] =
        "<Envelope xmlns=\"http://schemas.xmlsoap.org/soap/envelope/\">"
        "<Body>"
        "<notifications xmlns=\"http://soap.sforce.com/2005/09/outbound\">"
        "<OrganizationId>" ORG_ID "</OrganizationId>"
        "<Notification><Id>04l5g00000BzJ3zAAF</Id>"
        "<sObject xmlns:x=\"http://www.w3.org/2001/XMLSchema-instance\" x:type=\"Account\">"
        "<Id xmlns=\"urn:sobject.enterprise.soap.sforce.com\">0015g00000AbCdEQAC</Id>"
        "<Name xmlns=\"urn:sobject.enterprise.soap.sforce.com\">Acme</Name>"
        "</sObject></Notification>"
        "</notifications></Body></Envelope>";
    struct soap_message *m = NULL;
    assert_int_equal(parse(xml, &m), SOAP_OK);
    assert_string_equal(m->organization_id, ORG_ID);
    /* xsi:type without a prefix: the whole value is the type. */
    assert_string_equal(m->notifications[0].object_type, "Account");
    assert_string_equal(m->notifications[0].record_id, "0015g00000AbCdEQAC");
    assert_int_equal(m->notifications[0].field_count, 2);
    assert_field(&m->notifications[0].fields[1], "Name", "Acme");
    soap_message_free(m);
}

static void test_entities_cdata_utf8_whitespace(void **state)
{
    char *xml = wrap_fields(
        "<sf:Name>Ocean &amp; Sky &lt;3 &gt; &quot;q&quot; &apos;a&apos; &#x00E6;&#230;</sf:Name>"
        "<sf:Description>  two  spaces\n\tline  </sf:Description>"
        "<sf:Notes__c>start <![CDATA[<b>bold</b> & raw]]> end<![CDATA[]]>!</sf:Notes__c>"
        "<sf:Title__c>Bl\xC3\xA5\x62\xC3\xA6rsyltet\xC3\xB8y \xC3\x86\xC3\x98\xC3\x85 "
        "\xF0\x9F\x8D\x93</sf:Title__c>"
        "<sf:Empty__c></sf:Empty__c><sf:Blank__c>   </sf:Blank__c>"
        "<sf:Commented__c>a<!-- not text -->b</sf:Commented__c>");
    struct soap_message *m = NULL;
    assert_int_equal(parse(xml, &m), SOAP_OK);
    const struct soap_notification *n = &m->notifications[0];
    assert_null(n->record_id);
    assert_int_equal(n->field_count, 7);
    assert_field(&n->fields[0], "Name", "Ocean & Sky <3 > \"q\" 'a' \xC3\xA6\xC3\xA6");
    assert_field(&n->fields[1], "Description", "  two  spaces\n\tline  ");
    assert_field(&n->fields[2], "Notes__c", "start <b>bold</b> & raw end!");
    assert_field(&n->fields[3], "Title__c",
                 "Bl\xC3\xA5\x62\xC3\xA6rsyltet\xC3\xB8y \xC3\x86\xC3\x98\xC3\x85 "
                 "\xF0\x9F\x8D\x93");
    assert_field(&n->fields[4], "Empty__c", "");
    assert_field(&n->fields[5], "Blank__c", "   ");
    assert_field(&n->fields[6], "Commented__c", "ab");
    soap_message_free(m);
    free(xml);
}

static void test_nil_and_omitted_fields(void **state)
{
    char *xml = wrap_fields("<sf:Id>a015g00000XyZ12AAB</sf:Id>"
                            "<sf:Budget__c xsi:nil=\"true\"/>"
                            "<sf:End_Date__c xsi:nil=\" 1 \"></sf:End_Date__c>"
                            "<sf:Name xsi:nil=\"false\">Kept</sf:Name>"
                            "<sf:Code__c xsi:nil=\"0\"/>");
    struct soap_message *m = NULL;
    assert_int_equal(parse(xml, &m), SOAP_OK);
    const struct soap_notification *n = &m->notifications[0];
    assert_int_equal(n->field_count, 5);
    assert_field(&n->fields[1], "Budget__c", NULL);
    assert_field(&n->fields[2], "End_Date__c", NULL);
    assert_field(&n->fields[3], "Name", "Kept");
    assert_field(&n->fields[4], "Code__c", "");
    for (size_t i = 0; i < n->field_count; i++) {
        assert_string_not_equal(n->fields[i].name, "Start_Date__c"); /* omitted: absent */
    }
    soap_message_free(m);
    free(xml);
}

static void test_deleted_record_without_fields(void **state)
{
    char *xml = wrap_classic("<Notification><Id>04l5g00000BzJ3zAAF</Id>"
                             "<sObject xsi:type=\"sf:Project__c\" "
                             "xmlns:sf=\"urn:sobject.enterprise.soap.sforce.com\"/>"
                             "</Notification>"
                             "<Notification><Id>04l5g00000BzJ40AAF</Id>"
                             "<sObject xsi:type=\"sf:Project__c\" "
                             "xmlns:sf=\"urn:sobject.enterprise.soap.sforce.com\">"
                             "<sf:Id>a015g00000XyZ13</sf:Id></sObject></Notification>");
    struct soap_message *m = NULL;
    assert_int_equal(parse(xml, &m), SOAP_OK);
    assert_int_equal(m->notification_count, 2);
    assert_int_equal(m->notifications[0].field_count, 0);
    assert_null(m->notifications[0].fields);
    assert_null(m->notifications[0].record_id);
    assert_string_equal(m->notifications[0].object_type, "Project__c");
    assert_int_equal(m->notifications[1].field_count, 1);
    assert_string_equal(m->notifications[1].record_id, "a015g00000XyZ13");
    json_object *j = soap_notification_to_json(&m->notifications[0], m);
    assert_string_equal(
        json_object_to_json_string_ext(json_object_object_get(j, "fields"), JSON_C_TO_STRING_PLAIN),
        "{}");
    assert_true(json_object_is_type(json_object_object_get(j, "recordId"), json_type_null));
    json_object_put(j);
    soap_message_free(m);
    free(xml);
}

static void test_malformed(void **state)
{
    expect_error("<soapenv:Envelope xmlns:soapenv=\"http://schemas.xmlsoap.org/soap/envelope/\">"
                 "<soapenv:Body>",
                 SOAP_ERR_MALFORMED);
    expect_error("<a><b></a></b>", SOAP_ERR_MALFORMED);
    /* libxml2's diagnosis reaches the error text through the per-context handler. */
    assert_non_null(strstr(last_err, "error 76 at line 1, column 11"));
    expect_error("<undeclared:Envelope/>", SOAP_ERR_MALFORMED);
    expect_error("<a>\xC3\x28</a>", SOAP_ERR_MALFORMED);
    expect_error("not xml at all", SOAP_ERR_MALFORMED);
    expect_error("<", SOAP_ERR_MALFORMED);
    expect_error("<a>&#0;</a>", SOAP_ERR_MALFORMED);
    expect_error("<a></a><b></b>", SOAP_ERR_MALFORMED);
    expect_error("   \n", SOAP_ERR_EMPTY);
    /* UTF-16 (has NUL bytes) is refused before libxml2 sees it. */
    struct soap_message *m = (struct soap_message *)1;
    static const char utf16[] = "\xFF\xFE<\0a\0/\0>\0";
    assert_int_equal(
        soap_parse_notifications(utf16, sizeof(utf16) - 1, 0, 0, &m, last_err, sizeof(last_err)),
        SOAP_ERR_MALFORMED);
    assert_null(m);
    assert_int_equal(soap_parse_notifications("", 0, 0, 0, &m, NULL, 0), SOAP_ERR_EMPTY);
    assert_int_equal(soap_parse_notifications(NULL, 10, 0, 0, &m, NULL, 0), SOAP_ERR_EMPTY);
    /* The message is parsed up to the mistake, and the mistake is in the error, not the data. */
    char *xml = wrap_fields("<sf:Name>Unclosed</sf:Nome>");
    expect_error(xml, SOAP_ERR_MALFORMED);
    assert_non_null(strstr(last_err, "line"));
    free(xml);
}

static void test_xxe_is_hostile(void **state)
{
    static const char xxe[] =
        "<?xml version=\"1.0\"?><!DOCTYPE x [<!ENTITY xxe SYSTEM \"file:///etc/passwd\">]>"
        "<soapenv:Envelope xmlns:soapenv=\"http://schemas.xmlsoap.org/soap/envelope/\">"
        "<soapenv:Body><notifications xmlns=\"http://soap.sforce.com/2005/09/outbound\">"
        "<OrganizationId>" ORG_ID "</OrganizationId><Notification><Id>04l5g00000BzJ3zAAF</Id>"
        "<sObject xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xsi:type=\"sf:A\" "
        "xmlns:sf=\"urn:sobject.enterprise.soap.sforce.com\"><sf:Name>&xxe;</sf:Name>"
        "</sObject></Notification></notifications></soapenv:Body></soapenv:Envelope>";
    expect_error(xxe, SOAP_ERR_HOSTILE);
    assert_null(strstr(last_err, "root:"));
    assert_non_null(strstr(last_err, "DOCTYPE"));

    /* Parameter-entity variant. */
    expect_error("<!DOCTYPE x [<!ENTITY % p SYSTEM \"file:///etc/passwd\"> %p;]><x/>",
                 SOAP_ERR_HOSTILE);
    /* An entity reference without any DTD is refused too, not silently dropped. */
    char *xml = wrap_fields("<sf:Name>&xxe;</sf:Name>");
    expect_error(xml, SOAP_ERR_HOSTILE);
    assert_non_null(strstr(last_err, "entity"));
    free(xml);
    xml = wrap_fields("<sf:Name a=\"&xxe;\">x</sf:Name>");
    expect_error(xml, SOAP_ERR_HOSTILE);
    free(xml);
    /* A declared encoding cannot smuggle markup: the body is always read as UTF-8. */
    expect_error("<?xml version=\"1.0\" encoding=\"UTF-7\"?>"
                 "+ADwAIQ-DOCTYPE x +AFs-+ADwAIQ-ENTITY xxe SYSTEM +ACI-file:///etc/passwd+ACI-"
                 "+AD4AXQA+-<x>&xxe;</x>",
                 SOAP_ERR_MALFORMED);
    char *utf7 = wrap_fields("<sf:Name>Ocean +AOY- Sky</sf:Name>");
    char *enc = strstr(utf7, "encoding=\"UTF-8\"");
    assert_non_null(enc);
    enc[strlen("encoding=\"UTF-")] = '7';
    struct soap_message *m = NULL;
    assert_int_equal(parse(utf7, &m), SOAP_OK);
    assert_field(&m->notifications[0].fields[0], "Name", "Ocean +AOY- Sky");
    soap_message_free(m);
    free(utf7);
}

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void test_billion_laughs_is_hostile_and_quick(void **state)
{
    struct sbuf b = {0};
    sb_add(&b, "<?xml version=\"1.0\"?>\n<!DOCTYPE lolz [\n <!ENTITY lol \"lol\">\n");
    sb_add(&b, " <!ENTITY lol1 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\">\n");
    for (int i = 2; i <= 9; i++) {
        sb_add(&b, " <!ENTITY lol%d \"", i);
        for (int k = 0; k < 10; k++) {
            sb_add(&b, "&lol%d;", i - 1);
        }
        sb_add(&b, "\">\n");
    }
    sb_add(&b, "]>\n<lolz>&lol9;</lolz>");
    double t0 = now_seconds();
    expect_error(b.s, SOAP_ERR_HOSTILE);
    assert_true(now_seconds() - t0 < 0.5);
    free(b.s);
}

static void test_plain_doctype_is_hostile(void **state)
{
    char *xml = xasprintf("<?xml version=\"1.0\"?>\n<!DOCTYPE soapenv:Envelope>\n%s",
                          strstr(classic_msg, "<soapenv:Envelope"));
    expect_error(xml, SOAP_ERR_HOSTILE);
    free(xml);
    xml = xasprintf("<!DOCTYPE Envelope SYSTEM \"http://attacker.example/x.dtd\">%s",
                    strstr(classic_msg, "<soapenv:Envelope"));
    expect_error(xml, SOAP_ERR_HOSTILE);
    free(xml);
}

static void test_wrong_envelope_namespace(void **state)
{
    /* SOAP 1.2 envelope namespace with the same prefix. */
    char *xml = strdup(classic_msg);
    char *ns = strstr(xml, "http://schemas.xmlsoap.org/soap/envelope/");
    assert_non_null(ns);
    char *fixed = xasprintf("%.*shttp://www.w3.org/2003/05/soap-envelope%s", (int)(ns - xml), xml,
                            ns + strlen("http://schemas.xmlsoap.org/soap/envelope/"));
    expect_error(fixed, SOAP_ERR_INVALID);
    assert_non_null(strstr(last_err, "envelope"));
    free(fixed);
    free(xml);
    expect_error("<Envelope><Body/></Envelope>", SOAP_ERR_INVALID);
}

static void test_wrong_namespace_elements_are_not_matched(void **state)
{
    /* notifications in a foreign namespace: as if missing. */
    expect_error("<e:Envelope xmlns:e=\"http://schemas.xmlsoap.org/soap/envelope/\"><e:Body>"
                 "<notifications xmlns=\"http://soap.sforce.com/2006/09/outbound\">"
                 "<OrganizationId>" ORG_ID "</OrganizationId></notifications></e:Body>"
                 "</e:Envelope>",
                 SOAP_ERR_INVALID);
    assert_non_null(strstr(last_err, "notifications"));
    /* The right local name in the wrong namespace is not the OrganizationId. */
    char *n = xasprintf("<x:OrganizationId xmlns:x=\"urn:evil\">%s</x:OrganizationId>", ORG_ID);
    char *xml = xasprintf(
        "<e:Envelope xmlns:e=\"http://schemas.xmlsoap.org/soap/envelope/\" "
        "xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\"><e:Body>"
        "<notifications xmlns=\"http://soap.sforce.com/2005/09/outbound\">%s"
        "<Notification><Id>04l5g00000BzJ3zAAF</Id><sObject xsi:type=\"A\"/></Notification>"
        "</notifications></e:Body></e:Envelope>",
        n);
    expect_error(xml, SOAP_ERR_INVALID);
    assert_non_null(strstr(last_err, "OrganizationId"));
    free(xml);
    free(n);
    /* A Notification in the wrong namespace is not counted; foreign fields are skipped. */
    xml = wrap_classic(
        "<Notification><Id>04l5g00000BzJ3zAAF</Id>"
        "<sObject xsi:type=\"sf:A\" xmlns:sf=\"urn:sobject.enterprise.soap.sforce.com\" "
        "xmlns:p=\"urn:sobject.partner.soap.sforce.com\">"
        "<p:Id>0015g00000AbCdEQAC</p:Id><Name>no namespace</Name>"
        "<sf:Name>real</sf:Name></sObject></Notification>"
        "<o:Notification xmlns:o=\"urn:other\"><o:Id>04l5g00000BzJ3zAAF</o:Id>"
        "</o:Notification>");
    struct soap_message *m = NULL;
    assert_int_equal(parse(xml, &m), SOAP_OK);
    assert_int_equal(m->notification_count, 1);
    assert_null(m->notifications[0].record_id);
    assert_int_equal(m->notifications[0].field_count, 1);
    assert_field(&m->notifications[0].fields[0], "Name", "real");
    soap_message_free(m);
    free(xml);
    /* Only a foreign-namespace Notification: zero notifications. */
    xml = wrap_classic("<o:Notification xmlns:o=\"urn:other\"/>");
    expect_error(xml, SOAP_ERR_EMPTY);
    free(xml);
}

static void test_structure_errors(void **state)
{
    static const struct {
        const char *notifications;
        int code;
        const char *mentions;
    } cases[] = {
        {"", SOAP_ERR_EMPTY, "no Notification"},
        {"<Notification><sObject xsi:type=\"sf:A\"/></Notification>", SOAP_ERR_INVALID, "no Id"},
        {"<Notification><Id>04l5g00000BzJ3zAAF</Id></Notification>", SOAP_ERR_INVALID,
         "no sObject"},
        {"<Notification><Id>04l5g00000BzJ3zAAF</Id><sObject/></Notification>", SOAP_ERR_INVALID,
         "xsi:type"},
        {"<Notification><Id>04l5g00000BzJ3zAAF</Id><sObject type=\"A\"/></Notification>",
         SOAP_ERR_INVALID, "xsi:type"},
        {"<Notification><Id>04l5g00000BzJ3zAAF</Id><sObject xsi:type=\"sf:\"/></Notification>",
         SOAP_ERR_INVALID, "xsi:type"},
        {"<Notification><Id>04l5g00000BzJ3zAAF</Id>"
         "<sObject xsi:type=\"sf:A;DROP TABLE\"/></Notification>",
         SOAP_ERR_INVALID, "xsi:type"},
        {"<Notification><Id>04l5g00000BzJ3z</Id><Id>04l5g00000BzJ3z</Id>"
         "<sObject xsi:type=\"A\"/></Notification>",
         SOAP_ERR_INVALID, "more than one Id"},
        {"<Notification><Id>04l5g00000BzJ3zAA</Id><sObject xsi:type=\"A\"/></Notification>",
         SOAP_ERR_INVALID, "15- or 18-character"},
        {"<Notification><Id>04l5g00000BzJ3z-AF</Id><sObject xsi:type=\"A\"/></Notification>",
         SOAP_ERR_INVALID, "15- or 18-character"},
        {"<Notification><Id> 04l5g00000BzJ3z</Id><sObject xsi:type=\"A\"/></Notification>",
         SOAP_ERR_INVALID, "15- or 18-character"},
        {"<Notification><Id>04l5g00000BzJ3zAAF</Id><sObject xsi:type=\"A\" "
         "xmlns:sf=\"urn:sobject.enterprise.soap.sforce.com\"><sf:Id>bad</sf:Id></sObject>"
         "</Notification>",
         SOAP_ERR_INVALID, "record Id"},
        {"<Notification><Id>04l5g00000BzJ3zAAF</Id><sObject xsi:type=\"A\" "
         "xmlns:sf=\"urn:sobject.enterprise.soap.sforce.com\"><sf:Name>a</sf:Name>"
         "<sf:Name>b</sf:Name></sObject></Notification>",
         SOAP_ERR_INVALID, "Name more than once"},
        {"<Notification><Id>04l5g00000BzJ3zAAF</Id><sObject xsi:type=\"A\" "
         "xmlns:sf=\"urn:sobject.enterprise.soap.sforce.com\"><sf:Owner><sf:Name>x</sf:Name>"
         "</sf:Owner></sObject></Notification>",
         SOAP_ERR_INVALID, "contains elements"},
        {"<Notification><Id>04l5g00000BzJ3zAAF</Id><sObject xsi:type=\"A\" "
         "xmlns:sf=\"urn:sobject.enterprise.soap.sforce.com\"><sf:Name xsi:nil=\"yes\"/>"
         "</sObject></Notification>",
         SOAP_ERR_INVALID, "xsi:nil"},
        {"<Notification><Id>04l5g00000BzJ3zAAF</Id><sObject xsi:type=\"A\" "
         "xmlns:sf=\"urn:sobject.enterprise.soap.sforce.com\"><sf:Name xsi:nil=\"true\">x"
         "</sf:Name></sObject></Notification>",
         SOAP_ERR_INVALID, "xsi:nil but has a value"},
        {"<Notification><Id>04l5g00000BzJ3zAAF</Id><sObject xsi:type=\"A\" "
         "xmlns:sf=\"urn:sobject.enterprise.soap.sforce.com\"><sf:Na.me>x</sf:Na.me>"
         "</sObject></Notification>",
         SOAP_ERR_INVALID, "API name"},
        {"<Notification><Id>04l5g00000BzJ3zAAF</Id><sObject xsi:type=\"A\"/>"
         "<sObject xsi:type=\"B\"/></Notification>",
         SOAP_ERR_INVALID, "more than one sObject"},
        {"<ActionId>04k5g000000CaTw</ActionId>"
         "<Notification><Id>04l5g00000BzJ3zAAF</Id><sObject xsi:type=\"A\"/></Notification>",
         SOAP_ERR_INVALID, "more than one ActionId"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *xml = wrap_classic(cases[i].notifications);
        expect_error(xml, cases[i].code);
        if (strstr(last_err, cases[i].mentions) == NULL) {
            print_error("case %zu: '%s' lacks '%s'\n", i, last_err, cases[i].mentions);
        }
        assert_non_null(strstr(last_err, cases[i].mentions));
        free(xml);
    }
}

static void test_header_errors(void **state)
{
    static const char *const bad_headers[] = {
        /* missing OrganizationId */
        "<ActionId>" ACTION_ID "</ActionId>",
        /* nil OrganizationId */
        "<OrganizationId xsi:nil=\"true\"/>",
        /* wrong length */
        "<OrganizationId>00D5g000004Sbs</OrganizationId>",
        /* element inside */
        "<OrganizationId><b>" ORG_ID "</b></OrganizationId>",
        /* duplicate */
        "<OrganizationId>" ORG_ID "</OrganizationId><OrganizationId>" ORG_ID "</OrganizationId>",
        /* ActionId not an id */
        "<OrganizationId>" ORG_ID "</OrganizationId><ActionId>x</ActionId>",
        /* SessionId with markup */
        "<OrganizationId>" ORG_ID "</OrganizationId><SessionId>" SESSION_ID "<i/></SessionId>",
    };
    for (size_t i = 0; i < sizeof(bad_headers) / sizeof(bad_headers[0]); i++) {
        char *xml = xasprintf(
            "<soapenv:Envelope xmlns:soapenv=\"http://schemas.xmlsoap.org/soap/envelope/\" "
            "xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\"><soapenv:Body>"
            "<notifications xmlns=\"http://soap.sforce.com/2005/09/outbound\">%s"
            "<Notification><Id>04l5g00000BzJ3zAAF</Id><sObject xsi:type=\"sf:A\"/>"
            "</Notification></notifications></soapenv:Body></soapenv:Envelope>",
            bad_headers[i]);
        expect_error(xml, SOAP_ERR_INVALID);
        free(xml);
    }
}

static void test_field_limit(void **state)
{
    struct sbuf b = {0};
    for (int i = 0; i < SOAP_MAX_FIELDS; i++) {
        sb_add(&b, "<sf:F%d__c>%d</sf:F%d__c>", i, i, i);
    }
    char *xml = wrap_fields(b.s);
    struct soap_message *m = NULL;
    assert_int_equal(parse_max(xml, 1, &m), SOAP_OK); /* fits the node budget of one */
    assert_int_equal(m->notifications[0].field_count, SOAP_MAX_FIELDS);
    assert_field(&m->notifications[0].fields[999], "F999__c", "999");
    soap_message_free(m);
    free(xml);
    sb_add(&b, "<sf:Extra__c>x</sf:Extra__c>");
    xml = wrap_fields(b.s);
    expect_error(xml, SOAP_ERR_TOO_MANY);
    assert_non_null(strstr(last_err, "fields"));
    free(xml);
    free(b.s);
}

static void test_depth_bomb(void **state)
{
    struct sbuf b = {0};
    for (int i = 0; i < 10000; i++) {
        sb_add(&b, "<a>");
    }
    for (int i = 0; i < 10000; i++) {
        sb_add(&b, "</a>");
    }
    expect_error(b.s, SOAP_ERR_HOSTILE);
    assert_non_null(strstr(last_err, "deeper"));
    free(b.s);

    /* Inside a real message, the same. */
    b = (struct sbuf){0};
    sb_add(&b, "<sf:Name>");
    for (int i = 0; i < 40; i++) {
        sb_add(&b, "<sf:x>");
    }
    for (int i = 0; i < 40; i++) {
        sb_add(&b, "</sf:x>");
    }
    sb_add(&b, "</sf:Name>");
    char *xml = wrap_fields(b.s);
    expect_error(xml, SOAP_ERR_HOSTILE);
    free(xml);
    free(b.s);

    /* Exactly SOAP_MAX_DEPTH levels is still accepted by the parser (and then rejected as a
     * nested field, which proves the depth guard let it through). */
    b = (struct sbuf){0};
    sb_add(&b, "<sf:Name>");
    for (int i = 0; i < SOAP_MAX_DEPTH - 6; i++) {
        sb_add(&b, "<sf:x>");
    }
    for (int i = 0; i < SOAP_MAX_DEPTH - 6; i++) {
        sb_add(&b, "</sf:x>");
    }
    sb_add(&b, "</sf:Name>");
    xml = wrap_fields(b.s);
    expect_error(xml, SOAP_ERR_INVALID);
    free(xml);
    free(b.s);
}

static void test_attribute_bomb(void **state)
{
    struct sbuf b = {0};
    sb_add(&b, "<sf:Name");
    for (int i = 0; i <= SOAP_MAX_ATTRIBUTES; i++) {
        sb_add(&b, " a%d='%s'", i, i % 2 ? ">" : "=");
    }
    sb_add(&b, ">x</sf:Name>");
    char *xml = wrap_fields(b.s);
    double t0 = now_seconds();
    expect_error(xml, SOAP_ERR_HOSTILE);
    assert_true(now_seconds() - t0 < 0.5);
    assert_non_null(strstr(last_err, "attributes"));
    free(xml);
    free(b.s);
    /* '=' in text and in comments is not an attribute. */
    b = (struct sbuf){0};
    sb_add(&b, "<sf:Name>");
    for (int i = 0; i < 100; i++) {
        sb_add(&b, "a=b>");
    }
    sb_add(&b, "<!-- ==================================================== --></sf:Name>");
    xml = wrap_fields(b.s);
    struct soap_message *m = NULL;
    assert_int_equal(parse(xml, &m), SOAP_OK);
    assert_int_equal(m->notifications[0].fields[0].value_len, 400);
    soap_message_free(m);
    free(xml);
    free(b.s);
}

static void test_node_budget(void **state)
{
    /* Tiny elements and comments are cheap to send and dear to hold: the tree is bounded by
     * max_notifications * (SOAP_MAX_FIELDS + 16) + 256 nodes. */
    struct sbuf b = {0};
    for (int i = 0; i < 1300; i++) {
        sb_add(&b, "<!---->");
    }
    char *xml = wrap_fields(b.s);
    struct soap_message *m = (struct soap_message *)1;
    assert_int_equal(parse_max(xml, 1, &m), SOAP_ERR_HOSTILE);
    assert_null(m);
    assert_non_null(strstr(last_err, "nodes"));
    assert_int_equal(parse_max(xml, 2, &m), SOAP_OK);
    soap_message_free(m);
    free(xml);
    free(b.s);

    b = (struct sbuf){0};
    for (int i = 0; i < 120000; i++) {
        sb_add(&b, "<x/>");
    }
    xml = wrap_fields(b.s);
    double t0 = now_seconds();
    expect_error(xml, SOAP_ERR_HOSTILE);
    assert_true(now_seconds() - t0 < 1.0);
    free(xml);
    free(b.s);
}

static void test_size_limit(void **state)
{
    struct soap_message *m = (struct soap_message *)1;
    size_t len = strlen(classic_msg);
    assert_int_equal(
        soap_parse_notifications(classic_msg, len, len - 1, 0, &m, last_err, sizeof(last_err)),
        SOAP_ERR_TOO_LARGE);
    assert_null(m);
    assert_int_equal(
        soap_parse_notifications(classic_msg, len, len, 0, &m, last_err, sizeof(last_err)),
        SOAP_OK);
    soap_message_free(m);
    /* Not NUL-terminated input is fine: parse a prefix of a longer buffer. */
    char *padded = xasprintf("%sGARBAGE<<<", classic_msg);
    assert_int_equal(soap_parse_notifications(padded, len, 0, 0, &m, last_err, sizeof(last_err)),
                     SOAP_OK);
    soap_message_free(m);
    free(padded);
}

static void test_errors_never_carry_the_session_id(void **state)
{
    /* A message that carries the secret and then fails late. */
    char *xml = wrap_classic("<Notification><Id>bad</Id><sObject xsi:type=\"A\"/></Notification>");
    expect_error(xml, SOAP_ERR_INVALID);
    free(xml);
    xml = wrap_classic("<Notification>\xFF</Notification>");
    expect_error(xml, SOAP_ERR_MALFORMED);
    assert_null(strstr(last_err, "AQ0AQ"));
    free(xml);
}

static void test_org_id_matches(void **state)
{
    assert_true(soap_org_id_matches("00D5g000004SbsbEAC", "00D5g000004SbsbEAC"));
    assert_true(soap_org_id_matches("00D5g000004Sbsb", "00D5g000004SbsbEAC"));
    assert_true(soap_org_id_matches("00D5g000004SbsbEAC", "00D5g000004Sbsb"));
    assert_true(soap_org_id_matches("00D5g000004Sbsb", "00D5g000004Sbsb"));
    /* case-sensitive */
    assert_false(soap_org_id_matches("00D5g000004SBSB", "00D5g000004SbsbEAC"));
    assert_false(soap_org_id_matches("00d5g000004Sbsb", "00D5g000004SbsbEAC"));
    /* different org */
    assert_false(soap_org_id_matches("00D5g000004SbscEAC", "00D5g000004SbsbEAC"));
    /* wrong lengths and characters */
    assert_false(soap_org_id_matches("00D5g000004Sbsb", "00D5g000004SbsbEA"));
    assert_false(soap_org_id_matches("00D5g000004Sbsb", "00D5g000004SbsbEACX"));
    assert_false(soap_org_id_matches("00D5g000004Sbsb", "00D5g000004Sbs"));
    assert_false(soap_org_id_matches("00D5g000004Sbs", "00D5g000004SbsbEAC"));
    assert_false(soap_org_id_matches("00D5g000004Sbsb", "00D5g000004Sbsb!!!"));
    assert_false(soap_org_id_matches("", ""));
    assert_false(soap_org_id_matches(NULL, "00D5g000004SbsbEAC"));
    assert_false(soap_org_id_matches("00D5g000004SbsbEAC", NULL));
}

static void test_ack_exact(void **state)
{
    char *ack = soap_render_ack();
    assert_non_null(ack);
    assert_string_equal(
        ack, "<soapenv:Envelope xmlns:soapenv=\"http://schemas.xmlsoap.org/soap/envelope/\">"
             "<soapenv:Body><notificationsResponse "
             "xmlns=\"http://soap.sforce.com/2005/09/outbound\"><Ack>true</Ack>"
             "</notificationsResponse></soapenv:Body></soapenv:Envelope>");
    free(ack);
}

/* Parses a rendered fault and returns its faultstring text (caller frees with xmlFree). */
static xmlChar *fault_text(const char *xml, const char *element)
{
    xmlDocPtr doc = xmlReadMemory(xml, (int)strlen(xml), NULL, NULL,
                                  XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    assert_non_null(doc);
    xmlNodePtr root = xmlDocGetRootElement(doc);
    assert_string_equal((const char *)root->ns->href, "http://schemas.xmlsoap.org/soap/envelope/");
    xmlNodePtr body = xmlFirstElementChild(root);
    xmlNodePtr fault = xmlFirstElementChild(body);
    assert_string_equal((const char *)fault->name, "Fault");
    xmlChar *text = NULL;
    for (xmlNodePtr c = xmlFirstElementChild(fault); c != NULL; c = xmlNextElementSibling(c)) {
        if (xmlStrEqual(c->name, (const xmlChar *)element)) {
            text = xmlNodeGetContent(c);
        }
    }
    xmlFreeDoc(doc);
    assert_non_null(text);
    return text;
}

static void test_fault_escaping(void **state)
{
    char *f = soap_render_fault("soapenv:Client", "bad <x> & \"y\" 'z'");
    assert_non_null(f);
    assert_string_equal(
        f, "<soapenv:Envelope xmlns:soapenv=\"http://schemas.xmlsoap.org/soap/envelope/\">"
           "<soapenv:Body><soapenv:Fault><faultcode>soapenv:Client</faultcode>"
           "<faultstring>bad &lt;x&gt; &amp; &quot;y&quot; &apos;z&apos;</faultstring>"
           "</soapenv:Fault></soapenv:Body></soapenv:Envelope>");
    xmlChar *t = fault_text(f, "faultstring");
    assert_string_equal((const char *)t, "bad <x> & \"y\" 'z'");
    xmlFree(t);
    free(f);

    /* Any byte string yields well-formed XML: controls and broken UTF-8 become U+FFFD. */
    f = soap_render_fault(NULL, "a\x01"
                                "b\r\n\xC3\x28\xF0\x9F\x8D\x93\xED\xA0\x80]]>\xEF\xBF\xBE");
    assert_non_null(f);
    t = fault_text(f, "faultstring");
    assert_string_equal((const char *)t, "a\xEF\xBF\xBD"
                                         "b\r\n\xEF\xBF\xBD(\xF0\x9F\x8D\x93\xEF\xBF\xBD\xEF\xBF"
                                         "\xBD\xEF\xBF\xBD]]>\xEF\xBF\xBD");
    xmlFree(t);
    t = fault_text(f, "faultcode");
    assert_string_equal((const char *)t, "soapenv:Server");
    xmlFree(t);
    free(f);

    f = soap_render_fault("</faultcode><evil/>", NULL);
    t = fault_text(f, "faultcode");
    assert_string_equal((const char *)t, "</faultcode><evil/>");
    xmlFree(t);
    t = fault_text(f, "faultstring");
    assert_string_equal((const char *)t, "");
    xmlFree(t);
    free(f);
}

static void test_status_names_and_free_null(void **state)
{
    assert_string_equal(soap_status_name(SOAP_OK), "ok");
    assert_string_equal(soap_status_name(SOAP_ERR_HOSTILE), "hostile");
    assert_string_equal(soap_status_name(SOAP_ERR_TOO_LARGE), "too_large");
    assert_string_equal(soap_status_name(42), "unknown");
    soap_message_free(NULL);
    assert_int_equal(soap_parse_notifications(classic_msg, strlen(classic_msg), 0, 0, NULL,
                                              last_err, sizeof(last_err)),
                     SOAP_ERR_INVALID);
}

static void test_libxml2_prints_nothing(void **state)
{
    char path[] = "/tmp/soap_stderr_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    fflush(stderr);
    int saved = dup(2);
    assert_true(saved >= 0);
    assert_true(dup2(fd, 2) >= 0);
    struct soap_message *m = NULL;
    static const char *const bad[] = {
        "<a><b></a>", "<a>&xxe;</a>", "<!DOCTYPE a [<!ENTITY x 'y'>]><a>&x;</a>",
        "<p:a/>",     "<a>\xFF</a>",  "<a xmlns:p='relative'><p:b/></a>",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_true(parse(bad[i], &m) < 0);
    }
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    off_t size = lseek(fd, 0, SEEK_END);
    close(fd);
    unlink(path);
    assert_int_equal(size, 0);
}

static void *parse_many(void *arg)
{
    const char *xml = arg;
    for (int i = 0; i < 50; i++) {
        struct soap_message *m = NULL;
        char err[128];
        if (soap_parse_notifications(xml, strlen(xml), 0, 0, &m, err, sizeof(err)) != SOAP_OK ||
            m->notification_count != 100) {
            return (void *)1;
        }
        soap_message_free(m);
    }
    return NULL;
}

static void test_concurrent_parses(void **state)
{
    char *xml = make_opportunities(100);
    pthread_t t[8];
    for (int i = 0; i < 8; i++) {
        assert_int_equal(pthread_create(&t[i], NULL, parse_many, xml), 0);
    }
    for (int i = 0; i < 8; i++) {
        void *r = (void *)1;
        pthread_join(t[i], &r);
        assert_null(r);
    }
    free(xml);
}

int main(void)
{
    soap_outbound_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_classic_one_notification),
        cmocka_unit_test(test_session_id_present_and_never_in_json),
        cmocka_unit_test(test_json_payload_exact),
        cmocka_unit_test(test_hundred_notifications),
        cmocka_unit_test(test_101_notifications_too_many),
        cmocka_unit_test(test_other_prefixes),
        cmocka_unit_test(test_default_namespaces),
        cmocka_unit_test(test_entities_cdata_utf8_whitespace),
        cmocka_unit_test(test_nil_and_omitted_fields),
        cmocka_unit_test(test_deleted_record_without_fields),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_xxe_is_hostile),
        cmocka_unit_test(test_billion_laughs_is_hostile_and_quick),
        cmocka_unit_test(test_plain_doctype_is_hostile),
        cmocka_unit_test(test_wrong_envelope_namespace),
        cmocka_unit_test(test_wrong_namespace_elements_are_not_matched),
        cmocka_unit_test(test_structure_errors),
        cmocka_unit_test(test_header_errors),
        cmocka_unit_test(test_field_limit),
        cmocka_unit_test(test_depth_bomb),
        cmocka_unit_test(test_attribute_bomb),
        cmocka_unit_test(test_node_budget),
        cmocka_unit_test(test_size_limit),
        cmocka_unit_test(test_errors_never_carry_the_session_id),
        cmocka_unit_test(test_org_id_matches),
        cmocka_unit_test(test_ack_exact),
        cmocka_unit_test(test_fault_escaping),
        cmocka_unit_test(test_status_names_and_free_null),
        cmocka_unit_test(test_libxml2_prints_nothing),
        cmocka_unit_test(test_concurrent_parses),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
