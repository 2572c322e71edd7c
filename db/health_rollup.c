/* health_rollup.c: the janitor's step of the health rollup (see the header and migration 0014).
 *
 * Why it is correct: a period before the watermark holds exactly what change_events held for it
 * when it was last recomputed. A step is due when a period ended since the last one (every five
 * minutes once caught up; the janitor asks every few seconds); each step recomputes (delete, then
 * insert from the events) every period from 15 minutes before the watermark, so an event whose
 * transaction committed up to 15 minutes after it settled (finished_at is its transaction's start)
 * is still counted; the watermark stops two minutes short of now for the same reason. Readers take
 * periods before the watermark from here and everything after it from change_events, so they never
 * count an event twice or miss one the rollup has not reached. Two processes never step at once:
 * the state row is locked FOR UPDATE first (the second waits, then sees the moved watermark). Must
 * not: change change_events, or hold its transaction open across anything but its own five
 * statements. */
#include "db/health_rollup.h"

#include "db/pool.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* clang-format off */

/* from and to (epoch s, multiples of the period): from the watermark less 15 minutes, or with no
 * watermark the oldest finished event of the last two days; to the last period that ended two
 * minutes ago, at most an hour after from (a day of a busy installation in one statement can
 * outlast statement_timeout); whether periods remain after to; and whether a period ended since
 * the last step (else there is nothing to do). Locks the state row. One row read, no join: the
 * CTEs it had were estimated at 2,200 rows each while the one-row table had never been analyzed,
 * and their cross join (4.8 million rows, cost 520,000) had PostgreSQL JIT-compile it for about
 * 2 s on every call, every 5 s. The two min() are evaluated only without a watermark (COALESCE
 * stops at its first non-NULL argument), each the first entry of change_events_finished_at. */
static const char range_sql[] =
    "SELECT f::bigint, LEAST(f + 3600, cut)::bigint, f + 3600 < cut,"
    "  rolled_to IS NULL OR cut > date_part('epoch', rolled_to)"
    " FROM (SELECT rolled_to, cut, COALESCE(date_part('epoch', rolled_to) - 900,"
    "  floor(GREATEST(date_part('epoch', now()) - 172800, LEAST("
    "   (SELECT date_part('epoch', min(finished_at)) FROM change_events WHERE status = 'done'),"
    "   (SELECT date_part('epoch', min(finished_at)) FROM change_events WHERE status = 'failed'),"
    "   cut)) / 300) * 300) AS f"
    "  FROM (SELECT rolled_to, floor((date_part('epoch', now()) - 120) / 300) * 300 AS cut"
    "   FROM health_rollup_state FOR UPDATE) s) r";

/* JIT compiles a statement whose estimated cost passes jit_above_cost (100,000) in about 1-2 s:
 * never worth it for these short statements, and an hour's catch-up of a busy installation (or
 * a misestimate like the one above) would pass it. */
static const char no_jit_sql[] = "SET LOCAL jit = off";

static const char clear_sql[] =
    "DELETE FROM health_periods WHERE period >= to_timestamp($1::float8)"
    " AND period < to_timestamp($2::float8)";

/* Each status its own range of change_events_finished_at (status, finished_at): with
 * "status IN ('done', 'failed')", which the partial index's predicate already implies, PostgreSQL
 * kept only finished_at as the index condition and read the whole index or the whole table
 * (1.25 s with 1,000,000 events kept, for the 11,400 of the 20 minutes recomputed); this way a
 * step reads the index entries and rows of the events in its range only. */
#define FILL_EVENTS(status)                                                                        \
    " SELECT source, object_type, finished_at, received_at, status FROM change_events"             \
    " WHERE status = '" status "' AND finished_at >= to_timestamp($1::float8)"                     \
    "  AND finished_at < to_timestamp($2::float8)"

static const char fill_sql[] =
    "INSERT INTO health_periods (source, object_key, period, bin, synced, failed)"
    " SELECT source, lower(object_type),"
    "  to_timestamp(floor(date_part('epoch', finished_at) / 300) * 300), "
    HEALTH_BIN_SQL("date_part('epoch', finished_at - received_at) * 1000") ","
    "  count(*) FILTER (WHERE status = 'done'), count(*) FILTER (WHERE status = 'failed')"
    " FROM (" FILL_EVENTS("done") " UNION ALL" FILL_EVENTS("failed") ") e"
    " GROUP BY 1, 2, 3, 4";

static const char advance_sql[] =
    "WITH u AS (UPDATE health_rollup_state SET rolled_to = to_timestamp($1::float8))"
    " DELETE FROM health_periods WHERE period < now() - interval '2 days'";

/* clang-format on */

static int run(PGconn *conn, const char *sql, int n, const char *const *params, long *rows,
               char *err, size_t errlen)
{
    PGresult *r = db_exec(conn, sql, n, params, err, errlen);
    if (!r)
        return -1;
    if (rows)
        *rows = strtol(PQcmdTuples(r), NULL, 10);
    PQclear(r);
    return 0;
}

/* Reads the range into from/to (decimal text), whether more remains and whether a step is due.
 * 0, or -1 with err. */
static int read_range(PGconn *conn, char *from, char *to, size_t len, bool *more, bool *due,
                      char *err, size_t errlen)
{
    PGresult *r = db_exec(conn, range_sql, 0, NULL, err, errlen);
    if (!r)
        return -1;
    if (PQntuples(r) != 1 || PQgetisnull(r, 0, 0) || PQgetisnull(r, 0, 1)) {
        snprintf(err, errlen, "health_rollup_state has no row (migration 0014 not applied?)");
        PQclear(r);
        return -1;
    }
    snprintf(from, len, "%s", PQgetvalue(r, 0, 0));
    snprintf(to, len, "%s", PQgetvalue(r, 0, 1));
    *more = strcmp(PQgetvalue(r, 0, 2), "t") == 0;
    *due = strcmp(PQgetvalue(r, 0, 3), "t") == 0;
    PQclear(r);
    return 0;
}

int health_rollup_step(PGconn *conn, long *periods, char *err, size_t errlen)
{
    if (periods)
        *periods = 0;
    if (db_begin(conn, err, errlen) < 0)
        return -1;
    char from[32], to[32];
    bool more = false, due = false;
    int rc = run(conn, no_jit_sql, 0, NULL, NULL, err, errlen);
    if (rc == 0)
        rc = read_range(conn, from, to, sizeof from, &more, &due, err, errlen);
    if (rc == 0 && due && strtoll(from, NULL, 10) < strtoll(to, NULL, 10)) {
        const char *params[] = {from, to};
        rc = run(conn, clear_sql, 2, params, NULL, err, errlen);
        if (rc == 0)
            rc = run(conn, fill_sql, 2, params, periods, err, errlen);
        if (rc == 0)
            rc = run(conn, advance_sql, 1, params + 1, NULL, err, errlen);
    }
    if (rc == 0)
        rc = db_commit(conn, err, errlen);
    if (rc < 0) {
        db_rollback(conn);
        return -1;
    }
    return more ? 1 : 0;
}
