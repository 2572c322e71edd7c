/* salesforce_common.c: Salesforce error arrays, describes, field validation, record writes and
 * rendering.
 *
 * Validation mirrors Salesforce: unknown field → INVALID_FIELD,
 * system/non-createable/non-updateable → INVALID_FIELD_FOR_INSERT_UPDATE, missing required
 * (nillable false, createable, not defaulted) → REQUIRED_FIELD_MISSING with the fields, too long →
 * STRING_TOO_LONG, restricted picklist → INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST, bad reference id
 * → MALFORMED_ID, duplicate unique value → DUPLICATE_VALUE, undecodable value → JSON_PARSER_ERROR.
 * Records keep typed JSON values; system fields (Id, IsDeleted, CreatedDate, CreatedById,
 * LastModifiedDate, LastModifiedById, SystemModstamp) live in struct sf_record; the dates use
 * second granularity like Salesforce ("2024-05-02T11:53:53.000+0000"), and the *ById fields name
 * the writing user: the token's user (salesforce_user_id) for API writes, salesforce_ui_user_id for
 * act-as-user writes and fixtures. */
#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tests/crmsim/salesforce.h"

/* ---- errors ---- */

void sf_err_init(struct sf_err *e)
{
    memset(e, 0, sizeof *e);
}

void sf_err_free(struct sf_err *e)
{
    json_object_put(e->fields);
    memset(e, 0, sizeof *e);
}

void sf_err_set(struct sf_err *e, int status, const char *code, const char *field, const char *fmt,
                ...)
{
    e->status = status;
    snprintf(e->code, sizeof e->code, "%s", code);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->message, sizeof e->message, fmt, ap);
    va_end(ap);
    json_object_put(e->fields);
    e->fields = json_object_new_array();
    if (field)
        json_object_array_add(e->fields, json_object_new_string(field));
}

void sf_err_respond(const struct sf_err *e, struct http_resp *resp)
{
    json_object *arr = json_object_new_array();
    json_object *o = json_object_new_object();
    json_set_str(o, "message", e->message);
    json_set_str(o, "errorCode", e->code);
    json_object_object_add(o, "fields",
                           e->fields ? json_object_get(e->fields) : json_object_new_array());
    json_object_array_add(arr, o);
    http_resp_json(resp, e->status ? e->status : 400, arr);
}

json_object *sf_err_collection(const struct sf_err *e)
{
    json_object *o = json_object_new_object();
    json_set_str(o, "statusCode", e->code);
    json_set_str(o, "message", e->message);
    json_object_object_add(o, "fields",
                           e->fields ? json_object_get(e->fields) : json_object_new_array());
    return o;
}

void sf_error(struct http_resp *resp, int status, const char *code, const char *message)
{
    json_object *arr = json_object_new_array();
    json_object *o = json_object_new_object();
    json_set_str(o, "message", message);
    json_set_str(o, "errorCode", code);
    json_object_array_add(arr, o);
    http_resp_json(resp, status, arr);
}

void sf_errorf(struct http_resp *resp, int status, const char *code, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    sf_error(resp, status, code, msg);
}

/* ---- dates ---- */

static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

int sf_http_date_parse(const char *s, int64_t *ms)
{
    if (!s)
        return -1;
    const char *comma = strchr(s, ',');
    if (comma)
        s = comma + 1;
    while (*s == ' ')
        s++;
    int day, year, h, mi, sec;
    char mon[4];
    if (sscanf(s, "%2d %3s %4d %2d:%2d:%2d", &day, mon, &year, &h, &mi, &sec) != 6)
        return -1;
    int m = -1;
    for (int i = 0; i < 12; i++) {
        if (strcmp(mon, months[i]) == 0)
            m = i;
    }
    if (m < 0 || day < 1 || day > 31 || h > 23 || mi > 59 || sec > 60 || year < 1970)
        return -1;
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    tm.tm_year = year - 1900;
    tm.tm_mon = m;
    tm.tm_mday = day;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = sec;
    *ms = (int64_t)timegm(&tm) * 1000;
    return 0;
}

void sf_http_date_format(int64_t ms, char *out, size_t outlen)
{
    static const char *const days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    snprintf(out, outlen, "%s, %02d %s %04d %02d:%02d:%02d GMT", days[tm.tm_wday], tm.tm_mday,
             months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/* ---- describes ---- */

static const struct {
    const char *name;
    const char *prefix;
} standard_prefixes[] = {{"Account", "001"},     {"Contact", "003"}, {"Lead", "00Q"},
                         {"Opportunity", "006"}, {"Case", "500"},    {"User", "005"},
                         {"Task", "00T"},        {"Event", "00U"},   {"Campaign", "701"}};

static bool is_string_type(const char *t)
{
    static const char *const s[] = {
        "string",   "textarea",      "email",    "phone",           "url",
        "picklist", "multipicklist", "combobox", "encryptedstring", "time"};
    for (size_t i = 0; i < sizeof s / sizeof s[0]; i++) {
        if (strcmp(s[i], t) == 0)
            return true;
    }
    return false;
}

static bool is_id_type(const char *t)
{
    return strcmp(t, "id") == 0 || strcmp(t, "reference") == 0;
}

static bool is_double_type(const char *t)
{
    return strcmp(t, "double") == 0 || strcmp(t, "currency") == 0 || strcmp(t, "percent") == 0;
}

static bool known_type(const char *t)
{
    return is_string_type(t) || is_id_type(t) || is_double_type(t) || strcmp(t, "boolean") == 0 ||
           strcmp(t, "int") == 0 || strcmp(t, "date") == 0 || strcmp(t, "datetime") == 0;
}

static bool jbool(json_object *o, const char *key, bool def)
{
    json_object *v = json_get(o, key);
    if (!v || !json_object_is_type(v, json_type_boolean))
        return def;
    return json_object_get_boolean(v);
}

static void put_default(json_object *o, const char *key, json_object *v)
{
    if (!json_get(o, key))
        json_object_object_add(o, key, v);
    else
        json_object_put(v);
}

/* The fields Salesforce keeps itself, in describe order (Id first). */
static const char *const SYSTEM_FIELDS[] = {"Id",
                                            "IsDeleted",
                                            "CreatedDate",
                                            "CreatedById",
                                            "LastModifiedDate",
                                            "LastModifiedById",
                                            "SystemModstamp"};
#define N_SYSTEM_FIELDS (sizeof SYSTEM_FIELDS / sizeof SYSTEM_FIELDS[0])

static bool is_system_field(const char *name)
{
    for (size_t i = 0; i < N_SYSTEM_FIELDS; i++) {
        if (util_streq_ci(SYSTEM_FIELDS[i], name))
            return true;
    }
    return false;
}

static json_object *system_field_doc(const char *name)
{
    json_object *f = json_object_new_object();
    json_set_str(f, "name", name);
    if (strcmp(name, "Id") == 0) {
        json_set_str(f, "label", "Record ID");
        json_set_str(f, "type", "id");
        json_set_int(f, "length", 18);
    } else if (strcmp(name, "IsDeleted") == 0) {
        json_set_str(f, "label", "Deleted");
        json_set_str(f, "type", "boolean");
    } else if (strcmp(name, "CreatedById") == 0 || strcmp(name, "LastModifiedById") == 0) {
        bool created = strcmp(name, "CreatedById") == 0;
        json_set_str(f, "label", created ? "Created By ID" : "Last Modified By ID");
        json_set_str(f, "type", "reference");
        json_set_int(f, "length", 18);
        json_object *to = json_object_new_array();
        json_object_array_add(to, json_object_new_string("User"));
        json_object_object_add(f, "referenceTo", to);
        json_set_str(f, "relationshipName", created ? "CreatedBy" : "LastModifiedBy");
    } else {
        json_set_str(f, "label",
                     strcmp(name, "CreatedDate") == 0        ? "Created Date"
                     : strcmp(name, "LastModifiedDate") == 0 ? "Last Modified Date"
                                                             : "System Modstamp");
        json_set_str(f, "type", "datetime");
    }
    return f;
}

/* Completes a field document with describe defaults (in place). */
static void complete_field(json_object *fd, const char *name, const char *type, bool system)
{
    put_default(fd, "type", json_object_new_string(type));
    put_default(fd, "label", json_object_new_string(name));
    int64_t len = strcmp(type, "textarea") == 0 ? 32768
                  : is_string_type(type)        ? 255
                  : is_id_type(type)            ? 18
                                                : 0;
    put_default(fd, "length", json_object_new_int64(len));
    if (system) {
        json_set_bool(fd, "nillable", false);
        json_set_bool(fd, "createable", false);
        json_set_bool(fd, "updateable", false);
        json_set_bool(fd, "defaultedOnCreate", true);
    }
    put_default(fd, "nillable", json_object_new_boolean(strcmp(type, "boolean") != 0));
    put_default(fd, "createable", json_object_new_boolean(true));
    put_default(fd, "updateable", json_object_new_boolean(true));
    put_default(fd, "calculated", json_object_new_boolean(false));
    put_default(fd, "externalId", json_object_new_boolean(false));
    put_default(fd, "unique", json_object_new_boolean(false));
    put_default(fd, "caseSensitive", json_object_new_boolean(false));
    put_default(fd, "defaultedOnCreate", json_object_new_boolean(strcmp(type, "boolean") == 0));
    put_default(fd, "restrictedPicklist", json_object_new_boolean(false));
    put_default(fd, "referenceTo", json_object_new_array());
    put_default(fd, "relationshipName", NULL);
    put_default(fd, "picklistValues", json_object_new_array());
    put_default(fd, "defaultValue", NULL);
    put_default(fd, "custom", json_object_new_boolean(strstr(name, "__c") != NULL));
    put_default(fd, "filterable", json_object_new_boolean(true));
    put_default(fd, "sortable", json_object_new_boolean(strcmp(type, "textarea") != 0));
    put_default(fd, "idLookup",
                json_object_new_boolean(strcmp(name, "Id") == 0 || jbool(fd, "externalId", false)));
    put_default(fd, "nameField", json_object_new_boolean(strcmp(name, "Name") == 0));
    json_object *pl = json_get(fd, "picklistValues");
    for (size_t i = 0;
         pl && json_object_is_type(pl, json_type_array) && i < json_object_array_length(pl); i++) {
        json_object *pv = json_object_array_get_idx(pl, i);
        if (!json_object_is_type(pv, json_type_object))
            continue;
        put_default(pv, "label", json_object_get(json_get(pv, "value")));
        put_default(pv, "active", json_object_new_boolean(true));
        put_default(pv, "defaultValue", json_object_new_boolean(false));
        put_default(pv, "validFor", NULL);
    }
}

static int parse_field(json_object *fd, struct sf_field *f, char *err, size_t errlen)
{
    const char *name = json_get_str(fd, "name");
    if (!name || !*name) {
        snprintf(err, errlen, "a field has no name");
        return -1;
    }
    const char *type = json_get_str(fd, "type");
    if (!type)
        type = "string";
    if (!known_type(type)) {
        snprintf(err, errlen, "field %s has unsupported type %s", name, type);
        return -1;
    }
    f->system = is_system_field(name);
    f->name = xstrdup(name);
    f->type = xstrdup(type);
    complete_field(fd, f->name, f->type, f->system);
    json_object *lv = json_get(fd, "length");
    f->length = lv ? json_object_get_int64(lv) : 0;
    f->nillable = jbool(fd, "nillable", true);
    f->createable = jbool(fd, "createable", true) && !f->system;
    f->updateable = jbool(fd, "updateable", true) && !f->system;
    f->calculated = jbool(fd, "calculated", false);
    if (f->calculated)
        f->createable = f->updateable = false;
    f->external_id = jbool(fd, "externalId", false);
    f->unique = jbool(fd, "unique", false);
    f->case_sensitive = jbool(fd, "caseSensitive", false);
    json_object *dv = json_get(fd, "defaultValue");
    f->default_value = dv ? json_object_get(dv) : NULL;
    f->defaulted = jbool(fd, "defaultedOnCreate", false) || dv || strcmp(type, "boolean") == 0;
    f->restricted = jbool(fd, "restrictedPicklist", false);
    json_object *pl = json_get(fd, "picklistValues");
    size_t n = pl && json_object_is_type(pl, json_type_array) ? json_object_array_length(pl) : 0;
    f->picklist = xcalloc(n + 1, sizeof *f->picklist);
    for (size_t i = 0; i < n; i++) {
        json_object *pv = json_object_array_get_idx(pl, i);
        const char *v = json_get_str(pv, "value");
        if (v && jbool(pv, "active", true))
            f->picklist[f->n_picklist++] = xstrdup(v);
    }
    return 0;
}

struct sf_object *sf_object_from_json(struct sim *sim, json_object *doc, char *err, size_t errlen)
{
    const char *name = doc ? json_get_str(doc, "name") : NULL;
    json_object *fields = json_get(doc, "fields");
    if (!name || !*name || strlen(name) > 80) {
        snprintf(err, errlen, "describe needs a \"name\"");
        return NULL;
    }
    for (const char *p = name; *p; p++) {
        if (!isalnum((unsigned char)*p) && *p != '_') {
            snprintf(err, errlen, "describe name %s may only contain letters, digits and _", name);
            return NULL;
        }
    }
    if (!fields || !json_object_is_type(fields, json_type_array)) {
        snprintf(err, errlen, "describe %s needs a \"fields\" array", name);
        return NULL;
    }
    struct sf_object *o = xcalloc(1, sizeof *o);
    o->name = xstrdup(name);
    o->describe_ms = util_now_ms() / 1000 * 1000;
    json_object_deep_copy(doc, &o->describe, NULL);
    json_object *d = o->describe;
    json_object *fl = json_get(d, "fields");
    /* System fields first (Id) and last (the rest), unless the fixture lists them. */
    json_object *all = json_object_new_array();
    bool has_id = false;
    for (size_t i = 0; i < json_object_array_length(fl); i++)
        has_id |= util_streq_ci(json_get_str(json_object_array_get_idx(fl, i), "name"), "Id");
    if (!has_id)
        json_object_array_add(all, system_field_doc("Id"));
    for (size_t i = 0; i < json_object_array_length(fl); i++)
        json_object_array_add(all, json_object_get(json_object_array_get_idx(fl, i)));
    for (size_t s = 1; s < N_SYSTEM_FIELDS; s++) {
        bool present = false;
        for (size_t i = 0; i < json_object_array_length(fl); i++)
            present |= util_streq_ci(json_get_str(json_object_array_get_idx(fl, i), "name"),
                                     SYSTEM_FIELDS[s]);
        if (!present)
            json_object_array_add(all, system_field_doc(SYSTEM_FIELDS[s]));
    }
    json_object_object_add(d, "fields", all);
    size_t n = json_object_array_length(all);
    if (n > SIM_MAX_PROPERTIES) {
        snprintf(err, errlen, "describe %s has more than %d fields", name, SIM_MAX_PROPERTIES);
        goto fail;
    }
    o->fields = xcalloc(n, sizeof *o->fields);
    for (size_t i = 0; i < n; i++) {
        json_object *fd = json_object_array_get_idx(all, i);
        if (!json_object_is_type(fd, json_type_object)) {
            snprintf(err, errlen, "describe %s: fields[%zu] must be an object", name, i);
            goto fail;
        }
        char ferr[200];
        int rc = parse_field(fd, &o->fields[o->n_fields], ferr, sizeof ferr);
        o->n_fields++;
        if (rc < 0) {
            snprintf(err, errlen, "describe %s: %s", name, ferr);
            goto fail;
        }
        for (size_t j = 0; j + 1 < o->n_fields; j++) {
            if (util_streq_ci(o->fields[j].name, o->fields[o->n_fields - 1].name)) {
                snprintf(err, errlen, "describe %s: field %s is defined twice", name,
                         o->fields[j].name);
                goto fail;
            }
        }
    }
    const char *kp = json_get_str(d, "keyPrefix");
    if (kp) {
        if (strlen(kp) != 3 || !isalnum((unsigned char)kp[0]) || !isalnum((unsigned char)kp[1]) ||
            !isalnum((unsigned char)kp[2])) {
            snprintf(err, errlen, "describe %s: keyPrefix must be 3 letters/digits", name);
            goto fail;
        }
        snprintf(o->key_prefix, sizeof o->key_prefix, "%s", kp);
    } else {
        for (size_t i = 0; i < sizeof standard_prefixes / sizeof standard_prefixes[0]; i++) {
            if (strcmp(standard_prefixes[i].name, name) == 0)
                snprintf(o->key_prefix, sizeof o->key_prefix, "%s", standard_prefixes[i].prefix);
        }
        if (!o->key_prefix[0]) {
            static const char b36[] = "0123456789abcdefghijklmnopqrstuvwxyz";
            size_t k = sim->sf.n_objects + 1;
            snprintf(o->key_prefix, sizeof o->key_prefix, "a%c%c", b36[(k / 36) % 36], b36[k % 36]);
        }
        json_set_str(d, "keyPrefix", o->key_prefix);
    }
    put_default(d, "label", json_object_new_string(name));
    put_default(d, "labelPlural", json_object_new_string(name));
    put_default(d, "custom", json_object_new_boolean(strstr(name, "__c") != NULL));
    static const char *const flags[] = {"createable",   "updateable", "deletable",    "queryable",
                                        "retrieveable", "searchable", "replicateable"};
    for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++)
        put_default(d, flags[i], json_object_new_boolean(true));
    put_default(d, "childRelationships", json_object_new_array());
    put_default(d, "recordTypeInfos", json_object_new_array());
    return o;
fail:
    sf_object_free(o);
    return NULL;
}

int sf_object_install(struct sim *sim, struct sf_object *o, char *err, size_t errlen)
{
    for (size_t i = 0; i < sim->sf.n_objects; i++) {
        struct sf_object *x = sim->sf.objects[i];
        if (util_streq_ci(x->name, o->name)) {
            snprintf(err, errlen,
                     "describe %s already exists; POST /_sim/reset first to replace it", o->name);
            return -1;
        }
        if (strcmp(x->key_prefix, o->key_prefix) == 0) {
            snprintf(err, errlen, "describe %s: key prefix %s is already used by %s", o->name,
                     o->key_prefix, x->name);
            return -1;
        }
    }
    if (sim->sf.n_objects >= SIM_MAX_SCHEMAS) {
        snprintf(err, errlen, "at most %d describes", SIM_MAX_SCHEMAS);
        return -1;
    }
    xgrow(&sim->sf.objects, &sim->sf.cap_objects, sim->sf.n_objects + 1, sizeof *sim->sf.objects);
    sim->sf.objects[sim->sf.n_objects++] = o;
    return 0;
}

json_object *sf_describe_render(struct sim *sim, struct sf_object *o, const char *version)
{
    json_object *d = NULL;
    json_object_deep_copy(o->describe, &d, NULL);
    json_object *urls = json_object_new_object();
    char buf[300];
    snprintf(buf, sizeof buf, "/services/data/%s/sobjects/%s", version, o->name);
    json_set_str(urls, "sobject", buf);
    snprintf(buf, sizeof buf, "/services/data/%s/sobjects/%s/describe", version, o->name);
    json_set_str(urls, "describe", buf);
    snprintf(buf, sizeof buf, "/services/data/%s/sobjects/%s/{ID}", version, o->name);
    json_set_str(urls, "rowTemplate", buf);
    json_object_object_add(d, "urls", urls);
    return d;
}

struct sf_object *sf_object_require(struct sim *sim, const char *name, struct http_resp *resp)
{
    struct sf_object *o = sf_object_find(sim, name);
    if (!o)
        sf_error(resp, 404, "NOT_FOUND", "The requested resource does not exist");
    return o;
}

/* ---- values ---- */

static size_t utf8_len(const char *s)
{
    size_t n = 0;
    for (; *s; s++) {
        if (((unsigned char)*s & 0xC0) != 0x80)
            n++;
    }
    return n;
}

static const char *token_name(json_object *v)
{
    switch (json_object_get_type(v)) {
    case json_type_string:
        return "VALUE_STRING";
    case json_type_int:
        return "VALUE_NUMBER_INT";
    case json_type_double:
        return "VALUE_NUMBER_FLOAT";
    case json_type_boolean:
        return "VALUE_TRUE";
    case json_type_object:
        return "START_OBJECT";
    case json_type_array:
        return "START_ARRAY";
    default:
        return "VALUE_NULL";
    }
}

static void parser_error(struct sf_err *e, const struct sf_field *f, json_object *v)
{
    sf_err_set(e, 400, "JSON_PARSER_ERROR", NULL,
               "Cannot deserialize instance of %s from %s value %.100s or request may be missing a "
               "required field",
               f->type, token_name(v), json_object_get_string(v));
}

static bool valid_email(const char *s)
{
    const char *at = strchr(s, '@');
    return at && at != s && strchr(at + 1, '.') && !strchr(s, ' ') && at[1] != '.';
}

/* Normalises one value for field f into a new JSON value (NULL = JSON null); -1 with e. */
static int coerce_value(struct sim *sim, const struct sf_field *f, json_object *v,
                        json_object **out, struct sf_err *e)
{
    *out = NULL;
    if (!v || json_object_is_type(v, json_type_null))
        return 0;
    const char *t = f->type;
    if (json_object_is_type(v, json_type_object) || json_object_is_type(v, json_type_array)) {
        parser_error(e, f, v);
        return -1;
    }
    if (strcmp(t, "boolean") == 0) {
        if (json_object_is_type(v, json_type_boolean)) {
            *out = json_object_new_boolean(json_object_get_boolean(v));
            return 0;
        }
        const char *s = json_object_get_string(v);
        if (json_object_is_type(v, json_type_string) &&
            (util_streq_ci(s, "true") || util_streq_ci(s, "false"))) {
            *out = json_object_new_boolean(util_streq_ci(s, "true"));
            return 0;
        }
        parser_error(e, f, v);
        return -1;
    }
    if (strcmp(t, "int") == 0 || is_double_type(t)) {
        double d;
        if (json_object_is_type(v, json_type_int) || json_object_is_type(v, json_type_double))
            d = json_object_get_double(v);
        else if (!json_object_is_type(v, json_type_string) ||
                 util_parse_double(json_object_get_string(v), &d) < 0) {
            parser_error(e, f, v);
            return -1;
        }
        if (strcmp(t, "int") == 0) {
            if (d != floor(d) || fabs(d) > 2147483647.0) {
                parser_error(e, f, v);
                return -1;
            }
            *out = json_object_new_int64((int64_t)d);
        } else {
            *out = json_object_new_double(d);
        }
        return 0;
    }
    if (json_object_is_type(v, json_type_boolean) && !is_string_type(t)) {
        parser_error(e, f, v);
        return -1;
    }
    const char *s = json_object_get_string(v);
    if (strcmp(t, "date") == 0) {
        int64_t ms;
        if (util_parse_date(s, &ms) < 0 && util_parse_datetime(s, &ms) < 0) {
            parser_error(e, f, v);
            return -1;
        }
        char buf[16];
        util_fmt_date(ms, buf, sizeof buf);
        *out = json_object_new_string(buf);
        return 0;
    }
    if (strcmp(t, "datetime") == 0) {
        int64_t ms;
        if (util_parse_datetime(s, &ms) < 0) {
            parser_error(e, f, v);
            return -1;
        }
        char buf[40];
        util_fmt_sf_datetime(ms, buf, sizeof buf);
        *out = json_object_new_string(buf);
        return 0;
    }
    if (is_id_type(t)) {
        char id18[19];
        if (!*s)
            return 0;
        if (sf_id_normalize(s, id18) < 0) {
            sf_err_set(e, 400, "MALFORMED_ID", f->name, "%s: id value of incorrect type: %.100s",
                       f->name, s);
            return -1;
        }
        for (size_t i = 0; i < sim->sf.n_objects; i++) {
            struct sf_object *target = sim->sf.objects[i];
            if (strncmp(target->key_prefix, id18, 3) != 0)
                continue;
            struct sf_record *r = sf_record_find(target, id18);
            if (!r || r->deleted) {
                sf_err_set(e, 400, "INVALID_CROSS_REFERENCE_KEY", f->name,
                           "invalid cross reference id");
                return -1;
            }
        }
        *out = json_object_new_string(id18);
        return 0;
    }
    /* string-like */
    if (!*s)
        return 0; /* an empty string stores null, as in Salesforce */
    if (f->length > 0 && (int64_t)utf8_len(s) > f->length) {
        sf_err_set(e, 400, "STRING_TOO_LONG", f->name,
                   "%s: data value too large: %.60s (max length=%lld)", f->name, s,
                   (long long)f->length);
        return -1;
    }
    if (strcmp(t, "email") == 0 && !valid_email(s)) {
        sf_err_set(e, 400, "INVALID_EMAIL_ADDRESS", f->name, "%s: invalid email address: %.100s",
                   f->name, s);
        return -1;
    }
    if ((strcmp(t, "picklist") == 0 || strcmp(t, "multipicklist") == 0) && f->restricted) {
        bool multi = strcmp(t, "multipicklist") == 0;
        const char *p = s;
        while (true) {
            const char *semi = multi ? strchr(p, ';') : NULL;
            size_t n = semi ? (size_t)(semi - p) : strlen(p);
            bool ok = false;
            for (size_t i = 0; i < f->n_picklist && !ok; i++)
                ok = strlen(f->picklist[i]) == n && strncmp(f->picklist[i], p, n) == 0;
            if (!ok) {
                sf_err_set(e, 400, "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST", f->name,
                           "%s: bad value for restricted picklist field: %.*s", f->name, (int)n, p);
                return -1;
            }
            if (!semi)
                break;
            p = semi + 1;
        }
    }
    *out = json_object_new_string(s);
    return 0;
}

static bool values_equal(const struct sf_field *f, json_object *a, json_object *b)
{
    if (!a || !b)
        return a == b;
    if (json_object_is_type(a, json_type_string) && json_object_is_type(b, json_type_string)) {
        const char *x = json_object_get_string(a), *y = json_object_get_string(b);
        if (is_id_type(f->type))
            return strncmp(x, y, 15) == 0;
        return f->case_sensitive ? strcmp(x, y) == 0 : util_streq_ci(x, y);
    }
    if (json_object_is_type(a, json_type_boolean) || json_object_is_type(b, json_type_boolean))
        return json_object_get_boolean(a) == json_object_get_boolean(b);
    return json_object_get_double(a) == json_object_get_double(b);
}

/* The live record other than except holding value v of unique field f. A text value is looked
 * up in the object's unique-value index (store.c); other values, rare for unique fields, are
 * compared with every record. */
static struct sf_record *unique_holder(struct sf_object *o, const struct sf_field *f,
                                       json_object *v, const struct sf_record *except)
{
    if (json_object_is_type(v, json_type_string)) {
        size_t n = 0;
        struct sf_record *const *c = sf_unique_candidates(o, f, json_object_get_string(v), &n);
        for (size_t i = 0; i < n; i++) {
            if (c[i] != except && !c[i]->deleted &&
                values_equal(f, json_get(c[i]->fields, f->name), v))
                return c[i];
        }
        return NULL;
    }
    for (size_t i = 0; i < o->n_records; i++) {
        struct sf_record *r = o->records[i];
        if (r == except || r->deleted)
            continue;
        if (values_equal(f, json_get(r->fields, f->name), v))
            return r;
    }
    return NULL;
}

json_object *sf_validate_fields(struct sim *sim, struct sf_object *o, json_object *input,
                                bool is_create, struct sf_record *rec, const char *skip,
                                struct sf_err *e)
{
    if (!input || !json_object_is_type(input, json_type_object)) {
        sf_err_set(e, 400, "JSON_PARSER_ERROR", NULL, "The request body must be a JSON object");
        return NULL;
    }
    json_object *changes = json_object_new_object();
    json_object_object_foreach(input, key, val)
    {
        if (strcmp(key, "attributes") == 0 || (skip && util_streq_ci(key, skip)))
            continue;
        struct sf_field *f = sf_field_find(o, key);
        if (!f) {
            sf_err_set(e, 400, "INVALID_FIELD", NULL,
                       "No such column '%.100s' on sobject of type %s", key, o->name);
            goto fail;
        }
        if (is_create ? !f->createable : !f->updateable) {
            sf_err_set(e, 400, "INVALID_FIELD_FOR_INSERT_UPDATE", f->name,
                       "Unable to create/update fields: %s. Please check the security settings of "
                       "this field and verify that it is read/write for your profile or permission "
                       "set.",
                       f->name);
            goto fail;
        }
        json_object *norm;
        if (coerce_value(sim, f, val, &norm, e) < 0)
            goto fail;
        if (!norm && !f->nillable && strcmp(f->type, "boolean") != 0) {
            sf_err_set(e, 400, "REQUIRED_FIELD_MISSING", f->name,
                       "Required fields are missing: [%s]", f->name);
            goto fail;
        }
        if (!norm && strcmp(f->type, "boolean") == 0)
            norm = json_object_new_boolean(false);
        json_object_object_add(changes, f->name, norm);
    }
    if (is_create) {
        json_object *missing = json_object_new_array();
        char list[1024] = "";
        for (size_t i = 0; i < o->n_fields; i++) {
            struct sf_field *f = &o->fields[i];
            if (f->system || f->nillable || !f->createable || f->defaulted)
                continue;
            if (json_get(changes, f->name))
                continue;
            json_object_array_add(missing, json_object_new_string(f->name));
            size_t l = strlen(list);
            snprintf(list + l, sizeof list - l, "%s%s", l ? ", " : "", f->name);
        }
        if (json_object_array_length(missing) > 0) {
            sf_err_set(e, 400, "REQUIRED_FIELD_MISSING", NULL, "Required fields are missing: [%s]",
                       list);
            json_object_put(e->fields);
            e->fields = missing;
            goto fail;
        }
        json_object_put(missing);
    }
    json_object_object_foreach(changes, ckey, cval)
    {
        struct sf_field *f = sf_field_find(o, ckey);
        if (!f->unique || !cval)
            continue;
        struct sf_record *other = unique_holder(o, f, cval, rec);
        if (other) {
            sf_err_set(e, 400, "DUPLICATE_VALUE", NULL,
                       "duplicate value found: %s duplicates value on record with id: %s", f->name,
                       other->id);
            goto fail;
        }
    }
    return changes;
fail:
    json_object_put(changes);
    return NULL;
}

static size_t sf_total_records(struct sim *sim)
{
    size_t n = 0;
    for (size_t i = 0; i < sim->sf.n_objects; i++)
        n += sim->sf.objects[i]->n_records;
    return n;
}

static int64_t sf_now(void)
{
    return util_now_ms() / 1000 * 1000;
}

/* The 18-character id of the user writing in t: the API's user or the act-as-user one. */
static void sf_writer_id(const struct sim *sim, const struct txn *t, char out[19])
{
    const char *id = t->source == SRC_INTEGRATION ? sim->cfg.sf_user_id : sim->cfg.sf_ui_user_id;
    if (sf_id_normalize(id, out) < 0)
        snprintf(out, 19, "%s", id);
}

struct sf_record *sf_write_create(struct sim *sim, struct txn *t, struct sf_object *o,
                                  json_object *changes, struct sf_err *e)
{
    if ((int64_t)sf_total_records(sim) >= sim->cfg.max_records) {
        sf_err_set(e, 400, "STORAGE_LIMIT_EXCEEDED", NULL,
                   "storage limit exceeded (crmsim max_records=%lld)",
                   (long long)sim->cfg.max_records);
        return NULL;
    }
    struct sf_record *rec = sf_record_new();
    sf_id_generate(sim, o->key_prefix, rec->id);
    rec->created_ms = rec->modified_ms = rec->modstamp_ms = sf_now();
    sf_writer_id(sim, t, rec->created_by);
    memcpy(rec->modified_by, rec->created_by, sizeof rec->modified_by);
    for (size_t i = 0; i < o->n_fields; i++) {
        struct sf_field *f = &o->fields[i];
        if (f->system || json_get(changes, f->name))
            continue;
        if (f->default_value && !json_object_is_type(f->default_value, json_type_null)) {
            json_object *dv = NULL;
            struct sf_err ignore;
            sf_err_init(&ignore);
            if (coerce_value(sim, f, f->default_value, &dv, &ignore) == 0 && dv)
                json_object_object_add(rec->fields, f->name, dv);
            sf_err_free(&ignore);
        } else if (strcmp(f->type, "boolean") == 0) {
            json_object_object_add(rec->fields, f->name, json_object_new_boolean(false));
        }
    }
    json_object_object_foreach(changes, key, val)
    {
        if (val)
            json_object_object_add(rec->fields, key, json_object_get(val));
    }
    sf_records_append(sim, o, rec);
    txn_sf_created(t, o, rec);
    txn_sf_changed(t, o->name, rec->id, rec->modified_by);
    return rec;
}

void sf_write_update(struct sim *sim, struct txn *t, struct sf_object *o, struct sf_record *rec,
                     json_object *changes)
{
    txn_sf_snapshot(t, o, rec);
    json_object *next = NULL;
    json_object_deep_copy(rec->fields, &next, NULL);
    json_object_object_foreach(changes, key, val)
    {
        if (val)
            json_object_object_add(next, key, json_object_get(val));
        else
            json_object_object_del(next, key);
    }
    json_object_put(rec->fields);
    rec->fields = next;
    sf_unique_note(o, rec);
    rec->modified_ms = rec->modstamp_ms = sf_now();
    sf_writer_id(sim, t, rec->modified_by);
    txn_sf_changed(t, o->name, rec->id, rec->modified_by);
}

void sf_write_delete(struct sim *sim, struct txn *t, struct sf_object *o, struct sf_record *rec)
{
    txn_sf_snapshot(t, o, rec);
    rec->deleted = true;
    rec->deleted_ms = rec->modstamp_ms = sf_now();
}

json_object *sf_record_value(struct sf_object *o, struct sf_record *rec, const struct sf_field *f)
{
    if (f->system) {
        char buf[40];
        if (strcmp(f->name, "Id") == 0)
            return json_object_new_string(rec->id);
        if (strcmp(f->name, "IsDeleted") == 0)
            return json_object_new_boolean(rec->deleted);
        if (strcmp(f->name, "CreatedById") == 0)
            return json_object_new_string(rec->created_by);
        if (strcmp(f->name, "LastModifiedById") == 0)
            return json_object_new_string(rec->modified_by);
        int64_t ms = strcmp(f->name, "CreatedDate") == 0        ? rec->created_ms
                     : strcmp(f->name, "LastModifiedDate") == 0 ? rec->modified_ms
                                                                : rec->modstamp_ms;
        util_fmt_sf_datetime(ms, buf, sizeof buf);
        return json_object_new_string(buf);
    }
    json_object *v = json_get(rec->fields, f->name);
    return v ? json_object_get(v) : NULL;
}

json_object *sf_record_render(struct sf_object *o, struct sf_record *rec, json_object *fields,
                              const char *version)
{
    json_object *out = json_object_new_object();
    json_object *attrs = json_object_new_object();
    json_set_str(attrs, "type", o->name);
    char url[300];
    snprintf(url, sizeof url, "/services/data/%s/sobjects/%s/%s", version, o->name, rec->id);
    json_set_str(attrs, "url", url);
    json_object_object_add(out, "attributes", attrs);
    if (fields) {
        for (size_t i = 0; i < json_object_array_length(fields); i++) {
            struct sf_field *f =
                sf_field_find(o, json_object_get_string(json_object_array_get_idx(fields, i)));
            if (f)
                json_object_object_add(out, f->name, sf_record_value(o, rec, f));
        }
    } else {
        for (size_t i = 0; i < o->n_fields; i++)
            json_object_object_add(out, o->fields[i].name, sf_record_value(o, rec, &o->fields[i]));
    }
    return out;
}

json_object *sf_coerce_key(const struct sf_field *f, const char *value)
{
    if (strcmp(f->type, "int") == 0 || is_double_type(f->type)) {
        double d;
        if (util_parse_double(value, &d) < 0)
            return NULL;
        return strcmp(f->type, "int") == 0 ? json_object_new_int64((int64_t)d)
                                           : json_object_new_double(d);
    }
    if (is_id_type(f->type)) {
        char id18[19];
        if (sf_id_normalize(value, id18) < 0)
            return NULL;
        return json_object_new_string(id18);
    }
    return json_object_new_string(value);
}

size_t sf_records_matching(struct sf_object *o, const struct sf_field *f, const char *value,
                           struct sf_record ***out)
{
    *out = NULL;
    json_object *key = sf_coerce_key(f, value);
    if (!key)
        return 0;
    size_t n = 0, cap = 0;
    for (size_t i = 0; i < o->n_records; i++) {
        struct sf_record *r = o->records[i];
        if (r->deleted)
            continue;
        json_object *v = sf_record_value(o, r, f);
        bool eq = v && values_equal(f, v, key);
        json_object_put(v);
        if (eq) {
            xgrow(out, &cap, n + 1, sizeof **out);
            (*out)[n++] = r;
        }
    }
    json_object_put(key);
    return n;
}
