/* SPDX-License-Identifier: Apache-2.0 */
/*
 * forecast_season: seasonality for the forecaster — the sample autocorrelation function,
 * detection of seasonal periods (one, or a period and a multiple of it such as 24 and
 * 168 in hourly data) and a robust decomposition into several seasonal profiles.
 * Pure: work buffers are the caller's; nothing is allocated.
 */
#ifndef DOPPEL_ANALYZER_FORECAST_SEASON_H
#define DOPPEL_ANALYZER_FORECAST_SEASON_H

#include <stddef.h>

#define FORECAST_MAX_PERIODS 4

/* Sample autocorrelation r[0..maxlag] of y[0..n) (r[0] = 1), as R's acf(). */
void forecast_season_acf(const double *y, size_t n, size_t maxlag, double *r);

/*
 * Detects seasonal periods of y[0..n): the autocorrelation of the linearly detrended
 * series is searched for a significant peak (above the 90 % one-sided bound
 * 1.645*sqrt((1 + 2*sum r_i^2)/n), as the M4 seasonality test) at lags 2..n/2; the
 * strongest peak is reduced to its shortest divisor that is itself a strong peak, and
 * a multiple of that period whose peak is higher still is kept as a second period.
 * Writes at most max periods (ascending) to periods and returns how many (0 = none).
 * work holds 2*n + n/2 + 1 doubles.
 */
size_t forecast_season_detect(const double *y, size_t n, size_t *periods, size_t max, double *work);

/*
 * Decomposes y[0..n) into seasonal profiles for each period (ascending) and the
 * seasonally adjusted rest. profile holds sum(periods) doubles: the profile of period
 * p_i starts after those of the shorter periods, and value j applies at every t with
 * t % p_i == j (so the forecast for t >= n continues it). Each profile is the per-phase
 * median of the series minus a centred moving average of length p_i (2xp_i when even),
 * centred to mean 0, estimated in turn and refined once more with the others removed
 * (as MSTL does, with medians for robustness). Periods longer than n/2 are skipped
 * (their profile is 0). adjusted gets y minus all profiles. work holds 3*n doubles.
 */
void forecast_season_decompose(const double *y, size_t n, const size_t *periods, size_t np,
                               double *profile, double *adjusted, double *work);

/* Sum of the profiles at time t (any t, also beyond the series). */
double forecast_season_at(const double *profile, const size_t *periods, size_t np, size_t t);

#endif
