/* cli_doctor.h: `synkro doctor [--json] [--window-hours N]`, the command-line view of
 * GET /api/doctor. */
#ifndef SYNKRO_SERVER_CLI_DOCTOR_H
#define SYNKRO_SERVER_CLI_DOCTOR_H

/* argv[0] is "doctor". Prints the checks aligned (ok / warn / FAIL with the fix under each) and,
 * per mapping, what to register in each CRM; --json prints the API's document instead. Exit 0
 * when no check failed, 1 when one did (or the API refused), 2 bad usage or no token, 3 the API
 * could not be reached. */
int cli_doctor_main(int argc, char **argv);

#endif
