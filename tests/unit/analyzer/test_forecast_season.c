/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Tests for analyzer/forecast_season.c: the autocorrelation against R's acf(), period
 * detection on synthetic series with known periods (and on noise, which has none), and
 * the decomposition recovering known profiles exactly.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>

#include "analyzer/forecast_season.h"
#include "testlib.h"

/* A fixed-seed generator (xorshift64*) and Box-Muller normals: reproducible noise. */
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

static void test_forecast_season_acf_matches_r(void **state)
{
    (void)state;
    static const double air[36] = {112, 118, 132, 129, 121, 135, 148, 148, 136, 119, 104, 118,
                                   115, 126, 141, 135, 125, 149, 170, 170, 158, 133, 114, 140,
                                   145, 150, 178, 163, 172, 178, 199, 199, 184, 162, 146, 166};
    double r[5];
    forecast_season_acf(air, 36, 4, r);
    /* acf(as.numeric(AirPassengers[1:36]), lag.max=4, plot=FALSE)$acf (R 4.2.2) */
    static const double want[5] = {1, 0.785036965605914, 0.539720806355329, 0.376371860219498,
                                   0.27292556366809};
    for (int k = 0; k < 5; k++)
        assert_close(r[k], want[k], 1e-13);
}

static size_t detect(const double *y, size_t n, size_t *p)
{
    double *work = calloc(3 * n, sizeof(double));
    size_t np = forecast_season_detect(y, n, p, FORECAST_MAX_PERIODS, work);
    free(work);
    return np;
}

static void test_forecast_season_detect_single_period(void **state)
{
    (void)state;
    size_t n = 240, p[FORECAST_MAX_PERIODS];
    double y[240];
    rng_state = 42;
    for (size_t t = 0; t < n; t++)
        y[t] = 10 + 0.05 * (double)t + 3 * sin(2 * M_PI * (double)t / 12) + rng_normal();
    assert_int_equal(detect(y, n, p), 1);
    assert_int_equal(p[0], 12);
}

static void test_forecast_season_detect_daily_and_weekly(void **state)
{
    (void)state;
    /* Hourly load: a daily shape, weekends at 60 %, noise; five weeks. */
    size_t n = 24 * 7 * 5, p[FORECAST_MAX_PERIODS];
    double *y = calloc(n, sizeof(double));
    rng_state = 7;
    for (size_t t = 0; t < n; t++) {
        double day = 100 + 40 * sin(2 * M_PI * (double)(t % 24) / 24);
        y[t] = day * ((t / 24) % 7 >= 5 ? 0.6 : 1.0) + 3 * rng_normal();
    }
    assert_int_equal(detect(y, n, p), 2);
    assert_int_equal(p[0], 24);
    assert_int_equal(p[1], 168);
    free(y);
}

static void test_forecast_season_detect_noise_has_none(void **state)
{
    (void)state;
    size_t n = 500, p[FORECAST_MAX_PERIODS];
    double y[500];
    rng_state = 3;
    for (size_t t = 0; t < n; t++)
        y[t] = rng_normal();
    assert_int_equal(detect(y, n, p), 0);
}

static void test_forecast_season_decompose_recovers_profiles(void **state)
{
    (void)state;
    /* Linear trend + period-4 profile + period-12 profile: centred moving averages remove
     * a line exactly, so the profiles come back to rounding. */
    static const double p4[4] = {3, -1, -4, 2}, p12[12] = {5, 4, 2, 0, -2, -5, -6, -3, 0, 1, 3, 1};
    size_t n = 96, periods[2] = {4, 12};
    double y[96], prof[16], adj[96], work[3 * 96];
    for (size_t t = 0; t < n; t++)
        y[t] = 20 + 0.5 * (double)t + p4[t % 4] + p12[t % 12];
    forecast_season_decompose(y, n, periods, 2, prof, adj, work);
    /* p12 has a period-4 component (mean of phases j, j+4, j+8); it is found in the first
     * profile, so compare the sum, which is what forecasts use. */
    for (size_t t = 0; t < 24; t++)
        assert_close(forecast_season_at(prof, periods, 2, t), p4[t % 4] + p12[t % 12], 1e-9);
    for (size_t t = 0; t < n; t++)
        assert_close(adj[t], 20 + 0.5 * (double)t, 1e-9);
}

static void test_forecast_season_decompose_ignores_outliers(void **state)
{
    (void)state;
    /* Medians per phase: one huge spike does not move the profile. */
    static const double p6[6] = {1, 2, 3, -3, -2, -1};
    size_t n = 60, periods[1] = {6};
    double y[60], prof[6], adj[60], work[180];
    for (size_t t = 0; t < n; t++)
        y[t] = 10 + p6[t % 6] + (t == 31 ? 500 : 0);
    forecast_season_decompose(y, n, periods, 1, prof, adj, work);
    for (size_t j = 0; j < 6; j++)
        assert_close(prof[j], p6[j], 1e-9);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_forecast_season_acf_matches_r),
        cmocka_unit_test(test_forecast_season_detect_single_period),
        cmocka_unit_test(test_forecast_season_detect_daily_and_weekly),
        cmocka_unit_test(test_forecast_season_detect_noise_has_none),
        cmocka_unit_test(test_forecast_season_decompose_recovers_profiles),
        cmocka_unit_test(test_forecast_season_decompose_ignores_outliers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
