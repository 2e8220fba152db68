/* SPDX-License-Identifier: Apache-2.0 */
/*
 * forecast_hw: the Holt-Winters family of exponential smoothing models in component
 * form — level, optional (damped) additive trend, optional additive or multiplicative
 * seasonality — with the recursions of R's HoltWinters() (and phi for damping, as in
 * Gardner & McKenzie 1985). Filters a series with given parameters and states, predicts,
 * gives the h-step forecast variance of the equivalent ETS state space model, and fits
 * the smoothing parameters by Nelder-Mead on the one-step squared error.
 * Pure: the seasonal states live in a buffer the caller owns; nothing is allocated.
 */
#ifndef DOPPEL_ANALYZER_FORECAST_HW_H
#define DOPPEL_ANALYZER_FORECAST_HW_H

#include <stddef.h>

enum forecast_season {
    FORECAST_SEASON_NONE = 0,
    FORECAST_SEASON_ADD = 1,
    FORECAST_SEASON_MUL = 2,
};

struct forecast_hw {
    int trend;                   /* 1: additive trend (damped when phi < 1), 0: none */
    enum forecast_season season; /* seasonal component and how it combines */
    size_t period;               /* seasonal period m (when season != NONE) */
    double alpha, beta, gamma;   /* smoothing of level, trend, season (HoltWinters form) */
    double phi;                  /* trend damping, 1 = undamped */
    double level, slope;         /* states: initial before filtering, final after */
    double *seasonal;            /* [period] borrowed: seasonal states */
    size_t pos;                  /* seasonal[pos] applies to the next time step */
};

/*
 * Runs the recursions over y[0..n) from the current states (which are updated), writing
 * the one-step-ahead predictions to fitted (may be NULL). Returns the sum of squared
 * one-step errors (+inf if a multiplicative model meets a zero).
 *   yhat  = (level + phi*slope) [+ s | * s]
 *   level = alpha*(y [- s | / s]) + (1-alpha)*(level + phi*slope)
 *   slope = beta*(level - level_prev) + (1-beta)*phi*slope
 *   s     = gamma*(y [- level | / level]) + (1-gamma)*s
 */
double forecast_hw_filter(struct forecast_hw *m, const double *y, size_t n, double *fitted);

/* Point forecasts for steps 1..h from the current states. */
void forecast_hw_predict(const struct forecast_hw *m, size_t h, double *out);

/*
 * Forecast error variance factors for steps 1..h: v[k] = 1 + sum_{j=1}^{k} c_j^2, so the
 * variance of step k+1 is sigma2 * v[k], with c_j of the equivalent additive ETS model
 * (alpha, alpha*beta, gamma*(1-alpha)), Hyndman et al. (2008) table 6.1, class 1.
 */
void forecast_hw_varfactor(const struct forecast_hw *m, size_t h, double *v);

/* Which parameters forecast_hw_fit optimises; the others are kept as given. */
struct forecast_hw_fit_opts {
    int fit_phi;      /* optimise phi in [0.8, 0.98] (needs trend) */
    size_t max_evals; /* Nelder-Mead budget, e.g. 200 */
    size_t horizon;   /* > 1: minimise the mean squared 1..horizon-step error instead */
    size_t stride;    /* forecast origins every stride steps for that criterion */
};

/*
 * Runs the recursions like forecast_hw_filter and, at every stride-th origin counted back
 * from the end (after the first 2*period or 10 steps, at most n/2), forecasts 1..horizon steps
 * ahead and accumulates the squared errors. Returns their mean (+inf if none).
 */
double forecast_hw_filter_multistep(struct forecast_hw *m, const double *y, size_t n,
                                    size_t horizon, size_t stride);

/*
 * Fits alpha (and beta, gamma, phi where the model has them) to minimise the one-step
 * (or, with o->horizon > 1, the multi-step) squared error over y[0..n), starting from the states in
 * *m (kept as initial states), then filters with the best parameters so *m holds the final states.
 * scratch holds period doubles. Returns the in-sample SSE.
 */
double forecast_hw_fit(struct forecast_hw *m, const double *y, size_t n,
                       const struct forecast_hw_fit_opts *o, double *scratch);

#endif
