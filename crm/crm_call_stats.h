/* crm_call_stats.h: what one CRM client has spent of its API budget lately, as the console's
 * budget view shows it: calls per minute over the last hour, the CRM's rate-limit refusals (429s,
 * Salesforce's REQUEST_LIMIT_EXCEEDED) per minute and the last 20 of them, and the daily API
 * allocation the CRM last reported (Sforce-Limit-Info: api-usage=USED/MAX; HubSpot's
 * X-HubSpot-RateLimit-Daily and -Daily-Remaining).
 *
 * Owns one struct per client: 60 per-minute slots (each tagged with its minute, so a slot left
 * from an earlier hour reads as zero and is reset when reused) and a ring of the last
 * CRM_CALL_STATS_RECENT refusals (the oldest is overwritten).
 *
 * Locking: one mutex per struct guards the slots, the ring and the usage; every function takes
 * it for a few assignments only and never calls out while holding it. Times are wall-clock
 * milliseconds passed in by the caller (base/clock's clock_wall_ms), so tests choose them.
 * Must not: decide anything about budgets (crm/rate_limit.c and the clients do), log, or block. */
#ifndef SYNKRO_CRM_CRM_CALL_STATS_H
#define SYNKRO_CRM_CRM_CALL_STATS_H

#include <stdbool.h>
#include <stdint.h>

#define CRM_CALL_STATS_RECENT  20 /* refusals kept in the ring */
#define CRM_CALL_STATS_MINUTES 60 /* per-minute slots: the last hour */

struct crm_call_stats;

/* One remembered refusal. */
struct crm_refusal {
    int64_t at_ms;       /* wall clock */
    char policy[48];     /* HubSpot policyName (TEN_SECONDLY_ROLLING, SECONDLY, DAILY), else the
                            error code; "UNKNOWN" when the CRM named none */
    long retry_after_ms; /* the wait the answer asked for (0 when none) */
};

/* A consistent copy of the counters at one instant. */
struct crm_call_stats_snapshot {
    long calls_last_hour;        /* HTTP requests answered in the last 60 minutes */
    long rate_limited_last_hour; /* refusals among them */
    int nrecent;                 /* entries in recent, newest first */
    struct crm_refusal recent[CRM_CALL_STATS_RECENT];
    bool have_usage; /* a daily allocation was reported */
    long long usage_used, usage_max;
};

/* One client-side budget as the console shows it. */
struct crm_limit_view {
    const char *name; /* static: "burst", "search" */
    int capacity;     /* tokens per interval */
    int available;    /* tokens free right now */
    int interval_s;   /* the CRM's window in seconds */
};

/* A zeroed struct; NULL when out of memory. Caller frees with crm_call_stats_destroy(). */
struct crm_call_stats *crm_call_stats_create(void);
/* Accepts NULL. No thread may still use it. */
void crm_call_stats_destroy(struct crm_call_stats *s);

/* One answered request at now_ms. A NULL s is ignored (as in every function below). */
void crm_call_stats_note_call(struct crm_call_stats *s, int64_t now_ms);
/* One refusal at now_ms (counted in its minute and put in the ring); policy NULL or "" is
 * "UNKNOWN", and is cut to the field's size. Does not count a call (note_call does). */
void crm_call_stats_note_refusal(struct crm_call_stats *s, int64_t now_ms, const char *policy,
                                 long retry_after_ms);
/* The daily allocation as last reported (used >= 0, max > 0, else ignored). */
void crm_call_stats_note_usage(struct crm_call_stats *s, long long used, long long max);

/* Fills out as of now_ms: minutes (now_ms - 60 min, now_ms] count. A NULL s gives zeros. */
void crm_call_stats_snapshot(struct crm_call_stats *s, int64_t now_ms,
                             struct crm_call_stats_snapshot *out);

#endif
