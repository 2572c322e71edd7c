/* http_guard.c: per-connection request deadlines, the probe reserve and quick refusal of
 * connections beyond it (see http_guard.h for the rules).
 *
 * Owns one slot per open connection (from libmicrohttpd's STARTED to its CLOSED notification)
 * and the sweeper thread. Why cutting from another thread is safe: the sweeper only calls
 * shutdown(2) on a slot's socket while holding the lock, and a slot leaves the list (under the
 * same lock) in the CLOSED notification, which libmicrohttpd sends before it closes the socket; so
 * the descriptor shut down is always still the connection's, never a reused number. shutdown
 * leaves the descriptor to libmicrohttpd, whose event loop then sees the hang-up and closes the
 * connection as if the client had gone (its completion callback runs as usual).
 * Must not: close a socket, or block the daemon's threads for more than the list lock. */
#include "server/http_guard.h"

#include "base/clock.h"
#include "base/log.h"
#include "base/metrics.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

struct conn_slot {
    int fd;
    bool reserved;                 /* opened beyond the limit: probes only */
    bool cut;                      /* shut down by the sweeper (under lock) */
    int64_t period_ns;             /* time allowed for one request */
    _Atomic int64_t deadline_ns;   /* monotonic; 0 while its request is handled */
    struct conn_slot *prev, *next; /* guarded by lock */
};

struct http_guard {
    struct http_guard_options opt;
    /* connections between STARTED and CLOSED, less those already cut: served normally, and
     * in the probe reserve */
    atomic_int live;
    atomic_int live_reserved;
    /* the same two counts as gauges (synkro_http_connections_open{plane,slot}) */
    struct metric_series *open_normal, *open_reserved;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    struct conn_slot *head; /* guarded by lock */
    bool stop;              /* guarded by lock */
    pthread_t sweeper;
};

/* How often the sweeper looks for connections past their deadline. */
#define GUARD_SWEEP_MS 250
/* A waiting connection may be evicted for a new one once it has waited this long. */
#define GUARD_EVICT_AGE_NS (1000 * 1000000LL)
/* At most one log line per reason this often (the counts are in the metric). */
#define GUARD_LOG_EVERY_NS (10 * 1000000000LL)

static struct metric_family *m_refused;
static struct metric_family *m_cut;
static struct metric_family *m_open;
static struct metrics_once metrics_once;

static void guard_metrics_init(void)
{
    static const char *const labels[] = {"reason"};
    m_refused = metrics_register(
        METRIC_COUNTER, "synkro_http_connections_refused_total",
        "Connections closed as soon as accepted: reason=limit (beyond SYNKRO_HTTP_MAX_CONNECTIONS "
        "plus the probe reserve), reason=address (SYNKRO_HTTP_MAX_CONNECTIONS_PER_IP).",
        labels, 1, NULL, 0);
    m_cut = metrics_register(METRIC_COUNTER, "synkro_http_connections_cut_total",
                             "Connections shut down because their request was not received whole "
                             "within SYNKRO_HTTP_REQUEST_DEADLINE_S (reason=deadline) or within "
                             "the probe reserve's deadline (reason=reserve), or, at the "
                             "connection limit, the longest-waiting one to admit a new one "
                             "(reason=evicted).",
                             labels, 1, NULL, 0);
    static const char *const open_labels[] = {"plane", "slot"};
    m_open = metrics_register(METRIC_GAUGE, "synkro_http_connections_open",
                              "Connections open now, per listener: slot=normal (counted against "
                              "SYNKRO_HTTP_MAX_CONNECTIONS) and slot=reserve (the probe reserve).",
                              open_labels, 2, NULL, 0);
}

/* Counts a connection into or out of its slot kind (the atomic count and its gauge). */
static void live_add(struct http_guard *g, bool reserved, int d)
{
    metrics_series_add(reserved ? g->open_reserved : g->open_normal, d);
    atomic_fetch_add(reserved ? &g->live_reserved : &g->live, d);
}

/* A log line for a repeated event: the first one, then one per GUARD_LOG_EVERY_NS with how
 * many happened since the last line. */
struct log_gate {
    pthread_mutex_t lock;
    int64_t last_ns;
    long long since;
};

static bool log_gate_pass(struct log_gate *g, long long n, long long *count)
{
    int64_t now = clock_mono_ns();
    pthread_mutex_lock(&g->lock);
    g->since += n;
    bool pass = g->last_ns == 0 || now - g->last_ns >= GUARD_LOG_EVERY_NS;
    if (pass) {
        *count = g->since;
        g->since = 0;
        g->last_ns = now;
    }
    pthread_mutex_unlock(&g->lock);
    return pass;
}

static struct log_gate address_gate = {PTHREAD_MUTEX_INITIALIZER, 0, 0};
static struct log_gate limit_gate = {PTHREAD_MUTEX_INITIALIZER, 0, 0};
static struct log_gate cut_gate = {PTHREAD_MUTEX_INITIALIZER, 0, 0};
static struct log_gate evict_gate = {PTHREAD_MUTEX_INITIALIZER, 0, 0};

/* Shuts a slot's connection down (under lock); libmicrohttpd closes it on its next turn. The
 * cut is counted first (reason: "deadline", "reserve" or "evicted"), so whoever sees the
 * connection close also sees it in /metrics. */
static void slot_cut(struct http_guard *g, struct conn_slot *s, const char *reason)
{
    const char *labels[] = {reason};
    metrics_add(m_cut, labels, 1);
    shutdown(s->fd, SHUT_RDWR);
    s->cut = true;
    live_add(g, s->reserved, -1);
}

static void count_refused(const char *reason, struct log_gate *gate, const char *what)
{
    const char *labels[] = {reason};
    metrics_add(m_refused, labels, 1);
    long long n;
    if (log_gate_pass(gate, 1, &n))
        log_with(LOG_LEVEL_WARN, what, LF_S("reason", reason), LF_I("refused_since_last", n));
}

/* The time a connection has for each request: the deadline, shorter in the probe reserve. */
static int64_t period_ns(const struct http_guard *g, bool reserved)
{
    int64_t ms = (int64_t)g->opt.deadline_s * 1000;
    if (reserved && ms > HTTP_GUARD_RESERVE_DEADLINE_MS)
        ms = HTTP_GUARD_RESERVE_DEADLINE_MS;
    return ms * 1000000LL;
}

/* One pass: shuts down every connection past its deadline. */
static void sweep(struct http_guard *g)
{
    int64_t now = clock_mono_ns();
    long long cut[2] = {0, 0}; /* deadline, reserve */
    pthread_mutex_lock(&g->lock);
    for (struct conn_slot *s = g->head; s; s = s->next) {
        int64_t d = atomic_load(&s->deadline_ns);
        if (s->cut || d == 0 || now < d)
            continue;
        slot_cut(g, s, s->reserved ? "reserve" : "deadline");
        cut[s->reserved]++;
    }
    pthread_mutex_unlock(&g->lock);
    long long n;
    if ((cut[0] || cut[1]) && log_gate_pass(&cut_gate, cut[0] + cut[1], &n))
        log_with(LOG_LEVEL_WARN, "connections cut: request not received by its deadline",
                 LF_I("cut_since_last", n), LF_I("deadline_s", g->opt.deadline_s));
}

static void *sweeper_main(void *arg)
{
    struct http_guard *g = arg;
    pthread_mutex_lock(&g->lock);
    while (!g->stop) {
        struct timespec until = clock_deadline_after_ms(GUARD_SWEEP_MS);
        pthread_cond_timedwait(&g->wake, &g->lock, &until);
        if (g->stop)
            break;
        pthread_mutex_unlock(&g->lock);
        sweep(g);
        pthread_mutex_lock(&g->lock);
    }
    pthread_mutex_unlock(&g->lock);
    return NULL;
}

struct http_guard *http_guard_start(const struct http_guard_options *opt)
{
    metrics_once_run(&metrics_once, guard_metrics_init);
    struct http_guard *g = calloc(1, sizeof *g);
    if (!g)
        return NULL;
    g->opt = *opt;
    const char *normal[] = {opt->plane ? opt->plane : "public", "normal"};
    const char *reserve[] = {opt->plane ? opt->plane : "public", "reserve"};
    g->open_normal = metrics_series(m_open, normal);
    g->open_reserved = metrics_series(m_open, reserve);
    pthread_mutex_init(&g->lock, NULL);
    pthread_cond_init(&g->wake, NULL);
    if (pthread_create(&g->sweeper, NULL, sweeper_main, g) != 0) {
        pthread_mutex_destroy(&g->lock);
        pthread_cond_destroy(&g->wake);
        free(g);
        return NULL;
    }
    return g;
}

void http_guard_stop(struct http_guard *g)
{
    if (!g)
        return;
    pthread_mutex_lock(&g->lock);
    g->stop = true;
    pthread_cond_signal(&g->wake);
    pthread_mutex_unlock(&g->lock);
    pthread_join(g->sweeper, NULL);
    /* the daemon has stopped: every connection got its CLOSED notification */
    pthread_mutex_destroy(&g->lock);
    pthread_cond_destroy(&g->wake);
    free(g);
}

/* At the limit: cuts the connection that has waited longest for its request (idle keep-alive
 * or slow sender; never one whose request is being handled), if it has waited a second. */
static bool evict_oldest_waiting(struct http_guard *g)
{
    int64_t now = clock_mono_ns();
    struct conn_slot *oldest = NULL;
    int64_t oldest_since = now - GUARD_EVICT_AGE_NS;
    pthread_mutex_lock(&g->lock);
    for (struct conn_slot *s = g->head; s; s = s->next) {
        int64_t d = atomic_load(&s->deadline_ns);
        if (s->cut || s->reserved || d == 0 || d - s->period_ns > oldest_since)
            continue;
        oldest = s;
        oldest_since = d - s->period_ns;
    }
    if (oldest)
        slot_cut(g, oldest, "evicted");
    pthread_mutex_unlock(&g->lock);
    if (!oldest)
        return false;
    long long n;
    if (log_gate_pass(&evict_gate, 1, &n))
        log_with(LOG_LEVEL_WARN,
                 "connection limit reached: closed the longest-waiting idle or slow connection",
                 LF_I("evicted_since_last", n));
    return true;
}

enum MHD_Result http_guard_accept(void *cls, const struct sockaddr *addr, socklen_t addrlen)
{
    (void)addr;
    (void)addrlen;
    struct http_guard *g = cls;
    if (atomic_load(&g->live) < g->opt.max_connections || evict_oldest_waiting(g))
        return MHD_YES;
    if (atomic_load(&g->live_reserved) < g->opt.probe_reserve)
        return MHD_YES; /* joins the probe reserve */
    count_refused("limit", &limit_gate,
                  "connection refused: connection limit and probe reserve "
                  "are full");
    return MHD_NO;
}

static void slot_open(struct http_guard *g, struct MHD_Connection *conn, void **socket_context)
{
    struct conn_slot *s = calloc(1, sizeof *s);
    if (!s)
        return; /* unguarded: only the idle timeout applies */
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    s->fd = ci ? ci->connect_fd : -1;
    /* normal unless the limit is reached (an eviction in http_guard_accept made room) */
    if (atomic_fetch_add(&g->live, 1) >= g->opt.max_connections) {
        atomic_fetch_sub(&g->live, 1);
        s->reserved = true;
        live_add(g, true, 1);
    } else {
        metrics_series_add(g->open_normal, 1);
    }
    s->period_ns = period_ns(g, s->reserved);
    atomic_store(&s->deadline_ns, s->fd >= 0 ? clock_mono_ns() + s->period_ns : 0);
    pthread_mutex_lock(&g->lock);
    s->next = g->head;
    if (g->head)
        g->head->prev = s;
    g->head = s;
    pthread_mutex_unlock(&g->lock);
    *socket_context = s;
}

static void slot_close(struct http_guard *g, void **socket_context)
{
    struct conn_slot *s = *socket_context;
    if (!s)
        return;
    pthread_mutex_lock(&g->lock);
    if (s->prev)
        s->prev->next = s->next;
    else
        g->head = s->next;
    if (s->next)
        s->next->prev = s->prev;
    if (!s->cut)
        live_add(g, s->reserved, -1);
    pthread_mutex_unlock(&g->lock);
    *socket_context = NULL;
    free(s);
}

void http_guard_notify(void *cls, struct MHD_Connection *conn, void **socket_context,
                       enum MHD_ConnectionNotificationCode code)
{
    struct http_guard *g = cls;
    if (code == MHD_CONNECTION_NOTIFY_STARTED)
        slot_open(g, conn, socket_context);
    else if (code == MHD_CONNECTION_NOTIFY_CLOSED)
        slot_close(g, socket_context);
}

static struct conn_slot *slot_of(struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci ? ci->socket_context : NULL;
}

bool http_guard_reserved(struct MHD_Connection *conn)
{
    struct conn_slot *s = slot_of(conn);
    return s && s->reserved;
}

void http_guard_request_received(struct MHD_Connection *conn)
{
    struct conn_slot *s = slot_of(conn);
    if (s)
        atomic_store(&s->deadline_ns, 0);
}

void http_guard_request_done(struct MHD_Connection *conn)
{
    struct conn_slot *s = slot_of(conn);
    if (!s || s->fd < 0)
        return;
    atomic_store(&s->deadline_ns, clock_mono_ns() + s->period_ns);
}

bool http_guard_daemon_message(const char *msg)
{
    static const char limit_msg[] = "Server reached connection limit";
    if (strncmp(msg, limit_msg, sizeof limit_msg - 1) != 0)
        return false;
    count_refused("address", &address_gate,
                  "connection refused: too many connections from one address");
    return true;
}
