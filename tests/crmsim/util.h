/* util.h: small shared helpers for crmsim (buffers, time, URL/form decoding, encodings, JSON
 * access).
 *
 * Owns nothing global. Allocation helpers (x*) abort the process with a message when memory runs
 * out: crmsim bounds every collection it keeps (see README "Limits"), so running out of memory is a
 * bug or a misconfigured host, never the answer to a bad request. Everything here is thread-safe
 * (no shared state; randomness comes from OpenSSL's RAND_bytes). Must not: log, know about either
 * CRM, or touch struct sim. */
#ifndef SYNKRO_TESTS_CRMSIM_UTIL_H
#define SYNKRO_TESTS_CRMSIM_UTIL_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Growable NUL-terminated byte buffer; caller frees with buf_free() or takes data with
 * buf_detach(). */
struct buf {
    char *data;
    size_t len;
    size_t cap;
};

void buf_append(struct buf *b, const void *p, size_t n);
void buf_puts(struct buf *b, const char *s);
void buf_putc(struct buf *b, char c);
void buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Returns the heap string (never NULL; caller frees with free()) and empties b. */
char *buf_detach(struct buf *b, size_t *len);
void buf_free(struct buf *b);

void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
/* Copies s; xstrdup(NULL) returns NULL. Caller frees. */
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* Grows *arr (element size elem) so that it can hold at least need elements. */
void xgrow(void *arr_ptr, size_t *cap, size_t need, size_t elem);

/* Wall clock and monotonic clock in milliseconds. */
int64_t util_now_ms(void);
int64_t util_mono_ms(void);

/* "2024-05-02T11:53:53.123Z" (HubSpot style); out needs 32 bytes. */
void util_fmt_iso_ms(int64_t ms, char *out, size_t outlen);
/* "2024-05-02T11:53:53.000+0000" (Salesforce REST style); out needs 32 bytes. */
void util_fmt_sf_datetime(int64_t ms, char *out, size_t outlen);
/* "2024-05-02T11:53:53.000Z" (Salesforce SOAP outbound style). */
void util_fmt_soap_datetime(int64_t ms, char *out, size_t outlen);
/* "2024-05-02" from epoch ms (UTC). */
void util_fmt_date(int64_t ms, char *out, size_t outlen);
/* Parses ISO 8601 date-times: YYYY-MM-DDTHH:MM[:SS[.fff]][Z|+HH:MM|+HHMM|-…]; a bare time zone-less
 * value is UTC. 0 on success. */
int util_parse_datetime(const char *s, int64_t *ms);
/* Parses exactly YYYY-MM-DD (UTC midnight). 0 on success. */
int util_parse_date(const char *s, int64_t *ms);
/* Strict integer / finite double parse of the whole string. 0 on success. */
int util_parse_int64(const char *s, int64_t *out);
int util_parse_double(const char *s, double *out);

/* Percent-decodes s[0..len) (plus_is_space: '+' becomes ' '). Returns a heap string (caller frees)
 * or NULL when an escape is malformed or decodes to a NUL byte. */
char *util_url_decode(const char *s, size_t len, bool plus_is_space);

/* Ordered list of key/value string pairs (query strings, forms, headers). */
struct kv {
    char *key;
    char *value;
};
struct kvlist {
    struct kv *items;
    size_t n;
    size_t cap;
};
void kvlist_add(struct kvlist *l, const char *key, const char *value);
/* First value for key (exact match), or NULL. */
const char *kvlist_get(const struct kvlist *l, const char *key);
/* First value for key (ASCII case-insensitive), or NULL. */
const char *kvlist_get_ci(const struct kvlist *l, const char *key);
void kvlist_free(struct kvlist *l);
/* Parses "a=1&b=x%20y" into l (appending). Returns 0, or -1 on a malformed escape. */
int util_parse_form(const char *s, size_t len, struct kvlist *l);

/* Random hex string of nbytes random bytes (out needs 2*nbytes+1). */
void util_random_hex(char *out, size_t nbytes);
/* Random RFC 4122 version-4 UUID; out needs 37 bytes. */
void util_uuid(char *out);
/* Base64 (standard, padded) or base64url (unpadded) encoding; caller frees. */
char *util_base64_encode(const unsigned char *p, size_t n, bool url);
/* Decodes base64url (padding optional). Returns heap bytes (caller frees) or NULL when malformed.
 */
unsigned char *util_base64url_decode(const char *s, size_t len, size_t *outlen);
/* Lowercase hex of n bytes into out (2n+1 bytes). */
void util_hex(const unsigned char *p, size_t n, char *out);

bool util_streq_ci(const char *a, const char *b);
/* Stable merge sort of n pointers with a context-aware comparator. */
void util_sort(void **items, size_t n, int (*cmp)(const void *a, const void *b, void *ctx),
               void *ctx);
/* Case-insensitive glob match supporting '*' (any run) and, when sql_like, '%' and '_' instead. */
bool util_glob_ci(const char *pattern, const char *text, bool sql_like);
bool util_starts_with(const char *s, const char *prefix);

/* JSON helpers (json-c). They never take ownership of their arguments unless said. */
/* The string member key of o, or NULL when absent or not a string. */
const char *json_get_str(json_object *o, const char *key);
/* The member key of o, or NULL. */
json_object *json_get(json_object *o, const char *key);
/* Parses exactly one JSON value from buf (no trailing garbage). Returns a new object (caller puts)
 * or NULL and sets err. A JSON null document yields NULL with *is_null = true. */
json_object *json_parse_buf(const char *buf, size_t len, bool *is_null, char *err, size_t errlen);
/* Serialises o compactly (no slash escaping) into a heap string (caller frees). */
char *json_to_heap(json_object *o, size_t *len);
/* Helpers to add members without boilerplate. */
void json_set_str(json_object *o, const char *key, const char *value);
void json_set_int(json_object *o, const char *key, int64_t value);
void json_set_bool(json_object *o, const char *key, bool value);
/* A new array of strings split from s by sep (empty items skipped). */
json_object *json_split_list(const char *s, char sep);

#endif
