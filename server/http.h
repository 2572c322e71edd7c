/* http.h: the HTTP front end on libmicrohttpd (the daemon; the request/response API that
 * handlers use is handlers/http_request.h).
 *
 * The daemon runs a thread pool with epoll, a connection limit and a
 * per-connection timeout. For each request it: resolves the route before any
 * body arrives (so 404/405/413/415 are answered without buffering), buffers
 * the body up to the limit, calls the handler, and on completion writes one
 * JSON access-log line and records metrics. Handlers run on the daemon's
 * threads and may block (on the database); they answer with exactly one
 * http_respond* call (handlers/http_request.h, the part handlers see). */
#ifndef SYNKRO_SERVER_HTTP_H
#define SYNKRO_SERVER_HTTP_H

#include "handlers/http_request.h"

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct http_server;

/* Starts a daemon: HTTP_PLANE_PUBLIC on cfg->listen, HTTP_PLANE_ADMIN on cfg->admin_listen.
 * NULL with err on failure. */
struct http_server *http_server_start(struct app *app, enum http_plane plane, char *err,
                                      size_t errlen);
/* The bound port (useful with port 0). */
int http_server_port(const struct http_server *srv);
/* Stops accepting new connections; in-flight requests continue. */
void http_server_quiesce(struct http_server *srv);
/* Waits up to grace_ms for in-flight requests, then stops the daemon and
 * frees it. Returns the number of requests still running at the deadline. */
int http_server_stop(struct http_server *srv, int grace_ms);
/* Requests currently being handled. */
int http_server_inflight(const struct http_server *srv);

#endif
