/* salesforce_client.h: the Salesforce REST API client (sObjects, Collections, SOQL, describe,
 * getUpdated/getDeleted) with OAuth refresh-token and JWT bearer authentication.
 *
 * Owns struct salesforce_client, one per org, shared by every worker thread. Its shared mutable
 * state and their locks:
 *   - the session: a token_cache (own mutex + condition) holding the access token and the
 *     instance_url it came with; one thread refreshes while the others wait. Salesforce gives no
 *     expiry, so a refresh happens when there is no session or a call answers 401
 *     INVALID_SESSION_ID (then the call is retried once);
 *   - the refresh token: read from the token store (PostgreSQL, encrypted) before each refresh,
 *     falling back to SALESFORCE_REFRESH_TOKEN; a rotated one is written back in one statement.
 *     Only the refresh callback replaces it (the token cache runs one refresh at a time);
 *     refresh_lock (a mutex) guards the pointer, which error scrubbing reads from any thread;
 *   - the describe cache: describe_lock (a mutex) guards the entry table; entries are
 *     reference-counted so a refresh never frees a describe another thread still reads;
 *   - the API usage ratio from Sforce-Limit-Info: an atomic, mirrored in the gauge
 *     synkro_salesforce_api_usage_ratio. Above SALESFORCE_API_USAGE_MAX_PERCENT every call first
 *     sleeps, longer the closer usage gets to the allocation.
 * Each call takes the caller's per-thread struct crm_http.
 *
 * Calls return 0 or -1 with err filled (err may not be NULL); transient errors (UNABLE_TO_LOCK_ROW,
 * QUERY_TIMEOUT, REQUEST_LIMIT_EXCEEDED, 5xx, no answer) are retried with backoff and jitter by
 * the shared call loop (crm/crm_call.h).
 * Collections split inputs into calls of at most 200 and answer every input in order (Salesforce
 * returns results in request order, allOrNone false by default: each record's errors are its
 * own). A whole call failing names records only by their ids in its message: those fail, the
 * others are sent again; an error naming none splits the call down to single records, and records
 * a short answer left out are sent again (crm/crm_split.h). They return -1 only when some
 * records were left with a call's failure. Paths: {instance_url}/services/data/{version}/...
 *
 * Must not: put the access token, refresh token, client secret or JWT into errors, logs or
 * metrics. It logs one thing itself: a rotated refresh token that could not be stored. */
#ifndef SYNKRO_SYNC_SALESFORCE_CLIENT_H
#define SYNKRO_SYNC_SALESFORCE_CLIENT_H

#include "crm/crm_error.h"
#include "crm/crm_http.h"
#include "crm/crm_schema.h"
#include "crm/token_store.h"

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct config;
struct db_pool;
struct shared_budget;

#define SALESFORCE_COLLECTION_MAX 200

struct salesforce_client_options {
    const char *login_url;   /* token endpoint host, e.g. https://login.salesforce.com */
    const char *api_version; /* "v62.0" */
    const char *client_id;
    const char *client_secret; /* refresh-token flow */
    const char *refresh_token; /* initial refresh token (the store's wins when it has one) */
    const char *username;      /* JWT bearer flow: sub */
    const char *jwt_key_file;  /* JWT bearer flow: PEM RSA private key; set = JWT flow */
    const char *jwt_key_pem;   /* the key itself instead of a file (tests) */
    const char *jwt_audience;  /* aud; NULL: login_url */
    const char *access_token;  /* a pre-issued session (with instance_url); no refresh possible */
    const char *instance_url;
    int api_usage_max_percent;  /* <= 0: 80 */
    int api_daily_max_percent;  /* stop every instance at this share of the allocation; <= 0: 95 */
    long usage_slowdown_max_ms; /* pause before each call at 100% usage; <= 0: 2000 */
    int64_t describe_ttl_ms;    /* revalidate cached describes after this; <= 0: 300000 */
    struct crm_retry_policy retry;
    struct token_store *store; /* borrowed; may be NULL (rotated tokens then live in memory) */
    /* the pool of the budget shared by every instance (borrowed; crm/shared_budget.h), NULL:
     * none; org_id keys it ("salesforce:<org>", NULL or "": "salesforce:default") */
    struct db_pool *budget_pool;
    const char *org_id;
};

/* Options from the configuration (SALESFORCE_*); pointers borrow from cfg. */
void salesforce_client_options_from_config(struct salesforce_client_options *o,
                                           const struct config *cfg, struct token_store *store);

struct salesforce_client;

/* NULL with err when no flow is configured completely (JWT: client id, username, key; refresh:
 * client id, client secret and a refresh token in options or the store; or a static session) or
 * the JWT key does not load. Strings are copied. Caller frees with salesforce_client_destroy(). */
struct salesforce_client *salesforce_client_create(const struct salesforce_client_options *o,
                                                   char *err, size_t errlen);
void salesforce_client_destroy(struct salesforce_client *sc);

/* Token endpoint calls that produced a session so far (tests). */
unsigned long salesforce_client_token_refreshes(struct salesforce_client *sc);
/* The last api-usage USED/MAX seen (0 before any answer). */
double salesforce_client_api_usage(struct salesforce_client *sc);

struct crm_call_stats;
/* The client's call counters (borrowed; lives as long as the client); they also hold the last
 * api-usage USED/MAX seen. */
struct crm_call_stats *salesforce_client_stats(struct salesforce_client *sc);
/* The share (%) of the org's daily allocation at which every instance stops (0 for NULL). */
int salesforce_client_daily_max_percent(const struct salesforce_client *sc);

/* ---- describe ---- */

/* A cached describe: the normalised object (sync/crm_schema.h, built with
 * sf_object_from_describe()) and the document it came from. Both live until the last
 * salesforce_describe_release(); look fields up with sf_object_field() (case-insensitive). */
struct salesforce_describe {
    const struct sf_object *object;
    json_object *raw; /* the describe document as returned */
};

/* The describe of sobject, from the cache when fresh; a stale entry is revalidated with
 * If-Modified-Since (304 keeps it). *out stays valid until salesforce_describe_release(). */
int salesforce_describe(struct salesforce_client *sc, struct crm_http *h, const char *sobject,
                        const struct salesforce_describe **out, struct crm_error *err);
void salesforce_describe_release(const struct salesforce_describe *d);
/* Drops the cached describe of sobject (NULL: all), e.g. after a metadata change. */
void salesforce_describe_invalidate(struct salesforce_client *sc, const char *sobject);
/* Parses a describe document (exposed for tests). NULL when sf_object_from_describe() rejects
 * it. Caller releases. */
const struct salesforce_describe *salesforce_describe_parse(json_object *doc);

/* ---- single records ---- */

/* GET sobjects/T/{id}?fields=...; *out is the record object (caller puts). */
int salesforce_record_get(struct salesforce_client *sc, struct crm_http *h, const char *sobject,
                          const char *id, const char *const *fields, size_t nfields,
                          json_object **out, struct crm_error *err);
/* POST sobjects/T; *id_out (heap, caller frees) receives the new id. */
int salesforce_record_create(struct salesforce_client *sc, struct crm_http *h, const char *sobject,
                             json_object *fields, char **id_out, struct crm_error *err);
/* PATCH sobjects/T/{id}. if_unmodified_since (HTTP date, may be NULL) makes it conditional: a
 * record changed since answers 412 (permanent, code PRECONDITION_FAILED). */
int salesforce_record_update(struct salesforce_client *sc, struct crm_http *h, const char *sobject,
                             const char *id, json_object *fields, const char *if_unmodified_since,
                             struct crm_error *err);
int salesforce_record_delete(struct salesforce_client *sc, struct crm_http *h, const char *sobject,
                             const char *id, struct crm_error *err);
/* PATCH sobjects/T/{ext_field}/{ext_value}: 201 created, 200/204 updated, 300 (several matches) a
 * permanent MULTIPLE_CHOICES error. "Id" and ext_field are left out of the body. *id_out (may be
 * NULL; heap) gets the id when Salesforce tells it (not on 204). */
int salesforce_record_upsert(struct salesforce_client *sc, struct crm_http *h, const char *sobject,
                             const char *ext_field, const char *ext_value, json_object *fields,
                             char **id_out, bool *created, struct crm_error *err);

/* ---- sObject Collections ---- */

struct salesforce_record_input {
    const char *id;      /* update: record id; upsert: external id value; create: NULL */
    json_object *fields; /* borrowed */
};

int salesforce_collection_create(struct salesforce_client *sc, struct crm_http *h,
                                 const char *sobject, const struct salesforce_record_input *in,
                                 size_t n, bool all_or_none, struct crm_batch_result *out,
                                 struct crm_error *err);
int salesforce_collection_update(struct salesforce_client *sc, struct crm_http *h,
                                 const char *sobject, const struct salesforce_record_input *in,
                                 size_t n, bool all_or_none, struct crm_batch_result *out,
                                 struct crm_error *err);
int salesforce_collection_upsert(struct salesforce_client *sc, struct crm_http *h,
                                 const char *sobject, const char *ext_field,
                                 const struct salesforce_record_input *in, size_t n,
                                 bool all_or_none, struct crm_batch_result *out,
                                 struct crm_error *err);
int salesforce_collection_delete(struct salesforce_client *sc, struct crm_http *h,
                                 const char *const *ids, size_t n, bool all_or_none,
                                 struct crm_batch_result *out, struct crm_error *err);

/* ---- SOQL ---- */

struct salesforce_query_page {
    long long total_size;
    bool done;
    char *next_records_url; /* NULL when done */
    json_object *records;   /* array (owned) */
};

/* First page of soql (queryAll when include_deleted). Caller frees with
 * salesforce_query_page_free(). */
int salesforce_query(struct salesforce_client *sc, struct crm_http *h, const char *soql,
                     bool include_deleted, struct salesforce_query_page *out,
                     struct crm_error *err);
/* The page at next_records_url (as returned in the previous page). */
int salesforce_query_more(struct salesforce_client *sc, struct crm_http *h,
                          const char *next_records_url, struct salesforce_query_page *out,
                          struct crm_error *err);
/* SELECT COUNT() ...: the totalSize. */
int salesforce_query_count(struct salesforce_client *sc, struct crm_http *h, const char *soql,
                           long long *count, struct crm_error *err);
void salesforce_query_page_free(struct salesforce_query_page *p);

/* ---- change windows ---- */

struct salesforce_updated {
    char **ids;
    size_t n;
    char latest_date_covered[40];
};

struct salesforce_deleted_record {
    char *id;
    char deleted_date[40];
};

struct salesforce_deleted {
    struct salesforce_deleted_record *records;
    size_t n;
    char earliest_date_available[40];
    char latest_date_covered[40];
};

/* sobjects/T/updated/?start=&end= (ISO 8601). Start the next window at latest_date_covered. */
int salesforce_get_updated(struct salesforce_client *sc, struct crm_http *h, const char *sobject,
                           const char *start, const char *end, struct salesforce_updated *out,
                           struct crm_error *err);
int salesforce_get_deleted(struct salesforce_client *sc, struct crm_http *h, const char *sobject,
                           const char *start, const char *end, struct salesforce_deleted *out,
                           struct crm_error *err);
void salesforce_updated_free(struct salesforce_updated *u);
void salesforce_deleted_free(struct salesforce_deleted *d);

/* ---- JWT (exposed for tests) ---- */

/* The signed RS256 assertion the JWT bearer flow sends (heap; caller frees), exp = now + 150 s. */
char *salesforce_jwt_assertion(struct salesforce_client *sc);

/* ---- global describe ---- */

/* GET sobjects: the global describe (every object of the org with its name, label and flags).
 * *out is the answer document, its "sobjects" member checked to be an array; caller puts it.
 * Not cached: the list changes when an admin adds an object, and only the setup wizard reads it. */
int salesforce_describe_global(struct salesforce_client *sc, struct crm_http *h, json_object **out,
                               struct crm_error *err);

/* ---- identity and versions (synkro doctor) ---- */

/* Who the credentials are: the org and the integration user synkro writes as (the user whose
 * changes the outbound message's flow should leave out, docs/DEPLOY.md 5.5). */
struct salesforce_identity {
    char org_id[19];
    char user_id[19];
};

/* The identity of the credentials, from the identity URL of the token answer
 * (https://login.salesforce.com/id/<org id>/<user id>); a call is made first so a token is
 * fetched. 1 with the org id in out (and the user id, or "" when the URL's last segment is not
 * one), 0 when unknown (a configured static token has no identity URL, or the URL names no org
 * id), -1 with err (an auth failure is CRM_ERR_AUTH). */
int salesforce_client_identity(struct salesforce_client *sc, struct crm_http *h,
                               struct salesforce_identity *out, struct crm_error *err);

/* GET /services/data: the org's API versions ([{"version":"62.0","url":...}], caller puts).
 * 0 or -1 with err. */
int salesforce_api_versions(struct salesforce_client *sc, struct crm_http *h, json_object **out,
                            struct crm_error *err);

/* The configured API version ("v62.0"); borrowed. */
const char *salesforce_client_api_version(const struct salesforce_client *sc);

/* The org's shared budget (borrowed), or NULL when the client has none. */
struct shared_budget *salesforce_client_shared_budget(struct salesforce_client *sc);

#endif
