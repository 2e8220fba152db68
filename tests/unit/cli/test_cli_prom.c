/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cli_prom: the instance lookup of `doppel stress --metrics` on a /metrics answer captured
 * from `doppel serve` managing a primary and a shadow (tests/unit/cli/doppel-metrics.prom,
 * saved with `curl -s http://127.0.0.1:ADMIN/metrics` during tests/e2e/81-stress-metrics.sh),
 * and on small hand-made expositions for the edge cases.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli_prom.h"
#include "testlib.h"

#define SAMPLE "tests/unit/cli/doppel-metrics.prom"

static int lookup(const char *text, const char *family, const char *inst, double *v)
{
    return cli_prom_instance_value(text, strlen(text), family, inst, v);
}

static void test_cli_prom_instance_value_reads_the_captured_exposition(void **state)
{
    (void)state;
    char *t = testlib_read_file(SAMPLE);
    double v = -1;
    /* the values as printed in the capture (grep 'instance="api-v2-1"' on the file) */
    assert_int_equal(lookup(t, "doppel_instance_cpu_percent", "api-v2-1", &v), 0);
    assert_close(v, 4.99833, 1e-9);
    assert_int_equal(lookup(t, "doppel_instance_rss_bytes", "api-v2-1", &v), 0);
    assert_close(v, 2.90406e+06, 1e-3);
    assert_int_equal(lookup(t, "doppel_instance_rss_bytes", "api-primary-1", &v), 0);
    assert_close(v, 2.69517e+06, 1e-3);
    assert_int_equal(lookup(t, "doppel_instance_cpu_percent", "api-primary-1", &v), 0);
    assert_close(v, 0, 0);
    free(t);
}

static void test_cli_prom_instance_value_misses_an_absent_instance_or_family(void **state)
{
    (void)state;
    char *t = testlib_read_file(SAMPLE);
    double v = 7;
    assert_int_equal(lookup(t, "doppel_instance_rss_bytes", "api-v2-2", &v), -ENOENT);
    assert_int_equal(lookup(t, "doppel_instance_rss_bytes", "api-v2", &v), -ENOENT);
    assert_int_equal(lookup(t, "doppel_instance_rss", "api-v2-1", &v), -ENOENT);
    assert_int_equal(lookup(t, "doppel_instance_cpu_percent_x", "api-v2-1", &v), -ENOENT);
    assert_close(v, 7, 0); /* untouched */
    free(t);
}

static void test_cli_prom_instance_value_matches_the_instance_label_only(void **state)
{
    (void)state;
    const char *t = "# HELP m x\n"
                    "m{pool=\"a\",shadow_of=\"b\"} 1\n"
                    "m{instance=\"b\",pool=\"a\"} 2\n"
                    "m{pool=\"a\\\"b\",instance=\"a\\\"b\"} 3 1700000000000\n"
                    "m{instance=\"c\"}\t4e3\r\n";
    double v = 0;
    assert_int_equal(lookup(t, "m", "b", &v), 0);
    assert_close(v, 2, 0);
    assert_int_equal(lookup(t, "m", "a\"b", &v), 0);
    assert_close(v, 3, 0);
    assert_int_equal(lookup(t, "m", "c", &v), 0);
    assert_close(v, 4000, 0);
    assert_int_equal(lookup(t, "m", "a", &v), -ENOENT);
}

static void test_cli_prom_instance_value_rejects_malformed_samples(void **state)
{
    (void)state;
    double v = 0;
    assert_int_equal(lookup("m{instance=\"a\"} x\n", "m", "a", &v), -EINVAL);
    assert_int_equal(lookup("m{instance=\"a\"} NaN\n", "m", "a", &v), -EINVAL);
    assert_int_equal(lookup("m{instance=\"a\"}\n", "m", "a", &v), -EINVAL);
    assert_int_equal(lookup("m{instance=\"a} 1\n", "m", "a", &v), -EINVAL);
    assert_int_equal(lookup("m{instance} 1\n", "m", "a", &v), -EINVAL);
    assert_int_equal(lookup("m{instance=\"a\\", "m", "a", &v), -EINVAL);
    assert_int_equal(lookup("", "m", "a", &v), -ENOENT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cli_prom_instance_value_reads_the_captured_exposition),
        cmocka_unit_test(test_cli_prom_instance_value_misses_an_absent_instance_or_family),
        cmocka_unit_test(test_cli_prom_instance_value_matches_the_instance_label_only),
        cmocka_unit_test(test_cli_prom_instance_value_rejects_malformed_samples),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
