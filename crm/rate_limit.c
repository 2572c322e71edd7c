/* rate_limit.c: the sliding-window token bucket behind rate_limit.h.
 *
 * Owns the ring of spend times (monotonic ms, oldest at head). Because tokens are spent in time
 * order under the mutex, the oldest spend decides when the next token returns.
 * Must not: call out (no logging, no I/O) while holding the mutex. */
#include "crm/rate_limit.h"
#include "base/clock.h"

#include <pthread.h>
#include <stdlib.h>
#include <time.h>

struct rate_limit {
    pthread_mutex_t lock;
    pthread_cond_t cond; /* signalled when a pause is set (waiters re-plan); CLOCK_MONOTONIC */
    int64_t *stamps;     /* spend times, ring of capacity entries */
    int capacity;
    int head;  /* oldest spend */
    int count; /* spends in the ring */
    int64_t interval_ms;
    int64_t paused_until_ms;
};

int64_t rate_limit_now_ms(void)
{
    return clock_mono_ms();
}

struct rate_limit *rate_limit_create(int capacity, int64_t interval_ms)
{
    if (capacity < 1 || capacity > 1000000 || interval_ms < 1)
        return NULL;
    struct rate_limit *rl = calloc(1, sizeof *rl);
    if (!rl)
        return NULL;
    rl->stamps = calloc((size_t)capacity, sizeof *rl->stamps);
    if (!rl->stamps) {
        free(rl);
        return NULL;
    }
    rl->capacity = capacity;
    rl->interval_ms = interval_ms;
    pthread_mutex_init(&rl->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&rl->cond, &ca);
    pthread_condattr_destroy(&ca);
    return rl;
}

void rate_limit_destroy(struct rate_limit *rl)
{
    if (!rl)
        return;
    pthread_mutex_destroy(&rl->lock);
    pthread_cond_destroy(&rl->cond);
    free(rl->stamps);
    free(rl);
}

/* With the lock held: the earliest time a token can be taken (<= now: at once). */
static int64_t next_free_at(const struct rate_limit *rl, int64_t now)
{
    int64_t at = now;
    if (rl->count == rl->capacity) {
        int64_t back = rl->stamps[rl->head] + rl->interval_ms;
        if (back > at)
            at = back;
    }
    if (rl->paused_until_ms > at)
        at = rl->paused_until_ms;
    return at;
}

/* With the lock held and a token free at now: spends it. */
static void take(struct rate_limit *rl, int64_t now)
{
    if (rl->count < rl->capacity) {
        rl->stamps[(rl->head + rl->count) % rl->capacity] = now;
        rl->count++;
    } else {
        rl->stamps[rl->head] = now;
        rl->head = (rl->head + 1) % rl->capacity;
    }
}

static void wait_until(struct rate_limit *rl, int64_t at_ms)
{
    struct timespec ts = {.tv_sec = (time_t)(at_ms / 1000),
                          .tv_nsec = (long)(at_ms % 1000) * 1000000};
    int rc = pthread_cond_timedwait(&rl->cond, &rl->lock, &ts);
    (void)rc; /* timeout or signal: the caller re-plans either way */
}

int rate_limit_acquire(struct rate_limit *rl, int64_t deadline_ms)
{
    if (!rl)
        return 0;
    pthread_mutex_lock(&rl->lock);
    for (;;) {
        int64_t now = rate_limit_now_ms();
        int64_t at = next_free_at(rl, now);
        if (at <= now) {
            take(rl, now);
            pthread_mutex_unlock(&rl->lock);
            return 0;
        }
        if (deadline_ms >= 0 && at > deadline_ms) {
            pthread_mutex_unlock(&rl->lock);
            return -1;
        }
        wait_until(rl, at);
    }
}

int rate_limit_try_acquire(struct rate_limit *rl)
{
    if (!rl)
        return 0;
    pthread_mutex_lock(&rl->lock);
    int64_t now = rate_limit_now_ms();
    int rc = -1;
    if (next_free_at(rl, now) <= now) {
        take(rl, now);
        rc = 0;
    }
    pthread_mutex_unlock(&rl->lock);
    return rc;
}

void rate_limit_pause(struct rate_limit *rl, int64_t until_ms)
{
    if (!rl)
        return;
    pthread_mutex_lock(&rl->lock);
    if (until_ms > rl->paused_until_ms)
        rl->paused_until_ms = until_ms;
    pthread_cond_broadcast(&rl->cond);
    pthread_mutex_unlock(&rl->lock);
}

int rate_limit_capacity(const struct rate_limit *rl)
{
    return rl ? rl->capacity : 0;
}

int64_t rate_limit_interval_ms(const struct rate_limit *rl)
{
    return rl ? rl->interval_ms : 0;
}

int rate_limit_available(struct rate_limit *rl)
{
    if (!rl)
        return 0;
    pthread_mutex_lock(&rl->lock);
    int64_t now = rate_limit_now_ms();
    int n = 0;
    if (rl->paused_until_ms <= now) {
        n = rl->capacity - rl->count;
        for (int i = 0; i < rl->count; i++)
            if (rl->stamps[(rl->head + i) % rl->capacity] + rl->interval_ms <= now)
                n++;
            else
                break;
    }
    pthread_mutex_unlock(&rl->lock);
    return n;
}
