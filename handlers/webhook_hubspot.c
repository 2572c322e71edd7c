/* webhook_hubspot.c: the HubSpot front door, POST /webhooks/hubspot.
 *
 * Order: signature over the raw body, before any parsing (v3 with its
 * timestamp window; v1/v2 unless SYNKRO_HUBSPOT_REQUIRE_V3) against the URI
 * rebuilt from SYNKRO_PUBLIC_BASE_URL + path + raw query -> JSON parse
 * (hubspot_events.c) -> portal check -> one queue event per HubSpot event,
 * except synkro's own writes (SYNKRO_HUBSPOT_SKIP_OWN_WRITES) -> group commit -> 204. Refusals are
 * JSON errors with a log line and a metric; nothing is stored unless every check passed, and
 * nothing is acknowledged before it is committed. */
#include "handlers/webhook_hubspot.h"
#include "base/clock.h"

#include "handlers/hubspot_events.h"
#include "handlers/hubspot_signature.h"
#include "handlers/webhook_common.h"
#include "base/log.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define HS_SOURCE "hubspot"

static int refuse(struct http_request *req, unsigned status, const char *code, const char *message,
                  const char *outcome)
{
    webhook_count(HS_SOURCE, outcome, 1);
    log_with(status >= 500 ? LOG_LEVEL_ERROR : LOG_LEVEL_WARN, "hubspot webhook refused",
             LF_I("status", status), LF_S("code", code), LF_S("reason", message),
             LF_S("request_id", req->request_id));
    return http_respond_error(req, status, code, message);
}

static int verify_signature(struct http_request *req)
{
    const struct config *cfg = req->app->cfg;
    if (!cfg->hubspot_client_secret || !*cfg->hubspot_client_secret)
        return refuse(req, 401, "signature_unverifiable",
                      "webhooks cannot be verified: HUBSPOT_CLIENT_SECRET is not configured",
                      "rejected_signature");
    char *uri = hubspot_build_full_uri(cfg->public_base_url, req->path, req->query);
    if (!uri)
        return refuse(req, 500, "internal", "out of memory", "unavailable");
    struct hubspot_sig_request sig = {
        .method = req->method,
        .full_uri = uri,
        .body = req->body,
        .body_len = req->body_len,
        .signature_v3 = http_header(req, "X-HubSpot-Signature-v3"),
        .timestamp = http_header(req, "X-HubSpot-Request-Timestamp"),
        .signature = http_header(req, "X-HubSpot-Signature"),
        .signature_version = http_header(req, "X-HubSpot-Signature-Version"),
    };
    char err[256] = "";
    enum hubspot_sig_result r =
        hubspot_signature_verify(&sig, cfg->hubspot_client_secret, cfg->hubspot_require_v3,
                                 clock_wall_ms(), err, sizeof err);
    free(uri);
    if (r == HS_SIG_OK)
        return 0;
    if (r == HS_SIG_INTERNAL_ERROR)
        return refuse(req, 500, "internal", err, "unavailable");
    char code[48];
    snprintf(code, sizeof code, "signature_%s", hubspot_sig_result_name(r));
    return refuse(req, 401, code, err, "rejected_signature");
}

/* Refuses the whole request when any event belongs to another portal. */
static int check_portal(struct http_request *req, const struct hubspot_event_batch *batch)
{
    long long want = req->app->cfg->hubspot_portal_id;
    if (want == 0)
        return 0;
    for (size_t i = 0; i < batch->count; i++) {
        if (batch->events[i].portal_id != want) {
            char msg[160];
            snprintf(msg, sizeof msg, "event %zu belongs to portal %" PRId64 ", not %lld", i,
                     batch->events[i].portal_id, want);
            return refuse(req, 403, "wrong_portal", msg, "rejected_org");
        }
    }
    return 0;
}

/* What a suspended request keeps until it completes (req->handler_state). */
struct hs_pending {
    struct webhook_pending wp;
    struct hubspot_event_batch *batch; /* the events' strings live in its arena */
    struct queue_event *events;
    char (*keys)[HUBSPOT_EVENT_KEY_SIZE];
    char (*ids)[24];
};

static void hs_pending_free(void *st)
{
    struct hs_pending *p = st;
    hubspot_event_batch_free(p->batch);
    free(p->events);
    free(p->keys);
    free(p->ids);
    free(p);
}

static void store_start(struct http_request *req)
{
    struct hs_pending *p = req->handler_state;
    webhook_store_start(&p->wp);
}

/* On resume: the events are committed, or not. */
static int store_finish(struct http_request *req)
{
    struct hs_pending *p = req->handler_state;
    if (webhook_store_finish(&p->wp) < 0)
        return http_respond_error(req, 503, "unavailable",
                                  "the events could not be stored; HubSpot will retry");
    return http_respond(req, 204, NULL, "", 0);
}

/* Builds one queue event per HubSpot event and commits them on this thread when the writer is
 * idle, else suspends the request while they commit (the daemon thread serves other connections
 * meanwhile); takes the batch. Events of synkro's own writes (hubspot_event_is_own_write) are
 * left out when SYNKRO_HUBSPOT_SKIP_OWN_WRITES is on: they carry nothing synkro did not write
 * itself, and queued they would each be claimed and settled as an echo; a request of nothing
 * else is answered at once. */
static int store(struct http_request *req, struct hubspot_event_batch *batch)
{
    struct hs_pending *p = calloc(1, sizeof *p);
    if (!p) {
        hubspot_event_batch_free(batch);
        return refuse(req, 500, "internal", "out of memory", "unavailable");
    }
    p->batch = batch;
    req->handler_state = p;
    req->handler_state_free = hs_pending_free;
    size_t count = batch->count;
    struct queue_event *events = p->events = calloc(count, sizeof *events);
    char(*keys)[HUBSPOT_EVENT_KEY_SIZE] = p->keys = calloc(count, sizeof *keys);
    char(*ids)[24] = p->ids = calloc(count, sizeof *ids);
    if (!events || !keys || !ids)
        return refuse(req, 500, "internal", "out of memory", "unavailable");
    bool skip_own = req->app->cfg->hubspot_skip_own_writes;
    size_t n = 0;
    for (size_t k = 0; k < count; k++) {
        const struct hubspot_event *e = &batch->events[k];
        if (skip_own && hubspot_event_is_own_write(e))
            continue;
        hubspot_event_idempotency_key(e, keys[n], sizeof keys[n]);
        snprintf(ids[n], sizeof ids[n], "%" PRId64, e->object_id);
        events[n] = (struct queue_event){
            .source = HS_SOURCE,
            .idempotency_key = keys[n],
            .object_type = e->object_type_id ? e->object_type_id : e->subscription_type,
            .record_id = ids[n],
            .kind = hubspot_event_kind_name(e->kind),
            .occurred_at_ms = e->occurred_at,
            .status = NULL, /* decided by the mappings at insert */
            .payload_json = e->raw_json,
        };
        n++;
    }
    if (n < count)
        webhook_count(HS_SOURCE, "own_write", (double)(count - n));
    if (n == 0) /* only synkro's own writes: nothing to store */
        return http_respond(req, 204, NULL, "", 0);
    p->wp = (struct webhook_pending){.req = req, .source = HS_SOURCE, .events = events, .n = n};
    return webhook_store_or_suspend(&p->wp, store_start, store_finish);
}

int handle_webhook_hubspot(struct http_request *req)
{
    int rc = verify_signature(req);
    if (rc != 0 || req->responded)
        return rc;
    struct hubspot_event_batch *batch = NULL;
    char err[256] = "";
    int st = hubspot_events_parse(req->body, req->body_len, HUBSPOT_EVENTS_MAX_PER_REQUEST, &batch,
                                  err, sizeof err);
    if (st == HS_EV_EMPTY)
        return http_respond(req, 204, NULL, "", 0); /* nothing to store */
    if (st != HS_EV_OK) {
        unsigned status = st == HS_EV_INTERNAL_ERROR ? 500 : st == HS_EV_TOO_MANY ? 413 : 400;
        char code[48];
        snprintf(code, sizeof code, "events_%s", hubspot_events_result_name(st));
        return refuse(req, status, code, err,
                      st == HS_EV_INTERNAL_ERROR ? "unavailable" : "malformed");
    }
    rc = check_portal(req, batch);
    if (req->responded) {
        hubspot_event_batch_free(batch);
        return rc;
    }
    return store(req, batch);
}
