/* cli_console.c: `synkro console-link`: asks the running synkro for a one-time sign-in code
 * (POST /api/session/codes, as the token's user) and prints the link that uses it. The link is a
 * secret for 10 minutes or until used: printed on stdout only, never logged.
 * Must not: make the code itself (the server stores its digest). */
#include "server/cli_console.h"

#include "server/cli_api.h"

#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

#define PROG "synkro console-link"

static const char *member(json_object *o, const char *key)
{
    json_object *v = NULL;
    return json_object_object_get_ex(o, key, &v) ? json_object_get_string(v) : "";
}

int cli_console_link_main(int argc, char **argv)
{
    if (argc > 1) {
        fprintf(stderr, PROG ": unknown argument '%s'\nusage: synkro console-link\n", argv[1]);
        return CLI_USAGE;
    }
    struct cli_answer ans;
    int rc = cli_api_call(PROG, "POST", "/api/session/codes", NULL, &ans);
    if (rc != CLI_OK)
        return rc;
    if (ans.status != 201) {
        rc = cli_api_print_error(PROG, &ans,
                                 "the console is off (SYNKRO_CONSOLE=off), or on the admin "
                                 "listener: set SYNKRO_API_URL to it");
        cli_answer_free(&ans);
        return rc;
    }
    json_object *doc = json_tokener_parse(ans.body);
    const char *url = member(doc, "url");
    if (!*url) {
        fprintf(stderr, PROG ": the server's answer has no link\n");
        rc = CLI_REFUSED;
    } else {
        printf("%s\nsigns in as %s once, until %s\n", url, member(doc, "user"),
               member(doc, "expires_at"));
    }
    json_object_put(doc);
    cli_answer_free(&ans);
    return rc;
}
