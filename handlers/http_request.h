/* http_request.h: what a request handler sees of an HTTP request and how it answers: the
 * request (method, raw path and query, body, route parameters, request id, the app), header and
 * query lookups, the response helpers, the security headers and the client address.
 *
 * The daemon that fills struct http_request and sends what handlers queue is server/http.c;
 * handlers include only this header, so they never see the daemon. Handlers run on the daemon's
 * threads and may block (on the database); they answer with exactly one http_respond* call.
 * Must not: know any endpoint or hold state of its own. */
#ifndef SYNKRO_HANDLERS_HTTP_REQUEST_H
#define SYNKRO_HANDLERS_HTTP_REQUEST_H

#include "handlers/app.h"

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HTTP_MAX_PARAMS     4
#define HTTP_REQUEST_ID_MAX 64

struct route;
struct MHD_Connection;

/* Which listener a request arrived on (server/http.c). */
enum http_plane { HTTP_PLANE_PUBLIC = 0, HTTP_PLANE_ADMIN = 1 };

/* How the request was authorised (handlers/session_auth.c). */
enum http_auth_via { HTTP_AUTH_NONE = 0, HTTP_AUTH_BEARER, HTTP_AUTH_SESSION };

struct http_request {
    struct MHD_Connection *conn;
    struct app *app;
    const struct route *route;
    const char *method;
    char *raw_uri;     /* path?query exactly as received (owned) */
    char *path;        /* raw path, without the query (owned) */
    const char *query; /* raw query after '?', "" when none (points into raw_uri) */
    char *body;        /* NUL-terminated; body_len excludes the NUL (owned) */
    size_t body_len;
    size_t body_declared;  /* Content-Length, when sent */
    size_t body_discarded; /* bytes of a refused body drained */
    /* an error decided from the headers, answered once the body is drained */
    bool refused;
    unsigned refusal_status;
    const char *refusal_code;
    char refusal_message[256];
    char refusal_header[32];
    char refusal_header_value[128];
    bool responded;
    unsigned status;
    size_t response_bytes;
    char request_id[HTTP_REQUEST_ID_MAX + 1];
    char params[HTTP_MAX_PARAMS][128]; /* {name} path segments, decoded */
    size_t nparams;
    int64_t start_ns;
    const char *error_code; /* for the access log: NULL, or error_code_buf (http_set_error_code) */
    char error_code_buf[48];
    /* http_suspend: run after the connection is suspended / once resumed (see below) */
    void (*suspend_start)(struct http_request *req);
    int (*resume)(struct http_request *req);
    void *handler_state;                  /* kept until the request completes */
    void (*handler_state_free)(void *st); /* called then, when set */
    enum http_plane plane;
    bool security_headers; /* console and /api/... answers: CSP, X-Frame-Options, ... */
    enum http_auth_via auth_via;
    char actor[64]; /* the authorised user ("admin" or a SYNKRO_USERS_FILE name); "" when none */
};

typedef int (*http_handler_fn)(struct http_request *req);

/* For a handler that waits on another thread (the ingest writer) without holding its daemon
 * thread: it returns http_suspend(req, start, resume) without answering. The connection is then
 * suspended (its thread serves other connections), start(req) runs, and whoever start hands the
 * work to calls http_resume(req) exactly once, from any thread; resume(req) then runs on a
 * daemon thread and answers. State both need goes in req->handler_state. */
int http_suspend(struct http_request *req, void (*start)(struct http_request *req),
                 http_handler_fn resume);
void http_resume(struct http_request *req);

/* Header lookup, case-insensitive. NULL when absent. */
const char *http_header(const struct http_request *req, const char *name);
/* Decoded query argument. NULL when absent. */
const char *http_query_arg(const struct http_request *req, const char *name);

/* Responses: each returns the libmicrohttpd result to return from the
 * handler. Bodies are copied. */
int http_respond(struct http_request *req, unsigned status, const char *content_type,
                 const char *body, size_t len);
int http_respond_json(struct http_request *req, unsigned status, struct json_object *obj);
/* {"error":{"code":code,"message":message}} */
int http_respond_error(struct http_request *req, unsigned status, const char *code,
                       const char *message);

/* Records the error code the access log shows for this request (copied: the caller's string may
 * live on its stack, and the log line is written when the request completes). */
void http_set_error_code(struct http_request *req, const char *code);
/* Like http_respond but with extra headers (name/value pairs, NULL-terminated). */
int http_respond_with_headers(struct http_request *req, unsigned status, const char *content_type,
                              const char *body, size_t len, const char *const *headers);

/* Builds the JSON error body (caller frees). Exposed for tests. */
char *http_error_body(const char *code, const char *message);

/* The client's IP address as text into out ("" when unknown). */
void http_client_address(const struct http_request *req, char *out, size_t outlen);

/* The headers every console and /api/... answer carries when req->security_headers is set
 * (name/value pairs, NULL-terminated): the contract's Content-Security-Policy, X-Frame-Options,
 * Referrer-Policy and X-Content-Type-Options. */
extern const char *const http_security_headers[];

/* Monotonic clock in nanoseconds. */
int64_t http_now_ns(void);

#endif
