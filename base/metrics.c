/* metrics.c: the metric registry and its Prometheus text renderer.
 *
 * Owns every family and series (freed by metrics_reset_all). Registration and
 * series creation lock; recording never does. The registry itself is a fixed
 * array of families appended under registry_lock at start-up. */
#include "base/metrics.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define METRICS_MAX_FAMILIES   64
#define METRICS_MAX_BUCKETS    24
#define METRICS_MAX_COLLECTORS 16

struct metric_series {
    uint64_t hash;
    char *labels[METRICS_MAX_LABELS];
    struct metric_family *fam;
    _Atomic uint64_t value_bits; /* counter/gauge value, or histogram sum */
    _Atomic uint64_t count;      /* histogram observations */
    _Atomic uint64_t buckets[METRICS_MAX_BUCKETS];
};

struct metric_family {
    enum metric_kind kind;
    char *name;
    char *help;
    char *label_names[METRICS_MAX_LABELS];
    size_t nlabels;
    double bucket_bounds[METRICS_MAX_BUCKETS];
    size_t nbuckets;
    pthread_mutex_t lock; /* serialises series creation only */
    struct metric_series *series[METRICS_MAX_SERIES];
    _Atomic size_t nseries; /* published with release, read with acquire */
};

static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
/* bumped by metrics_reset_all: modules register again (metrics_once_run) */
static _Atomic unsigned generation = 1;
static pthread_mutex_t once_lock = PTHREAD_MUTEX_INITIALIZER;
static struct metric_family *families[METRICS_MAX_FAMILIES];
static size_t nfamilies;
static struct {
    metrics_collect_fn fn;
    void *ud;
} collectors[METRICS_MAX_COLLECTORS];
static size_t ncollectors;

static uint64_t dbl_bits(double d)
{
    uint64_t u;
    memcpy(&u, &d, sizeof u);
    return u;
}

static double bits_dbl(uint64_t u)
{
    double d;
    memcpy(&d, &u, sizeof d);
    return d;
}

static uint64_t labels_hash(const char *const *labels, size_t n)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++) {
        for (const unsigned char *p = (const unsigned char *)labels[i]; *p; p++) {
            h ^= *p;
            h *= 1099511628211ULL;
        }
        h ^= 0xff;
        h *= 1099511628211ULL;
    }
    return h;
}

struct metric_family *metrics_register(enum metric_kind kind, const char *name, const char *help,
                                       const char *const *label_names, size_t nlabels,
                                       const double *buckets, size_t nbuckets)
{
    if (nlabels > METRICS_MAX_LABELS || nbuckets > METRICS_MAX_BUCKETS ||
        (kind == METRIC_HISTOGRAM && nbuckets == 0))
        return NULL;
    pthread_mutex_lock(&registry_lock);
    for (size_t i = 0; i < nfamilies; i++) {
        if (strcmp(families[i]->name, name) == 0) {
            struct metric_family *existing = families[i];
            pthread_mutex_unlock(&registry_lock);
            return existing->kind == kind && existing->nlabels == nlabels ? existing : NULL;
        }
    }
    struct metric_family *fam = NULL;
    if (nfamilies < METRICS_MAX_FAMILIES)
        fam = calloc(1, sizeof *fam);
    if (!fam) {
        pthread_mutex_unlock(&registry_lock);
        return NULL;
    }
    fam->kind = kind;
    fam->name = strdup(name);
    fam->help = strdup(help);
    fam->nlabels = nlabels;
    int ok = fam->name && fam->help;
    for (size_t i = 0; i < nlabels; i++) {
        fam->label_names[i] = strdup(label_names[i]);
        ok = ok && fam->label_names[i];
    }
    for (size_t i = 0; i < nbuckets; i++)
        fam->bucket_bounds[i] = buckets[i];
    fam->nbuckets = nbuckets;
    pthread_mutex_init(&fam->lock, NULL);
    if (!ok) {
        for (size_t i = 0; i < nlabels; i++)
            free(fam->label_names[i]);
        free(fam->name);
        free(fam->help);
        pthread_mutex_destroy(&fam->lock);
        free(fam);
        pthread_mutex_unlock(&registry_lock);
        return NULL;
    }
    families[nfamilies++] = fam;
    pthread_mutex_unlock(&registry_lock);
    return fam;
}

static struct metric_series *series_find(struct metric_family *fam, const char *const *labels,
                                         uint64_t h, size_t from, size_t to)
{
    for (size_t i = from; i < to; i++) {
        struct metric_series *s = fam->series[i];
        if (s->hash != h)
            continue;
        size_t j = 0;
        while (j < fam->nlabels && strcmp(s->labels[j], labels[j]) == 0)
            j++;
        if (j == fam->nlabels)
            return s;
    }
    return NULL;
}

static void series_free(struct metric_series *s, size_t nlabels)
{
    if (!s)
        return;
    for (size_t i = 0; i < nlabels; i++)
        free(s->labels[i]);
    free(s);
}

struct metric_series *metrics_series(struct metric_family *fam, const char *const *label_values)
{
    if (!fam)
        return NULL;
    uint64_t h = labels_hash(label_values, fam->nlabels);
    size_t n = atomic_load_explicit(&fam->nseries, memory_order_acquire);
    struct metric_series *s = series_find(fam, label_values, h, 0, n);
    if (s)
        return s;
    pthread_mutex_lock(&fam->lock);
    size_t n2 = atomic_load_explicit(&fam->nseries, memory_order_acquire);
    s = series_find(fam, label_values, h, n, n2);
    if (!s && n2 < METRICS_MAX_SERIES) {
        s = calloc(1, sizeof *s);
        int ok = s != NULL;
        for (size_t i = 0; ok && i < fam->nlabels; i++) {
            s->labels[i] = strdup(label_values[i]);
            ok = s->labels[i] != NULL;
        }
        if (ok) {
            s->hash = h;
            s->fam = fam;
            fam->series[n2] = s;
            atomic_store_explicit(&fam->nseries, n2 + 1, memory_order_release);
        } else {
            series_free(s, fam->nlabels);
            s = NULL;
        }
    }
    pthread_mutex_unlock(&fam->lock);
    return s;
}

void metrics_series_add(struct metric_series *s, double v)
{
    if (!s)
        return;
    uint64_t old = atomic_load_explicit(&s->value_bits, memory_order_relaxed);
    while (!atomic_compare_exchange_weak_explicit(&s->value_bits, &old, dbl_bits(bits_dbl(old) + v),
                                                  memory_order_relaxed, memory_order_relaxed))
        ;
}

void metrics_series_set(struct metric_series *s, double v)
{
    if (s)
        atomic_store_explicit(&s->value_bits, dbl_bits(v), memory_order_relaxed);
}

void metrics_series_observe(struct metric_series *s, double v)
{
    if (!s)
        return;
    const struct metric_family *fam = s->fam;
    size_t i = 0;
    while (i < fam->nbuckets && v > fam->bucket_bounds[i])
        i++;
    if (i < fam->nbuckets)
        atomic_fetch_add_explicit(&s->buckets[i], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&s->count, 1, memory_order_relaxed);
    metrics_series_add(s, v);
}

void metrics_add(struct metric_family *fam, const char *const *labels, double v)
{
    metrics_series_add(metrics_series(fam, labels), v);
}

void metrics_set(struct metric_family *fam, const char *const *labels, double v)
{
    metrics_series_set(metrics_series(fam, labels), v);
}

void metrics_observe(struct metric_family *fam, const char *const *labels, double v)
{
    metrics_series_observe(metrics_series(fam, labels), v);
}

static struct metric_series *series_lookup(struct metric_family *fam, const char *const *labels)
{
    if (!fam)
        return NULL;
    size_t n = atomic_load_explicit(&fam->nseries, memory_order_acquire);
    return series_find(fam, labels, labels_hash(labels, fam->nlabels), 0, n);
}

double metrics_value(struct metric_family *fam, const char *const *labels)
{
    struct metric_series *s = series_lookup(fam, labels);
    return s ? bits_dbl(atomic_load(&s->value_bits)) : 0.0;
}

uint64_t metrics_histogram_count(struct metric_family *fam, const char *const *labels)
{
    struct metric_series *s = series_lookup(fam, labels);
    return s ? atomic_load(&s->count) : 0;
}

int metrics_on_collect(metrics_collect_fn fn, void *ud)
{
    pthread_mutex_lock(&registry_lock);
    int rc = -1;
    if (ncollectors < METRICS_MAX_COLLECTORS) {
        collectors[ncollectors].fn = fn;
        collectors[ncollectors].ud = ud;
        ncollectors++;
        rc = 0;
    }
    pthread_mutex_unlock(&registry_lock);
    return rc;
}

static void render_label_value(struct strbuf *out, const char *v)
{
    for (; *v; v++) {
        if (*v == '\\')
            strbuf_puts(out, "\\\\");
        else if (*v == '"')
            strbuf_puts(out, "\\\"");
        else if (*v == '\n')
            strbuf_puts(out, "\\n");
        else
            strbuf_putc(out, *v);
    }
}

static void render_number(struct strbuf *out, double v)
{
    if (isinf(v))
        strbuf_puts(out, v > 0 ? "+Inf" : "-Inf");
    else if (isnan(v))
        strbuf_puts(out, "NaN");
    else if (v == floor(v) && fabs(v) < 1e15)
        strbuf_printf(out, "%.0f", v);
    else
        strbuf_printf(out, "%.9g", v);
}

/* Writes {a="x",b="y"[,le="..."]} (or nothing when there are no labels). */
static void render_labels(struct strbuf *out, const struct metric_family *fam,
                          const struct metric_series *s, const char *le)
{
    if (fam->nlabels == 0 && !le)
        return;
    strbuf_putc(out, '{');
    for (size_t i = 0; i < fam->nlabels; i++) {
        strbuf_printf(out, "%s%s=\"", i ? "," : "", fam->label_names[i]);
        render_label_value(out, s->labels[i]);
        strbuf_putc(out, '"');
    }
    if (le)
        strbuf_printf(out, "%sle=\"%s\"", fam->nlabels ? "," : "", le);
    strbuf_putc(out, '}');
}

static void render_histogram_series(struct strbuf *out, const struct metric_family *fam,
                                    const struct metric_series *s)
{
    uint64_t cumulative = 0;
    for (size_t b = 0; b < fam->nbuckets; b++) {
        cumulative += atomic_load_explicit(&s->buckets[b], memory_order_relaxed);
        char le[32];
        snprintf(le, sizeof le, "%g", fam->bucket_bounds[b]);
        strbuf_printf(out, "%s_bucket", fam->name);
        render_labels(out, fam, s, le);
        strbuf_printf(out, " %llu\n", (unsigned long long)cumulative);
    }
    uint64_t count = atomic_load_explicit(&s->count, memory_order_relaxed);
    /* +Inf must be >= every finite bucket even if observations race us */
    if (count < cumulative)
        count = cumulative;
    strbuf_printf(out, "%s_bucket", fam->name);
    render_labels(out, fam, s, "+Inf");
    strbuf_printf(out, " %llu\n%s_sum", (unsigned long long)count, fam->name);
    render_labels(out, fam, s, NULL);
    strbuf_putc(out, ' ');
    render_number(out, bits_dbl(atomic_load(&s->value_bits)));
    strbuf_printf(out, "\n%s_count", fam->name);
    render_labels(out, fam, s, NULL);
    strbuf_printf(out, " %llu\n", (unsigned long long)count);
}

int metrics_render(struct strbuf *out)
{
    static const char *const kind_names[] = {"counter", "gauge", "histogram"};
    pthread_mutex_lock(&registry_lock);
    size_t nc = ncollectors;
    size_t nf = nfamilies;
    pthread_mutex_unlock(&registry_lock);
    for (size_t i = 0; i < nc; i++)
        collectors[i].fn(collectors[i].ud);
    for (size_t f = 0; f < nf; f++) {
        struct metric_family *fam = families[f];
        strbuf_printf(out, "# HELP %s ", fam->name);
        for (const char *h = fam->help; *h; h++) {
            if (*h == '\\')
                strbuf_puts(out, "\\\\");
            else if (*h == '\n')
                strbuf_puts(out, "\\n");
            else
                strbuf_putc(out, *h);
        }
        strbuf_printf(out, "\n# TYPE %s %s\n", fam->name, kind_names[fam->kind]);
        size_t n = atomic_load_explicit(&fam->nseries, memory_order_acquire);
        for (size_t i = 0; i < n; i++) {
            const struct metric_series *s = fam->series[i];
            if (fam->kind == METRIC_HISTOGRAM) {
                render_histogram_series(out, fam, s);
                continue;
            }
            strbuf_puts(out, fam->name);
            render_labels(out, fam, s, NULL);
            strbuf_putc(out, ' ');
            render_number(out, bits_dbl(atomic_load(&s->value_bits)));
            strbuf_putc(out, '\n');
        }
    }
    return out->failed ? -1 : 0;
}

void metrics_once_run(struct metrics_once *once, void (*init)(void))
{
    unsigned g = atomic_load(&generation);
    if (atomic_load(&once->gen) == g)
        return;
    pthread_mutex_lock(&once_lock);
    if (atomic_load(&once->gen) != g) {
        init();
        atomic_store(&once->gen, g);
    }
    pthread_mutex_unlock(&once_lock);
}

void metrics_reset_all(void)
{
    atomic_fetch_add(&generation, 1);
    pthread_mutex_lock(&registry_lock);
    for (size_t f = 0; f < nfamilies; f++) {
        struct metric_family *fam = families[f];
        size_t n = atomic_load(&fam->nseries);
        for (size_t i = 0; i < n; i++)
            series_free(fam->series[i], fam->nlabels);
        for (size_t i = 0; i < fam->nlabels; i++)
            free(fam->label_names[i]);
        free(fam->name);
        free(fam->help);
        pthread_mutex_destroy(&fam->lock);
        free(fam);
        families[f] = NULL;
    }
    nfamilies = 0;
    ncollectors = 0;
    pthread_mutex_unlock(&registry_lock);
}
