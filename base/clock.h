/* clock.h: the one place synkro reads the time: monotonic milliseconds/nanoseconds for durations
 * and deadlines inside the process, wall-clock milliseconds for what is stored or compared with
 * the CRMs, and absolute deadlines for pthread_cond_timedwait (which waits on CLOCK_REALTIME).
 *
 * Must not: keep state, sleep, or be used for anything but reading clocks. */
#ifndef SYNKRO_BASE_CLOCK_H
#define SYNKRO_BASE_CLOCK_H

#include <stdint.h>
#include <time.h>

/* CLOCK_MONOTONIC in nanoseconds / milliseconds / seconds (durations, rate windows). */
int64_t clock_mono_ns(void);
int64_t clock_mono_ms(void);
double clock_mono_seconds(void);

/* CLOCK_REALTIME in milliseconds since the epoch (timestamps shared with the database and CRMs). */
int64_t clock_wall_ms(void);

/* The CLOCK_REALTIME instant ms milliseconds from now, normalised (a pthread_cond_timedwait
 * deadline). */
struct timespec clock_deadline_after_ms(int64_t ms);

#endif
