/* latency_floor.c: a model of steady-state sync latency (bench-e2e phase (c)) that prints the best
 * p50/p99 any batching engine can reach under a CRM latency and HubSpot's burst limit, for 1..8
 * batches in flight per mapping. It explains the measured figures; it measures nothing itself.
 *
 * Model (the engine's own rules, not tuned to any result):
 * - Changes arrive as a Poisson stream of `rate` per second, alternating Salesforce / HubSpot.
 * - A batch claims every change waiting when it starts (up to 200). It reads both CRMs at once
 *   (the three-way merge needs the current record of both sides), then writes each record to the
 *   other CRM; a change's latency ends when its write is acknowledged (as
 *   synkro_sync_latency_seconds does). Each call takes one of 5 equally likely latencies in
 *   [lo, hi] (crmsim's fault rules in bench/e2e.sh), plus `overhead_ms` of claim and merge work.
 * - A batch costs HubSpot one read per 100 records, plus one write per 100 Salesforce-origin
 *   records. HubSpot allows `limit` calls per rolling 10 s; a batch starts only when its calls fit.
 * - Up to `slots` batches run at once; a free slot starts a batch as soon as a change is waiting.
 *
 * Usage: latency_floor [rate=100] [lo_ms=50] [hi_ms=150] [limit=190] [overhead_ms=8]
 * Output: one line per slot count, with the limit and without it, and the floor with no waiting at
 * all (the median of max(read, read) + write). Deterministic (fixed seed). */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SIM_SECONDS 600
#define MAX_BATCH   200
#define MAX_SLOTS   8
#define WINDOW_MS   10000.0

static uint64_t rng_state;

static double rnd(void) /* uniform in [0, 1) */
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (double)(rng_state >> 11) / 9007199254740992.0;
}

static double call_ms(double lo, double hi)
{
    return lo + (hi - lo) * (double)(int)(rnd() * 5) / 4.0;
}

static double expo(double mean)
{
    double u = rnd();
    return -mean * log(1.0 - u);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

struct calls { /* HubSpot calls in the rolling window, a ring */
    double *t;
    size_t head, n, cap;
};

static double calls_fit_at(const struct calls *c, double at, int need, double limit)
{
    if (limit <= 0)
        return at;
    for (;;) {
        size_t inside = 0;
        double oldest_inside = 0;
        for (size_t i = 0; i < c->n; i++) {
            double t = c->t[(c->head + i) % c->cap];
            if (t > at - WINDOW_MS) {
                if (!inside)
                    oldest_inside = t;
                inside++;
            }
        }
        if (inside + (size_t)need <= (size_t)limit)
            return at;
        at = oldest_inside + WINDOW_MS + 0.001;
    }
}

static void calls_add(struct calls *c, double t)
{
    if (c->n == c->cap) {
        c->head = (c->head + 1) % c->cap;
        c->n--;
    }
    c->t[(c->head + c->n) % c->cap] = t;
    c->n++;
}

struct result {
    double p50, p99, hs_per_s;
};

static struct result run(double rate, double lo, double hi, double limit, double overhead,
                         int slots)
{
    rng_state = 0x9E3779B97F4A7C15ULL;
    size_t cap = (size_t)(rate * SIM_SECONDS * 2) + 16, n = 0;
    double *arr = malloc(cap * sizeof *arr), *lat = malloc(cap * sizeof *lat);
    if (!arr || !lat)
        exit(1);
    for (double t = expo(1000.0 / rate); t < SIM_SECONDS * 1000.0 && n < cap;
         t += expo(1000.0 / rate))
        arr[n++] = t;
    struct calls c = {.cap = (size_t)(limit > 0 ? limit : 1) + 4};
    c.t = calloc(c.cap, sizeof *c.t);
    double free_at[MAX_SLOTS] = {0};
    size_t i = 0, nlat = 0;
    long hs_calls = 0;
    while (i < n) {
        int s = 0;
        for (int k = 1; k < slots; k++)
            if (free_at[k] < free_at[s])
                s = k;
        double start = free_at[s] > arr[i] ? free_at[s] : arr[i];
        size_t j = i;
        while (j < n && arr[j] <= start && j - i < MAX_BATCH)
            j++;
        size_t from_sf = 0;
        for (size_t k = i; k < j; k++)
            from_sf += k % 2 == 0;
        int need = (int)((j - i + 99) / 100 + (from_sf + 99) / 100);
        double fit = calls_fit_at(&c, start + overhead, need, limit);
        if (fit > start + overhead) { /* waited for the budget: more changes may have come */
            start = fit - overhead;
            while (j < n && arr[j] <= start && j - i < MAX_BATCH)
                j++;
        }
        double r1 = call_ms(lo, hi), r2 = call_ms(lo, hi);
        double read_done = start + overhead + (r1 > r2 ? r1 : r2);
        double w_hs = call_ms(lo, hi), w_sf = call_ms(lo, hi);
        for (int k = 0; k < need; k++)
            calls_add(&c, start + overhead);
        hs_calls += need;
        for (size_t k = i; k < j; k++)
            lat[nlat++] = read_done + (k % 2 == 0 ? w_hs : w_sf) - arr[k];
        double done = read_done + (w_hs > w_sf ? w_hs : w_sf);
        free_at[s] = done;
        i = j;
    }
    qsort(lat, nlat, sizeof *lat, cmp_double);
    struct result r = {lat[nlat / 2], lat[nlat * 99 / 100], hs_calls / (double)SIM_SECONDS};
    free(arr), free(lat), free(c.t);
    return r;
}

static double floor_p50(double lo, double hi)
{
    double v[125];
    int k = 0;
    for (int a = 0; a < 5; a++)
        for (int b = 0; b < 5; b++)
            for (int w = 0; w < 5; w++) {
                double ra = lo + (hi - lo) * a / 4.0, rb = lo + (hi - lo) * b / 4.0;
                v[k++] = (ra > rb ? ra : rb) + lo + (hi - lo) * w / 4.0;
            }
    qsort(v, 125, sizeof *v, cmp_double);
    return v[62];
}

int main(int argc, char **argv)
{
    double rate = argc > 1 ? atof(argv[1]) : 100, lo = argc > 2 ? atof(argv[2]) : 50;
    double hi = argc > 3 ? atof(argv[3]) : 150, limit = argc > 4 ? atof(argv[4]) : 190;
    double overhead = argc > 5 ? atof(argv[5]) : 8;
    if (rate <= 0 || lo < 0 || hi < lo || limit < 1 || overhead < 0) {
        fprintf(stderr, "usage: latency_floor [rate] [lo_ms] [hi_ms] [limit_per_10s] "
                        "[overhead_ms]\n");
        return 2;
    }
    printf("steady %.0f changes/s, calls %.0f-%.0f ms, overhead %.0f ms, %d s simulated\n", rate,
           lo, hi, overhead, SIM_SECONDS);
    printf("floor (no waiting at all): p50 %.0f ms = median of max(read, read) + write + "
           "overhead\n",
           floor_p50(lo, hi) + overhead);
    printf("%-6s %28s %28s\n", "slots", "HubSpot limit", "no HubSpot limit");
    printf("%-6s %9s %9s %8s %9s %9s %8s\n", "", "p50_ms", "p99_ms", "hs/s", "p50_ms", "p99_ms",
           "hs/s");
    for (int s = 1; s <= MAX_SLOTS; s++) {
        struct result a = run(rate, lo, hi, limit, overhead, s);
        struct result b = run(rate, lo, hi, 0, overhead, s);
        printf("%-6d %9.0f %9.0f %8.1f %9.0f %9.0f %8.1f\n", s, a.p50, a.p99, a.hs_per_s, b.p50,
               b.p99, b.hs_per_s);
    }
    printf("limit: %.0f HubSpot calls per 10 s = %.1f/s\n", limit, limit / 10);
    return 0;
}
