/* soql.h: the one place SOQL text is made: what a Salesforce API name is, what a record id is, how
 * a string becomes a SOQL literal, and a small SELECT builder that uses nothing else.
 *
 * Why one place: SOQL travels to Salesforce as text, so a name or value pasted into it unchecked
 * can change the query (SOQL injection: an id `x' OR Name LIKE '%`). These rules are what stop
 * that; callers never paste text into SOQL themselves.
 *
 * Names (soql_name_valid), exactly what is accepted: 1..SOQL_NAME_MAX bytes made of parts joined
 * by "__" (at most SOQL_NAME_PARTS_MAX parts: namespace, name, suffix, component suffix). Every
 * part is non-empty, starts with an ASCII letter, holds only ASCII letters, digits and single
 * underscores, and does not end with '_'. When there are two parts or more the last is a suffix of
 * letters only (c, r, x, e, b, s, mdt, kav, pc, Share, History, ChangeEvent, ... in any case).
 * So Name, AccountId, Budget__c, Account__r, ns__Budget__c, Location__Latitude__s are names;
 * 1Name, _Name, Name_, Na__me2, A___B, Budget__, Name.Id, Na-me, "Na me" and every non-ASCII byte
 * are not. (Relationship paths such as Account.Name are not supported by the builder.)
 *
 * Record ids (soql_id_valid): exactly 15 or 18 ASCII letters and digits (the 18-character form's
 * checksum is not verified; Salesforce answers a wrong one with a query error, not a record).
 *
 * Literals (soql_quote): a string Salesforce can read back byte for byte: valid UTF-8 without
 * control characters (U+0000..U+001F, U+007F..U+009F are refused rather than escaped), quoted in
 * single quotes with each backslash and single quote preceded by a backslash (the two reserved
 * characters of SOQL literals; '"', '%' and '_' stay as they are: the builder makes no LIKE).
 *
 * The builder (soql_build) renders one struct soql_query:
 *   SELECT <field>, ... | COUNT()  FROM <object>
 *   [WHERE <field> IN (<v>, ...) | WHERE <field> > <v>]  [ORDER BY <field> [DESC]]  [LIMIT <n>]
 * The field list drops names equal to an earlier one ignoring ASCII case (Salesforce refuses a
 * field selected twice), keeping the first spelling and the order. Values are record ids (checked,
 * written quoted) or text (quoted). Any invalid name, id, value or shape refuses the whole query:
 * NULL and an error naming what was wrong; never a partial query.
 *
 * Must not: talk to Salesforce, keep state, or accept a name or value because it looks harmless. */
#ifndef SYNKRO_CRM_SOQL_H
#define SYNKRO_CRM_SOQL_H

#include "base/strbuf.h"

#include <stdbool.h>
#include <stddef.h>

#define SOQL_NAME_MAX       255 /* bytes of an API name (as model/mapping.h's MAPPING_API_NAME_MAX) */
#define SOQL_NAME_PARTS_MAX 4   /* ns__Location__Latitude__s */
#define SOQL_ID_SHORT       15
#define SOQL_ID_LONG        18

/* True when name is a Salesforce API name by the rules above. NULL is not. */
bool soql_name_valid(const char *name);
/* True when id is a Salesforce record id: 15 or 18 ASCII letters and digits. NULL is not. */
bool soql_id_valid(const char *id);
/* True when s can be written as a SOQL literal: valid UTF-8 (no overlong forms, surrogates or
 * code points past U+10FFFF) without C0/C1 control characters or DEL. NULL is not. */
bool soql_text_quotable(const char *s);
/* Appends s to sb as a SOQL literal, quotes included ('Bob\'s \\ BBQ'). 0, or -1 with sb
 * unchanged when s is not quotable or memory runs out. */
int soql_quote(struct strbuf *sb, const char *s);

enum soql_op {
    SOQL_IN = 0, /* <field> IN (<v>, ...): one value or more */
    SOQL_GT,     /* <field> > <v>: exactly one value (paging by id) */
};

enum soql_value_kind {
    SOQL_IDS = 0, /* record ids: each must pass soql_id_valid */
    SOQL_TEXT,    /* any quotable text */
};

struct soql_where {
    const char *field; /* an API name */
    enum soql_op op;
    enum soql_value_kind kind;
    const char *const *values; /* borrowed */
    size_t nvalues;
};

struct soql_query {
    const char *const *fields; /* the SELECT list (borrowed), at least one unless count */
    size_t nfields;
    bool count;                     /* SELECT COUNT(): no fields, no ORDER BY */
    const char *object;             /* FROM */
    const struct soql_where *where; /* NULL: no WHERE */
    const char *order_by;           /* NULL: no ORDER BY */
    bool descending;                /* ORDER BY ... DESC */
    long limit;                     /* 0: no LIMIT; otherwise at least 1 */
};

/* The SOQL text of q (caller frees), or NULL with err ("\"Na-me\" is not a Salesforce API name
 * (...)", "the query's object: ...", "out of memory") when anything in q is invalid. */
char *soql_build(const struct soql_query *q, char *err, size_t errlen);
/* The checks of soql_build that do not depend on the WHERE values: every name (fields, object,
 * WHERE field, ORDER BY field) and the query's shape, for callers that build one query per chunk
 * of values and want to refuse a bad mapping once. 0, or -1 with err as soql_build gives it. */
int soql_check_names(const struct soql_query *q, char *err, size_t errlen);

#endif
