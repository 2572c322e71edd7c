/* outbound.h: Salesforce outbound messages: the SOAP 1.1 notification document and the
 * acknowledgement check.
 *
 * Owns the XML shape (built with libxml2's xmlTextWriter, so text is escaped by the library) and
 * the Ack parser (libxml2, matching namespace URIs and local names, never prefixes; no network, no
 * entities). Must not: queue or send (deliveries.c does). */
#ifndef SYNKRO_TESTS_CRMSIM_OUTBOUND_H
#define SYNKRO_TESTS_CRMSIM_OUTBOUND_H

#include <stdbool.h>
#include <stddef.h>

#include "tests/crmsim/sim.h"

/* Builds the <soapenv:Envelope> for notifications of rule (reading each record's CURRENT data;
 * deleted or missing records carry only their Id). Caller holds sim->lock and frees the result.
 * NULL on failure. */
char *outbound_build(struct sim *sim, const struct ob_rule *rule, const struct ob_notification *n,
                     size_t count, size_t *len);
/* True when body is a SOAP envelope whose notificationsResponse/Ack is "true". */
bool outbound_is_ack(const char *body, size_t len);

#endif
