/* failpoint.h: test-only crash points, named by the environment variable SYNKRO_FAILPOINT.
 *
 * SYNKRO_FAILPOINT="<name>[:<n>]" makes the n-th time (default the first) the process passes
 * failpoint_crash("<name>") kill it with SIGKILL, exactly like `kill -9` at that instant: nothing
 * is flushed, no handler runs. Tests use it to stop synkro between two steps that a real crash
 * could separate (e.g. "after_writes": a batch's CRM writes acknowledged, its commit not made).
 *
 * Compiled in only when SYNKRO_FAILPOINTS is defined (the test build: CMake option
 * SYNKRO_FAILPOINTS, on with SYNKRO_TESTS); otherwise failpoint_crash does nothing and the
 * variable is ignored, so a production binary cannot be crashed through its environment.
 *
 * Must not: allocate, log or take locks (a counter in an atomic is all it keeps). */
#ifndef SYNKRO_SERVER_FAILPOINT_H
#define SYNKRO_SERVER_FAILPOINT_H

/* Kills the process with SIGKILL when SYNKRO_FAILPOINT names name and this is the n-th pass. */
void failpoint_crash(const char *name);

#endif
