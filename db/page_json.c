/* page_json.c: the JSON answer of a keyset-paged list query (see page_json.h).
 *
 * Owns nothing beyond one call: the result stays the caller's, the returned object is the
 * caller's to put. Must not run SQL or decide page sizes. */
#include "db/page_json.h"

#include <stdlib.h>

json_object *db_page_json(PGresult *res, int limit, const char *items_key, const char *cursor_key,
                          db_row_json_fn row_json)
{
    json_object *out = json_object_new_object();
    json_object *arr = json_object_new_array();
    int n = PQntuples(res);
    for (int r = 0; r < n; r++)
        json_object_array_add(arr, row_json(res, r));
    json_object_object_add(out, items_key, arr);
    json_object *next = NULL;
    if (n == limit && n > 0)
        next = json_object_new_int64(strtoll(PQgetvalue(res, n - 1, 0), NULL, 10));
    json_object_object_add(out, cursor_key, next);
    return out;
}
