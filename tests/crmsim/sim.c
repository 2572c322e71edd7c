/* sim.c: lifetime of the simulator state: creation, reset to defaults + startup fixtures, teardown,
 * the base URL, interruptible sleeps and the fault-rate random generator (see sim.h for the lock).
 */
#include "tests/crmsim/sim.h"

#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tests/crmsim/config.h"
#include "tests/crmsim/deliveries.h"
#include "tests/crmsim/faults.h"
#include "tests/crmsim/fixtures.h"
#include "tests/crmsim/hubspot.h"
#include "tests/crmsim/salesforce.h"
#include "tests/crmsim/stats.h"

struct sim *sim_new(const char *base_url, const char *fixtures_path)
{
    struct sim *sim = xcalloc(1, sizeof *sim);
    pthread_mutex_init(&sim->lock, NULL);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&sim->cond, &attr);
    pthread_condattr_destroy(&attr);
    atomic_init(&sim->stopping, false);
    snprintf(sim->base_url, sizeof sim->base_url, "%s", base_url ? base_url : "");
    sim->fixtures_path = xstrdup(fixtures_path);
    config_defaults(&sim->cfg);
    if (RAND_bytes((unsigned char *)&sim->rng, sizeof sim->rng) != 1 || sim->rng == 0)
        sim->rng = 0x9E3779B97F4A7C15ULL;
    sim->started_ms = util_now_ms();
    sim->hs.next_id = 1000;
    return sim;
}

static void clear_state(struct sim *sim)
{
    deliveries_clear(sim);
    for (size_t i = 0; i < sim->hs.n_schemas; i++)
        hs_schema_free(sim->hs.schemas[i]);
    free(sim->hs.schemas);
    sim->hs.schemas = NULL;
    sim->hs.n_schemas = sim->hs.cap_schemas = 0;
    hs_assoc_clear(sim);
    hs_tokens_clear(sim);
    hs_ratelimit_clear(sim);
    sim->hs.next_id = 1000;
    sim->hs.next_schema_id = 0;
    sim->hs.total_records = 0;
    for (size_t i = 0; i < sim->sf.n_objects; i++)
        sf_object_free(sim->sf.objects[i]);
    free(sim->sf.objects);
    sim->sf.objects = NULL;
    sim->sf.n_objects = sim->sf.cap_objects = 0;
    sf_tokens_clear(sim);
    sf_cursors_clear(sim);
    fixtures_rules_clear(sim);
    sim->sf.api_used = 0;
    stats_reset(sim);
    faults_remove(sim, 0);
    free(sim->faults.items);
    sim->faults.items = NULL;
    sim->faults.cap = 0;
    free(sim->dq.notifs);
    sim->dq.notifs = NULL;
    sim->dq.cap_notifs = 0;
}

int sim_reset(struct sim *sim, char *err, size_t errlen)
{
    clear_state(sim);
    config_free(&sim->cfg);
    config_defaults(&sim->cfg);
    if (sim->fixtures_path && fixtures_load_file(sim, sim->fixtures_path, err, errlen) < 0)
        return -1;
    return 0;
}

void sim_free(struct sim *sim)
{
    if (!sim)
        return;
    clear_state(sim);
    config_free(&sim->cfg);
    free(sim->fixtures_path);
    pthread_cond_destroy(&sim->cond);
    pthread_mutex_destroy(&sim->lock);
    free(sim);
}

const char *sim_base_url(const struct sim *sim)
{
    if (sim->cfg.public_base_url && sim->cfg.public_base_url[0])
        return sim->cfg.public_base_url;
    return sim->base_url;
}

bool sim_sleep_ms(struct sim *sim, int64_t ms)
{
    int64_t deadline = util_mono_ms() + ms;
    pthread_mutex_lock(&sim->lock);
    while (!atomic_load(&sim->stopping)) {
        int64_t left = deadline - util_mono_ms();
        if (left <= 0)
            break;
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_sec += left / 1000;
        ts.tv_nsec += (left % 1000) * 1000000;
        if (ts.tv_nsec >= 1000000000) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000;
        }
        pthread_cond_timedwait(&sim->cond, &sim->lock, &ts);
    }
    bool stopped = atomic_load(&sim->stopping);
    pthread_mutex_unlock(&sim->lock);
    return !stopped;
}

double sim_random(struct sim *sim)
{
    uint64_t x = sim->rng;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    sim->rng = x;
    return (double)(x >> 11) / 9007199254740992.0;
}
