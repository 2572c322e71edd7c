/* prune.h: the retention delete shared by the tables the janitor prunes (sync_conflicts,
 * sync_history): the oldest rows past retention, a bounded batch per statement.
 *
 * Owns nothing. Must not: take SQL from outside db/ (each caller passes its own constant). */
#ifndef SYNKRO_DB_PRUNE_H
#define SYNKRO_DB_PRUNE_H

#include <libpq-fe.h>
#include <stddef.h>

/* Runs delete_sql, a DELETE with $1 = retention in seconds and $2 = the batch size, and returns
 * how many rows it deleted, or -1 with err (also when retention_s < 0 or batch < 1; `what` names
 * the rows in that message). */
long db_prune_batch(PGconn *conn, const char *delete_sql, const char *what, long retention_s,
                    int batch, char *err, size_t errlen);

#endif
