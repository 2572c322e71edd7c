/* sync_write.c: the batched CRM writes of one sync batch: deletes, idempotent creates, updates and
 * the identity back-writes.
 *
 * Owns the request inputs it builds (freed before returning); results go to the pairs.
 *
 * Order: (1) HubSpot creates by batch upsert on the identity property with the Salesforce id as
 * value, (2) Salesforce creates by Collections upsert on the identity field with the HubSpot id
 * as value (both idempotent: a retry after a crash finds the record it made), (3) HubSpot batch
 * update of linked records, carrying the identity property where it does not hold the Salesforce
 * id yet (e.g. right after (2)), (4) Salesforce Collections update likewise with the identity
 * field (e.g. right after (1)); (3) and (4) at once, (3) on a short-lived thread with the
 * worker's second HTTP handle, when the worker lent one (env->http_aux). Without an identity
 * setting a create is a plain create. Deletes: Collections delete and HubSpot batch archive; a
 * record already gone counts as deleted. Every call carries many pairs; one input's error fails its
 * pair only. An update answered "deleted" (ENTITY_IS_DELETED, NOT_FOUND, OBJECT_NOT_FOUND, 404)
 * is not a failure: the pair is marked gone_sf / gone_hs and sync_batch.c settles it as a delete.
 * Creates and updates of both CRMs are one function, write_records, driven by a descriptor per
 * CRM (struct write_side: which pairs, which ids and write objects, which client call, which
 * flags an acknowledged write sets, which report counters); the HubSpot update runs through it on
 * the helper thread too.
 *
 * Database: only the write-ahead records, each one autocommitted statement before the writes it
 * covers: the links of creates (write_ahead_links) and the pending writes of updates
 * (write_ahead_pending, migration 0007); nothing else. Must not: decide sync semantics
 * (sync_merge does), commit a batch's outcome, or log. */
#include "sync/sync_batch_internal.h"

#include "sync/sync_base.h"

#include "crm/hubspot_client.h"
#include "base/json_util.h"
#include "crm/salesforce_client.h"

#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef bool (*pair_pred)(const struct sync_batch *b, const struct sync_pair *p);
typedef void (*pair_ok)(struct sync_pair *p, const struct crm_batch_item *it);

static bool live(const struct sync_pair *p)
{
    return !p->absorbed && p->state == PAIR_PENDING;
}

static size_t nonempty(json_object *o)
{
    return o ? (size_t)json_object_object_length(o) : 0;
}

/* The pairs that pred selects (caller frees *out); 0 when none or out of memory. */
static size_t collect(struct sync_batch *b, pair_pred pred, struct sync_pair ***out)
{
    size_t n = 0;
    *out = NULL;
    for (size_t i = 0; i < b->npairs; i++)
        n += live(&b->pairs[i]) && pred(b, &b->pairs[i]);
    if (n == 0 || !(*out = calloc(n, sizeof **out)))
        return 0;
    size_t k = 0;
    for (size_t i = 0; i < b->npairs; i++)
        if (live(&b->pairs[i]) && pred(b, &b->pairs[i]))
            (*out)[k++] = &b->pairs[i];
    return n;
}

/* Which record a failed input was written to (an update answering "deleted" marks it gone). */
enum gone_side { GONE_NONE = 0, GONE_HS, GONE_SF };

/* Hands each input's result to its pair: ok -> on_ok; an update of a record the CRM says is
 * deleted -> the pair's gone flag (sync_batch.c settles it as that record's delete); else the
 * item's (or the call's) error. */
static void distribute(struct sync_pair **pairs, size_t n, const struct crm_batch_result *res,
                       const struct crm_error *call_err, const char *what, pair_ok on_ok,
                       size_t *written, enum gone_side gone)
{
    for (size_t i = 0; i < n; i++) {
        const struct crm_batch_item *it = i < res->n ? &res->items[i] : NULL;
        if (it && it->ok) {
            on_ok(pairs[i], it);
            (*written)++;
        } else if (gone != GONE_NONE && it && crm_error_is_gone(it->error)) {
            if (gone == GONE_HS)
                pairs[i]->gone_hs = true;
            else
                pairs[i]->gone_sf = true;
        } else {
            sync_pair_fail_crm(pairs[i], it && it->error ? it->error : call_err, what);
        }
    }
}

static size_t calls(size_t n, size_t per_call)
{
    return (n + per_call - 1) / per_call;
}

/* ---- deletes ---- */

static bool wants_sf_delete(const struct sync_batch *b, const struct sync_pair *p)
{
    (void)b;
    return p->delete_sf && p->sf_id && !p->deletes_sent;
}

static bool wants_hs_delete(const struct sync_batch *b, const struct sync_pair *p)
{
    (void)b;
    return p->delete_hs && p->hs_id && !p->deletes_sent;
}

static void deleted_ok(struct sync_pair *p, const struct crm_batch_item *it)
{
    (void)it;
    p->outcome = OUT_DELETED;
}

static void delete_sf(struct sync_batch *b)
{
    struct sync_pair **pairs;
    size_t n = collect(b, wants_sf_delete, &pairs);
    if (n == 0)
        return;
    const char **ids = calloc(n, sizeof *ids);
    struct crm_batch_result res = {0};
    struct crm_error e;
    crm_error_clear(&e);
    if (ids) {
        for (size_t i = 0; i < n; i++)
            ids[i] = pairs[i]->sf_id;
        salesforce_collection_delete(b->env->sc, b->env->http, ids, n, false, &res, &e);
        b->rep->sf_calls += calls(n, SALESFORCE_COLLECTION_MAX);
    } else {
        crm_error_set(&e, CRM_SALESFORCE, CRM_ERR_TRANSIENT, 0, NULL, "out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        struct crm_batch_item *it = i < res.n ? &res.items[i] : NULL;
        if ((it && it->ok) || (it && crm_error_is_gone(it->error)))
            deleted_ok(pairs[i], it);
        else
            sync_pair_fail_crm(pairs[i], it && it->error ? it->error : &e,
                               "deleting in Salesforce");
    }
    crm_batch_result_free(&res);
    free(ids);
    free(pairs);
}

static void delete_hs(struct sync_batch *b)
{
    struct sync_pair **pairs;
    size_t n = collect(b, wants_hs_delete, &pairs);
    if (n == 0)
        return;
    const char **ids = calloc(n, sizeof *ids);
    struct crm_batch_result res = {0};
    struct crm_error e;
    crm_error_clear(&e);
    if (ids) {
        for (size_t i = 0; i < n; i++)
            ids[i] = pairs[i]->hs_id;
        hubspot_batch_archive(b->env->hc, b->env->http, b->sm->hs_type, ids, n, &res, &e);
        b->rep->hs_calls += calls(n, HUBSPOT_BATCH_MAX);
    } else {
        crm_error_set(&e, CRM_HUBSPOT, CRM_ERR_TRANSIENT, 0, NULL, "out of memory");
    }
    size_t written = 0;
    distribute(pairs, n, &res, &e, "archiving in HubSpot", deleted_ok, &written, GONE_NONE);
    crm_batch_result_free(&res);
    free(ids);
    free(pairs);
}

void sync_write_deletes(struct sync_batch *b)
{
    delete_sf(b);
    delete_hs(b);
    for (size_t i = 0; i < b->npairs; i++)
        if (b->pairs[i].delete_sf || b->pairs[i].delete_hs)
            b->pairs[i].deletes_sent = true;
}

/* ---- creates ---- */

static bool wants_hs_create(const struct sync_batch *b, const struct sync_pair *p)
{
    (void)b;
    return p->merged && p->out.create_hs && !p->hs_id && p->sf_id;
}

static bool wants_sf_create(const struct sync_batch *b, const struct sync_pair *p)
{
    (void)b;
    return p->merged && p->out.create_sf && !p->sf_id && p->hs_id;
}

static void hs_created(struct sync_pair *p, const struct crm_batch_item *it)
{
    char *id = it->id ? strdup(it->id) : NULL;
    if (!id) {
        sync_pair_fail(p, QUEUE_ERR_VALIDATION, "HubSpot did not answer the new record's id");
        return;
    }
    p->hs_id = id;
    p->created_hs = p->wrote_hs = true;
}

static void sf_created(struct sync_pair *p, const struct crm_batch_item *it)
{
    char *id = it->id ? strdup(it->id) : NULL;
    if (!id) {
        sync_pair_fail(p, QUEUE_ERR_VALIDATION, "Salesforce did not answer the new record's id");
        return;
    }
    p->sf_id = id;
    p->created_sf = p->wrote_sf = true;
}

/* ---- identity back-writes ---- */

/* Where the identity property/field does not hold the other side's id yet, what to add. */
static void plan_identity(struct sync_batch *b, struct sync_pair *p)
{
    const struct mapping *m = b->sm->m;
    if (!live(p) || !p->merged || !p->sf_id || !p->hs_id)
        return;
    if (m->identity_hubspot_property && !p->created_hs) {
        const char *cur = json_member_text(p->hs_props, m->identity_hubspot_property);
        if (!cur || !sync_sf_id_equal(cur, p->sf_id)) {
            p->hs_extra = json_object_new_object();
            if (p->hs_extra)
                json_object_object_add(p->hs_extra, m->identity_hubspot_property,
                                       json_object_new_string(p->sf_id));
        }
    }
    if (m->identity_salesforce_field && !p->created_sf) {
        const char *cur = json_member_text(p->sf_rec, m->identity_salesforce_field);
        if (!cur || strcmp(cur, p->hs_id) != 0) {
            p->sf_extra = json_object_new_object();
            if (p->sf_extra)
                json_object_object_add(p->sf_extra, m->identity_salesforce_field,
                                       json_object_new_string(p->hs_id));
        }
    }
}

/* write + extra as one new object (caller puts); NULL when out of memory. */
static json_object *with_extra(json_object *write, json_object *extra)
{
    json_object *o = json_object_new_object();
    if (!o)
        return NULL;
    json_object *parts[] = {write, extra};
    for (size_t k = 0; k < 2; k++) {
        if (!parts[k])
            continue;
        json_object_object_foreach(parts[k], key, val)
        {
            json_object_object_add(o, key, json_object_get(val));
        }
    }
    return o;
}

/* ---- updates ---- */

static bool wants_hs_update(const struct sync_batch *b, const struct sync_pair *p)
{
    (void)b;
    return p->merged && p->hs_id && !p->created_hs && (nonempty(p->out.hs_write) || p->hs_extra);
}

static bool wants_sf_update(const struct sync_batch *b, const struct sync_pair *p)
{
    (void)b;
    return p->merged && p->sf_id && !p->created_sf && (nonempty(p->out.sf_write) || p->sf_extra);
}

static void hs_updated(struct sync_pair *p, const struct crm_batch_item *it)
{
    (void)it;
    if (nonempty(p->out.hs_write))
        p->wrote_hs = true;
}

static void sf_updated(struct sync_pair *p, const struct crm_batch_item *it)
{
    (void)it;
    if (nonempty(p->out.sf_write))
        p->wrote_sf = true;
}

static void put_all(json_object **objs, size_t n)
{
    for (size_t i = 0; objs && i < n; i++)
        json_object_put(objs[i]);
    free(objs);
}

/* ---- creates and updates: one function, driven by a descriptor per CRM ---- */

enum write_kind { WRITE_CREATE = 0, WRITE_UPDATE = 1 };

/* One input of a batch write, as a pair gives it. */
struct write_input {
    const char *id;     /* update: the record's id; create: the other side's id (identity value) */
    json_object *write; /* borrowed: what the merge writes to this side */
    json_object *extra; /* borrowed: the identity back-write, or NULL */
};

/* One CRM as the creates and updates see it; what[], wants[], on_ok[] and gone[] by kind. */
struct write_side {
    enum crm_kind crm;
    const char *what[2];        /* a failed pair's error says what was being done */
    pair_pred wants[2];         /* which pairs */
    pair_ok on_ok[2];           /* which flags an acknowledged write sets */
    enum gone_side gone[2];     /* which record an input answered "deleted" marks gone */
    size_t per_call;            /* inputs per client call (the report counts calls) */
    size_t calls_at, writes_at; /* offsetof(struct sync_batch_report, ...): this CRM's counters */
    /* which id and write objects of a pair */
    struct write_input (*input)(const struct sync_pair *p, enum write_kind k);
    /* which client call: sends in[i].id with bodies[i], one result per input into res. 0, or -1
     * when out of memory (nothing sent) */
    int (*send)(struct sync_batch *b, enum write_kind k, const struct write_input *in,
                json_object *const *bodies, size_t n, struct crm_batch_result *res,
                struct crm_error *e);
};

static size_t *report_count(struct sync_batch_report *rep, size_t at)
{
    return (size_t *)((char *)rep + at);
}

/* The creates (k WRITE_CREATE) or updates of the pairs s->wants[k] selects, in the batch calls of
 * s->send; each input's result goes to its pair (distribute). */
static void write_records(struct sync_batch *b, const struct write_side *s, enum write_kind k)
{
    struct sync_pair **pairs;
    size_t n = collect(b, s->wants[k], &pairs);
    if (n == 0)
        return;
    struct write_input *in = calloc(n, sizeof *in);
    json_object **bodies = calloc(n, sizeof *bodies);
    struct crm_batch_result res = {0};
    struct crm_error e;
    crm_error_clear(&e);
    bool ok = in && bodies;
    for (size_t i = 0; ok && i < n; i++) {
        in[i] = s->input(pairs[i], k);
        bodies[i] = with_extra(in[i].write, in[i].extra);
        ok = bodies[i] != NULL;
    }
    if (ok && s->send(b, k, in, bodies, n, &res, &e) == 0)
        *report_count(b->rep, s->calls_at) += calls(n, s->per_call);
    else
        crm_error_set(&e, s->crm, CRM_ERR_TRANSIENT, 0, NULL, "out of memory");
    distribute(pairs, n, &res, &e, s->what[k], s->on_ok[k], report_count(b->rep, s->writes_at),
               s->gone[k]);
    crm_batch_result_free(&res);
    put_all(bodies, n);
    free(in);
    free(pairs);
}

static struct write_input hs_input(const struct sync_pair *p, enum write_kind k)
{
    if (k == WRITE_CREATE)
        return (struct write_input){.id = p->sf_id, .write = p->out.hs_write};
    return (struct write_input){.id = p->hs_id, .write = p->out.hs_write, .extra = p->hs_extra};
}

/* Creates upsert on the identity property (the Salesforce id as its value) when there is one. */
static int hs_send(struct sync_batch *b, enum write_kind k, const struct write_input *in,
                   json_object *const *bodies, size_t n, struct crm_batch_result *res,
                   struct crm_error *e)
{
    struct hubspot_input *hin = calloc(n, sizeof *hin);
    if (!hin)
        return -1;
    for (size_t i = 0; i < n; i++)
        hin[i] = (struct hubspot_input){.id = in[i].id, .properties = bodies[i]};
    struct hubspot_client *hc = b->env->hc;
    const char *type = b->sm->hs_type, *idprop = b->sm->m->identity_hubspot_property;
    if (k == WRITE_UPDATE)
        hubspot_batch_update(hc, b->env->http, type, hin, n, res, e);
    else if (idprop)
        hubspot_batch_upsert(hc, b->env->http, type, idprop, hin, n, res, e);
    else
        hubspot_batch_create(hc, b->env->http, type, hin, n, res, e);
    free(hin);
    return 0;
}

static struct write_input sf_input(const struct sync_pair *p, enum write_kind k)
{
    if (k == WRITE_CREATE)
        return (struct write_input){.id = p->hs_id, .write = p->out.sf_write};
    return (struct write_input){.id = p->sf_id, .write = p->out.sf_write, .extra = p->sf_extra};
}

/* Creates upsert on the identity field (the HubSpot id as its value) when there is one, else
 * create without an id. */
static int sf_send(struct sync_batch *b, enum write_kind k, const struct write_input *in,
                   json_object *const *bodies, size_t n, struct crm_batch_result *res,
                   struct crm_error *e)
{
    struct salesforce_record_input *sin = calloc(n, sizeof *sin);
    if (!sin)
        return -1;
    const char *ext = b->sm->m->identity_salesforce_field, *obj = b->sm->m->salesforce_object;
    for (size_t i = 0; i < n; i++)
        sin[i] = (struct salesforce_record_input){.id = k == WRITE_CREATE && !ext ? NULL : in[i].id,
                                                  .fields = bodies[i]};
    struct salesforce_client *sc = b->env->sc;
    if (k == WRITE_UPDATE)
        salesforce_collection_update(sc, b->env->http, obj, sin, n, false, res, e);
    else if (ext)
        salesforce_collection_upsert(sc, b->env->http, obj, ext, sin, n, false, res, e);
    else
        salesforce_collection_create(sc, b->env->http, obj, sin, n, false, res, e);
    free(sin);
    return 0;
}

static const struct write_side hubspot_side = {
    .crm = CRM_HUBSPOT,
    .what = {"creating in HubSpot", "updating HubSpot"},
    .wants = {wants_hs_create, wants_hs_update},
    .on_ok = {hs_created, hs_updated},
    .gone = {GONE_NONE, GONE_HS},
    .per_call = HUBSPOT_BATCH_MAX,
    .calls_at = offsetof(struct sync_batch_report, hs_calls),
    .writes_at = offsetof(struct sync_batch_report, hs_writes),
    .input = hs_input,
    .send = hs_send,
};

static const struct write_side salesforce_side = {
    .crm = CRM_SALESFORCE,
    .what = {"creating in Salesforce", "updating Salesforce"},
    .wants = {wants_sf_create, wants_sf_update},
    .on_ok = {sf_created, sf_updated},
    .gone = {GONE_NONE, GONE_SF},
    .per_call = SALESFORCE_COLLECTION_MAX,
    .calls_at = offsetof(struct sync_batch_report, sf_calls),
    .writes_at = offsetof(struct sync_batch_report, sf_writes),
    .input = sf_input,
    .send = sf_send,
};

/* The HubSpot update run beside the Salesforce update: on a short-lived thread, over shadow pairs
 * that borrow the pair's id and write objects (which nothing changes meanwhile), with its own
 * report and the worker's second HTTP handle, folded back after the join. */
struct hs_update_job {
    struct sync_batch b;
    struct sync_env env;
    struct sync_batch_report rep;
};

static void *hs_update_thread(void *arg)
{
    write_records(&((struct hs_update_job *)arg)->b, &hubspot_side, WRITE_UPDATE);
    return NULL;
}

static void take_hs_update(struct sync_pair *p, const struct sync_pair *sh)
{
    p->wrote_hs |= sh->wrote_hs;
    p->gone_hs |= sh->gone_hs;
    if (sh->state > p->state) {
        p->state = sh->state;
        p->category = sh->category;
        p->held_back = sh->held_back;
        memcpy(p->error, sh->error, sizeof p->error);
    }
    if (sh->retry_after_ms > p->retry_after_ms)
        p->retry_after_ms = sh->retry_after_ms;
}

/* The HubSpot and Salesforce updates, at once when the worker has a second handle and both have
 * work (a pair whose HubSpot update fails may then still have had its Salesforce update: the retry
 * finds both sides agreeing on that value and writes nothing for it). */
static void update_both(struct sync_batch *b)
{
    size_t nhs = 0, nsf = 0;
    for (size_t i = 0; i < b->npairs; i++) {
        nhs += live(&b->pairs[i]) && wants_hs_update(b, &b->pairs[i]);
        nsf += live(&b->pairs[i]) && wants_sf_update(b, &b->pairs[i]);
    }
    struct sync_pair *shadow =
        b->env->http_aux && nhs > 0 && nsf > 0 ? calloc(b->npairs, sizeof *shadow) : NULL;
    struct hs_update_job *job = shadow ? calloc(1, sizeof *job) : NULL;
    if (!job) {
        free(shadow);
        write_records(b, &hubspot_side, WRITE_UPDATE);
        write_records(b, &salesforce_side, WRITE_UPDATE);
        return;
    }
    for (size_t i = 0; i < b->npairs; i++) {
        const struct sync_pair *p = &b->pairs[i];
        if (live(p) && wants_hs_update(b, p))
            shadow[i] = (struct sync_pair){.merged = true,
                                           .hs_id = p->hs_id,
                                           .hs_extra = p->hs_extra,
                                           .out = {.hs_write = p->out.hs_write}};
    }
    job->env = *b->env;
    job->env.http = b->env->http_aux;
    job->b = (struct sync_batch){
        .env = &job->env, .sm = b->sm, .pairs = shadow, .npairs = b->npairs, .rep = &job->rep};
    pthread_t thread;
    bool threaded = pthread_create(&thread, NULL, hs_update_thread, job) == 0;
    write_records(b, &salesforce_side, WRITE_UPDATE);
    if (threaded)
        pthread_join(thread, NULL);
    else
        write_records(&job->b, &hubspot_side, WRITE_UPDATE);
    for (size_t i = 0; i < b->npairs; i++)
        if (shadow[i].hs_id)
            take_hs_update(&b->pairs[i], &shadow[i]);
    b->rep->hs_calls += job->rep.hs_calls;
    b->rep->hs_writes += job->rep.hs_writes;
    free(job);
    free(shadow);
}

/* Before creating records, the pairs about to create store their link with the base the merge
 * computed (what both sides will hold), in a statement of its own (autocommit). A crash between
 * the create and the batch's commit then leaves that link: the retry finds the created record
 * through the identity (sync_read.c looks it up for every pair with such a link before deciding
 * to create, and adoption loads the link) and merges three-way against the base, so an edit made
 * meanwhile on either side is kept instead of being overwritten by a guess. Because of that
 * lookup a write-ahead link only ever describes a record that does not exist yet: its base is
 * never stored over a record that holds other values. */
static bool wants_create(const struct sync_batch *b, const struct sync_pair *p)
{
    return wants_hs_create(b, p) || wants_sf_create(b, p);
}

static void write_ahead_links(struct sync_batch *b)
{
    struct sync_pair **pairs;
    size_t n = collect(b, wants_create, &pairs);
    if (n == 0)
        return;
    struct link_write *w = calloc(n, sizeof *w);
    char err[256] = "out of memory";
    int rc = -1;
    if (w) {
        for (size_t i = 0; i < n; i++) {
            const struct sync_pair *p = pairs[i];
            w[i] = (struct link_write){.id = p->link ? p->link->id : 0,
                                       .salesforce_id = p->sf_id,
                                       .hubspot_id = p->hs_id,
                                       .sf_values = p->out.sf_base_new,
                                       .hs_values = p->out.hs_base_new};
        }
        rc = link_save_batch(b->env->conn, b->sm->id, w, n, NULL, err, sizeof err);
    }
    if (rc < 0) {
        struct crm_error e;
        crm_error_set(&e, CRM_SALESFORCE, CRM_ERR_TRANSIENT, 0, NULL,
                      "storing the links before creating: %s", err);
        for (size_t i = 0; i < n; i++)
            sync_pair_fail_crm(pairs[i], &e, "creating");
    }
    free(w);
    free(pairs);
}

/* Before updating linked records, each such pair's link stores a write-ahead record (migration
 * 0007) in a statement of its own: the value each field to be written held on its target when
 * read, and the bases once every write lands. A crash between a CRM's acknowledgement and the
 * batch's commit then leaves the record, and the next sync of the pair takes the new base for
 * every field whose write landed (sync/sync_base.h), so an edit made meanwhile on the target is
 * a one-sided change instead of a conflict the other side may win. The commit clears it. */
static bool wants_field_update(const struct sync_batch *b, const struct sync_pair *p)
{
    (void)b;
    return p->merged && p->link && p->link->id > 0 && p->sf_id && p->hs_id &&
           (nonempty(p->out.hs_write) || nonempty(p->out.sf_write)) && !p->created_hs &&
           !p->created_sf;
}

static void write_ahead_pending(struct sync_batch *b)
{
    struct sync_pair **pairs;
    size_t n = collect(b, wants_field_update, &pairs);
    if (n == 0)
        return;
    struct link_pending *w = calloc(n, sizeof *w);
    char err[256] = "out of memory";
    int rc = w ? 0 : -1;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        const struct sync_pair *p = pairs[i];
        w[i] = (struct link_pending){
            .id = p->link->id,
            .pending = sync_base_pending_record(&p->out, p->sf_rec, p->hs_props,
                                                sync_pair_sf_base(p), sync_pair_hs_base(p))};
        rc = w[i].pending ? 0 : -1;
    }
    if (rc == 0)
        rc = link_store_pending(b->env->conn, b->sm->id, w, n, err, sizeof err);
    for (size_t i = 0; rc == 0 && i < n; i++)
        pairs[i]->pending_stored = true;
    if (rc < 0) {
        struct crm_error e;
        crm_error_set(&e, CRM_SALESFORCE, CRM_ERR_TRANSIENT, 0, NULL,
                      "storing the write-ahead records before updating: %s", err);
        for (size_t i = 0; i < n; i++)
            sync_pair_fail_crm(pairs[i], &e, "updating");
    }
    for (size_t i = 0; w && i < n; i++)
        json_object_put(w[i].pending);
    free(w);
    free(pairs);
}

void sync_write_pairs(struct sync_batch *b)
{
    write_ahead_links(b);
    write_records(b, &hubspot_side, WRITE_CREATE);
    write_records(b, &salesforce_side, WRITE_CREATE);
    for (size_t i = 0; i < b->npairs; i++)
        plan_identity(b, &b->pairs[i]);
    write_ahead_pending(b);
    update_both(b);
}
