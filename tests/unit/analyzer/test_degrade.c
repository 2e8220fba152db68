/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests of analyzer/degrade: the normal tail and the closed-form breach probability
 * against scipy, and the streaming predictor on series whose answer is known (a clean
 * linear ramp, a noisy ramp, a flat noisy series, spikes, bad input).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <math.h>

#include "analyzer/degrade.h"
#include "testlib.h"

/* Deterministic standard normal draws (xorshift64* and Box-Muller) for noisy series. */
struct rng {
    uint64_t s;
};

static double rng_uniform(struct rng *r)
{
    r->s ^= r->s >> 12, r->s ^= r->s << 25, r->s ^= r->s >> 27;
    return ((double)((r->s * 2685821657736338717ULL) >> 11) + 0.5) / 9007199254740992.0;
}

static double rng_normal(struct rng *r)
{
    double u = rng_uniform(r), v = rng_uniform(r);
    return sqrt(-2 * log(u)) * cos(2 * M_PI * v);
}

static void test_degrade_normal_cdf_matches_scipy(void **state)
{
    (void)state;
    /* /usr/bin/python3 -c 'from scipy.stats import norm; print(repr(norm.cdf(1.2345)))' */
    assert_close(degrade_normal_cdf(1.2345), 0.8914916766373298, 1e-12);
    /* /usr/bin/python3 -c 'from scipy.stats import norm; print(repr(norm.cdf(-2.5)))' */
    assert_close(degrade_normal_cdf(-2.5), 0.006209665325776132, 1e-12);
}

static void test_degrade_exceed_probability_matches_scipy(void **state)
{
    (void)state;
    /* /usr/bin/python3 -c 'from scipy.stats import norm; print(repr(norm.sf(150, loc=120,
     * scale=20)))' */
    assert_close(degrade_exceed_probability(120, 20, 150), 0.06680720126885807, 1e-12);
    assert_close(degrade_exceed_probability(151, 0, 150), 1.0, 0);
    assert_close(degrade_exceed_probability(149, 0, 150), 0.0, 0);
}

static void test_degrade_linear_breach_probability_matches_scipy(void **state)
{
    (void)state;
    /* /usr/bin/python3 -c 'from scipy.stats import norm; import numpy as np;
     *   L,b,s0,r,T,H,n=100.0,0.0125,5.0,0.1,150.0,3600.0,60; h=H*np.arange(1,n+1)/n;
     *   print(repr(max(norm.sf((T-(L+b*h))/np.sqrt(s0**2+r**2*h)))))'  -> 0.26102636185764405
     * and with b=0.01 -> 0.03652514874318164 */
    assert_close(degrade_linear_breach_probability(100, 0.0125, 5, 0.1, 150, 3600, 60),
                 0.26102636185764405, 1e-12);
    assert_close(degrade_linear_breach_probability(100, 0.01, 5, 0.1, 150, 3600, 60),
                 0.03652514874318164, 1e-12);
}

static void test_degrade_init_rejects_bad_horizon(void **state)
{
    (void)state;
    struct degrade d;
    assert_int_equal(degrade_init(&d, 100, 0), -EINVAL);
    assert_int_equal(degrade_init(&d, 100, -5), -EINVAL);
    assert_int_equal(degrade_init(&d, NAN, 3600), -EINVAL);
    assert_int_equal(degrade_init(&d, 100, 3600), 0);
}

static void test_degrade_update_rejects_bad_samples(void **state)
{
    (void)state;
    struct degrade d;
    struct degrade_result r;
    assert_int_equal(degrade_init(&d, 100, 3600), 0);
    assert_int_equal(degrade_update(&d, 1000, 1, &r), 0);
    assert_int_equal(degrade_update(&d, 1000, 2, &r), -EINVAL);
    assert_int_equal(degrade_update(&d, 999, 2, &r), -EINVAL);
    assert_int_equal(degrade_update(&d, 1030, NAN, &r), -EINVAL);
    assert_int_equal(degrade_update(&d, 1030, INFINITY, &r), -EINVAL);
    assert_int_equal(degrade_update(&d, 1030, 2, &r), 0);
}

/* Feeds value(t) = a + b t (+ sd noise) every 30 s for the given seconds; returns the
 * result after the last sample. */
static struct degrade_result feed(struct degrade *d, double a, double b, double sd, double seconds,
                                  uint64_t seed)
{
    struct rng g = {seed};
    struct degrade_result r = {0};
    for (double t = 0; t <= seconds; t += 30)
        assert_int_equal(degrade_update(d, t, a + b * t + sd * rng_normal(&g), &r), 0);
    return r;
}

static void test_degrade_update_clean_ramp_gives_exact_time_to_breach(void **state)
{
    (void)state;
    struct degrade d;
    /* 100 + 0.01 t reaches 480 at t = 38000; at t = 36000 that is 2000 s ahead, inside
     * the one-hour horizon. Ten hours of ramp let both filters settle on it. */
    assert_int_equal(degrade_init(&d, 480, 3600), 0);
    struct degrade_result r = feed(&d, 100, 0.01, 0, 36000, 1);
    assert_close(r.trend_per_s, 0.01, 1e-6);
    assert_close(r.level, 460, 1e-3);
    assert_close(r.time_to_breach_s, 2000, 1);
    assert_true(r.probability > 0.999);
}

static void test_degrade_update_clean_ramp_beyond_horizon_is_unlikely(void **state)
{
    (void)state;
    struct degrade d;
    /* Same ramp, threshold 400: the crossing is 12000 s ahead, beyond the horizon. */
    assert_int_equal(degrade_init(&d, 400, 3600), 0);
    struct degrade_result r = feed(&d, 100, 0.01, 0, 18000, 1);
    assert_true(r.probability < 0.001);
    assert_true(r.time_to_breach_s < 0);
}

static void test_degrade_update_noisy_ramp_warns_half_a_horizon_ahead(void **state)
{
    (void)state;
    struct degrade d;
    /* Noise sd 2 on a ramp of 36 per hour; the crossing is 1800 s after the last sample. */
    assert_int_equal(degrade_init(&d, 300 + 18, 3600), 0);
    struct degrade_result r = feed(&d, 100, 0.01, 2, 20000, 42);
    assert_rel_close(r.trend_per_s, 0.01, 0.15);
    assert_rel_close(r.time_to_breach_s, 1800, 0.2);
    assert_true(r.probability > 0.9);
}

static void test_degrade_update_flat_noise_is_quiet(void **state)
{
    (void)state;
    struct degrade d;
    /* Flat at 100 with sd 5 for a day; the threshold is 10 sd away. */
    assert_int_equal(degrade_init(&d, 150, 3600), 0);
    struct degrade_result r = feed(&d, 100, 0, 5, 86400, 7);
    assert_true(r.probability < 0.01);
    assert_close(r.level, 100, 3);
}

static void test_degrade_update_single_spike_does_not_warn(void **state)
{
    (void)state;
    struct degrade d;
    struct degrade_result r;
    struct rng g = {9};
    assert_int_equal(degrade_init(&d, 150, 3600), 0);
    double t = 0;
    for (; t < 43200; t += 30)
        assert_int_equal(degrade_update(&d, t, 100 + rng_normal(&g), &r), 0);
    assert_int_equal(degrade_update(&d, t, 1000, &r), 0); /* one row far above T */
    assert_true(r.probability < 0.5);
    for (int i = 0; i < 3; i++) {
        t += 30;
        assert_int_equal(degrade_update(&d, t, 100 + rng_normal(&g), &r), 0);
        assert_true(r.probability < 0.5);
    }
}

static void test_degrade_update_warning_fades_with_horizon(void **state)
{
    (void)state;
    struct degrade d;
    struct degrade_result r;
    /* A clean ramp that will cross 300 within the hour, then the indicator falls back
     * to 100 and stays there: the warning decays as p exp(-dt / H) rather than
     * vanishing at the next sample. */
    assert_int_equal(degrade_init(&d, 300, 3600), 0);
    r = feed(&d, 100, 0.01, 0, 18000, 1);
    double p = r.probability;
    assert_true(p > 0.99);
    double t = 18000, p0 = p;
    for (int i = 0; i < 240; i++) { /* two hours */
        t += 30;
        assert_int_equal(degrade_update(&d, t, 100, &r), 0);
        assert_true(r.probability >= p * exp(-30.0 / 3600) - 1e-12);
        p = r.probability;
    }
    /* Two horizons later the warning has faded below the 0.5 alarm line, but no faster
     * than p0 exp(-7200 / 3600). */
    assert_true(r.probability >= p0 * exp(-2.0) - 1e-12);
    assert_true(r.probability < 0.5);
}

static void test_degrade_update_is_causal(void **state)
{
    (void)state;
    struct degrade a, b;
    struct degrade_result ra, rb;
    struct rng g = {3};
    assert_int_equal(degrade_init(&a, 200, 1800), 0);
    assert_int_equal(degrade_init(&b, 200, 1800), 0);
    for (int i = 0; i < 2000; i++) {
        double v = 100 + 0.02 * i + 3 * rng_normal(&g);
        assert_int_equal(degrade_update(&a, 30.0 * i, v, &ra), 0);
        assert_int_equal(degrade_update(&b, 30.0 * i, v, &rb), 0);
        assert_close(ra.probability, rb.probability, 0);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_degrade_normal_cdf_matches_scipy),
        cmocka_unit_test(test_degrade_exceed_probability_matches_scipy),
        cmocka_unit_test(test_degrade_linear_breach_probability_matches_scipy),
        cmocka_unit_test(test_degrade_init_rejects_bad_horizon),
        cmocka_unit_test(test_degrade_update_rejects_bad_samples),
        cmocka_unit_test(test_degrade_update_clean_ramp_gives_exact_time_to_breach),
        cmocka_unit_test(test_degrade_update_clean_ramp_beyond_horizon_is_unlikely),
        cmocka_unit_test(test_degrade_update_noisy_ramp_warns_half_a_horizon_ahead),
        cmocka_unit_test(test_degrade_update_flat_noise_is_quiet),
        cmocka_unit_test(test_degrade_update_single_spike_does_not_warn),
        cmocka_unit_test(test_degrade_update_warning_fades_with_horizon),
        cmocka_unit_test(test_degrade_update_is_causal),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
