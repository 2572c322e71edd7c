/* log.c: JSON-lines logger with secret masking.
 *
 * A line is assembled in a strbuf (every string masked before it is
 * escaped), then written with one write(2) so lines from different threads
 * do not interleave. It takes no lock and must
 * never block on anything but the write itself. */
#include "base/log.h"

#include "base/strbuf.h"

#include <math.h>
#include <stdatomic.h>
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

void log_emit(enum log_level level, const char *msg, const struct log_field *fields, size_t n)
{
    if (!log_enabled(level))
        return;
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
