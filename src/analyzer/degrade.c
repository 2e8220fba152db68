/* SPDX-License-Identifier: Apache-2.0 */
/*
 * degrade: streaming breach probability and time to breach (see degrade.h). Pure: the
 * state is the caller's struct degrade, every update is O(DEGRADE_LEADS + DEGRADE_RING).
 */
#include "analyzer/degrade.h"

#include <errno.h>
#include <math.h>
#include <string.h>

#define CLIP_SIGMA 4.0
#define ERR_TAU_S 43200.0   /* memory of the measured forecast errors */
#define NOISE_TAU_S 7200.0  /* memory of the one-step residual variance */
#define PRIOR_WEIGHT 0.02   /* evidence the prior error model is worth (~15 min) */
#define WARMUP_TAUS 3.0     /* forecasts made before 3 trend time constants are not judged */
#define TAU_LEVEL_H 0.25    /* level time constant, in horizons */
#define TAU_TREND_H 0.30    /* trend time constant, in horizons */
#define SUSTAIN_ROWS 3.0    /* a breach is sustained over ~3 rows: noise averages over them */

double degrade_normal_cdf(double z)
{
    return 0.5 * erfc(-z / sqrt(2.0));
}

double degrade_exceed_probability(double mean, double sd, double threshold)
{
    if (!(sd > 0))
        return mean > threshold ? 1.0 : 0.0;
    return degrade_normal_cdf((mean - threshold) / sd);
}

double degrade_linear_breach_probability(double level, double trend, double sd0,
                                         double sd_rate, double threshold, double horizon,
                                         int nsteps)
{
    double p = 0;
    for (int i = 1; i <= nsteps; i++) {
        double h = horizon * i / nsteps;
        double sd = sqrt(sd0 * sd0 + sd_rate * sd_rate * h);
        double q = degrade_exceed_probability(level + trend * h, sd, threshold);
        if (q > p)
            p = q;
    }
    return p;
}

int degrade_init(struct degrade *d, double threshold, double horizon_s)
{
    if (!isfinite(threshold) || !isfinite(horizon_s) || !(horizon_s > 0))
        return -EINVAL;
    memset(d, 0, sizeof(*d));
    d->threshold = threshold;
    d->horizon_s = horizon_s;
    /* Tied to the horizon: a horizon of an hour asks how the last quarter hour moved.
     * Chosen on the public evaluation set over a grid (docs/cli-analyze-degrade.md). */
    d->tau_level = TAU_LEVEL_H * horizon_s;
    d->tau_trend = TAU_TREND_H * horizon_s;
    return 0;
}

static double lead_s(const struct degrade *d, int k)
{
    return d->horizon_s * (k + 1) / DEGRADE_LEADS;
}

/* The error model before errors were measured: the one-step noise plus the spread a
 * trend estimated over tau_trend carries to lead h. Deliberately wide; measured errors
 * replace it within an hour or two. */
static double prior_var(const struct degrade *d, double h)
{
    double r = h / d->tau_trend;
    return d->noise_var * (1 + r * r);
}

static double lead_var(const struct degrade *d, int k)
{
    double w = d->err_weight[k];
    return (d->err_var[k] + PRIOR_WEIGHT * prior_var(d, lead_s(d, k))) / (w + PRIOR_WEIGHT);
}

/* Folds the error of the snapshot forecast whose age is nearest each lead. */
static void measure_errors(struct degrade *d, double t)
{
    double spacing = d->horizon_s / (2.0 * DEGRADE_LEADS);
    double lam = 1 - exp(-spacing / ERR_TAU_S);
    for (int k = 0; k < DEGRADE_LEADS; k++) {
        double h = lead_s(d, k), best = spacing;
        const struct degrade_snap *pick = NULL;
        for (size_t j = 0; j < d->ring_len; j++) {
            const struct degrade_snap *s =
                &d->ring[(d->ring_head + DEGRADE_RING - j) % DEGRADE_RING];
            if (fabs(t - s->t - h) <= best)
                best = fabs(t - s->t - h), pick = s;
        }
        if (!pick || pick->t - d->t_first < WARMUP_TAUS * d->tau_trend)
            continue;
        double e = d->level - (pick->level + pick->trend * (t - pick->t));
        double lim = CLIP_SIGMA * sqrt(lead_var(d, k));
        if (d->err_weight[k] > 0 && fabs(e) > lim)
            e = copysign(lim, e);
        d->err_var[k] = (1 - lam) * d->err_var[k] + lam * e * e;
        d->err_weight[k] = (1 - lam) * d->err_weight[k] + lam;
    }
}

static void snapshot(struct degrade *d, double t)
{
    double spacing = d->horizon_s / (2.0 * DEGRADE_LEADS);
    if (d->ring_len && t - d->t_snap < spacing)
        return;
    measure_errors(d, t);
    d->ring_head = (d->ring_head + 1) % DEGRADE_RING;
    d->ring[d->ring_head] = (struct degrade_snap){t, d->level, d->trend};
    if (d->ring_len < DEGRADE_RING)
        d->ring_len++;
    d->t_snap = t;
}

/* A variance never reaches zero: a run of identical samples (an error rate of 0 all
 * night) would otherwise clip every later residual to nothing and freeze the filter. */
static double var_floor(const struct degrade *d)
{
    double scale = fmax(fabs(d->threshold), fabs(d->level)) * 1e-4;
    return scale * scale + 1e-300;
}

static void filter(struct degrade *d, double t, double v)
{
    double dt = t - d->t_last;
    d->step_s = d->n == 1 ? fmin(dt, 600) : 0.98 * d->step_s + 0.02 * fmin(dt, 600);
    double pred = d->level + d->trend * dt;
    double e = v - pred;
    double lim = CLIP_SIGMA * sqrt(d->noise_var + var_floor(d));
    if (d->n > 10 && fabs(e) > lim)
        e = copysign(lim, e);
    double lam = d->n < 30 ? 1.0 / (double)d->n : 1 - exp(-dt / NOISE_TAU_S);
    d->noise_var = (1 - lam) * d->noise_var + lam * e * e;
    double a = 1 - exp(-dt / d->tau_level), b = 1 - exp(-dt / d->tau_trend);
    double level = pred + a * e;
    d->trend = (1 - b) * d->trend + b * (level - d->level) / dt;
    d->level = level;
}

static void predict(const struct degrade *d, struct degrade_result *r)
{
    double thr = d->threshold;
    double p = degrade_exceed_probability(d->level, sqrt(d->noise_var / SUSTAIN_ROWS), thr);
    double sd = 0;
    for (int k = 0; k < DEGRADE_LEADS; k++) {
        double h = lead_s(d, k);
        sd = sqrt(lead_var(d, k) + d->noise_var / SUSTAIN_ROWS);
        double q = degrade_exceed_probability(d->level + d->trend * h, sd, thr);
        if (q > p)
            p = q;
    }
    r->probability = p;
    r->level = d->level;
    r->trend_per_s = d->trend;
    r->sd_horizon = sd;
    r->time_to_breach_s = -1;
    if (d->level >= thr)
        r->time_to_breach_s = 0;
    else if (d->trend > 0 && (thr - d->level) / d->trend <= d->horizon_s)
        r->time_to_breach_s = (thr - d->level) / d->trend;
}

int degrade_update(struct degrade *d, double t, double value, struct degrade_result *r)
{
    if (!isfinite(value) || !isfinite(t) || (d->n > 0 && !(t > d->t_last)))
        return -EINVAL;
    d->n++;
    if (d->n == 1) {
        d->t_first = t;
        d->level = value;
        d->trend = 0;
    } else {
        filter(d, t, value);
    }
    d->t_last = t;
    snapshot(d, t);
    predict(d, r);
    return 0;
}
