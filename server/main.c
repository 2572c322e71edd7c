/* main.c: the synkro command line: serve, migrate, config, mapping, import, doctor, console-link,
 * version.
 *
 * Parses arguments and configuration, then hands over to serve.c. Exit codes:
 * 0 success, 1 runtime failure, 2 bad usage or invalid configuration,
 * 3 `migrate --status` found migrations not applied. Must hold no logic of
 * its own beyond dispatch. */
#include "server/cli_mapping.h"
#include "server/cli_import.h"
#include "server/cli_doctor.h"
#include "server/cli_console.h"
#include "base/config.h"
#include "base/log.h"
#include "server/serve.h"
#include "version.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

struct command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *usage;
    const char *summary;
};

static int cmd_serve(int argc, char **argv);
static int cmd_migrate(int argc, char **argv);
static int cmd_config(int argc, char **argv);
static int cmd_version(int argc, char **argv);
static int cmd_mapping(int argc, char **argv);
static int cmd_import(int argc, char **argv);
static int cmd_doctor(int argc, char **argv);
static int cmd_console_link(int argc, char **argv);

static const struct command commands[] = {
    {"serve", cmd_serve, "synkro serve [--no-migrate]",
     "Run the HTTP service (webhooks, admin API, health, metrics). Migrates the database first "
     "unless --no-migrate or SYNKRO_MIGRATE_ON_START=false. Stops cleanly on SIGTERM/SIGINT."},
    {"migrate", cmd_migrate, "synkro migrate [--status] [--dir DIR]",
     "Apply pending database migrations (--status: list them; exit 3 when any is not applied). "
     "--dir reads migrations from DIR instead of the ones built in."},
    {"config", cmd_config,
     "synkro config check | synkro config docs | synkro config export | synkro config apply FILE",
     "check: print the effective configuration with secrets masked (an invalid value as given, "
     "marked INVALID); warn when no CRM credentials are set; exit 2 naming each invalid variable "
     "or combination (a token-storing flow without SYNKRO_SECRET_KEY). docs: print the "
     "variables as a Markdown table. export / apply: the mapping configuration of a running "
     "synkro as JSON / replace it with such a document (atomic)."},
    {"mapping", cmd_mapping, "synkro mapping <command> ...",
     "Manage sync mappings through the admin API of a running synkro: list, show, create, "
     "update, delete, validate, preview, enable, pause, history."},
    {"import", cmd_import, "synkro import <command> ...",
     "Import existing records through the admin API of a running synkro: estimate, start, list, "
     "show, cancel."},
    {"doctor", cmd_doctor, "synkro doctor [--json]",
     "Ask a running synkro what is missing for a real deployment (credentials, scopes, org and "
     "portal ids, public URL, webhooks arriving) and what to register in each CRM; exit 1 on "
     "any failed check."},
    {"console-link", cmd_console_link, "synkro console-link",
     "Print a one-time link that signs in to the console of a running synkro as the token's "
     "user (valid 10 minutes, once)."},
    {"version", cmd_version, "synkro version", "Print the version and git revision."},
};

#define NCOMMANDS (sizeof commands / sizeof commands[0])

static void usage(FILE *out)
{
    fprintf(out, "synkro %s: two-way sync between Salesforce and HubSpot custom objects\n\n",
            SYNKRO_VERSION);
    fprintf(out, "usage:\n");
    for (size_t i = 0; i < NCOMMANDS; i++)
        fprintf(out, "  %s\n      %s\n", commands[i].usage, commands[i].summary);
    fprintf(out, "\nConfiguration comes from environment variables; see `synkro config docs`.\n");
}

static bool wants_help(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
            return true;
    return false;
}

static const struct command *find_command(const char *name)
{
    for (size_t i = 0; i < NCOMMANDS; i++)
        if (strcmp(commands[i].name, name) == 0)
            return &commands[i];
    return NULL;
}

/* Loads configuration; prints every problem. Returns 0 or 2. */
static int load_config(struct config *cfg)
{
    char err[4096];
    int bad = config_load(cfg, config_lookup_env, NULL, err, sizeof err);
    config_register_secrets(cfg);
    if (bad) {
        log_mask_secrets(err);
        fprintf(stderr, "synkro: invalid configuration:\n%s\n", err);
        return 2;
    }
    log_set_level(cfg->log_level);
    log_set_repeat_interval_ms((long)cfg->log_repeat_interval_s * 1000L);
    return 0;
}

static int cmd_serve(int argc, char **argv)
{
    bool migrate_flag = true;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--no-migrate") == 0) {
            migrate_flag = false;
        } else {
            fprintf(stderr, "synkro serve: unknown argument '%s'\nusage: %s\n", argv[i],
                    commands[0].usage);
            return 2;
        }
    }
    struct config cfg;
    int rc = load_config(&cfg);
    if (rc == 0)
        rc = serve_run(&cfg, migrate_flag && cfg.migrate_on_start);
    config_free(&cfg);
    return rc;
}

static int cmd_migrate(int argc, char **argv)
{
    bool status = false;
    const char *dir = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--status") == 0) {
            status = true;
        } else if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc) {
            dir = argv[++i];
        } else {
            fprintf(stderr, "synkro migrate: unknown argument '%s'\nusage: %s\n", argv[i],
                    find_command("migrate")->usage);
            return 2;
        }
    }
    struct config cfg;
    int rc = load_config(&cfg);
    if (rc == 0)
        rc = migrate_run(&cfg, status, dir);
    config_free(&cfg);
    return rc;
}

static int cmd_config(int argc, char **argv)
{
    if (argc >= 2 && (strcmp(argv[1], "export") == 0 || strcmp(argv[1], "apply") == 0))
        return cli_config_transfer_main(argc - 1, argv + 1);
    if (argc == 2 && strcmp(argv[1], "docs") == 0) {
        config_print_markdown(stdout);
        return 0;
    }
    if (argc != 2 || strcmp(argv[1], "check") != 0) {
        fprintf(stderr, "usage: %s\n", find_command("config")->usage);
        return 2;
    }
    struct config cfg;
    char err[4096], warn[2048], cerr[2048];
    int bad = config_load(&cfg, config_lookup_env, NULL, err, sizeof err);
    config_register_secrets(&cfg);
    config_print(&cfg, config_lookup_env, NULL, stdout);
    int cbad = config_check_combinations(&cfg, warn, sizeof warn, cerr, sizeof cerr);
    if (*warn) {
        log_mask_secrets(warn);
        printf("\nwarnings (the configuration is usable):\n%s", warn);
    }
    if (bad) {
        log_mask_secrets(err);
        fprintf(stderr, "\n%d invalid variable(s):\n%s\n", bad, err);
    }
    if (cbad) {
        log_mask_secrets(cerr);
        fprintf(stderr, "\n%d problem(s) between variables:\n%s", cbad, cerr);
    }
    if (!bad && !cbad)
        printf("\nconfiguration is valid\n");
    config_free(&cfg);
    return bad || cbad ? 2 : 0;
}

static int cmd_mapping(int argc, char **argv)
{
    return cli_mapping_main(argc, argv);
}

static int cmd_import(int argc, char **argv)
{
    return cli_import_main(argc, argv);
}

static int cmd_doctor(int argc, char **argv)
{
    return cli_doctor_main(argc, argv);
}

static int cmd_console_link(int argc, char **argv)
{
    return cli_console_link_main(argc, argv);
}

static int cmd_version(int argc, char **argv)
{
    (void)argv;
    if (argc > 1) {
        fprintf(stderr, "usage: synkro version\n");
        return 2;
    }
    printf("synkro %s (%s)\n", SYNKRO_VERSION, SYNKRO_GIT_REV);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (strcmp(argv[1], "--version") == 0)
        return cmd_version(1, argv + 1);
    const struct command *cmd = find_command(argv[1]);
    if (!cmd) {
        fprintf(stderr, "synkro: unknown command '%s'\n\n", argv[1]);
        usage(stderr);
        return 2;
    }
    if (cmd->run != cmd_mapping && cmd->run != cmd_import && wants_help(argc - 1, argv + 1)) {
        printf("usage: %s\n\n%s\n", cmd->usage, cmd->summary);
        return 0;
    }
    return cmd->run(argc - 1, argv + 1);
}
