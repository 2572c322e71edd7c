/* http.h: the request/response model shared by the transport (http.c), the router (router.c) and
 * handlers.
 *
 * Handlers receive a parsed struct http_req (decoded path segments, query, headers, raw body) and
 * fill a struct http_resp (status, body, content type, extra headers). The transport owns both and
 * frees them. Must not: hold libmicrohttpd types, so handlers stay testable and transport-agnostic.
 */
#ifndef SYNKRO_TESTS_CRMSIM_HTTP_H
#define SYNKRO_TESTS_CRMSIM_HTTP_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>

#include "tests/crmsim/util.h"

struct sim;
struct route;

#define HTTP_MAX_SEGMENTS 16
#define HTTP_MAX_PARAMS   6

/* Who is calling an API route, filled by the router's auth step. */
struct http_caller {
    bool authenticated;
    char principal[256]; /* HubSpot rate-limit key */
    int64_t app_id;      /* HubSpot app of the token (webhook sourceId) */
    char sf_version[16]; /* "v58.0" from /services/data/v58.0/... */
    int sf_version_major;
};

struct http_req {
    char method[12];
    char *path;                   /* raw (still percent-encoded) path */
    char *raw_query;              /* raw query string without '?', "" when none */
    char *seg[HTTP_MAX_SEGMENTS]; /* percent-decoded path segments */
    size_t nseg;
    struct kvlist query;   /* decoded query parameters */
    struct kvlist headers; /* request headers as received */
    char *body;            /* NUL-terminated copy of the body */
    size_t body_len;
    const char *params[HTTP_MAX_PARAMS]; /* route {placeholders}, pointing into seg */
    size_t nparams;
    const struct route *route;
    struct http_caller caller;
};

struct http_resp {
    int status;
    struct buf body;
    char content_type[80];
    struct kvlist headers;
    bool drop; /* close the connection without answering (timeout fault) */
};

/* Body as a new JSON value or NULL with err filled (empty body, invalid JSON). Caller puts. */
json_object *http_req_json(const struct http_req *req, char *err, size_t errlen);
/* Route placeholder i (0-based). */
const char *http_param(const struct http_req *req, size_t i);

/* Serialises obj (and puts it) as the response body with application/json;charset=UTF-8. */
void http_resp_json(struct http_resp *resp, int status, json_object *obj);
/* Sets a body with an explicit content type. */
void http_resp_body(struct http_resp *resp, int status, const char *content_type, const char *body,
                    size_t len);
/* Empty body (204, 304). */
void http_resp_empty(struct http_resp *resp, int status);
/* Adds (or replaces) a response header. */
void http_resp_header(struct http_resp *resp, const char *name, const char *value);

/* Parses the raw URI ("/a/b?x=1") into req->path/raw_query/seg/query. -1 on malformed escapes or
 * too many segments. */
int http_req_parse_uri(struct http_req *req, const char *uri);
void http_req_free(struct http_req *req);
void http_resp_free(struct http_resp *resp);

/* Starts the libmicrohttpd daemon on host:port (port 0 picks one). Returns an opaque server or NULL
 * with err; *bound_port receives the port. */
struct http_server *http_server_start(struct sim *sim, const char *host, int port, int *bound_port,
                                      char *err, size_t errlen);
void http_server_stop(struct http_server *srv);

#endif
