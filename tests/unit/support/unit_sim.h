/* unit_sim.h: the one crmsim process a unit-test executable shares, and an app whose database
 * pool and CRM clients talk to it and to a testdb.
 *
 * Owns unit_sim (started by the group setup, stopped by the group teardown) and, per
 * unit_app_open, the pool and the two clients it puts into the caller's struct app (released by
 * unit_app_close). Fails the running cmocka test when anything cannot be started. Must not decide
 * fixtures or mappings: the tests load their own. */
#ifndef SYNKRO_TESTS_UNIT_SIM_H
#define SYNKRO_TESTS_UNIT_SIM_H

#include "crmsim_proc.h"
#include "handlers/app.h"
#include "base/config.h"

/* The simulator of the running test group. */
extern struct crmsim_proc unit_sim;

/* cmocka group setup/teardown: starts CRMSIM_BIN without fixtures / stops it. */
int unit_sim_start(void **state);
int unit_sim_stop(void **state);

/* Fills app with cfg, a 4-connection pool on conninfo (application_name name) and HubSpot and
 * Salesforce clients on unit_sim (3 attempts, 20..200 ms back-off, 5 s wait; search_rate_limit
 * 0 for the client's default). The caller sets cfg first and keeps it alive. */
void unit_app_open(struct app *app, const struct config *cfg, const char *conninfo,
                   const char *name, int search_rate_limit);
/* Destroys what unit_app_open created. */
void unit_app_close(struct app *app);

#endif
