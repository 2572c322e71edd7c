/* live_schemas.h: the live schemas (Salesforce describe, HubSpot object schema) of the mapped
 * object pairs, shared by the sync workers of one process.
 *
 * Every worker keeps its own parsed copy of each enabled mapping and its schemas, and reloads
 * them when the enabled mappings change, after a batch with failed records and every ten
 * minutes. Without this cache each worker read both schemas from the CRMs itself: a new mapping
 * cost SYNKRO_WORKERS describe and schema calls per process, all at once. Here one worker reads a
 * pair and the others take copies of its answer: an entry serves every reload made under the
 * same mappings signature, younger than the TTL and not invalidated; a worker that needs a pair
 * another worker is reading waits for that answer instead of asking too.
 *
 * Thread-safe: one mutex guards the entries, and a condition wakes the workers waiting for a
 * read. Must not: hold the mutex across a CRM call, or hand out the documents it keeps (each
 * caller gets objects of its own). */
#ifndef SYNKRO_SYNC_LIVE_SCHEMAS_H
#define SYNKRO_SYNC_LIVE_SCHEMAS_H

#include <stddef.h>
#include <stdint.h>

struct crm_http;
struct hs_object;
struct hubspot_client;
struct salesforce_client;
struct sf_object;

struct live_schemas;

/* An empty cache whose entries serve for ttl_ms (<= 0: never; every get reads, as a worker
 * reloading every round asks). NULL when out of memory. */
struct live_schemas *live_schemas_create(int64_t ttl_ms);
void live_schemas_destroy(struct live_schemas *ls);

/* The schemas of sf_object (describe) and hs_object (objectTypeId or name) as the caller's own
 * objects (*sf: sf_object_free, *hs: hs_object_free), for a caller that loaded the enabled
 * mappings under signature sig. From the cache when an entry read under sig is younger than the
 * TTL and was not invalidated; otherwise this caller reads both (or waits for the worker already
 * reading them, and uses its answer, or reads itself when that read failed). 0, or -1 with err
 * (*sf and *hs NULL). */
int live_schemas_get(struct live_schemas *ls, struct salesforce_client *sc,
                     struct hubspot_client *hc, struct crm_http *h, const char *sig,
                     const char *sf_object, const char *hs_object, struct sf_object **sf,
                     struct hs_object **hs, char *err, size_t errlen);

/* The next get of this pair reads both schemas again (a batch's records failed: maybe a field
 * or property changed). */
void live_schemas_invalidate(struct live_schemas *ls, const char *sf_object, const char *hs_object);

/* Reads from the CRMs so far (both schemas of a pair count one): for tests. */
uint64_t live_schemas_reads(struct live_schemas *ls);

#endif
