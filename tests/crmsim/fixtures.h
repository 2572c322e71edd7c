/* fixtures.h: loading fixture documents (startup file, POST /_sim/fixtures) and dumping the whole
 * state (GET /_sim/dump) in a format fixtures can load again.
 *
 * Loading is all-or-nothing: the document is validated while it is applied inside a transaction,
 * and any error undoes every change it made. Fixture writes emit no webhooks or outbound messages.
 * Callers hold sim->lock. Must not: touch the network. */
#ifndef SYNKRO_TESTS_CRMSIM_FIXTURES_H
#define SYNKRO_TESTS_CRMSIM_FIXTURES_H

#include <json-c/json.h>
#include <stddef.h>

#include "tests/crmsim/sim.h"

/* Applies doc. 0 on success (summary: a new object of counts, caller puts); -1 with err. */
int fixtures_load(struct sim *sim, json_object *doc, json_object **summary, char *err,
                  size_t errlen);
/* Reads and applies a fixture file. */
int fixtures_load_file(struct sim *sim, const char *path, char *err, size_t errlen);
/* The full state (caller puts). */
json_object *fixtures_dump(struct sim *sim);
/* Frees the outbound rules. */
void fixtures_rules_clear(struct sim *sim);

#endif
