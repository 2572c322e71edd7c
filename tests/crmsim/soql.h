/* soql.h: a parser and evaluator for the SOQL subset crmsim serves.
 *
 * Grammar: SELECT (COUNT() | field[, field]...) FROM object [WHERE cond] [ORDER BY field [ASC|DESC]
 * [NULLS FIRST|LAST][, ...]] [LIMIT n] [OFFSET n], where cond combines comparisons (=, !=, <>, <,
 * <=, >, >=, LIKE, IN (...), NOT IN (...)) with AND, OR, NOT and parentheses (AND and OR may not be
 * mixed without parentheses, as in Salesforce). Literals: 'strings' (with \' \\ \n escapes),
 * numbers, true/false, null, date (2024-01-01) and datetime (2024-01-01T00:00:00Z, offsets allowed)
 * literals. Pure: no simulator state; field names are resolved by the caller (salesforce_query.c).
 * Must not: know about describes or records. */
#ifndef SYNKRO_TESTS_CRMSIM_SOQL_H
#define SYNKRO_TESTS_CRMSIM_SOQL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum soql_kind { SV_NULL, SV_STRING, SV_NUMBER, SV_BOOL, SV_DATE, SV_DATETIME };

struct soql_value {
    enum soql_kind kind;
    char *s; /* SV_STRING (owned by literals; borrowed in record values) */
    double num;
    bool b;
    int64_t ms;
    bool is_id; /* compare as Salesforce ids (first 15 characters, case-sensitive) */
};

enum soql_op {
    SOQL_EQ,
    SOQL_NE,
    SOQL_LT,
    SOQL_LE,
    SOQL_GT,
    SOQL_GE,
    SOQL_LIKE,
    SOQL_IN,
    SOQL_NOT_IN
};
enum soql_cond_kind { SOQL_CMP, SOQL_AND, SOQL_OR, SOQL_NOT };

struct soql_cond {
    enum soql_cond_kind kind;
    enum soql_op op;
    char *field;
    struct soql_value value;
    struct soql_value *values; /* IN / NOT IN */
    size_t n_values;
    struct soql_cond **kids;
    size_t n_kids;
};

struct soql_order {
    char *field;
    bool desc;
    bool nulls_last;
};

struct soql_query {
    bool count;
    char **fields;
    size_t n_fields;
    char *object;
    struct soql_cond *where;
    struct soql_order *order;
    size_t n_order;
    int64_t limit;  /* -1 = none */
    int64_t offset; /* 0 = none */
};

/* Parses text. NULL with err ("unexpected token: 'x' at column N") on failure. Free with soql_free.
 */
struct soql_query *soql_parse(const char *text, char *err, size_t errlen);
void soql_free(struct soql_query *q);

/* Fetches a record's value of field into out (strings borrowed). false when the field is unknown.
 */
typedef bool (*soql_getter)(void *ctx, const char *field, struct soql_value *out);
bool soql_eval(const struct soql_cond *c, soql_getter get, void *ctx);
/* Orders two values (nulls first); *ok false when the kinds cannot be compared. */
int soql_compare(const struct soql_value *a, const struct soql_value *b, bool *ok);

#endif
