/* crm_call_stats.c: per-minute call and refusal counters for the last hour, the ring of recent
 * refusals and the last reported daily allocation of one CRM client (see the header).
 *
 * Why it is correct: a slot is indexed by minute % 60 and tagged with its minute; writing to a
 * slot whose tag is another minute first resets it, and a snapshot counts only slots whose tag
 * lies within the last 60 minutes, so a slot from a past hour (or a clock that went back) never
 * adds stale counts. The ring's head and count only move under the mutex.
 * Must not: hold the mutex across anything but plain assignments. */
#include "crm/crm_call_stats.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MINUTE_MS 60000

struct minute_slot {
    int64_t minute; /* now_ms / 60000 of the counts below; -1: never used */
    long calls;
    long refusals;
};

struct crm_call_stats {
    pthread_mutex_t lock; /* guards everything below */
    struct minute_slot slots[CRM_CALL_STATS_MINUTES];
    struct crm_refusal ring[CRM_CALL_STATS_RECENT];
    int head;  /* next ring position written */
    int count; /* ring entries in use */
    bool have_usage;
    long long used, max;
};

struct crm_call_stats *crm_call_stats_create(void)
{
    struct crm_call_stats *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    if (pthread_mutex_init(&s->lock, NULL) != 0) {
        free(s);
        return NULL;
    }
    for (int i = 0; i < CRM_CALL_STATS_MINUTES; i++)
        s->slots[i].minute = -1;
    return s;
}

void crm_call_stats_destroy(struct crm_call_stats *s)
{
    if (!s)
        return;
    pthread_mutex_destroy(&s->lock);
    free(s);
}

static int64_t minute_of(int64_t ms)
{
    return ms >= 0 ? ms / MINUTE_MS : 0;
}

/* The slot of now_ms's minute, reset when it held another minute. Caller holds the lock. */
static struct minute_slot *slot_for(struct crm_call_stats *s, int64_t now_ms)
{
    int64_t m = minute_of(now_ms);
    struct minute_slot *slot = &s->slots[m % CRM_CALL_STATS_MINUTES];
    if (slot->minute != m)
        *slot = (struct minute_slot){.minute = m};
    return slot;
}

void crm_call_stats_note_call(struct crm_call_stats *s, int64_t now_ms)
{
    if (!s)
        return;
    pthread_mutex_lock(&s->lock);
    slot_for(s, now_ms)->calls++;
    pthread_mutex_unlock(&s->lock);
}

void crm_call_stats_note_refusal(struct crm_call_stats *s, int64_t now_ms, const char *policy,
                                 long retry_after_ms)
{
    if (!s)
        return;
    struct crm_refusal r = {.at_ms = now_ms,
                            .retry_after_ms = retry_after_ms > 0 ? retry_after_ms : 0};
    snprintf(r.policy, sizeof r.policy, "%s", policy && *policy ? policy : "UNKNOWN");
    pthread_mutex_lock(&s->lock);
    slot_for(s, now_ms)->refusals++;
    s->ring[s->head] = r;
    s->head = (s->head + 1) % CRM_CALL_STATS_RECENT;
    if (s->count < CRM_CALL_STATS_RECENT)
        s->count++;
    pthread_mutex_unlock(&s->lock);
}

void crm_call_stats_note_usage(struct crm_call_stats *s, long long used, long long max)
{
    if (!s || used < 0 || max <= 0)
        return;
    pthread_mutex_lock(&s->lock);
    s->have_usage = true;
    s->used = used;
    s->max = max;
    pthread_mutex_unlock(&s->lock);
}

void crm_call_stats_snapshot(struct crm_call_stats *s, int64_t now_ms,
                             struct crm_call_stats_snapshot *out)
{
    memset(out, 0, sizeof *out);
    if (!s)
        return;
    int64_t now_minute = minute_of(now_ms);
    pthread_mutex_lock(&s->lock);
    for (int i = 0; i < CRM_CALL_STATS_MINUTES; i++) {
        const struct minute_slot *slot = &s->slots[i];
        if (slot->minute >= 0 && slot->minute <= now_minute &&
            slot->minute > now_minute - CRM_CALL_STATS_MINUTES) {
            out->calls_last_hour += slot->calls;
            out->rate_limited_last_hour += slot->refusals;
        }
    }
    for (int i = 0; i < s->count; i++) {
        int at = (s->head - 1 - i + 2 * CRM_CALL_STATS_RECENT) % CRM_CALL_STATS_RECENT;
        out->recent[i] = s->ring[at];
    }
    out->nrecent = s->count;
    out->have_usage = s->have_usage;
    out->usage_used = s->used;
    out->usage_max = s->max;
    pthread_mutex_unlock(&s->lock);
}
