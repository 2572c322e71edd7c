/* hmap.h: string-keyed hash map (separate chaining) used for record, token and rate-window indexes.
 *
 * Owns copies of its keys; values are borrowed pointers (the caller owns and frees them). Grows by
 * doubling when the load factor passes 1. Not thread-safe: callers hold the simulator lock. Must
 * not: free values, or be iterated while it is modified (except through hmap_del of the current
 * key). */
#ifndef SYNKRO_TESTS_CRMSIM_HMAP_H
#define SYNKRO_TESTS_CRMSIM_HMAP_H

#include <stddef.h>

struct hmap_entry {
    char *key;
    void *value;
    struct hmap_entry *next;
};

struct hmap {
    struct hmap_entry **buckets;
    size_t nbuckets;
    size_t count;
};

/* Value for key or NULL. */
void *hmap_get(const struct hmap *m, const char *key);
/* Inserts or replaces; returns the previous value (or NULL). */
void *hmap_put(struct hmap *m, const char *key, void *value);
/* Removes key; returns its value (or NULL). */
void *hmap_del(struct hmap *m, const char *key);
/* Removes every entry (values untouched) and releases the table. */
void hmap_clear(struct hmap *m);
/* Calls fn for every entry; order is unspecified. */
void hmap_each(const struct hmap *m, void (*fn)(const char *key, void *value, void *arg),
               void *arg);

#endif
