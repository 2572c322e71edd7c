/* api_common.c: small pieces shared by the admin API handlers (see api_common.h).
 *
 * Owns nothing beyond one call. Query and path values are validated here before any handler
 * passes them on as SQL parameters. Must not talk SQL or know any one resource's shape. */
#include "handlers/api_common.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int api_parse_int64(const char *s, long long min, long long max, long long *out)
{
    if (!s || !*s)
        return -1;
    errno = 0;
    char *end;
    long long v = strtoll(s, &end, 10);
    if (errno || *end || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

int api_parse_id(const char *s, int64_t *out)
{
    long long v;
    if (api_parse_int64(s, 1, INT64_MAX, &v) < 0)
        return -1;
    *out = v;
    return 0;
}

int api_respond_db_unavailable(struct http_request *req, const char *err)
{
    char msg[400];
    snprintf(msg, sizeof msg, "database unavailable: %s", err);
    return http_respond_error(req, 503, "unavailable", msg);
}

int api_respond_json_owned(struct http_request *req, unsigned status, json_object *body)
{
    int rc = http_respond_json(req, status, body);
    json_object_put(body);
    return rc;
}

void api_request_actor(const struct http_request *req, char *out, size_t outlen)
{
    /* a named user, or anyone signed in to the console, is who they are */
    if (req->actor[0] && (req->auth_via == HTTP_AUTH_SESSION || strcmp(req->actor, "admin") != 0)) {
        snprintf(out, outlen, "%s", req->actor);
        return;
    }
    const char *a = http_header(req, "X-Synkro-Actor");
    size_t n = a ? strlen(a) : 0;
    bool ok = n > 0 && n < 64;
    for (size_t i = 0; ok && i < n; i++)
        ok = a[i] > 0x20 && a[i] < 0x7f;
    snprintf(out, outlen, "%s", ok ? a : "admin");
}
