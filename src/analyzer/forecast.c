/* SPDX-License-Identifier: Apache-2.0 */
/*
 * forecast: the ensemble forecaster behind `doppel analyze forecast` and, later, the
 * degradation and capacity analyses (see forecast.h for the method). Sits in the pure
 * analyzer: it reads only its arguments and allocates only the result it returns, whose
 * scratch area also holds every intermediate series.
 */
#include "analyzer/forecast.h"
#include "analyzer/stats.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/xalloc.h"

/* Lowest interval scale factor: a single hold-out window that happened to be easy must
 * not shrink the intervals below 0.7 of the model variance. */
#define CALIBRATION_MIN 0.7

/* Views into the result's scratch area for one ensemble fit. */
struct ws {
    double *z;       /* [n] transformed series */
    double *adj;     /* [n] seasonally adjusted */
    double *x;       /* [n] series without the longer profiles (Holt-Winters member) */
    double *work;    /* [3n + n/2 + 1 + 3hc] for detection, decomposition, hold-out */
    double *profile; /* [sum of periods] */
    double *seas;    /* [max period] Holt-Winters seasonal states */
    double *scratch; /* [max period] for forecast_hw_fit */
    double *fc;      /* [FORECAST_MEMBERS * h] member forecasts */
    double *v;       /* [h] variance factors of the damped-trend member */
    double *fit;     /* [n] one-step fitted values, transformed scale */
    struct forecast_hw_fit_opts fit_opts;
};

static double transform(double y, double lambda)
{
    return lambda == 0 ? log(y) : y;
}

static double untransform(double z, double lambda)
{
    return lambda == 0 ? exp(z) : z;
}

static double smape(const double *y, const double *f, size_t n)
{
    double s = 0;
    for (size_t k = 0; k < n; k++) {
        double d = fabs(y[k]) + fabs(f[k]);
        s += d > 0 ? 200 * fabs(y[k] - f[k]) / d : 0;
    }
    return n ? s / (double)n : 0;
}

static double median4(double a, double b, double c, double d)
{
    double v[4] = {a, b, c, d};
    for (int i = 1; i < 4; i++)
        for (int j = i; j > 0 && v[j - 1] > v[j]; j--) {
            double t = v[j];
            v[j] = v[j - 1];
            v[j - 1] = t;
        }
    return 0.5 * (v[1] + v[2]);
}

/* Sum of the profiles whose period does not divide p (all of them when p is 0): the part
 * of the seasonal pattern a member with seasonal period p keeps fixed. */
static double fixed_season(const struct forecast *f, const struct ws *w, size_t p, size_t t)
{
    double s = 0;
    for (size_t i = 0, off = 0; i < f->nperiods; off += f->periods[i], i++)
        if (p == 0 || p % f->periods[i] != 0)
            s += w->profile[off + t % f->periods[i]];
    return s;
}

enum trend { TREND_NONE = 0, TREND_DAMPED = 1, TREND_LINEAR = 2 };

/* Sets the initial states of member m: level and slope from the first values, seasonal
 * states from the profiles (level the mean of the first cycle, slope 0). */
static void member_init(const struct forecast *f, struct ws *w, struct forecast_hw *m)
{
    size_t p = m->season != FORECAST_SEASON_NONE ? m->period : 0;
    double lv = 0;
    m->pos = 0;
    m->slope = 0;
    m->seasonal = p ? w->seas : NULL;
    if (!p) { /* as R's simple initialisation: the first value and the first change */
        m->level = w->x[0];
        m->slope = m->trend ? w->x[1] - w->x[0] : 0;
        return;
    }
    for (size_t j = 0; j < p; j++)
        w->seas[j] =
            forecast_season_at(w->profile, f->periods, f->nperiods, j) - fixed_season(f, w, p, j);
    for (size_t t = 0; t < p; t++)
        lv += w->x[t] - w->seas[t];
    m->level = lv / (double)p;
}

/*
 * Fits one Holt-Winters member with seasonal period p (0: none) and a damped trend or none
 * on the series without the fixed profiles, and writes its forecast (profiles added back)
 * to out; with fitted != NULL also its one-step fitted values. Returns the one-step SSE.
 */
static double fit_member(struct forecast *f, struct ws *w, size_t n, size_t h, size_t p,
                         enum trend trend, struct forecast_hw *m, double *out, double *fitted)
{
    struct forecast_hw_fit_opts o = w->fit_opts;
    if (p < 2 || 2 * p > n)
        p = 0;
    *m = (struct forecast_hw){.trend = trend != TREND_NONE,
                              .season = p ? FORECAST_SEASON_ADD : FORECAST_SEASON_NONE,
                              .period = p,
                              .alpha = 0.2,
                              .beta = 0.05,
                              .gamma = 0.1,
                              .phi = trend == TREND_DAMPED ? 0.95 : 1};
    o.fit_phi = trend == TREND_DAMPED;
    for (size_t t = 0; t < n; t++)
        w->x[t] = w->z[t] - fixed_season(f, w, p, t);
    member_init(f, w, m);
    double sse = forecast_hw_fit(m, w->x, n, &o, w->scratch);
    forecast_hw_predict(m, h, out);
    for (size_t k = 0; k < h; k++)
        out[k] += fixed_season(f, w, p, n + k);
    if (fitted) {
        struct forecast_hw again = *m;
        member_init(f, w, &again);
        forecast_hw_filter(&again, w->x, n, fitted);
        for (size_t t = 0; t < n; t++)
            fitted[t] += fixed_season(f, w, p, t);
    }
    m->seasonal = NULL;
    return sse;
}

/* The last member: seasonal naive on the longest period (naive without seasonality). */
static void fit_snaive(const struct forecast *f, const struct ws *w, size_t n, size_t h)
{
    size_t p = f->nperiods ? f->periods[f->nperiods - 1] : 1;
    for (size_t k = 0; k < h; k++)
        w->fc[3 * h + k] = w->z[n - p + k % p];
}

/*
 * Fits every member on z[0..n) and writes the combined forecast to mid[0..h): the per-step
 * median of the four members for seasonal series; without seasonality the mean of damped
 * Holt, linear Holt and SES (M4's "Comb" benchmark), as a median there would follow the
 * two level-only members.
 */
static void ensemble_fit(struct forecast *f, struct ws *w, size_t n, size_t h, double *mid)
{
    size_t p1 = f->nperiods ? f->periods[0] : 0;
    size_t pl = f->nperiods > 1 ? f->periods[f->nperiods - 1] : 0;
    forecast_season_decompose(w->z, n, f->periods, f->nperiods, w->profile, w->adj, w->work);
    double sse = fit_member(f, w, n, h, p1, TREND_DAMPED, &f->hw[0], w->fc, w->fit);
    f->sigma = sqrt(sse / (double)n);
    forecast_hw_varfactor(&f->hw[0], h, w->v);
    fit_member(f, w, n, h, p1, p1 ? TREND_NONE : TREND_LINEAR, &f->hw[1], w->fc + h, NULL);
    fit_member(f, w, n, h, pl, pl ? TREND_DAMPED : TREND_NONE, &f->hw[2], w->fc + 2 * h, NULL);
    fit_snaive(f, w, n, h);
    for (size_t k = 0; k < h; k++) {
        const double *c = w->fc + k;
        mid[k] = p1 ? median4(c[0], c[h], c[2 * h], c[3 * h]) : (c[0] + c[h] + c[2 * h]) / 3;
    }
}

/* Hold-out length: the horizon, but at least two shortest cycles (or 10 values) so one
 * short hold-out does not decide the interval width, and at most a quarter of the series. */
static size_t holdout_len(size_t h, size_t p, size_t n)
{
    size_t want = p ? 2 * p : 10;
    if (want < h)
        want = h;
    return want < n / 4 ? want : n / 4;
}

/*
 * Refits without the last hh values and compares with them: the hold-out sMAPE of the
 * ensemble and of each member, and the interval calibration factor.
 */
static void holdout(struct forecast *f, struct ws *w, const double *y, size_t n)
{
    size_t hh = holdout_len(f->horizon, f->nperiods ? f->periods[0] : 0, n);
    size_t longest = f->nperiods ? f->periods[f->nperiods - 1] : 0;
    f->calibration = 1;
    if (hh == 0 || n - hh < 8 || (longest && n - hh < 2 * longest))
        return;
    double *yo = w->work + 3 * n, *fo = yo + hh, *mid = fo + hh; /* past the 3n in use */
    ensemble_fit(f, w, n - hh, hh, mid);
    for (size_t k = 0; k < hh; k++) {
        yo[k] = y[n - hh + k];
        fo[k] = untransform(mid[k], f->lambda);
    }
    f->holdout_smape = smape(yo, fo, hh);
    for (size_t m = 0; m < FORECAST_MEMBERS; m++) {
        for (size_t k = 0; k < hh; k++)
            fo[k] = untransform(w->fc[m * hh + k], f->lambda);
        f->member[m] = smape(yo, fo, hh);
    }
    double r2 = 0, s2 = f->sigma * f->sigma;
    for (size_t k = 0; k < hh; k++) {
        double e = w->z[n - hh + k] - mid[k];
        r2 += s2 > 0 ? e * e / (s2 * w->v[k]) : 0;
    }
    r2 /= (double)hh;
    f->calibration = sqrt(fmax(r2, CALIBRATION_MIN * CALIBRATION_MIN));
}

double forecast_normal_quantile(double p)
{
    if (!(p >= 0 && p <= 1))
        return NAN;
    return stats_norm_ppf(p); /* one implementation of the normal quantile: stats.c */
}

static int check_opts(const double *y, size_t n, const struct forecast_opts *o, struct err *err)
{
    if (n < 4)
        return err_set(err, -EINVAL, "series has %zu values, at least 4 are needed", n);
    if (o->horizon < 1 || o->horizon > FORECAST_MAX_HORIZON)
        return err_set(err, -EINVAL, "horizon %zu is outside 1..%d", o->horizon,
                       FORECAST_MAX_HORIZON);
    if (o->nperiods > FORECAST_MAX_PERIODS || o->nlevels > FORECAST_MAX_LEVELS)
        return err_set(err, -EINVAL, "too many periods or levels");
    for (size_t i = 0; i < o->nperiods; i++)
        if (o->periods[i] < 2 || (i > 0 && o->periods[i] <= o->periods[i - 1]))
            return err_set(err, -EINVAL, "periods must be >= 2 and ascending");
    for (size_t i = 0; i < o->nlevels; i++)
        if (!(o->levels[i] > 0 && o->levels[i] < 100))
            return err_set(err, -EINVAL, "level %g is not between 0 and 100", o->levels[i]);
    for (size_t t = 0; t < n; t++) {
        if (!isfinite(y[t]))
            return err_set(err, -EINVAL, "value %zu is not a finite number", t + 1);
        if (o->transform == FORECAST_TRANSFORM_LOG && y[t] <= 0)
            return err_set(err, -EINVAL, "value %zu is %g: the log transform needs values > 0",
                           t + 1, y[t]);
    }
    return 0;
}

/* Allocates the result and lays out its scratch area. */
static struct forecast *forecast_alloc(size_t n, const struct forecast_opts *o, struct ws *w)
{
    struct forecast *f = xcalloc(1, sizeof(*f));
    size_t h = o->horizon, nl = o->nlevels, pmax = n;
    size_t hc = h > n / 4 ? h : n / 4; /* room for the forecast and the hold-out */
    f->n = n;
    f->horizon = h;
    f->mean = xcalloc(4 * h + 2 * nl * h + n, sizeof(double));
    f->sd = f->mean + h;
    f->center = f->sd + h;
    f->sd_t = f->center + h;
    f->lower = f->sd_t + h;
    f->upper = f->lower + nl * h;
    f->fitted = f->upper + nl * h;
    size_t nwork = 5 * n + (3 * n + n / 2 + 1 + 3 * hc) + n + 2 * pmax +
                   (FORECAST_MEMBERS + 1) * hc + FORECAST_MAX_PERIODS * n;
    f->work = xcalloc(nwork, sizeof(double));
    w->z = f->work;
    w->adj = w->z + n;
    w->x = w->adj + n;
    w->fit = w->x + n;
    w->fc = w->fit + n;
    w->v = w->fc + FORECAST_MEMBERS * hc;
    w->seas = w->v + hc;
    w->scratch = w->seas + pmax;
    w->profile = w->scratch + pmax;
    w->work = w->profile + FORECAST_MAX_PERIODS * n;
    return f;
}

static void set_periods(struct forecast *f, struct ws *w, const struct forecast_opts *o)
{
    size_t n = f->n;
    if (o->auto_period) {
        f->nperiods = forecast_season_detect(w->z, n, f->periods, FORECAST_MAX_PERIODS, w->work);
        f->periods_detected = 1;
    } else {
        for (size_t i = 0; i < o->nperiods; i++)
            if (2 * o->periods[i] <= n) /* two cycles at least to estimate a profile */
                f->periods[f->nperiods++] = o->periods[i];
    }
}

static void intervals(struct forecast *f, const struct ws *w)
{
    size_t h = f->horizon;
    for (size_t k = 0; k < h; k++) {
        double s = f->calibration * f->sigma * sqrt(w->v[k]), c = f->center[k];
        f->sd_t[k] = s;
        f->mean[k] = untransform(c, f->lambda);
        f->sd[k] = f->lambda == 0 ? exp(c + s * s / 2) * sqrt(expm1(s * s)) : s;
        for (size_t l = 0; l < f->nlevels; l++) {
            double q = forecast_normal_quantile(0.5 + f->levels[l] / 200);
            f->lower[l * h + k] = untransform(c - q * s, f->lambda);
            f->upper[l * h + k] = untransform(c + q * s, f->lambda);
        }
    }
}

static void insample(struct forecast *f, const struct ws *w, const double *y)
{
    size_t n = f->n, m = f->nperiods ? f->periods[0] : 1;
    double ae = 0, se = 0, scale = 0;
    for (size_t t = 0; t < n; t++) {
        f->fitted[t] = untransform(w->fit[t], f->lambda);
        double e = y[t] - f->fitted[t];
        ae += fabs(e);
        se += e * e;
        if (t >= m)
            scale += fabs(y[t] - y[t - m]);
    }
    f->mae = ae / (double)n;
    f->rmse = sqrt(se / (double)n);
    scale = n > m ? scale / (double)(n - m) : 0;
    f->mase = scale > 0 ? f->mae / scale : NAN;
}

static void describe(struct forecast *f)
{
    char per[64] = "none";
    size_t len = 0;
    for (size_t i = 0; i < f->nperiods && len < sizeof(per); i++)
        len += (size_t)snprintf(per + len, sizeof(per) - len, "%s%zu", i ? "," : "", f->periods[i]);
    if (f->nperiods == 0)
        snprintf(f->description, sizeof(f->description),
                 "mean of 3 members on %s values, no seasonality: damped Holt, Holt, simple "
                 "exponential smoothing",
                 f->lambda == 0 ? "log" : "raw");
    else
        snprintf(f->description, sizeof(f->description),
                 "median of 4 members on %s values, seasonal periods %s%s: damped and "
                 "undamped additive Holt-Winters on the shortest period, %s, seasonal naive",
                 f->lambda == 0 ? "log" : "raw", per, f->periods_detected ? " (detected)" : "",
                 f->nperiods > 1 ? "damped Holt-Winters on the longest"
                                 : "SES on the seasonally adjusted series");
}

int forecast_new(const double *y, size_t n, const struct forecast_opts *o, struct forecast **out,
                 struct err *err)
{
    *out = NULL;
    int rc = check_opts(y, n, o, err);
    if (rc)
        return rc;
    struct ws w;
    struct forecast *f = forecast_alloc(n, o, &w);
    int positive = 1;
    for (size_t t = 0; t < n; t++)
        positive &= y[t] > 0;
    f->lambda = o->transform == FORECAST_TRANSFORM_LOG ||
                        (o->transform == FORECAST_TRANSFORM_AUTO && positive)
                    ? 0
                    : 1;
    for (size_t t = 0; t < n; t++)
        w.z[t] = transform(y[t], f->lambda);
    set_periods(f, &w, o);
    /* Smoothing parameters are fitted to the errors over the horizon asked for: one-step
     * optimal parameters track hourly noise and extrapolate it (alpha near 1). */
    w.fit_opts = (struct forecast_hw_fit_opts){.fit_phi = 1,
                                               .max_evals = 120,
                                               .horizon = o->horizon < 168 ? o->horizon : 168,
                                               .stride = 24};
    f->nlevels = o->nlevels;
    memcpy(f->levels, o->levels, o->nlevels * sizeof(double));
    w.fit_opts.max_evals = 60; /* the hold-out only calibrates: a coarser fit will do */
    holdout(f, &w, y, n);
    w.fit_opts.max_evals = 120;
    ensemble_fit(f, &w, n, f->horizon, f->center);
    intervals(f, &w);
    insample(f, &w, y);
    describe(f);
    *out = f;
    return 0;
}

void forecast_free(struct forecast *f)
{
    if (!f)
        return;
    free(f->mean);
    free(f->work);
    free(f);
}

double forecast_exceed_prob(const struct forecast *f, size_t k, double threshold)
{
    if (k >= f->horizon)
        return NAN;
    if (f->lambda == 0 && threshold <= 0)
        return 1.0;
    double zt = transform(threshold, f->lambda), s = f->sd_t[k];
    if (s <= 0)
        return f->center[k] > zt ? 1.0 : 0.0;
    return 0.5 * erfc((zt - f->center[k]) / (s * sqrt(2)));
}
