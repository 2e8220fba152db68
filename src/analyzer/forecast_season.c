/* SPDX-License-Identifier: Apache-2.0 */
/*
 * forecast_season: autocorrelation, period detection and robust multi-seasonal
 * decomposition (see forecast_season.h). Called by forecast.c; owns nothing.
 */
#include "analyzer/forecast_season.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void forecast_season_acf(const double *y, size_t n, size_t maxlag, double *r)
{
    double mean = 0, c0 = 0;
    for (size_t t = 0; t < n; t++)
        mean += y[t];
    mean /= (double)n;
    for (size_t t = 0; t < n; t++)
        c0 += (y[t] - mean) * (y[t] - mean);
    for (size_t k = 0; k <= maxlag; k++) {
        double c = 0;
        for (size_t t = k; t < n; t++)
            c += (y[t] - mean) * (y[t - k] - mean);
        r[k] = c0 > 0 ? c / c0 : 0.0;
    }
}

/* d = y minus its least-squares line. */
static void detrend_linear(const double *y, size_t n, double *d)
{
    double tm = ((double)n - 1) / 2, ym = 0, sxy = 0, sxx = 0;
    for (size_t t = 0; t < n; t++)
        ym += y[t];
    ym /= (double)n;
    for (size_t t = 0; t < n; t++) {
        sxy += ((double)t - tm) * (y[t] - ym);
        sxx += ((double)t - tm) * ((double)t - tm);
    }
    double b = sxx > 0 ? sxy / sxx : 0;
    for (size_t t = 0; t < n; t++)
        d[t] = y[t] - ym - b * ((double)t - tm);
}

/* 1 when lag k is a local maximum of r above the significance bound. */
static int acf_peak(const double *r, const double *bound, size_t k, size_t maxlag)
{
    if (k < 2 || k >= maxlag)
        return 0;
    return r[k] > bound[k] && r[k] >= r[k - 1] && r[k] >= r[k + 1] && r[k] > 0.1;
}

/* The shortest divisor d of p (p/d >= 2) with a peak at least half as high as p's. */
static size_t acf_fundamental(const double *r, const double *bound, size_t p, size_t maxlag)
{
    for (size_t q = 2; q < p; q++) {
        if (p % q != 0 || !acf_peak(r, bound, q, maxlag))
            continue;
        if (r[q] >= 0.5 * r[p])
            return q;
    }
    return p;
}

size_t forecast_season_detect(const double *y, size_t n, size_t *periods, size_t max, double *work)
{
    if (n < 8 || max == 0)
        return 0;
    size_t maxlag = n / 2;
    double *d = work, *r = work + n, *bound = work + n + maxlag + 1;
    detrend_linear(y, n, d);
    forecast_season_acf(d, n, maxlag, r);
    double acc = 0;
    for (size_t k = 1; k <= maxlag; k++) {
        bound[k] = 1.645 * sqrt((1 + 2 * acc) / (double)n);
        acc += r[k] * r[k];
    }
    size_t best = 0;
    for (size_t k = 2; k < maxlag; k++)
        if (acf_peak(r, bound, k, maxlag) && (best == 0 || r[k] > r[best]))
            best = k;
    if (best == 0)
        return 0;
    size_t p = acf_fundamental(r, bound, best, maxlag), np = 0;
    periods[np++] = p;
    /* A multiple of p with a higher peak is a second, longer cycle (a week of days). */
    size_t second = 0;
    for (size_t k = 2 * p; k < maxlag && k <= n / 3 + p; k += p)
        if (acf_peak(r, bound, k, maxlag) && r[k] > r[p] + 0.02 &&
            (second == 0 || r[k] > r[second]))
            second = k;
    if (second && np < max)
        periods[np++] = second;
    return np;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Centred moving average of length p (2xp when p is even) where defined, NAN elsewhere. */
static void moving_average(const double *x, size_t n, size_t p, double *ma)
{
    size_t half = p / 2;
    for (size_t t = 0; t < n; t++) {
        if (t < half || t + half >= n) {
            ma[t] = NAN;
            continue;
        }
        double s = 0;
        for (size_t j = t - half; j <= t + half; j++)
            s += x[j];
        if (p % 2 == 0)
            s -= 0.5 * (x[t - half] + x[t + half]);
        ma[t] = s / (double)p;
    }
}

/* profile[j] = median over t % p == j of x[t] - ma[t], centred to mean 0. */
static void phase_medians(const double *x, const double *ma, size_t n, size_t p, double *profile,
                          double *vals)
{
    double mean = 0;
    for (size_t j = 0; j < p; j++) {
        size_t k = 0;
        for (size_t t = j; t < n; t += p)
            if (!isnan(ma[t]))
                vals[k++] = x[t] - ma[t];
        qsort(vals, k, sizeof(double), cmp_double);
        profile[j] = k == 0 ? 0.0 : (k % 2 ? vals[k / 2] : 0.5 * (vals[k / 2 - 1] + vals[k / 2]));
        mean += profile[j];
    }
    mean /= (double)p;
    for (size_t j = 0; j < p; j++)
        profile[j] -= mean;
}

double forecast_season_at(const double *profile, const size_t *periods, size_t np, size_t t)
{
    double s = 0;
    for (size_t i = 0, off = 0; i < np; off += periods[i], i++)
        s += profile[off + t % periods[i]];
    return s;
}

void forecast_season_decompose(const double *y, size_t n, const size_t *periods, size_t np,
                               double *profile, double *adjusted, double *work)
{
    size_t total = 0;
    for (size_t i = 0; i < np; i++)
        total += periods[i];
    memset(profile, 0, total * sizeof(double));
    double *x = work, *ma = work + n, *vals = work + 2 * n;
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0, off = 0; i < np; off += periods[i], i++) {
            size_t p = periods[i];
            if (p < 2 || 2 * p > n)
                continue;
            /* x = y without the other profiles. */
            for (size_t t = 0; t < n; t++)
                x[t] = y[t] - forecast_season_at(profile, periods, np, t) + profile[off + t % p];
            moving_average(x, n, p, ma);
            phase_medians(x, ma, n, p, profile + off, vals);
        }
    }
    for (size_t t = 0; t < n; t++)
        adjusted[t] = y[t] - forecast_season_at(profile, periods, np, t);
}
