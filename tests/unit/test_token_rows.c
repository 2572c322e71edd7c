/* test_token_rows.c: db/token_rows against a real, migrated PostgreSQL: rows stored and loaded
 * byte for byte (zero bytes and every byte value in the ciphertext), expiry and instance URL
 * optional, a rotation replacing the row in place (version + 1), texts that look like SQL stored
 * verbatim, rows kept apart by (crm, kind), delete (also of nothing), the table's checks reported
 * as errors, and a row lost with the pooled connection read again on a fresh one. */
#include "db/pool.h"
#include "db/token_rows.h"
#include "testdb.h"
#include "testdb_sql.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define WAIT_MS 5000

struct fixture {
    struct testdb *db;
    struct db_pool *pool;
};

static int setup(void **state)
{
    void *base = NULL;
    testdb_setup_migrated(&base);
    struct fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    f->db = base;
    f->pool = testdb_pool(f->db, 1);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    db_pool_destroy(f->pool, 2000);
    void *base = f->db;
    testdb_teardown(&base);
    free(f);
    return 0;
}

static const unsigned char NONCE[12] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 0xff};
static const unsigned char TAG[16] = {0xde, 0xad, 0xbe, 0xef, 0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8};

static void store_ok(struct fixture *f, const struct token_row_write *w, long long want_version)
{
    char err[256] = "";
    long long version = -1;
    if (token_rows_store(f->pool, WAIT_MS, w, &version, err, sizeof err) != 0)
        fail_msg("token_rows_store: %s", err);
    assert_int_equal(version, want_version);
}

static struct token_row load_ok(struct fixture *f, const char *crm, const char *kind, int want)
{
    char err[256] = "";
    struct token_row r;
    int got = token_rows_load(f->pool, WAIT_MS, crm, kind, &r, err, sizeof err);
    if (got < 0)
        fail_msg("token_rows_load: %s", err);
    assert_int_equal(got, want);
    return r;
}

/* A row of (crm, kind) with the test's nonce and tag, key "k1", no expiry and no URL. */
static struct token_row_write row_write(const char *crm, const char *kind, const unsigned char *ct,
                                        size_t len)
{
    return (struct token_row_write){.crm = crm,
                                    .kind = kind,
                                    .nonce = NONCE,
                                    .nonce_len = sizeof NONCE,
                                    .ciphertext = ct,
                                    .ciphertext_len = len,
                                    .tag = TAG,
                                    .tag_len = sizeof TAG,
                                    .key_id = "k1"};
}

static void test_round_trip_and_rotation(void **state)
{
    struct fixture *f = *state;
    unsigned char ct[256];
    for (int i = 0; i < 256; i++)
        ct[i] = (unsigned char)(255 - i); /* every byte value, a zero among them */
    struct token_row_write w = row_write("salesforce", "refresh", ct, sizeof ct);
    w.expires_at_ms = 1767225600123LL;
    w.instance_url = "https://x.my.salesforce.com";
    struct token_row r = load_ok(f, "salesforce", "refresh", 0);
    assert_null(r.ciphertext);
    store_ok(f, &w, 1);
    r = load_ok(f, "salesforce", "refresh", 1);
    assert_int_equal(r.nonce_len, sizeof NONCE);
    assert_memory_equal(r.nonce, NONCE, sizeof NONCE);
    assert_int_equal(r.ciphertext_len, sizeof ct);
    assert_memory_equal(r.ciphertext, ct, sizeof ct);
    assert_int_equal(r.tag_len, sizeof TAG);
    assert_memory_equal(r.tag, TAG, sizeof TAG);
    assert_string_equal(r.key_id, "k1");
    assert_int_equal(r.expires_at_ms, 1767225600123LL);
    assert_string_equal(r.instance_url, "https://x.my.salesforce.com");
    assert_int_equal(r.version, 1);
    token_row_free(&r);
    assert_null(r.ciphertext);
    /* at rest: the bytes themselves */
    assert_string_equal(testdb_value(f->db->watch, "SELECT encode(nonce, 'hex') FROM crm_tokens"),
                        "000102030405060708090aff");

    /* rotation: in place, version + 1; no expiry, an empty URL and SQL-looking text */
    w.ciphertext_len = 3;
    w.expires_at_ms = 0;
    w.instance_url = "";
    w.key_id = "k'; DROP TABLE crm_tokens; --";
    store_ok(f, &w, 2);
    r = load_ok(f, "salesforce", "refresh", 1);
    assert_int_equal(r.ciphertext_len, 3);
    assert_memory_equal(r.ciphertext, ct, 3);
    assert_int_equal(r.expires_at_ms, 0);
    assert_null(r.instance_url);
    assert_string_equal(r.key_id, "k'; DROP TABLE crm_tokens; --");
    assert_int_equal(r.version, 2);
    token_row_free(&r);
    assert_int_equal(testdb_long(f->db->watch, "SELECT count(*) FROM crm_tokens"), 1);

    /* (crm, kind) rows are apart */
    w.kind = "access";
    w.instance_url = NULL;
    store_ok(f, &w, 1);
    w.crm = "hubspot";
    store_ok(f, &w, 1);
    r = load_ok(f, "hubspot", "refresh", 0);
    token_row_free(&r);
    assert_int_equal(testdb_long(f->db->watch, "SELECT count(*) FROM crm_tokens"), 3);
}

static void test_delete_and_errors(void **state)
{
    struct fixture *f = *state;
    unsigned char ct[4] = {1, 2, 3, 4};
    struct token_row_write w = row_write("hubspot", "access", ct, sizeof ct);
    store_ok(f, &w, 1);
    char err[256] = "";
    assert_int_equal(token_rows_delete(f->pool, WAIT_MS, "hubspot", "access", err, sizeof err), 0);
    struct token_row r = load_ok(f, "hubspot", "access", 0);
    token_row_free(&r);
    assert_int_equal(token_rows_delete(f->pool, WAIT_MS, "hubspot", "access", err, sizeof err), 0);
    /* the table's checks: a nonce of another length, an unknown CRM */
    w.nonce_len = 11;
    assert_int_equal(token_rows_store(f->pool, WAIT_MS, &w, NULL, err, sizeof err), -1);
    assert_non_null(strstr(err, "crm_tokens_nonce_check"));
    w.nonce_len = sizeof NONCE;
    w.crm = "zendesk";
    assert_int_equal(token_rows_store(f->pool, WAIT_MS, &w, NULL, err, sizeof err), -1);
    assert_non_null(strstr(err, "crm_tokens_crm_check"));
    assert_int_equal(testdb_long(f->db->watch, "SELECT count(*) FROM crm_tokens"), 0);

    /* the pooled connection dies (a database restart): the next call runs on a fresh one */
    w.crm = "hubspot";
    store_ok(f, &w, 1);
    PGconn *c = db_pool_acquire(f->pool, 1000, err, sizeof err);
    assert_non_null(c);
    char sql[96];
    snprintf(sql, sizeof sql, "SELECT pg_terminate_backend(%d)", PQbackendPID(c));
    db_pool_release(f->pool, c, false);
    testdb_exec_ok(f->db->watch, sql);
    r = load_ok(f, "hubspot", "access", 1);
    assert_memory_equal(r.ciphertext, ct, sizeof ct);
    token_row_free(&r);
}

int main(void)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_round_trip_and_rotation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_delete_and_errors, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
