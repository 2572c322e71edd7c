/* http.c: the HTTP transport: a libmicrohttpd daemon (one thread per connection) that collects each
 * request into a struct http_req, hands it to the router and writes back the struct http_resp.
 *
 * Owns the daemon and per-connection contexts (raw URI + body, capped at max_body_bytes: larger
 * bodies are drained and answered 413). Also holds the req/resp helpers declared in http.h. Must
 * not: interpret paths or bodies (router.c and the API modules do). */
#include "tests/crmsim/http.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "tests/crmsim/router.h"
#include "tests/crmsim/sim.h"

struct http_server {
    struct MHD_Daemon *daemon;
    struct sim *sim;
};

struct conn_ctx {
    char *uri;
    struct buf body;
    size_t max_body;
    bool too_large;
    bool headers_seen; /* the first call of a request only announces its headers */
};

/* ---- request/response helpers ---- */

json_object *http_req_json(const struct http_req *req, char *err, size_t errlen)
{
    if (!req->body || req->body_len == 0) {
        snprintf(err, errlen, "request body is empty; expected JSON");
        return NULL;
    }
    return json_parse_buf(req->body, req->body_len, NULL, err, errlen);
}

const char *http_param(const struct http_req *req, size_t i)
{
    return i < req->nparams ? req->params[i] : "";
}

void http_resp_json(struct http_resp *resp, int status, json_object *obj)
{
    size_t len = 0;
    char *s = json_to_heap(obj, &len);
    json_object_put(obj);
    http_resp_body(resp, status, "application/json;charset=UTF-8", s, len);
    free(s);
}

void http_resp_body(struct http_resp *resp, int status, const char *content_type, const char *body,
                    size_t len)
{
    resp->status = status;
    resp->body.len = 0;
    buf_append(&resp->body, body, len);
    snprintf(resp->content_type, sizeof resp->content_type, "%s", content_type);
}

void http_resp_empty(struct http_resp *resp, int status)
{
    resp->status = status;
    resp->body.len = 0;
    resp->content_type[0] = '\0';
}

void http_resp_header(struct http_resp *resp, const char *name, const char *value)
{
    for (size_t i = 0; i < resp->headers.n; i++) {
        if (util_streq_ci(resp->headers.items[i].key, name)) {
            free(resp->headers.items[i].value);
            resp->headers.items[i].value = xstrdup(value);
            return;
        }
    }
    kvlist_add(&resp->headers, name, value);
}

int http_req_parse_uri(struct http_req *req, const char *uri)
{
    const char *q = strchr(uri, '?');
    size_t plen = q ? (size_t)(q - uri) : strlen(uri);
    const char *hash = strchr(uri, '#');
    if (hash && (!q || hash < q))
        plen = (size_t)(hash - uri);
    req->path = xstrndup(uri, plen);
    if (q) {
        const char *qe = strchr(q + 1, '#');
        req->raw_query = xstrndup(q + 1, qe ? (size_t)(qe - q - 1) : strlen(q + 1));
    } else {
        req->raw_query = xstrdup("");
    }
    const char *p = req->path;
    while (*p) {
        while (*p == '/')
            p++;
        if (!*p)
            break;
        const char *e = strchr(p, '/');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        if (req->nseg >= HTTP_MAX_SEGMENTS)
            return -1;
        char *s = util_url_decode(p, n, false);
        if (!s)
            return -1;
        req->seg[req->nseg++] = s;
        p += n;
    }
    if (util_parse_form(req->raw_query, strlen(req->raw_query), &req->query) < 0)
        return -1;
    return 0;
}

void http_req_free(struct http_req *req)
{
    free(req->path);
    free(req->raw_query);
    for (size_t i = 0; i < req->nseg; i++)
        free(req->seg[i]);
    kvlist_free(&req->query);
    kvlist_free(&req->headers);
    free(req->body);
}

void http_resp_free(struct http_resp *resp)
{
    buf_free(&resp->body);
    kvlist_free(&resp->headers);
}

/* ---- libmicrohttpd glue ---- */

static enum MHD_Result collect_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                      const char *value)
{
    struct http_req *req = cls;
    if (req->headers.n < 200)
        kvlist_add(&req->headers, key, value ? value : "");
    return MHD_YES;
}

static void *on_uri(void *cls, const char *uri, struct MHD_Connection *con)
{
    struct sim *sim = cls;
    struct conn_ctx *ctx = xcalloc(1, sizeof *ctx);
    ctx->uri = xstrdup(uri ? uri : "/");
    pthread_mutex_lock(&sim->lock);
    ctx->max_body = (size_t)sim->cfg.max_body_bytes;
    pthread_mutex_unlock(&sim->lock);
    return ctx;
}

static void on_completed(void *cls, struct MHD_Connection *connection, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct conn_ctx *ctx = *con_cls;
    if (!ctx)
        return;
    free(ctx->uri);
    buf_free(&ctx->body);
    free(ctx);
    *con_cls = NULL;
}

static enum MHD_Result queue(struct MHD_Connection *connection, struct http_resp *resp)
{
    size_t len = 0;
    char *body = buf_detach(&resp->body, &len);
    struct MHD_Response *r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(body);
        return MHD_NO;
    }
    if (resp->content_type[0])
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, resp->content_type);
    for (size_t i = 0; i < resp->headers.n; i++)
        MHD_add_response_header(r, resp->headers.items[i].key, resp->headers.items[i].value);
    enum MHD_Result ret = MHD_queue_response(connection, (unsigned)resp->status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *connection, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    struct sim *sim = cls;
    struct conn_ctx *ctx = *con_cls;
    if (!ctx) {
        ctx = on_uri(sim, url, connection);
        *con_cls = ctx;
    }
    if (!ctx->headers_seen) {
        ctx->headers_seen = true;
        return MHD_YES;
    }
    if (*upload_data_size) {
        if (!ctx->too_large && ctx->body.len + *upload_data_size <= ctx->max_body)
            buf_append(&ctx->body, upload_data, *upload_data_size);
        else {
            ctx->too_large = true;
            buf_free(&ctx->body);
        }
        *upload_data_size = 0;
        return MHD_YES;
    }

    struct http_req req;
    struct http_resp resp;
    memset(&req, 0, sizeof req);
    memset(&resp, 0, sizeof resp);
    snprintf(req.method, sizeof req.method, "%s", method);
    MHD_get_connection_values(connection, MHD_HEADER_KIND, collect_header, &req);
    req.body = buf_detach(&ctx->body, &req.body_len);

    if (ctx->too_large) {
        router_reject(sim, &req, &resp, 413, "request body is larger than max_body_bytes");
    } else if (http_req_parse_uri(&req, ctx->uri) < 0) {
        router_reject(sim, &req, &resp, 400,
                      "malformed request URI (bad percent-escape or too many "
                      "path segments)");
    } else {
        router_dispatch(sim, &req, &resp);
    }
    enum MHD_Result ret = resp.drop ? MHD_NO : queue(connection, &resp);
    http_req_free(&req);
    http_resp_free(&resp);
    return ret;
}

struct http_server *http_server_start(struct sim *sim, const char *host, int port, int *bound_port,
                                      char *err, size_t errlen)
{
    struct sockaddr_in addr;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)port);
    if (strcmp(host, "localhost") == 0)
        host = "127.0.0.1";
    if (inet_pton(AF_INET, host, &addr.sin_addr) != 1) {
        snprintf(err, errlen, "listen address %s is not an IPv4 address", host);
        return NULL;
    }
    struct http_server *srv = xcalloc(1, sizeof *srv);
    srv->sim = sim;
    srv->daemon = MHD_start_daemon(
        MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL |
            MHD_USE_ERROR_LOG,
        0, NULL, NULL, on_request, sim, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
        MHD_OPTION_URI_LOG_CALLBACK, on_uri, sim, MHD_OPTION_NOTIFY_COMPLETED, on_completed, sim,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)128, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)300,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(256 * 1024), MHD_OPTION_END);
    if (!srv->daemon) {
        snprintf(err, errlen, "cannot listen on %s:%d (address in use or not permitted)", host,
                 port);
        free(srv);
        return NULL;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(srv->daemon, MHD_DAEMON_INFO_LISTEN_FD);
    struct sockaddr_in bound;
    socklen_t blen = sizeof bound;
    if (!info || getsockname(info->listen_fd, (struct sockaddr *)&bound, &blen) != 0) {
        snprintf(err, errlen, "cannot read the bound port");
        MHD_stop_daemon(srv->daemon);
        free(srv);
        return NULL;
    }
    *bound_port = ntohs(bound.sin_port);
    return srv;
}

void http_server_stop(struct http_server *srv)
{
    if (!srv)
        return;
    MHD_stop_daemon(srv->daemon);
    free(srv);
}
