/* sweep.h: the reconciliation sweep: per enabled mapping, ask Salesforce (getUpdated, getDeleted)
 * and HubSpot (search by hs_lastmodifieddate) what changed since the stored cursors, and queue
 * one change event per changed record, so that missed webhooks delay a change but never lose it.
 * The thread that runs sweeps every SYNKRO_SWEEP_INTERVAL seconds is sync/reconcile.c.
 *
 * Events look like the webhooks' (source, object_type = Salesforce object name or HubSpot
 * objectTypeId, record id), kind 'update' ('delete' for getDeleted), the status the mapping's
 * state gives, payload {"sweep":true,"mapping_id":N,...}, and idempotency keys that make
 * re-sweeping the same change a no-op and a later change a new event:
 *   sweep:sf:<id>:<SystemModstamp ms>   (latestDateCovered when the record is gone by then)
 *   sweep:sf:del:<id>:<deletedDate ms>
 *   sweep:hs:<id>:<hs_lastmodifieddate ms>
 * A cursor is stored only after the events of its window are committed. A session advisory lock
 * per mapping keeps two synkro processes from sweeping the same mapping at once.
 *
 * Windows: Salesforce getUpdated reaches 30 days back and getDeleted 15 days (an older cursor is
 * clamped, and the gap logged); each call covers at most one day, the next starts at the
 * answer's latestDateCovered; Salesforce ignores seconds, so a window shorter than
 * min_window_ms is left for the next sweep. HubSpot search sorts ascending by
 * hs_lastmodifieddate between the cursor and now minus hs_lag_ms (both inclusive; search indexes
 * writes late); at its 10,000-result cap the search restarts from the last timestamp seen.
 *
 * Metrics: synkro_sweep_events_total{mapping,source,kind} (new events),
 * synkro_sweep_runs_total{outcome} (ok, error, busy). One log line per mapping sweep.
 *
 * Must not: sync records (workers do), or hold the advisory lock past one mapping's sweep. */
#ifndef SYNKRO_SYNC_SWEEP_H
#define SYNKRO_SYNC_SWEEP_H

#include "sync/sync_context.h"
#include "crm/crm_error.h"
#include "crm/crm_http.h"

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sweep_options {
    int64_t first_overlap_ms; /* first sweep looks back this far; <= 0: 10 minutes */
    int64_t hs_lag_ms;        /* HubSpot cursor stays this far behind now; < 0: 30 s */
    int64_t sf_min_window_ms; /* shorter Salesforce windows are widened backwards; < 0: 60 s */
    int hs_page_limit;        /* search page size; <= 0: 200 */
    int hs_result_cap;        /* search after+limit cap; <= 0: 10,000 */
    int hs_audit_links;       /* at least this many linked HubSpot records are checked for deletion
                                 per sweep; <= 0: 500 */
    int hs_audit_sweeps;      /* and more when needed to check every link within this many sweeps;
                                 <= 0: 12 (an hour at the default interval) */
    int hs_audit_max;         /* but at most this many per sweep; <= 0: 20,000 (200 batch reads) */
};

/* The defaults above (every member set). */
void sweep_options_default(struct sweep_options *o);

struct sweep_result {
    long sf_updated; /* new events queued */
    long sf_deleted;
    long hs_updated;
    long hs_deleted; /* linked HubSpot records found archived (their webhook was missed) */
    bool busy;       /* another process holds the mapping's sweep lock: nothing done */
    int errors;      /* sections (sf updated, sf deleted, hs) that failed */
    char error[512]; /* the first error, when errors > 0 */
};

/* Sweeps one mapping now (synchronously; the tests' entry point). The mapping must exist and be
 * enabled. A CRM whose client is not configured is skipped. 0 when every section ran (or the
 * mapping was busy), -1 when one failed (res->error says why; the others still ran). */
int sync_sweep_mapping(const struct sync_context *ctx, int64_t mapping_id,
                       const struct sweep_options *opt, struct sweep_result *res);

/* Sweeps every enabled mapping once. Returns the number of mappings that failed. */
int sync_sweep_all(const struct sync_context *ctx, const struct sweep_options *opt);

/* ---- helpers shared with sync/import.c ---- */

/* Epoch ms as "YYYY-MM-DDTHH:MM:SS.mmmZ". */
void sweep_format_iso(int64_t ms, char *out, size_t outlen);
/* Wall-clock epoch ms. */
int64_t sweep_now_ms(void);
struct salesforce_client;
typedef int (*sweep_row_fn)(json_object *record, void *ud);
/* Runs soql and calls fn for every record of every page (following nextRecordsUrl). 0, or -1
 * with cerr. */
int sweep_sf_query_each(struct salesforce_client *sc, struct crm_http *h, const char *soql,
                        sweep_row_fn fn, void *ud, struct crm_error *cerr);

#endif
