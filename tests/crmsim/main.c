/* main.c: crmsim's entry point: command line, process setup (signals, libraries), startup fixtures,
 * the listening line and port file, and orderly shutdown on SIGTERM/SIGINT.
 *
 * crmsim [--listen HOST:PORT] [--port-file PATH] [--fixtures FILE.json]
 * Signals are blocked in every thread and taken synchronously with sigwait() in the main thread, so
 * no async-signal-safety issues arise. Shutdown: set sim->stopping, wake sleepers, stop the HTTP
 * daemon (it joins connection threads), join the delivery workers, free everything. */
#include <curl/curl.h>
#include <errno.h>
#include <libxml/parser.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/crmsim/deliveries.h"
#include "tests/crmsim/fixtures.h"
#include "tests/crmsim/http.h"
#include "tests/crmsim/sim.h"

static void usage(FILE *out)
{
    fputs("usage: crmsim [--listen HOST:PORT] [--port-file PATH] [--fixtures FILE.json]\n"
          "  Simulates the HubSpot and Salesforce HTTP APIs on one port.\n"
          "  --listen     address to bind (default 127.0.0.1:0; port 0 picks a free port)\n"
          "  --port-file  write the bound port to PATH once listening\n"
          "  --fixtures   load this fixture document at startup and on POST /_sim/reset\n",
          out);
}

static int parse_listen(const char *s, char *host, size_t hostlen, int *port)
{
    const char *colon = strrchr(s, ':');
    if (!colon || colon == s || (size_t)(colon - s) >= hostlen)
        return -1;
    memcpy(host, s, (size_t)(colon - s));
    host[colon - s] = '\0';
    char *end;
    errno = 0;
    long p = strtol(colon + 1, &end, 10);
    if (errno || *end || end == colon + 1 || p < 0 || p > 65535)
        return -1;
    *port = (int)p;
    return 0;
}

static int write_port_file(const char *path, int port)
{
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp)
        return -1;
    FILE *f = fopen(tmp, "w");
    if (!f)
        return -1;
    int ok = fprintf(f, "%d\n", port) > 0;
    ok &= fclose(f) == 0;
    if (!ok || rename(tmp, path) != 0) {
        unlink(tmp);
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    const char *listen = "127.0.0.1:0";
    const char *port_file = NULL;
    const char *fixtures = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return 0;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "crmsim: %s needs a value\n", a);
            usage(stderr);
            return 2;
        }
        if (strcmp(a, "--listen") == 0)
            listen = argv[++i];
        else if (strcmp(a, "--port-file") == 0)
            port_file = argv[++i];
        else if (strcmp(a, "--fixtures") == 0)
            fixtures = argv[++i];
        else {
            fprintf(stderr, "crmsim: unknown option %s\n", a);
            usage(stderr);
            return 2;
        }
    }
    char host[256];
    int port;
    if (parse_listen(listen, host, sizeof host, &port) < 0) {
        fprintf(stderr, "crmsim: --listen must be HOST:PORT (e.g. 127.0.0.1:0)\n");
        return 2;
    }

    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        fprintf(stderr, "crmsim: curl_global_init failed\n");
        return 1;
    }
    xmlInitParser();
    json_c_set_serialization_double_format("%.15g", JSON_C_OPTION_GLOBAL);

    struct sim *sim = sim_new("", fixtures);
    char err[1024];
    pthread_mutex_lock(&sim->lock);
    int rc = sim_reset(sim, err, sizeof err);
    pthread_mutex_unlock(&sim->lock);
    if (rc < 0) {
        fprintf(stderr, "crmsim: %s\n", err);
        sim_free(sim);
        curl_global_cleanup();
        return 2;
    }
    int bound = 0;
    struct http_server *srv = http_server_start(sim, host, port, &bound, err, sizeof err);
    if (!srv) {
        fprintf(stderr, "crmsim: %s\n", err);
        sim_free(sim);
        curl_global_cleanup();
        return 1;
    }
    pthread_mutex_lock(&sim->lock);
    snprintf(sim->base_url, sizeof sim->base_url, "http://%.100s:%d",
             strcmp(host, "0.0.0.0") == 0 ? "127.0.0.1" : host, bound);
    pthread_mutex_unlock(&sim->lock);
    if (deliveries_start(sim, err, sizeof err) < 0) {
        fprintf(stderr, "crmsim: %s\n", err);
        atomic_store(&sim->stopping, true);
        http_server_stop(srv);
        deliveries_stop(sim);
        sim_free(sim);
        curl_global_cleanup();
        return 1;
    }
    if (port_file && write_port_file(port_file, bound) < 0)
        fprintf(stderr, "crmsim: cannot write port file %s: %s\n", port_file, strerror(errno));
    printf("crmsim listening on http://%s:%d\n", strcmp(host, "0.0.0.0") == 0 ? "127.0.0.1" : host,
           bound);
    fflush(stdout);

    int sig = 0;
    sigwait(&set, &sig);

    pthread_mutex_lock(&sim->lock);
    atomic_store(&sim->stopping, true);
    pthread_cond_broadcast(&sim->cond);
    pthread_mutex_unlock(&sim->lock);
    http_server_stop(srv);
    deliveries_stop(sim);
    sim_free(sim);
    xmlCleanupParser();
    curl_global_cleanup();
    return 0;
}
