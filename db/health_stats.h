/* health_stats.h: the numbers of one mapping's sync health (GET /api/mappings/{id}/health):
 * throughput and latency per time bucket, totals, queue depth, failures by category with
 * examples, and active imports.
 *
 * A mapping's events are those of its Salesforce object (source 'salesforce', object_type equal
 * ignoring case) and of its HubSpot object type id (source 'hubspot'), as in db/mapping_store.c's
 * reclassification. Every statement reads through migration 0010's per-object partial indexes,
 * one branch per source (UNION ALL), never a scan of change_events; windows over three hours
 * read migration 0014's five-minute rollup (by its primary key) for all but its last minutes.
 * Must not: change any row, log, or decide the window (the caller picks minutes and bucket). */
#ifndef SYNKRO_DB_HEALTH_STATS_H
#define SYNKRO_DB_HEALTH_STATS_H

#include <json-c/json.h>
#include <libpq-fe.h>
#include <stdint.h>

#define HEALTH_STATS_EXAMPLES 3 /* newest failed events shown per category */

struct health_stats_query {
    int64_t mapping_id;
    int minutes;  /* window length, 1..1440 (the handler checks the API's range) */
    int bucket_s; /* bucket length in seconds, >= 1 */
};

enum { HEALTH_STATS_OK = 0, HEALTH_STATS_NOT_FOUND = 1 };

/* Fills *out with
 * {"mapping":{"id","name","state"},"window":{"from","to","bucket_s"},
 *  "series":[{"t","synced","failed","latency_p50_ms","latency_p95_ms"}] (ceil(minutes*60 /
 *   bucket_s) buckets, oldest first; the last holds now; buckets start at multiples of bucket_s
 *   since the epoch, so "from" is the first bucket's start, up to one bucket before now-minutes;
 * latency = finished_at - received_at of the events finished in the bucket, null when none;
 * buckets of whole rollup periods (300 and 900 s, windows over 180 minutes) are read from
 * db/health_rollup.h's periods before its watermark plus the events after it, and their
 * percentiles are interpolated within a 9%-wide latency bin instead of exact),
 *  "totals":{"synced","failed","conflicts"} (over the window),
 *  "queue":{"pending","processing","held","failed","oldest_pending_age_s"|null},
 *  "errors":[{"category","count","examples":[{"event_id","record_id","last_error",
 *   "finished_at"}]}] (failed events now, largest category first),
 *  "imports":{"active":n}}
 * and returns HEALTH_STATS_OK (caller puts *out), HEALTH_STATS_NOT_FOUND for an unknown mapping
 * (*out NULL), or -1 with err. Instants are UTC ISO 8601 with milliseconds. */
int health_stats_mapping(PGconn *conn, const struct health_stats_query *q, json_object **out,
                         char *err, size_t errlen);

#endif
