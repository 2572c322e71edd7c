/* console_static.c: serves the embedded console (handlers/console_static.h).
 *
 * The path is looked up exactly in the generated table, never joined to a directory, so ".."
 * segments, encoded slashes ("%2F"), NUL bytes and other hostile paths cannot reach a file: a
 * name that is not plain (console_asset_find) is not looked up at all and answers 404. Bodies are
 * the build's bytes (gzip included: compressed at build time, see scripts/embed_assets.cmake).
 * Must not: read the file system, or decide anything from the query string. */
#include "handlers/console_static.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define CONSOLE_PATH_MAX 128

static const struct {
    const char *ext;
    const char *type;
} content_types[] = {
    {".html", "text/html; charset=utf-8"},
    {".js", "text/javascript; charset=utf-8"},
    {".mjs", "text/javascript; charset=utf-8"},
    {".css", "text/css; charset=utf-8"},
    {".svg", "image/svg+xml"},
    {".png", "image/png"},
    {".ico", "image/x-icon"},
    {".json", "application/json"},
    {".txt", "text/plain; charset=utf-8"},
    {".woff2", "font/woff2"},
};

const char *console_content_type(const char *path)
{
    const char *dot = path ? strrchr(path, '.') : NULL;
    if (dot && !strchr(dot, '/'))
        for (size_t i = 0; i < sizeof content_types / sizeof content_types[0]; i++)
            if (strcasecmp(dot, content_types[i].ext) == 0)
                return content_types[i].type;
    return "application/octet-stream";
}

/* ---- header parsing ---- */

static const char *skip_ws(const char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    return s;
}

/* The q value of one Accept-Encoding element's parameters ("; q=0.5"): 0..1000. */
static int element_q(const char *params, size_t len)
{
    const char *end = params + len;
    for (const char *p = params; p < end; p++) {
        if (*p != ';')
            continue;
        const char *q = skip_ws(p + 1);
        if (q + 2 > end || (q[0] != 'q' && q[0] != 'Q') || q[1] != '=')
            continue;
        q += 2;
        int v = 0, scale = 1000;
        if (q < end && *q == '1')
            return 1000;
        if (q < end && *q == '0')
            q++;
        if (q < end && *q == '.')
            for (q++; q < end && *q >= '0' && *q <= '9' && scale > 1; q++) {
                scale /= 10;
                v += (*q - '0') * scale;
            }
        return v;
    }
    return 1000;
}

bool console_accepts_gzip(const char *accept_encoding)
{
    if (!accept_encoding)
        return false;
    int gzip_q = -1, star_q = -1;
    const char *s = accept_encoding;
    while (*s) {
        s = skip_ws(s);
        size_t elen = strcspn(s, ",");
        size_t nlen = strcspn(s, ";, \t");
        if (nlen > elen)
            nlen = elen;
        int q = element_q(s + nlen, elen - nlen);
        if ((nlen == 4 && strncasecmp(s, "gzip", 4) == 0) ||
            (nlen == 6 && strncasecmp(s, "x-gzip", 6) == 0))
            gzip_q = q > gzip_q ? q : gzip_q;
        else if (nlen == 1 && s[0] == '*')
            star_q = q;
        s += elen;
        if (*s == ',')
            s++;
    }
    return gzip_q > 0 || (gzip_q < 0 && star_q > 0);
}

bool console_etag_matches(const char *if_none_match, const char *etag)
{
    if (!if_none_match || !etag)
        return false;
    size_t elen = strlen(etag);
    const char *s = if_none_match;
    while (*s) {
        s = skip_ws(s);
        size_t len = strcspn(s, ",");
        size_t tlen = len;
        while (tlen > 0 && (s[tlen - 1] == ' ' || s[tlen - 1] == '\t'))
            tlen--;
        if (tlen == 1 && s[0] == '*')
            return true;
        const char *tag = s;
        if (tlen > 2 && tag[0] == 'W' && tag[1] == '/') {
            tag += 2;
            tlen -= 2;
        }
        if (tlen == elen && memcmp(tag, etag, elen) == 0)
            return true;
        s += len;
        if (*s == ',')
            s++;
    }
    return false;
}

/* ---- lookup ---- */

static bool plain_name(const char *rel)
{
    size_t n = strlen(rel);
    if (n == 0 || n > CONSOLE_PATH_MAX)
        return false;
    bool part_start = true;
    for (size_t i = 0; i < n; i++) {
        char c = rel[i];
        bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
        if (c == '/') {
            if (part_start) /* leading slash or "//" */
                return false;
            part_start = true;
            continue;
        }
        if (!alnum && c != '.' && c != '_' && c != '-')
            return false;
        if (part_start && c == '.') /* ".", "..", hidden files */
            return false;
        part_start = false;
    }
    return !part_start; /* no trailing slash */
}

const struct console_asset *console_asset_find(const char *rel)
{
    if (!rel || !plain_name(rel))
        return NULL;
    for (size_t i = 0; i < console_assets_count; i++)
        if (strcmp(console_assets[i].path, rel) == 0)
            return &console_assets[i];
    return NULL;
}

void console_resolve(const char *raw_path, const char *accept_encoding, const char *if_none_match,
                     struct console_answer *out)
{
    memset(out, 0, sizeof *out);
    out->status = 404;
    if (!raw_path)
        return;
    if (strcmp(raw_path, "/ui") == 0 || strcmp(raw_path, "/admin") == 0 ||
        strcmp(raw_path, "/ui/") == 0 || strcmp(raw_path, "/admin/") == 0) {
        out->status = 302;
        out->location = "/";
        return;
    }
    const char *rel = NULL;
    if (strcmp(raw_path, "/") == 0)
        rel = "index.html";
    else if (strncmp(raw_path, "/console/", 9) == 0)
        rel = raw_path + 9;
    const struct console_asset *a = console_asset_find(rel);
    if (!a)
        return;
    out->asset = a;
    out->content_type = console_content_type(a->path);
    out->cache_control = strcmp(a->path, "index.html") == 0 ? "no-cache" : "max-age=300";
    out->gzip = a->gz && console_accepts_gzip(accept_encoding);
    /* the gzip copy is another representation, so it has its own strong ETag */
    size_t tl = strlen(a->etag);
    if (out->gzip && tl >= 2 && tl + 3 < sizeof out->etag)
        snprintf(out->etag, sizeof out->etag, "%.*s-gz\"", (int)(tl - 1), a->etag);
    else
        snprintf(out->etag, sizeof out->etag, "%s", a->etag);
    if (console_etag_matches(if_none_match, out->etag)) {
        out->status = 304;
        return;
    }
    out->status = 200;
    out->body = out->gzip ? a->gz : a->data;
    out->len = out->gzip ? a->gz_len : a->len;
}

/* ---- handlers ---- */

static int respond(struct http_request *req)
{
    struct console_answer ans;
    console_resolve(req->path, http_header(req, "Accept-Encoding"),
                    http_header(req, "If-None-Match"), &ans);
    /* the security headers are added by the daemon for every ROUTE_CONSOLE answer */
    const char *headers[16];
    size_t n = 0;
    if (ans.status == 404)
        return http_respond_error(req, 404, "not_found",
                                  "no such console file; the console starts at /");
    if (ans.status == 302) {
        headers[n++] = "Location";
        headers[n++] = ans.location;
        headers[n] = NULL;
        return http_respond_with_headers(req, 302, NULL, "", 0, headers);
    }
    headers[n++] = "ETag";
    headers[n++] = ans.etag;
    headers[n++] = "Cache-Control";
    headers[n++] = ans.cache_control;
    if (ans.asset->gz) {
        headers[n++] = "Vary";
        headers[n++] = "Accept-Encoding";
    }
    if (ans.status == 200 && ans.gzip) {
        headers[n++] = "Content-Encoding";
        headers[n++] = "gzip";
    }
    headers[n] = NULL;
    if (ans.status == 304)
        return http_respond_with_headers(req, 304, NULL, "", 0, headers);
    return http_respond_with_headers(req, 200, ans.content_type, (const char *)ans.body, ans.len,
                                     headers);
}

int handle_console_index(struct http_request *req)
{
    return respond(req);
}

int handle_console_file(struct http_request *req)
{
    return respond(req);
}

int handle_console_redirect(struct http_request *req)
{
    return respond(req);
}
