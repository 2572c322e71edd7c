/* fuzz_soql.c: libFuzzer target for crm/soql: arbitrary bytes as names, ids and values.
 *
 * Input: one flag byte (bit 0 COUNT(), bit 1 WHERE, bit 2 '>' instead of IN, bit 3 text values
 * instead of ids, bit 4 DESC, bit 5 ORDER BY, bits 6-7 LIMIT 0/250/500/750), then segments split
 * by 0x01: object, WHERE field, ORDER BY field, then fields, and values (a segment starting with
 * 0x02, the marker dropped). Checks:
 *  - soql_name_valid, soql_id_valid and soql_text_quotable agree with reference checks written
 *    another way here (a state machine over the name; the well-formed UTF-8 table of Unicode 3.9);
 *  - soql_build answers NULL exactly when the references refuse something in the query, and
 *    otherwise text that parses back, token by token, into the same query: the same fields (first
 *    of each case-insensitive duplicate), object, WHERE field, operator and values, ORDER BY and
 *    LIMIT, and nothing else; each literal is closed, holds no escape but \\ and \', and decodes
 *    to its input byte for byte (so no input byte sequence got out of its quotes);
 *  - soql_quote of the whole input decodes back to it, or refuses it and leaves the buffer as it
 *    was.
 * Must not: write files or keep state between inputs. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crm/soql.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_LIST 64

static void check(int cond, const char *what)
{
    if (!cond) {
        fprintf(stderr, "invariant violated: %s\n", what);
        abort();
    }
}

/* ---- references ---- */

static bool ref_letter(unsigned char c)
{
    return (c | 0x20) >= 'a' && (c | 0x20) <= 'z';
}

/* A state machine over the name: "__" closes a part, a part needs a letter first, a suffix (the
 * last of two or more parts) letters only. */
static bool ref_name(const char *s)
{
    size_t len = strlen(s), parts = 1;
    bool need_letter = true, under = false, nonletter = false;
    if (len == 0 || len > 255)
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '_') {
            if (need_letter)
                return false;
            if (under) {
                parts++, need_letter = true, under = false, nonletter = false;
                continue;
            }
            under = true, nonletter = true;
        } else if (ref_letter(c)) {
            need_letter = false, under = false;
        } else if (c >= '0' && c <= '9' && !need_letter) {
            under = false, nonletter = true;
        } else {
            return false;
        }
    }
    return !need_letter && !under && parts <= 4 && (parts == 1 || !nonletter);
}

static bool ref_id(const char *s)
{
    size_t len = strlen(s);
    if (len != 15 && len != 18)
        return false;
    return strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") == len;
}

static bool in(unsigned char c, unsigned lo, unsigned hi)
{
    return c >= lo && c <= hi;
}

/* Unicode 3.9, table 3-7 (well-formed UTF-8), minus C0, DEL and C1. */
static bool ref_quotable(const char *str)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t n = strlen(str), i = 0;
    while (i < n) {
        unsigned char a = s[i], b = i + 1 < n ? s[i + 1] : 0;
        unsigned char c = i + 2 < n ? s[i + 2] : 0, d = i + 3 < n ? s[i + 3] : 0;
        size_t k = 0;
        if (a >= 0x20 && a < 0x7f)
            k = 1;
        else if (in(a, 0xc2, 0xdf) && in(b, 0x80, 0xbf) && !(a == 0xc2 && b < 0xa0))
            k = 2;
        else if (a == 0xe0 && in(b, 0xa0, 0xbf) && in(c, 0x80, 0xbf))
            k = 3;
        else if ((in(a, 0xe1, 0xec) || in(a, 0xee, 0xef)) && in(b, 0x80, 0xbf) && in(c, 0x80, 0xbf))
            k = 3;
        else if (a == 0xed && in(b, 0x80, 0x9f) && in(c, 0x80, 0xbf))
            k = 3;
        else if (a == 0xf0 && in(b, 0x90, 0xbf) && in(c, 0x80, 0xbf) && in(d, 0x80, 0xbf))
            k = 4;
        else if (in(a, 0xf1, 0xf3) && in(b, 0x80, 0xbf) && in(c, 0x80, 0xbf) && in(d, 0x80, 0xbf))
            k = 4;
        else if (a == 0xf4 && in(b, 0x80, 0x8f) && in(c, 0x80, 0xbf) && in(d, 0x80, 0xbf))
            k = 4;
        if (k == 0)
            return false;
        i += k;
    }
    return true;
}

static bool ref_same(const char *a, const char *b)
{
    size_t n = strlen(a);
    if (strlen(b) != n)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char x = (unsigned char)a[i], y = (unsigned char)b[i];
        if (x != y && !(ref_letter(x) && (x ^ 0x20) == y))
            return false;
    }
    return true;
}

/* ---- parsing the output back ---- */

struct cursor {
    const char *p;
};

static void expect(struct cursor *c, const char *text, const char *what)
{
    size_t n = strlen(text);
    check(strncmp(c->p, text, n) == 0, what);
    c->p += n;
}

static bool take(struct cursor *c, const char *text)
{
    size_t n = strlen(text);
    if (strncmp(c->p, text, n) != 0)
        return false;
    c->p += n;
    return true;
}

/* An identifier token: the longest run of letters, digits and '_', which must equal want. */
static void expect_name(struct cursor *c, const char *want, const char *what)
{
    size_t n = strspn(c->p, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_");
    check(n > 0 && n == strlen(want) && strncmp(c->p, want, n) == 0, what);
    c->p += n;
}

/* A literal: a quote, bytes with \\ and \' as the only escapes, a closing quote; it must decode
 * to want exactly. */
static void expect_literal(struct cursor *c, const char *want)
{
    size_t w = 0, wn = strlen(want);
    check(*c->p == '\'', "literal opens with a quote");
    c->p++;
    for (;;) {
        char ch = *c->p;
        check(ch != '\0', "literal is closed");
        c->p++;
        if (ch == '\'')
            break;
        if (ch == '\\') {
            ch = *c->p;
            check(ch == '\\' || ch == '\'', "only \\\\ and \\' are escapes");
            c->p++;
        }
        check(w < wn && want[w] == ch, "literal decodes to its input");
        w++;
    }
    check(w == wn, "literal holds its whole input");
}

struct fuzz_query {
    struct soql_query q;
    struct soql_where w;
    const char *fields[MAX_LIST];
    const char *values[MAX_LIST];
};

static void check_output(const struct fuzz_query *f, const char *out)
{
    const struct soql_query *q = &f->q;
    struct cursor c = {out};
    for (const char *p = out; *p; p++)
        check((unsigned char)*p >= 0x20 && *p != 0x7f, "no control characters in the query");
    expect(&c, "SELECT ", "SELECT");
    if (q->count) {
        expect(&c, "COUNT()", "COUNT()");
    } else {
        bool first = true;
        for (size_t i = 0; i < q->nfields; i++) {
            bool dup = false;
            for (size_t k = 0; k < i && !dup; k++)
                dup = ref_same(q->fields[k], q->fields[i]);
            if (dup)
                continue;
            if (!first)
                expect(&c, ", ", "field separator");
            expect_name(&c, q->fields[i], "field round-trips");
            first = false;
        }
    }
    expect(&c, " FROM ", "FROM");
    expect_name(&c, q->object, "object round-trips");
    if (q->where) {
        expect(&c, " WHERE ", "WHERE");
        expect_name(&c, q->where->field, "WHERE field round-trips");
        expect(&c, q->where->op == SOQL_GT ? " > " : " IN (", "operator");
        for (size_t i = 0; i < q->where->nvalues; i++) {
            if (i > 0)
                expect(&c, ", ", "value separator");
            expect_literal(&c, q->where->values[i]);
        }
        if (q->where->op == SOQL_IN)
            expect(&c, ")", "IN list closed");
    }
    if (q->order_by) {
        expect(&c, " ORDER BY ", "ORDER BY");
        expect_name(&c, q->order_by, "ORDER BY field round-trips");
        check(take(&c, " DESC") == q->descending, "DESC");
    }
    if (q->limit > 0) {
        char lim[32];
        snprintf(lim, sizeof lim, " LIMIT %ld", q->limit);
        expect(&c, lim, "LIMIT");
    }
    check(*c.p == '\0', "nothing after the query");
}

/* ---- the input ---- */

static bool refs_accept(const struct fuzz_query *f)
{
    const struct soql_query *q = &f->q;
    bool ok = ref_name(q->object) && (!q->order_by || ref_name(q->order_by)) &&
              (q->count ? q->nfields == 0 && !q->order_by : q->nfields > 0);
    for (size_t i = 0; ok && i < q->nfields; i++)
        ok = ref_name(q->fields[i]);
    if (ok && q->where) {
        const struct soql_where *w = q->where;
        ok = ref_name(w->field) && w->nvalues > 0 && (w->op == SOQL_IN || w->nvalues == 1);
        for (size_t i = 0; ok && i < w->nvalues; i++)
            ok = w->kind == SOQL_IDS ? ref_id(w->values[i]) : ref_quotable(w->values[i]);
    }
    return ok;
}

static void split(char *s, size_t size, struct fuzz_query *f, const char **seg3)
{
    const char *parts[3] = {"", "", ""};
    size_t np = 0;
    char *start = s;
    for (size_t i = 0; i <= size; i++) {
        if (i < size && s[i] != '\x01')
            continue;
        s[i] = '\0';
        if (np < 3)
            parts[np++] = start;
        else if (*start == '\x02' && f->w.nvalues < MAX_LIST)
            f->values[f->w.nvalues++] = start + 1;
        else if (*start != '\x02' && f->q.nfields < MAX_LIST)
            f->fields[f->q.nfields++] = start;
        start = s + i + 1;
    }
    f->q.object = parts[0];
    f->w.field = parts[1];
    *seg3 = parts[2];
}

static void check_primitives(const char *s)
{
    check(soql_name_valid(s) == ref_name(s), "soql_name_valid matches the reference");
    check(soql_id_valid(s) == ref_id(s), "soql_id_valid matches the reference");
    check(soql_text_quotable(s) == ref_quotable(s), "soql_text_quotable matches the reference");
    struct strbuf sb = STRBUF_INIT;
    strbuf_puts(&sb, "x");
    if (soql_quote(&sb, s) == 0) {
        struct cursor c = {sb.data + 1};
        expect_literal(&c, s);
        check(*c.p == '\0', "quote writes one literal");
    } else {
        check(!ref_quotable(s) && strcmp(sb.data, "x") == 0, "refusal leaves the buffer");
    }
    strbuf_free(&sb);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    char *s = malloc(size + 1);
    if (!s)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    check_primitives(s + 1);

    unsigned flags = (unsigned char)s[0];
    struct fuzz_query f;
    memset(&f, 0, sizeof f);
    const char *order = NULL;
    split(s + 1, size - 1, &f, &order);
    f.q.fields = f.fields;
    f.q.count = flags & 1;
    f.w.op = flags & 4 ? SOQL_GT : SOQL_IN;
    f.w.kind = flags & 8 ? SOQL_TEXT : SOQL_IDS;
    f.w.values = f.values;
    f.q.where = flags & 2 ? &f.w : NULL;
    f.q.descending = flags & 16;
    f.q.order_by = flags & 32 ? order : NULL;
    f.q.limit = (long)(flags >> 6) * 250;
    for (size_t i = 0; i < f.q.nfields; i++)
        check_primitives(f.fields[i]);
    for (size_t i = 0; i < f.w.nvalues; i++)
        check_primitives(f.values[i]);

    char err[512] = "";
    char *out = soql_build(&f.q, err, sizeof err);
    check((out != NULL) == refs_accept(&f), "builds exactly what the references accept");
    if (out)
        check_output(&f, out);
    else
        check(err[0] != '\0' && strlen(err) < sizeof err, "a refusal says why");
    for (const char *p = err; *p; p++)
        check((unsigned char)*p >= 0x20 && *p != 0x7f, "errors are printable");
    free(out);
    free(s);
    return 0;
}
