/* crm_budget.h: the CRM API budget as this process sees it, for the console's health page
 * (GET /api/budget): each client's client-side limits, its calls and rate-limit refusals of the
 * last hour, its last 20 refusals, and each CRM's daily allocation when an answer reported it.
 *
 * Reads the clients' limiters and counters (crm/rate_limit.h, crm/crm_call_stats.h) and the shared
 * budget's rows (db/budget_store.h); changes nothing. Must not: log, call a CRM, or decide anything
 * about budgets. */
#ifndef SYNKRO_CRM_CRM_BUDGET_H
#define SYNKRO_CRM_CRM_BUDGET_H

#include "crm/crm_clients.h"

#include <json-c/json.h>
#include <stdint.h>

/* {"hubspot":{"configured":bool,"limits":[{"name","capacity","available","interval_s"}],
 *   "calls_last_hour":n,"rate_limited_last_hour":n,
 *   "recent_429":[{"at":"ISO8601","policy":"…","retry_after_s":x}]},
 *   "shared":{"account":"hubspot:42","available":bool,"limits":[{"name","capacity","in_use",
 *     "available","interval_s","paused_s","pause_reason","taken","empty_takes","pauses"}]}|null},
 *  "salesforce":{…the same…}}
 * daily_api_requests is the account's daily allocation as the last answer reported it (HubSpot's
 * X-HubSpot-RateLimit-Daily / -Daily-Remaining, Salesforce's Sforce-Limit-Info; null before one),
 * stop_percent the share at which every instance stops calling (HUBSPOT_DAILY_MAX_PERCENT,
 * SALESFORCE_API_DAILY_MAX_PERCENT: the stop is the shared limit's pause and its pause_reason).
 * "limits" are this process's own buckets (the fallback while the shared budget's database does
 * not answer); "shared" is the budget every instance takes from (crm/shared_budget.h), read from
 * the database (one statement per CRM), null when SYNKRO_CRM_BUDGET_SHARED is off; taken counts
 * the tokens leased by every instance, empty_takes the leases that found none free, pauses the
 * CRM's refusals (429, REQUEST_LIMIT_EXCEEDED) that paused the limit.
 * as of now_ms (wall clock). A client that is not configured answers configured false, no limits
 * and zeros. recent_429 is newest first. Caller puts; NULL when out of memory. */
json_object *crm_budget_json(const struct crm_clients *clients, int64_t now_ms);

#endif
