/* hmap.c: string-keyed hash map with separate chaining and FNV-1a hashing (see hmap.h). */
#include "tests/crmsim/hmap.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tests/crmsim/util.h"

static uint64_t hmap_hash(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ULL;
    }
    return h;
}

static void hmap_resize(struct hmap *m, size_t nb)
{
    struct hmap_entry **b = xcalloc(nb, sizeof *b);
    for (size_t i = 0; i < m->nbuckets; i++) {
        struct hmap_entry *e = m->buckets[i];
        while (e) {
            struct hmap_entry *next = e->next;
            size_t j = hmap_hash(e->key) % nb;
            e->next = b[j];
            b[j] = e;
            e = next;
        }
    }
    free(m->buckets);
    m->buckets = b;
    m->nbuckets = nb;
}

void *hmap_get(const struct hmap *m, const char *key)
{
    if (!m->nbuckets || !key)
        return NULL;
    for (struct hmap_entry *e = m->buckets[hmap_hash(key) % m->nbuckets]; e; e = e->next) {
        if (strcmp(e->key, key) == 0)
            return e->value;
    }
    return NULL;
}

void *hmap_put(struct hmap *m, const char *key, void *value)
{
    if (!m->nbuckets)
        hmap_resize(m, 64);
    size_t i = hmap_hash(key) % m->nbuckets;
    for (struct hmap_entry *e = m->buckets[i]; e; e = e->next) {
        if (strcmp(e->key, key) == 0) {
            void *old = e->value;
            e->value = value;
            return old;
        }
    }
    struct hmap_entry *e = xmalloc(sizeof *e);
    e->key = xstrdup(key);
    e->value = value;
    e->next = m->buckets[i];
    m->buckets[i] = e;
    m->count++;
    if (m->count > m->nbuckets)
        hmap_resize(m, m->nbuckets * 2);
    return NULL;
}

void *hmap_del(struct hmap *m, const char *key)
{
    if (!m->nbuckets || !key)
        return NULL;
    struct hmap_entry **pp = &m->buckets[hmap_hash(key) % m->nbuckets];
    while (*pp) {
        struct hmap_entry *e = *pp;
        if (strcmp(e->key, key) == 0) {
            void *v = e->value;
            *pp = e->next;
            free(e->key);
            free(e);
            m->count--;
            return v;
        }
        pp = &e->next;
    }
    return NULL;
}

void hmap_clear(struct hmap *m)
{
    for (size_t i = 0; i < m->nbuckets; i++) {
        struct hmap_entry *e = m->buckets[i];
        while (e) {
            struct hmap_entry *next = e->next;
            free(e->key);
            free(e);
            e = next;
        }
    }
    free(m->buckets);
    m->buckets = NULL;
    m->nbuckets = 0;
    m->count = 0;
}

void hmap_each(const struct hmap *m, void (*fn)(const char *key, void *value, void *arg), void *arg)
{
    for (size_t i = 0; i < m->nbuckets; i++) {
        struct hmap_entry *e = m->buckets[i];
        while (e) {
            struct hmap_entry *next = e->next;
            fn(e->key, e->value, arg);
            e = next;
        }
    }
}
