/* page_json.h: the JSON answer of a keyset-paged list query, shared by the db/ list functions
 * (queue_list, conflict_list).
 *
 * Owns nothing: the caller keeps the PGresult and owns the returned object. Must not run SQL. */
#ifndef SYNKRO_DB_PAGE_JSON_H
#define SYNKRO_DB_PAGE_JSON_H

#include <json-c/json.h>
#include <libpq-fe.h>

/* Turns one row of a result into a new JSON object. */
typedef json_object *(*db_row_json_fn)(PGresult *res, int row);

/* {"<items_key>":[row_json of every row],"<cursor_key>":id|null}. The cursor is the first column
 * (a bigint) of the last row when the page is full (as many rows as limit, at least one), else
 * null. Does not clear res. Caller puts the result. */
json_object *db_page_json(PGresult *res, int limit, const char *items_key, const char *cursor_key,
                          db_row_json_fn row_json);

#endif
