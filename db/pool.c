/* pool.c: the libpq connection pool, db_exec, and the transaction and session helpers
 * (BEGIN/COMMIT/ROLLBACK, statement_timeout, a ping) that layers above db/ use instead of SQL.
 *
 * Owns every PGconn it opened. Slots are either idle (conn may be NULL,
 * meaning "connect on next use") or borrowed. A borrower returns the slot
 * with db_pool_release(); the slot is found again by pointer. Must not run
 * statements on a connection unasked, except the statement_timeout setup of a new one.
 *
 * Reachability: each pool remembers whether its last connection attempt succeeded (an atomic
 * state), and logs only its changes: "database unreachable" (warn, with the first error) when an
 * attempt fails after one succeeded (or first), "database reachable again" (info, with how long
 * and how many attempts failed) when one succeeds after failures. Every failed attempt counts in
 * synkro_db_connect_failures_total; synkro_db_up (handlers/health.c) is the readiness gauge. So a
 * database outage under load writes two lines per pool, not one per request. */
#include "db/pool.h"
#include "base/clock.h"

#include "base/config.h"
#include "base/log.h"
#include "base/metrics.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct db_slot {
    PGconn *conn;
    bool borrowed;
};

struct db_pool {
    pthread_mutex_t lock;
    pthread_cond_t freed;
    char *conninfo;
    char *application_name;
    int statement_timeout_ms;
    int connect_timeout_s;
    int size;
    struct db_slot *slots;
    bool destroyed;
    atomic_int reach;             /* REACH_* of the last connection attempt */
    atomic_llong down_since_ms;   /* when it became unreachable */
    atomic_llong failed_connects; /* failed attempts since then */
};

enum { REACH_UNKNOWN = 0, REACH_UP, REACH_DOWN };

static struct metrics_once pool_metrics_once;
static struct metric_family *m_connect_failures;

static void pool_metrics_init(void)
{
    m_connect_failures = metrics_register(
        METRIC_COUNTER, "synkro_db_connect_failures_total",
        "Connection attempts of the PostgreSQL pool that failed (the database down or refusing).",
        NULL, 0, NULL, 0);
}

/* Records the outcome of a connection attempt; logs a change of reachability. */
static void note_reach(struct db_pool *pool, bool up, const char *err)
{
    metrics_once_run(&pool_metrics_once, pool_metrics_init);
    if (!up) {
        metrics_add(m_connect_failures, NULL, 1);
        atomic_fetch_add(&pool->failed_connects, 1);
        if (atomic_exchange(&pool->reach, REACH_DOWN) != REACH_DOWN) {
            atomic_store(&pool->down_since_ms, (long long)clock_mono_ms());
            log_with(LOG_LEVEL_WARN, "database unreachable", LF_S("pool", pool->application_name),
                     LF_S("error", err));
        }
        return;
    }
    if (atomic_exchange(&pool->reach, REACH_UP) == REACH_DOWN)
        log_with(LOG_LEVEL_INFO, "database reachable again", LF_S("pool", pool->application_name),
                 LF_I("down_ms", (long long)clock_mono_ms() - atomic_load(&pool->down_since_ms)),
                 LF_I("failed_connects", atomic_exchange(&pool->failed_connects, 0)));
}

struct db_pool *db_pool_create(const struct db_pool_options *opts)
{
    if (!opts || !opts->conninfo || opts->size < 1)
        return NULL;
    struct db_pool *pool = calloc(1, sizeof *pool);
    if (!pool)
        return NULL;
    pool->conninfo = strdup(opts->conninfo);
    pool->application_name = strdup(opts->application_name ? opts->application_name : "synkro");
    pool->slots = calloc((size_t)opts->size, sizeof *pool->slots);
    if (!pool->conninfo || !pool->application_name || !pool->slots) {
        free(pool->conninfo);
        free(pool->application_name);
        free(pool->slots);
        free(pool);
        return NULL;
    }
    pool->size = opts->size;
    pool->statement_timeout_ms = opts->statement_timeout_ms;
    pool->connect_timeout_s = opts->connect_timeout_s > 0 ? opts->connect_timeout_s : 5;
    pthread_mutex_init(&pool->lock, NULL);
    pthread_cond_init(&pool->freed, NULL);
    return pool;
}

/* libpq's error text can be multi-line; keep the first line only. */
static void first_line(char *err, size_t errlen, const char *prefix, const char *msg)
{
    snprintf(err, errlen, "%s%s", prefix, msg ? msg : "");
    char *nl = strchr(err, '\n');
    if (nl)
        *nl = '\0';
}

static PGconn *pool_connect(struct db_pool *pool, char *err, size_t errlen)
{
    char timeout[16];
    snprintf(timeout, sizeof timeout, "%d", pool->connect_timeout_s);
    const char *keys[] = {"dbname", "connect_timeout", "fallback_application_name", NULL};
    const char *vals[] = {pool->conninfo, timeout, pool->application_name, NULL};
    PGconn *conn = PQconnectdbParams(keys, vals, 1);
    if (!conn) {
        snprintf(err, errlen, "database connection failed: out of memory");
        return NULL;
    }
    db_log_notices(conn);
    if (PQstatus(conn) != CONNECTION_OK) {
        /* libpq may quote a malformed URL back, password included */
        char masked[1024];
        config_mask_database_url(PQerrorMessage(conn), masked, sizeof masked);
        first_line(err, errlen, "database connection failed: ", masked);
        PQfinish(conn);
        note_reach(pool, false, err);
        return NULL;
    }
    if (db_set_statement_timeout(conn, pool->statement_timeout_ms, err, errlen) < 0 ||
        db_disable_jit(conn, err, errlen) < 0) {
        PQfinish(conn);
        note_reach(pool, false, err);
        return NULL;
    }
    note_reach(pool, true, NULL);
    return conn;
}

/* A free slot that keeps an open connection, or NULL (under pool->lock). */
static struct db_slot *free_open_slot(struct db_pool *pool)
{
    for (int i = 0; i < pool->size; i++)
        if (!pool->slots[i].borrowed && pool->slots[i].conn)
            return &pool->slots[i];
    return NULL;
}

PGconn *db_pool_acquire(struct db_pool *pool, int wait_ms, char *err, size_t errlen)
{
    struct timespec deadline = clock_deadline_after_ms(wait_ms);
    pthread_mutex_lock(&pool->lock);
    struct db_slot *slot = NULL;
    for (;;) {
        slot = free_open_slot(pool); /* prefer a slot with an open connection */
        for (int i = 0; i < pool->size && !slot; i++)
            if (!pool->slots[i].borrowed)
                slot = &pool->slots[i];
        if (slot)
            break;
        int rc = pthread_cond_timedwait(&pool->freed, &pool->lock, &deadline);
        if (rc == ETIMEDOUT) {
            pthread_mutex_unlock(&pool->lock);
            snprintf(err, errlen, "no database connection free within %d ms (pool of %d)", wait_ms,
                     pool->size);
            return NULL;
        }
    }
    slot->borrowed = true;
    PGconn *conn = slot->conn;
    slot->conn = NULL;
    pthread_mutex_unlock(&pool->lock);

    if (conn && PQstatus(conn) != CONNECTION_OK) {
        PQfinish(conn);
        conn = NULL;
    }
    if (!conn)
        conn = pool_connect(pool, err, errlen);

    pthread_mutex_lock(&pool->lock);
    if (conn)
        slot->conn = conn;
    else
        slot->borrowed = false;
    if (!conn)
        pthread_cond_signal(&pool->freed);
    pthread_mutex_unlock(&pool->lock);
    return conn;
}

PGconn *db_pool_try_acquire_open(struct db_pool *pool)
{
    PGconn *conn = NULL;
    pthread_mutex_lock(&pool->lock);
    struct db_slot *slot = free_open_slot(pool);
    if (slot && PQstatus(slot->conn) == CONNECTION_OK) {
        slot->borrowed = true; /* the slot keeps conn: db_pool_release finds it there */
        conn = slot->conn;
    }
    pthread_mutex_unlock(&pool->lock);
    return conn;
}

void db_pool_release(struct db_pool *pool, PGconn *conn, bool broken)
{
    if (!conn)
        return;
    if (!broken && (PQstatus(conn) != CONNECTION_OK || PQtransactionStatus(conn) != PQTRANS_IDLE))
        broken = true;
    bool pool_destroyed = false;
    pthread_mutex_lock(&pool->lock);
    struct db_slot *slot = NULL;
    for (int i = 0; i < pool->size && !slot; i++)
        if (pool->slots[i].borrowed && pool->slots[i].conn == conn)
            slot = &pool->slots[i];
    if (slot) {
        slot->borrowed = false;
        if (broken || pool->destroyed)
            slot->conn = NULL;
        pool_destroyed = pool->destroyed;
        pthread_cond_broadcast(&pool->freed);
    }
    pthread_mutex_unlock(&pool->lock);
    if (!slot || broken || pool_destroyed)
        PQfinish(conn);
}

int db_pool_open_count(struct db_pool *pool)
{
    pthread_mutex_lock(&pool->lock);
    int n = 0;
    for (int i = 0; i < pool->size; i++)
        if (pool->slots[i].conn)
            n++;
    pthread_mutex_unlock(&pool->lock);
    return n;
}

int db_pool_destroy(struct db_pool *pool, int wait_ms)
{
    if (!pool)
        return 0;
    struct timespec deadline = clock_deadline_after_ms(wait_ms);
    pthread_mutex_lock(&pool->lock);
    pool->destroyed = true;
    for (;;) {
        int borrowed = 0;
        for (int i = 0; i < pool->size; i++) {
            if (pool->slots[i].borrowed)
                borrowed++;
            else if (pool->slots[i].conn) {
                PQfinish(pool->slots[i].conn);
                pool->slots[i].conn = NULL;
            }
        }
        if (!borrowed)
            break;
        if (pthread_cond_timedwait(&pool->freed, &pool->lock, &deadline) == ETIMEDOUT) {
            /* Someone still holds a connection: freeing now would let them
             * touch freed memory on release, so leave the pool allocated. */
            pthread_mutex_unlock(&pool->lock);
            return -1;
        }
    }
    pthread_mutex_unlock(&pool->lock);
    pthread_mutex_destroy(&pool->lock);
    pthread_cond_destroy(&pool->freed);
    free(pool->slots);
    free(pool->conninfo);
    free(pool->application_name);
    free(pool);
    return 0;
}

PGresult *db_exec(PGconn *conn, const char *sql, int nparams, const char *const *params, char *err,
                  size_t errlen)
{
    PGresult *res = PQexecParams(conn, sql, nparams, NULL, params, NULL, NULL, 0);
    ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
        return res;
    const char *msg = res ? PQresultErrorMessage(res) : PQerrorMessage(conn);
    if (!msg || !*msg)
        msg = PQerrorMessage(conn);
    first_line(err, errlen, "database error: ", msg);
    PQclear(res);
    return NULL;
}

/* COPY's input goes in pieces of at most this many bytes (PQputCopyData takes an int). */
#define COPY_CHUNK (1u << 20)

int db_copy_in(PGconn *conn, const char *copy_sql, const char *data, size_t len, char *err,
               size_t errlen)
{
    PGresult *res = PQexec(conn, copy_sql);
    if (!res || PQresultStatus(res) != PGRES_COPY_IN) {
        const char *msg = res ? PQresultErrorMessage(res) : PQerrorMessage(conn);
        first_line(err, errlen, "database error: ", msg && *msg ? msg : PQerrorMessage(conn));
        PQclear(res);
        return -1;
    }
    PQclear(res);
    bool sent = true;
    for (size_t off = 0; sent && off < len;) {
        size_t n = len - off < COPY_CHUNK ? len - off : COPY_CHUNK;
        sent = PQputCopyData(conn, data + off, (int)n) == 1;
        off += n;
    }
    int rc = sent ? 0 : -1;
    if (!sent)
        first_line(err, errlen, "database error: ", PQerrorMessage(conn));
    /* on a failed send, ending with an error message makes the server refuse the COPY */
    if (PQputCopyEnd(conn, sent ? NULL : "synkro could not send the rows") != 1 && rc == 0) {
        first_line(err, errlen, "database error: ", PQerrorMessage(conn));
        rc = -1;
    }
    while ((res = PQgetResult(conn))) {
        if (PQresultStatus(res) != PGRES_COMMAND_OK && rc == 0) {
            first_line(err, errlen, "database error: ", PQresultErrorMessage(res));
            rc = -1;
        }
        PQclear(res);
    }
    return rc;
}

int db_exec_command(PGconn *conn, const char *sql, char *err, size_t errlen)
{
    PGresult *res = db_exec(conn, sql, 0, NULL, err, errlen);
    if (!res)
        return -1;
    PQclear(res);
    return 0;
}

/* ---- transactions and session settings ---- */

int db_begin(PGconn *conn, char *err, size_t errlen)
{
    return db_exec_command(conn, "BEGIN", err, errlen);
}

int db_commit(PGconn *conn, char *err, size_t errlen)
{
    return db_exec_command(conn, "COMMIT", err, errlen);
}

void db_rollback(PGconn *conn)
{
    PGTransactionStatusType st = PQtransactionStatus(conn);
    if (st == PQTRANS_IDLE || st == PQTRANS_UNKNOWN)
        return; /* nothing open (a ROLLBACK would only draw "there is no transaction in progress"),
                   or a connection that cannot answer */
    char ignored[256];
    db_exec_command(conn, "ROLLBACK", ignored, sizeof ignored);
}

int db_set_statement_timeout(PGconn *conn, int ms, char *err, size_t errlen)
{
    char st[24];
    snprintf(st, sizeof st, "%d", ms);
    const char *params[] = {st};
    PGresult *res =
        db_exec(conn, "SELECT set_config('statement_timeout', $1, false)", 1, params, err, errlen);
    if (!res)
        return -1;
    PQclear(res);
    return 0;
}

int db_disable_jit(PGconn *conn, char *err, size_t errlen)
{
    if (PQserverVersion(conn) < 110000)
        return 0;
    return db_exec_command(conn, "SET jit = off", err, errlen);
}

/* libpq's notice receiver: one log line per notice, its text on one line. */
static void notice_to_log(void *arg, const PGresult *res)
{
    (void)arg;
    const char *severity = PQresultErrorField(res, PG_DIAG_SEVERITY_NONLOCALIZED);
    if (!severity)
        severity = PQresultErrorField(res, PG_DIAG_SEVERITY);
    const char *sqlstate = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    const char *primary = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
    char message[512];
    first_line(message, sizeof message, "", primary ? primary : PQresultErrorMessage(res));
    bool loud = !severity || (strcmp(severity, "NOTICE") != 0 && strcmp(severity, "INFO") != 0 &&
                              strcmp(severity, "LOG") != 0 && strncmp(severity, "DEBUG", 5) != 0);
    log_with(loud ? LOG_LEVEL_WARN : LOG_LEVEL_INFO, "database notice",
             LF_S("severity", severity ? severity : "unknown"),
             LF_S("code", sqlstate ? sqlstate : ""), LF_S("message", message));
}

void db_log_notices(PGconn *conn)
{
    if (conn)
        PQsetNoticeReceiver(conn, notice_to_log, NULL);
}

int db_ping(PGconn *conn, char *err, size_t errlen)
{
    return db_exec_command(conn, "SELECT 1", err, errlen);
}

bool db_conn_lost(PGconn *conn)
{
    return PQstatus(conn) != CONNECTION_OK;
}

int db_pool_run(struct db_pool *pool, int wait_ms, db_conn_fn fn, void *ud, char *err,
                size_t errlen)
{
    int rc = -1;
    for (int attempt = 0; attempt < 2; attempt++) {
        PGconn *conn = db_pool_acquire(pool, wait_ms, err, errlen);
        if (!conn)
            return -1;
        rc = fn(conn, ud, err, errlen);
        bool lost = rc < 0 && db_conn_lost(conn);
        db_pool_release(pool, conn, lost);
        if (rc == 0 || !lost)
            return rc;
    }
    return rc;
}

struct pool_statement {
    const char *sql;
    int nparams;
    const char *const *params;
    PGresult *res;
};

static int run_statement(PGconn *conn, void *ud, char *err, size_t errlen)
{
    struct pool_statement *st = ud;
    st->res = db_exec(conn, st->sql, st->nparams, st->params, err, errlen);
    return st->res ? 0 : -1;
}

PGresult *db_pool_exec(struct db_pool *pool, int wait_ms, const char *sql, int nparams,
                       const char *const *params, char *err, size_t errlen)
{
    struct pool_statement st = {sql, nparams, params, NULL};
    db_pool_run(pool, wait_ms, run_statement, &st, err, errlen);
    return st.res;
}
