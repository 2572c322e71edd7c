/* salesforce.h: what the Salesforce modules share: error arrays, describes, field validation and
 * record writes, rendering, auth, API usage, and every Salesforce route handler.
 *
 * Implemented across salesforce_common.c (errors, describes, validation, writes, rendering),
 * salesforce_auth.c (token endpoint, bearer check), salesforce_jwt.c (RS256 assertion
 * verification), salesforce_sobjects.c (sObject routes), salesforce_collections.c
 * (composite/sobjects), salesforce_query.c (query/queryAll with soql.c) and ratelimit.c (API
 * usage). Every function expects sim->lock held, except the pure JWT verifier. Must not: be used
 * for HubSpot behaviour. */
#ifndef SYNKRO_TESTS_CRMSIM_SALESFORCE_H
#define SYNKRO_TESTS_CRMSIM_SALESFORCE_H

#include <json-c/json.h>
#include <openssl/evp.h>
#include <stdbool.h>
#include <stddef.h>

#include "tests/crmsim/http.h"
#include "tests/crmsim/sim.h"
#include "tests/crmsim/store.h"

#define SF_COLLECTION_MAX   200
#define SF_UPDATED_MAX_DAYS 30
#define SF_DELETED_MAX_DAYS 15

/* ---- errors (salesforce_common.c) ---- */

struct sf_err {
    int status; /* 0 = no error */
    char code[64];
    char message[1024];
    json_object *fields; /* array of field names */
};

void sf_err_init(struct sf_err *e);
void sf_err_free(struct sf_err *e);
/* Sets the error; field may be NULL (empty fields[]). */
void sf_err_set(struct sf_err *e, int status, const char *code, const char *field, const char *fmt,
                ...) __attribute__((format(printf, 5, 6)));
/* [{"message","errorCode","fields"}] as the response. */
void sf_err_respond(const struct sf_err *e, struct http_resp *resp);
/* {"statusCode","message","fields"} for a collection result (caller puts). */
json_object *sf_err_collection(const struct sf_err *e);
/* [{"message","errorCode"}] response. */
void sf_error(struct http_resp *resp, int status, const char *code, const char *message);
void sf_errorf(struct http_resp *resp, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* ---- describes (salesforce_common.c) ---- */

/* Builds an object from a fixture describe ({name, fields[], keyPrefix?, label?}). NULL with err.
 */
struct sf_object *sf_object_from_json(struct sim *sim, json_object *doc, char *err, size_t errlen);
int sf_object_install(struct sim *sim, struct sf_object *o, char *err, size_t errlen);
/* The describe document for API version (e.g. "v58.0"); caller puts. */
json_object *sf_describe_render(struct sim *sim, struct sf_object *o, const char *version);
/* Object for a path segment, answering 404 NOT_FOUND itself when unknown. */
struct sf_object *sf_object_require(struct sim *sim, const char *name, struct http_resp *resp);
/* RFC 1123 date ("Sun, 06 Nov 1994 08:49:37 GMT") parse/format. */
int sf_http_date_parse(const char *s, int64_t *ms);
void sf_http_date_format(int64_t ms, char *out, size_t outlen);

/* ---- values and writes (salesforce_common.c) ---- */

/* Validates input (a record body; "attributes" ignored; skip names a field to ignore) for a create
 * or an update of rec. Returns normalised changes (canonical name -> typed value or null) or NULL
 * with e. */
json_object *sf_validate_fields(struct sim *sim, struct sf_object *o, json_object *input,
                                bool is_create, struct sf_record *rec, const char *skip,
                                struct sf_err *e);
struct sf_record *sf_write_create(struct sim *sim, struct txn *t, struct sf_object *o,
                                  json_object *changes, struct sf_err *e);
void sf_write_update(struct sim *sim, struct txn *t, struct sf_object *o, struct sf_record *rec,
                     json_object *changes);
void sf_write_delete(struct sim *sim, struct txn *t, struct sf_object *o, struct sf_record *rec);
/* A field's value of rec (system fields included) as a new JSON value (NULL for null). */
json_object *sf_record_value(struct sf_object *o, struct sf_record *rec, const struct sf_field *f);
/* {"attributes":{"type","url"}, fields...}; fields: array of canonical names or NULL for all. */
json_object *sf_record_render(struct sf_object *o, struct sf_record *rec, json_object *fields,
                              const char *version);
/* Non-deleted records whose field f equals value (case-insensitive unless caseSensitive). Caller
 * frees the array. */
size_t sf_records_matching(struct sf_object *o, const struct sf_field *f, const char *value,
                           struct sf_record ***out);
/* Coerces an external id value from a path into the field's stored JSON form (NULL when invalid).
 */
json_object *sf_coerce_key(const struct sf_field *f, const char *value);

/* ---- auth and limits ---- */

/* Authenticates the bearer/OAuth token; answers 401 INVALID_SESSION_ID and returns -1 on failure.
 */
int sf_auth_check(struct sim *sim, struct http_req *req, struct http_resp *resp);
/* Invalidates one access token (or all when token is NULL). Returns how many. */
size_t sf_tokens_invalidate(struct sim *sim, const char *token);
void sf_tokens_clear(struct sim *sim);
json_object *sf_tokens_dump(struct sim *sim);
int sf_client_add(struct sim *sim, json_object *doc, char *err, size_t errlen);
int sf_static_token_add(struct sim *sim, const char *token, char *err, size_t errlen);
int sf_user_add(struct sim *sim, const char *username, char *err, size_t errlen);
/* Counts an API call; answers 403 REQUEST_LIMIT_EXCEEDED and returns -1 past the allocation. */
int sf_usage_check(struct sim *sim, struct http_resp *resp);
void sf_usage_header(struct sim *sim, struct http_resp *resp);

void sf_route_oauth_token(struct sim *sim, struct http_req *req, struct http_resp *resp);
void sf_route_oauth_revoke(struct sim *sim, struct http_req *req, struct http_resp *resp);

/* ---- JWT bearer assertions (salesforce_jwt.c, pure) ---- */

struct sf_jwt_claims {
    char iss[256];
    char sub[256];
    char aud[256];
    int64_t exp; /* seconds */
};

/* Verifies an RS256 compact JWS with key and extracts its claims. 0 on success; -1 with err (a
 * plain sentence) when malformed, not RS256, or the signature does not verify. */
int sf_jwt_verify(const char *assertion, EVP_PKEY *key, struct sf_jwt_claims *claims, char *err,
                  size_t errlen);
/* Loads a PEM public key or certificate. NULL with err. Caller frees with EVP_PKEY_free. */
EVP_PKEY *sf_jwt_load_key(const char *pem, size_t len, char *err, size_t errlen);

/* ---- routes ---- */

void sf_route_versions(struct sim *sim, struct http_req *req, struct http_resp *resp);
void sf_route_limits(struct sim *sim, struct http_req *req, struct http_resp *resp);
void sf_route_global_describe(struct sim *sim, struct http_req *req, struct http_resp *resp);
void sf_route_sobject_info(struct sim *sim, struct http_req *req, struct http_resp *resp);
void sf_route_describe(struct sim *sim, struct http_req *req, struct http_resp *resp);
void sf_route_create(struct sim *sim, struct http_req *req, struct http_resp *resp);
void sf_route_get(struct sim *sim, struct http_req *req, struct http_resp *resp);
void sf_route_update(struct sim *sim, struct http_req *req, struct http_resp *resp);
void sf_route_delete(struct sim *sim, struct http_req *req, struct http_resp *resp);
void sf_route_get_by_key(struct sim *sim, struct http_req *req, struct http_resp *resp);
void sf_route_upsert(struct sim *sim, struct http_req *req, struct http_resp *resp);
void sf_route_delete_by_key(struct sim *sim, struct http_req *req, struct http_resp *resp);
void sf_route_updated(struct sim *sim, struct http_req *req, struct http_resp *resp);
void sf_route_deleted(struct sim *sim, struct http_req *req, struct http_resp *resp);
void sf_route_collection_create(struct sim *sim, struct http_req *req, struct http_resp *resp);
void sf_route_collection_update(struct sim *sim, struct http_req *req, struct http_resp *resp);
void sf_route_collection_upsert(struct sim *sim, struct http_req *req, struct http_resp *resp);
void sf_route_collection_delete(struct sim *sim, struct http_req *req, struct http_resp *resp);
void sf_route_query(struct sim *sim, struct http_req *req, struct http_resp *resp);
void sf_route_query_all(struct sim *sim, struct http_req *req, struct http_resp *resp);
void sf_route_query_more(struct sim *sim, struct http_req *req, struct http_resp *resp);
/* Frees every query cursor. */
void sf_cursors_clear(struct sim *sim);

#endif
