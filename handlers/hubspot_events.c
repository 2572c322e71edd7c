/* hubspot_events.c: HubSpot webhook body (JSON array of events) -> struct hubspot_event batch.
 *
 * Owns the field table (JSON name, C type, destination, presence flag), the lenient number rules
 * HubSpot needs (ids as JSON numbers or decimal strings, int64 exact above 2^53), the kind and
 * object-type derivation tables, the per-batch string arena and the idempotency key.
 *
 * Design: json_tokener with a depth limit, strict mode and UTF-8 validation parses the body once;
 * the parse must consume every byte (trailing whitespace allowed). Each element is then read
 * through one table of field specs with hash lookups, strings copied into an arena sized from the
 * body length (one block in the usual case), and the tree is released before returning. Linear in
 * the body size.
 *
 * Must not: log, keep global mutable state, or put field values (customer data) into err. */
#include "handlers/hubspot_events.h"

#include "base/digest.h"
#include "base/hexenc.h"

#include <json-c/json.h>
#include <openssl/evp.h>

#include <inttypes.h>
#include <limits.h>
#include <stdalign.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- arena: bump allocator in a list of blocks, freed all at once ---- */

struct hubspot_events_arena {
    struct hubspot_events_arena *next;
    size_t used;
    size_t cap;
    alignas(max_align_t) unsigned char data[];
};

static struct hubspot_events_arena *arena_block_new(size_t cap)
{
    struct hubspot_events_arena *a;

    if (cap > SIZE_MAX - sizeof(*a))
        return NULL;
    a = malloc(sizeof(*a) + cap);
    if (a == NULL)
        return NULL;
    a->next = NULL;
    a->used = 0;
    a->cap = cap;
    return a;
}

/* Returns size bytes aligned to align (a power of two <= alignof(max_align_t)) from *head,
 * pushing a new block when the current one is full. NULL on allocation failure. */
static void *arena_alloc(struct hubspot_events_arena **head, size_t size, size_t align)
{
    struct hubspot_events_arena *a = *head;
    size_t start = a != NULL ? (a->used + align - 1) & ~(align - 1) : 0;

    if (a == NULL || start > a->cap || size > a->cap - start) {
        size_t cap = a != NULL && a->cap > 4096 ? a->cap : 4096;

        if (cap < size)
            cap = size;
        a = arena_block_new(cap);
        if (a == NULL)
            return NULL;
        a->next = *head;
        *head = a;
        start = 0;
    }
    a->used = start + size;
    return a->data + start;
}

static const char *arena_strndup(struct hubspot_events_arena **head, const char *s, size_t n)
{
    char *p;

    if (n == SIZE_MAX)
        return NULL;
    p = arena_alloc(head, n + 1, 1);
    if (p == NULL)
        return NULL;
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

static void arena_free(struct hubspot_events_arena *a)
{
    while (a != NULL) {
        struct hubspot_events_arena *next = a->next;

        free(a);
        a = next;
    }
}

/* ---- tables ---- */

static const struct {
    const char *suffix;
    enum hubspot_event_kind kind;
} kind_table[] = {
    {"creation", HS_EVENT_CREATE},
    {"propertyChange", HS_EVENT_UPDATE},
    {"deletion", HS_EVENT_DELETE},
    {"privacyDeletion", HS_EVENT_DELETE},
    {"associationChange", HS_EVENT_ASSOCIATION},
    {"merge", HS_EVENT_MERGE},
    {"restore", HS_EVENT_RESTORE},
};

static const char *const kind_names[] = {
    [HS_EVENT_UNKNOWN] = "unknown",         [HS_EVENT_CREATE] = "create",
    [HS_EVENT_UPDATE] = "update",           [HS_EVENT_DELETE] = "delete",
    [HS_EVENT_ASSOCIATION] = "association", [HS_EVENT_MERGE] = "merge",
    [HS_EVENT_RESTORE] = "restore",
};

static const char *const result_names[] = {
    [-HS_EV_OK] = "ok",
    [-HS_EV_MALFORMED] = "malformed",
    [-HS_EV_NOT_ARRAY] = "not_array",
    [-HS_EV_EMPTY] = "empty",
    [-HS_EV_TOO_MANY] = "too_many",
    [-HS_EV_INVALID] = "invalid",
    [-HS_EV_INTERNAL_ERROR] = "internal_error",
};

/* Legacy subscription types (contact.*, company.*, ...) carry no objectTypeId. */
static const struct {
    const char *prefix;
    const char *object_type_id;
} legacy_object_types[] = {
    {"contact", "0-1"},
    {"company", "0-2"},
    {"deal", "0-3"},
    {"ticket", "0-5"},
};

enum field_type {
    F_I64,       /* non-negative int64: JSON integer, integral double < 2^53, decimal string */
    F_STR,       /* JSON string only */
    F_TEXT,      /* JSON string, number or boolean, kept as text */
    F_BOOL,      /* JSON boolean or "true"/"false" */
    F_I64_ARRAY, /* array of F_I64 (mergedObjectIds) */
};

#define NO_FLAG SIZE_MAX
#define EV(m)   offsetof(struct hubspot_event, m)

static const struct field_spec {
    const char *name;
    enum field_type type;
    size_t offset;     /* destination in struct hubspot_event */
    size_t has_offset; /* bool in e->has, or NO_FLAG */
    bool required;
} fields[] = {
    {"eventId", F_I64, EV(event_id), NO_FLAG, true},
    {"subscriptionId", F_I64, EV(subscription_id), EV(has.subscription_id), false},
    {"portalId", F_I64, EV(portal_id), NO_FLAG, true},
    {"appId", F_I64, EV(app_id), EV(has.app_id), false},
    {"occurredAt", F_I64, EV(occurred_at), NO_FLAG, true},
    {"subscriptionType", F_STR, EV(subscription_type), NO_FLAG, false},
    {"attemptNumber", F_I64, EV(attempt_number), EV(has.attempt_number), false},
    {"objectId", F_I64, EV(object_id), EV(has.object_id_field), false},
    {"objectTypeId", F_STR, EV(object_type_id), NO_FLAG, false},
    {"propertyName", F_STR, EV(property_name), NO_FLAG, false},
    {"propertyValue", F_TEXT, EV(property_value), NO_FLAG, false},
    {"changeSource", F_STR, EV(change_source), NO_FLAG, false},
    {"sourceId", F_TEXT, EV(source_id), NO_FLAG, false},
    {"associationType", F_STR, EV(association_type), NO_FLAG, false},
    {"fromObjectId", F_I64, EV(from_object_id), EV(has.from_object_id), false},
    {"toObjectId", F_I64, EV(to_object_id), EV(has.to_object_id), false},
    {"fromObjectTypeId", F_STR, EV(from_object_type_id), NO_FLAG, false},
    {"toObjectTypeId", F_STR, EV(to_object_type_id), NO_FLAG, false},
    {"associationTypeId", F_I64, EV(association_type_id), EV(has.association_type_id), false},
    {"associationCategory", F_STR, EV(association_category), NO_FLAG, false},
    {"associationRemoved", F_BOOL, EV(association_removed), EV(has.association_removed), false},
    {"isPrimaryAssociation", F_BOOL, EV(is_primary_association), EV(has.is_primary_association),
     false},
    {"primaryObjectId", F_I64, EV(primary_object_id), EV(has.primary_object_id), false},
    {"mergedObjectIds", F_I64_ARRAY, EV(merged_object_ids), EV(has.merged_object_ids), false},
    {"newObjectId", F_I64, EV(new_object_id), EV(has.new_object_id), false},
    /* legacy name of subscriptionType; resolved in finish_event() */
    {"eventType", F_STR, NO_FLAG, NO_FLAG, false},
};

/* ---- helpers ---- */

__attribute__((format(printf, 3, 4))) static void set_err(char *err, size_t errlen, const char *fmt,
                                                          ...)
{
    va_list ap;

    if (err == NULL || errlen == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

enum hubspot_event_kind hubspot_event_kind_from_type(const char *subscription_type)
{
    const char *dot;

    if (subscription_type == NULL)
        return HS_EVENT_UNKNOWN;
    dot = strrchr(subscription_type, '.');
    if (dot == NULL)
        return HS_EVENT_UNKNOWN;
    for (size_t i = 0; i < sizeof(kind_table) / sizeof(kind_table[0]); i++)
        if (strcmp(dot + 1, kind_table[i].suffix) == 0)
            return kind_table[i].kind;
    return HS_EVENT_UNKNOWN;
}

bool hubspot_event_is_own_write(const struct hubspot_event *e)
{
    if (!e || !e->has.app_id || !e->change_source || !e->source_id ||
        strcmp(e->change_source, "INTEGRATION") != 0)
        return false;
    char app[24];
    snprintf(app, sizeof app, "%" PRId64, e->app_id);
    return strcmp(e->source_id, app) == 0;
}

const char *hubspot_event_kind_name(enum hubspot_event_kind kind)
{
    if ((unsigned)kind >= sizeof(kind_names) / sizeof(kind_names[0]))
        return "unknown";
    return kind_names[kind];
}

const char *hubspot_events_result_name(int result)
{
    if (result > 0 ||
        (size_t) - (long long)result >= sizeof(result_names) / sizeof(result_names[0]))
        return "unknown";
    return result_names[-result];
}

static const char *legacy_object_type(const char *subscription_type)
{
    const char *dot = strchr(subscription_type, '.');
    size_t n = dot != NULL ? (size_t)(dot - subscription_type) : strlen(subscription_type);

    for (size_t i = 0; i < sizeof(legacy_object_types) / sizeof(legacy_object_types[0]); i++)
        if (strlen(legacy_object_types[i].prefix) == n &&
            memcmp(legacy_object_types[i].prefix, subscription_type, n) == 0)
            return legacy_object_types[i].object_type_id;
    return NULL;
}

/* Decimal string of 1..19 digits without sign or spaces, no overflow. */
static int parse_decimal(const char *s, size_t n, int64_t *out)
{
    int64_t v = 0;

    if (n == 0 || n > 19)
        return -1;
    for (size_t i = 0; i < n; i++) {
        int d = s[i] - '0';

        if (d < 0 || d > 9 || v > (INT64_MAX - d) / 10)
            return -1;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

static int json_to_i64(struct json_object *v, int64_t *out)
{
    switch (json_object_get_type(v)) {
    case json_type_int: {
        int64_t x = json_object_get_int64(v);

        /* json-c clamps: INT64_MAX may stand for a larger unsigned value. */
        if (x < 0 || (x == INT64_MAX && json_object_get_uint64(v) != (uint64_t)INT64_MAX))
            return -1;
        *out = x;
        return 0;
    }
    case json_type_double: {
        double d = json_object_get_double(v);

        /* Exact integers only: beyond 2^53 a double has already lost digits. */
        if (!(d >= 0.0 && d <= 9007199254740992.0) || (double)(int64_t)d != d)
            return -1;
        *out = (int64_t)d;
        return 0;
    }
    case json_type_string:
        return parse_decimal(json_object_get_string(v), (size_t)json_object_get_string_len(v), out);
    default:
        return -1;
    }
}

/* Copies a JSON string (rejecting embedded NUL, which a C string would silently cut). */
static int copy_string(struct json_object *v, struct hubspot_events_arena **arena, const char **out)
{
    const char *s = json_object_get_string(v);
    size_t n = (size_t)json_object_get_string_len(v);

    if (memchr(s, '\0', n) != NULL)
        return -1;
    *out = arena_strndup(arena, s, n);
    return *out != NULL ? 0 : -2;
}

/* Returns 0, -1 for a wrong type or value, -2 for out of memory. */
static int read_field(const struct field_spec *f, struct json_object *v, struct hubspot_event *e,
                      struct hubspot_events_arena **arena, const char **legacy_type)
{
    void *dst = f->offset != NO_FLAG ? (char *)e + f->offset : NULL;
    const char **sdst = dst != NULL ? (const char **)dst : legacy_type;
    enum json_type t = json_object_get_type(v);
    int rc = 0;

    switch (f->type) {
    case F_I64:
        rc = json_to_i64(v, (int64_t *)dst);
        break;
    case F_STR:
        rc = t == json_type_string ? copy_string(v, arena, sdst) : -1;
        break;
    case F_TEXT:
        if (t == json_type_string) {
            rc = copy_string(v, arena, sdst);
        } else if (t == json_type_int || t == json_type_double || t == json_type_boolean) {
            const char *s = json_object_get_string(v);

            *sdst = arena_strndup(arena, s, strlen(s));
            rc = *sdst != NULL ? 0 : -2;
        } else {
            rc = -1;
        }
        break;
    case F_BOOL:
        if (t == json_type_boolean)
            *(bool *)dst = json_object_get_boolean(v);
        else if (t == json_type_string && strcmp(json_object_get_string(v), "true") == 0)
            *(bool *)dst = true;
        else if (t == json_type_string && strcmp(json_object_get_string(v), "false") == 0)
            *(bool *)dst = false;
        else
            rc = -1;
        break;
    case F_I64_ARRAY: {
        size_t n;
        int64_t *ids;

        if (t != json_type_array)
            return -1;
        n = json_object_array_length(v);
        ids = arena_alloc(arena, n > 0 ? n * sizeof(*ids) : 1, alignof(int64_t));
        if (ids == NULL)
            return -2;
        for (size_t i = 0; i < n && rc == 0; i++)
            rc = json_to_i64(json_object_array_get_idx(v, i), &ids[i]);
        e->merged_object_ids = ids;
        e->merged_object_ids_count = n;
        break;
    }
    }
    if (rc == 0 && f->has_offset != NO_FLAG)
        *(bool *)((char *)e + f->has_offset) = true;
    return rc;
}

/* Derived fields and cross-field rules, after the table walk. */
static int finish_event(struct hubspot_event *e, const char *legacy_type, size_t index, char *err,
                        size_t errlen)
{
    if (e->subscription_type == NULL)
        e->subscription_type = legacy_type;
    if (e->subscription_type == NULL || e->subscription_type[0] == '\0') {
        set_err(err, errlen,
                "Event %zu: required field \"subscriptionType\" (or \"eventType\") is missing.",
                index);
        return -1;
    }
    e->kind = hubspot_event_kind_from_type(e->subscription_type);
    if (!e->has.object_id_field) {
        if (e->kind == HS_EVENT_ASSOCIATION && e->has.from_object_id) {
            e->object_id = e->from_object_id;
        } else {
            set_err(err, errlen, "Event %zu: required field \"objectId\" is missing.", index);
            return -1;
        }
    }
    if (e->object_type_id == NULL || e->object_type_id[0] == '\0') {
        e->object_type_id = legacy_object_type(e->subscription_type);
        if (e->object_type_id == NULL && e->kind == HS_EVENT_ASSOCIATION &&
            e->from_object_type_id != NULL && e->from_object_type_id[0] != '\0')
            e->object_type_id = e->from_object_type_id;
        e->object_type_id_derived = e->object_type_id != NULL;
    }
    return 0;
}

/* One element's bytes in the body. */
struct span {
    size_t off, len;
};

static bool json_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static bool span_add(struct span *spans, size_t n, size_t *k, const char *body, size_t from,
                     size_t to)
{
    while (from < to && json_space(body[from]))
        from++;
    while (to > from && json_space(body[to - 1]))
        to--;
    if (*k >= n || to == from)
        return false;
    spans[(*k)++] = (struct span){from, to - from};
    return true;
}

/* Finds the bytes of each of the n elements of the array in body, which the strict tokenizer
 * has accepted whole (so it is well formed): outside strings, the commas at depth 1 separate
 * elements. Storing these bytes instead of re-serialising each parsed element saves most of a
 * one-event request's JSON work; the database stores the payload as jsonb, which normalises
 * either form to the same value. 0 when exactly n elements were found. */
static int element_spans(const char *body, size_t len, size_t n, struct span *spans)
{
    size_t k = 0, start = 0;
    int depth = 0;
    bool in_str = false;
    for (size_t i = 0; i < len; i++) {
        char c = body[i];
        if (in_str) {
            if (c == '\\')
                i++;
            else if (c == '"')
                in_str = false;
            continue;
        }
        if (c == '"') {
            in_str = true;
        } else if (c == '[' || c == '{') {
            if (depth++ == 0)
                start = i + 1;
        } else if (c == ']' || c == '}') {
            if (--depth == 0 && !span_add(spans, n, &k, body, start, i))
                return -1;
        } else if (c == ',' && depth == 1) {
            if (!span_add(spans, n, &k, body, start, i))
                return -1;
            start = i + 1;
        }
    }
    return k == n ? 0 : -1;
}

/* raw: the element's bytes in the body; NULL to serialise the parsed element instead. */
static int parse_event(struct json_object *obj, struct hubspot_event *e,
                       struct hubspot_events_arena **arena, size_t index, const char *raw_bytes,
                       size_t raw_bytes_len, char *err, size_t errlen)
{
    const char *legacy_type = NULL;
    const char *raw;
    size_t raw_len = 0;

    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
        const struct field_spec *f = &fields[i];
        struct json_object *v = NULL;
        int rc;

        if (!json_object_object_get_ex(obj, f->name, &v) || v == NULL) {
            if (f->required) {
                set_err(err, errlen, "Event %zu: required field \"%s\" is missing.", index,
                        f->name);
                return HS_EV_INVALID;
            }
            continue;
        }
        rc = read_field(f, v, e, arena, &legacy_type);
        if (rc == -2) {
            set_err(err, errlen, "Out of memory while reading event %zu.", index);
            return HS_EV_INTERNAL_ERROR;
        }
        if (rc != 0) {
            set_err(err, errlen, "Event %zu: field \"%s\" has the wrong type or is out of range.",
                    index, f->name);
            return HS_EV_INVALID;
        }
    }
    if (finish_event(e, legacy_type, index, err, errlen) != 0)
        return HS_EV_INVALID;
    if (raw_bytes) {
        raw = raw_bytes;
        raw_len = raw_bytes_len;
    } else {
        raw = json_object_to_json_string_length(
            obj, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &raw_len);
    }
    if (raw == NULL || (e->raw_json = arena_strndup(arena, raw, raw_len)) == NULL) {
        set_err(err, errlen, "Out of memory while serialising event %zu.", index);
        return HS_EV_INTERNAL_ERROR;
    }
    e->raw_json_len = raw_len;
    return HS_EV_OK;
}

/* Runs the tokenizer over the whole body; *root is the value or NULL with err filled. */
static int tokenize(const char *body, size_t len, struct json_object **root, char *err,
                    size_t errlen)
{
    struct json_tokener *tok = json_tokener_new_ex(HUBSPOT_EVENTS_MAX_DEPTH);
    enum json_tokener_error jerr;
    size_t end;

    *root = NULL;
    if (tok == NULL) {
        set_err(err, errlen, "Out of memory creating the JSON tokenizer.");
        return HS_EV_INTERNAL_ERROR;
    }
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
    *root = json_tokener_parse_ex(tok, body, (int)len);
    jerr = json_tokener_get_error(tok);
    end = json_tokener_get_parse_end(tok);
    if (jerr == json_tokener_continue) {
        /* A bare number has no end of its own: a NUL terminator ends it; anything else open is
         * truncated input and fails here. */
        *root = json_tokener_parse_ex(tok, "", 1);
        jerr = json_tokener_get_error(tok);
        end = len;
    }
    json_tokener_free(tok);
    if (jerr != json_tokener_success) {
        json_object_put(*root);
        *root = NULL;
        set_err(err, errlen, "Body is not valid JSON (%s near byte %zu).",
                json_tokener_error_desc(jerr), end);
        return HS_EV_MALFORMED;
    }
    if (end != len) {
        json_object_put(*root);
        *root = NULL;
        set_err(err, errlen, "Body has unexpected bytes after the JSON value at byte %zu.", end);
        return HS_EV_MALFORMED;
    }
    return HS_EV_OK;
}

int hubspot_events_parse(const char *body, size_t len, size_t max_events,
                         struct hubspot_event_batch **out, char *err, size_t errlen)
{
    struct json_object *root = NULL;
    struct hubspot_event_batch *batch;
    size_t n;
    int rc;

    set_err(err, errlen, "%s", "");
    if (out == NULL || (body == NULL && len > 0)) {
        set_err(err, errlen, "Event parser called without body or output.");
        return HS_EV_INTERNAL_ERROR;
    }
    *out = NULL;
    if (len > (size_t)INT32_MAX - 1) {
        set_err(err, errlen, "Body of %zu bytes is too large to parse.", len);
        return HS_EV_INTERNAL_ERROR;
    }
    if (len == 0) {
        set_err(err, errlen, "Body is empty.");
        return HS_EV_MALFORMED;
    }
    if (max_events == 0)
        max_events = HUBSPOT_EVENTS_MAX_PER_REQUEST;
    rc = tokenize(body, len, &root, err, errlen);
    if (rc != HS_EV_OK)
        return rc;
    if (!json_object_is_type(root, json_type_array)) {
        set_err(err, errlen, "Body is JSON but not an array of events.");
        json_object_put(root);
        return HS_EV_NOT_ARRAY;
    }
    n = json_object_array_length(root);
    if (n == 0) {
        set_err(err, errlen, "Body is an empty array of events.");
        json_object_put(root);
        return HS_EV_EMPTY;
    }
    if (n > max_events) {
        set_err(err, errlen, "Body has %zu events; at most %zu are accepted.", n, max_events);
        json_object_put(root);
        return HS_EV_TOO_MANY;
    }
    batch = calloc(1, sizeof(*batch) + n * sizeof(batch->events[0]));
    /* Strings and raw JSON together rarely exceed twice the body. */
    if (batch == NULL || (batch->arena = arena_block_new(2 * len + 256)) == NULL) {
        free(batch);
        json_object_put(root);
        set_err(err, errlen, "Out of memory for %zu events.", n);
        return HS_EV_INTERNAL_ERROR;
    }
    batch->count = n;
    struct span one = {0, 0}, *spans = n == 1 ? &one : malloc(n * sizeof *spans);
    if (spans && element_spans(body, len, n, spans) != 0) {
        if (spans != &one)
            free(spans);
        spans = NULL; /* cannot happen for a body the tokenizer took; serialise then */
    }
    for (size_t i = 0; i < n && rc == HS_EV_OK; i++) {
        struct json_object *elem = json_object_array_get_idx(root, i);

        if (!json_object_is_type(elem, json_type_object)) {
            set_err(err, errlen, "Event %zu is not a JSON object.", i);
            rc = HS_EV_INVALID;
            break;
        }
        rc = parse_event(elem, &batch->events[i], &batch->arena, i,
                         spans ? body + spans[i].off : NULL, spans ? spans[i].len : 0, err, errlen);
    }
    if (spans != &one)
        free(spans);
    json_object_put(root);
    if (rc != HS_EV_OK) {
        hubspot_event_batch_free(batch);
        return rc;
    }
    *out = batch;
    return HS_EV_OK;
}

void hubspot_event_batch_free(struct hubspot_event_batch *batch)
{
    if (batch == NULL)
        return;
    arena_free(batch->arena);
    free(batch);
}

/* ---- idempotency key ---- */

static void put_u64(unsigned char *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        p[i] = (unsigned char)(v & 0xff);
        v >>= 8;
    }
}

static int hash_i64(EVP_MD_CTX *ctx, int64_t v)
{
    unsigned char b[8];

    put_u64(b, (uint64_t)v);
    return EVP_DigestUpdate(ctx, b, sizeof(b)) == 1 ? 0 : -1;
}

/* Length-prefixed; NULL is encoded as length UINT64_MAX so it differs from "". */
static int hash_str(EVP_MD_CTX *ctx, const char *s)
{
    unsigned char b[8];
    size_t n = s != NULL ? strlen(s) : 0;

    put_u64(b, s != NULL ? (uint64_t)n : UINT64_MAX);
    if (EVP_DigestUpdate(ctx, b, sizeof(b)) != 1)
        return -1;
    return n > 0 && EVP_DigestUpdate(ctx, s, n) != 1 ? -1 : 0;
}

int hubspot_event_idempotency_key(const struct hubspot_event *e, char *out, size_t outlen)
{
    static const char domain[] = "synkro.hubspot.event.v1";
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    EVP_MD_CTX *ctx;
    int ok;

    if (out != NULL && outlen > 0)
        out[0] = '\0';
    if (e == NULL || out == NULL || outlen < HUBSPOT_EVENT_KEY_SIZE)
        return -1;
    ctx = digest_sha256_begin(); /* this thread's (base/digest.h) */
    if (ctx == NULL)
        return -1;
    ok = EVP_DigestUpdate(ctx, domain, sizeof(domain)) == 1 && hash_i64(ctx, e->portal_id) == 0 &&
         hash_str(ctx, e->subscription_type) == 0 && hash_str(ctx, e->object_type_id) == 0 &&
         hash_i64(ctx, e->object_id) == 0 && hash_str(ctx, e->property_name) == 0 &&
         hash_i64(ctx, e->occurred_at) == 0 && hash_i64(ctx, e->event_id) == 0 &&
         EVP_DigestFinal_ex(ctx, md, &mdlen) == 1 && mdlen == 32;
    if (!ok)
        return -1;
    memcpy(out, "hs:", 3);
    hex_encode(md, mdlen, out + 3); /* mdlen == 32: NUL lands at HUBSPOT_EVENT_KEY_SIZE - 1 */
    return 0;
}
