/* sync_outcome.c: what a sync batch does with a failed pair: the CRM error code -> failure
 * category table, and the retry-or-fail decision from the error's class.
 *
 * Owns the category rules (data, first match wins) and nothing else; pure, no state.
 * Must not: log, touch the database or the network. */
#include "sync/sync_batch_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* ---- failures ---- */

struct category_rule {
    const char *code; /* exact, or a prefix when it ends in '*' */
    enum queue_error_category category;
};

/* First match wins: specific codes before the INVALID_* catch-all. */
static const struct category_rule category_rules[] = {
    {"INVALID_CROSS_REFERENCE_KEY", QUEUE_ERR_ASSOCIATION},
    {"INVALID_ASSOCIATION*", QUEUE_ERR_ASSOCIATION},
    {"ASSOCIATION*", QUEUE_ERR_ASSOCIATION},
    {"DUPLICATE_VALUE", QUEUE_ERR_DUPLICATE},
    {"DUPLICATES_DETECTED", QUEUE_ERR_DUPLICATE},
    {"CONFLICT", QUEUE_ERR_DUPLICATE},
    {"MULTIPLE_CHOICES", QUEUE_ERR_DUPLICATE},
    {"INSUFFICIENT_ACCESS*", QUEUE_ERR_PERMISSION},
    {"MISSING_SCOPES", QUEUE_ERR_PERMISSION},
    {"FORBIDDEN", QUEUE_ERR_PERMISSION},
    {"NOT_FOUND", QUEUE_ERR_NOT_FOUND},
    {"OBJECT_NOT_FOUND", QUEUE_ERR_NOT_FOUND},
    {"ENTITY_IS_DELETED", QUEUE_ERR_NOT_FOUND},
    {"VALIDATION_ERROR", QUEUE_ERR_VALIDATION},
    {"INVALID_OPTION", QUEUE_ERR_VALIDATION},
    {"STRING_TOO_LONG", QUEUE_ERR_VALIDATION},
    {"REQUIRED_FIELD_MISSING", QUEUE_ERR_VALIDATION},
    {"REQUIRED_PROPERTY", QUEUE_ERR_VALIDATION},
    {"READ_ONLY_VALUE", QUEUE_ERR_VALIDATION},
    {"PROPERTY_DOESNT_EXIST", QUEUE_ERR_VALIDATION},
    {"FIELD_CUSTOM_VALIDATION_EXCEPTION", QUEUE_ERR_VALIDATION},
    {"INVALID_*", QUEUE_ERR_VALIDATION},
};

struct status_rule {
    int status;
    enum queue_error_category category;
};

static const struct status_rule status_rules[] = {
    {409, QUEUE_ERR_DUPLICATE},
    {403, QUEUE_ERR_PERMISSION},
    {404, QUEUE_ERR_NOT_FOUND},
};

static bool code_matches(const char *pattern, const char *code)
{
    size_t len = strlen(pattern);
    if (len > 0 && pattern[len - 1] == '*')
        return strncmp(pattern, code, len - 1) == 0;
    return strcmp(pattern, code) == 0;
}

static bool category_by_code(const char *code, enum queue_error_category *out)
{
    if (!code || !*code)
        return false;
    for (size_t i = 0; i < sizeof category_rules / sizeof category_rules[0]; i++)
        if (code_matches(category_rules[i].code, code)) {
            *out = category_rules[i].category;
            return true;
        }
    return false;
}

enum queue_error_category sync_error_category(const struct crm_error *e)
{
    enum queue_error_category c = QUEUE_ERR_VALIDATION;
    /* HubSpot: sub_code holds errors[].code (INVALID_OPTION); code the category. A generic
     * VALIDATION_ERROR category says less than a 409 status, so status rules come between. */
    if (category_by_code(e->sub_code, &c))
        return c;
    if (strcmp(e->code, "VALIDATION_ERROR") != 0 && category_by_code(e->code, &c))
        return c;
    for (size_t i = 0; i < sizeof status_rules / sizeof status_rules[0]; i++)
        if (status_rules[i].status == e->http_status)
            return status_rules[i].category;
    return QUEUE_ERR_VALIDATION;
}

void sync_pair_fail(struct sync_pair *p, enum queue_error_category category, const char *fmt, ...)
{
    if (p->state == PAIR_FAIL)
        return;
    p->state = PAIR_FAIL;
    p->category = category;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->error, sizeof p->error, fmt, ap);
    va_end(ap);
}

void sync_pair_fail_crm(struct sync_pair *p, const struct crm_error *e, const char *what)
{
    if (p->state == PAIR_FAIL || (p->state == PAIR_RETRY && e->cls != CRM_ERR_PERMANENT))
        return;
    char text[560];
    crm_error_format(e, text, sizeof text);
    snprintf(p->error, sizeof p->error, "%s: %s", what, text);
    if (e->cls == CRM_ERR_PERMANENT) {
        p->state = PAIR_FAIL;
        p->category = sync_error_category(e);
    } else {
        p->state = PAIR_RETRY;
        p->held_back = crm_error_is_hold_back(e);
        if (e->retry_after_ms > p->retry_after_ms)
            p->retry_after_ms = e->retry_after_ms;
    }
}

/* ---- the association step's own outcome ---- */

void sync_pair_assoc_fail(struct sync_pair *p, const struct crm_error *e, const char *what)
{
    if (p->assoc_state == PAIR_FAIL ||
        (p->assoc_state == PAIR_RETRY && e->cls != CRM_ERR_PERMANENT))
        return;
    char text[560];
    crm_error_format(e, text, sizeof text);
    snprintf(p->assoc_error, sizeof p->assoc_error, "%s: %s", what, text);
    if (e->cls == CRM_ERR_PERMANENT) {
        enum queue_error_category c = sync_error_category(e);
        p->assoc_state = PAIR_FAIL;
        p->assoc_category = c == QUEUE_ERR_PERMISSION ? c : QUEUE_ERR_ASSOCIATION;
    } else {
        p->assoc_state = PAIR_RETRY;
        if (e->retry_after_ms > p->assoc_retry_after_ms)
            p->assoc_retry_after_ms = e->retry_after_ms;
    }
}

void sync_pair_assoc_wait(struct sync_pair *p, const char *reason)
{
    if (p->assoc_state != PAIR_PENDING)
        return;
    p->assoc_state = PAIR_RETRY;
    snprintf(p->assoc_error, sizeof p->assoc_error, "%s", reason ? reason : "");
}
