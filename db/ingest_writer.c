/* ingest_writer.c: writer threads that commit the events of many concurrent
 * requests in one transaction.
 *
 * Owns the writer threads and the queue of submissions (not the
 * submissions, which belong to their callers). Must not parse, verify or
 * classify events: it only stores what it is given. */
#include "db/ingest_writer.h"
#include "base/clock.h"

#include "base/metrics.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* One request's events: heap-allocated by ingest_submit_async, completed by its callback and
 * freed by the writer that committed it. */
struct ingest_submission {
    struct queue_event *events;
    size_t n;
    struct ingest_submission *next;
    ingest_done_fn done;
    void *ctx;
};

struct ingest_writer {
    struct db_pool *pool;
    int batch_max;
    int nthreads;
    pthread_t *threads;
    pthread_mutex_t lock;
    pthread_cond_t work;
    struct ingest_submission *head, *tail; /* FIFO, guarded by lock */
    size_t queued_events;                  /* events in the FIFO, guarded by lock */
    int busy; /* commits in flight (writers' and ingest_commit_if_idle's), guarded by lock */
    size_t last_subs; /* requests in the last group commit, guarded by lock */
    bool stop;        /* guarded by lock */
};

/* A second writer starts a commit next to a running one only when this
 * many events wait: small requests are then gathered into one larger batch
 * (fewer commits), while a backlog of large requests uses both writers. */
#define INGEST_PARALLEL_EVENTS 200

static bool may_take(const struct ingest_writer *w)
{
    return w->head && (w->busy == 0 || w->queued_events >= INGEST_PARALLEL_EVENTS);
}

static struct metric_family *m_batch_size;
static struct metric_family *m_commit_seconds;
static struct metric_family *m_commits;

static struct metrics_once metrics_once;

static void writer_metrics_init(void)
{
    static const double size_buckets[] = {1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000};
    static const double time_buckets[] = {0.0005, 0.001, 0.002, 0.005, 0.01,
                                          0.02,   0.05,  0.1,   0.25,  1};
    m_batch_size = metrics_register(METRIC_HISTOGRAM, "synkro_ingest_batch_size",
                                    "Events committed per group-commit transaction.", NULL, 0,
                                    size_buckets, sizeof size_buckets / sizeof size_buckets[0]);
    m_commit_seconds = metrics_register(METRIC_HISTOGRAM, "synkro_ingest_commit_seconds",
                                        "Duration of one group-commit insert.", NULL, 0,
                                        time_buckets, sizeof time_buckets / sizeof time_buckets[0]);
    static const char *const commit_labels[] = {"thread"};
    m_commits =
        metrics_register(METRIC_COUNTER, "synkro_ingest_commits_total",
                         "Group-commit inserts that succeeded, by the thread that ran them: "
                         "writer, or request (a lone request on its own HTTP thread).",
                         commit_labels, 1, NULL, 0);
}

/* One insert (one transaction) on conn, which it releases; *lost when the connection died. */
static int insert_once(struct ingest_writer *w, PGconn *conn, struct queue_event *batch, size_t n,
                       const char *thread, bool *lost, char *err, size_t errlen)
{
    double t0 = clock_mono_seconds();
    int rc = queue_insert_batch(conn, batch, n, err, errlen);
    *lost = rc < 0 && db_conn_lost(conn);
    db_pool_release(w->pool, conn, rc < 0);
    if (rc == 0) {
        metrics_observe(m_commit_seconds, NULL, clock_mono_seconds() - t0);
        metrics_observe(m_batch_size, NULL, (double)n);
        const char *labels[] = {thread};
        metrics_add(m_commits, labels, 1);
    }
    return rc;
}

/* Inserts the batch, retrying once on a fresh connection when the pooled
 * one died (database restart). The insert is idempotent, so a retry after an
 * ambiguous commit only turns "stored" into "duplicate". */
static int write_batch(struct ingest_writer *w, struct queue_event *batch, size_t n, char *err,
                       size_t errlen)
{
    for (int attempt = 0; attempt < 2; attempt++) {
        PGconn *conn = db_pool_acquire(w->pool, 2000, err, errlen);
        if (!conn)
            return -1;
        bool lost;
        if (insert_once(w, conn, batch, n, "writer", &lost, err, errlen) == 0)
            return 0;
        if (!lost)
            return -1;
    }
    return -1;
}

/* Takes queued submissions up to batch_max events (at least one). */
static struct ingest_submission *take_batch(struct ingest_writer *w, size_t *nevents)
{
    struct ingest_submission *first = w->head, *last = NULL;
    size_t total = 0, subs = 0;
    *nevents = 0;
    if (!first)
        return NULL;
    for (struct ingest_submission *s = w->head; s; s = s->next) {
        if (last && total + s->n > (size_t)w->batch_max)
            break;
        total += s->n;
        subs++;
        last = s;
    }
    w->last_subs = subs;
    w->head = last->next;
    if (!w->head)
        w->tail = NULL;
    last->next = NULL;
    *nevents = total;
    w->queued_events -= total;
    return first;
}

/* Calls back and frees the submissions of a batch (outside the lock). */
static void complete(struct ingest_submission *list, int rc, const char *err)
{
    for (struct ingest_submission *s = list, *next; s; s = next) {
        next = s->next;
        s->done(s->ctx, rc, rc == 0 ? "" : err);
        free(s);
    }
}

static void *writer_main(void *arg)
{
    struct ingest_writer *w = arg;
    struct queue_event *batch = NULL;
    size_t batch_cap = 0;
    pthread_mutex_lock(&w->lock);
    for (;;) {
        while (!w->stop && !may_take(w))
            pthread_cond_wait(&w->work, &w->lock);
        if (!w->head && w->stop)
            break;
        size_t n;
        struct ingest_submission *subs = take_batch(w, &n);
        if (subs)
            w->busy++;
        pthread_mutex_unlock(&w->lock);
        if (!subs) {
            pthread_mutex_lock(&w->lock);
            continue;
        }

        char err[256] = "";
        int rc = 0;
        if (n > batch_cap) {
            struct queue_event *nb = realloc(batch, n * sizeof *nb);
            if (nb) {
                batch = nb;
                batch_cap = n;
            } else {
                rc = -1;
                snprintf(err, sizeof err, "out of memory assembling a batch");
            }
        }
        if (rc == 0) {
            size_t k = 0;
            for (struct ingest_submission *s = subs; s; s = s->next)
                for (size_t i = 0; i < s->n; i++)
                    batch[k++] = s->events[i];
            rc = write_batch(w, batch, n, err, sizeof err);
            k = 0;
            for (struct ingest_submission *s = subs; rc == 0 && s; s = s->next)
                for (size_t i = 0; i < s->n; i++, k++) {
                    s->events[i].outcome = batch[k].outcome;
                    s->events[i].id = batch[k].id;
                }
        }

        pthread_mutex_lock(&w->lock);
        w->busy--;
        if (w->head) /* an idle writer may now take the backlog; with none, no one is woken */
            pthread_cond_broadcast(&w->work);
        pthread_mutex_unlock(&w->lock);
        complete(subs, rc, err); /* resumes the requests: outside the lock */
        pthread_mutex_lock(&w->lock);
    }
    pthread_mutex_unlock(&w->lock);
    free(batch);
    return NULL;
}

struct ingest_writer *ingest_writer_start(struct db_pool *pool, int nwriters, int batch_max)
{
    metrics_once_run(&metrics_once, writer_metrics_init);
    struct ingest_writer *w = calloc(1, sizeof *w);
    if (!w)
        return NULL;
    w->pool = pool;
    w->batch_max = batch_max > 0 ? batch_max : 1000;
    w->threads = calloc((size_t)nwriters, sizeof *w->threads);
    if (!w->threads) {
        free(w);
        return NULL;
    }
    pthread_mutex_init(&w->lock, NULL);
    pthread_cond_init(&w->work, NULL);
    for (int i = 0; i < nwriters; i++) {
        if (pthread_create(&w->threads[i], NULL, writer_main, w) != 0)
            break;
        w->nthreads++;
    }
    if (w->nthreads == 0) {
        pthread_mutex_destroy(&w->lock);
        pthread_cond_destroy(&w->work);
        free(w->threads);
        free(w);
        return NULL;
    }
    return w;
}

bool ingest_commit_if_idle(struct ingest_writer *w, struct queue_event *events, size_t n)
{
    pthread_mutex_lock(&w->lock);
    bool idle = !w->stop && !w->head && w->busy == 0 && w->last_subs <= 1;
    if (idle)
        w->busy++; /* requests arriving meanwhile queue, and a writer takes them afterwards */
    pthread_mutex_unlock(&w->lock);
    if (!idle)
        return false;
    PGconn *conn = db_pool_try_acquire_open(w->pool);
    int rc = -1;
    if (conn) {
        char err[256];
        bool lost;
        rc = insert_once(w, conn, events, n, "request", &lost, err, sizeof err);
    }
    pthread_mutex_lock(&w->lock);
    w->busy--;
    if (rc == 0)
        w->last_subs = 1;
    if (w->head) /* what queued during this commit: a writer takes it now */
        pthread_cond_signal(&w->work);
    pthread_mutex_unlock(&w->lock);
    return rc == 0;
}

int ingest_submit_async(struct ingest_writer *w, struct queue_event *events, size_t n,
                        ingest_done_fn done, void *ctx, char *err, size_t errlen)
{
    struct ingest_submission *sub = calloc(1, sizeof *sub);
    if (!sub) {
        snprintf(err, errlen, "out of memory queueing the events");
        return -1;
    }
    sub->events = events;
    sub->n = n;
    sub->done = done;
    sub->ctx = ctx;
    pthread_mutex_lock(&w->lock);
    if (w->stop) {
        pthread_mutex_unlock(&w->lock);
        free(sub);
        snprintf(err, errlen, "synkro is shutting down");
        return -1;
    }
    if (w->tail)
        w->tail->next = sub;
    else
        w->head = sub;
    w->tail = sub;
    w->queued_events += n;
    pthread_cond_signal(&w->work);
    pthread_mutex_unlock(&w->lock);
    return 0;
}

void ingest_writer_stop(struct ingest_writer *w)
{
    if (!w)
        return;
    pthread_mutex_lock(&w->lock);
    w->stop = true;
    pthread_cond_broadcast(&w->work);
    pthread_mutex_unlock(&w->lock);
    for (int i = 0; i < w->nthreads; i++)
        pthread_join(w->threads[i], NULL);
    pthread_mutex_destroy(&w->lock);
    pthread_cond_destroy(&w->work);
    free(w->threads);
    free(w);
}
