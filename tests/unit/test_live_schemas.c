/* test_live_schemas.c: the sync workers' shared schema cache (sync/live_schemas.c) against crmsim.
 *
 * Eight threads asking at once for one pair cause one describe and one schema read, and each gets
 * objects of its own; an entry serves the same signature until it is invalidated, the signature
 * changes or its TTL runs out; a cache with TTL 0 reads every time; a failed read is an error
 * for its caller and is tried again by the next one. Counts come from crmsim's own call counters
 * and the cache's read counter. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "crm/crm_schema.h"
#include "crm/hubspot_client.h"
#include "crm/salesforce_client.h"
#include "support/crmsim_proc.h"
#include "sync/live_schemas.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static struct crmsim_proc sim;

static const char FIXTURES[] =
    "{\"hubspot\":{\"schemas\":[{\"name\":\"projects\",\"objectTypeId\":\"2-3465404\","
    "\"primaryDisplayProperty\":\"name\",\"requiredProperties\":[\"name\"],\"properties\":["
    "{\"name\":\"name\",\"type\":\"string\",\"fieldType\":\"text\"},"
    "{\"name\":\"budget\",\"type\":\"number\",\"fieldType\":\"number\"}]}]},"
    "\"salesforce\":{\"describes\":[{\"name\":\"Project__c\",\"keyPrefix\":\"a01\",\"fields\":["
    "{\"name\":\"Name\",\"type\":\"string\",\"length\":80,\"nillable\":false},"
    "{\"name\":\"Budget__c\",\"type\":\"double\"}]}]}}";

#define DESCRIBE "GET /services/data/{version}/sobjects/{T}/describe"
#define SCHEMA   "GET /crm-object-schemas/v3/schemas/{type}"

struct env {
    struct hubspot_client *hc;
    struct salesforce_client *sc;
    struct crm_http *h;
};

static struct env env;

static int group_setup(void **state)
{
    (void)state;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    crmsim_proc_start_or_fail(&sim);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    int rc = crmsim_proc_stop(&sim);
    curl_global_cleanup();
    return rc == 0 ? 0 : -1;
}

static int setup(void **state)
{
    (void)state;
    crmsim_proc_ok(&sim, "POST", "/_sim/reset", NULL);
    crmsim_proc_ok(&sim, "POST", "/_sim/fixtures", FIXTURES);
    crmsim_proc_ok(&sim, "POST", "/_sim/stats/reset", NULL);
    char err[256];
    struct hubspot_client_options ho = {
        .api_base = sim.base,
        .access_token = "pat-sim-token",
        .retry = {.max_attempts = 1, .base_delay_ms = 10, .max_delay_ms = 50, .max_wait_ms = 1000}};
    env.hc = hubspot_client_create(&ho, err, sizeof err);
    struct salesforce_client_options so = {.access_token = "sf-sim-token",
                                           .instance_url = sim.base,
                                           .login_url = sim.base,
                                           .api_version = "v62.0",
                                           .retry = ho.retry};
    env.sc = salesforce_client_create(&so, err, sizeof err);
    struct crm_http_options hto = {.timeout_ms = 10000, .connect_timeout_ms = 2000};
    env.h = crm_http_create(&hto, err, sizeof err);
    if (!env.hc || !env.sc || !env.h)
        fail_msg("clients: %s", err);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    crm_http_destroy(env.h);
    hubspot_client_destroy(env.hc);
    salesforce_client_destroy(env.sc);
    return 0;
}

/* One get that must succeed: checks the objects and frees them. */
static void get_ok(struct live_schemas *ls, struct crm_http *h, const char *sig)
{
    struct sf_object *sf = NULL;
    struct hs_object *hs = NULL;
    char err[512] = "";
    if (live_schemas_get(ls, env.sc, env.hc, h, sig, "Project__c", "2-3465404", &sf, &hs, err,
                         sizeof err) != 0)
        fail_msg("live_schemas_get: %s", err);
    assert_non_null(sf_object_field(sf, "Budget__c"));
    assert_string_equal(hs->object_type_id, "2-3465404");
    assert_non_null(hs_object_property_find(hs, "budget"));
    sf_object_free(sf);
    hs_object_free(hs);
}

static long long calls(const char *route)
{
    return crmsim_proc_count(&sim, route, 200);
}

struct racer {
    struct live_schemas *ls;
    pthread_barrier_t *start;
    int rc;
    struct sf_object *sf;
    struct hs_object *hs;
};

static void *race(void *arg)
{
    struct racer *r = arg;
    char err[256];
    struct crm_http_options hto = {.timeout_ms = 10000, .connect_timeout_ms = 2000};
    struct crm_http *h = crm_http_create(&hto, err, sizeof err);
    pthread_barrier_wait(r->start);
    r->rc = h ? live_schemas_get(r->ls, env.sc, env.hc, h, "1:1", "Project__c", "2-3465404", &r->sf,
                                 &r->hs, err, sizeof err)
              : -1;
    crm_http_destroy(h);
    return NULL;
}

static void test_one_read_for_many_workers(void **state)
{
    (void)state;
    /* Each asker is slow to answer, so all eight ask while the first read is in flight. */
    crmsim_proc_ok(&sim, "POST", "/_sim/faults",
                   "{\"match\":\"GET /crm-object-schemas\","
                   "\"latency_ms\":300}");
    struct live_schemas *ls = live_schemas_create(600000);
    assert_non_null(ls);
    enum { N = 8 };
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, N);
    pthread_t th[N];
    struct racer r[N];
    for (int i = 0; i < N; i++) {
        r[i] = (struct racer){.ls = ls, .start = &start};
        assert_int_equal(pthread_create(&th[i], NULL, race, &r[i]), 0);
    }
    for (int i = 0; i < N; i++)
        pthread_join(th[i], NULL);
    pthread_barrier_destroy(&start);
    for (int i = 0; i < N; i++) {
        assert_int_equal(r[i].rc, 0);
        assert_string_equal(r[i].hs->object_type_id, "2-3465404");
        for (int j = 0; j < i; j++) { /* objects of their own */
            assert_ptr_not_equal(r[i].sf, r[j].sf);
            assert_ptr_not_equal(r[i].hs, r[j].hs);
        }
    }
    for (int i = 0; i < N; i++) {
        sf_object_free(r[i].sf);
        hs_object_free(r[i].hs);
    }
    assert_int_equal(calls(DESCRIBE), 1);
    assert_int_equal(calls(SCHEMA), 1);
    assert_int_equal(live_schemas_reads(ls), 1);
    live_schemas_destroy(ls);
}

static void test_entry_serves_until_changed(void **state)
{
    (void)state;
    struct live_schemas *ls = live_schemas_create(600000);
    get_ok(ls, env.h, "1:1");
    get_ok(ls, env.h, "1:1");
    assert_int_equal(calls(SCHEMA), 1);
    /* the enabled mappings changed: read again, once */
    get_ok(ls, env.h, "1:2");
    get_ok(ls, env.h, "1:2");
    assert_int_equal(calls(SCHEMA), 2);
    /* a batch's records failed: read again, once */
    live_schemas_invalidate(ls, "Project__c", "2-3465404");
    get_ok(ls, env.h, "1:2");
    get_ok(ls, env.h, "1:2");
    assert_int_equal(calls(SCHEMA), 3);
    assert_int_equal(live_schemas_reads(ls), 3);
    /* another pair has its own entry */
    live_schemas_invalidate(ls, "Other__c", "2-3465404");
    get_ok(ls, env.h, "1:2");
    assert_int_equal(calls(SCHEMA), 3);
    live_schemas_destroy(ls);
}

static void test_ttl(void **state)
{
    (void)state;
    struct live_schemas *ls = live_schemas_create(150);
    get_ok(ls, env.h, "1:1");
    get_ok(ls, env.h, "1:1");
    assert_int_equal(calls(SCHEMA), 1);
    struct timespec ts = {0, 200 * 1000000L};
    nanosleep(&ts, NULL);
    get_ok(ls, env.h, "1:1");
    assert_int_equal(calls(SCHEMA), 2);
    live_schemas_destroy(ls);
    /* TTL 0: every get reads (a worker that reloads every round) */
    ls = live_schemas_create(0);
    get_ok(ls, env.h, "1:1");
    get_ok(ls, env.h, "1:1");
    assert_int_equal(calls(SCHEMA), 4);
    live_schemas_destroy(ls);
}

static void test_failed_read(void **state)
{
    (void)state;
    struct live_schemas *ls = live_schemas_create(600000);
    struct sf_object *sf = NULL;
    struct hs_object *hs = NULL;
    char err[512] = "";
    /* an object HubSpot does not have: the caller hears why, nothing is kept */
    assert_int_equal(live_schemas_get(ls, env.sc, env.hc, env.h, "1:1", "Project__c", "2-999", &sf,
                                      &hs, err, sizeof err),
                     -1);
    assert_null(sf);
    assert_null(hs);
    assert_non_null(strstr(err, "404"));
    assert_int_equal(live_schemas_reads(ls), 0);
    /* a failing HubSpot answer, then a good one: the next get reads again and succeeds */
    crmsim_proc_ok(&sim, "POST", "/_sim/faults",
                   "{\"match\":\"GET /crm-object-schemas\",\"status\":500,\"count\":1}");
    assert_int_equal(live_schemas_get(ls, env.sc, env.hc, env.h, "1:1", "Project__c", "2-3465404",
                                      &sf, &hs, err, sizeof err),
                     -1);
    assert_null(sf);
    get_ok(ls, env.h, "1:1");
    assert_int_equal(live_schemas_reads(ls), 1);
    live_schemas_destroy(ls);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_one_read_for_many_workers),
        T(test_entry_serves_until_changed),
        T(test_ttl),
        T(test_failed_read),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
