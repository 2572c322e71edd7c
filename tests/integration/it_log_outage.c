/* it_log_outage.c: the log during a database outage, end to end (real synkro, real PostgreSQL
 * stopped and started again): a stream of Salesforce outbound messages, each refused with 503
 * while PostgreSQL is down, writes a bounded number of log lines (the first of each kind, then
 * one per repeat interval with the count of those left out) instead of several per request; the
 * outage is logged once when it starts and once when it ends; /metrics carries the counts
 * (synkro_log_suppressed_total, synkro_db_connect_failures_total); and every line is JSON.
 *
 * IT_LOG_OUTAGE_PRINT=1 prints every line of the log (while investigating).
 *
 * Must not: leave PostgreSQL stopped (it is started again before any assertion can fail). */
#include "harness.h"

#include <json-c/json.h>
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

#define ORG_ID   "00D5g000004SbsbEAC"
#define SF_TOKEN "sf-endpoint-token-0123456789"

struct fixture {
    struct harness_db db;
    struct harness_proc proc;
};

static const char *const env[] = {"SALESFORCE_ORG_ID=00D5g000004Sbsb",
                                  "SYNKRO_SF_ENDPOINT_TOKEN=" SF_TOKEN,
                                  "SYNKRO_LOG_REPEAT_INTERVAL=1", NULL};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    if (!f || harness_db_create(&f->db) != 0)
        return -1;
    *state = f;
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

static long long mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static long post_message(struct fixture *f, int n)
{
    char body[2048], url[512];
    snprintf(body, sizeof body,
             "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
             "<soapenv:Envelope xmlns:soapenv=\"http://schemas.xmlsoap.org/soap/envelope/\" "
             "xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\"><soapenv:Body>"
             "<notifications xmlns=\"http://soap.sforce.com/2005/09/outbound\">"
             "<OrganizationId>%s</OrganizationId><ActionId>04k5g000000CaTwAAK</ActionId>"
             "<SessionId>00D5g!SESSION-SECRET-VALUE.abc</SessionId>"
             "<EnterpriseUrl>https://acme.my.salesforce.com/services/Soap/c/58.0</EnterpriseUrl>"
             "<PartnerUrl>https://acme.my.salesforce.com/services/Soap/u/58.0</PartnerUrl>"
             "<Notification><Id>04l5g00000BzQ%05d</Id>"
             "<sObject xsi:type=\"sf:Project__c\" "
             "xmlns:sf=\"urn:sobject.enterprise.soap.sforce.com\">"
             "<sf:Id>a015g00000X%05dAA</sf:Id><sf:Name>n</sf:Name>"
             "<sf:LastModifiedDate>2024-05-03T08:00:00.000Z</sf:LastModifiedDate>"
             "</sObject></Notification>"
             "</notifications></soapenv:Body></soapenv:Envelope>",
             ORG_ID, n, n);
    snprintf(url, sizeof url, "%s/webhooks/salesforce?token=" SF_TOKEN, f->proc.base_url);
    const char *headers[] = {"Content-Type: text/xml; charset=utf-8", NULL};
    struct harness_response r;
    assert_int_equal(harness_http("POST", url, headers, body, strlen(body), &r), 0);
    long status = r.status;
    harness_response_free(&r);
    return status;
}

static bool metrics_name(struct fixture *f, const char *series)
{
    char url[512];
    snprintf(url, sizeof url, "%s/metrics", f->proc.base_url);
    struct harness_response r;
    assert_int_equal(harness_http("GET", url, NULL, NULL, 0, &r), 0);
    const char *at = strstr(r.body, series);
    bool positive = at && strtod(at + strlen(series), NULL) > 0;
    harness_response_free(&r);
    return positive;
}

static void test_outage_log_is_bounded(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(harness_synkro_start(&f->proc, f->db.url, env), 0);
    assert_int_equal(post_message(f, 0), 200);

    assert_int_equal(harness_pg("stop"), 0);
    int refused = 0, other = 0;
    long long until = mono_ms() + 4000;
    for (int n = 1; mono_ms() < until; n++) {
        if (post_message(f, n) == 503)
            refused++;
        else
            other++;
    }
    bool suppressed = metrics_name(f, "synkro_log_suppressed_total{level=\"error\"} ");
    bool failures = metrics_name(f, "\nsynkro_db_connect_failures_total ");
    assert_int_equal(harness_pg("start"), 0);
    long long back = mono_ms() + 20000;
    while (post_message(f, 99999) != 200 && mono_ms() < back)
        harness_sleep_ms(100);
    assert_int_equal(post_message(f, 99998), 200);
    harness_sleep_ms(1500); /* a janitor round: the flood's last counts */
    assert_int_equal(harness_synkro_stop(&f->proc, SIGTERM, 10000), 0);

    char *log = harness_read_file(f->proc.err_path);
    assert_non_null(log);
    int lines = 0, loud = 0, unreachable = 0, reachable = 0, per_request = 0;
    long long left_out = 0;
    for (char *line = log; *line;) {
        char *eol = strchr(line, '\n');
        if (!eol)
            fail_msg("the log's last line has no newline (%zu bytes into a %zu-byte read): %.300s",
                     (size_t)(line - log), strlen(log), line);
        *eol = '\0';
        json_object *o = json_tokener_parse(line);
        if (!o) /* every line is JSON (libpq's notices too: db_log_notices) */
            fail_msg("a log line is not JSON: %.300s", line);
        json_object *v;
        lines++;
        const char *msg = json_object_object_get_ex(o, "msg", &v) ? json_object_get_string(v) : "";
        const char *level =
            json_object_object_get_ex(o, "level", &v) ? json_object_get_string(v) : "";
        if (strcmp(level, "warn") == 0 || strcmp(level, "error") == 0)
            loud++;
        unreachable += strcmp(msg, "database unreachable") == 0;
        reachable += strcmp(msg, "database reachable again") == 0;
        per_request += strcmp(msg, "events not stored") == 0;
        if (getenv("IT_LOG_OUTAGE_PRINT"))
            fprintf(stderr, "%s\n", line);
        if (json_object_object_get_ex(o, "suppressed", &v))
            left_out += json_object_get_int64(v);
        json_object_put(o);
        line = eol + 1;
    }
    free(log);
    fprintf(stderr,
            "outage of 4 s: %d requests refused (%d other answers), %d log lines (%d warn/error),"
            " %lld lines reported as left out\n",
            refused, other, lines, loud, left_out);
    assert_true(refused >= 50); /* a stream, each request once logged two or three times */
    assert_true(suppressed);
    assert_true(failures);
    /* the first of each kind, and one per second of it per kind: tens, not thousands */
    assert_true(loud <= 60);
    assert_true(per_request >= 1 && per_request <= 6);
    assert_true(left_out >= refused);
    assert_true(unreachable >= 1 && unreachable <= 4); /* once per pool */
    assert_true(reachable >= 1 && reachable <= 4);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_outage_log_is_bounded, setup, teardown),
    };
    return cmocka_run_group_tests_name("it_log_outage", tests, NULL, NULL);
}
