/* deliveries.h: the delivery queues for HubSpot webhooks and Salesforce outbound messages, and the
 * worker threads that send them.
 *
 * Owns sim->dq: events and notifications waiting to be batched, batches/messages waiting for their
 * next attempt, and the counters in /_sim/stats. Workers take sim->lock to pick work and to record
 * outcomes, and send with the lock released (see sim.h). Retries use exponential backoff
 * (retry_base_ms doubling, capped by retry_max_ms) up to max_attempts, each batch/message scheduled
 * independently. Must not: build payloads (webhooks.c / outbound.c do). */
#ifndef SYNKRO_TESTS_CRMSIM_DELIVERIES_H
#define SYNKRO_TESTS_CRMSIM_DELIVERIES_H

#include <json-c/json.h>

#include "tests/crmsim/sim.h"

/* Queues webhook events (the array's elements are referenced, not stolen). Caller holds sim->lock.
 * Events are dropped when no webhook URL is configured. */
void deliveries_queue_events(struct sim *sim, json_object *events);
/* Queues outbound notifications for every rule of object whose entry condition lets a change by
 * user modified_by through (a rule's skip_user models the flow's "LastModifiedById does not
 * equal" condition). Caller holds sim->lock. */
void deliveries_queue_outbound(struct sim *sim, const char *object, const char *record_id,
                               const char *modified_by);
/* Drops everything queued (in-flight sends finish and are discarded). Caller holds sim->lock. */
void deliveries_clear(struct sim *sim);
/* Drops queued outbound notifications and messages only (the rules changed). Caller holds
 * sim->lock. */
void deliveries_clear_outbound(struct sim *sim);
/* Makes everything pending due now and wakes the workers. Caller holds sim->lock. */
void deliveries_flush(struct sim *sim);
/* Pending work as JSON (caller puts). Caller holds sim->lock. */
json_object *deliveries_to_json(struct sim *sim);
/* Counters as JSON (caller puts). Caller holds sim->lock. */
json_object *deliveries_stats_json(struct sim *sim);
void deliveries_stats_reset(struct sim *sim);
/* Starts the worker threads. Caller does not hold the lock. 0 on success. */
int deliveries_start(struct sim *sim, char *err, size_t errlen);
/* Joins the workers; sim->stopping must already be set and broadcast. */
void deliveries_stop(struct sim *sim);

#endif
