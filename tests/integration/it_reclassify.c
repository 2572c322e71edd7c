/* it_reclassify.c: the janitor's reclassification sweep with the real binary and PostgreSQL. It
 * reads every queued event, so it runs only when the mappings' states or objects changed (and on
 * the first round and the round after each change: server/janitor.c). Shown by events stored with
 * a status their mapping does not give them (what an insert racing a mapping change leaves):
 * right after the start one is put right; once the start's rounds are over, another stays as it
 * is for longer than a round (the sweep no longer reads the queue every 5 s); and a mapping
 * created straight in the database (as another instance or a restore would) puts it right
 * within a round or two. */
#include "harness.h"

#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

/* The janitor asks every 5 s (its job period); a round and a half. */
#define ROUND_MS 7500

struct fixture {
    struct harness_db db;
    struct harness_proc proc;
};

static struct fixture fixture;

static int setup(void **state)
{
    memset(&fixture, 0, sizeof fixture);
    *state = &fixture;
    return 0;
}

/* synkro killed (when still running: a failed assertion) and the database dropped. */
static int teardown(void **state)
{
    struct fixture *f = *state;
    harness_synkro_kill_fresh(&f->db, &f->proc);
    return 0;
}

/* A pending event of Salesforce object `object` (no mapping covers it: it should be unmapped). */
static void add_stale_event(struct fixture *f, const char *key, const char *object)
{
    char sql[512];
    snprintf(sql, sizeof sql,
             "INSERT INTO change_events (source, idempotency_key, object_type, record_id, kind,"
             " status, payload) VALUES ('salesforce', '%s', '%s', 'a015g00000X0001AAA',"
             " 'update', 'pending', '{}') RETURNING id",
             key, object);
    char *id = harness_db_scalar(&f->db, sql);
    assert_non_null(id);
    free(id);
}

static char *status_of(struct fixture *f, const char *key)
{
    char sql[256];
    snprintf(sql, sizeof sql, "SELECT status FROM change_events WHERE idempotency_key = '%s'", key);
    return harness_db_scalar(&f->db, sql);
}

/* Waits up to ms for the event's status to become want; true when it did. */
static bool becomes(struct fixture *f, const char *key, const char *want, int ms)
{
    for (int waited = 0;; waited += 100) {
        char *s = status_of(f, key);
        bool ok = s && strcmp(s, want) == 0;
        free(s);
        if (ok || waited >= ms)
            return ok;
        harness_sleep_ms(100);
    }
}

static void test_sweeps_on_start_and_on_change_only(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(harness_synkro_start_fresh(&f->db, &f->proc, NULL), 0);

    /* the start's rounds sweep: put right within them */
    add_stale_event(f, "recl-start", "Gadget__c");
    assert_true(becomes(f, "recl-start", "unmapped", 2 * ROUND_MS));
    harness_sleep_ms(ROUND_MS); /* past the round after the first sweep */

    /* no change to the mappings: left alone for longer than a round */
    add_stale_event(f, "recl-quiet", "Widget__c");
    harness_sleep_ms(ROUND_MS);
    char *s = status_of(f, "recl-quiet");
    assert_non_null(s);
    assert_string_equal(s, "pending");
    free(s);

    /* a mapping of its object appears (as a draft): its events are held from the next round */
    char *id = harness_db_scalar(&f->db, "INSERT INTO mappings (name, state, salesforce_object,"
                                         " hubspot_object, hubspot_object_type_id, document)"
                                         " VALUES ('it-reclassify', 'draft', 'WIDGET__c',"
                                         " 'widgets', '2-900', '{}'::jsonb) RETURNING id");
    assert_non_null(id);
    free(id);
    assert_true(becomes(f, "recl-quiet", "held", 2 * ROUND_MS));
    assert_int_equal(harness_synkro_stop(&f->proc, SIGTERM, 10000), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_sweeps_on_start_and_on_change_only, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
