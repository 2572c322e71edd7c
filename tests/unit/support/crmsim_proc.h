/* crmsim_proc.h: one crmsim process for a unit test, and its /_sim/ control API.
 *
 * Owns struct crmsim_proc: the child's pid, a temporary directory holding its port file and
 * stderr log, and the base URL it listens on. The simulator is started as
 * `CRMSIM_BIN --listen 127.0.0.1:0 --port-file DIR/port [--fixtures FILE]`; start waits up to
 * 10 s for the port file. Control calls go to the simulator's /_sim/ routes (reset, fixtures,
 * stats) and fail the running cmocka test when the simulator cannot be reached.
 *
 * Must not: pick a fixed port, or leave the child or its directory behind after stop. */
#ifndef SYNKRO_TESTS_CRMSIM_PROC_H
#define SYNKRO_TESTS_CRMSIM_PROC_H

#include <json-c/json.h>
#include <stddef.h>
#include <sys/types.h>

struct crmsim_proc {
    pid_t pid;     /* 0 when not running */
    char dir[64];  /* temporary directory with "port" and "crmsim.log" */
    char base[64]; /* "http://127.0.0.1:PORT" */
};

/* Starts bin (fixtures: a file for --fixtures, or NULL). 0 when it listens; -1 with a sentence
 * in err when it could not be started, exited early or wrote no port file within 10 s. */
int crmsim_proc_start(struct crmsim_proc *p, const char *bin, const char *fixtures, char *err,
                      size_t errlen);
/* Starts CRMSIM_BIN without fixtures; fails the test when it is unset or does not start. */
void crmsim_proc_start_or_fail(struct crmsim_proc *p);
/* SIGTERM, then waits up to 10 s (SIGKILL after) and removes the directory. Returns the exit
 * status, or -1 when it was killed, crashed or was not running; on a non-zero status the
 * simulator's log is copied to stderr first (sanitizer reports end up there). */
int crmsim_proc_stop(struct crmsim_proc *p);

/* Calls the simulator with a JSON body (may be NULL). Returns the parsed answer (may be NULL;
 * caller puts). With status NULL a non-2xx answer fails the test, else *status receives it. */
json_object *crmsim_proc_call(const struct crmsim_proc *p, const char *method, const char *path,
                              const char *body, long *status);
/* crmsim_proc_call that must succeed; the answer is dropped. */
void crmsim_proc_ok(const struct crmsim_proc *p, const char *method, const char *path,
                    const char *body);
/* Requests recorded under path prefix, oldest first, from GET /_sim/stats: *reqs borrows the
 * recentRequests array of the returned stats document (caller puts that). */
json_object *crmsim_proc_requests(const struct crmsim_proc *p, const char *prefix,
                                  json_object **reqs);
/* Calls recorded for "METHOD route" with that status in /_sim/stats (0 when none). */
long long crmsim_proc_count(const struct crmsim_proc *p, const char *method_route, int status);
/* OAuth token refreshes the simulator served for crm ("hubspot", "salesforce"); -1 if unknown. */
long long crmsim_proc_token_refreshes(const struct crmsim_proc *p, const char *crm);

/* Small JSON helpers of the request checks: member k as a string (NULL if absent) or integer
 * (-1 if absent); and an assertion that a recorded request's body equals want_json as JSON. */
const char *crmsim_jstr(json_object *o, const char *k);
long long crmsim_jint(json_object *o, const char *k);
void crmsim_expect_body(json_object *req, const char *want_json);

#endif
