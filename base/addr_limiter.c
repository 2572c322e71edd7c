/* addr_limiter.c: per-address attempt windows (design in addr_limiter.h). Must not log. */
#include "base/addr_limiter.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WINDOW_MS 60000

struct slot {
    char addr[ADDR_LIMITER_ADDR_MAX + 1];
    int64_t window_start_ms;
    int count;
    bool used;
};

struct addr_limiter {
    pthread_mutex_t lock;
    int per_minute;
    size_t capacity;
    struct slot *slots;
};

struct addr_limiter *addr_limiter_create(int per_minute, size_t capacity)
{
    struct addr_limiter *l = calloc(1, sizeof *l);
    if (!l)
        return NULL;
    l->per_minute = per_minute > 0 ? per_minute : 1;
    l->capacity = capacity > 0 ? capacity : 1;
    l->slots = calloc(l->capacity, sizeof *l->slots);
    if (!l->slots) {
        free(l);
        return NULL;
    }
    pthread_mutex_init(&l->lock, NULL);
    return l;
}

void addr_limiter_destroy(struct addr_limiter *l)
{
    if (!l)
        return;
    pthread_mutex_destroy(&l->lock);
    free(l->slots);
    free(l);
}

static bool window_ended(const struct slot *s, int64_t now_ms)
{
    return !s->used || now_ms - s->window_start_ms >= WINDOW_MS;
}

/* The slot of addr, or the one to reuse for it: an unused or ended one, else the oldest. */
static struct slot *slot_for(struct addr_limiter *l, const char *addr, int64_t now_ms)
{
    struct slot *reuse = &l->slots[0]; /* capacity >= 1 */
    for (size_t i = 0; i < l->capacity; i++) {
        struct slot *s = &l->slots[i];
        if (s->used && strcmp(s->addr, addr) == 0)
            return s;
        bool s_ended = window_ended(s, now_ms);
        if ((s_ended && !window_ended(reuse, now_ms)) ||
            (s_ended == window_ended(reuse, now_ms) && s->window_start_ms < reuse->window_start_ms))
            reuse = s;
    }
    snprintf(reuse->addr, sizeof reuse->addr, "%s", addr);
    reuse->used = true;
    reuse->count = 0;
    reuse->window_start_ms = now_ms;
    return reuse;
}

bool addr_limiter_take(struct addr_limiter *l, const char *addr, int64_t now_ms, int *retry_after_s)
{
    char key[ADDR_LIMITER_ADDR_MAX + 1];
    snprintf(key, sizeof key, "%s", addr ? addr : "");
    pthread_mutex_lock(&l->lock);
    struct slot *s = slot_for(l, key, now_ms);
    if (now_ms - s->window_start_ms >= WINDOW_MS) {
        s->window_start_ms = now_ms;
        s->count = 0;
    }
    bool ok = s->count < l->per_minute;
    if (ok) {
        s->count++;
    } else if (retry_after_s) {
        int64_t left_ms = s->window_start_ms + WINDOW_MS - now_ms;
        *retry_after_s = (int)((left_ms + 999) / 1000);
        if (*retry_after_s < 1)
            *retry_after_s = 1;
    }
    pthread_mutex_unlock(&l->lock);
    return ok;
}
