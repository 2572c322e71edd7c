/* faults.c: fault injection rules: parsing, matching (method, path prefix and, when the rule has
 * body_contains, the request body; the first matching rule whose rate roll succeeds wins),
 * counting down "next N calls" rules and removing them when spent. */
#include "tests/crmsim/faults.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "tests/crmsim/util.h"

static void fault_free(struct fault *f)
{
    free(f->prefix);
    free(f->body_contains);
    free(f->body);
}

uint64_t faults_add(struct sim *sim, json_object *doc, char *err, size_t errlen)
{
    if (!doc || !json_object_is_type(doc, json_type_object)) {
        snprintf(err, errlen, "fault must be a JSON object");
        return 0;
    }
    if (sim->faults.n >= SIM_MAX_FAULTS) {
        snprintf(err, errlen, "at most %d fault rules", SIM_MAX_FAULTS);
        return 0;
    }
    const char *match = json_get_str(doc, "match");
    if (!match || !*match || strlen(match) > 500) {
        snprintf(err, errlen,
                 "fault needs \"match\": \"<METHOD> <path-prefix>\" (METHOD may be *)");
        return 0;
    }
    struct fault f;
    memset(&f, 0, sizeof f);
    const char *sp = strchr(match, ' ');
    if (match[0] == '/') {
        snprintf(f.method, sizeof f.method, "*");
        f.prefix = xstrdup(match);
    } else if (sp && (size_t)(sp - match) < sizeof f.method && sp[1] == '/') {
        snprintf(f.method, sizeof f.method, "%.*s", (int)(sp - match), match);
        if (strcasecmp(f.method, "ANY") == 0)
            snprintf(f.method, sizeof f.method, "*");
        f.prefix = xstrdup(sp + 1);
    } else {
        snprintf(err, errlen, "match must look like \"GET /crm/v3/objects\" or \"* /services\"");
        return 0;
    }
    f.rate = 1.0;
    f.remaining = -1;
    json_object *v;
    if ((v = json_get(doc, "body_contains"))) {
        if (!json_object_is_type(v, json_type_string) || !*json_object_get_string(v) ||
            strlen(json_object_get_string(v)) > 500) {
            snprintf(err, errlen, "body_contains must be a non-empty string of at most 500 bytes");
            goto fail;
        }
        f.body_contains = xstrdup(json_object_get_string(v));
    }
    if ((v = json_get(doc, "rate"))) {
        if (!(json_object_is_type(v, json_type_double) || json_object_is_type(v, json_type_int)) ||
            json_object_get_double(v) < 0 || json_object_get_double(v) > 1) {
            snprintf(err, errlen, "rate must be a number between 0 and 1");
            goto fail;
        }
        f.rate = json_object_get_double(v);
    }
    if ((v = json_get(doc, "status"))) {
        if (!json_object_is_type(v, json_type_int) || json_object_get_int(v) < 100 ||
            json_object_get_int(v) > 599) {
            snprintf(err, errlen, "status must be an HTTP status between 100 and 599");
            goto fail;
        }
        f.status = json_object_get_int(v);
    }
    if ((v = json_get(doc, "body"))) {
        if (json_object_is_type(v, json_type_string))
            f.body = xstrdup(json_object_get_string(v));
        else
            f.body = json_to_heap(v, NULL);
    }
    if ((v = json_get(doc, "latency_ms"))) {
        if (!json_object_is_type(v, json_type_int) || json_object_get_int64(v) < 0 ||
            json_object_get_int64(v) > 600000) {
            snprintf(err, errlen, "latency_ms must be an integer between 0 and 600000");
            goto fail;
        }
        f.latency_ms = json_object_get_int64(v);
    }
    if ((v = json_get(doc, "timeout"))) {
        if (!json_object_is_type(v, json_type_boolean)) {
            snprintf(err, errlen, "timeout must be true or false");
            goto fail;
        }
        f.timeout = json_object_get_boolean(v);
    }
    if ((v = json_get(doc, "count"))) {
        if (!json_object_is_type(v, json_type_int) || json_object_get_int64(v) < 1) {
            snprintf(err, errlen, "count must be a positive integer");
            goto fail;
        }
        f.remaining = json_object_get_int64(v);
    }
    if (!f.status && !f.latency_ms && !f.timeout) {
        snprintf(err, errlen, "a fault needs at least one of status, latency_ms or timeout");
        goto fail;
    }
    f.id = ++sim->faults.next_id;
    xgrow(&sim->faults.items, &sim->faults.cap, sim->faults.n + 1, sizeof *sim->faults.items);
    sim->faults.items[sim->faults.n++] = f;
    return f.id;
fail:
    fault_free(&f);
    return 0;
}

size_t faults_remove(struct sim *sim, uint64_t id)
{
    size_t removed = 0;
    for (size_t i = 0; i < sim->faults.n;) {
        if (id == 0 || sim->faults.items[i].id == id) {
            fault_free(&sim->faults.items[i]);
            memmove(&sim->faults.items[i], &sim->faults.items[i + 1],
                    (sim->faults.n - i - 1) * sizeof *sim->faults.items);
            sim->faults.n--;
            removed++;
        } else {
            i++;
        }
    }
    return removed;
}

json_object *faults_to_json(struct sim *sim)
{
    json_object *arr = json_object_new_array();
    for (size_t i = 0; i < sim->faults.n; i++) {
        struct fault *f = &sim->faults.items[i];
        json_object *o = json_object_new_object();
        json_set_int(o, "id", (int64_t)f->id);
        char match[600];
        snprintf(match, sizeof match, "%s %s", f->method, f->prefix);
        json_set_str(o, "match", match);
        if (f->body_contains)
            json_set_str(o, "body_contains", f->body_contains);
        json_object_object_add(o, "rate", json_object_new_double(f->rate));
        if (f->status)
            json_set_int(o, "status", f->status);
        if (f->body)
            json_set_str(o, "body", f->body);
        if (f->latency_ms)
            json_set_int(o, "latency_ms", f->latency_ms);
        json_set_bool(o, "timeout", f->timeout);
        if (f->remaining >= 0)
            json_set_int(o, "remaining", f->remaining);
        json_set_int(o, "hits", (int64_t)f->hits);
        json_object_array_add(arr, o);
    }
    return arr;
}

void faults_pick(struct sim *sim, const char *method, const char *path, const char *body,
                 struct fault_action *out)
{
    memset(out, 0, sizeof *out);
    for (size_t i = 0; i < sim->faults.n; i++) {
        struct fault *f = &sim->faults.items[i];
        if (strcmp(f->method, "*") != 0 && strcasecmp(f->method, method) != 0)
            continue;
        if (!util_starts_with(path, f->prefix))
            continue;
        if (f->body_contains && (!body || !strstr(body, f->body_contains)))
            continue;
        if (f->rate < 1.0 && sim_random(sim) >= f->rate)
            continue;
        out->hit = true;
        out->rule_id = f->id;
        out->status = f->status;
        out->body = xstrdup(f->body);
        out->latency_ms = f->latency_ms;
        out->timeout = f->timeout;
        out->timeout_ms = sim->cfg.fault_timeout_ms;
        f->hits++;
        if (f->remaining > 0 && --f->remaining == 0)
            faults_remove(sim, f->id);
        return;
    }
}

void fault_action_free(struct fault_action *a)
{
    free(a->body);
    a->body = NULL;
}
