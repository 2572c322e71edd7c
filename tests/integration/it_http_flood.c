/* it_http_flood.c: connection floods against the real binary (issue 14): more idle connections
 * than SYNKRO_HTTP_MAX_CONNECTIONS (probes and webhooks still answer; the excess is refused at
 * once, not queued), the probe reserve, a slow sender cut at the request deadline although every
 * byte resets the idle timeout, and the per-address limit. Each test is bounded to a few seconds
 * with a small limit (16 connections, 3 s deadline). */
#include "harness.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#define LIMIT   16
#define RESERVE 4

struct fixture {
    struct harness_db db;
    struct harness_proc proc;
    int fds[256];
    int nfds;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    if (!f || harness_db_create(&f->db) != 0)
        return -1;
    signal(SIGPIPE, SIG_IGN);
    *state = f;
    return 0;
}

static void close_all(struct fixture *f)
{
    for (int i = 0; i < f->nfds; i++)
        if (f->fds[i] >= 0)
            close(f->fds[i]);
    f->nfds = 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    close_all(f);
    if (f->proc.pid > 0)
        harness_synkro_stop(&f->proc, SIGKILL, 2000);
    harness_db_drop(&f->db);
    free(f);
    return 0;
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Starts synkro with a per-address limit and a whole-request deadline (seconds). */
static void start_with(struct fixture *f, const char *per_ip, int deadline_s)
{
    char per_ip_env[64], deadline_env[64];
    snprintf(per_ip_env, sizeof per_ip_env, "SYNKRO_HTTP_MAX_CONNECTIONS_PER_IP=%s", per_ip);
    snprintf(deadline_env, sizeof deadline_env, "SYNKRO_HTTP_REQUEST_DEADLINE_S=%d", deadline_s);
    const char *env[] = {"SYNKRO_HTTP_THREADS=4",
                         "SYNKRO_HTTP_MAX_CONNECTIONS=16",
                         "SYNKRO_HTTP_PROBE_RESERVE=4",
                         deadline_env,
                         "SYNKRO_HTTP_TIMEOUT_S=60",
                         "HUBSPOT_CLIENT_SECRET=flood-test-secret-0123456789",
                         per_ip_env,
                         NULL};
    assert_int_equal(harness_synkro_start(&f->proc, f->db.url, env), 0);
}

static void start(struct fixture *f, const char *per_ip)
{
    start_with(f, per_ip, 3);
}

/* A TCP connection to synkro from source address src ("127.0.0.1", "127.0.0.2", ...). */
static int connect_from(const char *src, int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    inet_pton(AF_INET, src, &sa.sin_addr);
    if (bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        close(fd);
        return -1;
    }
    sa.sin_port = htons((uint16_t)port);
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static int hold(struct fixture *f, const char *src)
{
    int fd = connect_from(src, f->proc.port);
    assert_true(fd >= 0);
    assert_true(f->nfds < (int)(sizeof f->fds / sizeof f->fds[0]));
    f->fds[f->nfds++] = fd;
    return fd;
}

/* True when the server closed fd (EOF or reset) within timeout_ms. */
static bool closed_within(int fd, int timeout_ms)
{
    struct pollfd p = {fd, POLLIN, 0};
    if (poll(&p, 1, timeout_ms) <= 0)
        return false;
    char c;
    ssize_t n = recv(fd, &c, 1, MSG_DONTWAIT);
    return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
}

/* Sends one request with Connection: close on a new connection from src and reads the whole
 * answer (up to timeout_ms). Returns the HTTP status, 0 when none came; *ms: how long it took. */
static int raw_request(const char *src, int port, const char *method, const char *path,
                       const char *extra, const char *payload, int timeout_ms, int64_t *ms,
                       char *body, size_t bodylen)
{
    int64_t t0 = now_ms();
    int fd = connect_from(src, port);
    if (fd < 0)
        return 0;
    char req[2048];
    int len = snprintf(req, sizeof req,
                       "%s %s HTTP/1.1\r\nHost: localhost\r\n%sConnection: close\r\n\r\n%s", method,
                       path, extra ? extra : "", payload ? payload : "");
    if (send(fd, req, (size_t)len, MSG_NOSIGNAL) != len) {
        close(fd);
        return 0;
    }
    char buf[8192];
    size_t got = 0;
    while (got < sizeof buf - 1) {
        int left = (int)(timeout_ms - (now_ms() - t0));
        struct pollfd p = {fd, POLLIN, 0};
        if (left <= 0 || poll(&p, 1, left) <= 0)
            break;
        ssize_t n = recv(fd, buf + got, sizeof buf - 1 - got, 0);
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    close(fd);
    buf[got] = '\0';
    if (ms)
        *ms = now_ms() - t0;
    int status = 0;
    if (sscanf(buf, "HTTP/1.%*d %d", &status) != 1)
        return 0;
    const char *b = strstr(buf, "\r\n\r\n");
    if (body && bodylen)
        snprintf(body, bodylen, "%s", b ? b + 4 : "");
    return status;
}

/* Value of one series in /metrics (0 when absent). */
static double metric(struct fixture *f, const char *series)
{
    char url[256];
    snprintf(url, sizeof url, "%s/metrics", f->proc.base_url);
    struct harness_response r;
    assert_int_equal(harness_http("GET", url, NULL, NULL, 0, &r), 0);
    assert_int_equal(r.status, 200);
    double v = 0;
    const char *p = strstr(r.body, series);
    if (p && p[strlen(series)] == ' ')
        v = strtod(p + strlen(series) + 1, NULL);
    harness_response_free(&r);
    return v;
}

/* Waits (up to 5 s) until the daemon has seen every earlier connection close: the harness's
 * readiness probe, a test's own. A client closes first, and the daemon's thread notices in its
 * own time; a connection it has not yet seen close still holds a normal slot, and a flood started
 * meanwhile finds one slot fewer (which then frees by itself, so nothing needs evicting). The
 * gauge counts the /metrics request itself; its own close gets the 200 ms at the end. */
static void wait_connections_settled(struct fixture *f)
{
    const char *series = "synkro_http_connections_open{plane=\"public\",slot=\"normal\"}";
    double open = -1;
    for (int64_t t = now_ms(); now_ms() - t < 5000; harness_sleep_ms(50))
        if ((open = metric(f, series)) == 1)
            break;
    assert_true(open == 1);
    harness_sleep_ms(200);
}

static const char hubspot_body[] =
    "[{\"eventId\":1,\"subscriptionType\":\"contact.propertyChange\"}]";

/* A webhook from 127.0.0.1 (unsigned: when it reaches its handler, the answer is 401). */
static int webhook_status(struct fixture *f, int64_t *ms, char *body, size_t bodylen)
{
    char extra[256];
    snprintf(extra, sizeof extra, "Content-Type: application/json\r\nContent-Length: %zu\r\n",
             sizeof hubspot_body - 1);
    return raw_request("127.0.0.1", f->proc.port, "POST", "/webhooks/hubspot", extra, hubspot_body,
                       3000, ms, body, bodylen);
}

/* 3 x LIMIT idle connections: the limit and the reserve fill, the rest is closed at once; once
 * the idle ones have waited a second, /healthz, /readyz and a webhook each get in at once (the
 * first by evicting the longest-waiting idle connection), and everything works after the flood.
 * The request deadline is 10 s here so that no held connection is cut by it while the test runs
 * (a cut frees a slot, and then nothing needs evicting). */
static void test_idle_flood(void **state)
{
    struct fixture *f = *state;
    start_with(f, "0", 10);
    wait_connections_settled(f);
    int64_t t0 = now_ms();
    for (int i = 0; i < 3 * LIMIT; i++)
        hold(f, "127.0.0.1");
    int64_t held_at = now_ms();
    /* beyond limit + reserve: closed at once, not queued in the backlog. The daemon accepts and
     * refuses in its own threads, so under load the closes may lag the connects: wait for them
     * (up to 8 s; /metrics cannot be asked meanwhile, every slot is taken) */
    bool seen[3 * LIMIT] = {false};
    int closed = 0;
    for (int64_t t = now_ms(); now_ms() - t < 8000;) {
        for (int i = 0; i < f->nfds; i++)
            if (!seen[i] && closed_within(f->fds[i], 0)) {
                seen[i] = true;
                closed++;
            }
        if (closed >= 3 * LIMIT - LIMIT - RESERVE - 3)
            break;
        harness_sleep_ms(50);
    }
    harness_sleep_ms(100); /* and no more than those beyond the limit are closed */
    for (int i = 0; i < f->nfds; i++)
        if (!seen[i] && closed_within(f->fds[i], 0))
            closed++;
    /* the guard admits by an atomic count read before each connection is registered, so when
     * the daemon's threads accept side by side a few more than the limit may join the probe
     * reserve (and be cut after its 2 s): bounds allow the 4 threads' overlap; what must hold is
     * that most are refused at once and the limit's connections stay open */
    assert_true(closed >= 3 * LIMIT - LIMIT - RESERVE - 3);
    assert_true(f->nfds - closed >= LIMIT - 3);

    /* the idle connections have now waited more than a second */
    int64_t waited = now_ms() - held_at;
    if (waited < 1200)
        harness_sleep_ms((int)(1200 - waited));
    int64_t ms;
    char body[2048];
    assert_int_equal(raw_request("127.0.0.1", f->proc.port, "GET", "/healthz", NULL, NULL, 2000,
                                 &ms, body, sizeof body),
                     200);
    assert_true(ms < 1000);
    assert_int_equal(raw_request("127.0.0.1", f->proc.port, "GET", "/readyz", NULL, NULL, 2000, &ms,
                                 body, sizeof body),
                     200);
    assert_true(ms < 1000);
    assert_int_equal(webhook_status(f, &ms, body, sizeof body), 401);
    assert_non_null(strstr(body, "signature"));
    assert_true(ms < 1000);
    /* the normal slots hold the flood's connections less those evicted, and this request (and
     * maybe one whose close the daemon has not processed yet, which a next connection may have
     * evicted another for): so at most the limit, and at least one more than the limit less the
     * evictions (read after, so counting any this request made) */
    double open = metric(f, "synkro_http_connections_open{plane=\"public\",slot=\"normal\"}");
    double evicted = metric(f, "synkro_http_connections_cut_total{reason=\"evicted\"}");
    if (open > LIMIT || open < LIMIT + 1 - evicted)
        fail_msg("%g normal connections open after %g evictions", open, evicted);
    /* (closed may also count probe-reserve connections cut after 2 s on a slow run) */
    assert_true(metric(f, "synkro_http_connections_refused_total{reason=\"limit\"}") >=
                3 * LIMIT - LIMIT - RESERVE - 3);
    assert_true(metric(f, "synkro_http_connections_cut_total{reason=\"evicted\"}") >= 1);

    close_all(f);
    wait_connections_settled(f); /* and the gauge is back to this request alone */
    assert_int_equal(webhook_status(f, &ms, body, sizeof body), 401);
    assert_true(now_ms() - t0 < 15000);
    /* one log line for the refusals, not one per connection */
    char *log = harness_read_file(f->proc.err_path);
    assert_non_null(log);
    int lines = 0;
    for (const char *p = log; (p = strstr(p, "probe reserve are full")); p++)
        lines++;
    /* the first refusal, then at most one line per 10 s (a loaded machine may take that long) */
    assert_true(lines >= 1 && lines <= 1 + (now_ms() - t0) / 10000);
    free(log);
}

/* Fills the connection limit with fresh idle connections (none can be evicted for a second). */
static void fill_fresh(struct fixture *f)
{
    close_all(f);
    wait_connections_settled(f);
    for (int i = 0; i < LIMIT; i++)
        hold(f, "127.0.0.1");
    harness_sleep_ms(100); /* accepted, but far from a second old */
}

/* While every normal connection is fresh (none can be evicted yet), a new connection joins the
 * probe reserve: /healthz answers on it, a webhook gets 503 too_many_connections at once. */
static void test_probe_reserve(void **state)
{
    struct fixture *f = *state;
    start(f, "0");
    int64_t ms;
    char body[2048];
    fill_fresh(f);
    assert_int_equal(raw_request("127.0.0.1", f->proc.port, "GET", "/healthz", NULL, NULL, 2000,
                                 &ms, body, sizeof body),
                     200);
    assert_true(ms < 500);
    /* The guard admits by a count read before each connection is registered: when the last
     * fill connection and the next one are accepted side by side (a loaded machine may take more
     * than the fill's 100 ms), either of them may be the one that joins the reserve. A webhook
     * that was admitted as a normal connection that way answers 401; the fill is then redone. */
    int status = 0;
    for (int attempt = 0; attempt < 3 && status != 503; attempt++) {
        fill_fresh(f);
        status = webhook_status(f, &ms, body, sizeof body);
    }
    assert_int_equal(status, 503);
    assert_non_null(strstr(body, "\"too_many_connections\""));
    assert_true(ms < 500);
    /* the reserve's connections that send nothing are cut after 2 s (the normal ones after the
     * 3 s deadline): the first of the limit's and the extra connection to close is the reserve's */
    fill_fresh(f);
    hold(f, "127.0.0.1");
    int64_t t0 = now_ms();
    struct pollfd pfd[LIMIT + 1];
    int n = 0;
    for (int i = 0; i < f->nfds && n < LIMIT + 1; i++)
        pfd[n++] = (struct pollfd){f->fds[i], POLLIN, 0};
    assert_true(poll(pfd, (nfds_t)n, 4000) > 0);
    int64_t took = now_ms() - t0;
    bool one_closed = false;
    for (int i = 0; i < n; i++)
        if (pfd[i].revents && closed_within(pfd[i].fd, 0))
            one_closed = true;
    assert_true(one_closed);
    assert_true(took >= 1500 && took < 3500);
    /* the guard counts a cut before it shuts the socket down, so the close seen above is in the
     * metric already */
    assert_true(metric(f, "synkro_http_connections_cut_total{reason=\"reserve\"}") >= 1);
}

/* A sender that keeps every byte under the idle timeout (60 s here) is cut at the request
 * deadline (3 s) whether it is still in the headers or in the body; a prompt request on another
 * connection is not. */
static void test_slow_sender_cut_at_deadline(void **state)
{
    struct fixture *f = *state;
    start(f, "0");
    static const char *const heads[] = {
        "GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Slow: "
        "0123456789012345678901234567890123456789",
        "POST /webhooks/hubspot HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
        "Content-Length: 200\r\n\r\n"};
    for (size_t k = 0; k < 2; k++) {
        int fd = hold(f, "127.0.0.1");
        const char *h = heads[k];
        size_t sent = 0, len = strlen(h);
        if (k == 1) { /* the headers at once, then the body byte by byte */
            assert_int_equal(send(fd, h, len, MSG_NOSIGNAL), (ssize_t)len);
            sent = len;
        }
        int64_t t0 = now_ms();
        bool cut = false;
        while (now_ms() - t0 < 6000) {
            char c = sent < len ? h[sent] : '[';
            if (send(fd, &c, 1, MSG_NOSIGNAL) != 1 || closed_within(fd, 200)) {
                cut = true;
                break;
            }
            sent++;
        }
        int64_t took = now_ms() - t0;
        assert_true(cut);
        assert_true(took >= 2500 && took < 4500);
        int64_t ms;
        char body[256];
        assert_int_equal(raw_request("127.0.0.1", f->proc.port, "GET", "/healthz", NULL, NULL, 2000,
                                     &ms, body, sizeof body),
                         200);
    }
    assert_true(metric(f, "synkro_http_connections_cut_total{reason=\"deadline\"}") >= 2);
}

#define FLOODER "127.0.0.3"

/* SYNKRO_HTTP_MAX_CONNECTIONS_PER_IP=5: the sixth connection from FLOODER is closed at once,
 * another address still gets in, and FLOODER again once its connections close. */
static void test_per_address_limit(void **state)
{
    struct fixture *f = *state;
    /* held connections must stay held for the whole test: no deadline cuts them meanwhile (a
     * cut one frees a slot, and the next extra connection is then rightly let in) */
    start_with(f, "5", 60);
    /* the flooding address is one nobody else uses: the harness's own requests (its readiness
     * probe, /metrics) come from 127.0.0.1, and a probe connection the daemon has not yet seen
     * close would still count against that address, freeing a slot later in the test */
    for (int i = 0; i < 5; i++)
        hold(f, FLOODER);
    /* the daemon accepts in its own thread: under load the five may not all be in yet, so wait
     * (up to 10 s) until one more is refused; from then on every further one must be */
    int64_t first_refusal = now_ms();
    bool refusing = false;
    for (int i = 0; i < 20 && !refusing; i++)
        refusing = closed_within(hold(f, FLOODER), 500);
    assert_true(refusing);
    for (int i = 0; i < 10; i++) { /* closed as soon as the daemon's thread accepts it */
        int extra = hold(f, FLOODER);
        assert_true(closed_within(extra, 5000));
    }
    int64_t ms;
    char body[256];
    assert_int_equal(raw_request("127.0.0.2", f->proc.port, "GET", "/healthz", NULL, NULL, 2000,
                                 &ms, body, sizeof body),
                     200);
    assert_true(ms < 1000);
    assert_int_equal(raw_request(FLOODER, f->proc.port, "GET", "/healthz", NULL, NULL, 1000, &ms,
                                 body, sizeof body),
                     0);
    close_all(f);
    harness_sleep_ms(200);
    assert_int_equal(raw_request(FLOODER, f->proc.port, "GET", "/healthz", NULL, NULL, 2000, &ms,
                                 body, sizeof body),
                     200);
    assert_true(metric(f, "synkro_http_connections_refused_total{reason=\"address\"}") >= 10);
    char *log = harness_read_file(f->proc.err_path);
    assert_non_null(log);
    int lines = 0;
    for (const char *p = log; (p = strstr(p, "too many connections from one address")); p++)
        lines++;
    /* the first refusal, then at most one line per 10 s (a loaded machine may take that long) */
    assert_true(lines >= 1 && lines <= 1 + (now_ms() - first_refusal) / 10000);
    assert_null(strstr(log, "Server reached connection limit"));
    free(log);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_idle_flood, setup, teardown),
        cmocka_unit_test_setup_teardown(test_probe_reserve, setup, teardown),
        cmocka_unit_test_setup_teardown(test_slow_sender_cut_at_deadline, setup, teardown),
        cmocka_unit_test_setup_teardown(test_per_address_limit, setup, teardown),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    return rc;
}
