/* fuzz_console_query.c: libFuzzer target for the query strings of the console's read APIs
 * (handlers/console_query.h): GET /api/records (search by Salesforce id, HubSpot id or label,
 * mapping filter, limit, the `after` cursor), /api/records/{id}/timeline (limit, `before`),
 * /api/conflicts (every filter, paging) and /api/mappings/{id}/health (minutes).
 *
 * The input is a raw query string (what follows '?'): it is split at '&' and '=' and each part
 * decoded as libmicrohttpd decodes GET arguments ('+' is a space, then MHD_http_unescape; the
 * first occurrence of a name wins; a name without '=' has no value). Every parser runs on it
 * twice and must answer the same; a refusal's message starts with the name of a parameter it
 * concerns; an acceptance holds only values within the documented ranges, search text of 1..200
 * bytes without control characters, and cursors that db/'s own parser takes (1..19 digits, a
 * positive int64) -- a cursor the handler passed but db/ refused would answer 503 instead of 400.
 * Must not: touch a database, write files or keep state between inputs. */
#include <microhttpd.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "handlers/console_query.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_ARGS 64

struct args {
    char *names[MAX_ARGS];
    char *values[MAX_ARGS]; /* NULL: no '=' */
    size_t n;
    char *buf;
};

static void check(int cond, const char *what)
{
    if (!cond) {
        fprintf(stderr, "invariant violated: %s\n", what);
        abort();
    }
}

static void decode(char *s)
{
    for (char *p = s; *p; p++)
        if (*p == '+')
            *p = ' ';
    MHD_http_unescape(s);
}

static void split(struct args *a, const uint8_t *data, size_t size)
{
    a->buf = malloc(size + 1);
    check(a->buf != NULL, "malloc");
    memcpy(a->buf, data, size);
    a->buf[size] = '\0';
    a->n = 0;
    for (char *part = a->buf, *next; part && a->n < MAX_ARGS; part = next) {
        next = strchr(part, '&');
        if (next)
            *next++ = '\0';
        if (!*part)
            continue;
        char *eq = strchr(part, '=');
        if (eq)
            *eq++ = '\0';
        decode(part);
        if (eq)
            decode(eq);
        a->names[a->n] = part;
        a->values[a->n] = eq;
        a->n++;
    }
}

static const char *lookup(void *ud, const char *name)
{
    const struct args *a = ud;
    for (size_t i = 0; i < a->n; i++)
        if (strcmp(a->names[i], name) == 0)
            return a->values[i];
    return NULL;
}

/* db/history_store.c's cursor rule, written again: 1..19 digits, 1..INT64_MAX. */
static int reference_cursor(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 19 || strspn(s, "0123456789") != n)
        return 0;
    if (n == 19 && strcmp(s, "9223372036854775807") > 0)
        return 0;
    return strtoull(s, NULL, 10) >= 1;
}

static int text_ok(const char *s, size_t max, int no_controls)
{
    size_t n = strlen(s);
    if (n == 0 || n > max)
        return 0;
    for (const unsigned char *p = (const unsigned char *)s; no_controls && *p; p++)
        if (*p < 0x20 || *p == 0x7f)
            return 0;
    return 1;
}

/* A refusal names one of the parameters it reads. */
static void check_message(const char *msg, const char *const *names)
{
    for (size_t i = 0; names[i]; i++) {
        size_t n = strlen(names[i]);
        if (strncmp(msg, names[i], n) == 0 && msg[n] == ' ')
            return;
    }
    check(0, "a refusal's message starts with the name of the parameter");
}

static void check_records(const struct console_query *q)
{
    static const char *const names[] = {"q", "mapping", "limit", "after", NULL};
    struct record_query r1, r2;
    const char *m1 = console_query_records(q, &r1), *m2 = console_query_records(q, &r2);
    check((m1 == NULL) == (m2 == NULL), "records: the same answer twice");
    if (m1) {
        check_message(m1, names);
        return;
    }
    check(r1.limit == r2.limit && r1.mapping_id == r2.mapping_id, "records: deterministic");
    check(r1.limit >= 1 && r1.limit <= 100, "records: limit 1..100");
    check(r1.mapping_id >= 0, "records: mapping id not negative");
    check(!r1.q || text_ok(r1.q, HISTORY_QUERY_MAX, 1), "records: q 1..200 without controls");
    check(!r1.after || reference_cursor(r1.after), "records: db/ takes the after cursor");
}

static void check_timeline(const struct console_query *q)
{
    static const char *const names[] = {"limit", "before", NULL};
    int limit = 0;
    const char *before = NULL;
    const char *m = console_query_timeline(q, &limit, &before);
    if (m) {
        check_message(m, names);
        return;
    }
    check(limit >= 1 && limit <= 200, "timeline: limit 1..200");
    check(!before || reference_cursor(before), "timeline: db/ takes the before cursor");
}

static void check_conflicts(const struct console_query *q)
{
    static const char *const names[] = {"mapping_id", "salesforce_id", "hubspot_id",
                                        "field",      "winner",        "record",
                                        "before",     "limit",         NULL};
    struct conflict_filter f;
    const char *m = console_query_conflicts(q, &f);
    if (m) {
        check_message(m, names);
        return;
    }
    check(f.limit >= 1 && f.limit <= 500, "conflicts: limit 1..500");
    check(f.mapping_id >= 0 && f.before_id >= 0, "conflicts: ids not negative");
    const char *texts[] = {f.salesforce_id, f.hubspot_id, f.field, f.record};
    for (size_t i = 0; i < 4; i++)
        check(!texts[i] || text_ok(texts[i], 64, 0), "conflicts: ids and field 1..64 bytes");
    check(!f.winner || strcmp(f.winner, "salesforce") == 0 || strcmp(f.winner, "hubspot") == 0,
          "conflicts: winner salesforce or hubspot");
}

static void check_health(const struct console_query *q, const struct args *a)
{
    static const char *const names[] = {"minutes", NULL};
    int minutes = 0;
    const char *m = console_query_health(q, &minutes);
    if (m) {
        check_message(m, names);
        return;
    }
    check(minutes >= HEALTH_MINUTES_MIN && minutes <= HEALTH_MINUTES_MAX, "health: minutes range");
    const char *arg = lookup((void *)a, "minutes");
    check(!arg || (strspn(arg, "0123456789") == strlen(arg) && atoi(arg) == minutes),
          "health: minutes only as plain digits, read as written");
    check(arg || minutes == HEALTH_MINUTES_DEFAULT, "health: the default without minutes");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 4096)
        return 0;
    struct args a;
    split(&a, data, size);
    struct console_query q = {.arg = lookup, .ud = &a};
    check_records(&q);
    check_timeline(&q);
    check_conflicts(&q);
    check_health(&q, &a);
    free(a.buf);
    return 0;
}
