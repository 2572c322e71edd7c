/* link_store.c: the SQL of sync_links and sync_conflicts (migration 0006).
 *
 * Owns the structs link_load returns (sync_links_free) and the JSON conflict_list returns (the
 * caller puts it); nothing across calls.
 *
 * Design. Every batch is one statement whose rows travel as one parameter: a PostgreSQL text[]
 * literal for id lists (link_load), a JSON array read by jsonb_to_recordset for writes. Values
 * (sf_values, hs_values, salesforce_value) go to jsonb and come back as text parsed by json-c,
 * which keeps the original spelling of numbers, so 0.1 stays 0.1. link_save_batch resolves each
 * input to its target row (by id, else by Salesforce id, else by HubSpot id) under one snapshot,
 * refuses the whole batch when two inputs resolve to one row or one input to two rows (a "bad"
 * CTE that every write is conditioned on, so nothing is written), updates resolved rows and
 * inserts the others with ON CONFLICT on the partial unique index (predicate included), so a
 * concurrent insert of the same record turns into an update. Salesforce ids given with 15
 * characters match stored ones on their first 15 characters; 18-character ids match exactly
 * (index scans); the left(…,15) comparison is only planned when 15-character ids are given.
 *
 * Must not: call CRMs, decide sync semantics, log, or open transactions of its own. */
#include "db/link_store.h"

#include "db/page_json.h"
#include "db/pool.h"
#include "db/prune.h"
#include "base/strbuf.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SF_SHORT_ID_LEN 15

/* ---- small helpers ---- */

static void set_err(char *err, size_t errlen, const char *msg)
{
    snprintf(err, errlen, "%s", msg);
}

static int64_t to_i64(const char *text)
{
    return (int64_t)strtoll(text, NULL, 10);
}

/* Appends s as an element of a PostgreSQL array literal (always quoted, so NULL, commas,
 * braces and quotes inside ids are plain text). */
static void put_array_elem(struct strbuf *sb, const char *s, bool first)
{
    if (!first)
        strbuf_putc(sb, ',');
    strbuf_putc(sb, '"');
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            strbuf_putc(sb, '\\');
        strbuf_putc(sb, *s);
    }
    strbuf_putc(sb, '"');
}

/* Appends "key":"value" (or "key":null) with a leading comma unless first. */
static void put_json_str(struct strbuf *sb, const char *key, const char *value, bool first)
{
    strbuf_printf(sb, "%s\"%s\":", first ? "" : ",", key);
    if (!value) {
        strbuf_puts(sb, "null");
        return;
    }
    strbuf_putc(sb, '"');
    strbuf_json_escape(sb, value, strlen(value));
    strbuf_putc(sb, '"');
}

/* Appends ,"key":<json> unless v is NULL (NULL means "absent": SQL NULL in the recordset). */
static void put_json_value(struct strbuf *sb, const char *key, json_object *v)
{
    if (!v)
        return;
    strbuf_printf(sb, ",\"%s\":", key);
    strbuf_puts(sb, json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN));
}

static int buffer_ok(const struct strbuf *sb, char *err, size_t errlen)
{
    if (!sb->failed)
        return 0;
    set_err(err, errlen, "out of memory building the statement parameters");
    return -1;
}

/* Parses a jsonb text column; an object's NULL column becomes {} when empty_object. */
static json_object *parse_column(PGresult *res, int r, int c, bool empty_object)
{
    if (PQgetisnull(res, r, c))
        return empty_object ? json_object_new_object() : NULL;
    return json_tokener_parse(PQgetvalue(res, r, c));
}

static char *dup_column(PGresult *res, int r, int c)
{
    return PQgetisnull(res, r, c) ? NULL : strdup(PQgetvalue(res, r, c));
}

static int cmp_str_ptr(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The first string present twice among keys (n entries, NULLs skipped), or NULL. keys is
 * reordered. */
static const char *find_duplicate(const char **keys, size_t n)
{
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (keys[i])
            keys[m++] = keys[i];
    qsort(keys, m, sizeof *keys, cmp_str_ptr);
    for (size_t i = 1; i < m; i++)
        if (strcmp(keys[i - 1], keys[i]) == 0)
            return keys[i];
    return NULL;
}

/* ---- links: load ---- */

static const char load_sql[] =
    "SELECT id, salesforce_id, hubspot_id, state, sf_values::text, hs_values::text,"
    " pending::text FROM sync_links WHERE mapping_id = $1::bigint"
    " AND (salesforce_id = ANY($2::text[]) OR hubspot_id = ANY($4::text[])"
    /* planned away (custom plan) when no 15-character id is given */
    "  OR (cardinality($3::text[]) > 0 AND left(salesforce_id, 15) = ANY($3::text[])))"
    " ORDER BY id";

/* The three array literals of load_sql: exact Salesforce ids, 15-character ones, HubSpot ids. */
static void build_load_arrays(const char *const *sf_ids, size_t nsf, const char *const *hs_ids,
                              size_t nhs, struct strbuf arrays[3])
{
    bool first[3] = {true, true, true};
    for (int a = 0; a < 3; a++)
        strbuf_putc(&arrays[a], '{');
    for (size_t i = 0; i < nsf; i++) {
        if (!sf_ids[i])
            continue;
        int a = strlen(sf_ids[i]) == SF_SHORT_ID_LEN ? 1 : 0;
        put_array_elem(&arrays[a], sf_ids[i], first[a]);
        first[a] = false;
    }
    for (size_t i = 0; i < nhs; i++) {
        if (!hs_ids[i])
            continue;
        put_array_elem(&arrays[2], hs_ids[i], first[2]);
        first[2] = false;
    }
    for (int a = 0; a < 3; a++)
        strbuf_putc(&arrays[a], '}');
}

static int link_from_row(PGresult *res, int r, int64_t mapping_id, struct sync_link *l)
{
    l->id = to_i64(PQgetvalue(res, r, 0));
    l->mapping_id = mapping_id;
    l->salesforce_id = dup_column(res, r, 1);
    l->hubspot_id = dup_column(res, r, 2);
    l->deleted = strcmp(PQgetvalue(res, r, 3), "deleted") == 0;
    l->sf_values = parse_column(res, r, 4, true);
    l->hs_values = parse_column(res, r, 5, true);
    l->pending = PQgetisnull(res, r, 6) ? NULL : parse_column(res, r, 6, true);
    bool ok = l->sf_values && l->hs_values && (l->pending || PQgetisnull(res, r, 6)) &&
              (l->salesforce_id || PQgetisnull(res, r, 1)) &&
              (l->hubspot_id || PQgetisnull(res, r, 2));
    return ok ? 0 : -1;
}

int link_load(PGconn *conn, int64_t mapping_id, const char *const *sf_ids, size_t nsf,
              const char *const *hs_ids, size_t nhs, struct sync_link **out, size_t *n, char *err,
              size_t errlen)
{
    *out = NULL;
    *n = 0;
    if (nsf + nhs == 0)
        return 0;
    struct strbuf arrays[3] = {STRBUF_INIT, STRBUF_INIT, STRBUF_INIT};
    build_load_arrays(sf_ids, nsf, hs_ids, nhs, arrays);
    char mapping[24];
    snprintf(mapping, sizeof mapping, "%" PRId64, mapping_id);
    PGresult *res = NULL;
    if (buffer_ok(&arrays[0], err, errlen) == 0 && buffer_ok(&arrays[1], err, errlen) == 0 &&
        buffer_ok(&arrays[2], err, errlen) == 0) {
        const char *params[] = {mapping, arrays[0].data, arrays[1].data, arrays[2].data};
        res = db_exec(conn, load_sql, 4, params, err, errlen);
    }
    for (int a = 0; a < 3; a++)
        strbuf_free(&arrays[a]);
    if (!res)
        return -1;
    int rows = PQntuples(res);
    struct sync_link *links = rows ? calloc((size_t)rows, sizeof *links) : NULL;
    if (rows && !links) {
        PQclear(res);
        set_err(err, errlen, "out of memory loading links");
        return -1;
    }
    for (int r = 0; r < rows; r++) {
        if (link_from_row(res, r, mapping_id, &links[r]) < 0) {
            sync_links_free(links, (size_t)r + 1);
            PQclear(res);
            set_err(err, errlen, "out of memory or unreadable stored values loading links");
            return -1;
        }
    }
    PQclear(res);
    *out = links;
    *n = (size_t)rows;
    return 0;
}

void sync_links_free(struct sync_link *links, size_t n)
{
    if (!links)
        return;
    for (size_t i = 0; i < n; i++) {
        free(links[i].salesforce_id);
        free(links[i].hubspot_id);
        json_object_put(links[i].sf_values);
        json_object_put(links[i].hs_values);
        json_object_put(links[i].pending);
    }
    free(links);
}

/* Runs sql with $1 = mapping_id and $2 = the JSON text built in sb, then frees sb. The result
 * (caller clears), or NULL with err. */
static PGresult *exec_mapping_json(PGconn *conn, const char *sql, int64_t mapping_id,
                                   struct strbuf *sb, char *err, size_t errlen)
{
    PGresult *res = NULL;
    if (buffer_ok(sb, err, errlen) == 0) {
        char mapping[24];
        snprintf(mapping, sizeof mapping, "%" PRId64, mapping_id);
        const char *params[] = {mapping, sb->data};
        res = db_exec(conn, sql, 2, params, err, errlen);
    }
    strbuf_free(sb);
    return res;
}

/* ---- links: write-ahead records ---- */

static const char pending_sql[] = "UPDATE sync_links l SET pending = x.p"
                                  " FROM jsonb_to_recordset($2::jsonb) AS x(id bigint, p jsonb)"
                                  " WHERE l.mapping_id = $1::bigint AND l.id = x.id";

int link_store_pending(PGconn *conn, int64_t mapping_id, const struct link_pending *p, size_t n,
                       char *err, size_t errlen)
{
    if (n == 0)
        return 0;
    struct strbuf sb = STRBUF_INIT;
    strbuf_putc(&sb, '[');
    for (size_t i = 0; i < n; i++) {
        strbuf_printf(&sb, "%s{\"id\":%" PRId64, i ? "," : "", p[i].id);
        put_json_value(&sb, "p", p[i].pending);
        strbuf_putc(&sb, '}');
    }
    strbuf_putc(&sb, ']');
    PGresult *res = exec_mapping_json(conn, pending_sql, mapping_id, &sb, err, errlen);
    if (!res)
        return -1;
    PQclear(res);
    return 0;
}

/* ---- links: save ---- */

/* Columns of each input: o input position, id, sf/hs record ids, del, sfv/hsv values (absent:
 * unchanged), syn synced. t resolves the target row; bad lists every reason to refuse the batch;
 * each write runs only when bad is empty. Inserts split by arbiter index: rows with a Salesforce
 * id conflict on sync_links_salesforce, the others on sync_links_hubspot. */
static const char save_sql[] =
    "WITH x AS (SELECT * FROM jsonb_to_recordset($2::jsonb) AS x(o int, id bigint, sf text,"
    "  hs text, del boolean, sfv jsonb, hsv jsonb, syn boolean, kp boolean)),"
    " r AS (SELECT x.*,"
    "  (SELECT l.id FROM sync_links l WHERE l.mapping_id = $1::bigint AND l.id = x.id) AS by_id,"
    "  (SELECT l.id FROM sync_links l WHERE l.mapping_id = $1::bigint"
    "   AND l.salesforce_id = x.sf) AS by_sf,"
    "  (SELECT l.id FROM sync_links l WHERE l.mapping_id = $1::bigint"
    "   AND l.hubspot_id = x.hs) AS by_hs FROM x),"
    " t AS (SELECT r.*, CASE WHEN r.id > 0 THEN r.by_id ELSE COALESCE(r.by_sf, r.by_hs) END"
    "  AS target FROM r),"
    " bad AS (SELECT o, 'link ' || id || ' does not exist in this mapping' AS problem FROM t"
    "   WHERE id > 0 AND by_id IS NULL"
    "  UNION ALL SELECT o, 'salesforce id and hubspot id belong to two different links'"
    "   FROM t WHERE id = 0 AND by_sf <> by_hs"
    "  UNION ALL SELECT min(o), 'two inputs name the same link ' || target FROM t"
    "   WHERE target IS NOT NULL GROUP BY target HAVING count(*) > 1),"
    " u AS (UPDATE sync_links l SET salesforce_id = COALESCE(t.sf, l.salesforce_id),"
    "  hubspot_id = COALESCE(t.hs, l.hubspot_id),"
    "  state = CASE WHEN t.del THEN 'deleted' ELSE 'active' END,"
    "  sf_values = COALESCE(t.sfv, l.sf_values), hs_values = COALESCE(t.hsv, l.hs_values),"
    "  pending = NULL, updated_at = now(), synced_at = CASE WHEN t.syn THEN now() ELSE l.synced_at "
    "END"
    "  FROM t WHERE l.id = t.target AND NOT EXISTS (SELECT 1 FROM bad)"
    "  RETURNING t.o, l.id),"
    " i_sf AS (INSERT INTO sync_links AS l (mapping_id, salesforce_id, hubspot_id, state,"
    "   sf_values, hs_values, synced_at)"
    "  SELECT $1::bigint, t.sf, t.hs, CASE WHEN t.del THEN 'deleted' ELSE 'active' END,"
    "   COALESCE(t.sfv, '{}'), COALESCE(t.hsv, '{}'), CASE WHEN t.syn THEN now() END"
    "  FROM t WHERE t.target IS NULL AND t.sf IS NOT NULL AND NOT EXISTS (SELECT 1 FROM bad)"
    "  ORDER BY t.o"
    "  ON CONFLICT (mapping_id, salesforce_id) WHERE salesforce_id IS NOT NULL DO UPDATE SET"
    "   hubspot_id = COALESCE(EXCLUDED.hubspot_id, l.hubspot_id), state = EXCLUDED.state,"
    "   sf_values = COALESCE((SELECT t.sfv FROM t WHERE t.target IS NULL"
    "    AND t.sf = EXCLUDED.salesforce_id), l.sf_values),"
    "   hs_values = COALESCE((SELECT t.hsv FROM t WHERE t.target IS NULL"
    "    AND t.sf = EXCLUDED.salesforce_id), l.hs_values),"
    "   pending = NULL, updated_at = now(), synced_at = COALESCE(EXCLUDED.synced_at, l.synced_at)"
    "  RETURNING l.id, l.salesforce_id),"
    " i_hs AS (INSERT INTO sync_links AS l (mapping_id, salesforce_id, hubspot_id, state,"
    "   sf_values, hs_values, synced_at)"
    "  SELECT $1::bigint, NULL, t.hs, CASE WHEN t.del THEN 'deleted' ELSE 'active' END,"
    "   COALESCE(t.sfv, '{}'), COALESCE(t.hsv, '{}'), CASE WHEN t.syn THEN now() END"
    "  FROM t WHERE t.target IS NULL AND t.sf IS NULL AND NOT EXISTS (SELECT 1 FROM bad)"
    "  ORDER BY t.o"
    "  ON CONFLICT (mapping_id, hubspot_id) WHERE hubspot_id IS NOT NULL DO UPDATE SET"
    "   state = EXCLUDED.state,"
    "   sf_values = COALESCE((SELECT t.sfv FROM t WHERE t.target IS NULL AND t.sf IS NULL"
    "    AND t.hs = EXCLUDED.hubspot_id), l.sf_values),"
    "   hs_values = COALESCE((SELECT t.hsv FROM t WHERE t.target IS NULL AND t.sf IS NULL"
    "    AND t.hs = EXCLUDED.hubspot_id), l.hs_values),"
    "   pending = NULL, updated_at = now(), synced_at = COALESCE(EXCLUDED.synced_at, l.synced_at)"
    "  RETURNING l.id, l.hubspot_id)"
    " SELECT o, id, NULL FROM u"
    " UNION ALL SELECT t.o, i_sf.id, NULL FROM i_sf JOIN t ON t.target IS NULL"
    "  AND t.sf = i_sf.salesforce_id"
    " UNION ALL SELECT t.o, i_hs.id, NULL FROM i_hs JOIN t ON t.target IS NULL AND t.sf IS NULL"
    "  AND t.hs = i_hs.hubspot_id"
    " UNION ALL SELECT o, NULL, problem FROM bad"
    " ORDER BY 1";

/* Refuses what the statement cannot sort out: an input without any id, or one record id or
 * link id named twice (the statement could not tell which write wins). */
static int check_writes(const struct link_write *w, size_t n, char *err, size_t errlen)
{
    for (size_t i = 0; i < n; i++) {
        if (w[i].id < 0) {
            snprintf(err, errlen, "link %zu has a negative link id", i);
            return -1;
        }
        if (w[i].id == 0 && !w[i].salesforce_id && !w[i].hubspot_id) {
            snprintf(err, errlen, "link %zu has neither a link id nor a record id", i);
            return -1;
        }
    }
    const char **keys = malloc((n ? n : 1) * sizeof *keys);
    char(*idtext)[24] = malloc((n ? n : 1) * sizeof *idtext);
    if (!keys || !idtext) {
        free(keys);
        free(idtext);
        set_err(err, errlen, "out of memory checking the link batch");
        return -1;
    }
    static const char *const what[] = {"salesforce id", "hubspot id", "link id"};
    int rc = 0;
    for (int k = 0; k < 3 && rc == 0; k++) {
        for (size_t i = 0; i < n; i++) {
            snprintf(idtext[i], sizeof idtext[i], "%" PRId64, w[i].id);
            keys[i] = k == 0   ? w[i].salesforce_id
                      : k == 1 ? w[i].hubspot_id
                               : (w[i].id > 0 ? idtext[i] : NULL);
        }
        const char *dup = find_duplicate(keys, n);
        if (dup) {
            snprintf(err, errlen, "two links in one batch name the same %s %.64s", what[k], dup);
            rc = -1;
        }
    }
    free(keys);
    free(idtext);
    return rc;
}

static void build_save_json(const struct link_write *w, size_t n, struct strbuf *sb)
{
    strbuf_putc(sb, '[');
    for (size_t i = 0; i < n; i++) {
        strbuf_printf(sb, "%s{\"o\":%zu,\"id\":%" PRId64, i ? "," : "", i, w[i].id);
        put_json_str(sb, "sf", w[i].salesforce_id, false);
        put_json_str(sb, "hs", w[i].hubspot_id, false);
        strbuf_printf(sb, ",\"del\":%s,\"syn\":%s,\"kp\":%s", w[i].deleted ? "true" : "false",
                      w[i].synced ? "true" : "false", w[i].keep_pending ? "true" : "false");
        put_json_value(sb, "sfv", w[i].sf_values);
        put_json_value(sb, "hsv", w[i].hs_values);
        strbuf_putc(sb, '}');
    }
    strbuf_putc(sb, ']');
}

/* Copies the returned ids into ids_out by input position; a problem row becomes err. */
static int read_save_result(PGresult *res, size_t n, int64_t *ids_out, char *err, size_t errlen)
{
    int rows = PQntuples(res);
    for (int r = 0; r < rows; r++) {
        if (!PQgetisnull(res, r, 2)) {
            snprintf(err, errlen, "link %s: %s", PQgetvalue(res, r, 0), PQgetvalue(res, r, 2));
            return -1;
        }
    }
    if ((size_t)rows != n) {
        snprintf(err, errlen, "stored %d links of %zu", rows, n);
        return -1;
    }
    for (int r = 0; r < rows && ids_out; r++) {
        long o = strtol(PQgetvalue(res, r, 0), NULL, 10);
        if (o >= 0 && (size_t)o < n)
            ids_out[o] = to_i64(PQgetvalue(res, r, 1));
    }
    return 0;
}

int link_save_batch(PGconn *conn, int64_t mapping_id, const struct link_write *w, size_t n,
                    int64_t *ids_out, char *err, size_t errlen)
{
    if (n == 0)
        return 0;
    if (check_writes(w, n, err, errlen) < 0)
        return -1;
    struct strbuf sb = STRBUF_INIT;
    build_save_json(w, n, &sb);
    PGresult *res = exec_mapping_json(conn, save_sql, mapping_id, &sb, err, errlen);
    if (!res)
        return -1;
    int rc = read_save_result(res, n, ids_out, err, errlen);
    PQclear(res);
    return rc;
}

/* ---- links: HubSpot merges ---- */

static const char repoint_lock_sql[] =
    "SELECT id, hubspot_id, state FROM sync_links WHERE mapping_id = $1::bigint"
    " AND (hubspot_id = $2 OR hubspot_id = ANY($3::text[])) ORDER BY id FOR UPDATE";
static const char repoint_drop_sql[] =
    "DELETE FROM sync_links WHERE id = $1::bigint AND state = 'deleted'";
static const char repoint_sql[] =
    "UPDATE sync_links SET hubspot_id = CASE WHEN id = $2::bigint THEN $3 ELSE hubspot_id END,"
    " state = CASE WHEN id = $2::bigint THEN state ELSE 'deleted' END, updated_at = now()"
    " WHERE mapping_id = $1::bigint AND hubspot_id = ANY($4::text[]) AND state = 'active'";

struct repoint_plan {
    int64_t survivor_active;  /* the survivor's active link, 0: none */
    int64_t survivor_deleted; /* the survivor's deleted link, 0: none */
    int64_t move;             /* the merged link that moves to the survivor, 0: none */
};

/* Decides from the locked rows (id, hubspot_id, state): the survivor's links, and the active link
 * of the first merged id (in the caller's order) that has one. */
static void plan_repoint(PGresult *res, const char *survivor_id, const char *const *merged_ids,
                         size_t n, struct repoint_plan *p)
{
    memset(p, 0, sizeof *p);
    int rows = PQntuples(res);
    for (int r = 0; r < rows; r++) {
        if (strcmp(PQgetvalue(res, r, 1), survivor_id) != 0)
            continue;
        int64_t id = to_i64(PQgetvalue(res, r, 0));
        if (strcmp(PQgetvalue(res, r, 2), "active") == 0)
            p->survivor_active = id;
        else
            p->survivor_deleted = id;
    }
    if (p->survivor_active)
        return;
    for (size_t i = 0; i < n && !p->move; i++) {
        for (int r = 0; r < rows && !p->move; r++) {
            if (merged_ids[i] && strcmp(PQgetvalue(res, r, 1), merged_ids[i]) == 0 &&
                strcmp(merged_ids[i], survivor_id) != 0 &&
                strcmp(PQgetvalue(res, r, 2), "active") == 0)
                p->move = to_i64(PQgetvalue(res, r, 0));
        }
    }
}

static void build_merged_array(const char *survivor_id, const char *const *merged_ids, size_t n,
                               struct strbuf *sb)
{
    bool first = true;
    strbuf_putc(sb, '{');
    for (size_t i = 0; i < n; i++) {
        if (!merged_ids[i] || strcmp(merged_ids[i], survivor_id) == 0)
            continue;
        put_array_elem(sb, merged_ids[i], first);
        first = false;
    }
    strbuf_putc(sb, '}');
}

/* Runs the plan: the survivor's deleted link (history of a pair that no longer exists) makes
 * room for the moved one; then one update moves and marks. */
static int apply_repoint(PGconn *conn, const char *mapping, const char *survivor_id,
                         const char *merged, const struct repoint_plan *p, char *err, size_t errlen)
{
    char move[24], drop[24];
    snprintf(move, sizeof move, "%" PRId64, p->move);
    snprintf(drop, sizeof drop, "%" PRId64, p->survivor_deleted);
    if (p->move && p->survivor_deleted) {
        const char *params[] = {drop};
        PGresult *res = db_exec(conn, repoint_drop_sql, 1, params, err, errlen);
        if (!res)
            return -1;
        PQclear(res);
    }
    const char *params[] = {mapping, move, survivor_id, merged};
    PGresult *res = db_exec(conn, repoint_sql, 4, params, err, errlen);
    if (!res)
        return -1;
    PQclear(res);
    return 0;
}

int link_repoint_hubspot(PGconn *conn, int64_t mapping_id, const char *survivor_id,
                         const char *const *merged_ids, size_t n, int64_t *moved, char *err,
                         size_t errlen)
{
    if (moved)
        *moved = 0;
    if (!survivor_id || !*survivor_id) {
        set_err(err, errlen, "a HubSpot merge needs the survivor's record id");
        return -1;
    }
    struct strbuf merged = STRBUF_INIT;
    build_merged_array(survivor_id, merged_ids, n, &merged);
    if (buffer_ok(&merged, err, errlen) < 0) {
        strbuf_free(&merged);
        return -1;
    }
    char mapping[24];
    snprintf(mapping, sizeof mapping, "%" PRId64, mapping_id);
    const char *params[] = {mapping, survivor_id, merged.data};
    PGresult *res = db_exec(conn, repoint_lock_sql, 3, params, err, errlen);
    int rc = -1;
    if (res) {
        struct repoint_plan plan;
        plan_repoint(res, survivor_id, merged_ids, n, &plan);
        PQclear(res);
        rc = apply_repoint(conn, mapping, survivor_id, merged.data, &plan, err, errlen);
        if (rc == 0 && moved)
            *moved = plan.move;
    }
    strbuf_free(&merged);
    return rc;
}

long long link_count(PGconn *conn, int64_t mapping_id, char *err, size_t errlen)
{
    char mapping[24];
    snprintf(mapping, sizeof mapping, "%" PRId64, mapping_id);
    const char *params[] = {mapping};
    PGresult *res = db_exec(conn,
                            "SELECT count(*) FROM sync_links WHERE mapping_id = $1::bigint"
                            " AND state = 'active'",
                            1, params, err, errlen);
    if (!res)
        return -1;
    long long count = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    PQclear(res);
    return count;
}

/* ---- conflicts ---- */

static const char conflict_insert_sql[] =
    "INSERT INTO sync_conflicts (mapping_id, link_id, salesforce_id, hubspot_id,"
    " salesforce_field, hubspot_property, salesforce_value, hubspot_value, winner, reason)"
    " SELECT x.m, NULLIF(x.l, 0), x.sf, x.hs, x.f, x.p, x.sv, COALESCE(x.hv, ''), x.w, x.r"
    " FROM jsonb_to_recordset($1::jsonb) AS x(o int, m bigint, l bigint, sf text, hs text,"
    "  f text, p text, sv jsonb, hv text, w text, r text)"
    " ORDER BY x.o";

static int check_conflict(const struct conflict_row *c, size_t i, char *err, size_t errlen)
{
    if (c->salesforce_field && c->hubspot_property && c->reason && c->winner &&
        (strcmp(c->winner, "salesforce") == 0 || strcmp(c->winner, "hubspot") == 0))
        return 0;
    snprintf(err, errlen,
             "conflict %zu needs a field, a property, a reason and a winner"
             " (salesforce or hubspot)",
             i);
    return -1;
}

static void put_conflict_json(struct strbuf *sb, const struct conflict_row *c, size_t i)
{
    strbuf_printf(sb, "%s{\"o\":%zu,\"m\":%" PRId64 ",\"l\":%" PRId64, i ? "," : "", i,
                  c->mapping_id, c->link_id);
    put_json_str(sb, "sf", c->salesforce_id, false);
    put_json_str(sb, "hs", c->hubspot_id, false);
    put_json_str(sb, "f", c->salesforce_field, false);
    put_json_str(sb, "p", c->hubspot_property, false);
    put_json_value(sb, "sv", c->salesforce_value);
    put_json_str(sb, "hv", c->hubspot_value, false);
    put_json_str(sb, "w", c->winner, false);
    put_json_str(sb, "r", c->reason, false);
    strbuf_putc(sb, '}');
}

int conflict_insert_batch(PGconn *conn, const struct conflict_row *rows, size_t n, char *err,
                          size_t errlen)
{
    if (n == 0)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (check_conflict(&rows[i], i, err, errlen) < 0)
            return -1;
    struct strbuf sb = STRBUF_INIT;
    strbuf_putc(&sb, '[');
    for (size_t i = 0; i < n; i++)
        put_conflict_json(&sb, &rows[i], i);
    strbuf_putc(&sb, ']');
    if (buffer_ok(&sb, err, errlen) < 0) {
        strbuf_free(&sb);
        return -1;
    }
    const char *params[] = {sb.data};
    PGresult *res = db_exec(conn, conflict_insert_sql, 1, params, err, errlen);
    strbuf_free(&sb);
    if (!res)
        return -1;
    PQclear(res);
    return 0;
}

static const char conflict_list_sql[] =
    "SELECT id, mapping_id, link_id, salesforce_id, hubspot_id, salesforce_field,"
    " hubspot_property, salesforce_value::text, hubspot_value, winner, reason,"
    " to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"
    " FROM sync_conflicts"
    " WHERE ($1::bigint = 0 OR mapping_id = $1::bigint)"
    " AND ($2::text IS NULL OR salesforce_id = $2::text"
    "  OR (length($2::text) = 15 AND left(salesforce_id, 15) = $2::text))"
    " AND ($3::text IS NULL OR hubspot_id = $3::text)"
    " AND ($4::text IS NULL OR salesforce_field = $4::text OR hubspot_property = $4::text)"
    " AND ($5::bigint = 0 OR id < $5::bigint)"
    " AND ($7::text IS NULL OR winner = $7::text)"
    " AND ($8::text IS NULL OR salesforce_id = $8::text OR hubspot_id = $8::text"
    "  OR (length($8::text) = 15 AND left(salesforce_id, 15) = $8::text))"
    " ORDER BY id DESC LIMIT $6::int";

enum conflict_col_kind { COL_INT, COL_TEXT, COL_JSON };

static const struct {
    const char *name;
    enum conflict_col_kind kind;
} conflict_cols[] = {
    {"id", COL_INT},
    {"mapping_id", COL_INT},
    {"link_id", COL_INT},
    {"salesforce_id", COL_TEXT},
    {"hubspot_id", COL_TEXT},
    {"salesforce_field", COL_TEXT},
    {"hubspot_property", COL_TEXT},
    {"salesforce_value", COL_JSON},
    {"hubspot_value", COL_TEXT},
    {"winner", COL_TEXT},
    {"reason", COL_TEXT},
    {"occurred_at", COL_TEXT},
};

static json_object *conflict_row_json(PGresult *res, int r)
{
    json_object *o = json_object_new_object();
    for (int c = 0; c < (int)(sizeof conflict_cols / sizeof conflict_cols[0]); c++) {
        json_object *v = NULL;
        if (!PQgetisnull(res, r, c)) {
            const char *text = PQgetvalue(res, r, c);
            v = conflict_cols[c].kind == COL_INT    ? json_object_new_int64(to_i64(text))
                : conflict_cols[c].kind == COL_JSON ? json_tokener_parse(text)
                                                    : json_object_new_string(text);
        }
        json_object_object_add(o, conflict_cols[c].name, v);
    }
    return o;
}

json_object *conflict_list(PGconn *conn, const struct conflict_filter *f, char *err, size_t errlen)
{
    if (f->limit < 1 || f->limit > 500 || f->before_id < 0 || f->mapping_id < 0) {
        set_err(err, errlen, "limit must be 1..500 and ids must not be negative");
        return NULL;
    }
    char mapping[24], before[24], limit[16];
    snprintf(mapping, sizeof mapping, "%" PRId64, f->mapping_id);
    snprintf(before, sizeof before, "%" PRId64, f->before_id);
    snprintf(limit, sizeof limit, "%d", f->limit);
    const char *params[] = {mapping, f->salesforce_id, f->hubspot_id, f->field, before,
                            limit,   f->winner,        f->record};
    PGresult *res = db_exec(conn, conflict_list_sql, 8, params, err, errlen);
    if (!res)
        return NULL;
    json_object *out = db_page_json(res, f->limit, "conflicts", "next_before", conflict_row_json);
    PQclear(res);
    return out;
}

long conflict_prune(PGconn *conn, long retention_s, int batch, char *err, size_t errlen)
{
    return db_prune_batch(conn,
                          "DELETE FROM sync_conflicts WHERE id IN (SELECT id FROM sync_conflicts"
                          " WHERE occurred_at < now() - $1::bigint * interval '1 second'"
                          " ORDER BY occurred_at LIMIT $2::int FOR UPDATE SKIP LOCKED)",
                          "conflicts", retention_s, batch, err, errlen);
}

/* ---- the HubSpot deletion audit ---- */

int link_audit_next(PGconn *conn, int64_t mapping_id, int64_t after_id,
                    const struct link_audit_scale *scale, struct link_audit_batch *out, char *err,
                    size_t errlen)
{
    memset(out, 0, sizeof *out);
    char mid[24], from[24], sweeps[16], least[16], most[16];
    snprintf(mid, sizeof mid, "%" PRId64, mapping_id);
    snprintf(from, sizeof from, "%" PRId64, after_id);
    snprintf(sweeps, sizeof sweeps, "%d", scale->sweeps);
    snprintf(least, sizeof least, "%d", scale->least);
    snprintf(most, sizeof most, "%d", scale->most > scale->least ? scale->most : scale->least);
    const char *params[] = {mid, from, sweeps, least, most};
    PGresult *res = db_exec(conn,
                            "WITH n AS (SELECT count(*) AS links FROM sync_links"
                            "  WHERE mapping_id = $1::bigint AND state = 'active'"
                            "  AND hubspot_id IS NOT NULL)"
                            " SELECT id, hubspot_id FROM sync_links WHERE mapping_id = $1::bigint"
                            " AND state = 'active' AND hubspot_id IS NOT NULL AND id > $2::bigint"
                            " ORDER BY id LIMIT (SELECT least($5::bigint, greatest($4::bigint,"
                            "  (links + $3::bigint - 1) / $3::bigint)) FROM n)",
                            5, params, err, errlen);
    if (!res)
        return -1;
    size_t rows = (size_t)PQntuples(res);
    out->hubspot_ids = calloc(rows + 1, sizeof *out->hubspot_ids);
    int rc = out->hubspot_ids ? 0 : -1;
    for (size_t i = 0; rc == 0 && i < rows; i++) {
        out->hubspot_ids[i] = strdup(PQgetvalue(res, (int)i, 1));
        rc = out->hubspot_ids[i] ? 0 : -1;
        out->n = i + 1;
    }
    if (rc == 0 && rows > 0)
        out->last_id = to_i64(PQgetvalue(res, (int)rows - 1, 0));
    PQclear(res);
    if (rc < 0) {
        link_audit_batch_free(out);
        set_err(err, errlen, "out of memory reading the links to audit");
    }
    return rc;
}

void link_audit_batch_free(struct link_audit_batch *b)
{
    for (size_t i = 0; b->hubspot_ids && i < b->n; i++)
        free(b->hubspot_ids[i]);
    free(b->hubspot_ids);
    memset(b, 0, sizeof *b);
}
