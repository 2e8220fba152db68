/* SPDX-License-Identifier: Apache-2.0 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"

static void test_buf_append_grows_and_terminates(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b, 1 << 20);
    for (int i = 0; i < 1000; i++)
        assert_int_equal(buf_append(&b, "abc", 3), 0);
    assert_int_equal(b.len, 3000);
    assert_int_equal(b.data[3000], '\0');
    assert_memory_equal(b.data + 2997, "abc", 3);
    buf_release(&b);
}

static void test_buf_append_past_max_fails_unchanged(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b, 8);
    assert_int_equal(buf_append(&b, "12345", 5), 0);
    assert_int_equal(buf_append(&b, "6789", 4), -ENOSPC);
    assert_int_equal(b.len, 5);
    assert_string_equal(b.data, "12345");
    assert_int_equal(buf_printf(&b, "%s", "xyz"), 0);
    assert_string_equal(b.data, "12345xyz");
    assert_int_equal(buf_printf(&b, "%d", 1), -ENOSPC);
    buf_release(&b);
}

static void test_buf_extend_hands_out_room_or_nothing(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b, 10);
    buf_appends(&b, "ab");
    char *p = buf_extend(&b, 5);
    assert_non_null(p);
    assert_ptr_equal(p, b.data + 2);
    memcpy(p, "cdefg", 5);
    assert_int_equal(b.len, 7);
    assert_string_equal(b.data, "abcdefg"); /* terminated after the room */
    assert_null(buf_extend(&b, 4));         /* 11 > max */
    assert_int_equal(b.len, 7);
    assert_string_equal(b.data, "abcdefg");
    assert_non_null(buf_extend(&b, 0));
    assert_int_equal(b.len, 7);
    buf_release(&b);
}

static void test_buf_reserve_allocates_once_content_unchanged(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b, 1000);
    buf_appends(&b, "ab");
    assert_int_equal(buf_reserve(&b, 500), 0);
    assert_true(b.cap >= 503);
    char *data = b.data;
    for (int i = 0; i < 100; i++)
        buf_append(&b, "12345", 5);
    assert_ptr_equal(b.data, data); /* no reallocation within the reserved room */
    assert_int_equal(b.len, 502);
    assert_memory_equal(b.data, "ab1234512345", 12);
    assert_int_equal(buf_reserve(&b, 499), -ENOSPC); /* past the maximum */
    assert_int_equal(b.len, 502);
    buf_release(&b);
}

static void test_buf_consume_shifts(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b, 100);
    buf_appends(&b, "hello world");
    buf_consume(&b, 6);
    assert_string_equal(b.data, "world");
    buf_consume(&b, 100);
    assert_int_equal(b.len, 0);
    size_t n;
    buf_appends(&b, "x");
    char *s = buf_steal(&b, &n);
    assert_int_equal(n, 1);
    assert_string_equal(s, "x");
    free(s);
    assert_null(b.data);
    buf_release(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_buf_append_grows_and_terminates),
        cmocka_unit_test(test_buf_append_past_max_fails_unchanged),
        cmocka_unit_test(test_buf_extend_hands_out_room_or_nothing),
        cmocka_unit_test(test_buf_reserve_allocates_once_content_unchanged),
        cmocka_unit_test(test_buf_consume_shifts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
