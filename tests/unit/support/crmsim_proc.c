/* crmsim_proc.c: start, stop and control a crmsim process for unit tests (see crmsim_proc.h). */
#include "crmsim_proc.h"

#include <curl/curl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

static void pause_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static void remove_dir(struct crmsim_proc *p)
{
    if (!p->dir[0])
        return;
    char path[160];
    snprintf(path, sizeof path, "%s/port", p->dir);
    unlink(path);
    snprintf(path, sizeof path, "%s/crmsim.log", p->dir);
    unlink(path);
    rmdir(p->dir);
    p->dir[0] = '\0';
}

int crmsim_proc_start(struct crmsim_proc *p, const char *bin, const char *fixtures, char *err,
                      size_t errlen)
{
    memset(p, 0, sizeof *p);
    snprintf(p->dir, sizeof p->dir, "/tmp/synkro_sim.XXXXXX");
    if (!mkdtemp(p->dir)) {
        p->dir[0] = '\0';
        snprintf(err, errlen, "cannot create a directory for crmsim");
        return -1;
    }
    char port_file[128], log[128];
    snprintf(port_file, sizeof port_file, "%s/port", p->dir);
    snprintf(log, sizeof log, "%s/crmsim.log", p->dir);
    p->pid = fork();
    if (p->pid < 0) {
        p->pid = 0;
        remove_dir(p);
        snprintf(err, errlen, "cannot fork crmsim");
        return -1;
    }
    if (p->pid == 0) {
        if (!freopen(log, "w", stderr) || !freopen("/dev/null", "w", stdout))
            _exit(126);
        if (fixtures)
            execl(bin, "crmsim", "--listen", "127.0.0.1:0", "--port-file", port_file, "--fixtures",
                  fixtures, (char *)NULL);
        else
            execl(bin, "crmsim", "--listen", "127.0.0.1:0", "--port-file", port_file, (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 400; i++) {
        FILE *f = fopen(port_file, "r");
        int port = 0;
        if (f) {
            if (fscanf(f, "%d", &port) != 1)
                port = 0;
            fclose(f);
        }
        if (port > 0) {
            snprintf(p->base, sizeof p->base, "http://127.0.0.1:%d", port);
            return 0;
        }
        int st;
        if (waitpid(p->pid, &st, WNOHANG) == p->pid) {
            snprintf(err, errlen, "crmsim (%s) exited before listening", bin);
            p->pid = 0;
            crmsim_proc_stop(p);
            return -1;
        }
        pause_ms(25);
    }
    snprintf(err, errlen, "crmsim did not write its port file within 10 s");
    crmsim_proc_stop(p);
    return -1;
}

void crmsim_proc_start_or_fail(struct crmsim_proc *p)
{
    const char *bin = getenv("CRMSIM_BIN");
    if (!bin || !*bin)
        fail_msg("CRMSIM_BIN is not set: these contract tests need the crmsim binary (ctest sets "
                 "it to the build's crmsim)");
    char err[300];
    if (crmsim_proc_start(p, bin, NULL, err, sizeof err) != 0)
        fail_msg("%s", err);
}

static void copy_log_to_stderr(const struct crmsim_proc *p)
{
    char path[160];
    snprintf(path, sizeof path, "%s/crmsim.log", p->dir);
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0)
        fwrite(buf, 1, n, stderr);
    fclose(f);
}

int crmsim_proc_stop(struct crmsim_proc *p)
{
    int rc = -1;
    if (p->pid > 0) {
        kill(p->pid, SIGTERM);
        int st = 0;
        pid_t w = 0;
        for (int i = 0; i < 400 && (w = waitpid(p->pid, &st, WNOHANG)) == 0; i++)
            pause_ms(25);
        if (w == 0) {
            kill(p->pid, SIGKILL);
            waitpid(p->pid, &st, 0);
        } else if (w == p->pid && WIFEXITED(st)) {
            rc = WEXITSTATUS(st);
        }
        p->pid = 0;
    }
    if (rc != 0)
        copy_log_to_stderr(p);
    remove_dir(p);
    return rc;
}

static size_t collect(char *ptr, size_t size, size_t n, void *ud)
{
    fwrite(ptr, size, n, (FILE *)ud);
    return size * n;
}

json_object *crmsim_proc_call(const struct crmsim_proc *p, const char *method, const char *path,
                              const char *body, long *status)
{
    char url[512];
    snprintf(url, sizeof url, "%s%s", p->base, path);
    char *buf = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&buf, &len);
    assert_non_null(mem);
    CURL *c = curl_easy_init();
    assert_non_null(c);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, mem);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 20000L);
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    if (body)
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    CURLcode rc = curl_easy_perform(c);
    long st = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &st);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    fclose(mem);
    json_object *o = rc == CURLE_OK && len ? json_tokener_parse(buf) : NULL;
    char answer[300];
    snprintf(answer, sizeof answer, "%s", buf ? buf : "");
    free(buf);
    if (rc != CURLE_OK)
        fail_msg("crmsim %s %s: %s", method, path, curl_easy_strerror(rc));
    if (status)
        *status = st;
    else if (st < 200 || st > 299)
        fail_msg("crmsim %s %s answered %ld: %s", method, path, st, answer);
    return o;
}

void crmsim_proc_ok(const struct crmsim_proc *p, const char *method, const char *path,
                    const char *body)
{
    json_object_put(crmsim_proc_call(p, method, path, body, NULL));
}

json_object *crmsim_proc_requests(const struct crmsim_proc *p, const char *prefix,
                                  json_object **reqs)
{
    char path[300];
    snprintf(path, sizeof path, "/_sim/stats?path_prefix=%s", prefix);
    json_object *st = crmsim_proc_call(p, "GET", path, NULL, NULL);
    assert_non_null(st);
    assert_true(json_object_object_get_ex(st, "recentRequests", reqs));
    return st;
}

const char *crmsim_jstr(json_object *o, const char *k)
{
    json_object *v;
    if (!o || !json_object_object_get_ex(o, k, &v))
        return NULL;
    return json_object_get_string(v);
}

long long crmsim_jint(json_object *o, const char *k)
{
    json_object *v;
    if (!o || !json_object_object_get_ex(o, k, &v))
        return -1;
    return json_object_get_int64(v);
}

long long crmsim_proc_count(const struct crmsim_proc *p, const char *method_route, int status)
{
    json_object *st = crmsim_proc_call(p, "GET", "/_sim/stats?limit=0", NULL, NULL);
    json_object *by, *m;
    long long n = 0;
    char key[16];
    snprintf(key, sizeof key, "%d", status);
    if (json_object_object_get_ex(st, "callsByRoute", &by) &&
        json_object_object_get_ex(by, method_route, &m))
        n = crmsim_jint(m, key);
    json_object_put(st);
    return n < 0 ? 0 : n;
}

long long crmsim_proc_token_refreshes(const struct crmsim_proc *p, const char *crm)
{
    json_object *st = crmsim_proc_call(p, "GET", "/_sim/stats?limit=0", NULL, NULL);
    json_object *r;
    long long n = -1;
    if (json_object_object_get_ex(st, "tokenRefreshes", &r))
        n = crmsim_jint(r, crm);
    json_object_put(st);
    return n;
}

void crmsim_expect_body(json_object *req, const char *want_json)
{
    const char *body = crmsim_jstr(req, "body");
    json_object *got = body ? json_tokener_parse(body) : NULL;
    json_object *want = json_tokener_parse(want_json);
    assert_non_null(want);
    int same = got && json_object_equal(got, want);
    if (!same)
        print_error("request body\n  got:  %s\n  want: %s\n", body ? body : "(none)",
                    json_object_to_json_string_ext(want, JSON_C_TO_STRING_PLAIN));
    json_object_put(got);
    json_object_put(want);
    assert_true(same);
}
