/* webhooks.c: HubSpot webhook event construction and request signatures (v1, v2, v3).
 *
 * Events get a fresh eventId, a subscriptionId stable per subscription type (and per property for
 * propertyChange), the configured portalId/appId, and the change source of the txn: INTEGRATION
 * with sourceId = the writing token's app id for API writes, CRM_UI with sourceId = userId:<ui
 * user> for
 * /_sim/ act-as-user writes. Signatures use OpenSSL's EVP digest and HMAC directly. */
#include "tests/crmsim/webhooks.h"

#include <ctype.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/crmsim/util.h"

static int64_t subscription_id(const char *type, const char *property)
{
    /* FNV-1a over "type/property", folded into a 7-digit id: stable across runs. */
    uint64_t h = 1469598103934665603ULL;
    for (const char *p = type; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ULL;
    if (property) {
        h = (h ^ '/') * 1099511628211ULL;
        for (const char *p = property; *p; p++)
            h = (h ^ (unsigned char)*p) * 1099511628211ULL;
    }
    return 1000000 + (int64_t)(h % 9000000);
}

static void set_id_value(json_object *ev, const char *key, const char *id)
{
    int64_t v;
    if (util_parse_int64(id, &v) == 0)
        json_set_int(ev, key, v);
    else
        json_set_str(ev, key, id);
}

json_object *webhook_event_new(struct sim *sim, const struct txn *t, const char *subscription_type,
                               const char *object_type_id, const char *object_id,
                               int64_t occurred_ms)
{
    json_object *ev = json_object_new_object();
    json_set_int(ev, "eventId", (int64_t)++sim->dq.next_event_id);
    json_set_int(ev, "subscriptionId", subscription_id(subscription_type, NULL));
    json_set_int(ev, "portalId", sim->cfg.hs_portal_id);
    json_set_int(ev, "appId", sim->cfg.hs_app_id);
    json_set_int(ev, "occurredAt", occurred_ms);
    json_set_str(ev, "subscriptionType", subscription_type);
    json_set_int(ev, "attemptNumber", 0);
    if (object_id)
        set_id_value(ev, "objectId", object_id);
    if (object_type_id)
        json_set_str(ev, "objectTypeId", object_type_id);
    char src[64];
    if (t->source == SRC_UI) {
        json_set_str(ev, "changeSource", "CRM_UI");
        snprintf(src, sizeof src, "userId:%lld", (long long)sim->cfg.hs_ui_user_id);
    } else {
        json_set_str(ev, "changeSource", "INTEGRATION");
        snprintf(src, sizeof src, "%lld", (long long)t->app_id);
    }
    json_set_str(ev, "sourceId", src);
    return ev;
}

void webhook_event_set_property(json_object *ev, const char *property, const char *value)
{
    json_set_int(ev, "subscriptionId", subscription_id("object.propertyChange", property));
    json_set_str(ev, "propertyName", property);
    json_set_str(ev, "propertyValue", value ? value : "");
}

static void sha256_hex(const void *a, size_t alen, const void *b, size_t blen, const void *c,
                       size_t clen, const void *d, size_t dlen, char *out)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (!ctx || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1 ||
        EVP_DigestUpdate(ctx, a, alen) != 1 || EVP_DigestUpdate(ctx, b, blen) != 1 ||
        EVP_DigestUpdate(ctx, c, clen) != 1 || EVP_DigestUpdate(ctx, d, dlen) != 1 ||
        EVP_DigestFinal_ex(ctx, md, &mdlen) != 1) {
        EVP_MD_CTX_free(ctx);
        out[0] = '\0';
        return;
    }
    EVP_MD_CTX_free(ctx);
    util_hex(md, mdlen, out);
}

void webhook_sign_v1(const char *secret, const char *body, size_t len, char *out)
{
    sha256_hex(secret, strlen(secret), body, len, "", 0, "", 0, out);
}

void webhook_sign_v2(const char *secret, const char *method, const char *uri, const char *body,
                     size_t len, char *out)
{
    sha256_hex(secret, strlen(secret), method, strlen(method), uri, strlen(uri), body, len, out);
}

char *webhook_sign_v3(const char *secret, const char *method, const char *uri, const char *body,
                      size_t len, const char *timestamp)
{
    struct buf msg = {0};
    buf_puts(&msg, method);
    buf_puts(&msg, uri);
    buf_append(&msg, body, len);
    buf_puts(&msg, timestamp);
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int maclen = 0;
    if (!HMAC(EVP_sha256(), secret, (int)strlen(secret), (const unsigned char *)msg.data, msg.len,
              mac, &maclen)) {
        buf_free(&msg);
        return xstrdup("");
    }
    buf_free(&msg);
    return util_base64_encode(mac, maclen, false);
}

char *webhook_signature_uri(const char *url)
{
    static const struct {
        const char *esc;
        char c;
    } decoded[] = {{"3A", ':'},  {"2F", '/'}, {"3F", '?'}, {"40", '@'}, {"21", '!'}, {"24", '$'},
                   {"27", '\''}, {"28", '('}, {"29", ')'}, {"2A", '*'}, {"2C", ','}, {"3B", ';'}};
    struct buf b = {0};
    for (const char *p = url; *p; p++) {
        if (*p == '%' && p[1] && p[2]) {
            bool done = false;
            for (size_t i = 0; i < sizeof decoded / sizeof decoded[0]; i++) {
                if (toupper((unsigned char)p[1]) == decoded[i].esc[0] &&
                    toupper((unsigned char)p[2]) == decoded[i].esc[1]) {
                    buf_putc(&b, decoded[i].c);
                    p += 2;
                    done = true;
                    break;
                }
            }
            if (done)
                continue;
        }
        buf_putc(&b, *p);
    }
    return buf_detach(&b, NULL);
}
