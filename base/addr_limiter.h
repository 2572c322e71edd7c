/* addr_limiter.h: at most N attempts per client address per minute (console sign-in).
 *
 * A fixed one-minute window per address, in a table of bounded size: when it is full, an address
 * whose window has ended is replaced, else the one whose window started first (so a flood of new
 * addresses cannot grow memory; it can only shorten other addresses' memory). Behind a reverse
 * proxy every client shares the proxy's address, and so one budget.
 * Thread-safe (one mutex). The caller passes the time, so tests need no clock. */
#ifndef SYNKRO_BASE_ADDR_LIMITER_H
#define SYNKRO_BASE_ADDR_LIMITER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ADDR_LIMITER_ADDR_MAX 64

struct addr_limiter;

/* per_minute >= 1 attempts per address; capacity addresses remembered (>= 1). NULL when out of
 * memory. */
struct addr_limiter *addr_limiter_create(int per_minute, size_t capacity);
void addr_limiter_destroy(struct addr_limiter *l);

/* Counts one attempt of addr at now_ms (a monotonic clock). True when it is allowed; false when
 * the address has used its budget, with *retry_after_s (>= 1) until its window ends. */
bool addr_limiter_take(struct addr_limiter *l, const char *addr, int64_t now_ms,
                       int *retry_after_s);

#endif
