/* cli_import.c: `synkro import estimate|start|list|show|cancel` for imports of existing records.
 *
 *   estimate MAPPING_ID [--direction D]  GET  /api/mappings/{id}/import/estimate[?direction=D]
 *   start MAPPING_ID [--direction D]     POST /api/mappings/{id}/imports {"direction":"D"}
 *   list [--mapping MAPPING_ID]          GET  /api/imports[?mapping_id=]
 *   show IMPORT_ID                       GET  /api/imports/{id}
 *   cancel IMPORT_ID                     POST /api/imports/{id}/cancel
 *
 * D is salesforce_to_hubspot (the API's default) or hubspot_to_salesforce. Prints the API's JSON
 * on stdout; start and cancel then say what they changed on stderr. Must not: decide anything
 * the API decides (which directions, which states can be cancelled). */
#include "server/cli_import.h"

#include "server/cli_api.h"

#include <json-c/json.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PROG "synkro import"

enum import_arg { ARG_NONE_OR_MAPPING, ARG_MAPPING, ARG_IMPORT };

struct import_sub {
    const char *name;
    const char *method;
    enum import_arg arg;
    const char *synopsis;
    const char *help;
};

static const struct import_sub subs[] = {
    {"estimate", "GET", ARG_MAPPING, "estimate MAPPING_ID [--direction D]",
     "count the records an import would queue"},
    {"start", "POST", ARG_MAPPING, "start MAPPING_ID [--direction D]",
     "import every existing record of an enabled mapping"},
    {"list", "GET", ARG_NONE_OR_MAPPING, "list [--mapping MAPPING_ID]", "imports, newest first"},
    {"show", "GET", ARG_IMPORT, "show IMPORT_ID", "one import's progress"},
    {"cancel", "POST", ARG_IMPORT, "cancel IMPORT_ID", "cancel a queued or running import"},
};

#define NSUBS (sizeof subs / sizeof subs[0])

static void usage(FILE *out)
{
    fprintf(out, "usage: synkro import <command> ...\n\n");
    for (size_t i = 0; i < NSUBS; i++)
        fprintf(out, "  %-38s %s\n", subs[i].synopsis, subs[i].help);
    fprintf(out, "\nD: salesforce_to_hubspot (default) or hubspot_to_salesforce. Imports records, "
                 "not configuration (that is `synkro config apply`).\n");
}

static bool is_id(const char *s)
{
    return *s && strspn(s, "0123456789") == strlen(s);
}

struct import_args {
    const char *id;        /* mapping or import id */
    const char *direction; /* NULL: the API's default */
    const char *mapping;   /* list --mapping */
};

/* Parses argv after the subcommand. 0, or -1 after printing what is wrong. */
static int parse_args(const struct import_sub *s, int argc, char **argv, struct import_args *a)
{
    memset(a, 0, sizeof *a);
    for (int i = 2; i < argc; i++) {
        const char *opt = argv[i];
        bool has_value = i + 1 < argc;
        if (strcmp(opt, "--direction") == 0 && has_value && s->arg == ARG_MAPPING) {
            a->direction = argv[++i];
        } else if (strcmp(opt, "--mapping") == 0 && has_value && s->arg == ARG_NONE_OR_MAPPING) {
            a->mapping = argv[++i];
        } else if (!a->id && s->arg != ARG_NONE_OR_MAPPING && opt[0] != '-') {
            a->id = opt;
        } else {
            fprintf(stderr, PROG " %s: unexpected argument '%s'\nusage: synkro import %s\n",
                    s->name, opt, s->synopsis);
            return -1;
        }
    }
    const char *id = a->id ? a->id : a->mapping;
    if (s->arg != ARG_NONE_OR_MAPPING && !a->id) {
        fprintf(stderr, PROG " %s: missing %s\nusage: synkro import %s\n", s->name,
                s->arg == ARG_MAPPING ? "MAPPING_ID" : "IMPORT_ID", s->synopsis);
        return -1;
    }
    if (id && !is_id(id)) {
        fprintf(stderr, PROG " %s: '%s' is not an id (a number); `synkro %s` shows the ids\n",
                s->name, id, s->arg == ARG_IMPORT ? "import list" : "mapping list");
        return -1;
    }
    if (a->direction && strcmp(a->direction, "salesforce_to_hubspot") != 0 &&
        strcmp(a->direction, "hubspot_to_salesforce") != 0) {
        fprintf(stderr,
                PROG " %s: --direction must be salesforce_to_hubspot or hubspot_to_salesforce\n",
                s->name);
        return -1;
    }
    return 0;
}

static void build_path(const struct import_sub *s, const struct import_args *a, char *path,
                       size_t len)
{
    if (strcmp(s->name, "estimate") == 0)
        snprintf(path, len, "/api/mappings/%s/import/estimate%s%s", a->id,
                 a->direction ? "?direction=" : "", a->direction ? a->direction : "");
    else if (strcmp(s->name, "start") == 0)
        snprintf(path, len, "/api/mappings/%s/imports", a->id);
    else if (strcmp(s->name, "list") == 0)
        snprintf(path, len, "/api/imports%s%s", a->mapping ? "?mapping_id=" : "",
                 a->mapping ? a->mapping : "");
    else
        snprintf(path, len, "/api/imports/%s%s", a->id,
                 strcmp(s->name, "cancel") == 0 ? "/cancel" : "");
}

/* What start and cancel changed, from the import the API answered. */
static void say_changed(const struct import_sub *s, const char *body)
{
    json_object *o = json_tokener_parse(body), *id = NULL, *m = NULL, *d = NULL, *total = NULL;
    if (o) {
        json_object_object_get_ex(o, "id", &id);
        json_object_object_get_ex(o, "mapping_id", &m);
        json_object_object_get_ex(o, "direction", &d);
        json_object_object_get_ex(o, "total", &total);
    }
    if (strcmp(s->name, "start") == 0)
        fprintf(stderr,
                "started import %s of mapping %s (%s, about %s records); follow it with "
                "`synkro import show %s`\n",
                id ? json_object_get_string(id) : "?", m ? json_object_get_string(m) : "?",
                d ? json_object_get_string(d) : "?", total ? json_object_get_string(total) : "?",
                id ? json_object_get_string(id) : "ID");
    else
        fprintf(stderr, "cancelled import %s of mapping %s\n",
                id ? json_object_get_string(id) : "?", m ? json_object_get_string(m) : "?");
    json_object_put(o);
}

int cli_import_main(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? CLI_USAGE : CLI_OK;
    }
    const struct import_sub *s = NULL;
    for (size_t i = 0; i < NSUBS && !s; i++)
        if (strcmp(subs[i].name, argv[1]) == 0)
            s = &subs[i];
    if (!s) {
        fprintf(stderr, PROG ": unknown command '%s'\n\n", argv[1]);
        usage(stderr);
        return CLI_USAGE;
    }
    struct import_args a;
    if (parse_args(s, argc, argv, &a) < 0)
        return CLI_USAGE;
    char path[256], body[96], hint[160];
    build_path(s, &a, path, sizeof path);
    snprintf(body, sizeof body, "{\"direction\":\"%s\"}",
             a.direction ? a.direction : "salesforce_to_hubspot");
    snprintf(hint, sizeof hint, "there is no %s %s; `synkro %s` shows the ids",
             s->arg == ARG_IMPORT ? "import" : "mapping",
             a.id        ? a.id
             : a.mapping ? a.mapping
                         : "",
             s->arg == ARG_IMPORT ? "import list" : "mapping list");
    struct cli_answer ans;
    int rc = cli_api_call(PROG, s->method, path, strcmp(s->name, "start") == 0 ? body : NULL, &ans);
    if (rc != CLI_OK)
        return rc;
    if (ans.status < 200 || ans.status >= 300) {
        rc = cli_api_print_error(PROG, &ans, hint);
    } else {
        cli_api_print_body(&ans);
        if (strcmp(s->name, "start") == 0 || strcmp(s->name, "cancel") == 0)
            say_changed(s, ans.body);
    }
    cli_answer_free(&ans);
    return rc;
}
