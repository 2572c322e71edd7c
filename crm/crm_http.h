/* crm_http.h: the HTTP layer shared by the CRM clients (libcurl), with metrics and retry timing.
 *
 * Owns struct crm_http: one libcurl easy handle per worker thread, reused across calls so
 * connections stay alive and TLS sessions are resumed. Each call applies the configured connect
 * and total timeouts, asks for gzip/deflate (CURLOPT_ACCEPT_ENCODING ""), sends
 * `User-Agent: synkro/<version>`, leaves proxies to libcurl's environment defaults, and collects
 * the status, body and response headers. Every call is counted in
 * synkro_crm_api_calls_total{crm,operation,status} (status "error" when no answer came) and
 * timed in synkro_crm_api_call_duration_seconds{crm,operation}.
 *
 * Also here: the retry policy (bounded attempts, exponential backoff with jitter, retry-after
 * waits with jitter) and small URL/form encoders the clients share.
 *
 * Threads: a struct crm_http belongs to one thread at a time (libcurl handles are not shareable).
 * Must not: log request bodies or headers (they carry tokens), retry by itself, or know either
 * CRM's formats. */
#ifndef SYNKRO_SYNC_CRM_HTTP_H
#define SYNKRO_SYNC_CRM_HTTP_H

#include "base/strbuf.h"
#include "crm/crm_error.h"

#include <stddef.h>
#include <stdint.h>

struct config;

struct crm_http_options {
    long timeout_ms;         /* total time of one call; <= 0: 30000 */
    long connect_timeout_ms; /* <= 0: 5000 */
    size_t max_body_bytes;   /* largest response accepted; 0: 64 MiB */
};

/* Options from the configuration (SYNKRO_CRM_TIMEOUT_MS, SYNKRO_CRM_CONNECT_TIMEOUT_MS). */
void crm_http_options_from_config(struct crm_http_options *o, const struct config *cfg);

struct crm_http;

/* Creates a handle for one worker thread (and initialises libcurl once per process). NULL with
 * err on failure. Caller frees with crm_http_destroy(). */
struct crm_http *crm_http_create(const struct crm_http_options *o, char *err, size_t errlen);
void crm_http_destroy(struct crm_http *h);

struct crm_http_request {
    enum crm_kind crm;
    const char *operation;      /* metric label: a fixed name such as "batch_create" */
    const char *method;         /* GET, POST, PATCH, PUT, DELETE */
    const char *url;            /* absolute */
    const char *const *headers; /* "Name: value" lines, NULL-terminated; may be NULL */
    const char *body;           /* NULL: no body */
    size_t body_len;
    const char *content_type; /* for a body; NULL: application/json */
};

struct crm_http_header {
    char *name; /* as received */
    char *value;
};

struct crm_http_response {
    long status;
    char *body; /* NUL-terminated (also when empty); caller frees with crm_http_response_free() */
    size_t body_len;
    struct crm_http_header *headers; /* of the final response */
    size_t nheaders;
    double seconds;
};

/* Performs one call. 0 when an HTTP answer arrived (whatever its status; resp filled), -1 when none
 * did (err: transient for connect failures and timeouts, permanent for bad URLs and oversized
 * answers; http_status 0). resp is always initialised, so free it either way. */
int crm_http_perform(struct crm_http *h, const struct crm_http_request *req,
                     struct crm_http_response *resp, struct crm_error *err);

/* The first header of that name (case-insensitive), or NULL. */
const char *crm_http_header(const struct crm_http_response *resp, const char *name);
void crm_http_response_free(struct crm_http_response *resp);

/* ---- retries ---- */

struct crm_retry_policy {
    int max_attempts;   /* calls per operation, the first included; <= 0: 5 */
    long base_delay_ms; /* first backoff; <= 0: 250 */
    long max_delay_ms;  /* cap of one backoff; <= 0: 20000 */
    long max_wait_ms;   /* a retry-after wait longer than this is not waited: the error is
                           returned for the caller to reschedule; <= 0: 60000 */
};

/* Fills unset members with the defaults above. */
void crm_retry_policy_normalize(struct crm_retry_policy *p);

/* How long to wait before the next try after `failures` failed tries (1 = the first failed), or -1
 * when the error should not be retried here (permanent, auth, attempts used up, or a
 * retry-after wait beyond max_wait_ms). Transient: exponential backoff with "equal jitter"
 * (half fixed, half random); retry-after: the wait plus up to 20% (at most 2 s) of jitter. */
long crm_retry_delay_ms(const struct crm_retry_policy *p, int failures, const struct crm_error *e);

/* A uniformly random value in [0, max] (thread-local generator seeded from OpenSSL). */
long crm_jitter_ms(long max);

/* Sleeps ms milliseconds (restarting after signals). */
void crm_sleep_ms(long ms);

/* ---- encoders ---- */

/* Appends s percent-encoded: everything but A-Z a-z 0-9 - . _ ~ is escaped. */
int crm_url_escape(struct strbuf *sb, const char *s);
/* Appends "key=value" (both escaped), preceded by '&' when sb is not empty. */
int crm_form_add(struct strbuf *sb, const char *key, const char *value);

#endif
