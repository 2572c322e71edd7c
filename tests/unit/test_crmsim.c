/* test_crmsim.c: end-to-end tests of crmsim, the HubSpot + Salesforce API simulator
 * (tests/crmsim/).
 *
 * Spawns the binary named by CRMSIM_BIN (--listen 127.0.0.1:0 --port-file), talks to it over HTTP
 * with libcurl, and checks the simulated APIs against the documented behaviour: auth, schemas,
 * records, batches (and records that are gone), validation errors, search, associations, rate
 * limits, Salesforce OAuth (refresh rotation, JWT bearer), describe, CRUD, upsert, collections,
 * SOQL paging, updated/deleted, limits, fault injection (body_contains too), stats, and
 * webhook/outbound deliveries to small libmicrohttpd receivers run by the test itself. Every test
 * starts from POST /_sim/reset plus the fixture document below. The child is stopped with SIGTERM
 * at the end and must exit 0 (so sanitizer reports in the simulator fail the suite). Must not:
 * depend on the network beyond 127.0.0.1, or take more than a minute. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
/* cmocka needs the three headers above first. */
#include <cmocka.h>

#include <curl/curl.h>
#include <errno.h>
#include <json-c/json.h>
#include <microhttpd.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "crmsim_proc.h"

#define PROJECTS "2-3465404"
#define HS_TOKEN "pat-sim-token"
#define SF_TOKEN "sf-sim-token"
#define SF       "/services/data/v58.0"

static struct crmsim_proc sim; /* the simulator every test talks to */
static char base_url[64];      /* where request() sends to: sim.base, or a second simulator */

/* ---------------------------------------------------------------- fixtures */

static const char *const fixture_doc =
    "{\"hubspot\":{\"schemas\":[{\"name\":\"projects\",\"objectTypeId\":\"2-3465404\","
    "\"labels\":{\"singular\":\"Project\",\"plural\":\"Projects\"},\"primaryDisplayProperty\":"
    "\"name\","
    "\"requiredProperties\":[\"name\"],\"properties\":["
    "{\"name\":\"name\",\"label\":\"Name\",\"type\":\"string\",\"fieldType\":\"text\"},"
    "{\"name\":\"salesforce_id\",\"type\":\"string\",\"fieldType\":\"text\",\"hasUniqueValue\":"
    "true},"
    "{\"name\":\"budget\",\"type\":\"number\",\"fieldType\":\"number\"},"
    "{\"name\":\"status\",\"type\":\"enumeration\",\"fieldType\":\"select\",\"options\":["
    "{\"label\":\"Planned\",\"value\":\"planned\"},{\"label\":\"Active\",\"value\":\"active\"},"
    "{\"label\":\"Done\",\"value\":\"done\"}]},"
    "{\"name\":\"is_active\",\"type\":\"bool\",\"fieldType\":\"booleancheckbox\"},"
    "{\"name\":\"start_date\",\"type\":\"date\",\"fieldType\":\"date\"},"
    "{\"name\":\"due_at\",\"type\":\"datetime\",\"fieldType\":\"date\"}],"
    "\"associations\":[{\"fromObjectTypeId\":\"2-3465404\",\"toObjectTypeId\":\"0-2\","
    "\"name\":\"project_to_company\",\"id\":\"101\"}]},"
    "{\"name\":\"companies\",\"objectTypeId\":\"0-2\",\"properties\":["
    "{\"name\":\"name\",\"type\":\"string\"},{\"name\":\"domain\",\"type\":\"string\","
    "\"hasUniqueValue\":true}]}],"
    "\"association_types\":["
    "{\"fromObjectTypeId\":\"0-2\",\"toObjectTypeId\":\"2-3465404\",\"category\":\"USER_DEFINED\","
    "\"typeId\":102,\"name\":\"company_to_project\"},"
    "{\"fromObjectTypeId\":\"2-3465404\",\"toObjectTypeId\":\"0-2\",\"category\":\"USER_DEFINED\","
    "\"typeId\":103,\"label\":\"Sponsor\"},"
    "{\"fromObjectTypeId\":\"0-2\",\"toObjectTypeId\":\"2-3465404\",\"category\":\"USER_DEFINED\","
    "\"typeId\":104,\"label\":\"Sponsor\"}],"
    "\"records\":{\"0-2\":[{\"id\":\"501\",\"properties\":{\"name\":\"Acme\",\"domain\":\"acme."
    "example\"}}]}},"
    "\"salesforce\":{\"describes\":["
    "{\"name\":\"Account\",\"fields\":[{\"name\":\"Name\",\"type\":\"string\",\"nillable\":false}]}"
    ","
    "{\"name\":\"Project__c\",\"keyPrefix\":\"a01\",\"fields\":["
    "{\"name\":\"Name\",\"type\":\"string\",\"length\":80,\"nillable\":false},"
    "{\"name\":\"External_Id__c\",\"type\":\"string\",\"length\":40,\"externalId\":true,\"unique\":"
    "true},"
    "{\"name\":\"Code__c\",\"type\":\"string\",\"length\":20,\"externalId\":true},"
    "{\"name\":\"Budget__c\",\"type\":\"currency\"},"
    "{\"name\":\"Status__c\",\"type\":\"picklist\",\"restrictedPicklist\":true,\"picklistValues\":["
    "{\"value\":\"Planned\"},{\"value\":\"Active\"},{\"value\":\"Done\"}]},"
    "{\"name\":\"Active__c\",\"type\":\"boolean\"},"
    "{\"name\":\"Account__c\",\"type\":\"reference\",\"referenceTo\":[\"Account\"]},"
    "{\"name\":\"Formula__c\",\"type\":\"string\",\"calculated\":true}]}]}}";

/* ---------------------------------------------------------------- HTTP client */

struct resp {
    long status;
    char *body;
    size_t len;
    char headers[16384];
    size_t hlen;
    json_object *json;
    double seconds;
};

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
    struct resp *r = ud;
    size_t add = size * n;
    char *nb = realloc(r->body, r->len + add + 1);
    if (!nb)
        return 0;
    r->body = nb;
    memcpy(r->body + r->len, p, add);
    r->len += add;
    r->body[r->len] = '\0';
    return add;
}

static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
    struct resp *r = ud;
    size_t add = size * n;
    if (r->hlen + add < sizeof r->headers) {
        memcpy(r->headers + r->hlen, p, add);
        r->hlen += add;
        r->headers[r->hlen] = '\0';
    }
    return add;
}

static void resp_free(struct resp *r)
{
    free(r->body);
    json_object_put(r->json);
    memset(r, 0, sizeof *r);
}

/* One request. auth: full Authorization value or NULL; extra: one more "Name: value" header or
 * NULL. */
static long request(const char *method, const char *path, const char *body, const char *ctype,
                    const char *auth, const char *extra, struct resp *r)
{
    memset(r, 0, sizeof *r);
    CURL *c = curl_easy_init();
    assert_non_null(c);
    char url[4096];
    snprintf(url, sizeof url, "%s%s", base_url, path);
    struct curl_slist *h = NULL;
    char line[1024];
    if (auth) {
        snprintf(line, sizeof line, "Authorization: %s", auth);
        h = curl_slist_append(h, line);
    }
    if (body) {
        snprintf(line, sizeof line, "Content-Type: %s", ctype ? ctype : "application/json");
        h = curl_slist_append(h, line);
    }
    if (extra)
        h = curl_slist_append(h, extra);
    h = curl_slist_append(h, "Expect:");
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    if (body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    }
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 10000L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    CURLcode rc = curl_easy_perform(c);
    if (rc == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
    curl_easy_getinfo(c, CURLINFO_TOTAL_TIME, &r->seconds);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    if (r->body && r->len)
        r->json = json_tokener_parse(r->body);
    return r->status;
}

static long hs(const char *method, const char *path, const char *body, struct resp *r)
{
    return request(method, path, body, NULL, "Bearer " HS_TOKEN, NULL, r);
}

static long sf(const char *method, const char *path, const char *body, struct resp *r)
{
    char full[4096];
    snprintf(full, sizeof full, SF "%s", path);
    return request(method, full, body, NULL, "Bearer " SF_TOKEN, NULL, r);
}

static long ctl(const char *method, const char *path, const char *body, struct resp *r)
{
    return request(method, path, body, NULL, NULL, NULL, r);
}

static void ctl_ok(const char *method, const char *path, const char *body)
{
    struct resp r;
    long st = ctl(method, path, body, &r);
    if (st < 200 || st > 299)
        fprintf(stderr, "control call %s %s failed: %ld %s\n", method, path, st,
                r.body ? r.body : "");
    assert_true(st >= 200 && st <= 299);
    resp_free(&r);
}

static void config(const char *json)
{
    ctl_ok("POST", "/_sim/config", json);
}

/* Value at a dotted path ("a.b.0.c"; numbers index arrays), or NULL. */
static json_object *jpath(json_object *o, const char *path)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s", path);
    char *save = NULL;
    for (char *tok = strtok_r(buf, ".", &save); tok && o; tok = strtok_r(NULL, ".", &save)) {
        if (json_object_is_type(o, json_type_array)) {
            char *end;
            long i = strtol(tok, &end, 10);
            o = *end ? NULL : json_object_array_get_idx(o, (size_t)i);
        } else if (!json_object_object_get_ex(o, tok, &o)) {
            o = NULL;
        }
    }
    return o;
}

static const char *jstr(json_object *o, const char *path)
{
    json_object *v = jpath(o, path);
    return v ? json_object_get_string(v) : NULL;
}

static int64_t jint(json_object *o, const char *path)
{
    json_object *v = jpath(o, path);
    return v ? json_object_get_int64(v) : -999999;
}

static size_t jlen(json_object *o, const char *path)
{
    json_object *v = path ? jpath(o, path) : o;
    return v && json_object_is_type(v, json_type_array) ? json_object_array_length(v) : 0;
}

static void assert_str(const char *got, const char *want)
{
    if (!got || strcmp(got, want) != 0)
        fprintf(stderr, "expected \"%s\", got \"%s\"\n", want, got ? got : "(null)");
    assert_non_null(got);
    assert_string_equal(got, want);
}

/* Header value from a response (case-insensitive name), copied into out. */
static bool header(const struct resp *r, const char *name, char *out, size_t outlen)
{
    size_t n = strlen(name);
    const char *p = r->headers;
    while (p && *p) {
        if (strncasecmp(p, name, n) == 0 && p[n] == ':') {
            p += n + 1;
            while (*p == ' ')
                p++;
            size_t l = strcspn(p, "\r\n");
            snprintf(out, outlen, "%.*s", (int)l, p);
            return true;
        }
        p = strchr(p, '\n');
        if (p)
            p++;
    }
    return false;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Creates a HubSpot project and returns its id (static buffer rotation). */
static const char *hs_create(const char *props_json)
{
    static char ids[8][32];
    static int slot;
    char body[2048];
    snprintf(body, sizeof body, "{\"properties\":%s}", props_json);
    struct resp r;
    long st = hs("POST", "/crm/v3/objects/" PROJECTS, body, &r);
    if (st != 201)
        fprintf(stderr, "create failed %ld: %s\n", st, r.body ? r.body : "");
    assert_int_equal(st, 201);
    char *id = ids[slot++ % 8];
    snprintf(id, 32, "%s", jstr(r.json, "id"));
    resp_free(&r);
    return id;
}

static const char *sf_create(const char *body)
{
    static char ids[8][32];
    static int slot;
    struct resp r;
    long st = sf("POST", "/sobjects/Project__c", body, &r);
    if (st != 201)
        fprintf(stderr, "sf create failed %ld: %s\n", st, r.body ? r.body : "");
    assert_int_equal(st, 201);
    char *id = ids[slot++ % 8];
    snprintf(id, 32, "%s", jstr(r.json, "id"));
    resp_free(&r);
    return id;
}

/* ---------------------------------------------------------------- process management */

static int group_setup(void **state)
{
    (void)state;
    const char *bin = getenv("CRMSIM_BIN");
    if (!bin || access(bin, X_OK) != 0) {
        fprintf(stderr, "CRMSIM_BIN is not set to an executable; skipping crmsim tests\n");
        return 0;
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    char err[300];
    if (crmsim_proc_start(&sim, bin, NULL, err, sizeof err) < 0) {
        fprintf(stderr, "crmsim did not start: %s\n", err);
        return -1;
    }
    snprintf(base_url, sizeof base_url, "%s", sim.base);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    if (!sim.pid)
        return 0;
    int rc = crmsim_proc_stop(&sim);
    curl_global_cleanup();
    if (rc != 0) {
        fprintf(stderr, "crmsim exited with status %d (sanitizer report or crash?)\n", rc);
        return -1;
    }
    return 0;
}

#define NEED_SIM()                                                                                 \
    do {                                                                                           \
        if (!sim.pid)                                                                              \
            skip();                                                                                \
    } while (0)

static int test_setup(void **state)
{
    if (!sim.pid)
        return 0;
    ctl_ok("POST", "/_sim/reset", NULL);
    ctl_ok("POST", "/_sim/fixtures", fixture_doc);
    return 0;
}

/* ---------------------------------------------------------------- HubSpot */

static void test_hs_auth(void **state)
{
    NEED_SIM();
    struct resp r;
    assert_int_equal(request("GET", "/crm/v3/objects/" PROJECTS, NULL, NULL, NULL, NULL, &r), 401);
    assert_str(jstr(r.json, "category"), "INVALID_AUTHENTICATION");
    assert_str(jstr(r.json, "status"), "error");
    assert_non_null(jstr(r.json, "correlationId"));
    resp_free(&r);
    assert_int_equal(
        request("GET", "/crm/v3/objects/" PROJECTS, NULL, NULL, "Bearer wrong", NULL, &r), 401);
    resp_free(&r);

    /* Refresh grant issues a working token. */
    const char *form = "grant_type=refresh_token&client_id=sim-client-id&client_secret=sim-client-"
                       "secret&refresh_token=sim-refresh-token";
    assert_int_equal(request("POST", "/oauth/v1/token", form, "application/x-www-form-urlencoded",
                             NULL, NULL, &r),
                     200);
    assert_str(jstr(r.json, "token_type"), "bearer");
    assert_int_equal(jint(r.json, "expires_in"), 1800);
    assert_str(jstr(r.json, "refresh_token"), "sim-refresh-token");
    char auth[256];
    snprintf(auth, sizeof auth, "Bearer %s", jstr(r.json, "access_token"));
    char token[200];
    snprintf(token, sizeof token, "%s", jstr(r.json, "access_token"));
    resp_free(&r);
    assert_int_equal(request("GET", "/crm/v3/objects/" PROJECTS, NULL, NULL, auth, NULL, &r), 200);
    resp_free(&r);

    /* Expired token → EXPIRED_AUTHENTICATION. */
    char body[300];
    snprintf(body, sizeof body, "{\"access_token\":\"%s\"}", token);
    ctl_ok("POST", "/_sim/hubspot/tokens/expire", body);
    assert_int_equal(request("GET", "/crm/v3/objects/" PROJECTS, NULL, NULL, auth, NULL, &r), 401);
    assert_str(jstr(r.json, "category"), "EXPIRED_AUTHENTICATION");
    resp_free(&r);

    /* Configurable expiry: a 1-second token runs out. */
    config("{\"hubspot_token_expires_in\":1}");
    assert_int_equal(request("POST", "/oauth/v1/token", form, "application/x-www-form-urlencoded",
                             NULL, NULL, &r),
                     200);
    assert_int_equal(jint(r.json, "expires_in"), 1);
    resp_free(&r);

    /* Bad refresh token, bad client secret. */
    assert_int_equal(request("POST", "/oauth/v1/token",
                             "grant_type=refresh_token&client_id=sim-client-id&client_secret=sim-"
                             "client-secret&refresh_token=nope",
                             "application/x-www-form-urlencoded", NULL, NULL, &r),
                     400);
    assert_str(jstr(r.json, "error"), "invalid_grant");
    assert_str(jstr(r.json, "status"), "BAD_REFRESH_TOKEN");
    assert_non_null(jstr(r.json, "error_description"));
    resp_free(&r);
    assert_int_equal(request("POST", "/oauth/v1/token",
                             "grant_type=refresh_token&client_id=sim-client-id&client_secret=x&"
                             "refresh_token=sim-refresh-token",
                             "application/x-www-form-urlencoded", NULL, NULL, &r),
                     400);
    resp_free(&r);

    ctl("GET", "/_sim/stats", NULL, &r);
    assert_int_equal(jint(r.json, "tokenRefreshes.hubspot"), 2);
    resp_free(&r);
}

static void test_hs_schemas(void **state)
{
    NEED_SIM();
    struct resp r;
    assert_int_equal(hs("GET", "/crm-object-schemas/v3/schemas", NULL, &r), 200);
    assert_int_equal(jlen(r.json, "results"), 1); /* standard objects are not listed */
    json_object *s = jpath(r.json, "results.0");
    assert_str(jstr(s, "name"), "projects");
    assert_str(jstr(s, "objectTypeId"), PROJECTS);
    assert_str(jstr(s, "fullyQualifiedName"), "p12345678_projects");
    assert_str(jstr(s, "primaryDisplayProperty"), "name");
    assert_str(jstr(s, "requiredProperties.0"), "name");
    assert_str(jstr(s, "labels.singular"), "Project");
    assert_str(jstr(s, "associations.0.toObjectTypeId"), "0-2");
    bool saw_unique = false, saw_enum = false;
    for (size_t i = 0; i < jlen(s, "properties"); i++) {
        json_object *p = json_object_array_get_idx(jpath(s, "properties"), i);
        assert_non_null(jpath(p, "modificationMetadata.readOnlyValue"));
        assert_non_null(jpath(p, "calculated"));
        assert_non_null(jpath(p, "fieldType"));
        if (strcmp(jstr(p, "name"), "salesforce_id") == 0)
            saw_unique = json_object_get_boolean(jpath(p, "hasUniqueValue"));
        if (strcmp(jstr(p, "name"), "status") == 0)
            saw_enum = jlen(p, "options") == 3 && strcmp(jstr(p, "options.1.value"), "active") == 0;
    }
    assert_true(saw_unique && saw_enum);
    resp_free(&r);
    assert_int_equal(hs("GET", "/crm-object-schemas/v3/schemas/p12345678_projects", NULL, &r), 200);
    assert_str(jstr(r.json, "objectTypeId"), PROJECTS);
    resp_free(&r);
    assert_int_equal(hs("GET", "/crm-object-schemas/v3/schemas/nope", NULL, &r), 404);
    assert_str(jstr(r.json, "category"), "OBJECT_NOT_FOUND");
    resp_free(&r);
    /* A portal id change renames the fully qualified name. */
    config("{\"hubspot_portal_id\":42}");
    assert_int_equal(hs("GET", "/crm-object-schemas/v3/schemas/p42_projects", NULL, &r), 200);
    resp_free(&r);
}

static void test_hs_crud(void **state)
{
    NEED_SIM();
    struct resp r;
    assert_int_equal(
        hs("POST", "/crm/v3/objects/p12345678_projects",
           "{\"properties\":{\"name\":\"Apollo\",\"budget\":\"12.5\",\"status\":\"active\","
           "\"is_active\":\"TRUE\",\"start_date\":\"2024-05-02\",\"due_at\":\"1714650833000\"}}",
           &r),
        201);
    char id[32];
    snprintf(id, sizeof id, "%s", jstr(r.json, "id"));
    assert_str(jstr(r.json, "properties.hs_object_id"), id);
    assert_str(jstr(r.json, "properties.is_active"), "true");
    assert_str(jstr(r.json, "properties.due_at"), "2024-05-02T11:53:53.000Z");
    assert_non_null(jstr(r.json, "properties.hs_createdate"));
    assert_non_null(jstr(r.json, "properties.hs_lastmodifieddate"));
    assert_non_null(jstr(r.json, "createdAt"));
    assert_false(json_object_get_boolean(jpath(r.json, "archived")));
    resp_free(&r);

    char path[256];
    snprintf(path, sizeof path,
             "/crm/v3/objects/" PROJECTS "/%s?properties=name,budget,salesforce_id", id);
    assert_int_equal(hs("GET", path, NULL, &r), 200);
    assert_str(jstr(r.json, "properties.name"), "Apollo");
    assert_str(jstr(r.json, "properties.budget"), "12.5");
    assert_non_null(jpath(r.json, "properties"));
    assert_true(json_object_object_get_ex(jpath(r.json, "properties"), "salesforce_id", NULL));
    assert_null(jpath(r.json, "properties.salesforce_id")); /* requested but unset: null */
    assert_null(jpath(r.json, "properties.status"));        /* not requested */
    resp_free(&r);

    snprintf(path, sizeof path, "/crm/v3/objects/" PROJECTS "/%s", id);
    assert_int_equal(
        hs("PATCH", path, "{\"properties\":{\"budget\":\"20\",\"salesforce_id\":\"a01X\"}}", &r),
        200);
    assert_str(jstr(r.json, "properties.budget"), "20");
    resp_free(&r);
    /* Read by unique property. */
    assert_int_equal(
        hs("GET", "/crm/v3/objects/" PROJECTS "/a01X?idProperty=salesforce_id", NULL, &r), 200);
    assert_str(jstr(r.json, "id"), id);
    resp_free(&r);
    /* idProperty must be unique */
    assert_int_equal(hs("GET", "/crm/v3/objects/" PROJECTS "/Apollo?idProperty=name", NULL, &r),
                     400);
    resp_free(&r);

    /* List with paging. */
    hs_create("{\"name\":\"B\"}");
    hs_create("{\"name\":\"C\"}");
    assert_int_equal(hs("GET", "/crm/v3/objects/" PROJECTS "?limit=2&properties=name", NULL, &r),
                     200);
    assert_int_equal(jlen(r.json, "results"), 2);
    char after[32];
    snprintf(after, sizeof after, "%s", jstr(r.json, "paging.next.after"));
    resp_free(&r);
    snprintf(path, sizeof path, "/crm/v3/objects/" PROJECTS "?limit=2&after=%s", after);
    assert_int_equal(hs("GET", path, NULL, &r), 200);
    assert_int_equal(jlen(r.json, "results"), 1);
    assert_null(jpath(r.json, "paging"));
    resp_free(&r);

    snprintf(path, sizeof path, "/crm/v3/objects/" PROJECTS "/%s", id);
    assert_int_equal(hs("DELETE", path, NULL, &r), 204);
    resp_free(&r);
    assert_int_equal(hs("GET", path, NULL, &r), 404);
    assert_str(jstr(r.json, "category"), "OBJECT_NOT_FOUND");
    resp_free(&r);
    snprintf(path, sizeof path, "/crm/v3/objects/" PROJECTS "/%s?archived=true", id);
    assert_int_equal(hs("GET", path, NULL, &r), 200);
    assert_true(json_object_get_boolean(jpath(r.json, "archived")));
    resp_free(&r);
    /* Unknown object type. */
    assert_int_equal(hs("GET", "/crm/v3/objects/2-999/1", NULL, &r), 400);
    resp_free(&r);
    /* Date-versioned paths reach the same records. */
    assert_int_equal(hs("GET", "/crm/objects/2026-03/" PROJECTS "?limit=1", NULL, &r), 200);
    resp_free(&r);
}

static void expect_validation(const char *props, int status, const char *category, const char *code,
                              const char *prop)
{
    char body[1024];
    snprintf(body, sizeof body, "{\"properties\":%s}", props);
    struct resp r;
    long st = hs("POST", "/crm/v3/objects/" PROJECTS, body, &r);
    if (st != status)
        fprintf(stderr, "%s → %ld %s\n", props, st, r.body ? r.body : "");
    assert_int_equal(st, status);
    assert_str(jstr(r.json, "status"), "error");
    assert_str(jstr(r.json, "category"), category);
    assert_non_null(jstr(r.json, "message"));
    assert_non_null(jstr(r.json, "correlationId"));
    assert_str(jstr(r.json, "errors.0.code"), code);
    assert_non_null(jstr(r.json, "errors.0.message"));
    assert_str(jstr(r.json, "errors.0.context.propertyName.0"), prop);
    resp_free(&r);
}

static void test_hs_validation(void **state)
{
    NEED_SIM();
    expect_validation("{\"name\":\"x\",\"nope\":\"1\"}", 400, "VALIDATION_ERROR",
                      "PROPERTY_DOESNT_EXIST", "nope");
    expect_validation("{\"name\":\"x\",\"status\":\"weird\"}", 400, "VALIDATION_ERROR",
                      "INVALID_OPTION", "status");
    expect_validation("{\"budget\":\"1\"}", 400, "VALIDATION_ERROR", "REQUIRED_PROPERTY", "name");
    expect_validation("{\"name\":\"x\",\"budget\":\"12abc\"}", 400, "VALIDATION_ERROR",
                      "INVALID_INTEGER", "budget");
    expect_validation("{\"name\":\"x\",\"is_active\":\"maybe\"}", 400, "VALIDATION_ERROR",
                      "INVALID_BOOLEAN", "is_active");
    expect_validation("{\"name\":\"x\",\"start_date\":\"2024-02-30\"}", 400, "VALIDATION_ERROR",
                      "INVALID_DATE", "start_date");
    expect_validation("{\"name\":\"x\",\"due_at\":\"yesterday\"}", 400, "VALIDATION_ERROR",
                      "INVALID_DATETIME", "due_at");
    expect_validation("{\"name\":\"x\",\"hs_object_id\":\"5\"}", 400, "VALIDATION_ERROR",
                      "READ_ONLY_VALUE", "hs_object_id");
    hs_create("{\"name\":\"first\",\"salesforce_id\":\"SF1\"}");
    expect_validation("{\"name\":\"second\",\"salesforce_id\":\"SF1\"}", 409, "CONFLICT",
                      "CONFLICT", "salesforce_id");
    /* The property-values message embeds HubSpot's list. */
    struct resp r;
    hs("POST", "/crm/v3/objects/" PROJECTS, "{\"properties\":{\"name\":\"x\",\"nope\":\"1\"}}", &r);
    assert_non_null(strstr(jstr(r.json, "message"), "Property values were not valid"));
    assert_non_null(strstr(jstr(r.json, "message"), "PROPERTY_DOESNT_EXIST"));
    resp_free(&r);
    /* Malformed JSON never crashes and answers 400. */
    assert_int_equal(hs("POST", "/crm/v3/objects/" PROJECTS, "{\"properties\":", &r), 400);
    resp_free(&r);
    assert_int_equal(hs("POST", "/crm/v3/objects/" PROJECTS, "[1,2]", &r), 400);
    resp_free(&r);
    assert_int_equal(hs("POST", "/crm/v3/objects/" PROJECTS, "{\"properties\":{\"name\":[1]}}", &r),
                     400);
    resp_free(&r);
}

enum inputs_kind { INPUTS_CREATE, INPUTS_ASSOC };

/* {"inputs":[...]} with n generated inputs. Caller frees. */
static char *inputs_json(int n, enum inputs_kind kind)
{
    size_t cap = (size_t)n * 128 + 64;
    char *out = malloc(cap);
    assert_non_null(out);
    size_t o = (size_t)snprintf(out, cap, "{\"inputs\":[");
    for (int i = 0; i < n; i++) {
        if (kind == INPUTS_CREATE)
            o += (size_t)snprintf(out + o, cap - o,
                                  "%s{\"properties\":{\"name\":\"n%d\",\"budget\":\"%d\"}}",
                                  i ? "," : "", i, i);
        else
            o +=
                (size_t)snprintf(out + o, cap - o,
                                 "%s{\"from\":{\"id\":\"%d\"},\"to\":{\"id\":\"%d\"},\"types\":[]}",
                                 i ? "," : "", i, i);
    }
    snprintf(out + o, cap - o, "]}");
    return out;
}

static size_t count_projects(void)
{
    struct resp r;
    hs("GET", "/crm/v3/objects/" PROJECTS "?limit=100", NULL, &r);
    size_t n = jlen(r.json, "results");
    resp_free(&r);
    return n;
}

static void test_hs_batch(void **state)
{
    NEED_SIM();
    struct resp r;
    char *big = inputs_json(101, INPUTS_CREATE);
    assert_int_equal(hs("POST", "/crm/v3/objects/" PROJECTS "/batch/create", big, &r), 400);
    assert_str(jstr(r.json, "category"), "VALIDATION_ERROR");
    resp_free(&r);
    free(big);
    char *ok = inputs_json(3, INPUTS_CREATE);
    assert_int_equal(hs("POST", "/crm/v3/objects/" PROJECTS "/batch/create", ok, &r), 201);
    assert_str(jstr(r.json, "status"), "COMPLETE");
    assert_int_equal(jlen(r.json, "results"), 3);
    assert_non_null(jstr(r.json, "startedAt"));
    assert_non_null(jstr(r.json, "completedAt"));
    char id0[32];
    snprintf(id0, sizeof id0, "%s", jstr(r.json, "results.0.id"));
    resp_free(&r);
    free(ok);
    assert_int_equal(count_projects(), 3);

    /* One bad input without trace ids: the whole batch fails, nothing is created. */
    assert_int_equal(hs("POST", "/crm/v3/objects/" PROJECTS "/batch/create",
                        "{\"inputs\":[{\"properties\":{\"name\":\"ok\"}},{\"properties\":{\"name\":"
                        "\"bad\",\"status\":\"zzz\"}}]}",
                        &r),
                     400);
    assert_str(jstr(r.json, "errors.0.code"), "INVALID_OPTION");
    resp_free(&r);
    assert_int_equal(count_projects(), 3);

    /* Unique trace ids: multi-status with per-input errors. */
    assert_int_equal(
        hs("POST", "/crm/v3/objects/" PROJECTS "/batch/create",
           "{\"inputs\":[{\"properties\":{\"name\":\"ok\"},\"objectWriteTraceId\":\"t1\"},"
           "{\"properties\":{\"name\":\"bad\",\"status\":\"zzz\"},\"objectWriteTraceId\":\"t2\"}]}",
           &r),
        207);
    assert_int_equal(jlen(r.json, "results"), 1);
    assert_int_equal(jlen(r.json, "errors"), 1);
    assert_int_equal(jint(r.json, "numErrors"), 1);
    assert_str(jstr(r.json, "errors.0.context.objectWriteTraceId.0"), "t2");
    assert_str(jstr(r.json, "errors.0.category"), "VALIDATION_ERROR");
    assert_str(jstr(r.json, "results.0.objectWriteTraceId"), "t1");
    resp_free(&r);
    assert_int_equal(count_projects(), 4);

    /* Read with a missing id → 207. */
    char body[512];
    snprintf(body, sizeof body,
             "{\"properties\":[\"name\"],\"inputs\":[{\"id\":\"%s\"},{\"id\":\"999999\"}]}", id0);
    assert_int_equal(hs("POST", "/crm/v3/objects/" PROJECTS "/batch/read", body, &r), 207);
    assert_int_equal(jlen(r.json, "results"), 1);
    assert_str(jstr(r.json, "results.0.properties.name"), "n0");
    assert_str(jstr(r.json, "errors.0.category"), "OBJECT_NOT_FOUND");
    assert_str(jstr(r.json, "errors.0.context.ids.0"), "999999");
    resp_free(&r);

    /* Update. */
    snprintf(body, sizeof body, "{\"inputs\":[{\"id\":\"%s\",\"properties\":{\"budget\":\"77\"}}]}",
             id0);
    assert_int_equal(hs("POST", "/crm/v3/objects/" PROJECTS "/batch/update", body, &r), 200);
    assert_str(jstr(r.json, "results.0.properties.budget"), "77");
    resp_free(&r);
    /* A record that is gone fails alone (207), also without trace ids: see test_hs_gone. */
    assert_int_equal(hs("POST", "/crm/v3/objects/" PROJECTS "/batch/update",
                        "{\"inputs\":[{\"id\":\"999999\",\"properties\":{\"budget\":\"1\"}}]}", &r),
                     207);
    assert_str(jstr(r.json, "errors.0.context.ids.0"), "999999");
    resp_free(&r);

    /* Upsert by a unique property: creates, then updates. */
    const char *up = "{\"inputs\":[{\"id\":\"a01SF\",\"idProperty\":\"salesforce_id\","
                     "\"properties\":{\"name\":\"Upserted\",\"budget\":\"5\"}}]}";
    assert_int_equal(hs("POST", "/crm/v3/objects/" PROJECTS "/batch/upsert", up, &r), 200);
    assert_true(json_object_get_boolean(jpath(r.json, "results.0.new")));
    assert_str(jstr(r.json, "results.0.properties.salesforce_id"), "a01SF");
    char upid[32];
    snprintf(upid, sizeof upid, "%s", jstr(r.json, "results.0.id"));
    resp_free(&r);
    assert_int_equal(hs("POST", "/crm/v3/objects/" PROJECTS "/batch/upsert",
                        "{\"inputs\":[{\"id\":\"a01SF\",\"idProperty\":\"salesforce_id\","
                        "\"properties\":{\"budget\":\"6\"}}]}",
                        &r),
                     200);
    assert_false(json_object_get_boolean(jpath(r.json, "results.0.new")));
    assert_str(jstr(r.json, "results.0.id"), upid);
    assert_str(jstr(r.json, "results.0.properties.budget"), "6");
    resp_free(&r);
    assert_int_equal(hs("POST", "/crm/v3/objects/" PROJECTS "/batch/upsert",
                        "{\"inputs\":[{\"id\":\"x\",\"idProperty\":\"name\",\"properties\":{}}]}",
                        &r),
                     400);
    resp_free(&r);

    /* Archive. */
    snprintf(body, sizeof body, "{\"inputs\":[{\"id\":\"%s\"},{\"id\":\"424242\"}]}", id0);
    assert_int_equal(hs("POST", "/crm/v3/objects/" PROJECTS "/batch/archive", body, &r), 204);
    resp_free(&r);
    char path[128];
    snprintf(path, sizeof path, "/crm/v3/objects/" PROJECTS "/%s", id0);
    assert_int_equal(hs("GET", path, NULL, &r), 404);
    resp_free(&r);
}

/* Records that do not exist, as HubSpot answers them: batch read 207 naming the missing ids in
 * context.ids (404 when none was found), batch update 207 with the other inputs applied (with or
 * without trace ids), batch archive 204, association read NO_ASSOCIATIONS_FOUND naming the id. */
static void test_hs_gone(void **state)
{
    NEED_SIM();
    struct resp r;
    const char *a = hs_create("{\"name\":\"alive\",\"budget\":\"1\"}");
    char alive[32];
    snprintf(alive, sizeof alive, "%s", a);
    char body[600];

    /* read: some missing -> 207; all missing -> 404 with the same error as the body */
    snprintf(body, sizeof body,
             "{\"inputs\":[{\"id\":\"%s\"},{\"id\":\"880001\"},{\"id\":"
             "\"880002\"}]}",
             alive);
    assert_int_equal(hs("POST", "/crm/v3/objects/" PROJECTS "/batch/read", body, &r), 207);
    assert_int_equal(jlen(r.json, "results"), 1);
    assert_int_equal(jint(r.json, "numErrors"), 1);
    assert_str(jstr(r.json, "errors.0.status"), "error");
    assert_str(jstr(r.json, "errors.0.category"), "OBJECT_NOT_FOUND");
    assert_non_null(strstr(jstr(r.json, "errors.0.message"), "Could not get some"));
    assert_int_equal(jlen(r.json, "errors.0.context.ids"), 2);
    assert_str(jstr(r.json, "errors.0.context.ids.1"), "880002");
    resp_free(&r);
    assert_int_equal(hs("POST", "/crm/v3/objects/" PROJECTS "/batch/read",
                        "{\"inputs\":[{\"id\":\"880001\"},{\"id\":\"880002\"}]}", &r),
                     404);
    assert_str(jstr(r.json, "category"), "OBJECT_NOT_FOUND");
    assert_str(jstr(r.json, "context.ids.0"), "880001");
    assert_null(jpath(r.json, "results"));
    resp_free(&r);

    /* update without trace ids: the missing one fails alone, the other is applied */
    snprintf(body, sizeof body,
             "{\"inputs\":[{\"id\":\"%s\",\"properties\":{\"budget\":\"2\"}},{\"id\":"
             "\"880001\",\"properties\":{\"budget\":\"3\"}}]}",
             alive);
    assert_int_equal(hs("POST", "/crm/v3/objects/" PROJECTS "/batch/update", body, &r), 207);
    assert_int_equal(jlen(r.json, "results"), 1);
    assert_str(jstr(r.json, "results.0.properties.budget"), "2");
    assert_int_equal(jint(r.json, "numErrors"), 1);
    assert_str(jstr(r.json, "errors.0.category"), "OBJECT_NOT_FOUND");
    assert_str(jstr(r.json, "errors.0.context.ids.0"), "880001");
    resp_free(&r);
    /* with trace ids: the same, the error naming the input's trace id too */
    snprintf(body, sizeof body,
             "{\"inputs\":[{\"id\":\"%s\",\"properties\":{\"budget\":\"4\"},"
             "\"objectWriteTraceId\":\"t1\"},{\"id\":\"880001\",\"properties\":{\"budget\":"
             "\"5\"},\"objectWriteTraceId\":\"t2\"}]}",
             alive);
    assert_int_equal(hs("POST", "/crm/v3/objects/" PROJECTS "/batch/update", body, &r), 207);
    assert_str(jstr(r.json, "results.0.properties.budget"), "4");
    assert_str(jstr(r.json, "errors.0.category"), "OBJECT_NOT_FOUND");
    assert_str(jstr(r.json, "errors.0.context.ids.0"), "880001");
    assert_str(jstr(r.json, "errors.0.context.objectWriteTraceId.0"), "t2");
    resp_free(&r);
    /* another input's validation error still fails the untraced batch as a whole */
    snprintf(body, sizeof body,
             "{\"inputs\":[{\"id\":\"%s\",\"properties\":{\"status\":\"zzz\"}},{\"id\":"
             "\"880001\",\"properties\":{\"budget\":\"3\"}}]}",
             alive);
    assert_int_equal(hs("POST", "/crm/v3/objects/" PROJECTS "/batch/update", body, &r), 400);
    resp_free(&r);

    /* archive: unknown ids are ignored */
    assert_int_equal(hs("POST", "/crm/v3/objects/" PROJECTS "/batch/archive",
                        "{\"inputs\":[{\"id\":\"880001\"}]}", &r),
                     204);
    resp_free(&r);

    /* association read of a record that does not exist: "no associations", naming it */
    assert_int_equal(hs("POST", "/crm/v4/associations/" PROJECTS "/0-2/batch/read",
                        "{\"inputs\":[{\"id\":\"880001\"}]}", &r),
                     207);
    assert_int_equal(jlen(r.json, "results"), 0);
    assert_str(jstr(r.json, "errors.0.category"), "OBJECT_NOT_FOUND");
    assert_str(jstr(r.json, "errors.0.subCategory"), "crm.associations.NO_ASSOCIATIONS_FOUND");
    assert_str(jstr(r.json, "errors.0.context.fromObjectId.0"), "880001");
    assert_str(jstr(r.json, "errors.0.context.fromObjectType.0"), PROJECTS);
    assert_str(jstr(r.json, "errors.0.context.toObjectType.0"), "0-2");
    resp_free(&r);
}

static void test_hs_search(void **state)
{
    NEED_SIM();
    config("{\"hubspot_search_delay_ms\":300,\"hubspot_search_rate_per_second\":20}");
    for (int i = 0; i < 5; i++) {
        char props[128];
        snprintf(props, sizeof props, "{\"name\":\"s%d\",\"budget\":\"%d\",\"status\":\"%s\"}", i,
                 i * 10, i % 2 ? "active" : "done");
        hs_create(props);
    }
    const char *q =
        "{\"filterGroups\":[{\"filters\":[{\"propertyName\":\"budget\",\"operator\":\"GTE\","
        "\"value\":\"10\"}]}],\"sorts\":[{\"propertyName\":\"budget\",\"direction\":"
        "\"DESCENDING\"}],\"properties\":[\"name\",\"budget\"],\"limit\":2}";
    struct resp r;
    assert_int_equal(hs("POST", "/crm/v3/objects/" PROJECTS "/search", q, &r), 200);
    assert_int_equal(jint(r.json, "total"), 0); /* not indexed yet */
    resp_free(&r);
    sleep_ms(400);
    assert_int_equal(hs("POST", "/crm/v3/objects/" PROJECTS "/search", q, &r), 200);
    assert_int_equal(jint(r.json, "total"), 4);
    assert_int_equal(jlen(r.json, "results"), 2);
    assert_str(jstr(r.json, "results.0.properties.budget"), "40");
    assert_str(jstr(r.json, "results.1.properties.name"), "s3");
    assert_str(jstr(r.json, "paging.next.after"), "2");
    resp_free(&r);
    const char *q2 =
        "{\"filterGroups\":[{\"filters\":[{\"propertyName\":\"budget\",\"operator\":\"GTE\","
        "\"value\":\"10\"}]}],\"sorts\":[{\"propertyName\":\"budget\",\"direction\":"
        "\"DESCENDING\"}],\"limit\":2,\"after\":\"2\"}";
    assert_int_equal(hs("POST", "/crm/v3/objects/" PROJECTS "/search", q2, &r), 200);
    assert_int_equal(jlen(r.json, "results"), 2);
    assert_null(jpath(r.json, "paging"));
    resp_free(&r);
    /* OR of groups, IN, HAS_PROPERTY / NOT_HAS_PROPERTY. */
    assert_int_equal(
        hs("POST", "/crm/v3/objects/" PROJECTS "/search",
           "{\"filterGroups\":[{\"filters\":[{\"propertyName\":\"status\",\"operator\":"
           "\"IN\",\"values\":[\"active\"]}]},{\"filters\":[{\"propertyName\":\"name\","
           "\"operator\":\"EQ\",\"value\":\"S0\"}]}]}",
           &r),
        200);
    assert_int_equal(jint(r.json, "total"), 3);
    resp_free(&r);
    assert_int_equal(
        hs("POST", "/crm/v3/objects/" PROJECTS "/search",
           "{\"filterGroups\":[{\"filters\":[{\"propertyName\":\"salesforce_id\","
           "\"operator\":\"NOT_HAS_PROPERTY\"},{\"propertyName\":\"budget\",\"operator\":"
           "\"LT\",\"value\":\"15\"}]}]}",
           &r),
        200);
    assert_int_equal(jint(r.json, "total"), 2);
    resp_free(&r);
    assert_int_equal(hs("POST", "/crm/v3/objects/" PROJECTS "/search", "{\"limit\":201}", &r), 400);
    resp_free(&r);
}

static void test_hs_search_rate_limit(void **state)
{
    NEED_SIM();
    struct resp r;
    int limited = 0;
    for (int i = 0; i < 7; i++) {
        long st = hs("POST", "/crm/v3/objects/" PROJECTS "/search", "{}", &r);
        if (st == 429) {
            limited++;
            assert_str(jstr(r.json, "errorType"), "RATE_LIMIT");
        }
        resp_free(&r);
    }
    assert_true(limited >= 2);
}

static void test_hs_associations(void **state)
{
    NEED_SIM();
    const char *pid = hs_create("{\"name\":\"assoc\"}");
    char path[512];
    struct resp r;
    snprintf(path, sizeof path, "/crm/v4/objects/" PROJECTS "/%s/associations/default/0-2/501",
             pid);
    assert_int_equal(hs("PUT", path, NULL, &r), 200);
    assert_str(jstr(r.json, "status"), "COMPLETE");
    assert_int_equal(jint(r.json, "results.0.associationSpec.associationTypeId"), 101);
    assert_int_equal(jint(r.json, "results.1.associationSpec.associationTypeId"), 102);
    resp_free(&r);
    /* Labelled. */
    snprintf(path, sizeof path, "/crm/v4/objects/" PROJECTS "/%s/associations/0-2/501", pid);
    assert_int_equal(hs("PUT", path,
                        "[{\"associationCategory\":\"USER_DEFINED\",\"associationTypeId\":103}]",
                        &r),
                     201);
    assert_str(jstr(r.json, "labels.0"), "Sponsor");
    assert_int_equal(jint(r.json, "toObjectId"), 501);
    resp_free(&r);
    assert_int_equal(hs("PUT", path,
                        "[{\"associationCategory\":\"USER_DEFINED\",\"associationTypeId\":999}]",
                        &r),
                     400);
    resp_free(&r);
    /* Read from both sides. */
    snprintf(path, sizeof path, "/crm/v4/objects/" PROJECTS "/%s/associations/companies", pid);
    assert_int_equal(hs("GET", path, NULL, &r), 200);
    assert_int_equal(jint(r.json, "results.0.toObjectId"), 501);
    assert_int_equal(jlen(r.json, "results.0.associationTypes"), 2);
    resp_free(&r);
    assert_int_equal(hs("GET", "/crm/v4/objects/0-2/501/associations/" PROJECTS, NULL, &r), 200);
    assert_int_equal(jint(r.json, "results.0.associationTypes.0.typeId"), 102);
    assert_int_equal(jint(r.json, "results.0.associationTypes.1.typeId"), 104);
    resp_free(&r);
    /* ?associations= on GET one. */
    snprintf(path, sizeof path, "/crm/v3/objects/" PROJECTS "/%s?associations=companies", pid);
    assert_int_equal(hs("GET", path, NULL, &r), 200);
    assert_str(jstr(r.json, "associations.companies.results.0.id"), "501");
    resp_free(&r);
    /* Labels. */
    assert_int_equal(hs("GET", "/crm/v4/associations/" PROJECTS "/0-2/labels", NULL, &r), 200);
    assert_int_equal(jlen(r.json, "results"), 2);
    resp_free(&r);
    /* Batch create / read / archive. */
    const char *pid2 = hs_create("{\"name\":\"assoc2\"}");
    char body[512];
    snprintf(
        body, sizeof body,
        "{\"inputs\":[{\"from\":{\"id\":\"%s\"},\"to\":{\"id\":\"501\"},\"types\":[{"
        "\"associationCategory\":\"USER_DEFINED\",\"associationTypeId\":101}]},{\"from\":{\"id\":"
        "\"777777\"},\"to\":{\"id\":\"501\"},\"types\":[{\"associationCategory\":\"USER_DEFINED\","
        "\"associationTypeId\":101}]}]}",
        pid2);
    assert_int_equal(hs("POST", "/crm/v4/associations/" PROJECTS "/0-2/batch/create", body, &r),
                     207);
    assert_int_equal(jlen(r.json, "results"), 1);
    assert_int_equal(jlen(r.json, "errors"), 1);
    resp_free(&r);
    char *many = inputs_json(2001, INPUTS_ASSOC);
    assert_int_equal(hs("POST", "/crm/v4/associations/" PROJECTS "/0-2/batch/create", many, &r),
                     400);
    resp_free(&r);
    free(many);
    snprintf(body, sizeof body, "{\"inputs\":[{\"id\":\"%s\"},{\"id\":\"%s\"}]}", pid, pid2);
    assert_int_equal(hs("POST", "/crm/v4/associations/" PROJECTS "/0-2/batch/read", body, &r), 200);
    assert_int_equal(jlen(r.json, "results"), 2);
    resp_free(&r);
    snprintf(body, sizeof body,
             "{\"inputs\":[{\"from\":{\"id\":\"%s\"},\"to\":[{\"id\":\"501\"}]}]}", pid);
    assert_int_equal(hs("POST", "/crm/v4/associations/" PROJECTS "/0-2/batch/archive", body, &r),
                     204);
    resp_free(&r);
    snprintf(path, sizeof path, "/crm/v4/objects/" PROJECTS "/%s/associations/0-2", pid);
    assert_int_equal(hs("GET", path, NULL, &r), 200);
    assert_int_equal(jlen(r.json, "results"), 0);
    resp_free(&r);
    /* Create with v3 associations. */
    assert_int_equal(
        hs("POST", "/crm/v3/objects/" PROJECTS,
           "{\"properties\":{\"name\":\"withassoc\"},\"associations\":[{\"to\":{\"id\":"
           "\"501\"},\"types\":[{\"associationCategory\":\"USER_DEFINED\","
           "\"associationTypeId\":101}]}]}",
           &r),
        201);
    resp_free(&r);
    assert_int_equal(hs("GET", "/crm/v4/objects/0-2/501/associations/" PROJECTS, NULL, &r), 200);
    assert_int_equal(jlen(r.json, "results"), 2);
    resp_free(&r);
}

static void test_hs_rate_limit(void **state)
{
    NEED_SIM();
    /* a second private-app token of the same portal */
    ctl_ok("POST", "/_sim/fixtures", "{\"hubspot\":{\"static_tokens\":[\"pat-sim-second\"]}}");
    config("{\"hubspot_rate_limit_max\":5,\"hubspot_rate_limit_interval_ms\":10000}");
    struct resp r;
    char v[64];
    for (int i = 0; i < 5; i++) {
        assert_int_equal(hs("GET", "/crm/v3/objects/" PROJECTS, NULL, &r), 200);
        assert_true(header(&r, "X-HubSpot-RateLimit-Remaining", v, sizeof v));
        assert_int_equal(atoi(v), 4 - i);
        resp_free(&r);
    }
    assert_int_equal(hs("GET", "/crm/v3/objects/" PROJECTS, NULL, &r), 429);
    assert_str(jstr(r.json, "policyName"), "TEN_SECONDLY_ROLLING");
    assert_str(jstr(r.json, "errorType"), "RATE_LIMIT");
    assert_str(jstr(r.json, "message"), "You have reached your secondly limit.");
    assert_non_null(jstr(r.json, "correlationId"));
    assert_true(header(&r, "X-HubSpot-RateLimit-Max", v, sizeof v));
    assert_str(v, "5");
    assert_true(header(&r, "X-HubSpot-RateLimit-Remaining", v, sizeof v));
    assert_str(v, "0");
    assert_true(header(&r, "X-HubSpot-RateLimit-Interval-Milliseconds", v, sizeof v));
    assert_str(v, "10000");
    assert_true(header(&r, "X-HubSpot-RateLimit-Daily", v, sizeof v));
    assert_true(header(&r, "X-HubSpot-RateLimit-Daily-Remaining", v, sizeof v));
    resp_free(&r);
    /* The window is the portal's: another private-app token of it is refused too. */
    assert_int_equal(
        request("GET", "/crm/v3/objects/" PROJECTS, NULL, NULL, "Bearer pat-sim-second", NULL, &r),
        429);
    resp_free(&r);
    /* A short window recovers. */
    config("{\"hubspot_rate_limit_interval_ms\":300}");
    sleep_ms(350);
    assert_int_equal(hs("GET", "/crm/v3/objects/" PROJECTS, NULL, &r), 200);
    resp_free(&r);
}

static void test_hs_signature_vectors(void **state)
{
    NEED_SIM();
    struct resp r;
    assert_int_equal(ctl("POST", "/_sim/hubspot/sign",
                         "{\"secret\":\"yyyyyyyy-yyyy-yyyy-yyyy-yyyyyyyyyyyy\",\"uri\":"
                         "\"https://www.example.com/webhook_uri\",\"body\":\"{'example_field':'"
                         "example_value'}\",\"timestamp\":\"15000000\"}",
                         &r),
                     200);
    assert_str(jstr(r.json, "v1"),
               "69fc6631a867edd4f9e9e627fc5c1148e3fbdd8b21837b6d2b8901c1fa57f750");
    assert_str(jstr(r.json, "v2"),
               "4fe4e3a7d3cf09db53be39d0a58130e2aaba074ec123a9e355b876a689a1c383");
    assert_str(jstr(r.json, "v3"), "HPW73RUtKmcYoEDADG0s6MmGFWUzWJKAW07r8RDgcQw=");
    resp_free(&r);
}

/* ---------------------------------------------------------------- Salesforce */

static void b64url(const unsigned char *p, size_t n, char *out)
{
    unsigned char tmp[1024];
    int w = EVP_EncodeBlock(tmp, p, (int)n);
    int o = 0;
    for (int i = 0; i < w; i++) {
        char c = (char)tmp[i];
        if (c == '=')
            break;
        out[o++] = c == '+' ? '-' : c == '/' ? '_' : c;
    }
    out[o] = '\0';
}

/* RS256 assertion for claims, signed with key. */
static void make_jwt(EVP_PKEY *key, const char *claims, char *out, size_t outlen)
{
    char h[128], c[1024], s[1024];
    const char *jose = "{\"alg\":\"RS256\"}";
    b64url((const unsigned char *)jose, strlen(jose), h);
    b64url((const unsigned char *)claims, strlen(claims), c);
    char signing[2300];
    snprintf(signing, sizeof signing, "%s.%s", h, c);
    unsigned char sig[512];
    size_t siglen = sizeof sig;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    assert_int_equal(EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, key), 1);
    assert_int_equal(
        EVP_DigestSign(ctx, sig, &siglen, (const unsigned char *)signing, strlen(signing)), 1);
    EVP_MD_CTX_free(ctx);
    b64url(sig, siglen, s);
    snprintf(out, outlen, "%s.%s", signing, s);
}

static long jwt_grant(const char *assertion, struct resp *r)
{
    char form[4096];
    snprintf(form, sizeof form,
             "grant_type=urn%%3Aietf%%3Aparams%%3Aoauth%%3Agrant-type%%3Ajwt-bearer&assertion=%s",
             assertion);
    return request("POST", "/services/oauth2/token", form, "application/x-www-form-urlencoded",
                   NULL, NULL, r);
}

static void test_sf_oauth_refresh_rotation(void **state)
{
    NEED_SIM();
    config("{\"salesforce_refresh_rotation\":true}");
    struct resp r;
    const char *form = "grant_type=refresh_token&client_id=sim-sf-client-id&client_secret=sim-sf-"
                       "client-secret&refresh_token=sim-sf-refresh-token";
    assert_int_equal(request("POST", "/services/oauth2/token", form,
                             "application/x-www-form-urlencoded", NULL, NULL, &r),
                     200);
    assert_str(jstr(r.json, "instance_url"), base_url);
    assert_str(jstr(r.json, "token_type"), "Bearer");
    assert_non_null(jstr(r.json, "id"));
    assert_non_null(jstr(r.json, "issued_at"));
    assert_non_null(jstr(r.json, "signature"));
    char rt[200], at[300];
    snprintf(rt, sizeof rt, "%s", jstr(r.json, "refresh_token"));
    snprintf(at, sizeof at, "Bearer %s", jstr(r.json, "access_token"));
    assert_string_not_equal(rt, "sim-sf-refresh-token");
    resp_free(&r);
    assert_int_equal(request("GET", SF "/sobjects/Project__c/describe", NULL, NULL, at, NULL, &r),
                     200);
    resp_free(&r);
    /* The old refresh token no longer works; the new one does. */
    assert_int_equal(request("POST", "/services/oauth2/token", form,
                             "application/x-www-form-urlencoded", NULL, NULL, &r),
                     400);
    assert_str(jstr(r.json, "error"), "invalid_grant");
    assert_non_null(jstr(r.json, "error_description"));
    resp_free(&r);
    char form2[512];
    snprintf(form2, sizeof form2,
             "grant_type=refresh_token&client_id=sim-sf-client-id&refresh_token=%s", rt);
    assert_int_equal(request("POST", "/services/oauth2/token", form2,
                             "application/x-www-form-urlencoded", NULL, NULL, &r),
                     200);
    resp_free(&r);
    /* Invalidated sessions answer 401 INVALID_SESSION_ID. */
    ctl_ok("POST", "/_sim/salesforce/tokens/invalidate", "{}");
    assert_int_equal(request("GET", SF "/sobjects/Project__c/describe", NULL, NULL, at, NULL, &r),
                     401);
    assert_true(json_object_is_type(r.json, json_type_array));
    assert_str(jstr(r.json, "0.errorCode"), "INVALID_SESSION_ID");
    assert_str(jstr(r.json, "0.message"), "Session expired or invalid");
    resp_free(&r);
    assert_int_equal(sf("GET", "/limits", NULL, &r), 401); /* static token invalidated too */
    resp_free(&r);
    ctl("GET", "/_sim/stats", NULL, &r);
    assert_int_equal(jint(r.json, "tokenRefreshes.salesforce"), 2);
    resp_free(&r);
}

static void test_sf_jwt(void **state)
{
    NEED_SIM();
    EVP_PKEY *key = EVP_RSA_gen(2048);
    assert_non_null(key);
    BIO *bio = BIO_new(BIO_s_mem());
    PEM_write_bio_PUBKEY(bio, key);
    char *pem = NULL;
    long n = BIO_get_mem_data(bio, &pem);
    json_object *cfg = json_object_new_object();
    json_object_object_add(cfg, "salesforce_jwt_public_key",
                           json_object_new_string_len(pem, (int)n));
    config(json_object_to_json_string(cfg));
    json_object_put(cfg);
    BIO_free(bio);

    char claims[512], jwt[3000];
    long now = (long)time(NULL);
    snprintf(claims, sizeof claims,
             "{\"iss\":\"sim-sf-client-id\",\"sub\":\"sim@example.com\",\"aud\":"
             "\"https://login.salesforce.com\",\"exp\":%ld}",
             now + 120);
    make_jwt(key, claims, jwt, sizeof jwt);
    struct resp r;
    assert_int_equal(jwt_grant(jwt, &r), 200);
    assert_str(jstr(r.json, "instance_url"), base_url);
    assert_null(jpath(r.json, "refresh_token"));
    char at[300];
    snprintf(at, sizeof at, "Bearer %s", jstr(r.json, "access_token"));
    resp_free(&r);
    assert_int_equal(request("GET", SF "/sobjects/Project__c/describe", NULL, NULL, at, NULL, &r),
                     200);
    resp_free(&r);

    /* Tampered claims: the signature no longer verifies. */
    char tampered[3000];
    snprintf(tampered, sizeof tampered, "%s", jwt);
    char *dot = strchr(tampered, '.');
    dot[5] = dot[5] == 'A' ? 'B' : 'A';
    assert_int_equal(jwt_grant(tampered, &r), 400);
    assert_str(jstr(r.json, "error"), "invalid_grant");
    resp_free(&r);
    /* Expired, too far in the future, wrong audience, unknown issuer. */
    snprintf(claims, sizeof claims,
             "{\"iss\":\"sim-sf-client-id\",\"sub\":\"sim@example.com\",\"aud\":"
             "\"https://login.salesforce.com\",\"exp\":%ld}",
             now - 60);
    make_jwt(key, claims, jwt, sizeof jwt);
    assert_int_equal(jwt_grant(jwt, &r), 400);
    assert_str(jstr(r.json, "error"), "invalid_grant");
    resp_free(&r);
    snprintf(claims, sizeof claims,
             "{\"iss\":\"sim-sf-client-id\",\"sub\":\"sim@example.com\",\"aud\":"
             "\"https://login.salesforce.com\",\"exp\":%ld}",
             now + 3600);
    make_jwt(key, claims, jwt, sizeof jwt);
    assert_int_equal(jwt_grant(jwt, &r), 400);
    resp_free(&r);
    snprintf(claims, sizeof claims,
             "{\"iss\":\"sim-sf-client-id\",\"sub\":\"sim@example.com\",\"aud\":"
             "\"https://evil.example\",\"exp\":%ld}",
             now + 60);
    make_jwt(key, claims, jwt, sizeof jwt);
    assert_int_equal(jwt_grant(jwt, &r), 400);
    resp_free(&r);
    snprintf(claims, sizeof claims,
             "{\"iss\":\"other\",\"sub\":\"sim@example.com\",\"aud\":"
             "\"https://login.salesforce.com\",\"exp\":%ld}",
             now + 60);
    make_jwt(key, claims, jwt, sizeof jwt);
    assert_int_equal(jwt_grant(jwt, &r), 400);
    resp_free(&r);
    assert_int_equal(jwt_grant("not.a.jwt", &r), 400);
    resp_free(&r);
    EVP_PKEY_free(key);
}

static void test_sf_describe(void **state)
{
    NEED_SIM();
    struct resp r;
    assert_int_equal(sf("GET", "/sobjects/Project__c/describe", NULL, &r), 200);
    assert_str(jstr(r.json, "name"), "Project__c");
    assert_str(jstr(r.json, "keyPrefix"), "a01");
    bool saw_ext = false, saw_id = false, saw_pick = false;
    for (size_t i = 0; i < jlen(r.json, "fields"); i++) {
        json_object *f = json_object_array_get_idx(jpath(r.json, "fields"), i);
        static const char *const keys[] = {"name",          "label",       "type",
                                           "length",        "nillable",    "createable",
                                           "updateable",    "calculated",  "externalId",
                                           "unique",        "referenceTo", "relationshipName",
                                           "picklistValues"};
        for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++)
            assert_true(json_object_object_get_ex(f, keys[k], NULL));
        const char *name = jstr(f, "name");
        if (strcmp(name, "External_Id__c") == 0)
            saw_ext = json_object_get_boolean(jpath(f, "externalId"));
        if (strcmp(name, "Id") == 0)
            saw_id = strcmp(jstr(f, "type"), "id") == 0;
        if (strcmp(name, "Status__c") == 0)
            saw_pick = strcmp(jstr(f, "picklistValues.1.value"), "Active") == 0 &&
                       json_object_get_boolean(jpath(f, "picklistValues.1.active"));
    }
    assert_true(saw_ext && saw_id && saw_pick);
    char lm[128], v[128];
    assert_true(header(&r, "Last-Modified", lm, sizeof lm));
    assert_true(header(&r, "Sforce-Limit-Info", v, sizeof v));
    assert_true(strncmp(v, "api-usage=", 10) == 0);
    resp_free(&r);
    char ims[200];
    snprintf(ims, sizeof ims, "If-Modified-Since: %s", lm);
    assert_int_equal(
        request("GET", SF "/sobjects/Project__c/describe", NULL, NULL, "Bearer " SF_TOKEN, ims, &r),
        304);
    resp_free(&r);
    assert_int_equal(request("GET", SF "/sobjects/Project__c/describe", NULL, NULL,
                             "Bearer " SF_TOKEN, "If-Modified-Since: Mon, 01 Jan 2001 00:00:00 GMT",
                             &r),
                     200);
    resp_free(&r);
    assert_int_equal(sf("GET", "/sobjects/Nope__c/describe", NULL, &r), 404);
    assert_str(jstr(r.json, "0.errorCode"), "NOT_FOUND");
    resp_free(&r);
    assert_int_equal(sf("GET", "/sobjects", NULL, &r), 200);
    assert_int_equal(jlen(r.json, "sobjects"), 2);
    resp_free(&r);
}

static void expect_sf_error(const char *method, const char *path, const char *body, long status,
                            const char *code, const char *field)
{
    struct resp r;
    long st = sf(method, path, body, &r);
    if (st != status)
        fprintf(stderr, "%s %s %s → %ld %s\n", method, path, body ? body : "", st,
                r.body ? r.body : "");
    assert_int_equal(st, status);
    assert_true(json_object_is_type(r.json, json_type_array));
    assert_str(jstr(r.json, "0.errorCode"), code);
    assert_non_null(jstr(r.json, "0.message"));
    if (field)
        assert_str(jstr(r.json, "0.fields.0"), field);
    resp_free(&r);
}

static void test_sf_crud_and_errors(void **state)
{
    NEED_SIM();
    struct resp r;
    assert_int_equal(sf("POST", "/sobjects/Project__c",
                        "{\"Name\":\"P & <1>\",\"External_Id__c\":\"E1\",\"Budget__c\":419,"
                        "\"Status__c\":\"Active\",\"Active__c\":true}",
                        &r),
                     201);
    assert_true(json_object_get_boolean(jpath(r.json, "success")));
    assert_int_equal(jlen(r.json, "errors"), 0);
    char id[32];
    snprintf(id, sizeof id, "%s", jstr(r.json, "id"));
    assert_int_equal(strlen(id), 18);
    assert_true(strncmp(id, "a01", 3) == 0);
    resp_free(&r);
    char path[256];
    snprintf(path, sizeof path, "/sobjects/Project__c/%s?fields=Name,Budget__c,SystemModstamp", id);
    assert_int_equal(sf("GET", path, NULL, &r), 200);
    assert_str(jstr(r.json, "attributes.type"), "Project__c");
    assert_non_null(strstr(jstr(r.json, "attributes.url"), id));
    assert_str(jstr(r.json, "Name"), "P & <1>");
    assert_true(strlen(jstr(r.json, "SystemModstamp")) == 28);
    assert_non_null(strstr(jstr(r.json, "SystemModstamp"), ".000+0000"));
    assert_null(jpath(r.json, "Status__c"));
    resp_free(&r);
    /* 15-character ids work too. */
    char id15[16];
    snprintf(id15, sizeof id15, "%.15s", id);
    snprintf(path, sizeof path, "/sobjects/Project__c/%s", id15);
    assert_int_equal(sf("GET", path, NULL, &r), 200);
    assert_str(jstr(r.json, "Id"), id);
    resp_free(&r);

    snprintf(path, sizeof path, "/sobjects/Project__c/%s", id);
    assert_int_equal(sf("PATCH", path, "{\"Budget__c\":500.5,\"Status__c\":null}", &r), 204);
    resp_free(&r);
    assert_int_equal(request("PATCH", SF "/sobjects/Project__c/a01000000000000AAA", "{}", NULL,
                             "Bearer " SF_TOKEN, NULL, &r),
                     404);
    resp_free(&r);

    expect_sf_error("POST", "/sobjects/Project__c", "{\"Name\":\"x\",\"Bogus__c\":1}", 400,
                    "INVALID_FIELD", NULL);
    expect_sf_error("POST", "/sobjects/Project__c", "{\"Name\":\"x\",\"Formula__c\":\"y\"}", 400,
                    "INVALID_FIELD_FOR_INSERT_UPDATE", "Formula__c");
    expect_sf_error("POST", "/sobjects/Project__c", "{\"Budget__c\":1}", 400,
                    "REQUIRED_FIELD_MISSING", "Name");
    expect_sf_error("POST", "/sobjects/Project__c",
                    "{\"Name\":\"x\",\"Code__c\":\"123456789012345678901\"}", 400,
                    "STRING_TOO_LONG", "Code__c");
    expect_sf_error("POST", "/sobjects/Project__c", "{\"Name\":\"x\",\"Status__c\":\"Nope\"}", 400,
                    "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST", "Status__c");
    expect_sf_error("POST", "/sobjects/Project__c", "{\"Name\":\"x\",\"External_Id__c\":\"E1\"}",
                    400, "DUPLICATE_VALUE", NULL);
    expect_sf_error("POST", "/sobjects/Project__c", "{\"Name\":\"x\",\"Account__c\":\"bad\"}", 400,
                    "MALFORMED_ID", "Account__c");
    expect_sf_error("PATCH", "/sobjects/Project__c/xyz", "{\"Name\":\"y\"}", 400, "MALFORMED_ID",
                    NULL);
    expect_sf_error("PATCH", path, "{\"Id\":\"a01\"}", 400, "INVALID_FIELD_FOR_INSERT_UPDATE",
                    "Id");
    expect_sf_error("POST", "/sobjects/Project__c", "{\"Name\":", 400, "JSON_PARSER_ERROR", NULL);

    assert_int_equal(sf("DELETE", path, NULL, &r), 204);
    resp_free(&r);
    expect_sf_error("GET", path, NULL, 404, "NOT_FOUND", NULL);
    expect_sf_error("PATCH", path, "{\"Name\":\"z\"}", 404, "ENTITY_IS_DELETED", NULL);
    expect_sf_error("DELETE", path, NULL, 404, "ENTITY_IS_DELETED", NULL);
}

/* The unique-value check looks values up in an index (store.c): it must still see duplicates
 * without case, forget values a record no longer holds (update, delete), and see again a value
 * that a rolled-back update restored. Also the control API's count of one field. */
static void test_sf_unique_index(void **state)
{
    NEED_SIM();
    struct resp r;
    char path[128], body[1024];
    const char *a = sf_create("{\"Name\":\"u1\",\"External_Id__c\":\"Uniq-A\"}");
    char ida[32];
    snprintf(ida, sizeof ida, "%s", a);
    /* case-insensitive: the field is not caseSensitive */
    expect_sf_error("POST", "/sobjects/Project__c",
                    "{\"Name\":\"x\",\"External_Id__c\":\"uniq-a\"}", 400, "DUPLICATE_VALUE", NULL);
    /* the record's own value is not a duplicate of itself */
    snprintf(path, sizeof path, "/sobjects/Project__c/%s", ida);
    assert_int_equal(sf("PATCH", path, "{\"External_Id__c\":\"UNIQ-A\"}", &r), 204);
    resp_free(&r);
    /* moved to another value: the old one is free, the new one taken */
    assert_int_equal(sf("PATCH", path, "{\"External_Id__c\":\"Uniq-B\"}", &r), 204);
    resp_free(&r);
    const char *c = sf_create("{\"Name\":\"u2\",\"External_Id__c\":\"Uniq-A\"}");
    char idc[32];
    snprintf(idc, sizeof idc, "%s", c);
    expect_sf_error("POST", "/sobjects/Project__c",
                    "{\"Name\":\"x\",\"External_Id__c\":\"Uniq-B\"}", 400, "DUPLICATE_VALUE", NULL);
    /* an update rolled back (allOrNone) gives the record its old value back: still taken */
    snprintf(body, sizeof body,
             "{\"allOrNone\":true,\"records\":[{\"attributes\":{\"type\":\"Project__c\"},"
             "\"id\":\"%s\",\"External_Id__c\":\"Uniq-C\"},{\"attributes\":{\"type\":"
             "\"Project__c\"},\"id\":\"%s\",\"Status__c\":\"Bad\"}]}",
             ida, idc);
    assert_int_equal(sf("PATCH", "/composite/sobjects", body, &r), 200);
    assert_str(jstr(r.json, "1.errors.0.statusCode"), "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST");
    resp_free(&r);
    expect_sf_error("POST", "/sobjects/Project__c",
                    "{\"Name\":\"x\",\"External_Id__c\":\"Uniq-B\"}", 400, "DUPLICATE_VALUE", NULL);
    sf_create("{\"Name\":\"u3\",\"External_Id__c\":\"Uniq-C\"}");
    /* a deleted record holds no value */
    assert_int_equal(sf("DELETE", path, NULL, &r), 204);
    resp_free(&r);
    sf_create("{\"Name\":\"u4\",\"External_Id__c\":\"Uniq-B\"}");

    /* the control API's count: live records, and those whose field starts with the prefix */
    assert_int_equal(
        ctl("GET", "/_sim/salesforce/Project__c/count?field=External_Id__c&prefix=Uniq-", NULL, &r),
        200);
    assert_int_equal(jint(r.json, "matched"), 3);
    assert_int_equal(jint(r.json, "total"), 3);
    resp_free(&r);
    assert_int_equal(ctl("GET",
                         "/_sim/salesforce/Project__c/count?field=External_Id__c&prefix=Uniq-C",
                         NULL, &r),
                     200);
    assert_int_equal(jint(r.json, "matched"), 1);
    resp_free(&r);
    assert_int_equal(ctl("GET", "/_sim/salesforce/Project__c/count?field=Name", NULL, &r), 400);
    resp_free(&r);
    assert_int_equal(ctl("GET", "/_sim/salesforce/Nope__c/count?field=Name&prefix=", NULL, &r),
                     404);
    resp_free(&r);
    hs_create("{\"name\":\"h1\"}");
    hs_create("{\"name\":\"h2\"}");
    assert_int_equal(ctl("GET", "/_sim/hubspot/" PROJECTS "/count?field=name&prefix=h1", NULL, &r),
                     200);
    assert_int_equal(jint(r.json, "matched"), 1);
    assert_int_equal(jint(r.json, "total"), 2);
    resp_free(&r);

    /* HubSpot's unique property: taken (409), freed by a change, found by idProperty */
    const char *h = hs_create("{\"name\":\"h3\",\"salesforce_id\":\"UQ1\"}");
    char idh[32];
    snprintf(idh, sizeof idh, "%s", h);
    assert_int_equal(hs("POST", "/crm/v3/objects/" PROJECTS,
                        "{\"properties\":{\"name\":\"x\",\"salesforce_id\":\"UQ1\"}}", &r),
                     409);
    resp_free(&r);
    snprintf(path, sizeof path, "/crm/v3/objects/" PROJECTS "/%s", idh);
    assert_int_equal(hs("PATCH", path, "{\"properties\":{\"salesforce_id\":\"UQ2\"}}", &r), 200);
    resp_free(&r);
    assert_int_equal(
        hs("GET", "/crm/v3/objects/" PROJECTS "/UQ2?idProperty=salesforce_id", NULL, &r), 200);
    assert_str(jstr(r.json, "id"), idh);
    resp_free(&r);
    assert_int_equal(
        hs("GET", "/crm/v3/objects/" PROJECTS "/UQ1?idProperty=salesforce_id", NULL, &r), 404);
    resp_free(&r);
    hs_create("{\"name\":\"h4\",\"salesforce_id\":\"UQ1\"}");
}

static void test_sf_upsert(void **state)
{
    NEED_SIM();
    struct resp r;
    assert_int_equal(
        sf("PATCH", "/sobjects/Project__c/External_Id__c/X-1", "{\"Name\":\"Up\"}", &r), 201);
    assert_true(json_object_get_boolean(jpath(r.json, "created")));
    char id[32];
    snprintf(id, sizeof id, "%s", jstr(r.json, "id"));
    resp_free(&r);
    assert_int_equal(
        sf("PATCH", "/sobjects/Project__c/External_Id__c/X-1", "{\"Name\":\"Up2\"}", &r), 200);
    assert_false(json_object_get_boolean(jpath(r.json, "created")));
    assert_str(jstr(r.json, "id"), id);
    resp_free(&r);
    /* Older API versions answer 204 for an update. */
    assert_int_equal(request("PATCH", "/services/data/v45.0/sobjects/Project__c/External_Id__c/X-1",
                             "{\"Name\":\"Up3\"}", NULL, "Bearer " SF_TOKEN, NULL, &r),
                     204);
    resp_free(&r);
    /* Two records share a non-unique external id: 300 with their URLs. */
    sf_create("{\"Name\":\"c1\",\"Code__c\":\"SAME\"}");
    sf_create("{\"Name\":\"c2\",\"Code__c\":\"SAME\"}");
    assert_int_equal(sf("PATCH", "/sobjects/Project__c/Code__c/SAME", "{\"Name\":\"c3\"}", &r),
                     300);
    assert_int_equal(jlen(r.json, NULL), 2);
    assert_non_null(strstr(json_object_get_string(json_object_array_get_idx(r.json, 0)),
                           "/sobjects/Project__c/a01"));
    resp_free(&r);
    expect_sf_error("PATCH", "/sobjects/Project__c/Name/x", "{}", 404, "NOT_FOUND", NULL);
    expect_sf_error("PATCH", "/sobjects/Project__c/External_Id__c/X-2",
                    "{\"External_Id__c\":\"X-2\",\"Name\":\"n\"}", 400, "INVALID_FIELD", NULL);
}

static void test_sf_collections(void **state)
{
    NEED_SIM();
    struct resp r;
    assert_int_equal(
        sf("POST", "/composite/sobjects",
           "{\"allOrNone\":false,\"records\":[{\"attributes\":{\"type\":\"Project__c\"},\"Name\":"
           "\"k1\"},"
           "{\"attributes\":{\"type\":\"Project__c\"},\"Name\":\"k2\",\"Status__c\":\"Bad\"},"
           "{\"attributes\":{\"type\":\"Project__c\"},\"Name\":\"k3\"}]}",
           &r),
        200);
    assert_int_equal(jlen(r.json, NULL), 3);
    assert_true(json_object_get_boolean(jpath(r.json, "0.success")));
    assert_false(json_object_get_boolean(jpath(r.json, "1.success")));
    assert_str(jstr(r.json, "1.errors.0.statusCode"), "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST");
    assert_str(jstr(r.json, "1.errors.0.fields.0"), "Status__c");
    assert_true(json_object_get_boolean(jpath(r.json, "2.success")));
    char id1[32], id3[32];
    snprintf(id1, sizeof id1, "%s", jstr(r.json, "0.id"));
    snprintf(id3, sizeof id3, "%s", jstr(r.json, "2.id"));
    resp_free(&r);

    /* allOrNone: one failure rolls back everything. */
    assert_int_equal(sf("POST", "/composite/sobjects",
                        "{\"allOrNone\":true,\"records\":[{\"attributes\":{\"type\":\"Project__c\"}"
                        ",\"Name\":\"a1\"},"
                        "{\"attributes\":{\"type\":\"Project__c\"},\"Status__c\":\"Active\"}]}",
                        &r),
                     200);
    assert_str(jstr(r.json, "0.errors.0.statusCode"), "ALL_OR_NONE_OPERATION_ROLLED_BACK");
    assert_str(jstr(r.json, "1.errors.0.statusCode"), "REQUIRED_FIELD_MISSING");
    resp_free(&r);
    assert_int_equal(sf("GET", "/query?q=SELECT+COUNT()+FROM+Project__c", NULL, &r), 200);
    assert_int_equal(jint(r.json, "totalSize"), 2);
    assert_int_equal(jlen(r.json, "records"), 0);
    resp_free(&r);

    /* Update collection with a bad id. */
    char body[1024];
    snprintf(
        body, sizeof body,
        "{\"records\":[{\"attributes\":{\"type\":\"Project__c\"},\"id\":\"%s\",\"Name\":\"k1b\"},"
        "{\"attributes\":{\"type\":\"Project__c\"},\"id\":\"bad\",\"Name\":\"x\"}]}",
        id1);
    assert_int_equal(sf("PATCH", "/composite/sobjects", body, &r), 200);
    assert_true(json_object_get_boolean(jpath(r.json, "0.success")));
    assert_str(jstr(r.json, "1.errors.0.statusCode"), "MALFORMED_ID");
    resp_free(&r);
    /* Upsert collection by external id. */
    assert_int_equal(
        sf("PATCH", "/composite/sobjects/Project__c/External_Id__c",
           "{\"allOrNone\":false,\"records\":[{\"attributes\":{\"type\":\"Project__c\"},"
           "\"External_Id__c\":\"U1\",\"Name\":\"u1\"}]}",
           &r),
        200);
    assert_true(json_object_get_boolean(jpath(r.json, "0.created")));
    resp_free(&r);
    assert_int_equal(sf("PATCH", "/composite/sobjects/Project__c/External_Id__c",
                        "{\"records\":[{\"attributes\":{\"type\":\"Project__c\"},"
                        "\"External_Id__c\":\"U1\",\"Name\":\"u1b\"}]}",
                        &r),
                     200);
    assert_false(json_object_get_boolean(jpath(r.json, "0.created")));
    resp_free(&r);
    /* Delete collection, results in request order. */
    snprintf(body, sizeof body, "/composite/sobjects?ids=%s,bad,%s&allOrNone=false", id3, id1);
    assert_int_equal(sf("DELETE", body, NULL, &r), 200);
    assert_str(jstr(r.json, "0.id"), id3);
    assert_true(json_object_get_boolean(jpath(r.json, "0.success")));
    assert_str(jstr(r.json, "1.errors.0.statusCode"), "MALFORMED_ID");
    assert_str(jstr(r.json, "2.id"), id1);
    resp_free(&r);
    /* More than 200 records. */
    size_t cap = 201 * 64 + 64, o = 0;
    char *big = malloc(cap);
    o += (size_t)snprintf(big, cap, "{\"records\":[");
    for (int i = 0; i < 201; i++)
        o += (size_t)snprintf(big + o, cap - o,
                              "%s{\"attributes\":{\"type\":\"Project__c\"},\"Name\":\"b\"}",
                              i ? "," : "");
    snprintf(big + o, cap - o, "]}");
    expect_sf_error("POST", "/composite/sobjects", big, 400, "EXCEEDED_ID_LIMIT", NULL);
    free(big);
}

static void test_sf_query(void **state)
{
    NEED_SIM();
    config("{\"salesforce_query_page_size\":2}");
    char ids[5][32];
    for (int i = 0; i < 5; i++) {
        char body[128];
        snprintf(body, sizeof body, "{\"Name\":\"q%d\",\"Budget__c\":%d}", i, i * 100);
        snprintf(ids[i], sizeof ids[i], "%s", sf_create(body));
    }
    struct resp r;
    assert_int_equal(
        sf("GET", "/query?q=SELECT+Id,+Name,+Budget__c+FROM+Project__c+ORDER+BY+Budget__c+DESC",
           NULL, &r),
        200);
    assert_int_equal(jint(r.json, "totalSize"), 5);
    assert_false(json_object_get_boolean(jpath(r.json, "done")));
    assert_int_equal(jlen(r.json, "records"), 2);
    assert_str(jstr(r.json, "records.0.Name"), "q4");
    assert_str(jstr(r.json, "records.0.attributes.type"), "Project__c");
    char next[256];
    snprintf(next, sizeof next, "%s", jstr(r.json, "nextRecordsUrl"));
    assert_true(strncmp(next, SF "/query/01g", strlen(SF "/query/01g")) == 0);
    assert_non_null(strstr(next, "-2"));
    resp_free(&r);
    int seen = 2, pages = 1;
    while (next[0]) {
        assert_int_equal(request("GET", next, NULL, NULL, "Bearer " SF_TOKEN, NULL, &r), 200);
        seen += (int)jlen(r.json, "records");
        pages++;
        const char *n = jstr(r.json, "nextRecordsUrl");
        snprintf(next, sizeof next, "%s", n ? n : "");
        if (!n)
            assert_true(json_object_get_boolean(jpath(r.json, "done")));
        resp_free(&r);
    }
    assert_int_equal(seen, 5);
    assert_int_equal(pages, 3);
    expect_sf_error("GET", "/query/01gAAAAAAAAAAAAAAA-2", NULL, 400, "INVALID_QUERY_LOCATOR", NULL);

    /* WHERE forms. */
    char q[512];
    snprintf(q, sizeof q, "/query?q=SELECT+Name+FROM+Project__c+WHERE+Id+IN+('%s','%.15s')", ids[0],
             ids[1]);
    assert_int_equal(sf("GET", q, NULL, &r), 200);
    assert_int_equal(jint(r.json, "totalSize"), 2);
    resp_free(&r);
    /* An Id IN term narrows the scan by id (salesforce_query.c); the rest of the condition still
     * decides, and an Id IN under OR narrows nothing. */
    snprintf(q, sizeof q,
             "/query?q=SELECT+Name+FROM+Project__c+WHERE+Budget__c+>=+100+AND+id+IN+('%s','%.15s',"
             "'%s')+ORDER+BY+Name+DESC",
             ids[0], ids[1], ids[2]);
    assert_int_equal(sf("GET", q, NULL, &r), 200);
    assert_int_equal(jint(r.json, "totalSize"), 2);
    assert_str(jstr(r.json, "records.0.Name"), "q2");
    assert_str(jstr(r.json, "records.1.Name"), "q1");
    resp_free(&r);
    snprintf(q, sizeof q,
             "/query?q=SELECT+Name+FROM+Project__c+WHERE+Id+IN+('%s')+OR+Name+=+'q3'+ORDER+BY+Name",
             ids[4]);
    assert_int_equal(sf("GET", q, NULL, &r), 200);
    assert_int_equal(jint(r.json, "totalSize"), 2);
    assert_str(jstr(r.json, "records.0.Name"), "q3");
    assert_str(jstr(r.json, "records.1.Name"), "q4");
    resp_free(&r);
    assert_int_equal(
        sf("GET", "/query?q=SELECT+Name+FROM+Project__c+WHERE+Name+=+'Q1'+OR+Budget__c+>=+400",
           NULL, &r),
        200);
    assert_int_equal(jint(r.json, "totalSize"), 2);
    resp_free(&r);
    assert_int_equal(
        sf("GET", "/query?q=SELECT+Name+FROM+Project__c+WHERE+Status__c+!=+null", NULL, &r), 200);
    assert_int_equal(jint(r.json, "totalSize"), 0);
    resp_free(&r);
    assert_int_equal(sf("GET",
                        "/query?q=SELECT+Name+FROM+Project__c+WHERE+SystemModstamp+>+2020-01-01T00:"
                        "00:00Z+AND+Budget__c+<+200+LIMIT+1",
                        NULL, &r),
                     200);
    assert_int_equal(jint(r.json, "totalSize"), 1);
    resp_free(&r);
    assert_int_equal(
        sf("GET", "/query?q=SELECT+COUNT()+FROM+Project__c+WHERE+Budget__c+>+100", NULL, &r), 200);
    assert_int_equal(jint(r.json, "totalSize"), 3);
    assert_true(json_object_get_boolean(jpath(r.json, "done")));
    resp_free(&r);
    /* queryAll sees deleted rows. */
    char path[128];
    snprintf(path, sizeof path, "/sobjects/Project__c/%s", ids[0]);
    assert_int_equal(sf("DELETE", path, NULL, &r), 204);
    resp_free(&r);
    assert_int_equal(sf("GET", "/query?q=SELECT+COUNT()+FROM+Project__c", NULL, &r), 200);
    assert_int_equal(jint(r.json, "totalSize"), 4);
    resp_free(&r);
    assert_int_equal(sf("GET",
                        "/queryAll?q=SELECT+Id,IsDeleted+FROM+Project__c+WHERE+IsDeleted+=+true",
                        NULL, &r),
                     200);
    assert_int_equal(jint(r.json, "totalSize"), 1);
    assert_true(json_object_get_boolean(jpath(r.json, "records.0.IsDeleted")));
    resp_free(&r);
    /* Errors. */
    expect_sf_error("GET", "/query?q=SELECT+FROM+Project__c", NULL, 400, "MALFORMED_QUERY", NULL);
    expect_sf_error("GET", "/query?q=SELECT+Nope__c+FROM+Project__c", NULL, 400, "INVALID_FIELD",
                    NULL);
    expect_sf_error("GET", "/query?q=SELECT+Id+FROM+Nope__c", NULL, 400, "INVALID_TYPE", NULL);
    expect_sf_error("GET", "/query?q=SELECT+Id+FROM+Project__c+WHERE+SystemModstamp+>+'2024-01-01'",
                    NULL, 400, "INVALID_QUERY_FILTER_OPERATOR", NULL);
    expect_sf_error(
        "GET", "/query?q=SELECT+Id+FROM+Project__c+WHERE+Name+=+'a'+AND+Name+=+'b'+OR+Name+=+'c'",
        NULL, 400, "MALFORMED_QUERY", NULL);
}

static void test_sf_updated_deleted(void **state)
{
    NEED_SIM();
    time_t t0 = time(NULL) - 60;
    const char *id = sf_create("{\"Name\":\"w1\"}");
    char keep[32];
    snprintf(keep, sizeof keep, "%s", id);
    const char *gone = sf_create("{\"Name\":\"w2\"}");
    char path[256];
    snprintf(path, sizeof path, "/sobjects/Project__c/%s", gone);
    struct resp r;
    assert_int_equal(sf("DELETE", path, NULL, &r), 204);
    resp_free(&r);
    char start[32], end[32];
    struct tm tm;
    gmtime_r(&t0, &tm);
    strftime(start, sizeof start, "%Y-%m-%dT%H:%M:%SZ", &tm);
    time_t t1 = time(NULL) + 60;
    gmtime_r(&t1, &tm);
    strftime(end, sizeof end, "%Y-%m-%dT%H:%M:%SZ", &tm);
    snprintf(path, sizeof path, "/sobjects/Project__c/updated/?start=%s&end=%s", start, end);
    assert_int_equal(sf("GET", path, NULL, &r), 200);
    assert_int_equal(jlen(r.json, "ids"), 1);
    assert_str(jstr(r.json, "ids.0"), keep);
    assert_non_null(jstr(r.json, "latestDateCovered"));
    resp_free(&r);
    snprintf(path, sizeof path, "/sobjects/Project__c/deleted/?start=%s&end=%s", start, end);
    assert_int_equal(sf("GET", path, NULL, &r), 200);
    assert_int_equal(jlen(r.json, "deletedRecords"), 1);
    assert_non_null(jstr(r.json, "deletedRecords.0.deletedDate"));
    assert_non_null(jstr(r.json, "earliestDateAvailable"));
    resp_free(&r);
    expect_sf_error(
        "GET", "/sobjects/Project__c/updated/?start=2001-01-01T00:00:00Z&end=2001-01-02T00:00:00Z",
        NULL, 400, "INVALID_REPLICATION_DATE", NULL);
    expect_sf_error("GET", "/sobjects/Project__c/updated/", NULL, 400, "MISSING_ARGUMENT", NULL);
}

static void test_sf_limits(void **state)
{
    NEED_SIM();
    config("{\"salesforce_api_usage_max\":3}");
    struct resp r;
    char v[64];
    assert_int_equal(sf("GET", "/limits", NULL, &r), 200);
    assert_true(header(&r, "Sforce-Limit-Info", v, sizeof v));
    assert_str(v, "api-usage=1/3");
    resp_free(&r);
    sf("GET", "/limits", NULL, &r);
    resp_free(&r);
    sf("GET", "/limits", NULL, &r);
    resp_free(&r);
    expect_sf_error("GET", "/limits", NULL, 403, "REQUEST_LIMIT_EXCEEDED", NULL);
    ctl_ok("POST", "/_sim/salesforce/api-usage", "{\"used\":0}");
    assert_int_equal(sf("GET", "/limits", NULL, &r), 200);
    assert_int_equal(jint(r.json, "DailyApiRequests.Max"), 3);
    resp_free(&r);
}

/* ---------------------------------------------------------------- faults and stats */

static void test_faults(void **state)
{
    NEED_SIM();
    struct resp r;
    assert_int_equal(ctl("POST", "/_sim/faults",
                         "{\"match\":\"GET /crm/v3/objects\",\"status\":503,\"count\":2}", &r),
                     201);
    resp_free(&r);
    assert_int_equal(hs("GET", "/crm/v3/objects/" PROJECTS, NULL, &r), 503);
    assert_str(jstr(r.json, "status"), "error");
    resp_free(&r);
    assert_int_equal(hs("GET", "/crm/v3/objects/" PROJECTS, NULL, &r), 503);
    resp_free(&r);
    assert_int_equal(hs("GET", "/crm/v3/objects/" PROJECTS, NULL, &r), 200);
    resp_free(&r);
    /* Custom body, Salesforce path, method wildcard. */
    assert_int_equal(
        ctl("POST", "/_sim/faults",
            "{\"match\":\"* /services/data\",\"status\":500,\"body\":[{\"message\":\"boom\","
            "\"errorCode\":\"UNABLE_TO_LOCK_ROW\"}],\"count\":1}",
            &r),
        201);
    resp_free(&r);
    expect_sf_error("GET", "/limits", NULL, 500, "UNABLE_TO_LOCK_ROW", NULL);
    /* Latency. */
    ctl_ok("POST", "/_sim/faults",
           "{\"match\":\"GET /services/data\",\"latency_ms\":250,\"count\":1}");
    double t0 = now_s();
    assert_int_equal(sf("GET", "/limits", NULL, &r), 200);
    assert_true(now_s() - t0 >= 0.24);
    resp_free(&r);
    /* Timeout: the connection is held, then dropped without an answer. */
    config("{\"fault_timeout_ms\":300}");
    ctl_ok("POST", "/_sim/faults", "{\"match\":\"GET /crm\",\"timeout\":true,\"count\":1}");
    assert_int_equal(hs("GET", "/crm/v3/objects/" PROJECTS, NULL, &r), 0);
    resp_free(&r);
    /* body_contains: only calls whose body holds the text are faulted. */
    ctl_ok("POST", "/_sim/faults",
           "{\"match\":\"POST /crm/v3/objects\",\"body_contains\":\"\\\"id\\\":\\\"424242\\\"\","
           "\"status\":400}");
    assert_int_equal(hs("POST", "/crm/v3/objects/" PROJECTS "/batch/read",
                        "{\"inputs\":[{\"id\":\"4242\"}]}", &r),
                     404);
    resp_free(&r);
    assert_int_equal(hs("POST", "/crm/v3/objects/" PROJECTS "/batch/read",
                        "{\"inputs\":[{\"id\":\"4242\"},{\"id\":\"424242\"}]}", &r),
                     400);
    resp_free(&r);
    ctl("GET", "/_sim/faults", NULL, &r);
    assert_str(jstr(r.json, "faults.0.body_contains"), "\"id\":\"424242\"");
    resp_free(&r);
    ctl_ok("DELETE", "/_sim/faults", NULL);
    assert_int_equal(ctl("POST", "/_sim/faults",
                         "{\"match\":\"GET /crm\",\"status\":500,\"body_contains\":\"\"}", &r),
                     400);
    resp_free(&r);
    /* rate 0 never fires; listing and clearing. */
    ctl_ok("POST", "/_sim/faults", "{\"match\":\"GET /crm\",\"status\":500,\"rate\":0}");
    assert_int_equal(hs("GET", "/crm/v3/objects/" PROJECTS, NULL, &r), 200);
    resp_free(&r);
    ctl("GET", "/_sim/faults", NULL, &r);
    assert_int_equal(jlen(r.json, "faults"), 1);
    resp_free(&r);
    ctl_ok("DELETE", "/_sim/faults", NULL);
    assert_int_equal(ctl("POST", "/_sim/faults", "{\"match\":\"nonsense\"}", &r), 400);
    assert_non_null(jstr(r.json, "error"));
    resp_free(&r);
    /* The faults show up in stats. */
    ctl("GET", "/_sim/stats", NULL, &r);
    assert_int_equal(jint(r.json, "callsByRoute.GET /crm/v3/objects/{type}.503"), 2);
    resp_free(&r);
}

static void test_stats(void **state)
{
    NEED_SIM();
    ctl_ok("POST", "/_sim/stats/reset", NULL);
    const char *body = "{\"properties\":{\"name\":\"stat\"}}";
    struct resp r;
    assert_int_equal(request("POST", "/crm/v3/objects/" PROJECTS "?x=1", body, NULL,
                             "Bearer " HS_TOKEN, "X-Trace: abc", &r),
                     201);
    resp_free(&r);
    hs("GET", "/crm/v3/objects/" PROJECTS "/0", NULL, &r);
    resp_free(&r);
    assert_int_equal(ctl("GET", "/_sim/stats?path_prefix=/crm&limit=10", NULL, &r), 200);
    assert_int_equal(jint(r.json, "callsByRoute.POST /crm/v3/objects/{type}.201"), 1);
    assert_int_equal(jint(r.json, "callsByRoute.GET /crm/v3/objects/{type}/{id}.404"), 1);
    json_object *reqs = jpath(r.json, "recentRequests");
    assert_int_equal(jlen(reqs, NULL), 2);
    json_object *first = json_object_array_get_idx(reqs, 0);
    assert_str(jstr(first, "method"), "POST");
    assert_str(jstr(first, "path"), "/crm/v3/objects/" PROJECTS);
    assert_str(jstr(first, "query"), "x=1");
    assert_str(jstr(first, "body"), body);
    assert_str(jstr(first, "headers.X-Trace"), "abc");
    assert_null(jpath(first, "headers.Authorization"));
    assert_int_equal(jint(first, "status"), 201);
    resp_free(&r);
    /* Token forms are recorded with their secrets masked. */
    request("POST", "/oauth/v1/token",
            "grant_type=refresh_token&client_id=sim-client-id&client_secret=sim-client-secret&"
            "refresh_token=sim-refresh-token",
            "application/x-www-form-urlencoded", NULL, NULL, &r);
    resp_free(&r);
    ctl("GET", "/_sim/stats?path_prefix=/oauth", NULL, &r);
    assert_str(
        jstr(r.json, "recentRequests.0.body"),
        "grant_type=refresh_token&client_id=sim-client-id&client_secret=***&refresh_token=***");
    assert_null(strstr(r.body, "sim-client-secret"));
    resp_free(&r);
    /* Control calls are not recorded. */
    ctl_ok("POST", "/_sim/stats/reset", NULL);
    ctl("GET", "/_sim/stats", NULL, &r);
    assert_int_equal(jlen(r.json, "recentRequests"), 0);
    resp_free(&r);
}

/* ---------------------------------------------------------------- delivery receivers */

#define RX_MAX 32

struct receiver {
    struct MHD_Daemon *d;
    int port;
    pthread_mutex_t lock;
    int fail_first; /* answer this many requests with a failure */
    bool outbound;  /* answer SOAP acks */
    char *bodies[RX_MAX];
    char paths[RX_MAX][256];
    int n;
    int bad_signatures;
    char secret[64];
};

struct rx_conn {
    char *body;
    size_t len;
};

static enum MHD_Result rx_handler(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *data,
                                  size_t *size, void **con_cls)
{
    struct receiver *rx = cls;
    struct rx_conn *cc = *con_cls;
    if (!cc) {
        cc = calloc(1, sizeof *cc);
        *con_cls = cc;
        return MHD_YES;
    }
    if (*size) {
        char *nb = realloc(cc->body, cc->len + *size + 1);
        if (!nb)
            return MHD_NO;
        cc->body = nb;
        memcpy(cc->body + cc->len, data, *size);
        cc->len += *size;
        cc->body[cc->len] = '\0';
        *size = 0;
        return MHD_YES;
    }
    pthread_mutex_lock(&rx->lock);
    int idx = rx->n;
    if (rx->n < RX_MAX) {
        rx->bodies[rx->n] = cc->body ? strdup(cc->body) : strdup("");
        snprintf(rx->paths[rx->n], sizeof rx->paths[rx->n], "%s", url);
        rx->n++;
    }
    if (!rx->outbound) {
        /* v1: hex(SHA-256(secret + body)) */
        const char *sig = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-HubSpot-Signature");
        const char *ver =
            MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-HubSpot-Signature-Version");
        unsigned char md[32];
        EVP_MD_CTX *ctx = EVP_MD_CTX_new();
        EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
        EVP_DigestUpdate(ctx, rx->secret, strlen(rx->secret));
        EVP_DigestUpdate(ctx, cc->body ? cc->body : "", cc->len);
        unsigned int mdlen = 0;
        EVP_DigestFinal_ex(ctx, md, &mdlen);
        EVP_MD_CTX_free(ctx);
        char hex[65];
        for (int i = 0; i < 32; i++)
            snprintf(hex + 2 * i, 3, "%02x", md[i]);
        if (!sig || strcmp(sig, hex) != 0 || !ver || strcmp(ver, "v1") != 0 ||
            !MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-HubSpot-Signature-v3") ||
            !MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-HubSpot-Request-Timestamp"))
            rx->bad_signatures++;
    }
    bool fail = idx < rx->fail_first;
    pthread_mutex_unlock(&rx->lock);
    const char *text;
    unsigned status;
    if (rx->outbound) {
        status = 200;
        text =
            fail ? "<soapenv:Envelope xmlns:soapenv=\"http://schemas.xmlsoap.org/soap/envelope/\">"
                   "<soapenv:Body><notificationsResponse xmlns=\"http://soap.sforce.com/2005/09/"
                   "outbound\"><Ack>false</Ack></notificationsResponse></soapenv:Body>"
                   "</soapenv:Envelope>"
                 : "<e:Envelope xmlns:e=\"http://schemas.xmlsoap.org/soap/envelope/\"><e:Body>"
                   "<o:notificationsResponse xmlns:o=\"http://soap.sforce.com/2005/09/outbound\">"
                   "<o:Ack>true</o:Ack></o:notificationsResponse></e:Body></e:Envelope>";
    } else {
        status = fail ? 500 : 204;
        text = "";
    }
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(strlen(text), (void *)text, MHD_RESPMEM_PERSISTENT);
    enum MHD_Result ret = MHD_queue_response(c, status, resp);
    MHD_destroy_response(resp);
    return ret;
}

static void rx_done(void *cls, struct MHD_Connection *c, void **con_cls,
                    enum MHD_RequestTerminationCode toe)
{
    struct rx_conn *cc = *con_cls;
    if (cc) {
        free(cc->body);
        free(cc);
        *con_cls = NULL;
    }
}

static void rx_start(struct receiver *rx)
{
    pthread_mutex_init(&rx->lock, NULL);
    rx->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION, 0,
                             NULL, NULL, rx_handler, rx, MHD_OPTION_NOTIFY_COMPLETED, rx_done, rx,
                             MHD_OPTION_END);
    assert_non_null(rx->d);
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(rx->d, MHD_DAEMON_INFO_BIND_PORT);
    assert_non_null(info);
    rx->port = info->port;
}

static void rx_stop(struct receiver *rx)
{
    MHD_stop_daemon(rx->d);
    for (int i = 0; i < rx->n && i < RX_MAX; i++)
        free(rx->bodies[i]);
    pthread_mutex_destroy(&rx->lock);
}

static int rx_wait(struct receiver *rx, int n, int timeout_ms)
{
    for (int waited = 0; waited < timeout_ms; waited += 20) {
        pthread_mutex_lock(&rx->lock);
        int have = rx->n;
        pthread_mutex_unlock(&rx->lock);
        if (have >= n)
            return have;
        sleep_ms(20);
    }
    pthread_mutex_lock(&rx->lock);
    int have = rx->n;
    pthread_mutex_unlock(&rx->lock);
    return have;
}

static json_object *find_event(json_object *events, const char *type, const char *prop)
{
    for (size_t i = 0; i < jlen(events, NULL); i++) {
        json_object *e = json_object_array_get_idx(events, i);
        if (strcmp(jstr(e, "subscriptionType"), type) == 0 &&
            (!prop || (jstr(e, "propertyName") && strcmp(jstr(e, "propertyName"), prop) == 0)))
            return e;
    }
    return NULL;
}

static void test_webhooks(void **state)
{
    NEED_SIM();
    struct receiver rx;
    memset(&rx, 0, sizeof rx);
    snprintf(rx.secret, sizeof rx.secret, "whsec-test");
    rx.fail_first = 1;
    rx_start(&rx);
    char cfg[512];
    snprintf(cfg, sizeof cfg,
             "{\"hubspot_webhook_url\":\"http://127.0.0.1:%d/hooks/hubspot?x=1\","
             "\"hubspot_client_secret\":\"whsec-test\",\"webhook_flush_ms\":50,"
             "\"webhook_retry_base_ms\":100,\"hubspot_app_id\":777}",
             rx.port);
    config(cfg);
    const char *id = hs_create("{\"name\":\"hooked\",\"budget\":\"5\"}");
    char rid[32];
    snprintf(rid, sizeof rid, "%s", id);
    assert_int_equal(rx_wait(&rx, 2, 5000), 2);
    json_object *first = json_tokener_parse(rx.bodies[0]);
    json_object *second = json_tokener_parse(rx.bodies[1]);
    assert_true(json_object_is_type(first, json_type_array));
    assert_true(jlen(first, NULL) >= 3); /* creation + two propertyChange events */
    assert_true(jlen(first, NULL) < 100);
    json_object *creation = find_event(first, "object.creation", NULL);
    assert_non_null(creation);
    assert_int_equal(jint(creation, "attemptNumber"), 0);
    assert_int_equal(jint(creation, "objectId"), atoll(rid));
    assert_str(jstr(creation, "objectTypeId"), PROJECTS);
    assert_str(jstr(creation, "changeSource"), "INTEGRATION");
    assert_str(jstr(creation, "sourceId"),
               "777"); /* the writing token's app (static: configured) */
    assert_int_equal(jint(creation, "portalId"), 12345678);
    assert_int_equal(jint(creation, "appId"), 777);
    assert_true(jint(creation, "occurredAt") > 1600000000000LL);
    assert_true(jint(creation, "eventId") > 0);
    assert_true(jint(creation, "subscriptionId") > 0);
    json_object *budget = find_event(first, "object.propertyChange", "budget");
    assert_non_null(budget);
    assert_str(jstr(budget, "propertyValue"), "5");
    /* The retry carries the same events with attemptNumber 1. */
    json_object *retry = find_event(second, "object.creation", NULL);
    assert_non_null(retry);
    assert_int_equal(jint(retry, "attemptNumber"), 1);
    assert_int_equal(jint(retry, "eventId"), jint(creation, "eventId"));
    assert_str(rx.paths[0], "/hooks/hubspot");
    json_object_put(first);
    json_object_put(second);

    /* A change made as a user in the CRM: CRM_UI, one event per changed property. */
    char path[256];
    snprintf(path, sizeof path, "/_sim/hubspot/" PROJECTS "/records/%s", rid);
    ctl_ok("PATCH", path, "{\"properties\":{\"budget\":\"6\",\"name\":\"hooked\"}}");
    assert_int_equal(rx_wait(&rx, 3, 5000), 3);
    json_object *third = json_tokener_parse(rx.bodies[2]);
    assert_int_equal(jlen(third, NULL), 1); /* name did not change */
    assert_str(jstr(third, "0.subscriptionType"), "object.propertyChange");
    assert_str(jstr(third, "0.changeSource"), "CRM_UI");
    assert_str(jstr(third, "0.propertyName"), "budget");
    assert_str(jstr(third, "0.propertyValue"), "6");
    json_object_put(third);
    /* Deletion. */
    ctl_ok("DELETE", path, NULL);
    assert_int_equal(rx_wait(&rx, 4, 5000), 4);
    json_object *fourth = json_tokener_parse(rx.bodies[3]);
    assert_str(jstr(fourth, "0.subscriptionType"), "object.deletion");
    json_object_put(fourth);
    assert_int_equal(rx.bad_signatures, 0);

    /* Merge and association changes; a long batching window released by a flush. */
    struct resp r;
    config("{\"webhook_flush_ms\":60000}");
    char a[32], b[32], body[256];
    snprintf(a, sizeof a, "%s", hs_create("{\"name\":\"m1\"}"));
    snprintf(b, sizeof b, "%s", hs_create("{\"name\":\"m2\",\"budget\":\"9\"}"));
    snprintf(body, sizeof body, "{\"primaryObjectId\":\"%s\",\"objectIdToMerge\":\"%s\"}", a, b);
    assert_int_equal(hs("POST", "/crm/v3/objects/" PROJECTS "/merge", body, &r), 200);
    assert_str(jstr(r.json, "properties.budget"), "9");
    resp_free(&r);
    snprintf(path, sizeof path, "/crm/v4/objects/" PROJECTS "/%s/associations/default/0-2/501", a);
    assert_int_equal(hs("PUT", path, NULL, &r), 200);
    resp_free(&r);
    sleep_ms(150);
    assert_int_equal(rx_wait(&rx, 5, 10), 4);
    ctl("GET", "/_sim/deliveries", NULL, &r);
    assert_true(jlen(r.json, "webhook.pendingEvents") >= 5);
    resp_free(&r);
    ctl_ok("POST", "/_sim/deliveries/flush", NULL);
    assert_int_equal(rx_wait(&rx, 5, 5000), 5);
    json_object *fifth = json_tokener_parse(rx.bodies[4]);
    json_object *merge = find_event(fifth, "object.merge", NULL);
    assert_non_null(merge);
    assert_int_equal(jint(merge, "primaryObjectId"), atoll(a));
    assert_int_equal(jint(merge, "mergedObjectIds.0"), atoll(b));
    json_object *assoc = find_event(fifth, "object.associationChange", NULL);
    assert_non_null(assoc);
    assert_int_equal(jint(assoc, "fromObjectId"), atoll(a));
    assert_int_equal(jint(assoc, "toObjectId"), 501);
    assert_int_equal(jint(assoc, "associationTypeId"), 101);
    assert_false(json_object_get_boolean(jpath(assoc, "associationRemoved")));
    json_object_put(fifth);

    /* the receiver has the body before the sender has read the answer and
     * counted the ack: wait (bounded) for the counter */
    for (int i = 0; i < 200; i++) {
        ctl("GET", "/_sim/stats", NULL, &r);
        if (jint(r.json, "deliveries.webhook.acked") >= 4)
            break;
        resp_free(&r);
        sleep_ms(10);
    }
    assert_int_equal(jint(r.json, "deliveries.webhook.attempted"), 5);
    assert_int_equal(jint(r.json, "deliveries.webhook.acked"), 4);
    assert_int_equal(jint(r.json, "deliveries.webhook.failed"), 1);
    resp_free(&r);
    ctl("GET", "/_sim/deliveries", NULL, &r);
    assert_int_equal(jlen(r.json, "webhook.batches"), 0);
    resp_free(&r);
    config("{\"hubspot_webhook_url\":\"\"}");
    rx_stop(&rx);
}

static void test_outbound(void **state)
{
    NEED_SIM();
    struct receiver rx;
    memset(&rx, 0, sizeof rx);
    rx.outbound = true;
    rx.fail_first = 1;
    rx_start(&rx);
    char fx[1024];
    snprintf(fx, sizeof fx,
             "{\"config\":{\"outbound_flush_ms\":50,\"outbound_retry_base_ms\":100},"
             "\"salesforce\":{\"outbound_rules\":[{\"object\":\"Project__c\",\"fields\":[\"Name\","
             "\"Budget__c\",\"Status__c\",\"Active__c\"],\"url\":\"http://127.0.0.1:%d/"
             "ob?token=s3cret\","
             "\"sessionId\":\"SESSION\"}]}}",
             rx.port);
    ctl_ok("POST", "/_sim/fixtures", fx);
    const char *id = sf_create("{\"Name\":\"A & B <c>\",\"Budget__c\":419}");
    char rid[32];
    snprintf(rid, sizeof rid, "%s", id);
    assert_int_equal(rx_wait(&rx, 2, 5000), 2);
    const char *b0 = rx.bodies[0], *b1 = rx.bodies[1];
    assert_non_null(strstr(b0, "http://schemas.xmlsoap.org/soap/envelope/"));
    assert_non_null(
        strstr(b0, "<notifications xmlns=\"http://soap.sforce.com/2005/09/outbound\">"));
    assert_non_null(strstr(b0, "xmlns:sf=\"urn:sobject.enterprise.soap.sforce.com\""));
    assert_non_null(strstr(b0, "xsi:type=\"sf:Project__c\""));
    assert_non_null(strstr(b0, "<OrganizationId>00D000000000001"));
    assert_non_null(strstr(b0, "<SessionId>SESSION</SessionId>"));
    assert_non_null(strstr(b0, "<EnterpriseUrl>"));
    assert_non_null(strstr(b0, "<PartnerUrl>"));
    assert_non_null(strstr(b0, "<sf:Name>A &amp; B &lt;c&gt;</sf:Name>"));
    assert_non_null(strstr(b0, "<sf:Budget__c>419.0</sf:Budget__c>"));
    assert_non_null(strstr(b0, "<sf:Active__c>false</sf:Active__c>"));
    assert_null(strstr(b0, "Status__c")); /* null fields are omitted */
    char idtag[64];
    snprintf(idtag, sizeof idtag, "<sf:Id>%s</sf:Id>", rid);
    assert_non_null(strstr(b0, idtag));
    /* The retry (after Ack false) carries the same notification id. */
    const char *n0 = strstr(b0, "<Notification><Id>");
    const char *n1 = strstr(b1, "<Notification><Id>");
    assert_non_null(n0);
    assert_non_null(n1);
    assert_memory_equal(n0, n1, strlen("<Notification><Id>") + 18);
    assert_str(rx.paths[0], "/ob");

    /* An update sends the latest data; a delete sends nothing. */
    char path[256];
    snprintf(path, sizeof path, "/_sim/salesforce/Project__c/records/%s", rid);
    ctl_ok("PATCH", path, "{\"Status__c\":\"Done\"}");
    assert_int_equal(rx_wait(&rx, 3, 5000), 3);
    assert_non_null(strstr(rx.bodies[2], "<sf:Status__c>Done</sf:Status__c>"));
    struct resp r;
    snprintf(path, sizeof path, "/sobjects/Project__c/%s", rid);
    assert_int_equal(sf("DELETE", path, NULL, &r), 204);
    resp_free(&r);
    sleep_ms(300);
    assert_int_equal(rx_wait(&rx, 4, 10), 3);
    ctl("GET", "/_sim/stats", NULL, &r);
    assert_int_equal(jint(r.json, "deliveries.outbound.acked"), 2);
    assert_int_equal(jint(r.json, "deliveries.outbound.failed"), 1);
    resp_free(&r);
    ctl_ok("POST", "/_sim/fixtures", "{\"salesforce\":{\"outbound_rules\":[]}}");
    rx_stop(&rx);
}

/* Records name their writer (CreatedById, LastModifiedById: the token's user for API writes, the
 * act-as-user one for /_sim/ writes), and a rule's skipWhenLastModifiedBy is the flow's entry
 * condition of docs/DEPLOY.md 5.5: the excluded user's changes send nothing, a person's do. */
static void test_outbound_entry_condition(void **state)
{
    NEED_SIM();
    struct resp r;
    assert_int_equal(
        request("POST", "/services/oauth2/token",
                "grant_type=refresh_token&client_id=sim-sf-client-id&client_secret=sim-"
                "sf-client-secret&refresh_token=sim-sf-refresh-token",
                "application/x-www-form-urlencoded", NULL, NULL, &r),
        200);
    const char *id_url = jstr(r.json, "id");
    assert_non_null(id_url);
    char api_user[19];
    snprintf(api_user, sizeof api_user, "%s", strrchr(id_url, '/') + 1);
    resp_free(&r);
    assert_int_equal(strlen(api_user), 18);
    assert_memory_equal(api_user, "005000000000001", 15);

    /* The describe lists both as references to User that nobody can write. */
    assert_int_equal(sf("GET", "/sobjects/Project__c/describe", NULL, &r), 200);
    bool seen_created = false, seen_modified = false;
    for (size_t i = 0; i < jlen(r.json, "fields"); i++) {
        char p[64];
        snprintf(p, sizeof p, "fields.%zu.name", i);
        const char *name = jstr(r.json, p);
        bool created = strcmp(name, "CreatedById") == 0,
             modified = !created && strcmp(name, "LastModifiedById") == 0;
        if (!created && !modified)
            continue;
        seen_created |= created;
        seen_modified |= modified;
        snprintf(p, sizeof p, "fields.%zu.type", i);
        assert_str(jstr(r.json, p), "reference");
        snprintf(p, sizeof p, "fields.%zu.referenceTo.0", i);
        assert_str(jstr(r.json, p), "User");
        snprintf(p, sizeof p, "fields.%zu.updateable", i);
        assert_false(json_object_get_boolean(jpath(r.json, p)));
    }
    resp_free(&r);
    assert_true(seen_created && seen_modified);
    assert_int_equal(sf("POST", "/sobjects/Project__c",
                        "{\"Name\":\"x\",\"LastModifiedById\":\"005000000000009\"}", &r),
                     400);
    assert_str(jstr(r.json, "0.errorCode"), "INVALID_FIELD_FOR_INSERT_UPDATE");
    resp_free(&r);

    struct receiver rx;
    memset(&rx, 0, sizeof rx);
    rx.outbound = true;
    rx_start(&rx);
    char fx[1024];
    snprintf(fx, sizeof fx,
             "{\"config\":{\"outbound_flush_ms\":50},"
             "\"salesforce\":{\"outbound_rules\":[{\"object\":\"Project__c\",\"fields\":[\"Name\","
             "\"CreatedById\",\"LastModifiedById\"],\"url\":\"http://127.0.0.1:%d/ob\","
             "\"skipWhenLastModifiedBy\":\"005000000000001\"}]}}",
             rx.port);
    ctl_ok("POST", "/_sim/fixtures", fx);
    /* The integration user's create and update send nothing. */
    char rid[32];
    snprintf(rid, sizeof rid, "%s", sf_create("{\"Name\":\"by the API\"}"));
    char path[256];
    snprintf(path, sizeof path, "/sobjects/Project__c/%s", rid);
    assert_int_equal(sf("PATCH", path, "{\"Name\":\"by the API again\"}", &r), 204);
    resp_free(&r);
    sleep_ms(300);
    assert_int_equal(rx_wait(&rx, 1, 10), 0);
    assert_int_equal(sf("GET", path, NULL, &r), 200);
    assert_str(jstr(r.json, "CreatedById"), api_user);
    assert_str(jstr(r.json, "LastModifiedById"), api_user);
    resp_free(&r);

    /* A person's edit sends the record with the person as its last modifier. */
    char sim_path[256];
    snprintf(sim_path, sizeof sim_path, "/_sim/salesforce/Project__c/records/%s", rid);
    ctl_ok("PATCH", sim_path, "{\"Name\":\"by a person\"}");
    assert_int_equal(rx_wait(&rx, 1, 5000), 1);
    char tag[96];
    snprintf(tag, sizeof tag, "<sf:CreatedById>%s</sf:CreatedById>", api_user);
    assert_non_null(strstr(rx.bodies[0], tag));
    assert_non_null(strstr(rx.bodies[0], "<sf:LastModifiedById>005000000000002"));
    assert_non_null(strstr(rx.bodies[0], "<sf:Name>by a person</sf:Name>"));
    /* SOQL filters on it like any reference. */
    assert_int_equal(sf("GET",
                        "/query?q=SELECT+Id+FROM+Project__c+WHERE+LastModifiedById+%3D+"
                        "%27005000000000002%27",
                        NULL, &r),
                     200);
    assert_int_equal(jint(r.json, "totalSize"), 1);
    resp_free(&r);

    /* Without the condition the API's writes send messages again; a bad id is refused. */
    snprintf(
        fx, sizeof fx,
        "{\"salesforce\":{\"outbound_rules\":[{\"object\":\"Project__c\",\"fields\":[\"Name\"],"
        "\"url\":\"http://127.0.0.1:%d/ob\"}]}}",
        rx.port);
    ctl_ok("POST", "/_sim/fixtures", fx);
    assert_int_equal(sf("PATCH", path, "{\"Name\":\"by the API, heard\"}", &r), 204);
    resp_free(&r);
    assert_int_equal(rx_wait(&rx, 2, 5000), 2);
    assert_non_null(strstr(rx.bodies[1], "<sf:Name>by the API, heard</sf:Name>"));
    assert_int_equal(
        ctl("POST", "/_sim/fixtures",
            "{\"salesforce\":{\"outbound_rules\":[{\"object\":\"Project__c\","
            "\"fields\":[],\"url\":\"http://x/\",\"skipWhenLastModifiedBy\":\"nobody\"}]}}",
            &r),
        400);
    assert_non_null(strstr(r.body, "skipWhenLastModifiedBy"));
    resp_free(&r);
    ctl_ok("POST", "/_sim/fixtures", "{\"salesforce\":{\"outbound_rules\":[]}}");
    rx_stop(&rx);
}

/* ---------------------------------------------------------------- robustness and state */

static void test_robustness(void **state)
{
    NEED_SIM();
    static const char *const paths[] = {"/crm/v3/objects/%ZZ",
                                        "/crm/v3/objects/" PROJECTS "/batch/read",
                                        "/crm/v4/associations/a/b/batch/read",
                                        "/services/data/v58.0/query?q=%27",
                                        "/services/data/vX/sobjects",
                                        "/_sim/fixtures",
                                        "/services/oauth2/token",
                                        "/oauth/v1/token",
                                        "/services/data/v58.0/composite/sobjects",
                                        "/crm/v3/objects/" PROJECTS "/search",
                                        "/_sim/faults",
                                        "/_sim/config"};
    static const char *const bodies[] = {"",
                                         "{",
                                         "[]",
                                         "null",
                                         "{\"inputs\":7}",
                                         "\x01\x02\xff",
                                         "{\"records\":[1,2,3]}",
                                         "{\"filterGroups\":[{\"filters\":[1]}]}",
                                         "{\"properties\":{\"a\":{\"b\":[[[[]]]]}}}"};
    struct resp r;
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        for (size_t j = 0; j < sizeof bodies / sizeof bodies[0]; j++) {
            long st = request("POST", paths[i], bodies[j], NULL, "Bearer " HS_TOKEN, NULL, &r);
            assert_true(st >= 200 && st < 600);
            resp_free(&r);
        }
    }
    /* Deep nesting, a long SOQL, unknown methods. */
    char *deep = malloc(20002);
    memset(deep, '[', 10000);
    memset(deep + 10000, ']', 10000);
    deep[20000] = '\0';
    assert_int_equal(hs("POST", "/crm/v3/objects/" PROJECTS, deep, &r), 400);
    resp_free(&r);
    free(deep);
    assert_int_equal(
        request("BREW", "/crm/v3/objects/" PROJECTS, NULL, NULL, "Bearer " HS_TOKEN, NULL, &r),
        405);
    resp_free(&r);
    assert_int_equal(ctl("GET", "/nowhere", NULL, &r), 404);
    resp_free(&r);
    assert_int_equal(ctl("GET", "/_sim/health", NULL, &r), 200);
    resp_free(&r);
    assert_int_equal(ctl("POST", "/_sim/config", "{\"nope\":1}", &r), 400);
    resp_free(&r);
    assert_int_equal(ctl("POST", "/_sim/config", "{\"hubspot_rate_limit_max\":0}", &r), 400);
    resp_free(&r);
    /* A failing fixture document changes nothing. */
    assert_int_equal(ctl("POST", "/_sim/fixtures",
                         "{\"hubspot\":{\"schemas\":[{\"name\":\"tmp\",\"objectTypeId\":\"2-77\"}],"
                         "\"records\":{\"2-77\":[{\"properties\":{\"missing\":\"x\"}}]}}}",
                         &r),
                     400);
    resp_free(&r);
    assert_int_equal(hs("GET", "/crm-object-schemas/v3/schemas/2-77", NULL, &r), 404);
    resp_free(&r);
}

static void test_dump_roundtrip(void **state)
{
    NEED_SIM();
    hs_create("{\"name\":\"dumped\",\"salesforce_id\":\"D1\"}");
    sf_create("{\"Name\":\"dumped\",\"External_Id__c\":\"D1\"}");
    struct resp r;
    assert_int_equal(ctl("GET", "/_sim/dump", NULL, &r), 200);
    char *dump = strdup(r.body);
    assert_int_equal(jlen(r.json, "hubspot.records." PROJECTS), 1);
    resp_free(&r);
    ctl_ok("POST", "/_sim/reset", NULL);
    assert_int_equal(ctl("POST", "/_sim/fixtures", dump, &r), 200);
    resp_free(&r);
    free(dump);
    assert_int_equal(
        hs("GET", "/crm/v3/objects/" PROJECTS "/D1?idProperty=salesforce_id", NULL, &r), 200);
    resp_free(&r);
    assert_int_equal(sf("GET", "/sobjects/Project__c/External_Id__c/D1", NULL, &r), 200);
    assert_str(jstr(r.json, "Name"), "dumped");
    resp_free(&r);
}

static void test_startup_fixtures_file(void **state)
{
    NEED_SIM();
    const char *src = getenv("SYNKRO_SOURCE_DIR");
    if (!src)
        skip();
    char fx[1024];
    snprintf(fx, sizeof fx, "%s/tests/crmsim/fixtures/example.json", src);
    if (access(fx, R_OK) != 0)
        skip();
    struct crmsim_proc second;
    char err[300];
    if (crmsim_proc_start(&second, getenv("CRMSIM_BIN"), fx, err, sizeof err) != 0)
        fail_msg("%s", err);
    snprintf(base_url, sizeof base_url, "%s", second.base);
    struct resp r;
    long st = hs("GET", "/crm-object-schemas/v3/schemas/" PROJECTS, NULL, &r);
    resp_free(&r);
    long st2 = sf("GET", "/sobjects/Project__c/describe", NULL, &r);
    resp_free(&r);
    snprintf(base_url, sizeof base_url, "%s", sim.base);
    assert_int_equal(crmsim_proc_stop(&second), 0);
    assert_int_equal(st, 200);
    assert_int_equal(st2, 200);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_hs_auth, test_setup),
        cmocka_unit_test_setup(test_hs_schemas, test_setup),
        cmocka_unit_test_setup(test_hs_crud, test_setup),
        cmocka_unit_test_setup(test_hs_validation, test_setup),
        cmocka_unit_test_setup(test_hs_batch, test_setup),
        cmocka_unit_test_setup(test_hs_gone, test_setup),
        cmocka_unit_test_setup(test_hs_search, test_setup),
        cmocka_unit_test_setup(test_hs_search_rate_limit, test_setup),
        cmocka_unit_test_setup(test_hs_associations, test_setup),
        cmocka_unit_test_setup(test_hs_rate_limit, test_setup),
        cmocka_unit_test_setup(test_hs_signature_vectors, test_setup),
        cmocka_unit_test_setup(test_sf_oauth_refresh_rotation, test_setup),
        cmocka_unit_test_setup(test_sf_jwt, test_setup),
        cmocka_unit_test_setup(test_sf_describe, test_setup),
        cmocka_unit_test_setup(test_sf_crud_and_errors, test_setup),
        cmocka_unit_test_setup(test_sf_upsert, test_setup),
        cmocka_unit_test_setup(test_sf_unique_index, test_setup),
        cmocka_unit_test_setup(test_sf_collections, test_setup),
        cmocka_unit_test_setup(test_sf_query, test_setup),
        cmocka_unit_test_setup(test_sf_updated_deleted, test_setup),
        cmocka_unit_test_setup(test_sf_limits, test_setup),
        cmocka_unit_test_setup(test_faults, test_setup),
        cmocka_unit_test_setup(test_stats, test_setup),
        cmocka_unit_test_setup(test_webhooks, test_setup),
        cmocka_unit_test_setup(test_outbound, test_setup),
        cmocka_unit_test_setup(test_outbound_entry_condition, test_setup),
        cmocka_unit_test_setup(test_robustness, test_setup),
        cmocka_unit_test_setup(test_dump_roundtrip, test_setup),
        cmocka_unit_test_setup(test_startup_fixtures_file, test_setup),
    };
    return cmocka_run_group_tests_name("crmsim", tests, group_setup, group_teardown);
}
