/* cli_mapping.c: `synkro mapping list|show|validate|preview|enable|pause|history|create|update|
 * delete` (and `export`/`import`, kept as deprecated aliases of `synkro config export|apply`).
 *
 * Each subcommand is one row of a table mapping it to an admin API call, so the CLI prints
 * exactly what the API answers (the JSON body, pretty when it is JSON) and the two can never
 * drift apart. A command that changes something then says what it changed on stderr (stdout
 * stays the API's JSON, for scripts); an error says what to do (server/cli_api.c). */
#include "server/cli_mapping.h"

#include "server/cli_api.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum arg_kind { ARG_NONE, ARG_ID, ARG_FILE, ARG_ID_FILE };

struct subcommand {
    const char *name;
    const char *method;
    const char *path;   /* before the id (the whole path when there is no id) */
    const char *suffix; /* after the id */
    enum arg_kind args;
    const char *help;
    const char *done;       /* past tense printed after a change ("enabled"), NULL: reads only */
    const char *deprecated; /* the command to use instead, NULL when current */
};

static const struct subcommand subcommands[] = {
    {"list", "GET", "/api/mappings", "", ARG_NONE, "list every mapping with its problems", NULL,
     NULL},
    {"show", "GET", "/api/mappings/", "", ARG_ID, "show one mapping", NULL, NULL},
    {"create", "POST", "/api/mappings", "", ARG_FILE, "create a draft from a JSON document",
     "created", NULL},
    {"update", "PUT", "/api/mappings/", "", ARG_ID_FILE,
     "replace a mapping (the document carries the version you edited)", "updated", NULL},
    {"delete", "DELETE", "/api/mappings/", "", ARG_ID, "delete a mapping (its history is kept)",
     "deleted", NULL},
    {"validate", "POST", "/api/mappings/", "/validate", ARG_ID,
     "validate against the live schemas of both CRMs", NULL, NULL},
    {"preview", "GET", "/api/mappings/", "/preview", ARG_ID,
     "dry run on up to 20 Salesforce records; nothing is written", NULL, NULL},
    {"enable", "POST", "/api/mappings/", "/enable", ARG_ID, "start continuous sync", "enabled",
     NULL},
    {"pause", "POST", "/api/mappings/", "/pause", ARG_ID, "pause (save for later)", "paused", NULL},
    {"history", "GET", "/api/mappings/", "/history", ARG_ID, "who changed what, when", NULL, NULL},
    {"export", "GET", "/api/mappings/export", "", ARG_NONE,
     "deprecated: use `synkro config export`", NULL, "synkro config export"},
    {"import", "POST", "/api/mappings/import", "", ARG_FILE,
     "deprecated: use `synkro config apply FILE`", "replaced the configuration with",
     "synkro config apply FILE"},
};

#define NSUB (sizeof subcommands / sizeof subcommands[0])

static void usage(FILE *out)
{
    fprintf(out, "usage: synkro mapping <command> [id] [file|-]\n\n");
    for (size_t i = 0; i < NSUB; i++) {
        const struct subcommand *s = &subcommands[i];
        char synopsis[64];
        snprintf(synopsis, sizeof synopsis, "%s%s%s", s->name,
                 s->args == ARG_ID || s->args == ARG_ID_FILE ? " ID" : "",
                 s->args == ARG_FILE || s->args == ARG_ID_FILE ? " FILE" : "");
        fprintf(out, "  %-18s %s\n", synopsis, s->help);
    }
    fprintf(out, "\nImports of records: `synkro import`. Talks to the admin API at SYNKRO_API_URL "
                 "(default http://SYNKRO_LISTEN) with the token from SYNKRO_ADMIN_TOKEN, "
                 "SYNKRO_ADMIN_TOKEN_FILE or .data/admin-token.\n");
}

/* "mapping 3 "Projects" (Project__c <-> p_projects)" from a mapping document. */
static void describe(const char *body, const char *id, char *out, size_t outlen)
{
    json_object *o = json_tokener_parse(body ? body : "");
    json_object *name = NULL, *sf = NULL, *hs = NULL, *idv = NULL, *n = NULL;
    if (o) {
        json_object_object_get_ex(o, "name", &name);
        json_object_object_get_ex(o, "salesforce_object", &sf);
        json_object_object_get_ex(o, "hubspot_object", &hs);
        json_object_object_get_ex(o, "id", &idv);
        json_object_object_get_ex(o, "imported", &n);
    }
    if (n && !name)
        snprintf(out, outlen, "%d mapping(s)", json_object_get_int(n));
    else if (name)
        snprintf(out, outlen, "mapping %s \"%s\" (%s <-> %s)",
                 idv  ? json_object_get_string(idv)
                 : id ? id
                      : "?",
                 json_object_get_string(name), sf ? json_object_get_string(sf) : "?",
                 hs ? json_object_get_string(hs) : "?");
    else
        snprintf(out, outlen, "mapping %s", id ? id : "");
    json_object_put(o);
}

static int run(const struct subcommand *s, const char *id, const char *body)
{
    char path[256], hint[160];
    snprintf(path, sizeof path, "%s%s%s", s->path, id ? id : "", s->suffix);
    snprintf(hint, sizeof hint, "there is no mapping %s; `synkro mapping list` shows the ids",
             id ? id : "");
    struct cli_answer before = {0};
    if (strcmp(s->name, "delete") == 0) {
        /* read it first, so the message can say what was deleted */
        char show[128];
        snprintf(show, sizeof show, "/api/mappings/%s", id);
        int rc = cli_api_call("synkro mapping", "GET", show, NULL, &before);
        if (rc != CLI_OK)
            return rc;
        if (before.status < 200 || before.status >= 300) {
            rc = cli_api_print_error("synkro mapping", &before, hint);
            cli_answer_free(&before);
            return rc;
        }
    }
    struct cli_answer ans;
    int rc = cli_api_call("synkro mapping", s->method, path, body, &ans);
    if (rc == CLI_OK && (ans.status < 200 || ans.status >= 300)) {
        rc = cli_api_print_error("synkro mapping", &ans, id ? hint : NULL);
    } else if (rc == CLI_OK) {
        cli_api_print_body(&ans);
        if (s->done) {
            char what[512];
            describe(before.body ? before.body : ans.body, id, what, sizeof what);
            fprintf(stderr, "%s %s%s\n", s->done, what,
                    strcmp(s->name, "delete") == 0 ? "; its history is kept" : "");
        }
    }
    cli_answer_free(&ans);
    cli_answer_free(&before);
    return rc;
}

/* Runs `synkro <prog> <sub>` for one row; shared by the deprecated aliases and config. */
static int dispatch(const struct subcommand *s, int argc, const char *const *argv)
{
    static const int wanted[] = {[ARG_NONE] = 2, [ARG_ID] = 3, [ARG_FILE] = 3, [ARG_ID_FILE] = 4};
    if (argc != wanted[s->args]) {
        fprintf(stderr, "synkro mapping %s: wrong number of arguments\n\n", s->name);
        usage(stderr);
        return CLI_USAGE;
    }
    const char *id = s->args == ARG_ID || s->args == ARG_ID_FILE ? argv[2] : NULL;
    if (id && (!*id || strspn(id, "0123456789") != strlen(id))) {
        fprintf(stderr,
                "synkro mapping: '%s' is not a mapping id (a number); `synkro mapping "
                "list` shows the ids\n",
                id);
        return CLI_USAGE;
    }
    char *body = NULL;
    if (s->args == ARG_FILE || s->args == ARG_ID_FILE) {
        const char *path = argv[s->args == ARG_FILE ? 2 : 3];
        body = cli_read_input(path);
        if (!body) {
            fprintf(stderr, "synkro mapping: cannot read %s; give a JSON file, or - for stdin\n",
                    path);
            return CLI_USAGE;
        }
    }
    int rc = run(s, id, body);
    free(body);
    return rc;
}

static const struct subcommand *find_sub(const char *name)
{
    for (size_t i = 0; i < NSUB; i++)
        if (strcmp(subcommands[i].name, name) == 0)
            return &subcommands[i];
    return NULL;
}

int cli_mapping_main(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? CLI_USAGE : CLI_OK;
    }
    const struct subcommand *s = find_sub(argv[1]);
    if (!s) {
        fprintf(stderr, "synkro mapping: unknown command '%s'\n\n", argv[1]);
        usage(stderr);
        return CLI_USAGE;
    }
    if (s->deprecated)
        fprintf(stderr, "synkro mapping %s is deprecated; use `%s` (same effect)\n", s->name,
                s->deprecated);
    return dispatch(s, argc, (const char *const *)argv);
}

int cli_config_transfer_main(int argc, char **argv)
{
    /* argv[0] is "export" or "apply" */
    const struct subcommand *s = find_sub(strcmp(argv[0], "apply") == 0 ? "import" : "export");
    int expected = s->args == ARG_FILE ? 2 : 1;
    if (argc != expected) {
        fprintf(stderr, "usage: synkro config export | synkro config apply FILE|-\n");
        return CLI_USAGE;
    }
    const char *args[4] = {"config", argv[0], argc > 1 ? argv[1] : NULL, NULL};
    return dispatch(s, argc + 1, args);
}
