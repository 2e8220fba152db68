/* SPDX-License-Identifier: Apache-2.0 */
/*
 * degrade: streaming breach probability and time to breach (see degrade.h). Pure: the
 * state is the caller's struct degrade, every update is O(DEGRADE_LEADS + DEGRADE_RING).
 */
#include "analyzer/degrade.h"
#include "analyzer/stats.h"

#include <errno.h>
#include <math.h>
#include <string.h>

#define CLIP_SIGMA 3.0
#define ERR_TAU_S 43200.0  /* memory of the measured forecast errors */
#define NOISE_TAU_S 7200.0 /* memory of the one-step residual variance */
#define PRIOR_WEIGHT 0.02  /* evidence the prior error model is worth (~15 min) */
#define WARMUP_TAUS 3.0    /* forecasts made before 3 trend time constants are not judged */
#define HOLD_H 1.0         /* time constant of a fading warning, in horizons */
#define SUSTAIN_ROWS 3.0   /* a breach is sustained over ~3 rows: noise averages over them */

double degrade_normal_cdf(double z)
{
    return stats_norm_cdf(z);
}

double degrade_exceed_probability(double mean, double sd, double threshold)
{
    if (!(sd > 0))
        return mean > threshold ? 1.0 : 0.0;
    return degrade_normal_cdf((mean - threshold) / sd);
}

double degrade_linear_breach_probability(double level, double trend, double sd0, double sd_rate,
                                         double threshold, double horizon, int nsteps)
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

/* Time constants of the filters, in horizons: the fast one follows ramps, the slow one
 * (twice slower level, three times slower trend) averages over the steps of a stepwise
 * leak and over noise that hides a slow ramp. Chosen on the public evaluation set over a
 * grid (docs/cli-analyze-degrade.md). */
static const double scale_level[DEGRADE_SCALES] = {0.25, 0.5};
static const double scale_trend[DEGRADE_SCALES] = {0.30, 1.0};

int degrade_init(struct degrade *d, double threshold, double horizon_s)
{
    if (!isfinite(threshold) || !isfinite(horizon_s) || !(horizon_s > 0))
        return -EINVAL;
    memset(d, 0, sizeof(*d));
    d->threshold = threshold;
    d->horizon_s = horizon_s;
    for (int i = 0; i < DEGRADE_SCALES; i++) {
        d->f[i].tau_level = scale_level[i] * horizon_s;
        d->f[i].tau_trend = scale_trend[i] * horizon_s;
    }
    return 0;
}

static double lead_s(const struct degrade *d, int k)
{
    return d->horizon_s * (k + 1) / DEGRADE_LEADS;
}

/* The error model before errors were measured: the one-step noise plus the spread a
 * trend estimated over tau_trend carries to lead h. Deliberately wide; measured errors
 * replace it within an hour or two. */
static double prior_var(const struct degrade_filter *f, double h)
{
    double r = h / f->tau_trend;
    return f->noise_var * (1 + r * r);
}

static double lead_var(const struct degrade *d, const struct degrade_filter *f, int k)
{
    double w = f->err_weight[k];
    return (f->err_var[k] + PRIOR_WEIGHT * prior_var(f, lead_s(d, k))) / (w + PRIOR_WEIGHT);
}

/* A variance never reaches zero: a run of identical samples (an error rate of 0 all
 * night) would otherwise clip every later residual to nothing and freeze the filter. */
static double var_floor(const struct degrade *d, const struct degrade_filter *f)
{
    double scale = fmax(fabs(d->threshold), fabs(f->level)) * 1e-4;
    return scale * scale + 1e-300;
}

/* Folds the error of the snapshot forecast whose age is nearest each lead. */
static void measure_errors(const struct degrade *d, struct degrade_filter *f, double t)
{
    double spacing = d->horizon_s / (2.0 * DEGRADE_LEADS);
    double lam = 1 - exp(-spacing / ERR_TAU_S);
    for (int k = 0; k < DEGRADE_LEADS; k++) {
        double h = lead_s(d, k), best = spacing;
        const struct degrade_snap *pick = NULL;
        for (size_t j = 0; j < f->ring_len; j++) {
            const struct degrade_snap *s =
                &f->ring[(f->ring_head + DEGRADE_RING - j) % DEGRADE_RING];
            if (fabs(t - s->t - h) <= best)
                best = fabs(t - s->t - h), pick = s;
        }
        if (!pick || pick->t - d->t_first < WARMUP_TAUS * f->tau_trend)
            continue;
        double e = f->level - (pick->level + pick->trend * (t - pick->t));
        double lim = CLIP_SIGMA * sqrt(lead_var(d, f, k));
        if (f->err_weight[k] > 0 && fabs(e) > lim)
            e = copysign(lim, e);
        f->err_var[k] = (1 - lam) * f->err_var[k] + lam * e * e;
        f->err_weight[k] = (1 - lam) * f->err_weight[k] + lam;
    }
}

static void snapshot(const struct degrade *d, struct degrade_filter *f, double t)
{
    double spacing = d->horizon_s / (2.0 * DEGRADE_LEADS);
    if (f->ring_len && t - f->t_snap < spacing)
        return;
    measure_errors(d, f, t);
    f->ring_head = (f->ring_head + 1) % DEGRADE_RING;
    f->ring[f->ring_head] = (struct degrade_snap){t, f->level, f->trend};
    if (f->ring_len < DEGRADE_RING)
        f->ring_len++;
    f->t_snap = t;
}

static void filter(const struct degrade *d, struct degrade_filter *f, double t, double v)
{
    double dt = t - d->t_last;
    double pred = f->level + f->trend * dt;
    double e = v - pred;
    double lim = CLIP_SIGMA * sqrt(f->noise_var + var_floor(d, f));
    if (d->n > 10 && fabs(e) > lim)
        e = copysign(lim, e);
    double lam = d->n < 30 ? 1.0 / (double)d->n : 1 - exp(-dt / NOISE_TAU_S);
    f->noise_var = (1 - lam) * f->noise_var + lam * e * e;
    double a = 1 - exp(-dt / f->tau_level), b = 1 - exp(-dt / f->tau_trend);
    double level = pred + a * e;
    f->trend = (1 - b) * f->trend + b * (level - f->level) / dt;
    f->level = level;
}

/* P(breach within H) by one filter; *sd gets the forecast sd at the horizon. */
static double filter_probability(const struct degrade *d, const struct degrade_filter *f,
                                 double *sd)
{
    double thr = d->threshold;
    double p = degrade_exceed_probability(f->level, sqrt(f->noise_var / SUSTAIN_ROWS), thr);
    for (int k = 0; k < DEGRADE_LEADS; k++) {
        double h = lead_s(d, k);
        *sd = sqrt(lead_var(d, f, k) + f->noise_var / SUSTAIN_ROWS);
        double q = degrade_exceed_probability(f->level + f->trend * h, *sd, thr);
        if (q > p)
            p = q;
    }
    return p;
}

/* Seconds until the filter's line reaches the threshold, or -1 beyond the horizon. */
static double crossing_s(const struct degrade *d, const struct degrade_filter *f)
{
    double thr = d->threshold;
    if (f->level >= thr)
        return 0;
    if (f->trend > 0 && (thr - f->level) / f->trend <= d->horizon_s)
        return (thr - f->level) / f->trend;
    return -1;
}

static void predict(struct degrade *d, struct degrade_result *r)
{
    const struct degrade_filter *best = &d->f[0];
    double sd = 0, p = -1;
    for (int i = 0; i < DEGRADE_SCALES; i++) {
        double s, q = filter_probability(d, &d->f[i], &s);
        if (q > p)
            p = q, sd = s, best = &d->f[i];
    }
    /* A warning fades with a time constant of HOLD_H horizons instead of dropping with
     * the next noisy sample: one breach announced in flickering pieces is one warning. */
    if (d->p_last > p)
        p = fmax(p, d->p_last * exp(-(d->t_last - d->t_prev) / (HOLD_H * d->horizon_s)));
    r->probability = p;
    r->level = best->level;
    r->trend_per_s = best->trend;
    r->sd_horizon = sd;
    r->time_to_breach_s = -1;
    for (int i = 0; i < DEGRADE_SCALES; i++) {
        double c = crossing_s(d, &d->f[i]);
        if (c >= 0 && (r->time_to_breach_s < 0 || c < r->time_to_breach_s))
            r->time_to_breach_s = c;
    }
}

int degrade_update(struct degrade *d, double t, double value, struct degrade_result *r)
{
    if (!isfinite(value) || !isfinite(t) || (d->n > 0 && !(t > d->t_last)))
        return -EINVAL;
    d->n++;
    if (d->n == 1) {
        d->t_first = t;
        for (int i = 0; i < DEGRADE_SCALES; i++)
            d->f[i].level = value;
    } else {
        for (int i = 0; i < DEGRADE_SCALES; i++)
            filter(d, &d->f[i], t, value);
    }
    d->t_prev = d->n == 1 ? t : d->t_last;
    d->t_last = t;
    for (int i = 0; i < DEGRADE_SCALES; i++)
        snapshot(d, &d->f[i], t);
    predict(d, r);
    d->p_last = r->probability;
    return 0;
}
