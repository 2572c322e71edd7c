/* json_diff.h: the list of paths where two JSON documents differ.
 *
 * Used for the mapping history ("what changed"): [{"path":"fields[2].rule",
 * "from":"two_way","to":"dont_sync"}, ...]. Objects are compared member by
 * member (members only on one side appear with from or to null), arrays
 * element by element, scalars by value; an object that appears or disappears
 * as a whole is listed member by member. Pure: no I/O. */
#ifndef SYNKRO_SYNC_JSON_DIFF_H
#define SYNKRO_SYNC_JSON_DIFF_H

#include <json-c/json.h>

/* Returns a new array (caller puts); NULL on out of memory. Either side may
 * be NULL (treated as JSON null). At most max_changes entries are listed. */
json_object *json_diff(json_object *from, json_object *to, int max_changes);

#endif
