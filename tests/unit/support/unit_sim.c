/* unit_sim.c: the shared crmsim process of a unit-test executable and an app on it (see
 * unit_sim.h).
 *
 * Owns unit_sim and, per unit_app_open, one pool and two CRM clients. Fails the running cmocka
 * test when the simulator, the pool or a client cannot be created. Must not load fixtures. */
#include "unit_sim.h"

#include "db/pool.h"
#include "crm/hubspot_client.h"
#include "crm/salesforce_client.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

struct crmsim_proc unit_sim;

int unit_sim_start(void **state)
{
    (void)state;
    crmsim_proc_start_or_fail(&unit_sim);
    return 0;
}

int unit_sim_stop(void **state)
{
    (void)state;
    crmsim_proc_stop(&unit_sim);
    return 0;
}

void unit_app_open(struct app *app, const struct config *cfg, const char *conninfo,
                   const char *name, int search_rate_limit)
{
    memset(app, 0, sizeof *app);
    app->cfg = cfg;
    struct db_pool_options po = {.conninfo = conninfo,
                                 .size = 4,
                                 .statement_timeout_ms = 30000,
                                 .connect_timeout_s = 5,
                                 .application_name = name};
    app->pool = db_pool_create(&po);
    assert_non_null(app->pool);
    char err[300];
    struct hubspot_client_options ho = {.api_base = unit_sim.base,
                                        .access_token = "pat-sim-token",
                                        .search_rate_limit = search_rate_limit};
    ho.retry.max_attempts = 3;
    ho.retry.base_delay_ms = 20;
    ho.retry.max_delay_ms = 200;
    ho.retry.max_wait_ms = 5000;
    app->crm.hubspot = hubspot_client_create(&ho, err, sizeof err);
    if (!app->crm.hubspot)
        fail_msg("hubspot_client_create: %s", err);
    struct salesforce_client_options so = {.access_token = "sf-sim-token",
                                           .instance_url = unit_sim.base};
    so.retry = ho.retry;
    app->crm.salesforce = salesforce_client_create(&so, err, sizeof err);
    if (!app->crm.salesforce)
        fail_msg("salesforce_client_create: %s", err);
    app->crm.cfg = cfg;
    app->sync_ctx = (struct sync_context){
        .cfg = cfg, .pool = app->pool, .crm = &app->crm, .stopping = &app->shutting_down};
}

void unit_app_close(struct app *app)
{
    hubspot_client_destroy(app->crm.hubspot);
    salesforce_client_destroy(app->crm.salesforce);
    db_pool_destroy(app->pool, 2000);
}
