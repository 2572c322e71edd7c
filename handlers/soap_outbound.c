/* soap_outbound.c: hardened parser for Salesforce SOAP 1.1 outbound messages, and their replies.
 *
 * Owns: the raw-byte pre-scan, the libxml2 parser context of each call and its SAX guard hooks,
 * the validating tree walk, the single heap block that holds a parsed struct soap_message, the
 * Ack/Fault renderers, the org-id comparison and the per-notification JSON payload.
 *
 * Design:
 *  1. Pre-scan (linear, raw bytes): no NUL byte (rules out UTF-16/32), first markup byte is '<'
 *     (rules out EBCDIC), no "<!DOCTYPE" anywhere (also inside comments or CDATA: Salesforce
 *     never sends those), and at most SOAP_MAX_ATTRIBUTES unquoted '=' in any start tag.
 *  2. libxml2 parses the body as UTF-8 (XML_PARSE_IGNORE_ENC) with XML_PARSE_NONET and neither
 *     NOENT, DTDLOAD, DTDATTR, DTDVALID nor HUGE. Per-context SAX hooks stop the parser at a
 *     DOCTYPE, at any entity lookup (the five predefined entities and character references never
 *     reach them), at depth SOAP_MAX_DEPTH + 1 and past a node budget (elements, comments, PIs,
 *     CDATA) of max_notifications * (SOAP_MAX_FIELDS + 16) + 256; errors go to a per-context
 *     structured handler.
 *  3. The tree walk validates and runs twice over the same code: a sizing pass that counts
 *     notifications, fields and string bytes, then a fill pass that copies into one block laid out
 *     as [soap_message][notifications][fields][strings]. The SessionId is wiped from the tree
 *     (best effort: libxml2's private copy of the input is freed unwiped, as is the caller's).
 *
 * Must not: log, print through libxml2, put the SessionId or field values into error texts,
 * substitute entities or touch the network. Elements are matched by namespace URI and local name,
 * never by prefix. A field element with element children is rejected (SOAP_ERR_INVALID), not
 * flattened: outbound messages carry only the record's own fields. Elements of unknown names or
 * foreign namespaces are ignored; repeated singletons and repeated field names are rejected. */
#include "handlers/soap_outbound.h"

#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/SAX2.h>
#include <libxml/dict.h>
#include <libxml/parser.h>
#include <libxml/parserInternals.h>
#include <libxml/tree.h>
#include <libxml/xmlerror.h>
#include <openssl/crypto.h>

#define NS_ENV  "http://schemas.xmlsoap.org/soap/envelope/"
#define NS_OUT  "http://soap.sforce.com/2005/09/outbound"
#define NS_SOBJ "urn:sobject.enterprise.soap.sforce.com"
#define NS_XSI  "http://www.w3.org/2001/XMLSchema-instance"

#define BX(s) ((const xmlChar *)(s))

/* libxml2 2.12 made the structured error argument const. */
#if LIBXML_VERSION >= 21200
typedef const xmlError *soap_xml_error_ptr;
#else
typedef xmlErrorPtr soap_xml_error_ptr;
#endif

/* Salesforce ids: 15 (case-sensitive) or 18 (with case checksum) characters [A-Za-z0-9]. */
#define ID_MAX_LEN 18
/* Longest xsi:type text inspected (prefix, colon and API name). */
#define QNAME_MAX_LEN 511
/* Duplicate-field tables: powers of two at least twice the fields they track. The small one
 * lives in struct build and serves sObjects of up to SEEN_SMALL / 2 fields. */
#define SEEN_SMALL 64u
#define SEEN_BIG   2048u
/* Node budget: XML nodes (elements, comments, PIs, CDATA sections) allowed per notification
 * beyond its fields, and per message beyond its notifications. */
#define NODES_PER_NOTIFICATION 16u
#define NODES_PER_MESSAGE      256u

static const char soap_ack_body[] =
    "<soapenv:Envelope xmlns:soapenv=\"http://schemas.xmlsoap.org/soap/envelope/\">"
    "<soapenv:Body><notificationsResponse xmlns=\"http://soap.sforce.com/2005/09/outbound\">"
    "<Ack>true</Ack></notificationsResponse></soapenv:Body></soapenv:Envelope>";

/* ---------------------------------------------------------------------------------------------
 * Error text */

static int set_err(char *err, size_t errlen, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int set_err(char *err, size_t errlen, int code, const char *fmt, ...)
{
    if (err != NULL && errlen > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return code;
}

static const struct {
    int status;
    const char *name;
} status_names[] = {
    {SOAP_OK, "ok"},
    {SOAP_ERR_MALFORMED, "malformed"},
    {SOAP_ERR_HOSTILE, "hostile"},
    {SOAP_ERR_INVALID, "invalid"},
    {SOAP_ERR_TOO_MANY, "too_many"},
    {SOAP_ERR_EMPTY, "empty"},
    {SOAP_ERR_NOMEM, "nomem"},
    {SOAP_ERR_TOO_LARGE, "too_large"},
};

const char *soap_status_name(int status)
{
    for (size_t i = 0; i < sizeof(status_names) / sizeof(status_names[0]); i++) {
        if (status_names[i].status == status) {
            return status_names[i].name;
        }
    }
    return "unknown";
}

int soap_outbound_init(void)
{
    xmlInitParser();
    return 0;
}

/* ---------------------------------------------------------------------------------------------
 * Character classes */

static int is_xml_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static int is_alnum_ascii(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

static int id_is_valid(const char *s, size_t len)
{
    if (len != 15 && len != 18) {
        return 0;
    }
    for (size_t i = 0; i < len; i++) {
        if (!is_alnum_ascii((unsigned char)s[i])) {
            return 0;
        }
    }
    return 1;
}

static int api_name_is_valid(const char *s, size_t len)
{
    if (len == 0 || len > SOAP_MAX_NAME_LEN) {
        return 0;
    }
    for (size_t i = 0; i < len; i++) {
        if (!is_alnum_ascii((unsigned char)s[i]) && s[i] != '_') {
            return 0;
        }
    }
    return 1;
}

/* ---------------------------------------------------------------------------------------------
 * Pre-scan of the raw bytes */

static int prescan(const unsigned char *p, size_t len, char *err, size_t errlen)
{
    size_t i = 0;

    if (memchr(p, 0, len) != NULL) {
        return set_err(err, errlen, SOAP_ERR_MALFORMED,
                       "The body contains a NUL byte; only UTF-8 XML is accepted.");
    }
    if (len >= 3 && p[0] == 0xEF && p[1] == 0xBB && p[2] == 0xBF) {
        i = 3;
    }
    while (i < len && is_xml_space(p[i])) {
        i++;
    }
    if (i == len) {
        return set_err(err, errlen, SOAP_ERR_EMPTY, "The body is blank.");
    }
    if (p[i] != '<') {
        return set_err(err, errlen, SOAP_ERR_MALFORMED,
                       "The body is not UTF-8 XML: it does not start with '<'.");
    }
    while (i < len) {
        const unsigned char *lt = memchr(p + i, '<', len - i);
        if (lt == NULL) {
            break;
        }
        i = (size_t)(lt - p) + 1;
        if (i >= len) {
            break;
        }
        if (p[i] == '!') {
            if (len - i >= 8 && memcmp(p + i, "!DOCTYPE", 8) == 0) {
                return set_err(err, errlen, SOAP_ERR_HOSTILE,
                               "The body contains a DOCTYPE declaration, which is not accepted.");
            }
            continue;
        }
        if (p[i] == '?' || p[i] == '/') {
            continue;
        }
        /* A start tag contains no '<', so it lies within this segment; every attribute has
         * exactly one '=' outside quotes. */
        unsigned attrs = 0;
        unsigned char quote = 0;
        for (; i < len; i++) {
            unsigned char c = p[i];
            if (c == '<') {
                break;
            }
            if (quote != 0) {
                if (c == quote) {
                    quote = 0;
                }
            } else if (c == '"' || c == '\'') {
                quote = c;
            } else if (c == '=') {
                if (++attrs > SOAP_MAX_ATTRIBUTES) {
                    return set_err(err, errlen, SOAP_ERR_HOSTILE,
                                   "A start tag has more than %d attributes.", SOAP_MAX_ATTRIBUTES);
                }
            } else if (c == '>') {
                i++;
                break;
            }
        }
    }
    return SOAP_OK;
}

/* ---------------------------------------------------------------------------------------------
 * libxml2 parse with guard hooks */

enum hostile_reason {
    HOSTILE_NONE = 0,
    HOSTILE_DOCTYPE,
    HOSTILE_ENTITY,
    HOSTILE_DEPTH,
    HOSTILE_NODES
};

struct parse_guard {
    int depth;
    size_t nodes; /* elements, comments, PIs and CDATA sections so far */
    size_t max_nodes;
    enum hostile_reason hostile;
    int nomem;
    int err_code; /* first libxml2 error, 0 if none */
    int err_line;
    int err_col;
};

static struct parse_guard *guard_of(void *ctx)
{
    xmlParserCtxtPtr ctxt = ctx;
    return ctxt != NULL ? ctxt->_private : NULL;
}

static void guard_stop(void *ctx, enum hostile_reason why)
{
    struct parse_guard *g = guard_of(ctx);
    if (g != NULL && g->hostile == HOSTILE_NONE) {
        g->hostile = why;
    }
    xmlStopParser((xmlParserCtxtPtr)ctx);
}

static void on_subset(void *ctx, const xmlChar *name, const xmlChar *external_id,
                      const xmlChar *system_id)
{
    guard_stop(ctx, HOSTILE_DOCTYPE);
}

static void on_entity_decl(void *ctx, const xmlChar *name, int type, const xmlChar *public_id,
                           const xmlChar *system_id, xmlChar *content)
{
    guard_stop(ctx, HOSTILE_DOCTYPE);
}

static xmlEntityPtr on_get_entity(void *ctx, const xmlChar *name)
{
    guard_stop(ctx, HOSTILE_ENTITY);
    return NULL;
}

static xmlParserInputPtr on_resolve_entity(void *ctx, const xmlChar *public_id,
                                           const xmlChar *system_id)
{
    guard_stop(ctx, HOSTILE_ENTITY);
    return NULL;
}

static void on_reference(void *ctx, const xmlChar *name)
{
    guard_stop(ctx, HOSTILE_ENTITY);
}

static void on_start_element(void *ctx, const xmlChar *localname, const xmlChar *prefix,
                             const xmlChar *uri, int nb_namespaces, const xmlChar **namespaces,
                             int nb_attributes, int nb_defaulted, const xmlChar **attributes)
{
    struct parse_guard *g = guard_of(ctx);
    if (g == NULL || g->hostile != HOSTILE_NONE) {
        return;
    }
    if (++g->depth > SOAP_MAX_DEPTH) {
        guard_stop(ctx, HOSTILE_DEPTH);
        return;
    }
    if (++g->nodes > g->max_nodes) {
        guard_stop(ctx, HOSTILE_NODES);
        return;
    }
    xmlSAX2StartElementNs(ctx, localname, prefix, uri, nb_namespaces, namespaces, nb_attributes,
                          nb_defaulted, attributes);
}

static void on_end_element(void *ctx, const xmlChar *localname, const xmlChar *prefix,
                           const xmlChar *uri)
{
    struct parse_guard *g = guard_of(ctx);
    if (g == NULL || g->hostile != HOSTILE_NONE) {
        return;
    }
    g->depth--;
    xmlSAX2EndElementNs(ctx, localname, prefix, uri);
}

/* Counts a comment, PI or CDATA node against the node budget; 0 when over it. */
static int guard_count_node(void *ctx)
{
    struct parse_guard *g = guard_of(ctx);
    if (g == NULL || g->hostile != HOSTILE_NONE) {
        return 0;
    }
    if (++g->nodes > g->max_nodes) {
        guard_stop(ctx, HOSTILE_NODES);
        return 0;
    }
    return 1;
}

static void on_comment(void *ctx, const xmlChar *value)
{
    if (guard_count_node(ctx)) {
        xmlSAX2Comment(ctx, value);
    }
}

static void on_pi(void *ctx, const xmlChar *target, const xmlChar *data)
{
    if (guard_count_node(ctx)) {
        xmlSAX2ProcessingInstruction(ctx, target, data);
    }
}

static void on_cdata(void *ctx, const xmlChar *value, int len)
{
    if (guard_count_node(ctx)) {
        xmlSAX2CDataBlock(ctx, value, len);
    }
}

static void on_xml_error(void *ctx, soap_xml_error_ptr e)
{
    struct parse_guard *g = guard_of(ctx);
    if (g == NULL || e == NULL || e->level < XML_ERR_ERROR) {
        return;
    }
    if (e->code == XML_ERR_NO_MEMORY) {
        g->nomem = 1;
    }
    if (g->err_code == 0) {
        g->err_code = e->code;
        g->err_line = e->line;
        g->err_col = e->int2;
    }
}

static const char *hostile_sentence(enum hostile_reason why)
{
    static const char *const text[] = {
        [HOSTILE_NONE] = "The document was rejected.",
        [HOSTILE_DOCTYPE] = "The document contains a DOCTYPE declaration, which is not accepted.",
        [HOSTILE_ENTITY] = "The document references an entity other than the predefined ones.",
        [HOSTILE_DEPTH] = "The document nests elements deeper than the accepted maximum.",
        [HOSTILE_NODES] = "The document has more XML nodes than a message of the accepted size.",
    };
    return text[why];
}

/* Parses body into *doc_out. Returns SOAP_OK or an error with err filled. */
static int parse_xml(const char *body, size_t len, size_t max_nodes, xmlDocPtr *doc_out, char *err,
                     size_t errlen)
{
    struct parse_guard g = {0};
    g.max_nodes = max_nodes;
    int rc = SOAP_OK;

    *doc_out = NULL;
    xmlParserCtxtPtr ctxt = xmlCreateMemoryParserCtxt(body, (int)len);
    if (ctxt == NULL) {
        return set_err(err, errlen, SOAP_ERR_NOMEM, "Out of memory creating the XML parser.");
    }
    xmlCtxtUseOptions(ctxt, XML_PARSE_NONET | XML_PARSE_IGNORE_ENC | XML_PARSE_NOERROR |
                                XML_PARSE_NOWARNING);
    /* Do not inherit thread-local defaults another library may have changed. */
    ctxt->replaceEntities = 0;
    ctxt->loadsubset = 0;
    ctxt->validate = 0;
    ctxt->keepBlanks = 1;
    ctxt->_private = &g;

    xmlSAXHandlerPtr sax = ctxt->sax;
    sax->serror = on_xml_error;
    sax->error = NULL;
    sax->warning = NULL;
    sax->fatalError = NULL;
    sax->internalSubset = on_subset;
    sax->externalSubset = on_subset;
    sax->entityDecl = on_entity_decl;
    sax->getEntity = on_get_entity;
    sax->getParameterEntity = on_get_entity;
    sax->resolveEntity = on_resolve_entity;
    sax->reference = on_reference;
    sax->startElementNs = on_start_element;
    sax->endElementNs = on_end_element;
    sax->comment = on_comment;
    sax->processingInstruction = on_pi;
    sax->cdataBlock = on_cdata;

    xmlParseDocument(ctxt);

    xmlDocPtr doc = ctxt->myDoc;
    ctxt->myDoc = NULL;
    if (g.hostile != HOSTILE_NONE) {
        rc = set_err(err, errlen, SOAP_ERR_HOSTILE, "%s", hostile_sentence(g.hostile));
    } else if (g.nomem) {
        rc = set_err(err, errlen, SOAP_ERR_NOMEM, "Out of memory while parsing the XML.");
    } else if (doc == NULL || !ctxt->wellFormed || !ctxt->nsWellFormed) {
        rc = set_err(err, errlen, SOAP_ERR_MALFORMED,
                     "The body is not well-formed XML (libxml2 error %d at line %d, column %d).",
                     g.err_code, g.err_line, g.err_col);
    } else if (doc->intSubset != NULL || doc->extSubset != NULL) {
        rc = set_err(err, errlen, SOAP_ERR_HOSTILE, "%s", hostile_sentence(HOSTILE_DOCTYPE));
    }
    ctxt->_private = NULL;
    xmlFreeParserCtxt(ctxt);
    if (rc != SOAP_OK) {
        xmlFreeDoc(doc);
        return rc;
    }
    *doc_out = doc;
    return SOAP_OK;
}

/* ---------------------------------------------------------------------------------------------
 * Tree helpers */

static int is_el(const xmlNode *n, const char *ns, const char *name)
{
    return n != NULL && n->type == XML_ELEMENT_NODE && n->ns != NULL && n->ns->href != NULL &&
           xmlStrEqual(n->name, BX(name)) && xmlStrEqual(n->ns->href, BX(ns));
}

static int in_ns(const xmlNode *n, const char *ns)
{
    return n->ns != NULL && n->ns->href != NULL && xmlStrEqual(n->ns->href, BX(ns));
}

static const xmlAttr *xsi_attr(const xmlNode *el, const char *name)
{
    for (const xmlAttr *a = el->properties; a != NULL; a = a->next) {
        if (a->ns != NULL && a->ns->href != NULL && xmlStrEqual(a->name, BX(name)) &&
            xmlStrEqual(a->ns->href, BX(NS_XSI))) {
            return a;
        }
    }
    return NULL;
}

/* Length of the text of a child list: text and CDATA concatenated, comments and PIs skipped.
 * Element children are SOAP_ERR_INVALID; entity references SOAP_ERR_HOSTILE. */
static int text_length(const xmlNode *child, size_t *len)
{
    size_t n = 0;
    for (; child != NULL; child = child->next) {
        switch (child->type) {
        case XML_TEXT_NODE:
        case XML_CDATA_SECTION_NODE:
            if (child->content != NULL) {
                n += strlen((const char *)child->content);
            }
            break;
        case XML_COMMENT_NODE:
        case XML_PI_NODE:
            break;
        case XML_ENTITY_REF_NODE:
        case XML_ENTITY_NODE:
            return SOAP_ERR_HOSTILE;
        default:
            return SOAP_ERR_INVALID;
        }
    }
    *len = n;
    return SOAP_OK;
}

/* Copies the text of a validated child list (see text_length) to dst and NUL-terminates it. */
static void text_copy(const xmlNode *child, char *dst)
{
    for (; child != NULL; child = child->next) {
        if ((child->type == XML_TEXT_NODE || child->type == XML_CDATA_SECTION_NODE) &&
            child->content != NULL) {
            size_t n = strlen((const char *)child->content);
            memcpy(dst, child->content, n);
            dst += n;
        }
    }
    *dst = '\0';
}

/* Reads a short text (at most cap - 1 bytes) into buf. Returns SOAP_OK, the text_length error,
 * or SOAP_ERR_INVALID when longer. */
static int text_small(const xmlNode *child, char *buf, size_t cap, size_t *len)
{
    int rc = text_length(child, len);
    if (rc != SOAP_OK) {
        return rc;
    }
    if (*len >= cap) {
        return SOAP_ERR_INVALID;
    }
    text_copy(child, buf);
    return SOAP_OK;
}

static void wipe_text(xmlDocPtr doc, xmlNode *child)
{
    for (; child != NULL; child = child->next) {
        if ((child->type == XML_TEXT_NODE || child->type == XML_CDATA_SECTION_NODE) &&
            child->content != NULL &&
            (doc->dict == NULL || !xmlDictOwns(doc->dict, child->content))) {
            OPENSSL_cleanse(child->content, strlen((const char *)child->content));
        }
    }
}

/* ---------------------------------------------------------------------------------------------
 * Two-pass build */

struct seen_slot {
    const xmlChar *name;
    unsigned gen;
};

struct build {
    int fill; /* 0: sizing pass, 1: fill pass */
    size_t max_notifications;
    xmlDocPtr doc;
    /* sizing pass: totals */
    size_t n_notifications, n_fields, n_bytes;
    /* fill pass: destinations and cursors */
    struct soap_message *msg;
    struct soap_notification *notifications;
    struct soap_field *field_next;
    char *str_next;
    /* sizing pass: duplicate field names (generation-stamped open addressing) */
    struct seen_slot *seen; /* small_seen or big_seen */
    uint32_t seen_mask;
    unsigned seen_gen;
    struct seen_slot small_seen[SEEN_SMALL];
    struct seen_slot *big_seen; /* allocated on the first sObject with many fields */
    char *err;
    size_t errlen;
};

/* Accounts for (sizing) or copies (fill) len bytes plus a NUL; returns the copy or NULL. */
static char *put_bytes(struct build *b, const char *src, size_t len)
{
    if (!b->fill) {
        b->n_bytes += len + 1;
        return NULL;
    }
    char *dst = b->str_next;
    memcpy(dst, src, len);
    dst[len] = '\0';
    b->str_next += len + 1;
    return dst;
}

/* Like put_bytes for the text of a validated child list. */
static char *put_text(struct build *b, const xmlNode *child, size_t len)
{
    if (!b->fill) {
        b->n_bytes += len + 1;
        return NULL;
    }
    char *dst = b->str_next;
    text_copy(child, dst);
    b->str_next += len + 1;
    return dst;
}

/* xsi:nil of el: 1 nil, 0 not nil or absent, SOAP_ERR_INVALID for another value. */
static int xsi_nil(const xmlNode *el)
{
    const xmlAttr *a = xsi_attr(el, "nil");
    char buf[16];
    size_t len;
    if (a == NULL) {
        return 0;
    }
    if (text_small(a->children, buf, sizeof(buf), &len) != SOAP_OK) {
        return SOAP_ERR_INVALID;
    }
    const char *s = buf;
    while (len > 0 && is_xml_space((unsigned char)s[len - 1])) {
        len--;
    }
    while (len > 0 && is_xml_space((unsigned char)*s)) {
        s++;
        len--;
    }
    if ((len == 4 && memcmp(s, "true", 4) == 0) || (len == 1 && *s == '1')) {
        return 1;
    }
    if ((len == 5 && memcmp(s, "false", 5) == 0) || (len == 1 && *s == '0')) {
        return 0;
    }
    return SOAP_ERR_INVALID;
}

/* Reads the text of el as a Salesforce id into buf (ID_MAX_LEN + 1 bytes). */
static int read_id(const xmlNode *el, char *buf, size_t *len)
{
    int rc = text_small(el->children, buf, ID_MAX_LEN + 1, len);
    if (rc == SOAP_ERR_HOSTILE) {
        return rc;
    }
    if (rc != SOAP_OK || !id_is_valid(buf, *len)) {
        return SOAP_ERR_INVALID;
    }
    return SOAP_OK;
}

static uint32_t name_hash(const char *s, size_t len)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < len; i++) {
        h = (h ^ (unsigned char)s[i]) * 16777619u;
    }
    return h;
}

/* 1 when name was already seen in the current notification, else records it. */
static int seen_before(struct build *b, const xmlChar *name, size_t len)
{
    uint32_t i = name_hash((const char *)name, len) & b->seen_mask;
    for (;;) {
        struct seen_slot *s = &b->seen[i];
        if (s->gen != b->seen_gen) {
            s->gen = b->seen_gen;
            s->name = name;
            return 0;
        }
        if (xmlStrEqual(s->name, name)) {
            return 1;
        }
        i = (i + 1) & b->seen_mask;
    }
}

static int walk_field(struct build *b, const xmlNode *el, size_t index, struct soap_notification *n)
{
    const char *name = (const char *)el->name;
    size_t name_len = strlen(name);
    size_t len = 0;
    int rc;

    if (!api_name_is_valid(name, name_len)) {
        return set_err(b->err, b->errlen, SOAP_ERR_INVALID,
                       "Notification %zu has a field whose name is not a valid API name.", index);
    }
    if (!b->fill && seen_before(b, el->name, name_len)) {
        return set_err(b->err, b->errlen, SOAP_ERR_INVALID,
                       "Notification %zu has the field %s more than once.", index, name);
    }
    int nil = xsi_nil(el);
    if (nil < 0) {
        return set_err(b->err, b->errlen, SOAP_ERR_INVALID,
                       "Notification %zu: field %s has an xsi:nil value other than true, false, "
                       "1 or 0.",
                       index, name);
    }
    rc = text_length(el->children, &len);
    if (rc == SOAP_ERR_HOSTILE) {
        return set_err(b->err, b->errlen, rc, "%s", hostile_sentence(HOSTILE_ENTITY));
    }
    if (rc != SOAP_OK) {
        return set_err(b->err, b->errlen, SOAP_ERR_INVALID,
                       "Notification %zu: field %s contains elements; only text is accepted.",
                       index, name);
    }
    if (nil && len > 0) {
        return set_err(b->err, b->errlen, SOAP_ERR_INVALID,
                       "Notification %zu: field %s is xsi:nil but has a value.", index, name);
    }

    const char *value = NULL;
    if (!nil && strcmp(name, "Id") == 0) {
        char idbuf[ID_MAX_LEN + 1];
        if (read_id(el, idbuf, &len) != SOAP_OK) {
            return set_err(b->err, b->errlen, SOAP_ERR_INVALID,
                           "Notification %zu: the record Id is not a 15- or 18-character "
                           "Salesforce id.",
                           index);
        }
        value = put_bytes(b, idbuf, len);
        if (b->fill) {
            n->record_id = value;
        }
    } else if (!nil) {
        value = put_text(b, el->children, len);
    }
    const char *name_copy = put_bytes(b, name, name_len);
    if (!b->fill) {
        b->n_fields++;
        return SOAP_OK;
    }
    struct soap_field *f = b->field_next++;
    f->name = name_copy;
    f->value = nil ? NULL : value;
    f->value_len = nil ? 0 : len;
    f->is_null = nil != 0;
    return SOAP_OK;
}

static int walk_sobject(struct build *b, const xmlNode *sobj, size_t index,
                        struct soap_notification *n)
{
    char qname[QNAME_MAX_LEN + 1];
    size_t len;
    const xmlAttr *type = xsi_attr(sobj, "type");

    if (type == NULL) {
        return set_err(b->err, b->errlen, SOAP_ERR_INVALID,
                       "Notification %zu: the sObject has no xsi:type attribute.", index);
    }
    if (text_small(type->children, qname, sizeof(qname), &len) != SOAP_OK) {
        return set_err(b->err, b->errlen, SOAP_ERR_INVALID,
                       "Notification %zu: the sObject's xsi:type is not a valid type name.", index);
    }
    const char *colon = memchr(qname, ':', len);
    const char *local = colon != NULL ? colon + 1 : qname;
    size_t local_len = len - (size_t)(local - qname);
    if (!api_name_is_valid(local, local_len)) {
        return set_err(b->err, b->errlen, SOAP_ERR_INVALID,
                       "Notification %zu: the sObject's xsi:type is not a valid type name.", index);
    }
    const char *object_type = put_bytes(b, local, local_len);
    if (b->fill) {
        n->object_type = object_type;
        n->record_id = NULL;
        n->fields = b->field_next;
    }

    size_t count = 0;
    if (!b->fill) {
        for (const xmlNode *c = sobj->children; c != NULL && count <= SOAP_MAX_FIELDS;
             c = c->next) {
            count += c->type == XML_ELEMENT_NODE && in_ns(c, NS_SOBJ);
        }
        if (count > SOAP_MAX_FIELDS) {
            return set_err(b->err, b->errlen, SOAP_ERR_TOO_MANY,
                           "Notification %zu has more than %d fields.", index, SOAP_MAX_FIELDS);
        }
        if (count <= SEEN_SMALL / 2) {
            b->seen = b->small_seen;
            b->seen_mask = SEEN_SMALL - 1;
        } else {
            if (b->big_seen == NULL) {
                b->big_seen = calloc(SEEN_BIG, sizeof(*b->big_seen));
                if (b->big_seen == NULL) {
                    return set_err(b->err, b->errlen, SOAP_ERR_NOMEM,
                                   "Out of memory reading the message.");
                }
            }
            b->seen = b->big_seen;
            b->seen_mask = SEEN_BIG - 1;
        }
        b->seen_gen++;
        count = 0;
    }
    for (const xmlNode *c = sobj->children; c != NULL; c = c->next) {
        if (c->type == XML_ENTITY_REF_NODE || c->type == XML_ENTITY_NODE) {
            return set_err(b->err, b->errlen, SOAP_ERR_HOSTILE, "%s",
                           hostile_sentence(HOSTILE_ENTITY));
        }
        if (c->type != XML_ELEMENT_NODE || !in_ns(c, NS_SOBJ)) {
            continue;
        }
        if (++count > SOAP_MAX_FIELDS) {
            return set_err(b->err, b->errlen, SOAP_ERR_TOO_MANY,
                           "Notification %zu has more than %d fields.", index, SOAP_MAX_FIELDS);
        }
        int rc = walk_field(b, c, index, n);
        if (rc != SOAP_OK) {
            return rc;
        }
    }
    if (b->fill) {
        n->field_count = count;
        if (count == 0) {
            n->fields = NULL;
        }
    }
    return SOAP_OK;
}

static int walk_notification(struct build *b, const xmlNode *el, size_t index)
{
    const xmlNode *id_el = NULL, *sobj = NULL;
    char idbuf[ID_MAX_LEN + 1];
    size_t len;

    for (const xmlNode *c = el->children; c != NULL; c = c->next) {
        if (is_el(c, NS_OUT, "Id")) {
            if (id_el != NULL) {
                return set_err(b->err, b->errlen, SOAP_ERR_INVALID,
                               "Notification %zu has more than one Id.", index);
            }
            id_el = c;
        } else if (is_el(c, NS_OUT, "sObject")) {
            if (sobj != NULL) {
                return set_err(b->err, b->errlen, SOAP_ERR_INVALID,
                               "Notification %zu has more than one sObject.", index);
            }
            sobj = c;
        }
    }
    if (id_el == NULL) {
        return set_err(b->err, b->errlen, SOAP_ERR_INVALID, "Notification %zu has no Id.", index);
    }
    if (sobj == NULL) {
        return set_err(b->err, b->errlen, SOAP_ERR_INVALID, "Notification %zu has no sObject.",
                       index);
    }
    int rc = read_id(id_el, idbuf, &len);
    if (rc != SOAP_OK) {
        return set_err(b->err, b->errlen, rc,
                       "Notification %zu: its Id is not a 15- or 18-character Salesforce id.",
                       index);
    }
    struct soap_notification *n = b->fill ? &b->notifications[index - 1] : NULL;
    const char *id = put_bytes(b, idbuf, len);
    if (n != NULL) {
        n->id = id;
    }
    return walk_sobject(b, sobj, index, n);
}

enum header_slot { HDR_ORG, HDR_ACTION, HDR_SESSION, HDR_ENTERPRISE, HDR_PARTNER, HDR_COUNT };

#define HDR_IS_ID    1u
#define HDR_REQUIRED 2u
#define HDR_SECRET   4u

static const struct {
    const char *name;
    unsigned flags;
} header_specs[HDR_COUNT] = {
    [HDR_ORG] = {"OrganizationId", HDR_IS_ID | HDR_REQUIRED},
    [HDR_ACTION] = {"ActionId", HDR_IS_ID},
    [HDR_SESSION] = {"SessionId", HDR_SECRET},
    [HDR_ENTERPRISE] = {"EnterpriseUrl", 0},
    [HDR_PARTNER] = {"PartnerUrl", 0},
};

static int header_lookup(const xmlNode *el)
{
    for (int i = 0; i < HDR_COUNT; i++) {
        if (xmlStrEqual(el->name, BX(header_specs[i].name))) {
            return i;
        }
    }
    return -1;
}

/* Reads one header element; *value gets the copy (fill pass) or stays NULL. */
static int walk_header(struct build *b, xmlNode *el, int slot, char **value)
{
    const char *name = header_specs[slot].name;
    unsigned flags = header_specs[slot].flags;
    size_t len = 0;

    int nil = xsi_nil(el);
    if (nil < 0) {
        return set_err(b->err, b->errlen, SOAP_ERR_INVALID,
                       "%s has an xsi:nil value other than true, false, 1 or 0.", name);
    }
    if (nil) {
        if (flags & HDR_REQUIRED) {
            return set_err(b->err, b->errlen, SOAP_ERR_INVALID, "%s is nil.", name);
        }
        return SOAP_OK;
    }
    if (flags & HDR_IS_ID) {
        char idbuf[ID_MAX_LEN + 1];
        int rc = read_id(el, idbuf, &len);
        if (rc != SOAP_OK) {
            return set_err(b->err, b->errlen, rc, "%s is not a 15- or 18-character Salesforce id.",
                           name);
        }
        *value = put_bytes(b, idbuf, len);
        return SOAP_OK;
    }
    int rc = text_length(el->children, &len);
    if (rc != SOAP_OK) {
        return set_err(b->err, b->errlen, rc, "%s must contain only text.", name);
    }
    *value = put_text(b, el->children, len);
    if ((flags & HDR_SECRET) && b->fill) {
        wipe_text(b->doc, el->children);
    }
    return SOAP_OK;
}

static int walk_notifications(struct build *b, xmlNode *notifs)
{
    int seen[HDR_COUNT] = {0};
    char *values[HDR_COUNT] = {NULL};
    size_t count = 0;

    for (xmlNode *c = notifs->children; c != NULL; c = c->next) {
        if (c->type != XML_ELEMENT_NODE || !in_ns(c, NS_OUT)) {
            continue;
        }
        if (xmlStrEqual(c->name, BX("Notification"))) {
            if (++count > b->max_notifications) {
                return set_err(b->err, b->errlen, SOAP_ERR_TOO_MANY,
                               "The message carries more than %zu notifications.",
                               b->max_notifications);
            }
            int rc = walk_notification(b, c, count);
            if (rc != SOAP_OK) {
                return rc;
            }
            continue;
        }
        int slot = header_lookup(c);
        if (slot < 0) {
            continue;
        }
        if (seen[slot]) {
            return set_err(b->err, b->errlen, SOAP_ERR_INVALID,
                           "The notifications element has more than one %s.",
                           header_specs[slot].name);
        }
        seen[slot] = 1;
        int rc = walk_header(b, c, slot, &values[slot]);
        if (rc != SOAP_OK) {
            return rc;
        }
    }
    if (!seen[HDR_ORG]) {
        return set_err(b->err, b->errlen, SOAP_ERR_INVALID,
                       "The notifications element has no OrganizationId.");
    }
    if (count == 0) {
        return set_err(b->err, b->errlen, SOAP_ERR_EMPTY,
                       "The notifications element has no Notification.");
    }
    if (!b->fill) {
        b->n_notifications = count;
        return SOAP_OK;
    }
    struct soap_message *m = b->msg;
    m->organization_id = values[HDR_ORG];
    m->action_id = values[HDR_ACTION];
    m->session_id = values[HDR_SESSION];
    m->enterprise_url = values[HDR_ENTERPRISE];
    m->partner_url = values[HDR_PARTNER];
    m->notifications = b->notifications;
    m->notification_count = count;
    return SOAP_OK;
}

static int walk_envelope(struct build *b)
{
    xmlNode *root = xmlDocGetRootElement(b->doc);
    xmlNode *body = NULL, *notifs = NULL;

    if (!is_el(root, NS_ENV, "Envelope")) {
        return set_err(b->err, b->errlen, SOAP_ERR_INVALID,
                       "The document is not a SOAP 1.1 envelope (Envelope in namespace " NS_ENV
                       ").");
    }
    for (xmlNode *c = root->children; c != NULL; c = c->next) {
        if (is_el(c, NS_ENV, "Body")) {
            if (body != NULL) {
                return set_err(b->err, b->errlen, SOAP_ERR_INVALID,
                               "The SOAP envelope has more than one Body.");
            }
            body = c;
        }
    }
    if (body == NULL) {
        return set_err(b->err, b->errlen, SOAP_ERR_INVALID, "The SOAP envelope has no Body.");
    }
    for (xmlNode *c = body->children; c != NULL; c = c->next) {
        if (is_el(c, NS_OUT, "notifications")) {
            if (notifs != NULL) {
                return set_err(b->err, b->errlen, SOAP_ERR_INVALID,
                               "The SOAP Body has more than one notifications element.");
            }
            notifs = c;
        }
    }
    if (notifs == NULL) {
        return set_err(b->err, b->errlen, SOAP_ERR_INVALID,
                       "The SOAP Body has no notifications element in namespace " NS_OUT ".");
    }
    return walk_notifications(b, notifs);
}

static size_t align_up(size_t n)
{
    size_t a = sizeof(max_align_t) < 16 ? sizeof(max_align_t) : 16;
    return (n + a - 1) & ~(a - 1);
}

/* Multiplies and adds with overflow checks; returns 0 on overflow. */
static int size_add_mul(size_t *acc, size_t count, size_t unit)
{
    if (unit != 0 && count > (SIZE_MAX - *acc) / unit) {
        return 0;
    }
    *acc += count * unit;
    return 1;
}

static int build_message(xmlDocPtr doc, size_t max_notifications, struct soap_message **out,
                         char *err, size_t errlen)
{
    struct build b = {0};
    b.doc = doc;
    b.max_notifications = max_notifications;
    b.err = err;
    b.errlen = errlen;
    int rc = walk_envelope(&b);
    free(b.big_seen);
    b.big_seen = NULL;
    if (rc != SOAP_OK) {
        return rc;
    }

    size_t off_notifs = align_up(sizeof(struct soap_message));
    size_t off_fields = off_notifs;
    size_t off_strings, total;
    if (!size_add_mul(&off_fields, b.n_notifications, sizeof(struct soap_notification))) {
        return set_err(err, errlen, SOAP_ERR_NOMEM, "The message is too large to hold.");
    }
    off_fields = align_up(off_fields);
    off_strings = off_fields;
    if (!size_add_mul(&off_strings, b.n_fields, sizeof(struct soap_field))) {
        return set_err(err, errlen, SOAP_ERR_NOMEM, "The message is too large to hold.");
    }
    total = off_strings;
    if (!size_add_mul(&total, b.n_bytes, 1)) {
        return set_err(err, errlen, SOAP_ERR_NOMEM, "The message is too large to hold.");
    }
    char *block = malloc(total);
    if (block == NULL) {
        return set_err(err, errlen, SOAP_ERR_NOMEM, "Out of memory holding the message.");
    }
    memset(block, 0, off_strings);

    size_t n_bytes = b.n_bytes, n_fields = b.n_fields;
    b.fill = 1;
    b.msg = (struct soap_message *)(void *)block;
    b.notifications = (struct soap_notification *)(void *)(block + off_notifs);
    b.field_next = (struct soap_field *)(void *)(block + off_fields);
    b.str_next = block + off_strings;
    rc = walk_envelope(&b);
    if (rc == SOAP_OK &&
        (b.str_next != block + off_strings + n_bytes ||
         b.field_next != (struct soap_field *)(void *)(block + off_fields) + n_fields)) {
        rc = set_err(err, errlen, SOAP_ERR_INVALID, "Internal error: message size mismatch.");
    }
    if (rc != SOAP_OK) {
        soap_message_free(b.msg);
        return rc;
    }
    *out = b.msg;
    return SOAP_OK;
}

int soap_parse_notifications(const char *body, size_t len, size_t max_bytes,
                             size_t max_notifications, struct soap_message **out, char *err,
                             size_t errlen)
{
    xmlDocPtr doc = NULL;
    int rc;

    if (err != NULL && errlen > 0) {
        err[0] = '\0';
    }
    if (out == NULL) {
        return set_err(err, errlen, SOAP_ERR_INVALID, "No place to store the message.");
    }
    *out = NULL;
    if (max_bytes == 0) {
        max_bytes = SOAP_DEFAULT_MAX_BYTES;
    }
    if (max_bytes > INT_MAX) {
        max_bytes = INT_MAX;
    }
    if (max_notifications == 0) {
        max_notifications = SOAP_MAX_NOTIFICATIONS;
    }
    if (body == NULL || len == 0) {
        return set_err(err, errlen, SOAP_ERR_EMPTY, "The body is empty.");
    }
    if (len > max_bytes) {
        return set_err(err, errlen, SOAP_ERR_TOO_LARGE,
                       "The body has %zu bytes, more than the accepted %zu.", len, max_bytes);
    }
    rc = prescan((const unsigned char *)body, len, err, errlen);
    if (rc != SOAP_OK) {
        return rc;
    }
    /* Bounds the tree libxml2 builds (an element costs ~30 times its bytes): room for every
     * notification with SOAP_MAX_FIELDS fields plus its wrappers, and some slack. */
    size_t max_nodes =
        max_notifications < SIZE_MAX / (SOAP_MAX_FIELDS + NODES_PER_NOTIFICATION)
            ? max_notifications * (SOAP_MAX_FIELDS + NODES_PER_NOTIFICATION) + NODES_PER_MESSAGE
            : SIZE_MAX;
    rc = parse_xml(body, len, max_nodes, &doc, err, errlen);
    if (rc != SOAP_OK) {
        return rc;
    }
    rc = build_message(doc, max_notifications, out, err, errlen);
    xmlFreeDoc(doc);
    return rc;
}

void soap_message_free(struct soap_message *msg)
{
    if (msg == NULL) {
        return;
    }
    if (msg->session_id != NULL) {
        OPENSSL_cleanse(msg->session_id, strlen(msg->session_id));
    }
    free(msg);
}

/* ---------------------------------------------------------------------------------------------
 * Org id */

int soap_org_id_matches(const char *configured, const char *received)
{
    if (configured == NULL || received == NULL) {
        return 0;
    }
    size_t cl = strnlen(configured, ID_MAX_LEN + 1);
    size_t rl = strnlen(received, ID_MAX_LEN + 1);
    if (!id_is_valid(configured, cl) || !id_is_valid(received, rl)) {
        return 0;
    }
    return CRYPTO_memcmp(configured, received, 15) == 0;
}

/* ---------------------------------------------------------------------------------------------
 * Rendering */

char *soap_render_ack(void)
{
    char *s = malloc(sizeof(soap_ack_body));
    if (s != NULL) {
        memcpy(s, soap_ack_body, sizeof(soap_ack_body));
    }
    return s;
}

/* Decodes one UTF-8 sequence at s (n bytes left). Returns its length and sets *cp, or 0 when
 * the bytes are not a valid, shortest-form encoding of a Unicode scalar value. */
static size_t utf8_decode(const unsigned char *s, size_t n, uint32_t *cp)
{
    uint32_t c = s[0];
    size_t len;
    uint32_t min;

    if (c < 0x80) {
        *cp = c;
        return 1;
    } else if (c >= 0xC2 && c <= 0xDF) {
        len = 2;
        c &= 0x1F;
        min = 0x80;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        c &= 0x0F;
        min = 0x800;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        c &= 0x07;
        min = 0x10000;
    } else {
        return 0;
    }
    if (n < len) {
        return 0;
    }
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80) {
            return 0;
        }
        c = (c << 6) | (s[i] & 0x3F);
    }
    if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) {
        return 0;
    }
    *cp = c;
    return len;
}

static int xml_char_ok(uint32_t c)
{
    return c == 0x9 || c == 0xA || c == 0xD || (c >= 0x20 && c <= 0xD7FF) ||
           (c >= 0xE000 && c <= 0xFFFD) || (c >= 0x10000 && c <= 0x10FFFF);
}

static const char *const xml_escapes[128] = {
    ['&'] = "&amp;",  ['<'] = "&lt;",    ['>'] = "&gt;",
    ['"'] = "&quot;", ['\''] = "&apos;", ['\r'] = "&#13;",
};

#define REPLACEMENT_CHAR "\xEF\xBF\xBD"

/* Escapes s as XML character data into dst (when not NULL); returns the output length. */
static size_t xml_escape(const char *s, char *dst)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t n = strlen(s), out = 0;

    for (size_t i = 0; i < n;) {
        uint32_t cp = 0;
        size_t len = utf8_decode(p + i, n - i, &cp);
        const char *rep = NULL;
        size_t rep_len;
        if (len == 0 || !xml_char_ok(cp)) {
            rep = REPLACEMENT_CHAR;
            len = len == 0 ? 1 : len;
        } else if (cp < 128) {
            rep = xml_escapes[cp];
        }
        if (rep == NULL) {
            rep = (const char *)p + i;
            rep_len = len;
        } else {
            rep_len = strlen(rep);
        }
        if (dst != NULL) {
            memcpy(dst + out, rep, rep_len);
        }
        out += rep_len;
        i += len;
    }
    return out;
}

char *soap_render_fault(const char *faultcode, const char *faultstring)
{
    static const char head[] =
        "<soapenv:Envelope xmlns:soapenv=\"" NS_ENV "\"><soapenv:Body><soapenv:Fault><faultcode>";
    static const char mid[] = "</faultcode><faultstring>";
    static const char tail[] = "</faultstring></soapenv:Fault></soapenv:Body></soapenv:Envelope>";

    if (faultcode == NULL) {
        faultcode = "soapenv:Server";
    }
    if (faultstring == NULL) {
        faultstring = "";
    }
    size_t code_len = xml_escape(faultcode, NULL);
    size_t str_len = xml_escape(faultstring, NULL);
    size_t total = sizeof(head) - 1 + code_len + sizeof(mid) - 1 + str_len + sizeof(tail);
    char *out = malloc(total);
    if (out == NULL) {
        return NULL;
    }
    char *p = out;
    memcpy(p, head, sizeof(head) - 1);
    p += sizeof(head) - 1;
    p += xml_escape(faultcode, p);
    memcpy(p, mid, sizeof(mid) - 1);
    p += sizeof(mid) - 1;
    p += xml_escape(faultstring, p);
    memcpy(p, tail, sizeof(tail));
    return out;
}

/* ---------------------------------------------------------------------------------------------
 * JSON payload */

/* Adds key -> string (or JSON null for NULL) to o. Returns 0, or -1 on allocation failure. */
static int json_add_str(json_object *o, const char *key, const char *value, size_t len,
                        unsigned opts)
{
    json_object *v = NULL;
    if (value != NULL) {
        v = json_object_new_string_len(value, (int)len);
        if (v == NULL) {
            return -1;
        }
    }
    if (json_object_object_add_ex(o, key, v, opts) != 0) {
        json_object_put(v);
        return -1;
    }
    return 0;
}

json_object *soap_notification_to_json(const struct soap_notification *n,
                                       const struct soap_message *m)
{
    static const unsigned konst = JSON_C_OBJECT_ADD_KEY_IS_NEW | JSON_C_OBJECT_ADD_CONSTANT_KEY;
    if (n == NULL || m == NULL) {
        return NULL;
    }
    const struct {
        const char *key;
        const char *value;
    } top[] = {
        {"notificationId", n->id},  {"objectType", n->object_type},
        {"recordId", n->record_id}, {"organizationId", m->organization_id},
        {"actionId", m->action_id}, {"enterpriseUrl", m->enterprise_url},
    };
    json_object *o = json_object_new_object();
    json_object *fields = json_object_new_object();
    if (o == NULL || fields == NULL) {
        goto fail;
    }
    for (size_t i = 0; i < sizeof(top) / sizeof(top[0]); i++) {
        const char *v = top[i].value;
        if (json_add_str(o, top[i].key, v, v != NULL ? strlen(v) : 0, konst) != 0) {
            goto fail;
        }
    }
    for (size_t i = 0; i < n->field_count; i++) {
        const struct soap_field *f = &n->fields[i];
        if (f->value_len > INT_MAX) {
            goto fail;
        }
        if (json_add_str(fields, f->name, f->is_null ? NULL : f->value, f->value_len,
                         JSON_C_OBJECT_ADD_KEY_IS_NEW) != 0) {
            goto fail;
        }
    }
    if (json_object_object_add_ex(o, "fields", fields, konst) != 0) {
        goto fail;
    }
    return o;
fail:
    json_object_put(fields);
    json_object_put(o);
    return NULL;
}
