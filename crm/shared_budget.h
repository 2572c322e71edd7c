/* shared_budget.h: one CRM account's API limits shared by every synkro instance on the database
 * (issue 17): the client side of db/budget_store.h.
 *
 * A budget is one account ('hubspot:<portal>', 'salesforce:<org>') with a few limits, each a
 * rolling-window token bucket row in PostgreSQL. A caller takes one token per CRM request; the
 * tokens come from a small chunk leased in one database round trip (so a single instance pays one
 * round trip per chunk, not per call), which may be spent for hold_ms and counts against the
 * window until hold_ms + interval after the lease (so a token spent late in its lease still fits
 * the CRM's own rolling window). Unspent tokens are given back with the next lease. A pause (after
 * a 429 or REQUEST_LIMIT_EXCEEDED seen by any instance) is stored in the row and learnt by every
 * instance at its next lease, or within a second by shared_budget_wait_unpaused().
 *
 * Locking: one mutex and condition per limit. One thread per limit fetches a lease at a time
 * (the others wait on the condition); no lock is held during the database statement, and no
 * database connection is held while a caller waits for tokens (each statement borrows one from
 * the budget's pool and gives it back at once).
 * Must not: log (metrics count everything), or call a CRM. */
#ifndef SYNKRO_CRM_SHARED_BUDGET_H
#define SYNKRO_CRM_SHARED_BUDGET_H

#include <stddef.h>
#include <stdint.h>

struct db_pool;
struct shared_budget;

#define SHARED_BUDGET_MAX_LIMITS 4

/* One limit of the account (strings borrowed until shared_budget_add_limit returns). */
struct shared_limit_options {
    const char *name;    /* "burst", "search", "daily" */
    int capacity;        /* tokens per interval_ms */
    int64_t interval_ms; /* the CRM's window plus a safety margin */
    int chunk;           /* tokens per lease (>= 1) */
    int hold_ms;         /* how long a lease's tokens may be spent */
};

/* A budget for account on pool (borrowed; statements wait at most 2 s for a connection). crm is
 * the metrics' crm label ("hubspot", "salesforce"). NULL on bad arguments or out of memory.
 * Caller frees with shared_budget_destroy() once no thread is inside it. */
struct shared_budget *shared_budget_create(struct db_pool *pool, const char *crm,
                                           const char *account);
void shared_budget_destroy(struct shared_budget *sb);

/* Adds a limit: its index (0..SHARED_BUDGET_MAX_LIMITS-1), or -1 on bad options or when full.
 * Call before the budget is used by other threads. */
int shared_budget_add_limit(struct shared_budget *sb, const struct shared_limit_options *o);

/* Takes one token of limit, waiting (without a lock or a connection) while none is free or the
 * limit is paused. deadline_ms is an absolute clock_mono_ms() time (< 0: no deadline).
 *  0: taken;
 * -1: none before the deadline: *retry_after_ms (may be NULL) says how long until one may be;
 * -2: the database did not answer (then for one second every call answers -2 at once): the
 *     caller falls back to its own per-process budget. */
int shared_budget_acquire(struct shared_budget *sb, int limit, int64_t deadline_ms,
                          int64_t *retry_after_ms);

/* Waits while limit is paused (the pause is re-read from the database at most once a second;
 * no tokens are taken). Same answers as shared_budget_acquire. */
int shared_budget_wait_unpaused(struct shared_budget *sb, int limit, int64_t deadline_ms,
                                int64_t *retry_after_ms);

/* Pauses limit for pause_ms (> 0) for every instance: stored in the row (reason: what the CRM
 * said, e.g. its policy name) and at once in this process. Counts a pause. */
void shared_budget_pause(struct shared_budget *sb, int limit, int64_t pause_ms, const char *reason);

/* The account ("hubspot:42"), and a limit's name (NULL when out of range). */
const char *shared_budget_account(const struct shared_budget *sb);
const char *shared_budget_limit_name(const struct shared_budget *sb, int limit);

/* The pool the budget's statements use (for the budget view). */
struct db_pool *shared_budget_pool(const struct shared_budget *sb);

#endif
