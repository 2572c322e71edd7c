/* mapping_store.c: SQL for mappings and mapping_history.
 *
 * Owns nothing across calls. Transactions are BEGIN ... COMMIT on the
 * caller's connection; every error path rolls back before returning. Must
 * not validate documents (the handlers do, with sync/mapping_validate). */
#include "db/mapping_store.h"

#include "db/pool.h"
#include "base/json_diff.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define UNIQUE_VIOLATION "23505"

static const char *json_text(json_object *o)
{
    return json_object_to_json_string_ext(o,
                                          JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
}

/* The document without the members that live in columns. */
static json_object *document_body(json_object *doc)
{
    json_object *copy = NULL;
    if (json_object_deep_copy(doc, &copy, NULL) != 0 || !copy)
        return NULL;
    json_object_object_del(copy, "id");
    json_object_object_del(copy, "version");
    json_object_object_del(copy, "state");
    return copy;
}

static int rollback(PGconn *conn, int result)
{
    PQclear(PQexec(conn, "ROLLBACK"));
    return result;
}

/* Runs a statement; maps a unique violation to MS_CONFLICT. */
static int exec_write(PGconn *conn, const char *sql, int n, const char *const *params,
                      PGresult **out, char *err, size_t errlen)
{
    PGresult *r = PQexecParams(conn, sql, n, NULL, params, NULL, NULL, 0);
    ExecStatusType st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
        if (out)
            *out = r;
        else
            PQclear(r);
        return MS_OK;
    }
    const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    int rc = MS_ERROR;
    if (state && strcmp(state, UNIQUE_VIOLATION) == 0) {
        snprintf(err, errlen,
                 "another mapping already syncs this Salesforce object or this "
                 "HubSpot object");
        rc = MS_CONFLICT;
    } else {
        const char *msg = r ? PQresultErrorMessage(r) : PQerrorMessage(conn);
        snprintf(err, errlen, "database error: %s", msg ? msg : "");
        char *nl = strchr(err, '\n');
        if (nl)
            *nl = '\0';
    }
    PQclear(r);
    return rc;
}

static int add_history(PGconn *conn, const char *id, const char *version, const char *action,
                       const char *actor, json_object *doc, json_object *changes, char *err,
                       size_t errlen)
{
    const char *params[] = {id,
                            version,
                            action,
                            actor,
                            doc ? json_text(doc) : NULL,
                            changes ? json_text(changes) : "[]"};
    return exec_write(conn,
                      "INSERT INTO mapping_history (mapping_id, version, action, actor, document,"
                      " changes) VALUES ($1::bigint, $2::int, $3, $4, $5::jsonb, $6::jsonb)",
                      6, params, NULL, err, errlen);
}

static const char insert_sql[] =
    "INSERT INTO mappings (id, name, state, salesforce_object, hubspot_object, document,"
    " problems, validated_at, hubspot_object_type_id)"
    " VALUES (COALESCE($1::bigint, nextval('mappings_id_seq')), $2, $3, $4, $5, $6::jsonb,"
    " $7::jsonb, now(), $8) RETURNING id";

static int insert_row(PGconn *conn, const struct mapping_row *row, const char *id_or_null,
                      const char *action, const char *actor, int64_t *id, char *err, size_t errlen)
{
    json_object *body = document_body(row->document);
    if (!body) {
        snprintf(err, errlen, "out of memory");
        return MS_ERROR;
    }
    const char *params[] = {id_or_null,
                            row->name,
                            row->state,
                            row->salesforce_object,
                            row->hubspot_object,
                            json_text(body),
                            row->problems ? json_text(row->problems) : "[]",
                            row->hubspot_object_type_id};
    PGresult *r = NULL;
    int rc = exec_write(conn, insert_sql, 8, params, &r, err, errlen);
    if (rc == MS_OK) {
        char idtext[24];
        snprintf(idtext, sizeof idtext, "%s", PQgetvalue(r, 0, 0));
        *id = strtoll(idtext, NULL, 10);
        PQclear(r);
        json_object *changes = json_diff(NULL, body, 200);
        rc = add_history(conn, idtext, "1", action, actor, body, changes, err, errlen);
        json_object_put(changes);
    }
    json_object_put(body);
    return rc;
}

int mapping_store_create(PGconn *conn, const struct mapping_row *row, const char *actor,
                         int64_t *id, char *err, size_t errlen)
{
    if (db_exec_command(conn, "BEGIN", err, errlen) < 0)
        return MS_ERROR;
    int rc = insert_row(conn, row, NULL, "create", actor, id, err, errlen);
    if (rc != MS_OK)
        return rollback(conn, rc);
    return db_exec_command(conn, "COMMIT", err, errlen) < 0 ? MS_ERROR : MS_OK;
}

/* Locks the row; checks the version; returns its document (caller puts). */
static int lock_row(PGconn *conn, const char *idtext, int64_t expected_version, json_object **doc,
                    int64_t *version, char *err, size_t errlen)
{
    const char *params[] = {idtext};
    PGresult *r = NULL;
    int rc = exec_write(conn,
                        "SELECT version, document::text FROM mappings WHERE id = $1::bigint"
                        " FOR UPDATE",
                        1, params, &r, err, errlen);
    if (rc != MS_OK)
        return rc;
    if (PQntuples(r) == 0) {
        PQclear(r);
        snprintf(err, errlen, "no mapping with id %s", idtext);
        return MS_NOT_FOUND;
    }
    *version = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    if (doc)
        *doc = json_tokener_parse(PQgetvalue(r, 0, 1));
    PQclear(r);
    if (expected_version > 0 && expected_version != *version) {
        snprintf(err, errlen,
                 "the mapping was changed meanwhile (version %" PRId64
                 ", you edited version %" PRId64 "); reload it and apply your change again",
                 *version, expected_version);
        if (doc) {
            json_object_put(*doc);
            *doc = NULL;
        }
        return MS_STALE;
    }
    return MS_OK;
}

int mapping_store_update(PGconn *conn, int64_t id, int64_t expected_version,
                         const struct mapping_row *row, const char *action, const char *actor,
                         int64_t *new_version, char *err, size_t errlen)
{
    char idtext[24];
    snprintf(idtext, sizeof idtext, "%" PRId64, id);
    if (db_exec_command(conn, "BEGIN", err, errlen) < 0)
        return MS_ERROR;
    json_object *old = NULL;
    int64_t version = 0;
    int rc = lock_row(conn, idtext, expected_version, &old, &version, err, errlen);
    if (rc != MS_OK)
        return rollback(conn, rc);
    json_object *body = document_body(row->document);
    char vtext[24];
    snprintf(vtext, sizeof vtext, "%" PRId64, version + 1);
    const char *params[] = {idtext,
                            row->name,
                            row->state,
                            row->salesforce_object,
                            row->hubspot_object,
                            body ? json_text(body) : "{}",
                            row->problems ? json_text(row->problems) : NULL,
                            vtext,
                            row->hubspot_object_type_id};
    /* problems NULL: keep the last validation (pause does not validate) */
    rc = body ? exec_write(conn,
                           "UPDATE mappings SET name = $2, state = $3, salesforce_object = $4,"
                           " hubspot_object = $5, document = $6::jsonb,"
                           " problems = COALESCE($7::jsonb, problems),"
                           " validated_at = CASE WHEN $7 IS NULL THEN validated_at ELSE now() END,"
                           " version = $8::int, updated_at = now(),"
                           " hubspot_object_type_id = COALESCE($9, hubspot_object_type_id)"
                           " WHERE id = $1::bigint",
                           9, params, NULL, err, errlen)
              : MS_ERROR;
    if (rc == MS_OK) {
        json_object *changes = json_diff(old, body, 200);
        if (strcmp(action, "update") != 0) {
            json_object *st = json_object_new_object();
            json_object_object_add(st, "path", json_object_new_string("state"));
            json_object_object_add(st, "to", json_object_new_string(row->state));
            json_object_array_add(changes, st);
        }
        rc = add_history(conn, idtext, vtext, action, actor, body, changes, err, errlen);
        json_object_put(changes);
    }
    json_object_put(old);
    json_object_put(body);
    if (rc != MS_OK)
        return rollback(conn, rc);
    if (db_exec_command(conn, "COMMIT", err, errlen) < 0)
        return MS_ERROR;
    *new_version = version + 1;
    return MS_OK;
}

int mapping_store_delete(PGconn *conn, int64_t id, int64_t expected_version, const char *actor,
                         char *err, size_t errlen)
{
    char idtext[24], vtext[24];
    snprintf(idtext, sizeof idtext, "%" PRId64, id);
    if (db_exec_command(conn, "BEGIN", err, errlen) < 0)
        return MS_ERROR;
    int64_t version = 0;
    int rc = lock_row(conn, idtext, expected_version, NULL, &version, err, errlen);
    if (rc != MS_OK)
        return rollback(conn, rc);
    const char *params[] = {idtext};
    rc = exec_write(conn, "DELETE FROM mappings WHERE id = $1::bigint", 1, params, NULL, err,
                    errlen);
    snprintf(vtext, sizeof vtext, "%" PRId64, version + 1);
    if (rc == MS_OK)
        rc = add_history(conn, idtext, vtext, "delete", actor, NULL, NULL, err, errlen);
    if (rc != MS_OK)
        return rollback(conn, rc);
    return db_exec_command(conn, "COMMIT", err, errlen) < 0 ? MS_ERROR : MS_OK;
}

static const char select_sql[] =
    "SELECT (jsonb_build_object('id', id, 'version', version, 'state', state) || document"
    " || jsonb_build_object('problems', problems,"
    "  'validated_at', to_char(validated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),"
    "  'created_at', to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),"
    "  'updated_at', to_char(updated_at AT TIME ZONE 'UTC', "
    "'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')))::text"
    " FROM mappings";

json_object *mapping_store_get(PGconn *conn, int64_t id, int *result, char *err, size_t errlen)
{
    char idtext[24], sql[sizeof select_sql + 64];
    snprintf(idtext, sizeof idtext, "%" PRId64, id);
    snprintf(sql, sizeof sql, "%s WHERE id = $1::bigint", select_sql);
    const char *params[] = {idtext};
    PGresult *r = db_exec(conn, sql, 1, params, err, errlen);
    if (!r) {
        *result = MS_ERROR;
        return NULL;
    }
    json_object *out = NULL;
    *result = MS_NOT_FOUND;
    if (PQntuples(r) == 1) {
        out = json_tokener_parse(PQgetvalue(r, 0, 0));
        *result = out ? MS_OK : MS_ERROR;
    }
    PQclear(r);
    return out;
}

json_object *mapping_store_list(PGconn *conn, char *err, size_t errlen)
{
    char sql[sizeof select_sql + 32];
    snprintf(sql, sizeof sql, "%s ORDER BY id", select_sql);
    PGresult *r = db_exec(conn, sql, 0, NULL, err, errlen);
    if (!r)
        return NULL;
    json_object *arr = json_object_new_array();
    for (int i = 0; i < PQntuples(r); i++)
        json_object_array_add(arr, json_tokener_parse(PQgetvalue(r, i, 0)));
    PQclear(r);
    return arr;
}

json_object *mapping_store_history(PGconn *conn, int64_t id, char *err, size_t errlen)
{
    char idtext[24];
    snprintf(idtext, sizeof idtext, "%" PRId64, id);
    const char *params[] = {idtext};
    PGresult *r = db_exec(
        conn,
        "SELECT jsonb_build_object('version', version, 'action', action, 'actor', actor,"
        " 'changed_at', to_char(changed_at AT TIME ZONE 'UTC', "
        "'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'),"
        " 'changes', changes)::text FROM mapping_history WHERE mapping_id = $1::bigint ORDER BY id",
        1, params, err, errlen);
    if (!r)
        return NULL;
    json_object *arr = json_object_new_array();
    for (int i = 0; i < PQntuples(r); i++)
        json_object_array_add(arr, json_tokener_parse(PQgetvalue(r, i, 0)));
    PQclear(r);
    return arr;
}

int mapping_store_set_validation(PGconn *conn, int64_t id, json_object *problems,
                                 const char *hubspot_object_type_id, char *err, size_t errlen)
{
    char idtext[24];
    snprintf(idtext, sizeof idtext, "%" PRId64, id);
    const char *params[] = {idtext, problems ? json_text(problems) : "[]", hubspot_object_type_id};
    PGresult *r = NULL;
    int rc = exec_write(conn,
                        "UPDATE mappings SET problems = $2::jsonb, validated_at = now(),"
                        " hubspot_object_type_id = COALESCE($3, hubspot_object_type_id)"
                        " WHERE id = $1::bigint RETURNING id",
                        3, params, &r, err, errlen);
    if (rc != MS_OK)
        return rc;
    rc = PQntuples(r) == 1 ? MS_OK : MS_NOT_FOUND;
    PQclear(r);
    return rc;
}

/* The status an event of (source, object_type) should have: the same rule
 * as the insert in db/queue.c. */
static const char reclassify_sql[] =
    "WITH target AS ("
    " SELECT e.id, COALESCE((SELECT CASE WHEN m.state = 'enabled' THEN 'pending' ELSE 'held' END"
    "   FROM mappings m WHERE (e.source = 'salesforce'"
    "   AND lower(m.salesforce_object) = lower(e.object_type))"
    "   OR (e.source = 'hubspot' AND m.hubspot_object_type_id = e.object_type) LIMIT 1),"
    "  'unmapped') AS status"
    " FROM change_events e WHERE e.status IN ('unmapped', 'held', 'pending'))"
    " UPDATE change_events e SET status = t.status, next_attempt_at = now()"
    /* re-checked after a row lock wait: never touch an event a worker claimed meanwhile */
    " FROM target t WHERE e.id = t.id AND e.status <> t.status"
    " AND e.status IN ('unmapped', 'held', 'pending')";

long mapping_store_reclassify_events(PGconn *conn, char *err, size_t errlen)
{
    PGresult *r = db_exec(conn, reclassify_sql, 0, NULL, err, errlen);
    if (!r)
        return -1;
    long n = strtol(PQcmdTuples(r), NULL, 10);
    PQclear(r);
    return n;
}

/* The one text value of a one-row query, heap (caller frees); NULL with err. */
static char *one_text(PGconn *conn, const char *sql, char *err, size_t errlen)
{
    PGresult *r = db_exec(conn, sql, 0, NULL, err, errlen);
    if (!r)
        return NULL;
    char *text = strdup(PQgetvalue(r, 0, 0));
    PQclear(r);
    if (!text)
        snprintf(err, errlen, "out of memory");
    return text;
}

char *mapping_store_classes_signature(PGconn *conn, char *err, size_t errlen)
{
    return one_text(conn,
                    "SELECT md5(coalesce(string_agg(id || ':' || state || ':'"
                    " || lower(salesforce_object) || ':' || coalesce(hubspot_object_type_id,"
                    " '-'), ',' ORDER BY id), '')) FROM mappings",
                    err, errlen);
}

long mapping_store_count(PGconn *conn, char *err, size_t errlen)
{
    PGresult *r = db_exec(conn, "SELECT count(*) FROM mappings", 0, NULL, err, errlen);
    if (!r)
        return -1;
    long n = strtol(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    return n;
}

char *mapping_store_enabled_signature(PGconn *conn, char *err, size_t errlen)
{
    return one_text(conn,
                    "SELECT coalesce(string_agg(id || ':' || version, ',' ORDER BY id), '')"
                    " FROM mappings WHERE state = 'enabled'",
                    err, errlen);
}

int mapping_store_enabled_documents(PGconn *conn, struct mapping_doc **docs, size_t *n, char *err,
                                    size_t errlen)
{
    *docs = NULL;
    *n = 0;
    PGresult *r = db_exec(conn,
                          "SELECT id, document::text FROM mappings WHERE state = 'enabled'"
                          " ORDER BY id",
                          0, NULL, err, errlen);
    if (!r)
        return -1;
    int rows = PQntuples(r);
    struct mapping_doc *d = calloc((size_t)rows + 1, sizeof *d);
    int rc = d ? 0 : -1;
    for (int i = 0; rc == 0 && i < rows; i++) {
        d[i].id = strtoll(PQgetvalue(r, i, 0), NULL, 10);
        d[i].document = strdup(PQgetvalue(r, i, 1));
        rc = d[i].document ? 0 : -1;
    }
    PQclear(r);
    if (rc < 0) {
        mapping_docs_free(d, (size_t)rows);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    *docs = d;
    *n = (size_t)rows;
    return 0;
}

void mapping_docs_free(struct mapping_doc *docs, size_t n)
{
    for (size_t i = 0; docs && i < n; i++)
        free(docs[i].document);
    free(docs);
}

int mapping_store_replace_all(PGconn *conn, const struct mapping_row *rows, size_t n,
                              const char *actor, char *err, size_t errlen)
{
    if (db_exec_command(conn, "BEGIN", err, errlen) < 0)
        return MS_ERROR;
    int rc = exec_write(conn,
                        "INSERT INTO mapping_history (mapping_id, version, action, actor, changes)"
                        " SELECT id, version + 1, 'delete', $1, '[]' FROM mappings",
                        1, (const char *[]){actor}, NULL, err, errlen);
    if (rc == MS_OK)
        rc = exec_write(conn, "DELETE FROM mappings", 0, NULL, NULL, err, errlen);
    for (size_t i = 0; rc == MS_OK && i < n; i++) {
        json_object *idobj = NULL;
        char idtext[24];
        const char *id_param = NULL;
        if (json_object_object_get_ex(rows[i].document, "id", &idobj) &&
            json_object_is_type(idobj, json_type_int)) {
            snprintf(idtext, sizeof idtext, "%" PRId64, json_object_get_int64(idobj));
            id_param = idtext;
        }
        int64_t id;
        rc = insert_row(conn, &rows[i], id_param, "import", actor, &id, err, errlen);
    }
    /* keep the sequence ahead of imported ids */
    if (rc == MS_OK)
        rc = exec_write(conn,
                        "SELECT setval('mappings_id_seq', GREATEST((SELECT max(id) FROM mappings),"
                        " (SELECT last_value FROM mappings_id_seq)))",
                        0, NULL, NULL, err, errlen);
    if (rc != MS_OK)
        return rollback(conn, rc);
    return db_exec_command(conn, "COMMIT", err, errlen) < 0 ? MS_ERROR : MS_OK;
}
