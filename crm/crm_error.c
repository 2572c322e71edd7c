/* crm_error.c: CRM error classification tables, error-body parsers and batch result lists.
 *
 * Owns the two classification tables (one per CRM; rows are searched in order, first match wins,
 * code rows before status rows) and nothing else global. Parsers extract the CRM's code, message,
 * correlation id and field names; they never decide the class themselves.
 *
 * Must not: log, allocate inside struct crm_error, or keep state between calls. */
#include "crm/crm_error.h"

#include "base/json_util.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

const char *crm_kind_name(enum crm_kind crm)
{
    return crm == CRM_SALESFORCE ? "salesforce" : "hubspot";
}

static const char *const class_names[] = {
    [CRM_ERR_NONE] = "none",           [CRM_ERR_RETRY_AFTER] = "retry_after",
    [CRM_ERR_TRANSIENT] = "transient", [CRM_ERR_AUTH] = "auth",
    [CRM_ERR_PERMANENT] = "permanent",
};

const char *crm_error_class_name(enum crm_error_class cls)
{
    if ((size_t)cls >= sizeof class_names / sizeof class_names[0])
        return "unknown";
    return class_names[cls];
}

/* ---- classification tables ---- */

struct class_rule {
    int status_lo, status_hi; /* inclusive; 0..0 is "no HTTP answer" */
    const char *code;         /* NULL: any; "X*": prefix X; else exact (case-sensitive) */
    enum crm_error_class cls;
    long min_wait_ms;
};

#define ANY_STATUS 0, 999

static const struct class_rule hubspot_rules[] = {
    /* OAuth token endpoint: a refused refresh token or client cannot be fixed by retrying. */
    {ANY_STATUS, "invalid_grant", CRM_ERR_PERMANENT, 0},
    {ANY_STATUS, "invalid_client", CRM_ERR_PERMANENT, 0},
    {ANY_STATUS, "BAD_REFRESH_TOKEN", CRM_ERR_PERMANENT, 0},
    {ANY_STATUS, "BAD_CLIENT_ID", CRM_ERR_PERMANENT, 0},
    {0, 0, NULL, CRM_ERR_TRANSIENT, 0}, /* connect failure, timeout, reset */
    {401, 401, NULL, CRM_ERR_AUTH, 0},
    {408, 408, NULL, CRM_ERR_TRANSIENT, 0},
    {423, 423, NULL, CRM_ERR_RETRY_AFTER, 2000}, /* locked: wait at least 2 s */
    {429, 429, NULL, CRM_ERR_RETRY_AFTER, 1000}, /* rate limit: the interval header refines it */
    {477, 477, NULL, CRM_ERR_RETRY_AFTER, 1000}, /* migration in progress: Retry-After seconds */
    {500, 599, NULL, CRM_ERR_TRANSIENT, 0},      /* 500, 502-504, 521, 523, 524, ... */
    {100, 499, NULL, CRM_ERR_PERMANENT, 0},      /* 400 validation, 403 scopes, 404, 409 ... */
    {ANY_STATUS, NULL, CRM_ERR_PERMANENT, 0},
};

static const struct class_rule salesforce_rules[] = {
    /* Too many requests, whatever the body says (Salesforce's edge and proxies in front of it
     * answer 429 with codes that would otherwise match INVALID_*): wait and retry */
    {429, 429, NULL, CRM_ERR_RETRY_AFTER, 1000},
    {ANY_STATUS, "INVALID_SESSION_ID", CRM_ERR_AUTH, 0}, /* before INVALID_* */
    {ANY_STATUS, "REQUEST_LIMIT_EXCEEDED", CRM_ERR_TRANSIENT, 0},
    {ANY_STATUS, "UNABLE_TO_LOCK_ROW", CRM_ERR_TRANSIENT, 0},
    {ANY_STATUS, "QUERY_TIMEOUT", CRM_ERR_TRANSIENT, 0},
    {ANY_STATUS, "SERVER_UNAVAILABLE", CRM_ERR_TRANSIENT, 0},
    /* allOrNone collections: this record was fine, another one failed; alone it would succeed */
    {ANY_STATUS, "ALL_OR_NONE_OPERATION_ROLLED_BACK", CRM_ERR_TRANSIENT, 0},
    /* OAuth token endpoint */
    {ANY_STATUS, "invalid_grant", CRM_ERR_PERMANENT, 0},
    {ANY_STATUS, "invalid_client*", CRM_ERR_PERMANENT, 0},
    {ANY_STATUS, "unauthorized_client", CRM_ERR_PERMANENT, 0},
    {ANY_STATUS, "unsupported_grant_type", CRM_ERR_PERMANENT, 0},
    /* validation, duplicates, access: the same request fails again */
    {ANY_STATUS, "FIELD_CUSTOM_VALIDATION_EXCEPTION", CRM_ERR_PERMANENT, 0},
    {ANY_STATUS, "REQUIRED_FIELD_MISSING", CRM_ERR_PERMANENT, 0},
    {ANY_STATUS, "DUPLICATE_VALUE", CRM_ERR_PERMANENT, 0},
    {ANY_STATUS, "DUPLICATES_DETECTED", CRM_ERR_PERMANENT, 0},
    {ANY_STATUS, "DUPLICATE_EXTERNAL_ID", CRM_ERR_PERMANENT, 0},
    {ANY_STATUS, "STRING_TOO_LONG", CRM_ERR_PERMANENT, 0},
    {ANY_STATUS, "INVALID_*", CRM_ERR_PERMANENT, 0},
    {ANY_STATUS, "MALFORMED_ID", CRM_ERR_PERMANENT, 0},
    {ANY_STATUS, "MALFORMED_QUERY", CRM_ERR_PERMANENT, 0},
    {ANY_STATUS, "ENTITY_IS_DELETED", CRM_ERR_PERMANENT, 0},
    {ANY_STATUS, "INSUFFICIENT_ACCESS*", CRM_ERR_PERMANENT, 0},
    {ANY_STATUS, "CANNOT_INSERT_UPDATE_ACTIVATE_ENTITY", CRM_ERR_PERMANENT, 0},
    {ANY_STATUS, "NOT_FOUND", CRM_ERR_PERMANENT, 0},
    {ANY_STATUS, "MULTIPLE_CHOICES", CRM_ERR_PERMANENT, 0},
    {ANY_STATUS, "PRECONDITION_FAILED", CRM_ERR_PERMANENT, 0},
    /* by status */
    {0, 0, NULL, CRM_ERR_TRANSIENT, 0},
    {401, 401, NULL, CRM_ERR_AUTH, 0},
    {408, 408, NULL, CRM_ERR_TRANSIENT, 0},
    {500, 599, NULL, CRM_ERR_TRANSIENT, 0},
    {100, 499, NULL, CRM_ERR_PERMANENT, 0}, /* 300 several upsert matches, 400, 404, 412 ... */
    {ANY_STATUS, NULL, CRM_ERR_PERMANENT, 0},
};

static bool code_matches(const char *pattern, const char *code)
{
    if (!pattern)
        return true;
    if (!code || !*code)
        return false;
    size_t n = strlen(pattern);
    if (n && pattern[n - 1] == '*')
        return strncmp(pattern, code, n - 1) == 0;
    return strcmp(pattern, code) == 0;
}

enum crm_error_class crm_error_classify(enum crm_kind crm, int status, const char *code,
                                        long *min_wait_ms)
{
    const struct class_rule *rules = crm == CRM_SALESFORCE ? salesforce_rules : hubspot_rules;
    size_t n = crm == CRM_SALESFORCE ? sizeof salesforce_rules / sizeof salesforce_rules[0]
                                     : sizeof hubspot_rules / sizeof hubspot_rules[0];
    for (size_t i = 0; i < n; i++) {
        if (status < rules[i].status_lo || status > rules[i].status_hi)
            continue;
        if (!code_matches(rules[i].code, code))
            continue;
        if (min_wait_ms)
            *min_wait_ms = rules[i].cls == CRM_ERR_RETRY_AFTER ? rules[i].min_wait_ms : 0;
        return rules[i].cls;
    }
    if (min_wait_ms)
        *min_wait_ms = 0;
    return CRM_ERR_PERMANENT;
}

/* ---- struct crm_error helpers ---- */

/* Copies src into dst (size cap), cutting at a UTF-8 character boundary. */
static void copy_text(char *dst, size_t cap, const char *src)
{
    if (!cap)
        return;
    if (!src)
        src = "";
    size_t n = strlen(src);
    if (n >= cap) {
        n = cap - 1;
        while (n > 0 && ((unsigned char)src[n] & 0xC0) == 0x80)
            n--;
    }
    memcpy(dst, src, n);
    dst[n] = '\0';
}

void crm_error_clear(struct crm_error *e)
{
    if (e)
        memset(e, 0, sizeof *e);
}

void crm_error_set(struct crm_error *e, enum crm_kind crm, enum crm_error_class cls,
                   int http_status, const char *code, const char *fmt, ...)
{
    if (!e)
        return;
    char op[sizeof e->operation];
    memcpy(op, e->operation, sizeof op);
    int attempts = e->attempts;
    memset(e, 0, sizeof *e);
    memcpy(e->operation, op, sizeof op);
    e->attempts = attempts;
    e->crm = crm;
    e->cls = cls;
    e->http_status = http_status;
    copy_text(e->code, sizeof e->code, code);
    va_list ap;
    va_start(ap, fmt);
    char msg[sizeof e->message];
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    copy_text(e->message, sizeof e->message, msg);
}

void crm_error_add_field(struct crm_error *e, const char *name)
{
    if (!e || !name || !*name)
        return;
    for (size_t i = 0; i < e->nfields; i++)
        if (strcmp(e->fields[i], name) == 0)
            return;
    if (e->nfields >= CRM_ERROR_MAX_FIELDS)
        return;
    copy_text(e->fields[e->nfields++], sizeof e->fields[0], name);
}

static void scrub_text(char *buf, const char *secret, size_t slen)
{
    static const char mask[] = "***";
    char *p;
    while ((p = strstr(buf, secret)) != NULL) {
        size_t tail = strlen(p + slen);
        memmove(p + 3, p + slen, tail + 1); /* slen >= 4 > 3: the text only shrinks */
        memcpy(p, mask, 3);
    }
}

void crm_error_scrub(struct crm_error *e, const char *secret)
{
    if (!e || !secret)
        return;
    size_t slen = strlen(secret);
    if (slen < 4)
        return;
    scrub_text(e->message, secret, slen);
    scrub_text(e->code, secret, slen);
    scrub_text(e->sub_code, secret, slen);
    scrub_text(e->correlation_id, secret, slen);
    for (size_t i = 0; i < e->nfields; i++)
        scrub_text(e->fields[i], secret, slen);
}

int crm_error_format(const struct crm_error *e, char *buf, size_t len)
{
    char fields[CRM_ERROR_MAX_FIELDS * 100 + 16] = "";
    size_t fl = 0;
    for (size_t i = 0; i < e->nfields; i++) {
        int w = snprintf(fields + fl, sizeof fields - fl, "%s%s",
                         i ? ", " : " [fields: ", e->fields[i]);
        if (w < 0 || (size_t)w >= sizeof fields - fl)
            break;
        fl += (size_t)w;
    }
    if (e->nfields && fl + 2 < sizeof fields)
        strcat(fields, "]");
    char status[24] = "no HTTP answer";
    if (e->http_status)
        snprintf(status, sizeof status, "HTTP %d", e->http_status);
    return snprintf(buf, len, "%s %s: %s%s%s%s%s%s: %s%s%s%s%s [%s]", crm_kind_name(e->crm),
                    e->operation[0] ? e->operation : "call", status, e->code[0] ? " " : "", e->code,
                    e->sub_code[0] ? " (" : "", e->sub_code, e->sub_code[0] ? ")" : "",
                    e->message[0] ? e->message : "(no message)", fields,
                    e->correlation_id[0] ? " [correlation id: " : "", e->correlation_id,
                    e->correlation_id[0] ? "]" : "", crm_error_class_name(e->cls));
}

int crm_expect_json(json_object *json, json_type type, enum crm_kind crm, int status,
                    const char *what, json_object **out, struct crm_error *err)
{
    if (json && json_object_is_type(json, type)) {
        *out = json;
        return 0;
    }
    json_object_put(json);
    *out = NULL;
    crm_error_set(err, crm, CRM_ERR_PERMANENT, status, "invalid_answer",
                  "the %s answer is not a JSON %s", what, json_type_to_name(type));
    return -1;
}

/* ---- JSON helpers ---- */

static void add_field_list(struct crm_error *e, json_object *arr)
{
    if (!arr)
        return;
    if (json_object_is_type(arr, json_type_string)) {
        crm_error_add_field(e, json_object_get_string(arr));
        return;
    }
    if (!json_object_is_type(arr, json_type_array))
        return;
    for (size_t i = 0; i < json_object_array_length(arr); i++) {
        json_object *v = json_object_array_get_idx(arr, i);
        if (json_object_is_type(v, json_type_string))
            crm_error_add_field(e, json_object_get_string(v));
    }
}

static void add_context_fields(struct crm_error *e, json_object *obj)
{
    json_object *ctx, *names;
    if (json_object_is_type(obj, json_type_object) &&
        json_object_object_get_ex(obj, "context", &ctx) &&
        json_object_is_type(ctx, json_type_object) &&
        json_object_object_get_ex(ctx, "propertyName", &names))
        add_field_list(e, names);
}

/* HubSpot validation messages embed a JSON array of per-property results:
 * "Property values were not valid:
 * [{\"isValid\":false,\"error\":\"INVALID_OPTION\",\"name\":\"x\"}]". */
static void add_embedded_validation(struct crm_error *e, const char *message)
{
    const char *p = message ? strstr(message, ": [{") : NULL;
    if (!p)
        return;
    json_object *arr = json_tokener_parse(p + 2);
    if (!arr)
        return;
    if (json_object_is_type(arr, json_type_array)) {
        for (size_t i = 0; i < json_object_array_length(arr); i++) {
            json_object *item = json_object_array_get_idx(arr, i);
            crm_error_add_field(e, json_member_string(item, "name"));
            const char *code = json_member_string(item, "error");
            if (code && !e->sub_code[0])
                copy_text(e->sub_code, sizeof e->sub_code, code);
        }
    }
    json_object_put(arr);
}

/* ---- HubSpot ---- */

static void hubspot_fill(struct crm_error *e, json_object *obj)
{
    const char *code = json_member_string(obj, "category");
    if (!code)
        code = json_member_string(obj, "errorType");
    if (!code)
        code = json_member_string(obj, "error"); /* OAuth */
    const char *sub = json_member_string(obj, "subCategory");
    if (!sub)
        sub = json_member_string(obj, "policyName");
    const char *message = json_member_string(obj, "message");
    if (!message)
        message = json_member_string(obj, "error_description");
    copy_text(e->code, sizeof e->code, code);
    copy_text(e->message, sizeof e->message, message);
    copy_text(e->correlation_id, sizeof e->correlation_id,
              json_member_string(obj, "correlationId"));
    add_context_fields(e, obj);
    json_object *errors;
    if (json_object_object_get_ex(obj, "errors", &errors) &&
        json_object_is_type(errors, json_type_array)) {
        for (size_t i = 0; i < json_object_array_length(errors); i++) {
            json_object *item = json_object_array_get_idx(errors, i);
            add_context_fields(e, item);
            const char *c = json_member_string(item, "code");
            if (!sub && c)
                sub = c;
            if (!e->message[0])
                copy_text(e->message, sizeof e->message, json_member_string(item, "message"));
        }
    }
    copy_text(e->sub_code, sizeof e->sub_code, sub);
    if (!code && !sub) {
        /* {"status":"BAD_REFRESH_TOKEN"} style */
        const char *st = json_member_string(obj, "status");
        if (st && strcmp(st, "error") != 0)
            copy_text(e->code, sizeof e->code, st);
    }
    add_embedded_validation(e, message);
}

static void reset_keep_op(struct crm_error *e, enum crm_kind crm, int status)
{
    char op[sizeof e->operation];
    memcpy(op, e->operation, sizeof op);
    int attempts = e->attempts;
    memset(e, 0, sizeof *e);
    memcpy(e->operation, op, sizeof op);
    e->attempts = attempts;
    e->crm = crm;
    e->http_status = status;
}

void crm_error_from_hubspot_json(struct crm_error *e, int status, json_object *obj)
{
    if (!e)
        return;
    reset_keep_op(e, CRM_HUBSPOT, status);
    if (obj && json_object_is_type(obj, json_type_object))
        hubspot_fill(e, obj);
    long min_wait = 0;
    e->cls = crm_error_classify(CRM_HUBSPOT, status, e->code, &min_wait);
    e->retry_after_ms = min_wait;
    if (!e->message[0])
        copy_text(e->message, sizeof e->message, "no error message");
}

/* The HTTP status a per-input error category stands for. */
static const struct {
    const char *category;
    int status;
} item_status[] = {
    {"OBJECT_NOT_FOUND", 404},
    {"VALIDATION_ERROR", 400},
    {"CONFLICT", 409},
};

void crm_error_from_hubspot_item(struct crm_error *e, int call_status, json_object *obj)
{
    int status = call_status;
    const char *st = json_member_string(obj, "status");
    char *end = NULL;
    long v = st ? strtol(st, &end, 10) : 0;
    if (st && end != st && *end == '\0' && v >= 100 && v <= 599)
        status = (int)v;
    const char *cat = json_member_string(obj, "category");
    for (size_t i = 0; cat && i < sizeof item_status / sizeof item_status[0]; i++)
        if (strcmp(cat, item_status[i].category) == 0)
            status = item_status[i].status;
    crm_error_from_hubspot_json(e, status, obj);
}

static bool id_char(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
           c == '-';
}

bool crm_text_names_id(const char *text, const char *id)
{
    if (!text || !id || !*id)
        return false;
    size_t n = strlen(id);
    for (const char *p = strstr(text, id); p; p = strstr(p + 1, id)) {
        bool before = p > text && id_char(p[-1]) && id_char(id[0]);
        bool after = p[n] && id_char(p[n]) && id_char(id[n - 1]);
        if (!before && !after)
            return true;
    }
    return false;
}

static long parse_long(const char *s, long dflt)
{
    if (!s)
        return dflt;
    char *end;
    while (*s == ' ')
        s++;
    long v = strtol(s, &end, 10);
    if (end == s || v < 0)
        return dflt;
    return v;
}

static long ms_to_next_utc_midnight(void)
{
    time_t now = time(NULL);
    long into_day = (long)(now % 86400);
    return (86400 - into_day) * 1000L;
}

/* The JSON document of an error body (caller puts); NULL when there is none or it does not parse.
 */
static json_object *parse_body(const char *body, size_t len)
{
    json_object *obj = NULL;
    json_tokener *tok = body && len ? json_tokener_new() : NULL;
    if (tok) {
        obj = json_tokener_parse_ex(tok, body, (int)(len > INT32_MAX ? INT32_MAX : len));
        json_tokener_free(tok);
    }
    return obj;
}

/* When the body was not JSON, the message says what came instead (obj: the parsed body). */
static void note_unparsed(struct crm_error *e, int status, const json_object *obj, const char *body,
                          size_t len)
{
    if (obj)
        return;
    if (body && len) {
        char snippet[200];
        copy_text(snippet, sizeof snippet, body);
        snprintf(e->message, sizeof e->message, "unexpected answer: %s", snippet);
    } else {
        snprintf(e->message, sizeof e->message, "HTTP %d with no body", status);
    }
}

void crm_error_from_hubspot(struct crm_error *e, int status, const char *body, size_t len,
                            const struct crm_hubspot_error_headers *hdrs)
{
    if (!e)
        return;
    json_object *obj = parse_body(body, len);
    crm_error_from_hubspot_json(e, status, obj);
    note_unparsed(e, status, obj, body, len);
    json_object_put(obj);
    if (e->cls != CRM_ERR_RETRY_AFTER)
        return;
    long wait = e->retry_after_ms;
    if (status == 429) {
        if (strcmp(e->sub_code, "DAILY") == 0)
            wait = ms_to_next_utc_midnight();
        else
            wait = parse_long(hdrs ? hdrs->rate_interval_ms : NULL,
                              strcmp(e->sub_code, "SECONDLY") == 0 ? 1000 : 10000);
    } else {
        long ra = parse_long(hdrs ? hdrs->retry_after : NULL, -1);
        if (ra >= 0 && ra * 1000 > wait)
            wait = ra * 1000;
    }
    if (wait < e->retry_after_ms)
        wait = e->retry_after_ms;
    e->retry_after_ms = wait;
}

/* ---- Salesforce ---- */

static void salesforce_fill_one(struct crm_error *e, json_object *item, bool first)
{
    const char *code = json_member_string(item, "errorCode");
    if (!code)
        code = json_member_string(item, "statusCode");
    const char *message = json_member_string(item, "message");
    if (first) {
        copy_text(e->code, sizeof e->code, code);
        copy_text(e->message, sizeof e->message, message);
    } else if (message && strlen(e->message) + 2 < sizeof e->message) {
        size_t l = strlen(e->message);
        snprintf(e->message + l, sizeof e->message - l, "; %s", message);
    }
    json_object *fields;
    if (json_object_object_get_ex(item, "fields", &fields))
        add_field_list(e, fields);
}

static void salesforce_fill(struct crm_error *e, int status, json_object *obj)
{
    if (json_object_is_type(obj, json_type_array)) {
        size_t n = json_object_array_length(obj);
        size_t urls = 0;
        for (size_t i = 0; i < n; i++) {
            json_object *item = json_object_array_get_idx(obj, i);
            if (json_object_is_type(item, json_type_object))
                salesforce_fill_one(e, item, i == 0);
            else if (json_object_is_type(item, json_type_string))
                urls++;
        }
        if (status == 300 && urls && !e->code[0]) {
            copy_text(e->code, sizeof e->code, "MULTIPLE_CHOICES");
            snprintf(e->message, sizeof e->message,
                     "%zu records match the external id; none was changed", urls);
        }
    } else if (json_object_is_type(obj, json_type_object)) {
        if (json_member_string(obj, "error")) { /* OAuth */
            copy_text(e->code, sizeof e->code, json_member_string(obj, "error"));
            copy_text(e->message, sizeof e->message, json_member_string(obj, "error_description"));
        } else {
            salesforce_fill_one(e, obj, true);
        }
    }
}

void crm_error_from_salesforce_json(struct crm_error *e, int status, json_object *errors)
{
    if (!e)
        return;
    reset_keep_op(e, CRM_SALESFORCE, status);
    if (errors)
        salesforce_fill(e, status, errors);
    e->cls = crm_error_classify(CRM_SALESFORCE, status, e->code, &e->retry_after_ms);
    if (!e->message[0])
        copy_text(e->message, sizeof e->message, "no error message");
}

void crm_error_from_salesforce(struct crm_error *e, int status, const char *body, size_t len)
{
    if (!e)
        return;
    json_object *obj = parse_body(body, len);
    crm_error_from_salesforce_json(e, status, obj);
    note_unparsed(e, status, obj, body, len);
    json_object_put(obj);
}

/* ---- batch results ---- */

int crm_batch_result_init(struct crm_batch_result *r, size_t n)
{
    memset(r, 0, sizeof *r);
    if (n == 0)
        return 0;
    r->items = calloc(n, sizeof *r->items);
    if (!r->items)
        return -1;
    r->n = n;
    return 0;
}

void crm_batch_item_fail(struct crm_batch_result *r, size_t i, const struct crm_error *e)
{
    if (!r || i >= r->n)
        return;
    struct crm_batch_item *it = &r->items[i];
    if (it->ok) {
        it->ok = false;
        free(it->id);
        it->id = NULL;
        json_object_put(it->record);
        it->record = NULL;
    }
    if (!it->error) {
        it->error = malloc(sizeof *it->error);
        if (!it->error)
            return;
        r->nfailed++;
    }
    *it->error = *e;
}

void crm_batch_item_succeed(struct crm_batch_result *r, size_t i, char *id, json_object *record,
                            bool created)
{
    if (!r || i >= r->n) {
        free(id);
        json_object_put(record);
        return;
    }
    struct crm_batch_item *it = &r->items[i];
    if (it->error) {
        free(it->error);
        it->error = NULL;
        r->nfailed--;
    }
    free(it->id);
    json_object_put(it->record);
    it->ok = true;
    it->id = id;
    it->record = record;
    it->created = created;
}

void crm_batch_fail_range(struct crm_batch_result *r, size_t from, size_t to,
                          const struct crm_error *e, struct crm_error *first)
{
    for (size_t i = from; i < to; i++)
        crm_batch_item_fail(r, i, e);
    if (first) {
        int attempts = first->attempts;
        *first = *e;
        first->attempts = attempts;
    }
}

void crm_batch_result_free(struct crm_batch_result *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n; i++) {
        free(r->items[i].id);
        json_object_put(r->items[i].record);
        free(r->items[i].error);
    }
    free(r->items);
    memset(r, 0, sizeof *r);
}

json_object *crm_member_array(json_object *doc, const char *key, enum crm_kind crm, int status,
                              const char *message, struct crm_error *err)
{
    json_object *v = NULL;
    if (doc && json_object_is_type(doc, json_type_object) &&
        json_object_object_get_ex(doc, key, &v) && json_object_is_type(v, json_type_array))
        return v;
    json_object_put(doc);
    crm_error_set(err, crm, CRM_ERR_PERMANENT, status, "invalid_answer", "%s", message);
    return NULL;
}

bool crm_error_is_hold_back(const struct crm_error *e)
{
    return e && e->cls == CRM_ERR_RETRY_AFTER && strcmp(e->code, "client_rate_limit") == 0;
}

bool crm_error_is_gone(const struct crm_error *e)
{
    return e && (e->http_status == 404 || strcmp(e->code, "ENTITY_IS_DELETED") == 0 ||
                 strcmp(e->code, "NOT_FOUND") == 0 || strcmp(e->code, "OBJECT_NOT_FOUND") == 0 ||
                 strcmp(e->sub_code, "OBJECT_NOT_FOUND") == 0);
}
