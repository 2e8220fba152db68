/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for analyzer/optim.c: Nelder-Mead on functions with known minima. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>

#include "analyzer/optim.h"
#include "testlib.h"

static double rosenbrock(const double *x, void *ctx)
{
    (void)ctx;
    return 100 * pow(x[1] - x[0] * x[0], 2) + pow(1 - x[0], 2);
}

static double shifted_bowl(const double *x, void *ctx)
{
    const double *c = ctx;
    double s = 0;
    for (int i = 0; i < 4; i++)
        s += (i + 1) * (x[i] - c[i]) * (x[i] - c[i]);
    return s + 7;
}

static double nan_outside(const double *x, void *ctx)
{
    (void)ctx;
    return x[0] < 0 ? NAN : (x[0] - 2) * (x[0] - 2);
}

static void test_optim_nelder_mead_rosenbrock_minimum(void **state)
{
    (void)state;
    double x[2] = {-1.2, 1}, step[2] = {0.5, 0.5}, f;
    assert_int_equal(optim_nelder_mead(rosenbrock, NULL, x, step, 2, 2000, 1e-14, &f), 0);
    assert_close(x[0], 1, 1e-3);
    assert_close(x[1], 1, 2e-3);
    assert_true(f < 1e-6);
}

static void test_optim_nelder_mead_four_dims(void **state)
{
    (void)state;
    double c[4] = {1, -2, 3, 0.5}, x[4] = {0, 0, 0, 0}, step[4] = {1, 1, 1, 1}, f;
    optim_nelder_mead(shifted_bowl, c, x, step, 4, 3000, 1e-15, &f);
    for (int i = 0; i < 4; i++)
        assert_close(x[i], c[i], 1e-4);
    assert_close(f, 7, 1e-7);
}

static void test_optim_nelder_mead_treats_nan_as_worst(void **state)
{
    (void)state;
    double x[1] = {-0.5}, step[1] = {1}, f;
    optim_nelder_mead(nan_outside, NULL, x, step, 1, 500, 1e-14, &f);
    assert_close(x[0], 2, 1e-4);
}

static void test_optim_nelder_mead_rejects_bad_dim(void **state)
{
    (void)state;
    double x[1] = {0}, step[1] = {1};
    assert_int_equal(optim_nelder_mead(rosenbrock, NULL, x, step, 0, 10, 1e-8, NULL), -EINVAL);
    assert_int_equal(
        optim_nelder_mead(rosenbrock, NULL, x, step, OPTIM_MAX_DIM + 1, 10, 1e-8, NULL), -EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_optim_nelder_mead_rosenbrock_minimum),
        cmocka_unit_test(test_optim_nelder_mead_four_dims),
        cmocka_unit_test(test_optim_nelder_mead_treats_nan_as_worst),
        cmocka_unit_test(test_optim_nelder_mead_rejects_bad_dim),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
