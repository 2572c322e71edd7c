/* cli_mapping.h: `synkro mapping ...`, a command-line client of the admin
 * mappings API of a running synkro. */
#ifndef SYNKRO_SERVER_CLI_MAPPING_H
#define SYNKRO_SERVER_CLI_MAPPING_H

/* argv[0] is "mapping". Returns the process exit code: 0 when the API
 * answered 2xx, 1 on any other answer (its body is printed), 2 on bad usage,
 * 3 when the API could not be reached. */
int cli_mapping_main(int argc, char **argv);

#endif
