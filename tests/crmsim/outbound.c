/* outbound.c: Salesforce outbound message documents (SOAP 1.1) and acknowledgement parsing.
 *
 * The document follows what Salesforce sends: soapenv:Envelope/Body/notifications (outbound
 * namespace) with OrganizationId, ActionId, SessionId (xsi:nil when none), EnterpriseUrl,
 * PartnerUrl, then Notification elements each holding Id and an sObject (xsi:type="sf:<Object>",
 * fields in the enterprise namespace, Id first, null fields omitted). Values use the SOAP formats:
 * dateTime 2017-05-02T11:53:53.000Z, doubles with a fraction, booleans true/false. */
#include "tests/crmsim/outbound.h"

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlwriter.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/crmsim/store.h"
#include "tests/crmsim/util.h"

#define NS_SOAPENV       "http://schemas.xmlsoap.org/soap/envelope/"
#define NS_OUTBOUND      "http://soap.sforce.com/2005/09/outbound"
#define NS_SOBJECT       "urn:sobject.enterprise.soap.sforce.com"
#define NS_XSI           "http://www.w3.org/2001/XMLSchema-instance"
#define NS_XSD           "http://www.w3.org/2001/XMLSchema"
#define SOAP_API_VERSION "58.0"

#define X(s) ((const xmlChar *)(s))

static void fmt_double(double d, char *out, size_t outlen)
{
    if (d == floor(d) && fabs(d) < 1e15) {
        snprintf(out, outlen, "%.1f", d);
        return;
    }
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(out, outlen, "%.*g", prec, d);
        if (strtod(out, NULL) == d)
            break;
    }
    if (!strpbrk(out, ".eE"))
        strncat(out, ".0", outlen - strlen(out) - 1);
}

/* Writes one field value as SOAP text into out; false when the value is null. */
static bool soap_value(const struct sf_field *f, json_object *v, char *out, size_t outlen)
{
    if (!v || json_object_is_type(v, json_type_null))
        return false;
    const char *t = f->type;
    if (strcmp(t, "double") == 0 || strcmp(t, "currency") == 0 || strcmp(t, "percent") == 0) {
        fmt_double(json_object_get_double(v), out, outlen);
    } else if (strcmp(t, "int") == 0) {
        snprintf(out, outlen, "%lld", (long long)json_object_get_int64(v));
    } else if (strcmp(t, "boolean") == 0) {
        snprintf(out, outlen, "%s", json_object_get_boolean(v) ? "true" : "false");
    } else if (strcmp(t, "datetime") == 0) {
        int64_t ms;
        if (util_parse_datetime(json_object_get_string(v), &ms) == 0)
            util_fmt_soap_datetime(ms, out, outlen);
        else
            snprintf(out, outlen, "%s", json_object_get_string(v));
    } else {
        return false; /* strings are written directly by the caller (may be long) */
    }
    return true;
}

static int write_field(xmlTextWriterPtr w, const char *name, const char *text)
{
    return xmlTextWriterWriteElementNS(w, X("sf"), X(name), NULL, X(text));
}

static int write_system_field(xmlTextWriterPtr w, const struct sf_record *rec, const char *name)
{
    char tmp[40];
    if (strcmp(name, "CreatedDate") == 0)
        util_fmt_soap_datetime(rec->created_ms, tmp, sizeof tmp);
    else if (strcmp(name, "LastModifiedDate") == 0)
        util_fmt_soap_datetime(rec->modified_ms, tmp, sizeof tmp);
    else if (strcmp(name, "SystemModstamp") == 0)
        util_fmt_soap_datetime(rec->modstamp_ms, tmp, sizeof tmp);
    else if (strcmp(name, "IsDeleted") == 0)
        snprintf(tmp, sizeof tmp, "%s", rec->deleted ? "true" : "false");
    else if (strcmp(name, "CreatedById") == 0)
        snprintf(tmp, sizeof tmp, "%s", rec->created_by);
    else if (strcmp(name, "LastModifiedById") == 0)
        snprintf(tmp, sizeof tmp, "%s", rec->modified_by);
    else
        return 0;
    return write_field(w, name, tmp);
}

static int write_sobject(xmlTextWriterPtr w, struct sf_object *o, const struct ob_rule *rule,
                         const char *record_id)
{
    char type[300];
    snprintf(type, sizeof type, "sf:%s", rule->object);
    if (xmlTextWriterStartElement(w, X("sObject")) < 0 ||
        xmlTextWriterWriteAttributeNS(w, X("xsi"), X("type"), NULL, X(type)) < 0 ||
        xmlTextWriterWriteAttribute(w, X("xmlns:sf"), X(NS_SOBJECT)) < 0)
        return -1;
    if (write_field(w, "Id", record_id) < 0)
        return -1;
    struct sf_record *rec = o ? sf_record_find(o, record_id) : NULL;
    if (rec && !rec->deleted) {
        for (size_t i = 0; i < rule->n_fields; i++) {
            struct sf_field *f = sf_field_find(o, rule->fields[i]);
            if (!f || strcmp(f->name, "Id") == 0)
                continue;
            if (f->system) {
                if (write_system_field(w, rec, f->name) < 0)
                    return -1;
                continue;
            }
            json_object *v = json_get(rec->fields, f->name);
            if (!v || json_object_is_type(v, json_type_null))
                continue;
            char tmp[64];
            if (soap_value(f, v, tmp, sizeof tmp)) {
                if (write_field(w, f->name, tmp) < 0)
                    return -1;
            } else if (write_field(w, f->name, json_object_get_string(v)) < 0) {
                return -1;
            }
        }
    }
    return xmlTextWriterEndElement(w);
}

char *outbound_build(struct sim *sim, const struct ob_rule *rule, const struct ob_notification *n,
                     size_t count, size_t *len)
{
    xmlBufferPtr xb = xmlBufferCreate();
    if (!xb)
        return NULL;
    xmlTextWriterPtr w = xmlNewTextWriterMemory(xb, 0);
    if (!w) {
        xmlBufferFree(xb);
        return NULL;
    }
    char org18[19];
    const char *org = rule->org_id ? rule->org_id : sim->cfg.sf_org_id;
    if (sf_id_normalize(org, org18) < 0)
        snprintf(org18, sizeof org18, "%s", org);
    char ent[512], partner[512];
    snprintf(ent, sizeof ent, "%s/services/Soap/c/%s/%.15s", sim_base_url(sim), SOAP_API_VERSION,
             org18);
    snprintf(partner, sizeof partner, "%s/services/Soap/u/%s/%.15s", sim_base_url(sim),
             SOAP_API_VERSION, org18);
    struct sf_object *o = sf_object_find(sim, rule->object);

    int rc = 0;
    rc |= xmlTextWriterStartDocument(w, "1.0", "UTF-8", NULL) < 0;
    rc |= xmlTextWriterStartElementNS(w, X("soapenv"), X("Envelope"), X(NS_SOAPENV)) < 0;
    rc |= xmlTextWriterWriteAttribute(w, X("xmlns:xsd"), X(NS_XSD)) < 0;
    rc |= xmlTextWriterWriteAttribute(w, X("xmlns:xsi"), X(NS_XSI)) < 0;
    rc |= xmlTextWriterStartElementNS(w, X("soapenv"), X("Body"), NULL) < 0;
    rc |= xmlTextWriterStartElement(w, X("notifications")) < 0;
    rc |= xmlTextWriterWriteAttribute(w, X("xmlns"), X(NS_OUTBOUND)) < 0;
    rc |= xmlTextWriterWriteElement(w, X("OrganizationId"), X(org18)) < 0;
    rc |= xmlTextWriterWriteElement(w, X("ActionId"), X(rule->action_id)) < 0;
    if (rule->session_id) {
        rc |= xmlTextWriterWriteElement(w, X("SessionId"), X(rule->session_id)) < 0;
    } else {
        rc |= xmlTextWriterStartElement(w, X("SessionId")) < 0;
        rc |= xmlTextWriterWriteAttributeNS(w, X("xsi"), X("nil"), NULL, X("true")) < 0;
        rc |= xmlTextWriterEndElement(w) < 0;
    }
    rc |= xmlTextWriterWriteElement(w, X("EnterpriseUrl"), X(ent)) < 0;
    rc |= xmlTextWriterWriteElement(w, X("PartnerUrl"), X(partner)) < 0;
    for (size_t i = 0; i < count && !rc; i++) {
        rc |= xmlTextWriterStartElement(w, X("Notification")) < 0;
        rc |= xmlTextWriterWriteElement(w, X("Id"), X(n[i].id)) < 0;
        rc |= write_sobject(w, o, rule, n[i].record_id) < 0;
        rc |= xmlTextWriterEndElement(w) < 0;
    }
    rc |= xmlTextWriterEndDocument(w) < 0;
    xmlFreeTextWriter(w);
    if (rc) {
        xmlBufferFree(xb);
        return NULL;
    }
    char *out = xstrndup((const char *)xmlBufferContent(xb), (size_t)xmlBufferLength(xb));
    if (len)
        *len = (size_t)xmlBufferLength(xb);
    xmlBufferFree(xb);
    return out;
}

static bool node_is(xmlNodePtr n, const char *ns, const char *name)
{
    return n && n->type == XML_ELEMENT_NODE && n->ns && n->ns->href &&
           strcmp((const char *)n->ns->href, ns) == 0 && strcmp((const char *)n->name, name) == 0;
}

static xmlNodePtr child_named(xmlNodePtr parent, const char *ns, const char *name)
{
    for (xmlNodePtr c = parent ? parent->children : NULL; c; c = c->next) {
        if (node_is(c, ns, name))
            return c;
    }
    return NULL;
}

bool outbound_is_ack(const char *body, size_t len)
{
    if (!body || len == 0 || len > (size_t)16 * 1024 * 1024)
        return false;
    xmlDocPtr doc = xmlReadMemory(body, (int)len, "ack.xml", NULL,
                                  XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    if (!doc)
        return false;
    bool ack = false;
    xmlNodePtr root = xmlDocGetRootElement(doc);
    if (node_is(root, NS_SOAPENV, "Envelope")) {
        xmlNodePtr resp = child_named(child_named(root, NS_SOAPENV, "Body"), NS_OUTBOUND,
                                      "notificationsResponse");
        xmlNodePtr a = child_named(resp, NS_OUTBOUND, "Ack");
        if (a) {
            xmlChar *text = xmlNodeGetContent(a);
            if (text) {
                const char *s = (const char *)text;
                while (*s == ' ' || *s == '\n' || *s == '\r' || *s == '\t')
                    s++;
                size_t l = strlen(s);
                while (l > 0 && (s[l - 1] == ' ' || s[l - 1] == '\n' || s[l - 1] == '\r' ||
                                 s[l - 1] == '\t'))
                    l--;
                ack = l == 4 && strncmp(s, "true", 4) == 0;
                xmlFree(text);
            }
        }
    }
    xmlFreeDoc(doc);
    return ack;
}
