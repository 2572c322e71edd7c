/* cli_console.h: `synkro console-link`, a one-time sign-in link to the console of a running
 * synkro (POST /api/session/codes with the admin token). */
#ifndef SYNKRO_SERVER_CLI_CONSOLE_H
#define SYNKRO_SERVER_CLI_CONSOLE_H

/* argv[0] is "console-link". Prints the link on stdout's first line and when it expires on the
 * second. Exit codes of cli_api.h: 0, 1 refused (e.g. SYNKRO_CONSOLE=off: 404), 2 usage or no
 * token, 3 unreachable. */
int cli_console_link_main(int argc, char **argv);

#endif
