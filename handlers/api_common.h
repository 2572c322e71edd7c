/* api_common.h: small pieces shared by the admin API handlers (events, errors, conflicts,
 * imports, mappings).
 *
 * Owns nothing: query/path values are parsed into caller storage and every response goes out
 * through server/http.h. Must not talk SQL or know any one resource's shape. */
#ifndef SYNKRO_HANDLERS_API_COMMON_H
#define SYNKRO_HANDLERS_API_COMMON_H

#include "handlers/http_request.h"

#include <stddef.h>
#include <stdint.h>

/* A whole decimal integer from min to max into *out. -1 (and *out untouched) when s is NULL,
 * empty, has trailing characters, overflows or is out of range. */
int api_parse_int64(const char *s, long long min, long long max, long long *out);

/* A positive id (1..INT64_MAX) into *out; -1 otherwise, as api_parse_int64. */
int api_parse_id(const char *s, int64_t *out);

/* Answers 503 unavailable "database unavailable: <err>". */
int api_respond_db_unavailable(struct http_request *req, const char *err);

/* Answers body as JSON with status and puts it (the caller's reference is consumed). */
int api_respond_json_owned(struct http_request *req, unsigned status, json_object *body);

/* The actor recorded for a change, copied into out: the user of SYNKRO_USERS_FILE or of the
 * console session that made the request; for the admin token by bearer (scripts, the CLI), the
 * X-Synkro-Actor header when it is 1..63 printable characters without spaces, else "admin". */
void api_request_actor(const struct http_request *req, char *out, size_t outlen);

#endif
