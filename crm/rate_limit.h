/* rate_limit.h: a thread-safe client-side request budget (token bucket) with a blocking acquire.
 *
 * Owns one bucket of `capacity` tokens. A token spent at time t comes back at t + interval_ms (the
 * bucket keeps the spend times in a ring), so no rolling window of interval_ms ever holds more
 * than `capacity` acquisitions: exactly what HubSpot's TEN_SECONDLY_ROLLING policy counts. (A
 * bucket refilled at a steady rate would let up to twice the capacity through one window.)
 * rate_limit_pause() stops every acquirer until a given time: the shared back-off after a 429.
 *
 * Locking: one mutex and one condition variable (CLOCK_MONOTONIC) per bucket; waiters sleep on
 * the condition until the next token returns, the pause ends, or their deadline passes.
 * Must not: sleep while holding the mutex (only pthread_cond_timedwait releases it). */
#ifndef SYNKRO_SYNC_RATE_LIMIT_H
#define SYNKRO_SYNC_RATE_LIMIT_H

#include <stdint.h>

struct rate_limit;

/* A bucket of capacity tokens (1..1,000,000) returning interval_ms (>= 1) after use. NULL on bad
 * arguments or out of memory. Caller frees with rate_limit_destroy(). */
struct rate_limit *rate_limit_create(int capacity, int64_t interval_ms);
/* Frees the bucket; no thread may be inside rate_limit_acquire(). Accepts NULL. */
void rate_limit_destroy(struct rate_limit *rl);

/* Takes one token, waiting while none is free or the bucket is paused. deadline_ms is an absolute
 * rate_limit_now_ms() time; < 0 waits without a deadline. Returns 0 when a token was taken, -1
 * when none will be free before the deadline (it then returns at once, without waiting in vain).
 * A NULL bucket always succeeds. */
int rate_limit_acquire(struct rate_limit *rl, int64_t deadline_ms);

/* Takes a token only when one is free now. 0 taken, -1 not. */
int rate_limit_try_acquire(struct rate_limit *rl);

/* No token is handed out before until_ms (absolute, rate_limit_now_ms clock); an earlier pause
 * never shortens a later one. */
void rate_limit_pause(struct rate_limit *rl, int64_t until_ms);

/* Tokens that could be taken right now (for tests and metrics). */
int rate_limit_available(struct rate_limit *rl);

/* The bucket's capacity and token interval in ms (capacity and interval 0 for NULL). Fixed at
 * creation, so read without the lock. */
int rate_limit_capacity(const struct rate_limit *rl);
int64_t rate_limit_interval_ms(const struct rate_limit *rl);

/* CLOCK_MONOTONIC in milliseconds: the clock of deadlines and pauses. */
int64_t rate_limit_now_ms(void);

#endif
