/* stats.c: per-endpoint call counters and a bounded ring of recently recorded requests (see
 * stats.h). */
#include "tests/crmsim/stats.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/crmsim/deliveries.h"
#include "tests/crmsim/util.h"

static bool secret_header(const char *name)
{
    return util_streq_ci(name, "Authorization") || util_streq_ci(name, "Cookie") ||
           util_streq_ci(name, "Proxy-Authorization");
}

/* Token endpoint forms carry secrets: their values are replaced by *** in the log (keys are kept so
 * tests can still check the shape of the request). NULL when the body needs no redaction. */
static char *token_body_redacted(const struct http_req *req)
{
    static const char *const secret_keys[] = {"client_secret", "refresh_token", "assertion",
                                              "code",          "password",      "token"};
    if (!req->path || !req->body ||
        !(util_starts_with(req->path, "/oauth/") ||
          util_starts_with(req->path, "/services/oauth2/")))
        return NULL;
    struct kvlist form = {0};
    if (util_parse_form(req->body, req->body_len, &form) < 0) {
        kvlist_free(&form);
        return xstrdup("(unparseable form body)");
    }
    struct buf b = {0};
    for (size_t i = 0; i < form.n; i++) {
        bool secret = false;
        for (size_t k = 0; k < sizeof secret_keys / sizeof secret_keys[0]; k++)
            secret |= strcmp(form.items[i].key, secret_keys[k]) == 0;
        buf_printf(&b, "%s%s=%s", i ? "&" : "", form.items[i].key,
                   secret ? "***" : form.items[i].value);
    }
    kvlist_free(&form);
    return buf_detach(&b, NULL);
}

static void count(struct sim *sim, const char *method, const char *route, int status)
{
    struct stats *st = &sim->stats;
    for (size_t i = 0; i < st->n_counts; i++) {
        struct stat_count *c = &st->counts[i];
        if (c->status == status && strcmp(c->route, route) == 0 && strcmp(c->method, method) == 0) {
            c->count++;
            return;
        }
    }
    if (st->n_counts >= SIM_MAX_STAT_KEYS)
        return;
    xgrow(&st->counts, &st->cap_counts, st->n_counts + 1, sizeof *st->counts);
    struct stat_count *c = &st->counts[st->n_counts++];
    snprintf(c->method, sizeof c->method, "%s", method);
    c->route = route;
    c->status = status;
    c->count = 1;
}

static void log_resize(struct sim *sim, size_t cap)
{
    struct stats *st = &sim->stats;
    if (st->log_cap == cap)
        return;
    for (size_t i = 0; i < st->log_n; i++)
        json_object_put(st->log[(st->log_head + i) % st->log_cap]);
    free(st->log);
    st->log = cap ? xcalloc(cap, sizeof *st->log) : NULL;
    st->log_cap = cap;
    st->log_head = st->log_n = 0;
}

void stats_record(struct sim *sim, const struct http_req *req, const struct http_resp *resp,
                  const char *route)
{
    count(sim, req->method, route, resp->drop ? 0 : resp->status);
    log_resize(sim, (size_t)sim->cfg.request_log_size);
    struct stats *st = &sim->stats;
    if (st->log_cap == 0)
        return;
    json_object *o = json_object_new_object();
    json_set_int(o, "seq", (int64_t)++st->seq);
    char ts[40];
    util_fmt_iso_ms(util_now_ms(), ts, sizeof ts);
    json_set_str(o, "time", ts);
    json_set_str(o, "method", req->method);
    json_set_str(o, "path", req->path ? req->path : "");
    json_set_str(o, "query", req->raw_query ? req->raw_query : "");
    json_set_str(o, "route", route);
    json_object *h = json_object_new_object();
    for (size_t i = 0; i < req->headers.n; i++) {
        if (!secret_header(req->headers.items[i].key))
            json_set_str(h, req->headers.items[i].key, req->headers.items[i].value);
    }
    json_object_object_add(o, "headers", h);
    size_t max = (size_t)sim->cfg.request_log_body_max;
    char *redacted = token_body_redacted(req);
    const char *body = redacted ? redacted : (req->body ? req->body : "");
    size_t blen = redacted ? strlen(redacted) : req->body_len;
    size_t n = blen < max ? blen : max;
    json_object_object_add(o, "body", json_object_new_string_len(body, (int)n));
    json_set_bool(o, "bodyTruncated", n < blen);
    free(redacted);
    json_set_int(o, "status", resp->drop ? 0 : resp->status);
    if (st->log_n == st->log_cap) {
        json_object_put(st->log[st->log_head]);
        st->log[st->log_head] = o;
        st->log_head = (st->log_head + 1) % st->log_cap;
    } else {
        st->log[(st->log_head + st->log_n) % st->log_cap] = o;
        st->log_n++;
    }
}

json_object *stats_to_json(struct sim *sim, const char *path_prefix, int64_t limit)
{
    struct stats *st = &sim->stats;
    json_object *root = json_object_new_object();
    json_object *calls = json_object_new_array();
    json_object *by_route = json_object_new_object();
    for (size_t i = 0; i < st->n_counts; i++) {
        struct stat_count *c = &st->counts[i];
        json_object *o = json_object_new_object();
        json_set_str(o, "method", c->method);
        json_set_str(o, "route", c->route);
        json_set_int(o, "status", c->status);
        json_set_int(o, "count", (int64_t)c->count);
        json_object_array_add(calls, o);
        char key[300], status[16];
        snprintf(key, sizeof key, "%s %s", c->method, c->route);
        snprintf(status, sizeof status, "%d", c->status);
        json_object *m = json_get(by_route, key);
        if (!m) {
            m = json_object_new_object();
            json_object_object_add(by_route, key, m);
        }
        json_set_int(m, status, (int64_t)c->count);
    }
    json_object_object_add(root, "calls", calls);
    json_object_object_add(root, "callsByRoute", by_route);
    json_object *refresh = json_object_new_object();
    json_set_int(refresh, "hubspot", (int64_t)sim->hs.refreshes);
    json_set_int(refresh, "salesforce", (int64_t)sim->sf.refreshes);
    json_object_object_add(root, "tokenRefreshes", refresh);
    json_object *usage = json_object_new_object();
    json_set_int(usage, "used", sim->sf.api_used);
    json_set_int(usage, "max", sim->cfg.sf_api_usage_max);
    json_object_object_add(root, "salesforceApiUsage", usage);
    json_object_object_add(root, "deliveries", deliveries_stats_json(sim));
    json_object *recent = json_object_new_array();
    size_t total = 0;
    for (size_t i = st->log_n; i-- > 0;) {
        json_object *r = st->log[(st->log_head + i) % st->log_cap];
        if (path_prefix && !util_starts_with(json_get_str(r, "path"), path_prefix))
            continue;
        if (limit >= 0 && (int64_t)total >= limit)
            break;
        json_object_array_add(recent, json_object_get(r));
        total++;
    }
    /* Collected newest first; serve oldest first. */
    json_object *ordered = json_object_new_array();
    for (size_t i = json_object_array_length(recent); i-- > 0;)
        json_object_array_add(ordered, json_object_get(json_object_array_get_idx(recent, i)));
    json_object_put(recent);
    json_object_object_add(root, "recentRequests", ordered);
    return root;
}

void stats_reset(struct sim *sim)
{
    struct stats *st = &sim->stats;
    free(st->counts);
    st->counts = NULL;
    st->n_counts = st->cap_counts = 0;
    log_resize(sim, 0);
    sim->hs.refreshes = 0;
    sim->sf.refreshes = 0;
    deliveries_stats_reset(sim);
}
