/* import.c: import estimates and import steps (see import.h).
 *
 * Owns the JSON array of one page's ids (freed before the step returns). One step: load the
 * import, take its lock, start it (total from the estimate) when queued, count its waiting
 * events, page at most (import_inflight - waiting, in whole worker batches) ids from the source,
 * queue them in one statement, store the position, recount. Salesforce queries (COUNT(), paging by
 * id) are built by crm/soql. Must not decide how records sync. */
#include "sync/import.h"

#include "crm/crm_access.h"
#include "base/log.h"
#include "crm/hubspot_client.h"
#include "base/json_util.h"
#include "crm/salesforce_client.h"
#include "crm/soql.h"
#include "sync/sweep.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define IMPORT_PAGE_MAX 2000 /* ids per step (one SOQL LIMIT, up to ten HubSpot searches) */

static const char *const direction_names[] = {
    [IMPORT_SF_TO_HS] = "salesforce_to_hubspot",
    [IMPORT_HS_TO_SF] = "hubspot_to_salesforce",
};

int import_direction_parse(const char *s, enum import_direction *out)
{
    if (!s || !*s) {
        *out = IMPORT_SF_TO_HS;
        return 0;
    }
    for (size_t i = 0; i < sizeof direction_names / sizeof direction_names[0]; i++)
        if (strcmp(s, direction_names[i]) == 0) {
            *out = (enum import_direction)i;
            return 0;
        }
    return -1;
}

const char *import_direction_name(enum import_direction d)
{
    return direction_names[d == IMPORT_HS_TO_SF ? IMPORT_HS_TO_SF : IMPORT_SF_TO_HS];
}

/* ---- estimates ---- */

static int crm_failed(const struct crm_error *cerr, const char *what, char *err, size_t errlen)
{
    snprintf(err, errlen, "%s failed: %s", what, cerr->message);
    return IMPORT_CRM_FAILED;
}

static int estimate_salesforce(const struct sync_context *ctx, struct crm_http *h,
                               const struct sweep_target *t, long long *count, char *err,
                               size_t errlen)
{
    struct soql_query q = {.count = true, .object = t->salesforce_object};
    char *soql = soql_build(&q, err, errlen);
    if (!soql)
        return IMPORT_CRM_FAILED;
    struct crm_error cerr;
    crm_error_clear(&cerr);
    int rc = salesforce_query_count(ctx->crm->salesforce, h, soql, count, &cerr);
    free(soql);
    if (rc != 0)
        return crm_failed(&cerr, "Salesforce COUNT()", err, errlen);
    return IMPORT_CRM_OK;
}

static int estimate_hubspot(const struct sync_context *ctx, struct crm_http *h,
                            const struct sweep_target *t, long long *count, char *err,
                            size_t errlen)
{
    const char *const props[] = {"hs_object_id"};
    struct hubspot_search_query q = {.properties = props, .nproperties = 1, .limit = 1};
    struct hubspot_search_page page;
    struct crm_error cerr;
    crm_error_clear(&cerr);
    if (hubspot_search(ctx->crm->hubspot, h, t->hubspot_type, &q, &page, &cerr) != 0)
        return crm_failed(&cerr, "HubSpot search", err, errlen);
    *count = page.total;
    hubspot_search_page_free(&page);
    return IMPORT_CRM_OK;
}

static bool source_configured(const struct sync_context *ctx, enum import_direction d, char *err,
                              size_t errlen)
{
    bool sf = d == IMPORT_SF_TO_HS;
    if (sf ? ctx->crm->salesforce != NULL : ctx->crm->hubspot != NULL)
        return true;
    snprintf(err, errlen, "%s API access is not configured", sf ? "Salesforce" : "HubSpot");
    return false;
}

int import_estimate(const struct sync_context *ctx, const struct sweep_target *t,
                    enum import_direction d, long long *count, char *err, size_t errlen)
{
    if (!source_configured(ctx, d, err, errlen))
        return IMPORT_CRM_UNCONFIGURED;
    struct crm_http *h = crm_thread_http(ctx->cfg);
    if (!h) {
        snprintf(err, errlen, "cannot create an HTTP handle");
        return IMPORT_CRM_FAILED;
    }
    return d == IMPORT_SF_TO_HS ? estimate_salesforce(ctx, h, t, count, err, errlen)
                                : estimate_hubspot(ctx, h, t, count, err, errlen);
}

/* ---- paging the source ---- */

struct id_page {
    json_object *ids; /* array of strings (owned) */
    char last[IMPORT_STORE_NAME_MAX];
    bool permanent; /* the failure cannot go away by retrying */
};

static int collect_id(json_object *rec, void *ud)
{
    struct id_page *p = ud;
    const char *id = json_member_string(rec, "Id");
    if (!id || strlen(id) >= sizeof p->last)
        return 0;
    json_object_array_add(p->ids, json_object_new_string(id));
    snprintf(p->last, sizeof p->last, "%s", id);
    return 0;
}

static int page_salesforce(const struct sync_context *ctx, struct crm_http *h,
                           const struct sweep_target *t, const char *after, long limit,
                           struct id_page *p, char *err, size_t errlen)
{
    static const char *const fields[] = {"Id"};
    const char *const pos[] = {after};
    struct soql_where w = {"Id", SOQL_GT, SOQL_IDS, pos, 1};
    struct soql_query q = {.fields = fields,
                           .nfields = 1,
                           .object = t->salesforce_object,
                           .where = *after ? &w : NULL,
                           .order_by = "Id",
                           .limit = limit};
    char msg[300];
    char *soql = soql_build(&q, msg, sizeof msg);
    if (!soql) {
        /* a name or position crm/soql refuses stays refused; only a lack of memory passes */
        p->permanent = !soql_name_valid(t->salesforce_object) || (*after && !soql_id_valid(after));
        snprintf(err, errlen, "paging Salesforce by id: %s", msg);
        return -1;
    }
    struct crm_error cerr;
    crm_error_clear(&cerr);
    int rc = sweep_sf_query_each(ctx->crm->salesforce, h, soql, collect_id, p, &cerr);
    free(soql);
    if (rc != 0) {
        p->permanent = cerr.cls == CRM_ERR_PERMANENT;
        crm_failed(&cerr, "Salesforce query", err, errlen);
        return -1;
    }
    return 0;
}

/* One search of up to limit records with hs_object_id > after, ascending; *got receives how
 * many came back. */
static int search_ids(const struct sync_context *ctx, struct crm_http *h,
                      const struct sweep_target *t, const char *after, int limit, struct id_page *p,
                      int *got, char *err, size_t errlen)
{
    const struct hubspot_filter f = {.property = "hs_object_id", .op = "GT", .value = after};
    const struct hubspot_filter_group g = {&f, 1};
    const struct hubspot_sort sort = {"hs_object_id", false};
    const char *const props[] = {"hs_object_id"};
    struct hubspot_search_query q = {.groups = &g,
                                     .ngroups = *after ? 1 : 0,
                                     .sorts = &sort,
                                     .nsorts = 1,
                                     .properties = props,
                                     .nproperties = 1,
                                     .limit = limit};
    struct hubspot_search_page page;
    struct crm_error cerr;
    crm_error_clear(&cerr);
    if (hubspot_search(ctx->crm->hubspot, h, t->hubspot_type, &q, &page, &cerr) != 0) {
        p->permanent = cerr.cls == CRM_ERR_PERMANENT;
        crm_failed(&cerr, "HubSpot search", err, errlen);
        return -1;
    }
    size_t n = page.results ? json_object_array_length(page.results) : 0;
    *got = 0;
    for (size_t i = 0; i < n; i++) {
        const char *id = json_member_text(json_object_array_get_idx(page.results, i), "id");
        if (!id || strlen(id) >= sizeof p->last)
            continue;
        json_object_array_add(p->ids, json_object_new_string(id));
        snprintf(p->last, sizeof p->last, "%s", id);
        (*got)++;
    }
    hubspot_search_page_free(&page);
    return 0;
}

static int page_hubspot(const struct sync_context *ctx, struct crm_http *h,
                        const struct sweep_target *t, const char *after, long limit,
                        struct id_page *p, char *err, size_t errlen)
{
    char pos[IMPORT_STORE_NAME_MAX];
    snprintf(pos, sizeof pos, "%s", after);
    long left = limit;
    while (left > 0) {
        int want = left < HUBSPOT_SEARCH_LIMIT_MAX ? (int)left : HUBSPOT_SEARCH_LIMIT_MAX;
        int got = 0;
        if (search_ids(ctx, h, t, pos, want, p, &got, err, errlen) < 0)
            return -1;
        if (got < want)
            break;
        left -= got;
        snprintf(pos, sizeof pos, "%s", p->last);
    }
    return 0;
}

/* ---- one step ---- */

struct step_ctx {
    const struct sync_context *ctx;
    PGconn *conn;
    const struct import_row *row;
    const struct sweep_target *t;
    enum import_direction d;
    struct import_step_result *res;
};

/* Records a failure on the import (failed when permanent) and returns -1. */
static int step_failed(struct step_ctx *c, bool permanent, const char *err)
{
    char ignored[128];
    import_store_progress(c->conn, c->row->id, permanent ? "failed" : NULL, NULL, err, -1, ignored,
                          sizeof ignored);
    snprintf(c->res->status, sizeof c->res->status, "%s", permanent ? "failed" : c->row->status);
    log_with(LOG_LEVEL_WARN, "import step failed", LF_I("import_id", c->row->id),
             LF_B("permanent", permanent), LF_S("error", err));
    return -1;
}

/* queued -> running, with the estimate as total when none was stored. */
static int step_start(struct step_ctx *c, char *err, size_t errlen)
{
    long long total = c->row->total;
    if (total < 0 && import_estimate(c->ctx, c->t, c->d, &total, err, errlen) != IMPORT_CRM_OK)
        total = -1;
    if (import_store_progress(c->conn, c->row->id, "running", NULL, NULL, total, err, errlen) < 0)
        return -1;
    log_with(LOG_LEVEL_INFO, "import started", LF_I("import_id", c->row->id),
             LF_I("mapping_id", c->row->mapping_id), LF_S("direction", c->row->direction),
             LF_I("total", total));
    return 0;
}

static int step_page(struct step_ctx *c, long room, char *err, size_t errlen)
{
    struct crm_http *h = crm_thread_http(c->ctx->cfg);
    if (!h)
        return step_failed(c, false, "cannot create an HTTP handle");
    if (!source_configured(c->ctx, c->d, err, errlen))
        return step_failed(c, false, err);
    struct id_page p = {.ids = json_object_new_array()};
    if (!p.ids)
        return step_failed(c, false, "out of memory");
    int rc = c->d == IMPORT_SF_TO_HS
                 ? page_salesforce(c->ctx, h, c->t, c->row->position, room, &p, err, errlen)
                 : page_hubspot(c->ctx, h, c->t, c->row->position, room, &p, err, errlen);
    if (rc < 0) {
        json_object_put(p.ids);
        return step_failed(c, p.permanent, err);
    }
    size_t n = json_object_array_length(p.ids);
    const char *status = n == 0 && c->res->waiting == 0 ? "done" : "running";
    if (n > 0) {
        bool sf = c->d == IMPORT_SF_TO_HS;
        long long ins = import_store_insert_events(
            c->conn, c->row->id, c->row->mapping_id, sf ? "salesforce" : "hubspot",
            sf ? c->t->salesforce_object : c->t->hubspot_type,
            json_object_to_json_string_ext(p.ids, JSON_C_TO_STRING_PLAIN), err, errlen);
        if (ins < 0) {
            json_object_put(p.ids);
            return -1;
        }
        c->res->queued_now = ins;
    }
    json_object_put(p.ids);
    if (import_store_progress(c->conn, c->row->id, status, n ? p.last : NULL, n ? "" : NULL, -1,
                              err, errlen) < 0)
        return -1;
    snprintf(c->res->status, sizeof c->res->status, "%s", status);
    if (strcmp(status, "done") == 0)
        log_with(LOG_LEVEL_INFO, "import done", LF_I("import_id", c->row->id),
                 LF_I("mapping_id", c->row->mapping_id));
    return 0;
}

/* The room to page into (at most IMPORT_PAGE_MAX), in whole worker batches: the workers claim an
 * import's records side by side in batches of SYNKRO_WORKER_BATCH, and a page that is not a
 * multiple of it leaves a partial batch at its end, which costs the calls of a whole one (a create
 * call per 100, the write-back, the reads of its echoes). So the page waits until a whole batch has
 * room; the source's last page is partial anyway. An in-flight limit below one batch pages what it
 * allows. */
static long whole_batches(const struct config *cfg, long room)
{
    long batch = cfg->worker_batch > 0 ? cfg->worker_batch : 1;
    if (room <= 0 || cfg->import_inflight < batch)
        return room;
    return room - room % batch;
}

static int step_run(struct step_ctx *c, char *err, size_t errlen)
{
    if (!c->t->mapping_id)
        return step_failed(c, true, "the mapping of this import no longer exists");
    if (strcmp(c->row->status, "queued") == 0 && step_start(c, err, errlen) < 0)
        return -1;
    snprintf(c->res->status, sizeof c->res->status, "running");
    c->res->waiting = import_store_waiting(c->conn, c->row->id, err, errlen);
    if (c->res->waiting < 0)
        return -1;
    long room = (long)c->ctx->cfg->import_inflight - c->res->waiting;
    room = whole_batches(c->ctx->cfg, room < IMPORT_PAGE_MAX ? room : IMPORT_PAGE_MAX);
    if (room > 0)
        return step_page(c, room, err, errlen);
    return import_store_progress(c->conn, c->row->id, NULL, NULL, NULL, -1, err, errlen);
}

static int step_locked(const struct sync_context *ctx, PGconn *conn, const struct import_row *row,
                       struct import_step_result *res, char *err, size_t errlen)
{
    struct sweep_target t;
    bool found = false;
    if (import_store_target(conn, row->mapping_id, &t, &found, err, errlen) < 0)
        return -1;
    if (!found)
        memset(&t, 0, sizeof t);
    struct step_ctx c = {ctx, conn, row, &t, IMPORT_SF_TO_HS, res};
    if (import_direction_parse(row->direction, &c.d) < 0)
        return step_failed(&c, true, "unknown direction");
    return step_run(&c, err, errlen);
}

int import_step(const struct sync_context *ctx, int64_t import_id, struct import_step_result *res,
                char *err, size_t errlen)
{
    memset(res, 0, sizeof *res);
    PGconn *conn = db_pool_acquire(ctx->pool, 5000, err, errlen);
    if (!conn)
        return -1;
    struct import_row row;
    bool found = false, got = false;
    int rc = import_store_load(conn, import_id, &row, &found, err, errlen);
    if (rc == 0 && !found) {
        snprintf(err, errlen, "no import with that id");
        rc = -1;
    }
    if (rc == 0)
        snprintf(res->status, sizeof res->status, "%s", row.status);
    bool active =
        rc == 0 && (strcmp(row.status, "queued") == 0 || strcmp(row.status, "running") == 0);
    if (active)
        rc = import_store_try_lock(conn, IMPORT_LOCK_IMPORT, import_id, &got, err, errlen);
    res->busy = active && rc == 0 && !got;
    bool broken = false;
    if (got) {
        rc = step_locked(ctx, conn, &row, res, err, errlen);
        char uerr[128];
        broken = import_store_unlock(conn, IMPORT_LOCK_IMPORT, import_id, uerr, sizeof uerr) < 0;
    }
    db_pool_release(ctx->pool, conn, broken || db_conn_lost(conn));
    return rc;
}

void import_advance_all(const struct sync_context *ctx)
{
    char err[256];
    PGconn *conn = db_pool_acquire(ctx->pool, 1000, err, sizeof err);
    if (!conn)
        return;
    int64_t *ids = NULL;
    size_t n = 0;
    int rc = import_store_active(conn, &ids, &n, err, sizeof err);
    db_pool_release(ctx->pool, conn, rc < 0);
    for (size_t i = 0; rc == 0 && i < n && !atomic_load(ctx->stopping); i++) {
        struct import_step_result res;
        if (import_step(ctx, ids[i], &res, err, sizeof err) < 0)
            log_with(LOG_LEVEL_WARN, "import step", LF_I("import_id", ids[i]), LF_S("error", err));
    }
    free(ids);
}
