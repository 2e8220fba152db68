/* SPDX-License-Identifier: Apache-2.0 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli/csv.h"
#include "testlib.h"

static void test_csv_read_file_splits_quotes_crlf_and_blank_lines(void **state)
{
    (void)state;
    char *dir = testlib_tmpdir();
    char *path = testlib_write_file(
        dir, "a.csv", "\"id\",v\r\n\r\n\"H1\",\"1,5\"\r\nH2,\"say \"\"hi\"\"\",x\nH3\n");
    struct csv c;
    struct err err = {0};
    assert_int_equal(csv_read_file(path, 1, 1 << 20, &c, &err), 0);
    assert_int_equal(c.header.nfields, 2);
    assert_string_equal(c.header.fields[0], "id");
    assert_int_equal(csv_column(&c, "v"), 1);
    assert_int_equal(csv_column(&c, "nope"), -1);
    assert_int_equal(c.nrows, 3);
    assert_int_equal(c.rows[0].line, 3);
    assert_string_equal(c.rows[0].fields[1], "1,5");
    assert_int_equal(c.rows[1].nfields, 3);
    assert_string_equal(c.rows[1].fields[1], "say \"hi\"");
    assert_string_equal(c.rows[1].fields[2], "x");
    assert_int_equal(c.rows[2].nfields, 1);
    assert_int_equal(c.rows[2].line, 5);
    double v;
    assert_int_equal(csv_double(&c, &c.rows[2], 1, &v, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "a.csv:5: column 2 ('v') is missing"));
    assert_int_equal(csv_double(&c, &c.rows[1], 1, &v, &err), -EINVAL);
    assert_non_null(strstr(err.msg, ":4: column 2 ('v'): 'say \"hi\"' is not a finite number"));
    csv_release(&c);
    free(path);
    testlib_rmdir(dir);
    free(dir);
}

static void test_csv_read_file_errors_name_the_file(void **state)
{
    (void)state;
    char *dir = testlib_tmpdir();
    char *empty = testlib_write_file(dir, "e.csv", "\n\n");
    char *big = testlib_write_file(dir, "b.csv", "a,b\n1,2\n3,4\n");
    struct csv c;
    struct err err = {0};
    assert_int_equal(csv_read_file(empty, 1, 1 << 20, &c, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "e.csv: file is empty"));
    assert_int_equal(csv_read_file(big, 1, 5, &c, &err), -EFBIG);
    assert_int_equal(csv_read_file("/nonexistent/x.csv", 1, 100, &c, &err), -ENOENT);
    assert_int_equal(csv_read_file(big, 0, 100, &c, &err), 0);
    assert_int_equal(c.nrows, 3);
    assert_int_equal(c.header.nfields, 0);
    double v;
    assert_int_equal(csv_double(&c, &c.rows[2], 1, &v, &err), 0);
    assert_close(v, 4.0, 0);
    csv_release(&c);
    free(empty);
    free(big);
    testlib_rmdir(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_csv_read_file_splits_quotes_crlf_and_blank_lines),
        cmocka_unit_test(test_csv_read_file_errors_name_the_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
