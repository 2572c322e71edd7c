/* http_request.c: the request/response API of handlers (handlers/http_request.h) on top of
 * libmicrohttpd: header and query lookups, responses (copied, with the request id and no-store),
 * the JSON error body, the security headers of console and /api/... answers, the client address.
 *
 * Must not: know any endpoint, log, or keep state (the daemon in server/http.c owns the request).
 */
#include "handlers/http_request.h"
#include "base/clock.h"

#include "base/strbuf.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

int64_t http_now_ns(void)
{
    return clock_mono_ns();
}

const char *http_header(const struct http_request *req, const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

const char *http_query_arg(const struct http_request *req, const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, name);
}

char *http_error_body(const char *code, const char *message)
{
    struct strbuf sb = STRBUF_INIT;
    strbuf_puts(&sb, "{\"error\":{\"code\":\"");
    strbuf_json_escape(&sb, code, strlen(code));
    strbuf_puts(&sb, "\",\"message\":\"");
    strbuf_json_escape(&sb, message, strlen(message));
    strbuf_puts(&sb, "\"}}");
    if (sb.failed) {
        strbuf_free(&sb);
        return NULL;
    }
    return strbuf_detach(&sb, NULL);
}

const char *const http_security_headers[] = {
    "Content-Security-Policy",
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    "X-Frame-Options",
    "DENY",
    "Referrer-Policy",
    "no-referrer",
    "X-Content-Type-Options",
    "nosniff",
    NULL};

/* True when headers (name/value pairs) name header. */
static bool headers_have(const char *const *headers, const char *header)
{
    for (const char *const *h = headers; h && h[0] && h[1]; h += 2)
        if (strcasecmp(h[0], header) == 0)
            return true;
    return false;
}

int http_respond_with_headers(struct http_request *req, unsigned status, const char *content_type,
                              const char *body, size_t len, const char *const *headers)
{
    if (req->responded)
        return MHD_YES;
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(len, (void *)(uintptr_t)body, MHD_RESPMEM_MUST_COPY);
    if (!resp)
        return MHD_NO;
    if (content_type)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
    MHD_add_response_header(resp, "X-Request-Id", req->request_id);
    if (!headers_have(headers, "Cache-Control")) /* a handler may allow caching (assets) */
        MHD_add_response_header(resp, "Cache-Control", "no-store");
    for (const char *const *h = headers; h && h[0] && h[1]; h += 2)
        MHD_add_response_header(resp, h[0], h[1]);
    for (const char *const *h = http_security_headers; req->security_headers && h[0]; h += 2)
        if (!headers_have(headers, h[0]))
            MHD_add_response_header(resp, h[0], h[1]);
    enum MHD_Result rc = MHD_queue_response(req->conn, status, resp);
    MHD_destroy_response(resp);
    req->responded = true;
    req->status = status;
    req->response_bytes = len;
    return rc;
}

int http_suspend(struct http_request *req, void (*start)(struct http_request *req),
                 http_handler_fn resume)
{
    req->suspend_start = start; /* the daemon suspends, then calls it (server/http.c) */
    req->resume = resume;
    return MHD_YES;
}

void http_resume(struct http_request *req)
{
    MHD_resume_connection(req->conn);
}

int http_respond(struct http_request *req, unsigned status, const char *content_type,
                 const char *body, size_t len)
{
    return http_respond_with_headers(req, status, content_type, body, len, NULL);
}

int http_respond_json(struct http_request *req, unsigned status, struct json_object *obj)
{
    size_t len = 0;
    const char *text = json_object_to_json_string_length(
        obj, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
    if (!text)
        return http_respond_error(req, 500, "internal", "could not serialise the response");
    return http_respond(req, status, "application/json", text, len);
}

void http_set_error_code(struct http_request *req, const char *code)
{
    if (!code) {
        req->error_code = NULL;
        return;
    }
    snprintf(req->error_code_buf, sizeof req->error_code_buf, "%s", code);
    req->error_code = req->error_code_buf;
}

int http_respond_error(struct http_request *req, unsigned status, const char *code,
                       const char *message)
{
    char *body = http_error_body(code, message);
    if (!body)
        return MHD_NO;
    http_set_error_code(req, code);
    int rc = http_respond(req, status, "application/json", body, strlen(body));
    free(body);
    return rc;
}

void http_client_address(const struct http_request *req, char *out, size_t outlen)
{
    out[0] = '\0';
    const union MHD_ConnectionInfo *ci =
        req->conn ? MHD_get_connection_info(req->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS) : NULL;
    const struct sockaddr *sa = ci ? ci->client_addr : NULL;
    if (!sa)
        return;
    if (sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, out,
                  (socklen_t)outlen);
    else if (sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, out,
                  (socklen_t)outlen);
}
