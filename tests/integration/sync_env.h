/* sync_env.h: shared setup of the sync end-to-end tests: crmsim with both CRMs wired to synkro,
 * one or more `synkro serve` processes on one fresh PostgreSQL database, and an enabled mapping
 * Widget__c <-> widgets with one field per rule (tests/fixtures/sync_e2e.json).
 *
 * Owns the processes, the database and the temporary log directory of one environment (stopped,
 * dropped and removed by sync_env_stop), plus helpers to edit records as a user on either side
 * through crmsim's /_sim/ API, read them back, wait for a condition or for quiescence, and count
 * the write calls synkro made to each CRM (from /_sim/stats).
 *
 * Design: every synkro process keeps its port across restarts, so crmsim's webhook URL and
 * outbound rule stay valid while a process is killed and started again. HubSpot webhooks go to
 * process 0, Salesforce outbound messages to process 1 when there are several (the work is shared
 * through the database either way).
 *
 * Must not: mock anything, know how the engine works inside, or sleep fixed times where it can
 * poll. */
#ifndef SYNKRO_TESTS_SYNC_ENV_H
#define SYNKRO_TESTS_SYNC_ENV_H

#include "harness.h"

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SYNC_SF_OBJECT     "Widget__c"
#define SYNC_HS_TYPE       "2-5550001"
#define SYNC_HS_IDENTITY   "salesforce_id" /* HubSpot property holding the Salesforce id */
#define SYNC_SF_IDENTITY   "HubSpot_Id__c" /* Salesforce field holding the HubSpot id */
#define SYNC_ADMIN_TOKEN   "admin-token-for-sync-e2e-tests"
#define SYNC_ENV_MAX_PROCS 3

/* The mapped fields, one per rule, in this order. */
enum sync_field_index {
    SF_TWO_WAY = 0,
    SF_PREFER_SF,
    SF_ALWAYS_SF,
    SF_ALWAYS_HS,
    SF_DONT_SYNC,
    SYNC_NFIELDS
};

struct sync_field {
    const char *sf;   /* Salesforce field */
    const char *hs;   /* HubSpot property */
    const char *rule; /* mapping rule name */
};

extern const struct sync_field sync_fields[SYNC_NFIELDS];

struct sync_env_options {
    const char *conflict_winner;  /* "salesforce" (NULL) or "hubspot" */
    const char *s2h_delete;       /* "delete" (NULL) or "none" */
    const char *h2s_delete;       /* "delete" (NULL) or "none" */
    int sweep_interval_s;         /* SYNKRO_SWEEP_INTERVAL; 0 turns the sweep off */
    int workers;                  /* SYNKRO_WORKERS per process; 0 means 2 */
    size_t nprocs;                /* synkro processes started (1..SYNC_ENV_MAX_PROCS); 0 means 1 */
    bool hold_deliveries;         /* crmsim batches webhooks/outbound for 10 min: flush by hand */
    const char *const *extra_env; /* more KEY=VALUE for synkro (NULL-terminated), may be NULL */
    const char *fixture; /* crmsim fixture, relative to the source dir; NULL: the default */
    /* Mapping documents created + enabled in this order instead of the default Widgets mapping
     * (NULL-terminated, at most SYNC_ENV_MAX_MAPPINGS); NULL: the default. */
    const char *const *mapping_docs;
};

#define SYNC_ENV_MAX_MAPPINGS 8

struct sync_env {
    struct sync_env_options opts;
    struct harness_db db;
    struct harness_crmsim sim;
    struct harness_proc procs[SYNC_ENV_MAX_PROCS];
    int ports[SYNC_ENV_MAX_PROCS];
    size_t nprocs;
    char dir[256]; /* synkro logs: synkro-N.log, appended across restarts */
    bool dir_made;
    int64_t mapping_id;
    int64_t mapping_ids[SYNC_ENV_MAX_MAPPINGS]; /* opts.mapping_docs' ids, in order */
    size_t n_mappings;
};

/* Creates the database, starts crmsim with the fixture wired to synkro, starts opts->nprocs
 * synkro processes, and creates + enables the mapping. Returns NULL (after printing why and
 * cleaning up) on failure. Caller stops it with sync_env_stop. */
struct sync_env *sync_env_start(const struct sync_env_options *opts);
/* Stops every process (SIGTERM: a clean exit also runs LeakSanitizer), crmsim, drops the database
 * and frees env. Returns 0 when every running synkro exited with status 0. Accepts NULL. */
int sync_env_stop(struct sync_env *env);
/* cmocka glue: sync_env_start into *state, failing the test when it does not start. */
struct sync_env *sync_env_start_test(void **state, const struct sync_env_options *opts);
/* cmocka teardown: sync_env_stop of *state (cleared); -1 when a synkro did not exit cleanly. */
int sync_env_teardown(void **state);

/* Starts (or restarts) process idx on its port and waits for /healthz. 0 on success. */
int sync_env_proc_start(struct sync_env *env, size_t idx);
/* Sends sig to process idx and reaps it (SIGKILL after timeout_ms). The exit status as
 * harness_synkro_stop answers it. */
int sync_env_proc_stop(struct sync_env *env, size_t idx, int sig, int timeout_ms);
/* Prints the last max_bytes of each synkro log to stderr (for failure reports). */
void sync_env_dump_logs(const struct sync_env *env, size_t max_bytes);
/* Starts (or restarts) process idx like sync_env_proc_start, but with extra_env (KEY=VALUE,
 * NULL-terminated, may be NULL) in place of opts.extra_env for this start only, e.g. a failpoint
 * (SYNKRO_FAILPOINT) that later starts must not have. 0 on success. */
int sync_env_proc_start_with(struct sync_env *env, size_t idx, const char *const *extra_env);
/* Waits up to timeout_ms for process idx to end by itself (nothing is sent to it) and reaps it:
 * its exit status (0-255), 128+signal when a signal ended it, or -1 when it still runs. */
int sync_env_proc_wait_exit(struct sync_env *env, size_t idx, int timeout_ms);

/* ---- crmsim control ---- */

/* POST/GET/DELETE on crmsim's /_sim/ API; returns the parsed body (NULL when empty or not JSON)
 * and the status in *status (may be NULL). Caller puts. */
json_object *sync_sim(const struct sync_env *env, const char *method, const char *path,
                      const char *body, long *status);
/* Sends every pending webhook and outbound message now. */
void sync_flush(const struct sync_env *env);
/* The Salesforce outbound-message URL of the environment (for outbound rules of other objects,
 * e.g. loaded through POST /_sim/fixtures). */
void sync_env_outbound_url(const struct sync_env *env, char *out, size_t outlen);
/* Adds a fault rule (JSON text); 0 on success. */
int sync_fault_add(const struct sync_env *env, const char *rule_json);
void sync_faults_clear(const struct sync_env *env);
/* Successful (2xx) write calls synkro made to "hubspot", "salesforce" or both (NULL). */
long sync_write_calls(const struct sync_env *env, const char *crm);

/* ---- records, edited as a user ---- */

/* A JSON object text from key/value pairs ending with NULL; a NULL value is JSON null.
 * Caller frees. */
char *sync_json_kv(const char *key, ...) __attribute__((sentinel));

/* Creates a record from a JSON object text (fields / properties); its id into id (64 bytes).
 * 0 on success. */
int sync_sf_create(const struct sync_env *env, const char *fields_json, char *id, size_t idlen);
int sync_hs_create(const struct sync_env *env, const char *props_json, char *id, size_t idlen);
int sync_sf_update(const struct sync_env *env, const char *id, const char *fields_json);
int sync_hs_update(const struct sync_env *env, const char *id, const char *props_json);
int sync_sf_delete(const struct sync_env *env, const char *id);
int sync_hs_delete(const struct sync_env *env, const char *id);
int sync_hs_restore(const struct sync_env *env, const char *id);
int sync_hs_merge(const struct sync_env *env, const char *primary, const char *merged);

/* One record (NULL when unknown); lists of every record including deleted/archived ones.
 * Caller puts. */
json_object *sync_sf_get(const struct sync_env *env, const char *id);
json_object *sync_hs_get(const struct sync_env *env, const char *id);
json_object *sync_sf_list(const struct sync_env *env);
json_object *sync_hs_list(const struct sync_env *env);

/* A field's text ("" for null/absent; numbers and booleans as JSON text). Borrowed from rec
 * (or static). */
const char *sync_sf_value(json_object *rec, const char *field);
const char *sync_hs_value(json_object *rec, const char *prop);
bool sync_sf_deleted(json_object *rec);
bool sync_hs_archived(json_object *rec);
/* The ids of the to_type records a HubSpot record is associated with (v4 API), sorted and joined
 * with "," ("" when none), into out. 0, or -1 when the read failed (out says how). */
int sync_hs_assoc_ids(const struct sync_env *env, const char *from_type, const char *from_id,
                      const char *to_type, char *out, size_t outlen);

/* ---- waiting ---- */

/* Polls until the Salesforce field / HubSpot property of a record reads expected ("" = blank).
 * On timeout prints what it read and returns false. */
bool sync_wait_sf_value(const struct sync_env *env, const char *id, const char *field,
                        const char *expected, int timeout_ms);
bool sync_wait_hs_value(const struct sync_env *env, const char *id, const char *prop,
                        const char *expected, int timeout_ms);
/* Polls until a live HubSpot record carries salesforce_id = sf_id (its id into hs_id), or a live
 * Salesforce record carries HubSpot_Id__c = hs_id. */
bool sync_wait_hs_for_sf(const struct sync_env *env, const char *sf_id, char *hs_id, size_t len,
                         int timeout_ms);
bool sync_wait_sf_for_hs(const struct sync_env *env, const char *hs_id, char *sf_id, size_t len,
                         int timeout_ms);
/* Polls until sync_hs_assoc_ids answers want ("" = no association). On timeout prints what it
 * read and returns false. */
bool sync_wait_hs_assoc(const struct sync_env *env, const char *from_type, const char *from_id,
                        const char *to_type, const char *want, int timeout_ms);
/* Polls until a record is deleted (Salesforce) / archived (HubSpot). */
bool sync_wait_sf_deleted(const struct sync_env *env, const char *id, int timeout_ms);
bool sync_wait_hs_archived(const struct sync_env *env, const char *id, int timeout_ms);
/* Flushes deliveries until nothing is pending in crmsim and no event is pending or processing in
 * the queue, twice in a row with nothing new in between. False on timeout. */
bool sync_wait_quiet(const struct sync_env *env, int timeout_ms);

/* ---- synkro side ---- */

/* An admin API call to process 0; parsed body (NULL when empty). */
json_object *sync_api(const struct sync_env *env, const char *method, const char *path,
                      const char *body, long *status);
/* One integer from parameterised SQL on the environment's database: text parameters $1.. follow
 * sql, ending with NULL (at most 8). -1 on error. */
long long sync_db_count(const struct sync_env *env, const char *sql, ...) __attribute__((sentinel));
/* Prints up to n failed events (id, kind, record, error) to stderr; returns how many failed. */
long long sync_report_failed(const struct sync_env *env, int n);
/* The sum of every sample of one metric family (all its label combinations) on process 0's
 * /metrics; 0 when the family is declared without samples yet, -1 when /metrics does not name it
 * (or cannot be read). */
double sync_metric_total(const struct sync_env *env, const char *family);
/* The same on process idx's /metrics. */
double sync_proc_metric_total(const struct sync_env *env, size_t idx, const char *family);

/* A member of a JSON object (NULL when absent). */
json_object *sync_get(json_object *o, const char *key);

#endif
