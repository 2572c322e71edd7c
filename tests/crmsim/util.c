/* util.c: shared helpers for crmsim: growable buffers, allocation, clocks, ISO 8601 formatting and
 * parsing, URL/form decoding, base64/hex, random ids and json-c conveniences.
 *
 * Stateless and thread-safe. Allocation failure aborts (see util.h for why). */
#include "tests/crmsim/util.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void oom(void)
{
    static const char msg[] = "crmsim: out of memory\n";
    fwrite(msg, 1, sizeof msg - 1, stderr);
    abort();
}

void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        oom();
    return p;
}

void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p)
        oom();
    return p;
}

void *xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q)
        oom();
    return q;
}

char *xstrdup(const char *s)
{
    if (!s)
        return NULL;
    return xstrndup(s, strlen(s));
}

char *xstrndup(const char *s, size_t n)
{
    char *p = xmalloc(n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

void xgrow(void *arr_ptr, size_t *cap, size_t need, size_t elem)
{
    void **arr = arr_ptr;
    if (need <= *cap)
        return;
    size_t c = *cap ? *cap : 8;
    while (c < need) {
        if (c > SIZE_MAX / 2 / elem)
            oom();
        c *= 2;
    }
    *arr = xrealloc(*arr, c * elem);
    *cap = c;
}

/* ---- buffers ---- */

void buf_append(struct buf *b, const void *p, size_t n)
{
    if (n > SIZE_MAX / 2 - b->len)
        oom();
    if (b->len + n + 1 > b->cap) {
        size_t c = b->cap ? b->cap : 128;
        while (c < b->len + n + 1)
            c *= 2;
        b->data = xrealloc(b->data, c);
        b->cap = c;
    }
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void buf_puts(struct buf *b, const char *s)
{
    buf_append(b, s, strlen(s));
}

void buf_putc(struct buf *b, char c)
{
    buf_append(b, &c, 1);
}

void buf_printf(struct buf *b, const char *fmt, ...)
{
    char small[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n < sizeof small) {
        buf_append(b, small, (size_t)n);
        return;
    }
    char *big = xmalloc((size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    buf_append(b, big, (size_t)n);
    free(big);
}

char *buf_detach(struct buf *b, size_t *len)
{
    if (!b->data)
        buf_append(b, "", 0);
    char *p = b->data;
    if (len)
        *len = b->len;
    b->data = NULL;
    b->len = b->cap = 0;
    return p;
}

void buf_free(struct buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

/* ---- time ---- */

int64_t util_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t util_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void split_ms(int64_t ms, struct tm *tm, int *frac)
{
    int64_t sec = ms / 1000;
    int64_t rem = ms % 1000;
    if (rem < 0) {
        rem += 1000;
        sec -= 1;
    }
    time_t t = (time_t)sec;
    gmtime_r(&t, tm);
    *frac = (int)rem;
}

void util_fmt_iso_ms(int64_t ms, char *out, size_t outlen)
{
    struct tm tm;
    int frac;
    split_ms(ms, &tm, &frac);
    snprintf(out, outlen, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, frac);
}

void util_fmt_sf_datetime(int64_t ms, char *out, size_t outlen)
{
    struct tm tm;
    int frac;
    split_ms(ms, &tm, &frac);
    snprintf(out, outlen, "%04d-%02d-%02dT%02d:%02d:%02d.%03d+0000", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, frac);
}

void util_fmt_soap_datetime(int64_t ms, char *out, size_t outlen)
{
    util_fmt_iso_ms(ms, out, outlen);
}

void util_fmt_date(int64_t ms, char *out, size_t outlen)
{
    struct tm tm;
    int frac;
    split_ms(ms, &tm, &frac);
    snprintf(out, outlen, "%04d-%02d-%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
}

static int read_digits(const char **p, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)(*p)[i]))
            return -1;
        v = v * 10 + ((*p)[i] - '0');
    }
    *p += n;
    *out = v;
    return 0;
}

static int days_in_month(int y, int m)
{
    static const int d[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
        return 29;
    return d[m - 1];
}

static int parse_ymd(const char **p, struct tm *tm)
{
    int y, mo, d;
    if (read_digits(p, 4, &y) || **p != '-')
        return -1;
    (*p)++;
    if (read_digits(p, 2, &mo) || **p != '-')
        return -1;
    (*p)++;
    if (read_digits(p, 2, &d))
        return -1;
    if (y < 1700 || mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo))
        return -1;
    memset(tm, 0, sizeof *tm);
    tm->tm_year = y - 1900;
    tm->tm_mon = mo - 1;
    tm->tm_mday = d;
    return 0;
}

int util_parse_date(const char *s, int64_t *ms)
{
    struct tm tm;
    const char *p = s;
    if (!s || parse_ymd(&p, &tm) || *p)
        return -1;
    *ms = (int64_t)timegm(&tm) * 1000;
    return 0;
}

int util_parse_datetime(const char *s, int64_t *ms)
{
    struct tm tm;
    const char *p = s;
    if (!s || parse_ymd(&p, &tm))
        return -1;
    if (*p != 'T' && *p != 't' && *p != ' ')
        return -1;
    p++;
    int h, mi, sec = 0, frac = 0;
    if (read_digits(&p, 2, &h) || *p != ':')
        return -1;
    p++;
    if (read_digits(&p, 2, &mi))
        return -1;
    if (*p == ':') {
        p++;
        if (read_digits(&p, 2, &sec))
            return -1;
        if (*p == '.') {
            p++;
            int digits = 0;
            while (isdigit((unsigned char)*p)) {
                if (digits < 3)
                    frac = frac * 10 + (*p - '0');
                digits++;
                p++;
            }
            if (digits == 0 || digits > 9)
                return -1;
            for (int i = digits; i < 3; i++)
                frac *= 10;
        }
    }
    if (h > 23 || mi > 59 || sec > 60)
        return -1;
    int offset_min = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int sign = *p == '-' ? -1 : 1;
        p++;
        int oh, om;
        if (read_digits(&p, 2, &oh))
            return -1;
        if (*p == ':')
            p++;
        if (read_digits(&p, 2, &om))
            return -1;
        if (oh > 23 || om > 59)
            return -1;
        offset_min = sign * (oh * 60 + om);
    }
    if (*p)
        return -1;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = sec;
    int64_t t = (int64_t)timegm(&tm);
    t -= (int64_t)offset_min * 60;
    *ms = t * 1000 + frac;
    return 0;
}

int util_parse_int64(const char *s, int64_t *out)
{
    if (!s || !*s || isspace((unsigned char)*s))
        return -1;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || *end)
        return -1;
    *out = v;
    return 0;
}

int util_parse_double(const char *s, double *out)
{
    if (!s || !*s || isspace((unsigned char)*s))
        return -1;
    /* Only plain decimal notation: no hex floats, inf or nan. */
    for (const char *p = s; *p; p++) {
        if (!isdigit((unsigned char)*p) && !strchr("+-.eE", *p))
            return -1;
    }
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || *end || !isfinite(v))
        return -1;
    *out = v;
    return 0;
}

/* ---- URL decoding ---- */

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

char *util_url_decode(const char *s, size_t len, bool plus_is_space)
{
    char *out = xmalloc(len + 1);
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (c == '%') {
            if (i + 2 >= len) {
                free(out);
                return NULL;
            }
            int hi = hexval((unsigned char)s[i + 1]);
            int lo = hexval((unsigned char)s[i + 2]);
            if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
                free(out);
                return NULL;
            }
            out[o++] = (char)(hi * 16 + lo);
            i += 2;
        } else if (c == '+' && plus_is_space) {
            out[o++] = ' ';
        } else if (c == '\0') {
            free(out);
            return NULL;
        } else {
            out[o++] = c;
        }
    }
    out[o] = '\0';
    return out;
}

void kvlist_add(struct kvlist *l, const char *key, const char *value)
{
    xgrow(&l->items, &l->cap, l->n + 1, sizeof *l->items);
    l->items[l->n].key = xstrdup(key);
    l->items[l->n].value = xstrdup(value ? value : "");
    l->n++;
}

const char *kvlist_get(const struct kvlist *l, const char *key)
{
    for (size_t i = 0; i < l->n; i++) {
        if (strcmp(l->items[i].key, key) == 0)
            return l->items[i].value;
    }
    return NULL;
}

const char *kvlist_get_ci(const struct kvlist *l, const char *key)
{
    for (size_t i = 0; i < l->n; i++) {
        if (util_streq_ci(l->items[i].key, key))
            return l->items[i].value;
    }
    return NULL;
}

void kvlist_free(struct kvlist *l)
{
    for (size_t i = 0; i < l->n; i++) {
        free(l->items[i].key);
        free(l->items[i].value);
    }
    free(l->items);
    l->items = NULL;
    l->n = l->cap = 0;
}

int util_parse_form(const char *s, size_t len, struct kvlist *l)
{
    size_t i = 0;
    while (i < len) {
        size_t start = i;
        while (i < len && s[i] != '&')
            i++;
        size_t end = i;
        if (i < len)
            i++;
        if (end == start)
            continue;
        size_t eq = start;
        while (eq < end && s[eq] != '=')
            eq++;
        char *k = util_url_decode(s + start, eq - start, true);
        char *v = eq < end ? util_url_decode(s + eq + 1, end - eq - 1, true) : xstrdup("");
        if (!k || !v) {
            free(k);
            free(v);
            return -1;
        }
        kvlist_add(l, k, v);
        free(k);
        free(v);
    }
    return 0;
}

/* ---- encodings and randomness ---- */

void util_random_hex(char *out, size_t nbytes)
{
    unsigned char tmp[64];
    while (nbytes > 0) {
        size_t n = nbytes > sizeof tmp ? sizeof tmp : nbytes;
        if (RAND_bytes(tmp, (int)n) != 1) {
            fputs("crmsim: RAND_bytes failed\n", stderr);
            abort();
        }
        util_hex(tmp, n, out);
        out += 2 * n;
        nbytes -= n;
    }
    *out = '\0';
}

void util_uuid(char *out)
{
    unsigned char b[16];
    if (RAND_bytes(b, sizeof b) != 1) {
        fputs("crmsim: RAND_bytes failed\n", stderr);
        abort();
    }
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0],
             b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13],
             b[14], b[15]);
}

char *util_base64_encode(const unsigned char *p, size_t n, bool url)
{
    size_t outlen = 4 * ((n + 2) / 3) + 1;
    char *out = xmalloc(outlen);
    int w = n ? EVP_EncodeBlock((unsigned char *)out, p, (int)n) : 0;
    out[w] = '\0';
    if (url) {
        for (int i = 0; i < w; i++) {
            if (out[i] == '+')
                out[i] = '-';
            else if (out[i] == '/')
                out[i] = '_';
        }
        while (w > 0 && out[w - 1] == '=')
            out[--w] = '\0';
    }
    return out;
}

unsigned char *util_base64url_decode(const char *s, size_t len, size_t *outlen)
{
    while (len > 0 && s[len - 1] == '=')
        len--;
    if (len % 4 == 1)
        return NULL;
    size_t padded = (len + 3) / 4 * 4;
    char *tmp = xmalloc(padded + 1);
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (c == '-')
            c = '+';
        else if (c == '_')
            c = '/';
        else if (!isalnum((unsigned char)c)) {
            free(tmp);
            return NULL;
        }
        tmp[i] = c;
    }
    for (size_t i = len; i < padded; i++)
        tmp[i] = '=';
    tmp[padded] = '\0';
    unsigned char *out = xmalloc(padded / 4 * 3 + 1);
    int n = padded ? EVP_DecodeBlock(out, (unsigned char *)tmp, (int)padded) : 0;
    free(tmp);
    if (n < 0) {
        free(out);
        return NULL;
    }
    /* EVP_DecodeBlock counts padding bytes as output; remove them. */
    size_t pad = padded - len;
    *outlen = (size_t)n - pad;
    return out;
}

void util_hex(const unsigned char *p, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[p[i] >> 4];
        out[2 * i + 1] = digits[p[i] & 15];
    }
    out[2 * n] = '\0';
}

bool util_streq_ci(const char *a, const char *b)
{
    if (!a || !b)
        return false;
    while (*a && *b) {
        if (tolower((unsigned char)*a) != tolower((unsigned char)*b))
            return false;
        a++;
        b++;
    }
    return *a == *b;
}

static void merge_pass(void **src, void **dst, size_t lo, size_t mid, size_t hi,
                       int (*cmp)(const void *, const void *, void *), void *ctx)
{
    size_t i = lo, j = mid, k = lo;
    while (i < mid && j < hi)
        dst[k++] = cmp(src[j], src[i], ctx) < 0 ? src[j++] : src[i++];
    while (i < mid)
        dst[k++] = src[i++];
    while (j < hi)
        dst[k++] = src[j++];
}

void util_sort(void **items, size_t n, int (*cmp)(const void *a, const void *b, void *ctx),
               void *ctx)
{
    if (n < 2)
        return;
    void **tmp = xmalloc(n * sizeof *tmp);
    void **src = items, **dst = tmp;
    for (size_t width = 1; width < n; width *= 2) {
        for (size_t lo = 0; lo < n; lo += 2 * width) {
            size_t mid = lo + width < n ? lo + width : n;
            size_t hi = lo + 2 * width < n ? lo + 2 * width : n;
            merge_pass(src, dst, lo, mid, hi, cmp, ctx);
        }
        void **t = src;
        src = dst;
        dst = t;
    }
    if (src != items)
        memcpy(items, src, n * sizeof *items);
    free(tmp);
}

bool util_glob_ci(const char *pattern, const char *text, bool sql_like)
{
    char any = sql_like ? '%' : '*';
    const char *p = pattern, *t = text, *star_p = NULL, *star_t = NULL;
    while (*t) {
        if (*p == any) {
            star_p = ++p;
            star_t = t;
        } else if ((sql_like && *p == '_') ||
                   (*p && tolower((unsigned char)*p) == tolower((unsigned char)*t))) {
            p++;
            t++;
        } else if (star_p) {
            p = star_p;
            t = ++star_t;
        } else {
            return false;
        }
    }
    while (*p == any)
        p++;
    return *p == '\0';
}

bool util_starts_with(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* ---- JSON ---- */

const char *json_get_str(json_object *o, const char *key)
{
    json_object *v = json_get(o, key);
    if (!v || !json_object_is_type(v, json_type_string))
        return NULL;
    return json_object_get_string(v);
}

json_object *json_get(json_object *o, const char *key)
{
    json_object *v = NULL;
    if (!o || !json_object_is_type(o, json_type_object))
        return NULL;
    if (!json_object_object_get_ex(o, key, &v))
        return NULL;
    return v;
}

json_object *json_parse_buf(const char *buf, size_t len, bool *is_null, char *err, size_t errlen)
{
    if (is_null)
        *is_null = false;
    if (len > (size_t)INT32_MAX) {
        snprintf(err, errlen, "body too large");
        return NULL;
    }
    json_tokener *tok = json_tokener_new_ex(64);
    if (!tok) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
    json_object *o = json_tokener_parse_ex(tok, buf, (int)len);
    enum json_tokener_error jerr = json_tokener_get_error(tok);
    size_t used = json_tokener_get_parse_end(tok);
    if (jerr == json_tokener_continue) {
        /* Feed an empty terminator so a bare number at the end completes. */
        o = json_tokener_parse_ex(tok, "", 1);
        jerr = json_tokener_get_error(tok);
        used = len;
    }
    if (jerr != json_tokener_success) {
        snprintf(err, errlen, "invalid JSON: %s", json_tokener_error_desc(jerr));
        json_object_put(o);
        json_tokener_free(tok);
        return NULL;
    }
    for (size_t i = used; i < len; i++) {
        if (!isspace((unsigned char)buf[i]) && buf[i] != '\0') {
            snprintf(err, errlen, "invalid JSON: trailing data after the document");
            json_object_put(o);
            json_tokener_free(tok);
            return NULL;
        }
    }
    json_tokener_free(tok);
    if (!o && is_null)
        *is_null = true;
    if (!o)
        snprintf(err, errlen, "JSON document is null");
    return o;
}

char *json_to_heap(json_object *o, size_t *len)
{
    size_t n = 0;
    const char *s = json_object_to_json_string_length(
        o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &n);
    if (!s) {
        s = "null";
        n = 4;
    }
    if (len)
        *len = n;
    return xstrndup(s, n);
}

void json_set_str(json_object *o, const char *key, const char *value)
{
    json_object_object_add(o, key, value ? json_object_new_string(value) : NULL);
}

void json_set_int(json_object *o, const char *key, int64_t value)
{
    json_object_object_add(o, key, json_object_new_int64(value));
}

void json_set_bool(json_object *o, const char *key, bool value)
{
    json_object_object_add(o, key, json_object_new_boolean(value));
}

json_object *json_split_list(const char *s, char sep)
{
    json_object *arr = json_object_new_array();
    if (!s)
        return arr;
    const char *p = s;
    while (*p) {
        const char *e = strchr(p, sep);
        size_t n = e ? (size_t)(e - p) : strlen(p);
        while (n > 0 && isspace((unsigned char)*p)) {
            p++;
            n--;
        }
        while (n > 0 && isspace((unsigned char)p[n - 1]))
            n--;
        if (n > 0)
            json_object_array_add(arr, json_object_new_string_len(p, (int)n));
        if (!e)
            break;
        p = e + 1;
    }
    return arr;
}
