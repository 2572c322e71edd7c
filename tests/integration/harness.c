/* harness.c: process, database and HTTP helpers for integration tests.
 *
 * Owns the temporary directories and child processes it creates; a test
 * that fails midway leaves its child to be killed by harness_synkro_stop in
 * teardown. Uses cmocka's fail_msg for unrecoverable setup problems. */
#include "harness.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

extern char **environ;

/* Temporary directories made for child processes, removed at exit (tests
 * read the logs in them after the child stops). */
static char *temp_dirs[256];
static size_t ntemp_dirs;

static void remove_temp_dirs(void)
{
    for (size_t i = 0; i < ntemp_dirs; i++) {
        const char *names[] = {"stdout", "stderr", "log"};
        for (size_t k = 0; k < sizeof names / sizeof names[0]; k++) {
            char path[512];
            snprintf(path, sizeof path, "%s/%s", temp_dirs[i], names[k]);
            unlink(path);
        }
        rmdir(temp_dirs[i]);
        free(temp_dirs[i]);
    }
    ntemp_dirs = 0;
}

static void remember_temp_dir(const char *dir)
{
    if (ntemp_dirs == 0)
        atexit(remove_temp_dirs);
    if (ntemp_dirs < sizeof temp_dirs / sizeof temp_dirs[0])
        temp_dirs[ntemp_dirs++] = strdup(dir);
}

const char *harness_env(const char *name)
{
    const char *v = getenv(name);
    if (!v || !*v)
        fail_msg("environment variable %s is not set: run the tests through `make test`", name);
    return v;
}

void harness_sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

bool harness_wait_until(bool (*pred)(void *ud), void *ud, int timeout_ms)
{
    int64_t deadline = now_ms() + timeout_ms;
    do {
        if (pred(ud))
            return true;
        harness_sleep_ms(20);
    } while (now_ms() < deadline);
    return pred(ud);
}

/* Replaces the database name of the admin URL (".../postgres?...") by name. */
static void url_with_db(const char *admin, const char *name, char *out, size_t outlen)
{
    const char *q = strchr(admin, '?');
    const char *slash = admin;
    const char *scheme_end = strstr(admin, "://");
    const char *p = scheme_end ? scheme_end + 3 : admin;
    for (; *p && (!q || p < q); p++)
        if (*p == '/')
            slash = p;
    snprintf(out, outlen, "%.*s/%s%s", (int)(slash - admin), admin, name, q ? q : "");
}

static PGconn *admin_connect(void)
{
    PGconn *c = PQconnectdb(harness_env("SYNKRO_TEST_ADMIN_URL"));
    if (PQstatus(c) != CONNECTION_OK)
        fail_msg("cannot connect to the test cluster: %s", PQerrorMessage(c));
    return c;
}

int harness_db_create(struct harness_db *db)
{
    static int counter;
    snprintf(db->name, sizeof db->name, "synkro_it_%d_%d_%ld", (int)getpid(), ++counter,
             (long)(now_ms() % 100000));
    PGconn *c = admin_connect();
    char sql[128];
    snprintf(sql, sizeof sql, "CREATE DATABASE %s", db->name); /* name built above, not input */
    PGresult *r = PQexec(c, sql);
    int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    if (!ok)
        fprintf(stderr, "harness: %s", PQerrorMessage(c));
    PQclear(r);
    PQfinish(c);
    url_with_db(harness_env("SYNKRO_TEST_ADMIN_URL"), db->name, db->url, sizeof db->url);
    return ok ? 0 : -1;
}

void harness_db_drop(struct harness_db *db)
{
    if (!db->name[0])
        return;
    PGconn *c = PQconnectdb(getenv("SYNKRO_TEST_ADMIN_URL"));
    if (PQstatus(c) == CONNECTION_OK) {
        char sql[160];
        snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s WITH (FORCE)", db->name);
        PQclear(PQexec(c, sql));
    }
    PQfinish(c);
    db->name[0] = '\0';
}

PGconn *harness_db_connect(const struct harness_db *db)
{
    PGconn *c = PQconnectdb(db->url);
    if (PQstatus(c) != CONNECTION_OK)
        fail_msg("cannot connect to %s: %s", db->name, PQerrorMessage(c));
    return c;
}

char *harness_db_scalar(const struct harness_db *db, const char *sql)
{
    PGconn *c = PQconnectdb(db->url);
    char *out = NULL;
    if (PQstatus(c) == CONNECTION_OK) {
        PGresult *r = PQexec(c, sql);
        if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) > 0)
            out = strdup(PQgetvalue(r, 0, 0));
        else
            fprintf(stderr, "harness: query failed: %s", PQerrorMessage(c));
        PQclear(r);
    }
    PQfinish(c);
    return out;
}

/* A free port, as scripts/free_port.sh draws it (below the kernel's ephemeral range, so a server
 * stopped and started again on it finds it free; the script says why): one rule for the shell
 * tests, the benchmarks and these. -1 when the script cannot run or found none. */
int harness_free_port(void)
{
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "'%s/scripts/free_port.sh'", harness_env("SYNKRO_SOURCE_DIR"));
    FILE *p = popen(cmd, "r");
    if (!p)
        return -1;
    int port = -1;
    if (fscanf(p, "%d", &port) != 1)
        port = -1;
    if (pclose(p) != 0)
        port = -1;
    return port > 0 && port < 65536 ? port : -1;
}

/* Child side: environment overrides, then exec. Never returns. */
static void exec_child(const char *const *argv, const char *db_url, const char *const *env,
                       const char *out_path, const char *err_path)
{
    if (db_url)
        setenv("DATABASE_URL", db_url, 1);
    else
        unsetenv("DATABASE_URL");
    for (const char *const *e = env; e && *e; e++) {
        char *copy = strdup(*e);
        char *eq = copy ? strchr(copy, '=') : NULL;
        if (!eq)
            _exit(126);
        *eq = '\0';
        setenv(copy, eq + 1, 1);
        free(copy);
    }
    int out = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int err = err_path ? open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0644) : out;
    if (out < 0 || err < 0)
        _exit(126);
    dup2(out, 1);
    dup2(err, 2);
    execv(argv[0], (char *const *)(uintptr_t)argv);
    _exit(127);
}

static bool healthz_ok(void *ud)
{
    struct harness_proc *p = ud;
    int status;
    if (waitpid(p->pid, &status, WNOHANG) == p->pid) {
        p->pid = -1;
        return true; /* exited: stop waiting */
    }
    char url[256];
    snprintf(url, sizeof url, "%s/healthz", p->base_url);
    struct harness_response r;
    int rc = harness_http("GET", url, NULL, NULL, 0, &r);
    bool ok = rc == 0 && r.status == 200;
    harness_response_free(&r);
    return ok;
}

int harness_synkro_start(struct harness_proc *p, const char *db_url, const char *const *env)
{
    memset(p, 0, sizeof *p);
    snprintf(p->dir, sizeof p->dir, "/tmp/synkro-it.XXXXXX");
    if (!mkdtemp(p->dir))
        return -1;
    remember_temp_dir(p->dir);
    snprintf(p->out_path, sizeof p->out_path, "%s/stdout", p->dir);
    snprintf(p->err_path, sizeof p->err_path, "%s/stderr", p->dir);
    p->port = harness_free_port();
    snprintf(p->base_url, sizeof p->base_url, "http://127.0.0.1:%d", p->port);
    char listen[64];
    snprintf(listen, sizeof listen, "SYNKRO_LISTEN=127.0.0.1:%d", p->port);
    const char *all_env[64];
    size_t n = 0;
    all_env[n++] = listen;
    all_env[n++] = "SYNKRO_HTTP_THREADS=4";
    for (const char *const *e = env; e && *e && n < 62; e++)
        all_env[n++] = *e;
    all_env[n] = NULL;
    const char *argv[] = {harness_env("SYNKRO_BIN"), "serve", NULL};
    fflush(NULL);
    p->pid = fork();
    if (p->pid < 0)
        return -1;
    if (p->pid == 0)
        exec_child(argv, db_url, all_env, p->out_path, p->err_path);
    if (!harness_wait_until(healthz_ok, p, 20000) || p->pid < 0) {
        char *log = harness_read_file(p->err_path);
        fprintf(stderr, "harness: synkro did not become healthy; its log:\n%s\n", log ? log : "");
        free(log);
        if (p->pid > 0)
            harness_synkro_stop(p, SIGKILL, 2000);
        return -1;
    }
    return 0;
}

int harness_synkro_stop(struct harness_proc *p, int sig, int timeout_ms)
{
    if (p->pid <= 0)
        return -1;
    kill(p->pid, sig);
    int64_t deadline = now_ms() + timeout_ms;
    int status = 0;
    for (;;) {
        pid_t w = waitpid(p->pid, &status, WNOHANG);
        if (w == p->pid)
            break;
        if (now_ms() > deadline) {
            kill(p->pid, SIGKILL);
            waitpid(p->pid, &status, 0);
            p->pid = -1;
            return -1;
        }
        harness_sleep_ms(10);
    }
    p->pid = -1;
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    return 128 + WTERMSIG(status);
}

int harness_synkro_run(const char *const *argv, const char *const *env, char **output)
{
    char dir[] = "/tmp/synkro-run.XXXXXX";
    if (!mkdtemp(dir))
        return -1;
    char out_path[64];
    snprintf(out_path, sizeof out_path, "%s/out", dir);
    const char *full[32];
    size_t n = 0;
    full[n++] = harness_env("SYNKRO_BIN");
    for (const char *const *a = argv; a && *a && n < 31; a++)
        full[n++] = *a;
    full[n] = NULL;
    /* DATABASE_URL comes from env when given there */
    const char *db = NULL;
    for (const char *const *e = env; e && *e; e++)
        if (strncmp(*e, "DATABASE_URL=", 13) == 0)
            db = *e + 13;
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0)
        exec_child(full, db, env, out_path, NULL);
    int status = 0;
    waitpid(pid, &status, 0);
    if (output)
        *output = harness_read_file(out_path);
    unlink(out_path);
    rmdir(dir);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

struct body_buf {
    char *data;
    size_t len;
};

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *ud)
{
    struct body_buf *b = ud;
    size_t n = size * nmemb;
    char *p = realloc(b->data, b->len + n + 1);
    if (!p)
        return 0;
    memcpy(p + b->len, ptr, n);
    b->len += n;
    p[b->len] = '\0';
    b->data = p;
    return n;
}

int harness_http(const char *method, const char *url, const char *const *headers, const char *body,
                 size_t body_len, struct harness_response *out)
{
    memset(out, 0, sizeof *out);
    CURL *c = curl_easy_init();
    if (!c)
        return -1;
    struct body_buf b = {NULL, 0}, h = {NULL, 0};
    struct curl_slist *hl = NULL;
    for (const char *const *x = headers; x && *x; x++)
        hl = curl_slist_append(hl, *x);
    hl = curl_slist_append(hl, "Expect:");
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    if (strcmp(method, "HEAD") == 0)
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    if (body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
    }
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &h);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 30000L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    CURLcode rc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out->status);
    curl_slist_free_all(hl);
    curl_easy_cleanup(c);
    out->body = b.data ? b.data : strdup("");
    out->body_len = b.len;
    out->headers = h.data ? h.data : strdup("");
    /* a server may answer early (413) and close while we still upload */
    return rc == CURLE_OK || out->status > 0 ? 0 : -1;
}

void harness_response_free(struct harness_response *r)
{
    free(r->body);
    free(r->headers);
    memset(r, 0, sizeof *r);
}

int harness_response_header(const struct harness_response *r, const char *name, char *out,
                            size_t outlen)
{
    size_t nlen = strlen(name);
    for (const char *line = r->headers; line && *line;) {
        const char *eol = strstr(line, "\r\n");
        size_t len = eol ? (size_t)(eol - line) : strlen(line);
        if (len > nlen && line[nlen] == ':' && strncasecmp(line, name, nlen) == 0) {
            const char *v = line + nlen + 1;
            while (*v == ' ')
                v++;
            snprintf(out, outlen, "%.*s", (int)(len - (size_t)(v - line)), v);
            return 0;
        }
        line = eol ? eol + 2 : line + len;
    }
    return -1;
}

int harness_pg(const char *action)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "'%s' %s '%s' >/dev/null", harness_env("SYNKRO_TEST_PG_CTL"), action,
             harness_env("SYNKRO_TEST_PG_DIR"));
    return system(cmd) == 0 ? 0 : -1;
}

char *harness_read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *data = NULL;
    size_t len = 0;
    char buf[8192];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0) {
        char *p = realloc(data, len + n + 1);
        if (!p) {
            free(data);
            fclose(f);
            return NULL;
        }
        data = p;
        memcpy(data + len, buf, n);
        len += n;
        data[len] = '\0';
    }
    fclose(f);
    return data ? data : strdup("");
}

static bool crmsim_ready(void *ud)
{
    struct harness_crmsim *sim = ud;
    int status;
    if (waitpid(sim->pid, &status, WNOHANG) == sim->pid) {
        sim->pid = -1;
        return true;
    }
    char url[256];
    snprintf(url, sizeof url, "%s/_sim/health", sim->base_url);
    struct harness_response r;
    bool ok = harness_http("GET", url, NULL, NULL, 0, &r) == 0 && r.status == 200;
    harness_response_free(&r);
    return ok;
}

int harness_crmsim_start(struct harness_crmsim *sim, const char *fixtures_path)
{
    memset(sim, 0, sizeof *sim);
    snprintf(sim->dir, sizeof sim->dir, "/tmp/synkro-crmsim.XXXXXX");
    if (!mkdtemp(sim->dir))
        return -1;
    remember_temp_dir(sim->dir);
    snprintf(sim->log_path, sizeof sim->log_path, "%s/log", sim->dir);
    sim->port = harness_free_port();
    snprintf(sim->base_url, sizeof sim->base_url, "http://127.0.0.1:%d", sim->port);
    char listen[64];
    snprintf(listen, sizeof listen, "127.0.0.1:%d", sim->port);
    const char *argv[] = {harness_env("CRMSIM_BIN"),           "--listen",    listen,
                          fixtures_path ? "--fixtures" : NULL, fixtures_path, NULL};
    fflush(NULL);
    sim->pid = fork();
    if (sim->pid < 0)
        return -1;
    if (sim->pid == 0) {
        const char *db = getenv("DATABASE_URL");
        exec_child(argv, db, NULL, sim->log_path, NULL);
    }
    if (!harness_wait_until(crmsim_ready, sim, 10000) || sim->pid < 0) {
        char *log = harness_read_file(sim->log_path);
        fprintf(stderr, "harness: crmsim did not start; its output:\n%s\n", log ? log : "");
        free(log);
        harness_crmsim_stop(sim);
        return -1;
    }
    return 0;
}

void harness_crmsim_stop(struct harness_crmsim *sim)
{
    if (sim->pid <= 0)
        return;
    kill(sim->pid, SIGTERM);
    int status;
    for (int i = 0; i < 500; i++) {
        if (waitpid(sim->pid, &status, WNOHANG) == sim->pid) {
            sim->pid = -1;
            return;
        }
        harness_sleep_ms(10);
    }
    kill(sim->pid, SIGKILL);
    waitpid(sim->pid, &status, 0);
    sim->pid = -1;
}

long harness_crmsim_post(const struct harness_crmsim *sim, const char *path, const char *json)
{
    char url[512];
    snprintf(url, sizeof url, "%s%s", sim->base_url, path);
    const char *h[] = {"Content-Type: application/json", NULL};
    struct harness_response r;
    long status = 0;
    if (harness_http("POST", url, h, json, strlen(json), &r) == 0)
        status = r.status;
    harness_response_free(&r);
    return status;
}

int harness_crmsim_start_example(struct harness_crmsim *sim, char *hs_base, size_t hs_len,
                                 char *sf_login, size_t sf_len)
{
    char fixtures[512];
    snprintf(fixtures, sizeof fixtures, "%s/tests/crmsim/fixtures/example.json",
             harness_env("SYNKRO_SOURCE_DIR"));
    if (harness_crmsim_start(sim, fixtures) != 0)
        return -1;
    snprintf(hs_base, hs_len, "HUBSPOT_API_BASE=%s", sim->base_url);
    snprintf(sf_login, sf_len, "SALESFORCE_LOGIN_URL=%s", sim->base_url);
    return 0;
}

int harness_synkro_start_fresh(struct harness_db *db, struct harness_proc *p,
                               const char *const *env)
{
    if (harness_db_create(db) != 0)
        return -1;
    return harness_synkro_start(p, db->url, env);
}

void harness_synkro_kill_fresh(struct harness_db *db, struct harness_proc *p)
{
    if (p->pid > 0)
        harness_synkro_stop(p, SIGKILL, 2000);
    harness_db_drop(db);
}

int harness_teardown_clean(struct harness_db *db, struct harness_proc *p,
                           struct harness_crmsim *sim)
{
    int rc = 0;
    if (p->pid > 0 && harness_synkro_stop(p, SIGTERM, 15000) != 0) {
        char *log = harness_read_file(p->err_path);
        fprintf(stderr, "synkro did not exit cleanly; its log:\n%s\n", log ? log : "");
        free(log);
        rc = -1;
    }
    harness_crmsim_stop(sim);
    harness_db_drop(db);
    return rc;
}
