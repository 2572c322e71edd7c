/* gen_requests.c: pre-generates the raw HTTP requests of one ingest benchmark phase.
 *
 * Owns: the request files of one phase. For each wrk thread t it writes PREFIX.t.dat (the raw
 * requests, back to back) and PREFIX.t.idx (native-endian uint64 values), which bench/ingest.lua
 * maps with LuaJIT's FFI so that wrk's init() costs nothing. The .idx holds uint64 values: the
 * thread's first request number, its request count, then count + 1 offsets (request i is bytes
 * [off[i], off[i+1]) of .dat).
 *
 * Design: request g (0 <= g < requests) belongs to thread g / per_thread; it carries the header
 * "X-Request-Id: <tag>-<g>" (synkro echoes it, so the Lua response() hook knows exactly which
 * requests were acknowledged) and events g*E .. g*E+E-1 of the phase, every one distinct:
 *   hubspot:    objectId = phase * 10^12 + event index, objectTypeId "2-<9000 + phase>", signed
 * with a v3 signature over POST + base_url + path + body + timestamp (now, in ms); salesforce:
 * Notification Id "04l" + %02d phase + %013d event index, sObject Id "a01" + the same, sObject type
 * "Bench<tag>__c". So the driver can count the rows of a phase by object type and find any
 * request's rows.
 *
 * Must not: talk to the network or the database; it only writes files. */
#include "handlers/hubspot_signature.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct opts {
    const char *kind;     /* hubspot | salesforce */
    const char *tag;      /* [A-Za-z0-9]+, names the phase in ids and object types */
    int phase;            /* 1..99, part of every record id */
    long requests;        /* total, over all threads */
    int events;           /* per request, 1..100 */
    int threads;          /* wrk threads */
    const char *host;     /* Host header, e.g. 127.0.0.1:8080 */
    const char *base_url; /* SYNKRO_PUBLIC_BASE_URL */
    const char *path;     /* request target incl. raw query */
    const char *secret;   /* HUBSPOT_CLIENT_SECRET */
    const char *org;      /* SALESFORCE_ORG_ID */
    const char *out;      /* file prefix */
};

struct buf {
    char *data;
    size_t len, cap;
};

static void buf_reserve(struct buf *b, size_t extra)
{
    if (b->len + extra + 1 <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + extra + 1)
        cap *= 2;
    char *d = realloc(b->data, cap);
    if (!d) {
        fprintf(stderr, "gen_requests: out of memory\n");
        exit(1);
    }
    b->data = d;
    b->cap = cap;
}

__attribute__((format(printf, 2, 3))) static void buf_printf(struct buf *b, const char *fmt, ...)
{
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap);
        va_end(ap);
        if (n < 0) {
            fprintf(stderr, "gen_requests: formatting failed\n");
            exit(1);
        }
        if ((size_t)n < b->cap - b->len) {
            b->len += (size_t)n;
            return;
        }
        buf_reserve(b, (size_t)n);
    }
}

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void hubspot_body(struct buf *b, const struct opts *o, long g, int64_t now)
{
    int64_t base = (int64_t)o->phase * 1000000000000LL + (int64_t)g * o->events;
    buf_printf(b, "[");
    for (int j = 0; j < o->events; j++)
        buf_printf(b,
                   "%s{\"eventId\":%" PRId64 ",\"subscriptionId\":4242,\"portalId\":62515,"
                   "\"appId\":77,\"occurredAt\":%" PRId64 ","
                   "\"subscriptionType\":\"object.propertyChange\",\"attemptNumber\":0,"
                   "\"objectId\":%" PRId64 ",\"objectTypeId\":\"2-%d\","
                   "\"propertyName\":\"budget\",\"propertyValue\":\"K\\u00e4se %" PRId64 "\","
                   "\"changeSource\":\"CRM_UI\",\"sourceId\":\"userId:1234567\"}",
                   j ? "," : "", 1000000 + base + j, now - 1000, base + j, 9000 + o->phase,
                   base + j);
    buf_printf(b, "]");
}

static void salesforce_body(struct buf *b, const struct opts *o, long g)
{
    int64_t base = (int64_t)g * o->events;
    buf_printf(b,
               "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
               "<soapenv:Envelope xmlns:soapenv=\"http://schemas.xmlsoap.org/soap/envelope/\" "
               "xmlns:xsd=\"http://www.w3.org/2001/XMLSchema\" "
               "xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\"><soapenv:Body>"
               "<notifications xmlns=\"http://soap.sforce.com/2005/09/outbound\">"
               "<OrganizationId>%s</OrganizationId><ActionId>04k5g000000CaTwAAK</ActionId>"
               "<SessionId>00D5g!AQ0AQBENCHSESSION.abcdefghijklmnopqrstuvwxyz</SessionId>"
               "<EnterpriseUrl>https://acme.my.salesforce.com/services/Soap/c/58.0/00D5g"
               "</EnterpriseUrl>"
               "<PartnerUrl>https://acme.my.salesforce.com/services/Soap/u/58.0/00D5g"
               "</PartnerUrl>",
               o->org);
    for (int j = 0; j < o->events; j++) {
        int64_t e = base + j;
        buf_printf(b,
                   "<Notification><Id>04l%02d%013" PRId64 "</Id>"
                   "<sObject xsi:type=\"sf:Bench%s__c\" "
                   "xmlns:sf=\"urn:sobject.enterprise.soap.sforce.com\">"
                   "<sf:Id>a01%02d%013" PRId64 "</sf:Id>"
                   "<sf:Budget__c>%" PRId64 ".0</sf:Budget__c>"
                   "<sf:CreatedDate>2024-05-02T11:53:53.000Z</sf:CreatedDate>"
                   "<sf:LastModifiedDate>2024-05-03T08:00:00.000Z</sf:LastModifiedDate>"
                   "<sf:Name>Bl\xc3\xa5"
                   "b\xc3\xa6r &amp; Co %" PRId64 "</sf:Name>"
                   "<sf:Stage__c>Negotiation</sf:Stage__c>"
                   "<sf:SystemModstamp>2024-05-03T08:00:00.000Z</sf:SystemModstamp>"
                   "</sObject></Notification>",
                   o->phase, e, o->tag, o->phase, e, 1000 + e % 100000, e);
    }
    buf_printf(b, "</notifications></soapenv:Body></soapenv:Envelope>");
}

static int write_all(FILE *f, const void *p, size_t n, const char *name)
{
    if (n && fwrite(p, 1, n, f) != n) {
        fprintf(stderr, "gen_requests: writing %s: %s\n", name, strerror(errno));
        return -1;
    }
    return 0;
}

static int generate_thread(const struct opts *o, int t, long first, long count)
{
    char dat_name[4096], idx_name[4096];
    snprintf(dat_name, sizeof dat_name, "%s.%d.dat", o->out, t);
    snprintf(idx_name, sizeof idx_name, "%s.%d.idx", o->out, t);
    FILE *dat = fopen(dat_name, "wb"), *idx = fopen(idx_name, "wb");
    if (!dat || !idx) {
        fprintf(stderr, "gen_requests: cannot create %s: %s\n", dat ? idx_name : dat_name,
                strerror(errno));
        return -1;
    }
    setvbuf(dat, NULL, _IOFBF, 1 << 20);
    bool hubspot = strcmp(o->kind, "hubspot") == 0;
    struct buf body = {0}, req = {0};
    buf_reserve(&body, 1 << 16);
    buf_reserve(&req, 1 << 16);
    uint64_t off = 0, header[2] = {(uint64_t)first, (uint64_t)count};
    int rc = write_all(idx, header, sizeof header, idx_name);
    for (long i = 0; i < count && rc == 0; i++) {
        long g = first + i;
        int64_t now = wall_ms();
        body.len = 0;
        req.len = 0;
        if (hubspot)
            hubspot_body(&body, o, g, now);
        else
            salesforce_body(&body, o, g);
        buf_printf(&req,
                   "POST %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: synkro-bench\r\n"
                   "Content-Length: %zu\r\nX-Request-Id: %s-%ld\r\n",
                   o->path, o->host, body.len, o->tag, g);
        if (hubspot) {
            char uri[2048], ts[32], sig[HUBSPOT_SIG_V3_SIZE];
            snprintf(uri, sizeof uri, "%s%s", o->base_url, o->path);
            snprintf(ts, sizeof ts, "%" PRId64, now);
            if (hubspot_sign_v3(o->secret, "POST", uri, body.data, body.len, ts, sig, sizeof sig) !=
                0) {
                fprintf(stderr, "gen_requests: signing failed\n");
                rc = -1;
                break;
            }
            buf_printf(&req,
                       "Content-Type: application/json\r\nX-HubSpot-Signature-v3: %s\r\n"
                       "X-HubSpot-Request-Timestamp: %s\r\n\r\n",
                       sig, ts);
        } else {
            buf_printf(&req, "Content-Type: text/xml; charset=utf-8\r\nSOAPAction: \"\"\r\n\r\n");
        }
        rc = write_all(idx, &off, sizeof off, idx_name);
        if (rc == 0)
            rc = write_all(dat, req.data, req.len, dat_name);
        if (rc == 0)
            rc = write_all(dat, body.data, body.len, dat_name);
        off += req.len + body.len;
    }
    if (rc == 0)
        rc = write_all(idx, &off, sizeof off, idx_name);
    if (fclose(dat) != 0 || fclose(idx) != 0) {
        fprintf(stderr, "gen_requests: closing %s: %s\n", dat_name, strerror(errno));
        rc = -1;
    }
    free(body.data);
    free(req.data);
    return rc;
}

static void usage(void)
{
    fprintf(stderr,
            "usage: gen_requests --kind hubspot|salesforce --tag TAG --phase N --requests N\n"
            "         --events E --threads T --host H:P --base-url URL --path PATH\n"
            "         [--secret S] [--org ORGID] --out PREFIX\n");
    exit(2);
}

int main(int argc, char **argv)
{
    struct opts o = {.events = 1, .threads = 2};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (i + 1 >= argc)
            usage();
        const char *v = argv[++i];
        if (!strcmp(a, "--kind"))
            o.kind = v;
        else if (!strcmp(a, "--tag"))
            o.tag = v;
        else if (!strcmp(a, "--phase"))
            o.phase = atoi(v);
        else if (!strcmp(a, "--requests"))
            o.requests = atol(v);
        else if (!strcmp(a, "--events"))
            o.events = atoi(v);
        else if (!strcmp(a, "--threads"))
            o.threads = atoi(v);
        else if (!strcmp(a, "--host"))
            o.host = v;
        else if (!strcmp(a, "--base-url"))
            o.base_url = v;
        else if (!strcmp(a, "--path"))
            o.path = v;
        else if (!strcmp(a, "--secret"))
            o.secret = v;
        else if (!strcmp(a, "--org"))
            o.org = v;
        else if (!strcmp(a, "--out"))
            o.out = v;
        else
            usage();
    }
    if (!o.kind || !o.tag || !o.host || !o.path || !o.out || o.phase < 1 || o.phase > 99 ||
        o.requests < 1 || o.events < 1 || o.events > 100 || o.threads < 1 ||
        o.requests / o.threads * (long)o.events >= 10000000000000L)
        usage();
    if (!strcmp(o.kind, "hubspot")) {
        if (!o.secret || !o.base_url)
            usage();
    } else if (!strcmp(o.kind, "salesforce")) {
        if (!o.org)
            usage();
    } else {
        usage();
    }
    long per = (o.requests + o.threads - 1) / o.threads;
    for (int t = 0; t < o.threads; t++)
        if (generate_thread(&o, t, (long)t * per, per) != 0)
            return 1;
    return 0;
}
