/* json_util.c: small json-c member readers and string helpers shared by the CRM clients and
 * parsers.
 *
 * Owns nothing; see the header for the "absent" rules.
 * Must not: log, or keep state between calls. */
#include "base/json_util.h"

#include <stdlib.h>
#include <string.h>

json_object *json_member(json_object *o, const char *key)
{
    json_object *v = NULL;
    if (o && json_object_is_type(o, json_type_object) && json_object_object_get_ex(o, key, &v))
        return v;
    return NULL;
}

const char *json_member_text(json_object *o, const char *key)
{
    json_object *v = json_member(o, key);
    if (v && (json_object_is_type(v, json_type_string) || json_object_is_type(v, json_type_int)))
        return json_object_get_string(v);
    return NULL;
}

const char *json_member_string(json_object *o, const char *key)
{
    json_object *v = json_member(o, key);
    if (v && json_object_is_type(v, json_type_string))
        return json_object_get_string(v);
    return NULL;
}

bool json_member_bool(json_object *o, const char *key)
{
    json_object *v = json_member(o, key);
    return v && json_object_is_type(v, json_type_boolean) && json_object_get_boolean(v);
}

char *str_dup_trim_slash(const char *s)
{
    char *d = strdup(s);
    if (!d)
        return NULL;
    size_t n = strlen(d);
    while (n && d[n - 1] == '/')
        d[--n] = '\0';
    return d;
}
