/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_apply_run: the run buffer of consecutive inserts: rows written in PostgreSQL's COPY
 * text format (tab, newline, carriage return and backslash escaped, \N for NULL, other
 * bytes such as UTF-8 passed through, as the COPY documentation's "Text Format" section
 * specifies) that split back to the same values, and the COPY statement.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "datashadow/apply_run.h"
#include "datashadow/copytext.h"
#include "testlib.h"

static struct pgoutput_value text(const char *s)
{
    struct pgoutput_value v = {.kind = 't', .data = s, .len = (uint32_t)strlen(s)};
    return v;
}

static const struct pgoutput_value null_value = {.kind = 'n'};

static struct relation_column cols2[2] = {{.name = "id"}, {.name = "we\"ird\tname"}};
static struct relation rel_a = {
    .qname = "\"public\".\"a\"", .display = "public.a", .cols = cols2, .ncols = 2};
static struct relation rel_b = {
    .qname = "\"public\".\"b\"", .display = "public.b", .cols = cols2, .ncols = 2};

static void test_apply_run_add_escapes_text_format(void **state)
{
    (void)state;
    struct apply_run run;
    struct pgoutput_value r1[2] = {text("a\tb\\c"), null_value};
    struct pgoutput_value r2[2] = {text("x\ny\rz"), text("h\xc3\xa9llo \xe2\x9c\x93")};
    struct pgoutput_value r3[2] = {text(""), text("\\N")};
    apply_run_init(&run);
    assert_int_equal(apply_run_add(&run, &rel_a, r1, 2), 0);
    assert_int_equal(apply_run_add(&run, &rel_a, r2, 2), 0);
    assert_int_equal(apply_run_add(&run, &rel_a, r3, 2), 0);
    assert_int_equal(run.rows, 3);
    assert_ptr_equal(run.rel, &rel_a);
    assert_string_equal(run.text.data, "a\\tb\\\\c\t\\N\n"
                                       "x\\ny\\rz\th\xc3\xa9llo \xe2\x9c\x93\n"
                                       "\t\\\\N\n");
    apply_run_release(&run);
}

static void assert_same_value(const struct pgoutput_value *got, const struct pgoutput_value *want)
{
    assert_int_equal(got->kind, want->kind);
    if (want->kind != 't')
        return;
    assert_int_equal(got->len, want->len);
    assert_memory_equal(got->data, want->data, want->len);
}

/* Each line split as COPY FROM reads text format gives the row's values back. */
static void test_apply_run_add_lines_split_back_to_the_same_values(void **state)
{
    (void)state;
    struct apply_run run;
    struct buf store;
    struct pgoutput_value rows[3][2] = {{text("a\tb\\c\\\\"), null_value},
                                        {text("x\ny\r\n"), text("\xe6\x97\xa5\xe6\x9c\xac")},
                                        {text("\\N"), text("")}};
    struct pgoutput_value back[2];
    apply_run_init(&run);
    buf_init(&store, 1024);
    for (int i = 0; i < 3; i++)
        assert_int_equal(apply_run_add(&run, &rel_a, rows[i], 2), 0);
    const char *line = run.text.data, *end = run.text.data + run.text.len;
    for (int i = 0; i < 3; i++) {
        const char *nl = memchr(line, '\n', (size_t)(end - line));
        assert_non_null(nl);
        assert_int_equal(copytext_split(line, (size_t)(nl - line), back, 2, &store), 0);
        assert_same_value(&back[0], &rows[i][0]);
        assert_same_value(&back[1], &rows[i][1]);
        line = nl + 1;
    }
    assert_ptr_equal(line, end);
    buf_release(&store);
    apply_run_release(&run);
}

static void test_apply_run_add_refuses_unchanged_and_other_table(void **state)
{
    (void)state;
    struct apply_run run;
    struct pgoutput_value ok[2] = {text("1"), text("x")};
    struct pgoutput_value toast[2] = {text("2"), {.kind = 'u'}};
    struct pgoutput_value binary[2] = {{.kind = 'b', .data = "\x01", .len = 1}, text("y")};
    apply_run_init(&run);
    assert_int_equal(apply_run_add(&run, &rel_a, ok, 2), 0);
    size_t len = run.text.len;
    assert_int_equal(apply_run_add(&run, &rel_a, toast, 2), -EINVAL);
    assert_int_equal(apply_run_add(&run, &rel_a, binary, 2), -EINVAL);
    assert_int_equal(apply_run_add(&run, &rel_b, ok, 2), -EINVAL);
    assert_int_equal(run.rows, 1);
    assert_int_equal(run.text.len, len);
    assert_string_equal(run.text.data, "1\tx\n");
    apply_run_reset(&run);
    assert_int_equal(apply_run_add(&run, &rel_b, ok, 2), 0);
    assert_ptr_equal(run.rel, &rel_b);
    apply_run_release(&run);
}

static void test_apply_run_sql_quotes_every_column(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b, 1024);
    apply_run_sql(&b, &rel_a);
    assert_string_equal(b.data, "COPY \"public\".\"a\" (\"id\", \"we\"\"ird\tname\") FROM STDIN");
    buf_release(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_apply_run_add_escapes_text_format),
        cmocka_unit_test(test_apply_run_add_lines_split_back_to_the_same_values),
        cmocka_unit_test(test_apply_run_add_refuses_unchanged_and_other_table),
        cmocka_unit_test(test_apply_run_sql_quotes_every_column),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
