/* value_convert.c: one field value from Salesforce to HubSpot and back (see value_convert.h).
 *
 * Owns: the pair table (Salesforce type x HubSpot kind -> converters), the per-type number
 * rules, the decimal, boolean, date and datetime parsers and writers, the multi-select element
 * handling, and the error messages.
 *
 * Design: every entry point builds a struct conv (the two sides, the value map, the error and
 * the phrases naming the source and target for messages), handles the empty value once, and
 * calls the converter of its table row. The parsers are shared by conversion, outbound-message
 * text and canonical forms, so all three agree on what a value means.
 *
 * Must not: log, allocate anything the caller does not own on success, or touch global state. */
#include "model/value_convert.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* ---- errors ---- */

#define SHOW_MAX_CHARS 40                       /* characters of a value quoted in a message */
#define SHOW_BUF       (SHOW_MAX_CHARS * 4 + 4) /* worst case: 4-byte characters, "..." */

struct conv {
    const struct sf_field *sf;           /* NULL for HubSpot canonical forms */
    const struct hs_object_property *hs; /* NULL for Salesforce-only work */
    const struct mapping_field *mf;      /* NULL: no value map */
    struct value_error *err;             /* NULL: caller does not want the reason */
    char src[128];                       /* "Salesforce field Budget__c": who holds the value */
    char dst[128];                       /* "HubSpot property budget": where it goes */
};

static int conv_fail(struct conv *c, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int conv_fail(struct conv *c, const char *code, const char *fmt, ...)
{
    if (c->err != NULL) {
        va_list ap;

        snprintf(c->err->code, sizeof(c->err->code), "%s", code);
        va_start(ap, fmt);
        vsnprintf(c->err->message, sizeof(c->err->message), fmt, ap);
        va_end(ap);
    }
    return strcmp(code, "out_of_memory") == 0 ? VALUE_NOMEM : VALUE_INVALID;
}

static int conv_nomem(struct conv *c)
{
    return conv_fail(c, "out_of_memory", "Out of memory while converting a value of %s.", c->src);
}

/* Decodes one UTF-8 character of s (n bytes left, n >= 1). Returns the code point and sets
 * *len, or returns -1 with *len = 1 for an invalid sequence (overlong, surrogate, > U+10FFFF,
 * truncated). */
static long utf8_next(const unsigned char *s, size_t n, size_t *len)
{
    unsigned c0 = s[0];
    size_t need;
    unsigned long cp, min;

    *len = 1;
    if (c0 < 0x80)
        return (long)c0;
    if (c0 >= 0xC2 && c0 <= 0xDF) {
        need = 1, cp = c0 & 0x1Fu, min = 0x80;
    } else if (c0 >= 0xE0 && c0 <= 0xEF) {
        need = 2, cp = c0 & 0x0Fu, min = 0x800;
    } else if (c0 >= 0xF0 && c0 <= 0xF4) {
        need = 3, cp = c0 & 0x07u, min = 0x10000;
    } else {
        return -1;
    }
    if (need + 1 > n)
        return -1;
    for (size_t i = 1; i <= need; i++) {
        if ((s[i] & 0xC0u) != 0x80u)
            return -1;
        cp = (cp << 6) | (s[i] & 0x3Fu);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return -1;
    *len = need + 1;
    return (long)cp;
}

/* The value as quoted in a message: at most SHOW_MAX_CHARS characters (longer values keep
 * their first SHOW_MAX_CHARS - 3 and end in "..."), control characters and invalid bytes
 * shown as '?'. */
static const char *show(char out[SHOW_BUF], const char *value)
{
    const unsigned char *s = (const unsigned char *)(value != NULL ? value : "");
    size_t n = strlen((const char *)s), chars = 0, keep, o = 0, len;

    for (size_t i = 0; i < n; i += len, chars++)
        (void)utf8_next(s + i, n - i, &len);
    keep = chars > SHOW_MAX_CHARS ? SHOW_MAX_CHARS - 3 : chars;
    for (size_t i = 0, k = 0; k < keep; i += len, k++) {
        long cp = utf8_next(s + i, n - i, &len);

        if (cp < 0x20 || cp == 0x7F) {
            out[o++] = '?';
        } else {
            memcpy(out + o, s + i, len);
            o += len;
        }
    }
    if (keep < chars) {
        memcpy(out + o, "...", 3);
        o += 3;
    }
    out[o] = '\0';
    return out;
}

/* Characters (code points) of s[0..n); -1 if s is not UTF-8 or holds a NUL. */
static long text_chars(const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    long chars = 0;
    size_t len;

    for (size_t i = 0; i < n; i += len, chars++) {
        long cp = utf8_next(u + i, n - i, &len);

        if (cp <= 0)
            return -1;
    }
    return chars;
}

static int fail_invalid_text(struct conv *c, const char *v)
{
    char sh[SHOW_BUF];

    return conv_fail(c, "invalid_text",
                     "%s holds text that is not valid UTF-8 or contains a NUL character (\"%s\"). "
                     "Correct the text.",
                     c->src, show(sh, v));
}

static int fail_wrong_json(struct conv *c, json_object *v, const char *needs)
{
    char sh[SHOW_BUF];

    return conv_fail(c, "wrong_json_type",
                     "%s holds a JSON %s (%s) where a %s was expected. Check that the mapping "
                     "uses the field's current type.",
                     c->src, json_type_to_name(json_object_get_type(v)),
                     show(sh, json_object_to_json_string(v)), needs);
}

/* ---- decimal numbers ---- */

#define DEC_MAX_TEXT        100 /* digits kept from the input */
#define DEC_MAX_INT_DIGITS  18  /* Salesforce number fields hold at most 18 digits */
#define DEC_MAX_FRAC_DIGITS 30
#define DEC_BUF             (DEC_MAX_INT_DIGITS + DEC_MAX_FRAC_DIGITS + 8)
#define EXP_CAP             100000 /* exponents beyond this are out of range anyway */

enum dec_status { DEC_OK = 0, DEC_SYNTAX, DEC_RANGE };

/* value = (neg ? -1 : 1) * digits * 10^exp; digits without leading or trailing zeros. */
struct decimal {
    bool neg;
    char digits[DEC_MAX_TEXT + 1]; /* "" for zero */
    size_t n;
    long exp;
};

static bool is_digit(char ch)
{
    return ch >= '0' && ch <= '9';
}

/* [+-]? (d+ (. d*)? | . d+) ([eE] [+-]? d+)? with nothing around it. */
static enum dec_status dec_parse(const char *s, struct decimal *d)
{
    const char *p = s;
    bool any = false, dot = false, overflow = false;
    long frac = 0, e = 0;

    memset(d, 0, sizeof(*d));
    if (*p == '+' || *p == '-')
        d->neg = *p++ == '-';
    for (;; p++) {
        if (is_digit(*p)) {
            any = true;
            if (dot && frac < EXP_CAP)
                frac++;
            if (d->n == 0 && *p == '0')
                continue;
            if (d->n < DEC_MAX_TEXT)
                d->digits[d->n++] = *p;
            else
                overflow = true;
        } else if (*p == '.' && !dot) {
            dot = true;
        } else {
            break;
        }
    }
    if (!any)
        return DEC_SYNTAX;
    if (*p == 'e' || *p == 'E') {
        bool eneg = false;

        p++;
        if (*p == '+' || *p == '-')
            eneg = *p++ == '-';
        if (!is_digit(*p))
            return DEC_SYNTAX;
        for (; is_digit(*p); p++) {
            if (e < EXP_CAP)
                e = e * 10 + (*p - '0');
        }
        if (eneg)
            e = -e;
    }
    if (*p != '\0')
        return DEC_SYNTAX;
    if (overflow)
        return DEC_RANGE;
    d->exp = e - frac;
    while (d->n > 0 && d->digits[d->n - 1] == '0') {
        d->n--;
        d->exp++;
    }
    d->digits[d->n] = '\0';
    if (d->n == 0) {
        d->neg = false;
        d->exp = 0;
    }
    return DEC_OK;
}

/* Plain decimal text of d into out (DEC_BUF bytes); DEC_RANGE if it has too many digits. */
static enum dec_status dec_render(const struct decimal *d, char *out)
{
    long int_digits = (long)d->n + d->exp, frac_digits = d->exp < 0 ? -d->exp : 0;
    char *o = out;

    if (d->n == 0) {
        strcpy(out, "0");
        return DEC_OK;
    }
    if (int_digits > DEC_MAX_INT_DIGITS || frac_digits > DEC_MAX_FRAC_DIGITS)
        return DEC_RANGE;
    if (d->neg)
        *o++ = '-';
    if (int_digits <= 0) {
        *o++ = '0';
        *o++ = '.';
        for (long i = 0; i < -int_digits; i++)
            *o++ = '0';
        memcpy(o, d->digits, d->n);
        o += d->n;
    } else if (d->exp >= 0) {
        memcpy(o, d->digits, d->n);
        o += d->n;
        for (long i = 0; i < d->exp; i++)
            *o++ = '0';
    } else {
        memcpy(o, d->digits, (size_t)int_digits);
        o += int_digits;
        *o++ = '.';
        memcpy(o, d->digits + int_digits, d->n - (size_t)int_digits);
        o += d->n - (size_t)int_digits;
    }
    *o = '\0';
    return DEC_OK;
}

/* What each Salesforce number type accepts beyond the common digit limits. */
static const struct number_rule {
    enum sf_field_type type;
    bool integral;
    int64_t min, max;
} number_rules[] = {
    {SF_TYPE_INT, true, INT32_MIN, INT32_MAX},
    {SF_TYPE_LONG, true, -999999999999999999LL, 999999999999999999LL},
    {SF_TYPE_DOUBLE, false, 0, 0},
    {SF_TYPE_CURRENCY, false, 0, 0},
    {SF_TYPE_PERCENT, false, 0, 0},
};

static const struct number_rule *number_rule_of(const struct sf_field *sf)
{
    for (size_t i = 0; sf != NULL && i < COUNT(number_rules); i++) {
        if (number_rules[i].type == sf->type)
            return &number_rules[i];
    }
    return NULL;
}

/* Parses number text, checks it against c->sf's number rule (if any) and writes the canonical
 * text into canon (DEC_BUF bytes); *integral says whether the rule wants an integer. */
static int number_from_text(struct conv *c, const char *text, char *canon, bool *integral)
{
    const struct number_rule *rule = number_rule_of(c->sf);
    struct decimal d;
    enum dec_status st = dec_parse(text, &d);
    char sh[SHOW_BUF];

    *integral = rule != NULL && rule->integral;
    if (st == DEC_OK)
        st = dec_render(&d, canon);
    if (st == DEC_SYNTAX)
        return conv_fail(c, "not_a_number",
                         "%s holds \"%s\", which is not a number; %s needs digits such as 1234.5 "
                         "or -0.25. Correct the value.",
                         c->src, show(sh, text), c->dst);
    if (st == DEC_RANGE)
        return conv_fail(c, "out_of_range",
                         "%s holds \"%s\", which has more digits than a number field holds (%d "
                         "before and %d after the point). Use a smaller or shorter value.",
                         c->src, show(sh, text), DEC_MAX_INT_DIGITS, DEC_MAX_FRAC_DIGITS);
    if (!*integral)
        return VALUE_OK;
    if (d.exp < 0)
        return conv_fail(c, "not_integral",
                         "%s holds \"%s\", but Salesforce field %s (%s) takes whole numbers only. "
                         "Round the value.",
                         c->src, show(sh, text), c->sf->name, c->sf->type_name);
    long long v = strtoll(canon, NULL, 10);
    if (v < rule->min || v > rule->max)
        return conv_fail(c, "out_of_range",
                         "%s holds \"%s\", outside the range of Salesforce field %s (%" PRId64
                         " to %" PRId64 "). Use a smaller value.",
                         c->src, show(sh, text), c->sf->name, rule->min, rule->max);
    return VALUE_OK;
}

/* The shortest "%.*e" text that reads back as x (finite). */
static void double_shortest(double x, char *buf, size_t len)
{
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, len, "%.*e", prec - 1, x);
        if (strtod(buf, NULL) == x)
            return;
    }
}

/* Canonical number text of a Salesforce JSON value (integer, double or numeric string). */
static int number_from_json(struct conv *c, json_object *v, char *canon, bool *integral)
{
    switch (json_object_get_type(v)) {
    case json_type_int:
        return number_from_text(c, json_object_to_json_string(v), canon, integral);
    case json_type_double: {
        double x = json_object_get_double(v);
        char buf[48];

        if (isnan(x))
            return conv_fail(c, "not_a_number",
                             "%s holds NaN, which is not a number; %s needs digits. Correct the "
                             "value.",
                             c->src, c->dst);
        if (isinf(x))
            return conv_fail(c, "out_of_range",
                             "%s holds an infinite number, which %s cannot store. Correct the "
                             "value.",
                             c->src, c->dst);
        double_shortest(x, buf, sizeof(buf));
        return number_from_text(c, buf, canon, integral);
    }
    case json_type_string:
        return number_from_text(c, json_object_get_string(v), canon, integral);
    default:
        return fail_wrong_json(c, v, "number");
    }
}

/* The Salesforce REST value for canonical number text. */
static int number_to_json(struct conv *c, const char *canon, bool integral, json_object **out)
{
    if (integral)
        *out = json_object_new_int64(strtoll(canon, NULL, 10));
    else
        *out = json_object_new_double_s(strtod(canon, NULL), canon);
    return *out != NULL ? VALUE_OK : conv_nomem(c);
}

/* ---- booleans ---- */

static const struct bool_word {
    const char *word;
    bool value;
    bool xsd_only; /* only in outbound-message text (xsd:boolean) */
} bool_words[] = {
    {"true", true, false},
    {"false", false, false},
    {"1", true, true},
    {"0", false, true},
};

static int bool_from_text(struct conv *c, const char *text, bool xsd, bool *out)
{
    char sh[SHOW_BUF];

    for (size_t i = 0; i < COUNT(bool_words); i++) {
        if ((xsd || !bool_words[i].xsd_only) && strcasecmp(text, bool_words[i].word) == 0) {
            *out = bool_words[i].value;
            return VALUE_OK;
        }
    }
    return conv_fail(c, "not_a_boolean",
                     "%s holds \"%s\", which is not true or false; %s is a checkbox. Use true or "
                     "false.",
                     c->src, show(sh, text), c->dst);
}

/* ---- dates and datetimes (proleptic Gregorian, UTC) ---- */

#define MS_PER_DAY 86400000LL
#define MS_MIN     (-62135596800000LL) /* 0001-01-01T00:00:00.000Z */
#define MS_MAX     253402300799999LL   /* 9999-12-31T23:59:59.999Z */

/* Days since 1970-01-01 of y-m-d (H. Hinnant's algorithm). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;

    return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int *y, int *m, int *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;

    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = (int)(yoe + era * 400 + (*m <= 2));
}

static int days_in_month(int y, int m)
{
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

    return m == 2 && leap ? 29 : days[m - 1];
}

/* Reads exactly n digits. */
static bool read_digits(const char **p, int n, int *out)
{
    int v = 0;

    for (int i = 0; i < n; i++) {
        if (!is_digit((*p)[i]))
            return false;
        v = v * 10 + ((*p)[i] - '0');
    }
    *p += n;
    *out = v;
    return true;
}

/* "YYYY-MM-DD" at *p (advanced past it) as days since 1970; year 0001-9999. */
static bool read_date(const char **p, int64_t *days)
{
    int y, m, d;

    if (!read_digits(p, 4, &y) || *(*p)++ != '-' || !read_digits(p, 2, &m) || *(*p)++ != '-' ||
        !read_digits(p, 2, &d))
        return false;
    if (y < 1 || m < 1 || m > 12 || d < 1 || d > days_in_month(y, m))
        return false;
    *days = days_from_civil(y, m, d);
    return true;
}

/* A whole string "YYYY-MM-DD". */
static bool parse_date(const char *s, int64_t *days)
{
    return read_date(&s, days) && *s == '\0';
}

/* A whole ISO 8601 datetime with seconds and a zone, as milliseconds since 1970 UTC. */
static bool parse_iso_datetime(const char *s, int64_t *ms)
{
    int64_t days;
    int hh, mi, ss, ms_part = 0, oh = 0, om = 0, sign = 0;

    if (!read_date(&s, &days) || *s++ != 'T' || !read_digits(&s, 2, &hh) || *s++ != ':' ||
        !read_digits(&s, 2, &mi) || *s++ != ':' || !read_digits(&s, 2, &ss))
        return false;
    if (hh > 23 || mi > 59 || ss > 59)
        return false;
    if (*s == '.') {
        int nd = 0;

        for (s++; is_digit(*s); s++, nd++) {
            if (nd < 3)
                ms_part = ms_part * 10 + (*s - '0');
        }
        if (nd < 1 || nd > 9)
            return false;
        for (; nd < 3; nd++)
            ms_part *= 10;
    }
    if (*s == 'Z') {
        s++;
    } else if (*s == '+' || *s == '-') {
        sign = *s++ == '-' ? -1 : 1;
        if (!read_digits(&s, 2, &oh))
            return false;
        if (*s == ':' ? !(s++, read_digits(&s, 2, &om)) : is_digit(*s) && !read_digits(&s, 2, &om))
            return false;
        if (oh > 18 || om > 59)
            return false;
    } else {
        return false;
    }
    if (*s != '\0')
        return false;
    *ms = days * MS_PER_DAY + ((int64_t)hh * 3600 + mi * 60 + ss) * 1000 + ms_part -
          (int64_t)sign * ((int64_t)oh * 3600 + om * 60) * 1000;
    return *ms >= MS_MIN && *ms <= MS_MAX;
}

/* -?digits (at most 16) as epoch milliseconds within years 0001-9999. */
static bool parse_epoch_ms(const char *s, int64_t *ms)
{
    const char *p = s + (*s == '-');
    size_t n = strlen(p);

    if (n == 0 || n > 16 || strspn(p, "0123456789") != n)
        return false;
    *ms = strtoll(s, NULL, 10);
    return *ms >= MS_MIN && *ms <= MS_MAX;
}

static bool looks_like_epoch(const char *s)
{
    const char *p = s + (*s == '-');

    return *p != '\0' && strspn(p, "0123456789") == strlen(p);
}

static void format_date(int64_t days, char out[16])
{
    int y, m, d;

    civil_from_days(days, &y, &m, &d);
    snprintf(out, 16, "%04d-%02d-%02d", y, m, d);
}

/* "YYYY-MM-DDTHH:MM:SS.mmm" + zone ("Z" or "+0000"). */
static void format_datetime(int64_t ms, const char *zone, char out[40])
{
    int64_t days = ms / MS_PER_DAY, rem = ms % MS_PER_DAY;
    char date[16];

    if (rem < 0) {
        rem += MS_PER_DAY;
        days--;
    }
    format_date(days, date);
    snprintf(out, 40, "%sT%02d:%02d:%02d.%03d%s", date, (int)(rem / 3600000),
             (int)(rem / 60000 % 60), (int)(rem / 1000 % 60), (int)(rem % 1000), zone);
}

static int fail_bad_date(struct conv *c, const char *v)
{
    char sh[SHOW_BUF];

    return conv_fail(c, "bad_date",
                     "%s holds \"%s\", which is not a valid date; %s needs YYYY-MM-DD (HubSpot "
                     "also sends epoch milliseconds at midnight UTC). Correct the date.",
                     c->src, show(sh, v), c->dst);
}

static int fail_bad_datetime(struct conv *c, const char *v)
{
    char sh[SHOW_BUF];

    return conv_fail(c, "bad_datetime",
                     "%s holds \"%s\", which is not a valid date and time; %s needs ISO 8601 with "
                     "seconds and a zone, e.g. 2024-05-02T11:53:53Z. Correct the value.",
                     c->src, show(sh, v), c->dst);
}

/* A HubSpot date: "YYYY-MM-DD", or epoch ms / ISO datetime at exactly midnight UTC. */
static int hs_date_days(struct conv *c, const char *v, int64_t *days)
{
    int64_t ms;

    if (parse_date(v, days))
        return VALUE_OK;
    if ((looks_like_epoch(v) ? parse_epoch_ms(v, &ms) : parse_iso_datetime(v, &ms)) &&
        ms % MS_PER_DAY == 0) {
        *days = ms / MS_PER_DAY;
        return VALUE_OK;
    }
    return fail_bad_date(c, v);
}

/* A HubSpot datetime: ISO 8601 or epoch ms. */
static int hs_datetime_ms(struct conv *c, const char *v, int64_t *ms)
{
    if (looks_like_epoch(v) ? parse_epoch_ms(v, ms) : parse_iso_datetime(v, ms))
        return VALUE_OK;
    return fail_bad_datetime(c, v);
}

/* ---- picklists and multi-selects ---- */

/* The HubSpot option value_map gives a Salesforce value, or NULL. */
static const char *map_to_hs(const struct mapping_field *mf, const char *sf_value)
{
    for (size_t i = 0; mf != NULL && i < mf->n_value_map; i++) {
        if (strcmp(mf->value_map[i].salesforce, sf_value) == 0)
            return mf->value_map[i].hubspot;
    }
    return NULL;
}

/* The Salesforce value of the first value_map pair naming a HubSpot option, or NULL. */
static const char *map_to_sf(const struct mapping_field *mf, const char *hs_value)
{
    for (size_t i = 0; mf != NULL && i < mf->n_value_map; i++) {
        if (strcmp(mf->value_map[i].hubspot, hs_value) == 0)
            return mf->value_map[i].salesforce;
    }
    return NULL;
}

/* True if Salesforce accepts v in the picklist: a listed value (active when the picklist is
 * restricted), or anything when it is not restricted. */
static bool sf_picklist_accepts(const struct sf_field *sf, const char *v)
{
    const struct sf_picklist_value *pv = sf_field_picklist_value(sf, v);

    if (!sf->restricted_picklist)
        return true;
    return pv != NULL && pv->active;
}

static int fail_unmapped(struct conv *c, const char *v)
{
    char sh[SHOW_BUF];

    return conv_fail(c, "unmapped_option",
                     "%s holds \"%s\", which %s does not have and the field's value_map does not "
                     "map. Add it there or add a value_map entry.",
                     c->src, show(sh, v), c->dst);
}

/* One picklist element in the direction of c: mapped, or passed through if the target has it. */
static int element_to_hs(struct conv *c, const char *v, const char **out)
{
    *out = map_to_hs(c->mf, v);
    if (*out != NULL)
        return VALUE_OK;
    if (hs_property_option(c->hs, v) == NULL)
        return fail_unmapped(c, v);
    *out = v;
    return VALUE_OK;
}

static int element_to_sf(struct conv *c, const char *v, const char **out)
{
    *out = map_to_sf(c->mf, v);
    if (*out != NULL)
        return VALUE_OK;
    if (!sf_picklist_accepts(c->sf, v))
        return fail_unmapped(c, v);
    *out = v;
    return VALUE_OK;
}

/* The elements of a ";"-joined value (empty elements skipped); they point into buf. */
struct elements {
    char *buf;
    const char **v;
    size_t n;
};

static void elements_free(struct elements *e)
{
    free(e->buf);
    free(e->v);
}

static int elements_split(const char *s, struct elements *e)
{
    size_t cap = 1;

    memset(e, 0, sizeof(*e));
    for (const char *p = s; *p != '\0'; p++)
        cap += *p == ';';
    e->buf = strdup(s);
    e->v = calloc(cap, sizeof(*e->v));
    if (e->buf == NULL || e->v == NULL) {
        elements_free(e);
        return -1;
    }
    for (char *p = e->buf, *next; p != NULL; p = next) {
        next = strchr(p, ';');
        if (next != NULL)
            *next++ = '\0';
        if (*p != '\0')
            e->v[e->n++] = p;
    }
    return 0;
}

struct ranked {
    const char *s;
    size_t i;
};

static int ranked_cmp(const void *a, const void *b)
{
    const struct ranked *x = a, *y = b;
    int r = strcmp(x->s, y->s);

    if (r != 0)
        return r;
    return x->i < y->i ? -1 : x->i > y->i;
}

/* Drops repeated elements (keeping the first) and, if sorted, orders by bytes. O(n log n). */
static int elements_unique(struct elements *e, bool sorted)
{
    struct ranked *r;
    size_t n = 0;

    if (e->n < 2)
        return 0;
    r = calloc(e->n, sizeof(*r));
    if (r == NULL)
        return -1;
    for (size_t i = 0; i < e->n; i++)
        r[i] = (struct ranked){e->v[i], i};
    qsort(r, e->n, sizeof(*r), ranked_cmp);
    if (sorted) {
        for (size_t i = 0; i < e->n; i++) {
            if (i == 0 || strcmp(r[i].s, r[i - 1].s) != 0)
                e->v[n++] = r[i].s;
        }
    } else {
        /* mark repeats as NULL, then close the gaps in the original order */
        for (size_t i = 1; i < e->n; i++) {
            if (strcmp(r[i].s, r[i - 1].s) == 0)
                e->v[r[i].i] = NULL;
        }
        for (size_t i = 0; i < e->n; i++) {
            if (e->v[i] != NULL)
                e->v[n++] = e->v[i];
        }
    }
    e->n = n;
    free(r);
    return 0;
}

static char *elements_join(const struct elements *e)
{
    size_t len = 1;
    char *out, *o;

    for (size_t i = 0; i < e->n; i++)
        len += strlen(e->v[i]) + 1;
    out = malloc(len);
    if (out == NULL)
        return NULL;
    o = out;
    for (size_t i = 0; i < e->n; i++) {
        size_t l = strlen(e->v[i]);

        if (i > 0)
            *o++ = ';';
        memcpy(o, e->v[i], l);
        o += l;
    }
    *o = '\0';
    return out;
}

typedef int (*element_fn)(struct conv *c, const char *v, const char **out);

/* Maps every element of a multi-select value with fn, keeps order, drops repeats. */
static int multi_map(struct conv *c, const char *value, element_fn fn, char **out)
{
    struct elements e;
    int rc = VALUE_OK;

    if (elements_split(value, &e) != 0)
        return conv_nomem(c);
    for (size_t i = 0; i < e.n && rc == VALUE_OK; i++)
        rc = fn(c, e.v[i], &e.v[i]);
    if (rc == VALUE_OK && elements_unique(&e, false) != 0)
        rc = conv_nomem(c);
    if (rc == VALUE_OK && (*out = elements_join(&e)) == NULL)
        rc = conv_nomem(c);
    elements_free(&e);
    return rc;
}

/* ---- converters: Salesforce JSON -> HubSpot text ---- */

typedef int (*to_hs_fn)(struct conv *c, json_object *v, char **out);
typedef int (*to_sf_fn)(struct conv *c, const char *v, json_object **out);

static int dup_out(struct conv *c, const char *s, char **out)
{
    *out = strdup(s);
    return *out != NULL ? VALUE_OK : conv_nomem(c);
}

/* A JSON string value, checked to be UTF-8 without NULs. */
static int sf_string(struct conv *c, json_object *v, const char **s, long *chars)
{
    if (!json_object_is_type(v, json_type_string))
        return fail_wrong_json(c, v, "string");
    *s = json_object_get_string(v);
    *chars = text_chars(*s, (size_t)json_object_get_string_len(v));
    if (*chars < 0)
        return fail_invalid_text(c, *s);
    return VALUE_OK;
}

static int check_length(struct conv *c, const char *v, long chars, int64_t limit)
{
    char sh[SHOW_BUF];

    if (limit <= 0 || chars <= limit)
        return VALUE_OK;
    return conv_fail(c, "too_long",
                     "%s holds %ld characters (\"%s\"), more than the %" PRId64
                     " that %s holds. Shorten the value or use a longer field.",
                     c->src, chars, show(sh, v), limit, c->dst);
}

static int text_to_hs(struct conv *c, json_object *v, char **out)
{
    const char *s = NULL, *mapped = NULL;
    long chars = 0;
    int rc = sf_string(c, v, &s, &chars);

    if (rc != VALUE_OK)
        return rc;
    mapped = c->sf->type == SF_TYPE_PICKLIST ? map_to_hs(c->mf, s) : NULL;
    if (mapped != NULL)
        chars = text_chars(mapped, strlen(mapped));
    else
        mapped = s;
    rc = check_length(c, mapped, chars, HS_STRING_MAX_CHARS);
    return rc != VALUE_OK ? rc : dup_out(c, mapped, out);
}

static int select_to_hs(struct conv *c, json_object *v, char **out)
{
    const char *s = NULL, *mapped = NULL;
    long chars = 0;
    int rc = sf_string(c, v, &s, &chars);

    if (rc == VALUE_OK)
        rc = element_to_hs(c, s, &mapped);
    return rc != VALUE_OK ? rc : dup_out(c, mapped, out);
}

static int multi_to_hs(struct conv *c, json_object *v, char **out)
{
    const char *s = NULL;
    long chars = 0;
    int rc = sf_string(c, v, &s, &chars);

    return rc != VALUE_OK ? rc : multi_map(c, s, element_to_hs, out);
}

static int number_to_hs(struct conv *c, json_object *v, char **out)
{
    char canon[DEC_BUF];
    bool integral;
    int rc = number_from_json(c, v, canon, &integral);

    return rc != VALUE_OK ? rc : dup_out(c, canon, out);
}

static int bool_to_hs(struct conv *c, json_object *v, char **out)
{
    bool b = false;
    int rc;

    if (json_object_is_type(v, json_type_boolean)) {
        b = json_object_get_boolean(v);
    } else if (json_object_is_type(v, json_type_string)) {
        rc = bool_from_text(c, json_object_get_string(v), false, &b);
        if (rc != VALUE_OK)
            return rc;
    } else {
        return fail_wrong_json(c, v, "boolean");
    }
    return dup_out(c, b ? "true" : "false", out);
}

static int date_to_hs(struct conv *c, json_object *v, char **out)
{
    int64_t days;
    char buf[16];

    if (!json_object_is_type(v, json_type_string))
        return fail_wrong_json(c, v, "date string");
    if (!parse_date(json_object_get_string(v), &days))
        return fail_bad_date(c, json_object_get_string(v));
    format_date(days, buf);
    return dup_out(c, buf, out);
}

static int datetime_to_hs(struct conv *c, json_object *v, char **out)
{
    int64_t ms;
    char buf[40];

    if (!json_object_is_type(v, json_type_string))
        return fail_wrong_json(c, v, "datetime string");
    if (!parse_iso_datetime(json_object_get_string(v), &ms))
        return fail_bad_datetime(c, json_object_get_string(v));
    format_datetime(ms, "Z", buf);
    return dup_out(c, buf, out);
}

/* ---- converters: HubSpot text -> Salesforce JSON ---- */

static int new_string(struct conv *c, const char *s, json_object **out)
{
    *out = json_object_new_string(s);
    return *out != NULL ? VALUE_OK : conv_nomem(c);
}

static int text_to_sf(struct conv *c, const char *v, json_object **out)
{
    const char *target = v;
    long chars = text_chars(v, strlen(v));
    int rc;

    if (chars < 0)
        return fail_invalid_text(c, v);
    if (c->sf->type == SF_TYPE_PICKLIST) {
        rc = element_to_sf(c, v, &target);
        if (rc != VALUE_OK)
            return rc;
        chars = text_chars(target, strlen(target));
    }
    rc = check_length(c, target, chars, c->sf->length);
    return rc != VALUE_OK ? rc : new_string(c, target, out);
}

static int select_to_sf(struct conv *c, const char *v, json_object **out)
{
    const char *target;
    int rc = element_to_sf(c, v, &target);

    return rc != VALUE_OK ? rc : new_string(c, target, out);
}

static int multi_to_sf(struct conv *c, const char *v, json_object **out)
{
    char *joined = NULL;
    int rc = multi_map(c, v, element_to_sf, &joined);

    if (rc != VALUE_OK)
        return rc;
    /* every element was dropped as empty: clear the field */
    if (joined[0] == '\0')
        *out = NULL;
    else
        rc = new_string(c, joined, out);
    free(joined);
    return rc;
}

static int number_to_sf(struct conv *c, const char *v, json_object **out)
{
    char canon[DEC_BUF];
    bool integral;
    int rc = number_from_text(c, v, canon, &integral);

    return rc != VALUE_OK ? rc : number_to_json(c, canon, integral, out);
}

/* A boolean text as JSON; lenient also accepts 1/0 (outbound messages). */
static int bool_json(struct conv *c, const char *v, bool lenient, json_object **out)
{
    bool b = false;
    int rc = bool_from_text(c, v, lenient, &b);

    if (rc != VALUE_OK)
        return rc;
    *out = json_object_new_boolean(b);
    return *out != NULL ? VALUE_OK : conv_nomem(c);
}

static int bool_to_sf(struct conv *c, const char *v, json_object **out)
{
    return bool_json(c, v, false, out);
}

static int date_to_sf(struct conv *c, const char *v, json_object **out)
{
    int64_t days;
    char buf[16];
    int rc = hs_date_days(c, v, &days);

    if (rc != VALUE_OK)
        return rc;
    format_date(days, buf);
    return new_string(c, buf, out);
}

static int datetime_to_sf(struct conv *c, const char *v, json_object **out)
{
    int64_t ms;
    char buf[40];
    int rc = hs_datetime_ms(c, v, &ms);

    if (rc != VALUE_OK)
        return rc;
    format_datetime(ms, "Z", buf);
    return new_string(c, buf, out);
}

/* ---- the pair table ---- */

static const struct pair {
    enum sf_field_type sf;
    enum value_kind hs;
    to_hs_fn to_hs;
    to_sf_fn to_sf;
} pairs[] = {
    {SF_TYPE_ID, VALUE_KIND_TEXT, text_to_hs, text_to_sf},
    {SF_TYPE_REFERENCE, VALUE_KIND_TEXT, text_to_hs, text_to_sf},
    {SF_TYPE_STRING, VALUE_KIND_TEXT, text_to_hs, text_to_sf},
    {SF_TYPE_TEXTAREA, VALUE_KIND_TEXT, text_to_hs, text_to_sf},
    {SF_TYPE_EMAIL, VALUE_KIND_TEXT, text_to_hs, text_to_sf},
    {SF_TYPE_PHONE, VALUE_KIND_TEXT, text_to_hs, text_to_sf},
    {SF_TYPE_URL, VALUE_KIND_TEXT, text_to_hs, text_to_sf},
    {SF_TYPE_COMBOBOX, VALUE_KIND_TEXT, text_to_hs, text_to_sf},
    {SF_TYPE_PICKLIST, VALUE_KIND_TEXT, text_to_hs, text_to_sf},
    {SF_TYPE_PICKLIST, VALUE_KIND_SELECT, select_to_hs, select_to_sf},
    {SF_TYPE_MULTIPICKLIST, VALUE_KIND_MULTI, multi_to_hs, multi_to_sf},
    {SF_TYPE_BOOLEAN, VALUE_KIND_BOOL, bool_to_hs, bool_to_sf},
    {SF_TYPE_INT, VALUE_KIND_NUMBER, number_to_hs, number_to_sf},
    {SF_TYPE_LONG, VALUE_KIND_NUMBER, number_to_hs, number_to_sf},
    {SF_TYPE_DOUBLE, VALUE_KIND_NUMBER, number_to_hs, number_to_sf},
    {SF_TYPE_CURRENCY, VALUE_KIND_NUMBER, number_to_hs, number_to_sf},
    {SF_TYPE_PERCENT, VALUE_KIND_NUMBER, number_to_hs, number_to_sf},
    {SF_TYPE_DATE, VALUE_KIND_DATE, date_to_hs, date_to_sf},
    {SF_TYPE_DATETIME, VALUE_KIND_DATETIME, datetime_to_hs, datetime_to_sf},
};

static const struct pair *pair_find(enum sf_field_type sf, enum value_kind hs)
{
    for (size_t i = 0; i < COUNT(pairs); i++) {
        if (pairs[i].sf == sf && pairs[i].hs == hs)
            return &pairs[i];
    }
    return NULL;
}

bool value_pair_supported(enum sf_field_type sf, enum value_kind hs)
{
    return pair_find(sf, hs) != NULL;
}

static const struct {
    enum hs_property_type type;
    enum value_kind kind;
} hs_kinds[] = {
    {HS_TYPE_STRING, VALUE_KIND_TEXT},   {HS_TYPE_PHONE_NUMBER, VALUE_KIND_TEXT},
    {HS_TYPE_NUMBER, VALUE_KIND_NUMBER}, {HS_TYPE_BOOL, VALUE_KIND_BOOL},
    {HS_TYPE_DATE, VALUE_KIND_DATE},     {HS_TYPE_DATETIME, VALUE_KIND_DATETIME},
};

enum value_kind value_hs_kind(const struct hs_object_property *hs)
{
    if (hs == NULL)
        return VALUE_KIND_OTHER;
    if (hs->type == HS_TYPE_ENUMERATION)
        return hs_property_is_multi_select(hs) ? VALUE_KIND_MULTI : VALUE_KIND_SELECT;
    for (size_t i = 0; i < COUNT(hs_kinds); i++) {
        if (hs_kinds[i].type == hs->type)
            return hs_kinds[i].kind;
    }
    return VALUE_KIND_OTHER;
}

static const struct {
    enum sf_field_type type;
    enum value_kind kind;
} sf_kinds[] = {
    {SF_TYPE_ID, VALUE_KIND_TEXT},
    {SF_TYPE_REFERENCE, VALUE_KIND_TEXT},
    {SF_TYPE_STRING, VALUE_KIND_TEXT},
    {SF_TYPE_TEXTAREA, VALUE_KIND_TEXT},
    {SF_TYPE_EMAIL, VALUE_KIND_TEXT},
    {SF_TYPE_PHONE, VALUE_KIND_TEXT},
    {SF_TYPE_URL, VALUE_KIND_TEXT},
    {SF_TYPE_COMBOBOX, VALUE_KIND_TEXT},
    {SF_TYPE_ENCRYPTEDSTRING, VALUE_KIND_TEXT},
    {SF_TYPE_TIME, VALUE_KIND_TEXT},
    {SF_TYPE_PICKLIST, VALUE_KIND_SELECT},
    {SF_TYPE_MULTIPICKLIST, VALUE_KIND_MULTI},
    {SF_TYPE_BOOLEAN, VALUE_KIND_BOOL},
    {SF_TYPE_INT, VALUE_KIND_NUMBER},
    {SF_TYPE_LONG, VALUE_KIND_NUMBER},
    {SF_TYPE_DOUBLE, VALUE_KIND_NUMBER},
    {SF_TYPE_CURRENCY, VALUE_KIND_NUMBER},
    {SF_TYPE_PERCENT, VALUE_KIND_NUMBER},
    {SF_TYPE_DATE, VALUE_KIND_DATE},
    {SF_TYPE_DATETIME, VALUE_KIND_DATETIME},
};

enum value_kind value_sf_kind(enum sf_field_type type)
{
    for (size_t i = 0; i < COUNT(sf_kinds); i++) {
        if (sf_kinds[i].type == type)
            return sf_kinds[i].kind;
    }
    return VALUE_KIND_OTHER;
}

/* ---- entry points ---- */

enum conv_dir { DIR_SF_TO_HS, DIR_HS_TO_SF, DIR_SF_TEXT, DIR_SF_ONLY, DIR_HS_ONLY };

static void conv_init(struct conv *c, const struct sf_field *sf,
                      const struct hs_object_property *hs, const struct mapping_field *mf,
                      struct value_error *err, enum conv_dir dir)
{
    char sfname[80], hsname[80];

    memset(c, 0, sizeof(*c));
    c->sf = sf;
    c->hs = hs;
    c->mf = mf;
    c->err = err;
    if (err != NULL) {
        err->code[0] = '\0';
        err->message[0] = '\0';
    }
    snprintf(sfname, sizeof(sfname), "Salesforce field %s",
             sf != NULL && sf->name != NULL ? sf->name : "(unknown)");
    snprintf(hsname, sizeof(hsname), "HubSpot property %s",
             hs != NULL && hs->name != NULL ? hs->name : "(unknown)");
    switch (dir) {
    case DIR_SF_TO_HS:
        snprintf(c->src, sizeof(c->src), "%s", sfname);
        snprintf(c->dst, sizeof(c->dst), "%s", hsname);
        break;
    case DIR_HS_TO_SF:
        snprintf(c->src, sizeof(c->src), "%s", hsname);
        snprintf(c->dst, sizeof(c->dst), "%s", sfname);
        break;
    case DIR_SF_TEXT:
        snprintf(c->src, sizeof(c->src), "The outbound message's %s", sfname);
        snprintf(c->dst, sizeof(c->dst), "%s", sfname);
        break;
    case DIR_SF_ONLY:
        snprintf(c->src, sizeof(c->src), "%s", sfname);
        snprintf(c->dst, sizeof(c->dst), "%s", sfname);
        break;
    case DIR_HS_ONLY:
        snprintf(c->src, sizeof(c->src), "The HubSpot value");
        snprintf(c->dst, sizeof(c->dst), "the property");
        break;
    }
}

static int fail_unsupported(struct conv *c)
{
    return conv_fail(c, "unsupported_types",
                     "Salesforce field %s (%s) cannot sync with HubSpot property %s (%s, %s). "
                     "Remove the field mapping or map a compatible property.",
                     c->sf->name, c->sf->type_name != NULL ? c->sf->type_name : "?", c->hs->name,
                     c->hs->type_name != NULL ? c->hs->type_name : "?",
                     c->hs->field_type_name != NULL ? c->hs->field_type_name : "");
}

static bool sf_json_empty(json_object *v)
{
    return v == NULL ||
           (json_object_is_type(v, json_type_string) && json_object_get_string_len(v) == 0);
}

int value_sf_to_hs(const struct sf_field *sf, const struct hs_object_property *hs,
                   const struct mapping_field *mf, json_object *sf_value, char **out,
                   struct value_error *err)
{
    struct conv c;
    const struct pair *p;

    conv_init(&c, sf, hs, mf, err, DIR_SF_TO_HS);
    if (out == NULL)
        return conv_fail(&c, "invalid_argument", "No place for the converted value was given.");
    *out = NULL;
    if (sf == NULL || hs == NULL)
        return conv_fail(&c, "invalid_argument", "A field or property to convert for is missing.");
    p = pair_find(sf->type, value_hs_kind(hs));
    if (p == NULL)
        return fail_unsupported(&c);
    if (sf_json_empty(sf_value))
        return dup_out(&c, "", out);
    int rc = p->to_hs(&c, sf_value, out);
    if (rc != VALUE_OK) {
        free(*out);
        *out = NULL;
    }
    return rc;
}

int value_hs_to_sf(const struct hs_object_property *hs, const struct sf_field *sf,
                   const struct mapping_field *mf, const char *hs_value, json_object **out,
                   struct value_error *err)
{
    struct conv c;
    const struct pair *p;

    conv_init(&c, sf, hs, mf, err, DIR_HS_TO_SF);
    if (out == NULL)
        return conv_fail(&c, "invalid_argument", "No place for the converted value was given.");
    *out = NULL;
    if (sf == NULL || hs == NULL)
        return conv_fail(&c, "invalid_argument", "A field or property to convert for is missing.");
    p = pair_find(sf->type, value_hs_kind(hs));
    if (p == NULL)
        return fail_unsupported(&c);
    if (hs_value == NULL || hs_value[0] == '\0') {
        /* Salesforce checkboxes cannot be blank: an emptied HubSpot bool unticks them */
        if (sf->type == SF_TYPE_BOOLEAN && !sf->nillable) {
            *out = json_object_new_boolean(false);
            return *out != NULL ? VALUE_OK : conv_nomem(&c);
        }
        return VALUE_OK;
    }
    int rc = p->to_sf(&c, hs_value, out);
    if (rc != VALUE_OK) {
        json_object_put(*out);
        *out = NULL;
    }
    return rc;
}

/* ---- outbound-message text -> REST JSON ---- */

typedef int (*text_json_fn)(struct conv *c, const char *text, json_object **out);

static int text_json_string(struct conv *c, const char *text, json_object **out)
{
    if (text_chars(text, strlen(text)) < 0)
        return fail_invalid_text(c, text);
    return new_string(c, text, out);
}

static int text_json_bool(struct conv *c, const char *text, json_object **out)
{
    return bool_json(c, text, true, out);
}

static int text_json_date(struct conv *c, const char *text, json_object **out)
{
    int64_t days;
    char buf[16];

    if (!parse_date(text, &days))
        return fail_bad_date(c, text);
    format_date(days, buf);
    return new_string(c, buf, out);
}

static int text_json_datetime(struct conv *c, const char *text, json_object **out)
{
    int64_t ms;
    char buf[40];

    if (!parse_iso_datetime(text, &ms))
        return fail_bad_datetime(c, text);
    format_datetime(ms, "+0000", buf);
    return new_string(c, buf, out);
}

static const text_json_fn text_json_fns[] = {
    [VALUE_KIND_OTHER] = NULL,
    [VALUE_KIND_TEXT] = text_json_string,
    [VALUE_KIND_NUMBER] = number_to_sf,
    [VALUE_KIND_BOOL] = text_json_bool,
    [VALUE_KIND_SELECT] = text_json_string,
    [VALUE_KIND_MULTI] = text_json_string,
    [VALUE_KIND_DATE] = text_json_date,
    [VALUE_KIND_DATETIME] = text_json_datetime,
};

int value_sf_text_to_json(const struct sf_field *sf, const char *text, bool is_null,
                          json_object **out, struct value_error *err)
{
    struct conv c;
    text_json_fn fn;

    conv_init(&c, sf, NULL, NULL, err, DIR_SF_TEXT);
    if (out == NULL || sf == NULL)
        return conv_fail(&c, "invalid_argument", "A field or a place for the value is missing.");
    *out = NULL;
    fn = text_json_fns[value_sf_kind(sf->type)];
    if (fn == NULL)
        return conv_fail(&c, "unsupported_types",
                         "Salesforce field %s is of type %s, which synkro cannot sync. Remove "
                         "it from the mapping.",
                         sf->name, sf->type_name != NULL ? sf->type_name : "other");
    if (is_null || text == NULL || text[0] == '\0')
        return VALUE_OK;
    return fn(&c, text, out);
}

/* ---- canonical forms and comparison ---- */

typedef int (*canon_fn)(struct conv *c, const char *v, char **out);

static int canon_same(struct conv *c, const char *v, char **out)
{
    return dup_out(c, v, out);
}

static int canon_number(struct conv *c, const char *v, char **out)
{
    char canon[DEC_BUF];
    bool integral;
    int rc = number_from_text(c, v, canon, &integral);

    return rc != VALUE_OK ? rc : dup_out(c, canon, out);
}

static int canon_bool(struct conv *c, const char *v, char **out)
{
    bool b = false;
    int rc = bool_from_text(c, v, false, &b);

    return rc != VALUE_OK ? rc : dup_out(c, b ? "true" : "false", out);
}

static int canon_date(struct conv *c, const char *v, char **out)
{
    int64_t days;
    char buf[16];
    int rc = hs_date_days(c, v, &days);

    if (rc != VALUE_OK)
        return rc;
    format_date(days, buf);
    return dup_out(c, buf, out);
}

static int canon_datetime(struct conv *c, const char *v, char **out)
{
    int64_t ms;
    char buf[40];
    int rc = hs_datetime_ms(c, v, &ms);

    if (rc != VALUE_OK)
        return rc;
    format_datetime(ms, "Z", buf);
    return dup_out(c, buf, out);
}

static int canon_multi(struct conv *c, const char *v, char **out)
{
    struct elements e;
    int rc = VALUE_OK;

    if (elements_split(v, &e) != 0)
        return conv_nomem(c);
    if (elements_unique(&e, true) != 0 || (*out = elements_join(&e)) == NULL)
        rc = conv_nomem(c);
    elements_free(&e);
    return rc;
}

static const canon_fn canon_fns[] = {
    [VALUE_KIND_OTHER] = canon_same,    [VALUE_KIND_TEXT] = canon_same,
    [VALUE_KIND_NUMBER] = canon_number, [VALUE_KIND_BOOL] = canon_bool,
    [VALUE_KIND_SELECT] = canon_same,   [VALUE_KIND_MULTI] = canon_multi,
    [VALUE_KIND_DATE] = canon_date,     [VALUE_KIND_DATETIME] = canon_datetime,
};

static int canonical(struct conv *c, enum value_kind kind, const char *value, char **out)
{
    *out = NULL;
    if ((unsigned)kind >= COUNT(canon_fns))
        kind = VALUE_KIND_OTHER;
    if (value == NULL || value[0] == '\0')
        return dup_out(c, "", out);
    return canon_fns[kind](c, value, out);
}

int value_hs_canonical(enum value_kind kind, const char *value, char **out, struct value_error *err)
{
    struct conv c;

    conv_init(&c, NULL, NULL, NULL, err, DIR_HS_ONLY);
    if (out == NULL)
        return conv_fail(&c, "invalid_argument", "No place for the canonical value was given.");
    return canonical(&c, kind, value, out);
}

bool value_equal_hs(const char *a, const char *b, enum value_kind kind)
{
    struct conv c;
    char *ca = NULL, *cb = NULL;
    bool eq;

    conv_init(&c, NULL, NULL, NULL, NULL, DIR_HS_ONLY);
    if (canonical(&c, kind, a, &ca) == VALUE_OK && canonical(&c, kind, b, &cb) == VALUE_OK)
        eq = strcmp(ca, cb) == 0;
    else
        eq = strcmp(a != NULL ? a : "", b != NULL ? b : "") == 0;
    free(ca);
    free(cb);
    return eq;
}

/* The canonical text of a Salesforce JSON value of field c->sf. */
static int sf_canonical(struct conv *c, json_object *v, char **out)
{
    enum value_kind kind = value_sf_kind(c->sf->type);
    char canon[DEC_BUF];
    bool integral;
    int rc;

    *out = NULL;
    if (sf_json_empty(v))
        return dup_out(c, "", out);
    switch (kind) {
    case VALUE_KIND_NUMBER:
        rc = number_from_json(c, v, canon, &integral);
        return rc != VALUE_OK ? rc : dup_out(c, canon, out);
    case VALUE_KIND_BOOL:
        return bool_to_hs(c, v, out);
    case VALUE_KIND_DATE:
        return date_to_hs(c, v, out);
    case VALUE_KIND_DATETIME:
        return datetime_to_hs(c, v, out);
    case VALUE_KIND_TEXT:
    case VALUE_KIND_SELECT:
    case VALUE_KIND_MULTI:
        if (!json_object_is_type(v, json_type_string))
            return fail_wrong_json(c, v, "string");
        return canonical(c, kind, json_object_get_string(v), out);
    case VALUE_KIND_OTHER:
        break;
    }
    return VALUE_INVALID;
}

bool value_equal_sf(const struct sf_field *sf, json_object *a, json_object *b)
{
    struct conv c;
    char *ca = NULL, *cb = NULL;
    bool eq;

    if (sf == NULL)
        return json_object_equal(a, b) != 0;
    conv_init(&c, sf, NULL, NULL, NULL, DIR_SF_ONLY);
    if (sf_canonical(&c, a, &ca) == VALUE_OK && sf_canonical(&c, b, &cb) == VALUE_OK)
        eq = strcmp(ca, cb) == 0;
    else
        eq = json_object_equal(a, b) != 0;
    free(ca);
    free(cb);
    return eq;
}
