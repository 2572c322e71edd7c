/* it_ingest.c: webhook ingest end to end through HTTP into real PostgreSQL:
 * Salesforce outbound messages and HubSpot webhooks stored and acknowledged,
 * duplicates stored once, every hostile or broken input refused with a clear
 * error and nothing stored, 503 while the database is down and recovery
 * after, the admin events API, and concurrent ingest (group commit). */
#include "harness.h"

#include "handlers/hubspot_signature.h"

#include <arpa/inet.h>
#include <inttypes.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#include <json-c/json.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#define ORG_ID    "00D5g000004SbsbEAC"
#define SF_TOKEN  "sf-endpoint-token-0123456789"
#define HS_SECRET "hs-secret-abcdef-0123456789"
#define ADMIN     "admin-token-0123456789abcdef"
#define PORTAL    62515

struct fixture {
    struct harness_db db;
    struct harness_proc proc;
};

static const char *const base_env[] = {"SALESFORCE_ORG_ID=00D5g000004Sbsb",
                                       "SYNKRO_SF_ENDPOINT_TOKEN=" SF_TOKEN,
                                       "HUBSPOT_CLIENT_SECRET=" HS_SECRET,
                                       "HUBSPOT_PORTAL_ID=62515",
                                       "SYNKRO_ADMIN_TOKEN=" ADMIN,
                                       "SYNKRO_MAX_BODY_BYTES=1048576",
                                       NULL};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    if (!f || harness_db_create(&f->db) != 0)
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state);

static int setup_started(void **state)
{
    if (setup(state) != 0)
        return -1;
    struct fixture *f = *state;
    if (harness_synkro_start(&f->proc, f->db.url, base_env) != 0) {
        teardown(state); /* cmocka runs no teardown after a failed setup */
        return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    if (f->proc.pid > 0)
        harness_synkro_stop(&f->proc, SIGKILL, 2000);
    harness_db_drop(&f->db);
    free(f);
    return 0;
}

static long count_events(struct fixture *f)
{
    char *v = harness_db_scalar(&f->db, "SELECT count(*) FROM change_events");
    assert_non_null(v);
    long n = atol(v);
    free(v);
    return n;
}

/* ---- Salesforce ---- */

static char *soap_message(const char *org, int count, const char *notif_prefix)
{
    size_t cap = 4096 + (size_t)count * 1024;
    char *buf = malloc(cap);
    size_t len = (size_t)snprintf(
        buf, cap,
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        "<soapenv:Envelope xmlns:soapenv=\"http://schemas.xmlsoap.org/soap/envelope/\" "
        "xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\"><soapenv:Body>"
        "<notifications xmlns=\"http://soap.sforce.com/2005/09/outbound\">"
        "<OrganizationId>%s</OrganizationId><ActionId>04k5g000000CaTwAAK</ActionId>"
        "<SessionId>00D5g!SESSION-SECRET-VALUE.abc</SessionId>"
        "<EnterpriseUrl>https://acme.my.salesforce.com/services/Soap/c/58.0</EnterpriseUrl>"
        "<PartnerUrl>https://acme.my.salesforce.com/services/Soap/u/58.0</PartnerUrl>",
        org);
    for (int i = 0; i < count; i++)
        len +=
            (size_t)snprintf(buf + len, cap - len,
                             "<Notification><Id>%s%05d</Id>"
                             "<sObject xsi:type=\"sf:Project__c\" "
                             "xmlns:sf=\"urn:sobject.enterprise.soap.sforce.com\">"
                             "<sf:Id>a015g00000X%05dAA</sf:Id><sf:Name>Blåbær &amp; Co %d</sf:Name>"
                             "<sf:Budget__c>419.0</sf:Budget__c>"
                             "<sf:CreatedDate>2024-05-02T11:53:53.000Z</sf:CreatedDate>"
                             "<sf:LastModifiedDate>2024-05-03T08:00:00.000Z</sf:LastModifiedDate>"
                             "</sObject></Notification>",
                             notif_prefix, i, i, i);
    snprintf(buf + len, cap - len, "</notifications></soapenv:Body></soapenv:Envelope>");
    return buf;
}

static struct harness_response post(struct fixture *f, const char *path, const char *ctype,
                                    const char *body, size_t len, const char *const *extra)
{
    char url[512];
    snprintf(url, sizeof url, "%s%s", f->proc.base_url, path);
    const char *headers[16];
    size_t n = 0;
    char ct[128];
    if (ctype) {
        snprintf(ct, sizeof ct, "Content-Type: %s", ctype);
        headers[n++] = ct;
    }
    for (const char *const *e = extra; e && *e && n < 15; e++)
        headers[n++] = *e;
    headers[n] = NULL;
    struct harness_response r;
    assert_int_equal(harness_http("POST", url, headers, body, len, &r), 0);
    return r;
}

static struct harness_response post_sf(struct fixture *f, const char *body)
{
    return post(f, "/webhooks/salesforce?token=" SF_TOKEN, "text/xml; charset=utf-8", body,
                strlen(body), NULL);
}

static void assert_fault(const struct harness_response *r, long status, const char *faultcode)
{
    assert_int_equal(r->status, status);
    assert_non_null(strstr(r->body, "http://schemas.xmlsoap.org/soap/envelope/"));
    assert_non_null(strstr(r->body, "Fault>"));
    assert_non_null(strstr(r->body, faultcode));
    assert_null(strstr(r->body, "<Ack>true</Ack>"));
}

static void test_sf_stored_and_acknowledged(void **state)
{
    struct fixture *f = *state;
    char *msg = soap_message(ORG_ID, 1, "04l5g00000BzJ");
    struct harness_response r = post_sf(f, msg);
    assert_int_equal(r.status, 200);
    assert_string_equal(
        r.body, "<soapenv:Envelope xmlns:soapenv=\"http://schemas.xmlsoap.org/soap/envelope/\">"
                "<soapenv:Body><notificationsResponse "
                "xmlns=\"http://soap.sforce.com/2005/09/outbound\"><Ack>true</Ack>"
                "</notificationsResponse></soapenv:Body></soapenv:Envelope>");
    harness_response_free(&r);
    assert_int_equal(count_events(f), 1);
    char *row = harness_db_scalar(
        &f->db, "SELECT source||'|'||idempotency_key||'|'||object_type||'|'||record_id||'|'||kind"
                "||'|'||status||'|'||to_char(occurred_at AT TIME ZONE 'UTC','YYYY-MM-DD HH24:MI')"
                "||'|'||(payload->'fields'->>'Name') FROM change_events");
    assert_string_equal(row, "salesforce|sf:04l5g00000BzJ00000|Project__c|a015g00000X00000AA|"
                             "update|unmapped|2024-05-03 08:00|Blåbær & Co 0");
    free(row);
    /* the session id is never stored, nor logged */
    char *payload = harness_db_scalar(&f->db, "SELECT payload::text FROM change_events");
    assert_null(strstr(payload, "SESSION-SECRET"));
    free(payload);
    /* redelivery: acknowledged, stored once */
    r = post_sf(f, msg);
    assert_int_equal(r.status, 200);
    harness_response_free(&r);
    assert_int_equal(count_events(f), 1);
    free(msg);
    assert_int_equal(harness_synkro_stop(&f->proc, SIGTERM, 10000), 0);
    char *log = harness_read_file(f->proc.err_path);
    assert_null(strstr(log, "SESSION-SECRET"));
    free(log);
}

static void test_sf_hundred_notifications(void **state)
{
    struct fixture *f = *state;
    char *msg = soap_message(ORG_ID, 100, "04l5g00000Bz1");
    struct harness_response r = post_sf(f, msg);
    assert_int_equal(r.status, 200);
    harness_response_free(&r);
    free(msg);
    assert_int_equal(count_events(f), 100);
    msg = soap_message(ORG_ID, 101, "04l5g00000Bz2");
    r = post_sf(f, msg);
    assert_fault(&r, 413, "Client");
    harness_response_free(&r);
    free(msg);
    assert_int_equal(count_events(f), 100);
}

static void test_sf_refusals_store_nothing(void **state)
{
    struct fixture *f = *state;
    char *good = soap_message(ORG_ID, 1, "04l5g00000Bz3");
    char *wrong_org = soap_message("00D5g000004SbsXEAC", 1, "04l5g00000Bz4");
    struct {
        const char *name;
        const char *path;
        const char *ctype;
        const char *body;
        long status;
    } cases[] = {
        {"malformed", "/webhooks/salesforce?token=" SF_TOKEN, "text/xml", "<soapenv:Envelope><",
         400},
        {"xxe", "/webhooks/salesforce?token=" SF_TOKEN, "text/xml",
         "<?xml version=\"1.0\"?><!DOCTYPE x [<!ENTITY xxe SYSTEM \"file:///etc/passwd\">]>"
         "<soapenv:Envelope xmlns:soapenv=\"http://schemas.xmlsoap.org/soap/envelope/\">"
         "<soapenv:Body><notifications xmlns=\"http://soap.sforce.com/2005/09/outbound\">"
         "<OrganizationId>&xxe;</OrganizationId></notifications></soapenv:Body>"
         "</soapenv:Envelope>",
         400},
        {"billion laughs", "/webhooks/salesforce?token=" SF_TOKEN, "text/xml",
         "<?xml version=\"1.0\"?><!DOCTYPE lolz [<!ENTITY lol \"lol\">"
         "<!ENTITY lol2 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\">"
         "<!ENTITY lol3 \"&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;\">]>"
         "<lolz>&lol3;</lolz>",
         400},
        {"doctype", "/webhooks/salesforce?token=" SF_TOKEN, "text/xml",
         "<?xml version=\"1.0\"?><!DOCTYPE html><html/>", 400},
        {"no notifications", "/webhooks/salesforce?token=" SF_TOKEN, "text/xml",
         "<soapenv:Envelope xmlns:soapenv=\"http://schemas.xmlsoap.org/soap/envelope/\">"
         "<soapenv:Body><notifications xmlns=\"http://soap.sforce.com/2005/09/outbound\">"
         "<OrganizationId>" ORG_ID "</OrganizationId></notifications></soapenv:Body>"
         "</soapenv:Envelope>",
         400},
        {"wrong org", "/webhooks/salesforce?token=" SF_TOKEN, "text/xml", wrong_org, 403},
        {"missing token", "/webhooks/salesforce", "text/xml", good, 401},
        {"wrong token", "/webhooks/salesforce?token=sf-endpoint-token-0123456788", "text/xml", good,
         401},
        {"json body", "/webhooks/salesforce?token=" SF_TOKEN, "text/xml", "{\"a\":1}", 400},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct harness_response r =
            post(f, cases[i].path, cases[i].ctype, cases[i].body, strlen(cases[i].body), NULL);
        if (r.status != cases[i].status)
            fail_msg("%s: expected %ld, got %ld: %s", cases[i].name, cases[i].status, r.status,
                     r.body);
        assert_fault(&r, cases[i].status, "Client");
        assert_null(strstr(r.body, "root:"));
        harness_response_free(&r);
    }
    /* wrong content type, GET, oversized: JSON errors from the router */
    struct harness_response r = post(f, "/webhooks/salesforce?token=" SF_TOKEN, "application/json",
                                     good, strlen(good), NULL);
    assert_int_equal(r.status, 415);
    harness_response_free(&r);
    char url[256];
    snprintf(url, sizeof url, "%s/webhooks/salesforce", f->proc.base_url);
    assert_int_equal(harness_http("GET", url, NULL, NULL, 0, &r), 0);
    assert_int_equal(r.status, 405);
    harness_response_free(&r);
    size_t big_len = 2u << 20;
    char *big = malloc(big_len);
    memset(big, ' ', big_len);
    memcpy(big, good, strlen(good));
    r = post(f, "/webhooks/salesforce?token=" SF_TOKEN, "text/xml", big, big_len, NULL);
    assert_int_equal(r.status, 413);
    harness_response_free(&r);
    free(big);
    free(good);
    free(wrong_org);
    assert_int_equal(count_events(f), 0);
}

/* ---- HubSpot ---- */

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Posts body to path signed with v3 for timestamp ts (ms); returns the response. */
static struct harness_response post_hs_v3(struct fixture *f, const char *path, const char *body,
                                          int64_t ts, const char *secret)
{
    char full[512], sig[128], tsbuf[32], h1[160], h2[64];
    /* SYNKRO_PUBLIC_BASE_URL defaults to http://127.0.0.1:<port> */
    snprintf(full, sizeof full, "%s%s", f->proc.base_url, path);
    snprintf(tsbuf, sizeof tsbuf, "%" PRId64, ts);
    assert_int_equal(
        hubspot_sign_v3(secret, "POST", full, body, strlen(body), tsbuf, sig, sizeof sig), 0);
    snprintf(h1, sizeof h1, "X-HubSpot-Signature-v3: %s", sig);
    snprintf(h2, sizeof h2, "X-HubSpot-Request-Timestamp: %s", tsbuf);
    const char *extra[] = {h1, h2, NULL};
    return post(f, path, "application/json", body, strlen(body), extra);
}

static char *hs_events(int count, int attempt, int64_t portal, int first_id)
{
    size_t cap = 256 + (size_t)count * 512;
    char *buf = malloc(cap);
    size_t len = (size_t)snprintf(buf, cap, "[");
    for (int i = 0; i < count; i++)
        len += (size_t)snprintf(
            buf + len, cap - len,
            "%s{\"eventId\":%d,\"subscriptionId\":4242,\"portalId\":%" PRId64 ",\"appId\":77,"
            "\"occurredAt\":1714600000%03d,\"subscriptionType\":\"object.propertyChange\","
            "\"attemptNumber\":%d,\"objectId\":%d,\"objectTypeId\":\"2-123456\","
            "\"propertyName\":\"budget\",\"propertyValue\":\"K\\u00e4se %d\","
            "\"changeSource\":\"CRM_UI\"}",
            i ? "," : "", 1000 + first_id + i, portal, i % 1000, attempt, 9000 + first_id + i, i);
    snprintf(buf + len, cap - len, "]");
    return buf;
}

static void test_hs_stored_once_across_redelivery(void **state)
{
    struct fixture *f = *state;
    char *body = hs_events(3, 0, PORTAL, 0);
    struct harness_response r = post_hs_v3(f, "/webhooks/hubspot", body, wall_ms(), HS_SECRET);
    assert_int_equal(r.status, 204);
    harness_response_free(&r);
    free(body);
    assert_int_equal(count_events(f), 3);
    /* HubSpot retries with attemptNumber 1: same events, stored once */
    body = hs_events(3, 1, PORTAL, 0);
    r = post_hs_v3(f, "/webhooks/hubspot", body, wall_ms(), HS_SECRET);
    assert_int_equal(r.status, 204);
    harness_response_free(&r);
    free(body);
    assert_int_equal(count_events(f), 3);
    char *row = harness_db_scalar(
        &f->db, "SELECT object_type||'|'||record_id||'|'||kind||'|'||(payload->>'propertyValue')"
                " FROM change_events ORDER BY id LIMIT 1");
    assert_string_equal(row, "2-123456|9000|update|Käse 0");
    free(row);
    /* a signed request with a query string, which must be part of the URI */
    body = hs_events(1, 0, PORTAL, 50);
    r = post_hs_v3(f, "/webhooks/hubspot?src=hs%3Aprod&x=%7E", body, wall_ms(), HS_SECRET);
    assert_int_equal(r.status, 204);
    harness_response_free(&r);
    free(body);
    assert_int_equal(count_events(f), 4);
    /* metrics count stored and duplicate events */
    r = (struct harness_response){0};
    char url[256];
    snprintf(url, sizeof url, "%s/metrics", f->proc.base_url);
    assert_int_equal(harness_http("GET", url, NULL, NULL, 0, &r), 0);
    assert_non_null(
        strstr(r.body, "synkro_events_received_total{source=\"hubspot\",outcome=\"stored\"} 4\n"));
    assert_non_null(strstr(
        r.body, "synkro_events_received_total{source=\"hubspot\",outcome=\"duplicate\"} 3\n"));
    harness_response_free(&r);
}

static void test_hs_v1_and_require_v3(void **state)
{
    struct fixture *f = *state;
    char *body = hs_events(1, 0, PORTAL, 100);
    char sig[80], h1[160];
    assert_int_equal(hubspot_sign_v1(HS_SECRET, body, strlen(body), sig, sizeof sig), 0);
    snprintf(h1, sizeof h1, "X-HubSpot-Signature: %s", sig);
    const char *extra[] = {h1, "X-HubSpot-Signature-Version: v1", NULL};
    struct harness_response r =
        post(f, "/webhooks/hubspot", "application/json", body, strlen(body), extra);
    assert_int_equal(r.status, 204);
    harness_response_free(&r);
    assert_int_equal(count_events(f), 1);
    harness_synkro_stop(&f->proc, SIGTERM, 10000);
    const char *env[] = {"HUBSPOT_CLIENT_SECRET=" HS_SECRET, "SYNKRO_HUBSPOT_REQUIRE_V3=1", NULL};
    assert_int_equal(harness_synkro_start(&f->proc, f->db.url, env), 0);
    free(body);
    body = hs_events(1, 0, PORTAL, 101);
    assert_int_equal(hubspot_sign_v1(HS_SECRET, body, strlen(body), sig, sizeof sig), 0);
    snprintf(h1, sizeof h1, "X-HubSpot-Signature: %s", sig);
    r = post(f, "/webhooks/hubspot", "application/json", body, strlen(body), extra);
    assert_int_equal(r.status, 401);
    assert_non_null(strstr(r.body, "signature_"));
    harness_response_free(&r);
    free(body);
    assert_int_equal(count_events(f), 1);
}

static void test_hs_refusals_store_nothing(void **state)
{
    struct fixture *f = *state;
    char *good = hs_events(1, 0, PORTAL, 200);
    char *other_portal = hs_events(2, 0, 999, 300);
    char *too_many = hs_events(101, 0, PORTAL, 400);
    int64_t now = wall_ms();
    struct {
        const char *name;
        const char *body;
        int64_t ts;
        const char *secret;
        long status;
    } cases[] = {
        {"wrong secret", good, now, "not-the-secret-at-all", 401},
        {"stale timestamp", good, now - 301000, HS_SECRET, 401},
        {"future timestamp", good, now + 61000, HS_SECRET, 401},
        {"invalid json", "[{\"eventId\":1,", now, HS_SECRET, 400},
        {"object not array", "{\"eventId\":1}", now, HS_SECRET, 400},
        {"missing fields", "[{\"eventId\":1,\"portalId\":62515}]", now, HS_SECRET, 400},
        {"wrong types",
         "[{\"eventId\":\"x\",\"portalId\":{},\"occurredAt\":1,"
         "\"subscriptionType\":\"object.creation\",\"objectId\":1}]",
         now, HS_SECRET, 400},
        {"over 100 events", too_many, now, HS_SECRET, 413},
        {"another portal", other_portal, now, HS_SECRET, 403},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct harness_response r =
            post_hs_v3(f, "/webhooks/hubspot", cases[i].body, cases[i].ts, cases[i].secret);
        if (r.status != cases[i].status)
            fail_msg("%s: expected %ld, got %ld: %s", cases[i].name, cases[i].status, r.status,
                     r.body);
        assert_non_null(strstr(r.body, "{\"error\":{\"code\":\""));
        harness_response_free(&r);
    }
    /* no signature at all */
    struct harness_response r =
        post(f, "/webhooks/hubspot", "application/json", good, strlen(good), NULL);
    assert_int_equal(r.status, 401);
    harness_response_free(&r);
    /* signature over a different path (replayed to another URL) */
    char full[256], sig[128], tsbuf[32], h1[160], h2[64];
    snprintf(full, sizeof full, "%s/other", f->proc.base_url);
    snprintf(tsbuf, sizeof tsbuf, "%" PRId64, now);
    hubspot_sign_v3(HS_SECRET, "POST", full, good, strlen(good), tsbuf, sig, sizeof sig);
    snprintf(h1, sizeof h1, "X-HubSpot-Signature-v3: %s", sig);
    snprintf(h2, sizeof h2, "X-HubSpot-Request-Timestamp: %s", tsbuf);
    const char *extra[] = {h1, h2, NULL};
    r = post(f, "/webhooks/hubspot", "application/json", good, strlen(good), extra);
    assert_int_equal(r.status, 401);
    harness_response_free(&r);
    /* wrong content type */
    r = post(f, "/webhooks/hubspot", "text/plain", good, strlen(good), NULL);
    assert_int_equal(r.status, 415);
    harness_response_free(&r);
    free(good);
    free(other_portal);
    free(too_many);
    assert_int_equal(count_events(f), 0);
}

/* ---- database outage ---- */

static void test_database_down_then_back(void **state)
{
    struct fixture *f = *state;
    char *sf = soap_message(ORG_ID, 2, "04l5g00000Bz5");
    char *hs = hs_events(2, 0, PORTAL, 500);
    assert_int_equal(harness_pg("stop"), 0);
    struct harness_response r = post_sf(f, sf);
    long sf_status = r.status;
    bool sf_acked = strstr(r.body, "<Ack>true</Ack>") != NULL;
    harness_response_free(&r);
    r = post_hs_v3(f, "/webhooks/hubspot", hs, wall_ms(), HS_SECRET);
    long hs_status = r.status;
    harness_response_free(&r);
    assert_int_equal(harness_pg("start"), 0);
    assert_int_equal(sf_status, 503);
    assert_false(sf_acked);
    assert_int_equal(hs_status, 503);
    /* back without restarting synkro */
    r = post_sf(f, sf);
    assert_int_equal(r.status, 200);
    harness_response_free(&r);
    r = post_hs_v3(f, "/webhooks/hubspot", hs, wall_ms(), HS_SECRET);
    assert_int_equal(r.status, 204);
    harness_response_free(&r);
    assert_int_equal(count_events(f), 4);
    free(sf);
    free(hs);
}

/* ---- admin events API ---- */

static json_object *get_json(struct fixture *f, const char *path, const char *token, long *status)
{
    char url[512], auth[128];
    snprintf(url, sizeof url, "%s%s", f->proc.base_url, path);
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", token);
    const char *h[] = {auth, NULL};
    struct harness_response r;
    assert_int_equal(harness_http("GET", url, h, NULL, 0, &r), 0);
    *status = r.status;
    json_object *o = json_tokener_parse(r.body);
    harness_response_free(&r);
    return o;
}

static void test_events_api(void **state)
{
    struct fixture *f = *state;
    char *sf = soap_message(ORG_ID, 3, "04l5g00000Bz6");
    struct harness_response r = post_sf(f, sf);
    harness_response_free(&r);
    free(sf);
    char *hs = hs_events(2, 0, PORTAL, 600);
    r = post_hs_v3(f, "/webhooks/hubspot", hs, wall_ms(), HS_SECRET);
    harness_response_free(&r);
    free(hs);
    long status;
    json_object *o = get_json(f, "/api/events?limit=2", ADMIN, &status);
    assert_int_equal(status, 200);
    json_object *events, *next;
    assert_true(json_object_object_get_ex(o, "events", &events));
    assert_int_equal(json_object_array_length(events), 2);
    assert_true(json_object_object_get_ex(o, "next_after", &next));
    char path[128];
    snprintf(path, sizeof path, "/api/events?limit=10&after=%" PRId64, json_object_get_int64(next));
    json_object_put(o);
    o = get_json(f, path, ADMIN, &status);
    json_object_object_get_ex(o, "events", &events);
    assert_int_equal(json_object_array_length(events), 3);
    json_object_put(o);
    o = get_json(f, "/api/events?source=hubspot&status=unmapped&object_type=2-123456", ADMIN,
                 &status);
    json_object_object_get_ex(o, "events", &events);
    assert_int_equal(json_object_array_length(events), 2);
    json_object *first = json_object_array_get_idx(events, 0);
    json_object *id;
    assert_true(json_object_object_get_ex(first, "id", &id));
    snprintf(path, sizeof path, "/api/events/%" PRId64, json_object_get_int64(id));
    json_object_put(o);
    o = get_json(f, "/api/events?record_id=a015g00000X00001AA", ADMIN, &status);
    json_object_object_get_ex(o, "events", &events);
    assert_int_equal(json_object_array_length(events), 1);
    json_object_put(o);
    o = get_json(f, path, ADMIN, &status);
    assert_int_equal(status, 200);
    json_object *payload, *pv;
    assert_true(json_object_object_get_ex(o, "payload", &payload));
    assert_true(json_object_object_get_ex(payload, "propertyValue", &pv));
    json_object_put(o);
    /* a Salesforce event's payload carries no session id */
    o = get_json(f, "/api/events/1", ADMIN, &status);
    assert_int_equal(status, 200);
    assert_null(strstr(json_object_to_json_string(o), "SESSION"));
    json_object_put(o);
    o = get_json(f, "/api/events/999999", ADMIN, &status);
    assert_int_equal(status, 404);
    json_object_put(o);
    const char *bad[] = {"/api/events?limit=0",     "/api/events?limit=501",
                         "/api/events?after=-1",    "/api/events?source=zendesk",
                         "/api/events?status=lost", "/api/events/abc"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        o = get_json(f, bad[i], ADMIN, &status);
        assert_int_equal(status, 400);
        json_object_put(o);
    }
    o = get_json(f, "/api/events", "wrong-token-0123456789", &status);
    assert_int_equal(status, 401);
    json_object_put(o);
    char url[256];
    snprintf(url, sizeof url, "%s/api/events/1", f->proc.base_url);
    assert_int_equal(harness_http("GET", url, NULL, NULL, 0, &r), 0);
    assert_int_equal(r.status, 401);
    harness_response_free(&r);
}

/* ---- concurrency ---- */

struct sender {
    struct fixture *f;
    int index;
    int ok;
};

static void *send_many(void *arg)
{
    struct sender *s = arg;
    for (int i = 0; i < 40; i++) {
        char *body = hs_events(1, 0, PORTAL, 10000 + s->index * 1000 + i);
        char full[512], sig[128], tsbuf[32], h1[160], h2[64], url[256];
        snprintf(full, sizeof full, "%s/webhooks/hubspot", s->f->proc.base_url);
        snprintf(tsbuf, sizeof tsbuf, "%" PRId64, wall_ms());
        hubspot_sign_v3(HS_SECRET, "POST", full, body, strlen(body), tsbuf, sig, sizeof sig);
        snprintf(h1, sizeof h1, "X-HubSpot-Signature-v3: %s", sig);
        snprintf(h2, sizeof h2, "X-HubSpot-Request-Timestamp: %s", tsbuf);
        snprintf(url, sizeof url, "%s/webhooks/hubspot", s->f->proc.base_url);
        const char *h[] = {"Content-Type: application/json", h1, h2, NULL};
        struct harness_response r;
        if (harness_http("POST", url, h, body, strlen(body), &r) == 0 && r.status == 204)
            s->ok++;
        harness_response_free(&r);
        free(body);
    }
    return NULL;
}

static void test_concurrent_ingest(void **state)
{
    struct fixture *f = *state;
    enum { NT = 12 };
    pthread_t t[NT];
    struct sender s[NT];
    for (int i = 0; i < NT; i++) {
        s[i] = (struct sender){f, i, 0};
        pthread_create(&t[i], NULL, send_many, &s[i]);
    }
    int ok = 0;
    for (int i = 0; i < NT; i++) {
        pthread_join(t[i], NULL);
        ok += s[i].ok;
    }
    assert_int_equal(ok, NT * 40);
    assert_int_equal(count_events(f), NT * 40); /* every acknowledged event is stored */
}

/* Sends a POST on a raw connection and closes it after wait_ms without reading the answer (a
 * client that gives up). headers: extra header lines, each ending in CRLF. */
static void post_and_leave(struct fixture *f, const char *path, const char *headers,
                           const char *body, int wait_ms)
{
    size_t cap = strlen(body) + strlen(path) + strlen(headers) + 256;
    char *req = malloc(cap);
    assert_non_null(req);
    int len =
        snprintf(req, cap, "POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: %zu\r\n%s\r\n%s",
                 path, strlen(body), headers, body);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)f->proc.port)};
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_int_equal(send(fd, req, (size_t)len, MSG_NOSIGNAL), len);
    free(req);
    harness_sleep_ms(wait_ms);
    close(fd);
}

/* The same for a v3-signed HubSpot webhook. */
static void post_hs_and_leave(struct fixture *f, const char *body, int wait_ms)
{
    char full[256], sig[128], ts[32], headers[512];
    snprintf(full, sizeof full, "%s/webhooks/hubspot", f->proc.base_url);
    snprintf(ts, sizeof ts, "%" PRId64, wall_ms());
    assert_int_equal(
        hubspot_sign_v3(HS_SECRET, "POST", full, body, strlen(body), ts, sig, sizeof sig), 0);
    snprintf(headers, sizeof headers,
             "Content-Type: application/json\r\nX-HubSpot-Signature-v3: %s\r\n"
             "X-HubSpot-Request-Timestamp: %s\r\n",
             sig, ts);
    post_and_leave(f, "/webhooks/hubspot", headers, body, wait_ms);
}

/* Restarts synkro with base_env plus extra (NULL-terminated). */
static void restart_with(struct fixture *f, const char *const *extra)
{
    assert_int_equal(harness_synkro_stop(&f->proc, SIGTERM, 15000), 0);
    const char *env[24];
    size_t n = 0;
    for (const char *const *e = base_env; *e; e++)
        env[n++] = *e;
    for (const char *const *e = extra; *e && n < 23; e++)
        env[n++] = *e;
    env[n] = NULL;
    assert_int_equal(harness_synkro_start(&f->proc, f->db.url, env), 0);
}

/* One HubSpot property change of app 77 by changeSource/sourceId. */
static int hs_sourced(char *out, size_t cap, int id, const char *change_source,
                      const char *source_id)
{
    return snprintf(out, cap,
                    "{\"eventId\":%d,\"subscriptionId\":4242,\"portalId\":%d,\"appId\":77,"
                    "\"occurredAt\":1714600000000,\"subscriptionType\":\"object.propertyChange\","
                    "\"attemptNumber\":0,\"objectId\":%d,\"objectTypeId\":\"2-123456\","
                    "\"propertyName\":\"budget\",\"propertyValue\":\"7\","
                    "\"changeSource\":\"%s\",\"sourceId\":\"%s\"}",
                    id, (int)PORTAL, 9000 + id, change_source, source_id);
}

/* The count of synkro_events_received_total{source="hubspot",outcome} (0 when absent). */
static long hs_received(struct fixture *f, const char *outcome)
{
    char url[256], key[128];
    snprintf(url, sizeof url, "%s/metrics", f->proc.base_url);
    snprintf(key, sizeof key, "synkro_events_received_total{source=\"hubspot\",outcome=\"%s\"} ",
             outcome);
    struct harness_response r = {0};
    assert_int_equal(harness_http("GET", url, NULL, NULL, 0, &r), 0);
    const char *at = strstr(r.body, key);
    long n = at ? strtol(at + strlen(key), NULL, 10) : 0;
    harness_response_free(&r);
    return n;
}

/* The echoes of synkro's own writes (changeSource INTEGRATION, sourceId = the event's appId) are
 * acknowledged and counted, not queued; another app's change and a person's are queued; with
 * SYNKRO_HUBSPOT_SKIP_OWN_WRITES=false every event is queued as before. */
static void test_hs_own_writes_not_queued(void **state)
{
    struct fixture *f = *state;
    char body[2048], one[512];
    size_t len = (size_t)snprintf(body, sizeof body, "[");
    hs_sourced(one, sizeof one, 300, "INTEGRATION", "77"); /* synkro's own (app 77) */
    len += (size_t)snprintf(body + len, sizeof body - len, "%s,", one);
    hs_sourced(one, sizeof one, 301, "INTEGRATION", "78"); /* another app's */
    len += (size_t)snprintf(body + len, sizeof body - len, "%s,", one);
    hs_sourced(one, sizeof one, 302, "CRM_UI", "userId:5"); /* a person's */
    snprintf(body + len, sizeof body - len, "%s]", one);
    struct harness_response r = post_hs_v3(f, "/webhooks/hubspot", body, wall_ms(), HS_SECRET);
    assert_int_equal(r.status, 204);
    harness_response_free(&r);
    assert_int_equal(count_events(f), 2);
    char *ids = harness_db_scalar(
        &f->db, "SELECT string_agg(record_id, ',' ORDER BY record_id) FROM change_events");
    assert_string_equal(ids, "9301,9302");
    free(ids);
    assert_int_equal(hs_received(f, "own_write"), 1);
    assert_int_equal(hs_received(f, "stored"), 2);

    /* a request of own writes only: answered at once, nothing queued */
    len = (size_t)snprintf(body, sizeof body, "[");
    hs_sourced(one, sizeof one, 303, "INTEGRATION", "77");
    len += (size_t)snprintf(body + len, sizeof body - len, "%s,", one);
    hs_sourced(one, sizeof one, 304, "INTEGRATION", "77");
    snprintf(body + len, sizeof body - len, "%s]", one);
    r = post_hs_v3(f, "/webhooks/hubspot", body, wall_ms(), HS_SECRET);
    assert_int_equal(r.status, 204);
    harness_response_free(&r);
    assert_int_equal(count_events(f), 2);
    assert_int_equal(hs_received(f, "own_write"), 3);

    /* turned off: the same events are queued */
    restart_with(f, (const char *const[]){"SYNKRO_HUBSPOT_SKIP_OWN_WRITES=false", NULL});
    r = post_hs_v3(f, "/webhooks/hubspot", body, wall_ms(), HS_SECRET);
    assert_int_equal(r.status, 204);
    harness_response_free(&r);
    assert_int_equal(count_events(f), 4);
    assert_int_equal(hs_received(f, "own_write"), 0);
}

/* A session that holds change_events locked, so that every commit waits. */
static PGconn *lock_events(struct fixture *f)
{
    PGconn *c = PQconnectdb(f->db.url);
    assert_int_equal(PQstatus(c), CONNECTION_OK);
    PGresult *res = PQexec(c, "BEGIN; LOCK TABLE change_events IN ACCESS EXCLUSIVE MODE");
    assert_int_equal(PQresultStatus(res), PGRES_COMMAND_OK);
    PQclear(res);
    return c;
}

static void unlock_events(PGconn *c)
{
    PGresult *res = PQexec(c, "COMMIT");
    PQclear(res);
    PQfinish(c);
}

static double seconds_since(const struct timespec *t0)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

/* Stops synkro with SIGTERM and fails when that takes more than max_s. */
static void stop_within(struct fixture *f, double max_s)
{
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_int_equal(harness_synkro_stop(&f->proc, SIGTERM, 15000), 0);
    double s = seconds_since(&t0);
    if (s > max_s)
        fail_msg("synkro took %.1f s to stop", s);
}

/* A HubSpot request waits (suspended) for its events' commit; meanwhile the request deadline cuts
 * its connection and the client gives up. The events are stored all the same, and the request
 * leaves the daemon's books: SIGTERM then stops synkro at once (shutdown waits up to 30 s for
 * suspended requests, and must not wait for one that is gone). */
static void test_client_gone_while_suspended(void **state)
{
    struct fixture *f = *state;
    /* with a 1 s request deadline the guard also cuts the waiting connection meanwhile; inline
     * commits off: the request is suspended, not committed on its daemon thread */
    restart_with(f, (const char *const[]){"SYNKRO_HTTP_REQUEST_DEADLINE_S=1",
                                          "SYNKRO_INGEST_INLINE=off", NULL});
    PGconn *c = lock_events(f);
    char *body = hs_events(2, 0, PORTAL, 700);
    post_hs_and_leave(f, body, 2500); /* the commit waits on the lock; the client leaves */
    free(body);
    unlock_events(c);
    for (int i = 0; i < 100 && count_events(f) < 2; i++)
        harness_sleep_ms(50);
    assert_int_equal(count_events(f), 2);
    harness_sleep_ms(300); /* the resumed connection is found closed */
    stop_within(f, 5.0);
}

/* ---- Salesforce, suspended while its events commit ---- */

/* The same for a Salesforce outbound message: stored although its client left, and no stop
 * waits for it. */
static void test_sf_client_gone_while_suspended(void **state)
{
    struct fixture *f = *state;
    restart_with(f, (const char *const[]){"SYNKRO_HTTP_REQUEST_DEADLINE_S=1",
                                          "SYNKRO_INGEST_INLINE=off", NULL});
    PGconn *c = lock_events(f);
    char *body = soap_message(ORG_ID, 3, "04l5g00000Gn1");
    post_and_leave(f, "/webhooks/salesforce?token=" SF_TOKEN,
                   "Content-Type: text/xml; charset=utf-8\r\n", body, 2500);
    free(body);
    unlock_events(c);
    for (int i = 0; i < 100 && count_events(f) < 3; i++)
        harness_sleep_ms(50);
    assert_int_equal(count_events(f), 3);
    harness_sleep_ms(300);
    stop_within(f, 5.0);
}

/* A Salesforce message sent from another thread (its answer kept for the test). */
struct sf_sender {
    struct fixture *f;
    char *body;
    struct harness_response r;
    int rc;
    pthread_t thread;
    PGconn *lock; /* holds change_events locked */
};

static void *sf_send(void *arg)
{
    struct sf_sender *s = arg;
    char url[512];
    snprintf(url, sizeof url, "%s/webhooks/salesforce?token=" SF_TOKEN, s->f->proc.base_url);
    const char *h[] = {"Content-Type: text/xml; charset=utf-8", NULL};
    s->rc = harness_http("POST", url, h, s->body, strlen(s->body), &s->r);
    return NULL;
}

/* True once synkro's insert waits for the lock (pg_stat_activity): its request is suspended. */
static bool insert_waits(void *ud)
{
    struct fixture *f = ud;
    char *v = harness_db_scalar(&f->db, "SELECT count(*) FROM pg_stat_activity WHERE "
                                        "wait_event_type = 'Lock' AND query ILIKE "
                                        "'%change_events%' AND query NOT ILIKE '%LOCK TABLE%'");
    bool waiting = v && atol(v) > 0;
    free(v);
    return waiting;
}

/* Locks change_events, sends a two-notification message from another thread and returns once
 * its insert waits for the lock (the request is suspended). */
static void sf_send_suspended(struct fixture *f, const char *prefix, struct sf_sender *s)
{
    *s = (struct sf_sender){.f = f, .body = soap_message(ORG_ID, 2, prefix)};
    s->lock = lock_events(f);
    assert_int_equal(pthread_create(&s->thread, NULL, sf_send, s), 0);
    assert_true(harness_wait_until(insert_waits, f, 5000));
}

/* SIGTERM while a Salesforce message's commit waits: synkro stops once the statement timeout ends
 * the wait (1 s here), not after the 30 s it allows suspended requests; the sender gets a SOAP
 * fault (not an Ack) and nothing is stored. */
static void sf_sigterm_while_waiting(struct fixture *f, const char *inline_commits,
                                     const char *prefix)
{
    restart_with(
        f, (const char *const[]){"SYNKRO_DB_STATEMENT_TIMEOUT_MS=1000", inline_commits, NULL});
    struct sf_sender s;
    sf_send_suspended(f, prefix, &s);
    /* well under the 10 s shutdown grace and the 30 s wait for suspended requests; the commit
     * and its one retry each end at the 1 s statement timeout, then the workers, sweeper and
     * janitor stop (a quiet clean-clone run took 5.1 s in all) */
    stop_within(f, 8.0);
    pthread_join(s.thread, NULL);
    unlock_events(s.lock);
    assert_int_equal(s.rc, 0);
    assert_fault(&s.r, 503, "soapenv:Server");
    harness_response_free(&s.r);
    assert_int_equal(count_events(f), 0);
    free(s.body);
}

static void test_sf_sigterm_while_suspended(void **state)
{
    sf_sigterm_while_waiting(*state, "SYNKRO_INGEST_INLINE=off", "04l5g00000Gn2");
}

/* The same while the lone message's commit runs on its own daemon thread (SYNKRO_INGEST_INLINE):
 * that commit ends at the statement timeout, the message falls back to the writer (its commit
 * ends there too), and the sender gets the fault, never an Ack. */
static void test_sf_sigterm_while_committing_inline(void **state)
{
    sf_sigterm_while_waiting(*state, "SYNKRO_INGEST_INLINE=on", "04l5g00000Gn4");
}

/* PostgreSQL stops while a Salesforce message's commit waits: the sender gets the SOAP fault
 * (503, Salesforce retries), nothing is stored, and the retry after PostgreSQL is back is
 * acknowledged and stored once. */
static void sf_database_down_while_waiting(struct fixture *f, const char *inline_commits,
                                           const char *prefix)
{
    restart_with(f, (const char *const[]){inline_commits, NULL});
    struct sf_sender s;
    sf_send_suspended(f, prefix, &s);
    assert_int_equal(harness_pg("stop"), 0);
    pthread_join(s.thread, NULL);
    PQfinish(s.lock); /* its session is gone with the server */
    assert_int_equal(harness_pg("start"), 0);
    assert_int_equal(s.rc, 0);
    assert_fault(&s.r, 503, "soapenv:Server");
    harness_response_free(&s.r);
    assert_int_equal(count_events(f), 0);
    struct harness_response r = post_sf(f, s.body);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "<Ack>true</Ack>"));
    harness_response_free(&r);
    assert_int_equal(count_events(f), 2);
    free(s.body);
}

static void test_sf_database_down_while_suspended(void **state)
{
    sf_database_down_while_waiting(*state, "SYNKRO_INGEST_INLINE=off", "04l5g00000Gn3");
}

static void test_sf_database_down_while_committing_inline(void **state)
{
    sf_database_down_while_waiting(*state, "SYNKRO_INGEST_INLINE=on", "04l5g00000Gn5");
}

/* ---- a lone request commits on its own thread ---- */

/* synkro_ingest_commits_total{thread="<thread>"} from /metrics (0 when absent). */
static long commits_by(struct fixture *f, const char *thread)
{
    char url[512], needle[96];
    snprintf(url, sizeof url, "%s/metrics", f->proc.base_url);
    snprintf(needle, sizeof needle, "synkro_ingest_commits_total{thread=\"%s\"} ", thread);
    struct harness_response r;
    assert_int_equal(harness_http("GET", url, NULL, NULL, 0, &r), 0);
    assert_int_equal(r.status, 200);
    const char *at = strstr(r.body, needle);
    long n = at ? atol(at + strlen(needle)) : 0;
    harness_response_free(&r);
    return n;
}

/* One request at a time: each commits on its own HTTP thread (no writer hand-off; almost every
 * one), is stored before its answer, and a redelivery is a duplicate; with
 * SYNKRO_INGEST_INLINE=off the writer commits them all. */
static void test_lone_requests_commit_inline(void **state)
{
    struct fixture *f = *state;
    for (int i = 0; i < 3; i++) {
        char *hs = hs_events(1, 0, PORTAL, 800 + i);
        struct harness_response r = post_hs_v3(f, "/webhooks/hubspot", hs, wall_ms(), HS_SECRET);
        assert_int_equal(r.status, 204);
        harness_response_free(&r);
        assert_int_equal(count_events(f), i + 1); /* committed before the answer */
        free(hs);
    }
    char *sf = soap_message(ORG_ID, 2, "04l5g00000Gn6");
    struct harness_response r = post_sf(f, sf);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "<Ack>true</Ack>"));
    harness_response_free(&r);
    assert_int_equal(count_events(f), 5);
    r = post_sf(f, sf); /* redelivered: acknowledged, stored once */
    assert_int_equal(r.status, 200);
    harness_response_free(&r);
    assert_int_equal(count_events(f), 5);
    /* a request finds no free open pooled connection when the workers and the janitor hold them
     * all at that moment: it goes to the writer (seen once in 5) */
    long inline_commits = commits_by(f, "request");
    assert_int_equal(inline_commits + commits_by(f, "writer"), 5);
    assert_true(inline_commits >= 3);

    restart_with(f, (const char *const[]){"SYNKRO_INGEST_INLINE=off", NULL});
    r = post_sf(f, sf);
    assert_int_equal(r.status, 200);
    harness_response_free(&r);
    char *hs = hs_events(1, 0, PORTAL, 810);
    r = post_hs_v3(f, "/webhooks/hubspot", hs, wall_ms(), HS_SECRET);
    assert_int_equal(r.status, 204);
    harness_response_free(&r);
    assert_int_equal(count_events(f), 6);
    assert_int_equal(commits_by(f, "request"), 0);
    assert_int_equal(commits_by(f, "writer"), 2);
    free(hs);
    free(sf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_sf_stored_and_acknowledged, setup_started, teardown),
        cmocka_unit_test_setup_teardown(test_sf_hundred_notifications, setup_started, teardown),
        cmocka_unit_test_setup_teardown(test_sf_refusals_store_nothing, setup_started, teardown),
        cmocka_unit_test_setup_teardown(test_hs_stored_once_across_redelivery, setup_started,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_hs_v1_and_require_v3, setup_started, teardown),
        cmocka_unit_test_setup_teardown(test_hs_own_writes_not_queued, setup_started, teardown),
        cmocka_unit_test_setup_teardown(test_hs_refusals_store_nothing, setup_started, teardown),
        cmocka_unit_test_setup_teardown(test_database_down_then_back, setup_started, teardown),
        cmocka_unit_test_setup_teardown(test_events_api, setup_started, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_ingest, setup_started, teardown),
        cmocka_unit_test_setup_teardown(test_client_gone_while_suspended, setup_started, teardown),
        cmocka_unit_test_setup_teardown(test_sf_client_gone_while_suspended, setup_started,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_sf_sigterm_while_suspended, setup_started, teardown),
        cmocka_unit_test_setup_teardown(test_sf_sigterm_while_committing_inline, setup_started,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_sf_database_down_while_committing_inline,
                                        setup_started, teardown),
        cmocka_unit_test_setup_teardown(test_lone_requests_commit_inline, setup_started, teardown),
        cmocka_unit_test_setup_teardown(test_sf_database_down_while_suspended, setup_started,
                                        teardown),
    };
    return cmocka_run_group_tests_name("it_ingest", tests, NULL, NULL);
}
