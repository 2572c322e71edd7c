/* pool.h: a bounded, thread-safe pool of libpq connections.
 *
 * At most `size` connections, opened lazily. db_pool_acquire() waits (bounded)
 * for a free slot, then hands out a connection that is known to be usable:
 * a connection that libpq reports as broken, or that the caller released
 * with `broken`, is closed and replaced by a fresh one. Every connection runs
 * with statement_timeout set. Queries go through PQexecParams only (see
 * db_exec), never through string-built SQL.
 *
 * Locking: pool->lock (a mutex + condition variable) guards the slot table;
 * connecting happens outside the lock so one slow connect does not stall
 * other threads. A PGconn is used by one thread at a time: its borrower. */
#ifndef SYNKRO_DB_POOL_H
#define SYNKRO_DB_POOL_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>

struct db_pool;

struct db_pool_options {
    const char *conninfo;     /* URL or key=value conninfo */
    int size;                 /* max connections */
    int statement_timeout_ms; /* set on every connection */
    int connect_timeout_s;
    const char *application_name;
};

/* Creates the pool; connects nothing yet. NULL on bad options or OOM.
 * Caller destroys with db_pool_destroy(). */
struct db_pool *db_pool_create(const struct db_pool_options *opts);

/* Borrows a usable connection, waiting at most wait_ms for a free slot.
 * NULL on timeout or when the database cannot be reached; err says which
 * (never contains the password). */
PGconn *db_pool_acquire(struct db_pool *pool, int wait_ms, char *err, size_t errlen);

/* Borrows an idle connection that is already open, without waiting and without connecting:
 * NULL when every open connection is borrowed or none is open (then use db_pool_acquire). For a
 * caller that must not block on the pool (the ingest writer's commit on a request's thread). */
PGconn *db_pool_try_acquire_open(struct db_pool *pool);

/* Returns a connection. Pass broken=true after an error that may have left
 * the connection unusable; it is also closed when libpq says it is bad or a
 * transaction was left open. */
void db_pool_release(struct db_pool *pool, PGconn *conn, bool broken);

/* Closes every connection and frees the pool, waiting at most wait_ms for
 * borrowed connections to come back. Returns -1 (and leaves the pool
 * allocated, so late releases stay safe) when some never did. */
int db_pool_destroy(struct db_pool *pool, int wait_ms);

/* Number of connections currently open (idle + borrowed). */
int db_pool_open_count(struct db_pool *pool);

/* Runs one parameterised statement on conn. Returns the PGresult (caller
 * PQclear()s) when its status is COMMAND_OK or TUPLES_OK; else NULL with the
 * server's message in err. */
PGresult *db_exec(PGconn *conn, const char *sql, int nparams, const char *const *params, char *err,
                  size_t errlen);

/* Runs copy_sql (a "COPY ... FROM STDIN" in text format) on conn and sends data (len bytes of
 * rows, already escaped for COPY's text format) as its input. Cheaper for many rows than one
 * statement with a JSON or array parameter: the server parses no envelope. 0, or -1 with the
 * server's message in err (the COPY is then rolled back with its transaction or savepoint). */
int db_copy_in(PGconn *conn, const char *copy_sql, const char *data, size_t len, char *err,
               size_t errlen);

/* Runs one statement without parameters or rows wanted (BEGIN, COMMIT, DDL) through db_exec.
 * 0, or -1 with the server's message in err. */
int db_exec_command(PGconn *conn, const char *sql, char *err, size_t errlen);

/* ---- transactions ----
 * BEGIN, COMMIT and ROLLBACK on conn, for callers that group statements of their own modules in
 * one transaction (a sync batch's links, conflicts and settled events). The statements live here
 * so that no layer above db/ sends SQL text. */

/* Opens a transaction (BEGIN). 0, or -1 with the server's message in err. */
int db_begin(PGconn *conn, char *err, size_t errlen);

/* Commits the open transaction (COMMIT). 0, or -1 with the server's message in err. Note that
 * PostgreSQL answers COMMIT of a transaction a statement had already failed with a rollback, not
 * an error: call it only when every statement of the transaction succeeded. */
int db_commit(PGconn *conn, char *err, size_t errlen);

/* Rolls the open transaction back (ROLLBACK), best effort: used after another error, which is
 * the one to report, so its own outcome is not returned (a connection that cannot roll back is
 * broken, and the next statement on it says so). Nothing is sent when no transaction is open. */
void db_rollback(PGconn *conn);

/* Sets statement_timeout for the rest of conn's session (ms > 0; 0 turns it off). 0, or -1 with
 * the server's message in err. */
int db_set_statement_timeout(PGconn *conn, int ms, char *err, size_t errlen);

/* Turns JIT compilation off for the rest of conn's session (a no-op before PostgreSQL 11, which has
 * none): synkro's statements are short, and the planner's cost estimate, not the work, decides when
 * PostgreSQL compiles with LLVM; the health rollup's estimate (a CTE over a small table never
 * analysed) passed jit_above_cost, and each run spent about a second compiling an index-only
 * lookup. Every connection synkro opens calls it. 0, or -1 with the server's message in err. */
int db_disable_jit(PGconn *conn, char *err, size_t errlen);

/* Routes conn's notices to synkro's JSON log ("database notice": severity, code (the SQLSTATE, so
 * repeats of one are collapsed like other repeated warnings), message;
 * warn for WARNING and worse, info below) instead of libpq's default, which prints them raw on
 * stderr. libpq also hands over as a notice an error the server sends while the connection is
 * idle, such as "FATAL: terminating connection due to administrator command" when PostgreSQL
 * stops: without this, an outage put raw lines in a log of JSON lines. Every connection synkro
 * opens calls it. */
void db_log_notices(PGconn *conn);

/* Checks that conn answers a trivial statement. 0, or -1 with the server's message in err (then
 * db_conn_lost() tells a dead connection from a refusing server). */
int db_ping(PGconn *conn, char *err, size_t errlen);

/* True when the last failure on conn was a lost connection (so the caller
 * should release it as broken and may retry once on a fresh one). */
bool db_conn_lost(PGconn *conn);

/* Acquires, runs one statement, and retries once on a fresh connection when
 * the first one turned out to be dead (after a database restart). */
PGresult *db_pool_exec(struct db_pool *pool, int wait_ms, const char *sql, int nparams,
                       const char *const *params, char *err, size_t errlen);

/* Work on one borrowed connection: 0, or -1 with err. It must leave no transaction open. */
typedef int (*db_conn_fn)(PGconn *conn, void *ud, char *err, size_t errlen);

/* Acquires a connection (waiting at most wait_ms), runs fn(conn, ud) on it, and runs it once more
 * on a fresh connection when it failed because the first one was dead (after a database
 * restart), as db_pool_exec does for one statement. fn's result, or -1 with err when no
 * connection could be had. */
int db_pool_run(struct db_pool *pool, int wait_ms, db_conn_fn fn, void *ud, char *err,
                size_t errlen);

#endif
