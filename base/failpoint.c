/* failpoint.c: test-only crash points named by SYNKRO_FAILPOINT (see failpoint.h).
 *
 * Must not: allocate, log or take locks. */
#include "base/failpoint.h"

#include <signal.h>
#include <stdbool.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifdef SYNKRO_FAILPOINTS

static atomic_long passes;

/* True when spec ("name" or "name:n") names name; *nth receives n (1 by default). */
static bool spec_names(const char *spec, const char *name, long *nth)
{
    size_t len = strlen(name);
    if (strncmp(spec, name, len) != 0 || (spec[len] != '\0' && spec[len] != ':'))
        return false;
    *nth = 1;
    if (spec[len] == ':') {
        char *end;
        long v = strtol(spec + len + 1, &end, 10);
        if (*end != '\0' || v < 1)
            return false;
        *nth = v;
    }
    return true;
}

void failpoint_crash(const char *name)
{
    const char *spec = getenv("SYNKRO_FAILPOINT");
    long nth;
    if (!spec || !name || !spec_names(spec, name, &nth))
        return;
    if (atomic_fetch_add(&passes, 1) + 1 == nth)
        kill(getpid(), SIGKILL);
}

#else

void failpoint_crash(const char *name)
{
    (void)name;
}

#endif
