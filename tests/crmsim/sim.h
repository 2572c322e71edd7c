/* sim.h: crmsim's shared state (struct sim), its configuration and the one lock that guards it.
 *
 * Owns the type definitions every module shares: HubSpot schemas/records/associations/tokens,
 * Salesforce describes/records/tokens/cursors/outbound rules, the delivery queues, stats and fault
 * rules.
 *
 * Locking (the whole concurrency design):
 *   - sim->lock (a plain mutex) guards EVERY mutable field of struct sim and everything reachable
 * from it. The HTTP dispatcher takes it once per request around auth, rate limits, the handler and
 * stats, so handlers run with the lock held and never take it themselves.
 *   - sim->cond (CLOCK_MONOTONIC) is waited on with sim->lock by delivery workers and by
 * interruptible sleeps (fault latency); it is broadcast when work is queued, on flush, on reset and
 * on shutdown.
 *   - The lock is NEVER held across network I/O or sleeps: delivery workers copy what they send,
 * drop the lock, send, and retake it to record the outcome; fault latency sleeps happen before the
 * lock is taken.
 *   - Immutable after start (read without the lock): sim->base_url, sim->fixtures_path.
 * Must not: contain behaviour; see the module headers for functions. */
#ifndef SYNKRO_TESTS_CRMSIM_SIM_H
#define SYNKRO_TESTS_CRMSIM_SIM_H

#include <json-c/json.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "tests/crmsim/hmap.h"
#include "tests/crmsim/uindex.h"
#include "tests/crmsim/util.h"

/* Hard limits that keep memory bounded whatever the clients send. */
#define SIM_MAX_SCHEMAS        200
#define SIM_MAX_PROPERTIES     2000
#define SIM_MAX_ASSOCIATIONS   500000
#define SIM_MAX_TOKENS         20000
#define SIM_MAX_STAT_KEYS      2000
#define SIM_MAX_FAULTS         100
#define SIM_MAX_PENDING_EVENTS 100000
#define SIM_MAX_DELIVERIES     2000
#define SIM_MAX_CURSORS        50
#define SIM_CURSOR_TTL_MS      (15 * 60 * 1000)
#define SIM_DELIVERY_WORKERS   4

/* Every setting of POST /_sim/config (config.c holds the table with names, defaults and ranges).
 * Strings are heap copies owned by the config. */
struct sim_config {
    char *public_base_url;
    int64_t request_log_size;
    int64_t request_log_body_max;
    int64_t max_body_bytes;
    int64_t max_records;
    int64_t fault_timeout_ms;

    int64_t hs_portal_id;
    int64_t hs_app_id;
    char *hs_client_id;
    char *hs_client_secret;
    char *hs_refresh_token;
    char *hs_static_token;
    char *hs_scopes; /* space-separated, reported by the token-information endpoints */
    int64_t hs_ui_user_id;
    char *hs_webhook_url;
    int64_t hs_rate_limit_max;
    int64_t hs_rate_limit_interval_ms;
    int64_t hs_daily_limit;
    int64_t hs_search_rate_per_second;
    int64_t hs_search_delay_ms;
    int64_t hs_token_expires_in;
    bool hs_property_events_on_create;
    int64_t webhook_max_batch;
    int64_t webhook_flush_ms;
    int64_t webhook_retry_base_ms;
    int64_t webhook_retry_max_ms;
    int64_t webhook_max_attempts;
    int64_t webhook_timeout_ms;

    char *sf_org_id;
    char *sf_user_id;
    char *sf_ui_user_id;
    char *sf_username;
    char *sf_client_id;
    char *sf_client_secret;
    char *sf_refresh_token;
    char *sf_static_token;
    bool sf_refresh_rotation;
    char *sf_jwt_public_key;
    char *sf_jwt_public_key_file;
    char *sf_jwt_audiences;
    int64_t sf_api_usage_max;
    int64_t sf_query_page_size;
    int64_t outbound_max_batch;
    int64_t outbound_flush_ms;
    int64_t outbound_retry_base_ms;
    int64_t outbound_retry_max_ms;
    int64_t outbound_max_attempts;
    int64_t outbound_timeout_ms;
};

/* ---------------- HubSpot ---------------- */

struct hs_option {
    char *value;
    char *label;
};

struct hs_property {
    char *name;
    char *type;       /* string, number, bool, enumeration, date, datetime, phone_number */
    char *field_type; /* text, select, checkbox, booleancheckbox, ... */
    struct hs_option *options;
    size_t n_options;
    bool unique;
    bool calculated;
    bool read_only;
};

struct hs_record {
    char *id;
    json_object
        *props; /* property name -> string value (system hs_* included); replaced, never mutated */
    int64_t created_ms;
    int64_t updated_ms;
    int64_t archived_ms;
    bool archived;
    /* What search sees: a snapshot taken when the indexing delay has passed. */
    json_object *index_props; /* NULL until first indexed */
    bool index_archived;
    int64_t index_due_ms; /* wall-clock ms at which the snapshot catches up; 0 = current */
    struct uindex_keys unique_keys; /* where hs_schema.unique_index lists this record */
};

struct hs_schema {
    char *object_type_id;
    char *name;
    char *fqn;
    bool fqn_auto;     /* fqn derived from the portal id (recomputed when it changes) */
    json_object *json; /* normalised schema document (served as-is, fqn patched on output) */
    struct hs_property *props;
    size_t n_props;
    char **required;
    size_t n_required;
    struct hs_record **records; /* sorted by numeric id */
    size_t n_records;
    size_t cap_records;
    struct hmap by_id;        /* id -> struct hs_record* */
    struct hmap unique_index; /* values of unique properties (uindex.h, hs_unique_note) */
};

struct hs_assoc_type {
    char *from; /* objectTypeId */
    char *to;
    char *category; /* HUBSPOT_DEFINED, USER_DEFINED */
    int64_t type_id;
    char *label; /* NULL = unlabelled (the default type) */
    char *name;
};

struct hs_assoc {
    char *from_type;
    char *from_id;
    char *to_type;
    char *to_id;
    char *category;
    int64_t type_id;
};

struct hs_token {
    char *principal; /* rate-limit key: the token itself (static) or "oauth:<client_id>" */
    int64_t app_id;
    int64_t expires_ms; /* wall clock; 0 = never */
    bool is_static;
};

struct hs_client {
    char *client_id;
    char *client_secret;
    int64_t app_id;
    char **refresh_tokens;
    size_t n_refresh;
};

struct rate_window {
    int64_t *stamps; /* monotonic ms of accepted requests, ring buffer */
    size_t cap;
    size_t head;
    size_t count;
    int64_t day; /* UTC day number of daily */
    int64_t daily;
};

struct hs_state {
    struct hs_schema **schemas;
    size_t n_schemas;
    size_t cap_schemas;
    struct hs_assoc_type *assoc_types;
    size_t n_assoc_types;
    size_t cap_assoc_types;
    struct hs_assoc *assocs;
    size_t n_assocs;
    size_t cap_assocs;
    struct hmap tokens;        /* access token -> struct hs_token* */
    struct hs_client *clients; /* from fixtures; the configured default client is implicit */
    size_t n_clients;
    struct hmap windows; /* principal -> struct rate_window* */
    int64_t search_stamps[64];
    size_t search_head;
    size_t search_count;
    uint64_t next_id;
    uint64_t next_schema_id;
    uint64_t refreshes;
    size_t total_records;
};

/* ---------------- Salesforce ---------------- */

struct sf_field {
    char *name;
    char *type; /* id, string, textarea, picklist, multipicklist, boolean, int, double, currency,
                   percent, date, datetime, email, phone, url, reference, ... */
    int64_t length;
    bool nillable;
    bool createable;
    bool updateable;
    bool calculated;
    bool external_id;
    bool unique;
    bool case_sensitive;
    bool defaulted;
    bool restricted;
    bool system;                /* Id, IsDeleted, CreatedDate, LastModifiedDate, SystemModstamp */
    json_object *default_value; /* borrowed from the describe document, or NULL */
    char **picklist;            /* active values */
    size_t n_picklist;
};

struct sf_record {
    char id[19];
    json_object *
        fields; /* canonical field name -> typed JSON value (no system fields); replaced on write */
    int64_t created_ms;
    int64_t modified_ms;
    int64_t modstamp_ms;
    int64_t deleted_ms;
    bool deleted;
    char created_by[19];            /* CreatedById: the writing user (18 chars) */
    char modified_by[19];           /* LastModifiedById */
    struct uindex_keys unique_keys; /* where sf_object.unique_index lists this record */
};

struct sf_object {
    char *name;
    char key_prefix[4];
    json_object *describe;
    int64_t describe_ms; /* Last-Modified of the describe (fixture load time) */
    struct sf_field *fields;
    size_t n_fields;
    struct sf_record **records; /* creation order */
    size_t n_records;
    size_t cap_records;
    struct hmap by_id;        /* 18-char id -> struct sf_record* */
    struct hmap unique_index; /* text values of unique fields (uindex.h, sf_unique_note) */
};

struct sf_token {
    char *username;
};

struct sf_client {
    char *client_id;
    char *client_secret;
    char **refresh_tokens;
    size_t n_refresh;
    size_t cap_refresh;
};

struct sf_cursor {
    char id[19];
    json_object *records; /* every row of the result, rendered */
    int64_t created_mono;
};

struct ob_rule {
    char *object;
    char **fields;
    size_t n_fields;
    char *url;
    char *org_id;     /* NULL = the configured org id */
    char *session_id; /* NULL = xsi:nil */
    char action_id[19];
    char skip_user[19]; /* "" = none; else the flow's entry condition LastModifiedById != it */
};

struct sf_state {
    struct sf_object **objects;
    size_t n_objects;
    size_t cap_objects;
    struct hmap tokens; /* access token -> struct sf_token* */
    struct sf_client *clients;
    size_t n_clients;
    char **static_tokens;
    size_t n_static_tokens;
    char **users; /* usernames valid as JWT subjects (besides the configured one) */
    size_t n_users;
    char *rotated_default_refresh; /* the default client's current refresh token after rotation */
    bool static_revoked;           /* the configured static token was invalidated */
    struct sf_cursor *cursors[SIM_MAX_CURSORS];
    struct ob_rule *rules;
    size_t n_rules;
    uint64_t id_counter;
    uint64_t refreshes;
    int64_t api_used;
};

/* ---------------- deliveries ---------------- */

enum delivery_kind { DELIVERY_WEBHOOK, DELIVERY_OUTBOUND };

struct ob_notification {
    char id[19];        /* Notification/Id */
    char record_id[19]; /* sObject Id */
};

struct delivery {
    uint64_t id;
    enum delivery_kind kind;
    int attempt;       /* attempts made so far (= attemptNumber of the next webhook send) */
    int64_t next_mono; /* when the next attempt is due */
    int64_t created_ms;
    bool in_flight;
    bool orphaned;       /* dropped by reset while in flight: the worker frees it */
    json_object *events; /* webhook: array of events (attemptNumber filled at send time) */
    size_t rule;         /* outbound: index into sim->sf.rules */
    struct ob_notification *notifs;
    size_t n_notifs;
    int last_status;
    char last_error[160];
    struct delivery *next;
};

struct ob_pending {
    size_t rule;
    struct ob_notification n;
};

struct delivery_counters {
    uint64_t attempted;
    uint64_t acked;
    uint64_t failed;
    uint64_t dropped;
};

struct delivery_state {
    struct delivery *head;
    size_t count;
    json_object *events; /* array of events not yet batched */
    int64_t events_since_mono;
    struct ob_pending *notifs; /* notifications not yet in a message */
    size_t n_notifs;
    size_t cap_notifs;
    int64_t notifs_since_mono;
    bool flush_requested;
    uint64_t next_id;
    uint64_t next_event_id;
    uint64_t events_dropped;
    struct delivery_counters webhook;
    struct delivery_counters outbound;
    pthread_t workers[SIM_DELIVERY_WORKERS];
    size_t n_workers;
};

/* ---------------- stats and faults ---------------- */

struct stat_count {
    char method[12];
    const char *route; /* static route pattern */
    int status;
    uint64_t count;
};

struct stats {
    struct stat_count *counts;
    size_t n_counts;
    size_t cap_counts;
    json_object **log; /* ring of recorded requests */
    size_t log_cap;
    size_t log_head;
    size_t log_n;
    uint64_t seq;
};

struct fault {
    uint64_t id;
    char method[12]; /* "*" = any */
    char *prefix;
    char *body_contains; /* NULL = any body; else only requests whose body holds this text */
    double rate;         /* 0..1; 1 when only count is given */
    int status;          /* 0 = no injected status (latency only) */
    char *body;          /* NULL = CRM-shaped default */
    int64_t latency_ms;
    bool timeout;
    int64_t remaining; /* -1 = unlimited */
    uint64_t hits;
};

struct faults {
    struct fault *items;
    size_t n;
    size_t cap;
    uint64_t next_id;
};

/* ---------------- the simulator ---------------- */

struct sim {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    atomic_bool stopping; /* set once at shutdown; atomic so curl progress callbacks can read it */

    char base_url[160];  /* immutable after start */
    char *fixtures_path; /* immutable after start; NULL = none */

    struct sim_config cfg;
    struct hs_state hs;
    struct sf_state sf;
    struct delivery_state dq;
    struct stats stats;
    struct faults faults;
    uint64_t rng; /* xorshift state for fault rates */
    int64_t started_ms;
};

/* Creates the simulator with default config (no fixtures loaded). Caller frees with sim_free(). */
struct sim *sim_new(const char *base_url, const char *fixtures_path);
void sim_free(struct sim *sim);
/* Clears all state and restores the defaults, then loads the startup fixtures file (if any).
 * Caller holds sim->lock. 0 on success; on fixture errors fills err. */
int sim_reset(struct sim *sim, char *err, size_t errlen);
/* The base URL clients should use (public_base_url when configured). Caller holds sim->lock. */
const char *sim_base_url(const struct sim *sim);
/* Sleeps up to ms, waking early on shutdown. Takes and releases sim->lock itself (caller must NOT
 * hold it). Returns false when interrupted by shutdown. */
bool sim_sleep_ms(struct sim *sim, int64_t ms);
/* Uniform double in [0,1). Caller holds sim->lock. */
double sim_random(struct sim *sim);

#endif
