/* json_diff.c: structural difference of two json-c values (see json_diff.h).
 * Owns only the array it returns. Must not modify its inputs. */
#include "base/json_diff.h"

#include <stdio.h>
#include <string.h>

struct diff_ctx {
    json_object *out;
    int left;
};

static void add_change(struct diff_ctx *c, const char *path, json_object *from, json_object *to)
{
    if (c->left <= 0)
        return;
    c->left--;
    json_object *ch = json_object_new_object();
    json_object_object_add(ch, "path", json_object_new_string(*path ? path : "$"));
    json_object_object_add(ch, "from", json_object_get(from));
    json_object_object_add(ch, "to", json_object_get(to));
    json_object_array_add(c->out, ch);
}

static void diff_value(struct diff_ctx *c, const char *path, json_object *a, json_object *b);

static void child_path(char *out, size_t outlen, const char *path, const char *key)
{
    snprintf(out, outlen, "%s%s%s", path, *path ? "." : "", key);
}

static void diff_objects(struct diff_ctx *c, const char *path, json_object *a, json_object *b)
{
    char sub[512];
    json_object_object_foreach(a, key, va)
    {
        json_object *vb = NULL;
        json_object_object_get_ex(b, key, &vb);
        child_path(sub, sizeof sub, path, key);
        diff_value(c, sub, va, vb);
    }
    json_object_object_foreach(b, key2, vb2)
    {
        if (!json_object_object_get_ex(a, key2, NULL)) {
            child_path(sub, sizeof sub, path, key2);
            diff_value(c, sub, NULL, vb2);
        }
    }
}

static void diff_arrays(struct diff_ctx *c, const char *path, json_object *a, json_object *b)
{
    size_t na = json_object_array_length(a), nb = json_object_array_length(b);
    size_t n = na > nb ? na : nb;
    char sub[512];
    for (size_t i = 0; i < n; i++) {
        snprintf(sub, sizeof sub, "%s[%zu]", path, i);
        diff_value(c, sub, i < na ? json_object_array_get_idx(a, i) : NULL,
                   i < nb ? json_object_array_get_idx(b, i) : NULL);
    }
}

static void diff_value(struct diff_ctx *c, const char *path, json_object *a, json_object *b)
{
    if (c->left <= 0)
        return;
    json_type ta = a ? json_object_get_type(a) : json_type_null;
    json_type tb = b ? json_object_get_type(b) : json_type_null;
    if ((ta == json_type_object || ta == json_type_null) &&
        (tb == json_type_object || tb == json_type_null) && ta != tb) {
        /* a whole object appears or disappears: list its members */
        json_object *empty = json_object_new_object();
        diff_objects(c, path, a ? a : empty, b ? b : empty);
        json_object_put(empty);
        return;
    }
    if (ta == json_type_object && tb == json_type_object) {
        diff_objects(c, path, a, b);
        return;
    }
    if (ta == json_type_array && tb == json_type_array) {
        diff_arrays(c, path, a, b);
        return;
    }
    if (ta == tb && (ta == json_type_null || json_object_equal(a, b)))
        return;
    add_change(c, path, a, b);
}

json_object *json_diff(json_object *from, json_object *to, int max_changes)
{
    struct diff_ctx c = {json_object_new_array(), max_changes};
    if (!c.out)
        return NULL;
    diff_value(&c, "", from, to);
    return c.out;
}
