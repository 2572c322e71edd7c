/* test_rate_limit.c: unit tests for sync/rate_limit (the sliding-window token bucket).
 *
 * A burst of 1,000 acquisitions from 8 threads against a budget of 50 per 200 ms must finish, take
 * at least the time the budget forces (19 full windows) and not much more, and never put more than
 * 50 acquisitions into any 200 ms window. Also: the deadline refuses at once when no token can come
 * in time, a pause holds every acquirer back, try_acquire, available counts, bad arguments. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "crm/rate_limit.h"

#define BURST    1000
#define THREADS  8
#define CAPACITY 50
#define WINDOW   200

static int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

struct burst {
    struct rate_limit *rl;
    pthread_mutex_t lock;
    int next;
    int64_t stamps[BURST];
    int failures;
};

static void *burst_worker(void *arg)
{
    struct burst *b = arg;
    for (;;) {
        pthread_mutex_lock(&b->lock);
        int i = b->next < BURST ? b->next++ : -1;
        pthread_mutex_unlock(&b->lock);
        if (i < 0)
            return NULL;
        if (rate_limit_acquire(b->rl, -1) != 0) {
            pthread_mutex_lock(&b->lock);
            b->failures++;
            pthread_mutex_unlock(&b->lock);
        }
        b->stamps[i] = now_us();
    }
}

static int cmp64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static void test_burst_stays_under_budget(void **state)
{
    (void)state;
    struct burst *b = calloc(1, sizeof *b);
    assert_non_null(b);
    b->rl = rate_limit_create(CAPACITY, WINDOW);
    assert_non_null(b->rl);
    pthread_mutex_init(&b->lock, NULL);
    int64_t t0 = now_us();
    pthread_t th[THREADS];
    for (int i = 0; i < THREADS; i++)
        assert_int_equal(pthread_create(&th[i], NULL, burst_worker, b), 0);
    for (int i = 0; i < THREADS; i++)
        pthread_join(th[i], NULL);
    int64_t elapsed_ms = (now_us() - t0) / 1000;
    assert_int_equal(b->failures, 0);
    /* 1,000 calls at 50 per window: the last batch starts after 19 full windows */
    int64_t min_ms = (BURST / CAPACITY - 1) * WINDOW;
    print_message("burst of %d took %lld ms (budget floor %lld ms)\n", BURST, (long long)elapsed_ms,
                  (long long)min_ms);
    assert_true(elapsed_ms >= min_ms);
    assert_true(elapsed_ms <= min_ms + 3000);
    /* no window of WINDOW ms holds more than CAPACITY calls (5 ms tolerance: the stamps are
     * taken just after acquire returns, not inside it) */
    qsort(b->stamps, BURST, sizeof b->stamps[0], cmp64);
    int violations = 0;
    for (int i = 0; i + CAPACITY < BURST; i++)
        if (b->stamps[i + CAPACITY] - b->stamps[i] < (WINDOW - 5) * 1000)
            violations++;
    assert_int_equal(violations, 0);
    rate_limit_destroy(b->rl);
    pthread_mutex_destroy(&b->lock);
    free(b);
}

static void test_deadline_refuses_at_once(void **state)
{
    (void)state;
    struct rate_limit *rl = rate_limit_create(1, 1000);
    assert_non_null(rl);
    assert_int_equal(rate_limit_acquire(rl, -1), 0);
    int64_t t0 = rate_limit_now_ms();
    assert_int_equal(rate_limit_acquire(rl, t0 + 100), -1);
    assert_true(rate_limit_now_ms() - t0 < 50); /* no waiting in vain */
    assert_int_equal(rate_limit_try_acquire(rl), -1);
    assert_int_equal(rate_limit_available(rl), 0);
    rate_limit_destroy(rl);
}

static void test_waits_for_returning_token(void **state)
{
    (void)state;
    struct rate_limit *rl = rate_limit_create(2, 150);
    assert_non_null(rl);
    assert_int_equal(rate_limit_try_acquire(rl), 0);
    assert_int_equal(rate_limit_try_acquire(rl), 0);
    assert_int_equal(rate_limit_available(rl), 0);
    int64_t t0 = rate_limit_now_ms();
    assert_int_equal(rate_limit_acquire(rl, t0 + 1000), 0);
    int64_t waited = rate_limit_now_ms() - t0;
    assert_true(waited >= 140 && waited < 600);
    rate_limit_destroy(rl);
}

struct pause_arg {
    struct rate_limit *rl;
    int64_t got_at;
};

static void *pause_worker(void *arg)
{
    struct pause_arg *p = arg;
    if (rate_limit_acquire(p->rl, -1) == 0)
        p->got_at = rate_limit_now_ms();
    return NULL;
}

static void test_pause_holds_everyone(void **state)
{
    (void)state;
    struct rate_limit *rl = rate_limit_create(100, 1000);
    assert_non_null(rl);
    int64_t t0 = rate_limit_now_ms();
    rate_limit_pause(rl, t0 + 300);
    rate_limit_pause(rl, t0 + 100); /* an earlier pause does not shorten it */
    assert_int_equal(rate_limit_try_acquire(rl), -1);
    assert_int_equal(rate_limit_available(rl), 0);
    struct pause_arg args[4];
    pthread_t th[4];
    for (int i = 0; i < 4; i++) {
        args[i].rl = rl;
        args[i].got_at = 0;
        assert_int_equal(pthread_create(&th[i], NULL, pause_worker, &args[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        assert_true(args[i].got_at >= t0 + 300);
        assert_true(args[i].got_at < t0 + 1500);
    }
    assert_int_equal(rate_limit_available(rl), 96);
    rate_limit_destroy(rl);
}

static void test_bad_arguments(void **state)
{
    (void)state;
    assert_null(rate_limit_create(0, 1000));
    assert_null(rate_limit_create(10, 0));
    assert_null(rate_limit_create(2000000, 1000));
    assert_int_equal(rate_limit_acquire(NULL, 0), 0);
    rate_limit_destroy(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_burst_stays_under_budget),
        cmocka_unit_test(test_deadline_refuses_at_once),
        cmocka_unit_test(test_waits_for_returning_token),
        cmocka_unit_test(test_pause_holds_everyone),
        cmocka_unit_test(test_bad_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
