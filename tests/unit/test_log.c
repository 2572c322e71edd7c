/* test_log.c: unit tests for server/log (JSON lines, levels, secret masking) and server/strbuf.
 *
 * Captures log output through log_set_fd() into an unlinked temporary file (or a pipe for the
 * multi-threaded case) and parses every line back with json-c: one object per line, ts/level/msg
 * first, typed fields, escaping, level filtering, and masking of registered secrets. Also covers
 * strbuf growth, printf and JSON escaping. Resets the logger's global state after each test. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <json-c/json.h>

#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/log.h"
#include "base/strbuf.h"

static int capture_fd = -1;

static int capture_start(void **state)
{
    (void)state;
    char path[] = "/tmp/test_log.XXXXXX";
    capture_fd = mkstemp(path);
    assert_true(capture_fd >= 0);
    unlink(path);
    log_set_fd(capture_fd);
    log_set_level(LOG_LEVEL_DEBUG);
    log_clear_secrets();
    return 0;
}

static int capture_stop(void **state)
{
    (void)state;
    log_set_fd(2);
    log_set_level(LOG_LEVEL_INFO);
    log_clear_secrets();
    if (capture_fd >= 0)
        close(capture_fd);
    capture_fd = -1;
    return 0;
}

/* Everything logged so far; caller frees. */
static char *captured(void)
{
    off_t end = lseek(capture_fd, 0, SEEK_END);
    assert_true(end >= 0);
    char *buf = calloc(1, (size_t)end + 1);
    assert_non_null(buf);
    assert_int_equal(pread(capture_fd, buf, (size_t)end, 0), end);
    return buf;
}

static size_t count_lines(const char *text)
{
    size_t n = 0;
    for (const char *p = text; *p; p++)
        n += *p == '\n';
    return n;
}

/* Parses one line (without its newline) as a JSON object; NULL (with the reason printed) when
 * it is not exactly one object. */
static struct json_object *try_parse_line(const char *line, size_t len)
{
    struct json_tokener *tok = json_tokener_new();
    struct json_object *obj = json_tokener_parse_ex(tok, line, (int)len);
    enum json_tokener_error jerr = json_tokener_get_error(tok);
    size_t used = (size_t)json_tokener_get_parse_end(tok);
    json_tokener_free(tok);
    if (!obj || jerr != json_tokener_success || used != len ||
        !json_object_is_type(obj, json_type_object)) {
        json_object_put(obj);
        print_error("not one JSON object (%s): %.*s\n", json_tokener_error_desc(jerr), (int)len,
                    line);
        return NULL;
    }
    return obj;
}

static struct json_object *parse_line(const char *line, size_t len)
{
    struct json_object *obj = try_parse_line(line, len);
    if (!obj)
        fail_msg("invalid log line");
    return obj;
}

/* The only captured line, parsed. */
static struct json_object *only_line(void)
{
    char *text = captured();
    size_t n = count_lines(text);
    size_t len = strlen(text);
    struct json_object *obj = NULL;
    if (n == 1 && text[len - 1] == '\n')
        obj = try_parse_line(text, len - 1);
    else
        print_error("expected exactly one line, got %zu: %s\n", n, text);
    free(text);
    if (!obj)
        fail_msg("no valid single log line");
    return obj;
}

static const char *str_field(struct json_object *obj, const char *key)
{
    struct json_object *v = NULL;
    if (!json_object_object_get_ex(obj, key, &v))
        fail_msg("field '%s' missing", key);
    assert_true(json_object_is_type(v, json_type_string));
    return json_object_get_string(v);
}

static void test_line_shape_and_typed_fields(void **state)
{
    (void)state;
    time_t before = time(NULL);
    log_with(LOG_LEVEL_INFO, "hello world", LF_S("route", "healthz"), LF_I("status", 200),
             LF_I("neg", -42), LF_I("min", LLONG_MIN), LF_I("max", LLONG_MAX), LF_D("ms", 1.5),
             LF_D("zero", 0), LF_B("ok", true), LF_B("retry", false), LF_S("none", NULL));
    time_t after = time(NULL);
    char *text = captured();
    assert_true(strncmp(text, "{\"ts\":\"", 7) == 0);
    assert_non_null(strstr(text, "\",\"level\":\"info\",\"msg\":\"hello world\","));
    free(text);

    struct json_object *obj = only_line();
    assert_int_equal(json_object_object_length(obj), 13);
    const char *ts = str_field(obj, "ts");
    assert_int_equal(strlen(ts), 24);
    struct tm tm = {0};
    int ms = -1;
    char z = 0;
    assert_int_equal(sscanf(ts, "%4d-%2d-%2dT%2d:%2d:%2d.%3d%c", &tm.tm_year, &tm.tm_mon,
                            &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &ms, &z),
                     8);
    assert_int_equal(z, 'Z');
    assert_in_range(ms, 0, 999);
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    time_t t = timegm(&tm);
    assert_in_range(t, before - 1, after + 1); /* time() may use a coarse clock */

    assert_string_equal(str_field(obj, "level"), "info");
    assert_string_equal(str_field(obj, "msg"), "hello world");
    assert_string_equal(str_field(obj, "route"), "healthz");
    struct json_object *v = NULL;
    assert_true(json_object_object_get_ex(obj, "status", &v));
    assert_true(json_object_is_type(v, json_type_int));
    assert_int_equal(json_object_get_int64(v), 200);
    assert_true(json_object_object_get_ex(obj, "neg", &v));
    assert_int_equal(json_object_get_int64(v), -42);
    assert_true(json_object_object_get_ex(obj, "min", &v));
    assert_true(json_object_is_type(v, json_type_int));
    assert_true(json_object_get_int64(v) == LLONG_MIN);
    assert_true(json_object_object_get_ex(obj, "max", &v));
    assert_true(json_object_get_int64(v) == LLONG_MAX);
    assert_true(json_object_object_get_ex(obj, "ms", &v));
    assert_true(json_object_is_type(v, json_type_double));
    assert_true(json_object_get_double(v) == 1.5);
    assert_true(json_object_object_get_ex(obj, "zero", &v));
    assert_true(json_object_get_double(v) == 0.0);
    assert_true(json_object_object_get_ex(obj, "ok", &v));
    assert_true(json_object_is_type(v, json_type_boolean));
    assert_true(json_object_get_boolean(v));
    assert_true(json_object_object_get_ex(obj, "retry", &v));
    assert_true(json_object_is_type(v, json_type_boolean));
    assert_false(json_object_get_boolean(v));
    assert_true(json_object_object_get_ex(obj, "none", &v));
    assert_null(v); /* JSON null */
    json_object_put(obj);
}

static void test_one_object_per_line(void **state)
{
    (void)state;
    log_info("first");
    log_warn("second");
    log_error("third");
    log_debug("fourth");
    log_emit(LOG_LEVEL_INFO, "fifth", NULL, 0);
    char *text = captured();
    assert_int_equal(count_lines(text), 5);
    static const char *const want[][2] = {{"info", "first"},
                                          {"warn", "second"},
                                          {"error", "third"},
                                          {"debug", "fourth"},
                                          {"info", "fifth"}};
    const char *line = text;
    for (size_t i = 0; i < 5; i++) {
        const char *nl = strchr(line, '\n');
        assert_non_null(nl);
        struct json_object *obj = parse_line(line, (size_t)(nl - line));
        assert_int_equal(json_object_object_length(obj), 3);
        assert_string_equal(str_field(obj, "level"), want[i][0]);
        assert_string_equal(str_field(obj, "msg"), want[i][1]);
        json_object_put(obj);
        line = nl + 1;
    }
    assert_string_equal(line, "");
    free(text);
}

static void test_level_filtering(void **state)
{
    (void)state;
    log_set_level(LOG_LEVEL_WARN);
    assert_false(log_enabled(LOG_LEVEL_DEBUG));
    assert_false(log_enabled(LOG_LEVEL_INFO));
    assert_true(log_enabled(LOG_LEVEL_WARN));
    assert_true(log_enabled(LOG_LEVEL_ERROR));
    log_debug("d");
    log_info("i");
    log_with(LOG_LEVEL_INFO, "i2", LF_I("n", 1));
    log_warn("w");
    log_error("e");
    char *text = captured();
    assert_int_equal(count_lines(text), 2);
    assert_null(strstr(text, "\"msg\":\"d\""));
    assert_null(strstr(text, "\"msg\":\"i"));
    assert_non_null(strstr(text, "\"level\":\"warn\",\"msg\":\"w\"}\n"));
    assert_non_null(strstr(text, "\"level\":\"error\",\"msg\":\"e\"}\n"));
    free(text);

    log_set_level(LOG_LEVEL_ERROR);
    assert_false(log_enabled(LOG_LEVEL_WARN));
    log_warn("w2");
    text = captured();
    assert_int_equal(count_lines(text), 2);
    free(text);

    log_set_level(LOG_LEVEL_DEBUG);
    assert_true(log_enabled(LOG_LEVEL_DEBUG));
    log_debug("d2");
    text = captured();
    assert_int_equal(count_lines(text), 3);
    assert_non_null(strstr(text, "\"level\":\"debug\",\"msg\":\"d2\"}\n"));
    free(text);
}

static void test_level_names(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        enum log_level level;
    } good[] = {{"debug", LOG_LEVEL_DEBUG},
                {"INFO", LOG_LEVEL_INFO},
                {"Warn", LOG_LEVEL_WARN},
                {"warning", LOG_LEVEL_WARN},
                {"ERROR", LOG_LEVEL_ERROR}};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        enum log_level l = LOG_LEVEL_ERROR + 1;
        assert_int_equal(log_parse_level(good[i].text, &l), 0);
        assert_int_equal(l, good[i].level);
    }
    static const char *const bad[] = {"", "trace", "fatal", "info ", " info", "warnings", "err"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        enum log_level l = LOG_LEVEL_WARN;
        assert_int_equal(log_parse_level(bad[i], &l), -1);
        assert_int_equal(l, LOG_LEVEL_WARN);
    }
    assert_string_equal(log_level_name(LOG_LEVEL_DEBUG), "debug");
    assert_string_equal(log_level_name(LOG_LEVEL_INFO), "info");
    assert_string_equal(log_level_name(LOG_LEVEL_WARN), "warn");
    assert_string_equal(log_level_name(LOG_LEVEL_ERROR), "error");
    assert_string_equal(log_level_name((enum log_level)7), "info");
    int negative = -1;
    assert_string_equal(log_level_name((enum log_level)negative), "info");
}

static void test_escaping(void **state)
{
    (void)state;
    const char *msg = "say \"hi\"\n\tand \\ then \r\x01\x1f\x7f end \xc3\xa9";
    const char *val = "}{\",\"level\":\"error\"";
    log_with(LOG_LEVEL_INFO, msg, LF_S(val, val), LF_S("k\n", "v\x02"));
    char *text = captured();
    /* no raw control character anywhere but the final newline */
    size_t len = strlen(text);
    for (size_t i = 0; i + 1 < len; i++)
        assert_true((unsigned char)text[i] >= 0x20 && text[i] != 0x7f);
    assert_non_null(strstr(text, "\"msg\":\"say \\\"hi\\\"\\n\\tand \\\\ then "
                                 "\\r\\u0001\\u001f\\u007f end \xc3\xa9\""));
    free(text);
    struct json_object *obj = only_line();
    assert_int_equal(json_object_object_length(obj), 5);
    assert_string_equal(str_field(obj, "level"), "info");
    assert_string_equal(str_field(obj, "msg"), msg);
    assert_string_equal(str_field(obj, val), val);
    assert_string_equal(str_field(obj, "k\n"), "v\x02");
    json_object_put(obj);
}

static void test_secrets_masked(void **state)
{
    (void)state;
    assert_int_equal(log_add_secret("alpha-secret-1"), 0);
    assert_int_equal(log_add_secret("beta-secret-22"), 0);
    assert_int_equal(log_add_secret("gamma-33"), 0);
    log_with(LOG_LEVEL_ERROR, "alpha-secret-1", LF_S("a", "x alpha-secret-1 y beta-secret-22 z"),
             LF_S("b", "beta-secret-22beta-secret-22"), LF_S("c", "pre-gamma-33"),
             LF_S("gamma-33", "gamma-33-post"), LF_I("n", 5));
    char *text = captured();
    assert_null(strstr(text, "secret"));
    assert_null(strstr(text, "gamma-33"));
    free(text);
    struct json_object *obj = only_line();
    assert_string_equal(str_field(obj, "msg"), "***");
    assert_string_equal(str_field(obj, "a"), "x *** y *** z");
    assert_string_equal(str_field(obj, "b"), "******");
    assert_string_equal(str_field(obj, "c"), "pre-***");
    assert_string_equal(str_field(obj, "***"), "***-post");
    json_object_put(obj);
}

static void mask(const char *in, const char *want)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s", in);
    log_mask_secrets(buf);
    if (strcmp(buf, want) != 0)
        fail_msg("mask('%s') = '%s', expected '%s'", in, buf, want);
}

static void test_mask_positions_and_overlaps(void **state)
{
    (void)state;
    assert_int_equal(log_add_secret("aaaa"), 0);
    assert_int_equal(log_add_secret("abab"), 0);
    assert_int_equal(log_add_secret("S3cr3t!"), 0);
    mask("", "");
    mask("nothing here", "nothing here");
    mask("S3cr3t!", "***");
    mask("S3cr3t! at start", "*** at start");
    mask("at end S3cr3t!", "at end ***");
    mask("S3cr3t!S3cr3t!", "******");
    mask("S3cr3t", "S3cr3t"); /* a prefix is not the secret */
    mask("aaaa", "***");
    mask("aaaaa", "***a"); /* overlapping: leftmost first */
    mask("aaaaaaaa", "******");
    mask("aaaaaaaaa", "******a");
    mask("ababab", "***ab");
    mask("abababab", "******");
    mask("xabab S3cr3t!aaaa", "x*** ******");
}

static void test_short_secrets_ignored(void **state)
{
    (void)state;
    assert_int_equal(log_add_secret("abc"), 0);
    assert_int_equal(log_add_secret(""), 0);
    assert_int_equal(log_add_secret("x"), 0);
    assert_int_equal(log_add_secret(NULL), 0);
    mask("abc x abcabc", "abc x abcabc");
    assert_int_equal(log_add_secret("abcd"), 0); /* four bytes: masked */
    mask("abc abcd", "abc ***");
    log_info("abc def");
    char *text = captured();
    assert_non_null(strstr(text, "\"msg\":\"abc def\""));
    free(text);
}

static void test_secret_table(void **state)
{
    (void)state;
    char s[32];
    for (int i = 0; i < 32; i++) {
        snprintf(s, sizeof s, "secret-%02d", i);
        assert_int_equal(log_add_secret(s), 0);
    }
    assert_int_equal(log_add_secret("secret-00"), 0); /* already known */
    assert_int_equal(log_add_secret("one-too-many"), -1);
    mask("secret-00 secret-31 one-too-many", "*** *** one-too-many");
    log_clear_secrets();
    mask("secret-00", "secret-00");
    assert_int_equal(log_add_secret("one-too-many"), 0);
    mask("one-too-many", "***");
}

/* A secret holding a JSON-special character must not survive because the line holds its escaped
 * form. */
static void test_secret_with_quote_masked(void **state)
{
    (void)state;
    assert_int_equal(log_add_secret("pa\"ss-w0rd"), 0);
    log_with(LOG_LEVEL_ERROR, "login", LF_S("pw", "pa\"ss-w0rd"));
    struct json_object *obj = only_line();
    char value[64];
    snprintf(value, sizeof value, "%s", str_field(obj, "pw"));
    json_object_put(obj);
    if (strstr(value, "ss-w0rd"))
        fail_msg("secret with a quote logged in clear: \"%s\"", value);
    assert_string_equal(value, "***");
}

static void test_secret_with_backslash_keeps_json_valid(void **state)
{
    (void)state;
    assert_int_equal(log_add_secret("s3cr\\"), 0); /* ends with a backslash */
    log_with(LOG_LEVEL_ERROR, "auth", LF_S("token", "s3cr\\"), LF_I("n", 1));
    struct json_object *obj = only_line(); /* fails when masking broke the JSON */
    char value[64];
    snprintf(value, sizeof value, "%s", str_field(obj, "token"));
    json_object_put(obj);
    assert_string_equal(value, "***");
}

/* When one registered secret contains another, no part of the longer one may remain. */
static void test_secret_containing_another(void **state)
{
    (void)state;
    assert_int_equal(log_add_secret("abcd1234"), 0);
    assert_int_equal(log_add_secret("abcd1234efgh5678"), 0);
    mask("key abcd1234efgh5678 end", "key *** end");
}

/* Non-finite doubles must still give a valid JSON line. */
static void test_nonfinite_double_valid_json(void **state)
{
    (void)state;
    log_with(LOG_LEVEL_INFO, "rate", LF_D("ratio", NAN), LF_D("inf", INFINITY));
    struct json_object *obj = only_line();
    json_object_put(obj);
}

static void test_double_field_values(void **state)
{
    (void)state;
    log_with(LOG_LEVEL_INFO, "d", LF_D("a", -0.25), LF_D("b", 12345.5), LF_D("c", 1e-9));
    struct json_object *obj = only_line();
    struct json_object *v = NULL;
    assert_true(json_object_object_get_ex(obj, "a", &v));
    assert_true(json_object_get_double(v) == -0.25);
    assert_true(json_object_object_get_ex(obj, "b", &v));
    assert_true(json_object_get_double(v) == 12345.5);
    assert_true(json_object_object_get_ex(obj, "c", &v));
    assert_true(json_object_get_double(v) == 1e-9);
    json_object_put(obj);
}

#define LOG_THREADS 4
#define LOG_LINES   500

struct pipe_reader {
    int fd;
    struct strbuf out;
};

static void *reader_main(void *arg)
{
    struct pipe_reader *r = arg;
    char buf[4096];
    ssize_t n;
    while ((n = read(r->fd, buf, sizeof buf)) > 0)
        strbuf_append(&r->out, buf, (size_t)n);
    return NULL;
}

static void *logger_main(void *arg)
{
    long id = (long)(intptr_t)arg;
    char pad[300];
    memset(pad, 'a' + (int)id, sizeof pad - 1);
    pad[sizeof pad - 1] = '\0';
    for (int i = 0; i < LOG_LINES; i++)
        log_with(LOG_LEVEL_INFO, "from thread", LF_I("thread", id), LF_I("i", i), LF_S("pad", pad));
    return NULL;
}

static void test_threads_lines_do_not_interleave(void **state)
{
    (void)state;
    int p[2];
    assert_int_equal(pipe(p), 0);
    struct pipe_reader r = {.fd = p[0], .out = STRBUF_INIT};
    pthread_t reader, tid[LOG_THREADS];
    assert_int_equal(pthread_create(&reader, NULL, reader_main, &r), 0);
    log_set_fd(p[1]);
    for (long i = 0; i < LOG_THREADS; i++)
        assert_int_equal(pthread_create(&tid[i], NULL, logger_main, (void *)(intptr_t)i), 0);
    for (int i = 0; i < LOG_THREADS; i++)
        assert_int_equal(pthread_join(tid[i], NULL), 0);
    log_set_fd(capture_fd);
    close(p[1]);
    assert_int_equal(pthread_join(reader, NULL), 0);
    close(p[0]);
    assert_false(r.out.failed);
    int seen[LOG_THREADS] = {0};
    const char *line = strbuf_str(&r.out);
    size_t nlines = 0;
    const char *nl;
    while ((nl = strchr(line, '\n')) != NULL) {
        struct json_object *obj = parse_line(line, (size_t)(nl - line));
        struct json_object *t = NULL, *i = NULL, *pad = NULL;
        assert_true(json_object_object_get_ex(obj, "thread", &t));
        assert_true(json_object_object_get_ex(obj, "i", &i));
        assert_true(json_object_object_get_ex(obj, "pad", &pad));
        int id = json_object_get_int(t);
        assert_in_range(id, 0, LOG_THREADS - 1);
        /* lines of one thread arrive in order */
        assert_int_equal(json_object_get_int(i), seen[id]);
        seen[id]++;
        assert_int_equal(json_object_get_string_len(pad), 299);
        assert_int_equal(json_object_get_string(pad)[0], 'a' + id);
        json_object_put(obj);
        nlines++;
        line = nl + 1;
    }
    assert_string_equal(line, "");
    assert_int_equal(nlines, LOG_THREADS * LOG_LINES);
    for (int i = 0; i < LOG_THREADS; i++)
        assert_int_equal(seen[i], LOG_LINES);
    strbuf_free(&r.out);
}

/* ---- strbuf ---- */

static void test_strbuf_append_growth(void **state)
{
    (void)state;
    struct strbuf sb = STRBUF_INIT;
    assert_string_equal(strbuf_str(&sb), "");
    for (int i = 0; i < 1000; i++)
        assert_int_equal(strbuf_append(&sb, "0123456789", 10), 0);
    assert_int_equal(sb.len, 10000);
    assert_true(sb.cap >= sb.len + 1);
    assert_int_equal(strlen(strbuf_str(&sb)), 10000);
    for (size_t i = 0; i < 10000; i++)
        assert_int_equal(sb.data[i], '0' + (int)(i % 10));
    assert_int_equal(strbuf_puts(&sb, "xy"), 0);
    assert_int_equal(strbuf_putc(&sb, 'z'), 0);
    assert_int_equal(strbuf_append(&sb, "ignored", 0), 0);
    assert_int_equal(sb.len, 10003);
    assert_string_equal(sb.data + 10000, "xyz");
    /* embedded NUL bytes are kept, and a NUL still follows */
    assert_int_equal(strbuf_append(&sb, "a\0b", 3), 0);
    assert_int_equal(sb.len, 10006);
    assert_memory_equal(sb.data + 10003, "a\0b\0", 4);
    size_t cap = sb.cap;
    strbuf_reset(&sb);
    assert_int_equal(sb.len, 0);
    assert_int_equal(sb.cap, cap);
    assert_string_equal(strbuf_str(&sb), "");
    strbuf_free(&sb);
    assert_null(sb.data);
    assert_int_equal(sb.len, 0);
    strbuf_free(&sb);
}

static void test_strbuf_printf(void **state)
{
    (void)state;
    struct strbuf sb = STRBUF_INIT;
    assert_int_equal(strbuf_printf(&sb, "%d-%s-%c", 42, "x", 'y'), 0);
    assert_string_equal(strbuf_str(&sb), "42-x-y");
    assert_int_equal(sb.len, 6);
    char big[1001];
    memset(big, 'q', 1000);
    big[1000] = '\0';
    assert_int_equal(strbuf_printf(&sb, "[%s]%d", big, 7), 0); /* longer than 256 */
    assert_int_equal(sb.len, 6 + 1003);
    assert_int_equal(strlen(strbuf_str(&sb)), sb.len);
    assert_true(strncmp(sb.data, "42-x-y[qqq", 10) == 0);
    assert_string_equal(sb.data + sb.len - 3, "q]7");
    /* lengths around the 256-byte stack buffer */
    for (int n = 250; n <= 260; n++) {
        strbuf_reset(&sb);
        assert_int_equal(strbuf_printf(&sb, "%.*s|", n, big), 0);
        assert_int_equal(sb.len, (size_t)n + 1);
        assert_int_equal(strlen(sb.data), (size_t)n + 1);
        assert_int_equal(sb.data[n], '|');
    }
    strbuf_reset(&sb);
    assert_int_equal(strbuf_printf(&sb, "%s", ""), 0);
    assert_int_equal(sb.len, 0);
    strbuf_free(&sb);
}

static void test_strbuf_json_escape(void **state)
{
    (void)state;
    struct strbuf sb = STRBUF_INIT;
    assert_int_equal(strbuf_json_escape(&sb, "plain", 5), 0);
    assert_string_equal(strbuf_str(&sb), "plain");
    strbuf_reset(&sb);
    assert_int_equal(strbuf_json_escape(&sb, "a\"b\\c\nd\re\tf/", 12), 0);
    assert_string_equal(strbuf_str(&sb), "a\\\"b\\\\c\\nd\\re\\tf/");
    strbuf_reset(&sb);
    assert_int_equal(strbuf_json_escape(&sb, "x\0y", 3), 0); /* NUL inside the length */
    assert_string_equal(strbuf_str(&sb), "x\\u0000y");
    strbuf_reset(&sb);
    assert_int_equal(strbuf_json_escape(&sb, "\x01\x08\x0b\x0c\x1f\x7f", 6), 0);
    assert_string_equal(strbuf_str(&sb), "\\u0001\\u0008\\u000b\\u000c\\u001f\\u007f");
    strbuf_reset(&sb);
    assert_int_equal(strbuf_json_escape(&sb, "ignored", 0), 0);
    assert_string_equal(strbuf_str(&sb), "");

    /* every byte from 1 to 127 round-trips through a JSON parser */
    char all[128];
    for (int c = 1; c < 128; c++)
        all[c - 1] = (char)c;
    all[127] = '\0';
    strbuf_reset(&sb);
    strbuf_putc(&sb, '"');
    strbuf_json_escape(&sb, all, 127);
    strbuf_putc(&sb, '"');
    assert_false(sb.failed);
    struct json_object *obj = json_tokener_parse(strbuf_str(&sb));
    assert_non_null(obj);
    assert_int_equal(json_object_get_string_len(obj), 127);
    assert_memory_equal(json_object_get_string(obj), all, 127);
    json_object_put(obj);
    strbuf_free(&sb);
}

static void test_strbuf_detach(void **state)
{
    (void)state;
    struct strbuf sb = STRBUF_INIT;
    strbuf_puts(&sb, "hello");
    size_t len = 0;
    char *p = strbuf_detach(&sb, &len);
    assert_non_null(p);
    assert_int_equal(len, 5);
    assert_string_equal(p, "hello");
    assert_null(sb.data);
    assert_int_equal(sb.len, 0);
    assert_int_equal(sb.cap, 0);
    assert_string_equal(strbuf_str(&sb), "");
    free(p);
    /* reusable after detach */
    strbuf_puts(&sb, "again");
    assert_string_equal(strbuf_str(&sb), "again");
    strbuf_free(&sb);
}

/* strbuf.h: "always NUL-terminated"; a buffer nothing was appended to detaches as "". */
static void test_strbuf_detach_empty_is_terminated(void **state)
{
    (void)state;
    struct strbuf sb = STRBUF_INIT;
    size_t len = 99;
    char *p = strbuf_detach(&sb, &len);
    assert_non_null(p);
    assert_int_equal(len, 0);
    int first = (unsigned char)p[0];
    free(p);
    assert_int_equal(first, 0);

    /* after a bare reserve, the contents are still "" */
    struct strbuf r = STRBUF_INIT;
    assert_int_equal(strbuf_reserve(&r, 100), 0);
    assert_non_null(r.data);
    first = (unsigned char)r.data[0];
    strbuf_free(&r);
    assert_int_equal(first, 0);
}

static void test_strbuf_failure_is_sticky(void **state)
{
    (void)state;
    struct strbuf sb = STRBUF_INIT;
    strbuf_puts(&sb, "keep");
    assert_int_equal(strbuf_reserve(&sb, SIZE_MAX - 2), -1);
    assert_true(sb.failed);
    assert_int_equal(strbuf_puts(&sb, "more"), -1);
    assert_int_equal(strbuf_putc(&sb, 'x'), -1);
    assert_int_equal(strbuf_json_escape(&sb, "y", 1), -1);
    assert_string_equal(strbuf_str(&sb), "keep"); /* unchanged */
    assert_int_equal(sb.len, 4);
    strbuf_free(&sb);
    assert_false(sb.failed);
    assert_int_equal(strbuf_puts(&sb, "ok"), 0);
    assert_string_equal(strbuf_str(&sb), "ok");
    strbuf_free(&sb);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, capture_start, capture_stop)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_line_shape_and_typed_fields),
        T(test_one_object_per_line),
        T(test_level_filtering),
        T(test_level_names),
        T(test_escaping),
        T(test_secrets_masked),
        T(test_mask_positions_and_overlaps),
        T(test_short_secrets_ignored),
        T(test_secret_table),
        T(test_secret_with_quote_masked),
        T(test_secret_with_backslash_keeps_json_valid),
        T(test_secret_containing_another),
        T(test_nonfinite_double_valid_json),
        T(test_double_field_values),
        T(test_threads_lines_do_not_interleave),
        cmocka_unit_test(test_strbuf_append_growth),
        cmocka_unit_test(test_strbuf_printf),
        cmocka_unit_test(test_strbuf_json_escape),
        cmocka_unit_test(test_strbuf_detach),
        cmocka_unit_test(test_strbuf_detach_empty_is_terminated),
        cmocka_unit_test(test_strbuf_failure_is_sticky),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
