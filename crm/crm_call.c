/* crm_call.c: the one CRM call loop (budget -> token -> perform -> parse -> classify -> refresh
 * once -> back off), driven by a client's struct crm_call_hooks.
 *
 * Owns nothing beyond one call: the Authorization line (wiped and freed after each try), the
 * token copy of each try (token_value_clear wipes it), the resolved URL, and c->json until it is
 * handed to the caller. Why it is correct: every exit path clears the try's token; an earlier
 * try's error body never survives into a later error (c->json is put before each try and on the
 * early exits); the refresh is guarded by one flag per operation, so a second auth failure is
 * final; and the wait between tries is the retry policy's, never the loop's own.
 * Must not: log, sleep other than crm_retry_delay_ms()'s waits, or know a CRM's formats. */
#include "crm/crm_call.h"

#include "crm/crm_call_stats.h"
#include "crm/token_store.h"
#include "base/clock.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void begin(const struct crm_call_hooks *hooks, struct crm_call *c, struct crm_error *err)
{
    crm_error_clear(err);
    err->crm = hooks->crm;
    snprintf(err->operation, sizeof err->operation, "%s", c->operation);
    c->status = 0;
    c->json = NULL;
    c->validator[0] = '\0';
}

/* The early exits (budget refused, no token): err keeps the operation's name (a refresh names
 * its own), and no earlier try's error body is left behind as if it were this error's. */
static int give_up(struct crm_call *c, struct crm_error *err)
{
    snprintf(err->operation, sizeof err->operation, "%s", c->operation);
    json_object_put(c->json);
    c->json = NULL;
    return -1;
}

static int out_of_memory(const struct crm_call_hooks *hooks, struct crm_call *c,
                         struct crm_error *err)
{
    crm_error_set(err, hooks->crm, CRM_ERR_TRANSIENT, 0, "out_of_memory", "out of memory");
    return give_up(c, err);
}

/* The body of an answer as JSON, or NULL (empty, not JSON, out of memory). */
static json_object *parse_body(const struct crm_http_response *resp)
{
    if (!resp->body_len)
        return NULL;
    json_tokener *jt = json_tokener_new();
    json_object *j = jt ? json_tokener_parse_ex(jt, resp->body, (int)resp->body_len) : NULL;
    json_tokener_free(jt);
    return j;
}

static void note_answer(const struct crm_call_hooks *hooks, void *ud, struct crm_call *c,
                        const struct crm_http_response *resp)
{
    if (hooks->on_answer)
        hooks->on_answer(ud, resp);
    const char *v = crm_http_header(resp, "Last-Modified");
    if (!v)
        v = crm_http_header(resp, "Date");
    snprintf(c->validator, sizeof c->validator, "%s", v ? v : "");
}

/* Counts an answered request, and a rate-limit refusal among them, in the client's stats. */
static void note_stats(const struct crm_call_hooks *hooks, void *ud, const struct crm_error *err)
{
    struct crm_call_stats *s = hooks->stats ? hooks->stats(ud) : NULL;
    if (!s)
        return;
    int64_t now = clock_wall_ms();
    crm_call_stats_note_call(s, now);
    if (!err)
        return;
    if (err->http_status == 429)
        crm_call_stats_note_refusal(s, now, err->sub_code[0] ? err->sub_code : err->code,
                                    err->retry_after_ms);
    else if (strcmp(err->code, "REQUEST_LIMIT_EXCEEDED") == 0)
        crm_call_stats_note_refusal(s, now, err->code, err->retry_after_ms);
}

static bool succeeded(const struct crm_call_hooks *hooks, const struct crm_http_response *resp)
{
    return (resp->status >= 200 && resp->status < 300) ||
           (resp->status == 304 && hooks->accept_not_modified);
}

/* A success answer: its status and body into c. 0, or -1 when the body is not JSON. */
static int take_answer(const struct crm_call_hooks *hooks, struct crm_call *c,
                       const struct crm_http_response *resp, struct crm_error *err)
{
    c->status = (int)resp->status;
    if (!resp->body_len)
        return 0;
    c->json = parse_body(resp);
    if (c->json)
        return 0;
    crm_error_set(err, hooks->crm, CRM_ERR_PERMANENT, (int)resp->status, "invalid_json",
                  "%s answered %ld with a body that is not JSON", hooks->name, resp->status);
    return -1;
}

/* One HTTP request with the token of this try. 0 when an answer came (resp filled), -1 when
 * none did (err), -2 when out of memory (resp untouched). */
static int send_once(const struct crm_call_hooks *hooks, void *ud, struct crm_http *h,
                     const struct crm_call *c, const char *body, const struct token_value *tok,
                     struct crm_http_response *resp, struct crm_error *err)
{
    char *url = hooks->resolve_url ? hooks->resolve_url(ud, tok, c->url) : NULL;
    size_t alen = strlen(tok->access_token) + 32;
    char *auth = malloc(alen);
    if (!auth || (hooks->resolve_url && !url)) {
        free(url);
        free(auth);
        return -2;
    }
    snprintf(auth, alen, "Authorization: Bearer %s", tok->access_token);
    const char *headers[] = {auth, c->extra_header, NULL};
    struct crm_http_request req = {
        .crm = hooks->crm,
        .operation = c->operation,
        .method = c->method,
        .url = url ? url : c->url,
        .headers = headers,
        .body = body,
        .body_len = body ? strlen(body) : 0,
    };
    err->attempts++;
    int prc = crm_http_perform(h, &req, resp, err);
    OPENSSL_cleanse(auth, strlen(auth));
    free(auth);
    free(url);
    return prc;
}

int crm_call_run(const struct crm_call_hooks *hooks, void *ud, struct crm_http *h,
                 struct crm_call *c, struct crm_error *err)
{
    begin(hooks, c, err);
    const char *body =
        c->body ? json_object_to_json_string_ext(c->body, JSON_C_TO_STRING_PLAIN) : NULL;
    bool refreshed = false;
    int failures = 0;
    for (;;) {
        struct token_value tok;
        uint64_t gen = 0;
        if ((hooks->budget_acquire && hooks->budget_acquire(ud, c, err) < 0) ||
            token_cache_get(hooks->tokens(ud), h, &tok, &gen, err) < 0)
            return give_up(c, err);
        struct crm_http_response resp;
        int prc = send_once(hooks, ud, h, c, body, &tok, &resp, err);
        if (prc == -2) {
            token_value_clear(&tok);
            return out_of_memory(hooks, c, err);
        }
        json_object_put(c->json); /* an earlier try's error body */
        c->json = NULL;
        if (prc == 0)
            note_answer(hooks, ud, c, &resp);
        if (prc == 0 && succeeded(hooks, &resp)) {
            note_stats(hooks, ud, NULL);
            int rc = take_answer(hooks, c, &resp, err);
            crm_http_response_free(&resp);
            token_value_clear(&tok);
            return rc;
        }
        if (prc == 0) {
            hooks->parse_error(ud, &resp, err);
            note_stats(hooks, ud, err);
            if (c->keep_error_body)
                c->json = parse_body(&resp);
            if (hooks->budget_penalty)
                hooks->budget_penalty(ud, c, err);
        }
        crm_http_response_free(&resp);
        hooks->scrub(ud, err, tok.access_token);
        token_value_clear(&tok);
        if (err->cls == CRM_ERR_AUTH && !refreshed && hooks->token_refreshable(ud)) {
            refreshed = true;
            token_cache_invalidate(hooks->tokens(ud), gen);
            continue;
        }
        long delay = crm_retry_delay_ms(hooks->retry_policy(ud), ++failures, err);
        if (delay < 0)
            return -1;
        crm_sleep_ms(delay);
    }
}
