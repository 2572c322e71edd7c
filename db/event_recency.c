/* event_recency.c: the newest CRM notification and the sweep's changes of one object (see
 * event_recency.h). One statement; the object's names are a text[] parameter. */
#include "db/event_recency.h"

#include "base/strbuf.h"
#include "db/pool.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char recency_sql[] =
    "SELECT extract(epoch FROM now() - max(received_at) FILTER (WHERE NOT ("
    "  idempotency_key LIKE 'sweep:%' OR idempotency_key LIKE 'synkro-%'"
    "  OR idempotency_key LIKE 'import:%')))::float8,"
    " count(*) FILTER (WHERE idempotency_key LIKE 'sweep:%'"
    "  AND received_at > now() - $3::bigint * interval '1 second')"
    " FROM change_events WHERE source = $1 AND object_type = ANY($2::text[])";

/* A text[] literal of the names: {"a","b"} with quotes and backslashes escaped. */
static char *array_literal(const char *const *names, size_t n)
{
    struct strbuf sb = STRBUF_INIT;
    strbuf_putc(&sb, '{');
    for (size_t i = 0; i < n; i++) {
        strbuf_puts(&sb, i ? ",\"" : "\"");
        for (const char *p = names[i]; *p; p++) {
            if (*p == '"' || *p == '\\')
                strbuf_putc(&sb, '\\');
            strbuf_putc(&sb, *p);
        }
        strbuf_putc(&sb, '"');
    }
    strbuf_putc(&sb, '}');
    if (sb.failed) {
        strbuf_free(&sb);
        return NULL;
    }
    return strbuf_detach(&sb, NULL);
}

int event_recency_get(PGconn *conn, const char *source, const char *const *names, size_t n,
                      long window_s, struct event_recency *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    char *arr = array_literal(names, n);
    if (!arr) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    char window[32];
    snprintf(window, sizeof window, "%ld", window_s);
    const char *params[] = {source, arr, window};
    PGresult *res = db_exec(conn, recency_sql, 3, params, err, errlen);
    free(arr);
    if (!res)
        return -1;
    out->any_notification = !PQgetisnull(res, 0, 0);
    if (out->any_notification)
        out->notification_age_s = strtod(PQgetvalue(res, 0, 0), NULL);
    out->sweep_changes = strtoll(PQgetvalue(res, 0, 1), NULL, 10);
    PQclear(res);
    return 0;
}
