/* doctor.h: what a real deployment still lacks, as a list of checks (`synkro doctor`,
 * GET /api/doctor).
 *
 * Each check is {"id","status":"ok|warn|fail","title","detail","fix"}: the public base URL; per
 * CRM whether the credentials work (HubSpot account details, Salesforce token and API version),
 * whether HUBSPOT_PORTAL_ID and SALESFORCE_ORG_ID are the ones the CRMs report, whether the
 * HubSpot token's scopes and the Salesforce integration user's field permissions cover every
 * enabled mapping, and whether each enabled mapping's objects have sent notifications within the
 * window (none while the sweep found changes: a warning naming the subscription or outbound
 * message to add). With them, per enabled mapping, the HubSpot subscriptions and the Salesforce
 * outbound-message fields to register.
 * Threads: any thread; uses that thread's CRM HTTP handle and one pooled connection at a time.
 * Must not: change anything in either CRM or in the database. */
#ifndef SYNKRO_SYNC_DOCTOR_H
#define SYNKRO_SYNC_DOCTOR_H

#include <json-c/json.h>

struct config;
struct crm_clients;
struct db_pool;

struct doctor_options {
    const struct config *cfg;      /* borrowed */
    const struct crm_clients *crm; /* borrowed */
    struct db_pool *pool;          /* borrowed */
    long webhook_window_s;         /* <= 0: 86400 (24 hours) */
};

/* Runs every check. Returns {"status":"ok|warn|fail" (the worst check),"checks":[...],
 * "registrations":[{"mapping_id","name","hubspot":{"object","target_url","subscriptions":
 * [{"subscriptionType","objectName"[,"propertyName"]}]},"salesforce":{"object","endpoint_url",
 * "fields":[...]}}]} (caller puts), or NULL when out of memory. */
json_object *doctor_run(const struct doctor_options *o);

#endif
