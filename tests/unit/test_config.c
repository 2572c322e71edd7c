/* test_config.c: unit tests for server/config (environment table, parsers, masking).
 *
 * Feeds config_load() through a lookup function over a small array, never the real
 * environment, and checks defaults, every variable's good and bad values with the exact error
 * text, the derived public base URL, and that config_print/config_register_secrets never let a
 * secret or the database password through. The table may grow while these tests stand: the
 * variables listed here must be in it, in this order, and print/Markdown are checked against
 * whatever the table holds. Must not read the process environment. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <libpq-fe.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/config.h"
#include "base/log.h"

#define GOOD_DB "postgresql://synkro@localhost:5432/synkro"

/* Every variable these tests know, in table order (the table may hold more). */
static const struct known_var {
    const char *name;
    bool secret;
} all_vars[] = {
    {"DATABASE_URL", false},
    {"SYNKRO_LISTEN", false},
    {"SYNKRO_HTTP_THREADS", false},
    {"SYNKRO_HTTP_MAX_CONNECTIONS", false},
    {"SYNKRO_HTTP_TIMEOUT_S", false},
    {"SYNKRO_MAX_BODY_BYTES", false},
    {"LOG_LEVEL", false},
    {"SYNKRO_PUBLIC_BASE_URL", false},
    {"SYNKRO_ADMIN_TOKEN", true},
    {"SYNKRO_DB_POOL_SIZE", false},
    {"SYNKRO_DB_STATEMENT_TIMEOUT_MS", false},
    {"SYNKRO_DB_CONNECT_TIMEOUT_S", false},
    {"SYNKRO_MIGRATE_ON_START", false},
    {"SYNKRO_SHUTDOWN_GRACE_MS", false},
    {"SALESFORCE_ORG_ID", false},
    {"SYNKRO_SF_ENDPOINT_TOKEN", true},
    {"HUBSPOT_CLIENT_SECRET", true},
    {"HUBSPOT_PORTAL_ID", false},
    {"SYNKRO_HUBSPOT_REQUIRE_V3", false},
    {"SYNKRO_HUBSPOT_SKIP_OWN_WRITES", false},
    {"SYNKRO_INGEST_BATCH_MAX", false},
    {"SYNKRO_INGEST_WRITERS", false},
    {"HUBSPOT_API_BASE", false},
    {"HUBSPOT_ACCESS_TOKEN", true},
    {"HUBSPOT_CLIENT_ID", false},
    {"HUBSPOT_REFRESH_TOKEN", true},
    {"HUBSPOT_RATE_LIMIT_PER_10S", false},
    {"HUBSPOT_SEARCH_RATE_PER_S", false},
    {"SALESFORCE_LOGIN_URL", false},
    {"SALESFORCE_API_VERSION", false},
    {"SALESFORCE_CLIENT_ID", false},
    {"SALESFORCE_CLIENT_SECRET", true},
    {"SALESFORCE_REFRESH_TOKEN", true},
    {"SALESFORCE_USERNAME", false},
    {"SALESFORCE_JWT_KEY_FILE", false},
    {"SALESFORCE_API_USAGE_MAX_PERCENT", false},
    {"SYNKRO_SECRET_KEY", true},
    {"SYNKRO_CRM_TIMEOUT_MS", false},
    {"SYNKRO_CRM_CONNECT_TIMEOUT_MS", false},
};
#define NALL (sizeof all_vars / sizeof all_vars[0])

struct kv {
    const char *name;
    const char *value;
};

/* A fake environment: a NULL-name-terminated array, plus a record of what was asked. */
struct fake_env {
    const struct kv *vars;
    const char *asked[256];
    size_t nasked;
};

static const char *fake_lookup(const char *name, void *ud)
{
    struct fake_env *env = ud;
    if (env->nasked < sizeof env->asked / sizeof env->asked[0])
        env->asked[env->nasked++] = name;
    for (const struct kv *v = env->vars; v && v->name; v++)
        if (strcmp(v->name, name) == 0)
            return v->value;
    return NULL;
}

static int load(struct config *cfg, const struct kv *vars, char *err, size_t errlen)
{
    struct fake_env env = {.vars = vars};
    return config_load(cfg, fake_lookup, &env, err, errlen);
}

/* Reads a whole stream written with open_memstream. */
struct memout {
    FILE *f;
    char *buf;
    size_t len;
};

static void memout_open(struct memout *m)
{
    m->buf = NULL;
    m->len = 0;
    m->f = open_memstream(&m->buf, &m->len);
    assert_non_null(m->f);
}

static void memout_close(struct memout *m)
{
    assert_int_equal(fclose(m->f), 0);
    m->f = NULL;
}

static int teardown_secrets(void **state)
{
    (void)state;
    log_clear_secrets();
    log_set_fd(2);
    log_set_level(LOG_LEVEL_INFO);
    return 0;
}

/* The variable names of the table, in order, as config_load asks for them. */
static size_t table_names(const char **names, size_t max)
{
    const struct kv vars[] = {{"DATABASE_URL", GOOD_DB}, {NULL, NULL}};
    struct fake_env env = {.vars = vars};
    struct config cfg;
    char err[512];
    assert_int_equal(config_load(&cfg, fake_lookup, &env, err, sizeof err), 0);
    config_free(&cfg);
    assert_true(env.nasked < sizeof env.asked / sizeof env.asked[0]);
    assert_true(env.nasked <= max);
    for (size_t i = 0; i < env.nasked; i++)
        names[i] = env.asked[i];
    return env.nasked;
}

static void test_reads_the_table_variables(void **state)
{
    (void)state;
    const char *names[256];
    size_t n = table_names(names, 256);
    assert_true(n >= NALL);
    /* each name once */
    for (size_t i = 0; i < n; i++)
        for (size_t j = i + 1; j < n; j++)
            assert_string_not_equal(names[i], names[j]);
    /* every known variable, in table order */
    size_t k = 0;
    for (size_t i = 0; i < n && k < NALL; i++)
        if (strcmp(names[i], all_vars[k].name) == 0)
            k++;
    if (k != NALL)
        fail_msg("%s is not in the table (or out of order)", all_vars[k].name);
}

static void test_defaults(void **state)
{
    (void)state;
    const struct kv vars[] = {{"DATABASE_URL", GOOD_DB}, {NULL, NULL}};
    struct config cfg;
    char err[512] = "untouched";
    assert_int_equal(load(&cfg, vars, err, sizeof err), 0);
    assert_string_equal(err, "");
    assert_string_equal(cfg.database_url, GOOD_DB);
    assert_string_equal(cfg.listen, "127.0.0.1:8080");
    assert_string_equal(cfg.listen_host, "127.0.0.1");
    assert_int_equal(cfg.listen_port, 8080);
    assert_int_equal(cfg.http_threads, 64);
    assert_int_equal(cfg.http_max_connections, 1024);
    assert_int_equal(cfg.http_timeout_s, 30);
    assert_int_equal(cfg.max_body_bytes, 4194304);
    assert_int_equal(cfg.log_level, LOG_LEVEL_INFO);
    assert_string_equal(cfg.public_base_url, "http://127.0.0.1:8080");
    assert_string_equal(cfg.admin_token, "");
    assert_int_equal(cfg.db_pool_size, 8);
    assert_int_equal(cfg.db_statement_timeout_ms, 5000);
    assert_int_equal(cfg.db_connect_timeout_s, 5);
    assert_true(cfg.migrate_on_start);
    assert_int_equal(cfg.shutdown_grace_ms, 10000);
    assert_string_equal(cfg.salesforce_org_id, "");
    assert_string_equal(cfg.sf_endpoint_token, "");
    assert_string_equal(cfg.hubspot_client_secret, "");
    assert_int_equal(cfg.hubspot_portal_id, 0);
    assert_false(cfg.hubspot_require_v3);
    assert_int_equal(cfg.ingest_batch_max, 2000);
    assert_int_equal(cfg.ingest_writers, 2);
    assert_int_equal(cfg.malloc_arenas, 2);
    assert_string_equal(cfg.hubspot_api_base, "https://api.hubapi.com");
    assert_string_equal(cfg.hubspot_access_token, "");
    assert_string_equal(cfg.hubspot_client_id, "");
    assert_string_equal(cfg.hubspot_refresh_token, "");
    assert_int_equal(cfg.hubspot_rate_per_10s, 190);
    assert_int_equal(cfg.hubspot_search_rate_per_s, 5);
    assert_string_equal(cfg.salesforce_login_url, "https://login.salesforce.com");
    assert_string_equal(cfg.salesforce_api_version, "v62.0");
    assert_string_equal(cfg.salesforce_client_id, "");
    assert_string_equal(cfg.salesforce_client_secret, "");
    assert_string_equal(cfg.salesforce_refresh_token, "");
    assert_string_equal(cfg.salesforce_username, "");
    assert_string_equal(cfg.salesforce_jwt_key_file, "");
    assert_int_equal(cfg.salesforce_api_usage_max_percent, 80);
    assert_string_equal(cfg.secret_key, "");
    assert_int_equal(cfg.crm_timeout_ms, 30000);
    assert_int_equal(cfg.crm_connect_timeout_ms, 5000);
    config_free(&cfg);
    assert_null(cfg.database_url);
    assert_null(cfg.secret_key);
    assert_null(cfg.listen_host);
    config_free(&cfg); /* twice is harmless */
}

static void test_every_variable_good(void **state)
{
    (void)state;
    const struct kv vars[] = {
        {"DATABASE_URL", "host=db dbname=synkro"},
        {"SYNKRO_LISTEN", "0.0.0.0:9090"},
        {"SYNKRO_HTTP_THREADS", "4"},
        {"SYNKRO_HTTP_MAX_CONNECTIONS", "65536"},
        {"SYNKRO_HTTP_TIMEOUT_S", "3600"},
        {"SYNKRO_MAX_BODY_BYTES", "1024"},
        {"LOG_LEVEL", "WARNING"},
        {"SYNKRO_PUBLIC_BASE_URL", "https://sync.example.com/base"},
        {"SYNKRO_ADMIN_TOKEN", "0123456789abcdef"},
        {"SYNKRO_DB_POOL_SIZE", "256"},
        {"SYNKRO_DB_STATEMENT_TIMEOUT_MS", "100"},
        {"SYNKRO_DB_CONNECT_TIMEOUT_S", "300"},
        {"SYNKRO_MIGRATE_ON_START", "off"},
        {"SYNKRO_SHUTDOWN_GRACE_MS", "0"},
        {"SALESFORCE_ORG_ID", "00D5g000004abcdEAA"},
        {"SYNKRO_SF_ENDPOINT_TOKEN", "sf-endpoint-token-0001"},
        {"HUBSPOT_CLIENT_SECRET", "12345678"},
        {"HUBSPOT_PORTAL_ID", "9223372036854775807"},
        {"SYNKRO_HUBSPOT_REQUIRE_V3", "YES"},
        {"SYNKRO_INGEST_BATCH_MAX", "100000"},
        {"SYNKRO_INGEST_WRITERS", "32"},
        {"HUBSPOT_API_BASE", "http://127.0.0.1:9999/hs/"},
        {"HUBSPOT_ACCESS_TOKEN", "pat-na1-12345678"},
        {"HUBSPOT_CLIENT_ID", "c"},
        {"HUBSPOT_REFRESH_TOKEN", "refresh1"},
        {"HUBSPOT_RATE_LIMIT_PER_10S", "100000"},
        {"HUBSPOT_SEARCH_RATE_PER_S", "1"},
        {"SALESFORCE_LOGIN_URL", "https://test.salesforce.com"},
        {"SALESFORCE_API_VERSION", "v59.0"},
        {"SALESFORCE_CLIENT_ID", "3MVG9consumerkey"},
        {"SALESFORCE_CLIENT_SECRET", "sfsecret"},
        {"SALESFORCE_REFRESH_TOKEN", "5Aep861refresh"},
        {"SALESFORCE_USERNAME", "integration@example.com"},
        {"SALESFORCE_JWT_KEY_FILE", "/etc/synkro/sf.pem"},
        {"SALESFORCE_API_USAGE_MAX_PERCENT", "100"},
        {"SYNKRO_SECRET_KEY", "0123456789abcdef0123456789abcdef"},
        {"SYNKRO_CRM_TIMEOUT_MS", "100"},
        {"SYNKRO_CRM_CONNECT_TIMEOUT_MS", "60000"},
        {NULL, NULL},
    };
    struct config cfg;
    char err[512];
    assert_int_equal(load(&cfg, vars, err, sizeof err), 0);
    assert_string_equal(err, "");
    assert_string_equal(cfg.database_url, "host=db dbname=synkro");
    assert_string_equal(cfg.listen, "0.0.0.0:9090");
    assert_string_equal(cfg.listen_host, "0.0.0.0");
    assert_int_equal(cfg.listen_port, 9090);
    assert_int_equal(cfg.http_threads, 4);
    assert_int_equal(cfg.http_max_connections, 65536);
    assert_int_equal(cfg.http_timeout_s, 3600);
    assert_int_equal(cfg.max_body_bytes, 1024);
    assert_int_equal(cfg.log_level, LOG_LEVEL_WARN);
    assert_string_equal(cfg.public_base_url, "https://sync.example.com/base");
    assert_string_equal(cfg.admin_token, "0123456789abcdef");
    assert_int_equal(cfg.db_pool_size, 256);
    assert_int_equal(cfg.db_statement_timeout_ms, 100);
    assert_int_equal(cfg.db_connect_timeout_s, 300);
    assert_false(cfg.migrate_on_start);
    assert_int_equal(cfg.shutdown_grace_ms, 0);
    assert_string_equal(cfg.salesforce_org_id, "00D5g000004abcdEAA");
    assert_string_equal(cfg.sf_endpoint_token, "sf-endpoint-token-0001");
    assert_string_equal(cfg.hubspot_client_secret, "12345678");
    assert_true(cfg.hubspot_portal_id == INT64_MAX);
    assert_true(cfg.hubspot_require_v3);
    assert_int_equal(cfg.ingest_batch_max, 100000);
    assert_int_equal(cfg.ingest_writers, 32);
    assert_string_equal(cfg.hubspot_api_base, "http://127.0.0.1:9999/hs");
    assert_string_equal(cfg.hubspot_access_token, "pat-na1-12345678");
    assert_string_equal(cfg.hubspot_client_id, "c");
    assert_string_equal(cfg.hubspot_refresh_token, "refresh1");
    assert_int_equal(cfg.hubspot_rate_per_10s, 100000);
    assert_int_equal(cfg.hubspot_search_rate_per_s, 1);
    assert_string_equal(cfg.salesforce_login_url, "https://test.salesforce.com");
    assert_string_equal(cfg.salesforce_api_version, "v59.0");
    assert_string_equal(cfg.salesforce_client_id, "3MVG9consumerkey");
    assert_string_equal(cfg.salesforce_client_secret, "sfsecret");
    assert_string_equal(cfg.salesforce_refresh_token, "5Aep861refresh");
    assert_string_equal(cfg.salesforce_username, "integration@example.com");
    assert_string_equal(cfg.salesforce_jwt_key_file, "/etc/synkro/sf.pem");
    assert_int_equal(cfg.salesforce_api_usage_max_percent, 100);
    assert_string_equal(cfg.secret_key, "0123456789abcdef0123456789abcdef");
    assert_int_equal(cfg.crm_timeout_ms, 100);
    assert_int_equal(cfg.crm_connect_timeout_ms, 60000);
    config_free(&cfg);
}

/* Accepted values other than the obvious ones: range ends, bool/level spellings. */
static void test_more_good_values(void **state)
{
    (void)state;
    static const struct {
        const char *name, *value;
    } cases[] = {
        {"SYNKRO_HTTP_THREADS", "1"},
        {"SYNKRO_HTTP_THREADS", "256"},
        {"SYNKRO_HTTP_MAX_CONNECTIONS", "1"},
        {"SYNKRO_HTTP_TIMEOUT_S", "1"},
        {"SYNKRO_MAX_BODY_BYTES", "268435456"},
        {"SYNKRO_DB_POOL_SIZE", "1"},
        {"SYNKRO_DB_STATEMENT_TIMEOUT_MS", "600000"},
        {"SYNKRO_DB_CONNECT_TIMEOUT_S", "1"},
        {"SYNKRO_SHUTDOWN_GRACE_MS", "600000"},
        {"HUBSPOT_PORTAL_ID", "0"},
        {"SYNKRO_INGEST_BATCH_MAX", "1"},
        {"SYNKRO_LISTEN", "localhost:0"},
        {"SYNKRO_LISTEN", "h:65535"},
        {"SALESFORCE_ORG_ID", "00D5g000004abcd"},
        {"SYNKRO_MIGRATE_ON_START", "1"},
        {"SYNKRO_MIGRATE_ON_START", "TRUE"},
        {"SYNKRO_MIGRATE_ON_START", "no"},
        {"SYNKRO_HUBSPOT_REQUIRE_V3", "On"},
        {"SYNKRO_HUBSPOT_REQUIRE_V3", "0"},
        {"LOG_LEVEL", "debug"},
        {"LOG_LEVEL", "Error"},
        {"SYNKRO_PUBLIC_BASE_URL", "http://h"},
        {"SYNKRO_PUBLIC_BASE_URL", ""},
        {"SYNKRO_ADMIN_TOKEN", ""},
        {"SYNKRO_INGEST_WRITERS", "1"},
        {"HUBSPOT_RATE_LIMIT_PER_10S", "1"},
        {"HUBSPOT_SEARCH_RATE_PER_S", "1000"},
        {"SALESFORCE_API_VERSION", "v9.0"},
        {"SALESFORCE_API_VERSION", "v1234567890123.0"},
        {"SALESFORCE_API_USAGE_MAX_PERCENT", "1"},
        {"SYNKRO_CRM_TIMEOUT_MS", "600000"},
        {"SYNKRO_CRM_CONNECT_TIMEOUT_MS", "100"},
        {"HUBSPOT_ACCESS_TOKEN", "12345678"},
        {"SALESFORCE_LOGIN_URL", "https://mydomain.my.salesforce.com"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const struct kv vars[] = {
            {"DATABASE_URL", GOOD_DB}, {cases[i].name, cases[i].value}, {NULL, NULL}};
        struct config cfg;
        char err[512];
        int rc = load(&cfg, vars, err, sizeof err);
        if (rc != 0)
            fail_msg("%s=%s refused: %s", cases[i].name, cases[i].value, err);
        config_free(&cfg);
    }
}

static void test_parsed_values_of_spellings(void **state)
{
    (void)state;
    struct config cfg;
    char err[256];
    const struct kv a[] = {{"DATABASE_URL", GOOD_DB},         {"LOG_LEVEL", "DEBUG"},
                           {"SYNKRO_MIGRATE_ON_START", "No"}, {"SYNKRO_HUBSPOT_REQUIRE_V3", "on"},
                           {"SYNKRO_LISTEN", "localhost:0"},  {NULL, NULL}};
    assert_int_equal(load(&cfg, a, err, sizeof err), 0);
    assert_int_equal(cfg.log_level, LOG_LEVEL_DEBUG);
    assert_false(cfg.migrate_on_start);
    assert_true(cfg.hubspot_require_v3);
    assert_string_equal(cfg.listen_host, "localhost");
    assert_int_equal(cfg.listen_port, 0);
    assert_string_equal(cfg.public_base_url, "http://localhost:0");
    config_free(&cfg);

    const struct kv b[] = {{"DATABASE_URL", GOOD_DB}, {"LOG_LEVEL", "error"}, {NULL, NULL}};
    assert_int_equal(load(&cfg, b, err, sizeof err), 0);
    assert_int_equal(cfg.log_level, LOG_LEVEL_ERROR);
    config_free(&cfg);
}

/* One bad value: exactly one error, with this exact text, and the default kept. */
static void test_bad_values(void **state)
{
    (void)state;
    static const struct {
        const char *name, *value, *message;
    } cases[] = {
        {"SYNKRO_HTTP_THREADS", "abc", "SYNKRO_HTTP_THREADS: 'abc' is not an integer"},
        {"SYNKRO_HTTP_THREADS", " 4", "SYNKRO_HTTP_THREADS: ' 4' is not an integer"},
        {"SYNKRO_HTTP_THREADS", "4 ", "SYNKRO_HTTP_THREADS: '4 ' is not an integer"},
        {"SYNKRO_HTTP_THREADS", "1.5", "SYNKRO_HTTP_THREADS: '1.5' is not an integer"},
        {"SYNKRO_HTTP_THREADS", "0x10", "SYNKRO_HTTP_THREADS: '0x10' is not an integer"},
        {"SYNKRO_HTTP_THREADS", "0", "SYNKRO_HTTP_THREADS: '0' is out of range (1 to 256)"},
        {"SYNKRO_HTTP_THREADS", "257", "SYNKRO_HTTP_THREADS: '257' is out of range (1 to 256)"},
        {"SYNKRO_HTTP_THREADS", "99999999999",
         "SYNKRO_HTTP_THREADS: '99999999999' is out of range (1 to 256)"},
        {"SYNKRO_HTTP_MAX_CONNECTIONS", "0",
         "SYNKRO_HTTP_MAX_CONNECTIONS: '0' is out of range (1 to 65536)"},
        {"SYNKRO_HTTP_MAX_CONNECTIONS", "65537",
         "SYNKRO_HTTP_MAX_CONNECTIONS: '65537' is out of range (1 to 65536)"},
        {"SYNKRO_HTTP_TIMEOUT_S", "0", "SYNKRO_HTTP_TIMEOUT_S: '0' is out of range (1 to 3600)"},
        {"SYNKRO_HTTP_TIMEOUT_S", "3601",
         "SYNKRO_HTTP_TIMEOUT_S: '3601' is out of range (1 to 3600)"},
        {"SYNKRO_HTTP_TIMEOUT_S", "30s", "SYNKRO_HTTP_TIMEOUT_S: '30s' is not an integer"},
        {"SYNKRO_MAX_BODY_BYTES", "1023",
         "SYNKRO_MAX_BODY_BYTES: '1023' is out of range (1024 to 268435456)"},
        {"SYNKRO_MAX_BODY_BYTES", "268435457",
         "SYNKRO_MAX_BODY_BYTES: '268435457' is out of range (1024 to 268435456)"},
        {"SYNKRO_MAX_BODY_BYTES", "4M", "SYNKRO_MAX_BODY_BYTES: '4M' is not an integer"},
        {"LOG_LEVEL", "verbose", "LOG_LEVEL: 'verbose' is not one of debug, info, warn, error"},
        {"LOG_LEVEL", "info ", "LOG_LEVEL: 'info ' is not one of debug, info, warn, error"},
        {"SYNKRO_PUBLIC_BASE_URL", "ftp://x",
         "SYNKRO_PUBLIC_BASE_URL: 'ftp://x' is not an http:// or https:// URL with a host (and "
         "no query)"},
        {"SYNKRO_PUBLIC_BASE_URL", "http://",
         "SYNKRO_PUBLIC_BASE_URL: 'http://' is not an http:// or https:// URL with a host (and "
         "no query)"},
        {"SYNKRO_PUBLIC_BASE_URL", "https://",
         "SYNKRO_PUBLIC_BASE_URL: 'https://' is not an http:// or https:// URL with a host (and "
         "no query)"},
        {"SYNKRO_PUBLIC_BASE_URL", "http:///path",
         "SYNKRO_PUBLIC_BASE_URL: 'http:///path' is not an http:// or https:// URL with a host "
         "(and no query)"},
        {"SYNKRO_PUBLIC_BASE_URL", "https://h.example/x?a=1",
         "SYNKRO_PUBLIC_BASE_URL: 'https://h.example/x?a=1' is not an http:// or https:// URL "
         "with a host (and no query)"},
        {"SYNKRO_PUBLIC_BASE_URL", "https://h.example/#top",
         "SYNKRO_PUBLIC_BASE_URL: 'https://h.example/#top' is not an http:// or https:// URL "
         "with a host (and no query)"},
        {"SYNKRO_PUBLIC_BASE_URL", "https://h.example/a b",
         "SYNKRO_PUBLIC_BASE_URL: 'https://h.example/a b' is not an http:// or https:// URL "
         "with a host (and no query)"},
        {"SYNKRO_PUBLIC_BASE_URL", "sync.example.com",
         "SYNKRO_PUBLIC_BASE_URL: 'sync.example.com' is not an http:// or https:// URL with a "
         "host (and no query)"},
        {"SYNKRO_ADMIN_TOKEN", "0123456789abcde",
         "SYNKRO_ADMIN_TOKEN: is too short: at least 16 characters are required"},
        {"SYNKRO_DB_POOL_SIZE", "0", "SYNKRO_DB_POOL_SIZE: '0' is out of range (1 to 256)"},
        {"SYNKRO_DB_POOL_SIZE", "257", "SYNKRO_DB_POOL_SIZE: '257' is out of range (1 to 256)"},
        {"SYNKRO_DB_POOL_SIZE", "-1", "SYNKRO_DB_POOL_SIZE: '-1' is out of range (1 to 256)"},
        {"SYNKRO_DB_STATEMENT_TIMEOUT_MS", "99",
         "SYNKRO_DB_STATEMENT_TIMEOUT_MS: '99' is out of range (100 to 600000)"},
        {"SYNKRO_DB_STATEMENT_TIMEOUT_MS", "600001",
         "SYNKRO_DB_STATEMENT_TIMEOUT_MS: '600001' is out of range (100 to 600000)"},
        {"SYNKRO_DB_CONNECT_TIMEOUT_S", "0",
         "SYNKRO_DB_CONNECT_TIMEOUT_S: '0' is out of range (1 to 300)"},
        {"SYNKRO_DB_CONNECT_TIMEOUT_S", "301",
         "SYNKRO_DB_CONNECT_TIMEOUT_S: '301' is out of range (1 to 300)"},
        {"SYNKRO_MIGRATE_ON_START", "maybe",
         "SYNKRO_MIGRATE_ON_START: 'maybe' is not a boolean (true/false, 1/0, yes/no, on/off)"},
        {"SYNKRO_MIGRATE_ON_START", "2",
         "SYNKRO_MIGRATE_ON_START: '2' is not a boolean (true/false, 1/0, yes/no, on/off)"},
        {"SYNKRO_SHUTDOWN_GRACE_MS", "-1",
         "SYNKRO_SHUTDOWN_GRACE_MS: '-1' is out of range (0 to 600000)"},
        {"SYNKRO_SHUTDOWN_GRACE_MS", "600001",
         "SYNKRO_SHUTDOWN_GRACE_MS: '600001' is out of range (0 to 600000)"},
        {"SALESFORCE_ORG_ID", "00D5g000004abc",
         "SALESFORCE_ORG_ID: '00D5g000004abc' is not a 15- or 18-character Salesforce id"},
        {"SALESFORCE_ORG_ID", "00D5g000004abcdE",
         "SALESFORCE_ORG_ID: '00D5g000004abcdE' is not a 15- or 18-character Salesforce id"},
        {"SALESFORCE_ORG_ID", "00D5g000004abcdEA",
         "SALESFORCE_ORG_ID: '00D5g000004abcdEA' is not a 15- or 18-character Salesforce id"},
        {"SALESFORCE_ORG_ID", "00D5g000004abcdEAAA",
         "SALESFORCE_ORG_ID: '00D5g000004abcdEAAA' is not a 15- or 18-character Salesforce id"},
        {"SALESFORCE_ORG_ID", "00D5g-00004abcd",
         "SALESFORCE_ORG_ID: '00D5g-00004abcd' is not a 15- or 18-character Salesforce id"},
        {"SALESFORCE_ORG_ID", "00D5g00000 abcd",
         "SALESFORCE_ORG_ID: '00D5g00000 abcd' is not a 15- or 18-character Salesforce id"},
        {"SYNKRO_SF_ENDPOINT_TOKEN", "short-token-15c",
         "SYNKRO_SF_ENDPOINT_TOKEN: is too short: at least 16 characters are required"},
        {"HUBSPOT_CLIENT_SECRET", "1234567",
         "HUBSPOT_CLIENT_SECRET: is too short: at least 8 characters are required"},
        {"HUBSPOT_PORTAL_ID", "-1",
         "HUBSPOT_PORTAL_ID: '-1' is out of range (0 to 9223372036854775807)"},
        {"HUBSPOT_PORTAL_ID", "9223372036854775808",
         "HUBSPOT_PORTAL_ID: '9223372036854775808' is not an integer"},
        {"HUBSPOT_PORTAL_ID", "12ab", "HUBSPOT_PORTAL_ID: '12ab' is not an integer"},
        {"SYNKRO_HUBSPOT_REQUIRE_V3", "v3",
         "SYNKRO_HUBSPOT_REQUIRE_V3: 'v3' is not a boolean (true/false, 1/0, yes/no, on/off)"},
        {"SYNKRO_INGEST_BATCH_MAX", "0",
         "SYNKRO_INGEST_BATCH_MAX: '0' is out of range (1 to 100000)"},
        {"SYNKRO_INGEST_BATCH_MAX", "100001",
         "SYNKRO_INGEST_BATCH_MAX: '100001' is out of range (1 to 100000)"},
        {"DATABASE_URL", "",
         "DATABASE_URL: is not set; give a libpq URL such as "
         "postgresql://user@host:5432/synkro"},
        {"SYNKRO_INGEST_WRITERS", "0", "SYNKRO_INGEST_WRITERS: '0' is out of range (1 to 32)"},
        {"SYNKRO_INGEST_WRITERS", "33", "SYNKRO_INGEST_WRITERS: '33' is out of range (1 to 32)"},
        {"HUBSPOT_API_BASE", "ftp://api.hubapi.com",
         "HUBSPOT_API_BASE: 'ftp://api.hubapi.com' is not an http:// or https:// URL with a host "
         "(and no query)"},
        {"HUBSPOT_API_BASE", "https://api.hubapi.com?x=1",
         "HUBSPOT_API_BASE: 'https://api.hubapi.com?x=1' is not an http:// or https:// URL with a "
         "host (and no query)"},
        {"HUBSPOT_ACCESS_TOKEN", "1234567",
         "HUBSPOT_ACCESS_TOKEN: is too short: at least 8 characters are required"},
        {"HUBSPOT_REFRESH_TOKEN", "short",
         "HUBSPOT_REFRESH_TOKEN: is too short: at least 8 characters are required"},
        {"HUBSPOT_RATE_LIMIT_PER_10S", "0",
         "HUBSPOT_RATE_LIMIT_PER_10S: '0' is out of range (1 to 100000)"},
        {"HUBSPOT_RATE_LIMIT_PER_10S", "100001",
         "HUBSPOT_RATE_LIMIT_PER_10S: '100001' is out of range (1 to 100000)"},
        {"HUBSPOT_SEARCH_RATE_PER_S", "0",
         "HUBSPOT_SEARCH_RATE_PER_S: '0' is out of range (1 to 1000)"},
        {"HUBSPOT_SEARCH_RATE_PER_S", "1001",
         "HUBSPOT_SEARCH_RATE_PER_S: '1001' is out of range (1 to 1000)"},
        {"SALESFORCE_LOGIN_URL", "login.salesforce.com",
         "SALESFORCE_LOGIN_URL: 'login.salesforce.com' is not an http:// or https:// URL with a "
         "host (and no query)"},
        {"SALESFORCE_API_VERSION", "v62",
         "SALESFORCE_API_VERSION: is too short: at least 4 characters are required"},
        {"SALESFORCE_CLIENT_SECRET", "1234567",
         "SALESFORCE_CLIENT_SECRET: is too short: at least 8 characters are required"},
        {"SALESFORCE_REFRESH_TOKEN", "1234567",
         "SALESFORCE_REFRESH_TOKEN: is too short: at least 8 characters are required"},
        {"SALESFORCE_API_USAGE_MAX_PERCENT", "0",
         "SALESFORCE_API_USAGE_MAX_PERCENT: '0' is out of range (1 to 100)"},
        {"SALESFORCE_API_USAGE_MAX_PERCENT", "101",
         "SALESFORCE_API_USAGE_MAX_PERCENT: '101' is out of range (1 to 100)"},
        {"SALESFORCE_API_USAGE_MAX_PERCENT", "80%",
         "SALESFORCE_API_USAGE_MAX_PERCENT: '80%' is not an integer"},
        {"SYNKRO_SECRET_KEY", "0123456789abcdef0123456789abcde",
         "SYNKRO_SECRET_KEY: is too short: at least 32 characters are required"},
        {"SYNKRO_CRM_TIMEOUT_MS", "99",
         "SYNKRO_CRM_TIMEOUT_MS: '99' is out of range (100 to 600000)"},
        {"SYNKRO_CRM_TIMEOUT_MS", "600001",
         "SYNKRO_CRM_TIMEOUT_MS: '600001' is out of range (100 to 600000)"},
        {"SYNKRO_CRM_CONNECT_TIMEOUT_MS", "99",
         "SYNKRO_CRM_CONNECT_TIMEOUT_MS: '99' is out of range (100 to 60000)"},
        {"SYNKRO_CRM_CONNECT_TIMEOUT_MS", "60001",
         "SYNKRO_CRM_CONNECT_TIMEOUT_MS: '60001' is out of range (100 to 60000)"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const struct kv vars[] = {
            {"DATABASE_URL", GOOD_DB}, {cases[i].name, cases[i].value}, {NULL, NULL}};
        /* DATABASE_URL's own case must replace the good one, so put it first */
        const struct kv dbcase[] = {{cases[i].name, cases[i].value}, {NULL, NULL}};
        const struct kv *use = strcmp(cases[i].name, "DATABASE_URL") == 0 ? dbcase : vars;
        struct config cfg;
        char err[512];
        int rc = load(&cfg, use, err, sizeof err);
        if (rc != 1 || strcmp(err, cases[i].message) != 0)
            fail_msg("%s='%s': rc=%d err='%s', expected 1 and '%s'", cases[i].name, cases[i].value,
                     rc, err, cases[i].message);
        config_free(&cfg);
    }
}

static void test_bad_listen(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "8080", "host:", "[::1]8080", "h:70000", ":8080",   "h:-1",
        "[::1", "[]:80", "h:80x",     "[::1]:",  "h:65536", "h: 80",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const struct kv vars[] = {
            {"DATABASE_URL", GOOD_DB}, {"SYNKRO_LISTEN", bad[i]}, {NULL, NULL}};
        struct config cfg;
        char err[512], want[512];
        snprintf(want, sizeof want,
                 "SYNKRO_LISTEN: '%s' is not host:port with a port from 0 to 65535", bad[i]);
        int rc = load(&cfg, vars, err, sizeof err);
        if (rc != 1 || strcmp(err, want) != 0)
            fail_msg("SYNKRO_LISTEN='%s': rc=%d err='%s'", bad[i], rc, err);
        /* the default stays in place */
        assert_string_equal(cfg.listen, "127.0.0.1:8080");
        assert_string_equal(cfg.listen_host, "127.0.0.1");
        assert_int_equal(cfg.listen_port, 8080);
        config_free(&cfg);
    }
}

/* SYNKRO_ADMIN_LISTEN: unset is no admin listener; a value parses like SYNKRO_LISTEN; a bad one is
 * refused naming it; the console variables' ranges. */
static void test_admin_listen_and_console(void **state)
{
    (void)state;
    struct config cfg;
    char err[512];
    const struct kv none[] = {{"DATABASE_URL", GOOD_DB}, {NULL, NULL}};
    assert_int_equal(load(&cfg, none, err, sizeof err), 0);
    assert_string_equal(cfg.admin_listen, "");
    assert_null(cfg.admin_listen_host);
    assert_true(cfg.console);
    assert_int_equal(cfg.session_idle_s, 1800);
    assert_int_equal(cfg.session_ttl_s, 43200);
    assert_int_equal(cfg.signin_rate_per_min, 10);
    config_free(&cfg);
    const struct kv good[] = {{"DATABASE_URL", GOOD_DB},
                              {"SYNKRO_ADMIN_LISTEN", "[::1]:9090"},
                              {"SYNKRO_CONSOLE", "off"},
                              {NULL, NULL}};
    assert_int_equal(load(&cfg, good, err, sizeof err), 0);
    assert_string_equal(cfg.admin_listen, "[::1]:9090");
    assert_string_equal(cfg.admin_listen_host, "::1");
    assert_int_equal(cfg.admin_listen_port, 9090);
    assert_false(cfg.console);
    config_free(&cfg);
    const struct kv bad[] = {{"DATABASE_URL", GOOD_DB},
                             {"SYNKRO_ADMIN_LISTEN", "9090"},
                             {"SYNKRO_SESSION_IDLE_S", "59"},
                             {"SYNKRO_SIGNIN_RATE_PER_MIN", "0"},
                             {NULL, NULL}};
    assert_int_equal(load(&cfg, bad, err, sizeof err), 3);
    assert_non_null(
        strstr(err, "SYNKRO_ADMIN_LISTEN: '9090' is not host:port with a port from 0 to 65535"));
    assert_non_null(strstr(err, "SYNKRO_SESSION_IDLE_S: '59' is out of range"));
    assert_non_null(strstr(err, "SYNKRO_SIGNIN_RATE_PER_MIN: '0' is out of range"));
    assert_string_equal(cfg.admin_listen, "");
    config_free(&cfg);
}

static void test_bad_value_keeps_default(void **state)
{
    (void)state;
    const struct kv vars[] = {{"DATABASE_URL", GOOD_DB},
                              {"SYNKRO_HTTP_THREADS", "lots"},
                              {"SYNKRO_MIGRATE_ON_START", "perhaps"},
                              {"SYNKRO_ADMIN_TOKEN", "short"},
                              {NULL, NULL}};
    struct config cfg;
    char err[512];
    assert_int_equal(load(&cfg, vars, err, sizeof err), 3);
    assert_int_equal(cfg.http_threads, 64);
    assert_true(cfg.migrate_on_start);
    assert_string_equal(cfg.admin_token, "");
    config_free(&cfg);
}

static void test_several_bad_all_reported(void **state)
{
    (void)state;
    /* DATABASE_URL unset, plus four bad values */
    const struct kv vars[] = {{"SYNKRO_INGEST_BATCH_MAX", "0"},
                              {"LOG_LEVEL", "loud"},
                              {"SYNKRO_LISTEN", "8080"},
                              {"HUBSPOT_CLIENT_SECRET", "abc"},
                              {NULL, NULL}};
    struct config cfg;
    char err[2048];
    assert_int_equal(load(&cfg, vars, err, sizeof err), 5);
    /* one line per problem, in table order, no trailing newline */
    assert_string_equal(
        err,
        "DATABASE_URL: is not set; give a libpq URL such as postgresql://user@host:5432/synkro\n"
        "SYNKRO_LISTEN: '8080' is not host:port with a port from 0 to 65535\n"
        "LOG_LEVEL: 'loud' is not one of debug, info, warn, error\n"
        "HUBSPOT_CLIENT_SECRET: is too short: at least 8 characters are required\n"
        "SYNKRO_INGEST_BATCH_MAX: '0' is out of range (1 to 100000)");
    /* still fully populated with defaults */
    assert_string_equal(cfg.public_base_url, "http://127.0.0.1:8080");
    assert_int_equal(cfg.ingest_batch_max, 2000);
    config_free(&cfg);
}

static void test_database_url_unset(void **state)
{
    (void)state;
    const struct kv vars[] = {{NULL, NULL}};
    struct config cfg;
    char err[512];
    assert_int_equal(load(&cfg, vars, err, sizeof err), 1);
    assert_string_equal(err, "DATABASE_URL: is not set; give a libpq URL such as "
                             "postgresql://user@host:5432/synkro");
    config_free(&cfg);
}

static void test_error_buffer_small_and_null(void **state)
{
    (void)state;
    const struct kv vars[] = {{"SYNKRO_HTTP_THREADS", "x"}, {NULL, NULL}};
    struct config cfg;
    char err[8];
    assert_int_equal(load(&cfg, vars, err, sizeof err), 2);
    assert_string_equal(err, "DATABAS"); /* truncated, still terminated */
    config_free(&cfg);
    assert_int_equal(load(&cfg, vars, NULL, 0), 2);
    config_free(&cfg);
}

static void test_public_base_url(void **state)
{
    (void)state;
    static const struct {
        const char *listen, *base, *host, *want;
        int port;
    } cases[] = {
        {"0.0.0.0:9000", NULL, "0.0.0.0", "http://0.0.0.0:9000", 9000},
        {"[::1]:8443", NULL, "::1", "http://[::1]:8443", 8443},
        {"[2001:db8::5]:80", NULL, "2001:db8::5", "http://[2001:db8::5]:80", 80},
        {"sync.internal:8080", NULL, "sync.internal", "http://sync.internal:8080", 8080},
        {"[::1]:8443", "https://sync.example.com/", "::1", "https://sync.example.com", 8443},
        {"127.0.0.1:1", "https://sync.example.com/prefix///", "127.0.0.1",
         "https://sync.example.com/prefix", 1},
        {"127.0.0.1:1", "http://h:8080/p", "127.0.0.1", "http://h:8080/p", 1},
        {"127.0.0.1:1", "", "127.0.0.1", "http://127.0.0.1:1", 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const struct kv vars[] = {
            {"DATABASE_URL", GOOD_DB},
            {"SYNKRO_LISTEN", cases[i].listen},
            {cases[i].base ? "SYNKRO_PUBLIC_BASE_URL" : "UNUSED", cases[i].base},
            {NULL, NULL}};
        struct config cfg;
        char err[512];
        assert_int_equal(load(&cfg, vars, err, sizeof err), 0);
        assert_string_equal(cfg.listen, cases[i].listen);
        assert_string_equal(cfg.listen_host, cases[i].host);
        assert_int_equal(cfg.listen_port, cases[i].port);
        assert_string_equal(cfg.public_base_url, cases[i].want);
        config_free(&cfg);
    }
}

/* Everything config_print writes for these variables. Caller frees. */
static char *print_config_expecting(const struct kv *vars, int invalid)
{
    struct config cfg;
    char err[1024];
    struct fake_env env = {.vars = vars};
    int rc = config_load(&cfg, fake_lookup, &env, err, sizeof err);
    if (rc != invalid)
        fail_msg("config_load: %d invalid, %d expected: %s", rc, invalid, err);
    struct memout m;
    memout_open(&m);
    config_print(&cfg, fake_lookup, &env, m.f);
    memout_close(&m);
    config_free(&cfg);
    return m.buf;
}

static char *print_config(const struct kv *vars)
{
    return print_config_expecting(vars, 0);
}

static void assert_line(const char *text, const char *line)
{
    char want[1024];
    snprintf(want, sizeof want, "%s\n", line);
    /* at the start or after a newline */
    const char *hit = strstr(text, want);
    while (hit && hit != text && hit[-1] != '\n')
        hit = strstr(hit + 1, want);
    if (!hit)
        fail_msg("line '%s' not in:\n%s", line, text);
}

static size_t count_lines(const char *text)
{
    size_t n = 0;
    for (const char *p = text; *p; p++)
        n += *p == '\n';
    return n;
}

/* A distinct value for every known secret variable; every one contains "Zq9". */
static void secret_values(struct kv *vars, size_t max, size_t *n)
{
    size_t k = 0;
    for (size_t i = 0; i < NALL && k + 1 < max; i++) {
        if (!all_vars[i].secret)
            continue;
        static char values[NALL][64];
        snprintf(values[i], sizeof values[i], "Zq9-value-of-%s-0123456789abcdef", all_vars[i].name);
        vars[k].name = all_vars[i].name;
        vars[k].value = values[i];
        k++;
    }
    *n = k;
}

static void test_print_masks_secrets(void **state)
{
    (void)state;
    log_clear_secrets(); /* the masking must come from config itself */
    struct kv vars[NALL + 4];
    size_t n = 0;
    secret_values(vars, NALL, &n);
    assert_int_equal(n, 8);
    vars[n++] =
        (struct kv){"DATABASE_URL", "postgresql://synkro:Db-Pa55word-77@db.example:5432/synkro"};
    vars[n++] = (struct kv){"SYNKRO_HTTP_THREADS", "7"};
    vars[n] = (struct kv){NULL, NULL};
    char *out = print_config(vars);
    assert_null(strstr(out, "Db-Pa55word-77"));
    assert_null(strstr(out, "Zq9"));
    const char *names[256];
    size_t nnames = table_names(names, 256);
    assert_int_equal(count_lines(out), nnames);
    for (size_t i = 0; i < nnames; i++) {
        char prefix[80];
        snprintf(prefix, sizeof prefix, "%s=", names[i]);
        assert_true(strncmp(out, prefix, strlen(prefix)) == 0 || strstr(out, prefix));
    }
    for (size_t i = 0; i < NALL; i++) {
        if (!all_vars[i].secret)
            continue;
        char line[128];
        snprintf(line, sizeof line, "%s=***  # set", all_vars[i].name);
        assert_line(out, line);
    }
    assert_line(out, "DATABASE_URL=postgresql://synkro:***@db.example:5432/synkro  # set");
    assert_line(out, "SYNKRO_HTTP_THREADS=7  # set");
    assert_line(out, "SYNKRO_HTTP_MAX_CONNECTIONS=1024  # default");
    assert_line(out, "SYNKRO_LISTEN=127.0.0.1:8080  # default");
    assert_line(out, "SYNKRO_PUBLIC_BASE_URL=http://127.0.0.1:8080  # default");
    assert_line(out, "LOG_LEVEL=info  # default");
    assert_line(out, "SYNKRO_MIGRATE_ON_START=true  # default");
    assert_line(out, "HUBSPOT_PORTAL_ID=0  # default");
    assert_line(out, "HUBSPOT_API_BASE=https://api.hubapi.com  # default");
    assert_line(out, "SALESFORCE_API_VERSION=v62.0  # default");
    free(out);

    /* unset secrets say so, without a value */
    const struct kv unset[] = {{"DATABASE_URL", GOOD_DB}, {NULL, NULL}};
    out = print_config(unset);
    for (size_t i = 0; i < NALL; i++) {
        if (!all_vars[i].secret)
            continue;
        char line[128];
        snprintf(line, sizeof line, "%s=(unset)  # default", all_vars[i].name);
        assert_line(out, line);
    }
    assert_line(out, "DATABASE_URL=" GOOD_DB "  # set");
    free(out);
}

static void test_print_masks_db_password_forms(void **state)
{
    (void)state;
    log_clear_secrets();
    static const struct {
        const char *url, *printed, *secret;
    } cases[] = {
        {"postgresql://u:pw-URL-1234@h/db", "postgresql://u:***@h/db", "pw-URL-1234"},
        {"postgres://u:p%40ss:w0rd@h:5432/db?sslmode=require",
         "postgres://u:***@h:5432/db?sslmode=require", "p%40ss:w0rd"},
        {"host=db user=synkro password=Conninfo-Pw-9 dbname=synkro",
         "host=db user=synkro password=*** dbname=synkro", "Conninfo-Pw-9"},
        {"password=AtStart-Pw-9 host=db", "password=*** host=db", "AtStart-Pw-9"},
        {"host=db password='Quoted Pw \\' 9' dbname=synkro", "host=db password=*** dbname=synkro",
         "Quoted Pw"},
        {"host=db password=''", "host=db password=***", "''"},
        {"postgresql://u@h/db?password=Query-Pw-9&sslmode=require",
         "postgresql://u@h/db?password=***&sslmode=require", "Query-Pw-9"},
        {"postgresql://u:First-Pw-1@h/db?password=Second-Pw-2",
         "postgresql://u:***@h/db?password=***", "-Pw-"},
        {"postgresql://u@h/db", "postgresql://u@h/db", NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const struct kv vars[] = {{"DATABASE_URL", cases[i].url}, {NULL, NULL}};
        char *out = print_config(vars);
        char line[512];
        snprintf(line, sizeof line, "DATABASE_URL=%s  # set", cases[i].printed);
        assert_line(out, line);
        if (cases[i].secret && strstr(out, cases[i].secret))
            fail_msg("'%s' leaked from '%s':\n%s", cases[i].secret, cases[i].url, out);
        free(out);

        char masked[512];
        config_mask_database_url(cases[i].url, masked, sizeof masked);
        assert_string_equal(masked, cases[i].printed);
    }
}

/* libpq accepts spaces around '=' in conninfo ("keyword = value"); the password must still be
 * masked. */
static void test_print_masks_spaced_conninfo_password(void **state)
{
    (void)state;
    log_clear_secrets();
    const char *url = "host=db password = Spaced-Pw-9 dbname=synkro";
    /* precondition: libpq really reads a password from this text */
    char *perr = NULL;
    PQconninfoOption *opts = PQconninfoParse(url, &perr);
    assert_non_null(opts);
    int found = 0;
    for (PQconninfoOption *o = opts; o->keyword; o++)
        if (strcmp(o->keyword, "password") == 0 && o->val && strcmp(o->val, "Spaced-Pw-9") == 0)
            found = 1;
    PQconninfoFree(opts);
    assert_true(found);

    const struct kv vars[] = {{"DATABASE_URL", url}, {NULL, NULL}};
    char *out = print_config(vars);
    char line[256] = "";
    const char *hit = strstr(out, "DATABASE_URL=");
    if (hit)
        snprintf(line, sizeof line, "%.*s", (int)strcspn(hit, "\n"), hit);
    free(out);
    if (strstr(line, "Spaced-Pw-9"))
        fail_msg("DATABASE_URL password printed in clear: %s", line);
    assert_string_equal(line, "DATABASE_URL=host=db password = *** dbname=synkro  # set");
}

static void test_mask_database_url_truncates(void **state)
{
    (void)state;
    char out[12];
    config_mask_database_url("postgresql://u:pw12345@h/db", out, sizeof out);
    assert_string_equal(out, "postgresql:");
    char empty[64];
    config_mask_database_url("", empty, sizeof empty);
    assert_string_equal(empty, "");
}

/* Reads everything written to the log fd so far. */
static char *read_all(int fd)
{
    off_t end = lseek(fd, 0, SEEK_END);
    assert_true(end >= 0);
    char *buf = calloc(1, (size_t)end + 1);
    assert_non_null(buf);
    assert_int_equal(pread(fd, buf, (size_t)end, 0), end);
    return buf;
}

static int log_tmpfile(void)
{
    char path[] = "/tmp/test_config_log.XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    unlink(path);
    return fd;
}

static void test_register_secrets_masks_logs(void **state)
{
    (void)state;
    log_clear_secrets();
    const struct kv vars[] = {
        {"DATABASE_URL", "postgresql://synkro:Url-Db-Pw-42@db:5432/synkro"},
        {"SYNKRO_ADMIN_TOKEN", "adm-token-aaaaaaaaaa"},
        {"SYNKRO_SF_ENDPOINT_TOKEN", "sf-token-bbbbbbbbbbb"},
        {"HUBSPOT_CLIENT_SECRET", "hs-secret-ccccc"},
        {NULL, NULL},
    };
    struct config cfg;
    char err[512];
    assert_int_equal(load(&cfg, vars, err, sizeof err), 0);
    config_register_secrets(&cfg);
    int fd = log_tmpfile();
    log_set_fd(fd);
    log_with(LOG_LEVEL_ERROR, "token adm-token-aaaaaaaaaa rejected",
             LF_S("sf", "sf-token-bbbbbbbbbbb"), LF_S("hs", "x hs-secret-ccccc y"),
             LF_S("db", "postgresql://synkro:Url-Db-Pw-42@db:5432/synkro"),
             LF_S("pw", "Url-Db-Pw-42"));
    log_set_fd(2);
    char *text = read_all(fd);
    close(fd);
    assert_null(strstr(text, "adm-token-aaaaaaaaaa"));
    assert_null(strstr(text, "sf-token-bbbbbbbbbbb"));
    assert_null(strstr(text, "hs-secret-ccccc"));
    assert_null(strstr(text, "Url-Db-Pw-42"));
    assert_non_null(strstr(text, "\"msg\":\"token *** rejected\""));
    assert_non_null(strstr(text, "\"sf\":\"***\""));
    assert_non_null(strstr(text, "\"hs\":\"x *** y\""));
    assert_non_null(strstr(text, "\"db\":\"postgresql://synkro:***@db:5432/synkro\""));
    assert_non_null(strstr(text, "\"pw\":\"***\""));
    free(text);
    config_free(&cfg);

    /* every secret variable of the table */
    log_clear_secrets();
    struct kv all[NALL + 2];
    size_t n = 0;
    secret_values(all, NALL, &n);
    all[n++] = (struct kv){"DATABASE_URL", GOOD_DB};
    all[n] = (struct kv){NULL, NULL};
    assert_int_equal(load(&cfg, all, err, sizeof err), 0);
    config_register_secrets(&cfg);
    fd = log_tmpfile();
    log_set_fd(fd);
    for (size_t i = 0; all[i].name; i++)
        log_with(LOG_LEVEL_ERROR, all[i].value, LF_S("name", all[i].name), LF_S("v", all[i].value));
    log_set_fd(2);
    text = read_all(fd);
    close(fd);
    assert_null(strstr(text, "Zq9"));
    assert_non_null(strstr(text, "\"msg\":\"***\",\"name\":\"SYNKRO_SECRET_KEY\",\"v\":\"***\"}"));
    free(text);
    config_free(&cfg);

    /* conninfo form */
    log_clear_secrets();
    const struct kv ci[] = {{"DATABASE_URL", "host=db password=Ci-Db-Pw-42 dbname=synkro"},
                            {NULL, NULL}};
    assert_int_equal(load(&cfg, ci, err, sizeof err), 0);
    config_register_secrets(&cfg);
    fd = log_tmpfile();
    log_set_fd(fd);
    log_with(LOG_LEVEL_ERROR, "connect failed", LF_S("pw", "Ci-Db-Pw-42"));
    log_set_fd(2);
    text = read_all(fd);
    close(fd);
    assert_null(strstr(text, "Ci-Db-Pw-42"));
    assert_non_null(strstr(text, "\"pw\":\"***\""));
    free(text);
    config_free(&cfg);

    /* unset secrets register nothing: ordinary text stays */
    log_clear_secrets();
    const struct kv none[] = {{"DATABASE_URL", GOOD_DB}, {NULL, NULL}};
    assert_int_equal(load(&cfg, none, err, sizeof err), 0);
    config_register_secrets(&cfg);
    char buf[] = "postgresql://synkro@localhost:5432/synkro ***";
    log_mask_secrets(buf);
    assert_string_equal(buf, "postgresql://synkro@localhost:5432/synkro ***");
    config_free(&cfg);
}

/* The password of a quoted conninfo value is the text between the quotes; that is what must be
 * masked when it shows up in a log line. */
static void test_register_secrets_quoted_conninfo_password(void **state)
{
    (void)state;
    log_clear_secrets();
    const struct kv ci[] = {{"DATABASE_URL", "host=db password='Quoted Db Pw 42' dbname=synkro"},
                            {NULL, NULL}};
    struct config cfg;
    char err[512];
    assert_int_equal(load(&cfg, ci, err, sizeof err), 0);
    config_register_secrets(&cfg);
    char buf[] = "auth failed for password Quoted Db Pw 42";
    log_mask_secrets(buf);
    config_free(&cfg);
    if (strstr(buf, "Quoted Db Pw 42"))
        fail_msg("quoted conninfo password not masked: '%s'", buf);
    assert_string_equal(buf, "auth failed for password ***");
}

/* An empty value (`NAME=` in an env file) is unset: the default applies,
 * `config check` says so, and a required variable is reported as not set. */
static void test_empty_is_unset(void **state)
{
    (void)state;
    const struct kv vars[] = {{"DATABASE_URL", GOOD_DB},
                              {"HUBSPOT_PORTAL_ID", ""},
                              {"SYNKRO_HTTP_THREADS", ""},
                              {"LOG_LEVEL", ""},
                              {"SYNKRO_MIGRATE_ON_START", ""},
                              {"SYNKRO_LISTEN", ""},
                              {"SALESFORCE_API_VERSION", ""},
                              {"SYNKRO_ADMIN_TOKEN", ""},
                              {NULL, NULL}};
    struct config cfg;
    char err[512];
    assert_int_equal(load(&cfg, vars, err, sizeof err), 0);
    assert_string_equal(err, "");
    assert_int_equal(cfg.hubspot_portal_id, 0);
    assert_int_equal(cfg.http_threads, 64);
    assert_int_equal(cfg.log_level, LOG_LEVEL_INFO);
    assert_true(cfg.migrate_on_start);
    assert_string_equal(cfg.listen, "127.0.0.1:8080");
    assert_string_equal(cfg.salesforce_api_version, "v62.0");
    assert_string_equal(cfg.admin_token, "");
    config_free(&cfg);
    char *out = print_config(vars);
    assert_line(out, "HUBSPOT_PORTAL_ID=0  # empty, default");
    assert_line(out, "SYNKRO_HTTP_THREADS=64  # empty, default");
    free(out);

    const struct kv none[] = {{"DATABASE_URL", ""}, {NULL, NULL}};
    assert_int_equal(load(&cfg, none, err, sizeof err), 1);
    assert_string_equal(err, "DATABASE_URL: is not set; give a libpq URL such as "
                             "postgresql://user@host:5432/synkro");
    config_free(&cfg);
}

/* An invalid value is printed as given and marked, never as the default. */
static void test_print_shows_invalid_raw_value(void **state)
{
    (void)state;
    const struct kv vars[] = {{"DATABASE_URL", GOOD_DB},
                              {"SYNKRO_HTTP_THREADS", "abc"},
                              {"SYNKRO_PUBLIC_BASE_URL", "ftp://x"},
                              {"SYNKRO_ADMIN_TOKEN", "short-Zq9"},
                              {NULL, NULL}};
    char *out = print_config_expecting(vars, 3);
    assert_line(out, "SYNKRO_HTTP_THREADS=abc  # INVALID");
    assert_line(out, "SYNKRO_PUBLIC_BASE_URL=ftp://x  # INVALID");
    assert_line(out, "SYNKRO_ADMIN_TOKEN=***  # INVALID");
    assert_null(strstr(out, "short-Zq9"));
    assert_null(strstr(out, "SYNKRO_HTTP_THREADS=64"));
    free(out);
}

static int combinations(const struct kv *vars, char *warn, char *err)
{
    struct config cfg;
    char lerr[512];
    assert_int_equal(load(&cfg, vars, lerr, sizeof lerr), 0);
    int bad = config_check_combinations(&cfg, warn, 1024, err, 1024);
    config_free(&cfg);
    return bad;
}

/* No CRM credentials warn; a token-storing flow without SYNKRO_SECRET_KEY fails. */
static void test_check_combinations(void **state)
{
    (void)state;
    char warn[1024], err[1024];
    const struct kv none[] = {{"DATABASE_URL", GOOD_DB}, {NULL, NULL}};
    assert_int_equal(combinations(none, warn, err), 0);
    assert_string_equal(err, "");
    assert_non_null(strstr(warn, "HUBSPOT_ACCESS_TOKEN: no HubSpot API credentials"));
    assert_non_null(strstr(warn, "SALESFORCE_CLIENT_ID: no Salesforce API credentials"));

    const struct kv sf_refresh[] = {{"DATABASE_URL", GOOD_DB},
                                    {"SALESFORCE_CLIENT_ID", "cid"},
                                    {"SALESFORCE_CLIENT_SECRET", "csecret-123"},
                                    {"SALESFORCE_REFRESH_TOKEN", "refresh-123"},
                                    {"HUBSPOT_ACCESS_TOKEN", "pat-na1-123"},
                                    {NULL, NULL}};
    assert_int_equal(combinations(sf_refresh, warn, err), 1);
    assert_string_equal(warn, "");
    assert_non_null(strstr(err, "SYNKRO_SECRET_KEY: is not set, but the Salesforce refresh-token"));

    const struct kv hs_oauth[] = {{"DATABASE_URL", GOOD_DB},
                                  {"HUBSPOT_CLIENT_ID", "hcid"},
                                  {"HUBSPOT_REFRESH_TOKEN", "hs-refresh-123"},
                                  {"SALESFORCE_CLIENT_ID", "cid"},
                                  {"SALESFORCE_USERNAME", "int@example.com"},
                                  {"SALESFORCE_JWT_KEY_FILE", "/run/secrets/sf.pem"},
                                  {NULL, NULL}};
    assert_int_equal(combinations(hs_oauth, warn, err), 1);
    assert_string_equal(warn, "");
    assert_non_null(strstr(err, "SYNKRO_SECRET_KEY: is not set, but the HubSpot OAuth"));

    const struct kv keyed[] = {{"DATABASE_URL", GOOD_DB},
                               {"HUBSPOT_CLIENT_ID", "hcid"},
                               {"HUBSPOT_REFRESH_TOKEN", "hs-refresh-123"},
                               {"SALESFORCE_CLIENT_ID", "cid"},
                               {"SALESFORCE_REFRESH_TOKEN", "refresh-123"},
                               {"SYNKRO_SECRET_KEY", "0123456789abcdef0123456789abcdef"},
                               {NULL, NULL}};
    assert_int_equal(combinations(keyed, warn, err), 0);
    assert_string_equal(warn, "");
    assert_string_equal(err, "");
}

static void test_print_markdown(void **state)
{
    (void)state;
    struct memout m;
    memout_open(&m);
    config_print_markdown(m.f);
    memout_close(&m);
    const char *out = m.buf;
    const char *names[256];
    size_t n = table_names(names, 256);
    assert_int_equal(count_lines(out), n + 2);
    static const char header[] = "| Variable | Default | Description |\n|---|---|---|\n";
    assert_memory_equal(out, header, sizeof header - 1);
    /* every variable of the table, once, in table order */
    const char *pos = out;
    for (size_t i = 0; i < n; i++) {
        char cell[96];
        snprintf(cell, sizeof cell, "\n| `%s` | ", names[i]);
        const char *hit = strstr(pos, cell);
        if (hit)
            pos = hit + 1;
        else
            fail_msg("%s missing from the Markdown table (or out of order)", names[i]);
    }
    /* secrets are marked as such, others are not */
    for (size_t i = 0; i < NALL; i++) {
        char cell[96];
        snprintf(cell, sizeof cell, "\n| `%s` | ", all_vars[i].name);
        const char *row = strstr(out, cell);
        assert_non_null(row);
        size_t len = strcspn(row + 1, "\n");
        char text[1024];
        snprintf(text, sizeof text, "%.*s", (int)len, row + 1);
        if (all_vars[i].secret != (strstr(text, " | **Secret.** ") != NULL))
            fail_msg("%s: secret marking wrong in: %s", all_vars[i].name, text);
    }
    assert_non_null(strstr(out, "| `DATABASE_URL` | (required) | libpq URL"));
    assert_non_null(strstr(out, "| `SYNKRO_LISTEN` | `127.0.0.1:8080` | Address"));
    assert_non_null(strstr(out, "| `SYNKRO_ADMIN_TOKEN` | (unset) | **Secret.** Bearer"));
    assert_non_null(strstr(out, "| `SYNKRO_SF_ENDPOINT_TOKEN` | (unset) | **Secret.** When"));
    assert_non_null(strstr(out, "| `HUBSPOT_CLIENT_SECRET` | (unset) | **Secret.** The"));
    assert_non_null(strstr(out, "| `SYNKRO_INGEST_BATCH_MAX` | `2000` | Most events"));
    assert_non_null(strstr(out, "| `SALESFORCE_API_VERSION` | `v62.0` | Salesforce REST"));
    free(m.buf);
}

/* The table gives string variables a longest length too (SALESFORCE_API_VERSION: 16,
 * tokens: 4096); a longer value must be refused like a shorter one. */
static void test_string_longer_than_max_refused(void **state)
{
    (void)state;
    static char long_token[4098];
    memset(long_token, 'x', 4097);
    static const struct {
        const char *name;
        const char *value;
    } cases[] = {
        {"SALESFORCE_API_VERSION", "v62.0-and-then-some"},
        {"SYNKRO_ADMIN_TOKEN", long_token},
        {"HUBSPOT_CLIENT_ID", long_token},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const struct kv vars[] = {
            {"DATABASE_URL", GOOD_DB}, {cases[i].name, cases[i].value}, {NULL, NULL}};
        struct config cfg;
        char err[512] = "";
        int rc = load(&cfg, vars, err, sizeof err);
        config_free(&cfg);
        char prefix[64];
        snprintf(prefix, sizeof prefix, "%s: ", cases[i].name);
        if (rc != 1 || strncmp(err, prefix, strlen(prefix)) != 0)
            fail_msg("%s of %zu characters accepted (rc=%d, err='%s'); the table's maximum is "
                     "not enforced",
                     cases[i].name, strlen(cases[i].value), rc, err);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reads_the_table_variables),
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_every_variable_good),
        cmocka_unit_test(test_more_good_values),
        cmocka_unit_test(test_parsed_values_of_spellings),
        cmocka_unit_test(test_bad_values),
        cmocka_unit_test(test_bad_listen),
        cmocka_unit_test(test_admin_listen_and_console),
        cmocka_unit_test(test_bad_value_keeps_default),
        cmocka_unit_test(test_several_bad_all_reported),
        cmocka_unit_test(test_database_url_unset),
        cmocka_unit_test(test_error_buffer_small_and_null),
        cmocka_unit_test(test_public_base_url),
        cmocka_unit_test_teardown(test_print_masks_secrets, teardown_secrets),
        cmocka_unit_test_teardown(test_print_masks_db_password_forms, teardown_secrets),
        cmocka_unit_test_teardown(test_print_masks_spaced_conninfo_password, teardown_secrets),
        cmocka_unit_test(test_mask_database_url_truncates),
        cmocka_unit_test_teardown(test_register_secrets_masks_logs, teardown_secrets),
        cmocka_unit_test_teardown(test_register_secrets_quoted_conninfo_password, teardown_secrets),
        cmocka_unit_test(test_empty_is_unset),
        cmocka_unit_test(test_print_shows_invalid_raw_value),
        cmocka_unit_test(test_check_combinations),
        cmocka_unit_test(test_print_markdown),
        cmocka_unit_test(test_string_longer_than_max_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
