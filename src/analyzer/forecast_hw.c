/* SPDX-License-Identifier: Apache-2.0 */
/*
 * forecast_hw: Holt-Winters family recursions, forecasts, forecast variance and fitting
 * (see forecast_hw.h). Used by forecast.c on seasonally adjusted and on raw series; owns
 * nothing: seasonal states are in the caller's buffer.
 */
#include "analyzer/forecast_hw.h"

#include <math.h>
#include <string.h>

#include "analyzer/optim.h"

/* One step of the recursions for observation y; returns the one-step error. */
static inline double hw_step(struct forecast_hw *m, double y, int mul, int seas, double *fitted)
{
    double s = seas ? m->seasonal[m->pos] : (mul ? 1.0 : 0.0);
    double lb = m->level + (m->trend ? m->phi * m->slope : 0.0);
    double yhat = mul ? lb * s : lb + s;
    if (fitted)
        *fitted = yhat;
    double lold = m->level;
    m->level = m->alpha * (mul ? y / s : y - s) + (1 - m->alpha) * lb;
    if (m->trend)
        m->slope = m->beta * (m->level - lold) + (1 - m->beta) * m->phi * m->slope;
    if (seas) {
        double d = mul ? y / m->level : y - m->level;
        m->seasonal[m->pos] = m->gamma * d + (1 - m->gamma) * s;
        if (++m->pos == m->period)
            m->pos = 0;
    }
    return y - yhat;
}

double forecast_hw_filter(struct forecast_hw *m, const double *y, size_t n, double *fitted)
{
    double sse = 0;
    int mul = m->season == FORECAST_SEASON_MUL, seas = m->season != FORECAST_SEASON_NONE;
    for (size_t t = 0; t < n; t++) {
        double e = hw_step(m, y[t], mul, seas, fitted ? fitted + t : NULL);
        sse += e * e;
    }
    return isfinite(sse) ? sse : INFINITY;
}

/* Squared errors of the 1..h-step forecasts from the current states against y[0..h). */
static double hw_path_sse(const struct forecast_hw *m, const double *y, size_t h)
{
    double damp = 0, pw = 1, sse = 0;
    int mul = m->season == FORECAST_SEASON_MUL, seas = m->season != FORECAST_SEASON_NONE;
    size_t j = m->pos;
    for (size_t k = 0; k < h; k++) {
        pw *= m->phi;
        damp += pw;
        double lb = m->level + (m->trend ? damp * m->slope : 0.0);
        double s = mul ? 1.0 : 0.0;
        if (seas) {
            s = m->seasonal[j];
            if (++j == m->period)
                j = 0;
        }
        double e = y[k] - (mul ? lb * s : lb + s);
        sse += e * e;
    }
    return sse;
}

double forecast_hw_filter_multistep(struct forecast_hw *m, const double *y, size_t n,
                                    size_t horizon, size_t stride)
{
    size_t warm = m->season != FORECAST_SEASON_NONE ? 2 * m->period : 10, cnt = 0;
    if (warm > n / 2)
        warm = n / 2; /* short series: still some origins to judge by */
    double sse = 0;
    if (stride > (n - warm) / 8)
        stride = (n - warm) / 8; /* short series: at least about 8 origins */
    if (stride == 0)
        stride = 1;
    int mul = m->season == FORECAST_SEASON_MUL, seas = m->season != FORECAST_SEASON_NONE;
    for (size_t t = 0; t < n; t++) {
        hw_step(m, y[t], mul, seas, NULL);
        size_t left = n - 1 - t;
        if (t + 1 < warm || left == 0 || left % stride != 0)
            continue;
        size_t h = left < horizon ? left : horizon;
        sse += hw_path_sse(m, y + t + 1, h);
        cnt += h;
    }
    return cnt && isfinite(sse) ? sse / (double)cnt : INFINITY;
}

void forecast_hw_predict(const struct forecast_hw *m, size_t h, double *out)
{
    double damp = 0, pw = 1;
    int mul = m->season == FORECAST_SEASON_MUL, seas = m->season != FORECAST_SEASON_NONE;
    for (size_t k = 0; k < h; k++) {
        pw *= m->phi;
        damp += pw;
        double lb = m->level + (m->trend ? damp * m->slope : 0.0);
        double s = seas ? m->seasonal[(m->pos + k) % m->period] : (mul ? 1.0 : 0.0);
        out[k] = mul ? lb * s : lb + s;
    }
}

void forecast_hw_varfactor(const struct forecast_hw *m, size_t h, double *v)
{
    double a = m->alpha, b = m->trend ? m->alpha * m->beta : 0.0;
    double g = m->season != FORECAST_SEASON_NONE ? m->gamma * (1 - m->alpha) : 0.0;
    double acc = 1.0, damp = 0, pw = 1;
    if (h > 0)
        v[0] = 1.0;
    for (size_t j = 1; j < h; j++) {
        pw *= m->phi;
        damp += pw; /* phi + ... + phi^j */
        double c = a + b * damp;
        if (g > 0 && j % m->period == 0)
            c += g;
        acc += c * c;
        v[j] = acc;
    }
}

struct fit_ctx {
    const struct forecast_hw *init;
    const struct forecast_hw_fit_opts *o;
    const double *y;
    size_t n;
    int np;
    double *scratch;
};

static double logistic(double x, double lo, double hi)
{
    return lo + (hi - lo) / (1 + exp(-x));
}

static double logit(double p, double lo, double hi)
{
    double u = (p - lo) / (hi - lo);
    u = fmin(fmax(u, 1e-4), 1 - 1e-4);
    return log(u / (1 - u));
}

/* Maps the optimiser's unconstrained x to the model's parameters. */
static void fit_apply(const struct fit_ctx *c, const double *x, struct forecast_hw *m)
{
    int k = 0;
    m->alpha = logistic(x[k++], 1e-4, 0.9999);
    if (m->trend)
        m->beta = logistic(x[k++], 1e-4, 0.9999);
    if (m->season != FORECAST_SEASON_NONE)
        m->gamma = logistic(x[k++], 1e-4, 0.9999);
    if (k < c->np)
        m->phi = logistic(x[k], 0.8, 0.98);
}

static double fit_objective(const double *x, void *arg)
{
    const struct fit_ctx *c = arg;
    struct forecast_hw m = *c->init;
    fit_apply(c, x, &m);
    if (m.season != FORECAST_SEASON_NONE) {
        memcpy(c->scratch, c->init->seasonal, m.period * sizeof(double));
        m.seasonal = c->scratch;
    }
    if (c->o->horizon > 1)
        return forecast_hw_filter_multistep(&m, c->y, c->n, c->o->horizon, c->o->stride);
    return forecast_hw_filter(&m, c->y, c->n, NULL);
}

double forecast_hw_fit(struct forecast_hw *m, const double *y, size_t n,
                       const struct forecast_hw_fit_opts *o, double *scratch)
{
    struct fit_ctx c = {.init = m, .o = o, .y = y, .n = n, .scratch = scratch};
    double x[4], step[4] = {1, 1, 1, 1}, fmin;
    int k = 0;
    x[k++] = logit(m->alpha, 1e-4, 0.9999);
    if (m->trend)
        x[k++] = logit(m->beta, 1e-4, 0.9999);
    if (m->season != FORECAST_SEASON_NONE)
        x[k++] = logit(m->gamma, 1e-4, 0.9999);
    if (m->trend && o->fit_phi)
        x[k++] = logit(m->phi, 0.8, 0.98);
    c.np = k;
    optim_nelder_mead(fit_objective, &c, x, step, (size_t)k, o->max_evals, 1e-8, &fmin);
    struct forecast_hw best = *m;
    fit_apply(&c, x, &best);
    m->alpha = best.alpha;
    m->beta = best.beta;
    m->gamma = best.gamma;
    m->phi = best.phi;
    return forecast_hw_filter(m, y, n, NULL);
}
