/* config.c: the table of simulator settings (names, types, defaults, ranges) and its JSON mapping.
 *
 * One row per setting; config_apply_json validates the whole request against a scratch copy before
 * committing, so a bad request changes nothing. */
#include "tests/crmsim/config.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/crmsim/util.h"

enum cfg_type { CFG_INT, CFG_BOOL, CFG_STR };

struct cfg_row {
    const char *name;
    enum cfg_type type;
    size_t offset;
    const char *def_str;
    int64_t def_int;
    int64_t min;
    int64_t max;
    const char *doc;
};

#define OFF(f) offsetof(struct sim_config, f)
#define I(name, f, def, lo, hi, doc)                                                               \
    {                                                                                              \
        name, CFG_INT, OFF(f), NULL, def, lo, hi, doc                                              \
    }
#define B(name, f, def, doc)                                                                       \
    {                                                                                              \
        name, CFG_BOOL, OFF(f), NULL, def, 0, 1, doc                                               \
    }
#define S(name, f, def, maxlen, doc)                                                               \
    {                                                                                              \
        name, CFG_STR, OFF(f), def, 0, 0, maxlen, doc                                              \
    }

static const struct cfg_row cfg_rows[] = {
    S("public_base_url", public_base_url, "", 200,
      "Base URL returned as instance_url and used in URLs (default: the listen address)"),
    I("request_log_size", request_log_size, 200, 0, 10000,
      "How many recent requests /_sim/stats keeps"),
    I("request_log_body_max", request_log_body_max, 65536, 0, 1048576,
      "Request bodies longer than this are truncated in the request log"),
    I("max_body_bytes", max_body_bytes, 8388608, 1024, 67108864,
      "Larger request bodies are answered 413"),
    I("max_records", max_records, 200000, 1, 10000000, "Records per CRM; creates beyond it fail"),
    I("fault_timeout_ms", fault_timeout_ms, 30000, 0, 600000,
      "How long a timeout fault holds the connection before dropping it"),

    I("hubspot_portal_id", hs_portal_id, 12345678, 1, INT64_C(999999999999), "HubSpot account id"),
    I("hubspot_app_id", hs_app_id, 1234567, 1, INT64_C(999999999999),
      "App id of the configured OAuth client and static token (webhook appId/sourceId)"),
    S("hubspot_client_id", hs_client_id, "sim-client-id", 200, "Default OAuth client id"),
    S("hubspot_client_secret", hs_client_secret, "sim-client-secret", 200,
      "Default OAuth client secret; also signs webhooks"),
    S("hubspot_refresh_token", hs_refresh_token, "sim-refresh-token", 200,
      "Refresh token accepted for the default client"),
    S("hubspot_static_token", hs_static_token, "pat-sim-token", 200,
      "Private-app token that never expires (empty: none)"),
    S("hubspot_scopes", hs_scopes,
      "crm.objects.custom.read crm.objects.custom.write crm.schemas.custom.read "
      "crm.objects.contacts.read crm.objects.contacts.write oauth",
      2000, "Space-separated scopes every HubSpot token reports (token-information endpoints)"),
    I("hubspot_ui_user_id", hs_ui_user_id, 9876543, 1, INT64_C(999999999999),
      "User id reported as sourceId (userId:N) for CRM_UI changes"),
    S("hubspot_webhook_url", hs_webhook_url, "", 2000,
      "Where webhook events are POSTed (empty: off)"),
    I("hubspot_rate_limit_max", hs_rate_limit_max, 190, 1, 100000,
      "Requests per rolling window per token (per OAuth client for issued tokens)"),
    I("hubspot_rate_limit_interval_ms", hs_rate_limit_interval_ms, 10000, 100, 3600000,
      "Length of the rolling window"),
    I("hubspot_daily_limit", hs_daily_limit, 650000, 1, 100000000,
      "Requests per UTC day per token"),
    I("hubspot_search_rate_per_second", hs_search_rate_per_second, 5, 1, 64,
      "Search requests per second per account"),
    I("hubspot_search_delay_ms", hs_search_delay_ms, 1000, 0, 600000,
      "Writes become visible to search after this delay"),
    I("hubspot_token_expires_in", hs_token_expires_in, 1800, 1, 86400,
      "expires_in (seconds) of issued OAuth access tokens"),
    B("hubspot_property_events_on_create", hs_property_events_on_create, 1,
      "Send object.propertyChange events for the properties set by a create"),
    I("webhook_max_batch", webhook_max_batch, 99, 1, 99, "Events per webhook request"),
    I("webhook_flush_ms", webhook_flush_ms, 100, 0, 600000, "Events wait this long to be batched"),
    I("webhook_retry_base_ms", webhook_retry_base_ms, 100, 0, 3600000,
      "First retry delay; doubles per attempt"),
    I("webhook_retry_max_ms", webhook_retry_max_ms, 2000, 0, 86400000, "Retry delay cap"),
    I("webhook_max_attempts", webhook_max_attempts, 10, 1, 10,
      "Attempts before a batch is dropped"),
    I("webhook_timeout_ms", webhook_timeout_ms, 5000, 100, 600000, "Webhook request timeout"),

    S("salesforce_org_id", sf_org_id, "00D000000000001", 18, "Org id (15 or 18 chars)"),
    S("salesforce_user_id", sf_user_id, "005000000000001", 18,
      "User id in the token id URL; CreatedById/LastModifiedById of API writes"),
    S("salesforce_ui_user_id", sf_ui_user_id, "005000000000002", 18,
      "CreatedById/LastModifiedById of act-as-user (/_sim/) writes and fixture records"),
    S("salesforce_username", sf_username, "sim@example.com", 200,
      "Username accepted as JWT subject"),
    S("salesforce_client_id", sf_client_id, "sim-sf-client-id", 200,
      "Connected app consumer key (also the JWT issuer)"),
    S("salesforce_client_secret", sf_client_secret, "sim-sf-client-secret", 200,
      "Connected app consumer secret"),
    S("salesforce_refresh_token", sf_refresh_token, "sim-sf-refresh-token", 200,
      "Refresh token accepted for the default client"),
    S("salesforce_static_token", sf_static_token, "sf-sim-token", 200,
      "Access token that is valid until invalidated (empty: none)"),
    B("salesforce_refresh_rotation", sf_refresh_rotation, 0,
      "Each refresh returns a new refresh_token and invalidates the old one"),
    S("salesforce_jwt_public_key", sf_jwt_public_key, "", 16384,
      "PEM public key verifying JWT bearer assertions"),
    S("salesforce_jwt_public_key_file", sf_jwt_public_key_file, "", 4096,
      "File with the PEM public key (used when salesforce_jwt_public_key is empty)"),
    S("salesforce_jwt_audiences", sf_jwt_audiences,
      "https://login.salesforce.com,https://test.salesforce.com", 2000,
      "Comma-separated accepted JWT aud values"),
    I("salesforce_api_usage_max", sf_api_usage_max, 100000, 1, INT64_C(1000000000),
      "Daily API request allocation (Sforce-Limit-Info max)"),
    I("salesforce_query_page_size", sf_query_page_size, 2000, 1, 2000, "Records per query page"),
    I("outbound_max_batch", outbound_max_batch, 100, 1, 100, "Notifications per outbound message"),
    I("outbound_flush_ms", outbound_flush_ms, 100, 0, 600000,
      "Notifications wait this long to be batched"),
    I("outbound_retry_base_ms", outbound_retry_base_ms, 100, 0, 3600000,
      "First retry delay; doubles per attempt"),
    I("outbound_retry_max_ms", outbound_retry_max_ms, 2000, 0, 7200000, "Retry delay cap"),
    I("outbound_max_attempts", outbound_max_attempts, 20, 1, 1000,
      "Attempts before a message is dropped"),
    I("outbound_timeout_ms", outbound_timeout_ms, 60000, 100, 600000, "Outbound request timeout"),
};

#define N_ROWS (sizeof cfg_rows / sizeof cfg_rows[0])

static void *field_ptr(struct sim_config *cfg, const struct cfg_row *r)
{
    return (char *)cfg + r->offset;
}

static const void *field_cptr(const struct sim_config *cfg, const struct cfg_row *r)
{
    return (const char *)cfg + r->offset;
}

void config_defaults(struct sim_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    for (size_t i = 0; i < N_ROWS; i++) {
        const struct cfg_row *r = &cfg_rows[i];
        void *p = field_ptr(cfg, r);
        if (r->type == CFG_INT)
            *(int64_t *)p = r->def_int;
        else if (r->type == CFG_BOOL)
            *(bool *)p = r->def_int != 0;
        else
            *(char **)p = xstrdup(r->def_str);
    }
}

void config_free(struct sim_config *cfg)
{
    for (size_t i = 0; i < N_ROWS; i++) {
        if (cfg_rows[i].type == CFG_STR) {
            char **p = field_ptr(cfg, &cfg_rows[i]);
            free(*p);
            *p = NULL;
        }
    }
}

static const struct cfg_row *find_row(const char *name)
{
    for (size_t i = 0; i < N_ROWS; i++) {
        if (strcmp(cfg_rows[i].name, name) == 0)
            return &cfg_rows[i];
    }
    return NULL;
}

static int check_value(const struct cfg_row *r, json_object *v, char *err, size_t errlen)
{
    if (r->type == CFG_INT) {
        if (!json_object_is_type(v, json_type_int)) {
            snprintf(err, errlen, "setting %s must be an integer", r->name);
            return -1;
        }
        int64_t x = json_object_get_int64(v);
        if (x < r->min || x > r->max) {
            snprintf(err, errlen, "setting %s must be between %lld and %lld", r->name,
                     (long long)r->min, (long long)r->max);
            return -1;
        }
    } else if (r->type == CFG_BOOL) {
        if (!json_object_is_type(v, json_type_boolean)) {
            snprintf(err, errlen, "setting %s must be true or false", r->name);
            return -1;
        }
    } else {
        if (!json_object_is_type(v, json_type_string)) {
            snprintf(err, errlen, "setting %s must be a string", r->name);
            return -1;
        }
        if ((int64_t)json_object_get_string_len(v) > r->max) {
            snprintf(err, errlen, "setting %s is longer than %lld characters", r->name,
                     (long long)r->max);
            return -1;
        }
        if (strlen(json_object_get_string(v)) != (size_t)json_object_get_string_len(v)) {
            snprintf(err, errlen, "setting %s contains a NUL character", r->name);
            return -1;
        }
    }
    return 0;
}

int config_apply_json(struct sim_config *cfg, json_object *obj, char *err, size_t errlen)
{
    if (!obj || !json_object_is_type(obj, json_type_object)) {
        snprintf(err, errlen, "config must be a JSON object");
        return -1;
    }
    json_object_object_foreach(obj, key, val)
    {
        const struct cfg_row *r = find_row(key);
        if (!r) {
            snprintf(err, errlen, "unknown setting %.100s (GET /_sim/config/schema lists them)",
                     key);
            return -1;
        }
        if (check_value(r, val, err, errlen) < 0)
            return -1;
    }
    json_object_object_foreach(obj, key2, val2)
    {
        const struct cfg_row *r = find_row(key2);
        void *p = field_ptr(cfg, r);
        if (r->type == CFG_INT) {
            *(int64_t *)p = json_object_get_int64(val2);
        } else if (r->type == CFG_BOOL) {
            *(bool *)p = json_object_get_boolean(val2);
        } else {
            free(*(char **)p);
            *(char **)p = xstrdup(json_object_get_string(val2));
        }
    }
    return 0;
}

json_object *config_to_json(const struct sim_config *cfg)
{
    json_object *o = json_object_new_object();
    for (size_t i = 0; i < N_ROWS; i++) {
        const struct cfg_row *r = &cfg_rows[i];
        const void *p = field_cptr(cfg, r);
        if (r->type == CFG_INT)
            json_set_int(o, r->name, *(const int64_t *)p);
        else if (r->type == CFG_BOOL)
            json_set_bool(o, r->name, *(const bool *)p);
        else
            json_set_str(o, r->name, *(char *const *)p ? *(char *const *)p : "");
    }
    return o;
}

json_object *config_describe(void)
{
    static const char *type_names[] = {"integer", "boolean", "string"};
    json_object *arr = json_object_new_array();
    for (size_t i = 0; i < N_ROWS; i++) {
        const struct cfg_row *r = &cfg_rows[i];
        json_object *o = json_object_new_object();
        json_set_str(o, "name", r->name);
        json_set_str(o, "type", type_names[r->type]);
        if (r->type == CFG_STR) {
            json_set_str(o, "default", r->def_str);
            json_set_int(o, "maxLength", r->max);
        } else if (r->type == CFG_BOOL) {
            json_set_bool(o, "default", r->def_int != 0);
        } else {
            json_set_int(o, "default", r->def_int);
            json_set_int(o, "min", r->min);
            json_set_int(o, "max", r->max);
        }
        json_set_str(o, "description", r->doc);
        json_object_array_add(arr, o);
    }
    return arr;
}
