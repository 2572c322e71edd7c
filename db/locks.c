/* locks.c: the sync engine's session advisory locks on a mapping (keys in locks.h).
 *
 * Owns nothing across calls. Every statement is parameterised: the class and the key travel as
 * two int4 parameters. A mapping's key is its id mod 2^27 (the room once kept for slot keys,
 * kept so that processes of older and newer versions agree on it); two mappings 2^27 ids apart
 * share a lock, which only makes them wait for each other.
 *
 * Must not: hold a lock on a pooled connection (the caller owns conn and its session), or log. */
#include "db/locks.h"

#include "db/pool.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define MAPPING_KEY_SPACE 134217728 /* 2^27 */

static const char take_shared_sql[] = "SELECT pg_try_advisory_lock_shared($1::int, $2::int)";
static const char release_shared_sql[] = "SELECT pg_advisory_unlock_shared($1::int, $2::int)";
static const char take_sql[] = "SELECT pg_try_advisory_lock($1::int, $2::int)";
static const char release_sql[] = "SELECT pg_advisory_unlock($1::int, $2::int)";

/* Runs one of the statements above on (cls, key): 1 when it answered true, 0 false, -1 error. */
static int lock_call(PGconn *conn, const char *sql, int cls, int64_t key, char *err, size_t errlen)
{
    char ct[24], kt[24];
    snprintf(ct, sizeof ct, "%d", cls);
    snprintf(kt, sizeof kt, "%" PRId64, key);
    const char *params[] = {ct, kt};
    PGresult *r = db_exec(conn, sql, 2, params, err, errlen);
    if (!r)
        return -1;
    int got = strcmp(PQgetvalue(r, 0, 0), "t") == 0;
    PQclear(r);
    return got;
}

static int64_t mapping_key(int64_t mapping_id)
{
    return mapping_id % MAPPING_KEY_SPACE;
}

int lock_mapping_try(PGconn *conn, int64_t mapping_id, bool shared, char *err, size_t errlen)
{
    return lock_call(conn, shared ? take_shared_sql : take_sql, LOCK_KEY_MAPPING,
                     mapping_key(mapping_id), err, errlen);
}

int lock_mapping_release(PGconn *conn, int64_t mapping_id, bool shared, char *err, size_t errlen)
{
    return lock_call(conn, shared ? release_shared_sql : release_sql, LOCK_KEY_MAPPING,
                     mapping_key(mapping_id), err, errlen);
}

int lock_mapping_wait(PGconn *conn, int64_t mapping_id, int wait_ms, char *err, size_t errlen)
{
    char cls[24], key[24], timeout[24];
    snprintf(cls, sizeof cls, "%d", LOCK_KEY_MAPPING);
    snprintf(key, sizeof key, "%" PRId64, mapping_key(mapping_id));
    snprintf(timeout, sizeof timeout, "%d", wait_ms);
    if (db_begin(conn, err, errlen) < 0)
        return -1;
    const char *tp[] = {timeout};
    PGresult *r = db_exec(conn, "SELECT set_config('lock_timeout', $1, true)", 1, tp, err, errlen);
    /* not db_exec: a timeout is an answer here, told by its SQLSTATE */
    const char *params[] = {cls, key};
    PGresult *l = r ? PQexecParams(conn, "SELECT pg_advisory_lock($1::int, $2::int)", 2, NULL,
                                   params, NULL, NULL, 0)
                    : NULL;
    PQclear(r);
    bool got = l && PQresultStatus(l) == PGRES_TUPLES_OK;
    const char *state = l ? PQresultErrorField(l, PG_DIAG_SQLSTATE) : NULL;
    bool timed_out = state && strcmp(state, "55P03") == 0; /* lock_not_available */
    PQclear(l);
    if (!got && !timed_out)
        snprintf(err, errlen, "waiting for the mapping's lock: %s", PQerrorMessage(conn));
    /* the session-level lock outlives the transaction; the transaction only scopes the timeout */
    if (got) {
        char ignored[256];
        db_commit(conn, ignored, sizeof ignored);
    } else {
        db_rollback(conn);
    }
    return got ? 1 : timed_out ? 0 : -1;
}
