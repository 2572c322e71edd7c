/* deliveries.c: queues and worker threads that deliver HubSpot webhooks and Salesforce outbound
 * messages.
 *
 * Events/notifications first wait flush_ms in a pending list so that changes close together share a
 * request, then become deliveries (a webhook batch of at most webhook_max_batch events, or an
 * outbound message of at most outbound_max_batch notifications for one rule). SIM_DELIVERY_WORKERS
 * threads pick due deliveries, build the payload under sim->lock (outbound messages read the
 * record's latest data at send time), release the lock, POST with libcurl, and record the outcome.
 * A failed attempt is rescheduled with exponential backoff; each delivery is independent, so
 * retries can overtake each other. */
#include "tests/crmsim/deliveries.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tests/crmsim/outbound.h"
#include "tests/crmsim/store.h"
#include "tests/crmsim/webhooks.h"

#define MAX_RESPONSE_BYTES (1024 * 1024)

struct job {
    enum delivery_kind kind;
    char *url;
    char *body;
    size_t len;
    struct curl_slist *headers;
    int64_t timeout_ms;
};

struct outcome {
    long status;
    struct buf body;
    char error[160];
};

static void delivery_free(struct delivery *d)
{
    if (!d)
        return;
    json_object_put(d->events);
    free(d->notifs);
    free(d);
}

static struct delivery *delivery_new(struct sim *sim, enum delivery_kind kind)
{
    struct delivery *d = xcalloc(1, sizeof *d);
    d->id = ++sim->dq.next_id;
    d->kind = kind;
    d->next_mono = util_mono_ms();
    d->created_ms = util_now_ms();
    return d;
}

static void delivery_append(struct sim *sim, struct delivery *d)
{
    struct delivery **pp = &sim->dq.head;
    while (*pp)
        pp = &(*pp)->next;
    *pp = d;
    sim->dq.count++;
}

static void delivery_unlink(struct sim *sim, struct delivery *d)
{
    for (struct delivery **pp = &sim->dq.head; *pp; pp = &(*pp)->next) {
        if (*pp == d) {
            *pp = d->next;
            d->next = NULL;
            sim->dq.count--;
            return;
        }
    }
}

void deliveries_queue_events(struct sim *sim, json_object *events)
{
    size_t n = json_object_array_length(events);
    if (n == 0)
        return;
    if (!sim->cfg.hs_webhook_url || !sim->cfg.hs_webhook_url[0])
        return;
    if (!sim->dq.events)
        sim->dq.events = json_object_new_array();
    if (json_object_array_length(sim->dq.events) == 0)
        sim->dq.events_since_mono = util_mono_ms();
    for (size_t i = 0; i < n; i++) {
        if (json_object_array_length(sim->dq.events) >= SIM_MAX_PENDING_EVENTS) {
            sim->dq.events_dropped++;
            continue;
        }
        json_object_array_add(sim->dq.events,
                              json_object_get(json_object_array_get_idx(events, i)));
    }
    pthread_cond_broadcast(&sim->cond);
}

void deliveries_queue_outbound(struct sim *sim, const char *object, const char *record_id,
                               const char *modified_by)
{
    for (size_t r = 0; r < sim->sf.n_rules; r++) {
        if (!util_streq_ci(sim->sf.rules[r].object, object))
            continue;
        if (sim->sf.rules[r].skip_user[0] && strcmp(sim->sf.rules[r].skip_user, modified_by) == 0)
            continue; /* the flow's entry condition excludes this user's changes */
        /* A notification for this record already waiting to be batched covers the change: only the
         * record's latest data is ever sent. */
        bool pending = false;
        for (size_t i = 0; i < sim->dq.n_notifs; i++) {
            if (sim->dq.notifs[i].rule == r &&
                strcmp(sim->dq.notifs[i].n.record_id, record_id) == 0)
                pending = true;
        }
        if (pending)
            continue;
        if (sim->dq.n_notifs >= SIM_MAX_PENDING_EVENTS) {
            sim->dq.events_dropped++;
            continue;
        }
        if (sim->dq.n_notifs == 0)
            sim->dq.notifs_since_mono = util_mono_ms();
        xgrow(&sim->dq.notifs, &sim->dq.cap_notifs, sim->dq.n_notifs + 1, sizeof *sim->dq.notifs);
        struct ob_pending *p = &sim->dq.notifs[sim->dq.n_notifs++];
        p->rule = r;
        sf_id_generate(sim, "04l", p->n.id);
        snprintf(p->n.record_id, sizeof p->n.record_id, "%s", record_id);
    }
    pthread_cond_broadcast(&sim->cond);
}

void deliveries_clear(struct sim *sim)
{
    struct delivery *d = sim->dq.head;
    while (d) {
        struct delivery *next = d->next;
        d->next = NULL;
        if (d->in_flight)
            d->orphaned = true; /* its worker frees it */
        else
            delivery_free(d);
        d = next;
    }
    sim->dq.head = NULL;
    sim->dq.count = 0;
    json_object_put(sim->dq.events);
    sim->dq.events = NULL;
    sim->dq.n_notifs = 0;
    sim->dq.flush_requested = false;
    pthread_cond_broadcast(&sim->cond);
}

static void package_pending(struct sim *sim, int64_t now);

void deliveries_clear_outbound(struct sim *sim)
{
    struct delivery **pp = &sim->dq.head;
    while (*pp) {
        struct delivery *d = *pp;
        if (d->kind != DELIVERY_OUTBOUND) {
            pp = &d->next;
            continue;
        }
        *pp = d->next;
        d->next = NULL;
        sim->dq.count--;
        if (d->in_flight)
            d->orphaned = true;
        else
            delivery_free(d);
    }
    sim->dq.n_notifs = 0;
}

void deliveries_flush(struct sim *sim)
{
    int64_t now = util_mono_ms();
    for (struct delivery *d = sim->dq.head; d; d = d->next) {
        if (!d->in_flight)
            d->next_mono = now;
    }
    sim->dq.flush_requested = true;
    /* Package right away too, so the flush shows even when every worker is busy sending. */
    package_pending(sim, now);
    pthread_cond_broadcast(&sim->cond);
}

static void stats_reset_counters(struct delivery_counters *c)
{
    memset(c, 0, sizeof *c);
}

void deliveries_stats_reset(struct sim *sim)
{
    stats_reset_counters(&sim->dq.webhook);
    stats_reset_counters(&sim->dq.outbound);
    sim->dq.events_dropped = 0;
}

static json_object *counters_json(const struct delivery_counters *c)
{
    json_object *o = json_object_new_object();
    json_set_int(o, "attempted", (int64_t)c->attempted);
    json_set_int(o, "acked", (int64_t)c->acked);
    json_set_int(o, "failed", (int64_t)c->failed);
    json_set_int(o, "dropped", (int64_t)c->dropped);
    return o;
}

json_object *deliveries_stats_json(struct sim *sim)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "webhook", counters_json(&sim->dq.webhook));
    json_object_object_add(o, "outbound", counters_json(&sim->dq.outbound));
    json_set_int(o, "queueOverflowDropped", (int64_t)sim->dq.events_dropped);
    return o;
}

static json_object *notif_json(const struct ob_notification *n)
{
    json_object *o = json_object_new_object();
    json_set_str(o, "notificationId", n->id);
    json_set_str(o, "recordId", n->record_id);
    return o;
}

json_object *deliveries_to_json(struct sim *sim)
{
    int64_t now = util_mono_ms();
    json_object *root = json_object_new_object();
    json_object *wh = json_object_new_object();
    json_object *ob = json_object_new_object();
    json_object *wh_batches = json_object_new_array();
    json_object *ob_msgs = json_object_new_array();
    for (struct delivery *d = sim->dq.head; d; d = d->next) {
        json_object *o = json_object_new_object();
        json_set_int(o, "id", (int64_t)d->id);
        json_set_int(o, "attempts", d->attempt);
        json_set_int(o, "nextAttemptInMs", d->next_mono > now ? d->next_mono - now : 0);
        json_set_bool(o, "inFlight", d->in_flight);
        json_set_int(o, "lastStatus", d->last_status);
        json_set_str(o, "lastError", d->last_error);
        if (d->kind == DELIVERY_WEBHOOK) {
            json_object_object_add(o, "events", json_object_get(d->events));
            json_object_array_add(wh_batches, o);
        } else {
            json_set_str(o, "url", d->rule < sim->sf.n_rules ? sim->sf.rules[d->rule].url : "");
            json_object *ns = json_object_new_array();
            for (size_t i = 0; i < d->n_notifs; i++)
                json_object_array_add(ns, notif_json(&d->notifs[i]));
            json_object_object_add(o, "notifications", ns);
            json_object_array_add(ob_msgs, o);
        }
    }
    json_object_object_add(wh, "pendingEvents",
                           sim->dq.events ? json_object_get(sim->dq.events)
                                          : json_object_new_array());
    json_object_object_add(wh, "batches", wh_batches);
    json_object *pn = json_object_new_array();
    for (size_t i = 0; i < sim->dq.n_notifs; i++)
        json_object_array_add(pn, notif_json(&sim->dq.notifs[i].n));
    json_object_object_add(ob, "pendingNotifications", pn);
    json_object_object_add(ob, "messages", ob_msgs);
    json_object_object_add(root, "webhook", wh);
    json_object_object_add(root, "outbound", ob);
    return root;
}

/* Turns pending events/notifications into deliveries when their flush time has come. */
static void package_pending(struct sim *sim, int64_t now)
{
    size_t nev = sim->dq.events ? json_object_array_length(sim->dq.events) : 0;
    if (nev > 0 &&
        (sim->dq.flush_requested || now - sim->dq.events_since_mono >= sim->cfg.webhook_flush_ms)) {
        size_t max = (size_t)sim->cfg.webhook_max_batch;
        for (size_t i = 0; i < nev; i += max) {
            if (sim->dq.count >= SIM_MAX_DELIVERIES) {
                sim->dq.events_dropped += nev - i;
                break;
            }
            struct delivery *d = delivery_new(sim, DELIVERY_WEBHOOK);
            d->events = json_object_new_array();
            for (size_t j = i; j < nev && j < i + max; j++)
                json_object_array_add(
                    d->events, json_object_get(json_object_array_get_idx(sim->dq.events, j)));
            delivery_append(sim, d);
        }
        json_object_put(sim->dq.events);
        sim->dq.events = NULL;
    }
    if (sim->dq.n_notifs > 0 && (sim->dq.flush_requested ||
                                 now - sim->dq.notifs_since_mono >= sim->cfg.outbound_flush_ms)) {
        size_t max = (size_t)sim->cfg.outbound_max_batch;
        for (size_t r = 0; r < sim->sf.n_rules; r++) {
            struct delivery *d = NULL;
            for (size_t i = 0; i < sim->dq.n_notifs; i++) {
                if (sim->dq.notifs[i].rule != r)
                    continue;
                if (d && d->n_notifs >= max) {
                    delivery_append(sim, d);
                    d = NULL;
                }
                if (!d) {
                    if (sim->dq.count >= SIM_MAX_DELIVERIES) {
                        sim->dq.events_dropped++;
                        continue;
                    }
                    d = delivery_new(sim, DELIVERY_OUTBOUND);
                    d->rule = r;
                    d->notifs = xcalloc(max, sizeof *d->notifs);
                }
                d->notifs[d->n_notifs++] = sim->dq.notifs[i].n;
            }
            if (d)
                delivery_append(sim, d);
        }
        sim->dq.n_notifs = 0;
    }
    sim->dq.flush_requested = false;
}

static struct delivery *pick_due(struct sim *sim, int64_t now, int64_t *next_wake)
{
    for (struct delivery *d = sim->dq.head; d; d = d->next) {
        if (d->in_flight)
            continue;
        if (d->next_mono <= now)
            return d;
        if (d->next_mono < *next_wake)
            *next_wake = d->next_mono;
    }
    return NULL;
}

static struct curl_slist *add_header(struct curl_slist *l, const char *name, const char *value)
{
    char line[1024];
    snprintf(line, sizeof line, "%s: %s", name, value);
    struct curl_slist *n = curl_slist_append(l, line);
    return n ? n : l;
}

/* Builds what to send for d. Caller holds the lock. Returns -1 when d cannot be sent (config gone).
 */
static int build_job(struct sim *sim, struct delivery *d, struct job *job)
{
    memset(job, 0, sizeof *job);
    job->kind = d->kind;
    job->headers = add_header(NULL, "Expect", "");
    if (d->kind == DELIVERY_WEBHOOK) {
        if (!sim->cfg.hs_webhook_url[0])
            return -1;
        size_t n = json_object_array_length(d->events);
        for (size_t i = 0; i < n; i++)
            json_set_int(json_object_array_get_idx(d->events, i), "attemptNumber", d->attempt);
        job->body = json_to_heap(d->events, &job->len);
        job->url = xstrdup(sim->cfg.hs_webhook_url);
        job->timeout_ms = sim->cfg.webhook_timeout_ms;
        char v1[65];
        webhook_sign_v1(sim->cfg.hs_client_secret, job->body, job->len, v1);
        char ts[32];
        snprintf(ts, sizeof ts, "%lld", (long long)util_now_ms());
        char *uri = webhook_signature_uri(job->url);
        char *v3 = webhook_sign_v3(sim->cfg.hs_client_secret, "POST", uri, job->body, job->len, ts);
        job->headers = add_header(job->headers, "Content-Type", "application/json");
        job->headers = add_header(job->headers, "X-HubSpot-Signature", v1);
        job->headers = add_header(job->headers, "X-HubSpot-Signature-Version", "v1");
        job->headers = add_header(job->headers, "X-HubSpot-Signature-v3", v3);
        job->headers = add_header(job->headers, "X-HubSpot-Request-Timestamp", ts);
        job->headers =
            add_header(job->headers, "User-Agent", "HubSpot Connect 2.0 (http://dev.hubspot.com/)");
        free(uri);
        free(v3);
        return 0;
    }
    if (d->rule >= sim->sf.n_rules)
        return -1;
    const struct ob_rule *rule = &sim->sf.rules[d->rule];
    job->body = outbound_build(sim, rule, d->notifs, d->n_notifs, &job->len);
    if (!job->body)
        return -1;
    job->url = xstrdup(rule->url);
    job->timeout_ms = sim->cfg.outbound_timeout_ms;
    job->headers = add_header(job->headers, "Content-Type", "text/xml; charset=utf-8");
    job->headers = add_header(job->headers, "SOAPAction", "\"\"");
    job->headers = add_header(job->headers, "User-Agent", "Salesforce Outbound Messaging (crmsim)");
    return 0;
}

static void job_free(struct job *job)
{
    free(job->url);
    free(job->body);
    curl_slist_free_all(job->headers);
}

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    struct outcome *o = userdata;
    size_t n = size * nmemb;
    if (o->body.len + n > MAX_RESPONSE_BYTES)
        return 0; /* aborts the transfer: an acknowledgement is never this large */
    buf_append(&o->body, ptr, n);
    return n;
}

static int on_progress(void *clientp, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow)
{
    struct sim *sim = clientp;
    return atomic_load(&sim->stopping) ? 1 : 0;
}

static void perform(struct sim *sim, const struct job *job, struct outcome *out)
{
    memset(out, 0, sizeof *out);
    CURL *c = curl_easy_init();
    if (!c) {
        snprintf(out->error, sizeof out->error, "curl_easy_init failed");
        return;
    }
    char errbuf[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(c, CURLOPT_URL, job->url);
    curl_easy_setopt(c, CURLOPT_POST, 1L);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, job->body);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)job->len);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, job->headers);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)job->timeout_ms);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)job->timeout_ms);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(c, CURLOPT_XFERINFODATA, sim);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    CURLcode rc = curl_easy_perform(c);
    if (rc == CURLE_OK) {
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out->status);
    } else {
        snprintf(out->error, sizeof out->error, "%.150s",
                 errbuf[0] ? errbuf : curl_easy_strerror(rc));
    }
    curl_easy_cleanup(c);
}

static int64_t backoff_ms(int64_t base, int64_t max, int attempt)
{
    int64_t d = base;
    for (int i = 1; i < attempt && d < max; i++)
        d *= 2;
    return d > max ? max : d;
}

static void record_outcome(struct sim *sim, struct delivery *d, const struct outcome *o)
{
    struct delivery_counters *c =
        d->kind == DELIVERY_WEBHOOK ? &sim->dq.webhook : &sim->dq.outbound;
    bool ok;
    if (d->kind == DELIVERY_WEBHOOK)
        ok = o->status >= 200 && o->status < 300;
    else
        ok = o->status == 200 && outbound_is_ack(o->body.data, o->body.len);
    d->in_flight = false;
    d->last_status = (int)o->status;
    if (o->error[0])
        snprintf(d->last_error, sizeof d->last_error, "%s", o->error);
    else if (!ok)
        snprintf(d->last_error, sizeof d->last_error, "%s",
                 d->kind == DELIVERY_WEBHOOK ? "non-2xx response"
                                             : "no <Ack>true</Ack> in a 200 response");
    else
        d->last_error[0] = '\0';
    if (d->orphaned) {
        delivery_free(d);
        return;
    }
    if (ok) {
        c->acked++;
        delivery_unlink(sim, d);
        delivery_free(d);
        return;
    }
    c->failed++;
    d->attempt++;
    int64_t max_attempts = d->kind == DELIVERY_WEBHOOK ? sim->cfg.webhook_max_attempts
                                                       : sim->cfg.outbound_max_attempts;
    if (d->attempt >= max_attempts) {
        c->dropped++;
        delivery_unlink(sim, d);
        delivery_free(d);
        return;
    }
    if (d->kind == DELIVERY_WEBHOOK)
        d->next_mono = util_mono_ms() + backoff_ms(sim->cfg.webhook_retry_base_ms,
                                                   sim->cfg.webhook_retry_max_ms, d->attempt);
    else
        d->next_mono = util_mono_ms() + backoff_ms(sim->cfg.outbound_retry_base_ms,
                                                   sim->cfg.outbound_retry_max_ms, d->attempt);
}

static void wait_until(struct sim *sim, int64_t wake_mono)
{
    int64_t now = util_mono_ms();
    int64_t ms = wake_mono - now;
    if (ms <= 0)
        return;
    if (ms > 1000)
        ms = 1000;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (ms % 1000) * 1000000;
    if (ts.tv_nsec >= 1000000000) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000;
    }
    pthread_cond_timedwait(&sim->cond, &sim->lock, &ts);
}

static void *worker_main(void *arg)
{
    struct sim *sim = arg;
    pthread_mutex_lock(&sim->lock);
    while (!atomic_load(&sim->stopping)) {
        int64_t now = util_mono_ms();
        package_pending(sim, now);
        int64_t wake = now + 1000;
        if (sim->dq.events && json_object_array_length(sim->dq.events) > 0 &&
            sim->dq.events_since_mono + sim->cfg.webhook_flush_ms < wake)
            wake = sim->dq.events_since_mono + sim->cfg.webhook_flush_ms;
        if (sim->dq.n_notifs > 0 && sim->dq.notifs_since_mono + sim->cfg.outbound_flush_ms < wake)
            wake = sim->dq.notifs_since_mono + sim->cfg.outbound_flush_ms;
        struct delivery *d = pick_due(sim, now, &wake);
        if (!d) {
            wait_until(sim, wake);
            continue;
        }
        struct job job;
        if (build_job(sim, d, &job) < 0) {
            job_free(&job);
            struct delivery_counters *c =
                d->kind == DELIVERY_WEBHOOK ? &sim->dq.webhook : &sim->dq.outbound;
            c->dropped++;
            delivery_unlink(sim, d);
            delivery_free(d);
            continue;
        }
        d->in_flight = true;
        if (d->kind == DELIVERY_WEBHOOK)
            sim->dq.webhook.attempted++;
        else
            sim->dq.outbound.attempted++;
        pthread_mutex_unlock(&sim->lock);
        struct outcome out;
        perform(sim, &job, &out);
        pthread_mutex_lock(&sim->lock);
        record_outcome(sim, d, &out);
        buf_free(&out.body);
        job_free(&job);
    }
    pthread_mutex_unlock(&sim->lock);
    return NULL;
}

int deliveries_start(struct sim *sim, char *err, size_t errlen)
{
    for (size_t i = 0; i < SIM_DELIVERY_WORKERS; i++) {
        int rc = pthread_create(&sim->dq.workers[i], NULL, worker_main, sim);
        if (rc != 0) {
            snprintf(err, errlen, "cannot start delivery thread: %s", strerror(rc));
            return -1;
        }
        sim->dq.n_workers++;
    }
    return 0;
}

void deliveries_stop(struct sim *sim)
{
    for (size_t i = 0; i < sim->dq.n_workers; i++)
        pthread_join(sim->dq.workers[i], NULL);
    sim->dq.n_workers = 0;
}
