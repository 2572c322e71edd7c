/* soql.c: Salesforce API names, record ids, SOQL literals and the SELECT builder (see soql.h for
 * exactly what each accepts).
 *
 * Design: the checks are written over bytes with explicit ASCII ranges (never <ctype.h>, whose
 * answers depend on the locale), and the builder validates the whole query before it writes a
 * byte, so a refusal never leaves text behind. Quoting reserves its worst case first, so it cannot
 * fail half way.
 *
 * Must not: include anything above base/, or let a byte reach the output unchecked. */
#include "crm/soql.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* ---- names and ids ---- */

static bool ascii_letter(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

static bool ascii_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* One part of a name, s[0..n): a letter, then letters, digits and single underscores, no '_' at
 * the end (the caller split at "__", so no two underscores meet inside). A suffix has letters
 * only. */
static bool name_part_valid(const char *s, size_t n, bool suffix)
{
    if (n == 0 || !ascii_letter(s[0]) || s[n - 1] == '_')
        return false;
    for (size_t i = 1; i < n; i++) {
        bool ok = ascii_letter(s[i]) || (!suffix && (ascii_digit(s[i]) || s[i] == '_'));
        if (!ok || (s[i] == '_' && s[i - 1] == '_'))
            return false;
    }
    return true;
}

bool soql_name_valid(const char *name)
{
    if (!name)
        return false;
    size_t len = strnlen(name, SOQL_NAME_MAX + 1);
    if (len == 0 || len > SOQL_NAME_MAX)
        return false;
    const char *starts[SOQL_NAME_PARTS_MAX + 1];
    size_t lens[SOQL_NAME_PARTS_MAX + 1], nparts = 0;
    const char *p = name;
    for (;;) {
        const char *sep = strstr(p, "__");
        if (nparts == SOQL_NAME_PARTS_MAX)
            return false;
        starts[nparts] = p;
        lens[nparts++] = sep ? (size_t)(sep - p) : strlen(p);
        if (!sep)
            break;
        p = sep + 2;
    }
    for (size_t i = 0; i < nparts; i++)
        if (!name_part_valid(starts[i], lens[i], nparts > 1 && i == nparts - 1))
            return false;
    return true;
}

bool soql_id_valid(const char *id)
{
    if (!id)
        return false;
    size_t len = strnlen(id, SOQL_ID_LONG + 1);
    if (len != SOQL_ID_SHORT && len != SOQL_ID_LONG)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!ascii_letter(id[i]) && !ascii_digit(id[i]))
            return false;
    return true;
}

/* ---- literals ---- */

/* Length of the UTF-8 sequence at s (1..4) when it is well formed and not a control character,
 * else 0. */
static size_t utf8_char_ok(const unsigned char *s)
{
    unsigned c = s[0];
    if (c < 0x20 || c == 0x7f)
        return 0;
    if (c < 0x80)
        return 1;
    size_t n = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 0;
    if (n == 0 || c > 0xf4)
        return 0;
    uint32_t cp = c & (0x3fu >> (n - 1));
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80) /* also stops at the NUL */
            return 0;
        cp = (cp << 6) | (s[i] & 0x3fu);
    }
    static const uint32_t min_cp[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < min_cp[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    if (cp >= 0x80 && cp <= 0x9f) /* C1 controls */
        return 0;
    return n;
}

bool soql_text_quotable(const char *s)
{
    if (!s)
        return false;
    for (const unsigned char *p = (const unsigned char *)s; *p;) {
        size_t n = utf8_char_ok(p);
        if (n == 0)
            return false;
        p += n;
    }
    return true;
}

int soql_quote(struct strbuf *sb, const char *s)
{
    if (!soql_text_quotable(s))
        return -1;
    size_t len = strlen(s);
    if (len > (SIZE_MAX - 2) / 2 || strbuf_reserve(sb, 2 * len + 2) < 0)
        return -1;
    strbuf_putc(sb, '\'');
    for (const char *c = s; *c; c++) {
        if (*c == '\\' || *c == '\'')
            strbuf_putc(sb, '\\');
        strbuf_putc(sb, *c);
    }
    strbuf_putc(sb, '\'');
    return 0;
}

/* ---- checking a query ---- */

#define NAME_RULE                                                                                  \
    "letters, digits and single underscores, starting with a letter; \"__\" only after a "         \
    "namespace or before a suffix such as __c"

/* s as it may appear in a message: at most 40 printable ASCII bytes, others as '?'. */
static void excerpt(const char *s, char *out, size_t outlen)
{
    size_t n = strnlen(s, 41), o = 0;
    for (size_t i = 0; i < n && i < 40 && o + 1 < outlen; i++)
        out[o++] = s[i] >= 0x20 && s[i] < 0x7f ? s[i] : '?';
    out[o] = '\0';
    if (n > o && o + 4 < outlen)
        memcpy(out + o, "...", 4);
}

static int check_name(const char *what, const char *name, char *err, size_t errlen)
{
    if (soql_name_valid(name))
        return 0;
    char ex[48];
    if (!name || !*name) {
        snprintf(err, errlen, "the query's %s is missing", what);
        return -1;
    }
    excerpt(name, ex, sizeof ex);
    snprintf(err, errlen, "the query's %s \"%s\" is not a Salesforce API name (" NAME_RULE ")",
             what, ex);
    return -1;
}

static int check_value(const struct soql_where *w, const char *v, char *err, size_t errlen)
{
    char ex[48];
    if (w->kind == SOQL_IDS && !soql_id_valid(v)) {
        excerpt(v ? v : "(none)", ex, sizeof ex);
        snprintf(err, errlen, "\"%s\" is not a Salesforce record id (15 or 18 letters and digits)",
                 ex);
        return -1;
    }
    if (w->kind == SOQL_TEXT && !soql_text_quotable(v)) {
        excerpt(v ? v : "(none)", ex, sizeof ex);
        snprintf(err, errlen,
                 "the value \"%s\" cannot be a SOQL literal (a control character or invalid "
                 "UTF-8)",
                 ex);
        return -1;
    }
    return 0;
}

static int check_shape(const struct soql_query *q, char *err, size_t errlen)
{
    const char *why = NULL;
    if (q->count && (q->nfields > 0 || q->order_by))
        why = "COUNT() takes no fields and no ORDER BY";
    else if (!q->count && (q->nfields == 0 || !q->fields))
        why = "it selects no field";
    else if (q->limit < 0)
        why = "its LIMIT is negative";
    else if (q->where && q->where->op != SOQL_IN && q->where->op != SOQL_GT)
        why = "its WHERE operator is unknown";
    else if (q->where && q->where->kind != SOQL_IDS && q->where->kind != SOQL_TEXT)
        why = "its WHERE value kind is unknown";
    if (why)
        snprintf(err, errlen, "the query cannot be built: %s", why);
    return why ? -1 : 0;
}

int soql_check_names(const struct soql_query *q, char *err, size_t errlen)
{
    if (check_shape(q, err, errlen) < 0)
        return -1;
    for (size_t i = 0; i < q->nfields; i++)
        if (check_name("field", q->fields[i], err, errlen) < 0)
            return -1;
    if (check_name("object", q->object, err, errlen) < 0 ||
        (q->where && check_name("WHERE field", q->where->field, err, errlen) < 0) ||
        (q->order_by && check_name("ORDER BY field", q->order_by, err, errlen) < 0))
        return -1;
    return 0;
}

static int check_values(const struct soql_where *w, char *err, size_t errlen)
{
    if (w->nvalues == 0 || !w->values || (w->op == SOQL_GT && w->nvalues != 1)) {
        snprintf(err, errlen, "the query cannot be built: %s",
                 w->op == SOQL_GT ? "a comparison takes one value" : "an IN list is empty");
        return -1;
    }
    for (size_t i = 0; i < w->nvalues; i++)
        if (check_value(w, w->values[i], err, errlen) < 0)
            return -1;
    return 0;
}

/* ---- writing a query ---- */

static bool same_name(const char *a, const char *b)
{
    for (; *a && *b; a++, b++) {
        char x = *a >= 'A' && *a <= 'Z' ? (char)(*a - 'A' + 'a') : *a;
        char y = *b >= 'A' && *b <= 'Z' ? (char)(*b - 'A' + 'a') : *b;
        if (x != y)
            return false;
    }
    return *a == *b;
}

static void put_fields(struct strbuf *sb, const struct soql_query *q)
{
    bool first = true;
    for (size_t i = 0; i < q->nfields; i++) {
        bool seen = false;
        for (size_t k = 0; k < i && !seen; k++)
            seen = same_name(q->fields[k], q->fields[i]);
        if (seen)
            continue;
        strbuf_puts(sb, first ? "" : ", ");
        strbuf_puts(sb, q->fields[i]);
        first = false;
    }
}

static void put_where(struct strbuf *sb, const struct soql_where *w)
{
    strbuf_printf(sb, " WHERE %s %s", w->field, w->op == SOQL_GT ? "> " : "IN (");
    for (size_t i = 0; i < w->nvalues; i++) {
        if (i > 0)
            strbuf_puts(sb, ", ");
        if (soql_quote(sb, w->values[i]) < 0)
            sb->failed = 1; /* checked before: only memory can run out here */
    }
    if (w->op == SOQL_IN)
        strbuf_putc(sb, ')');
}

char *soql_build(const struct soql_query *q, char *err, size_t errlen)
{
    if (soql_check_names(q, err, errlen) < 0 ||
        (q->where && check_values(q->where, err, errlen) < 0))
        return NULL;
    struct strbuf sb = STRBUF_INIT;
    strbuf_puts(&sb, "SELECT ");
    if (q->count)
        strbuf_puts(&sb, "COUNT()");
    else
        put_fields(&sb, q);
    strbuf_printf(&sb, " FROM %s", q->object);
    if (q->where)
        put_where(&sb, q->where);
    if (q->order_by)
        strbuf_printf(&sb, " ORDER BY %s%s", q->order_by, q->descending ? " DESC" : "");
    if (q->limit > 0)
        strbuf_printf(&sb, " LIMIT %ld", q->limit);
    if (sb.failed) {
        strbuf_free(&sb);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    return strbuf_detach(&sb, NULL);
}
