/* budget_store.c: the SQL of the shared CRM budget (design in budget_store.h and migration 0012).
 *
 * The take is one call of the migration's crm_budget_take function: the row lock it takes first
 * serialises the takes of one limit across instances, and each of its statements sees the leases
 * committed before that lock was had, which one plain statement (one snapshot taken before a
 * possible wait for the lock) would not. Numbers travel as decimal text.
 * Must not: log, sleep, or keep state between calls. */
#include "db/budget_store.h"

#include "db/pool.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static long long col_ll(const PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col) ? 0 : strtoll(PQgetvalue(r, row, col), NULL, 10);
}

static int bad_args(char *err, size_t errlen)
{
    snprintf(err, errlen, "bad budget arguments");
    return -1;
}

int budget_store_take(struct db_pool *pool, int wait_ms, const struct budget_take *t,
                      struct budget_grant *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (!t->account || !t->limit || t->capacity < 1 || t->interval_ms < 1 || t->want < 1 ||
        t->hold_ms < 1 || t->return_tokens < 0)
        return bad_args(err, errlen);
    char cap[16], ival[24], want[16], hold[16], lease[24], ret[16];
    snprintf(cap, sizeof cap, "%d", t->capacity);
    snprintf(ival, sizeof ival, "%lld", (long long)t->interval_ms);
    snprintf(want, sizeof want, "%d", t->want);
    snprintf(hold, sizeof hold, "%d", t->hold_ms);
    snprintf(lease, sizeof lease, "%lld", (long long)t->return_lease);
    snprintf(ret, sizeof ret, "%d", t->return_tokens);
    const char *params[] = {t->account, t->limit, cap, ival, want, hold, lease, ret};
    PGresult *r = db_pool_exec(pool, wait_ms,
                               "SELECT granted, lease_id, wait_ms, paused_ms FROM "
                               "crm_budget_take($1, $2, $3::integer, $4::bigint, $5::integer, "
                               "$6::integer, $7::bigint, $8::integer)",
                               8, params, err, errlen);
    if (!r)
        return -1;
    int rc = -1;
    if (PQntuples(r) == 1) {
        out->granted = (int)col_ll(r, 0, 0);
        out->lease_id = col_ll(r, 0, 1);
        out->wait_ms = col_ll(r, 0, 2);
        out->paused_ms = col_ll(r, 0, 3);
        rc = 0;
    } else {
        snprintf(err, errlen, "crm_budget_take answered %d rows", PQntuples(r));
    }
    PQclear(r);
    return rc;
}

int budget_store_pause(struct db_pool *pool, int wait_ms, const char *account, const char *limit,
                       int capacity, int64_t interval_ms, int64_t pause_ms, const char *reason,
                       int64_t *paused_ms, char *err, size_t errlen)
{
    if (!account || !limit || capacity < 1 || interval_ms < 1 || pause_ms < 1)
        return bad_args(err, errlen);
    char cap[16], ival[24], ms[24], why[201];
    snprintf(cap, sizeof cap, "%d", capacity);
    snprintf(ival, sizeof ival, "%lld", (long long)interval_ms);
    snprintf(ms, sizeof ms, "%lld", (long long)pause_ms);
    snprintf(why, sizeof why, "%s", reason ? reason : "");
    const char *params[] = {account, limit, cap, ival, ms, why};
    PGresult *r = db_pool_exec(
        pool, wait_ms,
        "INSERT INTO crm_budget AS b (account, limit_name, capacity, interval_ms, paused_until, "
        "pause_reason, pauses) VALUES ($1, $2, $3::integer, $4::bigint, clock_timestamp() + "
        "make_interval(secs => $5::bigint / 1000.0), nullif($6, ''), 1) "
        "ON CONFLICT (account, limit_name) DO UPDATE SET "
        "paused_until = greatest(b.paused_until, EXCLUDED.paused_until), "
        "pause_reason = CASE WHEN b.paused_until IS NULL OR EXCLUDED.paused_until >= "
        "b.paused_until THEN EXCLUDED.pause_reason ELSE b.pause_reason END, "
        "pauses = b.pauses + 1, updated_at = clock_timestamp() "
        "RETURNING ceil(extract(epoch FROM b.paused_until - clock_timestamp()) * 1000)::bigint",
        6, params, err, errlen);
    if (!r)
        return -1;
    if (paused_ms)
        *paused_ms = PQntuples(r) == 1 ? col_ll(r, 0, 0) : 0;
    PQclear(r);
    return 0;
}

int budget_store_paused(struct db_pool *pool, int wait_ms, const char *account, const char *limit,
                        int64_t *paused_ms, char *err, size_t errlen)
{
    *paused_ms = 0;
    if (!account || !limit)
        return bad_args(err, errlen);
    const char *params[] = {account, limit};
    PGresult *r = db_pool_exec(pool, wait_ms,
                               "SELECT greatest(ceil(extract(epoch FROM paused_until - "
                               "clock_timestamp()) * 1000), 0)::bigint FROM crm_budget "
                               "WHERE account = $1 AND limit_name = $2",
                               2, params, err, errlen);
    if (!r)
        return -1;
    if (PQntuples(r) == 1)
        *paused_ms = col_ll(r, 0, 0);
    PQclear(r);
    return 0;
}

static void copy_col(char *dst, size_t cap, const PGresult *r, int row, int col)
{
    snprintf(dst, cap, "%s", PQgetisnull(r, row, col) ? "" : PQgetvalue(r, row, col));
}

int budget_store_list(struct db_pool *pool, int wait_ms, const char *prefix,
                      struct budget_row *rows, size_t max, size_t *n, char *err, size_t errlen)
{
    *n = 0;
    char lim[24];
    snprintf(lim, sizeof lim, "%zu", max);
    const char *params[] = {prefix ? prefix : "", lim};
    PGresult *r = db_pool_exec(
        pool, wait_ms,
        "SELECT b.account, b.limit_name, b.capacity, b.interval_ms, "
        "(SELECT coalesce(sum(l.tokens), 0) FROM crm_budget_leases l WHERE l.account = "
        "b.account AND l.limit_name = b.limit_name AND l.holds_until + make_interval(secs => "
        "b.interval_ms / 1000.0) > clock_timestamp()), "
        "greatest(ceil(extract(epoch FROM b.paused_until - clock_timestamp()) * 1000), 0)::bigint, "
        "b.pause_reason, b.taken, b.refusals, b.pauses FROM crm_budget b "
        "WHERE left(b.account, length($1)) = $1 ORDER BY b.account, b.limit_name LIMIT $2::integer",
        2, params, err, errlen);
    if (!r)
        return -1;
    for (int i = 0; i < PQntuples(r) && (size_t)i < max; i++) {
        struct budget_row *b = &rows[i];
        copy_col(b->account, sizeof b->account, r, i, 0);
        copy_col(b->limit, sizeof b->limit, r, i, 1);
        b->capacity = (int)col_ll(r, i, 2);
        b->interval_ms = col_ll(r, i, 3);
        b->in_use = (int)col_ll(r, i, 4);
        b->paused_ms = col_ll(r, i, 5);
        copy_col(b->pause_reason, sizeof b->pause_reason, r, i, 6);
        b->taken = col_ll(r, i, 7);
        b->refusals = col_ll(r, i, 8);
        b->pauses = col_ll(r, i, 9);
        *n = (size_t)i + 1;
    }
    PQclear(r);
    return 0;
}
