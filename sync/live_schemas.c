/* live_schemas.c: the mapped pairs' live schemas, read once per process and copied to each sync
 * worker (design in live_schemas.h).
 *
 * Owns the entries and the documents in them (a private deep copy of the describe, the schema
 * document HubSpot answered). The worker that reads a pair keeps the objects it built from its
 * answer; the others build theirs from the kept documents under the mutex, so the documents are
 * only ever touched by one thread at a time. Must not: call a CRM with the mutex
 * held. */
#include "sync/live_schemas.h"

#include "base/clock.h"
#include "crm/crm_error.h"
#include "crm/crm_schema.h"
#include "crm/hubspot_client.h"
#include "crm/salesforce_client.h"

#include <json-c/json.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct entry {
    char *sf_object; /* the pair (key) */
    char *hs_object;
    char *sig;            /* the mappings signature it was read under; NULL before a read */
    json_object *sf_doc;  /* the describe (deep copy); NULL before a read */
    json_object *hs_doc;  /* the schema document */
    int64_t read_mono_ms; /* when it was read */
    bool stale;           /* invalidated since */
    bool reading;         /* a worker is reading it now (the others wait) */
};

struct live_schemas {
    pthread_mutex_t lock;
    pthread_cond_t read_done;
    int64_t ttl_ms;
    struct entry *entries; /* guarded by lock */
    size_t n, cap;
    uint64_t reads; /* guarded by lock */
};

struct live_schemas *live_schemas_create(int64_t ttl_ms)
{
    struct live_schemas *ls = calloc(1, sizeof *ls);
    if (!ls)
        return NULL;
    pthread_mutex_init(&ls->lock, NULL);
    pthread_cond_init(&ls->read_done, NULL);
    ls->ttl_ms = ttl_ms;
    return ls;
}

static void entry_clear(struct entry *e)
{
    free(e->sf_object);
    free(e->hs_object);
    free(e->sig);
    json_object_put(e->sf_doc);
    json_object_put(e->hs_doc);
}

void live_schemas_destroy(struct live_schemas *ls)
{
    if (!ls)
        return;
    for (size_t i = 0; i < ls->n; i++)
        entry_clear(&ls->entries[i]);
    free(ls->entries);
    pthread_cond_destroy(&ls->read_done);
    pthread_mutex_destroy(&ls->lock);
    free(ls);
}

/* The index of a pair's entry, or ls->n when it has none. Caller holds the lock. */
static size_t entry_find(const struct live_schemas *ls, const char *sf_object,
                         const char *hs_object)
{
    size_t i = 0;
    while (i < ls->n && (strcmp(ls->entries[i].sf_object, sf_object) != 0 ||
                         strcmp(ls->entries[i].hs_object, hs_object) != 0))
        i++;
    return i;
}

/* The index of a pair's entry, added when missing; -1 when out of memory. An index stays valid
 * while the lock is let go (entries are never removed or reordered; only their array may move).
 * Caller holds the lock. */
static long entry_index(struct live_schemas *ls, const char *sf_object, const char *hs_object)
{
    size_t i = entry_find(ls, sf_object, hs_object);
    if (i < ls->n)
        return (long)i;
    if (ls->n == ls->cap) {
        size_t cap = ls->cap ? ls->cap * 2 : 4;
        struct entry *grown = realloc(ls->entries, cap * sizeof *grown);
        if (!grown)
            return -1;
        ls->entries = grown;
        ls->cap = cap;
    }
    struct entry *e = &ls->entries[ls->n];
    memset(e, 0, sizeof *e);
    e->sf_object = strdup(sf_object);
    e->hs_object = strdup(hs_object);
    if (!e->sf_object || !e->hs_object) {
        entry_clear(e);
        return -1;
    }
    return (long)ls->n++;
}

static bool usable(const struct live_schemas *ls, const struct entry *e, const char *sig)
{
    return e->sf_doc && e->hs_doc && !e->stale && e->sig && strcmp(e->sig, sig) == 0 &&
           ls->ttl_ms > 0 && clock_mono_ms() - e->read_mono_ms < ls->ttl_ms;
}

/* A waiting worker's objects, built from the entry's documents. Caller holds the lock. */
static int build(const struct entry *e, struct sf_object **sf, struct hs_object **hs, char *err,
                 size_t errlen)
{
    *sf = sf_object_from_describe(e->sf_doc, err, errlen);
    if (!*sf)
        return -1;
    *hs = hs_object_from_schema(e->hs_doc, err, errlen);
    if (!*hs) {
        sf_object_free(*sf);
        *sf = NULL;
        return -1;
    }
    return 0;
}

/* What one read of a pair gives: the documents to keep and the reader's own objects. */
struct pair_read {
    json_object *sf_doc, *hs_doc;
    struct sf_object *sf;
    struct hs_object *hs;
};

static void pair_read_free(struct pair_read *r)
{
    json_object_put(r->sf_doc);
    json_object_put(r->hs_doc);
    sf_object_free(r->sf);
    hs_object_free(r->hs);
    memset(r, 0, sizeof *r);
}

/* Reads both schemas from the CRMs (no lock held): the describe (a private copy of the client's
 * cached document, and the reader's object built from it) and HubSpot's schema (document and
 * object from one answer). 0, or -1 with err and nothing in r. */
static int read_pair(struct salesforce_client *sc, struct hubspot_client *hc, struct crm_http *h,
                     const char *sf_object, const char *hs_object, struct pair_read *r, char *err,
                     size_t errlen)
{
    memset(r, 0, sizeof *r);
    struct crm_error ce;
    crm_error_clear(&ce);
    const struct salesforce_describe *d = NULL;
    if (salesforce_describe(sc, h, sf_object, &d, &ce) != 0) {
        crm_error_format(&ce, err, errlen);
        return -1;
    }
    r->sf = sf_object_from_describe(d->raw, err, errlen);
    int copied = r->sf ? json_object_deep_copy(d->raw, &r->sf_doc, NULL) : -1;
    salesforce_describe_release(d);
    if (copied != 0) {
        if (r->sf)
            snprintf(err, errlen, "out of memory copying the describe of %s", sf_object);
        pair_read_free(r);
        return -1;
    }
    if (hubspot_schema_get_doc(hc, h, hs_object, &r->hs_doc, &r->hs, &ce) != 0) {
        crm_error_format(&ce, err, errlen);
        pair_read_free(r);
        return -1;
    }
    return 0;
}

int live_schemas_get(struct live_schemas *ls, struct salesforce_client *sc,
                     struct hubspot_client *hc, struct crm_http *h, const char *sig,
                     const char *sf_object, const char *hs_object, struct sf_object **sf,
                     struct hs_object **hs, char *err, size_t errlen)
{
    *sf = NULL;
    *hs = NULL;
    if (!sig)
        sig = "";
    pthread_mutex_lock(&ls->lock);
    long i = entry_index(ls, sf_object, hs_object);
    if (i < 0) {
        pthread_mutex_unlock(&ls->lock);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    while (ls->entries[i].reading)
        pthread_cond_wait(&ls->read_done, &ls->lock);
    if (usable(ls, &ls->entries[i], sig)) {
        int rc = build(&ls->entries[i], sf, hs, err, errlen);
        pthread_mutex_unlock(&ls->lock);
        return rc;
    }
    ls->entries[i].reading = true;
    pthread_mutex_unlock(&ls->lock);

    struct pair_read r;
    int rc = read_pair(sc, hc, h, sf_object, hs_object, &r, err, errlen);
    char *sig_copy = rc == 0 ? strdup(sig) : NULL;

    pthread_mutex_lock(&ls->lock);
    struct entry *e = &ls->entries[i];
    e->reading = false;
    if (sig_copy) { /* keep the documents; the objects are this reader's */
        free(e->sig);
        e->sig = sig_copy;
        json_object_put(e->sf_doc);
        json_object_put(e->hs_doc);
        e->sf_doc = r.sf_doc;
        e->hs_doc = r.hs_doc;
        e->read_mono_ms = clock_mono_ms();
        e->stale = false;
        ls->reads++;
        *sf = r.sf;
        *hs = r.hs;
    } else if (rc == 0) { /* read, but no room to keep it: this reader still has its objects */
        json_object_put(r.sf_doc);
        json_object_put(r.hs_doc);
        *sf = r.sf;
        *hs = r.hs;
    }
    pthread_cond_broadcast(&ls->read_done);
    pthread_mutex_unlock(&ls->lock);
    return rc;
}

void live_schemas_invalidate(struct live_schemas *ls, const char *sf_object, const char *hs_object)
{
    pthread_mutex_lock(&ls->lock);
    size_t i = entry_find(ls, sf_object, hs_object);
    if (i < ls->n)
        ls->entries[i].stale = true;
    pthread_mutex_unlock(&ls->lock);
}

uint64_t live_schemas_reads(struct live_schemas *ls)
{
    pthread_mutex_lock(&ls->lock);
    uint64_t n = ls->reads;
    pthread_mutex_unlock(&ls->lock);
    return n;
}
