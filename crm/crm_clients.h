/* crm_clients.h: the process's CRM clients as the layers above them see them: each client (NULL
 * when its API access is not configured, with the reason why) and the configuration their
 * per-thread HTTP handles are made from.
 *
 * Built once at start by server/serve.c, read-only afterwards (the clients lock inside).
 * Must not: hold anything per request or per thread. */
#ifndef SYNKRO_CRM_CRM_CLIENTS_H
#define SYNKRO_CRM_CRM_CLIENTS_H

struct config;
struct db_pool;
struct hubspot_client;
struct salesforce_client;

struct crm_clients {
    const struct config *cfg;             /* borrowed */
    struct hubspot_client *hubspot;       /* NULL when HubSpot API access is not configured */
    struct salesforce_client *salesforce; /* NULL when Salesforce API access is not configured */
    char hubspot_unavailable[256];        /* why hubspot is NULL */
    char salesforce_unavailable[256];     /* why salesforce is NULL */
    /* the shared CRM budget's own small pool (so a call waiting for tokens never takes a
     * connection from the main pool); NULL: each process keeps its own budgets */
    struct db_pool *budget_pool;
};

#endif
