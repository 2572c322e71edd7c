/* sync_engine.c: worker threads, their rounds over the enabled mappings, the per-mapping advisory
 * lock, the mapping cache, wake-up and shutdown (design in sync_engine.h).
 *
 * Owns every worker's connection, HTTP handles and mapping cache (one worker, one thread: nothing
 * of a worker is shared; the second handle is lent to the batch's short-lived read thread, which
 * ends before the batch does), the engine's mutex + condition (guarding `stopping` and `wakeups`)
 * and the queue-lag gauge's last measurement time (an atomic).
 *
 * Must not: sync records itself (sync_batch.c does), hold a mapping lock across rounds, or log the
 * conninfo or tokens. */
#include "sync/sync_engine.h"
#include "base/clock.h"

#include "db/locks.h"
#include "db/mapping_store.h"
#include "db/pool.h"
#include "db/queue.h"
#include "db/queue_claim.h"
#include "base/config.h"
#include "crm/crm_clients.h"
#include "base/log.h"
#include "base/metrics.h"
#include "crm/hubspot_client.h"
#include "crm/salesforce_client.h"
#include "sync/live_schemas.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct sync_worker {
    struct sync_engine *eng;
    pthread_t thread;
    bool started;
    char id[128];
    PGconn *conn;
    struct crm_http *http;
    struct crm_http *http_aux; /* the batch's HubSpot read, beside the Salesforce read */
    struct sync_mapping *maps;
    size_t nmaps;
    int64_t maps_loaded_ms; /* 0: never */
    char *maps_sig;         /* "id:version,..." of the enabled mappings loaded */
    size_t next;            /* round-robin position */
};

struct sync_engine {
    struct sync_engine_options o;
    char *conninfo;
    char prefix[96];
    struct sync_worker *workers;
    size_t nworkers;
    struct sync_worker once; /* sync_engine_run_once's worker */
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool stopping;         /* guarded by lock */
    unsigned long wakeups; /* guarded by lock */
    atomic_llong lag_measured_ms;
    atomic_llong last_claim_ms;   /* when any worker last claimed or finished a batch */
    struct live_schemas *schemas; /* the pairs' schemas, read once for all workers (own lock) */
    /* This process's pairs slots (guarded by lock): per mapping in flight, how many of its
     * workers sync that mapping's pairs now; at most one entry per worker (each holds one slot at
     * a time), so nworkers + 1 (the once worker) entries never run out. */
    struct pairs_slot {
        int64_t mapping_id; /* 0: free entry */
        int busy;
    } * slots;
    size_t nslots;
};

/* How long a worker waits for the mapping alone when unlinked records or merges are due: about
 * one pairs batch in flight; if it runs out, the next round tries again. */
#define EXCLUSIVE_WAIT_MS 2000

/* A wake-up lingers (SYNKRO_WORKER_LINGER_MS) only when no batch was claimed for this long:
 * the start of a burst, not a steady stream, whose events should go at once. */
#define LINGER_AFTER_IDLE_MS 1000

/* A pairs claim that would take a partial batch (a quarter or more of `batch`) of events younger
 * than this waits for the rest of the burst, looking again every BURST_POLL_MS: full batches keep
 * bursts at one read and one write call per batch. A steady stream (fewer due) and a lone edit
 * claim at once. Off when the linger is 0. */
#define BURST_WAIT_MS 250
#define BURST_POLL_MS 20

static struct metric_family *m_lag;

/* ---- options ---- */

void sync_engine_options_from_config(struct sync_engine_options *o, const struct config *cfg,
                                     const struct crm_clients *crm)
{
    memset(o, 0, sizeof *o);
    o->conninfo = cfg->database_url;
    o->statement_timeout_ms = cfg->db_statement_timeout_ms;
    o->hc = crm->hubspot;
    o->sc = crm->salesforce;
    crm_http_options_from_config(&o->http, cfg);
    o->workers = cfg->workers;
    o->batch = cfg->worker_batch;
    o->poll_ms = cfg->worker_poll_ms;
    o->linger_ms = cfg->worker_linger_ms;
    o->mapping_workers = cfg->mapping_workers;
    o->lease_ms = cfg->lease_ms;
    o->backoff = (struct queue_backoff_policy){.base_ms = cfg->retry_base_ms,
                                               .cap_ms = cfg->retry_cap_ms,
                                               .max_attempts = cfg->retry_max_attempts};
    /* Schemas rarely change; a batch whose records failed conversion or validation (a new option
     * or property, say) forces a re-read before the next round. */
    o->mapping_ttl_ms = 600000;
    o->history = cfg->history_retention_days > 0;
}

/* ---- mapping cache ---- */

static void maps_free(struct sync_worker *w)
{
    for (size_t i = 0; i < w->nmaps; i++) {
        mapping_free(w->maps[i].m);
        sf_object_free(w->maps[i].sf);
        hs_object_free(w->maps[i].hs);
    }
    free(w->maps);
    w->maps = NULL;
    w->nmaps = 0;
}

/* The live schemas of m, for a worker loading the enabled mappings of signature sig: read once
 * for all the process's workers (sync/live_schemas.h). 0, or -1 with err. */
static int load_schemas(struct sync_worker *w, struct sync_mapping *sm, const char *sig, char *err,
                        size_t errlen)
{
    struct sync_engine *e = w->eng;
    if (live_schemas_get(e->schemas, e->o.sc, e->o.hc, w->http, sig, sm->m->salesforce_object,
                         sm->m->hubspot_object, &sm->sf, &sm->hs, err, errlen) != 0)
        return -1;
    sm->hs_type = sm->hs->object_type_id;
    return 0;
}

static void load_one(struct sync_worker *w, const struct mapping_doc *d, const char *sig)
{
    struct sync_mapping *sm = &w->maps[w->nmaps];
    memset(sm, 0, sizeof *sm);
    sm->id = d->id;
    const char *doc = d->document;
    struct problem_list problems = PROBLEM_LIST_INIT;
    char err[512] = "";
    if (mapping_parse_text(doc, strlen(doc), &sm->m, &problems) != MAPPING_PARSE_OK) {
        snprintf(err, sizeof err, "the stored document does not parse");
    } else {
        sm->m->has_id = true;
        sm->m->id = sm->id;
        if (load_schemas(w, sm, sig, err, sizeof err) == 0) {
            w->nmaps++;
            problem_list_free(&problems);
            return;
        }
    }
    problem_list_free(&problems);
    log_with(LOG_LEVEL_WARN, "mapping skipped by the sync worker", LF_I("mapping", sm->id),
             LF_S("worker", w->id), LF_S("error", err));
    mapping_free(sm->m);
    sf_object_free(sm->sf);
    hs_object_free(sm->hs);
    memset(sm, 0, sizeof *sm);
}

/* Re-reads the enabled mappings when their signature ("id:version,...", one cheap query per
 * round, so a mapping enabled, changed or paused is seen at once) changed, or after
 * mapping_ttl_ms (for schema changes); documents and schemas are re-read only then. */
static int maps_reload(struct sync_worker *w, char *err, size_t errlen)
{
    int64_t now = clock_mono_ms();
    int64_t ttl = w->eng->o.mapping_ttl_ms;
    char *sig = mapping_store_enabled_signature(w->conn, err, errlen);
    if (!sig)
        return -1;
    bool same = w->maps_sig && strcmp(sig, w->maps_sig) == 0;
    if (same && w->maps_loaded_ms && ttl > 0 && now - w->maps_loaded_ms < ttl) {
        free(sig);
        return 0;
    }
    struct mapping_doc *docs = NULL;
    size_t ndocs = 0;
    if (mapping_store_enabled_documents(w->conn, &docs, &ndocs, err, errlen) < 0) {
        free(sig);
        return -1;
    }
    maps_free(w);
    w->maps = calloc(ndocs + 1, sizeof *w->maps);
    if (!w->maps) {
        mapping_docs_free(docs, ndocs);
        free(sig);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < ndocs; i++)
        load_one(w, &docs[i], sig);
    mapping_docs_free(docs, ndocs);
    w->maps_loaded_ms = now;
    free(w->maps_sig);
    w->maps_sig = sig;
    return 0;
}

/* ---- connection, lock, lag ---- */

static int worker_connect(struct sync_worker *w, char *err, size_t errlen)
{
    if (w->conn && PQstatus(w->conn) == CONNECTION_OK)
        return 0;
    if (w->conn)
        PQfinish(w->conn);
    w->conn = PQconnectdb(w->eng->conninfo);
    db_log_notices(w->conn);
    if (!w->conn || PQstatus(w->conn) != CONNECTION_OK) {
        snprintf(err, errlen, "cannot connect to the database");
        PQfinish(w->conn);
        w->conn = NULL;
        return -1;
    }
    if (w->eng->o.statement_timeout_ms > 0) /* a failure leaves the server's default */
        db_set_statement_timeout(w->conn, w->eng->o.statement_timeout_ms, err, errlen);
    db_disable_jit(w->conn, err, errlen); /* likewise: JIT only costs time, never correctness */
    /* The session's liveness key, stamped on every lease it takes: when the session ends (the
     * process killed), other processes release its leases at once (db/queue_claim.h). */
    int32_t key = 0;
    long released = 0;
    if (queue_holder_take(w->conn, &key, &released, err, errlen) < 0) {
        PQfinish(w->conn);
        w->conn = NULL;
        return -1;
    }
    if (released > 0)
        log_with(LOG_LEVEL_WARN, "leases of ended workers released", LF_S("worker", w->id),
                 LF_I("events", released));
    return 0;
}

/* The advisory lock of one mapping (db/locks.h; session-level, on the worker's own connection):
 * shared while syncing pairs side by side, exclusive while syncing everything else (unlinked
 * records, merges). */
enum lock_kind { LOCK_SHARED, LOCK_EXCLUSIVE };

/* 1 when this worker now holds (take) or has let go of (!take) the lock, 0 when another holds
 * it (take) or it was not held (!take), -1 on error. */
static int mapping_lock(struct sync_worker *w, enum lock_kind kind, int64_t mapping_id, bool take,
                        char *err, size_t errlen)
{
    bool shared = kind == LOCK_SHARED;
    return take ? lock_mapping_try(w->conn, mapping_id, shared, err, errlen)
                : lock_mapping_release(w->conn, mapping_id, shared, err, errlen);
}

/* Measures synkro_queue_lag_seconds (age of the oldest due pending event) at most once a second
 * across the engine's workers. */
static void measure_lag(struct sync_worker *w)
{
    struct sync_engine *e = w->eng;
    long long now = clock_mono_ms(), last = atomic_load(&e->lag_measured_ms);
    if (now - last < 1000 || !atomic_compare_exchange_strong(&e->lag_measured_ms, &last, now))
        return;
    char err[256];
    double lag;
    if (queue_lag_seconds(w->conn, &lag, err, sizeof err) == 0)
        metrics_set(m_lag, NULL, lag);
}

/* ---- one round ---- */

static bool engine_stopping(struct sync_engine *e)
{
    pthread_mutex_lock(&e->lock);
    bool s = e->stopping;
    pthread_mutex_unlock(&e->lock);
    return s;
}

/* One line per batch: what it did, how long its claim took (claim_ms: the pick and take, and any
 * wait for the rest of a burst) and how long the batch then took (ms: reads, writes, settling). */
static void log_batch(const struct sync_worker *w, const struct sync_mapping *sm,
                      const struct sync_batch_report *rep, int64_t claim_ms, int64_t ms)
{
    log_with(LOG_LEVEL_INFO, "sync batch", LF_I("mapping", sm->id), LF_S("worker", w->id),
             LF_I("records", rep->records), LF_I("hubspot_writes", rep->hs_writes),
             LF_I("salesforce_writes", rep->sf_writes), LF_I("hubspot_calls", rep->hs_calls),
             LF_I("salesforce_calls", rep->sf_calls), LF_I("conflicts", rep->conflicts),
             LF_I("failed", rep->failed), LF_I("retried", rep->retried), LF_I("claim_ms", claim_ms),
             LF_I("ms", ms));
}

/* Sleeps ms milliseconds (the linger after a wake-up, a burst's wait; short, so not
 * interruptible). */
static void linger(long ms)
{
    if (ms <= 0)
        return;
    struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&t, &t) != 0 && errno == EINTR)
        ;
}

/* Claims and syncs one batch of sm while holding its lock: its pairs (shared lock and a slot;
 * *others_due reports what was left for the exclusive lock) or anything (exclusive lock,
 * others_due NULL). Records synced, or -1. */
static int sync_mapping_batch(struct sync_worker *w, const struct sync_mapping *sm,
                              bool *others_due, struct sync_batch_report *rep, char *err,
                              size_t errlen)
{
    struct sync_engine *e = w->eng;
    struct queue_claim_filter f = {.salesforce_object = sm->m->salesforce_object,
                                   .hubspot_object_type_id = sm->hs->object_type_id,
                                   .hubspot_object_name = sm->hs->fully_qualified_name,
                                   .young_ms = e->o.linger_ms > 0 ? BURST_WAIT_MS : 0,
                                   .gather_ms = e->o.linger_ms};
    struct claimed_record *recs = NULL;
    size_t n = 0;
    struct queue_pair_locks held = {0};
    char rerr[256];
    bool lost = false; /* a release failed: the connection must go */
    int rc;
    int64_t claim_t0 = clock_mono_ms();
    for (;;) { /* a partial batch of a burst still arriving waits for the rest (bounded: the
                  oldest event ages past BURST_WAIT_MS) */
        enum queue_pick outcome = QUEUE_PICK_EMPTY;
        rc = others_due ? queue_claim_pairs(w->conn, w->id, &f, sm->id, e->o.batch, e->o.lease_ms,
                                            &recs, &n, others_due, &held, &outcome, err, errlen)
                        : queue_claim_records_for(w->conn, w->id, &f, e->o.batch, e->o.lease_ms,
                                                  &recs, &n, err, errlen);
        if (rc < 0 || outcome != QUEUE_PICK_DEFERRED || engine_stopping(e))
            break;
        if (queue_pairs_release(w->conn, &held, rerr, sizeof rerr) < 0) {
            lost = true;
            break;
        }
        linger(BURST_POLL_MS);
    }
    if (rc == 0 && n > 0) {
        atomic_store(&e->last_claim_ms, clock_mono_ms());
        struct sync_env env = {.conn = w->conn,
                               .worker_id = w->id,
                               .hc = e->o.hc,
                               .sc = e->o.sc,
                               .http = w->http,
                               .http_aux = w->http_aux,
                               .backoff = e->o.backoff,
                               .history = e->o.history};
        int64_t t0 = clock_mono_ms();
        rc = sync_batch_run(&env, sm, recs, n, rep, err, errlen);
        log_batch(w, sm, rep, t0 - claim_t0, clock_mono_ms() - t0);
        if (rep->failed > 0) { /* maybe a schema change: re-read both schemas next round */
            w->maps_loaded_ms = 0;
            salesforce_describe_invalidate(e->o.sc, sm->m->salesforce_object);
            live_schemas_invalidate(e->schemas, sm->m->salesforce_object, sm->m->hubspot_object);
        }
        atomic_store(&e->last_claim_ms, clock_mono_ms());
    }
    queue_claimed_free(recs, n);
    if (others_due && (lost || queue_pairs_release(w->conn, &held, rerr, sizeof rerr) < 0)) {
        log_with(LOG_LEVEL_WARN, "releasing link locks failed; reconnecting", LF_S("worker", w->id),
                 LF_S("error", rerr));
        PQfinish(w->conn); /* the session ends, and every lock it held with it */
        w->conn = NULL;
    }
    return rc < 0 ? -1 : (int)n;
}

/* Lets go of a lock; when that fails the connection is closed, which ends the session and every
 * lock it held. */
static void mapping_unlock(struct sync_worker *w, enum lock_kind kind, int64_t mapping_id)
{
    char err[256];
    if (w->conn && mapping_lock(w, kind, mapping_id, false, err, sizeof err) < 0) {
        PQfinish(w->conn);
        w->conn = NULL;
    }
}

/* Takes (take) or gives back one of this process's mapping_workers pairs slots of mapping_id.
 * True when taken (take). Slots only bound this process's batches of one mapping in flight:
 * every process has its own, so an idle process syncs a mapping while another's workers are
 * busy with it (two claims never hold one pair: the link keys of queue_claim_pairs see to that,
 * across processes). */
static bool pairs_slot(struct sync_engine *e, int64_t mapping_id, bool take)
{
    pthread_mutex_lock(&e->lock);
    struct pairs_slot *mine = NULL, *free_entry = NULL;
    for (size_t i = 0; i < e->nslots && !mine; i++) {
        if (e->slots[i].mapping_id == mapping_id)
            mine = &e->slots[i];
        else if (!free_entry && e->slots[i].mapping_id == 0)
            free_entry = &e->slots[i];
    }
    bool ok = false;
    if (!take) {
        if (mine && --mine->busy <= 0)
            *mine = (struct pairs_slot){0};
        ok = mine != NULL;
    } else if (mine ? mine->busy < e->o.mapping_workers : free_entry != NULL) {
        if (!mine) {
            mine = free_entry;
            mine->mapping_id = mapping_id;
        }
        mine->busy++;
        ok = true;
    }
    pthread_mutex_unlock(&e->lock);
    return ok;
}

/* One batch of sm's pairs, if the mapping is not held exclusively and one of this process's
 * slots is free. Records synced, or -1. */
static int sync_pairs(struct sync_worker *w, const struct sync_mapping *sm, bool *others_due,
                      struct sync_batch_report *rep, char *err, size_t errlen)
{
    if (!pairs_slot(w->eng, sm->id, true))
        return 0;
    int n = mapping_lock(w, LOCK_SHARED, sm->id, true, err, errlen);
    if (n > 0) {
        n = sync_mapping_batch(w, sm, others_due, rep, err, errlen);
        mapping_unlock(w, LOCK_SHARED, sm->id);
    }
    pairs_slot(w->eng, sm->id, false);
    return n;
}

/* One batch of whatever sm has due, holding the mapping alone; waits up to wait_ms for pairs
 * batches in flight. Records synced, or -1. */
static int sync_exclusive(struct sync_worker *w, const struct sync_mapping *sm, int wait_ms,
                          struct sync_batch_report *rep, char *err, size_t errlen)
{
    int got = wait_ms > 0 ? lock_mapping_wait(w->conn, sm->id, wait_ms, err, errlen)
                          : mapping_lock(w, LOCK_EXCLUSIVE, sm->id, true, err, errlen);
    if (got <= 0)
        return got;
    int n = sync_mapping_batch(w, sm, NULL, rep, err, errlen);
    mapping_unlock(w, LOCK_EXCLUSIVE, sm->id);
    return n;
}

/* One round: the first mapping (round-robin) that has work this worker may take. Pairs first
 * (side by side with other workers); then, when the claim saw records that need the mapping
 * alone, those. Records synced or -1. */
static int worker_round(struct sync_worker *w, struct sync_batch_report *rep, char *err,
                        size_t errlen)
{
    struct sync_batch_report local;
    if (!rep)
        rep = &local;
    memset(rep, 0, sizeof *rep);
    if (worker_connect(w, err, errlen) < 0 || maps_reload(w, err, errlen) < 0)
        return -1;
    measure_lag(w);
    for (size_t k = 0; k < w->nmaps && !engine_stopping(w->eng); k++) {
        size_t idx = (w->next + k) % w->nmaps;
        const struct sync_mapping *sm = &w->maps[idx];
        bool others_due = false;
        int n = sync_pairs(w, sm, &others_due, rep, err, errlen);
        if (n >= 0 && others_due && w->conn && !engine_stopping(w->eng)) {
            int x = sync_exclusive(w, sm, EXCLUSIVE_WAIT_MS, rep, err, errlen);
            n = x < 0 ? -1 : n + x;
        }
        if (n < 0)
            return -1;
        if (n != 0) {
            w->next = idx + 1;
            return n;
        }
    }
    return 0;
}

static int worker_init(struct sync_engine *e, struct sync_worker *w, const char *suffix, char *err,
                       size_t errlen)
{
    memset(w, 0, sizeof *w);
    w->eng = e;
    snprintf(w->id, sizeof w->id, "%s:%s", e->prefix, suffix);
    w->http = crm_http_create(&e->o.http, err, errlen);
    w->http_aux = w->http ? crm_http_create(&e->o.http, err, errlen) : NULL;
    return w->http && w->http_aux ? 0 : -1;
}

static void worker_free(struct sync_worker *w)
{
    maps_free(w);
    free(w->maps_sig);
    w->maps_sig = NULL;
    crm_http_destroy(w->http);
    crm_http_destroy(w->http_aux);
    w->http = w->http_aux = NULL;
    if (w->conn)
        PQfinish(w->conn);
    w->conn = NULL;
}

/* Sleeps poll_ms, or less when woken or stopping. True when woken by sync_engine_wake. */
static bool worker_idle(struct sync_engine *e, long ms)
{
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += ms / 1000;
    until.tv_nsec += (ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&e->lock);
    unsigned long seen = e->wakeups;
    while (!e->stopping && e->wakeups == seen) {
        if (pthread_cond_timedwait(&e->cond, &e->lock, &until) == ETIMEDOUT)
            break;
    }
    bool woken = !e->stopping && e->wakeups != seen;
    pthread_mutex_unlock(&e->lock);
    return woken;
}

static void *worker_main(void *arg)
{
    struct sync_worker *w = arg;
    struct sync_engine *e = w->eng;
    int64_t last_error_log = 0;
    while (!engine_stopping(e)) {
        char err[512] = "";
        int n = worker_round(w, NULL, err, sizeof err);
        if (n < 0 && clock_mono_ms() - last_error_log > 10000) {
            log_with(LOG_LEVEL_WARN, "sync round failed", LF_S("worker", w->id),
                     LF_S("error", err));
            last_error_log = clock_mono_ms();
        }
        /* A wake-up after a quiet spell is usually the first webhook of a burst: wait a moment
         * so the first claim takes a full batch instead of a few records (calls per record). */
        if (n <= 0 && worker_idle(e, e->o.poll_ms) &&
            clock_mono_ms() - atomic_load(&e->last_claim_ms) >= LINGER_AFTER_IDLE_MS)
            linger(e->o.linger_ms);
    }
    return NULL;
}

/* ---- lifecycle ---- */

/* Room for at least n pairs slot entries (sync_engine_start's workers and the once worker). Only
 * grows before any worker thread runs, or on the thread of sync_engine_run_once when none
 * does. 0, or -1 when out of memory. */
static int pairs_slots_alloc(struct sync_engine *e, size_t n)
{
    if (e->nslots >= n)
        return 0;
    struct pairs_slot *s = realloc(e->slots, n * sizeof *s);
    if (!s)
        return -1;
    memset(s + e->nslots, 0, (n - e->nslots) * sizeof *s);
    e->slots = s;
    e->nslots = n;
    return 0;
}

static struct metrics_once metrics_once;

static void metrics_register_all(void)
{
    m_lag = metrics_register(METRIC_GAUGE, "synkro_queue_lag_seconds",
                             "Age of the oldest due pending change event.", NULL, 0, NULL, 0);
}

struct sync_engine *sync_engine_create(const struct sync_engine_options *o, char *err,
                                       size_t errlen)
{
    if (!o->conninfo || !o->hc || !o->sc) {
        snprintf(err, errlen, "the sync engine needs the database and both CRM clients");
        return NULL;
    }
    struct sync_engine *e = calloc(1, sizeof *e);
    if (!e || !(e->conninfo = strdup(o->conninfo)) ||
        !(e->schemas = live_schemas_create(o->mapping_ttl_ms))) {
        if (e)
            free(e->conninfo);
        free(e);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    e->o = *o;
    e->o.conninfo = NULL;
    e->o.batch = o->batch > 0 ? o->batch : 200;
    e->o.poll_ms = o->poll_ms > 0 ? o->poll_ms : 200;
    e->o.lease_ms = o->lease_ms > 0 ? o->lease_ms : 300000;
    e->o.mapping_workers = o->mapping_workers < 1 ? 2
                           : o->mapping_workers > SYNC_MAX_MAPPING_WORKERS
                               ? SYNC_MAX_MAPPING_WORKERS
                               : o->mapping_workers;
    if (o->worker_prefix) {
        snprintf(e->prefix, sizeof e->prefix, "%s", o->worker_prefix);
    } else {
        char host[64] = "host";
        gethostname(host, sizeof host - 1);
        snprintf(e->prefix, sizeof e->prefix, "%s:%ld", host, (long)getpid());
    }
    pthread_mutex_init(&e->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&e->cond, &ca);
    pthread_condattr_destroy(&ca);
    metrics_once_run(&metrics_once, metrics_register_all);
    sync_batch_metrics_init();
    return e;
}

int sync_engine_start(struct sync_engine *e, char *err, size_t errlen)
{
    if (e->o.workers <= 0)
        return 0;
    e->workers = calloc((size_t)e->o.workers, sizeof *e->workers);
    if (!e->workers || pairs_slots_alloc(e, (size_t)e->o.workers + 1) < 0) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (int i = 0; i < e->o.workers; i++) {
        struct sync_worker *w = &e->workers[i];
        char suffix[16];
        snprintf(suffix, sizeof suffix, "w%d", i);
        if (worker_init(e, w, suffix, err, errlen) < 0)
            return -1;
        e->nworkers++;
        if (pthread_create(&w->thread, NULL, worker_main, w) != 0) {
            snprintf(err, errlen, "cannot start sync worker %d", i);
            return -1;
        }
        w->started = true;
    }
    log_with(LOG_LEVEL_INFO, "sync workers started", LF_I("workers", e->o.workers),
             LF_I("batch", e->o.batch), LF_I("lease_ms", e->o.lease_ms));
    return 0;
}

int sync_engine_run_once(struct sync_engine *e, struct sync_batch_report *rep, char *err,
                         size_t errlen)
{
    if (pairs_slots_alloc(e, 1) < 0) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (!e->once.http && worker_init(e, &e->once, "once", err, errlen) < 0)
        return -1;
    return worker_round(&e->once, rep, err, errlen);
}

void sync_engine_wake(struct sync_engine *e)
{
    if (!e)
        return;
    pthread_mutex_lock(&e->lock);
    e->wakeups++;
    pthread_cond_broadcast(&e->cond);
    pthread_mutex_unlock(&e->lock);
}

void sync_engine_stop(struct sync_engine *e)
{
    if (!e)
        return;
    pthread_mutex_lock(&e->lock);
    e->stopping = true;
    pthread_cond_broadcast(&e->cond);
    pthread_mutex_unlock(&e->lock);
    for (size_t i = 0; i < e->nworkers; i++) {
        if (e->workers[i].started)
            pthread_join(e->workers[i].thread, NULL);
        e->workers[i].started = false;
    }
}

void sync_engine_destroy(struct sync_engine *e)
{
    if (!e)
        return;
    sync_engine_stop(e);
    for (size_t i = 0; i < e->nworkers; i++)
        worker_free(&e->workers[i]);
    free(e->workers);
    worker_free(&e->once);
    pthread_cond_destroy(&e->cond);
    pthread_mutex_destroy(&e->lock);
    free(e->slots);
    live_schemas_destroy(e->schemas);
    free(e->conninfo);
    free(e);
}
