/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests of analyzer/capacity: the queueing latency fit on exact and noisy synthetic
 * data (noisy against scipy's curve_fit), resource lines, quantiles against numpy, and
 * the instance plan on a hand-worked case.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <math.h>

#include "analyzer/capacity.h"
#include "testlib.h"

/* examples/analyze/capacity-ramp.csv: a stress ramp with 4 % multiplicative noise on
 * p99 = 40 / (1 - x / 500), cpu = 0.1 + 0.002 x, memory = 300 + 0.2 x. */
static const struct capacity_obs ramp[] = {
    {25, 42.1, 0.159, 306.6},   {50, 42.9, 0.214, 315.9},   {75, 47.2, 0.290, 318.0},
    {100, 48.8, 0.315, 322.1},  {125, 53.6, 0.378, 325.2},  {150, 58.7, 0.440, 332.7},
    {175, 56.9, 0.489, 346.1},  {200, 66.0, 0.538, 341.6},  {225, 73.2, 0.556, 360.1},
    {250, 78.3, 0.601, 350.7},  {275, 83.4, 0.664, 360.9},  {300, 96.8, 0.732, 364.8},
    {325, 114.1, 0.777, 368.5}, {350, 132.7, 0.803, 370.4}, {375, 152.2, 0.852, 383.2},
    {400, 187.6, 0.926, 380.7}, {425, 259.8, 1.010, 389.6}, {450, 380.8, 1.002, 393.5},
    {475, 794.0, 1.070, 395.4},
};
#define NRAMP (sizeof(ramp) / sizeof(ramp[0]))

static void test_capacity_fit_latency_exact_on_model_data(void **state)
{
    (void)state;
    double x[8], y[8], b, c;
    for (int i = 0; i < 8; i++) {
        x[i] = 50.0 * i;
        y[i] = 40 / (1 - x[i] / 500);
    }
    assert_int_equal(capacity_fit_latency(x, y, 8, &b, &c), 0);
    assert_rel_close(b, 40, 1e-9);
    assert_rel_close(c, 500, 1e-9);
}

static void test_capacity_fit_latency_matches_scipy_curve_fit(void **state)
{
    (void)state;
    double x[NRAMP], y[NRAMP], b, c;
    for (size_t i = 0; i < NRAMP; i++)
        x[i] = ramp[i].load_rps, y[i] = ramp[i].latency_p99_ms;
    /* /usr/bin/python3 -c "import numpy as np; from scipy.optimize import curve_fit;
     *   d=np.loadtxt('examples/analyze/capacity-ramp.csv',delimiter=',',skiprows=1);
     *   print(repr(curve_fit(lambda x,b,c: b/(1-x/c), d[:,0], d[:,1], p0=(40,600))[0]))"
     * -> array([ 38.16206969, 499.03253464]) */
    assert_int_equal(capacity_fit_latency(x, y, NRAMP, &b, &c), 0);
    assert_rel_close(b, 38.16206969, 1e-6);
    assert_rel_close(c, 499.03253464, 1e-6);
}

static void test_capacity_fit_latency_flat_latency_is_edom(void **state)
{
    (void)state;
    double x[] = {10, 20, 30, 40}, y[] = {50, 49, 50, 48}, b, c;
    assert_int_equal(capacity_fit_latency(x, y, 4, &b, &c), -EDOM);
}

static void test_capacity_fit_latency_rejects_bad_input(void **state)
{
    (void)state;
    double x[] = {10, 20, 30}, y[] = {50, 0, 70}, same[] = {10, 10, 10}, yy[] = {1, 2, 3};
    double b, c;
    assert_int_equal(capacity_fit_latency(x, y, 3, &b, &c), -EINVAL);
    assert_int_equal(capacity_fit_latency(x, yy, 2, &b, &c), -EINVAL);
    assert_int_equal(capacity_fit_latency(same, yy, 3, &b, &c), -EINVAL);
}

static void test_capacity_quantile_matches_numpy(void **state)
{
    (void)state;
    double v[] = {3, 1, 4, 1, 5, 9, 2, 6};
    /* /usr/bin/python3 -c 'import numpy as np; print(repr(np.quantile([3.0,1.0,4.0,1.0,5.0,
     *   9.0,2.0,6.0],0.9)))' -> 6.8999999999999995 */
    assert_close(capacity_quantile(v, 8, 0.9), 6.9, 1e-12);
}

static void test_capacity_fit_all_resource_lines_match_numpy(void **state)
{
    (void)state;
    double work[3 * NRAMP];
    struct capacity_fit f;
    assert_int_equal(capacity_fit_all(ramp, NRAMP, work, &f), 0);
    /* /usr/bin/python3 -c "import numpy as np;
     *   d=np.loadtxt('examples/analyze/capacity-ramp.csv',delimiter=',',skiprows=1);
     *   print([repr(float(v)) for v in np.polyfit(d[:,0],d[:,2],1)],
     *         [repr(float(v)) for v in np.polyfit(d[:,0],d[:,3],1)])"
     * -> ['0.0019923508771929823', '0.12380701754385959']
     *    ['0.19845614035087747', '304.38596491228066'] */
    assert_rel_close(f.cpu_per_rps, 0.0019923508771929823, 1e-9);
    assert_rel_close(f.cpu0, 0.12380701754385959, 1e-9);
    assert_rel_close(f.mem_per_rps, 0.19845614035087747, 1e-9);
    assert_rel_close(f.mem0, 304.38596491228066, 1e-9);
    assert_close(f.max_load_rps, 475, 0);
    assert_true(f.cpu_resid_p90 >= 0 && f.mem_resid_p95 >= 0);
}

static void test_capacity_plan_hand_case(void **state)
{
    (void)state;
    struct capacity_fit f = {.n = 10,
                             .base_ms = 40,
                             .cap_rps = 500,
                             .cpu0 = 0.1,
                             .cpu_per_rps = 0.002,
                             .mem0 = 300,
                             .mem_per_rps = 0.2,
                             .cpu_resid_p90 = 0.05,
                             .mem_resid_p95 = 10,
                             .max_load_rps = 450};
    struct capacity_plan p;
    assert_int_equal(capacity_plan(&f, 250, 1800, 0.2, &p), 0);
    /* knee = 500 (1 - 40/250) = 420; safe = 420 / 1.2 = 350; ceil(1800 / 350) = 6
     * instances at 300 rps; p99 = 40 / (1 - 300/500) = 100 ms;
     * cpu = (0.1 + 0.6 + 0.05) 1.2 = 0.9; memory = (300 + 60 + 10) 1.2 = 444. */
    assert_close(p.knee_rps, 420, 1e-9);
    assert_close(p.safe_rps, 350, 1e-9);
    assert_int_equal(p.instances, 6);
    assert_close(p.load_per_instance, 300, 1e-9);
    assert_close(p.latency_at_peak_ms, 100, 1e-9);
    assert_close(p.cpu_cores, 0.9, 1e-9);
    assert_close(p.memory_mb, 444, 1e-9);
    assert_int_equal(p.extrapolated, 0);
}

static void test_capacity_plan_unreachable_target_is_edom(void **state)
{
    (void)state;
    struct capacity_fit f = {.base_ms = 40, .cap_rps = 500};
    struct capacity_plan p;
    assert_int_equal(capacity_plan(&f, 30, 1800, 0.2, &p), -EDOM);
    assert_int_equal(capacity_plan(&f, 250, 0, 0.2, &p), -EINVAL);
    assert_int_equal(capacity_plan(&f, 250, 100, -1, &p), -EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_capacity_fit_latency_exact_on_model_data),
        cmocka_unit_test(test_capacity_fit_latency_matches_scipy_curve_fit),
        cmocka_unit_test(test_capacity_fit_latency_flat_latency_is_edom),
        cmocka_unit_test(test_capacity_fit_latency_rejects_bad_input),
        cmocka_unit_test(test_capacity_quantile_matches_numpy),
        cmocka_unit_test(test_capacity_fit_all_resource_lines_match_numpy),
        cmocka_unit_test(test_capacity_plan_hand_case),
        cmocka_unit_test(test_capacity_plan_unreachable_target_is_edom),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
