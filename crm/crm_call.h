/* crm_call.h: the one call loop every CRM API request goes through.
 *
 * One crm_call_run() is one operation: budget -> token -> perform -> parse -> classify, then on an
 * auth failure the token is refreshed once and the request sent again, and a retryable failure
 * (transient, retry-after) is waited out per the client's struct crm_retry_policy and sent again,
 * until it succeeds, fails for good, or the attempts run out. What differs between the CRMs is
 * data: a static const struct crm_call_hooks per client (its budget, its token cache, its URL
 * rule, its error parser and classification table, what it reads from every answer, its
 * secrets), given with the client as the hooks' ud.
 *
 * Guarantees, for both CRMs alike:
 *   - err->attempts counts the operation's HTTP requests (a failed token refresh returns the
 *     refresh's own error and count); err->operation names the operation on return.
 *   - an auth failure (CRM_ERR_AUTH) refreshes the token at most once per operation, and only
 *     when the hooks say the token can be refreshed (a static token cannot): a second auth
 *     failure is final.
 *   - a refused budget or a failed token fetch ends the operation at once, unretried (the
 *     caller reschedules; a budget error carries its retry_after_ms).
 *   - waits between tries come from crm_retry_delay_ms(): a retry-after wait is never shorter
 *     than the error's retry_after_ms, and one beyond max_wait_ms is not waited but returned.
 *   - every error answer is scrubbed of the access token and the client's secrets (hooks->scrub)
 *     before it is acted on or returned (a refresh scrubs its own errors); the Authorization
 *     line is wiped after each try.
 *
 * Threads: reentrant; each caller brings its own struct crm_http and struct crm_call. The hooks
 * do their own locking (token caches and budgets are shared by all threads).
 * Must not: log, know either CRM's formats, headers or URLs (the hooks do), or keep state
 * between calls. */
#ifndef SYNKRO_CRM_CRM_CALL_H
#define SYNKRO_CRM_CRM_CALL_H

#include "crm/crm_error.h"
#include "crm/crm_http.h"

#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>

struct crm_call_stats;
struct token_cache;
struct token_value;

/* One operation: what to send (in), what came back (out). */
struct crm_call {
    const char *operation; /* the metric label and err->operation, e.g. "batch_create" */
    const char *method;    /* GET, POST, PATCH, PUT, DELETE */
    /* absolute; or, when the hooks have resolve_url, what it resolves (Salesforce: the path
     * relative to /services/data/<version>/, or from the instance URL when it starts with '/') */
    const char *url;
    json_object *body;        /* borrowed; sent as plain JSON; NULL: no body */
    const char *extra_header; /* one more "Name: value" line (If-Modified-Since), or NULL */
    bool search;              /* a search call: the budget hook may take a search budget too */
    bool keep_error_body;     /* on failure, json gets the last error answer's body (batch calls
                                 read what it names) */
    /* out */
    int status;         /* HTTP status of the success answer (2xx, or 304 when accepted) */
    json_object *json;  /* the parsed answer (caller puts); NULL for an empty body */
    char validator[64]; /* Last-Modified, else Date, of the last answer ("" when none) */
};

/* What the loop asks of a CRM client. ud is the client given to crm_call_run(). Hooks marked
 * "may be NULL" are optional. */
struct crm_call_hooks {
    enum crm_kind crm;        /* the errors' CRM and the crm label of the call metrics */
    const char *name;         /* "HubSpot", "Salesforce": in the loop's own messages */
    bool accept_not_modified; /* a 304 is an answer (conditional GETs), not an error */
    /* The client's retry policy (bounded attempts, backoff, longest retry-after wait). */
    const struct crm_retry_policy *(*retry_policy)(void *ud);
    /* Before each try: takes (or waits for) the call budget. 0, or -1 with err filled: the
     * operation ends with that error. May be NULL. */
    int (*budget_acquire)(void *ud, const struct crm_call *c, struct crm_error *err);
    /* After an error answer has been classified: the budget's reaction (HubSpot pauses every
     * caller after a 429). May be NULL. */
    void (*budget_penalty)(void *ud, const struct crm_call *c, const struct crm_error *err);
    /* The client's token cache: before each try the loop takes a usable token from it
     * (token_cache_get with the caller's handle, which a refresh through the token endpoint
     * uses), and after an auth failure it invalidates that token's generation so the next try
     * refreshes (single-flight: one refresh for a wave of 401s). */
    struct token_cache *(*tokens)(void *ud);
    /* False when the token cannot be refreshed (a static token): an auth failure is final. */
    bool (*token_refreshable)(void *ud);
    /* The absolute URL of c->url for this token (heap; NULL when out of memory). NULL hook:
     * c->url is absolute. */
    char *(*resolve_url)(void *ud, const struct token_value *tok, const char *url);
    /* Every HTTP answer, success or not (e.g. Salesforce's API usage header). May be NULL. */
    void (*on_answer)(void *ud, const struct crm_http_response *resp);
    /* Fills err from an answer that is not a success: the CRM's error body parser, its
     * classification table and its retry-after headers. */
    void (*parse_error)(void *ud, const struct crm_http_response *resp, struct crm_error *err);
    /* Removes token and every secret of the client from err's texts. */
    void (*scrub)(void *ud, struct crm_error *err, const char *token);
    /* The client's call counters (crm/crm_call_stats.h): every answered request is counted, and a
     * rate-limit refusal (429, or REQUEST_LIMIT_EXCEEDED) is remembered with its policy and
     * wait. Only recorded, never consulted. May be NULL. */
    struct crm_call_stats *(*stats)(void *ud);
};

/* Runs the operation c through the loop above with the client ud and its hooks, on the
 * caller's handle h. Clears err first (crm, operation set). 0 with c->status and c->json (the
 * caller puts it), or -1 with err (a 2xx answer whose body is not JSON is a permanent
 * "invalid_json" error); on -1 c->json is NULL unless c->keep_error_body and the last answer was
 * an error with a JSON body. */
int crm_call_run(const struct crm_call_hooks *hooks, void *ud, struct crm_http *h,
                 struct crm_call *c, struct crm_error *err);

#endif
