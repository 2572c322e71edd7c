/* config.h: the settings of POST /_sim/config: defaults, validation, JSON in and out.
 *
 * Owns the settings table (name, type, default, range, description) in config.c; everything reads
 * struct sim_config fields directly. Callers hold sim->lock. Must not: act on a change (callers do,
 * e.g. recomputing fully qualified names when the portal id changes). */
#ifndef SYNKRO_TESTS_CRMSIM_CONFIG_H
#define SYNKRO_TESTS_CRMSIM_CONFIG_H

#include <json-c/json.h>
#include <stddef.h>

#include "tests/crmsim/sim.h"

/* Fills cfg with defaults (frees nothing: call config_free first when reusing). */
void config_defaults(struct sim_config *cfg);
void config_free(struct sim_config *cfg);
/* Applies every member of obj; all or nothing. 0 on success, -1 with err filled (unknown key, wrong
 * type, out of range). */
int config_apply_json(struct sim_config *cfg, json_object *obj, char *err, size_t errlen);
/* Current settings as a new JSON object (caller puts). */
json_object *config_to_json(const struct sim_config *cfg);
/* The table as documentation: array of {name,type,default,min,max,description} (caller puts). */
json_object *config_describe(void);

#endif
