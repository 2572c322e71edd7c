/* sweep.c: the reconciliation sweep of one mapping (Salesforce getUpdated/getDeleted, HubSpot
 * search by hs_lastmodifieddate) into change events, and the background thread that runs sweeps
 * and import steps.
 *
 * Owns: the sweeper thread (its stop flag guarded by sweeper->lock), the metric families
 * (registered once), and one event batch per running section (heap, freed before returning).
 * Design: three sections per mapping, each reading its cursor, walking its windows/pages,
 * queueing events in batches of SWEEP_BATCH (one statement each, idempotent keys) and storing
 * the cursor after the batch commits. A failing section leaves its cursor where it was; the next
 * sweep repeats its window and the keys make that harmless. The SystemModstamp query of
 * getUpdated's ids is built by crm/soql (ids that are not record ids are skipped).
 * Must not: write to either CRM, or keep a database connection between sweeps. */
#include "sync/sweep.h"

#include "base/clock.h"

#include "db/import_store.h"
#include "db/link_store.h"
#include "db/pool.h"
#include "db/queue.h"
#include "crm/crm_access.h"
#include "base/iso8601.h"
#include "base/log.h"
#include "base/metrics.h"
#include "crm/hubspot_client.h"
#include "base/json_util.h"
#include "crm/salesforce_client.h"
#include "crm/soql.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SWEEP_BATCH        200
#define DAY_MS             86400000LL
#define SF_UPDATED_DAYS    30
#define SF_DELETED_DAYS    15
#define SF_RANGE_MARGIN_MS (10LL * 60 * 1000) /* stay this far inside the CRM's look-back */
#define SF_MAX_WINDOWS     40                 /* one-day windows per section and sweep */
#define HS_MAX_PAGES       1000               /* search pages per sweep */

/* ---- metrics ---- */

static struct metric_family *m_events;
static struct metric_family *m_runs;
static struct metrics_once metrics_once;

static void metrics_init(void)
{
    static const char *const ev_labels[] = {"mapping", "source", "kind"};
    static const char *const run_labels[] = {"outcome"};
    m_events = metrics_register(METRIC_COUNTER, "synkro_sweep_events_total",
                                "Change events queued by reconciliation sweeps (new ones only).",
                                ev_labels, 3, NULL, 0);
    m_runs = metrics_register(METRIC_COUNTER, "synkro_sweep_runs_total",
                              "Reconciliation sweeps of one mapping, by outcome (ok, error, busy).",
                              run_labels, 1, NULL, 0);
}

static void count_events(int64_t mapping_id, const char *source, const char *kind, long n)
{
    if (n <= 0)
        return;
    char mid[24];
    snprintf(mid, sizeof mid, "%" PRId64, mapping_id);
    const char *labels[] = {mid, source, kind};
    metrics_add(m_events, labels, (double)n);
}

/* ---- shared helpers ---- */

void sweep_format_iso(int64_t ms, char *out, size_t outlen)
{
    time_t s = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&s, &tm);
    snprintf(out, outlen, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ms % 1000));
}

int64_t sweep_now_ms(void)
{
    return clock_wall_ms();
}

int sweep_sf_query_each(struct salesforce_client *sc, struct crm_http *h, const char *soql,
                        sweep_row_fn fn, void *ud, struct crm_error *cerr)
{
    struct salesforce_query_page page;
    if (salesforce_query(sc, h, soql, false, &page, cerr) != 0)
        return -1;
    for (;;) {
        size_t n = page.records ? json_object_array_length(page.records) : 0;
        for (size_t i = 0; i < n; i++)
            fn(json_object_array_get_idx(page.records, i), ud);
        if (page.done || !page.next_records_url)
            break;
        char *next = page.next_records_url;
        page.next_records_url = NULL;
        salesforce_query_page_free(&page);
        int rc = salesforce_query_more(sc, h, next, &page, cerr);
        free(next);
        if (rc != 0)
            return -1;
    }
    salesforce_query_page_free(&page);
    return 0;
}

/* A timestamp as epoch ms: ISO 8601 text or a decimal number of ms; -1 when neither. */
static int64_t parse_stamp(const char *s)
{
    if (!s || !*s)
        return -1;
    int64_t ms = iso8601_parse_ms(s);
    if (ms >= 0)
        return ms;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    return errno || *end || v < 0 ? -1 : (int64_t)v;
}

/* ---- event batches ---- */

struct ev_batch {
    PGconn *conn;
    int64_t mapping_id;
    const char *source;
    const char *object_type;
    const char *kind;
    size_t n;
    long stored;
    struct queue_event ev[SWEEP_BATCH];
    char key[SWEEP_BATCH][160];
    char rid[SWEEP_BATCH][64];
    char payload[SWEEP_BATCH][200];
};

static struct ev_batch *batch_new(PGconn *conn, int64_t mapping_id, const char *source,
                                  const char *object_type, const char *kind)
{
    struct ev_batch *b = calloc(1, sizeof *b);
    if (!b)
        return NULL;
    b->conn = conn;
    b->mapping_id = mapping_id;
    b->source = source;
    b->object_type = object_type;
    b->kind = kind;
    return b;
}

static int batch_flush(struct ev_batch *b, char *err, size_t errlen)
{
    if (b->n == 0)
        return 0;
    if (queue_insert_batch(b->conn, b->ev, b->n, err, errlen) < 0)
        return -1;
    long stored = 0;
    for (size_t i = 0; i < b->n; i++)
        stored += b->ev[i].outcome == QUEUE_STORED;
    b->stored += stored;
    count_events(b->mapping_id, b->source, b->kind, stored);
    b->n = 0;
    return 0;
}

/* Adds the event of one change; key_tag distinguishes the key families ("sf", "sf:del", "hs").
 * Flushes when the batch is full. */
static int batch_add(struct ev_batch *b, const char *key_tag, const char *record_id,
                     int64_t stamp_ms, char *err, size_t errlen)
{
    if (!record_id || !*record_id || strlen(record_id) >= sizeof b->rid[0])
        return 0; /* not an id any CRM issues; nothing to sync */
    size_t i = b->n;
    char iso[40];
    sweep_format_iso(stamp_ms, iso, sizeof iso);
    snprintf(b->rid[i], sizeof b->rid[i], "%s", record_id);
    snprintf(b->key[i], sizeof b->key[i], "sweep:%s:%s:%" PRId64, key_tag, record_id, stamp_ms);
    snprintf(b->payload[i], sizeof b->payload[i],
             "{\"sweep\":true,\"mapping_id\":%" PRId64 ",\"changed_at\":\"%s\"}", b->mapping_id,
             iso);
    b->ev[i] = (struct queue_event){.source = b->source,
                                    .idempotency_key = b->key[i],
                                    .object_type = b->object_type,
                                    .record_id = b->rid[i],
                                    .kind = b->kind,
                                    .occurred_at_ms = stamp_ms,
                                    .status = NULL, /* from the mapping's state */
                                    .payload_json = b->payload[i]};
    b->n++;
    return b->n == SWEEP_BATCH ? batch_flush(b, err, errlen) : 0;
}

/* ---- one mapping ---- */

struct sweep_ctx {
    const struct sync_context *ctx;
    PGconn *conn;
    struct crm_http *h;
    const struct sweep_target *t;
    const struct sweep_options *opt;
    int64_t now_ms;
    struct sweep_result *res;
};

static int crm_failed(const struct crm_error *cerr, const char *what, char *err, size_t errlen)
{
    snprintf(err, errlen, "%s failed: %s", what, cerr->message);
    return -1;
}

/* The cursor of a section as epoch ms: the stored one, else now - first_overlap_ms; clamped to
 * at most max_back_ms ago (logged, since changes before that are out of the sweep's reach). */
static int load_cursor(struct sweep_ctx *c, const char *source, const char *kind,
                       int64_t max_back_ms, int64_t *ms, char *err, size_t errlen)
{
    char pos[64];
    bool found = false;
    if (import_store_cursor_get(c->conn, c->t->mapping_id, source, kind, pos, sizeof pos, &found,
                                err, errlen) < 0)
        return -1;
    int64_t v = found ? parse_stamp(pos) : -1;
    *ms = v >= 0 ? v : c->now_ms - c->opt->first_overlap_ms;
    int64_t floor = c->now_ms - max_back_ms;
    if (max_back_ms > 0 && *ms < floor) {
        log_with(LOG_LEVEL_WARN, "sweep cursor older than the CRM keeps changes; gap skipped",
                 LF_I("mapping_id", c->t->mapping_id), LF_S("source", source), LF_S("kind", kind),
                 LF_S("cursor", pos));
        *ms = floor;
    }
    return 0;
}

static int store_cursor(struct sweep_ctx *c, const char *source, const char *kind, int64_t ms,
                        char *err, size_t errlen)
{
    char iso[40];
    sweep_format_iso(ms, iso, sizeof iso);
    return import_store_cursor_set(c->conn, c->t->mapping_id, source, kind, iso, err, errlen);
}

/* SystemModstamp of the records of one getUpdated chunk, by id. */
struct stamp_lookup {
    char (*ids)[24];
    int64_t *stamps;
    size_t n;
};

static int stamp_row(json_object *rec, void *ud)
{
    struct stamp_lookup *l = ud;
    const char *id = json_member_string(rec, "Id");
    int64_t ms = parse_stamp(json_member_string(rec, "SystemModstamp"));
    for (size_t i = 0; id && i < l->n; i++)
        if (strncmp(l->ids[i], id, 15) == 0)
            l->stamps[i] = ms;
    return 0;
}

/* Queues the events of ids[0..n) (getUpdated ids), keyed by their SystemModstamp (one SOQL
 * query per chunk, by crm/soql); a record gone since is keyed by fallback_ms. An id that is not
 * a Salesforce record id is skipped. */
static int queue_updated_chunk(struct sweep_ctx *c, struct ev_batch *b, char **ids, size_t n,
                               int64_t fallback_ms, char *err, size_t errlen)
{
    char lids[SWEEP_BATCH][24];
    const char *vals[SWEEP_BATCH];
    int64_t stamps[SWEEP_BATCH];
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (!soql_id_valid(ids[i]))
            continue;
        snprintf(lids[k], sizeof lids[k], "%s", ids[i]);
        vals[k] = lids[k];
        stamps[k++] = -1;
    }
    static const char *const fields[] = {"Id", "SystemModstamp"};
    struct soql_where w = {"Id", SOQL_IN, SOQL_IDS, vals, k};
    struct soql_query q = {
        .fields = fields, .nfields = 2, .object = c->t->salesforce_object, .where = &w};
    char *soql = k ? soql_build(&q, err, errlen) : NULL;
    if (k && !soql)
        return -1;
    struct stamp_lookup l = {lids, stamps, k};
    struct crm_error cerr;
    crm_error_clear(&cerr);
    int rc = k ? sweep_sf_query_each(c->ctx->crm->salesforce, c->h, soql, stamp_row, &l, &cerr) : 0;
    free(soql);
    if (rc < 0)
        return crm_failed(&cerr, "reading SystemModstamp", err, errlen);
    for (size_t i = 0; i < k; i++)
        if (batch_add(b, "sf", lids[i], stamps[i] >= 0 ? stamps[i] : fallback_ms, err, errlen) < 0)
            return -1;
    return 0;
}

/* One getUpdated / getDeleted window [start, end]: queue its events, return latestDateCovered
 * (ms) in *covered. */
typedef int (*sf_window_fn)(struct sweep_ctx *c, struct ev_batch *b, const char *start,
                            const char *end, int64_t end_ms, int64_t *covered, char *err,
                            size_t errlen);

static int window_updated(struct sweep_ctx *c, struct ev_batch *b, const char *start,
                          const char *end, int64_t end_ms, int64_t *covered, char *err,
                          size_t errlen)
{
    struct salesforce_updated u;
    struct crm_error cerr;
    crm_error_clear(&cerr);
    if (salesforce_get_updated(c->ctx->crm->salesforce, c->h, c->t->salesforce_object, start, end,
                               &u, &cerr) != 0)
        return crm_failed(&cerr, "Salesforce getUpdated", err, errlen);
    int64_t ldc = parse_stamp(u.latest_date_covered);
    *covered = ldc >= 0 ? ldc : end_ms;
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < u.n; i += SWEEP_BATCH) {
        size_t m = u.n - i < SWEEP_BATCH ? u.n - i : SWEEP_BATCH;
        rc = queue_updated_chunk(c, b, u.ids + i, m, *covered, err, errlen);
    }
    salesforce_updated_free(&u);
    return rc;
}

static int window_deleted(struct sweep_ctx *c, struct ev_batch *b, const char *start,
                          const char *end, int64_t end_ms, int64_t *covered, char *err,
                          size_t errlen)
{
    struct salesforce_deleted d;
    struct crm_error cerr;
    crm_error_clear(&cerr);
    if (salesforce_get_deleted(c->ctx->crm->salesforce, c->h, c->t->salesforce_object, start, end,
                               &d, &cerr) != 0)
        return crm_failed(&cerr, "Salesforce getDeleted", err, errlen);
    int64_t ldc = parse_stamp(d.latest_date_covered);
    *covered = ldc >= 0 ? ldc : end_ms;
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < d.n; i++) {
        int64_t at = parse_stamp(d.records[i].deleted_date);
        rc = batch_add(b, "sf:del", d.records[i].id, at >= 0 ? at : *covered, err, errlen);
    }
    salesforce_deleted_free(&d);
    return rc;
}

static void iso_window(int64_t ms, char *out, size_t outlen)
{
    time_t s = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&s, &tm);
    snprintf(out, outlen, "%04d-%02d-%02dT%02d:%02d:%02d+00:00", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/* Walks one-day windows from the cursor to now; the cursor follows latestDateCovered. */
static int sweep_sf_windows(struct sweep_ctx *c, const char *kind, int days, sf_window_fn fn,
                            long *queued, char *err, size_t errlen)
{
    if (!soql_name_valid(c->t->salesforce_object)) {
        snprintf(err, errlen, "the Salesforce object name is not a Salesforce API name");
        return -1;
    }
    int64_t start;
    if (load_cursor(c, "salesforce", kind, days * DAY_MS - SF_RANGE_MARGIN_MS, &start, err,
                    errlen) < 0)
        return -1;
    struct ev_batch *b = batch_new(c->conn, c->t->mapping_id, "salesforce", c->t->salesforce_object,
                                   strcmp(kind, "deleted") == 0 ? "delete" : "update");
    if (!b) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    int rc = 0;
    int64_t from = start; /* the stored cursor: never moved back */
    for (int w = 0; rc == 0 && w < SF_MAX_WINDOWS; w++) {
        int64_t end = start + DAY_MS < c->now_ms ? start + DAY_MS : c->now_ms;
        if (end <= start)
            break;
        /* A window shorter than Salesforce's minimum is widened backwards: changes seen again
         * have the same idempotency key (their change time), so they queue nothing twice, and a
         * sweep interval under a minute still finds a delete at once. */
        if (end - start < c->opt->sf_min_window_ms)
            start = end - c->opt->sf_min_window_ms;
        char s[40], e[40];
        iso_window(start, s, sizeof s);
        iso_window(end, e, sizeof e);
        int64_t covered = end;
        rc = fn(c, b, s, e, end, &covered, err, errlen);
        if (rc == 0)
            rc = batch_flush(b, err, errlen);
        if (rc == 0 && covered > start && covered > from) {
            rc = store_cursor(c, "salesforce", kind, covered, err, errlen);
            from = covered;
        }
        if (covered <= start || end >= c->now_ms)
            break;
        start = covered;
    }
    *queued += b->stored;
    free(b);
    return rc;
}

static int section_sf_updated(struct sweep_ctx *c, char *err, size_t errlen)
{
    return sweep_sf_windows(c, "updated", SF_UPDATED_DAYS, window_updated, &c->res->sf_updated, err,
                            errlen);
}

static int section_sf_deleted(struct sweep_ctx *c, char *err, size_t errlen)
{
    return sweep_sf_windows(c, "deleted", SF_DELETED_DAYS, window_deleted, &c->res->sf_deleted, err,
                            errlen);
}

/* One search page of records modified in [lo, upper], ascending (both ends inclusive: a record
 * written in the millisecond of upper is seen again by the next sweep, whose key is the same). */
static int hs_page(struct sweep_ctx *c, int64_t lo, int64_t upper, const char *after,
                   struct hubspot_search_page *page, char *err, size_t errlen)
{
    char lo_s[24], up_s[24];
    snprintf(lo_s, sizeof lo_s, "%" PRId64, lo);
    snprintf(up_s, sizeof up_s, "%" PRId64, upper);
    const struct hubspot_filter filters[] = {
        {.property = "hs_lastmodifieddate", .op = "GTE", .value = lo_s},
        {.property = "hs_lastmodifieddate", .op = "LTE", .value = up_s},
    };
    const struct hubspot_filter_group group = {filters, 2};
    const struct hubspot_sort sort = {"hs_lastmodifieddate", false};
    const char *const props[] = {"hs_lastmodifieddate"};
    struct hubspot_search_query q = {.groups = &group,
                                     .ngroups = 1,
                                     .sorts = &sort,
                                     .nsorts = 1,
                                     .properties = props,
                                     .nproperties = 1,
                                     .limit = c->opt->hs_page_limit,
                                     .after = after};
    struct crm_error cerr;
    crm_error_clear(&cerr);
    if (hubspot_search(c->ctx->crm->hubspot, c->h, c->t->hubspot_type, &q, page, &cerr) != 0)
        return crm_failed(&cerr, "HubSpot search", err, errlen);
    return 0;
}

/* Queues a page's records; *last receives the last record's hs_lastmodifieddate (ms). */
static int hs_queue_page(struct ev_batch *b, json_object *results, int64_t *last, char *err,
                         size_t errlen)
{
    size_t n = results ? json_object_array_length(results) : 0;
    for (size_t i = 0; i < n; i++) {
        json_object *r = json_object_array_get_idx(results, i);
        int64_t ms =
            parse_stamp(json_member_text(json_member(r, "properties"), "hs_lastmodifieddate"));
        if (ms < 0)
            continue;
        if (batch_add(b, "hs", json_member_text(r, "id"), ms, err, errlen) < 0)
            return -1;
        *last = ms;
    }
    return batch_flush(b, err, errlen);
}

static int hs_walk(struct sweep_ctx *c, struct ev_batch *b, int64_t lo, int64_t upper, char *err,
                   size_t errlen)
{
    char *after = NULL;
    int rc = 0;
    for (int p = 0; p < HS_MAX_PAGES; p++) {
        struct hubspot_search_page page;
        if ((rc = hs_page(c, lo, upper, after, &page, err, errlen)) < 0)
            break;
        int64_t last = lo;
        rc = hs_queue_page(b, page.results, &last, err, errlen);
        free(after);
        after = page.next_after;
        page.next_after = NULL;
        hubspot_search_page_free(&page);
        if (rc < 0 || !after)
            break;
        long long offset = strtoll(after, NULL, 10);
        if (offset + c->opt->hs_page_limit <= c->opt->hs_result_cap)
            continue;
        /* the result cap: search again from the last timestamp seen (inclusive) */
        if (last <= lo) {
            log_with(LOG_LEVEL_WARN, "sweep: more changes share one timestamp than search returns",
                     LF_I("mapping_id", c->t->mapping_id), LF_I("at_ms", lo));
            last = lo + 1;
        }
        lo = last;
        free(after);
        after = NULL;
        if ((rc = store_cursor(c, "hubspot", "updated", lo, err, errlen)) < 0)
            break;
    }
    free(after);
    return rc;
}

static int section_hs(struct sweep_ctx *c, char *err, size_t errlen)
{
    int64_t lo;
    if (load_cursor(c, "hubspot", "updated", 0, &lo, err, errlen) < 0)
        return -1;
    int64_t upper = c->now_ms - c->opt->hs_lag_ms;
    if (upper <= lo)
        return 0;
    struct ev_batch *b =
        batch_new(c->conn, c->t->mapping_id, "hubspot", c->t->hubspot_type, "update");
    if (!b) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    int rc = hs_walk(c, b, lo, upper, err, errlen);
    if (rc == 0)
        rc = store_cursor(c, "hubspot", "updated", upper, err, errlen);
    c->res->hs_updated += b->stored;
    free(b);
    return rc;
}

/* HubSpot search cannot see archived records, so deletions whose webhook was missed are found by
 * checking linked records in turn: each sweep batch-reads the next active links' HubSpot records
 * (cursor: the last link id, kind "deleted"; wraps at the end), and queues a HubSpot 'delete'
 * event for each one that no longer exists. How many per sweep: enough to check every link
 * within hs_audit_sweeps sweeps, at least hs_audit_links and at most hs_audit_max (the HubSpot
 * calls it spends: one batch read per 100). The key has no time: one event per record, whatever
 * the number of sweeps (a restore and delete again comes by webhook). */
static int audit_links(struct sweep_ctx *c, int64_t after, struct link_audit_batch *links,
                       char *err, size_t errlen)
{
    const struct sweep_options *o = c->opt;
    struct link_audit_scale scale = {
        .sweeps = o->hs_audit_sweeps, .least = o->hs_audit_links, .most = o->hs_audit_max};
    return link_audit_next(c->conn, c->t->mapping_id, after, &scale, links, err, errlen);
}

static bool gone(const struct crm_batch_item *it)
{
    return !it->ok && it->error && it->error->cls == CRM_ERR_PERMANENT &&
           crm_error_is_gone(it->error);
}

/* Reads ids[0..n) and queues a delete event for each missing one. */
static int audit_chunk(struct sweep_ctx *c, struct ev_batch *b, const char *const *ids, size_t n,
                       char *err, size_t errlen)
{
    struct crm_batch_result res = {0};
    struct crm_error cerr;
    crm_error_clear(&cerr);
    static const char *const props[] = {"hs_object_id"};
    struct hubspot_read_options ro = {.properties = props, .nproperties = 1};
    int rc = hubspot_batch_read(c->ctx->crm->hubspot, c->h, c->t->hubspot_type, ids, n, &ro, &res,
                                &cerr);
    if (rc != 0) {
        crm_batch_result_free(&res);
        return crm_failed(&cerr, "HubSpot batch read", err, errlen);
    }
    for (size_t i = 0; rc == 0 && i < res.n && i < n; i++)
        if (gone(&res.items[i]))
            rc = batch_add(b, "hs:del", ids[i], 0, err, errlen);
    crm_batch_result_free(&res);
    return rc;
}

static int section_hs_deleted(struct sweep_ctx *c, char *err, size_t errlen)
{
    char pos[64];
    bool found = false;
    if (import_store_cursor_get(c->conn, c->t->mapping_id, "hubspot", "deleted", pos, sizeof pos,
                                &found, err, errlen) < 0)
        return -1;
    int64_t after = found ? strtoll(pos, NULL, 10) : 0;
    struct link_audit_batch links;
    if (audit_links(c, after < 0 ? 0 : after, &links, err, errlen) < 0)
        return -1;
    struct ev_batch *b =
        batch_new(c->conn, c->t->mapping_id, "hubspot", c->t->hubspot_type, "delete");
    if (!b) {
        link_audit_batch_free(&links);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    int rc = 0;
    for (size_t r = 0; rc == 0 && r < links.n; r += HUBSPOT_BATCH_MAX) {
        size_t n = links.n - r < HUBSPOT_BATCH_MAX ? links.n - r : HUBSPOT_BATCH_MAX;
        rc = audit_chunk(c, b, (const char *const *)links.hubspot_ids + r, n, err, errlen);
    }
    if (rc == 0)
        rc = batch_flush(b, err, errlen);
    if (rc == 0) { /* the next sweep goes on after the last link checked; at the end, from 0 */
        char next[24];
        snprintf(next, sizeof next, "%" PRId64, links.last_id);
        rc = import_store_cursor_set(c->conn, c->t->mapping_id, "hubspot", "deleted", next, err,
                                     errlen);
    }
    c->res->hs_deleted += b->stored;
    free(b);
    link_audit_batch_free(&links);
    return rc;
}

typedef int (*section_fn)(struct sweep_ctx *c, char *err, size_t errlen);

static const struct {
    const char *name;
    bool salesforce; /* needs the Salesforce client, else HubSpot's */
    section_fn run;
} sections[] = {
    {"salesforce updated", true, section_sf_updated},
    {"salesforce deleted", true, section_sf_deleted},
    {"hubspot updated", false, section_hs},
    {"hubspot deleted", false, section_hs_deleted},
};

void sweep_options_default(struct sweep_options *o)
{
    o->first_overlap_ms = 10LL * 60 * 1000;
    o->hs_lag_ms = 30000;
    o->sf_min_window_ms = 60000;
    o->hs_page_limit = 200;
    o->hs_result_cap = 10000;
    o->hs_audit_links = 500;
    o->hs_audit_sweeps = 12;
    o->hs_audit_max = 20000;
}

static void options_resolve(const struct sweep_options *in, struct sweep_options *out)
{
    sweep_options_default(out);
    if (!in)
        return;
    if (in->first_overlap_ms > 0)
        out->first_overlap_ms = in->first_overlap_ms;
    if (in->hs_lag_ms >= 0)
        out->hs_lag_ms = in->hs_lag_ms;
    if (in->sf_min_window_ms >= 0)
        out->sf_min_window_ms = in->sf_min_window_ms;
    if (in->hs_page_limit > 0 && in->hs_page_limit <= HUBSPOT_SEARCH_LIMIT_MAX)
        out->hs_page_limit = in->hs_page_limit;
    if (in->hs_result_cap > 0)
        out->hs_result_cap = in->hs_result_cap;
    if (in->hs_audit_links > 0)
        out->hs_audit_links = in->hs_audit_links;
    if (in->hs_audit_sweeps > 0)
        out->hs_audit_sweeps = in->hs_audit_sweeps;
    if (in->hs_audit_max > 0)
        out->hs_audit_max = in->hs_audit_max;
}

static void note_error(struct sweep_result *res, const char *section, const char *err)
{
    if (res->errors++ == 0)
        snprintf(res->error, sizeof res->error, "%s: %s", section, err);
}

static void run_sections(struct sweep_ctx *c)
{
    char err[512];
    for (size_t i = 0; i < sizeof sections / sizeof sections[0]; i++) {
        bool configured =
            sections[i].salesforce ? c->ctx->crm->salesforce != NULL : c->ctx->crm->hubspot != NULL;
        if (!configured)
            continue;
        err[0] = '\0';
        if (sections[i].run(c, err, sizeof err) < 0) {
            note_error(c->res, sections[i].name, err);
            if (db_conn_lost(c->conn))
                break;
        }
    }
}

static void log_sweep(int64_t mapping_id, const struct sweep_result *res, int64_t started)
{
    const char *labels[] = {res->busy ? "busy" : res->errors ? "error" : "ok"};
    metrics_add(m_runs, labels, 1);
    log_with(res->errors ? LOG_LEVEL_WARN : LOG_LEVEL_INFO, "sweep", LF_I("mapping_id", mapping_id),
             LF_S("outcome", labels[0]), LF_I("salesforce_updated", res->sf_updated),
             LF_I("salesforce_deleted", res->sf_deleted), LF_I("hubspot_updated", res->hs_updated),
             LF_I("hubspot_deleted", res->hs_deleted),
             LF_S("error", res->errors ? res->error : NULL),
             LF_I("duration_ms", clock_mono_ms() - started));
}

/* Runs the sections under the mapping's lock on conn. */
static int sweep_locked(const struct sync_context *ctx, PGconn *conn, const struct sweep_target *t,
                        const struct sweep_options *opt, struct sweep_result *res)
{
    char err[256];
    bool got = false;
    if (import_store_try_lock(conn, IMPORT_LOCK_SWEEP, t->mapping_id, &got, err, sizeof err) < 0) {
        note_error(res, "lock", err);
        return -1;
    }
    if (!got) {
        res->busy = true;
        return 0;
    }
    struct crm_http *h = crm_thread_http(ctx->cfg);
    if (h) {
        struct sweep_ctx c = {ctx, conn, h, t, opt, sweep_now_ms(), res};
        run_sections(&c);
    } else {
        note_error(res, "http", "cannot create an HTTP handle");
    }
    if (import_store_unlock(conn, IMPORT_LOCK_SWEEP, t->mapping_id, err, sizeof err) < 0) {
        note_error(res, "unlock", err);
        return -1; /* the caller drops the connection, which frees the lock */
    }
    return 0;
}

int sync_sweep_mapping(const struct sync_context *ctx, int64_t mapping_id,
                       const struct sweep_options *opt, struct sweep_result *res)
{
    metrics_once_run(&metrics_once, metrics_init);
    memset(res, 0, sizeof *res);
    int64_t started = clock_mono_ms();
    struct sweep_options o;
    options_resolve(opt, &o);
    char err[256];
    PGconn *conn = db_pool_acquire(ctx->pool, 5000, err, sizeof err);
    if (!conn) {
        note_error(res, "database", err);
        log_sweep(mapping_id, res, started);
        return -1;
    }
    struct sweep_target t;
    bool found = false;
    bool broken = false;
    if (import_store_target(conn, mapping_id, &t, &found, err, sizeof err) < 0) {
        note_error(res, "database", err);
        broken = db_conn_lost(conn);
    } else if (!found || !t.enabled) {
        note_error(res, "mapping", "the mapping does not exist or is not enabled");
    } else {
        broken = sweep_locked(ctx, conn, &t, &o, res) < 0;
    }
    db_pool_release(ctx->pool, conn, broken || db_conn_lost(conn));
    log_sweep(mapping_id, res, started);
    return res->errors ? -1 : 0;
}

int sync_sweep_all(const struct sync_context *ctx, const struct sweep_options *opt)
{
    char err[256];
    PGconn *conn = db_pool_acquire(ctx->pool, 5000, err, sizeof err);
    if (!conn)
        return 1;
    int64_t *ids = NULL;
    size_t n = 0;
    int rc = import_store_enabled_mappings(conn, &ids, &n, err, sizeof err);
    db_pool_release(ctx->pool, conn, rc < 0);
    if (rc < 0) {
        log_with(LOG_LEVEL_WARN, "sweep: cannot list mappings", LF_S("error", err));
        return 1;
    }
    int failed = 0;
    for (size_t i = 0; i < n && !atomic_load(ctx->stopping); i++) {
        struct sweep_result res;
        failed += sync_sweep_mapping(ctx, ids[i], opt, &res) < 0;
    }
    free(ids);
    return failed;
}
