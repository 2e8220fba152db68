/* SPDX-License-Identifier: Apache-2.0 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>

#include "base/str.h"

static void test_str_to_duration_ns_units(void **state)
{
    (void)state;
    uint64_t v;
    assert_int_equal(str_to_duration_ns("250ms", &v), 0);
    assert_int_equal(v, 250000000ULL);
    assert_int_equal(str_to_duration_ns("2s", &v), 0);
    assert_int_equal(v, 2000000000ULL);
    assert_int_equal(str_to_duration_ns("1.5", &v), 0);
    assert_int_equal(v, 1500000000ULL);
    assert_int_equal(str_to_duration_ns("1h", &v), 0);
    assert_int_equal(v, 3600000000000ULL);
    assert_int_equal(str_to_duration_ns("100us", &v), 0);
    assert_int_equal(v, 100000ULL);
}

static void test_str_to_duration_ns_rejects_garbage(void **state)
{
    (void)state;
    uint64_t v;
    assert_int_equal(str_to_duration_ns("", &v), -EINVAL);
    assert_int_equal(str_to_duration_ns("-1s", &v), -EINVAL);
    assert_int_equal(str_to_duration_ns("5 parsecs", &v), -EINVAL);
    assert_int_equal(str_to_duration_ns("ms", &v), -EINVAL);
}

static void test_str_to_size_binary_units(void **state)
{
    (void)state;
    uint64_t v;
    assert_int_equal(str_to_size("64KiB", &v), 0);
    assert_int_equal(v, 65536);
    assert_int_equal(str_to_size("8MiB", &v), 0);
    assert_int_equal(v, 8388608);
    assert_int_equal(str_to_size("1024", &v), 0);
    assert_int_equal(v, 1024);
    assert_int_equal(str_to_size("1x", &v), -EINVAL);
}

static void test_str_to_i64_strict(void **state)
{
    (void)state;
    int64_t v;
    assert_int_equal(str_to_i64("-42", &v), 0);
    assert_int_equal(v, -42);
    assert_int_equal(str_to_i64("42abc", &v), -EINVAL);
    assert_int_equal(str_to_i64("99999999999999999999", &v), -ERANGE);
}

static void test_str_ieq_case_insensitive(void **state)
{
    (void)state;
    assert_true(str_ieqz("Content-Length", 14, "content-length"));
    assert_false(str_ieqz("Content-Lengt", 13, "content-length"));
}

static void test_str_utf8_text_accepts_only_well_formed_utf8(void **state)
{
    (void)state;
    assert_true(str_utf8_text("", 0));
    assert_true(str_utf8_text("plain ascii", 11));
    assert_true(str_utf8_text("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", 14));
    assert_false(str_utf8_text("a\0b", 3));         /* NUL */
    assert_false(str_utf8_text("\xc3", 1));         /* cut sequence */
    assert_false(str_utf8_text("\xc0\xaf", 2));     /* overlong '/' */
    assert_false(str_utf8_text("\xe2\x28\xa1", 3)); /* bad continuation */
    assert_false(str_utf8_text("\xff", 1));         /* never valid */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_str_to_duration_ns_units),
        cmocka_unit_test(test_str_to_duration_ns_rejects_garbage),
        cmocka_unit_test(test_str_to_size_binary_units),
        cmocka_unit_test(test_str_to_i64_strict),
        cmocka_unit_test(test_str_ieq_case_insensitive),
        cmocka_unit_test(test_str_utf8_text_accepts_only_well_formed_utf8),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
