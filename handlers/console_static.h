/* console_static.h: the browser console's files (console/ in the source tree), embedded in the
 * binary at build time by scripts/embed_assets.cmake, and the handlers that serve them:
 * GET / (index.html), GET /console/<file> and /console/<dir>/<file>, and /ui, /admin (302 to /).
 *
 * Each answer has its Content-Type from a table of extensions, a strong ETag (If-None-Match
 * answers 304), the gzip copy made at build time when Accept-Encoding allows it, Cache-Control
 * no-cache for index.html and max-age=300 for the rest (the console's security headers come from
 * the daemon: the routes are ROUTE_CONSOLE).
 * console_resolve decides the whole answer from the request line and three headers, without the
 * daemon, so a unit test can check every case. Must not: read files at run time, or serve any
 * path that is not exactly a name in the table. */
#ifndef SYNKRO_HANDLERS_CONSOLE_STATIC_H
#define SYNKRO_HANDLERS_CONSOLE_STATIC_H

#include "handlers/http_request.h"

#include <stdbool.h>
#include <stddef.h>

struct console_asset {
    const char *path;          /* relative to console/: "index.html", "pages/wizard.js" */
    const unsigned char *data; /* the file (NUL-terminated copy; len excludes the NUL) */
    size_t len;
    const unsigned char *gz; /* gzip -9 copy, NULL when it would not be smaller */
    size_t gz_len;
    const char *etag; /* "\"<16 hex digits of the SHA-256>\"" */
};

/* The generated table (build/generated/console_assets.c). */
extern const struct console_asset console_assets[];
extern const size_t console_assets_count;

struct console_answer {
    unsigned status; /* 200, 304, 302 or 404 */
    const struct console_asset *asset;
    const unsigned char *body; /* 200 only (borrowed from the table) */
    size_t len;
    const char *content_type;
    const char *cache_control;
    bool gzip;            /* the body is the gzip copy */
    const char *location; /* 302 only */
    char etag[40];        /* the representation's ETag ("" for 302/404) */
};

/* The Content-Type for a file name by its extension; application/octet-stream when unknown. */
const char *console_content_type(const char *path);
/* True when Accept-Encoding allows gzip (gzip or x-gzip or * with a q above 0). */
bool console_accepts_gzip(const char *accept_encoding);
/* True when If-None-Match (a list of entity tags, or *) matches etag (weak comparison). */
bool console_etag_matches(const char *if_none_match, const char *etag);
/* The asset of a path relative to console/; NULL when none, or when the path is not a plain
 * name (only letters, digits, '.', '_', '-' and single '/' between parts none of which starts
 * with '.'; at most 128 bytes). */
const struct console_asset *console_asset_find(const char *rel);
/* Decides the answer to GET raw_path (the path as received, without the query). */
void console_resolve(const char *raw_path, const char *accept_encoding, const char *if_none_match,
                     struct console_answer *out);

int handle_console_index(struct http_request *req);
int handle_console_file(struct http_request *req);
int handle_console_redirect(struct http_request *req);

#endif
