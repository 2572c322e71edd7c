/* test_mapping_store.c: db/mapping_store against a real, migrated
 * PostgreSQL: create/get/list, optimistic versions (stale writes refused),
 * one mapping per object, history with changed paths, delete keeping
 * history, atomic import, and what the sync workers read each round (the enabled mappings'
 * signature and documents). */
#include "db/mapping_store.h"
#include "testdb.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static json_object *doc(const char *sf, const char *hs, const char *rule)
{
    char text[512];
    snprintf(text, sizeof text,
             "{\"name\":\"%s sync\",\"salesforce_object\":\"%s\",\"hubspot_object\":\"%s\","
             "\"fields\":[{\"salesforce\":\"Name\",\"hubspot\":\"name\",\"rule\":\"%s\"}]}",
             sf, sf, hs, rule);
    json_object *o = json_tokener_parse(text);
    assert_non_null(o);
    return o;
}

static struct mapping_row row_of(json_object *d, const char *sf, const char *hs, const char *st)
{
    return (struct mapping_row){.document = d,
                                .name = "sync",
                                .state = st,
                                .salesforce_object = sf,
                                .hubspot_object = hs,
                                .problems = NULL};
}

static const char *member(json_object *o, const char *path)
{
    json_object *v = o;
    char buf[128];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *save = NULL, *tok = strtok_r(buf, ".", &save); tok; tok = strtok_r(NULL, ".", &save))
        if (!json_object_object_get_ex(v, tok, &v))
            return NULL;
    return json_object_get_string(v);
}

static void test_create_get_list(void **state)
{
    struct testdb *db = *state;
    char err[256] = "";
    json_object *d = doc("Project__c", "2-100", "two_way");
    struct mapping_row r = row_of(d, "Project__c", "2-100", "draft");
    int64_t id = 0;
    assert_int_equal(mapping_store_create(db->watch, &r, "tester", &id, err, sizeof err), MS_OK);
    assert_true(id > 0);
    int result;
    json_object *got = mapping_store_get(db->watch, id, &result, err, sizeof err);
    assert_int_equal(result, MS_OK);
    assert_string_equal(member(got, "version"), "1");
    assert_string_equal(member(got, "state"), "draft");
    assert_string_equal(member(got, "salesforce_object"), "Project__c");
    assert_non_null(member(got, "created_at"));
    json_object_put(got);
    assert_null(mapping_store_get(db->watch, id + 100, &result, err, sizeof err));
    assert_int_equal(result, MS_NOT_FOUND);
    json_object *list = mapping_store_list(db->watch, err, sizeof err);
    assert_int_equal(json_object_array_length(list), 1);
    json_object_put(list);
    assert_int_equal(mapping_store_count(db->watch, err, sizeof err), 1);
    json_object_put(d);
}

static void test_versions_and_history(void **state)
{
    struct testdb *db = *state;
    char err[256] = "";
    json_object *d1 = doc("Project__c", "2-100", "two_way");
    struct mapping_row r1 = row_of(d1, "Project__c", "2-100", "draft");
    int64_t id = 0, v = 0;
    assert_int_equal(mapping_store_create(db->watch, &r1, "alice", &id, err, sizeof err), MS_OK);
    json_object *d2 = doc("Project__c", "2-100", "dont_sync");
    struct mapping_row r2 = row_of(d2, "Project__c", "2-100", "draft");
    assert_int_equal(
        mapping_store_update(db->watch, id, 1, &r2, "update", "bob", &v, err, sizeof err), MS_OK);
    assert_int_equal(v, 2);
    /* a writer that still holds version 1 is refused, and nothing changes */
    assert_int_equal(
        mapping_store_update(db->watch, id, 1, &r1, "update", "carol", &v, err, sizeof err),
        MS_STALE);
    assert_non_null(strstr(err, "version 2"));
    struct mapping_row r3 = row_of(d2, "Project__c", "2-100", "enabled");
    assert_int_equal(
        mapping_store_update(db->watch, id, 2, &r3, "enable", "bob", &v, err, sizeof err), MS_OK);
    json_object *h = mapping_store_history(db->watch, id, err, sizeof err);
    assert_int_equal(json_object_array_length(h), 3);
    json_object *second = json_object_array_get_idx(h, 1);
    assert_string_equal(member(second, "action"), "update");
    assert_string_equal(member(second, "actor"), "bob");
    json_object *changes;
    assert_true(json_object_object_get_ex(second, "changes", &changes));
    assert_int_equal(json_object_array_length(changes), 1);
    assert_string_equal(member(json_object_array_get_idx(changes, 0), "path"), "fields[0].rule");
    assert_string_equal(member(json_object_array_get_idx(h, 2), "action"), "enable");
    json_object_put(h);
    /* delete: gone, history kept */
    assert_int_equal(mapping_store_delete(db->watch, id, 2, "bob", err, sizeof err), MS_STALE);
    assert_int_equal(mapping_store_delete(db->watch, id, 3, "bob", err, sizeof err), MS_OK);
    assert_int_equal(mapping_store_delete(db->watch, id, 0, "bob", err, sizeof err), MS_NOT_FOUND);
    h = mapping_store_history(db->watch, id, err, sizeof err);
    assert_int_equal(json_object_array_length(h), 4);
    json_object_put(h);
    json_object_put(d1);
    json_object_put(d2);
}

static void test_one_mapping_per_object(void **state)
{
    struct testdb *db = *state;
    char err[256] = "";
    json_object *d = doc("Project__c", "2-100", "two_way");
    struct mapping_row r = row_of(d, "Project__c", "2-100", "draft");
    int64_t id;
    assert_int_equal(mapping_store_create(db->watch, &r, "t", &id, err, sizeof err), MS_OK);
    struct mapping_row same_sf = row_of(d, "project__C", "2-200", "draft");
    assert_int_equal(mapping_store_create(db->watch, &same_sf, "t", &id, err, sizeof err),
                     MS_CONFLICT);
    assert_non_null(strstr(err, "another mapping"));
    struct mapping_row same_hs = row_of(d, "Other__c", "2-100", "draft");
    assert_int_equal(mapping_store_create(db->watch, &same_hs, "t", &id, err, sizeof err),
                     MS_CONFLICT);
    assert_int_equal(mapping_store_count(db->watch, err, sizeof err), 1);
    json_object_put(d);
}

static void test_import_is_atomic(void **state)
{
    struct testdb *db = *state;
    char err[256] = "";
    json_object *d = doc("Project__c", "2-100", "two_way");
    struct mapping_row r = row_of(d, "Project__c", "2-100", "draft");
    int64_t id;
    assert_int_equal(mapping_store_create(db->watch, &r, "t", &id, err, sizeof err), MS_OK);
    json_object *a = doc("A__c", "2-1", "two_way");
    json_object *b = doc("B__c", "2-1", "two_way"); /* same HubSpot object: conflict */
    json_object_object_add(a, "id", json_object_new_int64(40));
    struct mapping_row bad[] = {row_of(a, "A__c", "2-1", "draft"),
                                row_of(b, "B__c", "2-1", "draft")};
    assert_int_equal(mapping_store_replace_all(db->watch, bad, 2, "t", err, sizeof err),
                     MS_CONFLICT);
    json_object *list = mapping_store_list(db->watch, err, sizeof err);
    assert_int_equal(json_object_array_length(list), 1); /* unchanged */
    assert_string_equal(member(json_object_array_get_idx(list, 0), "salesforce_object"),
                        "Project__c");
    json_object_put(list);
    struct mapping_row good[] = {row_of(a, "A__c", "2-1", "enabled")};
    assert_int_equal(mapping_store_replace_all(db->watch, good, 1, "t", err, sizeof err), MS_OK);
    int result;
    json_object *got = mapping_store_get(db->watch, 40, &result, err, sizeof err);
    assert_int_equal(result, MS_OK); /* the imported id is kept */
    assert_string_equal(member(got, "state"), "enabled");
    json_object_put(got);
    /* new ids continue after the imported ones */
    json_object *c = doc("C__c", "2-3", "two_way");
    struct mapping_row rc = row_of(c, "C__c", "2-3", "draft");
    assert_int_equal(mapping_store_create(db->watch, &rc, "t", &id, err, sizeof err), MS_OK);
    assert_true(id > 40);
    json_object_put(a);
    json_object_put(b);
    json_object_put(c);
    json_object_put(d);
}

/* What the sync workers read each round: the signature of the enabled mappings changes when
 * one is enabled, edited or paused; the documents are the enabled ones', in id order. */
static void test_enabled_signature_and_documents(void **state)
{
    struct testdb *db = *state;
    char err[256] = "";
    char *sig = mapping_store_enabled_signature(db->watch, err, sizeof err);
    assert_non_null(sig);
    assert_string_equal(sig, "");
    free(sig);
    struct mapping_doc *docs = NULL;
    size_t n = 99;
    assert_int_equal(mapping_store_enabled_documents(db->watch, &docs, &n, err, sizeof err), 0);
    assert_int_equal(n, 0);
    mapping_docs_free(docs, n);

    json_object *d1 = doc("Project__c", "2-100", "two_way");
    json_object *d2 = doc("Task__c", "2-200", "dont_sync");
    struct mapping_row r1 = row_of(d1, "Project__c", "2-100", "enabled");
    struct mapping_row r2 = row_of(d2, "Task__c", "2-200", "draft");
    int64_t id1 = 0, id2 = 0, v = 0;
    assert_int_equal(mapping_store_create(db->watch, &r2, "t", &id2, err, sizeof err), MS_OK);
    assert_int_equal(mapping_store_create(db->watch, &r1, "t", &id1, err, sizeof err), MS_OK);
    char want[96];
    snprintf(want, sizeof want, "%lld:1", (long long)id1);
    sig = mapping_store_enabled_signature(db->watch, err, sizeof err);
    assert_string_equal(sig, want);
    free(sig);
    /* enabling the other one, and editing the first, change it */
    struct mapping_row r2e = row_of(d2, "Task__c", "2-200", "enabled");
    assert_int_equal(
        mapping_store_update(db->watch, id2, 1, &r2e, "enable", "t", &v, err, sizeof err), MS_OK);
    assert_int_equal(
        mapping_store_update(db->watch, id1, 1, &r1, "update", "t", &v, err, sizeof err), MS_OK);
    snprintf(want, sizeof want, "%lld:2,%lld:2", (long long)id2, (long long)id1);
    sig = mapping_store_enabled_signature(db->watch, err, sizeof err);
    assert_string_equal(sig, want);
    free(sig);
    assert_int_equal(mapping_store_enabled_documents(db->watch, &docs, &n, err, sizeof err), 0);
    assert_int_equal(n, 2);
    assert_int_equal(docs[0].id, id2);
    assert_int_equal(docs[1].id, id1);
    json_object *got = json_tokener_parse(docs[1].document);
    assert_non_null(got);
    assert_string_equal(member(got, "salesforce_object"), "Project__c");
    json_object_put(got);
    mapping_docs_free(docs, n);
    /* paused: gone from both */
    struct mapping_row r1p = row_of(d1, "Project__c", "2-100", "paused");
    assert_int_equal(
        mapping_store_update(db->watch, id1, 2, &r1p, "pause", "t", &v, err, sizeof err), MS_OK);
    snprintf(want, sizeof want, "%lld:2", (long long)id2);
    sig = mapping_store_enabled_signature(db->watch, err, sizeof err);
    assert_string_equal(sig, want);
    free(sig);
    assert_int_equal(mapping_store_enabled_documents(db->watch, &docs, &n, err, sizeof err), 0);
    assert_int_equal(n, 1);
    assert_int_equal(docs[0].id, id2);
    mapping_docs_free(docs, n);
    json_object_put(d1);
    json_object_put(d2);
}

/* The janitor's reclassification sweep runs when this signature changes: it follows each
 * mapping's state and objects, whatever its state, and nothing else (a version bump of the same
 * objects and state leaves it alone). */
static void test_classes_signature(void **state)
{
    struct testdb *db = *state;
    char err[256] = "";
    char *empty = mapping_store_classes_signature(db->watch, err, sizeof err);
    assert_non_null(empty);
    json_object *d1 = doc("Project__c", "2-100", "two_way");
    struct mapping_row r1 = row_of(d1, "Project__c", "2-100", "draft");
    int64_t id1 = 0, v = 0;
    assert_int_equal(mapping_store_create(db->watch, &r1, "t", &id1, err, sizeof err), MS_OK);
    char *draft = mapping_store_classes_signature(db->watch, err, sizeof err);
    assert_string_not_equal(draft, empty);
    /* an edit that keeps objects and state: the same */
    assert_int_equal(
        mapping_store_update(db->watch, id1, 1, &r1, "update", "t", &v, err, sizeof err), MS_OK);
    char *edited = mapping_store_classes_signature(db->watch, err, sizeof err);
    assert_string_equal(edited, draft);
    /* enabled: different */
    struct mapping_row r1e = row_of(d1, "Project__c", "2-100", "enabled");
    assert_int_equal(
        mapping_store_update(db->watch, id1, 2, &r1e, "enable", "t", &v, err, sizeof err), MS_OK);
    char *enabled = mapping_store_classes_signature(db->watch, err, sizeof err);
    assert_string_not_equal(enabled, draft);
    /* another Salesforce object, same state: different again */
    json_object *d2 = doc("Task__c", "2-100", "two_way");
    struct mapping_row r2 = row_of(d2, "Task__c", "2-100", "enabled");
    assert_int_equal(
        mapping_store_update(db->watch, id1, 3, &r2, "update", "t", &v, err, sizeof err), MS_OK);
    char *moved = mapping_store_classes_signature(db->watch, err, sizeof err);
    assert_string_not_equal(moved, enabled);
    free(empty);
    free(draft);
    free(edited);
    free(enabled);
    free(moved);
    json_object_put(d1);
    json_object_put(d2);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, testdb_setup_migrated, testdb_teardown)
    const struct CMUnitTest tests[] = {
        T(test_create_get_list),
        T(test_versions_and_history),
        T(test_one_mapping_per_object),
        T(test_import_is_atomic),
        T(test_enabled_signature_and_documents),
        T(test_classes_signature),
    };
    return cmocka_run_group_tests_name("mapping_store", tests, NULL, NULL);
}
