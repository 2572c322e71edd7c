/* sync_env.c: shared setup of the sync end-to-end tests (see sync_env.h).
 *
 * Owns the synkro child processes it forks (fixed port per process, logs appended to
 * <dir>/synkro-N.log), the database and crmsim of one environment; sync_env_stop releases all
 * of them. Setup problems are printed and answered as NULL / -1 so the cmocka setup fails with a
 * reason; nothing here asserts on sync behaviour. */
#include "sync_env.h"

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#define SF_ENDPOINT_TOKEN "sf-endpoint-token-sync-e2e-0123"
#define HS_CLIENT_SECRET  "sim-client-secret"
#define SF_API_VERSION    "v62.0"

const struct sync_field sync_fields[SYNC_NFIELDS] = {
    [SF_TWO_WAY] = {"Two_Way__c", "two_way", "two_way"},
    [SF_PREFER_SF] = {"Prefer_Sf__c", "prefer_sf", "prefer_salesforce_unless_blank"},
    [SF_ALWAYS_SF] = {"Always_Sf__c", "always_sf", "always_salesforce"},
    [SF_ALWAYS_HS] = {"Always_Hs__c", "always_hs", "always_hubspot"},
    [SF_DONT_SYNC] = {"Dont_Sync__c", "dont_sync", "dont_sync"},
};

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

json_object *sync_get(json_object *o, const char *key)
{
    json_object *v = NULL;
    if (o && json_object_is_type(o, json_type_object))
        json_object_object_get_ex(o, key, &v);
    return v;
}

/* ---- processes ---- */

static void log_path(const struct sync_env *env, size_t idx, char *out, size_t outlen)
{
    snprintf(out, outlen, "%s/synkro-%zu.log", env->dir, idx);
}

/* Child: environment, log file, exec. Never returns. */
static void exec_synkro(const struct sync_env *env, size_t idx)
{
    char listen[64], hs_base[192], sf_login[192], workers[48], sweep[48];
    snprintf(listen, sizeof listen, "127.0.0.1:%d", env->ports[idx]);
    snprintf(hs_base, sizeof hs_base, "%s", env->sim.base_url);
    snprintf(sf_login, sizeof sf_login, "%s", env->sim.base_url);
    snprintf(workers, sizeof workers, "%d", env->opts.workers > 0 ? env->opts.workers : 2);
    snprintf(sweep, sizeof sweep, "%d", env->opts.sweep_interval_s);
    const char *const kv[][2] = {
        {"DATABASE_URL", env->db.url},
        {"SYNKRO_LISTEN", listen},
        {"SYNKRO_HTTP_THREADS", "8"},
        {"SYNKRO_ADMIN_TOKEN", SYNC_ADMIN_TOKEN},
        {"HUBSPOT_API_BASE", hs_base},
        {"HUBSPOT_ACCESS_TOKEN", "pat-sim-token"},
        {"HUBSPOT_CLIENT_SECRET", HS_CLIENT_SECRET},
        {"HUBSPOT_RATE_LIMIT_PER_10S", "5000"},
        {"SALESFORCE_LOGIN_URL", sf_login},
        {"SALESFORCE_API_VERSION", SF_API_VERSION},
        {"SALESFORCE_CLIENT_ID", "sim-sf-client-id"},
        {"SALESFORCE_CLIENT_SECRET", "sim-sf-client-secret"},
        {"SALESFORCE_REFRESH_TOKEN", "sim-sf-refresh-token"},
        {"SALESFORCE_ORG_ID", "00D000000000001"},
        {"SYNKRO_SF_ENDPOINT_TOKEN", SF_ENDPOINT_TOKEN},
        {"SYNKRO_SECRET_KEY", "0123456789abcdef0123456789abcdef0123456789abcdef"},
        {"SYNKRO_WORKERS", workers},
        {"SYNKRO_WORKER_POLL_MS", "20"},
        {"SYNKRO_LEASE_MS", "30000"},
        {"SYNKRO_RETRY_BASE_MS", "50"},
        {"SYNKRO_RETRY_CAP_MS", "1000"},
        {"SYNKRO_RETRY_MAX_ATTEMPTS", "60"},
        {"SYNKRO_CRM_TIMEOUT_MS", "3000"},
        {"SYNKRO_CRM_CONNECT_TIMEOUT_MS", "1000"},
        {"SYNKRO_SWEEP_INTERVAL", sweep},
        {"SYNKRO_SHUTDOWN_GRACE_MS", "3000"},
    };
    for (size_t i = 0; i < sizeof kv / sizeof kv[0]; i++)
        setenv(kv[i][0], kv[i][1], 1);
    for (const char *const *e = env->opts.extra_env; e && *e; e++) {
        char *copy = strdup(*e);
        char *eq = copy ? strchr(copy, '=') : NULL;
        if (!eq)
            _exit(126);
        *eq = '\0';
        setenv(copy, eq + 1, 1);
        free(copy);
    }
    char path[320];
    log_path(env, idx, path, sizeof path);
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd < 0)
        _exit(126);
    dup2(fd, 1);
    dup2(fd, 2);
    const char *bin = getenv("SYNKRO_BIN");
    if (!bin)
        _exit(127);
    execl(bin, bin, "serve", (char *)NULL);
    _exit(127);
}

static bool healthy(struct harness_proc *p)
{
    int status;
    if (waitpid(p->pid, &status, WNOHANG) == p->pid) {
        p->pid = -1;
        return false;
    }
    char url[256];
    snprintf(url, sizeof url, "%s/healthz", p->base_url);
    struct harness_response r;
    bool ok = harness_http("GET", url, NULL, NULL, 0, &r) == 0 && r.status == 200;
    harness_response_free(&r);
    return ok;
}

int sync_env_proc_start(struct sync_env *env, size_t idx)
{
    struct harness_proc *p = &env->procs[idx];
    if (p->pid > 0)
        return 0;
    p->port = env->ports[idx];
    snprintf(p->base_url, sizeof p->base_url, "http://127.0.0.1:%d", p->port);
    snprintf(p->dir, sizeof p->dir, "%s", env->dir);
    log_path(env, idx, p->err_path, sizeof p->err_path);
    log_path(env, idx, p->out_path, sizeof p->out_path);
    fflush(NULL);
    p->pid = fork();
    if (p->pid < 0)
        return -1;
    if (p->pid == 0)
        exec_synkro(env, idx);
    int64_t deadline = mono_ms() + 60000;
    while (mono_ms() < deadline) {
        if (healthy(p))
            return 0;
        if (p->pid < 0)
            break;
        harness_sleep_ms(25);
    }
    fprintf(stderr, "sync_env: synkro %zu did not become healthy\n", idx);
    sync_env_dump_logs(env, 4000);
    if (p->pid > 0)
        harness_synkro_stop(p, SIGKILL, 5000);
    return -1;
}

int sync_env_proc_stop(struct sync_env *env, size_t idx, int sig, int timeout_ms)
{
    return harness_synkro_stop(&env->procs[idx], sig, timeout_ms);
}

int sync_env_proc_start_with(struct sync_env *env, size_t idx, const char *const *extra_env)
{
    const char *const *saved = env->opts.extra_env;
    env->opts.extra_env = extra_env; /* the child copies it at fork */
    int rc = sync_env_proc_start(env, idx);
    env->opts.extra_env = saved;
    return rc;
}

int sync_env_proc_wait_exit(struct sync_env *env, size_t idx, int timeout_ms)
{
    struct harness_proc *p = &env->procs[idx];
    int64_t deadline = mono_ms() + timeout_ms;
    while (p->pid > 0) {
        int status = 0;
        pid_t w = waitpid(p->pid, &status, WNOHANG);
        if (w == p->pid || w < 0) {
            p->pid = -1;
            if (w < 0)
                return -1;
            return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        }
        if (mono_ms() >= deadline)
            return -1;
        harness_sleep_ms(20);
    }
    return -1;
}

void sync_env_dump_logs(const struct sync_env *env, size_t max_bytes)
{
    for (size_t i = 0; i < SYNC_ENV_MAX_PROCS; i++) {
        char path[320];
        log_path(env, i, path, sizeof path);
        char *log = harness_read_file(path);
        if (!log)
            continue;
        size_t len = strlen(log);
        const char *from = len > max_bytes ? log + len - max_bytes : log;
        fprintf(stderr, "---- synkro %zu log (last %zu bytes) ----\n%s\n", i, max_bytes, from);
        free(log);
    }
}

/* ---- crmsim ---- */

json_object *sync_sim(const struct sync_env *env, const char *method, const char *path,
                      const char *body, long *status)
{
    char url[512];
    snprintf(url, sizeof url, "%s%s", env->sim.base_url, path);
    const char *h[] = {"Content-Type: application/json", NULL};
    struct harness_response r;
    json_object *o = NULL;
    long st = 0;
    if (harness_http(method, url, h, body, body ? strlen(body) : 0, &r) == 0) {
        st = r.status;
        if (r.body_len)
            o = json_tokener_parse(r.body);
    }
    harness_response_free(&r);
    if (status)
        *status = st;
    return o;
}

static long sim_call(const struct sync_env *env, const char *method, const char *path,
                     const char *body)
{
    long st = 0;
    json_object_put(sync_sim(env, method, path, body, &st));
    return st;
}

void sync_flush(const struct sync_env *env)
{
    sim_call(env, "POST", "/_sim/deliveries/flush", "{}");
}

int sync_fault_add(const struct sync_env *env, const char *rule_json)
{
    return sim_call(env, "POST", "/_sim/faults", rule_json) == 201 ? 0 : -1;
}

void sync_faults_clear(const struct sync_env *env)
{
    sim_call(env, "DELETE", "/_sim/faults", NULL);
}

/* Reads that use POST (or token calls) are not writes. */
static bool route_is_write(const char *method, const char *route)
{
    static const char *const reads[] = {"/batch/read", "/search", "oauth", "/token", "(unmatched)"};
    if (strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0)
        return false;
    for (size_t i = 0; i < sizeof reads / sizeof reads[0]; i++)
        if (strstr(route, reads[i]))
            return false;
    return true;
}

long sync_write_calls(const struct sync_env *env, const char *crm)
{
    json_object *st = sync_sim(env, "GET", "/_sim/stats?limit=0", NULL, NULL);
    json_object *calls = sync_get(st, "calls");
    long n = 0;
    for (size_t i = 0; calls && i < json_object_array_length(calls); i++) {
        json_object *c = json_object_array_get_idx(calls, i);
        const char *method = json_object_get_string(sync_get(c, "method"));
        const char *route = json_object_get_string(sync_get(c, "route"));
        int status = json_object_get_int(sync_get(c, "status"));
        if (!method || !route || status < 200 || status > 299 || !route_is_write(method, route))
            continue;
        bool hs = strncmp(route, "/crm", 4) == 0;
        bool sf = strncmp(route, "/services", 9) == 0;
        if (!crm || (strcmp(crm, "hubspot") == 0 && hs) || (strcmp(crm, "salesforce") == 0 && sf))
            n += json_object_get_int(sync_get(c, "count"));
    }
    json_object_put(st);
    return n;
}

/* ---- records ---- */

char *sync_json_kv(const char *key, ...)
{
    json_object *o = json_object_new_object();
    va_list ap;
    va_start(ap, key);
    for (const char *k = key; k; k = va_arg(ap, const char *)) {
        const char *v = va_arg(ap, const char *);
        json_object_object_add(o, k, v ? json_object_new_string(v) : NULL);
    }
    va_end(ap);
    char *out = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
    json_object_put(o);
    return out;
}

static int create_record(const struct sync_env *env, const char *path, const char *body,
                         const char *id_key, char *id, size_t idlen)
{
    long st = 0;
    json_object *o = sync_sim(env, "POST", path, body, &st);
    const char *v = json_object_get_string(sync_get(o, id_key));
    int rc = st == 201 && v ? 0 : -1;
    if (rc == 0)
        snprintf(id, idlen, "%s", v);
    else
        fprintf(stderr, "sync_env: POST %s %s -> %ld %s\n", path, body, st,
                o ? json_object_to_json_string(o) : "");
    json_object_put(o);
    return rc;
}

int sync_sf_create(const struct sync_env *env, const char *fields_json, char *id, size_t idlen)
{
    return create_record(env, "/_sim/salesforce/" SYNC_SF_OBJECT "/records", fields_json, "Id", id,
                         idlen);
}

int sync_hs_create(const struct sync_env *env, const char *props_json, char *id, size_t idlen)
{
    char body[8192];
    snprintf(body, sizeof body, "{\"properties\":%s}", props_json);
    return create_record(env, "/_sim/hubspot/" SYNC_HS_TYPE "/records", body, "id", id, idlen);
}

static int expect(const struct sync_env *env, const char *method, const char *path,
                  const char *body, long want)
{
    long st = 0;
    json_object *o = sync_sim(env, method, path, body, &st);
    if (st != want)
        fprintf(stderr, "sync_env: %s %s -> %ld (want %ld) %s\n", method, path, st, want,
                o ? json_object_to_json_string(o) : "");
    json_object_put(o);
    return st == want ? 0 : -1;
}

int sync_sf_update(const struct sync_env *env, const char *id, const char *fields_json)
{
    char path[256];
    snprintf(path, sizeof path, "/_sim/salesforce/" SYNC_SF_OBJECT "/records/%s", id);
    return expect(env, "PATCH", path, fields_json, 200);
}

int sync_hs_update(const struct sync_env *env, const char *id, const char *props_json)
{
    char path[256], body[8192];
    snprintf(path, sizeof path, "/_sim/hubspot/" SYNC_HS_TYPE "/records/%s", id);
    snprintf(body, sizeof body, "{\"properties\":%s}", props_json);
    return expect(env, "PATCH", path, body, 200);
}

int sync_sf_delete(const struct sync_env *env, const char *id)
{
    char path[256];
    snprintf(path, sizeof path, "/_sim/salesforce/" SYNC_SF_OBJECT "/records/%s", id);
    return expect(env, "DELETE", path, NULL, 204);
}

int sync_hs_delete(const struct sync_env *env, const char *id)
{
    char path[256];
    snprintf(path, sizeof path, "/_sim/hubspot/" SYNC_HS_TYPE "/records/%s", id);
    return expect(env, "DELETE", path, NULL, 204);
}

int sync_hs_restore(const struct sync_env *env, const char *id)
{
    char path[256];
    snprintf(path, sizeof path, "/_sim/hubspot/" SYNC_HS_TYPE "/records/%s/restore", id);
    return expect(env, "POST", path, "{}", 200);
}

int sync_hs_merge(const struct sync_env *env, const char *primary, const char *merged)
{
    char body[256];
    snprintf(body, sizeof body, "{\"primaryObjectId\":\"%s\",\"objectIdToMerge\":\"%s\"}", primary,
             merged);
    return expect(env, "POST", "/_sim/hubspot/" SYNC_HS_TYPE "/merge", body, 200);
}

json_object *sync_sf_get(const struct sync_env *env, const char *id)
{
    char path[256];
    long st = 0;
    snprintf(path, sizeof path, "/_sim/salesforce/" SYNC_SF_OBJECT "/records/%s", id);
    json_object *o = sync_sim(env, "GET", path, NULL, &st);
    if (st != 200) {
        json_object_put(o);
        return NULL;
    }
    return o;
}

json_object *sync_hs_get(const struct sync_env *env, const char *id)
{
    char path[256];
    long st = 0;
    snprintf(path, sizeof path, "/_sim/hubspot/" SYNC_HS_TYPE "/records/%s", id);
    json_object *o = sync_sim(env, "GET", path, NULL, &st);
    if (st != 200) {
        json_object_put(o);
        return NULL;
    }
    return o;
}

static json_object *take_array(json_object *o, const char *key)
{
    json_object *a = sync_get(o, key);
    json_object *out = a ? json_object_get(a) : json_object_new_array();
    json_object_put(o);
    return out;
}

json_object *sync_sf_list(const struct sync_env *env)
{
    return take_array(
        sync_sim(env, "GET", "/_sim/salesforce/" SYNC_SF_OBJECT "/records", NULL, NULL), "records");
}

json_object *sync_hs_list(const struct sync_env *env)
{
    return take_array(sync_sim(env, "GET", "/_sim/hubspot/" SYNC_HS_TYPE "/records", NULL, NULL),
                      "results");
}

static const char *value_text(json_object *v)
{
    if (!v || json_object_is_type(v, json_type_null))
        return "";
    return json_object_get_string(v);
}

const char *sync_sf_value(json_object *rec, const char *field)
{
    return value_text(sync_get(rec, field));
}

const char *sync_hs_value(json_object *rec, const char *prop)
{
    return value_text(sync_get(sync_get(rec, "properties"), prop));
}

bool sync_sf_deleted(json_object *rec)
{
    return json_object_get_boolean(sync_get(rec, "IsDeleted"));
}

bool sync_hs_archived(json_object *rec)
{
    return json_object_get_boolean(sync_get(rec, "archived"));
}

static int cmp_text(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int sync_hs_assoc_ids(const struct sync_env *env, const char *from_type, const char *from_id,
                      const char *to_type, char *out, size_t outlen)
{
    char url[512];
    snprintf(url, sizeof url, "%s/crm/v4/objects/%s/%s/associations/%s?limit=500",
             env->sim.base_url, from_type, from_id, to_type);
    const char *h[] = {"Authorization: Bearer pat-sim-token", NULL};
    struct harness_response r;
    int rc = harness_http("GET", url, h, NULL, 0, &r);
    json_object *doc = rc == 0 && r.status == 200 && r.body ? json_tokener_parse(r.body) : NULL;
    json_object *results = sync_get(doc, "results");
    size_t n = results ? json_object_array_length(results) : 0;
    const char **ids = calloc(n + 1, sizeof *ids);
    if (!results || !ids) {
        snprintf(out, outlen, "(association read failed: HTTP %ld)", rc == 0 ? r.status : 0L);
        rc = -1;
    } else {
        for (size_t i = 0; i < n; i++)
            ids[i] = json_object_get_string(
                sync_get(json_object_array_get_idx(results, i), "toObjectId"));
        qsort(ids, n, sizeof *ids, cmp_text);
        size_t len = 0;
        out[0] = '\0';
        for (size_t i = 0; i < n && len < outlen; i++)
            len += (size_t)snprintf(out + len, outlen - len, "%s%s", i ? "," : "",
                                    ids[i] ? ids[i] : "?");
        rc = 0;
    }
    free(ids);
    json_object_put(doc);
    harness_response_free(&r);
    return rc;
}

/* ---- waiting ---- */

struct value_wait {
    const struct sync_env *env;
    const char *id, *name, *expected;
    bool hubspot;
    char got[256];
};

static bool value_matches(void *ud)
{
    struct value_wait *w = ud;
    if (w->env->opts.hold_deliveries)
        sync_flush(w->env);
    json_object *rec = w->hubspot ? sync_hs_get(w->env, w->id) : sync_sf_get(w->env, w->id);
    const char *v = rec ? (w->hubspot ? sync_hs_value(rec, w->name) : sync_sf_value(rec, w->name))
                        : "<no record>";
    snprintf(w->got, sizeof w->got, "%s", v);
    json_object_put(rec);
    return strcmp(w->got, w->expected) == 0;
}

static bool wait_value(const struct sync_env *env, bool hubspot, const char *id, const char *name,
                       const char *expected, int timeout_ms)
{
    struct value_wait w = {env, id, name, expected, hubspot, ""};
    if (harness_wait_until(value_matches, &w, timeout_ms))
        return true;
    fprintf(stderr, "sync_env: %s record %s %s: expected \"%s\", got \"%s\"\n",
            hubspot ? "HubSpot" : "Salesforce", id, name, expected, w.got);
    return false;
}

bool sync_wait_sf_value(const struct sync_env *env, const char *id, const char *field,
                        const char *expected, int timeout_ms)
{
    return wait_value(env, false, id, field, expected, timeout_ms);
}

bool sync_wait_hs_value(const struct sync_env *env, const char *id, const char *prop,
                        const char *expected, int timeout_ms)
{
    return wait_value(env, true, id, prop, expected, timeout_ms);
}

struct link_wait {
    const struct sync_env *env;
    const char *id;
    bool want_hubspot; /* look in HubSpot for a record pointing at a Salesforce id */
    char *out;
    size_t len;
};

static bool linked_found(void *ud)
{
    struct link_wait *w = ud;
    if (w->env->opts.hold_deliveries)
        sync_flush(w->env);
    json_object *list = w->want_hubspot ? sync_hs_list(w->env) : sync_sf_list(w->env);
    bool found = false;
    for (size_t i = 0; !found && i < json_object_array_length(list); i++) {
        json_object *rec = json_object_array_get_idx(list, i);
        if (w->want_hubspot && !sync_hs_archived(rec) &&
            strcmp(sync_hs_value(rec, SYNC_HS_IDENTITY), w->id) == 0) {
            snprintf(w->out, w->len, "%s", json_object_get_string(sync_get(rec, "id")));
            found = true;
        } else if (!w->want_hubspot && !sync_sf_deleted(rec) &&
                   strcmp(sync_sf_value(rec, SYNC_SF_IDENTITY), w->id) == 0) {
            snprintf(w->out, w->len, "%s", json_object_get_string(sync_get(rec, "Id")));
            found = true;
        }
    }
    json_object_put(list);
    return found;
}

bool sync_wait_hs_for_sf(const struct sync_env *env, const char *sf_id, char *hs_id, size_t len,
                         int timeout_ms)
{
    struct link_wait w = {env, sf_id, true, hs_id, len};
    if (harness_wait_until(linked_found, &w, timeout_ms))
        return true;
    fprintf(stderr, "sync_env: no live HubSpot record with %s=%s\n", SYNC_HS_IDENTITY, sf_id);
    return false;
}

bool sync_wait_sf_for_hs(const struct sync_env *env, const char *hs_id, char *sf_id, size_t len,
                         int timeout_ms)
{
    struct link_wait w = {env, hs_id, false, sf_id, len};
    if (harness_wait_until(linked_found, &w, timeout_ms))
        return true;
    fprintf(stderr, "sync_env: no live Salesforce record with %s=%s\n", SYNC_SF_IDENTITY, hs_id);
    return false;
}

struct assoc_wait {
    const struct sync_env *env;
    const char *from_type, *from_id, *to_type, *want;
    char got[512];
};

static bool assoc_matches(void *ud)
{
    struct assoc_wait *w = ud;
    if (w->env->opts.hold_deliveries)
        sync_flush(w->env);
    int rc = sync_hs_assoc_ids(w->env, w->from_type, w->from_id, w->to_type, w->got, sizeof w->got);
    return rc == 0 && strcmp(w->got, w->want) == 0;
}

bool sync_wait_hs_assoc(const struct sync_env *env, const char *from_type, const char *from_id,
                        const char *to_type, const char *want, int timeout_ms)
{
    struct assoc_wait w = {env, from_type, from_id, to_type, want, ""};
    if (harness_wait_until(assoc_matches, &w, timeout_ms))
        return true;
    fprintf(stderr, "sync_env: HubSpot %s %s is associated with %s [%s], expected [%s]\n",
            from_type, from_id, to_type, w.got, want);
    return false;
}

struct gone_wait {
    const struct sync_env *env;
    const char *id;
    bool hubspot;
};

static bool record_gone(void *ud)
{
    struct gone_wait *w = ud;
    if (w->env->opts.hold_deliveries)
        sync_flush(w->env);
    json_object *rec = w->hubspot ? sync_hs_get(w->env, w->id) : sync_sf_get(w->env, w->id);
    bool gone = rec && (w->hubspot ? sync_hs_archived(rec) : sync_sf_deleted(rec));
    json_object_put(rec);
    return gone;
}

bool sync_wait_sf_deleted(const struct sync_env *env, const char *id, int timeout_ms)
{
    struct gone_wait w = {env, id, false};
    return harness_wait_until(record_gone, &w, timeout_ms);
}

bool sync_wait_hs_archived(const struct sync_env *env, const char *id, int timeout_ms)
{
    struct gone_wait w = {env, id, true};
    return harness_wait_until(record_gone, &w, timeout_ms);
}

static bool array_empty(json_object *o, const char *a, const char *b)
{
    json_object *v = sync_get(sync_get(o, a), b);
    return !v || json_object_array_length(v) == 0;
}

/* crmsim has nothing queued or in flight, and the queue has nothing due or being worked on. */
static bool idle_now(const struct sync_env *env, long long *events)
{
    json_object *d = sync_sim(env, "GET", "/_sim/deliveries", NULL, NULL);
    bool idle = d && array_empty(d, "webhook", "pendingEvents") &&
                array_empty(d, "webhook", "batches") &&
                array_empty(d, "outbound", "pendingNotifications") &&
                array_empty(d, "outbound", "messages");
    json_object_put(d);
    if (!idle)
        return false;
    *events = sync_db_count(env, "SELECT count(*) FROM change_events", (const char *)NULL);
    return sync_db_count(env,
                         "SELECT count(*) FROM change_events WHERE status IN "
                         "('pending','processing')",
                         (const char *)NULL) == 0;
}

bool sync_wait_quiet(const struct sync_env *env, int timeout_ms)
{
    int64_t deadline = mono_ms() + timeout_ms;
    long long last = -1;
    int streak = 0;
    while (mono_ms() < deadline) {
        sync_flush(env);
        harness_sleep_ms(150);
        long long events = -1;
        if (idle_now(env, &events) && events == last) {
            if (++streak >= 2)
                return true;
        } else {
            streak = 0;
        }
        last = events;
    }
    fprintf(stderr, "sync_env: not quiet after %d ms (%lld events pending/processing)\n",
            timeout_ms,
            sync_db_count(env,
                          "SELECT count(*) FROM change_events WHERE status IN "
                          "('pending','processing')",
                          (const char *)NULL));
    return false;
}

/* ---- synkro side ---- */

json_object *sync_api(const struct sync_env *env, const char *method, const char *path,
                      const char *body, long *status)
{
    char url[512];
    snprintf(url, sizeof url, "%s%s", env->procs[0].base_url, path);
    const char *h[] = {"Authorization: Bearer " SYNC_ADMIN_TOKEN, "Content-Type: application/json",
                       "X-Synkro-Actor: sync-e2e", NULL};
    struct harness_response r;
    json_object *o = NULL;
    long st = 0;
    if (harness_http(method, url, h, body, body ? strlen(body) : 0, &r) == 0) {
        st = r.status;
        if (r.body_len)
            o = json_tokener_parse(r.body);
    }
    harness_response_free(&r);
    if (status)
        *status = st;
    return o;
}

long long sync_db_count(const struct sync_env *env, const char *sql, ...)
{
    const char *params[8];
    int n = 0;
    va_list ap;
    va_start(ap, sql);
    for (const char *p = va_arg(ap, const char *); p && n < 8; p = va_arg(ap, const char *))
        params[n++] = p;
    va_end(ap);
    long long out = -1;
    PGconn *c = PQconnectdb(env->db.url);
    if (PQstatus(c) == CONNECTION_OK) {
        PGresult *r = PQexecParams(c, sql, n, NULL, params, NULL, NULL, 0);
        if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) > 0)
            out = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
        else
            fprintf(stderr, "sync_env: %s: %s", sql, PQerrorMessage(c));
        PQclear(r);
    }
    PQfinish(c);
    return out;
}

long long sync_report_failed(const struct sync_env *env, int n)
{
    long long failed = sync_db_count(env,
                                     "SELECT count(*) FROM change_events WHERE status = "
                                     "'failed'",
                                     (const char *)NULL);
    if (failed <= 0)
        return failed;
    PGconn *c = PQconnectdb(env->db.url);
    if (PQstatus(c) == CONNECTION_OK) {
        char lim[16];
        snprintf(lim, sizeof lim, "%d", n);
        const char *params[] = {lim};
        PGresult *r = PQexecParams(c,
                                   "SELECT id, source, kind, coalesce(record_id,''), "
                                   "coalesce(error_category,''), coalesce(last_error,'') FROM "
                                   "change_events WHERE status = 'failed' ORDER BY id LIMIT $1",
                                   1, NULL, params, NULL, NULL, 0);
        for (int i = 0; PQresultStatus(r) == PGRES_TUPLES_OK && i < PQntuples(r); i++)
            fprintf(stderr, "failed event %s %s %s %s [%s]: %s\n", PQgetvalue(r, i, 0),
                    PQgetvalue(r, i, 1), PQgetvalue(r, i, 2), PQgetvalue(r, i, 3),
                    PQgetvalue(r, i, 4), PQgetvalue(r, i, 5));
        PQclear(r);
    }
    PQfinish(c);
    return failed;
}

/* The value of one sample line "name{labels} value" (the text after its last space). */
static double sample_value(const char *line, size_t len)
{
    size_t sp = len;
    while (sp > 0 && line[sp - 1] != ' ')
        sp--;
    char num[64];
    size_t n = len - sp < sizeof num - 1 ? len - sp : sizeof num - 1;
    memcpy(num, line + sp, n);
    num[n] = '\0';
    return strtod(num, NULL);
}

double sync_metric_total(const struct sync_env *env, const char *family)
{
    return sync_proc_metric_total(env, 0, family);
}

double sync_proc_metric_total(const struct sync_env *env, size_t idx, const char *family)
{
    char url[256];
    snprintf(url, sizeof url, "%s/metrics", env->procs[idx].base_url);
    struct harness_response r;
    if (harness_http("GET", url, NULL, NULL, 0, &r) != 0 || r.status != 200 || !r.body) {
        harness_response_free(&r);
        return -1;
    }
    size_t flen = strlen(family);
    bool named = false;
    double total = 0;
    for (const char *line = r.body; *line;) {
        const char *end = strchr(line, '\n');
        size_t len = end ? (size_t)(end - line) : strlen(line);
        if (strncmp(line, "# TYPE ", 7) == 0 && strncmp(line + 7, family, flen) == 0 &&
            line[7 + flen] == ' ') {
            named = true;
        } else if (strncmp(line, family, flen) == 0 && (line[flen] == '{' || line[flen] == ' ')) {
            named = true;
            total += sample_value(line, len);
        }
        line += len + (end ? 1 : 0);
    }
    harness_response_free(&r);
    return named ? total : -1;
}

/* ---- setup ---- */

static char *mapping_document(const struct sync_env_options *o)
{
    json_object *fields = json_object_new_array();
    for (size_t i = 0; i < SYNC_NFIELDS; i++) {
        json_object *f = json_object_new_object();
        json_object_object_add(f, "salesforce", json_object_new_string(sync_fields[i].sf));
        json_object_object_add(f, "hubspot", json_object_new_string(sync_fields[i].hs));
        json_object_object_add(f, "rule", json_object_new_string(sync_fields[i].rule));
        json_object_array_add(fields, f);
    }
    json_object *amount = json_object_new_object();
    json_object_object_add(amount, "salesforce", json_object_new_string("Amount__c"));
    json_object_object_add(amount, "hubspot", json_object_new_string("amount"));
    json_object_object_add(amount, "rule", json_object_new_string("two_way"));
    json_object_array_add(fields, amount);
    char head[1024];
    snprintf(head, sizeof head,
             "{\"name\":\"Widgets\",\"salesforce_object\":\"" SYNC_SF_OBJECT "\","
             "\"hubspot_object\":\"" SYNC_HS_TYPE "\","
             "\"rules\":{\"salesforce_to_hubspot\":{\"create\":true,\"update\":true,"
             "\"delete\":\"%s\"},\"hubspot_to_salesforce\":{\"create\":true,\"update\":true,"
             "\"delete\":\"%s\"},\"conflict_winner\":\"%s\"},"
             "\"identity\":{\"hubspot_property\":\"" SYNC_HS_IDENTITY "\","
             "\"salesforce_field\":\"" SYNC_SF_IDENTITY "\"}}",
             o->s2h_delete ? o->s2h_delete : "delete", o->h2s_delete ? o->h2s_delete : "delete",
             o->conflict_winner ? o->conflict_winner : "salesforce");
    json_object *doc = json_tokener_parse(head);
    json_object_object_add(doc, "fields", fields);
    char *out = strdup(json_object_to_json_string_ext(doc, JSON_C_TO_STRING_PLAIN));
    json_object_put(doc);
    return out;
}

/* Creates and enables one mapping from its document; its id into *id. */
static int create_one_mapping(struct sync_env *env, const char *doc, int64_t *id)
{
    long st = 0;
    json_object *o = sync_api(env, "POST", "/api/mappings", doc, &st);
    if (st != 201) {
        fprintf(stderr, "sync_env: creating the mapping -> %ld %s\n", st,
                o ? json_object_to_json_string(o) : "");
        json_object_put(o);
        return -1;
    }
    *id = json_object_get_int64(sync_get(o, "id"));
    json_object_put(o);
    char path[128];
    snprintf(path, sizeof path, "/api/mappings/%lld/enable", (long long)*id);
    o = sync_api(env, "POST", path, NULL, &st);
    if (st != 200) {
        fprintf(stderr, "sync_env: enabling the mapping -> %ld %s\n", st,
                o ? json_object_to_json_string(o) : "");
        json_object_put(o);
        return -1;
    }
    json_object_put(o);
    return 0;
}

/* opts.mapping_docs in order, or the default Widgets mapping. */
static int create_mapping(struct sync_env *env)
{
    const char *const *docs = env->opts.mapping_docs;
    if (!docs) {
        char *doc = mapping_document(&env->opts);
        int rc = doc ? create_one_mapping(env, doc, &env->mapping_id) : -1;
        free(doc);
        return rc;
    }
    for (size_t i = 0; docs[i]; i++) {
        if (i >= SYNC_ENV_MAX_MAPPINGS ||
            create_one_mapping(env, docs[i], &env->mapping_ids[i]) != 0)
            return -1;
        env->n_mappings = i + 1;
    }
    env->mapping_id = env->n_mappings > 0 ? env->mapping_ids[0] : 0;
    return 0;
}

void sync_env_outbound_url(const struct sync_env *env, char *out, size_t outlen)
{
    snprintf(out, outlen, "http://127.0.0.1:%d/webhooks/salesforce?token=" SF_ENDPOINT_TOKEN,
             env->ports[env->nprocs > 1 ? 1 : 0]);
}

/* Webhooks to process 0, outbound messages to process 1 when there are several. */
static int wire_crmsim(struct sync_env *env)
{
    int flush = env->opts.hold_deliveries ? 600000 : 50;
    size_t sf_proc = env->nprocs > 1 ? 1 : 0;
    char cfg[1024];
    snprintf(cfg, sizeof cfg,
             "{\"hubspot_webhook_url\":\"http://127.0.0.1:%d/webhooks/hubspot\","
             "\"hubspot_client_secret\":\"" HS_CLIENT_SECRET "\","
             "\"webhook_flush_ms\":%d,\"outbound_flush_ms\":%d,"
             "\"webhook_retry_base_ms\":100,\"webhook_retry_max_ms\":2000,"
             "\"webhook_timeout_ms\":3000,\"outbound_retry_base_ms\":100,"
             "\"outbound_retry_max_ms\":1000,\"outbound_timeout_ms\":3000,"
             "\"outbound_max_attempts\":200,\"hubspot_rate_limit_max\":100000,"
             "\"hubspot_search_delay_ms\":100,\"hubspot_search_rate_per_second\":50,"
             "\"fault_timeout_ms\":4000,\"request_log_size\":0}",
             env->ports[0], flush, flush);
    if (sim_call(env, "POST", "/_sim/config", cfg) != 200)
        return -1;
    if (env->opts.mapping_docs)
        return 0; /* other objects: the test loads its own outbound rules */
    json_object *rule = json_object_new_object();
    json_object *fields = json_object_new_array();
    for (size_t i = 0; i < SYNC_NFIELDS; i++)
        json_object_array_add(fields, json_object_new_string(sync_fields[i].sf));
    json_object_array_add(fields, json_object_new_string("Amount__c"));
    json_object_array_add(fields, json_object_new_string(SYNC_SF_IDENTITY));
    char url[256];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/webhooks/salesforce?token=" SF_ENDPOINT_TOKEN,
             env->ports[sf_proc]);
    json_object_object_add(rule, "object", json_object_new_string(SYNC_SF_OBJECT));
    json_object_object_add(rule, "fields", fields);
    json_object_object_add(rule, "url", json_object_new_string(url));
    json_object *rules = json_object_new_array();
    json_object_array_add(rules, rule);
    json_object *sf = json_object_new_object();
    json_object_object_add(sf, "outbound_rules", rules);
    json_object *doc = json_object_new_object();
    json_object_object_add(doc, "salesforce", sf);
    long st = sim_call(env, "POST", "/_sim/fixtures", json_object_to_json_string(doc));
    json_object_put(doc);
    return st == 200 ? 0 : -1;
}

struct sync_env *sync_env_start(const struct sync_env_options *opts)
{
    struct sync_env *env = calloc(1, sizeof *env);
    if (!env)
        return NULL;
    static const struct sync_env_options defaults = {0};
    env->opts = opts ? *opts : defaults;
    env->nprocs = env->opts.nprocs > 0 ? env->opts.nprocs : 1;
    if (env->nprocs > SYNC_ENV_MAX_PROCS)
        env->nprocs = SYNC_ENV_MAX_PROCS;
    snprintf(env->dir, sizeof env->dir, "/tmp/synkro-sync-e2e.XXXXXX");
    for (size_t i = 0; i < SYNC_ENV_MAX_PROCS; i++)
        env->procs[i].pid = -1;
    char fixture[512];
    snprintf(fixture, sizeof fixture, "%s/%s", harness_env("SYNKRO_SOURCE_DIR"),
             env->opts.fixture ? env->opts.fixture : "tests/fixtures/sync_e2e.json");
    env->dir_made = mkdtemp(env->dir) != NULL;
    if (!env->dir_made || harness_db_create(&env->db) != 0 ||
        harness_crmsim_start(&env->sim, fixture) != 0) {
        fprintf(stderr, "sync_env: cannot create the database or start crmsim\n");
        sync_env_stop(env);
        return NULL;
    }
    for (size_t i = 0; i < env->nprocs; i++) {
        env->ports[i] = harness_free_port();
        for (size_t k = 0; k < i; k++)
            if (env->ports[k] == env->ports[i])
                env->ports[i] = harness_free_port();
    }
    if (wire_crmsim(env) != 0) {
        fprintf(stderr, "sync_env: configuring crmsim failed\n");
        sync_env_stop(env);
        return NULL;
    }
    /* Every process runs before the mapping exists: its workers see a mapping enabled through
     * process 0 at their next round (the signature query of sync_engine.c), with no restart. */
    for (size_t i = 0; i < env->nprocs; i++) {
        if (sync_env_proc_start(env, i) != 0) {
            sync_env_stop(env);
            return NULL;
        }
    }
    if (create_mapping(env) != 0) {
        sync_env_dump_logs(env, 4000);
        sync_env_stop(env);
        return NULL;
    }
    return env;
}

struct sync_env *sync_env_start_test(void **state, const struct sync_env_options *opts)
{
    struct sync_env *env = sync_env_start(opts);
    if (!env)
        fail_msg("the sync environment did not start");
    *state = env;
    return env;
}

int sync_env_teardown(void **state)
{
    struct sync_env *env = *state;
    *state = NULL;
    return sync_env_stop(env) == 0 ? 0 : -1;
}

static void remove_logs(const struct sync_env *env)
{
    const char *keep = getenv("SYNC_ENV_KEEP_LOGS"); /* investigating: keep synkro's logs */
    if (!env->dir_made || (keep && *keep)) {
        if (env->dir_made)
            fprintf(stderr, "sync_env: synkro logs kept in %s\n", env->dir);
        return;
    }
    for (size_t i = 0; i < SYNC_ENV_MAX_PROCS; i++) {
        char path[320];
        log_path(env, i, path, sizeof path);
        unlink(path);
    }
    rmdir(env->dir);
}

int sync_env_stop(struct sync_env *env)
{
    if (!env)
        return 0;
    int rc = 0;
    for (size_t i = 0; i < SYNC_ENV_MAX_PROCS; i++) {
        if (env->procs[i].pid <= 0)
            continue;
        int st = harness_synkro_stop(&env->procs[i], SIGTERM, 20000);
        if (st != 0) {
            fprintf(stderr, "sync_env: synkro %zu exited with %d\n", i, st);
            rc = -1;
        }
    }
    if (rc != 0)
        sync_env_dump_logs(env, 6000);
    harness_crmsim_stop(&env->sim);
    harness_db_drop(&env->db);
    remove_logs(env);
    free(env);
    return rc;
}
