/* daily_limit.h: a CRM account's daily API allocation as the CRM's answers report it, and the
 * stop before it is used up (issue 17).
 *
 * HubSpot's X-HubSpot-RateLimit-Daily / -Daily-Remaining and Salesforce's Sforce-Limit-Info
 * (api-usage=USED/MAX) are the account's own count: every integration's calls, not only
 * synkro's. So the stop is driven by what the answers say, not by tokens: when the usage one
 * answer reports reaches the configured share (HUBSPOT_DAILY_MAX_PERCENT,
 * SALESFORCE_API_DAILY_MAX_PERCENT), the client pauses the account's shared limit for every
 * instance (crm/shared_budget.h) with a reason; when the pause ends, the next call probes, and
 * its answer either stops again or resumes.
 *
 * Owns the parsers (pure), the threshold decision (pure) and one struct daily_stop per client:
 * when this process last stopped and whether a stop was logged and not yet its resume.
 * Locking: none; the struct's fields are atomics (answers arrive on any thread), and only the
 * thread whose compare-and-swap moves `until` stops (one pause per stop, not one per answer in
 * flight). Logs the stop (warn) and the resume (info) once each; counts stops in
 * synkro_crm_daily_stops_total{crm}.
 * Must not: pause anything itself (the caller does, with the pause this answers), call a CRM or
 * the database, or block. */
#ifndef SYNKRO_CRM_DAILY_LIMIT_H
#define SYNKRO_CRM_DAILY_LIMIT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The largest count a header may carry (larger: garbage). */
#define DAILY_LIMIT_MAX_COUNT 1000000000000LL

/* A header value as a plain decimal count: blanks around, digits only, <= DAILY_LIMIT_MAX_COUNT.
 * 0 with *out, or -1 (NULL, empty, sign, garbage, overflow). */
int daily_limit_parse_count(const char *s, long long *out);

/* HubSpot's X-HubSpot-RateLimit-Daily (max) and -Daily-Remaining: 0 with *used = max - remaining
 * and *max, or -1 when either is absent or not a plain count, max is 0, or remaining > max. */
int daily_limit_parse_hubspot(const char *daily, const char *remaining, long long *used,
                              long long *max);

/* Salesforce's Sforce-Limit-Info ("api-usage=USED/MAX", other entries around, separated by
 * commas or semicolons):
 * 0 with *used and *max (> 0; used may exceed max: Salesforce lets an org go over a little), or
 * -1 when there is no such entry or it is not two plain counts. */
int daily_limit_parse_salesforce(const char *hdr, long long *used, long long *max);

/* True when used is at least max_percent (1..100; outside: clamped) of max (> 0). */
bool daily_limit_reached(long long used, long long max, int max_percent);

/* One client's stop. Fill crm, setting and max_percent, zero the rest (or use
 * daily_stop_init). */
struct daily_stop {
    const char *crm;     /* static: "hubspot", "salesforce" (logs, metric label) */
    const char *setting; /* static: the variable named in the reason */
    int max_percent;
    _Atomic int64_t until_ms; /* monotonic: this process stopped the account until then */
    atomic_bool stopped;      /* a stop was logged, its resume not yet */
};

void daily_stop_init(struct daily_stop *ds, const char *crm, const char *setting, int max_percent);

/* One answer's reading at now_ms (monotonic): the pause (ms, > 0) the caller must set for
 * every instance, with its reason in why (the usage and the setting), when the usage reached the
 * max and this process has not stopped already (its last stop has ended: this answer is the
 * probe's); else 0. pause_ms is how long a stop lasts. A reading under the max after a stop has
 * ended logs the resume. */
int64_t daily_stop_note(struct daily_stop *ds, long long used, long long max, int64_t now_ms,
                        int64_t pause_ms, char *why, size_t whylen);

/* How long this process's own stop still holds at now_ms (0: none): for a client without a
 * shared budget. */
int64_t daily_stop_left(struct daily_stop *ds, int64_t now_ms);

/* How long from wall-clock wall_ms until the next UTC midnight, at most cap_ms, at least 1 s:
 * HubSpot's stop (it resets at midnight in the account's time zone, which synkro does not know,
 * so a stop longer than cap_ms ends in a probe). */
int64_t daily_limit_until_utc_midnight(int64_t wall_ms, int64_t cap_ms);

#endif
