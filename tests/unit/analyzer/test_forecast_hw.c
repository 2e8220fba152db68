/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Known answers for the Holt-Winters family recursions (analyzer/forecast_hw.c) against
 * R 4.2.2 with the forecast package 8.20, on the first 36 values of R's AirPassengers.
 * Each value cites the R expression that produced it; x below is
 * x <- as.numeric(AirPassengers[1:36]).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "analyzer/forecast_hw.h"
#include "testlib.h"

static const double air[36] = {112, 118, 132, 129, 121, 135, 148, 148, 136, 119, 104, 118,
                               115, 126, 141, 135, 125, 149, 170, 170, 158, 133, 114, 140,
                               145, 150, 178, 163, 172, 178, 199, 199, 184, 162, 146, 166};

static double mean12(const double *x)
{
    double s = 0;
    for (int i = 0; i < 12; i++)
        s += x[i];
    return s / 12;
}

static void test_forecast_hw_filter_ses_matches_r(void **state)
{
    (void)state;
    /* R's HoltWinters starts SES at x[2] with level x[1]. */
    struct forecast_hw m = {.alpha = 0.3, .phi = 1, .level = air[0]};
    double sse = forecast_hw_filter(&m, air + 1, 35, NULL);
    /* HoltWinters(x, alpha=0.3, beta=FALSE, gamma=FALSE): $SSE, $coefficients */
    assert_rel_close(sse, 11919.4409526459, 1e-12);
    assert_rel_close(m.level, 167.127908050951, 1e-12);
}

static void test_forecast_hw_filter_holt_matches_r(void **state)
{
    (void)state;
    struct forecast_hw m = {
        .trend = 1, .alpha = 0.3, .beta = 0.1, .phi = 1, .level = air[1], .slope = air[1] - air[0]};
    double sse = forecast_hw_filter(&m, air + 2, 34, NULL), f[3];
    forecast_hw_predict(&m, 3, f);
    /* m <- HoltWinters(x, alpha=0.3, beta=0.1, gamma=FALSE); m$SSE; m$coefficients;
     * predict(m, 3) */
    assert_rel_close(sse, 13929.1367723651, 1e-12);
    assert_rel_close(m.level, 173.032594874763, 1e-12);
    assert_rel_close(m.slope, 1.14448583258533, 1e-12);
    assert_rel_close(f[0], 174.177080707348, 1e-12);
    assert_rel_close(f[2], 176.466052372519, 1e-12);
}

static void test_forecast_hw_filter_damped_matches_r(void **state)
{
    (void)state;
    struct forecast_hw m = {.trend = 1,
                            .alpha = 0.3,
                            .beta = 0.1,
                            .phi = 0.9,
                            .level = air[0],
                            .slope = air[1] - air[0]};
    double sse = forecast_hw_filter(&m, air, 36, NULL);
    /* z <- forecast:::zzhw(x, lenx=36, alpha=0.3, beta=0.1, gamma=FALSE,
     *   seasonal="additive", m=1, dotrend=TRUE, doseasonal=FALSE, phi=0.9,
     *   l.start=x[1], b.start=x[2]-x[1], s.start=0); z$SSE; z$level[37]; z$trend[37]
     * (zzhw's state vectors start with the initial state) */
    assert_rel_close(sse, 12204.1140431929, 1e-12);
    assert_rel_close(m.level, 169.947263982547, 1e-12);
    assert_rel_close(m.slope, -0.0892518037891071, 1e-10);
}

/* The seasonal update uses the new level, as stats::HoltWinters does (forecast's zzhw uses
 * the previous one, so it is not the reference here; damping is checked above). */
static void test_forecast_hw_filter_additive_seasonal_matches_r(void **state)
{
    (void)state;
    double seas[12], ls = mean12(air), f[3];
    for (int i = 0; i < 12; i++)
        seas[i] = air[i] - ls;
    struct forecast_hw m = {.trend = 1,
                            .season = FORECAST_SEASON_ADD,
                            .period = 12,
                            .alpha = 0.3,
                            .beta = 0.1,
                            .gamma = 0.2,
                            .phi = 1,
                            .level = ls,
                            .slope = (mean12(air + 12) - ls) / 12,
                            .seasonal = seas};
    double sse = forecast_hw_filter(&m, air + 12, 24, NULL);
    forecast_hw_predict(&m, 3, f);
    /* ls <- mean(x[1:12]); bs <- (mean(x[13:24]) - ls)/12
     * m <- HoltWinters(ts(x, frequency=12), alpha=0.3, beta=0.1, gamma=0.2,
     *   seasonal="additive", l.start=ls, b.start=bs, s.start=x[1:12]-ls)
     * m$SSE; m$coefficients (a, b, s1..s12); predict(m, 3) */
    assert_rel_close(sse, 1277.54651889296, 1e-11);
    assert_rel_close(m.level, 177.491861790168, 1e-12);
    assert_rel_close(m.slope, 1.78228999622137, 1e-11);
    assert_int_equal(m.pos, 0);
    assert_rel_close(seas[0], -12.8333525754059, 1e-11);
    assert_rel_close(seas[6], 23.1903687847736, 1e-11);
    assert_rel_close(seas[11], -8.93891705754172, 1e-11);
    assert_rel_close(f[0], 166.440799210983, 1e-12);
    assert_rel_close(f[2], 190.831845506223, 1e-12);
}

static void test_forecast_hw_filter_multiplicative_matches_r(void **state)
{
    (void)state;
    double seas[12], ls = mean12(air), f[3];
    for (int i = 0; i < 12; i++)
        seas[i] = air[i] / ls;
    /* R's HoltWinters starts a seasonal model at x[13] with the given start values. */
    struct forecast_hw m = {.trend = 1,
                            .season = FORECAST_SEASON_MUL,
                            .period = 12,
                            .alpha = 0.3,
                            .beta = 0.1,
                            .gamma = 0.2,
                            .phi = 1,
                            .level = ls,
                            .slope = (mean12(air + 12) - ls) / 12,
                            .seasonal = seas};
    double sse = forecast_hw_filter(&m, air + 12, 24, NULL);
    forecast_hw_predict(&m, 3, f);
    /* m <- HoltWinters(ts(x, frequency=12), alpha=0.3, beta=0.1, gamma=0.2,
     *   seasonal="multiplicative", l.start=ls, b.start=bs, s.start=x[1:12]/ls);
     * m$SSE; m$coefficients (a, b, s1..s12); predict(m, 3) */
    assert_rel_close(sse, 1005.18782102965, 1e-11);
    assert_rel_close(m.level, 179.272418704298, 1e-12);
    assert_rel_close(m.slope, 2.02948280035677, 1e-11);
    assert_rel_close(seas[0], 0.898506010131187, 1e-12);
    assert_rel_close(seas[11], 0.933562374067785, 1e-12);
    assert_rel_close(f[0], 162.900848150145, 1e-12);
    assert_rel_close(f[1], 172.584496570738, 1e-12);
    assert_rel_close(f[2], 195.668011080667, 1e-12);
}

static void test_forecast_hw_varfactor_matches_r_ets(void **state)
{
    (void)state;
    /* HW beta 0.1 and gamma 0.2 are ETS beta 0.3*0.1 = 0.03 and gamma 0.2*(1-0.3) = 0.14.
     * fit <- ets(ts(x, frequency=4), model="AAA", damped=TRUE, alpha=0.3, beta=0.03,
     *   gamma=0.14, phi=0.9); fc <- forecast(fit, h=9, level=95)
     * w <- (fc$upper-fc$lower)/(2*qnorm(.975)); (w/w[1])^2 */
    static const double want[9] = {1,
                                   1.106929,
                                   1.23034069,
                                   1.3695965389,
                                   1.653528858509,
                                   1.82209469479229,
                                   2.00400626820176,
                                   2.19836366408142,
                                   2.55093105294415};
    struct forecast_hw m = {.trend = 1,
                            .season = FORECAST_SEASON_ADD,
                            .period = 4,
                            .alpha = 0.3,
                            .beta = 0.1,
                            .gamma = 0.2,
                            .phi = 0.9};
    double v[9];
    forecast_hw_varfactor(&m, 9, v);
    for (int k = 0; k < 9; k++)
        assert_rel_close(v[k], want[k], 1e-9);
}

static double holt_sse(double alpha, double beta)
{
    struct forecast_hw m = {.trend = 1,
                            .alpha = alpha,
                            .beta = beta,
                            .phi = 1,
                            .level = air[1],
                            .slope = air[1] - air[0]};
    return forecast_hw_filter(&m, air + 2, 34, NULL);
}

static void test_forecast_hw_fit_beats_grid_search(void **state)
{
    (void)state;
    /* The fitted (alpha, beta) must be at least as good as the best point of a 0.01 grid
     * over the unit square (the optimiser works on the same objective). */
    double best = INFINITY;
    for (int i = 1; i < 100; i++)
        for (int j = 1; j < 100; j++)
            best = fmin(best, holt_sse(i / 100.0, j / 100.0));
    struct forecast_hw m = {
        .trend = 1, .alpha = 0.5, .beta = 0.1, .phi = 1, .level = air[1], .slope = air[1] - air[0]};
    struct forecast_hw_fit_opts o = {.max_evals = 400};
    double sse = forecast_hw_fit(&m, air + 2, 34, &o, NULL);
    assert_true(sse <= best * (1 + 1e-6));
    assert_close(holt_sse(m.alpha, m.beta), sse, 1e-9 * sse);
}

static void test_forecast_hw_fit_multistep_prefers_smooth_level(void **state)
{
    (void)state;
    /* A smooth cycle the (non-seasonal) model cannot represent: one-step errors favour
     * tracking it (alpha and beta high), which extrapolates each swing; the 12-step
     * criterion must find parameters clearly better on its own objective. */
    double y[120];
    for (int t = 0; t < 120; t++)
        y[t] = 50 + 8 * sin(2 * M_PI * t / 10) + 0.1 * t;
    struct forecast_hw a = {.trend = 1, .alpha = 0.5, .beta = 0.1, .phi = 0.95, .level = 50};
    struct forecast_hw b = a;
    struct forecast_hw_fit_opts one = {.fit_phi = 1, .max_evals = 300};
    struct forecast_hw_fit_opts multi = {
        .fit_phi = 1, .max_evals = 300, .horizon = 12, .stride = 6};
    forecast_hw_fit(&a, y, 120, &one, NULL);
    forecast_hw_fit(&b, y, 120, &multi, NULL);
    struct forecast_hw a0 = a, b0 = b;
    a0.level = b0.level = 50;
    a0.slope = b0.slope = 0;
    double ea = forecast_hw_filter_multistep(&a0, y, 120, 12, 6);
    double eb = forecast_hw_filter_multistep(&b0, y, 120, 12, 6);
    assert_true(eb < 0.8 * ea);
    assert_true(b.phi >= 0.8 && b.phi <= 0.98);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_forecast_hw_filter_ses_matches_r),
        cmocka_unit_test(test_forecast_hw_filter_holt_matches_r),
        cmocka_unit_test(test_forecast_hw_filter_damped_matches_r),
        cmocka_unit_test(test_forecast_hw_filter_additive_seasonal_matches_r),
        cmocka_unit_test(test_forecast_hw_filter_multiplicative_matches_r),
        cmocka_unit_test(test_forecast_hw_varfactor_matches_r_ets),
        cmocka_unit_test(test_forecast_hw_fit_beats_grid_search),
        cmocka_unit_test(test_forecast_hw_fit_multistep_prefers_smooth_level),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
