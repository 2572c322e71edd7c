/* webhook_salesforce.c: the Salesforce front door, POST /webhooks/salesforce.
 *
 * Order: endpoint token (?token=, when SYNKRO_SF_ENDPOINT_TOKEN is set) ->
 * hardened SOAP parse (soap_outbound.c) -> OrganizationId check -> one queue
 * event per Notification -> group commit -> <Ack>true</Ack>. Every refusal is
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

static int store_and_ack(struct http_request *req, const struct soap_message *msg)
{
    size_t n = msg->notification_count;
    struct queue_event *events = calloc(n, sizeof *events);
    char **keys = calloc(n, sizeof *keys);
    json_object **payloads = calloc(n, sizeof *payloads);
    int rc;
    char err[256] = "";
    if (!events || !keys || !payloads || build_events(msg, events, keys, payloads) < 0) {
        rc = respond_fault(req, 500, "soapenv:Server", "out of memory", "unavailable");
    } else if (webhook_store(req, SF_SOURCE, events, n, err, sizeof err) < 0) {
        char *body =
            soap_render_fault("soapenv:Server", "the events could not be stored; retry later");
        http_set_error_code(req, "unavailable");
        rc = body ? http_respond(req, 503, "text/xml; charset=utf-8", body, strlen(body))
                  : http_respond_error(req, 503, "unavailable", "database unavailable");
        free(body);
    } else {
        char *ack = soap_render_ack();
        rc = ack ? http_respond(req, 200, "text/xml; charset=utf-8", ack, strlen(ack))
                 : http_respond_error(req, 500, "internal", "out of memory");
        free(ack);
        size_t stored = 0;
        for (size_t i = 0; i < n; i++)
            stored += events[i].outcome == QUEUE_STORED;
        log_with(LOG_LEVEL_DEBUG, "salesforce message stored", LF_I("notifications", (long long)n),
                 LF_I("stored", (long long)stored), LF_S("request_id", req->request_id));
    }
    for (size_t i = 0; keys && payloads && i < n; i++) {
        free(keys[i]);
        json_object_put(payloads[i]);
    }
    free(keys);
    free(payloads);
    free(events);
    return rc;
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
    int rc;
    if (!soap_org_id_matches(cfg->salesforce_org_id, msg->organization_id))
        rc = respond_fault(req, 403, "soapenv:Client",
                           "the message comes from an organization this endpoint does not accept",
                           "rejected_org");
    else
        rc = store_and_ack(req, msg);
    soap_message_free(msg);
    return rc;
}
