/* sync_merge.c: the three-way merge of one record pair (see sync_merge.h for the decision table).
 *
 * Owns: the per-rule decision table, the record-rule and writability gates, the write and
 * new-base objects, the conflict list and the conversion error text of struct merge_output.
 *
 * Design: every mapped field is handled on its own in three steps: decide a direction (the
 * update table when both records exist, the rule's directions when one is to be created), gate
 * it (record rules, whether the target field or property can be written at all), then apply it
 * (convert, add to the write object and to both new bases). A field whose value must be written
 * but cannot be converted is collected into out->error and the whole merge fails; any failure
 * leaves only the error text and the result code in the output.
 *
 * Must not: log, do network or database work, keep global state, or modify its inputs. */
#include "sync/sync_merge.h"

#include "model/value_convert.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* Where one field's value goes. DIR_BY_WINNER: the mapping's conflict_winner decides. */
enum merge_dir { DIR_NONE = 0, DIR_TO_HS, DIR_TO_SF, DIR_BY_WINNER };

/* The update decision per rule; arrays are indexed by "Salesforce is blank". dont_sync has no
 * row: it is never looked at. */
static const struct rule_row {
    enum field_rule rule;
    enum merge_dir only_sf;    /* only Salesforce changed */
    enum merge_dir only_hs[2]; /* only HubSpot changed */
    enum merge_dir both[2];    /* both changed and they do not agree */
    enum merge_winner_reason both_reason[2];
} rule_rows[] = {
    {FIELD_RULE_TWO_WAY,
     DIR_TO_HS,
     {DIR_TO_SF, DIR_TO_SF},
     {DIR_BY_WINNER, DIR_BY_WINNER},
     {MERGE_REASON_CONFLICT_WINNER, MERGE_REASON_CONFLICT_WINNER}},
    {FIELD_RULE_PREFER_SALESFORCE_UNLESS_BLANK,
     DIR_TO_HS,
     {DIR_NONE, DIR_TO_SF},
     {DIR_TO_HS, DIR_TO_SF},
     {MERGE_REASON_FIELD_RULE, MERGE_REASON_BLANK}},
    {FIELD_RULE_ALWAYS_SALESFORCE,
     DIR_TO_HS,
     {DIR_NONE, DIR_NONE},
     {DIR_TO_HS, DIR_TO_HS},
     {MERGE_REASON_FIELD_RULE, MERGE_REASON_FIELD_RULE}},
    {FIELD_RULE_ALWAYS_HUBSPOT,
     DIR_NONE,
     {DIR_TO_SF, DIR_TO_SF},
     {DIR_TO_SF, DIR_TO_SF},
     {MERGE_REASON_FIELD_RULE, MERGE_REASON_FIELD_RULE}},
};

static const char *const reason_names[] = {
    [MERGE_REASON_FIELD_RULE] = "field_rule",
    [MERGE_REASON_CONFLICT_WINNER] = "conflict_winner",
    [MERGE_REASON_BLANK] = "blank",
};

/* HubSpot field types whose values HubSpot computes. */
static const enum hs_field_type hs_calculated_types[] = {
    HS_FIELD_CALCULATION_EQUATION,
    HS_FIELD_CALCULATION_ROLLUP,
    HS_FIELD_CALCULATION_SCORE,
    HS_FIELD_CALCULATION_READ_TIME,
};

struct merge_ctx {
    const struct merge_input *in;
    struct merge_output *out;
    bool create_sf;      /* the Salesforce record is missing */
    bool create_hs;      /* the HubSpot record is missing */
    size_t nerrors;      /* fields that could not be converted */
    size_t conflict_cap; /* allocated entries of out->conflicts */
};

/* One field's inputs, looked up once. */
struct field_state {
    const struct mapping_field *mf;
    size_t index;
    const struct sf_field *sf;
    const struct hs_object_property *hs;
    enum value_kind kind; /* of the HubSpot property */
    json_object *sf_now;  /* borrowed; NULL = absent or JSON null */
    const char *hs_now;   /* borrowed; NULL = absent or JSON null */
    bool sf_has_base, hs_has_base;
    bool sf_changed, hs_changed;
    bool converted; /* value_sf_to_hs was tried: sf_as_hs / sf_err hold the result */
    int sf_rc;      /* its result */
    char *sf_as_hs; /* owned: sf_now as HubSpot text; NULL when not convertible */
    struct value_error sf_err;
};

/* ---- small helpers ---- */

const char *merge_reason_name(enum merge_winner_reason reason)
{
    if ((unsigned)reason >= COUNT(reason_names) || reason_names[reason] == NULL)
        return "unknown";
    return reason_names[reason];
}

bool merge_sf_blank(json_object *v)
{
    return v == NULL || json_object_is_type(v, json_type_null) ||
           (json_object_is_type(v, json_type_string) && json_object_get_string_len(v) == 0);
}

bool merge_hs_blank(const char *v)
{
    return v == NULL || v[0] == '\0';
}

static const struct rule_row *rule_row_of(enum field_rule rule)
{
    for (size_t i = 0; i < COUNT(rule_rows); i++) {
        if (rule_rows[i].rule == rule)
            return &rule_rows[i];
    }
    return NULL;
}

/* The member of a Salesforce object named name, ignoring case; *found says whether it exists
 * (its value may be NULL for JSON null). */
static json_object *sf_member(json_object *obj, const char *name, bool *found)
{
    json_object *v = NULL;

    *found = false;
    if (obj == NULL)
        return NULL;
    if (json_object_object_get_ex(obj, name, &v)) {
        *found = true;
        return v;
    }
    json_object_object_foreach(obj, key, val)
    {
        if (strcasecmp(key, name) == 0) {
            *found = true;
            return val;
        }
    }
    return NULL;
}

/* The text of a HubSpot member (NULL for JSON null or absent); *found as for sf_member. */
static const char *hs_member(json_object *obj, const char *name, bool *found)
{
    json_object *v = NULL;

    *found = obj != NULL && json_object_object_get_ex(obj, name, &v);
    return v != NULL ? json_object_get_string(v) : NULL;
}

/* A copy of v the output owns (NULL stays NULL). 0, or -1 when memory runs out. */
static int json_copy(json_object *v, json_object **out)
{
    *out = NULL;
    if (v == NULL)
        return 0;
    return json_object_deep_copy(v, out, NULL) == 0 ? 0 : -1;
}

/* The text a Salesforce value shows when nothing better is known (byte-wise comparison). */
static const char *sf_text(json_object *v)
{
    if (v == NULL)
        return "";
    if (json_object_is_type(v, json_type_string))
        return json_object_get_string(v);
    return json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN);
}

static void error_add(struct merge_ctx *c, const struct mapping_field *mf, const char *msg)
{
    char *err = c->out->error;
    size_t len = strlen(err);

    if (len < sizeof(c->out->error))
        snprintf(err + len, sizeof(c->out->error) - len, "%sfield %s -> %s: %s",
                 len > 0 ? "; " : "", mf->salesforce, mf->hubspot, msg);
    c->nerrors++;
}

/* ---- writability and record rules ---- */

static bool hs_writable(const struct hs_object_property *p)
{
    if (p->read_only || p->calculated)
        return false;
    for (size_t i = 0; i < COUNT(hs_calculated_types); i++) {
        if (p->field_type == hs_calculated_types[i])
            return false;
    }
    return true;
}

static bool sf_writable(const struct sf_field *f, bool create)
{
    return !f->calculated && (create ? f->createable : f->updateable);
}

/* True if the record rules and the target's schema let dir be written for this field. */
static bool write_allowed(const struct merge_ctx *c, const struct field_state *fs,
                          enum merge_dir dir)
{
    const struct mapping *m = c->in->m;

    if (dir == DIR_TO_HS)
        return (c->create_hs ? m->salesforce_to_hubspot.create : m->salesforce_to_hubspot.update) &&
               hs_writable(fs->hs);
    if (dir == DIR_TO_SF)
        return (c->create_sf ? m->hubspot_to_salesforce.create : m->hubspot_to_salesforce.update) &&
               sf_writable(fs->sf, c->create_sf);
    return false;
}

/* ---- per-field state ---- */

/* Looks the field up in both schemas and both records. -1 when a schema lacks it (the error is
 * recorded), else 0. */
static int field_state_init(struct merge_ctx *c, size_t i, struct field_state *fs)
{
    const struct merge_input *in = c->in;
    json_object *base;
    const char *hs_base;
    bool found;

    memset(fs, 0, sizeof(*fs));
    fs->mf = &in->m->fields[i];
    fs->index = i;
    fs->sf = sf_object_field(in->sf, fs->mf->salesforce);
    fs->hs = hs_object_property_find(in->hs, fs->mf->hubspot);
    if (fs->sf == NULL || fs->hs == NULL) {
        char msg[VALUE_ERROR_MESSAGE_MAX];

        snprintf(msg, sizeof(msg), "%s %s is not in the current schema. Update the mapping.",
                 fs->sf == NULL ? "Salesforce field" : "HubSpot property",
                 fs->sf == NULL ? fs->mf->salesforce : fs->mf->hubspot);
        error_add(c, fs->mf, msg);
        return -1;
    }
    fs->kind = value_hs_kind(fs->hs);
    fs->sf_now = sf_member(in->sf_record, fs->sf->name, &found);
    fs->hs_now = hs_member(in->hs_properties, fs->hs->name, &found);
    base = sf_member(in->sf_base, fs->sf->name, &fs->sf_has_base);
    hs_base = hs_member(in->hs_base, fs->hs->name, &fs->hs_has_base);
    fs->sf_changed = !fs->sf_has_base || !value_equal_sf(fs->sf, fs->sf_now, base);
    fs->hs_changed = !fs->hs_has_base || !value_equal_hs(fs->hs_now, hs_base, fs->kind);
    return 0;
}

/* Converts sf_now for HubSpot once. MERGE_NOMEM when memory runs out, else MERGE_OK (a value
 * that does not convert leaves sf_as_hs NULL and the reason in sf_err). */
static enum merge_result field_convert_sf(struct field_state *fs)
{
    if (fs->converted)
        return MERGE_OK;
    fs->converted = true;
    fs->sf_rc = value_sf_to_hs(fs->sf, fs->hs, fs->mf, fs->sf_now, &fs->sf_as_hs, &fs->sf_err);
    return fs->sf_rc == VALUE_NOMEM ? MERGE_NOMEM : MERGE_OK;
}

/* Whether both sides hold the same value: through the Salesforce value converted for HubSpot,
 * else through the HubSpot value converted for Salesforce, else byte for byte. */
static enum merge_result field_agree(struct field_state *fs, bool *agree)
{
    json_object *hs_as_sf = NULL;
    int rc;

    if (field_convert_sf(fs) != MERGE_OK)
        return MERGE_NOMEM;
    if (fs->sf_as_hs != NULL) {
        *agree = value_equal_hs(fs->sf_as_hs, fs->hs_now, fs->kind);
        return MERGE_OK;
    }
    rc = value_hs_to_sf(fs->hs, fs->sf, fs->mf, fs->hs_now, &hs_as_sf, NULL);
    if (rc == VALUE_NOMEM)
        return MERGE_NOMEM;
    if (rc == VALUE_OK)
        *agree = value_equal_sf(fs->sf, fs->sf_now, hs_as_sf);
    else
        *agree = strcmp(sf_text(fs->sf_now), fs->hs_now != NULL ? fs->hs_now : "") == 0;
    json_object_put(hs_as_sf);
    return MERGE_OK;
}

/* ---- decisions ---- */

static enum merge_result conflict_add(struct merge_ctx *c, const struct field_state *fs,
                                      enum mapping_winner winner, enum merge_winner_reason reason)
{
    struct merge_output *out = c->out;
    struct merge_conflict *k;

    if (out->nconflicts == c->conflict_cap) {
        size_t cap = c->conflict_cap == 0 ? 4 : c->conflict_cap * 2;
        struct merge_conflict *grown = realloc(out->conflicts, cap * sizeof(*grown));

        if (grown == NULL)
            return MERGE_NOMEM;
        out->conflicts = grown;
        c->conflict_cap = cap;
    }
    k = &out->conflicts[out->nconflicts];
    memset(k, 0, sizeof(*k));
    k->field = fs->index;
    k->winner = winner;
    k->reason = reason;
    k->hs_value = strdup(fs->hs_now != NULL ? fs->hs_now : "");
    if (k->hs_value == NULL)
        return MERGE_NOMEM;
    if (!merge_sf_blank(fs->sf_now) && json_copy(fs->sf_now, &k->sf_value) != 0) {
        free(k->hs_value);
        return MERGE_NOMEM;
    }
    out->nconflicts++;
    return MERGE_OK;
}

/* The direction that makes the record modified last win (DIR_TO_HS when Salesforce is newer);
 * DIR_BY_WINNER when either instant is missing or unparsable, or both are equal. */
static enum merge_dir newer_side(const struct merge_input *in)
{
    char *sf = NULL, *hs = NULL;
    enum merge_dir dir = DIR_BY_WINNER;
    if (in->sf_modified && in->hs_modified &&
        value_hs_canonical(VALUE_KIND_DATETIME, in->sf_modified, &sf, NULL) == VALUE_OK &&
        value_hs_canonical(VALUE_KIND_DATETIME, in->hs_modified, &hs, NULL) == VALUE_OK && *sf &&
        *hs) {
        int cmp = strcmp(sf, hs); /* same fixed-width UTC form: text order is time order */
        dir = cmp > 0 ? DIR_TO_HS : cmp < 0 ? DIR_TO_SF : DIR_BY_WINNER;
    }
    free(sf);
    free(hs);
    return dir;
}

/* Both changed: the table's direction; a conflict is reported when both sides had a base. */
static enum merge_result decide_both(struct merge_ctx *c, const struct field_state *fs,
                                     const struct rule_row *row, enum merge_dir *dir)
{
    bool blank = merge_sf_blank(fs->sf_now);
    enum merge_winner_reason reason = row->both_reason[blank];

    *dir = row->both[blank];
    if (*dir == DIR_BY_WINNER && !fs->sf_has_base && !fs->hs_has_base)
        *dir = newer_side(c->in);
    if (*dir == DIR_BY_WINNER)
        *dir = c->in->m->conflict_winner == MAPPING_WINNER_HUBSPOT ? DIR_TO_SF : DIR_TO_HS;
    if (!fs->sf_has_base || !fs->hs_has_base)
        return MERGE_OK;
    return conflict_add(
        c, fs, *dir == DIR_TO_SF ? MAPPING_WINNER_HUBSPOT : MAPPING_WINNER_SALESFORCE, reason);
}

/* Both records exist: the decision table of sync_merge.h. */
static enum merge_result decide_update(struct merge_ctx *c, struct field_state *fs,
                                       enum merge_dir *dir)
{
    const struct rule_row *row = rule_row_of(fs->mf->rule);
    bool agree = false;

    *dir = DIR_NONE;
    if (row == NULL || (!fs->sf_changed && !fs->hs_changed))
        return MERGE_OK;
    if (field_agree(fs, &agree) != MERGE_OK)
        return MERGE_NOMEM;
    if (agree)
        return MERGE_OK;
    if (fs->sf_changed && fs->hs_changed)
        return decide_both(c, fs, row, dir);
    *dir = fs->sf_changed ? row->only_sf : row->only_hs[merge_sf_blank(fs->sf_now)];
    return MERGE_OK;
}

/* One record is missing: the present side fills every field its rule lets it write. */
static enum merge_dir decide_create(const struct merge_ctx *c, const struct field_state *fs)
{
    unsigned dirs = mapping_field_directions(fs->mf->rule);

    if (c->create_hs)
        return (dirs & MAPPING_DIR_SF_TO_HS) && !merge_sf_blank(fs->sf_now) ? DIR_TO_HS : DIR_NONE;
    return (dirs & MAPPING_DIR_HS_TO_SF) && !merge_hs_blank(fs->hs_now) ? DIR_TO_SF : DIR_NONE;
}

/* ---- applying a decision ---- */

/* Adds key: a copy of v to obj (v NULL: JSON null). */
static enum merge_result put_sf(json_object *obj, const char *key, json_object *v)
{
    json_object *copy = NULL;

    if (json_copy(v, &copy) != 0)
        return MERGE_NOMEM;
    if (json_object_object_add(obj, key, copy) != 0) {
        json_object_put(copy);
        return MERGE_NOMEM;
    }
    return MERGE_OK;
}

static enum merge_result put_hs(json_object *obj, const char *key, const char *text)
{
    json_object *s = json_object_new_string(text != NULL ? text : "");

    if (s == NULL)
        return MERGE_NOMEM;
    if (json_object_object_add(obj, key, s) != 0) {
        json_object_put(s);
        return MERGE_NOMEM;
    }
    return MERGE_OK;
}

static enum merge_result apply_to_hs(struct merge_ctx *c, struct field_state *fs)
{
    struct merge_output *out = c->out;

    if (field_convert_sf(fs) != MERGE_OK)
        return MERGE_NOMEM;
    if (fs->sf_as_hs == NULL) {
        error_add(c, fs->mf, fs->sf_err.message);
        return MERGE_OK;
    }
    if (put_hs(out->hs_write, fs->hs->name, fs->sf_as_hs) != MERGE_OK ||
        put_hs(out->hs_base_new, fs->hs->name, fs->sf_as_hs) != MERGE_OK ||
        put_sf(out->sf_base_new, fs->sf->name, fs->sf_now) != MERGE_OK)
        return MERGE_NOMEM;
    return MERGE_OK;
}

static enum merge_result apply_to_sf(struct merge_ctx *c, struct field_state *fs)
{
    struct merge_output *out = c->out;
    struct value_error err;
    json_object *v = NULL;
    enum merge_result r = MERGE_OK;
    int rc = value_hs_to_sf(fs->hs, fs->sf, fs->mf, fs->hs_now, &v, &err);

    if (rc == VALUE_NOMEM)
        return MERGE_NOMEM;
    if (rc != VALUE_OK) {
        error_add(c, fs->mf, err.message);
        return MERGE_OK;
    }
    if (put_sf(out->sf_write, fs->sf->name, v) != MERGE_OK ||
        put_sf(out->sf_base_new, fs->sf->name, v) != MERGE_OK ||
        put_hs(out->hs_base_new, fs->hs->name, fs->hs_now) != MERGE_OK)
        r = MERGE_NOMEM;
    json_object_put(v);
    return r;
}

static enum merge_result apply_none(struct merge_ctx *c, const struct field_state *fs)
{
    if (put_sf(c->out->sf_base_new, fs->sf->name, fs->sf_now) != MERGE_OK ||
        put_hs(c->out->hs_base_new, fs->hs->name, fs->hs_now) != MERGE_OK)
        return MERGE_NOMEM;
    return MERGE_OK;
}

static enum merge_result merge_field(struct merge_ctx *c, size_t i)
{
    struct field_state fs;
    enum merge_dir dir = DIR_NONE;
    enum merge_result r = MERGE_OK;

    if (c->in->m->fields[i].rule == FIELD_RULE_DONT_SYNC || field_state_init(c, i, &fs) != 0)
        return MERGE_OK;
    if (c->create_sf || c->create_hs)
        dir = decide_create(c, &fs);
    else
        r = decide_update(c, &fs, &dir);
    if (r == MERGE_OK && !write_allowed(c, &fs, dir))
        dir = DIR_NONE;
    if (r == MERGE_OK) {
        if (dir == DIR_TO_HS)
            r = apply_to_hs(c, &fs);
        else if (dir == DIR_TO_SF)
            r = apply_to_sf(c, &fs);
        else
            r = apply_none(c, &fs);
    }
    free(fs.sf_as_hs);
    return r;
}

/* ---- entry points ---- */

static bool object_or_null(json_object *v)
{
    return v == NULL || json_object_is_type(v, json_type_object);
}

/* MERGE_OK, or MERGE_INVALID with the reason in out->error. */
static enum merge_result input_check(const struct merge_input *in, struct merge_output *out)
{
    const char *why = NULL;

    if (in == NULL || in->m == NULL || in->sf == NULL || in->hs == NULL)
        why = "The mapping or a schema is missing.";
    else if (in->m->n_fields > 0 && in->m->fields == NULL)
        why = "The mapping's field list is missing.";
    else if (in->sf_record == NULL && in->hs_properties == NULL)
        why = "Neither record is given.";
    else if (!object_or_null(in->sf_record) || !object_or_null(in->hs_properties) ||
             !object_or_null(in->sf_base) || !object_or_null(in->hs_base))
        why = "A record or a base is not a JSON object.";
    if (why == NULL)
        return MERGE_OK;
    snprintf(out->error, sizeof(out->error), "%s", why);
    return MERGE_INVALID;
}

static void output_release(struct merge_output *out)
{
    json_object_put(out->hs_write);
    json_object_put(out->sf_write);
    json_object_put(out->sf_base_new);
    json_object_put(out->hs_base_new);
    for (size_t i = 0; out->conflicts != NULL && i < out->nconflicts; i++) {
        json_object_put(out->conflicts[i].sf_value);
        free(out->conflicts[i].hs_value);
    }
    free(out->conflicts);
    out->hs_write = out->sf_write = out->sf_base_new = out->hs_base_new = NULL;
    out->conflicts = NULL;
    out->nconflicts = 0;
    out->create_hs = out->create_sf = false;
}

/* Drops everything but the error text: a failed merge writes nothing. */
static enum merge_result merge_fail(struct merge_output *out, enum merge_result r)
{
    output_release(out);
    if (r == MERGE_NOMEM)
        snprintf(out->error, sizeof(out->error), "Out of memory while merging the record.");
    return r;
}

enum merge_result sync_merge(const struct merge_input *in, struct merge_output *out)
{
    struct merge_ctx c;
    enum merge_result r;

    if (out == NULL)
        return MERGE_INVALID;
    memset(out, 0, sizeof(*out));
    r = input_check(in, out);
    if (r != MERGE_OK)
        return r;
    memset(&c, 0, sizeof(c));
    c.in = in;
    c.out = out;
    c.create_sf = in->sf_record == NULL;
    c.create_hs = in->hs_properties == NULL;
    out->hs_write = json_object_new_object();
    out->sf_write = json_object_new_object();
    out->sf_base_new = json_object_new_object();
    out->hs_base_new = json_object_new_object();
    if (out->hs_write == NULL || out->sf_write == NULL || out->sf_base_new == NULL ||
        out->hs_base_new == NULL)
        return merge_fail(out, MERGE_NOMEM);
    for (size_t i = 0; i < in->m->n_fields; i++) {
        r = merge_field(&c, i);
        if (r != MERGE_OK)
            return merge_fail(out, r);
    }
    if (c.nerrors > 0)
        return merge_fail(out, MERGE_CONVERSION);
    out->create_hs = c.create_hs && in->m->salesforce_to_hubspot.create;
    out->create_sf = c.create_sf && in->m->hubspot_to_salesforce.create;
    return MERGE_OK;
}

void merge_output_free(struct merge_output *out)
{
    if (out == NULL)
        return;
    output_release(out);
    out->error[0] = '\0';
}
