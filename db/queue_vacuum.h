/* queue_vacuum.h: vacuuming the change_events queue when its dead rows pile up.
 *
 * Every event's row is updated at least twice (pending -> processing -> done), and because
 * status is indexed none of those updates is HOT: each leaves a dead row version and a dead entry
 * in every index of change_events. The claims read the open part of those indexes with bitmap
 * scans, which visit dead entries until a vacuum removes them; autovacuum visits a database
 * once a minute (autovacuum_naptime) and then only past its scale factors, so in a burst the
 * claims and settles read ever more dead entries (bench-scale: a claim's pick 13 ms instead of
 * 3.4 ms, PostgreSQL's CPU per synced record 1.24 ms instead of 0.80 with a prompt vacuum).
 * The janitor asks queue_vacuum_if_due every few seconds.
 *
 * Must not: log, or vacuum any table but change_events. */
#ifndef SYNKRO_DB_QUEUE_VACUUM_H
#define SYNKRO_DB_QUEUE_VACUUM_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>

enum queue_vacuum_outcome {
    QUEUE_VACUUM_NOT_DUE,   /* fewer dead rows than the threshold */
    QUEUE_VACUUM_DONE,      /* vacuumed */
    QUEUE_VACUUM_BUSY,      /* another session (another instance, autovacuum) is vacuuming it */
    QUEUE_VACUUM_NOT_OWNER, /* synkro's database user does not own change_events */
};

struct queue_vacuum_result {
    enum queue_vacuum_outcome outcome;
    long dead_rows; /* PostgreSQL's count before the vacuum (pg_stat_user_tables.n_dead_tup) */
    double seconds; /* the VACUUM's duration, 0 when none ran */
};

/* Reads change_events' dead-row count and, when it is at least min_dead_rows, runs
 * VACUUM (SKIP_LOCKED) on it with statement_timeout raised to vacuum_timeout_ms, then sets the
 * session's statement_timeout back to restore_timeout_ms. conn must not be in a transaction.
 * 0 with *out filled, or -1 with err (the server's message). */
int queue_vacuum_if_due(PGconn *conn, long min_dead_rows, int vacuum_timeout_ms,
                        int restore_timeout_ms, struct queue_vacuum_result *out, char *err,
                        size_t errlen);

#endif
