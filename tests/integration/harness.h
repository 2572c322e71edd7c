/* harness.h: helpers for integration tests that run the real synkro binary
 * against the real PostgreSQL cluster started by scripts/test.sh.
 *
 * Each test creates its own database (harness_db_create), starts synkro on a
 * free port with extra environment (harness_synkro_start), talks HTTP to it
 * with libcurl (harness_http), and stops it (harness_synkro_stop). Nothing
 * here is mocked. Environment (set by scripts/test.sh): SYNKRO_BIN,
 * SYNKRO_TEST_ADMIN_URL, SYNKRO_TEST_PG_DIR, SYNKRO_TEST_PG_CTL. */
#ifndef SYNKRO_TESTS_HARNESS_H
#define SYNKRO_TESTS_HARNESS_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct harness_db {
    char name[64];
    char url[1024];
};

/* Creates a fresh, uniquely named database. 0 on success. */
int harness_db_create(struct harness_db *db);
void harness_db_drop(struct harness_db *db);
/* Connects to db (caller PQfinish()es). Aborts the test on failure. */
PGconn *harness_db_connect(const struct harness_db *db);
/* Runs a query returning one value (caller frees); NULL on error. */
char *harness_db_scalar(const struct harness_db *db, const char *sql);

struct harness_proc {
    pid_t pid;
    int port;
    char base_url[128];
    char dir[256];      /* temp dir with stdout/stderr files */
    char out_path[300]; /* stdout */
    char err_path[300]; /* stderr (the JSON log) */
};

/* A TCP port that was free a moment ago on 127.0.0.1, drawn by scripts/free_port.sh; -1 when none.
 */
int harness_free_port(void);

/* Starts `synkro serve` with DATABASE_URL=db_url (NULL: leave unset), the
 * given extra "KEY=VALUE" strings (NULL-terminated, may be NULL), and a free
 * port; waits up to 20 s for /healthz. 0 on success. */
int harness_synkro_start(struct harness_proc *p, const char *db_url, const char *const *env);
/* Sends sig and waits up to timeout_ms for exit. Returns the exit status
 * (0-255), 128+signal when killed by a signal, -1 on timeout (then SIGKILLs). */
int harness_synkro_stop(struct harness_proc *p, int sig, int timeout_ms);
/* Runs `synkro ARGS...` to completion with env; stdout+stderr into *output
 * (caller frees). Returns the exit status. */
int harness_synkro_run(const char *const *argv, const char *const *env, char **output);

struct harness_response {
    long status;
    char *body;
    size_t body_len;
    char *headers; /* raw header block */
};

/* One HTTP request. headers: "Name: value" strings, NULL-terminated.
 * Returns 0 when a response arrived. */
int harness_http(const char *method, const char *url, const char *const *headers, const char *body,
                 size_t body_len, struct harness_response *out);
void harness_response_free(struct harness_response *r);
/* Copies a response header's value (case-insensitive name). 0 if found. */
int harness_response_header(const struct harness_response *r, const char *name, char *out,
                            size_t outlen);

struct harness_crmsim {
    pid_t pid;
    int port;
    char base_url[128];
    char dir[256];
    char log_path[300];
};

/* Starts tests/crmsim (CRMSIM_BIN) on a free port with the given fixture
 * file (NULL: none); waits until it answers. 0 on success. */
int harness_crmsim_start(struct harness_crmsim *sim, const char *fixtures_path);
void harness_crmsim_stop(struct harness_crmsim *sim);
/* POSTs a JSON body to crmsim's control API (path like "/_sim/config").
 * Returns the HTTP status (0 when unreachable). */
long harness_crmsim_post(const struct harness_crmsim *sim, const char *path, const char *json);

/* Stops or starts the test cluster (same port). 0 on success. */
int harness_pg(const char *action);

/* Reads a whole file (caller frees); NULL on error. */
char *harness_read_file(const char *path);

/* Polls until pred(ud) is true or timeout_ms passes. */
bool harness_wait_until(bool (*pred)(void *ud), void *ud, int timeout_ms);

/* Sleeps ms milliseconds. */
void harness_sleep_ms(int ms);

/* Required environment variable; fails the test when missing. */
const char *harness_env(const char *name);

/* ---- fixtures shared by the admin-API tests ---- */

/* The environment that points synkro's HubSpot and Salesforce clients at crmsim with its
 * simulated credentials, for a NULL-terminated env initializer: hs_base and sf_login are the
 * strings harness_crmsim_start_example filled. */
#define HARNESS_CRM_ENV(hs_base, sf_login)                                                         \
    (hs_base), "HUBSPOT_ACCESS_TOKEN=pat-sim-token", (sf_login),                                   \
        "SALESFORCE_CLIENT_ID=sim-sf-client-id", "SALESFORCE_CLIENT_SECRET=sim-sf-client-secret",  \
        "SALESFORCE_REFRESH_TOKEN=sim-sf-refresh-token"

/* Starts crmsim with tests/crmsim/fixtures/example.json (under SYNKRO_SOURCE_DIR) and writes
 * "HUBSPOT_API_BASE=<its url>" into hs_base and "SALESFORCE_LOGIN_URL=<its url>" into sf_login.
 * 0 on success. */
int harness_crmsim_start_example(struct harness_crmsim *sim, char *hs_base, size_t hs_len,
                                 char *sf_login, size_t sf_len);

/* Creates a fresh database into db and starts synkro on it with env. 0 on success. */
int harness_synkro_start_fresh(struct harness_db *db, struct harness_proc *p,
                               const char *const *env);

/* Kills synkro (when running) and drops db: the teardown of tests that check no clean exit. */
void harness_synkro_kill_fresh(struct harness_db *db, struct harness_proc *p);

/* Stops synkro (when running) with SIGTERM within 15 s, a clean stop also running LeakSanitizer
 * over it, printing its log when it did not exit with 0; then stops sim (may be one never
 * started) and drops db. 0, or -1 when synkro did not exit cleanly. */
int harness_teardown_clean(struct harness_db *db, struct harness_proc *p,
                           struct harness_crmsim *sim);

#endif
