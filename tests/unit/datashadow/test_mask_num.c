/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Tests for datashadow/mask_num: Laplace draws against the moments and probabilities of
 * scipy.stats.laplace, noise that keeps integers integral and inside their type, and
 * generalize:STEP against Python's decimal module (exact, also past 64-bit numbers).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "datashadow/mask_num.h"
#include "testlib.h"

enum { DRAWS = 20000 };

/* Reference values for scale b = 4 (sensitivity 2, epsilon 0.5):
 *   /usr/bin/python3 -c 'from scipy.stats import laplace; d = laplace(scale=4);
 *     print(d.stats(moments="mv"), d.moment(4), d.cdf(4) - d.cdf(-4), d.cdf(12) - d.cdf(-12))'
 *   -> mean 0.0, variance 32.0, 4th moment 6144.0, P(|X|<=4) 0.6321205588285577,
 *      P(|X|<=12) 0.9502129316321362
 * Tolerances are 5 standard errors for 20000 draws: sqrt(32/N) for the mean,
 * sqrt((6144 - 32^2)/N) for the variance, sqrt(p(1-p)/N) for the probabilities. */
#define LAP_VAR 32.0
#define LAP_M4 6144.0
#define LAP_P1 0.6321205588285577
#define LAP_P3 0.9502129316321362

static void check_laplace_sample(const double *x, size_t n, double center)
{
    double mean = 0, var = 0, in1 = 0, in3 = 0;
    for (size_t i = 0; i < n; i++)
        mean += x[i] / (double)n;
    for (size_t i = 0; i < n; i++) {
        double d = x[i] - center;
        var += (x[i] - mean) * (x[i] - mean) / (double)(n - 1);
        in1 += fabs(d) <= 4;
        in3 += fabs(d) <= 12;
    }
    assert_close(mean, center, 5 * sqrt(LAP_VAR / (double)n));
    assert_close(var, LAP_VAR, 5 * sqrt((LAP_M4 - LAP_VAR * LAP_VAR) / (double)n));
    assert_close(in1 / (double)n, LAP_P1, 5 * sqrt(LAP_P1 * (1 - LAP_P1) / (double)n));
    assert_close(in3 / (double)n, LAP_P3, 5 * sqrt(LAP_P3 * (1 - LAP_P3) / (double)n));
}

static void test_mask_laplace_matches_scipy_moments(void **state)
{
    (void)state;
    double *x = malloc(DRAWS * sizeof(*x));
    struct rng g;

    rng_seed(&g, 42);
    for (size_t i = 0; i < DRAWS; i++) {
        x[i] = mask_laplace(&g, 2.0 / 0.5);
        assert_true(isfinite(x[i]));
    }
    check_laplace_sample(x, DRAWS, 0);
    free(x);
}

static void test_mask_num_noise_float_text_matches_scipy_moments(void **state)
{
    (void)state;
    double *x = malloc(DRAWS * sizeof(*x));
    struct rng g;
    struct buf b;

    buf_init(&b, 64);
    rng_seed(&g, 43);
    for (size_t i = 0; i < DRAWS; i++) {
        buf_reset(&b);
        assert_int_equal(mask_num_noise(MASK_T_FLOAT, "1000.5", 6, 4.0, &g, &b), 0);
        x[i] = strtod(b.data, NULL);
    }
    check_laplace_sample(x, DRAWS, 1000.5);
    free(x);
    buf_release(&b);
}

static void test_mask_num_noise_int_stays_integral_and_in_range(void **state)
{
    (void)state;
    struct rng g;
    struct buf b;
    int at_max = 0;
    double sum = 0;

    buf_init(&b, 64);
    rng_seed(&g, 44);
    for (int i = 0; i < DRAWS; i++) {
        int64_t v;
        buf_reset(&b);
        assert_int_equal(mask_num_noise(MASK_T_INT2, "32700", 5, 1000, &g, &b), 0);
        assert_int_equal(mask_int_parse(MASK_T_INT2, b.data, b.len, &v), 0); /* integral */
        at_max += v == INT16_MAX;
        buf_reset(&b);
        assert_int_equal(mask_num_noise(MASK_T_INT8, "-5", 2, 4, &g, &b), 0);
        assert_int_equal(mask_int_parse(MASK_T_INT8, b.data, b.len, &v), 0);
        sum += (double)v;
    }
    assert_true(at_max > DRAWS / 4); /* saturated, never past int2 */
    /* rounding keeps the mean: 5 standard errors, variance 32 + 1/12 */
    assert_close(sum / DRAWS, -5, 5 * sqrt((LAP_VAR + 1.0 / 12) / DRAWS));
    buf_reset(&b);
    assert_int_equal(mask_num_noise(MASK_T_INT8, "-9223372036854775808", 20, 1e30, &g, &b), 0);
    assert_true(b.data[0] == '-' || b.data[0] == '9'); /* saturates at either end */
    buf_release(&b);
}

static void test_mask_num_noise_numeric_keeps_scale_and_specials(void **state)
{
    (void)state;
    static const char *const keep[] = {"NaN", "Infinity", "-Infinity"};
    struct rng g;
    struct buf b;

    buf_init(&b, 64);
    rng_seed(&g, 45);
    for (int i = 0; i < 100; i++) {
        buf_reset(&b);
        assert_int_equal(mask_num_noise(MASK_T_NUMERIC, "100.250", 7, 10, &g, &b), 0);
        const char *dot = strchr(b.data, '.');
        assert_non_null(dot);
        assert_int_equal(strlen(dot + 1), 3);
        assert_true(strspn(b.data + (b.data[0] == '-'), "0123456789.") ==
                    b.len - (b.data[0] == '-'));
    }
    for (size_t i = 0; i < 3; i++) {
        buf_reset(&b);
        assert_int_equal(mask_num_noise(MASK_T_NUMERIC, keep[i], strlen(keep[i]), 1, &g, &b), 0);
        assert_string_equal(b.data, keep[i]);
    }
    buf_release(&b);
}

static void test_mask_num_noise_rejects_bad_values(void **state)
{
    (void)state;
    static const struct {
        enum mask_type t;
        const char *v;
    } bad[] = {{MASK_T_INT, "abc"},
               {MASK_T_INT, "1.5"},
               {MASK_T_INT2, "40000"},
               {MASK_T_INT, ""},
               {MASK_T_INT, " 5"},
               {MASK_T_NUMERIC, "1e5"},
               {MASK_T_NUMERIC, "1."},
               {MASK_T_NUMERIC, "-"},
               {MASK_T_FLOAT, "abc"},
               {MASK_T_FLOAT, "1e999"},
               {MASK_T_INT8, "9223372036854775808"}};
    struct rng g;
    struct buf b;

    buf_init(&b, 64);
    rng_seed(&g, 1);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(mask_num_noise(bad[i].t, bad[i].v, strlen(bad[i].v), 1, &g, &b), -EINVAL);
        assert_int_equal(mask_num_generalize(bad[i].t, bad[i].v, strlen(bad[i].v), 1, &b), -EINVAL);
        assert_false(mask_num_valid(bad[i].t, bad[i].v, strlen(bad[i].v)));
    }
    buf_release(&b);
}

static void expect_gen(enum mask_type t, const char *in, double step, const char *want)
{
    struct buf b;
    buf_init(&b, 128);
    assert_int_equal(mask_num_generalize(t, in, strlen(in), step, &b), 0);
    assert_string_equal(b.data, want);
    buf_release(&b);
}

static void test_mask_num_generalize_matches_python_decimal(void **state)
{
    (void)state;
    /* /usr/bin/python3 -c 'from decimal import Decimal as D, ROUND_FLOOR;
     *   print((D(X) / D(S)).to_integral_value(rounding=ROUND_FLOOR) * D(S))' */
    expect_gen(MASK_T_INT, "-35", 10, "-40");
    expect_gen(MASK_T_INT, "35", 10, "30");
    expect_gen(MASK_T_INT, "40", 10, "40");
    expect_gen(MASK_T_NUMERIC, "0.3", 0.1, "0.3");
    expect_gen(MASK_T_NUMERIC, "123.456", 10, "120");
    expect_gen(MASK_T_NUMERIC, "-0.05", 0.1, "-0.1");
    expect_gen(MASK_T_NUMERIC, "12.5", 0.5, "12.5");
    expect_gen(MASK_T_NUMERIC, "99.99", 0.05, "99.95");
    expect_gen(MASK_T_NUMERIC, "0.004", 0.01, "0.00");
    expect_gen(MASK_T_NUMERIC, "123456789012345678901234.5", 1, "123456789012345678901234");
    expect_gen(MASK_T_FLOAT, "7.9", 0.25, "7.75");
    /* D("1e+20") / D(1000) floored times 1000 = 1.000E+20; past 2^53 a float is written
     * with 17 significant digits: ... print("%.17g" % float(<the same expression>)) */
    expect_gen(MASK_T_FLOAT, "1e+20", 1000, "1e+20");
    expect_gen(MASK_T_FLOAT, "-2.5e+70", 7, "-2.5000000000000001e+70");
    expect_gen(MASK_T_NUMERIC, "NaN", 10, "NaN");
    expect_gen(MASK_T_FLOAT, "-Infinity", 10, "-Infinity");
}

static void test_mask_num_generalize_stays_in_the_integer_range(void **state)
{
    (void)state;
    /* The floor of -32768 to 1000 is -33000, outside int2: the multiple above is used. */
    expect_gen(MASK_T_INT2, "-32768", 1000, "-32000");
    expect_gen(MASK_T_INT8, "-9223372036854775808", 10, "-9223372036854775800");
    expect_gen(MASK_T_INT2, "-5", 100000, "0");
    struct buf b;
    buf_init(&b, 64);
    assert_int_equal(mask_num_generalize(MASK_T_INT, "5", 1, 0.5, &b), -EINVAL);
    buf_release(&b);
}

static void test_mask_num_step_ok_limits_digits(void **state)
{
    (void)state;
    assert_true(mask_num_step_ok(0.1));
    assert_true(mask_num_step_ok(0.000000001));
    assert_true(mask_num_step_ok(1000));
    assert_false(mask_num_step_ok(1e-10));
    assert_false(mask_num_step_ok(1e17));
    assert_false(mask_num_step_ok(0));
    assert_false(mask_num_step_ok(-1));
    assert_true(mask_num_step_whole(10));
    assert_false(mask_num_step_whole(2.5));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mask_laplace_matches_scipy_moments),
        cmocka_unit_test(test_mask_num_noise_float_text_matches_scipy_moments),
        cmocka_unit_test(test_mask_num_noise_int_stays_integral_and_in_range),
        cmocka_unit_test(test_mask_num_noise_numeric_keeps_scale_and_specials),
        cmocka_unit_test(test_mask_num_noise_rejects_bad_values),
        cmocka_unit_test(test_mask_num_generalize_matches_python_decimal),
        cmocka_unit_test(test_mask_num_generalize_stays_in_the_integer_range),
        cmocka_unit_test(test_mask_num_step_ok_limits_digits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
