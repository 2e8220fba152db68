/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Tests for `doppel analyze judge` (cli/cli_analyze_judge.c) through cli_main: a tail-only
 * regression judged fail in JSON with the deciding test named, the shipped example config
 * loads, and bad input (values, headers, config keys, flags) exits 2 with file:line.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <cjson/cJSON.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "analyzer/stats.h"
#include "base/buf.h"
#include "base/xalloc.h"
#include "cli/cli.h"
#include "testlib.h"

static char *dir;

static int setup(void **state)
{
    (void)state;
    dir = testlib_tmpdir();
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    testlib_rmdir(dir);
    free(dir);
    return 0;
}

/* Points fd at a fresh file; returns the saved descriptor. */
static int redirect(int fd, const char *path)
{
    int saved = dup(fd), f = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    dup2(f, fd);
    close(f);
    return saved;
}

/* Runs doppel with argv (NULL-terminated); stdout and stderr into *out and *errtext. */
static int run(const char **argv, char **out, char **errtext)
{
    int argc = 0;
    while (argv[argc])
        argc++;
    char *op = xasprintf("%s/stdout", dir), *ep = xasprintf("%s/stderr", dir);
    fflush(stdout);
    fflush(stderr);
    int so = redirect(1, op), se = redirect(2, ep);
    int rc = cli_main(argc, (char **)argv);
    fflush(stdout);
    fflush(stderr);
    dup2(so, 1);
    dup2(se, 2);
    close(so);
    close(se);
    *out = testlib_read_file(op);
    *errtext = testlib_read_file(ep);
    free(op);
    free(ep);
    return rc;
}

/* n lognormal latencies (median 100 ms, sigma 0.5) and n zero errors; when slow, 3 % of
 * the requests above the median get 1 s more (p99 up, median unchanged). */
static char *samples_csv(const char *name, size_t n, uint64_t seed, int slow)
{
    struct rng r;
    struct buf b;
    rng_seed(&r, seed);
    buf_init(&b, 1 << 24);
    buf_appends(&b, "metric,value\n");
    for (size_t i = 0; i < n; i++) {
        double u1 = ((double)(rng_next(&r) >> 11) + 0.5) / 9007199254740992.0;
        double u2 = ((double)(rng_next(&r) >> 11) + 0.5) / 9007199254740992.0;
        double v = 100 * exp(0.5 * sqrt(-2 * log(u1)) * cos(2 * M_PI * u2));
        if (slow && v > 100 && rng_below64(&r, 100) < 3)
            v += 1000;
        buf_printf(&b, "latency_ms,%.3f\n", v);
    }
    for (size_t i = 0; i < n; i++)
        buf_appends(&b, "error,0\n");
    char *path = testlib_write_file(dir, name, b.data);
    buf_release(&b);
    return path;
}

static void test_judge_cli_json_names_the_tail_regression(void **state)
{
    (void)state;
    char *b = samples_csv("b.csv", 8000, 1, 0), *c = samples_csv("c.csv", 8000, 2, 1);
    char *out, *errtext;
    const char *argv[] = {"doppel", "analyze",  "judge", "--json", "--baseline",
                          b,        "--canary", c,       NULL};
    assert_int_equal(run(argv, &out, &errtext), 0);
    cJSON *o = cJSON_Parse(out);
    assert_non_null(o);
    assert_string_equal(cJSON_GetObjectItem(o, "verdict")->valuestring, "fail");
    assert_true(cJSON_IsNumber(cJSON_GetObjectItem(o, "score")));
    cJSON *m = cJSON_GetArrayItem(cJSON_GetObjectItem(o, "metrics"), 0);
    assert_string_equal(cJSON_GetObjectItem(m, "name")->valuestring, "latency_ms");
    assert_string_equal(cJSON_GetObjectItem(m, "test")->valuestring, "tail-exceedance");
    assert_true(cJSON_GetObjectItem(m, "effect")->valuedouble > 0.5);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(m, "interval")), 2);
    assert_true(cJSON_GetObjectItem(m, "p_value")->valuedouble < 1e-6);
    cJSON_Delete(o);
    free(out);
    free(errtext);
    free(b);
    free(c);
}

static void test_judge_cli_example_config_loads(void **state)
{
    (void)state;
    char *b = samples_csv("b.csv", 500, 3, 0), *c = samples_csv("c.csv", 500, 4, 0);
    char *out, *errtext;
    const char *argv[] = {"doppel",     "analyze", "judge",    "--config", "examples/judge.yaml",
                          "--baseline", b,         "--canary", c,          NULL};
    assert_int_equal(run(argv, &out, &errtext), 0);
    assert_non_null(strstr(out, "verdict: pass"));
    assert_string_equal(errtext, "");
    free(out);
    free(errtext);
    free(b);
    free(c);
}

/* Runs with the given baseline text (canary valid) and expects exit 2 and msg on stderr. */
static void expect_input_error(const char *baseline, const char *config, const char *msg)
{
    char *b = testlib_write_file(dir, "bad.csv", baseline);
    char *c = samples_csv("c.csv", 50, 5, 0), *y = NULL;
    char *out, *errtext;
    const char *argv[] = {"doppel",   "analyze", "judge", "--baseline", b,
                          "--canary", c,         NULL,    NULL,         NULL};
    if (config) {
        y = testlib_write_file(dir, "judge.yaml", config);
        argv[7] = "--config";
        argv[8] = y;
    }
    assert_int_equal(run(argv, &out, &errtext), 2);
    if (!strstr(errtext, msg))
        fail_msg("stderr '%s' lacks '%s'", errtext, msg);
    free(out);
    free(errtext);
    free(b);
    free(c);
    free(y);
}

static void test_judge_cli_bad_input_exits_2_with_file_line(void **state)
{
    (void)state;
    expect_input_error("metric,value\nlatency_ms,12\nlatency_ms,fast\n", NULL,
                       "bad.csv:3: column 2 ('value'): 'fast' is not a finite number");
    expect_input_error("metric,value\nerror,0\nerror,0.5\n", NULL,
                       "bad.csv:3: metric 'error' is a proportion: '0.5' is not 0 or 1");
    expect_input_error("name,value\nx,1\n", NULL, "bad.csv:1: header must name");
    expect_input_error("metric,value\n,3\n", NULL, "bad.csv:2: the metric name is missing");
    expect_input_error("metric,value\nlatency_ms,12\n",
                       "metrics:\n  latency_ms:\n    tolerence: 1\n",
                       "judge.yaml:3:5: unknown key 'tolerence'");
    expect_input_error("metric,value\nlatency_ms,12\n", "alpha: 0.9\n", "judge.yaml:1:8:");
}

static void test_judge_cli_usage_errors_exit_2(void **state)
{
    (void)state;
    char *out, *errtext;
    const char *none[] = {"doppel", "analyze", "judge", "--json", NULL};
    assert_int_equal(run(none, &out, &errtext), 2);
    assert_non_null(strstr(errtext, "--baseline and --canary are required"));
    free(out);
    free(errtext);
    const char *bogus[] = {"doppel", "analyze", "judge", "--bogus", NULL};
    assert_int_equal(run(bogus, &out, &errtext), 2);
    free(out);
    free(errtext);
    const char *missing[] = {"doppel",
                             "analyze",
                             "judge",
                             "--baseline",
                             "/nonexistent/b.csv",
                             "--canary",
                             "/nonexistent/c.csv",
                             NULL};
    assert_int_equal(run(missing, &out, &errtext), 2);
    assert_non_null(strstr(errtext, "/nonexistent/b.csv: cannot open"));
    free(out);
    free(errtext);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_judge_cli_json_names_the_tail_regression, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_judge_cli_example_config_loads, setup, teardown),
        cmocka_unit_test_setup_teardown(test_judge_cli_bad_input_exits_2_with_file_line, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_judge_cli_usage_errors_exit_2, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
