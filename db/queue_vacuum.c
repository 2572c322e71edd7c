/* queue_vacuum.c: the SQL of the queue's vacuum (design in queue_vacuum.h).
 *
 * Why SKIP_LOCKED and no lock of our own: VACUUM takes the table's SHARE UPDATE EXCLUSIVE lock,
 * which two vacuums cannot hold at once; with SKIP_LOCKED the second (another instance's
 * janitor, or autovacuum's worker already there) returns at once with a warning instead of
 * waiting, so instances never queue up behind each other. VACUUM cannot run in a transaction,
 * so the statement timeout is raised for the session and set back after it.
 * Must not: log, or leave the session's statement_timeout changed. */
#include "db/queue_vacuum.h"

#include "base/clock.h"
#include "db/pool.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Dead rows as PostgreSQL's statistics count them, and whether this user may vacuum the table
 * (its owner, or a member of the owning role). */
static const char stats_sql[] =
    "SELECT COALESCE(s.n_dead_tup, 0), pg_has_role(c.relowner, 'USAGE')"
    " FROM pg_class c LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid"
    " WHERE c.oid = 'change_events'::regclass";

/* The warning PostgreSQL gives when SKIP_LOCKED skipped the table. */
struct notice_seen {
    bool skipped;
};

static void on_notice(void *arg, const PGresult *res)
{
    struct notice_seen *seen = arg;
    const char *msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
    if (msg && strstr(msg, "skipping vacuum"))
        seen->skipped = true;
}

static int read_stats(PGconn *conn, long *dead, bool *owner, char *err, size_t errlen)
{
    PGresult *r = db_exec(conn, stats_sql, 0, NULL, err, errlen);
    if (!r)
        return -1;
    if (PQntuples(r) != 1) {
        snprintf(err, errlen, "change_events not found (migrations not applied?)");
        PQclear(r);
        return -1;
    }
    *dead = strtol(PQgetvalue(r, 0, 0), NULL, 10);
    *owner = strcmp(PQgetvalue(r, 0, 1), "t") == 0;
    PQclear(r);
    return 0;
}

/* VACUUM under a raised statement_timeout; *skipped when another session held the table. */
static int vacuum(PGconn *conn, int vacuum_timeout_ms, int restore_timeout_ms, bool *skipped,
                  char *err, size_t errlen)
{
    if (db_set_statement_timeout(conn, vacuum_timeout_ms, err, errlen) < 0)
        return -1;
    struct notice_seen seen = {false};
    PQnoticeReceiver prev_fn = PQsetNoticeReceiver(conn, on_notice, &seen);
    int rc = db_exec_command(conn, "VACUUM (SKIP_LOCKED) change_events", err, errlen);
    PQsetNoticeReceiver(conn, prev_fn, NULL); /* libpq's default receiver ignores its argument */
    char rerr[256];
    if (db_set_statement_timeout(conn, restore_timeout_ms, rerr, sizeof rerr) < 0 && rc == 0) {
        snprintf(err, errlen, "%s", rerr);
        rc = -1;
    }
    *skipped = seen.skipped;
    return rc;
}

int queue_vacuum_if_due(PGconn *conn, long min_dead_rows, int vacuum_timeout_ms,
                        int restore_timeout_ms, struct queue_vacuum_result *out, char *err,
                        size_t errlen)
{
    *out = (struct queue_vacuum_result){QUEUE_VACUUM_NOT_DUE, 0, 0};
    bool owner = false;
    if (read_stats(conn, &out->dead_rows, &owner, err, errlen) < 0)
        return -1;
    if (min_dead_rows <= 0 || out->dead_rows < min_dead_rows)
        return 0;
    if (!owner) {
        out->outcome = QUEUE_VACUUM_NOT_OWNER;
        return 0;
    }
    bool skipped = false;
    int64_t t0 = clock_mono_ns();
    if (vacuum(conn, vacuum_timeout_ms, restore_timeout_ms, &skipped, err, errlen) < 0)
        return -1;
    out->seconds = (double)(clock_mono_ns() - t0) / 1e9;
    out->outcome = skipped ? QUEUE_VACUUM_BUSY : QUEUE_VACUUM_DONE;
    return 0;
}
