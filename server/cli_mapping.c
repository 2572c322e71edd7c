/* cli_mapping.c: `synkro mapping list|show|validate|preview|enable|pause|
 * history|export|import|create|update|delete`.
 *
 * Each subcommand is one row of a table mapping it to an admin API call, so
 * the CLI prints exactly what the API answers (the JSON body, pretty when
 * it is JSON) and the two can never drift apart. The API is found at
 * SYNKRO_API_URL, else http://SYNKRO_LISTEN (0.0.0.0 read as 127.0.0.1);
 * the bearer token is SYNKRO_ADMIN_TOKEN. Never prints the token. */
#include "server/cli_mapping.h"

#include "base/strbuf.h"

#include <curl/curl.h>
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
};

static const struct subcommand subcommands[] = {
    {"list", "GET", "/api/mappings", "", ARG_NONE, "list every mapping with its problems"},
    {"show", "GET", "/api/mappings/", "", ARG_ID, "show one mapping"},
    {"create", "POST", "/api/mappings", "", ARG_FILE, "create a draft from a JSON document"},
    {"update", "PUT", "/api/mappings/", "", ARG_ID_FILE,
     "replace a mapping (the document carries the version you edited)"},
    {"delete", "DELETE", "/api/mappings/", "", ARG_ID, "delete a mapping (its history is kept)"},
    {"validate", "POST", "/api/mappings/", "/validate", ARG_ID,
     "validate against the live schemas of both CRMs"},
    {"preview", "GET", "/api/mappings/", "/preview", ARG_ID,
     "dry run on up to 20 Salesforce records; nothing is written"},
    {"enable", "POST", "/api/mappings/", "/enable", ARG_ID, "start continuous sync"},
    {"pause", "POST", "/api/mappings/", "/pause", ARG_ID, "pause (save for later)"},
    {"history", "GET", "/api/mappings/", "/history", ARG_ID, "who changed what, when"},
    {"export", "GET", "/api/mappings/export", "", ARG_NONE, "the whole configuration as JSON"},
    {"import", "POST", "/api/mappings/import", "", ARG_FILE,
     "replace the configuration with an exported document (atomic)"},
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
    fprintf(out, "\nTalks to the admin API at SYNKRO_API_URL (default http://SYNKRO_LISTEN) with "
                 "SYNKRO_ADMIN_TOKEN.\n");
}

static char *read_input(const char *path)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (!f)
        return NULL;
    struct strbuf sb = STRBUF_INIT;
    char buf[8192];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0)
        strbuf_append(&sb, buf, n);
    if (f != stdin)
        fclose(f);
    if (sb.failed) {
        strbuf_free(&sb);
        return NULL;
    }
    return strbuf_detach(&sb, NULL);
}

static void api_base(char *out, size_t outlen)
{
    const char *url = getenv("SYNKRO_API_URL");
    if (url && *url) {
        snprintf(out, outlen, "%s", url);
    } else {
        const char *listen = getenv("SYNKRO_LISTEN");
        if (!listen || !*listen)
            listen = "127.0.0.1:8080";
        if (strncmp(listen, "0.0.0.0:", 8) == 0)
            snprintf(out, outlen, "http://127.0.0.1:%s", listen + 8);
        else
            snprintf(out, outlen, "http://%s", listen);
    }
    size_t len = strlen(out);
    while (len > 0 && out[len - 1] == '/')
        out[--len] = '\0';
}

static size_t collect(char *ptr, size_t size, size_t nmemb, void *ud)
{
    return strbuf_append(ud, ptr, size * nmemb) == 0 ? size * nmemb : 0;
}

static int call_api(const struct subcommand *s, const char *id, const char *body)
{
    char base[512], url[1024], path[256];
    api_base(base, sizeof base);
    snprintf(path, sizeof path, "%s%s%s", s->path, id ? id : "", s->suffix);
    snprintf(url, sizeof url, "%s%s", base, path);
    struct strbuf auth = STRBUF_INIT;
    const char *token = getenv("SYNKRO_ADMIN_TOKEN");
    strbuf_printf(&auth, "Authorization: Bearer %s", token ? token : "");
    CURL *c = curl_easy_init();
    if (!c || auth.failed) {
        strbuf_free(&auth);
        fprintf(stderr, "synkro mapping: out of memory\n");
        return 3;
    }
    struct curl_slist *headers = curl_slist_append(NULL, auth.data);
    headers = curl_slist_append(headers, "Content-Type: application/json");
    headers = curl_slist_append(headers, "X-Synkro-Actor: cli");
    struct strbuf resp = STRBUF_INIT;
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, s->method);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
    if (body)
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    else if (strcmp(s->method, "POST") == 0)
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, "");
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &resp);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 120L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    CURLcode rc = curl_easy_perform(c);
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(headers);
    curl_easy_cleanup(c);
    strbuf_free(&auth);
    if (rc != CURLE_OK) {
        fprintf(stderr, "synkro mapping: cannot reach %s: %s\n", base, curl_easy_strerror(rc));
        strbuf_free(&resp);
        return 3;
    }
    json_object *o = resp.len ? json_tokener_parse(strbuf_str(&resp)) : NULL;
    if (o)
        printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY |
                                                             JSON_C_TO_STRING_NOSLASHESCAPE));
    else if (resp.len)
        printf("%s\n", strbuf_str(&resp));
    json_object_put(o);
    strbuf_free(&resp);
    return status >= 200 && status < 300 ? 0 : 1;
}

int cli_mapping_main(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    const struct subcommand *s = NULL;
    for (size_t i = 0; i < NSUB && !s; i++)
        if (strcmp(subcommands[i].name, argv[1]) == 0)
            s = &subcommands[i];
    static const int wanted[] = {[ARG_NONE] = 2, [ARG_ID] = 3, [ARG_FILE] = 3, [ARG_ID_FILE] = 4};
    if (!s || argc != wanted[s->args]) {
        fprintf(stderr, "synkro mapping: %s\n\n",
                s ? "wrong number of arguments" : "unknown command");
        usage(stderr);
        return 2;
    }
    const char *id = s->args == ARG_ID || s->args == ARG_ID_FILE ? argv[2] : NULL;
    if (id && strspn(id, "0123456789") != strlen(id)) {
        fprintf(stderr, "synkro mapping: the id must be a number\n");
        return 2;
    }
    char *body = NULL;
    if (s->args == ARG_FILE || s->args == ARG_ID_FILE) {
        const char *path = argv[s->args == ARG_FILE ? 2 : 3];
        body = read_input(path);
        if (!body) {
            fprintf(stderr, "synkro mapping: cannot read %s\n", path);
            return 2;
        }
    }
    int rc = call_api(s, id, body);
    free(body);
    return rc;
}
