/* janitor.c: periodic maintenance, like PgBouncer's janitor.
 *
 * One thread that wakes every interval and runs each job of its table that is due (each has its
 * own period). Jobs
 * must be short and must tolerate an unavailable database (they log and try
 * again next round). The thread owns nothing shared; stop is signalled
 * through j->lock/j->wake. */
#include "server/janitor.h"
#include "base/clock.h"

#include "handlers/health.h"
#include "db/health_rollup.h"
#include "db/history_store.h"
#include "db/link_store.h"
#include "db/mapping_store.h"
#include "db/queue_claim.h"
#include "db/queue_vacuum.h"
#include "db/session_store.h"
#include "handlers/webhook_common.h"
#include "base/heap.h"
#include "base/log.h"
#include "base/metrics.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef void (*janitor_job_fn)(struct app *app);

struct janitor {
    struct app *app;
    int interval_ms;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    bool stop; /* guarded by lock */
};

/* Keeps synkro_db_up current between scrapes; logs readiness changes. */
static void job_check_database(struct app *app)
{
    static int last_ready = -1; /* only the janitor thread touches this */
    char reason[768];
    int ready = health_check_ready(app, reason, sizeof reason) == 0;
    if (ready != last_ready) {
        if (ready)
            log_info("database ready");
        else
            log_with(LOG_LEVEL_WARN, "database not ready", LF_S("reason", reason));
        last_ready = ready;
    }
}

bool janitor_reclassify_due(bool changed, bool followup, long long since_sweep_ms)
{
    return changed || followup || since_sweep_ms >= JANITOR_RECLASSIFY_FULL_MS;
}

/* Events inserted while a mapping changed state may carry the old status; this sweep settles
 * them (held <-> pending <-> unmapped). The API sweeps after each change it makes; this job
 * covers the inserts that raced with it and changes made elsewhere (config apply, another
 * instance). The sweep reads every queued event (75 ms at 10,000, seconds at a backlog of a
 * million, in every instance), so it runs only when janitor_reclassify_due says so; the
 * signature is one read of the small mappings table. Only the janitor thread touches the
 * statics. */
static void job_reclassify_events(struct app *app)
{
    static char *last_sig;
    static bool followup;
    static int64_t last_sweep_ms;
    char err[256];
    PGconn *conn = db_pool_acquire(app->pool, 1000, err, sizeof err);
    if (!conn)
        return;
    char *sig = mapping_store_classes_signature(conn, err, sizeof err);
    if (!sig) {
        db_pool_release(app->pool, conn, true);
        return;
    }
    int64_t now = clock_mono_ms();
    bool changed = !last_sig || strcmp(last_sig, sig) != 0;
    if (!janitor_reclassify_due(changed, followup, (long long)(now - last_sweep_ms))) {
        db_pool_release(app->pool, conn, false);
        free(sig);
        return;
    }
    long moved = mapping_store_reclassify_events(conn, err, sizeof err);
    db_pool_release(app->pool, conn, moved < 0);
    if (moved < 0) { /* the next round tries again */
        free(sig);
        return;
    }
    followup = changed;
    free(last_sig);
    last_sig = sig;
    last_sweep_ms = now;
    if (moved > 0)
        log_with(LOG_LEVEL_INFO, "janitor reclassified queued events", LF_I("events", moved));
}

/* Events whose worker died (its session ended, or its lease expired) go back to pending. */
static void job_release_expired_leases(struct app *app)
{
    char err[256];
    PGconn *conn = db_pool_acquire(app->pool, 1000, err, sizeof err);
    if (!conn)
        return;
    long released = 0;
    int rc = queue_release_expired(conn, &released, err, sizeof err);
    db_pool_release(app->pool, conn, rc < 0);
    if (released > 0)
        log_with(LOG_LEVEL_WARN, "leases of ended or late workers released",
                 LF_I("events", released));
}

/* Keeps the queue small as it ages: old done and failed events are deleted
 * in small batches (a bounded amount per round). */
static void job_prune_events(struct app *app)
{
    char err[256];
    PGconn *conn = db_pool_acquire(app->pool, 1000, err, sizeof err);
    if (!conn)
        return;
    long deleted = 0;
    int rc = queue_prune(conn, 1000, 10, (long)app->cfg->event_retention_days * 86400L,
                         (long)app->cfg->failed_retention_days * 86400L, &deleted, err, sizeof err);
    db_pool_release(app->pool, conn, rc < 0);
    if (rc < 0)
        log_with(LOG_LEVEL_WARN, "pruning failed", LF_S("error", err));
    else if (deleted > 0)
        log_with(LOG_LEVEL_INFO, "pruned old events", LF_I("events", deleted));
}

typedef long (*prune_fn)(PGconn *conn, long retention_s, int batch, char *err, size_t errlen);

/* Deletes rows older than retention_days with prune, in batches of `batch`, at most ten batches
 * a round (a bounded amount per round, like the events); `what` names them in the log. */
static void prune_in_batches(struct app *app, prune_fn prune, int retention_days, long batch,
                             const char *what)
{
    char err[256];
    PGconn *conn = db_pool_acquire(app->pool, 1000, err, sizeof err);
    if (!conn)
        return;
    long retention_s = (long)retention_days * 86400L;
    long total = 0, got = batch;
    for (int batches = 0; got == batch && batches < 10; batches++) {
        got = prune(conn, retention_s, (int)batch, err, sizeof err);
        if (got > 0)
            total += got;
    }
    db_pool_release(app->pool, conn, got < 0);
    if (got < 0)
        log_with(LOG_LEVEL_WARN, "pruning failed", LF_S("rows", what), LF_S("error", err));
    if (total > 0)
        log_with(LOG_LEVEL_INFO, "pruned old rows", LF_S("rows", what), LF_I("count", total));
}

/* Old conflicts go after SYNKRO_CONFLICT_RETENTION days. */
static void job_prune_conflicts(struct app *app)
{
    prune_in_batches(app, conflict_prune, app->cfg->conflict_retention_days, 1000, "conflicts");
}

/* Each record's history goes after SYNKRO_HISTORY_RETENTION days; with 0 the engine records none
 * and what an earlier run recorded stays until the setting is raised again. */
static void job_prune_history(struct app *app)
{
    if (app->cfg->history_retention_days > 0)
        prune_in_batches(app, history_prune, app->cfg->history_retention_days, 5000,
                         "record history");
}

/* Ended console sessions (revoked, expired, idle) and used or expired sign-in codes go, a
 * bounded amount per round. */
static void job_prune_sessions(struct app *app)
{
    char err[256];
    long deleted = session_store_prune(app->pool, app->cfg->session_idle_s, 1000, err, sizeof err);
    if (deleted < 0)
        log_with(LOG_LEVEL_WARN, "pruning sessions failed", LF_S("error", err));
}

/* The console's long health windows read the five-minute rollup of finished events
 * (db/health_rollup.h); each period that ends is rolled up (with the 15 minutes before it again)
 * and the watermark moves. */
static void job_roll_up_health(struct app *app)
{
    char err[256];
    PGconn *conn = db_pool_acquire(app->pool, 1000, err, sizeof err);
    if (!conn)
        return;
    /* a step does nothing until a five-minute period has ended; an hour per step, each its own
     * short transaction, for at most two seconds a round, so a day behind (a fresh install, or
     * after a reset) catches up within a few rounds without holding up the other jobs */
    int rc = 1;
    int64_t until = clock_mono_ms() + 2000;
    while (rc == 1 && clock_mono_ms() < until)
        rc = health_rollup_step(conn, NULL, err, sizeof err);
    db_pool_release(app->pool, conn, rc < 0);
    if (rc < 0)
        log_with(LOG_LEVEL_WARN, "health rollup failed", LF_S("error", err));
}

/* Vacuums the change_events queue when its dead rows pass SYNKRO_QUEUE_VACUUM_DEAD_ROWS
 * (db/queue_vacuum.h says why autovacuum alone is too late for a queue). The VACUUM may take as
 * long as a minute; the janitor's other jobs wait for it meanwhile, which they tolerate. */
static struct metric_family *m_vacuums, *m_vacuum_s, *m_dead_rows;
static struct metrics_once vacuum_metrics_once;

static void vacuum_metrics_init(void)
{
    static const char *const l[] = {"outcome"};
    m_vacuums = metrics_register(METRIC_COUNTER, "synkro_queue_vacuums_total",
                                 "Vacuums of the change_events queue the janitor ran "
                                 "(outcome=done), or skipped because another session was "
                                 "vacuuming it (outcome=busy).",
                                 l, 1, NULL, 0);
    m_vacuum_s =
        metrics_register(METRIC_COUNTER, "synkro_queue_vacuum_seconds_total",
                         "Time spent in the janitor's vacuums of the queue.", NULL, 0, NULL, 0);
    m_dead_rows = metrics_register(METRIC_GAUGE, "synkro_queue_dead_rows",
                                   "Dead rows PostgreSQL counts in change_events (read every 5 s).",
                                   NULL, 0, NULL, 0);
}

static void job_vacuum_queue(struct app *app)
{
    static bool warned_owner; /* only the janitor thread touches it */
    if (app->cfg->queue_vacuum_dead_rows <= 0)
        return;
    metrics_once_run(&vacuum_metrics_once, vacuum_metrics_init);
    char err[256];
    PGconn *conn = db_pool_acquire(app->pool, 1000, err, sizeof err);
    if (!conn)
        return;
    struct queue_vacuum_result res;
    int rc = queue_vacuum_if_due(conn, app->cfg->queue_vacuum_dead_rows, 60000,
                                 app->cfg->db_statement_timeout_ms, &res, err, sizeof err);
    db_pool_release(app->pool, conn, rc < 0);
    if (rc < 0) {
        log_with(LOG_LEVEL_WARN, "queue vacuum failed", LF_S("error", err));
        return;
    }
    metrics_set(m_dead_rows, NULL, (double)res.dead_rows);
    if (res.outcome == QUEUE_VACUUM_NOT_OWNER && !warned_owner) {
        warned_owner = true;
        log_with(LOG_LEVEL_WARN,
                 "cannot vacuum change_events: synkro's database user does not own it; leaving "
                 "it to autovacuum (make the user the table's owner, or set "
                 "SYNKRO_QUEUE_VACUUM_DEAD_ROWS=0 to silence this)",
                 LF_I("dead_rows", res.dead_rows));
    }
    if (res.outcome == QUEUE_VACUUM_DONE || res.outcome == QUEUE_VACUUM_BUSY) {
        const char *labels[] = {res.outcome == QUEUE_VACUUM_DONE ? "done" : "busy"};
        metrics_add(m_vacuums, labels, 1);
        metrics_add(m_vacuum_s, NULL, res.seconds);
        log_with(LOG_LEVEL_DEBUG, "queue vacuumed", LF_S("outcome", labels[0]),
                 LF_I("dead_rows", res.dead_rows), LF_I("ms", (long long)(res.seconds * 1000)));
    }
}

/* Says how many repeated log lines were left out of a flood that has ended (base/log.h). */
static void job_flush_log_repeats(struct app *app)
{
    (void)app;
    log_flush_suppressed();
}

/* Hands the heap's free pages back to the system (base/heap.h): glibc keeps each arena's freed
 * memory, so the bursts of work after a reconciliation sweep left RSS a step higher each time. */
static void job_trim_heap(struct app *app)
{
    (void)app;
    heap_trim();
}

/* Each job with its period: at most once per period, checked every round (interval_ms). The
 * leases of an ended worker are released within about a second of its death, so that its records
 * sync again within seconds (db/queue_claim.h); the rest can wait five. */

static const struct {
    janitor_job_fn fn;
    int period_ms;
} janitor_jobs[] = {
    {job_check_database, 1000},    {webhook_refresh_queue_depth, WEBHOOK_DEPTH_PERIOD_MS},
    {job_reclassify_events, 5000}, {job_release_expired_leases, 1000},
    {job_prune_events, 5000},      {job_prune_conflicts, 5000},
    {job_flush_log_repeats, 1000}, {job_prune_sessions, 5000},
    {job_prune_history, 5000},     {job_trim_heap, 10000},
    {job_roll_up_health, 5000},    {job_vacuum_queue, 5000},
};
#define JANITOR_JOBS (sizeof janitor_jobs / sizeof janitor_jobs[0])

static void *janitor_main(void *arg)
{
    struct janitor *j = arg;
    int64_t last_run[JANITOR_JOBS] = {0};
    pthread_mutex_lock(&j->lock);
    while (!j->stop) {
        pthread_mutex_unlock(&j->lock);
        for (size_t i = 0; i < JANITOR_JOBS; i++) {
            int64_t now = clock_mono_ms();
            /* a little slack, so a job of the round's period is not skipped for a few ms */
            if (last_run[i] && now - last_run[i] < janitor_jobs[i].period_ms - j->interval_ms / 2)
                continue;
            last_run[i] = now;
            janitor_jobs[i].fn(j->app);
        }
        pthread_mutex_lock(&j->lock);
        struct timespec ts = clock_deadline_after_ms(j->interval_ms);
        while (!j->stop && pthread_cond_timedwait(&j->wake, &j->lock, &ts) != ETIMEDOUT)
            ;
    }
    pthread_mutex_unlock(&j->lock);
    return NULL;
}

struct janitor *janitor_start(struct app *app, int interval_ms)
{
    struct janitor *j = calloc(1, sizeof *j);
    if (!j)
        return NULL;
    j->app = app;
    j->interval_ms = interval_ms > 0 ? interval_ms : 5000;
    pthread_mutex_init(&j->lock, NULL);
    pthread_cond_init(&j->wake, NULL);
    if (pthread_create(&j->thread, NULL, janitor_main, j) != 0) {
        pthread_mutex_destroy(&j->lock);
        pthread_cond_destroy(&j->wake);
        free(j);
        return NULL;
    }
    return j;
}

void janitor_stop(struct janitor *j)
{
    if (!j)
        return;
    pthread_mutex_lock(&j->lock);
    j->stop = true;
    pthread_cond_signal(&j->wake);
    pthread_mutex_unlock(&j->lock);
    pthread_join(j->thread, NULL);
    pthread_mutex_destroy(&j->lock);
    pthread_cond_destroy(&j->wake);
    free(j);
}
