/* hubspot_events.h: parse a HubSpot webhook body (a JSON array of events) into structs.
 *
 * Owns: the mapping of every documented event field to C types, the validation of required
 * fields, the derived event kind and object type, and the idempotency key of an event.
 *
 * Design: one json_tokener pass (depth-limited, strict, UTF-8 validated, whole input must be
 * consumed), then one table-driven walk per element. All strings of a batch are copied into one
 * arena owned by the batch, so the JSON tree is freed before returning and the batch is two heap
 * blocks in the usual case. Pointers inside an event live as long as the batch.
 *
 * Must not: log (the caller logs), look at signatures or headers, or decide HTTP status codes
 * (the handler maps the result codes; HubSpot retries every 4xx/5xx). */
#ifndef SYNKRO_HANDLERS_HUBSPOT_EVENTS_H
#define SYNKRO_HANDLERS_HUBSPOT_EVENTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* HubSpot sends fewer than 100 events per request; pass this as max_events at the call site. */
#define HUBSPOT_EVENTS_MAX_PER_REQUEST 100
/* Nesting depth accepted by the tokenizer (array > event > mergedObjectIds is 3). */
#define HUBSPOT_EVENTS_MAX_DEPTH 16
/* Idempotency key: "hs:" + 64 lowercase hex digits, plus NUL. */
#define HUBSPOT_EVENT_KEY_SIZE 68

enum hubspot_events_result {
    HS_EV_OK = 0,
    HS_EV_MALFORMED = -1,      /* not JSON, truncated, trailing bytes, too deep, invalid UTF-8 */
    HS_EV_NOT_ARRAY = -2,      /* valid JSON but not an array */
    HS_EV_EMPTY = -3,          /* "[]": HubSpot never sends it; the handler may answer 204 */
    HS_EV_TOO_MANY = -4,       /* more than max_events elements */
    HS_EV_INVALID = -5,        /* element not an object, required field missing, wrong type */
    HS_EV_INTERNAL_ERROR = -6, /* NULL arguments, body over INT32_MAX bytes, out of memory */
};

enum hubspot_event_kind {
    HS_EVENT_UNKNOWN = 0,
    HS_EVENT_CREATE,      /* *.creation */
    HS_EVENT_UPDATE,      /* *.propertyChange */
    HS_EVENT_DELETE,      /* *.deletion, *.privacyDeletion */
    HS_EVENT_ASSOCIATION, /* *.associationChange */
    HS_EVENT_MERGE,       /* *.merge */
    HS_EVENT_RESTORE,     /* *.restore */
};

/* One event. Integer fields carry a flag in `has` when optional; text fields are NULL when absent
 * or JSON null. All ids are >= 0 and taken from JSON integers, integral doubles below 2^53, or
 * decimal strings (so ids above 2^53 survive exactly). */
struct hubspot_event {
    enum hubspot_event_kind kind;
    int64_t event_id; /* required; NOT unique on its own */
    int64_t subscription_id;
    int64_t portal_id; /* required */
    int64_t app_id;
    int64_t occurred_at;           /* required; epoch ms */
    const char *subscription_type; /* required; from subscriptionType, else legacy eventType */
    int64_t attempt_number;        /* 0 on the first delivery */
    int64_t object_id;             /* required; for association events without objectId it is
                                      fromObjectId */
    const char *object_type_id;    /* objectTypeId, else derived (object_type_id_derived) from the
                                      subscriptionType prefix (contact 0-1, company 0-2, deal 0-3,
                                      ticket 0-5), else fromObjectTypeId, else NULL */
    bool object_type_id_derived;
    const char *property_name;
    const char *property_value; /* new value as text; numbers/bools as their JSON text; "" is
                                   a real value (clears the property), NULL means absent/null */
    const char *change_source;  /* CRM_UI, INTEGRATION, API, IMPORT, ... */
    const char *source_id;      /* for INTEGRATION: the app that wrote the change */

    /* association events */
    const char *association_type;
    int64_t from_object_id;
    int64_t to_object_id;
    const char *from_object_type_id;
    const char *to_object_type_id;
    int64_t association_type_id;
    const char *association_category;
    bool association_removed;
    bool is_primary_association;

    /* merge events */
    int64_t primary_object_id;
    const int64_t *merged_object_ids; /* merged_object_ids_count entries; NULL when absent */
    size_t merged_object_ids_count;
    int64_t new_object_id;

    const char *raw_json; /* this element's bytes in the body (whitespace around it trimmed), for
                           * storage as jsonb */
    size_t raw_json_len;

    struct {
        bool subscription_id, app_id, attempt_number, object_id_field, from_object_id, to_object_id,
            association_type_id, association_removed, is_primary_association, primary_object_id,
            merged_object_ids, new_object_id;
    } has; /* object_id_field: objectId itself was present (not taken from fromObjectId) */
};

struct hubspot_events_arena; /* private */

/* A parsed body. events[0..count-1] and every string they point to belong to the batch. */
struct hubspot_event_batch {
    size_t count;
    struct hubspot_events_arena *arena;
    struct hubspot_event events[];
};

/* Parses body (len bytes, need not be NUL-terminated) into *out. max_events limits the array
 * length (0 means HUBSPOT_EVENTS_MAX_PER_REQUEST). On HS_EV_OK *out is a batch with count >= 1;
 * caller frees with hubspot_event_batch_free(). On any other result *out is NULL and err (may be
 * NULL) holds a plain sentence naming the element index and field, never a field value. */
int hubspot_events_parse(const char *body, size_t len, size_t max_events,
                         struct hubspot_event_batch **out, char *err, size_t errlen);

/* Frees a batch from hubspot_events_parse(). Accepts NULL. */
void hubspot_event_batch_free(struct hubspot_event_batch *batch);

/* Writes "hs:" + hex(SHA-256) over length-prefixed portalId, subscriptionType, objectTypeId,
 * objectId, propertyName, occurredAt and eventId (NOT attemptNumber: a redelivery gets the same
 * key). Always HUBSPOT_EVENT_KEY_SIZE - 1 characters. Returns 0, or -1 when e/out is NULL or
 * outlen < HUBSPOT_EVENT_KEY_SIZE (out then holds "" if outlen > 0) or hashing fails. */
int hubspot_event_idempotency_key(const struct hubspot_event *e, char *out, size_t outlen);

/* True when e records a change synkro's own app made: changeSource "INTEGRATION" and a sourceId
 * that is exactly the decimal appId of the event (the app the webhook subscription belongs to,
 * which is synkro's). HubSpot documents changeSource but not sourceId (docs: "observed"); any
 * other shape, a missing appId or sourceId, or a sourceId of another app ("userId:...", a
 * different number, leading zeros, a sign) is not an own write. */
bool hubspot_event_is_own_write(const struct hubspot_event *e);

/* Kind from a subscriptionType ("contact.propertyChange" -> HS_EVENT_UPDATE); by the text after
 * the last '.', exact case. NULL or an unlisted suffix gives HS_EVENT_UNKNOWN. */
enum hubspot_event_kind hubspot_event_kind_from_type(const char *subscription_type);

/* "create", "update", "delete", "association", "merge", "restore" or "unknown". Never NULL. */
const char *hubspot_event_kind_name(enum hubspot_event_kind kind);

/* "ok", "malformed", "not_array", "empty", "too_many", "invalid", "internal_error" or
 * "unknown". Never NULL. */
const char *hubspot_events_result_name(int result);

#endif
