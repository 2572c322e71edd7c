/* mappings_api.c: the admin API that carries every step of setting up a
 * sync, as HubSpot's wizard does: create a draft, edit it, validate it
 * against both CRMs' live schemas, enable ("start continuous sync") or pause
 * ("save for later"), see its history, export and import the whole
 * configuration.
 *
 * Documents are parsed and checked for shape by model/mapping, validated by
 * model/mapping_validate against schemas fetched through crm/crm_access,
 * stored by db/mapping_store (versioned; a stale write is 409); the preview
 * reads records with a query crm/soql builds. Every answer that concerns a
 * document carries its problems list ({path, code, severity, message}).
 * Changing a mapping's state moves its queued events between held and
 * pending. Must not write SQL or SOQL text, or talk HTTP to the CRMs itself. */
#include "handlers/mappings_api.h"

#include "handlers/api_common.h"
#include "db/mapping_store.h"
#include "crm/crm_access.h"
#include "base/log.h"
#include "model/mapping.h"
#include "model/mapping_validate.h"
#include "crm/salesforce_client.h"
#include "crm/soql.h"
#include "model/value_convert.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_TARGET_SCHEMAS 8

/* {"error":{...},"problems":[...]} */
static int respond_problems(struct http_request *req, unsigned status, const char *code,
                            const char *message, const struct problem_list *pl)
{
    json_object *body = json_object_new_object();
    json_object *err = json_object_new_object();
    json_object_object_add(err, "code", json_object_new_string(code));
    json_object_object_add(err, "message", json_object_new_string(message));
    json_object_object_add(body, "error", err);
    json_object_object_add(body, "problems", problem_list_to_json(pl));
    http_set_error_code(req, code);
    int rc = http_respond_json(req, status, body);
    json_object_put(body);
    return rc;
}

static int respond_store_error(struct http_request *req, int rc, const char *err)
{
    static const struct {
        int rc;
        unsigned status;
        const char *code;
    } table[] = {
        {MS_NOT_FOUND, 404, "not_found"},
        {MS_STALE, 409, "stale_version"},
        {MS_CONFLICT, 409, "duplicate_mapping"},
        {MS_ERROR, 503, "unavailable"},
    };
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        if (table[i].rc == rc)
            return http_respond_error(req, table[i].status, table[i].code,
                                      rc == MS_NOT_FOUND && !*err ? "no mapping with that id"
                                                                  : err);
    return http_respond_error(req, 500, "internal", err);
}

static PGconn *borrow(struct http_request *req, char *err, size_t errlen)
{
    return db_pool_acquire(req->app->pool, 2000, err, errlen);
}

static PGconn *begin_mapping_call(struct http_request *req, int64_t *id, int *rc);

static int respond_mapping(struct http_request *req, PGconn *conn, int64_t id, unsigned status)
{
    char err[256] = "";
    int result;
    json_object *m = mapping_store_get(conn, id, &result, err, sizeof err);
    if (!m)
        return respond_store_error(req, result, err);
    int rc = http_respond_json(req, status, m);
    json_object_put(m);
    return rc;
}

/* ---- live validation ---- */

struct context_holder {
    json_object *list; /* stored mappings (owns the strings summaries point to) */
    struct mapping_summary *summaries;
    struct hs_object *targets[MAX_TARGET_SCHEMAS];
    size_t ntargets;
};

static void context_free(struct context_holder *h)
{
    json_object_put(h->list);
    free(h->summaries);
    for (size_t i = 0; i < h->ntargets; i++)
        hs_object_free(h->targets[i]);
}

static const char *member_str(json_object *o, const char *key)
{
    json_object *v;
    return json_object_object_get_ex(o, key, &v) ? json_object_get_string(v) : NULL;
}

static void context_build(struct http_request *req, PGconn *conn, const struct mapping *m,
                          struct context_holder *h, struct mapping_context *ctx)
{
    memset(h, 0, sizeof *h);
    memset(ctx, 0, sizeof *ctx);
    char err[256];
    h->list = mapping_store_list(conn, err, sizeof err);
    size_t n = h->list ? json_object_array_length(h->list) : 0;
    h->summaries = calloc(n ? n : 1, sizeof *h->summaries);
    for (size_t i = 0; h->summaries && i < n; i++) {
        json_object *row = json_object_array_get_idx(h->list, i);
        json_object *id;
        json_object_object_get_ex(row, "id", &id);
        h->summaries[i] = (struct mapping_summary){
            .id = json_object_get_int64(id),
            .name = member_str(row, "name"),
            .salesforce_object = member_str(row, "salesforce_object"),
            .hubspot_object = member_str(row, "hubspot_object"),
        };
    }
    for (size_t i = 0; i < m->n_associations && h->ntargets < MAX_TARGET_SCHEMAS; i++) {
        struct hs_object *t = NULL;
        char terr[256];
        if (crm_fetch_hs_object(&req->app->crm, m->associations[i].hubspot_object, &t, terr,
                                sizeof terr) == CRM_FETCH_OK)
            h->targets[h->ntargets++] = t;
    }
    ctx->mappings = h->summaries;
    ctx->n_mappings = h->summaries ? n : 0;
    ctx->limit = (size_t)req->app->cfg->max_mappings;
    ctx->count = n;
    ctx->hubspot_targets = (const struct hs_object *const *)h->targets;
    ctx->n_hubspot_targets = h->ntargets;
}

/* Validates m against the live schemas; fills pl, and hs_type_id with the
 * HubSpot objectTypeId when the schema was found. */
static void validate_live(struct http_request *req, PGconn *conn, const struct mapping *m,
                          struct problem_list *pl, char *hs_type_id, size_t idlen)
{
    hs_type_id[0] = '\0';
    struct sf_object *sf = NULL;
    struct hs_object *hs = NULL;
    char err[512];
    int sfr = crm_fetch_sf_object(&req->app->crm, m->salesforce_object, &sf, err, sizeof err);
    if (sfr == CRM_FETCH_UNCONFIGURED || sfr == CRM_FETCH_UNAVAILABLE)
        problem_list_add(pl, PROBLEM_ERROR, "salesforce_object", "salesforce_unavailable",
                         "could not check against Salesforce: %s; validate again once it "
                         "answers",
                         err);
    int hsr = crm_fetch_hs_object(&req->app->crm, m->hubspot_object, &hs, err, sizeof err);
    if (hsr == CRM_FETCH_UNCONFIGURED || hsr == CRM_FETCH_UNAVAILABLE)
        problem_list_add(pl, PROBLEM_ERROR, "hubspot_object", "hubspot_unavailable",
                         "could not check against HubSpot: %s; validate again once it answers",
                         err);
    if (hs && hs->object_type_id)
        snprintf(hs_type_id, idlen, "%s", hs->object_type_id);
    struct context_holder holder;
    struct mapping_context ctx;
    context_build(req, conn, m, &holder, &ctx);
    if (sfr >= CRM_FETCH_NOT_FOUND && hsr >= CRM_FETCH_NOT_FOUND) {
        mapping_validate(m, sf, hs, &ctx, pl);
    } else if (!m->has_id && ctx.count >= ctx.limit) {
        problem_list_add(pl, PROBLEM_ERROR, "", "mapping_limit_reached",
                         "%zu mappings exist, the most SYNKRO_MAX_MAPPINGS allows", ctx.count);
    }
    context_free(&holder);
    sf_object_free(sf);
    hs_object_free(hs);
}

/* Parses the request body as a mapping document; answers 400 itself on
 * failure (returns NULL then). */
static struct mapping *parse_body(struct http_request *req, int *rc)
{
    struct problem_list pl = PROBLEM_LIST_INIT;
    struct mapping *m = NULL;
    int st = mapping_parse_text(req->body, req->body_len, &m, &pl);
    if (st != MAPPING_PARSE_OK) {
        char msg[128];
        snprintf(msg, sizeof msg, "the mapping document has %zu problem(s); nothing was saved",
                 pl.count);
        *rc = respond_problems(req, 400, "invalid_mapping", msg, &pl);
    }
    problem_list_free(&pl);
    return m;
}

static struct mapping_row row_for(const struct mapping *m, json_object *doc, json_object *problems,
                                  const char *hs_type_id)
{
    return (struct mapping_row){
        .document = doc,
        .name = m->name,
        .state = mapping_state_name(m->state),
        .salesforce_object = m->salesforce_object,
        .hubspot_object = m->hubspot_object,
        .problems = problems,
        .hubspot_object_type_id = hs_type_id && *hs_type_id ? hs_type_id : NULL,
    };
}

static void reclassify(struct http_request *req, PGconn *conn)
{
    char err[256];
    long moved = mapping_store_reclassify_events(conn, err, sizeof err);
    if (moved < 0)
        log_with(LOG_LEVEL_WARN, "events not reclassified; the janitor will retry",
                 LF_S("error", err), LF_S("request_id", req->request_id));
    else if (moved > 0)
        log_with(LOG_LEVEL_INFO, "queued events follow the mapping states", LF_I("events", moved),
                 LF_S("request_id", req->request_id));
}

/* ---- handlers ---- */

int handle_mappings_list(struct http_request *req)
{
    char err[256];
    PGconn *conn = borrow(req, err, sizeof err);
    if (!conn)
        return http_respond_error(req, 503, "unavailable", err);
    json_object *list = mapping_store_list(conn, err, sizeof err);
    db_pool_release(req->app->pool, conn, !list);
    if (!list)
        return http_respond_error(req, 503, "unavailable", err);
    json_object *body = json_object_new_object();
    json_object_object_add(body, "mappings", list);
    /* the console's "n of 10 mappings used" */
    json_object_object_add(body, "limit", json_object_new_int64(req->app->cfg->max_mappings));
    return api_respond_json_owned(req, 200, body);
}

int handle_mappings_create(struct http_request *req)
{
    int rc = 0;
    struct mapping *m = parse_body(req, &rc);
    if (!m)
        return rc;
    m->has_id = false;
    m->has_version = false;
    m->state = MAPPING_STATE_DRAFT; /* enabling is its own step */
    char err[256], actor[64], hs_type_id[128];
    api_request_actor(req, actor, sizeof actor);
    PGconn *conn = borrow(req, err, sizeof err);
    if (!conn) {
        mapping_free(m);
        return http_respond_error(req, 503, "unavailable", err);
    }
    struct problem_list pl = PROBLEM_LIST_INIT;
    validate_live(req, conn, m, &pl, hs_type_id, sizeof hs_type_id);
    if (problem_list_find(&pl, "mapping_limit_reached", NULL)) {
        rc = respond_problems(req, 409, "mapping_limit_reached",
                              "the mapping limit is reached; raise SYNKRO_MAX_MAPPINGS or delete a "
                              "mapping",
                              &pl);
    } else {
        json_object *doc = mapping_to_json(m);
        json_object *problems = problem_list_to_json(&pl);
        struct mapping_row row = row_for(m, doc, problems, hs_type_id);
        int64_t id = 0;
        int st = mapping_store_create(conn, &row, actor, &id, err, sizeof err);
        if (st == MS_OK)
            reclassify(req, conn); /* unmapped events of this object are now held */
        rc = st == MS_OK ? respond_mapping(req, conn, id, 201) : respond_store_error(req, st, err);
        json_object_put(doc);
        json_object_put(problems);
    }
    db_pool_release(req->app->pool, conn, false);
    problem_list_free(&pl);
    mapping_free(m);
    return rc;
}

int handle_mappings_get(struct http_request *req)
{
    int64_t id;
    int rc = 0;
    PGconn *conn = begin_mapping_call(req, &id, &rc);
    if (!conn)
        return rc;
    rc = respond_mapping(req, conn, id, 200);
    db_pool_release(req->app->pool, conn, false);
    return rc;
}

/* The {id} of the path and a borrowed connection; on failure it answers
 * 400 or 503 itself, sets *rc and returns NULL. */
static PGconn *begin_mapping_call(struct http_request *req, int64_t *id, int *rc)
{
    if (api_parse_id(req->params[0], id) < 0) {
        *rc = http_respond_error(req, 400, "bad_id", "mapping id must be a positive integer");
        return NULL;
    }
    char err[256];
    PGconn *conn = borrow(req, err, sizeof err);
    if (!conn)
        *rc = http_respond_error(req, 503, "unavailable", err);
    return conn;
}

/* Loads and parses the stored mapping id. NULL after answering. */
static struct mapping *load_stored(struct http_request *req, PGconn *conn, int64_t id, int *rc)
{
    char err[256] = "";
    int result;
    json_object *row = mapping_store_get(conn, id, &result, err, sizeof err);
    if (!row) {
        *rc = respond_store_error(req, result, err);
        return NULL;
    }
    json_object_object_del(row, "problems");
    json_object_object_del(row, "validated_at");
    json_object_object_del(row, "created_at");
    json_object_object_del(row, "updated_at");
    struct problem_list pl = PROBLEM_LIST_INIT;
    struct mapping *m = NULL;
    if (mapping_parse(row, &m, &pl) != MAPPING_PARSE_OK)
        *rc = respond_problems(req, 500, "internal", "the stored mapping does not parse", &pl);
    problem_list_free(&pl);
    json_object_put(row);
    return m;
}

int handle_mappings_update(struct http_request *req)
{
    int64_t id;
    if (api_parse_id(req->params[0], &id) < 0)
        return http_respond_error(req, 400, "bad_id", "mapping id must be a positive integer");
    int rc = 0;
    struct mapping *m = parse_body(req, &rc);
    if (!m)
        return rc;
    if (!m->has_version) {
        mapping_free(m);
        return http_respond_error(req, 400, "version_required",
                                  "send the version you edited, so concurrent edits are detected");
    }
    char err[256], actor[64], hs_type_id[128];
    api_request_actor(req, actor, sizeof actor);
    PGconn *conn = borrow(req, err, sizeof err);
    if (!conn) {
        mapping_free(m);
        return http_respond_error(req, 503, "unavailable", err);
    }
    struct mapping *stored = load_stored(req, conn, id, &rc);
    if (!stored) {
        db_pool_release(req->app->pool, conn, false);
        mapping_free(m);
        return rc;
    }
    m->has_id = true;
    m->id = id;
    m->state = stored->state; /* state changes only through enable/pause */
    struct problem_list pl = PROBLEM_LIST_INIT;
    validate_live(req, conn, m, &pl, hs_type_id, sizeof hs_type_id);
    if (m->state == MAPPING_STATE_ENABLED && problem_list_has_errors(&pl)) {
        rc = respond_problems(req, 400, "invalid_mapping",
                              "an enabled mapping must stay valid: fix these problems, or pause "
                              "the mapping first",
                              &pl);
    } else {
        json_object *doc = mapping_to_json(m);
        json_object *problems = problem_list_to_json(&pl);
        struct mapping_row row = row_for(m, doc, problems, hs_type_id);
        int64_t version;
        int st = mapping_store_update(conn, id, m->version, &row, "update", actor, &version, err,
                                      sizeof err);
        if (st == MS_OK)
            reclassify(req, conn); /* the objects may have changed */
        rc = st == MS_OK ? respond_mapping(req, conn, id, 200) : respond_store_error(req, st, err);
        json_object_put(doc);
        json_object_put(problems);
    }
    db_pool_release(req->app->pool, conn, false);
    problem_list_free(&pl);
    mapping_free(stored);
    mapping_free(m);
    return rc;
}

int handle_mappings_delete(struct http_request *req)
{
    int64_t id, version = 0;
    if (api_parse_id(req->params[0], &id) < 0)
        return http_respond_error(req, 400, "bad_id", "mapping id must be a positive integer");
    const char *v = http_query_arg(req, "version");
    if (v && api_parse_id(v, &version) < 0)
        return http_respond_error(req, 400, "bad_query", "version must be a positive integer");
    char err[256], actor[64];
    api_request_actor(req, actor, sizeof actor);
    PGconn *conn = borrow(req, err, sizeof err);
    if (!conn)
        return http_respond_error(req, 503, "unavailable", err);
    int st = mapping_store_delete(conn, id, version, actor, err, sizeof err);
    int rc;
    if (st == MS_OK) {
        reclassify(req, conn);
        rc = http_respond(req, 204, NULL, "", 0);
    } else {
        rc = respond_store_error(req, st, err);
    }
    db_pool_release(req->app->pool, conn, false);
    return rc;
}

int handle_mappings_validate(struct http_request *req)
{
    int64_t id;
    char err[256], hs_type_id[128];
    int rc = 0;
    PGconn *conn = begin_mapping_call(req, &id, &rc);
    if (!conn)
        return rc;
    struct mapping *m = load_stored(req, conn, id, &rc);
    if (m) {
        struct problem_list pl = PROBLEM_LIST_INIT;
        validate_live(req, conn, m, &pl, hs_type_id, sizeof hs_type_id);
        json_object *problems = problem_list_to_json(&pl);
        int st = mapping_store_set_validation(conn, id, problems, hs_type_id[0] ? hs_type_id : NULL,
                                              err, sizeof err);
        if (st == MS_OK) {
            json_object *body = json_object_new_object();
            json_object_object_add(body, "valid",
                                   json_object_new_boolean(!problem_list_has_errors(&pl)));
            json_object_object_add(body, "problems", json_object_get(problems));
            rc = http_respond_json(req, 200, body);
            json_object_put(body);
        } else {
            rc = respond_store_error(req, st, err);
        }
        json_object_put(problems);
        problem_list_free(&pl);
        mapping_free(m);
    }
    db_pool_release(req->app->pool, conn, false);
    return rc;
}

/* Optional {"version":N} body of enable/pause. */
static int64_t expected_version(const struct http_request *req)
{
    json_object *body = req->body_len ? json_tokener_parse(req->body) : NULL;
    json_object *v;
    int64_t out = 0;
    if (body && json_object_object_get_ex(body, "version", &v) &&
        json_object_is_type(v, json_type_int))
        out = json_object_get_int64(v);
    json_object_put(body);
    return out;
}

static int change_state(struct http_request *req, enum mapping_state target)
{
    int64_t id;
    char err[256], actor[64], hs_type_id[128] = "";
    api_request_actor(req, actor, sizeof actor);
    int rc = 0;
    PGconn *conn = begin_mapping_call(req, &id, &rc);
    if (!conn)
        return rc;
    struct mapping *m = load_stored(req, conn, id, &rc);
    if (!m) {
        db_pool_release(req->app->pool, conn, false);
        return rc;
    }
    struct problem_list pl = PROBLEM_LIST_INIT;
    if (target == MAPPING_STATE_ENABLED)
        validate_live(req, conn, m, &pl, hs_type_id, sizeof hs_type_id);
    if (target == MAPPING_STATE_ENABLED && problem_list_has_errors(&pl)) {
        json_object *problems = problem_list_to_json(&pl);
        char serr[256];
        mapping_store_set_validation(conn, id, problems, hs_type_id[0] ? hs_type_id : NULL, serr,
                                     sizeof serr);
        json_object_put(problems);
        rc = respond_problems(req, 400, "invalid_mapping",
                              "the mapping has errors and stays a draft; fix them, then enable it",
                              &pl);
    } else {
        int64_t want = expected_version(req);
        m->state = target;
        json_object *doc = mapping_to_json(m);
        json_object *problems = problem_list_to_json(&pl);
        struct mapping_row row =
            row_for(m, doc, target == MAPPING_STATE_ENABLED ? problems : NULL, hs_type_id);
        if (target != MAPPING_STATE_ENABLED)
            row.problems = NULL;
        int64_t version;
        int st = mapping_store_update(conn, id, want ? want : m->version, &row,
                                      target == MAPPING_STATE_ENABLED ? "enable" : "pause", actor,
                                      &version, err, sizeof err);
        if (st == MS_OK) {
            reclassify(req, conn);
            rc = respond_mapping(req, conn, id, 200);
        } else {
            rc = respond_store_error(req, st, err);
        }
        json_object_put(doc);
        json_object_put(problems);
    }
    problem_list_free(&pl);
    mapping_free(m);
    db_pool_release(req->app->pool, conn, false);
    return rc;
}

int handle_mappings_enable(struct http_request *req)
{
    return change_state(req, MAPPING_STATE_ENABLED);
}

int handle_mappings_pause(struct http_request *req)
{
    return change_state(req, MAPPING_STATE_PAUSED);
}

int handle_mappings_history(struct http_request *req)
{
    int64_t id;
    char err[256];
    int rc = 0;
    PGconn *conn = begin_mapping_call(req, &id, &rc);
    if (!conn)
        return rc;
    json_object *h = mapping_store_history(conn, id, err, sizeof err);
    db_pool_release(req->app->pool, conn, !h);
    if (!h)
        return http_respond_error(req, 503, "unavailable", err);
    if (json_object_array_length(h) == 0) {
        json_object_put(h);
        return http_respond_error(req, 404, "not_found", "no mapping with that id, ever");
    }
    json_object *body = json_object_new_object();
    json_object_object_add(body, "history", h);
    rc = http_respond_json(req, 200, body);
    json_object_put(body);
    return rc;
}

int handle_mappings_export(struct http_request *req)
{
    char err[256];
    PGconn *conn = borrow(req, err, sizeof err);
    if (!conn)
        return http_respond_error(req, 503, "unavailable", err);
    json_object *list = mapping_store_list(conn, err, sizeof err);
    db_pool_release(req->app->pool, conn, !list);
    if (!list)
        return http_respond_error(req, 503, "unavailable", err);
    static const char *const drop[] = {"version", "problems", "validated_at", "created_at",
                                       "updated_at"};
    for (size_t i = 0; i < json_object_array_length(list); i++)
        for (size_t k = 0; k < sizeof drop / sizeof drop[0]; k++)
            json_object_object_del(json_object_array_get_idx(list, i), drop[k]);
    json_object *body = json_object_new_object();
    json_object_object_add(body, "synkro_mappings", json_object_new_int(1));
    json_object_object_add(body, "mappings", list);
    /* the console's "n of 10 mappings used" */
    json_object_object_add(body, "limit", json_object_new_int64(req->app->cfg->max_mappings));
    return api_respond_json_owned(req, 200, body);
}

int handle_mappings_import(struct http_request *req)
{
    json_object *body = json_tokener_parse(req->body);
    json_object *list = NULL;
    if (!body || !json_object_object_get_ex(body, "mappings", &list) ||
        !json_object_is_type(list, json_type_array)) {
        json_object_put(body);
        return http_respond_error(req, 400, "invalid_import",
                                  "send {\"mappings\":[...]} as produced by /api/mappings/export");
    }
    size_t n = json_object_array_length(list);
    struct mapping **ms = calloc(n ? n : 1, sizeof *ms);
    struct problem_list pl = PROBLEM_LIST_INIT;
    char err[256], actor[64], path[64];
    api_request_actor(req, actor, sizeof actor);
    if ((size_t)req->app->cfg->max_mappings < n)
        problem_list_add(&pl, PROBLEM_ERROR, "mappings", "mapping_limit_reached",
                         "%zu mappings exceed SYNKRO_MAX_MAPPINGS (%d)", n,
                         req->app->cfg->max_mappings);
    for (size_t i = 0; ms && i < n; i++) {
        struct problem_list one = PROBLEM_LIST_INIT;
        if (mapping_parse(json_object_array_get_idx(list, i), &ms[i], &one) != MAPPING_PARSE_OK)
            for (size_t k = 0; k < one.count; k++) {
                snprintf(path, sizeof path, "mappings[%zu]", i);
                problem_list_add(&pl, one.items[k].severity, path, one.items[k].code, "%s: %s",
                                 one.items[k].path, one.items[k].message);
            }
        problem_list_free(&one);
    }
    int rc;
    PGconn *conn = NULL;
    if (!ms) {
        rc = http_respond_error(req, 500, "internal", "out of memory");
    } else if (problem_list_has_errors(&pl)) {
        rc = respond_problems(req, 400, "invalid_import", "nothing was imported", &pl);
    } else if (!(conn = borrow(req, err, sizeof err))) {
        rc = http_respond_error(req, 503, "unavailable", err);
    } else {
        /* enabled mappings must validate against the live schemas */
        struct mapping_row *rows = calloc(n ? n : 1, sizeof *rows);
        json_object **docs = calloc(n ? n : 1, sizeof *docs);
        json_object **problems = calloc(n ? n : 1, sizeof *problems);
        char(*types)[128] = calloc(n ? n : 1, sizeof *types);
        for (size_t i = 0; rows && docs && problems && types && i < n; i++) {
            struct problem_list one = PROBLEM_LIST_INIT;
            validate_live(req, conn, ms[i], &one, types[i], sizeof types[i]);
            for (size_t k = 0; k < one.count; k++) {
                if (strcmp(one.items[k].code, "duplicate_mapping") == 0 ||
                    strcmp(one.items[k].code, "mapping_limit_reached") == 0)
                    continue; /* the import replaces what is stored */
                if (ms[i]->state == MAPPING_STATE_ENABLED &&
                    one.items[k].severity == PROBLEM_ERROR) {
                    snprintf(path, sizeof path, "mappings[%zu]", i);
                    problem_list_add(&pl, PROBLEM_ERROR, path, one.items[k].code, "%s: %s",
                                     one.items[k].path, one.items[k].message);
                }
            }
            docs[i] = mapping_to_json(ms[i]);
            problems[i] = problem_list_to_json(&one);
            rows[i] = row_for(ms[i], docs[i], problems[i], types[i]);
            problem_list_free(&one);
        }
        if (!rows || !docs || !problems || !types) {
            rc = http_respond_error(req, 500, "internal", "out of memory");
        } else if (problem_list_has_errors(&pl)) {
            rc =
                respond_problems(req, 400, "invalid_import",
                                 "an enabled mapping does not validate; nothing was imported", &pl);
        } else {
            int st = mapping_store_replace_all(conn, rows, n, actor, err, sizeof err);
            if (st == MS_OK) {
                reclassify(req, conn);
                json_object *out = json_object_new_object();
                json_object_object_add(out, "imported", json_object_new_int64((int64_t)n));
                rc = http_respond_json(req, 200, out);
                json_object_put(out);
            } else {
                rc = respond_store_error(req, st, err);
            }
        }
        for (size_t i = 0; docs && problems && i < n; i++) {
            json_object_put(docs[i]);
            json_object_put(problems[i]);
        }
        free(rows);
        free(docs);
        free(problems);
        free(types);
        db_pool_release(req->app->pool, conn, false);
    }
    for (size_t i = 0; ms && i < n; i++)
        mapping_free(ms[i]);
    free(ms);
    problem_list_free(&pl);
    json_object_put(body);
    return rc;
}

/* ---- preview: a dry run on real Salesforce records ---- */

#define PREVIEW_RECORDS 20

/* Fields written Salesforce -> HubSpot that both schemas know. */
static bool previewable(const struct mapping *m, const struct mapping_field *f,
                        const struct sf_object *sf, const struct hs_object *hs)
{
    return (mapping_field_directions(f->rule) & MAPPING_DIR_SF_TO_HS) &&
           (mapping_record_directions(m) & MAPPING_DIR_SF_TO_HS) &&
           sf_object_field(sf, f->salesforce) && hs_object_property_find(hs, f->hubspot);
}

/* The resolved field list: names, types on both sides, rule, directions. */
static json_object *resolved_fields(const struct mapping *m, const struct sf_object *sf,
                                    const struct hs_object *hs)
{
    json_object *arr = json_object_new_array();
    for (size_t i = 0; i < m->n_fields; i++) {
        const struct mapping_field *f = &m->fields[i];
        const struct sf_field *sff = sf_object_field(sf, f->salesforce);
        const struct hs_object_property *hp = hs_object_property_find(hs, f->hubspot);
        unsigned dirs = mapping_field_directions(f->rule) & mapping_record_directions(m);
        json_object *o = json_object_new_object();
        json_object_object_add(o, "salesforce", json_object_new_string(f->salesforce));
        json_object_object_add(o, "salesforce_type",
                               sff ? json_object_new_string(sf_field_type_name(sff->type)) : NULL);
        json_object_object_add(o, "hubspot", json_object_new_string(f->hubspot));
        json_object_object_add(o, "hubspot_type",
                               hp ? json_object_new_string(hs_property_type_name(hp->type)) : NULL);
        json_object_object_add(o, "rule", json_object_new_string(mapping_field_rule_name(f->rule)));
        json_object_object_add(o, "salesforce_to_hubspot",
                               json_object_new_boolean((dirs & MAPPING_DIR_SF_TO_HS) != 0));
        json_object_object_add(o, "hubspot_to_salesforce",
                               json_object_new_boolean((dirs & MAPPING_DIR_HS_TO_SF) != 0));
        json_object_array_add(arr, o);
    }
    return arr;
}

/* One record as it would be written to HubSpot, with per-field errors. */
static json_object *preview_record(const struct mapping *m, const struct sf_object *sf,
                                   const struct hs_object *hs, json_object *rec)
{
    json_object *out = json_object_new_object();
    json_object *props = json_object_new_object();
    json_object *errors = json_object_new_array();
    json_object *id = NULL;
    json_object_object_get_ex(rec, "Id", &id);
    json_object_object_add(out, "salesforce_id", json_object_get(id));
    if (m->identity_hubspot_property && id)
        json_object_object_add(props, m->identity_hubspot_property, json_object_get(id));
    for (size_t i = 0; i < m->n_fields; i++) {
        const struct mapping_field *f = &m->fields[i];
        if (!previewable(m, f, sf, hs))
            continue;
        json_object *value = NULL;
        json_object_object_get_ex(rec, sf_object_field(sf, f->salesforce)->name, &value);
        char *text = NULL;
        struct value_error verr;
        memset(&verr, 0, sizeof verr);
        if (value_sf_to_hs(sf_object_field(sf, f->salesforce),
                           hs_object_property_find(hs, f->hubspot), f, value, &text,
                           &verr) == VALUE_OK) {
            json_object_object_add(props, f->hubspot, json_object_new_string(text));
        } else {
            json_object *e = json_object_new_object();
            json_object_object_add(e, "salesforce", json_object_new_string(f->salesforce));
            json_object_object_add(e, "hubspot", json_object_new_string(f->hubspot));
            json_object_object_add(e, "code", json_object_new_string(verr.code));
            json_object_object_add(e, "message", json_object_new_string(verr.message));
            json_object_array_add(errors, e);
        }
        free(text);
    }
    json_object_object_add(out, "hubspot_properties", props);
    json_object_object_add(out, "errors", errors);
    return out;
}

/* The preview's query (crm/soql): Id and the previewable mapped fields as the describe spells
 * them, from the object, newest LastModifiedDate first, PREVIEW_RECORDS of them. Caller frees;
 * NULL with err when a name is refused or memory runs out. */
static char *preview_soql(const struct mapping *m, const struct sf_object *sf,
                          const struct hs_object *hs, char *err, size_t errlen)
{
    const char **fields = calloc(m->n_fields + 1, sizeof *fields);
    if (!fields) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    size_t n = 0;
    fields[n++] = "Id";
    for (size_t i = 0; i < m->n_fields; i++)
        if (previewable(m, &m->fields[i], sf, hs))
            fields[n++] = sf_object_field(sf, m->fields[i].salesforce)->name;
    struct soql_query q = {.fields = fields,
                           .nfields = n,
                           .object = sf->name,
                           .order_by = "LastModifiedDate",
                           .descending = true,
                           .limit = PREVIEW_RECORDS};
    char *soql = soql_build(&q, err, errlen);
    free(fields);
    return soql;
}

int handle_mappings_preview(struct http_request *req)
{
    int64_t id;
    char err[512], hs_type_id[128];
    int rc = 0;
    PGconn *conn = begin_mapping_call(req, &id, &rc);
    if (!conn)
        return rc;
    struct mapping *m = load_stored(req, conn, id, &rc);
    struct sf_object *sf = NULL;
    struct hs_object *hs = NULL;
    struct problem_list pl = PROBLEM_LIST_INIT;
    if (!m)
        goto done;
    validate_live(req, conn, m, &pl, hs_type_id, sizeof hs_type_id);
    if (crm_fetch_sf_object(&req->app->crm, m->salesforce_object, &sf, err, sizeof err) !=
            CRM_FETCH_OK ||
        crm_fetch_hs_object(&req->app->crm, m->hubspot_object, &hs, err, sizeof err) !=
            CRM_FETCH_OK) {
        rc = respond_problems(req, 502, "crm_unavailable",
                              "the preview needs both objects' live schemas", &pl);
        goto done;
    }
    char qerr[400];
    char *soql = preview_soql(m, sf, hs, qerr, sizeof qerr);
    struct salesforce_query_page page;
    memset(&page, 0, sizeof page);
    struct crm_error cerr;
    crm_error_clear(&cerr);
    struct crm_http *h = crm_thread_http(req->app->cfg);
    if (!soql || !h ||
        salesforce_query(req->app->crm.salesforce, h, soql, false, &page, &cerr) != 0) {
        const char *why = !soql ? qerr : h ? cerr.message : "out of memory";
        free(soql);
        snprintf(err, sizeof err, "reading Salesforce records failed: %s", why);
        rc = http_respond_error(req, 502, "crm_unavailable", err);
        goto done;
    }
    free(soql);
    json_object *records = json_object_new_array();
    size_t n = page.records ? json_object_array_length(page.records) : 0;
    for (size_t i = 0; i < n && i < PREVIEW_RECORDS; i++)
        json_object_array_add(
            records, preview_record(m, sf, hs, json_object_array_get_idx(page.records, i)));
    salesforce_query_page_free(&page);
    json_object *body = json_object_new_object();
    json_object_object_add(body, "mapping", mapping_to_json(m));
    json_object_object_add(body, "fields", resolved_fields(m, sf, hs));
    json_object_object_add(body, "valid", json_object_new_boolean(!problem_list_has_errors(&pl)));
    json_object_object_add(body, "problems", problem_list_to_json(&pl));
    json_object_object_add(body, "records", records);
    rc = http_respond_json(req, 200, body);
    json_object_put(body);
done:
    problem_list_free(&pl);
    sf_object_free(sf);
    hs_object_free(hs);
    mapping_free(m);
    db_pool_release(req->app->pool, conn, false);
    return rc;
}
