/* session_store.c: the SQL of console_sessions and console_signin_codes (design in
 * session_store.h). Every statement is parameterised; times are the database's now().
 * Must not: log, or see a cookie value or a code (only digests). */
#include "db/session_store.h"

#include "base/strbuf.h"
#include "db/pool.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SESSION_WAIT_MS 2000

#define ISO_UTC(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"

static void row_from(PGresult *r, struct session_row *out)
{
    memset(out, 0, sizeof *out);
    snprintf(out->user, sizeof out->user, "%s", PQgetvalue(r, 0, 0));
    snprintf(out->token_fp, sizeof out->token_fp, "%s", PQgetvalue(r, 0, 1));
    snprintf(out->expires_at, sizeof out->expires_at, "%s", PQgetvalue(r, 0, 2));
}

/* Runs sql; with rows wanted, fills *out from the first row. 1 row, 0 none, -1 err. */
static int exec_row(struct db_pool *pool, const char *sql, int nparams, const char *const *params,
                    struct session_row *out, char *err, size_t errlen)
{
    PGresult *r = db_pool_exec(pool, SESSION_WAIT_MS, sql, nparams, params, err, errlen);
    if (!r)
        return -1;
    int found = PQntuples(r) > 0 && PQnfields(r) >= 3;
    if (found && out)
        row_from(r, out);
    PQclear(r);
    return found;
}

/* Runs sql and returns its affected-row count, or -1. */
static long exec_count(struct db_pool *pool, const char *sql, int nparams,
                       const char *const *params, char *err, size_t errlen)
{
    PGresult *r = db_pool_exec(pool, SESSION_WAIT_MS, sql, nparams, params, err, errlen);
    if (!r)
        return -1;
    long n = strtol(PQcmdTuples(r), NULL, 10);
    PQclear(r);
    return n;
}

int session_store_create(struct db_pool *pool, const char *id_hash, const char *user,
                         const char *token_fp, int ttl_s, struct session_row *out, char *err,
                         size_t errlen)
{
    char ttl[16];
    snprintf(ttl, sizeof ttl, "%d", ttl_s);
    const char *params[] = {id_hash, user, token_fp, ttl};
    int rc = exec_row(pool,
                      "INSERT INTO console_sessions (id_hash, user_name, token_fp, expires_at) "
                      "VALUES ($1, $2, $3, now() + make_interval(secs => $4::int)) "
                      "RETURNING user_name, token_fp, " ISO_UTC("expires_at"),
                      4, params, out, err, errlen);
    if (rc == 0) {
        snprintf(err, errlen, "the session was not stored");
        return -1;
    }
    return rc < 0 ? -1 : 0;
}

int session_store_touch(struct db_pool *pool, const char *id_hash, int idle_s,
                        struct session_row *out, char *err, size_t errlen)
{
    char idle[16];
    snprintf(idle, sizeof idle, "%d", idle_s);
    const char *params[] = {id_hash, idle};
    return exec_row(pool,
                    "UPDATE console_sessions SET last_seen_at = now() WHERE id_hash = $1 "
                    "AND revoked_at IS NULL AND expires_at > now() "
                    "AND last_seen_at > now() - make_interval(secs => $2::int) "
                    "RETURNING user_name, token_fp, " ISO_UTC("expires_at"),
                    2, params, out, err, errlen);
}

int session_store_revoke(struct db_pool *pool, const char *id_hash, char *err, size_t errlen)
{
    const char *params[] = {id_hash};
    return exec_count(pool,
                      "UPDATE console_sessions SET revoked_at = now() WHERE id_hash = $1 "
                      "AND revoked_at IS NULL",
                      1, params, err, errlen) < 0
               ? -1
               : 0;
}

long session_store_revoke_user(struct db_pool *pool, const char *user, const char *keep_fp,
                               char *err, size_t errlen)
{
    const char *params[] = {user, keep_fp};
    return exec_count(pool,
                      "UPDATE console_sessions SET revoked_at = now() WHERE user_name = $1 "
                      "AND revoked_at IS NULL AND ($2::text IS NULL OR token_fp <> $2)",
                      2, params, err, errlen);
}

long session_store_revoke_others(struct db_pool *pool, const char *const *users, size_t n,
                                 char *err, size_t errlen)
{
    /* user names hold no newline (base/users.h), so one newline-joined text carries the list */
    struct strbuf names = STRBUF_INIT;
    for (size_t i = 0; i < n; i++)
        strbuf_printf(&names, "%s%s", i ? "\n" : "", users[i]);
    if (names.failed) {
        strbuf_free(&names);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    const char *params[] = {strbuf_str(&names)};
    long rc = exec_count(pool,
                         "UPDATE console_sessions SET revoked_at = now() WHERE revoked_at IS NULL "
                         "AND NOT (user_name = ANY (string_to_array($1, E'\\n')))",
                         1, params, err, errlen);
    strbuf_free(&names);
    return rc;
}

long session_store_prune(struct db_pool *pool, int idle_s, int limit, char *err, size_t errlen)
{
    char idle[16], lim[16];
    snprintf(idle, sizeof idle, "%d", idle_s);
    snprintf(lim, sizeof lim, "%d", limit);
    const char *params[] = {idle, lim};
    long sessions = exec_count(
        pool,
        "DELETE FROM console_sessions WHERE id_hash IN (SELECT id_hash FROM console_sessions "
        "WHERE revoked_at IS NOT NULL OR expires_at <= now() "
        "OR last_seen_at <= now() - make_interval(secs => $1::int) LIMIT $2::int)",
        2, params, err, errlen);
    if (sessions < 0)
        return -1;
    long codes = exec_count(pool,
                            "DELETE FROM console_signin_codes WHERE code_hash IN (SELECT code_hash "
                            "FROM console_signin_codes WHERE used_at IS NOT NULL "
                            "OR expires_at <= now() LIMIT $1::int)",
                            1, params + 1, err, errlen);
    return codes < 0 ? -1 : sessions + codes;
}

int session_store_code_create(struct db_pool *pool, const char *code_hash, const char *user,
                              const char *token_fp, int ttl_s, char *expires_at, char *err,
                              size_t errlen)
{
    char ttl[16];
    snprintf(ttl, sizeof ttl, "%d", ttl_s);
    const char *params[] = {code_hash, user, token_fp, ttl};
    struct session_row row;
    int rc = exec_row(pool,
                      "INSERT INTO console_signin_codes (code_hash, user_name, token_fp, "
                      "expires_at) VALUES ($1, $2, $3, now() + make_interval(secs => $4::int)) "
                      "RETURNING user_name, token_fp, " ISO_UTC("expires_at"),
                      4, params, &row, err, errlen);
    if (rc == 0)
        snprintf(err, errlen, "the sign-in code was not stored");
    if (rc <= 0)
        return -1;
    snprintf(expires_at, sizeof row.expires_at, "%s", row.expires_at);
    return 0;
}

int session_store_code_take(struct db_pool *pool, const char *code_hash, struct session_row *out,
                            char *err, size_t errlen)
{
    const char *params[] = {code_hash};
    return exec_row(pool,
                    "UPDATE console_signin_codes SET used_at = now() WHERE code_hash = $1 "
                    "AND used_at IS NULL AND expires_at > now() "
                    "RETURNING user_name, token_fp, " ISO_UTC("expires_at"),
                    1, params, out, err, errlen);
}
