/* cli_import.h: `synkro import estimate|start|list|show|cancel`, the command-line client of the
 * admin API that imports existing records (handlers/imports_api.c). Not to be confused with
 * `synkro config apply`, which replaces the mapping configuration. */
#ifndef SYNKRO_SERVER_CLI_IMPORT_H
#define SYNKRO_SERVER_CLI_IMPORT_H

/* argv[0] is "import". Exit codes as server/cli_api.h: 0 the API answered 2xx, 1 any other
 * answer (with what to do), 2 bad usage or no token, 3 the API could not be reached. */
int cli_import_main(int argc, char **argv);

#endif
