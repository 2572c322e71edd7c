/* webhook_common.c: ingest metrics, the store step shared by both webhook
 * endpoints, and ISO-8601 timestamps. Must not know either CRM's format. */
#include "handlers/webhook_common.h"

#include "db/ingest_writer.h"
#include "base/log.h"
#include "base/metrics.h"
#include "sync/sync_engine.h"

#include <pthread.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static struct metric_family *m_received;
static struct metric_family *m_depth;

static void metrics_register_all(void)
{
    static const char *const labels[] = {"source", "outcome"};
    static const char *const depth_labels[] = {"status"};
    m_received =
        metrics_register(METRIC_COUNTER, "synkro_events_received_total",
                         "Change events received, by source and outcome.", labels, 2, NULL, 0);
    m_depth = metrics_register(METRIC_GAUGE, "synkro_queue_depth",
                               "Change events in the queue, by status (refreshed every few "
                               "seconds).",
                               depth_labels, 1, NULL, 0);
}

static struct metrics_once metrics_once;

void webhook_metrics_init(void)
{
    metrics_once_run(&metrics_once, metrics_register_all);
}

void webhook_count(const char *source, const char *outcome, double n)
{
    webhook_metrics_init();
    const char *labels[] = {source, outcome};
    metrics_add(m_received, labels, n);
}

/* Counts and logs the outcome of a submission (rc from the writer). */
static int store_outcome(struct http_request *req, const char *source, struct queue_event *events,
                         size_t n, int rc, const char *err)
{
    if (rc < 0) {
        webhook_count(source, "unavailable", (double)n);
        log_with(LOG_LEVEL_ERROR, "events not stored", LF_S("source", source),
                 LF_I("events", (long long)n), LF_S("error", err),
                 LF_S("request_id", req->request_id));
        return -1;
    }
    size_t stored = 0;
    for (size_t i = 0; i < n; i++)
        stored += events[i].outcome == QUEUE_STORED;
    if (stored) {
        webhook_count(source, "stored", (double)stored);
        sync_engine_wake(req->app->sync); /* NULL (no workers) is fine */
    }
    if (n - stored)
        webhook_count(source, "duplicate", (double)(n - stored));
    return 0;
}

static void pending_done(void *ctx, int rc, const char *err)
{
    struct webhook_pending *wp = ctx;
    wp->rc = rc;
    snprintf(wp->err, sizeof wp->err, "%s", err);
    http_resume(wp->req); /* the request is suspended until now: wp stays valid */
}

void webhook_store_start(struct webhook_pending *wp)
{
    wp->rc = -1;
    if (ingest_submit_async(wp->req->app->ingest, wp->events, wp->n, pending_done, wp, wp->err,
                            sizeof wp->err) < 0)
        http_resume(wp->req);
}

int webhook_store_finish(struct webhook_pending *wp)
{
    return store_outcome(wp->req, wp->source, wp->events, wp->n, wp->rc, wp->err);
}

int webhook_store_or_suspend(struct webhook_pending *wp, void (*start)(struct http_request *),
                             int (*finish)(struct http_request *))
{
    if (wp->req->app->cfg->ingest_inline &&
        ingest_commit_if_idle(wp->req->app->ingest, wp->events, wp->n)) {
        wp->rc = 0;
        return finish(wp->req);
    }
    return http_suspend(wp->req, start, finish);
}

/* The counts are shared by every instance on the database (queue_depth): each is at most this
 * old, a little under the janitor's period (WEBHOOK_DEPTH_PERIOD_MS) so that an instance's own
 * count from the previous round is always stale by its next. The done events are counted once a
 * minute. A status not answered keeps its figure. Only the janitor thread calls this. */
#define DEPTH_MAX_AGE_MS (WEBHOOK_DEPTH_PERIOD_MS - 500)

void webhook_refresh_queue_depth(struct app *app)
{
    webhook_metrics_init();
    char err[256];
    json_object *depth = queue_depth_pooled(app->pool, DEPTH_MAX_AGE_MS, 1000, err, sizeof err);
    if (!depth)
        return; /* readiness reports the database; keep the last figures */
    json_object_object_foreach(depth, status, v)
    {
        const char *labels[] = {status};
        metrics_set(m_depth, labels, (double)json_object_get_int64(v));
    }
    json_object_put(depth);
}
