/* uindex.c: unique-value indexes of crmsim's records (see uindex.h). */
#include "tests/crmsim/uindex.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "tests/crmsim/util.h"

struct uindex_list {
    void **recs;
    size_t n, cap;
};

void uindex_note(struct hmap *idx, struct uindex_keys *ks, void *rec, char *key)
{
    for (size_t i = 0; i < ks->n; i++) {
        if (strcmp(ks->keys[i], key) == 0) {
            free(key);
            return;
        }
    }
    struct uindex_list *l = hmap_get(idx, key);
    if (!l) {
        l = xcalloc(1, sizeof *l);
        hmap_put(idx, key, l);
    }
    xgrow(&l->recs, &l->cap, l->n + 1, sizeof *l->recs);
    l->recs[l->n++] = rec;
    xgrow(&ks->keys, &ks->cap, ks->n + 1, sizeof *ks->keys);
    ks->keys[ks->n++] = key;
}

void uindex_forget(struct hmap *idx, struct uindex_keys *ks, void *rec)
{
    for (size_t i = 0; i < ks->n; i++) {
        struct uindex_list *l = hmap_get(idx, ks->keys[i]);
        for (size_t j = 0; l && j < l->n; j++) {
            if (l->recs[j] == rec) {
                l->recs[j] = l->recs[--l->n];
                break;
            }
        }
        if (l && l->n == 0) {
            hmap_del(idx, ks->keys[i]);
            free(l->recs);
            free(l);
        }
    }
    uindex_keys_free(ks);
}

void *const *uindex_candidates(const struct hmap *idx, const char *key, size_t *n)
{
    const struct uindex_list *l = hmap_get(idx, key);
    *n = l ? l->n : 0;
    return l ? l->recs : NULL;
}

static void list_free(const char *key, void *value, void *arg)
{
    (void)key;
    (void)arg;
    struct uindex_list *l = value;
    free(l->recs);
    free(l);
}

void uindex_clear(struct hmap *idx)
{
    hmap_each(idx, list_free, NULL);
    hmap_clear(idx);
}

void uindex_keys_free(struct uindex_keys *ks)
{
    for (size_t i = 0; i < ks->n; i++)
        free(ks->keys[i]);
    free(ks->keys);
    *ks = (struct uindex_keys){0};
}

char *uindex_key(const char *name, const char *value, size_t value_len, int lower)
{
    size_t nl = strlen(name);
    char *k = xcalloc(nl + value_len + 2, 1);
    memcpy(k, name, nl);
    k[nl] = '\x1f';
    for (size_t i = 0; i < value_len; i++)
        k[nl + 1 + i] = lower ? (char)tolower((unsigned char)value[i]) : value[i];
    return k;
}
