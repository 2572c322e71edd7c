/* sync_read.c: reads the current records of a batch's pairs from both CRMs, and adopts unlinked
 * records through the mapping's identity fields.
 *
 * Owns the SELECT list of the batch read (crm/soql writes the SOQL text) and the HubSpot property
 * list; the records it reads go to the pairs (struct sync_pair owns them).
 *
 * Design: Salesforce records always come from a query (an outbound message can be older than what
 * was already synced, so it is not trusted as the current record): `SELECT Id, <mapped fields>,
 * <identity field>, SystemModstamp FROM <object> WHERE Id IN ('...')`, at most
 * SALESFORCE_COLLECTION_MAX ids per query. crm/soql is the only source of SOQL text: a pair whose
 * id is not a record id (soql_id_valid) fails alone, a mapping naming something that is not an
 * API name (soql_name_valid) fails every pair with the reason, identity values go in as quoted
 * literals. HubSpot records come from one batch read (the client splits it into calls of 100). A
 * record the CRM does not return is missing (deleted). Adoption: an unlinked
 * Salesforce record whose identity field holds a HubSpot id, or an unlinked HubSpot record whose
 * identity property holds a Salesforce id, is paired with that record, which is read in a second
 * round; a pair whose create may have been cut short by a crash looks its counterpart up by the
 * identity first (see lookup_sf).
 *
 * The first round's two reads run at once when the worker lent a second HTTP handle
 * (env->http_aux): the HubSpot read on a short-lived thread over shadow pairs, folded back after
 * the join, so no pair field is written by two threads.
 *
 * Must not: write to a CRM or the database, or log. */
#include "sync/sync_batch_internal.h"
#include "sync/sync_assoc.h"

#include "crm/hubspot_client.h"
#include "base/json_util.h"
#include "crm/salesforce_client.h"
#include "crm/soql.h"

#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool pair_wants_sf(const struct sync_pair *p)
{
    return !p->absorbed && p->state == PAIR_PENDING && p->need_sf_read && p->sf_id;
}

static bool pair_wants_hs(const struct sync_pair *p)
{
    return !p->absorbed && p->state == PAIR_PENDING && p->need_hs_read && p->hs_id;
}

/* ---- the SOQL of a batch read (built by crm/soql) ---- */

/* One query shape for a batch's chunks: SELECT Id, <mapped fields>, <lookups of enabled
 * associations>, <identity field>, SystemModstamp FROM <object> WHERE <key> IN (<values>). The
 * struct points into itself: it stays where sf_read_init put it. */
struct sf_read {
    const char **fields; /* owned array; the names are the mapping's */
    struct soql_where where;
    struct soql_query q;
};

static const char **read_fields(const struct mapping *m, size_t *n)
{
    size_t nlk = 0;
    const char **lk = sync_assoc_sf_fields(m, &nlk);
    const char **f = calloc(m->n_fields + nlk + 3, sizeof *f);
    size_t k = 0;
    if (f) {
        f[k++] = "Id";
        for (size_t i = 0; i < m->n_fields; i++)
            if (m->fields[i].salesforce)
                f[k++] = m->fields[i].salesforce;
        for (size_t i = 0; lk && i < nlk; i++)
            f[k++] = lk[i];
        if (m->identity_salesforce_field)
            f[k++] = m->identity_salesforce_field;
        f[k++] = "SystemModstamp";
    }
    free(lk);
    *n = k;
    return f;
}

/* 0, or -1 with why when the mapping's names cannot make a query (every pair of the batch then
 * fails with why). Values of kind go in per chunk (sf_read_soql). */
static int sf_read_init(struct sf_read *r, const struct mapping *m, const char *key,
                        enum soql_value_kind kind, char *why, size_t whylen)
{
    memset(r, 0, sizeof *r);
    size_t n = 0;
    r->fields = read_fields(m, &n);
    r->where = (struct soql_where){.field = key, .op = SOQL_IN, .kind = kind};
    r->q = (struct soql_query){
        .fields = r->fields, .nfields = n, .object = m->salesforce_object, .where = &r->where};
    char err[300];
    if (!r->fields) {
        snprintf(why, whylen, "out of memory");
        return -1;
    }
    if (soql_check_names(&r->q, err, sizeof err) < 0) {
        snprintf(why, whylen, "the mapping cannot be read from Salesforce: %s", err);
        free(r->fields);
        r->fields = NULL;
        return -1;
    }
    return 0;
}

/* The query for values[0..n) (caller frees), or NULL with *e (a value crm/soql refuses, or no
 * memory: the callers check the values first, so this is not the pair's fault). */
static char *sf_read_soql(struct sf_read *r, const char **values, size_t n, struct crm_error *e)
{
    r->where.values = values;
    r->where.nvalues = n;
    char err[300];
    char *soql = soql_build(&r->q, err, sizeof err);
    if (!soql)
        crm_error_set(e, CRM_SALESFORCE, CRM_ERR_TRANSIENT, 0, NULL, "%s", err);
    return soql;
}

/* Gives each record of page to the pair of the chunk with its id. */
static void take_sf_records(struct sync_pair **chunk, size_t n, json_object *records)
{
    size_t count = json_object_array_length(records);
    for (size_t r = 0; r < count; r++) {
        json_object *rec = json_object_array_get_idx(records, r);
        const char *id = json_member_string(rec, "Id");
        for (size_t i = 0; id && i < n; i++) {
            struct sync_pair *p = chunk[i];
            if (p->sf_rec || !sync_sf_id_equal(p->sf_id, id))
                continue;
            p->sf_rec = json_object_get(rec);
            char *full = strdup(id);
            if (full) {
                free(p->sf_id);
                p->sf_id = full;
            }
            break;
        }
    }
}

/* Gives each record of page to the pair of the chunk whose HubSpot id its identity field holds
 * (a pair without a Salesforce record yet; the first record wins). */
static void take_sf_by_identity(struct sync_pair **chunk, size_t n, json_object *records,
                                const char *field)
{
    size_t count = json_object_array_length(records);
    for (size_t r = 0; r < count; r++) {
        json_object *rec = json_object_array_get_idx(records, r);
        const char *id = json_member_string(rec, "Id");
        const char *hs = json_member_text(rec, field);
        for (size_t i = 0; id && hs && i < n; i++) {
            struct sync_pair *p = chunk[i];
            if (p->sf_id || strcmp(p->hs_id, hs) != 0)
                continue;
            p->sf_id = strdup(id);
            p->sf_rec = p->sf_id ? json_object_get(rec) : NULL;
            break;
        }
    }
}

/* Runs the SOQL query soql and its further pages, handing each page to the chunk (by Id, or by
 * identity_field when it is not NULL). -1 with *e when a call failed. */
static int sf_query_into(struct sync_batch *b, const char *soql, struct sync_pair **chunk, size_t n,
                         const char *identity_field, struct crm_error *e)
{
    crm_error_clear(e);
    struct salesforce_query_page page = {0};
    int rc = salesforce_query(b->env->sc, b->env->http, soql, false, &page, e);
    b->rep->sf_calls++;
    while (rc == 0) {
        if (identity_field)
            take_sf_by_identity(chunk, n, page.records, identity_field);
        else
            take_sf_records(chunk, n, page.records);
        if (page.done || !page.next_records_url)
            break;
        char *next = strdup(page.next_records_url);
        salesforce_query_page_free(&page);
        memset(&page, 0, sizeof page);
        rc = next ? salesforce_query_more(b->env->sc, b->env->http, next, &page, e) : -1;
        if (!next)
            crm_error_set(e, CRM_SALESFORCE, CRM_ERR_TRANSIENT, 0, NULL, "out of memory");
        free(next);
        b->rep->sf_calls++;
    }
    salesforce_query_page_free(&page);
    return rc;
}

/* Runs one SOQL read of chunk (n pairs, at most SALESFORCE_COLLECTION_MAX) and its further
 * pages. */
static void read_sf_chunk(struct sync_batch *b, struct sf_read *r, struct sync_pair **chunk,
                          size_t n)
{
    const char *ids[SALESFORCE_COLLECTION_MAX];
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (!soql_id_valid(chunk[i]->sf_id)) {
            sync_pair_fail(chunk[i], QUEUE_ERR_NOT_FOUND, "%s is not a Salesforce record id",
                           chunk[i]->sf_id);
            continue;
        }
        ids[k++] = chunk[i]->sf_id;
    }
    if (k == 0)
        return;
    struct crm_error e;
    char *soql = sf_read_soql(r, ids, k, &e);
    int rc = soql ? sf_query_into(b, soql, chunk, n, NULL, &e) : -1;
    free(soql);
    for (size_t i = 0; i < n; i++) {
        struct sync_pair *p = chunk[i];
        if (p->state != PAIR_PENDING)
            continue;
        if (rc != 0)
            sync_pair_fail_crm(p, &e, "reading Salesforce");
        else if (!p->sf_rec)
            p->sf_missing = true;
    }
}

static void read_sf(struct sync_batch *b)
{
    struct sync_pair **chunk = calloc(SALESFORCE_COLLECTION_MAX, sizeof *chunk);
    char why[400];
    struct sf_read r;
    bool ok = chunk && sf_read_init(&r, b->sm->m, "Id", SOQL_IDS, why, sizeof why) == 0;
    if (!chunk)
        snprintf(why, sizeof why, "out of memory");
    size_t n = 0;
    for (size_t i = 0; i <= b->npairs; i++) {
        struct sync_pair *p = i < b->npairs ? &b->pairs[i] : NULL;
        if (p && pair_wants_sf(p)) {
            p->need_sf_read = false;
            if (!ok) {
                sync_pair_fail(p, QUEUE_ERR_VALIDATION, "%s", why);
                continue;
            }
            chunk[n++] = p;
        }
        if (n > 0 && (n == SALESFORCE_COLLECTION_MAX || !p)) {
            read_sf_chunk(b, &r, chunk, n);
            n = 0;
        }
    }
    if (ok)
        free(r.fields);
    free(chunk);
}

/* The HubSpot properties a read asks for: the mapped ones and the identity property (heap; caller
 * frees; NULL when out of memory). *np receives how many. */
static const char **hs_read_props(const struct mapping *m, size_t *np)
{
    const char **props = calloc(m->n_fields + 1, sizeof *props);
    *np = 0;
    for (size_t i = 0; props && i < m->n_fields; i++)
        props[(*np)++] = m->fields[i].hubspot;
    if (props && m->identity_hubspot_property)
        props[(*np)++] = m->identity_hubspot_property;
    return props;
}

static void read_hs(struct sync_batch *b)
{
    const struct mapping *m = b->sm->m;
    size_t n = 0;
    for (size_t i = 0; i < b->npairs; i++)
        n += pair_wants_hs(&b->pairs[i]);
    if (n == 0)
        return;
    struct sync_pair **pairs = calloc(n, sizeof *pairs);
    const char **ids = calloc(n, sizeof *ids);
    size_t np = 0;
    const char **props = hs_read_props(m, &np);
    if (!pairs || !ids || !props) {
        for (size_t i = 0; i < b->npairs; i++)
            if (pair_wants_hs(&b->pairs[i]))
                sync_pair_fail(&b->pairs[i], QUEUE_ERR_VALIDATION, "out of memory");
        free(pairs), free(ids), free(props);
        return;
    }
    size_t k = 0;
    for (size_t i = 0; i < b->npairs; i++)
        if (pair_wants_hs(&b->pairs[i])) {
            pairs[k] = &b->pairs[i];
            pairs[k]->need_hs_read = false;
            ids[k++] = b->pairs[i].hs_id;
        }
    struct hubspot_read_options ro = {.properties = props, .nproperties = np};
    struct crm_batch_result res = {0};
    struct crm_error e;
    crm_error_clear(&e);
    int rc = hubspot_batch_read(b->env->hc, b->env->http, b->sm->hs_type, ids, n, &ro, &res, &e);
    b->rep->hs_calls += (n + HUBSPOT_BATCH_MAX - 1) / HUBSPOT_BATCH_MAX;
    for (size_t i = 0; i < n; i++) {
        struct sync_pair *p = pairs[i];
        const struct crm_batch_item *it = i < res.n ? &res.items[i] : NULL;
        if (it && it->ok) {
            json_object *pr = json_member(it->record, "properties");
            p->hs_props = pr ? json_object_get(pr) : json_object_new_object();
        } else if (it && crm_error_is_gone(it->error)) {
            p->hs_missing = true;
        } else {
            sync_pair_fail_crm(p, it && it->error ? it->error : &e, "reading HubSpot");
        }
    }
    (void)rc; /* a failed call's inputs carry its error */
    crm_batch_result_free(&res);
    free(pairs), free(ids), free(props);
}

/* Pairs p with the record of the other CRM that p's identity value names. */
static void adopt(struct sync_batch *b, struct sync_pair *p)
{
    const struct mapping *m = b->sm->m;
    if (p->sf_rec && !p->hs_id && m->identity_salesforce_field) {
        const char *v = json_member_text(p->sf_rec, m->identity_salesforce_field);
        if (v && *v) {
            struct sync_pair *other = sync_pair_by_hs(b, v, p);
            if (other && !other->sf_id)
                sync_pair_absorb(p, other);
            else if (!other && (p->hs_id = strdup(v)) != NULL)
                p->need_hs_read = true;
        }
    }
    if (p->hs_props && !p->sf_id && m->identity_hubspot_property) {
        const char *v = json_member_text(p->hs_props, m->identity_hubspot_property);
        if (v && soql_id_valid(v)) {
            struct sync_pair *other = sync_pair_by_sf(b, v, p);
            if (other && !other->hs_id)
                sync_pair_absorb(p, other);
            else if (!other && (p->sf_id = strdup(v)) != NULL)
                p->need_sf_read = true;
        }
    }
}

/* An adopted id whose record does not exist is forgotten: the pair creates a new record. */
static void drop_missing_adopted(struct sync_pair *p)
{
    if (p->link)
        return;
    if (p->hs_missing && !p->from_hs) {
        free(p->hs_id);
        p->hs_id = NULL;
        p->hs_missing = false;
    }
    if (p->sf_missing && !p->from_sf) {
        free(p->sf_id);
        p->sf_id = NULL;
        p->sf_missing = false;
    }
}

/* The HubSpot read of the first round, run on its own thread over shadow pairs (hs_id borrowed
 * from the batch's pairs, which the Salesforce read does not change) with its own report and the
 * worker's second HTTP handle: the two threads share nothing mutable. */
struct hs_read_job {
    struct sync_batch b;
    struct sync_env env;
    struct sync_batch_report rep;
};

static void *hs_read_thread(void *arg)
{
    read_hs(&((struct hs_read_job *)arg)->b);
    return NULL;
}

/* Folds a shadow's HubSpot read into its pair, as read_hs after read_sf would have: a pair the
 * Salesforce read failed ignores it. */
static void take_hs_read(struct sync_pair *p, struct sync_pair *sh)
{
    if (p->state != PAIR_PENDING) {
        json_object_put(sh->hs_props);
        return;
    }
    p->hs_props = sh->hs_props;
    p->hs_missing = sh->hs_missing;
    if (sh->state != PAIR_PENDING) {
        p->state = sh->state;
        p->category = sh->category;
        p->retry_after_ms = sh->retry_after_ms;
        p->held_back = sh->held_back;
        memcpy(p->error, sh->error, sizeof p->error);
    }
}

/* read_sf and read_hs, at once when the worker has a second handle and both have work. */
static void read_both(struct sync_batch *b)
{
    size_t nsf = 0, nhs = 0;
    for (size_t i = 0; i < b->npairs; i++) {
        nsf += pair_wants_sf(&b->pairs[i]);
        nhs += pair_wants_hs(&b->pairs[i]);
    }
    struct sync_pair *shadow =
        b->env->http_aux && nsf > 0 && nhs > 0 ? calloc(b->npairs, sizeof *shadow) : NULL;
    struct hs_read_job *job = shadow ? calloc(1, sizeof *job) : NULL;
    if (!job) {
        free(shadow);
        read_sf(b);
        read_hs(b);
        return;
    }
    for (size_t i = 0; i < b->npairs; i++)
        if (pair_wants_hs(&b->pairs[i])) {
            shadow[i].hs_id = b->pairs[i].hs_id;
            shadow[i].need_hs_read = true;
            b->pairs[i].need_hs_read = false;
        }
    job->env = *b->env;
    job->env.http = b->env->http_aux;
    job->b = (struct sync_batch){
        .env = &job->env, .sm = b->sm, .pairs = shadow, .npairs = b->npairs, .rep = &job->rep};
    pthread_t thread;
    bool threaded = pthread_create(&thread, NULL, hs_read_thread, job) == 0;
    read_sf(b);
    if (threaded)
        pthread_join(thread, NULL);
    else
        read_hs(&job->b);
    for (size_t i = 0; i < b->npairs; i++)
        if (shadow[i].hs_id)
            take_hs_read(&b->pairs[i], &shadow[i]);
    b->rep->hs_calls += job->rep.hs_calls;
    free(job);
    free(shadow);
}

/* ---- records that a crashed create may have left ---- */

/* A pair with an incomplete link (the write-ahead link of a create, sync_write.c: one id, the
 * base) may already have its counterpart: the create may have reached the other CRM before the
 * crash, and the base then describes that record only if the create carried the base's values.
 * Such pairs look the counterpart up by the mapping's identity before anything is written: the
 * Salesforce record whose identity field holds the HubSpot id (SOQL), the HubSpot record whose
 * identity property holds the Salesforce id (batch read by idProperty). A record found is read as
 * it is and merged three-way against the link's base, so an edit made meanwhile on the source is
 * written instead of being taken back by a blind upsert over a record that holds other values. */
static bool wants_sf_lookup(const struct sync_batch *b, const struct sync_pair *p)
{
    return !p->absorbed && p->state == PAIR_PENDING && p->link && !p->sf_id && p->hs_id &&
           p->hs_props && b->sm->m->identity_salesforce_field;
}

static bool wants_hs_lookup(const struct sync_batch *b, const struct sync_pair *p)
{
    return !p->absorbed && p->state == PAIR_PENDING && p->link && !p->hs_id && p->sf_id &&
           p->sf_rec && b->sm->m->identity_hubspot_property;
}

/* HubSpot record ids are digits; anything else is no record to look up (and the identity lookup
 * quotes what it sends anyway). */
static bool hs_id_valid(const char *s)
{
    if (!s || !*s || strlen(s) > 30)
        return false;
    for (const char *c = s; *c; c++)
        if (!isdigit((unsigned char)*c))
            return false;
    return true;
}

static void lookup_sf(struct sync_batch *b)
{
    const char *field = b->sm->m->identity_salesforce_field;
    struct sync_pair **chunk = calloc(SALESFORCE_COLLECTION_MAX, sizeof *chunk);
    char why[400];
    struct sf_read r;
    bool ok = chunk && sf_read_init(&r, b->sm->m, field, SOQL_TEXT, why, sizeof why) == 0;
    if (!chunk)
        snprintf(why, sizeof why, "out of memory");
    const char *vals[SALESFORCE_COLLECTION_MAX];
    size_t n = 0;
    for (size_t i = 0; i <= b->npairs; i++) {
        struct sync_pair *p = i < b->npairs ? &b->pairs[i] : NULL;
        if (p && wants_sf_lookup(b, p) && !ok) {
            sync_pair_fail(p, QUEUE_ERR_VALIDATION, "looking up Salesforce by identity: %s", why);
            continue;
        }
        if (p && wants_sf_lookup(b, p) && hs_id_valid(p->hs_id)) {
            vals[n] = p->hs_id;
            chunk[n++] = p;
        }
        if (n == 0 || (n < SALESFORCE_COLLECTION_MAX && p))
            continue;
        struct crm_error e;
        char *soql = sf_read_soql(&r, vals, n, &e);
        int rc = soql ? sf_query_into(b, soql, chunk, n, field, &e) : -1;
        free(soql);
        for (size_t k = 0; rc != 0 && k < n; k++)
            sync_pair_fail_crm(chunk[k], &e, "looking up Salesforce by identity");
        n = 0;
    }
    if (ok)
        free(r.fields);
    free(chunk);
}

static void lookup_hs(struct sync_batch *b)
{
    const struct mapping *m = b->sm->m;
    size_t n = 0;
    for (size_t i = 0; i < b->npairs; i++)
        n += wants_hs_lookup(b, &b->pairs[i]);
    if (n == 0)
        return;
    struct sync_pair **pairs = calloc(n, sizeof *pairs);
    const char **ids = calloc(n, sizeof *ids);
    size_t k = 0, np = 0;
    const char **props = hs_read_props(m, &np);
    for (size_t i = 0; pairs && ids && i < b->npairs; i++)
        if (wants_hs_lookup(b, &b->pairs[i])) {
            pairs[k] = &b->pairs[i];
            ids[k++] = b->pairs[i].sf_id;
        }
    struct hubspot_read_options ro = {
        .properties = props, .nproperties = np, .id_property = m->identity_hubspot_property};
    struct crm_batch_result res = {0};
    struct crm_error e;
    crm_error_clear(&e);
    if (!pairs || !ids || !props)
        crm_error_set(&e, CRM_HUBSPOT, CRM_ERR_TRANSIENT, 0, NULL, "out of memory");
    else
        hubspot_batch_read(b->env->hc, b->env->http, b->sm->hs_type, ids, n, &ro, &res, &e);
    b->rep->hs_calls += (n + HUBSPOT_BATCH_MAX - 1) / HUBSPOT_BATCH_MAX;
    for (size_t i = 0; i < n && pairs; i++) {
        struct sync_pair *p = pairs[i];
        const struct crm_batch_item *it = i < res.n ? &res.items[i] : NULL;
        const char *id = it && it->ok ? json_member_string(it->record, "id") : NULL;
        json_object *pr = id ? json_member(it->record, "properties") : NULL;
        if (id && pr && (p->hs_id = strdup(id)) != NULL)
            p->hs_props = json_object_get(pr);
        else if (!it || (!it->ok && !crm_error_is_gone(it->error)))
            sync_pair_fail_crm(p, it && it->error ? it->error : &e,
                               "looking up HubSpot by identity");
    }
    crm_batch_result_free(&res);
    free(pairs), free(ids), free(props);
}

/* Adopted pairs may already have a link under the id they just learnt: the write-ahead link of a
 * create whose batch crashed before its commit (sync_write.c) holds one id and the base. Loading
 * it gives the pair its base, so the merge is three-way instead of a first-time link. */
static void attach_adopted_links(struct sync_batch *b)
{
    const char **sf = calloc(b->npairs + 1, sizeof *sf);
    const char **hs = calloc(b->npairs + 1, sizeof *hs);
    size_t nsf = 0, nhs = 0;
    for (size_t i = 0; sf && hs && i < b->npairs; i++) {
        const struct sync_pair *p = &b->pairs[i];
        if (p->absorbed || p->state != PAIR_PENDING || p->link || !p->sf_id || !p->hs_id)
            continue;
        sf[nsf++] = p->sf_id;
        hs[nhs++] = p->hs_id;
    }
    char err[256];
    if (nsf + nhs > 0 && link_load(b->env->conn, b->sm->id, sf, nsf, hs, nhs, &b->adopted_links,
                                   &b->nadopted_links, err, sizeof err) < 0) {
        struct crm_error e;
        crm_error_set(&e, CRM_SALESFORCE, CRM_ERR_TRANSIENT, 0, NULL, "loading links: %s", err);
        for (size_t i = 0; i < b->npairs; i++) {
            struct sync_pair *p = &b->pairs[i];
            if (!p->absorbed && p->state == PAIR_PENDING && !p->link && p->sf_id && p->hs_id)
                sync_pair_fail_crm(p, &e, "adopting");
        }
    }
    for (size_t k = 0; k < b->nadopted_links; k++) {
        const struct sync_link *l = &b->adopted_links[k];
        for (size_t i = 0; i < b->npairs; i++) {
            struct sync_pair *p = &b->pairs[i];
            if (p->absorbed || p->state != PAIR_PENDING || p->link || !p->sf_id || !p->hs_id)
                continue;
            bool by_sf = l->salesforce_id && sync_sf_id_equal(l->salesforce_id, p->sf_id) &&
                         (!l->hubspot_id || strcmp(l->hubspot_id, p->hs_id) == 0);
            bool by_hs = l->hubspot_id && strcmp(l->hubspot_id, p->hs_id) == 0 &&
                         (!l->salesforce_id || sync_sf_id_equal(l->salesforce_id, p->sf_id));
            if (!l->deleted && (by_sf || by_hs))
                p->link = l;
        }
    }
    free(sf);
    free(hs);
}

void sync_read_again(struct sync_batch *b)
{
    read_both(b);
}

void sync_read_pairs(struct sync_batch *b)
{
    read_both(b);
    for (size_t i = 0; i < b->npairs; i++) {
        struct sync_pair *p = &b->pairs[i];
        if (!p->absorbed && p->state == PAIR_PENDING && !p->link)
            adopt(b, p);
    }
    lookup_sf(b);
    lookup_hs(b);
    attach_adopted_links(b);
    read_sf(b);
    read_hs(b);
    for (size_t i = 0; i < b->npairs; i++)
        if (!b->pairs[i].absorbed && b->pairs[i].state == PAIR_PENDING)
            drop_missing_adopted(&b->pairs[i]);
}
