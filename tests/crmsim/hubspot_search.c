/* hubspot_search.c: POST /crm/v3/objects/{type}/search.
 *
 * Searches the records' search snapshots (hubspot_records.c keeps them hubspot_search_delay_ms
 * behind the writes), so fresh writes are invisible for a while, as in HubSpot. Supports
 * filterGroups (OR of ANDed filters; at most 5 groups, 6 filters each, 18 in all) with EQ, NEQ, LT,
 * LTE, GT, GTE, BETWEEN, IN, NOT_IN, HAS_PROPERTY, NOT_HAS_PROPERTY, CONTAINS_TOKEN,
 * NOT_CONTAINS_TOKEN; sorts; properties; limit <= 200; after (an offset); the 10,000-result
 * ceiling; a free-text "query"; and its own 5/s rate limit. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/crmsim/hubspot.h"

struct filter {
    struct hs_property *prop;
    const char *op;
    char *value;
    char *high;
    char **values;
    size_t n_values;
};

struct sort_key {
    struct hs_property *prop;
    bool desc;
};

static char *scalar_text(json_object *v)
{
    if (!v || json_object_is_type(v, json_type_null))
        return NULL;
    if (json_object_is_type(v, json_type_string))
        return xstrdup(json_object_get_string(v));
    if (json_object_is_type(v, json_type_boolean) || json_object_is_type(v, json_type_int) ||
        json_object_is_type(v, json_type_double))
        return xstrdup(json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN));
    return NULL;
}

static bool is_time(const struct hs_property *p)
{
    return strcmp(p->type, "date") == 0 || strcmp(p->type, "datetime") == 0;
}

static int to_ms(const char *s, int64_t *ms)
{
    if (util_parse_int64(s, ms) == 0)
        return 0;
    if (util_parse_datetime(s, ms) == 0)
        return 0;
    return util_parse_date(s, ms);
}

/* Compares a stored value with a filter value; *ok false when they cannot be compared. */
static int compare(const struct hs_property *p, const char *a, const char *b, bool *ok)
{
    *ok = true;
    if (strcmp(p->type, "number") == 0) {
        double x, y;
        if (util_parse_double(a, &x) < 0 || util_parse_double(b, &y) < 0) {
            *ok = false;
            return 0;
        }
        return x < y ? -1 : x > y ? 1 : 0;
    }
    if (is_time(p)) {
        int64_t x, y;
        if (to_ms(a, &x) < 0 || to_ms(b, &y) < 0) {
            *ok = false;
            return 0;
        }
        return x < y ? -1 : x > y ? 1 : 0;
    }
    return strcasecmp(a, b);
}

static bool eq(const struct hs_property *p, const char *a, const char *b)
{
    bool ok;
    return compare(p, a, b, &ok) == 0 && ok;
}

static bool contains_token(const char *value, const char *pattern)
{
    if (util_glob_ci(pattern, value, false))
        return true;
    const char *s = value;
    while (*s) {
        while (*s == ' ' || *s == '\t' || *s == ';' || *s == ',')
            s++;
        const char *e = s;
        while (*e && *e != ' ' && *e != '\t' && *e != ';' && *e != ',')
            e++;
        if (e > s) {
            char *tok = xstrndup(s, (size_t)(e - s));
            bool m = util_glob_ci(pattern, tok, false);
            free(tok);
            if (m)
                return true;
        }
        s = e;
    }
    return false;
}

static bool filter_match(const struct filter *f, json_object *props)
{
    const char *v = json_get_str(props, f->prop->name);
    bool has = v && *v;
    const char *op = f->op;
    if (strcmp(op, "HAS_PROPERTY") == 0)
        return has;
    if (strcmp(op, "NOT_HAS_PROPERTY") == 0)
        return !has;
    if (strcmp(op, "NEQ") == 0)
        return !has || !eq(f->prop, v, f->value);
    if (strcmp(op, "NOT_IN") == 0) {
        for (size_t i = 0; has && i < f->n_values; i++) {
            if (eq(f->prop, v, f->values[i]))
                return false;
        }
        return true;
    }
    if (strcmp(op, "NOT_CONTAINS_TOKEN") == 0)
        return !has || !contains_token(v, f->value);
    if (!has)
        return false;
    if (strcmp(op, "EQ") == 0)
        return eq(f->prop, v, f->value);
    if (strcmp(op, "IN") == 0) {
        for (size_t i = 0; i < f->n_values; i++) {
            if (eq(f->prop, v, f->values[i]))
                return true;
        }
        return false;
    }
    if (strcmp(op, "CONTAINS_TOKEN") == 0)
        return contains_token(v, f->value);
    bool ok;
    if (strcmp(op, "BETWEEN") == 0) {
        bool ok2;
        int lo = compare(f->prop, v, f->value, &ok);
        int hi = compare(f->prop, v, f->high, &ok2);
        return ok && ok2 && lo >= 0 && hi <= 0;
    }
    int c = compare(f->prop, v, f->value, &ok);
    if (!ok)
        return false;
    if (strcmp(op, "LT") == 0)
        return c < 0;
    if (strcmp(op, "LTE") == 0)
        return c <= 0;
    if (strcmp(op, "GT") == 0)
        return c > 0;
    if (strcmp(op, "GTE") == 0)
        return c >= 0;
    return false;
}

static void filter_free(struct filter *f)
{
    free(f->value);
    free(f->high);
    for (size_t i = 0; i < f->n_values; i++)
        free(f->values[i]);
    free(f->values);
}

static const char *const operators[] = {"EQ",
                                        "NEQ",
                                        "LT",
                                        "LTE",
                                        "GT",
                                        "GTE",
                                        "BETWEEN",
                                        "IN",
                                        "NOT_IN",
                                        "HAS_PROPERTY",
                                        "NOT_HAS_PROPERTY",
                                        "CONTAINS_TOKEN",
                                        "NOT_CONTAINS_TOKEN"};

static int parse_filter(struct hs_schema *s, json_object *fd, struct filter *f, char *err,
                        size_t errlen)
{
    memset(f, 0, sizeof *f);
    const char *name = json_get_str(fd, "propertyName");
    const char *op = json_get_str(fd, "operator");
    if (!name || !op) {
        snprintf(err, errlen, "every filter needs propertyName and operator");
        return -1;
    }
    f->prop = hs_schema_prop(s, name);
    if (!f->prop) {
        snprintf(err, errlen, "Property \"%.200s\" does not exist", name);
        return -1;
    }
    for (size_t i = 0; i < sizeof operators / sizeof operators[0]; i++) {
        if (strcmp(operators[i], op) == 0)
            f->op = operators[i];
    }
    if (!f->op) {
        snprintf(err, errlen, "Unknown filter operator %.50s", op);
        return -1;
    }
    f->value = scalar_text(json_get(fd, "value"));
    f->high = scalar_text(json_get(fd, "highValue"));
    bool needs_values = strcmp(op, "IN") == 0 || strcmp(op, "NOT_IN") == 0;
    bool needs_none = strcmp(op, "HAS_PROPERTY") == 0 || strcmp(op, "NOT_HAS_PROPERTY") == 0;
    if (needs_values) {
        json_object *vals = json_get(fd, "values");
        if (!vals || !json_object_is_type(vals, json_type_array)) {
            snprintf(err, errlen, "operator %s needs a \"values\" array", op);
            return -1;
        }
        size_t n = json_object_array_length(vals);
        f->values = xcalloc(n + 1, sizeof *f->values);
        for (size_t i = 0; i < n; i++) {
            char *v = scalar_text(json_object_array_get_idx(vals, i));
            if (v)
                f->values[f->n_values++] = v;
        }
    } else if (needs_none) {
        if (f->value) {
            snprintf(err, errlen, "operator %s does not take a value", op);
            return -1;
        }
    } else if (!f->value || (strcmp(op, "BETWEEN") == 0 && !f->high)) {
        snprintf(err, errlen, "operator %s needs a \"value\"%s", op,
                 strcmp(op, "BETWEEN") == 0 ? " and a \"highValue\"" : "");
        return -1;
    }
    return 0;
}

struct sort_ctx {
    struct sort_key *keys;
    size_t n;
};

static int sort_cmp(const void *a, const void *b, void *ctx)
{
    const struct hs_record *ra = a, *rb = b;
    const struct sort_ctx *c = ctx;
    for (size_t i = 0; i < c->n; i++) {
        const char *va = json_get_str(ra->index_props, c->keys[i].prop->name);
        const char *vb = json_get_str(rb->index_props, c->keys[i].prop->name);
        int r;
        if (!va || !vb) {
            r = (va == NULL) - (vb == NULL); /* missing values last */
            if (r)
                return r;
            continue;
        }
        bool ok;
        r = compare(c->keys[i].prop, va, vb, &ok);
        if (!ok)
            r = strcmp(va, vb);
        if (r)
            return c->keys[i].desc ? -r : r;
    }
    return hs_id_cmp(ra->id, rb->id);
}

static int parse_sorts(struct hs_schema *s, json_object *sorts, struct sort_ctx *sc, char *err,
                       size_t errlen)
{
    size_t n = sorts ? json_object_array_length(sorts) : 0;
    sc->keys = xcalloc(n + 1, sizeof *sc->keys);
    for (size_t i = 0; i < n; i++) {
        json_object *sd = json_object_array_get_idx(sorts, i);
        const char *name;
        bool desc = false;
        if (json_object_is_type(sd, json_type_string)) {
            name = json_object_get_string(sd);
            if (*name == '-') {
                desc = true;
                name++;
            }
        } else {
            name = json_get_str(sd, "propertyName");
            const char *dir = json_get_str(sd, "direction");
            if (dir && strcmp(dir, "DESCENDING") == 0)
                desc = true;
            else if (dir && strcmp(dir, "ASCENDING") != 0) {
                snprintf(err, errlen, "sort direction must be ASCENDING or DESCENDING");
                return -1;
            }
        }
        struct hs_property *p = name ? hs_schema_prop(s, name) : NULL;
        if (!p) {
            snprintf(err, errlen, "cannot sort by unknown property %.200s", name ? name : "(null)");
            return -1;
        }
        sc->keys[sc->n].prop = p;
        sc->keys[sc->n].desc = desc;
        sc->n++;
    }
    return 0;
}

static bool query_match(json_object *props, const char *q)
{
    char pattern[520];
    snprintf(pattern, sizeof pattern, "*%.500s*", q);
    json_object_object_foreach(props, key, val)
    {
        if (!util_starts_with(key, "hs_") &&
            util_glob_ci(pattern, json_object_get_string(val), false))
            return true;
    }
    return false;
}

void hs_route_search(struct sim *sim, struct http_req *req, struct http_resp *resp)
{
    if (hs_search_ratelimit_check(sim, resp) < 0)
        return;
    struct hs_schema *s = hs_schema_require(sim, http_param(req, 0), resp);
    if (!s)
        return;
    json_object *body;
    if (hs_body_json(req, resp, &body) < 0)
        return;
    char err[300] = "";
    struct filter *filters = NULL;
    size_t *group_end = NULL;
    size_t n_filters = 0, n_groups = 0;
    struct sort_ctx sc = {0};
    struct hs_record **hits = NULL;

    int64_t limit = 10, after = 0;
    json_object *lv = json_get(body, "limit");
    if (lv && (!json_object_is_type(lv, json_type_int) || json_object_get_int64(lv) < 0 ||
               json_object_get_int64(lv) > HS_SEARCH_LIMIT_MAX)) {
        snprintf(err, sizeof err, "limit must be an integer between 0 and %d", HS_SEARCH_LIMIT_MAX);
        goto fail;
    }
    if (lv)
        limit = json_object_get_int64(lv);
    json_object *av = json_get(body, "after");
    if (av) {
        char *as = scalar_text(av);
        int rc = as && *as ? util_parse_int64(as, &after) : 0;
        free(as);
        if (rc < 0 || after < 0) {
            snprintf(err, sizeof err, "after must be a non-negative integer offset");
            goto fail;
        }
    }
    if (after + limit > HS_SEARCH_RESULTS_MAX) {
        snprintf(err, sizeof err, "Search results are limited to %d; after + limit exceeds it",
                 HS_SEARCH_RESULTS_MAX);
        goto fail;
    }
    json_object *groups = json_get(body, "filterGroups");
    if (groups && !json_object_is_type(groups, json_type_array)) {
        snprintf(err, sizeof err, "filterGroups must be an array");
        goto fail;
    }
    n_groups = groups ? json_object_array_length(groups) : 0;
    if (n_groups > 5) {
        snprintf(err, sizeof err, "at most 5 filterGroups are allowed");
        goto fail;
    }
    filters = xcalloc(18, sizeof *filters);
    group_end = xcalloc(n_groups + 1, sizeof *group_end);
    for (size_t g = 0; g < n_groups; g++) {
        json_object *fl = json_get(json_object_array_get_idx(groups, g), "filters");
        size_t nf =
            fl && json_object_is_type(fl, json_type_array) ? json_object_array_length(fl) : 0;
        if (nf > 6) {
            snprintf(err, sizeof err, "at most 6 filters per filterGroup are allowed");
            goto fail;
        }
        if (n_filters + nf > 18) {
            snprintf(err, sizeof err, "at most 18 filters in total are allowed");
            goto fail;
        }
        for (size_t i = 0; i < nf; i++) {
            if (parse_filter(s, json_object_array_get_idx(fl, i), &filters[n_filters], err,
                             sizeof err) < 0) {
                filter_free(&filters[n_filters]);
                goto fail;
            }
            n_filters++;
        }
        group_end[g] = n_filters;
    }
    json_object *sorts = json_get(body, "sorts");
    if (sorts && !json_object_is_type(sorts, json_type_array)) {
        snprintf(err, sizeof err, "sorts must be an array");
        goto fail;
    }
    if (parse_sorts(s, sorts, &sc, err, sizeof err) < 0)
        goto fail;
    const char *q = json_get_str(body, "query");

    hs_index_catch_up(sim, s, util_now_ms());
    hits = xcalloc(s->n_records + 1, sizeof *hits);
    size_t n_hits = 0;
    for (size_t i = 0; i < s->n_records; i++) {
        struct hs_record *r = s->records[i];
        if (!r->index_props || r->index_archived)
            continue;
        bool match = n_groups == 0;
        size_t start = 0;
        for (size_t g = 0; g < n_groups && !match; g++) {
            bool all = true;
            for (size_t f = start; f < group_end[g] && all; f++)
                all = filter_match(&filters[f], r->index_props);
            match = all;
            start = group_end[g];
        }
        if (match && q && *q)
            match = query_match(r->index_props, q);
        if (match)
            hits[n_hits++] = r;
    }
    util_sort((void **)hits, n_hits, sort_cmp, &sc);
    json_object *wanted = json_get(body, "properties");
    json_object *results = json_object_new_array();
    for (size_t i = (size_t)after; i < n_hits && i < (size_t)(after + limit); i++)
        json_object_array_add(
            results, hs_record_render(s, hits[i], hits[i]->index_props, wanted, HS_RENDER_DEFAULT));
    json_object *out = json_object_new_object();
    json_set_int(out, "total", (int64_t)n_hits);
    json_object_object_add(out, "results", results);
    if ((size_t)(after + limit) < n_hits && after + limit < HS_SEARCH_RESULTS_MAX && limit > 0) {
        char next[32];
        snprintf(next, sizeof next, "%lld", (long long)(after + limit));
        json_object *paging = json_object_new_object();
        json_object *n = json_object_new_object();
        json_set_str(n, "after", next);
        json_object_object_add(paging, "next", n);
        json_object_object_add(out, "paging", paging);
    }
    http_resp_json(resp, 200, out);
    goto done;
fail:
    hs_errorf(resp, 400, "VALIDATION_ERROR", "%s", err);
done:
    for (size_t i = 0; i < n_filters; i++)
        filter_free(&filters[i]);
    free(filters);
    free(group_end);
    free(sc.keys);
    free(hits);
    json_object_put(body);
}
