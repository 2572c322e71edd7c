/* daily_limit.c: the daily allocation's header parsers, the threshold decision and the stop of
 * one client (design in daily_limit.h).
 *
 * Why the stop happens once per episode: answers of calls in flight when the usage crossed the
 * max all read "reached"; only the thread whose compare-and-swap moves until_ms from an ended
 * value to now + pause answers a pause, the others see a stop that has not ended and answer 0.
 * The stop is logged when `stopped` goes from false to true, the resume when a reading under the
 * max arrives after the stop has ended (a reading of a call sent before the stop, arriving late,
 * cannot resume it).
 * Must not: hold a lock, or trust a header beyond what the parsers accept. */
#include "crm/daily_limit.h"

#include "base/log.h"
#include "base/metrics.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

static struct metric_family *m_stops;
static struct metrics_once metrics_once;

static void metrics_register_all(void)
{
    static const char *const l[] = {"crm"};
    m_stops = metrics_register(METRIC_COUNTER, "synkro_crm_daily_stops_total",
                               "Stops of every instance's calls to a CRM account set by this "
                               "instance because an answer reported the daily usage at the "
                               "configured max (HUBSPOT_DAILY_MAX_PERCENT, "
                               "SALESFORCE_API_DAILY_MAX_PERCENT); a probe that finds it still "
                               "there stops again.",
                               l, 1, NULL, 0);
}

/* ---- parsing ---- */

/* Digits from *p (blanks before are skipped); 0 with *out and *p after them, or -1. */
static int parse_digits(const char **p, long long *out)
{
    const char *s = *p;
    while (*s == ' ' || *s == '\t')
        s++;
    if (!isdigit((unsigned char)*s))
        return -1;
    long long v = 0;
    for (; isdigit((unsigned char)*s); s++) {
        v = v * 10 + (*s - '0');
        if (v > DAILY_LIMIT_MAX_COUNT)
            return -1;
    }
    *out = v;
    *p = s;
    return 0;
}

static const char *skip_blanks(const char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    return s;
}

int daily_limit_parse_count(const char *s, long long *out)
{
    long long v;
    if (!s || parse_digits(&s, &v) < 0 || *skip_blanks(s) != '\0')
        return -1;
    *out = v;
    return 0;
}

int daily_limit_parse_hubspot(const char *daily, const char *remaining, long long *used,
                              long long *max)
{
    long long m, r;
    if (daily_limit_parse_count(daily, &m) < 0 || daily_limit_parse_count(remaining, &r) < 0 ||
        m == 0 || r > m)
        return -1;
    *used = m - r;
    *max = m;
    return 0;
}

int daily_limit_parse_salesforce(const char *hdr, long long *used, long long *max)
{
    const char *p = hdr;
    while (p && (p = strstr(p, "api-usage=")) != NULL) {
        /* an entry's own name: at the start, or after a comma or semicolon and blanks */
        const char *b = p;
        while (b > hdr && (b[-1] == ' ' || b[-1] == '\t'))
            b--;
        if (b == hdr || b[-1] == ',' || b[-1] == ';')
            break;
        p += 10;
    }
    if (!p)
        return -1;
    p += 10;
    long long u, m;
    if (parse_digits(&p, &u) < 0 || *p != '/')
        return -1;
    p++;
    if (parse_digits(&p, &m) < 0 || m == 0)
        return -1;
    p = skip_blanks(p);
    if (*p != '\0' && *p != ',' && *p != ';')
        return -1;
    *used = u;
    *max = m;
    return 0;
}

bool daily_limit_reached(long long used, long long max, int max_percent)
{
    if (max <= 0 || used < 0)
        return false;
    if (max_percent < 1)
        max_percent = 1;
    if (max_percent > 100)
        max_percent = 100;
    /* both at most DAILY_LIMIT_MAX_COUNT (1e12) from the parsers: * 100 cannot overflow; larger
     * values from elsewhere are compared in long double */
    if (used > DAILY_LIMIT_MAX_COUNT || max > DAILY_LIMIT_MAX_COUNT)
        return (long double)used * 100.0L >= (long double)max * (long double)max_percent;
    return used * 100 >= max * (long long)max_percent;
}

int64_t daily_limit_until_utc_midnight(int64_t wall_ms, int64_t cap_ms)
{
    const int64_t day = 86400000;
    int64_t left = wall_ms >= 0 ? day - wall_ms % day : day;
    if (cap_ms > 0 && left > cap_ms)
        left = cap_ms;
    return left < 1000 ? 1000 : left;
}

/* ---- the stop ---- */

void daily_stop_init(struct daily_stop *ds, const char *crm, const char *setting, int max_percent)
{
    metrics_once_run(&metrics_once, metrics_register_all);
    ds->crm = crm;
    ds->setting = setting;
    ds->max_percent = max_percent;
    atomic_store(&ds->until_ms, 0);
    atomic_store(&ds->stopped, false);
}

int64_t daily_stop_left(struct daily_stop *ds, int64_t now_ms)
{
    int64_t until = atomic_load(&ds->until_ms);
    return until > now_ms ? until - now_ms : 0;
}

static void log_resume(const struct daily_stop *ds, long long used, long long max)
{
    log_with(LOG_LEVEL_INFO, "crm daily limit resume", LF_S("crm", ds->crm), LF_I("used", used),
             LF_I("max", max), LF_I("max_percent", ds->max_percent));
}

static void log_stop(const struct daily_stop *ds, long long used, long long max, int64_t pause_ms)
{
    log_with(LOG_LEVEL_WARN, "crm daily limit stop", LF_S("crm", ds->crm), LF_I("used", used),
             LF_I("max", max), LF_I("max_percent", ds->max_percent), LF_I("pause_ms", pause_ms),
             LF_S("setting", ds->setting));
}

int64_t daily_stop_note(struct daily_stop *ds, long long used, long long max, int64_t now_ms,
                        int64_t pause_ms, char *why, size_t whylen)
{
    int64_t until = atomic_load(&ds->until_ms);
    if (!daily_limit_reached(used, max, ds->max_percent)) {
        bool was = true;
        if (until <= now_ms && atomic_compare_exchange_strong(&ds->stopped, &was, false))
            log_resume(ds, used, max);
        return 0;
    }
    if (pause_ms < 1 || until > now_ms ||
        !atomic_compare_exchange_strong(&ds->until_ms, &until, now_ms + pause_ms))
        return 0;
    bool was = false;
    if (atomic_compare_exchange_strong(&ds->stopped, &was, true))
        log_stop(ds, used, max, pause_ms);
    const char *labels[] = {ds->crm};
    metrics_add(m_stops, labels, 1);
    snprintf(why, whylen, "daily usage %lld of %lld reached %s=%d", used, max, ds->setting,
             ds->max_percent);
    return pause_ms;
}
