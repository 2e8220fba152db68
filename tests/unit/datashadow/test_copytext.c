/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_copytext: COPY text rows split into values and written back, with the escapes
 * PostgreSQL's COPY documentation lists (\b \f \n \r \t \v, octal, \x hex, \\ and \N).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "datashadow/copytext.h"
#include "testlib.h"

static void test_copytext_split_unescapes_and_nulls(void **state)
{
    (void)state;
    struct buf store;
    struct pgoutput_value v[4];
    const char *line = "a\\tb\t\\N\t\\101\\x42\\\\\t";
    buf_init(&store, 1024);
    assert_int_equal(copytext_split(line, strlen(line), v, 4, &store), 0);
    assert_int_equal(v[0].kind, 't');
    assert_int_equal(v[0].len, 3);
    assert_memory_equal(v[0].data, "a\tb", 3);
    assert_int_equal(v[1].kind, 'n');
    assert_int_equal(v[2].len, 3);
    assert_memory_equal(v[2].data, "AB\\", 3);
    assert_int_equal(v[3].kind, 't');
    assert_int_equal(v[3].len, 0);
    buf_release(&store);
}

static void test_copytext_split_wrong_field_count_is_eproto(void **state)
{
    (void)state;
    struct buf store;
    struct pgoutput_value v[3];
    buf_init(&store, 1024);
    assert_int_equal(copytext_split("a\tb", 3, v, 3, &store), -EPROTO);
    assert_int_equal(copytext_split("a\tb\tc\td", 7, v, 3, &store), -EPROTO);
    assert_int_equal(copytext_split("a\\", 2, v, 1, &store), -EPROTO);
    buf_release(&store);
}

static void test_copytext_escape_round_trips(void **state)
{
    (void)state;
    struct buf out, store;
    struct pgoutput_value in[2] = {{.kind = 't', .data = "x\\y\tz\n\r", .len = 7}, {.kind = 'n'}};
    struct pgoutput_value back[2];
    buf_init(&out, 1024);
    buf_init(&store, 1024);
    assert_int_equal(copytext_escape(&out, &in[0]), 0);
    assert_string_equal(out.data, "x\\\\y\\tz\\n\\r");
    assert_int_equal(buf_append(&out, "\t", 1), 0);
    assert_int_equal(copytext_escape(&out, &in[1]), 0);
    assert_int_equal(copytext_split(out.data, out.len, back, 2, &store), 0);
    assert_int_equal(back[0].len, 7);
    assert_memory_equal(back[0].data, in[0].data, 7);
    assert_int_equal(back[1].kind, 'n');
    buf_release(&out);
    buf_release(&store);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_copytext_split_unescapes_and_nulls),
        cmocka_unit_test(test_copytext_split_wrong_field_count_is_eproto),
        cmocka_unit_test(test_copytext_escape_round_trips),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
