/* sync_batch.c: one mapping's batch of claimed records from events to settled outcome: pairs,
 * deletes, merge, and the one transaction that stores links and conflicts and settles events.
 *
 * Owns struct sync_batch for one call and the sync metrics (records by direction/outcome,
 * conflicts, latency, API calls). Failure categories are in sync_outcome.c, reads in
 * sync_read.c, writes in sync_write.c (see sync_batch.h for the steps).
 *
 * Pair rules: an echo (sync_pair_is_echo: events whose values all equal the link's base) is done,
 * unchanged, before any read. A pair whose link is deleted is not synced again unless a HubSpot
 * restore event re-activates it. A delete event follows the source side's on_delete and marks the
 * link deleted. A linked record read as missing without a delete event changes nothing (the delete
 * event or the sweep decides, so a merged-away HubSpot record never deletes its Salesforce
 * partner); an unlinked source read as missing is done. A restored link whose Salesforce record is
 * gone gets a new one. Outcomes: success completes every event of the pair; a retryable error puts
 * them back with back-off (at least the CRM's retry-after; one random draw per batch, so what
 * failed together comes back together as one batch) or fails them retries_exhausted; a
 * permanent one fails them with a category and the CRM's message.
 *
 * Never lose an edit (issue 16): a write and the base it establishes go together. Whatever fails
 * after a CRM acknowledged a write (the other CRM's write, the associations, a re-read), the
 * pair's link stores the base of every field whose write was acknowledged (settle_bases,
 * sync/sync_base.h), so the next change is not mistaken for a change on both sides. The
 * associations are a step of their own: when they fail or wait, the field events complete and
 * the association retries through the record's association events (or a follow-up event synkro
 * queues), with its own attempts and last_error. A write answered "deleted" settles the pair as
 * that record's delete (settle_gone). A pair whose read is older than SYNC_STALE_READ_MS when its
 * write is due is read and merged again (refresh_stale). The commit stays one transaction after
 * the writes; a crash between them leaves the events leased and the links as they were, and the
 * redo merges against those links (tested with the after_writes failpoint). Because the write-ahead
 * record of an update (migration 0007) is stored before the writes, that redo knows which writes
 * landed: a field whose target changed since the read takes its new base. The same record is kept
 * at the commit when a write's outcome is unknown (timeout, 5xx: it may have landed), so an edit
 * of the target made before the retry is not taken for a conflict either.
 *
 * Must not: take advisory locks (the engine holds the mapping's), sleep, or log secrets. */
#include "sync/sync_batch_internal.h"

#include "sync/sync_assoc.h"
#include "sync/sync_base.h"

#include "base/clock.h"

#include "db/pool.h"
#include "db/queue.h"
#include "base/failpoint.h"
#include "base/log.h"
#include "base/metrics.h"
#include "base/json_util.h"

#include <openssl/rand.h>
#include <pthread.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- ids, pairs ---- */

bool sync_sf_id_equal(const char *a, const char *b)
{
    if (!a || !b)
        return false;
    size_t la = strlen(a), lb = strlen(b);
    if (la == lb)
        return strcmp(a, b) == 0;
    return la >= 15 && lb >= 15 && strncmp(a, b, 15) == 0;
}

struct sync_pair *sync_pair_by_sf(struct sync_batch *b, const char *id,
                                  const struct sync_pair *except)
{
    for (size_t i = 0; i < b->npairs; i++)
        if (&b->pairs[i] != except && !b->pairs[i].absorbed &&
            sync_sf_id_equal(b->pairs[i].sf_id, id))
            return &b->pairs[i];
    return NULL;
}

struct sync_pair *sync_pair_by_hs(struct sync_batch *b, const char *id,
                                  const struct sync_pair *except)
{
    for (size_t i = 0; i < b->npairs; i++)
        if (&b->pairs[i] != except && !b->pairs[i].absorbed && b->pairs[i].hs_id && id &&
            strcmp(b->pairs[i].hs_id, id) == 0)
            return &b->pairs[i];
    return NULL;
}

static int pair_add_rec(struct sync_pair *p, size_t rec)
{
    size_t *grown = realloc(p->recs, (p->nrecs + 1) * sizeof *grown);
    if (!grown)
        return -1;
    p->recs = grown;
    p->recs[p->nrecs++] = rec;
    return 0;
}

#define TAKE(field)                                                                                \
    do {                                                                                           \
        if (!dst->field) {                                                                         \
            dst->field = src->field;                                                               \
            src->field = NULL;                                                                     \
        }                                                                                          \
    } while (0)

void sync_pair_absorb(struct sync_pair *dst, struct sync_pair *src)
{
    for (size_t i = 0; i < src->nrecs; i++)
        if (pair_add_rec(dst, src->recs[i]) < 0)
            sync_pair_fail(dst, QUEUE_ERR_VALIDATION, "out of memory");
    TAKE(sf_id);
    TAKE(hs_id);
    TAKE(sf_rec);
    TAKE(hs_props);
    if (!dst->link)
        dst->link = src->link;
    dst->from_sf |= src->from_sf;
    dst->from_hs |= src->from_hs;
    dst->del_sf |= src->del_sf;
    dst->del_hs |= src->del_hs;
    dst->restore |= src->restore;
    dst->need_sf_read |= src->need_sf_read && !dst->sf_rec;
    dst->need_hs_read |= src->need_hs_read && !dst->hs_props;
    dst->sf_missing |= src->sf_missing && !dst->sf_rec;
    dst->hs_missing |= src->hs_missing && !dst->hs_props;
    if (src->state > dst->state) {
        dst->state = src->state;
        dst->category = src->category;
        dst->retry_after_ms = src->retry_after_ms;
        dst->held_back = src->held_back;
        memcpy(dst->error, src->error, sizeof dst->error);
    }
    src->absorbed = true;
}

static void pair_free(struct sync_pair *p)
{
    free(p->sf_id);
    free(p->hs_id);
    free(p->recs);
    json_object_put(p->sf_rec);
    json_object_put(p->hs_props);
    json_object_put(p->hs_extra);
    json_object_put(p->sf_extra);
    json_object_put(p->base_sf);
    json_object_put(p->base_hs);
    if (p->merged)
        merge_output_free(&p->out);
}

/* ---- metrics ---- */

static struct metric_family *m_records, *m_conflicts, *m_latency, *m_calls, *m_gone, *m_reread,
    *m_time;

static void metrics_register_all(void)
{
    static const char *const rec_labels[] = {"mapping", "direction", "outcome"};
    static const char *const conf_labels[] = {"mapping", "winner"};
    static const char *const lat_labels[] = {"mapping"};
    static const char *const call_labels[] = {"crm"};
    static const double buckets[] = {0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.75, 1,
                                     1.5,  2,   3,    5,   10,   30,  60,  120, 300};
    m_records = metrics_register(METRIC_COUNTER, "synkro_sync_records_total",
                                 "Records synced, by mapping, direction and outcome.", rec_labels,
                                 3, NULL, 0);
    m_conflicts =
        metrics_register(METRIC_COUNTER, "synkro_conflicts_total",
                         "Conflicts resolved, by mapping and winner.", conf_labels, 2, NULL, 0);
    m_latency = metrics_register(METRIC_HISTOGRAM, "synkro_sync_latency_seconds",
                                 "From an event's receipt to the CRM's acknowledgement of the"
                                 " write that settled it.",
                                 lat_labels, 1, buckets, sizeof buckets / sizeof buckets[0]);
    m_calls = metrics_register(METRIC_COUNTER, "synkro_sync_api_calls_total",
                               "CRM API calls made by sync batches.", call_labels, 1, NULL, 0);
    static const char *const gone_labels[] = {"mapping", "crm"};
    m_gone = metrics_register(METRIC_COUNTER, "synkro_sync_gone_total",
                              "Records a sync write found deleted in their CRM (settled by the"
                              " mapping's delete rule instead of failing), by mapping and CRM.",
                              gone_labels, 2, NULL, 0);
    static const char *const part_labels[] = {"part"};
    m_time = metrics_register(METRIC_COUNTER, "synkro_sync_batch_seconds_total",
                              "Wall time of sync batches in the workers (part=batch: from the"
                              " claimed records to the commit) and of storing their record"
                              " history (part=history); history/batch is the history's share.",
                              part_labels, 1, NULL, 0);
    m_reread = metrics_register(METRIC_COUNTER, "synkro_sync_stale_rereads_total",
                                "Pairs read again because their read was older than"
                                " SYNC_STALE_READ_MS when their write was due, by mapping.",
                                lat_labels, 1, NULL, 0);
}

static struct metrics_once metrics_once;

void sync_batch_metrics_init(void)
{
    metrics_once_run(&metrics_once, metrics_register_all);
}

static const char *const outcome_names[] = {
    [OUT_UNCHANGED] = "unchanged",
    [OUT_SYNCED] = "synced",
    [OUT_CREATED] = "created",
    [OUT_DELETED] = "deleted",
};

static const char *pair_direction(const struct sync_pair *p, const struct claimed_record *r)
{
    bool to_hs = p->wrote_hs || p->delete_hs, to_sf = p->wrote_sf || p->delete_sf;
    if (to_hs && to_sf)
        to_hs = strcmp(r->source, "salesforce") == 0, to_sf = !to_hs;
    return to_hs ? "salesforce_to_hubspot" : to_sf ? "hubspot_to_salesforce" : "none";
}

static void record_metrics(const struct sync_batch *b, const struct sync_pair *p,
                           const struct claimed_record *r, const char *outcome)
{
    char id[24];
    snprintf(id, sizeof id, "%" PRId64, b->sm->id);
    const char *labels[] = {id, pair_direction(p, r), outcome};
    metrics_add(m_records, labels, 1);
    if (p->outcome == OUT_UNCHANGED || p->state == PAIR_RETRY || p->state == PAIR_FAIL)
        return;
    int64_t first = 0;
    for (size_t i = 0; i < r->nevents; i++)
        if (!first || (r->events[i].received_at_ms && r->events[i].received_at_ms < first))
            first = r->events[i].received_at_ms;
    const char *lat[] = {id};
    int64_t written = p->written_ms > 0 ? p->written_ms : clock_wall_ms();
    if (first > 0)
        metrics_observe(m_latency, lat, (double)(written - first) / 1000.0);
}

/* ---- pairs from records ---- */

/* The survivor of a HubSpot merge event and the ids merged into it (caller frees *merged and
 * its strings). */
static char *merge_ids(const struct claimed_event *ev, const char *record_id, char ***merged,
                       size_t *n)
{
    *merged = NULL;
    *n = 0;
    json_object *pl = json_tokener_parse(ev->payload_json ? ev->payload_json : "{}");
    const char *nw = json_member_text(pl, "newObjectId");
    const char *survivor = nw && strcmp(nw, "0") != 0 ? nw : record_id;
    char *surv = survivor ? strdup(survivor) : NULL;
    json_object *ids = json_member(pl, "mergedObjectIds");
    size_t cap =
        (ids && json_object_is_type(ids, json_type_array) ? json_object_array_length(ids) : 0) + 1;
    *merged = calloc(cap, sizeof **merged);
    for (size_t i = 0; *merged && i + 1 < cap; i++) {
        const char *v = json_object_get_string(json_object_array_get_idx(ids, i));
        if (v && surv && strcmp(v, surv) != 0)
            (*merged)[(*n)++] = strdup(v);
    }
    const char *primary = json_member_text(pl, "primaryObjectId");
    if (*merged && primary && surv && strcmp(primary, surv) != 0)
        (*merged)[(*n)++] = strdup(primary);
    json_object_put(pl);
    return surv;
}

static void free_strv(char **v, size_t n)
{
    for (size_t i = 0; v && i < n; i++)
        free(v[i]);
    free(v);
}

/* Re-points the link of a merged HubSpot record to the survivor; returns the survivor id. */
static char *apply_merge(struct sync_batch *b, const struct claimed_record *r, char *err,
                         size_t errlen)
{
    char *survivor = NULL;
    for (size_t i = 0; i < r->nevents; i++) {
        if (strcmp(r->events[i].kind, "merge") != 0)
            continue;
        char **merged;
        size_t n;
        free(survivor);
        survivor = merge_ids(&r->events[i], r->record_id, &merged, &n);
        if (survivor && n > 0 &&
            link_repoint_hubspot(b->env->conn, b->sm->id, survivor, (const char *const *)merged, n,
                                 NULL, err, errlen) < 0) {
            free_strv(merged, n);
            free(survivor);
            return NULL;
        }
        free_strv(merged, n);
    }
    return survivor;
}

/* The pair of record i, created when none has its id yet. */
static struct sync_pair *pair_for(struct sync_batch *b, bool sf, const char *id)
{
    struct sync_pair *p = sf ? sync_pair_by_sf(b, id, NULL) : sync_pair_by_hs(b, id, NULL);
    if (p)
        return p;
    p = &b->pairs[b->npairs++];
    memset(p, 0, sizeof *p);
    if (!(sf ? (p->sf_id = strdup(id)) : (p->hs_id = strdup(id))))
        sync_pair_fail(p, QUEUE_ERR_VALIDATION, "out of memory");
    return p;
}

/* The last delete or restore of a record: 1 delete, 2 restore, 0 none. */
static int last_delete_word(const struct claimed_record *r)
{
    int word = 0;
    for (size_t i = 0; i < r->nevents; i++) {
        if (strcmp(r->events[i].kind, "delete") == 0)
            word = 1;
        else if (strcmp(r->events[i].kind, "restore") == 0)
            word = 2;
    }
    return word;
}

static int build_pairs(struct sync_batch *b, size_t *rec_pair, char *err, size_t errlen)
{
    for (size_t i = 0; i < b->nrecs; i++) {
        const struct claimed_record *r = &b->recs[i];
        rec_pair[i] = SIZE_MAX;
        if (!r->record_id)
            continue;
        bool sf = strcmp(r->source, "salesforce") == 0;
        char *id = sf ? strdup(r->record_id) : apply_merge(b, r, err, errlen);
        if (!sf && !id && err[0])
            return -1;
        if (!id && !(id = strdup(r->record_id)))
            return -1;
        struct sync_pair *p = pair_for(b, sf, id);
        free(id);
        rec_pair[i] = (size_t)(p - b->pairs);
        if (pair_add_rec(p, i) < 0)
            sync_pair_fail(p, QUEUE_ERR_VALIDATION, "out of memory");
        p->piece |= r->piece;
        int word = last_delete_word(r);
        if (sf) {
            p->from_sf = true;
            p->del_sf |= word == 1;
        } else {
            p->from_hs = true;
            p->del_hs |= word == 1;
            p->restore |= word == 2;
        }
    }
    return 0;
}

static const struct sync_link *link_for(const struct sync_batch *b, const struct sync_pair *p)
{
    for (size_t i = 0; i < b->nlinks; i++) {
        const struct sync_link *l = &b->links[i];
        if ((p->sf_id && sync_sf_id_equal(l->salesforce_id, p->sf_id)) ||
            (p->hs_id && l->hubspot_id && strcmp(l->hubspot_id, p->hs_id) == 0))
            return l;
    }
    return NULL;
}

static int load_links(struct sync_batch *b, char *err, size_t errlen)
{
    const char **sf = calloc(b->npairs + 1, sizeof *sf), **hs = calloc(b->npairs + 1, sizeof *hs);
    size_t nsf = 0, nhs = 0;
    int rc = -1;
    if (sf && hs) {
        for (size_t i = 0; i < b->npairs; i++) {
            if (b->pairs[i].sf_id)
                sf[nsf++] = b->pairs[i].sf_id;
            if (b->pairs[i].hs_id)
                hs[nhs++] = b->pairs[i].hs_id;
        }
        rc = link_load(b->env->conn, b->sm->id, sf, nsf, hs, nhs, &b->links, &b->nlinks, err,
                       errlen);
    }
    free(sf);
    free(hs);
    if (rc < 0)
        return -1;
    for (size_t i = 0; i < b->npairs; i++) {
        struct sync_pair *p = &b->pairs[i];
        p->link = link_for(b, p);
        for (size_t j = 0; p->link && j < i; j++)
            if (!b->pairs[j].absorbed && b->pairs[j].link == p->link) {
                sync_pair_absorb(&b->pairs[j], p);
                break;
            }
        if (p->absorbed || !p->link)
            continue;
        if (!p->sf_id && p->link->salesforce_id)
            p->sf_id = strdup(p->link->salesforce_id);
        if (!p->hs_id && p->link->hubspot_id)
            p->hs_id = strdup(p->link->hubspot_id);
    }
    return 0;
}

/* Deletes, deleted links and restores: what each pair needs before any read. */
static void plan_pair(struct sync_batch *b, struct sync_pair *p)
{
    const struct mapping *m = b->sm->m;
    bool active = p->link && !p->link->deleted;
    if (p->link && p->link->deleted && !p->restore) {
        p->state = PAIR_DONE;
        p->skip = "link_deleted";
        return;
    }
    if (p->del_sf || p->del_hs) {
        if (active) {
            p->delete_sf = p->del_hs && m->hubspot_to_salesforce.on_delete == MAPPING_DELETE_DELETE;
            p->delete_hs = p->del_sf && m->salesforce_to_hubspot.on_delete == MAPPING_DELETE_DELETE;
            p->mark_deleted = true;
            p->outcome = OUT_DELETED;
        } else {
            p->state = PAIR_DONE;
            p->skip = "delete_unlinked";
        }
        return;
    }
    p->need_sf_read = p->sf_id != NULL;
    p->need_hs_read = p->hs_id != NULL;
}

/* After the reads: missing records (see the file comment). */
static void settle_missing(struct sync_pair *p)
{
    if (p->link && p->restore && p->sf_missing) {
        free(p->sf_id);
        p->sf_id = NULL;
        p->sf_missing = false;
    }
    if (p->sf_missing || p->hs_missing) {
        p->state = PAIR_DONE;
        p->skip = p->sf_missing ? "salesforce_missing" : "hubspot_missing";
    }
}

static void merge_pair(struct sync_batch *b, struct sync_pair *p)
{
    const struct sync_mapping *sm = b->sm;
    struct merge_input in = {
        .m = sm->m,
        .sf = sm->sf,
        .hs = sm->hs,
        .sf_record = p->sf_id ? p->sf_rec : NULL,
        .hs_properties = p->hs_id ? p->hs_props : NULL,
        .sf_base = sync_pair_sf_base(p),
        .hs_base = sync_pair_hs_base(p),
        /* for fields without a base: the record modified last wins */
        .sf_modified = json_member_string(p->sf_rec, "SystemModstamp"),
        .hs_modified = json_member_string(p->hs_props, "hs_lastmodifieddate"),
    };
    enum merge_result rc = sync_merge(&in, &p->out);
    p->merged = true;
    if (rc == MERGE_CONVERSION)
        sync_pair_fail(p, QUEUE_ERR_CONVERSION, "%s", p->out.error);
    else if (rc != MERGE_OK)
        sync_pair_fail(p, QUEUE_ERR_VALIDATION, "the merge failed (%d)", (int)rc);
}

static bool pair_ok(const struct sync_pair *p)
{
    return p->state == PAIR_PENDING || p->state == PAIR_DONE;
}

/* Adds (or replaces) every member of add in base. Either may be NULL. */
static void base_merge(json_object *base, json_object *add)
{
    if (!json_object_is_type(base, json_type_object) || !json_object_is_type(add, json_type_object))
        return;
    struct json_object_iterator it = json_object_iter_begin(add);
    struct json_object_iterator end = json_object_iter_end(add);
    for (; !json_object_iter_equal(&it, &end); json_object_iter_next(&it)) {
        json_object *val = json_object_iter_peek_value(&it);
        json_object_object_add(base, json_object_iter_peek_name(&it),
                               val ? json_object_get(val) : NULL);
    }
}

static bool assoc_candidate(const struct sync_pair *p)
{
    return !p->absorbed && pair_ok(p) && p->merged && !p->mark_deleted && p->sf_id && p->hs_id;
}

/* Folds one pair's association result into it. err: the whole run failed (retry the step).
 * Whatever happens here, the pair's field sync stays done: the association step has its own
 * outcome (assoc_state), settled apart from the field events (settle_record). */
static void assoc_settle(struct sync_batch *b, struct sync_pair *p, struct assoc_pair *a,
                         const char *err)
{
    if (err || !a) {
        struct crm_error e;
        crm_error_set(&e, CRM_HUBSPOT, CRM_ERR_TRANSIENT, 0, "association", "%s",
                      err ? err : "no association result");
        sync_pair_assoc_fail(p, &e, "associations");
        return;
    }
    base_merge(p->out.sf_base_new, a->sf_base_set);
    base_merge(p->out.hs_base_new, a->hs_base_set);
    if (a->sf_write) {
        p->wrote_sf = true;
        b->rep->sf_writes++;
    }
    if (a->error.cls != CRM_ERR_NONE)
        sync_pair_assoc_fail(p, &a->error, "association");
    else if (a->wait)
        sync_pair_assoc_wait(p, a->reason);
}

/* Associations of the pairs that now have both records (sync/sync_assoc.c): after the field
 * writes and their bases (settle_bases), so new records have ids; their base keys join the pair's
 * new bases. A pair whose target is not synced yet, or whose association calls failed, keeps its
 * field sync and retries the associations alone (see settle_record). */
static void assoc_step(struct sync_batch *b)
{
    const struct mapping *m = b->sm->m;
    if (m->n_associations == 0)
        return;
    struct assoc_pair *ap = calloc(b->npairs + 1, sizeof *ap);
    struct sync_pair **who = calloc(b->npairs + 1, sizeof *who);
    size_t k = 0;
    for (size_t i = 0; ap && who && i < b->npairs; i++) {
        struct sync_pair *p = &b->pairs[i];
        if (!assoc_candidate(p))
            continue;
        ap[k] = (struct assoc_pair){.sf_id = p->sf_id,
                                    .hs_id = p->hs_id,
                                    .sf_record = p->sf_rec,
                                    .sf_base = sync_pair_sf_base(p),
                                    .hs_base = sync_pair_hs_base(p)};
        who[k++] = p;
    }
    struct assoc_env env = {.conn = b->env->conn,
                            .hc = b->env->hc,
                            .sc = b->env->sc,
                            .http = b->env->http,
                            .m = m,
                            .hs_type = b->sm->hs_type,
                            .sf = b->sm->sf};
    struct assoc_calls calls = {0};
    char err[256] = "out of memory";
    int rc = ap && who ? sync_assoc_run(&env, ap, k, &calls, err, sizeof err) : -1;
    b->rep->hs_calls += calls.hubspot;
    b->rep->sf_calls += calls.salesforce;
    for (size_t j = 0; j < k; j++)
        assoc_settle(b, who[j], &ap[j], rc < 0 ? err : NULL);
    if (!ap || !who) /* nothing ran: every candidate pair retries its associations */
        for (size_t i = 0; i < b->npairs; i++)
            if (assoc_candidate(&b->pairs[i]))
                assoc_settle(b, &b->pairs[i], NULL, err);
    if (ap)
        sync_assoc_pairs_clear(ap, k);
    free(ap);
    free(who);
}

/* Stamps the pairs whose writes the CRMs have just acknowledged (the latency's end). */
static void stamp_written(struct sync_batch *b)
{
    int64_t now = clock_wall_ms();
    for (size_t i = 0; i < b->npairs; i++) {
        struct sync_pair *p = &b->pairs[i];
        if (!p->written_ms && (p->wrote_hs || p->wrote_sf || p->created_hs || p->created_sf ||
                               p->delete_hs || p->delete_sf))
            p->written_ms = now;
    }
}

/* ---- reads, stale reads, records found gone ---- */

/* A read older than this when its write is due is done again: the write would otherwise carry
 * values that may have changed meanwhile (a batch held up by retries once wrote 30 s after its
 * read). Reads and writes normally take well under a second each; 5 s leaves room for one
 * HubSpot rate-limit back-off without re-reading, and keeps the window in which a user's edit of
 * the target can be overwritten as short as the CRMs allow (neither batch API writes
 * conditionally). */
#define SYNC_STALE_READ_MS 5000
#define SYNC_STALE_ROUNDS  3

json_object *sync_pair_sf_base(const struct sync_pair *p)
{
    return p->base_sf ? p->base_sf : p->link ? p->link->sf_values : NULL;
}

json_object *sync_pair_hs_base(const struct sync_pair *p)
{
    return p->base_hs ? p->base_hs : p->link ? p->link->hs_values : NULL;
}

/* A link holding the write-ahead record of a batch cut short (a crash between its CRM writes and
 * its commit): the bases to merge against are resolved from what the records hold now
 * (sync/sync_base.h). */
static void resolve_pending(struct sync_batch *b, struct sync_pair *p)
{
    json_object_put(p->base_sf);
    json_object_put(p->base_hs);
    p->base_sf = p->base_hs = NULL;
    if (!p->link || !p->link->pending)
        return;
    struct pending_input in = {.m = b->sm->m,
                               .sf = b->sm->sf,
                               .hs = b->sm->hs,
                               .sf_old = p->link->sf_values,
                               .hs_old = p->link->hs_values,
                               .pending = p->link->pending,
                               .sf_now = p->sf_rec,
                               .hs_now = p->hs_props};
    if (sync_base_resolve_pending(&in, &p->base_sf, &p->base_hs) < 0)
        log_with(LOG_LEVEL_WARN, "sync write-ahead record unreadable, ignored",
                 LF_I("mapping", b->sm->id), LF_I("link", p->link->id));
}

static void merge_read_pairs(struct sync_batch *b, int64_t read_ms, bool only_rereads)
{
    for (size_t i = 0; i < b->npairs; i++) {
        struct sync_pair *p = &b->pairs[i];
        if (p->absorbed || p->state != PAIR_PENDING || p->mark_deleted ||
            (only_rereads && p->read_ms != -1))
            continue;
        p->read_ms = read_ms;
        settle_missing(p);
        if (p->state == PAIR_PENDING) {
            resolve_pending(b, p);
            merge_pair(b, p);
        }
    }
}

static bool has_writes(const struct sync_pair *p)
{
    return p->merged && (p->out.create_hs || p->out.create_sf ||
                         json_object_object_length(p->out.hs_write) > 0 ||
                         json_object_object_length(p->out.sf_write) > 0);
}

/* Forgets a pair's reads and merge so that sync_read_again reads it anew (read_ms -1 marks it). */
static void pair_unread(struct sync_pair *p)
{
    json_object_put(p->sf_rec);
    json_object_put(p->hs_props);
    p->sf_rec = p->hs_props = NULL;
    p->sf_missing = p->hs_missing = false;
    p->need_sf_read = p->sf_id != NULL;
    p->need_hs_read = p->hs_id != NULL;
    if (p->merged)
        merge_output_free(&p->out);
    p->merged = false;
    p->skip = NULL;
    p->read_ms = -1;
}

/* Pairs about to be written from a read older than SYNC_STALE_READ_MS are read and merged again
 * (up to SYNC_STALE_ROUNDS times; still stale after that: retried later, nothing written). */
static void refresh_stale(struct sync_batch *b)
{
    char id[24];
    snprintf(id, sizeof id, "%" PRId64, b->sm->id);
    const char *labels[] = {id};
    for (int round = 0;; round++) {
        int64_t now = clock_wall_ms();
        size_t n = 0;
        for (size_t i = 0; i < b->npairs; i++) {
            struct sync_pair *p = &b->pairs[i];
            if (p->absorbed || p->state != PAIR_PENDING || !has_writes(p) ||
                now - p->read_ms <= SYNC_STALE_READ_MS)
                continue;
            if (round == SYNC_STALE_ROUNDS) {
                struct crm_error e;
                crm_error_set(&e, CRM_HUBSPOT, CRM_ERR_TRANSIENT, 0, "stale_read",
                              "the CRMs answered too slowly to write from a fresh read (%d reads"
                              " older than %d ms)",
                              SYNC_STALE_ROUNDS + 1, SYNC_STALE_READ_MS);
                sync_pair_fail_crm(p, &e, "syncing");
                continue;
            }
            pair_unread(p);
            n++;
        }
        if (n == 0 || round == SYNC_STALE_ROUNDS)
            return;
        metrics_add(m_reread, labels, (double)n);
        sync_read_again(b);
        merge_read_pairs(b, now, true);
    }
}

/* A write found one record of the pair deleted (sync_write.c set gone_sf / gone_hs): that record
 * is read again, and when it is indeed gone the pair is settled like that record's delete event
 * (the mapping's on_delete for that direction, the link marked deleted, outcome deleted); when it
 * is there after all (restored meanwhile) the pair is retried. Never a failed event. */
static void settle_gone(struct sync_batch *b)
{
    size_t n = 0;
    for (size_t i = 0; i < b->npairs; i++) {
        struct sync_pair *p = &b->pairs[i];
        if (p->absorbed || !(p->gone_sf || p->gone_hs))
            continue;
        p->state = PAIR_PENDING; /* what else failed for this pair is moot if it is gone */
        p->error[0] = '\0';
        if (p->gone_sf) {
            json_object_put(p->sf_rec);
            p->sf_rec = NULL;
            p->need_sf_read = true;
        }
        if (p->gone_hs) {
            json_object_put(p->hs_props);
            p->hs_props = NULL;
            p->need_hs_read = true;
        }
        p->sf_missing = p->hs_missing = false;
        n++;
    }
    if (n == 0)
        return;
    sync_read_again(b);
    const struct mapping *m = b->sm->m;
    char id[24];
    snprintf(id, sizeof id, "%" PRId64, b->sm->id);
    for (size_t i = 0; i < b->npairs; i++) {
        struct sync_pair *p = &b->pairs[i];
        if (p->absorbed || !(p->gone_sf || p->gone_hs) || p->state != PAIR_PENDING)
            continue;
        bool sf_gone = p->gone_sf && p->sf_missing, hs_gone = p->gone_hs && p->hs_missing;
        if (!sf_gone && !hs_gone) {
            struct crm_error e;
            crm_error_set(&e, p->gone_sf ? CRM_SALESFORCE : CRM_HUBSPOT, CRM_ERR_TRANSIENT, 0,
                          "restored", "the record was reported deleted but exists again");
            sync_pair_fail_crm(p, &e, "writing");
            continue;
        }
        const char *labels[] = {id, sf_gone ? "salesforce" : "hubspot"};
        metrics_add(m_gone, labels, 1);
        p->del_sf |= sf_gone;
        p->del_hs |= hs_gone;
        p->delete_hs =
            sf_gone && !hs_gone && m->salesforce_to_hubspot.on_delete == MAPPING_DELETE_DELETE;
        p->delete_sf =
            hs_gone && !sf_gone && m->hubspot_to_salesforce.on_delete == MAPPING_DELETE_DELETE;
        p->deletes_sent = false;
        p->mark_deleted = p->link != NULL;
        p->outcome = OUT_DELETED;
        if (!p->link)
            p->state = PAIR_DONE;
    }
    sync_write_deletes(b);
}

/* ---- bases ---- */

static void pair_base_input(const struct sync_batch *b, const struct sync_pair *p,
                            struct base_input *in)
{
    *in = (struct base_input){.m = b->sm->m,
                              .out = &p->out,
                              .sf_old = sync_pair_sf_base(p),
                              .hs_old = sync_pair_hs_base(p),
                              .hs_acked = p->wrote_hs || p->created_hs,
                              .sf_acked = p->wrote_sf || p->created_sf};
}

static bool has_base(const struct sync_pair *p)
{
    return !p->absorbed && p->merged && !p->mark_deleted && p->out.sf_base_new &&
           p->out.hs_base_new;
}

/* After the writes, whatever failed: each merged pair's new base becomes what the CRMs
 * acknowledged (sync/sync_base.h): a field written stays written in the base even when a later
 * step of the pair failed, a field whose write was not acknowledged keeps its old base. */
static void settle_bases(struct sync_batch *b)
{
    for (size_t i = 0; i < b->npairs; i++) {
        struct sync_pair *p = &b->pairs[i];
        if (!has_base(p))
            continue;
        struct base_input in;
        pair_base_input(b, p, &in);
        json_object *sf, *hs;
        if (sync_base_after(&in, &sf, &hs) < 0) {
            sync_pair_fail(p, QUEUE_ERR_VALIDATION, "out of memory");
            continue;
        }
        json_object_put(p->out.sf_base_new);
        json_object_put(p->out.hs_base_new);
        p->out.sf_base_new = sf;
        p->out.hs_base_new = hs;
    }
}

/* An import piece (queue_claim_pairs) may only create its partner: its batch runs beside pairs
 * batches, so adopting a record that already exists (an identity value named it, or the search
 * found it) could re-point a link another worker holds. Such a pair is put back (one attempt:
 * with attempts > 0 it is no piece any more) and synced under the mapping's exclusive lock. */
static void defer_piece_adoptions(struct sync_batch *b)
{
    for (size_t i = 0; i < b->npairs; i++) {
        struct sync_pair *p = &b->pairs[i];
        if (!p->piece || p->absorbed || p->state != PAIR_PENDING || p->link)
            continue;
        if ((p->from_sf && p->hs_id) || (p->from_hs && p->sf_id)) {
            struct crm_error e;
            crm_error_set(&e, p->from_sf ? CRM_HUBSPOT : CRM_SALESFORCE, CRM_ERR_TRANSIENT, 0, NULL,
                          "an import piece found its partner record; adopting it needs the "
                          "mapping alone, so it is synced again under the mapping's lock");
            sync_pair_fail_crm(p, &e, "adopting");
        }
    }
}

static void sync_pairs(struct sync_batch *b)
{
    for (size_t i = 0; i < b->npairs; i++) {
        struct sync_pair *p = &b->pairs[i];
        if (p->absorbed || p->state != PAIR_PENDING)
            continue;
        if (sync_pair_is_echo(b, p)) {
            p->state = PAIR_DONE; /* outcome stays unchanged */
            p->skip = "echo";
        } else
            plan_pair(b, p);
    }
    sync_write_deletes(b);
    stamp_written(b);
    int64_t read_ms = clock_wall_ms();
    sync_read_pairs(b);
    defer_piece_adoptions(b);
    merge_read_pairs(b, read_ms, false);
    refresh_stale(b);
    sync_write_pairs(b);
    stamp_written(b);
    settle_gone(b);
    stamp_written(b);
    settle_bases(b);
    assoc_step(b);
    for (size_t i = 0; i < b->npairs; i++) {
        struct sync_pair *p = &b->pairs[i];
        if (p->outcome != OUT_DELETED)
            p->outcome = p->created_hs || p->created_sf ? OUT_CREATED
                         : p->wrote_hs || p->wrote_sf   ? OUT_SYNCED
                                                        : OUT_UNCHANGED;
    }
}

/* ---- the commit ---- */

/* True when every write the merge planned was acknowledged (or none was planned). */
static bool all_acked(const struct sync_pair *p)
{
    bool hs = json_object_object_length(p->out.hs_write) == 0 || p->wrote_hs || p->created_hs;
    bool sf = json_object_object_length(p->out.sf_write) == 0 || p->wrote_sf || p->created_sf;
    return hs && sf;
}

/* The link row of a pair, when it has one to store: a merged pair stores its base whether or not
 * a later step failed (settle_bases made it what the CRMs acknowledged). */
static bool link_of(const struct sync_pair *p, struct link_write *w)
{
    if (p->absorbed || !p->sf_id || !p->hs_id)
        return false;
    *w = (struct link_write){
        .id = p->link ? p->link->id : 0, .salesforce_id = p->sf_id, .hubspot_id = p->hs_id};
    if (pair_ok(p) && p->mark_deleted && p->link) {
        /* the write-ahead record stays: a restore resolves it like any other (a write of this
         * or an earlier batch may have landed; without it the restored pair would merge against
         * a base older than what synkro wrote, and take its own write for a person's edit) */
        w->deleted = true;
        w->keep_pending = true;
        return true;
    }
    if (has_base(p)) {
        w->sf_values = p->out.sf_base_new;
        w->hs_values = p->out.hs_base_new;
        w->synced = pair_ok(p) || p->wrote_hs || p->wrote_sf || p->created_hs || p->created_sf;
        w->keep_pending = p->pending_stored && !all_acked(p);
        return true;
    }
    return p->created_hs || p->created_sf; /* ids only: the next try merges without a base */
}

static int store_links(struct sync_batch *b, int64_t *link_ids, char *err, size_t errlen)
{
    struct link_write *w = calloc(b->npairs + 1, sizeof *w);
    size_t *which = calloc(b->npairs + 1, sizeof *which);
    size_t n = 0;
    if (!w || !which) {
        free(w), free(which);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < b->npairs; i++)
        if (link_of(&b->pairs[i], &w[n]))
            which[n++] = i;
    int64_t *ids = calloc(n + 1, sizeof *ids);
    int rc = ids ? 0 : -1;
    if (n > 0 && ids)
        rc = link_save_batch(b->env->conn, b->sm->id, w, n, ids, err, errlen);
    for (size_t k = 0; rc == 0 && k < n; k++)
        link_ids[which[k]] = ids[k];
    free(ids), free(w), free(which);
    return rc;
}

/* A conflict is recorded once its resolution is in the stored base (its write acknowledged,
 * or none needed); one whose write failed is found again, and recorded, by the retry. */
bool sync_pair_conflict_recorded(const struct sync_batch *b, const struct sync_pair *p,
                                 const struct merge_conflict *mc)
{
    if (!has_base(p))
        return false;
    struct base_input in;
    pair_base_input(b, p, &in);
    return sync_base_field_settled(&in, mc->field);
}

static int store_conflicts(struct sync_batch *b, const int64_t *link_ids, char *err, size_t errlen)
{
    size_t n = 0;
    for (size_t i = 0; i < b->npairs; i++)
        if (has_base(&b->pairs[i]))
            n += b->pairs[i].out.nconflicts;
    if (n == 0)
        return 0;
    struct conflict_row *rows = calloc(n, sizeof *rows);
    if (!rows) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    size_t k = 0;
    char id[24];
    snprintf(id, sizeof id, "%" PRId64, b->sm->id);
    for (size_t i = 0; i < b->npairs; i++) {
        const struct sync_pair *p = &b->pairs[i];
        if (!has_base(p))
            continue;
        for (size_t c = 0; c < p->out.nconflicts; c++) {
            const struct merge_conflict *mc = &p->out.conflicts[c];
            if (!sync_pair_conflict_recorded(b, p, mc))
                continue;
            const struct mapping_field *f = &b->sm->m->fields[mc->field];
            rows[k++] = (struct conflict_row){.mapping_id = b->sm->id,
                                              .link_id = link_ids[i],
                                              .salesforce_id = p->sf_id,
                                              .hubspot_id = p->hs_id,
                                              .salesforce_field = f->salesforce,
                                              .hubspot_property = f->hubspot,
                                              .salesforce_value = mc->sf_value,
                                              .hubspot_value = mc->hs_value,
                                              .winner = mapping_winner_name(mc->winner),
                                              .reason = merge_reason_name(mc->reason)};
            const char *labels[] = {id, mapping_winner_name(mc->winner)};
            metrics_add(m_conflicts, labels, 1);
        }
    }
    b->rep->conflicts += k;
    int rc = k > 0 ? conflict_insert_batch(b->env->conn, rows, k, err, errlen) : 0;
    free(rows);
    return rc;
}

static int max_attempts(const struct claimed_record *r)
{
    int a = 0;
    for (size_t i = 0; i < r->nevents; i++)
        if (r->events[i].attempts > a)
            a = r->events[i].attempts;
    return a;
}

static void log_failure(const struct sync_batch *b, const struct claimed_record *r,
                        const char *what, const char *category, const char *error)
{
    log_with(LOG_LEVEL_WARN, "sync record failed", LF_I("mapping", b->sm->id),
             LF_S("source", r->source), LF_S("record_id", r->record_id), LF_S("outcome", what),
             LF_S("category", category), LF_S("error", error));
}

static bool is_assoc_event(const struct claimed_event *e)
{
    return strcmp(e->kind, "association") == 0;
}

/* The association events of record r (HubSpot's own, or synkro's follow-ups) into ids; how many,
 * and their highest attempt count in *attempts. */
static size_t assoc_events(const struct claimed_record *r, int64_t *ids, int *attempts)
{
    size_t n = 0;
    *attempts = 0;
    for (size_t i = 0; i < r->nevents; i++)
        if (is_assoc_event(&r->events[i])) {
            ids[n++] = r->ids[i];
            if (r->events[i].attempts > *attempts)
                *attempts = r->events[i].attempts;
        }
    return n;
}

/* The association step of pair p failed or waits: the association events of record r retry
 * (back-off, at least the CRM's retry-after) or fail; the pair's field events are done. */
static int settle_assoc_events(struct sync_batch *b, const struct claimed_record *r,
                               const struct sync_pair *p, char *err, size_t errlen)
{
    const struct sync_env *env = b->env;
    int64_t *ids = calloc(r->nevents + 1, sizeof *ids);
    if (!ids) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    int attempts;
    size_t n = assoc_events(r, ids, &attempts);
    int rc = 0;
    enum queue_error_category cat = p->assoc_category;
    long delay = p->assoc_state == PAIR_RETRY ? queue_backoff_ms(attempts, &env->backoff) : -1;
    if (n > 0 && p->assoc_state == PAIR_RETRY && delay >= 0) {
        b->rep->assoc_retried++;
        log_failure(b, r, "association retried", "", p->assoc_error);
        rc = queue_retry_later(env->conn, env->worker_id, ids, n, p->assoc_error,
                               delay < p->assoc_retry_after_ms ? p->assoc_retry_after_ms : delay,
                               NULL, err, errlen);
    } else if (n > 0) {
        if (p->assoc_state == PAIR_RETRY)
            cat = QUEUE_ERR_RETRIES_EXHAUSTED;
        b->rep->failed++;
        log_failure(b, r, "association failed", queue_error_category_name(cat), p->assoc_error);
        rc = queue_fail(env->conn, env->worker_id, ids, n, cat, p->assoc_error, NULL, err, errlen);
    }
    free(ids);
    return rc;
}

/* Settles the events of record i of pair p (NULL: a record without id, done). */
static int settle_record(struct sync_batch *b, size_t i, const struct sync_pair *p, int64_t *done,
                         size_t *ndone, char *err, size_t errlen)
{
    const struct claimed_record *r = &b->recs[i];
    const struct sync_env *env = b->env;
    if (!p || pair_ok(p)) {
        bool assoc_open = p && p->assoc_state != PAIR_PENDING;
        for (size_t k = 0; k < r->nevents; k++)
            if (!assoc_open || !is_assoc_event(&r->events[k]))
                done[(*ndone)++] = r->ids[k];
        if (p) {
            record_metrics(b, p, r, outcome_names[p->outcome]);
            size_t *counts[] = {&b->rep->unchanged, &b->rep->synced, &b->rep->created,
                                &b->rep->deleted};
            (*counts[p->outcome])++;
        }
        return assoc_open ? settle_assoc_events(b, r, p, err, errlen) : 0;
    }
    enum queue_error_category cat = p->category;
    if (p->state == PAIR_RETRY && p->held_back) {
        /* nothing reached the CRM: the events wait for the budget without an attempt counted
         * (at least the pause's rest, else the first back-off), however long a stop lasts */
        long delay = queue_backoff_ms_draw(0, &env->backoff, b->retry_draw);
        if (delay < p->retry_after_ms)
            delay = p->retry_after_ms;
        record_metrics(b, p, r, "retried");
        b->rep->retried++;
        log_with(LOG_LEVEL_DEBUG, "sync record waits for the CRM budget",
                 LF_I("mapping", b->sm->id), LF_S("source", r->source),
                 LF_S("record_id", r->record_id), LF_I("delay_ms", delay), LF_S("error", p->error));
        return queue_defer(env->conn, env->worker_id, r->ids, r->nevents, p->error, delay, NULL,
                           err, errlen);
    }
    if (p->state == PAIR_RETRY) {
        long delay = queue_backoff_ms_draw(max_attempts(r), &env->backoff, b->retry_draw);
        if (delay >= 0) {
            if (delay < p->retry_after_ms)
                delay = p->retry_after_ms;
            record_metrics(b, p, r, "retried");
            b->rep->retried++;
            log_failure(b, r, "retried", "", p->error);
            return queue_retry_later(env->conn, env->worker_id, r->ids, r->nevents, p->error, delay,
                                     NULL, err, errlen);
        }
        cat = QUEUE_ERR_RETRIES_EXHAUSTED;
    }
    record_metrics(b, p, r, "failed");
    b->rep->failed++;
    log_failure(b, r, "failed", queue_error_category_name(cat), p->error);
    return queue_fail(env->conn, env->worker_id, r->ids, r->nevents, cat, p->error, NULL, err,
                      errlen);
}

/* A pair whose association step must be retried but that has no association event of its own
 * gets one (a follow-up on the first record of the pair that had events): the field events are
 * done, and the association keeps its own attempts, back-off and last_error. */
static int queue_assoc_followups(struct sync_batch *b, char *err, size_t errlen)
{
    for (size_t i = 0; i < b->npairs; i++) {
        const struct sync_pair *p = &b->pairs[i];
        if (p->absorbed || !pair_ok(p) || p->assoc_state == PAIR_PENDING || p->nrecs == 0 ||
            !b->recs[p->recs[0]].record_id)
            continue;
        bool has = false;
        for (size_t k = 0; k < p->nrecs && !has; k++) {
            const struct claimed_record *r = &b->recs[p->recs[k]];
            for (size_t e = 0; e < r->nevents && !has; e++)
                has = is_assoc_event(&r->events[e]);
        }
        if (has)
            continue;
        long delay = queue_backoff_ms(1, &b->env->backoff);
        if (delay < p->assoc_retry_after_ms)
            delay = p->assoc_retry_after_ms;
        /* on the record whose change led here, so its history shows why it waits */
        const struct claimed_record *r = &b->recs[p->recs[0]];
        struct queue_followup f = {
            .source = r->source,
            .object_type = r->object_type,
            .record_id = r->record_id,
            .kind = "association",
            .payload_json = "{\"synkro\":\"association_retry\"}",
            .attempts = 1,
            .delay_ms = delay,
            .last_error = p->assoc_error,
            .failed_category =
                p->assoc_state == PAIR_FAIL ? queue_error_category_name(p->assoc_category) : NULL};
        if (queue_insert_followup(b->env->conn, &f, err, errlen) < 0)
            return -1;
        b->rep->assoc_retried += p->assoc_state == PAIR_RETRY;
        b->rep->failed += p->assoc_state == PAIR_FAIL;
        log_with(LOG_LEVEL_WARN, "sync association deferred", LF_I("mapping", b->sm->id),
                 LF_S("hubspot_id", p->hs_id),
                 LF_S("outcome", p->assoc_state == PAIR_FAIL ? "failed" : "retried"),
                 LF_S("error", p->assoc_error));
    }
    return 0;
}

static void add_seconds(const char *part, int64_t since_ns)
{
    const char *labels[] = {part};
    metrics_add(m_time, labels, (double)(clock_mono_ns() - since_ns) / 1e9);
}

static int commit_batch(struct sync_batch *b, size_t *rec_pair, char *err, size_t errlen)
{
    size_t total = 0;
    for (size_t i = 0; i < b->nrecs; i++)
        total += b->recs[i].nevents;
    int64_t *link_ids = calloc(b->npairs + 1, sizeof *link_ids);
    int64_t *done = calloc(total + 1, sizeof *done);
    size_t ndone = 0;
    int rc = (link_ids && done) ? 0 : -1;
    if (rc < 0)
        snprintf(err, errlen, "out of memory");
    size_t *owner = rec_pair; /* records follow the pair that absorbed theirs */
    for (size_t i = 0; i < b->npairs; i++)
        for (size_t k = 0; !b->pairs[i].absorbed && k < b->pairs[i].nrecs; k++)
            owner[b->pairs[i].recs[k]] = i;
    rc = rc ? rc : db_begin(b->env->conn, err, errlen);
    rc = rc ? rc : store_links(b, link_ids, err, errlen);
    rc = rc ? rc : store_conflicts(b, link_ids, err, errlen);
    for (size_t i = 0; rc == 0 && i < b->nrecs; i++)
        rc = settle_record(b, i, rec_pair[i] == SIZE_MAX ? NULL : &b->pairs[rec_pair[i]], done,
                           &ndone, err, errlen);
    if (rc == 0)
        rc = queue_complete(b->env->conn, b->env->worker_id, done, ndone, NULL, err, errlen);
    if (rc == 0)
        rc = queue_assoc_followups(b, err, errlen);
    if (rc == 0 && b->env->history) {
        char herr[256] = "";
        int64_t t0 = clock_mono_ns();
        int h = sync_history_store(b, link_ids, herr, sizeof herr);
        add_seconds("history", t0);
        if (h < 0) {
            snprintf(err, errlen, "%s", herr);
            rc = -1;
        } else if (h > 0) { /* the outcome is stored without its history */
            log_with(LOG_LEVEL_WARN, "sync history left out", LF_I("mapping", b->sm->id),
                     LF_S("error", herr));
        }
    }
    if (rc == 0)
        rc = db_commit(b->env->conn, err, errlen);
    if (rc < 0)
        db_rollback(b->env->conn);
    free(link_ids);
    free(done);
    return rc;
}

static bool wrote_any(const struct sync_batch *b)
{
    for (size_t i = 0; i < b->npairs; i++)
        if (b->pairs[i].written_ms)
            return true;
    return false;
}

/* When the commit failed: the events wait for their back-off instead of the lease. */
static void retry_all(struct sync_batch *b, const char *why)
{
    char err[256], msg[600];
    snprintf(msg, sizeof msg, "storing the sync outcome failed: %s", why);
    for (size_t i = 0; i < b->nrecs; i++) {
        const struct claimed_record *r = &b->recs[i];
        long delay = queue_backoff_ms_draw(max_attempts(r), &b->env->backoff, b->retry_draw);
        if (delay < 0)
            queue_fail(b->env->conn, b->env->worker_id, r->ids, r->nevents,
                       QUEUE_ERR_RETRIES_EXHAUSTED, msg, NULL, err, sizeof err);
        else
            queue_retry_later(b->env->conn, b->env->worker_id, r->ids, r->nevents, msg, delay, NULL,
                              err, sizeof err);
    }
}

static void count_calls(const struct sync_batch *b)
{
    const char *hs[] = {"hubspot"}, *sf[] = {"salesforce"};
    metrics_add(m_calls, hs, (double)b->rep->hs_calls);
    metrics_add(m_calls, sf, (double)b->rep->sf_calls);
}

int sync_batch_run(const struct sync_env *env, const struct sync_mapping *sm,
                   struct claimed_record *records, size_t n, struct sync_batch_report *rep,
                   char *err, size_t errlen)
{
    int64_t t0 = clock_mono_ns();
    memset(rep, 0, sizeof *rep);
    rep->records = n;
    err[0] = '\0';
    sync_batch_metrics_init();
    struct sync_batch b = {.env = env, .sm = sm, .recs = records, .nrecs = n, .rep = rep};
    if (RAND_bytes((unsigned char *)&b.retry_draw, sizeof b.retry_draw) != 1)
        b.retry_draw = (uint64_t)clock_mono_ms() * 2654435761u; /* no randomness: still one draw */
    b.pairs = calloc(n + 1, sizeof *b.pairs);
    size_t *rec_pair = calloc(n + 1, sizeof *rec_pair);
    int rc = (b.pairs && rec_pair) ? 0 : -1;
    if (rc < 0)
        snprintf(err, errlen, "out of memory");
    if (rc == 0)
        rc = build_pairs(&b, rec_pair, err, errlen);
    if (rc == 0)
        rc = load_links(&b, err, errlen);
    if (rc == 0) {
        sync_pairs(&b);
        if (wrote_any(&b))
            failpoint_crash("after_writes"); /* tests: kill -9 between the writes and the commit */
        rc = commit_batch(&b, rec_pair, err, errlen);
    }
    if (rc < 0)
        retry_all(&b, err);
    count_calls(&b);
    for (size_t i = 0; i < b.npairs; i++)
        pair_free(&b.pairs[i]);
    free(b.pairs);
    free(rec_pair);
    sync_links_free(b.links, b.nlinks);
    sync_links_free(b.adopted_links, b.nadopted_links);
    add_seconds("batch", t0);
    return rc;
}
