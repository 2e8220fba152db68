/* SPDX-License-Identifier: Apache-2.0 */
/*
 * stats: the statistics under the canary judge, as pure functions. Two-sample rank tests
 * (Mann-Whitney U, exact or normal approximation, and van Elteren's stratified form), the
 * Hodges-Lehmann shift and its interval, two-proportion and Fisher exact tests for error
 * counts, an exceedance test of the pooled top r, quantiles with distribution-free
 * intervals, the MAD, a percentile bootstrap, and the distributions they need (normal,
 * binomial via the incomplete beta). Sits in the analyzer room: no I/O, no
 * globals; the random generator's state is a parameter. Owns nothing past a call: the few
 * functions that need scratch memory allocate it and free it before returning.
 *
 * Conventions follow scipy.stats and R so results can be checked against them: the first
 * sample is x, "greater" means x tends to be larger than y, shifts are x minus y.
 */
#ifndef DOPPEL_ANALYZER_STATS_H
#define DOPPEL_ANALYZER_STATS_H

#include <stddef.h>
#include <stdint.h>

#include "base/rng.h" /* resampling takes the caller's generator */

enum stats_alt { STATS_TWO_SIDED = 0, STATS_GREATER, STATS_LESS };

/* Sorts ascending (radix sort on the IEEE-754 bits for large n). No NaN allowed. */
void stats_sort(double *v, size_t n);

/* Standard normal: cdf, survival function, quantile (p in (0,1)). */
double stats_norm_cdf(double z);
double stats_norm_sf(double z);
double stats_norm_ppf(double p);
/* Regularized incomplete beta I_x(a, b). */
double stats_betainc(double a, double b, double x);
/* Binomial cdf P(B <= k), B ~ Binomial(n, p), and its quantile: the least k with
 * cdf(k) >= q (scipy.stats.binom.ppf). */
double stats_binom_cdf(double k, double n, double p);
double stats_binom_ppf(double q, double n, double p);

/* Quantile of sorted data by linear interpolation (R type 7, numpy's default). n > 0. */
double stats_quantile_sorted(const double *v, size_t n, double q);
/* Distribution-free interval for the q-quantile from order statistics: [v(l), v(u)] with
 * l = binom.ppf(a/2, n, q) and u = binom.ppf(1 - a/2, n, q) + 1 (1-based, clamped to
 * 1..n), a = 1 - conf; covers with probability >= conf when both ends are interior. */
int stats_quantile_ci(const double *v, size_t n, double q, double conf, double *lo, double *hi);
/* |v - center| of sorted v, sorted ascending into out (n doubles), in O(n). */
void stats_abs_dev_sorted(const double *v, size_t n, double center, double *out);
/* Median absolute deviation scaled to the normal sigma (scipy scale='normal'): sorted
 * input, scratch of n doubles. */
double stats_mad_sorted(const double *v, size_t n, double *scratch);

struct stats_mw {
    double u;  /* U of x: rank sum of x minus m(m+1)/2 */
    double z;  /* normal score with continuity correction (also when p is exact) */
    double p;  /* p-value for the alternative */
    int exact; /* 1 when the exact null distribution was used */
};
/* Mann-Whitney U on sorted x (m) and y (n). Exact when there are no ties and m, n < 50
 * (R's rule); otherwise the normal approximation with tie and continuity correction
 * (scipy method='asymptotic', use_continuity=True). -EINVAL when m or n is 0. */
int stats_mann_whitney(const double *x, size_t m, const double *y, size_t n, enum stats_alt alt,
                       struct stats_mw *out);
/* The same test on x - d against y, without copying x (tests of a shift d). */
int stats_mann_whitney_shifted(const double *x, size_t m, const double *y, size_t n, double d,
                               enum stats_alt alt, struct stats_mw *out);
/* Van Elteren's stratified Mann-Whitney test of x - d against y: stratum s holds
 * x[xo[s] .. xo[s + 1]) and y[yo[s] .. yo[s + 1]), each sorted ascending. Each stratum's
 * U - m n / 2 weighs 1 / (N_s + 1); the sum is referred to the normal with the strata's
 * tie-corrected variances (no continuity correction). u holds the weighted sum, exact is 0.
 * Strata with an empty side are skipped; -EINVAL when none is left. */
int stats_van_elteren(const double *x, const size_t *xo, const double *y, const size_t *yo,
                      size_t k, double d, enum stats_alt alt, struct stats_mw *out);
/* Exact null cdf P(U <= u) for sizes m, n (m * n <= 250000). */
double stats_mw_exact_cdf(double u, size_t m, size_t n);

struct stats_interval {
    double est, lo, hi;
};
/* Hodges-Lehmann shift of x minus y on sorted x (m) and y (n) with a two-sided interval at
 * conf, as R's wilcox.test(x, y, conf.int = TRUE): exact order statistics of the pairwise
 * differences when there are no ties and m, n < 50, otherwise the roots of the normal
 * statistic with tie and continuity correction (to 1e-9 relative). */
int stats_hodges_lehmann(const double *x, size_t m, const double *y, size_t n, double conf,
                         struct stats_interval *out);

struct stats_prop {
    double p1, p2; /* k1/n1, k2/n2 */
    double z, p;   /* pooled two-proportion z test */
    double lo, hi; /* Wald interval for p1 - p2 at conf */
};
int stats_two_proportion(uint64_t k1, uint64_t n1, uint64_t k2, uint64_t n2, enum stats_alt alt,
                         double conf, struct stats_prop *out);
/* Fisher exact test on [[a, b], [c, d]] (scipy.stats.fisher_exact): "greater" means the
 * odds ratio ad/bc is above 1. */
double stats_fisher_exact(uint64_t a, uint64_t b, uint64_t c, uint64_t d, enum stats_alt alt);

/* Exceedance test of the top r of the pooled sample, on sorted x (shifted down by d) and
 * sorted y: the counts of each above the (m + n - r)-th smallest pooled value, Fisher's exact
 * test "greater" (the hypergeometric tail of x's share of the top; fewer than r above when
 * values tie at the threshold). 1 when r is 0 or not below m + n. */
double stats_top_exceedance(const double *x, size_t m, const double *y, size_t n, double d,
                            size_t r);

/* A statistic of two samples (x, m) and (y, n), for the bootstrap. */
typedef double stats_stat_cb(const double *x, size_t m, const double *y, size_t n, void *arg);
/* Percentile bootstrap interval of stat: x and y resampled independently b times with
 * rng. Deterministic for a given rng state. -EINVAL on empty samples or b < 10. */
int stats_bootstrap_ci(const double *x, size_t m, const double *y, size_t n, stats_stat_cb *stat,
                       void *arg, unsigned b, double conf, struct rng *rng, double *lo, double *hi);

/* Holm's step-down adjustment of k p-values in place. */
void stats_holm(double *p, size_t k);
/* Weighted Holm (Holm 1979, weights w > 0): hypotheses ordered by p/w; the j-th is judged
 * against alpha * w_j / (sum of the weights not yet rejected). Adjusted p-values in place:
 * p_(j) = max over i <= j of min(1, p_(i) * W_i / w_(i)), W_i the weight left at step i.
 * Equal weights give stats_holm. */
void stats_holm_weighted(double *p, const double *w, size_t k);

#endif
