/* prune.c: the retention delete of db/prune.h.
 *
 * Owns nothing beyond one call. Must not: build SQL from values (both are parameters). */
#include "db/prune.h"

#include "db/pool.h"

#include <stdio.h>
#include <stdlib.h>

long db_prune_batch(PGconn *conn, const char *delete_sql, const char *what, long retention_s,
                    int batch, char *err, size_t errlen)
{
    if (retention_s < 0 || batch < 1) {
        snprintf(err, errlen, "pruning %s needs retention >= 0 and batch >= 1", what);
        return -1;
    }
    char retention[24], limit[16];
    snprintf(retention, sizeof retention, "%ld", retention_s);
    snprintf(limit, sizeof limit, "%d", batch);
    const char *params[] = {retention, limit};
    PGresult *res = db_exec(conn, delete_sql, 2, params, err, errlen);
    if (!res)
        return -1;
    long deleted = strtol(PQcmdTuples(res), NULL, 10);
    PQclear(res);
    return deleted;
}
