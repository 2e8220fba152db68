/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Tests for analyzer/forecast.c: the normal quantile against scipy, exact continuation of
 * a noiseless seasonal series, interval coverage on simulated series, the forecast
 * distribution functions, determinism and input errors.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "analyzer/forecast.h"
#include "testlib.h"

static uint64_t rng_state;

static double rng_uniform(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return ((rng_state * 2685821657736338717ULL) >> 11) * (1.0 / 9007199254740992.0);
}

static double rng_normal(void)
{
    double u = rng_uniform(), v = rng_uniform();
    return sqrt(-2 * log(u + 1e-300)) * cos(2 * M_PI * v);
}

static void test_forecast_normal_quantile_matches_scipy(void **state)
{
    (void)state;
    /* /usr/bin/python3 -c "from scipy.stats import norm; print([repr(norm.ppf(p)) for p in
     *   (0.9, 0.975, 0.5, 0.3, 1e-10, 0.999999)])" (scipy 1.10.1) */
    assert_close(forecast_normal_quantile(0.9), 1.2815515655446004, 1e-14);
    assert_close(forecast_normal_quantile(0.975), 1.959963984540054, 1e-14);
    assert_close(forecast_normal_quantile(0.5), 0.0, 1e-15);
    assert_close(forecast_normal_quantile(0.3), -0.5244005127080409, 1e-14);
    assert_rel_close(forecast_normal_quantile(1e-10), -6.361340902404056, 1e-13);
    assert_rel_close(forecast_normal_quantile(0.999999), 4.753424308817087, 1e-12);
    assert_true(isnan(forecast_normal_quantile(1.5)));
}

static const struct forecast_opts default_opts = {
    .horizon = 24, .auto_period = 1, .nlevels = 2, .levels = {80, 95}};

static void test_forecast_new_continues_noiseless_seasonal_series(void **state)
{
    (void)state;
    static const double prof[8] = {5, 9, 14, 11, 7, 3, 1, 2};
    double y[96];
    for (int t = 0; t < 96; t++)
        y[t] = 40 + prof[t % 8];
    struct forecast *f = NULL;
    assert_int_equal(forecast_new(y, 96, &default_opts, &f, NULL), 0);
    assert_int_equal(f->nperiods, 1);
    assert_int_equal(f->periods[0], 8);
    assert_true(f->periods_detected);
    assert_true(f->lambda == 0);
    for (size_t k = 0; k < 24; k++)
        assert_rel_close(f->mean[k], 40 + prof[(96 + k) % 8], 1e-6);
    forecast_free(f);
}

/* Simulates a local level (random walk) with a daily profile and noise, n hours. */
static void simulate(double *y, size_t n)
{
    double level = 200, phase = 24 * rng_uniform();
    for (size_t t = 0; t < n; t++) {
        level += 0.8 * rng_normal();
        y[t] = level + 30 * sin(2 * M_PI * ((double)t + phase) / 24) + 4 * rng_normal();
    }
}

static void test_forecast_new_intervals_cover_simulated_series(void **state)
{
    (void)state;
    /* 150 series of 14 days forecast a day ahead with the true process known: the share of
     * future values inside the 80 % and 95 % intervals must be near the nominal level. */
    enum { NS = 150, N = 24 * 14, H = 24 };
    double y[N + H];
    size_t in80 = 0, in95 = 0, total = 0;
    struct forecast_opts o = default_opts;
    o.transform = FORECAST_TRANSFORM_NONE;
    rng_state = 2024;
    for (int s = 0; s < NS; s++) {
        simulate(y, N + H);
        struct forecast *f = NULL;
        assert_int_equal(forecast_new(y, N, &o, &f, NULL), 0);
        for (size_t k = 0; k < H; k++, total++) {
            double v = y[N + k];
            in80 += v >= f->lower[k] && v <= f->upper[k];
            in95 += v >= f->lower[H + k] && v <= f->upper[H + k];
        }
        forecast_free(f);
    }
    double c80 = (double)in80 / (double)total, c95 = (double)in95 / (double)total;
    print_message("coverage 80%%: %.3f, 95%%: %.3f\n", c80, c95);
    assert_true(c80 > 0.72 && c80 < 0.90);
    assert_true(c95 > 0.89 && c95 < 0.99);
}

static void test_forecast_exceed_prob_matches_intervals(void **state)
{
    (void)state;
    double y[24 * 10];
    rng_state = 11;
    simulate(y, 24 * 10);
    struct forecast *f = NULL;
    assert_int_equal(forecast_new(y, 24 * 10, &default_opts, &f, NULL), 0);
    assert_true(f->lambda == 0);
    for (size_t k = 0; k < 24; k += 5) {
        assert_close(forecast_exceed_prob(f, k, f->mean[k]), 0.5, 1e-12);
        assert_close(forecast_exceed_prob(f, k, f->upper[24 + k]), 0.025, 1e-9);
        assert_close(forecast_exceed_prob(f, k, f->lower[k]), 0.9, 1e-9);
        assert_true(f->sd[k] > 0 && (k == 0 || f->sd[k] >= f->sd[0]));
    }
    assert_true(isnan(forecast_exceed_prob(f, 24, 1)));
    assert_close(forecast_exceed_prob(f, 0, -1), 1.0, 0);
    forecast_free(f);
}

static void test_forecast_new_sd_is_interval_width_without_transform(void **state)
{
    (void)state;
    double y[200];
    rng_state = 5;
    simulate(y, 200);
    struct forecast_opts o = default_opts;
    o.transform = FORECAST_TRANSFORM_NONE;
    struct forecast *f = NULL;
    assert_int_equal(forecast_new(y, 200, &o, &f, NULL), 0);
    for (size_t k = 0; k < 24; k++)
        assert_rel_close(f->upper[24 + k] - f->lower[24 + k], 2 * 1.959963984540054 * f->sd[k],
                         1e-9);
    forecast_free(f);
}

static void test_forecast_new_is_deterministic(void **state)
{
    (void)state;
    double y[24 * 21];
    rng_state = 99;
    simulate(y, 24 * 21);
    struct forecast *a = NULL, *b = NULL;
    struct forecast_opts o = default_opts;
    o.auto_period = 0;
    o.nperiods = 2;
    o.periods[0] = 24;
    o.periods[1] = 168;
    assert_int_equal(forecast_new(y, 24 * 21, &o, &a, NULL), 0);
    assert_int_equal(forecast_new(y, 24 * 21, &o, &b, NULL), 0);
    assert_memory_equal(a->mean, b->mean, 24 * sizeof(double));
    assert_memory_equal(a->lower, b->lower, 2 * 24 * sizeof(double));
    assert_memory_equal(a->upper, b->upper, 2 * 24 * sizeof(double));
    assert_string_equal(a->description, b->description);
    assert_int_equal(a->nperiods, 2);
    forecast_free(a);
    forecast_free(b);
}

static void test_forecast_new_without_seasonality(void **state)
{
    (void)state;
    /* A random walk with negative values: no transform, no period, finite forecasts. */
    double y[300], v = 0;
    rng_state = 17;
    for (int t = 0; t < 300; t++)
        y[t] = (v += rng_normal());
    struct forecast *f = NULL;
    assert_int_equal(forecast_new(y, 300, &default_opts, &f, NULL), 0);
    assert_int_equal(f->nperiods, 0);
    assert_true(f->lambda == 1);
    for (size_t k = 0; k < 24; k++) {
        assert_true(isfinite(f->mean[k]));
        assert_true(fabs(f->mean[k] - y[299]) < 10);
        assert_true(f->lower[k] < f->mean[k] && f->mean[k] < f->upper[k]);
    }
    forecast_free(f);
}

static void test_forecast_new_rejects_bad_input(void **state)
{
    (void)state;
    double y[10] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
    struct forecast *f = NULL;
    struct err err = {0};
    struct forecast_opts o = default_opts;
    assert_int_equal(forecast_new(y, 3, &o, &f, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "at least 4"));
    assert_null(f);
    y[4] = NAN;
    assert_int_equal(forecast_new(y, 10, &o, &f, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "value 5"));
    y[4] = 0;
    o.transform = FORECAST_TRANSFORM_LOG;
    assert_int_equal(forecast_new(y, 10, &o, &f, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "log"));
    o = default_opts;
    o.horizon = 0;
    assert_int_equal(forecast_new(y, 10, &o, &f, &err), -EINVAL);
    o = default_opts;
    o.levels[1] = 100;
    assert_int_equal(forecast_new(y, 10, &o, &f, &err), -EINVAL);
    o = default_opts;
    o.auto_period = 0;
    o.nperiods = 2;
    o.periods[0] = 24;
    o.periods[1] = 12;
    assert_int_equal(forecast_new(y, 10, &o, &f, &err), -EINVAL);
    assert_null(f);
    forecast_free(NULL);
}

static void test_forecast_new_drops_periods_longer_than_half(void **state)
{
    (void)state;
    double y[30];
    for (int t = 0; t < 30; t++)
        y[t] = 10 + t % 3;
    struct forecast_opts o = default_opts;
    o.auto_period = 0;
    o.nperiods = 2;
    o.periods[0] = 3;
    o.periods[1] = 24;
    struct forecast *f = NULL;
    assert_int_equal(forecast_new(y, 30, &o, &f, NULL), 0);
    assert_int_equal(f->nperiods, 1);
    assert_int_equal(f->periods[0], 3);
    assert_rel_close(f->mean[0], 10, 1e-6);
    assert_rel_close(f->mean[1], 11, 1e-6);
    forecast_free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_forecast_normal_quantile_matches_scipy),
        cmocka_unit_test(test_forecast_new_continues_noiseless_seasonal_series),
        cmocka_unit_test(test_forecast_new_intervals_cover_simulated_series),
        cmocka_unit_test(test_forecast_exceed_prob_matches_intervals),
        cmocka_unit_test(test_forecast_new_sd_is_interval_width_without_transform),
        cmocka_unit_test(test_forecast_new_is_deterministic),
        cmocka_unit_test(test_forecast_new_without_seasonality),
        cmocka_unit_test(test_forecast_new_rejects_bad_input),
        cmocka_unit_test(test_forecast_new_drops_periods_longer_than_half),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
