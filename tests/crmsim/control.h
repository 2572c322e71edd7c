/* control.h: the /_sim/ control API handlers (reset, fixtures, dump, config, stats, faults,
 * deliveries, act-as-user writes for both CRMs, token expiry, signing helper).
 *
 * Handlers run with sim->lock held (the router takes it). Act-as-user writes go through the same
 * validation and write paths as the APIs but with change source CRM_UI, so they produce webhooks
 * and outbound messages like a person editing in the CRM would. Must not: require auth (the control
 * API is for tests on localhost). */
#ifndef SYNKRO_TESTS_CRMSIM_CONTROL_H
#define SYNKRO_TESTS_CRMSIM_CONTROL_H

#include "tests/crmsim/http.h"
#include "tests/crmsim/sim.h"

void ctl_health(struct sim *sim, struct http_req *req, struct http_resp *resp);
void ctl_reset(struct sim *sim, struct http_req *req, struct http_resp *resp);
void ctl_fixtures(struct sim *sim, struct http_req *req, struct http_resp *resp);
void ctl_dump(struct sim *sim, struct http_req *req, struct http_resp *resp);
void ctl_config_get(struct sim *sim, struct http_req *req, struct http_resp *resp);
void ctl_config_set(struct sim *sim, struct http_req *req, struct http_resp *resp);
void ctl_config_schema(struct sim *sim, struct http_req *req, struct http_resp *resp);
void ctl_stats(struct sim *sim, struct http_req *req, struct http_resp *resp);
void ctl_stats_reset(struct sim *sim, struct http_req *req, struct http_resp *resp);
void ctl_faults_list(struct sim *sim, struct http_req *req, struct http_resp *resp);
void ctl_faults_add(struct sim *sim, struct http_req *req, struct http_resp *resp);
void ctl_faults_clear(struct sim *sim, struct http_req *req, struct http_resp *resp);
void ctl_faults_delete(struct sim *sim, struct http_req *req, struct http_resp *resp);
void ctl_deliveries(struct sim *sim, struct http_req *req, struct http_resp *resp);
void ctl_deliveries_flush(struct sim *sim, struct http_req *req, struct http_resp *resp);
void ctl_hs_list(struct sim *sim, struct http_req *req, struct http_resp *resp);
void ctl_hs_count(struct sim *sim, struct http_req *req, struct http_resp *resp);
void ctl_hs_create(struct sim *sim, struct http_req *req, struct http_resp *resp);
void ctl_hs_get(struct sim *sim, struct http_req *req, struct http_resp *resp);
void ctl_hs_update(struct sim *sim, struct http_req *req, struct http_resp *resp);
void ctl_hs_delete(struct sim *sim, struct http_req *req, struct http_resp *resp);
void ctl_hs_restore(struct sim *sim, struct http_req *req, struct http_resp *resp);
void ctl_hs_merge(struct sim *sim, struct http_req *req, struct http_resp *resp);
void ctl_hs_assoc_add(struct sim *sim, struct http_req *req, struct http_resp *resp);
void ctl_hs_assoc_remove(struct sim *sim, struct http_req *req, struct http_resp *resp);
void ctl_hs_tokens_expire(struct sim *sim, struct http_req *req, struct http_resp *resp);
void ctl_hs_sign(struct sim *sim, struct http_req *req, struct http_resp *resp);
void ctl_sf_list(struct sim *sim, struct http_req *req, struct http_resp *resp);
void ctl_sf_count(struct sim *sim, struct http_req *req, struct http_resp *resp);
void ctl_sf_create(struct sim *sim, struct http_req *req, struct http_resp *resp);
void ctl_sf_get(struct sim *sim, struct http_req *req, struct http_resp *resp);
void ctl_sf_update(struct sim *sim, struct http_req *req, struct http_resp *resp);
void ctl_sf_delete(struct sim *sim, struct http_req *req, struct http_resp *resp);
void ctl_sf_tokens_invalidate(struct sim *sim, struct http_req *req, struct http_resp *resp);
void ctl_sf_api_usage(struct sim *sim, struct http_req *req, struct http_resp *resp);

#endif
