/* cli_doctor.c: `synkro doctor`: asks the running synkro (GET /api/doctor) and prints its checks
 * for people, or the JSON with --json. Must not: run any check itself (sync/doctor.c does, in the
 * server, with the server's credentials). */
#include "server/cli_doctor.h"

#include "server/cli_api.h"

#include <json-c/json.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PROG "synkro doctor"

static const char *member(json_object *o, const char *key)
{
    json_object *v = NULL;
    return json_object_object_get_ex(o, key, &v) ? json_object_get_string(v) : "";
}

static void print_checks(json_object *checks)
{
    size_t n = json_object_array_length(checks), width = 0;
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(member(json_object_array_get_idx(checks, i), "id"));
        width = len > width ? len : width;
    }
    for (size_t i = 0; i < n; i++) {
        json_object *c = json_object_array_get_idx(checks, i);
        const char *st = member(c, "status");
        const char *mark = strcmp(st, "ok") == 0     ? "ok  "
                           : strcmp(st, "warn") == 0 ? "warn"
                                                     : "FAIL";
        printf("%s  %-*s  %s\n", mark, (int)width, member(c, "id"), member(c, "detail"));
        if (*member(c, "fix"))
            printf("      %-*s  fix: %s\n", (int)width, "", member(c, "fix"));
    }
}

static void print_registrations(json_object *regs)
{
    size_t n = json_object_array_length(regs);
    for (size_t i = 0; i < n; i++) {
        json_object *r = json_object_array_get_idx(regs, i), *hs = NULL, *sf = NULL;
        json_object_object_get_ex(r, "hubspot", &hs);
        json_object_object_get_ex(r, "salesforce", &sf);
        printf("\nmapping %s \"%s\": register\n", member(r, "mapping_id"), member(r, "name"));
        printf("  HubSpot webhooks, target URL %s:\n", member(hs, "target_url"));
        json_object *subs = NULL;
        json_object_object_get_ex(hs, "subscriptions", &subs);
        for (size_t k = 0; k < json_object_array_length(subs); k++) {
            json_object *s = json_object_array_get_idx(subs, k);
            printf("    %-26s %s%s%s\n", member(s, "subscriptionType"), member(s, "objectName"),
                   *member(s, "propertyName") ? "  property " : "", member(s, "propertyName"));
        }
        printf("  Salesforce outbound message on %s, endpoint URL %s, fields:\n   ",
               member(sf, "object"), member(sf, "endpoint_url"));
        json_object *fields = NULL;
        json_object_object_get_ex(sf, "fields", &fields);
        for (size_t k = 0; k < json_object_array_length(fields); k++)
            printf(" %s", json_object_get_string(json_object_array_get_idx(fields, k)));
        printf("\n");
    }
}

int cli_doctor_main(int argc, char **argv)
{
    bool json = false;
    char path[64] = "/api/doctor";
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0) {
            json = true;
        } else if (strcmp(argv[i], "--window-hours") == 0 && i + 1 < argc &&
                   strspn(argv[i + 1], "0123456789") == strlen(argv[i + 1]) && *argv[i + 1]) {
            snprintf(path, sizeof path, "/api/doctor?window_s=%lld", atoll(argv[++i]) * 3600);
        } else {
            fprintf(stderr,
                    PROG ": unknown argument '%s'\nusage: synkro doctor [--json] "
                         "[--window-hours N]\n",
                    argv[i]);
            return CLI_USAGE;
        }
    }
    struct cli_answer ans;
    int rc = cli_api_call(PROG, "GET", path, NULL, &ans);
    if (rc != CLI_OK)
        return rc;
    if (ans.status != 200) {
        rc = cli_api_print_error(PROG, &ans, "the server has no /api/doctor: upgrade it");
        cli_answer_free(&ans);
        return rc;
    }
    json_object *doc = json_tokener_parse(ans.body), *checks = NULL, *regs = NULL;
    if (!doc || !json_object_object_get_ex(doc, "checks", &checks)) {
        fprintf(stderr, PROG ": the server's answer is not a doctor document\n");
        json_object_put(doc);
        cli_answer_free(&ans);
        return CLI_REFUSED;
    }
    json_object_object_get_ex(doc, "registrations", &regs);
    const char *status = member(doc, "status");
    if (json) {
        cli_api_print_body(&ans);
    } else {
        print_checks(checks);
        print_registrations(regs);
        printf("\n%s\n", strcmp(status, "ok") == 0     ? "everything checked is in order"
                         : strcmp(status, "warn") == 0 ? "usable, with warnings (see fix: above)"
                                                       : "FAILED: fix the checks marked FAIL");
    }
    rc = strcmp(status, "fail") == 0 ? CLI_REFUSED : CLI_OK;
    json_object_put(doc);
    cli_answer_free(&ans);
    return rc;
}
