/* http_request.c: the request/response API of handlers (handlers/http_request.h) on top of
 * libmicrohttpd: header and query lookups, responses (copied, with the request id and no-store),
 * the JSON error body, the admin-token check.
 *
 * Must not: know any endpoint, log, or keep state (the daemon in server/http.c owns the request).
 */
#include "handlers/http_request.h"
#include "base/clock.h"

#include "base/secret.h"
#include "base/strbuf.h"

#include <microhttpd.h>
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
    bool own_cache_control = false; /* a handler's Cache-Control replaces the no-store default */
    for (const char *const *h = headers; h && h[0] && h[1]; h += 2)
        own_cache_control |= strcasecmp(h[0], "Cache-Control") == 0;
    if (!own_cache_control)
        MHD_add_response_header(resp, "Cache-Control", "no-store");
    for (const char *const *h = headers; h && h[0] && h[1]; h += 2)
        MHD_add_response_header(resp, h[0], h[1]);
    enum MHD_Result rc = MHD_queue_response(req->conn, status, resp);
    MHD_destroy_response(resp);
    req->responded = true;
    req->status = status;
    req->response_bytes = len;
    return rc;
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

int http_respond_error(struct http_request *req, unsigned status, const char *code,
                       const char *message)
{
    char *body = http_error_body(code, message);
    if (!body)
        return MHD_NO;
    req->error_code = code;
    int rc = http_respond(req, status, "application/json", body, strlen(body));
    free(body);
    return rc;
}

bool http_admin_authorized(const struct http_request *req)
{
    const char *auth = http_header(req, MHD_HTTP_HEADER_AUTHORIZATION);
    if (!auth || strncasecmp(auth, "Bearer ", 7) != 0)
        return false;
    return secret_equal(auth + 7, req->app->cfg->admin_token);
}
