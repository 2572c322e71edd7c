/* health_stats.c: the SQL of a mapping's sync health (see the header).
 *
 * Five short statements on one connection: the mapping and its window (computed by PostgreSQL,
 * whose clock stamps the events), the series, the conflicts of the window, the queue, the
 * failures with examples, the active imports. Each change_events read is a UNION ALL of one
 * branch per source whose predicates match one of migration 0010's partial indexes
 * (change_events_object_finished / _open / _failed), so the plan is an index (mostly index-only)
 * scan of the mapping's rows in the window, not of the table. Results are copied into json-c
 * objects before PQclear; nothing is kept across calls.
 * Must not: change rows, log, or call CRMs. */
#include "db/health_stats.h"

#include "db/health_rollup.h"
#include "db/pool.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ISO_TS(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"

/* clang-format off */

/* One branch per source of a mapping's events; $1 the lower-case Salesforce object, $2 the
 * lower-case HubSpot object type id (NULL: none). */
#define BY_SOURCE(cols, where)                                                                     \
    "SELECT " cols " FROM change_events WHERE " where " AND source = 'salesforce'"                 \
    " AND lower(object_type) = $1::text"                                                           \
    " UNION ALL SELECT " cols " FROM change_events WHERE " where " AND source = 'hubspot'"         \
    " AND lower(object_type) = $2::text"

/* $1 id, $2 bucket_s, $3 buckets: t0 = the first bucket's start, so the last one holds now;
 * the rollup's watermark (epoch s, NULL: no rollup yet). */
static const char mapping_sql[] =
    "SELECT id, name, state, lower(salesforce_object), lower(hubspot_object_type_id), t0::text,"
    " " ISO_TS("to_timestamp(t0)") ", " ISO_TS("now()") ","
    " (SELECT date_part('epoch', rolled_to)::bigint FROM health_rollup_state)"
    " FROM mappings, LATERAL (SELECT floor(date_part('epoch', now()) / $2::int) * $2::int"
    "  - ($3::int - 1) * $2::int AS t0) w"
    " WHERE id = $1::bigint";

/* $3 t0 (epoch s), $4 bucket_s, $5 buckets. date_part is float8 arithmetic (extract() would be
 * numeric, several times slower over a day of events). */
static const char series_sql[] =
    "WITH ev AS (" BY_SOURCE("finished_at, status, received_at",
        "status IN ('done', 'failed') AND finished_at >= to_timestamp($3::float8)") "),"
    " b AS (SELECT floor((date_part('epoch', finished_at) - $3::float8) / $4::int)::int AS i,"
    "  status, date_part('epoch', finished_at - received_at) * 1000 AS ms FROM ev)"
    " SELECT " ISO_TS("to_timestamp($3::float8 + g.i * $4::int)") ","
    "  count(b.status) FILTER (WHERE b.status = 'done'),"
    "  count(b.status) FILTER (WHERE b.status = 'failed'),"
    "  round(percentile_cont(0.5) WITHIN GROUP (ORDER BY b.ms))::bigint,"
    "  round(percentile_cont(0.95) WITHIN GROUP (ORDER BY b.ms))::bigint"
    " FROM generate_series(0, $5::int - 1) g(i) LEFT JOIN b ON b.i = g.i"
    " GROUP BY g.i ORDER BY g.i";

/* The same from migration 0014's rollup, for buckets that are whole periods: the periods before
 * $6 (the watermark, epoch s) from health_periods, the events from then on from change_events
 * (binned the same way), summed per bucket and latency bin; each percentile is interpolated
 * inside the bin that holds its rank, so it is within the bin's 9% of the exact one. */
#define PERIODS_OF(src, key)                                                                       \
    "SELECT date_part('epoch', period) AS t, bin, synced, failed FROM health_periods"              \
    " WHERE source = '" src "' AND object_key = " key " AND period >= to_timestamp($3::float8)"    \
    " AND period < to_timestamp($6::float8)"
#define BIN_LO HEALTH_BIN_LO_SQL("c.bin")
#define BIN_HI HEALTH_BIN_HI_SQL("c.bin")
static const char rollup_series_sql[] =
    "WITH h AS (" PERIODS_OF("salesforce", "$1::text") " UNION ALL "
    PERIODS_OF("hubspot", "$2::text") " UNION ALL"
    " SELECT date_part('epoch', finished_at), "
    HEALTH_BIN_SQL("date_part('epoch', finished_at - received_at) * 1000") ","
    "  (status = 'done')::int, (status = 'failed')::int FROM (" BY_SOURCE("finished_at, status,"
    " received_at", "status IN ('done', 'failed')"
    " AND finished_at >= to_timestamp(GREATEST($3::float8, $6::float8))") ") ev),"
    " b AS (SELECT floor((t - $3::float8) / $4::int)::int AS i, bin, sum(synced)::float8 AS s,"
    "  sum(failed)::float8 AS f FROM h GROUP BY 1, 2),"
    " c AS (SELECT i, bin, s + f AS n, sum(s + f) OVER (PARTITION BY i ORDER BY bin) AS cum,"
    "  sum(s + f) OVER (PARTITION BY i) AS tot FROM b),"
    " p AS (SELECT DISTINCT ON (c.i, v.q) c.i, v.q, " BIN_LO " + (" BIN_HI " - " BIN_LO ")"
    "  * (v.q * c.tot - (c.cum - c.n)) / c.n AS ms"
    "  FROM c, (VALUES (0.5::float8), (0.95::float8)) v(q)"
    "  WHERE c.n > 0 AND c.cum >= v.q * c.tot ORDER BY c.i, v.q, c.bin),"
    " t AS (SELECT i, sum(s)::bigint AS s, sum(f)::bigint AS f FROM b GROUP BY i)"
    " SELECT " ISO_TS("to_timestamp($3::float8 + g.i * $4::int)") ", COALESCE(t.s, 0),"
    "  COALESCE(t.f, 0), round(p50.ms)::bigint, round(p95.ms)::bigint"
    " FROM generate_series(0, $5::int - 1) g(i) LEFT JOIN t ON t.i = g.i"
    " LEFT JOIN p p50 ON p50.i = g.i AND p50.q = 0.5 LEFT JOIN p p95 ON p95.i = g.i AND p95.q = 0.95"
    " ORDER BY g.i";

/* $1 mapping id, $2 t0 (epoch s). */
static const char conflicts_sql[] =
    "SELECT count(*) FROM sync_conflicts WHERE mapping_id = $1::bigint"
    " AND occurred_at >= to_timestamp($2::float8)";

static const char queue_sql[] =
    "WITH q AS (" BY_SOURCE("status, received_at", "status IN ('pending', 'processing', 'held')") ")"
    " SELECT count(*) FILTER (WHERE status = 'pending'),"
    "  count(*) FILTER (WHERE status = 'processing'), count(*) FILTER (WHERE status = 'held'),"
    "  round(extract(epoch FROM now() - min(received_at) FILTER (WHERE status = 'pending')), 3)"
    " FROM q";

/* $3 examples per category. Counts per category (index-only), then the newest examples of each
 * category from each source's branch of the index, read backwards. */
#define FAILED_OF(cmp)                                                                             \
    "(SELECT id, record_id, last_error, finished_at FROM change_events WHERE status = 'failed'"    \
    " AND source = 'salesforce' AND lower(object_type) = $1::text AND " cmp                        \
    " ORDER BY finished_at DESC LIMIT $3::int) UNION ALL"                                          \
    " (SELECT id, record_id, last_error, finished_at FROM change_events WHERE status = 'failed'"   \
    " AND source = 'hubspot' AND lower(object_type) = $2::text AND " cmp                           \
    " ORDER BY finished_at DESC LIMIT $3::int)"

static const char errors_sql[] =
    "WITH c AS (SELECT error_category AS cat, count(*) AS n FROM ("
    BY_SOURCE("error_category", "status = 'failed'") ") f GROUP BY 1)"
    " SELECT COALESCE(c.cat, 'unknown'), c.n, x.id, x.record_id, x.last_error, "
    ISO_TS("x.finished_at")
    " FROM c LEFT JOIN LATERAL (SELECT * FROM ("
    " SELECT * FROM (" FAILED_OF("error_category = c.cat") ") s WHERE c.cat IS NOT NULL"
    " UNION ALL SELECT * FROM (" FAILED_OF("error_category IS NULL") ") u WHERE c.cat IS NULL"
    " ) e ORDER BY finished_at DESC, id DESC LIMIT $3::int) x ON true"
    " ORDER BY c.n DESC, 1, x.finished_at DESC, x.id DESC";

static const char imports_sql[] =
    "SELECT count(*) FROM sync_imports WHERE mapping_id = $1::bigint"
    " AND status IN ('queued', 'running')";

/* clang-format on */

/* ---- helpers ---- */

static json_object *text_or_null(PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col) ? NULL : json_object_new_string(PQgetvalue(r, row, col));
}

static json_object *int_or_null(PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col)
               ? NULL
               : json_object_new_int64(strtoll(PQgetvalue(r, row, col), NULL, 10));
}

static int64_t int_at(PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col) ? 0 : strtoll(PQgetvalue(r, row, col), NULL, 10);
}

/* What the statements after the first need: the mapping's object keys and the window. */
struct window {
    char *sf_object; /* lower case; owned by the first result */
    char *hs_type;   /* lower case or NULL */
    char t0[32];     /* epoch seconds of the first bucket */
    char bucket[16], buckets[16], id[24];
    char rolled[24]; /* the rollup's watermark (epoch s), "" when none or not usable */
};

/* ---- one part each ---- */

static int read_mapping(PGconn *conn, const struct health_stats_query *q, struct window *w,
                        PGresult **keep, json_object *out, char *err, size_t errlen)
{
    snprintf(w->id, sizeof w->id, "%" PRId64, q->mapping_id);
    snprintf(w->bucket, sizeof w->bucket, "%d", q->bucket_s);
    snprintf(w->buckets, sizeof w->buckets, "%d",
             (q->minutes * 60 + q->bucket_s - 1) / q->bucket_s);
    const char *params[] = {w->id, w->bucket, w->buckets};
    PGresult *r = db_exec(conn, mapping_sql, 3, params, err, errlen);
    if (!r)
        return -1;
    if (PQntuples(r) != 1) {
        PQclear(r);
        return HEALTH_STATS_NOT_FOUND;
    }
    json_object *m = json_object_new_object();
    json_object_object_add(m, "id", int_or_null(r, 0, 0));
    json_object_object_add(m, "name", text_or_null(r, 0, 1));
    json_object_object_add(m, "state", text_or_null(r, 0, 2));
    json_object_object_add(out, "mapping", m);
    json_object *win = json_object_new_object();
    json_object_object_add(win, "from", text_or_null(r, 0, 6));
    json_object_object_add(win, "to", text_or_null(r, 0, 7));
    json_object_object_add(win, "bucket_s", json_object_new_int(q->bucket_s));
    json_object_object_add(out, "window", win);
    w->sf_object = PQgetvalue(r, 0, 3);
    w->hs_type = PQgetisnull(r, 0, 4) ? NULL : PQgetvalue(r, 0, 4);
    snprintf(w->t0, sizeof w->t0, "%s", PQgetvalue(r, 0, 5));
    /* the rollup serves buckets of whole periods once it has a watermark */
    if (!PQgetisnull(r, 0, 8) && q->bucket_s % HEALTH_ROLLUP_PERIOD_S == 0)
        snprintf(w->rolled, sizeof w->rolled, "%s", PQgetvalue(r, 0, 8));
    *keep = r;
    return HEALTH_STATS_OK;
}

static int read_series(PGconn *conn, const struct window *w, json_object *out, int64_t *synced,
                       int64_t *failed, char *err, size_t errlen)
{
    const char *params[] = {w->sf_object, w->hs_type, w->t0, w->bucket, w->buckets, w->rolled};
    PGresult *r = w->rolled[0] ? db_exec(conn, rollup_series_sql, 6, params, err, errlen)
                               : db_exec(conn, series_sql, 5, params, err, errlen);
    if (!r)
        return -1;
    json_object *series = json_object_new_array();
    for (int i = 0; i < PQntuples(r); i++) {
        json_object *b = json_object_new_object();
        json_object_object_add(b, "t", text_or_null(r, i, 0));
        json_object_object_add(b, "synced", json_object_new_int64(int_at(r, i, 1)));
        json_object_object_add(b, "failed", json_object_new_int64(int_at(r, i, 2)));
        json_object_object_add(b, "latency_p50_ms", int_or_null(r, i, 3));
        json_object_object_add(b, "latency_p95_ms", int_or_null(r, i, 4));
        json_object_array_add(series, b);
        *synced += int_at(r, i, 1);
        *failed += int_at(r, i, 2);
    }
    PQclear(r);
    json_object_object_add(out, "series", series);
    return 0;
}

/* One count(*) statement with params; -1 with err. */
static int64_t count_of(PGconn *conn, const char *sql, int n, const char *const *params, char *err,
                        size_t errlen)
{
    PGresult *r = db_exec(conn, sql, n, params, err, errlen);
    if (!r)
        return -1;
    int64_t v = int_at(r, 0, 0);
    PQclear(r);
    return v;
}

static int read_queue(PGconn *conn, const struct window *w, json_object *queue, char *err,
                      size_t errlen)
{
    const char *params[] = {w->sf_object, w->hs_type};
    PGresult *r = db_exec(conn, queue_sql, 2, params, err, errlen);
    if (!r)
        return -1;
    static const char *const names[] = {"pending", "processing", "held"};
    for (int c = 0; c < 3; c++)
        json_object_object_add(queue, names[c], json_object_new_int64(int_at(r, 0, c)));
    json_object_object_add(
        queue, "oldest_pending_age_s",
        PQgetisnull(r, 0, 3) ? NULL : json_object_new_double(strtod(PQgetvalue(r, 0, 3), NULL)));
    PQclear(r);
    return 0;
}

static json_object *example_json(PGresult *r, int row)
{
    json_object *e = json_object_new_object();
    json_object_object_add(e, "event_id", int_or_null(r, row, 2));
    json_object_object_add(e, "record_id", text_or_null(r, row, 3));
    json_object_object_add(e, "last_error", text_or_null(r, row, 4));
    json_object_object_add(e, "finished_at", text_or_null(r, row, 5));
    return e;
}

/* The errors list; *failed gets the number of failed events. */
static int read_errors(PGconn *conn, const struct window *w, json_object *out, int64_t *failed,
                       char *err, size_t errlen)
{
    char examples[8];
    snprintf(examples, sizeof examples, "%d", HEALTH_STATS_EXAMPLES);
    const char *params[] = {w->sf_object, w->hs_type, examples};
    PGresult *r = db_exec(conn, errors_sql, 3, params, err, errlen);
    if (!r)
        return -1;
    json_object *list = json_object_new_array();
    json_object *current = NULL;
    const char *current_name = NULL;
    for (int i = 0; i < PQntuples(r); i++) {
        const char *name = PQgetvalue(r, i, 0);
        if (!current_name || strcmp(current_name, name) != 0) {
            json_object *cat = json_object_new_object();
            json_object_object_add(cat, "category", json_object_new_string(name));
            json_object_object_add(cat, "count", json_object_new_int64(int_at(r, i, 1)));
            current = json_object_new_array();
            json_object_object_add(cat, "examples", current);
            json_object_array_add(list, cat);
            current_name = name;
            *failed += int_at(r, i, 1);
        }
        if (!PQgetisnull(r, i, 2))
            json_object_array_add(current, example_json(r, i));
    }
    PQclear(r);
    json_object_object_add(out, "errors", list);
    return 0;
}

/* Everything after the mapping row. 0, or -1 with err. */
static int read_parts(PGconn *conn, const struct window *w, json_object *out, char *err,
                      size_t errlen)
{
    int64_t synced = 0, failed = 0, queue_failed = 0;
    if (read_series(conn, w, out, &synced, &failed, err, errlen) < 0)
        return -1;
    const char *cparams[] = {w->id, w->t0};
    int64_t conflicts = count_of(conn, conflicts_sql, 2, cparams, err, errlen);
    if (conflicts < 0)
        return -1;
    json_object *totals = json_object_new_object();
    json_object_object_add(totals, "synced", json_object_new_int64(synced));
    json_object_object_add(totals, "failed", json_object_new_int64(failed));
    json_object_object_add(totals, "conflicts", json_object_new_int64(conflicts));
    json_object_object_add(out, "totals", totals);
    json_object *queue = json_object_new_object();
    json_object_object_add(out, "queue", queue);
    if (read_queue(conn, w, queue, err, errlen) < 0 ||
        read_errors(conn, w, out, &queue_failed, err, errlen) < 0)
        return -1;
    json_object_object_add(queue, "failed", json_object_new_int64(queue_failed));
    const char *iparams[] = {w->id};
    int64_t active = count_of(conn, imports_sql, 1, iparams, err, errlen);
    if (active < 0)
        return -1;
    json_object *imports = json_object_new_object();
    json_object_object_add(imports, "active", json_object_new_int64(active));
    json_object_object_add(out, "imports", imports);
    return 0;
}

int health_stats_mapping(PGconn *conn, const struct health_stats_query *q, json_object **out,
                         char *err, size_t errlen)
{
    *out = NULL;
    if (q->bucket_s <= 0 || q->minutes <= 0) {
        snprintf(err, errlen, "bad health window: %d minutes in %d s buckets", q->minutes,
                 q->bucket_s);
        return -1;
    }
    json_object *o = json_object_new_object();
    if (!o) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    struct window w = {0};
    PGresult *mapping = NULL;
    int rc = read_mapping(conn, q, &w, &mapping, o, err, errlen);
    if (rc == HEALTH_STATS_OK && read_parts(conn, &w, o, err, errlen) < 0)
        rc = -1;
    PQclear(mapping);
    if (rc != HEALTH_STATS_OK) {
        json_object_put(o);
        return rc;
    }
    *out = o;
    return HEALTH_STATS_OK;
}
