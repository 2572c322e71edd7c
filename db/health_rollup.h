/* health_rollup.h: the five-minute rollup of finished events that the console's long health
 * windows read (migration 0014's health_periods; db/health_stats.c reads it).
 *
 * Owns the SQL that writes health_periods and health_rollup_state. The janitor calls
 * health_rollup_step every round; each call is one short transaction on the caller's connection.
 * Must not: change change_events, log, or read more than one hour of events per call. */
#ifndef SYNKRO_DB_HEALTH_ROLLUP_H
#define SYNKRO_DB_HEALTH_ROLLUP_H

#include <libpq-fe.h>
#include <stddef.h>

#define HEALTH_ROLLUP_PERIOD_S                                                                     \
    300 /* a period's length; health buckets that are multiples of it                              \
         * read the rollup */

/* The latency bin of a latency in milliseconds (a float8 SQL expression): 0 under 1 ms, else
 * k >= 1 for [2^((k-1)/8), 2^(k/8)) ms. Shared by the rollup and the reads of its tail. */
#define HEALTH_BIN_SQL(ms)                                                                         \
    "(CASE WHEN (" ms ") < 1 THEN 0 ELSE floor(ln(" ms ") / ln(2::float8) * 8)::int + 1 END)"

/* Bounds of bin b (SQL expression of a smallint/int column) in milliseconds, float8. */
#define HEALTH_BIN_LO_SQL(b)                                                                       \
    "(CASE WHEN " b " = 0 THEN 0 ELSE power(2::float8, (" b " - 1) / 8.0::float8) END)"
#define HEALTH_BIN_HI_SQL(b) "power(2::float8, " b " / 8.0::float8)"

/* When a period ended since the last step (or there is no watermark): recomputes the periods
 * from 15 minutes before the rollup's watermark (or, with none, from the
 * oldest finished event of the last two days) up to the last period that ended two minutes ago,
 * at most one hour of them, moves the watermark there and deletes periods older than two days; in
 * one transaction, serialised between processes by the state row's lock. Sets *periods (may be
 * NULL) to the number of rows written. 0 when the rollup is caught up, 1 when more periods remain
 * (call again), or -1 with err (rolled back). */
int health_rollup_step(PGconn *conn, long *periods, char *err, size_t errlen);

#endif
