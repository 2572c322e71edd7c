/* history_store.c: sync_history and the console's record queries (see history_store.h).
 *
 * The append sends the rows with COPY (text format): a batch's ~1,200 rows cost the server about a
 * third of what one statement with a JSON array parameter did (jsonb_to_recordset spent two thirds
 * of its time parsing the array; bench/README.md).
 * The read queries build each row's JSON in PostgreSQL (json_build_object) and this file only
 * collects them. Cursors are decimal ids as text (keyset on id, newest first).
 *
 * Must not: log, decide what is recorded, or build SQL from values. */
#include "db/history_store.h"

#include "db/pool.h"
#include "db/prune.h"

#include "base/strbuf.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void set_err(char *err, size_t errlen, const char *msg)
{
    if (err && errlen)
        snprintf(err, errlen, "%s", msg);
}

static bool one_of(const char *s, const char *const *names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(s, names[i]) == 0)
            return true;
    return false;
}

static const char *const kinds[] = {"event", "decision",    "write", "conflict",
                                    "error", "association", "skip"};
static const char *const sides[] = {"salesforce", "hubspot"};

/* COPY's text format escapes: the backslash, and the row and column separators. */
static const char *const copy_escapes[256] = {
    ['\\'] = "\\\\", ['\t'] = "\\t", ['\n'] = "\\n", ['\r'] = "\\r"};

/* Appends s to sb escaped for COPY's text format; NULL is COPY's null marker. */
static void copy_text(struct strbuf *sb, const char *s)
{
    if (!s) {
        strbuf_append(sb, "\\N", 2);
        return;
    }
    const char *run = s;
    for (const char *p = s; *p; p++) {
        const char *esc = copy_escapes[(unsigned char)*p];
        if (!esc)
            continue;
        strbuf_append(sb, run, (size_t)(p - run));
        strbuf_append(sb, esc, 2);
        run = p + 1;
    }
    strbuf_puts(sb, run);
}

static void copy_id(struct strbuf *sb, int64_t v)
{
    if (v > 0)
        strbuf_printf(sb, "%" PRId64, v);
    else
        strbuf_append(sb, "\\N", 2);
}

/* One row of COPY's text format: the columns of append_sql, tab-separated, newline-ended. */
static void copy_row(struct strbuf *sb, const struct history_row *r)
{
    strbuf_printf(sb, "%" PRId64 "\t", r->mapping_id);
    copy_id(sb, r->link_id);
    const char *texts[] = {r->salesforce_id, r->hubspot_id, r->kind, r->side, r->actor};
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        strbuf_putc(sb, '\t');
        copy_text(sb, texts[i]);
    }
    strbuf_putc(sb, '\t');
    copy_id(sb, r->event_id);
    strbuf_putc(sb, '\t');
    copy_text(sb, r->summary);
    strbuf_putc(sb, '\t');
    copy_text(sb, r->details ? json_object_to_json_string_ext(r->details, JSON_C_TO_STRING_PLAIN)
                             : "{}");
    strbuf_putc(sb, '\n');
}

/* COPY keeps the input's order, so ids ascend in the caller's order. */
#define APPEND_COPY                                                                                \
    "COPY sync_history (mapping_id, link_id, salesforce_id, hubspot_id, kind, side, actor,"        \
    " event_id, summary, details) FROM STDIN"

/* The guarded append opens its savepoint in the same round trip as the COPY and leaves it for
 * the commit to release (a savepoint ends with its transaction): one round trip, not three. */
static const char append_sql[] = APPEND_COPY;
static const char append_guarded_sql[] = "SAVEPOINT synkro_history; " APPEND_COPY;

static int rows_valid(const struct history_row *rows, size_t n, char *err, size_t errlen)
{
    for (size_t i = 0; i < n; i++) {
        const struct history_row *r = &rows[i];
        if (!r->summary || !r->kind || !one_of(r->kind, kinds, sizeof kinds / sizeof kinds[0]) ||
            (r->side && !one_of(r->side, sides, 2))) {
            snprintf(err, errlen,
                     "history row %zu needs a summary, a known kind and a side of salesforce,"
                     " hubspot or none",
                     i);
            return 0;
        }
    }
    return 1;
}

/* The rows as COPY input in sb: 0, or -1 (out of memory, err set). */
static int copy_input(struct strbuf *sb, const struct history_row *rows, size_t n, char *err,
                      size_t errlen)
{
    for (size_t i = 0; i < n; i++)
        copy_row(sb, &rows[i]);
    if (!sb->failed)
        return 0;
    set_err(err, errlen, "out of memory building the history rows");
    return -1;
}

int history_append(PGconn *conn, const struct history_row *rows, size_t n, char *err, size_t errlen)
{
    if (n == 0)
        return 0;
    if (!rows_valid(rows, n, err, errlen))
        return -1;
    struct strbuf sb = STRBUF_INIT;
    int rc = copy_input(&sb, rows, n, err, errlen);
    if (rc == 0)
        rc = db_copy_in(conn, append_sql, sb.data, sb.len, err, errlen);
    strbuf_free(&sb);
    return rc;
}

int history_append_guarded(PGconn *conn, const struct history_row *rows, size_t n, char *err,
                           size_t errlen)
{
    if (n == 0)
        return 0;
    /* refused before the database is asked: the transaction is untouched */
    if (!rows_valid(rows, n, err, errlen))
        return 1;
    struct strbuf sb = STRBUF_INIT;
    if (copy_input(&sb, rows, n, err, errlen) < 0) {
        strbuf_free(&sb);
        return 1;
    }
    int rc = db_copy_in(conn, append_guarded_sql, sb.data, sb.len, err, errlen);
    strbuf_free(&sb);
    if (rc == 0)
        return 0;
    /* the COPY was refused: back to the savepoint; when that fails too, the savepoint itself
     * was refused (the transaction had already failed) and the transaction is lost */
    char rerr[256];
    return db_exec_command(conn, "ROLLBACK TO SAVEPOINT synkro_history", rerr, sizeof rerr) < 0 ? -1
                                                                                                : 1;
}

/* A cursor (a previous answer's next): a positive decimal id; 0 for none; -1 when malformed. */
static int64_t parse_cursor(const char *s)
{
    if (!s || !*s)
        return 0;
    if (strlen(s) > 19)
        return -1;
    for (const char *p = s; *p; p++)
        if (*p < '0' || *p > '9')
            return -1;
    errno = 0;
    long long v = strtoll(s, NULL, 10);
    return errno || v < 1 ? -1 : (int64_t)v;
}

/* {"<items>":[the JSON of column 1 of each row],"next":"<column 0 of the last row>"|null}: next
 * is set when the page is full. Does not clear res. */
static json_object *page_json(PGresult *res, int limit, const char *items)
{
    json_object *out = json_object_new_object();
    json_object *arr = json_object_new_array();
    int n = PQntuples(res);
    for (int r = 0; r < n; r++)
        json_object_array_add(arr, json_tokener_parse(PQgetvalue(res, r, 1)));
    json_object_object_add(out, items, arr);
    json_object_object_add(out, "next",
                           n == limit && n > 0 ? json_object_new_string(PQgetvalue(res, n - 1, 0))
                                               : NULL);
    return out;
}

#define ISO_UTC(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"

/* Three index scans, each at most limit rows: the link's own entries, and those recorded for
 * its records before it existed (by Salesforce id, then by HubSpot id not already matched). */
static const char timeline_sql[] =
    "WITH l AS (SELECT id, mapping_id, salesforce_id, hubspot_id FROM sync_links"
    "  WHERE id = $1::bigint)"
    " SELECT h.id, json_build_object('id', h.id, 'at', " ISO_UTC(
        "h.occurred_at") ","
                         "  'kind', h.kind, 'side', h.side, 'actor', h.actor, 'summary', h.summary,"
                         "  'event_id', h.event_id, 'details', h.details)::text"
                         " FROM ((SELECT x.* FROM sync_history x, l WHERE x.link_id = l.id"
                         "   AND ($2::bigint = 0 OR x.id < $2::bigint) ORDER BY x.id DESC LIMIT "
                         "$3::int)"
                         "  UNION ALL (SELECT x.* FROM sync_history x, l WHERE x.link_id IS NULL"
                         "   AND x.mapping_id = l.mapping_id AND x.salesforce_id = l.salesforce_id"
                         "   AND ($2::bigint = 0 OR x.id < $2::bigint) ORDER BY x.id DESC LIMIT "
                         "$3::int)"
                         "  UNION ALL (SELECT x.* FROM sync_history x, l WHERE x.link_id IS NULL"
                         "   AND x.mapping_id = l.mapping_id AND x.hubspot_id = l.hubspot_id"
                         "   AND x.salesforce_id IS DISTINCT FROM l.salesforce_id"
                         "   AND ($2::bigint = 0 OR x.id < $2::bigint) ORDER BY x.id DESC LIMIT "
                         "$3::int)) h"
                         " ORDER BY h.id DESC LIMIT $3::int";

/* 1 when link id exists, 0 when not, -1 with err. */
static int link_exists(PGconn *conn, const char *id, char *err, size_t errlen)
{
    const char *params[] = {id};
    PGresult *res =
        db_exec(conn, "SELECT 1 FROM sync_links WHERE id = $1::bigint", 1, params, err, errlen);
    if (!res)
        return -1;
    int found = PQntuples(res) > 0;
    PQclear(res);
    return found;
}

int history_timeline(PGconn *conn, int64_t link_id, const char *before, int limit,
                     json_object **out, char *err, size_t errlen)
{
    *out = NULL;
    int64_t b = parse_cursor(before);
    if (link_id < 1 || b < 0 || limit < 1 || limit > 200) {
        set_err(err, errlen,
                "the timeline needs a link id, a cursor from a previous answer and"
                " a limit of 1 to 200");
        return -1;
    }
    char id[24], bs[24], lim[16];
    snprintf(id, sizeof id, "%" PRId64, link_id);
    snprintf(bs, sizeof bs, "%" PRId64, b);
    snprintf(lim, sizeof lim, "%d", limit);
    int found = link_exists(conn, id, err, errlen);
    if (found <= 0)
        return found;
    const char *params[] = {id, bs, lim};
    PGresult *res = db_exec(conn, timeline_sql, 3, params, err, errlen);
    if (!res)
        return -1;
    *out = page_json(res, limit, "entries");
    PQclear(res);
    return 1;
}

#define RECORD_JSON                                                                                \
    "json_build_object('link_id', l.id, 'mapping_id', l.mapping_id, 'mapping_name', m.name,"       \
    " 'salesforce_object', m.salesforce_object, 'hubspot_object', m.hubspot_object,"               \
    " 'salesforce_id', l.salesforce_id, 'hubspot_id', l.hubspot_id, 'label', l.label,"             \
    " 'last_synced_at', " ISO_UTC("l.synced_at")

/* With no q: every link, newest first. */
static const char list_sql[] = "SELECT l.id, " RECORD_JSON ")::text"
                               " FROM sync_links l LEFT JOIN mappings m ON m.id = l.mapping_id"
                               " WHERE ($2::bigint = 0 OR l.mapping_id = $2::bigint)"
                               " AND ($3::bigint = 0 OR l.id < $3::bigint) AND $1::text IS NULL"
                               " ORDER BY l.id DESC LIMIT $4::int";

/* Each way of matching q is its own index scan, and the matches drive the rest: either id through
 * the unique (mapping, id) indexes of 0006, one probe per mapping (links of a deleted mapping are
 * not searched), a 15-character Salesforce id through (mapping, its first 15), the label's start
 * without case (LIKE with q's wildcards escaped, so they are plain text); newest link first,
 * after the cursor. */
static const char search_sql[] =
    "WITH p AS MATERIALIZED (SELECT array_agg(id) AS ids FROM mappings"
    "  WHERE $2::bigint = 0 OR id = $2::bigint)"
    " SELECT l.id, " RECORD_JSON ")::text"
    " FROM (SELECT s.id FROM sync_links s, p WHERE s.mapping_id = ANY(p.ids)"
    "   AND s.salesforce_id = $1::text"
    "  UNION SELECT s.id FROM sync_links s, p WHERE s.mapping_id = ANY(p.ids)"
    "   AND left(s.salesforce_id, 15) = $1::text AND s.salesforce_id IS NOT NULL"
    "   AND length($1::text) = 15"
    "  UNION SELECT s.id FROM sync_links s, p WHERE s.mapping_id = ANY(p.ids)"
    "   AND s.hubspot_id = $1::text"
    "  UNION SELECT id FROM sync_links WHERE label IS NOT NULL AND lower(label) LIKE"
    "   replace(replace(replace(lower($1::text), '\\', '\\\\'), '%', '\\%'), '_', '\\_')"
    "   || '%') u"
    " JOIN sync_links l ON l.id = u.id LEFT JOIN mappings m ON m.id = l.mapping_id"
    " WHERE ($2::bigint = 0 OR l.mapping_id = $2::bigint)"
    " AND ($3::bigint = 0 OR l.id < $3::bigint)"
    " ORDER BY l.id DESC LIMIT $4::int";

json_object *record_search(PGconn *conn, const struct record_query *rq, char *err, size_t errlen)
{
    int64_t after = parse_cursor(rq->after);
    if (rq->limit < 1 || rq->limit > 100 || rq->mapping_id < 0 || after < 0 ||
        (rq->q && (!*rq->q || strlen(rq->q) > HISTORY_QUERY_MAX))) {
        set_err(err, errlen,
                "the search needs 1 to 200 characters, a limit of 1 to 100 and a"
                " cursor from a previous answer");
        return NULL;
    }
    char mapping[24], as[24], lim[16];
    snprintf(mapping, sizeof mapping, "%" PRId64, rq->mapping_id);
    snprintf(as, sizeof as, "%" PRId64, after);
    snprintf(lim, sizeof lim, "%d", rq->limit);
    const char *params[] = {rq->q, mapping, as, lim};
    PGresult *res = db_exec(conn, rq->q ? search_sql : list_sql, 4, params, err, errlen);
    if (!res)
        return NULL;
    json_object *out = page_json(res, rq->limit, "records");
    PQclear(res);
    return out;
}

/* The mapping document's fields in order with both bases; a field whose base the link does not
 * hold has null there. */
static const char detail_sql[] =
    "SELECT l.id, " RECORD_JSON ", 'state', l.state,"
    " 'fields', COALESCE((SELECT json_agg(json_build_object("
    "   'salesforce_field', f->>'salesforce', 'hubspot_property', f->>'hubspot',"
    "   'rule', COALESCE(f->>'rule', 'two_way'),"
    "   'base', COALESCE(l.sf_values->(f->>'salesforce'), to_jsonb(l.hs_values->>(f->>'hubspot'))),"
    "   'base_salesforce', l.sf_values->(f->>'salesforce'),"
    "   'base_hubspot', l.hs_values->(f->>'hubspot')) ORDER BY i)"
    "  FROM jsonb_array_elements(CASE WHEN jsonb_typeof(m.document->'fields') = 'array'"
    "   THEN m.document->'fields' ELSE '[]' END) WITH ORDINALITY AS e(f, i)), '[]'))::text"
    " FROM sync_links l LEFT JOIN mappings m ON m.id = l.mapping_id WHERE l.id = $1::bigint";

int record_detail(PGconn *conn, int64_t link_id, json_object **out, char *err, size_t errlen)
{
    *out = NULL;
    char id[24];
    snprintf(id, sizeof id, "%" PRId64, link_id);
    const char *params[] = {id};
    PGresult *res = db_exec(conn, detail_sql, 1, params, err, errlen);
    if (!res)
        return -1;
    int found = PQntuples(res) > 0;
    if (found)
        *out = json_tokener_parse(PQgetvalue(res, 0, 1));
    PQclear(res);
    if (found && !*out) {
        set_err(err, errlen, "out of memory reading the record");
        return -1;
    }
    return found;
}

long history_prune(PGconn *conn, long retention_s, int batch, char *err, size_t errlen)
{
    return db_prune_batch(conn,
                          "DELETE FROM sync_history WHERE id IN (SELECT id FROM sync_history"
                          " WHERE occurred_at < now() - $1::bigint * interval '1 second'"
                          " ORDER BY occurred_at LIMIT $2::int FOR UPDATE SKIP LOCKED)",
                          "the history", retention_s, batch, err, errlen);
}
