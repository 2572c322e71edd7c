/* hubspot_client.h: the HubSpot CRM API client (custom objects, search, schemas, associations v4).
 *
 * Owns struct hubspot_client, one per HubSpot account, shared by every worker thread. Its shared
 * mutable state and their locks:
 *   - the access token: a token_cache (own mutex + condition; single-flight OAuth refresh ahead
 *     of expires_in, or a static private-app token);
 *   - two request budgets: a rate_limit bucket for all calls (HUBSPOT_RATE_LIMIT_PER_10S per 10 s)
 *     and one for search (HUBSPOT_SEARCH_RATE_PER_S per second), each with its own mutex; a 429
 *     pauses the bucket it hit for every thread;
 *   - everything else is immutable after hubspot_client_create().
 * Each call takes the caller's per-thread struct crm_http.
 *
 * Calls: every function returns 0 on success or -1 with err filled (err may not be NULL). Calls
 * are retried inside, by the shared call loop (crm/crm_call.h): transient errors with
 * exponential backoff and jitter, 423/429/477 after the wait HubSpot asks for (plus jitter), a
 * 401 once after refreshing the token. Batch functions split their inputs into calls of at most
 * 100 (2,000 / 1,000 for association writes / reads) and answer every input in order in a struct
 * crm_batch_result.
 * Batch answers are read input by input (crm/crm_split.h): an error belongs to the inputs it
 * names (context.ids, context.objectWriteTraceId, fromObjectId / objectId, or an id quoted as a
 * whole word in its message), whether it comes in a 207's "errors" or as a whole call's error
 * body; an input no result and no error names is sent again, and a call failing with an error
 * that names no input is split in halves down to single inputs, so only an input that fails
 * alone gets such an error as its own. A per-input OBJECT_NOT_FOUND reads as http_status 404,
 * code OBJECT_NOT_FOUND: that record is gone. Batch functions return -1 only when some inputs
 * were left with a failure of a call rather than an answer of their own (after a retryable
 * failure the remaining inputs fail with the same error); those inputs carry it too.
 *
 * Paths: `{api_base}{objects_prefix}/{objectType}/...`, objects_prefix "/crm/v3/objects" by
 * default (date-versioned: "/crm/objects/2026-03"); schemas "/crm-object-schemas/v3/schemas";
 * associations "/crm/v4". objectType is an objectTypeId ("2-3465404") or a fully qualified
 * name ("p123_project").
 *
 * Must not: put tokens, the client secret or the refresh token into errors, logs or metrics. */
#ifndef SYNKRO_SYNC_HUBSPOT_CLIENT_H
#define SYNKRO_SYNC_HUBSPOT_CLIENT_H

#include "crm/crm_error.h"
#include "crm/crm_http.h"
#include "crm/crm_schema.h"

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct config;
struct db_pool;

#define HUBSPOT_BATCH_MAX              100
#define HUBSPOT_ASSOC_BATCH_CREATE_MAX 2000
#define HUBSPOT_ASSOC_BATCH_READ_MAX   1000
#define HUBSPOT_SEARCH_LIMIT_MAX       200

struct hubspot_client_options {
    const char *api_base;       /* "https://api.hubapi.com" (no trailing slash needed) */
    const char *objects_prefix; /* NULL: "/crm/v3/objects" */
    const char *schemas_prefix; /* NULL: "/crm-object-schemas/v3/schemas" */
    const char *assoc_prefix;   /* NULL: "/crm/v4" */
    const char *token_path;     /* NULL: "/oauth/v1/token" */
    const char *access_token;   /* static private-app token; or else the OAuth settings: */
    const char *client_id;
    const char *client_secret;
    const char *refresh_token;
    int rate_limit;             /* calls per rate_interval_ms; <= 0: 190 */
    int64_t rate_interval_ms;   /* <= 0: 10000 */
    int search_rate_limit;      /* search calls per search_interval_ms; <= 0: 5 */
    int64_t search_interval_ms; /* <= 0: 1000 */
    int64_t refresh_margin_ms;  /* refresh this long before expiry; <= 0: 300000 (5 of 30 min) */
    int daily_max_percent;      /* stop at this share of the portal's daily limit; <= 0: 90 */
    struct crm_retry_policy retry;
    /* the pool of the budget shared by every instance (borrowed; crm/shared_budget.h), NULL:
     * this process's own buckets only; portal_id keys it ("hubspot:<id>", 0: "hubspot:default") */
    struct db_pool *budget_pool;
    long long portal_id;
};

/* Options from the configuration (HUBSPOT_*); pointers borrow from cfg. */
void hubspot_client_options_from_config(struct hubspot_client_options *o, const struct config *cfg);

struct hubspot_client;

/* NULL with err when neither a static token nor the three OAuth settings are given. The options'
 * strings are copied. Caller frees with hubspot_client_destroy() (no call may be running). */
struct hubspot_client *hubspot_client_create(const struct hubspot_client_options *o, char *err,
                                             size_t errlen);
void hubspot_client_destroy(struct hubspot_client *hc);

/* ---- account and token (synkro doctor) ---- */

/* GET /account-info/v3/details: the portal (account) id the credentials belong to. 0 or -1 with
 * err (an auth failure is CRM_ERR_AUTH). */
int hubspot_account_details(struct hubspot_client *hc, struct crm_http *h, long long *portal_id,
                            struct crm_error *err);

/* Whether the client uses a private app's static token (else OAuth refresh). */
bool hubspot_client_is_private_app(const struct hubspot_client *hc);

/* The scopes granted to the client's token: for a private-app token POST
 * /oauth/v2/private-apps/get/access-token-info {"tokenKey":...}, for an OAuth token GET
 * /oauth/v1/access-tokens/{token}. *scopes is the answer's array of strings (caller puts).
 * 0 or -1 with err. */
int hubspot_token_scopes(struct hubspot_client *hc, struct crm_http *h, json_object **scopes,
                         struct crm_error *err);

/* OAuth refreshes performed so far (tests, diagnostics). */
unsigned long hubspot_client_token_refreshes(struct hubspot_client *hc);

struct crm_call_stats;
struct crm_limit_view;
struct shared_budget;
/* The portal's shared budget (borrowed), or NULL when the client has none. */
struct shared_budget *hubspot_client_shared_budget(struct hubspot_client *hc);
/* The client's call counters (borrowed; lives as long as the client). */
struct crm_call_stats *hubspot_client_stats(struct hubspot_client *hc);
/* The share (%) of the portal's daily limit at which every instance stops (0 for NULL). */
int hubspot_client_daily_max_percent(const struct hubspot_client *hc);
/* Fills out with the client-side budgets (the rolling 10 s call budget "burst", the per-second
 * "search" budget), at most max; returns how many. Reads the limiters, never changes them. */
int hubspot_client_limits(struct hubspot_client *hc, struct crm_limit_view *out, int max);

/* ---- records ---- */

struct hubspot_read_options {
    const char *const *properties; /* property names to return; may be NULL */
    size_t nproperties;
    const char *const *associations; /* object types whose associated ids to return (get only) */
    size_t nassociations;
    const char *id_property; /* ids are values of this unique property; NULL: record ids */
    bool archived;           /* read archived records instead */
};

/* Reads one record. *out receives the record object as returned ({"id","properties",
 * "associations"?,...}); caller json_object_put()s it. A missing record is a permanent error
 * with http_status 404. */
int hubspot_object_get(struct hubspot_client *hc, struct crm_http *h, const char *object_type,
                       const char *id, const struct hubspot_read_options *ro, json_object **out,
                       struct crm_error *err);

/* One input of a batch write. The json objects are borrowed. */
struct hubspot_input {
    const char *id;          /* update / archive: record id; upsert: the unique idProperty value */
    json_object *properties; /* create / update / upsert: {"name": "value", ...} */
    json_object *associations; /* create only: v3 "associations" array, may be NULL */
    const char *trace_id;      /* objectWriteTraceId; NULL: the client sets a unique one */
};

/* Batch reads ids (record ids, or values of ro->id_property). Items of ids that do not exist
 * fail with OBJECT_NOT_FOUND (permanent, http_status 404), whether HubSpot answers 207 naming
 * them or 404 for a call whose ids are all gone. Caller frees out with crm_batch_result_free(). */
int hubspot_batch_read(struct hubspot_client *hc, struct crm_http *h, const char *object_type,
                       const char *const *ids, size_t n, const struct hubspot_read_options *ro,
                       struct crm_batch_result *out, struct crm_error *err);

/* Batch create / update / upsert / archive. Every write input carries a unique
 * objectWriteTraceId, so one bad input fails alone (HTTP 207) instead of failing its call; an
 * update of a record that is gone fails alone with OBJECT_NOT_FOUND / 404 (named by a 207 or by
 * a whole-call error), the other inputs are applied. Upsert matches on id_property (a property
 * with hasUniqueValue); items report created. Archive ignores ids that do not exist (HubSpot
 * answers 204 for the call). */
int hubspot_batch_create(struct hubspot_client *hc, struct crm_http *h, const char *object_type,
                         const struct hubspot_input *in, size_t n, struct crm_batch_result *out,
                         struct crm_error *err);
int hubspot_batch_update(struct hubspot_client *hc, struct crm_http *h, const char *object_type,
                         const struct hubspot_input *in, size_t n, struct crm_batch_result *out,
                         struct crm_error *err);
int hubspot_batch_upsert(struct hubspot_client *hc, struct crm_http *h, const char *object_type,
                         const char *id_property, const struct hubspot_input *in, size_t n,
                         struct crm_batch_result *out, struct crm_error *err);
int hubspot_batch_archive(struct hubspot_client *hc, struct crm_http *h, const char *object_type,
                          const char *const *ids, size_t n, struct crm_batch_result *out,
                          struct crm_error *err);

/* ---- search ---- */

struct hubspot_filter {
    const char *property;
    const char *op;         /* EQ, NEQ, LT, LTE, GT, GTE, BETWEEN, IN, NOT_IN, HAS_PROPERTY, ... */
    const char *value;      /* single-value operators */
    const char *high_value; /* BETWEEN */
    const char *const *values; /* IN, NOT_IN */
    size_t nvalues;
};

struct hubspot_filter_group { /* filters ANDed; groups ORed */
    const struct hubspot_filter *filters;
    size_t nfilters;
};

struct hubspot_sort {
    const char *property;
    bool descending;
};

struct hubspot_search_query {
    const struct hubspot_filter_group *groups;
    size_t ngroups;
    const struct hubspot_sort *sorts;
    size_t nsorts;
    const char *const *properties;
    size_t nproperties;
    const char *query; /* free text; NULL: none */
    int limit;         /* 1..200; <= 0: 100 */
    const char *after; /* paging cursor from the previous page; NULL: first page */
};

struct hubspot_search_page {
    long long total;
    json_object *results; /* array of record objects (owned) */
    char *next_after;     /* NULL on the last page */
};

/* One page of search results. Search has its own budget (5/s by default) on top of the general
 * one, sees writes only after a delay, and stops at 10,000 results. Caller frees out with
 * hubspot_search_page_free(). */
int hubspot_search(struct hubspot_client *hc, struct crm_http *h, const char *object_type,
                   const struct hubspot_search_query *q, struct hubspot_search_page *out,
                   struct crm_error *err);
void hubspot_search_page_free(struct hubspot_search_page *p);

/* ---- schemas ---- */

/* Schemas come back normalised as struct hs_object (sync/crm_schema.h, built with
 * hs_object_from_schema()); look properties up with hs_object_property_find(). */

/* Lists every custom object schema: *out is an array of *n objects (schemas that
 * hs_object_from_schema() rejects are left out). Caller frees with hubspot_schema_list_free(). */
int hubspot_schema_list(struct hubspot_client *hc, struct crm_http *h, struct hs_object ***out,
                        size_t *n, struct crm_error *err);
/* One schema by objectTypeId or fully qualified name. Caller frees *out with hs_object_free(). */
int hubspot_schema_get(struct hubspot_client *hc, struct crm_http *h, const char *object_type,
                       struct hs_object **out, struct crm_error *err);
/* hubspot_schema_get that also gives the document HubSpot answered (doc may be NULL; else the
 * caller puts *doc): one answer, parsed once. 0, or -1 with err (*out and *doc NULL). */
int hubspot_schema_get_doc(struct hubspot_client *hc, struct crm_http *h, const char *object_type,
                           json_object **doc, struct hs_object **out, struct crm_error *err);
void hubspot_schema_list_free(struct hs_object **list, size_t n);

/* ---- associations (v4) ---- */

struct hubspot_assoc_type {
    const char *category; /* HUBSPOT_DEFINED, USER_DEFINED, INTEGRATOR_DEFINED */
    long long type_id;
};

/* One association to write. ntypes 0: the default (unlabelled) association. */
struct hubspot_assoc_input {
    const char *from_id;
    const char *to_id;
    const struct hubspot_assoc_type *types;
    size_t ntypes;
};

/* Creates associations from from_type records to to_type records: inputs with types through
 * batch/create, inputs without through batch/associate/default. Items answer inputs in order;
 * an error naming a from or to id (a 207 entry, or a whole-call 400 "One or more associations
 * are invalid" with context objectId / INVALID_OBJECT_IDS) fails the inputs with that id. */
int hubspot_assoc_batch_create(struct hubspot_client *hc, struct crm_http *h, const char *from_type,
                               const char *to_type, const struct hubspot_assoc_input *in, size_t n,
                               struct crm_batch_result *out, struct crm_error *err);

/* Removes every association between each (from_id, to_id) pair (types ignored). Items answer
 * inputs in order (HubSpot answers 204, also for pairs that are not associated); a failed call
 * fails the inputs its error names, the others are sent again. Caller frees out. */
int hubspot_assoc_batch_archive_each(struct hubspot_client *hc, struct crm_http *h,
                                     const char *from_type, const char *to_type,
                                     const struct hubspot_assoc_input *in, size_t n,
                                     struct crm_batch_result *out, struct crm_error *err);
/* The same without per-input results: -1 with err (the first input's error) when any failed. */
int hubspot_assoc_batch_archive(struct hubspot_client *hc, struct crm_http *h,
                                const char *from_type, const char *to_type,
                                const struct hubspot_assoc_input *in, size_t n,
                                struct crm_error *err);

struct hubspot_assoc_link {
    char *from_id;
    char *to_id;
    char category[32];
    long long type_id;
    char *label; /* NULL when unlabelled */
};

/* A from id whose associations could not be read. */
struct hubspot_assoc_read_error {
    char *from_id;
    /* HubSpot says the record does not exist (OBJECT_NOT_FOUND naming it, other than "no
     * associations"): error then has code OBJECT_NOT_FOUND, http_status 404, permanent */
    bool gone;
    struct crm_error error; /* otherwise its own error, or the retryable failure of its call */
};

struct hubspot_assoc_links {
    struct hubspot_assoc_link *items;
    size_t n;
    struct hubspot_assoc_read_error *failed; /* one per from id that was not read */
    size_t nfailed;
};

/* Reads the associations of from_ids to to_type records (one link per type). Every from id ends
 * either read (its links; a record without associations - HubSpot's NO_ASSOCIATIONS_FOUND - just
 * has none) or in out->failed with its own error: an error of the answer naming it, gone when
 * that is OBJECT_NOT_FOUND, or the failure of its call. The other ids are unaffected: check
 * hubspot_assoc_links_failed() for each id before trusting that it has no links. Returns -1 with
 * err when some ids were left with a call's failure (they are in failed too), or when out of
 * memory (then out is empty, failed included: nothing was read). Caller frees with
 * hubspot_assoc_links_free(). */
int hubspot_assoc_batch_read(struct hubspot_client *hc, struct crm_http *h, const char *from_type,
                             const char *to_type, const char *const *from_ids, size_t n,
                             struct hubspot_assoc_links *out, struct crm_error *err);
void hubspot_assoc_links_free(struct hubspot_assoc_links *l);
/* The failure of from_id in l, or NULL when it was read. Borrowed from l. */
const struct hubspot_assoc_read_error *
hubspot_assoc_links_failed(const struct hubspot_assoc_links *l, const char *from_id);

struct hubspot_assoc_label {
    char category[32];
    long long type_id;
    char *label; /* NULL for the unlabelled default type */
};

/* The association types (ids, categories, labels) defined from from_type to to_type; type ids of
 * custom objects differ per account. Caller frees with hubspot_assoc_labels_free(). */
int hubspot_assoc_labels(struct hubspot_client *hc, struct crm_http *h, const char *from_type,
                         const char *to_type, struct hubspot_assoc_label **out, size_t *n,
                         struct crm_error *err);
void hubspot_assoc_labels_free(struct hubspot_assoc_label *labels, size_t n);

#endif
