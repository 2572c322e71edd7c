/* config.c: the table of configuration variables and their parsers.
 *
 * Owns every string in struct config (freed by config_free). The table below
 * is the single source of truth: names, types, defaults, limits, secrecy and
 * documentation. Must not read the environment anywhere but through the
 * lookup function, so tests can feed it any values. */
#include "base/config.h"

#include "base/strbuf.h"

#include <ctype.h>
#include <stdarg.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum cv_type {
    CV_STR,
    CV_URL,
    CV_INT,
    CV_LLONG,
    CV_BOOL,
    CV_LEVEL,
    CV_LISTEN,
    CV_DBURL,
    CV_ORGID,
    CV_ADMIN_LISTEN
};

struct config_var {
    const char *name;
    enum cv_type type;
    size_t offset;
    const char *def; /* NULL: required */
    long long min, max;
    bool secret;
    const char *doc;
};

#define OFF(field) offsetof(struct config, field)

static const struct config_var config_vars[] = {
    {"DATABASE_URL", CV_DBURL, OFF(database_url), NULL, 0, 0, false,
     "libpq URL or conninfo of the PostgreSQL database (required; `make run` starts a local one "
     "when unset). The password is masked everywhere."},
    {"SYNKRO_LISTEN", CV_LISTEN, OFF(listen), "127.0.0.1:8080", 0, 0, false,
     "Address and port the HTTP server listens on (`host:port`, `[v6]:port`; port 0 picks a free "
     "one)."},
    {"SYNKRO_HTTP_THREADS", CV_INT, OFF(http_threads), "64", 1, 256, false,
     "HTTP worker threads (libmicrohttpd thread pool, epoll). A Salesforce webhook request holds "
     "its thread until its events are committed (a HubSpot one is suspended instead), so more "
     "threads mean larger group commits; 64 measured best on 2 cores (bench/)."},
    {"SYNKRO_HTTP_MAX_CONNECTIONS", CV_INT, OFF(http_max_connections), "1024", 1, 65536, false,
     "Concurrent connections served. At the limit a new connection replaces the one that has "
     "waited longest (1 s or more) for its request; when none has, it may only reach the probes "
     "(SYNKRO_HTTP_PROBE_RESERVE)."},
    {"SYNKRO_HTTP_TIMEOUT_S", CV_INT, OFF(http_timeout_s), "30", 1, 3600, false,
     "Idle timeout of one connection, in seconds."},
    {"SYNKRO_HTTP_MAX_CONNECTIONS_PER_IP", CV_INT, OFF(http_max_connections_per_ip), "256", 0,
     65536, false,
     "Concurrent connections from one client address; more are closed at once. 0: no limit. "
     "Behind a reverse proxy every connection comes from the proxy: raise it to "
     "SYNKRO_HTTP_MAX_CONNECTIONS or set 0."},
    {"SYNKRO_HTTP_REQUEST_DEADLINE_S", CV_INT, OFF(http_request_deadline_s), "30", 1, 3600, false,
     "Time a client has to send one whole request (headers and body), from when its connection "
     "opened or its previous answer was sent; a slower connection is closed. Unlike the idle "
     "timeout it is not reset by each byte received."},
    {"SYNKRO_HTTP_PROBE_RESERVE", CV_INT, OFF(http_probe_reserve), "16", 0, 1024, false,
     "Connections accepted beyond SYNKRO_HTTP_MAX_CONNECTIONS for `/healthz`, `/readyz` and "
     "`/metrics` only (any other request on them gets 503, and they close after 2 s); beyond "
     "these, new connections are closed at once instead of waiting in the listen backlog."},
    {"SYNKRO_MAX_BODY_BYTES", CV_LLONG, OFF(max_body_bytes), "4194304", 1024, 268435456, false,
     "Largest request body accepted; larger ones get 413 and are not buffered."},
    {"LOG_LEVEL", CV_LEVEL, OFF(log_level), "info", 0, 0, false,
     "`debug`, `info`, `warn` or `error`. Logs are JSON lines on stderr."},
    {"SYNKRO_LOG_REPEAT_INTERVAL", CV_INT, OFF(log_repeat_interval_s), "10", 0, 3600, false,
     "Seconds within which a repeated warn or error line (same message, status and code) is "
     "written once: the repeats are counted (`synkro_log_suppressed_total`) and the next line "
     "says how many were left out; 0 writes every line."},
    {"SYNKRO_PUBLIC_BASE_URL", CV_URL, OFF(public_base_url), "", 0, 0, false,
     "The URL the CRMs call synkro at (scheme, host, optional path prefix), as seen through the "
     "reverse proxy. Used to verify HubSpot v3 signatures and to print endpoint URLs. Default: "
     "`http://` + SYNKRO_LISTEN."},
    {"SYNKRO_ADMIN_TOKEN", CV_STR, OFF(admin_token), "", 16, 4096, true,
     "Bearer token for the admin API (`/api/...`) and the console's sign-in, as the user `admin`; "
     "at least 16 characters. Changing it ends the sessions signed in with the old one. Unset: "
     "only SYNKRO_USERS_FILE's users get in."},
    {"SYNKRO_DB_POOL_SIZE", CV_INT, OFF(db_pool_size), "8", 1, 256, false,
     "Maximum PostgreSQL connections held by one synkro process."},
    {"SYNKRO_DB_STATEMENT_TIMEOUT_MS", CV_INT, OFF(db_statement_timeout_ms), "5000", 100, 600000,
     false, "statement_timeout set on every database connection."},
    {"SYNKRO_DB_CONNECT_TIMEOUT_S", CV_INT, OFF(db_connect_timeout_s), "5", 1, 300, false,
     "Timeout of one connection attempt to PostgreSQL."},
    {"SYNKRO_MIGRATE_ON_START", CV_BOOL, OFF(migrate_on_start), "true", 0, 0, false,
     "Apply pending migrations when `synkro serve` starts."},
    {"SYNKRO_SHUTDOWN_GRACE_MS", CV_INT, OFF(shutdown_grace_ms), "10000", 0, 600000, false,
     "On SIGTERM/SIGINT, how long in-flight requests may take to finish."},
    {"SALESFORCE_ORG_ID", CV_ORGID, OFF(salesforce_org_id), "", 0, 0, false,
     "The Salesforce organization id (15 or 18 characters) whose outbound messages are accepted. "
     "Unset: every outbound message is refused."},
    {"SYNKRO_SF_ENDPOINT_TOKEN", CV_STR, OFF(sf_endpoint_token), "", 16, 4096, true,
     "When set, Salesforce outbound messages must carry it as `?token=` in the endpoint URL."},
    {"HUBSPOT_CLIENT_SECRET", CV_STR, OFF(hubspot_client_secret), "", 8, 4096, true,
     "The HubSpot app's client secret: verifies webhook signatures. Unset: every HubSpot webhook "
     "is refused."},
    {"HUBSPOT_PORTAL_ID", CV_LLONG, OFF(hubspot_portal_id), "0", 0, INT64_MAX, false,
     "When non-zero, HubSpot events of any other portal (account) are refused with 403."},
    {"SYNKRO_HUBSPOT_REQUIRE_V3", CV_BOOL, OFF(hubspot_require_v3), "false", 0, 0, false,
     "Refuse HubSpot v1/v2 signatures; accept only v3."},
    {"SYNKRO_HUBSPOT_SKIP_OWN_WRITES", CV_BOOL, OFF(hubspot_skip_own_writes), "true", 0, 0, false,
     "HubSpot events of changes synkro's own app made (changeSource INTEGRATION with sourceId "
     "equal to the event's appId: the echoes of its writes) are acknowledged and counted "
     "(synkro_events_received_total, outcome own_write) but not queued. false: queue them too; "
     "the sync workers then settle each as an echo by comparing its values with the link's."},
    {"SYNKRO_INGEST_BATCH_MAX", CV_INT, OFF(ingest_batch_max), "2000", 1, 100000, false,
     "Most events committed in one group-commit transaction."},
    {"SYNKRO_INGEST_WRITERS", CV_INT, OFF(ingest_writers), "2", 1, 32, false,
     "Group-commit writer threads (each holds one database connection while it writes)."},
    {"SYNKRO_INGEST_INLINE", CV_BOOL, OFF(ingest_inline), "true", 0, 0, false,
     "A lone webhook request (no commit in flight, the last group commit carried one request) "
     "commits its events on its own HTTP thread instead of handing them to a writer and "
     "suspending (fewer wake-ups; that thread waits for the commit, at most the statement "
     "timeout)."},
    {"SYNKRO_MALLOC_ARENAS", CV_INT, OFF(malloc_arenas), "2", 0, 1024, false,
     "Most glibc malloc arenas (0: glibc's own limit, 8 per core). Each arena keeps the memory "
     "its threads freed, so fewer arenas keep RSS lower and flatter."},
    {"HUBSPOT_API_BASE", CV_URL, OFF(hubspot_api_base), "https://api.hubapi.com", 0, 0, false,
     "Base URL of the HubSpot API (tests point it at crmsim)."},
    {"HUBSPOT_ACCESS_TOKEN", CV_STR, OFF(hubspot_access_token), "", 8, 4096, true,
     "A HubSpot private-app (static) access token. Either this or the OAuth refresh settings."},
    {"HUBSPOT_CLIENT_ID", CV_STR, OFF(hubspot_client_id), "", 0, 4096, false,
     "HubSpot OAuth app client id (with HUBSPOT_CLIENT_SECRET and HUBSPOT_REFRESH_TOKEN)."},
    {"HUBSPOT_REFRESH_TOKEN", CV_STR, OFF(hubspot_refresh_token), "", 8, 4096, true,
     "HubSpot OAuth refresh token; access tokens are refreshed ahead of expiry."},
    {"HUBSPOT_RATE_LIMIT_PER_10S", CV_INT, OFF(hubspot_rate_per_10s), "190", 1, 100000, false,
     "Client-side budget of HubSpot API calls per rolling 10 seconds, shared by all threads."},
    {"HUBSPOT_SEARCH_RATE_PER_S", CV_INT, OFF(hubspot_search_rate_per_s), "5", 1, 1000, false,
     "Client-side budget of HubSpot search calls per second."},
    {"HUBSPOT_DAILY_MAX_PERCENT", CV_INT, OFF(hubspot_daily_max_percent), "90", 1, 100, false,
     "Stop calling HubSpot (every instance, until the next UTC midnight, at most an hour, then one "
     "call probes) when X-HubSpot-RateLimit-Daily-Remaining shows this share of the portal's daily "
     "limit used; the rest is left to the portal's other integrations."},
    {"SYNKRO_CRM_BUDGET_SHARED", CV_BOOL, OFF(crm_budget_shared), "true", 0, 0, false,
     "Keep the CRM API budgets (HubSpot burst and search limits per portal, Salesforce pauses per "
     "org) in PostgreSQL, shared by every instance on the database; false: each process keeps its "
     "own."},
    {"SALESFORCE_LOGIN_URL", CV_URL, OFF(salesforce_login_url), "https://login.salesforce.com", 0,
     0, false, "Salesforce token endpoint host (login, test, or My Domain; tests use crmsim)."},
    {"SALESFORCE_API_VERSION", CV_STR, OFF(salesforce_api_version), "v62.0", 4, 16, false,
     "Salesforce REST API version used in paths (vNN.0)."},
    {"SALESFORCE_CLIENT_ID", CV_STR, OFF(salesforce_client_id), "", 0, 4096, false,
     "Salesforce connected app consumer key."},
    {"SALESFORCE_CLIENT_SECRET", CV_STR, OFF(salesforce_client_secret), "", 8, 4096, true,
     "Salesforce connected app consumer secret (refresh-token flow)."},
    {"SALESFORCE_REFRESH_TOKEN", CV_STR, OFF(salesforce_refresh_token), "", 8, 4096, true,
     "Initial Salesforce refresh token; rotated tokens are then kept, encrypted, in PostgreSQL."},
    {"SALESFORCE_USERNAME", CV_STR, OFF(salesforce_username), "", 0, 4096, false,
     "Integration user for the JWT bearer flow."},
    {"SALESFORCE_JWT_KEY_FILE", CV_STR, OFF(salesforce_jwt_key_file), "", 0, 4096, false,
     "PEM private key (RS256) for the JWT bearer flow; used instead of the refresh token when "
     "set."},
    {"SALESFORCE_API_USAGE_MAX_PERCENT", CV_INT, OFF(salesforce_api_usage_max_percent), "80", 1,
     100, false, "Slow down when Sforce-Limit-Info shows this share of the daily allocation used."},
    {"SALESFORCE_API_DAILY_MAX_PERCENT", CV_INT, OFF(salesforce_api_daily_max_percent), "95", 1,
     100, false,
     "Stop calling Salesforce (every instance, 5 minutes, then one call probes) when "
     "Sforce-Limit-Info shows this share of the org's daily allocation used."},
    {"SYNKRO_SECRET_KEY", CV_STR, OFF(secret_key), "", 32, 4096, true,
     "Key (at least 32 characters; e.g. `openssl rand -hex 32`) that encrypts CRM tokens stored in "
     "PostgreSQL with AES-256-GCM."},
    {"SYNKRO_CRM_TIMEOUT_MS", CV_INT, OFF(crm_timeout_ms), "30000", 100, 600000, false,
     "Total timeout of one CRM API call."},
    {"SYNKRO_CRM_CONNECT_TIMEOUT_MS", CV_INT, OFF(crm_connect_timeout_ms), "5000", 100, 60000,
     false, "Connect timeout of one CRM API call."},
    {"SYNKRO_EVENT_RETENTION", CV_INT, OFF(event_retention_days), "7", 1, 3650, false,
     "Days a processed (done) event is kept before the janitor prunes it."},
    {"SYNKRO_FAILED_RETENTION", CV_INT, OFF(failed_retention_days), "30", 1, 3650, false,
     "Days a failed event is kept (unless retried) before the janitor prunes it."},
    {"SYNKRO_QUEUE_VACUUM_DEAD_ROWS", CV_INT, OFF(queue_vacuum_dead_rows), "0", 0, 100000000, false,
     "When set, the janitor vacuums the change_events queue once PostgreSQL counts this many dead "
     "rows in it (every event's row is rewritten as it is claimed and settled); 0 (the default) "
     "leaves it to autovacuum, which migration 0016 sets to act at 2% of the table: on a database "
     "that shares its cores with synkro, a vacuum in the middle of a burst cost more than it saved "
     "(bench/README.md)."},
    {"SYNKRO_MAX_MAPPINGS", CV_INT, OFF(max_mappings), "10", 1, 10000, false,
     "Most mappings (object pairs) per installation; 10 like HubSpot's own integration, raise it "
     "freely."},
    {"SYNKRO_WORKERS", CV_INT, OFF(workers), "4", 0, 64, false,
     "Sync worker threads; each takes one batch of one mapping's due records at a time. 0 runs "
     "no workers (the process then only receives webhooks)."},
    {"SYNKRO_MAPPING_WORKERS", CV_INT, OFF(mapping_workers), "2", 1, 16, false,
     "Most workers of this process syncing one mapping's linked records at once (each instance "
     "has its own, so N instances run up to N times as many); each holds different pairs. More "
     "lowers latency under steady load but spends the CRMs' rate limits in smaller batches. "
     "Unlinked records and merges are synced by one worker alone."},
    {"SYNKRO_WORKER_BATCH", CV_INT, OFF(worker_batch), "200", 1, 1000, false,
     "Most records one worker claims and syncs together (HubSpot calls carry 100, Salesforce "
     "200)."},
    {"SYNKRO_WORKER_POLL_MS", CV_INT, OFF(worker_poll_ms), "200", 10, 60000, false,
     "How often an idle worker looks for due events written by another process."},
    {"SYNKRO_WORKER_LINGER_MS", CV_INT, OFF(worker_linger_ms), "20", 0, 1000, false,
     "When a webhook wakes the workers after a second without any batch, they wait this long "
     "before claiming, so the first batch of a burst is full (fewer CRM calls per record); and a "
     "few records that have been due for less than this are left for a moment, so several "
     "instances polling one database do not take a trickle one record at a time; 0 claims at "
     "once."},
    {"SYNKRO_LEASE_MS", CV_INT, OFF(lease_ms), "300000", 1000, 86400000, false,
     "How long a worker that is alive but slow holds claimed events; a killed worker's events "
     "come back within seconds (its sessions' liveness locks end with it), not after this."},
    {"SYNKRO_RETRY_BASE_MS", CV_INT, OFF(retry_base_ms), "5000", 1, 86400000, false,
     "First back-off ceiling after a transient failure; it doubles per attempt (full jitter)."},
    {"SYNKRO_RETRY_CAP_MS", CV_INT, OFF(retry_cap_ms), "7200000", 1, 86400000, false,
     "Largest back-off ceiling between two tries of an event."},
    {"SYNKRO_RETRY_MAX_ATTEMPTS", CV_INT, OFF(retry_max_attempts), "30", 1, 1000, false,
     "Tries before an event that keeps failing transiently is failed (defaults reach about a "
     "day)."},
    {"SYNKRO_SWEEP_INTERVAL", CV_INT, OFF(sweep_interval_s), "300", 0, 86400, false,
     "Seconds between reconciliation sweeps of each enabled mapping (changes and deletes the "
     "webhooks missed); 0 turns the sweep off."},
    {"SYNKRO_IMPORT_INFLIGHT", CV_INT, OFF(import_inflight), "1000", 10, 100000, false,
     "Most queued events one import keeps waiting at a time, so live changes are not starved; "
     "pages are whole SYNKRO_WORKER_BATCHes, so none leaves a partial batch."},
    {"SYNKRO_CONFLICT_RETENTION", CV_INT, OFF(conflict_retention_days), "90", 1, 3650, false,
     "Days a recorded conflict stays listed in /api/conflicts before the janitor prunes it."},
    {"SYNKRO_ADMIN_LISTEN", CV_ADMIN_LISTEN, OFF(admin_listen), "", 0, 0, false,
     "Optional second address (`host:port`) for the admin plane: the console and `/api/*`. When "
     "set, SYNKRO_LISTEN answers 404 for them and keeps `/webhooks/*`, `/healthz`, `/readyz` and "
     "`/metrics`; keep it on a private network (docs/DEPLOY.md)."},
    {"SYNKRO_CONSOLE", CV_BOOL, OFF(console), "on", 0, 0, false,
     "`on` serves the web console and its sign-in (`/api/session`); `off` answers 404 for them "
     "and ignores session cookies (bearer tokens still work)."},
    {"SYNKRO_USERS_FILE", CV_STR, OFF(users_file), "", 0, 4096, false,
     "Optional file of named users, one `name:token` per line (`#` comments), each token at least "
     "16 characters; they sign in and call the API like the admin, and the mapping history names "
     "them. SYNKRO_ADMIN_TOKEN is the user `admin`."},
    {"SYNKRO_SIGNIN_RATE_PER_MIN", CV_INT, OFF(signin_rate_per_min), "10", 1, 10000, false,
     "Console sign-in attempts allowed per client address per minute; more get 429 with "
     "Retry-After. Behind a reverse proxy all clients share the proxy's address."},
    {"SYNKRO_SESSION_IDLE_S", CV_INT, OFF(session_idle_s), "1800", 60, 604800, false,
     "A console session unused this many seconds ends (sign in again)."},
    {"SYNKRO_SESSION_TTL_S", CV_INT, OFF(session_ttl_s), "43200", 300, 2592000, false,
     "A console session ends this many seconds after sign-in, used or not."},
    {"SYNKRO_HISTORY_RETENTION", CV_INT, OFF(history_retention_days), "30", 0, 3650, false,
     "Days each record's history (GET /api/records/{id}/timeline) is kept before the janitor "
     "prunes it; 0 records no history."},
};

#define NVARS (sizeof config_vars / sizeof config_vars[0])

const char *config_lookup_env(const char *name, void *ud)
{
    (void)ud;
    return getenv(name);
}

static void add_err(struct strbuf *errs, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void add_err(struct strbuf *errs, const char *name, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    strbuf_printf(errs, "%s: ", name);
    strbuf_vprintf(errs, fmt, ap);
    strbuf_putc(errs, '\n');
    va_end(ap);
}

static int parse_ll(const char *s, long long *out)
{
    if (!*s)
        return -1;
    errno = 0;
    char *end;
    long long v = strtoll(s, &end, 10);
    if (errno || *end || isspace((unsigned char)*s))
        return -1;
    *out = v;
    return 0;
}

static int parse_bool(const char *s, bool *out)
{
    static const struct {
        const char *text;
        bool value;
    } table[] = {{"1", true},  {"true", true},   {"yes", true}, {"on", true},
                 {"0", false}, {"false", false}, {"no", false}, {"off", false}};
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        if (strcasecmp(s, table[i].text) == 0) {
            *out = table[i].value;
            return 0;
        }
    }
    return -1;
}

/* Splits host:port or [v6]:port. Returns 0 and fills host (caller frees). */
static int parse_listen(const char *s, char **host, int *port)
{
    const char *colon;
    const char *hstart = s;
    size_t hlen;
    if (*s == '[') {
        const char *close = strchr(s, ']');
        if (!close || close[1] != ':')
            return -1;
        hstart = s + 1;
        hlen = (size_t)(close - hstart);
        colon = close + 1;
    } else {
        colon = strrchr(s, ':');
        if (!colon)
            return -1;
        hlen = (size_t)(colon - s);
    }
    if (hlen == 0 || hlen > 255)
        return -1;
    long long p;
    if (parse_ll(colon + 1, &p) < 0 || p < 0 || p > 65535)
        return -1;
    *host = strndup(hstart, hlen);
    if (!*host)
        return -1;
    *port = (int)p;
    return 0;
}

static int valid_url(const char *s)
{
    const char *rest;
    if (strncmp(s, "http://", 7) == 0)
        rest = s + 7;
    else if (strncmp(s, "https://", 8) == 0)
        rest = s + 8;
    else
        return 0;
    if (!*rest || *rest == '/')
        return 0;
    for (const char *p = s; *p; p++)
        if ((unsigned char)*p <= 0x20 || *p == '?' || *p == '#')
            return 0;
    return 1;
}

static int valid_org_id(const char *s)
{
    size_t n = strlen(s);
    if (n != 15 && n != 18)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]))
            return 0;
    return 1;
}

/* SYNKRO_LISTEN and SYNKRO_ADMIN_LISTEN: host:port (or "" when empty_ok) into *text (as
 * given), *host (parsed; NULL for "") and *port. */
static int parse_listen_var(const struct config_var *v, const char *value, bool empty_ok,
                            char **text, char **host_out, int *port_out, struct strbuf *errs)
{
    char *host = NULL;
    int port = 0;
    if ((*value || !empty_ok) && parse_listen(value, &host, &port) < 0) {
        add_err(errs, v->name, "'%s' is not host:port with a port from 0 to 65535", value);
        return -1;
    }
    char *copy = strdup(value);
    if (!copy) {
        free(host);
        add_err(errs, v->name, "out of memory");
        return -1;
    }
    free(*text);
    free(*host_out);
    *text = copy;
    *host_out = host;
    *port_out = port;
    return 0;
}

/* Parses one variable into cfg. Returns 0, or -1 after appending to errs. */
static int config_parse_var(struct config *cfg, const struct config_var *v, const char *value,
                            struct strbuf *errs)
{
    char *base = (char *)cfg;
    long long n;
    switch (v->type) {
    case CV_STR:
    case CV_DBURL:
    case CV_URL:
    case CV_ORGID: {
        if (v->type == CV_DBURL && !*value) {
            add_err(errs, v->name,
                    "is not set; give a libpq URL such as postgresql://user@host:5432/synkro");
            return -1;
        }
        if (v->type == CV_URL && *value && !valid_url(value)) {
            add_err(errs, v->name,
                    "'%s' is not an http:// or https:// URL with a host (and no query)", value);
            return -1;
        }
        if (v->type == CV_ORGID && *value && !valid_org_id(value)) {
            add_err(errs, v->name, "'%s' is not a 15- or 18-character Salesforce id", value);
            return -1;
        }
        if (!*value && v->def && *v->def) {
            add_err(errs, v->name, "is empty; unset it to use the default '%s'", v->def);
            return -1;
        }
        if (v->type == CV_STR && *value && v->min > 0 && (long long)strlen(value) < v->min) {
            add_err(errs, v->name, "is too short: at least %lld characters are required", v->min);
            return -1;
        }
        if (v->type == CV_STR && v->max > 0 && (long long)strlen(value) > v->max) {
            add_err(errs, v->name, "is too long: at most %lld characters are accepted", v->max);
            return -1;
        }
        char *copy = strdup(value);
        if (!copy) {
            add_err(errs, v->name, "out of memory");
            return -1;
        }
        if (v->type == CV_URL) {
            size_t len = strlen(copy);
            while (len > 0 && copy[len - 1] == '/')
                copy[--len] = '\0';
        }
        char **slot = (char **)(void *)(base + v->offset);
        free(*slot);
        *slot = copy;
        return 0;
    }
    case CV_INT:
    case CV_LLONG:
        if (parse_ll(value, &n) < 0) {
            add_err(errs, v->name, "'%s' is not an integer", value);
            return -1;
        }
        if (n < v->min || n > v->max) {
            add_err(errs, v->name, "'%s' is out of range (%lld to %lld)", value, v->min, v->max);
            return -1;
        }
        if (v->type == CV_INT)
            *(int *)(void *)(base + v->offset) = (int)n;
        else
            *(long long *)(void *)(base + v->offset) = n;
        return 0;
    case CV_BOOL:
        if (parse_bool(value, (bool *)(void *)(base + v->offset)) < 0) {
            add_err(errs, v->name, "'%s' is not a boolean (true/false, 1/0, yes/no, on/off)",
                    value);
            return -1;
        }
        return 0;
    case CV_LEVEL:
        if (log_parse_level(value, (enum log_level *)(void *)(base + v->offset)) < 0) {
            add_err(errs, v->name, "'%s' is not one of debug, info, warn, error", value);
            return -1;
        }
        return 0;
    case CV_ADMIN_LISTEN:
        return parse_listen_var(v, value, true, &cfg->admin_listen, &cfg->admin_listen_host,
                                &cfg->admin_listen_port, errs);
    case CV_LISTEN:
        return parse_listen_var(v, value, false, &cfg->listen, &cfg->listen_host, &cfg->listen_port,
                                errs);
    }
    return -1;
}

int config_load(struct config *cfg, config_lookup_fn lookup, void *ud, char *err, size_t errlen)
{
    memset(cfg, 0, sizeof *cfg);
    struct strbuf errs = STRBUF_INIT;
    int bad = 0;
    for (size_t i = 0; i < NVARS; i++) {
        const struct config_var *v = &config_vars[i];
        if (v->def && config_parse_var(cfg, v, v->def, &errs) < 0)
            bad++; /* a default that does not parse is a programming error */
        const char *value = lookup(v->name, ud);
        if (value && !*value)
            value = NULL; /* empty is unset: `NAME=` in an env file keeps the default */
        if (value) {
            if (config_parse_var(cfg, v, value, &errs) < 0)
                bad++;
        } else if (!v->def) {
            if (config_parse_var(cfg, v, "", &errs) < 0)
                bad++;
        }
    }
    if (!cfg->public_base_url || !*cfg->public_base_url) {
        struct strbuf url = STRBUF_INIT;
        bool v6 = cfg->listen_host && strchr(cfg->listen_host, ':');
        strbuf_printf(&url, "http://%s%s%s:%d", v6 ? "[" : "",
                      cfg->listen_host ? cfg->listen_host : "127.0.0.1", v6 ? "]" : "",
                      cfg->listen_port);
        free(cfg->public_base_url);
        cfg->public_base_url = strbuf_detach(&url, NULL);
    }
    if (err && errlen) {
        snprintf(err, errlen, "%s", strbuf_str(&errs));
        size_t len = strlen(err);
        if (len && err[len - 1] == '\n')
            err[len - 1] = '\0';
    }
    strbuf_free(&errs);
    return bad;
}

void config_free(struct config *cfg)
{
    for (size_t i = 0; i < NVARS; i++) {
        const struct config_var *v = &config_vars[i];
        if (v->type == CV_STR || v->type == CV_URL || v->type == CV_DBURL || v->type == CV_ORGID ||
            v->type == CV_LISTEN || v->type == CV_ADMIN_LISTEN) {
            char **slot = (char **)(void *)((char *)cfg + v->offset);
            free(*slot);
            *slot = NULL;
        }
    }
    free(cfg->listen_host);
    cfg->listen_host = NULL;
    free(cfg->admin_listen_host);
    cfg->admin_listen_host = NULL;
}

/* Finds the next password in a libpq URL ("scheme://user:PASSWORD@host") or
 * conninfo/URL query ("password = PASSWORD", optionally single-quoted) at or
 * after from. Returns 1 and the span [*start, *end) to mask, with quoted set
 * when the value is in quotes (the span then includes them). */
static int find_password_span(const char *url, size_t from, size_t *start, size_t *end,
                              bool *quoted)
{
    *quoted = false;
    if (from == 0) {
        const char *scheme = strstr(url, "://");
        if (scheme) {
            const char *auth = scheme + 3;
            size_t authlen = strcspn(auth, "/?");
            const char *at = memchr(auth, '@', authlen);
            const char *colon = at ? memchr(auth, ':', (size_t)(at - auth)) : NULL;
            if (colon) {
                *start = (size_t)(colon + 1 - url);
                *end = (size_t)(at - url);
                return 1;
            }
        }
    }
    for (const char *hit = strstr(url + from, "password"); hit; hit = strstr(hit + 8, "password")) {
        /* a keyword: at the start, or after a space, '?' or '&' */
        if (hit != url && !isspace((unsigned char)hit[-1]) && hit[-1] != '?' && hit[-1] != '&')
            continue;
        const char *p = hit + 8;
        while (isspace((unsigned char)*p))
            p++;
        if (*p != '=')
            continue;
        p++;
        while (isspace((unsigned char)*p))
            p++;
        *start = (size_t)(p - url);
        if (*p == '\'') {
            *quoted = true;
            p++;
            while (*p && *p != '\'') {
                if (*p == '\\' && p[1])
                    p++;
                p++;
            }
            if (*p)
                p++;
        } else {
            while (*p && !isspace((unsigned char)*p) && *p != '&')
                p++;
        }
        *end = (size_t)(p - url);
        return 1;
    }
    return 0;
}

void config_mask_database_url(const char *url, char *out, size_t outlen)
{
    struct strbuf sb = STRBUF_INIT;
    size_t pos = 0, start, end;
    bool quoted; /* quoted or not, the whole value becomes *** */
    while (find_password_span(url, pos, &start, &end, &quoted)) {
        strbuf_append(&sb, url + pos, start - pos);
        strbuf_puts(&sb, "***");
        pos = end;
        if (pos == 0)
            pos = 1; /* never loop on an empty span at 0 */
    }
    strbuf_puts(&sb, url + pos);
    snprintf(out, outlen, "%s", strbuf_str(&sb));
    strbuf_free(&sb);
}

static void config_value_text(const struct config *cfg, const struct config_var *v, char *out,
                              size_t outlen)
{
    const char *base = (const char *)cfg;
    switch (v->type) {
    case CV_STR:
    case CV_URL:
    case CV_ORGID:
    case CV_LISTEN:
    case CV_ADMIN_LISTEN: {
        const char *s = *(char *const *)(const void *)(base + v->offset);
        if (v->secret)
            snprintf(out, outlen, "%s", (s && *s) ? "***" : "(unset)");
        else
            snprintf(out, outlen, "%s", s ? s : "");
        return;
    }
    case CV_DBURL: {
        const char *s = *(char *const *)(const void *)(base + v->offset);
        config_mask_database_url(s ? s : "", out, outlen);
        return;
    }
    case CV_INT:
        snprintf(out, outlen, "%d", *(const int *)(const void *)(base + v->offset));
        return;
    case CV_LLONG:
        snprintf(out, outlen, "%lld", *(const long long *)(const void *)(base + v->offset));
        return;
    case CV_BOOL:
        snprintf(out, outlen, "%s",
                 *(const bool *)(const void *)(base + v->offset) ? "true" : "false");
        return;
    case CV_LEVEL:
        snprintf(out, outlen, "%s",
                 log_level_name(*(const enum log_level *)(const void *)(base + v->offset)));
        return;
    }
}

/* Whether value parses for v (into a scratch struct, freed here). */
static bool config_value_valid(const struct config_var *v, const char *value)
{
    struct config scratch;
    memset(&scratch, 0, sizeof scratch);
    struct strbuf errs = STRBUF_INIT;
    bool ok = config_parse_var(&scratch, v, value, &errs) == 0;
    strbuf_free(&errs);
    config_free(&scratch);
    return ok;
}

void config_print(const struct config *cfg, config_lookup_fn lookup, void *ud, FILE *out)
{
    for (size_t i = 0; i < NVARS; i++) {
        const struct config_var *v = &config_vars[i];
        const char *raw = lookup(v->name, ud);
        const char *origin = raw && *raw ? "set" : raw ? "empty, default" : "default";
        char text[1024];
        if (raw && *raw && !config_value_valid(v, raw)) {
            /* the value as given, never the default it fell back to */
            snprintf(text, sizeof text, "%s", v->secret ? "***" : raw);
            if (v->type == CV_DBURL)
                config_mask_database_url(raw, text, sizeof text);
            origin = "INVALID";
        } else {
            config_value_text(cfg, v, text, sizeof text);
        }
        /* Defence in depth: nothing registered as a secret may be printed. */
        log_mask_secrets(text);
        fprintf(out, "%s=%s  # %s\n", v->name, text, origin);
    }
}

static bool is_set(const char *s)
{
    return s && *s;
}

int config_check_combinations(const struct config *cfg, char *warn, size_t warnlen, char *err,
                              size_t errlen)
{
    struct strbuf w = STRBUF_INIT, e = STRBUF_INIT;
    int bad = 0;
    bool hs = is_set(cfg->hubspot_access_token) ||
              (is_set(cfg->hubspot_client_id) && is_set(cfg->hubspot_refresh_token));
    bool sf = is_set(cfg->salesforce_client_id) &&
              (is_set(cfg->salesforce_refresh_token) || is_set(cfg->salesforce_jwt_key_file));
    if (!hs)
        add_err(&w, "HUBSPOT_ACCESS_TOKEN",
                "no HubSpot API credentials: webhooks are received but nothing syncs; set "
                "HUBSPOT_ACCESS_TOKEN (private app) or HUBSPOT_CLIENT_ID with "
                "HUBSPOT_REFRESH_TOKEN (OAuth app)");
    if (!sf)
        add_err(&w, "SALESFORCE_CLIENT_ID",
                "no Salesforce API credentials: outbound messages are received but nothing "
                "syncs; set SALESFORCE_CLIENT_ID with SALESFORCE_REFRESH_TOKEN (and "
                "SALESFORCE_CLIENT_SECRET) or SALESFORCE_USERNAME with SALESFORCE_JWT_KEY_FILE");
    if (!is_set(cfg->secret_key)) {
        if (is_set(cfg->salesforce_refresh_token) && !is_set(cfg->salesforce_jwt_key_file)) {
            add_err(&e, "SYNKRO_SECRET_KEY",
                    "is not set, but the Salesforce refresh-token flow stores rotated tokens "
                    "encrypted with it; generate one with `openssl rand -hex 32` and keep it "
                    "with your backups");
            bad++;
        }
        if (is_set(cfg->hubspot_refresh_token) && !is_set(cfg->hubspot_access_token)) {
            add_err(&e, "SYNKRO_SECRET_KEY",
                    "is not set, but the HubSpot OAuth refresh flow stores tokens encrypted "
                    "with it; generate one with `openssl rand -hex 32` and keep it with your "
                    "backups");
            bad++;
        }
    }
    if (warn && warnlen)
        snprintf(warn, warnlen, "%s", strbuf_str(&w));
    if (err && errlen)
        snprintf(err, errlen, "%s", strbuf_str(&e));
    strbuf_free(&w);
    strbuf_free(&e);
    return bad;
}

void config_register_secrets(const struct config *cfg)
{
    for (size_t i = 0; i < NVARS; i++) {
        const struct config_var *v = &config_vars[i];
        if (!v->secret)
            continue;
        const char *s = *(char *const *)(const void *)((const char *)cfg + v->offset);
        if (s && *s)
            log_add_secret(s);
    }
    /* the database password(s), in URL form or as password=... (unquoted
     * and unescaped, as it would appear in any message) */
    const char *url = cfg->database_url;
    size_t pos = 0, start, end;
    bool quoted;
    while (url && find_password_span(url, pos, &start, &end, &quoted)) {
        char *pw = strndup(url + start, end - start);
        if (pw && quoted) {
            size_t len = strlen(pw), o = 0;
            size_t stop = len > 1 && pw[len - 1] == '\'' ? len - 1 : len;
            for (size_t i = 1; i < stop; i++) {
                if (pw[i] == '\\' && i + 1 < stop)
                    i++;
                pw[o++] = pw[i];
            }
            pw[o] = '\0';
        }
        if (pw) {
            log_add_secret(pw);
            free(pw);
        }
        pos = end ? end : 1;
    }
}

void config_print_markdown(FILE *out)
{
    fprintf(out, "| Variable | Default | Description |\n|---|---|---|\n");
    for (size_t i = 0; i < NVARS; i++) {
        const struct config_var *v = &config_vars[i];
        fprintf(out, "| `%s` | %s%s%s | %s%s |\n", v->name, v->def && *v->def ? "`" : "",
                v->def ? (*v->def ? v->def : "(unset)") : "(required)",
                v->def && *v->def ? "`" : "", v->secret ? "**Secret.** " : "", v->doc);
    }
}
