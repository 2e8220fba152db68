/* SPDX-License-Identifier: Apache-2.0 */
/*
 * forecast: the analyzer's seasonal forecaster. Given a series (regularly spaced values,
 * oldest first) and options, fits a small ensemble of exponential smoothing models and
 * returns point forecasts, the forecast error standard deviation per step and prediction
 * intervals, with a description of the fitted model, its parameters and its in-sample
 * error. Pure: no I/O, no globals; the result (and everything it points to) is allocated
 * here and handed to the caller, who frees it with forecast_free().
 *
 * Method (details in docs/cli-analyze-forecast.md):
 *  1. Box-Cox transform: log when every value is positive (unless disabled).
 *  2. Seasonal periods: given, or detected from the autocorrelation (forecast_season.h).
 *  3. Robust multi-seasonal decomposition: median profiles per period, which initialise
 *     the seasonal states and stay fixed for the periods a member does not smooth.
 *  4. Members, each fitted by Nelder-Mead on the mean squared 1..horizon-step error:
 *     damped additive Holt-Winters on the shortest period (longer profiles fixed), the
 *     same without trend, damped Holt-Winters on the longest period, and the seasonal
 *     naive forecast of the longest period. The forecast is their per-step median,
 *     transformed back (a median forecast). Without seasonality: the mean of damped
 *     Holt, Holt and simple exponential smoothing.
 *  5. Intervals: the first member's h-step variance (ETS class 1 formula), scaled by the
 *     ratio of the ensemble's errors on a hold-out (the last `horizon` values, refitted
 *     without them) to that variance, at least 0.7, normal in the transformed scale.
 */
#ifndef DOPPEL_ANALYZER_FORECAST_H
#define DOPPEL_ANALYZER_FORECAST_H

#include <stddef.h>

#include "analyzer/forecast_hw.h"
#include "analyzer/forecast_season.h"
#include "base/err.h"

#define FORECAST_MAX_LEVELS 8
#define FORECAST_MAX_HORIZON 100000
#define FORECAST_MEMBERS 4

enum forecast_transform {
    FORECAST_TRANSFORM_AUTO = 0, /* log when all values are > 0, else none */
    FORECAST_TRANSFORM_NONE = 1,
    FORECAST_TRANSFORM_LOG = 2, /* fails on values <= 0 */
};

struct forecast_opts {
    size_t horizon;                       /* steps to forecast, >= 1 */
    int auto_period;                      /* 1: detect periods (ignore periods[]) */
    size_t periods[FORECAST_MAX_PERIODS]; /* ascending, each >= 2; none = not seasonal */
    size_t nperiods;
    double levels[FORECAST_MAX_LEVELS]; /* interval coverage in percent, e.g. 80, 95 */
    size_t nlevels;
    enum forecast_transform transform;
};

struct forecast {
    size_t n;       /* length of the series fitted */
    size_t horizon; /* steps forecast */
    double *mean;   /* [horizon] point forecast (median of the forecast distribution) */
    double *sd;     /* [horizon] forecast error standard deviation, original scale */
    double *center; /* [horizon] mean of the forecast distribution, transformed scale */
    double *sd_t;   /* [horizon] its standard deviation, transformed scale (normal) */
    size_t nlevels;
    double levels[FORECAST_MAX_LEVELS];
    double *lower; /* [nlevels * horizon]: lower[l * horizon + k] for level l, step k+1 */
    double *upper;
    double *fitted; /* [n] in-sample one-step fitted values of member hw[0] */

    /* The fitted model. */
    double lambda;                        /* Box-Cox parameter: 1 none, 0 log */
    size_t periods[FORECAST_MAX_PERIODS]; /* seasonal periods used */
    size_t nperiods;
    int periods_detected; /* 1 when found by forecast_season_detect */
    /* The smoothing members (seasonal = NULL: their states are not kept): [0] damped
     * additive Holt-Winters on the shortest period, [1] the same without trend, [2] damped
     * Holt-Winters on the longest period when there are two or more (else simple
     * exponential smoothing on the seasonally adjusted series). Member [3] is the
     * seasonal naive forecast of the longest period. Without seasonality: [0] damped
     * Holt, [1] Holt, [2] simple exponential smoothing, [3] naive (not combined). */
    struct forecast_hw hw[FORECAST_MEMBERS - 1];
    double member[FORECAST_MEMBERS]; /* hold-out sMAPE of each member (0: no hold-out) */
    double sigma;                    /* one-step error sd of hw[0], transformed scale */
    double calibration;              /* interval scale factor from the hold-out (>= 0.7) */
    char description[256];

    /* In-sample accuracy of the one-step fitted values (original scale). */
    double mae, rmse, mase; /* mase scaled by the seasonal naive error of the first period */
    double holdout_smape;   /* sMAPE of the ensemble on the last `horizon` values, refitted */

    double *work; /* owned scratch, kept with the result so nothing else is allocated */
};

/*
 * Fits y[0..n) and forecasts o->horizon steps. Needs n >= 4 and finite values.
 * Returns 0 and *out (free with forecast_free), or -EINVAL with a sentence in err.
 */
int forecast_new(const double *y, size_t n, const struct forecast_opts *o, struct forecast **out,
                 struct err *err);
void forecast_free(struct forecast *f);

/* P(value at step k+1 > threshold) under the forecast distribution, k < horizon. */
double forecast_exceed_prob(const struct forecast *f, size_t k, double threshold);

/* The standard normal quantile function (inverse CDF), 0 < p < 1. */
double forecast_normal_quantile(double p);

#endif
