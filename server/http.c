/* http.c: the libmicrohttpd daemon, request lifecycle and response helpers.
 *
 * Owns the daemons (the public listener, and the admin listener when
 * SYNKRO_ADMIN_LISTEN is set; both serve the one route table) and every
 * per-request context (struct http_request, from the URI-log callback to the
 * completion callback). Decides 404/405/413/415 and the admin plane's
 * 401/403 (handlers/session_auth.h) before a body is read; with an admin
 * listener, the public one answers 404 for ROUTE_ADMIN and ROUTE_CONSOLE
 * routes, and SYNKRO_CONSOLE=off answers 404 for ROUTE_CONSOLE ones; buffers at most
 * max_body_bytes; writes the access log and HTTP metrics on completion. Must not know any endpoint:
 * those live in the route table and handlers/. */
#include "server/http.h"
#include "server/http_guard.h"

#include "base/hexenc.h"
#include "base/log.h"
#include "base/metrics.h"
#include "server/routes.h"
#include "base/strbuf.h"
#include "handlers/session_auth.h"

#include <pthread.h>
#include <arpa/inet.h>
#include <microhttpd.h>
#include <netdb.h>
#include <openssl/rand.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

struct http_server {
    struct MHD_Daemon *daemon;
    struct app *app;
    enum http_plane plane;
    int port;
    bool quiesced;
    atomic_int inflight;
    struct http_guard *guard; /* deadlines, probe reserve (http_guard.h) */
    atomic_int suspended;     /* requests suspended by http_suspend, not yet resumed */
};

static struct metric_family *m_requests;
static struct metric_family *m_duration;

static struct metrics_once metrics_once;

static void http_metrics_init(void)
{
    static const char *const req_labels[] = {"route", "status"};
    static const char *const dur_labels[] = {"route"};
    static const double buckets[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                     0.1,    0.25,  0.5,    1,     2.5,  5,     10};
    m_requests =
        metrics_register(METRIC_COUNTER, "synkro_http_requests_total",
                         "HTTP requests answered, by route and status.", req_labels, 2, NULL, 0);
    m_duration = metrics_register(METRIC_HISTOGRAM, "synkro_http_request_duration_seconds",
                                  "Time from request line to response completion.", dur_labels, 1,
                                  buckets, sizeof buckets / sizeof buckets[0]);
}

/* A client-sent request id is echoed when it is short and plain; otherwise
 * a fresh random one is made. */
static void request_id_init(struct http_request *req)
{
    const char *given = http_header(req, "X-Request-Id");
    if (given) {
        size_t len = strlen(given);
        bool ok = len > 0 && len <= HTTP_REQUEST_ID_MAX;
        for (size_t i = 0; ok && i < len; i++) {
            char c = given[i];
            ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 c == '-' || c == '_' || c == '.' || c == ':';
        }
        if (ok) {
            memcpy(req->request_id, given, len + 1);
            return;
        }
    }
    unsigned char rnd[12];
    if (RAND_bytes(rnd, sizeof rnd) != 1) {
        int64_t t = http_now_ns();
        memcpy(rnd, &t, sizeof t);
        memset(rnd + sizeof t, 0, sizeof rnd - sizeof t);
    }
    hex_encode(rnd, sizeof rnd, req->request_id);
}

static void *on_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
    struct http_server *srv = cls;
    struct http_request *req = calloc(1, sizeof *req);
    if (!req)
        return NULL;
    req->start_ns = http_now_ns();
    req->app = srv->app;
    req->plane = srv->plane;
    req->raw_uri = strdup(uri ? uri : "/");
    if (!req->raw_uri) {
        free(req);
        return NULL;
    }
    size_t plen = strcspn(req->raw_uri, "?");
    req->path = strndup(req->raw_uri, plen);
    req->query = req->raw_uri[plen] == '?' ? req->raw_uri + plen + 1 : "";
    if (!req->path) {
        free(req->raw_uri);
        free(req);
        return NULL;
    }
    atomic_fetch_add(&srv->inflight, 1);
    return req;
}

/* Bytes of a refused body read and thrown away before giving up on it. */
#define HTTP_DRAIN_MAX (16u << 20)

static long long body_limit(const struct http_request *req)
{
    if (!req->route)
        return 0;
    return req->route->flags & ROUTE_NO_BODY ? 0 : req->app->cfg->max_body_bytes;
}

/* Answers with the decided error (see refuse). */
static int respond_refusal(struct http_request *req)
{
    const char *headers[] = {req->refusal_header[0] ? req->refusal_header : NULL,
                             req->refusal_header_value, NULL};
    char *body = http_error_body(req->refusal_code, req->refusal_message);
    http_set_error_code(req, req->refusal_code);
    int rc = http_respond_with_headers(req, req->refusal_status, "application/json",
                                       body ? body : "", body ? strlen(body) : 0, headers);
    free(body);
    return rc;
}

static bool request_has_body(const struct http_request *req)
{
    const char *te = http_header(req, MHD_HTTP_HEADER_TRANSFER_ENCODING);
    return req->body_declared > 0 || (te && *te);
}

/* Decides an error before the body is read. Without a body, or when the
 * client waits for 100-continue (it has sent nothing yet), or when the body
 * is too big to be worth reading, it is answered at once (the connection
 * then closes). Otherwise the body is drained, unbuffered, and the error is
 * answered after it, so the client reads the error rather than a reset. */
static int refuse(struct http_request *req, unsigned status, const char *code, const char *message,
                  const char *header, const char *header_value)
{
    req->refused = true;
    req->refusal_status = status;
    req->refusal_code = code;
    snprintf(req->refusal_message, sizeof req->refusal_message, "%s", message);
    snprintf(req->refusal_header, sizeof req->refusal_header, "%s", header ? header : "");
    snprintf(req->refusal_header_value, sizeof req->refusal_header_value, "%s",
             header_value ? header_value : "");
    free(req->body);
    req->body = NULL;
    req->body_len = 0;
    const char *expect = http_header(req, MHD_HTTP_HEADER_EXPECT);
    if (!request_has_body(req) || (expect && strcasecmp(expect, "100-continue") == 0) ||
        req->body_declared > HTTP_DRAIN_MAX)
        return respond_refusal(req);
    return MHD_YES;
}

static int refuse_too_large(struct http_request *req)
{
    return refuse(req, 413, "payload_too_large",
                  "the request body is larger than this endpoint accepts", NULL, NULL);
}

/* Whether the matched route is served on the listener the request came in on. */
static bool route_on_this_plane(const struct http_request *req)
{
    const struct config *cfg = req->app->cfg;
    unsigned flags = req->route->flags;
    if (flags & ROUTE_CONSOLE && !cfg->console)
        return false;
    bool admin_plane_apart = cfg->admin_listen && *cfg->admin_listen;
    return !(admin_plane_apart && req->plane == HTTP_PLANE_PUBLIC &&
             flags & (ROUTE_ADMIN | ROUTE_CONSOLE));
}

/* Authorises an admin route (bearer token or session cookie + CSRF). True when refused, with
 * the refusal's result in *rc. */
static bool refuse_unauthorised(struct http_request *req, int *rc)
{
    char err[256] = "";
    switch (http_authorize(req, err, sizeof err)) {
    case AUTH_ALLOW_BEARER:
    case AUTH_ALLOW_SESSION:
        return false;
    case AUTH_UNAUTHORIZED:
        *rc = refuse(req, 401, "unauthorized",
                     "send Authorization: Bearer <admin or user token>, or sign in to the "
                     "console again (POST /api/session)",
                     "WWW-Authenticate", "Bearer");
        return true;
    case AUTH_CSRF:
        *rc = refuse(req, 403, "csrf",
                     "a request with the session cookie that changes something needs the "
                     "X-CSRF-Token header (its value is in GET /api/session)",
                     NULL, NULL);
        return true;
    case AUTH_UNAVAILABLE:
        break;
    }
    char msg[256];
    snprintf(msg, sizeof msg, "the session store is unavailable (%s); try again shortly", err);
    *rc = refuse(req, 503, "unavailable", msg, NULL, NULL);
    return true;
}

/* First call for a request: everything that can be decided from the headers. */
static int request_begin(struct http_request *req)
{
    request_id_init(req);
    req->security_headers = strncmp(req->path, "/api/", 5) == 0;
    const char *cl = http_header(req, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (cl) {
        char *end;
        unsigned long long v = strtoull(cl, &end, 10);
        req->body_declared = *end == '\0' ? (size_t)v : 0;
    }
    size_t nroutes;
    const struct route *table = routes_table(&nroutes);
    struct route_match m;
    enum route_result rr = route_find(table, nroutes, req->method, req->path, &m);
    if (rr == ROUTE_NOT_FOUND)
        return refuse(req, 404, "not_found", "no such endpoint", NULL, NULL);
    if (rr == ROUTE_METHOD_NOT_ALLOWED)
        return refuse(req, 405, "method_not_allowed", "this endpoint does not accept that method",
                      "Allow", m.allow);
    req->route = m.route;
    memcpy(req->params, m.params, sizeof req->params);
    req->nparams = m.nparams;
    if (!(req->route->flags & ROUTE_PROBE) && http_guard_reserved(req->conn))
        return refuse(req, 503, "too_many_connections",
                      "synkro has reached its connection limit; retry in a few seconds",
                      "Connection", "close");
    if (req->route->flags & (ROUTE_ADMIN | ROUTE_CONSOLE))
        req->security_headers = true;

    if (!route_on_this_plane(req))
        return refuse(req, 404, "not_found", "no such endpoint", NULL, NULL);
    if (req->body_declared > (size_t)body_limit(req))
        return refuse_too_large(req);
    if (req->route->flags & ROUTE_ADMIN) {
        int rc;
        if (refuse_unauthorised(req, &rc))
            return rc;
    }
    if (!route_content_type_ok(req->route, http_header(req, MHD_HTTP_HEADER_CONTENT_TYPE))) {
        struct strbuf msg = STRBUF_INIT;
        strbuf_puts(&msg, "Content-Type must be one of:");
        for (const char *const *t = req->route->content_types; *t; t++)
            strbuf_printf(&msg, " %s", *t);
        int rc = refuse(req, 415, "unsupported_media_type",
                        msg.failed ? "unsupported Content-Type" : strbuf_str(&msg), NULL, NULL);
        strbuf_free(&msg);
        return rc;
    }
    return MHD_YES;
}

static int request_body_chunk(struct http_request *req, const char *data, size_t size)
{
    if (!req->refused && req->body_len + size > (size_t)body_limit(req))
        refuse_too_large(req); /* drains from here on */
    if (req->refused) {
        req->body_discarded += size;
        if (req->body_discarded > HTTP_DRAIN_MAX)
            return respond_refusal(req);
        return MHD_YES;
    }
    size_t want = req->body_len + size + 1;
    if (req->body_declared >= want && req->body_declared <= (size_t)body_limit(req))
        want = req->body_declared + 1; /* one allocation for the whole body */
    char *p = realloc(req->body, want);
    if (!p)
        return MHD_NO;
    req->body = p;
    memcpy(req->body + req->body_len, data, size);
    req->body_len += size;
    req->body[req->body_len] = '\0';
    return MHD_YES;
}

/* The handler called http_suspend: suspends the connection, then starts the work that will
 * resume it (after the suspension, so that a quick http_resume never comes first); the next
 * call of on_request for this connection runs req->resume. */
static enum MHD_Result suspend_request(struct http_server *srv, struct http_request *req)
{
    void (*start)(struct http_request *) = req->suspend_start;
    req->suspend_start = NULL;
    atomic_fetch_add(&srv->suspended, 1);
    MHD_suspend_connection(req->conn);
    start(req);
    return MHD_YES;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    struct http_request *req = *con_cls;
    if (!req)
        return MHD_NO; /* allocation failed in on_uri: drop the connection */
    if (!req->conn) {
        req->conn = conn;
        req->method = method;
        return request_begin(req) == MHD_YES ? MHD_YES : MHD_NO;
    }
    if (*upload_data_size > 0) {
        size_t size = *upload_data_size;
        *upload_data_size = 0;
        if (req->responded)
            return MHD_YES;
        return request_body_chunk(req, upload_data, size) == MHD_YES ? MHD_YES : MHD_NO;
    }
    http_guard_request_received(conn); /* its deadline stops: the request is whole */
    if (req->responded)
        return MHD_YES;
    if (req->refused)
        return respond_refusal(req) == MHD_YES ? MHD_YES : MHD_NO;
    if (!req->body) {
        req->body = calloc(1, 1);
        if (!req->body)
            return MHD_NO;
    }
    http_handler_fn handler = req->route->handler;
    if (req->resume) {
        handler = req->resume;
        req->resume = NULL;
        atomic_fetch_sub(&((struct http_server *)cls)->suspended, 1);
    }
    int rc = handler(req);
    if (req->suspend_start && !req->responded)
        return suspend_request(cls, req);
    if (!req->responded)
        rc = http_respond_error(req, 500, "internal", "the handler produced no response");
    return rc == MHD_YES ? MHD_YES : MHD_NO;
}

static void access_log(const struct http_request *req, double seconds)
{
    enum log_level lvl = req->status >= 500 ? LOG_LEVEL_WARN : LOG_LEVEL_INFO;
    if (!log_enabled(lvl))
        return;
    log_with(lvl, "http request", LF_S("method", req->method ? req->method : "?"),
             LF_S("path", req->path), LF_S("route", req->route ? req->route->name : "unmatched"),
             LF_I("status", req->status), LF_I("bytes", (long long)req->response_bytes),
             LF_I("body_bytes", (long long)req->body_len), LF_D("duration_ms", seconds * 1000.0),
             LF_S("request_id", req->request_id), LF_S("error", req->error_code));
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct http_server *srv = cls;
    struct http_request *req = *con_cls;
    if (conn)
        http_guard_request_done(conn); /* the next request's deadline starts */
    if (!req)
        return;
    *con_cls = NULL;
    double seconds = (double)(http_now_ns() - req->start_ns) / 1e9;
    if (req->conn) {
        char status[8];
        snprintf(status, sizeof status, "%u", req->status);
        const char *route = req->route ? req->route->name : "unmatched";
        const char *labels[] = {route, status};
        metrics_add(m_requests, labels, 1);
        metrics_observe(m_duration, labels, seconds);
        access_log(req, seconds);
    }
    /* resumed by the writer, but the client was gone before the handler ran again: the resume
     * handler never ran, so it never took the request off the suspended count */
    if (req->resume)
        atomic_fetch_sub(&srv->suspended, 1);
    if (req->handler_state_free)
        req->handler_state_free(req->handler_state);
    free(req->body);
    free(req->path);
    free(req->raw_uri);
    free(req);
    atomic_fetch_sub(&srv->inflight, 1);
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t len = strlen(msg);
    while (len && (msg[len - 1] == '\n' || msg[len - 1] == '\r'))
        msg[--len] = '\0';
    if (http_guard_daemon_message(msg))
        return; /* a per-address refusal: counted, logged at most every 10 s */
    log_with(LOG_LEVEL_WARN, "http daemon", LF_S("detail", msg));
}

static int resolve_listen(const char *listen, const char *host, int listen_port,
                          struct sockaddr_storage *ss, bool *v6, char *err, size_t errlen)
{
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    char port[8];
    snprintf(port, sizeof port, "%d", listen_port);
    int rc = getaddrinfo(host, port, &hints, &res);
    if (rc != 0 || !res) {
        snprintf(err, errlen, "cannot resolve listen address %s: %s", listen, gai_strerror(rc));
        return -1;
    }
    memset(ss, 0, sizeof *ss);
    memcpy(ss, res->ai_addr, res->ai_addrlen);
    *v6 = res->ai_family == AF_INET6;
    freeaddrinfo(res);
    return 0;
}

/* libmicrohttpd's own limit, split evenly between its worker threads; a worker at its share
 * refuses new connections with the same message as the per-address limit. Connections are not
 * spread evenly (one worker may accept a whole burst), so each worker's share must hold
 * everything the guard admits (the limit plus the probe reserve; beyond, http_guard_accept closes
 * new connections at once) plus a margin for connections still closing: then only the guard and
 * the per-address limit refuse. With 4 workers and a 20-connection guard, a share of 10 let one
 * worker refuse admitted connections while others had room (it_http_flood saw no eviction). */
static unsigned mhd_connection_limit(const struct config *cfg)
{
    unsigned admitted = (unsigned)cfg->http_max_connections + (unsigned)cfg->http_probe_reserve;
    unsigned share = admitted + admitted / 4 + 4;
    return share * (unsigned)(cfg->http_threads > 0 ? cfg->http_threads : 1);
}

/* Raises the soft limit of open files toward what the connection limit needs (plus the database
 * pool, logs and the like), as far as the hard limit allows: without it a flood ends in accept()
 * failing with EMFILE, a log line each, instead of the guard's quick refusals. */
static void raise_open_files(unsigned connections)
{
    struct rlimit rl;
    rlim_t want = (rlim_t)connections + 256;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= want)
        return;
    rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > want ? want : rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
        log_with(LOG_LEVEL_WARN, "cannot raise the open-files limit",
                 LF_I("wanted", (long long)want));
}

struct http_server *http_server_start(struct app *app, enum http_plane plane, char *err,
                                      size_t errlen)
{
    const struct config *cfg = app->cfg;
    bool admin = plane == HTTP_PLANE_ADMIN;
    const char *listen = admin ? cfg->admin_listen : cfg->listen;
    int listen_port = admin ? cfg->admin_listen_port : cfg->listen_port;
    struct sockaddr_storage ss;
    bool v6 = false;
    if (resolve_listen(listen, admin ? cfg->admin_listen_host : cfg->listen_host, listen_port, &ss,
                       &v6, err, errlen) < 0)
        return NULL;
    struct http_server *srv = calloc(1, sizeof *srv);
    if (!srv) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    srv->app = app;
    srv->plane = plane;
    metrics_once_run(&metrics_once, http_metrics_init);
    struct http_guard_options gopt = {cfg->http_max_connections, cfg->http_probe_reserve,
                                      cfg->http_request_deadline_s, admin ? "admin" : "public"};
    srv->guard = http_guard_start(&gopt);
    if (!srv->guard) {
        snprintf(err, errlen, "cannot start the connection guard (out of memory or threads)");
        free(srv);
        return NULL;
    }
    raise_open_files(mhd_connection_limit(cfg));
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME |
                     MHD_USE_ERROR_LOG | (v6 ? MHD_USE_IPv6 : 0);
    /* the logger first, so that MHD reports option errors through it too */
    srv->daemon = MHD_start_daemon(
        flags, 0, &http_guard_accept, srv->guard, &on_request, srv, MHD_OPTION_EXTERNAL_LOGGER,
        &on_mhd_log, NULL, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
        MHD_OPTION_THREAD_POOL_SIZE, (unsigned)cfg->http_threads, MHD_OPTION_CONNECTION_LIMIT,
        mhd_connection_limit(cfg), MHD_OPTION_PER_IP_CONNECTION_LIMIT,
        (unsigned)cfg->http_max_connections_per_ip, MHD_OPTION_NOTIFY_CONNECTION,
        &http_guard_notify, srv->guard, MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned)cfg->http_timeout_s, MHD_OPTION_URI_LOG_CALLBACK, &on_uri, srv,
        MHD_OPTION_NOTIFY_COMPLETED, &on_completed, srv, MHD_OPTION_LISTENING_ADDRESS_REUSE, 1,
        MHD_OPTION_END);
    if (!srv->daemon) {
        snprintf(err, errlen, "cannot listen on %s (address in use or not permitted)", listen);
        http_guard_stop(srv->guard);
        free(srv);
        return NULL;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(srv->daemon, MHD_DAEMON_INFO_BIND_PORT);
    srv->port = info ? info->port : listen_port;
    return srv;
}

int http_server_port(const struct http_server *srv)
{
    return srv->port;
}

int http_server_inflight(const struct http_server *srv)
{
    return atomic_load(&((struct http_server *)(uintptr_t)srv)->inflight);
}

void http_server_quiesce(struct http_server *srv)
{
    if (srv->quiesced)
        return;
    srv->quiesced = true;
    /* MHD stops polling the socket but leaves it open; close it now so new
     * connections are refused instead of queueing in the backlog. */
    MHD_socket fd = MHD_quiesce_daemon(srv->daemon);
    if (fd != MHD_INVALID_SOCKET)
        close(fd);
}

#define HTTP_SUSPENDED_WAIT_MS 30000LL

int http_server_stop(struct http_server *srv, int grace_ms)
{
    if (!srv)
        return 0;
    http_server_quiesce(srv);
    int64_t deadline = http_now_ns() + (int64_t)grace_ms * 1000000LL;
    while (atomic_load(&srv->inflight) > 0 && http_now_ns() < deadline) {
        struct timespec ts = {0, 10 * 1000000L};
        nanosleep(&ts, NULL);
    }
    int left = atomic_load(&srv->inflight);
    /* a suspended request's events are in the writer's hands, which resumes it: stopping the
     * daemon now would free what the writer still uses; its wait is bounded by the pool and
     * statement timeouts, so wait for it past the grace period (at most HTTP_SUSPENDED_WAIT_MS);
     * a suspended request is always in flight, so none is left once nothing is */
    deadline = http_now_ns() + HTTP_SUSPENDED_WAIT_MS * 1000000LL;
    while (atomic_load(&srv->suspended) > 0 && atomic_load(&srv->inflight) > 0 &&
           http_now_ns() < deadline) {
        struct timespec ts = {0, 10 * 1000000L};
        nanosleep(&ts, NULL);
    }
    MHD_stop_daemon(srv->daemon);
    http_guard_stop(srv->guard);
    free(srv);
    return left;
}
