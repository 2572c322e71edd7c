/* metric_read.h: one series' value from this process's /metrics text, for unit tests.
 *
 * Owns nothing across calls. Must not be used for histograms' buckets (they carry a le label
 * after the caller's). */
#ifndef SYNKRO_TESTS_METRIC_READ_H
#define SYNKRO_TESTS_METRIC_READ_H

/* The value of series (name and labels exactly as rendered, e.g.
 * `synkro_queue_picks_total{outcome="blocked"}`), or missing when it has not been rendered. Fails
 * the test when the metrics cannot be rendered. */
double metric_read(const char *series, double missing);

#endif
