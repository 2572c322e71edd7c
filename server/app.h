/* app.h: the process-wide context handed to every request handler.
 *
 * Built once by serve.c before the HTTP daemon starts and torn down after it
 * stops; handlers only read it. Members that change at run time carry their
 * own synchronisation (the pool locks, metrics are atomic). */
#ifndef SYNKRO_SERVER_APP_H
#define SYNKRO_SERVER_APP_H

#include "db/migrate.h"
#include "db/pool.h"
#include "server/config.h"

#include <stdatomic.h>

struct ingest_writer;
struct hubspot_client;
struct salesforce_client;
struct token_store;
struct sync_engine;

struct app {
    const struct config *cfg;
    struct db_pool *pool;
    const struct migration_set *migrations;
    struct ingest_writer *ingest;         /* group-commit writer for webhook events */
    struct token_store *tokens;           /* NULL without SYNKRO_SECRET_KEY */
    struct hubspot_client *hubspot;       /* NULL when HubSpot API access is not configured */
    struct salesforce_client *salesforce; /* NULL when Salesforce API access is not configured */
    char hubspot_unavailable[256];        /* why hubspot is NULL */
    char salesforce_unavailable[256];     /* why salesforce is NULL */
    struct sync_engine *sync;             /* sync workers; NULL when none run */
    atomic_int shutting_down;
};

#endif
