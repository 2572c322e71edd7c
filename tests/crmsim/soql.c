/* soql.c: tokenizer, recursive-descent parser and evaluator for crmsim's SOQL subset (see soql.h).
 *
 * Strings compare case-insensitively (as SOQL does); ids compare on their first 15 characters; null
 * only equals null; LIKE uses % and _ wildcards, case-insensitively. Input length is capped at
 * 100,000 characters and nesting at 32 levels so hostile queries cannot exhaust memory or stack. */
#include "tests/crmsim/soql.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "tests/crmsim/util.h"

#define SOQL_MAX_LEN   100000
#define SOQL_MAX_DEPTH 32
#define SOQL_MAX_IN    1000

enum tok_kind { T_EOF, T_IDENT, T_STRING, T_NUMBER, T_DATE, T_DATETIME, T_PUNCT };

struct tok {
    enum tok_kind kind;
    const char *start;
    size_t len;
    size_t col;
};

struct parser {
    const char *text;
    const char *p;
    struct tok cur;
    char *err;
    size_t errlen;
    bool failed;
    int depth;
};

/* Records the first error: prefix, then what[0..len) (quoted when quote), then the column. */
static void fail(struct parser *ps, const char *prefix, const char *what, size_t len, bool quote)
{
    if (ps->failed)
        return;
    ps->failed = true;
    char buf[128];
    size_t n = len < sizeof buf - 1 ? len : sizeof buf - 1;
    memcpy(buf, what, n);
    buf[n] = '\0';
    snprintf(ps->err, ps->errlen, "%s%s%s%s at column %zu", prefix, quote ? "'" : "", buf,
             quote ? "'" : "", ps->cur.col);
}

static void unexpected(struct parser *ps)
{
    if (ps->cur.kind == T_EOF)
        fail(ps, "unexpected token: ", "<EOF>", 5, false);
    else
        fail(ps, "unexpected token: ", ps->cur.start, ps->cur.len, true);
}

static bool is_date_at(const char *p)
{
    return isdigit((unsigned char)p[0]) && isdigit((unsigned char)p[1]) &&
           isdigit((unsigned char)p[2]) && isdigit((unsigned char)p[3]) && p[4] == '-' &&
           isdigit((unsigned char)p[5]) && isdigit((unsigned char)p[6]) && p[7] == '-' &&
           isdigit((unsigned char)p[8]) && isdigit((unsigned char)p[9]);
}

static void next(struct parser *ps)
{
    const char *p = ps->p;
    while (isspace((unsigned char)*p))
        p++;
    struct tok t = {T_EOF, p, 0, (size_t)(p - ps->text) + 1};
    if (!*p) {
        ps->cur = t;
        ps->p = p;
        return;
    }
    if (isalpha((unsigned char)*p) || *p == '_') {
        const char *s = p;
        while (isalnum((unsigned char)*p) || *p == '_' || *p == '.')
            p++;
        t.kind = T_IDENT;
        t.len = (size_t)(p - s);
    } else if (*p == '\'') {
        const char *s = p++;
        while (*p && *p != '\'') {
            if (*p == '\\' && p[1])
                p++;
            p++;
        }
        if (*p != '\'') {
            ps->cur = t;
            fail(ps, "", "unterminated string literal", 27, false);
            ps->p = p;
            return;
        }
        p++;
        t.kind = T_STRING;
        t.len = (size_t)(p - s);
    } else if (is_date_at(p)) {
        const char *s = p;
        p += 10;
        t.kind = T_DATE;
        if (*p == 'T' || *p == 't') {
            while (isalnum((unsigned char)*p) || *p == ':' || *p == '.' || *p == '+' || *p == '-')
                p++;
            t.kind = T_DATETIME;
        }
        t.len = (size_t)(p - s);
    } else if (isdigit((unsigned char)*p) ||
               ((*p == '-' || *p == '+' || *p == '.') && (isdigit((unsigned char)p[1])))) {
        const char *s = p;
        if (*p == '-' || *p == '+')
            p++;
        while (isdigit((unsigned char)*p) || *p == '.')
            p++;
        if (*p == 'e' || *p == 'E') {
            p++;
            if (*p == '-' || *p == '+')
                p++;
            while (isdigit((unsigned char)*p))
                p++;
        }
        t.kind = T_NUMBER;
        t.len = (size_t)(p - s);
    } else {
        static const char *const two[] = {"!=", "<>", "<=", ">="};
        t.kind = T_PUNCT;
        t.len = 1;
        for (size_t i = 0; i < 4; i++) {
            if (strncmp(p, two[i], 2) == 0)
                t.len = 2;
        }
        if (!strchr("(),=<>!", *p)) {
            ps->cur = t;
            fail(ps, "unexpected token: ", p, 1, true);
        }
        p += t.len;
    }
    ps->cur = t;
    ps->p = p;
}

static bool is_kw(const struct tok *t, const char *kw)
{
    return t->kind == T_IDENT && t->len == strlen(kw) && strncasecmp(t->start, kw, t->len) == 0;
}

static bool is_punct(const struct tok *t, const char *s)
{
    return t->kind == T_PUNCT && t->len == strlen(s) && strncmp(t->start, s, t->len) == 0;
}

static bool accept_kw(struct parser *ps, const char *kw)
{
    if (!is_kw(&ps->cur, kw))
        return false;
    next(ps);
    return true;
}

static bool expect_kw(struct parser *ps, const char *kw)
{
    if (accept_kw(ps, kw))
        return true;
    unexpected(ps);
    return false;
}

static bool expect_punct(struct parser *ps, const char *s)
{
    if (is_punct(&ps->cur, s)) {
        next(ps);
        return true;
    }
    unexpected(ps);
    return false;
}

static const char *const reserved[] = {"SELECT", "FROM", "WHERE", "AND",    "OR",   "NOT",
                                       "ORDER",  "BY",   "LIMIT", "OFFSET", "IN",   "LIKE",
                                       "NULL",   "TRUE", "FALSE", "ASC",    "DESC", "NULLS"};

static char *take_ident(struct parser *ps)
{
    if (ps->cur.kind != T_IDENT) {
        unexpected(ps);
        return NULL;
    }
    for (size_t i = 0; i < sizeof reserved / sizeof reserved[0]; i++) {
        if (is_kw(&ps->cur, reserved[i])) {
            unexpected(ps);
            return NULL;
        }
    }
    char *s = xstrndup(ps->cur.start, ps->cur.len);
    next(ps);
    return s;
}

static void value_free(struct soql_value *v)
{
    free(v->s);
    v->s = NULL;
}

static int parse_literal(struct parser *ps, struct soql_value *v)
{
    memset(v, 0, sizeof *v);
    struct tok t = ps->cur;
    char *raw = xstrndup(t.start, t.len);
    int rc = 0;
    if (t.kind == T_STRING) {
        struct buf b = {0};
        for (size_t i = 1; i + 1 < t.len; i++) {
            char c = t.start[i];
            if (c == '\\' && i + 2 < t.len) {
                char n = t.start[++i];
                c = n == 'n' ? '\n' : n == 't' ? '\t' : n == 'r' ? '\r' : n;
            }
            buf_putc(&b, c);
        }
        v->kind = SV_STRING;
        v->s = buf_detach(&b, NULL);
    } else if (t.kind == T_NUMBER) {
        v->kind = SV_NUMBER;
        rc = util_parse_double(raw, &v->num);
    } else if (t.kind == T_DATE) {
        v->kind = SV_DATE;
        rc = util_parse_date(raw, &v->ms);
    } else if (t.kind == T_DATETIME) {
        v->kind = SV_DATETIME;
        rc = util_parse_datetime(raw, &v->ms);
    } else if (is_kw(&t, "null")) {
        v->kind = SV_NULL;
    } else if (is_kw(&t, "true") || is_kw(&t, "false")) {
        v->kind = SV_BOOL;
        v->b = is_kw(&t, "true");
    } else {
        rc = -1;
    }
    if (rc < 0) {
        if (t.kind == T_DATE || t.kind == T_DATETIME || t.kind == T_NUMBER)
            fail(ps, "invalid literal: ", raw, strlen(raw), true);
        else
            unexpected(ps);
    }
    free(raw);
    if (rc == 0)
        next(ps);
    return rc;
}

static void cond_free(struct soql_cond *c);
static struct soql_cond *parse_or(struct parser *ps);

static struct soql_cond *cond_new(enum soql_cond_kind kind)
{
    struct soql_cond *c = xcalloc(1, sizeof *c);
    c->kind = kind;
    return c;
}

static struct soql_cond *parse_comparison(struct parser *ps)
{
    struct soql_cond *c = cond_new(SOQL_CMP);
    c->field = take_ident(ps);
    if (!c->field) {
        cond_free(c);
        return NULL;
    }
    static const struct {
        const char *s;
        enum soql_op op;
    } ops[] = {{"=", SOQL_EQ},  {"!=", SOQL_NE}, {"<>", SOQL_NE}, {"<", SOQL_LT},
               {"<=", SOQL_LE}, {">", SOQL_GT},  {">=", SOQL_GE}};
    bool found = false;
    for (size_t i = 0; i < sizeof ops / sizeof ops[0] && !found; i++) {
        if (is_punct(&ps->cur, ops[i].s)) {
            c->op = ops[i].op;
            found = true;
        }
    }
    if (found) {
        next(ps);
    } else if (accept_kw(ps, "LIKE")) {
        c->op = SOQL_LIKE;
    } else if (accept_kw(ps, "IN")) {
        c->op = SOQL_IN;
    } else if (is_kw(&ps->cur, "NOT")) {
        next(ps);
        if (!expect_kw(ps, "IN")) {
            cond_free(c);
            return NULL;
        }
        c->op = SOQL_NOT_IN;
    } else {
        unexpected(ps);
        cond_free(c);
        return NULL;
    }
    if (c->op == SOQL_IN || c->op == SOQL_NOT_IN) {
        if (!expect_punct(ps, "(")) {
            cond_free(c);
            return NULL;
        }
        size_t cap = 0;
        do {
            if (c->n_values >= SOQL_MAX_IN) {
                fail(ps, "", "too many values in IN", 21, false);
                cond_free(c);
                return NULL;
            }
            xgrow(&c->values, &cap, c->n_values + 1, sizeof *c->values);
            if (parse_literal(ps, &c->values[c->n_values]) < 0) {
                cond_free(c);
                return NULL;
            }
            c->n_values++;
        } while (is_punct(&ps->cur, ",") && (next(ps), true));
        if (!expect_punct(ps, ")")) {
            cond_free(c);
            return NULL;
        }
    } else if (parse_literal(ps, &c->value) < 0) {
        cond_free(c);
        return NULL;
    }
    if (c->op == SOQL_LIKE && c->value.kind != SV_STRING) {
        fail(ps, "", "LIKE needs a string literal", 27, false);
        cond_free(c);
        return NULL;
    }
    return c;
}

static struct soql_cond *parse_unary(struct parser *ps)
{
    if (++ps->depth > SOQL_MAX_DEPTH) {
        fail(ps, "", "query is nested too deeply", 26, false);
        return NULL;
    }
    struct soql_cond *c;
    if (accept_kw(ps, "NOT")) {
        struct soql_cond *kid = parse_unary(ps);
        if (!kid) {
            ps->depth--;
            return NULL;
        }
        c = cond_new(SOQL_NOT);
        c->kids = xcalloc(1, sizeof *c->kids);
        c->kids[c->n_kids++] = kid;
    } else if (is_punct(&ps->cur, "(")) {
        next(ps);
        c = parse_or(ps);
        if (c && !expect_punct(ps, ")")) {
            cond_free(c);
            c = NULL;
        }
    } else {
        c = parse_comparison(ps);
    }
    ps->depth--;
    return c;
}

/* cond := unary ((AND unary)* | (OR unary)*): mixing AND and OR needs parentheses. */
static struct soql_cond *parse_or(struct parser *ps)
{
    struct soql_cond *first = parse_unary(ps);
    if (!first)
        return NULL;
    enum soql_cond_kind kind;
    if (is_kw(&ps->cur, "AND"))
        kind = SOQL_AND;
    else if (is_kw(&ps->cur, "OR"))
        kind = SOQL_OR;
    else
        return first;
    struct soql_cond *c = cond_new(kind);
    size_t cap = 0;
    xgrow(&c->kids, &cap, 1, sizeof *c->kids);
    c->kids[c->n_kids++] = first;
    const char *kw = kind == SOQL_AND ? "AND" : "OR";
    const char *other = kind == SOQL_AND ? "OR" : "AND";
    while (accept_kw(ps, kw)) {
        struct soql_cond *k = parse_unary(ps);
        if (!k) {
            cond_free(c);
            return NULL;
        }
        xgrow(&c->kids, &cap, c->n_kids + 1, sizeof *c->kids);
        c->kids[c->n_kids++] = k;
    }
    if (is_kw(&ps->cur, other)) {
        unexpected(ps);
        cond_free(c);
        return NULL;
    }
    return c;
}

static void cond_free(struct soql_cond *c)
{
    if (!c)
        return;
    free(c->field);
    value_free(&c->value);
    for (size_t i = 0; i < c->n_values; i++)
        value_free(&c->values[i]);
    free(c->values);
    for (size_t i = 0; i < c->n_kids; i++)
        cond_free(c->kids[i]);
    free(c->kids);
    free(c);
}

void soql_free(struct soql_query *q)
{
    if (!q)
        return;
    for (size_t i = 0; i < q->n_fields; i++)
        free(q->fields[i]);
    free(q->fields);
    free(q->object);
    cond_free(q->where);
    for (size_t i = 0; i < q->n_order; i++)
        free(q->order[i].field);
    free(q->order);
    free(q);
}

static int parse_count(struct parser *ps, int64_t *out)
{
    if (ps->cur.kind != T_NUMBER) {
        unexpected(ps);
        return -1;
    }
    char *raw = xstrndup(ps->cur.start, ps->cur.len);
    int rc = util_parse_int64(raw, out);
    free(raw);
    if (rc < 0 || *out < 0) {
        fail(ps, "invalid number: ", ps->cur.start, ps->cur.len, true);
        return -1;
    }
    next(ps);
    return 0;
}

struct soql_query *soql_parse(const char *text, char *err, size_t errlen)
{
    if (!text || strlen(text) > SOQL_MAX_LEN) {
        snprintf(err, errlen, "query is empty or longer than %d characters", SOQL_MAX_LEN);
        return NULL;
    }
    struct parser ps = {text, text, {T_EOF, text, 0, 1}, err, errlen, false, 0};
    struct soql_query *q = xcalloc(1, sizeof *q);
    q->limit = -1;
    next(&ps);
    if (!expect_kw(&ps, "SELECT"))
        goto fail;
    if (is_kw(&ps.cur, "COUNT")) {
        next(&ps);
        if (!expect_punct(&ps, "(") || !expect_punct(&ps, ")"))
            goto fail;
        q->count = true;
    } else {
        size_t cap = 0;
        do {
            char *f = take_ident(&ps);
            if (!f)
                goto fail;
            if (q->n_fields >= 1000) {
                free(f);
                fail(&ps, "", "too many fields", 15, false);
                goto fail;
            }
            xgrow(&q->fields, &cap, q->n_fields + 1, sizeof *q->fields);
            q->fields[q->n_fields++] = f;
        } while (is_punct(&ps.cur, ",") && (next(&ps), true));
    }
    if (!expect_kw(&ps, "FROM"))
        goto fail;
    q->object = take_ident(&ps);
    if (!q->object)
        goto fail;
    if (accept_kw(&ps, "WHERE")) {
        q->where = parse_or(&ps);
        if (!q->where)
            goto fail;
    }
    if (accept_kw(&ps, "ORDER")) {
        if (!expect_kw(&ps, "BY"))
            goto fail;
        size_t cap = 0;
        do {
            char *f = take_ident(&ps);
            if (!f)
                goto fail;
            xgrow(&q->order, &cap, q->n_order + 1, sizeof *q->order);
            struct soql_order *o = &q->order[q->n_order++];
            o->field = f;
            o->desc = false;
            if (accept_kw(&ps, "DESC"))
                o->desc = true;
            else
                accept_kw(&ps, "ASC");
            o->nulls_last = o->desc;
            if (accept_kw(&ps, "NULLS")) {
                if (accept_kw(&ps, "LAST"))
                    o->nulls_last = true;
                else if (expect_kw(&ps, "FIRST"))
                    o->nulls_last = false;
                else
                    goto fail;
            }
        } while (is_punct(&ps.cur, ",") && (next(&ps), true));
    }
    if (accept_kw(&ps, "LIMIT") && parse_count(&ps, &q->limit) < 0)
        goto fail;
    if (accept_kw(&ps, "OFFSET") && parse_count(&ps, &q->offset) < 0)
        goto fail;
    if (ps.cur.kind != T_EOF) {
        unexpected(&ps);
        goto fail;
    }
    if (ps.failed)
        goto fail;
    return q;
fail:
    if (!ps.failed)
        snprintf(err, errlen, "malformed query");
    soql_free(q);
    return NULL;
}

int soql_compare(const struct soql_value *a, const struct soql_value *b, bool *ok)
{
    *ok = true;
    if (a->kind == SV_NULL || b->kind == SV_NULL)
        return (a->kind != SV_NULL) - (b->kind != SV_NULL);
    if (a->kind == SV_STRING && b->kind == SV_STRING) {
        if (a->is_id || b->is_id)
            return strncmp(a->s, b->s, 15);
        return strcasecmp(a->s, b->s);
    }
    if (a->kind == SV_NUMBER && b->kind == SV_NUMBER)
        return a->num < b->num ? -1 : a->num > b->num;
    if (a->kind == SV_BOOL && b->kind == SV_BOOL)
        return (int)a->b - (int)b->b;
    if ((a->kind == SV_DATE || a->kind == SV_DATETIME) &&
        (b->kind == SV_DATE || b->kind == SV_DATETIME))
        return a->ms < b->ms ? -1 : a->ms > b->ms;
    *ok = false;
    return 0;
}

static bool cmp_true(enum soql_op op, const struct soql_value *a, const struct soql_value *b)
{
    bool ok;
    if (a->kind == SV_NULL || b->kind == SV_NULL) {
        bool both = a->kind == SV_NULL && b->kind == SV_NULL;
        if (op == SOQL_EQ)
            return both;
        if (op == SOQL_NE)
            return !both;
        return false;
    }
    if (op == SOQL_LIKE)
        return a->kind == SV_STRING && b->kind == SV_STRING && util_glob_ci(b->s, a->s, true);
    int c = soql_compare(a, b, &ok);
    if (!ok)
        return op == SOQL_NE;
    switch (op) {
    case SOQL_EQ:
        return c == 0;
    case SOQL_NE:
        return c != 0;
    case SOQL_LT:
        return c < 0;
    case SOQL_LE:
        return c <= 0;
    case SOQL_GT:
        return c > 0;
    case SOQL_GE:
        return c >= 0;
    default:
        return false;
    }
}

bool soql_eval(const struct soql_cond *c, soql_getter get, void *ctx)
{
    switch (c->kind) {
    case SOQL_AND:
        for (size_t i = 0; i < c->n_kids; i++) {
            if (!soql_eval(c->kids[i], get, ctx))
                return false;
        }
        return true;
    case SOQL_OR:
        for (size_t i = 0; i < c->n_kids; i++) {
            if (soql_eval(c->kids[i], get, ctx))
                return true;
        }
        return false;
    case SOQL_NOT:
        return !soql_eval(c->kids[0], get, ctx);
    case SOQL_CMP:
        break;
    }
    struct soql_value v;
    memset(&v, 0, sizeof v);
    if (!get(ctx, c->field, &v))
        return false;
    if (c->op == SOQL_IN || c->op == SOQL_NOT_IN) {
        bool any = false;
        for (size_t i = 0; i < c->n_values && !any; i++)
            any = cmp_true(SOQL_EQ, &v, &c->values[i]);
        return c->op == SOQL_IN ? any : !any && v.kind != SV_NULL;
    }
    return cmp_true(c->op, &v, &c->value);
}
