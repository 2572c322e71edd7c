/* live_schemas.c: the mapped pairs' live schemas, read once per process and copied to each sync
 * worker (design in live_schemas.h).
 *
 * Owns the entries and the documents in them (a private deep copy of the describe, the schema
 * document HubSpot answered); builds each caller's objects from them under the mutex, so the
 * documents are only ever touched by one thread at a time. Must not: call a CRM with the mutex
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

/* The entry of a pair, added when missing (NULL when out of memory). Caller holds the lock. */
static struct entry *entry_of(struct live_schemas *ls, const char *sf_object, const char *hs_object)
{
    for (size_t i = 0; i < ls->n; i++) {
        struct entry *e = &ls->entries[i];
        if (strcmp(e->sf_object, sf_object) == 0 && strcmp(e->hs_object, hs_object) == 0)
            return e;
    }
    if (ls->n == ls->cap) {
        size_t cap = ls->cap ? ls->cap * 2 : 4;
        struct entry *grown = realloc(ls->entries, cap * sizeof *grown);
        if (!grown)
            return NULL;
        ls->entries = grown;
        ls->cap = cap;
    }
    struct entry *e = &ls->entries[ls->n];
    memset(e, 0, sizeof *e);
    e->sf_object = strdup(sf_object);
    e->hs_object = strdup(hs_object);
    if (!e->sf_object || !e->hs_object) {
        entry_clear(e);
        return NULL;
    }
    ls->n++;
    return e;
}

static bool usable(const struct live_schemas *ls, const struct entry *e, const char *sig)
{
    return e->sf_doc && e->hs_doc && !e->stale && e->sig && strcmp(e->sig, sig) == 0 &&
           ls->ttl_ms > 0 && clock_mono_ms() - e->read_mono_ms < ls->ttl_ms;
}

/* The caller's objects, built from the entry's documents. Caller holds the lock. */
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

/* Reads both schemas from the CRMs (no lock held): the describe's private copy and HubSpot's
 * document. 0, or -1 with err. */
static int read_pair(struct salesforce_client *sc, struct hubspot_client *hc, struct crm_http *h,
                     const char *sf_object, const char *hs_object, json_object **sf_doc,
                     json_object **hs_doc, char *err, size_t errlen)
{
    *sf_doc = *hs_doc = NULL;
    struct crm_error ce;
    crm_error_clear(&ce);
    const struct salesforce_describe *d = NULL;
    if (salesforce_describe(sc, h, sf_object, &d, &ce) != 0) {
        crm_error_format(&ce, err, errlen);
        return -1;
    }
    int copied = json_object_deep_copy(d->raw, sf_doc, NULL);
    salesforce_describe_release(d);
    if (copied != 0) {
        snprintf(err, errlen, "out of memory copying the describe of %s", sf_object);
        return -1;
    }
    if (hubspot_schema_get_doc(hc, h, hs_object, hs_doc, &ce) != 0) {
        crm_error_format(&ce, err, errlen);
        json_object_put(*sf_doc);
        *sf_doc = NULL;
        return -1;
    }
    return 0;
}

/* Stores a read in the entry (taking the documents). 0, or -1 when out of memory. Caller holds
 * the lock. */
static int store(struct live_schemas *ls, struct entry *e, const char *sig, json_object *sf_doc,
                 json_object *hs_doc)
{
    char *copy = strdup(sig);
    if (!copy) {
        json_object_put(sf_doc);
        json_object_put(hs_doc);
        return -1;
    }
    free(e->sig);
    e->sig = copy;
    json_object_put(e->sf_doc);
    json_object_put(e->hs_doc);
    e->sf_doc = sf_doc;
    e->hs_doc = hs_doc;
    e->read_mono_ms = clock_mono_ms();
    e->stale = false;
    ls->reads++;
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
    struct entry *e = entry_of(ls, sf_object, hs_object);
    if (!e) {
        pthread_mutex_unlock(&ls->lock);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    /* Entries never move while a worker waits or reads: only entry_of adds (and may move them),
     * so each step finds its entry again by the pair after the lock was let go. */
    while (e->reading) {
        pthread_cond_wait(&ls->read_done, &ls->lock);
        e = entry_of(ls, sf_object, hs_object);
        if (!e) {
            pthread_mutex_unlock(&ls->lock);
            snprintf(err, errlen, "out of memory");
            return -1;
        }
    }
    if (usable(ls, e, sig)) {
        int rc = build(e, sf, hs, err, errlen);
        pthread_mutex_unlock(&ls->lock);
        return rc;
    }
    e->reading = true;
    pthread_mutex_unlock(&ls->lock);

    json_object *sf_doc = NULL, *hs_doc = NULL;
    int rc = read_pair(sc, hc, h, sf_object, hs_object, &sf_doc, &hs_doc, err, errlen);

    pthread_mutex_lock(&ls->lock);
    e = entry_of(ls, sf_object, hs_object); /* found: entries are never removed */
    if (e)
        e->reading = false;
    if (rc == 0 && !e) {
        json_object_put(sf_doc);
        json_object_put(hs_doc);
        rc = -1;
        snprintf(err, errlen, "out of memory");
    } else if (rc == 0) {
        rc = store(ls, e, sig, sf_doc, hs_doc);
        if (rc == 0)
            rc = build(e, sf, hs, err, errlen);
        else
            snprintf(err, errlen, "out of memory");
    }
    pthread_cond_broadcast(&ls->read_done);
    pthread_mutex_unlock(&ls->lock);
    return rc;
}

void live_schemas_invalidate(struct live_schemas *ls, const char *sf_object, const char *hs_object)
{
    pthread_mutex_lock(&ls->lock);
    for (size_t i = 0; i < ls->n; i++) {
        struct entry *e = &ls->entries[i];
        if (strcmp(e->sf_object, sf_object) == 0 && strcmp(e->hs_object, hs_object) == 0)
            e->stale = true;
    }
    pthread_mutex_unlock(&ls->lock);
}

uint64_t live_schemas_reads(struct live_schemas *ls)
{
    pthread_mutex_lock(&ls->lock);
    uint64_t n = ls->reads;
    pthread_mutex_unlock(&ls->lock);
    return n;
}
