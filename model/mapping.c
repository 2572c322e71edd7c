/* mapping.c: the sync mapping document: JSON <-> struct mapping, defaults, rule directions, and
 * the problem list.
 *
 * Owns the member tables of every object in the document (known keys, for unknown_member), the
 * enum name tables, the name syntax rules (API names go into URLs and SOQL later: Salesforce names
 * must pass crm/soql's soql_name_valid, the one definition of a Salesforce API name; HubSpot
 * names are letters, digits, '_' and for object types '-'), and the serialiser.
 *
 * Design: the parser walks the document once and keeps going after a problem, so one call
 * reports everything; it fills the struct as it goes and throws it away if any problem was
 * added. Paths are built in fixed buffers ("fields[12].value_map[\"In Progress\"]"). The
 * serialiser writes members in a fixed order with defaults explicit.
 *
 * Must not: know CRM schemas, log, or keep global mutable state. */
#include "model/mapping.h"

#include "crm/soql.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

_Static_assert(SOQL_NAME_MAX == MAPPING_API_NAME_MAX,
               "a Salesforce name's length limit has one value (too_long before invalid_name)");

/* ---- problem list ---- */

void problem_list_init(struct problem_list *list)
{
    if (list == NULL)
        return;
    list->items = NULL;
    list->count = 0;
    list->cap = 0;
    list->out_of_memory = false;
}

void problem_list_free(struct problem_list *list)
{
    if (list == NULL)
        return;
    free(list->items);
    problem_list_init(list);
}

int problem_list_add(struct problem_list *list, enum problem_severity severity, const char *path,
                     const char *code, const char *fmt, ...)
{
    struct problem *p;

    if (list == NULL || code == NULL)
        return -1;
    if (list->count == list->cap) {
        size_t cap = list->cap > 0 ? list->cap * 2 : 8;
        struct problem *items;

        if (cap > SIZE_MAX / sizeof(*items)) {
            list->out_of_memory = true;
            return -1;
        }
        items = realloc(list->items, cap * sizeof(*items));
        if (items == NULL) {
            list->out_of_memory = true;
            return -1;
        }
        list->items = items;
        list->cap = cap;
    }
    p = &list->items[list->count++];
    p->severity = severity;
    snprintf(p->path, sizeof(p->path), "%s", path != NULL ? path : "");
    snprintf(p->code, sizeof(p->code), "%s", code);
    p->message[0] = '\0';
    if (fmt != NULL) {
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(p->message, sizeof(p->message), fmt, ap);
        va_end(ap);
    }
    return 0;
}

bool problem_list_has_errors(const struct problem_list *list)
{
    if (list == NULL)
        return false;
    if (list->out_of_memory)
        return true;
    for (size_t i = 0; i < list->count; i++) {
        if (list->items[i].severity == PROBLEM_ERROR)
            return true;
    }
    return false;
}

size_t problem_list_count(const struct problem_list *list, enum problem_severity severity)
{
    size_t n = 0;

    for (size_t i = 0; list != NULL && i < list->count; i++)
        n += list->items[i].severity == severity;
    return n;
}

const struct problem *problem_list_find(const struct problem_list *list, const char *code,
                                        const char *path)
{
    for (size_t i = 0; list != NULL && code != NULL && i < list->count; i++) {
        const struct problem *p = &list->items[i];

        if (strcmp(p->code, code) == 0 && (path == NULL || strcmp(p->path, path) == 0))
            return p;
    }
    return NULL;
}

const char *problem_severity_name(enum problem_severity severity)
{
    return severity == PROBLEM_WARNING ? "warning" : "error";
}

/* Adds key:value to obj, releasing value on failure. Returns 0 or -1. */
static int put(json_object *obj, const char *key, json_object *value)
{
    if (value == NULL)
        return -1;
    if (json_object_object_add(obj, key, value) != 0) {
        json_object_put(value);
        return -1;
    }
    return 0;
}

/* A JSON string, or JSON null (a NULL json_object) for NULL; *failed set when memory ran out. */
static json_object *str_or_null(const char *s, int *failed)
{
    json_object *v;

    if (s == NULL)
        return NULL;
    v = json_object_new_string(s);
    if (v == NULL)
        *failed = 1;
    return v;
}

/* Adds a string member (JSON null for NULL). Returns 0 or -1. */
static int put_str(json_object *obj, const char *key, const char *s)
{
    int failed = 0;
    json_object *v = str_or_null(s, &failed);

    if (failed)
        return -1;
    if (v == NULL)
        return json_object_object_add(obj, key, NULL) != 0 ? -1 : 0;
    return put(obj, key, v);
}

json_object *problem_list_to_json(const struct problem_list *list)
{
    json_object *arr = json_object_new_array();

    if (arr == NULL)
        return NULL;
    for (size_t i = 0; list != NULL && i < list->count; i++) {
        const struct problem *p = &list->items[i];
        json_object *o = json_object_new_object();
        int rc = 0;

        if (o == NULL || json_object_array_add(arr, o) != 0) {
            json_object_put(o);
            json_object_put(arr);
            return NULL;
        }
        rc |= put_str(o, "path", p->path);
        rc |= put_str(o, "code", p->code);
        rc |= put_str(o, "severity", problem_severity_name(p->severity));
        rc |= put_str(o, "message", p->message);
        if (rc != 0) {
            json_object_put(arr);
            return NULL;
        }
    }
    return arr;
}

/* ---- name tables ---- */

static const char *const state_names[] = {
    [MAPPING_STATE_DRAFT] = "draft",
    [MAPPING_STATE_ENABLED] = "enabled",
    [MAPPING_STATE_PAUSED] = "paused",
};

static const char *const rule_names[] = {
    [FIELD_RULE_TWO_WAY] = "two_way",
    [FIELD_RULE_PREFER_SALESFORCE_UNLESS_BLANK] = "prefer_salesforce_unless_blank",
    [FIELD_RULE_ALWAYS_SALESFORCE] = "always_salesforce",
    [FIELD_RULE_ALWAYS_HUBSPOT] = "always_hubspot",
    [FIELD_RULE_DONT_SYNC] = "dont_sync",
};

static const unsigned rule_directions[] = {
    [FIELD_RULE_TWO_WAY] = MAPPING_DIR_BOTH,
    [FIELD_RULE_PREFER_SALESFORCE_UNLESS_BLANK] = MAPPING_DIR_BOTH,
    [FIELD_RULE_ALWAYS_SALESFORCE] = MAPPING_DIR_SF_TO_HS,
    [FIELD_RULE_ALWAYS_HUBSPOT] = MAPPING_DIR_HS_TO_SF,
    [FIELD_RULE_DONT_SYNC] = MAPPING_DIR_NONE,
};

static const char *const delete_names[] = {
    [MAPPING_DELETE_NONE] = "none",
    [MAPPING_DELETE_DELETE] = "delete",
};

static const char *const winner_names[] = {
    [MAPPING_WINNER_SALESFORCE] = "salesforce",
    [MAPPING_WINNER_HUBSPOT] = "hubspot",
};

static int name_index(const char *const *names, size_t n, const char *name)
{
    for (size_t i = 0; name != NULL && i < n; i++) {
        if (names[i] != NULL && strcmp(names[i], name) == 0)
            return (int)i;
    }
    return -1;
}

static const char *index_name(const char *const *names, size_t n, unsigned i)
{
    return i < n && names[i] != NULL ? names[i] : "unknown";
}

const char *mapping_state_name(enum mapping_state state)
{
    return index_name(state_names, COUNT(state_names), (unsigned)state);
}

int mapping_state_from_name(const char *name, enum mapping_state *out)
{
    int i = name_index(state_names, COUNT(state_names), name);

    if (i < 0 || out == NULL)
        return -1;
    *out = (enum mapping_state)i;
    return 0;
}

const char *mapping_field_rule_name(enum field_rule rule)
{
    return index_name(rule_names, COUNT(rule_names), (unsigned)rule);
}

int mapping_field_rule_from_name(const char *name, enum field_rule *out)
{
    int i = name_index(rule_names, COUNT(rule_names), name);

    if (i < 0 || out == NULL)
        return -1;
    *out = (enum field_rule)i;
    return 0;
}

const char *mapping_delete_name(enum mapping_delete on_delete)
{
    return index_name(delete_names, COUNT(delete_names), (unsigned)on_delete);
}

const char *mapping_winner_name(enum mapping_winner winner)
{
    return index_name(winner_names, COUNT(winner_names), (unsigned)winner);
}

unsigned mapping_field_directions(enum field_rule rule)
{
    return (unsigned)rule < COUNT(rule_directions) ? rule_directions[rule] : MAPPING_DIR_NONE;
}

unsigned mapping_record_directions(const struct mapping *m)
{
    unsigned d = MAPPING_DIR_NONE;

    if (m == NULL)
        return d;
    if (m->salesforce_to_hubspot.create || m->salesforce_to_hubspot.update)
        d |= MAPPING_DIR_SF_TO_HS;
    if (m->hubspot_to_salesforce.create || m->hubspot_to_salesforce.update)
        d |= MAPPING_DIR_HS_TO_SF;
    return d;
}

/* ---- free / equal ---- */

static void field_clear(struct mapping_field *f)
{
    free(f->salesforce);
    free(f->hubspot);
    for (size_t i = 0; i < f->n_value_map; i++) {
        free(f->value_map[i].salesforce);
        free(f->value_map[i].hubspot);
    }
    free(f->value_map);
}

static void association_clear(struct mapping_association *a)
{
    free(a->salesforce_field);
    free(a->hubspot_object);
    free(a->resolver_hubspot_property);
}

void mapping_free(struct mapping *m)
{
    if (m == NULL)
        return;
    free(m->name);
    free(m->salesforce_object);
    free(m->hubspot_object);
    free(m->identity_hubspot_property);
    free(m->identity_salesforce_field);
    for (size_t i = 0; i < m->n_fields; i++)
        field_clear(&m->fields[i]);
    free(m->fields);
    for (size_t i = 0; i < m->n_associations; i++)
        association_clear(&m->associations[i]);
    free(m->associations);
    free(m);
}

static bool str_eq(const char *a, const char *b)
{
    if (a == NULL || b == NULL)
        return a == b;
    return strcmp(a, b) == 0;
}

static bool rules_equal(const struct mapping_direction_rules *a,
                        const struct mapping_direction_rules *b)
{
    return a->create == b->create && a->update == b->update && a->on_delete == b->on_delete;
}

static bool field_equal(const struct mapping_field *a, const struct mapping_field *b)
{
    if (!str_eq(a->salesforce, b->salesforce) || !str_eq(a->hubspot, b->hubspot) ||
        a->rule != b->rule || a->n_value_map != b->n_value_map)
        return false;
    for (size_t i = 0; i < a->n_value_map; i++) {
        if (!str_eq(a->value_map[i].salesforce, b->value_map[i].salesforce) ||
            !str_eq(a->value_map[i].hubspot, b->value_map[i].hubspot))
            return false;
    }
    return true;
}

static bool association_equal(const struct mapping_association *a,
                              const struct mapping_association *b)
{
    if (!str_eq(a->salesforce_field, b->salesforce_field) ||
        !str_eq(a->hubspot_object, b->hubspot_object) ||
        a->has_association_type_id != b->has_association_type_id ||
        (a->has_association_type_id && a->association_type_id != b->association_type_id) ||
        a->enabled != b->enabled || a->resolver != b->resolver)
        return false;
    if (a->resolver == MAPPING_RESOLVER_MAPPING)
        return a->resolver_mapping_id == b->resolver_mapping_id;
    return str_eq(a->resolver_hubspot_property, b->resolver_hubspot_property);
}

bool mapping_equal(const struct mapping *a, const struct mapping *b)
{
    if (a == NULL || b == NULL)
        return a == b;
    if (a->has_id != b->has_id || (a->has_id && a->id != b->id) ||
        a->has_version != b->has_version || (a->has_version && a->version != b->version) ||
        !str_eq(a->name, b->name) || a->state != b->state ||
        !str_eq(a->salesforce_object, b->salesforce_object) ||
        !str_eq(a->hubspot_object, b->hubspot_object) ||
        !rules_equal(&a->salesforce_to_hubspot, &b->salesforce_to_hubspot) ||
        !rules_equal(&a->hubspot_to_salesforce, &b->hubspot_to_salesforce) ||
        a->conflict_winner != b->conflict_winner ||
        !str_eq(a->identity_hubspot_property, b->identity_hubspot_property) ||
        !str_eq(a->identity_salesforce_field, b->identity_salesforce_field) ||
        a->n_fields != b->n_fields || a->n_associations != b->n_associations)
        return false;
    for (size_t i = 0; i < a->n_fields; i++) {
        if (!field_equal(&a->fields[i], &b->fields[i]))
            return false;
    }
    for (size_t i = 0; i < a->n_associations; i++) {
        if (!association_equal(&a->associations[i], &b->associations[i]))
            return false;
    }
    return true;
}

/* ---- parser ---- */

struct parser {
    struct problem_list *problems;
    size_t added; /* problems added by this parse */
    bool nomem;
};

static void problem(struct parser *ps, const char *path, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void problem(struct parser *ps, const char *path, const char *code, const char *fmt, ...)
{
    char msg[PROBLEM_MESSAGE_MAX];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (problem_list_add(ps->problems, PROBLEM_ERROR, path, code, "%s", msg) < 0)
        ps->nomem = true;
    ps->added++;
}

static char *pdup(struct parser *ps, const char *s)
{
    char *d;

    if (s == NULL)
        return NULL;
    d = strdup(s);
    if (d == NULL)
        ps->nomem = true;
    return d;
}

static void *pcalloc(struct parser *ps, size_t n, size_t size)
{
    void *p = calloc(n > 0 ? n : 1, size);

    if (p == NULL)
        ps->nomem = true;
    return p;
}

/* "prefix.key", or "key" at the root. */
static void join(char *out, size_t outlen, const char *prefix, const char *key)
{
    if (prefix[0] == '\0')
        snprintf(out, outlen, "%s", key);
    else
        snprintf(out, outlen, "%s.%s", prefix, key);
}

/* The member, or NULL when absent or JSON null. */
static json_object *get(json_object *obj, const char *key)
{
    json_object *v = NULL;

    if (!json_object_object_get_ex(obj, key, &v))
        return NULL;
    return v;
}

static const char *json_type_word(json_object *v)
{
    switch (json_object_get_type(v)) {
    case json_type_boolean:
        return "true/false";
    case json_type_double:
    case json_type_int:
        return "a number";
    case json_type_object:
        return "an object";
    case json_type_array:
        return "an array";
    case json_type_string:
        return "a string";
    case json_type_null:
        break;
    }
    return "null";
}

/* Reports every member of obj not in allowed[] (typos such as "conflict_winer" are refused
 * rather than silently ignored). */
static void check_members(struct parser *ps, json_object *obj, const char *path,
                          const char *const *allowed, size_t n_allowed)
{
    struct json_object_iterator it = json_object_iter_begin(obj);
    struct json_object_iterator end = json_object_iter_end(obj);

    for (; !json_object_iter_equal(&it, &end); json_object_iter_next(&it)) {
        const char *key = json_object_iter_peek_name(&it);
        bool known = false;
        char mpath[PROBLEM_PATH_MAX];

        for (size_t i = 0; i < n_allowed && !known; i++)
            known = strcmp(allowed[i], key) == 0;
        if (known)
            continue;
        join(mpath, sizeof(mpath), path, key);
        problem(ps, mpath, "unknown_member",
                "\"%s\" is not a member of %s; remove it or check its spelling", key,
                path[0] != '\0' ? path : "the mapping");
    }
}

/* Returns obj[key] if it is an object; reports wrong_type otherwise; NULL when absent. */
static json_object *get_object(struct parser *ps, json_object *obj, const char *key,
                               const char *path)
{
    json_object *v = get(obj, key);

    if (v != NULL && !json_object_is_type(v, json_type_object)) {
        problem(ps, path, "wrong_type", "%s must be an object, not %s", path, json_type_word(v));
        return NULL;
    }
    return v;
}

enum name_kind {
    NAME_TEXT,          /* free text, "name" of the mapping */
    NAME_SALESFORCE,    /* API name: soql_name_valid (crm/soql.h) */
    NAME_HUBSPOT,       /* property name: letter, then letters, digits, '_' */
    NAME_HUBSPOT_OBJECT /* object type: letters, digits, '_', '-' */
};

static bool name_syntax_ok(const char *s, enum name_kind kind)
{
    if (kind == NAME_TEXT)
        return true;
    if (kind == NAME_SALESFORCE)
        return soql_name_valid(s);
    if (kind != NAME_HUBSPOT_OBJECT &&
        !((s[0] >= 'A' && s[0] <= 'Z') || (s[0] >= 'a' && s[0] <= 'z')))
        return false;
    for (const char *c = s; *c != '\0'; c++) {
        bool ok = (*c >= 'A' && *c <= 'Z') || (*c >= 'a' && *c <= 'z') ||
                  (*c >= '0' && *c <= '9') || *c == '_' ||
                  (kind == NAME_HUBSPOT_OBJECT && *c == '-');

        if (!ok)
            return false;
    }
    return true;
}

static const char *name_rule(enum name_kind kind)
{
    switch (kind) {
    case NAME_SALESFORCE:
        return "a Salesforce API name (letters, digits and single underscores, starting with a "
               "letter, not ending with '_'; \"__\" only after a namespace or before a suffix "
               "such as __c, e.g. Budget__c)";
    case NAME_HUBSPOT:
        return "a HubSpot internal property name (letters, digits and underscores, starting with "
               "a letter, e.g. project_budget)";
    case NAME_HUBSPOT_OBJECT:
        return "a HubSpot object type id such as 2-3465404 or a fully qualified name such as "
               "p62515_project";
    case NAME_TEXT:
        break;
    }
    return "text";
}

/* Reads a string member. Returns the string (owned by the JSON) or NULL when absent/invalid;
 * reports missing (when required), wrong_type, empty, too_long, invalid_name. */
static const char *get_string(struct parser *ps, json_object *obj, const char *key,
                              const char *path, bool required, enum name_kind kind)
{
    json_object *v = get(obj, key);
    size_t max = kind == NAME_TEXT ? MAPPING_NAME_MAX : MAPPING_API_NAME_MAX;
    const char *s;

    if (v == NULL) {
        if (required)
            problem(ps, path, "missing", "%s is required", path);
        return NULL;
    }
    if (!json_object_is_type(v, json_type_string)) {
        problem(ps, path, "wrong_type", "%s must be a string, not %s", path, json_type_word(v));
        return NULL;
    }
    s = json_object_get_string(v);
    if (s[0] == '\0') {
        problem(ps, path, "empty", "%s must not be empty", path);
        return NULL;
    }
    if (strlen(s) != (size_t)json_object_get_string_len(v)) {
        problem(ps, path, "invalid_value", "%s must not contain NUL characters", path);
        return NULL;
    }
    if (strlen(s) > max) {
        problem(ps, path, "too_long", "%s is longer than %zu bytes", path, max);
        return NULL;
    }
    if (!name_syntax_ok(s, kind)) {
        problem(ps, path, "invalid_name", "%s must be %s", path, name_rule(kind));
        return NULL;
    }
    return s;
}

static bool get_bool(struct parser *ps, json_object *obj, const char *key, const char *path,
                     bool dflt)
{
    json_object *v = get(obj, key);

    if (v == NULL)
        return dflt;
    if (!json_object_is_type(v, json_type_boolean)) {
        problem(ps, path, "wrong_type", "%s must be true or false, not %s", path,
                json_type_word(v));
        return dflt;
    }
    return json_object_get_boolean(v) != 0;
}

/* Reads an enum member by its name table; reports wrong_type / invalid_value listing the
 * allowed names. Returns the index, or dflt when absent or invalid. */
static int get_enum(struct parser *ps, json_object *obj, const char *key, const char *path,
                    const char *const *names, size_t n, int dflt)
{
    json_object *v = get(obj, key);
    char allowed[256] = "";
    int i;

    if (v == NULL)
        return dflt;
    if (!json_object_is_type(v, json_type_string)) {
        problem(ps, path, "wrong_type", "%s must be a string, not %s", path, json_type_word(v));
        return dflt;
    }
    i = name_index(names, n, json_object_get_string(v));
    if (i >= 0)
        return i;
    for (size_t k = 0; k < n; k++) {
        size_t used = strlen(allowed);

        snprintf(allowed + used, sizeof(allowed) - used, "%s\"%s\"", k > 0 ? ", " : "", names[k]);
    }
    problem(ps, path, "invalid_value", "%s must be one of %s", path, allowed);
    return dflt;
}

/* Reads a positive integer member (JSON integer). Returns true and sets *out when present and
 * valid; reports wrong_type / invalid_value. */
static bool get_positive_int(struct parser *ps, json_object *obj, const char *key, const char *path,
                             int64_t *out)
{
    json_object *v = get(obj, key);
    int64_t n;

    if (v == NULL)
        return false;
    if (!json_object_is_type(v, json_type_int)) {
        problem(ps, path, "wrong_type", "%s must be a whole number, not %s", path,
                json_type_word(v));
        return false;
    }
    errno = 0;
    n = json_object_get_int64(v);
    if (errno != 0 || n <= 0 || n == INT64_MAX) {
        problem(ps, path, "invalid_value", "%s must be a positive whole number", path);
        return false;
    }
    *out = n;
    return true;
}

/* Returns the array member, reporting wrong_type, and too_many above max. NULL when absent or
 * unusable. */
static json_object *get_array(struct parser *ps, json_object *obj, const char *key, size_t max,
                              const char *what)
{
    json_object *v = get(obj, key);

    if (v == NULL)
        return NULL;
    if (!json_object_is_type(v, json_type_array)) {
        problem(ps, key, "wrong_type", "%s must be an array, not %s", key, json_type_word(v));
        return NULL;
    }
    if (json_object_array_length(v) > max) {
        problem(ps, key, "too_many", "a mapping can have at most %zu %s; this one has %zu", max,
                what, json_object_array_length(v));
        return NULL;
    }
    return v;
}

static void parse_direction(struct parser *ps, json_object *rules, const char *key,
                            struct mapping_direction_rules *out)
{
    static const char *const members[] = {"create", "update", "delete"};
    char path[PROBLEM_PATH_MAX], mpath[PROBLEM_PATH_MAX];
    json_object *d;

    snprintf(path, sizeof(path), "rules.%s", key);
    d = get_object(ps, rules, key, path);
    if (d == NULL)
        return;
    check_members(ps, d, path, members, COUNT(members));
    join(mpath, sizeof(mpath), path, "create");
    out->create = get_bool(ps, d, "create", mpath, true);
    join(mpath, sizeof(mpath), path, "update");
    out->update = get_bool(ps, d, "update", mpath, true);
    join(mpath, sizeof(mpath), path, "delete");
    out->on_delete = (enum mapping_delete)get_enum(ps, d, "delete", mpath, delete_names,
                                                   COUNT(delete_names), MAPPING_DELETE_NONE);
}

static void parse_rules(struct parser *ps, json_object *doc, struct mapping *m)
{
    static const char *const members[] = {"salesforce_to_hubspot", "hubspot_to_salesforce",
                                          "conflict_winner"};
    json_object *rules = get_object(ps, doc, "rules", "rules");

    if (rules == NULL)
        return;
    check_members(ps, rules, "rules", members, COUNT(members));
    parse_direction(ps, rules, "salesforce_to_hubspot", &m->salesforce_to_hubspot);
    parse_direction(ps, rules, "hubspot_to_salesforce", &m->hubspot_to_salesforce);
    m->conflict_winner =
        (enum mapping_winner)get_enum(ps, rules, "conflict_winner", "rules.conflict_winner",
                                      winner_names, COUNT(winner_names), MAPPING_WINNER_SALESFORCE);
}

static void parse_identity(struct parser *ps, json_object *doc, struct mapping *m)
{
    static const char *const members[] = {"hubspot_property", "salesforce_field"};
    json_object *id = get_object(ps, doc, "identity", "identity");

    if (id == NULL)
        return;
    check_members(ps, id, "identity", members, COUNT(members));
    m->identity_hubspot_property =
        pdup(ps, get_string(ps, id, "hubspot_property", "identity.hubspot_property", false,
                            NAME_HUBSPOT));
    m->identity_salesforce_field =
        pdup(ps, get_string(ps, id, "salesforce_field", "identity.salesforce_field", false,
                            NAME_SALESFORCE));
}

void mapping_path_key(char *out, size_t outlen, const char *prefix, const char *key)
{
    if (out == NULL || outlen == 0)
        return;
    if (prefix == NULL || key == NULL) {
        out[0] = '\0';
        return;
    }
    size_t n = (size_t)snprintf(out, outlen, "%s[\"", prefix);

    for (const char *c = key; *c != '\0' && n + 4 < outlen; c++) {
        if (*c == '"' || *c == '\\')
            out[n++] = '\\';
        out[n++] = *c;
    }
    if (n + 3 <= outlen) {
        out[n++] = '"';
        out[n++] = ']';
    }
    out[n < outlen ? n : outlen - 1] = '\0';
}

static void parse_value_map(struct parser *ps, json_object *fd, const char *fpath,
                            struct mapping_field *f)
{
    char path[PROBLEM_PATH_MAX];
    json_object *vm;
    size_t n, i = 0;

    join(path, sizeof(path), fpath, "value_map");
    vm = get_object(ps, fd, "value_map", path);
    if (vm == NULL)
        return;
    n = (size_t)json_object_object_length(vm);
    if (n > MAPPING_MAX_VALUE_MAP) {
        problem(ps, path, "too_many", "%s can have at most %d entries; this one has %zu", path,
                MAPPING_MAX_VALUE_MAP, n);
        return;
    }
    f->value_map = pcalloc(ps, n, sizeof(*f->value_map));
    if (f->value_map == NULL)
        return;
    struct json_object_iterator it = json_object_iter_begin(vm);
    struct json_object_iterator end = json_object_iter_end(vm);

    for (; !json_object_iter_equal(&it, &end) && i < n; json_object_iter_next(&it)) {
        const char *key = json_object_iter_peek_name(&it);
        json_object *v = json_object_iter_peek_value(&it);
        char vpath[PROBLEM_PATH_MAX];

        mapping_path_key(vpath, sizeof(vpath), path, key);
        if (key[0] == '\0') {
            problem(ps, vpath, "empty",
                    "%s has an empty Salesforce value; use the picklist's API value as the key",
                    path);
            continue;
        }
        if (strlen(key) > MAPPING_VALUE_MAX) {
            problem(ps, vpath, "too_long", "a value_map key is longer than %d bytes",
                    MAPPING_VALUE_MAX);
            continue;
        }
        if (v == NULL || !json_object_is_type(v, json_type_string)) {
            problem(ps, vpath, "wrong_type",
                    "%s must be a string (the HubSpot option value), not %s", vpath,
                    json_type_word(v));
            continue;
        }
        if (json_object_get_string_len(v) == 0) {
            problem(ps, vpath, "empty", "%s must name a HubSpot option value", vpath);
            continue;
        }
        if ((size_t)json_object_get_string_len(v) > MAPPING_VALUE_MAX) {
            problem(ps, vpath, "too_long", "%s is longer than %d bytes", vpath, MAPPING_VALUE_MAX);
            continue;
        }
        f->value_map[i].salesforce = pdup(ps, key);
        f->value_map[i].hubspot = pdup(ps, json_object_get_string(v));
        f->n_value_map = ++i;
    }
}

static void parse_field(struct parser *ps, json_object *fd, size_t index, struct mapping_field *f)
{
    static const char *const members[] = {"salesforce", "hubspot", "rule", "value_map"};
    char path[PROBLEM_PATH_MAX], mpath[PROBLEM_PATH_MAX];

    snprintf(path, sizeof(path), "fields[%zu]", index);
    if (!json_object_is_type(fd, json_type_object)) {
        problem(ps, path, "wrong_type", "%s must be an object, not %s", path, json_type_word(fd));
        return;
    }
    check_members(ps, fd, path, members, COUNT(members));
    join(mpath, sizeof(mpath), path, "salesforce");
    f->salesforce = pdup(ps, get_string(ps, fd, "salesforce", mpath, true, NAME_SALESFORCE));
    join(mpath, sizeof(mpath), path, "hubspot");
    f->hubspot = pdup(ps, get_string(ps, fd, "hubspot", mpath, true, NAME_HUBSPOT));
    join(mpath, sizeof(mpath), path, "rule");
    f->rule = (enum field_rule)get_enum(ps, fd, "rule", mpath, rule_names, COUNT(rule_names),
                                        FIELD_RULE_TWO_WAY);
    parse_value_map(ps, fd, path, f);
}

static void parse_resolver(struct parser *ps, json_object *ad, const char *apath,
                           struct mapping_association *a)
{
    static const char *const members[] = {"mapping_id", "hubspot_property"};
    char path[PROBLEM_PATH_MAX], mpath[PROBLEM_PATH_MAX];
    json_object *r;
    bool has_mapping, has_property;
    const char *prop;

    join(path, sizeof(path), apath, "resolver");
    r = get_object(ps, ad, "resolver", path);
    if (r == NULL)
        return;
    check_members(ps, r, path, members, COUNT(members));
    has_mapping = get(r, "mapping_id") != NULL;
    has_property = get(r, "hubspot_property") != NULL;
    if (has_mapping == has_property) {
        problem(ps, path, "invalid_value",
                "%s must have exactly one of \"mapping_id\" (a synkro mapping of the target "
                "object) or \"hubspot_property\" (a property of the target holding the "
                "Salesforce id)",
                path);
        return;
    }
    if (has_mapping) {
        join(mpath, sizeof(mpath), path, "mapping_id");
        if (get_positive_int(ps, r, "mapping_id", mpath, &a->resolver_mapping_id))
            a->resolver = MAPPING_RESOLVER_MAPPING;
        return;
    }
    join(mpath, sizeof(mpath), path, "hubspot_property");
    prop = get_string(ps, r, "hubspot_property", mpath, true, NAME_HUBSPOT);
    if (prop != NULL) {
        a->resolver_hubspot_property = pdup(ps, prop);
        a->resolver = MAPPING_RESOLVER_HUBSPOT_PROPERTY;
    }
}

static void parse_association(struct parser *ps, json_object *ad, size_t index,
                              struct mapping_association *a)
{
    static const char *const members[] = {"salesforce_field", "hubspot_object",
                                          "association_type_id", "enabled", "resolver"};
    char path[PROBLEM_PATH_MAX], mpath[PROBLEM_PATH_MAX];

    snprintf(path, sizeof(path), "associations[%zu]", index);
    a->enabled = true;
    if (!json_object_is_type(ad, json_type_object)) {
        problem(ps, path, "wrong_type", "%s must be an object, not %s", path, json_type_word(ad));
        return;
    }
    check_members(ps, ad, path, members, COUNT(members));
    join(mpath, sizeof(mpath), path, "salesforce_field");
    a->salesforce_field =
        pdup(ps, get_string(ps, ad, "salesforce_field", mpath, true, NAME_SALESFORCE));
    join(mpath, sizeof(mpath), path, "hubspot_object");
    a->hubspot_object =
        pdup(ps, get_string(ps, ad, "hubspot_object", mpath, true, NAME_HUBSPOT_OBJECT));
    join(mpath, sizeof(mpath), path, "association_type_id");
    a->has_association_type_id =
        get_positive_int(ps, ad, "association_type_id", mpath, &a->association_type_id);
    join(mpath, sizeof(mpath), path, "enabled");
    a->enabled = get_bool(ps, ad, "enabled", mpath, true);
    parse_resolver(ps, ad, path, a);
}

static void parse_document(struct parser *ps, json_object *doc, struct mapping *m)
{
    static const char *const members[] = {
        "id",    "version",  "name",   "state",       "salesforce_object", "hubspot_object",
        "rules", "identity", "fields", "associations"};
    json_object *arr;

    check_members(ps, doc, "", members, COUNT(members));
    m->has_id = get_positive_int(ps, doc, "id", "id", &m->id);
    m->has_version = get_positive_int(ps, doc, "version", "version", &m->version);
    m->name = pdup(ps, get_string(ps, doc, "name", "name", true, NAME_TEXT));
    m->state = (enum mapping_state)get_enum(ps, doc, "state", "state", state_names,
                                            COUNT(state_names), MAPPING_STATE_DRAFT);
    m->salesforce_object = pdup(
        ps, get_string(ps, doc, "salesforce_object", "salesforce_object", true, NAME_SALESFORCE));
    m->hubspot_object = pdup(
        ps, get_string(ps, doc, "hubspot_object", "hubspot_object", true, NAME_HUBSPOT_OBJECT));
    m->salesforce_to_hubspot = (struct mapping_direction_rules){true, true, MAPPING_DELETE_NONE};
    m->hubspot_to_salesforce = (struct mapping_direction_rules){true, true, MAPPING_DELETE_NONE};
    m->conflict_winner = MAPPING_WINNER_SALESFORCE;
    parse_rules(ps, doc, m);
    parse_identity(ps, doc, m);

    arr = get_array(ps, doc, "fields", MAPPING_MAX_FIELDS, "fields");
    if (arr != NULL) {
        size_t n = json_object_array_length(arr);

        m->fields = pcalloc(ps, n, sizeof(*m->fields));
        for (size_t i = 0; m->fields != NULL && i < n; i++) {
            m->n_fields = i + 1;
            parse_field(ps, json_object_array_get_idx(arr, i), i, &m->fields[i]);
        }
    }
    arr = get_array(ps, doc, "associations", MAPPING_MAX_ASSOCIATIONS, "associations");
    if (arr != NULL) {
        size_t n = json_object_array_length(arr);

        m->associations = pcalloc(ps, n, sizeof(*m->associations));
        for (size_t i = 0; m->associations != NULL && i < n; i++) {
            m->n_associations = i + 1;
            parse_association(ps, json_object_array_get_idx(arr, i), i, &m->associations[i]);
        }
    }
}

int mapping_parse(json_object *doc, struct mapping **out, struct problem_list *problems)
{
    struct parser ps = {problems, 0, false};
    struct mapping *m;

    if (out != NULL)
        *out = NULL;
    if (out == NULL || problems == NULL)
        return MAPPING_PARSE_NOMEM;
    if (doc == NULL || !json_object_is_type(doc, json_type_object)) {
        problem(&ps, "", "not_object", "the mapping must be a JSON object, not %s",
                doc == NULL ? "null" : json_type_word(doc));
        return ps.nomem ? MAPPING_PARSE_NOMEM : MAPPING_PARSE_INVALID;
    }
    m = calloc(1, sizeof(*m));
    if (m == NULL) {
        problem(&ps, "", "out_of_memory", "the server ran out of memory; try again");
        return MAPPING_PARSE_NOMEM;
    }
    parse_document(&ps, doc, m);
    if (ps.nomem) {
        mapping_free(m);
        problem(&ps, "", "out_of_memory", "the server ran out of memory; try again");
        return MAPPING_PARSE_NOMEM;
    }
    if (ps.added > 0) {
        mapping_free(m);
        return MAPPING_PARSE_INVALID;
    }
    *out = m;
    return MAPPING_PARSE_OK;
}

int mapping_parse_text(const char *text, size_t len, struct mapping **out,
                       struct problem_list *problems)
{
    struct json_tokener *tok;
    json_object *doc;
    enum json_tokener_error jerr;
    size_t end;
    int rc;

    if (out != NULL)
        *out = NULL;
    if (text == NULL || out == NULL || problems == NULL)
        return MAPPING_PARSE_NOMEM;
    if (len > INT_MAX) {
        problem_list_add(problems, PROBLEM_ERROR, "", "invalid_json",
                         "the mapping document is too large");
        return MAPPING_PARSE_INVALID;
    }
    tok = json_tokener_new_ex(MAPPING_PARSE_MAX_DEPTH);
    if (tok == NULL) {
        problem_list_add(problems, PROBLEM_ERROR, "", "out_of_memory",
                         "the server ran out of memory; try again");
        return MAPPING_PARSE_NOMEM;
    }
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
    doc = json_tokener_parse_ex(tok, text, (int)len);
    jerr = json_tokener_get_error(tok);
    end = json_tokener_get_parse_end(tok);
    if (doc == NULL && jerr == json_tokener_continue && end == len) {
        /* a bare literal or number ("null", "7") ends only at the end of input: say so */
        doc = json_tokener_parse_ex(tok, "", 1);
        jerr = json_tokener_get_error(tok);
        if (jerr == json_tokener_success)
            end = len;
    }
    while (jerr == json_tokener_success && end < len &&
           (text[end] == ' ' || text[end] == '\t' || text[end] == '\n' || text[end] == '\r'))
        end++;
    if (jerr != json_tokener_success || end != len) {
        const char *why = jerr == json_tokener_continue ? "the text ends before the JSON value does"
                          : jerr == json_tokener_success ? "there is more text after the JSON value"
                                                         : json_tokener_error_desc(jerr);

        problem_list_add(problems, PROBLEM_ERROR, "", "invalid_json",
                         "the mapping is not valid JSON (%s, near byte %zu)", why, end);
        json_object_put(doc);
        json_tokener_free(tok);
        return MAPPING_PARSE_INVALID;
    }
    json_tokener_free(tok);
    rc = mapping_parse(doc, out, problems);
    json_object_put(doc);
    return rc;
}

/* ---- serialiser ---- */

static int put_bool(json_object *obj, const char *key, bool b)
{
    return put(obj, key, json_object_new_boolean(b));
}

static int put_int(json_object *obj, const char *key, int64_t n)
{
    return put(obj, key, json_object_new_int64(n));
}

static json_object *direction_to_json(const struct mapping_direction_rules *r)
{
    json_object *o = json_object_new_object();
    int rc = 0;

    if (o == NULL)
        return NULL;
    rc |= put_bool(o, "create", r->create);
    rc |= put_bool(o, "update", r->update);
    rc |= put_str(o, "delete", mapping_delete_name(r->on_delete));
    if (rc != 0) {
        json_object_put(o);
        return NULL;
    }
    return o;
}

static json_object *field_to_json(const struct mapping_field *f)
{
    json_object *o = json_object_new_object();
    int rc = 0;

    if (o == NULL)
        return NULL;
    rc |= put_str(o, "salesforce", f->salesforce);
    rc |= put_str(o, "hubspot", f->hubspot);
    rc |= put_str(o, "rule", mapping_field_rule_name(f->rule));
    if (rc == 0 && f->n_value_map > 0) {
        json_object *vm = json_object_new_object();

        rc |= put(o, "value_map", vm);
        for (size_t i = 0; rc == 0 && i < f->n_value_map; i++)
            rc |= put_str(vm, f->value_map[i].salesforce, f->value_map[i].hubspot);
    }
    if (rc != 0) {
        json_object_put(o);
        return NULL;
    }
    return o;
}

static json_object *association_to_json(const struct mapping_association *a)
{
    json_object *o = json_object_new_object();
    int rc = 0;

    if (o == NULL)
        return NULL;
    rc |= put_str(o, "salesforce_field", a->salesforce_field);
    rc |= put_str(o, "hubspot_object", a->hubspot_object);
    if (a->has_association_type_id)
        rc |= put_int(o, "association_type_id", a->association_type_id);
    else
        rc |= json_object_object_add(o, "association_type_id", NULL) != 0 ? -1 : 0;
    rc |= put_bool(o, "enabled", a->enabled);
    if (a->resolver == MAPPING_RESOLVER_DEFAULT) {
        rc |= json_object_object_add(o, "resolver", NULL) != 0 ? -1 : 0;
    } else {
        json_object *r = json_object_new_object();

        rc |= put(o, "resolver", r);
        if (rc == 0 && a->resolver == MAPPING_RESOLVER_MAPPING)
            rc |= put_int(r, "mapping_id", a->resolver_mapping_id);
        else if (rc == 0)
            rc |= put_str(r, "hubspot_property", a->resolver_hubspot_property);
    }
    if (rc != 0) {
        json_object_put(o);
        return NULL;
    }
    return o;
}

static int put_list(json_object *doc, const char *key, size_t n, const void *items, size_t size,
                    json_object *(*one)(const void *))
{
    json_object *arr = json_object_new_array();

    if (put(doc, key, arr) != 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        json_object *v = one((const char *)items + i * size);

        if (v == NULL || json_object_array_add(arr, v) != 0) {
            json_object_put(v);
            return -1;
        }
    }
    return 0;
}

static json_object *field_to_json_any(const void *p)
{
    return field_to_json(p);
}

static json_object *association_to_json_any(const void *p)
{
    return association_to_json(p);
}

json_object *mapping_to_json(const struct mapping *m)
{
    json_object *doc, *rules, *identity;
    int rc = 0;

    if (m == NULL)
        return NULL;
    doc = json_object_new_object();
    if (doc == NULL)
        return NULL;
    if (m->has_id)
        rc |= put_int(doc, "id", m->id);
    if (m->has_version)
        rc |= put_int(doc, "version", m->version);
    rc |= put_str(doc, "name", m->name);
    rc |= put_str(doc, "state", mapping_state_name(m->state));
    rc |= put_str(doc, "salesforce_object", m->salesforce_object);
    rc |= put_str(doc, "hubspot_object", m->hubspot_object);
    rules = json_object_new_object();
    rc |= put(doc, "rules", rules);
    if (rc == 0) {
        rc |= put(rules, "salesforce_to_hubspot", direction_to_json(&m->salesforce_to_hubspot));
        rc |= put(rules, "hubspot_to_salesforce", direction_to_json(&m->hubspot_to_salesforce));
        rc |= put_str(rules, "conflict_winner", mapping_winner_name(m->conflict_winner));
    }
    identity = json_object_new_object();
    rc |= put(doc, "identity", identity);
    if (rc == 0) {
        rc |= put_str(identity, "hubspot_property", m->identity_hubspot_property);
        rc |= put_str(identity, "salesforce_field", m->identity_salesforce_field);
    }
    if (rc == 0)
        rc |=
            put_list(doc, "fields", m->n_fields, m->fields, sizeof(*m->fields), field_to_json_any);
    if (rc == 0)
        rc |= put_list(doc, "associations", m->n_associations, m->associations,
                       sizeof(*m->associations), association_to_json_any);
    if (rc != 0) {
        json_object_put(doc);
        return NULL;
    }
    return doc;
}
