/* console_query.c: the console's query-string parsers (see the header).
 *
 * Numbers go through api_parse_int64 with their ranges; a cursor that db/ receives as text must
 * also be what db/'s own cursor parser takes (digits only: strtoll alone would let "+5" or " 5"
 * through to a 503 from db/). Search text is 1..HISTORY_QUERY_MAX bytes without control
 * characters. Must not: touch the database or allocate. */
#include "handlers/console_query.h"

#include "handlers/api_common.h"

#include <stdint.h>
#include <string.h>

static const char *request_arg(void *ud, const char *name)
{
    return http_query_arg(ud, name);
}

struct console_query console_query_of(struct http_request *req)
{
    return (struct console_query){.arg = request_arg, .ud = req};
}

static const char *arg_of(const struct console_query *q, const char *name)
{
    return q->arg(q->ud, name);
}

bool console_query_cursor_ok(const char *s)
{
    long long v;
    size_t n = strspn(s, "0123456789");
    return n > 0 && n <= 19 && s[n] == '\0' && api_parse_int64(s, 1, INT64_MAX, &v) == 0;
}

/* ---- records ---- */

/* Search text: 1..HISTORY_QUERY_MAX bytes without control characters. */
static bool search_text_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > HISTORY_QUERY_MAX)
        return false;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p < 0x20 || *p == 0x7f)
            return false;
    return true;
}

/* limit into *out (def when absent); false when present and outside 1..max. */
static bool limit_arg(const struct console_query *q, long long max, long long def, int *out)
{
    const char *s = arg_of(q, "limit");
    long long v = def;
    if (s && api_parse_int64(s, 1, max, &v) < 0)
        return false;
    *out = (int)v;
    return true;
}

const char *console_query_records(const struct console_query *q, struct record_query *out)
{
    struct record_query rq = {.q = arg_of(q, "q"), .after = arg_of(q, "after")};
    if (rq.q && !search_text_ok(rq.q))
        return "q must be 1 to 200 characters without control characters: a Salesforce id, a"
               " HubSpot id or the start of a record's name";
    const char *mapping = arg_of(q, "mapping");
    long long mid = 0;
    if (mapping && api_parse_int64(mapping, 1, INT64_MAX, &mid) < 0)
        return "mapping must be a positive mapping id";
    rq.mapping_id = mid;
    if (!limit_arg(q, 100, 50, &rq.limit))
        return "limit must be an integer from 1 to 100";
    if (rq.after && !console_query_cursor_ok(rq.after))
        return "after must be the next value of a previous answer";
    *out = rq;
    return NULL;
}

const char *console_query_timeline(const struct console_query *q, int *limit, const char **before)
{
    if (!limit_arg(q, 200, 50, limit))
        return "limit must be an integer from 1 to 200";
    const char *b = arg_of(q, "before");
    if (b && !console_query_cursor_ok(b))
        return "before must be the next value of a previous answer";
    *before = b;
    return NULL;
}

/* ---- conflicts ---- */

#define CONFLICTS_DEFAULT_LIMIT 100
#define CONFLICTS_MAX_ID_LEN    64

/* Numeric parameters: name, range, and the message when a value is out of it. */
static const struct {
    const char *name;
    long long min, max;
    const char *message;
} numeric_args[] = {
    {"mapping_id", 1, INT64_MAX, "mapping_id must be a positive integer"},
    {"before", 1, INT64_MAX, "before must be a positive conflict id"},
    {"limit", 1, 500, "limit must be an integer from 1 to 500"},
};

/* Text parameters: name, and the message when a value is empty or too long. */
static const struct {
    const char *name;
    const char *message;
} text_args[] = {
    {"salesforce_id", "salesforce_id must be 1 to 64 characters"},
    {"hubspot_id", "hubspot_id must be 1 to 64 characters"},
    {"field", "field must be 1 to 64 characters"},
    {"record", "record must be 1 to 64 characters"},
    {"winner", "winner must be salesforce or hubspot"},
};

const char *console_query_conflicts(const struct console_query *q, struct conflict_filter *out)
{
    long long values[sizeof numeric_args / sizeof numeric_args[0]] = {0, 0,
                                                                      CONFLICTS_DEFAULT_LIMIT};
    for (size_t i = 0; i < sizeof numeric_args / sizeof numeric_args[0]; i++) {
        const char *arg = arg_of(q, numeric_args[i].name);
        if (arg && api_parse_int64(arg, numeric_args[i].min, numeric_args[i].max, &values[i]) < 0)
            return numeric_args[i].message;
    }
    const char *texts[sizeof text_args / sizeof text_args[0]];
    for (size_t i = 0; i < sizeof text_args / sizeof text_args[0]; i++) {
        texts[i] = arg_of(q, text_args[i].name);
        if (texts[i] && (!*texts[i] || strlen(texts[i]) > CONFLICTS_MAX_ID_LEN))
            return text_args[i].message;
    }
    const char *winner = texts[4];
    if (winner && strcmp(winner, "salesforce") != 0 && strcmp(winner, "hubspot") != 0)
        return text_args[4].message;
    *out = (struct conflict_filter){.mapping_id = values[0],
                                    .before_id = values[1],
                                    .limit = (int)values[2],
                                    .salesforce_id = texts[0],
                                    .hubspot_id = texts[1],
                                    .field = texts[2],
                                    .record = texts[3],
                                    .winner = winner};
    return NULL;
}

/* ---- health ---- */

const char *console_query_health(const struct console_query *q, int *minutes)
{
    long long v = HEALTH_MINUTES_DEFAULT;
    const char *arg = arg_of(q, "minutes");
    /* plain decimal digits (no sign, blank or exponent) within the API's range */
    if (arg) {
        size_t n = strspn(arg, "0123456789");
        if (n == 0 || n > 4 || arg[n] != '\0' ||
            api_parse_int64(arg, HEALTH_MINUTES_MIN, HEALTH_MINUTES_MAX, &v) < 0)
            return "minutes must be an integer from 5 to 1440";
    }
    *minutes = (int)v;
    return NULL;
}
