/* crm_http.c: one reusable libcurl easy handle per thread, call metrics, retry timing, encoders.
 *
 * Owns the per-thread handle and its response buffers, and registers the two CRM call metric
 * families (idempotently, at handle creation). curl_easy_reset() before each call clears the
 * previous call's options but keeps live connections, the TLS session cache and the DNS cache,
 * so keep-alive and session resumption work across calls of different shapes.
 * Must not: log anything of a request (headers carry bearer tokens, bodies carry data). */
#include "crm/crm_http.h"
#include "base/clock.h"

#include "base/config.h"
#include "base/metrics.h"
#include "version.h"

#include <curl/curl.h>
#include <errno.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define DEFAULT_MAX_BODY (64u * 1024u * 1024u)
#define MAX_HEADERS      128

struct crm_http {
    CURL *curl;
    struct crm_http_options opts;
    /* per-call state */
    struct strbuf body;
    struct crm_http_header *headers;
    size_t nheaders;
    int too_large;
    char errbuf[CURL_ERROR_SIZE];
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc = CURLE_OK;

static void curl_init_once(void)
{
    curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

void crm_http_options_from_config(struct crm_http_options *o, const struct config *cfg)
{
    memset(o, 0, sizeof *o);
    o->timeout_ms = cfg->crm_timeout_ms;
    o->connect_timeout_ms = cfg->crm_connect_timeout_ms;
}

static struct metric_family *m_calls, *m_duration;
static struct metrics_once metrics_once;

static void metrics_register_all(void)
{
    static const char *const call_labels[] = {"crm", "operation", "status"};
    static const char *const dur_labels[] = {"crm", "operation"};
    static const double buckets[] = {0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};
    m_calls = metrics_register(METRIC_COUNTER, "synkro_crm_api_calls_total",
                               "CRM API calls made, by CRM, operation and HTTP status "
                               "(\"error\": no answer).",
                               call_labels, 3, NULL, 0);
    m_duration = metrics_register(METRIC_HISTOGRAM, "synkro_crm_api_call_duration_seconds",
                                  "Duration of one CRM API call (one HTTP exchange).", dur_labels,
                                  2, buckets, sizeof buckets / sizeof buckets[0]);
}

struct crm_http *crm_http_create(const struct crm_http_options *o, char *err, size_t errlen)
{
    pthread_once(&curl_once, curl_init_once);
    if (curl_init_rc != CURLE_OK) {
        snprintf(err, errlen, "libcurl initialisation failed: %s",
                 curl_easy_strerror(curl_init_rc));
        return NULL;
    }
    struct crm_http *h = calloc(1, sizeof *h);
    if (!h) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    if (o)
        h->opts = *o;
    if (h->opts.timeout_ms <= 0)
        h->opts.timeout_ms = 30000;
    if (h->opts.connect_timeout_ms <= 0)
        h->opts.connect_timeout_ms = 5000;
    if (h->opts.max_body_bytes == 0)
        h->opts.max_body_bytes = DEFAULT_MAX_BODY;
    h->curl = curl_easy_init();
    if (!h->curl) {
        free(h);
        snprintf(err, errlen, "curl_easy_init failed");
        return NULL;
    }
    metrics_once_run(&metrics_once, metrics_register_all);
    return h;
}

static void clear_headers(struct crm_http *h)
{
    for (size_t i = 0; i < h->nheaders; i++) {
        free(h->headers[i].name);
        free(h->headers[i].value);
    }
    free(h->headers);
    h->headers = NULL;
    h->nheaders = 0;
}

void crm_http_destroy(struct crm_http *h)
{
    if (!h)
        return;
    curl_easy_cleanup(h->curl);
    strbuf_free(&h->body);
    clear_headers(h);
    free(h);
}

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *ud)
{
    struct crm_http *h = ud;
    size_t n = size * nmemb;
    if (h->body.len + n > h->opts.max_body_bytes) {
        h->too_large = 1;
        return 0; /* aborts the transfer */
    }
    if (strbuf_append(&h->body, ptr, n) < 0)
        return 0;
    return n;
}

static char *dup_trimmed(const char *s, size_t n)
{
    while (n && (*s == ' ' || *s == '\t')) {
        s++;
        n--;
    }
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n'))
        n--;
    char *p = malloc(n + 1);
    if (p) {
        memcpy(p, s, n);
        p[n] = '\0';
    }
    return p;
}

static size_t on_header(char *ptr, size_t size, size_t nmemb, void *ud)
{
    struct crm_http *h = ud;
    size_t n = size * nmemb;
    if (n >= 5 && strncmp(ptr, "HTTP/", 5) == 0) {
        clear_headers(h); /* a new response (after 100 Continue): keep only the final one */
        return n;
    }
    const char *colon = memchr(ptr, ':', n);
    if (!colon || h->nheaders >= MAX_HEADERS)
        return n;
    struct crm_http_header *grown = realloc(h->headers, (h->nheaders + 1) * sizeof *grown);
    if (!grown)
        return n;
    h->headers = grown;
    char *name = dup_trimmed(ptr, (size_t)(colon - ptr));
    char *value = dup_trimmed(colon + 1, n - (size_t)(colon - ptr) - 1);
    if (!name || !value) {
        free(name);
        free(value);
        return n;
    }
    h->headers[h->nheaders].name = name;
    h->headers[h->nheaders].value = value;
    h->nheaders++;
    return n;
}

static void record_metrics(struct crm_http *h, const struct crm_http_request *req,
                           const char *status, double seconds)
{
    const char *crm = crm_kind_name(req->crm);
    const char *op = req->operation ? req->operation : "call";
    metrics_add(m_calls, (const char *const[]){crm, op, status}, 1);
    metrics_observe(m_duration, (const char *const[]){crm, op}, seconds);
}

static enum crm_error_class curl_error_class(CURLcode rc)
{
    static const struct {
        CURLcode rc;
        enum crm_error_class cls;
    } table[] = {
        {CURLE_UNSUPPORTED_PROTOCOL, CRM_ERR_PERMANENT},
        {CURLE_URL_MALFORMAT, CRM_ERR_PERMANENT},
        {CURLE_WRITE_ERROR, CRM_ERR_PERMANENT}, /* answer over the size limit */
        {CURLE_OUT_OF_MEMORY, CRM_ERR_TRANSIENT},
        {CURLE_BAD_FUNCTION_ARGUMENT, CRM_ERR_PERMANENT},
    };
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        if (table[i].rc == rc)
            return table[i].cls;
    return CRM_ERR_TRANSIENT; /* connect, DNS, TLS handshake, timeouts, resets, empty replies */
}

static void init_response(struct crm_http_response *resp)
{
    memset(resp, 0, sizeof *resp);
}

int crm_http_perform(struct crm_http *h, const struct crm_http_request *req,
                     struct crm_http_response *resp, struct crm_error *err)
{
    init_response(resp);
    strbuf_reset(&h->body);
    h->body.failed = 0;
    clear_headers(h);
    h->too_large = 0;
    h->errbuf[0] = '\0';

    CURL *c = h->curl;
    curl_easy_reset(c);
    curl_easy_setopt(c, CURLOPT_URL, req->url);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, h->opts.timeout_ms);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, h->opts.connect_timeout_ms);
    curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "");
    curl_easy_setopt(c, CURLOPT_USERAGENT, "synkro/" SYNKRO_VERSION);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, h);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, h);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, h->errbuf);
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");

    const char *method = req->method ? req->method : "GET";
    if (strcmp(method, "GET") == 0) {
        curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
    } else if (strcmp(method, "POST") == 0) {
        curl_easy_setopt(c, CURLOPT_POST, 1L);
    } else {
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    }
    if (req->body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, req->body);
    } else if (strcmp(method, "POST") == 0) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)0);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, "");
    }

    struct curl_slist *hl = NULL, *tmp;
    int list_ok = 1;
    if (req->headers)
        for (size_t i = 0; req->headers[i] && list_ok; i++) {
            tmp = curl_slist_append(hl, req->headers[i]);
            list_ok = tmp != NULL;
            hl = tmp ? tmp : hl;
        }
    if (req->body && list_ok) {
        char ctype[160];
        snprintf(ctype, sizeof ctype, "Content-Type: %s",
                 req->content_type ? req->content_type : "application/json");
        tmp = curl_slist_append(hl, ctype);
        list_ok = tmp != NULL;
        hl = tmp ? tmp : hl;
    }
    if (list_ok) {
        tmp = curl_slist_append(hl, "Expect:"); /* no 100-continue round trip */
        list_ok = tmp != NULL;
        hl = tmp ? tmp : hl;
    }
    if (list_ok) {
        tmp = curl_slist_append(hl, "Accept: application/json");
        list_ok = tmp != NULL;
        hl = tmp ? tmp : hl;
    }
    if (!list_ok) {
        curl_slist_free_all(hl);
        crm_error_set(err, req->crm, CRM_ERR_TRANSIENT, 0, "out_of_memory",
                      "out of memory building the request");
        return -1;
    }
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);

    double t0 = clock_mono_seconds();
    CURLcode rc = curl_easy_perform(c);
    double seconds = clock_mono_seconds() - t0;
    curl_slist_free_all(hl);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
    resp->seconds = seconds;

    if (rc != CURLE_OK || h->body.failed) {
        record_metrics(h, req, "error", seconds);
        if (h->too_large)
            crm_error_set(err, req->crm, CRM_ERR_PERMANENT, 0, "response_too_large",
                          "the answer exceeded %zu bytes", h->opts.max_body_bytes);
        else if (h->body.failed)
            crm_error_set(err, req->crm, CRM_ERR_TRANSIENT, 0, "out_of_memory",
                          "out of memory reading the answer");
        else
            crm_error_set(err, req->crm, curl_error_class(rc), 0, "network", "%s%s%s",
                          curl_easy_strerror(rc), h->errbuf[0] ? ": " : "", h->errbuf);
        clear_headers(h);
        return -1;
    }
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    char st[16];
    snprintf(st, sizeof st, "%ld", status);
    record_metrics(h, req, st, seconds);

    resp->status = status;
    resp->body = strbuf_detach(&h->body, &resp->body_len);
    if (!resp->body) {
        crm_error_set(err, req->crm, CRM_ERR_TRANSIENT, 0, "out_of_memory",
                      "out of memory reading the answer");
        clear_headers(h);
        return -1;
    }
    if (resp->body_len == 0)
        resp->body[0] = '\0'; /* strbuf_detach() of an empty buffer leaves it unterminated */
    resp->headers = h->headers;
    resp->nheaders = h->nheaders;
    h->headers = NULL;
    h->nheaders = 0;
    return 0;
}

const char *crm_http_header(const struct crm_http_response *resp, const char *name)
{
    for (size_t i = 0; i < resp->nheaders; i++)
        if (strcasecmp(resp->headers[i].name, name) == 0)
            return resp->headers[i].value;
    return NULL;
}

void crm_http_response_free(struct crm_http_response *resp)
{
    if (!resp)
        return;
    free(resp->body);
    for (size_t i = 0; i < resp->nheaders; i++) {
        free(resp->headers[i].name);
        free(resp->headers[i].value);
    }
    free(resp->headers);
    memset(resp, 0, sizeof *resp);
}

/* ---- retries ---- */

void crm_retry_policy_normalize(struct crm_retry_policy *p)
{
    if (p->max_attempts <= 0)
        p->max_attempts = 5;
    if (p->base_delay_ms <= 0)
        p->base_delay_ms = 250;
    if (p->max_delay_ms <= 0)
        p->max_delay_ms = 20000;
    if (p->max_wait_ms <= 0)
        p->max_wait_ms = 60000;
}

static _Thread_local uint64_t rng_state;

static uint64_t rng_next(void)
{
    if (!rng_state) {
        uint64_t seed = 0;
        if (RAND_bytes((unsigned char *)&seed, sizeof seed) != 1 || seed == 0) {
            struct timespec ts;
            clock_gettime(CLOCK_MONOTONIC, &ts);
            seed = ((uint64_t)ts.tv_nsec << 20) ^ (uint64_t)ts.tv_sec ^ (uint64_t)(uintptr_t)&ts;
            seed |= 1;
        }
        rng_state = seed;
    }
    /* xorshift64* */
    uint64_t x = rng_state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    rng_state = x;
    return x * 2685821657736338717ULL;
}

long crm_jitter_ms(long max)
{
    if (max <= 0)
        return 0;
    return (long)(rng_next() % ((uint64_t)max + 1));
}

long crm_retry_delay_ms(const struct crm_retry_policy *p, int failures, const struct crm_error *e)
{
    struct crm_retry_policy pol = *p;
    crm_retry_policy_normalize(&pol);
    if (failures >= pol.max_attempts)
        return -1;
    if (e->cls == CRM_ERR_RETRY_AFTER) {
        long wait = e->retry_after_ms > 0 ? e->retry_after_ms : pol.base_delay_ms;
        if (wait > pol.max_wait_ms)
            return -1;
        long j = wait / 5;
        if (j > 2000)
            j = 2000;
        return wait + crm_jitter_ms(j);
    }
    if (e->cls != CRM_ERR_TRANSIENT)
        return -1;
    long d = pol.base_delay_ms;
    for (int i = 1; i < failures && d < pol.max_delay_ms; i++)
        d *= 2;
    if (d > pol.max_delay_ms)
        d = pol.max_delay_ms;
    return d / 2 + crm_jitter_ms(d - d / 2);
}

void crm_sleep_ms(long ms)
{
    if (ms <= 0)
        return;
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* ---- encoders ---- */

int crm_url_escape(struct strbuf *sb, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        unsigned char ch = *p;
        if ((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
            ch == '-' || ch == '.' || ch == '_' || ch == '~') {
            strbuf_putc(sb, (char)ch);
        } else {
            char esc[3] = {'%', hex[ch >> 4], hex[ch & 15]};
            strbuf_append(sb, esc, 3);
        }
    }
    return sb->failed ? -1 : 0;
}

int crm_form_add(struct strbuf *sb, const char *key, const char *value)
{
    if (sb->len)
        strbuf_putc(sb, '&');
    crm_url_escape(sb, key);
    strbuf_putc(sb, '=');
    crm_url_escape(sb, value ? value : "");
    return sb->failed ? -1 : 0;
}
