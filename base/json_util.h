/* json_util.h: small json-c member readers and string helpers shared by the CRM clients and
 * parsers.
 *
 * Owns nothing: every function is pure, returns borrowed json-c pointers (valid while the parent
 * object lives) or a fresh heap copy the caller frees with free().
 * Design: a missing member, a JSON null and a non-object parent all read as "absent" (NULL/false),
 * so callers test one result.
 * Must not: log, allocate except where stated, or keep state. */
#ifndef SYNKRO_SYNC_JSON_UTIL_H
#define SYNKRO_SYNC_JSON_UTIL_H

#include <json-c/json.h>
#include <stdbool.h>

/* The member key of o, or NULL when o is NULL or not an object, key is absent, or its value is
 * JSON null. Borrowed. */
json_object *json_member(json_object *o, const char *key);

/* A string or integer member as text (integers in decimal), or NULL. Borrowed. */
const char *json_member_text(json_object *o, const char *key);

/* A string member, or NULL when absent or of another type. Borrowed. */
const char *json_member_string(json_object *o, const char *key);

/* True only for a member that is the JSON boolean true. */
bool json_member_bool(json_object *o, const char *key);

/* A heap copy of s without its trailing slashes, or NULL when out of memory. Caller frees with
 * free(). */
char *str_dup_trim_slash(const char *s);

#endif
