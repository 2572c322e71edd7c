/* sync_context.h: what the reconciliation jobs (sync/sweep.c, sync/import.c) run with: the
 * configuration, the connection pool, the CRM clients and the process's stop flag.
 *
 * Everything borrowed; built once by server/serve.c (a member of struct app) and read-only
 * afterwards. Must not: own anything. */
#ifndef SYNKRO_SYNC_SYNC_CONTEXT_H
#define SYNKRO_SYNC_SYNC_CONTEXT_H

#include <stdatomic.h>

struct config;
struct db_pool;
struct crm_clients;

struct sync_context {
    const struct config *cfg;
    struct db_pool *pool;
    const struct crm_clients *crm;
    atomic_int *stopping; /* non-zero once the process is shutting down */
};

#endif
