/* cli_mapping.h: `synkro mapping ...` and `synkro config export|apply`, command-line clients of
 * the admin mappings API of a running synkro. */
#ifndef SYNKRO_SERVER_CLI_MAPPING_H
#define SYNKRO_SERVER_CLI_MAPPING_H

/* argv[0] is "mapping". Returns the process exit code: 0 when the API answered 2xx, 1 on any
 * other answer (its error and what to do are printed), 2 on bad usage or no token, 3 when the API
 * could not be reached. `export` and `import` still work and print a deprecation note. */
int cli_mapping_main(int argc, char **argv);

/* argv[0] is "export" (the whole mapping configuration as JSON, GET /api/mappings/export) or
 * "apply" with argv[1] a file or "-" (replace the configuration atomically, POST
 * /api/mappings/import). Same exit codes. */
int cli_config_transfer_main(int argc, char **argv);

#endif
