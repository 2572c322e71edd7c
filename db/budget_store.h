/* budget_store.h: the shared CRM API budget rows (migration 0012): one rolling-window token bucket
 * per (account, limit), leased in chunks, and the pause every instance obeys after a refusal.
 *
 * Every function is one statement through db_pool_exec (so run once more on a fresh connection
 * after a database restart) and holds its connection only for that statement: a caller waiting
 * for tokens waits without a connection. The accounts are 'hubspot:<portal>' and
 * 'salesforce:<org>'; the limits 'burst', 'search', 'daily' (crm/shared_budget.h names them).
 * Times are the database's clock; what comes back is durations from now (ms), so the caller's
 * clock never has to agree with another instance's.
 * Must not: log, wait, or decide how many tokens to ask for (crm/shared_budget.c does). */
#ifndef SYNKRO_DB_BUDGET_STORE_H
#define SYNKRO_DB_BUDGET_STORE_H

#include <stddef.h>
#include <stdint.h>

struct db_pool;

/* One take (every pointer borrowed). */
struct budget_take {
    const char *account;
    const char *limit;
    int capacity;         /* tokens per interval_ms (> 0); the row is created or updated to it */
    int64_t interval_ms;  /* > 0 */
    int want;             /* tokens asked for (>= 1) */
    int hold_ms;          /* how long the lease's tokens may be spent (>= 1) */
    int64_t return_lease; /* an earlier lease of this limit with unspent tokens, or 0 */
    int return_tokens;    /* how many of its tokens were not spent */
};

struct budget_grant {
    int granted;       /* 0..want */
    int64_t lease_id;  /* 0 when nothing was granted */
    int64_t wait_ms;   /* granted 0, not paused: how long until a token may be free */
    int64_t paused_ms; /* > 0: the limit is paused this much longer; nothing granted */
};

/* Gives back t->return_tokens of t->return_lease, then leases up to t->want tokens. 0 with out,
 * or -1 with err (bad arguments, or the database's message). */
int budget_store_take(struct db_pool *pool, int wait_ms, const struct budget_take *t,
                      struct budget_grant *out, char *err, size_t errlen);

/* Pauses (account, limit) for pause_ms from now (an earlier pause never shortens a later one),
 * creating the row with capacity/interval_ms when it is new; reason (<= 200 bytes kept) is what
 * the CRM said (its policy name or error code). *paused_ms (may be NULL) gets the pause left. 0,
 * or -1 with err. */
int budget_store_pause(struct db_pool *pool, int wait_ms, const char *account, const char *limit,
                       int capacity, int64_t interval_ms, int64_t pause_ms, const char *reason,
                       int64_t *paused_ms, char *err, size_t errlen);

/* How much longer (account, limit) is paused: *paused_ms 0 when it is not (or has no row). 0, or
 * -1 with err. */
int budget_store_paused(struct db_pool *pool, int wait_ms, const char *account, const char *limit,
                        int64_t *paused_ms, char *err, size_t errlen);

/* One limit as every instance shares it. */
struct budget_row {
    char account[201];
    char limit[33];
    int capacity;
    int64_t interval_ms;
    int in_use;        /* tokens of the current window (leased, not given back) */
    int64_t paused_ms; /* 0: not paused */
    char pause_reason[201];
    long long taken, refusals, pauses;
};

/* The rows of accounts starting with prefix ("" for all), ordered by account and limit, at most
 * max. Number of rows into *n. 0, or -1 with err. */
int budget_store_list(struct db_pool *pool, int wait_ms, const char *prefix,
                      struct budget_row *rows, size_t max, size_t *n, char *err, size_t errlen);

#endif
