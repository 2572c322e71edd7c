/* webhooks.h: HubSpot webhook events and request signatures.
 *
 * Owns the event JSON shape (eventId, subscriptionId, portalId, appId, occurredAt,
 * subscriptionType, attemptNumber, objectId, objectTypeId, changeSource, sourceId, ...) and the
 * v1/v2/v3 signatures, written independently of synkro's verifier with OpenSSL. Callers hold
 * sim->lock for webhook_event_new. Must not: queue or send anything (deliveries.c does). */
#ifndef SYNKRO_TESTS_CRMSIM_WEBHOOKS_H
#define SYNKRO_TESTS_CRMSIM_WEBHOOKS_H

#include <json-c/json.h>
#include <stddef.h>
#include <stdint.h>

#include "tests/crmsim/sim.h"
#include "tests/crmsim/store.h"

/* A new event with the common fields filled for a change made within txn (caller owns; usually
 * passes it to txn_event). object_id may be NULL for association events. */
json_object *webhook_event_new(struct sim *sim, const struct txn *t, const char *subscription_type,
                               const char *object_type_id, const char *object_id,
                               int64_t occurred_ms);
/* Turns ev into a propertyChange for property (propertyName/propertyValue and the per-property
 * subscriptionId). */
void webhook_event_set_property(json_object *ev, const char *property, const char *value);
/* v1: hex(SHA-256(secret + body)) into out (65 bytes). */
void webhook_sign_v1(const char *secret, const char *body, size_t len, char *out);
/* v2: hex(SHA-256(secret + method + uri + body)) into out (65 bytes). */
void webhook_sign_v2(const char *secret, const char *method, const char *uri, const char *body,
                     size_t len, char *out);
/* v3: base64(HMAC-SHA256(secret, method + uri + body + timestamp)); caller frees. */
char *webhook_sign_v3(const char *secret, const char *method, const char *uri, const char *body,
                      size_t len, const char *timestamp);
/* The URI as HubSpot hashes it: the called URL with %3A %2F %3F %40 %21 %24 %27 %28 %29 %2A %2C %3B
 * decoded (both hex cases); every other escape kept. Caller frees. */
char *webhook_signature_uri(const char *url);

#endif
