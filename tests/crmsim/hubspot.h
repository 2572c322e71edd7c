/* hubspot.h: what the HubSpot modules share: error bodies, object-type resolution, property
 * validation and record writes, rendering, associations, and every HubSpot route handler.
 *
 * Implemented across hubspot_common.c (errors, rendering, type resolution), hubspot_schemas.c,
 * hubspot_auth.c, hubspot_records.c (validation + writes + single-record routes), hubspot_batch.c,
 * hubspot_search.c and hubspot_assoc.c. Every function expects sim->lock held (route handlers are
 * called by the router with it held). Must not: be used for Salesforce behaviour. */
#ifndef SYNKRO_TESTS_CRMSIM_HUBSPOT_H
#define SYNKRO_TESTS_CRMSIM_HUBSPOT_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>

#include "tests/crmsim/http.h"
#include "tests/crmsim/sim.h"
#include "tests/crmsim/store.h"

#define HS_BATCH_MAX              100
#define HS_ASSOC_BATCH_CREATE_MAX 2000
#define HS_ASSOC_BATCH_READ_MAX   1000
#define HS_SEARCH_LIMIT_MAX       200
#define HS_SEARCH_RESULTS_MAX     10000

/* ---- errors (hubspot_common.c) ---- */

/* A validation/conflict error being built: status, category, message and the errors[] detail array.
 */
struct hs_verr {
    int status; /* 0 = no error */
    char category[40];
    char message[1024];
    json_object *errors;  /* [{message, code, context:{propertyName:[..]}}] */
    json_object *invalid; /* the "Property values were not valid" inner list */
    json_object *context; /* top-level context */
};

void hs_verr_init(struct hs_verr *e);
void hs_verr_free(struct hs_verr *e);
/* Records a property-level error (code such as PROPERTY_DOESNT_EXIST, INVALID_OPTION). */
void hs_verr_property(struct hs_verr *e, int status, const char *code, const char *property,
                      const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* Sets a whole-request error with a plain message. */
void hs_verr_set(struct hs_verr *e, int status, const char *category, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Adds an errors[] detail only (no "Property values were not valid" entry): required/conflict
 * errors. */
void hs_verr_detail(struct hs_verr *e, const char *code, const char *property, const char *message);
/* Writes the error as the HTTP response. */
void hs_verr_respond(struct hs_verr *e, struct http_resp *resp);
/* The error as a batch errors[] element (caller puts); trace_id may be NULL. */
json_object *hs_verr_batch_error(const struct hs_verr *e, const char *trace_id);

/* {"status":"error","message","correlationId","category",["errors"],["context"]} — takes
 * errors/context. */
void hs_error(struct http_resp *resp, int status, const char *category, const char *message,
              json_object *errors, json_object *context);
void hs_errorf(struct http_resp *resp, int status, const char *category, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* A new correlation id (UUID). */
void hs_correlation_id(char *out);

/* ---- object types and rendering (hubspot_common.c) ---- */

/* Schema for an objectTypeId, fully qualified name, or (standard objects) name. */
struct hs_schema *hs_schema_resolve(struct sim *sim, const char *type);
/* As hs_schema_resolve, answering 400 "Unable to infer object type" when unknown. */
struct hs_schema *hs_schema_require(struct sim *sim, const char *type, struct http_resp *resp);
struct hs_property *hs_schema_prop(struct hs_schema *s, const char *name);
/* Non-archived record whose property prop equals value, or NULL. */
struct hs_record *hs_record_find_by_prop(struct hs_schema *s, const char *prop, const char *value);
/* Properties wanted by ?properties= (repeatable and/or comma-separated); NULL when none (caller
 * puts). */
json_object *hs_properties_param(const struct http_req *req, const char *name);

enum hs_render_mode { HS_RENDER_DEFAULT, HS_RENDER_ALL };
/* {"id","properties","createdAt","updatedAt","archived"[,"archivedAt"]} using props (a record's
 * props or its search snapshot). wanted: array of property names or NULL for mode. Caller puts. */
json_object *hs_record_render(struct hs_schema *s, struct hs_record *rec, json_object *props,
                              json_object *wanted, enum hs_render_mode mode);
/* Batch envelope {"status":"COMPLETE","results",["numErrors","errors"],"startedAt","completedAt"};
 * takes results/errors (errors may be NULL or empty). */
json_object *hs_batch_envelope(json_object *results, json_object *errors, int64_t started_ms);
/* Recomputes auto-generated fully qualified names after a portal id change. */
void hs_fqn_refresh(struct sim *sim);

/* ---- schemas (hubspot_schemas.c) ---- */

/* Builds a schema from a fixture document (validated). NULL with err filled. Caller frees with
 * hs_schema_free(). Association definitions found in it are added to sim when installed. */
struct hs_schema *hs_schema_from_json(struct sim *sim, json_object *doc, char *err, size_t errlen);
/* Installs s and registers its association definitions. -1 when its id or name is taken. */
int hs_schema_install(struct sim *sim, struct hs_schema *s, char *err, size_t errlen);
/* The schema document as served (caller puts). */
json_object *hs_schema_render(struct sim *sim, struct hs_schema *s);
void hs_route_schemas_list(struct sim *sim, struct http_req *req, struct http_resp *resp);
void hs_route_schemas_get(struct sim *sim, struct http_req *req, struct http_resp *resp);

/* ---- auth (hubspot_auth.c) ---- */

/* Authenticates the bearer token into req->caller; on failure answers 401 and returns -1. */
int hs_auth_check(struct sim *sim, struct http_req *req, struct http_resp *resp);
/* Adds an OAuth client from a fixture ({client_id, client_secret, refresh_tokens[], app_id}). */
int hs_client_add(struct sim *sim, json_object *doc, char *err, size_t errlen);
/* Adds a static token ({token, app_id} or a string). */
int hs_static_token_add(struct sim *sim, json_object *doc, char *err, size_t errlen);
/* Expires one issued token (or all issued tokens when token is NULL). Returns how many. */
size_t hs_tokens_expire(struct sim *sim, const char *token);
void hs_tokens_clear(struct sim *sim);
json_object *hs_tokens_dump(struct sim *sim);
void hs_route_oauth_token(struct sim *sim, struct http_req *req, struct http_resp *resp);
void hs_route_oauth_token_info(struct sim *sim, struct http_req *req, struct http_resp *resp);
void hs_route_private_app_token_info(struct sim *sim, struct http_req *req, struct http_resp *resp);
void hs_route_account_details(struct sim *sim, struct http_req *req, struct http_resp *resp);

/* ---- rate limits (ratelimit.c) ---- */

/* Counts the call against the caller's rolling window and daily quota; answers 429 and returns -1
 * when over. Sets the X-HubSpot-RateLimit-* headers either way. */
int hs_ratelimit_check(struct sim *sim, struct http_req *req, struct http_resp *resp);
/* Search's own per-account limit (per second); answers 429 and returns -1 when over. */
int hs_search_ratelimit_check(struct sim *sim, struct http_resp *resp);
/* Forgets every rolling window (reset, or a limit setting changed). */
void hs_ratelimit_clear(struct sim *sim);

/* ---- writes (hubspot_records.c) ---- */

/* Validates props for a create (is_create) or update of rec and returns the normalised changes
 * (property -> string, "" for a cleared value), or NULL with e filled. Caller puts. */
json_object *hs_validate_props(struct sim *sim, struct hs_schema *s, json_object *props,
                               bool is_create, struct hs_record *rec, struct hs_verr *e);
/* Creates a record from validated changes (plus v3-style associations, validated here). NULL with e
 * filled. id may be NULL (allocated). Emits creation/propertyChange events into t. */
struct hs_record *hs_write_create(struct sim *sim, struct txn *t, struct hs_schema *s,
                                  json_object *changes, json_object *associations, const char *id,
                                  struct hs_verr *e);
/* Applies validated changes; emits propertyChange events for values that really changed. */
void hs_write_update(struct sim *sim, struct txn *t, struct hs_schema *s, struct hs_record *rec,
                     json_object *changes);
void hs_write_archive(struct sim *sim, struct txn *t, struct hs_schema *s, struct hs_record *rec);
void hs_write_restore(struct sim *sim, struct txn *t, struct hs_schema *s, struct hs_record *rec);
/* Merges loser into winner (winner keeps its values, gains the loser's where empty; loser
 * archived). */
void hs_write_merge(struct sim *sim, struct txn *t, struct hs_schema *s, struct hs_record *winner,
                    struct hs_record *loser);
/* Marks a changed record for the search index (immediately when the delay is 0). */
void hs_index_touch(struct sim *sim, struct hs_record *rec, int64_t now_ms);
/* Brings every due search snapshot of s up to date. */
void hs_index_catch_up(struct sim *sim, struct hs_schema *s, int64_t now_ms);
/* Finds a record by id or by ?idProperty value (non-archived unless archived). Answers 400/404
 * itself. */
struct hs_record *hs_lookup(struct sim *sim, struct hs_schema *s, const char *id,
                            const char *id_property, bool archived, struct http_resp *resp);

void hs_route_get(struct sim *sim, struct http_req *req, struct http_resp *resp);
void hs_route_list(struct sim *sim, struct http_req *req, struct http_resp *resp);
void hs_route_create(struct sim *sim, struct http_req *req, struct http_resp *resp);
void hs_route_update(struct sim *sim, struct http_req *req, struct http_resp *resp);
void hs_route_archive(struct sim *sim, struct http_req *req, struct http_resp *resp);
void hs_route_merge(struct sim *sim, struct http_req *req, struct http_resp *resp);

/* ---- batch (hubspot_batch.c) ---- */

void hs_route_batch_read(struct sim *sim, struct http_req *req, struct http_resp *resp);
void hs_route_batch_create(struct sim *sim, struct http_req *req, struct http_resp *resp);
void hs_route_batch_update(struct sim *sim, struct http_req *req, struct http_resp *resp);
void hs_route_batch_upsert(struct sim *sim, struct http_req *req, struct http_resp *resp);
void hs_route_batch_archive(struct sim *sim, struct http_req *req, struct http_resp *resp);

/* ---- search (hubspot_search.c) ---- */

void hs_route_search(struct sim *sim, struct http_req *req, struct http_resp *resp);

/* ---- associations (hubspot_assoc.c) ---- */

/* Registers an association definition
 * ({fromObjectTypeId,toObjectTypeId,category,typeId,label,name}). */
int hs_assoc_type_add(struct sim *sim, const char *from, const char *to, const char *category,
                      int64_t type_id, const char *label, const char *name, char *err,
                      size_t errlen);
int hs_assoc_type_from_json(struct sim *sim, json_object *doc, char *err, size_t errlen);
/* Creates an edge (no-op when it exists). 0 ok; -1 with e filled (unknown type id, missing
 * records). */
int hs_assoc_add(struct sim *sim, struct txn *t, struct hs_schema *from, const char *from_id,
                 struct hs_schema *to, const char *to_id, const char *category, int64_t type_id,
                 struct hs_verr *e);
/* Creates the default (unlabelled) association from → to. */
int hs_assoc_add_default(struct sim *sim, struct txn *t, struct hs_schema *from,
                         const char *from_id, struct hs_schema *to, const char *to_id,
                         struct hs_verr *e);
/* Removes every edge between two records (either direction), emitting removal events. */
size_t hs_assoc_remove_pair(struct sim *sim, struct txn *t, const char *from_type,
                            const char *from_id, const char *to_type, const char *to_id);
/* Adds edges from a create's "associations" input. */
int hs_assoc_add_inputs(struct sim *sim, struct txn *t, struct hs_schema *from, const char *from_id,
                        json_object *inputs, struct hs_verr *e);
/* "associations" member for GET one (?associations=a,b); NULL when none requested. Caller puts. */
json_object *hs_assoc_render_v3(struct sim *sim, struct hs_schema *s, struct hs_record *rec,
                                json_object *types);
void hs_assoc_clear(struct sim *sim);
json_object *hs_assoc_dump(struct sim *sim);
json_object *hs_assoc_types_dump(struct sim *sim);
/* Loads an edge from a fixture document into t (no events are kept for fixtures). */
int hs_assoc_from_json(struct sim *sim, struct txn *t, json_object *doc, char *err, size_t errlen);

void hs_route_assoc_put_default(struct sim *sim, struct http_req *req, struct http_resp *resp);
void hs_route_assoc_put_labelled(struct sim *sim, struct http_req *req, struct http_resp *resp);
void hs_route_assoc_delete(struct sim *sim, struct http_req *req, struct http_resp *resp);
void hs_route_assoc_list(struct sim *sim, struct http_req *req, struct http_resp *resp);
void hs_route_assoc_batch_create(struct sim *sim, struct http_req *req, struct http_resp *resp);
void hs_route_assoc_batch_default(struct sim *sim, struct http_req *req, struct http_resp *resp);
void hs_route_assoc_batch_read(struct sim *sim, struct http_req *req, struct http_resp *resp);
void hs_route_assoc_batch_archive(struct sim *sim, struct http_req *req, struct http_resp *resp);
void hs_route_assoc_labels(struct sim *sim, struct http_req *req, struct http_resp *resp);

/* Parses a JSON body into *out, answering 400 itself on failure. */
int hs_body_json(struct http_req *req, struct http_resp *resp, json_object **out);
/* Parses {"inputs":[...]} with at most max inputs, answering 400 itself on failure. */
int hs_body_inputs(struct http_req *req, struct http_resp *resp, size_t max, json_object **body,
                   json_object **inputs);

#endif
