/* SPDX-License-Identifier: Apache-2.0 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <unistd.h>

#include "provision/provision_proc.h"

/* A real line of /proc/<pid>/stat (fields 1..52), with a command holding ") (". */
static const char stat_line[] =
    "4242 (a) (b) S 1 4242 4242 0 -1 4194560 1200 0 0 0 37 13 0 0 20 0 3 0 987654 "
    "123456789 640 18446744073709551615 1 1 0 0 0 0 0 4096 1 0 0 0 17 1 0 0 0 0 0 0 0 0 0 0 0 "
    "0 0\n";

static void test_pproc_parse_stat_reads_fields(void **state)
{
    (void)state;
    struct pproc_stat st;
    assert_int_equal(pproc_parse_stat(stat_line, &st), 0);
    assert_int_equal(st.state, 'S');
    assert_int_equal(st.cpu_ticks, 50); /* utime 37 + stime 13 */
    assert_int_equal(st.threads, 3);
    assert_int_equal(st.start_ticks, 987654);
    assert_int_equal(st.rss_pages, 640);
}

static void test_pproc_parse_stat_rejects_garbage(void **state)
{
    (void)state;
    struct pproc_stat st;
    assert_int_equal(pproc_parse_stat("", &st), -EINVAL);
    assert_int_equal(pproc_parse_stat("12 (x) S 1 2 3", &st), -EINVAL);
    assert_int_equal(pproc_parse_stat("12 (x)S", &st), -EINVAL);
}

static void test_pproc_read_stat_self(void **state)
{
    (void)state;
    struct pproc_stat st;
    assert_int_equal(pproc_read_stat(getpid(), &st), 0);
    assert_true(st.threads >= 1);
    assert_true(st.rss_pages > 0);
    assert_true(pproc_alive(getpid(), st.start_ticks));
    assert_false(pproc_alive(getpid(), st.start_ticks + 1)); /* a reused pid is not ours */
    assert_true(pproc_count_fds(getpid()) >= 3);
    assert_int_equal(pproc_read_stat(0x7ffffff0, &st), -ENOENT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pproc_parse_stat_reads_fields),
        cmocka_unit_test(test_pproc_parse_stat_rejects_garbage),
        cmocka_unit_test(test_pproc_read_stat_self),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
