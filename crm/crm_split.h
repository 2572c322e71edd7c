/* crm_split.h: the calls of one batch operation, under one rule: an error belongs to the inputs
 * it names. A call that fails with an error naming no input, or answers nothing for some of its
 * inputs, is a failure of the call, not of those inputs: they are sent again, in halves, down to
 * single inputs, and only an input that fails alone gets the error as its own.
 *
 * Owns nothing beyond one crm_split_run(): the CRM client supplies the calls and reads the
 * answers through struct crm_split_ops (request bodies, what an answer or error names, where
 * results go). Rules, for the inputs of one call:
 *   - a 2xx answer: the client settles every input the answer names (its result, or its own
 *     error). The rest are sent again in one call when the answer settled some of the call's
 *     inputs, else the call is split in halves; a single input the answer left open gets the
 *     answer's first unnamed error (or a retryable "no result") as its own.
 *   - a failure the client's retries could not get past that retrying later may cure (transient,
 *     rate limit, auth): every input of the call, and every input not sent yet, gets it.
 *   - a permanent failure: the inputs its error names get it as their own and the others are sent
 *     again (nothing of a failed call was applied). Naming none, a record-level status (400, 409,
 *     413, 422) splits the call in halves, and a single input gets the error as its own; any other
 *     status (401, 403, 404 of a path, 405, ...) is not about records, so every input gets a
 *     retryable copy (code "call_failed", no HTTP status: never mistaken for a missing record).
 *   - bounded: at most 2 extra calls per input in all (splitting every one of n inputs down to
 *     single calls takes 2n - 1); one bad input among m costs about 2 log2(m) extra calls. When
 *     the extra calls run out, the open inputs get a retryable copy. The client's own call loop
 *     spends its rate budget for each call, extra ones included.
 * Never: a permanent error for an input the error does not name, unless it was alone in the call.
 *
 * Must not: sleep, log or touch the network itself (the send callback does); keep state between
 * runs. */
#ifndef SYNKRO_SYNC_CRM_SPLIT_H
#define SYNKRO_SYNC_CRM_SPLIT_H

#include "crm/crm_error.h"

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>

/* The outcome of one call, filled by the send callback (zeroed before). */
struct crm_split_call {
    int rc;               /* 0: a 2xx answer (or an error body the client reads as an answer) */
    int status;           /* HTTP status; 0 when there was no answer */
    json_object *doc;     /* the answer, or the error body, as JSON (owned; NULL when none) */
    struct crm_error err; /* rc -1: the call's error. Always: attempts = HTTP requests made */
};

struct crm_split_ops {
    enum crm_kind crm;
    const char *operation; /* for the errors it makes */
    size_t chunk_max;      /* inputs per call */
    /* Makes one call with the inputs idx[0..cnt) and fills *call. */
    void (*send)(void *ctx, const size_t *idx, size_t cnt, struct crm_split_call *call);
    /* Settles the inputs of idx that the 2xx answer in call names (ops->fail or the client's
     * own success marking). *unnamed receives the first error of the answer that names none of
     * them (left cleared when there is none). */
    void (*answer)(void *ctx, const size_t *idx, size_t cnt, const struct crm_split_call *call,
                   struct crm_error *unnamed);
    /* True when the failed call's error (call->doc, else call->err's message) names input i. */
    bool (*names)(void *ctx, const struct crm_split_call *call, size_t i);
    /* Input i fails with e. */
    void (*fail)(void *ctx, size_t i, const struct crm_error *e);
    /* True once input i has a result or an error. */
    bool (*settled)(void *ctx, size_t i);
};

/* Runs the operation over inputs 0..n, in calls of at most ops->chunk_max. Every input ends
 * settled. Returns 0 when every input got an answer of its own, else -1 with err set to the
 * first call failure some inputs were left with (those inputs carry it too; retrying them later
 * may succeed). err->attempts counts every HTTP request made; err->operation is kept. */
int crm_split_run(const struct crm_split_ops *ops, void *ctx, size_t n, struct crm_error *err);

/* The retryable copy of a permanent call failure that named no input (see above). */
void crm_split_unnamed(const struct crm_error *call_err, struct crm_error *out);

#endif
