/* test_crm_split.c: unit tests for sync/crm_split (which inputs of a batch call an answer or an
 * error settles, and what is sent again), against a scripted fake CRM: no network.
 *
 * The fake answers a call with its inputs' results unless the call carries a "bad" input: then
 * the whole call fails with a configured status and error, naming the bad input or nothing.
 * Covers: a whole-call error naming one input (the others sent again once), an unnamed one (split
 * in halves down to the bad input: 1 + 2 log2 n calls), every input bad (2n - 1 calls, each with
 * its own error: the bound), a non-record status naming nothing (one call, retryable copies, no
 * split), a retryable failure (the remaining chunks get it without calls), and a 2xx answer that
 * leaves inputs open (sent again; alone they get the answer's unnamed error). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crm/crm_split.h"

#define MAXN 300

struct fake {
    bool bad[MAXN]; /* a call carrying input i fails as a whole */
    int status;     /* of that failure */
    enum crm_error_class cls;
    bool name_bad;     /* the failure's message names the bad inputs */
    bool answer_short; /* 2xx answers settle only the first input of each call */
    int state[MAXN];   /* 0 open, 1 ok, 2 failed */
    struct crm_error got[MAXN];
    size_t calls;
    size_t sizes[4 * MAXN]; /* inputs per call */
};

static void fake_send(void *ctx, const size_t *idx, size_t cnt, struct crm_split_call *call)
{
    struct fake *f = ctx;
    f->sizes[f->calls++] = cnt;
    call->err.attempts = 1;
    char named[256] = "";
    bool fails = false;
    for (size_t k = 0; k < cnt; k++)
        if (f->bad[idx[k]]) {
            fails = true;
            size_t l = strlen(named);
            snprintf(named + l, sizeof named - l, " %zu", idx[k]);
        }
    if (!fails) {
        call->status = 200;
        return;
    }
    call->rc = -1;
    call->status = f->status;
    crm_error_set(&call->err, CRM_HUBSPOT, f->cls, f->status, "VALIDATION_ERROR",
                  "the batch failed%s", f->name_bad ? named : "");
    call->err.attempts = 1;
}

static void fake_answer(void *ctx, const size_t *idx, size_t cnt, const struct crm_split_call *call,
                        struct crm_error *unnamed)
{
    struct fake *f = ctx;
    (void)call;
    for (size_t k = 0; k < (f->answer_short ? 1 : cnt); k++)
        f->state[idx[k]] = 1;
    if (f->answer_short)
        crm_error_set(unnamed, CRM_HUBSPOT, CRM_ERR_PERMANENT, 400, "VALIDATION_ERROR",
                      "some input was not valid");
}

static bool fake_names(void *ctx, const struct crm_split_call *call, size_t i)
{
    (void)ctx;
    char id[24];
    snprintf(id, sizeof id, "%zu", i);
    return crm_text_names_id(call->err.message, id);
}

static void fake_fail(void *ctx, size_t i, const struct crm_error *e)
{
    struct fake *f = ctx;
    f->state[i] = 2;
    f->got[i] = *e;
}

static bool fake_settled(void *ctx, size_t i)
{
    const struct fake *f = ctx;
    return f->state[i] != 0;
}

static const struct crm_split_ops OPS = {.crm = CRM_HUBSPOT,
                                         .operation = "batch_update",
                                         .chunk_max = 100,
                                         .send = fake_send,
                                         .answer = fake_answer,
                                         .names = fake_names,
                                         .fail = fake_fail,
                                         .settled = fake_settled};

static struct fake *fake_new(int status, enum crm_error_class cls, bool name_bad)
{
    struct fake *f = calloc(1, sizeof *f);
    assert_non_null(f);
    f->status = status;
    f->cls = cls;
    f->name_bad = name_bad;
    return f;
}

static int run(struct fake *f, size_t n, struct crm_error *err)
{
    crm_error_clear(err);
    snprintf(err->operation, sizeof err->operation, "batch_update");
    return crm_split_run(&OPS, f, n, err);
}

static void test_named_error_resends_the_others_once(void **state)
{
    (void)state;
    struct fake *f = fake_new(400, CRM_ERR_PERMANENT, true);
    f->bad[7] = true;
    struct crm_error err;
    assert_int_equal(run(f, 20, &err), 0);
    assert_int_equal(f->calls, 2);
    assert_int_equal(f->sizes[1], 19);
    assert_int_equal(f->state[7], 2);
    assert_int_equal(f->got[7].cls, CRM_ERR_PERMANENT);
    for (int i = 0; i < 20; i++)
        if (i != 7)
            assert_int_equal(f->state[i], 1);
    assert_int_equal(err.attempts, 2);
    free(f);
}

static void test_unnamed_error_halves_down_to_the_input(void **state)
{
    (void)state;
    struct fake *f = fake_new(400, CRM_ERR_PERMANENT, false);
    f->bad[37] = true;
    struct crm_error err;
    assert_int_equal(run(f, 64, &err), 0);
    assert_int_equal(f->calls, 1 + 2 * 6); /* 64 -> 32 -> ... -> 1: two calls per level */
    assert_int_equal(f->state[37], 2);
    assert_string_equal(f->got[37].code, "VALIDATION_ERROR");
    assert_int_equal(f->got[37].cls, CRM_ERR_PERMANENT);
    for (int i = 0; i < 64; i++)
        if (i != 37)
            assert_int_equal(f->state[i], 1);
    free(f);
}

static void test_every_input_bad_is_bounded(void **state)
{
    (void)state;
    struct fake *f = fake_new(400, CRM_ERR_PERMANENT, false);
    for (int i = 0; i < 100; i++)
        f->bad[i] = true;
    struct crm_error err;
    assert_int_equal(run(f, 100, &err), 0);
    assert_int_equal(f->calls, 2 * 100 - 1);
    for (int i = 0; i < 100; i++) {
        assert_int_equal(f->state[i], 2);
        assert_int_equal(f->got[i].cls, CRM_ERR_PERMANENT); /* alone: its own */
    }
    free(f);
}

static void test_unnamed_403_is_retryable_for_all(void **state)
{
    (void)state;
    struct fake *f = fake_new(403, CRM_ERR_PERMANENT, false);
    f->bad[3] = true;
    struct crm_error err;
    assert_int_equal(run(f, 10, &err), -1);
    assert_int_equal(f->calls, 1);
    for (int i = 0; i < 10; i++) {
        assert_int_equal(f->state[i], 2);
        assert_int_equal(f->got[i].cls, CRM_ERR_TRANSIENT);
        assert_string_equal(f->got[i].code, "call_failed");
        assert_int_equal(f->got[i].http_status, 0);
        assert_non_null(strstr(f->got[i].message, "HTTP 403"));
    }
    assert_int_equal(err.cls, CRM_ERR_TRANSIENT);
    assert_string_equal(err.operation, "batch_update");
    free(f);
}

static void test_retryable_failure_stops_the_rest(void **state)
{
    (void)state;
    struct fake *f = fake_new(503, CRM_ERR_TRANSIENT, false);
    f->bad[150] = true; /* the second chunk of 100 */
    struct crm_error err;
    assert_int_equal(run(f, 250, &err), -1);
    assert_int_equal(f->calls, 2); /* the third chunk is not sent */
    for (int i = 0; i < 100; i++)
        assert_int_equal(f->state[i], 1);
    for (int i = 100; i < 250; i++) {
        assert_int_equal(f->state[i], 2);
        assert_int_equal(f->got[i].http_status, 503);
        assert_int_equal(f->got[i].cls, CRM_ERR_TRANSIENT);
    }
    assert_int_equal(err.http_status, 503);
    free(f);
}

static void test_short_answers_resend_the_open_inputs(void **state)
{
    (void)state;
    struct fake *f = fake_new(400, CRM_ERR_PERMANENT, false);
    f->answer_short = true; /* each answer settles one input and carries an unnamed error */
    struct crm_error err;
    assert_int_equal(run(f, 5, &err), 0);
    assert_int_equal(f->calls, 5); /* 5, 4, 3, 2, 1 inputs */
    assert_int_equal(f->sizes[4], 1);
    for (int i = 0; i < 5; i++)
        assert_int_equal(f->state[i], 1); /* the last one was settled by its own answer */
    free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_named_error_resends_the_others_once),
        cmocka_unit_test(test_unnamed_error_halves_down_to_the_input),
        cmocka_unit_test(test_every_input_bad_is_bounded),
        cmocka_unit_test(test_unnamed_403_is_retryable_for_all),
        cmocka_unit_test(test_retryable_failure_stops_the_rest),
        cmocka_unit_test(test_short_answers_resend_the_open_inputs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
