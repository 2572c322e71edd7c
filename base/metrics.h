/* metrics.h: Prometheus counters, gauges and histograms, cheap on the hot path.
 *
 * A family (name, help, label names) is registered once at start. Each label
 * combination is a series, created on first use and never removed. Finding an
 * existing series takes no lock: series live in an append-only array whose
 * published length is an atomic; only creating a new series takes the
 * family's mutex. Values are C11 atomics (doubles stored as their bits and
 * updated by compare-and-swap), so recording never blocks another thread.
 *
 * One way to register: each module keeps its families in file-level pointers set by one static
 * function, run through metrics_once_run() from every entry point that records (and from an
 * exported <module>_metrics_init() where serve.c wants the families listed from the start).
 * metrics_register itself is idempotent by name, so a family is never registered twice; a
 * metrics_reset_all() (tests) makes every module register again on its next use.
 *
 * Hot paths may keep the struct metric_series pointer returned by
 * metrics_series() and update it directly. Label values must not contain
 * secrets; they are escaped on output. */
#ifndef SYNKRO_SERVER_METRICS_H
#define SYNKRO_SERVER_METRICS_H

#include "base/strbuf.h"

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

enum metric_kind { METRIC_COUNTER, METRIC_GAUGE, METRIC_HISTOGRAM };

/* A module's registration state: zero-initialise it (static storage). */
struct metrics_once {
    _Atomic unsigned gen;
};

/* Runs init once per registry generation (once, and once again after metrics_reset_all), from
 * any thread; callers that arrive meanwhile wait for it. init must only register (it must not call
 * metrics_once_run itself: one lock serialises every module's registration). */
void metrics_once_run(struct metrics_once *once, void (*init)(void));

struct metric_family;
struct metric_series;

/* Registers a family. Returns NULL on bad arguments or out of memory.
 * Families live until metrics_reset_all(); pointers may be kept forever. */
struct metric_family *metrics_register(enum metric_kind kind, const char *name, const char *help,
                                       const char *const *label_names, size_t nlabels,
                                       const double *buckets, size_t nbuckets);

/* Returns the series for these label values (nlabels of them), creating it.
 * NULL when the family is full (METRICS_MAX_SERIES) or out of memory. */
struct metric_series *metrics_series(struct metric_family *fam, const char *const *label_values);

void metrics_series_add(struct metric_series *s, double v);     /* counter / gauge */
void metrics_series_set(struct metric_series *s, double v);     /* gauge */
void metrics_series_observe(struct metric_series *s, double v); /* histogram */

/* Convenience: look the series up and update it (no-ops on NULL). */
void metrics_add(struct metric_family *fam, const char *const *labels, double v);
void metrics_set(struct metric_family *fam, const char *const *labels, double v);
void metrics_observe(struct metric_family *fam, const char *const *labels, double v);

/* Reads a counter/gauge value (tests, readiness). 0 when the series is absent. */
double metrics_value(struct metric_family *fam, const char *const *labels);
/* Histogram count of a series (tests). */
uint64_t metrics_histogram_count(struct metric_family *fam, const char *const *labels);

/* Called before every render, e.g. to refresh gauges from the database. */
typedef void (*metrics_collect_fn)(void *ud);
int metrics_on_collect(metrics_collect_fn fn, void *ud);

/* Appends the Prometheus text exposition (version 0.0.4) of every family. */
int metrics_render(struct strbuf *out);

/* Frees every family (process exit, tests). Not safe while others record. */
void metrics_reset_all(void);

#define METRICS_MAX_SERIES 512
#define METRICS_MAX_LABELS 4

#endif
