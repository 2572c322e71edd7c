/* test_metrics.c: unit tests for server/metrics (registry, series, Prometheus text).
 *
 * Checks the exact exposition text of counters, gauges and histograms (HELP/TYPE lines, label
 * escaping, cumulative buckets, +Inf, _sum, _count), registration rules, the series limit,
 * collectors, and that 8 threads recording at once end with exact totals. Every test starts
 * and ends with metrics_reset_all(). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/metrics.h"
#include "base/strbuf.h"

static int reset(void **state)
{
    (void)state;
    metrics_reset_all();
    return 0;
}

/* Renders every family; caller frees. (Copies rather than strbuf_detach(): detaching a
 * buffer nothing was appended to is covered, and currently broken, in test_log.c.) */
static char *render(void)
{
    struct strbuf sb = STRBUF_INIT;
    assert_int_equal(metrics_render(&sb), 0);
    char *copy = strdup(strbuf_str(&sb));
    assert_non_null(copy);
    strbuf_free(&sb);
    return copy;
}

static void expect_render(const char *want)
{
    char *got = render();
    int same = strcmp(got, want) == 0;
    if (!same)
        print_error("got:\n%s\nwant:\n%s\n", got, want);
    free(got);
    assert_true(same);
}

static void test_counter_render(void **state)
{
    (void)state;
    static const char *const names[] = {"route", "status"};
    struct metric_family *f = metrics_register(METRIC_COUNTER, "t_requests_total",
                                               "Requests handled.", names, 2, NULL, 0);
    assert_non_null(f);
    expect_render("# HELP t_requests_total Requests handled.\n"
                  "# TYPE t_requests_total counter\n");
    metrics_add(f, (const char *const[]){"healthz", "200"}, 3);
    metrics_add(f, (const char *const[]){"healthz", "200"}, 2);
    metrics_add(f, (const char *const[]){"metrics", "500"}, 1);
    struct metric_series *s = metrics_series(f, (const char *const[]){"metrics", "500"});
    metrics_series_add(s, 0.5);
    expect_render("# HELP t_requests_total Requests handled.\n"
                  "# TYPE t_requests_total counter\n"
                  "t_requests_total{route=\"healthz\",status=\"200\"} 5\n"
                  "t_requests_total{route=\"metrics\",status=\"500\"} 1.5\n");
    assert_true(metrics_value(f, (const char *const[]){"healthz", "200"}) == 5.0);
    assert_true(metrics_value(f, (const char *const[]){"metrics", "500"}) == 1.5);
    assert_true(metrics_value(f, (const char *const[]){"healthz", "500"}) == 0.0);
    /* a lookup by value creates nothing */
    expect_render("# HELP t_requests_total Requests handled.\n"
                  "# TYPE t_requests_total counter\n"
                  "t_requests_total{route=\"healthz\",status=\"200\"} 5\n"
                  "t_requests_total{route=\"metrics\",status=\"500\"} 1.5\n");
}

static void test_counter_without_labels(void **state)
{
    (void)state;
    struct metric_family *f =
        metrics_register(METRIC_COUNTER, "t_ticks_total", "Ticks.", NULL, 0, NULL, 0);
    assert_non_null(f);
    metrics_add(f, NULL, 41);
    metrics_add(f, NULL, 1);
    expect_render("# HELP t_ticks_total Ticks.\n# TYPE t_ticks_total counter\nt_ticks_total 42\n");
    assert_true(metrics_value(f, NULL) == 42.0);
}

static void test_gauge_render(void **state)
{
    (void)state;
    static const char *const names[] = {"queue"};
    struct metric_family *g =
        metrics_register(METRIC_GAUGE, "t_queue_depth", "Queued events.", names, 1, NULL, 0);
    assert_non_null(g);
    metrics_set(g, (const char *const[]){"a"}, 3.5);
    metrics_set(g, (const char *const[]){"b"}, 7);
    metrics_set(g, (const char *const[]){"b"}, -2);
    metrics_add(g, (const char *const[]){"b"}, 0.25);
    metrics_set(g, (const char *const[]){"c"}, 1e20);
    metrics_set(g, (const char *const[]){"d"}, 0.1);
    metrics_set(g, (const char *const[]){"e"}, 123456789012345.0);
    expect_render("# HELP t_queue_depth Queued events.\n"
                  "# TYPE t_queue_depth gauge\n"
                  "t_queue_depth{queue=\"a\"} 3.5\n"
                  "t_queue_depth{queue=\"b\"} -1.75\n"
                  "t_queue_depth{queue=\"c\"} 1e+20\n"
                  "t_queue_depth{queue=\"d\"} 0.1\n"
                  "t_queue_depth{queue=\"e\"} 123456789012345\n");
    assert_true(metrics_value(g, (const char *const[]){"b"}) == -1.75);
}

static void test_label_escaping(void **state)
{
    (void)state;
    static const char *const names[] = {"path", "other"};
    struct metric_family *f =
        metrics_register(METRIC_COUNTER, "t_esc_total", "Escapes.", names, 2, NULL, 0);
    metrics_add(f, (const char *const[]){"a\"b\\c\nd", "plain {},= x"}, 1);
    metrics_add(f, (const char *const[]){"", "\\\\"}, 2);
    expect_render("# HELP t_esc_total Escapes.\n"
                  "# TYPE t_esc_total counter\n"
                  "t_esc_total{path=\"a\\\"b\\\\c\\nd\",other=\"plain {},= x\"} 1\n"
                  "t_esc_total{path=\"\",other=\"\\\\\\\\\"} 2\n");
}

static void test_histogram_render(void **state)
{
    (void)state;
    static const char *const names[] = {"route"};
    static const double buckets[] = {0.1, 0.5, 1};
    struct metric_family *h =
        metrics_register(METRIC_HISTOGRAM, "t_latency_seconds", "Latency.", names, 1, buckets, 3);
    assert_non_null(h);
    const char *const a[] = {"a"};
    metrics_observe(h, a, 0.05);
    metrics_observe(h, a, 0.1); /* on the bound: counts in le="0.1" */
    metrics_observe(h, a, 0.3);
    metrics_observe(h, a, 0.7);
    metrics_observe(h, a, 2);
    metrics_observe(h, (const char *const[]){"b"}, 1);
    expect_render("# HELP t_latency_seconds Latency.\n"
                  "# TYPE t_latency_seconds histogram\n"
                  "t_latency_seconds_bucket{route=\"a\",le=\"0.1\"} 2\n"
                  "t_latency_seconds_bucket{route=\"a\",le=\"0.5\"} 3\n"
                  "t_latency_seconds_bucket{route=\"a\",le=\"1\"} 4\n"
                  "t_latency_seconds_bucket{route=\"a\",le=\"+Inf\"} 5\n"
                  "t_latency_seconds_sum{route=\"a\"} 3.15\n"
                  "t_latency_seconds_count{route=\"a\"} 5\n"
                  "t_latency_seconds_bucket{route=\"b\",le=\"0.1\"} 0\n"
                  "t_latency_seconds_bucket{route=\"b\",le=\"0.5\"} 0\n"
                  "t_latency_seconds_bucket{route=\"b\",le=\"1\"} 1\n"
                  "t_latency_seconds_bucket{route=\"b\",le=\"+Inf\"} 1\n"
                  "t_latency_seconds_sum{route=\"b\"} 1\n"
                  "t_latency_seconds_count{route=\"b\"} 1\n");
    assert_int_equal(metrics_histogram_count(h, a), 5);
    assert_int_equal(metrics_histogram_count(h, (const char *const[]){"zz"}), 0);
}

static void test_histogram_without_labels(void **state)
{
    (void)state;
    static const double buckets[] = {0.005, 2.5, 10};
    struct metric_family *h =
        metrics_register(METRIC_HISTOGRAM, "t_sizes", "Sizes.", NULL, 0, buckets, 3);
    struct metric_series *s = metrics_series(h, NULL);
    assert_non_null(s);
    metrics_series_observe(s, 0.001);
    metrics_series_observe(s, 11);
    metrics_series_observe(s, 11);
    expect_render("# HELP t_sizes Sizes.\n"
                  "# TYPE t_sizes histogram\n"
                  "t_sizes_bucket{le=\"0.005\"} 1\n"
                  "t_sizes_bucket{le=\"2.5\"} 1\n"
                  "t_sizes_bucket{le=\"10\"} 1\n"
                  "t_sizes_bucket{le=\"+Inf\"} 3\n"
                  "t_sizes_sum 22.001\n"
                  "t_sizes_count 3\n");
}

static void test_families_in_registration_order(void **state)
{
    (void)state;
    struct metric_family *b = metrics_register(METRIC_GAUGE, "t_b", "B.", NULL, 0, NULL, 0);
    struct metric_family *a = metrics_register(METRIC_COUNTER, "t_a_total", "A.", NULL, 0, NULL, 0);
    metrics_set(b, NULL, 1);
    metrics_add(a, NULL, 2);
    expect_render("# HELP t_b B.\n# TYPE t_b gauge\nt_b 1\n"
                  "# HELP t_a_total A.\n# TYPE t_a_total counter\nt_a_total 2\n");
}

static void test_register_twice_same_family(void **state)
{
    (void)state;
    static const char *const names[] = {"x"};
    struct metric_family *f1 =
        metrics_register(METRIC_COUNTER, "t_dup_total", "Dup.", names, 1, NULL, 0);
    struct metric_family *f2 =
        metrics_register(METRIC_COUNTER, "t_dup_total", "Dup.", names, 1, NULL, 0);
    assert_non_null(f1);
    assert_ptr_equal(f1, f2);
    /* same name, other kind or label count: refused */
    assert_null(metrics_register(METRIC_GAUGE, "t_dup_total", "Dup.", names, 1, NULL, 0));
    assert_null(metrics_register(METRIC_COUNTER, "t_dup_total", "Dup.", NULL, 0, NULL, 0));
    metrics_add(f1, (const char *const[]){"1"}, 1);
    metrics_add(f2, (const char *const[]){"1"}, 1);
    assert_true(metrics_value(f1, (const char *const[]){"1"}) == 2.0);
    /* one family in the output */
    expect_render("# HELP t_dup_total Dup.\n# TYPE t_dup_total counter\nt_dup_total{x=\"1\"} 2\n");
    /* the same label values give the same series */
    assert_ptr_equal(metrics_series(f1, (const char *const[]){"1"}),
                     metrics_series(f2, (const char *const[]){"1"}));
}

static void test_register_bad_arguments(void **state)
{
    (void)state;
    static const char *const five[] = {"a", "b", "c", "d", "e"};
    double many[METRICS_MAX_LABELS * 10];
    for (size_t i = 0; i < sizeof many / sizeof many[0]; i++)
        many[i] = (double)i + 1;
    assert_null(metrics_register(METRIC_COUNTER, "t_five", "x", five, 5, NULL, 0));
    assert_non_null(metrics_register(METRIC_COUNTER, "t_four", "x", five, 4, NULL, 0));
    assert_null(metrics_register(METRIC_HISTOGRAM, "t_nobuckets", "x", NULL, 0, NULL, 0));
    assert_null(metrics_register(METRIC_HISTOGRAM, "t_toomany", "x", NULL, 0, many, 25));
    assert_non_null(metrics_register(METRIC_HISTOGRAM, "t_max", "x", NULL, 0, many, 24));
    /* NULL family: no crash, no value */
    assert_null(metrics_series(NULL, NULL));
    metrics_add(NULL, NULL, 1);
    metrics_set(NULL, NULL, 1);
    metrics_observe(NULL, NULL, 1);
    metrics_series_add(NULL, 1);
    metrics_series_set(NULL, 1);
    metrics_series_observe(NULL, 1);
    assert_true(metrics_value(NULL, NULL) == 0.0);
    assert_int_equal(metrics_histogram_count(NULL, NULL), 0);
}

/* HELP text must escape backslash and newline (Prometheus text format 0.0.4). */
static void test_help_escaping(void **state)
{
    (void)state;
    assert_non_null(
        metrics_register(METRIC_GAUGE, "t_help", "first line\nsecond \\ line", NULL, 0, NULL, 0));
    expect_render("# HELP t_help first line\\nsecond \\\\ line\n# TYPE t_help gauge\n");
}

static void test_series_limit(void **state)
{
    (void)state;
    static const char *const names[] = {"id"};
    struct metric_family *f =
        metrics_register(METRIC_COUNTER, "t_many_total", "Many.", names, 1, NULL, 0);
    struct metric_series *first = NULL;
    for (int i = 0; i < METRICS_MAX_SERIES; i++) {
        char v[16];
        snprintf(v, sizeof v, "s%d", i);
        struct metric_series *s = metrics_series(f, (const char *const[]){v});
        if (!s)
            fail_msg("series %d of %d refused", i, METRICS_MAX_SERIES);
        if (i == 0)
            first = s;
        metrics_series_add(s, 1);
    }
    assert_null(metrics_series(f, (const char *const[]){"one-too-many"}));
    assert_null(metrics_series(f, (const char *const[]){"another"}));
    metrics_add(f, (const char *const[]){"one-too-many"}, 5); /* a no-op */
    assert_true(metrics_value(f, (const char *const[]){"one-too-many"}) == 0.0);
    /* existing series are still found */
    assert_ptr_equal(metrics_series(f, (const char *const[]){"s0"}), first);
    metrics_add(f, (const char *const[]){"s511"}, 1);
    assert_true(metrics_value(f, (const char *const[]){"s511"}) == 2.0);
    char *text = render();
    size_t lines = 0;
    for (const char *p = text; *p; p++)
        lines += *p == '\n';
    assert_int_equal(lines, 2 + METRICS_MAX_SERIES);
    assert_null(strstr(text, "one-too-many"));
    assert_non_null(strstr(text, "\nt_many_total{id=\"s511\"} 2\n"));
    free(text);
}

#define NTHREADS 8
#define NITER    100000

struct worker {
    struct metric_family *counter;
    struct metric_family *hist;
    struct metric_family *per_thread;
    int id;
    int failed;
};

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    static const char *const shared[] = {"shared"};
    struct metric_series *hs = metrics_series(w->hist, shared);
    char own[16];
    snprintf(own, sizeof own, "t%d", w->id);
    if (!hs) {
        w->failed = 1;
        return NULL;
    }
    for (int i = 0; i < NITER; i++) {
        metrics_add(w->counter, shared, 1);                /* looks the series up every time */
        metrics_series_observe(hs, (double)(i % 4) * 0.5); /* 0, 0.5, 1, 1.5 */
        if (i % 1000 == 0)
            metrics_add(w->per_thread, (const char *const[]){own}, 1);
    }
    return NULL;
}

static void test_threads_exact_totals(void **state)
{
    (void)state;
    static const char *const names[] = {"k"};
    static const double buckets[] = {0.5, 1};
    struct worker w[NTHREADS];
    struct metric_family *c =
        metrics_register(METRIC_COUNTER, "t_par_total", "Parallel.", names, 1, NULL, 0);
    struct metric_family *h =
        metrics_register(METRIC_HISTOGRAM, "t_par_seconds", "Parallel.", names, 1, buckets, 2);
    struct metric_family *p =
        metrics_register(METRIC_COUNTER, "t_par_own_total", "Per thread.", names, 1, NULL, 0);
    pthread_t tid[NTHREADS];
    for (int i = 0; i < NTHREADS; i++) {
        w[i] = (struct worker){.counter = c, .hist = h, .per_thread = p, .id = i};
        assert_int_equal(pthread_create(&tid[i], NULL, worker_main, &w[i]), 0);
    }
    for (int i = 0; i < NTHREADS; i++) {
        assert_int_equal(pthread_join(tid[i], NULL), 0);
        assert_int_equal(w[i].failed, 0);
    }
    const char *const shared[] = {"shared"};
    assert_true(metrics_value(c, shared) == (double)NTHREADS * NITER);
    assert_int_equal(metrics_histogram_count(h, shared), (uint64_t)NTHREADS * NITER);
    /* per thread: 25000 each of 0, 0.5, 1, 1.5 -> sum 75000 */
    assert_true(metrics_value(h, shared) == 75000.0 * NTHREADS);
    for (int i = 0; i < NTHREADS; i++) {
        char own[16];
        snprintf(own, sizeof own, "t%d", i);
        assert_true(metrics_value(p, (const char *const[]){own}) == NITER / 1000);
    }
    char *text = render();
    assert_non_null(strstr(text, "t_par_total{k=\"shared\"} 800000\n"));
    assert_non_null(strstr(text, "t_par_seconds_bucket{k=\"shared\",le=\"0.5\"} 400000\n"
                                 "t_par_seconds_bucket{k=\"shared\",le=\"1\"} 600000\n"
                                 "t_par_seconds_bucket{k=\"shared\",le=\"+Inf\"} 800000\n"
                                 "t_par_seconds_sum{k=\"shared\"} 600000\n"
                                 "t_par_seconds_count{k=\"shared\"} 800000\n"));
    /* exactly one series for the shared labels, one per thread for the others */
    size_t n = 0;
    for (const char *q = text; (q = strstr(q, "t_par_total{")) != NULL; q++)
        n++;
    assert_int_equal(n, 1);
    n = 0;
    for (const char *q = text; (q = strstr(q, "t_par_own_total{")) != NULL; q++)
        n++;
    assert_int_equal(n, NTHREADS);
    free(text);
}

/* Many threads create the same new series at once: one series results. */
static void *creator_main(void *arg)
{
    struct metric_family *f = arg;
    for (int i = 0; i < 200; i++) {
        char v[16];
        snprintf(v, sizeof v, "v%d", i);
        metrics_add(f, (const char *const[]){v}, 1);
    }
    return NULL;
}

static void test_threads_create_same_series(void **state)
{
    (void)state;
    static const char *const names[] = {"v"};
    struct metric_family *f =
        metrics_register(METRIC_COUNTER, "t_race_total", "Race.", names, 1, NULL, 0);
    pthread_t tid[NTHREADS];
    for (int i = 0; i < NTHREADS; i++)
        assert_int_equal(pthread_create(&tid[i], NULL, creator_main, f), 0);
    for (int i = 0; i < NTHREADS; i++)
        assert_int_equal(pthread_join(tid[i], NULL), 0);
    char *text = render();
    size_t lines = 0;
    for (const char *p = text; *p; p++)
        lines += *p == '\n';
    assert_int_equal(lines, 2 + 200);
    free(text);
    for (int i = 0; i < 200; i++) {
        char v[16];
        snprintf(v, sizeof v, "v%d", i);
        assert_true(metrics_value(f, (const char *const[]){v}) == NTHREADS);
    }
}

struct collect_state {
    struct metric_family *gauge;
    int calls;
};

static void collect_fn(void *ud)
{
    struct collect_state *cs = ud;
    cs->calls++;
    metrics_set(cs->gauge, NULL, cs->calls * 10);
}

static void count_fn(void *ud)
{
    int *n = ud;
    (*n)++;
}

static void test_collectors_run_on_render(void **state)
{
    (void)state;
    struct collect_state cs = {
        .gauge = metrics_register(METRIC_GAUGE, "t_collected", "Collected.", NULL, 0, NULL, 0)};
    assert_int_equal(metrics_on_collect(collect_fn, &cs), 0);
    assert_int_equal(cs.calls, 0);
    expect_render("# HELP t_collected Collected.\n# TYPE t_collected gauge\nt_collected 10\n");
    assert_int_equal(cs.calls, 1);
    expect_render("# HELP t_collected Collected.\n# TYPE t_collected gauge\nt_collected 20\n");
    assert_int_equal(cs.calls, 2);

    /* the table is bounded (16 with the one above) */
    int extra = 0;
    for (int i = 0; i < 15; i++)
        assert_int_equal(metrics_on_collect(count_fn, &extra), 0);
    assert_int_equal(metrics_on_collect(count_fn, &extra), -1);
    char *text = render();
    free(text);
    assert_int_equal(extra, 15);
    assert_int_equal(cs.calls, 3);

    /* reset forgets collectors too */
    metrics_reset_all();
    text = render();
    assert_string_equal(text, "");
    free(text);
    assert_int_equal(cs.calls, 3);
    assert_int_equal(extra, 15);
}

static void test_reset_all(void **state)
{
    (void)state;
    struct metric_family *f =
        metrics_register(METRIC_COUNTER, "t_gone_total", "x", NULL, 0, NULL, 0);
    metrics_add(f, NULL, 1);
    metrics_reset_all();
    char *text = render();
    assert_string_equal(text, "");
    free(text);
    /* the name can be registered again, starting from zero */
    f = metrics_register(METRIC_GAUGE, "t_gone_total", "y", NULL, 0, NULL, 0);
    assert_non_null(f);
    assert_true(metrics_value(f, NULL) == 0.0);
}

/* metrics_once_run: one registration per generation, from many threads at once, and a new one
 * after metrics_reset_all (whose families are freed: a module must not keep stale pointers). */
static struct metrics_once once_state;
static atomic_int once_runs;
static struct metric_family *once_fam;

static void once_init(void)
{
    atomic_fetch_add(&once_runs, 1);
    once_fam = metrics_register(METRIC_COUNTER, "t_once_total", "help", NULL, 0, NULL, 0);
}

static void *once_thread(void *arg)
{
    (void)arg;
    for (int i = 0; i < 1000; i++)
        metrics_once_run(&once_state, once_init);
    return NULL;
}

static void test_once_per_generation(void **state)
{
    (void)state;
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&t[i], NULL, once_thread, NULL), 0);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    int before = atomic_load(&once_runs);
    assert_int_equal(before, 1); /* four threads, 4,000 calls, one registration */
    metrics_once_run(&once_state, once_init);
    assert_int_equal(atomic_load(&once_runs), before); /* no second run in this generation */
    metrics_add(once_fam, NULL, 1);
    metrics_reset_all();
    metrics_once_run(&once_state, once_init);
    assert_int_equal(atomic_load(&once_runs), before + 1); /* registered again after the reset */
    assert_non_null(once_fam);
    metrics_add(once_fam, NULL, 2); /* the new family: no use after free */
    char *text = render();
    assert_non_null(strstr(text, "t_once_total 2"));
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_counter_render, reset, reset),
        cmocka_unit_test_setup_teardown(test_counter_without_labels, reset, reset),
        cmocka_unit_test_setup_teardown(test_gauge_render, reset, reset),
        cmocka_unit_test_setup_teardown(test_label_escaping, reset, reset),
        cmocka_unit_test_setup_teardown(test_histogram_render, reset, reset),
        cmocka_unit_test_setup_teardown(test_histogram_without_labels, reset, reset),
        cmocka_unit_test_setup_teardown(test_families_in_registration_order, reset, reset),
        cmocka_unit_test_setup_teardown(test_register_twice_same_family, reset, reset),
        cmocka_unit_test_setup_teardown(test_register_bad_arguments, reset, reset),
        cmocka_unit_test_setup_teardown(test_help_escaping, reset, reset),
        cmocka_unit_test_setup_teardown(test_series_limit, reset, reset),
        cmocka_unit_test_setup_teardown(test_threads_exact_totals, reset, reset),
        cmocka_unit_test_setup_teardown(test_threads_create_same_series, reset, reset),
        cmocka_unit_test_setup_teardown(test_collectors_run_on_render, reset, reset),
        cmocka_unit_test_setup_teardown(test_reset_all, reset, reset),
        cmocka_unit_test_setup_teardown(test_once_per_generation, reset, reset),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
