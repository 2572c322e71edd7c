/* import_store.c: SQL of sweeps and imports (sync_cursors, sync_imports, change_events.import_id).
 *
 * Owns nothing beyond one call: values are copied out before PQclear. The advisory-lock classes
 * it uses (sweep, import, import creation) are listed with every other key in db/locks.h. Must not
 * decide sweep windows or import pages. */
#include "db/import_store.h"

#include "db/locks.h"
#include "db/pool.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* pg_try_advisory_lock(class, key): one class per lock use (db/locks.h lists every key). */
static const char *const lock_classes[] = {
    [IMPORT_LOCK_SWEEP] = LOCK_KEY_TEXT(LOCK_KEY_SWEEP),   /* sweeps of one mapping */
    [IMPORT_LOCK_IMPORT] = LOCK_KEY_TEXT(LOCK_KEY_IMPORT), /* steps of one import */
};
/* starting an import of one mapping */
#define IMPORT_CREATE_LOCK LOCK_KEY_TEXT(LOCK_KEY_IMPORT_CREATE)

#define ISO(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"

static void id_text(int64_t id, char *out, size_t outlen)
{
    snprintf(out, outlen, "%" PRId64, id);
}

static void copy_value(PGresult *r, int row, int col, char *out, size_t outlen)
{
    snprintf(out, outlen, "%s", PQgetisnull(r, row, col) ? "" : PQgetvalue(r, row, col));
}

int import_store_target(PGconn *conn, int64_t mapping_id, struct sweep_target *out, bool *found,
                        char *err, size_t errlen)
{
    char idt[24];
    id_text(mapping_id, idt, sizeof idt);
    const char *params[] = {idt};
    PGresult *r = db_exec(conn,
                          "SELECT state = 'enabled', salesforce_object,"
                          " COALESCE(hubspot_object_type_id, hubspot_object)"
                          " FROM mappings WHERE id = $1::bigint",
                          1, params, err, errlen);
    if (!r)
        return -1;
    memset(out, 0, sizeof *out);
    *found = PQntuples(r) == 1;
    if (*found) {
        out->mapping_id = mapping_id;
        out->enabled = strcmp(PQgetvalue(r, 0, 0), "t") == 0;
        copy_value(r, 0, 1, out->salesforce_object, sizeof out->salesforce_object);
        copy_value(r, 0, 2, out->hubspot_type, sizeof out->hubspot_type);
    }
    PQclear(r);
    return 0;
}

/* The first column of every row as int64 into a new array. */
static int id_column(PGresult *r, int64_t **ids, size_t *n, char *err, size_t errlen)
{
    int rows = PQntuples(r);
    *ids = NULL;
    *n = 0;
    if (rows == 0)
        return 0;
    *ids = calloc((size_t)rows, sizeof **ids);
    if (!*ids) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (int i = 0; i < rows; i++)
        (*ids)[i] = strtoll(PQgetvalue(r, i, 0), NULL, 10);
    *n = (size_t)rows;
    return 0;
}

int import_store_enabled_mappings(PGconn *conn, int64_t **ids, size_t *n, char *err, size_t errlen)
{
    PGresult *r = db_exec(conn, "SELECT id FROM mappings WHERE state = 'enabled' ORDER BY id", 0,
                          NULL, err, errlen);
    if (!r)
        return -1;
    int rc = id_column(r, ids, n, err, errlen);
    PQclear(r);
    return rc;
}

static int lock_call(PGconn *conn, const char *fn, enum import_store_lock which, int64_t id,
                     bool *result, char *err, size_t errlen)
{
    char idt[24], sql[160];
    id_text(id, idt, sizeof idt);
    snprintf(sql, sizeof sql, "SELECT %s(%s, ($1::bigint %% 2147483647)::int4)", fn,
             lock_classes[which]);
    const char *params[] = {idt};
    PGresult *r = db_exec(conn, sql, 1, params, err, errlen);
    if (!r)
        return -1;
    *result = PQntuples(r) == 1 && strcmp(PQgetvalue(r, 0, 0), "t") == 0;
    PQclear(r);
    return 0;
}

int import_store_try_lock(PGconn *conn, enum import_store_lock which, int64_t id, bool *got,
                          char *err, size_t errlen)
{
    return lock_call(conn, "pg_try_advisory_lock", which, id, got, err, errlen);
}

int import_store_unlock(PGconn *conn, enum import_store_lock which, int64_t id, char *err,
                        size_t errlen)
{
    bool released = false;
    if (lock_call(conn, "pg_advisory_unlock", which, id, &released, err, errlen) < 0)
        return -1;
    if (!released) {
        snprintf(err, errlen, "the advisory lock was not held");
        return -1;
    }
    return 0;
}

int import_store_cursor_get(PGconn *conn, int64_t mapping_id, const char *source, const char *kind,
                            char *out, size_t outlen, bool *found, char *err, size_t errlen)
{
    char idt[24];
    id_text(mapping_id, idt, sizeof idt);
    const char *params[] = {idt, source, kind};
    *found = false;
    if (outlen > 0)
        out[0] = '\0';
    PGresult *r = db_exec(conn,
                          "SELECT position FROM sync_cursors"
                          " WHERE mapping_id = $1::bigint AND source = $2 AND kind = $3",
                          3, params, err, errlen);
    if (!r)
        return -1;
    int rc = 0;
    if (PQntuples(r) == 1) {
        const char *position = PQgetvalue(r, 0, 0);
        if (strlen(position) >= outlen) { /* never cut short: a cut cursor is another position */
            snprintf(err, errlen, "stored cursor is longer than %zu bytes", outlen);
            rc = -1;
        } else {
            memcpy(out, position, strlen(position) + 1);
            *found = true;
        }
    }
    PQclear(r);
    return rc;
}

int import_store_cursor_set(PGconn *conn, int64_t mapping_id, const char *source, const char *kind,
                            const char *position, char *err, size_t errlen)
{
    char idt[24];
    id_text(mapping_id, idt, sizeof idt);
    const char *params[] = {idt, source, kind, position};
    PGresult *r = db_exec(conn,
                          "INSERT INTO sync_cursors (mapping_id, source, kind, position)"
                          " VALUES ($1::bigint, $2, $3, $4)"
                          " ON CONFLICT (mapping_id, source, kind) DO UPDATE"
                          " SET position = EXCLUDED.position, updated_at = now()",
                          4, params, err, errlen);
    if (!r)
        return -1;
    PQclear(r);
    return 0;
}

/* ---- imports ---- */

static int create_failed(PGconn *conn)
{
    char ignored[64];
    db_exec_command(conn, "ROLLBACK", ignored, sizeof ignored);
    return IMPORT_CREATE_ERROR;
}

int import_store_create(PGconn *conn, int64_t mapping_id, const char *direction, const char *actor,
                        long long total, int64_t *id, char *err, size_t errlen)
{
    char idt[24], tt[24];
    id_text(mapping_id, idt, sizeof idt);
    snprintf(tt, sizeof tt, "%lld", total);
    const char *params[] = {idt, direction, actor, total >= 0 ? tt : NULL};
    if (db_exec_command(conn, "BEGIN", err, errlen) < 0)
        return IMPORT_CREATE_ERROR;
    PGresult *r = db_exec(conn,
                          "SELECT pg_advisory_xact_lock(" IMPORT_CREATE_LOCK
                          ", ($1::bigint % 2147483647)::int4)",
                          1, params, err, errlen);
    if (!r)
        return create_failed(conn);
    PQclear(r);
    /* a statement after the lock: its snapshot sees every import committed before the lock */
    r = db_exec(
        conn,
        "INSERT INTO sync_imports (mapping_id, direction, actor, total)"
        " SELECT $1::bigint, $2, $3, $4::bigint WHERE NOT EXISTS (SELECT 1 FROM sync_imports"
        "  WHERE mapping_id = $1::bigint AND status IN ('queued', 'running'))"
        " RETURNING id",
        4, params, err, errlen);
    if (!r)
        return create_failed(conn);
    int result = IMPORT_CREATE_RUNNING;
    if (PQntuples(r) == 1) {
        *id = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
        result = IMPORT_CREATE_OK;
    }
    PQclear(r);
    if (db_exec_command(conn, "COMMIT", err, errlen) < 0)
        return create_failed(conn);
    return result;
}

static const char row_json[] =
    "SELECT jsonb_build_object('id', id, 'mapping_id', mapping_id, 'direction', direction,"
    " 'status', status, 'actor', actor, 'total', total, 'queued', queued, 'synced', synced,"
    " 'failed', failed, 'position', position, 'error', error,"
    " 'created_at', " ISO("created_at") ", 'started_at', " ISO(
        "started_at") ","
                      " 'finished_at', " ISO("finished_at") ")::text FROM sync_imports";

json_object *import_store_get(PGconn *conn, int64_t id, bool *found, char *err, size_t errlen)
{
    char idt[24], sql[sizeof row_json + 64];
    id_text(id, idt, sizeof idt);
    snprintf(sql, sizeof sql, "%s WHERE id = $1::bigint", row_json);
    const char *params[] = {idt};
    PGresult *r = db_exec(conn, sql, 1, params, err, errlen);
    if (!r)
        return NULL;
    *found = PQntuples(r) == 1;
    json_object *out = *found ? json_tokener_parse(PQgetvalue(r, 0, 0)) : json_object_new_object();
    PQclear(r);
    if (!out)
        snprintf(err, errlen, "out of memory");
    return out;
}

json_object *import_store_list(PGconn *conn, int64_t mapping_id, char *err, size_t errlen)
{
    char idt[24], sql[sizeof row_json + 128];
    id_text(mapping_id, idt, sizeof idt);
    snprintf(sql, sizeof sql,
             "%s WHERE $1::bigint = 0 OR mapping_id = $1::bigint ORDER BY id DESC LIMIT 200",
             row_json);
    const char *params[] = {idt};
    PGresult *r = db_exec(conn, sql, 1, params, err, errlen);
    if (!r)
        return NULL;
    json_object *list = json_object_new_array();
    for (int i = 0; list && i < PQntuples(r); i++)
        json_object_array_add(list, json_tokener_parse(PQgetvalue(r, i, 0)));
    PQclear(r);
    json_object *out = list ? json_object_new_object() : NULL;
    if (!out) {
        json_object_put(list);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    json_object_object_add(out, "imports", list);
    return out;
}

int import_store_active(PGconn *conn, int64_t **ids, size_t *n, char *err, size_t errlen)
{
    PGresult *r = db_exec(conn,
                          "SELECT id FROM sync_imports WHERE status IN ('queued', 'running')"
                          " ORDER BY id",
                          0, NULL, err, errlen);
    if (!r)
        return -1;
    int rc = id_column(r, ids, n, err, errlen);
    PQclear(r);
    return rc;
}

int import_store_load(PGconn *conn, int64_t id, struct import_row *out, bool *found, char *err,
                      size_t errlen)
{
    char idt[24];
    id_text(id, idt, sizeof idt);
    const char *params[] = {idt};
    PGresult *r = db_exec(conn,
                          "SELECT mapping_id, direction, status, COALESCE(position, ''),"
                          " COALESCE(total, -1) FROM sync_imports WHERE id = $1::bigint",
                          1, params, err, errlen);
    if (!r)
        return -1;
    memset(out, 0, sizeof *out);
    *found = PQntuples(r) == 1;
    if (*found) {
        out->id = id;
        out->mapping_id = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
        copy_value(r, 0, 1, out->direction, sizeof out->direction);
        copy_value(r, 0, 2, out->status, sizeof out->status);
        copy_value(r, 0, 3, out->position, sizeof out->position);
        out->total = strtoll(PQgetvalue(r, 0, 4), NULL, 10);
    }
    PQclear(r);
    return 0;
}

long long import_store_waiting(PGconn *conn, int64_t import_id, char *err, size_t errlen)
{
    char idt[24];
    id_text(import_id, idt, sizeof idt);
    const char *params[] = {idt};
    PGresult *r = db_exec(conn,
                          "SELECT count(*) FROM change_events WHERE import_id = $1::bigint"
                          " AND status IN ('pending', 'processing', 'held')",
                          1, params, err, errlen);
    if (!r)
        return -1;
    long long n = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    return n;
}

long long import_store_insert_events(PGconn *conn, int64_t import_id, int64_t mapping_id,
                                     const char *source, const char *object_type,
                                     const char *ids_json, char *err, size_t errlen)
{
    char it[24], mt[24];
    id_text(import_id, it, sizeof it);
    id_text(mapping_id, mt, sizeof mt);
    const char *params[] = {it, mt, source, object_type, ids_json};
    PGresult *r = db_exec(
        conn,
        "INSERT INTO change_events (source, idempotency_key, object_type, record_id, kind,"
        " occurred_at, status, payload, import_id)"
        " SELECT $3, 'import:' || $1 || ':' || x.id, $4, x.id, 'update', now(),"
        "  COALESCE((SELECT CASE WHEN m.state = 'enabled' THEN 'pending' ELSE 'held' END"
        "   FROM mappings m WHERE m.id = $2::bigint), 'unmapped'),"
        "  jsonb_build_object('import', true, 'import_id', $1::bigint, 'mapping_id', $2::bigint),"
        "  $1::bigint"
        " FROM jsonb_array_elements_text($5::jsonb) AS x(id)"
        " ON CONFLICT (idempotency_key) DO NOTHING",
        5, params, err, errlen);
    if (!r)
        return -1;
    long long n = strtoll(PQcmdTuples(r), NULL, 10);
    PQclear(r);
    return n;
}

int import_store_progress(PGconn *conn, int64_t id, const char *status, const char *position,
                          const char *error, long long total, char *err, size_t errlen)
{
    char idt[24], tt[24];
    id_text(id, idt, sizeof idt);
    snprintf(tt, sizeof tt, "%lld", total);
    const char *params[] = {idt, status, position, error, total >= 0 ? tt : NULL};
    PGresult *r = db_exec(
        conn,
        "WITH c AS (SELECT count(*) AS queued,"
        "  count(*) FILTER (WHERE status = 'done') AS synced,"
        "  count(*) FILTER (WHERE status = 'failed') AS failed"
        "  FROM change_events WHERE import_id = $1::bigint)"
        " UPDATE sync_imports i SET status = COALESCE($2, i.status),"
        "  position = COALESCE($3, i.position),"
        "  error = CASE WHEN $4::text IS NULL THEN i.error ELSE NULLIF($4::text, '') END,"
        "  total = COALESCE($5::bigint, i.total),"
        "  queued = c.queued, synced = c.synced, failed = c.failed,"
        "  started_at = CASE WHEN $2 = 'running' THEN COALESCE(i.started_at, now())"
        "   ELSE i.started_at END,"
        "  finished_at = CASE WHEN $2 IN ('done', 'failed') THEN now() ELSE i.finished_at END"
        " FROM c WHERE i.id = $1::bigint AND i.status IN ('queued', 'running')",
        5, params, err, errlen);
    if (!r)
        return -1;
    PQclear(r);
    return 0;
}

int import_store_cancel(PGconn *conn, int64_t id, char *err, size_t errlen)
{
    char idt[24];
    id_text(id, idt, sizeof idt);
    const char *params[] = {idt};
    PGresult *r = db_exec(
        conn,
        "WITH c AS (UPDATE sync_imports SET status = 'cancelled', finished_at = now()"
        "  WHERE id = $1::bigint AND status IN ('queued', 'running') RETURNING id),"
        " d AS (DELETE FROM change_events WHERE import_id IN (SELECT id FROM c)"
        "  AND status IN ('pending', 'held') RETURNING 1)"
        " SELECT (SELECT count(*) FROM c),"
        "  EXISTS (SELECT 1 FROM sync_imports WHERE id = $1::bigint), (SELECT count(*) FROM d)",
        1, params, err, errlen);
    if (!r)
        return IMPORT_CANCEL_ERROR;
    int result = strcmp(PQgetvalue(r, 0, 0), "1") == 0   ? IMPORT_CANCEL_OK
                 : strcmp(PQgetvalue(r, 0, 1), "t") == 0 ? IMPORT_CANCEL_NOT_ACTIVE
                                                         : IMPORT_CANCEL_NOT_FOUND;
    PQclear(r);
    return result;
}
