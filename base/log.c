/* log.c: JSON-lines logger with secret masking and collapsing of repeated lines.
 *
 * A line is assembled in a strbuf (every string masked before it is
 * escaped), then written with one write(2) so lines from different threads
 * do not interleave. It takes no lock and must
 * never block on anything but the write itself.
 *
 * Repeats: a warn or error line is keyed by its site: level, message template (msg) and the
 * values of its "status" and "code" fields, never the rest (request ids, error details). The
 * first line of a key is written; later ones within the repeat interval are counted instead, and
 * the first one after it is written with "suppressed": how many were left out before it (so a
 * flood writes one line per interval per key); log_flush_suppressed writes the count of a key
 * whose flood has ended. The keys live in a fixed table of atomics (claimed by compare-and-swap,
 * never freed); when it is full, lines of new keys are written as they come. Debug and info
 * lines (the access log of answered requests, sync batches) are never collapsed. Owns the table
 * and the synkro_log_suppressed_total counter. */
#include "base/log.h"

#include "base/clock.h"
#include "base/metrics.h"
#include "base/strbuf.h"

#include <math.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define LOG_MAX_SECRETS 32

static atomic_int log_level_current = LOG_LEVEL_INFO;
static atomic_int log_fd = 2;
static char *log_secrets[LOG_MAX_SECRETS];
static size_t log_secret_lens[LOG_MAX_SECRETS];
static size_t log_secret_count;

static const char *const level_names[] = {"debug", "info", "warn", "error"};

const char *log_level_name(enum log_level level)
{
    if ((int)level < 0 || (size_t)level >= sizeof level_names / sizeof level_names[0])
        return "info";
    return level_names[level];
}

int log_parse_level(const char *s, enum log_level *out)
{
    static const struct {
        const char *name;
        enum log_level level;
    } table[] = {{"debug", LOG_LEVEL_DEBUG},
                 {"info", LOG_LEVEL_INFO},
                 {"warn", LOG_LEVEL_WARN},
                 {"warning", LOG_LEVEL_WARN},
                 {"error", LOG_LEVEL_ERROR}};
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        if (strcasecmp(s, table[i].name) == 0) {
            *out = table[i].level;
            return 0;
        }
    }
    return -1;
}

void log_set_level(enum log_level level)
{
    atomic_store(&log_level_current, (int)level);
}

bool log_enabled(enum log_level level)
{
    return (int)level >= atomic_load(&log_level_current);
}

void log_set_fd(int fd)
{
    atomic_store(&log_fd, fd);
}

int log_add_secret(const char *secret)
{
    if (!secret)
        return 0;
    size_t len = strlen(secret);
    if (len < 4)
        return 0;
    for (size_t i = 0; i < log_secret_count; i++)
        if (log_secret_lens[i] == len && memcmp(log_secrets[i], secret, len) == 0)
            return 0;
    if (log_secret_count >= LOG_MAX_SECRETS)
        return -1;
    char *copy = strdup(secret);
    if (!copy)
        return -1;
    /* keep the table sorted longest first, so a secret that contains
     * another is masked whole */
    size_t at = log_secret_count;
    while (at > 0 && log_secret_lens[at - 1] < len) {
        log_secrets[at] = log_secrets[at - 1];
        log_secret_lens[at] = log_secret_lens[at - 1];
        at--;
    }
    log_secrets[at] = copy;
    log_secret_lens[at] = len;
    log_secret_count++;
    return 0;
}

void log_clear_secrets(void)
{
    for (size_t i = 0; i < log_secret_count; i++) {
        free(log_secrets[i]);
        log_secrets[i] = NULL;
    }
    log_secret_count = 0;
}

void log_mask_secrets(char *buf)
{
    for (size_t i = 0; i < log_secret_count; i++) {
        const char *secret = log_secrets[i];
        size_t slen = log_secret_lens[i];
        char *hit;
        char *from = buf;
        while ((hit = strstr(from, secret)) != NULL) {
            /* "***" is never longer than a secret (secrets are >= 4 bytes). */
            memcpy(hit, "***", 3);
            memmove(hit + 3, hit + slen, strlen(hit + slen) + 1);
            from = hit + 3;
        }
    }
}

/* Appends s JSON-escaped, with every registered secret replaced by "***".
 * Masking happens on the raw text, before escaping, so a secret holding a
 * quote or backslash is still found and the line stays valid JSON. */
static void append_masked(struct strbuf *sb, const char *s)
{
    size_t len = strlen(s), from = 0;
    for (size_t i = 0; i < len; i++) {
        for (size_t k = 0; k < log_secret_count; k++) {
            size_t slen = log_secret_lens[k];
            if (s[i] == log_secrets[k][0] && slen <= len - i &&
                memcmp(s + i, log_secrets[k], slen) == 0) {
                strbuf_json_escape(sb, s + from, i - from);
                strbuf_puts(sb, "***");
                i += slen - 1;
                from = i + 1;
                break;
            }
        }
    }
    strbuf_json_escape(sb, s + from, len - from);
}

static void log_append_field(struct strbuf *sb, const struct log_field *f)
{
    strbuf_puts(sb, ",\"");
    append_masked(sb, f->key);
    strbuf_puts(sb, "\":");
    switch (f->type) {
    case LF_STR:
        if (!f->v.s) {
            strbuf_puts(sb, "null");
            break;
        }
        strbuf_putc(sb, '"');
        append_masked(sb, f->v.s);
        strbuf_putc(sb, '"');
        break;
    case LF_INT:
        strbuf_printf(sb, "%lld", f->v.i);
        break;
    case LF_DBL:
        if (isfinite(f->v.d))
            strbuf_printf(sb, "%.6g", f->v.d);
        else
            strbuf_puts(sb, "null"); /* JSON has no NaN or infinity */
        break;
    case LF_BOOL:
        strbuf_puts(sb, f->v.b ? "true" : "false");
        break;
    }
}

/* ---- repeats ---- */

#define REPEAT_SLOTS   128
#define REPEAT_MSG_MAX 96

struct repeat_slot {
    atomic_uint_fast64_t key;  /* 0: free */
    atomic_int ready;          /* msg and level written */
    atomic_llong window_start; /* ms of the last line written; 0: none yet */
    atomic_llong suppressed;   /* lines left out since */
    int level;
    char msg[REPEAT_MSG_MAX];
};

static struct repeat_slot repeat_slots[REPEAT_SLOTS];
static atomic_llong repeat_interval_ms; /* 0 (off) until serve sets it */
static int64_t (*repeat_clock)(void) = clock_mono_ms;
static struct metrics_once suppressed_once;
static struct metric_family *m_suppressed;

static void suppressed_metrics_init(void)
{
    m_suppressed = metrics_register(
        METRIC_COUNTER, "synkro_log_suppressed_total",
        "Warn and error log lines left out as repeats of a line written within the repeat "
        "interval (SYNKRO_LOG_REPEAT_INTERVAL), by level.",
        (const char *const[]){"level"}, 1, NULL, 0);
}

void log_metrics_init(void)
{
    metrics_once_run(&suppressed_once, suppressed_metrics_init);
}

void log_set_repeat_interval_ms(long ms)
{
    atomic_store(&repeat_interval_ms, ms > 0 ? ms : 0);
}

void log_set_repeat_clock(int64_t (*now_ms)(void))
{
    repeat_clock = now_ms ? now_ms : clock_mono_ms;
}

void log_reset_repeats(void)
{
    for (size_t i = 0; i < REPEAT_SLOTS; i++) {
        atomic_store(&repeat_slots[i].ready, 0);
        atomic_store(&repeat_slots[i].window_start, 0);
        atomic_store(&repeat_slots[i].suppressed, 0);
        atomic_store(&repeat_slots[i].key, 0);
    }
}

static uint64_t fnv(uint64_t h, const char *s)
{
    for (; s && *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ULL;
    }
    return h * 1099511628211ULL; /* separates "ab","c" from "a","bc" */
}

static uint64_t repeat_key(enum log_level level, const char *msg, const struct log_field *fields,
                           size_t n)
{
    uint64_t h = fnv(1469598103934665603ULL ^ (uint64_t)level, msg);
    for (size_t i = 0; i < n; i++) {
        if (strcmp(fields[i].key, "status") != 0 && strcmp(fields[i].key, "code") != 0)
            continue;
        char num[32];
        const char *v = num;
        if (fields[i].type == LF_STR)
            v = fields[i].v.s ? fields[i].v.s : "(null)";
        else
            snprintf(num, sizeof num, "%lld", fields[i].type == LF_INT ? fields[i].v.i : 0LL);
        h = fnv(fnv(h, fields[i].key), v);
    }
    return h ? h : 1;
}

/* The slot of key (claimed for it when new); NULL when the table is full. */
static struct repeat_slot *repeat_slot(uint64_t key, enum log_level level, const char *msg)
{
    for (size_t probe = 0; probe < REPEAT_SLOTS; probe++) {
        struct repeat_slot *slot = &repeat_slots[(key + probe) % REPEAT_SLOTS];
        uint_fast64_t seen = atomic_load(&slot->key);
        if (seen == key)
            return slot;
        if (seen != 0)
            continue;
        uint_fast64_t expected = 0;
        if (atomic_compare_exchange_strong(&slot->key, &expected, key)) {
            slot->level = (int)level;
            snprintf(slot->msg, sizeof slot->msg, "%s", msg);
            atomic_store(&slot->ready, 1);
            return slot;
        }
        if (expected == key)
            return slot;
    }
    return NULL;
}

/* Whether the line may be written now; *before receives how many repeats were left out since
 * the last one written (to say so on this line). */
static bool repeat_admit(enum log_level level, const char *msg, const struct log_field *fields,
                         size_t n, long long *before)
{
    *before = 0;
    long long interval = atomic_load(&repeat_interval_ms);
    if (level < LOG_LEVEL_WARN || interval <= 0)
        return true;
    struct repeat_slot *slot = repeat_slot(repeat_key(level, msg, fields, n), level, msg);
    if (!slot)
        return true;
    long long now = (long long)repeat_clock();
    long long start = atomic_load(&slot->window_start);
    if (start == 0 || now - start >= interval) {
        if (atomic_compare_exchange_strong(&slot->window_start, &start, now > 0 ? now : 1)) {
            *before = atomic_exchange(&slot->suppressed, 0);
            return true;
        }
    }
    atomic_fetch_add(&slot->suppressed, 1);
    log_metrics_init();
    metrics_add(m_suppressed, (const char *const[]){log_level_name(level)}, 1);
    return false;
}

static void write_line(enum log_level level, const char *msg, const struct log_field *fields,
                       size_t n, long long suppressed);

long long log_flush_suppressed(void)
{
    long long interval = atomic_load(&repeat_interval_ms);
    long long now = (long long)repeat_clock(), total = 0;
    for (size_t i = 0; i < REPEAT_SLOTS; i++) {
        struct repeat_slot *slot = &repeat_slots[i];
        if (!atomic_load(&slot->ready) || atomic_load(&slot->suppressed) == 0)
            continue;
        long long start = atomic_load(&slot->window_start);
        if (now - start < interval ||
            !atomic_compare_exchange_strong(&slot->window_start, &start, now > 0 ? now : 1))
            continue;
        long long left_out = atomic_exchange(&slot->suppressed, 0);
        if (left_out == 0)
            continue;
        total += left_out;
        write_line((enum log_level)slot->level, "repeated log lines suppressed",
                   (const struct log_field[]){LF_S("repeated_msg", slot->msg),
                                              LF_D("interval_s", (double)interval / 1000.0)},
                   2, left_out);
    }
    return total;
}

void log_emit(enum log_level level, const char *msg, const struct log_field *fields, size_t n)
{
    if (!log_enabled(level))
        return;
    long long suppressed = 0;
    if (!repeat_admit(level, msg, fields, n, &suppressed))
        return;
    write_line(level, msg, fields, n, suppressed);
}

static void write_line(enum log_level level, const char *msg, const struct log_field *fields,
                       size_t n, long long suppressed)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char tsbuf[96];
    snprintf(tsbuf, sizeof tsbuf, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000);

    struct strbuf sb = STRBUF_INIT;
    strbuf_reserve(&sb, 256);
    strbuf_printf(&sb, "{\"ts\":\"%s\",\"level\":\"%s\",\"msg\":\"", tsbuf, log_level_name(level));
    append_masked(&sb, msg);
    strbuf_putc(&sb, '"');
    for (size_t i = 0; i < n; i++)
        log_append_field(&sb, &fields[i]);
    if (suppressed > 0)
        strbuf_printf(&sb, ",\"suppressed\":%lld", suppressed);
    strbuf_puts(&sb, "}\n");
    if (sb.failed) {
        static const char oom[] =
            "{\"level\":\"error\",\"msg\":\"log line dropped: out of memory\"}\n";
        ssize_t w = write(atomic_load(&log_fd), oom, sizeof oom - 1);
        (void)w;
        strbuf_free(&sb);
        return;
    }
    size_t len = sb.len;
    const char *p = sb.data;
    int fd = atomic_load(&log_fd);
    while (len > 0) {
        ssize_t w = write(fd, p, len);
        if (w <= 0)
            break;
        p += w;
        len -= (size_t)w;
    }
    strbuf_free(&sb);
}
