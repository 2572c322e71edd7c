/* uindex.h: the unique-value indexes of crmsim's records (Salesforce unique fields, HubSpot
 * unique properties): "value key" -> the records that held that value at some point, so a
 * uniqueness check or a lookup by unique value reads a few candidates instead of every record
 * (as the CRMs' own indexes do; a scan per written record made large imports quadratic).
 *
 * Owns the candidate lists and the keys (each record keeps the keys it is listed under in its
 * struct uindex_keys); records are borrowed. Entries are only taken back when a record leaves its
 * object (uindex_forget): a rolled-back write may give a record an old value again, so the
 * candidates are a superset of the holders and callers compare the current value. Must not: free
 * records, or be used without the simulator lock. */
#ifndef SYNKRO_TESTS_CRMSIM_UINDEX_H
#define SYNKRO_TESTS_CRMSIM_UINDEX_H

#include <stddef.h>

#include "tests/crmsim/hmap.h"

struct uindex_keys {
    char **keys;
    size_t n, cap;
};

/* Lists rec under key (taken over: freed here when rec is listed under it already). */
void uindex_note(struct hmap *idx, struct uindex_keys *ks, void *rec, char *key);
/* Takes rec off every list it is on and frees its keys. */
void uindex_forget(struct hmap *idx, struct uindex_keys *ks, void *rec);
/* The records listed under key (*n of them; NULL when none). */
void *const *uindex_candidates(const struct hmap *idx, const char *key, size_t *n);
/* Frees every list (not the records' keys) and empties the map. */
void uindex_clear(struct hmap *idx);
/* Frees a record's keys (the record leaves with its whole object). */
void uindex_keys_free(struct uindex_keys *ks);
/* "<name>\x1f<value>": the key of one value of one field (caller frees). */
char *uindex_key(const char *name, const char *value, size_t value_len, int lower);

#endif
