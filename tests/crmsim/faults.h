/* faults.h: fault injection rules (POST /_sim/faults): per "METHOD /path-prefix" (and optionally a
 * text the request body must hold), by rate or for the next N calls, answer a given status/body,
 * add latency, or hold the connection and drop it (timeout).
 *
 * Owns sim->faults. Callers hold sim->lock. Must not: sleep or build responses (router.c does). */
#ifndef SYNKRO_TESTS_CRMSIM_FAULTS_H
#define SYNKRO_TESTS_CRMSIM_FAULTS_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>

#include "tests/crmsim/sim.h"

struct fault_action {
    bool hit;
    uint64_t rule_id;
    int status; /* 0 = none */
    char *body; /* heap copy or NULL (CRM-shaped default) */
    int64_t latency_ms;
    bool timeout;
    int64_t timeout_ms;
};

/* Adds a rule from {"match","body_contains","rate","status","body","latency_ms","timeout","count"}.
 * Returns the new rule id or 0 with err filled. */
uint64_t faults_add(struct sim *sim, json_object *doc, char *err, size_t errlen);
/* Removes one rule (id) or all (id 0). Returns how many were removed. */
size_t faults_remove(struct sim *sim, uint64_t id);
json_object *faults_to_json(struct sim *sim);
/* Decides whether a call is faulted (consuming a count); fills out. body may be NULL (no body). */
void faults_pick(struct sim *sim, const char *method, const char *path, const char *body,
                 struct fault_action *out);
void fault_action_free(struct fault_action *a);

#endif
