/* serve.c: process lifecycle of `synkro serve` and `synkro migrate`.
 *
 * Order of start: signals blocked (so only this thread receives them), pool,
 * migrations, users (sessions of changed tokens revoked), HTTP daemons (public, admin), sync
 * workers, janitor; then wait for SIGTERM/SIGINT. Order of stop is the reverse: stop accepting, let
 * in-flight requests finish (bounded by SYNKRO_SHUTDOWN_GRACE_MS), stop the sync workers (their
 * current batches finish), stop the janitor, close the pool. Owns struct app and everything in it
 * for the life of the process. */
#include "server/serve.h"

#include "db/ingest_writer.h"
#include "db/migrate.h"
#include "db/pool.h"
#include "handlers/health.h"
#include "handlers/soap_outbound.h"
#include "handlers/webhook_common.h"
#include "handlers/app.h"
#include "server/http.h"
#include "server/janitor.h"
#include "base/heap.h"
#include "base/addr_limiter.h"
#include "base/log.h"
#include "base/metrics.h"
#include "base/users.h"
#include "db/session_store.h"
#include "server/routes.h"
#include "crm/hubspot_client.h"
#include "crm/salesforce_client.h"
#include "sync/reconcile.h"
#include "sync/sweep.h"
#include "sync/sync_engine.h"
#include "crm/token_store.h"
#include "version.h"

#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static struct db_pool *pool_open(const struct config *cfg)
{
    struct db_pool_options opts = {
        .conninfo = cfg->database_url,
        .size = cfg->db_pool_size,
        .statement_timeout_ms = cfg->db_statement_timeout_ms,
        .connect_timeout_s = cfg->db_connect_timeout_s,
        .application_name = "synkro",
    };
    return db_pool_create(&opts);
}

/* Borrows a connection, retrying for up to wait_s while the database starts
 * (compose starts both at once). */
static PGconn *connect_with_retry(struct db_pool *pool, int wait_s)
{
    char err[512] = "";
    for (int i = 0; i <= wait_s; i++) {
        PGconn *conn = db_pool_acquire(pool, 5000, err, sizeof err);
        if (conn)
            return conn;
        if (i == 0 || i % 10 == 0)
            log_with(LOG_LEVEL_WARN, "waiting for the database", LF_S("error", err));
        struct timespec ts = {1, 0};
        nanosleep(&ts, NULL);
    }
    log_with(LOG_LEVEL_ERROR, "database unreachable", LF_S("error", err));
    return NULL;
}

static int run_migrations(struct db_pool *pool, const struct migration_set *set, FILE *progress)
{
    PGconn *conn = connect_with_retry(pool, 60);
    if (!conn)
        return -1;
    char err[1024];
    int n = migrate_apply(conn, set, progress, err, sizeof err);
    db_pool_release(pool, conn, n < 0);
    if (n < 0) {
        log_with(LOG_LEVEL_ERROR, "migration failed", LF_S("error", err));
        return -1;
    }
    log_with(LOG_LEVEL_INFO, "migrations current", LF_I("applied_now", n),
             LF_I("known", (long long)set->count));
    return 0;
}

/* Creates the CRM clients that the configuration allows; a missing one is
 * not an error (ingest works without them) but is logged with the reason
 * and named by every admin call that needs it. */
static void crm_clients_open(struct app *app)
{
    const struct config *cfg = app->cfg;
    char err[256] = "";
    if (cfg->secret_key && *cfg->secret_key) {
        app->tokens = token_store_create(app->pool, cfg->secret_key, err, sizeof err);
        if (!app->tokens)
            log_with(LOG_LEVEL_WARN, "token store unavailable", LF_S("error", err));
    }
    if (cfg->crm_budget_shared) {
        struct db_pool_options bo = {.conninfo = cfg->database_url,
                                     .size = 2,
                                     .statement_timeout_ms = 5000,
                                     .connect_timeout_s = cfg->db_connect_timeout_s,
                                     .application_name = "synkro-budget"};
        app->crm.budget_pool = db_pool_create(&bo);
    }
    struct hubspot_client_options ho;
    hubspot_client_options_from_config(&ho, cfg);
    ho.budget_pool = app->crm.budget_pool;
    app->crm.hubspot = hubspot_client_create(&ho, app->crm.hubspot_unavailable,
                                             sizeof app->crm.hubspot_unavailable);
    struct salesforce_client_options so;
    salesforce_client_options_from_config(&so, cfg, app->tokens);
    so.budget_pool = app->crm.budget_pool;
    app->crm.salesforce = salesforce_client_create(&so, app->crm.salesforce_unavailable,
                                                   sizeof app->crm.salesforce_unavailable);
    log_with(
        LOG_LEVEL_INFO, "crm clients", LF_B("hubspot", app->crm.hubspot != NULL),
        LF_S("hubspot_reason", app->crm.hubspot ? NULL : app->crm.hubspot_unavailable),
        LF_B("salesforce", app->crm.salesforce != NULL),
        LF_B("shared_budget", app->crm.budget_pool != NULL),
        LF_S("salesforce_reason", app->crm.salesforce ? NULL : app->crm.salesforce_unavailable));
}

static void crm_clients_close(struct app *app)
{
    hubspot_client_destroy(app->crm.hubspot);
    salesforce_client_destroy(app->crm.salesforce);
    token_store_destroy(app->tokens);
    db_pool_destroy(app->crm.budget_pool, 1000);
}

/* Starts the sync workers (SYNKRO_WORKERS; 0 starts none). Without both CRM clients there is
 * nothing to sync with: logged, not fatal (ingest still works). */
static void sync_open(struct app *app)
{
    if (app->cfg->workers <= 0)
        return;
    struct sync_engine_options o;
    sync_engine_options_from_config(&o, app->cfg, &app->crm);
    char err[256] = "";
    app->sync = sync_engine_create(&o, err, sizeof err);
    if (app->sync && sync_engine_start(app->sync, err, sizeof err) == 0)
        return;
    log_with(LOG_LEVEL_WARN, "sync workers not started", LF_S("error", err));
    sync_engine_destroy(app->sync);
    app->sync = NULL;
}

static void print_endpoints(const struct config *cfg, int port, int admin_port)
{
    size_t n;
    const struct route *table = routes_table(&n);
    printf("synkro %s listening on %s (port %d); endpoints:\n", SYNKRO_VERSION,
           cfg->public_base_url, port);
    if (admin_port > 0)
        printf("admin plane (console and /api/*) on %s (port %d)\n", cfg->admin_listen, admin_port);
    for (size_t i = 0; i < n; i++) {
        bool admin_only = admin_port > 0 && table[i].flags & (ROUTE_ADMIN | ROUTE_CONSOLE);
        if (table[i].flags & ROUTE_CONSOLE && !cfg->console)
            continue;
        printf("  %-6s %s%s%s\n", table[i].method,
               admin_only ? "(admin plane)" : cfg->public_base_url, table[i].pattern,
               table[i].flags & ROUTE_ADMIN ? "  (admin token or session)" : "");
    }
    fflush(stdout);
}

/* The users (admin token + SYNKRO_USERS_FILE) and the sign-in limiter; sessions made with a
 * token that has since changed, or of users no longer listed, are revoked. -1 when the users file
 * is invalid (logged). */
static int users_open(struct app *app)
{
    char err[512];
    struct user_set *users =
        user_set_load(app->cfg->admin_token, app->cfg->users_file, err, sizeof err);
    if (!users) {
        log_with(LOG_LEVEL_ERROR, "cannot load the users", LF_S("error", err));
        return -1;
    }
    user_set_register_secrets(users);
    app->users = users;
    app->signin_limiter = addr_limiter_create(app->cfg->signin_rate_per_min, 4096);
    if (!app->signin_limiter)
        return -1;
    size_t n = user_set_count(users);
    const char **names = calloc(n ? n : 1, sizeof *names);
    long revoked = 0, r = 0;
    for (size_t i = 0; i < n && r >= 0; i++) {
        char fp[USER_FP_HEX + 1];
        names[i] = user_set_name(users, i);
        user_set_fingerprint(users, names[i], fp);
        r = session_store_revoke_user(app->pool, names[i], fp, err, sizeof err);
        revoked += r > 0 ? r : 0;
    }
    if (names && r >= 0) {
        r = session_store_revoke_others(app->pool, names, n, err, sizeof err);
        revoked += r > 0 ? r : 0;
    }
    free(names);
    if (r < 0) /* the session lookup checks fingerprints too: nothing old gets in */
        log_with(LOG_LEVEL_WARN, "stale sessions not revoked", LF_S("error", err));
    log_with(LOG_LEVEL_INFO, "console users", LF_I("users", (long long)n),
             LF_I("sessions_revoked", revoked), LF_B("console", app->cfg->console));
    return 0;
}

static void users_close(struct app *app)
{
    user_set_free((struct user_set *)(uintptr_t)app->users);
    addr_limiter_destroy(app->signin_limiter);
}

static void build_info_init(void)
{
    static const char *const labels[] = {"version", "revision"};
    struct metric_family *fam = metrics_register(
        METRIC_GAUGE, "synkro_build_info", "Always 1; labels carry the version and git revision.",
        labels, 2, NULL, 0);
    const char *values[] = {SYNKRO_VERSION, SYNKRO_GIT_REV};
    metrics_set(fam, values, 1);
}

int serve_run(const struct config *cfg, bool migrate)
{
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);
    /* before any thread starts (base/heap.h) */
    if (heap_limit_arenas(cfg->malloc_arenas) < 0)
        log_warn("SYNKRO_MALLOC_ARENAS could not be applied");

    build_info_init();
    health_init();
    webhook_metrics_init();
    log_metrics_init();
    soap_outbound_init();
    struct migration_set migrations;
    migration_set_embedded(&migrations);
    struct app app = {.cfg = cfg, .migrations = &migrations};
    app.pool = pool_open(cfg);
    if (!app.pool) {
        log_error("cannot create the database pool");
        return 1;
    }
    if (migrate && run_migrations(app.pool, &migrations, NULL) < 0) {
        db_pool_destroy(app.pool, 1000);
        return 1;
    }
    if (users_open(&app) < 0) {
        users_close(&app);
        db_pool_destroy(app.pool, 1000);
        return 1;
    }
    crm_clients_open(&app);
    app.crm.cfg = cfg;
    app.sync_ctx = (struct sync_context){
        .cfg = cfg, .pool = app.pool, .crm = &app.crm, .stopping = &app.shutting_down};
    app.ingest = ingest_writer_start(app.pool, cfg->ingest_writers, cfg->ingest_batch_max);
    if (!app.ingest) {
        log_error("cannot start the ingest writer");
        db_pool_destroy(app.pool, 1000);
        return 1;
    }
    /* Before the HTTP server, so handlers only ever read app.sync (to wake the workers). */
    sync_open(&app);
    char err[512];
    struct http_server *srv = http_server_start(&app, HTTP_PLANE_PUBLIC, err, sizeof err);
    struct http_server *admin_srv = NULL;
    if (srv && cfg->admin_listen && *cfg->admin_listen) {
        admin_srv = http_server_start(&app, HTTP_PLANE_ADMIN, err, sizeof err);
        if (!admin_srv) {
            http_server_stop(srv, 0);
            srv = NULL;
        }
    }
    if (!srv) {
        log_with(LOG_LEVEL_ERROR, "cannot start the HTTP server", LF_S("error", err));
        sync_engine_destroy(app.sync);
        ingest_writer_stop(app.ingest);
        crm_clients_close(&app);
        users_close(&app);
        db_pool_destroy(app.pool, 1000);
        return 1;
    }
    int port = http_server_port(srv);
    int admin_port = admin_srv ? http_server_port(admin_srv) : 0;
    log_with(LOG_LEVEL_INFO, "synkro started", LF_S("version", SYNKRO_VERSION),
             LF_S("revision", SYNKRO_GIT_REV), LF_S("listen", cfg->listen_host), LF_I("port", port),
             LF_S("admin_listen", admin_srv ? cfg->admin_listen_host : NULL),
             LF_I("admin_port", admin_port), LF_S("public_base_url", cfg->public_base_url),
             LF_I("http_threads", cfg->http_threads));
    print_endpoints(cfg, port, admin_port);
    struct sync_sweeper *sweeper = sync_sweeper_start(&app.sync_ctx);
    if (!sweeper)
        log_warn("sweep thread did not start; missed webhooks are not reconciled and imports wait");
    struct janitor *janitor = janitor_start(&app, 1000);
    if (!janitor)
        log_warn("janitor thread did not start; synkro_db_up refreshes only on /readyz");

    int sig = 0;
    while (sigwait(&sigs, &sig) != 0)
        ;
    log_with(LOG_LEVEL_INFO, "shutting down", LF_S("signal", sig == SIGINT ? "SIGINT" : "SIGTERM"),
             LF_I("inflight", http_server_inflight(srv)));
    atomic_store(&app.shutting_down, 1);
    http_server_quiesce(srv);
    if (admin_srv)
        http_server_quiesce(admin_srv);
    int left = http_server_stop(srv, cfg->shutdown_grace_ms);
    left += admin_srv ? http_server_stop(admin_srv, cfg->shutdown_grace_ms) : 0;
    if (left > 0)
        log_with(LOG_LEVEL_WARN, "requests cut off at shutdown", LF_I("count", left));
    sync_sweeper_stop(sweeper);
    sync_engine_destroy(app.sync); /* finishes current batches; before clients and pool close */
    app.sync = NULL;
    ingest_writer_stop(app.ingest);
    janitor_stop(janitor);
    crm_clients_close(&app);
    users_close(&app);
    if (db_pool_destroy(app.pool, 2000) < 0)
        log_warn("database connections still borrowed at exit");
    log_info("stopped");
    metrics_reset_all();
    return 0;
}

int migrate_run(const struct config *cfg, bool status_only, const char *dir)
{
    struct migration_set set;
    char err[1024];
    if (dir) {
        if (migration_set_load_dir(dir, &set, err, sizeof err) < 0) {
            fprintf(stderr, "synkro migrate: %s\n", err);
            return 1;
        }
    } else {
        migration_set_embedded(&set);
    }
    struct db_pool *pool = pool_open(cfg);
    if (!pool) {
        fprintf(stderr, "synkro migrate: cannot create the database pool\n");
        migration_set_free(&set);
        return 1;
    }
    int rc = 0;
    if (status_only) {
        PGconn *conn = db_pool_acquire(pool, 5000, err, sizeof err);
        struct migration_status st;
        if (!conn || migrate_status(conn, &set, &st, err, sizeof err) < 0) {
            fprintf(stderr, "synkro migrate: %s\n", err);
            rc = 1;
        } else {
            for (size_t i = 0; i < st.count; i++)
                printf("%-8s %s%s%s\n", migration_state_name(st.rows[i].state), st.rows[i].name,
                       st.rows[i].applied_at[0] ? "  applied " : "", st.rows[i].applied_at);
            printf("%zu pending, %zu changed, %zu unknown\n", st.pending, st.changed, st.unknown);
            rc = (st.pending || st.changed || st.unknown) ? 3 : 0;
            migration_status_free(&st);
        }
        db_pool_release(pool, conn, rc == 1);
    } else {
        PGconn *conn = db_pool_acquire(pool, 5000, err, sizeof err);
        int n = conn ? migrate_apply(conn, &set, stdout, err, sizeof err) : -1;
        db_pool_release(pool, conn, n < 0);
        if (n < 0) {
            fprintf(stderr, "synkro migrate: %s\n", err);
            rc = 1;
        } else {
            printf("%d migration(s) applied; database is current\n", n);
        }
    }
    db_pool_destroy(pool, 1000);
    migration_set_free(&set);
    return rc;
}
