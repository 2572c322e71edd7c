/* it_cli.c: the command line as people use it, with the real binary against a real synkro (real
 * PostgreSQL, crmsim for the CRMs): where the admin token comes from (SYNKRO_ADMIN_TOKEN,
 * SYNKRO_ADMIN_TOKEN_FILE, ./.data/admin-token) and what is said when there is none or it is
 * wrong; `mapping show` of an unknown id; create/delete saying what they changed; `config
 * export|apply` and the deprecated `mapping export|import` aliases; `import
 * estimate|start|list|show|cancel`; and `config check` on an env file with an empty value. */
#include "harness.h"

#include <json-c/json.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#define ADMIN "admin-token-for-cli-tests"

#define PROJECT_MAPPING                                                                            \
    "{\"name\":\"Projects\",\"salesforce_object\":\"Project__c\","                                 \
    "\"hubspot_object\":\"2-3465404\","                                                            \
    "\"rules\":{\"salesforce_to_hubspot\":{\"create\":true,\"update\":true,\"delete\":\"delete\"}" \
    ",\"hubspot_to_salesforce\":{\"create\":true,\"update\":true,\"delete\":\"none\"},"            \
    "\"conflict_winner\":\"salesforce\"},"                                                         \
    "\"identity\":{\"hubspot_property\":\"salesforce_id\",\"salesforce_field\":\"External_Id__"    \
    "c\"},"                                                                                        \
    "\"fields\":[{\"salesforce\":\"Name\",\"hubspot\":\"name\",\"rule\":\"two_way\"},"             \
    "{\"salesforce\":\"Budget__c\",\"hubspot\":\"budget\",\"rule\":\"two_way\"}]}"

struct fixture {
    struct harness_db db;
    struct harness_crmsim sim;
    struct harness_proc proc;
    char env_hs_base[160], env_sf_login[160];
    char api_url[200];
    char dir[64]; /* scratch directory: files for the CLI, and its working directory */
    char cwd[PATH_MAX];
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    if (!f || harness_db_create(&f->db) != 0)
        return -1;
    *state = f;
    f->proc.pid = -1;
    snprintf(f->dir, sizeof f->dir, "/tmp/synkro-it-cli.XXXXXX");
    if (!mkdtemp(f->dir) || !getcwd(f->cwd, sizeof f->cwd))
        return -1;
    if (harness_crmsim_start_example(&f->sim, f->env_hs_base, sizeof f->env_hs_base,
                                     f->env_sf_login, sizeof f->env_sf_login) != 0)
        return -1;
    const char *env[] = {HARNESS_CRM_ENV(f->env_hs_base, f->env_sf_login),
                         "SYNKRO_ADMIN_TOKEN=" ADMIN, "SALESFORCE_ORG_ID=00D000000000001", NULL};
    if (harness_synkro_start(&f->proc, f->db.url, env) != 0)
        return -1;
    snprintf(f->api_url, sizeof f->api_url, "SYNKRO_API_URL=%s", f->proc.base_url);
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    if (chdir(f->cwd) != 0)
        return -1;
    char cmd[160];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
    int sys = system(cmd);
    int rc = harness_teardown_clean(&f->db, &f->proc, &f->sim);
    free(f);
    return rc || sys ? -1 : 0;
}

/* Writes text to dir/name and returns the path (static buffer per call site is enough). */
static const char *write_file(const struct fixture *f, const char *name, const char *text)
{
    static char path[4][256];
    static int next;
    char *p = path[next++ % 4];
    snprintf(p, 256, "%s/%s", f->dir, name);
    FILE *fp = fopen(p, "w");
    assert_non_null(fp);
    fputs(text, fp);
    fclose(fp);
    return p;
}

/* Runs synkro with argv (NULL-terminated) and the API URL plus extra (may be NULL): the exit
 * status; *out gets stdout and stderr. */
static int cli(const struct fixture *f, const char *const *argv, const char *extra, char **out)
{
    const char *env[] = {f->api_url, extra ? extra : "SYNKRO_ADMIN_TOKEN=" ADMIN, NULL};
    return harness_synkro_run(argv, env, out);
}

static void expect_output(const char *out, const char *needle)
{
    if (!strstr(out, needle))
        fail_msg("output lacks '%s':\n%s", needle, out);
}

/* Creates the mapping through the CLI and returns its id. */
static long long create_mapping(const struct fixture *f)
{
    const char *doc = write_file(f, "mapping.json", PROJECT_MAPPING);
    const char *argv[] = {"mapping", "create", doc, NULL};
    char *out = NULL;
    assert_int_equal(cli(f, argv, NULL, &out), 0);
    expect_output(out, "created mapping ");
    expect_output(out, "\"Projects\" (Project__c <-> 2-3465404)");
    const char *id = strstr(out, "\"id\":");
    assert_non_null(id);
    long long n = atoll(id + 5);
    free(out);
    return n;
}

static void test_token_sources(void **state)
{
    struct fixture *f = *state;
    const char *list[] = {"mapping", "list", NULL};
    char *out = NULL;
    assert_int_equal(chdir(f->dir), 0); /* no .data/admin-token here yet */

    /* none: where it looked and how to set it; exit 2 */
    assert_int_equal(cli(f, list, "SYNKRO_ADMIN_TOKEN=", &out), 2);
    expect_output(out, "no admin token found");
    expect_output(out, "SYNKRO_ADMIN_TOKEN (not set)");
    expect_output(out, "./.data/admin-token (missing)");
    expect_output(out, "export SYNKRO_ADMIN_TOKEN=");
    free(out);

    /* a token file */
    char var[300];
    snprintf(var, sizeof var, "SYNKRO_ADMIN_TOKEN_FILE=%s", write_file(f, "token", ADMIN "\n"));
    const char *env[] = {f->api_url, "SYNKRO_ADMIN_TOKEN=", var, NULL};
    assert_int_equal(harness_synkro_run(list, env, &out), 0);
    expect_output(out, "\"mappings\"");
    free(out);
    /* a wrong one: the answer says which token was refused and where it came from */
    snprintf(var, sizeof var, "SYNKRO_ADMIN_TOKEN_FILE=%s",
             write_file(f, "wrong", "not-the-admin-token-at-all\n"));
    assert_int_equal(harness_synkro_run(list, env, &out), 1);
    expect_output(out, "the server answered 401");
    expect_output(out, "the token read from SYNKRO_ADMIN_TOKEN_FILE=");
    free(out);
    /* an unreadable one */
    const char *missing_env[] = {
        f->api_url, "SYNKRO_ADMIN_TOKEN=", "SYNKRO_ADMIN_TOKEN_FILE=/nonexistent/token", NULL};
    assert_int_equal(harness_synkro_run(list, missing_env, &out), 2);
    expect_output(out, "SYNKRO_ADMIN_TOKEN_FILE=/nonexistent/token cannot be read");
    free(out);

    /* ./.data/admin-token, as `make run` writes it */
    char data[128];
    snprintf(data, sizeof data, "%s/.data", f->dir);
    assert_int_equal(mkdir(data, 0700), 0);
    write_file(f, ".data/admin-token", ADMIN);
    assert_int_equal(cli(f, list, "SYNKRO_ADMIN_TOKEN=", &out), 0);
    expect_output(out, "\"mappings\"");
    free(out);

    /* the API is not there: what was tried and what to do; exit 3 */
    const char *gone[] = {"SYNKRO_API_URL=http://127.0.0.1:1", "SYNKRO_ADMIN_TOKEN=" ADMIN, NULL};
    assert_int_equal(harness_synkro_run(list, gone, &out), 3);
    expect_output(out, "cannot reach the admin API at http://127.0.0.1:1");
    expect_output(out, "start synkro");
    free(out);
}

static void test_mapping_commands_say_what_they_did(void **state)
{
    struct fixture *f = *state;
    char *out = NULL;
    const char *show[] = {"mapping", "show", "99", NULL};
    assert_int_equal(cli(f, show, NULL, &out), 1);
    expect_output(out, "the server answered 404 not_found: no mapping with that id");
    expect_output(out, "there is no mapping 99; `synkro mapping list` shows the ids");
    free(out);
    const char *bad[] = {"mapping", "show", "x9", NULL};
    assert_int_equal(cli(f, bad, NULL, &out), 2);
    expect_output(out, "'x9' is not a mapping id");
    free(out);

    long long id = create_mapping(f);
    char ids[32];
    snprintf(ids, sizeof ids, "%lld", id);
    const char *del[] = {"mapping", "delete", ids, NULL};
    assert_int_equal(cli(f, del, NULL, &out), 0);
    char want[160];
    snprintf(want, sizeof want,
             "deleted mapping %lld \"Projects\" (Project__c <-> 2-3465404); its history is kept",
             id);
    expect_output(out, want);
    free(out);
    const char *again[] = {"mapping", "show", ids, NULL};
    assert_int_equal(cli(f, again, NULL, &out), 1);
    expect_output(out, "404");
    free(out);
    assert_int_equal(cli(f, del, NULL, &out), 1); /* deleting it again: says it is not there */
    expect_output(out, "there is no mapping");
    free(out);
}

static void test_config_export_apply_and_aliases(void **state)
{
    struct fixture *f = *state;
    create_mapping(f);
    char *out = NULL;
    const char *exp[] = {"config", "export", NULL};
    assert_int_equal(cli(f, exp, NULL, &out), 0);
    json_object *doc = json_tokener_parse(out);
    assert_non_null(doc); /* stdout is the JSON alone */
    json_object_put(doc);
    const char *path = write_file(f, "export.json", out);
    free(out);

    const char *apply[] = {"config", "apply", path, NULL};
    assert_int_equal(cli(f, apply, NULL, &out), 0);
    expect_output(out, "replaced the configuration with 1 mapping(s)");
    free(out);
    const char *apply_none[] = {"config", "apply", NULL};
    assert_int_equal(cli(f, apply_none, NULL, &out), 2);
    expect_output(out, "usage: synkro config export | synkro config apply FILE");
    free(out);

    /* the old names still work and say what replaced them */
    const char *old_exp[] = {"mapping", "export", NULL};
    assert_int_equal(cli(f, old_exp, NULL, &out), 0);
    expect_output(out, "synkro mapping export is deprecated; use `synkro config export`");
    free(out);
    const char *old_imp[] = {"mapping", "import", path, NULL};
    assert_int_equal(cli(f, old_imp, NULL, &out), 0);
    expect_output(out, "synkro mapping import is deprecated; use `synkro config apply FILE`");
    expect_output(out, "replaced the configuration with 1 mapping(s)");
    free(out);
}

static void test_record_imports(void **state)
{
    struct fixture *f = *state;
    long long id = create_mapping(f);
    char ids[32];
    snprintf(ids, sizeof ids, "%lld", id);
    char *out = NULL;

    const char *est[] = {"import", "estimate", ids, "--direction", "salesforce_to_hubspot", NULL};
    assert_int_equal(cli(f, est, NULL, &out), 0);
    expect_output(out, "\"records\"");
    free(out);
    const char *bad_dir[] = {"import", "estimate", ids, "--direction", "sideways", NULL};
    assert_int_equal(cli(f, bad_dir, NULL, &out), 2);
    expect_output(out, "--direction must be salesforce_to_hubspot or hubspot_to_salesforce");
    free(out);

    /* a draft cannot be imported: the API's reason and what to do */
    const char *start[] = {"import", "start", ids, NULL};
    assert_int_equal(cli(f, start, NULL, &out), 1);
    expect_output(out, "409 mapping_not_enabled");
    expect_output(out, "what to do:");
    free(out);
    const char *enable[] = {"mapping", "enable", ids, NULL};
    assert_int_equal(cli(f, enable, NULL, &out), 0);
    expect_output(out, "enabled mapping ");
    free(out);

    assert_int_equal(cli(f, start, NULL, &out), 0);
    expect_output(out, "started import ");
    const char *p = strstr(out, "started import ");
    long long import_id = atoll(p + strlen("started import "));
    assert_true(import_id > 0);
    free(out);
    char iids[32];
    snprintf(iids, sizeof iids, "%lld", import_id);

    const char *show[] = {"import", "show", iids, NULL};
    assert_int_equal(cli(f, show, NULL, &out), 0);
    expect_output(out, "\"direction\"");
    free(out);
    const char *list[] = {"import", "list", "--mapping", ids, NULL};
    assert_int_equal(cli(f, list, NULL, &out), 0);
    expect_output(out, "\"imports\"");
    free(out);
    /* cancel: either it was still active and is cancelled, or the API says it is not */
    const char *cancel[] = {"import", "cancel", iids, NULL};
    int rc = cli(f, cancel, NULL, &out);
    if (rc == 0)
        expect_output(out, "cancelled import ");
    else
        expect_output(out, "409 not_active");
    free(out);
    const char *unknown[] = {"import", "show", "987654", NULL};
    assert_int_equal(cli(f, unknown, NULL, &out), 1);
    expect_output(out, "there is no import 987654; `synkro import list` shows the ids");
    free(out);
    const char *no_id[] = {"import", "start", NULL};
    assert_int_equal(cli(f, no_id, NULL, &out), 2);
    expect_output(out, "missing MAPPING_ID");
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_token_sources, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mapping_commands_say_what_they_did, setup, teardown),
        cmocka_unit_test_setup_teardown(test_config_export_apply_and_aliases, setup, teardown),
        cmocka_unit_test_setup_teardown(test_record_imports, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
