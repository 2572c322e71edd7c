/* test_json_diff.c: the changed-paths list used by the mapping history. */
#include "base/json_diff.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

static json_object *parse(const char *s)
{
    json_object *o = json_tokener_parse(s);
    assert_non_null(o);
    return o;
}

static void expect_diff(const char *a, const char *b, const char *want)
{
    json_object *ja = a ? parse(a) : NULL, *jb = b ? parse(b) : NULL;
    json_object *d = json_diff(ja, jb, 100);
    assert_non_null(d);
    assert_string_equal(json_object_to_json_string_ext(d, JSON_C_TO_STRING_PLAIN), want);
    json_object_put(d);
    json_object_put(ja);
    json_object_put(jb);
}

static void test_equal_documents_have_no_changes(void **state)
{
    (void)state;
    expect_diff("{\"a\":1,\"b\":[1,{\"c\":true}]}", "{\"b\":[1,{\"c\":true}],\"a\":1}", "[]");
    expect_diff(NULL, NULL, "[]");
}

static void test_scalar_member_and_element_changes(void **state)
{
    (void)state;
    expect_diff("{\"name\":\"A\",\"fields\":[{\"rule\":\"two_way\"},{\"rule\":\"dont_sync\"}]}",
                "{\"name\":\"B\",\"fields\":[{\"rule\":\"two_way\"},{\"rule\":\"two_way\"}]}",
                "[{\"path\":\"name\",\"from\":\"A\",\"to\":\"B\"},"
                "{\"path\":\"fields[1].rule\",\"from\":\"dont_sync\",\"to\":\"two_way\"}]");
}

static void test_added_and_removed(void **state)
{
    (void)state;
    expect_diff("{\"a\":1,\"l\":[1]}", "{\"b\":2,\"l\":[1,2]}",
                "[{\"path\":\"a\",\"from\":1,\"to\":null},"
                "{\"path\":\"l[1]\",\"from\":null,\"to\":2},"
                "{\"path\":\"b\",\"from\":null,\"to\":2}]");
    expect_diff(NULL, "{\"x\":1}", "[{\"path\":\"x\",\"from\":null,\"to\":1}]");
}

static void test_type_change_and_limit(void **state)
{
    (void)state;
    expect_diff("{\"a\":[1]}", "{\"a\":{\"k\":1}}",
                "[{\"path\":\"a\",\"from\":[1],\"to\":{\"k\":1}}]");
    json_object *a = parse("[1,2,3,4,5]"), *b = parse("[5,4,3,2,1]");
    json_object *d = json_diff(a, b, 2);
    assert_int_equal(json_object_array_length(d), 2);
    json_object_put(d);
    json_object_put(a);
    json_object_put(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_equal_documents_have_no_changes),
        cmocka_unit_test(test_scalar_member_and_element_changes),
        cmocka_unit_test(test_added_and_removed),
        cmocka_unit_test(test_type_change_and_limit),
    };
    return cmocka_run_group_tests_name("json_diff", tests, NULL, NULL);
}
