/* http_guard.h: what keeps the HTTP daemon answering under a connection flood (issue 14).
 *
 * Three rules, all enforced here through libmicrohttpd's callbacks:
 *  - a deadline for receiving each whole request (headers and body), counted from when the
 *    connection opened or its previous answer was sent: the idle timeout alone is reset by every
 *    byte, so a client sending one byte a second would keep its connection forever;
 *  - at SYNKRO_HTTP_MAX_CONNECTIONS, a new connection takes the place of the one that has waited
 *    longest (at least 1 s) for its request to arrive: idle keep-alive or slow senders, never one
 *    whose request is being handled;
 *  - when none can be evicted, a reserve of connections beyond the limit for health probes: a
 *    connection opened then may ask only for a probe route (/healthz, /readyz, /metrics),
 *    anything else gets 503 at once, and it is cut after a short deadline;
 *  - beyond limit + reserve, a new connection is closed at once (not left in the listen backlog,
 *    where /healthz used to wait behind the flood).
 * The per-address limit is libmicrohttpd's own (MHD_OPTION_PER_IP_CONNECTION_LIMIT); its refusals
 * are counted here from the daemon's log message.
 *
 * Must not: know routes or handlers (http.c asks reserved() and decides), or touch a connection's
 * socket other than shutting it down at its deadline. */
#ifndef SYNKRO_SERVER_HTTP_GUARD_H
#define SYNKRO_SERVER_HTTP_GUARD_H

#include <microhttpd.h>
#include <stdbool.h>
#include <sys/socket.h>

struct http_guard_options {
    int max_connections; /* connections served normally */
    int probe_reserve;   /* more connections, for probes only */
    int deadline_s;      /* to receive one whole request */
    const char *plane;   /* the listener's name in the open-connections gauge: "public", "admin" */
};

/* How long a connection in the probe reserve may take for its request, in milliseconds. */
#define HTTP_GUARD_RESERVE_DEADLINE_MS 2000

struct http_guard;

/* Starts the deadline sweeper thread. NULL when out of memory or threads. */
struct http_guard *http_guard_start(const struct http_guard_options *opt);
/* Stops the sweeper and frees the guard; call after the daemon has stopped. */
void http_guard_stop(struct http_guard *g);

/* libmicrohttpd callbacks (cls: the guard). */
enum MHD_Result http_guard_accept(void *cls, const struct sockaddr *addr, socklen_t addrlen);
void http_guard_notify(void *cls, struct MHD_Connection *conn, void **socket_context,
                       enum MHD_ConnectionNotificationCode code);

/* True when conn was opened beyond the connection limit (probe reserve). */
bool http_guard_reserved(struct MHD_Connection *conn);
/* The request of conn has been received whole (the deadline stops) / answered (the deadline for
 * the next request starts). */
void http_guard_request_received(struct MHD_Connection *conn);
void http_guard_request_done(struct MHD_Connection *conn);

/* Recognises libmicrohttpd's "connection limit" message (a per-address refusal): counts it and
 * logs the first one, then at most one line every 10 s with how many came since. True when msg
 * was that message (the caller must not log it again). */
bool http_guard_daemon_message(const char *msg);

#endif
