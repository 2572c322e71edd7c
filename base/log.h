/* log.h: structured JSON-lines logging to stderr.
 *
 * One line per event: {"ts":"…","level":"info","msg":"…", fields…}. Fields are
 * typed (string, integer, double, bool) so numbers stay numbers in the JSON.
 * Every configured secret is masked in every line before it is written, as a
 * last line of defence: callers must still never pass secrets on purpose.
 *
 * Thread-safety: log_emit() may be called from any thread. log_set_level() is
 * atomic. log_add_secret() must be called before other threads start (at
 * configuration time); it is not synchronised with log_emit(). */
#ifndef SYNKRO_SERVER_LOG_H
#define SYNKRO_SERVER_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum log_level { LOG_LEVEL_DEBUG = 0, LOG_LEVEL_INFO, LOG_LEVEL_WARN, LOG_LEVEL_ERROR };

enum log_field_type { LF_STR, LF_INT, LF_DBL, LF_BOOL };

struct log_field {
    const char *key;
    enum log_field_type type;
    union {
        const char *s;
        long long i;
        double d;
        bool b;
    } v;
};

#define LF_S(k, val) ((struct log_field){.key = (k), .type = LF_STR, .v.s = (val)})
#define LF_I(k, val) ((struct log_field){.key = (k), .type = LF_INT, .v.i = (long long)(val)})
#define LF_D(k, val) ((struct log_field){.key = (k), .type = LF_DBL, .v.d = (double)(val)})
#define LF_B(k, val) ((struct log_field){.key = (k), .type = LF_BOOL, .v.b = (val)})

/* log_with(level, msg, LF_S("k", v), LF_I("n", 3)) */
#define log_with(lvl, msg, ...)                                                                    \
    log_emit((lvl), (msg), (const struct log_field[]){__VA_ARGS__},                                \
             sizeof((const struct log_field[]){__VA_ARGS__}) / sizeof(struct log_field))

#define log_debug(msg) log_emit(LOG_LEVEL_DEBUG, (msg), NULL, 0)
#define log_info(msg)  log_emit(LOG_LEVEL_INFO, (msg), NULL, 0)
#define log_warn(msg)  log_emit(LOG_LEVEL_WARN, (msg), NULL, 0)
#define log_error(msg) log_emit(LOG_LEVEL_ERROR, (msg), NULL, 0)

void log_emit(enum log_level level, const char *msg, const struct log_field *fields, size_t n);
bool log_enabled(enum log_level level);
void log_set_level(enum log_level level);
/* Parses debug|info|warn|warning|error (case-insensitive). 0 on success. */
int log_parse_level(const char *s, enum log_level *out);
const char *log_level_name(enum log_level level);
/* Registers a secret to mask (copied). Values shorter than 4 bytes are
 * ignored, as masking them would mangle ordinary text. Returns -1 when the
 * table is full or allocation fails. */
int log_add_secret(const char *secret);
void log_clear_secrets(void);
/* Redirects output to fd (tests); default 2. */
void log_set_fd(int fd);
/* Repeats (design in log.c): a warn or error line whose level, msg and "status"/"code" fields
 * equal those of a line written less than the repeat interval ago is left out and counted
 * (synkro_log_suppressed_total{level}); the next one written after the interval carries
 * "suppressed": the count. ms <= 0 turns this off (the default; `synkro serve` sets
 * SYNKRO_LOG_REPEAT_INTERVAL). */
void log_set_repeat_interval_ms(long ms);
/* Registers synkro_log_suppressed_total (so /metrics lists it before any repeat). */
void log_metrics_init(void);
/* Writes, for every key whose interval has passed with lines left out and nothing written since,
 * one line "repeated log lines suppressed" (repeated_msg, suppressed, interval_s) at the key's
 * level. Returns how many left-out lines those lines reported. Call about once a second (the
 * janitor does). */
long long log_flush_suppressed(void);
/* Tests: the clock of the repeat intervals (ms, monotonic; NULL: the real one), and forgetting
 * every key. */
void log_set_repeat_clock(int64_t (*now_ms)(void));
void log_reset_repeats(void);
/* Masks every registered secret in buf (in place, NUL-terminated), replacing
 * each occurrence with "***". Exposed for the config printer and tests. */
void log_mask_secrets(char *buf);

#endif
