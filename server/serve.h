/* serve.h: the `synkro serve` and `synkro migrate` commands. */
#ifndef SYNKRO_SERVER_SERVE_H
#define SYNKRO_SERVER_SERVE_H

#include "base/config.h"

#include <stdbool.h>

/* Runs the service until SIGTERM/SIGINT. Returns the process exit code. */
int serve_run(const struct config *cfg, bool migrate);

/* Applies pending migrations (or prints their status). dir: NULL for the
 * embedded set. Returns the process exit code. */
int migrate_run(const struct config *cfg, bool status_only, const char *dir);

#endif
