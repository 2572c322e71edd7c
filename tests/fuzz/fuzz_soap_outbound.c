/* fuzz_soap_outbound.c: libFuzzer target for handlers/soap_outbound.
 *
 * Owns: one input -> soap_parse_notifications() (invariants of a successful parse are checked
 * and every notification is turned into JSON), soap_render_fault() (its output must be
 * well-formed XML that gives back a faultstring) and soap_org_id_matches().
 * Seeds: tests/fuzz/corpus/soap_outbound/. A broken invariant calls abort().
 * Must not: print, or keep state between inputs. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/tree.h>

#include "handlers/soap_outbound.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    soap_outbound_init();
    return 0;
}

static void check(int ok)
{
    if (!ok) {
        abort();
    }
}

static int id_ok(const char *s)
{
    size_t n = strlen(s);
    if (n != 15 && n != 18) {
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'))) {
            return 0;
        }
    }
    return 1;
}

static void check_message(const struct soap_message *m)
{
    check(m->organization_id != NULL && id_ok(m->organization_id));
    check(m->action_id == NULL || id_ok(m->action_id));
    check(m->notification_count >= 1 && m->notification_count <= SOAP_MAX_NOTIFICATIONS);
    for (size_t i = 0; i < m->notification_count; i++) {
        const struct soap_notification *n = &m->notifications[i];
        check(id_ok(n->id));
        check(n->object_type != NULL && n->object_type[0] != '\0');
        check(n->record_id == NULL || id_ok(n->record_id));
        check(n->field_count <= SOAP_MAX_FIELDS);
        check((n->field_count == 0) == (n->fields == NULL));
        for (size_t k = 0; k < n->field_count; k++) {
            const struct soap_field *f = &n->fields[k];
            check(f->name != NULL && f->name[0] != '\0');
            check(f->is_null == (f->value == NULL));
            check(f->is_null ? f->value_len == 0 : strlen(f->value) == f->value_len);
        }
        json_object *j = soap_notification_to_json(n, m);
        check(j != NULL);
        check(json_object_object_get_ex(j, "sessionId", NULL) == 0);
        json_object *fields = NULL;
        check(json_object_object_get_ex(j, "fields", &fields));
        check((size_t)json_object_object_length(fields) == n->field_count);
        check(json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN) != NULL);
        json_object_put(j);
    }
}

static void check_fault(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    check(text != NULL);
    memcpy(text, data, size);
    text[size] = '\0';
    char *fault = soap_render_fault(text, text);
    check(fault != NULL);
    xmlDocPtr doc = xmlReadMemory(fault, (int)strlen(fault), NULL, NULL,
                                  XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    check(doc != NULL);
    xmlNodePtr fault_el = xmlFirstElementChild(xmlFirstElementChild(xmlDocGetRootElement(doc)));
    check(fault_el != NULL && xmlStrEqual(fault_el->name, (const xmlChar *)"Fault"));
    xmlNodePtr code = xmlFirstElementChild(fault_el);
    xmlNodePtr string = xmlNextElementSibling(code);
    check(string != NULL && xmlNextElementSibling(string) == NULL);
    xmlFreeDoc(doc);
    free(fault);
    free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct soap_message *m = NULL;
    char err[256];

    int rc = soap_parse_notifications((const char *)data, size, (size_t)1024 * 1024, 0, &m, err,
                                      sizeof(err));
    check((rc == SOAP_OK) == (m != NULL));
    check(rc <= 0 && rc >= SOAP_ERR_TOO_LARGE);
    if (rc == SOAP_OK) {
        check_message(m);
    } else {
        check(err[0] != '\0' && memchr(err, '\0', sizeof(err)) != NULL);
    }
    soap_message_free(m);

    if (size <= 4096) {
        check_fault(data, size);
    }
    if (size >= 36) {
        char a[19], b[19];
        memcpy(a, data, 18);
        memcpy(b, data + 18, 18);
        a[18] = b[18] = '\0';
        (void)soap_org_id_matches(a, b);
    }
    return 0;
}
