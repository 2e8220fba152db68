/* SPDX-License-Identifier: Apache-2.0 */
/*
 * degrade: streaming breach prediction for one SLO indicator (latency p99, error rate,
 * memory, disk). Part of the analyzer (pure, no I/O): the controller feeds it one sample
 * at a time and reads the probability that the indicator breaches a threshold within a
 * horizon and the expected time to breach. The caller owns struct degrade (a fixed-size
 * value, no allocation); every update costs O(1).
 *
 * Method (docs/cli-analyze-degrade.md has the whole story):
 *   - robust Holt filters on irregular time at two time scales tied to the horizon (a
 *     fast one for ramps, a slow one for leaks that move in steps), residuals clipped at
 *     3 sigma so spikes do not move them;
 *   - the forecast error is measured, not assumed: snapshots of the filter are kept in a
 *     ring, and when the time a snapshot forecast for arrives, the error against the
 *     level then is folded into an exponentially weighted variance per lead time;
 *   - per filter, P(breach within H) = max over lead times h <= H of
 *     P(level(t + h) > threshold) with level(t + h) ~ Normal(level + trend h, sd(h)^2);
 *     the result is the larger of the filters' probabilities, and a warning fades
 *     (time constant H) rather than flickering off with one quiet sample;
 *   - time to breach = the earliest h <= H where level + trend h of a filter reaches
 *     the threshold.
 */
#ifndef DOPPEL_ANALYZER_DEGRADE_H
#define DOPPEL_ANALYZER_DEGRADE_H

#include <stddef.h>

#define DEGRADE_LEADS 8  /* lead times h = H k / DEGRADE_LEADS, k = 1..DEGRADE_LEADS */
#define DEGRADE_RING 64  /* snapshots kept for measuring forecast errors */
#define DEGRADE_SCALES 2 /* filters at different time scales */

struct degrade_snap {
    double t, level, trend;
};

/* One Holt filter with its own measured forecast errors. */
struct degrade_filter {
    double tau_level, tau_trend;      /* time constants, s */
    double level, trend;              /* trend in units per second */
    double noise_var;                 /* one-step residual variance */
    double err_var[DEGRADE_LEADS];    /* measured forecast error variance per lead */
    double err_weight[DEGRADE_LEADS]; /* how much evidence err_var holds (0..1) */
    struct degrade_snap ring[DEGRADE_RING];
    size_t ring_head, ring_len;
    double t_snap; /* time of the newest snapshot */
};

struct degrade {
    double threshold, horizon_s;
    long n;                                  /* samples seen */
    double t_first, t_prev, t_last;          /* first, previous and last timestamps */
    double p_last;                           /* probability given at t_last */
    struct degrade_filter f[DEGRADE_SCALES]; /* [0] fast, then slower */
};

struct degrade_result {
    double probability;      /* P(breach within horizon), [0, 1] */
    double time_to_breach_s; /* expected, >= 0; negative when none is expected within H */
    double level;            /* filtered value now (of the filter that decided) */
    double trend_per_s;      /* filtered slope, units per second */
    double sd_horizon;       /* forecast standard deviation at the horizon */
};

/* Starts a detector for indicator > threshold within horizon_s seconds (> 0).
 * Returns 0 or -EINVAL for a non-finite threshold or a horizon <= 0. */
int degrade_init(struct degrade *d, double threshold, double horizon_s);
/* Adds a sample at time t (seconds, strictly increasing) and fills r from all samples so
 * far. Returns 0, or -EINVAL (value not finite, t not after the previous sample); on
 * error the state is unchanged. */
int degrade_update(struct degrade *d, double t, double value, struct degrade_result *r);

/* Standard normal CDF. */
double degrade_normal_cdf(double z);
/* P(X > threshold) for X ~ Normal(mean, sd^2); sd == 0 gives 0 or 1. */
double degrade_exceed_probability(double mean, double sd, double threshold);
/* P(breach within horizon) for a known linear trend: max over h in (0, horizon] of
 * P(level + trend h + e_h > threshold), e_h ~ Normal(0, sd0^2 + (sd_rate^2) h),
 * evaluated on nsteps equal steps. The closed form the streaming estimate reduces to. */
double degrade_linear_breach_probability(double level, double trend, double sd0, double sd_rate,
                                         double threshold, double horizon, int nsteps);
#endif
