/* cli_api.c: the admin API as the command line sees it: address, token, one call, and errors
 * that say what to do (see cli_api.h). Never prints the token, only where it was read. */
#include "server/cli_api.h"

#include "base/strbuf.h"

#include <curl/curl.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DEFAULT_TOKEN_FILE ".data/admin-token"

char *cli_read_input(const char *path)
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
    if (!sb.data)
        return strdup("");
    return strbuf_detach(&sb, NULL);
}

static void api_base(char *out, size_t outlen)
{
    const char *url = getenv("SYNKRO_API_URL");
    if (url && *url) {
        snprintf(out, outlen, "%s", url);
    } else {
        const char *listen = getenv("SYNKRO_ADMIN_LISTEN"); /* the admin plane, when apart */
        if (!listen || !*listen)
            listen = getenv("SYNKRO_LISTEN");
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

/* Reads the first line of path into out. 0, or -1 when missing, unreadable or empty. */
static int read_token_file(const char *path, char *out, size_t outlen)
{
    char *text = cli_read_input(path);
    if (!text)
        return -1;
    text[strcspn(text, "\r\n")] = '\0';
    int rc = *text && strlen(text) < outlen ? 0 : -1;
    if (rc == 0)
        snprintf(out, outlen, "%s", text);
    free(text);
    return rc;
}

int cli_api_token(const char *prog, char *out, size_t outlen, char *where, size_t wherelen)
{
    const char *env = getenv("SYNKRO_ADMIN_TOKEN");
    if (env && *env && strlen(env) < outlen) {
        snprintf(out, outlen, "%s", env);
        snprintf(where, wherelen, "SYNKRO_ADMIN_TOKEN");
        return 0;
    }
    const char *file = getenv("SYNKRO_ADMIN_TOKEN_FILE");
    if (file && *file) {
        if (read_token_file(file, out, outlen) == 0) {
            snprintf(where, wherelen, "SYNKRO_ADMIN_TOKEN_FILE=%s", file);
            return 0;
        }
        fprintf(stderr,
                "%s: SYNKRO_ADMIN_TOKEN_FILE=%s cannot be read or is empty\n"
                "  what to do: put the server's SYNKRO_ADMIN_TOKEN in that file (one line), or "
                "export SYNKRO_ADMIN_TOKEN\n",
                prog, file);
        return -1;
    }
    if (read_token_file(DEFAULT_TOKEN_FILE, out, outlen) == 0) {
        snprintf(where, wherelen, "%s", DEFAULT_TOKEN_FILE);
        return 0;
    }
    fprintf(stderr,
            "%s: no admin token found; looked at SYNKRO_ADMIN_TOKEN (not set), "
            "SYNKRO_ADMIN_TOKEN_FILE (not set) and ./%s (%s)\n"
            "  what to do: export SYNKRO_ADMIN_TOKEN=<the server's SYNKRO_ADMIN_TOKEN>, or "
            "SYNKRO_ADMIN_TOKEN_FILE=<a file holding it>; `make run` writes it to %s\n",
            prog, DEFAULT_TOKEN_FILE, access(DEFAULT_TOKEN_FILE, F_OK) == 0 ? "empty" : "missing",
            DEFAULT_TOKEN_FILE);
    return -1;
}

static size_t collect(char *ptr, size_t size, size_t nmemb, void *ud)
{
    return strbuf_append(ud, ptr, size * nmemb) == 0 ? size * nmemb : 0;
}

/* The token's source, kept for the 401 hint. */
static char token_source[600];

int cli_api_call(const char *prog, const char *method, const char *path, const char *body,
                 struct cli_answer *ans)
{
    ans->status = 0;
    ans->body = NULL;
    char token[4200];
    if (cli_api_token(prog, token, sizeof token, token_source, sizeof token_source) < 0)
        return CLI_USAGE;
    char base[512], url[1024];
    api_base(base, sizeof base);
    snprintf(url, sizeof url, "%s%s", base, path);
    struct strbuf auth = STRBUF_INIT;
    strbuf_printf(&auth, "Authorization: Bearer %s", token);
    memset(token, 0, sizeof token);
    CURL *c = curl_easy_init();
    if (!c || auth.failed) {
        strbuf_free(&auth);
        fprintf(stderr, "%s: out of memory\n", prog);
        return CLI_UNREACHABLE;
    }
    struct curl_slist *headers = curl_slist_append(NULL, auth.data);
    headers = curl_slist_append(headers, "Content-Type: application/json");
    headers = curl_slist_append(headers, "X-Synkro-Actor: cli");
    struct strbuf resp = STRBUF_INIT;
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
    if (body)
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    else if (strcmp(method, "POST") == 0)
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, "");
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &resp);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 120L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    CURLcode rc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &ans->status);
    curl_slist_free_all(headers);
    curl_easy_cleanup(c);
    strbuf_free(&auth);
    if (rc != CURLE_OK) {
        fprintf(stderr,
                "%s: cannot reach the admin API at %s: %s\n"
                "  what to do: start synkro (`synkro serve`), or set SYNKRO_API_URL to where it "
                "listens (e.g. http://127.0.0.1:8080)\n",
                prog, base, curl_easy_strerror(rc));
        strbuf_free(&resp);
        return CLI_UNREACHABLE;
    }
    ans->body = resp.data ? strbuf_detach(&resp, NULL) : strdup("");
    strbuf_free(&resp);
    if (!ans->body) {
        fprintf(stderr, "%s: out of memory\n", prog);
        return CLI_UNREACHABLE;
    }
    return CLI_OK;
}

void cli_answer_free(struct cli_answer *ans)
{
    free(ans->body);
    ans->body = NULL;
}

void cli_api_print_body(const struct cli_answer *ans)
{
    json_object *o = *ans->body ? json_tokener_parse(ans->body) : NULL;
    if (o)
        printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY |
                                                             JSON_C_TO_STRING_NOSLASHESCAPE));
    else if (*ans->body)
        printf("%s\n", ans->body);
    json_object_put(o);
}

static const char *status_hint(long status, const char *not_found_hint)
{
    if (status == 401)
        return NULL; /* printed with the token's source */
    if (status == 404)
        return not_found_hint ? not_found_hint : "check the path and id";
    if (status == 400 || status == 409 || status == 422)
        return "change the request as the message says";
    if (status == 502)
        return "a CRM did not answer as expected; run `synkro doctor` to check the credentials";
    if (status == 503)
        return "a dependency is not configured or not reachable; run `synkro doctor` and "
               "`synkro config check` on the server";
    if (status >= 500)
        return "look at the server's log for this request";
    return "see the message";
}

int cli_api_print_error(const char *prog, const struct cli_answer *ans, const char *not_found_hint)
{
    json_object *o = json_tokener_parse(ans->body ? ans->body : "");
    json_object *err = NULL, *code = NULL, *msg = NULL;
    if (o && json_object_object_get_ex(o, "error", &err) &&
        json_object_is_type(err, json_type_object)) {
        json_object_object_get_ex(err, "code", &code);
        json_object_object_get_ex(err, "message", &msg);
    }
    if (code || msg)
        fprintf(stderr, "%s: the server answered %ld %s: %s\n", prog, ans->status,
                code ? json_object_get_string(code) : "", msg ? json_object_get_string(msg) : "");
    else
        fprintf(stderr, "%s: the server answered %ld%s%s\n", prog, ans->status,
                ans->body && *ans->body ? ": " : " with no body", ans->body ? ans->body : "");
    if (ans->status == 401)
        fprintf(stderr,
                "  what to do: the token read from %s is not the server's SYNKRO_ADMIN_TOKEN; set "
                "the same value here\n",
                token_source);
    else
        fprintf(stderr, "  what to do: %s\n", status_hint(ans->status, not_found_hint));
    json_object_put(o);
    return CLI_REFUSED;
}
