/* webhook_salesforce.c: the Salesforce front door, POST /webhooks/salesforce.
 *
 * Order: endpoint token (?token=, when SYNKRO_SF_ENDPOINT_TOKEN is set) ->
 * hardened SOAP parse (soap_outbound.c) -> OrganizationId check -> one queue
 * event per Notification -> group commit (the connection suspended meanwhile, no daemon thread
 * held) -> <Ack>true</Ack>. Every refusal is
 * a SOAP Fault with the HTTP status from the table below, a log line and a
 * metric; nothing is stored before the checks pass, and nothing is
 * acknowledged before it is committed. The SessionId is never stored or
 * logged: soap_notification_to_json leaves it out and soap_message_free
 * wipes it. */
#include "handlers/webhook_salesforce.h"

#include "handlers/soap_outbound.h"
#include "handlers/webhook_common.h"
#include "base/iso8601.h"
#include "base/log.h"
#include "base/secret.h"

#include <stdlib.h>
#include <string.h>

#define SF_SOURCE "salesforce"

/* How each parse result is answered. */
static const struct {
    int status;
    unsigned http;
    const char *faultcode;
    const char *outcome;
} parse_errors[] = {
    {SOAP_ERR_MALFORMED, 400, "soapenv:Client", "malformed"},
    {SOAP_ERR_HOSTILE, 400, "soapenv:Client", "malformed"},
    {SOAP_ERR_INVALID, 400, "soapenv:Client", "malformed"},
    {SOAP_ERR_EMPTY, 400, "soapenv:Client", "malformed"},
    {SOAP_ERR_TOO_MANY, 413, "soapenv:Client", "malformed"},
    {SOAP_ERR_TOO_LARGE, 413, "soapenv:Client", "malformed"},
    {SOAP_ERR_NOMEM, 500, "soapenv:Server", "unavailable"},
};

static int respond_fault(struct http_request *req, unsigned status, const char *faultcode,
                         const char *message, const char *outcome)
{
    webhook_count(SF_SOURCE, outcome, 1);
    log_with(status >= 500 ? LOG_LEVEL_ERROR : LOG_LEVEL_WARN, "salesforce message refused",
             LF_I("status", status), LF_S("reason", message), LF_S("request_id", req->request_id));
    char *body = soap_render_fault(faultcode, message);
    if (!body)
        return http_respond_error(req, 500, "internal", "out of memory");
    http_set_error_code(req, outcome);
    int rc = http_respond(req, status, "text/xml; charset=utf-8", body, strlen(body));
    free(body);
    return rc;
}

static const char *field_value(const struct soap_notification *n, const char *name)
{
    for (size_t i = 0; i < n->field_count; i++)
        if (!n->fields[i].is_null && strcmp(n->fields[i].name, name) == 0)
            return n->fields[i].value;
    return NULL;
}

/* Messages carry no create/update flag: CreatedDate == LastModifiedDate
 * suggests a create; a notification with no data (record deleted before
 * delivery) is "unknown" and the worker re-reads the record. */
static const char *notification_kind(const struct soap_notification *n)
{
    const char *created = field_value(n, "CreatedDate");
    const char *modified = field_value(n, "LastModifiedDate");
    if (created && modified && strcmp(created, modified) == 0)
        return "create";
    for (size_t i = 0; i < n->field_count; i++)
        if (strcmp(n->fields[i].name, "Id") != 0)
            return "update";
    return "unknown";
}

static int64_t notification_time(const struct soap_notification *n)
{
    static const char *const candidates[] = {"SystemModstamp", "LastModifiedDate", "CreatedDate"};
    for (size_t i = 0; i < sizeof candidates / sizeof candidates[0]; i++) {
        int64_t ms = iso8601_parse_ms(field_value(n, candidates[i]));
        if (ms > 0)
            return ms;
    }
    return 0;
}

/* Builds one queue event per notification; keys and payload texts are
 * allocated into keys[]/payloads[] (freed by the caller). */
static int build_events(const struct soap_message *msg, struct queue_event *events, char **keys,
                        json_object **payloads)
{
    for (size_t i = 0; i < msg->notification_count; i++) {
        const struct soap_notification *n = &msg->notifications[i];
        size_t klen = strlen(n->id) + 4;
        keys[i] = malloc(klen);
        payloads[i] = soap_notification_to_json(n, msg);
        if (!keys[i] || !payloads[i])
            return -1;
        snprintf(keys[i], klen, "sf:%s", n->id);
        events[i] = (struct queue_event){
            .source = SF_SOURCE,
            .idempotency_key = keys[i],
            .object_type = n->object_type,
            .record_id = n->record_id,
            .kind = notification_kind(n),
            .occurred_at_ms = notification_time(n),
            .status = NULL, /* decided by the mappings at insert */
            .payload_json = json_object_to_json_string_ext(payloads[i], JSON_C_TO_STRING_PLAIN),
        };
        if (!events[i].payload_json)
            return -1;
    }
    return 0;
}

/* What a suspended request keeps until it completes (req->handler_state): the parsed message
 * (the events point into it; soap_message_free wipes the SessionId), and each event's key and
 * payload. */
struct sf_pending {
    struct webhook_pending wp;
    struct soap_message *msg;
    struct queue_event *events;
    char **keys;
    json_object **payloads;
};

static void sf_pending_free(void *st)
{
    struct sf_pending *p = st;
    for (size_t i = 0; p->keys && p->payloads && i < p->wp.n; i++) {
        free(p->keys[i]);
        json_object_put(p->payloads[i]);
    }
    free(p->keys);
    free(p->payloads);
    free(p->events);
    soap_message_free(p->msg);
    free(p);
}

static void store_start(struct http_request *req)
{
    struct sf_pending *p = req->handler_state;
    webhook_store_start(&p->wp);
}

/* On resume: the events are committed (<Ack>), or not (a SOAP fault: Salesforce retries). */
static int store_finish(struct http_request *req)
{
    struct sf_pending *p = req->handler_state;
    int rc;
    if (webhook_store_finish(&p->wp) < 0) {
        char *body =
            soap_render_fault("soapenv:Server", "the events could not be stored; retry later");
        http_set_error_code(req, "unavailable");
        rc = body ? http_respond(req, 503, "text/xml; charset=utf-8", body, strlen(body))
                  : http_respond_error(req, 503, "unavailable", "database unavailable");
        free(body);
        return rc;
    }
    char *ack = soap_render_ack();
    rc = ack ? http_respond(req, 200, "text/xml; charset=utf-8", ack, strlen(ack))
             : http_respond_error(req, 500, "internal", "out of memory");
    free(ack);
    return rc;
}

/* Builds one queue event per notification and commits them on this thread when the writer is
 * idle, else suspends the request while they commit (the daemon thread serves other connections
 * meanwhile); takes msg. */
static int store_and_ack(struct http_request *req, struct soap_message *msg)
{
    size_t n = msg->notification_count;
    struct sf_pending *p = calloc(1, sizeof *p);
    if (!p) {
        soap_message_free(msg);
        return respond_fault(req, 500, "soapenv:Server", "out of memory", "unavailable");
    }
    p->msg = msg;
    p->wp.n = n; /* how many keys/payloads sf_pending_free looks at */
    req->handler_state = p;
    req->handler_state_free = sf_pending_free;
    p->events = calloc(n, sizeof *p->events);
    p->keys = calloc(n, sizeof *p->keys);
    p->payloads = calloc(n, sizeof *p->payloads);
    if (!p->events || !p->keys || !p->payloads ||
        build_events(msg, p->events, p->keys, p->payloads) < 0)
        return respond_fault(req, 500, "soapenv:Server", "out of memory", "unavailable");
    p->wp = (struct webhook_pending){.req = req, .source = SF_SOURCE, .events = p->events, .n = n};
    return webhook_store_or_suspend(&p->wp, store_start, store_finish);
}

int handle_webhook_salesforce(struct http_request *req)
{
    const struct config *cfg = req->app->cfg;
    if (cfg->sf_endpoint_token && *cfg->sf_endpoint_token &&
        !secret_equal(http_query_arg(req, "token"), cfg->sf_endpoint_token))
        return respond_fault(req, 401, "soapenv:Client",
                             "missing or wrong endpoint token (?token=)", "rejected_signature");
    if (!cfg->salesforce_org_id || !*cfg->salesforce_org_id)
        return respond_fault(req, 403, "soapenv:Client",
                             "this endpoint accepts no organization: SALESFORCE_ORG_ID is not "
                             "configured",
                             "rejected_org");

    struct soap_message *msg = NULL;
    char err[256] = "";
    int st = soap_parse_notifications(req->body, req->body_len, (size_t)cfg->max_body_bytes,
                                      SOAP_MAX_NOTIFICATIONS, &msg, err, sizeof err);
    if (st != SOAP_OK) {
        for (size_t i = 0; i < sizeof parse_errors / sizeof parse_errors[0]; i++)
            if (parse_errors[i].status == st)
                return respond_fault(req, parse_errors[i].http, parse_errors[i].faultcode, err,
                                     parse_errors[i].outcome);
        return respond_fault(req, 400, "soapenv:Client", err, "malformed");
    }
    if (!soap_org_id_matches(cfg->salesforce_org_id, msg->organization_id)) {
        soap_message_free(msg);
        return respond_fault(req, 403, "soapenv:Client",
                             "the message comes from an organization this endpoint does not "
                             "accept",
                             "rejected_org");
    }
    return store_and_ack(req, msg);
}
