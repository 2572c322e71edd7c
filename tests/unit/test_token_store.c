/* test_token_store.c: unit tests for sync/token_store (AES-256-GCM sealing, the crm_tokens table
 * in a real PostgreSQL, and the single-flight token cache).
 *
 * Crypto: round trip, fresh nonce per seal, tampering with ciphertext / tag / nonce / AAD, wrong
 * key, short secrets. Store (own database per test, migrations applied; fails without
 * SYNKRO_TEST_ADMIN_URL): put/get, nothing readable at rest, rotation replaces the row in place
 * (version + 1), a value moved to another row or altered in the database fails authentication, a
 * store under another SYNKRO_SECRET_KEY is told so, concurrent rotations, and no token or key in
 * any error text. Cache: 8 threads meeting an expired token cause exactly one refresh and all get
 * its token; a failed refresh is shared by its waiters; invalidation by generation. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <libpq-fe.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "db/pool.h"
#include "crm/rate_limit.h"
#include "crm/token_store.h"
#include "testdb.h"

static const char SECRET[] = "0123456789abcdef0123456789abcdef-test-secret";
static const char OTHER_SECRET[] = "another-secret-key-that-is-long-enough-0000";
static const char TOKEN[] = "5Aep861TSESvWeug_xvFHRBTTbf_YrTWgEyjBJ.refresh.token.value";

/* ---- crypto ---- */

static void test_seal_open_round_trip(void **state)
{
    (void)state;
    unsigned char key[TOKEN_KEY_LEN];
    assert_int_equal(token_key_derive(SECRET, key), 0);
    size_t n = strlen(TOKEN);
    unsigned char nonce[TOKEN_NONCE_LEN], nonce2[TOKEN_NONCE_LEN], tag[TOKEN_TAG_LEN];
    unsigned char ct[128], ct2[128], pt[128];
    assert_int_equal(token_seal(key, "aad-1", (const unsigned char *)TOKEN, n, nonce, ct, tag), 0);
    assert_int_not_equal(memcmp(ct, TOKEN, n), 0);
    assert_int_equal(token_open(key, "aad-1", nonce, ct, n, tag, pt), 0);
    assert_memory_equal(pt, TOKEN, n);
    /* a fresh nonce (and so a different ciphertext) on every seal */
    unsigned char tag2[TOKEN_TAG_LEN];
    assert_int_equal(token_seal(key, "aad-1", (const unsigned char *)TOKEN, n, nonce2, ct2, tag2),
                     0);
    assert_int_not_equal(memcmp(nonce, nonce2, sizeof nonce), 0);
    assert_int_not_equal(memcmp(ct, ct2, n), 0);
    /* the same secret derives the same key */
    unsigned char key2[TOKEN_KEY_LEN];
    assert_int_equal(token_key_derive(SECRET, key2), 0);
    assert_memory_equal(key, key2, sizeof key);
}

static void test_tamper_detected(void **state)
{
    (void)state;
    unsigned char key[TOKEN_KEY_LEN];
    assert_int_equal(token_key_derive(SECRET, key), 0);
    size_t n = strlen(TOKEN);
    unsigned char nonce[TOKEN_NONCE_LEN], tag[TOKEN_TAG_LEN], ct[128], pt[128];
    assert_int_equal(
        token_seal(key, "salesforce/refresh", (const unsigned char *)TOKEN, n, nonce, ct, tag), 0);
    for (size_t i = 0; i < n; i++) { /* every ciphertext byte */
        ct[i] ^= 0x01;
        memset(pt, 'Z', sizeof pt);
        assert_int_equal(token_open(key, "salesforce/refresh", nonce, ct, n, tag, pt), -1);
        for (size_t k = 0; k < n; k++) /* nothing of the plaintext is left behind */
            assert_int_equal(pt[k], 0);
        ct[i] ^= 0x01;
    }
    tag[5] ^= 0x80;
    assert_int_equal(token_open(key, "salesforce/refresh", nonce, ct, n, tag, pt), -1);
    tag[5] ^= 0x80;
    nonce[0] ^= 0x02;
    assert_int_equal(token_open(key, "salesforce/refresh", nonce, ct, n, tag, pt), -1);
    nonce[0] ^= 0x02;
    assert_int_equal(token_open(key, "salesforce/access", nonce, ct, n, tag, pt), -1);
    assert_int_equal(token_open(key, "salesforce/refresh", nonce, ct, n - 1, tag, pt), -1);
    /* untouched, it still opens */
    assert_int_equal(token_open(key, "salesforce/refresh", nonce, ct, n, tag, pt), 0);
    assert_memory_equal(pt, TOKEN, n);
}

static void test_wrong_key(void **state)
{
    (void)state;
    unsigned char key[TOKEN_KEY_LEN], other[TOKEN_KEY_LEN];
    assert_int_equal(token_key_derive(SECRET, key), 0);
    assert_int_equal(token_key_derive(OTHER_SECRET, other), 0);
    assert_int_not_equal(memcmp(key, other, sizeof key), 0);
    size_t n = strlen(TOKEN);
    unsigned char nonce[TOKEN_NONCE_LEN], tag[TOKEN_TAG_LEN], ct[128], pt[128];
    assert_int_equal(token_seal(key, "a", (const unsigned char *)TOKEN, n, nonce, ct, tag), 0);
    assert_int_equal(token_open(other, "a", nonce, ct, n, tag, pt), -1);
}

static void test_short_secret_refused(void **state)
{
    (void)state;
    unsigned char key[TOKEN_KEY_LEN];
    assert_int_equal(token_key_derive("too-short-secret", key), -1);
    assert_int_equal(token_key_derive(NULL, key), -1);
    char err[256] = "";
    struct db_pool_options o = {.conninfo = "dbname=unused", .size = 1};
    struct db_pool *pool = db_pool_create(&o);
    assert_non_null(pool);
    assert_null(token_store_create(pool, "too-short-secret", err, sizeof err));
    assert_non_null(strstr(err, "SYNKRO_SECRET_KEY"));
    assert_null(strstr(err, "too-short-secret"));
    assert_null(token_store_create(pool, NULL, err, sizeof err));
    db_pool_destroy(pool, 0);
}

/* ---- the store ---- */

struct fixture {
    struct testdb *db;
    struct db_pool *pool;
    struct token_store *ts;
};

static int store_setup(void **state)
{
    void *base = NULL;
    testdb_setup_migrated(&base);
    struct fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    f->db = base;
    f->pool = testdb_pool(f->db, 4);
    char err[256];
    f->ts = token_store_create(f->pool, SECRET, err, sizeof err);
    if (!f->ts)
        fail_msg("token_store_create: %s", err);
    *state = f;
    return 0;
}

static int store_teardown(void **state)
{
    struct fixture *f = *state;
    if (!f)
        return 0;
    token_store_destroy(f->ts);
    db_pool_destroy(f->pool, 2000);
    void *base = f->db;
    testdb_teardown(&base);
    free(f);
    *state = NULL;
    return 0;
}

static char *sql_value(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
        char msg[300];
        snprintf(msg, sizeof msg, "%s", PQresultErrorMessage(r));
        PQclear(r);
        fail_msg("%s: %s", sql, msg);
    }
    char *v = strdup(PQgetvalue(r, 0, 0));
    PQclear(r);
    return v;
}

static void sql_exec(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    int ok = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK;
    char msg[300];
    snprintf(msg, sizeof msg, "%s", PQresultErrorMessage(r));
    PQclear(r);
    if (!ok)
        fail_msg("%s: %s", sql, msg);
}

static void test_put_get(void **state)
{
    struct fixture *f = *state;
    char err[300] = "";
    struct token_record rec;
    assert_int_equal(token_store_get(f->ts, CRM_SALESFORCE, "refresh", &rec, err, sizeof err), 0);
    long long version = 0;
    assert_int_equal(token_store_put(f->ts, CRM_SALESFORCE, "refresh", TOKEN, 0, NULL, &version,
                                     err, sizeof err),
                     0);
    assert_int_equal(version, 1);
    assert_int_equal(token_store_put(f->ts, CRM_HUBSPOT, "access", "hs-access-token-1",
                                     1893456000123LL, "https://api.example.com", &version, err,
                                     sizeof err),
                     0);
    assert_int_equal(token_store_get(f->ts, CRM_SALESFORCE, "refresh", &rec, err, sizeof err), 1);
    assert_string_equal(rec.token, TOKEN);
    assert_int_equal(rec.expires_at_ms, 0);
    assert_null(rec.instance_url);
    assert_int_equal(rec.version, 1);
    token_record_free(&rec);
    assert_int_equal(token_store_get(f->ts, CRM_HUBSPOT, "access", &rec, err, sizeof err), 1);
    assert_string_equal(rec.token, "hs-access-token-1");
    assert_int_equal(rec.expires_at_ms, 1893456000123LL);
    assert_string_equal(rec.instance_url, "https://api.example.com");
    token_record_free(&rec);
    /* nothing readable at rest */
    char *hex = sql_value(f->db->watch,
                          "SELECT encode(nonce || ciphertext || tag, 'escape') FROM crm_tokens "
                          "WHERE crm = 'salesforce' AND kind = 'refresh'");
    assert_null(strstr(hex, "refresh.token"));
    free(hex);
    char *len = sql_value(f->db->watch, "SELECT octet_length(ciphertext) FROM crm_tokens WHERE "
                                        "crm = 'salesforce'");
    assert_int_equal(atoi(len), (int)strlen(TOKEN));
    free(len);
    /* bad kinds */
    assert_int_equal(
        token_store_put(f->ts, CRM_HUBSPOT, "session", "x-token", 0, NULL, NULL, err, sizeof err),
        -1);
    assert_int_equal(token_store_get(f->ts, CRM_HUBSPOT, NULL, &rec, err, sizeof err), -1);
    assert_int_equal(token_store_delete(f->ts, CRM_HUBSPOT, "access", err, sizeof err), 0);
    assert_int_equal(token_store_get(f->ts, CRM_HUBSPOT, "access", &rec, err, sizeof err), 0);
}

static void test_rotation_replaces_in_place(void **state)
{
    struct fixture *f = *state;
    char err[300];
    long long v = 0;
    for (int i = 1; i <= 5; i++) {
        char tok[64];
        snprintf(tok, sizeof tok, "rotated-refresh-token-%d", i);
        assert_int_equal(
            token_store_put(f->ts, CRM_SALESFORCE, "refresh", tok, 0, NULL, &v, err, sizeof err),
            0);
        assert_int_equal(v, i);
    }
    char *count = sql_value(f->db->watch, "SELECT count(*) FROM crm_tokens");
    assert_string_equal(count, "1");
    free(count);
    struct token_record rec;
    assert_int_equal(token_store_get(f->ts, CRM_SALESFORCE, "refresh", &rec, err, sizeof err), 1);
    assert_string_equal(rec.token, "rotated-refresh-token-5");
    assert_int_equal(rec.version, 5);
    token_record_free(&rec);
}

static void test_tampered_row_and_moved_value(void **state)
{
    struct fixture *f = *state;
    char err[300] = "";
    assert_int_equal(
        token_store_put(f->ts, CRM_SALESFORCE, "refresh", TOKEN, 0, NULL, NULL, err, sizeof err),
        0);
    assert_int_equal(token_store_put(f->ts, CRM_SALESFORCE, "access", "access-token-xyz", 0, NULL,
                                     NULL, err, sizeof err),
                     0);
    /* the refresh token's ciphertext copied into the access row: AAD binds it to its row */
    sql_exec(f->db->watch,
             "UPDATE crm_tokens AS a SET nonce = r.nonce, ciphertext = r.ciphertext, tag = r.tag "
             "FROM crm_tokens AS r WHERE a.crm = 'salesforce' AND a.kind = 'access' AND "
             "r.crm = 'salesforce' AND r.kind = 'refresh'");
    struct token_record rec;
    assert_int_equal(token_store_get(f->ts, CRM_SALESFORCE, "access", &rec, err, sizeof err), -1);
    assert_non_null(strstr(err, "failed authentication"));
    assert_null(strstr(err, TOKEN));
    /* one flipped bit in the stored ciphertext */
    sql_exec(f->db->watch, "UPDATE crm_tokens SET ciphertext = set_byte(ciphertext, 3, "
                           "get_byte(ciphertext, 3) # 1) WHERE kind = 'refresh'");
    assert_int_equal(token_store_get(f->ts, CRM_SALESFORCE, "refresh", &rec, err, sizeof err), -1);
    assert_non_null(strstr(err, "failed authentication"));
    assert_null(strstr(err, TOKEN));
    assert_null(rec.token);
}

static void test_other_key(void **state)
{
    struct fixture *f = *state;
    char err[300] = "";
    assert_int_equal(
        token_store_put(f->ts, CRM_SALESFORCE, "refresh", TOKEN, 0, NULL, NULL, err, sizeof err),
        0);
    struct token_store *other = token_store_create(f->pool, OTHER_SECRET, err, sizeof err);
    assert_non_null(other);
    struct token_record rec;
    assert_int_equal(token_store_get(other, CRM_SALESFORCE, "refresh", &rec, err, sizeof err), -1);
    assert_non_null(strstr(err, "another SYNKRO_SECRET_KEY"));
    assert_null(strstr(err, OTHER_SECRET));
    assert_null(strstr(err, SECRET));
    /* a forged key id does not help: decryption itself fails */
    assert_int_equal(token_store_put(other, CRM_HUBSPOT, "refresh", "other-token", 0, NULL, NULL,
                                     err, sizeof err),
                     0);
    sql_exec(f->db->watch, "UPDATE crm_tokens SET key_id = (SELECT key_id FROM crm_tokens WHERE "
                           "crm = 'hubspot') WHERE crm = 'salesforce'");
    assert_int_equal(token_store_get(other, CRM_SALESFORCE, "refresh", &rec, err, sizeof err), -1);
    assert_non_null(strstr(err, "failed authentication"));
    token_store_destroy(other);
}

struct rot_arg {
    struct token_store *ts;
    int id;
    int rc;
};

static void *rotate_worker(void *p)
{
    struct rot_arg *a = p;
    char tok[64], err[300];
    snprintf(tok, sizeof tok, "concurrent-refresh-%d", a->id);
    a->rc = token_store_put(a->ts, CRM_SALESFORCE, "refresh", tok, 0, NULL, NULL, err, sizeof err);
    return NULL;
}

static void test_concurrent_rotations(void **state)
{
    struct fixture *f = *state;
    pthread_t th[8];
    struct rot_arg args[8];
    for (int i = 0; i < 8; i++) {
        args[i] = (struct rot_arg){.ts = f->ts, .id = i};
        assert_int_equal(pthread_create(&th[i], NULL, rotate_worker, &args[i]), 0);
    }
    for (int i = 0; i < 8; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(args[i].rc, 0);
    }
    char err[300];
    struct token_record rec;
    assert_int_equal(token_store_get(f->ts, CRM_SALESFORCE, "refresh", &rec, err, sizeof err), 1);
    assert_int_equal(strncmp(rec.token, "concurrent-refresh-", 19), 0);
    assert_int_equal(rec.version, 8);
    token_record_free(&rec);
}

/* ---- the cache ---- */

struct fake_refresher {
    atomic_int calls;
    int fail;
    int delay_ms;
    int64_t expires_in_ms;
};

static int fake_refresh(void *ud, void *call_ctx, struct token_value *out, struct crm_error *err)
{
    struct fake_refresher *fr = ud;
    (void)call_ctx;
    int n = atomic_fetch_add(&fr->calls, 1) + 1;
    struct timespec ts = {fr->delay_ms / 1000, (long)(fr->delay_ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
    if (fr->fail) {
        crm_error_set(err, CRM_HUBSPOT, CRM_ERR_PERMANENT, 400, "invalid_grant",
                      "missing or invalid refresh token");
        return -1;
    }
    char tok[32];
    snprintf(tok, sizeof tok, "token-%d", n);
    out->access_token = strdup(tok);
    out->expires_at_ms = fr->expires_in_ms ? rate_limit_now_ms() + fr->expires_in_ms : 0;
    return 0;
}

struct getter {
    struct token_cache *tc;
    pthread_barrier_t *barrier;
    int rc;
    char token[32];
    char code[64];
};

static void *get_worker(void *p)
{
    struct getter *g = p;
    pthread_barrier_wait(g->barrier);
    struct token_value v;
    struct crm_error err;
    crm_error_clear(&err);
    g->rc = token_cache_get(g->tc, NULL, &v, NULL, &err);
    if (g->rc == 0)
        snprintf(g->token, sizeof g->token, "%s", v.access_token);
    snprintf(g->code, sizeof g->code, "%s", err.code);
    token_value_clear(&v);
    return NULL;
}

static void run_getters(struct token_cache *tc, struct getter *g, int n)
{
    pthread_barrier_t barrier;
    pthread_barrier_init(&barrier, NULL, (unsigned)n);
    pthread_t th[16];
    for (int i = 0; i < n; i++) {
        g[i] = (struct getter){.tc = tc, .barrier = &barrier};
        assert_int_equal(pthread_create(&th[i], NULL, get_worker, &g[i]), 0);
    }
    for (int i = 0; i < n; i++)
        pthread_join(th[i], NULL);
    pthread_barrier_destroy(&barrier);
}

static void test_cache_single_flight(void **state)
{
    (void)state;
    struct fake_refresher fr = {.delay_ms = 200, .expires_in_ms = 1800000};
    /* margin 5 min: a token expiring in 1 s is refreshed ahead of time */
    struct token_cache *tc = token_cache_create(CRM_HUBSPOT, 300000, 5000, fake_refresh, &fr);
    assert_non_null(tc);
    assert_int_equal(token_cache_set(tc, "old-token", NULL, rate_limit_now_ms() + 1000), 0);
    struct getter g[8];
    run_getters(tc, g, 8);
    assert_int_equal(atomic_load(&fr.calls), 1);
    for (int i = 0; i < 8; i++) {
        assert_int_equal(g[i].rc, 0);
        assert_string_equal(g[i].token, "token-1");
    }
    assert_int_equal(token_cache_refreshes(tc), 1);
    /* a fresh token is served without refreshing */
    run_getters(tc, g, 8);
    assert_int_equal(atomic_load(&fr.calls), 1);
    /* invalidation by generation: a stale generation changes nothing */
    struct token_value v;
    uint64_t gen = 0;
    struct crm_error err;
    assert_int_equal(token_cache_get(tc, NULL, &v, &gen, &err), 0);
    token_value_clear(&v);
    token_cache_invalidate(tc, gen - 1);
    run_getters(tc, g, 8);
    assert_int_equal(atomic_load(&fr.calls), 1);
    token_cache_invalidate(tc, gen);
    token_cache_invalidate(tc, gen); /* a 401 wave: one refresh */
    run_getters(tc, g, 8);
    assert_int_equal(atomic_load(&fr.calls), 2);
    for (int i = 0; i < 8; i++)
        assert_string_equal(g[i].token, "token-2");
    token_cache_destroy(tc);
}

static void test_cache_failure_shared(void **state)
{
    (void)state;
    struct fake_refresher fr = {.delay_ms = 200, .fail = 1};
    struct token_cache *tc = token_cache_create(CRM_HUBSPOT, 0, 5000, fake_refresh, &fr);
    assert_non_null(tc);
    struct getter g[8];
    run_getters(tc, g, 8);
    assert_int_equal(atomic_load(&fr.calls), 1);
    for (int i = 0; i < 8; i++) {
        assert_int_equal(g[i].rc, -1);
        assert_string_equal(g[i].code, "invalid_grant");
    }
    assert_int_equal(token_cache_refreshes(tc), 0);
    token_cache_destroy(tc);
    /* no refresher: a static token only */
    tc = token_cache_create(CRM_SALESFORCE, 0, 1000, NULL, NULL);
    struct token_value v;
    struct crm_error err;
    assert_int_equal(token_cache_get(tc, NULL, &v, NULL, &err), -1);
    assert_int_equal(err.cls, CRM_ERR_PERMANENT);
    assert_int_equal(token_cache_set(tc, "static", "https://x.example.com", 0), 0);
    assert_int_equal(token_cache_get(tc, NULL, &v, NULL, &err), 0);
    assert_string_equal(v.access_token, "static");
    assert_string_equal(v.instance_url, "https://x.example.com");
    token_value_clear(&v);
    token_cache_destroy(tc);
}

#define DBT(fn) cmocka_unit_test_setup_teardown(fn, store_setup, store_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_seal_open_round_trip),
        cmocka_unit_test(test_tamper_detected),
        cmocka_unit_test(test_wrong_key),
        cmocka_unit_test(test_short_secret_refused),
        DBT(test_put_get),
        DBT(test_rotation_replaces_in_place),
        DBT(test_tampered_row_and_moved_value),
        DBT(test_other_key),
        DBT(test_concurrent_rotations),
        cmocka_unit_test(test_cache_single_flight),
        cmocka_unit_test(test_cache_failure_shared),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
