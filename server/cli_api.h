/* cli_api.h: what every command-line client of the admin API shares (`synkro mapping`,
 * `synkro import`, `synkro config export|apply`, `synkro doctor`): where the API is, where the
 * bearer token comes from, one call, and error messages that say what to do.
 *
 * The API is at SYNKRO_API_URL, else http://SYNKRO_ADMIN_LISTEN, else http://SYNKRO_LISTEN
 * (0.0.0.0 read as 127.0.0.1), else http://127.0.0.1:8080. The token is, in this order:
 * SYNKRO_ADMIN_TOKEN; the file named by SYNKRO_ADMIN_TOKEN_FILE; .data/admin-token in the current
 * directory (what `make run` writes). Must not: print the token, or hold any knowledge of a
 * particular endpoint's body. */
#ifndef SYNKRO_SERVER_CLI_API_H
#define SYNKRO_SERVER_CLI_API_H

#include <stddef.h>

/* Exit codes of every CLI client: 0 the API answered 2xx, 1 any other answer, 2 bad usage (or no
 * token), 3 the API could not be reached. */
enum { CLI_OK = 0, CLI_REFUSED = 1, CLI_USAGE = 2, CLI_UNREACHABLE = 3 };

struct cli_answer {
    long status;
    char *body; /* owned; NUL-terminated, "" when the answer had none */
};

/* Finds the admin token. Returns 0 with the token in out and where it came from in where
 * (e.g. "SYNKRO_ADMIN_TOKEN_FILE=/run/secrets/token"); -1 after printing to stderr, as prog,
 * every place looked at and how to set it. */
int cli_api_token(const char *prog, char *out, size_t outlen, char *where, size_t wherelen);

/* Sends method path (with body when not NULL; a POST without one sends an empty body) to the
 * admin API. Returns CLI_OK with *ans filled (any status; caller frees with cli_answer_free),
 * CLI_USAGE when there is no token, CLI_UNREACHABLE after printing what was tried and what to do.
 */
int cli_api_call(const char *prog, const char *method, const char *path, const char *body,
                 struct cli_answer *ans);
void cli_answer_free(struct cli_answer *ans);

/* Prints a 2xx answer's body on stdout (pretty when it is JSON). */
void cli_api_print_body(const struct cli_answer *ans);

/* Prints a non-2xx answer on stderr: the status, the API's error code and message, and what to
 * do: not_found_hint for a 404 (may be NULL), a fixed hint for 401/403/5xx. Returns CLI_REFUSED. */
int cli_api_print_error(const char *prog, const struct cli_answer *ans, const char *not_found_hint);

/* Reads a whole file ("-" is stdin). Returns a NUL-terminated copy (caller frees) or NULL. */
char *cli_read_input(const char *path);

#endif
