/* console_data.c: `make bench-console`'s measuring program: fills a scratch synkro database with
 * console-sized data, then times every endpoint the console reads over HTTP.
 *
 * Usage: console_data --db CONNINFO --url http://HOST:PORT --token ADMIN_TOKEN [--calls 20]
 *                     [--no-fill]
 * bench/console.sh starts the throwaway PostgreSQL and `synkro serve` (which migrates) and runs
 * this with their addresses. The fill is set-based SQL (generate_series), one statement per
 * table: 2 mappings (one enabled, one paused), 1,000,000 change_events over the last 24 h (done,
 * failed with categories, pending, processing, held), 100,000 sync_links, 100,000
 * sync_conflicts, 1,000,000 sync_history rows when that table exists (migration 0009, detected
 * at run time), a few imports and mapping history rows; then VACUUM ANALYZE. Each endpoint is
 * called `calls` times on one keep-alive connection (after one warm-up call); the table shows
 * median, p95, the 300 ms goal with PASS/MISS, and the ratio of the median to /healthz's. The
 * records API (GET /api/records...) is timed when the route exists (not "no such endpoint").
 * A benchmark reports: it exits 0 whatever the figures, 1 only when it could not run.
 * Must not: be run against a database that matters (it deletes and fills tables). */
#include <curl/curl.h>
#include <libpq-fe.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define GOAL_MS   300.0
#define MAX_CALLS 1000

struct options {
    const char *db;
    const char *url;
    const char *token;
    int calls;
    bool fill;
};

/* ---- the fill ---- */

static const char fill_sql[] =
    "TRUNCATE change_events, sync_links, sync_conflicts, sync_imports, mapping_history, mappings"
    " RESTART IDENTITY;"
    "INSERT INTO mappings (id, name, state, salesforce_object, hubspot_object,"
    " hubspot_object_type_id, document) VALUES"
    " (1, 'Bench accounts', 'enabled', 'Account', 'companies', '0-2',"
    "  '{\"name\":\"Bench accounts\",\"salesforce_object\":\"Account\","
    "\"hubspot_object\":\"companies\",\"fields\":[]}'),"
    " (2, 'Bench contacts', 'paused', 'Contact', 'contacts', '0-1',"
    "  '{\"name\":\"Bench contacts\",\"salesforce_object\":\"Contact\","
    "\"hubspot_object\":\"contacts\",\"fields\":[]}');"
    "SELECT setval('mappings_id_seq', 2);"
    "INSERT INTO mapping_history (mapping_id, version, action, actor, document)"
    " SELECT 1 + g % 2, 1 + g / 2, CASE WHEN g < 2 THEN 'create' ELSE 'update' END, 'admin',"
    " '{}' FROM generate_series(0, 49) g;"
    /* 1,000,000 events over the last 24 h: even g mapping 1 (enabled), odd g mapping 2
     * (paused); sources alternate in pairs; statuses by g % 100 */
    "INSERT INTO change_events (source, idempotency_key, object_type, record_id, kind,"
    " occurred_at, received_at, status, attempts, next_attempt_at, last_error, payload,"
    " lease_owner, lease_until, finished_at, error_category)"
    " SELECT src, 'bench-' || g, CASE WHEN src = 'salesforce' THEN"
    "  (CASE WHEN g % 2 = 0 THEN 'Account' ELSE 'Contact' END)"
    "  ELSE (CASE WHEN g % 2 = 0 THEN '0-2' ELSE '0-1' END) END,"
    " 'R' || (g % 100000), 'update', rcv - interval '1 second', rcv, st,"
    " CASE WHEN st = 'failed' THEN 5 ELSE 1 END,"
    " CASE WHEN st = 'pending' THEN now() + interval '1 day' ELSE rcv END,"
    " CASE WHEN st = 'failed' THEN 'INVALID_FIELD: bench failure ' || (g % 17) END, '{}',"
    " CASE WHEN st = 'processing' THEN 'bench' END,"
    " CASE WHEN st = 'processing' THEN now() + interval '1 day' END,"
    " CASE WHEN st IN ('done', 'failed') THEN"
    "  least(rcv + (100 + (g::bigint * 7919) % 4900) * interval '1 millisecond', now()) END,"
    " CASE WHEN st = 'failed' THEN (ARRAY['validation', 'duplicate', 'permission',"
    "  'not_found', 'conversion', 'retries_exhausted'])[1 + (g / 100) % 6] END"
    " FROM (SELECT g, CASE WHEN (g / 2) % 2 = 0 THEN 'salesforce' ELSE 'hubspot' END AS src,"
    "  now() - (g * interval '86.4 milliseconds') AS rcv,"
    "  CASE WHEN g % 100 < 88 THEN 'done' WHEN g % 100 < 92 THEN 'failed'"
    "   WHEN g % 2 = 1 THEN 'held' WHEN g % 100 < 98 THEN 'pending' ELSE 'processing' END AS st"
    "  FROM generate_series(1, 1000000) g) s;"
    "INSERT INTO sync_links (mapping_id, salesforce_id, hubspot_id, sf_values, hs_values,"
    " synced_at)"
    " SELECT 1 + g % 2, '001' || lpad(g::text, 15, '0'), g::text,"
    " jsonb_build_object('Name', 'Bench ' || g), jsonb_build_object('name', 'Bench ' || g),"
    " now() - g * interval '800 milliseconds' FROM generate_series(1, 100000) g;"
    "INSERT INTO sync_conflicts (mapping_id, link_id, salesforce_id, hubspot_id,"
    " salesforce_field, hubspot_property, salesforce_value, hubspot_value, winner, reason,"
    " occurred_at)"
    " SELECT 1 + g % 2, g, '001' || lpad(g::text, 15, '0'), g::text,"
    " (ARRAY['Name', 'Phone', 'Website', 'Industry', 'Rating'])[1 + g % 5],"
    " (ARRAY['name', 'phone', 'website', 'industry', 'rating'])[1 + g % 5],"
    " to_jsonb('sf ' || g), 'hs ' || g,"
    " CASE WHEN g % 3 = 0 THEN 'hubspot' ELSE 'salesforce' END, 'conflict_winner',"
    " now() - (100000 - g) * interval '864 milliseconds' FROM generate_series(1, 100000) g;"
    "INSERT INTO sync_imports (mapping_id, direction, status, total, queued, synced, failed,"
    " started_at, finished_at)"
    " SELECT 1 + g % 2, 'salesforce_to_hubspot', CASE WHEN g = 9 THEN 'running' ELSE 'done' END,"
    " 10000, 10000, 9900, 100, now() - (10 - g) * interval '1 hour',"
    " CASE WHEN g = 9 THEN NULL ELSE now() - (10 - g) * interval '1 hour' + interval '20 minutes'"
    " END FROM generate_series(0, 9) g;";

/* Runs only when sync_history exists; its columns are migration 0009's. 10 entries per link of
 * the first 100,000 links, every kind, over the last 24 h. */
static const char history_sql[] =
    "TRUNCATE sync_history RESTART IDENTITY;"
    "INSERT INTO sync_history (mapping_id, link_id, salesforce_id, hubspot_id, occurred_at, kind,"
    " side, actor, event_id, summary, details)"
    " SELECT 1 + l % 2, l, '001' || lpad(l::text, 15, '0'), l::text,"
    " now() - (1000000 - g) * interval '86.4 milliseconds',"
    " (ARRAY['event', 'decision', 'write', 'conflict', 'error', 'association', 'skip'])[1 + g % 7],"
    " (ARRAY['salesforce', 'hubspot', NULL])[1 + g % 3], 'synkro', g,"
    " 'Bench history entry ' || g, jsonb_build_object('field', 'Name', 'n', g)"
    " FROM (SELECT g, 1 + g % 100000 AS l FROM generate_series(1, 1000000) g) s;";

static const char *const vacuum_tables[] = {"change_events", "sync_links",      "sync_conflicts",
                                            "sync_imports",  "mapping_history", "mappings"};

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

static int run(PGconn *c, const char *sql, const char *what)
{
    double t = now_ms();
    PGresult *r = PQexec(c, sql);
    int ok = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK;
    if (!ok)
        fprintf(stderr, "console_data: %s failed: %s", what, PQerrorMessage(c));
    else
        fprintf(stderr, "console_data: %s (%.1f s)\n", what, (now_ms() - t) / 1000.0);
    PQclear(r);
    return ok ? 0 : -1;
}

static bool table_exists(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    bool yes = PQresultStatus(r) == PGRES_TUPLES_OK && strcmp(PQgetvalue(r, 0, 0), "t") == 0;
    PQclear(r);
    return yes;
}

/* Migration 0014's health rollup: the events were inserted with past finish times, which the
 * janitor's rounds (the last 15 minutes each) never revisit, so the rollup is reset and the
 * running synkro's janitor rebuilds it from the oldest event (a round every 5 s, an hour per
 * step); waits until it is caught up (at most 180 s) and prints how long the rebuild took. */
static int rebuild_rollup(PGconn *c)
{
    if (run(c, "TRUNCATE health_periods; UPDATE health_rollup_state SET rolled_to = NULL",
            "rollup reset") < 0)
        return -1;
    double t = now_ms();
    while (now_ms() - t < 180000.0) {
        PGresult *r = PQexec(c, "SELECT COALESCE(rolled_to > now() - interval '10 minutes',"
                                " false) FROM health_rollup_state");
        bool done = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 &&
                    strcmp(PQgetvalue(r, 0, 0), "t") == 0;
        PQclear(r);
        if (done) {
            fprintf(stderr, "console_data: rollup rebuilt by synkro's janitor within %.1f s\n",
                    (now_ms() - t) / 1000.0);
            return run(c, "VACUUM ANALYZE health_periods", "VACUUM ANALYZE health_periods");
        }
        struct timespec ts = {0, 200000000};
        nanosleep(&ts, NULL);
    }
    fprintf(stderr, "console_data: the janitor did not rebuild the health rollup in 180 s\n");
    return -1;
}

/* 0, or -1 when the database could not be filled. *history tells whether history rows were. */
static int fill(const char *conninfo, bool *history)
{
    PGconn *c = PQconnectdb(conninfo);
    if (PQstatus(c) != CONNECTION_OK) {
        fprintf(stderr, "console_data: cannot connect: %s", PQerrorMessage(c));
        PQfinish(c);
        return -1;
    }
    *history = table_exists(c, "SELECT to_regclass('sync_history') IS NOT NULL");
    int rc = run(c, fill_sql, "fill: mappings, 1,000,000 events, 100,000 links and conflicts");
    if (rc == 0 && *history)
        rc = run(c, history_sql, "fill: 1,000,000 history rows");
    char sql[128];
    for (size_t i = 0; rc == 0 && i < sizeof vacuum_tables / sizeof vacuum_tables[0]; i++) {
        snprintf(sql, sizeof sql, "VACUUM ANALYZE %s", vacuum_tables[i]);
        rc = run(c, sql, sql);
    }
    if (rc == 0 && *history)
        rc = run(c, "VACUUM ANALYZE sync_history", "VACUUM ANALYZE sync_history");
    if (rc == 0 && table_exists(c, "SELECT to_regclass('health_rollup_state') IS NOT NULL"))
        rc = rebuild_rollup(c);
    PQfinish(c);
    return rc;
}

/* ---- the timing ---- */

struct body {
    char *data;
    size_t len;
};

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
    struct body *b = ud;
    size_t add = size * n;
    char *grown = realloc(b->data, b->len + add + 1);
    if (!grown)
        return 0;
    memcpy(grown + b->len, p, add);
    b->len += add;
    grown[b->len] = '\0';
    b->data = grown;
    return add;
}

struct client {
    CURL *curl;
    struct curl_slist *headers;
    const struct options *o;
};

/* GET path; the status (or -1) and the body (caller frees). Time in *ms. */
static long get(struct client *cl, const char *path, char **out, double *ms)
{
    char url[1024];
    snprintf(url, sizeof url, "%s%s", cl->o->url, path);
    struct body b = {0};
    curl_easy_setopt(cl->curl, CURLOPT_URL, url);
    curl_easy_setopt(cl->curl, CURLOPT_WRITEDATA, &b);
    double t = now_ms();
    CURLcode rc = curl_easy_perform(cl->curl);
    *ms = now_ms() - t;
    long status = -1;
    if (rc == CURLE_OK)
        curl_easy_getinfo(cl->curl, CURLINFO_RESPONSE_CODE, &status);
    if (out)
        *out = b.data;
    else
        free(b.data);
    return status;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

struct figure {
    double median, p95;
    long status;
};

static struct figure measure(struct client *cl, const char *path)
{
    double times[MAX_CALLS], ms;
    struct figure f = {0};
    f.status = get(cl, path, NULL, &ms); /* warm-up */
    for (int i = 0; i < cl->o->calls; i++) {
        long s = get(cl, path, NULL, &times[i]);
        if (s != f.status)
            f.status = s;
    }
    qsort(times, (size_t)cl->o->calls, sizeof times[0], cmp_double);
    int n = cl->o->calls;
    f.median = n % 2 ? times[n / 2] : (times[n / 2 - 1] + times[n / 2]) / 2;
    int p = (int)(0.95 * n + 0.999) - 1;
    f.p95 = times[p < 0 ? 0 : (p >= n ? n - 1 : p)];
    return f;
}

/* A number after "key": in body, or -1. */
static long long json_number(const char *body, const char *key)
{
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\":", key);
    const char *p = body ? strstr(body, pat) : NULL;
    return p ? strtoll(p + strlen(pat), NULL, 10) : -1;
}

static bool route_exists(struct client *cl, const char *path)
{
    char *body = NULL;
    double ms;
    long s = get(cl, path, &body, &ms);
    bool yes = s > 0 && !(s == 404 && body && strstr(body, "no such endpoint"));
    free(body);
    return yes;
}

static void print_row(const char *path, struct figure f, double base)
{
    bool ok = f.status >= 200 && f.status < 300;
    printf("| %-68s | %4ld | %8.2f | %8.2f | %5.0f | %-4s | %6.1fx |\n", path, f.status, f.median,
           f.p95, GOAL_MS, !ok ? "ERR" : (f.p95 < GOAL_MS ? "PASS" : "MISS"),
           base > 0 ? f.median / base : 0);
}

/* The console's data endpoints; %s-free paths, with ids chosen from the fill. */
static const char *const endpoints[] = {
    "/api/mappings",
    "/api/mappings/1/health?minutes=60",
    "/api/mappings/1/health?minutes=1440",
    "/api/mappings/2/health?minutes=1440",
    "/api/budget",
    "/api/errors",
    "/api/conflicts",
    "/api/conflicts?before=2000",
    "/api/conflicts?mapping_id=1",
    "/api/conflicts?mapping_id=1&before=2001",
    "/api/conflicts?salesforce_id=001000000000012345",
    "/api/conflicts?salesforce_id=001000000000012",
    "/api/conflicts?hubspot_id=12345",
    "/api/conflicts?field=Phone",
    "/api/conflicts?field=Phone&before=2000",
    "/api/conflicts?winner=hubspot",
    "/api/conflicts?winner=hubspot&before=2000",
    "/api/conflicts?record=12345",
    "/api/conflicts?record=001000000000054321",
    "/api/conflicts?record=nothing-matches",
    "/api/events",
    "/api/events?status=failed",
    "/api/events?status=pending",
    "/api/events?status=held&after=900000",
    "/api/imports",
    "/api/mappings/1/history",
};

static const char *const records_endpoints[] = {
    "/api/records?q=Bench%2012345",
    "/api/records?q=bench%201",
    "/api/records?q=001000000000012345",
    "/api/records?q=001000000000012",
    "/api/records?q=12345",
    "/api/records?q=nothing-matches",
    "/api/records",
    "/api/records?mapping=2&after=50001",
    "/api/records/12345",
    "/api/records/12345/timeline",
    "/api/records/12345/timeline?limit=200",
    "/api/records/12345/timeline?limit=5&before=500000",
};

static int parse_args(int argc, char **argv, struct options *o)
{
    *o = (struct options){.calls = 20, .fill = true};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--no-fill") == 0) {
            o->fill = false;
            continue;
        }
        if (!v)
            return -1;
        if (strcmp(a, "--db") == 0)
            o->db = v;
        else if (strcmp(a, "--url") == 0)
            o->url = v;
        else if (strcmp(a, "--token") == 0)
            o->token = v;
        else if (strcmp(a, "--calls") == 0)
            o->calls = atoi(v);
        else
            return -1;
        i++;
    }
    return o->db && o->url && o->token && o->calls >= 1 && o->calls <= MAX_CALLS ? 0 : -1;
}

/* The first record's link id of the records search, for the per-record endpoints; -1: none. */
static long long first_record_id(struct client *cl)
{
    char *body = NULL;
    double ms;
    get(cl, "/api/records?q=001000000000012345", &body, &ms);
    long long id = json_number(body, "id");
    free(body);
    return id;
}

static void time_records(struct client *cl, double base)
{
    if (!route_exists(cl, "/api/records?q=x")) {
        printf("| %-68s |  n/a |          |          |       |      |         |\n",
               "/api/records... (records API not in this build)");
        return;
    }
    for (size_t i = 0; i < sizeof records_endpoints / sizeof records_endpoints[0]; i++)
        print_row(records_endpoints[i], measure(cl, records_endpoints[i]), base);
    long long id = first_record_id(cl);
    if (id <= 0)
        return;
    char path[128];
    snprintf(path, sizeof path, "/api/records/%lld", id);
    print_row(path, measure(cl, path), base);
    snprintf(path, sizeof path, "/api/records/%lld/timeline", id);
    print_row(path, measure(cl, path), base);
}

int main(int argc, char **argv)
{
    struct options o;
    if (parse_args(argc, argv, &o) < 0) {
        fprintf(stderr, "usage: console_data --db CONNINFO --url http://HOST:PORT --token TOKEN"
                        " [--calls 1..1000] [--no-fill]\n");
        return 1;
    }
    bool history = false;
    if (o.fill && fill(o.db, &history) < 0)
        return 1;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    struct client cl = {.curl = curl_easy_init(), .o = &o};
    char auth[512];
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", o.token);
    cl.headers = curl_slist_append(NULL, auth);
    curl_easy_setopt(cl.curl, CURLOPT_HTTPHEADER, cl.headers);
    curl_easy_setopt(cl.curl, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(cl.curl, CURLOPT_TIMEOUT_MS, 30000L);
    struct figure base = measure(&cl, "/healthz");
    if (base.status != 200) {
        fprintf(stderr, "console_data: /healthz answered %ld\n", base.status);
        return 1;
    }
    printf("\n%d calls per endpoint (after one warm-up); history rows: %s\n\n", o.calls,
           o.fill ? (history ? "1,000,000" : "none (no sync_history table)") : "(not filled)");
    printf("| %-68s | code | p50 (ms) | p95 (ms) |  goal | p95  | p50/hz  |\n", "endpoint");
    printf("|%.70s|------|----------|----------|-------|------|---------|\n",
           "----------------------------------------------------------------------------");
    print_row("/healthz (baseline)", base, base.median);
    for (size_t i = 0; i < sizeof endpoints / sizeof endpoints[0]; i++)
        print_row(endpoints[i], measure(&cl, endpoints[i]), base.median);
    time_records(&cl, base.median);
    curl_slist_free_all(cl.headers);
    curl_easy_cleanup(cl.curl);
    curl_global_cleanup();
    return 0;
}
