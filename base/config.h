/* config.h: the service's configuration, read from environment variables.
 *
 * One table (config.c) lists every variable with its type, default, limits,
 * whether it is a secret, and its documentation; parsing, `synkro config
 * check` and the README table all follow that table. A value that does not
 * parse is an error naming the variable, never a silent default. */
#ifndef SYNKRO_SERVER_CONFIG_H
#define SYNKRO_SERVER_CONFIG_H

#include "base/log.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

struct config {
    char *database_url;
    char *listen;      /* as given, host:port */
    char *listen_host; /* parsed */
    int listen_port;
    int http_threads;
    int http_max_connections;
    int http_timeout_s;
    int http_max_connections_per_ip;
    int http_request_deadline_s;
    int http_probe_reserve;
    long long max_body_bytes;
    enum log_level log_level;
    int log_repeat_interval_s;
    char *public_base_url; /* without trailing slash; derived from listen when unset */
    char *admin_token;
    int db_pool_size;
    int db_statement_timeout_ms;
    int db_connect_timeout_s;
    bool migrate_on_start;
    int shutdown_grace_ms;
    /* webhook ingest */
    char *salesforce_org_id;
    char *sf_endpoint_token;
    char *hubspot_client_secret;
    long long hubspot_portal_id; /* 0 = accept any portal */
    bool hubspot_require_v3;
    bool hubspot_skip_own_writes; /* SYNKRO_HUBSPOT_SKIP_OWN_WRITES */
    int ingest_batch_max;
    int ingest_writers;
    bool ingest_inline; /* lone requests commit on their own thread (ingest_commit_if_idle) */
    int malloc_arenas;  /* 0: glibc's default */
    /* CRM API clients */
    char *hubspot_api_base;
    char *hubspot_access_token;
    char *hubspot_client_id;
    char *hubspot_refresh_token;
    int hubspot_rate_per_10s;
    int hubspot_search_rate_per_s;
    int hubspot_daily_max_percent;
    bool crm_budget_shared; /* SYNKRO_CRM_BUDGET_SHARED */
    char *salesforce_login_url;
    char *salesforce_api_version;
    char *salesforce_client_id;
    char *salesforce_client_secret;
    char *salesforce_refresh_token;
    char *salesforce_username;
    char *salesforce_jwt_key_file;
    int salesforce_api_usage_max_percent;
    int salesforce_api_daily_max_percent;
    char *secret_key;
    int crm_timeout_ms;
    int crm_connect_timeout_ms;
    int max_mappings;
    int event_retention_days;
    int failed_retention_days;
    int queue_vacuum_dead_rows;
    /* sync engine */
    int workers;
    int worker_batch;
    int worker_poll_ms;
    int worker_linger_ms;
    int mapping_workers;
    int lease_ms;
    int retry_base_ms;
    int retry_cap_ms;
    int retry_max_attempts;
    int sweep_interval_s;
    int import_inflight;
    int conflict_retention_days;
    /* console and admin plane */
    char *admin_listen;      /* as given, host:port; "" = no admin listener */
    char *admin_listen_host; /* parsed; NULL when unset */
    int admin_listen_port;
    bool console;
    char *users_file;
    int signin_rate_per_min;
    int session_idle_s;
    int session_ttl_s;
    int history_retention_days; /* 0: the engine records no history */
};

/* Looks a variable up; returns NULL when unset. */
typedef const char *(*config_lookup_fn)(const char *name, void *ud);

/* Environment lookup for config_load. */
const char *config_lookup_env(const char *name, void *ud);

/* Fills cfg from lookup. Returns the number of invalid variables (0 on
 * success); each problem is appended to err as "NAME: reason" lines. cfg is
 * fully populated with defaults even on error, and must be released with
 * config_free(). An empty value counts as unset (the default applies; a
 * required variable is then reported as not set). */
int config_load(struct config *cfg, config_lookup_fn lookup, void *ud, char *err, size_t errlen);
void config_free(struct config *cfg);

/* Prints "NAME=value" for every variable, secrets masked as *** (and the
 * password inside DATABASE_URL), plus where each value came from: `# set`,
 * `# default`, `# empty, default` (an empty value is unset), or `# INVALID`
 * with the value as given (masked when secret), not the default. */
void config_print(const struct config *cfg, config_lookup_fn lookup, void *ud, FILE *out);

/* Checks what holds between variables. Returns the number of problems that
 * make the configuration unusable, as "NAME: reason" lines in err (e.g. a
 * flow that stores tokens without SYNKRO_SECRET_KEY); what is usable but
 * probably unintended (no CRM API credentials) goes to warn the same way.
 * Both buffers may be NULL. */
int config_check_combinations(const struct config *cfg, char *warn, size_t warnlen, char *err,
                              size_t errlen);

/* Registers every secret value of cfg (and the database password) with the
 * logger so they are masked in every log line. */
void config_register_secrets(const struct config *cfg);

/* Writes a copy of a database URL/conninfo with any password replaced by ***. */
void config_mask_database_url(const char *url, char *out, size_t outlen);

/* Prints the variables as a Markdown table (for the README). */
void config_print_markdown(FILE *out);

#endif
