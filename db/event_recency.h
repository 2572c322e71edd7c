/* event_recency.h: how recently change notifications of one object arrived from a CRM (synkro
 * doctor's "are the webhooks registered" check).
 *
 * A notification is an event a CRM sent (HubSpot webhook, Salesforce outbound message); events
 * synkro queued itself (the sweep's "sweep:" keys, imports and "synkro-" follow-ups) are counted
 * apart, as proof that records changed in the CRM. Must not: decide what is recent enough. */
#ifndef SYNKRO_DB_EVENT_RECENCY_H
#define SYNKRO_DB_EVENT_RECENCY_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>

struct event_recency {
    bool any_notification;     /* a notification of the object was ever kept */
    double notification_age_s; /* age of the newest one (when any_notification) */
    long long sweep_changes;   /* sweep events of the object within the window */
};

/* For source ("hubspot" or "salesforce") and an object named by any of the n names (HubSpot: the
 * objectTypeId and the document's name), over the last window_s seconds. 0, or -1 with err. */
int event_recency_get(PGconn *conn, const char *source, const char *const *names, size_t n,
                      long window_s, struct event_recency *out, char *err, size_t errlen);

#endif
