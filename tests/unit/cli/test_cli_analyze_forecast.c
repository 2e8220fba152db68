/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Tests for `doppel analyze forecast` (cli/cli_analyze_forecast.c) through cli_main: one
 * series with header and timestamps to JSON, M4-layout wide files with quotes and ragged
 * rows, the same output for any number of threads, and file:line errors with exit 2.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <cjson/cJSON.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

/* Runs doppel with argv (NULL-terminated); stderr goes to *errtext (caller frees). */
static int run(const char **argv, char **errtext)
{
    int argc = 0;
    while (argv[argc])
        argc++;
    char *errpath = xasprintf("%s/stderr", dir);
    fflush(stderr);
    int saved = dup(2), fd = open(errpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    dup2(fd, 2);
    close(fd);
    int rc = cli_main(argc, (char **)argv);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    *errtext = testlib_read_file(errpath);
    free(errpath);
    return rc;
}

/* A daily-seasonal series of days*24 hourly values as "ts,value" lines with a header. */
static char *series_csv(int days)
{
    struct buf b;
    buf_init(&b, 1 << 20);
    buf_appends(&b, "timestamp,requests\n");
    for (int t = 0; t < days * 24; t++)
        buf_printf(&b, "%d,%.3f\n", 1700000000 + 3600 * t,
                   100 + 30 * sin(2 * M_PI * t / 24) + (t * 7919 % 13) * 0.3);
    return buf_steal(&b, NULL);
}

static void test_cli_analyze_forecast_single_series_json(void **state)
{
    (void)state;
    char *text = series_csv(10), *err = NULL;
    char *in = testlib_write_file(dir, "series.csv", text);
    char *out = xasprintf("%s/out.json", dir);
    const char *argv[] = {"doppel",  "analyze", "forecast", "--input",  in,  "--horizon", "12",
                          "--level", "90",      "--json",   "--output", out, NULL};
    assert_int_equal(run(argv, &err), CLI_OK);
    char *json = testlib_read_file(out);
    cJSON *root = cJSON_Parse(json);
    assert_non_null(root);
    cJSON *fc = cJSON_GetObjectItem(root, "forecast");
    assert_int_equal(cJSON_GetArraySize(fc), 12);
    cJSON *first = cJSON_GetArrayItem(fc, 0);
    double mean = cJSON_GetObjectItem(first, "mean")->valuedouble;
    double lo = cJSON_GetObjectItem(cJSON_GetObjectItem(first, "lower"), "90")->valuedouble;
    double hi = cJSON_GetObjectItem(cJSON_GetObjectItem(first, "upper"), "90")->valuedouble;
    assert_true(lo < mean && mean < hi);
    /* the next hour is t = 240, sin(2*pi*240/24) = 0: near the level of 100 + noise */
    assert_true(mean > 95 && mean < 110);
    cJSON *periods = cJSON_GetObjectItem(cJSON_GetObjectItem(root, "model"), "periods");
    assert_int_equal(cJSON_GetArrayItem(periods, 0)->valueint, 24);
    cJSON_Delete(root);
    free(json);
    free(err);
    free(out);
    free(in);
    free(text);
}

static const char wide[] = "\"V1\",\"V2\",\"V3\",\"V4\",\"V5\",\"V6\",\"V7\",\"V8\",\"V9\"\n"
                           "\"S1\",\"1\",\"2\",\"3\",\"1\",\"2\",\"3\",\"1\",\"2\"\n"
                           "\"S2\",\"10\",\"12\",\"14\",\"16\",\"18\",\"\",\"\",\"\"\n"
                           "\"S3\",\"5\",\"-1\",\"5\",\"-1\",\"5\",\"-1\",\"5\",\"\"\n";

static void test_cli_analyze_forecast_wide_layout_and_jobs(void **state)
{
    (void)state;
    char *in = testlib_write_file(dir, "wide.csv", wide), *err = NULL;
    char *o1 = xasprintf("%s/o1.csv", dir), *o4 = xasprintf("%s/o4.csv", dir);
    const char *a1[] = {"doppel", "analyze", "forecast", "--wide",   "--input", in,  "--horizon",
                        "3",      "--jobs",  "1",        "--output", o1,        NULL};
    const char *a4[] = {"doppel", "analyze", "forecast", "--wide",   "--input", in,  "--horizon",
                        "3",      "--jobs",  "4",        "--output", o4,        NULL};
    assert_int_equal(run(a1, &err), CLI_OK);
    free(err);
    assert_int_equal(run(a4, &err), CLI_OK);
    char *t1 = testlib_read_file(o1), *t4 = testlib_read_file(o4);
    assert_string_equal(t1, t4);
    assert_int_equal(strncmp(t1, "id,F1,F2,F3\nS1,", 15), 0);
    assert_non_null(strstr(t1, "\nS2,"));
    assert_non_null(strstr(t1, "\nS3,"));
    /* S2 rises by 2 a step over its five values: the forecast keeps rising. */
    const char *s2 = strstr(t1, "\nS2,") + 4;
    double f1 = strtod(s2, NULL);
    assert_true(f1 > 18 && f1 < 22);
    free(t1);
    free(t4);
    free(err);
    free(o1);
    free(o4);
    free(in);
}

static void test_cli_analyze_forecast_errors_name_file_and_line(void **state)
{
    (void)state;
    char *bad = testlib_write_file(dir, "bad.csv", "ts,v\n1,10\n2,11\n3,eleven\n4,12\n");
    char *holes = testlib_write_file(dir, "holes.csv", "id,V1,V2\nA,1,2,3,4,5\nB,1,,3,4\n");
    char *err = NULL;
    const char *a1[] = {"doppel", "analyze", "forecast", "--input", bad, "--horizon", "2", NULL};
    assert_int_equal(run(a1, &err), CLI_USAGE);
    char *want = xasprintf("%s:4:", bad);
    assert_non_null(strstr(err, want));
    free(want);
    free(err);
    const char *a2[] = {"doppel", "analyze",   "forecast", "--wide", "--input",
                        holes,    "--horizon", "2",        NULL};
    assert_int_equal(run(a2, &err), CLI_USAGE);
    want = xasprintf("%s:3: column 3", holes);
    assert_non_null(strstr(err, want));
    free(want);
    free(err);
    const char *a3[] = {"doppel",    "analyze", "forecast", "--input", bad,
                        "--horizon", "2",       "--period", "24,12",   NULL};
    assert_int_equal(run(a3, &err), CLI_USAGE);
    assert_non_null(strstr(err, "--period"));
    free(err);
    free(bad);
    free(holes);
}

static void test_cli_analyze_forecast_short_series_is_an_input_error(void **state)
{
    (void)state;
    char *in = testlib_write_file(dir, "short.csv", "id,V1\nX,1,2,3,4,5\nY,7,8\n"), *err;
    const char *argv[] = {"doppel", "analyze",   "forecast", "--wide", "--input",
                          in,       "--horizon", "2",        NULL};
    assert_int_equal(run(argv, &err), CLI_USAGE);
    char *want = xasprintf("%s:3: series 'Y'", in);
    assert_non_null(strstr(err, want));
    free(want);
    free(err);
    free(in);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cli_analyze_forecast_single_series_json),
        cmocka_unit_test(test_cli_analyze_forecast_wide_layout_and_jobs),
        cmocka_unit_test(test_cli_analyze_forecast_errors_name_file_and_line),
        cmocka_unit_test(test_cli_analyze_forecast_short_series_is_an_input_error),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
