/* crm_split.c: sends a batch operation's inputs call by call and decides, from what each answer
 * or error names, which inputs are settled, which fail with an error of their own, and which are
 * sent again (see sync/crm_split.h for the rules).
 *
 * Owns one run's state (struct split): the extra calls left, the stop error after a retryable
 * call failure, and the first call failure for the caller. Recursion depth is bounded by the
 * chunk size (every nested call carries fewer inputs than its parent).
 * Must not: sleep, log or touch the network (ops->send does). */
#include "crm/crm_split.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct split {
    const struct crm_split_ops *ops;
    void *ctx;
    size_t extra; /* extra calls left */
    bool stop;    /* a retryable call failure: the open inputs all get stop_err */
    struct crm_error stop_err;
    struct crm_error *err; /* the caller's: first call failure, attempts */
    int rc;
};

void crm_split_unnamed(const struct crm_error *call_err, struct crm_error *out)
{
    char text[560];
    crm_error_format(call_err, text, sizeof text);
    *out = *call_err;
    crm_error_set(out, call_err->crm, CRM_ERR_TRANSIENT, 0, "call_failed",
                  "not applied: the call failed with an error that names no input, so this input "
                  "is retried (%s)",
                  text);
    snprintf(out->correlation_id, sizeof out->correlation_id, "%s", call_err->correlation_id);
}

/* Some inputs are left with a failure of the call: the run reports it. */
static void call_failure(struct split *s, const struct crm_error *e)
{
    if (s->rc == 0) {
        int attempts = s->err->attempts;
        char op[sizeof s->err->operation];
        memcpy(op, s->err->operation, sizeof op);
        *s->err = *e;
        s->err->attempts = attempts;
        memcpy(s->err->operation, op, sizeof op);
    }
    s->rc = -1;
}

static void fail_open(struct split *s, const size_t *idx, size_t cnt, const struct crm_error *e)
{
    for (size_t k = 0; k < cnt; k++)
        if (!s->ops->settled(s->ctx, idx[k]))
            s->ops->fail(s->ctx, idx[k], e);
    call_failure(s, e);
}

static void fail_unnamed(struct split *s, const size_t *idx, size_t cnt, const struct crm_error *e)
{
    struct crm_error u;
    if (e->cls == CRM_ERR_PERMANENT)
        crm_split_unnamed(e, &u);
    else
        u = *e;
    fail_open(s, idx, cnt, &u);
}

static void run_set(struct split *s, const size_t *idx, size_t cnt, const struct crm_error *why);

static void halves(struct split *s, const size_t *idx, size_t cnt, const struct crm_error *why)
{
    size_t half = cnt / 2;
    run_set(s, idx, half, why);
    run_set(s, idx + half, cnt - half, why);
}

/* The open inputs of idx, into a fresh array (*nopen of them). NULL when out of memory. */
static size_t *open_inputs(struct split *s, const size_t *idx, size_t cnt, size_t *nopen)
{
    size_t *open = malloc((cnt ? cnt : 1) * sizeof *open);
    *nopen = 0;
    for (size_t k = 0; open && k < cnt; k++)
        if (!s->ops->settled(s->ctx, idx[k]))
            open[(*nopen)++] = idx[k];
    return open;
}

static void oom(struct split *s, const size_t *idx, size_t cnt)
{
    struct crm_error e;
    crm_error_clear(&e);
    crm_error_set(&e, s->ops->crm, CRM_ERR_TRANSIENT, 0, "out_of_memory", "out of memory");
    snprintf(e.operation, sizeof e.operation, "%s", s->ops->operation);
    fail_open(s, idx, cnt, &e);
}

/* A 2xx answer: what it leaves open is sent again, split, or (alone) failed. */
static void answered(struct split *s, const size_t *idx, size_t cnt, struct crm_split_call *call)
{
    struct crm_error unnamed;
    crm_error_clear(&unnamed);
    s->ops->answer(s->ctx, idx, cnt, call, &unnamed);
    size_t nopen;
    size_t *open = open_inputs(s, idx, cnt, &nopen);
    if (!open) {
        oom(s, idx, cnt);
        return;
    }
    if (unnamed.cls == CRM_ERR_NONE) {
        crm_error_set(&unnamed, s->ops->crm, CRM_ERR_TRANSIENT, call->status, "no_result",
                      "the CRM answered without a result or an error for this input");
        snprintf(unnamed.operation, sizeof unnamed.operation, "%s", s->ops->operation);
    }
    unnamed.attempts = call->err.attempts;
    if (nopen > 0 && nopen < cnt)
        run_set(s, open, nopen, &unnamed); /* progress: the rest in one call */
    else if (nopen == 1)
        s->ops->fail(s->ctx, open[0], &unnamed); /* alone: the error is its own */
    else if (nopen > 1)
        halves(s, open, nopen, &unnamed);
    free(open);
}

static bool record_level(int status)
{
    return status == 400 || status == 409 || status == 413 || status == 422;
}

/* A failed call: its error goes to the inputs it names, the others are sent again. */
static void failed(struct split *s, const size_t *idx, size_t cnt, struct crm_split_call *call)
{
    const struct crm_error *e = &call->err;
    if (e->cls != CRM_ERR_PERMANENT) {
        fail_open(s, idx, cnt, e);
        s->stop = true;
        s->stop_err = *e;
        return;
    }
    size_t *rest = malloc(cnt * sizeof *rest);
    if (!rest) {
        oom(s, idx, cnt);
        return;
    }
    size_t nrest = 0;
    for (size_t k = 0; k < cnt; k++) {
        if (s->ops->names(s->ctx, call, idx[k]))
            s->ops->fail(s->ctx, idx[k], e);
        else
            rest[nrest++] = idx[k];
    }
    if (nrest < cnt)
        run_set(s, rest, nrest, e);
    else if (!record_level(e->http_status))
        fail_unnamed(s, idx, cnt, e);
    else if (cnt == 1)
        s->ops->fail(s->ctx, idx[0], e);
    else
        halves(s, idx, cnt, e);
    free(rest);
}

/* Sends the open inputs idx[0..cnt) in one call. why: the failure that makes this an extra call
 * (NULL for a chunk's first call). */
static void run_set(struct split *s, const size_t *idx, size_t cnt, const struct crm_error *why)
{
    if (cnt == 0)
        return;
    if (s->stop) {
        fail_open(s, idx, cnt, &s->stop_err);
        return;
    }
    if (why) {
        if (s->extra == 0) {
            fail_unnamed(s, idx, cnt, why);
            return;
        }
        s->extra--;
    }
    struct crm_split_call call;
    memset(&call, 0, sizeof call);
    crm_error_clear(&call.err);
    s->ops->send(s->ctx, idx, cnt, &call);
    s->err->attempts += call.err.attempts;
    if (call.rc == 0)
        answered(s, idx, cnt, &call);
    else
        failed(s, idx, cnt, &call);
    json_object_put(call.doc);
}

int crm_split_run(const struct crm_split_ops *ops, void *ctx, size_t n, struct crm_error *err)
{
    struct split s = {.ops = ops, .ctx = ctx, .extra = 2 * n, .err = err};
    size_t chunk = ops->chunk_max ? ops->chunk_max : 1;
    size_t *idx = malloc((chunk < n ? chunk : n ? n : 1) * sizeof *idx);
    for (size_t from = 0; from < n; from += chunk) {
        size_t to = from + chunk < n ? from + chunk : n;
        if (!idx) {
            for (size_t i = from; i < to; i++)
                if (!ops->settled(ctx, i)) {
                    size_t one = i;
                    oom(&s, &one, 1);
                }
            continue;
        }
        for (size_t i = from; i < to; i++)
            idx[i - from] = i;
        run_set(&s, idx, to - from, NULL);
    }
    free(idx);
    if (s.rc == 0)
        err->cls = CRM_ERR_NONE;
    return s.rc;
}
