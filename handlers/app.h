/* app.h: the process-wide context handed to every request handler.
 *
 * Built once by server/serve.c before the HTTP daemon starts and torn down after it stops;
 * handlers only read it. Members that change at run time carry their own synchronisation (the
 * pool locks, metrics are atomic). It lives with the handlers, its readers: the layers below them
 * get what they need as their own structs (crm/crm_clients.h, sync/sync_context.h). */
#ifndef SYNKRO_HANDLERS_APP_H
#define SYNKRO_HANDLERS_APP_H

#include "base/config.h"
#include "crm/crm_clients.h"
#include "db/migrate.h"
#include "db/pool.h"
#include "sync/sync_context.h"

#include <stdatomic.h>

struct ingest_writer;
struct token_store;
struct sync_engine;
struct user_set;
struct addr_limiter;

struct app {
    const struct config *cfg;
    struct db_pool *pool;
    const struct migration_set *migrations;
    struct ingest_writer *ingest; /* group-commit writer for webhook events */
    struct token_store *tokens;   /* NULL without SYNKRO_SECRET_KEY */
    struct crm_clients crm;       /* the CRM clients (crm.cfg == cfg) */
    struct sync_engine *sync;     /* sync workers; NULL when none run */
    atomic_int shutting_down;
    struct sync_context sync_ctx;        /* {cfg, pool, &crm, &shutting_down}, for sweeps/imports */
    const struct user_set *users;        /* admin + SYNKRO_USERS_FILE (base/users.h) */
    struct addr_limiter *signin_limiter; /* console sign-in attempts per address */
};

#endif
