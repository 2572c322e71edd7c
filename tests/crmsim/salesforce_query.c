/* salesforce_query.c: GET query?q=, queryAll?q= and query/{locator} (nextRecordsUrl) for
 * Salesforce.
 *
 * Parses with soql.c, resolves object and field names case-insensitively against the describe
 * (INVALID_TYPE / INVALID_FIELD), type-checks filter literals against field types
 * (INVALID_QUERY_FILTER_OPERATOR, e.g. a quoted datetime), filters, sorts (default: creation
 * order), applies OFFSET/LIMIT, and pages the result salesforce_query_page_size rows at a time.
 * Remaining rows are kept in a cursor (at most 50, 15 minutes) whose locator is "<01g…
 * id>-<offset>". queryAll also returns soft-deleted rows. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/crmsim/hmap.h"
#include "tests/crmsim/salesforce.h"
#include "tests/crmsim/soql.h"

#define SOQL_MAX_OFFSET 2000

struct row_ctx {
    struct sf_object *o;
    struct sf_record *rec;
    json_object *held[8]; /* values fetched for the current comparison */
    size_t n_held;
};

static bool is_id_field(const struct sf_field *f)
{
    return strcmp(f->type, "id") == 0 || strcmp(f->type, "reference") == 0;
}

static enum soql_kind field_kind(const struct sf_field *f)
{
    const char *t = f->type;
    if (strcmp(t, "boolean") == 0)
        return SV_BOOL;
    if (strcmp(t, "int") == 0 || strcmp(t, "double") == 0 || strcmp(t, "currency") == 0 ||
        strcmp(t, "percent") == 0)
        return SV_NUMBER;
    if (strcmp(t, "date") == 0)
        return SV_DATE;
    if (strcmp(t, "datetime") == 0)
        return SV_DATETIME;
    return SV_STRING;
}

static void release_held(struct row_ctx *c)
{
    for (size_t i = 0; i < c->n_held; i++)
        json_object_put(c->held[i]);
    c->n_held = 0;
}

static bool get_value(void *ctx, const char *field, struct soql_value *out)
{
    struct row_ctx *c = ctx;
    struct sf_field *f = sf_field_find(c->o, field);
    if (!f)
        return false;
    if (c->n_held == sizeof c->held / sizeof c->held[0])
        release_held(c);
    json_object *v = sf_record_value(c->o, c->rec, f);
    memset(out, 0, sizeof *out);
    if (!v) {
        out->kind = SV_NULL;
        return true;
    }
    c->held[c->n_held++] = v;
    out->kind = field_kind(f);
    out->is_id = is_id_field(f);
    switch (out->kind) {
    case SV_BOOL:
        out->b = json_object_get_boolean(v);
        break;
    case SV_NUMBER:
        out->num = json_object_get_double(v);
        break;
    case SV_DATE:
        if (util_parse_date(json_object_get_string(v), &out->ms) < 0)
            out->kind = SV_NULL;
        break;
    case SV_DATETIME:
        if (util_parse_datetime(json_object_get_string(v), &out->ms) < 0)
            out->kind = SV_NULL;
        break;
    default:
        out->s = (char *)json_object_get_string(v);
        break;
    }
    return true;
}

static const char *kind_name(enum soql_kind k)
{
    static const char *const names[] = {"null", "string", "number", "boolean", "date", "dateTime"};
    return names[k];
}

/* Canonicalises field names in a condition tree and checks literal types. */
static int check_cond(struct sf_object *o, struct soql_cond *c, struct http_resp *resp)
{
    if (c->kind != SOQL_CMP) {
        for (size_t i = 0; i < c->n_kids; i++) {
            if (check_cond(o, c->kids[i], resp) < 0)
                return -1;
        }
        return 0;
    }
    struct sf_field *f = sf_field_find(o, c->field);
    if (!f) {
        sf_errorf(
            resp, 400, "INVALID_FIELD",
            "No such column '%.100s' on entity '%s'. If you are attempting to use a custom "
            "field, be sure to append the '__c' after the custom field name. Please reference "
            "your WSDL or the describe call for the appropriate names.",
            c->field, o->name);
        return -1;
    }
    free(c->field);
    c->field = xstrdup(f->name);
    enum soql_kind want = field_kind(f);
    struct soql_value *vals = c->n_values ? c->values : &c->value;
    size_t n = c->n_values ? c->n_values : 1;
    for (size_t i = 0; i < n; i++) {
        struct soql_value *v = &vals[i];
        if (v->kind == SV_NULL)
            continue;
        if (c->op == SOQL_LIKE && want != SV_STRING) {
            sf_errorf(resp, 400, "INVALID_QUERY_FILTER_OPERATOR",
                      "invalid operator on field %s: LIKE only applies to text fields", f->name);
            return -1;
        }
        if (v->kind != want) {
            if (want == SV_DATETIME || want == SV_DATE || want == SV_NUMBER || want == SV_BOOL)
                sf_errorf(resp, 400, "INVALID_QUERY_FILTER_OPERATOR",
                          "value of filter criterion for field '%s' must be of type %s and should "
                          "not be enclosed in quotes",
                          f->name, kind_name(want));
            else
                sf_errorf(resp, 400, "INVALID_QUERY_FILTER_OPERATOR",
                          "value of filter criterion for field '%s' must be of type %s and should "
                          "be enclosed in quotes",
                          f->name, kind_name(want));
            return -1;
        }
        if (is_id_field(f)) {
            char id18[19];
            if (sf_id_normalize(v->s, id18) < 0) {
                sf_errorf(resp, 400, "INVALID_QUERY_FILTER_OPERATOR", "invalid ID field: %.100s",
                          v->s);
                return -1;
            }
            free(v->s);
            v->s = xstrdup(id18);
            v->is_id = true;
        }
    }
    return 0;
}

struct sort_ctx {
    struct sf_object *o;
    struct soql_order *order;
    size_t n;
};

static int row_cmp(const void *a, const void *b, void *ctx)
{
    const struct sort_ctx *s = ctx;
    for (size_t i = 0; i < s->n; i++) {
        struct row_ctx ca = {s->o, (struct sf_record *)a, {0}, 0};
        struct row_ctx cb = {s->o, (struct sf_record *)b, {0}, 0};
        struct soql_value va, vb;
        get_value(&ca, s->order[i].field, &va);
        get_value(&cb, s->order[i].field, &vb);
        int r;
        if (va.kind == SV_NULL || vb.kind == SV_NULL) {
            r = (va.kind == SV_NULL) - (vb.kind == SV_NULL);
            r = s->order[i].nulls_last ? r : -r;
        } else {
            bool ok;
            r = soql_compare(&va, &vb, &ok);
            if (s->order[i].desc)
                r = -r;
        }
        release_held(&ca);
        release_held(&cb);
        if (r)
            return r;
    }
    return 0;
}

static void cursor_free(struct sf_cursor *c)
{
    if (!c)
        return;
    json_object_put(c->records);
    free(c);
}

void sf_cursors_clear(struct sim *sim)
{
    for (size_t i = 0; i < SIM_MAX_CURSORS; i++) {
        cursor_free(sim->sf.cursors[i]);
        sim->sf.cursors[i] = NULL;
    }
}

static struct sf_cursor *cursor_new(struct sim *sim)
{
    int64_t now = util_mono_ms();
    size_t slot = SIM_MAX_CURSORS, oldest = 0;
    for (size_t i = 0; i < SIM_MAX_CURSORS; i++) {
        struct sf_cursor *c = sim->sf.cursors[i];
        if (c && now - c->created_mono > SIM_CURSOR_TTL_MS) {
            cursor_free(c);
            sim->sf.cursors[i] = c = NULL;
        }
        if (!c && slot == SIM_MAX_CURSORS)
            slot = i;
        if (c && sim->sf.cursors[oldest] && c->created_mono < sim->sf.cursors[oldest]->created_mono)
            oldest = i;
    }
    if (slot == SIM_MAX_CURSORS) {
        cursor_free(sim->sf.cursors[oldest]);
        sim->sf.cursors[oldest] = NULL;
        slot = oldest;
    }
    struct sf_cursor *c = xcalloc(1, sizeof *c);
    sf_id_generate(sim, "01g", c->id);
    c->created_mono = now;
    sim->sf.cursors[slot] = c;
    return c;
}

static json_object *page(struct sim *sim, struct http_req *req, struct sf_cursor *cur,
                         json_object *rows, size_t offset)
{
    size_t total = json_object_array_length(rows);
    size_t size = (size_t)sim->cfg.sf_query_page_size;
    json_object *out = json_object_new_object();
    json_set_int(out, "totalSize", (int64_t)total);
    json_object *records = json_object_new_array();
    for (size_t i = offset; i < total && i < offset + size; i++)
        json_object_array_add(records, json_object_get(json_object_array_get_idx(rows, i)));
    bool done = offset + size >= total;
    json_set_bool(out, "done", done);
    if (!done) {
        if (!cur) {
            cur = cursor_new(sim);
            cur->records = json_object_get(rows);
        }
        char url[256];
        snprintf(url, sizeof url, "/services/data/%s/query/%s-%zu", req->caller.sf_version, cur->id,
                 offset + size);
        json_set_str(out, "nextRecordsUrl", url);
    }
    json_object_object_add(out, "records", records);
    return out;
}

/* The condition `Id IN (...)` of where, alone or as a term of its top-level AND; NULL when it has
 * none. */
static const struct soql_cond *id_in_term(const struct soql_cond *where)
{
    if (!where)
        return NULL;
    if (where->kind == SOQL_CMP)
        return where->op == SOQL_IN && strcmp(where->field, "Id") == 0 ? where : NULL;
    if (where->kind != SOQL_AND)
        return NULL;
    for (size_t i = 0; i < where->n_kids; i++) {
        const struct soql_cond *t = id_in_term(where->kids[i]);
        if (t)
            return t;
    }
    return NULL;
}

/* The first 15 characters of id into key, which is what ids compare on; false when it is shorter
 * (such a value matches no id). */
static bool id15(const char *id, char key[16])
{
    if (!id || strlen(id) < 15)
        return false;
    memcpy(key, id, 15);
    key[15] = '\0';
    return true;
}

/* Fills set with the 15-character keys of every value of an `Id IN (...)` term: an id matches
 * such a term exactly when its own key is among them. The scan then skips, with one lookup, each
 * record the term rules out, as the CRM's index on Id does, instead of comparing its id with
 * every listed value (a 200-id read of a 10,000-record object made two million comparisons). */
static void id_prefix_set(const struct soql_cond *term, struct hmap *set)
{
    char key[16];
    for (size_t i = 0; i < term->n_values; i++)
        if (term->values[i].kind == SV_STRING && id15(term->values[i].s, key))
            hmap_put(set, key, (void *)term);
}

static bool id_may_match(const struct hmap *set, const char *id)
{
    char key[16];
    return id15(id, key) && hmap_get(set, key) != NULL;
}

static void run_query(struct sim *sim, struct http_req *req, struct http_resp *resp, bool all)
{
    const char *q = kvlist_get(&req->query, "q");
    if (!q || !*q) {
        sf_error(resp, 400, "MALFORMED_QUERY", "A query string has to be specified");
        return;
    }
    char err[300];
    struct soql_query *sq = soql_parse(q, err, sizeof err);
    if (!sq) {
        sf_error(resp, 400, "MALFORMED_QUERY", err);
        return;
    }
    struct sf_object *o = sf_object_find(sim, sq->object);
    json_object *rows = NULL;
    struct sf_record **hits = NULL;
    if (!o) {
        sf_errorf(
            resp, 400, "INVALID_TYPE",
            "sObject type '%.100s' is not supported. If you are attempting to use a custom "
            "object, be sure to append the '__c' after the entity name. Please reference your "
            "WSDL or the describe call for the appropriate names.",
            sq->object);
        goto done;
    }
    for (size_t i = 0; i < sq->n_fields; i++) {
        struct sf_field *f = sf_field_find(o, sq->fields[i]);
        if (!f) {
            sf_errorf(resp, 400, "INVALID_FIELD",
                      "No such column '%.100s' on entity '%s'. If you are attempting to use a "
                      "custom field, be sure to append the '__c' after the custom field name. "
                      "Please reference your WSDL or the describe call for the appropriate names.",
                      sq->fields[i], o->name);
            goto done;
        }
        for (size_t j = 0; j < i; j++) {
            if (strcmp(sq->fields[j], f->name) == 0) {
                sf_errorf(resp, 400, "DUPLICATE_FIELD", "duplicate field selected: %s", f->name);
                goto done;
            }
        }
        free(sq->fields[i]);
        sq->fields[i] = xstrdup(f->name);
    }
    for (size_t i = 0; i < sq->n_order; i++) {
        struct sf_field *f = sf_field_find(o, sq->order[i].field);
        if (!f) {
            sf_errorf(resp, 400, "INVALID_FIELD", "No such column '%.100s' on entity '%s'.",
                      sq->order[i].field, o->name);
            goto done;
        }
        free(sq->order[i].field);
        sq->order[i].field = xstrdup(f->name);
    }
    if (sq->where && check_cond(o, sq->where, resp) < 0)
        goto done;
    if (sq->offset > SOQL_MAX_OFFSET) {
        sf_errorf(resp, 400, "NUMBER_OUTSIDE_VALID_RANGE", "Maximum SOQL offset allowed is %d",
                  SOQL_MAX_OFFSET);
        goto done;
    }
    const struct soql_cond *ids = id_in_term(sq->where);
    struct hmap id_set = {0};
    if (ids)
        id_prefix_set(ids, &id_set);
    hits = xcalloc(o->n_records + 1, sizeof *hits);
    size_t n = 0;
    for (size_t i = 0; i < o->n_records; i++) {
        struct sf_record *r = o->records[i];
        if (r->deleted && !all)
            continue;
        if (ids && !id_may_match(&id_set, r->id))
            continue;
        struct row_ctx ctx = {o, r, {0}, 0};
        bool match = !sq->where || soql_eval(sq->where, get_value, &ctx);
        release_held(&ctx);
        if (match)
            hits[n++] = r;
    }
    hmap_clear(&id_set);
    struct sort_ctx sc = {o, sq->order, sq->n_order};
    if (sq->n_order)
        util_sort((void **)hits, n, row_cmp, &sc);
    size_t start = (size_t)sq->offset < n ? (size_t)sq->offset : n;
    size_t end = n;
    if (sq->limit >= 0 && start + (size_t)sq->limit < end)
        end = start + (size_t)sq->limit;
    if (sq->count) {
        json_object *out = json_object_new_object();
        json_set_int(out, "totalSize", (int64_t)(end - start));
        json_set_bool(out, "done", true);
        json_object_object_add(out, "records", json_object_new_array());
        http_resp_json(resp, 200, out);
        goto done;
    }
    json_object *fields = json_object_new_array();
    for (size_t i = 0; i < sq->n_fields; i++)
        json_object_array_add(fields, json_object_new_string(sq->fields[i]));
    rows = json_object_new_array();
    for (size_t i = start; i < end; i++)
        json_object_array_add(rows, sf_record_render(o, hits[i], fields, req->caller.sf_version));
    json_object_put(fields);
    http_resp_json(resp, 200, page(sim, req, NULL, rows, 0));
done:
    json_object_put(rows);
    free(hits);
    soql_free(sq);
}

void sf_route_query(struct sim *sim, struct http_req *req, struct http_resp *resp)
{
    run_query(sim, req, resp, false);
}

void sf_route_query_all(struct sim *sim, struct http_req *req, struct http_resp *resp)
{
    run_query(sim, req, resp, true);
}

void sf_route_query_more(struct sim *sim, struct http_req *req, struct http_resp *resp)
{
    const char *loc = http_param(req, 0);
    const char *dash = strrchr(loc, '-');
    int64_t offset = -1;
    struct sf_cursor *cur = NULL;
    if (dash && dash - loc == 18 && util_parse_int64(dash + 1, &offset) == 0 && offset >= 0) {
        for (size_t i = 0; i < SIM_MAX_CURSORS; i++) {
            struct sf_cursor *c = sim->sf.cursors[i];
            if (c && strncmp(c->id, loc, 18) == 0 &&
                util_mono_ms() - c->created_mono <= SIM_CURSOR_TTL_MS)
                cur = c;
        }
    }
    if (!cur || (size_t)offset >= json_object_array_length(cur->records)) {
        sf_error(resp, 400, "INVALID_QUERY_LOCATOR", "invalid query locator");
        return;
    }
    http_resp_json(resp, 200, page(sim, req, cur, cur->records, (size_t)offset));
}
