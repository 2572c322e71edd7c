/* shared_budget.c: leases of the shared CRM budget (design in shared_budget.h).
 *
 * Per limit: the current lease (id, tokens left, local end), what the database last said (paused
 * until, no token before), and a fetching flag. Why it is correct: a token is handed out only
 * from a lease before its local end, and the local end is the lease's hold counted from before
 * the statement was sent, so never later than the database's holds_until; the database counts
 * the lease's tokens until holds_until + interval. Unspent tokens of an ended lease are given
 * back by the next take of the same limit (the lease id names them), never twice: the local lease
 * is cleared before that take is sent. Only one thread per limit talks to the database at a time,
 * so leases of one process never race each other.
 * Must not: hold a mutex during a database statement, or sleep other than on the condition. */
#include "crm/shared_budget.h"

#include "base/clock.h"
#include "base/metrics.h"
#include "db/budget_store.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DB_WAIT_MS       2000 /* longest wait for a connection of the budget's pool */
#define DB_DOWN_MS       1000 /* after a failed statement, the fallback lasts this long */
#define PAUSE_REFRESH_MS 1000 /* shared_budget_wait_unpaused re-reads the pause this often */
#define MAX_NAP_MS       1000 /* longest single wait before the limit is looked at again */

struct limit_state {
    struct shared_limit_options o;
    char name[33];
    pthread_mutex_t lock;
    pthread_cond_t cond; /* CLOCK_MONOTONIC: a fetch ended */
    bool fetching;
    int64_t lease_id;
    int left;
    int64_t lease_end;    /* mono ms */
    int64_t paused_until; /* mono ms */
    int64_t next_try;     /* mono ms: the database said no token before this */
    int64_t db_down_until;
    int64_t pause_read_at; /* mono ms of the last pause read (wait_unpaused) */
};

struct shared_budget {
    struct db_pool *pool;
    char crm[16];
    char account[201];
    int nlimits;
    struct limit_state limits[SHARED_BUDGET_MAX_LIMITS];
};

/* ---- metrics ---- */

static struct metric_family *m_tokens, *m_leases, *m_waits, *m_wait_s, *m_pauses, *m_fallbacks;
static struct metrics_once metrics_once;

static void metrics_register_all(void)
{
    static const char *const l[] = {"crm", "limit"};
    m_tokens = metrics_register(METRIC_COUNTER, "synkro_crm_budget_tokens_total",
                                "CRM calls let through by the shared budget.", l, 2, NULL, 0);
    m_leases = metrics_register(METRIC_COUNTER, "synkro_crm_budget_leases_total",
                                "Leases of shared-budget tokens taken from the database "
                                "(round trips; tokens come in chunks).",
                                l, 2, NULL, 0);
    m_waits = metrics_register(METRIC_COUNTER, "synkro_crm_budget_waits_total",
                               "CRM calls that waited for the shared budget (no token, or a "
                               "pause).",
                               l, 2, NULL, 0);
    m_wait_s =
        metrics_register(METRIC_COUNTER, "synkro_crm_budget_wait_seconds_total",
                         "Time CRM calls spent waiting for the shared budget.", l, 2, NULL, 0);
    m_pauses = metrics_register(METRIC_COUNTER, "synkro_crm_budget_pauses_total",
                                "Pauses of a shared limit set by this instance after a CRM "
                                "refusal (429, REQUEST_LIMIT_EXCEEDED).",
                                l, 2, NULL, 0);
    m_fallbacks = metrics_register(METRIC_COUNTER, "synkro_crm_budget_fallbacks_total",
                                   "CRM calls let through by the per-process budget because the "
                                   "shared one's database did not answer.",
                                   l, 2, NULL, 0);
}

static void count(struct shared_budget *sb, struct metric_family *f, struct limit_state *ls,
                  double v)
{
    const char *labels[] = {sb->crm, ls->name};
    metrics_add(f, labels, v);
}

/* ---- create / destroy ---- */

struct shared_budget *shared_budget_create(struct db_pool *pool, const char *crm,
                                           const char *account)
{
    if (!pool || !crm || !account || !*account || strlen(account) > 200)
        return NULL;
    metrics_once_run(&metrics_once, metrics_register_all);
    struct shared_budget *sb = calloc(1, sizeof *sb);
    if (!sb)
        return NULL;
    sb->pool = pool;
    snprintf(sb->crm, sizeof sb->crm, "%s", crm);
    snprintf(sb->account, sizeof sb->account, "%s", account);
    return sb;
}

void shared_budget_destroy(struct shared_budget *sb)
{
    if (!sb)
        return;
    for (int i = 0; i < sb->nlimits; i++) {
        pthread_mutex_destroy(&sb->limits[i].lock);
        pthread_cond_destroy(&sb->limits[i].cond);
    }
    free(sb);
}

int shared_budget_add_limit(struct shared_budget *sb, const struct shared_limit_options *o)
{
    if (!sb || sb->nlimits >= SHARED_BUDGET_MAX_LIMITS || !o->name || !*o->name ||
        strlen(o->name) > 32 || o->capacity < 1 || o->interval_ms < 1 || o->chunk < 1 ||
        o->hold_ms < 1)
        return -1;
    struct limit_state *ls = &sb->limits[sb->nlimits];
    memset(ls, 0, sizeof *ls);
    ls->o = *o;
    snprintf(ls->name, sizeof ls->name, "%s", o->name);
    ls->o.name = ls->name;
    if (ls->o.chunk > ls->o.capacity)
        ls->o.chunk = ls->o.capacity;
    pthread_mutex_init(&ls->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&ls->cond, &ca);
    pthread_condattr_destroy(&ca);
    return sb->nlimits++;
}

const char *shared_budget_account(const struct shared_budget *sb)
{
    return sb ? sb->account : "";
}

const char *shared_budget_limit_name(const struct shared_budget *sb, int limit)
{
    return sb && limit >= 0 && limit < sb->nlimits ? sb->limits[limit].name : NULL;
}

struct db_pool *shared_budget_pool(const struct shared_budget *sb)
{
    return sb ? sb->pool : NULL;
}

/* ---- waiting ---- */

/* With ls->lock held: sleeps on the condition until at_ms (at most MAX_NAP_MS). */
static void nap_until(struct limit_state *ls, int64_t at_ms)
{
    int64_t now = clock_mono_ms();
    if (at_ms > now + MAX_NAP_MS)
        at_ms = now + MAX_NAP_MS;
    struct timespec ts = {.tv_sec = (time_t)(at_ms / 1000),
                          .tv_nsec = (long)(at_ms % 1000) * 1000000};
    (void)pthread_cond_timedwait(&ls->cond, &ls->lock, &ts);
}

/* With ls->lock held: the earliest time the limit may hand out a token (from what the database
 * said last), or now. */
static int64_t blocked_until(const struct limit_state *ls, int64_t now)
{
    int64_t at = now;
    if (ls->paused_until > at)
        at = ls->paused_until;
    if (ls->next_try > at)
        at = ls->next_try;
    return at;
}

/* Called with ls->lock held and fetching set by the caller: one lease from the database, the lock
 * released meanwhile. 0, or -1 when the database did not answer. */
static int fetch_lease(struct shared_budget *sb, struct limit_state *ls)
{
    int64_t ret_lease = ls->left > 0 ? ls->lease_id : 0;
    int ret_tokens = ls->left > 0 ? ls->left : 0;
    ls->lease_id = 0;
    ls->left = 0;
    struct budget_take t = {.account = sb->account,
                            .limit = ls->name,
                            .capacity = ls->o.capacity,
                            .interval_ms = ls->o.interval_ms,
                            .want = ls->o.chunk,
                            .hold_ms = ls->o.hold_ms,
                            .return_lease = ret_lease,
                            .return_tokens = ret_tokens};
    pthread_mutex_unlock(&ls->lock);
    int64_t sent = clock_mono_ms();
    struct budget_grant g;
    char err[256];
    int rc = budget_store_take(sb->pool, DB_WAIT_MS, &t, &g, err, sizeof err);
    pthread_mutex_lock(&ls->lock);
    ls->fetching = false;
    pthread_cond_broadcast(&ls->cond);
    int64_t now = clock_mono_ms();
    if (rc < 0) {
        ls->db_down_until = now + DB_DOWN_MS;
        return -1;
    }
    count(sb, m_leases, ls, 1);
    if (g.paused_ms > 0) {
        if (sent + g.paused_ms > ls->paused_until)
            ls->paused_until = sent + g.paused_ms;
    } else if (g.granted == 0) {
        ls->next_try = now + (g.wait_ms > 0 ? g.wait_ms : 1);
    } else {
        ls->lease_id = g.lease_id;
        ls->left = g.granted;
        ls->lease_end = sent + ls->o.hold_ms;
        ls->next_try = 0;
    }
    return 0;
}

/* ---- one caller's wait (the prologue and epilogues shared by acquire and wait_unpaused) ---- */

struct wait {
    struct shared_budget *sb;
    struct limit_state *ls;
    int64_t started; /* mono ms */
    bool waited;     /* it slept for the budget (not for another thread's round trip) */
    int64_t deadline;
    int64_t *retry_after_ms; /* may be NULL */
};

static struct limit_state *limit_at(struct shared_budget *sb, int limit)
{
    return sb && limit >= 0 && limit < sb->nlimits ? &sb->limits[limit] : NULL;
}

/* Finds the limit and takes its lock: false (nothing locked) when it is out of range. */
static bool wait_begin(struct wait *w, struct shared_budget *sb, int limit, int64_t deadline_ms,
                       int64_t *retry_after_ms)
{
    *w = (struct wait){.sb = sb,
                       .ls = limit_at(sb, limit),
                       .started = clock_mono_ms(),
                       .deadline = deadline_ms,
                       .retry_after_ms = retry_after_ms};
    if (!w->ls)
        return false;
    pthread_mutex_lock(&w->ls->lock);
    return true;
}

/* Releases the lock and counts the wait, when there was one. */
static void wait_end(struct wait *w)
{
    pthread_mutex_unlock(&w->ls->lock);
    if (!w->waited)
        return;
    count(w->sb, m_waits, w->ls, 1);
    count(w->sb, m_wait_s, w->ls, (double)(clock_mono_ms() - w->started) / 1000.0);
}

static int refuse(struct wait *w, int rc, int64_t retry_after)
{
    wait_end(w);
    if (rc == -2)
        count(w->sb, m_fallbacks, w->ls, 1);
    if (w->retry_after_ms)
        *w->retry_after_ms = retry_after;
    return rc;
}

/* Lets the call through. */
static int grant(struct wait *w)
{
    wait_end(w);
    count(w->sb, m_tokens, w->ls, 1);
    return 0;
}

/* Nothing may go before at (> now): -1 (refused, the lock released) when at is past the
 * deadline, else naps (a wait) and answers 0: look again. */
static int wait_until(struct wait *w, int64_t at, int64_t now)
{
    if (w->deadline >= 0 && at > w->deadline)
        return refuse(w, -1, at - now);
    w->waited = true;
    nap_until(w->ls, at);
    return 0;
}

int shared_budget_acquire(struct shared_budget *sb, int limit, int64_t deadline_ms,
                          int64_t *retry_after_ms)
{
    struct wait w;
    if (!wait_begin(&w, sb, limit, deadline_ms, retry_after_ms))
        return -2;
    struct limit_state *ls = w.ls;
    for (;;) {
        int64_t now = clock_mono_ms();
        if (ls->left > 0 && now < ls->lease_end && ls->paused_until <= now) {
            ls->left--;
            return grant(&w);
        }
        if (ls->db_down_until > now)
            return refuse(&w, -2, 0);
        int64_t at = blocked_until(ls, now);
        if (at > now) {
            if (wait_until(&w, at, now) < 0)
                return -1;
            continue;
        }
        if (ls->fetching) { /* another thread's round trip: not a wait for the budget */
            nap_until(ls, now + MAX_NAP_MS);
            continue;
        }
        ls->fetching = true;
        if (fetch_lease(sb, ls) < 0)
            return refuse(&w, -2, 0);
    }
}

/* With ls->lock held and no fetch running: reads the pause from the database (the lock released
 * meanwhile) into paused_until; a failed read starts the fallback second. */
static void read_pause(struct shared_budget *sb, struct limit_state *ls, int64_t now)
{
    ls->fetching = true;
    pthread_mutex_unlock(&ls->lock);
    int64_t left = 0;
    char err[256];
    int rc =
        budget_store_paused(sb->pool, DB_WAIT_MS, sb->account, ls->name, &left, err, sizeof err);
    pthread_mutex_lock(&ls->lock);
    ls->fetching = false;
    pthread_cond_broadcast(&ls->cond);
    ls->pause_read_at = clock_mono_ms();
    if (rc < 0)
        ls->db_down_until = ls->pause_read_at + DB_DOWN_MS;
    else if (left > 0 && now + left > ls->paused_until)
        ls->paused_until = now + left;
}

int shared_budget_wait_unpaused(struct shared_budget *sb, int limit, int64_t deadline_ms,
                                int64_t *retry_after_ms)
{
    struct wait w;
    if (!wait_begin(&w, sb, limit, deadline_ms, retry_after_ms))
        return -2;
    struct limit_state *ls = w.ls;
    for (;;) {
        int64_t now = clock_mono_ms();
        bool stale = now - ls->pause_read_at >= PAUSE_REFRESH_MS && ls->db_down_until <= now;
        if (stale && ls->fetching) { /* another thread's read: wait for what it says */
            nap_until(ls, now + MAX_NAP_MS);
            continue;
        }
        if (stale) {
            read_pause(sb, ls, now);
            continue;
        }
        if (ls->paused_until <= now)
            return grant(&w);
        if (wait_until(&w, ls->paused_until, now) < 0)
            return -1;
    }
}

void shared_budget_pause(struct shared_budget *sb, int limit, int64_t pause_ms, const char *reason)
{
    struct limit_state *ls = limit_at(sb, limit);
    if (!ls || pause_ms < 1)
        return;
    int64_t now = clock_mono_ms();
    pthread_mutex_lock(&ls->lock);
    if (now + pause_ms > ls->paused_until)
        ls->paused_until = now + pause_ms;
    pthread_cond_broadcast(&ls->cond);
    pthread_mutex_unlock(&ls->lock);
    count(sb, m_pauses, ls, 1);
    char err[256];
    (void)budget_store_pause(sb->pool, DB_WAIT_MS, sb->account, ls->name, ls->o.capacity,
                             ls->o.interval_ms, pause_ms, reason, NULL, err, sizeof err);
}
