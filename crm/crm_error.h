/* crm_error.h: structured errors of CRM API calls, their classification, and per-input results.
 *
 * Owns struct crm_error (fixed-size, no heap: copy it, clear it, never free it), the classification
 * tables that turn an HTTP status plus the CRM's own error code into a class the retry logic acts
 * on, the parsers of both CRMs' error bodies, and struct crm_batch_result (one result per input of
 * a batch call, failures carrying their own crm_error).
 *
 * Design: classification is data (a table of rows per CRM: status range, code pattern, class, least
 * wait), searched first match wins; the parsers only extract fields. Message texts come from the
 * CRM and are kept as sent, minus any secret the caller scrubs out with crm_error_scrub().
 *
 * Must not: log, sleep, or touch the network. Pure and thread-safe (no shared state). */
#ifndef SYNKRO_SYNC_CRM_ERROR_H
#define SYNKRO_SYNC_CRM_ERROR_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>

enum crm_kind { CRM_HUBSPOT = 0, CRM_SALESFORCE = 1 };

/* "hubspot" / "salesforce" (metric labels, token-store keys). */
const char *crm_kind_name(enum crm_kind crm);

/* What a caller should do about an error. */
enum crm_error_class {
    CRM_ERR_NONE = 0,    /* no error */
    CRM_ERR_RETRY_AFTER, /* retry after at least retry_after_ms (rate limits, locks) */
    CRM_ERR_TRANSIENT,   /* retry with exponential backoff (5xx, timeouts, row locks) */
    CRM_ERR_AUTH,        /* refresh the access token and retry once */
    CRM_ERR_PERMANENT,   /* retrying the same request cannot succeed */
};

/* "none", "retry_after", "transient", "auth", "permanent". */
const char *crm_error_class_name(enum crm_error_class cls);

#define CRM_ERROR_MAX_FIELDS 16

struct crm_error {
    enum crm_kind crm;
    enum crm_error_class cls;
    int http_status;     /* 0: no HTTP answer (connect failure, timeout) or a client-side error */
    long retry_after_ms; /* CRM_ERR_RETRY_AFTER: least wait before the next try */
    int attempts;        /* HTTP calls made for this operation (0 when none) */
    char operation[48];  /* the client operation, e.g. "batch_create" */
    /* The CRM's own code: Salesforce errorCode, HubSpot category (errorType for 429), OAuth error.
     */
    char code[64];
    char sub_code[96]; /* HubSpot subCategory or errors[].code; Salesforce: unused */
    char message[512];
    char correlation_id[96];               /* HubSpot correlationId; Salesforce: none */
    char fields[CRM_ERROR_MAX_FIELDS][96]; /* Salesforce fields[], HubSpot context.propertyName */
    size_t nfields;
};

/* Empties e (cls CRM_ERR_NONE). Accepts NULL. */
void crm_error_clear(struct crm_error *e);

/* Fills e with a client-side or transport error: message from fmt; code may be NULL. Accepts a
 * NULL e (the error is dropped). */
void crm_error_set(struct crm_error *e, enum crm_kind crm, enum crm_error_class cls,
                   int http_status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

/* Adds a field name (deduplicated; silently drops names beyond CRM_ERROR_MAX_FIELDS). */
void crm_error_add_field(struct crm_error *e, const char *name);

/* Replaces every occurrence of secret (when at least 4 bytes long) in the texts of e with "***". */
void crm_error_scrub(struct crm_error *e, const char *secret);

/* Writes one line: "hubspot batch_create: HTTP 400 VALIDATION_ERROR (INVALID_OPTION): <message>
 * [fields: a, b] [correlation id: X] [permanent]". Returns the length it wanted (snprintf style).
 */
int crm_error_format(const struct crm_error *e, char *buf, size_t len);

/* Looks up the class of (status, code) in crm's table. status 0 means no HTTP answer; code may
 * be NULL or empty. Never returns CRM_ERR_NONE. *min_wait_ms (may be NULL) receives the table's
 * least wait for CRM_ERR_RETRY_AFTER rows, else 0. */
enum crm_error_class crm_error_classify(enum crm_kind crm, int status, const char *code,
                                        long *min_wait_ms);

/* Response headers that refine a HubSpot error (each may be NULL). */
struct crm_hubspot_error_headers {
    const char *retry_after;      /* Retry-After (seconds): 477 */
    const char *rate_interval_ms; /* X-HubSpot-RateLimit-Interval-Milliseconds: 429 */
    const char *rate_remaining;   /* X-HubSpot-RateLimit-Remaining */
};

/* Fills e from a HubSpot error answer: status, body (may be NULL/empty/not JSON) and headers
 * (may be NULL). Classifies it and sets retry_after_ms: 429 waits the rate-limit interval
 * (10 s when absent; the time to the next UTC midnight for the DAILY policy), 477 the
 * Retry-After seconds, 423 at least 2 s. */
void crm_error_from_hubspot(struct crm_error *e, int status, const char *body, size_t len,
                            const struct crm_hubspot_error_headers *hdrs);

/* Fills e from one HubSpot error object (top-level body, or an entry of a batch's "errors"
 * array), without headers. status: the HTTP status the object came with (a per-input error's
 * own "status" member is not an HTTP status). */
void crm_error_from_hubspot_json(struct crm_error *e, int status, json_object *obj);

/* Fills e from one per-input error of a HubSpot batch answer (an entry of its "errors" array).
 * http_status is the status the error stands for, not the batch's 207: by its category
 * (OBJECT_NOT_FOUND 404, VALIDATION_ERROR 400, CONFLICT 409), else by a numeric "status" member,
 * else call_status. So an input whose record is gone reads like a 404 of its own. */
void crm_error_from_hubspot_item(struct crm_error *e, int call_status, json_object *obj);

/* True when text quotes id as a whole token: the bytes around it are not letters, digits, '_'
 * or '-', so "123" is named by "Object with id 123 not found" and "ids [123, 9]" but not by
 * "41234" or "2-123". False for an empty id or a NULL text. */
bool crm_text_names_id(const char *text, const char *id);

/* True when e says the record it concerns does not exist (any more): HTTP 404 of that input,
 * HubSpot OBJECT_NOT_FOUND (category or sub-category), Salesforce ENTITY_IS_DELETED / NOT_FOUND.
 * False for NULL. The one definition of "gone" for reads, writes, deletes and the sweep. */
bool crm_error_is_gone(const struct crm_error *e);

/* True when e is the client's own budget holding a call back (code "client_rate_limit": the
 * shared budget had no token in time, or a limit is paused after a refusal or a daily stop):
 * nothing reached the CRM, so a retry of the work is a wait, not a failed attempt. False for NULL.
 */
bool crm_error_is_hold_back(const struct crm_error *e);

/* Fills e from a Salesforce error answer: a JSON array [{"message","errorCode","fields"}], an
 * OAuth error {"error","error_description"}, or anything else (kept as the message, cut). */
void crm_error_from_salesforce(struct crm_error *e, int status, const char *body, size_t len);

/* Checks a CRM answer's type. When json is non-NULL and of type, hands it over to *out and returns
 * 0. Otherwise puts json, sets *out to NULL, fills err (CRM_ERR_PERMANENT, code "invalid_answer",
 * "the <what> answer is not a JSON <type name>", e.g. "object") and returns -1. Takes ownership of
 * json either way; err may be NULL. */
int crm_expect_json(json_object *json, json_type type, enum crm_kind crm, int status,
                    const char *what, json_object **out, struct crm_error *err);

/* Fills e from a Salesforce error list (array of {"statusCode"|"errorCode","message","fields"})
 * or one such object, e.g. the "errors" of one sObject Collections result. */
void crm_error_from_salesforce_json(struct crm_error *e, int status, json_object *errors);

/* ---- per-input results of batch calls ---- */

struct crm_batch_item {
    bool ok;
    bool created;        /* upserts: a new record was created */
    char *id;            /* the record id when known (heap) */
    json_object *record; /* HubSpot: the result object as returned (owned reference); else NULL */
    struct crm_error *error; /* when !ok (heap) */
};

/* items[i] answers input i of the call, whatever order the CRM answered in. */
struct crm_batch_result {
    struct crm_batch_item *items;
    size_t n;
    size_t nfailed;
};

/* Allocates n empty items (ok false, no error yet). 0, or -1 when out of memory. */
int crm_batch_result_init(struct crm_batch_result *r, size_t n);
/* Marks item i failed with a copy of e (replacing an earlier error). */
void crm_batch_item_fail(struct crm_batch_result *r, size_t i, const struct crm_error *e);
/* Marks item i succeeded; takes id (heap, may be NULL) and record (a reference, may be NULL). */
void crm_batch_item_succeed(struct crm_batch_result *r, size_t i, char *id, json_object *record,
                            bool created);
/* Marks items from..to-1 failed with a copy of e. When first is non-NULL (the caller's overall
 * error, on the first failed chunk), also copies e into *first, keeping first->attempts. */
void crm_batch_fail_range(struct crm_batch_result *r, size_t from, size_t to,
                          const struct crm_error *e, struct crm_error *first);
/* Frees every item and empties r. Accepts NULL and an already freed r. */
void crm_batch_result_free(struct crm_batch_result *r);

/* The array member key of an answer document. When it is missing or not an
 * array, puts doc, fills err (invalid_answer, message) and returns NULL;
 * otherwise the array, still owned by doc. */
json_object *crm_member_array(json_object *doc, const char *key, enum crm_kind crm, int status,
                              const char *message, struct crm_error *err);

#endif
