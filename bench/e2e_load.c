/* e2e_load.c: the load generator and observer of the end-to-end sync benchmark (bench/e2e.sh).
 *
 * Owns: the user edits of one benchmark phase, made through crmsim's /_sim/ act-as-user API (so
 * the CRMs send their webhooks and outbound messages exactly as for a person's edit), and the
 * observations of what reached the other CRM. Subcommands (one line of "key=value" results on
 * stdout, diagnostics on stderr):
 *   update  PATCH every record listed in --ids with <field> = "<tag><n>_" as fast as --conns
 *           keep-alive connections allow (curl multi); n is the line number.
 *   count   how many records of one object hold a value of <field> that starts with --prefix.
 *   wait    polls count until --expect records match (or --timeout); prints when, in ms since
 *           --since-ms (epoch ms), so the driver measures wall time to convergence.
 *   pairs   "salesforce_id hubspot_id" lines of the linked HubSpot records (identity property).
 *   steady  --rate edits per second for --seconds, alternating Salesforce and HubSpot records of
 *           the --pairs list (each side its own half of the pairs); each edit writes a unique value
 * "<tag><seq>_" and remembers its send time. crmsim's request log (request_log_size raised by the
 * driver) is polled: the first 2xx write request to the other CRM whose body carries that value
 * marks it written, at the log entry's time. Prints end-to-end latency p50/p99/max (user edit ->
 * written in the other CRM, including the CRMs' own delivery delays) and how many were seen. calls
 * crmsim's API call counters summed per CRM (HubSpot, Salesforce), with error counts. pending
 * deliveries crmsim still holds (webhook events/batches, outbound notifications/messages).
 *
 * Design: one libcurl easy handle per connection (keep-alive to crmsim); json-c for reading
 * crmsim's answers. Values are plain ASCII tokens, so they are found in request bodies with
 * strstr without JSON parsing of the bodies.
 *
 * Must not: talk to synkro or the database, or use any CRM path (only /_sim/), so that the API
 * calls crmsim counts are synkro's alone. */
#include <curl/curl.h>
#include <json-c/json.h>

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct opts {
    const char *cmd;
    const char *sim;       /* crmsim base URL */
    const char *side;      /* sf | hs */
    const char *object;    /* Salesforce object or HubSpot object type */
    const char *field;     /* field / property to write or read */
    const char *ids;       /* file: one record id per line (update) */
    const char *tag;       /* value prefix written (update, steady) */
    const char *prefix;    /* value prefix looked for (count, wait) */
    const char *pairs;     /* file: "sf_id hs_id" lines (steady) */
    const char *hs_object; /* steady */
    const char *sf_object; /* steady */
    const char *hs_field;  /* steady */
    const char *sf_field;  /* steady */
    const char *property;  /* pairs: the identity property holding the Salesforce id */
    long conns, expect, interval_ms, settle_s;
    double rate, seconds, timeout_s;
    int64_t since_ms;
};

struct buf {
    char *data;
    size_t len;
};

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("e2e_load: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(long ms)
{
    if (ms <= 0)
        return;
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

static size_t buf_write(char *p, size_t size, size_t n, void *ud)
{
    struct buf *b = ud;
    size_t add = size * n;
    char *d = realloc(b->data, b->len + add + 1);
    if (!d)
        return 0;
    memcpy(d + b->len, p, add);
    b->len += add;
    d[b->len] = '\0';
    b->data = d;
    return add;
}

static CURL *handle_new(void)
{
    CURL *c = curl_easy_init();
    if (!c)
        die("curl_easy_init failed");
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 60000L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, buf_write);
    return c;
}

/* One request on handle c; the body is returned in *out (caller frees out->data). */
static long http_do(CURL *c, struct curl_slist *hdrs, const char *method, const char *url,
                    const char *body, struct buf *out)
{
    out->data = NULL;
    out->len = 0;
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    if (body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    } else {
        curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, strcmp(method, "GET") ? method : NULL);
    }
    curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
    CURLcode rc = curl_easy_perform(c);
    long status = 0;
    if (rc != CURLE_OK) {
        fprintf(stderr, "e2e_load: %s %s: %s\n", method, url, curl_easy_strerror(rc));
        return -1;
    }
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    return status;
}

static json_object *get_json(CURL *c, const char *url)
{
    struct buf b;
    long st = http_do(c, NULL, "GET", url, NULL, &b);
    if (st != 200) {
        fprintf(stderr, "e2e_load: GET %s answered %ld\n", url, st);
        free(b.data);
        return NULL;
    }
    json_object *o = json_tokener_parse(b.data ? b.data : "");
    free(b.data);
    return o;
}

static json_object *member(json_object *o, const char *key)
{
    json_object *v = NULL;
    return json_object_object_get_ex(o, key, &v) ? v : NULL;
}

/* ---- record listing ---- */

static bool side_is_hs(const char *side)
{
    if (!side)
        die("--side sf|hs is required");
    if (strcmp(side, "hs") == 0)
        return true;
    if (strcmp(side, "sf") == 0)
        return false;
    die("--side must be sf or hs");
}

/* The records array of one object (live ones only) and each record's field holder. */
static json_object *list_records(CURL *c, const struct opts *o, bool hs)
{
    char url[1024];
    snprintf(url, sizeof url, "%s/_sim/%s/%s/records", o->sim, hs ? "hubspot" : "salesforce",
             o->object);
    return get_json(c, url);
}

static json_object *records_array(json_object *root, bool hs)
{
    json_object *a = member(root, hs ? "results" : "records");
    return a && json_object_is_type(a, json_type_array) ? a : NULL;
}

static bool record_live(json_object *r, bool hs)
{
    json_object *flag = member(r, hs ? "archived" : "IsDeleted");
    return !flag || !json_object_get_boolean(flag);
}

static const char *record_value(json_object *r, bool hs, const char *field)
{
    json_object *holder = hs ? member(r, "properties") : r;
    json_object *v = holder ? member(holder, field) : NULL;
    return v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

/* matched and live record counts; -1 when crmsim cannot be read. crmsim counts them itself
 * (/_sim/.../count): listing every record each poll held crmsim's one lock for longer the more
 * records there were (about a second at 10,000 on a loaded machine), slowing every CRM call of
 * the synkro being measured. */
static int count_prefix(CURL *c, const struct opts *o, bool hs, long *matched, long *total)
{
    char *field = curl_easy_escape(c, o->field, 0);
    char *prefix = curl_easy_escape(c, o->prefix, 0);
    char url[1024];
    int n = field && prefix
                ? snprintf(url, sizeof url, "%s/_sim/%s/%s/count?field=%s&prefix=%s", o->sim,
                           hs ? "hubspot" : "salesforce", o->object, field, prefix)
                : -1;
    curl_free(field);
    curl_free(prefix);
    if (n < 0 || (size_t)n >= sizeof url)
        return -1;
    json_object *root = get_json(c, url);
    json_object *m = root ? member(root, "matched") : NULL;
    json_object *t = root ? member(root, "total") : NULL;
    if (!m || !t) {
        json_object_put(root);
        return -1;
    }
    *matched = (long)json_object_get_int64(m);
    *total = (long)json_object_get_int64(t);
    json_object_put(root);
    return 0;
}

static int cmd_count(const struct opts *o)
{
    bool hs = side_is_hs(o->side);
    CURL *c = handle_new();
    long m, t;
    int rc = count_prefix(c, o, hs, &m, &t);
    curl_easy_cleanup(c);
    if (rc != 0)
        return 1;
    printf("matched=%ld total=%ld\n", m, t);
    return 0;
}

static int cmd_wait(const struct opts *o)
{
    bool hs = side_is_hs(o->side);
    CURL *c = handle_new();
    int64_t since = o->since_ms ? o->since_ms : now_ms();
    int64_t deadline = now_ms() + (int64_t)(o->timeout_s * 1000);
    long m = 0, t = 0;
    for (;;) {
        int64_t before = now_ms();
        if (count_prefix(c, o, hs, &m, &t) == 0 && m >= o->expect) {
            /* the state was read at some point of the call: take its start, conservatively late
             * by at most one poll interval plus the read */
            printf("reached=1 elapsed_ms=%" PRId64 " matched=%ld total=%ld\n", before - since, m,
                   t);
            break;
        }
        if (now_ms() > deadline) {
            printf("reached=0 elapsed_ms=%" PRId64 " matched=%ld total=%ld\n", now_ms() - since, m,
                   t);
            break;
        }
        sleep_ms(o->interval_ms);
    }
    curl_easy_cleanup(c);
    return 0;
}

static int cmd_pairs(const struct opts *o)
{
    CURL *c = handle_new();
    json_object *root = list_records(c, o, true);
    json_object *arr = root ? records_array(root, true) : NULL;
    curl_easy_cleanup(c);
    if (!arr)
        return 1;
    for (size_t i = 0; i < json_object_array_length(arr); i++) {
        json_object *r = json_object_array_get_idx(arr, i);
        const char *sf = record_value(r, true, o->property);
        json_object *id = member(r, "id");
        if (record_live(r, true) && sf && *sf && id)
            printf("%s %s\n", sf, json_object_get_string(id));
    }
    json_object_put(root);
    return 0;
}

/* ---- calls: crmsim's per-route call counters split by CRM ---- */

static const char *route_crm(const char *route)
{
    static const struct {
        const char *prefix, *crm;
    } table[] = {{"/crm", "hubspot"}, {"/oauth/", "hubspot"}, {"/services/", "salesforce"}};
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        if (strncmp(route, table[i].prefix, strlen(table[i].prefix)) == 0)
            return table[i].crm;
    return "other";
}

static int cmd_calls(const struct opts *o)
{
    char url[1024];
    snprintf(url, sizeof url, "%s/_sim/stats?limit=0", o->sim);
    CURL *c = handle_new();
    json_object *root = get_json(c, url);
    curl_easy_cleanup(c);
    json_object *calls = root ? member(root, "calls") : NULL;
    if (!calls) {
        json_object_put(root);
        return 1;
    }
    int64_t hs = 0, sf = 0, other = 0, hs429 = 0, sf_err = 0, hs_err = 0;
    for (size_t i = 0; i < json_object_array_length(calls); i++) {
        json_object *r = json_object_array_get_idx(calls, i);
        const char *crm = route_crm(json_object_get_string(member(r, "route")));
        int64_t n = json_object_get_int64(member(r, "count"));
        int status = json_object_get_int(member(r, "status"));
        bool hub = strcmp(crm, "hubspot") == 0, sfc = strcmp(crm, "salesforce") == 0;
        hs += hub ? n : 0;
        sf += sfc ? n : 0;
        other += !hub && !sfc ? n : 0;
        hs429 += hub && status == 429 ? n : 0;
        hs_err += hub && (status < 200 || status > 299) ? n : 0;
        sf_err += sfc && (status < 200 || status > 299) ? n : 0;
    }
    printf("hubspot=%" PRId64 " salesforce=%" PRId64 " other=%" PRId64 " hubspot_429=%" PRId64
           " hubspot_non2xx=%" PRId64 " salesforce_non2xx=%" PRId64 "\n",
           hs, sf, other, hs429, hs_err, sf_err);
    json_object_put(root);
    return 0;
}

/* routes: one "METHOD ROUTE STATUS COUNT" line per counter, for per-route deltas */
static int cmd_routes(const struct opts *o)
{
    char url[1024];
    snprintf(url, sizeof url, "%s/_sim/stats?limit=0", o->sim);
    CURL *c = handle_new();
    json_object *root = get_json(c, url);
    curl_easy_cleanup(c);
    json_object *calls = root ? member(root, "calls") : NULL;
    for (size_t i = 0; calls && i < json_object_array_length(calls); i++) {
        json_object *r = json_object_array_get_idx(calls, i);
        printf("%s %s %d %" PRId64 "\n", json_object_get_string(member(r, "method")),
               json_object_get_string(member(r, "route")), json_object_get_int(member(r, "status")),
               json_object_get_int64(member(r, "count")));
    }
    json_object_put(root);
    return calls ? 0 : 1;
}

/* ---- pending: deliveries crmsim has not yet made (webhooks, outbound messages) ---- */

static size_t array_len(json_object *o, const char *a, const char *b)
{
    json_object *x = member(member(o, a), b);
    return x && json_object_is_type(x, json_type_array) ? json_object_array_length(x) : 0;
}

static int cmd_pending(const struct opts *o)
{
    char url[1024];
    snprintf(url, sizeof url, "%s/_sim/deliveries", o->sim);
    CURL *c = handle_new();
    json_object *root = get_json(c, url);
    curl_easy_cleanup(c);
    if (!root)
        return 1;
    printf("pending=%zu\n", array_len(root, "webhook", "pendingEvents") +
                                array_len(root, "webhook", "batches") +
                                array_len(root, "outbound", "pendingNotifications") +
                                array_len(root, "outbound", "messages"));
    json_object_put(root);
    return 0;
}

/* ---- update: a burst of edits through curl multi ---- */

struct ids {
    char **v;
    size_t n;
};

static void ids_load(const char *path, int column, struct ids *out)
{
    FILE *f = fopen(path, "r");
    if (!f)
        die("cannot open %s: %s", path, strerror(errno));
    char line[512];
    size_t cap = 0;
    out->v = NULL;
    out->n = 0;
    while (fgets(line, sizeof line, f)) {
        char *save = NULL, *tok = strtok_r(line, " \t\r\n", &save);
        for (int k = 0; tok && k < column; k++)
            tok = strtok_r(NULL, " \t\r\n", &save);
        if (!tok)
            continue;
        if (out->n == cap) {
            cap = cap ? cap * 2 : 1024;
            char **nv = realloc(out->v, cap * sizeof *nv);
            if (!nv)
                die("out of memory");
            out->v = nv;
        }
        out->v[out->n] = strdup(tok);
        if (!out->v[out->n])
            die("out of memory");
        out->n++;
    }
    fclose(f);
}

static void ids_free(struct ids *ids)
{
    for (size_t i = 0; i < ids->n; i++)
        free(ids->v[i]);
    free(ids->v);
}

/* The /_sim/ PATCH of one record: url and body. */
static void edit_request(const char *sim, bool hs, const char *object, const char *field,
                         const char *id, const char *value, char *url, size_t ulen, char *body,
                         size_t blen)
{
    snprintf(url, ulen, "%s/_sim/%s/%s/records/%s", sim, hs ? "hubspot" : "salesforce", object, id);
    if (hs)
        snprintf(body, blen, "{\"properties\":{\"%s\":\"%s\"}}", field, value);
    else
        snprintf(body, blen, "{\"%s\":\"%s\"}", field, value);
}

struct slot {
    CURL *h;
    struct buf resp;
    char url[1024], body[512];
    bool busy;
};

static void slot_start(CURLM *m, struct slot *s, struct curl_slist *hdrs, const struct opts *o,
                       bool hs, const char *id, size_t n)
{
    char value[128];
    snprintf(value, sizeof value, "%s%zu_", o->tag, n);
    edit_request(o->sim, hs, o->object, o->field, id, value, s->url, sizeof s->url, s->body,
                 sizeof s->body);
    free(s->resp.data);
    s->resp.data = NULL;
    s->resp.len = 0;
    curl_easy_setopt(s->h, CURLOPT_URL, s->url);
    curl_easy_setopt(s->h, CURLOPT_CUSTOMREQUEST, "PATCH");
    curl_easy_setopt(s->h, CURLOPT_POSTFIELDS, s->body);
    curl_easy_setopt(s->h, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(s->h, CURLOPT_WRITEDATA, &s->resp);
    curl_easy_setopt(s->h, CURLOPT_PRIVATE, s);
    s->busy = true;
    curl_multi_add_handle(m, s->h);
}

static int cmd_update(const struct opts *o)
{
    bool hs = side_is_hs(o->side);
    if (!o->ids || !o->object || !o->field || !o->tag)
        die("update needs --ids --object --field --tag");
    struct ids ids;
    ids_load(o->ids, 0, &ids);
    long nconn = o->conns > 0 ? o->conns : 8;
    struct slot *slots = calloc((size_t)nconn, sizeof *slots);
    CURLM *m = curl_multi_init();
    struct curl_slist *hdrs = curl_slist_append(NULL, "Content-Type: application/json");
    if (!slots || !m || !hdrs)
        die("out of memory");
    curl_multi_setopt(m, CURLMOPT_MAX_HOST_CONNECTIONS, nconn);
    for (long i = 0; i < nconn; i++)
        slots[i].h = handle_new();
    int64_t t0 = now_ms();
    size_t next = 0, done = 0, errors = 0;
    for (long i = 0; i < nconn && next < ids.n; i++, next++)
        slot_start(m, &slots[i], hdrs, o, hs, ids.v[next], next);
    while (done < ids.n) {
        int running = 0, left = 0;
        if (curl_multi_perform(m, &running) != CURLM_OK)
            die("curl_multi_perform failed");
        CURLMsg *msg;
        while ((msg = curl_multi_info_read(m, &left)) != NULL) {
            if (msg->msg != CURLMSG_DONE)
                continue;
            struct slot *s = NULL;
            long st = 0;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&s);
            curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &st);
            if (msg->data.result != CURLE_OK || st != 200) {
                if (errors++ < 5)
                    fprintf(stderr, "e2e_load: PATCH %s: %s %ld %s\n", s->url,
                            curl_easy_strerror(msg->data.result), st,
                            s->resp.data ? s->resp.data : "");
            }
            curl_multi_remove_handle(m, s->h);
            s->busy = false;
            done++;
            if (next < ids.n) {
                slot_start(m, s, hdrs, o, hs, ids.v[next], next);
                next++;
            }
        }
        if (done < ids.n && curl_multi_poll(m, NULL, 0, 100, NULL) != CURLM_OK)
            die("curl_multi_poll failed");
    }
    int64_t t1 = now_ms();
    printf("sent=%zu errors=%zu start_ms=%" PRId64 " end_ms=%" PRId64 " edits_per_s=%.0f\n", ids.n,
           errors, t0, t1, t1 > t0 ? (double)ids.n * 1000.0 / (double)(t1 - t0) : 0.0);
    for (long i = 0; i < nconn; i++) {
        free(slots[i].resp.data);
        curl_easy_cleanup(slots[i].h);
    }
    free(slots);
    curl_slist_free_all(hdrs);
    curl_multi_cleanup(m);
    ids_free(&ids);
    return errors ? 1 : 0;
}

/* ---- steady: paced edits, latency from crmsim's request log ---- */

struct change {
    int64_t sent_ms;
    int64_t written_ms; /* 0 until seen */
    bool to_hs;         /* the edit was made in Salesforce, so the write goes to HubSpot */
};

/* "2024-05-02T11:53:53.123Z" -> epoch ms; -1 when malformed */
static int64_t parse_iso_ms(const char *s)
{
    struct tm tm = {0};
    int ms = 0;
    if (!s || sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d.%3dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                     &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &ms) != 7)
        return -1;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    return (int64_t)timegm(&tm) * 1000 + ms;
}

static bool is_write(const char *method, const char *route)
{
    if (strcmp(method, "GET") == 0 || strcmp(method, "DELETE") == 0)
        return false;
    return !strstr(route, "/read") && !strstr(route, "/search") && !strstr(route, "oauth");
}

/* Marks every change whose value appears in one logged write request. */
static void scan_body(const char *body, const char *tag, bool to_hs, int64_t at, struct change *ch,
                      size_t n)
{
    size_t tl = strlen(tag);
    for (const char *p = strstr(body, tag); p; p = strstr(p + tl, tag)) {
        char *end = NULL;
        unsigned long long seq = strtoull(p + tl, &end, 10);
        if (end == p + tl || *end != '_' || seq >= n || ch[seq].to_hs != to_hs)
            continue;
        if (ch[seq].written_ms == 0 || at < ch[seq].written_ms)
            ch[seq].written_ms = at;
    }
}

/* Reads crmsim's request log (every CRM path; /_sim/ is never logged) newer than *last_seq and
 * marks the changes found in its write requests: a HubSpot path carries a Salesforce edit, a
 * Salesforce path a HubSpot edit. The log is read with *limit entries; when the oldest of a full
 * answer is still newer than *last_seq + 1, entries were missed: say so and double *limit. */
static void scan_log(CURL *c, const struct opts *o, int64_t *last_seq, long *limit,
                     struct change *ch, size_t n)
{
    char url[1024];
    snprintf(url, sizeof url, "%s/_sim/stats?limit=%ld", o->sim, *limit);
    json_object *root = get_json(c, url);
    json_object *log = root ? member(root, "recentRequests") : NULL;
    size_t len = log ? json_object_array_length(log) : 0;
    if (len > 0 && (long)len >= *limit && *last_seq > 0 &&
        json_object_get_int64(member(json_object_array_get_idx(log, 0), "seq")) > *last_seq + 1) {
        fprintf(stderr, "e2e_load: request log entries missed; reading %ld next time\n",
                *limit * 2);
        *limit = *limit * 2 > 10000 ? 10000 : *limit * 2;
    }
    for (size_t i = 0; i < len; i++) {
        json_object *r = json_object_array_get_idx(log, i);
        int64_t seq = json_object_get_int64(member(r, "seq"));
        if (seq <= *last_seq)
            continue;
        *last_seq = seq;
        int status = json_object_get_int(member(r, "status"));
        const char *method = json_object_get_string(member(r, "method"));
        const char *route = json_object_get_string(member(r, "route"));
        const char *path = json_object_get_string(member(r, "path"));
        const char *body = json_object_get_string(member(r, "body"));
        if (status < 200 || status > 299 || !method || !route || !path || !body ||
            !is_write(method, route))
            continue;
        bool to_hs = strncmp(path, "/crm", 4) == 0;
        scan_body(body, o->tag, to_hs, parse_iso_ms(json_object_get_string(member(r, "time"))), ch,
                  n);
    }
    json_object_put(root);
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static int64_t pct(const int64_t *v, size_t n, double q)
{
    if (n == 0)
        return -1;
    size_t i = (size_t)(q * (double)n + 0.5);
    if (i >= 1)
        i--;
    return v[i < n ? i : n - 1];
}

static void steady_report(const struct change *ch, size_t n, size_t sent_errors)
{
    int64_t *lat = malloc((n ? n : 1) * sizeof *lat);
    if (!lat)
        die("out of memory");
    size_t k = 0, to_hs = 0;
    for (size_t i = 0; i < n; i++)
        if (ch[i].written_ms) {
            lat[k++] = ch[i].written_ms - ch[i].sent_ms;
            to_hs += ch[i].to_hs;
        }
    qsort(lat, k, sizeof *lat, cmp_i64);
    printf(
        "changes=%zu seen=%zu seen_sf_to_hs=%zu seen_hs_to_sf=%zu send_errors=%zu p50_ms=%" PRId64
        " p99_ms=%" PRId64 " max_ms=%" PRId64 "\n",
        n, k, to_hs, k - to_hs, sent_errors, pct(lat, k, 0.50), pct(lat, k, 0.99),
        k ? lat[k - 1] : -1);
    free(lat);
}

static int cmd_steady(const struct opts *o)
{
    if (!o->pairs || !o->hs_object || !o->sf_object || !o->hs_field || !o->sf_field || !o->tag ||
        o->rate <= 0 || o->seconds <= 0)
        die("steady needs --pairs --sf-object --hs-object --sf-field --hs-field --tag --rate "
            "--seconds");
    struct ids sf, hs;
    ids_load(o->pairs, 0, &sf);
    ids_load(o->pairs, 1, &hs);
    if (sf.n < 2 || sf.n != hs.n)
        die("%s holds fewer than two usable \"sf_id hs_id\" lines", o->pairs);
    size_t n = (size_t)(o->rate * o->seconds);
    struct change *ch = calloc(n ? n : 1, sizeof *ch);
    CURL *send = handle_new(), *look = handle_new();
    struct curl_slist *hdrs = curl_slist_append(NULL, "Content-Type: application/json");
    if (!ch || !hdrs)
        die("out of memory");
    int64_t last_seq = 0;
    long limit = 1;
    scan_log(look, o, &last_seq, &limit, ch, 0); /* where the log stands before the first edit */
    limit = 500;
    int64_t t0 = now_ms(), last_scan = t0;
    size_t errors = 0;
    for (size_t i = 0; i < n; i++) {
        int64_t due = t0 + (int64_t)((double)i * 1000.0 / o->rate);
        sleep_ms((long)(due - now_ms()));
        /* even: a Salesforce edit (synced to HubSpot); odd: a HubSpot edit. The two sides edit
         * disjoint halves of the pairs: an edit of both sides of one pair would be a conflict,
         * and one of the two values would rightly never be written */
        bool sf_edit = i % 2 == 0;
        size_t half = sf.n / 2;
        size_t rec = sf_edit ? (i / 2) % half : half + (i / 2) % (sf.n - half);
        char url[1024], body[512], value[128];
        snprintf(value, sizeof value, "%s%zu_", o->tag, i);
        edit_request(o->sim, !sf_edit, sf_edit ? o->sf_object : o->hs_object,
                     sf_edit ? o->sf_field : o->hs_field, sf_edit ? sf.v[rec] : hs.v[rec], value,
                     url, sizeof url, body, sizeof body);
        ch[i].to_hs = sf_edit;
        ch[i].sent_ms = now_ms();
        struct buf b;
        long st = http_do(send, hdrs, "PATCH", url, body, &b);
        if (st != 200 && errors++ < 5)
            fprintf(stderr, "e2e_load: PATCH %s answered %ld %s\n", url, st, b.data ? b.data : "");
        free(b.data);
        if (now_ms() - last_scan >= o->interval_ms) {
            scan_log(look, o, &last_seq, &limit, ch, i + 1);
            last_scan = now_ms();
        }
    }
    /* then until every change was seen, or --settle seconds without progress */
    int64_t settle_until = now_ms() + o->settle_s * 1000;
    size_t seen_before = (size_t)-1;
    for (;;) {
        scan_log(look, o, &last_seq, &limit, ch, n);
        size_t seen = 0;
        for (size_t i = 0; i < n; i++)
            seen += ch[i].written_ms != 0;
        if (seen == n || now_ms() > settle_until)
            break;
        if (seen != seen_before)
            settle_until = now_ms() + o->settle_s * 1000;
        seen_before = seen;
        sleep_ms(o->interval_ms);
    }
    steady_report(ch, n, errors);
    free(ch);
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(send);
    curl_easy_cleanup(look);
    ids_free(&sf);
    ids_free(&hs);
    return 0;
}

/* ---- arguments ---- */

static void usage(void)
{
    fprintf(stderr,
            "usage: e2e_load update --sim URL --side sf|hs --object O --field F --ids FILE --tag T "
            "[--conns 8]\n"
            "       e2e_load count  --sim URL --side sf|hs --object O --field F --prefix P\n"
            "       e2e_load wait   --sim URL --side sf|hs --object O --field F --prefix P "
            "--expect N [--since-ms T] [--timeout S] [--interval-ms 250]\n"
            "       e2e_load pairs  --sim URL --object HS_TYPE --property P\n"
            "       e2e_load calls  --sim URL\n"
            "       e2e_load routes --sim URL\n"
            "       e2e_load pending --sim URL\n"
            "       e2e_load steady --sim URL --pairs FILE --sf-object O --hs-object T "
            "--sf-field F --hs-field P --tag T --rate R --seconds S [--interval-ms 500] "
            "[--settle 30]\n");
    exit(2);
}

struct opt_row {
    const char *name;
    char kind; /* s string, l long, d double, t int64 */
    size_t off;
};

#define ROW(n, k, m)                                                                               \
    {                                                                                              \
        n, k, offsetof(struct opts, m)                                                             \
    }
static const struct opt_row opt_table[] = {
    ROW("--sim", 's', sim),
    ROW("--side", 's', side),
    ROW("--object", 's', object),
    ROW("--field", 's', field),
    ROW("--ids", 's', ids),
    ROW("--tag", 's', tag),
    ROW("--prefix", 's', prefix),
    ROW("--pairs", 's', pairs),
    ROW("--hs-object", 's', hs_object),
    ROW("--sf-object", 's', sf_object),
    ROW("--hs-field", 's', hs_field),
    ROW("--sf-field", 's', sf_field),
    ROW("--property", 's', property),
    ROW("--conns", 'l', conns),
    ROW("--expect", 'l', expect),
    ROW("--interval-ms", 'l', interval_ms),
    ROW("--settle", 'l', settle_s),
    ROW("--rate", 'd', rate),
    ROW("--seconds", 'd', seconds),
    ROW("--timeout", 'd', timeout_s),
    ROW("--since-ms", 't', since_ms),
};

static void opt_set(struct opts *o, const char *name, const char *v)
{
    for (size_t i = 0; i < sizeof opt_table / sizeof opt_table[0]; i++) {
        const struct opt_row *r = &opt_table[i];
        if (strcmp(r->name, name) != 0)
            continue;
        char *p = (char *)o + r->off, *end = NULL;
        errno = 0;
        if (r->kind == 's')
            *(const char **)(void *)p = v;
        else if (r->kind == 'l')
            *(long *)(void *)p = strtol(v, &end, 10);
        else if (r->kind == 'd')
            *(double *)(void *)p = strtod(v, &end);
        else
            *(int64_t *)(void *)p = strtoll(v, &end, 10);
        if (r->kind != 's' && (errno || !end || end == v || *end))
            die("%s: not a number: %s", name, v);
        return;
    }
    usage();
}

struct cmd_row {
    const char *name;
    int (*fn)(const struct opts *);
};

static const struct cmd_row cmd_table[] = {
    {"update", cmd_update}, {"count", cmd_count}, {"wait", cmd_wait},     {"pairs", cmd_pairs},
    {"steady", cmd_steady}, {"calls", cmd_calls}, {"routes", cmd_routes}, {"pending", cmd_pending},
};

int main(int argc, char **argv)
{
    struct opts o = {.conns = 8, .interval_ms = 250, .timeout_s = 600, .settle_s = 30};
    if (argc < 2)
        usage();
    o.cmd = argv[1];
    for (int i = 2; i < argc; i += 2) {
        if (i + 1 >= argc)
            usage();
        opt_set(&o, argv[i], argv[i + 1]);
    }
    if (!o.sim)
        usage();
    if ((!strcmp(o.cmd, "count") || !strcmp(o.cmd, "wait")) && (!o.object || !o.field || !o.prefix))
        usage();
    if (!strcmp(o.cmd, "pairs") && (!o.object || !o.property))
        usage();
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        die("curl_global_init failed");
    int rc = -1;
    for (size_t i = 0; i < sizeof cmd_table / sizeof cmd_table[0]; i++)
        if (strcmp(cmd_table[i].name, o.cmd) == 0)
            rc = cmd_table[i].fn(&o);
    curl_global_cleanup();
    if (rc < 0)
        usage();
    return rc;
}
