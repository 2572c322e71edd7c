/* test_log_repeat.c: the collapsing of repeated log lines (base/log.c), with an injected clock:
 * the first warn/error line of a site is written, repeats within the interval are counted, the
 * next one after it says how many were left out, a flush reports a flood that has ended, sites
 * differ by level, msg, status and code but not by other fields, info lines are never collapsed,
 * the count is exact under 8 threads, and synkro_log_suppressed_total carries it.
 *
 * Must not: read the real clock for intervals (every time here is the fake one). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <json-c/json.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/log.h"
#include "base/metrics.h"
#include "base/strbuf.h"
#include "metric_read.h"

static int capture_fd = -1;
static off_t read_to; /* what lines_since has read of the capture */
static int64_t fake_now = 1000;

static int64_t fake_clock(void)
{
    return __atomic_load_n(&fake_now, __ATOMIC_SEQ_CST);
}

static int setup(void **state)
{
    (void)state;
    char path[] = "/tmp/test_log_repeat.XXXXXX";
    capture_fd = mkstemp(path);
    assert_true(capture_fd >= 0);
    unlink(path);
    read_to = 0;
    log_set_fd(capture_fd);
    log_set_level(LOG_LEVEL_DEBUG);
    fake_now = 1000;
    log_set_repeat_clock(fake_clock);
    log_set_repeat_interval_ms(10000);
    log_reset_repeats();
    metrics_reset_all();
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    log_set_fd(2);
    log_set_level(LOG_LEVEL_INFO);
    log_set_repeat_interval_ms(0);
    log_set_repeat_clock(NULL);
    log_reset_repeats();
    metrics_reset_all();
    close(capture_fd);
    return 0;
}

/* The lines written since the last call, parsed; caller puts the array. */
static json_object *lines_since(void)
{
    off_t end = lseek(capture_fd, 0, SEEK_END);
    size_t len = (size_t)(end - read_to);
    char *buf = calloc(1, len + 1);
    assert_non_null(buf);
    assert_int_equal(pread(capture_fd, buf, len, read_to), (ssize_t)len);
    read_to = end;
    json_object *arr = json_object_new_array();
    for (char *line = strtok(buf, "\n"); line; line = strtok(NULL, "\n")) {
        json_object *o = json_tokener_parse(line);
        assert_non_null(o);
        json_object_array_add(arr, o);
    }
    free(buf);
    return arr;
}

static const char *str(json_object *line, const char *key)
{
    json_object *v = NULL;
    return json_object_object_get_ex(line, key, &v) ? json_object_get_string(v) : NULL;
}

static long long num(json_object *line, const char *key)
{
    json_object *v = NULL;
    return json_object_object_get_ex(line, key, &v) ? json_object_get_int64(v) : -1;
}

static double suppressed_metric(const char *level)
{
    char series[96];
    snprintf(series, sizeof series, "synkro_log_suppressed_total{level=\"%s\"}", level);
    return metric_read(series, 0);
}

static void refused(int status, const char *request_id)
{
    log_with(LOG_LEVEL_ERROR, "events not stored", LF_I("status", status),
             LF_S("error", "no database connection free within 1000 ms"),
             LF_S("request_id", request_id));
}

static void test_first_line_then_one_per_interval(void **state)
{
    (void)state;
    char id[16];
    for (int i = 0; i < 500; i++) {
        snprintf(id, sizeof id, "r%d", i);
        refused(503, id); /* request ids differ: still one site */
        fake_now += 10;   /* 5 s in all */
    }
    json_object *got = lines_since();
    assert_int_equal(json_object_array_length(got), 1);
    assert_string_equal(str(json_object_array_get_idx(got, 0), "request_id"), "r0");
    assert_int_equal(num(json_object_array_get_idx(got, 0), "suppressed"), -1);
    json_object_put(got);
    assert_true(suppressed_metric("error") == 499.0);

    fake_now = 1000 + 10000; /* the interval has passed: the next line says what was left out */
    refused(503, "late");
    got = lines_since();
    assert_int_equal(json_object_array_length(got), 1);
    assert_string_equal(str(json_object_array_get_idx(got, 0), "request_id"), "late");
    assert_int_equal(num(json_object_array_get_idx(got, 0), "suppressed"), 499);
    json_object_put(got);
    assert_true(suppressed_metric("error") == 499.0);

    /* 20 s more of it: one line each 10 s */
    for (int i = 0; i <= 2000; i++) {
        refused(503, "x");
        fake_now += 10;
    }
    got = lines_since();
    assert_int_equal(json_object_array_length(got), 2);
    json_object_put(got);
}

static void test_sites_and_levels(void **state)
{
    (void)state;
    for (int i = 0; i < 3; i++) {
        refused(503, "a");
        refused(500, "b"); /* another status: another site */
        log_with(LOG_LEVEL_WARN, "events not stored", LF_I("status", 503)); /* another level */
        log_with(LOG_LEVEL_ERROR, "hubspot webhook refused", LF_S("code", "unavailable"));
        log_with(LOG_LEVEL_ERROR, "hubspot webhook refused", LF_S("code", "bad_signature"));
        log_with(LOG_LEVEL_INFO, "http request", LF_I("status", 200)); /* never collapsed */
    }
    json_object *got = lines_since();
    assert_int_equal(json_object_array_length(got), 5 + 3);
    json_object_put(got);
    assert_true(suppressed_metric("error") == 8.0);
    assert_true(suppressed_metric("warn") == 2.0);

    log_set_repeat_interval_ms(0); /* off: everything written */
    for (int i = 0; i < 3; i++)
        refused(503, "a");
    got = lines_since();
    assert_int_equal(json_object_array_length(got), 3);
    json_object_put(got);
}

static void test_flush_reports_an_ended_flood(void **state)
{
    (void)state;
    for (int i = 0; i < 7; i++)
        refused(503, "a");
    json_object *got = lines_since();
    assert_int_equal(json_object_array_length(got), 1);
    json_object_put(got);
    assert_int_equal(log_flush_suppressed(), 0); /* the interval is still running */
    assert_int_equal(json_object_array_length(got = lines_since()), 0);
    json_object_put(got);
    fake_now += 10000;
    assert_int_equal(log_flush_suppressed(), 6);
    got = lines_since();
    assert_int_equal(json_object_array_length(got), 1);
    json_object *line = json_object_array_get_idx(got, 0);
    assert_string_equal(str(line, "msg"), "repeated log lines suppressed");
    assert_string_equal(str(line, "repeated_msg"), "events not stored");
    assert_string_equal(str(line, "level"), "error");
    assert_int_equal(num(line, "suppressed"), 6);
    json_object_put(got);
    fake_now += 20000;
    assert_int_equal(log_flush_suppressed(), 0); /* nothing new left out */
    refused(503, "b"); /* a new flood starts with its first line, without a count */
    got = lines_since();
    assert_int_equal(json_object_array_length(got), 1);
    assert_int_equal(num(json_object_array_get_idx(got, 0), "suppressed"), -1);
    json_object_put(got);
}

#define THREADS    8
#define PER_THREAD 2000

static void *flood(void *arg)
{
    (void)arg;
    for (int i = 0; i < PER_THREAD; i++)
        refused(503, "t");
    return NULL;
}

/* Under 8 threads, one line is written and every other is counted exactly once. */
static void test_threads_count_exactly(void **state)
{
    (void)state;
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++)
        assert_int_equal(pthread_create(&t[i], NULL, flood, NULL), 0);
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    json_object *got = lines_since();
    assert_int_equal(json_object_array_length(got), 1);
    json_object_put(got);
    fake_now += 10000;
    assert_int_equal(log_flush_suppressed(), THREADS * PER_THREAD - 1);
    assert_true(suppressed_metric("error") == (double)(THREADS * PER_THREAD - 1));
    json_object_put(lines_since());
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_first_line_then_one_per_interval),
        T(test_sites_and_levels),
        T(test_flush_reports_an_ended_flood),
        T(test_threads_count_exactly),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
