/* queue_errors.c: SQL for the failed-event summary and for requeueing failed events.
 *
 * Owns nothing beyond one call: results are copied into json-c objects before PQclear.
 * The summary is one statement: counts per category joined with the newest examples of each,
 * both served by the change_events_failed_category index (migration 0010). Requeueing
 * only touches rows still 'failed' when PostgreSQL rechecks them under the row lock, so a row
 * settled or pruned meanwhile is left alone. Must not log or call CRMs. */
#include "db/queue_errors.h"

#include "db/pool.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ISO_TS(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"

/* Rows requeued per statement by queue_retry_category. */
#define RETRY_BATCH 500

/* What a requeue sets: pending, due now, a fresh retry budget, no lease, no failure marks. */
#define REQUEUE_SET                                                                                \
    "status = 'pending', attempts = 0, next_attempt_at = now(), error_category = NULL,"            \
    " finished_at = NULL, lease_owner = NULL, lease_until = NULL, lease_pair = NULL"

/* clang-format off */
/* Counts, oldest and newest per category come from the change_events_failed_category index
 * alone (migration 0010); the examples of each category are a backward scan of the same index
 * limited to $1 rows, so the summary reads the failed rows it shows, not all of them. A NULL
 * category (rows failed before migration 0005) is reported as 'unknown' through its own branch. */
static const char summary_sql[] =
    "WITH c AS (SELECT error_category AS cat, count(*) AS n, min(finished_at) AS oldest,"
    "  max(finished_at) AS newest FROM change_events WHERE status = 'failed'"
    "  GROUP BY error_category)"
    " SELECT COALESCE(c.cat, 'unknown'), c.n, " ISO_TS("c.oldest") ", " ISO_TS("c.newest") ","
    "  ex.id, ex.source, ex.object_type, ex.record_id, ex.last_error, " ISO_TS("ex.finished_at")
    " FROM c LEFT JOIN LATERAL ("
    "  (SELECT id, source, object_type, record_id, last_error, finished_at FROM change_events"
    "   WHERE status = 'failed' AND error_category = c.cat"
    "   ORDER BY finished_at DESC, id DESC LIMIT $1::int)"
    "  UNION ALL"
    "  (SELECT id, source, object_type, record_id, last_error, finished_at FROM change_events"
    "   WHERE status = 'failed' AND error_category IS NULL AND c.cat IS NULL"
    "   ORDER BY finished_at DESC, id DESC LIMIT $1::int)) ex ON true"
    " ORDER BY c.n DESC, 1, ex.finished_at DESC, ex.id DESC";
/* clang-format on */

enum {
    COL_CATEGORY,
    COL_COUNT,
    COL_OLDEST,
    COL_NEWEST,
    COL_ID,
    COL_SOURCE,
    COL_OBJECT_TYPE,
    COL_RECORD_ID,
    COL_LAST_ERROR,
    COL_FINISHED_AT
};

static json_object *text_or_null(PGresult *res, int r, int c)
{
    return PQgetisnull(res, r, c) ? NULL : json_object_new_string(PQgetvalue(res, r, c));
}

static json_object *example_from_row(PGresult *res, int r)
{
    static const struct {
        const char *name;
        int col;
    } fields[] = {{"source", COL_SOURCE},
                  {"object_type", COL_OBJECT_TYPE},
                  {"record_id", COL_RECORD_ID},
                  {"last_error", COL_LAST_ERROR},
                  {"finished_at", COL_FINISHED_AT}};
    json_object *o = json_object_new_object();
    json_object_object_add(o, "id",
                           json_object_new_int64(strtoll(PQgetvalue(res, r, COL_ID), NULL, 10)));
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
        json_object_object_add(o, fields[i].name, text_or_null(res, r, fields[i].col));
    return o;
}

json_object *queue_errors_summary(PGconn *conn, int examples_per_category, char *err, size_t errlen)
{
    if (examples_per_category < 0)
        examples_per_category = 0;
    if (examples_per_category > QUEUE_ERRORS_MAX_EXAMPLES)
        examples_per_category = QUEUE_ERRORS_MAX_EXAMPLES;
    char limit[16];
    snprintf(limit, sizeof limit, "%d", examples_per_category);
    const char *params[] = {limit};
    PGresult *res = db_exec(conn, summary_sql, 1, params, err, errlen);
    if (!res)
        return NULL;
    json_object *out = json_object_new_object();
    json_object *cats = json_object_new_array();
    json_object *examples = NULL;
    const char *current = NULL;
    int64_t total = 0;
    for (int r = 0; r < PQntuples(res); r++) {
        const char *category = PQgetvalue(res, r, COL_CATEGORY);
        if (!current || strcmp(current, category) != 0) {
            int64_t n = strtoll(PQgetvalue(res, r, COL_COUNT), NULL, 10);
            total += n;
            json_object *cat = json_object_new_object();
            json_object_object_add(cat, "category", json_object_new_string(category));
            json_object_object_add(cat, "count", json_object_new_int64(n));
            json_object_object_add(cat, "oldest", text_or_null(res, r, COL_OLDEST));
            json_object_object_add(cat, "newest", text_or_null(res, r, COL_NEWEST));
            examples = json_object_new_array();
            json_object_object_add(cat, "examples", examples);
            json_object_array_add(cats, cat);
            current = category;
        }
        if (!PQgetisnull(res, r, COL_ID))
            json_object_array_add(examples, example_from_row(res, r));
    }
    json_object_object_add(out, "categories", cats);
    json_object_object_add(out, "total", json_object_new_int64(total));
    PQclear(res);
    return out;
}

/* The row is looked up apart from the update so that "unknown id" and "not failed" differ; both
 * subqueries see the same snapshot. */
static const char retry_event_sql[] =
    "WITH upd AS (UPDATE change_events SET " REQUEUE_SET
    " WHERE id = $1::bigint AND status = 'failed' RETURNING id)"
    " SELECT (SELECT count(*) FROM upd),"
    "  EXISTS (SELECT 1 FROM change_events WHERE id = $1::bigint)";

int queue_retry_event(PGconn *conn, int64_t id, char *err, size_t errlen)
{
    char idtext[24];
    snprintf(idtext, sizeof idtext, "%" PRId64, id);
    const char *params[] = {idtext};
    PGresult *res = db_exec(conn, retry_event_sql, 1, params, err, errlen);
    if (!res)
        return -1;
    int rc;
    if (PQntuples(res) != 1) {
        snprintf(err, errlen, "database error: unexpected answer to the retry");
        rc = -1;
    } else if (strcmp(PQgetvalue(res, 0, 0), "1") == 0) {
        rc = QUEUE_RETRY_OK;
    } else if (strcmp(PQgetvalue(res, 0, 1), "t") == 0) {
        rc = QUEUE_RETRY_NOT_FAILED;
    } else {
        rc = QUEUE_RETRY_NOT_FOUND;
    }
    PQclear(res);
    return rc;
}

/* One batch: the oldest failed rows of the category not locked by anyone (a row being pruned or
 * changed right now is skipped, not waited for), rechecked under the lock. */
static const char retry_batch_sql[] = "UPDATE change_events SET " REQUEUE_SET " WHERE id IN ("
                                      " SELECT id FROM change_events WHERE status = 'failed'"
                                      " AND ($1::text IS NULL OR error_category = $1::text)"
                                      " ORDER BY id LIMIT $2::int FOR UPDATE SKIP LOCKED)"
                                      " AND status = 'failed'";

long queue_retry_category(PGconn *conn, const char *category, char *err, size_t errlen)
{
    char batch[16];
    snprintf(batch, sizeof batch, "%d", RETRY_BATCH);
    const char *params[] = {category, batch};
    long total = 0;
    for (;;) {
        PGresult *res = db_exec(conn, retry_batch_sql, 2, params, err, errlen);
        if (!res)
            return -1;
        long n = strtol(PQcmdTuples(res), NULL, 10);
        PQclear(res);
        total += n;
        if (n < RETRY_BATCH)
            return total;
    }
}
