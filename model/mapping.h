/* mapping.h: the sync mapping document (one Salesforce object <-> one HubSpot custom object) and
 * the problem list that parsing and validation report into.
 *
 * Owns: struct mapping and its parts (record rules per direction, conflict winner, identity,
 * field mappings with per-field rules and picklist value maps, associations with resolvers), the
 * JSON shape the admin API and the storage layer exchange (mapping_parse / mapping_to_json), the
 * defaults, the field-rule direction table, and struct problem_list.
 *
 * Design: the document is checked for its own shape only (types, enum values, names, limits);
 * whether the named objects, fields and options exist is mapping_validate's job. Parsing reports
 * every structural problem at once, each with a path such as "fields[2].rule", and builds the
 * mapping only when there is none. mapping_to_json writes every member explicitly (defaults
 * included), so parse(to_json(m)) equals m and stored documents are self-describing.
 *
 * Document (id, version and state are assigned by the server and optional on input):
 *   {"id":7,"version":3,"name":"Projects","state":"draft|enabled|paused",
 *    "salesforce_object":"Project__c","hubspot_object":"2-3465404",
 *    "rules":{"salesforce_to_hubspot":{"create":true,"update":true,"delete":"delete|none"},
 *             "hubspot_to_salesforce":{"create":true,"update":true,"delete":"none"},
 *             "conflict_winner":"salesforce|hubspot"},
 *    "identity":{"hubspot_property":"salesforce_id","salesforce_field":"HubSpot_Id__c"},
 *    "fields":[{"salesforce":"Name","hubspot":"name","rule":"two_way",
 *               "value_map":{"In Progress":"in_progress"}}],
 *    "associations":[{"salesforce_field":"Account__c","hubspot_object":"0-2",
 *                     "association_type_id":279,"enabled":true,
 *                     "resolver":{"mapping_id":3}}]}
 *   Defaults: create/update true, delete "none", conflict_winner "salesforce", rule "two_way",
 *   state "draft", enabled true, association_type_id null (HubSpot's default association type),
 *   resolver null (the synkro mapping of the lookup's target object is used).
 *   A member that is JSON null counts as absent.
 *
 * Structural problem codes (all errors): invalid_json, not_object, missing, wrong_type, empty,
 * too_long, too_many, invalid_value, invalid_name, unknown_member, out_of_memory.
 *
 * Must not: look at CRM schemas, do network or database work, or log. */
#ifndef SYNKRO_SYNC_MAPPING_H
#define SYNKRO_SYNC_MAPPING_H

#include <json-c/json.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- problem list (shared with mapping_validate) ---- */

#define PROBLEM_PATH_MAX    192
#define PROBLEM_CODE_MAX    48
#define PROBLEM_MESSAGE_MAX 640

enum problem_severity {
    PROBLEM_ERROR = 0, /* blocks enabling the mapping */
    PROBLEM_WARNING,   /* shown to the admin; does not block */
};

struct problem {
    char path[PROBLEM_PATH_MAX]; /* "" for the whole document, else e.g. "fields[2].hubspot" */
    char code[PROBLEM_CODE_MAX];
    char message[PROBLEM_MESSAGE_MAX]; /* a sentence saying what is wrong and what to do */
    enum problem_severity severity;
};

/* Growable list. Zero-initialise (or PROBLEM_LIST_INIT), add, then problem_list_free(). */
struct problem_list {
    struct problem *items;
    size_t count;
    size_t cap;
    bool out_of_memory; /* an add failed: the list is incomplete and counts as having errors */
};

#define PROBLEM_LIST_INIT                                                                          \
    {                                                                                              \
        NULL, 0, 0, false                                                                          \
    }

void problem_list_init(struct problem_list *list);
/* Releases the items; the list is empty and reusable afterwards. Accepts NULL. */
void problem_list_free(struct problem_list *list);
/* Appends one problem; path/code/message are truncated to fit. Returns 0, or -1 when memory
 * runs out (then out_of_memory is set) or list/code is NULL. path NULL means "". */
int problem_list_add(struct problem_list *list, enum problem_severity severity, const char *path,
                     const char *code, const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* True if any problem is an error, or an add ran out of memory. False for NULL. */
bool problem_list_has_errors(const struct problem_list *list);
/* Number of problems of this severity. */
size_t problem_list_count(const struct problem_list *list, enum problem_severity severity);
/* The first problem with this code and (unless path is NULL) this exact path, or NULL. */
const struct problem *problem_list_find(const struct problem_list *list, const char *code,
                                        const char *path);
/* [{"path":..,"code":..,"severity":"error|warning","message":..}, ...] in the order added.
 * Caller releases with json_object_put(). NULL only when memory runs out. */
json_object *problem_list_to_json(const struct problem_list *list);
/* "error" or "warning". */
const char *problem_severity_name(enum problem_severity severity);

/* ---- the mapping ---- */

#define MAPPING_MAX_FIELDS       500
#define MAPPING_MAX_ASSOCIATIONS 50
#define MAPPING_MAX_VALUE_MAP    1000 /* entries in one field's value_map */
#define MAPPING_NAME_MAX         200  /* bytes of "name" */
#define MAPPING_API_NAME_MAX     255  /* bytes of an object/field/property name */
#define MAPPING_VALUE_MAX        1000 /* bytes of a value_map key or value */
#define MAPPING_PARSE_MAX_DEPTH  16   /* nesting accepted by mapping_parse_text */

enum mapping_state {
    MAPPING_STATE_DRAFT = 0,
    MAPPING_STATE_ENABLED,
    MAPPING_STATE_PAUSED,
};

enum mapping_delete {
    MAPPING_DELETE_NONE = 0, /* a delete in the source leaves the other record alone */
    MAPPING_DELETE_DELETE,   /* a delete in the source deletes the linked record */
};

enum mapping_winner {
    MAPPING_WINNER_SALESFORCE = 0,
    MAPPING_WINNER_HUBSPOT,
};

enum field_rule {
    FIELD_RULE_TWO_WAY = 0,                    /* latest change wins; both directions */
    FIELD_RULE_PREFER_SALESFORCE_UNLESS_BLANK, /* SF -> HS always; HS -> SF only into a blank */
    FIELD_RULE_ALWAYS_SALESFORCE,              /* SF -> HS only */
    FIELD_RULE_ALWAYS_HUBSPOT,                 /* HS -> SF only */
    FIELD_RULE_DONT_SYNC,                      /* kept in the mapping, never written */
};

/* Direction bits (mapping_field_directions, mapping_record_directions). */
#define MAPPING_DIR_NONE     0u
#define MAPPING_DIR_SF_TO_HS 1u
#define MAPPING_DIR_HS_TO_SF 2u
#define MAPPING_DIR_BOTH     3u

struct mapping_direction_rules {
    bool create; /* create the record in the target when it is created in the source */
    bool update; /* write updates of linked records */
    enum mapping_delete on_delete;
};

struct mapping_value_pair {
    char *salesforce; /* picklist API value */
    char *hubspot;    /* option value */
};

struct mapping_field {
    char *salesforce; /* field API name */
    char *hubspot;    /* property internal name */
    enum field_rule rule;
    struct mapping_value_pair *value_map; /* in document order */
    size_t n_value_map;
};

enum mapping_resolver {
    MAPPING_RESOLVER_DEFAULT = 0,     /* the synkro mapping of the lookup's target object */
    MAPPING_RESOLVER_MAPPING,         /* resolver.mapping_id */
    MAPPING_RESOLVER_HUBSPOT_PROPERTY /* resolver.hubspot_property on the target object */
};

struct mapping_association {
    char *salesforce_field; /* lookup field API name */
    char *hubspot_object;   /* target object type ("0-2", "2-123", fully qualified name) */
    bool has_association_type_id;
    int64_t association_type_id; /* when has_association_type_id */
    bool enabled;
    enum mapping_resolver resolver;
    int64_t resolver_mapping_id;     /* MAPPING_RESOLVER_MAPPING */
    char *resolver_hubspot_property; /* MAPPING_RESOLVER_HUBSPOT_PROPERTY, else NULL */
};

struct mapping {
    bool has_id;
    int64_t id;
    bool has_version;
    int64_t version;
    char *name;
    enum mapping_state state;
    char *salesforce_object;
    char *hubspot_object;
    struct mapping_direction_rules salesforce_to_hubspot;
    struct mapping_direction_rules hubspot_to_salesforce;
    enum mapping_winner conflict_winner;
    char *identity_hubspot_property; /* NULL when not set */
    char *identity_salesforce_field; /* NULL when not set */
    struct mapping_field *fields;
    size_t n_fields;
    struct mapping_association *associations;
    size_t n_associations;
};

/* Return values of mapping_parse / mapping_parse_text. */
#define MAPPING_PARSE_OK      0
#define MAPPING_PARSE_INVALID (-1) /* structural problems were added to problems */
#define MAPPING_PARSE_NOMEM   (-2) /* out of memory (or NULL arguments) */

/* Checks doc's shape and builds the mapping. On MAPPING_PARSE_OK *out is the mapping (caller
 * frees with mapping_free()) and nothing was added to problems; otherwise *out is NULL and
 * problems holds every structural problem found. problems must not be NULL. */
int mapping_parse(json_object *doc, struct mapping **out, struct problem_list *problems);

/* As mapping_parse for JSON text of len bytes (the whole text must be one JSON value, nesting
 * at most MAPPING_PARSE_MAX_DEPTH); a syntax error is one problem with code invalid_json. */
int mapping_parse_text(const char *text, size_t len, struct mapping **out,
                       struct problem_list *problems);

/* The document for m, every member written (id/version only when set). Caller releases with
 * json_object_put(). NULL when m is NULL or memory runs out. */
json_object *mapping_to_json(const struct mapping *m);

/* Frees a mapping. Accepts NULL. */
void mapping_free(struct mapping *m);

/* True if a and b hold the same content (value maps and lists compared in order). */
bool mapping_equal(const struct mapping *a, const struct mapping *b);

/* Which directions a field rule writes: two_way and prefer_salesforce_unless_blank both
 * (HubSpot fills Salesforce only where Salesforce is blank), always_salesforce SF->HS,
 * always_hubspot HS->SF, dont_sync none. */
unsigned mapping_field_directions(enum field_rule rule);

/* Which directions the record rules write at all (create or update on). */
unsigned mapping_record_directions(const struct mapping *m);

/* Writes prefix["key"] into out (the path of a value_map entry, '"' and '\\' escaped with '\\'),
 * truncated to outlen. */
void mapping_path_key(char *out, size_t outlen, const char *prefix, const char *key);

/* Name tables: values as in the document; unknown enum values give "unknown". The *_from_name
 * functions return 0 and set *out, or -1 for an unknown or NULL name. */
const char *mapping_state_name(enum mapping_state state);
int mapping_state_from_name(const char *name, enum mapping_state *out);
const char *mapping_field_rule_name(enum field_rule rule);
int mapping_field_rule_from_name(const char *name, enum field_rule *out);
const char *mapping_delete_name(enum mapping_delete on_delete);
const char *mapping_winner_name(enum mapping_winner winner);

#endif
