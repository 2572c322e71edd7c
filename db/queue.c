/* queue.c: SQL for the change_events queue.
 *
 * Owns nothing beyond one call: results are copied out before PQclear. Must
 * not decide statuses or keys: callers (the webhook handlers) do. */
#include "db/queue.h"

#include "db/locks.h"
#include "db/page_json.h"
#include "db/pool.h"
#include "base/strbuf.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void put_json_str(struct strbuf *sb, const char *key, const char *value)
{
    strbuf_printf(sb, "\"%s\":", key);
    if (!value) {
        strbuf_puts(sb, "null");
        return;
    }
    strbuf_putc(sb, '"');
    strbuf_json_escape(sb, value, strlen(value));
    strbuf_putc(sb, '"');
}

static const char insert_sql[] =
    "INSERT INTO change_events (source, idempotency_key, object_type, record_id, kind,"
    " occurred_at, status, payload)"
    " SELECT x.s, x.k, x.o, x.r, x.n,"
    "  CASE WHEN x.t IS NULL THEN NULL ELSE to_timestamp(x.t / 1000.0) END,"
    /* no status given: pending for an enabled mapping's object, held for a
     * draft or paused one, unmapped without one (see mapping_store.c) */
    "  COALESCE(x.st, (SELECT CASE WHEN m.state = 'enabled' THEN 'pending' ELSE 'held' END"
    "   FROM mappings m WHERE (x.s = 'salesforce' AND lower(m.salesforce_object) = lower(x.o))"
    "   OR (x.s = 'hubspot' AND m.hubspot_object_type_id = x.o) LIMIT 1), 'unmapped'),"
    "  x.p"
    " FROM jsonb_to_recordset($1::jsonb)"
    "  AS x(s text, k text, o text, r text, n text, t bigint, st text, p jsonb)"
    " ON CONFLICT (idempotency_key) DO NOTHING"
    " RETURNING id, idempotency_key";

/* FNV-1a over a NUL-terminated key. */
static uint64_t key_hash(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ULL;
    }
    return h;
}

/* Marks events whose key came back in res as stored (first occurrence only);
 * every other event is a duplicate. Open addressing over event indexes. */
static int match_results(struct queue_event *events, size_t n, PGresult *res)
{
    size_t cap = 16;
    while (cap < n * 2)
        cap *= 2;
    size_t *slots = malloc(cap * sizeof *slots);
    if (!slots)
        return -1;
    for (size_t i = 0; i < cap; i++)
        slots[i] = SIZE_MAX;
    for (size_t i = 0; i < n; i++) {
        events[i].outcome = QUEUE_DUPLICATE;
        events[i].id = 0;
        size_t j = key_hash(events[i].idempotency_key) & (cap - 1);
        while (slots[j] != SIZE_MAX &&
               strcmp(events[slots[j]].idempotency_key, events[i].idempotency_key) != 0)
            j = (j + 1) & (cap - 1);
        if (slots[j] == SIZE_MAX)
            slots[j] = i; /* first occurrence of this key */
    }
    for (int r = 0; r < PQntuples(res); r++) {
        const char *key = PQgetvalue(res, r, 1);
        size_t j = key_hash(key) & (cap - 1);
        while (slots[j] != SIZE_MAX && strcmp(events[slots[j]].idempotency_key, key) != 0)
            j = (j + 1) & (cap - 1);
        if (slots[j] != SIZE_MAX) {
            events[slots[j]].outcome = QUEUE_STORED;
            events[slots[j]].id = strtoll(PQgetvalue(res, r, 0), NULL, 10);
        }
    }
    free(slots);
    return 0;
}

/* The insert is prepared once per connection (named statement), so its plan,
 * mapping-state subquery included, is not rebuilt for every batch. A
 * connection that does not have it yet answers "prepared statement does not
 * exist" (SQLSTATE 26000): prepare, then run again. */
#define INSERT_STMT          "synkro_queue_insert"
#define UNDEFINED_PSTATEMENT "26000"

static PGresult *exec_insert(PGconn *conn, const char *const *params, char *err, size_t errlen)
{
    for (int attempt = 0; attempt < 2; attempt++) {
        PGresult *res = PQexecPrepared(conn, INSERT_STMT, 1, params, NULL, NULL, 0);
        ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
        if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK)
            return res;
        const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
        if (attempt == 0 && state && strcmp(state, UNDEFINED_PSTATEMENT) == 0) {
            PQclear(res);
            res = PQprepare(conn, INSERT_STMT, insert_sql, 1, NULL);
            st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
            if (st == PGRES_COMMAND_OK) {
                PQclear(res);
                continue;
            }
        }
        const char *msg = res ? PQresultErrorMessage(res) : PQerrorMessage(conn);
        snprintf(err, errlen, "database error: %s", msg && *msg ? msg : PQerrorMessage(conn));
        char *nl = strchr(err, '\n');
        if (nl)
            *nl = '\0';
        PQclear(res);
        return NULL;
    }
    return NULL;
}

int queue_insert_batch(PGconn *conn, struct queue_event *events, size_t n, char *err, size_t errlen)
{
    if (n == 0)
        return 0;
    struct strbuf sb = STRBUF_INIT;
    strbuf_putc(&sb, '[');
    for (size_t i = 0; i < n; i++) {
        const struct queue_event *e = &events[i];
        strbuf_puts(&sb, i ? ",{" : "{");
        put_json_str(&sb, "s", e->source);
        strbuf_putc(&sb, ',');
        put_json_str(&sb, "k", e->idempotency_key);
        strbuf_putc(&sb, ',');
        put_json_str(&sb, "o", e->object_type);
        strbuf_putc(&sb, ',');
        put_json_str(&sb, "r", e->record_id);
        strbuf_putc(&sb, ',');
        put_json_str(&sb, "n", e->kind);
        strbuf_putc(&sb, ',');
        put_json_str(&sb, "st", e->status);
        if (e->occurred_at_ms > 0)
            strbuf_printf(&sb, ",\"t\":%" PRId64, e->occurred_at_ms);
        strbuf_puts(&sb, ",\"p\":");
        strbuf_puts(&sb, e->payload_json ? e->payload_json : "null");
        strbuf_putc(&sb, '}');
    }
    strbuf_putc(&sb, ']');
    if (sb.failed) {
        strbuf_free(&sb);
        snprintf(err, errlen, "out of memory building the event batch");
        return -1;
    }
    const char *params[] = {sb.data};
    PGresult *res = exec_insert(conn, params, err, errlen);
    strbuf_free(&sb);
    if (!res)
        return -1;
    int rc = match_results(events, n, res);
    PQclear(res);
    if (rc < 0)
        snprintf(err, errlen, "out of memory matching insert results");
    return rc;
}

static const char list_columns[] =
    "id, source, idempotency_key, object_type, record_id, kind,"
    " to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'),"
    " to_char(received_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'),"
    " status, attempts,"
    " to_char(next_attempt_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'),"
    " last_error";

static json_object *row_to_json(PGresult *res, int r)
{
    static const char *const names[] = {"id",        "source",   "idempotency_key", "object_type",
                                        "record_id", "kind",     "occurred_at",     "received_at",
                                        "status",    "attempts", "next_attempt_at", "last_error"};
    json_object *o = json_object_new_object();
    for (int c = 0; c < (int)(sizeof names / sizeof names[0]); c++) {
        json_object *v = NULL;
        if (!PQgetisnull(res, r, c)) {
            const char *text = PQgetvalue(res, r, c);
            if (c == 0 || c == 9)
                v = json_object_new_int64(strtoll(text, NULL, 10));
            else
                v = json_object_new_string(text);
        }
        json_object_object_add(o, names[c], v);
    }
    return o;
}

json_object *queue_list(PGconn *conn, const struct queue_filter *f, char *err, size_t errlen)
{
    char after[24], limit[16];
    snprintf(after, sizeof after, "%" PRId64, f->after_id);
    snprintf(limit, sizeof limit, "%d", f->limit);
    const char *params[] = {f->source, f->status, f->object_type, f->record_id, after, limit};
    struct strbuf sql = STRBUF_INIT;
    strbuf_printf(&sql,
                  "SELECT %s FROM change_events"
                  " WHERE ($1::text IS NULL OR source = $1)"
                  " AND ($2::text IS NULL OR status = $2)"
                  " AND ($3::text IS NULL OR object_type = $3)"
                  " AND ($4::text IS NULL OR record_id = $4)"
                  " AND id > $5::bigint ORDER BY id LIMIT $6::int",
                  list_columns);
    PGresult *res = sql.failed ? NULL : db_exec(conn, sql.data, 6, params, err, errlen);
    strbuf_free(&sql);
    if (!res)
        return NULL;
    json_object *out = db_page_json(res, f->limit, "events", "next_after", row_to_json);
    PQclear(res);
    return out;
}

json_object *queue_get(PGconn *conn, int64_t id, bool *found, char *err, size_t errlen)
{
    char idtext[24];
    snprintf(idtext, sizeof idtext, "%" PRId64, id);
    const char *params[] = {idtext};
    struct strbuf sql = STRBUF_INIT;
    strbuf_printf(&sql, "SELECT %s, payload::text FROM change_events WHERE id = $1::bigint",
                  list_columns);
    PGresult *res = sql.failed ? NULL : db_exec(conn, sql.data, 1, params, err, errlen);
    strbuf_free(&sql);
    *found = false;
    if (!res)
        return NULL;
    json_object *out = NULL;
    if (PQntuples(res) == 1) {
        *found = true;
        out = row_to_json(res, 0);
        json_object *payload = json_tokener_parse(PQgetvalue(res, 0, 12));
        json_object_object_add(out, "payload", payload);
    } else {
        out = json_object_new_object();
    }
    PQclear(res);
    return out;
}

/* One statement: the stored counts, the stale ones counted again when this session gets the
 * lock ($1: max age of the open statuses and failed, $2: of done, in ms). */
/* clang-format off */
static const char depth_sql[] =
    "WITH want AS (SELECT s, CASE WHEN s = 'done' THEN $2::bigint ELSE $1::bigint END AS age"
    "  FROM unnest('{pending,unmapped,held,processing,failed,done}'::text[]) s),"
    " snap AS MATERIALIZED (SELECT w.s, w.age, q.events, q.counted_at FROM want w"
    "  LEFT JOIN queue_depth_counts q ON q.status = w.s),"
    " stale AS MATERIALIZED (SELECT n.s FROM snap n WHERE n.counted_at IS NULL"
    "  OR n.counted_at <= now() - n.age * interval '1 millisecond'),"
    " go AS MATERIALIZED (SELECT pg_try_advisory_xact_lock(" LOCK_KEY_TEXT(LOCK_KEY_QUEUE_DEPTH)
    ", 0) AS got WHERE EXISTS (SELECT 1 FROM stale)),"
    " counted AS MATERIALIZED (SELECT t.s, (SELECT count(*) FROM change_events"
    "  WHERE status = t.s) AS n FROM stale t WHERE (SELECT got FROM go)),"
    " up AS (INSERT INTO queue_depth_counts (status, events, counted_at)"
    "  SELECT s, n, now() FROM counted ON CONFLICT (status) DO UPDATE"
    "  SET events = EXCLUDED.events, counted_at = EXCLUDED.counted_at)"
    " SELECT n.s, COALESCE(c.n, n.events) FROM snap n LEFT JOIN counted c ON c.s = n.s"
    " WHERE COALESCE(c.n, n.events) IS NOT NULL";
/* clang-format on */

json_object *queue_depth(PGconn *conn, int max_age_ms, char *err, size_t errlen)
{
    int open_ms = max_age_ms > 0 ? max_age_ms : 0;
    int done_ms = open_ms;
    if (open_ms > 0 && done_ms < QUEUE_DEPTH_DONE_AGE_MS)
        done_ms = QUEUE_DEPTH_DONE_AGE_MS;
    char age[24], done_age[24];
    snprintf(age, sizeof age, "%d", open_ms);
    snprintf(done_age, sizeof done_age, "%d", done_ms);
    const char *params[] = {age, done_age};
    /* Each status is counted from its own range of change_events_status by a plain or index-only
     * scan, as a claim reads (db/queue_claim.c). The planner does not know which status a count
     * asks for, so it guessed from statistics a burst makes stale within seconds: a sequential
     * scan of the whole table for each status, or a bitmap scan, which walked every dead entry of
     * the range in every count (in a burst most are dead, one per claim and settle: 28,000 entries
     * and 50-300 ms a count with three instances, bench/README); a plain scan marks the dead
     * entries it meets so that the next count skips them. */
    if (db_begin(conn, err, errlen) < 0)
        return NULL;
    PGresult *res = NULL;
    if (db_exec_command(conn,
                        "SELECT set_config('enable_bitmapscan', 'off', true),"
                        " set_config('enable_seqscan', 'off', true)",
                        err, errlen) == 0)
        res = db_exec(conn, depth_sql, 2, params, err, errlen);
    if (!res || db_commit(conn, err, errlen) < 0) {
        PQclear(res);
        db_rollback(conn);
        return NULL;
    }
    json_object *out = json_object_new_object();
    for (int r = 0; r < PQntuples(res); r++)
        json_object_object_add(out, PQgetvalue(res, r, 0),
                               json_object_new_int64(strtoll(PQgetvalue(res, r, 1), NULL, 10)));
    PQclear(res);
    return out;
}

struct depth_ask {
    int max_age_ms;
    json_object *out;
};

static int depth_on(PGconn *conn, void *ud, char *err, size_t errlen)
{
    struct depth_ask *ask = ud;
    ask->out = queue_depth(conn, ask->max_age_ms, err, errlen);
    return ask->out ? 0 : -1;
}

json_object *queue_depth_pooled(struct db_pool *pool, int max_age_ms, int wait_ms, char *err,
                                size_t errlen)
{
    struct depth_ask ask = {max_age_ms, NULL};
    db_pool_run(pool, wait_ms, depth_on, &ask, err, errlen);
    return ask.out;
}

int queue_lag_seconds(PGconn *conn, double *seconds, char *err, size_t errlen)
{
    PGresult *res =
        db_exec(conn,
                "SELECT COALESCE(extract(epoch FROM now() - (SELECT received_at"
                " FROM change_events WHERE status = 'pending' AND next_attempt_at <= now()"
                " ORDER BY next_attempt_at, id LIMIT 1)), 0)::float8",
                0, NULL, err, errlen);
    if (!res)
        return -1;
    *seconds = strtod(PQgetvalue(res, 0, 0), NULL);
    PQclear(res);
    return 0;
}

/* ---- follow-ups ---- */

static const char followup_sql[] =
    "INSERT INTO change_events (source, idempotency_key, object_type, record_id, kind,"
    " occurred_at, status, attempts, next_attempt_at, last_error, payload, finished_at,"
    " error_category)"
    " VALUES ($1, 'synkro-followup:' || $1 || ':' || $2 || ':' || $3 || ':' || gen_random_uuid(),"
    "  $2, $3, $4, now(), CASE WHEN $8::text IS NULL THEN 'pending' ELSE 'failed' END, $5::int,"
    "  now() + $6::bigint * interval '1 millisecond', $7, $9::jsonb,"
    "  CASE WHEN $8::text IS NULL THEN NULL ELSE now() END, $8)";

int queue_insert_followup(PGconn *conn, const struct queue_followup *f, char *err, size_t errlen)
{
    if (!f || !f->source || !f->object_type || !f->record_id || !f->kind) {
        snprintf(err, errlen, "a follow-up needs a source, an object type, a record and a kind");
        return -1;
    }
    char attempts[16], delay[24];
    snprintf(attempts, sizeof attempts, "%d", f->attempts < 0 ? 0 : f->attempts);
    snprintf(delay, sizeof delay, "%ld", f->delay_ms < 0 ? 0L : f->delay_ms);
    const char *params[] = {
        f->source,     f->object_type,     f->record_id,
        f->kind,       attempts,           delay,
        f->last_error, f->failed_category, f->payload_json ? f->payload_json : "{}"};
    PGresult *res = db_exec(conn, followup_sql, 9, params, err, errlen);
    if (!res)
        return -1;
    PQclear(res);
    return 0;
}
