/* reconcile.c: the reconciliation thread: sweeps every SYNKRO_SWEEP_INTERVAL seconds and import
 * steps about once a second (see reconcile.h).
 *
 * Must not: sweep or import itself (sweep.c and import.c do), or hold a lock across its waits. */
#include "sync/reconcile.h"

#include "base/clock.h"
#include "base/config.h"
#include "base/heap.h"
#include "base/log.h"
#include "sync/import.h"
#include "sync/sweep.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

#define IMPORT_TICK_MS 1000

struct sync_sweeper {
    const struct sync_context *ctx;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    bool stop; /* guarded by lock */
};

/* Waits up to ms or until stopped; returns true when stopped. */
static bool sweeper_wait(struct sync_sweeper *s, int64_t ms)
{
    struct timespec ts = clock_deadline_after_ms(ms);
    pthread_mutex_lock(&s->lock);
    while (!s->stop && pthread_cond_timedwait(&s->wake, &s->lock, &ts) != ETIMEDOUT)
        ;
    bool stop = s->stop;
    pthread_mutex_unlock(&s->lock);
    return stop;
}

static void *sweeper_main(void *arg)
{
    struct sync_sweeper *s = arg;
    int64_t interval_ms = (int64_t)s->ctx->cfg->sweep_interval_s * 1000;
    int64_t next_sweep = clock_mono_ms();
    do {
        if (interval_ms > 0 && clock_mono_ms() >= next_sweep) {
            sync_sweep_all(s->ctx, NULL);
            heap_trim(); /* what the sweep read is free now: give it back at once */
            next_sweep = clock_mono_ms() + interval_ms;
        }
        import_advance_all(s->ctx);
    } while (!sweeper_wait(s, IMPORT_TICK_MS));
    return NULL;
}

struct sync_sweeper *sync_sweeper_start(const struct sync_context *ctx)
{
    struct sync_sweeper *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->ctx = ctx;
    if (pthread_mutex_init(&s->lock, NULL) != 0) {
        free(s);
        return NULL;
    }
    if (pthread_cond_init(&s->wake, NULL) != 0) {
        pthread_mutex_destroy(&s->lock);
        free(s);
        return NULL;
    }
    if (pthread_create(&s->thread, NULL, sweeper_main, s) != 0) {
        pthread_cond_destroy(&s->wake);
        pthread_mutex_destroy(&s->lock);
        free(s);
        return NULL;
    }
    log_with(LOG_LEVEL_INFO, "sweeper started", LF_I("interval_s", ctx->cfg->sweep_interval_s));
    return s;
}

void sync_sweeper_stop(struct sync_sweeper *s)
{
    if (!s)
        return;
    pthread_mutex_lock(&s->lock);
    s->stop = true;
    pthread_cond_signal(&s->wake);
    pthread_mutex_unlock(&s->lock);
    pthread_join(s->thread, NULL);
    pthread_cond_destroy(&s->wake);
    pthread_mutex_destroy(&s->lock);
    free(s);
}
