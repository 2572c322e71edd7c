/* sync_history.c: what one sync batch did to each record pair, as history rows (the console's
 * record timeline, db/history_store.h), built from the batch's working state at its commit.
 *
 * Per pair, oldest first: every change event received and how it settled; a skip (an echo of
 * synkro's own write, a deleted link, a missing record); every field decision of the merge (which
 * field was written which way, under which rule and why: changed on one side, a new record, a
 * blank Salesforce value, a conflict); every conflict with its winner and the losing value; every
 * write (created, updated, deleted, in which CRM); the link marked deleted; an error (category and
 * message) or an association step that waits or failed. A settled pair with one event that is
 * skipped gets one "skip" row carrying the event and the reason (an echo was two rows, event and
 * skip, that said the same thing). The rows go out in one statement inside
 * the batch's commit transaction (sync_batch.c): a failed commit rolls them back with the rest,
 * and the batch retries as it would without history.
 *
 * Owns the wording of the summaries. Must not: change the batch, call a CRM, log, or put a
 * secret in a row (CRM errors are scrubbed by crm/; anything after "Bearer " is cut here too). */
#include "sync/sync_batch_internal.h"

#include "db/history_store.h"
#include "base/strbuf.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define VALUE_MAX 200 /* characters of a value kept in a row's details */

struct rows {
    struct history_row *v;
    size_t n, cap;
    bool failed;
    /* what every row of the current pair carries */
    struct history_row pair;
};

static const char *side_title(const char *side)
{
    return strcmp(side, "salesforce") == 0 ? "Salesforce" : "HubSpot";
}

static const char *rule_title(enum field_rule rule)
{
    switch (rule) {
    case FIELD_RULE_PREFER_SALESFORCE_UNLESS_BLANK:
        return "Salesforce unless blank";
    case FIELD_RULE_ALWAYS_SALESFORCE:
        return "always Salesforce";
    case FIELD_RULE_ALWAYS_HUBSPOT:
        return "always HubSpot";
    case FIELD_RULE_DONT_SYNC:
        return "don't sync";
    default:
        return "two-way";
    }
}

/* Cuts a bearer credential out of text, in place (belt and braces: crm/ scrubs its errors). */
static void scrub(char *s)
{
    char *at = strstr(s, "Bearer ");
    if (at)
        snprintf(at, strlen(at) + 1, "%s", "Bearer [redacted]");
}

/* Adds a row of the current pair; details is consumed. */
static void add(struct rows *r, const char *kind, const char *side, int64_t event_id,
                json_object *details, const char *fmt, ...) __attribute__((format(printf, 6, 7)));

static void add(struct rows *r, const char *kind, const char *side, int64_t event_id,
                json_object *details, const char *fmt, ...)
{
    struct strbuf sb = STRBUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    strbuf_vprintf(&sb, fmt, ap);
    va_end(ap);
    char *summary = sb.failed ? NULL : strbuf_detach(&sb, NULL);
    strbuf_free(&sb);
    if (summary)
        scrub(summary);
    if (r->n == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 64;
        struct history_row *v = realloc(r->v, cap * sizeof *v);
        if (v) {
            r->v = v;
            r->cap = cap;
        }
    }
    if (!summary || r->n == r->cap) {
        free(summary);
        json_object_put(details);
        r->failed = true;
        return;
    }
    struct history_row *row = &r->v[r->n++];
    *row = r->pair;
    row->kind = kind;
    row->side = side;
    row->actor = "synkro";
    row->event_id = event_id;
    row->summary = summary;
    row->details = details;
}

static json_object *details_new(void)
{
    return json_object_new_object();
}

static void put_str(json_object *d, const char *key, const char *v)
{
    if (v)
        json_object_object_add(d, key, json_object_new_string(v));
}

/* A value as short text: JSON for Salesforce values, the text itself for HubSpot's. */
static void value_text(json_object *v, char *out, size_t outlen)
{
    const char *t = !v ? "(blank)"
                    : json_object_is_type(v, json_type_string)
                        ? json_object_get_string(v)
                        : json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN);
    snprintf(out, outlen, "%s", t ? t : "");
    if (strlen(t ? t : "") < outlen || outlen <= 4)
        return;
    /* cut at a character boundary: a split UTF-8 sequence would make the row invalid text */
    size_t cut = outlen - 4;
    while (cut > 0 && ((unsigned char)out[cut] & 0xC0) == 0x80)
        cut--;
    memcpy(out + cut, "...", 4);
}

static void iso_ms(int64_t ms, char *out, size_t outlen)
{
    time_t s = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&s, &tm);
    char base[32];
    strftime(base, sizeof base, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, outlen, "%s.%03dZ", base, (int)(ms % 1000));
}

static const char *pair_settled(const struct sync_pair *p)
{
    return p->state == PAIR_RETRY  ? "will be retried"
           : p->state == PAIR_FAIL ? "failed"
                                   : "settled";
}

static json_object *event_details(const struct claimed_record *rec, const struct claimed_event *ev)
{
    json_object *d = details_new();
    put_str(d, "event_kind", ev->kind);
    put_str(d, "record_id", rec->record_id);
    char at[40];
    if (ev->occurred_at_ms > 0) {
        iso_ms(ev->occurred_at_ms, at, sizeof at);
        put_str(d, "occurred_at", at);
    }
    iso_ms(ev->received_at_ms, at, sizeof at);
    put_str(d, "received_at", at);
    json_object_object_add(d, "attempt", json_object_new_int(ev->attempts + 1));
    return d;
}

static const char *record_side(const struct claimed_record *rec)
{
    return strcmp(rec->source, "salesforce") == 0 ? "salesforce" : "hubspot";
}

static void add_events(struct rows *r, const struct sync_batch *b, const struct sync_pair *p)
{
    for (size_t k = 0; k < p->nrecs; k++) {
        const struct claimed_record *rec = &b->recs[p->recs[k]];
        const char *side = record_side(rec);
        for (size_t e = 0; e < rec->nevents; e++) {
            const struct claimed_event *ev = &rec->events[e];
            add(r, "event", side, ev->id, event_details(rec, ev),
                "%s %s event %" PRId64 " received: %s", side_title(side), ev->kind, ev->id,
                pair_settled(p));
        }
    }
}

/* Why the pair was skipped (its reason code, and the side the text names or NULL), or NULL. */
static const char *skip_of(const struct sync_pair *p, const char **code, const char **side)
{
    static const struct {
        const char *code, *side, *text;
    } skips[] = {
        {"echo", NULL, "the change carries the values synkro wrote itself (an echo)"},
        {"link_deleted", NULL, "this link is deleted (a HubSpot restore revives it)"},
        {"delete_unlinked", NULL, "a delete of a record that is not linked any more"},
        {"salesforce_missing", "salesforce",
         "the Salesforce record was not found (its delete event or the sweep decides)"},
        {"hubspot_missing", "hubspot",
         "the HubSpot record was not found (its delete event or the sweep decides)"},
    };
    bool ok = p->state == PAIR_PENDING || p->state == PAIR_DONE;
    if (!p->skip && ok && p->merged && !p->out.error[0] && !p->out.create_hs && !p->out.create_sf &&
        json_object_object_length(p->out.hs_write) == 0 &&
        json_object_object_length(p->out.sf_write) == 0 && !p->mark_deleted) {
        *code = "in_sync";
        *side = NULL;
        return "both records already agree";
    }
    for (size_t i = 0; p->skip && i < sizeof skips / sizeof skips[0]; i++)
        if (strcmp(p->skip, skips[i].code) == 0) {
            *code = p->skip;
            *side = skips[i].side;
            return skips[i].text;
        }
    return NULL;
}

/* The pair's only change event, when it has exactly one (record and event out), or false. */
static bool only_event(const struct sync_batch *b, const struct sync_pair *p,
                       const struct claimed_record **rec, const struct claimed_event **ev)
{
    size_t n = 0;
    for (size_t k = 0; k < p->nrecs; k++) {
        const struct claimed_record *c = &b->recs[p->recs[k]];
        if (c->nevents > 0) {
            *rec = c;
            *ev = &c->events[0];
        }
        n += c->nevents;
    }
    return n == 1;
}

/* The events and the skip of a pair. A settled pair with one event and a skip (an echo, both
 * records already in agreement, ...) gets one "skip" row that carries the event (its id and
 * details) and the reason, instead of an event row and a skip row that say the same thing. */
static void add_events_and_skip(struct rows *r, const struct sync_batch *b,
                                const struct sync_pair *p)
{
    const char *code = NULL, *skip_side = NULL;
    const char *why = skip_of(p, &code, &skip_side);
    const struct claimed_record *rec = NULL;
    const struct claimed_event *ev = NULL;
    bool settled = p->state == PAIR_PENDING || p->state == PAIR_DONE;
    if (why && settled && only_event(b, p, &rec, &ev)) {
        const char *side = record_side(rec);
        json_object *d = event_details(rec, ev);
        put_str(d, "reason", code);
        add(r, "skip", skip_side ? skip_side : side, ev->id, d,
            "Skipped %s %s event %" PRId64 ": %s", side_title(side), ev->kind, ev->id, why);
        return;
    }
    add_events(r, b, p);
    if (!why)
        return;
    json_object *d = details_new();
    put_str(d, "reason", code);
    if (strcmp(code, "in_sync") == 0)
        add(r, "skip", NULL, 0, d, "Nothing to write: %s", why);
    else
        add(r, "skip", skip_side, 0, d, "Skipped: %s", why);
}

static const struct merge_conflict *conflict_of(const struct sync_pair *p, size_t field)
{
    for (size_t c = 0; c < p->out.nconflicts; c++)
        if (p->out.conflicts[c].field == field)
            return &p->out.conflicts[c];
    return NULL;
}

/* Why field f was written towards `to` (the merge's table, sync_merge.h). */
static const char *decision_why(const struct sync_pair *p, const struct mapping_field *f,
                                const struct merge_conflict *mc, bool to_hs, const char **code)
{
    if (mc) {
        *code = "conflict";
        return mc->winner == MAPPING_WINNER_HUBSPOT ? "conflict, HubSpot wins"
                                                    : "conflict, Salesforce wins";
    }
    if (to_hs ? p->out.create_hs : p->out.create_sf) {
        *code = "new_record";
        return to_hs ? "new HubSpot record" : "new Salesforce record";
    }
    if (!to_hs && f->rule == FIELD_RULE_PREFER_SALESFORCE_UNLESS_BLANK) {
        *code = "salesforce_blank";
        return "Salesforce is blank";
    }
    *code = to_hs ? "changed_in_salesforce" : "changed_in_hubspot";
    return to_hs ? "changed in Salesforce" : "changed in HubSpot";
}

static void add_decision(struct rows *r, const struct sync_batch *b, const struct sync_pair *p,
                         size_t j, bool to_hs, json_object *value)
{
    const struct mapping_field *f = &b->sm->m->fields[j];
    const struct merge_conflict *mc = conflict_of(p, j);
    const char *code;
    const char *why = decision_why(p, f, mc, to_hs, &code);
    char text[VALUE_MAX + 1];
    value_text(value, text, sizeof text);
    json_object *d = details_new();
    put_str(d, "salesforce_field", f->salesforce);
    put_str(d, "hubspot_property", f->hubspot);
    put_str(d, "rule", mapping_field_rule_name(f->rule));
    put_str(d, "direction", to_hs ? "salesforce_to_hubspot" : "hubspot_to_salesforce");
    put_str(d, "because", code);
    put_str(d, "value", text);
    add(r, "decision", to_hs ? "hubspot" : "salesforce", 0, d, "%s: %s (%s, %s)",
        to_hs ? f->salesforce : f->hubspot,
        to_hs ? "Salesforce -> HubSpot" : "HubSpot -> Salesforce", rule_title(f->rule), why);
}

static void add_decisions(struct rows *r, const struct sync_batch *b, const struct sync_pair *p)
{
    if (!p->merged || p->out.error[0])
        return;
    const struct mapping *m = b->sm->m;
    for (size_t j = 0; j < m->n_fields; j++) {
        json_object *v = NULL;
        if (json_object_object_get_ex(p->out.hs_write, m->fields[j].hubspot, &v))
            add_decision(r, b, p, j, true, v);
        if (json_object_object_get_ex(p->out.sf_write, m->fields[j].salesforce, &v))
            add_decision(r, b, p, j, false, v);
    }
}

static void add_conflicts(struct rows *r, const struct sync_batch *b, const struct sync_pair *p)
{
    for (size_t c = 0; p->merged && c < p->out.nconflicts; c++) {
        const struct merge_conflict *mc = &p->out.conflicts[c];
        if (!sync_pair_conflict_recorded(b, p, mc))
            continue;
        const struct mapping_field *f = &b->sm->m->fields[mc->field];
        bool hs_wins = mc->winner == MAPPING_WINNER_HUBSPOT;
        char sf_text[VALUE_MAX + 1], hs_text[VALUE_MAX + 1];
        value_text(mc->sf_value, sf_text, sizeof sf_text);
        json_object *hs_value =
            mc->hs_value && *mc->hs_value ? json_object_new_string(mc->hs_value) : NULL;
        value_text(hs_value, hs_text, sizeof hs_text);
        json_object_put(hs_value);
        json_object *d = details_new();
        put_str(d, "salesforce_field", f->salesforce);
        put_str(d, "hubspot_property", f->hubspot);
        put_str(d, "winner", mapping_winner_name(mc->winner));
        put_str(d, "reason", merge_reason_name(mc->reason));
        put_str(d, "salesforce_value", sf_text);
        put_str(d, "hubspot_value", hs_text);
        put_str(d, "losing_value", hs_wins ? sf_text : hs_text);
        add(r, "conflict", hs_wins ? "hubspot" : "salesforce", 0, d,
            "Conflict on %s: changed on both sides; %s wins (%s) with \"%s\", %s's \"%s\" is"
            " overwritten",
            f->salesforce, hs_wins ? "HubSpot" : "Salesforce", merge_reason_name(mc->reason),
            hs_wins ? hs_text : sf_text, hs_wins ? "Salesforce" : "HubSpot",
            hs_wins ? sf_text : hs_text);
    }
}

/* The names of the members of a write, "a, b, c", into out. */
static void member_list(json_object *write, char *out, size_t outlen)
{
    out[0] = '\0';
    size_t len = 0;
    json_object_object_foreach(write, key, val)
    {
        (void)val;
        int w = snprintf(out + len, outlen - len, "%s%s", len ? ", " : "", key);
        if (w < 0 || (size_t)w >= outlen - len)
            break;
        len += (size_t)w;
    }
}

static void add_write(struct rows *r, const char *side, bool created, json_object *write,
                      const char *id)
{
    char fields[512];
    member_list(write, fields, sizeof fields);
    json_object *d = details_new();
    put_str(d, "record_id", id);
    put_str(d, "action", created ? "created" : "updated");
    json_object *names = json_object_new_array();
    json_object_object_foreach(write, key, val)
    {
        (void)val;
        json_object_array_add(names, json_object_new_string(key));
    }
    json_object_object_add(d, "fields", names);
    if (created)
        add(r, "write", side, 0, d, "Created the %s record %s", side_title(side),
            id ? id : "(new)");
    else if (fields[0])
        add(r, "write", side, 0, d, "Updated %d field%s in %s: %s",
            json_object_object_length(write), json_object_object_length(write) == 1 ? "" : "s",
            side_title(side), fields);
    else
        add(r, "write", side, 0, d, "Wrote the link's identity to the %s record %s",
            side_title(side), id ? id : "");
}

static void add_writes(struct rows *r, const struct sync_batch *b, const struct sync_pair *p)
{
    (void)b;
    if (p->created_hs || p->wrote_hs)
        add_write(r, "hubspot", p->created_hs, p->out.hs_write, p->hs_id);
    if (p->created_sf || p->wrote_sf)
        add_write(r, "salesforce", p->created_sf, p->out.sf_write, p->sf_id);
    bool ok = p->state == PAIR_PENDING || p->state == PAIR_DONE;
    if (!ok || !p->mark_deleted || !p->link)
        return;
    const char *from = p->del_sf || p->gone_sf ? "salesforce" : "hubspot";
    json_object *d = details_new();
    put_str(d, "deleted_in", from);
    add(r, "decision", from, 0, d, "The %s record was deleted: the link is marked deleted",
        side_title(from));
    if (p->delete_hs && p->deletes_sent)
        add(r, "write", "hubspot", 0, NULL, "Deleted the HubSpot record %s (on delete: delete)",
            p->hs_id ? p->hs_id : "");
    if (p->delete_sf && p->deletes_sent)
        add(r, "write", "salesforce", 0, NULL,
            "Deleted the Salesforce record %s (on delete: delete)", p->sf_id ? p->sf_id : "");
}

static void add_errors(struct rows *r, const struct sync_pair *p)
{
    if (p->state == PAIR_RETRY || p->state == PAIR_FAIL) {
        char msg[sizeof p->error];
        snprintf(msg, sizeof msg, "%s", p->error);
        scrub(msg);
        json_object *d = details_new();
        put_str(d, "category",
                p->state == PAIR_RETRY ? "transient" : queue_error_category_name(p->category));
        put_str(d, "message", msg);
        if (p->state == PAIR_RETRY)
            add(r, "error", NULL, 0, d, "Sync failed and will be retried: %s", msg);
        else
            add(r, "error", NULL, 0, d, "Sync failed (%s): %s",
                queue_error_category_name(p->category), msg);
    }
    if (p->assoc_state == PAIR_RETRY || p->assoc_state == PAIR_FAIL) {
        char msg[sizeof p->assoc_error];
        snprintf(msg, sizeof msg, "%s", p->assoc_error);
        scrub(msg);
        json_object *d = details_new();
        put_str(d, "message", msg);
        put_str(d, "outcome", p->assoc_state == PAIR_RETRY ? "retry" : "failed");
        add(r, "association", "hubspot", 0, d, "Associations %s: %s",
            p->assoc_state == PAIR_RETRY ? "wait and will be retried" : "failed", msg);
    }
}

static void rows_free(struct rows *r)
{
    for (size_t i = 0; i < r->n; i++) {
        free((char *)r->v[i].summary);
        json_object_put(r->v[i].details);
    }
    free(r->v);
}

int sync_history_store(const struct sync_batch *b, const int64_t *link_ids, char *err,
                       size_t errlen)
{
    struct rows r = {0};
    for (size_t i = 0; i < b->npairs; i++) {
        const struct sync_pair *p = &b->pairs[i];
        if (p->absorbed)
            continue;
        r.pair = (struct history_row){.mapping_id = b->sm->id,
                                      .link_id = link_ids[i] ? link_ids[i]
                                                 : p->link   ? p->link->id
                                                             : 0,
                                      .salesforce_id = p->sf_id  ? p->sf_id
                                                       : p->link ? p->link->salesforce_id
                                                                 : NULL,
                                      .hubspot_id = p->hs_id  ? p->hs_id
                                                    : p->link ? p->link->hubspot_id
                                                              : NULL};
        add_events_and_skip(&r, b, p);
        add_decisions(&r, b, p);
        add_conflicts(&r, b, p);
        add_writes(&r, b, p);
        add_errors(&r, p);
    }
    int rc = 0;
    if (r.failed) {
        snprintf(err, errlen, "out of memory building the history rows");
        rc = 1; /* the batch commits without them */
    } else if (r.n > 0) {
        rc = history_append_guarded(b->env->conn, r.v, r.n, err, errlen);
    }
    rows_free(&r);
    return rc;
}
