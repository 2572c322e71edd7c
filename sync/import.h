/* import.h: imports of existing records (the last step of HubSpot's setup wizard): estimate how
 * many records a direction would import, and advance an import one step at a time by paging the
 * source CRM's record ids into the queue.
 *
 * An import step (run by the sweeper thread about once a second, or by tests directly) keeps at
 * most cfg->import_inflight of the import's events waiting (pending, processing or held), so live
 * changes are never starved: it pages the source by id (Salesforce `SELECT Id FROM T WHERE Id >
 * 'last' ORDER BY Id LIMIT n`, HubSpot search by hs_object_id ascending) and queues one 'update'
 * event per record with import_id set and key "import:<import id>:<record id>". The workers treat
 * such an event as "sync this record now"; a record already linked and equal costs nothing, so
 * running an import twice duplicates nothing. The import is done when a page comes back empty and
 * none of its events waits; synced/failed count its events done/failed. A session advisory lock
 * per import keeps two processes from stepping the same import at once.
 *
 * Must not: write to either CRM, or hold a database connection between steps. */
#ifndef SYNKRO_SYNC_IMPORT_H
#define SYNKRO_SYNC_IMPORT_H

#include "db/import_store.h"
#include "sync/sync_context.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum import_direction { IMPORT_SF_TO_HS = 0, IMPORT_HS_TO_SF };

/* "salesforce_to_hubspot" | "hubspot_to_salesforce"; NULL or "" gives the default
 * (salesforce_to_hubspot). 0, or -1 for anything else. */
int import_direction_parse(const char *s, enum import_direction *out);
const char *import_direction_name(enum import_direction d);

enum import_crm_result {
    IMPORT_CRM_OK = 0,
    IMPORT_CRM_UNCONFIGURED = -2, /* the source CRM has no API access configured */
    IMPORT_CRM_FAILED = -3,       /* the call failed; err says why */
};

/* How many records the source of direction d holds for mapping t (Salesforce SELECT COUNT(),
 * HubSpot search total). Returns an import_crm_result. */
int import_estimate(const struct sync_context *ctx, const struct sweep_target *t,
                    enum import_direction d, long long *count, char *err, size_t errlen);

struct import_step_result {
    char status[16];      /* the import's status after the step */
    long long queued_now; /* events this step inserted */
    long long waiting;    /* its events waiting before the step */
    bool busy;            /* another process holds the import's lock */
};

/* One step of import_id (the tests' entry point). 0 (also when the import is finished or busy),
 * or -1 with err (the import records the error; it fails only when the error is permanent). */
int import_step(const struct sync_context *ctx, int64_t import_id, struct import_step_result *res,
                char *err, size_t errlen);

/* One step of every queued or running import (the sweeper thread's job). */
void import_advance_all(const struct sync_context *ctx);

#endif
