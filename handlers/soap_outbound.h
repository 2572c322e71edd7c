/* soap_outbound.h: parse Salesforce SOAP 1.1 outbound messages and render their replies.
 *
 * Owns: the hardened libxml2 parse of one outbound-message POST body into a struct soap_message,
 * the acknowledgement and SOAP Fault bodies, the org-id comparison and the per-notification JSON
 * payload. Elements are matched by namespace URI and local name, never by prefix.
 *
 * Design: a raw-byte pre-scan rejects what libxml2 would waste time on (non-UTF-8 input, DOCTYPE,
 * start tags with more than SOAP_MAX_ATTRIBUTES attributes: libxml2 2.9 checks attributes in
 * quadratic time). libxml2 then parses with a per-call context: no network, no entity
 * substitution, no DTD loading, declared encodings ignored (the body is UTF-8), errors routed to a
 * per-context handler (nothing is printed), and SAX hooks that stop the parse at a DOCTYPE, at any
 * entity reference other than the five predefined ones, below SOAP_MAX_DEPTH, and beyond a node
 * budget derived from max_notifications (a tiny element costs libxml2 ~30 times its bytes, so
 * the tree's node count, not just the body size, is bounded). A validating
 * tree walk runs twice: once to size, once to copy every string into a single heap block, after
 * which the libxml2 tree is freed: the result is one allocation, freed with one call.
 *
 * Must not: log (the caller logs), put the SessionId or field values into error texts, or change
 * libxml2 global state after soap_outbound_init().
 *
 * Threads: soap_outbound_init() must run once, before other threads use libxml2 (it calls
 * xmlInitParser()). After that every function here is safe to call from any thread; a
 * struct soap_message is owned by one thread at a time. */
#ifndef SYNKRO_HANDLERS_SOAP_OUTBOUND_H
#define SYNKRO_HANDLERS_SOAP_OUTBOUND_H

#include <stdbool.h>
#include <stddef.h>

#include <json-c/json.h>

/* Salesforce sends at most 100 notifications per POST. */
#define SOAP_MAX_NOTIFICATIONS 100
/* Default byte limit when the caller passes max_bytes == 0. */
#define SOAP_DEFAULT_MAX_BYTES ((size_t)8 * 1024 * 1024)
/* Deepest element nesting accepted (a real message nests 6 deep). */
#define SOAP_MAX_DEPTH 32
/* Field elements accepted per sObject. */
#define SOAP_MAX_FIELDS 1000
/* Attributes, namespace declarations included, accepted on one start tag. */
#define SOAP_MAX_ATTRIBUTES 32
/* Longest object or field API name accepted (Salesforce allows 40 plus a 15-char namespace). */
#define SOAP_MAX_NAME_LEN 255

/* Results of soap_parse_notifications(); negative values are errors. Map them with a table:
 * MALFORMED, HOSTILE, INVALID, EMPTY -> 400 + Fault soapenv:Client; TOO_MANY, TOO_LARGE -> 413;
 * NOMEM -> 500 + Fault soapenv:Server. */
enum soap_status {
    SOAP_OK = 0,
    SOAP_ERR_MALFORMED = -1, /* not well-formed XML, not UTF-8, namespace errors */
    SOAP_ERR_HOSTILE = -2,   /* DOCTYPE, entity reference, too deep, too many attributes or nodes */
    SOAP_ERR_INVALID = -3,   /* well-formed XML but not a valid outbound message */
    SOAP_ERR_TOO_MANY = -4,  /* more notifications than allowed, or too many fields */
    SOAP_ERR_EMPTY = -5,     /* empty body, or a notifications element without Notification */
    SOAP_ERR_NOMEM = -6,     /* allocation failed */
    SOAP_ERR_TOO_LARGE = -7, /* body longer than max_bytes */
};

/* One field element of the sObject, in document order. */
struct soap_field {
    const char *name;  /* local name, e.g. "Budget__c"; [A-Za-z0-9_]{1,255} */
    const char *value; /* exact text (entities decoded, CDATA included, whitespace kept), UTF-8,
                          NUL-terminated; NULL iff is_null */
    size_t value_len;  /* strlen(value); 0 when is_null */
    bool is_null;      /* xsi:nil="true" or "1" */
};

struct soap_notification {
    const char *id;                  /* Notification/Id: 15 or 18 chars [A-Za-z0-9]; dedup key */
    const char *object_type;         /* sObject/@xsi:type after the colon, e.g. "Project__c" */
    const char *record_id;           /* the sObject's Id field; NULL when absent or nil */
    const struct soap_field *fields; /* field_count entries; a deleted record may have none */
    size_t field_count;
};

/* A parsed message. All strings point into the same block; never free them individually.
 * Fields the message omits are simply absent: the caller decides whether an omitted field that
 * the message is configured to send means null. */
struct soap_message {
    const char *organization_id; /* always present, 15 or 18 chars [A-Za-z0-9] */
    const char *action_id;       /* NULL when absent or nil; else 15 or 18 chars [A-Za-z0-9] */
    /* SECRET. A live Salesforce session. Present only so that soap_message_free() can wipe it:
     * callers must never store, log, forward or compare it. NULL when absent or nil. */
    char *session_id;
    const char *enterprise_url;                    /* NULL when absent or nil */
    const char *partner_url;                       /* NULL when absent or nil */
    const struct soap_notification *notifications; /* notification_count >= 1 entries */
    size_t notification_count;
};

/* Calls xmlInitParser(). Call once from the main thread at start, before any thread parses.
 * Returns 0. Never calls xmlCleanupParser(): other modules share libxml2. */
int soap_outbound_init(void);

/* Parses one outbound-message body (len bytes, need not be NUL-terminated).
 * max_bytes: longest body accepted (0 = SOAP_DEFAULT_MAX_BYTES, capped at INT_MAX).
 * max_notifications: most Notification elements accepted (0 = SOAP_MAX_NOTIFICATIONS).
 * On success returns SOAP_OK and sets *out; the caller frees it with soap_message_free().
 * On failure returns a negative enum soap_status, sets *out to NULL and writes one sentence to
 * err (when err is not NULL and errlen > 0); the sentence never contains the SessionId or a
 * field value. */
int soap_parse_notifications(const char *body, size_t len, size_t max_bytes,
                             size_t max_notifications, struct soap_message **out, char *err,
                             size_t errlen);

/* Wipes the SessionId and frees the message. Accepts NULL. */
void soap_message_free(struct soap_message *msg);

/* Short stable name of a status ("ok", "malformed", "hostile", ...) for logs and metrics. */
const char *soap_status_name(int status);

/* 1 when received (15 or 18 chars [A-Za-z0-9]) and configured (15 or 18 chars) agree on their
 * first 15 characters, case-sensitively, compared in constant time; 0 otherwise or on NULL. */
int soap_org_id_matches(const char *configured, const char *received);

/* The exact acknowledgement body (<Ack>true</Ack>). Caller frees with free(); NULL on OOM. */
char *soap_render_ack(void);

/* A SOAP 1.1 Fault envelope. faultcode: "soapenv:Client" or "soapenv:Server" (NULL means
 * Server; any other text is escaped and used as given). faultstring may be any byte string
 * (NULL = ""): markup characters are escaped, characters XML 1.0 cannot carry and invalid
 * UTF-8 become U+FFFD. Never pass a secret or a field value. Caller frees with free(); NULL on
 * OOM. */
char *soap_render_fault(const char *faultcode, const char *faultstring);

/* The raw payload stored for one notification of m:
 * {"notificationId","objectType","recordId","organizationId","actionId","enterpriseUrl",
 *  "fields":{name: "value" | null, ...}} with fields in document order; absent values are null.
 * Never contains the SessionId. Caller owns the result (json_object_put()); NULL on OOM or NULL
 * arguments. */
json_object *soap_notification_to_json(const struct soap_notification *n,
                                       const struct soap_message *m);

#endif
