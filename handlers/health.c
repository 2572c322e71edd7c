/* health.c: GET /healthz (alive), GET /readyz (database and schema ready),
 * GET /metrics (Prometheus text).
 *
 * /healthz never touches the database: it answers while the process runs.
 * /readyz borrows one pooled connection, retrying once on a fresh connection
 * when the borrowed one died with a database restart. Must not change any
 * state but the synkro_db_up gauge. */
#include "handlers/health.h"

#include "db/pool.h"
#include "base/metrics.h"
#include "base/strbuf.h"

#include <pthread.h>
#include <microhttpd.h>
#include <stdio.h>
#include <string.h>

int handle_healthz(struct http_request *req)
{
    static const char body[] = "{\"status\":\"ok\"}";
    return http_respond(req, 200, "application/json", body, sizeof body - 1);
}

static struct metric_family *m_db_up;

static void metrics_register_all(void)
{
    m_db_up =
        metrics_register(METRIC_GAUGE, "synkro_db_up",
                         "1 when the database answered the last check, else 0.", NULL, 0, NULL, 0);
}

static struct metrics_once metrics_once;

void health_init(void)
{
    metrics_once_run(&metrics_once, metrics_register_all);
}

int health_check_ready(struct app *app, char *reason, size_t reasonlen)
{
    health_init();
    char err[512] = "";
    PGconn *conn = NULL;
    for (int attempt = 0; attempt < 2 && !conn; attempt++) {
        conn = db_pool_acquire(app->pool, 2000, err, sizeof err);
        if (!conn)
            break;
        if (db_ping(conn, err, sizeof err) == 0)
            break;
        bool lost = db_conn_lost(conn);
        db_pool_release(app->pool, conn, true);
        conn = NULL;
        if (!lost)
            break;
    }
    metrics_set(m_db_up, NULL, conn ? 1 : 0);
    if (!conn) {
        snprintf(reason, reasonlen, "database unavailable: %s", err);
        return -1;
    }
    struct migration_status st;
    int rc = migrate_status(conn, app->migrations, &st, err, sizeof err);
    db_pool_release(app->pool, conn, rc < 0);
    if (rc < 0) {
        snprintf(reason, reasonlen, "cannot read migration status: %s", err);
        return -1;
    }
    int ready = st.pending == 0 && st.changed == 0 && st.unknown == 0;
    if (!ready)
        snprintf(reason, reasonlen,
                 "migrations not current: %zu pending, %zu changed, %zu unknown to this version",
                 st.pending, st.changed, st.unknown);
    migration_status_free(&st);
    return ready ? 0 : -1;
}

int handle_readyz(struct http_request *req)
{
    char reason[768];
    if (health_check_ready(req->app, reason, sizeof reason) < 0)
        return http_respond_error(req, 503, "not_ready", reason);
    static const char body[] = "{\"status\":\"ready\"}";
    return http_respond(req, 200, "application/json", body, sizeof body - 1);
}

int handle_metrics(struct http_request *req)
{
    struct strbuf sb = STRBUF_INIT;
    if (metrics_render(&sb) < 0) {
        strbuf_free(&sb);
        return http_respond_error(req, 500, "internal", "out of memory rendering metrics");
    }
    int rc =
        http_respond(req, 200, "text/plain; version=0.0.4; charset=utf-8", strbuf_str(&sb), sb.len);
    strbuf_free(&sb);
    return rc;
}
